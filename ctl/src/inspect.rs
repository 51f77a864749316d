//! Commands that look at objects over time or in depth: `describe`, `logs`, `get -w` (in
//! `get.rs`) and `rollout status|history|undo|restart` for Deployments.

use std::time::{Duration, Instant};

use futures::{AsyncBufReadExt, StreamExt};
use serde_json::{Value, json};

use crate::discovery::{Resource, discover, encode, get_json, send};
use crate::kubeconfig::client_and_namespace;
use crate::print::{aligned, columns};
use crate::{Config, CtlError};

#[derive(Clone, Debug, clap::Args)]
pub struct DescribeArgs {
    pub kind: String,
    pub name: String,
}

#[derive(Clone, Debug, clap::Args)]
pub struct LogsArgs {
    pub pod: String,
    /// The container (default: the pod's only one).
    #[arg(short = 'c', long)]
    pub container: Option<String>,
    /// Keep streaming new lines.
    #[arg(short = 'f', long)]
    pub follow: bool,
    /// Only the last N lines (-1, the default, for all).
    #[arg(long, default_value_t = -1, allow_negative_numbers = true)]
    pub tail: i64,
    /// The previous run of the container.
    #[arg(short = 'p', long)]
    pub previous: bool,
}

#[derive(Clone, Debug, clap::Subcommand)]
pub enum RolloutCommand {
    /// Wait until a Deployment's rollout is complete.
    Status {
        target: String,
        /// How long to wait, as kubectl takes it (`90s`, `5m`, `1m30s`); 0 waits for ever.
        #[arg(long, default_value = "0s", value_parser = parse_duration)]
        timeout: Duration,
    },
    /// List a Deployment's revisions.
    History { target: String },
    /// Go back to the previous (or a given) revision.
    Undo {
        target: String,
        #[arg(long)]
        to_revision: Option<i64>,
    },
    /// Restart a Deployment's pods by changing its template.
    Restart { target: String },
}

fn find(served: &[Resource], word: &str) -> Result<Resource, CtlError> {
    served
        .iter()
        .find(|resource| resource.matches(word))
        .cloned()
        .ok_or_else(|| CtlError::Usage(format!("the server doesn't have a resource type {word:?}")))
}

/// `describe`: the object's metadata, then its spec and status as indented fields, then the
/// events about it, as kubectl's generic describer lays them out.
pub async fn describe(config: &Config, args: &DescribeArgs) -> Result<(), CtlError> {
    let (client, namespace) = client_and_namespace(config).await?;
    let served = discover(&client).await?;
    let (kind, name) = match args.kind.split_once('/') {
        Some((kind, name)) => (kind.to_string(), name.to_string()),
        None => (args.kind.clone(), args.name.clone()),
    };
    let resource = find(&served, &kind)?;
    let object = get_json(&client, &resource.path(Some(&namespace), Some(&name)), "application/json").await?;
    let metadata = &object["metadata"];
    let mut out = String::new();
    out.push_str(&format!("Name:         {}\n", metadata["name"].as_str().unwrap_or_default()));
    if resource.namespaced {
        out.push_str(&format!("Namespace:    {}\n", metadata["namespace"].as_str().unwrap_or_default()));
    }
    out.push_str(&format!("Labels:       {}\n", pairs(&metadata["labels"], "              ")));
    let mut annotations = metadata["annotations"].clone();
    if let Some(map) = annotations.as_object_mut() {
        map.remove("kubectl.kubernetes.io/last-applied-configuration");
    }
    out.push_str(&format!("Annotations:  {}\n", pairs(&annotations, "              ")));
    out.push_str(&format!("API Version:  {}\n", object["apiVersion"].as_str().unwrap_or_default()));
    out.push_str(&format!("Kind:         {}\n", object["kind"].as_str().unwrap_or_default()));
    for section in ["spec", "data", "status"] {
        if let Some(value) = object.get(section).filter(|value| !value.is_null()) {
            out.push_str(&format!("{}:\n", capitalize(section)));
            fields(value, 1, &mut out);
        }
    }
    // The uid too, as kubectl's describe: events of an earlier object of the same name are not
    // this one's.
    let selector = format!(
        "involvedObject.name={name},involvedObject.namespace={},involvedObject.kind={},involvedObject.uid={}",
        if resource.namespaced { namespace.as_str() } else { "" },
        resource.kind,
        object["metadata"]["uid"].as_str().unwrap_or_default()
    );
    let events = get_json(&client, &format!("/api/v1/namespaces/{namespace}/events?fieldSelector={}", encode(&selector)), "application/json").await;
    let mut items = events.as_ref().ok().and_then(|events| events["items"].as_array()).cloned().unwrap_or_default();
    if items.is_empty() {
        out.push_str("Events:       <none>\n");
    } else {
        out.push_str("Events:\n");
        out.push_str(&event_rows(&mut items));
    }
    print!("{out}");
    Ok(())
}

fn capitalize(word: &str) -> String {
    let mut chars = word.chars();
    chars.next().map(|first| first.to_uppercase().collect::<String>() + chars.as_str()).unwrap_or_default()
}

fn pairs(map: &Value, indent: &str) -> String {
    match map.as_object().filter(|map| !map.is_empty()) {
        None => "<none>".to_string(),
        Some(map) => map
            .iter()
            .map(|(key, value)| format!("{key}={}", value.as_str().unwrap_or_default()))
            .collect::<Vec<_>>()
            .join(&format!("\n{indent}")),
    }
}

/// Nested fields, two spaces per level, with lists as `-` items.
fn fields(value: &Value, depth: usize, out: &mut String) {
    let indent = "  ".repeat(depth);
    match value {
        Value::Object(map) => {
            for (key, value) in map {
                match value {
                    Value::Object(inner) if !inner.is_empty() => {
                        out.push_str(&format!("{indent}{}:\n", capitalize(key)));
                        fields(value, depth + 1, out);
                    }
                    Value::Array(items) if !items.is_empty() => {
                        out.push_str(&format!("{indent}{}:\n", capitalize(key)));
                        for item in items {
                            match item {
                                Value::Object(_) => {
                                    out.push_str(&format!("{indent}  -\n"));
                                    fields(item, depth + 2, out);
                                }
                                other => out.push_str(&format!("{indent}  {}\n", scalar(other))),
                            }
                        }
                    }
                    other => out.push_str(&format!("{indent}{}:  {}\n", capitalize(key), scalar(other))),
                }
            }
        }
        other => out.push_str(&format!("{indent}{}\n", scalar(other))),
    }
}

fn scalar(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Null => "<none>".into(),
        Value::Object(_) => "<none>".into(),
        Value::Array(_) => "<none>".into(),
        other => other.to_string(),
    }
}

/// `logs`: the pod's log through the apiserver (which proxies it from the node's kubelet).
pub async fn logs(config: &Config, args: &LogsArgs) -> Result<(), CtlError> {
    let (client, namespace) = client_and_namespace(config).await?;
    let pod = match args.pod.split_once('/') {
        None => args.pod.clone(),
        Some(("pod" | "pods" | "po", name)) => name.to_string(),
        Some((kind, name)) => pod_of(&client, &namespace, kind, name).await?,
    };
    let pod = pod.as_str();
    let object = get_json(&client, &format!("/api/v1/namespaces/{namespace}/pods/{pod}"), "application/json").await?;
    let container = match &args.container {
        // Checked here as kubectl does, so that the message is the same.
        Some(container) if !pod_containers(&object).contains(container) => {
            return Err(CtlError::Usage(format!("container {container} is not valid for pod {pod}")));
        }
        Some(container) => container.clone(),
        None => default_container(&object),
    };
    let mut query = vec![format!("container={}", encode(&container))];
    if args.follow {
        query.push("follow=true".to_string());
    }
    if args.tail >= 0 {
        query.push(format!("tailLines={}", args.tail));
    }
    if args.previous {
        query.push("previous=true".to_string());
    }
    let path = format!("/api/v1/namespaces/{namespace}/pods/{pod}/log?{}", query.join("&"));
    let request = http::Request::get(&path)
        .body(Vec::new())
        .map_err(|err| CtlError::Usage(format!("bad request {path}: {err}")))?;
    let stream = client.request_stream(request).await.map_err(CtlError::from_kube)?;
    let mut lines = stream.lines();
    while let Some(line) = lines.next().await {
        println!("{}", line?);
    }
    Ok(())
}

/// The pod whose logs `logs TYPE/NAME` shows for a workload or Service, chosen as kubectl
/// chooses: among the pods its selector matches, one not being deleted, running and ready if
/// any, the newest; with kubectl's notice when there was a choice.
async fn pod_of(client: &kube::Client, namespace: &str, kind: &str, name: &str) -> Result<String, CtlError> {
    // The apps workloads select with a LabelSelector's matchLabels, ReplicationControllers and
    // Services with a plain map.
    let (path, pointer) = match kind {
        "deployment" | "deployments" | "deploy" => (format!("/apis/apps/v1/namespaces/{namespace}/deployments/{name}"), "/spec/selector/matchLabels"),
        "replicaset" | "replicasets" | "rs" => (format!("/apis/apps/v1/namespaces/{namespace}/replicasets/{name}"), "/spec/selector/matchLabels"),
        "replicationcontroller" | "replicationcontrollers" | "rc" => (format!("/api/v1/namespaces/{namespace}/replicationcontrollers/{name}"), "/spec/selector"),
        "service" | "services" | "svc" => (format!("/api/v1/namespaces/{namespace}/services/{name}"), "/spec/selector"),
        other => return Err(CtlError::Usage(format!("cannot get the logs of a {other}: name a pod, deployment, replicaset, replicationcontroller or service"))),
    };
    let object = get_json(client, &path, "application/json").await?;
    let labels = object.pointer(pointer).and_then(Value::as_object);
    let selector: Vec<String> = labels.into_iter().flatten().filter_map(|(key, value)| value.as_str().map(|value| format!("{key}={value}"))).collect();
    if selector.is_empty() {
        return Err(CtlError::Usage(format!("{kind}/{name} selects no pods")));
    }
    let list = get_json(client, &format!("/api/v1/namespaces/{namespace}/pods?labelSelector={}", encode(&selector.join(","))), "application/json").await?;
    let mut pods: Vec<&Value> = list["items"].as_array().into_iter().flatten().collect();
    let ready = |pod: &Value| pod["status"]["conditions"].as_array().into_iter().flatten().any(|c| c["type"] == "Ready" && c["status"] == "True");
    let rank = |pod: &Value| (pod["metadata"]["deletionTimestamp"].is_null(), pod["status"]["phase"] == "Running", ready(pod), pod["metadata"]["creationTimestamp"].as_str().unwrap_or_default().to_string());
    pods.sort_by_key(|pod| std::cmp::Reverse(rank(pod)));
    let chosen = pods.first().and_then(|pod| pod["metadata"]["name"].as_str()).ok_or_else(|| CtlError::Usage(format!("no pods found for {kind}/{name}")))?;
    if pods.len() > 1 {
        eprintln!("Found {} pods, using pod/{chosen}", pods.len());
    }
    Ok(chosen.to_string())
}

/// The container kubectl picks when none is named: the pod's default-container annotation, else
/// its first container, with kubectl's notice when there was a choice.
fn default_container(pod: &Value) -> String {
    let names = |field: &str| container_names(pod, field);
    let containers = names("containers");
    if let Some(annotated) = pod["metadata"]["annotations"]["kubectl.kubernetes.io/default-container"].as_str() {
        if containers.iter().any(|name| name == annotated) {
            return annotated.to_string();
        }
    }
    let first = containers.first().cloned().unwrap_or_default();
    let init = names("initContainers");
    if containers.len() + init.len() > 1 {
        let all: Vec<String> = containers.iter().cloned().chain(init.iter().map(|name| format!("{name} (init)"))).collect();
        eprintln!("Defaulted container {first:?} out of: {}", all.join(", "));
    }
    first
}

fn container_names(pod: &Value, field: &str) -> Vec<String> {
    pod["spec"][field].as_array().into_iter().flatten().filter_map(|c| c["name"].as_str().map(str::to_string)).collect()
}

/// Every container a log can be asked of: regular, init and ephemeral.
fn pod_containers(pod: &Value) -> Vec<String> {
    ["containers", "initContainers", "ephemeralContainers"].iter().flat_map(|field| container_names(pod, field)).collect()
}

fn deployment_name(target: &str) -> Result<&str, CtlError> {
    match target.split_once('/') {
        Some(("deployment" | "deployments" | "deploy" | "deployment.apps" | "deployments.apps", name)) => Ok(name),
        Some((kind, _)) => Err(CtlError::Usage(format!("no rollouts for {kind:?}: only Deployments are supported"))),
        None => Err(CtlError::Usage(format!("give the target as deployment/NAME, not {target:?}"))),
    }
}

/// The ReplicaSets a Deployment owns, with their revision numbers, oldest first.
async fn revisions(client: &kube::Client, namespace: &str, deployment: &Value) -> Result<Vec<(i64, Value)>, CtlError> {
    let uid = deployment["metadata"]["uid"].as_str().unwrap_or_default().to_string();
    let sets = get_json(client, &format!("/apis/apps/v1/namespaces/{namespace}/replicasets"), "application/json").await?;
    let mut owned: Vec<(i64, Value)> = sets["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|set| set["metadata"]["ownerReferences"].as_array().into_iter().flatten().any(|owner| owner["uid"] == json!(uid)))
        .map(|set| {
            let revision = set["metadata"]["annotations"]["deployment.kubernetes.io/revision"].as_str().and_then(|r| r.parse().ok()).unwrap_or(0);
            (revision, set.clone())
        })
        .collect();
    owned.sort_by_key(|(revision, _)| *revision);
    Ok(owned)
}

pub async fn rollout(config: &Config, command: &RolloutCommand) -> Result<(), CtlError> {
    let (client, namespace) = client_and_namespace(config).await?;
    let path = |name: &str| format!("/apis/apps/v1/namespaces/{namespace}/deployments/{name}");
    match command {
        RolloutCommand::Restart { target } => {
            let name = deployment_name(target)?;
            let now = jiff_now();
            let patch = json!({"spec": {"template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": now}}}}});
            send(&client, "PATCH", &path(name), "application/merge-patch+json", &patch).await?;
            println!("deployment.apps/{name} restarted");
        }
        RolloutCommand::Status { target, timeout } => {
            let name = deployment_name(target)?;
            let deadline = (!timeout.is_zero()).then(|| Instant::now() + *timeout);
            let mut last = String::new();
            loop {
                let deployment = get_json(&client, &path(name), "application/json").await?;
                let (done, message) = rollout_progress(&deployment, name);
                if message != last {
                    println!("{message}");
                    last = message;
                }
                if done {
                    return Ok(());
                }
                if deadline.is_some_and(|deadline| Instant::now() > deadline) {
                    return Err(CtlError::Usage(format!("timed out waiting for the rollout of deployment {name:?}")));
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
        RolloutCommand::History { target } => {
            let name = deployment_name(target)?;
            let deployment = get_json(&client, &path(name), "application/json").await?;
            let mut rows = vec![vec!["REVISION".to_string(), "CHANGE-CAUSE".to_string()]];
            for (revision, set) in revisions(&client, &namespace, &deployment).await? {
                let cause = set["metadata"]["annotations"]["kubernetes.io/change-cause"].as_str().unwrap_or("<none>");
                rows.push(vec![revision.to_string(), cause.to_string()]);
            }
            println!("deployment.apps/{name}");
            print!("{}", columns(&rows));
        }
        RolloutCommand::Undo { target, to_revision } => {
            let name = deployment_name(target)?;
            let deployment = get_json(&client, &path(name), "application/json").await?;
            let history = revisions(&client, &namespace, &deployment).await?;
            let wanted = match to_revision {
                Some(revision) => history.iter().find(|(number, _)| number == revision),
                // The newest revision is the current one; undo goes to the one before it.
                None => history.iter().rev().nth(1),
            };
            let Some((_, set)) = wanted else {
                return Err(CtlError::Usage(format!("no rollout history found for deployment {name:?}")));
            };
            let mut template = set["spec"]["template"].clone();
            if let Some(labels) = template["metadata"]["labels"].as_object_mut() {
                labels.remove("pod-template-hash");
            }
            let patch = json!({"spec": {"template": template}});
            send(&client, "PATCH", &path(name), "application/merge-patch+json", &patch).await?;
            println!("deployment.apps/{name} rolled back");
        }
    }
    Ok(())
}

/// kubectl's rollout status messages, from the Deployment's status.
fn rollout_progress(deployment: &Value, name: &str) -> (bool, String) {
    let number = |pointer: &str| deployment.pointer(pointer).and_then(Value::as_i64).unwrap_or(0);
    let generation = number("/metadata/generation");
    let observed = number("/status/observedGeneration");
    if observed < generation {
        return (false, "Waiting for deployment spec update to be observed...".into());
    }
    let desired = number("/spec/replicas");
    let updated = number("/status/updatedReplicas");
    let total = number("/status/replicas");
    let available = number("/status/availableReplicas");
    if updated < desired {
        return (false, format!("Waiting for deployment {name:?} rollout to finish: {updated} out of {desired} new replicas have been updated..."));
    }
    if total > updated {
        return (false, format!("Waiting for deployment {name:?} rollout to finish: {} old replicas are pending termination...", total - updated));
    }
    if available < updated {
        return (false, format!("Waiting for deployment {name:?} rollout to finish: {available} of {updated} updated replicas are available..."));
    }
    (true, format!("deployment {name:?} successfully rolled out"))
}

/// A duration as Go writes it, which is what kubectl's flags take: `0`, `500ms`, `30s`, `1h5m`.
fn parse_duration(text: &str) -> Result<Duration, String> {
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    let invalid = || format!("invalid duration {text:?}: give it as 30s, 5m or 1m30s");
    let mut total = Duration::ZERO;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).ok_or_else(invalid)?;
        let number: u64 = rest[..digits].parse().map_err(|_| invalid())?;
        rest = &rest[digits..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
        let unit = match &rest[..unit_len] {
            "ms" => Duration::from_millis(1),
            "s" => Duration::from_secs(1),
            "m" => Duration::from_secs(60),
            "h" => Duration::from_secs(3600),
            _ => return Err(invalid()),
        };
        total += unit * u32::try_from(number).map_err(|_| invalid())?;
        rest = &rest[unit_len..];
    }
    if text.is_empty() {
        return Err(invalid());
    }
    Ok(total)
}

/// kubectl's events table under `describe`: oldest last-seen first, an age with the repeat count
/// (`10s (x3 over 2m)`), two-space gaps and a dashed rule under the header.
fn event_rows(events: &mut [Value]) -> String {
    let text = |value: &Value| value.as_str().unwrap_or_default().to_string();
    events.sort_by_key(|event| text(&event["lastTimestamp"]));
    let mut rows = vec![
        ["Type", "Reason", "Age", "From", "Message"].map(String::from).to_vec(),
        ["----", "------", "----", "----", "-------"].map(String::from).to_vec(),
    ];
    for event in events.iter() {
        let count = event["count"].as_i64().unwrap_or(0);
        let first = event["firstTimestamp"].as_str().or_else(|| event["eventTime"].as_str());
        let age = if count > 1 {
            format!("{} (x{count} over {})", common::durations::age(event["lastTimestamp"].as_str()), common::durations::age(first))
        } else {
            common::durations::age(first)
        };
        let from = event["source"]["component"].as_str().filter(|from| !from.is_empty()).or_else(|| event["reportingComponent"].as_str());
        rows.push(vec![text(&event["type"]), text(&event["reason"]), age, from.unwrap_or_default().to_string(), text(&event["message"])]);
    }
    aligned(&rows, "  ", "  ")
}

fn jiff_now() -> String {
    jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_kubectl_reads_them() {
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        for bad in ["", "30", "s", "3x", "1.5s", "-1s"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn rollout_messages() {
        let deployment = json!({"metadata": {"generation": 2}, "spec": {"replicas": 3}, "status": {"observedGeneration": 2, "updatedReplicas": 1, "replicas": 3, "availableReplicas": 2}});
        assert_eq!(rollout_progress(&deployment, "web").1, "Waiting for deployment \"web\" rollout to finish: 1 out of 3 new replicas have been updated...");
        let done = json!({"metadata": {"generation": 2}, "spec": {"replicas": 3}, "status": {"observedGeneration": 2, "updatedReplicas": 3, "replicas": 3, "availableReplicas": 3}});
        assert_eq!(rollout_progress(&done, "web"), (true, "deployment \"web\" successfully rolled out".to_string()));
    }
}
