//! The kinds the garbage collector collects: every resource type discovery finds that can be
//! deleted, listed and watched (kube's `GetDeletableResources`, events aside as kube ignores
//! them), looked at again every [`DISCOVERY_PERIOD`] so that a kind a CRD adds later is collected
//! and one that goes away stops being watched.
//!
//! A kind one of the shared informers holds (pods, replicasets, ...) is read from it: watching it
//! again, even metadata-only, would cost the apiserver a second watch and this process a second
//! copy of every object, for nothing the shared store cannot tell. Every other kind gets a
//! metadata-only informer of its own ([`Informer::metadata`]), as client-go's metadata informers
//! serve kube's collector: a Secret's data or a custom object's spec is never held.
//!
//! Each kind runs one task: it forwards its informer's changes to the collector's hub (every
//! kind's reconciles wake on every kind's changes: an owner going wakes its dependents), and runs
//! `framework::run` over its store. Stopping a kind aborts the task, which drops its informer and
//! so its watch.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use futures::stream::BoxStream;
use futures::StreamExt;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::Resource;
use kube::api::ApiResource;
use kube::runtime::reflector::{ObjectRef, Store};
use serde::de::DeserializeOwned;
use tokio::sync::broadcast;
use tokio::task::{AbortHandle, JoinSet};

use super::{Changed, Collector, FOREGROUND, has_finalizer};
use crate::context::Context;
use crate::discovery::{self, Served};
use crate::framework::{self, ReconcileError};
use crate::informer::Informer;

/// How often discovery is read again: kube-controller-manager's garbage collector resyncs its
/// monitors from discovery every 30 s.
pub(super) const DISCOVERY_PERIOD: Duration = Duration::from_secs(30);

/// The resources kube's collector leaves alone (`DefaultIgnoredResources`): events are many,
/// short-lived, and never owners.
const IGNORED: [(&str, &str); 2] = [("", "events"), ("events.k8s.io", "events")];

/// A kind's store, seen as metadata.
pub(super) trait Objects: Send + Sync {
    fn find(&self, namespace: Option<&str>, name: &str) -> Option<ObjectMeta>;
}

impl<K> Objects for Store<K>
where
    K: Resource<DynamicType = ()> + Clone + Send + Sync + 'static,
{
    fn find(&self, namespace: Option<&str>, name: &str) -> Option<ObjectMeta> {
        let mut reference = ObjectRef::<K>::new(name);
        if let Some(namespace) = namespace {
            reference = reference.within(namespace);
        }
        self.get(&reference).map(|object| object.meta().clone())
    }
}

/// One kind the collector collects.
pub(super) struct Watched {
    /// `plural.group`, as kube names a resource (`pods.`, `leases.coordination.k8s.io`).
    pub key: Arc<str>,
    pub resource: ApiResource,
    pub namespaced: bool,
    pub objects: Box<dyn Objects>,
}

impl Watched {
    fn new<K>(resource: ApiResource, namespaced: bool, store: Store<K>) -> Self
    where
        K: Resource<DynamicType = ()> + Clone + Send + Sync + 'static,
    {
        Self { key: key_of(&resource.group, &resource.plural).into(), resource, namespaced, objects: Box::new(store) }
    }

    /// Whether `owner` names an object of this kind (any version of its group).
    pub fn is(&self, owner: &OwnerReference) -> bool {
        owner.kind == self.resource.kind && group_of(&owner.api_version) == self.resource.group
    }

    /// The name its `framework::run` reports under.
    fn controller(&self) -> String {
        format!("garbagecollector-{}", self.key.trim_end_matches('.'))
    }
}

fn key_of(group: &str, plural: &str) -> String {
    format!("{plural}.{group}")
}

fn group_of(api_version: &str) -> &str {
    api_version.split_once('/').map_or("", |(group, _)| group)
}

/// Whether the collector collects `served`.
fn collectable(served: &Served) -> bool {
    ["delete", "list", "watch"].iter().all(|verb| served.allows(verb)) && !IGNORED.contains(&(served.resource.group.as_str(), served.resource.plural.as_str()))
}

/// The kinds running, and their tasks.
struct Running {
    tasks: JoinSet<()>,
    /// A kind watched through an informer of the collector's own: its task, and the version
    /// watched (a definition may change its preferred version).
    own: HashMap<Arc<str>, (AbortHandle, String)>,
    /// The kinds of the shared informers, never stopped.
    shared: HashSet<Arc<str>>,
}

/// Runs the collector until dropped: the shared kinds at once, the others as discovery finds
/// them, refreshed every [`DISCOVERY_PERIOD`].
pub(super) async fn maintain(collector: Arc<Collector>, context: Arc<Context>) {
    let mut running = Running { tasks: JoinSet::new(), own: HashMap::new(), shared: HashSet::new() };
    let tasks = &mut running.tasks;
    let shared = [
        start_shared(&collector, &context, tasks, context.pods.clone(), true),
        start_shared(&collector, &context, tasks, context.replicasets.clone(), true),
        start_shared(&collector, &context, tasks, context.replication_controllers.clone(), true),
        start_shared(&collector, &context, tasks, context.deployments.clone(), true),
        start_shared(&collector, &context, tasks, context.services.clone(), true),
        start_shared(&collector, &context, tasks, context.endpoints.clone(), true),
        start_shared(&collector, &context, tasks, context.service_accounts.clone(), true),
        // Cluster-scoped owners: nodes own their mirror pods, and a node or a namespace deleted
        // with `orphan` or `foregroundDeletion` waits for the collector like any owner.
        start_shared(&collector, &context, tasks, context.nodes.clone(), false),
        start_shared(&collector, &context, tasks, context.namespaces.clone(), false),
    ];
    running.shared.extend(shared);
    loop {
        // A kind's task ends only when aborted, or if its framework stops: reap what ended, and
        // forget a kind of the collector's own whose task ended by itself, so that this refresh
        // starts it again.
        while running.tasks.try_join_next().is_some() {}
        running.own.retain(|key, (task, _)| {
            let alive = !task.is_finished();
            if !alive {
                collector.forget(key);
                tracing::warn!(resource = %key.trim_end_matches('.'), "garbage collector: a resource's task ended; starting it again");
            }
            alive
        });
        refresh(&collector, &context, &mut running).await;
        tokio::time::sleep(DISCOVERY_PERIOD).await;
    }
}

/// Starts and stops kinds as discovery now says.
async fn refresh(collector: &Arc<Collector>, context: &Arc<Context>, running: &mut Running) {
    let discovered = discovery::discover(&context.client).await;
    if !discovered.failures.is_empty() {
        tracing::warn!(failures = ?discovered.failures, "garbage collector: discovery failed for some groups; their kinds are kept as they were");
    }
    let wanted: HashMap<Arc<str>, &Served> =
        discovered.served.iter().filter(|served| collectable(served)).map(|served| (Arc::from(key_of(&served.resource.group, &served.resource.plural)), served)).collect();
    let stale: Vec<Arc<str>> = running
        .own
        .iter()
        .filter(|(key, (_, version))| match wanted.get(*key) {
            Some(served) => served.resource.version != *version,
            None => discovered.knows(key.split_once('.').map_or("", |(_, group)| group)),
        })
        .map(|(key, _)| key.clone())
        .collect();
    for key in stale {
        if let Some((task, _)) = running.own.remove(&key) {
            task.abort();
        }
        collector.forget(&key);
        tracing::info!(resource = %key.trim_end_matches('.'), "garbage collector: no longer collecting a resource discovery no longer lists (or lists at another version)");
    }
    for (key, served) in wanted {
        if running.shared.contains(&key) || running.own.contains_key(&key) {
            continue;
        }
        let informer = Informer::metadata(context.client.clone(), &served.resource, key.clone());
        let task = start_kind(collector, context, &mut running.tasks, served.resource.clone(), served.namespaced, informer);
        tracing::info!(resource = %key.trim_end_matches('.'), version = %served.resource.version, "garbage collector: collecting a resource found through discovery");
        running.own.insert(key, (task, served.resource.version.clone()));
    }
}

/// Starts collecting a kind of the shared informers; returns its key.
fn start_shared<K>(collector: &Arc<Collector>, context: &Arc<Context>, tasks: &mut JoinSet<()>, informer: Informer<K>, namespaced: bool) -> Arc<str>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + std::fmt::Debug + Send + Sync + 'static,
{
    let resource = ApiResource::erase::<K>(&());
    let key: Arc<str> = key_of(&resource.group, &resource.plural).into();
    start_kind(collector, context, tasks, resource, namespaced, informer);
    key
}

/// Registers the kind with the collector and spawns its task.
fn start_kind<K>(collector: &Arc<Collector>, context: &Arc<Context>, tasks: &mut JoinSet<()>, resource: ApiResource, namespaced: bool, informer: Informer<K>) -> AbortHandle
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + std::fmt::Debug + Send + Sync + 'static,
{
    let watched = Arc::new(Watched::new(resource, namespaced, informer.store()));
    collector.add(watched.clone());
    tasks.spawn(run_kind(collector.clone(), context.clone(), watched, informer))
}

/// Forwards the kind's changes to the hub, and reconciles its objects on every kind's changes.
async fn run_kind<K>(collector: Arc<Collector>, context: Arc<Context>, watched: Arc<Watched>, informer: Informer<K>)
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + std::fmt::Debug + Send + Sync + 'static,
{
    // Both subscriptions come first: nothing that changes while the informer lists is missed.
    let hub = collector.changes.subscribe();
    let own_changes = informer.changes();
    let store = informer.store();
    let forward = {
        let (store, key, sender) = (store.clone(), watched.key.clone(), collector.changes.clone());
        own_changes.for_each(move |object| {
            // Nobody listening is fine: each kind's framework looks at everything when it starts.
            drop(sender.send(Arc::new(changed(&key, &*object, &store))));
            futures::future::ready(())
        })
    };
    let reconcile = async {
        informer.ready().await;
        let requests = hub_requests(hub, collector.clone(), watched.clone(), store.clone());
        let concurrency = context.settings.concurrent_syncs;
        let controller = watched.controller();
        framework::run(controller, context.metrics.clone(), collector.clone(), store, vec![requests], concurrency, move |object: Arc<K>, collector: Arc<Collector>| {
            let watched = watched.clone();
            async move { collector.sync(&watched, object.meta()).await.map_err(ReconcileError::from) }
        })
        .await;
    };
    futures::join!(forward, reconcile);
}

/// The objects of `watched` to look at after each change the hub passes on. A kind that falls
/// too far behind looks at all of its objects instead of the changes it missed.
fn hub_requests<K>(hub: broadcast::Receiver<Arc<Changed>>, collector: Arc<Collector>, watched: Arc<Watched>, store: Store<K>) -> BoxStream<'static, ObjectRef<K>>
where
    K: Resource<DynamicType = ()> + Clone + Send + Sync + 'static,
{
    futures::stream::unfold(hub, move |mut hub| {
        let (collector, watched, store) = (collector.clone(), watched.clone(), store.clone());
        async move {
            match hub.recv().await {
                Ok(changed) => Some((collector.requests(&watched, &store, &changed), hub)),
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::warn!(resource = %watched.key, missed, "garbage collector fell behind; looking at every object of the kind");
                    Some((store.state().iter().map(|object| ObjectRef::from_obj(&**object)).collect(), hub))
                }
                Err(broadcast::error::RecvError::Closed) => None,
            }
        }
    })
    .flat_map(futures::stream::iter)
    .boxed()
}

fn changed<K: Resource<DynamicType = ()> + Clone>(key: &Arc<str>, object: &K, store: &Store<K>) -> Changed {
    let meta = object.meta();
    let uid = meta.uid.clone().unwrap_or_default();
    // The reflector updates the store before it passes the change on, so the store already
    // says whether this was a deletion.
    let gone = store.get(&ObjectRef::from_obj(object)).is_none_or(|now| now.meta().uid.as_deref() != Some(uid.as_str()));
    Changed {
        kind: key.clone(),
        namespace: meta.namespace.clone(),
        name: meta.name.clone().unwrap_or_default(),
        uid,
        owners: meta.owner_references.clone().unwrap_or_default(),
        gone,
        cascading: meta.deletion_timestamp.is_some() && has_finalizer(meta, FOREGROUND),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn served(group: &str, plural: &str, verbs: &[&str]) -> Served {
        let api_version = if group.is_empty() { "v1".to_string() } else { format!("{group}/v1") };
        Served {
            resource: ApiResource { group: group.into(), version: "v1".into(), api_version, kind: "Thing".into(), plural: plural.into() },
            namespaced: true,
            verbs: verbs.iter().map(|verb| verb.to_string()).collect(),
        }
    }

    #[test]
    fn every_deletable_listable_watchable_kind_but_events_is_collected() {
        let all = ["create", "delete", "get", "list", "watch"];
        assert!(collectable(&served("", "configmaps", &all)));
        assert!(collectable(&served("example.com", "widgets", &all)));
        assert!(!collectable(&served("", "events", &all)));
        assert!(!collectable(&served("events.k8s.io", "events", &all)));
        assert!(!collectable(&served("authorization.k8s.io", "subjectaccessreviews", &["create"])));
        assert!(!collectable(&served("metrics.k8s.io", "pods", &["get", "list"])));
    }

    #[test]
    fn owners_are_matched_by_group_and_kind() {
        let store: Store<k8s_openapi::api::apps::v1::ReplicaSet> = kube::runtime::reflector::store().0;
        let watched = Watched::new(ApiResource::erase::<k8s_openapi::api::apps::v1::ReplicaSet>(&()), true, store);
        let reference = OwnerReference { api_version: "apps/v1".into(), kind: "ReplicaSet".into(), name: "rs".into(), uid: "a".into(), ..OwnerReference::default() };
        assert!(watched.is(&reference));
        assert!(watched.is(&OwnerReference { api_version: "apps/v1beta2".into(), ..reference.clone() }));
        assert!(!watched.is(&OwnerReference { api_version: "extensions/v1beta1".into(), ..reference }));
        assert_eq!(group_of("v1"), "");
        assert_eq!((&*watched.key, watched.controller().as_str()), ("replicasets.apps", "garbagecollector-replicasets.apps"));
    }
}
