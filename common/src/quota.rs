//! ResourceQuota's arithmetic and evaluators, as kube's `k8s.io/apiserver/pkg/quota/v1` and
//! `pkg/quota/v1/evaluator/core` compute them, as pure functions over k8s-openapi types: what
//! an object uses (a pod's requests and limits, a claim's storage, a service's node ports, the
//! object count of any resource), which quota resource names and scopes apply to it, and
//! resource lists added, subtracted and compared. The apiserver's quota admission and the
//! controller-manager's resourcequota controller both count with these, so that they agree.

use std::collections::{BTreeMap, BTreeSet};

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{
    Container, PersistentVolumeClaim, Pod, ResourceQuota, ScopedResourceSelectorRequirement, Service,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as ApiQuantity;
use serde_json::Value;

use crate::quantity::{self, Format, Quantity};

/// Resource names and their amounts (`corev1.ResourceList`), in name order.
pub type ResourceList = BTreeMap<String, Quantity>;

#[derive(Debug, thiserror::Error)]
pub enum QuotaError {
    /// The object is not the kind the evaluator counts (or does not decode as it).
    #[error("expect {kind}: {cause}")]
    Decode { kind: &'static str, cause: String },
}

// Quota resource names (`corev1.Resource*`).
pub const PODS: &str = "pods";
pub const CPU: &str = "cpu";
pub const MEMORY: &str = "memory";
pub const EPHEMERAL_STORAGE: &str = "ephemeral-storage";
pub const STORAGE: &str = "storage";
pub const REQUESTS_CPU: &str = "requests.cpu";
pub const REQUESTS_MEMORY: &str = "requests.memory";
pub const REQUESTS_EPHEMERAL_STORAGE: &str = "requests.ephemeral-storage";
pub const REQUESTS_STORAGE: &str = "requests.storage";
pub const LIMITS_CPU: &str = "limits.cpu";
pub const LIMITS_MEMORY: &str = "limits.memory";
pub const LIMITS_EPHEMERAL_STORAGE: &str = "limits.ephemeral-storage";
pub const SERVICES: &str = "services";
pub const SERVICES_NODE_PORTS: &str = "services.nodeports";
pub const SERVICES_LOAD_BALANCERS: &str = "services.loadbalancers";
pub const PERSISTENT_VOLUME_CLAIMS: &str = "persistentvolumeclaims";
pub const RESOURCE_QUOTAS: &str = "resourcequotas";
pub const REPLICATION_CONTROLLERS: &str = "replicationcontrollers";
pub const SECRETS: &str = "secrets";
pub const CONFIG_MAPS: &str = "configmaps";

const HUGE_PAGES_PREFIX: &str = "hugepages-";
const REQUESTS_PREFIX: &str = "requests.";
const REQUESTS_HUGE_PAGES_PREFIX: &str = "requests.hugepages-";
/// `<class>.storageclass.storage.k8s.io/<resource>` names a claim resource of one class.
pub const STORAGE_CLASS_SUFFIX: &str = ".storageclass.storage.k8s.io/";

// Quota scopes (`corev1.ResourceQuotaScope*`).
pub const SCOPE_TERMINATING: &str = "Terminating";
pub const SCOPE_NOT_TERMINATING: &str = "NotTerminating";
pub const SCOPE_BEST_EFFORT: &str = "BestEffort";
pub const SCOPE_NOT_BEST_EFFORT: &str = "NotBestEffort";
pub const SCOPE_PRIORITY_CLASS: &str = "PriorityClass";
pub const SCOPE_CROSS_NAMESPACE_POD_AFFINITY: &str = "CrossNamespacePodAffinity";

/// Resources quota admission never counts (kube's `ignoredResources`): `(group, plural)`.
pub const IGNORED_RESOURCES: &[(&str, &str)] = &[("", "events")];

// ----- names -----

/// The object-count name of a resource (`generic.ObjectCountQuotaResourceNameFor`):
/// `count/<plural>` for the core group, `count/<plural>.<group>` for the others.
pub fn object_count_name(group: &str, plural: &str) -> String {
    if group.is_empty() { format!("count/{plural}") } else { format!("count/{plural}.{group}") }
}

/// The name quota counted a core resource under before `count/*` existed (kube's
/// `legacyObjectCountAliases` and the evaluators of pods, services and claims).
pub fn legacy_count_name(group: &str, plural: &str) -> Option<&'static str> {
    if !group.is_empty() {
        return None;
    }
    [PODS, SERVICES, PERSISTENT_VOLUME_CLAIMS, RESOURCE_QUOTAS, REPLICATION_CONTROLLERS, SECRETS, CONFIG_MAPS]
        .into_iter()
        .find(|name| *name == plural)
}

/// `<class>.storageclass.storage.k8s.io/<resource>` (`V1ResourceByStorageClass`).
pub fn resource_by_storage_class(class: &str, resource: &str) -> String {
    format!("{class}{STORAGE_CLASS_SUFFIX}{resource}")
}

const STANDARD_RESOURCES: &[&str] = &[
    CPU,
    MEMORY,
    EPHEMERAL_STORAGE,
    REQUESTS_CPU,
    REQUESTS_MEMORY,
    REQUESTS_EPHEMERAL_STORAGE,
    LIMITS_CPU,
    LIMITS_MEMORY,
    LIMITS_EPHEMERAL_STORAGE,
    PODS,
    RESOURCE_QUOTAS,
    SERVICES,
    REPLICATION_CONTROLLERS,
    SECRETS,
    CONFIG_MAPS,
    PERSISTENT_VOLUME_CLAIMS,
    STORAGE,
    REQUESTS_STORAGE,
    SERVICES_NODE_PORTS,
    SERVICES_LOAD_BALANCERS,
];

const STANDARD_QUOTA_RESOURCES: &[&str] = &[
    CPU,
    MEMORY,
    EPHEMERAL_STORAGE,
    REQUESTS_CPU,
    REQUESTS_MEMORY,
    REQUESTS_STORAGE,
    REQUESTS_EPHEMERAL_STORAGE,
    LIMITS_CPU,
    LIMITS_MEMORY,
    LIMITS_EPHEMERAL_STORAGE,
    PODS,
    RESOURCE_QUOTAS,
    SERVICES,
    REPLICATION_CONTROLLERS,
    SECRETS,
    PERSISTENT_VOLUME_CLAIMS,
    CONFIG_MAPS,
    SERVICES_NODE_PORTS,
    SERVICES_LOAD_BALANCERS,
];

/// Names whose amounts must be whole numbers (`helper.IsIntegerResourceName`, less the
/// extended resources the caller checks with [`is_extended_resource_name`]).
const INTEGER_RESOURCES: &[&str] = &[
    PODS,
    RESOURCE_QUOTAS,
    SERVICES,
    REPLICATION_CONTROLLERS,
    SECRETS,
    CONFIG_MAPS,
    PERSISTENT_VOLUME_CLAIMS,
    SERVICES_NODE_PORTS,
    SERVICES_LOAD_BALANCERS,
];

/// `helper.IsStandardResourceName`: the built-in resource names, and huge pages.
pub fn is_standard_resource_name(name: &str) -> bool {
    STANDARD_RESOURCES.contains(&name) || name.starts_with(HUGE_PAGES_PREFIX)
}

/// `helper.IsStandardQuotaResourceName`: what an unqualified `spec.hard` key may be.
pub fn is_standard_quota_resource_name(name: &str) -> bool {
    STANDARD_QUOTA_RESOURCES.contains(&name)
        || name.starts_with(HUGE_PAGES_PREFIX)
        || name.starts_with(REQUESTS_HUGE_PAGES_PREFIX)
}

/// `helper.IsNativeResource`: unqualified, or naming `kubernetes.io/`.
pub fn is_native_resource(name: &str) -> bool {
    !name.contains('/') || name.contains("kubernetes.io/")
}

/// `helper.IsExtendedResourceName`: not native, not `requests.`-prefixed, and still a
/// qualified name with `requests.` in front (as quota names it).
pub fn is_extended_resource_name(name: &str) -> bool {
    if is_native_resource(name) || name.starts_with(REQUESTS_PREFIX) {
        return false;
    }
    crate::names::qualified_name(&format!("{REQUESTS_PREFIX}{name}")).is_empty()
}

/// `helper.IsIntegerResourceName`.
pub fn is_integer_resource_name(name: &str) -> bool {
    INTEGER_RESOURCES.contains(&name) || is_extended_resource_name(name)
}

/// `helper.IsStandardResourceQuotaScope` (VolumeAttributesClass is behind a gate that is off).
pub fn is_standard_scope(scope: &str) -> bool {
    [
        SCOPE_TERMINATING,
        SCOPE_NOT_TERMINATING,
        SCOPE_BEST_EFFORT,
        SCOPE_NOT_BEST_EFFORT,
        SCOPE_PRIORITY_CLASS,
        SCOPE_CROSS_NAMESPACE_POD_AFFINITY,
    ]
    .contains(&scope)
}

/// `helper.IsResourceQuotaScopeValidForResource`: the pod scopes apply to `pods` and the cpu
/// and memory names; `BestEffort` to `pods` only.
pub fn is_scope_valid_for_resource(scope: &str, resource: &str) -> bool {
    let pod_count = resource == PODS;
    let pod_compute = [CPU, MEMORY, LIMITS_CPU, LIMITS_MEMORY, REQUESTS_CPU, REQUESTS_MEMORY].contains(&resource);
    match scope {
        SCOPE_TERMINATING | SCOPE_NOT_TERMINATING | SCOPE_NOT_BEST_EFFORT | SCOPE_PRIORITY_CLASS
        | SCOPE_CROSS_NAMESPACE_POD_AFFINITY => pod_count || pod_compute,
        SCOPE_BEST_EFFORT => pod_count,
        _ => true,
    }
}

// ----- resource lists -----

/// A k8s-openapi resource list as quantities; entries that do not parse are left out (the
/// objects were validated when stored).
pub fn parse_list(list: &BTreeMap<String, ApiQuantity>) -> ResourceList {
    list.iter().filter_map(|(name, value)| Some((name.clone(), quantity::parse(&value.0).ok()?))).collect()
}

/// The same of an optional list.
pub fn parse_optional_list(list: Option<&BTreeMap<String, ApiQuantity>>) -> ResourceList {
    list.map(parse_list).unwrap_or_default()
}

/// A resource list as k8s-openapi writes it, each amount in canonical form.
pub fn to_api_list(list: &ResourceList) -> BTreeMap<String, ApiQuantity> {
    list.iter().map(|(name, value)| (name.clone(), ApiQuantity(value.to_string()))).collect()
}

/// The list as JSON (`{"pods": "2"}`), as stored.
pub fn to_json(list: &ResourceList) -> Value {
    Value::Object(list.iter().map(|(name, value)| (name.clone(), Value::String(value.to_string()))).collect())
}

/// A JSON resource list (`status.used`) as quantities; entries that do not parse are left out.
pub fn from_json(value: &Value) -> ResourceList {
    value
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(name, value)| Some((name.clone(), quantity::parse(value.as_str()?).ok()?)))
        .collect()
}

/// `quota.Add`: every name of either list, summed where both have it.
pub fn add(a: &ResourceList, b: &ResourceList) -> ResourceList {
    let mut result = a.clone();
    for (name, value) in b {
        let sum = match result.get(name) {
            Some(current) => current.add(value),
            None => *value,
        };
        result.insert(name.clone(), sum);
    }
    result
}

/// `quota.Subtract`: `a - b` for every name of either list (a name only in `b` goes negative).
pub fn subtract(a: &ResourceList, b: &ResourceList) -> ResourceList {
    let mut result = a.clone();
    for (name, value) in b {
        let difference = match result.get(name) {
            Some(current) => current.sub(value),
            None => value.negated(),
        };
        result.insert(name.clone(), difference);
    }
    result
}

/// `quota.SubtractWithNonNegativeResult`: `a - b` over `a`'s names, floored at zero.
pub fn subtract_non_negative(a: &ResourceList, b: &ResourceList) -> ResourceList {
    let zero = Quantity::new(0, Format::DecimalSI);
    let mut result = ResourceList::new();
    for (name, value) in a {
        let difference = match b.get(name) {
            Some(other) => value.sub(other),
            None => *value,
        };
        result.insert(name.clone(), if difference.is_positive() { difference } else { zero });
    }
    for name in b.keys() {
        result.entry(name.clone()).or_insert(zero);
    }
    result
}

/// `quota.Mask`: the entries of `list` whose names are in `names`.
pub fn mask<'a>(list: &ResourceList, names: impl IntoIterator<Item = &'a str>) -> ResourceList {
    names.into_iter().filter_map(|name| Some((name.to_owned(), *list.get(name)?))).collect()
}

/// `quota.LessThanOrEqual`: whether every amount of `a` is at most `b`'s for the names `b`
/// has, and the names where it is not (sorted).
pub fn less_than_or_equal(a: &ResourceList, b: &ResourceList) -> (bool, Vec<String>) {
    let exceeded: Vec<String> = a
        .iter()
        .filter(|(name, value)| b.get(*name).is_some_and(|limit| value.compare(limit).is_gt()))
        .map(|(name, _)| name.clone())
        .collect();
    (exceeded.is_empty(), exceeded)
}

/// `quota.Equals`: the same names with equal amounts.
pub fn equals(a: &ResourceList, b: &ResourceList) -> bool {
    a.len() == b.len() && a.iter().all(|(name, value)| b.get(name).is_some_and(|other| other == value))
}

/// `quota.RemoveZeros`.
pub fn remove_zeros(list: &ResourceList) -> ResourceList {
    list.iter().filter(|(_, value)| !value.is_zero()).map(|(name, value)| (name.clone(), *value)).collect()
}

/// `quota.IsNegative`: the names with negative amounts.
pub fn negative_names(list: &ResourceList) -> Vec<String> {
    list.iter().filter(|(_, value)| value.is_negative()).map(|(name, _)| name.clone()).collect()
}

/// The quota admission's `prettyPrint`: `name=amount` in name order, joined by commas.
pub fn pretty_print(list: &ResourceList) -> String {
    list.iter().map(|(name, value)| format!("{name}={value}")).collect::<Vec<_>>().join(",")
}

/// `prettyPrintResourceNames`: sorted and joined by commas.
pub fn pretty_print_names<'a>(names: impl IntoIterator<Item = &'a str>) -> String {
    names.into_iter().collect::<BTreeSet<_>>().into_iter().collect::<Vec<_>>().join(",")
}

/// The larger of each amount of the two (`maxResourceList`): `list` keeps its own unless `other`
/// is larger or new.
fn max_into(list: &mut ResourceList, other: &ResourceList) {
    for (name, value) in other {
        match list.get(name) {
            Some(current) if current.compare(value).is_ge() => {}
            _ => {
                list.insert(name.clone(), *value);
            }
        }
    }
}

// ----- scopes -----

/// A quota's scopes as selector requirements (`getScopeSelectorsFromQuota`): each of
/// `spec.scopes` as `Exists`, then `spec.scopeSelector`'s expressions.
pub fn scope_selectors(quota: &ResourceQuota) -> Vec<ScopedResourceSelectorRequirement> {
    let spec = quota.spec.as_ref();
    let scopes = spec.and_then(|spec| spec.scopes.as_ref()).into_iter().flatten().map(|scope| {
        ScopedResourceSelectorRequirement { scope_name: scope.clone(), operator: "Exists".to_owned(), values: None }
    });
    let selected = spec
        .and_then(|spec| spec.scope_selector.as_ref())
        .and_then(|selector| selector.match_expressions.as_ref())
        .into_iter()
        .flatten()
        .cloned();
    scopes.chain(selected).collect()
}

/// The names of a quota's `status.hard`.
pub fn hard_names(quota: &ResourceQuota) -> Vec<String> {
    quota.status.as_ref().and_then(|status| status.hard.as_ref()).into_iter().flatten().map(|(name, _)| name.clone()).collect()
}

/// A selector requirement on the one key a scope has (`ScopedResourceSelectorRequirementsAsSelector`
/// over `{scopeName: value}`): `value` is the object's value for the scope, if it has one.
fn requirement_matches(selector: &ScopedResourceSelectorRequirement, value: Option<&str>) -> bool {
    let values = selector.values.as_deref().unwrap_or_default();
    match selector.operator.as_str() {
        "In" => value.is_some_and(|value| values.iter().any(|candidate| candidate == value)),
        "NotIn" => value.is_none_or(|value| !values.iter().any(|candidate| candidate == value)),
        "Exists" => value.is_some(),
        "DoesNotExist" => value.is_none(),
        _ => false,
    }
}

// ----- pods -----

/// The names the pod evaluator tracks (`podResources`).
const POD_RESOURCES: &[&str] = &[
    "count/pods",
    CPU,
    MEMORY,
    EPHEMERAL_STORAGE,
    REQUESTS_CPU,
    REQUESTS_MEMORY,
    REQUESTS_EPHEMERAL_STORAGE,
    LIMITS_CPU,
    LIMITS_MEMORY,
    LIMITS_EPHEMERAL_STORAGE,
    PODS,
];

/// The cpu and memory names that oblige every container to state the amount (kube's
/// `validationSet`, a backward-compatibility rule).
const POD_VALIDATION_SET: &[&str] = &[CPU, MEMORY, REQUESTS_CPU, REQUESTS_MEMORY, LIMITS_CPU, LIMITS_MEMORY];

/// `isExtendedResourceNameForQuota`: `requests.<extended resource>`.
fn is_extended_resource_name_for_quota(name: &str) -> bool {
    !is_native_resource(name) && name.starts_with(REQUESTS_PREFIX)
}

/// The pod evaluator's `MatchingResources`: which of `names` a pod's usage can touch.
pub fn pod_matching_resources(names: &[String]) -> Vec<String> {
    let mut result: Vec<String> = names.iter().filter(|name| POD_RESOURCES.contains(&name.as_str())).cloned().collect();
    for name in names {
        if name.starts_with(HUGE_PAGES_PREFIX) || name.starts_with(REQUESTS_HUGE_PAGES_PREFIX) || is_extended_resource_name_for_quota(name) {
            result.push(name.clone());
        }
    }
    result
}

/// `podMatchesScopeFunc`: whether a pod is in a quota's scope.
pub fn pod_matches_scope(selector: &ScopedResourceSelectorRequirement, pod: &Pod) -> bool {
    match selector.scope_name.as_str() {
        SCOPE_TERMINATING => is_terminating(pod),
        SCOPE_NOT_TERMINATING => !is_terminating(pod),
        SCOPE_BEST_EFFORT => is_best_effort(pod),
        SCOPE_NOT_BEST_EFFORT => !is_best_effort(pod),
        SCOPE_PRIORITY_CLASS => {
            let class = pod.spec.as_ref().and_then(|spec| spec.priority_class_name.as_deref()).filter(|name| !name.is_empty());
            requirement_matches(selector, class)
        }
        SCOPE_CROSS_NAMESPACE_POD_AFFINITY => uses_cross_namespace_pod_affinity(pod),
        _ => false,
    }
}

/// A pod with `activeDeadlineSeconds` counts as terminating.
fn is_terminating(pod: &Pod) -> bool {
    pod.spec.as_ref().and_then(|spec| spec.active_deadline_seconds).is_some_and(|seconds| seconds >= 0)
}

/// `qos.GetPodQOS(pod) == BestEffort`: no container asks for or limits cpu or memory.
pub fn is_best_effort(pod: &Pod) -> bool {
    let Some(spec) = pod.spec.as_ref() else { return true };
    let containers = spec.containers.iter().chain(spec.init_containers.iter().flatten());
    !containers.into_iter().any(|container| {
        let resources = container.resources.as_ref();
        let lists = [resources.and_then(|r| r.requests.as_ref()), resources.and_then(|r| r.limits.as_ref())];
        lists.into_iter().flatten().flatten().any(|(name, value)| {
            (name == CPU || name == MEMORY) && quantity::parse(&value.0).is_ok_and(|value| value.is_positive())
        })
    })
}

fn uses_cross_namespace_pod_affinity(pod: &Pod) -> bool {
    let Some(affinity) = pod.spec.as_ref().and_then(|spec| spec.affinity.as_ref()) else { return false };
    let cross = |term: &k8s_openapi::api::core::v1::PodAffinityTerm| {
        term.namespaces.as_ref().is_some_and(|namespaces| !namespaces.is_empty()) || term.namespace_selector.is_some()
    };
    let affinity_terms = affinity.pod_affinity.as_ref().map(|a| {
        (a.required_during_scheduling_ignored_during_execution.as_ref(), a.preferred_during_scheduling_ignored_during_execution.as_ref())
    });
    let anti_terms = affinity.pod_anti_affinity.as_ref().map(|a| {
        (a.required_during_scheduling_ignored_during_execution.as_ref(), a.preferred_during_scheduling_ignored_during_execution.as_ref())
    });
    [affinity_terms, anti_terms].into_iter().flatten().any(|(required, preferred)| {
        required.into_iter().flatten().any(cross) || preferred.into_iter().flatten().any(|weighted| cross(&weighted.pod_affinity_term))
    })
}

/// The pod evaluator's `Constraints`: when a quota tracks cpu or memory, each container must
/// state the amount. The error is kube's `must specify limits.cpu for: a,b; requests.memory for: a`.
pub fn pod_constraints(required: &[String], pod: &Pod) -> Result<(), String> {
    let required: BTreeSet<&str> =
        required.iter().map(String::as_str).filter(|name| POD_VALIDATION_SET.contains(name)).collect();
    let mut missing: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    let Some(spec) = pod.spec.as_ref() else { return Ok(()) };
    for container in spec.containers.iter().chain(spec.init_containers.iter().flatten()) {
        let usage = container_usage(container);
        for name in &required {
            if !usage.contains_key(*name) {
                missing.entry(name).or_default().insert(container.name.clone());
            }
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    let parts: Vec<String> = missing
        .iter()
        .map(|(name, containers)| format!("{name} for: {}", containers.iter().cloned().collect::<Vec<_>>().join(",")))
        .collect();
    Err(format!("must specify {}", parts.join("; ")))
}

fn container_requests(container: &Container) -> ResourceList {
    parse_optional_list(container.resources.as_ref().and_then(|resources| resources.requests.as_ref()))
}

fn container_limits(container: &Container) -> ResourceList {
    parse_optional_list(container.resources.as_ref().and_then(|resources| resources.limits.as_ref()))
}

fn container_usage(container: &Container) -> ResourceList {
    compute_usage(&container_requests(container), &container_limits(container))
}

/// `podComputeUsageHelper`: quota names from requests and limits.
fn compute_usage(requests: &ResourceList, limits: &ResourceList) -> ResourceList {
    let mut result = ResourceList::new();
    result.insert(PODS.to_owned(), Quantity::new(1, Format::DecimalSI));
    for (resource, request_name) in [(CPU, REQUESTS_CPU), (MEMORY, REQUESTS_MEMORY), (EPHEMERAL_STORAGE, REQUESTS_EPHEMERAL_STORAGE)] {
        if let Some(request) = requests.get(resource) {
            result.insert(resource.to_owned(), *request);
            result.insert(request_name.to_owned(), *request);
        }
    }
    for (resource, limit_name) in [(CPU, LIMITS_CPU), (MEMORY, LIMITS_MEMORY), (EPHEMERAL_STORAGE, LIMITS_EPHEMERAL_STORAGE)] {
        if let Some(limit) = limits.get(resource) {
            result.insert(limit_name.to_owned(), *limit);
        }
    }
    for (resource, request) in requests {
        if resource.starts_with(HUGE_PAGES_PREFIX) {
            result.insert(resource.clone(), *request);
            result.insert(format!("{REQUESTS_PREFIX}{resource}"), *request);
        }
        if is_extended_resource_name(resource) {
            result.insert(format!("{REQUESTS_PREFIX}{resource}"), *request);
        }
    }
    result
}

fn is_restartable_init_container(container: &Container) -> bool {
    container.restart_policy.as_deref() == Some("Always")
}

/// `resourcehelper.PodRequests` (or `PodLimits` with `limits`): the regular containers and
/// sidecars summed, at least the largest init container's need (with the sidecars started
/// before it), plus the pod's overhead (for limits, only where the pod has a limit).
pub fn pod_requests_or_limits(pod: &Pod, limits: bool) -> ResourceList {
    let mut total = containers_requests_or_limits(pod, limits);
    let overhead = parse_optional_list(pod.spec.as_ref().and_then(|spec| spec.overhead.as_ref()));
    if limits {
        for (name, value) in &overhead {
            if let Some(current) = total.get(name) {
                let sum = current.add(value);
                total.insert(name.clone(), sum);
            }
        }
        total
    } else {
        add(&total, &overhead)
    }
}

/// [`pod_requests_or_limits`] without the overhead (`ExcludeOverhead`), as LimitRanger's
/// Pod limits see a pod.
pub fn containers_requests_or_limits(pod: &Pod, limits: bool) -> ResourceList {
    let Some(spec) = pod.spec.as_ref() else { return ResourceList::new() };
    let of = |container: &Container| if limits { container_limits(container) } else { container_requests(container) };
    let mut total = ResourceList::new();
    for container in &spec.containers {
        total = add(&total, &of(container));
    }
    let mut sidecars = ResourceList::new();
    let mut init_need = ResourceList::new();
    for container in spec.init_containers.iter().flatten() {
        let mut need = of(container);
        if is_restartable_init_container(container) {
            total = add(&total, &need);
            sidecars = add(&sidecars, &need);
            need = sidecars.clone();
        } else {
            need = add(&need, &sidecars);
        }
        max_into(&mut init_need, &need);
    }
    max_into(&mut total, &init_need);
    total
}

/// `QuotaV1Pod`: a finished pod, or one whose deletion's grace period is over at `now`, no
/// longer takes compute quota.
pub fn pod_counts_for_compute(pod: &Pod, now: Timestamp) -> bool {
    let phase = pod.status.as_ref().and_then(|status| status.phase.as_deref());
    if matches!(phase, Some("Failed" | "Succeeded")) {
        return false;
    }
    if let (Some(deleted), Some(grace)) = (pod.metadata.deletion_timestamp.as_ref(), pod.metadata.deletion_grace_period_seconds) {
        let deadline = deleted.0.as_second().saturating_add(grace);
        if now.as_second() > deadline {
            return false;
        }
    }
    true
}

/// `PodUsageFunc` at `now`: `count/pods` always (object counts track every stored object), and
/// for a pod still running or to run, `pods` and its requests and limits by quota name.
pub fn pod_usage_at(pod: &Pod, now: Timestamp) -> ResourceList {
    let mut result = ResourceList::new();
    result.insert("count/pods".to_owned(), Quantity::new(1, Format::DecimalSI));
    if !pod_counts_for_compute(pod, now) {
        return result;
    }
    let requests = pod_requests_or_limits(pod, false);
    let limits = pod_requests_or_limits(pod, true);
    add(&result, &compute_usage(&requests, &limits))
}

/// [`pod_usage_at`] now.
pub fn pod_usage(pod: &Pod) -> ResourceList {
    pod_usage_at(pod, Timestamp::now())
}

// ----- persistent volume claims -----

const CLAIM_RESOURCES: &[&str] = &[PERSISTENT_VOLUME_CLAIMS, REQUESTS_STORAGE];

/// The claim evaluator's `MatchingResources`: its count, its storage, and both per class.
pub fn claim_matching_resources(names: &[String]) -> Vec<String> {
    names
        .iter()
        .filter(|name| {
            name.as_str() == "count/persistentvolumeclaims"
                || CLAIM_RESOURCES.contains(&name.as_str())
                || CLAIM_RESOURCES.iter().any(|resource| name.ends_with(&format!("{STORAGE_CLASS_SUFFIX}{resource}")))
        })
        .cloned()
        .collect()
}

/// A claim's class: the beta annotation first, then `spec.storageClassName`
/// (`GetPersistentVolumeClaimClass`).
fn claim_class(claim: &PersistentVolumeClaim) -> Option<&str> {
    let annotation = claim
        .metadata
        .annotations
        .as_ref()
        .and_then(|annotations| annotations.get("volume.beta.kubernetes.io/storage-class"))
        .map(String::as_str);
    annotation
        .or_else(|| claim.spec.as_ref().and_then(|spec| spec.storage_class_name.as_deref()))
        .filter(|class| !class.is_empty())
}

/// The storage a claim is charged: its request, or what was allocated when larger (a resize
/// that failed still holds it), rounded up to whole bytes (`getStorageUsage`).
fn claim_storage(claim: &PersistentVolumeClaim) -> Option<Quantity> {
    let requests = claim.spec.as_ref().and_then(|spec| spec.resources.as_ref()).and_then(|r| r.requests.as_ref());
    let requested = quantity::parse(&requests?.get(STORAGE)?.0).ok()?;
    let allocated = claim
        .status
        .as_ref()
        .and_then(|status| status.allocated_resources.as_ref())
        .and_then(|allocated| allocated.get(STORAGE))
        .and_then(|value| quantity::parse(&value.0).ok());
    let charged = match allocated {
        Some(allocated) if allocated.compare(&requested).is_gt() => allocated,
        _ => requested,
    };
    Some(round_up_to_integer(charged))
}

fn round_up_to_integer(value: Quantity) -> Quantity {
    if value.is_integer() { value } else { Quantity::new(value.value(), value.format()) }
}

/// The claim evaluator's `Usage`.
pub fn claim_usage(claim: &PersistentVolumeClaim) -> ResourceList {
    let one = Quantity::new(1, Format::DecimalSI);
    let mut result = ResourceList::new();
    result.insert(PERSISTENT_VOLUME_CLAIMS.to_owned(), one);
    result.insert("count/persistentvolumeclaims".to_owned(), one);
    let class = claim_class(claim);
    if let Some(class) = class {
        result.insert(resource_by_storage_class(class, PERSISTENT_VOLUME_CLAIMS), one);
    }
    if let Some(storage) = claim_storage(claim) {
        result.insert(REQUESTS_STORAGE.to_owned(), storage);
        if let Some(class) = class {
            result.insert(resource_by_storage_class(class, REQUESTS_STORAGE), storage);
        }
    }
    result
}

// ----- services -----

const SERVICE_RESOURCES: &[&str] = &["count/services", SERVICES, SERVICES_NODE_PORTS, SERVICES_LOAD_BALANCERS];

/// The service evaluator's `MatchingResources`.
pub fn service_matching_resources(names: &[String]) -> Vec<String> {
    names.iter().filter(|name| SERVICE_RESOURCES.contains(&name.as_str())).cloned().collect()
}

/// The service evaluator's `Usage`: one service; its ports as node ports when it is a
/// NodePort or LoadBalancer (only those with a node port given when a load balancer allocates
/// none); one load balancer.
pub fn service_usage(service: &Service) -> ResourceList {
    let spec = service.spec.as_ref();
    let ports = spec.and_then(|spec| spec.ports.as_ref()).map_or(&[][..], Vec::as_slice);
    let count = |value: usize| Quantity::new(i64::try_from(value).unwrap_or(i64::MAX), Format::DecimalSI);
    let mut result = ResourceList::new();
    result.insert("count/services".to_owned(), count(1));
    result.insert(SERVICES.to_owned(), count(1));
    result.insert(SERVICES_LOAD_BALANCERS.to_owned(), count(0));
    result.insert(SERVICES_NODE_PORTS.to_owned(), count(0));
    match spec.and_then(|spec| spec.type_.as_deref()) {
        Some("NodePort") => {
            result.insert(SERVICES_NODE_PORTS.to_owned(), count(ports.len()));
        }
        Some("LoadBalancer") => {
            let node_ports = if spec.and_then(|spec| spec.allocate_load_balancer_node_ports) == Some(false) {
                ports.iter().filter(|port| port.node_port.is_some_and(|node_port| node_port != 0)).count()
            } else {
                ports.len()
            };
            result.insert(SERVICES_NODE_PORTS.to_owned(), count(node_ports));
            result.insert(SERVICES_LOAD_BALANCERS.to_owned(), count(1));
        }
        _ => {}
    }
    result
}

// ----- evaluators -----

/// What quota knows of one kind (kube's `quota.Evaluator`), over objects as stored (JSON).
pub trait Evaluator: Send + Sync {
    /// Which of `names` (a quota's hard names) this kind's usage can touch.
    fn matching_resources(&self, names: &[String]) -> Vec<String>;

    /// Whether `object` is in the scope `selector` names; kinds without scopes match none.
    fn matches_scope(&self, _selector: &ScopedResourceSelectorRequirement, _object: &Value) -> Result<bool, QuotaError> {
        Ok(false)
    }

    /// Refuses an object that a quota tracking `required` cannot count (kube's `Constraints`).
    fn constraints(&self, _required: &[String], _object: &Value) -> Result<(), String> {
        Ok(())
    }

    /// What `object` uses at `now`.
    fn usage(&self, object: &Value, now: Timestamp) -> Result<ResourceList, QuotaError>;

    /// Whether an update can change the usage (claims resize, services change type); creates
    /// are always charged.
    fn charges_updates(&self) -> bool {
        false
    }

    /// `generic.Matches`: the quota tracks something of this kind (by its `status.hard`) and
    /// every scope of the quota takes the object.
    fn matches(&self, quota: &ResourceQuota, object: &Value) -> Result<bool, QuotaError> {
        if self.matching_resources(&hard_names(quota)).is_empty() {
            return Ok(false);
        }
        for selector in scope_selectors(quota) {
            if !self.matches_scope(&selector, object)? {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

fn decode<T: k8s_openapi::serde::de::DeserializeOwned>(kind: &'static str, object: &Value) -> Result<T, QuotaError> {
    serde_json::from_value(object.clone()).map_err(|err| QuotaError::Decode { kind, cause: err.to_string() })
}

/// Pods: compute resources, scopes and the cpu/memory constraint.
pub struct PodEvaluator;

impl Evaluator for PodEvaluator {
    fn matching_resources(&self, names: &[String]) -> Vec<String> {
        pod_matching_resources(names)
    }

    fn matches_scope(&self, selector: &ScopedResourceSelectorRequirement, object: &Value) -> Result<bool, QuotaError> {
        Ok(pod_matches_scope(selector, &decode::<Pod>("Pod", object)?))
    }

    fn constraints(&self, required: &[String], object: &Value) -> Result<(), String> {
        let pod = decode::<Pod>("Pod", object).map_err(|err| err.to_string())?;
        pod_constraints(required, &pod)
    }

    fn usage(&self, object: &Value, now: Timestamp) -> Result<ResourceList, QuotaError> {
        Ok(pod_usage_at(&decode::<Pod>("Pod", object)?, now))
    }
}

/// PersistentVolumeClaims: counts and storage, per class too.
pub struct ClaimEvaluator;

impl Evaluator for ClaimEvaluator {
    fn matching_resources(&self, names: &[String]) -> Vec<String> {
        claim_matching_resources(names)
    }

    fn usage(&self, object: &Value, _now: Timestamp) -> Result<ResourceList, QuotaError> {
        Ok(claim_usage(&decode::<PersistentVolumeClaim>("PersistentVolumeClaim", object)?))
    }

    fn charges_updates(&self) -> bool {
        true
    }
}

/// Services: counts, node ports and load balancers.
pub struct ServiceEvaluator;

impl Evaluator for ServiceEvaluator {
    fn matching_resources(&self, names: &[String]) -> Vec<String> {
        service_matching_resources(names)
    }

    fn usage(&self, object: &Value, _now: Timestamp) -> Result<ResourceList, QuotaError> {
        Ok(service_usage(&decode::<Service>("Service", object)?))
    }

    fn charges_updates(&self) -> bool {
        true
    }
}

/// Any other resource: one object of it (`generic.NewObjectCountEvaluator`), under
/// `count/<plural>[.<group>]` and its legacy name if it has one.
pub struct ObjectCountEvaluator {
    count_name: String,
    legacy_name: Option<&'static str>,
}

impl ObjectCountEvaluator {
    pub fn new(group: &str, plural: &str) -> Self {
        Self { count_name: object_count_name(group, plural), legacy_name: legacy_count_name(group, plural) }
    }

    /// What one object of the resource uses.
    pub fn one(&self) -> ResourceList {
        let one = Quantity::new(1, Format::DecimalSI);
        let mut result = ResourceList::new();
        result.insert(self.count_name.clone(), one);
        if let Some(legacy) = self.legacy_name {
            result.insert(legacy.to_owned(), one);
        }
        result
    }
}

impl Evaluator for ObjectCountEvaluator {
    fn matching_resources(&self, names: &[String]) -> Vec<String> {
        names.iter().filter(|name| **name == self.count_name || Some(name.as_str()) == self.legacy_name).cloned().collect()
    }

    fn usage(&self, _object: &Value, _now: Timestamp) -> Result<ResourceList, QuotaError> {
        Ok(self.one())
    }
}

/// The evaluator kube registers for a resource: pods, claims and services have their own,
/// every other resource is counted.
pub fn evaluator_for(group: &str, plural: &str) -> Box<dyn Evaluator> {
    match (group, plural) {
        ("", "pods") => Box::new(PodEvaluator),
        ("", "persistentvolumeclaims") => Box::new(ClaimEvaluator),
        ("", "services") => Box::new(ServiceEvaluator),
        _ => Box::new(ObjectCountEvaluator::new(group, plural)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn list(entries: &[(&str, &str)]) -> ResourceList {
        entries.iter().map(|(name, value)| ((*name).to_owned(), quantity::parse(value).unwrap())).collect()
    }

    fn printed(list: &ResourceList) -> String {
        pretty_print(list)
    }

    fn pod(value: Value) -> Pod {
        serde_json::from_value(value).unwrap()
    }

    fn container(name: &str, requests: Value, limits: Value) -> Value {
        json!({"name": name, "image": "busybox", "resources": {"requests": requests, "limits": limits}})
    }

    #[test]
    fn names_of_object_counts() {
        assert_eq!(object_count_name("", "pods"), "count/pods");
        assert_eq!(object_count_name("apps", "deployments"), "count/deployments.apps");
        assert_eq!(legacy_count_name("", "configmaps"), Some("configmaps"));
        assert_eq!(legacy_count_name("apps", "deployments"), None);
        assert_eq!(legacy_count_name("", "endpoints"), None);
        let evaluator = ObjectCountEvaluator::new("", "secrets");
        assert_eq!(printed(&evaluator.one()), "count/secrets=1,secrets=1");
        let hard = vec!["secrets".to_owned(), "pods".to_owned(), "count/secrets".to_owned()];
        assert_eq!(evaluator.matching_resources(&hard), vec!["secrets", "count/secrets"]);
    }

    #[test]
    fn standard_names_for_validation() {
        for name in ["pods", "requests.cpu", "limits.memory", "services.nodeports", "hugepages-2Mi", "requests.hugepages-1Gi", "configmaps"] {
            assert!(is_standard_quota_resource_name(name), "{name}");
        }
        for name in ["foo", "storage", "nodes", "limits.storage"] {
            assert!(!is_standard_quota_resource_name(name), "{name}");
        }
        assert!(is_standard_resource_name("storage"));
        assert!(!is_standard_resource_name("foo"));
        assert!(is_integer_resource_name("pods"));
        assert!(is_integer_resource_name("example.com/gpu"));
        assert!(!is_integer_resource_name("cpu"));
        assert!(is_extended_resource_name("example.com/gpu"));
        assert!(!is_extended_resource_name("kubernetes.io/gpu"));
        assert!(!is_extended_resource_name("requests.example.com/gpu"));
        assert!(is_scope_valid_for_resource("BestEffort", "pods"));
        assert!(!is_scope_valid_for_resource("BestEffort", "requests.cpu"));
        assert!(is_scope_valid_for_resource("NotBestEffort", "requests.cpu"));
        assert!(!is_scope_valid_for_resource("Terminating", "services"));
        assert!(is_standard_scope("PriorityClass"));
        assert!(!is_standard_scope("Everything"));
    }

    #[test]
    fn lists_add_subtract_and_compare() {
        let a = list(&[("pods", "2"), ("requests.cpu", "500m")]);
        let b = list(&[("pods", "1"), ("requests.memory", "1Gi")]);
        assert_eq!(printed(&add(&a, &b)), "pods=3,requests.cpu=500m,requests.memory=1Gi");
        assert_eq!(printed(&subtract(&a, &b)), "pods=1,requests.cpu=500m,requests.memory=-1Gi");
        assert_eq!(printed(&subtract_non_negative(&b, &a)), "pods=0,requests.cpu=0,requests.memory=1Gi");
        assert_eq!(printed(&mask(&a, ["pods", "services"])), "pods=2");
        let (allowed, exceeded) = less_than_or_equal(&list(&[("pods", "3"), ("requests.cpu", "1")]), &a);
        assert!(!allowed);
        assert_eq!(exceeded, vec!["pods", "requests.cpu"]);
        assert!(less_than_or_equal(&list(&[("pods", "2"), ("services", "9")]), &a).0, "names b lacks are free");
        assert!(equals(&list(&[("cpu", "1")]), &list(&[("cpu", "1000m")])));
        assert!(!equals(&list(&[("cpu", "1")]), &list(&[("cpu", "1"), ("pods", "0")])));
        assert_eq!(printed(&remove_zeros(&list(&[("pods", "0"), ("cpu", "1m")]))), "cpu=1m");
        assert_eq!(negative_names(&list(&[("pods", "-1"), ("cpu", "1")])), vec!["pods"]);
        assert_eq!(pretty_print_names(["pods", "cpu"]), "cpu,pods");
        assert_eq!(to_json(&a), json!({"pods": "2", "requests.cpu": "500m"}));
        assert!(equals(&from_json(&json!({"pods": "2", "requests.cpu": "0.5", "bad": "x"})), &a));
    }

    #[test]
    fn pod_usage_sums_containers_and_takes_the_largest_init_container() {
        let pod = pod(json!({
            "metadata": {"name": "p"},
            "spec": {
                "containers": [
                    container("a", json!({"cpu": "100m", "memory": "64Mi"}), json!({"cpu": "200m", "memory": "128Mi"})),
                    container("b", json!({"cpu": "300m", "example.com/gpu": "1"}), json!({"cpu": "1"})),
                ],
                "initContainers": [container("init", json!({"cpu": "2", "memory": "32Mi"}), json!({}))],
                "overhead": {"cpu": "10m", "memory": "1Mi"}
            }
        }));
        assert_eq!(
            printed(&pod_usage_at(&pod, Timestamp::UNIX_EPOCH)),
            "count/pods=1,cpu=2010m,limits.cpu=1210m,limits.memory=129Mi,memory=65Mi,pods=1,\
             requests.cpu=2010m,requests.example.com/gpu=1,requests.memory=65Mi"
        );
    }

    #[test]
    fn sidecars_add_to_the_containers_and_to_later_init_containers() {
        let sidecar = json!({"name": "side", "image": "x", "restartPolicy": "Always", "resources": {"requests": {"cpu": "100m"}}});
        let pod = pod(json!({"metadata": {"name": "p"}, "spec": {
            "containers": [container("a", json!({"cpu": "100m"}), json!({}))],
            "initContainers": [sidecar, container("init", json!({"cpu": "150m"}), json!({}))]
        }}));
        // Regular 100m + sidecar 100m = 200m; the init container needs 150m + 100m = 250m.
        assert_eq!(pod_requests_or_limits(&pod, false)["cpu"].to_string(), "250m");
    }

    #[test]
    fn finished_and_expired_pods_count_only_as_objects() {
        let finished = pod(json!({"metadata": {"name": "p"}, "spec": {"containers": []}, "status": {"phase": "Succeeded"}}));
        assert_eq!(printed(&pod_usage(&finished)), "count/pods=1");
        let deleting = pod(json!({"metadata": {"name": "p", "deletionTimestamp": "2026-01-01T00:00:00Z", "deletionGracePeriodSeconds": 30},
            "spec": {"containers": []}}));
        let during: Timestamp = "2026-01-01T00:00:20Z".parse().unwrap();
        let after: Timestamp = "2026-01-01T00:00:31Z".parse().unwrap();
        assert_eq!(printed(&pod_usage_at(&deleting, during)), "count/pods=1,pods=1");
        assert_eq!(printed(&pod_usage_at(&deleting, after)), "count/pods=1");
    }

    #[test]
    fn pod_scopes() {
        let best_effort = pod(json!({"metadata": {"name": "p"}, "spec": {"containers": [container("a", json!({}), json!({}))]}}));
        let burstable = pod(json!({"metadata": {"name": "p"}, "spec": {"activeDeadlineSeconds": 10, "priorityClassName": "high",
            "containers": [container("a", json!({"cpu": "1"}), json!({}))]}}));
        let scope = |name: &str, operator: &str, values: &[&str]| ScopedResourceSelectorRequirement {
            scope_name: name.to_owned(),
            operator: operator.to_owned(),
            values: (!values.is_empty()).then(|| values.iter().map(|value| (*value).to_owned()).collect()),
        };
        let rows = [
            (scope("BestEffort", "Exists", &[]), true, false),
            (scope("NotBestEffort", "Exists", &[]), false, true),
            (scope("Terminating", "Exists", &[]), false, true),
            (scope("NotTerminating", "Exists", &[]), true, false),
            (scope("PriorityClass", "Exists", &[]), false, true),
            (scope("PriorityClass", "In", &["high", "low"]), false, true),
            (scope("PriorityClass", "NotIn", &["high"]), true, false),
            (scope("PriorityClass", "DoesNotExist", &[]), true, false),
            (scope("CrossNamespacePodAffinity", "Exists", &[]), false, false),
        ];
        for (selector, for_best_effort, for_burstable) in rows {
            assert_eq!(pod_matches_scope(&selector, &best_effort), for_best_effort, "{selector:?} best effort");
            assert_eq!(pod_matches_scope(&selector, &burstable), for_burstable, "{selector:?} burstable");
        }
        let cross = pod(json!({"metadata": {"name": "p"}, "spec": {"containers": [], "affinity": {"podAntiAffinity": {
            "preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 1, "podAffinityTerm": {"topologyKey": "x", "namespaceSelector": {}}}]}}}}));
        assert!(pod_matches_scope(&scope("CrossNamespacePodAffinity", "Exists", &[]), &cross));
    }

    #[test]
    fn quota_matching_uses_status_hard_and_every_scope() {
        let quota: ResourceQuota = serde_json::from_value(json!({
            "metadata": {"name": "q"},
            "spec": {"hard": {"pods": "2"}, "scopes": ["BestEffort"]},
            "status": {"hard": {"pods": "2"}, "used": {"pods": "0"}}
        }))
        .unwrap();
        let best_effort = json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "a"}]}});
        let burstable = json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "a", "resources": {"requests": {"memory": "1Mi"}}}]}});
        assert!(PodEvaluator.matches(&quota, &best_effort).unwrap());
        assert!(!PodEvaluator.matches(&quota, &burstable).unwrap());
        assert!(!ServiceEvaluator.matches(&quota, &json!({"metadata": {"name": "s"}})).unwrap());
        let unknown: ResourceQuota = serde_json::from_value(json!({"metadata": {"name": "q"}, "spec": {"hard": {"pods": "2"}}})).unwrap();
        assert!(!PodEvaluator.matches(&unknown, &best_effort).unwrap(), "no status.hard yet: nothing is tracked");
    }

    #[test]
    fn pods_must_state_what_a_quota_tracks() {
        let pod = pod(json!({"metadata": {"name": "p"}, "spec": {"containers": [
            container("a", json!({"cpu": "1"}), json!({})),
            container("b", json!({}), json!({"memory": "1Gi"})),
        ]}}));
        let required = ["requests.cpu", "limits.memory", "pods"].map(str::to_owned);
        assert_eq!(pod_constraints(&required, &pod), Err("must specify limits.memory for: a; requests.cpu for: b".to_owned()));
        assert_eq!(pod_constraints(&["pods".to_owned()], &pod), Ok(()));
    }

    #[test]
    fn claim_usage_by_class_and_rounded() {
        let claim: PersistentVolumeClaim = serde_json::from_value(json!({
            "metadata": {"name": "c"},
            "spec": {"storageClassName": "fast", "resources": {"requests": {"storage": "1.5Gi"}}},
            "status": {"allocatedResources": {"storage": "2Gi"}}
        }))
        .unwrap();
        assert_eq!(
            printed(&claim_usage(&claim)),
            "count/persistentvolumeclaims=1,fast.storageclass.storage.k8s.io/persistentvolumeclaims=1,\
             fast.storageclass.storage.k8s.io/requests.storage=2Gi,persistentvolumeclaims=1,requests.storage=2Gi"
        );
        let fractional: PersistentVolumeClaim =
            serde_json::from_value(json!({"metadata": {"name": "c"}, "spec": {"resources": {"requests": {"storage": "1500m"}}}})).unwrap();
        assert_eq!(printed(&claim_usage(&fractional)), "count/persistentvolumeclaims=1,persistentvolumeclaims=1,requests.storage=2");
        let names = ["requests.storage", "gold.storageclass.storage.k8s.io/requests.storage", "pods", "count/persistentvolumeclaims"].map(str::to_owned);
        assert_eq!(claim_matching_resources(&names).len(), 3);
    }

    #[test]
    fn service_usage_counts_node_ports_and_load_balancers() {
        let service = |spec: Value| -> Service { serde_json::from_value(json!({"metadata": {"name": "s"}, "spec": spec})).unwrap() };
        let ports = json!([{"port": 80}, {"port": 443, "nodePort": 30443}]);
        assert_eq!(
            printed(&service_usage(&service(json!({"ports": ports})))),
            "count/services=1,services=1,services.loadbalancers=0,services.nodeports=0"
        );
        assert_eq!(
            printed(&service_usage(&service(json!({"type": "NodePort", "ports": ports})))),
            "count/services=1,services=1,services.loadbalancers=0,services.nodeports=2"
        );
        assert_eq!(
            printed(&service_usage(&service(json!({"type": "LoadBalancer", "allocateLoadBalancerNodePorts": false, "ports": ports})))),
            "count/services=1,services=1,services.loadbalancers=1,services.nodeports=1"
        );
    }

    #[test]
    fn evaluators_by_resource() {
        let pod = json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "a", "resources": {"requests": {"cpu": "1"}}}]}});
        let usage = evaluator_for("", "pods").usage(&pod, Timestamp::UNIX_EPOCH).unwrap();
        assert_eq!(usage["requests.cpu"].to_string(), "1");
        let usage = evaluator_for("apps", "deployments").usage(&json!({}), Timestamp::UNIX_EPOCH).unwrap();
        assert_eq!(printed(&usage), "count/deployments.apps=1");
        assert!(evaluator_for("", "pods").usage(&json!({"spec": 5}), Timestamp::UNIX_EPOCH).is_err());
    }
}
