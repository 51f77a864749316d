//! The LimitRanger admission plugin (`plugin/pkg/admission/limitranger`): the LimitRanges of a
//! pod's namespace give its containers the requests and limits they leave out (`default` ->
//! limits, `defaultRequest` -> requests, noted in the `kubernetes.io/limit-ranger` annotation),
//! then bound them per Container and per Pod (min, max, maxLimitRequestRatio); a claim's
//! storage request is bounded by the PersistentVolumeClaim limits. A refusal is a 403
//! `pods "x" is forbidden: [minimum cpu usage per Container is 100m, but request is 50m, ...]`.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, LimitRange, LimitRangeItem, PersistentVolumeClaim, Pod};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as ApiQuantity;
use serde_json::{Map, Value, json};

use common::quantity::Quantity;
use common::quota::ResourceList;
use crate::admission::field::{Causes, Path};
use crate::errors::ApiError;
use crate::resources::ResourceType;
use crate::strategy::Cluster;

const ANNOTATION: &str = "kubernetes.io/limit-ranger";
const TYPE_POD: &str = "Pod";
const TYPE_CONTAINER: &str = "Container";
const TYPE_CLAIM: &str = "PersistentVolumeClaim";

/// `resource.MaxMilliValue`: beyond it, values are compared whole rather than in thousandths.
const MAX_MILLI_VALUE: i64 = i64::MAX / 1000;

/// The namespace's LimitRanges, in name order.
async fn limit_ranges(cluster: &dyn Cluster, namespace: &str) -> Result<Vec<LimitRange>, ApiError> {
    let listed = cluster.list("", "v1", "limitranges", Some(namespace)).await?;
    listed
        .into_iter()
        .map(|value| serde_json::from_value(value).map_err(|err| ApiError::internal(format!("decoding a limit range: {err}"))))
        .collect()
}

fn items(limit_range: &LimitRange) -> impl Iterator<Item = &LimitRangeItem> {
    limit_range.spec.iter().flat_map(|spec| spec.limits.iter())
}

/// LimitRanger on a pod being created: defaults first (all ranges), then the bounds, the first
/// range with violations refusing; `resource` names pods in the errors.
pub(crate) async fn admit_pod(cluster: &dyn Cluster, resource: &ResourceType, namespace: Option<&str>, pod: &mut Value) -> Result<(), ApiError> {
    let Some(namespace) = namespace else { return Ok(()) };
    let ranges = limit_ranges(cluster, namespace).await?;
    if ranges.is_empty() {
        return Ok(());
    }
    let mut changed = false;
    for limit_range in &ranges {
        changed |= set_defaults(limit_range, pod);
    }
    let typed: Pod = serde_json::from_value(pod.clone()).map_err(|err| ApiError::internal(format!("decoding the pod: {err}")))?;
    if changed {
        revalidate(resource, &typed)?;
        // kube computes the QoS class after mutating admission: the defaults count.
        if let (Some(spec), Some(status)) = (typed.spec.as_ref(), pod.get_mut("status").and_then(Value::as_object_mut)) {
            status.insert("qosClass".into(), json!(super::pod::qos_class(spec)));
        }
    }
    for limit_range in &ranges {
        let errors = pod_violations(limit_range, &typed);
        if !errors.is_empty() {
            return Err(super::quota::forbidden(resource, pod, &aggregate(&errors)));
        }
    }
    Ok(())
}

/// LimitRanger on a claim being created: its storage request within the claim bounds.
pub(crate) async fn admit_claim(cluster: &dyn Cluster, resource: &ResourceType, namespace: Option<&str>, claim: &Value) -> Result<(), ApiError> {
    let Some(namespace) = namespace else { return Ok(()) };
    let ranges = limit_ranges(cluster, namespace).await?;
    if ranges.is_empty() {
        return Ok(());
    }
    let typed: PersistentVolumeClaim =
        serde_json::from_value(claim.clone()).map_err(|err| ApiError::internal(format!("decoding the claim: {err}")))?;
    for limit_range in &ranges {
        let errors = claim_violations(limit_range, &typed);
        if !errors.is_empty() {
            return Err(super::quota::forbidden(resource, claim, &aggregate(&errors)));
        }
    }
    Ok(())
}

/// `utilerrors.NewAggregate(...).Error()`: one message alone, several (repeats dropped) in
/// brackets.
fn aggregate(errors: &[String]) -> String {
    let mut unique: Vec<&str> = Vec::new();
    for error in errors {
        if !unique.contains(&error.as_str()) {
            unique.push(error);
        }
    }
    match unique.as_slice() {
        [one] => (*one).to_owned(),
        many => format!("[{}]", many.join(", ")),
    }
}

/// `defaultContainerResourceRequirements` and `mergePodResourceRequirements`: what the
/// range's Container item defaults, given to every container (init ones too) that leaves it
/// out. Returns whether anything was set.
fn set_defaults(limit_range: &LimitRange, pod: &mut Value) -> bool {
    let mut default_limits = BTreeMap::new();
    let mut default_requests = BTreeMap::new();
    for item in items(limit_range).filter(|item| item.type_ == TYPE_CONTAINER) {
        default_requests.extend(item.default_request.iter().flatten().map(|(name, value)| (name.clone(), value.0.clone())));
        default_limits.extend(item.default.iter().flatten().map(|(name, value)| (name.clone(), value.0.clone())));
    }
    if default_limits.is_empty() && default_requests.is_empty() {
        return false;
    }
    let mut notes = Vec::new();
    for (list, prefix) in [("containers", "container"), ("initContainers", "init container")] {
        let Some(containers) = pod.pointer_mut(&format!("/spec/{list}")).and_then(Value::as_array_mut) else { continue };
        for container in containers {
            let name = container.get("name").and_then(Value::as_str).unwrap_or_default().to_owned();
            let set_requests = fill(container, "requests", &default_requests);
            let set_limits = fill(container, "limits", &default_limits);
            if !set_requests.is_empty() {
                notes.push(format!("{} request for {prefix} {name}", set_requests.join(", ")));
            }
            if !set_limits.is_empty() {
                notes.push(format!("{} limit for {prefix} {name}", set_limits.join(", ")));
            }
        }
    }
    if notes.is_empty() {
        return false;
    }
    let Some(metadata) = pod.get_mut("metadata").and_then(Value::as_object_mut) else { return true };
    let annotations = metadata.entry("annotations").or_insert_with(|| json!({}));
    if !annotations.is_object() {
        *annotations = json!({});
    }
    annotations[ANNOTATION] = json!(format!("LimitRanger plugin set: {}", notes.join("; ")));
    true
}

/// Sets each of `defaults` the container's `resources.<field>` lacks; returns the names set,
/// sorted.
fn fill(container: &mut Value, field: &str, defaults: &BTreeMap<String, String>) -> Vec<String> {
    if defaults.is_empty() {
        return Vec::new();
    }
    let Some(container) = container.as_object_mut() else { return Vec::new() };
    let resources = container.entry("resources").or_insert_with(|| json!({}));
    if !resources.is_object() {
        *resources = json!({});
    }
    let Some(resources) = resources.as_object_mut() else { return Vec::new() };
    let list = resources.entry(field).or_insert_with(|| Value::Object(Map::new()));
    if !list.is_object() {
        *list = Value::Object(Map::new());
    }
    let Some(list) = list.as_object_mut() else { return Vec::new() };
    let mut set = Vec::new();
    for (name, value) in defaults {
        if !list.contains_key(name) {
            list.insert(name.clone(), json!(value));
            set.push(name.clone());
        }
    }
    set
}

/// kube validates the pod after mutating admission: a default limit below a request the pod
/// states is invalid there, and here.
fn revalidate(resource: &ResourceType, pod: &Pod) -> Result<(), ApiError> {
    let Some(spec) = pod.spec.as_ref() else { return Ok(()) };
    let mut causes = Causes::new();
    let lists = [("containers", spec.containers.as_slice()), ("initContainers", spec.init_containers.as_deref().unwrap_or_default())];
    for (list, containers) in lists {
        for (index, container) in containers.iter().enumerate() {
            if let Some(resources) = container.resources.as_ref() {
                let path = Path::new("spec").child(list).index(index).child("resources");
                super::pod_spec::validate_resources(resources, &path, &mut causes);
            }
        }
    }
    if causes.is_empty() {
        return Ok(());
    }
    Err(ApiError::invalid(resource, pod.metadata.name.as_deref().unwrap_or_default(), causes.into_vec()))
}

fn parse(list: Option<&BTreeMap<String, ApiQuantity>>) -> ResourceList {
    common::quota::parse_optional_list(list)
}

fn container_lists(container: &Container) -> (ResourceList, ResourceList) {
    let resources = container.resources.as_ref();
    (parse(resources.and_then(|r| r.requests.as_ref())), parse(resources.and_then(|r| r.limits.as_ref())))
}

/// `PodValidateLimitFunc`: each container against the Container item, the pod's sums (the
/// containers', at least any init container's) against the Pod item.
fn pod_violations(limit_range: &LimitRange, pod: &Pod) -> Vec<String> {
    let mut errors = Vec::new();
    let Some(spec) = pod.spec.as_ref() else { return errors };
    for item in items(limit_range) {
        match item.type_.as_str() {
            TYPE_CONTAINER => {
                for container in spec.containers.iter().chain(spec.init_containers.iter().flatten()) {
                    let (requests, limits) = container_lists(container);
                    bounds(item, &requests, &limits, &mut errors);
                }
            }
            TYPE_POD => {
                let requests = common::quota::containers_requests_or_limits(pod, false);
                let limits = common::quota::containers_requests_or_limits(pod, true);
                bounds(item, &requests, &limits, &mut errors);
            }
            _ => {}
        }
    }
    errors
}

/// The min, max and ratio checks of one item over requests and limits.
fn bounds(item: &LimitRangeItem, requests: &ResourceList, limits: &ResourceList, errors: &mut Vec<String>) {
    let limit_type = item.type_.as_str();
    for (name, enforced) in parse(item.min.as_ref()) {
        errors.extend(min_violation(limit_type, &name, &enforced, requests, limits));
    }
    for (name, enforced) in parse(item.max.as_ref()) {
        errors.extend(max_violation(limit_type, &name, &enforced, requests, limits));
    }
    for (name, enforced) in parse(item.max_limit_request_ratio.as_ref()) {
        errors.extend(ratio_violation(limit_type, &name, &enforced, requests, limits));
    }
}

/// `PersistentVolumeClaimValidateLimitFunc`: the storage request between min and max.
fn claim_violations(limit_range: &LimitRange, claim: &PersistentVolumeClaim) -> Vec<String> {
    let requests = parse(claim.spec.as_ref().and_then(|spec| spec.resources.as_ref()).and_then(|resources| resources.requests.as_ref()));
    let mut errors = Vec::new();
    for item in items(limit_range).filter(|item| item.type_ == TYPE_CLAIM) {
        for (name, enforced) in parse(item.min.as_ref()) {
            errors.extend(min_violation(TYPE_CLAIM, &name, &enforced, &requests, &ResourceList::new()));
        }
        for (name, enforced) in parse(item.max.as_ref()) {
            let request = requests.get(&name);
            let (observed, _, bound) = comparable(request, None, &enforced);
            match request {
                None => errors.push(format!("maximum {name} usage per {TYPE_CLAIM} is {enforced}.  No request is specified")),
                Some(request) if observed > bound => {
                    errors.push(format!("maximum {name} usage per {TYPE_CLAIM} is {enforced}, but request is {request}"));
                }
                Some(_) => {}
            }
        }
    }
    errors
}

/// `requestLimitEnforcedValues`: the three values in thousandths when none is too large for
/// that, else whole; a missing value is 0.
fn comparable(request: Option<&Quantity>, limit: Option<&Quantity>, enforced: &Quantity) -> (i64, i64, i64) {
    let whole = |value: Option<&Quantity>| value.map_or(0, Quantity::value);
    let milli = |value: Option<&Quantity>| value.map_or(0, Quantity::milli_value);
    let (request_value, limit_value, enforced_value) = (whole(request), whole(limit), enforced.value());
    if request_value <= MAX_MILLI_VALUE && limit_value <= MAX_MILLI_VALUE && enforced_value <= MAX_MILLI_VALUE {
        (milli(request), milli(limit), enforced.milli_value())
    } else {
        (request_value, limit_value, enforced_value)
    }
}

/// `minConstraint`.
fn min_violation(limit_type: &str, name: &str, enforced: &Quantity, requests: &ResourceList, limits: &ResourceList) -> Option<String> {
    let (request, limit) = (requests.get(name), limits.get(name));
    let (observed_request, observed_limit, bound) = comparable(request, limit, enforced);
    let Some(request) = request else {
        return Some(format!("minimum {name} usage per {limit_type} is {enforced}.  No request is specified"));
    };
    if observed_request < bound {
        return Some(format!("minimum {name} usage per {limit_type} is {enforced}, but request is {request}"));
    }
    match limit {
        Some(limit) if observed_limit < bound => Some(format!("minimum {name} usage per {limit_type} is {enforced}, but limit is {limit}")),
        _ => None,
    }
}

/// `maxConstraint`.
fn max_violation(limit_type: &str, name: &str, enforced: &Quantity, requests: &ResourceList, limits: &ResourceList) -> Option<String> {
    let (request, limit) = (requests.get(name), limits.get(name));
    let (observed_request, observed_limit, bound) = comparable(request, limit, enforced);
    let Some(limit) = limit else {
        return Some(format!("maximum {name} usage per {limit_type} is {enforced}.  No limit is specified"));
    };
    if observed_limit > bound {
        return Some(format!("maximum {name} usage per {limit_type} is {enforced}, but limit is {limit}"));
    }
    match request {
        Some(request) if observed_request > bound => Some(format!("maximum {name} usage per {limit_type} is {enforced}, but request is {request}")),
        _ => None,
    }
}

/// `limitRequestRatioConstraint`.
fn ratio_violation(limit_type: &str, name: &str, enforced: &Quantity, requests: &ResourceList, limits: &ResourceList) -> Option<String> {
    let (request, limit) = (requests.get(name), limits.get(name));
    let (observed_request, observed_limit, _) = comparable(request, limit, enforced);
    if request.is_none() || observed_request == 0 {
        return Some(format!("{name} max limit to request ratio per {limit_type} is {enforced}, but no request is specified or request is 0"));
    }
    if limit.is_none() || observed_limit == 0 {
        return Some(format!("{name} max limit to request ratio per {limit_type} is {enforced}, but no limit is specified or limit is 0"));
    }
    let shown = observed_limit as f64 / observed_request as f64;
    let (observed, bound) = if enforced.value() <= MAX_MILLI_VALUE {
        (shown * 1000.0, enforced.milli_value() as f64)
    } else {
        (shown, enforced.value() as f64)
    };
    (observed > bound).then(|| format!("{name} max limit to request ratio per {limit_type} is {enforced}, but provided ratio is {shown:.6}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit_range(limits: Value) -> LimitRange {
        serde_json::from_value(json!({"metadata": {"name": "l"}, "spec": {"limits": limits}})).unwrap()
    }

    fn pod(containers: Value) -> Value {
        json!({"metadata": {"name": "p", "namespace": "demo"}, "spec": {"containers": containers}})
    }

    fn typed(pod: &Value) -> Pod {
        serde_json::from_value(pod.clone()).unwrap()
    }

    #[test]
    fn defaults_fill_what_containers_leave_out_and_are_noted() {
        let range = limit_range(json!([{"type": "Container", "default": {"cpu": "500m", "memory": "128Mi"}, "defaultRequest": {"cpu": "100m", "memory": "64Mi"}}]));
        let mut pod = pod(json!([
            {"name": "web", "image": "x"},
            {"name": "side", "image": "x", "resources": {"requests": {"cpu": "50m"}, "limits": {"cpu": "1"}}},
        ]));
        pod["spec"]["initContainers"] = json!([{"name": "init", "image": "x"}]);
        assert!(set_defaults(&range, &mut pod));
        assert_eq!(pod["spec"]["containers"][0]["resources"], json!({"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"cpu": "500m", "memory": "128Mi"}}));
        assert_eq!(pod["spec"]["containers"][1]["resources"], json!({"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"cpu": "1", "memory": "128Mi"}}));
        assert_eq!(
            pod["metadata"]["annotations"][ANNOTATION],
            "LimitRanger plugin set: cpu, memory request for container web; cpu, memory limit for container web; \
             memory request for container side; memory limit for container side; \
             cpu, memory request for init container init; cpu, memory limit for init container init"
        );
        let mut untouched = json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "a"}]}});
        assert!(!set_defaults(&limit_range(json!([{"type": "Pod", "max": {"cpu": "1"}}])), &mut untouched));
        assert_eq!(untouched["metadata"].get("annotations"), None);
    }

    #[test]
    fn container_bounds_with_kubes_messages() {
        let range = limit_range(json!([{"type": "Container", "min": {"cpu": "100m"}, "max": {"memory": "1Gi"}, "maxLimitRequestRatio": {"cpu": "2"}}]));
        let rows = [
            (json!({"requests": {"cpu": "50m"}, "limits": {"cpu": "100m", "memory": "512Mi"}}), vec!["minimum cpu usage per Container is 100m, but request is 50m"]),
            (json!({"requests": {"cpu": "200m"}, "limits": {"cpu": "200m", "memory": "2Gi"}}), vec!["maximum memory usage per Container is 1Gi, but limit is 2Gi"]),
            (json!({"requests": {"cpu": "200m"}, "limits": {"cpu": "1"}}), vec![
                "maximum memory usage per Container is 1Gi.  No limit is specified",
                "cpu max limit to request ratio per Container is 2, but provided ratio is 5.000000",
            ]),
            (json!({"limits": {"memory": "1Gi"}}), vec![
                "minimum cpu usage per Container is 100m.  No request is specified",
                "cpu max limit to request ratio per Container is 2, but no request is specified or request is 0",
            ]),
            (json!({"requests": {"cpu": "100m"}, "limits": {"cpu": "200m", "memory": "1Gi"}}), vec![]),
        ];
        for (resources, expected) in rows {
            let pod = typed(&pod(json!([{"name": "a", "image": "x", "resources": resources}])));
            assert_eq!(pod_violations(&range, &pod), expected, "{resources}");
        }
        assert_eq!(
            aggregate(&["a".into(), "b".into(), "a".into()]),
            "[a, b]"
        );
        assert_eq!(aggregate(&["a".into()]), "a");
    }

    #[test]
    fn pod_bounds_sum_the_containers() {
        let range = limit_range(json!([{"type": "Pod", "max": {"cpu": "1"}}]));
        let two = |cpu: &str| json!({"name": cpu, "image": "x", "resources": {"requests": {"cpu": cpu}, "limits": {"cpu": cpu}}});
        let pod = typed(&pod(json!([two("600m"), two("500m")])));
        assert_eq!(pod_violations(&range, &pod), vec!["maximum cpu usage per Pod is 1, but limit is 1100m"]);
    }

    #[test]
    fn claim_storage_bounds() {
        let range = limit_range(json!([{"type": "PersistentVolumeClaim", "min": {"storage": "1Gi"}, "max": {"storage": "10Gi"}}]));
        let claim = |size: &str| -> PersistentVolumeClaim {
            serde_json::from_value(json!({"metadata": {"name": "c"}, "spec": {"resources": {"requests": {"storage": size}}}})).unwrap()
        };
        assert_eq!(claim_violations(&range, &claim("500Mi")), vec!["minimum storage usage per PersistentVolumeClaim is 1Gi, but request is 500Mi"]);
        assert_eq!(claim_violations(&range, &claim("20Gi")), vec!["maximum storage usage per PersistentVolumeClaim is 10Gi, but request is 20Gi"]);
        assert!(claim_violations(&range, &claim("5Gi")).is_empty());
    }

    #[test]
    fn a_default_limit_below_a_stated_request_is_invalid() {
        let mut pod = pod(json!([{"name": "a", "image": "x", "resources": {"requests": {"cpu": "2"}}}]));
        assert!(set_defaults(&limit_range(json!([{"type": "Container", "default": {"cpu": "1"}}])), &mut pod));
        let resource = &crate::kinds::find("", "v1", "pods").unwrap().resource;
        let err = revalidate(resource, &typed(&pod)).expect_err("request above the default limit");
        assert_eq!(err.code, 422);
        assert!(err.message.contains("spec.containers[0].resources.requests: Invalid value: \"2\": must be less than or equal to cpu limit of 1"), "{}", err.message);
    }
}
