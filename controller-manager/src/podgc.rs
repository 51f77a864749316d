//! The pod garbage collector's orphan sweep, as kube-controller-manager's `podgc` does it: a pod
//! bound to a node that no longer exists has no kubelet to finish it, so once the node has been
//! gone for a quarantine period the pod is marked `Failed` (condition `DisruptionTarget`, reason
//! `DeletionByPodGC`) and deleted at once. Without this, a DaemonSet's pod on a removed node, or
//! any pod deleted there, would stay `Terminating` for ever.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, Patch, PatchParams};

use crate::context::Context;
use crate::framework;

/// How often the pods are looked at (kube's `gcCheckPeriod`).
const PERIOD: Duration = Duration::from_secs(20);
/// How long a node must have been missing before its pods go (kube's `quarantineTime`): a node
/// being registered again, or an informer behind, does not lose its pods.
const QUARANTINE: Duration = Duration::from_secs(40);

pub async fn run(context: Arc<Context>) {
    let mut missing_since: HashMap<String, Instant> = HashMap::new();
    let mut every = tokio::time::interval(PERIOD);
    loop {
        every.tick().await;
        let nodes: HashSet<String> = context.nodes.store().state().iter().filter_map(|node| node.metadata.name.clone()).collect();
        let pods = context.pods.store().state();
        let bound_to_missing: Vec<Arc<Pod>> = pods
            .into_iter()
            .filter(|pod| pod.spec.as_ref().and_then(|spec| spec.node_name.as_deref()).is_some_and(|node| !node.is_empty() && !nodes.contains(node)))
            .collect();
        let now = Instant::now();
        let absent: HashSet<String> = bound_to_missing.iter().filter_map(|pod| pod.spec.as_ref()?.node_name.clone()).collect();
        missing_since.retain(|node, _| absent.contains(node));
        for node in &absent {
            missing_since.entry(node.clone()).or_insert(now);
        }
        for pod in bound_to_missing {
            let node = pod.spec.as_ref().and_then(|spec| spec.node_name.clone()).unwrap_or_default();
            if missing_since.get(&node).is_some_and(|since| now.duration_since(*since) >= QUARANTINE)
                && let Err(err) = collect(&context, &pod).await {
                    tracing::warn!(namespace = ?pod.metadata.namespace, name = ?pod.metadata.name, node = %node, error = %err, "cannot delete an orphaned pod");
                }
        }
    }
}

/// Marks the pod failed (unless it finished) and deletes it without a grace period.
async fn collect(context: &Context, pod: &Pod) -> Result<(), kube::Error> {
    let namespace = pod.metadata.namespace.clone().unwrap_or_default();
    let name = pod.metadata.name.clone().unwrap_or_default();
    let pods: Api<Pod> = Api::namespaced(context.client.clone(), &namespace);
    let phase = pod.status.as_ref().and_then(|status| status.phase.as_deref());
    if !matches!(phase, Some("Succeeded" | "Failed")) {
        let now = jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
        let patch = serde_json::json!({"status": {"phase": "Failed", "conditions": [{"type": "DisruptionTarget", "status": "True",
            "reason": "DeletionByPodGC", "message": "PodGC: node no longer exists", "lastTransitionTime": now}]}});
        match pods.patch_status(&name, &PatchParams::default(), &Patch::Strategic(patch)).await {
            Err(err) if !framework::answered(&err, &[404]) => return Err(err),
            _ => {}
        }
    }
    tracing::info!(namespace = %namespace, name = %name, "deleting a pod whose node no longer exists");
    match pods.delete(&name, &DeleteParams { grace_period_seconds: Some(0), ..DeleteParams::default() }).await {
        Err(err) if !framework::answered(&err, &[404]) => Err(err),
        _ => Ok(()),
    }
}
