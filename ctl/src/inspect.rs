//! `logs` of a pod or of a workload's pod (`describe` is in `describe/`, `get -w` in `get.rs`,
//! `rollout` in `rollout.rs`).

use std::cmp::Ordering;
use std::time::{Duration, Instant};

use futures::{AsyncBufReadExt, StreamExt};
use serde_json::Value;

use crate::discovery::{Resource, discover, encode, get_json};
use crate::kubeconfig::client_and_namespace;
use crate::{Config, CtlError};
use crate::output::outln;

#[derive(Clone, Debug, clap::Args)]
#[command(after_help = "Examples:\n  ctl logs web-0\n  ctl logs web-0 -c sidecar\n  ctl logs -f deployment/web\n  ctl logs web-0 --tail=20\n  ctl logs web-0 --previous")]
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
    /// How long to wait for a first pod of a workload (`20s`, `1m`).
    #[arg(long, default_value = "20s", value_parser = crate::rollout::parse_duration)]
    pub pod_running_timeout: Duration,
}

fn find(served: &[Resource], word: &str) -> Result<Resource, CtlError> {
    served
        .iter()
        .find(|resource| resource.matches(word))
        .cloned()
        .ok_or_else(|| CtlError::Usage(format!("the server doesn't have a resource type {word:?}")))
}

/// `logs`: the pod's log through the apiserver (which proxies it from the node's kubelet).
pub async fn logs(config: &Config, args: &LogsArgs) -> Result<(), CtlError> {
    let (client, namespace) = client_and_namespace(config).await?;
    let pod = match args.pod.split_once('/') {
        None => args.pod.clone(),
        Some(("pod" | "pods" | "po", name)) => name.to_string(),
        Some((kind, name)) => pod_of(&client, &namespace, kind, name, args.pod_running_timeout).await?,
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
        outln!("{}", line?)?;
    }
    Ok(())
}

/// The pod whose logs `logs TYPE/NAME` shows for a workload or Service, chosen as kubectl's
/// `LogsForObject` chooses: the first of the pods its selector matches in `ByLogging` order,
/// with kubectl's notice when there was a choice; while there are none, it waits for one.
async fn pod_of(client: &kube::Client, namespace: &str, kind: &str, name: &str, timeout: Duration) -> Result<String, CtlError> {
    let served = discover(client).await?;
    let resource = find(&served, kind)?;
    if resource.group.is_empty() && resource.kind == "Pod" {
        return Ok(name.to_string());
    }
    let object = get_json(client, &resource.path(Some(namespace), Some(name)), "application/json").await?;
    let go_type = format!("*{}.{}", resource.version, resource.kind);
    let selector = log_selector(&resource, &object, &go_type).map_err(|reason| CtlError::Usage(format!("cannot get the logs from {go_type}: {reason}")))?;
    let path = format!("/api/v1/namespaces/{namespace}/pods?labelSelector={}", encode(&selector));
    // kubectl watches for a first pod for --pod-running-timeout; a poll does the same here.
    let deadline = Instant::now() + timeout;
    let mut pods = loop {
        let list = get_json(client, &path, "application/json").await?;
        let pods: Vec<Value> = list["items"].as_array().cloned().unwrap_or_default();
        if !pods.is_empty() {
            break pods;
        }
        if Instant::now() >= deadline {
            return Err(CtlError::Usage("timed out waiting for the condition".into()));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    pods.sort_by(logging_order);
    let chosen = pods.first().and_then(|pod| pod["metadata"]["name"].as_str()).unwrap_or_default().to_string();
    if pods.len() > 1 {
        eprintln!("Found {} pods, using pod/{chosen}", pods.len());
    }
    Ok(chosen)
}

/// The pod selector of an object, as kubectl's `SelectorsForObject` reads it: the workloads'
/// `LabelSelector`, the plain label map of ReplicationControllers and Services.
fn log_selector(resource: &Resource, object: &Value, go_type: &str) -> Result<String, String> {
    let selector = &object["spec"]["selector"];
    let label_map = |selector: &Value| -> String {
        selector.as_object().into_iter().flatten().map(|(key, value)| format!("{key}={}", value.as_str().unwrap_or_default())).collect::<Vec<_>>().join(",")
    };
    match (resource.group.as_str(), resource.kind.as_str()) {
        ("", "ReplicationController") => Ok(label_map(selector)),
        ("", "Service") => {
            if selector.as_object().is_none_or(serde_json::Map::is_empty) {
                return Err(format!("invalid service '{}': Service is defined without a selector", object["metadata"]["name"].as_str().unwrap_or_default()));
            }
            Ok(label_map(selector))
        }
        ("apps", "Deployment" | "ReplicaSet" | "StatefulSet" | "DaemonSet") | ("batch", "Job") => {
            // An absent selector selects nothing in Kubernetes, but its string form is empty, and
            // kubectl lists with that string.
            if !selector.is_object() {
                return Ok(String::new());
            }
            let parsed: k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector =
                serde_json::from_value(selector.clone()).map_err(|err| format!("invalid label selector: {err}"))?;
            let parsed = common::selector::LabelSelector::from_k8s(&parsed).map_err(|err| format!("invalid label selector: {err}"))?;
            Ok(parsed.to_string())
        }
        _ => Err(format!("selector for {go_type} not implemented")),
    }
}

/// kubectl's `podutils.ByLogging`: the pod whose logs are most worth reading first. Assigned to a
/// node; Running before Unknown before Pending (other phases rank as Running, as kubectl's map
/// lookup has them); ready; ready for longer; more restarts; older.
fn logging_order(a: &Value, b: &Value) -> Ordering {
    let node = |pod: &Value| pod["spec"]["nodeName"].as_str().unwrap_or_default().to_string();
    let (node_a, node_b) = (node(a), node(b));
    if node_a != node_b && (node_a.is_empty() || node_b.is_empty()) {
        return if node_a.is_empty() { Ordering::Greater } else { Ordering::Less };
    }
    let phase = |pod: &Value| match pod["status"]["phase"].as_str() {
        Some("Unknown") => 1,
        Some("Pending") => 2,
        _ => 0,
    };
    if phase(a) != phase(b) {
        return phase(a).cmp(&phase(b));
    }
    let ready_since = |pod: &Value| {
        pod["status"]["conditions"].as_array().into_iter().flatten().find(|c| c["type"] == "Ready" && c["status"] == "True").map(|c| timestamp(&c["lastTransitionTime"]))
    };
    let (ready_a, ready_b) = (ready_since(a), ready_since(b));
    if ready_a.is_some() != ready_b.is_some() {
        return if ready_a.is_some() { Ordering::Less } else { Ordering::Greater };
    }
    if let (Some(since_a), Some(since_b)) = (ready_a, ready_b)
        && since_a != since_b
    {
        return earlier_first(since_a, since_b);
    }
    let (restarts_a, restarts_b) = (restarts(a), restarts(b));
    if restarts_a != restarts_b {
        return restarts_b.cmp(&restarts_a);
    }
    let (created_a, created_b) = (timestamp(&a["metadata"]["creationTimestamp"]), timestamp(&b["metadata"]["creationTimestamp"]));
    if created_a != created_b {
        return earlier_first(created_a, created_b);
    }
    Ordering::Equal
}

/// A time as kubectl compares them; None is Go's zero time, which comes after every other.
fn timestamp(value: &Value) -> Option<jiff::Timestamp> {
    value.as_str().and_then(|text| text.parse().ok())
}

fn earlier_first(a: Option<jiff::Timestamp>, b: Option<jiff::Timestamp>) -> Ordering {
    match (a, b) {
        (Some(a), Some(b)) => a.cmp(&b),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

/// The most restarts of a regular container, then of a sidecar (an init container that restarts
/// always), as kubectl's `maxContainerRestarts` counts them.
fn restarts(pod: &Value) -> (i64, i64) {
    let most = |statuses: &Value, counted: &dyn Fn(&Value) -> bool| {
        statuses.as_array().into_iter().flatten().filter(|status| counted(status)).filter_map(|status| status["restartCount"].as_i64()).max().unwrap_or(0)
    };
    let sidecars: Vec<&str> = pod["spec"]["initContainers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|container| container["restartPolicy"] == "Always")
        .filter_map(|container| container["name"].as_str())
        .collect();
    let regular = most(&pod["status"]["containerStatuses"], &|_| true);
    let sidecar = most(&pod["status"]["initContainerStatuses"], &|status| status["name"].as_str().is_some_and(|name| sidecars.contains(&name)));
    (regular, sidecar)
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn pod(name: &str, node: &str, phase: &str, ready_since: Option<&str>, restarts: i64, created: &str) -> Value {
        let mut pod = json!({"metadata": {"name": name, "creationTimestamp": created}, "spec": {"nodeName": node},
            "status": {"phase": phase, "containerStatuses": [{"name": "c", "restartCount": restarts}]}});
        if let Some(since) = ready_since {
            pod["status"]["conditions"] = json!([{"type": "Ready", "status": "True", "lastTransitionTime": since}]);
        }
        pod
    }

    fn first(mut pods: Vec<Value>) -> String {
        pods.sort_by(logging_order);
        pods[0]["metadata"]["name"].as_str().unwrap_or_default().to_string()
    }

    /// Each pair: the pod kubectl's `ByLogging` puts first, and the one it puts after it.
    #[test]
    fn the_pod_to_read_is_the_one_kubectl_picks() {
        let t1 = "2026-01-01T00:00:00Z";
        let t2 = "2026-01-01T00:05:00Z";
        for (better, worse) in [
            (pod("assigned", "n1", "Pending", None, 0, t2), pod("unassigned", "", "Running", Some(t1), 0, t1)),
            (pod("running", "n1", "Running", None, 0, t2), pod("pending", "n1", "Pending", None, 0, t1)),
            (pod("succeeded", "n1", "Succeeded", None, 0, t1), pod("unknown", "n1", "Unknown", None, 0, t1)),
            (pod("ready", "n1", "Running", Some(t2), 0, t2), pod("not-ready", "n1", "Running", None, 0, t1)),
            (pod("ready-longer", "n1", "Running", Some(t1), 0, t2), pod("ready-later", "n1", "Running", Some(t2), 0, t1)),
            (pod("restarted", "n1", "Running", Some(t1), 3, t2), pod("steady", "n1", "Running", Some(t1), 0, t1)),
            (pod("older", "n1", "Running", None, 0, t1), pod("newer", "n1", "Running", None, 0, t2)),
        ] {
            let expected = better["metadata"]["name"].as_str().unwrap_or_default().to_string();
            assert_eq!(first(vec![worse.clone(), better.clone()]), expected);
            assert_eq!(first(vec![better, worse]), expected);
        }
    }

    #[test]
    fn selectors_of_the_kinds_with_pods() {
        let resource = |group: &str, kind: &str| Resource {
            group: group.into(),
            version: "v1".into(),
            plural: String::new(),
            singular: String::new(),
            kind: kind.into(),
            namespaced: true,
            short_names: Vec::new(),
        };
        let job = json!({"spec": {"selector": {"matchLabels": {"b": "2", "a": "1"}, "matchExpressions": [{"key": "c", "operator": "In", "values": ["y", "x"]}]}}});
        assert_eq!(log_selector(&resource("batch", "Job"), &job, "*v1.Job"), Ok("a=1,b=2,c in (x,y)".to_string()));
        let service = json!({"metadata": {"name": "svc"}, "spec": {}});
        assert_eq!(
            log_selector(&resource("", "Service"), &service, "*v1.Service"),
            Err("invalid service 'svc': Service is defined without a selector".to_string())
        );
        let controller = json!({"spec": {"selector": {"app": "web"}}});
        assert_eq!(log_selector(&resource("", "ReplicationController"), &controller, "*v1.ReplicationController"), Ok("app=web".to_string()));
        assert_eq!(log_selector(&resource("", "ConfigMap"), &json!({}), "*v1.ConfigMap"), Err("selector for *v1.ConfigMap not implemented".to_string()));
    }
}
