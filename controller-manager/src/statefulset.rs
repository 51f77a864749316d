//! The StatefulSet controller, as Kubernetes 1.33's `pkg/controller/statefulset` behaves: pods
//! with stable names `<set>-<ordinal>` (from `spec.ordinals.start`), a stable hostname under the
//! set's headless Service, and stable storage (one PersistentVolumeClaim per volume claim
//! template and ordinal, made before the pod and kept or handed to the garbage collector as
//! `persistentVolumeClaimRetentionPolicy` says).
//!
//! `OrderedReady` creates one ordinal at a time, lowest first, each once every lower one is
//! Running, Ready and available, and removes pods highest first, one at a time; `Parallel` does
//! both all at once. The pod template's history is kept as ControllerRevisions (`history`):
//! `RollingUpdate` deletes the highest pod not at the update revision down to `partition`, one at
//! a time, each once the one before is back healthy; `OnDelete` only recreates what someone
//! deleted. `maxUnavailable` is ignored, as 1.33's default (the `MaxUnavailableStatefulSet` gate
//! is alpha and off until 1.35) ignores it.
//!
//! Each sync reads the caches, plans ([`plan`], pure) and carries the plan out. Pod names are
//! fixed, so a create answered 409 means the pod exists already and a repeated sync is harmless;
//! deletions carry the pod's uid as a precondition so that a stale cache never deletes the pod
//! that replaced the one it saw.

use std::cmp::Reverse;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use common::selector::LabelSelector;
use futures::StreamExt;
use k8s_openapi::api::apps::v1::{ControllerRevision, StatefulSet, StatefulSetStatus};
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, PersistentVolumeClaimVolumeSource, Pod, PodTemplateSpec, Volume};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, Preconditions};
use kube::runtime::controller::Action;
use kube::runtime::reflector::{ObjectRef, Store};
use serde_json::json;

use crate::context::Context;
use crate::framework::{self, ReconcileError};
use crate::history::{self, HASH_LABEL};
use crate::replicaset::{is_available, ready_since};

/// Pods planned for creation in one sync.
const MAX_CREATES_PER_SYNC: usize = 500;
const COMPONENT: &str = "statefulset-controller";
/// The label that names a pod's own identity, which a per-pod Service can select.
const POD_NAME_LABEL: &str = "statefulset.kubernetes.io/pod-name";
/// The pod's ordinal (`PodIndexLabel`, on by default since 1.28).
const POD_INDEX_LABEL: &str = "apps.kubernetes.io/pod-index";
/// `spec.revisionHistoryLimit` when the apiserver did not default it.
const DEFAULT_HISTORY_LIMIT: i32 = 10;
/// Writes in flight at once for one `Parallel` set (Kubernetes batches up to 500).
const BURST: usize = 64;
/// Names tried for a new revision before giving up for this sync (Kubernetes tries on forever).
const MAX_COLLISIONS: i32 = 32;

struct Controller {
    context: Arc<Context>,
    recorder: common::events::Recorder,
}

pub async fn run(context: Arc<Context>) {
    let controller = Arc::new(Controller { recorder: context.recorder(COMPONENT), context: context.clone() });
    let sets = context.stateful_sets.store();
    let own = context.stateful_sets.changes().map(|set| ObjectRef::from_obj(&*set)).boxed();
    let pods = context
        .pods
        .changes()
        .flat_map({
            let sets = sets.clone();
            move |pod| futures::stream::iter(sets_for_pod(&sets, &pod))
        })
        .boxed();
    framework::run("statefulset", context.metrics.clone(), controller, sets, vec![own, pods], context.settings.concurrent_syncs, reconcile).await;
}

/// The set that controls the pod, or, for an orphan, every set in its namespace whose selector
/// matches it (which may adopt it), as Kubernetes' pod handlers enqueue them.
fn sets_for_pod(sets: &Store<StatefulSet>, pod: &Pod) -> Vec<ObjectRef<StatefulSet>> {
    if pod.metadata.owner_references.iter().flatten().any(|owner| owner.controller == Some(true)) {
        return framework::controller_of::<StatefulSet, _>(pod, "StatefulSet").into_iter().collect();
    }
    let no_labels = BTreeMap::new();
    let labels = pod.metadata.labels.as_ref().unwrap_or(&no_labels);
    sets.state()
        .iter()
        .filter(|set| set.metadata.namespace == pod.metadata.namespace)
        .filter(|set| selector_of(set).is_some_and(|selector| !selector.is_empty() && selector.matches(labels)))
        .map(|set| ObjectRef::from_obj(&**set))
        .collect()
}

fn selector_of(set: &StatefulSet) -> Option<LabelSelector> {
    LabelSelector::from_k8s(&set.spec.as_ref()?.selector).ok()
}

/// The parent set's name and the ordinal a pod name `<parent>-<ordinal>` carries. Only the
/// canonical spelling counts (`web-01` is nobody's ordinal 1), so that two pods never claim one
/// ordinal; the ordinal fits 32 bits, as Kubernetes parses it.
fn parent_and_ordinal(name: &str) -> Option<(&str, i32)> {
    let parent = parent_of(name)?;
    let digits = &name[parent.len() + 1..];
    if digits.len() > 1 && digits.starts_with('0') {
        return None;
    }
    Some((parent, digits.parse().ok()?))
}

/// The `<parent>` of a name `<parent>-<digits>` (Kubernetes' `isMemberOf` reads names so).
fn parent_of(name: &str) -> Option<&str> {
    let (parent, digits) = name.rsplit_once('-')?;
    (!digits.is_empty() && digits.bytes().all(|byte| byte.is_ascii_digit())).then_some(parent)
}

/// What the spec says, with the apiserver's defaults where a field is absent.
struct Rules {
    name: String,
    namespace: String,
    uid: String,
    /// `spec.ordinals.start`.
    start: i64,
    replicas: i64,
    /// `OrderedReady` (the default): one pod at a time, in order.
    monotonic: bool,
    /// `RollingUpdate`'s partition; None for `OnDelete`.
    partition: Option<i64>,
    min_ready: Duration,
    claim_templates: Vec<PersistentVolumeClaim>,
    /// `whenDeleted: Delete`: claims are owned by the set.
    delete_with_set: bool,
    /// `whenScaled: Delete`: claims of removed ordinals are owned by their pod.
    delete_when_scaled: bool,
    /// The selector's `matchLabels`, which claims carry beside their template's labels.
    match_labels: BTreeMap<String, String>,
}

impl Rules {
    fn of(set: &StatefulSet) -> Self {
        let spec = set.spec.clone().unwrap_or_default();
        let strategy = spec.update_strategy.clone().unwrap_or_default();
        let partition = match strategy.type_.as_deref() {
            Some("OnDelete") => None,
            _ => Some(i64::from(strategy.rolling_update.and_then(|rolling| rolling.partition).unwrap_or(0).max(0))),
        };
        let retention = spec.persistent_volume_claim_retention_policy.clone().unwrap_or_default();
        Self {
            name: set.metadata.name.clone().unwrap_or_default(),
            namespace: set.metadata.namespace.clone().unwrap_or_default(),
            uid: set.metadata.uid.clone().unwrap_or_default(),
            start: i64::from(spec.ordinals.and_then(|ordinals| ordinals.start).unwrap_or(0).max(0)),
            replicas: i64::from(spec.replicas.unwrap_or(1).max(0)),
            monotonic: spec.pod_management_policy.as_deref() != Some("Parallel"),
            partition,
            min_ready: Duration::from_secs(u64::try_from(spec.min_ready_seconds.unwrap_or(0)).unwrap_or(0)),
            claim_templates: spec.volume_claim_templates.clone().unwrap_or_default(),
            delete_with_set: retention.when_deleted.as_deref() == Some("Delete"),
            delete_when_scaled: retention.when_scaled.as_deref() == Some("Delete"),
            match_labels: spec.selector.match_labels.clone().unwrap_or_default(),
        }
    }

    fn in_range(&self, ordinal: i64) -> bool {
        ordinal >= self.start && ordinal < self.start + self.replicas
    }

    fn pod_name(&self, ordinal: i64) -> String {
        format!("{}-{ordinal}", self.name)
    }

    /// `<template>-<set>-<ordinal>`.
    fn claim_name(&self, template: &PersistentVolumeClaim, ordinal: i64) -> String {
        format!("{}-{}-{ordinal}", template.metadata.name.as_deref().unwrap_or_default(), self.name)
    }

    /// The claims the pod of `ordinal` mounts, as they are created: the template under the
    /// pod's claim name, with the selector's matchLabels added to the template's labels.
    fn claims(&self, ordinal: i64) -> Vec<PersistentVolumeClaim> {
        self.claim_templates
            .iter()
            .map(|template| {
                let mut labels = template.metadata.labels.clone().unwrap_or_default();
                labels.extend(self.match_labels.clone());
                PersistentVolumeClaim {
                    metadata: ObjectMeta {
                        name: Some(self.claim_name(template, ordinal)),
                        namespace: Some(self.namespace.clone()),
                        labels: Some(labels),
                        annotations: template.metadata.annotations.clone(),
                        finalizers: template.metadata.finalizers.clone(),
                        ..ObjectMeta::default()
                    },
                    spec: template.spec.clone(),
                    status: None,
                }
            })
            .collect()
    }
}

/// What planning needs to know of one of the set's pods.
#[derive(Clone, Debug)]
struct Member {
    name: String,
    ordinal: i64,
    /// Its `controller-revision-hash`: the name of the revision it was made from.
    revision: String,
    phase: String,
    running_and_ready: bool,
    /// Ready for minReadySeconds.
    available: bool,
    terminating: bool,
    /// Its pod-name label says its name.
    identity_ok: bool,
    /// Its claims' owners are as the retention policy wants them.
    claims_ok: bool,
    /// One of its claims does not exist (created again while the pod is Pending).
    claims_missing: bool,
}

impl Member {
    fn healthy(&self) -> bool {
        self.running_and_ready && !self.terminating
    }
}

/// One write of a sync.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Step {
    /// Create the pod of `ordinal` (with its claims) from the update revision, or from the
    /// current one when `at_update` is false (below the partition).
    Create { ordinal: i64, at_update: bool },
    /// Delete a pod that failed or completed; it is made again once it is gone.
    DeleteFinished(String),
    /// Create the missing claims of a Pending pod.
    CreateClaims(String),
    /// Put back the pod's identity label and its claims' owners.
    Repair(String),
    /// Set the claim owners of a pod beyond the replicas (so `whenScaled: Delete` lets the
    /// garbage collector take them with it).
    ReleaseClaims(String),
    /// Delete a pod beyond the replicas.
    ScaleDown(String),
    /// Delete a pod not at the update revision, for a rolling update.
    Update(String),
}

/// What a sync does: phases in order; within one, the steps one after another (stopping at an
/// error) for `OrderedReady`, all at once for `Parallel`. An `OrderedReady` plan ends where the
/// set must wait (a pod not yet Running and Ready, a pod still terminating).
///
/// This is Kubernetes' `updateStatefulSet`: replicas in ordinal order (create what is missing,
/// delete what finished, wait for what is not healthy), then the claims of condemned pods, then
/// the condemned pods highest first, then the rolling update highest first down to the partition.
fn plan(rules: &Rules, members: &[Member], update_revision: &str, stale_claims: &dyn Fn(i64) -> bool) -> Vec<Vec<Step>> {
    let mut phases = Vec::new();
    // The pods of the ordinals in range, by index from `start` (looked up, not laid out: the
    // replicas may be many).
    let by_ordinal: HashMap<i64, &Member> = members.iter().map(|member| (member.ordinal, member)).collect();
    let slot = |index: i64| by_ordinal.get(&(rules.start + index)).copied();
    let mut condemned: Vec<&Member> = members.iter().filter(|member| !rules.in_range(member.ordinal)).collect();
    condemned.sort_by_key(|member| Reverse(member.ordinal));
    // The first unhealthy pod, replicas in ordinal order first, then the condemned lowest first:
    // a condemned pod that is it may go although unhealthy.
    let in_range: Vec<&Member> = members.iter().filter(|member| rules.in_range(member.ordinal)).collect();
    let replicas_healthy = i64::try_from(in_range.len()).is_ok_and(|present| present == rules.replicas) && in_range.iter().all(|member| member.healthy());
    let first_unhealthy_condemned =
        if replicas_healthy { condemned.iter().rev().find(|member| !member.healthy()).map(|member| member.name.as_str()) } else { None };

    let mut steps = Vec::new();
    let mut created = 0;
    for index in 0..rules.replicas {
        let ordinal = rules.start + index;
        let Some(member) = slot(index) else {
            // A claim still owned by the pod that had this name: wait for the garbage collector.
            if stale_claims(ordinal) {
                if rules.monotonic {
                    phases.push(steps);
                    return phases;
                }
                continue;
            }
            let at_update = rules.partition.is_none_or(|partition| index >= partition);
            steps.push(Step::Create { ordinal, at_update });
            created += 1;
            // At most so many pods a sync, as kube's MaxPodCreateDeletePerSync: a set of
            // millions of replicas is made over many syncs, not planned in one.
            if rules.monotonic || created >= MAX_CREATES_PER_SYNC {
                phases.push(steps);
                return phases;
            }
            continue;
        };
        if matches!(member.phase.as_str(), "Failed" | "Succeeded") {
            if !member.terminating {
                steps.push(Step::DeleteFinished(member.name.clone()));
            }
            if rules.monotonic {
                phases.push(steps);
                return phases;
            }
            continue;
        }
        if member.phase == "Pending" && member.claims_missing {
            steps.push(Step::CreateClaims(member.name.clone()));
        }
        if rules.monotonic && (member.terminating || !member.running_and_ready || !member.available) {
            phases.push(steps);
            return phases;
        }
        if !member.identity_ok || !member.claims_ok {
            steps.push(Step::Repair(member.name.clone()));
        }
    }
    phases.push(steps);

    phases.push(condemned.iter().filter(|member| !member.claims_ok).map(|member| Step::ReleaseClaims(member.name.clone())).collect());

    let mut steps = Vec::new();
    for member in &condemned {
        if member.terminating {
            if rules.monotonic {
                phases.push(steps);
                return phases;
            }
            continue;
        }
        let first_unhealthy = first_unhealthy_condemned == Some(member.name.as_str());
        if rules.monotonic && !first_unhealthy && (!member.running_and_ready || !member.available) {
            phases.push(steps);
            return phases;
        }
        steps.push(Step::ScaleDown(member.name.clone()));
        if rules.monotonic {
            phases.push(steps);
            return phases;
        }
    }
    phases.push(steps);

    let Some(partition) = rules.partition else {
        return phases;
    };
    for index in (partition..rules.replicas).rev() {
        // Just created in this sync: not healthy yet.
        let Some(member) = slot(index) else { break };
        if member.revision != update_revision && !member.terminating {
            phases.push(vec![Step::Update(member.name.clone())]);
            break;
        }
        if !member.healthy() {
            break;
        }
    }
    phases
}

/// The counts of the status, over the set's pods.
#[derive(Debug, Default, PartialEq, Eq)]
struct Counts {
    replicas: i32,
    ready: i32,
    available: i32,
    current: i32,
    updated: i32,
}

fn count(members: &[Member], current_revision: &str, update_revision: &str) -> Counts {
    let mut counts = Counts::default();
    for member in members {
        counts.replicas += 1;
        if member.running_and_ready {
            counts.ready += 1;
            if member.available {
                counts.available += 1;
            }
        }
        if !member.terminating {
            counts.current += i32::from(member.revision == current_revision);
            counts.updated += i32::from(member.revision == update_revision);
        }
    }
    counts
}

/// The status a sync reports. A rolling update whose every replica is updated and ready is
/// complete: the update revision becomes the current one (Kubernetes' `completeRollingUpdate`;
/// `OnDelete` never completes, as in Kubernetes).
fn status_of(rules: &Rules, counts: &Counts, current_revision: &str, update_revision: &str, collisions: i32, generation: Option<i64>) -> StatefulSetStatus {
    let mut current_replicas = counts.current;
    let mut current_revision = current_revision.to_string();
    let wanted = i32::try_from(rules.replicas).unwrap_or(i32::MAX);
    if rules.partition.is_some() && counts.updated == wanted && counts.ready == wanted && counts.replicas == wanted {
        current_replicas = counts.updated;
        current_revision = update_revision.to_string();
    }
    StatefulSetStatus {
        replicas: counts.replicas,
        ready_replicas: Some(counts.ready),
        available_replicas: Some(counts.available),
        current_replicas: Some(current_replicas),
        updated_replicas: Some(counts.updated),
        current_revision: Some(current_revision),
        update_revision: Some(update_revision.to_string()),
        observed_generation: generation,
        collision_count: Some(collisions),
        conditions: None,
    }
}

/// Whether the stored status says something else than `status` (conditions aside).
fn status_differs(stored: Option<&StatefulSetStatus>, status: &StatefulSetStatus) -> bool {
    let stored = stored.cloned().unwrap_or_default();
    let number = |value: Option<i32>| value.unwrap_or(0);
    stored.replicas != status.replicas
        || number(stored.ready_replicas) != number(status.ready_replicas)
        || number(stored.available_replicas) != number(status.available_replicas)
        || number(stored.current_replicas) != number(status.current_replicas)
        || number(stored.updated_replicas) != number(status.updated_replicas)
        || stored.current_revision != status.current_revision
        || stored.update_revision != status.update_revision
        || stored.observed_generation != status.observed_generation
        || number(stored.collision_count) != number(status.collision_count)
}

// Claims and their owners under the retention policy, as Kubernetes 1.33 (where
// StatefulSetAutoDeletePVC is GA) sets them: Retain/Retain no owner; whenDeleted Delete the set
// as controller; whenScaled Delete the pod as controller once its ordinal is beyond the replicas.

/// Who a claim's owners are checked against: the set and the pod of the claim's ordinal.
struct Owners<'a> {
    set_name: &'a str,
    set_uid: &'a str,
    pod_name: &'a str,
    /// Empty for a pod not created yet.
    pod_uid: &'a str,
    /// The pod's ordinal is beyond the replicas.
    scaled_down: bool,
}

fn refers_to_set(reference: &OwnerReference, owners: &Owners<'_>) -> bool {
    reference.api_version == "apps/v1" && reference.kind == "StatefulSet" && reference.name == owners.set_name
}

fn refers_to_pod(reference: &OwnerReference, owners: &Owners<'_>) -> bool {
    reference.api_version == "v1" && reference.kind == "Pod" && reference.name == owners.pod_name
}

fn references(claim: &PersistentVolumeClaim) -> &[OwnerReference] {
    claim.metadata.owner_references.as_deref().unwrap_or_default()
}

fn has_owner(claim: &PersistentVolumeClaim, uid: &str) -> bool {
    !uid.is_empty() && references(claim).iter().any(|reference| reference.uid == uid)
}

/// A reference to an earlier set or pod of the same name (its uid differs).
fn has_stale_owner(claim: &PersistentVolumeClaim, owners: &Owners<'_>) -> bool {
    let set = references(claim).iter().find(|reference| refers_to_set(reference, owners)).is_some_and(|reference| reference.uid != owners.set_uid);
    let pod = references(claim).iter().find(|reference| refers_to_pod(reference, owners)).is_some_and(|reference| reference.uid != owners.pod_uid);
    set || pod
}

/// Another controller owns the claim (or a stale set or pod does), under a policy that deletes.
fn has_unexpected_controller(rules: &Rules, claim: &PersistentVolumeClaim, owners: &Owners<'_>) -> bool {
    if !rules.delete_with_set && !rules.delete_when_scaled {
        return false;
    }
    references(claim).iter().any(|reference| {
        if refers_to_set(reference, owners) {
            reference.uid != owners.set_uid
        } else if refers_to_pod(reference, owners) {
            reference.uid != owners.pod_uid
        } else {
            reference.controller == Some(true)
        }
    })
}

/// Kubernetes' `isClaimOwnerUpToDate`.
fn claim_owners_up_to_date(rules: &Rules, claim: &PersistentVolumeClaim, owners: &Owners<'_>) -> bool {
    if has_stale_owner(claim, owners) {
        // Managed by an earlier set or pod of the same name: not ours to touch.
        return true;
    }
    let set_owns = has_owner(claim, owners.set_uid);
    let pod_owns = has_owner(claim, owners.pod_uid);
    if has_unexpected_controller(rules, claim, owners) {
        // Ours go, nothing is added on top of another controller.
        return !set_owns && !pod_owns;
    }
    let not_controller = references(claim)
        .iter()
        .any(|reference| (reference.uid == owners.set_uid || (!owners.pod_uid.is_empty() && reference.uid == owners.pod_uid)) && reference.controller != Some(true));
    if not_controller {
        return false;
    }
    match (rules.delete_when_scaled, rules.delete_with_set) {
        (false, false) => !set_owns && !pod_owns,
        (false, true) => set_owns && !pod_owns,
        (true, false) => !set_owns && owners.scaled_down == pod_owns,
        (true, true) => owners.scaled_down != set_owns && owners.scaled_down == pod_owns,
    }
}

/// The owner references the claim should have: ours scrubbed, then added back as controllers as
/// the policy says (Kubernetes' `updateClaimOwnerRefForSetAndPod`).
fn claim_owner_references(rules: &Rules, claim: &PersistentVolumeClaim, owners: &Owners<'_>) -> Vec<OwnerReference> {
    let unexpected = has_unexpected_controller(rules, claim, owners);
    let mut kept: Vec<OwnerReference> =
        references(claim).iter().filter(|reference| !refers_to_set(reference, owners) && !refers_to_pod(reference, owners)).cloned().collect();
    if unexpected {
        return kept;
    }
    let controller = |api_version: &str, kind: &str, name: &str, uid: &str| OwnerReference {
        api_version: api_version.into(),
        kind: kind.into(),
        name: name.into(),
        uid: uid.into(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    };
    let mut add = |reference: OwnerReference| {
        if !reference.uid.is_empty() && !kept.iter().any(|existing| existing.uid == reference.uid) {
            kept.push(reference);
        }
    };
    let set = controller("apps/v1", "StatefulSet", owners.set_name, owners.set_uid);
    let pod = controller("v1", "Pod", owners.pod_name, owners.pod_uid);
    match (rules.delete_when_scaled, rules.delete_with_set) {
        (false, false) => {}
        (false, true) => add(set),
        (true, false) => {
            if owners.scaled_down {
                add(pod);
            }
        }
        (true, true) => add(if owners.scaled_down { pod } else { set }),
    }
    kept
}

/// Under `whenScaled: Delete`, a claim still owned by an earlier pod of the name (or by any pod,
/// before the pod exists) is waiting for the garbage collector: the pod must not be made on it.
fn claim_is_stale(rules: &Rules, claim: &PersistentVolumeClaim, pod_name: &str, pod_uid: &str) -> bool {
    rules.delete_when_scaled
        && references(claim).iter().any(|reference| reference.api_version == "v1" && reference.kind == "Pod" && reference.name == pod_name && reference.uid != pod_uid)
}

/// The pod of `ordinal` from `template` (a revision's): the template's labels, annotations and
/// finalizers, the revision and identity labels, hostname and subdomain, and a
/// persistentVolumeClaim volume per claim template (replacing a template volume of that name).
fn new_pod(rules: &Rules, set: &StatefulSet, template: &PodTemplateSpec, revision: &str, ordinal: i64) -> Pod {
    let name = rules.pod_name(ordinal);
    let mut pod = framework::pod_from_template(set, template);
    pod.metadata.generate_name = None;
    pod.metadata.name = Some(name.clone());
    pod.metadata.namespace = Some(rules.namespace.clone());
    let labels = pod.metadata.labels.get_or_insert_with(BTreeMap::new);
    labels.insert(HASH_LABEL.into(), revision.into());
    labels.insert(POD_NAME_LABEL.into(), name.clone());
    labels.insert(POD_INDEX_LABEL.into(), ordinal.to_string());
    let mut spec = pod.spec.take().unwrap_or_default();
    spec.hostname = Some(name.clone());
    spec.subdomain = set.spec.as_ref().and_then(|spec| spec.service_name.clone()).filter(|service| !service.is_empty());
    if !rules.claim_templates.is_empty() {
        let claimed: HashSet<&str> = rules.claim_templates.iter().filter_map(|template| template.metadata.name.as_deref()).collect();
        let mut volumes: Vec<Volume> = rules
            .claim_templates
            .iter()
            .map(|claim| Volume {
                name: claim.metadata.name.clone().unwrap_or_default(),
                persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource { claim_name: rules.claim_name(claim, ordinal), read_only: None }),
                ..Volume::default()
            })
            .collect();
        volumes.extend(spec.volumes.take().unwrap_or_default().into_iter().filter(|volume| !claimed.contains(volume.name.as_str())));
        spec.volumes = Some(volumes);
    }
    pod.spec = Some(spec);
    pod
}

/// The message of an apiserver answer, as client-go prints an error.
fn error_text(error: &kube::Error) -> String {
    match error {
        kube::Error::Api(status) if !status.message.is_empty() => status.message.clone(),
        other => other.to_string(),
    }
}

/// Errors as Kubernetes aggregates them: one alone, several in brackets.
fn aggregate(errors: &[String]) -> String {
    match errors {
        [one] => one.clone(),
        many => format!("[{}]", many.join(", ")),
    }
}

/// What one sync works from.
struct Sync<'a> {
    set: &'a StatefulSet,
    rules: Rules,
    pods: HashMap<String, Arc<Pod>>,
    /// The namespace's claims by name; empty (and never read) without claim templates.
    claims: BTreeMap<String, PersistentVolumeClaim>,
    current: (String, PodTemplateSpec),
    update: (String, PodTemplateSpec),
    pods_api: Api<Pod>,
    claims_api: Api<PersistentVolumeClaim>,
}

impl Sync<'_> {
    fn owners<'b>(&'b self, pod_name: &'b str, pod_uid: &'b str, ordinal: i64) -> Owners<'b> {
        Owners { set_name: &self.rules.name, set_uid: &self.rules.uid, pod_name, pod_uid, scaled_down: !self.rules.in_range(ordinal) }
    }

    /// Whether every existing claim of the pod is owned as the policy says.
    fn claims_ok(&self, pod_name: &str, pod_uid: &str, ordinal: i64) -> bool {
        let owners = self.owners(pod_name, pod_uid, ordinal);
        self.rules
            .claim_templates
            .iter()
            .filter_map(|template| self.claims.get(&self.rules.claim_name(template, ordinal)))
            .all(|claim| claim_owners_up_to_date(&self.rules, claim, &owners))
    }

    fn member(&self, pod: &Pod, ordinal: i64, now: jiff::Timestamp) -> Member {
        let name = pod.metadata.name.clone().unwrap_or_default();
        let uid = pod.metadata.uid.as_deref().unwrap_or_default();
        let labels = pod.metadata.labels.clone().unwrap_or_default();
        let phase = pod.status.as_ref().and_then(|status| status.phase.clone()).unwrap_or_default();
        Member {
            revision: labels.get(HASH_LABEL).cloned().unwrap_or_default(),
            running_and_ready: phase == "Running" && ready_since(pod).is_some(),
            available: is_available(pod, self.rules.min_ready, now),
            terminating: pod.metadata.deletion_timestamp.is_some(),
            identity_ok: labels.get(POD_NAME_LABEL) == Some(&name),
            claims_ok: self.claims_ok(&name, uid, ordinal),
            claims_missing: self.rules.claim_templates.iter().any(|template| !self.claims.contains_key(&self.rules.claim_name(template, ordinal))),
            phase,
            name,
            ordinal,
        }
    }

    fn stale_claims(&self, ordinal: i64) -> bool {
        let pod_name = self.rules.pod_name(ordinal);
        self.rules
            .claim_templates
            .iter()
            .filter_map(|template| self.claims.get(&self.rules.claim_name(template, ordinal)))
            .any(|claim| claim_is_stale(&self.rules, claim, &pod_name, ""))
    }
}

async fn reconcile(set: Arc<StatefulSet>, controller: Arc<Controller>) -> Result<Action, ReconcileError> {
    let context = &controller.context;
    let rules = Rules::of(&set);
    let Some(selector) = selector_of(&set) else {
        // An unreadable selector does not heal by retrying; the next change of the set is looked at.
        return Ok(Action::requeue(framework::RESYNC));
    };
    let deleting = set.metadata.deletion_timestamp.is_some();

    // History: the revisions of the set (adopting orphans its selector matches), the one of the
    // template now (created, found or renumbered), and the one the pods were at.
    let mut revisions = history::owned(context, &*set);
    if !deleting {
        revisions.extend(controller.adopt_revisions(&set, &selector).await?);
        revisions.sort_by(|left, right| left.revision.cmp(&right.revision).then_with(|| left.metadata.name.cmp(&right.metadata.name)));
    }
    let template = set.spec.as_ref().map(|spec| spec.template.clone()).unwrap_or_default();
    let mut collisions = set.status.as_ref().and_then(|status| status.collision_count).unwrap_or(0);
    let labels = template.metadata.as_ref().and_then(|meta| meta.labels.clone()).unwrap_or_default();
    let update_revision = loop {
        let owner = history::Owner { object: &*set, labels: labels.clone(), collisions };
        match history::record(context, &owner, &revisions, history::patch_of(&template)).await? {
            history::Recorded::Revision(revision) => break revision,
            history::Recorded::Collision if collisions < MAX_COLLISIONS => collisions += 1,
            history::Recorded::Collision => return Err(ReconcileError::Other(format!("{} revision names in a row are taken by other data", MAX_COLLISIONS))),
        }
    };
    let stored_current = set.status.as_ref().and_then(|status| status.current_revision.as_deref());
    let current_revision = revisions.iter().find(|revision| revision.metadata.name.as_deref() == stored_current).cloned().unwrap_or_else(|| update_revision.clone());
    let template_of = |revision: &ControllerRevision| {
        let name = revision.metadata.name.clone().unwrap_or_default();
        history::template_of(revision).map(|template| (name.clone(), template)).ok_or_else(|| ReconcileError::Other(format!("revision {name} holds no pod template")))
    };

    let pods_api: Api<Pod> = Api::namespaced(context.client.clone(), &rules.namespace);
    let owned = controller.claim_pods(&set, &rules, &selector, &pods_api, deleting).await?;
    // Claims are read only for sets that have claim templates; a namespace whose claims cannot be
    // listed (not served yet) has none, and creating one then fails as it should.
    let claims_api: Api<PersistentVolumeClaim> = Api::namespaced(context.client.clone(), &rules.namespace);
    let mut claims = BTreeMap::new();
    if !rules.claim_templates.is_empty() {
        match claims_api.list(&ListParams::default()).await {
            Ok(list) => claims = list.items.into_iter().filter_map(|claim| Some((claim.metadata.name.clone()?, claim))).collect(),
            Err(err) if framework::answered(&err, &[404]) => {}
            Err(err) => return Err(err.into()),
        }
    }
    let sync = Sync {
        set: &set,
        rules,
        pods: owned.iter().filter_map(|pod| Some((pod.metadata.name.clone()?, pod.clone()))).collect(),
        claims,
        current: template_of(&current_revision)?,
        update: template_of(&update_revision)?,
        pods_api,
        claims_api,
    };
    let now = jiff::Timestamp::now();
    let members: Vec<Member> = owned
        .iter()
        .filter_map(|pod| {
            let (_, ordinal) = parent_and_ordinal(pod.metadata.name.as_deref()?)?;
            Some(sync.member(pod, i64::from(ordinal), now))
        })
        .collect();

    let mut outcome = Ok(false);
    if !deleting {
        let steps = plan(&sync.rules, &members, &sync.update.0, &|ordinal| sync.stale_claims(ordinal));
        outcome = controller.carry_out(&sync, steps).await;
    }

    let mut counts = count(&members, &sync.current.0, &sync.update.0);
    if matches!(outcome, Ok(true)) {
        // The pod just deleted for the update is no longer current (as Kubernetes counts it).
        counts.current -= 1;
    }
    let status = status_of(&sync.rules, &counts, &sync.current.0, &sync.update.0, collisions, set.metadata.generation);
    if status_differs(set.status.as_ref(), &status) {
        let sets: Api<StatefulSet> = Api::namespaced(context.client.clone(), &sync.rules.namespace);
        let patch = json!({"status": {
            "replicas": status.replicas, "readyReplicas": status.ready_replicas, "availableReplicas": status.available_replicas,
            "currentReplicas": status.current_replicas, "updatedReplicas": status.updated_replicas,
            "currentRevision": status.current_revision, "updateRevision": status.update_revision,
            "observedGeneration": status.observed_generation, "collisionCount": status.collision_count,
        }});
        match sets.patch_status(&sync.rules.name, &PatchParams::default(), &Patch::Merge(patch)).await {
            Err(err) if !framework::answered(&err, &[404]) => return Err(err.into()),
            _ => {}
        }
    }

    // Keep revisionHistoryLimit revisions besides those in use (by a pod, or current or update).
    let limit = set.spec.as_ref().and_then(|spec| spec.revision_history_limit).unwrap_or(DEFAULT_HISTORY_LIMIT);
    if limit >= 0 {
        let mut in_use: HashSet<String> = owned.iter().filter_map(|pod| pod.metadata.labels.as_ref()?.get(HASH_LABEL).cloned()).collect();
        in_use.insert(sync.current.0.clone());
        in_use.insert(sync.update.0.clone());
        history::truncate(context, &revisions, &in_use, limit).await?;
    }
    outcome?;

    // Pods that turn available once minReadySeconds have passed need a look then.
    if !sync.rules.min_ready.is_zero() && counts.ready > counts.available {
        return Ok(Action::requeue(sync.rules.min_ready.max(Duration::from_secs(1))));
    }
    Ok(Action::requeue(framework::RESYNC))
}

impl Controller {
    /// Orphaned revisions the selector matches become the set's (after `kubectl delete
    /// --cascade=orphan` and a new set of the name).
    async fn adopt_revisions(&self, set: &StatefulSet, selector: &LabelSelector) -> Result<Vec<Arc<ControllerRevision>>, ReconcileError> {
        if selector.is_empty() {
            return Ok(Vec::new());
        }
        let namespace = set.metadata.namespace.clone().unwrap_or_default();
        let api: Api<ControllerRevision> = Api::namespaced(self.context.client.clone(), &namespace);
        let no_labels = BTreeMap::new();
        let mut adopted = Vec::new();
        for revision in self.context.controller_revisions.store().state() {
            let orphan = !revision.metadata.owner_references.iter().flatten().any(|owner| owner.controller == Some(true));
            if revision.metadata.namespace.as_deref() != Some(namespace.as_str())
                || !orphan
                || revision.metadata.deletion_timestamp.is_some()
                || !selector.matches(revision.metadata.labels.as_ref().unwrap_or(&no_labels))
            {
                continue;
            }
            let mut references = revision.metadata.owner_references.clone().unwrap_or_default();
            references.push(framework::controller_reference(set));
            let patch = json!({"metadata": {"ownerReferences": references, "resourceVersion": revision.metadata.resource_version}});
            match api.patch(revision.metadata.name.as_deref().unwrap_or_default(), &PatchParams::default(), &Patch::Merge(patch)).await {
                Ok(revision) => adopted.push(Arc::new(revision)),
                Err(err) if framework::answered(&err, &[404, 409]) => {}
                Err(err) => return Err(err.into()),
            }
        }
        Ok(adopted)
    }

    /// The set's pods: those it controls that its selector matches and that are named as its
    /// members; orphans like that are adopted, and controlled pods that are not are released
    /// (Kubernetes' ClaimPods with the `isMemberOf` filter).
    async fn claim_pods(&self, set: &StatefulSet, rules: &Rules, selector: &LabelSelector, pods_api: &Api<Pod>, deleting: bool) -> Result<Vec<Arc<Pod>>, ReconcileError> {
        let no_labels = BTreeMap::new();
        let mut owned = Vec::new();
        for pod in self.context.pods.store().state() {
            if pod.metadata.namespace.as_deref() != Some(rules.namespace.as_str()) {
                continue;
            }
            let controller_ref = pod.metadata.owner_references.iter().flatten().find(|owner| owner.controller == Some(true));
            if controller_ref.is_some_and(|owner| owner.uid != rules.uid) {
                continue;
            }
            let pod_name = pod.metadata.name.clone().unwrap_or_default();
            let member = parent_of(&pod_name) == Some(rules.name.as_str());
            let matches = member && !selector.is_empty() && selector.matches(pod.metadata.labels.as_ref().unwrap_or(&no_labels));
            match controller_ref {
                Some(_) if matches => owned.push(pod),
                Some(_) => {
                    let references: Vec<&OwnerReference> = pod.metadata.owner_references.iter().flatten().filter(|owner| owner.uid != rules.uid).collect();
                    let patch = json!({"metadata": {"ownerReferences": references, "resourceVersion": pod.metadata.resource_version}});
                    match pods_api.patch(&pod_name, &PatchParams::default(), &Patch::Merge(patch)).await {
                        Err(err) if !framework::answered(&err, &[404, 409]) => return Err(err.into()),
                        _ => tracing::info!(namespace = %rules.namespace, name = %rules.name, pod = %pod_name, "released pod"),
                    }
                }
                None if matches && !deleting && pod.metadata.deletion_timestamp.is_none() => {
                    let mut references = pod.metadata.owner_references.clone().unwrap_or_default();
                    references.push(framework::controller_reference(set));
                    let patch = json!({"metadata": {"ownerReferences": references, "resourceVersion": pod.metadata.resource_version}});
                    match pods_api.patch(&pod_name, &PatchParams::default(), &Patch::Merge(patch)).await {
                        Ok(adopted) => owned.push(Arc::new(adopted)),
                        Err(err) if framework::answered(&err, &[404, 409]) => {}
                        Err(err) => return Err(err.into()),
                    }
                }
                None => {}
            }
        }
        Ok(owned)
    }

    /// Carries out the phases of a plan; stops at the first phase with an error. Ok(true) when
    /// a pod was deleted for the rolling update.
    async fn carry_out(&self, sync: &Sync<'_>, phases: Vec<Vec<Step>>) -> Result<bool, ReconcileError> {
        let mut updated = false;
        for steps in phases {
            if sync.rules.monotonic {
                for step in &steps {
                    self.take(sync, step).await?;
                }
            } else {
                // Built before they are streamed: a closure in the stream would make this future's
                // Send-ness depend on a lifetime the compiler cannot generalise.
                let writes: Vec<_> = steps.iter().map(|step| self.take(sync, step)).collect();
                let results: Vec<Result<(), ReconcileError>> = futures::stream::iter(writes).buffer_unordered(BURST).collect().await;
                results.into_iter().collect::<Result<Vec<()>, _>>()?;
            }
            updated |= steps.iter().any(|step| matches!(step, Step::Update(_)));
        }
        Ok(updated)
    }

    async fn take(&self, sync: &Sync<'_>, step: &Step) -> Result<(), ReconcileError> {
        let pod = |name: &str| sync.pods.get(name).cloned().ok_or_else(|| ReconcileError::Other(format!("pod {name} left the plan's view")));
        match step {
            Step::Create { ordinal, at_update } => {
                let (revision, template) = if *at_update { &sync.update } else { &sync.current };
                let pod = new_pod(&sync.rules, sync.set, template, revision, *ordinal);
                self.create_pod(sync, pod, *ordinal).await
            }
            Step::DeleteFinished(name) | Step::ScaleDown(name) | Step::Update(name) => self.delete_pod(sync, &*pod(name)?).await,
            Step::CreateClaims(name) => {
                let pod = pod(name)?;
                let ordinal = ordinal_of(&pod);
                let created = self.create_claims(sync, name, ordinal).await.map_err(ReconcileError::Other)?;
                if let Err(err) = self.fit_claims(sync, &pod, ordinal, &created).await {
                    self.pod_event(sync, "Warning", "FailedUpdate", &format!("update Pod {name} in StatefulSet {} failed error: {err}", sync.rules.name)).await;
                    return Err(err);
                }
                Ok(())
            }
            Step::Repair(name) => self.repair(sync, &*pod(name)?).await,
            Step::ReleaseClaims(name) => {
                let pod = pod(name)?;
                self.fit_claims(sync, &pod, ordinal_of(&pod), &BTreeMap::new()).await
            }
        }
    }

    /// Creates the pod's claims, then the pod (Kubernetes' `CreateStatefulPod`): a claim that
    /// cannot be made (the apiserver may not serve claims yet) leaves the pod uncreated.
    async fn create_pod(&self, sync: &Sync<'_>, pod: Pod, ordinal: i64) -> Result<(), ReconcileError> {
        let (set_name, pod_name) = (&sync.rules.name, pod.metadata.name.clone().unwrap_or_default());
        let created_claims = match self.create_claims(sync, &pod_name, ordinal).await {
            Ok(created) => created,
            Err(message) => {
                self.pod_event(sync, "Warning", "FailedCreate", &format!("create Pod {pod_name} in StatefulSet {set_name} failed error: {message}")).await;
                return Err(ReconcileError::Other(message));
            }
        };
        match sync.pods_api.create(&PostParams::default(), &pod).await {
            Ok(created) => {
                tracing::info!(namespace = %sync.rules.namespace, name = %set_name, pod = %pod_name, "created pod");
                if let Err(err) = self.fit_claims(sync, &created, ordinal, &created_claims).await {
                    self.pod_event(sync, "Warning", "FailedUpdate", &format!("update Pod {pod_name} in StatefulSet {set_name} failed error: {err}")).await;
                    return Err(err);
                }
                self.pod_event(sync, "Normal", "SuccessfulCreate", &format!("create Pod {pod_name} in StatefulSet {set_name} successful")).await;
                Ok(())
            }
            // There already (the cache has not seen it yet, or the old one is still going).
            Err(err) if framework::answered(&err, &[409]) => Ok(()),
            Err(err) => {
                let text = error_text(&err);
                self.pod_event(sync, "Warning", "FailedCreate", &format!("create Pod {pod_name} in StatefulSet {set_name} failed error: {text}")).await;
                Err(err.into())
            }
        }
    }

    /// Creates the claims of `ordinal` that do not exist; the ones made are returned by name.
    /// Errors are aggregated as Kubernetes does, each with its claim event.
    async fn create_claims(&self, sync: &Sync<'_>, pod_name: &str, ordinal: i64) -> Result<BTreeMap<String, PersistentVolumeClaim>, String> {
        let set_name = &sync.rules.name;
        let mut errors = Vec::new();
        let mut created = BTreeMap::new();
        for claim in sync.rules.claims(ordinal) {
            let claim_name = claim.metadata.name.clone().unwrap_or_default();
            if let Some(existing) = sync.claims.get(&claim_name) {
                if existing.metadata.deletion_timestamp.is_some() {
                    errors.push(format!("pvc {claim_name} is being deleted"));
                }
                continue;
            }
            match sync.claims_api.create(&PostParams::default(), &claim).await {
                Ok(made) => {
                    tracing::info!(namespace = %sync.rules.namespace, name = %set_name, claim = %claim_name, "created claim");
                    self.pod_event(sync, "Normal", "SuccessfulCreate", &format!("create Claim {claim_name} Pod {pod_name} in StatefulSet {set_name} success")).await;
                    created.insert(claim_name, made);
                }
                Err(err) if framework::answered(&err, &[409]) => {}
                Err(err) => {
                    let text = error_text(&err);
                    self.pod_event(sync, "Warning", "FailedCreate", &format!("create Claim {claim_name} for Pod {pod_name} in StatefulSet {set_name} failed error: {text}"))
                        .await;
                    errors.push(format!("failed to create PVC {claim_name}: {text}"));
                }
            }
        }
        if errors.is_empty() { Ok(created) } else { Err(aggregate(&errors)) }
    }

    /// Sets the owners of the pod's claims as the retention policy wants them (Kubernetes'
    /// `UpdatePodClaimForRetentionPolicy`); a claim not there yet is left for a later sync.
    async fn fit_claims(&self, sync: &Sync<'_>, pod: &Pod, ordinal: i64, created: &BTreeMap<String, PersistentVolumeClaim>) -> Result<(), ReconcileError> {
        let pod_name = pod.metadata.name.as_deref().unwrap_or_default();
        let owners = sync.owners(pod_name, pod.metadata.uid.as_deref().unwrap_or_default(), ordinal);
        for template in &sync.rules.claim_templates {
            let claim_name = sync.rules.claim_name(template, ordinal);
            let Some(claim) = created.get(&claim_name).or_else(|| sync.claims.get(&claim_name)) else { continue };
            if has_unexpected_controller(&sync.rules, claim, &owners) {
                let message = format!(
                    "update Claim {claim_name} for Pod {pod_name} in StatefulSet {} failed error: PersistentVolumeClaim {claim_name} has a conflicting OwnerReference that acts as a managing controller, the retention policy is ignored for this claim",
                    sync.rules.name
                );
                self.pod_event(sync, "Warning", "FailedUpdate", &message).await;
            }
            if claim_owners_up_to_date(&sync.rules, claim, &owners) {
                continue;
            }
            let references = claim_owner_references(&sync.rules, claim, &owners);
            let patch = json!({"metadata": {"ownerReferences": references, "resourceVersion": claim.metadata.resource_version}});
            match sync.claims_api.patch(&claim_name, &PatchParams::default(), &Patch::Merge(patch)).await {
                Ok(_) => tracing::info!(namespace = %sync.rules.namespace, name = %sync.rules.name, claim = %claim_name, "claim owners set for the retention policy"),
                Err(err) if framework::answered(&err, &[404]) => {}
                Err(err) => return Err(ReconcileError::Other(format!("could not update claim {claim_name} for delete policy ownerRefs: {}", error_text(&err)))),
            }
        }
        Ok(())
    }

    /// Puts back the pod's identity labels and its claims' owners (Kubernetes'
    /// `UpdateStatefulPod`; the volumes of a pod cannot change, so they are not tried).
    async fn repair(&self, sync: &Sync<'_>, pod: &Pod) -> Result<(), ReconcileError> {
        let pod_name = pod.metadata.name.clone().unwrap_or_default();
        let ordinal = ordinal_of(pod);
        let result = async {
            if pod.metadata.labels.as_ref().and_then(|labels| labels.get(POD_NAME_LABEL)) != Some(&pod_name) {
                let patch = json!({"metadata": {"labels": {POD_NAME_LABEL: pod_name, POD_INDEX_LABEL: ordinal.to_string()}}});
                match sync.pods_api.patch(&pod_name, &PatchParams::default(), &Patch::Merge(patch)).await {
                    Err(err) if !framework::answered(&err, &[404]) => return Err(ReconcileError::from(err)),
                    _ => {}
                }
            }
            self.fit_claims(sync, pod, ordinal, &BTreeMap::new()).await
        }
        .await;
        let set_name = &sync.rules.name;
        match &result {
            Ok(()) => self.pod_event(sync, "Normal", "SuccessfulUpdate", &format!("update Pod {pod_name} in StatefulSet {set_name} successful")).await,
            Err(err) => self.pod_event(sync, "Warning", "FailedUpdate", &format!("update Pod {pod_name} in StatefulSet {set_name} failed error: {err}")).await,
        }
        result
    }

    /// Deletes the pod seen, not one that replaced it since: the uid is a precondition.
    async fn delete_pod(&self, sync: &Sync<'_>, pod: &Pod) -> Result<(), ReconcileError> {
        let (set_name, pod_name) = (&sync.rules.name, pod.metadata.name.clone().unwrap_or_default());
        let params = DeleteParams { preconditions: Some(Preconditions { uid: pod.metadata.uid.clone(), resource_version: None }), ..DeleteParams::default() };
        match sync.pods_api.delete(&pod_name, &params).await {
            Ok(_) => {
                tracing::info!(namespace = %sync.rules.namespace, name = %set_name, pod = %pod_name, "deleted pod");
                self.pod_event(sync, "Normal", "SuccessfulDelete", &format!("delete Pod {pod_name} in StatefulSet {set_name} successful")).await;
                Ok(())
            }
            // Gone already, or replaced by a pod this sync did not see.
            Err(err) if framework::answered(&err, &[404, 409]) => Ok(()),
            Err(err) => {
                let text = error_text(&err);
                self.pod_event(sync, "Warning", "FailedDelete", &format!("delete Pod {pod_name} in StatefulSet {set_name} failed error: {text}")).await;
                Err(err.into())
            }
        }
    }

    async fn pod_event(&self, sync: &Sync<'_>, kind: &str, reason: &str, message: &str) {
        if let Err(err) = self.recorder.record(&common::events::reference(sync.set), kind, reason, "Reconcile", message).await {
            tracing::debug!(namespace = %sync.rules.namespace, name = %sync.rules.name, error = %err, "cannot record event");
        }
    }
}

fn ordinal_of(pod: &Pod) -> i64 {
    pod.metadata.name.as_deref().and_then(parent_and_ordinal).map_or(-1, |(_, ordinal)| i64::from(ordinal))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn set(spec: serde_json::Value) -> StatefulSet {
        let mut body = json!({"metadata": {"name": "web", "namespace": "ns", "uid": "set-uid"},
            "spec": {"serviceName": "web", "selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}});
        if let (Some(target), serde_json::Value::Object(extra)) = (body["spec"].as_object_mut(), spec) {
            target.extend(extra);
        }
        serde_json::from_value(body).unwrap()
    }

    fn member(ordinal: i64, revision: &str, state: &str) -> Member {
        Member {
            name: format!("web-{ordinal}"),
            ordinal,
            revision: revision.into(),
            phase: if matches!(state, "pending") { "Pending" } else if state == "failed" { "Failed" } else { "Running" }.into(),
            running_and_ready: matches!(state, "ready" | "terminating"),
            available: matches!(state, "ready" | "terminating"),
            terminating: state == "terminating",
            identity_ok: true,
            claims_ok: true,
            claims_missing: false,
        }
    }

    fn planned(rules: &Rules, members: &[Member]) -> Vec<Step> {
        plan(rules, members, "rev-2", &|_| false).into_iter().flatten().collect()
    }

    fn create(ordinal: i64) -> Step {
        Step::Create { ordinal, at_update: true }
    }

    #[test]
    fn pod_names_carry_their_parent_and_ordinal() {
        assert_eq!(parent_and_ordinal("web-0"), Some(("web", 0)));
        assert_eq!(parent_and_ordinal("my-web-12"), Some(("my-web", 12)));
        assert_eq!(parent_and_ordinal("web-01"), None);
        assert_eq!(parent_and_ordinal("web-"), None);
        assert_eq!(parent_and_ordinal("web"), None);
        assert_eq!(parent_and_ordinal("web-x1"), None);
        assert_eq!(parent_and_ordinal("web-99999999999"), None);
    }

    #[test]
    fn ordered_ready_creates_one_ordinal_at_a_time_after_the_lower_ones_are_ready() {
        let rules = Rules::of(&set(json!({"replicas": 3})));
        assert_eq!(planned(&rules, &[]), [create(0)]);
        assert_eq!(planned(&rules, &[member(0, "rev-2", "pending")]), []);
        assert_eq!(planned(&rules, &[member(0, "rev-2", "running")]), [], "running but not ready");
        assert_eq!(planned(&rules, &[member(0, "rev-2", "ready")]), [create(1)]);
        assert_eq!(planned(&rules, &[member(0, "rev-2", "ready"), member(1, "rev-2", "ready")]), [create(2)]);
        // A hole below is filled first, and waits for nothing above it.
        assert_eq!(planned(&rules, &[member(1, "rev-2", "ready"), member(2, "rev-2", "ready")]), [create(0)]);
        let all: Vec<Member> = (0..3).map(|ordinal| member(ordinal, "rev-2", "ready")).collect();
        assert_eq!(planned(&rules, &all), []);
    }

    #[test]
    fn ordered_ready_waits_for_min_ready_seconds() {
        let rules = Rules::of(&set(json!({"replicas": 2, "minReadySeconds": 10})));
        let mut first = member(0, "rev-2", "ready");
        first.available = false;
        assert_eq!(planned(&rules, &[first.clone()]), []);
        first.available = true;
        assert_eq!(planned(&rules, &[first]), [create(1)]);
    }

    #[test]
    fn parallel_creates_and_deletes_all_at_once() {
        let rules = Rules::of(&set(json!({"replicas": 3, "podManagementPolicy": "Parallel"})));
        assert_eq!(planned(&rules, &[]), [create(0), create(1), create(2)]);
        assert_eq!(planned(&rules, &[member(1, "rev-2", "pending")]), [create(0), create(2)]);
        let rules = Rules::of(&set(json!({"replicas": 1, "podManagementPolicy": "Parallel"})));
        let pods = [member(0, "rev-2", "pending"), member(1, "rev-2", "ready"), member(2, "rev-2", "pending")];
        assert_eq!(planned(&rules, &pods), [Step::ScaleDown("web-2".into()), Step::ScaleDown("web-1".into())]);
    }

    #[test]
    fn ordered_ready_scales_down_from_the_highest_one_at_a_time() {
        let rules = Rules::of(&set(json!({"replicas": 1})));
        let ready: Vec<Member> = (0..3).map(|ordinal| member(ordinal, "rev-2", "ready")).collect();
        assert_eq!(planned(&rules, &ready), [Step::ScaleDown("web-2".into())]);
        // While web-2 terminates, web-1 waits.
        let going = [member(0, "rev-2", "ready"), member(1, "rev-2", "ready"), member(2, "rev-2", "terminating")];
        assert_eq!(planned(&rules, &going), []);
        // An unhealthy replica holds the scale-down back.
        let unhealthy = [member(0, "rev-2", "running"), member(1, "rev-2", "ready"), member(2, "rev-2", "ready")];
        assert_eq!(planned(&rules, &unhealthy), []);
        // The first unhealthy pod may go although unhealthy; another unhealthy one blocks.
        let broken_top = [member(0, "rev-2", "ready"), member(1, "rev-2", "ready"), member(2, "rev-2", "pending")];
        assert_eq!(planned(&rules, &broken_top), [Step::ScaleDown("web-2".into())]);
        let broken_both = [member(0, "rev-2", "ready"), member(1, "rev-2", "pending"), member(2, "rev-2", "pending")];
        assert_eq!(planned(&rules, &broken_both), [], "web-1 is the first unhealthy, web-2 above it waits");
    }

    #[test]
    fn a_failed_pod_is_deleted_and_made_again_once_gone() {
        let rules = Rules::of(&set(json!({"replicas": 2})));
        assert_eq!(planned(&rules, &[member(0, "rev-2", "failed"), member(1, "rev-2", "ready")]), [Step::DeleteFinished("web-0".into())]);
        let mut going = member(0, "rev-2", "failed");
        going.terminating = true;
        assert_eq!(planned(&rules, &[going, member(1, "rev-2", "ready")]), []);
        assert_eq!(planned(&rules, &[member(1, "rev-2", "ready")]), [create(0)]);
    }

    #[test]
    fn a_rolling_update_goes_from_the_highest_ordinal_down_to_the_partition() {
        let rules = Rules::of(&set(json!({"replicas": 3})));
        let old: Vec<Member> = (0..3).map(|ordinal| member(ordinal, "rev-1", "ready")).collect();
        assert_eq!(planned(&rules, &old), [Step::Update("web-2".into())]);
        // The replacement of web-2 must be back and healthy before web-1 goes.
        let replaced = [member(0, "rev-1", "ready"), member(1, "rev-1", "ready"), member(2, "rev-2", "pending")];
        assert_eq!(planned(&rules, &replaced), []);
        let next = [member(0, "rev-1", "ready"), member(1, "rev-1", "ready"), member(2, "rev-2", "ready")];
        assert_eq!(planned(&rules, &next), [Step::Update("web-1".into())]);

        let rules = Rules::of(&set(json!({"replicas": 3, "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 2}}})));
        assert_eq!(planned(&rules, &old), [Step::Update("web-2".into())]);
        assert_eq!(planned(&rules, &next), [], "below the partition pods stay at the current revision");
        // A pod below the partition is made again from the current revision, above it from the update.
        assert_eq!(planned(&rules, &[]), [Step::Create { ordinal: 0, at_update: false }]);
        assert_eq!(planned(&rules, &[member(0, "rev-1", "ready"), member(1, "rev-1", "ready")]), [Step::Create { ordinal: 2, at_update: true }]);
    }

    #[test]
    fn on_delete_recreates_at_the_update_revision_and_deletes_nothing() {
        let rules = Rules::of(&set(json!({"replicas": 2, "updateStrategy": {"type": "OnDelete"}})));
        assert_eq!(planned(&rules, &[member(0, "rev-1", "ready"), member(1, "rev-1", "ready")]), []);
        assert_eq!(planned(&rules, &[member(0, "rev-1", "ready")]), [create(1)]);
    }

    #[test]
    fn ordinals_start_where_the_spec_says() {
        let rules = Rules::of(&set(json!({"replicas": 2, "ordinals": {"start": 5}})));
        assert_eq!(planned(&rules, &[]), [create(5)]);
        let pods = [member(0, "rev-2", "ready"), member(5, "rev-2", "ready"), member(6, "rev-2", "ready")];
        assert_eq!(planned(&rules, &pods), [Step::ScaleDown("web-0".into())]);
    }

    #[test]
    fn a_stale_claim_holds_the_pod_back() {
        let rules = Rules::of(&set(json!({"replicas": 2})));
        let steps: Vec<Step> = plan(&rules, &[], "rev-2", &|ordinal| ordinal == 0).into_iter().flatten().collect();
        assert_eq!(steps, []);
    }

    #[test]
    fn the_rolling_update_completes_when_every_replica_is_updated_and_ready() {
        let rules = Rules::of(&set(json!({"replicas": 2})));
        let done = [member(0, "rev-2", "ready"), member(1, "rev-2", "ready")];
        let counts = count(&done, "rev-1", "rev-2");
        assert_eq!(counts, Counts { replicas: 2, ready: 2, available: 2, current: 0, updated: 2 });
        let status = status_of(&rules, &counts, "rev-1", "rev-2", 0, Some(3));
        assert_eq!((status.current_revision.as_deref(), status.current_replicas, status.observed_generation), (Some("rev-2"), Some(2), Some(3)));
        let halfway = [member(0, "rev-1", "ready"), member(1, "rev-2", "ready")];
        let status = status_of(&rules, &count(&halfway, "rev-1", "rev-2"), "rev-1", "rev-2", 0, Some(3));
        assert_eq!((status.current_revision.as_deref(), status.current_replicas, status.updated_replicas), (Some("rev-1"), Some(1), Some(1)));
        assert!(!status_differs(Some(&status), &status));
        assert!(status_differs(None, &status));
        let on_delete = Rules::of(&set(json!({"replicas": 2, "updateStrategy": {"type": "OnDelete"}})));
        let status = status_of(&on_delete, &count(&done, "rev-1", "rev-2"), "rev-1", "rev-2", 0, None);
        assert_eq!(status.current_revision.as_deref(), Some("rev-1"), "OnDelete never completes, as in Kubernetes");
    }

    #[test]
    fn a_new_pod_has_its_identity_revision_and_claims() {
        let set = set(json!({"replicas": 1, "volumeClaimTemplates": [{"metadata": {"name": "data", "labels": {"tier": "db"}}, "spec": {"accessModes": ["ReadWriteOnce"]}}]}));
        let rules = Rules::of(&set);
        let template: PodTemplateSpec = serde_json::from_value(json!({"metadata": {"labels": {"app": "web"}, "annotations": {"a": "b"}},
            "spec": {"containers": [{"name": "c", "image": "busybox"}], "volumes": [{"name": "data", "emptyDir": {}}, {"name": "scratch", "emptyDir": {}}]}}))
        .unwrap();
        let pod = new_pod(&rules, &set, &template, "web-abc", 3);
        let value = serde_json::to_value(&pod).unwrap();
        assert_eq!(value["metadata"]["name"], "web-3");
        assert_eq!(value["metadata"]["labels"], json!({"app": "web", HASH_LABEL: "web-abc", POD_NAME_LABEL: "web-3", POD_INDEX_LABEL: "3"}));
        assert_eq!(value["metadata"]["annotations"], json!({"a": "b"}));
        assert_eq!(value["metadata"]["ownerReferences"][0]["kind"], "StatefulSet");
        assert_eq!(value["metadata"]["ownerReferences"][0]["controller"], true);
        assert_eq!((value["spec"]["hostname"].as_str(), value["spec"]["subdomain"].as_str()), (Some("web-3"), Some("web")));
        assert_eq!(value["spec"]["volumes"], json!([{"name": "data", "persistentVolumeClaim": {"claimName": "data-web-3"}}, {"name": "scratch", "emptyDir": {}}]));
        let claims = serde_json::to_value(rules.claims(3)).unwrap();
        assert_eq!(claims[0]["metadata"]["name"], "data-web-3");
        assert_eq!(claims[0]["metadata"]["labels"], json!({"app": "web", "tier": "db"}));
        // Without claim templates the template's volumes are left as they are.
        let plain = self::set(json!({"replicas": 1}));
        let pod = new_pod(&Rules::of(&plain), &plain, &template, "web-abc", 0);
        assert_eq!(pod.spec.unwrap().volumes.unwrap().len(), 2);
    }

    fn claim(owners: serde_json::Value) -> PersistentVolumeClaim {
        serde_json::from_value(json!({"metadata": {"name": "data-web-2", "ownerReferences": owners}})).unwrap()
    }

    fn owned_by(kind: &str, name: &str, uid: &str) -> serde_json::Value {
        let api_version = if kind == "Pod" { "v1" } else { "apps/v1" };
        json!({"apiVersion": api_version, "kind": kind, "name": name, "uid": uid, "controller": true, "blockOwnerDeletion": true})
    }

    #[test]
    fn claim_owners_follow_the_retention_policy() {
        let policy = |deleted: &str, scaled: &str| Rules::of(&set(json!({"persistentVolumeClaimRetentionPolicy": {"whenDeleted": deleted, "whenScaled": scaled}})));
        let owners = |scaled_down| Owners { set_name: "web", set_uid: "set-uid", pod_name: "web-2", pod_uid: "pod-uid", scaled_down };
        let bare = claim(json!([]));
        let by_set = claim(json!([owned_by("StatefulSet", "web", "set-uid")]));
        let by_pod = claim(json!([owned_by("Pod", "web-2", "pod-uid")]));

        let retain = policy("Retain", "Retain");
        assert!(claim_owners_up_to_date(&retain, &bare, &owners(false)));
        assert!(!claim_owners_up_to_date(&retain, &by_set, &owners(false)));
        assert_eq!(claim_owner_references(&retain, &by_set, &owners(false)), []);

        let with_set = policy("Delete", "Retain");
        assert!(!claim_owners_up_to_date(&with_set, &bare, &owners(false)));
        assert!(claim_owners_up_to_date(&with_set, &by_set, &owners(true)));
        let references = claim_owner_references(&with_set, &bare, &owners(false));
        assert_eq!(serde_json::to_value(&references).unwrap(), json!([owned_by("StatefulSet", "web", "set-uid")]));

        let when_scaled = policy("Retain", "Delete");
        assert!(claim_owners_up_to_date(&when_scaled, &bare, &owners(false)));
        assert!(!claim_owners_up_to_date(&when_scaled, &bare, &owners(true)));
        assert_eq!(serde_json::to_value(claim_owner_references(&when_scaled, &bare, &owners(true))).unwrap(), json!([owned_by("Pod", "web-2", "pod-uid")]));

        let both = policy("Delete", "Delete");
        assert!(claim_owners_up_to_date(&both, &by_set, &owners(false)));
        assert!(!claim_owners_up_to_date(&both, &by_set, &owners(true)));
        assert!(claim_owners_up_to_date(&both, &by_pod, &owners(true)));
        assert_eq!(serde_json::to_value(claim_owner_references(&both, &by_set, &owners(true))).unwrap(), json!([owned_by("Pod", "web-2", "pod-uid")]));

        // Another controller: ours are scrubbed and none added.
        let foreign = claim(json!([owned_by("Other", "x", "other-uid"), owned_by("StatefulSet", "web", "set-uid")]));
        assert!(!claim_owners_up_to_date(&both, &foreign, &owners(false)));
        assert_eq!(serde_json::to_value(claim_owner_references(&both, &foreign, &owners(false))).unwrap(), json!([owned_by("Other", "x", "other-uid")]));
        // An earlier pod of the name still owns it: stale, the new pod waits for the collector.
        let earlier = claim(json!([owned_by("Pod", "web-2", "old-uid")]));
        assert!(claim_is_stale(&when_scaled, &earlier, "web-2", ""));
        assert!(!claim_is_stale(&when_scaled, &by_pod, "web-2", "pod-uid"));
        assert!(!claim_is_stale(&retain, &earlier, "web-2", ""), "retained claims are meant to be reused");
    }
}
