//! `HorizontalPodAutoscaler` served as `autoscaling/v1`: the objects are stored as
//! `autoscaling/v2` (`horizontal_pod_autoscaler.rs`) and converted on the way in and out, as
//! kube's conversion between v1 and the internal type does: `targetCPUUtilizationPercentage`
//! is a cpu `Utilization` Resource metric, `currentCPUUtilizationPercentage` its current value.
//! What v1 cannot express (other metrics, `behavior`, conditions) is kept from the stored
//! object on a write through v1, where kube keeps it in `autoscaling.alpha.kubernetes.io/*`
//! annotations.

use k8s_openapi::api::autoscaling::v1::HorizontalPodAutoscaler;
use serde_json::{Map, Value, json};

use super::horizontal_pod_autoscaler as v2;
use crate::errors::ApiError;
use crate::printers::Printer;
use crate::registry::Kind;
use crate::resources::{Conversion, ResourceType};
use crate::strategy::{Admitted, FieldValidation, Operation, Strategy};

pub static KIND: Kind = Kind {
    resource: ResourceType::builtin("autoscaling", "v1", "HorizontalPodAutoscaler", "horizontalpodautoscalers", "horizontalpodautoscaler")
        .namespaced()
        .short_names(&["hpa"])
        .categories(crate::kinds::ALL)
        .subresources(&["status"])
        .conversion(&CONVERSION),
    strategy: &STRATEGY,
    printer: Some(&PRINTER),
};

static CONVERSION: Conversion = Conversion { stored_version: "autoscaling/v2", to_served, to_stored };

static STRATEGY: V1Strategy = V1Strategy;

/// Admits a v1 object as its v2 form is admitted (kube validates the internal type, so the
/// causes name v2's fields), and answers it in v1.
struct V1Strategy;

impl Strategy for V1Strategy {
    fn admit(&self, resource: &ResourceType, object: Value, old: Option<&Value>, operation: Operation, validation: FieldValidation) -> Result<Admitted, ApiError> {
        // Decoded as v1: a wrong type is a 400 and unknown fields are v1's.
        let (decoded, mut warnings) = crate::admission::decode_body::<HorizontalPodAutoscaler>(resource, object, validation)?;
        let mut object = serde_json::to_value(&decoded).map_err(|err| ApiError::internal(format!("encoding: {err}")))?;
        to_stored(&mut object, None);
        let old = old.map(|old| {
            let mut old = old.clone();
            to_stored(&mut old, None);
            old
        });
        let stored = &v2::KIND;
        let mut admitted = stored.strategy.admit(stored, object, old.as_ref(), operation, FieldValidation::Ignore)?;
        to_served(&mut admitted.object);
        warnings.append(&mut admitted.warnings);
        Ok(Admitted { object: admitted.object, warnings })
    }
}

/// Whether a v2 metric is the one v1 holds: a cpu Resource metric with a Utilization target.
fn is_cpu_utilization(metric: &Value) -> bool {
    metric.get("type").and_then(Value::as_str) == Some("Resource")
        && metric.pointer("/resource/name").and_then(Value::as_str) == Some("cpu")
        && metric.pointer("/resource/target/type").and_then(Value::as_str) == Some("Utilization")
}

fn is_cpu_status(metric: &Value) -> bool {
    metric.get("type").and_then(Value::as_str) == Some("Resource") && metric.pointer("/resource/name").and_then(Value::as_str) == Some("cpu")
}

/// Copies the fields named from one object to another, those present.
fn copy(from: &Value, to: &mut Map<String, Value>, fields: &[&str]) {
    for field in fields {
        if let Some(value) = from.get(*field).filter(|value| !value.is_null()) {
            to.insert((*field).to_string(), value.clone());
        }
    }
}

/// An `autoscaling/v2` object as `autoscaling/v1` serves it.
fn to_served(object: &mut Value) {
    let Some(fields) = object.as_object_mut() else { return };
    fields.insert("apiVersion".into(), json!("autoscaling/v1"));
    if let Some(spec) = fields.get("spec").cloned() {
        let mut served = Map::new();
        copy(&spec, &mut served, &["scaleTargetRef", "minReplicas", "maxReplicas"]);
        let metrics = spec.get("metrics").and_then(Value::as_array).map_or(&[][..], Vec::as_slice);
        if let Some(target) = metrics.iter().find(|metric| is_cpu_utilization(metric)).and_then(|metric| metric.pointer("/resource/target/averageUtilization")) {
            served.insert("targetCPUUtilizationPercentage".into(), target.clone());
        }
        fields.insert("spec".into(), Value::Object(served));
    }
    if let Some(status) = fields.get("status").cloned() {
        let mut served = Map::new();
        copy(&status, &mut served, &["observedGeneration", "lastScaleTime"]);
        served.insert("currentReplicas".into(), status.get("currentReplicas").cloned().unwrap_or(json!(0)));
        served.insert("desiredReplicas".into(), status.get("desiredReplicas").cloned().unwrap_or(json!(0)));
        let current = status.get("currentMetrics").and_then(Value::as_array).map_or(&[][..], Vec::as_slice);
        if let Some(utilization) = current.iter().filter(|metric| is_cpu_status(metric)).find_map(|metric| metric.pointer("/resource/current/averageUtilization")) {
            served.insert("currentCPUUtilizationPercentage".into(), utilization.clone());
        }
        fields.insert("status".into(), Value::Object(served));
    }
}

/// An `autoscaling/v1` object as it is stored (`autoscaling/v2`), over `stored` when it
/// replaces one: its other metrics, behavior and conditions stay.
fn to_stored(object: &mut Value, stored: Option<&Value>) {
    let Some(fields) = object.as_object_mut() else { return };
    fields.insert("apiVersion".into(), json!("autoscaling/v2"));
    let stored_field = |pointer: &str| stored.and_then(|stored| stored.pointer(pointer)).filter(|value| !value.is_null());
    if let Some(spec) = fields.get("spec").cloned() {
        let mut converted = Map::new();
        copy(&spec, &mut converted, &["scaleTargetRef", "minReplicas", "maxReplicas"]);
        let mut metrics: Vec<Value> = stored_field("/spec/metrics").and_then(Value::as_array).cloned().unwrap_or_default();
        let position = metrics.iter().position(is_cpu_utilization);
        match (spec.get("targetCPUUtilizationPercentage").filter(|value| !value.is_null()), position) {
            (Some(target), Some(index)) => metrics[index]["resource"]["target"]["averageUtilization"] = target.clone(),
            (Some(target), None) => metrics.insert(0, json!({"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": target}}})),
            (None, Some(index)) => {
                metrics.remove(index);
            }
            (None, None) => {}
        }
        if !metrics.is_empty() {
            converted.insert("metrics".into(), Value::Array(metrics));
        }
        if let Some(behavior) = stored_field("/spec/behavior") {
            converted.insert("behavior".into(), behavior.clone());
        }
        fields.insert("spec".into(), Value::Object(converted));
    }
    if let Some(status) = fields.get("status").cloned() {
        let mut converted = Map::new();
        copy(&status, &mut converted, &["observedGeneration", "lastScaleTime", "desiredReplicas"]);
        if let Some(current) = status.get("currentReplicas").filter(|current| current.as_i64() != Some(0)) {
            converted.insert("currentReplicas".into(), current.clone());
        }
        let mut current: Vec<Value> = stored_field("/status/currentMetrics").and_then(Value::as_array).cloned().unwrap_or_default();
        current.retain(|metric| !is_cpu_status(metric));
        if let Some(utilization) = status.get("currentCPUUtilizationPercentage").filter(|value| !value.is_null()) {
            current.insert(0, json!({"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": utilization}}}));
        }
        if !current.is_empty() {
            converted.insert("currentMetrics".into(), Value::Array(current));
        }
        if let Some(conditions) = stored_field("/status/conditions") {
            converted.insert("conditions".into(), conditions.clone());
        }
        fields.insert("status".into(), Value::Object(converted));
    }
}

/// kube prints an autoscaler alike whatever version it is read in.
static PRINTER: Printer = Printer { columns: v2::PRINTER.columns, cells };

fn cells(autoscaler: &Value) -> Vec<Value> {
    if autoscaler.get("apiVersion").and_then(Value::as_str) == Some("autoscaling/v1") {
        let mut stored = autoscaler.clone();
        to_stored(&mut stored, None);
        return (v2::PRINTER.cells)(&stored);
    }
    (v2::PRINTER.cells)(autoscaler)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored() -> Value {
        json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "web", "namespace": "demo"},
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}, "minReplicas": 1, "maxReplicas": 5,
                "metrics": [{"type": "Resource", "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": "100Mi"}}},
                    {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}}],
                "behavior": {"scaleDown": {"stabilizationWindowSeconds": 30}}},
            "status": {"currentReplicas": 2, "desiredReplicas": 3, "conditions": [{"type": "AbleToScale", "status": "True"}],
                "currentMetrics": [{"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 70, "averageValue": "350m"}}}]}})
    }

    #[test]
    fn v1_shows_the_cpu_target_and_keeps_the_rest_on_a_write() {
        let mut served = stored();
        to_served(&mut served);
        assert_eq!(served["apiVersion"], "autoscaling/v1");
        assert_eq!(served["spec"], json!({"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}, "minReplicas": 1, "maxReplicas": 5, "targetCPUUtilizationPercentage": 50}));
        assert_eq!(served["status"], json!({"currentReplicas": 2, "desiredReplicas": 3, "currentCPUUtilizationPercentage": 70}));
        // A v1 write of another target: the memory metric, the behavior and the conditions stay.
        served["spec"]["targetCPUUtilizationPercentage"] = json!(60);
        let original = stored();
        to_stored(&mut served, Some(&original));
        assert_eq!(served["apiVersion"], "autoscaling/v2");
        assert_eq!(served["spec"]["metrics"][0], original["spec"]["metrics"][0]);
        assert_eq!(served["spec"]["metrics"][1]["resource"]["target"], json!({"type": "Utilization", "averageUtilization": 60}));
        assert_eq!(served["spec"]["behavior"], original["spec"]["behavior"]);
        assert_eq!(served["status"]["conditions"], original["status"]["conditions"]);
        assert_eq!(served["status"]["currentMetrics"], json!([{"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 70}}}]));
    }

    #[test]
    fn a_v1_autoscaler_is_admitted_as_v2_and_answered_in_v1() {
        let object = json!({"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "web", "namespace": "demo"},
            "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"}, "maxReplicas": 3}});
        let admitted = crate::admission::admit_create(&KIND, object.clone(), FieldValidation::Strict).expect("valid");
        assert_eq!(admitted.object["spec"], json!({"scaleTargetRef": {"kind": "Deployment", "name": "web"}, "minReplicas": 1, "maxReplicas": 3, "targetCPUUtilizationPercentage": 80}));
        let mut bad = object;
        bad["spec"]["minReplicas"] = json!(4);
        bad["spec"]["targetCPUUtilizationPercentage"] = json!(0);
        let refused = crate::admission::admit_create(&KIND, bad, FieldValidation::Strict).expect_err("invalid");
        assert_eq!(refused.message, "HorizontalPodAutoscaler.autoscaling \"web\" is invalid: [spec.maxReplicas: Invalid value: 3: must be greater than or equal to `minReplicas`, spec.metrics[0].resource.target.averageUtilization: Invalid value: 0: must be greater than 0]");
        assert_eq!((PRINTER.cells)(&admitted.object)[2], json!("cpu: <unknown>/80%"));
    }
}
