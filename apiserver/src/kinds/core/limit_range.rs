//! `LimitRange` (`core/v1`): per-namespace defaults and bounds for containers, pods and claims,
//! applied by the LimitRanger admission plugin (`admission::limit_ranger`). Its declaration, its
//! defaults (`SetDefaults_LimitRangeItem`), its validation (`ValidateLimitRange`) and its
//! printer (`printLimitRange`: NAME, CREATED AT).

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::{LimitRange, LimitRangeItem};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as ApiQuantity;
use serde_json::{Value, json};

use super::resource_quota::validate_resource_name;
use crate::admission::field::{Causes, Path};
use crate::admission::{Context, Typed, TypedKind};
use crate::printers::{self, NAME, Column, Printer, text};
use crate::registry::Kind;
use crate::resources::ResourceType;
use common::quantity::{self, Quantity};

pub static KIND: Kind = Kind {
    resource: ResourceType::builtin("", "v1", "LimitRange", "limitranges", "limitrange").namespaced().short_names(&["limits"]),
    strategy: &STRATEGY,
    printer: Some(&PRINTER),
};

static STRATEGY: Typed<LimitRange> = Typed::new();

pub(crate) const TYPE_POD: &str = "Pod";
pub(crate) const TYPE_CONTAINER: &str = "Container";
pub(crate) const TYPE_CLAIM: &str = "PersistentVolumeClaim";

impl TypedKind for LimitRange {
    fn check_quantities(&self) -> Result<(), quantity::QuantityError> {
        for item in self.spec.iter().flat_map(|spec| spec.limits.iter()) {
            let lists = [&item.default, &item.default_request, &item.max, &item.min, &item.max_limit_request_ratio];
            for value in lists.into_iter().flatten().flat_map(|list| list.values()) {
                quantity::parse(&value.0)?;
            }
        }
        Ok(())
    }

    /// `SetDefaults_LimitRangeItem`: for containers, the default limit is the max when unset,
    /// and the default request the default limit, else the min.
    fn apply_defaults(&mut self) {
        for item in self.spec.iter_mut().flat_map(|spec| spec.limits.iter_mut()) {
            if item.type_ != TYPE_CONTAINER {
                continue;
            }
            let mut defaults = item.default.take().unwrap_or_default();
            let mut requests = item.default_request.take().unwrap_or_default();
            for (name, value) in item.max.iter().flatten() {
                defaults.entry(name.clone()).or_insert_with(|| value.clone());
            }
            for (name, value) in &defaults {
                requests.entry(name.clone()).or_insert_with(|| value.clone());
            }
            for (name, value) in item.min.iter().flatten() {
                requests.entry(name.clone()).or_insert_with(|| value.clone());
            }
            item.default = (!defaults.is_empty()).then_some(defaults);
            item.default_request = (!requests.is_empty()).then_some(requests);
        }
    }

    /// `ValidateLimitRange`.
    fn validate(&self, _context: &Context, causes: &mut Causes) {
        let path = Path::new("spec").child("limits");
        let mut types = BTreeSet::new();
        for (index, item) in self.spec.iter().flat_map(|spec| spec.limits.iter()).enumerate() {
            let item_path = path.index(index);
            validate_type_name(&item.type_, &item_path.child("type"), causes);
            if !types.insert(item.type_.as_str()) {
                causes.duplicate(&item_path.child("type"), item.type_.as_str());
            }
            validate_item(item, &item_path, causes);
        }
    }
}

/// `validateLimitRangeTypeName`.
fn validate_type_name(value: &str, path: &Path, causes: &mut Causes) {
    let messages = common::names::qualified_name(value);
    if !messages.is_empty() {
        return causes.invalid_each(path, value, messages);
    }
    if !value.contains('/') && ![TYPE_POD, TYPE_CONTAINER, TYPE_CLAIM].contains(&value) {
        causes.invalid(path, value, "must be a standard limit type or fully qualified");
    }
}

/// `validateLimitRangeResourceName`: container resources for Pod and Container limits, any
/// resource name for the others.
fn validate_item_resource_name(limit_type: &str, name: &str, path: &Path, causes: &mut Causes) {
    if !validate_resource_name(name, path, causes) || !matches!(limit_type, TYPE_POD | TYPE_CONTAINER) {
        return;
    }
    // `validateContainerResourceName`.
    if !name.contains('/') {
        let standard = matches!(name, "cpu" | "memory" | "ephemeral-storage") || name.starts_with("hugepages-");
        if !standard {
            causes.invalid(path, name, "must be a standard resource for containers");
        }
    } else if !common::quota::is_native_resource(name) && !common::quota::is_extended_resource_name(name) {
        causes.invalid(path, name, "doesn't follow extended resource name standard");
    }
}

fn parsed(list: Option<&BTreeMap<String, ApiQuantity>>) -> BTreeMap<&str, Quantity> {
    list.into_iter().flatten().filter_map(|(name, value)| Some((name.as_str(), quantity::parse(&value.0).ok()?))).collect()
}

/// One item's names and the order of its bounds.
fn validate_item<'a>(item: &'a LimitRangeItem, path: &Path, causes: &mut Causes) {
    let limit_type = item.type_.as_str();
    let mut keys: BTreeSet<&str> = BTreeSet::new();
    let mut names = |field: &str, list: Option<&'a BTreeMap<String, ApiQuantity>>, causes: &mut Causes| {
        for name in list.into_iter().flatten().map(|(name, _)| name) {
            validate_item_resource_name(limit_type, name, &path.child(field).key(name), causes);
            keys.insert(name.as_str());
        }
    };
    names("max", item.max.as_ref(), causes);
    names("min", item.min.as_ref(), causes);
    if limit_type == TYPE_POD {
        if item.default.as_ref().is_some_and(|list| !list.is_empty()) {
            causes.forbidden(&path.child("default"), "may not be specified when `type` is 'Pod'");
        }
        if item.default_request.as_ref().is_some_and(|list| !list.is_empty()) {
            causes.forbidden(&path.child("defaultRequest"), "may not be specified when `type` is 'Pod'");
        }
    } else {
        names("default", item.default.as_ref(), causes);
        names("defaultRequest", item.default_request.as_ref(), causes);
    }
    if limit_type == TYPE_CLAIM {
        let has = |list: &Option<BTreeMap<String, ApiQuantity>>| list.as_ref().is_some_and(|list| list.contains_key("storage"));
        if !has(&item.min) && !has(&item.max) {
            causes.required(&path.child("limits"), "either minimum or maximum storage value is required, but neither was provided");
        }
    }
    names("maxLimitRequestRatio", item.max_limit_request_ratio.as_ref(), causes);

    let (min, max) = (parsed(item.min.as_ref()), parsed(item.max.as_ref()));
    let (defaults, requests) = if limit_type == TYPE_POD {
        (BTreeMap::new(), BTreeMap::new())
    } else {
        (parsed(item.default.as_ref()), parsed(item.default_request.as_ref()))
    };
    let ratios = parsed(item.max_limit_request_ratio.as_ref());
    for key in keys {
        let at = |field: &str| path.child(field).key(key);
        let (min, max, default, request, ratio) = (min.get(key), max.get(key), defaults.get(key), requests.get(key), ratios.get(key));
        if let (Some(min), Some(max)) = (min, max)
            && min.compare(max).is_gt()
        {
            causes.invalid(&at("min"), min.to_string(), &format!("min value {min} is greater than max value {max}"));
        }
        if let (Some(request), Some(min)) = (request, min)
            && min.compare(request).is_gt()
        {
            causes.invalid(&at("defaultRequest"), request.to_string(), &format!("min value {min} is greater than default request value {request}"));
        }
        if let (Some(request), Some(max)) = (request, max)
            && request.compare(max).is_gt()
        {
            causes.invalid(&at("defaultRequest"), request.to_string(), &format!("default request value {request} is greater than max value {max}"));
        }
        if let (Some(request), Some(default)) = (request, default)
            && request.compare(default).is_gt()
        {
            let detail = format!("default request value {request} is greater than default limit value {default}");
            causes.invalid(&at("defaultRequest"), request.to_string(), &detail);
        }
        if let (Some(default), Some(min)) = (default, min)
            && min.compare(default).is_gt()
        {
            causes.invalid(&at("default"), min.to_string(), &format!("min value {min} is greater than default value {default}"));
        }
        if let (Some(default), Some(max)) = (default, max)
            && default.compare(max).is_gt()
        {
            causes.invalid(&at("default"), max.to_string(), &format!("default value {default} is greater than max value {max}"));
        }
        if let Some(ratio) = ratio
            && ratio.compare(&Quantity::new(1, quantity::Format::DecimalSI)).is_lt()
        {
            causes.invalid(&at("maxLimitRequestRatio"), ratio.to_string(), &format!("ratio {ratio} is less than 1"));
        }
        if let (Some(ratio), Some(min), Some(max)) = (ratio, min, max) {
            let bound = max.milli_value() as f64 / min.milli_value() as f64;
            if ratio.milli_value() as f64 / 1000.0 > bound {
                causes.invalid(&at("maxLimitRequestRatio"), ratio.to_string(), &format!("ratio {ratio} is greater than max/min = {bound:.6}"));
            }
        }
        // Extended resources and huge pages cannot be overcommitted.
        let overcommit = common::quota::is_native_resource(key) && !key.starts_with("hugepages-");
        if let (Some(default), Some(request)) = (default, request)
            && !overcommit
            && default.compare(request).is_ne()
        {
            let detail = format!("default value {default} must equal to defaultRequest value {request} in {key}");
            causes.invalid(&at("defaultRequest"), request.to_string(), &detail);
        }
    }
}

static PRINTER: Printer = Printer {
    columns: &[NAME, Column::new("Created At", "date", 0, "CreationTimestamp is a timestamp representing the server time when this object was created.")],
    cells,
};

/// `printLimitRange`: the name and the creation time as written.
fn cells(object: &Value) -> Vec<Value> {
    vec![printers::name(object), json!(text(object, "/metadata/creationTimestamp"))]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admission::{FieldValidation, admit_create};

    fn limit_range(limits: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": "l", "namespace": "demo"}, "spec": {"limits": limits}})
    }

    fn messages(limits: Value) -> Vec<String> {
        match admit_create(&KIND, limit_range(limits), FieldValidation::Strict) {
            Ok(_) => Vec::new(),
            Err(err) => err.details["causes"].as_array().into_iter().flatten().map(|cause| format!("{}: {}", cause["field"].as_str().unwrap_or_default(), cause["message"].as_str().unwrap_or_default())).collect(),
        }
    }

    #[test]
    fn container_defaults_come_from_max_default_and_min() {
        let admitted = admit_create(
            &KIND,
            limit_range(json!([{"type": "Container", "max": {"cpu": "2"}, "min": {"memory": "64Mi"}, "default": {"memory": "256Mi"}}])),
            FieldValidation::Strict,
        )
        .expect("admitted");
        let item = &admitted.object["spec"]["limits"][0];
        assert_eq!(item["default"], json!({"cpu": "2", "memory": "256Mi"}));
        assert_eq!(item["defaultRequest"], json!({"cpu": "2", "memory": "256Mi"}));
        let pod = admit_create(&KIND, limit_range(json!([{"type": "Pod", "max": {"cpu": "2"}}])), FieldValidation::Strict).expect("admitted");
        assert_eq!(pod.object["spec"]["limits"][0].get("default"), None, "only containers get defaults");
    }

    #[test]
    fn bad_limit_ranges_get_kubes_messages() {
        let rows: Vec<(Value, Vec<&str>)> = vec![
            (json!([{"type": "Container", "min": {"cpu": "2"}, "max": {"cpu": "1"}}]), vec![
                "spec.limits[0].min[cpu]: Invalid value: \"2\": min value 2 is greater than max value 1",
                "spec.limits[0].defaultRequest[cpu]: Invalid value: \"1\": min value 2 is greater than default request value 1",
                "spec.limits[0].default[cpu]: Invalid value: \"2\": min value 2 is greater than default value 1",
            ]),
            (json!([{"type": "Pod", "default": {"cpu": "1"}, "max": {"cpu": "1"}}]), vec![
                "spec.limits[0].default: Forbidden: may not be specified when `type` is 'Pod'",
            ]),
            (json!([{"type": "PersistentVolumeClaim", "max": {"cpu": "1"}}]), vec![
                "spec.limits[0].limits: Required value: either minimum or maximum storage value is required, but neither was provided",
            ]),
            (json!([{"type": "Widget", "max": {"cpu": "1"}}]), vec![
                "spec.limits[0].type: Invalid value: \"Widget\": must be a standard limit type or fully qualified",
            ]),
            (json!([{"type": "Container", "max": {"pods": "1"}}, {"type": "Container"}]), vec![
                "spec.limits[0].max[pods]: Invalid value: \"pods\": must be a standard resource for containers",
                "spec.limits[0].default[pods]: Invalid value: \"pods\": must be a standard resource for containers",
                "spec.limits[0].defaultRequest[pods]: Invalid value: \"pods\": must be a standard resource for containers",
                "spec.limits[1].type: Duplicate value: \"Container\"",
            ]),
            (json!([{"type": "Container", "maxLimitRequestRatio": {"cpu": "500m"}}]), vec![
                "spec.limits[0].maxLimitRequestRatio[cpu]: Invalid value: \"500m\": ratio 500m is less than 1",
            ]),
            (json!([{"type": "Pod", "min": {"cpu": "1"}, "max": {"cpu": "2"}, "maxLimitRequestRatio": {"cpu": "3"}}]), vec![
                "spec.limits[0].maxLimitRequestRatio[cpu]: Invalid value: \"3\": ratio 3 is greater than max/min = 2.000000",
            ]),
            (json!([{"type": "PersistentVolumeClaim", "min": {"storage": "1Gi"}, "max": {"storage": "10Gi"}}]), vec![]),
        ];
        for (limits, expected) in rows {
            assert_eq!(messages(limits.clone()), expected, "{limits}");
        }
    }

    #[test]
    fn printer_shows_the_creation_time() {
        let row = cells(&json!({"metadata": {"name": "l", "creationTimestamp": "2026-12-07T01:00:00Z"}}));
        assert_eq!(row, vec![json!("l"), json!("2026-12-07T01:00:00Z")]);
    }
}
