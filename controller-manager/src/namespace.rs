//! The namespace controller: once a namespace is being deleted, it deletes everything in it, of
//! every namespaced resource type the apiserver serves (found through discovery, as
//! kube-controller-manager's `NamespacedResourcesDeleter` does), waits for what is only marked
//! (pods stopping on their nodes, objects held by finalizers), and when nothing is left removes
//! the `kubernetes` finalizer through the `finalize` subresource so that the apiserver can let the
//! namespace go. The namespace's status conditions say what it is waiting for.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Namespace, NamespaceCondition};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::Action;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Resource, ResourceExt};

use crate::context::Context;
use crate::discovery::{self, Served};
use crate::framework::{self, ReconcileError, Triggers};

/// The finalizer this controller owns in `spec.finalizers` (`v1.FinalizerKubernetes`).
const FINALIZER: &str = "kubernetes";

/// How long objects held by finalizers are expected to take, Kubernetes'
/// `finalizerEstimateSeconds`.
const FINALIZER_ESTIMATE_SECONDS: u64 = 15;

/// The condition types Kubernetes keeps on a terminating namespace, in its order.
const CONDITION_TYPES: [&str; 5] = [
    "NamespaceDeletionDiscoveryFailure",
    "NamespaceDeletionGroupVersionParsingFailure",
    "NamespaceDeletionContentFailure",
    "NamespaceContentRemaining",
    "NamespaceFinalizersRemaining",
];

pub async fn run(context: Arc<Context>) {
    let store = context.namespaces.store();
    let own = context.namespaces.changes().map(|namespace| ObjectRef::from_obj(&*namespace)).boxed();
    let triggers: Triggers<Namespace> = vec![
        own,
        content_changes(context.pods.changes(), store.clone()),
        content_changes(context.replicasets.changes(), store.clone()),
        content_changes(context.replication_controllers.changes(), store.clone()),
        content_changes(context.deployments.changes(), store.clone()),
        content_changes(context.services.changes(), store.clone()),
        content_changes(context.endpoints.changes(), store.clone()),
    ];
    let concurrency = context.settings.concurrent_syncs;
    framework::run("namespace", context.metrics.clone(), context, store, triggers, concurrency, reconcile).await;
}

/// Changes of objects inside a terminating namespace, as requests to look at that namespace:
/// the pod its node finally removes may be the last thing it waits for. Kubernetes only
/// polls (after half the pods' grace period); watching what the informers see anyway makes a
/// namespace go as soon as it is empty.
fn content_changes<K>(changes: impl futures::Stream<Item = Arc<K>> + Send + 'static, namespaces: Store<Namespace>) -> futures::stream::BoxStream<'static, ObjectRef<Namespace>>
where
    K: Resource + Send + Sync + 'static,
{
    changes
        .filter_map(move |object| {
            let request = object.meta().namespace.as_deref().map(ObjectRef::<Namespace>::new);
            let terminating = request
                .filter(|request| namespaces.get(request).is_some_and(|namespace| namespace.metadata.deletion_timestamp.is_some()));
            futures::future::ready(terminating)
        })
        .boxed()
}

async fn reconcile(namespace: Arc<Namespace>, context: Arc<Context>) -> Result<Action, ReconcileError> {
    if namespace.metadata.deletion_timestamp.is_none() {
        return Ok(Action::await_change());
    }
    let name = namespace.name_any();
    let namespaces: Api<Namespace> = Api::all(context.client.clone());
    // Several writers touch a terminating namespace: decide on what it is now, as Kubernetes'
    // deleter does.
    let Some(live) = namespaces.get_opt(&name).await? else {
        return Ok(Action::await_change());
    };
    if live.metadata.uid != namespace.metadata.uid || live.metadata.deletion_timestamp.is_none() {
        return Ok(Action::await_change());
    }
    if !spec_finalizers(&live).iter().any(|finalizer| finalizer == FINALIZER) {
        return Ok(Action::await_change());
    }
    let content = delete_content(&context.client, &name).await;
    let conditions = updated_conditions(&live, &content, jiff::Timestamp::now());
    let terminating = live.status.as_ref().and_then(|status| status.phase.as_deref()) == Some("Terminating");
    let mut live = live;
    if conditions.is_some() || !terminating {
        let conditions = conditions.unwrap_or_else(|| live.status.as_ref().and_then(|status| status.conditions.clone()).unwrap_or_default());
        let patch = serde_json::json!({"status": {"phase": "Terminating", "conditions": conditions}});
        // The conditions only inform; emptying the namespace goes on without them, as in
        // Kubernetes.
        match namespaces.patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch)).await {
            Ok(updated) => live = updated,
            Err(err) => tracing::warn!(namespace = %name, error = %err, "cannot update the namespace's conditions"),
        }
    }
    let failures: Vec<&String> = content.discovery_failures.iter().chain(&content.deletion_failures).collect();
    if !failures.is_empty() {
        let joined = failures.iter().map(|failure| failure.as_str()).collect::<Vec<_>>().join("; ");
        return Err(ReconcileError::Other(format!("namespace {name}: {joined}")));
    }
    if content.estimate_seconds > 0 {
        tracing::debug!(namespace = %name, remaining = ?content.remaining, estimate_seconds = content.estimate_seconds, "content remains");
        // namespace_controller.go: ResourcesRemainingError waits half the estimate, plus one.
        return Ok(Action::requeue(Duration::from_secs(content.estimate_seconds / 2 + 1)));
    }
    finalize(&namespaces, &live).await?;
    tracing::info!(namespace = %name, "namespace emptied; its finalizer is removed");
    Ok(Action::await_change())
}

fn spec_finalizers(namespace: &Namespace) -> &[String] {
    namespace.spec.as_ref().and_then(|spec| spec.finalizers.as_deref()).unwrap_or_default()
}

/// Removes this controller's finalizer, with the namespace's resourceVersion as the
/// precondition so that a finalizer someone added meanwhile is not lost (a conflict is retried
/// by the framework).
async fn finalize(namespaces: &Api<Namespace>, live: &Namespace) -> Result<(), ReconcileError> {
    let mut finalizing = live.clone();
    if let Some(spec) = finalizing.spec.as_mut() {
        spec.finalizers = Some(spec_finalizers(live).iter().filter(|finalizer| *finalizer != FINALIZER).cloned().collect());
    }
    match namespaces.replace_subresource("finalize", &live.name_any(), &PostParams::default(), &finalizing).await {
        Ok(_) => Ok(()),
        // Someone else finished it.
        Err(kube::Error::Api(status)) if status.is_not_found() => Ok(()),
        Err(err) => Err(err.into()),
    }
}

/// What deleting a namespace's content found.
#[derive(Debug, Default)]
struct Content {
    discovery_failures: Vec<String>,
    deletion_failures: Vec<String>,
    /// `plural.group` → objects still there.
    remaining: BTreeMap<String, usize>,
    /// finalizer → objects still held by it.
    finalizers: BTreeMap<String, usize>,
    /// How long until what remains should be gone; 0 when nothing is expected to go by itself.
    estimate_seconds: u64,
}

/// The namespaced, deletable resource types of every group (each at its preferred version),
/// and what discovery failed for.
async fn discover(client: &kube::Client) -> (Vec<Served>, Vec<String>) {
    let discovered = discovery::discover(client).await;
    let deletable = discovered.served.into_iter().filter(|served| served.namespaced && served.allows("delete")).collect();
    (deletable, discovered.failures)
}

/// Deletes everything in `namespace` and counts what is left, type by type; a failure with one
/// type does not stop the others.
async fn delete_content(client: &kube::Client, namespace: &str) -> Content {
    let (served, discovery_failures) = discover(client).await;
    let mut content = Content { discovery_failures, ..Content::default() };
    for served in &served {
        let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), namespace, &served.resource);
        if let Err(err) = delete_all(&api, served).await {
            content.deletion_failures.push(format!("deleting {}: {err}", served.group_resource()));
            continue;
        }
        if !served.allows("list") {
            continue;
        }
        let left = match api.list(&ListParams::default()).await {
            Ok(list) => list.items,
            Err(err) => {
                content.deletion_failures.push(format!("listing {}: {err}", served.group_resource()));
                continue;
            }
        };
        if left.is_empty() {
            continue;
        }
        tally(&mut content, served, &left, jiff::Timestamp::now());
    }
    content
}

/// Deletes the whole collection, or each object where the type has no `deletecollection`.
/// Background propagation, as Kubernetes' deleter asks: the namespace is emptied anyway, and no
/// `orphan` finalizer must hold anything in it.
async fn delete_all(api: &Api<DynamicObject>, served: &Served) -> Result<(), kube::Error> {
    if served.allows("deletecollection") {
        match api.delete_collection(&DeleteParams::background(), &ListParams::default()).await {
            Ok(_) => return Ok(()),
            Err(kube::Error::Api(status)) if status.is_not_found() || status.code == 405 => {}
            Err(err) => return Err(err),
        }
    }
    if !served.allows("list") {
        return Ok(());
    }
    for object in api.list(&ListParams::default()).await?.items {
        match api.delete(&object.name_any(), &DeleteParams::background()).await {
            Ok(_) => {}
            Err(kube::Error::Api(status)) if status.is_not_found() || status.code == 405 => {}
            Err(err) => return Err(err),
        }
    }
    Ok(())
}

/// Adds what is left of one type to `content`: its count, its finalizers, and how long it should
/// take to go. Pods stopping on their nodes go once their grace period is over (Kubernetes
/// estimates this from `terminationGracePeriodSeconds` before deleting; the deletionTimestamp
/// of what was actually left is the same bound, tighter); objects held by finalizers get
/// Kubernetes' fixed estimate; anything else left is a failure.
fn tally(content: &mut Content, served: &Served, left: &[DynamicObject], now: jiff::Timestamp) {
    content.remaining.insert(served.group_resource(), left.len());
    for object in left {
        for finalizer in object.finalizers() {
            *content.finalizers.entry(finalizer.clone()).or_default() += 1;
        }
    }
    let mut estimate = 0;
    if served.resource.group.is_empty() && served.resource.plural == "pods" {
        for pod in left {
            if let Some(Time(deadline)) = pod.metadata.deletion_timestamp {
                let seconds = deadline.duration_since(now).as_secs_f64().ceil();
                // Saturating float-to-int conversion; a deadline in the past is 0.
                estimate = estimate.max(seconds as u64);
            }
        }
    }
    if estimate == 0 && left.iter().any(|object| !object.finalizers().is_empty()) {
        estimate = FINALIZER_ESTIMATE_SECONDS;
    }
    if estimate == 0 {
        content.deletion_failures.push(format!("unexpected items still remain: {} {}", left.len(), served.group_resource()));
    }
    content.estimate_seconds = content.estimate_seconds.max(estimate);
}

/// The namespace's conditions after this pass, or None when they say the same already
/// (Kubernetes' `namespaceConditionUpdater`: one condition per type, True with what failed or
/// remains, else False with its "all is well" reason; a condition that says the same keeps its
/// transition time).
fn updated_conditions(namespace: &Namespace, content: &Content, now: jiff::Timestamp) -> Option<Vec<NamespaceCondition>> {
    let old = namespace.status.as_ref().and_then(|status| status.conditions.clone()).unwrap_or_default();
    let mut conditions = old.clone();
    for condition_type in CONDITION_TYPES {
        let wanted = condition_for(condition_type, content, now);
        match conditions.iter_mut().find(|condition| condition.type_ == condition_type) {
            None => conditions.push(wanted),
            Some(existing) => {
                let same = existing.status == wanted.status && existing.reason == wanted.reason && existing.message == wanted.message;
                if !same {
                    *existing = wanted;
                }
            }
        }
    }
    (conditions != old).then_some(conditions)
}

fn condition_for(condition_type: &str, content: &Content, now: jiff::Timestamp) -> NamespaceCondition {
    let failing = |reason: &str, message: String| (true, reason.to_string(), message);
    let (failed, reason, message) = match condition_type {
        "NamespaceDeletionDiscoveryFailure" if !content.discovery_failures.is_empty() => failing(
            "DiscoveryFailed",
            format!("Discovery failed for some groups, {} failing: {}", content.discovery_failures.len(), content.discovery_failures.join(", ")),
        ),
        "NamespaceDeletionDiscoveryFailure" => (false, "ResourcesDiscovered".into(), "All resources successfully discovered".into()),
        "NamespaceDeletionGroupVersionParsingFailure" => (false, "ParsedGroupVersions".into(), "All legacy kube types successfully parsed".into()),
        "NamespaceDeletionContentFailure" if !content.deletion_failures.is_empty() => failing(
            "ContentDeletionFailed",
            format!("Failed to delete all resource types, {} remaining: {}", content.deletion_failures.len(), content.deletion_failures.join(", ")),
        ),
        "NamespaceDeletionContentFailure" => {
            (false, "ContentDeleted".into(), "All content successfully deleted, may be waiting on finalization".into())
        }
        "NamespaceContentRemaining" if !content.remaining.is_empty() => {
            let each: Vec<String> = content.remaining.iter().map(|(resource, count)| format!("{resource} has {count} resource instances")).collect();
            failing("SomeResourcesRemain", format!("Some resources are remaining: {}", each.join(", ")))
        }
        "NamespaceContentRemaining" => (false, "ContentRemoved".into(), "All content successfully removed".into()),
        "NamespaceFinalizersRemaining" if !content.finalizers.is_empty() => {
            let each: Vec<String> = content.finalizers.iter().map(|(finalizer, count)| format!("{finalizer} in {count} resource instances")).collect();
            failing("SomeFinalizersRemain", format!("Some content in the namespace has finalizers remaining: {}", each.join(", ")))
        }
        _ => (false, "ContentHasNoFinalizers".into(), "All content-preserving finalizers finished".into()),
    };
    NamespaceCondition {
        type_: condition_type.to_string(),
        status: if failed { "True" } else { "False" }.to_string(),
        reason: Some(reason),
        message: Some(message),
        last_transition_time: Some(Time(now)),
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::NamespaceStatus;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    use super::*;

    fn served(group: &str, plural: &str) -> Served {
        let api_version = if group.is_empty() { "v1".to_string() } else { format!("{group}/v1") };
        Served {
            resource: kube::api::ApiResource { group: group.into(), version: "v1".into(), api_version, kind: "Thing".into(), plural: plural.into() },
            namespaced: true,
            verbs: vec!["delete".into(), "deletecollection".into(), "list".into()],
        }
    }

    fn object(finalizers: &[&str], deletion: Option<jiff::Timestamp>) -> DynamicObject {
        let mut object = DynamicObject::new("thing", &served("", "things").resource);
        object.metadata.finalizers = Some(finalizers.iter().map(|finalizer| finalizer.to_string()).collect());
        object.metadata.deletion_timestamp = deletion.map(Time);
        object
    }

    #[test]
    fn what_is_left_sets_the_wait_or_fails() {
        let now = jiff::Timestamp::now();
        let mut content = Content::default();
        let stopping = object(&[], Some(now + jiff::SignedDuration::from_secs(30)));
        tally(&mut content, &served("", "pods"), &[stopping.clone(), stopping], now);
        assert_eq!(content.estimate_seconds, 30);
        assert_eq!(content.remaining["pods."], 2);
        assert!(content.deletion_failures.is_empty());

        let mut content = Content::default();
        tally(&mut content, &served("", "configmaps"), &[object(&["example.com/hold"], Some(now))], now);
        assert_eq!(content.estimate_seconds, FINALIZER_ESTIMATE_SECONDS);
        assert_eq!(content.finalizers["example.com/hold"], 1);

        let mut content = Content::default();
        let overdue = object(&[], Some(now - jiff::SignedDuration::from_secs(5)));
        tally(&mut content, &served("", "pods"), &[overdue], now);
        assert_eq!(content.estimate_seconds, 0);
        assert_eq!(content.deletion_failures, vec!["unexpected items still remain: 1 pods.".to_string()]);
    }

    #[test]
    fn conditions_change_only_when_what_they_say_changes() {
        let now = jiff::Timestamp::now();
        let mut namespace = Namespace { metadata: ObjectMeta { name: Some("demo".into()), ..ObjectMeta::default() }, ..Namespace::default() };
        let mut content = Content::default();
        content.remaining.insert("pods.".into(), 2);
        content.finalizers.insert("example.com/hold".into(), 1);
        let first = updated_conditions(&namespace, &content, now).unwrap_or_default();
        assert_eq!(first.len(), 5);
        let remaining = first.iter().find(|condition| condition.type_ == "NamespaceContentRemaining").cloned().unwrap_or_default();
        assert_eq!(remaining.status, "True");
        assert_eq!(remaining.reason.as_deref(), Some("SomeResourcesRemain"));
        assert_eq!(remaining.message.as_deref(), Some("Some resources are remaining: pods. has 2 resource instances"));
        let held = first.iter().find(|condition| condition.type_ == "NamespaceFinalizersRemaining").cloned().unwrap_or_default();
        assert_eq!(held.message.as_deref(), Some("Some content in the namespace has finalizers remaining: example.com/hold in 1 resource instances"));
        let discovery = first.iter().find(|condition| condition.type_ == "NamespaceDeletionDiscoveryFailure").cloned().unwrap_or_default();
        assert_eq!((discovery.status.as_str(), discovery.reason.as_deref()), ("False", Some("ResourcesDiscovered")));

        namespace.status = Some(NamespaceStatus { phase: Some("Terminating".into()), conditions: Some(first) });
        let later = now + jiff::SignedDuration::from_secs(60);
        assert_eq!(updated_conditions(&namespace, &content, later), None, "the same state writes nothing");
        let emptied = updated_conditions(&namespace, &Content::default(), later).unwrap_or_default();
        let remaining = emptied.iter().find(|condition| condition.type_ == "NamespaceContentRemaining").cloned().unwrap_or_default();
        assert_eq!((remaining.status.as_str(), remaining.reason.as_deref()), ("False", Some("ContentRemoved")));
        assert_eq!(remaining.last_transition_time, Some(Time(later)));
    }
}
