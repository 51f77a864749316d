//! `HorizontalPodAutoscaler` (`autoscaling/v2`, namespaced, `/status`): how many replicas a
//! scalable object should run for the metrics it is given. Its declaration, its defaults
//! (`SetDefaults_HorizontalPodAutoscaler`, `SetDefaults_HorizontalPodAutoscalerBehavior`), its
//! strategy (the status reset on create, fields of disabled features dropped), its validation
//! (`ValidateHorizontalPodAutoscaler{,Update,StatusUpdate}`) and its printer
//! (`printHorizontalPodAutoscaler`, whose Targets column kubectl shows as `cpu: 80%/50%`).

use k8s_openapi::api::autoscaling::v2::{
    CrossVersionObjectReference, HPAScalingPolicy, HPAScalingRules, HorizontalPodAutoscaler, HorizontalPodAutoscalerSpec,
    HorizontalPodAutoscalerStatus, MetricIdentifier, MetricSpec, MetricTarget, ResourceMetricSource,
};
use serde_json::{Value, json};

use crate::admission::deployment::non_negative;
use crate::admission::field::{Causes, Path};
use crate::admission::{Context, Typed, TypedKind};
use crate::printers::{self, AGE, NAME, Column, Printer, list, number, text};
use crate::registry::Kind;
use crate::resources::ResourceType;

pub static KIND: Kind = Kind {
    resource: ResourceType::builtin("autoscaling", "v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers", "horizontalpodautoscaler")
        .namespaced()
        .short_names(&["hpa"])
        .categories(crate::kinds::ALL)
        .subresources(&["status"]),
    strategy: &STRATEGY,
    printer: Some(&PRINTER),
};

static STRATEGY: Typed<HorizontalPodAutoscaler> = Typed::new();

/// `autoscaling.DefaultCPUUtilization`: the metric of an autoscaler given none.
pub(crate) const DEFAULT_CPU_UTILIZATION: i32 = 80;

/// `MaxPeriodSeconds` and `MaxStabilizationWindowSeconds` of kube's validation.
const MAX_PERIOD_SECONDS: i32 = 1800;
const MAX_STABILIZATION_WINDOW_SECONDS: i32 = 3600;

/// The metric source types, sorted as kube lists them (`validMetricSourceTypesList`).
const METRIC_SOURCE_TYPES: &[&str] = &["ContainerResource", "External", "Object", "Pods", "Resource"];
const SELECT_POLICIES: &[&str] = &["Disabled", "Max", "Min"];
const POLICY_TYPES: &[&str] = &["Percent", "Pods"];

/// Kubernetes 1.33 feature gates this server keeps at their defaults: `HPAScaleToZero`
/// (alpha, off: `minReplicas` is at least 1) and `HPAConfigurableTolerance` (alpha, off: a
/// scaling rule's `tolerance` is dropped).
const SCALE_TO_ZERO: bool = false;
const CONFIGURABLE_TOLERANCE: bool = false;

fn policy(type_: &str, value: i32) -> HPAScalingPolicy {
    HPAScalingPolicy { type_: type_.into(), value, period_seconds: 15 }
}

/// `GenerateHPAScaleUpRules`: what a rule leaves out is as the controller scaled before
/// behaviors existed (no window; at most 4 pods or 100 % per 15 s, the larger).
fn scale_up_rules(given: Option<HPAScalingRules>) -> HPAScalingRules {
    let defaults = HPAScalingRules {
        stabilization_window_seconds: Some(0),
        select_policy: Some("Max".into()),
        policies: Some(vec![policy("Pods", 4), policy("Percent", 100)]),
        tolerance: None,
    };
    fill_rules(given, defaults)
}

/// `GenerateHPAScaleDownRules`: no window (the controller's flag decides), 100 % per 15 s.
fn scale_down_rules(given: Option<HPAScalingRules>) -> HPAScalingRules {
    let defaults = HPAScalingRules { stabilization_window_seconds: None, select_policy: Some("Max".into()), policies: Some(vec![policy("Percent", 100)]), tolerance: None };
    fill_rules(given, defaults)
}

/// `copyHPAScalingRules`: the given fields over the defaults.
fn fill_rules(given: Option<HPAScalingRules>, mut rules: HPAScalingRules) -> HPAScalingRules {
    let Some(given) = given else { return rules };
    if given.select_policy.is_some() {
        rules.select_policy = given.select_policy;
    }
    if given.stabilization_window_seconds.is_some() {
        rules.stabilization_window_seconds = given.stabilization_window_seconds;
    }
    if given.policies.is_some() {
        rules.policies = given.policies;
    }
    if given.tolerance.is_some() {
        rules.tolerance = given.tolerance;
    }
    rules
}

fn uses_tolerance(autoscaler: &HorizontalPodAutoscaler) -> bool {
    let behavior = autoscaler.spec.as_ref().and_then(|spec| spec.behavior.as_ref());
    behavior.is_some_and(|behavior| [&behavior.scale_up, &behavior.scale_down].iter().any(|rules| rules.as_ref().is_some_and(|rules| rules.tolerance.is_some())))
}

/// `dropDisabledFields`: a tolerance needs its feature gate, unless the stored object has one.
fn drop_disabled_fields(autoscaler: &mut HorizontalPodAutoscaler, old: Option<&HorizontalPodAutoscaler>) {
    if CONFIGURABLE_TOLERANCE || old.is_some_and(uses_tolerance) {
        return;
    }
    let behavior = autoscaler.spec.as_mut().and_then(|spec| spec.behavior.as_mut());
    for rules in behavior.into_iter().flat_map(|behavior| [&mut behavior.scale_up, &mut behavior.scale_down]).flatten() {
        rules.tolerance = None;
    }
}

impl TypedKind for HorizontalPodAutoscaler {
    fn check_quantities(&self) -> Result<(), common::quantity::QuantityError> {
        for target in targets(self.spec.as_ref()) {
            for quantity in [&target.value, &target.average_value].into_iter().flatten() {
                common::quantity::parse(&quantity.0)?;
            }
        }
        Ok(())
    }

    fn apply_defaults(&mut self) {
        let spec = self.spec.get_or_insert_with(Default::default);
        if spec.min_replicas.is_none() {
            spec.min_replicas = Some(1);
        }
        if spec.metrics.as_ref().is_none_or(Vec::is_empty) {
            let target = MetricTarget { type_: "Utilization".into(), average_utilization: Some(DEFAULT_CPU_UTILIZATION), ..Default::default() };
            spec.metrics = Some(vec![MetricSpec { type_: "Resource".into(), resource: Some(ResourceMetricSource { name: "cpu".into(), target }), ..Default::default() }]);
        }
        if let Some(behavior) = spec.behavior.as_mut() {
            behavior.scale_up = Some(scale_up_rules(behavior.scale_up.take()));
            behavior.scale_down = Some(scale_down_rules(behavior.scale_down.take()));
        }
    }

    /// The status is the controller's.
    fn prepare_for_create(&mut self) {
        self.status = Some(HorizontalPodAutoscalerStatus::default());
        drop_disabled_fields(self, None);
    }

    /// The status is written through its subresource only.
    fn prepare_for_update(&mut self, old: &Self) {
        self.status.clone_from(&old.status);
        drop_disabled_fields(self, Some(old));
    }

    /// `ValidateHorizontalPodAutoscaler`.
    fn validate(&self, _context: &Context, causes: &mut Causes) {
        let lower_bound = if SCALE_TO_ZERO { 0 } else { 1 };
        validate_spec(&self.spec.clone().unwrap_or_default(), &Path::new("spec"), lower_bound, causes);
    }

    /// `ValidateHorizontalPodAutoscalerUpdate`: an autoscaler made with `minReplicas: 0` (while
    /// the gate was on) may keep it.
    fn validate_update(&self, old: &Self, _context: &Context, causes: &mut Causes) {
        let old_zero = old.spec.as_ref().and_then(|spec| spec.min_replicas) == Some(0);
        let lower_bound = if SCALE_TO_ZERO || old_zero { 0 } else { 1 };
        validate_spec(&self.spec.clone().unwrap_or_default(), &Path::new("spec"), lower_bound, causes);
    }

    /// `ValidateHorizontalPodAutoscalerStatusUpdate`.
    fn validate_status_update(&self, _old: &Self, _context: &Context, causes: &mut Causes) {
        let status = self.status.clone().unwrap_or_default();
        non_negative(&Path::new("status").child("currentReplicas"), status.current_replicas.unwrap_or(0).into(), causes);
        non_negative(&Path::new("status").child("desiredReplicas"), status.desired_replicas.into(), causes);
    }
}

/// Every metric target of a spec.
fn targets(spec: Option<&HorizontalPodAutoscalerSpec>) -> impl Iterator<Item = &MetricTarget> {
    spec.and_then(|spec| spec.metrics.as_ref()).into_iter().flatten().flat_map(|metric| {
        [
            metric.resource.as_ref().map(|source| &source.target),
            metric.container_resource.as_ref().map(|source| &source.target),
            metric.pods.as_ref().map(|source| &source.target),
            metric.object.as_ref().map(|source| &source.target),
            metric.external.as_ref().map(|source| &source.target),
        ]
        .into_iter()
        .flatten()
    })
}

/// `validateHorizontalPodAutoscalerSpec`.
fn validate_spec(spec: &HorizontalPodAutoscalerSpec, path: &Path, lower_bound: i32, causes: &mut Causes) {
    if let Some(min) = spec.min_replicas
        && min < lower_bound
    {
        causes.invalid(&path.child("minReplicas"), min, &format!("must be greater than or equal to {lower_bound}"));
    }
    if spec.max_replicas < 1 {
        causes.invalid(&path.child("maxReplicas"), spec.max_replicas, "must be greater than 0");
    }
    if let Some(min) = spec.min_replicas
        && spec.max_replicas < min
    {
        causes.invalid(&path.child("maxReplicas"), spec.max_replicas, "must be greater than or equal to `minReplicas`");
    }
    validate_reference(&spec.scale_target_ref, &path.child("scaleTargetRef"), causes);
    validate_metrics(spec.metrics.as_deref().unwrap_or_default(), &path.child("metrics"), spec.min_replicas, causes);
    if let Some(behavior) = &spec.behavior {
        validate_rules(behavior.scale_up.as_ref(), &path.child("behavior").child("scaleUp"), causes);
        validate_rules(behavior.scale_down.as_ref(), &path.child("behavior").child("scaleDown"), causes);
    }
}

/// `IsValidPathSegmentName`: a name that can be one segment of a URL path.
fn path_segment_name(name: &str) -> Vec<String> {
    if name == "." || name == ".." {
        return vec![format!("may not be '{name}'")];
    }
    ["/", "%"].iter().filter(|illegal| name.contains(**illegal)).map(|illegal| format!("may not contain '{illegal}'")).collect()
}

/// `ValidateCrossVersionObjectReference`.
fn validate_reference(reference: &CrossVersionObjectReference, path: &Path, causes: &mut Causes) {
    for (field, value) in [("kind", &reference.kind), ("name", &reference.name)] {
        if value.is_empty() {
            causes.required(&path.child(field), "");
        } else {
            causes.invalid_each(&path.child(field), value, path_segment_name(value));
        }
    }
}

/// `validateMetrics`.
fn validate_metrics(metrics: &[MetricSpec], path: &Path, min_replicas: Option<i32>, causes: &mut Causes) {
    for (index, metric) in metrics.iter().enumerate() {
        validate_metric(metric, &path.index(index), causes);
    }
    let object_or_external = metrics.iter().any(|metric| metric.type_ == "Object" || metric.type_ == "External");
    if min_replicas == Some(0) && !object_or_external {
        causes.forbidden(path, "must specify at least one Object or External metric to support scaling to zero replicas");
    }
}

/// `validateMetricSpec`: the source its type names, and only that one.
fn validate_metric(metric: &MetricSpec, path: &Path, causes: &mut Causes) {
    if metric.type_.is_empty() {
        causes.required(&path.child("type"), "must specify a metric source type");
    }
    if !METRIC_SOURCE_TYPES.contains(&metric.type_.as_str()) {
        causes.not_supported(&path.child("type"), metric.type_.as_str(), METRIC_SOURCE_TYPES);
    }
    // kube validates the first source present only (in this order), and names the others.
    let mut present: Vec<&str> = Vec::new();
    if let Some(source) = &metric.object {
        present.push("object");
        let source_path = path.child("object");
        validate_reference(&source.described_object, &source_path.child("describedObject"), causes);
        validate_identifier(&source.metric, &source_path.child("metric"), causes);
        validate_target(&source.target, &source_path.child("target"), causes);
        if source.target.value.is_none() && source.target.average_value.is_none() {
            causes.required(&source_path.child("target").child("averageValue"), "must set either a target value or averageValue");
        }
    }
    if let Some(source) = &metric.external {
        present.push("external");
        if present.len() == 1 {
            let source_path = path.child("external");
            validate_identifier(&source.metric, &source_path.child("metric"), causes);
            validate_target(&source.target, &source_path.child("target"), causes);
            let target_path = source_path.child("target");
            if source.target.value.is_none() && source.target.average_value.is_none() {
                causes.required(&target_path.child("averageValue"), "must set either a target value for metric or a per-pod target");
            }
            if source.target.value.is_some() && source.target.average_value.is_some() {
                causes.forbidden(&target_path.child("value"), "may not set both a target value for metric and a per-pod target");
            }
        }
    }
    if let Some(source) = &metric.pods {
        present.push("pods");
        if present.len() == 1 {
            let source_path = path.child("pods");
            validate_identifier(&source.metric, &source_path.child("metric"), causes);
            validate_target(&source.target, &source_path.child("target"), causes);
            if source.target.average_value.is_none() {
                causes.required(&source_path.child("target").child("averageValue"), "must specify a positive target averageValue");
            }
        }
    }
    if let Some(source) = &metric.resource {
        present.push("resource");
        if present.len() == 1 {
            let source_path = path.child("resource");
            if source.name.is_empty() {
                causes.required(&source_path.child("name"), "must specify a resource name");
            }
            validate_resource_target(&source.target, &source_path.child("target"), causes);
        }
    }
    if let Some(source) = &metric.container_resource {
        present.push("containerResource");
        if present.len() == 1 {
            let source_path = path.child("containerResource");
            if source.name.is_empty() {
                causes.required(&source_path.child("name"), "must specify a resource name");
            }
            if source.container.is_empty() {
                causes.required(&source_path.child("container"), "must specify a container");
            } else {
                causes.invalid_each(&source_path.child("container"), &source.container, common::names::dns1123_label(&source.container));
            }
            validate_resource_target(&source.target, &source_path.child("target"), causes);
        }
    }
    let expected = match metric.type_.as_str() {
        "Object" => Some(("object", metric.object.is_some())),
        "Pods" => Some(("pods", metric.pods.is_some())),
        "Resource" => Some(("resource", metric.resource.is_some())),
        "External" => Some(("external", metric.external.is_some())),
        "ContainerResource" => Some(("containerResource", metric.container_resource.is_some())),
        _ => None,
    };
    match expected {
        Some((field, false)) => causes.required(&path.child(field), "must populate information for the given metric source"),
        Some(_) => {}
        None => causes.not_supported(&path.child("type"), metric.type_.as_str(), METRIC_SOURCE_TYPES),
    }
    if present.len() != 1 {
        let expected_field = expected.map(|(field, _)| field);
        let mut others: Vec<&str> = present.into_iter().filter(|field| Some(*field) != expected_field).collect();
        others.sort_unstable();
        for field in others {
            causes.forbidden(&path.child(field), "must populate the given metric source only");
        }
    }
}

/// What `validateResourceSource` and `validateContainerResourceSource` ask of a target: a
/// utilization or an average value, not both.
fn validate_resource_target(target: &MetricTarget, path: &Path, causes: &mut Causes) {
    validate_target(target, path, causes);
    if target.average_utilization.is_none() && target.average_value.is_none() {
        causes.required(&path.child("averageUtilization"), "must set either a target raw value or a target utilization");
    }
    if target.average_utilization.is_some() && target.average_value.is_some() {
        causes.forbidden(&path.child("averageValue"), "may not set both a target raw value and a target utilization");
    }
}

/// `validateMetricTarget`.
fn validate_target(target: &MetricTarget, path: &Path, causes: &mut Causes) {
    if target.type_.is_empty() {
        causes.required(&path.child("type"), "must specify a metric target type");
    }
    if !["Utilization", "Value", "AverageValue"].contains(&target.type_.as_str()) {
        causes.invalid(&path.child("type"), target.type_.as_str(), "must be either Utilization, Value, or AverageValue");
    }
    for (field, quantity) in [("value", &target.value), ("averageValue", &target.average_value)] {
        if let Some(quantity) = quantity
            && common::quantity::parse(&quantity.0).is_ok_and(|parsed| !parsed.is_positive())
        {
            causes.invalid(&path.child(field), quantity.0.as_str(), "must be positive");
        }
    }
    if let Some(utilization) = target.average_utilization
        && utilization < 1
    {
        causes.invalid(&path.child("averageUtilization"), utilization, "must be greater than 0");
    }
}

/// `validateMetricIdentifier`.
fn validate_identifier(identifier: &MetricIdentifier, path: &Path, causes: &mut Causes) {
    if identifier.name.is_empty() {
        causes.required(&path.child("name"), "must specify a metric name");
    } else {
        causes.invalid_each(&path.child("name"), &identifier.name, path_segment_name(&identifier.name));
    }
}

/// `validateScalingRules`.
fn validate_rules(rules: Option<&HPAScalingRules>, path: &Path, causes: &mut Causes) {
    let Some(rules) = rules else { return };
    if let Some(window) = rules.stabilization_window_seconds {
        if window < 0 {
            causes.invalid(&path.child("stabilizationWindowSeconds"), window, "must be greater than or equal to zero");
        }
        if window > MAX_STABILIZATION_WINDOW_SECONDS {
            causes.invalid(&path.child("stabilizationWindowSeconds"), window, &format!("must be less than or equal to {MAX_STABILIZATION_WINDOW_SECONDS}"));
        }
    }
    if let Some(select) = rules.select_policy.as_deref()
        && !SELECT_POLICIES.contains(&select)
    {
        causes.not_supported(&path.child("selectPolicy"), select, SELECT_POLICIES);
    }
    let policies_path = path.child("policies");
    let policies = rules.policies.as_deref().unwrap_or_default();
    if policies.is_empty() {
        causes.required(&policies_path, "must specify at least one Policy");
    }
    for (index, policy) in policies.iter().enumerate() {
        let policy_path = policies_path.index(index);
        if !POLICY_TYPES.contains(&policy.type_.as_str()) {
            causes.not_supported(&policy_path.child("type"), policy.type_.as_str(), POLICY_TYPES);
        }
        if policy.value <= 0 {
            causes.invalid(&policy_path.child("value"), policy.value, "must be greater than zero");
        }
        if policy.period_seconds <= 0 {
            causes.invalid(&policy_path.child("periodSeconds"), policy.period_seconds, "must be greater than zero");
        }
        if policy.period_seconds > MAX_PERIOD_SECONDS {
            causes.invalid(&policy_path.child("periodSeconds"), policy.period_seconds, &format!("must be less than or equal to {MAX_PERIOD_SECONDS}"));
        }
    }
}

pub(super) static PRINTER: Printer = Printer {
    columns: &[
        NAME,
        Column::new("Reference", "string", 0, "scaleTargetRef points to the target resource to scale, and is used to the pods for which metrics should be collected, as well as to actually change the replica count."),
        Column::new("Targets", "string", 0, "metrics contains the specifications for which to use to calculate the desired replica count (the maximum replica count across all metrics will be used).  The desired replica count is calculated multiplying the ratio between the target value and the current value by the current number of pods.  Ergo, metrics used must decrease as the pod count is increased, and vice-versa.  See the individual metric source types for more information about how each type of metric must respond."),
        Column::new("MinPods", "string", 0, "minReplicas is the lower limit for the number of replicas to which the autoscaler can scale down.  It defaults to 1 pod.  minReplicas is allowed to be 0 if the alpha feature gate HPAScaleToZero is enabled and at least one Object or External metric is configured.  Scaling is active as long as at least one metric value is available."),
        Column::new("MaxPods", "string", 0, "maxReplicas is the upper limit for the number of replicas to which the autoscaler can scale up. It cannot be less that minReplicas."),
        Column::new("Replicas", "string", 0, "currentReplicas is current number of replicas of pods managed by this autoscaler, as last seen by the autoscaler."),
        AGE,
    ],
    cells,
};

/// `printHorizontalPodAutoscaler`'s row.
fn cells(autoscaler: &Value) -> Vec<Value> {
    let reference = format!("{}/{}", text(autoscaler, "/spec/scaleTargetRef/kind"), text(autoscaler, "/spec/scaleTargetRef/name"));
    let min_pods = autoscaler.pointer("/spec/minReplicas").and_then(Value::as_i64).map_or_else(|| "<unset>".to_string(), |min| min.to_string());
    vec![
        printers::name(autoscaler),
        json!(reference),
        json!(metrics_text(list(autoscaler, "/spec/metrics"), list(autoscaler, "/status/currentMetrics"))),
        json!(min_pods),
        json!(number(autoscaler, "/spec/maxReplicas")),
        json!(number(autoscaler, "/status/currentReplicas")),
        printers::age_of(autoscaler),
    ]
}

/// A quantity as Go's `Quantity.String()` writes it (canonical), as given if it does not parse.
fn quantity_text(value: Option<&Value>) -> String {
    let given = value.and_then(Value::as_str).unwrap_or("0");
    common::quantity::parse(given).map_or_else(|_| given.to_string(), |quantity| quantity.to_string())
}

/// `ContainerResource` -> `containerResource`.
fn lower_first(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map(|first| first.to_ascii_lowercase().to_string() + chars.as_str()).unwrap_or_default()
}

/// `formatHPAMetrics`: each metric as `current/target` (`<unknown>` until the controller
/// measured it), two at most and `+ N more...`.
fn metrics_text(specs: &[Value], statuses: &[Value]) -> String {
    const SHOWN: usize = 2;
    if specs.is_empty() {
        return "<none>".to_string();
    }
    let unknown = || "<unknown>".to_string();
    let mut shown: Vec<String> = Vec::new();
    for (index, spec) in specs.iter().enumerate() {
        let status = statuses.get(index);
        let field = |name: &str| (spec.get(name), status.and_then(|status| status.get(name)).filter(|value| !value.is_null()));
        let metric_type = spec.get("type").and_then(Value::as_str).unwrap_or_default();
        // Each metric's source sits under its type's name with a lower-case first letter
        // (`ContainerResource` -> `containerResource`), in the spec and in the status.
        let (source, current) = field(&lower_first(metric_type));
        let line = match metric_type {
            "External" | "Object" => {
                let target = source.and_then(|source| source.get("target"));
                match target.and_then(|target| target.get("averageValue")) {
                    Some(average) => {
                        let current = current.and_then(|current| current.pointer("/current/averageValue")).map_or_else(unknown, |value| quantity_text(Some(value)));
                        format!("{current}/{} (avg)", quantity_text(Some(average)))
                    }
                    None => {
                        let current = current.map_or_else(unknown, |current| quantity_text(current.pointer("/current/value")));
                        format!("{current}/{}", quantity_text(target.and_then(|target| target.get("value"))))
                    }
                }
            }
            "Pods" => {
                let current = current.map_or_else(unknown, |current| quantity_text(current.pointer("/current/averageValue")));
                format!("{current}/{}", quantity_text(source.and_then(|source| source.pointer("/target/averageValue"))))
            }
            "Resource" | "ContainerResource" => {
                let name = source.and_then(|source| source.get("name")).and_then(Value::as_str).unwrap_or_default();
                let target = source.and_then(|source| source.get("target"));
                match target.and_then(|target| target.get("averageValue")) {
                    Some(average) => {
                        let current = current.map_or_else(unknown, |current| quantity_text(current.pointer("/current/averageValue")));
                        format!("{name}: {current}/{}", quantity_text(Some(average)))
                    }
                    None => {
                        let current = current.and_then(|current| current.pointer("/current/averageUtilization")).and_then(Value::as_i64).map_or_else(unknown, |percent| format!("{percent}%"));
                        let target = target.and_then(|target| target.get("averageUtilization")).and_then(Value::as_i64).map_or_else(|| "<auto>".to_string(), |percent| format!("{percent}%"));
                        format!("{name}: {current}/{target}")
                    }
                }
            }
            _ => "<unknown type>".to_string(),
        };
        shown.push(line);
    }
    let count = shown.len();
    shown.truncate(SHOWN);
    let text = shown.join(", ");
    if count > SHOWN { format!("{text} + {} more...", count - SHOWN) } else { text }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admission::test_support::*;

    fn autoscaler(name: &str) -> Value {
        json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": name, "namespace": "demo"},
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}, "maxReplicas": 5}})
    }

    fn resource_metric(name: &str, target: Value) -> Value {
        json!({"type": "Resource", "resource": {"name": name, "target": target}})
    }

    #[test]
    fn an_autoscaler_gets_kube_apiservers_defaults() {
        let admitted = admitted(resource("horizontalpodautoscalers"), with(autoscaler("web"), "/status", json!({"desiredReplicas": 4})));
        assert_eq!(admitted["spec"]["minReplicas"], 1);
        assert_eq!(admitted["spec"]["metrics"], json!([resource_metric("cpu", json!({"type": "Utilization", "averageUtilization": 80}))]));
        assert_eq!(admitted["spec"].get("behavior"), None);
        assert_eq!(admitted["status"], json!({"desiredReplicas": 0}));
        let with_behavior = with(autoscaler("web"), "/spec/behavior", json!({"scaleDown": {"stabilizationWindowSeconds": 30, "policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}]},
            "scaleUp": {"tolerance": "0.05"}}));
        let behavior = admitted_behavior(with_behavior);
        assert_eq!(behavior, json!({
            "scaleDown": {"stabilizationWindowSeconds": 30, "selectPolicy": "Max", "policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}]},
            "scaleUp": {"stabilizationWindowSeconds": 0, "selectPolicy": "Max", "policies": [{"type": "Pods", "value": 4, "periodSeconds": 15}, {"type": "Percent", "value": 100, "periodSeconds": 15}]},
        }), "the tolerance needs the HPAConfigurableTolerance gate");
    }

    fn admitted_behavior(object: Value) -> Value {
        admitted(resource("horizontalpodautoscalers"), object)["spec"]["behavior"].clone()
    }

    #[test]
    fn bad_autoscalers_get_kube_apiservers_causes() {
        let metric = |metric: Value| with(autoscaler("web"), "/spec/metrics", json!([metric]));
        let rows: Vec<(&str, Value, Outcome)> = vec![
            ("memory by average value", metric(resource_metric("memory", json!({"type": "AverageValue", "averageValue": "100Mi"}))), Outcome::Admitted),
            ("min above max", with(autoscaler("web"), "/spec/minReplicas", json!(7)),
             invalid(&["spec.maxReplicas"], "spec.maxReplicas: Invalid value: 5: must be greater than or equal to `minReplicas`")),
            ("min of zero", with(autoscaler("web"), "/spec/minReplicas", json!(0)),
             invalid(&["spec.minReplicas", "spec.metrics"], "spec.minReplicas: Invalid value: 0: must be greater than or equal to 1")),
            ("max of zero", with(autoscaler("web"), "/spec/maxReplicas", json!(0)),
             invalid(&["spec.maxReplicas", "spec.maxReplicas"], "spec.maxReplicas: Invalid value: 0: must be greater than 0")),
            ("no target", with(autoscaler("web"), "/spec/scaleTargetRef", json!({"kind": "", "name": "a/b"})),
             invalid(&["spec.scaleTargetRef.kind", "spec.scaleTargetRef.name"], "spec.scaleTargetRef.name: Invalid value: \"a/b\": may not contain '/'")),
            ("a wrong target type", metric(resource_metric("cpu", json!({"type": "Percent", "averageUtilization": 50}))),
             invalid(&["spec.metrics[0].resource.target.type"], "spec.metrics[0].resource.target.type: Invalid value: \"Percent\": must be either Utilization, Value, or AverageValue")),
            ("utilization and value", metric(resource_metric("cpu", json!({"type": "Utilization", "averageUtilization": 0, "averageValue": "-1"}))),
             invalid(&["spec.metrics[0].resource.target.averageValue", "spec.metrics[0].resource.target.averageUtilization", "spec.metrics[0].resource.target.averageValue"],
                     "may not set both a target raw value and a target utilization")),
            ("no resource", metric(json!({"type": "Resource"})),
             invalid(&["spec.metrics[0].resource"], "spec.metrics[0].resource: Required value: must populate information for the given metric source")),
            ("an unknown type", metric(json!({"type": "Magic"})),
             invalid(&["spec.metrics[0].type"], "Unsupported value: \"Magic\": supported values: \"ContainerResource\", \"External\", \"Object\", \"Pods\", \"Resource\"")),
            ("two sources", metric(json!({"type": "Pods", "pods": {"metric": {"name": "qps"}, "target": {"type": "AverageValue", "averageValue": "10"}},
                "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}})),
             invalid(&["spec.metrics[0].resource"], "spec.metrics[0].resource: Forbidden: must populate the given metric source only")),
            ("a bad policy", with(autoscaler("web"), "/spec/behavior", json!({"scaleUp": {"selectPolicy": "Most", "stabilizationWindowSeconds": 4000, "policies": [{"type": "Pods", "value": 0, "periodSeconds": 2000}]}})),
             invalid(&["spec.behavior.scaleUp.stabilizationWindowSeconds", "spec.behavior.scaleUp.selectPolicy", "spec.behavior.scaleUp.policies[0].value", "spec.behavior.scaleUp.policies[0].periodSeconds"],
                     "spec.behavior.scaleUp.stabilizationWindowSeconds: Invalid value: 4000: must be less than or equal to 3600")),
            ("no policies", with(autoscaler("web"), "/spec/behavior", json!({"scaleDown": {"policies": []}})),
             invalid(&["spec.behavior.scaleDown.policies"], "Required value: must specify at least one Policy")),
        ];
        run_create("horizontalpodautoscalers", rows);
    }

    #[test]
    fn the_status_is_the_controllers() {
        let stored = admitted(resource("horizontalpodautoscalers"), autoscaler("web"));
        let updated = crate::admission::admit_update(resource("horizontalpodautoscalers"), with(with(stored.clone(), "/spec/maxReplicas", json!(9)), "/status/desiredReplicas", json!(3)), &stored, crate::strategy::FieldValidation::Strict).expect("a new maximum");
        assert_eq!((updated.object["spec"]["maxReplicas"].clone(), updated.object["status"]["desiredReplicas"].clone()), (json!(9), json!(0)));
        let status = |status: Value| crate::admission::admit_status_update(resource("horizontalpodautoscalers"), with(stored.clone(), "/status", status), &stored, crate::strategy::FieldValidation::Strict);
        assert!(status(json!({"currentReplicas": 2, "desiredReplicas": 3})).is_ok());
        let refused = status(json!({"currentReplicas": -1, "desiredReplicas": 3})).expect_err("negative");
        assert_eq!(cause_fields(&refused), ["status.currentReplicas"]);
    }

    #[test]
    fn targets_print_as_kubectl_shows_them() {
        let cpu = resource_metric("cpu", json!({"type": "Utilization", "averageUtilization": 50}));
        let memory = resource_metric("memory", json!({"type": "AverageValue", "averageValue": "100Mi"}));
        let pods = json!({"type": "Pods", "pods": {"metric": {"name": "qps"}, "target": {"type": "AverageValue", "averageValue": "1"}}});
        assert_eq!(metrics_text(std::slice::from_ref(&cpu), &[]), "cpu: <unknown>/50%");
        let current = json!({"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 80, "averageValue": "400m"}}});
        assert_eq!(metrics_text(std::slice::from_ref(&cpu), std::slice::from_ref(&current)), "cpu: 80%/50%");
        let memory_now = json!({"type": "Resource", "resource": {"name": "memory", "current": {"averageValue": "10240Ki"}}});
        assert_eq!(metrics_text(&[cpu.clone(), memory.clone()], &[current, memory_now]), "cpu: 80%/50%, memory: 10Mi/100Mi");
        assert_eq!(metrics_text(&[cpu, memory, pods], &[]), "cpu: <unknown>/50%, memory: <unknown>/100Mi + 1 more...");
        assert_eq!(metrics_text(&[], &[]), "<none>");
        let container = json!({"type": "ContainerResource", "containerResource": {"name": "cpu", "container": "app", "target": {"type": "Utilization", "averageUtilization": 60}}});
        let container_now = json!({"type": "ContainerResource", "containerResource": {"name": "cpu", "container": "app", "current": {"averageUtilization": 30}}});
        assert_eq!(metrics_text(&[container], &[container_now]), "cpu: 30%/60%");
        let external = json!({"type": "External", "external": {"metric": {"name": "queue"}, "target": {"type": "AverageValue", "averageValue": "30"}}});
        let external_now = json!({"type": "External", "external": {"metric": {"name": "queue"}, "current": {"averageValue": "12"}}});
        assert_eq!(metrics_text(&[external], &[external_now]), "12/30 (avg)");
        let row = printers::row_of("HorizontalPodAutoscaler", &admitted(resource("horizontalpodautoscalers"), autoscaler("web")));
        assert_eq!(row[..6], [json!("web"), json!("Deployment/web"), json!("cpu: <unknown>/80%"), json!("1"), json!(5), json!(0)]);
    }
}
