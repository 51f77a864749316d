//! The scheduling loop: one task owns the cache and the queue, takes in watch events and binding
//! outcomes, and schedules pods in between. Bindings are written by spawned tasks (a bounded
//! number at a time), events and status conditions by a reporter task, so that the loop never
//! waits on the apiserver. A pod whose claims still need binding waits (in `waiting`, bounded to
//! `BIND_TIMEOUT`) after PreBind's writes until the watches show every claim bound; the loop
//! goes on scheduling other pods meanwhile.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::events::{Recorder, reference};

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Binding, Node, ObjectReference, PersistentVolume, PersistentVolumeClaim, Pod};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::storage::v1::StorageClass;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::runtime::{WatchStreamExt, watcher};
use tokio::sync::{Semaphore, mpsc};

use crate::Config;
use crate::cache::{Cache, NodeInfo, PodInfo};
use crate::plugins;
use crate::preemption::{self, Budget, Nominator, Preemption, Verdict, Victim};
use crate::queue::Queue;
use crate::volume_binding::{Plan, PodClaims, PreFilter, Store, Volumes, key_of, volume_bound_to_claim};

const COMPONENT: &str = "default-scheduler";
/// Pods scheduled between two looks at the inputs, so that watch events and binding outcomes
/// are taken in promptly while a long queue drains.
const BATCH: usize = 32;
/// How long a pod waits in PreBind for its claims to be bound (kube's `bindTimeoutSeconds`).
const BIND_TIMEOUT: Duration = Duration::from_secs(600);
const PRE_BIND: &str = "running PreBind plugin \"VolumeBinding\"";

enum Input {
    Nodes(Box<watcher::Event<Node>>),
    Pods(Box<watcher::Event<Pod>>),
    Bound { info: Arc<PodInfo>, node: String, outcome: Result<(), kube::Error> },
    // Watch events are boxed: objects are large beside the other inputs.
    Claims(Box<watcher::Event<PersistentVolumeClaim>>),
    Volumes(Box<watcher::Event<PersistentVolume>>),
    Classes(Box<watcher::Event<StorageClass>>),
    /// PreBind's writes are done: the resourceVersions they returned (by volume name and claim
    /// key), or kube's words for what failed.
    PreBound { uid: String, outcome: Result<HashMap<String, String>, String> },
    /// For preemption: which pods a budget protects.
    Budgets(Box<watcher::Event<PodDisruptionBudget>>),
    /// The victims of a preemption were given their condition and deleted, or kube's words for
    /// what failed.
    Preempted { info: Arc<PodInfo>, node: String, victims: Vec<String>, message: String, outcome: Result<(), String> },
}

/// What a FailedScheduling report does to the pod's `status.nominatedNodeName` (kube's
/// `NominatingInfo`: no change, or overridden, empty to clear).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Nomination {
    Keep,
    Set(String),
    Clear,
}

enum Report {
    /// Only the reference: the pod object is not kept alive while events queue up.
    Scheduled { pod: ObjectReference, node: String },
    /// `reason` is the PodScheduled condition's: `Unschedulable` when no node fits,
    /// `SchedulerError` when binding failed.
    Unschedulable { info: Arc<PodInfo>, message: String, reason: &'static str, nomination: Nomination },
    /// A victim of preemption is being deleted (kube's `Preempted` event on it).
    Preempted { victim: ObjectReference, message: String },
}

/// A pod in PreBind: its node is assumed and its volumes' bindings are being written or waited
/// for.
struct Waiting {
    info: Arc<PodInfo>,
    node: String,
    plan: Plan,
    /// What the writes returned; None while they are in flight.
    written: Option<HashMap<String, String>>,
    deadline: Instant,
}

pub async fn run(client: kube::Client, config: Config, identity: String) {
    let (inputs, mut received) = mpsc::channel(8192);
    let nodes = watcher(Api::<Node>::all(client.clone()), watcher::Config::default()).default_backoff();
    tokio::spawn(forward(nodes, inputs.clone(), |event| Input::Nodes(Box::new(event)), "nodes"));
    // Finished pods take nothing from their node; the apiserver leaves them out of the watch.
    let pods_config = watcher::Config::default().fields("status.phase!=Succeeded,status.phase!=Failed");
    let pods = watcher(Api::<Pod>::all(client.clone()), pods_config).default_backoff();
    tokio::spawn(forward(pods, inputs.clone(), |event| Input::Pods(Box::new(event)), "pods"));
    // The VolumeBinding plugin's inputs: pods wait on them and are tried again when they change.
    let claims = watcher(Api::<PersistentVolumeClaim>::all(client.clone()), watcher::Config::default()).default_backoff();
    tokio::spawn(forward(claims, inputs.clone(), |event| Input::Claims(Box::new(event)), "persistentvolumeclaims"));
    let volumes = watcher(Api::<PersistentVolume>::all(client.clone()), watcher::Config::default()).default_backoff();
    tokio::spawn(forward(volumes, inputs.clone(), |event| Input::Volumes(Box::new(event)), "persistentvolumes"));
    let classes = watcher(Api::<StorageClass>::all(client.clone()), watcher::Config::default()).default_backoff();
    tokio::spawn(forward(classes, inputs.clone(), |event| Input::Classes(Box::new(event)), "storageclasses"));
    let budgets = watcher(Api::<PodDisruptionBudget>::all(client.clone()), watcher::Config::default()).default_backoff();
    tokio::spawn(forward(budgets, inputs.clone(), |event| Input::Budgets(Box::new(event)), "poddisruptionbudgets"));
    let (reports, report_queue) = mpsc::channel(16_384);
    tokio::spawn(report(client.clone(), identity, report_queue));

    let mut state = State {
        cache: Cache::default(),
        queue: Queue::default(),
        scheduler_name: config.scheduler_name.clone(),
        client,
        inputs,
        reports,
        bindings: Arc::new(Semaphore::new(config.parallel_bindings.max(1))),
        next_start: 0,
        random: seed(),
        nodes_seen: None,
        pods_seen: None,
        volumes: Volumes::default(),
        waiting: HashMap::new(),
        storage_changed: false,
        nominator: Nominator::default(),
        budgets: Store::default(),
        preempting: HashSet::new(),
    };
    tracing::info!("scheduler started");
    loop {
        let wait = if state.queue.has_active() {
            Duration::ZERO
        } else {
            let deadline = state.queue.next_deadline().into_iter().chain(state.next_bind_deadline()).min();
            deadline.map_or(Duration::from_secs(1), |deadline| deadline.saturating_duration_since(Instant::now()))
        };
        tokio::select! {
            input = received.recv() => match input {
                Some(input) => state.handle(input),
                None => return,
            },
            () = tokio::time::sleep(wait) => {}
        }
        while let Ok(input) = received.try_recv() {
            state.handle(input);
        }
        let now = Instant::now();
        if state.storage_changed || state.next_bind_deadline().is_some_and(|deadline| deadline <= now) {
            state.storage_changed = false;
            state.check_waiting(now);
        }
        for _ in 0..BATCH {
            let Some(info) = state.queue.pop(now) else {
                break;
            };
            state.schedule(info);
        }
    }
}

async fn forward<K, S>(stream: S, inputs: mpsc::Sender<Input>, wrap: fn(watcher::Event<K>) -> Input, what: &'static str)
where
    S: futures::Stream<Item = Result<watcher::Event<K>, watcher::Error>>,
{
    futures::pin_mut!(stream);
    while let Some(event) = stream.next().await {
        match event {
            Ok(event) => {
                if inputs.send(wrap(event)).await.is_err() {
                    return;
                }
            }
            // The stream backs off and re-lists or resumes by itself.
            Err(err) => tracing::warn!(watch = what, error = %err, "watch failed, retrying"),
        }
    }
}

struct State {
    cache: Cache,
    queue: Queue,
    scheduler_name: String,
    client: kube::Client,
    inputs: mpsc::Sender<Input>,
    reports: mpsc::Sender<Report>,
    bindings: Arc<Semaphore>,
    /// Where the next search for feasible nodes starts, so that pods are spread round the nodes.
    next_start: usize,
    random: u64,
    /// While a watch re-lists: what it has listed so far, to drop what is gone after.
    nodes_seen: Option<HashSet<String>>,
    pods_seen: Option<HashSet<String>>,
    /// Claims, volumes and classes, and what pods in PreBind assume of them.
    volumes: Volumes,
    /// Pods in PreBind, by uid.
    waiting: HashMap<String, Waiting>,
    /// A claim or volume changed since the waiting pods were last looked at.
    storage_changed: bool,
    /// Pods waiting for the room their preemption makes, by node.
    nominator: Nominator,
    budgets: Store<PodDisruptionBudget>,
    /// Uids of victims whose deletion was asked for, until the watch shows them gone.
    preempting: HashSet<String>,
}

impl State {
    fn handle(&mut self, input: Input) {
        let now = Instant::now();
        match input {
            Input::Nodes(event) => match *event {
                watcher::Event::Init => self.nodes_seen = Some(HashSet::new()),
                watcher::Event::InitApply(node) | watcher::Event::Apply(node) => {
                    if let (Some(seen), Some(name)) = (self.nodes_seen.as_mut(), node.metadata.name.as_ref()) {
                        seen.insert(name.clone());
                    }
                    // Heartbeats change nothing scheduling reads; only real changes retry pods.
                    if self.cache.set_node(Arc::new(node)) {
                        self.queue.move_unschedulable(now);
                    }
                }
                watcher::Event::Delete(node) => {
                    if let Some(name) = &node.metadata.name {
                        self.cache.remove_node(name);
                    }
                }
                watcher::Event::InitDone => {
                    if let Some(seen) = self.nodes_seen.take() {
                        for name in self.cache.node_names() {
                            if !seen.contains(&name) {
                                self.cache.remove_node(&name);
                            }
                        }
                    }
                }
            },
            Input::Pods(event) => match *event {
                watcher::Event::Init => self.pods_seen = Some(HashSet::new()),
                watcher::Event::InitApply(pod) | watcher::Event::Apply(pod) => {
                    if let (Some(seen), Some(uid)) = (self.pods_seen.as_mut(), pod.metadata.uid.as_ref()) {
                        seen.insert(uid.clone());
                    }
                    self.pod_changed(pod, now);
                }
                watcher::Event::Delete(pod) => {
                    if let Some(uid) = &pod.metadata.uid {
                        self.pod_gone(uid, now);
                    }
                }
                watcher::Event::InitDone => {
                    if let Some(seen) = self.pods_seen.take() {
                        for uid in self.cache.confirmed_pods().into_iter().chain(self.queue.uids()) {
                            if !seen.contains(&uid) {
                                self.pod_gone(&uid, now);
                            }
                        }
                    }
                }
            },
            Input::Bound { info, node, outcome } => match outcome {
                Ok(()) => {
                    self.queue.remove(&info.uid);
                    let _ = self.reports.try_send(Report::Scheduled { pod: reference(&*info.pod), node });
                }
                // Gone, or bound by someone else meanwhile: the watch tells the rest.
                Err(kube::Error::Api(status)) if status.code == 404 || status.code == 409 => {
                    tracing::debug!(namespace = %info.namespace, pod = %info.name, %node, reason = %status.reason, "binding refused");
                    self.cache.forget(&info.uid);
                    self.queue.remove(&info.uid);
                }
                Err(err) => {
                    tracing::warn!(namespace = %info.namespace, pod = %info.name, %node, error = %err, "binding failed, will retry");
                    self.cache.forget(&info.uid);
                    self.queue.retry_later(&info.uid, now);
                    self.queue.move_unschedulable(now);
                }
            },
            Input::Claims(event) => {
                let changed = self.volumes.claims.apply(*event);
                self.storage_event(changed, now);
            }
            Input::Volumes(event) => {
                let changed = self.volumes.volumes.apply(*event);
                self.storage_event(changed, now);
            }
            Input::Classes(event) => {
                let changed = self.volumes.classes.apply(*event);
                self.storage_event(changed, now);
            }
            Input::PreBound { uid, outcome } => match outcome {
                Ok(written) => {
                    if let Some(waiting) = self.waiting.get_mut(&uid) {
                        waiting.written = Some(written);
                        // The watches may have shown the bindings already.
                        self.storage_changed = true;
                    }
                }
                Err(message) => self.binding_failed(&uid, format!("{PRE_BIND}: {message}"), now),
            },
            Input::Budgets(event) => {
                self.budgets.apply(*event);
            }
            Input::Preempted { info, node, victims, message, outcome } => self.preempted(info, node, victims, message, outcome, now),
        }
    }

    fn pod_changed(&mut self, pod: Pod, now: Instant) {
        let phase = pod.status.as_ref().and_then(|status| status.phase.as_deref());
        if matches!(phase, Some("Succeeded" | "Failed")) {
            if let Some(uid) = &pod.metadata.uid {
                self.pod_gone(uid, now);
            }
            return;
        }
        let info = Arc::new(PodInfo::new(Arc::new(pod)));
        if info.node_name().is_some() {
            // Bound by someone else while in PreBind: nothing left to wait for.
            if let Some(waiting) = self.waiting.remove(&info.uid) {
                self.volumes.forget(&waiting.plan);
            }
            self.queue.remove(&info.uid);
            self.nominator.remove(&info.uid);
            self.cache.set_pod(info);
            return;
        }
        let spec = info.pod.spec.as_ref();
        let ours = spec.and_then(|spec| spec.scheduler_name.as_deref()).unwrap_or(COMPONENT) == self.scheduler_name;
        let deleting = info.pod.metadata.deletion_timestamp.is_some();
        if !ours || deleting {
            self.queue.remove(&info.uid);
            self.nominator.remove(&info.uid);
        } else if !self.cache.is_assumed(&info.uid) {
            self.nominator.observe(&info);
            self.queue.add_or_update(info);
        }
    }

    fn pod_gone(&mut self, uid: &str, now: Instant) {
        self.queue.remove(uid);
        self.nominator.remove(uid);
        self.preempting.remove(uid);
        if let Some(waiting) = self.waiting.remove(uid) {
            self.volumes.forget(&waiting.plan);
        }
        if self.cache.remove_pod(uid) {
            // What it took is free again.
            self.queue.move_unschedulable(now);
        }
    }

    fn schedule(&mut self, info: Arc<PodInfo>) {
        let span = tracing::debug_span!("schedule", namespace = %info.namespace, pod = %info.name);
        let _entered = span.enter();
        let count = self.cache.node_count();
        if count == 0 {
            self.unschedulable(info, "no nodes available to schedule pods".into(), Nomination::Keep);
            return;
        }
        let claims = match self.volumes.pre_filter(&info.pod) {
            PreFilter::NoClaims => None,
            PreFilter::NotReady => {
                // kube-scheduler waits for its informers to sync before it schedules at all.
                self.queue.retry_later(&info.uid, Instant::now());
                return;
            }
            // A pre-filter's verdict holds for every node: kube prints it once, uncounted.
            PreFilter::Rejected(message) => {
                self.post_filter(info, format!("0/{count} nodes are available: {message}."), None, true);
                return;
            }
            PreFilter::Claims(claims) => Some(claims),
        };
        // A pod nominated by an earlier preemption tries that node first: likely the only one
        // where it fits (kube's `evaluateNominatedNode`).
        let nominated = self.nominator.node_of(&info.uid).or(info.nominated_node()).map(str::to_string);
        if let Some(name) = nominated
            && let Some(node) = self.cache.node(&name)
        {
            let verdict = self.nominator.filter(&info, node).and_then(|()| claims.as_ref().map(|claims| self.volumes.filter(claims, node)).transpose());
            if let Ok(plan) = verdict {
                tracing::debug!(node = %name, "the nominated node fits");
                self.place(info, name, plan);
                return;
            }
        }
        let wanted = feasible_to_find(count);
        let start = self.next_start % count;
        let mut feasible: Vec<&NodeInfo> = Vec::with_capacity(wanted);
        let mut plans: Vec<Option<Plan>> = Vec::with_capacity(wanted);
        let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
        let mut examined = 0;
        for offset in 0..count {
            let Some(node) = self.cache.node_at((start + offset) % count) else {
                continue;
            };
            examined += 1;
            // VolumeBinding comes after the other filters, as in kube-scheduler's default profile.
            // Pods nominated to the node count against it (kube's `addNominatedPods`).
            let verdict = self.nominator.filter(&info, node).and_then(|()| claims.as_ref().map(|claims| self.volumes.filter(claims, node)).transpose());
            match verdict {
                Ok(plan) => {
                    feasible.push(node);
                    plans.push(plan);
                }
                Err(why) => {
                    for reason in why {
                        *reasons.entry(reason).or_default() += 1;
                    }
                }
            }
            if feasible.len() >= wanted {
                break;
            }
        }
        self.next_start = (start + examined) % count;
        if feasible.is_empty() {
            self.post_filter(info, unschedulable_message(count, &reasons), claims.as_ref(), false);
            return;
        }
        let scores = plugins::score(&info, &feasible);
        let best = pick_best(&scores, &mut self.random);
        let node = feasible[best].name().to_string();
        let plan = plans.swap_remove(best);
        tracing::debug!(%node, candidates = feasible.len(), "chose node");
        self.place(info, node, plan);
    }

    /// Assume and bind, through PreBind when volumes need binding first.
    fn place(&mut self, info: Arc<PodInfo>, node: String, plan: Option<Plan>) {
        // Placed: it holds room as an assumed pod now, no longer as a nominated one.
        self.nominator.remove(&info.uid);
        self.cache.assume(&info, &node);
        match plan.filter(|plan| !plan.all_bound()) {
            None => self.spawn_bind(info, node),
            Some(plan) => self.pre_bind(info, node, plan),
        }
    }

    /// kube's PostFilter, DefaultPreemption, for a pod no node takes: `message` is the filters'
    /// verdict, to which what preemption did or why it could not is added, as kube-scheduler
    /// writes it (`... preemption: 0/3 nodes are available: ...`). Victims are preempted off the
    /// loop; the pod waits as unschedulable meanwhile, nominated to the node.
    fn post_filter(&mut self, info: Arc<PodInfo>, message: String, claims: Option<&PodClaims>, rejected: bool) {
        let budgets: Vec<Budget> = self.budgets.values().filter_map(|budget| Budget::new(budget)).collect();
        let volumes = &self.volumes;
        let later_filters = |node: &NodeInfo| match claims {
            Some(claims) => volumes.filter(claims, node).map(|_| ()),
            None => Ok(()),
        };
        let nominated = self.nominator.node_of(&info.uid).or(info.nominated_node()).map(str::to_string);
        let offset = usize::try_from(next_random(&mut self.random) % (1 << 31)).unwrap_or(0);
        let preemption = Preemption {
            cache: &self.cache,
            nominator: &self.nominator,
            budgets: &budgets,
            preempting: &self.preempting,
            rejected,
            later_filters: &later_filters,
            now: jiff::Timestamp::now().as_nanosecond(),
        };
        match preemption.evaluate(&info, nominated.as_deref(), offset) {
            Verdict::NotEligible(why) => self.unschedulable(info, format!("{message} preemption: {why}"), Nomination::Keep),
            Verdict::NoCandidate(reasons) => {
                let why = unschedulable_message(self.cache.node_count(), &reasons);
                self.nominator.remove(&info.uid);
                self.unschedulable(info, format!("{message} preemption: {why}"), Nomination::Clear);
            }
            Verdict::Preempt(candidate) => self.preempt(info, message, candidate.node, candidate.victims),
        }
    }

    /// The pod is nominated to `node` at once, so that the room its victims leave is kept for
    /// it; the victims' writes (kube's `prepareCandidate`) go out from a task, whose outcome
    /// comes back as `Input::Preempted`.
    fn preempt(&mut self, info: Arc<PodInfo>, message: String, node: String, victims: Vec<Victim>) {
        tracing::info!(namespace = %info.namespace, pod = %info.name, %node, victims = victims.len(), "preempting");
        self.nominator.nominate(&info, &node);
        let lower = self.nominator.take_lower_priority(&node, info.priority);
        let uids: Vec<String> = victims.iter().map(|victim| victim.uid.clone()).collect();
        self.preempting.extend(uids.iter().cloned());
        self.queue.unschedulable(&info.uid, Instant::now());
        let (client, inputs, reports) = (self.client.clone(), self.inputs.clone(), self.reports.clone());
        tokio::spawn(async move {
            let outcome = preempt_victims(&client, &reports, &info, &node, &victims, &lower).await;
            let _ = inputs.send(Input::Preempted { info, node, victims: uids, message, outcome }).await;
        });
    }

    fn preempted(&mut self, info: Arc<PodInfo>, node: String, victims: Vec<String>, message: String, outcome: Result<(), String>, now: Instant) {
        // Bound, gone or nominated elsewhere meanwhile: nothing left to say.
        if self.nominator.node_of(&info.uid) != Some(node.as_str()) {
            return;
        }
        match outcome {
            Ok(()) => {
                // kube writes the nomination synchronously: it is the only record of it that
                // outlives this process, so it waits for room rather than being dropped.
                send_without_loss(&self.reports, Report::Unschedulable { info, message, reason: "Unschedulable", nomination: Nomination::Set(node) });
            }
            Err(why) => {
                tracing::warn!(namespace = %info.namespace, pod = %info.name, %node, error = %why, "preemption failed, will retry");
                for uid in &victims {
                    self.preempting.remove(uid);
                }
                self.nominator.remove(&info.uid);
                self.queue.retry_later(&info.uid, now);
                let message = format!("{message} preemption: {why}");
                send_without_loss(&self.reports, Report::Unschedulable { info, message, reason: "Unschedulable", nomination: Nomination::Keep });
            }
        }
    }

    fn spawn_bind(&self, info: Arc<PodInfo>, node: String) {
        let (client, inputs, bindings) = (self.client.clone(), self.inputs.clone(), self.bindings.clone());
        tokio::spawn(async move {
            let _permit = bindings.acquire_owned().await;
            let outcome = bind(&client, &info, &node).await;
            let _ = inputs.send(Input::Bound { info, node, outcome }).await;
        });
    }

    /// Reserve and PreBind: the volumes are assumed taken, the writes go out, and the pod waits
    /// until the watches show every claim bound.
    fn pre_bind(&mut self, info: Arc<PodInfo>, node: String, plan: Plan) {
        tracing::info!(namespace = %info.namespace, pod = %info.name, %node, volumes = plan.static_bindings.len(), provisions = plan.provisions.len(), "binding volumes");
        self.volumes.assume(&plan, &node);
        let (client, inputs, bindings) = (self.client.clone(), self.inputs.clone(), self.bindings.clone());
        let (uid, writes, target) = (info.uid.clone(), plan.clone(), node.clone());
        self.waiting.insert(uid.clone(), Waiting { info, node, plan, written: None, deadline: Instant::now() + BIND_TIMEOUT });
        tokio::spawn(async move {
            let _permit = bindings.acquire_owned().await;
            let outcome = write_bindings(&client, &writes, &target).await;
            let _ = inputs.send(Input::PreBound { uid, outcome }).await;
        });
    }

    /// A claim, volume or class came, changed or went: pods that waited for one may fit now
    /// (kube's VolumeBinding registers for these events), and pods in PreBind may be done.
    fn storage_event(&mut self, changed: bool, now: Instant) {
        if changed {
            self.queue.move_unschedulable(now);
            self.storage_changed = true;
        }
    }

    fn next_bind_deadline(&self) -> Option<Instant> {
        self.waiting.values().map(|waiting| waiting.deadline).min()
    }

    /// Looks at every pod in PreBind: bound claims let the pod be bound, failures and timeouts
    /// send it back to the queue.
    fn check_waiting(&mut self, now: Instant) {
        let mut ready = Vec::new();
        let mut failed = Vec::new();
        for (uid, waiting) in &self.waiting {
            let verdict = match (&waiting.written, self.cache.node(&waiting.node)) {
                (None, _) => Ok(false),
                (Some(_), None) => Err(format!("failed to get node \"{0}\": node \"{0}\" not found", waiting.node)),
                (Some(written), Some(node)) => self.volumes.check_bindings(&waiting.plan, node, written),
            };
            match verdict {
                Ok(true) => ready.push(uid.clone()),
                Ok(false) if now >= waiting.deadline => failed.push((uid.clone(), "context deadline exceeded".to_string())),
                Ok(false) => {}
                Err(message) => failed.push((uid.clone(), message)),
            }
        }
        for uid in ready {
            if let Some(waiting) = self.waiting.remove(&uid) {
                tracing::debug!(namespace = %waiting.info.namespace, pod = %waiting.info.name, node = %waiting.node, "volumes bound");
                self.volumes.forget(&waiting.plan);
                self.spawn_bind(waiting.info, waiting.node);
            }
        }
        for (uid, message) in failed {
            self.binding_failed(&uid, format!("{PRE_BIND}: binding volumes: {message}"), now);
        }
    }

    /// PreBind failed: the assumptions go, and the pod is tried again after its backoff, with a
    /// `FailedScheduling` event saying why (kube's `handleBindingCycleError`).
    fn binding_failed(&mut self, uid: &str, message: String, now: Instant) {
        let Some(waiting) = self.waiting.remove(uid) else {
            return;
        };
        tracing::warn!(namespace = %waiting.info.namespace, pod = %waiting.info.name, node = %waiting.node, %message, "binding volumes failed, will retry");
        self.volumes.forget(&waiting.plan);
        self.cache.forget(uid);
        self.queue.retry_later(uid, now);
        self.queue.move_unschedulable(now);
        let _ = self.reports.try_send(Report::Unschedulable { info: waiting.info, message, reason: "SchedulerError", nomination: Nomination::Keep });
    }

    fn unschedulable(&mut self, info: Arc<PodInfo>, message: String, nomination: Nomination) {
        tracing::debug!(namespace = %info.namespace, pod = %info.name, %message, "unschedulable");
        self.queue.unschedulable(&info.uid, Instant::now());
        let _ = self.reports.try_send(Report::Unschedulable { info, message, reason: "Unschedulable", nomination });
    }
}

/// Each victim not already going gets its condition and is deleted, then its `Preempted` event
/// (kube 1.33's words); then the lower-priority pods nominated to the node lose their
/// nomination. The first failure is the outcome, in the apiserver's words.
async fn preempt_victims(
    client: &kube::Client,
    reports: &mpsc::Sender<Report>,
    info: &PodInfo,
    node: &str,
    victims: &[Victim],
    lower: &[(String, String)],
) -> Result<(), String> {
    let scheduler = info.pod.spec.as_ref().and_then(|spec| spec.scheduler_name.as_deref()).unwrap_or(COMPONENT);
    let message = format!("Preempted by pod {} on node {node}", info.uid);
    let writes = victims.iter().filter(|victim| !victim.deleting).map(|victim| async {
        match preemption::preempt_victim(client, scheduler, victim).await {
            Ok(deleted) => {
                tracing::info!(namespace = %victim.namespace, pod = %victim.name, preemptor = %info.name, %node, "preempted");
                if deleted {
                    let reference = ObjectReference {
                        api_version: Some("v1".into()),
                        kind: Some("Pod".into()),
                        namespace: Some(victim.namespace.clone()),
                        name: Some(victim.name.clone()),
                        uid: Some(victim.uid.clone()),
                        ..ObjectReference::default()
                    };
                    let _ = reports.try_send(Report::Preempted { victim: reference, message: message.clone() });
                }
                Ok(())
            }
            Err(kube::Error::Api(status)) => Err(status.message),
            Err(err) => Err(err.to_string()),
        }
    });
    futures::future::join_all(writes).await.into_iter().collect::<Result<Vec<()>, String>>()?;
    for (namespace, name) in lower {
        if let Err(err) = preemption::clear_nomination(client, namespace, name).await {
            tracing::warn!(%namespace, pod = %name, error = %err, "cannot clear the nominated node");
        }
    }
    Ok(())
}

/// PreBind's writes (`bindAPIUpdate`): each matched static volume pre-bound to its claim, each
/// claim to provision annotated with the node, both as updates of the cached objects, so that
/// one changed meanwhile is not overwritten. Returns the resourceVersions written.
async fn write_bindings(client: &kube::Client, plan: &Plan, node: &str) -> Result<HashMap<String, String>, String> {
    let message = |err: kube::Error| match err {
        kube::Error::Api(status) => status.message,
        other => other.to_string(),
    };
    let mut written = HashMap::new();
    let volumes: Api<PersistentVolume> = Api::all(client.clone());
    for (volume, claim) in &plan.static_bindings {
        let Some(updated) = volume_bound_to_claim(volume, claim) else {
            continue;
        };
        let name = volume.metadata.name.clone().unwrap_or_default();
        let stored = volumes.replace(&name, &PostParams::default(), &updated).await.map_err(message)?;
        tracing::info!(volume = %name, namespace = ?claim.metadata.namespace, claim = ?claim.metadata.name, "pre-bound volume to claim");
        written.insert(name, stored.metadata.resource_version.unwrap_or_default());
    }
    for claim in &plan.provisions {
        let (namespace, name) = (claim.metadata.namespace.as_deref().unwrap_or_default(), claim.metadata.name.as_deref().unwrap_or_default());
        let selected = claim.metadata.annotations.as_ref().and_then(|annotations| annotations.get(common::storage::SELECTED_NODE));
        if selected.is_some_and(|selected| selected == node) {
            continue;
        }
        let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), namespace);
        // An update of the claim as filtered (kube's `bindAPIUpdate`): its resourceVersion is the
        // precondition, so a claim changed, or deleted and made again under the name, since
        // the node was chosen for it is not given that node; the conflict retries the pod.
        let mut annotated = PersistentVolumeClaim::clone(claim);
        annotated.metadata.annotations.get_or_insert_default().insert(common::storage::SELECTED_NODE.to_string(), node.to_string());
        let stored = claims.replace(name, &PostParams::default(), &annotated).await.map_err(message)?;
        tracing::info!(%namespace, claim = %name, %node, "selected node for claim");
        written.insert(key_of(namespace, name), stored.metadata.resource_version.unwrap_or_default());
    }
    Ok(written)
}

/// kube-scheduler's adaptive search: in big clusters, stop after enough feasible nodes (all of
/// them below 100 nodes; 50% less 1% per 125 nodes, at least 5%, at least 100 nodes).
fn feasible_to_find(nodes: usize) -> usize {
    if nodes < 100 {
        return nodes;
    }
    let percent = 50usize.saturating_sub(nodes / 125).max(5);
    (nodes * percent / 100).max(100)
}

/// `0/3 nodes are available: 1 node(s) had untolerated taint {a: b}, 2 Insufficient cpu.`, the
/// counts and reasons sorted as kube-scheduler sorts them.
fn unschedulable_message(nodes: usize, reasons: &BTreeMap<String, usize>) -> String {
    let mut parts: Vec<String> = reasons.iter().map(|(reason, count)| format!("{count} {reason}")).collect();
    parts.sort();
    format!("0/{nodes} nodes are available: {}.", parts.join(", "))
}

/// The index of the highest score, ties broken at random as kube-scheduler breaks them.
fn pick_best(scores: &[i64], random: &mut u64) -> usize {
    let mut best = 0;
    let mut ties = 0u64;
    for (index, score) in scores.iter().enumerate() {
        if *score > scores[best] {
            best = index;
            ties = 1;
        } else if *score == scores[best] {
            ties += 1;
            if next_random(random).is_multiple_of(ties) {
                best = index;
            }
        }
    }
    best
}

fn seed() -> u64 {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |d| d.as_nanos() as u64);
    nanos | 1
}

/// xorshift64: enough randomness to break ties.
fn next_random(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

async fn bind(client: &kube::Client, info: &PodInfo, node: &str) -> Result<(), kube::Error> {
    let binding = Binding {
        metadata: ObjectMeta {
            name: Some(info.name.clone()),
            namespace: Some(info.namespace.clone()),
            uid: Some(info.uid.clone()),
            ..ObjectMeta::default()
        },
        target: ObjectReference { api_version: Some("v1".into()), kind: Some("Node".into()), name: Some(node.to_string()), ..ObjectReference::default() },
    };
    let pods: Api<Pod> = Api::namespaced(client.clone(), &info.namespace);
    pods.create_subresource::<_, serde_json::Value>("binding", &info.name, &PostParams::default(), &binding).await?;
    Ok(())
}

/// Writes events and PodScheduled conditions, a few at a time, off the scheduling loop. Like
/// Kubernetes' event broadcaster it drops what it cannot keep up with rather than slow anyone.
async fn report(client: kube::Client, identity: String, queue: mpsc::Receiver<Report>) {
    let recorder = Arc::new(Recorder::new(client.clone(), COMPONENT, &identity));
    tokio_stream_of(queue)
        .for_each_concurrent(16, |report| {
            let (client, recorder) = (client.clone(), recorder.clone());
            async move {
                let (pod, kind, reason, action, message) = match report {
                    Report::Scheduled { pod, node } => {
                        let message = format!(
                            "Successfully assigned {}/{} to {node}",
                            pod.namespace.as_deref().unwrap_or_default(),
                            pod.name.as_deref().unwrap_or_default()
                        );
                        (pod, "Normal", "Scheduled", "Binding", message)
                    }
                    Report::Unschedulable { info, message, reason, nomination } => {
                        if let Err(err) = set_unschedulable_condition(&client, &info, &message, reason, &nomination).await {
                            tracing::warn!(namespace = %info.namespace, pod = %info.name, error = %err, "cannot set the PodScheduled condition");
                        }
                        (reference(&*info.pod), "Warning", "FailedScheduling", "Scheduling", message)
                    }
                    Report::Preempted { victim, message } => (victim, "Normal", "Preempted", "Preempting", message),
                };
                if let Err(err) = recorder.record(&pod, kind, reason, action, &message).await {
                    tracing::debug!(namespace = ?pod.namespace, pod = ?pod.name, error = %err, "cannot record event");
                }
            }
        })
        .await;
}

fn tokio_stream_of<T>(mut receiver: mpsc::Receiver<T>) -> impl futures::Stream<Item = T> {
    futures::stream::poll_fn(move |context| receiver.poll_recv(context))
}

/// The PodScheduled=False condition and, in the same patch, the nominated node as kube's
/// `updatePod` writes them; nothing when neither changes.
async fn set_unschedulable_condition(client: &kube::Client, info: &PodInfo, message: &str, reason: &str, nomination: &Nomination) -> Result<(), kube::Error> {
    let current = info.pod.status.as_ref().and_then(|status| status.conditions.as_ref()).and_then(|conditions| {
        conditions.iter().find(|condition| condition.type_ == "PodScheduled")
    });
    let nominated = match nomination {
        Nomination::Set(node) if info.nominated_node() != Some(node.as_str()) => Some(serde_json::Value::from(node.as_str())),
        Nomination::Clear if info.nominated_node().is_some() => Some(serde_json::Value::Null),
        _ => None,
    };
    let same = current.is_some_and(|condition| condition.status == "False" && condition.message.as_deref() == Some(message) && condition.reason.as_deref() == Some(reason));
    if same && nominated.is_none() {
        return Ok(());
    }
    let mut patch = serde_json::json!({"status": {"conditions": [{
        "type": "PodScheduled",
        "status": "False",
        "reason": reason,
        "message": message,
        "lastProbeTime": null,
        "lastTransitionTime": jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
    }]}});
    if let Some(nominated) = nominated {
        patch["status"]["nominatedNodeName"] = nominated;
    }
    let pods: Api<Pod> = Api::namespaced(client.clone(), &info.namespace);
    pods.patch_status(&info.name, &PatchParams::default(), &Patch::Strategic(patch)).await?;
    Ok(())
}

/// Queues `item` without blocking the scheduling loop and without dropping it: when the
/// channel is full, a task waits for room (tokio's channel hands freed room to waiting senders
/// first, so later `try_send`s do not overtake it). Nothing is sent once the receiver is gone.
fn send_without_loss<T: Send + 'static>(sender: &mpsc::Sender<T>, item: T) {
    if let Err(mpsc::error::TrySendError::Full(item)) = sender.try_send(item) {
        let sender = sender.clone();
        tokio::spawn(async move {
            let _ = sender.send(item).await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_report_sent_without_loss_waits_for_room_in_a_full_channel() {
        let (sender, mut receiver) = mpsc::channel(1);
        send_without_loss(&sender, 1);
        send_without_loss(&sender, 2);
        assert_eq!(receiver.recv().await, Some(1));
        assert_eq!(receiver.recv().await, Some(2));
        drop(receiver);
        send_without_loss(&sender, 3);
    }

    #[test]
    fn the_search_stops_early_only_in_big_clusters() {
        assert_eq!(feasible_to_find(3), 3);
        assert_eq!(feasible_to_find(99), 99);
        assert_eq!(feasible_to_find(200), 100);
        assert_eq!(feasible_to_find(5_000), 500);
        assert_eq!(feasible_to_find(100_000), 5_000);
    }

    #[test]
    fn messages_read_as_kube_schedulers() {
        let reasons = BTreeMap::from([("Insufficient cpu".to_string(), 2), ("node(s) had untolerated taint {dedicated: gpu}".to_string(), 1)]);
        assert_eq!(unschedulable_message(3, &reasons), "0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}, 2 Insufficient cpu.");
    }

    #[test]
    fn ties_are_broken_among_the_best_only() {
        let mut random = seed();
        let mut picked = HashSet::new();
        for _ in 0..200 {
            picked.insert(pick_best(&[5, 9, 1, 9, 9], &mut random));
        }
        assert_eq!(picked, HashSet::from([1, 3, 4]));
    }
}
