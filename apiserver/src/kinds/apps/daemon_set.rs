//! `DaemonSet` (`apps/v1`): its declaration, its strategy (kube's `SetDefaults_DaemonSet`, the
//! DaemonSet strategy's status reset, `ValidateDaemonSet` and `ValidateDaemonSetUpdate` with the
//! immutable selector of `apps/v1`, `ValidateDaemonSetStatusUpdate`) and its printer
//! (`printDaemonSet`).
//!
//! The deprecated template generation (kept by kube in the
//! `deprecated.daemonset.template.generation` annotation) is not kept: `metadata.generation`
//! says when the spec changed.

use common::selector::LabelSelector as Selector;
use k8s_openapi::api::apps::v1::{DaemonSet, DaemonSetSpec, DaemonSetStatus, DaemonSetUpdateStrategy, RollingUpdateDaemonSet};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde_json::{Value, json};

use crate::admission::deployment::{
    int_or_percent_value, non_negative, not_more_than_100_percent, template_defaults, template_quantities, validate_int_or_percent,
    validate_label_selector, validate_template, validate_update_keeping_selector,
};
use crate::admission::field::{Causes, Path, go_string_map, json_of};
use crate::admission::{Context, Typed, TypedKind};
use crate::kinds::ALL;
use crate::printers::{self, AGE, CONTAINERS, IMAGES, NAME, Column, Printer, label_map_text, number, or_none, selector_text};
use crate::registry::Kind;
use crate::resources::{PodSelector, ResourceType};

pub static KIND: Kind = Kind {
    resource: ResourceType::builtin("apps", "v1", "DaemonSet", "daemonsets", "daemonset")
        .namespaced()
        .short_names(&["ds"])
        .categories(ALL)
        .subresources(&["status"])
        .tracks_generation()
        .pod_selector(PodSelector::LabelSelector),
    strategy: &STRATEGY,
    printer: Some(&PRINTER),
};

static STRATEGY: Typed<DaemonSet> = Typed::new();

fn spec_of(daemon_set: &DaemonSet) -> DaemonSetSpec {
    daemon_set.spec.clone().unwrap_or_default()
}

impl TypedKind for DaemonSet {
    fn check_quantities(&self) -> Result<(), common::quantity::QuantityError> {
        template_quantities(self.spec.as_ref().map(|spec| &spec.template))
    }

    fn apply_defaults(&mut self) {
        let spec = self.spec.get_or_insert_with(Default::default);
        let strategy = spec.update_strategy.get_or_insert_with(DaemonSetUpdateStrategy::default);
        if strategy.type_.as_deref().unwrap_or_default().is_empty() {
            strategy.type_ = Some("RollingUpdate".into());
        }
        if strategy.type_.as_deref() == Some("RollingUpdate") {
            let rolling_update = strategy.rolling_update.get_or_insert_with(RollingUpdateDaemonSet::default);
            rolling_update.max_unavailable.get_or_insert(IntOrString::Int(1));
            rolling_update.max_surge.get_or_insert(IntOrString::Int(0));
        }
        spec.revision_history_limit.get_or_insert(10);
        template_defaults(&mut spec.template);
    }

    fn prepare_for_create(&mut self) {
        self.status = Some(DaemonSetStatus::default());
    }

    fn prepare_for_update(&mut self, old: &Self) {
        self.status = old.status.clone();
    }

    fn prepare_for_status_update(&mut self, old: &Self) {
        self.spec = old.spec.clone();
    }

    fn validate(&self, context: &Context, causes: &mut Causes) {
        validate_spec(&spec_of(self), context, causes);
    }

    /// The DaemonSet strategy's `ValidateUpdate`.
    fn validate_update(&self, old: &Self, context: &Context, causes: &mut Causes) {
        validate_update_keeping_selector(&spec_of(self), &spec_of(old), |spec| &spec.selector, validate_spec, context, causes);
    }

    /// `ValidateDaemonSetStatusUpdate`.
    fn validate_status_update(&self, old: &Self, _context: &Context, causes: &mut Causes) {
        let status = self.status.clone().unwrap_or_default();
        let path = Path::new("status");
        for (field, value) in [
            ("currentNumberScheduled", i64::from(status.current_number_scheduled)),
            ("numberMisscheduled", status.number_misscheduled.into()),
            ("desiredNumberScheduled", status.desired_number_scheduled.into()),
            ("numberReady", status.number_ready.into()),
            ("observedGeneration", status.observed_generation.unwrap_or(0)),
            ("updatedNumberScheduled", status.updated_number_scheduled.unwrap_or(0).into()),
            ("numberAvailable", status.number_available.unwrap_or(0).into()),
            ("numberUnavailable", status.number_unavailable.unwrap_or(0).into()),
        ] {
            non_negative(&path.child(field), value, causes);
        }
        if let Some(count) = status.collision_count {
            non_negative(&path.child("collisionCount"), count.into(), causes);
        }
        let old_count = old.status.as_ref().and_then(|status| status.collision_count);
        if let Some(old_count) = old_count
            && status.collision_count.unwrap_or(0) < old_count
        {
            causes.invalid(&path.child("collisionCount"), status.collision_count.unwrap_or(0), "cannot be decremented");
        }
    }
}

/// `ValidateDaemonSetSpec`. Unlike a Deployment's, a missing selector is not itself an error:
/// it selects nothing, so the template's labels do not match it.
fn validate_spec(spec: &DaemonSetSpec, context: &Context, causes: &mut Causes) {
    let path = Path::new("spec");
    let selector_path = path.child("selector");
    let template_path = path.child("template");
    let missing = context.was_missing("/spec/selector");
    if !missing {
        validate_label_selector(&spec.selector, &selector_path, causes);
    }
    let selector = if missing { Ok(Selector::nothing()) } else { Selector::from_k8s(&spec.selector) };
    let labels = spec.template.metadata.as_ref().and_then(|metadata| metadata.labels.as_ref());
    if let Ok(selector) = selector
        && !selector.matches(&labels.cloned().unwrap_or_default())
    {
        causes.invalid_shown(&template_path.child("metadata").child("labels"), &go_string_map(labels), "`selector` does not match template `labels`");
    }
    let empty = spec.selector.match_labels.as_ref().is_none_or(|labels| labels.is_empty())
        && spec.selector.match_expressions.as_ref().is_none_or(Vec::is_empty);
    if !missing && empty {
        causes.invalid(&selector_path, json_of(&spec.selector), "empty selector is invalid for daemonset");
    }
    validate_template(&spec.template, &template_path, "DaemonSet", causes);
    non_negative(&path.child("minReadySeconds"), spec.min_ready_seconds.unwrap_or(0).into(), causes);
    validate_update_strategy(&spec.update_strategy.clone().unwrap_or_default(), &path.child("updateStrategy"), causes);
    if let Some(limit) = spec.revision_history_limit {
        non_negative(&path.child("revisionHistoryLimit"), limit.into(), causes);
    }
}

/// `ValidateDaemonSetUpdateStrategy`.
fn validate_update_strategy(strategy: &DaemonSetUpdateStrategy, path: &Path, causes: &mut Causes) {
    match strategy.type_.as_deref().unwrap_or_default() {
        "OnDelete" => {}
        "RollingUpdate" => match &strategy.rolling_update {
            None => causes.required(&path.child("rollingUpdate"), ""),
            Some(rolling_update) => validate_rolling_update(rolling_update, &path.child("rollingUpdate"), causes),
        },
        _ => causes.not_supported(path, json_of(strategy), &["RollingUpdate", "OnDelete"]),
    }
}

/// `ValidateRollingUpdateDaemonSet`: exactly one of `maxUnavailable` and `maxSurge` is not 0
/// (a DaemonSet either replaces pods in place or surges on each node, never both).
fn validate_rolling_update(rolling_update: &RollingUpdateDaemonSet, path: &Path, causes: &mut Causes) {
    let zero = IntOrString::Int(0);
    let max_unavailable = rolling_update.max_unavailable.as_ref().unwrap_or(&zero);
    let max_surge = rolling_update.max_surge.as_ref().unwrap_or(&zero);
    validate_int_or_percent(max_unavailable, &path.child("maxUnavailable"), causes);
    validate_int_or_percent(max_surge, &path.child("maxSurge"), causes);
    not_more_than_100_percent(max_unavailable, &path.child("maxUnavailable"), causes);
    not_more_than_100_percent(max_surge, &path.child("maxSurge"), causes);
    match (int_or_percent_value(max_unavailable) != 0, int_or_percent_value(max_surge) != 0) {
        (true, true) => causes.invalid(&path.child("maxSurge"), json_of(max_surge), "may not be set when maxUnavailable is non-zero"),
        (false, false) => causes.required(&path.child("maxUnavailable"), "cannot be 0 when maxSurge is 0"),
        _ => {}
    }
}

static PRINTER: Printer = Printer {
    columns: &[
        NAME,
        Column::new("Desired", "integer", 0, "The total number of nodes that should be running the daemon pod (including nodes correctly running the daemon pod). More info: https://kubernetes.io/docs/concepts/workloads/controllers/daemonset/"),
        Column::new("Current", "integer", 0, "The number of nodes that are running at least 1 daemon pod and are supposed to run the daemon pod. More info: https://kubernetes.io/docs/concepts/workloads/controllers/daemonset/"),
        Column::new("Ready", "integer", 0, "numberReady is the number of nodes that should be running the daemon pod and have one or more of the daemon pod running with a Ready Condition."),
        Column::new("Up-to-date", "integer", 0, "The total number of nodes that are running updated daemon pod"),
        Column::new("Available", "integer", 0, "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and available (ready for at least spec.minReadySeconds)"),
        Column::new("Node Selector", "string", 0, "NodeSelector is a selector which must be true for the pod to fit on a node. Selector which must match a node's labels for the pod to be scheduled on that node. More info: https://kubernetes.io/docs/concepts/configuration/assign-pod-node/"),
        AGE,
        CONTAINERS,
        IMAGES,
        Column::new("Selector", "string", 1, "A label query over pods that are managed by the daemon set. Must match in order to be controlled. It must match the pod template's labels. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors"),
    ],
    cells,
};

/// `printDaemonSet`'s row.
fn cells(daemon_set: &Value) -> Vec<Value> {
    let [containers, images] = printers::template_containers(daemon_set);
    vec![
        printers::name(daemon_set),
        json!(number(daemon_set, "/status/desiredNumberScheduled")),
        json!(number(daemon_set, "/status/currentNumberScheduled")),
        json!(number(daemon_set, "/status/numberReady")),
        json!(number(daemon_set, "/status/updatedNumberScheduled")),
        json!(number(daemon_set, "/status/numberAvailable")),
        json!(or_none(label_map_text(daemon_set.pointer("/spec/template/spec/nodeSelector")))),
        printers::age_of(daemon_set),
        containers,
        images,
        json!(selector_text(daemon_set.pointer("/spec/selector"))),
    ]
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::admission::test_support::*;
    use crate::admission::{FieldValidation, admit_status_update};

    fn daemon_set(name: &str) -> Value {
        let mut object = deployment(name);
        object["kind"] = json!("DaemonSet");
        object
    }

    #[test]
    fn a_minimal_daemon_set_gets_kubernetes_defaults() {
        let defaulted = admitted(resource("daemonsets"), daemon_set("agent"));
        assert_eq!(defaulted["spec"]["updateStrategy"], json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}));
        assert_eq!(defaulted["spec"]["revisionHistoryLimit"], 10);
        assert_eq!(defaulted["spec"]["template"]["spec"]["restartPolicy"], "Always");
        assert_eq!(defaulted["status"], json!({"currentNumberScheduled": 0, "desiredNumberScheduled": 0, "numberMisscheduled": 0, "numberReady": 0}));
        let on_delete = admitted(resource("daemonsets"), with(daemon_set("agent"), "/spec/updateStrategy", json!({"type": "OnDelete"})));
        assert_eq!(on_delete["spec"]["updateStrategy"], json!({"type": "OnDelete"}));
    }

    #[test]
    fn daemon_set_validation() {
        let rows: Vec<(&str, Value, Outcome)> = vec![
            ("valid", daemon_set("agent"), Outcome::Admitted),
            ("surge instead", with(daemon_set("agent"), "/spec/updateStrategy", json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": "10%"}})), Outcome::Admitted),
            ("no selector", without(daemon_set("agent"), "/spec/selector"), invalid(&["spec.template.metadata.labels"], "spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"agent\"}: `selector` does not match template `labels`")),
            ("selector does not match", with(daemon_set("agent"), "/spec/selector/matchLabels/app", json!("other")), invalid(&["spec.template.metadata.labels"], "`selector` does not match template `labels`")),
            ("empty selector", with(daemon_set("agent"), "/spec/selector", json!({})), invalid(&["spec.selector"], "empty selector is invalid for daemonset")),
            ("restart policy", with(daemon_set("agent"), "/spec/template/spec/restartPolicy", json!("Never")), invalid(&["spec.template.spec.restartPolicy"], "Unsupported value: \"Never\": supported values: \"Always\"")),
            ("deadline", with(daemon_set("agent"), "/spec/template/spec/activeDeadlineSeconds", json!(5)), invalid(&["spec.template.spec.activeDeadlineSeconds"], "activeDeadlineSeconds in DaemonSet is not Supported")),
            ("no image", without(daemon_set("agent"), "/spec/template/spec/containers/0/image"), invalid(&["spec.template.spec.containers[0].image"], "Required value")),
            ("both zero", with(daemon_set("agent"), "/spec/updateStrategy/rollingUpdate", json!({"maxUnavailable": 0, "maxSurge": 0})), invalid(&["spec.updateStrategy.rollingUpdate.maxUnavailable"], "spec.updateStrategy.rollingUpdate.maxUnavailable: Required value: cannot be 0 when maxSurge is 0")),
            ("both set", with(daemon_set("agent"), "/spec/updateStrategy/rollingUpdate", json!({"maxUnavailable": 1, "maxSurge": 1})), invalid(&["spec.updateStrategy.rollingUpdate.maxSurge"], "may not be set when maxUnavailable is non-zero")),
            ("over 100%", with(daemon_set("agent"), "/spec/updateStrategy/rollingUpdate", json!({"maxUnavailable": "150%", "maxSurge": 0})), invalid(&["spec.updateStrategy.rollingUpdate.maxUnavailable"], "must not be greater than 100%")),
            ("negative", with(daemon_set("agent"), "/spec/updateStrategy/rollingUpdate/maxUnavailable", json!(-1)), invalid(&["spec.updateStrategy.rollingUpdate.maxUnavailable"], "must be greater than or equal to 0")),
            ("strategy", with(daemon_set("agent"), "/spec/updateStrategy/type", json!("Recreate")), invalid(&["spec.updateStrategy"], "supported values: \"RollingUpdate\", \"OnDelete\"")),
            ("negative history", with(daemon_set("agent"), "/spec/revisionHistoryLimit", json!(-1)), invalid(&["spec.revisionHistoryLimit"], "must be greater than or equal to 0")),
        ];
        run_create("daemonsets", rows);
    }

    #[test]
    fn daemon_set_updates() {
        let old = admitted(resource("daemonsets"), daemon_set("agent"));
        let rows: Vec<(&str, Value, Outcome)> = vec![
            ("new image", with(old.clone(), "/spec/template/spec/containers/0/image", json!("nginx:1.27")), Outcome::Admitted),
            ("selector changed", with(with(old.clone(), "/spec/selector/matchLabels/app", json!("api")), "/spec/template/metadata/labels/app", json!("api")), invalid(&["spec.selector"], "field is immutable")),
        ];
        run_update("daemonsets", &old, rows);
        let rows: Vec<(&str, Value, Outcome)> = vec![
            ("counts", with(old.clone(), "/status", json!({"currentNumberScheduled": 2, "desiredNumberScheduled": 2, "numberMisscheduled": 0, "numberReady": 1})), Outcome::Admitted),
            ("negative", with(old.clone(), "/status", json!({"currentNumberScheduled": -1, "desiredNumberScheduled": 0, "numberMisscheduled": 0, "numberReady": 0})), invalid(&["status.currentNumberScheduled"], "must be greater than or equal to 0")),
        ];
        for (label, object, expected) in rows {
            check(label, admit_status_update(resource("daemonsets"), object, &old, FieldValidation::Strict), &expected);
        }
    }

    #[test]
    fn a_daemon_set_prints_its_counts_and_node_selector() {
        let object = json!({"metadata": {"name": "agent"}, "spec": {"selector": {"matchLabels": {"app": "agent"}}, "template": {"spec": {
            "nodeSelector": {"role": "edge", "disk": "ssd"}, "containers": [{"name": "c", "image": "busybox"}]}}},
            "status": {"desiredNumberScheduled": 3, "currentNumberScheduled": 2, "numberReady": 1, "updatedNumberScheduled": 2, "numberAvailable": 1}});
        let row = printers::row_of("DaemonSet", &object);
        assert_eq!(row[1..7], [json!(3), json!(2), json!(1), json!(2), json!(1), json!("disk=ssd,role=edge")]);
        assert_eq!(row[8..], [json!("c"), json!("busybox"), json!("app=agent")]);
        assert_eq!(printers::row_of("DaemonSet", &json!({"metadata": {"name": "agent"}}))[6], json!("<none>"));
    }
}
