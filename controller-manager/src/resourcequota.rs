//! The resource quota controller (kube-controller-manager's `resourcequota`): keeps each
//! ResourceQuota's `status.hard` equal to `spec.hard` and recomputes `status.used` from the
//! objects of its namespace, with `common::quota`'s evaluators (the ones quota admission charges
//! with): pods (compute resources and counts, scopes and scopeSelector; a finished pod counts
//! as an object only), claims, services, and the object count of any resource discovery lists
//! (`count/<plural>.<group>`, and the legacy names of configmaps, secrets,
//! replicationcontrollers, resourcequotas). Admission charges creations as they happen; this
//! controller gives back what goes, as kube's quota monitor replenishes: a deletion, a pod
//! turning terminal, a service changing type, a claim changing. A quota is recomputed when it
//! is created, when its `spec.hard` is not yet its `status.hard`, and every 5 minutes. The
//! status is written with the resourceVersion it was computed from, so a charge admission made
//! meanwhile is never overwritten: the write is refused (409) and the quota looked at again.
//! Resources counted by number alone are watched metadata-only, each from the first quota
//! that names it on.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::quota::{self, Evaluator, ObjectCountEvaluator, ResourceList};
use common::quantity::{Format, Quantity};
use futures::StreamExt;
use futures::stream::BoxStream;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod, ResourceQuota, ResourceQuotaStatus, ScopedResourceSelectorRequirement, Service};
use kube::Resource;
use kube::api::{Api, PostParams};
use kube::runtime::controller::Action;
use kube::runtime::reflector::{ObjectRef, Store};
use tokio::sync::mpsc;

use crate::context::Context;
use crate::discovery::{self, Served};
use crate::framework::{self, RESYNC, ReconcileError};
use crate::informer::{Informer, Metadata};

/// How long a discovery of the served resources is trusted before a name it lacks is looked
/// up again (kube's quota controller rediscovers every 30 s).
const DISCOVERY_FRESH: Duration = Duration::from_secs(30);
/// How long a discovery may take before the sync that asked for it goes on without it.
const DISCOVERY_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a reconcile waits for a newly watched resource to be listed.
const LIST_WAIT: Duration = Duration::from_secs(10);
/// How many quota requests from the metadata watches may wait for the controller.
const CHANGES_BACKLOG: usize = 1024;

/// A resource whose objects a quota counts: `("", "pods")`, `("apps", "deployments")`.
type GroupResource = (String, String);

/// The resource a quota resource name is counted from, as kube's evaluator registry answers
/// it: the pod, claim and service evaluators' names first, then the legacy counts, then
/// `count/<plural>[.<group>]`. `None` for a name nothing counts.
fn resource_of(name: &str) -> Option<GroupResource> {
    let names = [name.to_string()];
    let core = |plural: &str| Some((String::new(), plural.to_string()));
    if !quota::pod_matching_resources(&names).is_empty() {
        return core("pods");
    }
    if !quota::claim_matching_resources(&names).is_empty() {
        return core("persistentvolumeclaims");
    }
    if !quota::service_matching_resources(&names).is_empty() {
        return core("services");
    }
    if quota::legacy_count_name("", name).is_some() {
        return core(name);
    }
    let counted = name.strip_prefix("count/")?;
    let (plural, group) = counted.split_once('.').unwrap_or((counted, ""));
    (!plural.is_empty()).then(|| (group.to_string(), plural.to_string()))
}

/// kube's `CalculateUsageStats`: every tracked name at zero, plus the usage of each object that
/// every scope selector takes. Kinds without scopes take no object once the quota has a scope.
fn usage_stats<'a, T: 'a>(
    objects: impl IntoIterator<Item = &'a T>,
    names: &[String],
    selectors: &[ScopedResourceSelectorRequirement],
    matches_scope: impl Fn(&ScopedResourceSelectorRequirement, &T) -> bool,
    usage: impl Fn(&T) -> ResourceList,
) -> ResourceList {
    let mut used: ResourceList = names.iter().map(|name| (name.clone(), Quantity::new(0, Format::DecimalSI))).collect();
    for object in objects {
        if selectors.iter().all(|selector| matches_scope(selector, object)) {
            used = quota::add(&used, &usage(object));
        }
    }
    used
}

fn no_scope<T>(_: &ScopedResourceSelectorRequirement, _: &T) -> bool {
    false
}

/// The status to write (kube's `syncResourceQuota`), or `None` when the stored one is current:
/// `hard` is `spec.hard`; `used` is the stored usage with what was computed laid over it, kept
/// to the hard names (a name that could not be computed keeps its last value).
fn next_status(resource_quota: &ResourceQuota, computed: &ResourceList) -> Option<ResourceQuotaStatus> {
    let hard = quota::parse_optional_list(resource_quota.spec.as_ref().and_then(|spec| spec.hard.as_ref()));
    let status = resource_quota.status.as_ref();
    let stored_hard = status.and_then(|status| status.hard.as_ref());
    let stored_used = status.and_then(|status| status.used.as_ref());
    let old_used = quota::parse_optional_list(stored_used);
    let mut used = old_used.clone();
    used.extend(computed.iter().map(|(name, value)| (name.clone(), *value)));
    let used = quota::mask(&used, hard.keys().map(String::as_str));
    let dirty = !quota::equals(&hard, &quota::parse_optional_list(stored_hard)) || stored_hard.is_none() || stored_used.is_none() || !quota::equals(&used, &old_used);
    // Go's empty maps are left out (`omitempty`).
    let list = |list: &ResourceList| (!list.is_empty()).then(|| quota::to_api_list(list));
    dirty.then(|| ResourceQuotaStatus { hard: list(&hard), used: list(&used) })
}

/// kube's quota event filter: a quota is recomputed when it is created and when its
/// `spec.hard` changes, never for a status write (admission's charges above all, which a
/// recomputation from caches a moment behind could undo).
struct HardLimits {
    /// Each quota's `spec.hard` as last seen, by uid.
    seen: Mutex<HashMap<String, ResourceList>>,
}

impl HardLimits {
    /// Knowing the quotas there are already (the first sync computes them all).
    fn new(quotas: &[Arc<ResourceQuota>]) -> Self {
        let seen = quotas.iter().map(|resource_quota| (resource_quota.metadata.uid.clone().unwrap_or_default(), spec_hard(resource_quota))).collect();
        Self { seen: Mutex::new(seen) }
    }

    /// Whether this change of a quota asks for its recomputation; `None` for a deleted one.
    fn changed(&self, uid: &str, hard: Option<ResourceList>) -> bool {
        let Ok(mut seen) = self.seen.lock() else {
            return true;
        };
        match hard {
            None => {
                seen.remove(uid);
                false
            }
            Some(hard) => seen.insert(uid.to_string(), hard.clone()).is_none_or(|before| !quota::equals(&before, &hard)),
        }
    }
}

fn spec_hard(resource_quota: &ResourceQuota) -> ResourceList {
    quota::parse_optional_list(resource_quota.spec.as_ref().and_then(|spec| spec.hard.as_ref()))
}

/// The quotas of `namespace` tracking any name `matching` picks from their `status.hard`
/// (kube's `replenishQuota`).
fn quotas_tracking(quotas: &Store<ResourceQuota>, namespace: Option<&str>, matching: impl Fn(&[String]) -> Vec<String>) -> Vec<ObjectRef<ResourceQuota>> {
    quotas
        .state()
        .iter()
        .filter(|resource_quota| resource_quota.metadata.namespace.as_deref() == namespace)
        .filter(|resource_quota| !matching(&quota::hard_names(resource_quota)).is_empty())
        .map(|resource_quota| ObjectRef::from_obj(&**resource_quota))
        .collect()
}

/// What kube's quota monitor replenishes on: a deletion, or an update its filter passes. The
/// first sight of an object is its creation (admission charged it), so only remembered.
struct Replenishment<F> {
    /// The filter's view of each object seen, by uid.
    seen: Mutex<HashMap<String, F>>,
    observed: AtomicUsize,
}

/// How often (in changes observed) the objects gone without their deletion seen (missed while
/// the controller fell behind the watch) are forgotten.
const FORGET_EVERY: usize = 8192;

impl<F: Clone + PartialEq> Replenishment<F> {
    fn new() -> Self {
        Self { seen: Mutex::new(HashMap::new()), observed: AtomicUsize::new(0) }
    }

    /// Now and then, forgets the objects no longer in `store`.
    fn forget_gone<K: Resource<DynamicType = ()> + Clone>(&self, store: &Store<K>) {
        if self.observed.fetch_add(1, Ordering::Relaxed) % FORGET_EVERY != FORGET_EVERY - 1 {
            return;
        }
        let alive: HashSet<String> = store.state().iter().filter_map(|object| object.meta().uid.clone()).collect();
        if let Ok(mut seen) = self.seen.lock() {
            seen.retain(|uid, _| alive.contains(uid));
        }
    }

    /// Whether this change gives usage back: `current` is `None` for a deleted object;
    /// `gives_back(before, now)` is the update filter.
    fn observe(&self, uid: &str, current: Option<F>, gives_back: impl Fn(&F, &F) -> bool) -> bool {
        let Ok(mut seen) = self.seen.lock() else {
            return true;
        };
        match current {
            None => {
                seen.remove(uid);
                true
            }
            Some(now) => match seen.insert(uid.to_string(), now.clone()) {
                Some(before) => gives_back(&before, &now),
                None => false,
            },
        }
    }
}

/// Whether `object` is gone from its store (the informer stores a change before announcing it).
fn deleted<K: Resource<DynamicType = ()> + Clone>(store: &Store<K>, object: &K) -> bool {
    let mut reference = ObjectRef::new(object.meta().name.as_deref().unwrap_or_default());
    if let Some(namespace) = &object.meta().namespace {
        reference = reference.within(namespace);
    }
    store.get(&reference).is_none_or(|stored| stored.meta().uid != object.meta().uid)
}

/// A quota service type (`GetQuotaServiceType`): what a service's usage depends on.
fn quota_service_type(service: &Service) -> &str {
    let kind = service.spec.as_ref().and_then(|spec| spec.type_.as_deref());
    kind.filter(|kind| matches!(*kind, "NodePort" | "LoadBalancer")).unwrap_or_default()
}

/// A resource counted by number, watched metadata-only.
struct Counted {
    informer: Informer<Metadata>,
    listed: tokio::sync::OnceCell<()>,
}

pub struct Controller {
    context: Arc<Context>,
    /// The resources discovery last found, and when.
    discovered: Mutex<Option<(Instant, Arc<Vec<Served>>)>>,
    /// The metadata watches of resources counted by number, by resource.
    counted: tokio::sync::Mutex<HashMap<GroupResource, Arc<Counted>>>,
    /// Each metadata watch's task turning deletions into quota requests.
    forwarders: Mutex<tokio::task::JoinSet<()>>,
    requests: mpsc::Sender<ObjectRef<ResourceQuota>>,
}

pub async fn run(context: Arc<Context>) {
    context.resource_quotas.ready().await;
    context.storage_ready().await;
    let quotas = context.resource_quotas.store();
    let (requests, received) = mpsc::channel(CHANGES_BACKLOG);
    let controller = Arc::new(Controller {
        context: context.clone(),
        discovered: Mutex::new(None),
        counted: tokio::sync::Mutex::new(HashMap::new()),
        forwarders: Mutex::new(tokio::task::JoinSet::new()),
        requests,
    });
    // A quota created or whose limits changed; a quota gone gives back its count.
    let quota_changes = context.resource_quotas.changes();
    let own = quota_changes
        .flat_map({
            let (quotas, limits) = (quotas.clone(), HardLimits::new(&quotas.state()));
            move |changed| {
                let mut requests = Vec::new();
                let uid = changed.metadata.uid.clone().unwrap_or_default();
                if deleted(&quotas, &*changed) {
                    limits.changed(&uid, None);
                    let counting = ObjectCountEvaluator::new("", "resourcequotas");
                    requests = quotas_tracking(&quotas, changed.metadata.namespace.as_deref(), |names| counting.matching_resources(names));
                } else if limits.changed(&uid, Some(spec_hard(&changed))) {
                    requests.push(ObjectRef::from_obj(&*changed));
                }
                futures::stream::iter(requests)
            }
        })
        .boxed();
    let pods = {
        let (store, quotas, replenishment) = (context.pods.store(), quotas.clone(), Arc::new(Replenishment::new()));
        context
            .pods
            .changes()
            .flat_map(move |pod| {
                // kube's filter: the pod stopped counting for compute (finished, or its grace
                // period over).
                let current = (!deleted(&store, &*pod)).then(|| quota::pod_counts_for_compute(&pod, jiff::Timestamp::now()));
                replenishment.forget_gone(&store);
                let gives_back = replenishment.observe(pod.metadata.uid.as_deref().unwrap_or_default(), current, |before, now| *before && !*now);
                let requests = if gives_back { quotas_tracking(&quotas, pod.metadata.namespace.as_deref(), quota::pod_matching_resources) } else { Vec::new() };
                futures::stream::iter(requests)
            })
            .boxed()
    };
    let services = {
        let (store, quotas, replenishment) = (context.services.store(), quotas.clone(), Arc::new(Replenishment::new()));
        context
            .services
            .changes()
            .flat_map(move |service| {
                let current = (!deleted(&store, &*service)).then(|| quota_service_type(&service).to_string());
                replenishment.forget_gone(&store);
                let gives_back = replenishment.observe(service.metadata.uid.as_deref().unwrap_or_default(), current, |before, now| before != now);
                let requests = if gives_back { quotas_tracking(&quotas, service.metadata.namespace.as_deref(), quota::service_matching_resources) } else { Vec::new() };
                futures::stream::iter(requests)
            })
            .boxed()
    };
    let claims = {
        let (store, quotas, replenishment) = (context.persistent_volume_claims.store(), quotas.clone(), Arc::new(Replenishment::new()));
        context
            .persistent_volume_claims
            .changes()
            .flat_map(move |claim| {
                // kube's `RequiresQuotaReplenish` passes every update of a claim (it compares
                // two pointers); an unchanged resourceVersion is a relist, not an update.
                let current = (!deleted(&store, &*claim)).then(|| claim.metadata.resource_version.clone());
                replenishment.forget_gone(&store);
                let gives_back = replenishment.observe(claim.metadata.uid.as_deref().unwrap_or_default(), current, |before, now| before != now);
                let requests = if gives_back { quotas_tracking(&quotas, claim.metadata.namespace.as_deref(), quota::claim_matching_resources) } else { Vec::new() };
                futures::stream::iter(requests)
            })
            .boxed()
    };
    let counted: BoxStream<'static, ObjectRef<ResourceQuota>> = futures::stream::unfold(received, |mut received| async move { received.recv().await.map(|request| (request, received)) }).boxed();
    let triggers = vec![own, pods, services, claims, counted];
    framework::run("resourcequota", context.metrics.clone(), controller.clone(), quotas, triggers, context.settings.concurrent_syncs, reconcile).await;
    if let Ok(mut forwarders) = controller.forwarders.lock() {
        forwarders.abort_all();
    }
}

impl Controller {
    /// The served resource `(group, plural)` if it can be counted (namespaced; create, list,
    /// watch and delete, as kube's quotable resources), from a discovery at most
    /// [`DISCOVERY_FRESH`] old when it is not found. No lock is held while discovery runs, and it
    /// is given [`DISCOVERY_TIMEOUT`], so that a slow apiserver holds up only the quotas naming
    /// a resource not yet known.
    async fn served(&self, resource: &GroupResource) -> Option<Served> {
        let find = |served: &[Served]| served.iter().find(|served| served.resource.group == resource.0 && served.resource.plural == resource.1).cloned();
        let cached = self.discovered.lock().ok().and_then(|discovered| discovered.clone());
        if let Some((at, served)) = &cached {
            let found = find(served);
            if found.is_some() || at.elapsed() <= DISCOVERY_FRESH {
                return found.filter(quotable);
            }
        }
        let fresh = match tokio::time::timeout(DISCOVERY_TIMEOUT, discovery::discover(&self.context.client)).await {
            Ok(found) => {
                for failure in &found.failures {
                    tracing::debug!(failure = %failure, "discovery for quota");
                }
                Arc::new(found.served)
            }
            Err(_) => {
                tracing::info!(resource = %format!("{}.{}", resource.1, resource.0), timeout = ?DISCOVERY_TIMEOUT, "discovery for quota did not answer in time");
                // Remembered as an attempt with what was known, so that the next syncs wait for
                // DISCOVERY_FRESH rather than each waiting on the apiserver again.
                cached.map(|(_, served)| served).unwrap_or_default()
            }
        };
        let found = find(&fresh);
        if let Ok(mut discovered) = self.discovered.lock() {
            *discovered = Some((Instant::now(), fresh));
        }
        found.filter(quotable)
    }

    /// The listed objects of a resource counted by number, its watch started by the first
    /// quota that names it. `Ok(None)` when nothing of that name can be counted (kube has no
    /// evaluator for it: the name is not computed); an error when it is not listed in time.
    async fn counted_objects(&self, resource: &GroupResource) -> Result<Option<Store<Metadata>>, String> {
        if quota::IGNORED_RESOURCES.contains(&(resource.0.as_str(), resource.1.as_str())) {
            return Ok(None);
        }
        let existing = self.counted.lock().await.get(resource).cloned();
        let counted = match existing {
            Some(counted) => counted,
            None => {
                let Some(served) = self.served(resource).await else {
                    return Ok(None);
                };
                let mut all = self.counted.lock().await;
                match all.get(resource) {
                    Some(counted) => counted.clone(),
                    None => {
                        tracing::info!(resource = %served.group_resource(), "counting objects for quota");
                        let what: Arc<str> = format!("{} for quota", served.group_resource()).into();
                        let counted = Arc::new(Counted { informer: Informer::metadata(self.context.client.clone(), &served.resource, what), listed: tokio::sync::OnceCell::new() });
                        self.forward_deletions(resource.clone(), &counted.informer);
                        all.insert(resource.clone(), counted.clone());
                        counted
                    }
                }
            }
        };
        let listed = tokio::time::timeout(LIST_WAIT, counted.listed.get_or_init(|| counted.informer.ready())).await;
        match listed {
            Ok(()) => Ok(Some(counted.informer.store())),
            Err(_) => Err(format!("failed to list content: {}.{} not listed after {LIST_WAIT:?}", resource.1, resource.0)),
        }
    }

    /// Deletions of a resource counted by number ask the quotas of its namespace that count it
    /// to look again; other changes do not change a count.
    fn forward_deletions(&self, resource: GroupResource, informer: &Informer<Metadata>) {
        let (store, changes, quotas, requests) = (informer.store(), informer.changes(), self.context.resource_quotas.store(), self.requests.clone());
        let forwarder = async move {
            let counting = ObjectCountEvaluator::new(&resource.0, &resource.1);
            futures::pin_mut!(changes);
            while let Some(object) = changes.next().await {
                if !deleted(&store, &*object) {
                    continue;
                }
                for request in quotas_tracking(&quotas, object.metadata.namespace.as_deref(), |names| counting.matching_resources(names)) {
                    if requests.send(request).await.is_err() {
                        return;
                    }
                }
            }
        };
        if let Ok(mut forwarders) = self.forwarders.lock() {
            forwarders.spawn(forwarder);
        }
    }

    /// kube's `CalculateUsage`: each resource the quota's hard names count, computed over the
    /// namespace's objects; the names of a resource that failed are left out, with why.
    async fn calculate_usage(&self, resource_quota: &ResourceQuota, names: &[String]) -> (ResourceList, Vec<String>) {
        let namespace = resource_quota.metadata.namespace.as_deref();
        let selectors = quota::scope_selectors(resource_quota);
        let now = jiff::Timestamp::now();
        let resources: BTreeSet<GroupResource> = names.iter().filter_map(|name| resource_of(name)).collect();
        let (mut usage, mut errors) = (ResourceList::new(), Vec::new());
        let in_namespace = |meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta| meta.namespace.as_deref() == namespace;
        for resource in resources {
            let computed = match (resource.0.as_str(), resource.1.as_str()) {
                ("", "pods") => {
                    let pods: Vec<Arc<Pod>> = self.context.pods.store().state().into_iter().filter(|pod| in_namespace(&pod.metadata)).collect();
                    let tracked = quota::pod_matching_resources(names);
                    let stats = usage_stats(pods.iter().map(|pod| &**pod), &tracked, &selectors, quota::pod_matches_scope, |pod| quota::pod_usage_at(pod, now));
                    quota::mask(&stats, tracked.iter().map(String::as_str))
                }
                ("", "services") => {
                    let services: Vec<Arc<Service>> = self.context.services.store().state().into_iter().filter(|service| in_namespace(&service.metadata)).collect();
                    let tracked = quota::service_matching_resources(names);
                    let stats = usage_stats(services.iter().map(|service| &**service), &tracked, &selectors, no_scope, quota::service_usage);
                    quota::mask(&stats, tracked.iter().map(String::as_str))
                }
                ("", "persistentvolumeclaims") => {
                    let claims: Vec<Arc<PersistentVolumeClaim>> = self.context.persistent_volume_claims.store().state().into_iter().filter(|claim| in_namespace(&claim.metadata)).collect();
                    let tracked = quota::claim_matching_resources(names);
                    let stats = usage_stats(claims.iter().map(|claim| &**claim), &tracked, &selectors, no_scope, quota::claim_usage);
                    quota::mask(&stats, tracked.iter().map(String::as_str))
                }
                (group, plural) => {
                    let counting = ObjectCountEvaluator::new(group, plural);
                    let tracked = counting.matching_resources(names);
                    match self.counted_objects(&resource).await {
                        Ok(Some(store)) => {
                            let objects: Vec<Arc<Metadata>> = store.state().into_iter().filter(|object| in_namespace(&object.metadata)).collect();
                            let stats = usage_stats(objects.iter().map(|object| &**object), &tracked, &selectors, no_scope, |_| counting.one());
                            quota::mask(&stats, tracked.iter().map(String::as_str))
                        }
                        Ok(None) => continue,
                        Err(err) => {
                            errors.push(err);
                            continue;
                        }
                    }
                }
            };
            usage = quota::add(&usage, &computed);
        }
        (usage, errors)
    }
}

/// kube's quotable resources: namespaced, and created, listed, watched and deleted.
fn quotable(served: &Served) -> bool {
    served.namespaced && ["create", "list", "watch", "delete"].iter().all(|verb| served.allows(verb))
}

async fn reconcile(resource_quota: Arc<ResourceQuota>, controller: Arc<Controller>) -> Result<Action, ReconcileError> {
    let namespace = resource_quota.metadata.namespace.clone().unwrap_or_default();
    let name = resource_quota.metadata.name.clone().unwrap_or_default();
    if resource_quota.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let hard = quota::parse_optional_list(resource_quota.spec.as_ref().and_then(|spec| spec.hard.as_ref()));
    let names: Vec<String> = hard.keys().cloned().collect();
    let (computed, errors) = controller.calculate_usage(&resource_quota, &names).await;
    if let Some(status) = next_status(&resource_quota, &computed) {
        let mut updated = (*resource_quota).clone();
        updated.metadata.managed_fields = None;
        updated.status = Some(status);
        let api: Api<ResourceQuota> = Api::namespaced(controller.context.client.clone(), &namespace);
        match api.replace_status(&name, &PostParams::default(), &updated).await {
            Ok(_) => {
                let used = updated.status.as_ref().and_then(|status| status.used.as_ref()).map(|used| quota::pretty_print(&quota::parse_list(used))).unwrap_or_default();
                tracing::debug!(namespace = %namespace, name = %name, used = %used, "quota status written");
            }
            // Admission charged it meanwhile (or someone else wrote it): compute again from the
            // newer copy.
            Err(err) if framework::answered(&err, &[409]) => return Ok(Action::requeue(Duration::from_millis(200))),
            Err(err) if framework::answered(&err, &[404]) => return Ok(Action::await_change()),
            Err(err) => return Err(err.into()),
        }
    }
    if !errors.is_empty() {
        return Err(ReconcileError::Other(format!("resource quota {namespace}/{name}: {}", errors.join(", "))));
    }
    Ok(Action::requeue(RESYNC))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn list(entries: &[(&str, &str)]) -> ResourceList {
        entries.iter().map(|(name, value)| (name.to_string(), common::quantity::parse(value).unwrap())).collect()
    }

    fn resource_quota(spec: serde_json::Value, status: serde_json::Value) -> ResourceQuota {
        serde_json::from_value(json!({"metadata": {"name": "q", "namespace": "ns"}, "spec": spec, "status": status})).unwrap()
    }

    #[test]
    fn names_map_to_the_resource_counting_them() {
        let core = |plural: &str| Some((String::new(), plural.to_string()));
        for name in ["pods", "count/pods", "cpu", "requests.memory", "limits.cpu", "requests.nvidia.com/gpu", "hugepages-2Mi"] {
            assert_eq!(resource_of(name), core("pods"), "{name}");
        }
        for name in ["persistentvolumeclaims", "requests.storage", "gold.storageclass.storage.k8s.io/requests.storage", "count/persistentvolumeclaims"] {
            assert_eq!(resource_of(name), core("persistentvolumeclaims"), "{name}");
        }
        for name in ["services", "services.nodeports", "services.loadbalancers", "count/services"] {
            assert_eq!(resource_of(name), core("services"), "{name}");
        }
        assert_eq!(resource_of("configmaps"), core("configmaps"));
        assert_eq!(resource_of("count/secrets"), core("secrets"));
        assert_eq!(resource_of("count/deployments.apps"), Some(("apps".into(), "deployments".into())));
        assert_eq!(resource_of("count/widgets.example.com"), Some(("example.com".into(), "widgets".into())));
        assert_eq!(resource_of("nvidia.com/gpu"), None);
    }

    fn pod(name: &str, phase: &str, cpu: &str, deadline: Option<i64>) -> Pod {
        serde_json::from_value(json!({"metadata": {"name": name, "namespace": "ns"},
            "spec": {"activeDeadlineSeconds": deadline, "containers": [{"name": "c", "resources": {"requests": {"cpu": cpu}, "limits": {"cpu": cpu}}}]},
            "status": {"phase": phase}}))
        .unwrap()
    }

    #[test]
    fn usage_counts_live_pods_and_finished_ones_only_as_objects() {
        let pods = [pod("a", "Running", "100m", None), pod("b", "Succeeded", "200m", None), pod("c", "Pending", "300m", Some(30))];
        let names: Vec<String> = ["pods", "count/pods", "requests.cpu", "limits.memory"].iter().map(|name| name.to_string()).collect();
        let tracked = quota::pod_matching_resources(&names);
        let now = jiff::Timestamp::now();
        let used = usage_stats(&pods, &tracked, &[], quota::pod_matches_scope, |pod| quota::pod_usage_at(pod, now));
        let used = quota::mask(&used, tracked.iter().map(String::as_str));
        assert_eq!(quota::pretty_print(&used), "count/pods=3,limits.memory=0,pods=2,requests.cpu=400m");
        // A scope: only the pods with a deadline.
        let terminating = ScopedResourceSelectorRequirement { scope_name: "Terminating".into(), operator: "Exists".into(), values: None };
        let used = usage_stats(&pods, &tracked, std::slice::from_ref(&terminating), quota::pod_matches_scope, |pod| quota::pod_usage_at(pod, now));
        assert_eq!(quota::pretty_print(&quota::mask(&used, tracked.iter().map(String::as_str))), "count/pods=1,limits.memory=0,pods=1,requests.cpu=300m");
        // Kinds without scopes count nothing under a scoped quota.
        let objects = [(), ()];
        let counting = ObjectCountEvaluator::new("", "configmaps");
        let tracked = vec!["configmaps".to_string()];
        assert_eq!(quota::pretty_print(&usage_stats(&objects, &tracked, &[], no_scope, |_| counting.one())), "configmaps=2,count/configmaps=2");
        assert_eq!(quota::pretty_print(&usage_stats(&objects, &tracked, &[terminating], no_scope, |_| counting.one())), "configmaps=0");
    }

    #[test]
    fn status_is_hard_and_the_computed_usage_kept_to_the_hard_names() {
        let spec = json!({"hard": {"pods": "2", "configmaps": "5"}});
        // First sync: written, with what was computed; a name not computed is left out.
        let fresh = resource_quota(spec.clone(), json!(null));
        let status = next_status(&fresh, &list(&[("pods", "1"), ("count/pods", "1")])).unwrap();
        assert_eq!(serde_json::to_value(&status).unwrap(), json!({"hard": {"configmaps": "5", "pods": "2"}, "used": {"pods": "1"}}));
        // Unchanged: nothing to write.
        let written = resource_quota(spec.clone(), serde_json::to_value(&status).unwrap());
        assert_eq!(next_status(&written, &list(&[("pods", "1")])), None);
        // A name that could not be computed keeps its last value.
        let counted = resource_quota(spec.clone(), json!({"hard": {"configmaps": "5", "pods": "2"}, "used": {"pods": "1", "configmaps": "3"}}));
        assert_eq!(next_status(&counted, &list(&[("pods", "1")])), None);
        let status = next_status(&counted, &list(&[("pods", "0")])).unwrap();
        assert_eq!(serde_json::to_value(&status.used).unwrap(), json!({"configmaps": "3", "pods": "0"}));
        // A changed spec.hard is written, and a removed name goes from used.
        let changed = resource_quota(json!({"hard": {"pods": "3"}}), serde_json::to_value(counted.status.as_ref().unwrap()).unwrap());
        let status = next_status(&changed, &list(&[("pods", "1")])).unwrap();
        assert_eq!(serde_json::to_value(&status).unwrap(), json!({"hard": {"pods": "3"}, "used": {"pods": "1"}}));
        // Quantities compare by value.
        let same = resource_quota(json!({"hard": {"requests.cpu": "1"}}), json!({"hard": {"requests.cpu": "1000m"}, "used": {"requests.cpu": "500m"}}));
        assert_eq!(next_status(&same, &list(&[("requests.cpu", "0.5")])), None);
    }

    #[test]
    fn a_quota_is_recomputed_when_created_or_its_limits_change_not_for_its_status() {
        let existing = Arc::new(resource_quota(json!({"hard": {"pods": "2"}}), json!({"hard": {"pods": "2"}, "used": {"pods": "1"}})));
        let limits = HardLimits::new(&[existing]);
        let hard = |pods: &str| Some(list(&[("pods", pods)]));
        // The quotas there were at the start: their status changing (admission's charge) is not
        // a reason; "1000m" pods is the same limit as "1".
        assert!(!limits.changed("", hard("2")));
        assert!(!limits.changed("", hard("2000m")));
        assert!(limits.changed("", hard("3")), "its limits changed");
        assert!(!limits.changed("", hard("3")));
        assert!(limits.changed("new", hard("1")), "created");
        assert!(!limits.changed("new", None), "deleted: nothing to compute");
        assert!(limits.changed("new", hard("1")), "created again");
    }

    #[test]
    fn replenishment_is_a_deletion_or_an_update_the_filter_passes_never_a_creation() {
        let pods: Replenishment<bool> = Replenishment::new();
        let went_terminal = |before: &bool, now: &bool| *before && !*now;
        assert!(!pods.observe("a", Some(true), went_terminal), "created");
        assert!(!pods.observe("a", Some(true), went_terminal), "updated, still counting");
        assert!(pods.observe("a", Some(false), went_terminal), "finished");
        assert!(!pods.observe("a", Some(false), went_terminal), "finished already");
        assert!(pods.observe("a", None, went_terminal), "deleted");
        assert!(pods.observe("b", None, went_terminal), "deleted, never seen");
        assert!(!pods.observe("c", Some(false), went_terminal), "created finished");
    }

    #[test]
    fn objects_gone_without_their_deletion_seen_are_forgotten() {
        let (store, mut writer) = kube::runtime::reflector::store::<Pod>();
        let alive: Pod = serde_json::from_value(json!({"metadata": {"name": "a", "namespace": "ns", "uid": "a"}})).unwrap();
        writer.apply_watcher_event(&kube::runtime::watcher::Event::Apply(alive));
        let pods: Replenishment<bool> = Replenishment::new();
        pods.observe("a", Some(true), |_, _| false);
        pods.observe("missed", Some(true), |_, _| false);
        for _ in 0..FORGET_EVERY {
            pods.forget_gone(&store);
        }
        let mut remembered: Vec<String> = pods.seen.lock().unwrap().keys().cloned().collect();
        remembered.sort();
        assert_eq!(remembered, ["a"]);
    }

    #[test]
    fn service_types_as_quota_sees_them() {
        let service = |kind: &str| -> Service { serde_json::from_value(json!({"spec": {"type": kind}})).unwrap() };
        assert_eq!(quota_service_type(&service("ClusterIP")), "");
        assert_eq!(quota_service_type(&service("ExternalName")), "");
        assert_eq!(quota_service_type(&service("NodePort")), "NodePort");
        assert_eq!(quota_service_type(&service("LoadBalancer")), "LoadBalancer");
    }
}
