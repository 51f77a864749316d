//! The ephemeral volume controller (kube-controller-manager's `ephemeral-volume`): each
//! `ephemeral.volumeClaimTemplate` volume of a pod gets its claim `<pod>-<volume>`, made from the
//! template (labels, annotations, spec) and owned by the pod (controller, blocking its
//! foreground deletion), so the garbage collector removes it with the pod. A claim of that name
//! the pod does not own is not touched: the pod is told, and cannot use it.

use std::sync::Arc;

use common::storage;
use futures::StreamExt;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, PostParams};
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;

use crate::context::Context;
use crate::framework::{self, ReconcileError};

const COMPONENT: &str = "ephemeral_volume";

struct Controller {
    context: Arc<Context>,
    recorder: common::events::Recorder,
}

pub async fn run(context: Arc<Context>) {
    context.storage_ready().await;
    let controller = Arc::new(Controller { recorder: context.recorder(COMPONENT), context: context.clone() });
    let own = context.pods.changes().map(|pod| ObjectRef::from_obj(&*pod)).boxed();
    // A claim's change or deletion concerns the pods whose ephemeral volume's claim has its
    // name (kube's onPVCDelete looks pods up by the claim's name): its own pod, whose claim
    // someone deleted, and a pod kept from its claim by someone else's claim of that name,
    // which the claim's going frees.
    let pods_store = context.pods.store();
    let claims = context
        .persistent_volume_claims
        .changes()
        .flat_map(move |claim| {
            let concerned: Vec<ObjectRef<Pod>> = pods_store.state().iter().filter(|pod| names_claim(pod, &claim)).map(|pod| ObjectRef::from_obj(&**pod)).collect();
            futures::stream::iter(concerned)
        })
        .boxed();
    let store = context.pods.store();
    framework::run("ephemeral-volume", context.metrics.clone(), controller, store, vec![own, claims], context.settings.concurrent_syncs, reconcile).await;
}

/// Whether one of the pod's ephemeral volumes would have the claim's name (and namespace).
fn names_claim(pod: &Pod, claim: &PersistentVolumeClaim) -> bool {
    let pod_name = pod.metadata.name.as_deref().unwrap_or_default();
    pod.metadata.namespace == claim.metadata.namespace
        && pod
            .spec
            .as_ref()
            .and_then(|spec| spec.volumes.as_deref())
            .unwrap_or_default()
            .iter()
            .any(|volume| volume.ephemeral.is_some() && claim.metadata.name.as_deref() == Some(storage::ephemeral_claim_name(pod_name, &volume.name).as_str()))
}

/// The claims the pod's ephemeral volumes need, as they are created, each with its volume's
/// name.
pub fn claims_for(pod: &Pod) -> Vec<(String, PersistentVolumeClaim)> {
    let pod_name = pod.metadata.name.as_deref().unwrap_or_default();
    let volumes = pod.spec.as_ref().and_then(|spec| spec.volumes.as_ref()).map(Vec::as_slice).unwrap_or_default();
    volumes
        .iter()
        .filter_map(|volume| {
            let template = volume.ephemeral.as_ref()?.volume_claim_template.as_ref()?;
            let metadata = template.metadata.clone().unwrap_or_default();
            let claim = PersistentVolumeClaim {
                metadata: ObjectMeta {
                    name: Some(storage::ephemeral_claim_name(pod_name, &volume.name)),
                    namespace: pod.metadata.namespace.clone(),
                    labels: metadata.labels,
                    annotations: metadata.annotations,
                    owner_references: Some(vec![framework::controller_reference(pod)]),
                    ..ObjectMeta::default()
                },
                spec: Some(template.spec.clone()),
                status: None,
            };
            Some((volume.name.clone(), claim))
        })
        .collect()
}

async fn reconcile(pod: Arc<Pod>, controller: Arc<Controller>) -> Result<Action, ReconcileError> {
    if pod.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let namespace = pod.metadata.namespace.clone().unwrap_or_default();
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(controller.context.client.clone(), &namespace);
    let store = controller.context.persistent_volume_claims.store();
    let pod_name = pod.metadata.name.as_deref().unwrap_or_default();
    for (volume, claim) in claims_for(&pod) {
        let name = claim.metadata.name.clone().unwrap_or_default();
        let existing = match store.get(&ObjectRef::new(&name).within(&namespace)) {
            Some(existing) => Some((*existing).clone()),
            None => match claims.create(&PostParams::default(), &claim).await {
                Ok(_) => {
                    tracing::info!(namespace = %namespace, pod = %pod_name, claim = %name, "created the claim of an ephemeral volume");
                    None
                }
                // Made meanwhile (by this controller before, or by someone else).
                Err(err) if framework::answered(&err, &[409]) => claims.get_opt(&name).await?,
                Err(err) => {
                    // kube's two events: the creation's, then the volume's.
                    controller.event(&pod, "Warning", "FailedBinding", &format!("PVC creation failed: {err}")).await;
                    controller.event(&pod, "Warning", "FailedBinding", &format!("ephemeral volume {volume}: create PVC {name}: {err}")).await;
                    return Err(err.into());
                }
            },
        };
        if let Some(existing) = existing
            && !storage::claim_is_for_pod(&existing, &pod)
        {
            // kube's `VolumeIsForPod` error. Retried with backoff as kube does, besides the
            // claim's deletion waking the pod.
            let why = format!("PVC {namespace}/{name} was not created for pod {namespace}/{pod_name} (pod is not owner)");
            controller.event(&pod, "Warning", "FailedBinding", &format!("ephemeral volume {volume}: {why}")).await;
            return Err(ReconcileError::Other(format!("pod {namespace}/{pod_name}, ephemeral volume {volume}: {why}")));
        }
    }
    Ok(Action::await_change())
}

impl Controller {
    async fn event(&self, pod: &Pod, kind: &str, reason: &str, message: &str) {
        if let Err(err) = self.recorder.record(&common::events::reference(pod), kind, reason, "Binding", message).await {
            tracing::debug!(namespace = ?pod.metadata.namespace, name = ?pod.metadata.name, error = %err, "cannot record event");
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn an_ephemeral_volume_gets_a_claim_the_pod_owns() {
        let pod: Pod = serde_json::from_value(json!({"metadata": {"name": "p", "namespace": "ns", "uid": "pod-uid"},
            "spec": {"containers": [], "volumes": [{"name": "scratch", "ephemeral": {"volumeClaimTemplate": {"metadata": {"labels": {"a": "b"}},
                "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}}}, {"name": "other", "emptyDir": {}}]}}))
        .unwrap();
        let claims = claims_for(&pod);
        assert_eq!(claims.len(), 1);
        let (volume, claim) = &claims[0];
        assert_eq!(volume, "scratch");
        assert_eq!(claim.metadata.name.as_deref(), Some("p-scratch"));
        assert_eq!(claim.metadata.labels.as_ref().unwrap()["a"], "b");
        let owner = &claim.metadata.owner_references.as_ref().unwrap()[0];
        assert_eq!((owner.kind.as_str(), owner.uid.as_str(), owner.controller, owner.block_owner_deletion), ("Pod", "pod-uid", Some(true), Some(true)));
        assert!(storage::claim_is_for_pod(claim, &pod));
        assert!(names_claim(&pod, claim));
        let mut foreign = claim.clone();
        foreign.metadata.owner_references = None;
        assert!(names_claim(&pod, &foreign), "a claim of the name, whoever owns it");
        foreign.metadata.namespace = Some("other".into());
        assert!(!names_claim(&pod, &foreign));
    }
}
