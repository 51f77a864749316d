//! `Pod`: its declaration; its strategy (the typed one, `admission::pod`, the service account
//! it must run as, and its graceful deletion) and its printer.

use async_trait::async_trait;
use serde_json::{Value, json};
use k8s_openapi::api::core::v1::Pod;

use crate::admission::{self, Typed};
use crate::errors::ApiError;
use crate::registry::Kind;
use crate::strategy::{Admitted, Cluster, FieldValidation, Operation, Strategy};
use crate::resources::ResourceType;
use crate::kinds::ALL;
use crate::printers::{self, NAME, AGE, Column, Printer, list, or_none, text};

static STRATEGY: PodStrategy = PodStrategy(Typed::new());

struct PodStrategy(Typed<Pod>);

#[async_trait]
impl Strategy for PodStrategy {
    fn admit(&self, resource: &ResourceType, object: Value, old: Option<&Value>, operation: Operation, validation: FieldValidation) -> Result<Admitted, ApiError> {
        self.0.admit(resource, object, old, operation, validation)
    }

    /// The admission plugins that change a new pod from other objects, in kube's order:
    /// LimitRanger (the namespace's LimitRanges' defaults, then their bounds), then Priority
    /// (`spec.priority` from the PriorityClass).
    async fn mutate_create(&self, cluster: &dyn Cluster, namespace: Option<&str>, pod: &mut Value) -> Result<(), ApiError> {
        admission::limit_ranger::admit_pod(cluster, &KIND.resource, namespace, pod).await?;
        admission::priority::admit_pod(cluster, pod).await
    }

    /// Pods count with their requests and limits, by scope (kube's pod evaluator).
    fn usage(&self) -> Option<&'static dyn common::quota::Evaluator> {
        Some(&common::quota::PodEvaluator)
    }

    /// The ServiceAccount admission plugin's other half: a pod runs as a ServiceAccount that
    /// exists. The `default` one is made by a controller when the namespace is, so it is looked
    /// for a while longer (kube-apiserver tries ten times, 100 to 200 ms apart; this waits up to
    /// 3 s, as a loaded node may be slower). On when this apiserver issues tokens, as
    /// kube-apiserver always does; mirror pods, which may not name one, are left to validation.
    async fn check_create(&self, cluster: &dyn Cluster, namespace: Option<&str>, pod: &Value) -> Result<(), ApiError> {
        if !admission::service_account_admission() || pod["metadata"]["annotations"].get("kubernetes.io/config.mirror").is_some() {
            return Ok(());
        }
        let (Some(namespace), Some(name)) = (namespace, pod["spec"]["serviceAccountName"].as_str()) else {
            return Ok(());
        };
        let attempts = if name == "default" { 20 } else { 1 };
        for attempt in 0..attempts {
            if attempt > 0 {
                tokio::time::sleep(std::time::Duration::from_millis(150)).await;
            }
            if cluster.current("", "v1", "serviceaccounts", Some(namespace), name).await?.is_some() {
                return Ok(());
            }
        }
        let pod_name = crate::meta::name(pod).unwrap_or_default();
        Err(ApiError::forbidden(format!(
            "pods \"{pod_name}\" is forbidden: error looking up service account {namespace}/{name}: serviceaccount \"{name}\" not found"
        )))
    }

    /// A pod on a node stops gracefully: the kubelet kills the containers and then deletes the
    /// pod with grace 0. A pod never bound to a node, or finished, has nothing to stop.
    fn grace_period(&self, pod: &Value, requested: Option<i64>) -> Option<i64> {
        let finished = matches!(pod.pointer("/status/phase").and_then(Value::as_str), Some("Succeeded" | "Failed"));
        let bound = pod.pointer("/spec/nodeName").and_then(Value::as_str).is_some_and(|node| !node.is_empty());
        let spec_grace = || pod.pointer("/spec/terminationGracePeriodSeconds").and_then(Value::as_i64).unwrap_or(30);
        (bound && !finished).then(|| requested.unwrap_or_else(spec_grace))
    }
}

pub static KIND: Kind = Kind {
    resource: ResourceType::builtin("", "v1", "Pod", "pods", "pod")
        .namespaced()
        .short_names(&["po"])
        .categories(ALL)
        .subresources(&["status", "binding", "eviction", "log", "exec", "attach", "portforward"])
        .selectable_fields(&["spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName", "status.phase", "status.podIP", "status.nominatedNodeName"])
        .tracks_generation()
        .returns_deleted_object(),
    strategy: &STRATEGY,
    printer: Some(&PRINTER),
};

static PRINTER: Printer = Printer {
    columns: &[
        NAME,
        Column::new("Ready", "string", 0, "The aggregate readiness state of this pod for accepting traffic."),
        Column::new("Status", "string", 0, "The aggregate status of the containers in this pod."),
        Column::new("Restarts", "string", 0, "The number of times the containers in this pod have been restarted."),
        AGE,
        Column::new("IP", "string", 1, "IP address allocated to the pod."),
        Column::new("Node", "string", 1, "Name of the node this pod is assigned to."),
        Column::new("Nominated Node", "string", 1, "Name of the node this pod is nominated to."),
        Column::new("Readiness Gates", "string", 1, "Readiness gates of this pod."),
    ],
    cells,
};

/// `printPod`'s row: ready containers, the status (below), restarts with the time since the
/// last one, and for `-o wide` the IP, node, nominated node and readiness gates.
fn cells(pod: &Value) -> Vec<Value> {
    let row = status_of(pod);
    let restarts = match &row.last_restart {
        Some(finished) if row.restarts != 0 => format!("{} ({} ago)", row.restarts, common::durations::age(Some(finished))),
        _ => row.restarts.to_string(),
    };
    let readiness_gates = readiness_gates(pod);
    vec![
        printers::name(pod),
        json!(format!("{}/{}", row.ready, row.total)),
        json!(row.reason),
        json!(restarts),
        printers::age_of(pod),
        json!(or_none(text(pod, "/status/podIP").to_string())),
        json!(or_none(text(pod, "/spec/nodeName").to_string())),
        json!(or_none(text(pod, "/status/nominatedNodeName").to_string())),
        json!(readiness_gates),
    ]
}

/// What `printPod` shows of a pod's containers.
struct PodRow {
    ready: usize,
    total: usize,
    reason: String,
    restarts: i64,
    /// When the last restart counted began (the latest `lastState.terminated.finishedAt`).
    last_restart: Option<String>,
}

/// A sidecar: an init container that keeps running beside the others (`restartPolicy: Always`).
fn restartable(pod: &Value, name: &str) -> bool {
    list(pod, "/spec/initContainers").iter().any(|container| text(container, "/name") == name && text(container, "/restartPolicy") == "Always")
}

/// Keeps the later of two RFC 3339 times; the API writes them all in UTC to the second, so
/// they order as text.
fn later(current: &mut Option<String>, candidate: &str) {
    if !candidate.is_empty() && current.as_deref().is_none_or(|current| current < candidate) {
        *current = Some(candidate.to_string());
    }
}

fn has_condition(pod: &Value, kind: &str) -> bool {
    list(pod, "/status/conditions").iter().any(|condition| text(condition, "/type") == kind && text(condition, "/status") == "True")
}

/// A terminated container's reason as `printPod` words it: its own reason (`Completed`,
/// `Error`, `OOMKilled`), else the signal or exit code.
fn terminated_reason(terminated: &Value) -> String {
    match (text(terminated, "/reason"), terminated.get("signal").and_then(Value::as_i64).unwrap_or(0)) {
        ("", 0) => format!("ExitCode:{}", terminated.get("exitCode").and_then(Value::as_i64).unwrap_or(0)),
        ("", signal) => format!("Signal:{signal}"),
        (reason, _) => reason.to_string(),
    }
}

/// kube's `printPod` status column: the pod's phase or reason, replaced by the first init
/// container still to finish (`Init:0/2`, `Init:Error`, `Init:CrashLoopBackOff`), else by the
/// reason of a waiting or terminated container (the first in the list wins, `Completed` only
/// while none still runs), `SchedulingGated`, and `Terminating` for a pod being deleted that has
/// not finished.
fn status_of(pod: &Value) -> PodRow {
    let phase = text(pod, "/status/phase");
    let mut reason = match text(pod, "/status/reason") {
        "" => phase.to_string(),
        reason => reason.to_string(),
    };
    let gated = list(pod, "/status/conditions")
        .iter()
        .any(|condition| text(condition, "/type") == "PodScheduled" && text(condition, "/reason") == "SchedulingGated");
    if gated {
        reason = "SchedulingGated".to_string();
    }
    let init_containers = list(pod, "/spec/initContainers");
    let total = list(pod, "/spec/containers").len() + init_containers.iter().filter(|container| text(container, "/restartPolicy") == "Always").count();
    let mut ready = 0;
    let (mut restarts, mut sidecar_restarts) = (0, 0);
    let (mut last_restart, mut last_sidecar_restart) = (None, None);
    let mut initializing = false;
    for (index, status) in list(pod, "/status/initContainerStatuses").iter().enumerate() {
        let count = status.get("restartCount").and_then(Value::as_i64).unwrap_or(0);
        let finished = text(status, "/lastState/terminated/finishedAt");
        let sidecar = restartable(pod, text(status, "/name"));
        restarts += count;
        later(&mut last_restart, finished);
        if sidecar {
            sidecar_restarts += count;
            later(&mut last_sidecar_restart, finished);
        }
        let terminated = status.pointer("/state/terminated");
        let waiting = text(status, "/state/waiting/reason");
        if terminated.is_some_and(|terminated| terminated.get("exitCode").and_then(Value::as_i64) == Some(0)) {
            continue;
        }
        if sidecar && status.get("started").and_then(Value::as_bool) == Some(true) {
            if status.get("ready").and_then(Value::as_bool) == Some(true) {
                ready += 1;
            }
            continue;
        }
        reason = match terminated {
            Some(terminated) => format!("Init:{}", terminated_reason(terminated)),
            None if !waiting.is_empty() && waiting != "PodInitializing" => format!("Init:{waiting}"),
            None => format!("Init:{index}/{}", init_containers.len()),
        };
        initializing = true;
        break;
    }
    if !initializing || has_condition(pod, "Initialized") {
        restarts = sidecar_restarts;
        last_restart = last_sidecar_restart;
        let mut running = false;
        // The first container's reason is the one shown: kube walks them from the last.
        for status in list(pod, "/status/containerStatuses").iter().rev() {
            restarts += status.get("restartCount").and_then(Value::as_i64).unwrap_or(0);
            later(&mut last_restart, text(status, "/lastState/terminated/finishedAt"));
            let waiting = text(status, "/state/waiting/reason");
            if !waiting.is_empty() {
                reason = waiting.to_string();
            } else if let Some(terminated) = status.pointer("/state/terminated") {
                reason = terminated_reason(terminated);
            } else if status.get("ready").and_then(Value::as_bool) == Some(true) && status.pointer("/state/running").is_some() {
                running = true;
                ready += 1;
            }
        }
        if reason == "Completed" && running {
            reason = if has_condition(pod, "Ready") { "Running" } else { "NotReady" }.to_string();
        }
    }
    if crate::meta::is_being_deleted(pod) {
        if text(pod, "/status/reason") == "NodeLost" {
            reason = "Unknown".to_string();
        } else if !matches!(phase, "Succeeded" | "Failed") {
            reason = "Terminating".to_string();
        }
    }
    if reason.is_empty() {
        // No phase: the create strategy always sets one, so only a hand-made object lands
        // here; Pending is what it is.
        reason = "Pending".to_string();
    }
    PodRow { ready, total, reason, restarts, last_restart }
}

/// `printPod`'s readiness gates: how many of the gates' conditions are true, of how many.
fn readiness_gates(pod: &Value) -> String {
    let gates = list(pod, "/spec/readinessGates");
    if gates.is_empty() {
        return "<none>".to_string();
    }
    let met = gates.iter().filter(|gate| has_condition(pod, text(gate, "/conditionType"))).count();
    format!("{met}/{}", gates.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(phase: &str, statuses: Value) -> Value {
        json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "main"}, {"name": "side"}]},
               "status": {"phase": phase, "containerStatuses": statuses}})
    }

    fn terminated(name: &str, reason: Option<&str>, exit_code: i64) -> Value {
        let mut state = json!({"exitCode": exit_code, "finishedAt": "2026-01-01T00:00:00Z"});
        if let Some(reason) = reason {
            state["reason"] = json!(reason);
        }
        json!({"name": name, "ready": false, "restartCount": 0, "state": {"terminated": state}})
    }

    fn running(name: &str, ready: bool) -> Value {
        json!({"name": name, "ready": ready, "restartCount": 0, "state": {"running": {"startedAt": "2026-01-01T00:00:00Z"}}})
    }

    /// Each row a pod and the READY and STATUS cells `kubectl get pod` shows for it upstream
    /// (kube's `printPod`), not the pod's phase.
    #[test]
    fn the_status_column_is_printpods() {
        let gated = json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "main"}]},
                           "status": {"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}]}});
        let mut initializing = pod("Pending", json!([]));
        initializing["spec"]["initContainers"] = json!([{"name": "setup"}, {"name": "migrate"}]);
        initializing["status"]["initContainerStatuses"] = json!([terminated("setup", Some("Completed"), 0), {"name": "migrate", "state": {"running": {}}}]);
        let mut init_failed = initializing.clone();
        init_failed["status"]["initContainerStatuses"][1] = terminated("migrate", Some("Error"), 1);
        let mut deleting = pod("Running", json!([running("main", true), running("side", true)]));
        deleting["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:00Z");
        let mut deleted_finished = pod("Succeeded", json!([terminated("main", Some("Completed"), 0), terminated("side", Some("Completed"), 0)]));
        deleted_finished["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:00Z");
        let rows = [
            ("succeeded", pod("Succeeded", json!([terminated("main", Some("Completed"), 0), terminated("side", Some("Completed"), 0)])), "0/2", "Completed"),
            ("failed", pod("Failed", json!([terminated("main", Some("Error"), 1), terminated("side", Some("Completed"), 0)])), "0/2", "Error"),
            ("oom", pod("Failed", json!([terminated("main", Some("OOMKilled"), 137), terminated("side", Some("Completed"), 0)])), "0/2", "OOMKilled"),
            ("no reason, a code", pod("Failed", json!([terminated("main", None, 3), terminated("side", None, 0)])), "0/2", "ExitCode:3"),
            ("one done, one running", pod("Running", json!([terminated("main", Some("Completed"), 0), running("side", true)])), "1/2", "NotReady"),
            ("waiting", pod("Pending", json!([{"name": "main", "state": {"waiting": {"reason": "ImagePullBackOff"}}}, running("side", true)])), "1/2", "ImagePullBackOff"),
            ("running", pod("Running", json!([running("main", true), running("side", false)])), "1/2", "Running"),
            ("gated", gated, "0/1", "SchedulingGated"),
            ("initializing", initializing, "0/2", "Init:1/2"),
            ("init failed", init_failed, "0/2", "Init:Error"),
            ("deleting", deleting, "2/2", "Terminating"),
            ("deleted when finished", deleted_finished, "0/2", "Completed"),
        ];
        for (case, pod, ready, status) in rows {
            let cells = cells(&pod);
            assert_eq!((cells[1].as_str(), cells[2].as_str()), (Some(ready), Some(status)), "{case}");
        }
    }

    #[test]
    fn restarts_say_how_long_ago_the_last_one_was() {
        let mut restarted = running("main", true);
        restarted["restartCount"] = json!(2);
        restarted["lastState"] = json!({"terminated": {"exitCode": 1, "finishedAt": "2000-01-01T00:00:00Z"}});
        let cells = cells(&pod("Running", json!([restarted])));
        let restarts = cells[3].as_str().unwrap_or_default();
        assert!(restarts.starts_with("2 (") && restarts.ends_with(" ago)"), "{restarts}");
        assert_eq!(cells[8], "<none>");
    }
}
