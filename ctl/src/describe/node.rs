//! kubectl's describer of Nodes: conditions, addresses, capacity, system info, the pods on the
//! node and what they ask for.

use std::collections::BTreeMap;
use std::fmt::Write;

use common::quantity::{Quantity, parse};
use serde_json::Value;

use super::{Context, conditions_table, events_section, header, text};
use crate::discovery::{encode, get_json};
use crate::pod_template::rfc1123z;

pub async fn node(context: &Context<'_>) -> String {
    let node = &context.object;
    let (metadata, spec, status) = (&node["metadata"], &node["spec"], &node["status"]);
    let name = text(&metadata["name"]);
    let mut out = String::new();
    let _ = writeln!(out, "Name:\t{name}");
    let roles = roles(&metadata["labels"]);
    let _ = writeln!(out, "Roles:\t{}", if roles.is_empty() { "<none>".into() } else { roles.join(",") });
    let mut rest = String::new();
    header(&mut rest, node, false);
    out.push_str(rest.split_once('\n').map(|(_, rest)| rest).unwrap_or_default());
    let _ = writeln!(out, "CreationTimestamp:\t{}", rfc1123z(&metadata["creationTimestamp"]));
    taints(&mut out, &spec["taints"]);
    let _ = writeln!(out, "Unschedulable:\t{}", spec["unschedulable"].as_bool().unwrap_or(false));
    match get_json(context.client, &format!("/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/{name}"), "application/json").await {
        Ok(lease) => {
            let time = |field: &str| if lease["spec"][field].is_string() { rfc1123z(&lease["spec"][field]) } else { "<unset>".into() };
            let holder = lease["spec"]["holderIdentity"].as_str().unwrap_or("<unset>");
            let _ = write!(out, "Lease:\n  HolderIdentity:\t{holder}\n  AcquireTime:\t{}\n  RenewTime:\t{}\n", time("acquireTime"), time("renewTime"));
        }
        Err(crate::CtlError::Server { message, .. }) => {
            let _ = writeln!(out, "Lease:\tFailed to get lease: {message}");
        }
        Err(err) => {
            let _ = writeln!(out, "Lease:\tFailed to get lease: {err}");
        }
    }
    if let Some(conditions) = status["conditions"].as_array().filter(|conditions| !conditions.is_empty()) {
        conditions_table(&mut out, conditions, "LastHeartbeatTime", "lastHeartbeatTime");
    }
    out.push_str("Addresses:\n");
    for address in status["addresses"].as_array().into_iter().flatten() {
        let _ = writeln!(out, "  {}:\t{}", text(&address["type"]), text(&address["address"]));
    }
    for (field, heading) in [("capacity", "Capacity"), ("allocatable", "Allocatable")] {
        if let Some(list) = status[field].as_object().filter(|list| !list.is_empty()) {
            let _ = writeln!(out, "{heading}:");
            for (resource, quantity) in list {
                let _ = writeln!(out, "  {resource}:\t{}", canonical(quantity));
            }
        }
    }
    let info = &status["nodeInfo"];
    out.push_str("System Info:\n");
    for (field, heading) in [
        ("machineID", "Machine ID"),
        ("systemUUID", "System UUID"),
        ("bootID", "Boot ID"),
        ("kernelVersion", "Kernel Version"),
        ("osImage", "OS Image"),
        ("operatingSystem", "Operating System"),
        ("architecture", "Architecture"),
        ("containerRuntimeVersion", "Container Runtime Version"),
        ("kubeletVersion", "Kubelet Version"),
        ("kubeProxyVersion", "Kube-Proxy Version"),
    ] {
        let _ = writeln!(out, "  {heading}:\t{}", text(&info[field]));
    }
    if let Some(cidr) = spec["podCIDR"].as_str().filter(|cidr| !cidr.is_empty()) {
        let _ = writeln!(out, "PodCIDR:\t{cidr}");
    }
    let cidrs: Vec<String> = spec["podCIDRs"].as_array().into_iter().flatten().map(text).collect();
    if !cidrs.is_empty() {
        let _ = writeln!(out, "PodCIDRs:\t{}", cidrs.join(","));
    }
    if let Some(provider) = spec["providerID"].as_str().filter(|provider| !provider.is_empty()) {
        let _ = writeln!(out, "ProviderID:\t{provider}");
    }
    let selector = format!("spec.nodeName={name},status.phase!=Succeeded,status.phase!=Failed");
    match get_json(context.client, &format!("/api/v1/pods?fieldSelector={}", encode(&selector)), "application/json").await {
        Ok(list) => pods_and_resources(&mut out, status, list["items"].as_array().map(Vec::as_slice).unwrap_or_default()),
        Err(_) => out.push_str("Pods:\tnot authorized\n"),
    }
    events_section(&mut out, &context.events);
    out
}

/// A quantity in its canonical form, as Go's `Quantity.String()`.
fn canonical(value: &Value) -> String {
    let raw = text(value);
    parse(&raw).map_or(raw, |quantity| quantity.to_string())
}

/// `findNodeRoles`: `node-role.kubernetes.io/ROLE` labels and the `kubernetes.io/role` value.
fn roles(labels: &Value) -> Vec<String> {
    let mut roles: Vec<String> = labels
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(key, value)| match key.strip_prefix("node-role.kubernetes.io/") {
            Some(role) if !role.is_empty() => Some(role.to_string()),
            Some(_) => None,
            None => (key == "kubernetes.io/role" && !text(value).is_empty()).then(|| text(value)),
        })
        .collect();
    roles.sort();
    roles.dedup();
    roles
}

/// `printNodeTaintsMultiline`, sorted by effect then key.
fn taints(out: &mut String, taints: &Value) {
    out.push_str("Taints:\t");
    let mut taints: Vec<&Value> = taints.as_array().into_iter().flatten().collect();
    if taints.is_empty() {
        out.push_str("<none>\n");
        return;
    }
    taints.sort_by_key(|taint| format!("{},{}", text(&taint["effect"]), text(&taint["key"])));
    for (index, taint) in taints.iter().enumerate() {
        if index > 0 {
            out.push('\t');
        }
        let (key, value, effect) = (text(&taint["key"]), text(&taint["value"]), text(&taint["effect"]));
        let shown = match (value.is_empty(), effect.is_empty()) {
            (true, true) => key,
            (false, true) => format!("{key}={value}:"),
            (true, false) => format!("{key}:{effect}"),
            (false, false) => format!("{key}={value}:{effect}"),
        };
        let _ = writeln!(out, "{shown}");
    }
}

type Resources = BTreeMap<String, Quantity>;

fn add_to(into: &mut Resources, list: &Value) {
    for (name, quantity) in list.as_object().into_iter().flatten() {
        if let Some(quantity) = quantity.as_str().and_then(|quantity| parse(quantity).ok()) {
            let sum = into.get(name).map_or(quantity, |before| before.add(&quantity));
            into.insert(name.clone(), sum);
        }
    }
}

/// `PodRequestsAndLimits`: the containers' sum, at least each init container's, plus overhead.
fn pod_requests_and_limits(pod: &Value) -> (Resources, Resources) {
    let spec = &pod["spec"];
    let mut totals = [Resources::new(), Resources::new()];
    for (index, field) in ["requests", "limits"].iter().enumerate() {
        for container in spec["containers"].as_array().into_iter().flatten() {
            add_to(&mut totals[index], &container["resources"][*field]);
        }
        for init in spec["initContainers"].as_array().into_iter().flatten() {
            if init["restartPolicy"] == "Always" {
                add_to(&mut totals[index], &init["resources"][*field]);
                continue;
            }
            let mut own = Resources::new();
            add_to(&mut own, &init["resources"][*field]);
            for (name, quantity) in own {
                if totals[index].get(&name).is_none_or(|total| quantity.compare(total).is_gt()) {
                    totals[index].insert(name, quantity);
                }
            }
        }
        if !spec["overhead"].is_null() {
            let overhead = spec["overhead"].clone();
            let present: Vec<String> = totals[index].keys().cloned().collect();
            for (name, quantity) in overhead.as_object().into_iter().flatten() {
                if *field == "requests" || present.contains(name) {
                    add_to(&mut totals[index], &serde_json::json!({ name: quantity }));
                }
            }
        }
    }
    let [requests, limits] = totals;
    (requests, limits)
}

fn shown(list: &Resources, name: &str) -> String {
    list.get(name).map_or("0".into(), Quantity::to_string)
}

/// A share of the allocatable amount in whole percent, truncated as Go's `int64(float)`.
fn percent(part: &Resources, allocatable: &Resources, name: &str, milli: bool) -> i64 {
    let value = |quantity: Option<&Quantity>| quantity.map_or(0, |quantity| if milli { quantity.milli_value() } else { quantity.value() });
    let whole = value(allocatable.get(name));
    if whole == 0 {
        return 0;
    }
    (value(part.get(name)) as f64 / whole as f64 * 100.0) as i64
}

/// `describeNodeResource`: each non-terminated pod's CPU and memory, then the totals.
fn pods_and_resources(out: &mut String, status: &Value, pods: &[Value]) {
    let mut allocatable = Resources::new();
    let source = if status["allocatable"].as_object().is_some_and(|list| !list.is_empty()) { &status["allocatable"] } else { &status["capacity"] };
    add_to(&mut allocatable, source);
    let _ = writeln!(out, "Non-terminated Pods:\t({} in total)", pods.len());
    out.push_str("  Namespace\tName\t\tCPU Requests\tCPU Limits\tMemory Requests\tMemory Limits\tAge\n");
    out.push_str("  ---------\t----\t\t------------\t----------\t---------------\t-------------\t---\n");
    let (mut requests, mut limits) = (Resources::new(), Resources::new());
    for pod in pods {
        let (pod_requests, pod_limits) = pod_requests_and_limits(pod);
        let cell = |list: &Resources, name: &str, milli: bool| format!("{} ({}%)", shown(list, name), percent(list, &allocatable, name, milli));
        let _ = writeln!(
            out,
            "  {}\t{}\t\t{}\t{}\t{}\t{}\t{}",
            text(&pod["metadata"]["namespace"]),
            text(&pod["metadata"]["name"]),
            cell(&pod_requests, "cpu", true),
            cell(&pod_limits, "cpu", true),
            cell(&pod_requests, "memory", false),
            cell(&pod_limits, "memory", false),
            common::durations::age(pod["metadata"]["creationTimestamp"].as_str())
        );
        for (total, list) in [(&mut requests, pod_requests), (&mut limits, pod_limits)] {
            for (name, quantity) in list {
                let sum = total.get(&name).map_or(quantity, |before| before.add(&quantity));
                total.insert(name, sum);
            }
        }
    }
    out.push_str("Allocated resources:\n  (Total limits may be over 100 percent, i.e., overcommitted.)\n  Resource\tRequests\tLimits\n  --------\t--------\t------\n");
    for (name, milli) in [("cpu", true), ("memory", false), ("ephemeral-storage", false)] {
        let _ = writeln!(
            out,
            "  {name}\t{} ({}%)\t{} ({}%)",
            shown(&requests, name),
            percent(&requests, &allocatable, name, milli),
            shown(&limits, name),
            percent(&limits, &allocatable, name, milli)
        );
    }
    let huge_pages: Vec<&String> = allocatable.keys().filter(|name| name.starts_with("hugepages-")).collect();
    for name in huge_pages {
        let _ = writeln!(
            out,
            "  {name}\t{} ({}%)\t{} ({}%)",
            shown(&requests, name),
            percent(&requests, &allocatable, name, false),
            shown(&limits, name),
            percent(&limits, &allocatable, name, false)
        );
    }
    let standard = |name: &str| ["cpu", "memory", "ephemeral-storage", "pods"].contains(&name) || name.starts_with("hugepages-") || name.starts_with("requests.") || name.starts_with("limits.");
    for name in allocatable.keys().filter(|name| !standard(name)) {
        let _ = writeln!(out, "  {name}\t{}\t{}", shown(&requests, name), shown(&limits, name));
    }
}
