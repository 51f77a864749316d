//! kubectl's describer of Services, with the endpoints of their EndpointSlices.

use std::fmt::Write;

use serde_json::Value;

use super::{Context, events_section, header, text};
use crate::discovery::{encode, get_json};

fn joined(list: &Value) -> Option<String> {
    let words: Vec<String> = list.as_array()?.iter().map(text).collect();
    (!words.is_empty()).then(|| words.join(","))
}

/// `labels.FormatLabels`: sorted `k=v` pairs joined by commas, `<none>` for none.
pub fn format_labels(labels: &Value) -> String {
    let pairs: Vec<String> = labels.as_object().into_iter().flatten().map(|(key, value)| format!("{key}={}", text(value))).collect();
    if pairs.is_empty() { "<none>".into() } else { pairs.join(",") }
}

pub async fn service(context: &Context<'_>) -> String {
    let service = &context.object;
    let (spec, status) = (&service["spec"], &service["status"]);
    let namespace = text(&service["metadata"]["namespace"]);
    let name = text(&service["metadata"]["name"]);
    let selector = encode(&format!("kubernetes.io/service-name={name}"));
    let slices = get_json(context.client, &format!("/apis/discovery.k8s.io/v1/namespaces/{namespace}/endpointslices?labelSelector={selector}"), "application/json").await;
    let slices = slices.ok().and_then(|list| list["items"].as_array().cloned()).unwrap_or_default();
    let mut out = String::new();
    header(&mut out, service, true);
    let _ = writeln!(out, "Selector:\t{}", format_labels(&spec["selector"]));
    let _ = writeln!(out, "Type:\t{}", text(&spec["type"]));
    if let Some(policy) = spec["ipFamilyPolicy"].as_str() {
        let _ = writeln!(out, "IP Family Policy:\t{policy}");
    }
    let _ = writeln!(out, "IP Families:\t{}", joined(&spec["ipFamilies"]).unwrap_or_else(|| "<none>".into()));
    let _ = writeln!(out, "IP:\t{}", text(&spec["clusterIP"]));
    let _ = writeln!(out, "IPs:\t{}", joined(&spec["clusterIPs"]).unwrap_or_else(|| "<none>".into()));
    if let Some(ips) = joined(&spec["externalIPs"]) {
        let _ = writeln!(out, "External IPs:\t{ips}");
    }
    for (field, heading) in [("loadBalancerIP", "Desired LoadBalancer IP"), ("externalName", "External Name")] {
        if let Some(value) = spec[field].as_str().filter(|value| !value.is_empty()) {
            let _ = writeln!(out, "{heading}:\t{value}");
        }
    }
    if let Some(ingress) = status["loadBalancer"]["ingress"].as_array().filter(|ingress| !ingress.is_empty()) {
        let list: Vec<String> = ingress
            .iter()
            .map(|entry| match entry["ip"].as_str().filter(|ip| !ip.is_empty()) {
                Some(ip) => entry["ipMode"].as_str().map_or(ip.to_string(), |mode| format!("{ip} ({mode})")),
                None => text(&entry["hostname"]),
            })
            .collect();
        let _ = writeln!(out, "LoadBalancer Ingress:\t{}", list.join(", "));
    }
    for port in spec["ports"].as_array().into_iter().flatten() {
        let port_name = port["name"].as_str().unwrap_or_default();
        let shown = if port_name.is_empty() { "<unset>" } else { port_name };
        let protocol = text(&port["protocol"]);
        let _ = writeln!(out, "Port:\t{shown}\t{}/{protocol}", text(&port["port"]));
        let _ = writeln!(out, "TargetPort:\t{}/{protocol}", text(&port["targetPort"]));
        if port["nodePort"].as_i64().is_some_and(|node_port| node_port != 0) {
            let _ = writeln!(out, "NodePort:\t{shown}\t{}/{protocol}", text(&port["nodePort"]));
        }
        let _ = writeln!(out, "Endpoints:\t{}", endpoints(&slices, port_name));
    }
    let _ = writeln!(out, "Session Affinity:\t{}", text(&spec["sessionAffinity"]));
    if let Some(policy) = spec["externalTrafficPolicy"].as_str().filter(|policy| !policy.is_empty()) {
        let _ = writeln!(out, "External Traffic Policy:\t{policy}");
    }
    if let Some(policy) = spec["internalTrafficPolicy"].as_str() {
        let _ = writeln!(out, "Internal Traffic Policy:\t{policy}");
    }
    if let Some(port) = spec["healthCheckNodePort"].as_i64().filter(|port| *port != 0) {
        let _ = writeln!(out, "HealthCheck NodePort:\t{port}");
    }
    if let Some(ranges) = joined(&spec["loadBalancerSourceRanges"]) {
        let _ = writeln!(out, "LoadBalancer Source Ranges:\t{ranges}");
    }
    events_section(&mut out, &context.events);
    out
}

/// `formatEndpointSlices` for one port name: the ready endpoints' `address:port`, three at most
/// and a count of the rest.
fn endpoints(slices: &[Value], port_name: &str) -> String {
    if slices.is_empty() {
        return "<none>".into();
    }
    const MAX: usize = 3;
    let mut list: Vec<String> = Vec::new();
    let mut count = 0;
    let mut more = false;
    for slice in slices {
        let ports = slice["ports"].as_array().map(Vec::as_slice).unwrap_or_default();
        let all: Vec<&Value> = slice["endpoints"].as_array().into_iter().flatten().collect();
        // kubectl notes that the list is full before it skips an endpoint that is not ready.
        let ready = |endpoint: &Value| endpoint["conditions"]["ready"] != false;
        let address = |endpoint: &Value| text(&endpoint["addresses"][0]);
        if ports.is_empty() {
            for endpoint in &all {
                more |= list.len() == MAX;
                if !ready(endpoint) {
                    continue;
                }
                if !more {
                    list.push(address(endpoint));
                }
                count += 1;
            }
            continue;
        }
        for port in ports.iter().filter(|port| port["name"].as_str().unwrap_or_default() == port_name) {
            for endpoint in &all {
                more |= list.len() == MAX;
                if !ready(endpoint) {
                    continue;
                }
                if !more {
                    let host = address(endpoint);
                    let host = if host.contains(':') { format!("[{host}]") } else { host };
                    list.push(format!("{host}:{}", text(&port["port"])));
                }
                count += 1;
            }
        }
    }
    let joined = list.join(",");
    if more {
        format!("{joined} + {} more...", count - MAX)
    } else {
        joined
    }
}

/// kubectl's `describeIngressV1`: address, class, default backend, TLS, the rules' paths with
/// their backends' endpoints, then the annotations.
pub async fn ingress(context: &Context<'_>) -> String {
    let ingress = &context.object;
    let (metadata, spec) = (&ingress["metadata"], &ingress["spec"]);
    let namespace = text(&metadata["namespace"]);
    let mut out = String::new();
    let _ = writeln!(out, "Name:\t{}", text(&metadata["name"]));
    crate::pod_template::multiline_labels(&mut out, "Labels", &metadata["labels"]);
    let _ = writeln!(out, "Namespace:\t{namespace}");
    let mut addresses: Vec<String> = ingress["status"]["loadBalancer"]["ingress"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|entry| entry["ip"].as_str().filter(|ip| !ip.is_empty()).or_else(|| entry["hostname"].as_str().filter(|host| !host.is_empty())))
        .map(str::to_string)
        .collect();
    addresses.sort();
    addresses.dedup();
    let _ = writeln!(out, "Address:\t{}", addresses.join(","));
    let _ = writeln!(out, "Ingress Class:\t{}", spec["ingressClassName"].as_str().unwrap_or("<none>"));
    let default = if spec["defaultBackend"].is_object() { backend(context, &namespace, &spec["defaultBackend"]).await } else { "<default>".into() };
    let _ = writeln!(out, "Default backend:\t{default}");
    if let Some(tls) = spec["tls"].as_array().filter(|tls| !tls.is_empty()) {
        out.push_str("TLS:\n");
        for entry in tls {
            let hosts: Vec<String> = entry["hosts"].as_array().into_iter().flatten().map(text).collect();
            match entry["secretName"].as_str().filter(|secret| !secret.is_empty()) {
                None => {
                    let _ = writeln!(out, "  SNI routes {}", hosts.join(","));
                }
                Some(secret) => {
                    let _ = writeln!(out, "  {secret} terminates {}", hosts.join(","));
                }
            }
        }
    }
    out.push_str("Rules:\n  Host\tPath\tBackends\n  ----\t----\t--------\n");
    let mut count = 0;
    for rule in spec["rules"].as_array().into_iter().flatten().filter(|rule| rule["http"].is_object()) {
        count += 1;
        let host = rule["host"].as_str().filter(|host| !host.is_empty()).unwrap_or("*");
        let _ = writeln!(out, "  {host}\t");
        for path in rule["http"]["paths"].as_array().into_iter().flatten() {
            let _ = writeln!(out, "    \t{} \t{}", text(&path["path"]), backend(context, &namespace, &path["backend"]).await);
        }
    }
    if count == 0 {
        let _ = writeln!(out, "  *\t*\t{default}");
    }
    crate::pod_template::multiline_annotations(&mut out, "Annotations", &metadata["annotations"]);
    events_section(&mut out, &context.events);
    out
}

/// `describeBackendV1`: `service:port (endpoints)`, or the resource a backend names.
async fn backend(context: &Context<'_>, namespace: &str, backend: &Value) -> String {
    let service = &backend["service"];
    if service.is_object() {
        let name = text(&service["name"]);
        let port_name = service["port"]["name"].as_str().unwrap_or_default();
        let number = service["port"]["number"].as_i64().unwrap_or(0);
        let shown = if port_name.is_empty() { format!("{name}:{number}") } else { format!("{name}:{port_name}") };
        let selector = encode(&format!("kubernetes.io/service-name={name}"));
        let slices = match get_json(context.client, &format!("/apis/discovery.k8s.io/v1/namespaces/{namespace}/endpointslices?labelSelector={selector}"), "application/json").await {
            Ok(list) => list["items"].as_array().cloned().unwrap_or_default(),
            Err(err) => return format!("{shown} (<error: {}>)", error_text(err)),
        };
        let object = match get_json(context.client, &format!("/api/v1/namespaces/{namespace}/services/{name}"), "application/json").await {
            Ok(object) => object,
            Err(err) => return format!("{shown} (<error: {}>)", error_text(err)),
        };
        let mut matched = "";
        for port in object["spec"]["ports"].as_array().into_iter().flatten() {
            let port_of = port["name"].as_str().unwrap_or_default();
            if (number != 0 && port["port"].as_i64() == Some(number)) || (!port_name.is_empty() && port_name == port_of) {
                matched = port_of;
            }
        }
        return format!("{shown} ({})", endpoints(&slices, matched));
    }
    let resource = &backend["resource"];
    if resource.is_object() {
        let group = resource["apiGroup"].as_str().unwrap_or("<none>");
        return format!("APIGroup: {group}, Kind: {}, Name: {}", text(&resource["kind"]), text(&resource["name"]));
    }
    String::new()
}

/// An error as Go's `err.Error()` reads: a server's message alone.
fn error_text(err: crate::CtlError) -> String {
    match err {
        crate::CtlError::Server { message, .. } => message,
        other => other.to_string(),
    }
}

/// `describeEndpoints`: each subset's ready and not-ready addresses and its ports.
pub fn endpoints_object(context: &Context) -> String {
    let object = &context.object;
    let mut out = String::new();
    header(&mut out, object, true);
    out.push_str("Subsets:\n");
    for subset in object["subsets"].as_array().into_iter().flatten() {
        for (field, heading) in [("addresses", "Addresses"), ("notReadyAddresses", "NotReadyAddresses")] {
            let ips = joined(&Value::Array(subset[field].as_array().into_iter().flatten().map(|address| address["ip"].clone()).collect())).unwrap_or_else(|| "<none>".into());
            let _ = writeln!(out, "  {heading}:\t{ips}");
        }
        if let Some(ports) = subset["ports"].as_array().filter(|ports| !ports.is_empty()) {
            out.push_str("  Ports:\n    Name\tPort\tProtocol\n    ----\t----\t--------\n");
            for port in ports {
                let name = port["name"].as_str().filter(|name| !name.is_empty()).unwrap_or("<unset>");
                let _ = writeln!(out, "    {name}\t{}\t{}", text(&port["port"]), text(&port["protocol"]));
            }
        }
        out.push('\n');
    }
    events_section(&mut out, &context.events);
    out
}
