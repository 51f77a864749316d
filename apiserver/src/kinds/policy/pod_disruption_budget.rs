//! `PodDisruptionBudget` (`policy/v1`, namespaced, `/status`): how many of a set of pods a
//! voluntary disruption (an eviction) may take down at once. Its declaration, its strategy (the
//! status reset on create, the spec kept on a status update; the generation, which the eviction
//! compares with `status.observedGeneration`), its validation (`ValidatePodDisruptionBudget`,
//! `ValidatePodDisruptionBudgetStatusUpdate`) and its printer (`printPodDisruptionBudget`).

use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec, PodDisruptionBudgetStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use serde_json::{Value, json};

use crate::admission::deployment::{non_negative, not_more_than_100_percent, validate_int_or_percent, validate_label_selector};
use crate::admission::field::{Causes, Path};
use crate::admission::{Context, Typed, TypedKind};
use crate::printers::{self, AGE, NAME, Column, Printer, number};
use crate::registry::Kind;
use crate::resources::ResourceType;

pub static KIND: Kind = Kind {
    resource: ResourceType::builtin("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", "poddisruptionbudget")
        .namespaced()
        .short_names(&["pdb"])
        .subresources(&["status"])
        .tracks_generation(),
    strategy: &STRATEGY,
    printer: Some(&PRINTER),
};

static STRATEGY: Typed<PodDisruptionBudget> = Typed::new();

/// The `unhealthyPodEvictionPolicy` values (`supportedUnhealthyPodEvictionPolicies`, sorted as
/// Go's `sets.String.List` gives them).
const EVICTION_POLICIES: &[&str] = &["AlwaysAllow", "IfHealthyBudget"];

impl TypedKind for PodDisruptionBudget {
    /// The status is the disruption controller's: a new budget allows nothing until it ran.
    fn prepare_for_create(&mut self) {
        self.status = Some(PodDisruptionBudgetStatus::default());
    }

    /// The status is written through its subresource only.
    fn prepare_for_update(&mut self, old: &Self) {
        self.status.clone_from(&old.status);
    }

    /// `ValidatePodDisruptionBudget`.
    fn validate(&self, _context: &Context, causes: &mut Causes) {
        validate_spec(&self.spec.clone().unwrap_or_default(), &Path::new("spec"), causes);
    }

    /// `ValidatePodDisruptionBudget` again, with `AllowInvalidLabelValueInSelector` when the
    /// stored budget's selector already has an expression value that is no label value (one
    /// from before kube validated them), so that such a budget can still be changed.
    fn validate_update(&self, old: &Self, context: &Context, causes: &mut Causes) {
        let expressions = old.spec.as_ref().and_then(|spec| spec.selector.as_ref()).and_then(|selector| selector.match_expressions.as_ref());
        let mut values = expressions.into_iter().flatten().flat_map(|requirement| requirement.values.iter().flatten());
        let allow_invalid_values = values.any(|value| !common::names::label_value(value).is_empty());
        if !allow_invalid_values {
            return self.validate(context, causes);
        }
        let mut found = Causes::new();
        self.validate(context, &mut found);
        let value_cause = |field: &str| field.starts_with("spec.selector.matchExpressions[") && field.contains("].values[");
        for cause in found.into_vec() {
            if !(cause.reason == "FieldValueInvalid" && value_cause(&cause.field)) {
                causes.push(cause);
            }
        }
    }

    /// `ValidatePodDisruptionBudgetStatusUpdate` (policy/v1: the counts are never negative).
    fn validate_status_update(&self, _old: &Self, _context: &Context, causes: &mut Causes) {
        let status = self.status.clone().unwrap_or_default();
        let path = Path::new("status");
        validate_conditions(status.conditions.as_deref().unwrap_or_default(), &path.child("conditions"), causes);
        non_negative(&path.child("disruptionsAllowed"), status.disruptions_allowed.into(), causes);
        non_negative(&path.child("currentHealthy"), status.current_healthy.into(), causes);
        non_negative(&path.child("desiredHealthy"), status.desired_healthy.into(), causes);
        non_negative(&path.child("expectedPods"), status.expected_pods.into(), causes);
    }
}

/// `ValidatePodDisruptionBudgetSpec`.
fn validate_spec(spec: &PodDisruptionBudgetSpec, path: &Path, causes: &mut Causes) {
    if spec.min_available.is_some() && spec.max_unavailable.is_some() {
        causes.invalid_shown(path, &go_spec(spec), "minAvailable and maxUnavailable cannot be both set");
    }
    for (field, value) in [("minAvailable", &spec.min_available), ("maxUnavailable", &spec.max_unavailable)] {
        if let Some(value) = value {
            validate_int_or_percent(value, &path.child(field), causes);
            not_more_than_100_percent(value, &path.child(field), causes);
        }
    }
    if let Some(selector) = &spec.selector {
        validate_label_selector(selector, &path.child("selector"), causes);
    }
    if let Some(policy) = spec.unhealthy_pod_eviction_policy.as_deref()
        && !EVICTION_POLICIES.contains(&policy)
    {
        causes.not_supported(&path.child("unhealthyPodEvictionPolicy"), policy, EVICTION_POLICIES);
    }
}

/// The spec as kube's cause shows it: Go's `%#v` of the internal struct, whose fields are
/// pointers printed as addresses (one fixed address here, as no client can rely on Go's).
fn go_spec(spec: &PodDisruptionBudgetSpec) -> String {
    let pointer = |set: bool, kind: &str| if set { format!("(*{kind})(0xc000000000)") } else { format!("(*{kind})(nil)") };
    format!(
        "policy.PodDisruptionBudgetSpec{{MinAvailable:{}, Selector:{}, MaxUnavailable:{}, UnhealthyPodEvictionPolicy:{}}}",
        pointer(spec.min_available.is_some(), "intstr.IntOrString"),
        pointer(spec.selector.is_some(), "v1.LabelSelector"),
        pointer(spec.max_unavailable.is_some(), "intstr.IntOrString"),
        pointer(spec.unhealthy_pod_eviction_policy.is_some(), "policy.UnhealthyPodEvictionPolicy"),
    )
}

/// The status values of a `metav1.Condition`, sorted as kube lists them.
const CONDITION_STATUSES: &[&str] = &["False", "True", "Unknown"];

/// `metav1validation.ValidateConditions`: each type once, each condition well formed.
pub(crate) fn validate_conditions(conditions: &[Condition], path: &Path, causes: &mut Causes) {
    let mut seen = std::collections::BTreeSet::new();
    for (index, condition) in conditions.iter().enumerate() {
        let condition_path = path.index(index);
        if !seen.insert(condition.type_.as_str()) {
            causes.duplicate(&condition_path.child("type"), condition.type_.as_str());
        }
        causes.invalid_each(&condition_path.child("type"), &condition.type_, common::names::qualified_name(&condition.type_));
        if !CONDITION_STATUSES.contains(&condition.status.as_str()) {
            causes.not_supported(&condition_path.child("status"), condition.status.as_str(), CONDITION_STATUSES);
        }
        if let Some(generation) = condition.observed_generation
            && generation < 0
        {
            causes.invalid(&condition_path.child("observedGeneration"), generation, "must be greater than or equal to zero");
        }
        if condition.reason.is_empty() {
            causes.required(&condition_path.child("reason"), "must be set");
        } else {
            if !is_condition_reason(&condition.reason) {
                causes.invalid(&condition_path.child("reason"), condition.reason.as_str(), REASON_FORMAT_MESSAGE);
            }
            if condition.reason.len() > 1024 {
                causes.too_long(&condition_path.child("reason"), 1024);
            }
        }
        if condition.message.len() > 32 * 1024 {
            causes.too_long(&condition_path.child("message"), 32 * 1024);
        }
    }
}

const REASON_FORMAT_MESSAGE: &str = "a condition reason must start with alphabetic character, optionally followed by a string of alphanumeric characters or '_,:', and must end with an alphanumeric character or '_' (e.g. 'my_name',  or 'MY_NAME',  or 'MyName',  or 'ReasonA,ReasonB',  or 'ReasonA:ReasonB', regex used for validation is '[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?')";

/// `[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?`, kube's condition reason format.
fn is_condition_reason(reason: &str) -> bool {
    let bytes = reason.as_bytes();
    let inner = |byte: &u8| byte.is_ascii_alphanumeric() || matches!(byte, b'_' | b',' | b':');
    match bytes {
        [] => false,
        [first] => first.is_ascii_alphabetic(),
        [first, middle @ .., last] => first.is_ascii_alphabetic() && middle.iter().all(inner) && (last.is_ascii_alphanumeric() || *last == b'_'),
    }
}

static PRINTER: Printer = Printer {
    columns: &[
        NAME,
        Column::new("Min Available", "string", 0, "The minimum number of pods that must be available."),
        Column::new("Max Unavailable", "string", 0, "The maximum number of pods that may be unavailable."),
        Column::new("Allowed Disruptions", "integer", 0, "Calculated number of pods that may be disrupted at this time."),
        AGE,
    ],
    cells,
};

/// `printPodDisruptionBudget`'s row: `N/A` for the bound not set.
fn cells(budget: &Value) -> Vec<Value> {
    let bound = |field: &str| match budget.pointer(&format!("/spec/{field}")) {
        Some(Value::Number(number)) => number.to_string(),
        Some(Value::String(text)) => text.clone(),
        _ => "N/A".to_string(),
    };
    vec![
        printers::name(budget),
        json!(bound("minAvailable")),
        json!(bound("maxUnavailable")),
        json!(number(budget, "/status/disruptionsAllowed")),
        printers::age_of(budget),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admission::test_support::*;

    fn budget(name: &str) -> Value {
        json!({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": name, "namespace": "demo"},
            "spec": {"minAvailable": 2, "selector": {"matchLabels": {"app": "web"}}}})
    }

    #[test]
    fn a_new_budget_has_an_empty_status() {
        let admitted = admitted(resource("poddisruptionbudgets"), with(budget("web"), "/status", json!({"disruptionsAllowed": 5})));
        assert_eq!(admitted["status"], json!({"currentHealthy": 0, "desiredHealthy": 0, "disruptionsAllowed": 0, "expectedPods": 0}));
        assert_eq!(admitted["spec"]["minAvailable"], 2);
    }

    #[test]
    fn bad_budgets_get_kube_apiservers_causes() {
        let both = with(budget("web"), "/spec/maxUnavailable", json!("50%"));
        let rows: Vec<(&str, Value, Outcome)> = vec![
            ("a percentage", with(budget("web"), "/spec/minAvailable", json!("50%")), Outcome::Admitted),
            ("no selector", without(budget("web"), "/spec/selector"), Outcome::Admitted),
            ("both bounds", both, invalid(&["spec"],
                "spec: Invalid value: policy.PodDisruptionBudgetSpec{MinAvailable:(*intstr.IntOrString)(0xc000000000), Selector:(*v1.LabelSelector)(0xc000000000), MaxUnavailable:(*intstr.IntOrString)(0xc000000000), UnhealthyPodEvictionPolicy:(*policy.UnhealthyPodEvictionPolicy)(nil)}: minAvailable and maxUnavailable cannot be both set")),
            ("negative", with(budget("web"), "/spec/minAvailable", json!(-1)), invalid(&["spec.minAvailable"], "Invalid value: -1: must be greater than or equal to 0")),
            ("over 100%", with(budget("web"), "/spec/minAvailable", json!("120%")), invalid(&["spec.minAvailable"], "Invalid value: \"120%\": must not be greater than 100%")),
            ("not a percentage", with(budget("web"), "/spec/minAvailable", json!("half")), invalid(&["spec.minAvailable"], "Invalid value: \"half\": a valid percent string must be")),
            ("an unknown policy", with(budget("web"), "/spec/unhealthyPodEvictionPolicy", json!("Sometimes")),
             invalid(&["spec.unhealthyPodEvictionPolicy"], "Unsupported value: \"Sometimes\": supported values: \"AlwaysAllow\", \"IfHealthyBudget\"")),
            ("a bad selector", with(budget("web"), "/spec/selector", json!({"matchExpressions": [{"key": "app", "operator": "In"}]})),
             invalid(&["spec.selector.matchExpressions[0].values"], "must be specified when `operator` is 'In' or 'NotIn'")),
        ];
        run_create("poddisruptionbudgets", rows);
    }

    #[test]
    fn the_spec_may_change_and_the_status_only_through_its_subresource() {
        let stored = with(admitted(resource("poddisruptionbudgets"), budget("web")), "/status/disruptionsAllowed", json!(1));
        let changed = with(with(stored.clone(), "/spec/minAvailable", json!(3)), "/status/disruptionsAllowed", json!(9));
        let updated = crate::admission::admit_update(resource("poddisruptionbudgets"), changed, &stored, crate::strategy::FieldValidation::Strict).expect("a new bound");
        assert_eq!((updated.object["spec"]["minAvailable"].clone(), updated.object["status"]["disruptionsAllowed"].clone()), (json!(3), json!(1)));
        let status = |status: Value| crate::admission::admit_status_update(resource("poddisruptionbudgets"), with(stored.clone(), "/status", status), &stored, crate::strategy::FieldValidation::Strict);
        let condition = json!({"type": "DisruptionAllowed", "status": "True", "reason": "SufficientPods", "message": "", "lastTransitionTime": "2026-01-01T00:00:00Z"});
        let written = status(json!({"observedGeneration": 1, "disruptionsAllowed": 1, "currentHealthy": 3, "desiredHealthy": 2, "expectedPods": 3, "conditions": [condition]}));
        assert_eq!(written.expect("a controller's status").object["status"]["currentHealthy"], 3);
        let refused = status(json!({"disruptionsAllowed": -1, "currentHealthy": 0, "desiredHealthy": 0, "expectedPods": 0,
            "conditions": [with(condition.clone(), "/reason", json!("1bad")), with(condition, "/status", json!("Maybe"))]})).expect_err("negative");
        assert_eq!(cause_fields(&refused), ["status.conditions[0].reason", "status.conditions[1].type", "status.conditions[1].status", "status.disruptionsAllowed"]);
    }

    #[test]
    fn a_budget_with_an_old_invalid_selector_value_may_still_change() {
        let invalid = json!({"matchExpressions": [{"key": "app", "operator": "In", "values": ["not valid!"]}]});
        let refused = crate::admission::admit_create(resource("poddisruptionbudgets"), with(budget("web"), "/spec/selector", invalid.clone()), crate::strategy::FieldValidation::Strict).expect_err("an invalid value");
        assert_eq!(cause_fields(&refused), ["spec.selector.matchExpressions[0].values[0]"]);
        // As stored before kube checked the values.
        let stored = with(with(budget("web"), "/spec/selector", invalid), "/status", json!({"disruptionsAllowed": 0, "currentHealthy": 0, "desiredHealthy": 0, "expectedPods": 0}));
        let changed = with(stored.clone(), "/spec/minAvailable", json!(1));
        assert!(crate::admission::admit_update(resource("poddisruptionbudgets"), changed, &stored, crate::strategy::FieldValidation::Strict).is_ok());
        let fine = with(budget("web"), "/status", stored["status"].clone());
        let refused = crate::admission::admit_update(resource("poddisruptionbudgets"), with(stored.clone(), "/spec/selector/matchExpressions/0/values/0", json!("x y")), &fine, crate::strategy::FieldValidation::Strict);
        assert!(refused.is_err(), "a valid stored selector keeps the check");
    }

    #[test]
    fn a_budget_prints_as_kubectl_shows_it() {
        let printed = printers::row_of("PodDisruptionBudget", &json!({"metadata": {"name": "web"}, "spec": {"maxUnavailable": "25%"}, "status": {"disruptionsAllowed": 1}}));
        assert_eq!(printed[..4], [json!("web"), json!("N/A"), json!("25%"), json!(1)]);
        let printed = printers::row_of("PodDisruptionBudget", &budget("web"));
        assert_eq!(printed[..4], [json!("web"), json!("2"), json!("N/A"), json!(0)]);
    }
}
