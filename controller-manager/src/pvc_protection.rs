//! The PVC protection controller (kube-controller-manager's `pvc-protection`): a claim being
//! deleted keeps its `kubernetes.io/pvc-protection` finalizer while a scheduled pod uses it
//! (kube's `podUsesPVC`): through a `persistentVolumeClaim` volume whatever the pod's phase (a
//! finished pod still names its data until it is deleted), or as the claim of an `ephemeral`
//! volume that the pod controls, until the pod is shut down (deleted with grace 0). Then the
//! finalizer goes and so does the claim. The informer is asked first and, when it shows no
//! user, a live list of the namespace's pods, as kube does: a pod made moments ago must not
//! lose its claim. A claim without the finalizer (made before the admission added it) gets it.

use std::sync::Arc;
use std::time::Duration;

use common::storage::{self, PVC_PROTECTION};
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

/// The names of the claims a pod's volumes name (an ephemeral volume's claim may be someone
/// else's: [`pod_uses`] checks).
pub fn claims_of(pod: &Pod) -> Vec<String> {
    let pod_name = pod.metadata.name.as_deref().unwrap_or_default();
    let volumes = pod.spec.as_ref().and_then(|spec| spec.volumes.as_deref()).unwrap_or_default();
    volumes
        .iter()
        .filter_map(|volume| match (&volume.persistent_volume_claim, &volume.ephemeral) {
            (Some(claim), _) => Some(claim.claim_name.clone()),
            (None, Some(_)) => Some(storage::ephemeral_claim_name(pod_name, &volume.name)),
            (None, None) => None,
        })
        .collect()
}

/// kube's `podIsShutDown`: deleted with a grace period of 0 (the kubelet is done with it, or it
/// was force-deleted); its ephemeral claims are free, which also breaks a cycle between a pod
/// finalizer and the claim's.
fn shut_down(pod: &Pod) -> bool {
    pod.metadata.deletion_timestamp.is_some() && pod.metadata.deletion_grace_period_seconds == Some(0)
}

/// Whether the pod holds the claim (kube's `podUsesPVC`): scheduled (a kubelet refuses to start
/// a pod whose claim is being deleted, so an unscheduled one never will), in the claim's
/// namespace, and naming it in a `persistentVolumeClaim` volume, or, not shut down, in an
/// `ephemeral` volume whose claim it controls.
pub fn pod_uses(pod: &Pod, claim: &PersistentVolumeClaim) -> bool {
    let scheduled = pod.spec.as_ref().and_then(|spec| spec.node_name.as_deref()).is_some_and(|node| !node.is_empty());
    if !scheduled || pod.metadata.namespace != claim.metadata.namespace {
        return false;
    }
    let Some(name) = claim.metadata.name.as_deref() else {
        return false;
    };
    let pod_name = pod.metadata.name.as_deref().unwrap_or_default();
    let volumes = pod.spec.as_ref().and_then(|spec| spec.volumes.as_deref()).unwrap_or_default();
    volumes.iter().any(|volume| {
        volume.persistent_volume_claim.as_ref().is_some_and(|source| source.claim_name == name)
            || (volume.ephemeral.is_some() && !shut_down(pod) && storage::ephemeral_claim_name(pod_name, &volume.name) == name && storage::claim_is_for_pod(claim, pod))
    })
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
    fn a_scheduled_pod_holds_what_it_names_and_the_ephemeral_claims_it_controls_until_shut_down() {
        let claim = |name: &str, owner: Option<&str>| -> PersistentVolumeClaim {
            let owners = owner.map(|uid| json!([{"apiVersion": "v1", "kind": "Pod", "name": "p", "uid": uid, "controller": true}]));
            serde_json::from_value(json!({"metadata": {"name": name, "namespace": "ns", "ownerReferences": owners}})).unwrap()
        };
        let pod = |node: Option<&str>, phase: &str, deleted_with_grace: Option<i64>| -> Pod {
            let deletion = deleted_with_grace.map(|_| "2026-01-01T00:00:00Z");
            serde_json::from_value(json!({"metadata": {"name": "p", "namespace": "ns", "uid": "pod-uid", "deletionTimestamp": deletion, "deletionGracePeriodSeconds": deleted_with_grace},
                "spec": {"nodeName": node, "containers": [], "volumes": [{"name": "v", "persistentVolumeClaim": {"claimName": "data"}},
                    {"name": "scratch", "ephemeral": {"volumeClaimTemplate": {"spec": {}}}}]},
                "status": {"phase": phase}}))
            .unwrap()
        };
        let (data, scratch) = (claim("data", None), claim("p-scratch", Some("pod-uid")));
        assert!(pod_uses(&pod(Some("n"), "Running", None), &data));
        assert!(pod_uses(&pod(Some("n"), "Pending", None), &scratch));
        assert!(!pod_uses(&pod(None, "Pending", None), &data), "not scheduled");
        // Finished pods still hold what they name (kube: whatever the phase).
        assert!(pod_uses(&pod(Some("n"), "Succeeded", None), &data));
        assert!(pod_uses(&pod(Some("n"), "Failed", None), &scratch));
        // Shut down: its ephemeral claims are free, a named claim is not.
        assert!(!pod_uses(&pod(Some("n"), "Running", Some(0)), &scratch));
        assert!(pod_uses(&pod(Some("n"), "Running", Some(30)), &scratch), "still terminating");
        assert!(pod_uses(&pod(Some("n"), "Running", Some(0)), &data));
        // A claim of the ephemeral name that the pod does not control is not its.
        assert!(!pod_uses(&pod(Some("n"), "Running", None), &claim("p-scratch", None)));
        assert!(!pod_uses(&pod(Some("n"), "Running", None), &claim("p-scratch", Some("other-uid"))));
        let elsewhere: PersistentVolumeClaim = serde_json::from_value(json!({"metadata": {"name": "data", "namespace": "other"}})).unwrap();
        assert!(!pod_uses(&pod(Some("n"), "Running", None), &elsewhere));
        assert_eq!(claims_of(&pod(None, "Pending", None)), vec!["data".to_string(), "p-scratch".to_string()]);
    }
}
