//! What the storage pieces agree on: the names Kubernetes gives to binding annotations and
//! protection finalizers, the built-in local-path provisioner's name and root, and how a
//! PersistentVolume is matched to a claim (`FindMatchingVolume` of Kubernetes' volume binding,
//! shared by the binding controller and the scheduler so that both pick the same volume).

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim, Pod};
use k8s_openapi::api::storage::v1::StorageClass;

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

/// The beta annotation naming a class, read before the spec field wherever a class is read.
pub const BETA_STORAGE_CLASS: &str = "volume.beta.kubernetes.io/storage-class";

/// The class a claim asks for (`GetPersistentVolumeClaimClass`): the beta annotation first,
/// then `spec.storageClassName`, else "". The same order as `kubectl get pvc` shows it, so what
/// is printed and what is bound agree.
pub fn claim_class(claim: &PersistentVolumeClaim) -> &str {
    claim
        .metadata
        .annotations
        .as_ref()
        .and_then(|annotations| annotations.get(BETA_STORAGE_CLASS))
        .map(String::as_str)
        .or_else(|| claim.spec.as_ref()?.storage_class_name.as_deref())
        .unwrap_or_default()
}

/// The class of a volume (`GetPersistentVolumeClass`): the beta annotation first, then
/// `spec.storageClassName`, else "".
pub fn volume_class(volume: &PersistentVolume) -> &str {
    volume
        .metadata
        .annotations
        .as_ref()
        .and_then(|annotations| annotations.get(BETA_STORAGE_CLASS))
        .map(String::as_str)
        .or_else(|| volume.spec.as_ref()?.storage_class_name.as_deref())
        .unwrap_or_default()
}

/// Whether a volume is bound or pre-bound to this claim (`IsVolumeBoundToClaim`): its
/// `claimRef` names the claim's namespace and name, and, when the reference carries a uid, the
/// claim's uid. An admin's hand-written `claimRef` has no uid and still counts.
pub fn is_bound_to_claim(volume: &PersistentVolume, claim: &PersistentVolumeClaim) -> bool {
    let Some(reference) = volume.spec.as_ref().and_then(|spec| spec.claim_ref.as_ref()) else {
        return false;
    };
    fn text(value: Option<&String>) -> &str {
        value.map_or("", String::as_str)
    }
    if text(reference.name.as_ref()) != text(claim.metadata.name.as_ref()) || text(reference.namespace.as_ref()) != text(claim.metadata.namespace.as_ref()) {
        return false;
    }
    let uid = text(reference.uid.as_ref());
    uid.is_empty() || uid == text(claim.metadata.uid.as_ref())
}

/// Whether a claim's binding is done (`isPVCFullyBound`): it names its volume and carries
/// `pv.kubernetes.io/bind-completed`.
pub fn claim_fully_bound(claim: &PersistentVolumeClaim) -> bool {
    let volume = claim.spec.as_ref().and_then(|spec| spec.volume_name.as_deref()).unwrap_or_default();
    !volume.is_empty() && claim.metadata.annotations.as_ref().is_some_and(|annotations| annotations.contains_key(BIND_COMPLETED))
}

/// The claim a pod's generic ephemeral volume uses (`ephemeral.VolumeClaimName`):
/// `<pod>-<volume>`. Before using it, check [`claim_is_for_pod`]: the name may be someone else's.
pub fn ephemeral_claim_name(pod_name: &str, volume_name: &str) -> String {
    format!("{pod_name}-{volume_name}")
}

/// Whether the claim is the one made for the pod's ephemeral volume (`ephemeral.VolumeIsForPod`):
/// the same namespace, and the claim's controller owner reference carries the pod's uid.
pub fn claim_is_for_pod(claim: &PersistentVolumeClaim, pod: &Pod) -> bool {
    if claim.metadata.namespace != pod.metadata.namespace {
        return false;
    }
    // `metav1.IsControlledBy`: the first reference marked controller decides.
    let controller = claim.metadata.owner_references.iter().flatten().find(|reference| reference.controller == Some(true));
    controller.is_some_and(|reference| Some(&reference.uid) == pod.metadata.uid.as_ref())
}

/// The nodes a local volume names: every value of a `kubernetes.io/hostname In [...]`
/// expression in its required node affinity, in order, once each. A volume whose affinity lists
/// several hosts belongs to each of them, so every caller (reclaim, orphan release,
/// authorisation) must treat all of them alike.
pub fn local_volume_nodes(volume: &PersistentVolume) -> Vec<&str> {
    let mut nodes: Vec<&str> = Vec::new();
    let terms = volume
        .spec
        .as_ref()
        .and_then(|spec| spec.node_affinity.as_ref())
        .and_then(|affinity| affinity.required.as_ref())
        .map(|required| required.node_selector_terms.as_slice())
        .unwrap_or_default();
    for expression in terms.iter().flat_map(|term| term.match_expressions.iter().flatten()) {
        if expression.key != HOSTNAME_LABEL || expression.operator != "In" {
            continue;
        }
        for value in expression.values.iter().flatten() {
            if !nodes.contains(&value.as_str()) {
                nodes.push(value);
            }
        }
    }
    nodes
}

/// Whether a StorageClass is marked default (`IsDefaultAnnotation`): either annotation "true".
pub fn is_default_class(class: &StorageClass) -> bool {
    let annotations = class.metadata.annotations.as_ref();
    let marked = |key: &str| annotations.and_then(|annotations| annotations.get(key)).is_some_and(|value| value == "true");
    marked(IS_DEFAULT_CLASS) || marked(BETA_IS_DEFAULT_CLASS)
}

/// The default StorageClass (`GetDefaultClass` of kube 1.33): of the classes marked default,
/// the newest by creationTimestamp, ties going to the smallest name. A class without a
/// creationTimestamp counts as the oldest.
pub fn newest_default_class<'a>(classes: impl IntoIterator<Item = &'a StorageClass>) -> Option<&'a StorageClass> {
    let created = |class: &StorageClass| class.metadata.creation_timestamp.as_ref().map(|time| time.0);
    let name = |class: &'a StorageClass| class.metadata.name.as_deref().unwrap_or_default();
    classes
        .into_iter()
        .filter(|class| is_default_class(class))
        .min_by(|left, right| created(right).cmp(&created(left)).then_with(|| name(left).cmp(name(right))))
}

/// Whether a volume's hostPath is exactly the local-path directory its own name and claimRef
/// give (`<root>/<volume>_<namespace>_<claim>`). Only then may its directory be removed on
/// reclaim: PV names are unique, so no volume (a copied manifest, a hand-made PV) can name
/// another volume's directory. False without a hostPath, a claimRef or a name.
pub fn local_path_owns(root: &Path, volume: &PersistentVolume) -> bool {
    let Some(spec) = volume.spec.as_ref() else {
        return false;
    };
    let (Some(path), Some(reference), Some(name)) = (spec.host_path.as_ref().map(|source| source.path.as_str()), spec.claim_ref.as_ref(), volume.metadata.name.as_deref()) else {
        return false;
    };
    let (Some(namespace), Some(claim)) = (reference.namespace.as_deref(), reference.name.as_deref()) else {
        return false;
    };
    if name.is_empty() || namespace.is_empty() || claim.is_empty() {
        return false;
    }
    local_path_dir(root, name, namespace, claim).is_some_and(|expected| Path::new(path) == expected && expected.parent() == Some(root))
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
    if spec.claim_ref.is_some() && !is_bound_to_claim(volume, claim) {
        return false;
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

/// The volume a claim binds to among `volumes`, as Kubernetes' `FindMatchingVolume` picks it
/// (shared by the binding controller and the scheduler). In order, a volume is skipped when it
/// is bound or pre-bound to another claim, too small, of another volumeMode, or being deleted.
/// The first volume left that is pre-bound to this claim ([`is_bound_to_claim`]) is the answer,
/// checked no further (not class, selector, access modes nor phase: an admin's pre-binding
/// wins), unless `fits` refuses it: then there is no answer at all, because the claim can only
/// ever have that volume and it is not suitable here. Of the unbound volumes, only ones `fits`
/// admits, in phase `Available`, matching the claim's selector and class and offering every
/// access mode it asks for are candidates; the smallest wins, the first of equals.
///
/// `fits` is the node-affinity check in the scheduler's path. The binding controller passes
/// `true` for pre-bound volumes, and for unbound ones `true` unless the claim's binding waits for
/// its first consumer (kube's `delayBinding`: only pre-bound volumes are taken then). kube's
/// controller also only looks at volumes offering the claim's access modes (its index by mode);
/// a caller that wants that for pre-bound volumes filters `volumes` first. A claim naming a
/// volume (`spec.volumeName`) is never matched by kube; here it only ever gets that volume.
pub fn find_matching_volume<'a>(claim: &PersistentVolumeClaim, volumes: impl IntoIterator<Item = &'a PersistentVolume>, fits: impl Fn(&PersistentVolume) -> bool) -> Option<&'a PersistentVolume> {
    let claim_spec = claim.spec.as_ref()?;
    let wanted_name = claim_spec.volume_name.as_deref().filter(|name| !name.is_empty());
    // An unparseable selector matches nothing (kube returns an error; validation refuses it).
    let selector = match claim_spec.selector.as_ref().map(LabelSelector::from_k8s) {
        None => None,
        Some(Ok(selector)) => Some(selector),
        Some(Err(_)) => return None,
    };
    let requested = requested_bytes(claim).unwrap_or(0);
    let class = claim_class(claim);
    let mode = |mode: Option<&String>| mode.map_or("Filesystem", String::as_str).to_string();
    let claim_mode = mode(claim_spec.volume_mode.as_ref());
    let mut best: Option<(&PersistentVolume, i64)> = None;
    for volume in volumes {
        if wanted_name.is_some_and(|name| volume.metadata.name.as_deref() != Some(name)) {
            continue;
        }
        let Some(spec) = volume.spec.as_ref() else {
            continue;
        };
        let pre_bound = is_bound_to_claim(volume, claim);
        if spec.claim_ref.is_some() && !pre_bound {
            continue;
        }
        let capacity = capacity_bytes(volume).unwrap_or(0);
        if capacity < requested || mode(spec.volume_mode.as_ref()) != claim_mode || volume.metadata.deletion_timestamp.is_some() {
            continue;
        }
        let fitting = fits(volume);
        if pre_bound {
            // The pre-bound volume (and so the claim) cannot be had here.
            return fitting.then_some(volume);
        }
        // Volumes not yet Available are skipped: the binder is about to update them, and
        // binding them now would only meet conflicts.
        if !fitting || volume.status.as_ref().and_then(|status| status.phase.as_deref()) != Some("Available") {
            continue;
        }
        if selector.as_ref().is_some_and(|selector| !selector.matches(&volume.metadata.labels.clone().unwrap_or_default())) {
            continue;
        }
        if volume_class(volume) != class {
            continue;
        }
        let offered = spec.access_modes.as_deref().unwrap_or_default();
        if !claim_spec.access_modes.iter().flatten().all(|wanted| offered.contains(wanted)) {
            continue;
        }
        if best.is_none_or(|(_, smallest)| capacity < smallest) {
            best = Some((volume, capacity));
        }
    }
    best.map(|(volume, _)| volume)
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
            volume(json!({"metadata": {"name": name}, "spec": {"capacity": {"storage": size}, "accessModes": modes, "storageClassName": class},
                "status": {"phase": "Available"}}))
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

    fn on_node(name: &str, node: &str, extra: serde_json::Value) -> PersistentVolume {
        let mut value = json!({"metadata": {"name": name}, "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"], "storageClassName": "local",
            "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [{"key": HOSTNAME_LABEL, "operator": "In", "values": [node]}]}]}}},
            "status": {"phase": "Available"}});
        merge(&mut value, extra);
        volume(value)
    }

    fn merge(target: &mut serde_json::Value, extra: serde_json::Value) {
        match (target, extra) {
            (serde_json::Value::Object(target), serde_json::Value::Object(extra)) => {
                for (key, value) in extra {
                    merge(target.entry(key).or_insert(serde_json::Value::Null), value);
                }
            }
            (target, extra) => *target = extra,
        }
    }

    fn local_claim() -> PersistentVolumeClaim {
        claim(json!({"metadata": {"name": "data", "namespace": "ns", "uid": "u1"},
            "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "local", "resources": {"requests": {"storage": "1Gi"}}}}))
    }

    fn name_of(volume: Option<&PersistentVolume>) -> Option<&str> {
        volume.and_then(|volume| volume.metadata.name.as_deref())
    }

    #[test]
    fn a_pre_bound_volume_that_does_not_fit_stops_the_match() {
        let want = local_claim();
        let on = |node: &'static str| move |volume: &PersistentVolume| volume_fits_node(volume, &BTreeMap::from([(HOSTNAME_LABEL.to_string(), node.to_string())]), node);
        // V1 on node-a was pre-bound to the claim by an earlier attempt; V2 on node-b is free.
        let volumes = [
            on_node("v1", "node-a", json!({"spec": {"claimRef": {"name": "data", "namespace": "ns", "uid": "u1"}}})),
            on_node("v2", "node-b", json!({})),
        ];
        assert_eq!(name_of(find_matching_volume(&want, &volumes, on("node-a"))), Some("v1"));
        assert_eq!(find_matching_volume(&want, &volumes, on("node-b")), None, "the claim can only have v1, which is not on node-b");
        // The same whichever comes first.
        let reversed = [volumes[1].clone(), volumes[0].clone()];
        assert_eq!(find_matching_volume(&want, &reversed, on("node-b")), None);
        assert_eq!(name_of(find_matching_volume(&want, &reversed, on("node-a"))), Some("v1"));
    }

    #[test]
    fn pre_bound_volumes_are_checked_as_kube_checks_them() {
        let want = local_claim();
        // Another class, other access modes, a label the selector would refuse, not Available,
        // no uid in the reference: still the claim's.
        let admin = on_node("admin", "node-a", json!({"metadata": {"labels": {"tier": "x"}},
            "spec": {"storageClassName": "other", "accessModes": ["ReadOnlyMany"], "claimRef": {"name": "data", "namespace": "ns"}}, "status": {"phase": "Pending"}}));
        let free = on_node("free", "node-a", json!({}));
        assert_eq!(name_of(find_matching_volume(&want, [&free, &admin], |_| true)), Some("admin"));
        // Too small, another volumeMode or being deleted: passed over, the free one is taken.
        for extra in [
            json!({"spec": {"capacity": {"storage": "512Mi"}}}),
            json!({"spec": {"volumeMode": "Block"}}),
            json!({"metadata": {"deletionTimestamp": "2026-01-01T00:00:00Z", "finalizers": [PV_PROTECTION]}}),
        ] {
            let mut unsuitable = admin.clone();
            let mut value = serde_json::to_value(&unsuitable).unwrap();
            merge(&mut value, extra);
            unsuitable = serde_json::from_value(value).unwrap();
            assert_eq!(name_of(find_matching_volume(&want, [&unsuitable, &free], |_| true)), Some("free"));
        }
        // Pre-bound to another claim (or another uid of this one): never.
        let other = on_node("other", "node-a", json!({"spec": {"claimRef": {"name": "data", "namespace": "ns", "uid": "old"}}}));
        assert_eq!(find_matching_volume(&want, [&other], |_| true), None);
        // The binder of a WaitForFirstConsumer claim takes only a pre-bound volume.
        let delayed = |volume: &PersistentVolume| volume.spec.as_ref().is_some_and(|spec| spec.claim_ref.is_some());
        assert_eq!(find_matching_volume(&want, [&free], delayed), None);
        assert_eq!(name_of(find_matching_volume(&want, [&free, &admin], delayed)), Some("admin"));
    }

    #[test]
    fn unbound_volumes_must_be_available() {
        let want = local_claim();
        let pending = on_node("pending", "node-a", json!({"status": {"phase": "Pending"}}));
        let released = on_node("released", "node-a", json!({"status": {"phase": "Released"}}));
        let no_status = volume(json!({"metadata": {"name": "bare"}, "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"], "storageClassName": "local"}}));
        assert_eq!(find_matching_volume(&want, [&pending, &released, &no_status], |_| true), None);
        let available = on_node("available", "node-a", json!({"spec": {"capacity": {"storage": "5Gi"}}}));
        assert_eq!(name_of(find_matching_volume(&want, [&pending, &available], |_| true)), Some("available"));
    }

    #[test]
    fn the_beta_class_annotation_comes_first() {
        let both = claim(json!({"metadata": {"name": "c", "annotations": {BETA_STORAGE_CLASS: "slow"}}, "spec": {"storageClassName": "fast"}}));
        assert_eq!(claim_class(&both), "slow");
        assert_eq!(claim_class(&claim(json!({"metadata": {"name": "c"}, "spec": {"storageClassName": "fast"}}))), "fast");
        assert_eq!(claim_class(&claim(json!({"metadata": {"name": "c"}, "spec": {}}))), "");
        let volume_both = volume(json!({"metadata": {"name": "v", "annotations": {BETA_STORAGE_CLASS: "slow"}}, "spec": {"storageClassName": "fast"}}));
        assert_eq!(volume_class(&volume_both), "slow");
        assert_eq!(volume_class(&volume(json!({"metadata": {"name": "v"}, "spec": {"storageClassName": "fast"}}))), "fast");
    }

    #[test]
    fn bound_to_claim_accepts_a_reference_without_uid() {
        let want = local_claim();
        let with = |reference: serde_json::Value| on_node("v", "n", json!({"spec": {"claimRef": reference}}));
        assert!(is_bound_to_claim(&with(json!({"name": "data", "namespace": "ns", "uid": "u1"})), &want));
        assert!(is_bound_to_claim(&with(json!({"name": "data", "namespace": "ns"})), &want));
        assert!(is_bound_to_claim(&with(json!({"name": "data", "namespace": "ns", "uid": ""})), &want));
        assert!(!is_bound_to_claim(&with(json!({"name": "data", "namespace": "ns", "uid": "u2"})), &want));
        assert!(!is_bound_to_claim(&with(json!({"name": "data", "namespace": "other"})), &want));
        assert!(!is_bound_to_claim(&with(json!({"name": "other", "namespace": "ns"})), &want));
        assert!(!is_bound_to_claim(&on_node("v", "n", json!({})), &want));
    }

    #[test]
    fn a_claim_is_fully_bound_with_its_volume_and_the_annotation() {
        assert!(!claim_fully_bound(&local_claim()));
        assert!(!claim_fully_bound(&claim(json!({"metadata": {"name": "c"}, "spec": {"volumeName": "v"}}))));
        assert!(!claim_fully_bound(&claim(json!({"metadata": {"name": "c", "annotations": {BIND_COMPLETED: "yes"}}, "spec": {"volumeName": ""}}))));
        assert!(claim_fully_bound(&claim(json!({"metadata": {"name": "c", "annotations": {BIND_COMPLETED: "yes"}}, "spec": {"volumeName": "v"}}))));
    }

    #[test]
    fn ephemeral_claims_belong_to_their_pod() {
        assert_eq!(ephemeral_claim_name("web", "scratch"), "web-scratch");
        let pod: Pod = serde_json::from_value(json!({"metadata": {"name": "web", "namespace": "ns", "uid": "pod-uid"}})).unwrap();
        let owned = |namespace: &str, references: serde_json::Value| {
            claim(json!({"metadata": {"name": "web-scratch", "namespace": namespace, "ownerReferences": references}}))
        };
        let reference = |uid: &str, controller: bool| json!({"apiVersion": "v1", "kind": "Pod", "name": "web", "uid": uid, "controller": controller});
        assert!(claim_is_for_pod(&owned("ns", json!([reference("pod-uid", true)])), &pod));
        assert!(!claim_is_for_pod(&owned("other", json!([reference("pod-uid", true)])), &pod), "another namespace");
        assert!(!claim_is_for_pod(&owned("ns", json!([reference("pod-uid", false)])), &pod), "an owner but not the controller");
        assert!(!claim_is_for_pod(&owned("ns", json!([reference("old-uid", true)])), &pod), "a former pod of that name");
        assert!(!claim_is_for_pod(&owned("ns", json!([])), &pod));
        assert!(!claim_is_for_pod(&owned("ns", json!([reference("other", true), reference("pod-uid", true)])), &pod), "the first controller decides");
    }

    #[test]
    fn every_hostname_a_local_volume_names() {
        let volume = volume(json!({"metadata": {"name": "v"}, "spec": {"nodeAffinity": {"required": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": HOSTNAME_LABEL, "operator": "In", "values": ["n1", "n2"]}, {"key": "zone", "operator": "In", "values": ["z"]}]},
            {"matchExpressions": [{"key": HOSTNAME_LABEL, "operator": "NotIn", "values": ["n9"]}]},
            {"matchExpressions": [{"key": HOSTNAME_LABEL, "operator": "In", "values": ["n3", "n1"]}]}]}}}}));
        assert_eq!(local_volume_nodes(&volume), ["n1", "n2", "n3"]);
        assert!(local_volume_nodes(&on_node("v", "n", json!({"spec": {"nodeAffinity": null}}))).is_empty());
    }

    #[test]
    fn the_newest_default_class_wins_ties_going_by_name() {
        let class = |name: &str, created: Option<&str>, annotation: &str, value: &str| -> StorageClass {
            serde_json::from_value(json!({"metadata": {"name": name, "creationTimestamp": created, "annotations": {annotation: value}}, "provisioner": "p"})).unwrap()
        };
        let name = |found: Option<&StorageClass>| found.and_then(|class| class.metadata.name.clone());
        let classes = [
            class("old", Some("2026-01-01T00:00:00Z"), IS_DEFAULT_CLASS, "true"),
            class("new", Some("2026-02-01T00:00:00Z"), IS_DEFAULT_CLASS, "true"),
            class("newer", Some("2026-03-01T00:00:00Z"), IS_DEFAULT_CLASS, "false"),
            class("yes", Some("2026-04-01T00:00:00Z"), IS_DEFAULT_CLASS, "True"),
        ];
        assert_eq!(name(newest_default_class(&classes)).as_deref(), Some("new"));
        let tied = [class("b", Some("2026-01-01T00:00:00Z"), IS_DEFAULT_CLASS, "true"), class("a", Some("2026-01-01T00:00:00Z"), BETA_IS_DEFAULT_CLASS, "true")];
        assert_eq!(name(newest_default_class(&tied)).as_deref(), Some("a"));
        let undated = [class("dated", Some("2020-01-01T00:00:00Z"), IS_DEFAULT_CLASS, "true"), class("undated", None, IS_DEFAULT_CLASS, "true")];
        assert_eq!(name(newest_default_class(&undated)).as_deref(), Some("dated"));
        assert_eq!(newest_default_class(&classes[2..]), None);
    }

    #[test]
    fn a_local_path_volume_owns_only_its_own_directory() {
        let root = Path::new(LOCAL_PATH_ROOT);
        let provisioned = |name: &str, path: &str| {
            volume(json!({"metadata": {"name": name}, "spec": {"hostPath": {"path": path, "type": "DirectoryOrCreate"},
                "claimRef": {"kind": "PersistentVolumeClaim", "apiVersion": "v1", "namespace": "ns", "name": "data", "uid": "u1"}}}))
        };
        assert!(local_path_owns(root, &provisioned("pvc-a", "/var/local-path-provisioner/pvc-a_ns_data")));
        assert!(!local_path_owns(root, &provisioned("copy", "/var/local-path-provisioner/pvc-a_ns_data")), "another volume's directory");
        assert!(!local_path_owns(root, &provisioned("pvc-a", "/var/local-path-provisioner/pvc-a_ns_data/sub")), "deeper");
        assert!(!local_path_owns(root, &provisioned("pvc-a", "/var/local-path-provisioner/pvc-a_ns_data/../pvc-b_ns_data")));
        assert!(!local_path_owns(root, &provisioned("pvc-a", "/var/local-path-provisioner")));
        assert!(!local_path_owns(root, &provisioned("pvc-a", "/elsewhere/pvc-a_ns_data")));
        assert!(!local_path_owns(Path::new("/data/lpp"), &provisioned("pvc-a", "/var/local-path-provisioner/pvc-a_ns_data")), "another root");
        let unclaimed = volume(json!({"metadata": {"name": "pvc-a"}, "spec": {"hostPath": {"path": "/var/local-path-provisioner/pvc-a_ns_data"}}}));
        assert!(!local_path_owns(root, &unclaimed));
        let local = volume(json!({"metadata": {"name": "pvc-a"}, "spec": {"local": {"path": "/var/local-path-provisioner/pvc-a_ns_data"},
            "claimRef": {"namespace": "ns", "name": "data"}}}));
        assert!(!local_path_owns(root, &local), "only a hostPath volume");
    }
}
