//! Deployments (`apps/v1`): `SetDefaults_Deployment`, status reset on create,
//! `ValidateDeploymentSpec` (selector, template, strategy), the immutable selector of `apps/v1`,
//! and `ValidateDeploymentStatusUpdate`. The selector and template checks are shared with
//! ReplicaSets.

use std::collections::BTreeMap;

use common::selector::LabelSelector as Selector;
use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec, DeploymentStatus, DeploymentStrategy, RollingUpdateDeployment};
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::field::{Causes, Path, json_of};
use super::metadata;
use super::names;
use super::pod_spec;
use super::quantity::QuantityError;
use super::{Context, TypedKind};

fn spec_of(deployment: &Deployment) -> DeploymentSpec {
    deployment.spec.clone().unwrap_or_default()
}

impl TypedKind for Deployment {
    fn check_quantities(&self) -> Result<(), QuantityError> {
        template_quantities(self.spec.as_ref().map(|spec| &spec.template))
    }

    fn apply_defaults(&mut self) {
        let spec = self.spec.get_or_insert_with(Default::default);
        spec.replicas.get_or_insert(1);
        let strategy = spec.strategy.get_or_insert_with(DeploymentStrategy::default);
        if strategy.type_.as_deref().unwrap_or_default().is_empty() {
            strategy.type_ = Some("RollingUpdate".into());
        }
        if strategy.type_.as_deref() == Some("RollingUpdate") {
            let rolling_update = strategy.rolling_update.get_or_insert_with(RollingUpdateDeployment::default);
            rolling_update.max_unavailable.get_or_insert_with(|| IntOrString::String("25%".into()));
            rolling_update.max_surge.get_or_insert_with(|| IntOrString::String("25%".into()));
        }
        spec.revision_history_limit.get_or_insert(10);
        spec.progress_deadline_seconds.get_or_insert(600);
        template_defaults(&mut spec.template);
    }

    fn prepare_for_create(&mut self) {
        self.status = Some(DeploymentStatus::default());
    }

    fn validate(&self, context: &Context, causes: &mut Causes) {
        validate_spec(&spec_of(self), context, causes);
    }

    fn validate_update(&self, old: &Self, context: &Context, causes: &mut Causes) {
        validate_update_keeping_selector(&spec_of(self), &spec_of(old), |spec| &spec.selector, validate_spec, context, causes);
    }

    fn validate_status_update(&self, old: &Self, _context: &Context, causes: &mut Causes) {
        let status = self.status.clone().unwrap_or_default();
        let path = Path::new("status");
        let replicas = status.replicas.unwrap_or(0);
        let ready = status.ready_replicas.unwrap_or(0);
        let available = status.available_replicas.unwrap_or(0);
        let updated = status.updated_replicas.unwrap_or(0);
        non_negative(&path.child("observedGeneration"), status.observed_generation.unwrap_or(0), causes);
        for (field, value) in [
            ("replicas", replicas),
            ("updatedReplicas", updated),
            ("readyReplicas", ready),
            ("availableReplicas", available),
            ("unavailableReplicas", status.unavailable_replicas.unwrap_or(0)),
        ] {
            non_negative(&path.child(field), value.into(), causes);
        }
        if let Some(count) = status.collision_count {
            non_negative(&path.child("collisionCount"), count.into(), causes);
        }
        let message = "cannot be greater than status.replicas";
        for (field, value) in [("updatedReplicas", updated), ("readyReplicas", ready), ("availableReplicas", available)] {
            if value > replicas {
                causes.invalid(&path.child(field), value, message);
            }
        }
        if available > ready {
            causes.invalid(&path.child("availableReplicas"), available, "cannot be greater than readyReplicas");
        }
        let old_count = old.status.as_ref().and_then(|status| status.collision_count);
        if let Some(old_count) = old_count
            && status.collision_count.unwrap_or(0) < old_count
        {
            causes.invalid(&path.child("collisionCount"), status.collision_count.unwrap_or(0), "cannot be decremented");
        }
    }
}

pub(crate) fn non_negative(path: &Path, value: i64, causes: &mut Causes) {
    if value < 0 {
        causes.invalid(path, value, "must be greater than or equal to 0");
    }
}

pub(crate) fn template_quantities(template: Option<&PodTemplateSpec>) -> Result<(), QuantityError> {
    template.and_then(|template| template.spec.as_ref()).map_or(Ok(()), pod_spec::check_quantities)
}

/// A template's spec gets the pod spec defaults (not those only Pods get).
pub(crate) fn template_defaults(template: &mut PodTemplateSpec) {
    pod_spec::apply_defaults(template.spec.get_or_insert_with(Default::default));
}

/// The update of an apps/v1 kind (Deployment, ReplicaSet, DaemonSet): its spec validated as on
/// create, and its selector, which apps/v1 made immutable, unchanged.
pub(crate) fn validate_update_keeping_selector<Spec>(
    spec: &Spec,
    old: &Spec,
    selector: impl Fn(&Spec) -> &LabelSelector,
    validate_spec: impl FnOnce(&Spec, &Context, &mut Causes),
    context: &Context,
    causes: &mut Causes,
) {
    validate_spec(spec, context, causes);
    if !selectors_equal(selector(spec), selector(old)) {
        causes.immutable(&Path::new("spec").child("selector"), json_of(selector(spec)));
    }
}

/// Kubernetes compares selectors semantically: an empty map or list equals an absent one.
pub(crate) fn selectors_equal(left: &LabelSelector, right: &LabelSelector) -> bool {
    let normal = |selector: &LabelSelector| {
        (
            selector.match_labels.clone().filter(|labels| !labels.is_empty()),
            selector.match_expressions.clone().filter(|expressions| !expressions.is_empty()),
        )
    };
    normal(left) == normal(right)
}

/// `ValidateLabelSelector` (strict about label values).
pub(crate) fn validate_label_selector(selector: &LabelSelector, path: &Path, causes: &mut Causes) {
    metadata::validate_labels(selector.match_labels.as_ref(), &path.child("matchLabels"), causes);
    for (index, requirement) in selector.match_expressions.iter().flatten().enumerate() {
        let requirement_path = path.child("matchExpressions").index(index);
        let values = requirement.values.as_deref().unwrap_or_default();
        match requirement.operator.as_str() {
            "In" | "NotIn" => {
                if values.is_empty() {
                    causes.required(&requirement_path.child("values"), "must be specified when `operator` is 'In' or 'NotIn'");
                }
            }
            "Exists" | "DoesNotExist" => {
                if !values.is_empty() {
                    causes.forbidden(
                        &requirement_path.child("values"),
                        "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                    );
                }
            }
            other => causes.invalid(&requirement_path.child("operator"), other, "not a valid selector operator"),
        }
        causes.invalid_each(&requirement_path.child("key"), &requirement.key, names::qualified_name(&requirement.key));
        for (value_index, value) in values.iter().enumerate() {
            causes.invalid_each(&requirement_path.child("values").index(value_index), value, names::label_value(value));
        }
    }
}

/// The selector and template of a Deployment or ReplicaSet spec: what `ValidateDeploymentSpec`
/// and `ValidateReplicaSetSpec` share, including `ValidatePodTemplateSpecForReplicaSet`.
pub(crate) fn validate_selector_and_template(
    selector: &LabelSelector,
    template: &PodTemplateSpec,
    context: &Context,
    causes: &mut Causes,
) {
    let spec_path = Path::new("spec");
    let selector_path = spec_path.child("selector");
    if context.was_missing("/spec/selector") {
        causes.required(&selector_path, "");
    } else {
        validate_label_selector(selector, &selector_path, causes);
        let empty = selector.match_labels.as_ref().is_none_or(BTreeMap::is_empty)
            && selector.match_expressions.as_ref().is_none_or(Vec::is_empty);
        if empty {
            causes.invalid(&selector_path, json_of(selector), "empty selector is invalid for deployment");
        }
    }
    let template_path = spec_path.child("template");
    let empty_labels = BTreeMap::new();
    let labels = template.metadata.as_ref().and_then(|metadata| metadata.labels.as_ref()).unwrap_or(&empty_labels);
    let parsed = if context.was_missing("/spec/selector") { Ok(Selector::nothing()) } else { Selector::from_k8s(selector) };
    match parsed {
        Err(_) => causes.invalid(&selector_path, json_of(selector), "invalid label selector"),
        Ok(parsed) => {
            if !parsed.is_empty() && !parsed.matches(labels) {
                causes.invalid(
                    &template_path.child("metadata").child("labels"),
                    json_of(labels),
                    "`selector` does not match template `labels`",
                );
            }
            validate_template(template, &template_path, "ReplicaSet", causes);
        }
    }
}

/// `ValidatePodTemplateSpec` plus what a controller's template must be: `restartPolicy: Always`
/// and no `activeDeadlineSeconds` (whose message names `controller`, the kind whose validation
/// it is: `ReplicaSet` for the apps kinds, `ReplicationController`).
pub(crate) fn validate_template(template: &PodTemplateSpec, path: &Path, controller: &str, causes: &mut Causes) {
    let metadata = template.metadata.clone().unwrap_or_default();
    metadata::validate_labels(metadata.labels.as_ref(), &path.child("labels"), causes);
    metadata::validate_annotations(metadata.annotations.as_ref(), &path.child("annotations"), causes);
    let spec = template.spec.clone().unwrap_or_default();
    let spec_path = path.child("spec");
    pod_spec::validate(&spec, &spec_path, false, causes);
    if spec.ephemeral_containers.as_ref().is_some_and(|containers| !containers.is_empty()) {
        causes.forbidden(&spec_path.child("ephemeralContainers"), "ephemeral containers not allowed in pod template");
    }
    let restart_policy = spec.restart_policy.as_deref().unwrap_or_default();
    if restart_policy != "Always" {
        causes.not_supported(&spec_path.child("restartPolicy"), restart_policy, &["Always"]);
    }
    if spec.active_deadline_seconds.is_some() {
        causes.forbidden(&spec_path.child("activeDeadlineSeconds"), &format!("activeDeadlineSeconds in {controller} is not Supported"));
    }
}

fn validate_spec(spec: &DeploymentSpec, context: &Context, causes: &mut Causes) {
    let path = Path::new("spec");
    non_negative(&path.child("replicas"), spec.replicas.unwrap_or(0).into(), causes);
    validate_selector_and_template(&spec.selector, &spec.template, context, causes);
    validate_strategy(&spec.strategy.clone().unwrap_or_default(), &path.child("strategy"), causes);
    let min_ready = spec.min_ready_seconds.unwrap_or(0);
    non_negative(&path.child("minReadySeconds"), min_ready.into(), causes);
    if let Some(limit) = spec.revision_history_limit {
        non_negative(&path.child("revisionHistoryLimit"), limit.into(), causes);
    }
    if let Some(deadline) = spec.progress_deadline_seconds {
        non_negative(&path.child("progressDeadlineSeconds"), deadline.into(), causes);
        if deadline <= min_ready {
            causes.invalid(&path.child("progressDeadlineSeconds"), deadline, "must be greater than minReadySeconds");
        }
    }
}

fn validate_strategy(strategy: &DeploymentStrategy, path: &Path, causes: &mut Causes) {
    match strategy.type_.as_deref().unwrap_or_default() {
        "Recreate" => {
            if strategy.rolling_update.is_some() {
                causes.forbidden(
                    &path.child("rollingUpdate"),
                    "may not be specified when strategy `type` is 'Recreate'",
                );
            }
        }
        "RollingUpdate" => match strategy.rolling_update.as_ref() {
            None => causes.required(&path.child("rollingUpdate"), "this should be defaulted and never be nil"),
            Some(rolling_update) => validate_rolling_update(rolling_update, &path.child("rollingUpdate"), causes),
        },
        _ => causes.not_supported(path, json_of(strategy), &["Recreate", "RollingUpdate"]),
    }
}

/// The value of an int-or-percent, as `getIntOrPercentValue` reads it (a bad string is 0).
pub(crate) fn int_or_percent_value(value: &IntOrString) -> i64 {
    match value {
        IntOrString::Int(number) => (*number).into(),
        IntOrString::String(text) => match text.strip_suffix('%') {
            Some(number) if names::percent(text).is_empty() => number.parse().unwrap_or(0),
            _ => text.parse().unwrap_or(0),
        },
    }
}

/// `ValidatePositiveIntOrPercent`: a non-negative integer or a well-formed percentage.
pub(crate) fn validate_int_or_percent(value: &IntOrString, path: &Path, causes: &mut Causes) {
    match value {
        IntOrString::String(text) => {
            for message in names::percent(text) {
                causes.invalid(path, text.as_str(), &message);
            }
        }
        IntOrString::Int(number) => non_negative(path, (*number).into(), causes),
    }
}

fn validate_rolling_update(rolling_update: &RollingUpdateDeployment, path: &Path, causes: &mut Causes) {
    let zero = IntOrString::Int(0);
    let max_unavailable = rolling_update.max_unavailable.as_ref().unwrap_or(&zero);
    let max_surge = rolling_update.max_surge.as_ref().unwrap_or(&zero);
    validate_int_or_percent(max_unavailable, &path.child("maxUnavailable"), causes);
    validate_int_or_percent(max_surge, &path.child("maxSurge"), causes);
    if int_or_percent_value(max_unavailable) == 0 && int_or_percent_value(max_surge) == 0 {
        causes.invalid(&path.child("maxUnavailable"), json_of(max_unavailable), "may not be 0 when `maxSurge` is 0");
    }
    not_more_than_100_percent(max_unavailable, &path.child("maxUnavailable"), causes);
}

/// `IsNotMoreThan100Percent`: a percentage (an integer is not one) of at most 100.
pub(crate) fn not_more_than_100_percent(value: &IntOrString, path: &Path, causes: &mut Causes) {
    if let IntOrString::String(text) = value
        && names::percent(text).is_empty() && int_or_percent_value(value) > 100
    {
        causes.invalid(path, text.as_str(), "must not be greater than 100%");
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::test_support::*;
    use super::super::{FieldValidation, admit_status_update};

    #[test]
    fn a_minimal_deployment_gets_kubernetes_defaults() {
        let admitted = admitted(resource("deployments"), deployment("web"));
        let expected = json!({
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "demo"},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": "web"}},
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}},
                "revisionHistoryLimit": 10,
                "progressDeadlineSeconds": 600,
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {
                        "containers": [{"name": "web", "image": "nginx:1.25", "imagePullPolicy": "IfNotPresent",
                            "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File"}],
                        "restartPolicy": "Always", "dnsPolicy": "ClusterFirst", "terminationGracePeriodSeconds": 30,
                        "schedulerName": "default-scheduler", "securityContext": {}
                    }
                }
            },
            "status": {}
        });
        assert_eq!(admitted, expected);
    }

    #[test]
    fn status_is_reset_on_create() {
        let object = with(deployment("web"), "/status", json!({"replicas": 3, "readyReplicas": 3}));
        assert_eq!(admitted(resource("deployments"), object)["status"], json!({}));
    }

    #[test]
    fn deployment_validation() {
        let rows: Vec<(&str, serde_json::Value, Outcome)> = vec![
            ("valid", deployment("web"), Outcome::Admitted),
            ("recreate", with(deployment("web"), "/spec/strategy", json!({"type": "Recreate"})), Outcome::Admitted),
            ("no selector", without(deployment("web"), "/spec/selector"), invalid(&["spec.selector", "spec.template.metadata.labels"], "spec.selector: Required value")),
            ("no spec", without(deployment("web"), "/spec"), invalid(&["spec.selector", "spec.template.metadata.labels", "spec.template.spec.containers"], "Required value")),
            ("empty selector", with(deployment("web"), "/spec/selector", json!({})), invalid(&["spec.selector"], "empty selector is invalid for deployment")),
            ("selector does not match", with(deployment("web"), "/spec/template/metadata/labels", json!({"app": "other"})), invalid(&["spec.template.metadata.labels"], "Invalid value: {\"app\":\"other\"}: `selector` does not match template `labels`")),
            ("selector expression", with(deployment("web"), "/spec/selector", json!({"matchExpressions": [{"key": "app", "operator": "In"}]})), invalid(&["spec.selector.matchExpressions[0].values", "spec.selector"], "must be specified when `operator` is 'In' or 'NotIn'")),
            ("selector operator", with(deployment("web"), "/spec/selector", json!({"matchExpressions": [{"key": "app", "operator": "Near"}]})), invalid(&["spec.selector.matchExpressions[0].operator", "spec.selector"], "not a valid selector operator")),
            ("matching expression", with(deployment("web"), "/spec/selector", json!({"matchExpressions": [{"key": "app", "operator": "Exists"}]})), Outcome::Admitted),
            ("selector label value", with(deployment("web"), "/spec/selector/matchLabels", json!({"app": "we b"})), invalid(&["spec.selector.matchLabels", "spec.selector"], "a valid label must be an empty string")),
            ("negative replicas", with(deployment("web"), "/spec/replicas", json!(-1)), invalid(&["spec.replicas"], "Invalid value: -1: must be greater than or equal to 0")),
            ("template restartPolicy", with(deployment("web"), "/spec/template/spec/restartPolicy", json!("Never")), invalid(&["spec.template.spec.restartPolicy"], "Unsupported value: \"Never\": supported values: \"Always\"")),
            ("template activeDeadlineSeconds", with(deployment("web"), "/spec/template/spec/activeDeadlineSeconds", json!(10)), invalid(&["spec.template.spec.activeDeadlineSeconds"], "activeDeadlineSeconds in ReplicaSet is not Supported")),
            ("template image", without(deployment("web"), "/spec/template/spec/containers/0/image"), invalid(&["spec.template.spec.containers[0].image"], "spec.template.spec.containers[0].image: Required value")),
            ("template label key", with(deployment("web"), "/spec/template/metadata/labels/a~1b~1c", json!("x")), invalid(&["spec.template.labels"], "a qualified name")),
            ("strategy type", with(deployment("web"), "/spec/strategy", json!({"type": "BlueGreen"})), invalid(&["spec.strategy"], "supported values: \"Recreate\", \"RollingUpdate\"")),
            ("recreate with rollingUpdate", with(deployment("web"), "/spec/strategy", json!({"type": "Recreate", "rollingUpdate": {}})), invalid(&["spec.strategy.rollingUpdate"], "may not be specified when strategy `type` is 'Recreate'")),
            ("both zero", with(deployment("web"), "/spec/strategy", json!({"rollingUpdate": {"maxSurge": 0, "maxUnavailable": "0%"}})), invalid(&["spec.strategy.rollingUpdate.maxUnavailable"], "Invalid value: \"0%\": may not be 0 when `maxSurge` is 0")),
            ("bad percent", with(deployment("web"), "/spec/strategy", json!({"rollingUpdate": {"maxSurge": "ten"}})), invalid(&["spec.strategy.rollingUpdate.maxSurge"], "a valid percent string must be a numeric string followed by an ending '%'")),
            ("negative surge", with(deployment("web"), "/spec/strategy", json!({"rollingUpdate": {"maxSurge": -1}})), invalid(&["spec.strategy.rollingUpdate.maxSurge"], "must be greater than or equal to 0")),
            ("over 100%", with(deployment("web"), "/spec/strategy", json!({"rollingUpdate": {"maxUnavailable": "150%"}})), invalid(&["spec.strategy.rollingUpdate.maxUnavailable"], "must not be greater than 100%")),
            ("revisionHistoryLimit", with(deployment("web"), "/spec/revisionHistoryLimit", json!(-1)), invalid(&["spec.revisionHistoryLimit"], "must be greater than or equal to 0")),
            ("progress deadline", with(with(deployment("web"), "/spec/minReadySeconds", json!(30)), "/spec/progressDeadlineSeconds", json!(30)), invalid(&["spec.progressDeadlineSeconds"], "must be greater than minReadySeconds")),
            ("replicas type", with(deployment("web"), "/spec/replicas", json!("two")), Outcome::BadRequest("Deployment in version \"v1\" cannot be handled as a Deployment: spec.replicas: invalid type: string \"two\", expected i32")),
        ];
        run_create("deployments", rows);
    }

    #[test]
    fn deployment_updates() {
        let old = admitted(resource("deployments"), deployment("web"));
        let rows: Vec<(&str, serde_json::Value, Outcome)> = vec![
            ("scaled", with(old.clone(), "/spec/replicas", json!(3)), Outcome::Admitted),
            ("new image", with(old.clone(), "/spec/template/spec/containers/0/image", json!("nginx:1.27")), Outcome::Admitted),
            ("selector changed", with(with(old.clone(), "/spec/selector/matchLabels/tier", json!("front")), "/spec/template/metadata/labels/tier", json!("front")), invalid(&["spec.selector"], "spec.selector: Invalid value: {\"matchLabels\":{\"app\":\"web\",\"tier\":\"front\"}}: field is immutable")),
            ("namespace changed", with(old.clone(), "/metadata/namespace", json!("other")), invalid(&["metadata.namespace"], "field is immutable")),
        ];
        run_update("deployments", &old, rows);
    }

    #[test]
    fn deployment_status_updates() {
        let old = admitted(resource("deployments"), deployment("web"));
        let rows: Vec<(&str, serde_json::Value, Outcome)> = vec![
            ("progress", with(old.clone(), "/status", json!({"replicas": 2, "readyReplicas": 1, "availableReplicas": 1, "updatedReplicas": 2, "observedGeneration": 1})), Outcome::Admitted),
            ("negative", with(old.clone(), "/status", json!({"replicas": -1})), invalid(&["status.replicas", "status.updatedReplicas", "status.readyReplicas", "status.availableReplicas"], "status.replicas: Invalid value: -1: must be greater than or equal to 0")),
            ("ready above replicas", with(old.clone(), "/status", json!({"replicas": 1, "readyReplicas": 2, "availableReplicas": 0})), invalid(&["status.readyReplicas"], "cannot be greater than status.replicas")),
            ("available above ready", with(old.clone(), "/status", json!({"replicas": 2, "readyReplicas": 1, "availableReplicas": 2})), invalid(&["status.availableReplicas"], "cannot be greater than readyReplicas")),
        ];
        for (label, object, expected) in rows {
            check(label, admit_status_update(resource("deployments"), object, &old, FieldValidation::Strict), &expected);
        }
    }
}
