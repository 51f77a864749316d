//! The PVC protection controller (kube-controller-manager's `pvc-protection`): a claim being
//! deleted keeps its `kubernetes.io/pvc-protection` finalizer while a pod that is scheduled and
//! not finished (Succeeded and Failed are finished) uses it, through a `persistentVolumeClaim`
//! volume or the claim of an `ephemeral` one; then the finalizer goes and so does the claim.
//! The informer is asked first and, when it shows no user, a live list of the namespace's pods,
//! as kube does: a pod made moments ago must not lose its claim. A claim without the finalizer
//! (made before the admission added it) gets it.

use std::sync::Arc;
use std::time::Duration;

use common::storage::PVC_PROTECTION;
use futures::StreamExt;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use kube::api::{Api, ListParams};
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;

use crate::context::Context;
use crate::framework::{self, ReconcileError};

pub async fn run(context: Arc<Context>) {
    context.storage_ready().await;
    let own = context.persistent_volume_claims.changes().map(|claim| ObjectRef::from_obj(&*claim)).boxed();
    // A pod's change (its end or deletion above all) concerns the claims it uses.
    let pods = context
        .pods
        .changes()
        .flat_map(|pod| {
            let namespace = pod.metadata.namespace.clone().unwrap_or_default();
            let claims: Vec<ObjectRef<PersistentVolumeClaim>> = claims_of(&pod).into_iter().map(|name| ObjectRef::new(&name).within(&namespace)).collect();
            futures::stream::iter(claims)
        })
        .boxed();
    let store = context.persistent_volume_claims.store();
    framework::run("pvc-protection", context.metrics.clone(), context.clone(), store, vec![own, pods], context.settings.concurrent_syncs, reconcile).await;
}

/// The names of the claims a pod's volumes use.
pub fn claims_of(pod: &Pod) -> Vec<String> {
    let pod_name = pod.metadata.name.as_deref().unwrap_or_default();
    let volumes = pod.spec.as_ref().map(|spec| spec.volumes.clone().unwrap_or_default()).unwrap_or_default();
    volumes
        .iter()
        .filter_map(|volume| match (&volume.persistent_volume_claim, &volume.ephemeral) {
            (Some(claim), _) => Some(claim.claim_name.clone()),
            (None, Some(_)) => Some(format!("{pod_name}-{}", volume.name)),
            (None, None) => None,
        })
        .collect()
}

/// Whether the pod holds the claim: scheduled (a kubelet refuses to start a pod whose claim is
/// being deleted, so an unscheduled one never will), not finished, and using it.
pub fn pod_uses(pod: &Pod, claim: &PersistentVolumeClaim) -> bool {
    let scheduled = pod.spec.as_ref().and_then(|spec| spec.node_name.as_deref()).is_some_and(|node| !node.is_empty());
    let finished = matches!(pod.status.as_ref().and_then(|status| status.phase.as_deref()), Some("Succeeded" | "Failed"));
    scheduled
        && !finished
        && pod.metadata.namespace == claim.metadata.namespace
        && claim.metadata.name.as_ref().is_some_and(|name| claims_of(pod).contains(name))
}

async fn reconcile(claim: Arc<PersistentVolumeClaim>, context: Arc<Context>) -> Result<Action, ReconcileError> {
    let namespace = claim.metadata.namespace.clone().unwrap_or_default();
    let name = claim.metadata.name.clone().unwrap_or_default();
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(context.client.clone(), &namespace);
    let has_finalizer = claim.metadata.finalizers.iter().flatten().any(|finalizer| finalizer == PVC_PROTECTION);
    let outcome = if claim.metadata.deletion_timestamp.is_none() {
        if has_finalizer {
            return Ok(Action::await_change());
        }
        framework::add_finalizer(&claims, &*claim, PVC_PROTECTION).await
    } else {
        if !has_finalizer {
            return Ok(Action::await_change());
        }
        let cached = context.pods.store().state().iter().any(|pod| pod_uses(pod, &claim));
        if cached {
            return Ok(Action::await_change());
        }
        let pods: Api<Pod> = Api::namespaced(context.client.clone(), &namespace);
        if pods.list(&ListParams::default()).await?.items.iter().any(|pod| pod_uses(pod, &claim)) {
            return Ok(Action::await_change());
        }
        tracing::info!(namespace = %namespace, name = %name, "no pod uses the claim being deleted; its protection finalizer goes");
        framework::remove_finalizer(&claims, &*claim, PVC_PROTECTION).await
    };
    match outcome {
        Ok(()) => Ok(Action::await_change()),
        Err(err) if framework::answered(&err, &[409]) => Ok(Action::requeue(Duration::from_millis(200))),
        Err(err) if framework::answered(&err, &[404]) => Ok(Action::await_change()),
        Err(err) => Err(err.into()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn only_a_scheduled_unfinished_pod_holds_its_claims() {
        let claim: PersistentVolumeClaim = serde_json::from_value(json!({"metadata": {"name": "data", "namespace": "ns"}})).unwrap();
        let ephemeral: PersistentVolumeClaim = serde_json::from_value(json!({"metadata": {"name": "p-scratch", "namespace": "ns"}})).unwrap();
        let pod = |node: Option<&str>, phase: &str| -> Pod {
            serde_json::from_value(json!({"metadata": {"name": "p", "namespace": "ns"},
                "spec": {"nodeName": node, "containers": [], "volumes": [{"name": "v", "persistentVolumeClaim": {"claimName": "data"}},
                    {"name": "scratch", "ephemeral": {"volumeClaimTemplate": {"spec": {}}}}]},
                "status": {"phase": phase}}))
            .unwrap()
        };
        assert!(pod_uses(&pod(Some("n"), "Running"), &claim));
        assert!(pod_uses(&pod(Some("n"), "Pending"), &ephemeral));
        assert!(!pod_uses(&pod(None, "Pending"), &claim));
        assert!(!pod_uses(&pod(Some("n"), "Succeeded"), &claim));
        assert!(!pod_uses(&pod(Some("n"), "Failed"), &claim));
        assert_eq!(claims_of(&pod(None, "Pending")), vec!["data".to_string(), "p-scratch".to_string()]);
    }
}
