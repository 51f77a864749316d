//! ReplicationControllers (core `v1`): `SetDefaults_ReplicationController` (selector and labels
//! from the template's labels, one replica), status reset on create,
//! `ValidateReplicationControllerSpec` and `ValidateReplicationControllerStatus`.
//!
//! Unlike the apps kinds, the selector is a plain label map, and it may change on update.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{ReplicationController, ReplicationControllerSpec, ReplicationControllerStatus};

use super::deployment::{non_negative, template_defaults, template_quantities, validate_template};
use super::field::{Causes, Path, go_string_map};
use super::quantity::QuantityError;
use super::replica_set::{Counts, validate_counts};
use super::{Context, TypedKind};

fn spec_of(controller: &ReplicationController) -> ReplicationControllerSpec {
    controller.spec.clone().unwrap_or_default()
}

/// `ValidateReplicationControllerSpec`: minReadySeconds, a non-empty selector, replicas, and
/// `ValidatePodTemplateSpecForRC`, in that order.
fn validate_spec(spec: &ReplicationControllerSpec, causes: &mut Causes) {
    let path = Path::new("spec");
    non_negative(&path.child("minReadySeconds"), spec.min_ready_seconds.unwrap_or(0).into(), causes);
    let selector = spec.selector.as_ref().filter(|selector| !selector.is_empty());
    if selector.is_none() {
        causes.required(&path.child("selector"), "");
    }
    non_negative(&path.child("replicas"), spec.replicas.unwrap_or(0).into(), causes);
    let template_path = path.child("template");
    let Some(template) = &spec.template else {
        causes.required(&template_path, "");
        return;
    };
    let labels = template.metadata.as_ref().and_then(|metadata| metadata.labels.as_ref());
    if let Some(selector) = selector {
        let empty = BTreeMap::new();
        let matches = selector.iter().all(|(key, value)| labels.unwrap_or(&empty).get(key) == Some(value));
        if !matches {
            causes.invalid_shown(
                &template_path.child("metadata").child("labels"),
                &go_string_map(labels),
                "`selector` does not match template `labels`",
            );
        }
    }
    validate_template(template, &template_path, "ReplicationController", causes);
}

impl TypedKind for ReplicationController {
    fn check_quantities(&self) -> Result<(), QuantityError> {
        template_quantities(self.spec.as_ref().and_then(|spec| spec.template.as_ref()))
    }

    fn apply_defaults(&mut self) {
        let spec = self.spec.get_or_insert_with(Default::default);
        // Go tests the template's labels for nil, not for empty: `labels: {}` still defaults.
        let template_labels = spec.template.as_ref().and_then(|template| template.metadata.as_ref()).and_then(|metadata| metadata.labels.clone());
        if let Some(labels) = template_labels {
            if spec.selector.as_ref().is_none_or(BTreeMap::is_empty) {
                spec.selector = Some(labels.clone());
            }
            if self.metadata.labels.as_ref().is_none_or(BTreeMap::is_empty) {
                self.metadata.labels = Some(labels);
            }
        }
        spec.replicas.get_or_insert(1);
        // A missing template stays missing, for validation to report; Go defaults only the
        // template that is there.
        if let Some(template) = spec.template.as_mut() {
            template_defaults(template);
        }
    }

    fn prepare_for_create(&mut self) {
        self.status = Some(ReplicationControllerStatus::default());
    }

    fn validate(&self, _context: &Context, causes: &mut Causes) {
        validate_spec(&spec_of(self), causes);
    }

    fn validate_status_update(&self, _old: &Self, _context: &Context, causes: &mut Causes) {
        let status = self.status.clone().unwrap_or_default();
        let counts = Counts {
            replicas: status.replicas,
            fully_labeled: status.fully_labeled_replicas.unwrap_or(0),
            ready: status.ready_replicas.unwrap_or(0),
            available: status.available_replicas.unwrap_or(0),
            observed_generation: status.observed_generation.unwrap_or(0),
        };
        validate_counts(&counts, causes);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::test_support::*;
    use super::super::{FieldValidation, admit_status_update};

    #[test]
    fn selector_labels_and_replicas_default_from_the_template() {
        let defaulted = admitted(resource("replicationcontrollers"), without(replication_controller("web"), "/spec/selector"));
        assert_eq!(defaulted["spec"]["selector"], json!({"app": "web"}));
        assert_eq!(defaulted["metadata"]["labels"], json!({"app": "web"}));
        assert_eq!(defaulted["spec"]["replicas"], 1);
        assert_eq!(defaulted["spec"]["template"]["spec"]["restartPolicy"], "Always");
        assert_eq!(defaulted["status"], json!({"replicas": 0}));

        // What is given is kept.
        let given = with(with(replication_controller("web"), "/metadata/labels", json!({"tier": "front"})), "/spec/replicas", json!(0));
        let kept = admitted(resource("replicationcontrollers"), given);
        assert_eq!((kept["metadata"]["labels"].clone(), kept["spec"]["replicas"].clone()), (json!({"tier": "front"}), json!(0)));
    }

    #[test]
    fn replication_controller_validation() {
        let rc = || replication_controller("web");
        let rows: Vec<(&str, serde_json::Value, Outcome)> = vec![
            ("valid", rc(), Outcome::Admitted),
            ("no selector, no template labels", without(without(rc(), "/spec/selector"), "/spec/template/metadata/labels"), invalid(&["spec.selector"], "spec.selector: Required value")),
            (
                "selector does not match",
                with(rc(), "/spec/template/metadata/labels", json!({"app": "api", "tier": "x"})),
                invalid(&["spec.template.metadata.labels"], "Invalid value: map[string]string{\"app\":\"api\", \"tier\":\"x\"}: `selector` does not match template `labels`"),
            ),
            (
                "template without labels",
                without(rc(), "/spec/template/metadata"),
                invalid(&["spec.template.metadata.labels"], "Invalid value: map[string]string(nil): `selector` does not match template `labels`"),
            ),
            ("no template", without(rc(), "/spec/template"), invalid(&["spec.template"], "spec.template: Required value")),
            ("no template, no replicas", with(without(rc(), "/spec/template"), "/spec/replicas", json!(0)), invalid(&["spec.template"], "spec.template: Required value")),
            ("negative replicas", with(rc(), "/spec/replicas", json!(-1)), invalid(&["spec.replicas"], "spec.replicas: Invalid value: -1: must be greater than or equal to 0")),
            ("negative minReadySeconds", with(rc(), "/spec/minReadySeconds", json!(-3)), invalid(&["spec.minReadySeconds"], "must be greater than or equal to 0")),
            ("template restartPolicy", with(rc(), "/spec/template/spec/restartPolicy", json!("Never")), invalid(&["spec.template.spec.restartPolicy"], "supported values: \"Always\"")),
            (
                "template activeDeadlineSeconds",
                with(rc(), "/spec/template/spec/activeDeadlineSeconds", json!(5)),
                invalid(&["spec.template.spec.activeDeadlineSeconds"], "activeDeadlineSeconds in ReplicationController is not Supported"),
            ),
            ("template pod spec", with(rc(), "/spec/template/spec/containers/0/image", json!("")), invalid(&["spec.template.spec.containers[0].image"], "Required value")),
            ("unknown field", with(rc(), "/spec/strategy", json!({})), Outcome::BadRequest("strict decoding error: unknown field \"spec.strategy\"")),
        ];
        run_create("replicationcontrollers", rows);
    }

    #[test]
    fn replication_controller_updates() {
        let old = admitted(resource("replicationcontrollers"), replication_controller("web"));
        let rows: Vec<(&str, serde_json::Value, Outcome)> = vec![
            ("scaled", with(old.clone(), "/spec/replicas", json!(5)), Outcome::Admitted),
            // Unlike apps/v1, the selector of a ReplicationController may change.
            ("selector changed", with(with(old.clone(), "/spec/selector/app", json!("api")), "/spec/template/metadata/labels/app", json!("api")), Outcome::Admitted),
            ("selector no longer matching", with(old.clone(), "/spec/selector/app", json!("api")), invalid(&["spec.template.metadata.labels"], "`selector` does not match template `labels`")),
        ];
        run_update("replicationcontrollers", &old, rows);
        let rows: Vec<(&str, serde_json::Value, Outcome)> = vec![
            ("counts", with(old.clone(), "/status", json!({"replicas": 2, "fullyLabeledReplicas": 2, "readyReplicas": 2, "availableReplicas": 1, "observedGeneration": 1})), Outcome::Admitted),
            ("ready above replicas", with(old.clone(), "/status", json!({"replicas": 1, "readyReplicas": 2})), invalid(&["status.readyReplicas"], "cannot be greater than status.replicas")),
            ("available above ready", with(old.clone(), "/status", json!({"replicas": 2, "readyReplicas": 1, "availableReplicas": 2})), invalid(&["status.availableReplicas"], "cannot be greater than readyReplicas")),
            ("negative", with(old.clone(), "/status", json!({"replicas": 1, "observedGeneration": -1})), invalid(&["status.observedGeneration"], "must be greater than or equal to 0")),
        ];
        for (label, object, expected) in rows {
            check(label, admit_status_update(resource("replicationcontrollers"), object, &old, FieldValidation::Strict), &expected);
        }
    }
}
