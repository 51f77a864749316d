//! Volumes backed by a PersistentVolumeClaim (`persistentVolumeClaim`, and `ephemeral` whose
//! claim `<pod>-<volume>` the ephemeral controller makes): the claim is read from the apiserver,
//! must be Bound, and its PersistentVolume gives the directory on this node (`hostPath` or
//! `local`). Until then the pod's containers are not started, with the errors Kubernetes'
//! volume manager (its desired-state populator) gives.

use std::path::PathBuf;

use common::storage::{LOCAL_PATH_PROVISIONER, PROVISIONED_BY, claim_is_for_pod, ephemeral_claim_name, is_bound_to_claim};
use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim, Pod, Volume};
use kube::api::Api;

use crate::host_path::{HOST_PATH_DIR_MODE, LOCAL_PATH_DIR_MODE, check_host_path};

/// Why a claim's volume cannot be mounted yet.
#[derive(Debug, thiserror::Error)]
pub enum ClaimError {
    /// The claim or its volume is not usable yet (not found, not Bound, not the pod's): the pod
    /// waits and the volume is listed among those that failed to process.
    #[error("{0}")]
    Process(String),
    /// The volume is known but could not be set up on this node.
    #[error("MountVolume.SetUp failed for volume \"{volume}\" : {message}")]
    SetUp { volume: String, message: String },
    #[error("MountVolume.NewMounter initialization failed for volume \"{volume}\" : {message}")]
    NewMounter { volume: String, message: String },
}

/// The claim a pod volume names, and whether the pod must own it (an ephemeral volume's).
pub fn claim_of(pod: &Pod, volume: &Volume) -> Option<(String, bool)> {
    if let Some(source) = &volume.persistent_volume_claim {
        return Some((source.claim_name.clone(), false));
    }
    volume.ephemeral.as_ref().map(|_| (ephemeral_claim_name(pod.metadata.name.as_deref().unwrap_or_default(), &volume.name), true))
}

/// Whether any container (init and ephemeral ones included) mounts or maps the volume: the
/// volume manager processes only those, so an unused claim does not hold the pod back.
pub fn used_by_containers(pod: &Pod, name: &str) -> bool {
    let Some(spec) = pod.spec.as_ref() else { return false };
    let mounted = |mounts: Option<&Vec<k8s_openapi::api::core::v1::VolumeMount>>, devices: Option<&Vec<k8s_openapi::api::core::v1::VolumeDevice>>| {
        mounts.into_iter().flatten().any(|mount| mount.name == name) || devices.into_iter().flatten().any(|device| device.name == name)
    };
    spec.containers.iter().chain(spec.init_containers.iter().flatten()).any(|c| mounted(c.volume_mounts.as_ref(), c.volume_devices.as_ref()))
        || spec.ephemeral_containers.iter().flatten().any(|c| mounted(c.volume_mounts.as_ref(), c.volume_devices.as_ref()))
}

fn mounted_as_filesystem(pod: &Pod, name: &str) -> bool {
    let Some(spec) = pod.spec.as_ref() else { return false };
    spec.containers.iter().chain(spec.init_containers.iter().flatten()).any(|c| c.volume_mounts.iter().flatten().any(|mount| mount.name == name))
}

/// Where a claim's volume is on this node, and whether the pod only reads it.
pub struct ClaimVolume {
    pub path: PathBuf,
    pub read_only: bool,
}

/// The claim's volume on this node, as the volume manager resolves it: claim -> Bound ->
/// PersistentVolume pointing back at the claim -> its source.
pub async fn resolve(client: &kube::Client, pod: &Pod, volume: &Volume) -> Result<Option<ClaimVolume>, ClaimError> {
    let Some((claim_name, must_own)) = claim_of(pod, volume) else { return Ok(None) };
    let namespace = pod.metadata.namespace.as_deref().unwrap_or("default");
    let processing = |message: String| ClaimError::Process(format!("error processing PVC {namespace}/{claim_name}: {message}"));
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), namespace);
    let claim = claims.get(&claim_name).await.map_err(|err| processing(format!("failed to fetch PVC from API server: {}", api_message(&err))))?;
    check_claim(&claim).map_err(|message| processing(message.to_string()))?;
    if must_own {
        owned_by_pod(&claim, pod).map_err(ClaimError::Process)?;
    }
    let volume_name = claim.spec.as_ref().and_then(|spec| spec.volume_name.clone()).unwrap_or_default();
    let volumes: Api<PersistentVolume> = Api::all(client.clone());
    let persistent = volumes.get(&volume_name).await.map_err(|err| processing(format!("failed to fetch PV {volume_name} from API server: {}", api_message(&err))))?;
    check_volume(&persistent, &claim).map_err(processing)?;
    let mode = persistent.spec.as_ref().and_then(|spec| spec.volume_mode.as_deref()).unwrap_or("Filesystem");
    if mode != "Filesystem" && mounted_as_filesystem(pod, &volume.name) {
        return Err(ClaimError::Process(format!("volume {} has volumeMode {mode}, but is specified in volumeMounts", volume.name)));
    }
    let read_only = volume.persistent_volume_claim.as_ref().and_then(|source| source.read_only).unwrap_or(false);
    let spec = persistent.spec.clone().unwrap_or_default();
    if let Some(host_path) = &spec.host_path {
        let dir_mode = if provisioned_by_local_path(&persistent) { LOCAL_PATH_DIR_MODE } else { HOST_PATH_DIR_MODE };
        let (path, kind) = (host_path.path.clone(), host_path.type_.clone().unwrap_or_default());
        // Filesystem work (stat, mkdir) is blocking: off the async runtime.
        blocking(move || check_host_path(&path, &kind, dir_mode)).await.map_err(|message| ClaimError::SetUp { volume: volume_name.clone(), message })?;
        return Ok(Some(ClaimVolume { path: PathBuf::from(&host_path.path), read_only }));
    }
    if let Some(local) = &spec.local {
        // A local volume is the administrator's: it must be there, it is never made.
        let path = local.path.clone();
        let present = blocking(move || Ok(std::fs::symlink_metadata(&path).is_ok())).await.unwrap_or(false);
        if !present {
            return Err(ClaimError::NewMounter { volume: volume_name, message: format!("path {:?} does not exist", local.path) });
        }
        return Ok(Some(ClaimVolume { path: PathBuf::from(&local.path), read_only }));
    }
    Err(ClaimError::SetUp { volume: volume_name, message: "the volume's source is not supported by this kubelet (hostPath and local are)".into() })
}

/// Runs blocking filesystem work on tokio's blocking pool; a task that panicked is an error.
async fn blocking<T: Send + 'static>(work: impl FnOnce() -> Result<T, String> + Send + 'static) -> Result<T, String> {
    tokio::task::spawn_blocking(work).await.unwrap_or_else(|err| Err(format!("the filesystem check failed: {err}")))
}

/// Whether the built-in local-path provisioner made the volume (its directory is then made
/// world-writable, as kind's).
fn provisioned_by_local_path(volume: &PersistentVolume) -> bool {
    volume.metadata.annotations.as_ref().and_then(|annotations| annotations.get(PROVISIONED_BY)).map(String::as_str) == Some(LOCAL_PATH_PROVISIONER)
}

/// What the text of an apiserver error is (`persistentvolumeclaims "x" not found`).
fn api_message(err: &kube::Error) -> String {
    match err {
        kube::Error::Api(status) => status.message.clone(),
        other => other.to_string(),
    }
}

/// A claim a pod may start with: not being deleted, Bound, naming its volume.
fn check_claim(claim: &PersistentVolumeClaim) -> Result<(), &'static str> {
    if claim.metadata.deletion_timestamp.is_some() {
        return Err("PVC is being deleted");
    }
    if claim.status.as_ref().and_then(|status| status.phase.as_deref()) != Some("Bound") {
        return Err("PVC is not bound");
    }
    if claim.spec.as_ref().and_then(|spec| spec.volume_name.as_deref()).unwrap_or_default().is_empty() {
        return Err("PVC has empty pvc.Spec.VolumeName");
    }
    Ok(())
}

/// Kubernetes' ephemeral.VolumeIsForPod: the claim is in the pod's namespace and the pod is its
/// controller; a same-named claim someone else made is never used.
fn owned_by_pod(claim: &PersistentVolumeClaim, pod: &Pod) -> Result<(), String> {
    if claim_is_for_pod(claim, pod) {
        return Ok(());
    }
    Err(format!(
        "PVC {}/{} was not created for pod {}/{} (pod is not owner)",
        claim.metadata.namespace.as_deref().unwrap_or_default(),
        claim.metadata.name.as_deref().unwrap_or_default(),
        pod.metadata.namespace.as_deref().unwrap_or_default(),
        pod.metadata.name.as_deref().unwrap_or_default()
    ))
}

/// The volume is bound to this very claim (its uid), not to an older one of the same name.
fn check_volume(volume: &PersistentVolume, claim: &PersistentVolumeClaim) -> Result<(), String> {
    let name = volume.metadata.name.as_deref().unwrap_or_default();
    let Some(reference) = volume.spec.as_ref().and_then(|spec| spec.claim_ref.as_ref()) else {
        return Err(format!("found PV object {name} but it has a nil pv.Spec.ClaimRef indicating it is not yet bound to the claim"));
    };
    let bound_uid = reference.uid.as_deref().unwrap_or_default();
    let claim_uid = claim.metadata.uid.as_deref().unwrap_or_default();
    // The kubelet's populator compares the uid exactly: by the time a claim is Bound the binder
    // has written it into the claimRef, so an empty one (which IsVolumeBoundToClaim accepts
    // for a pre-bound volume) is not accepted here.
    if bound_uid.is_empty() || !is_bound_to_claim(volume, claim) {
        return Err(format!("found PV object {name} but its pv.Spec.ClaimRef.UID {bound_uid} does not point to claim.UID {claim_uid}"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod() -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": "web", "namespace": "default", "uid": "pod-uid"},
            "spec": {
                "containers": [{"name": "main", "volumeMounts": [{"name": "data", "mountPath": "/data"}]}],
                "volumes": [{"name": "data", "ephemeral": {"volumeClaimTemplate": {"spec": {}}}}, {"name": "unused", "persistentVolumeClaim": {"claimName": "other"}}],
            },
        }))
        .unwrap()
    }

    fn claim(value: serde_json::Value) -> PersistentVolumeClaim {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn ephemeral_claims_are_named_for_the_pod_and_must_be_its_own() {
        let pod = pod();
        let volumes = pod.spec.as_ref().unwrap().volumes.clone().unwrap();
        assert_eq!(claim_of(&pod, &volumes[0]), Some(("web-data".to_string(), true)));
        assert_eq!(claim_of(&pod, &volumes[1]), Some(("other".to_string(), false)));
        assert!(used_by_containers(&pod, "data"));
        assert!(!used_by_containers(&pod, "unused"), "an unused claim does not hold the pod back");

        let owned = claim(json!({"metadata": {"name": "web-data", "namespace": "default",
            "ownerReferences": [{"apiVersion": "v1", "kind": "Pod", "name": "web", "uid": "pod-uid", "controller": true}]}}));
        assert!(owned_by_pod(&owned, &pod).is_ok());
        let foreign = claim(json!({"metadata": {"name": "web-data", "namespace": "default"}}));
        assert_eq!(owned_by_pod(&foreign, &pod).unwrap_err(), "PVC default/web-data was not created for pod default/web (pod is not owner)");
        let not_controller = claim(json!({"metadata": {"name": "web-data", "namespace": "default",
            "ownerReferences": [{"apiVersion": "v1", "kind": "Pod", "name": "web", "uid": "pod-uid"}]}}));
        assert!(owned_by_pod(&not_controller, &pod).is_err(), "an owner that is not the controller does not count");
    }

    #[test]
    fn only_a_bound_claim_and_its_own_volume_are_used() {
        let pending = claim(json!({"metadata": {"name": "data"}, "status": {"phase": "Pending"}}));
        assert_eq!(check_claim(&pending), Err("PVC is not bound"));
        let deleting = claim(json!({"metadata": {"name": "data", "deletionTimestamp": "2024-01-01T00:00:00Z"}, "status": {"phase": "Bound"}}));
        assert_eq!(check_claim(&deleting), Err("PVC is being deleted"));
        let nameless = claim(json!({"metadata": {"name": "data"}, "spec": {}, "status": {"phase": "Bound"}}));
        assert_eq!(check_claim(&nameless), Err("PVC has empty pvc.Spec.VolumeName"));
        let bound = claim(json!({"metadata": {"name": "data"}, "spec": {"volumeName": "pv-1"}, "status": {"phase": "Bound"}}));
        assert_eq!(check_claim(&bound), Ok(()));

        let volume = |claim_ref: serde_json::Value| -> PersistentVolume { serde_json::from_value(json!({"metadata": {"name": "pv-1"}, "spec": {"claimRef": claim_ref}})).unwrap() };
        let mine = claim(json!({"metadata": {"name": "data", "namespace": "default", "uid": "claim-uid"}}));
        assert!(check_volume(&volume(json!({"name": "data", "namespace": "default", "uid": "claim-uid"})), &mine).is_ok());
        assert_eq!(
            check_volume(&volume(json!({"name": "data", "namespace": "default", "uid": "older"})), &mine).unwrap_err(),
            "found PV object pv-1 but its pv.Spec.ClaimRef.UID older does not point to claim.UID claim-uid"
        );
        assert!(check_volume(&volume(json!({"name": "data", "namespace": "default"})), &mine).is_err(), "a Bound claim's volume carries its uid");
        assert!(check_volume(&volume(json!({"name": "data", "namespace": "other", "uid": "claim-uid"})), &mine).is_err(), "another namespace's claim");
        let unbound: PersistentVolume = serde_json::from_value(json!({"metadata": {"name": "pv-1"}, "spec": {}})).unwrap();
        assert!(check_volume(&unbound, &mine).unwrap_err().contains("nil pv.Spec.ClaimRef"));
    }
}
