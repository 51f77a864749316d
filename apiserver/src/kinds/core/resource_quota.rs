//! `ResourceQuota` (`core/v1`): the most a namespace may use. Its declaration (with `/status`,
//! written by the resourcequota controller and by quota admission), its strategy (the status
//! reset on create and kept on updates), its validation (`ValidateResourceQuota`,
//! `ValidateResourceQuotaUpdate`, `ValidateResourceQuotaStatusUpdate`) and its printer
//! (`printResourceQuota`: `pods: 1/2` under REQUEST, `limits.*` under LIMIT).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{ResourceQuota, ResourceQuotaSpec, ScopeSelector};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as ApiQuantity;
use serde_json::{Value, json};

use common::quota;
use crate::admission::field::{Causes, Path};
use crate::admission::{Context, Typed, TypedKind};
use crate::printers::{self, AGE, NAME, Column, Printer};
use crate::registry::Kind;
use crate::resources::ResourceType;

pub static KIND: Kind = Kind {
    resource: ResourceType::builtin("", "v1", "ResourceQuota", "resourcequotas", "resourcequota")
        .namespaced()
        .short_names(&["quota"])
        .subresources(&["status"]),
    strategy: &STRATEGY,
    printer: Some(&PRINTER),
};

static STRATEGY: Typed<ResourceQuota> = Typed::new();

impl TypedKind for ResourceQuota {
    fn check_quantities(&self) -> Result<(), common::quantity::QuantityError> {
        let spec = self.spec.iter().flat_map(|spec| spec.hard.iter());
        let status = self.status.iter().flat_map(|status| [status.hard.as_ref(), status.used.as_ref()]).flatten();
        for value in spec.chain(status).flat_map(|list| list.values()) {
            common::quantity::parse(&value.0)?;
        }
        Ok(())
    }

    /// The status is the controller's and quota admission's (`PrepareForCreate`).
    fn prepare_for_create(&mut self) {
        self.status = None;
    }

    /// A plain update keeps the status (`PrepareForUpdate`).
    fn prepare_for_update(&mut self, old: &Self) {
        self.status.clone_from(&old.status);
    }

    /// A status update keeps the spec.
    fn prepare_for_status_update(&mut self, old: &Self) {
        self.spec.clone_from(&old.spec);
    }

    /// `ValidateResourceQuota`.
    fn validate(&self, _context: &Context, causes: &mut Causes) {
        validate_spec(&self.spec.clone().unwrap_or_default(), &Path::new("spec"), causes);
        let status = self.status.clone().unwrap_or_default();
        validate_list(status.hard.as_ref(), &Path::new("status").child("hard"), causes);
        validate_list(status.used.as_ref(), &Path::new("status").child("used"), causes);
    }

    /// `ValidateResourceQuotaUpdate`: the spec is valid and its scopes stay as they were.
    fn validate_update(&self, old: &Self, _context: &Context, causes: &mut Causes) {
        let spec = self.spec.clone().unwrap_or_default();
        validate_spec(&spec, &Path::new("spec"), causes);
        let scopes = |quota: &Self| -> std::collections::BTreeSet<String> {
            quota.spec.as_ref().and_then(|spec| spec.scopes.clone()).into_iter().flatten().collect()
        };
        if scopes(self) != scopes(old) {
            let shown = go_scopes(spec.scopes.as_deref());
            causes.invalid_shown(&Path::new("spec").child("scopes"), &shown, "field is immutable");
        }
    }

    /// `ValidateResourceQuotaStatusUpdate`.
    fn validate_status_update(&self, _old: &Self, _context: &Context, causes: &mut Causes) {
        let status = self.status.clone().unwrap_or_default();
        validate_list(status.hard.as_ref(), &Path::new("status").child("hard"), causes);
        validate_list(status.used.as_ref(), &Path::new("status").child("used"), causes);
    }
}

/// `ValidateResourceQuotaSpec`.
fn validate_spec(spec: &ResourceQuotaSpec, path: &Path, causes: &mut Causes) {
    validate_list(spec.hard.as_ref(), &path.child("hard"), causes);
    validate_scopes(spec, path, causes);
    validate_scope_selector(spec, path, causes);
}

/// Each resource of a `hard` or `used` list: a quota resource name, a valid amount.
fn validate_list(list: Option<&BTreeMap<String, ApiQuantity>>, path: &Path, causes: &mut Causes) {
    for (name, value) in list.into_iter().flatten() {
        let resource_path = path.key(name);
        validate_quota_resource_name(name, &resource_path, causes);
        validate_quantity_value(name, value, &resource_path, causes);
    }
}

/// `validateResourceName`: a qualified name, and a standard one when unqualified.
pub(crate) fn validate_resource_name(name: &str, path: &Path, causes: &mut Causes) -> bool {
    let messages = common::names::qualified_name(name);
    if !messages.is_empty() {
        causes.invalid_each(path, name, messages);
        return false;
    }
    if !name.contains('/') && !quota::is_standard_resource_name(name) {
        causes.invalid(path, name, "must be a standard resource type or fully qualified");
        return false;
    }
    true
}

/// `ValidateResourceQuotaResourceName`: besides [`validate_resource_name`], an unqualified name
/// must be one quota knows.
fn validate_quota_resource_name(name: &str, path: &Path, causes: &mut Causes) {
    validate_resource_name(name, path, causes);
    if !name.contains('/') && !quota::is_standard_quota_resource_name(name) {
        causes.invalid(path, name, "must be a standard resource for quota");
    }
}

/// `ValidateResourceQuantityValue`: not negative, and whole for counted resources.
pub(crate) fn validate_quantity_value(name: &str, value: &ApiQuantity, path: &Path, causes: &mut Causes) {
    let Ok(parsed) = common::quantity::parse(&value.0) else { return };
    if parsed.is_negative() {
        causes.invalid(path, parsed.to_string(), "must be greater than or equal to 0");
    }
    if quota::is_integer_resource_name(name) && parsed.milli_value() % 1000 != 0 {
        causes.invalid(path, parsed.to_string(), "must be an integer");
    }
}

/// Go's `%#v` of a string slice of type `type_name`, as kube shows a list it refuses: `nil`
/// when absent.
fn go_strings(type_name: &str, values: Option<&[String]>) -> String {
    match values {
        None => format!("{type_name}(nil)"),
        Some(values) => {
            let items: Vec<String> = values.iter().map(|value| format!("{value:?}")).collect();
            format!("{type_name}{{{}}}", items.join(", "))
        }
    }
}

fn go_scopes(scopes: Option<&[String]>) -> String {
    go_strings("[]core.ResourceQuotaScope", scopes)
}

/// Go's `%#v` of a `core.ScopeSelector`.
fn go_scope_selector(selector: &ScopeSelector) -> String {
    let requirements: Vec<String> = selector
        .match_expressions
        .iter()
        .flatten()
        .map(|requirement| {
            format!(
                "core.ScopedResourceSelectorRequirement{{ScopeName:{:?}, Operator:{:?}, Values:{}}}",
                requirement.scope_name,
                requirement.operator,
                go_strings("[]string", requirement.values.as_deref())
            )
        })
        .collect();
    let expressions = match selector.match_expressions {
        None => "[]core.ScopedResourceSelectorRequirement(nil)".to_owned(),
        Some(_) => format!("[]core.ScopedResourceSelectorRequirement{{{}}}", requirements.join(", ")),
    };
    format!("core.ScopeSelector{{MatchExpressions:{expressions}}}")
}

/// The scope pairs a quota may not have both of.
const CONFLICTING_SCOPES: [(&str, &str); 2] = [
    (quota::SCOPE_BEST_EFFORT, quota::SCOPE_NOT_BEST_EFFORT),
    (quota::SCOPE_TERMINATING, quota::SCOPE_NOT_TERMINATING),
];

/// The standard quota resources of `hard`, in name order.
fn standard_hard_names(spec: &ResourceQuotaSpec) -> Vec<&str> {
    spec.hard.iter().flatten().map(|(name, _)| name.as_str()).filter(|name| quota::is_standard_quota_resource_name(name)).collect()
}

/// `validateResourceQuotaScopes`.
fn validate_scopes(spec: &ResourceQuotaSpec, path: &Path, causes: &mut Causes) {
    let scopes = spec.scopes.as_deref().unwrap_or_default();
    if scopes.is_empty() {
        return;
    }
    let scopes_path = path.child("scopes");
    let shown = go_scopes(spec.scopes.as_deref());
    for scope in scopes {
        if !quota::is_standard_scope(scope) {
            causes.invalid_shown(&scopes_path, &shown, "unsupported scope");
        }
        for name in standard_hard_names(spec) {
            if !quota::is_scope_valid_for_resource(scope, name) {
                causes.invalid_shown(&scopes_path, &shown, "unsupported scope applied to resource");
            }
        }
    }
    for (one, other) in CONFLICTING_SCOPES {
        if scopes.iter().any(|scope| scope == one) && scopes.iter().any(|scope| scope == other) {
            causes.invalid_shown(&scopes_path, &shown, "conflicting scopes");
        }
    }
}

/// `validateScopeSelector` and `validateScopedResourceSelectorRequirement`.
fn validate_scope_selector(spec: &ResourceQuotaSpec, path: &Path, causes: &mut Causes) {
    let Some(selector) = spec.scope_selector.as_ref() else { return };
    let path = path.child("scopeSelector").child("matchExpressions");
    let expressions = selector.match_expressions.as_deref().unwrap_or_default();
    let shown_selector = go_scope_selector(selector);
    for requirement in expressions {
        let scope = requirement.scope_name.as_str();
        if !quota::is_standard_scope(scope) {
            causes.invalid(&path.child("scopeName"), scope, "unsupported scope");
        }
        for name in standard_hard_names(spec) {
            if !quota::is_scope_valid_for_resource(scope, name) {
                causes.invalid_shown(&path, &shown_selector, "unsupported scope applied to resource");
            }
        }
        let operator = requirement.operator.as_str();
        let exists_only = [
            quota::SCOPE_BEST_EFFORT,
            quota::SCOPE_NOT_BEST_EFFORT,
            quota::SCOPE_TERMINATING,
            quota::SCOPE_NOT_TERMINATING,
            quota::SCOPE_CROSS_NAMESPACE_POD_AFFINITY,
        ];
        if exists_only.contains(&scope) && operator != "Exists" {
            causes.invalid(
                &path.child("operator"),
                operator,
                "must be 'Exists' when scope is any of ResourceQuotaScopeTerminating, ResourceQuotaScopeNotTerminating, ResourceQuotaScopeBestEffort, ResourceQuotaScopeNotBestEffort or ResourceQuotaScopeCrossNamespacePodAffinity",
            );
        }
        let values = requirement.values.as_deref().unwrap_or_default();
        match operator {
            "In" | "NotIn" if values.is_empty() => causes.required(
                &path.child("values"),
                "must be at least one value when `operator` is 'In' or 'NotIn' for scope selector",
            ),
            "In" | "NotIn" => {}
            "Exists" | "DoesNotExist" if !values.is_empty() => {
                let shown = go_strings("[]string", Some(values));
                causes.invalid_shown(
                    &path.child("values"),
                    &shown,
                    "must be no value when `operator` is 'Exist' or 'DoesNotExist' for scope selector",
                );
            }
            "Exists" | "DoesNotExist" => {}
            _ => causes.invalid(&path.child("operator"), operator, "not a valid selector operator"),
        }
    }
    for (one, other) in CONFLICTING_SCOPES {
        let has = |scope: &str| expressions.iter().any(|requirement| requirement.scope_name == scope);
        if has(one) && has(other) {
            causes.invalid_shown(&path, &go_scopes(spec.scopes.as_deref()), "conflicting scopes");
        }
    }
}

static PRINTER: Printer = Printer {
    columns: &[
        NAME,
        AGE,
        Column::new("Request", "string", 0, "Request represents a minimum amount of cpu/memory that a container may consume."),
        Column::new(
            "Limit",
            "string",
            0,
            "Limits control the maximum amount of cpu/memory that a container may use independent of contention on the node.",
        ),
    ],
    cells,
};

/// `printResourceQuota`: `name: used/hard` for each hard resource in name order, `limits.*`
/// under LIMIT and the rest under REQUEST; a resource without usage shows `0`.
fn cells(object: &Value) -> Vec<Value> {
    let hard = quota::from_json(object.pointer("/status/hard").unwrap_or(&Value::Null));
    let used = quota::from_json(object.pointer("/status/used").unwrap_or(&Value::Null));
    let (mut requests, mut limits) = (Vec::new(), Vec::new());
    for (name, limit) in &hard {
        let usage = used.get(name).map_or_else(|| "0".to_owned(), ToString::to_string);
        let column = if name.split('.').next() == Some("limits") && name.contains('.') { &mut limits } else { &mut requests };
        column.push(format!("{name}: {usage}/{limit}"));
    }
    vec![printers::name(object), printers::age_of(object), json!(requests.join(", ")), json!(limits.join(", "))]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admission::test_support::*;
    use crate::admission::{FieldValidation, admit_create, admit_update};

    fn quota(spec: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "q", "namespace": "demo"}, "spec": spec})
    }

    fn messages(spec: Value) -> Vec<String> {
        match admit_create(&KIND, quota(spec), FieldValidation::Strict) {
            Ok(_) => Vec::new(),
            Err(err) => err.details["causes"].as_array().into_iter().flatten().map(|cause| format!("{}: {}", cause["field"].as_str().unwrap_or_default(), cause["message"].as_str().unwrap_or_default())).collect(),
        }
    }

    #[test]
    fn hard_names_must_be_quota_resources() {
        assert_eq!(
            messages(json!({"hard": {"foo": "1"}})),
            vec![
                "spec.hard[foo]: Invalid value: \"foo\": must be a standard resource type or fully qualified",
                "spec.hard[foo]: Invalid value: \"foo\": must be a standard resource for quota",
            ]
        );
        assert_eq!(messages(json!({"hard": {"storage": "1Gi"}})), vec!["spec.hard[storage]: Invalid value: \"storage\": must be a standard resource for quota"]);
        let good = json!({"hard": {"pods": "2", "requests.cpu": "1", "count/deployments.apps": "3", "gold.storageclass.storage.k8s.io/requests.storage": "1Gi", "requests.example.com/gpu": "1"}});
        assert_eq!(messages(good), Vec::<String>::new());
        assert_eq!(messages(json!({"hard": {"pods": "1500m"}})), vec!["spec.hard[pods]: Invalid value: \"1500m\": must be an integer"]);
        assert_eq!(messages(json!({"hard": {"cpu": "-1"}})), vec!["spec.hard[cpu]: Invalid value: \"-1\": must be greater than or equal to 0"]);
    }

    #[test]
    fn scopes_as_kube_checks_them() {
        assert_eq!(
            messages(json!({"hard": {"requests.cpu": "1"}, "scopes": ["BestEffort"]})),
            vec!["spec.scopes: Invalid value: []core.ResourceQuotaScope{\"BestEffort\"}: unsupported scope applied to resource"]
        );
        assert_eq!(
            messages(json!({"hard": {"pods": "1"}, "scopes": ["Terminating", "NotTerminating"]})),
            vec!["spec.scopes: Invalid value: []core.ResourceQuotaScope{\"Terminating\", \"NotTerminating\"}: conflicting scopes"]
        );
        assert_eq!(
            messages(json!({"hard": {"pods": "1"}, "scopes": ["Everything"]})),
            vec!["spec.scopes: Invalid value: []core.ResourceQuotaScope{\"Everything\"}: unsupported scope"]
        );
        assert_eq!(
            messages(json!({"hard": {"pods": "1"}, "scopeSelector": {"matchExpressions": [{"scopeName": "PriorityClass", "operator": "In"}]}})),
            vec!["spec.scopeSelector.matchExpressions.values: Required value: must be at least one value when `operator` is 'In' or 'NotIn' for scope selector"]
        );
        assert_eq!(
            messages(json!({"hard": {"pods": "1"}, "scopeSelector": {"matchExpressions": [{"scopeName": "BestEffort", "operator": "In", "values": ["x"]}]}})),
            vec!["spec.scopeSelector.matchExpressions.operator: Invalid value: \"In\": must be 'Exists' when scope is any of ResourceQuotaScopeTerminating, ResourceQuotaScopeNotTerminating, ResourceQuotaScopeBestEffort, ResourceQuotaScopeNotBestEffort or ResourceQuotaScopeCrossNamespacePodAffinity"]
        );
        assert_eq!(messages(json!({"hard": {"pods": "1"}, "scopeSelector": {"matchExpressions": [{"scopeName": "PriorityClass", "operator": "In", "values": ["high"]}]}})), Vec::<String>::new());
        assert_eq!(
            messages(json!({"hard": {"requests.cpu": "1"}, "scopeSelector": {"matchExpressions": [{"scopeName": "BestEffort", "operator": "Exists"}]}})),
            vec!["spec.scopeSelector.matchExpressions: Invalid value: core.ScopeSelector{MatchExpressions:[]core.ScopedResourceSelectorRequirement{core.ScopedResourceSelectorRequirement{ScopeName:\"BestEffort\", Operator:\"Exists\", Values:[]string(nil)}}}: unsupported scope applied to resource"]
        );
    }

    #[test]
    fn status_is_reset_on_create_kept_on_update_and_scopes_are_immutable() {
        let mut object = quota(json!({"hard": {"pods": "2"}, "scopes": ["BestEffort"]}));
        object["status"] = json!({"hard": {"pods": "2"}, "used": {"pods": "9"}});
        let created = admit_create(&KIND, object, FieldValidation::Strict).expect("admitted").object;
        assert_eq!(created.get("status"), None);
        let mut stored = created.clone();
        stored["status"] = json!({"hard": {"pods": "2"}, "used": {"pods": "1"}});
        let mut update = stored.clone();
        update["status"] = json!({});
        update["spec"]["scopes"] = json!(["NotBestEffort"]);
        let err = admit_update(&KIND, update, &stored, FieldValidation::Strict).expect_err("scopes changed");
        assert_eq!(cause_fields(&err), vec!["spec.scopes"]);
        let mut update = stored.clone();
        update["spec"]["hard"]["pods"] = json!("3");
        let updated = admit_update(&KIND, update, &stored, FieldValidation::Strict).expect("admitted").object;
        assert_eq!(updated["status"]["used"]["pods"], "1");
    }

    #[test]
    fn printer_splits_requests_and_limits() {
        let object = json!({"metadata": {"name": "q"}, "status": {
            "hard": {"pods": "2", "requests.cpu": "1", "limits.memory": "1Gi", "limits.cpu": "2"},
            "used": {"pods": "1", "requests.cpu": "500m", "limits.memory": "1024Mi"}}});
        let row = cells(&object);
        assert_eq!(row[2], "pods: 1/2, requests.cpu: 500m/1");
        assert_eq!(row[3], "limits.cpu: 0/2, limits.memory: 1Gi/1Gi");
    }
}
