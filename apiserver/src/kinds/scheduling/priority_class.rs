//! `PriorityClass` (`scheduling.k8s.io/v1`, cluster-scoped): a name for a pod priority. Its
//! declaration, its defaults (`SetDefaults_PriorityClass`), its validation
//! (`ValidatePriorityClass`, `ValidatePriorityClassUpdate`), the Priority admission plugin's
//! check of its create (one global default), its storage's refusal to delete the system classes,
//! the system classes the apiserver makes at start (kube's
//! `scheduling/bootstrap-system-priority-classes` hook) and its printer (`printPriorityClass`).

use k8s_openapi::api::scheduling::v1::PriorityClass;
use serde_json::{Value, json};

use crate::admission::field::{Causes, Path};
use crate::admission::priority::default_class;
use crate::admission::{Context, Typed, TypedKind};
use crate::errors::ApiError;
use crate::printers::{self, AGE, NAME, Column, Printer, number, text};
use crate::registry::Kind;
use crate::resources::ResourceType;
use crate::strategy::{Admitted, Cluster, FieldValidation, Operation, Strategy};

pub static KIND: Kind = Kind {
    resource: ResourceType::builtin("scheduling.k8s.io", "v1", "PriorityClass", "priorityclasses", "priorityclass").short_names(&["pc"]),
    strategy: &STRATEGY,
    printer: Some(&PRINTER),
};

static STRATEGY: PriorityClassStrategy = PriorityClassStrategy(Typed::new());

struct PriorityClassStrategy(Typed<PriorityClass>);

/// The highest value a class other than the system ones may have
/// (`scheduling.HighestUserDefinablePriority`).
pub(crate) const HIGHEST_USER_DEFINABLE_PRIORITY: i32 = 1_000_000_000;

/// `scheduling.SystemCriticalPriority`.
const SYSTEM_CRITICAL_PRIORITY: i32 = 2 * HIGHEST_USER_DEFINABLE_PRIORITY;

/// kube's `SystemPriorityClasses()`: name, value and description of each.
pub(crate) const SYSTEM_CLASSES: [(&str, i32, &str); 2] = [
    ("system-node-critical", SYSTEM_CRITICAL_PRIORITY + 1000, "Used for system critical pods that must not be moved from their current node."),
    ("system-cluster-critical", SYSTEM_CRITICAL_PRIORITY, "Used for system critical pods that must run in the cluster, but can be moved to another node if necessary."),
];

const SYSTEM_PREFIX: &str = "system-";

const PREEMPTION_POLICIES: &[&str] = &["Never", "PreemptLowerPriority"];

/// The system classes as the apiserver creates them when they are missing, for
/// `rest::ensure_defaults`.
pub(crate) fn system_classes() -> Vec<(&'static str, Value)> {
    SYSTEM_CLASSES
        .iter()
        .map(|(name, value, description)| {
            ("priorityclasses", json!({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": name}, "value": value, "description": description}))
        })
        .collect()
}

/// kube's `admission.NewForbidden` for a priority class: `priorityclasses.scheduling.k8s.io "x"
/// is forbidden: <why>`.
fn forbidden(name: &str, why: &str) -> ApiError {
    let mut error = ApiError::forbidden(format!("priorityclasses.scheduling.k8s.io {name:?} is forbidden: {why}"));
    error.details = json!({"name": name, "group": "scheduling.k8s.io", "kind": "priorityclasses"});
    error
}

#[async_trait::async_trait]
impl Strategy for PriorityClassStrategy {
    fn admit(&self, resource: &ResourceType, object: Value, old: Option<&Value>, operation: Operation, validation: FieldValidation) -> Result<Admitted, ApiError> {
        self.0.admit(resource, object, old, operation, validation)
    }

    /// The Priority admission plugin's `validatePriorityClass` on create: one class at most is
    /// the global default.
    async fn check_create(&self, cluster: &dyn Cluster, _namespace: Option<&str>, class: &Value) -> Result<(), ApiError> {
        if class.get("globalDefault").and_then(Value::as_bool) != Some(true) {
            return Ok(());
        }
        let classes = cluster.list("scheduling.k8s.io", "v1", "priorityclasses", None).await?;
        match default_class(&classes) {
            Some(default) => {
                let name = crate::meta::name(class).unwrap_or_default();
                let default_name = crate::meta::name(default).unwrap_or_default();
                Err(forbidden(name, &format!("PriorityClass {default_name} is already marked as default. Only one default can exist")))
            }
            None => Ok(()),
        }
    }

    /// The same on update: a class may become the default only while no other is.
    async fn check_update(&self, cluster: &dyn Cluster, _namespace: Option<&str>, class: &Value, _old: &Value) -> Result<(), ApiError> {
        if class.get("globalDefault").and_then(Value::as_bool) != Some(true) {
            return Ok(());
        }
        let classes = cluster.list("scheduling.k8s.io", "v1", "priorityclasses", None).await?;
        let name = crate::meta::name(class).unwrap_or_default();
        match default_class(&classes).and_then(crate::meta::name) {
            Some(default_name) if default_name != name => {
                Err(forbidden(name, &format!("PriorityClass {default_name} is already marked as default. Only one default can exist")))
            }
            _ => Ok(()),
        }
    }

    /// kube's priority class storage keeps the system classes.
    fn check_delete(&self, name: &str) -> Result<(), ApiError> {
        if SYSTEM_CLASSES.iter().any(|(system, _, _)| *system == name) {
            return Err(forbidden(name, "this is a system priority class and cannot be deleted"));
        }
        Ok(())
    }
}

impl TypedKind for PriorityClass {
    /// `SetDefaults_PriorityClass`.
    fn apply_defaults(&mut self) {
        if self.preemption_policy.is_none() {
            self.preemption_policy = Some("PreemptLowerPriority".into());
        }
    }

    /// `ValidatePriorityClass`: the `system-` names are the system classes' own, with their
    /// values; no other class goes above the highest user definable priority.
    fn validate(&self, _context: &Context, causes: &mut Causes) {
        let name = self.metadata.name.as_deref().unwrap_or_default();
        if name.starts_with(SYSTEM_PREFIX) {
            if let Err(why) = known_system_class(name, self.value, self.global_default.unwrap_or(false)) {
                causes.forbidden(&Path::new("metadata").child("name"), &format!("priority class names with '{SYSTEM_PREFIX}' prefix are reserved for system use only. error: {why}"));
            }
        } else if self.value > HIGHEST_USER_DEFINABLE_PRIORITY {
            causes.forbidden(&Path::new("value"), &format!("maximum allowed value of a user defined priority is {HIGHEST_USER_DEFINABLE_PRIORITY}"));
        }
        // `ValidatePreemptionPolicy`.
        match self.preemption_policy.as_deref() {
            None => {}
            Some("") => causes.required(&Path::new("preemptionPolicy"), ""),
            Some(policy) if !PREEMPTION_POLICIES.contains(&policy) => causes.not_supported(&Path::new("preemptionPolicy"), policy, &["PreemptLowerPriority", "Never"]),
            Some(_) => {}
        }
    }

    /// `ValidatePriorityClassUpdate`: the value and the preemption policy stay.
    fn validate_update(&self, old: &Self, _context: &Context, causes: &mut Causes) {
        if self.value != old.value {
            causes.forbidden(&Path::new("value"), "may not be changed in an update.");
        }
        if self.preemption_policy != old.preemption_policy {
            causes.immutable(&Path::new("preemptionPolicy"), self.preemption_policy.clone().map_or(Value::Null, Value::from));
        }
    }
}

/// `IsKnownSystemPriorityClass`.
fn known_system_class(name: &str, value: i32, global_default: bool) -> Result<(), String> {
    match SYSTEM_CLASSES.iter().find(|(system, _, _)| *system == name) {
        None => Err(format!("{name} is not a known system priority class")),
        Some((_, expected, _)) if *expected != value => Err(format!("value of {name} PriorityClass must be {expected}")),
        Some(_) if global_default => Err(format!("globalDefault of {name} PriorityClass must be false")),
        Some(_) => Ok(()),
    }
}

static PRINTER: Printer = Printer {
    columns: &[
        NAME,
        Column::new("Value", "integer", 0, "value represents the integer value of this priority class. This is the actual priority that pods receive when they have the name of this class in their pod spec."),
        Column::new("Global-Default", "boolean", 0, "globalDefault specifies whether this PriorityClass should be considered as the default priority for pods that do not have any priority class. Only one PriorityClass can be marked as `globalDefault`. However, if more than one PriorityClasses exists with their `globalDefault` field set to true, the smallest value of such global default PriorityClasses will be used as the default priority."),
        AGE,
        Column::new("PreemptionPolicy", "string", 0, "preemptionPolicy is the Policy for preempting pods with lower priority. One of Never, PreemptLowerPriority. Defaults to PreemptLowerPriority if unset."),
    ],
    cells,
};

/// `printPriorityClass`'s row.
fn cells(class: &Value) -> Vec<Value> {
    vec![
        printers::name(class),
        json!(number(class, "/value")),
        json!(class.get("globalDefault").and_then(Value::as_bool).unwrap_or(false)),
        printers::age_of(class),
        json!(text(class, "/preemptionPolicy")),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admission::test_support::*;

    fn class(name: &str, value: i64) -> Value {
        json!({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": name}, "value": value})
    }

    #[test]
    fn classes_get_kube_apiservers_defaults_and_causes() {
        assert_eq!(admitted(resource("priorityclasses"), class("high", 1000))["preemptionPolicy"], "PreemptLowerPriority");
        let reserved = "priority class names with 'system-' prefix are reserved for system use only. error: ";
        let rows: Vec<(&str, Value, Outcome)> = vec![
            ("the highest user value", class("top", 1_000_000_000), Outcome::Admitted),
            ("a negative value", class("low", -5), Outcome::Admitted),
            ("the system class as kube makes it", class("system-node-critical", 2_000_001_000), Outcome::Admitted),
            ("above the user range", class("huge", 1_000_000_001), invalid(&["value"], "value: Forbidden: maximum allowed value of a user defined priority is 1000000000")),
            ("an unknown system name", class("system-mine", 10), invalid(&["metadata.name"], "Forbidden: priority class names with 'system-' prefix are reserved for system use only. error: system-mine is not a known system priority class")),
            ("a system class's other value", class("system-cluster-critical", 10), invalid(&["metadata.name"], "error: value of system-cluster-critical PriorityClass must be 2000000000")),
            ("a system class as default", with(class("system-cluster-critical", 2_000_000_000), "/globalDefault", json!(true)), invalid(&["metadata.name"], reserved)),
            ("an unknown policy", with(class("high", 1), "/preemptionPolicy", json!("Sometimes")),
             invalid(&["preemptionPolicy"], "Unsupported value: \"Sometimes\": supported values: \"PreemptLowerPriority\", \"Never\"")),
        ];
        run_create("priorityclasses", rows);
    }

    #[test]
    fn value_and_policy_stay_as_created() {
        let stored = admitted(resource("priorityclasses"), class("high", 1000));
        let rows: Vec<(&str, Value, Outcome)> = vec![
            ("a description", with(stored.clone(), "/description", json!("for the web tier")), Outcome::Admitted),
            ("another value", with(stored.clone(), "/value", json!(10)), invalid(&["value"], "value: Forbidden: may not be changed in an update.")),
            ("another policy", with(stored.clone(), "/preemptionPolicy", json!("Never")), invalid(&["preemptionPolicy"], "preemptionPolicy: Invalid value: \"Never\": field is immutable")),
        ];
        run_update("priorityclasses", &stored, rows);
    }

    #[test]
    fn the_system_classes_are_valid_and_kept() {
        for (plural, object) in system_classes() {
            let admitted = admitted(resource(plural), object);
            assert_eq!(admitted["preemptionPolicy"], "PreemptLowerPriority");
        }
        let refused = STRATEGY.check_delete("system-node-critical").expect_err("a system class");
        assert_eq!((refused.code, refused.message.as_str()), (403, "priorityclasses.scheduling.k8s.io \"system-node-critical\" is forbidden: this is a system priority class and cannot be deleted"));
        assert!(STRATEGY.check_delete("high").is_ok());
    }

    /// The classes a test's cluster holds.
    struct Classes(Vec<Value>);

    #[async_trait::async_trait]
    impl Cluster for Classes {
        async fn current(&self, _group: &str, _version: &str, _plural: &str, _namespace: Option<&str>, name: &str) -> Result<Option<Value>, ApiError> {
            Ok(self.0.iter().find(|class| crate::meta::name(class) == Some(name)).cloned())
        }

        async fn list(&self, _group: &str, _version: &str, _plural: &str, _namespace: Option<&str>) -> Result<Vec<Value>, ApiError> {
            Ok(self.0.clone())
        }
    }

    #[tokio::test]
    async fn one_class_at_most_is_the_global_default() {
        let default = with(class("high", 1000), "/globalDefault", json!(true));
        let cluster = Classes(vec![default.clone(), class("low", 1)]);
        let wanting = with(class("low", 1), "/globalDefault", json!(true));
        let message = "priorityclasses.scheduling.k8s.io \"low\" is forbidden: PriorityClass high is already marked as default. Only one default can exist";
        let refused = STRATEGY.check_create(&cluster, None, &wanting).await.expect_err("a second default");
        assert_eq!((refused.code, refused.message.as_str()), (403, message));
        let refused = STRATEGY.check_update(&cluster, None, &wanting, &class("low", 1)).await.expect_err("a second default");
        assert_eq!(refused.message, message);
        assert!(STRATEGY.check_update(&cluster, None, &default, &default).await.is_ok(), "the default itself");
        assert!(STRATEGY.check_create(&Classes(vec![class("low", 1)]), None, &wanting).await.is_ok());
    }

    #[test]
    fn the_default_is_the_lowest_of_the_defaults() {
        let classes = [with(class("a", 10), "/globalDefault", json!(true)), class("b", 1), with(class("c", 5), "/globalDefault", json!(true))];
        assert_eq!(default_class(&classes).and_then(crate::meta::name), Some("c"));
        assert_eq!(default_class(&classes[1..2]), None);
    }

    #[test]
    fn a_class_prints_as_kubectl_shows_it() {
        let printed = printers::row_of("PriorityClass", &json!({"metadata": {"name": "high"}, "value": 1000, "preemptionPolicy": "Never"}));
        assert_eq!([&printed[..3], &printed[4..]].concat(), [json!("high"), json!(1000), json!(false), json!("Never")]);
    }
}
