//! The node lifecycle controller, after Kubernetes' (`pkg/controller/nodelifecycle`, with the
//! taint-based eviction of `pkg/controller/tainteviction`).
//!
//! Every `--node-monitor-period` it looks at each node's heartbeat: the renewTime of its Lease in
//! `kube-node-lease` and the lastHeartbeatTime of its Ready condition. Staleness is judged as
//! client-go's leader election judges a lease: by how long ago this process saw the heartbeat
//! change, on its own monotonic clock, so the kubelet's clock (and skew between machines) never
//! matters. A node quiet for `--node-monitor-grace-period` has the conditions its kubelet owns
//! set to Unknown. The Ready condition then decides the node's taints: `unreachable` (Unknown) or
//! `not-ready` (False) as NoExecute, and a NoSchedule taint for every condition the scheduler
//! should steer clear of.
//!
//! Pods bound to a node with NoExecute taints are deleted when the tolerations they have (or the
//! default one every pod is given) run out, counted from each taint's timeAdded; pods on a node
//! that is not Ready are marked not Ready themselves, so that endpoints stop sending them traffic.
//!
//! As in Kubernetes, when every node of a zone is not Ready the controller suspects itself (a
//! network partition around the control plane) rather than the nodes: it adds no NoExecute taints
//! there, and when every zone is so it removes them everywhere, so that a partition does not
//! delete every pod of the cluster.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use futures::StreamExt;
use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::core::v1::{Node, NodeCondition, Pod, Taint, Toleration};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Api, DeleteParams, Patch, PatchParams, Preconditions};
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;
use serde_json::json;

use crate::context::Context;
use crate::framework::{self, ReconcileError};

/// Who records what the monitor does, as in Kubernetes.
const COMPONENT: &str = "node-controller";
/// Who records evictions (Kubernetes 1.29 split the taint manager out under this name).
const EVICTION_COMPONENT: &str = "taint-eviction-controller";
const LEASE_NAMESPACE: &str = "kube-node-lease";

const UNREACHABLE: &str = "node.kubernetes.io/unreachable";
const NOT_READY: &str = "node.kubernetes.io/not-ready";
const UNSCHEDULABLE: &str = "node.kubernetes.io/unschedulable";
const NO_EXECUTE: &str = "NoExecute";
const NO_SCHEDULE: &str = "NoSchedule";
/// Nodes with this label count in no zone's disruption (Kubernetes' `LabelNodeExcludeDisruption`).
const EXCLUDE_DISRUPTION: &str = "node.kubernetes.io/exclude-disruption";

/// The conditions a kubelet reports that go Unknown when it falls silent (`tryUpdateNodeHealth`).
const KUBELET_CONDITIONS: [&str; 4] = ["Ready", "MemoryPressure", "DiskPressure", "PIDPressure"];

/// `nodeConditionToTaintKeyStatusMap`: the NoSchedule taint a condition in a status brings.
const CONDITION_TAINTS: [(&str, &str, &str); 6] = [
    ("Ready", "False", NOT_READY),
    ("Ready", "Unknown", UNREACHABLE),
    ("MemoryPressure", "True", "node.kubernetes.io/memory-pressure"),
    ("DiskPressure", "True", "node.kubernetes.io/disk-pressure"),
    ("NetworkUnavailable", "True", "node.kubernetes.io/network-unavailable"),
    ("PIDPressure", "True", "node.kubernetes.io/pid-pressure"),
];

pub async fn run(context: Arc<Context>) {
    let monitor = Monitor { recorder: context.recorder(COMPONENT), context: context.clone(), health: HashMap::new(), all_disrupted: false };
    tokio::join!(monitor.run(), run_evictions(context));
}

fn condition<'a>(node: &'a Node, type_: &str) -> Option<&'a NodeCondition> {
    node.status.as_ref()?.conditions.as_ref()?.iter().find(|condition| condition.type_ == type_)
}

fn ready_status(node: &Node) -> Option<&str> {
    condition(node, "Ready").map(|condition| condition.status.as_str())
}

fn name_of(node: &Node) -> String {
    node.metadata.name.clone().unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// The monitor: heartbeats, conditions, taints

/// What the monitor remembers of a node between passes.
struct Health {
    uid: String,
    /// The lease's renewTime and the Ready condition's lastHeartbeatTime, as last seen.
    heartbeat: (Option<Timestamp>, Option<Timestamp>),
    /// When this process saw `heartbeat` change (or first saw the node).
    changed: Instant,
    /// The Ready status as of the last pass, to tell transitions.
    ready: Option<String>,
}

/// Which NoExecute taints the monitor may write, from the zone's health.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum NoExecute {
    /// Taint by the Ready condition.
    Follow,
    /// Every node of the zone is not Ready: change or remove taints already there, add none.
    KeepOnly,
    /// Every node of every zone is not Ready: remove them all.
    RemoveAll,
}

struct Monitor {
    context: Arc<Context>,
    recorder: common::events::Recorder,
    health: HashMap<String, Health>,
    /// Kubernetes' "master disruption mode": every zone is fully disrupted.
    all_disrupted: bool,
}

impl Monitor {
    async fn run(mut self) {
        let mut ticker = tokio::time::interval(self.context.settings.node_monitor_period);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // A node whose Ready condition changes is looked at at once, not at the next tick, as
        // Kubernetes' controller handles node updates: a node that turns Ready loses its
        // not-ready taint moments later, before pods are scheduled around it.
        let mut changes = std::pin::pin!(self.context.nodes.changes());
        let mut readiness: HashMap<String, Option<String>> = HashMap::new();
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                Some(node) = changes.next() => {
                    let ready = ready_status(&node).map(str::to_string);
                    if readiness.insert(name_of(&node), ready.clone()) == Some(ready) {
                        continue;
                    }
                }
            }
            self.pass().await;
        }
    }

    async fn pass(&mut self) {
        let concurrency = usize::from(self.context.settings.concurrent_syncs);
        let nodes = self.context.nodes.store().state();
        let judged = self.observe_heartbeats(&nodes, Instant::now());

        // First every node's conditions, so that the zones are judged on this pass' view.
        let observed: Vec<(Arc<Node>, bool)> =
            futures::stream::iter(judged).map(|(node, stale)| self.update_conditions(node, stale)).buffer_unordered(concurrency).collect().await;

        let mut zones: HashMap<String, (usize, usize)> = HashMap::new();
        let mut became_not_ready = HashSet::new();
        for (node, _) in &observed {
            let name = name_of(node);
            let ready = ready_status(node).map(str::to_string);
            if let Some(health) = self.health.get_mut(&name) {
                if health.ready.as_deref() == Some("True") && ready.as_deref() != Some("True") {
                    became_not_ready.insert(name.clone());
                } else if health.ready.as_deref().is_some_and(|was| was != "True") && ready.as_deref() == Some("True") {
                    tracing::info!(node = %name, "node is Ready again");
                }
                health.ready = ready.clone();
            }
            let labels = node.metadata.labels.as_ref();
            if labels.is_some_and(|labels| labels.contains_key(EXCLUDE_DISRUPTION)) {
                continue;
            }
            let counts = zones.entry(zone_of(node)).or_default();
            if ready.as_deref() == Some("True") {
                counts.0 += 1;
            } else {
                counts.1 += 1;
            }
        }
        let disrupted: HashSet<&String> = zones.iter().filter(|(_, (ready, not_ready))| *ready == 0 && *not_ready > 0).map(|(zone, _)| zone).collect();
        let all_disrupted = !zones.is_empty() && disrupted.len() == zones.len();
        if all_disrupted && !self.all_disrupted {
            tracing::warn!("no node is Ready: suspecting a partition around the control plane, evicting nothing until one is");
        } else if !all_disrupted && self.all_disrupted {
            // As Kubernetes does on leaving this mode: nodes get a full grace period from now.
            tracing::info!("some nodes are Ready again: evictions resume");
            let now = Instant::now();
            for health in self.health.values_mut() {
                health.changed = now;
            }
        }
        self.all_disrupted = all_disrupted;

        let work: Vec<(Arc<Node>, NoExecute, bool)> = observed
            .into_iter()
            .filter(|(_, written)| *written)
            .map(|(node, _)| {
                let policy = if all_disrupted {
                    NoExecute::RemoveAll
                } else if disrupted.contains(&zone_of(&node)) {
                    NoExecute::KeepOnly
                } else {
                    NoExecute::Follow
                };
                let transition = became_not_ready.contains(&name_of(&node));
                (node, policy, transition)
            })
            .collect();
        futures::stream::iter(work).for_each_concurrent(concurrency, |(node, policy, transition)| self.update_taints(node, policy, transition)).await;
    }

    /// Notes which heartbeats changed since the last pass and tells, for each node, whether its
    /// heartbeat is older than the grace period. Forgets deleted nodes.
    fn observe_heartbeats(&mut self, nodes: &[Arc<Node>], now: Instant) -> Vec<(Arc<Node>, bool)> {
        let leases = self.context.node_leases.store();
        let grace = self.context.settings.node_monitor_grace_period;
        let mut judged = Vec::with_capacity(nodes.len());
        for node in nodes {
            let name = name_of(node);
            let uid = node.metadata.uid.clone().unwrap_or_default();
            let renewed = leases.get(&ObjectRef::new(&name).within(LEASE_NAMESPACE)).and_then(|lease| lease.spec.as_ref()?.renew_time.as_ref().map(|time| time.0));
            let posted = condition(node, "Ready").and_then(|condition| condition.last_heartbeat_time.as_ref()).map(|time| time.0);
            let heartbeat = (renewed, posted);
            let fresh = || Health { uid: uid.clone(), heartbeat, changed: now, ready: ready_status(node).map(str::to_string) };
            let health = self.health.entry(name).or_insert_with(fresh);
            if health.uid != uid {
                *health = fresh();
            } else if health.heartbeat != heartbeat {
                health.heartbeat = heartbeat;
                health.changed = now;
            }
            judged.push((node.clone(), now.duration_since(health.changed) > grace));
        }
        let present: HashSet<String> = nodes.iter().map(|node| name_of(node)).collect();
        self.health.retain(|name, _| present.contains(name));
        judged
    }

    /// Marks the kubelet's conditions Unknown on a node whose heartbeat is stale. Answers the
    /// node as it now is, and whether it is known to be so (false when the write failed).
    async fn update_conditions(&self, node: Arc<Node>, stale: bool) -> (Arc<Node>, bool) {
        if !stale {
            return (node, true);
        }
        let changed = unknown_conditions(&node, Timestamp::now());
        if changed.is_empty() {
            return (node, true);
        }
        let name = name_of(&node);
        if ready_status(&node) != Some("Unknown") {
            tracing::info!(node = %name, grace = ?self.context.settings.node_monitor_grace_period, "kubelet stopped posting node status; conditions now Unknown");
        }
        let nodes: Api<Node> = Api::all(self.context.client.clone());
        // The resourceVersion makes this fail rather than overwrite a kubelet that just came back.
        let patch = json!({"metadata": {"resourceVersion": node.metadata.resource_version}, "status": {"conditions": changed}});
        match nodes.patch_status(&name, &PatchParams::default(), &Patch::Strategic(patch)).await {
            Ok(updated) => (Arc::new(updated), true),
            Err(err) => {
                if framework::answered(&err, &[404, 409]) {
                    tracing::debug!(node = %name, error = %err, "node changed meanwhile; next pass");
                } else {
                    tracing::warn!(node = %name, error = %err, "cannot mark node status Unknown");
                }
                (node, false)
            }
        }
    }

    async fn update_taints(&self, node: Arc<Node>, policy: NoExecute, became_not_ready: bool) {
        let name = name_of(&node);
        if became_not_ready {
            self.event(&node, "NodeNotReady", &format!("Node {name} status is now: NodeNotReady")).await;
        }
        let current = node.spec.as_ref().and_then(|spec| spec.taints.clone()).unwrap_or_default();
        let desired = desired_taints(&node, policy, Timestamp::now());
        if desired == current {
            return;
        }
        let shown = |taints: &[Taint]| {
            let shown: Vec<String> = taints.iter().map(|taint| format!("{}:{}", taint.key, taint.effect)).collect();
            if shown.is_empty() { "(none)".to_string() } else { shown.join(",") }
        };
        tracing::info!(node = %name, from = %shown(&current), to = %shown(&desired), "updating node taints");
        let taints = if desired.is_empty() { serde_json::Value::Null } else { json!(desired) };
        let patch = json!({"metadata": {"resourceVersion": node.metadata.resource_version}, "spec": {"taints": taints}});
        let nodes: Api<Node> = Api::all(self.context.client.clone());
        match nodes.patch(&name, &PatchParams::default(), &Patch::Merge(patch)).await {
            Ok(_) => {}
            Err(err) if framework::answered(&err, &[404, 409]) => tracing::debug!(node = %name, error = %err, "node changed meanwhile; next pass"),
            Err(err) => tracing::warn!(node = %name, error = %err, "cannot update node taints"),
        }
    }

    async fn event(&self, node: &Node, reason: &str, message: &str) {
        if let Err(err) = self.recorder.record(&common::events::reference(node), "Normal", reason, "NodeLifecycle", message).await {
            tracing::debug!(node = ?node.metadata.name, error = %err, "cannot record event");
        }
    }
}

/// Kubernetes' zone key: region and zone from the topology labels (or their beta forms).
fn zone_of(node: &Node) -> String {
    let labels = node.metadata.labels.clone().unwrap_or_default();
    let label = |name: &str, beta: &str| labels.get(name).or_else(|| labels.get(beta)).cloned().unwrap_or_default();
    let region = label("topology.kubernetes.io/region", "failure-domain.beta.kubernetes.io/region");
    let zone = label("topology.kubernetes.io/zone", "failure-domain.beta.kubernetes.io/zone");
    format!("{region}:\u{0}:{zone}")
}

/// The condition entries to write on a node whose kubelet has gone quiet: each of the kubelet's
/// conditions not Unknown yet, turned Unknown with its lastHeartbeatTime kept (or the node's
/// creation, for one the kubelet never posted), as `tryUpdateNodeHealth` does.
fn unknown_conditions(node: &Node, now: Timestamp) -> Vec<NodeCondition> {
    KUBELET_CONDITIONS
        .iter()
        .filter_map(|type_| match condition(node, type_) {
            None => Some(NodeCondition {
                type_: (*type_).to_string(),
                status: "Unknown".into(),
                reason: Some("NodeStatusNeverUpdated".into()),
                message: Some("Kubelet never posted node status.".into()),
                last_heartbeat_time: node.metadata.creation_timestamp.clone(),
                last_transition_time: Some(Time(now)),
            }),
            Some(existing) if existing.status == "Unknown" => None,
            Some(existing) => Some(NodeCondition {
                status: "Unknown".into(),
                reason: Some("NodeStatusUnknown".into()),
                message: Some("Kubelet stopped posting node status.".into()),
                last_transition_time: Some(Time(now)),
                ..existing.clone()
            }),
        })
        .collect()
}

/// The node's taints as they should be: NoSchedule taints from its conditions and
/// `spec.unschedulable` (`doNoScheduleTaintingPass`), the NoExecute taint its Ready condition
/// calls for (`processTaintBaseEviction`) as `policy` allows, everyone else's taints kept, and
/// the ones that stay unchanged (timeAdded included).
fn desired_taints(node: &Node, policy: NoExecute, now: Timestamp) -> Vec<Taint> {
    let current = node.spec.as_ref().and_then(|spec| spec.taints.clone()).unwrap_or_default();
    let is_managed_no_execute = |taint: &Taint| taint.effect == NO_EXECUTE && (taint.key == UNREACHABLE || taint.key == NOT_READY);
    let managed_no_schedule: BTreeSet<&str> = CONDITION_TAINTS.iter().map(|(_, _, key)| *key).chain([UNSCHEDULABLE]).collect();

    let mut no_schedule: BTreeSet<&str> = CONDITION_TAINTS
        .iter()
        .filter(|(type_, status, _)| condition(node, type_).is_some_and(|condition| condition.status == *status))
        .map(|(_, _, key)| *key)
        .collect();
    if node.spec.as_ref().and_then(|spec| spec.unschedulable) == Some(true) {
        no_schedule.insert(UNSCHEDULABLE);
    }

    let tainted: BTreeSet<&str> = current.iter().filter(|taint| is_managed_no_execute(taint)).map(|taint| taint.key.as_str()).collect();
    let ready = ready_status(node);
    let wanted: BTreeSet<&str> = match ready {
        Some("False") => [NOT_READY].into(),
        Some("Unknown") => [UNREACHABLE].into(),
        _ => BTreeSet::new(),
    };
    let no_execute = match policy {
        // Without a Ready condition there is nothing to go by (a node just registering).
        _ if ready.is_none() => tainted,
        NoExecute::RemoveAll => BTreeSet::new(),
        NoExecute::KeepOnly if tainted.is_empty() => BTreeSet::new(),
        NoExecute::KeepOnly | NoExecute::Follow => wanted,
    };

    let mut taints: Vec<Taint> = current
        .iter()
        .filter(|taint| {
            if taint.effect == NO_SCHEDULE && managed_no_schedule.contains(taint.key.as_str()) {
                no_schedule.contains(taint.key.as_str())
            } else if is_managed_no_execute(taint) {
                no_execute.contains(taint.key.as_str())
            } else {
                true
            }
        })
        .cloned()
        .collect();
    for key in no_schedule {
        if !taints.iter().any(|taint| taint.key == key && taint.effect == NO_SCHEDULE) {
            // Kubernetes writes timeAdded on NoExecute taints only.
            taints.push(Taint { key: key.into(), effect: NO_SCHEDULE.into(), value: None, time_added: None });
        }
    }
    for key in no_execute {
        if !taints.iter().any(|taint| taint.key == key && taint.effect == NO_EXECUTE) {
            taints.push(Taint { key: key.into(), effect: NO_EXECUTE.into(), value: None, time_added: Some(Time(now)) });
        }
    }
    taints
}

// ---------------------------------------------------------------------------------------------
// Pods on troubled nodes: marked not Ready, evicted when their tolerations run out

struct Evictions {
    context: Arc<Context>,
    /// Signs the NodeNotReady events on pods, as Kubernetes' node controller does.
    node_recorder: common::events::Recorder,
    recorder: common::events::Recorder,
    /// Pods waiting for a toleration to run out, by uid, so that a taint going away in time
    /// can be told ("Cancelling deletion").
    scheduled: Mutex<HashSet<String>>,
    /// When this process first saw each NoExecute taint written without a timeAdded, by node.
    first_seen: Mutex<HashMap<String, FirstSeen>>,
}

/// (taint key, value) → when first seen.
type FirstSeen = HashMap<(String, Option<String>), Timestamp>;

/// What of a node decides anything for its pods.
#[derive(Clone, Debug, PartialEq)]
struct NodeSummary {
    ready: Option<String>,
    no_execute: Vec<Taint>,
}

fn summary(node: &Node) -> NodeSummary {
    let taints = node.spec.as_ref().and_then(|spec| spec.taints.as_deref()).unwrap_or_default();
    NodeSummary { ready: ready_status(node).map(str::to_string), no_execute: taints.iter().filter(|taint| taint.effect == NO_EXECUTE).cloned().collect() }
}

/// Whether pods on the node may need marking or evicting.
fn troubled(node: &Node) -> bool {
    let summary = summary(node);
    summary.ready.as_deref().is_some_and(|ready| ready != "True") || !summary.no_execute.is_empty()
}

fn node_of(pod: &Pod) -> Option<&str> {
    pod.spec.as_ref()?.node_name.as_deref().filter(|name| !name.is_empty())
}

async fn run_evictions(context: Arc<Context>) {
    let evictions = Arc::new(Evictions {
        node_recorder: context.recorder(COMPONENT),
        recorder: context.recorder(EVICTION_COMPONENT),
        context: context.clone(),
        scheduled: Mutex::default(),
        first_seen: Mutex::default(),
    });
    let (pods, nodes) = (context.pods.store(), context.nodes.store());

    let from_pods = context.pods.changes().flat_map({
        let (pods, nodes, evictions) = (pods.clone(), nodes.clone(), evictions.clone());
        move |pod| {
            let reference = ObjectRef::from_obj(&*pod);
            let current = pods.get(&reference);
            if current.as_ref().is_none_or(|current| current.metadata.uid != pod.metadata.uid) {
                evictions.unschedule(pod.metadata.uid.as_deref().unwrap_or_default());
            }
            let wanted = current.is_some_and(|current| node_of(&current).and_then(|node| nodes.get(&ObjectRef::new(node))).is_some_and(|node| troubled(&node)));
            futures::stream::iter(wanted.then_some(reference))
        }
    });

    // A node's change matters to its pods only when its readiness or NoExecute taints change;
    // heartbeats and the like are not worth a look at every pod.
    let mut summaries: HashMap<String, NodeSummary> = HashMap::new();
    let from_nodes = context.nodes.changes().flat_map({
        let (pods, nodes, evictions) = (pods.clone(), nodes.clone(), evictions.clone());
        move |node| {
            let name = name_of(&node);
            let Some(current) = nodes.get(&ObjectRef::new(&name)) else {
                // Pods of a deleted node are the pod garbage collector's in Kubernetes.
                summaries.remove(&name);
                evictions.forget_node(&name, &[]);
                return futures::stream::iter(Vec::new());
            };
            let summary = summary(&current);
            if summaries.get(&name) == Some(&summary) {
                return futures::stream::iter(Vec::new());
            }
            evictions.forget_node(&name, &summary.no_execute);
            summaries.insert(name.clone(), summary);
            let affected: Vec<ObjectRef<Pod>> = pods.state().iter().filter(|pod| node_of(pod) == Some(name.as_str())).map(|pod| ObjectRef::from_obj(&**pod)).collect();
            futures::stream::iter(affected)
        }
    });

    let triggers = vec![from_pods.boxed(), from_nodes.boxed()];
    framework::run("taint-eviction", context.metrics.clone(), evictions, pods, triggers, context.settings.concurrent_syncs, reconcile_pod).await;
}

async fn reconcile_pod(pod: Arc<Pod>, evictions: Arc<Evictions>) -> Result<Action, ReconcileError> {
    let context = &evictions.context;
    let uid = pod.metadata.uid.clone().unwrap_or_default();
    let Some(node_name) = node_of(&pod) else {
        return Ok(Action::requeue(framework::RESYNC));
    };
    if pod.metadata.deletion_timestamp.is_some() {
        evictions.unschedule(&uid);
        return Ok(Action::await_change());
    }
    let Some(node) = context.nodes.store().get(&ObjectRef::new(node_name)) else {
        return Ok(Action::requeue(framework::RESYNC));
    };

    // Kubernetes' MarkPodsNotReady: the kubelet that would say so is not there to.
    let node_not_ready = ready_status(&node).is_some_and(|ready| ready != "True");
    let pod_ready = pod.status.as_ref().and_then(|status| status.conditions.as_ref()).and_then(|conditions| conditions.iter().find(|condition| condition.type_ == "Ready"));
    if node_not_ready && pod_ready.is_some_and(|condition| condition.status != "False") {
        evictions.mark_not_ready(&pod, node_name).await?;
    }

    let now = Timestamp::now();
    let taints = evictions.no_execute_taints(&node, now);
    let tolerations = with_default_tolerations(pod.spec.as_ref().and_then(|spec| spec.tolerations.as_deref()).unwrap_or_default(), context.settings.default_unreachable_toleration);
    match eviction_time(&tolerations, &taints) {
        Eviction::Never => {
            if evictions.unschedule(&uid) {
                let message = format!("Cancelling deletion of Pod {}", pod_key(&pod));
                evictions.event(&evictions.recorder, &pod, "Normal", "TaintManagerEviction", &message).await;
            }
            Ok(Action::requeue(framework::RESYNC))
        }
        Eviction::At(when) if when > now => {
            evictions.schedule(&uid);
            tracing::debug!(namespace = ?pod.metadata.namespace, name = ?pod.metadata.name, node = %node_name, at = %when, "eviction scheduled");
            Ok(Action::requeue(when.duration_since(now).unsigned_abs()))
        }
        Eviction::Now | Eviction::At(_) => {
            evictions.evict(&pod, node_name).await?;
            Ok(Action::await_change())
        }
    }
}

fn pod_key(pod: &Pod) -> String {
    format!("{}/{}", pod.metadata.namespace.as_deref().unwrap_or_default(), pod.metadata.name.as_deref().unwrap_or_default())
}

impl Evictions {
    fn schedule(&self, uid: &str) {
        if let Ok(mut scheduled) = self.scheduled.lock() {
            scheduled.insert(uid.to_string());
        }
    }

    /// Forgets a pod's scheduled eviction; answers whether there was one.
    fn unschedule(&self, uid: &str) -> bool {
        self.scheduled.lock().is_ok_and(|mut scheduled| scheduled.remove(uid))
    }

    /// Forgets when taints of `node` other than `keep` were first seen.
    fn forget_node(&self, node: &str, keep: &[Taint]) {
        if let Ok(mut first_seen) = self.first_seen.lock()
            && let Some(seen) = first_seen.get_mut(node)
        {
            seen.retain(|(key, value), _| keep.iter().any(|taint| taint.key == *key && taint.value == *value));
            if seen.is_empty() {
                first_seen.remove(node);
            }
        }
    }

    /// The node's NoExecute taints with when each was added: its timeAdded (written by this
    /// controller, so on the clock eviction is judged by), or for a taint someone wrote without
    /// one, when this process first saw it, as Kubernetes' taint manager counts every taint.
    fn no_execute_taints(&self, node: &Node, now: Timestamp) -> Vec<(Taint, Timestamp)> {
        let taints = node.spec.as_ref().and_then(|spec| spec.taints.as_deref()).unwrap_or_default();
        let name = name_of(node);
        taints
            .iter()
            .filter(|taint| taint.effect == NO_EXECUTE)
            .map(|taint| {
                let added = match &taint.time_added {
                    Some(time) => time.0,
                    None => match self.first_seen.lock() {
                        Ok(mut first_seen) => *first_seen.entry(name.clone()).or_default().entry((taint.key.clone(), taint.value.clone())).or_insert(now),
                        Err(_) => now,
                    },
                };
                (taint.clone(), added)
            })
            .collect()
    }

    async fn mark_not_ready(&self, pod: &Pod, node: &str) -> Result<(), ReconcileError> {
        let name = pod.metadata.name.clone().unwrap_or_default();
        let namespace = pod.metadata.namespace.clone().unwrap_or_default();
        let now = Time(Timestamp::now());
        // Conditions merge by type: only Ready changes, reason and message stay as they were.
        let patch = json!({"metadata": {"resourceVersion": pod.metadata.resource_version},
                           "status": {"conditions": [{"type": "Ready", "status": "False", "lastTransitionTime": now}]}});
        let pods: Api<Pod> = Api::namespaced(self.context.client.clone(), &namespace);
        match pods.patch_status(&name, &PatchParams::default(), &Patch::Strategic(patch)).await {
            Ok(_) => {}
            Err(err) if framework::answered(&err, &[404]) => return Ok(()),
            Err(err) => return Err(err.into()),
        }
        tracing::info!(namespace = %namespace, name = %name, node = %node, "node is not Ready; pod marked not Ready");
        self.event(&self.node_recorder, pod, "Warning", "NodeNotReady", "Node is not ready").await;
        Ok(())
    }

    async fn evict(&self, pod: &Pod, node: &str) -> Result<(), ReconcileError> {
        let name = pod.metadata.name.clone().unwrap_or_default();
        let namespace = pod.metadata.namespace.clone().unwrap_or_default();
        let pods: Api<Pod> = Api::namespaced(self.context.client.clone(), &namespace);
        tracing::info!(namespace = %namespace, name = %name, node = %node, "evicting pod from a node with a NoExecute taint it does not tolerate (any longer)");
        self.event(&self.recorder, pod, "Normal", "TaintManagerEviction", &format!("Marking for deletion Pod {}", pod_key(pod))).await;

        // The DisruptionTarget condition tells the pod's owner why it went (Kubernetes 1.31+).
        let conditions = pod.status.as_ref().and_then(|status| status.conditions.as_deref()).unwrap_or_default();
        if !conditions.iter().any(|condition| condition.type_ == "DisruptionTarget" && condition.status == "True") {
            let patch = json!({"status": {"conditions": [{"type": "DisruptionTarget", "status": "True", "reason": "DeletionByTaintManager",
                               "message": "Taint manager: deleting due to NoExecute taint", "lastTransitionTime": Time(Timestamp::now())}]}});
            if let Err(err) = pods.patch_status(&name, &PatchParams::default(), &Patch::Strategic(patch)).await {
                tracing::debug!(namespace = %namespace, name = %name, error = %err, "cannot add the DisruptionTarget condition");
            }
        }
        // The uid keeps a namesake created meanwhile (a StatefulSet's next pod) from going too.
        let preconditions = Preconditions { uid: pod.metadata.uid.clone(), resource_version: None };
        match pods.delete(&name, &DeleteParams::default().preconditions(preconditions)).await {
            Err(err) if !framework::answered(&err, &[404, 409]) => return Err(err.into()),
            _ => {}
        }
        self.unschedule(pod.metadata.uid.as_deref().unwrap_or_default());
        Ok(())
    }

    async fn event(&self, recorder: &common::events::Recorder, pod: &Pod, kind: &str, reason: &str, message: &str) {
        if let Err(err) = recorder.record(&common::events::reference(pod), kind, reason, "NodeLifecycle", message).await {
            tracing::debug!(namespace = ?pod.metadata.namespace, name = ?pod.metadata.name, error = %err, "cannot record event");
        }
    }
}

/// The pod's tolerations plus, for `not-ready` and `unreachable` when it has none of its own,
/// the one Kubernetes' DefaultTolerationSeconds admission gives every pod.
fn with_default_tolerations(tolerations: &[Toleration], default: std::time::Duration) -> Vec<Toleration> {
    let mut all = tolerations.to_vec();
    for key in [NOT_READY, UNREACHABLE] {
        let covered = tolerations.iter().any(|toleration| {
            let toleration_key = toleration.key.as_deref().unwrap_or_default();
            let effect = toleration.effect.as_deref().unwrap_or_default();
            (toleration_key == key || toleration_key.is_empty()) && (effect == NO_EXECUTE || effect.is_empty())
        });
        if !covered {
            all.push(Toleration {
                key: Some(key.into()),
                operator: Some("Exists".into()),
                effect: Some(NO_EXECUTE.into()),
                toleration_seconds: Some(i64::try_from(default.as_secs()).unwrap_or(i64::MAX)),
                value: None,
            });
        }
    }
    all
}

#[derive(Debug, PartialEq, Eq)]
enum Eviction {
    Never,
    Now,
    At(Timestamp),
}

/// When a pod with `tolerations` must leave a node with these NoExecute taints (each with when it
/// was added): at once if one is not tolerated, else when the first toleration runs out. For each
/// taint the first toleration that covers it counts, as in Kubernetes' `GetMatchingTolerations`;
/// one without tolerationSeconds tolerates forever, a negative one not at all.
fn eviction_time(tolerations: &[Toleration], taints: &[(Taint, Timestamp)]) -> Eviction {
    let mut earliest: Option<Timestamp> = None;
    for (taint, added) in taints {
        let Some(toleration) = tolerations.iter().find(|toleration| common::scheduling::tolerates(toleration, taint)) else {
            return Eviction::Now;
        };
        let Some(seconds) = toleration.toleration_seconds else { continue };
        let deadline = added.checked_add(SignedDuration::from_secs(seconds.max(0))).unwrap_or(Timestamp::MAX);
        earliest = Some(earliest.map_or(deadline, |earliest| earliest.min(deadline)));
    }
    earliest.map_or(Eviction::Never, Eviction::At)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::{Value, json};

    use super::*;

    fn node(value: Value) -> Node {
        serde_json::from_value(value).unwrap()
    }

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn toleration(value: Value) -> Toleration {
        serde_json::from_value(value).unwrap()
    }

    fn taint(key: &str, effect: &str) -> Taint {
        Taint { key: key.into(), effect: effect.into(), value: None, time_added: None }
    }

    fn keys(taints: &[Taint]) -> Vec<String> {
        taints.iter().map(|taint| format!("{}:{}", taint.key, taint.effect)).collect()
    }

    #[test]
    fn stale_conditions_go_unknown_keeping_their_heartbeat() {
        let quiet = node(json!({"metadata": {"name": "n", "creationTimestamp": "2026-01-01T00:00:00Z"}, "status": {"conditions": [
            {"type": "Ready", "status": "True", "reason": "KubeletReady", "lastHeartbeatTime": "2026-01-01T00:10:00Z", "lastTransitionTime": "2026-01-01T00:00:05Z"},
            {"type": "MemoryPressure", "status": "Unknown", "reason": "NodeStatusUnknown"},
            {"type": "DiskPressure", "status": "False", "lastHeartbeatTime": "2026-01-01T00:10:00Z"}]}}));
        let now = at("2026-01-01T00:11:00Z");
        let changed = unknown_conditions(&quiet, now);
        let summary: Vec<_> = changed.iter().map(|c| (c.type_.as_str(), c.status.as_str(), c.reason.as_deref().unwrap_or_default())).collect();
        assert_eq!(summary, [("Ready", "Unknown", "NodeStatusUnknown"), ("DiskPressure", "Unknown", "NodeStatusUnknown"), ("PIDPressure", "Unknown", "NodeStatusNeverUpdated")]);
        assert_eq!(changed[0].last_heartbeat_time, Some(Time(at("2026-01-01T00:10:00Z"))));
        assert_eq!(changed[0].last_transition_time, Some(Time(now)));
        assert_eq!(changed[0].message.as_deref(), Some("Kubelet stopped posting node status."));
        assert_eq!(changed[2].last_heartbeat_time, Some(Time(at("2026-01-01T00:00:00Z"))), "never posted: the node's creation");
    }

    #[test]
    fn taints_follow_conditions_and_keep_everything_else() {
        let now = at("2026-01-01T00:00:00Z");
        let unknown = node(json!({"metadata": {"name": "n"}, "spec": {"taints": [{"key": "dedicated", "value": "db", "effect": "NoSchedule"}]},
            "status": {"conditions": [{"type": "Ready", "status": "Unknown"}, {"type": "DiskPressure", "status": "True"}]}}));
        let taints = desired_taints(&unknown, NoExecute::Follow, now);
        assert_eq!(keys(&taints), ["dedicated:NoSchedule", "node.kubernetes.io/disk-pressure:NoSchedule", "node.kubernetes.io/unreachable:NoSchedule", "node.kubernetes.io/unreachable:NoExecute"]);
        assert_eq!(taints[3].time_added, Some(Time(now)));
        assert_eq!(taints[2].time_added, None);

        // Ready=False swaps unreachable for not-ready; the timeAdded of what stays is kept.
        let mut not_ready = unknown.clone();
        not_ready.spec.as_mut().unwrap().taints = Some(taints.clone());
        not_ready.status.as_mut().unwrap().conditions = Some(vec![NodeCondition { type_: "Ready".into(), status: "False".into(), ..Default::default() }]);
        let later = at("2026-01-01T00:01:00Z");
        let swapped = desired_taints(&not_ready, NoExecute::Follow, later);
        assert_eq!(keys(&swapped), ["dedicated:NoSchedule", "node.kubernetes.io/not-ready:NoSchedule", "node.kubernetes.io/not-ready:NoExecute"]);
        assert_eq!(desired_taints(&not_ready, NoExecute::KeepOnly, later), swapped, "a disrupted zone may still swap");

        // Ready again: nothing of ours stays; unschedulable gets its taint.
        let mut ready = not_ready.clone();
        ready.spec.as_mut().unwrap().taints = Some(swapped);
        ready.spec.as_mut().unwrap().unschedulable = Some(true);
        ready.status.as_mut().unwrap().conditions = Some(vec![NodeCondition { type_: "Ready".into(), status: "True".into(), ..Default::default() }]);
        assert_eq!(keys(&desired_taints(&ready, NoExecute::Follow, later)), ["dedicated:NoSchedule", "node.kubernetes.io/unschedulable:NoSchedule"]);
    }

    #[test]
    fn disrupted_zones_get_no_new_no_execute_taints() {
        let now = at("2026-01-01T00:00:00Z");
        let unknown = node(json!({"metadata": {"name": "n"}, "status": {"conditions": [{"type": "Ready", "status": "Unknown"}]}}));
        assert_eq!(keys(&desired_taints(&unknown, NoExecute::KeepOnly, now)), ["node.kubernetes.io/unreachable:NoSchedule"]);
        let mut tainted = unknown.clone();
        tainted.spec = Some(Default::default());
        tainted.spec.as_mut().unwrap().taints = Some(vec![taint(UNREACHABLE, NO_EXECUTE)]);
        assert_eq!(keys(&desired_taints(&tainted, NoExecute::KeepOnly, now)), ["node.kubernetes.io/unreachable:NoExecute", "node.kubernetes.io/unreachable:NoSchedule"]);
        assert_eq!(keys(&desired_taints(&tainted, NoExecute::RemoveAll, now)), ["node.kubernetes.io/unreachable:NoSchedule"]);
        let registering = node(json!({"metadata": {"name": "n"}, "spec": {"taints": [{"key": NOT_READY, "effect": "NoExecute"}]}}));
        assert_eq!(keys(&desired_taints(&registering, NoExecute::Follow, now)), ["node.kubernetes.io/not-ready:NoExecute"], "no Ready condition: left alone");
    }

    #[test]
    fn eviction_waits_for_the_first_toleration_to_run_out() {
        let added = at("2026-01-01T00:00:00Z");
        let unreachable = (Taint { time_added: Some(Time(added)), ..taint(UNREACHABLE, NO_EXECUTE) }, added);
        let other = (taint("maintenance", NO_EXECUTE), at("2026-01-01T00:00:30Z"));
        let defaults = |own: Vec<Toleration>| with_default_tolerations(&own, Duration::from_secs(300));

        assert_eq!(eviction_time(&defaults(vec![]), std::slice::from_ref(&unreachable)), Eviction::At(at("2026-01-01T00:05:00Z")), "the default toleration");
        assert_eq!(eviction_time(&defaults(vec![]), &[unreachable.clone(), other.clone()]), Eviction::Now, "an untolerated taint");
        let own = toleration(json!({"key": UNREACHABLE, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 10}));
        assert_eq!(eviction_time(&defaults(vec![own]), std::slice::from_ref(&unreachable)), Eviction::At(at("2026-01-01T00:00:10Z")));
        let forever = toleration(json!({"operator": "Exists"}));
        assert_eq!(defaults(vec![forever.clone()]).len(), 1, "a wildcard covers both defaults");
        assert_eq!(eviction_time(&defaults(vec![forever]), &[unreachable.clone(), other.clone()]), Eviction::Never);
        let maintenance = toleration(json!({"key": "maintenance", "operator": "Exists", "tolerationSeconds": 60}));
        assert_eq!(eviction_time(&defaults(vec![maintenance]), &[unreachable, other]), Eviction::At(at("2026-01-01T00:01:30Z")), "the earlier of 00:05:00 and 00:00:30 + 60 s");
        assert_eq!(eviction_time(&defaults(vec![]), &[]), Eviction::Never);
    }
}
