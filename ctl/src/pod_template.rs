//! A pod template as text, as kubectl's `DescribePodTemplate` writes it for `rollout history
//! --revision=N`: two spaces per level and a tab between a field and its value. kubectl prints
//! that text without a tabwriter, so the tabs stay in the output, and so they do here.

use std::fmt::Write;

use serde_json::{Map, Value};

/// Labels, annotations, containers, volumes, node selectors and tolerations of `template` (a
/// `PodTemplateSpec` as JSON), under a `Pod Template:` heading.
pub fn describe(template: &Value) -> String {
    let mut out = String::from("Pod Template:\n");
    let metadata = &template["metadata"];
    let spec = &template["spec"];
    multiline_labels(&mut out, "  Labels", &metadata["labels"]);
    if metadata["annotations"].as_object().is_some_and(|annotations| !annotations.is_empty()) {
        multiline_annotations(&mut out, "  Annotations", &metadata["annotations"]);
    }
    if let Some(account) = text(&spec["serviceAccountName"]).filter(|account| !account.is_empty()) {
        let _ = writeln!(out, "  Service Account:\t{account}");
    }
    if spec["initContainers"].as_array().is_some_and(|containers| !containers.is_empty()) {
        containers(&mut out, "  ", "Init Containers", &spec["initContainers"], None);
    }
    containers(&mut out, "  ", "Containers", &spec["containers"], None);
    volumes(&mut out, "  ", &spec["volumes"]);
    topology_spread_constraints(&mut out, "  ", &spec["topologySpreadConstraints"]);
    if let Some(class) = text(&spec["priorityClassName"]).filter(|class| !class.is_empty()) {
        let _ = writeln!(out, "  Priority Class Name:\t{class}");
    }
    multiline_labels(&mut out, "  Node-Selectors", &spec["nodeSelector"]);
    tolerations(&mut out, "  Tolerations", &spec["tolerations"]);
    out
}

fn text(value: &Value) -> Option<&str> {
    value.as_str()
}

fn items(value: &Value) -> &[Value] {
    value.as_array().map(Vec::as_slice).unwrap_or_default()
}

/// A number as Go's `%d` prints an absent `int32`: 0.
fn number(value: &Value) -> i64 {
    value.as_i64().unwrap_or(0)
}

fn flag(value: &Value) -> bool {
    value.as_bool().unwrap_or(false)
}

/// `printLabelsMultiline`: sorted `key=value` lines, later ones after a tab.
pub(crate) fn multiline_labels(out: &mut String, title: &str, labels: &Value) {
    let _ = write!(out, "{title}:\t");
    let Some(labels) = labels.as_object().filter(|labels| !labels.is_empty()) else {
        out.push_str("<none>\n");
        return;
    };
    // serde_json's maps keep keys sorted, as kubectl sorts them.
    for (index, (key, value)) in labels.iter().enumerate() {
        if index > 0 {
            out.push('\t');
        }
        let _ = writeln!(out, "{key}={}", value.as_str().unwrap_or_default());
    }
}

/// kubectl's `maxAnnotationLen`: longer annotations go on lines of their own, cut to this.
const MAX_ANNOTATION_LENGTH: usize = 140;

/// `printAnnotationsMultiline`: as the labels, without kubectl's own last-applied annotation;
/// long or multi-line values on indented lines of their own.
pub(crate) fn multiline_annotations(out: &mut String, title: &str, annotations: &Value) {
    let _ = write!(out, "{title}:\t");
    let shown: Vec<(&String, &Value)> = annotations
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(key, _)| key.as_str() != "kubectl.kubernetes.io/last-applied-configuration")
        .collect();
    if shown.is_empty() {
        out.push_str("<none>\n");
        return;
    }
    for (index, (key, value)) in shown.into_iter().enumerate() {
        if index > 0 {
            out.push('\t');
        }
        let value = value.as_str().unwrap_or_default();
        let value = value.strip_suffix('\n').unwrap_or(value);
        if value.len() + key.len() + 2 > MAX_ANNOTATION_LENGTH || value.contains('\n') {
            let _ = writeln!(out, "{key}:");
            for line in value.split('\n') {
                let _ = writeln!(out, "\t  {}", shorten(line, MAX_ANNOTATION_LENGTH - 2));
            }
        } else {
            let _ = writeln!(out, "{key}: {value}");
        }
    }
}

/// Go's `s[:max] + "..."`, at a character boundary at or before `max` bytes.
fn shorten(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &text[..end])
}

/// `describeContainers` under a heading indented by `space`: a template's containers have no
/// statuses and no pod (`None`); a pod's show their statuses and resolve field references.
pub(crate) fn containers(out: &mut String, space: &str, label: &str, containers: &Value, pod: Option<(&Value, &str)>) {
    let containers = items(containers);
    let none = if containers.is_empty() { " <none>" } else { "" };
    let _ = writeln!(out, "{space}{label}:{none}");
    let name_indent = if space.is_empty() { "" } else { " " };
    for container in containers {
        let name = text(&container["name"]).unwrap_or_default();
        let status = pod.and_then(|(pod, field)| items(&pod["status"][field]).iter().find(|status| status["name"] == name));
        let _ = writeln!(out, "  {name_indent}{name}:");
        if let Some(status) = status {
            let _ = writeln!(out, "    Container ID:\t{}", text(&status["containerID"]).unwrap_or_default());
        }
        let _ = writeln!(out, "    Image:\t{}", text(&container["image"]).unwrap_or_default());
        if let Some(status) = status {
            let _ = writeln!(out, "    Image ID:\t{}", text(&status["imageID"]).unwrap_or_default());
        }
        let ports = items(&container["ports"]);
        let port_list = |field: &str| -> String {
            ports
                .iter()
                .map(|port| format!("{}/{}", number(&port[field]), text(&port["protocol"]).unwrap_or_default()))
                .collect::<Vec<_>>()
                .join(", ")
        };
        for (single, several, field) in [("Port", "Ports", "containerPort"), ("Host Port", "Host Ports", "hostPort")] {
            let list = port_list(field);
            if list.contains(',') {
                let _ = writeln!(out, "    {several}:\t{list}");
            } else {
                let _ = writeln!(out, "    {single}:\t{}", if list.is_empty() { "<none>" } else { &list });
            }
        }
        let seccomp = &container["securityContext"]["seccompProfile"];
        if seccomp.is_object() {
            let kind = text(&seccomp["type"]).unwrap_or_default();
            let _ = writeln!(out, "    SeccompProfile:\t{kind}");
            if kind == "Localhost" {
                let _ = writeln!(out, "      LocalhostProfile:\t{}", text(&seccomp["localhostProfile"]).unwrap_or_default());
            }
        }
        for (field, heading) in [("command", "Command"), ("args", "Args")] {
            let words = items(&container[field]);
            if !words.is_empty() {
                let _ = writeln!(out, "    {heading}:");
                for word in words {
                    for line in text(word).unwrap_or_default().split('\n') {
                        let _ = writeln!(out, "      {line}");
                    }
                }
            }
        }
        if let Some(status) = status {
            container_state(out, status);
        }
        resources(out, &container["resources"]);
        for (field, heading) in [("livenessProbe", "Liveness"), ("readinessProbe", "Readiness"), ("startupProbe", "Startup")] {
            if container[field].is_object() {
                let _ = writeln!(out, "    {heading}:\t{}", probe(&container[field]));
            }
        }
        environment_from(out, &container["envFrom"]);
        environment(out, container, pod.map(|(pod, _)| pod));
        mounts(out, container);
    }
}

/// `describeResources`: limits then requests, each sorted by resource name.
fn resources(out: &mut String, resources: &Value) {
    for (field, heading) in [("limits", "Limits"), ("requests", "Requests")] {
        let Some(list) = resources[field].as_object().filter(|list| !list.is_empty()) else {
            continue;
        };
        let _ = writeln!(out, "    {heading}:");
        for (name, quantity) in list {
            let _ = writeln!(out, "      {name}:\t{}", scalar(quantity));
        }
    }
}

fn scalar(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// `DescribeProbe`: the handler, then the timings.
fn probe(probe: &Value) -> String {
    let attributes = format!(
        "delay={}s timeout={}s period={}s #success={} #failure={}",
        number(&probe["initialDelaySeconds"]),
        number(&probe["timeoutSeconds"]),
        number(&probe["periodSeconds"]),
        number(&probe["successThreshold"]),
        number(&probe["failureThreshold"]),
    );
    if probe["exec"].is_object() {
        // Go's `%v` of a string slice: `[a b c]`.
        let command: Vec<String> = items(&probe["exec"]["command"]).iter().map(scalar).collect();
        return format!("exec [{}] {attributes}", command.join(" "));
    }
    if probe["httpGet"].is_object() {
        let get = &probe["httpGet"];
        let scheme = text(&get["scheme"]).unwrap_or_default().to_ascii_lowercase();
        let host = text(&get["host"]).unwrap_or_default();
        let port = scalar(&get["port"]);
        // net.JoinHostPort brackets IPv6 hosts.
        let host = if host.contains(':') { format!("[{host}]") } else { host.to_string() };
        let authority = if port.is_empty() { host } else { format!("{host}:{port}") };
        return format!("http-get {scheme}://{authority}{} {attributes}", text(&get["path"]).unwrap_or_default());
    }
    if probe["tcpSocket"].is_object() {
        let socket = &probe["tcpSocket"];
        return format!("tcp-socket {}:{} {attributes}", text(&socket["host"]).unwrap_or_default(), scalar(&socket["port"]));
    }
    if probe["grpc"].is_object() {
        let grpc = &probe["grpc"];
        return format!("grpc <pod>:{} {} {attributes}", number(&grpc["port"]), text(&grpc["service"]).unwrap_or_default());
    }
    format!("unknown {attributes}")
}

fn environment_from(out: &mut String, sources: &Value) {
    let sources = items(sources);
    if sources.is_empty() {
        return;
    }
    out.push_str("    Environment Variables from:\n");
    for source in sources {
        let (from, reference) = if source["configMapRef"].is_object() {
            ("ConfigMap", &source["configMapRef"])
        } else if source["secretRef"].is_object() {
            ("Secret", &source["secretRef"])
        } else {
            ("", &Value::Null)
        };
        let name = text(&reference["name"]).unwrap_or_default();
        let optional = flag(&reference["optional"]);
        match text(&source["prefix"]).filter(|prefix| !prefix.is_empty()) {
            None => {
                let _ = writeln!(out, "      {name}\t{from}\tOptional: {optional}");
            }
            Some(prefix) => {
                let _ = writeln!(out, "      {name}\t{from} with prefix '{prefix}'\tOptional: {optional}");
            }
        }
    }
}

/// `describeContainerEnvVars` without a pod to resolve field references against (kubectl passes
/// none for a template, so their values print empty).
fn environment(out: &mut String, container: &Value, pod: Option<&Value>) {
    let variables = items(&container["env"]);
    let none = if variables.is_empty() { "\t<none>" } else { "" };
    let _ = writeln!(out, "    Environment:{none}");
    for variable in variables {
        let name = text(&variable["name"]).unwrap_or_default();
        let from = &variable["valueFrom"];
        if !from.is_object() {
            for (index, line) in text(&variable["value"]).unwrap_or_default().split('\n').enumerate() {
                if index == 0 {
                    let _ = writeln!(out, "      {name}:\t{line}");
                } else {
                    let _ = writeln!(out, "      \t{line}");
                }
            }
            continue;
        }
        if from["fieldRef"].is_object() {
            let field = &from["fieldRef"];
            let path = text(&field["fieldPath"]).unwrap_or_default();
            let value = pod.map(|pod| field_value(pod, path)).unwrap_or_default();
            let _ = writeln!(out, "      {name}:\t{value} ({}:{path})", text(&field["apiVersion"]).unwrap_or_default());
        } else if from["resourceFieldRef"].is_object() {
            let resource = text(&from["resourceFieldRef"]["resource"]).unwrap_or_default();
            let value = container_resource_value(container, &from["resourceFieldRef"]);
            let _ = writeln!(out, "      {name}:\t{value} ({resource})");
        } else if from["secretKeyRef"].is_object() {
            let key = &from["secretKeyRef"];
            let _ = writeln!(
                out,
                "      {name}:\t<set to the key '{}' in secret '{}'>\tOptional: {}",
                text(&key["key"]).unwrap_or_default(),
                text(&key["name"]).unwrap_or_default(),
                flag(&key["optional"])
            );
        } else if from["configMapKeyRef"].is_object() {
            let key = &from["configMapKeyRef"];
            let _ = writeln!(
                out,
                "      {name}:\t<set to the key '{}' of config map '{}'>\tOptional: {}",
                text(&key["key"]).unwrap_or_default(),
                text(&key["name"]).unwrap_or_default(),
                flag(&key["optional"])
            );
        }
    }
}

/// kubectl's `EnvValueRetriever`: a downward-API field of the pod as text.
fn field_value(pod: &Value, path: &str) -> String {
    let keyed = |prefix: &str, map: &Value| path.strip_prefix(prefix).and_then(|rest| rest.strip_suffix("']")).map(|key| text(&map[key]).unwrap_or_default().to_string());
    if let Some(value) = keyed("metadata.labels['", &pod["metadata"]["labels"]).or_else(|| keyed("metadata.annotations['", &pod["metadata"]["annotations"])) {
        return value;
    }
    let value = match path {
        "metadata.name" | "metadata.namespace" | "metadata.uid" => &pod["metadata"][&path["metadata.".len()..]],
        "spec.nodeName" | "spec.serviceAccountName" => &pod["spec"][&path["spec.".len()..]],
        "status.hostIP" | "status.podIP" => &pod["status"][&path["status.".len()..]],
        "status.podIPs" | "status.hostIPs" => {
            let ips: Vec<&str> = items(&pod["status"][&path["status.".len()..]]).iter().filter_map(|ip| text(&ip["ip"])).collect();
            return ips.join(",");
        }
        _ => &Value::Null,
    };
    text(value).unwrap_or_default().to_string()
}

/// `describeContainerState`: the state, the last one when it ended, readiness and restarts.
fn container_state(out: &mut String, status: &Value) {
    state(out, "State", &status["state"]);
    if status["lastState"]["terminated"].is_object() {
        state(out, "Last State", &status["lastState"]);
    }
    let _ = writeln!(out, "    Ready:\t{}", if flag(&status["ready"]) { "True" } else { "False" });
    let _ = writeln!(out, "    Restart Count:\t{}", number(&status["restartCount"]));
}

/// `describeStatus`.
fn state(out: &mut String, heading: &str, state: &Value) {
    let reason = |state: &Value, out: &mut String| {
        if let Some(reason) = text(&state["reason"]).filter(|reason| !reason.is_empty()) {
            let _ = writeln!(out, "      Reason:\t{reason}");
        }
    };
    if state["running"].is_object() {
        let _ = writeln!(out, "    {heading}:\tRunning\n      Started:\t{}", rfc1123z(&state["running"]["startedAt"]));
    } else if state["waiting"].is_object() {
        let _ = writeln!(out, "    {heading}:\tWaiting");
        reason(&state["waiting"], out);
    } else if state["terminated"].is_object() {
        let terminated = &state["terminated"];
        let _ = writeln!(out, "    {heading}:\tTerminated");
        reason(terminated, out);
        if let Some(message) = text(&terminated["message"]).filter(|message| !message.is_empty()) {
            let _ = writeln!(out, "      Message:\t{message}");
        }
        let _ = writeln!(out, "      Exit Code:\t{}", number(&terminated["exitCode"]));
        if number(&terminated["signal"]) > 0 {
            let _ = writeln!(out, "      Signal:\t{}", number(&terminated["signal"]));
        }
        let _ = writeln!(out, "      Started:\t{}\n      Finished:\t{}", rfc1123z(&terminated["startedAt"]), rfc1123z(&terminated["finishedAt"]));
    } else {
        let _ = writeln!(out, "    {heading}:\tWaiting");
    }
}

/// A time as Go's `time.RFC1123Z` in the local zone (`Mon, 07 Dec 2026 07:00:00 +0000`); Go's
/// zero time for an absent one.
pub(crate) fn rfc1123z(value: &Value) -> String {
    let Some(time) = text(value).and_then(|time| time.parse::<jiff::Timestamp>().ok()) else {
        return "Mon, 01 Jan 0001 00:00:00 +0000".into();
    };
    time.to_zoned(jiff::tz::TimeZone::system()).strftime("%a, %d %b %Y %H:%M:%S %z").to_string()
}

/// kubectl's `ExtractContainerResourceValue` for the container alone: the limit or request
/// divided by the divisor, rounded up; an unset CPU or memory limit reads "node allocatable".
fn container_resource_value(container: &Value, reference: &Value) -> String {
    let resource = text(&reference["resource"]).unwrap_or_default();
    let Some((field, name)) = resource.split_once('.') else {
        return String::new();
    };
    let divisor = text(&reference["divisor"]).and_then(|divisor| common::quantity::parse(divisor).ok());
    let quantity = container["resources"][field][name].as_str().and_then(|quantity| common::quantity::parse(quantity).ok());
    let Some(quantity) = quantity else {
        return if field == "limits" && (name == "cpu" || name == "memory") { "node allocatable".into() } else { "0".into() };
    };
    // In thousandths, so that a CPU divisor of 1m divides exactly.
    let divisor = divisor.map_or(1000, |divisor| divisor.milli_value()).max(1);
    let value = quantity.milli_value();
    let whole = value / divisor + i64::from(value % divisor != 0);
    whole.to_string()
}

/// `describeContainerVolumes`: mounts sorted by path, then devices.
fn mounts(out: &mut String, container: &Value) {
    let mut mounts: Vec<&Value> = items(&container["volumeMounts"]).iter().collect();
    let none = if mounts.is_empty() { "\t<none>" } else { "" };
    let _ = writeln!(out, "    Mounts:{none}");
    mounts.sort_by_key(|mount| text(&mount["mountPath"]).unwrap_or_default().to_string());
    for mount in mounts {
        let mut flags = vec![if flag(&mount["readOnly"]) { "ro".to_string() } else { "rw".to_string() }];
        if let Some(sub_path) = text(&mount["subPath"]).filter(|path| !path.is_empty()) {
            flags.push(format!("path={sub_path:?}"));
        }
        let _ = writeln!(out, "      {} from {} ({})", text(&mount["mountPath"]).unwrap_or_default(), text(&mount["name"]).unwrap_or_default(), flags.join(","));
    }
    let mut devices: Vec<&Value> = items(&container["volumeDevices"]).iter().collect();
    if !devices.is_empty() {
        out.push_str("    Devices:\n");
        devices.sort_by_key(|device| text(&device["devicePath"]).unwrap_or_default().to_string());
        for device in devices {
            let _ = writeln!(out, "      {} from {}", text(&device["devicePath"]).unwrap_or_default(), text(&device["name"]).unwrap_or_default());
        }
    }
}

/// `describeVolumes` for the volume types this cluster runs, under a heading indented by
/// `space`; others name their type only.
pub(crate) fn volumes(out: &mut String, space: &str, volumes: &Value) {
    let volumes = items(volumes);
    if volumes.is_empty() {
        let _ = writeln!(out, "{space}Volumes:\t<none>");
        return;
    }
    let _ = writeln!(out, "{space}Volumes:");
    let name_indent = if space.is_empty() { "" } else { " " };
    for volume in volumes {
        let _ = writeln!(out, "  {name_indent}{}:", text(&volume["name"]).unwrap_or_default());
        let source = |field: &str| volume[field].as_object();
        if let Some(host_path) = source("hostPath") {
            let _ = write!(
                out,
                "    Type:\tHostPath (bare host directory volume)\n    Path:\t{}\n    HostPathType:\t{}\n",
                field_text(host_path, "path"),
                host_path.get("type").and_then(Value::as_str).unwrap_or("<none>")
            );
        } else if let Some(empty_dir) = source("emptyDir") {
            let limit = empty_dir
                .get("sizeLimit")
                .and_then(Value::as_str)
                .filter(|limit| common::quantity::parse(limit).is_ok_and(|quantity| quantity.milli_value() > 0))
                .unwrap_or("<unset>");
            let _ = write!(
                out,
                "    Type:\tEmptyDir (a temporary directory that shares a pod's lifetime)\n    Medium:\t{}\n    SizeLimit:\t{limit}\n",
                field_text(empty_dir, "medium")
            );
        } else if let Some(secret) = source("secret") {
            let _ = write!(
                out,
                "    Type:\tSecret (a volume populated by a Secret)\n    SecretName:\t{}\n    Optional:\t{}\n",
                field_text(secret, "secretName"),
                field_flag(secret, "optional")
            );
        } else if let Some(config_map) = source("configMap") {
            let _ = write!(
                out,
                "    Type:\tConfigMap (a volume populated by a ConfigMap)\n    Name:\t{}\n    Optional:\t{}\n",
                field_text(config_map, "name"),
                field_flag(config_map, "optional")
            );
        } else if let Some(claim) = source("persistentVolumeClaim") {
            let _ = write!(
                out,
                "    Type:\tPersistentVolumeClaim (a reference to a PersistentVolumeClaim in the same namespace)\n    ClaimName:\t{}\n    ReadOnly:\t{}\n",
                field_text(claim, "claimName"),
                field_flag(claim, "readOnly")
            );
        } else if let Some(downward) = source("downwardAPI") {
            out.push_str("    Type:\tDownwardAPI (a volume populated by information about the pod)\n    Items:\n");
            for item in downward.get("items").map(items).unwrap_or_default() {
                let path = text(&item["path"]).unwrap_or_default();
                if let Some(field) = text(&item["fieldRef"]["fieldPath"]) {
                    let _ = writeln!(out, "      {field} -> {path}");
                }
                if let Some(resource) = text(&item["resourceFieldRef"]["resource"]) {
                    let _ = writeln!(out, "      {resource} -> {path}");
                }
            }
        } else if let Some(projected) = source("projected") {
            out.push_str("    Type:\tProjected (a volume that contains injected data from multiple sources)\n");
            for projection in projected.get("sources").map(items).unwrap_or_default() {
                if projection["secret"].is_object() {
                    let secret = &projection["secret"];
                    let _ = write!(out, "    SecretName:\t{}\n    Optional:\t{}\n", text(&secret["name"]).unwrap_or_default(), flag(&secret["optional"]));
                } else if projection["downwardAPI"].is_object() {
                    out.push_str("    DownwardAPI:\ttrue\n");
                } else if projection["configMap"].is_object() {
                    let config_map = &projection["configMap"];
                    let _ = write!(out, "    ConfigMapName:\t{}\n    Optional:\t{}\n", text(&config_map["name"]).unwrap_or_default(), flag(&config_map["optional"]));
                } else if projection["serviceAccountToken"].is_object() {
                    let _ = writeln!(out, "    TokenExpirationSeconds:\t{}", number(&projection["serviceAccountToken"]["expirationSeconds"]));
                }
            }
        } else {
            out.push_str("  <unknown>\n");
        }
    }
}

fn field_text<'a>(map: &'a Map<String, Value>, field: &str) -> &'a str {
    map.get(field).and_then(Value::as_str).unwrap_or_default()
}

fn field_flag(map: &Map<String, Value>, field: &str) -> bool {
    map.get(field).and_then(Value::as_bool).unwrap_or(false)
}

/// `describeTopologySpreadConstraints`, sorted by topology key, under a heading indented by
/// `space`.
pub(crate) fn topology_spread_constraints(out: &mut String, space: &str, constraints: &Value) {
    let mut constraints: Vec<&Value> = items(constraints).iter().collect();
    if constraints.is_empty() {
        return;
    }
    constraints.sort_by_key(|constraint| text(&constraint["topologyKey"]).unwrap_or_default().to_string());
    let _ = write!(out, "{space}Topology Spread Constraints:\t");
    for (index, constraint) in constraints.iter().enumerate() {
        if index > 0 {
            let _ = write!(out, "{space}\t");
        }
        let _ = write!(
            out,
            "{}:{} when max skew {} is exceeded",
            text(&constraint["topologyKey"]).unwrap_or_default(),
            text(&constraint["whenUnsatisfiable"]).unwrap_or_default(),
            number(&constraint["maxSkew"])
        );
        if constraint["labelSelector"].is_object() {
            let _ = write!(out, " for selector {}", format_label_selector(&constraint["labelSelector"]));
        }
        out.push('\n');
    }
}

/// `metav1.FormatLabelSelector`: the selector's string form, `<none>` when it is empty.
pub(crate) fn format_label_selector(selector: &Value) -> String {
    let parsed = serde_json::from_value(selector.clone()).ok().and_then(|selector| common::selector::LabelSelector::from_k8s(&selector).ok());
    match parsed.map(|selector| selector.to_string()) {
        None => "<error>".into(),
        Some(text) if text.is_empty() => "<none>".into(),
        Some(text) => text,
    }
}

/// `printTolerationsMultiline`: sorted by key, `key=value:Effect`, `op=Exists` for the operator
/// that takes no value, and the toleration seconds.
pub(crate) fn tolerations(out: &mut String, title: &str, tolerations: &Value) {
    let _ = write!(out, "{title}:\t");
    let mut tolerations: Vec<&Value> = items(tolerations).iter().collect();
    if tolerations.is_empty() {
        out.push_str("<none>\n");
        return;
    }
    tolerations.sort_by_key(|toleration| text(&toleration["key"]).unwrap_or_default().to_string());
    for (index, toleration) in tolerations.into_iter().enumerate() {
        if index > 0 {
            out.push('\t');
        }
        let key = text(&toleration["key"]).unwrap_or_default();
        let value = text(&toleration["value"]).unwrap_or_default();
        let effect = text(&toleration["effect"]).unwrap_or_default();
        out.push_str(key);
        if !value.is_empty() {
            let _ = write!(out, "={value}");
        }
        if !effect.is_empty() {
            let _ = write!(out, ":{effect}");
        }
        if toleration["operator"] == "Exists" && value.is_empty() {
            out.push_str(if key.is_empty() && effect.is_empty() { "op=Exists" } else { " op=Exists" });
        }
        if let Some(seconds) = toleration["tolerationSeconds"].as_i64() {
            let _ = write!(out, " for {seconds}s");
        }
        out.push('\n');
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// What kubectl 1.33 printed for this template under `rollout history --revision=1`.
    #[test]
    fn a_template_reads_as_kubectl_describes_it() {
        let template = json!({
            "metadata": {"labels": {"app": "web", "pod-template-hash": "h1"}},
            "spec": {"containers": [{
                "name": "busybox", "image": "busybox:old", "command": ["sh", "-c", "sleep 1"],
                "env": [{"name": "A", "value": "b"}],
                "ports": [{"containerPort": 80, "protocol": "TCP"}],
                "resources": {"limits": {"cpu": "1"}}
            }]}
        });
        let expected = "Pod Template:\n  Labels:\tapp=web\n\tpod-template-hash=h1\n  Containers:\n   busybox:\n    Image:\tbusybox:old\n    Port:\t80/TCP\n    Host Port:\t0/TCP\n    Command:\n      sh\n      -c\n      sleep 1\n    Limits:\n      cpu:\t1\n    Environment:\n      A:\tb\n    Mounts:\t<none>\n  Volumes:\t<none>\n  Node-Selectors:\t<none>\n  Tolerations:\t<none>\n";
        assert_eq!(describe(&template), expected);
    }

    #[test]
    fn volumes_mounts_probes_and_tolerations() {
        let template = json!({
            "metadata": {"annotations": {"note": "x"}},
            "spec": {
                "serviceAccountName": "runner",
                "containers": [{
                    "name": "c", "image": "i",
                    "ports": [{"containerPort": 80, "protocol": "TCP"}, {"containerPort": 53, "protocol": "UDP"}],
                    "readinessProbe": {"httpGet": {"path": "/healthz", "port": 8080, "scheme": "HTTP"}, "timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3},
                    "env": [{"name": "NODE", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "spec.nodeName"}}},
                            {"name": "CPU", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu"}}}],
                    "volumeMounts": [{"name": "data", "mountPath": "/z"}, {"name": "cfg", "mountPath": "/a", "readOnly": true, "subPath": "f"}]
                }],
                "volumes": [{"name": "data", "emptyDir": {}}, {"name": "cfg", "configMap": {"name": "settings"}}],
                "tolerations": [{"operator": "Exists"}, {"key": "k", "operator": "Equal", "value": "v", "effect": "NoSchedule", "tolerationSeconds": 5}]
            }
        });
        let text = describe(&template);
        for expected in [
            "  Annotations:\tnote: x\n",
            "  Service Account:\trunner\n",
            "    Ports:\t80/TCP, 53/UDP\n    Host Ports:\t0/TCP, 0/UDP\n",
            "    Readiness:\thttp-get http://:8080/healthz delay=0s timeout=1s period=10s #success=1 #failure=3\n",
            "      NODE:\t (v1:spec.nodeName)\n      CPU:\tnode allocatable (limits.cpu)\n",
            "    Mounts:\n      /a from cfg (ro,path=\"f\")\n      /z from data (rw)\n",
            "   data:\n    Type:\tEmptyDir (a temporary directory that shares a pod's lifetime)\n    Medium:\t\n    SizeLimit:\t<unset>\n",
            "    Type:\tConfigMap (a volume populated by a ConfigMap)\n    Name:\tsettings\n    Optional:\tfalse\n",
            "  Tolerations:\top=Exists\n\tk=v:NoSchedule for 5s\n",
        ] {
            assert!(text.contains(expected), "{expected:?} missing from:\n{text}");
        }
    }
}
