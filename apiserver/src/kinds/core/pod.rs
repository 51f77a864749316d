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

/// `printPod`'s row: ready containers, the waiting reason or the pod's reason or phase
/// (Terminating while it is being deleted), restarts.
fn cells(pod: &Value) -> Vec<Value> {
    let statuses = list(pod, "/status/containerStatuses");
    let ready = statuses.iter().filter(|status| status.get("ready").and_then(Value::as_bool) == Some(true)).count();
    let total = list(pod, "/spec/containers").len();
    let restarts: i64 = statuses.iter().map(|status| status.get("restartCount").and_then(Value::as_i64).unwrap_or(0)).sum();
    let waiting = statuses.iter().find_map(|status| status.pointer("/state/waiting/reason").and_then(Value::as_str));
    let status = if crate::meta::is_being_deleted(pod) {
        "Terminating"
    } else {
        match waiting.or_else(|| pod.pointer("/status/reason").and_then(Value::as_str)) {
            Some(reason) => reason,
            None => match text(pod, "/status/phase") {
                "" => "Pending",
                phase => phase,
            },
        }
    };
    vec![
        printers::name(pod),
        json!(format!("{ready}/{total}")),
        json!(status),
        json!(restarts.to_string()),
        printers::age_of(pod),
        json!(or_none(text(pod, "/status/podIP").to_string())),
        json!(or_none(text(pod, "/spec/nodeName").to_string())),
        json!(or_none(text(pod, "/status/nominatedNodeName").to_string())),
        json!("<none>"),
    ]
}
