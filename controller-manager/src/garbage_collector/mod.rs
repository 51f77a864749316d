//! The garbage collector: ownerReferences cascade, as Kubernetes' garbage collector does.
//!
//! - An object all of whose owners are gone (no object of that name, or one with another uid) is
//!   deleted; one that still has a live owner only loses the references to the gone ones.
//! - An owner deleted in the foreground (deletionTimestamp and the `foregroundDeletion`
//!   finalizer) has its dependents deleted, those with dependents of their own in the
//!   foreground too, and loses the finalizer once no dependent with `blockOwnerDeletion` is left.
//! - An owner deleted with the `orphan` finalizer has its references removed from every
//!   dependent, then loses the finalizer.
//!
//! It collects every kind that can be deleted, listed and watched, custom kinds included, as
//! [`kinds`] finds them through discovery; one `framework::run` per kind. Each object is looked
//! at when it changes, when an owner of it goes or starts a foreground deletion, and when a
//! dependent of it goes. The caches decide when all is well; anything that would delete or detach
//! is first checked with live (metadata-only) reads, so an owner that a cache has not seen yet is
//! never taken for gone (Kubernetes' collector reads owners live too).
//! Owners of kinds not collected (served without watch, say) are read live, found through
//! discovery; no change of theirs arrives, so their dependents look again every half minute.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams, Patch, PatchParams, Preconditions, PropagationPolicy};
use kube::core::discovery::Scope;
use kube::runtime::controller::Action;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::Resource;
use serde_json::{Value, json};
use tokio::sync::broadcast;

mod kinds;

use crate::context::Context;
use crate::framework::{RESYNC, ReconcileError};
use kinds::Watched;

/// `metav1.FinalizerDeleteDependents`: the owner goes once its blocking dependents are gone.
const FOREGROUND: &str = "foregroundDeletion";
/// `metav1.FinalizerOrphanDependents`: the owner goes once no dependent refers to it.
const ORPHAN: &str = "orphan";
/// How many owners known to be gone (by uid) are remembered, to spare a live read per
/// dependent; uids are never reused, so the memory is never wrong, only forgotten when full.
const ABSENT_REMEMBERED: usize = 4096;
/// How soon an owner in foreground deletion looks again at dependents that block it, in case
/// the change that releases it (a reference edited away) names no owner any more.
const BLOCKED_RECHECK: Duration = Duration::from_secs(5);
/// How often a dependent with an owner of a kind not collected looks again.
const UNCACHED_OWNER_RECHECK: Duration = Duration::from_secs(30);
/// Attempts at a read-modify-write of an object's metadata before the framework's backoff.
const WRITE_ATTEMPTS: usize = 3;

/// A change of a watched object, as the collector needs it to find who should look again.
#[derive(Debug)]
struct Changed {
    /// The key of its kind (`Watched::key`).
    kind: Arc<str>,
    namespace: Option<String>,
    name: String,
    uid: String,
    owners: Vec<OwnerReference>,
    /// Gone from its store (deleted), or replaced by an object with another uid.
    gone: bool,
    /// Being deleted in the foreground: its dependents are to go first.
    cascading: bool,
}

fn has_finalizer(meta: &ObjectMeta, finalizer: &str) -> bool {
    meta.finalizers.as_ref().is_some_and(|finalizers| finalizers.iter().any(|have| have == finalizer))
}

fn refers_to(meta: &ObjectMeta, uid: &str) -> bool {
    meta.owner_references.as_ref().is_some_and(|owners| owners.iter().any(|owner| owner.uid == uid))
}

/// What an owner reference points at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Owner {
    Live,
    /// No object of that name, or one with another uid.
    Gone,
    /// Being deleted in the foreground: it waits for its dependents to go.
    Waiting,
}

/// What to do with a dependent, given its owners' states (`attemptToDeleteItem`'s cases).
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    /// Every owner is live.
    Keep,
    /// Some owner is live: drop the references to the gone and the waiting ones.
    Detach(HashSet<String>),
    /// No owner is live and one waits for its dependents: delete it in the foreground if it
    /// has dependents of its own, so that they go first.
    DeleteForWaitingOwner,
    /// No owner is live: delete it.
    Delete,
}

fn verdict(owners: &[(OwnerReference, Owner)]) -> Verdict {
    let with = |state: Owner| owners.iter().filter(move |(_, owner)| *owner == state);
    if with(Owner::Gone).next().is_none() && with(Owner::Waiting).next().is_none() {
        return Verdict::Keep;
    }
    if with(Owner::Live).next().is_some() {
        return Verdict::Detach(with(Owner::Gone).chain(with(Owner::Waiting)).map(|(reference, _)| reference.uid.clone()).collect());
    }
    if with(Owner::Waiting).next().is_some() { Verdict::DeleteForWaitingOwner } else { Verdict::Delete }
}

#[derive(Debug, thiserror::Error)]
enum CollectorError {
    #[error("{namespace}/{name}: {source}")]
    Api { namespace: String, name: String, source: kube::Error },
    #[error("{namespace}/{name}: the owner {kind} {owner} has a kind the apiserver does not serve: {source}")]
    UnknownOwnerKind { namespace: String, name: String, kind: String, owner: String, source: kube::Error },
    #[error("{namespace}/{name}: still changing after {WRITE_ATTEMPTS} attempts to update it")]
    Contended { namespace: String, name: String },
}

impl CollectorError {
    fn api(object: &ObjectMeta, source: kube::Error) -> Self {
        Self::Api { namespace: field(object.namespace.as_deref()).into(), name: field(object.name.as_deref()).into(), source }
    }
}

impl From<CollectorError> for ReconcileError {
    fn from(err: CollectorError) -> Self {
        match err {
            CollectorError::Api { source, .. } => ReconcileError::Api(source),
            other => ReconcileError::Other(other.to_string()),
        }
    }
}

/// How many changes of every kind the collector's kinds may fall behind on before they look at
/// all of their objects instead; the hub keeps this many changes alive, a bound on its memory.
const HUB_BACKLOG: usize = 8_192;

pub struct Collector {
    client: kube::Client,
    /// The kinds collected now.
    kinds: RwLock<Vec<Arc<Watched>>>,
    /// Every kind's changes, for every kind's reconciles to find what to look at.
    changes: broadcast::Sender<Arc<Changed>>,
    /// Owner kinds not collected, as discovery resolved them: (apiVersion, kind) → the
    /// resource and whether it is namespaced.
    discovered: Mutex<HashMap<(String, String), (ApiResource, bool)>>,
    /// Owners a live read found gone, by their coordinates as the dependent names them and
    /// the dependent's namespace (kube's `absentOwnerCache` keys since 1.20): a uid alone is
    /// not enough, as any object may copy another's uid into a reference that cannot resolve
    /// in its own namespace.
    absent: Mutex<HashSet<AbsentOwner>>,
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct AbsentOwner {
    api_version: String,
    kind: String,
    namespace: Option<String>,
    name: String,
    uid: String,
}

impl AbsentOwner {
    fn of(namespace: Option<&str>, reference: &OwnerReference) -> Self {
        Self {
            api_version: reference.api_version.clone(),
            kind: reference.kind.clone(),
            namespace: namespace.map(str::to_string),
            name: reference.name.clone(),
            uid: reference.uid.clone(),
        }
    }
}

pub async fn run(context: Arc<Context>) {
    let (changes, _) = broadcast::channel(HUB_BACKLOG);
    let collector = Arc::new(Collector { client: context.client.clone(), kinds: RwLock::default(), changes, discovered: Mutex::default(), absent: Mutex::default() });
    kinds::maintain(collector, context).await;
}

fn field(value: Option<&str>) -> &str {
    value.unwrap_or_default()
}

impl Collector {
    fn add(&self, watched: Arc<Watched>) {
        if let Ok(mut kinds) = self.kinds.write() {
            kinds.retain(|kind| kind.key != watched.key);
            kinds.push(watched);
        }
    }

    fn forget(&self, key: &str) {
        if let Ok(mut kinds) = self.kinds.write() {
            kinds.retain(|kind| &*kind.key != key);
        }
    }

    /// The kinds collected now.
    fn kinds(&self) -> Vec<Arc<Watched>> {
        self.kinds.read().map(|kinds| kinds.clone()).unwrap_or_default()
    }

    /// The collected kind `reference` names, if any.
    fn watched(&self, reference: &OwnerReference) -> Option<Arc<Watched>> {
        self.kinds.read().ok()?.iter().find(|watched| watched.is(reference)).cloned()
    }

    /// The objects of kind `watched` that should look again after `changed`: the object itself,
    /// its owners of this kind (one in foreground deletion may be waiting for it to go), and,
    /// when it went or is cascading, its dependents of this kind.
    fn requests<K>(&self, watched: &Watched, store: &Store<K>, changed: &Changed) -> Vec<ObjectRef<K>>
    where
        K: Resource<DynamicType = ()> + Clone,
    {
        let at = |name: &str| {
            let reference = ObjectRef::<K>::new(name);
            match &changed.namespace {
                Some(namespace) if watched.namespaced => reference.within(namespace),
                _ => reference,
            }
        };
        let mut requests = Vec::new();
        if changed.kind == watched.key && !changed.gone {
            requests.push(at(&changed.name));
        }
        requests.extend(changed.owners.iter().filter(|owner| watched.is(owner)).map(|owner| at(&owner.name)));
        if changed.gone || changed.cascading {
            // A cluster-scoped owner (a node) may own objects in any namespace.
            let dependents = store.state().into_iter().filter(|object| {
                let meta = object.meta();
                refers_to(meta, &changed.uid) && (changed.namespace.is_none() || meta.namespace == changed.namespace)
            });
            requests.extend(dependents.map(|object| ObjectRef::from_obj(&*object)));
        }
        requests
    }

    async fn sync(&self, watched: &Watched, object: &ObjectMeta) -> Result<Action, CollectorError> {
        if object.deletion_timestamp.is_some() {
            if has_finalizer(object, ORPHAN) {
                self.orphan_dependents(watched, object).await?;
                return Ok(Action::requeue(RESYNC));
            }
            if has_finalizer(object, FOREGROUND) {
                return self.delete_dependents(watched, object).await;
            }
            // Going anyway; its dependents are looked at once it has gone.
            return Ok(Action::requeue(RESYNC));
        }
        self.collect_if_orphaned(watched, object).await?;
        let references = object.owner_references.as_deref().unwrap_or_default();
        // No change of an owner of a kind not collected wakes its dependents: they look again
        // sooner.
        let uncached = references.iter().any(|reference| self.watched(reference).is_none());
        Ok(Action::requeue(if uncached { UNCACHED_OWNER_RECHECK } else { RESYNC }))
    }

    fn api(&self, resource: &ApiResource, namespace: Option<&str>) -> Api<DynamicObject> {
        match namespace {
            Some(namespace) => Api::namespaced_with(self.client.clone(), namespace, resource),
            None => Api::all_with(self.client.clone(), resource),
        }
    }

    /// Every collected object that `owner` owns, read from the API (metadata only) rather than
    /// the caches.
    async fn live_dependents(&self, owner: &ObjectMeta) -> Result<Vec<(Arc<Watched>, ObjectMeta)>, CollectorError> {
        let uid = field(owner.uid.as_deref());
        let mut found = Vec::new();
        for watched in self.kinds() {
            let namespace = owner.namespace.as_deref().filter(|_| watched.namespaced);
            if owner.namespace.is_some() && !watched.namespaced {
                // A namespaced owner cannot own cluster-scoped objects.
                continue;
            }
            let list = match self.api(&watched.resource, namespace).list_metadata(&ListParams::default()).await {
                Ok(list) => list,
                // A kind that went away since discovery last looked has no dependents left.
                Err(kube::Error::Api(status)) if status.is_not_found() => continue,
                Err(source) => return Err(CollectorError::api(owner, source)),
            };
            found.extend(list.items.into_iter().filter(|item| refers_to(&item.metadata, uid)).map(|item| (watched.clone(), item.metadata)));
        }
        Ok(found)
    }

    /// Deletes `object` if its owners are all gone, or drops the references to the gone ones
    /// if some owner is still there (`attemptToDeleteItem`).
    async fn collect_if_orphaned(&self, watched: &Watched, object: &ObjectMeta) -> Result<(), CollectorError> {
        let references = object.owner_references.as_deref().unwrap_or_default();
        // The common case, answered from the caches alone: every owner is there.
        if references.iter().all(|reference| self.owner_from_cache(object.namespace.as_deref(), reference) == Some(Owner::Live)) {
            return Ok(());
        }
        let resource = &watched.resource;
        let namespace = object.namespace.as_deref();
        let name = field(object.name.as_deref());
        let api = self.api(resource, namespace);
        // Decide on the object as it is now, as Kubernetes does: its references may have changed.
        let live = api.get_metadata_opt(name).await.map_err(|source| CollectorError::api(object, source))?;
        let Some(live) = live.filter(|live| live.metadata.uid == object.uid && live.metadata.deletion_timestamp.is_none()) else {
            return Ok(());
        };
        let mut owners = Vec::new();
        for reference in live.metadata.owner_references.clone().unwrap_or_default() {
            let state = self.owner(&live.metadata, &reference).await?;
            owners.push((reference, state));
        }
        let kind_name = resource.kind.as_str();
        let decision = verdict(&owners);
        // Whether it has dependents decides how a dependent of a waiting owner is deleted; they
        // are read live, as one created a moment ago may not be cached yet.
        let dependents = if decision == Verdict::DeleteForWaitingOwner { self.live_dependents(&live.metadata).await? } else { Vec::new() };
        match decision {
            Verdict::Keep => Ok(()),
            Verdict::Detach(uids) => {
                tracing::info!(kind = kind_name, namespace = field(namespace), name, owners = ?uids, "removing references to owners that are gone or deleting their dependents");
                self.remove_owner_references(&api, &live.metadata, &uids).await
            }
            Verdict::DeleteForWaitingOwner if !dependents.is_empty() => {
                // A dependent that is itself waiting for this object would wait forever on a
                // blocking reference: make this object's references non-blocking first, as
                // Kubernetes' cycle breaking does.
                let waiting_below =
                    dependents.iter().any(|(_, dependent)| dependent.deletion_timestamp.is_some() && has_finalizer(dependent, FOREGROUND));
                if waiting_below {
                    self.unblock_owner_references(&api, &live.metadata).await?;
                }
                self.delete(&api, kind_name, &live.metadata, PropagationPolicy::Foreground).await
            }
            Verdict::DeleteForWaitingOwner | Verdict::Delete => {
                // Honour a deletion policy the object already asks for through its finalizers.
                let policy = if has_finalizer(&live.metadata, ORPHAN) {
                    PropagationPolicy::Orphan
                } else if has_finalizer(&live.metadata, FOREGROUND) {
                    PropagationPolicy::Foreground
                } else {
                    PropagationPolicy::Background
                };
                self.delete(&api, kind_name, &live.metadata, policy).await
            }
        }
    }

    /// An owner's state from the informer caches, if they can tell: an owner found there with
    /// the same uid, or one a live read found gone. Absence from a cache proves nothing (it may
    /// not have caught up yet).
    fn owner_from_cache(&self, namespace: Option<&str>, reference: &OwnerReference) -> Option<Owner> {
        if self.absent.lock().is_ok_and(|absent| absent.contains(&AbsentOwner::of(namespace, reference))) {
            return Some(Owner::Gone);
        }
        let watched = self.watched(reference)?;
        let found = watched.objects.find(namespace.filter(|_| watched.namespaced), &reference.name)?;
        (found.uid.as_deref() == Some(reference.uid.as_str())).then(|| state_of(&found))
    }

    /// The state of an owner of `dependent`: from the caches when they have it, else from a
    /// live read.
    async fn owner(&self, dependent: &ObjectMeta, reference: &OwnerReference) -> Result<Owner, CollectorError> {
        let namespace = dependent.namespace.as_deref();
        if let Some(state) = self.owner_from_cache(namespace, reference) {
            return Ok(state);
        }
        let (resource, namespaced) = self.resolve(dependent, reference).await?;
        if namespaced && namespace.is_none() {
            // A cluster-scoped object cannot be owned by a namespaced one: the reference is
            // invalid, not dangling. Kubernetes' collector leaves such a dependent alone rather
            // than deleting it, and so does this (as if that owner were there).
            tracing::warn!(dependent = field(dependent.name.as_deref()), owner = reference.name, kind = reference.kind, "a cluster-scoped object names a namespaced owner; the reference is ignored");
            return Ok(Owner::Live);
        }
        let api = self.api(&resource, namespace.filter(|_| namespaced));
        let found = api.get_metadata_opt(&reference.name).await.map_err(|source| CollectorError::api(dependent, source))?;
        match found {
            Some(owner) if owner.metadata.uid.as_deref() == Some(reference.uid.as_str()) => Ok(state_of(&owner.metadata)),
            _ => {
                if let Ok(mut absent) = self.absent.lock() {
                    if absent.len() >= ABSENT_REMEMBERED {
                        absent.clear();
                    }
                    absent.insert(AbsentOwner::of(namespace, reference));
                }
                Ok(Owner::Gone)
            }
        }
    }

    /// How to read an owner of the kind `reference` names: a collected kind, or one discovery
    /// finds.
    async fn resolve(&self, dependent: &ObjectMeta, reference: &OwnerReference) -> Result<(ApiResource, bool), CollectorError> {
        if let Some(watched) = self.watched(reference) {
            return Ok((watched.resource.clone(), watched.namespaced));
        }
        let key = (reference.api_version.clone(), reference.kind.clone());
        if let Some(known) = self.discovered.lock().ok().and_then(|discovered| discovered.get(&key).cloned()) {
            return Ok(known);
        }
        let (group, version) = reference.api_version.split_once('/').unwrap_or(("", reference.api_version.as_str()));
        let kind = GroupVersionKind::gvk(group, version, &reference.kind);
        let (resource, capabilities) = kube::discovery::pinned_kind(&self.client, &kind).await.map_err(|source| CollectorError::UnknownOwnerKind {
            namespace: field(dependent.namespace.as_deref()).into(),
            name: field(dependent.name.as_deref()).into(),
            kind: reference.kind.clone(),
            owner: reference.name.clone(),
            source,
        })?;
        let known = (resource, capabilities.scope == Scope::Namespaced);
        if let Ok(mut discovered) = self.discovered.lock() {
            discovered.insert(key, known.clone());
        }
        Ok(known)
    }

    /// Deletes `object` with `policy`, its uid and resourceVersion as preconditions: a new
    /// object of the same name is not the one judged here, and neither is this one changed since
    /// (say, orphaned by its owner's deletion between our read and this delete).
    async fn delete(&self, api: &Api<DynamicObject>, kind: &str, object: &ObjectMeta, policy: PropagationPolicy) -> Result<(), CollectorError> {
        let (namespace, name) = (field(object.namespace.as_deref()), field(object.name.as_deref()));
        let options = DeleteParams {
            propagation_policy: Some(policy.clone()),
            preconditions: Some(Preconditions { uid: object.uid.clone(), resource_version: object.resource_version.clone() }),
            ..DeleteParams::default()
        };
        tracing::info!(kind, namespace, name, propagation = ?policy, "deleting a dependent whose owners are gone or deleting their dependents");
        match api.delete(name, &options).await {
            Ok(_) => Ok(()),
            // Gone already, or replaced by another object of that name.
            Err(kube::Error::Api(status)) if status.is_not_found() || status.is_conflict() => Ok(()),
            Err(source) => Err(CollectorError::api(object, source)),
        }
    }

    /// Reads `object` live and merge-patches its metadata with what `change` makes of it, the
    /// resourceVersion as the precondition, retrying on conflict. Nothing is written when the
    /// object is gone, is another object by now, or `change` has nothing to do.
    async fn change_metadata(&self, api: &Api<DynamicObject>, object: &ObjectMeta, change: impl Fn(&ObjectMeta) -> Option<Value>) -> Result<(), CollectorError> {
        let name = field(object.name.as_deref());
        for _ in 0..WRITE_ATTEMPTS {
            let Some(live) = api.get_metadata_opt(name).await.map_err(|source| CollectorError::api(object, source))? else { return Ok(()) };
            if live.metadata.uid != object.uid {
                return Ok(());
            }
            let Some(mut fields) = change(&live.metadata) else { return Ok(()) };
            fields["resourceVersion"] = json!(live.metadata.resource_version);
            match api.patch(name, &PatchParams::default(), &Patch::Merge(json!({"metadata": fields}))).await {
                Ok(_) => return Ok(()),
                Err(kube::Error::Api(status)) if status.is_conflict() => continue,
                Err(kube::Error::Api(status)) if status.is_not_found() => return Ok(()),
                Err(source) => return Err(CollectorError::api(object, source)),
            }
        }
        Err(CollectorError::Contended { namespace: field(object.namespace.as_deref()).into(), name: name.into() })
    }

    async fn remove_owner_references(&self, api: &Api<DynamicObject>, object: &ObjectMeta, uids: &HashSet<String>) -> Result<(), CollectorError> {
        self.change_metadata(api, object, |live| {
            let references = live.owner_references.clone().unwrap_or_default();
            let kept: Vec<&OwnerReference> = references.iter().filter(|reference| !uids.contains(&reference.uid)).collect();
            if kept.len() == references.len() {
                return None;
            }
            // As Kubernetes' patch: null, not an empty list, when none is left.
            let kept = if kept.is_empty() { Value::Null } else { json!(kept) };
            Some(json!({"ownerReferences": kept}))
        })
        .await
    }

    async fn unblock_owner_references(&self, api: &Api<DynamicObject>, object: &ObjectMeta) -> Result<(), CollectorError> {
        self.change_metadata(api, object, |live| {
            let mut references = live.owner_references.clone().unwrap_or_default();
            let mut changed = false;
            for reference in references.iter_mut().filter(|reference| reference.block_owner_deletion == Some(true)) {
                reference.block_owner_deletion = Some(false);
                changed = true;
            }
            changed.then(|| json!({"ownerReferences": references}))
        })
        .await
    }

    async fn remove_finalizer(&self, watched: &Watched, object: &ObjectMeta, finalizer: &str) -> Result<(), CollectorError> {
        let api = self.api(&watched.resource, object.namespace.as_deref());
        self.change_metadata(&api, object, |live| {
            let finalizers = live.finalizers.clone().unwrap_or_default();
            let kept: Vec<&String> = finalizers.iter().filter(|have| *have != finalizer).collect();
            if kept.len() == finalizers.len() {
                return None;
            }
            let kept = if kept.is_empty() { Value::Null } else { json!(kept) };
            Some(json!({"finalizers": kept}))
        })
        .await
    }

    /// An owner deleted with `orphan`: its dependents lose their references to it, then it
    /// loses the finalizer (`attemptToOrphan`). The dependents are listed live, not from the
    /// caches: one created just before the delete and not cached yet would otherwise keep its
    /// reference, and be collected as soon as the owner is gone.
    async fn orphan_dependents(&self, watched: &Watched, owner: &ObjectMeta) -> Result<(), CollectorError> {
        let uid: HashSet<String> = owner.uid.iter().cloned().collect();
        let dependents = self.live_dependents(owner).await?;
        for (dependent_kind, dependent) in &dependents {
            let api = self.api(&dependent_kind.resource, dependent.namespace.as_deref());
            self.remove_owner_references(&api, dependent, &uid).await?;
        }
        let (namespace, name) = (field(owner.namespace.as_deref()), field(owner.name.as_deref()));
        tracing::info!(namespace, name, dependents = dependents.len(), "dependents orphaned; releasing the owner");
        self.remove_finalizer(watched, owner, ORPHAN).await
    }

    /// An owner deleted in the foreground: its dependents go (each deletes itself when it sees
    /// its owner waiting for it), and it loses the finalizer once none that blocks it is left
    /// (`processDeletingDependentsItem`).
    async fn delete_dependents(&self, watched: &Watched, owner: &ObjectMeta) -> Result<Action, CollectorError> {
        let uid = field(owner.uid.as_deref());
        let (namespace, name) = (field(owner.namespace.as_deref()), field(owner.name.as_deref()));
        // Read live, as for orphaning: a dependent created just before the delete may not be
        // cached yet, and releasing the owner early would orphan it.
        let blocking = self
            .live_dependents(owner)
            .await?
            .iter()
            .filter(|(_, dependent)| {
                let references = dependent.owner_references.as_deref().unwrap_or_default();
                references.iter().any(|reference| reference.uid == uid && reference.block_owner_deletion == Some(true))
            })
            .count();
        if blocking > 0 {
            tracing::debug!(namespace, name, blocking, "waiting for dependents to go");
            return Ok(Action::requeue(BLOCKED_RECHECK));
        }
        tracing::info!(namespace, name, "dependents gone; releasing the owner");
        self.remove_finalizer(watched, owner, FOREGROUND).await?;
        Ok(Action::requeue(RESYNC))
    }
}

fn state_of(owner: &ObjectMeta) -> Owner {
    if owner.deletion_timestamp.is_some() && has_finalizer(owner, FOREGROUND) { Owner::Waiting } else { Owner::Live }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    use super::*;

    fn reference(uid: &str) -> OwnerReference {
        OwnerReference { api_version: "apps/v1".into(), kind: "ReplicaSet".into(), name: format!("rs-{uid}"), uid: uid.into(), ..OwnerReference::default() }
    }

    #[test]
    fn verdicts_follow_kubernetes_attempt_to_delete() {
        let keep = [(reference("a"), Owner::Live), (reference("b"), Owner::Live)];
        assert_eq!(verdict(&keep), Verdict::Keep);
        let partly = [(reference("a"), Owner::Live), (reference("b"), Owner::Gone), (reference("c"), Owner::Waiting)];
        assert_eq!(verdict(&partly), Verdict::Detach(["b".to_string(), "c".to_string()].into_iter().collect()));
        assert_eq!(verdict(&[(reference("a"), Owner::Gone), (reference("b"), Owner::Gone)]), Verdict::Delete);
        assert_eq!(verdict(&[(reference("a"), Owner::Gone), (reference("b"), Owner::Waiting)]), Verdict::DeleteForWaitingOwner);
    }

    #[test]
    fn only_a_foreground_deletion_makes_an_owner_wait() {
        let mut owner = ObjectMeta { deletion_timestamp: Some(Time(jiff::Timestamp::now())), ..ObjectMeta::default() };
        assert_eq!(state_of(&owner), Owner::Live);
        owner.finalizers = Some(vec![ORPHAN.into()]);
        assert_eq!(state_of(&owner), Owner::Live);
        owner.finalizers = Some(vec![FOREGROUND.into()]);
        assert_eq!(state_of(&owner), Owner::Waiting);
    }
}
