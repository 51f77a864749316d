//! kube-scheduler's VolumeBinding plugin: pods that use PersistentVolumeClaims (directly or as
//! generic ephemeral volumes) go only where their volumes can be. The claims, volumes and
//! StorageClasses come from watches into [`Volumes`]; a pre-filter looks at the pod's claims once
//! (missing, being deleted, unbound with an Immediate class: the pod waits for a change), the
//! filter judges each node (a bound claim's volume must admit the node; an unbound
//! `WaitForFirstConsumer` claim needs a static volume that fits there or a class that provisions),
//! and for the chosen node a [`Plan`] says what PreBind writes: a matched static volume's
//! `claimRef` (pre-binding it), or the claim's `volume.kubernetes.io/selected-node`. The pod is
//! bound only once every claim is bound ([`Volumes::check_bindings`]), judged from the watches.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use common::storage::{
    BOUND_BY_CONTROLLER, SELECTED_NODE, claim_class, claim_fully_bound, claim_is_for_pod, ephemeral_claim_name, find_matching_volume, is_bound_to_claim, requested_bytes,
    volume_fits_node,
};
use k8s_openapi::api::core::v1::{ObjectReference, PersistentVolume, PersistentVolumeClaim, Pod};
use k8s_openapi::api::storage::v1::StorageClass;
use kube::runtime::watcher;

use crate::cache::NodeInfo;

/// The filter's reasons, in kube-scheduler's words (`ConflictReason`).
pub const REASON_NODE_CONFLICT: &str = "node(s) had volume node affinity conflict";
pub const REASON_BIND_CONFLICT: &str = "node(s) didn't find available persistent volumes to bind";
pub const REASON_VOLUME_MISSING: &str = "node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)";
pub const UNBOUND_IMMEDIATE: &str = "pod has unbound immediate PersistentVolumeClaims";
/// A class whose volumes are made by hand, never provisioned (`volume.NotSupportedProvisioner`).
const NO_PROVISIONER: &str = "kubernetes.io/no-provisioner";
const WAIT_FOR_FIRST_CONSUMER: &str = "WaitForFirstConsumer";

/// Objects of one kind from a watch, by key, with what a re-list has seen so far so that what
/// it no longer lists can be dropped when it is done.
pub struct Store<K> {
    objects: HashMap<String, Arc<K>>,
    relisting: Option<HashSet<String>>,
    /// The first list is complete: a missing object is really missing.
    pub synced: bool,
}

impl<K> Default for Store<K> {
    fn default() -> Self {
        Self { objects: HashMap::new(), relisting: None, synced: false }
    }
}

impl<K: kube::Resource> Store<K> {
    fn key(object: &K) -> Option<String> {
        let meta = object.meta();
        let name = meta.name.as_deref()?;
        Some(match meta.namespace.as_deref() {
            Some(namespace) => format!("{namespace}/{name}"),
            None => name.to_string(),
        })
    }

    /// Takes in a watch event; true when an object was added, changed or removed.
    pub fn apply(&mut self, event: watcher::Event<K>) -> bool {
        match event {
            watcher::Event::Init => {
                self.relisting = Some(HashSet::new());
                false
            }
            watcher::Event::InitApply(object) | watcher::Event::Apply(object) => {
                let Some(key) = Self::key(&object) else {
                    return false;
                };
                if let Some(seen) = self.relisting.as_mut() {
                    seen.insert(key.clone());
                }
                self.objects.insert(key, Arc::new(object));
                true
            }
            watcher::Event::Delete(object) => Self::key(&object).is_some_and(|key| self.objects.remove(&key).is_some()),
            watcher::Event::InitDone => {
                self.synced = true;
                let Some(seen) = self.relisting.take() else {
                    return false;
                };
                let before = self.objects.len();
                self.objects.retain(|key, _| seen.contains(key));
                before != self.objects.len()
            }
        }
    }

    pub fn get(&self, key: &str) -> Option<&Arc<K>> {
        self.objects.get(key)
    }

    pub fn values(&self) -> impl Iterator<Item = &Arc<K>> {
        self.objects.values()
    }

    #[cfg(test)]
    pub fn insert(&mut self, object: K) {
        if let Some(key) = Self::key(&object) {
            self.objects.insert(key, Arc::new(object));
        }
    }
}

/// The claims a pod needs, sorted as the pre-filter found them.
#[derive(Debug, Default)]
pub struct PodClaims {
    /// Bound claims: their volume's node affinity must admit the node.
    bound: Vec<Arc<PersistentVolumeClaim>>,
    /// Unbound claims of a `WaitForFirstConsumer` class: bound once a node is chosen.
    delayed: Vec<Arc<PersistentVolumeClaim>>,
}

/// What the pre-filter says of a pod.
#[derive(Debug)]
pub enum PreFilter {
    /// It uses no claim: nothing for this plugin to do.
    NoClaims,
    /// The watches have not listed everything yet: try again shortly.
    NotReady,
    /// No node can take it until a claim, volume or class changes; the message is kube's.
    Rejected(String),
    Claims(PodClaims),
}

/// What PreBind does for a pod on its node.
#[derive(Debug, Default, Clone)]
pub struct Plan {
    /// Static volumes to pre-bind to claims (`claimRef` written).
    pub static_bindings: Vec<(Arc<PersistentVolume>, Arc<PersistentVolumeClaim>)>,
    /// Claims to annotate with the node, for their provisioner.
    pub provisions: Vec<Arc<PersistentVolumeClaim>>,
}

impl Plan {
    pub fn all_bound(&self) -> bool {
        self.static_bindings.is_empty() && self.provisions.is_empty()
    }
}

/// `namespace/name` of a namespaced object.
pub fn key_of(namespace: &str, name: &str) -> String {
    format!("{namespace}/{name}")
}

fn claim_key(claim: &PersistentVolumeClaim) -> String {
    key_of(claim.metadata.namespace.as_deref().unwrap_or_default(), claim.metadata.name.as_deref().unwrap_or_default())
}

/// The claims a pod's volumes name, with whether each is a generic ephemeral volume's
/// (`ephemeral.VolumeClaimName`: `<pod>-<volume>`).
pub fn pod_claim_names(pod: &Pod) -> Vec<(String, bool)> {
    let pod_name = pod.metadata.name.as_deref().unwrap_or_default();
    pod.spec
        .iter()
        .flat_map(|spec| spec.volumes.iter().flatten())
        .filter_map(|volume| {
            if let Some(source) = &volume.persistent_volume_claim {
                Some((source.claim_name.clone(), false))
            } else {
                volume.ephemeral.as_ref().map(|_| (ephemeral_claim_name(pod_name, &volume.name), true))
            }
        })
        .collect()
}

fn annotation<'a>(claim: &'a PersistentVolumeClaim, key: &str) -> Option<&'a str> {
    claim.metadata.annotations.as_ref()?.get(key).map(String::as_str)
}

/// Whether an older copy: both resourceVersions read as the store's revisions. Unreadable ones
/// are never older, so that they cannot hold a pod back.
fn older(cached: Option<&str>, written: &str) -> bool {
    match (cached.and_then(|version| version.parse::<u64>().ok()), written.parse::<u64>().ok()) {
        (Some(cached), Some(written)) => cached < written,
        _ => false,
    }
}

/// The claims, volumes and classes the scheduler knows, and what pods waiting in PreBind
/// have assumed of them (kube's assume caches): a volume being pre-bound for one pod's claim is
/// not offered to another claim meanwhile, and a claim given a node reads as having it.
#[derive(Default)]
pub struct Volumes {
    pub claims: Store<PersistentVolumeClaim>,
    pub volumes: Store<PersistentVolume>,
    pub classes: Store<StorageClass>,
    /// Volume name to the key of the claim it is being pre-bound to.
    assumed_volumes: HashMap<String, String>,
    /// Claim key to the node chosen for it.
    assumed_claims: HashMap<String, String>,
}

impl Volumes {
    pub fn synced(&self) -> bool {
        self.claims.synced && self.volumes.synced && self.classes.synced
    }

    fn selected_node<'a>(&'a self, claim: &'a PersistentVolumeClaim) -> Option<&'a str> {
        self.assumed_claims.get(&claim_key(claim)).map(String::as_str).or_else(|| annotation(claim, SELECTED_NODE))
    }

    fn class(&self, name: &str) -> Option<&Arc<StorageClass>> {
        self.classes.get(name)
    }

    /// `WaitForFirstConsumer` class; a missing class or none reads as Immediate
    /// (`volume.IsDelayBindingMode`).
    fn delays_binding(&self, claim: &PersistentVolumeClaim) -> bool {
        let class = claim_class(claim);
        !class.is_empty() && self.class(class).is_some_and(|class| class.volume_binding_mode.as_deref() == Some(WAIT_FOR_FIRST_CONSUMER))
    }

    /// The pre-filter (`podHasPVCs`, then `GetPodVolumeClaims`): every claim must exist, not be
    /// lost or being deleted, an ephemeral one be owned by the pod, and every unbound one be of
    /// a `WaitForFirstConsumer` class and name no volume yet.
    pub fn pre_filter(&self, pod: &Pod) -> PreFilter {
        let names = pod_claim_names(pod);
        if names.is_empty() {
            return PreFilter::NoClaims;
        }
        if !self.synced() {
            return PreFilter::NotReady;
        }
        let namespace = pod.metadata.namespace.as_deref().unwrap_or_default();
        let mut claims = Vec::with_capacity(names.len());
        for (name, ephemeral) in &names {
            let Some(claim) = self.claims.get(&key_of(namespace, name)) else {
                return PreFilter::Rejected(if *ephemeral {
                    format!("waiting for ephemeral volume controller to create the persistentvolumeclaim \"{name}\"")
                } else {
                    format!("persistentvolumeclaim \"{name}\" not found")
                });
            };
            if claim.status.as_ref().and_then(|status| status.phase.as_deref()) == Some("Lost") {
                let volume = claim.spec.as_ref().and_then(|spec| spec.volume_name.as_deref()).unwrap_or_default();
                return PreFilter::Rejected(format!("persistentvolumeclaim \"{name}\" bound to non-existent persistentvolume \"{volume}\""));
            }
            if claim.metadata.deletion_timestamp.is_some() {
                return PreFilter::Rejected(format!("persistentvolumeclaim \"{name}\" is being deleted"));
            }
            if *ephemeral && !claim_is_for_pod(claim, pod) {
                let pod_name = pod.metadata.name.as_deref().unwrap_or_default();
                return PreFilter::Rejected(format!("PVC {namespace}/{name} was not created for pod {namespace}/{pod_name} (pod is not owner)"));
            }
            claims.push(claim.clone());
        }
        let mut found = PodClaims::default();
        for claim in claims {
            if claim_fully_bound(&claim) {
                found.bound.push(claim);
            } else if self.delays_binding(&claim) && claim.spec.as_ref().and_then(|spec| spec.volume_name.as_deref()).unwrap_or_default().is_empty() {
                found.delayed.push(claim);
            } else {
                // Immediate claims are the binding controller's to bind before the pod can go
                // anywhere; a claim naming its volume (pre-bound) likewise.
                return PreFilter::Rejected(UNBOUND_IMMEDIATE.to_string());
            }
        }
        PreFilter::Claims(found)
    }

    /// The filter (`FindPodVolumes`): the node's reasons, or what PreBind would do there.
    pub fn filter(&self, claims: &PodClaims, node: &NodeInfo) -> Result<Plan, Vec<String>> {
        let name = node.name();
        let mut reasons = Vec::new();
        // Bound claims: the first missing volume or mismatch decides (`checkBoundClaims`).
        for claim in &claims.bound {
            let volume_name = claim.spec.as_ref().and_then(|spec| spec.volume_name.as_deref()).unwrap_or_default();
            match self.volumes.get(volume_name) {
                None => {
                    reasons.push(REASON_VOLUME_MISSING.to_string());
                    break;
                }
                Some(volume) if !volume_fits_node(volume, &node.labels, name) => {
                    reasons.push(REASON_NODE_CONFLICT.to_string());
                    break;
                }
                Some(_) => {}
            }
        }
        let mut plan = Plan::default();
        if !claims.delayed.is_empty() {
            let mut to_match = Vec::new();
            for claim in &claims.delayed {
                match self.selected_node(claim) {
                    // Its volume is being made for another node: this one cannot have it.
                    Some(selected) if selected != name => {
                        reasons.push(REASON_BIND_CONFLICT.to_string());
                        return Err(sorted_reasons(reasons));
                    }
                    Some(_) => plan.provisions.push(claim.clone()),
                    None => to_match.push(claim.clone()),
                }
            }
            // Smallest requests first, each taking the smallest volume that fits.
            to_match.sort_by_key(|claim| requested_bytes(claim).unwrap_or(0));
            let mut chosen: HashSet<String> = HashSet::new();
            for claim in to_match {
                let key = claim_key(&claim);
                let candidates = self.volumes.objects.values().map(Arc::as_ref).filter(|volume| {
                    let volume_name = volume.metadata.name.as_deref().unwrap_or_default();
                    !chosen.contains(volume_name) && self.assumed_volumes.get(volume_name).is_none_or(|owner| *owner == key)
                });
                let found = find_matching_volume(&claim, candidates, |volume| volume_fits_node(volume, &node.labels, name));
                match found.and_then(|volume| self.volumes.get(volume.metadata.name.as_deref().unwrap_or_default())) {
                    Some(volume) => {
                        chosen.insert(volume.metadata.name.clone().unwrap_or_default());
                        plan.static_bindings.push((volume.clone(), claim));
                    }
                    None => plan.provisions.push(claim),
                }
            }
            // What is left must be provisioned (`checkVolumeProvisions`).
            for claim in &plan.provisions {
                match self.can_provision(claim, node) {
                    Ok(true) => {}
                    Ok(false) => {
                        reasons.push(REASON_BIND_CONFLICT.to_string());
                        break;
                    }
                    Err(error) => {
                        reasons.push(error);
                        break;
                    }
                }
            }
        }
        if reasons.is_empty() { Ok(plan) } else { Err(sorted_reasons(reasons)) }
    }

    /// Whether the claim's class provisions volumes reachable from the node; an error (no class)
    /// when the claim should not have come this far.
    fn can_provision(&self, claim: &PersistentVolumeClaim, node: &NodeInfo) -> Result<bool, String> {
        let class_name = claim_class(claim);
        if class_name.is_empty() {
            return Err(format!("no class for claim \"{}\"", claim_key(claim)));
        }
        let Some(class) = self.class(class_name) else {
            return Err(format!("failed to find storage class \"{class_name}\""));
        };
        if class.provisioner.is_empty() || class.provisioner == NO_PROVISIONER {
            return Ok(false);
        }
        Ok(topology_matches(class, &node.labels))
    }

    /// Reserve: the plan's volumes and claims read as taken while the pod waits in PreBind.
    pub fn assume(&mut self, plan: &Plan, node: &str) {
        for (volume, claim) in &plan.static_bindings {
            self.assumed_volumes.insert(volume.metadata.name.clone().unwrap_or_default(), claim_key(claim));
        }
        for claim in &plan.provisions {
            self.assumed_claims.insert(claim_key(claim), node.to_string());
        }
    }

    /// Unreserve, or the end of the wait: the watches tell the rest.
    pub fn forget(&mut self, plan: &Plan) {
        for (volume, _) in &plan.static_bindings {
            self.assumed_volumes.remove(volume.metadata.name.as_deref().unwrap_or_default());
        }
        for claim in &plan.provisions {
            self.assumed_claims.remove(&claim_key(claim));
        }
    }

    /// Whether every claim PreBind wrote is now bound (`checkBindings`), from the watches: Ok(false)
    /// to wait on, an error (kube's words) when binding failed and the pod must be scheduled
    /// again. `written` holds the resourceVersions our writes returned, by volume name and claim
    /// key: an older copy in the cache is waited past.
    pub fn check_bindings(&self, plan: &Plan, node: &NodeInfo, written: &HashMap<String, String>) -> Result<bool, String> {
        let name = node.name();
        for (volume, claim) in &plan.static_bindings {
            let volume_name = volume.metadata.name.as_deref().unwrap_or_default();
            let Some(volume) = self.volumes.get(volume_name) else {
                return Err(format!("failed to check binding: could not find v1.PersistentVolume \"{volume_name}\""));
            };
            let Some(claim) = self.claims.get(&claim_key(claim)) else {
                return Err(format!("failed to check binding: could not find v1.PersistentVolumeClaim \"{}\"", claim_key(claim)));
            };
            if written.get(volume_name).is_some_and(|version| older(volume.metadata.resource_version.as_deref(), version)) {
                return Ok(false);
            }
            if !volume_fits_node(volume, &node.labels, name) {
                return Err(format!("pv \"{volume_name}\" node affinity doesn't match node \"{name}\": no matching NodeSelectorTerms"));
            }
            let claim_ref_uid = volume.spec.as_ref().and_then(|spec| spec.claim_ref.as_ref()).and_then(|reference| reference.uid.as_deref()).unwrap_or_default();
            if claim_ref_uid.is_empty() {
                return Err(format!("ClaimRef got reset for pv \"{volume_name}\""));
            }
            if !claim_fully_bound(claim) {
                return Ok(false);
            }
            // Bound, but to another volume than the one pre-bound for this node (a volume
            // pre-bound to the claim by an earlier attempt, on another node, won the binder's
            // choice): the pod must not follow this plan; it is scheduled again and goes where
            // the claim's volume is.
            let bound_to = claim.spec.as_ref().and_then(|spec| spec.volume_name.as_deref()).unwrap_or_default();
            if bound_to != volume_name {
                return Err(format!("PVC \"{}\" is bound to pv \"{bound_to}\", not to the pre-bound pv \"{volume_name}\"", claim_key(claim)));
            }
        }
        for wanted in &plan.provisions {
            let key = claim_key(wanted);
            let Some(claim) = self.claims.get(&key) else {
                return Err(format!("failed to check provisioning pvc: could not find v1.PersistentVolumeClaim \"{key}\""));
            };
            if written.get(&key).is_some_and(|version| older(claim.metadata.resource_version.as_deref(), version)) {
                return Ok(false);
            }
            let claim_name = claim.metadata.name.as_deref().unwrap_or_default();
            match annotation(claim, SELECTED_NODE) {
                // The provisioner takes the annotation away when it cannot provision there.
                None if claim.metadata.annotations.as_ref().is_none_or(BTreeMap::is_empty) => {
                    return Err(format!("selectedNode annotation reset for PVC \"{claim_name}\""));
                }
                Some(selected) if selected == name => {}
                _ => return Err(format!("provisioning failed for PVC \"{claim_name}\"")),
            }
            let volume_name = claim.spec.as_ref().and_then(|spec| spec.volume_name.as_deref()).unwrap_or_default();
            if !volume_name.is_empty() {
                // Not seen yet: the watch brings it (or the claim is unbound again).
                let Some(volume) = self.volumes.get(volume_name) else {
                    return Ok(false);
                };
                if !volume_fits_node(volume, &node.labels, name) {
                    return Err(format!("pv \"{volume_name}\" node affinity doesn't match node \"{name}\": no matching NodeSelectorTerms"));
                }
            }
            if !claim_fully_bound(claim) {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

/// The reasons in kube's order (`FindPodVolumes` appends node conflict, then bind conflict,
/// then missing volumes); an error text goes last.
fn sorted_reasons(mut reasons: Vec<String>) -> Vec<String> {
    let rank = |reason: &String| match reason.as_str() {
        REASON_NODE_CONFLICT => 0,
        REASON_BIND_CONFLICT => 1,
        REASON_VOLUME_MISSING => 2,
        _ => 3,
    };
    reasons.sort_by_key(rank);
    reasons.dedup();
    reasons
}

/// A class's `allowedTopologies` admit the node's labels: no terms admit all; else some term
/// whose every requirement's key has one of its values (`MatchTopologySelectorTerms`).
fn topology_matches(class: &StorageClass, labels: &BTreeMap<String, String>) -> bool {
    let terms = class.allowed_topologies.as_deref().unwrap_or_default();
    terms.is_empty()
        || terms.iter().any(|term| {
            term.match_label_expressions
                .iter()
                .flatten()
                .all(|requirement| labels.get(&requirement.key).is_some_and(|value| requirement.values.contains(value)))
        })
}

/// The volume as PreBind writes it: `claimRef` naming the claim with its uid, marked bound by
/// the controller when the scheduler chose it (`GetBindVolumeToClaim`). None when it already is.
pub fn volume_bound_to_claim(volume: &PersistentVolume, claim: &PersistentVolumeClaim) -> Option<PersistentVolume> {
    let reference = ObjectReference {
        api_version: Some("v1".into()),
        kind: Some("PersistentVolumeClaim".into()),
        namespace: claim.metadata.namespace.clone(),
        name: claim.metadata.name.clone(),
        uid: claim.metadata.uid.clone(),
        resource_version: claim.metadata.resource_version.clone(),
        ..ObjectReference::default()
    };
    let current = volume.spec.as_ref().and_then(|spec| spec.claim_ref.as_ref());
    let same = current.is_some_and(|current| current.name == reference.name && current.namespace == reference.namespace && current.uid == reference.uid);
    if same {
        return None;
    }
    let mut updated = volume.clone();
    // A volume an admin pre-bound to this claim stays marked as the admin's.
    if !is_bound_to_claim(volume, claim) {
        let annotations = updated.metadata.annotations.get_or_insert_default();
        annotations.entry(BOUND_BY_CONTROLLER.into()).or_insert_with(|| "yes".into());
    }
    updated.spec.get_or_insert_default().claim_ref = Some(reference);
    Some(updated)
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use common::storage::BIND_COMPLETED;

    use super::*;
    use crate::cache::Cache;

    fn claim(name: &str, class: &str, extra: Value) -> PersistentVolumeClaim {
        let mut value = json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": {"name": name, "namespace": "ns", "uid": format!("uid-{name}"), "resourceVersion": "10"},
            "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": class, "resources": {"requests": {"storage": "1Gi"}}}});
        merge(&mut value, extra);
        serde_json::from_value(value).unwrap()
    }

    fn bound_claim(name: &str, volume: &str) -> PersistentVolumeClaim {
        claim(name, "manual", json!({"metadata": {"annotations": {BIND_COMPLETED: "yes"}}, "spec": {"volumeName": volume}, "status": {"phase": "Bound"}}))
    }

    fn volume(name: &str, class: &str, node: Option<&str>, extra: Value) -> PersistentVolume {
        let mut value = json!({"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": name, "resourceVersion": "5"},
            "spec": {"capacity": {"storage": "2Gi"}, "accessModes": ["ReadWriteOnce"], "storageClassName": class, "hostPath": {"path": "/tmp"}},
            "status": {"phase": "Available"}});
        if let Some(node) = node {
            value["spec"]["nodeAffinity"] = json!({"required": {"nodeSelectorTerms": [{"matchExpressions": [
                {"key": "kubernetes.io/hostname", "operator": "In", "values": [node]}]}]}});
        }
        merge(&mut value, extra);
        serde_json::from_value(value).unwrap()
    }

    fn class(name: &str, mode: &str, provisioner: &str) -> StorageClass {
        serde_json::from_value(json!({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": name},
            "provisioner": provisioner, "volumeBindingMode": mode})).unwrap()
    }

    fn merge(target: &mut Value, extra: Value) {
        match (target, extra) {
            (Value::Object(target), Value::Object(extra)) => {
                for (key, value) in extra {
                    merge(target.entry(key).or_insert(Value::Null), value);
                }
            }
            (target, extra) => *target = extra,
        }
    }

    fn pod(volumes: Value) -> Pod {
        serde_json::from_value(json!({"metadata": {"name": "web", "namespace": "ns", "uid": "pod-uid"},
            "spec": {"containers": [{"name": "c", "image": "i"}], "volumes": volumes}})).unwrap()
    }

    fn uses(claim: &str) -> Value {
        json!([{"name": "data", "persistentVolumeClaim": {"claimName": claim}}])
    }

    fn synced() -> Volumes {
        let mut volumes = Volumes::default();
        volumes.claims.synced = true;
        volumes.volumes.synced = true;
        volumes.classes.synced = true;
        volumes.classes.insert(class("manual", "Immediate", NO_PROVISIONER));
        volumes.classes.insert(class("local", WAIT_FOR_FIRST_CONSUMER, "cluster.local/local-path"));
        volumes.classes.insert(class("static-only", WAIT_FOR_FIRST_CONSUMER, NO_PROVISIONER));
        volumes
    }

    fn nodes() -> Cache {
        let mut cache = Cache::default();
        for name in ["node-1", "node-2"] {
            cache.set_node(Arc::new(
                serde_json::from_value(json!({"metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}}})).unwrap(),
            ));
        }
        cache
    }

    fn rejected(volumes: &Volumes, pod: &Pod) -> String {
        match volumes.pre_filter(pod) {
            PreFilter::Rejected(message) => message,
            other => panic!("not rejected: {other:?}"),
        }
    }

    fn claims(volumes: &Volumes, pod: &Pod) -> PodClaims {
        match volumes.pre_filter(pod) {
            PreFilter::Claims(claims) => claims,
            other => panic!("no claims: {other:?}"),
        }
    }

    #[test]
    fn pre_filter_rejects_as_kube_says() {
        let mut volumes = synced();
        assert!(matches!(volumes.pre_filter(&pod(json!([{"name": "tmp", "emptyDir": {}}]))), PreFilter::NoClaims));
        assert_eq!(rejected(&volumes, &pod(uses("data"))), "persistentvolumeclaim \"data\" not found");

        volumes.claims.insert(claim("immediate", "manual", json!({})));
        assert_eq!(rejected(&volumes, &pod(uses("immediate"))), UNBOUND_IMMEDIATE);
        volumes.claims.insert(claim("no-class", "missing", json!({})));
        assert_eq!(rejected(&volumes, &pod(uses("no-class"))), UNBOUND_IMMEDIATE, "a missing class reads as Immediate");
        volumes.claims.insert(claim("pre-bound", "local", json!({"spec": {"volumeName": "pv-1"}})));
        assert_eq!(rejected(&volumes, &pod(uses("pre-bound"))), UNBOUND_IMMEDIATE);
        volumes.claims.insert(claim("going", "local", json!({"metadata": {"deletionTimestamp": "2026-01-01T00:00:00Z", "finalizers": ["kubernetes.io/pvc-protection"]}})));
        assert_eq!(rejected(&volumes, &pod(uses("going"))), "persistentvolumeclaim \"going\" is being deleted");
        volumes.claims.insert(claim("lost", "local", json!({"spec": {"volumeName": "gone"}, "status": {"phase": "Lost"}})));
        assert_eq!(rejected(&volumes, &pod(uses("lost"))), "persistentvolumeclaim \"lost\" bound to non-existent persistentvolume \"gone\"");

        // Every claim is looked up before any is classified, as podHasPVCs runs first.
        let both = pod(json!([{"name": "a", "persistentVolumeClaim": {"claimName": "immediate"}}, {"name": "b", "persistentVolumeClaim": {"claimName": "data"}}]));
        assert_eq!(rejected(&volumes, &both), "persistentvolumeclaim \"data\" not found");

        let ephemeral = pod(json!([{"name": "scratch", "ephemeral": {"volumeClaimTemplate": {"spec": {"accessModes": ["ReadWriteOnce"]}}}}]));
        assert_eq!(rejected(&volumes, &ephemeral), "waiting for ephemeral volume controller to create the persistentvolumeclaim \"web-scratch\"");
        volumes.claims.insert(claim("web-scratch", "local", json!({})));
        assert_eq!(rejected(&volumes, &ephemeral), "PVC ns/web-scratch was not created for pod ns/web (pod is not owner)");
        volumes.claims.insert(claim("web-scratch", "local", json!({"metadata": {"ownerReferences": [
            {"apiVersion": "v1", "kind": "Pod", "name": "web", "uid": "pod-uid", "controller": true}]}})));
        assert_eq!(claims(&volumes, &ephemeral).delayed.len(), 1);

        let mut unsynced = synced();
        unsynced.claims.synced = false;
        assert!(matches!(unsynced.pre_filter(&pod(uses("data"))), PreFilter::NotReady));
    }

    #[test]
    fn bound_claims_go_where_their_volume_is() {
        let mut volumes = synced();
        let cache = nodes();
        volumes.claims.insert(bound_claim("data", "pv-2"));
        volumes.volumes.insert(volume("pv-2", "manual", Some("node-2"), json!({})));
        let claims = claims(&volumes, &pod(uses("data")));
        assert_eq!(volumes.filter(&claims, cache.node("node-1").unwrap()).unwrap_err(), [REASON_NODE_CONFLICT]);
        let plan = volumes.filter(&claims, cache.node("node-2").unwrap()).unwrap();
        assert!(plan.all_bound());

        volumes.claims.insert(bound_claim("orphan", "pv-gone"));
        let claims = self::claims(&volumes, &pod(uses("orphan")));
        assert_eq!(volumes.filter(&claims, cache.node("node-1").unwrap()).unwrap_err(), [REASON_VOLUME_MISSING]);
    }

    #[test]
    fn waiting_claims_take_a_static_volume_that_fits_or_a_provisioner() {
        let mut volumes = synced();
        let cache = nodes();
        let (node_1, node_2) = (cache.node("node-1").unwrap(), cache.node("node-2").unwrap());

        // A static-only class: only where a volume is.
        volumes.claims.insert(claim("data", "static-only", json!({})));
        volumes.volumes.insert(volume("pv-small", "static-only", Some("node-2"), json!({"spec": {"capacity": {"storage": "512Mi"}}})));
        volumes.volumes.insert(volume("pv-2", "static-only", Some("node-2"), json!({})));
        volumes.volumes.insert(volume("pv-big", "static-only", Some("node-2"), json!({"spec": {"capacity": {"storage": "10Gi"}}})));
        let claims = claims(&volumes, &pod(uses("data")));
        assert_eq!(volumes.filter(&claims, node_1).unwrap_err(), [REASON_BIND_CONFLICT]);
        let plan = volumes.filter(&claims, node_2).unwrap();
        let names: Vec<_> = plan.static_bindings.iter().map(|(volume, _)| volume.metadata.name.clone().unwrap()).collect();
        assert_eq!(names, ["pv-2"], "the smallest volume that holds the claim");
        assert!(plan.provisions.is_empty());

        // While a pod waits on pv-2, another claim cannot have it.
        volumes.assume(&plan, "node-2");
        volumes.claims.insert(claim("other", "static-only", json!({})));
        let other = self::claims(&volumes, &pod(uses("other")));
        let taken = volumes.filter(&other, node_2).unwrap();
        assert_eq!(taken.static_bindings[0].0.metadata.name.as_deref(), Some("pv-big"));
        volumes.forget(&plan);

        // A provisioning class: any node, the claim is to be annotated.
        volumes.claims.insert(claim("dynamic", "local", json!({})));
        let claims = self::claims(&volumes, &pod(uses("dynamic")));
        let plan = volumes.filter(&claims, node_1).unwrap();
        assert_eq!(plan.provisions.len(), 1);
        // Once a node is selected for it, only that node.
        volumes.assume(&plan, "node-1");
        assert_eq!(volumes.filter(&claims, node_2).unwrap_err(), [REASON_BIND_CONFLICT]);
        assert!(volumes.filter(&claims, node_1).is_ok());
        volumes.forget(&plan);
        volumes.claims.insert(claim("dynamic", "local", json!({"metadata": {"annotations": {SELECTED_NODE: "node-2"}}})));
        let claims = self::claims(&volumes, &pod(uses("dynamic")));
        assert_eq!(volumes.filter(&claims, node_1).unwrap_err(), [REASON_BIND_CONFLICT]);

        // A class's allowed topologies limit provisioning.
        let mut zoned = class("zoned", WAIT_FOR_FIRST_CONSUMER, "cluster.local/local-path");
        zoned.allowed_topologies = serde_json::from_value(json!([{"matchLabelExpressions": [{"key": "kubernetes.io/hostname", "values": ["node-2"]}]}])).unwrap();
        volumes.classes.insert(zoned);
        volumes.claims.insert(claim("zoned", "zoned", json!({})));
        let claims = self::claims(&volumes, &pod(uses("zoned")));
        assert_eq!(volumes.filter(&claims, node_1).unwrap_err(), [REASON_BIND_CONFLICT]);
        assert!(volumes.filter(&claims, node_2).is_ok());
    }

    #[test]
    fn both_kinds_of_conflict_are_reported_together() {
        let mut volumes = synced();
        let cache = nodes();
        volumes.claims.insert(bound_claim("bound", "pv-2"));
        volumes.volumes.insert(volume("pv-2", "manual", Some("node-2"), json!({})));
        volumes.claims.insert(claim("waiting", "static-only", json!({})));
        let both = pod(json!([{"name": "a", "persistentVolumeClaim": {"claimName": "waiting"}}, {"name": "b", "persistentVolumeClaim": {"claimName": "bound"}}]));
        let claims = claims(&volumes, &both);
        assert_eq!(volumes.filter(&claims, cache.node("node-1").unwrap()).unwrap_err(), [REASON_NODE_CONFLICT, REASON_BIND_CONFLICT]);
    }

    #[test]
    fn the_wait_ends_when_every_claim_is_bound_or_binding_failed() {
        let mut volumes = synced();
        let cache = nodes();
        let node_1 = cache.node("node-1").unwrap();
        volumes.claims.insert(claim("dynamic", "local", json!({})));
        let claims = claims(&volumes, &pod(uses("dynamic")));
        let plan = volumes.filter(&claims, node_1).unwrap();
        let written = HashMap::from([("ns/dynamic".to_string(), "11".to_string())]);
        assert_eq!(volumes.check_bindings(&plan, node_1, &written), Ok(false), "the cache has not seen our write yet");
        volumes.claims.insert(claim("dynamic", "local", json!({"metadata": {"resourceVersion": "11", "annotations": {SELECTED_NODE: "node-1"}}})));
        assert_eq!(volumes.check_bindings(&plan, node_1, &written), Ok(false));
        volumes.claims.insert(claim("dynamic", "local", json!({"metadata": {"resourceVersion": "12", "annotations": {SELECTED_NODE: "node-1", BIND_COMPLETED: "yes"}},
            "spec": {"volumeName": "pvc-1"}, "status": {"phase": "Bound"}})));
        assert_eq!(volumes.check_bindings(&plan, node_1, &written), Ok(false), "its volume is not seen yet");
        volumes.volumes.insert(volume("pvc-1", "local", Some("node-1"), json!({})));
        assert_eq!(volumes.check_bindings(&plan, node_1, &written), Ok(true));

        volumes.claims.insert(claim("dynamic", "local", json!({"metadata": {"resourceVersion": "13", "annotations": {"other": "x"}}})));
        assert_eq!(volumes.check_bindings(&plan, node_1, &written), Err("provisioning failed for PVC \"dynamic\"".to_string()));

        // A static volume: pre-bound by us, then bound by the controller.
        volumes.claims.insert(claim("data", "static-only", json!({})));
        volumes.volumes.insert(volume("pv-1", "static-only", Some("node-1"), json!({})));
        let claims = self::claims(&volumes, &pod(uses("data")));
        let plan = volumes.filter(&claims, node_1).unwrap();
        let (pv, pvc) = &plan.static_bindings[0];
        let pre_bound = volume_bound_to_claim(pv, pvc).unwrap();
        let reference = pre_bound.spec.as_ref().unwrap().claim_ref.as_ref().unwrap();
        assert_eq!((reference.name.as_deref(), reference.uid.as_deref()), (Some("data"), Some("uid-data")));
        assert_eq!(pre_bound.metadata.annotations.as_ref().unwrap()[BOUND_BY_CONTROLLER], "yes");
        assert!(volume_bound_to_claim(&pre_bound, pvc).is_none(), "nothing to write twice");
        let written = HashMap::from([("pv-1".to_string(), "6".to_string())]);
        assert_eq!(volumes.check_bindings(&plan, node_1, &written), Ok(false));
        let mut seen = pre_bound.clone();
        seen.metadata.resource_version = Some("6".into());
        volumes.volumes.insert(seen);
        assert_eq!(volumes.check_bindings(&plan, node_1, &written), Ok(false), "the claim is not bound yet");
        volumes.claims.insert(claim("data", "static-only", json!({"metadata": {"annotations": {BIND_COMPLETED: "yes"}}, "spec": {"volumeName": "pv-1"}})));
        assert_eq!(volumes.check_bindings(&plan, node_1, &written), Ok(true));
        let mut reset = pre_bound;
        reset.metadata.resource_version = Some("7".into());
        reset.spec.as_mut().unwrap().claim_ref = None;
        volumes.volumes.insert(reset);
        assert_eq!(volumes.check_bindings(&plan, node_1, &written), Err("ClaimRef got reset for pv \"pv-1\"".to_string()));
    }

    #[test]
    fn a_volume_pre_bound_elsewhere_keeps_the_claim_off_other_nodes() {
        // An earlier attempt pre-bound pv-1 (node-1) to the claim, then failed; pv-2 (node-2) is
        // free. The claim can only ever have pv-1, so node-2 must not be offered pv-2.
        let mut volumes = synced();
        let cache = nodes();
        let (node_1, node_2) = (cache.node("node-1").unwrap(), cache.node("node-2").unwrap());
        volumes.claims.insert(claim("data", "static-only", json!({})));
        volumes.volumes.insert(volume("pv-1", "static-only", Some("node-1"), json!({"spec": {"claimRef": {"name": "data", "namespace": "ns", "uid": "uid-data"}}})));
        volumes.volumes.insert(volume("pv-2", "static-only", Some("node-2"), json!({})));
        let claims = claims(&volumes, &pod(uses("data")));
        assert_eq!(volumes.filter(&claims, node_2).unwrap_err(), [REASON_BIND_CONFLICT]);
        let plan = volumes.filter(&claims, node_1).unwrap();
        assert_eq!(plan.static_bindings[0].0.metadata.name.as_deref(), Some("pv-1"));

        // Had pv-2 been pre-bound too, a claim the binder bound to pv-1 fails the wait for the
        // plan of node-2 instead of letting the pod go there.
        volumes.volumes.insert(volume("pv-1", "static-only", Some("node-1"), json!({"spec": {"claimRef": {"name": "other", "namespace": "ns"}}})));
        let plan = volumes.filter(&claims, node_2).unwrap();
        assert_eq!(plan.static_bindings[0].0.metadata.name.as_deref(), Some("pv-2"));
        volumes.volumes.insert(volume("pv-2", "static-only", Some("node-2"), json!({"spec": {"claimRef": {"name": "data", "namespace": "ns", "uid": "uid-data"}}})));
        volumes.claims.insert(claim("data", "static-only", json!({"metadata": {"annotations": {BIND_COMPLETED: "yes"}}, "spec": {"volumeName": "pv-1"}})));
        assert_eq!(
            volumes.check_bindings(&plan, node_2, &HashMap::new()),
            Err("PVC \"ns/data\" is bound to pv \"pv-1\", not to the pre-bound pv \"pv-2\"".to_string())
        );
        volumes.claims.insert(claim("data", "static-only", json!({"metadata": {"annotations": {BIND_COMPLETED: "yes"}}, "spec": {"volumeName": "pv-2"}})));
        assert_eq!(volumes.check_bindings(&plan, node_2, &HashMap::new()), Ok(true));
    }

    #[test]
    fn stores_drop_what_a_relist_no_longer_has() {
        let mut store: Store<StorageClass> = Store::default();
        assert!(store.apply(watcher::Event::Apply(class("a", "Immediate", "x"))));
        assert!(store.apply(watcher::Event::Apply(class("b", "Immediate", "x"))));
        store.apply(watcher::Event::Init);
        store.apply(watcher::Event::InitApply(class("a", "Immediate", "x")));
        assert!(!store.synced);
        assert!(store.apply(watcher::Event::InitDone));
        assert!(store.synced);
        assert!(store.get("a").is_some() && store.get("b").is_none());
    }
}
