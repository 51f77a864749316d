//! `describe`: objects as kubectl's describers write them. Each describer writes tab-separated
//! text as kubectl's `PrefixWriter` does, which [`tabwriter::align`] lays out as kubectl's
//! tabwriter; kinds without a describer get the generic one (every field, indented).

mod autoscaling;
mod batch;
mod certificates;
mod config;
mod node;
mod pod;
mod policy;
mod rbac;
mod service;
mod storage;
mod tabwriter;
mod workloads;

use std::fmt::Write;
use std::path::PathBuf;

use serde_json::Value;

use crate::commands::find;
use crate::discovery::{discover, encode, get_json};
use crate::kubeconfig::client_and_namespace;
use crate::output::out;
use crate::patch::{FileOptions, Named, Selection, objects};
use crate::{Config, CtlError};

#[derive(Clone, Debug, clap::Args)]
#[command(after_help = "Examples:
  ctl describe pod web-0
  ctl describe pod/web-0
  ctl describe pods
  ctl describe pods web          # every pod whose name starts with web
  ctl describe pods -l app=web
  ctl describe deployments -A")]
pub struct DescribeArgs {
    /// TYPE [NAME_PREFIX…], or TYPE/NAME…
    pub objects: Vec<String>,
    /// Only the objects whose labels match this selector.
    #[arg(short = 'l', long)]
    pub selector: Option<String>,
    /// The objects of every namespace.
    #[arg(short = 'A', long)]
    pub all_namespaces: bool,
    /// Manifest files naming the objects.
    #[arg(short = 'f', long = "filename")]
    pub files: Vec<PathBuf>,
    /// Show the events about each object.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub show_events: bool,
}

pub async fn describe(config: &Config, args: &DescribeArgs) -> Result<(), CtlError> {
    if args.objects.is_empty() && args.files.is_empty() {
        // kubectl's words, as `get` says them.
        return Err(CtlError::Usage("You must specify the type of resource to describe. Use \"kubectl api-resources\" for a complete list of supported resources.".into()));
    }
    let (client, namespace) = client_and_namespace(config).await?;
    let (named, errors) = if args.all_namespaces && args.files.is_empty() && !args.objects[0].contains('/') {
        (everywhere(&client, args).await?, Vec::new())
    } else {
        let files = FileOptions { files: args.files.clone(), recursive: false, dry_run: "none".into() };
        let selection = Selection { words: &args.objects, files: &files, selector: args.selector.as_deref(), all: true };
        (objects(config, &selection, "describe").await?.1, Vec::new())
    };
    let mut errors: Vec<CtlError> = errors;
    let mut first = true;
    for target in &named {
        match describe_one(&client, target, args.show_events).await {
            Ok(text) => {
                if first {
                    out!("{text}")?;
                } else {
                    out!("\n\n{text}")?;
                }
                first = false;
            }
            // kubectl's `describe TYPE NAME` describes the objects whose names start with NAME
            // when none is called NAME.
            Err(CtlError::Server { reason, message, details }) if reason == "NotFound" && args.objects.len() == 2 && !args.objects[0].contains('/') => {
                if !by_prefix(&client, target, &namespace, args.show_events).await? {
                    return Err(CtlError::Server { reason, message, details });
                }
                first = false;
            }
            Err(err) => errors.push(err),
        }
    }
    if named.is_empty() && errors.is_empty() {
        if args.all_namespaces {
            eprintln!("No resources found");
        } else {
            eprintln!("No resources found in {namespace} namespace.");
        }
    }
    crate::apply::report(errors)
}

/// `describe TYPE -A`: every object of the types in every namespace.
async fn everywhere(client: &kube::Client, args: &DescribeArgs) -> Result<Vec<Named>, CtlError> {
    let served = discover(client).await?;
    let mut found = Vec::new();
    for kind in args.objects[0].split(',') {
        let resource = find(&served, kind)?;
        let mut path = resource.path(None, None);
        if let Some(selector) = &args.selector {
            let _ = write!(path, "?labelSelector={}", encode(selector));
        }
        let list = get_json(client, &path, "application/json").await?;
        for item in list["items"].as_array().into_iter().flatten() {
            let name = item["metadata"]["name"].as_str().unwrap_or_default().to_string();
            if args.objects.len() > 1 && !args.objects[1..].contains(&name) {
                continue;
            }
            let namespace = item["metadata"]["namespace"].as_str().map(str::to_string);
            found.push(Named { resource: resource.clone(), namespace, name });
        }
    }
    Ok(found)
}

/// Describes each object of the target's type whose name starts with the target's name, each
/// followed by a blank line as kubectl prints them; false when there is none.
async fn by_prefix(client: &kube::Client, target: &Named, namespace: &str, show_events: bool) -> Result<bool, CtlError> {
    let list = get_json(client, &target.resource.path(Some(namespace), None), "application/json").await?;
    let mut found = false;
    for item in list["items"].as_array().into_iter().flatten() {
        let name = item["metadata"]["name"].as_str().unwrap_or_default();
        if name.starts_with(&target.name) {
            let named = Named { resource: target.resource.clone(), namespace: target.namespace.clone(), name: name.to_string() };
            let text = describe_one(client, &named, show_events).await?;
            out!("{text}\n")?;
            found = true;
        }
    }
    Ok(found)
}

/// Everything a describer may read: the object, its events, and the API to ask for more.
pub struct Context<'a> {
    pub client: &'a kube::Client,
    pub object: Value,
    pub events: Option<Vec<Value>>,
}

async fn describe_one(client: &kube::Client, target: &Named, show_events: bool) -> Result<String, CtlError> {
    let resource = &target.resource;
    let object = get_json(client, &resource.path(target.namespace.as_deref(), Some(&target.name)), "application/json").await?;
    // kubectl leaves the kind out of a pod's event selector.
    let kind = if resource.group.is_empty() && resource.kind == "Pod" { None } else { Some(resource.kind.as_str()) };
    let mut found = if show_events { Some(events(client, &object, kind).await) } else { None };
    // The kubelet names a node's uid by the node's name in its events; kubectl asks for both.
    if let (Some(found), true) = (&mut found, resource.group.is_empty() && resource.kind == "Node") {
        let mut by_name = object.clone();
        by_name["metadata"]["uid"] = object["metadata"]["name"].clone();
        found.extend(events(client, &by_name, kind).await);
    }
    let context = Context { client, object, events: found };
    let text = match (resource.group.as_str(), resource.kind.as_str()) {
        ("", "Pod") => pod::describe(&context),
        ("", "ConfigMap") => config::config_map(&context),
        ("", "Secret") => config::secret(&context),
        ("", "Endpoints") => service::endpoints_object(&context),
        ("rbac.authorization.k8s.io", "RoleBinding" | "ClusterRoleBinding") => rbac::binding(&context),
        ("", "LimitRange") => config::limit_range(&context),
        ("", "ResourceQuota") => config::resource_quota(&context),
        ("", "ServiceAccount") => config::service_account(&context).await,
        ("", "Namespace") => config::namespace(&context).await?,
        ("", "Node") => node::node(&context).await,
        ("autoscaling", "HorizontalPodAutoscaler") => autoscaling::horizontal_pod_autoscaler(&context).await,
        ("networking.k8s.io", "Ingress") => service::ingress(&context).await,
        ("", "Service") => service::service(&context).await,
        ("batch", "Job") => batch::job(&context),
        ("batch", "CronJob") => batch::cron_job(&context),
        ("storage.k8s.io", "StorageClass") => storage::storage_class(&context),
        ("scheduling.k8s.io", "PriorityClass") => policy::priority_class(&context),
        ("policy", "PodDisruptionBudget") => policy::disruption_budget(&context),
        ("", "PersistentVolumeClaim") => storage::claim(&context).await?,
        ("apps", "Deployment") => workloads::deployment(&context).await?,
        ("apps", "ReplicaSet") => workloads::replica_set(&context).await?,
        ("apps", "StatefulSet") => workloads::stateful_set(&context).await?,
        ("apps", "DaemonSet") => workloads::daemon_set(&context).await?,
        ("certificates.k8s.io", "CertificateSigningRequest") => certificates::certificate_signing_request(&context)?,
        _ => generic(&context),
    };
    Ok(tabwriter::align(&text))
}

/// The events about `object`, as kubectl's `searchEvents` selects them: by name, namespace, kind
/// (when given) and uid. No events is what a failed search shows, as in kubectl.
async fn events(client: &kube::Client, object: &Value, kind: Option<&str>) -> Vec<Value> {
    let metadata = &object["metadata"];
    let namespace = metadata["namespace"].as_str().unwrap_or_default();
    let mut selector = format!("involvedObject.name={},involvedObject.namespace={namespace}", metadata["name"].as_str().unwrap_or_default());
    if let Some(kind) = kind {
        let _ = write!(selector, ",involvedObject.kind={kind}");
    }
    if let Some(uid) = metadata["uid"].as_str() {
        let _ = write!(selector, ",involvedObject.uid={uid}");
    }
    let path = if namespace.is_empty() { "/api/v1/events".to_string() } else { format!("/api/v1/namespaces/{namespace}/events") };
    let events = get_json(client, &format!("{path}?fieldSelector={}", encode(&selector)), "application/json").await;
    events.ok().and_then(|events| events["items"].as_array().cloned()).unwrap_or_default()
}

/// A field as the describers print it: a string as it is, nothing for a missing field, anything
/// else (a number, a boolean) as JSON.
pub fn text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// kubectl's table of a node's or a claim's conditions: they differ only in the first time
/// (`header`, read from `field`), which kubectl underlines with the same dashes in both.
pub fn conditions_table(out: &mut String, conditions: &[Value], header: &str, field: &str) {
    let _ = write!(out, "Conditions:\n  Type\tStatus\t{header}\tLastTransitionTime\tReason\tMessage\n  ----\t------\t-----------------\t------------------\t------\t-------\n");
    for condition in conditions {
        let _ = writeln!(
            out,
            "  {} \t{} \t{} \t{} \t{} \t{}",
            text(&condition["type"]),
            text(&condition["status"]),
            crate::pod_template::rfc1123z(&condition[field]),
            crate::pod_template::rfc1123z(&condition["lastTransitionTime"]),
            text(&condition["reason"]),
            text(&condition["message"])
        );
    }
}

/// kubectl's `DescribeEvents`: `<none>`, or the table after a flush (a form feed here), oldest
/// last-seen first.
pub fn events_section(out: &mut String, events: &Option<Vec<Value>>) {
    let Some(events) = events else {
        return;
    };
    if events.is_empty() {
        out.push_str("Events:\t<none>\n");
        return;
    }
    let mut events = events.clone();
    // A stable sort, as Go's sort.Sort is not, but equal times keep the server's order here.
    events.sort_by_key(|event| event["lastTimestamp"].as_str().and_then(|time| time.parse::<jiff::Timestamp>().ok()));
    out.push_str("\x0cEvents:\n  Type\tReason\tAge\tFrom\tMessage\n  ----\t------\t----\t----\t-------\n");
    for event in &events {
        let first = match event["eventTime"].as_str() {
            Some(time) => common::durations::age(Some(time)),
            None => common::durations::age(event["firstTimestamp"].as_str()),
        };
        let count = event["count"].as_i64().unwrap_or(0);
        let age = if event["series"].is_object() {
            format!("{} (x{} over {first})", common::durations::age(event["series"]["lastObservedTime"].as_str()), event["series"]["count"].as_i64().unwrap_or(0))
        } else if count > 1 {
            format!("{} (x{count} over {first})", common::durations::age(event["lastTimestamp"].as_str()))
        } else {
            first
        };
        let from = event["source"]["component"].as_str().filter(|from| !from.is_empty()).or_else(|| event["reportingComponent"].as_str()).unwrap_or_default();
        let _ = writeln!(out, "  {}\t{}\t{age}\t{from}\t{}", text(&event["type"]), text(&event["reason"]), text(&event["message"]).trim());
    }
}

/// Name, namespace, labels and annotations, as most describers begin.
pub fn header(out: &mut String, object: &Value, namespaced: bool) {
    let metadata = &object["metadata"];
    let _ = writeln!(out, "Name:\t{}", metadata["name"].as_str().unwrap_or_default());
    if namespaced {
        let _ = writeln!(out, "Namespace:\t{}", metadata["namespace"].as_str().unwrap_or_default());
    }
    crate::pod_template::multiline_labels(out, "Labels", &metadata["labels"]);
    crate::pod_template::multiline_annotations(out, "Annotations", &metadata["annotations"]);
}

/// kubectl's generic describer: the header, then every other field, sorted, as indented
/// `Smart Label:  value` lines; then the events.
fn generic(context: &Context) -> String {
    let mut out = String::new();
    header(&mut out, &context.object, true);
    if let Some(map) = context.object.as_object() {
        content(&mut out, 0, map, "");
    }
    events_section(&mut out, &context.events);
    out
}

/// The fields `generic` shows in its header or not at all.
const SKIPPED: [&str; 5] = [".metadata.managedFields", ".metadata.name", ".metadata.namespace", ".metadata.labels", ".metadata.annotations"];

/// `printUnstructuredContent`.
fn content(out: &mut String, level: usize, map: &serde_json::Map<String, Value>, prefix: &str) {
    let indent = "  ".repeat(level);
    for (field, value) in map {
        let path = format!("{prefix}.{field}");
        if SKIPPED.contains(&path.as_str()) {
            continue;
        }
        match value {
            Value::Object(inner) => {
                let _ = writeln!(out, "{indent}{}:", smart_label(field));
                content(out, level + 1, inner, &path);
            }
            Value::Array(items) => {
                let _ = writeln!(out, "{indent}{}:", smart_label(field));
                for item in items {
                    match item {
                        Value::Object(inner) => content(out, level + 1, inner, &path),
                        other => {
                            let _ = writeln!(out, "{indent}  {}", go_value(other));
                        }
                    }
                }
            }
            other => {
                let _ = writeln!(out, "{indent}{}:\t{}", smart_label(field), go_value(other));
            }
        }
    }
}

/// A JSON scalar as Go's `%v` prints it.
fn go_value(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Null => "<nil>".into(),
        other => other.to_string(),
    }
}

/// kubectl's `smartLabelFor`: `apiVersion` reads `API Version`; a field with other characters
/// than letters and `-` stays as it is.
fn smart_label(field: &str) -> String {
    if field.chars().any(|char| !char.is_alphabetic() && char != '-') {
        return field.to_string();
    }
    camel_case_words(field)
        .into_iter()
        .filter(|part| part != "_")
        .map(|part| {
            if ["API", "URL", "UID", "OSB", "GUID"].contains(&part.to_uppercase().as_str()) {
                part.to_uppercase()
            } else {
                let mut chars = part.chars();
                chars.next().map(|first| first.to_uppercase().collect::<String>() + chars.as_str()).unwrap_or_default()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// `camelcase.Split` (fatih/camelcase): runs of lower, upper, digit and other characters, with
/// an upper run's last letter moved to a lower run after it (`HTMLParser`: `HTML`, `Parser`).
fn camel_case_words(text: &str) -> Vec<String> {
    let class = |char: char| {
        if char.is_lowercase() {
            1
        } else if char.is_uppercase() {
            2
        } else if char.is_numeric() {
            3
        } else {
            4
        }
    };
    let mut runs: Vec<Vec<char>> = Vec::new();
    let mut last = 0;
    for char in text.chars() {
        let current = class(char);
        match runs.last_mut() {
            Some(run) if current == last => run.push(char),
            _ => runs.push(vec![char]),
        }
        last = current;
    }
    for index in 0..runs.len().saturating_sub(1) {
        if runs[index].first().is_some_and(|char| char.is_uppercase())
            && runs[index + 1].first().is_some_and(|char| char.is_lowercase())
            && let Some(moved) = runs[index].pop()
        {
            runs[index + 1].insert(0, moved);
        }
    }
    runs.into_iter().filter(|run| !run.is_empty()).map(|run| run.into_iter().collect()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_as_kubectl_makes_them() {
        for (field, label) in [("apiVersion", "API Version"), ("uid", "UID"), ("creationTimestamp", "Creation Timestamp"), ("HTMLParser", "HTML Parser"), ("key1", "key1"), ("a.b", "a.b")] {
            assert_eq!(smart_label(field), label, "{field}");
        }
    }
}
