//! kubectl's describers of Deployments, ReplicaSets, StatefulSets and DaemonSets: their counts,
//! then the pod template as `rollout history` prints it.

use std::fmt::Write;

use serde_json::Value;

use super::{Context, events_section, header, text};
use crate::CtlError;
use crate::discovery::{encode, get_json};
use crate::pod_template::{self, format_label_selector, rfc1123z};

fn number(value: &Value) -> i64 {
    value.as_i64().unwrap_or(0)
}

/// A selector's string form (`labels.Selector.String()`): empty when it selects everything.
fn selector_text(object: &Value) -> String {
    match format_label_selector(&object["spec"]["selector"]).as_str() {
        "<none>" => String::new(),
        other => other.to_string(),
    }
}

/// Objects of `plural` (a path under the namespace) that `object`'s selector selects.
async fn selected(context: &Context<'_>, plural: &str) -> Result<Vec<Value>, CtlError> {
    let namespace = context.object["metadata"]["namespace"].as_str().unwrap_or_default();
    let selector = selector_text(&context.object);
    let path = format!("{}/namespaces/{namespace}/{plural}?labelSelector={}", if plural == "pods" { "/api/v1" } else { "/apis/apps/v1" }, encode(&selector));
    let list = get_json(context.client, &path, "application/json").await?;
    Ok(list["items"].as_array().cloned().unwrap_or_default())
}

fn controlled_by(item: &Value, owner: &Value) -> bool {
    let uid = &owner["metadata"]["uid"];
    item["metadata"]["ownerReferences"].as_array().into_iter().flatten().any(|reference| reference["controller"] == true && reference["uid"] == *uid)
}

/// `getPodStatusForController`: the phases of the pods the object controls.
async fn pods_status(context: &Context<'_>) -> Result<String, CtlError> {
    let pods = selected(context, "pods").await?;
    let mut counts = [0; 4];
    for pod in pods.iter().filter(|pod| controlled_by(pod, &context.object)) {
        match pod["status"]["phase"].as_str() {
            Some("Running") => counts[0] += 1,
            Some("Pending") => counts[1] += 1,
            Some("Succeeded") => counts[2] += 1,
            Some("Failed") => counts[3] += 1,
            _ => {}
        }
    }
    Ok(format!("{} Running / {} Waiting / {} Succeeded / {} Failed", counts[0], counts[1], counts[2], counts[3]))
}

/// The `Type Status Reason` table of workload conditions.
fn conditions(out: &mut String, object: &Value) {
    let Some(conditions) = object["status"]["conditions"].as_array().filter(|conditions| !conditions.is_empty()) else {
        return;
    };
    out.push_str("Conditions:\n  Type\tStatus\tReason\n  ----\t------\t------\n");
    for condition in conditions {
        let _ = writeln!(out, "  {} \t{}\t{}", text(&condition["type"]), text(&condition["status"]), text(&condition["reason"]));
    }
}

/// `header`'s lines, without its name line (for describers that put lines between).
fn labels_and_annotations(object: &Value) -> String {
    let mut out = String::new();
    header(&mut out, object, false);
    out.split_once('\n').map(|(_, rest)| rest.to_string()).unwrap_or_default()
}

fn name_and_namespace(out: &mut String, object: &Value) {
    let _ = writeln!(out, "Name:\t{}", text(&object["metadata"]["name"]));
    let _ = writeln!(out, "Namespace:\t{}", text(&object["metadata"]["namespace"]));
}

pub async fn deployment(context: &Context<'_>) -> Result<String, CtlError> {
    let object = &context.object;
    let (spec, status) = (&object["spec"], &object["status"]);
    let mut out = String::new();
    name_and_namespace(&mut out, object);
    let _ = writeln!(out, "CreationTimestamp:\t{}", rfc1123z(&object["metadata"]["creationTimestamp"]));
    out.push_str(&labels_and_annotations(object));
    let _ = writeln!(out, "Selector:\t{}", selector_text(object));
    let _ = writeln!(
        out,
        "Replicas:\t{} desired | {} updated | {} total | {} available | {} unavailable",
        number(&spec["replicas"]),
        number(&status["updatedReplicas"]),
        number(&status["replicas"]),
        number(&status["availableReplicas"]),
        number(&status["unavailableReplicas"])
    );
    let _ = writeln!(out, "StrategyType:\t{}", text(&spec["strategy"]["type"]));
    let _ = writeln!(out, "MinReadySeconds:\t{}", number(&spec["minReadySeconds"]));
    let rolling = &spec["strategy"]["rollingUpdate"];
    if rolling.is_object() {
        let _ = writeln!(out, "RollingUpdateStrategy:\t{} max unavailable, {} max surge", int_or_string(&rolling["maxUnavailable"]), int_or_string(&rolling["maxSurge"]));
    }
    out.push_str(&pod_template::describe(&spec["template"]));
    conditions(&mut out, object);
    // A failure to list them leaves the lines out, as in kubectl.
    if let Ok(replica_sets) = selected(context, "replicasets").await {
        let (new, old) = replica_sets_of(object, replica_sets);
        if !new.is_empty() || !old.is_empty() {
            let _ = writeln!(out, "OldReplicaSets:\t{}", replica_set_list(&old));
            let _ = writeln!(out, "NewReplicaSet:\t{}", replica_set_list(&new));
        }
    }
    events_section(&mut out, &context.events);
    Ok(out)
}

/// An `IntOrString` as Go's `String()`: `0` when absent.
fn int_or_string(value: &Value) -> String {
    if value.is_null() { "0".into() } else { text(value) }
}

/// kubectl's `GetAllReplicaSets`: the deployment's replica sets oldest first; the new one is the
/// first whose template is the deployment's (but for the hash label).
fn replica_sets_of(deployment: &Value, replica_sets: Vec<Value>) -> (Vec<Value>, Vec<Value>) {
    let mut owned: Vec<Value> = replica_sets.into_iter().filter(|set| controlled_by(set, deployment)).collect();
    owned.sort_by_key(|set| (text(&set["metadata"]["creationTimestamp"]).parse::<jiff::Timestamp>().ok(), text(&set["metadata"]["name"])));
    let without_hash = |template: &Value| {
        let mut template = template.clone();
        if let Some(labels) = template["metadata"]["labels"].as_object_mut() {
            labels.remove("pod-template-hash");
            if labels.is_empty() {
                template["metadata"].as_object_mut().map(|metadata| metadata.remove("labels"));
            }
        }
        template
    };
    let wanted = without_hash(&deployment["spec"]["template"]);
    let new = owned.iter().position(|set| without_hash(&set["spec"]["template"]) == wanted);
    let new: Vec<Value> = new.map(|index| owned.remove(index)).into_iter().collect();
    (new, owned)
}

fn replica_set_list(sets: &[Value]) -> String {
    if sets.is_empty() {
        return "<none>".into();
    }
    sets.iter()
        .map(|set| format!("{} ({}/{} replicas created)", text(&set["metadata"]["name"]), number(&set["status"]["replicas"]), number(&set["spec"]["replicas"])))
        .collect::<Vec<_>>()
        .join(", ")
}

pub async fn replica_set(context: &Context<'_>) -> Result<String, CtlError> {
    let object = &context.object;
    let mut out = String::new();
    name_and_namespace(&mut out, object);
    let _ = writeln!(out, "Selector:\t{}", format_label_selector(&object["spec"]["selector"]));
    out.push_str(&labels_and_annotations(object));
    if let Some(owner) = super::pod::controller(object) {
        let _ = writeln!(out, "Controlled By:\t{owner}");
    }
    let _ = writeln!(out, "Replicas:\t{} current / {} desired", number(&object["status"]["replicas"]), number(&object["spec"]["replicas"]));
    let status = match pods_status(context).await {
        Ok(status) => status,
        Err(err) => format!("error in fetching pods: {err}"),
    };
    let _ = writeln!(out, "Pods Status:\t{status}");
    out.push_str(&pod_template::describe(&object["spec"]["template"]));
    conditions(&mut out, object);
    events_section(&mut out, &context.events);
    Ok(out)
}

pub async fn stateful_set(context: &Context<'_>) -> Result<String, CtlError> {
    let object = &context.object;
    let spec = &object["spec"];
    let mut out = String::new();
    name_and_namespace(&mut out, object);
    let _ = writeln!(out, "CreationTimestamp:\t{}", rfc1123z(&object["metadata"]["creationTimestamp"]));
    let _ = writeln!(out, "Selector:\t{}", selector_text(object));
    out.push_str(&labels_and_annotations(object));
    let _ = writeln!(out, "Replicas:\t{} desired | {} total", number(&spec["replicas"]), number(&object["status"]["replicas"]));
    let _ = writeln!(out, "Update Strategy:\t{}", text(&spec["updateStrategy"]["type"]));
    let rolling = &spec["updateStrategy"]["rollingUpdate"];
    if let Some(partition) = rolling["partition"].as_i64() {
        let _ = writeln!(out, "  Partition:\t{partition}");
        if !rolling["maxUnavailable"].is_null() {
            let _ = writeln!(out, "  MaxUnavailable:\t{}", text(&rolling["maxUnavailable"]));
        }
    }
    let _ = writeln!(out, "Pods Status:\t{}", pods_status(context).await?);
    out.push_str(&pod_template::describe(&spec["template"]));
    claim_templates(&mut out, &spec["volumeClaimTemplates"]);
    events_section(&mut out, &context.events);
    Ok(out)
}

/// `describeVolumeClaimTemplates`.
fn claim_templates(out: &mut String, templates: &Value) {
    let Some(templates) = templates.as_array().filter(|templates| !templates.is_empty()) else {
        out.push_str("Volume Claims:\t<none>\n");
        return;
    };
    out.push_str("Volume Claims:\n");
    for claim in templates {
        let spec = &claim["spec"];
        let _ = writeln!(out, "  Name:\t{}", text(&claim["metadata"]["name"]));
        let _ = writeln!(out, "  StorageClass:\t{}", super::storage::claim_class(claim));
        let mut labels = String::new();
        pod_template::multiline_labels(&mut labels, "Labels", &claim["metadata"]["labels"]);
        pod_template::multiline_labels(&mut labels, "Annotations", &claim["metadata"]["annotations"]);
        // kubectl indents the later lines too, before their tab.
        for line in labels.lines() {
            let _ = writeln!(out, "  {line}");
        }
        let capacity = spec["resources"]["requests"]["storage"].as_str().unwrap_or("<default>");
        let _ = writeln!(out, "  Capacity:\t{capacity}");
        let _ = writeln!(out, "  Access Modes:\t{}", super::storage::access_modes(&spec["accessModes"]));
    }
}

pub async fn daemon_set(context: &Context<'_>) -> Result<String, CtlError> {
    let object = &context.object;
    let status = &object["status"];
    let mut out = String::new();
    name_and_namespace(&mut out, object);
    let _ = writeln!(out, "Selector:\t{}", selector_text(object));
    let node_selector: Vec<String> =
        object["spec"]["template"]["spec"]["nodeSelector"].as_object().into_iter().flatten().map(|(key, value)| format!("{key}={}", text(value))).collect();
    let _ = writeln!(out, "Node-Selector:\t{}", if node_selector.is_empty() { "<none>".to_string() } else { node_selector.join(",") });
    out.push_str(&labels_and_annotations(object));
    let _ = writeln!(out, "Desired Number of Nodes Scheduled: {}", number(&status["desiredNumberScheduled"]));
    let _ = writeln!(out, "Current Number of Nodes Scheduled: {}", number(&status["currentNumberScheduled"]));
    let _ = writeln!(out, "Number of Nodes Scheduled with Up-to-date Pods: {}", number(&status["updatedNumberScheduled"]));
    let _ = writeln!(out, "Number of Nodes Scheduled with Available Pods: {}", number(&status["numberAvailable"]));
    let _ = writeln!(out, "Number of Nodes Misscheduled: {}", number(&status["numberMisscheduled"]));
    let _ = writeln!(out, "Pods Status:\t{}", pods_status(context).await?);
    out.push_str(&pod_template::describe(&object["spec"]["template"]));
    events_section(&mut out, &context.events);
    Ok(out)
}
