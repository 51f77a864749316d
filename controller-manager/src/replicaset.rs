//! The ReplicaSet controller: keeps as many pods as `spec.replicas` asks for, owned by the set
//! (adopting orphans its selector matches and releasing pods it no longer matches), and reports
//! how many are ready and available.
//!
//! It runs over ReplicationControllers too: Kubernetes' replication manager is this controller
//! run over a kind whose selector is a plain label map. What the two kinds differ in (where their
//! fields are, their status type, their names) is [`PodSet`]; the logic here is shared.
//!
//! Pods are created with generated names, so a create cannot be made idempotent by its name:
//! like Kubernetes' controller, it remembers what it created and deleted ("expectations") and does
//! not act again for a set until the informer has seen all of it, so that a set is never
//! reconciled against a store that lags its own writes.

use std::cmp::Reverse;
use std::sync::Arc;
use std::time::Duration;

use common::selector::LabelSelector;
use futures::StreamExt;
use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::apps::v1::{ReplicaSet, ReplicaSetStatus};
use k8s_openapi::api::core::v1::{Pod, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::Resource;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::context::Context;
use crate::expectations::Expectations;
use crate::framework::{self, ReconcileError};
use crate::informer::Informer;

/// Pods created or deleted at once for one set.
const BURST: usize = 64;

/// A kind this controller keeps pods for: what it reads of an object and how it writes status.
pub trait PodSet: Resource<DynamicType = (), Scope = NamespaceResourceScope> + Clone + std::fmt::Debug + Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The controller's name in `--controllers`, logs and metrics.
    const CONTROLLER: &'static str;
    /// Who its events say they come from (Kubernetes' event source component).
    const COMPONENT: &'static str;
    type Status: PartialEq + Serialize + Send + Sync;

    /// The shared informer of the kind.
    fn informer(context: &Context) -> &Informer<Self>;
    /// The pods it selects; None when the selector cannot be read, which selects nothing.
    fn selector(&self) -> Option<LabelSelector>;
    /// `spec.replicas`, defaulted to 1 by the apiserver.
    fn replicas(&self) -> Option<i32>;
    fn min_ready_seconds(&self) -> Option<i32>;
    fn template(&self) -> Option<&PodTemplateSpec>;
    fn status(&self) -> Option<&Self::Status>;
    /// The status that reports `counts`, keeping what the controller does not compute
    /// (conditions) as the object has it.
    fn counted(&self, counts: &Counts) -> Self::Status;
}

/// What the controller counts of the pods it owns, for the status.
pub struct Counts {
    pub replicas: i32,
    pub fully_labeled: i32,
    pub ready: i32,
    pub available: i32,
    pub observed_generation: Option<i64>,
}

impl PodSet for ReplicaSet {
    const CONTROLLER: &'static str = "replicaset";
    const COMPONENT: &'static str = "replicaset-controller";
    type Status = ReplicaSetStatus;

    fn informer(context: &Context) -> &Informer<Self> {
        &context.replicasets
    }

    fn selector(&self) -> Option<LabelSelector> {
        LabelSelector::from_optional_k8s(self.spec.as_ref().map(|spec| &spec.selector)).ok()
    }

    fn replicas(&self) -> Option<i32> {
        self.spec.as_ref().and_then(|spec| spec.replicas)
    }

    fn min_ready_seconds(&self) -> Option<i32> {
        self.spec.as_ref().and_then(|spec| spec.min_ready_seconds)
    }

    fn template(&self) -> Option<&PodTemplateSpec> {
        self.spec.as_ref().and_then(|spec| spec.template.as_ref())
    }

    fn status(&self) -> Option<&ReplicaSetStatus> {
        self.status.as_ref()
    }

    fn counted(&self, counts: &Counts) -> ReplicaSetStatus {
        ReplicaSetStatus {
            replicas: counts.replicas,
            fully_labeled_replicas: Some(counts.fully_labeled),
            ready_replicas: Some(counts.ready),
            available_replicas: Some(counts.available),
            observed_generation: counts.observed_generation,
            conditions: self.status.as_ref().and_then(|status| status.conditions.clone()),
            terminating_replicas: None,
        }
    }
}

struct Controller {
    context: Arc<Context>,
    recorder: common::events::Recorder,
    /// By the uid of the set (or ReplicationController).
    expectations: Expectations,
}

/// Runs the controller over the objects of kind `K`.
pub async fn run<K: PodSet>(context: Arc<Context>) {
    let controller = Arc::new(Controller { recorder: context.recorder(K::COMPONENT), context: context.clone(), expectations: Expectations::default() });
    let informer = K::informer(&context);
    let sets = informer.store();
    let own = informer.changes().map(|set| ObjectRef::from_obj(&*set)).boxed();
    let pods = context.pods.changes().flat_map({
        let sets = sets.clone();
        move |pod| futures::stream::iter(sets_for_pod(&sets, &pod))
    });
    framework::run(K::CONTROLLER, context.metrics.clone(), controller, sets, vec![own, pods.boxed()], context.settings.concurrent_syncs, reconcile::<K>).await;
}

/// The set that controls the pod, or, for an orphan, every set in its namespace that would adopt it.
fn sets_for_pod<K: PodSet>(sets: &kube::runtime::reflector::Store<K>, pod: &Pod) -> Vec<ObjectRef<K>> {
    if let Some(owner) = pod.metadata.owner_references.iter().flatten().find(|owner| owner.controller == Some(true)) {
        if owner.kind != K::kind(&()) {
            return Vec::new();
        }
        let mut reference = ObjectRef::new(&owner.name);
        if let Some(namespace) = &pod.metadata.namespace {
            reference = reference.within(namespace);
        }
        return vec![reference];
    }
    let labels = pod.metadata.labels.clone().unwrap_or_default();
    sets.state()
        .iter()
        .filter(|set| set.meta().namespace == pod.metadata.namespace)
        .filter(|set| set.selector().is_some_and(|selector| !selector.is_empty() && selector.matches(&labels)))
        .map(|set| ObjectRef::from_obj(&**set))
        .collect()
}

pub fn is_active(pod: &Pod) -> bool {
    let phase = pod.status.as_ref().and_then(|status| status.phase.as_deref());
    pod.metadata.deletion_timestamp.is_none() && !matches!(phase, Some("Succeeded" | "Failed"))
}

/// When the pod became Ready, if it is.
pub fn ready_since(pod: &Pod) -> Option<jiff::Timestamp> {
    let condition = pod.status.as_ref()?.conditions.as_ref()?.iter().find(|condition| condition.type_ == "Ready")?;
    if condition.status != "True" {
        return None;
    }
    Some(condition.last_transition_time.as_ref().map_or(jiff::Timestamp::UNIX_EPOCH, |time| time.0))
}

/// Ready for at least `min_ready` by `now`.
pub fn is_available(pod: &Pod, min_ready: Duration, now: jiff::Timestamp) -> bool {
    ready_since(pod).is_some_and(|since| min_ready.is_zero() || since.as_second() + i64::try_from(min_ready.as_secs()).unwrap_or(i64::MAX) <= now.as_second())
}

/// Kubernetes' order for choosing pods to delete: unscheduled before scheduled, pending before
/// running, not ready before ready, ready for less time before longer, more restarts before
/// fewer, newer before older.
type Rank = (bool, u8, bool, Reverse<Option<jiff::Timestamp>>, Reverse<i32>, Reverse<Option<jiff::Timestamp>>);

fn deletion_rank(pod: &Pod) -> Rank {
    let assigned = pod.spec.as_ref().and_then(|spec| spec.node_name.as_deref()).is_some_and(|node| !node.is_empty());
    let phase = match pod.status.as_ref().and_then(|status| status.phase.as_deref()) {
        Some("Pending") | None => 0,
        Some("Unknown") => 1,
        _ => 2,
    };
    let ready = ready_since(pod);
    let restarts: i32 = pod
        .status
        .as_ref()
        .and_then(|status| status.container_statuses.as_ref())
        .map_or(0, |statuses| statuses.iter().map(|status| status.restart_count).sum());
    let created = pod.metadata.creation_timestamp.as_ref().map(|time| time.0);
    (assigned, phase, ready.is_some(), Reverse(ready), Reverse(restarts), Reverse(created))
}

async fn reconcile<K: PodSet>(set: Arc<K>, controller: Arc<Controller>) -> Result<Action, ReconcileError> {
    let context = &controller.context;
    let namespace = set.meta().namespace.clone().unwrap_or_default();
    let name = set.meta().name.clone().unwrap_or_default();
    let uid = set.meta().uid.clone().unwrap_or_default();
    let pods_api: Api<Pod> = Api::namespaced(context.client.clone(), &namespace);
    let Some(selector) = set.selector() else {
        return Ok(Action::requeue(framework::RESYNC));
    };
    let deleting = set.meta().deletion_timestamp.is_some();

    // Claim: adopt matching orphans, release owned pods that no longer match.
    let mut owned: Vec<Arc<Pod>> = Vec::new();
    let no_labels = std::collections::BTreeMap::new();
    for pod in context.pods.store().state() {
        if pod.metadata.namespace.as_deref() != Some(namespace.as_str()) {
            continue;
        }
        // Pods of other controllers are none of this set's business: skip them before looking
        // at labels, as most pods of a busy namespace are such.
        let controller_ref = pod.metadata.owner_references.iter().flatten().find(|owner| owner.controller == Some(true));
        if controller_ref.is_some_and(|owner| owner.uid != uid) {
            continue;
        }
        let matches = !selector.is_empty() && selector.matches(pod.metadata.labels.as_ref().unwrap_or(&no_labels));
        let pod_name = pod.metadata.name.clone().unwrap_or_default();
        match controller_ref {
            Some(_) => {
                if matches {
                    owned.push(pod);
                } else {
                    release(&pods_api, &pod, &uid).await?;
                }
            }
            None if matches && !deleting && pod.metadata.deletion_timestamp.is_none() => {
                let mut references = pod.metadata.owner_references.clone().unwrap_or_default();
                references.push(framework::controller_reference(&*set));
                // The resourceVersion makes the adoption fail if the pod changed meanwhile.
                let patch = serde_json::json!({"metadata": {"ownerReferences": references, "resourceVersion": pod.metadata.resource_version}});
                match pods_api.patch(&pod_name, &PatchParams::default(), &Patch::Merge(patch)).await {
                    Ok(adopted) => owned.push(Arc::new(adopted)),
                    Err(err) if framework::answered(&err, &[404, 409]) => {}
                    Err(err) => return Err(err.into()),
                }
            }
            None => {}
        }
    }
    let active: Vec<Arc<Pod>> = owned.iter().filter(|pod| is_active(pod)).cloned().collect();

    let satisfied = controller.expectations.met(&uid, &owned);
    if satisfied && !deleting {
        let wanted = usize::try_from(set.replicas().unwrap_or(1)).unwrap_or(0);
        if active.len() < wanted {
            controller.create_pods(&*set, &pods_api, wanted - active.len()).await?;
        } else if active.len() > wanted {
            let mut victims = active.clone();
            victims.sort_by_key(|pod| deletion_rank(pod));
            victims.truncate(active.len() - wanted);
            controller.delete_pods(&*set, &pods_api, &victims).await?;
        }
    }

    let min_ready = Duration::from_secs(u64::try_from(set.min_ready_seconds().unwrap_or(0)).unwrap_or(0));
    let now = jiff::Timestamp::now();
    let template_labels = set.template().and_then(|template| template.metadata.as_ref()).and_then(|meta| meta.labels.clone()).unwrap_or_default();
    let count = |filter: &dyn Fn(&Pod) -> bool| i32::try_from(active.iter().filter(|pod| filter(pod)).count()).unwrap_or(i32::MAX);
    let counts = Counts {
        replicas: count(&|_| true),
        fully_labeled: count(&|pod: &Pod| {
            let labels = pod.metadata.labels.clone().unwrap_or_default();
            template_labels.iter().all(|(key, value)| labels.get(key) == Some(value))
        }),
        ready: count(&|pod: &Pod| ready_since(pod).is_some()),
        available: count(&|pod: &Pod| is_available(pod, min_ready, now)),
        observed_generation: set.meta().generation,
    };
    let status = set.counted(&counts);
    if set.status() != Some(&status) {
        let sets: Api<K> = Api::namespaced(context.client.clone(), &namespace);
        let patch = serde_json::json!({"status": status});
        match sets.patch_status(&name, &PatchParams::default(), &Patch::Merge(patch)).await {
            Err(err) if !framework::answered(&err, &[404]) => return Err(err.into()),
            _ => {}
        }
    }
    // Pods that will turn available once minReadySeconds have passed need a look then.
    let waiting_available = counts.ready > counts.available;
    if waiting_available && !min_ready.is_zero() {
        return Ok(Action::requeue(min_ready.min(Duration::from_secs(30)).max(Duration::from_secs(1))));
    }
    Ok(Action::requeue(framework::RESYNC))
}

/// Drops the set's owner reference from a pod its selector no longer matches.
async fn release(pods: &Api<Pod>, pod: &Pod, uid: &str) -> Result<(), ReconcileError> {
    let references: Vec<&OwnerReference> = pod.metadata.owner_references.iter().flatten().filter(|owner| owner.uid != uid).collect();
    let patch = serde_json::json!({"metadata": {"ownerReferences": references, "resourceVersion": pod.metadata.resource_version}});
    match pods.patch(pod.metadata.name.as_deref().unwrap_or_default(), &PatchParams::default(), &Patch::Merge(patch)).await {
        Err(err) if !framework::answered(&err, &[404, 409]) => Err(err.into()),
        _ => Ok(()),
    }
}

impl Controller {
    async fn create_pods<K: PodSet>(&self, set: &K, pods: &Api<Pod>, count: usize) -> Result<(), ReconcileError> {
        let uid = set.meta().uid.clone().unwrap_or_default();
        let pod = framework::pod_from_template(set, &set.template().cloned().unwrap_or_default());
        let params = PostParams::default();
        let results: Vec<Result<Pod, kube::Error>> =
            futures::stream::iter(0..count).map(|_| pods.create(&params, &pod)).buffer_unordered(BURST).collect().await;
        let mut first_error = None;
        let mut events = Vec::new();
        for result in results {
            match result {
                Ok(created) => {
                    let pod_name = created.metadata.name.clone().unwrap_or_default();
                    self.expectations.created(&uid, pod_name.clone());
                    events.push(("Normal", "SuccessfulCreate", format!("Created pod: {pod_name}")));
                }
                Err(err) => {
                    events.push(("Warning", "FailedCreate", format!("Error creating: {err}")));
                    first_error.get_or_insert(err);
                }
            }
        }
        // Recorded side by side: a set of fifty pods need not wait for fifty event writes in turn.
        futures::future::join_all(events.iter().map(|(kind, reason, message)| self.event(set, kind, reason, message))).await;
        first_error.map_or(Ok(()), |err| Err(err.into()))
    }

    async fn delete_pods<K: PodSet>(&self, set: &K, pods: &Api<Pod>, victims: &[Arc<Pod>]) -> Result<(), ReconcileError> {
        let uid = set.meta().uid.clone().unwrap_or_default();
        for victim in victims {
            self.expectations.deleting(&uid, victim.metadata.name.clone());
        }
        let results: Vec<(String, Result<(), kube::Error>)> = futures::stream::iter(victims.iter().cloned())
            .map(|victim| async move {
                let pod_name = victim.metadata.name.clone().unwrap_or_default();
                let outcome = match pods.delete(&pod_name, &DeleteParams::default()).await {
                    Err(err) if !framework::answered(&err, &[404]) => Err(err),
                    _ => Ok(()),
                };
                (pod_name, outcome)
            })
            .buffer_unordered(BURST)
            .collect()
            .await;
        let mut first_error = None;
        let mut events = Vec::new();
        for (pod_name, result) in results {
            match result {
                Ok(()) => events.push(("Normal", "SuccessfulDelete", format!("Deleted pod: {pod_name}"))),
                Err(err) => {
                    // Not deleted: nothing to wait for.
                    self.expectations.not_deleted(&uid, &pod_name);
                    events.push(("Warning", "FailedDelete", format!("Error deleting: {err}")));
                    first_error.get_or_insert(err);
                }
            }
        }
        futures::future::join_all(events.iter().map(|(kind, reason, message)| self.event(set, kind, reason, message))).await;
        first_error.map_or(Ok(()), |err| Err(err.into()))
    }

    async fn event<K: PodSet>(&self, set: &K, kind: &str, reason: &str, message: &str) {
        if let Err(err) = self.recorder.record(&common::events::reference(set), kind, reason, "Reconcile", message).await {
            tracing::debug!(namespace = ?set.meta().namespace, name = ?set.meta().name, error = %err, "cannot record event");
        }
    }
}


#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn pod(value: serde_json::Value) -> Pod {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn pods_to_delete_first_are_unscheduled_then_not_ready_then_newest() {
        let unscheduled = pod(json!({"metadata": {"name": "unscheduled", "creationTimestamp": "2026-01-01T00:00:00Z"}}));
        let not_ready = pod(json!({"metadata": {"name": "not-ready", "creationTimestamp": "2026-01-01T00:00:00Z"}, "spec": {"nodeName": "n", "containers": []},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "False"}]}}));
        let ready_old = pod(json!({"metadata": {"name": "ready-old", "creationTimestamp": "2026-01-01T00:00:00Z"}, "spec": {"nodeName": "n", "containers": []},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": "2026-01-01T00:00:10Z"}]}}));
        let ready_new = pod(json!({"metadata": {"name": "ready-new", "creationTimestamp": "2026-01-02T00:00:00Z"}, "spec": {"nodeName": "n", "containers": []},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": "2026-01-02T00:00:10Z"}]}}));
        let mut pods = vec![ready_old, ready_new, not_ready, unscheduled];
        pods.sort_by_key(deletion_rank);
        let names: Vec<_> = pods.iter().map(|pod| pod.metadata.name.clone().unwrap_or_default()).collect();
        assert_eq!(names, ["unscheduled", "not-ready", "ready-new", "ready-old"]);
    }

    #[test]
    fn availability_waits_for_min_ready_seconds() {
        let ready = pod(json!({"metadata": {"name": "p"}, "status": {"conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": "2026-01-01T00:00:00Z"}]}}));
        let at = |text: &str| text.parse::<jiff::Timestamp>().unwrap();
        assert!(is_available(&ready, Duration::ZERO, at("2026-01-01T00:00:00Z")));
        assert!(!is_available(&ready, Duration::from_secs(10), at("2026-01-01T00:00:05Z")));
        assert!(is_available(&ready, Duration::from_secs(10), at("2026-01-01T00:00:10Z")));
    }
}
