//! `StatefulSet` (`apps/v1`): its declaration (with the scale subresource, served as a
//! Deployment's is), its strategy (kube's `SetDefaults_StatefulSet` and the defaults of its pod
//! and claim templates, the StatefulSet strategy's status reset and dropped alpha field,
//! `ValidateStatefulSet`, `ValidateStatefulSetUpdate` with the fields an update may change,
//! `ValidateStatefulSetStatusUpdate`) and its printer (`printStatefulSet`).

use common::names::{NameFormat, dns1123_label};
use common::selector::LabelSelector as Selector;
use k8s_openapi::api::apps::v1::{
    RollingUpdateStatefulSetStrategy, StatefulSet, StatefulSetPersistentVolumeClaimRetentionPolicy, StatefulSetSpec,
    StatefulSetStatus, StatefulSetUpdateStrategy,
};
use serde_json::{Value, json};

use crate::admission::deployment::{
    int_or_percent_value, non_negative, not_more_than_100_percent, template_defaults, template_quantities,
    validate_int_or_percent, validate_label_selector,
};
use crate::admission::field::{Causes, Path, go_string_map, json_of};
use crate::admission::{Context, Typed, TypedKind, metadata};
use crate::errors::Cause;
use crate::kinds::ALL;
use crate::printers::{self, AGE, CONTAINERS, IMAGES, NAME, Column, Printer, number};
use crate::registry::Kind;
use crate::resources::{PodSelector, ResourceType};

pub static KIND: Kind = Kind {
    resource: ResourceType::builtin("apps", "v1", "StatefulSet", "statefulsets", "statefulset")
        .namespaced()
        .short_names(&["sts"])
        .categories(ALL)
        .subresources(&["status", "scale"])
        .tracks_generation()
        .pod_selector(PodSelector::LabelSelector),
    strategy: &STRATEGY,
    printer: Some(&PRINTER),
};

static STRATEGY: Typed<StatefulSet> = Typed::new();

/// kube's message for an update to a field outside [`clear_updatable`]'s.
const FORBIDDEN_UPDATE: &str =
    "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden";

fn spec_of(stateful_set: &StatefulSet) -> StatefulSetSpec {
    stateful_set.spec.clone().unwrap_or_default()
}

impl TypedKind for StatefulSet {
    /// Pods are named `<name>-<ordinal>` and take that as their hostname: kube holds the name
    /// to a DNS label.
    const NAME_FORMAT: NameFormat = NameFormat::Dns1123Label;

    fn check_quantities(&self) -> Result<(), common::quantity::QuantityError> {
        template_quantities(self.spec.as_ref().map(|spec| &spec.template))
    }

    fn apply_defaults(&mut self) {
        let spec = self.spec.get_or_insert_with(Default::default);
        if spec.pod_management_policy.as_deref().unwrap_or_default().is_empty() {
            spec.pod_management_policy = Some("OrderedReady".into());
        }
        let strategy = spec.update_strategy.get_or_insert_with(StatefulSetUpdateStrategy::default);
        if strategy.type_.as_deref().unwrap_or_default().is_empty() {
            strategy.type_ = Some("RollingUpdate".into());
            strategy.rolling_update.get_or_insert_with(RollingUpdateStatefulSetStrategy::default);
        }
        // An explicit RollingUpdate without parameters keeps none, as kube leaves it.
        if strategy.type_.as_deref() == Some("RollingUpdate")
            && let Some(rolling_update) = strategy.rolling_update.as_mut()
        {
            rolling_update.partition.get_or_insert(0);
        }
        let retention = spec.persistent_volume_claim_retention_policy.get_or_insert_with(StatefulSetPersistentVolumeClaimRetentionPolicy::default);
        for policy in [&mut retention.when_deleted, &mut retention.when_scaled] {
            if policy.as_deref().unwrap_or_default().is_empty() {
                *policy = Some("Retain".into());
            }
        }
        spec.replicas.get_or_insert(1);
        spec.revision_history_limit.get_or_insert(10);
        template_defaults(&mut spec.template);
        // `SetDefaults_PersistentVolumeClaim` and `..._PersistentVolumeClaimSpec` of each claim.
        for claim in spec.volume_claim_templates.iter_mut().flatten() {
            claim.spec.get_or_insert_with(Default::default).volume_mode.get_or_insert_with(|| "Filesystem".into());
            claim.status.get_or_insert_with(Default::default).phase.get_or_insert_with(|| "Pending".into());
        }
    }

    fn prepare_for_create(&mut self) {
        self.status = Some(StatefulSetStatus { available_replicas: Some(0), ..Default::default() });
        drop_max_unavailable(self, None);
    }

    fn prepare_for_update(&mut self, old: &Self) {
        self.status = old.status.clone();
        drop_max_unavailable(self, Some(old));
    }

    fn prepare_for_status_update(&mut self, old: &Self) {
        self.spec = old.spec.clone();
    }

    fn validate(&self, context: &Context, causes: &mut Causes) {
        validate_spec(&spec_of(self), context, false, causes);
    }

    fn validate_update(&self, old: &Self, context: &Context, causes: &mut Causes) {
        let spec = spec_of(self);
        // The service name cannot change, so one stored before it was checked stays.
        validate_spec(&spec, context, true, causes);
        let (mut new_rest, mut old_rest) = (spec, spec_of(old));
        clear_updatable(&mut new_rest);
        clear_updatable(&mut old_rest);
        if !semantically_equal(&json_of(&new_rest), &json_of(&old_rest)) {
            causes.forbidden(&Path::new("spec"), FORBIDDEN_UPDATE);
        }
    }

    /// `ValidateStatefulSetStatusUpdate`.
    fn validate_status_update(&self, old: &Self, _context: &Context, causes: &mut Causes) {
        let status = self.status.clone().unwrap_or_default();
        let path = Path::new("status");
        let replicas = status.replicas;
        let ready = status.ready_replicas.unwrap_or(0);
        let current = status.current_replicas.unwrap_or(0);
        let updated = status.updated_replicas.unwrap_or(0);
        let available = status.available_replicas.unwrap_or(0);
        for (field, value) in [("replicas", replicas), ("readyReplicas", ready), ("currentReplicas", current), ("updatedReplicas", updated), ("availableReplicas", available)] {
            non_negative(&path.child(field), value.into(), causes);
        }
        if let Some(generation) = status.observed_generation {
            non_negative(&path.child("observedGeneration"), generation, causes);
        }
        if let Some(count) = status.collision_count {
            non_negative(&path.child("collisionCount"), count.into(), causes);
        }
        for (field, value) in [("readyReplicas", ready), ("currentReplicas", current), ("updatedReplicas", updated), ("availableReplicas", available)] {
            if value > replicas {
                causes.invalid(&path.child(field), value, "cannot be greater than status.replicas");
            }
        }
        if available > ready {
            causes.invalid(&path.child("availableReplicas"), available, "cannot be greater than status.readyReplicas");
        }
        let old_count = old.status.as_ref().and_then(|status| status.collision_count);
        if let Some(old_count) = old_count
            && status.collision_count.unwrap_or(0) < old_count
        {
            causes.invalid(&path.child("collisionCount"), status.collision_count.unwrap_or(0), "cannot be decremented");
        }
    }
}

/// `maxUnavailable` is behind the MaxUnavailableStatefulSet gate, alpha (off) in 1.33: kube's
/// strategy drops it unless the stored object already uses it.
fn drop_max_unavailable(stateful_set: &mut StatefulSet, old: Option<&StatefulSet>) {
    let in_use = |stateful_set: &StatefulSet| {
        stateful_set.spec.as_ref().and_then(|spec| spec.update_strategy.as_ref()).and_then(|strategy| strategy.rolling_update.as_ref()).is_some_and(|rolling_update| rolling_update.max_unavailable.is_some())
    };
    if old.is_some_and(in_use) {
        return;
    }
    if let Some(rolling_update) = stateful_set.spec.as_mut().and_then(|spec| spec.update_strategy.as_mut()).and_then(|strategy| strategy.rolling_update.as_mut()) {
        rolling_update.max_unavailable = None;
    }
}

/// Sets what `ValidateStatefulSetUpdate` lets an update change to its zero value, so that the
/// rest of two specs compares.
fn clear_updatable(spec: &mut StatefulSetSpec) {
    spec.replicas = None;
    spec.template = Default::default();
    spec.update_strategy = None;
    spec.min_ready_seconds = None;
    spec.ordinals = None;
    spec.persistent_volume_claim_retention_policy = None;
}

/// `apiequality.Semantic.DeepEqual` on JSON: an empty list or map equals an absent one.
fn semantically_equal(left: &Value, right: &Value) -> bool {
    fn normal(value: &Value) -> Option<Value> {
        match value {
            Value::Object(fields) => {
                let kept: serde_json::Map<String, Value> = fields.iter().filter_map(|(key, value)| normal(value).map(|value| (key.clone(), value))).collect();
                (!kept.is_empty()).then_some(Value::Object(kept))
            }
            Value::Array(items) if items.is_empty() => None,
            Value::Array(items) => Some(Value::Array(items.iter().map(|item| normal(item).unwrap_or(Value::Null)).collect())),
            Value::Null => None,
            other => Some(other.clone()),
        }
    }
    normal(left) == normal(right)
}

/// `ValidateStatefulSetSpec`; `allow_invalid_service_name` on update.
fn validate_spec(spec: &StatefulSetSpec, context: &Context, allow_invalid_service_name: bool, causes: &mut Causes) {
    let path = Path::new("spec");
    match spec.pod_management_policy.as_deref().unwrap_or_default() {
        "" => causes.required(&path.child("podManagementPolicy"), ""),
        "OrderedReady" | "Parallel" => {}
        other => causes.invalid(&path.child("podManagementPolicy"), other, "must be 'OrderedReady' or 'Parallel'"),
    }
    let strategy = spec.update_strategy.clone().unwrap_or_default();
    let strategy_path = path.child("updateStrategy");
    match (strategy.type_.as_deref().unwrap_or_default(), &strategy.rolling_update) {
        ("", _) => causes.required(&strategy_path, ""),
        ("OnDelete", Some(rolling_update)) => {
            causes.invalid(&strategy_path.child("rollingUpdate"), json_of(rolling_update), "only allowed for updateStrategy 'RollingUpdate'");
        }
        ("OnDelete", None) | ("RollingUpdate", None) => {}
        ("RollingUpdate", Some(rolling_update)) => validate_rolling_update(rolling_update, &strategy_path.child("rollingUpdate"), causes),
        _ => causes.invalid(&strategy_path, json_of(&strategy), "must be 'RollingUpdate' or 'OnDelete'"),
    }
    if let Some(retention) = &spec.persistent_volume_claim_retention_policy {
        let retention_path = path.child("persistentVolumeClaimRetentionPolicy");
        for (field, policy) in [("whenDeleted", &retention.when_deleted), ("whenScaled", &retention.when_scaled)] {
            let policy = policy.as_deref().unwrap_or_default();
            if !matches!(policy, "Retain" | "Delete") {
                causes.not_supported(&retention_path.child(field), policy, &["Retain", "Delete"]);
            }
        }
    }
    non_negative(&path.child("replicas"), spec.replicas.unwrap_or(0).into(), causes);
    non_negative(&path.child("minReadySeconds"), spec.min_ready_seconds.unwrap_or(0).into(), causes);
    if let Some(ordinals) = &spec.ordinals {
        non_negative(&path.child("ordinals").child("start"), ordinals.start.unwrap_or(0).into(), causes);
    }
    // The service name becomes the pods' subdomain, which must be a DNS label (kube 1.33).
    let service_name = spec.service_name.as_deref().unwrap_or_default();
    if !allow_invalid_service_name && !service_name.is_empty() {
        causes.invalid_each(&path.child("serviceName"), service_name, dns1123_label(service_name));
    }
    validate_selector_and_template(spec, context, causes);
}

/// The selector and template part of `ValidateStatefulSetSpec`: of the pod template only its
/// labels and annotations are checked (kube leaves the pod spec to the pods the controller
/// creates), besides `restartPolicy: Always` and no `activeDeadlineSeconds`.
fn validate_selector_and_template(spec: &StatefulSetSpec, context: &Context, causes: &mut Causes) {
    let path = Path::new("spec");
    let selector_path = path.child("selector");
    let template_path = path.child("template");
    let missing = context.was_missing("/spec/selector");
    if missing {
        causes.required(&selector_path, "");
    } else {
        validate_label_selector(&spec.selector, &selector_path, causes);
        let empty = spec.selector.match_labels.as_ref().is_none_or(|labels| labels.is_empty())
            && spec.selector.match_expressions.as_ref().is_none_or(Vec::is_empty);
        if empty {
            causes.invalid(&selector_path, json_of(&spec.selector), "empty selector is invalid for statefulset");
        }
    }
    let selector = if missing { Ok(Selector::nothing()) } else { Selector::from_k8s(&spec.selector) };
    let template_metadata = spec.template.metadata.clone().unwrap_or_default();
    match selector {
        // kube's detail here is empty, so the message ends at the value.
        Err(_) => causes.push(Cause { reason: "FieldValueInvalid", field: selector_path.to_string(), message: format!("Invalid value: {}", json_of(&spec.selector)) }),
        Ok(selector) => {
            if !selector.is_empty() && !selector.matches(&template_metadata.labels.clone().unwrap_or_default()) {
                causes.invalid_shown(&template_path.child("metadata").child("labels"), &go_string_map(template_metadata.labels.as_ref()), "`selector` does not match template `labels`");
            }
            metadata::validate_labels(template_metadata.labels.as_ref(), &template_path.child("labels"), causes);
            metadata::validate_annotations(template_metadata.annotations.as_ref(), &template_path.child("annotations"), causes);
        }
    }
    let pod = spec.template.spec.clone().unwrap_or_default();
    let restart_policy = pod.restart_policy.as_deref().unwrap_or_default();
    if restart_policy != "Always" {
        causes.not_supported(&template_path.child("spec").child("restartPolicy"), restart_policy, &["Always"]);
    }
    if pod.active_deadline_seconds.is_some() {
        causes.forbidden(&template_path.child("spec").child("activeDeadlineSeconds"), "activeDeadlineSeconds in StatefulSet is not Supported");
    }
}

/// `validateRollingUpdateStatefulSet`.
fn validate_rolling_update(rolling_update: &RollingUpdateStatefulSetStrategy, path: &Path, causes: &mut Causes) {
    non_negative(&path.child("partition"), rolling_update.partition.unwrap_or(0).into(), causes);
    if let Some(max_unavailable) = &rolling_update.max_unavailable {
        let max_path = path.child("maxUnavailable");
        validate_int_or_percent(max_unavailable, &max_path, causes);
        if int_or_percent_value(max_unavailable) == 0 {
            causes.invalid(&max_path, json_of(max_unavailable), "cannot be 0");
        }
        not_more_than_100_percent(max_unavailable, &max_path, causes);
    }
}

static PRINTER: Printer = Printer {
    columns: &[NAME, Column::new("Ready", "string", 0, "Number of the pod with ready state"), AGE, CONTAINERS, IMAGES],
    cells,
};

/// `printStatefulSet`'s row.
fn cells(stateful_set: &Value) -> Vec<Value> {
    let [containers, images] = printers::template_containers(stateful_set);
    vec![
        printers::name(stateful_set),
        json!(format!("{}/{}", number(stateful_set, "/status/readyReplicas"), number(stateful_set, "/spec/replicas"))),
        printers::age_of(stateful_set),
        containers,
        images,
    ]
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::admission::test_support::*;
    use crate::admission::{FieldValidation, admit_status_update};

    fn stateful_set(name: &str) -> Value {
        let mut object = deployment(name);
        object["kind"] = json!("StatefulSet");
        object["spec"]["serviceName"] = json!(name);
        object
    }

    #[test]
    fn a_minimal_stateful_set_gets_kubernetes_defaults() {
        let object = with(stateful_set("db"), "/spec/volumeClaimTemplates", json!([{"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]));
        let defaulted = admitted(resource("statefulsets"), object);
        let spec = &defaulted["spec"];
        assert_eq!(spec["podManagementPolicy"], "OrderedReady");
        assert_eq!(spec["updateStrategy"], json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}));
        assert_eq!(spec["persistentVolumeClaimRetentionPolicy"], json!({"whenDeleted": "Retain", "whenScaled": "Retain"}));
        assert_eq!((spec["replicas"].clone(), spec["revisionHistoryLimit"].clone()), (json!(1), json!(10)));
        assert_eq!(spec["template"]["spec"]["restartPolicy"], "Always");
        let claim = &spec["volumeClaimTemplates"][0];
        assert_eq!((claim["apiVersion"].clone(), claim["kind"].clone()), (json!("v1"), json!("PersistentVolumeClaim")), "{claim}");
        assert_eq!((claim["spec"]["volumeMode"].clone(), claim["status"]["phase"].clone()), (json!("Filesystem"), json!("Pending")), "{claim}");
        assert_eq!(defaulted["status"], json!({"replicas": 0, "availableReplicas": 0}));
        let alpha = admitted(resource("statefulsets"), with(stateful_set("db"), "/spec/updateStrategy", json!({"rollingUpdate": {"maxUnavailable": 2}})));
        assert_eq!(alpha["spec"]["updateStrategy"], json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}), "the alpha field is dropped");
    }

    #[test]
    fn stateful_set_validation() {
        let rows: Vec<(&str, Value, Outcome)> = vec![
            ("valid", stateful_set("db"), Outcome::Admitted),
            ("no service", without(stateful_set("db"), "/spec/serviceName"), Outcome::Admitted),
            ("no image: left to the pods", without(stateful_set("db"), "/spec/template/spec/containers/0/image"), Outcome::Admitted),
            ("name with a dot", with(stateful_set("db"), "/metadata/name", json!("db.primary")), invalid(&["metadata.name"], "metadata.name: Invalid value: \"db.primary\": must not contain dots")),
            ("no selector", without(stateful_set("db"), "/spec/selector"), invalid(&["spec.selector", "spec.template.metadata.labels"], "spec.selector: Required value")),
            ("empty selector", with(stateful_set("db"), "/spec/selector", json!({})), invalid(&["spec.selector"], "empty selector is invalid for statefulset")),
            ("selector does not match", with(stateful_set("db"), "/spec/selector/matchLabels/app", json!("other")), invalid(&["spec.template.metadata.labels"], "spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"db\"}: `selector` does not match template `labels`")),
            ("negative replicas", with(stateful_set("db"), "/spec/replicas", json!(-1)), invalid(&["spec.replicas"], "spec.replicas: Invalid value: -1: must be greater than or equal to 0")),
            ("negative ordinals", with(stateful_set("db"), "/spec/ordinals", json!({"start": -1})), invalid(&["spec.ordinals.start"], "must be greater than or equal to 0")),
            ("negative partition", with(stateful_set("db"), "/spec/updateStrategy", json!({"type": "RollingUpdate", "rollingUpdate": {"partition": -1}})), invalid(&["spec.updateStrategy.rollingUpdate.partition"], "must be greater than or equal to 0")),
            ("policy", with(stateful_set("db"), "/spec/podManagementPolicy", json!("Random")), invalid(&["spec.podManagementPolicy"], "Invalid value: \"Random\": must be 'OrderedReady' or 'Parallel'")),
            ("strategy", with(stateful_set("db"), "/spec/updateStrategy", json!({"type": "Recreate"})), invalid(&["spec.updateStrategy"], "must be 'RollingUpdate' or 'OnDelete'")),
            ("on delete with rolling update", with(stateful_set("db"), "/spec/updateStrategy", json!({"type": "OnDelete", "rollingUpdate": {}})), invalid(&["spec.updateStrategy.rollingUpdate"], "only allowed for updateStrategy 'RollingUpdate'")),
            ("retention", with(stateful_set("db"), "/spec/persistentVolumeClaimRetentionPolicy/whenScaled", json!("Keep")), invalid(&["spec.persistentVolumeClaimRetentionPolicy.whenScaled"], "supported values: \"Retain\", \"Delete\"")),
            ("service name", with(stateful_set("db"), "/spec/serviceName", json!("DB_Service")), invalid(&["spec.serviceName"], "a lowercase RFC 1123 label")),
            ("restart policy", with(stateful_set("db"), "/spec/template/spec/restartPolicy", json!("OnFailure")), invalid(&["spec.template.spec.restartPolicy"], "supported values: \"Always\"")),
            ("deadline", with(stateful_set("db"), "/spec/template/spec/activeDeadlineSeconds", json!(1)), invalid(&["spec.template.spec.activeDeadlineSeconds"], "activeDeadlineSeconds in StatefulSet is not Supported")),
        ];
        run_create("statefulsets", rows);
    }

    #[test]
    fn stateful_set_updates() {
        let old = admitted(resource("statefulsets"), stateful_set("db"));
        let claim = json!([{"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"]}}]);
        let rows: Vec<(&str, Value, Outcome)> = vec![
            ("scaled", with(old.clone(), "/spec/replicas", json!(3)), Outcome::Admitted),
            ("new image", with(old.clone(), "/spec/template/spec/containers/0/image", json!("nginx:1.27")), Outcome::Admitted),
            ("strategy", with(old.clone(), "/spec/updateStrategy", json!({"type": "OnDelete"})), Outcome::Admitted),
            ("ordinals and minReadySeconds", with(with(old.clone(), "/spec/ordinals", json!({"start": 5})), "/spec/minReadySeconds", json!(10)), Outcome::Admitted),
            ("retention", with(old.clone(), "/spec/persistentVolumeClaimRetentionPolicy/whenDeleted", json!("Delete")), Outcome::Admitted),
            ("empty claims equal none", with(old.clone(), "/spec/volumeClaimTemplates", json!([])), Outcome::Admitted),
            ("service name", with(old.clone(), "/spec/serviceName", json!("other")), invalid(&["spec"], format!("spec: Forbidden: {FORBIDDEN_UPDATE}").leak())),
            ("claims", with(old.clone(), "/spec/volumeClaimTemplates", claim), invalid(&["spec"], FORBIDDEN_UPDATE)),
            ("pod management", with(old.clone(), "/spec/podManagementPolicy", json!("Parallel")), invalid(&["spec"], FORBIDDEN_UPDATE)),
            ("history", with(old.clone(), "/spec/revisionHistoryLimit", json!(3)), invalid(&["spec"], FORBIDDEN_UPDATE)),
            ("negative replicas", with(old.clone(), "/spec/replicas", json!(-1)), invalid(&["spec.replicas"], "must be greater than or equal to 0")),
        ];
        run_update("statefulsets", &old, rows);
        let rows: Vec<(&str, Value, Outcome)> = vec![
            ("counts", with(old.clone(), "/status", json!({"replicas": 2, "readyReplicas": 2, "availableReplicas": 1})), Outcome::Admitted),
            ("ready above replicas", with(old.clone(), "/status", json!({"replicas": 1, "readyReplicas": 2})), invalid(&["status.readyReplicas"], "cannot be greater than status.replicas")),
            ("available above ready", with(old.clone(), "/status", json!({"replicas": 2, "readyReplicas": 1, "availableReplicas": 2})), invalid(&["status.availableReplicas"], "cannot be greater than status.readyReplicas")),
        ];
        for (label, object, expected) in rows {
            check(label, admit_status_update(resource("statefulsets"), object, &old, FieldValidation::Strict), &expected);
        }
    }

    #[test]
    fn a_stateful_set_prints_ready_of_desired() {
        let object = json!({"metadata": {"name": "db"}, "spec": {"replicas": 3, "template": {"spec": {"containers": [{"name": "c", "image": "busybox"}]}}}, "status": {"readyReplicas": 2}});
        let row = printers::row_of("StatefulSet", &object);
        assert_eq!(row[1], json!("2/3"));
        assert_eq!(row[3..], [json!("c"), json!("busybox")]);
    }
}
