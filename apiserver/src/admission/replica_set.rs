//! ReplicaSets (`apps/v1`): `SetDefaults_ReplicaSet` (one replica), status reset on create,
//! `ValidateReplicaSetSpec`, the immutable selector of `apps/v1`, `ValidateReplicaSetStatus`.

use k8s_openapi::api::apps::v1::{ReplicaSet, ReplicaSetSpec, ReplicaSetStatus};

use super::deployment::{non_negative, template_defaults, template_quantities, validate_selector_and_template, validate_update_keeping_selector};
use super::field::{Causes, Path};
use super::quantity::QuantityError;
use super::{Context, TypedKind};

fn spec_of(replica_set: &ReplicaSet) -> ReplicaSetSpec {
    replica_set.spec.clone().unwrap_or_default()
}

fn validate_spec(spec: &ReplicaSetSpec, context: &Context, causes: &mut Causes) {
    let path = Path::new("spec");
    non_negative(&path.child("replicas"), spec.replicas.unwrap_or(0).into(), causes);
    non_negative(&path.child("minReadySeconds"), spec.min_ready_seconds.unwrap_or(0).into(), causes);
    validate_selector_and_template(&spec.selector, &spec.template.clone().unwrap_or_default(), context, causes);
}

impl TypedKind for ReplicaSet {
    fn check_quantities(&self) -> Result<(), QuantityError> {
        template_quantities(self.spec.as_ref().and_then(|spec| spec.template.as_ref()))
    }

    fn apply_defaults(&mut self) {
        let spec = self.spec.get_or_insert_with(Default::default);
        spec.replicas.get_or_insert(1);
        template_defaults(spec.template.get_or_insert_with(Default::default));
    }

    fn prepare_for_create(&mut self) {
        self.status = Some(ReplicaSetStatus::default());
    }

    fn validate(&self, context: &Context, causes: &mut Causes) {
        validate_spec(&spec_of(self), context, causes);
    }

    fn validate_update(&self, old: &Self, context: &Context, causes: &mut Causes) {
        validate_update_keeping_selector(&spec_of(self), &spec_of(old), |spec| &spec.selector, validate_spec, context, causes);
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

/// The counts of a ReplicaSet's or ReplicationController's status, which Kubernetes validates
/// alike (`ValidateReplicaSetStatus`, `ValidateReplicationControllerStatus`).
pub(crate) struct Counts {
    pub(crate) replicas: i32,
    pub(crate) fully_labeled: i32,
    pub(crate) ready: i32,
    pub(crate) available: i32,
    pub(crate) observed_generation: i64,
}

pub(crate) fn validate_counts(counts: &Counts, causes: &mut Causes) {
    let path = Path::new("status");
    let Counts { replicas, fully_labeled, ready, available, observed_generation } = *counts;
    for (field, value) in [
        ("replicas", replicas),
        ("fullyLabeledReplicas", fully_labeled),
        ("readyReplicas", ready),
        ("availableReplicas", available),
    ] {
        non_negative(&path.child(field), value.into(), causes);
    }
    non_negative(&path.child("observedGeneration"), observed_generation, causes);
    let message = "cannot be greater than status.replicas";
    for (field, value) in [("fullyLabeledReplicas", fully_labeled), ("readyReplicas", ready), ("availableReplicas", available)] {
        if value > replicas {
            causes.invalid(&path.child(field), value, message);
        }
    }
    if available > ready {
        causes.invalid(&path.child("availableReplicas"), available, "cannot be greater than readyReplicas");
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::test_support::*;
    use super::super::{FieldValidation, admit_status_update};

    #[test]
    fn a_minimal_replica_set_gets_kubernetes_defaults() {
        let admitted = admitted(resource("replicasets"), replica_set("web"));
        assert_eq!(admitted["spec"]["replicas"], 1);
        assert_eq!(admitted["spec"]["template"]["spec"]["restartPolicy"], "Always");
        assert_eq!(admitted["status"], json!({"replicas": 0}));
        assert_eq!(admitted["spec"].get("strategy"), None);
    }

    #[test]
    fn replica_set_validation() {
        let rows: Vec<(&str, serde_json::Value, Outcome)> = vec![
            ("valid", replica_set("web"), Outcome::Admitted),
            ("no selector", without(replica_set("web"), "/spec/selector"), invalid(&["spec.selector", "spec.template.metadata.labels"], "spec.selector: Required value")),
            ("empty selector", with(replica_set("web"), "/spec/selector", json!({})), invalid(&["spec.selector"], "empty selector is invalid for deployment")),
            ("selector does not match", with(replica_set("web"), "/spec/template/metadata/labels", json!({})), invalid(&["spec.template.metadata.labels"], "`selector` does not match template `labels`")),
            ("no template", without(replica_set("web"), "/spec/template"), invalid(&["spec.template.metadata.labels", "spec.template.spec.containers"], "Required value")),
            ("negative replicas", with(replica_set("web"), "/spec/replicas", json!(-2)), invalid(&["spec.replicas"], "must be greater than or equal to 0")),
            ("negative minReadySeconds", with(replica_set("web"), "/spec/minReadySeconds", json!(-2)), invalid(&["spec.minReadySeconds"], "must be greater than or equal to 0")),
            ("template restartPolicy", with(replica_set("web"), "/spec/template/spec/restartPolicy", json!("OnFailure")), invalid(&["spec.template.spec.restartPolicy"], "supported values: \"Always\"")),
            ("unknown field", with(replica_set("web"), "/spec/strategy", json!({"type": "Recreate"})), Outcome::BadRequest("strict decoding error: unknown field \"spec.strategy\"")),
        ];
        run_create("replicasets", rows);
    }

    #[test]
    fn replica_set_updates() {
        let old = admitted(resource("replicasets"), replica_set("web"));
        let rows: Vec<(&str, serde_json::Value, Outcome)> = vec![
            ("scaled", with(old.clone(), "/spec/replicas", json!(5)), Outcome::Admitted),
            ("selector changed", with(with(old.clone(), "/spec/selector/matchLabels/app", json!("api")), "/spec/template/metadata/labels/app", json!("api")), invalid(&["spec.selector"], "field is immutable")),
        ];
        run_update("replicasets", &old, rows);
        let rows: Vec<(&str, serde_json::Value, Outcome)> = vec![
            ("counts", with(old.clone(), "/status", json!({"replicas": 2, "fullyLabeledReplicas": 2, "readyReplicas": 2, "availableReplicas": 1})), Outcome::Admitted),
            ("fully labeled above replicas", with(old.clone(), "/status", json!({"replicas": 1, "fullyLabeledReplicas": 2})), invalid(&["status.fullyLabeledReplicas"], "cannot be greater than status.replicas")),
        ];
        for (label, object, expected) in rows {
            check(label, admit_status_update(resource("replicasets"), object, &old, FieldValidation::Strict), &expected);
        }
    }
}
