//! kubectl's `describePod`.

use std::fmt::Write;

use serde_json::Value;

use super::{Context, events_section, header, text};
use crate::pod_template::{containers, multiline_labels, rfc1123z, tolerations, topology_spread_constraints, volumes};

pub fn describe(context: &Context) -> String {
    let pod = &context.object;
    let (metadata, spec, status) = (&pod["metadata"], &pod["spec"], &pod["status"]);
    let text = |value: &Value| value.as_str().filter(|text| !text.is_empty()).map(str::to_string);
    let mut out = String::new();
    let _ = writeln!(out, "Name:\t{}", text(&metadata["name"]).unwrap_or_default());
    let _ = writeln!(out, "Namespace:\t{}", text(&metadata["namespace"]).unwrap_or_default());
    if let Some(priority) = spec["priority"].as_i64() {
        let _ = writeln!(out, "Priority:\t{priority}");
    }
    if let Some(class) = text(&spec["priorityClassName"]) {
        let _ = writeln!(out, "Priority Class Name:\t{class}");
    }
    if let Some(class) = text(&spec["runtimeClassName"]) {
        let _ = writeln!(out, "Runtime Class Name:\t{class}");
    }
    if let Some(account) = text(&spec["serviceAccountName"]) {
        let _ = writeln!(out, "Service Account:\t{account}");
    }
    match text(&spec["nodeName"]) {
        None => out.push_str("Node:\t<none>\n"),
        Some(node) => {
            let _ = writeln!(out, "Node:\t{node}/{}", text(&status["hostIP"]).unwrap_or_default());
        }
    }
    if status["startTime"].is_string() {
        let _ = writeln!(out, "Start Time:\t{}", rfc1123z(&status["startTime"]));
    }
    let mut labels_and_annotations = String::new();
    header(&mut labels_and_annotations, pod, false);
    // The name line `header` wrote is already there.
    out.push_str(labels_and_annotations.split_once('\n').map(|(_, rest)| rest).unwrap_or_default());
    let phase = text(&status["phase"]).unwrap_or_default();
    if metadata["deletionTimestamp"].is_string() && phase != "Failed" && phase != "Succeeded" {
        let _ = writeln!(out, "Status:\tTerminating (lasts {})", common::durations::age(metadata["deletionTimestamp"].as_str()));
        let _ = writeln!(out, "Termination Grace Period:\t{}s", metadata["deletionGracePeriodSeconds"].as_i64().unwrap_or(0));
    } else {
        let _ = writeln!(out, "Status:\t{phase}");
    }
    for (field, heading) in [("reason", "Reason"), ("message", "Message")] {
        if let Some(value) = text(&status[field]) {
            let _ = writeln!(out, "{heading}:\t{value}");
        }
    }
    let seccomp = &spec["securityContext"]["seccompProfile"];
    if seccomp.is_object() {
        let kind = text(&seccomp["type"]).unwrap_or_default();
        let _ = writeln!(out, "SeccompProfile:\t{kind}");
        if kind == "Localhost" {
            let _ = writeln!(out, "LocalhostProfile:\t{}", text(&seccomp["localhostProfile"]).unwrap_or_default());
        }
    }
    let _ = writeln!(out, "IP:\t{}", text(&status["podIP"]).unwrap_or_default());
    match status["podIPs"].as_array().filter(|ips| !ips.is_empty()) {
        None => out.push_str("IPs:\t<none>\n"),
        Some(ips) => {
            out.push_str("IPs:\n");
            for ip in ips {
                let _ = writeln!(out, "  IP:\t{}", text(&ip["ip"]).unwrap_or_default());
            }
        }
    }
    if let Some(owner) = controller(pod) {
        let _ = writeln!(out, "Controlled By:\t{owner}");
    }
    if let Some(node) = text(&status["nominatedNodeName"]) {
        let _ = writeln!(out, "NominatedNodeName:\t{node}");
    }
    if spec["initContainers"].as_array().is_some_and(|containers| !containers.is_empty()) {
        containers(&mut out, "", "Init Containers", &spec["initContainers"], Some((pod, "initContainerStatuses")));
    }
    containers(&mut out, "", "Containers", &spec["containers"], Some((pod, "containerStatuses")));
    conditions(&mut out, pod);
    volumes(&mut out, "", &spec["volumes"]);
    let _ = writeln!(out, "QoS Class:\t{}", text(&status["qosClass"]).unwrap_or_else(|| qos_class(spec).to_string()));
    multiline_labels(&mut out, "Node-Selectors", &spec["nodeSelector"]);
    tolerations(&mut out, "Tolerations", &spec["tolerations"]);
    topology_spread_constraints(&mut out, "", &spec["topologySpreadConstraints"]);
    events_section(&mut out, &context.events);
    out
}

/// `printController`: `Kind/name` of the owner that controls the object.
pub fn controller(object: &Value) -> Option<String> {
    let owners = object["metadata"]["ownerReferences"].as_array()?;
    let owner = owners.iter().find(|owner| owner["controller"] == true)?;
    Some(format!("{}/{}", owner["kind"].as_str().unwrap_or_default(), owner["name"].as_str().unwrap_or_default()))
}

/// Readiness gates, then conditions, each a `Type Status` table with a space before the tabs.
fn conditions(out: &mut String, pod: &Value) {
    let conditions = pod["status"]["conditions"].as_array().map(Vec::as_slice).unwrap_or_default();
    let gates = pod["spec"]["readinessGates"].as_array().map(Vec::as_slice).unwrap_or_default();
    if !gates.is_empty() {
        out.push_str("Readiness Gates:\n  Type\tStatus\n");
        for gate in gates {
            let status = conditions.iter().find(|condition| condition["type"] == gate["conditionType"]).map_or("<none>".to_string(), |condition| text(&condition["status"]));
            let _ = writeln!(out, "  {} \t{status} ", text(&gate["conditionType"]));
        }
    }
    if !conditions.is_empty() {
        out.push_str("Conditions:\n  Type\tStatus\n");
        for condition in conditions {
            let _ = writeln!(out, "  {} \t{} ", text(&condition["type"]), text(&condition["status"]));
        }
    }
}

/// kubectl's `ComputePodQOS`, for a pod whose status does not name its class.
fn qos_class(spec: &Value) -> &'static str {
    use std::collections::BTreeMap;
    let positive = |list: &Value| -> BTreeMap<String, common::quantity::Quantity> {
        list.as_object()
            .into_iter()
            .flatten()
            .filter(|(name, _)| name.as_str() == "cpu" || name.as_str() == "memory")
            .filter_map(|(name, quantity)| Some((name.clone(), common::quantity::parse(quantity.as_str()?).ok()?)))
            .filter(|(_, quantity)| quantity.is_positive())
            .collect()
    };
    let mut requests: BTreeMap<String, common::quantity::Quantity> = BTreeMap::new();
    let mut limits: BTreeMap<String, common::quantity::Quantity> = BTreeMap::new();
    let mut guaranteed = true;
    let mut add = |resources: &Value| {
        for (into, list) in [(&mut requests, &resources["requests"]), (&mut limits, &resources["limits"])] {
            for (name, quantity) in positive(list) {
                let sum = into.get(&name).map_or(quantity, |before| before.add(&quantity));
                into.insert(name, sum);
            }
        }
        let limited = positive(&resources["limits"]);
        if !(limited.contains_key("cpu") && limited.contains_key("memory")) {
            guaranteed = false;
        }
    };
    if spec["resources"].is_object() {
        add(&spec["resources"]);
    } else {
        for field in ["containers", "initContainers"] {
            for container in spec[field].as_array().into_iter().flatten() {
                add(&container["resources"]);
            }
        }
    }
    if requests.is_empty() && limits.is_empty() {
        return "BestEffort";
    }
    let equal = requests.iter().all(|(name, request)| limits.get(name).is_some_and(|limit| limit.compare(request).is_eq()));
    if guaranteed && equal && requests.len() == limits.len() { "Guaranteed" } else { "Burstable" }
}
