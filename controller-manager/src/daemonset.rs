//! The DaemonSet controller, after Kubernetes' (`pkg/controller/daemon`): one pod of the template
//! on every node the template may run on, and none elsewhere.
//!
//! - A node is eligible when the template's `nodeName` (if any), `nodeSelector` and required node
//!   affinity match it and its NoSchedule and NoExecute taints are tolerated, counting the
//!   tolerations every daemon pod gets (`not-ready` and `unreachable` forever, the pressure and
//!   `unschedulable` conditions, `network-unavailable` for host-network pods). A node whose only
//!   untolerated taints are NoSchedule keeps a pod it has but gets no new one
//!   (`NodeShouldRunDaemonPod`).
//! - Pods are created pinned to their node through a required node affinity on
//!   `metadata.name` (`ReplaceDaemonSetPodNodeNameNodeAffinity`), which the scheduler binds;
//!   they carry the template's labels, `controller-revision-hash` and `pod-template-generation`.
//! - Failed pods are deleted (and so replaced) with a per-node backoff, succeeded pods deleted,
//!   duplicates on a node pruned to the oldest, pods of nodes that are gone or no longer eligible
//!   deleted.
//! - Each template is a ControllerRevision (`history`); the newest is the current one, whose hash
//!   tells updated pods from old ones. `RollingUpdate` deletes old pods within `maxUnavailable`
//!   (or, with `maxSurge`, starts the new pod beside the old one and deletes the old one once the
//!   new one is available); `OnDelete` replaces only pods someone else deleted.
//! - Status counts nodes as `kubectl rollout status ds/...` reads them.
//!
//! Like the ReplicaSet controller it remembers the pods it created and deleted ("expectations")
//! and does not act on a set again until its informer has seen them.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::scheduling::{required_node_affinity_matches, tolerations_tolerate};
use common::selector::LabelSelector;
use futures::StreamExt;
use k8s_openapi::api::apps::v1::{ControllerRevision, DaemonSet, DaemonSetSpec};
use k8s_openapi::api::core::v1::{
    Affinity, Node, NodeAffinity, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, Pod, PodSpec, PodTemplateSpec, Toleration,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::Action;
use kube::runtime::reflector::{ObjectRef, Store};
use serde_json::json;

use crate::context::Context;
use crate::expectations::Expectations;
use crate::framework::{self, ReconcileError};
use crate::history::{self, HASH_LABEL, Recorded};

const COMPONENT: &str = "daemonset-controller";
/// The template generation a pod was made from (`extensions.DaemonSetTemplateGenerationKey`).
const GENERATION_LABEL: &str = "pod-template-generation";
/// Where apps/v1 shows the internal `spec.templateGeneration` (`apps.DeprecatedTemplateGeneration`).
const GENERATION_ANNOTATION: &str = "deprecated.daemonset.template.generation";
/// Pods created or deleted at once for one set (Kubernetes' `BurstReplicas`).
const BURST: usize = 250;
/// The backoff between deleting failed pods on one node (kube-controller-manager's
/// `flowcontrol.NewBackOff(1s, 15m)` for the DaemonSet controller).
const BACKOFF_INITIAL: Duration = Duration::from_secs(1);
const BACKOFF_MAX: Duration = Duration::from_secs(15 * 60);

const NO_SCHEDULE: &str = "NoSchedule";
const NO_EXECUTE: &str = "NoExecute";

// Eligibility: which nodes a daemon pod belongs on

/// The tolerations Kubernetes gives every daemon pod (`AddOrUpdateDaemonPodTolerations`), so that
/// node problems neither evict nor keep out what the node itself needs to run.
fn daemon_tolerations(host_network: bool) -> Vec<Toleration> {
    let mut wanted = vec![
        ("node.kubernetes.io/not-ready", NO_EXECUTE),
        ("node.kubernetes.io/unreachable", NO_EXECUTE),
        ("node.kubernetes.io/disk-pressure", NO_SCHEDULE),
        ("node.kubernetes.io/memory-pressure", NO_SCHEDULE),
        ("node.kubernetes.io/pid-pressure", NO_SCHEDULE),
        ("node.kubernetes.io/unschedulable", NO_SCHEDULE),
    ];
    if host_network {
        wanted.push(("node.kubernetes.io/network-unavailable", NO_SCHEDULE));
    }
    wanted
        .into_iter()
        .map(|(key, effect)| Toleration { key: Some(key.into()), operator: Some("Exists".into()), effect: Some(effect.into()), ..Toleration::default() })
        .collect()
}

/// Adds the daemon tolerations to `spec`, replacing a toleration of the same key, operator, value
/// and effect (which may differ in `tolerationSeconds`), as `AddOrUpdateTolerationInPodSpec`.
fn add_daemon_tolerations(spec: &mut PodSpec) {
    let host_network = spec.host_network == Some(true);
    let tolerations = spec.tolerations.get_or_insert_with(Vec::new);
    for toleration in daemon_tolerations(host_network) {
        let same = |other: &Toleration| {
            (&other.key, &other.operator, &other.value, &other.effect) == (&toleration.key, &toleration.operator, &toleration.value, &toleration.effect)
        };
        if tolerations.iter().any(same) {
            for existing in tolerations.iter_mut().filter(|existing| same(existing)) {
                *existing = toleration.clone();
            }
        } else {
            tolerations.push(toleration);
        }
    }
}

/// Whether a node should run a daemon pod (`run`), and whether a daemon pod already there may
/// stay (`keep`): a node with untolerated NoSchedule taints only keeps what it has.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Placement {
    run: bool,
    keep: bool,
}

/// The template as a daemon pod of it would be, to judge nodes by.
struct Eligibility {
    spec: PodSpec,
}

impl Eligibility {
    fn new(template: &PodTemplateSpec) -> Self {
        let mut spec = template.spec.clone().unwrap_or_default();
        add_daemon_tolerations(&mut spec);
        Self { spec }
    }

    /// `NodeShouldRunDaemonPod`.
    fn on(&self, node: &Node) -> Placement {
        let name = node.metadata.name.as_deref().unwrap_or_default();
        let no_labels = BTreeMap::new();
        let labels = node.metadata.labels.as_ref().unwrap_or(&no_labels);
        if self.spec.node_name.as_deref().is_some_and(|wanted| !wanted.is_empty() && wanted != name) || !required_node_affinity_matches(&self.spec, labels, name) {
            return Placement::default();
        }
        let taints = node.spec.as_ref().and_then(|spec| spec.taints.as_deref()).unwrap_or_default();
        let tolerations = self.spec.tolerations.as_deref().unwrap_or_default();
        let untolerated = |effects: &[&str]| taints.iter().filter(|taint| effects.contains(&taint.effect.as_str())).any(|taint| !tolerations_tolerate(tolerations, taint));
        if untolerated(&[NO_SCHEDULE, NO_EXECUTE]) {
            return Placement { run: false, keep: !untolerated(&[NO_EXECUTE]) };
        }
        Placement { run: true, keep: true }
    }
}

/// The affinity of a daemon pod for `node`: the required node affinity becomes the one term
/// `metadata.name In [node]`, the rest is kept (`ReplaceDaemonSetPodNodeNameNodeAffinity`; the
/// controller has already checked the template's own terms against the node).
fn pinned_to(affinity: Option<Affinity>, node: &str) -> Affinity {
    let term = NodeSelectorTerm {
        match_fields: Some(vec![NodeSelectorRequirement { key: "metadata.name".into(), operator: "In".into(), values: Some(vec![node.into()]) }]),
        match_expressions: None,
    };
    let mut affinity = affinity.unwrap_or_default();
    let node_affinity = affinity.node_affinity.get_or_insert_with(NodeAffinity::default);
    node_affinity.required_during_scheduling_ignored_during_execution = Some(NodeSelector { node_selector_terms: vec![term] });
    affinity
}

/// The node a daemon pod is for: where it is bound, or else the one its affinity pins it to
/// (`util.GetTargetNodeName`).
fn target_node(pod: &Pod) -> Option<String> {
    let spec = pod.spec.as_ref()?;
    if let Some(node) = spec.node_name.as_deref().filter(|node| !node.is_empty()) {
        return Some(node.to_string());
    }
    let required = spec.affinity.as_ref()?.node_affinity.as_ref()?.required_during_scheduling_ignored_during_execution.as_ref()?;
    required.node_selector_terms.iter().flat_map(|term| term.match_fields.iter().flatten()).find(|field| field.key == "metadata.name" && field.operator == "In").and_then(|field| match field.values.as_deref() {
        Some([node]) => Some(node.clone()),
        _ => None,
    })
}

// Pods

fn is_terminal(pod: &Pod) -> bool {
    matches!(pod.status.as_ref().and_then(|status| status.phase.as_deref()), Some("Succeeded" | "Failed"))
}

fn phase(pod: &Pod) -> Option<&str> {
    pod.status.as_ref().and_then(|status| status.phase.as_deref())
}

/// When the pod's Ready condition turned True, if it is True (`podutil.IsPodReady`); the time is
/// None when the condition does not say.
fn ready(pod: &Pod) -> Option<Option<jiff::Timestamp>> {
    let condition = pod.status.as_ref()?.conditions.as_ref()?.iter().find(|condition| condition.type_ == "Ready")?;
    (condition.status == "True").then(|| condition.last_transition_time.as_ref().map(|time| time.0))
}

/// Ready for more than `min_ready` by `now` (`podutil.IsPodAvailable`).
fn available(pod: &Pod, min_ready: Duration, now: jiff::Timestamp) -> bool {
    match ready(pod) {
        None => false,
        Some(_) if min_ready.is_zero() => true,
        Some(since) => since.is_some_and(|since| {
            let seconds = i64::try_from(min_ready.as_secs()).unwrap_or(i64::MAX);
            since.as_second().saturating_add(seconds) < now.as_second()
        }),
    }
}

/// Bound pods first, then oldest first, then by name (`podByCreationTimestampAndPhase`).
fn sort_oldest_first(pods: &mut [Arc<Pod>]) {
    pods.sort_by(|left, right| {
        let bound = |pod: &Pod| pod.spec.as_ref().and_then(|spec| spec.node_name.as_deref()).is_some_and(|node| !node.is_empty());
        let created = |pod: &Pod| pod.metadata.creation_timestamp.as_ref().map(|time| time.0);
        bound(right).cmp(&bound(left)).then_with(|| created(left).cmp(&created(right))).then_with(|| left.metadata.name.cmp(&right.metadata.name))
    });
}

/// The set's pods by the node they are for. Terminal pods already being deleted are left out
/// unless asked for: nothing is left to do with them (`getNodesToDaemonPods`).
fn by_node(pods: &[Arc<Pod>], with_deleted_terminal: bool) -> BTreeMap<String, Vec<Arc<Pod>>> {
    let mut nodes: BTreeMap<String, Vec<Arc<Pod>>> = BTreeMap::new();
    for pod in pods {
        if !with_deleted_terminal && is_terminal(pod) && pod.metadata.deletion_timestamp.is_some() {
            continue;
        }
        if let Some(node) = target_node(pod) {
            nodes.entry(node).or_default().push(pod.clone());
        }
    }
    nodes
}

/// What a reconcile knows of the set's current revision, for judging pods.
struct View {
    /// The current revision's hash; pods carrying it are up to date.
    hash: String,
    /// The template generation from the annotation, which also marks pods up to date when it
    /// matches their label (`util.IsPodUpdated`).
    generation: Option<i64>,
    /// Whether maxSurge lets a new pod start beside an old one (`util.AllowsSurge`).
    surge: bool,
    min_ready: Duration,
    now: jiff::Timestamp,
}

impl View {
    fn is_updated(&self, pod: &Pod) -> bool {
        let label = |key: &str| pod.metadata.labels.as_ref().and_then(|labels| labels.get(key));
        let hash_matches = !self.hash.is_empty() && label(HASH_LABEL) == Some(&self.hash);
        let generation_matches = self.generation.is_some_and(|generation| label(GENERATION_LABEL) == Some(&generation.to_string()));
        hash_matches || generation_matches
    }

    fn available(&self, pod: &Pod) -> bool {
        available(pod, self.min_ready, self.now)
    }
}

/// What to do about one node (`podsShouldBeOnNode`). Failed and succeeded pods are named apart:
/// failed ones go only outside their node's backoff, and both get an event.
#[derive(Debug, Default)]
struct NodePlan {
    create: bool,
    delete: Vec<Arc<Pod>>,
    failed: Vec<Arc<Pod>>,
    succeeded: Vec<Arc<Pod>>,
}

fn plan_node(placement: Placement, pods: Option<&Vec<Arc<Pod>>>, view: &View) -> NodePlan {
    let mut plan = NodePlan::default();
    match pods {
        None if placement.run => plan.create = true,
        Some(pods) if placement.keep => {
            let mut running = Vec::new();
            for pod in pods.iter().filter(|pod| pod.metadata.deletion_timestamp.is_none()) {
                match phase(pod) {
                    Some("Failed") => plan.failed.push(pod.clone()),
                    Some("Succeeded") => plan.succeeded.push(pod.clone()),
                    _ => running.push(pod.clone()),
                }
            }
            sort_oldest_first(&mut running);
            if !view.surge {
                // One pod a node: the oldest stays.
                plan.delete.extend(running.into_iter().skip(1));
                return plan;
            }
            if running.len() <= 1 {
                plan.create = running.is_empty() && placement.run;
                return plan;
            }
            // Surging: the oldest new pod and the oldest old one may both stay, the old one only
            // while it is ready and the new one not yet available.
            let (mut oldest_new, mut oldest_old) = (None, None);
            for pod in running {
                let slot = if view.is_updated(&pod) { &mut oldest_new } else { &mut oldest_old };
                if slot.is_none() {
                    *slot = Some(pod);
                } else {
                    plan.delete.push(pod);
                }
            }
            if let (Some(new), Some(old)) = (oldest_new, oldest_old)
                && (ready(&old).is_none() || view.available(&new))
            {
                plan.delete.push(old);
            }
        }
        Some(pods) if !placement.keep => plan.delete.extend(pods.iter().filter(|pod| pod.metadata.deletion_timestamp.is_none()).cloned()),
        _ => {}
    }
    plan
}

// Rolling updates

/// An int-or-percent of `total`, percentages rounded up (`GetScaledValueFromIntOrPercent(.., true)`).
fn scaled(value: &IntOrString, total: i32) -> Result<i32, String> {
    match value {
        IntOrString::Int(number) => Ok(*number),
        IntOrString::String(text) => {
            let percent: i64 = text.strip_suffix('%').and_then(|number| number.parse().ok()).ok_or_else(|| format!("invalid value {text:?}: not an integer or a percentage"))?;
            let scaled = (percent * i64::from(total) + 99).div_euclid(100);
            Ok(i32::try_from(scaled).unwrap_or(i32::MAX))
        }
    }
}

fn rolling(spec: &DaemonSetSpec) -> bool {
    // RollingUpdate is the default the apiserver fills in.
    spec.update_strategy.as_ref().and_then(|strategy| strategy.type_.as_deref()).is_none_or(|kind| kind == "RollingUpdate")
}

/// maxSurge and maxUnavailable as node counts of `desired` (`SurgeCount`, `UnavailableCount`),
/// defaulted as the apiserver defaults them (0 and 1); both zero would stall, so unavailable is
/// then 1 (`updatedDesiredNodeCounts`). OnDelete has neither.
fn surge_and_unavailable(spec: &DaemonSetSpec, desired: i32) -> Result<(i32, i32), String> {
    if !rolling(spec) {
        return Ok((0, 0));
    }
    let settings = spec.update_strategy.as_ref().and_then(|strategy| strategy.rolling_update.as_ref());
    let surge = match settings.and_then(|settings| settings.max_surge.as_ref()) {
        Some(value) => scaled(value, desired)?,
        None => 0,
    };
    let unavailable = match settings.and_then(|settings| settings.max_unavailable.as_ref()) {
        Some(value) => scaled(value, desired)?,
        None => 1,
    };
    if desired > 0 && surge == 0 && unavailable == 0 {
        return Ok((0, 1));
    }
    Ok((surge, unavailable))
}

/// The node's pod of the current revision and its old one, not counting pods being deleted; None
/// when it has two of either, which the core loop prunes first (`findUpdatedPodsOnNode`).
#[allow(clippy::type_complexity)]
fn updated_and_old<'a>(pods: &'a [Arc<Pod>], view: &View) -> Option<(Option<&'a Arc<Pod>>, Option<&'a Arc<Pod>>)> {
    let (mut new, mut old) = (None, None);
    for pod in pods.iter().filter(|pod| pod.metadata.deletion_timestamp.is_none()) {
        let slot = if view.is_updated(pod) { &mut new } else { &mut old };
        if slot.is_some() {
            return None;
        }
        *slot = Some(pod);
    }
    Some((new, old))
}

/// What a rolling update step does: old pods to delete, nodes to start a new pod on.
#[derive(Debug, Default, PartialEq, Eq)]
struct Step {
    delete: Vec<String>,
    create: Vec<String>,
}

fn name_of(pod: &Pod) -> String {
    pod.metadata.name.clone().unwrap_or_default()
}

/// One step of a rolling update (`rollingUpdate`), nodes taken in name order.
///
/// Without surge: old pods that are not available go at once; available ones go while fewer than
/// maxUnavailable nodes lack an available pod (a node with no pod, or with a pod being replaced,
/// counts as lacking one); the core loop then starts their replacements.
///
/// With surge: a node whose old pod is not available gets its new pod at once; up to maxSurge
/// others get theirs beside the old one, which goes once the new one is available. On nodes the
/// pods must leave (a scheduling change), old pods go only as pods elsewhere turn available.
fn rolling_step(pods_by_node: &BTreeMap<String, Vec<Arc<Pod>>>, placements: &BTreeMap<String, Placement>, view: &View, max_surge: i32, max_unavailable: i32) -> Step {
    let mut nodes: BTreeMap<&str, &[Arc<Pod>]> = pods_by_node.iter().map(|(node, pods)| (node.as_str(), pods.as_slice())).collect();
    let desired = placements.values().filter(|placement| placement.run).count();
    for (node, _) in placements.iter().filter(|(_, placement)| placement.run) {
        nodes.entry(node.as_str()).or_insert(&[]);
    }
    let limit = |value: i32| usize::try_from(value).unwrap_or(0);
    let mut step = Step::default();

    if max_surge == 0 {
        let mut unavailable = 0;
        let mut replacements = Vec::new();
        let mut candidates = Vec::new();
        for pods in nodes.values() {
            match updated_and_old(pods, view) {
                None | Some((None, None) | (Some(_), Some(_))) => unavailable += 1,
                Some((Some(new), None)) => unavailable += usize::from(!view.available(new)),
                Some((None, Some(old))) if !view.available(old) => {
                    replacements.push(name_of(old));
                    unavailable += 1;
                }
                Some((None, Some(old))) => {
                    if unavailable < limit(max_unavailable) {
                        candidates.push(name_of(old));
                    }
                }
            }
        }
        let room = limit(max_unavailable).saturating_sub(unavailable).min(candidates.len());
        step.delete = replacements;
        step.delete.extend(candidates.into_iter().take(room));
        return step;
    }

    let should_run = |node: &str| placements.get(node).is_some_and(|placement| placement.run);
    let mut surging = 0;
    let mut available_count = 0usize;
    let mut leaving = Vec::new();
    let mut candidates = Vec::new();
    for (node, pods) in &nodes {
        let Some((new, old)) = updated_and_old(pods, view) else {
            surging += 1;
            continue;
        };
        if old.or(new).is_some_and(|pod| view.available(pod)) {
            available_count += 1;
        }
        match (new, old) {
            (_, None) => {}
            (None, Some(old)) if !view.available(old) => {
                if should_run(node) {
                    step.create.push((*node).to_string());
                } else {
                    step.delete.push(name_of(old));
                }
            }
            (None, Some(old)) => {
                if !should_run(node) {
                    leaving.push(name_of(old));
                } else if surging < limit(max_surge) {
                    candidates.push((*node).to_string());
                }
            }
            (Some(new), Some(old)) => {
                if view.available(new) {
                    step.delete.push(name_of(old));
                } else {
                    surging += 1;
                }
            }
        }
    }
    step.delete.extend(leaving.into_iter().take(available_count.saturating_sub(desired)));
    let room = limit(max_surge).saturating_sub(surging).min(candidates.len());
    step.create.extend(candidates.into_iter().take(room));
    step
}

// Status

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Counts {
    desired: i32,
    current: i32,
    misscheduled: i32,
    ready: i32,
    updated: i32,
    available: i32,
    unavailable: i32,
}

/// The status counts over the nodes (`updateDaemonSetStatus`): the oldest pod of an eligible node
/// is what counts as its ready, available or updated pod.
fn count(placements: &BTreeMap<String, Placement>, pods_by_node: &BTreeMap<String, Vec<Arc<Pod>>>, view: &View) -> Counts {
    let mut counts = Counts::default();
    for (node, placement) in placements {
        let pods = pods_by_node.get(node).filter(|pods| !pods.is_empty());
        if !placement.run {
            counts.misscheduled += i32::from(pods.is_some());
            continue;
        }
        counts.desired += 1;
        let Some(pods) = pods else { continue };
        counts.current += 1;
        let mut pods = pods.clone();
        sort_oldest_first(&mut pods);
        let Some(pod) = pods.first() else { continue };
        if ready(pod).is_some() {
            counts.ready += 1;
            counts.available += i32::from(view.available(pod));
        }
        counts.updated += i32::from(view.is_updated(pod));
    }
    counts.unavailable = counts.desired - counts.available;
    counts
}

// Failed pod backoff

/// `flowcontrol.Backoff` as the controller uses it: per key, the delay since the last failure
/// before another failed pod may be deleted, doubling to a maximum, forgotten after twice that.
#[derive(Default)]
struct Backoff {
    entries: HashMap<String, (Instant, Duration)>,
}

impl Backoff {
    /// The delay still owed, if `key` is in backoff at `now` (`IsInBackOffSinceUpdate`).
    fn waiting(&self, key: &str, now: Instant) -> Option<Duration> {
        let (last, delay) = self.entries.get(key)?;
        let since = now.saturating_duration_since(*last);
        (since <= 2 * BACKOFF_MAX && since < *delay).then(|| *delay - since)
    }

    /// Records a failure at `now` (`Next`).
    fn next(&mut self, key: &str, now: Instant) {
        self.entries.retain(|_, (last, _)| now.saturating_duration_since(*last) <= 2 * BACKOFF_MAX);
        let delay = match self.entries.get(key) {
            Some((_, delay)) => (*delay * 2).min(BACKOFF_MAX),
            None => BACKOFF_INITIAL,
        };
        self.entries.insert(key.to_string(), (now, delay));
    }
}

// The controller

struct Controller {
    context: Arc<Context>,
    recorder: common::events::Recorder,
    /// By the set's uid.
    expectations: Expectations,
    backoff: Mutex<Backoff>,
    /// What of each node decides where daemon pods go (labels, taints), to look again only when
    /// that changes, as Kubernetes ignores heartbeat-only node updates.
    nodes_seen: Mutex<HashMap<String, String>>,
}

pub async fn run(context: Arc<Context>) {
    let controller = Arc::new(Controller {
        recorder: context.recorder(COMPONENT),
        context: context.clone(),
        expectations: Expectations::default(),
        backoff: Mutex::default(),
        nodes_seen: Mutex::default(),
    });
    let sets = context.daemon_sets.store();
    let own = context.daemon_sets.changes().map(|set| ObjectRef::from_obj(&*set)).boxed();
    let pods = context
        .pods
        .changes()
        .flat_map({
            let sets = sets.clone();
            move |pod| futures::stream::iter(sets_for_pod(&sets, &pod))
        })
        .boxed();
    let revisions = context.controller_revisions.changes().filter_map(|revision| async move { framework::controller_of::<DaemonSet, _>(&*revision, "DaemonSet") }).boxed();
    let nodes = context
        .nodes
        .changes()
        .flat_map({
            let (sets, controller) = (sets.clone(), controller.clone());
            move |node| {
                let every: Vec<ObjectRef<DaemonSet>> = if controller.node_changed(&node) { sets.state().iter().map(|set| ObjectRef::from_obj(&**set)).collect() } else { Vec::new() };
                futures::stream::iter(every)
            }
        })
        .boxed();
    framework::run("daemonset", context.metrics.clone(), controller, sets, vec![own, pods, revisions, nodes], context.settings.concurrent_syncs, reconcile).await;
}

/// The set that controls the pod, or, for an orphan, every set in its namespace that would adopt it.
fn sets_for_pod(sets: &Store<DaemonSet>, pod: &Pod) -> Vec<ObjectRef<DaemonSet>> {
    if let Some(owner) = pod.metadata.owner_references.iter().flatten().find(|owner| owner.controller == Some(true)) {
        if owner.kind != "DaemonSet" {
            return Vec::new();
        }
        return framework::controller_of::<DaemonSet, _>(pod, "DaemonSet").into_iter().collect();
    }
    let labels = pod.metadata.labels.clone().unwrap_or_default();
    sets.state()
        .iter()
        .filter(|set| set.metadata.namespace == pod.metadata.namespace)
        .filter(|set| selector_of(set).is_some_and(|selector| !selector.is_empty() && selector.matches(&labels)))
        .map(|set| ObjectRef::from_obj(&**set))
        .collect()
}

fn selector_of(set: &DaemonSet) -> Option<LabelSelector> {
    LabelSelector::from_k8s(&set.spec.as_ref()?.selector).ok()
}

/// The template generation pods are labelled with: the annotation the apiserver keeps, else the
/// set's generation.
fn labelled_generation(set: &DaemonSet) -> Option<i64> {
    annotated_generation(set).or(set.metadata.generation)
}

fn annotated_generation(set: &DaemonSet) -> Option<i64> {
    set.metadata.annotations.as_ref()?.get(GENERATION_ANNOTATION)?.parse().ok()
}

/// A daemon pod of the set's template for `node` (`CreatePodTemplate` and the affinity pin).
fn new_pod(set: &DaemonSet, hash: &str, node: &str) -> Pod {
    let template = set.spec.as_ref().map(|spec| spec.template.clone()).unwrap_or_default();
    let mut pod = framework::pod_from_template(set, &template);
    let labels = pod.metadata.labels.get_or_insert_with(BTreeMap::new);
    if let Some(generation) = labelled_generation(set) {
        labels.insert(GENERATION_LABEL.into(), generation.to_string());
    }
    if !hash.is_empty() {
        labels.insert(HASH_LABEL.into(), hash.into());
    }
    let mut spec = pod.spec.take().unwrap_or_default();
    add_daemon_tolerations(&mut spec);
    spec.affinity = Some(pinned_to(spec.affinity.take(), node));
    pod.spec = Some(spec);
    pod
}

/// A pod create refused because its namespace is going away: nothing to retry.
fn namespace_terminating(err: &kube::Error) -> bool {
    matches!(err, kube::Error::Api(status) if status.code == 403 && status.message.contains("being terminated"))
}

async fn reconcile(set: Arc<DaemonSet>, controller: Arc<Controller>) -> Result<Action, ReconcileError> {
    // A set being deleted: its revisions may be going too, so its status cannot be trusted; the
    // garbage collector takes its pods (as in Kubernetes, nothing is done).
    if set.metadata.deletion_timestamp.is_some() {
        return Ok(Action::requeue(framework::RESYNC));
    }
    let Some(spec) = set.spec.as_ref() else {
        return Ok(Action::requeue(framework::RESYNC));
    };
    let nothing_selected = spec.selector.match_labels.as_ref().is_none_or(BTreeMap::is_empty) && spec.selector.match_expressions.as_ref().is_none_or(Vec::is_empty);
    if nothing_selected {
        controller.event(&set, "Warning", "SelectingAll", "This daemon set is selecting all pods. A non-empty selector is required.").await;
        return Ok(Action::requeue(framework::RESYNC));
    }
    let Some(selector) = selector_of(&set) else {
        return Ok(Action::requeue(framework::RESYNC));
    };
    let uid = set.metadata.uid.clone().unwrap_or_default();
    let context = &controller.context;

    let revisions = history::owned(context, &*set);
    let current = controller.current_revision(&set, &revisions).await?;
    let hash = current
        .metadata
        .labels
        .as_ref()
        .and_then(|labels| labels.get(HASH_LABEL).cloned())
        .or_else(|| current.metadata.name.as_deref().and_then(|name| name.strip_prefix(&format!("{}-", set.metadata.name.as_deref().unwrap_or_default()))).map(str::to_string))
        .unwrap_or_default();
    let old: Vec<Arc<ControllerRevision>> = revisions.into_iter().filter(|revision| revision.metadata.name != current.metadata.name).collect();

    let eligibility = Eligibility::new(&spec.template);
    let placements: BTreeMap<String, Placement> =
        context.nodes.store().state().iter().filter_map(|node| Some((node.metadata.name.clone()?, eligibility.on(node)))).collect();
    let min_ready = Duration::from_secs(u64::try_from(spec.min_ready_seconds.unwrap_or(0)).unwrap_or(0));
    let surge = surge_and_unavailable(spec, 1).is_ok_and(|(surge, _)| surge != 0);
    let view = View { hash, generation: annotated_generation(&set), surge, min_ready, now: jiff::Timestamp::now() };

    let pods = controller.claim(&set, &selector).await?;
    if !controller.expectations.met(&uid, &pods) {
        // Only the counts: this generation has not been acted on yet.
        return controller.update_status(&set, &selector, &placements, &view, false, None).await;
    }
    let mut retry_after = None;
    let outcome = controller.update(&set, spec, &pods, &old, &placements, &view, &mut retry_after).await;
    let status = controller.update_status(&set, &selector, &placements, &view, true, retry_after).await;
    outcome?;
    status
}

impl Controller {
    /// Whether the node changed in a way that can move daemon pods (added, deleted, relabelled,
    /// retainted), remembering it.
    fn node_changed(&self, node: &Node) -> bool {
        let Some(name) = node.metadata.name.clone() else { return false };
        let Ok(mut seen) = self.nodes_seen.lock() else { return true };
        if self.context.nodes.store().get(&ObjectRef::new(&name)).is_none() {
            seen.remove(&name);
            return true;
        }
        let fingerprint = json!([node.metadata.labels, node.spec.as_ref().and_then(|spec| spec.taints.as_ref())]).to_string();
        seen.insert(name, fingerprint.clone()).is_none_or(|before| before != fingerprint)
    }

    /// The revision of the current template, recorded as the newest (`constructHistory`). On a
    /// name collision `collisionCount` goes up and the reconcile is retried with the next name.
    async fn current_revision(&self, set: &DaemonSet, revisions: &[Arc<ControllerRevision>]) -> Result<Arc<ControllerRevision>, ReconcileError> {
        let spec = set.spec.as_ref().map(|spec| &spec.template);
        let template = spec.cloned().unwrap_or_default();
        let labels = template.metadata.as_ref().and_then(|meta| meta.labels.clone()).unwrap_or_default();
        let collisions = set.status.as_ref().and_then(|status| status.collision_count).unwrap_or(0);
        let owner = history::Owner { object: set, labels, collisions };
        match history::record(&self.context, &owner, revisions, history::patch_of(&template)).await? {
            Recorded::Revision(revision) => Ok(revision),
            Recorded::Collision => {
                let name = set.metadata.name.clone().unwrap_or_default();
                let sets: Api<DaemonSet> = Api::namespaced(self.context.client.clone(), set.metadata.namespace.as_deref().unwrap_or_default());
                let fresh = sets.get(&name).await?;
                let fresh_collisions = fresh.status.as_ref().and_then(|status| status.collision_count);
                if fresh.metadata.uid != set.metadata.uid || fresh_collisions != set.status.as_ref().and_then(|status| status.collision_count) {
                    return Err(ReconcileError::Other(format!("daemon set {name} changed while its revision was recorded; retrying")));
                }
                let patch = json!({"metadata": {"resourceVersion": fresh.metadata.resource_version}, "status": {"collisionCount": collisions + 1}});
                sets.patch_status(&name, &PatchParams::default(), &Patch::Merge(patch)).await?;
                tracing::info!(namespace = ?set.metadata.namespace, name = %name, collision_count = collisions + 1, "revision name collision, bumping collisionCount");
                Err(ReconcileError::Other(format!("revision name of daemon set {name} collides with another's; trying the next hash")))
            }
        }
    }

    /// The set's pods, adopting orphans its selector matches and releasing pods it no longer
    /// matches (`ClaimPods`).
    async fn claim(&self, set: &DaemonSet, selector: &LabelSelector) -> Result<Vec<Arc<Pod>>, ReconcileError> {
        let namespace = set.metadata.namespace.clone().unwrap_or_default();
        let uid = set.metadata.uid.clone().unwrap_or_default();
        let pods_api: Api<Pod> = Api::namespaced(self.context.client.clone(), &namespace);
        let no_labels = BTreeMap::new();
        let mut owned = Vec::new();
        for pod in self.context.pods.store().state() {
            if pod.metadata.namespace.as_deref() != Some(namespace.as_str()) {
                continue;
            }
            let controller_ref = pod.metadata.owner_references.iter().flatten().find(|owner| owner.controller == Some(true));
            if controller_ref.is_some_and(|owner| owner.uid != uid) {
                continue;
            }
            let matches = selector.matches(pod.metadata.labels.as_ref().unwrap_or(&no_labels));
            let name = pod.metadata.name.clone().unwrap_or_default();
            let references = match (controller_ref, matches) {
                (Some(_), true) => {
                    owned.push(pod);
                    continue;
                }
                (Some(_), false) if pod.metadata.deletion_timestamp.is_none() => {
                    let kept: Vec<&OwnerReference> = pod.metadata.owner_references.iter().flatten().filter(|owner| owner.uid != uid).collect();
                    json!(kept)
                }
                (None, true) if pod.metadata.deletion_timestamp.is_none() => {
                    let mut references = pod.metadata.owner_references.clone().unwrap_or_default();
                    references.push(framework::controller_reference(set));
                    json!(references)
                }
                _ => continue,
            };
            // The resourceVersion makes the change fail if the pod changed meanwhile.
            let patch = json!({"metadata": {"ownerReferences": references, "resourceVersion": pod.metadata.resource_version}});
            match pods_api.patch(&name, &PatchParams::default(), &Patch::Merge(patch)).await {
                Ok(changed) if matches => owned.push(Arc::new(changed)),
                Ok(_) => {}
                Err(err) if framework::answered(&err, &[404, 409]) => {}
                Err(err) => return Err(err.into()),
            }
        }
        Ok(owned)
    }

    /// The core loop, then (when it had nothing to do) a rolling update step, then the history
    /// trimmed (`updateDaemonSet`).
    #[allow(clippy::too_many_arguments)]
    async fn update(
        &self,
        set: &DaemonSet,
        spec: &DaemonSetSpec,
        pods: &[Arc<Pod>],
        old: &[Arc<ControllerRevision>],
        placements: &BTreeMap<String, Placement>,
        view: &View,
        retry_after: &mut Option<Duration>,
    ) -> Result<(), ReconcileError> {
        let acted = self.manage(set, pods, placements, view, retry_after).await?;
        if !acted && rolling(spec) {
            let pods_by_node = by_node(pods, false);
            let desired = i32::try_from(placements.values().filter(|placement| placement.run).count()).unwrap_or(i32::MAX);
            match surge_and_unavailable(spec, desired) {
                Ok((max_surge, max_unavailable)) => {
                    let step = rolling_step(&pods_by_node, placements, view, max_surge, max_unavailable);
                    let victims: Vec<Arc<Pod>> = pods.iter().filter(|pod| pod.metadata.name.as_ref().is_some_and(|name| step.delete.contains(name))).cloned().collect();
                    if !victims.is_empty() || !step.create.is_empty() {
                        tracing::info!(namespace = ?set.metadata.namespace, name = ?set.metadata.name, delete = victims.len(), create = step.create.len(), "rolling update step");
                    }
                    self.sync_nodes(set, &victims, &step.create, &view.hash).await?;
                }
                Err(reason) => tracing::warn!(namespace = ?set.metadata.namespace, name = ?set.metadata.name, %reason, "cannot roll: invalid updateStrategy"),
            }
        }
        self.clean_up_history(spec, pods, old).await
    }

    /// Starts the missing daemon pods and deletes those that should go (`manage`); whether it
    /// asked for anything.
    async fn manage(&self, set: &DaemonSet, pods: &[Arc<Pod>], placements: &BTreeMap<String, Placement>, view: &View, retry_after: &mut Option<Duration>) -> Result<bool, ReconcileError> {
        let pods_by_node = by_node(pods, false);
        let namespace = set.metadata.namespace.clone().unwrap_or_default();
        let mut create = Vec::new();
        let mut delete: Vec<Arc<Pod>> = Vec::new();
        let mut events = Vec::new();
        for (node, placement) in placements {
            let plan = plan_node(*placement, pods_by_node.get(node), view);
            if plan.create {
                create.push(node.clone());
            }
            delete.extend(plan.delete);
            for pod in plan.succeeded {
                let message = format!("Found succeeded daemon pod {namespace}/{} on node {node}, will try to delete it", name_of(&pod));
                events.push(("Normal", "SucceededDaemonPod", message));
                delete.push(pod);
            }
            for pod in plan.failed {
                // Kubelets that reject a pod make it fail at once: back off rather than fight.
                let key = format!("{}/{}/{node}", set.metadata.uid.as_deref().unwrap_or_default(), set.status.as_ref().and_then(|status| status.observed_generation).unwrap_or(0));
                let now = Instant::now();
                let Ok(mut backoff) = self.backoff.lock() else { continue };
                if let Some(delay) = backoff.waiting(&key, now) {
                    tracing::debug!(namespace = %namespace, pod = ?pod.metadata.name, node = %node, ?delay, "deleting the failed daemon pod waits for its backoff");
                    *retry_after = Some(retry_after.map_or(delay, |earlier| earlier.min(delay)));
                    continue;
                }
                backoff.next(&key, now);
                let message = format!("Found failed daemon pod {namespace}/{} on node {node}, will try to kill it", name_of(&pod));
                tracing::info!(namespace = %namespace, pod = ?pod.metadata.name, node = %node, "found failed daemon pod, deleting it");
                events.push(("Warning", "FailedDaemonPod", message));
                delete.push(pod);
            }
        }
        // Pods for nodes that are gone. Kubernetes deletes the unscheduled ones here and leaves
        // bound ones to its pod garbage collector; this deletes both, and the pod garbage
        // collector (podgc) finishes those no kubelet is left to finish.
        for (node, node_pods) in &pods_by_node {
            if !placements.contains_key(node) {
                delete.extend(node_pods.iter().filter(|pod| pod.metadata.deletion_timestamp.is_none()).cloned());
            }
        }
        futures::future::join_all(events.iter().map(|(kind, reason, message)| self.event(set, kind, reason, message))).await;
        self.sync_nodes(set, &delete, &create, &view.hash).await
    }

    /// Creates pods on `nodes` and deletes `victims`, within the burst (`syncNodes`); whether it
    /// asked for anything. Creates start one at a time and double while they succeed, so a set
    /// that cannot create pods (quota, admission) does not send hundreds of doomed requests.
    async fn sync_nodes(&self, set: &DaemonSet, victims: &[Arc<Pod>], nodes: &[String], hash: &str) -> Result<bool, ReconcileError> {
        let namespace = set.metadata.namespace.clone().unwrap_or_default();
        let uid = set.metadata.uid.clone().unwrap_or_default();
        let pods_api: Api<Pod> = Api::namespaced(self.context.client.clone(), &namespace);
        let nodes = &nodes[..nodes.len().min(BURST)];
        let victims = &victims[..victims.len().min(BURST)];
        let mut first_error: Option<kube::Error> = None;
        let mut events = Vec::new();
        let mut asked = false;

        let mut position = 0;
        let mut batch = nodes.len().min(1);
        while position < nodes.len() {
            let slice = &nodes[position..position + batch];
            let results = futures::future::join_all(slice.iter().map(|node| {
                let pod = new_pod(set, hash, node);
                let pods_api = &pods_api;
                async move { pods_api.create(&PostParams::default(), &pod).await }
            }))
            .await;
            let mut failed = false;
            for (node, result) in slice.iter().zip(results) {
                match result {
                    Ok(created) => {
                        let name = name_of(&created);
                        tracing::info!(namespace = %namespace, pod = %name, node = %node, "created daemon pod");
                        self.expectations.created(&uid, name.clone());
                        asked = true;
                        events.push(("Normal", "SuccessfulCreate", format!("Created pod: {name}")));
                    }
                    Err(err) if namespace_terminating(&err) => {}
                    Err(err) => {
                        events.push(("Warning", "FailedCreate", format!("Error creating: {err}")));
                        first_error.get_or_insert(err);
                        failed = true;
                    }
                }
            }
            position += batch;
            if failed {
                break;
            }
            batch = (batch * 2).min(nodes.len() - position);
        }

        for victim in victims {
            self.expectations.deleting(&uid, victim.metadata.name.clone());
        }
        let results = futures::future::join_all(victims.iter().map(|victim| {
            let pods_api = &pods_api;
            async move { (name_of(victim), pods_api.delete(victim.metadata.name.as_deref().unwrap_or_default(), &DeleteParams::default()).await) }
        }))
        .await;
        for (name, result) in results {
            match result {
                Ok(_) => {
                    tracing::info!(namespace = %namespace, pod = %name, "deleted daemon pod");
                    asked = true;
                    events.push(("Normal", "SuccessfulDelete", format!("Deleted pod: {name}")));
                }
                Err(err) => {
                    // Not deleted (or already gone): nothing to wait for.
                    self.expectations.not_deleted(&uid, &name);
                    if !framework::answered(&err, &[404]) {
                        events.push(("Warning", "FailedDelete", format!("Error deleting: {err}")));
                        first_error.get_or_insert(err);
                    }
                }
            }
        }
        futures::future::join_all(events.iter().map(|(kind, reason, message)| self.event(set, kind, reason, message))).await;
        match first_error {
            Some(err) => Err(err.into()),
            None => Ok(asked),
        }
    }

    /// Deletes the oldest old revisions beyond revisionHistoryLimit, keeping any a pod still
    /// carries (`cleanupHistory`: it counts those kept against the limit too).
    async fn clean_up_history(&self, spec: &DaemonSetSpec, pods: &[Arc<Pod>], old: &[Arc<ControllerRevision>]) -> Result<(), ReconcileError> {
        let limit = spec.revision_history_limit.unwrap_or(10).max(0);
        if i32::try_from(old.len()).unwrap_or(i32::MAX) <= limit {
            return Ok(());
        }
        let pods_by_node = by_node(pods, true);
        let live: HashSet<&String> = pods_by_node.values().flatten().filter_map(|pod| pod.metadata.labels.as_ref()?.get(HASH_LABEL)).collect();
        let in_use: HashSet<String> = old
            .iter()
            .filter(|revision| revision.metadata.labels.as_ref().and_then(|labels| labels.get(HASH_LABEL)).is_some_and(|hash| live.contains(hash)))
            .filter_map(|revision| revision.metadata.name.clone())
            .collect();
        // history::truncate keeps `limit` of the unused ones; Kubernetes keeps `limit` in all.
        let unused_kept = limit.saturating_sub(i32::try_from(in_use.len()).unwrap_or(i32::MAX)).max(0);
        history::truncate(&self.context, old, &in_use, unused_kept).await
    }

    /// Writes the status counts when they changed (`updateDaemonSetStatus`); observedGeneration
    /// only once this generation has been acted on.
    async fn update_status(
        &self,
        set: &DaemonSet,
        selector: &LabelSelector,
        placements: &BTreeMap<String, Placement>,
        view: &View,
        observed: bool,
        retry_after: Option<Duration>,
    ) -> Result<Action, ReconcileError> {
        // What the informer shows now, the reconcile's own writes included as far as it has seen them.
        let uid = set.metadata.uid.as_deref().unwrap_or_default();
        let no_labels = BTreeMap::new();
        let pods: Vec<Arc<Pod>> = self
            .context
            .pods
            .store()
            .state()
            .into_iter()
            .filter(|pod| pod.metadata.namespace == set.metadata.namespace)
            .filter(|pod| pod.metadata.owner_references.iter().flatten().any(|owner| owner.controller == Some(true) && owner.uid == uid))
            .filter(|pod| selector.matches(pod.metadata.labels.as_ref().unwrap_or(&no_labels)))
            .collect();
        let counts = count(placements, &by_node(&pods, false), view);
        let previous = set.status.clone().unwrap_or_default();
        let before = Counts {
            desired: previous.desired_number_scheduled,
            current: previous.current_number_scheduled,
            misscheduled: previous.number_misscheduled,
            ready: previous.number_ready,
            updated: previous.updated_number_scheduled.unwrap_or(0),
            available: previous.number_available.unwrap_or(0),
            unavailable: previous.number_unavailable.unwrap_or(0),
        };
        let observed_generation = if observed { set.metadata.generation } else { previous.observed_generation };
        if counts != before || observed_generation.unwrap_or(0) != previous.observed_generation.unwrap_or(0) {
            let mut status = json!({
                "desiredNumberScheduled": counts.desired,
                "currentNumberScheduled": counts.current,
                "numberMisscheduled": counts.misscheduled,
                "numberReady": counts.ready,
                "updatedNumberScheduled": counts.updated,
                "numberAvailable": counts.available,
                "numberUnavailable": counts.unavailable,
            });
            if let Some(generation) = observed_generation {
                status["observedGeneration"] = json!(generation);
            }
            let sets: Api<DaemonSet> = Api::namespaced(self.context.client.clone(), set.metadata.namespace.as_deref().unwrap_or_default());
            match sets.patch_status(set.metadata.name.as_deref().unwrap_or_default(), &PatchParams::default(), &Patch::Merge(json!({"status": status}))).await {
                Err(err) if !framework::answered(&err, &[404]) => return Err(err.into()),
                _ => {}
            }
        }
        // Pods that turn available once minReadySeconds have passed need a look then.
        let mut requeue = framework::RESYNC;
        if !view.min_ready.is_zero() && counts.ready != counts.available {
            requeue = requeue.min(view.min_ready);
        }
        if let Some(delay) = retry_after {
            requeue = requeue.min(delay);
        }
        Ok(Action::requeue(requeue.max(Duration::from_secs(1))))
    }

    async fn event(&self, set: &DaemonSet, kind: &str, reason: &str, message: &str) {
        if let Err(err) = self.recorder.record(&common::events::reference(set), kind, reason, "Reconcile", message).await {
            tracing::debug!(namespace = ?set.metadata.namespace, name = ?set.metadata.name, error = %err, "cannot record event");
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    fn node(value: Value) -> Node {
        serde_json::from_value(value).unwrap()
    }

    fn template(spec: Value) -> PodTemplateSpec {
        serde_json::from_value(json!({"metadata": {"labels": {"app": "agent"}}, "spec": spec})).unwrap()
    }

    fn placement(spec: Value, node_value: Value) -> Placement {
        Eligibility::new(&template(spec)).on(&node(node_value))
    }

    const RUN: Placement = Placement { run: true, keep: true };
    const KEEP: Placement = Placement { run: false, keep: true };
    const NONE: Placement = Placement { run: false, keep: false };

    #[test]
    fn daemon_pods_tolerate_node_problems_and_replace_a_same_toleration() {
        let mut spec: PodSpec = serde_json::from_value(json!({"containers": [], "tolerations": [
            {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 30},
            {"key": "dedicated", "operator": "Equal", "value": "infra", "effect": "NoSchedule"}]})).unwrap();
        add_daemon_tolerations(&mut spec);
        let tolerations = spec.tolerations.clone().unwrap();
        assert_eq!(tolerations.len(), 7, "{tolerations:?}");
        assert_eq!(tolerations[0].toleration_seconds, None, "the not-ready toleration is forever");
        assert_eq!(tolerations[1].key.as_deref(), Some("dedicated"));
        let keys: Vec<&str> = tolerations.iter().filter_map(|toleration| toleration.key.as_deref()).collect();
        assert!(!keys.contains(&"node.kubernetes.io/network-unavailable"));
        add_daemon_tolerations(&mut spec);
        assert_eq!(spec.tolerations.as_ref().unwrap().len(), 7, "adding twice changes nothing");
        let mut host: PodSpec = serde_json::from_value(json!({"containers": [], "hostNetwork": true})).unwrap();
        add_daemon_tolerations(&mut host);
        assert!(host.tolerations.unwrap().iter().any(|toleration| toleration.key.as_deref() == Some("node.kubernetes.io/network-unavailable") && toleration.effect.as_deref() == Some("NoSchedule")));
    }

    #[test]
    fn nodes_are_eligible_by_selector_affinity_and_taints() {
        let worker = json!({"metadata": {"name": "w1", "labels": {"role": "worker", "cores": "8"}}});
        assert_eq!(placement(json!({"containers": []}), worker.clone()), RUN);
        assert_eq!(placement(json!({"containers": [], "nodeSelector": {"role": "worker"}}), worker.clone()), RUN);
        assert_eq!(placement(json!({"containers": [], "nodeSelector": {"role": "db"}}), worker.clone()), NONE);
        assert_eq!(placement(json!({"containers": [], "nodeName": "w2"}), worker.clone()), NONE);
        assert_eq!(placement(json!({"containers": [], "nodeName": "w1"}), worker.clone()), RUN);
        let affinity = |terms: Value| json!({"containers": [], "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": terms}}}});
        for (terms, expected) in [
            (json!([{"matchExpressions": [{"key": "role", "operator": "In", "values": ["worker", "edge"]}]}]), RUN),
            (json!([{"matchExpressions": [{"key": "role", "operator": "NotIn", "values": ["worker"]}]}]), NONE),
            (json!([{"matchExpressions": [{"key": "zone", "operator": "NotIn", "values": ["a"]}]}]), RUN),
            (json!([{"matchExpressions": [{"key": "role", "operator": "Exists"}]}]), RUN),
            (json!([{"matchExpressions": [{"key": "role", "operator": "DoesNotExist"}]}]), NONE),
            (json!([{"matchExpressions": [{"key": "cores", "operator": "Gt", "values": ["4"]}]}]), RUN),
            (json!([{"matchExpressions": [{"key": "cores", "operator": "Lt", "values": ["4"]}]}]), NONE),
            (json!([{"matchExpressions": [{"key": "role", "operator": "In", "values": []}]}]), NONE),
            (json!([{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["w1"]}]}]), RUN),
            (json!([{"matchFields": [{"key": "metadata.name", "operator": "NotIn", "values": ["w1"]}]}]), NONE),
            (json!([{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["w1", "w2"]}]}]), NONE),
            // Terms are ORed; an empty term matches nothing.
            (json!([{}, {"matchExpressions": [{"key": "role", "operator": "In", "values": ["db"]}]}]), NONE),
            (json!([{"matchExpressions": [{"key": "role", "operator": "In", "values": ["db"]}]}, {"matchExpressions": [{"key": "role", "operator": "Exists"}]}]), RUN),
        ] {
            assert_eq!(placement(affinity(terms.clone()), worker.clone()), expected, "{terms}");
        }

        let tainted = |taints: Value| json!({"metadata": {"name": "w1"}, "spec": {"taints": taints}});
        let plain = json!({"containers": []});
        assert_eq!(placement(plain.clone(), tainted(json!([{"key": "dedicated", "value": "db", "effect": "NoSchedule"}]))), KEEP);
        assert_eq!(placement(plain.clone(), tainted(json!([{"key": "dedicated", "value": "db", "effect": "NoExecute"}]))), NONE);
        assert_eq!(placement(plain.clone(), tainted(json!([{"key": "dedicated", "value": "db", "effect": "PreferNoSchedule"}]))), RUN);
        let tolerating = json!({"containers": [], "tolerations": [{"key": "dedicated", "operator": "Exists"}]});
        assert_eq!(placement(tolerating, tainted(json!([{"key": "dedicated", "value": "db", "effect": "NoExecute"}]))), RUN);
        // What node problems and cordons taint a node with, daemon pods tolerate.
        for taint in [
            json!({"key": "node.kubernetes.io/not-ready", "effect": "NoExecute"}),
            json!({"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"}),
            json!({"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}),
            json!({"key": "node.kubernetes.io/memory-pressure", "effect": "NoSchedule"}),
        ] {
            assert_eq!(placement(plain.clone(), tainted(json!([taint.clone()]))), RUN, "{taint}");
        }
        assert_eq!(placement(plain.clone(), tainted(json!([{"key": "node.kubernetes.io/network-unavailable", "effect": "NoSchedule"}]))), KEEP);
        assert_eq!(placement(json!({"containers": [], "hostNetwork": true}), tainted(json!([{"key": "node.kubernetes.io/network-unavailable", "effect": "NoSchedule"}]))), RUN);
    }

    fn daemon_set(value: Value) -> DaemonSet {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn new_pods_are_pinned_to_their_node_and_labelled_with_the_revision() {
        let set = daemon_set(json!({"metadata": {"name": "agent", "namespace": "infra", "uid": "u1", "generation": 3, "annotations": {GENERATION_ANNOTATION: "2"}},
            "spec": {"selector": {"matchLabels": {"app": "agent"}}, "template": {"metadata": {"labels": {"app": "agent"}, "annotations": {"a": "b"}},
                "spec": {"containers": [{"name": "c", "image": "busybox"}], "affinity": {"nodeAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{"matchExpressions": [{"key": "role", "operator": "Exists"}]}]},
                    "preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 1, "preference": {"matchExpressions": [{"key": "ssd", "operator": "Exists"}]}}]}}}}}}));
        let pod = new_pod(&set, "abc12", "w1");
        assert_eq!(pod.metadata.generate_name.as_deref(), Some("agent-"));
        assert_eq!(pod.metadata.namespace.as_deref(), Some("infra"));
        let labels = pod.metadata.labels.clone().unwrap();
        assert_eq!(labels, BTreeMap::from([("app".into(), "agent".into()), (HASH_LABEL.into(), "abc12".into()), (GENERATION_LABEL.into(), "2".into())]));
        assert_eq!(pod.metadata.annotations.clone().unwrap()["a"], "b");
        let owner = &pod.metadata.owner_references.clone().unwrap()[0];
        assert_eq!((owner.kind.as_str(), owner.name.as_str(), owner.uid.as_str(), owner.controller), ("DaemonSet", "agent", "u1", Some(true)));
        let spec = pod.spec.clone().unwrap();
        let affinity = serde_json::to_value(spec.affinity.unwrap().node_affinity.unwrap()).unwrap();
        assert_eq!(affinity["requiredDuringSchedulingIgnoredDuringExecution"], json!({"nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["w1"]}]}]}));
        assert_eq!(affinity["preferredDuringSchedulingIgnoredDuringExecution"][0]["weight"], 1, "preferred terms stay");
        assert_eq!(spec.tolerations.unwrap().len(), 6);
        assert_eq!(target_node(&pod).as_deref(), Some("w1"));

        // Without the annotation the label follows the set's generation; a template without
        // affinity gets one.
        let bare = daemon_set(json!({"metadata": {"name": "agent", "generation": 3}, "spec": {"selector": {}, "template": {"spec": {"containers": []}}}}));
        let pod = new_pod(&bare, "h", "w2");
        assert_eq!(pod.metadata.labels.clone().unwrap()[GENERATION_LABEL], "3");
        assert_eq!(target_node(&pod).as_deref(), Some("w2"));
        let mut bound = pod.clone();
        bound.spec.as_mut().unwrap().node_name = Some("w9".into());
        assert_eq!(target_node(&bound).as_deref(), Some("w9"), "where it is bound wins");
    }

    fn pod(name: &str, hash: &str, created: &str, state: &str) -> Arc<Pod> {
        let mut value = json!({"metadata": {"name": name, "creationTimestamp": created, "labels": {HASH_LABEL: hash}}, "spec": {"containers": [], "nodeName": "n"}});
        match state {
            "available" => value["status"] = json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": "2026-01-01T00:00:00Z"}]}),
            "ready-now" => value["status"] = json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": "2026-01-01T00:09:59Z"}]}),
            "running" => value["status"] = json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "False"}]}),
            "failed" => value["status"] = json!({"phase": "Failed"}),
            "succeeded" => value["status"] = json!({"phase": "Succeeded"}),
            "deleting" => {
                value["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:05:00Z");
                value["status"] = json!({"phase": "Running"});
            }
            _ => {}
        }
        Arc::new(serde_json::from_value(value).unwrap())
    }

    fn view(surge: bool, min_ready: u64) -> View {
        View { hash: "new".into(), generation: None, surge, min_ready: Duration::from_secs(min_ready), now: "2026-01-01T00:10:00Z".parse().unwrap() }
    }

    fn names(pods: &[Arc<Pod>]) -> Vec<String> {
        pods.iter().map(|pod| name_of(pod)).collect()
    }

    #[test]
    fn a_node_gets_one_pod_the_oldest_stays_and_failed_ones_are_named() {
        let plan = plan_node(RUN, None, &view(false, 0));
        assert!(plan.create);
        assert!(!plan_node(KEEP, None, &view(false, 0)).create, "a NoSchedule taint keeps new pods out");
        let pods = vec![pod("b", "new", "2026-01-01T00:02:00Z", "available"), pod("a", "old", "2026-01-01T00:01:00Z", "available"), pod("c", "new", "2026-01-01T00:03:00Z", "deleting")];
        let plan = plan_node(RUN, Some(&pods), &view(false, 0));
        assert!(!plan.create);
        assert_eq!(names(&plan.delete), ["b"], "duplicates go, the oldest stays, one being deleted is left alone");
        let pods = vec![pod("f", "new", "2026-01-01T00:01:00Z", "failed"), pod("s", "new", "2026-01-01T00:01:00Z", "succeeded")];
        let plan = plan_node(RUN, Some(&pods), &view(false, 0));
        assert_eq!((names(&plan.failed), names(&plan.succeeded), plan.create, plan.delete.len()), (vec!["f".to_string()], vec!["s".to_string()], false, 0));
        // Not eligible any more (an untolerated NoExecute taint, a changed selector): all go.
        let pods = vec![pod("a", "new", "2026-01-01T00:01:00Z", "available"), pod("d", "new", "2026-01-01T00:01:00Z", "deleting")];
        assert_eq!(names(&plan_node(NONE, Some(&pods), &view(false, 0)).delete), ["a"]);
        assert_eq!(names(&plan_node(KEEP, Some(&pods), &view(false, 0)).delete), Vec::<String>::new(), "a NoSchedule taint lets it stay");
    }

    #[test]
    fn surging_keeps_an_old_pod_only_until_the_new_one_is_available() {
        let old = pod("old", "old", "2026-01-01T00:01:00Z", "available");
        let waiting = pod("new", "new", "2026-01-01T00:02:00Z", "running");
        let plan = plan_node(RUN, Some(&vec![old.clone(), waiting]), &view(true, 0));
        assert!(plan.delete.is_empty());
        let up = pod("new", "new", "2026-01-01T00:02:00Z", "available");
        assert_eq!(names(&plan_node(RUN, Some(&vec![old.clone(), up.clone()]), &view(true, 0)).delete), ["old"]);
        let not_ready_old = pod("old", "old", "2026-01-01T00:01:00Z", "running");
        let waiting = pod("new", "new", "2026-01-01T00:02:00Z", "running");
        assert_eq!(names(&plan_node(RUN, Some(&vec![not_ready_old, waiting]), &view(true, 0)).delete), ["old"]);
        let second_new = pod("new2", "new", "2026-01-01T00:03:00Z", "available");
        assert_eq!(names(&plan_node(RUN, Some(&vec![old, up, second_new]), &view(true, 0)).delete), ["new2", "old"]);
        assert!(plan_node(RUN, Some(&vec![pod("d", "old", "2026-01-01T00:01:00Z", "deleting")]), &view(true, 0)).create, "surging starts the new pod while the old one goes");
    }

    fn nodes(entries: &[(&str, Vec<Arc<Pod>>)]) -> BTreeMap<String, Vec<Arc<Pod>>> {
        entries.iter().map(|(node, pods)| (node.to_string(), pods.clone())).collect()
    }

    fn all_run(names: &[&str]) -> BTreeMap<String, Placement> {
        names.iter().map(|name| (name.to_string(), RUN)).collect()
    }

    #[test]
    fn max_unavailable_bounds_how_many_old_pods_go_at_once() {
        let old = |name: &str| pod(name, "old", "2026-01-01T00:01:00Z", "available");
        let placements = all_run(&["a", "b", "c"]);
        let start = nodes(&[("a", vec![old("pa")]), ("b", vec![old("pb")]), ("c", vec![old("pc")])]);
        assert_eq!(rolling_step(&start, &placements, &view(false, 0), 0, 1), Step { delete: vec!["pa".into()], create: vec![] });
        assert_eq!(rolling_step(&start, &placements, &view(false, 0), 0, 2).delete, ["pa", "pb"]);
        // A node whose new pod is not available yet uses up the budget; so does a node with none.
        let rolling = nodes(&[("a", vec![pod("na", "new", "2026-01-01T00:09:00Z", "running")]), ("b", vec![old("pb")]), ("c", vec![old("pc")])]);
        assert_eq!(rolling_step(&rolling, &placements, &view(false, 0), 0, 1), Step::default());
        let emptied = nodes(&[("b", vec![old("pb")]), ("c", vec![old("pc")])]);
        assert_eq!(rolling_step(&emptied, &placements, &view(false, 0), 0, 1), Step::default());
        // Once it is available, the next goes.
        let next = nodes(&[("a", vec![pod("na", "new", "2026-01-01T00:09:00Z", "available")]), ("b", vec![old("pb")]), ("c", vec![old("pc")])]);
        assert_eq!(rolling_step(&next, &placements, &view(false, 0), 0, 1).delete, ["pb"]);
        // ... but not while minReadySeconds have not passed.
        let fresh = nodes(&[("a", vec![pod("na", "new", "2026-01-01T00:09:00Z", "ready-now")]), ("b", vec![old("pb")]), ("c", vec![old("pc")])]);
        assert_eq!(rolling_step(&fresh, &placements, &view(false, 30), 0, 1), Step::default());
        // Old pods that are not available go regardless of the budget.
        let broken = nodes(&[("a", vec![pod("pa", "old", "2026-01-01T00:01:00Z", "running")]), ("b", vec![pod("pb", "old", "2026-01-01T00:01:00Z", "running")]), ("c", vec![old("pc")])]);
        assert_eq!(rolling_step(&broken, &placements, &view(false, 0), 0, 1).delete, ["pa", "pb"]);
        // Done: nothing to do.
        let done = nodes(&[("a", vec![pod("na", "new", "2026-01-01T00:01:00Z", "available")])]);
        assert_eq!(rolling_step(&done, &all_run(&["a"]), &view(false, 0), 0, 1), Step::default());
    }

    #[test]
    fn max_surge_starts_new_pods_beside_old_ones() {
        let old = |name: &str| pod(name, "old", "2026-01-01T00:01:00Z", "available");
        let placements = all_run(&["a", "b", "c"]);
        let start = nodes(&[("a", vec![old("pa")]), ("b", vec![old("pb")]), ("c", vec![old("pc")])]);
        assert_eq!(rolling_step(&start, &placements, &view(true, 0), 1, 0), Step { delete: vec![], create: vec!["a".into()] });
        assert_eq!(rolling_step(&start, &placements, &view(true, 0), 2, 0).create, ["a", "b"]);
        let surged = nodes(&[("a", vec![old("pa"), pod("na", "new", "2026-01-01T00:09:00Z", "running")]), ("b", vec![old("pb")]), ("c", vec![old("pc")])]);
        assert_eq!(rolling_step(&surged, &placements, &view(true, 0), 1, 0), Step::default(), "one surge in flight");
        let up = nodes(&[("a", vec![old("pa"), pod("na", "new", "2026-01-01T00:09:00Z", "available")]), ("b", vec![old("pb")]), ("c", vec![old("pc")])]);
        assert_eq!(rolling_step(&up, &placements, &view(true, 0), 1, 0), Step { delete: vec!["pa".into()], create: vec!["b".into()] });
        let broken = nodes(&[("a", vec![pod("pa", "old", "2026-01-01T00:01:00Z", "running")]), ("b", vec![old("pb")]), ("c", vec![old("pc")])]);
        assert_eq!(rolling_step(&broken, &placements, &view(true, 0), 1, 0).create, ["a", "b"], "an unavailable old pod is replaced beyond the surge");
        // A node the pods must leave keeps its old pod until the pods elsewhere are available.
        let mut moved = placements.clone();
        moved.insert("c".into(), KEEP);
        let leaving = nodes(&[("a", vec![pod("na", "new", "2026-01-01T00:01:00Z", "running")]), ("b", vec![pod("nb", "new", "2026-01-01T00:01:00Z", "available")]), ("c", vec![old("pc")])]);
        assert_eq!(rolling_step(&leaving, &moved, &view(true, 0), 1, 0), Step::default());
        let arrived = nodes(&[("a", vec![pod("na", "new", "2026-01-01T00:01:00Z", "available")]), ("b", vec![pod("nb", "new", "2026-01-01T00:01:00Z", "available")]), ("c", vec![old("pc")])]);
        assert_eq!(rolling_step(&arrived, &moved, &view(true, 0), 1, 0).delete, ["pc"]);
    }

    #[test]
    fn surge_and_unavailability_scale_with_the_nodes_and_round_up() {
        let spec = |strategy: Value| -> DaemonSetSpec { serde_json::from_value(json!({"selector": {}, "template": {}, "updateStrategy": strategy})).unwrap() };
        assert_eq!(surge_and_unavailable(&spec(json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "10%"}})), 3), Ok((0, 1)));
        assert_eq!(surge_and_unavailable(&spec(json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "50%"}})), 3), Ok((0, 2)));
        assert_eq!(surge_and_unavailable(&spec(json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "34%", "maxUnavailable": 0}})), 3), Ok((2, 0)));
        assert_eq!(surge_and_unavailable(&spec(json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 0}})), 3), Ok((0, 1)));
        assert_eq!(surge_and_unavailable(&spec(json!({"type": "RollingUpdate"})), 3), Ok((0, 1)));
        assert_eq!(surge_and_unavailable(&spec(json!({})), 3), Ok((0, 1)), "RollingUpdate is the default");
        assert_eq!(surge_and_unavailable(&spec(json!({"type": "OnDelete"})), 3), Ok((0, 0)));
        assert!(surge_and_unavailable(&spec(json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "ten"}})), 3).is_err());
    }

    #[test]
    fn status_counts_the_oldest_pod_of_each_node() {
        let mut placements = all_run(&["a", "b", "c", "d"]);
        placements.insert("e".into(), NONE);
        let pods = nodes(&[
            ("a", vec![pod("na", "new", "2026-01-01T00:01:00Z", "available")]),
            ("b", vec![pod("ob", "old", "2026-01-01T00:01:00Z", "available"), pod("nb", "new", "2026-01-01T00:02:00Z", "running")]),
            ("c", vec![pod("nc", "new", "2026-01-01T00:01:00Z", "ready-now")]),
            ("e", vec![pod("oe", "old", "2026-01-01T00:01:00Z", "available")]),
        ]);
        let counts = count(&placements, &pods, &view(false, 30));
        assert_eq!(counts, Counts { desired: 4, current: 3, misscheduled: 1, ready: 3, updated: 2, available: 2, unavailable: 2 });
        // The template generation marks pods updated too, as in Kubernetes.
        let mut labelled = (*pod("x", "other", "2026-01-01T00:01:00Z", "available")).clone();
        labelled.metadata.labels.as_mut().unwrap().insert(GENERATION_LABEL.into(), "4".into());
        let by_generation = View { generation: Some(4), ..view(false, 0) };
        assert!(by_generation.is_updated(&labelled));
        assert!(!view(false, 0).is_updated(&labelled));
    }

    #[test]
    fn pods_by_node_leave_out_terminal_pods_being_deleted() {
        let mut gone = (*pod("f", "new", "2026-01-01T00:01:00Z", "failed")).clone();
        gone.metadata.deletion_timestamp = serde_json::from_value(json!("2026-01-01T00:05:00Z")).unwrap();
        let pods = vec![Arc::new(gone), pod("d", "new", "2026-01-01T00:01:00Z", "deleting")];
        assert_eq!(names(&by_node(&pods, false)["n"]), ["d"]);
        assert_eq!(by_node(&pods, true)["n"].len(), 2);
    }

    #[test]
    fn failed_pod_deletions_back_off_per_key() {
        let mut backoff = Backoff::default();
        let start = Instant::now();
        assert_eq!(backoff.waiting("k", start), None);
        backoff.next("k", start);
        assert_eq!(backoff.waiting("k", start + Duration::from_millis(400)), Some(Duration::from_millis(600)));
        assert_eq!(backoff.waiting("k", start + Duration::from_secs(1)), None);
        assert_eq!(backoff.waiting("other", start), None);
        backoff.next("k", start + Duration::from_secs(1));
        assert_eq!(backoff.waiting("k", start + Duration::from_secs(2)), Some(Duration::from_secs(1)), "doubled");
        for step in 2..20 {
            backoff.next("k", start + Duration::from_secs(step));
        }
        assert_eq!(backoff.entries["k"].1, BACKOFF_MAX);
        // Long quiet, it starts over.
        backoff.next("k", start + Duration::from_secs(19) + 3 * BACKOFF_MAX);
        assert_eq!(backoff.entries["k"].1, BACKOFF_INITIAL);
    }
}
