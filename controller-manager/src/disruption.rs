//! The disruption controller (kube-controller-manager's `disruption`): keeps each
//! PodDisruptionBudget's status, which the eviction subresource reads to allow or refuse an
//! eviction. For each budget: the pods its selector picks in its namespace; how many pods are
//! expected (the pods themselves for an integer `minAvailable`, else the summed scale of their
//! controllers: ReplicationController, Deployment, ReplicaSet, StatefulSet, or any kind with a
//! `scale` subresource); how many must stay healthy; how many are healthy (Ready and not being
//! deleted, nor evicted moments ago); and so how many disruptions are allowed now. Evicted pods
//! listed in `disruptedPods` are dropped once they are being deleted or gone, or after two
//! minutes without being deleted (kube's `DeletionTimeout`), with a look again at that moment.
//! A budget whose status cannot be computed gets `disruptionsAllowed: 0` and the
//! `DisruptionAllowed` condition `False`/`SyncFailed` (kube's fail-safe). As kube's, it also
//! resets a `DisruptionTarget` condition left `True` for two minutes on a pod that is not being
//! deleted (an eviction or preemption that did not go through).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Pod, PodCondition};
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec, PodDisruptionBudgetStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, LabelSelector, ObjectMeta, OwnerReference, Time};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::Resource;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, PostParams};
use kube::runtime::controller::Action;
use kube::runtime::reflector::{ObjectRef, Store};

use crate::context::Context;
use crate::framework::{self, RESYNC, ReconcileError};

/// kube's `DeletionTimeout`: how long a pod may stay in `disruptedPods` without being deleted.
const DELETION_TIMEOUT: Duration = Duration::from_secs(120);
/// kube's `stalePodDisruptionTimeout`.
const STALE_POD_DISRUPTION_TIMEOUT: Duration = Duration::from_secs(120);
/// kube's disruption controller records its events as this component.
const COMPONENT: &str = "controllermanager";
const DISRUPTION_ALLOWED: &str = "DisruptionAllowed";
const DISRUPTION_TARGET: &str = "DisruptionTarget";
/// How soon a budget whose status could not be computed looks again. kube waits for the next
/// pod or budget event; a controller that a cache had not seen yet, or a custom kind that
/// discovery did not know yet, is better found without that.
const FAILED_RECHECK: Duration = Duration::from_secs(30);
/// How long a kind discovery did not know is answered from memory (as the HPA controller's
/// `REDISCOVERY`), so that a burst of pod events asks discovery once.
const MISS_FRESH: Duration = Duration::from_secs(10);
/// How long the lookup of a controller's kind may take before the budget's sync fails.
const DISCOVERY_TIMEOUT: Duration = Duration::from_secs(10);

pub struct Controller {
    context: Arc<Context>,
    recorder: common::events::Recorder,
    /// Kinds of pod controllers other than the built-in ones, as discovery resolved them:
    /// (apiVersion, kind) → the resource and whether it has a `scale` subresource, or when it
    /// was last not found and why.
    scale_kinds: Mutex<HashMap<(String, String), Resolved>>,
}

/// What discovery said of a pod controller's kind.
enum Resolved {
    Found(ApiResource, bool),
    Missed(Instant, String),
}

pub async fn run(context: Arc<Context>) {
    context.pod_disruption_budgets.ready().await;
    let controller = Arc::new(Controller { recorder: context.recorder(COMPONENT), context: context.clone(), scale_kinds: Mutex::default() });
    let budgets = context.pod_disruption_budgets.store();
    let own = context.pod_disruption_budgets.changes().map(|budget| ObjectRef::from_obj(&*budget)).boxed();
    // A pod's change concerns the budgets that select it.
    let pods = context
        .pods
        .changes()
        .then({
            let (controller, budgets) = (controller.clone(), budgets.clone());
            move |pod| {
                let (controller, budgets) = (controller.clone(), budgets.clone());
                async move {
                    let selecting = selecting(&budgets, &pod);
                    if selecting.len() > 1 {
                        controller.multiple_budgets(&pod, &selecting).await;
                    }
                    futures::stream::iter(selecting.iter().map(|budget| ObjectRef::from_obj(&**budget)).collect::<Vec<_>>())
                }
            }
        })
        .flatten()
        .boxed();
    // A controller's change (its scale above all) concerns the budgets of its namespace whose
    // expected count is a scale.
    let deployments = context.deployments.changes().flat_map({ let budgets = budgets.clone(); move |object| scaled_budgets(&budgets, &object.metadata) }).boxed();
    let replica_sets = context.replicasets.changes().flat_map({ let budgets = budgets.clone(); move |object| scaled_budgets(&budgets, &object.metadata) }).boxed();
    let stateful_sets = context.stateful_sets.changes().flat_map({ let budgets = budgets.clone(); move |object| scaled_budgets(&budgets, &object.metadata) }).boxed();
    let replication_controllers = context.replication_controllers.changes().flat_map({ let budgets = budgets.clone(); move |object| scaled_budgets(&budgets, &object.metadata) }).boxed();
    let triggers = vec![own, pods, deployments, replica_sets, stateful_sets, replication_controllers];
    let concurrency = context.settings.concurrent_syncs;
    let budgets_run = framework::run("disruption", context.metrics.clone(), controller.clone(), budgets, triggers, concurrency, reconcile);
    // Pods whose DisruptionTarget condition may go stale.
    let stale = context.pods.changes().filter(|pod| std::future::ready(stale_disruption_after(pod, jiff::Timestamp::now()).is_some())).map(|pod| ObjectRef::from_obj(&*pod)).boxed();
    let stale_run = framework::run("disruption-stale-pod-disruption", context.metrics.clone(), controller, context.pods.store(), vec![stale], concurrency, reconcile_stale_pod);
    tokio::join!(budgets_run, stale_run);
}

/// The budgets whose expected count is a scale, in the namespace of a pod controller that
/// changed (its scale above all).
fn scaled_budgets(budgets: &Store<PodDisruptionBudget>, controller: &ObjectMeta) -> futures::stream::Iter<std::vec::IntoIter<ObjectRef<PodDisruptionBudget>>> {
    let requests: Vec<ObjectRef<PodDisruptionBudget>> = budgets
        .state()
        .iter()
        .filter(|budget| budget.metadata.namespace == controller.namespace)
        .filter(|budget| budget.spec.as_ref().is_some_and(needs_scale))
        .map(|budget| ObjectRef::from_obj(&**budget))
        .collect();
    futures::stream::iter(requests)
}

/// The budgets in the pod's namespace whose selector picks it, by name.
fn selecting(budgets: &Store<PodDisruptionBudget>, pod: &Pod) -> Vec<Arc<PodDisruptionBudget>> {
    let labels = pod.metadata.labels.clone().unwrap_or_default();
    let mut found: Vec<Arc<PodDisruptionBudget>> = budgets
        .state()
        .into_iter()
        .filter(|budget| budget.metadata.namespace == pod.metadata.namespace)
        .filter(|budget| {
            let selector = budget.spec.as_ref().and_then(|spec| spec.selector.as_ref());
            common::selector::LabelSelector::from_optional_k8s(selector).is_ok_and(|selector| selector.matches(&labels))
        })
        .collect();
    found.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    found
}

/// Whether the expected count is the controllers' scale (a percentage `minAvailable`, or any
/// `maxUnavailable`) rather than the number of pods.
fn needs_scale(spec: &PodDisruptionBudgetSpec) -> bool {
    spec.max_unavailable.is_some() || matches!(spec.min_available, Some(IntOrString::String(_)))
}

/// kube's `intstr.GetScaledValueFromIntOrPercent(value, total, true)`: percentages round up.
fn scaled(value: &IntOrString, total: i32) -> Result<i32, String> {
    match value {
        IntOrString::Int(number) => Ok(*number),
        IntOrString::String(text) => {
            let Some(number) = text.strip_suffix('%') else {
                return Err("invalid value for IntOrString: invalid type: string is not a percentage".into());
            };
            let percent: i64 = number.parse().map_err(|_| format!("invalid value for IntOrString: invalid value {text:?}: strconv.Atoi: parsing {number:?}: invalid syntax"))?;
            let product = percent * i64::from(total);
            Ok(i32::try_from(product.div_euclid(100) + i64::from(product.rem_euclid(100) != 0)).unwrap_or(i32::MAX))
        }
    }
}

/// (expectedCount, desiredHealthy) as kube's `getExpectedPodCount`, given the number of selected
/// pods and, when [`needs_scale`], the controllers' summed scale.
fn expected_and_desired(spec: &PodDisruptionBudgetSpec, pods: i32, scale: i32) -> Result<(i32, i32), String> {
    if let Some(max_unavailable) = &spec.max_unavailable {
        let unavailable = scaled(max_unavailable, scale)?;
        return Ok((scale, (scale - unavailable).max(0)));
    }
    match &spec.min_available {
        Some(IntOrString::Int(minimum)) => Ok((pods, *minimum)),
        Some(minimum) => Ok((scale, scaled(minimum, scale)?)),
        None => Ok((0, 0)),
    }
}

fn pod_ready(pod: &Pod) -> bool {
    let conditions = pod.status.as_ref().and_then(|status| status.conditions.as_deref()).unwrap_or_default();
    conditions.iter().any(|condition| condition.type_ == "Ready" && condition.status == "True")
}

fn after_timeout(time: &Time, timeout: Duration) -> jiff::Timestamp {
    time.0.checked_add(jiff::SignedDuration::try_from(timeout).unwrap_or(jiff::SignedDuration::MAX)).unwrap_or(jiff::Timestamp::MAX)
}

/// The evictions still pending, as kube's `buildDisruptedPodMap`: an entry stays while its pod
/// is selected, not being deleted, and evicted less than [`DELETION_TIMEOUT`] ago. Also the
/// earliest moment one of them expires, and the pods whose entry expired (they were not deleted).
fn pending_disruptions(pods: &[Arc<Pod>], listed: Option<&BTreeMap<String, Time>>, now: jiff::Timestamp) -> (BTreeMap<String, Time>, Option<jiff::Timestamp>, Vec<Arc<Pod>>) {
    let (mut pending, mut recheck, mut expired) = (BTreeMap::new(), None, Vec::new());
    let Some(listed) = listed else {
        return (pending, recheck, expired);
    };
    for pod in pods {
        if pod.metadata.deletion_timestamp.is_some() {
            continue;
        }
        let Some(evicted) = pod.metadata.name.as_ref().and_then(|name| listed.get(name)) else {
            continue;
        };
        let expected_deletion = after_timeout(evicted, DELETION_TIMEOUT);
        if expected_deletion < now {
            expired.push(pod.clone());
        } else {
            recheck = Some(recheck.map_or(expected_deletion, |earliest: jiff::Timestamp| earliest.min(expected_deletion)));
            pending.insert(pod.metadata.name.clone().unwrap_or_default(), evicted.clone());
        }
    }
    (pending, recheck, expired)
}

/// kube's `countHealthyPods`: Ready, not being deleted, and not evicted moments ago.
/// `unhealthyPodEvictionPolicy` changes what may be evicted, not this count.
fn count_healthy(pods: &[Arc<Pod>], pending: &BTreeMap<String, Time>, now: jiff::Timestamp) -> i32 {
    let healthy = pods.iter().filter(|pod| {
        if pod.metadata.deletion_timestamp.is_some() {
            return false;
        }
        let evicted = pod.metadata.name.as_ref().and_then(|name| pending.get(name));
        if evicted.is_some_and(|evicted| after_timeout(evicted, DELETION_TIMEOUT) > now) {
            return false;
        }
        pod_ready(pod)
    });
    i32::try_from(healthy.count()).unwrap_or(i32::MAX)
}

/// apimachinery's `meta.SetStatusCondition`: the transition time moves only when the status
/// changes; reason, message and observedGeneration are the new ones.
fn set_condition(conditions: &mut Vec<Condition>, wanted: Condition) {
    match conditions.iter_mut().find(|condition| condition.type_ == wanted.type_) {
        None => conditions.push(wanted),
        Some(existing) => {
            if existing.status != wanted.status {
                existing.status = wanted.status;
                existing.last_transition_time = wanted.last_transition_time;
            }
            existing.reason = wanted.reason;
            existing.message = wanted.message;
            existing.observed_generation = wanted.observed_generation;
        }
    }
}

/// Go's `int64` with `omitempty`: zero is absent.
fn generation_field(generation: i64) -> Option<i64> {
    (generation != 0).then_some(generation)
}

/// The computed numbers of a budget.
#[derive(Debug, PartialEq, Eq)]
struct Counts {
    current_healthy: i32,
    desired_healthy: i32,
    expected_pods: i32,
}

/// The status to write, as kube's `updatePdbStatus`, or `None` when the stored one says it all.
/// Disruptions are allowed only when some pods are expected, so that a budget matching no pods
/// yet is safe when its first pods appear before this controller has looked again.
fn next_status(budget: &PodDisruptionBudget, counts: &Counts, pending: BTreeMap<String, Time>, now: jiff::Timestamp) -> Option<PodDisruptionBudgetStatus> {
    let mut allowed = counts.current_healthy - counts.desired_healthy;
    if counts.expected_pods <= 0 || allowed <= 0 {
        allowed = 0;
    }
    let generation = budget.metadata.generation.unwrap_or(0);
    let current = budget.status.clone().unwrap_or_default();
    let current_pending = current.disrupted_pods.clone().unwrap_or_default();
    let condition = current.conditions.iter().flatten().find(|condition| condition.type_ == DISRUPTION_ALLOWED);
    let condition_up_to_date = condition.is_some_and(|condition| {
        current.observed_generation.unwrap_or(0) == generation
            && if current.disruptions_allowed > 0 { condition.status == "True" && condition.reason == "SufficientPods" } else { condition.status == "False" && condition.reason == "InsufficientPods" }
    });
    if current.current_healthy == counts.current_healthy
        && current.desired_healthy == counts.desired_healthy
        && current.expected_pods == counts.expected_pods
        && current.disruptions_allowed == allowed
        && current_pending == pending
        && current.observed_generation.unwrap_or(0) == generation
        && condition_up_to_date
    {
        return None;
    }
    let mut conditions = current.conditions.unwrap_or_default();
    let (status, reason) = if allowed > 0 { ("True", "SufficientPods") } else { ("False", "InsufficientPods") };
    set_condition(&mut conditions, Condition {
        type_: DISRUPTION_ALLOWED.into(),
        status: status.into(),
        reason: reason.into(),
        message: String::new(),
        observed_generation: generation_field(generation),
        last_transition_time: Time(now),
    });
    Some(PodDisruptionBudgetStatus {
        current_healthy: counts.current_healthy,
        desired_healthy: counts.desired_healthy,
        expected_pods: counts.expected_pods,
        disruptions_allowed: allowed,
        disrupted_pods: (!pending.is_empty()).then_some(pending),
        observed_generation: generation_field(generation),
        conditions: Some(conditions),
    })
}

/// kube's `failSafe`: no disruption allowed, and why, the rest of the status as it was.
fn fail_safe_status(budget: &PodDisruptionBudget, message: &str, now: jiff::Timestamp) -> PodDisruptionBudgetStatus {
    let mut status = budget.status.clone().unwrap_or_default();
    status.disruptions_allowed = 0;
    let mut conditions = status.conditions.take().unwrap_or_default();
    set_condition(&mut conditions, Condition {
        type_: DISRUPTION_ALLOWED.into(),
        status: "False".into(),
        reason: "SyncFailed".into(),
        message: message.into(),
        observed_generation: status.observed_generation,
        last_transition_time: Time(now),
    });
    status.conditions = Some(conditions);
    status
}

/// A `metav1.LabelSelector` as Go's `%v` prints it (its generated `String()`), for kube's
/// `UnmanagedPods` message.
fn go_selector_string(selector: Option<&LabelSelector>) -> String {
    let Some(selector) = selector else {
        return "nil".into();
    };
    let labels: String = selector.match_labels.iter().flatten().map(|(key, value)| format!("{key}: {value},")).collect();
    let expressions: String = selector
        .match_expressions
        .iter()
        .flatten()
        .map(|expression| format!("LabelSelectorRequirement{{Key:{},Operator:{},Values:[{}],}},", expression.key, expression.operator, expression.values.clone().unwrap_or_default().join(" ")))
        .collect();
    format!("&LabelSelector{{MatchLabels:map[string]string{{{labels}}},MatchExpressions:[]LabelSelectorRequirement{{{expressions}}},}}")
}

/// apimachinery's `schema.ParseGroupVersion`: (group, version).
fn parse_group_version(api_version: &str) -> Result<(&str, &str), String> {
    if api_version.is_empty() || api_version == "/" {
        return Ok(("", ""));
    }
    match api_version.split('/').collect::<Vec<_>>()[..] {
        [version] => Ok(("", version)),
        [group, version] => Ok((group, version)),
        _ => Err(format!("unexpected GroupVersion string: {api_version}")),
    }
}

/// kube's `verifyGroupKind`.
fn is_kind(reference: &OwnerReference, kind: &str, groups: &[&str]) -> Result<bool, String> {
    let (group, _) = parse_group_version(&reference.api_version)?;
    Ok(reference.kind == kind && groups.contains(&group))
}

fn controller_of(meta: &ObjectMeta) -> Option<&OwnerReference> {
    meta.owner_references.iter().flatten().find(|owner| owner.controller == Some(true))
}

fn cached<K: Resource<DynamicType = ()> + Clone>(store: &Store<K>, namespace: &str, name: &str, uid: &str) -> Option<Arc<K>> {
    store.get(&ObjectRef::new(name).within(namespace)).filter(|object| object.meta().uid.as_deref() == Some(uid))
}

fn api_message(err: &kube::Error) -> String {
    match err {
        kube::Error::Api(status) if !status.message.is_empty() => status.message.clone(),
        other => other.to_string(),
    }
}

impl Controller {
    /// A pod controller's uid and scale, from the caches for the built-in kinds and the `scale`
    /// subresource for any other, in kube's order (`finders`): ReplicationController, the
    /// Deployment of a ReplicaSet, a ReplicaSet without a Deployment, StatefulSet, scale. `None`
    /// when the controller is not found (or is another object of that name).
    async fn controller_scale(&self, reference: &OwnerReference, namespace: &str) -> Result<Option<(String, i32)>, String> {
        let context = &self.context;
        if is_kind(reference, "ReplicationController", &[""])?
            && let Some(found) = cached(&context.replication_controllers.store(), namespace, &reference.name, &reference.uid)
        {
            return Ok(Some((reference.uid.clone(), found.spec.as_ref().and_then(|spec| spec.replicas).unwrap_or(1))));
        }
        if is_kind(reference, "ReplicaSet", &["apps", "extensions"])?
            && let Some(set) = cached(&context.replicasets.store(), namespace, &reference.name, &reference.uid)
        {
            match controller_of(&set.metadata) {
                Some(owner) if owner.kind == "Deployment" => {
                    if is_kind(owner, "Deployment", &["apps", "extensions"])?
                        && let Some(deployment) = cached(&context.deployments.store(), namespace, &owner.name, &owner.uid)
                    {
                        return Ok(Some((owner.uid.clone(), deployment.spec.as_ref().and_then(|spec| spec.replicas).unwrap_or(1))));
                    }
                }
                _ => return Ok(Some((reference.uid.clone(), set.spec.as_ref().and_then(|spec| spec.replicas).unwrap_or(1)))),
            }
        }
        if is_kind(reference, "StatefulSet", &["apps"])?
            && let Some(set) = cached(&context.stateful_sets.store(), namespace, &reference.name, &reference.uid)
        {
            return Ok(Some((reference.uid.clone(), set.spec.as_ref().and_then(|spec| spec.replicas).unwrap_or(1))));
        }
        self.scale_subresource(reference, namespace).await
    }

    /// kube's `getScaleController`: the `scale` subresource of the controller, its kind found
    /// through discovery.
    async fn scale_subresource(&self, reference: &OwnerReference, namespace: &str) -> Result<Option<(String, i32)>, String> {
        let (group, version) = parse_group_version(&reference.api_version)?;
        let (resource, has_scale) = self.resolve(group, version, &reference.kind).await?;
        let api: Api<DynamicObject> = Api::namespaced_with(self.context.client.clone(), namespace, &resource);
        match api.get_scale(&reference.name).await {
            Ok(scale) if scale.metadata.uid.as_deref() == Some(reference.uid.as_str()) => {
                Ok(Some((reference.uid.clone(), scale.spec.and_then(|spec| spec.replicas).unwrap_or(0))))
            }
            Ok(_) => Ok(None),
            // Not found: either no such object, or a kind without the subresource.
            Err(err) if framework::answered(&err, &[404]) => {
                if has_scale {
                    Ok(None)
                } else {
                    let group_resource = if group.is_empty() { resource.plural.clone() } else { format!("{}.{group}", resource.plural) };
                    Err(format!("{group_resource} does not implement the scale subresource"))
                }
            }
            Err(err) => Err(api_message(&err)),
        }
    }

    /// The resource of a kind and whether it has a `scale` subresource, remembered once found.
    /// A miss is remembered for [`MISS_FRESH`] only (kube's deferred REST mapper resets on a
    /// miss), so that every pod event of a budget over an unknown kind does not ask discovery
    /// again, and the lookup is given [`DISCOVERY_TIMEOUT`].
    async fn resolve(&self, group: &str, version: &str, kind: &str) -> Result<(ApiResource, bool), String> {
        let api_version = if group.is_empty() { version.to_string() } else { format!("{group}/{version}") };
        let key = (api_version.clone(), kind.to_string());
        if let Ok(kinds) = self.scale_kinds.lock() {
            match kinds.get(&key) {
                Some(Resolved::Found(resource, has_scale)) => return Ok((resource.clone(), *has_scale)),
                Some(Resolved::Missed(at, error)) if at.elapsed() < MISS_FRESH => return Err(error.clone()),
                _ => {}
            }
        }
        let kind_ref = GroupVersionKind::gvk(group, version, kind);
        let lookup = tokio::time::timeout(DISCOVERY_TIMEOUT, kube::discovery::pinned_kind(&self.context.client, &kind_ref)).await;
        let resolved = match lookup {
            Err(_) => Err(format!("discovery of {kind:?} in version {api_version:?} did not answer within {DISCOVERY_TIMEOUT:?}")),
            Ok(Err(kube::Error::Discovery(_))) => Err(format!("no matches for kind {kind:?} in version {api_version:?}")),
            Ok(Err(err)) if framework::answered(&err, &[404]) => Err(format!("no matches for kind {kind:?} in version {api_version:?}")),
            Ok(Err(err)) => Err(api_message(&err)),
            Ok(Ok((resource, capabilities))) => {
                let has_scale = capabilities.subresources.iter().any(|(subresource, _)| subresource.plural == "scale" || subresource.plural.ends_with("/scale"));
                Ok((resource, has_scale))
            }
        };
        if let Ok(mut kinds) = self.scale_kinds.lock() {
            let remembered = match &resolved {
                Ok((resource, has_scale)) => Resolved::Found(resource.clone(), *has_scale),
                Err(error) => Resolved::Missed(Instant::now(), error.clone()),
            };
            kinds.insert(key, remembered);
        }
        resolved
    }

    /// kube's `getExpectedScale`: the summed scale of the pods' controllers (each once), and the
    /// names of the pods without a controller.
    async fn expected_scale(&self, pods: &[Arc<Pod>]) -> Result<(i32, Vec<String>), String> {
        // Each controller's scale by its uid (a Deployment's, for the pods of its ReplicaSets).
        let mut scales: BTreeMap<String, i32> = BTreeMap::new();
        // The pods' controllers already looked up, so that a scale is read once per sync.
        let mut looked_up: HashSet<String> = HashSet::new();
        let mut unmanaged = Vec::new();
        for pod in pods {
            let name = pod.metadata.name.clone().unwrap_or_default();
            let Some(reference) = controller_of(&pod.metadata) else {
                unmanaged.push(name);
                continue;
            };
            if looked_up.contains(&reference.uid) {
                continue;
            }
            let namespace = pod.metadata.namespace.as_deref().unwrap_or_default();
            match self.controller_scale(reference, namespace).await? {
                Some((uid, scale)) => drop(scales.insert(uid, scale)),
                None => return Err(format!("found no controllers for pod {name:?}")),
            }
            looked_up.insert(reference.uid.clone());
        }
        let total = scales.values().map(|scale| i64::from(*scale)).sum::<i64>();
        Ok((i32::try_from(total).unwrap_or(i32::MAX), unmanaged))
    }

    async fn event<K: Resource<DynamicType = ()>>(&self, object: &K, kind: &str, reason: &str, message: &str) {
        if let Err(err) = self.recorder.record(&common::events::reference(object), kind, reason, "Reconcile", message).await {
            tracing::debug!(namespace = ?object.meta().namespace, name = ?object.meta().name, reason, error = %err, "cannot record event");
        }
    }

    /// kube's warning on a pod that several budgets select: the eviction subresource refuses
    /// to evict it.
    async fn multiple_budgets(&self, pod: &Pod, budgets: &[Arc<PodDisruptionBudget>]) {
        let namespace = pod.metadata.namespace.as_deref().unwrap_or_default();
        let name = pod.metadata.name.as_deref().unwrap_or_default();
        let chosen = budgets.first().and_then(|budget| budget.metadata.name.as_deref()).unwrap_or_default();
        let message = format!("Pod {namespace:?}/{name:?} matches multiple PodDisruptionBudgets.  Chose {chosen:?} arbitrarily.");
        tracing::info!(namespace, name, "{message}");
        self.event(pod, "Warning", "MultiplePodDisruptionBudgets", &message).await;
    }

    /// kube's `trySync`: the budget's status computed and written; an error is a reason the
    /// status cannot be computed (the fail-safe's message), or the write's failure.
    async fn try_sync(&self, budget: &PodDisruptionBudget) -> Result<Option<Duration>, SyncError> {
        let namespace = budget.metadata.namespace.clone().unwrap_or_default();
        let spec = budget.spec.clone().unwrap_or_default();
        let selector = match common::selector::LabelSelector::from_optional_k8s(spec.selector.as_ref()) {
            Ok(selector) => selector,
            Err(err) => {
                let message = err.to_string();
                self.event(budget, "Warning", "NoPods", &format!("Failed to get pods: {message}")).await;
                return Err(SyncError::Compute(message));
            }
        };
        let mut pods: Vec<Arc<Pod>> = self
            .context
            .pods
            .store()
            .state()
            .into_iter()
            .filter(|pod| pod.metadata.namespace.as_deref() == Some(namespace.as_str()))
            .filter(|pod| selector.matches(&pod.metadata.labels.clone().unwrap_or_default()))
            .collect();
        pods.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
        if pods.is_empty() {
            self.event(budget, "Normal", "NoPods", "No matching pods found").await;
        }
        let (scale, unmanaged) = if needs_scale(&spec) {
            match self.expected_scale(&pods).await {
                Ok(found) => found,
                Err(message) => {
                    self.event(budget, "Warning", "CalculateExpectedPodCountFailed", &format!("Failed to calculate the number of expected pods: {message}")).await;
                    return Err(SyncError::Compute(message));
                }
            }
        } else {
            (0, Vec::new())
        };
        let pod_count = i32::try_from(pods.len()).unwrap_or(i32::MAX);
        let (expected_pods, desired_healthy) = match expected_and_desired(&spec, pod_count, scale) {
            Ok(counts) => counts,
            Err(message) => {
                self.event(budget, "Warning", "CalculateExpectedPodCountFailed", &format!("Failed to calculate the number of expected pods: {message}")).await;
                return Err(SyncError::Compute(message));
            }
        };
        if !unmanaged.is_empty() {
            tracing::debug!(namespace = %namespace, name = ?budget.metadata.name, pods = ?unmanaged, "unmanaged pods selected by the budget");
            let message = format!(
                "Pods selected by this PodDisruptionBudget (selector: {}) were found to be unmanaged. As a result, the status of the PDB cannot be calculated correctly, which may result in undefined behavior. To account for these pods please set \".spec.minAvailable\" field of the PDB to an integer value.",
                go_selector_string(spec.selector.as_ref())
            );
            self.event(budget, "Warning", "UnmanagedPods", &message).await;
        }
        let now = jiff::Timestamp::now();
        let listed = budget.status.as_ref().and_then(|status| status.disrupted_pods.as_ref());
        let (pending, recheck, expired) = pending_disruptions(&pods, listed, now);
        for pod in &expired {
            tracing::info!(namespace = %namespace, pod = ?pod.metadata.name, budget = ?budget.metadata.name, "pod was expected to be deleted but it wasn't, updating PDB");
            // kube's message names the budget's namespace twice (not its name); kept as kube's.
            let message = format!("Pod was expected by PDB {namespace}/{namespace} to be deleted but it wasn't");
            self.event(&**pod, "Warning", "NotDeleted", &message).await;
        }
        let counts = Counts { current_healthy: count_healthy(&pods, &pending, now), desired_healthy, expected_pods };
        if let Some(status) = next_status(budget, &counts, pending, now) {
            self.write_status(budget, status).await.map_err(SyncError::Write)?;
        }
        // A pending eviction expires at `recheck`; a second more, as its time has whole seconds
        // and an entry expires only once strictly past it.
        Ok(recheck.map(|at| Duration::try_from(at.duration_since(now)).unwrap_or_default() + Duration::from_secs(1)))
    }

    /// Writes the status with the resourceVersion it was computed from: a budget changed
    /// meanwhile (an eviction counted against it, say) is refused with 409 and looked at again.
    async fn write_status(&self, budget: &PodDisruptionBudget, status: PodDisruptionBudgetStatus) -> Result<(), kube::Error> {
        let namespace = budget.metadata.namespace.clone().unwrap_or_default();
        let name = budget.metadata.name.clone().unwrap_or_default();
        let mut updated = budget.clone();
        updated.metadata.managed_fields = None;
        updated.status = Some(status);
        let api: Api<PodDisruptionBudget> = Api::namespaced(self.context.client.clone(), &namespace);
        api.replace_status(&name, &PostParams::default(), &updated).await?;
        let status = updated.status.unwrap_or_default();
        tracing::debug!(namespace = %namespace, name = %name, healthy = status.current_healthy, desired = status.desired_healthy, expected = status.expected_pods, allowed = status.disruptions_allowed, "budget status written");
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
enum SyncError {
    /// Why the status cannot be computed.
    #[error("{0}")]
    Compute(String),
    #[error(transparent)]
    Write(kube::Error),
}

async fn reconcile(budget: Arc<PodDisruptionBudget>, controller: Arc<Controller>) -> Result<Action, ReconcileError> {
    let namespace = budget.metadata.namespace.clone().unwrap_or_default();
    let name = budget.metadata.name.clone().unwrap_or_default();
    let err = match controller.try_sync(&budget).await {
        Ok(recheck) => return Ok(Action::requeue(recheck.map_or(RESYNC, |recheck| recheck.min(RESYNC)))),
        // Someone else wrote the budget first (an eviction): look again at the newer copy.
        Err(SyncError::Write(err)) if framework::answered(&err, &[409]) => return Ok(Action::requeue(Duration::from_millis(200))),
        Err(SyncError::Write(err)) if framework::answered(&err, &[404]) => return Ok(Action::await_change()),
        Err(err) => err,
    };
    tracing::warn!(namespace = %namespace, name = %name, error = %err, "failed to sync PDB");
    let message = match &err {
        SyncError::Compute(message) => message.clone(),
        SyncError::Write(err) => api_message(err),
    };
    // Fail safe: at least no disruption is allowed while the status cannot be trusted.
    let status = fail_safe_status(&budget, &message, jiff::Timestamp::now());
    match controller.write_status(&budget, status).await {
        Ok(()) => Ok(Action::requeue(FAILED_RECHECK)),
        Err(err) if framework::answered(&err, &[409]) => Ok(Action::requeue(Duration::from_millis(200))),
        Err(err) if framework::answered(&err, &[404]) => Ok(Action::await_change()),
        Err(err) => Err(err.into()),
    }
}

/// When a pod's `DisruptionTarget=True` condition becomes stale (kube's
/// `nonTerminatingPodHasStaleDisruptionCondition`): `None` when it never will (no such
/// condition, being deleted, terminal, or set by the kubelet).
fn stale_disruption_after(pod: &Pod, now: jiff::Timestamp) -> Option<Duration> {
    if pod.metadata.deletion_timestamp.is_some() {
        return None;
    }
    let status = pod.status.as_ref()?;
    if matches!(status.phase.as_deref(), Some("Succeeded" | "Failed")) {
        return None;
    }
    let condition = status.conditions.iter().flatten().find(|condition| condition.type_ == DISRUPTION_TARGET)?;
    if condition.status != "True" || condition.reason.as_deref() == Some("TerminationByKubelet") {
        return None;
    }
    let since = condition.last_transition_time.as_ref().map_or(jiff::Timestamp::UNIX_EPOCH, |time| time.0);
    let elapsed = Duration::try_from(now.duration_since(since)).unwrap_or_default();
    Some(STALE_POD_DISRUPTION_TIMEOUT.saturating_sub(elapsed))
}

/// kube's `syncStalePodDisruption`: a DisruptionTarget condition left `True` for two minutes on
/// a pod still not being deleted becomes `False` (the disruption did not happen).
async fn reconcile_stale_pod(pod: Arc<Pod>, controller: Arc<Controller>) -> Result<Action, ReconcileError> {
    let Some(wait) = stale_disruption_after(&pod, jiff::Timestamp::now()) else {
        return Ok(Action::await_change());
    };
    if !wait.is_zero() {
        return Ok(Action::requeue(wait));
    }
    let namespace = pod.metadata.namespace.clone().unwrap_or_default();
    let name = pod.metadata.name.clone().unwrap_or_default();
    let mut updated = (*pod).clone();
    updated.metadata.managed_fields = None;
    // As kube's `UpdatePodCondition` with a bare condition: reason and message go.
    let conditions = updated.status.get_or_insert_default().conditions.get_or_insert_default();
    for condition in conditions.iter_mut().filter(|condition| condition.type_ == DISRUPTION_TARGET) {
        *condition = PodCondition { type_: DISRUPTION_TARGET.into(), status: "False".into(), last_transition_time: Some(Time(jiff::Timestamp::now())), ..PodCondition::default() };
    }
    let pods: Api<Pod> = Api::namespaced(controller.context.client.clone(), &namespace);
    match pods.replace_status(&name, &PostParams::default(), &updated).await {
        Ok(_) => {
            tracing::info!(namespace = %namespace, name = %name, "Reset stale DisruptionTarget condition to False");
            Ok(Action::await_change())
        }
        Err(err) if framework::answered(&err, &[409]) => Ok(Action::requeue(Duration::from_millis(200))),
        Err(err) if framework::answered(&err, &[404]) => Ok(Action::await_change()),
        Err(err) => Err(err.into()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn time(text: &str) -> jiff::Timestamp {
        text.parse().unwrap()
    }

    fn pod(name: &str, ready: bool, deleting: bool) -> Arc<Pod> {
        let deletion = deleting.then_some("2026-01-01T00:00:00Z");
        Arc::new(
            serde_json::from_value(json!({"metadata": {"name": name, "namespace": "ns", "labels": {"app": "web"}, "deletionTimestamp": deletion},
                "status": {"conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}]}}))
            .unwrap(),
        )
    }

    fn spec(value: serde_json::Value) -> PodDisruptionBudgetSpec {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn percentages_round_up_as_kubes_scaled_value() {
        assert_eq!(scaled(&IntOrString::String("50%".into()), 3), Ok(2));
        assert_eq!(scaled(&IntOrString::String("50%".into()), 4), Ok(2));
        assert_eq!(scaled(&IntOrString::String("0%".into()), 4), Ok(0));
        assert_eq!(scaled(&IntOrString::String("100%".into()), 7), Ok(7));
        assert_eq!(scaled(&IntOrString::Int(2), 7), Ok(2));
        assert_eq!(scaled(&IntOrString::String("2".into()), 7), Err("invalid value for IntOrString: invalid type: string is not a percentage".into()));
        assert!(scaled(&IntOrString::String("x%".into()), 7).unwrap_err().starts_with("invalid value for IntOrString: invalid value \"x%\""));
    }

    #[test]
    fn expected_and_desired_follow_kubes_rules() {
        // An integer minAvailable counts the selected pods; no scale needed.
        let integer = spec(json!({"minAvailable": 2}));
        assert!(!needs_scale(&integer));
        assert_eq!(expected_and_desired(&integer, 3, 99), Ok((3, 2)));
        // A percentage minAvailable is of the controllers' scale, rounded up.
        let percent = spec(json!({"minAvailable": "50%"}));
        assert!(needs_scale(&percent));
        assert_eq!(expected_and_desired(&percent, 2, 5), Ok((5, 3)));
        // maxUnavailable: desired is scale minus it, never below zero.
        let unavailable = spec(json!({"maxUnavailable": 1}));
        assert!(needs_scale(&unavailable));
        assert_eq!(expected_and_desired(&unavailable, 3, 4), Ok((4, 3)));
        assert_eq!(expected_and_desired(&spec(json!({"maxUnavailable": 5})), 3, 4), Ok((4, 0)));
        assert_eq!(expected_and_desired(&spec(json!({"maxUnavailable": "25%"})), 3, 4), Ok((4, 3)));
        assert_eq!(expected_and_desired(&spec(json!({})), 3, 4), Ok((0, 0)));
    }

    #[test]
    fn healthy_pods_are_ready_not_deleting_and_not_just_evicted() {
        let now = time("2026-01-01T00:10:00Z");
        let pods = vec![pod("a", true, false), pod("b", true, true), pod("c", false, false), pod("d", true, false), pod("e", true, false)];
        let mut pending = BTreeMap::new();
        pending.insert("d".to_string(), Time(time("2026-01-01T00:09:00Z")));
        // An entry past its timeout no longer keeps the pod from counting.
        pending.insert("e".to_string(), Time(time("2026-01-01T00:07:00Z")));
        assert_eq!(count_healthy(&pods, &pending, now), 2, "a and e");
    }

    #[test]
    fn disrupted_pods_are_pruned_when_deleting_gone_or_expired() {
        let now = time("2026-01-01T00:10:00Z");
        let pods = vec![pod("fresh", true, false), pod("deleting", true, true), pod("old", true, false)];
        let listed: BTreeMap<String, Time> = [
            ("fresh", "2026-01-01T00:09:30Z"),
            ("deleting", "2026-01-01T00:09:30Z"),
            ("old", "2026-01-01T00:07:59Z"),
            ("gone", "2026-01-01T00:09:30Z"),
        ]
        .into_iter()
        .map(|(name, at)| (name.to_string(), Time(time(at))))
        .collect();
        let (pending, recheck, expired) = pending_disruptions(&pods, Some(&listed), now);
        assert_eq!(pending.keys().collect::<Vec<_>>(), ["fresh"]);
        assert_eq!(recheck, Some(time("2026-01-01T00:11:30Z")), "when fresh's entry expires");
        assert_eq!(expired.iter().map(|pod| pod.metadata.name.clone().unwrap()).collect::<Vec<_>>(), ["old"]);
        assert_eq!(pending_disruptions(&pods, None, now).0.len(), 0);
    }

    fn budget(status: serde_json::Value) -> PodDisruptionBudget {
        serde_json::from_value(json!({"metadata": {"name": "web", "namespace": "ns", "generation": 2}, "spec": {"minAvailable": 1}, "status": status})).unwrap()
    }

    #[test]
    fn status_and_condition_as_kubes_update_pdb_status() {
        let now = time("2026-01-01T00:10:00Z");
        let counts = Counts { current_healthy: 3, desired_healthy: 1, expected_pods: 3 };
        let first = next_status(&budget(json!(null)), &counts, BTreeMap::new(), now).unwrap();
        assert_eq!((first.disruptions_allowed, first.observed_generation, first.disrupted_pods.is_none()), (2, Some(2), true));
        let condition = &first.conditions.as_ref().unwrap()[0];
        assert_eq!((condition.type_.as_str(), condition.status.as_str(), condition.reason.as_str(), condition.message.as_str()), ("DisruptionAllowed", "True", "SufficientPods", ""));
        assert_eq!((condition.observed_generation, condition.last_transition_time.0), (Some(2), now));
        // Written and unchanged: nothing to write.
        let written = budget(serde_json::to_value(&first).unwrap());
        assert_eq!(next_status(&written, &counts, BTreeMap::new(), time("2026-01-01T00:11:00Z")), None);
        // No pods expected: no disruption, whatever the counts.
        let none_expected = Counts { current_healthy: 3, desired_healthy: 1, expected_pods: 0 };
        let blocked = next_status(&written, &none_expected, BTreeMap::new(), time("2026-01-01T00:12:00Z")).unwrap();
        let condition = &blocked.conditions.as_ref().unwrap()[0];
        assert_eq!((blocked.disruptions_allowed, condition.status.as_str(), condition.reason.as_str()), (0, "False", "InsufficientPods"));
        assert_eq!(condition.last_transition_time.0, time("2026-01-01T00:12:00Z"), "the status changed");
        // A newer generation is written even if the numbers are the same.
        let mut newer = written.clone();
        newer.metadata.generation = Some(3);
        assert_eq!(next_status(&newer, &counts, BTreeMap::new(), now).unwrap().observed_generation, Some(3));
        // The reason alone changing keeps the transition time.
        let mut failed = fail_safe_status(&written, "found no controllers for pod \"x\"", time("2026-01-01T00:13:00Z"));
        assert_eq!(failed.disruptions_allowed, 0);
        let condition = &failed.conditions.as_ref().unwrap()[0];
        assert_eq!((condition.status.as_str(), condition.reason.as_str(), condition.message.as_str()), ("False", "SyncFailed", "found no controllers for pod \"x\""));
        failed.conditions.as_mut().unwrap()[0].status = "False".into();
        let recovered = next_status(&budget(serde_json::to_value(&failed).unwrap()), &none_expected, BTreeMap::new(), time("2026-01-01T00:14:00Z")).unwrap();
        let condition = &recovered.conditions.as_ref().unwrap()[0];
        assert_eq!((condition.reason.as_str(), condition.message.as_str(), condition.last_transition_time.0), ("InsufficientPods", "", time("2026-01-01T00:13:00Z")));
    }

    #[test]
    fn pending_evictions_are_written_and_compared() {
        let now = time("2026-01-01T00:10:00Z");
        let counts = Counts { current_healthy: 2, desired_healthy: 1, expected_pods: 3 };
        let pending: BTreeMap<String, Time> = [("a".to_string(), Time(time("2026-01-01T00:09:00Z")))].into();
        let status = next_status(&budget(json!(null)), &counts, pending.clone(), now).unwrap();
        assert_eq!(status.disrupted_pods.as_ref(), Some(&pending));
        let written = budget(serde_json::to_value(&status).unwrap());
        assert_eq!(next_status(&written, &counts, pending, now), None);
        assert!(next_status(&written, &counts, BTreeMap::new(), now).unwrap().disrupted_pods.is_none(), "the entry goes");
    }

    #[test]
    fn selectors_print_as_go_does() {
        let selector: LabelSelector = serde_json::from_value(json!({"matchLabels": {"b": "2", "a": "1"}, "matchExpressions": [{"key": "k", "operator": "In", "values": ["x", "y"]}]})).unwrap();
        assert_eq!(
            go_selector_string(Some(&selector)),
            "&LabelSelector{MatchLabels:map[string]string{a: 1,b: 2,},MatchExpressions:[]LabelSelectorRequirement{LabelSelectorRequirement{Key:k,Operator:In,Values:[x y],},},}"
        );
        assert_eq!(go_selector_string(None), "nil");
    }

    #[test]
    fn owner_kinds_are_checked_by_group() {
        let reference = |api_version: &str, kind: &str| OwnerReference { api_version: api_version.into(), kind: kind.into(), name: "x".into(), uid: "u".into(), ..OwnerReference::default() };
        assert_eq!(is_kind(&reference("apps/v1", "ReplicaSet"), "ReplicaSet", &["apps", "extensions"]), Ok(true));
        assert_eq!(is_kind(&reference("example.com/v1", "ReplicaSet"), "ReplicaSet", &["apps", "extensions"]), Ok(false));
        assert_eq!(is_kind(&reference("v1", "ReplicationController"), "ReplicationController", &[""]), Ok(true));
        assert_eq!(is_kind(&reference("a/b/c", "ReplicaSet"), "ReplicaSet", &["apps"]), Err("unexpected GroupVersion string: a/b/c".into()));
    }

    #[test]
    fn a_disruption_target_goes_stale_after_two_minutes_unless_deleting_terminal_or_the_kubelets() {
        let now = time("2026-01-01T00:10:00Z");
        let pod = |phase: &str, reason: &str, since: &str, deleting: bool| -> Pod {
            let deletion = deleting.then_some("2026-01-01T00:00:00Z");
            serde_json::from_value(json!({"metadata": {"name": "p", "deletionTimestamp": deletion},
                "status": {"phase": phase, "conditions": [{"type": "DisruptionTarget", "status": "True", "reason": reason, "lastTransitionTime": since}]}}))
            .unwrap()
        };
        assert_eq!(stale_disruption_after(&pod("Running", "EvictionByEvictionAPI", "2026-01-01T00:09:00Z", false), now), Some(Duration::from_secs(60)));
        assert_eq!(stale_disruption_after(&pod("Running", "PreemptionByScheduler", "2026-01-01T00:07:00Z", false), now), Some(Duration::ZERO));
        assert_eq!(stale_disruption_after(&pod("Running", "EvictionByEvictionAPI", "2026-01-01T00:07:00Z", true), now), None);
        assert_eq!(stale_disruption_after(&pod("Succeeded", "EvictionByEvictionAPI", "2026-01-01T00:07:00Z", false), now), None);
        assert_eq!(stale_disruption_after(&pod("Running", "TerminationByKubelet", "2026-01-01T00:07:00Z", false), now), None);
    }
}
