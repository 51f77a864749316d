//! What the storage pieces agree on: the names Kubernetes gives to binding annotations and
//! protection finalizers, the built-in local-path provisioner's name and root, and how a
//! PersistentVolume is matched to a claim (`FindMatchingVolume` of Kubernetes' volume binding,
//! shared by the binding controller and the scheduler so that both pick the same volume).

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};

use crate::quantity;
use crate::scheduling::node_selector_term_matches;
use crate::selector::LabelSelector;

/// The provisioner every cluster has: a claim becomes a directory on a node.
pub const LOCAL_PATH_PROVISIONER: &str = "cluster.local/local-path";
/// Where on each node the local-path provisioner keeps its directories (kind's root).
pub const LOCAL_PATH_ROOT: &str = "/var/local-path-provisioner";
/// The StorageClass every cluster gets, marked default, served by the local-path provisioner.
pub const DEFAULT_STORAGE_CLASS: &str = "standard";
pub const IS_DEFAULT_CLASS: &str = "storageclass.kubernetes.io/is-default-class";
pub const BETA_IS_DEFAULT_CLASS: &str = "storageclass.beta.kubernetes.io/is-default-class";

/// On a claim: the node the scheduler chose for a `WaitForFirstConsumer` claim's volume.
pub const SELECTED_NODE: &str = "volume.kubernetes.io/selected-node";
/// On a claim: the provisioner asked to make its volume (both forms are written).
pub const STORAGE_PROVISIONER: &str = "volume.kubernetes.io/storage-provisioner";
pub const BETA_STORAGE_PROVISIONER: &str = "volume.beta.kubernetes.io/storage-provisioner";
/// On a claim: the binding is done. On a volume or claim: the controller (not a user) bound it.
pub const BIND_COMPLETED: &str = "pv.kubernetes.io/bind-completed";
pub const BOUND_BY_CONTROLLER: &str = "pv.kubernetes.io/bound-by-controller";
/// On a volume: the provisioner that made it.
pub const PROVISIONED_BY: &str = "pv.kubernetes.io/provisioned-by";

/// A claim in use by a pod is not removed until the pod goes; a bound volume likewise.
pub const PVC_PROTECTION: &str = "kubernetes.io/pvc-protection";
pub const PV_PROTECTION: &str = "kubernetes.io/pv-protection";
/// A provisioned volume is not removed until its backing storage is (the directory, here).
pub const PV_DELETION: &str = "external-provisioner.volume.kubernetes.io/finalizer";

/// The node label a local volume's node affinity names.
pub const HOSTNAME_LABEL: &str = "kubernetes.io/hostname";

/// The directory of a local-path volume: `<root>/<volume>_<namespace>_<claim>`, as kind's
/// provisioner names it. None when a part could leave the root (names are DNS labels, so this
/// only refuses what validation already refuses).
pub fn local_path_dir(root: &Path, volume: &str, namespace: &str, claim: &str) -> Option<PathBuf> {
    let leaf = format!("{volume}_{namespace}_{claim}");
    let dir = root.join(&leaf);
    within_root(root, &dir).then_some(dir)
}

/// Whether `path` is strictly inside `root`, read lexically: absolute, no `..`, not the root
/// itself. Nothing outside the provisioner's root is ever made or removed.
pub fn within_root(root: &Path, path: &Path) -> bool {
    path.is_absolute()
        && root.is_absolute()
        && path.components().all(|part| !matches!(part, Component::ParentDir | Component::CurDir))
        && path.strip_prefix(root).is_ok_and(|rest| rest.components().next().is_some())
}

/// A claim's requested storage in bytes, None when absent or unparseable.
pub fn requested_bytes(claim: &PersistentVolumeClaim) -> Option<i64> {
    let text = &claim.spec.as_ref()?.resources.as_ref()?.requests.as_ref()?.get("storage")?.0;
    quantity::parse(text).ok().map(|quantity| quantity.value())
}

/// A volume's capacity in bytes, None when absent or unparseable.
pub fn capacity_bytes(volume: &PersistentVolume) -> Option<i64> {
    let text = &volume.spec.as_ref()?.capacity.as_ref()?.get("storage")?.0;
    quantity::parse(text).ok().map(|quantity| quantity.value())
}

/// The class a claim asks for: `spec.storageClassName`, else the beta annotation, else "".
pub fn claim_class(claim: &PersistentVolumeClaim) -> &str {
    claim
        .spec
        .as_ref()
        .and_then(|spec| spec.storage_class_name.as_deref())
        .or_else(|| claim.metadata.annotations.as_ref()?.get("volume.beta.kubernetes.io/storage-class").map(String::as_str))
        .unwrap_or_default()
}

/// The class of a volume: `spec.storageClassName`, else the beta annotation, else "".
pub fn volume_class(volume: &PersistentVolume) -> &str {
    volume
        .spec
        .as_ref()
        .and_then(|spec| spec.storage_class_name.as_deref())
        .or_else(|| volume.metadata.annotations.as_ref()?.get("volume.beta.kubernetes.io/storage-class").map(String::as_str))
        .unwrap_or_default()
}

/// Whether a volume's required node affinity admits the node (no affinity admits every node).
pub fn volume_fits_node(volume: &PersistentVolume, labels: &BTreeMap<String, String>, node: &str) -> bool {
    let Some(required) = volume.spec.as_ref().and_then(|spec| spec.node_affinity.as_ref()).and_then(|affinity| affinity.required.as_ref()) else {
        return true;
    };
    required.node_selector_terms.iter().any(|term| node_selector_term_matches(term, labels, node))
}

/// Whether `volume` could hold `claim` (Kubernetes' `checkVolumeSatisfyClaim` and the filters
/// of `FindMatchingVolume`): not being deleted; not bound or pre-bound to another claim; the
/// same class and volume mode; every access mode the claim asks for; at least the requested
/// capacity; the claim's selector matching the volume's labels. Node affinity is the caller's
/// (the scheduler checks it against a node; binding without a node ignores it).
pub fn volume_satisfies_claim(volume: &PersistentVolume, claim: &PersistentVolumeClaim) -> bool {
    let (Some(spec), Some(claim_spec)) = (volume.spec.as_ref(), claim.spec.as_ref()) else {
        return false;
    };
    if volume.metadata.deletion_timestamp.is_some() {
        return false;
    }
    if let Some(reference) = &spec.claim_ref {
        let same = reference.name.as_deref() == claim.metadata.name.as_deref()
            && reference.namespace.as_deref() == claim.metadata.namespace.as_deref()
            && reference.uid.as_ref().is_none_or(|uid| Some(uid) == claim.metadata.uid.as_ref());
        if !same {
            return false;
        }
    }
    if volume_class(volume) != claim_class(claim) {
        return false;
    }
    let mode = |mode: Option<&String>| mode.map_or("Filesystem", String::as_str).to_string();
    if mode(spec.volume_mode.as_ref()) != mode(claim_spec.volume_mode.as_ref()) {
        return false;
    }
    let offered = spec.access_modes.clone().unwrap_or_default();
    if !claim_spec.access_modes.iter().flatten().all(|wanted| offered.contains(wanted)) {
        return false;
    }
    if requested_bytes(claim).unwrap_or(0) > capacity_bytes(volume).unwrap_or(0) {
        return false;
    }
    // A claim without a selector takes any volume (unlike a workload's absent selector).
    match claim_spec.selector.as_ref().map(LabelSelector::from_k8s) {
        None => true,
        Some(Ok(selector)) => selector.matches(&volume.metadata.labels.clone().unwrap_or_default()),
        Some(Err(_)) => false,
    }
}

/// The volume a claim binds to among `volumes` (`FindMatchingVolume`): one pre-bound to it
/// (its `claimRef` names it) first, else the smallest that satisfies it. A claim naming a
/// volume (`spec.volumeName`) only ever gets that one. `fits` says whether a volume's node
/// affinity admits the node in question (always true when binding without a node).
pub fn find_matching_volume<'a>(claim: &PersistentVolumeClaim, volumes: impl IntoIterator<Item = &'a PersistentVolume>, fits: impl Fn(&PersistentVolume) -> bool) -> Option<&'a PersistentVolume> {
    let wanted_name = claim.spec.as_ref().and_then(|spec| spec.volume_name.as_deref()).filter(|name| !name.is_empty());
    let mut best: Option<&PersistentVolume> = None;
    for volume in volumes {
        if wanted_name.is_some_and(|name| volume.metadata.name.as_deref() != Some(name)) {
            continue;
        }
        if !volume_satisfies_claim(volume, claim) || !fits(volume) {
            continue;
        }
        let pre_bound = volume.spec.as_ref().and_then(|spec| spec.claim_ref.as_ref()).is_some();
        if pre_bound {
            return Some(volume);
        }
        if best.is_none_or(|known| capacity_bytes(volume) < capacity_bytes(known)) {
            best = Some(volume);
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn volume(mut value: serde_json::Value) -> PersistentVolume {
        value["apiVersion"] = json!("v1");
        value["kind"] = json!("PersistentVolume");
        serde_json::from_value(value).unwrap()
    }

    fn claim(mut value: serde_json::Value) -> PersistentVolumeClaim {
        value["apiVersion"] = json!("v1");
        value["kind"] = json!("PersistentVolumeClaim");
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn nothing_outside_the_root() {
        let root = Path::new(LOCAL_PATH_ROOT);
        assert!(within_root(root, &root.join("pvc-1_ns_data")));
        assert!(!within_root(root, root));
        assert!(!within_root(root, &root.join("../etc")));
        assert!(!within_root(root, Path::new("/var/local-path-provisioner-other/x")));
        assert!(!within_root(root, Path::new("relative/x")));
        assert_eq!(local_path_dir(root, "pvc-1", "ns", "data"), Some(root.join("pvc-1_ns_data")));
        assert_eq!(local_path_dir(root, "..", "ns", "x/../../y"), None);
    }

    #[test]
    fn the_smallest_satisfying_volume_is_chosen() {
        let want = claim(json!({"metadata": {"name": "data", "namespace": "ns", "uid": "u1"},
            "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "fast", "resources": {"requests": {"storage": "1Gi"}}}}));
        let make = |name: &str, size: &str, class: &str, modes: serde_json::Value| {
            volume(json!({"metadata": {"name": name}, "spec": {"capacity": {"storage": size}, "accessModes": modes, "storageClassName": class}}))
        };
        let volumes = [
            make("small", "512Mi", "fast", json!(["ReadWriteOnce"])),
            make("big", "10Gi", "fast", json!(["ReadWriteOnce", "ReadOnlyMany"])),
            make("fit", "2Gi", "fast", json!(["ReadWriteOnce"])),
            make("other-class", "1Gi", "slow", json!(["ReadWriteOnce"])),
            make("read-only", "1Gi", "fast", json!(["ReadOnlyMany"])),
        ];
        let found = find_matching_volume(&want, &volumes, |_| true).and_then(|volume| volume.metadata.name.as_deref());
        assert_eq!(found, Some("fit"));
        let none_fit = find_matching_volume(&want, &volumes, |volume| volume.metadata.name.as_deref() == Some("small"));
        assert!(none_fit.is_none());
        let mut taken = volumes[2].clone();
        if let Some(spec) = taken.spec.as_mut() {
            spec.claim_ref = serde_json::from_value(json!({"name": "other", "namespace": "ns"})).ok();
        }
        assert!(!volume_satisfies_claim(&taken, &want));
    }
}
