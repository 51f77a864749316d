//! `pods/{name}/eviction`: a pod deleted only if its PodDisruptionBudget allows, as kube-apiserver
//! 1.33's `EvictionREST.Create` (pkg/registry/core/pod/storage/eviction.go) decides it.
//!
//! The body is a `policy/v1` Eviction (a `policy/v1beta1` one is taken too, as kube accepts
//! both), in JSON, YAML or protobuf. A pod that has already disrupted its application (finished,
//! pending, or being deleted) is deleted without looking at budgets. Otherwise the one budget
//! whose selector matches the pod must allow a disruption: its status is decremented and the pod
//! recorded in `disruptedPods` by compare-and-swap, then the pod gets the `DisruptionTarget`
//! condition and is deleted through the same path as a DELETE (graceful for a pod on a node).
//! A budget that allows nothing answers 429 with kube's message and `DisruptionBudget` cause,
//! which `kubectl drain` retries on.

use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use k8s_openapi::api::policy::v1::Eviction;
use k8s_openapi::apimachinery::pkg::apis::meta::v1 as metav1;
use serde_json::{Value, json};

use super::read::fetch;
use super::{Api, Params, Target, json_body, own_headers, subresource, write};
use crate::admission::FieldValidation;
use crate::errors::ApiError;
use crate::meta;
use crate::resources::ResourceType;
use crate::storage::ListOptions;
use crate::watch_cache;

static EVICTION: ResourceType = ResourceType::body_type("policy", "v1", "Eviction");

/// kube's `MaxDisruptedPodSize`: past this many evictions the disruption controller has not
/// confirmed yet, a budget refuses more.
const MAX_DISRUPTED_POD_SIZE: usize = 2000;

/// kube's `EvictionsRetry`: 20 attempts, 500 ms apart (10 % jitter), for conflicts with other
/// writers of the pod or the budget.
const RETRY_STEPS: usize = 20;
const RETRY_INTERVAL: Duration = Duration::from_millis(500);

/// kube's message for every eviction a budget refuses.
pub(crate) const BUDGET_MESSAGE: &str = "Cannot evict pod as it would violate the pod's disruption budget.";

/// kube's message for a pod more than one budget selects.
pub(crate) const SEVERAL_BUDGETS: &str = "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.";

/// The DeleteOptions an eviction carries, as JSON for the delete handler, and what is read of it.
#[derive(Clone, Debug)]
struct DeleteOptions(Value);

impl DeleteOptions {
    fn resource_version(&self) -> Option<&str> {
        self.0.pointer("/preconditions/resourceVersion").and_then(Value::as_str)
    }

    fn uid(&self) -> Option<&str> {
        self.0.pointer("/preconditions/uid").and_then(Value::as_str)
    }

    /// kube's `resourceVersionIsUnset`: no resourceVersion precondition (an empty one is one).
    fn resource_version_unset(&self) -> bool {
        self.resource_version().is_none()
    }

    fn with_resource_version(&self, resource_version: &str) -> Self {
        let mut options = self.0.clone();
        if !options["preconditions"].is_object() {
            options["preconditions"] = json!({});
        }
        options["preconditions"]["resourceVersion"] = json!(resource_version);
        Self(options)
    }

    fn dry_run(&self) -> bool {
        self.0["dryRun"].as_array().is_some_and(|values| !values.is_empty())
    }
}

/// `POST .../pods/{name}/eviction`.
pub async fn create(api: &Api, target: &Target, params: &Params, headers: &HeaderMap, body: &Bytes) -> Result<Response, ApiError> {
    use tracing::Instrument;
    let name = target.name.clone().unwrap_or_default();
    let namespace = target.namespace.clone().unwrap_or_default();
    let validation = FieldValidation::parse(params.get("fieldValidation"))?;
    let (eviction, options) = decode(json_body(headers, body)?, validation)?;
    check_identity(&eviction, &namespace, &name)?;
    let options = propagate_dry_run(options, params)?;
    let pods = Target { subresource: None, ..target.clone() };
    let span = tracing::info_span!("eviction", namespace, name);
    // A refusal carries kube's Retry-After when its Status says when to come back.
    Ok(evict(api, &pods, &name, &namespace, options).instrument(span).await.unwrap_or_else(with_retry_after))
}

/// The body as an Eviction: its type checked (`policy/v1`, or `policy/v1beta1` whose fields are
/// the same), then decoded; returns its deleteOptions as sent (`{}` when absent).
fn decode(mut body: Value, validation: FieldValidation) -> Result<(Eviction, DeleteOptions), ApiError> {
    if body["apiVersion"] == "policy/v1beta1" {
        body["apiVersion"] = json!("policy/v1");
    }
    let options = match body.get("deleteOptions") {
        Some(Value::Object(options)) => Value::Object(options.clone()),
        _ => json!({}),
    };
    let (eviction, _warnings) = subresource::decode::<Eviction>(&EVICTION, body, validation)?;
    for value in eviction.delete_options.iter().flat_map(|options| options.dry_run.iter().flatten()) {
        if value != "All" {
            return Err(ApiError::bad_request(format!("Invalid dry run value {value:?}: supported values are \"All\"")));
        }
    }
    if eviction.delete_options.as_ref().and_then(|options| options.grace_period_seconds).is_some_and(|seconds| seconds < 0) {
        return Err(ApiError::bad_request("DeleteOptions.gracePeriodSeconds: must be greater than or equal to 0"));
    }
    Ok((eviction, DeleteOptions(options)))
}

/// The create handler's namespace check, then `EvictionREST.Create`'s name check.
fn check_identity(eviction: &Eviction, namespace: &str, name: &str) -> Result<(), ApiError> {
    if eviction.metadata.namespace.as_deref().is_some_and(|other| !other.is_empty() && other != namespace) {
        return Err(ApiError::bad_request("the namespace of the provided object does not match the namespace sent on the request"));
    }
    if eviction.metadata.name.as_deref().unwrap_or_default() != name {
        return Err(ApiError::bad_request("name in URL does not match name in Eviction object"));
    }
    Ok(())
}

/// kube's `propagateDryRun`: the request's `dryRun` goes into the deleteOptions that have none;
/// both given and different is an error (a plain one in kube, hence 500 Unknown).
fn propagate_dry_run(options: DeleteOptions, params: &Params) -> Result<DeleteOptions, ApiError> {
    let requested: Vec<String> = if params.dry_run()? { vec!["All".into()] } else { Vec::new() };
    let in_body: Vec<String> = options.0["dryRun"].as_array().into_iter().flatten().filter_map(Value::as_str).map(str::to_string).collect();
    if in_body.is_empty() {
        let mut options = options;
        if !requested.is_empty() {
            options.0["dryRun"] = json!(requested);
        }
        return Ok(options);
    }
    if requested.is_empty() || requested == in_body {
        return Ok(options);
    }
    Err(ApiError::new(
        500,
        "Unknown",
        format!("Non-matching dry-run options in request and content: [{}] and [{}]", requested.join(" "), in_body.join(" ")),
    ))
}

/// kube's `canIgnorePDB`: a pod that is finished, pending or already being deleted has caused
/// its disruption already, or never served.
fn can_ignore_budget(pod: &Value) -> bool {
    matches!(phase(pod), "Succeeded" | "Failed" | "Pending") || meta::is_being_deleted(pod)
}

/// kube's `shouldEnforceResourceVersion`: all but finished or deleting pods are deleted at the
/// version looked at, so that one turning ready meanwhile is not taken from its budget unseen.
fn should_enforce_resource_version(pod: &Value) -> bool {
    !matches!(phase(pod), "Succeeded" | "Failed") && !meta::is_being_deleted(pod)
}

fn phase(pod: &Value) -> &str {
    pod.pointer("/status/phase").and_then(Value::as_str).unwrap_or_default()
}

/// kube's `IsPodReady`: the Ready condition is True.
fn is_ready(pod: &Value) -> bool {
    pod.pointer("/status/conditions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|condition| condition["type"] == "Ready" && condition["status"] == "True")
}

fn resource_version(object: &Value) -> String {
    meta::string(object, "resourceVersion").unwrap_or_default().to_string()
}

/// How long to wait before attempt `attempt` (from 1): kube's backoff, 500 ms plus up to 10 %.
fn retry_delay() -> Duration {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|since| since.subsec_nanos()).unwrap_or(0);
    RETRY_INTERVAL + RETRY_INTERVAL.mul_f64(f64::from(nanos % 1000) / 10_000.0)
}

async fn evict(api: &Api, pods: &Target, name: &str, namespace: &str, options: DeleteOptions) -> Result<Response, ApiError> {
    let dry_run = options.dry_run();
    // Conflicts are retried unless the client pinned a resourceVersion, which no retry can meet.
    let retry_conflicts = options.resource_version_unset();
    let mut attempt = 0;
    let pod = loop {
        attempt += 1;
        let pod = fetch(api, pods, name).await?;
        if !can_ignore_budget(&pod) {
            break pod;
        }
        let mut delete_options = options.clone();
        if should_enforce_resource_version(&pod) && options.resource_version_unset() {
            delete_options = options.with_resource_version(&resource_version(&pod));
        }
        match add_condition_and_delete(api, pods, name, delete_options).await {
            Ok(()) => return Ok(success()),
            Err(err) if err.code == 409 && err.reason == "Conflict" && retry_conflicts && attempt < RETRY_STEPS => {
                tokio::time::sleep(retry_delay()).await;
            }
            Err(err) => return Err(err),
        }
    };

    // A lost race for the budget's status matches the budgets again, not only re-reads the one
    // (kube re-reads it by name): a selector edited meanwhile may no longer take the pod, or
    // may now share it with another budget.
    let mut attempt = 0;
    let (budget_name, pin_pod_version) = loop {
        attempt += 1;
        let budgets = matching_budgets(api, namespace, &pod).await?;
        if budgets.len() > 1 {
            // kube returns this as a failed Status rather than an error: no reason, code 500.
            return Err(ApiError::new(500, "", SEVERAL_BUDGETS));
        }
        let Some(budget) = budgets.into_iter().next() else { break (None, false) };
        let name_of_budget = meta::name(&budget).unwrap_or_default().to_string();
        if !is_ready(&pod) && unready_pod_may_go(&budget) {
            // An unready pod is not counted healthy: deleting it takes nothing from the budget,
            // as long as it is still unready when deleted (hence its version pinned).
            break (Some(name_of_budget), true);
        }
        match take_from_budget(api, namespace, name, &budget, dry_run).await {
            Ok(()) => break (Some(name_of_budget), false),
            Err(err) if err.code == 409 && err.reason == "Conflict" && attempt < RETRY_STEPS => {
                tokio::time::sleep(retry_delay()).await;
            }
            Err(err) => return Err(err),
        }
    };

    let delete_options = if pin_pod_version { options.with_resource_version(&resource_version(&pod)) } else { options.clone() };
    match add_condition_and_delete(api, pods, name, delete_options).await {
        Ok(()) => Ok(success()),
        Err(err) if err.code == 409 && err.reason == "Conflict" && pin_pod_version && options.resource_version_unset() => {
            // The pod changed since it was found unready: it may count again, so the client is
            // told to come back, as kube does.
            Err(still_processing(budget_name.as_deref().unwrap_or_default()))
        }
        Err(err) => Err(err),
    }
}

/// What an eviction answers: `201` and a Status Success, as kube's create handler writes the
/// Status `EvictionREST.Create` returns.
fn success() -> Response {
    let status = crate::errors::status_text("Success", "", "", &json!({}), 201);
    (StatusCode::CREATED, [(header::CONTENT_TYPE, "application/json")], status).into_response()
}

/// kube's unhealthy-pod rules (`unhealthyPodEvictionPolicy`): `AlwaysAllow` lets any unready
/// pod go; the default `IfHealthyBudget` only while the budget has its healthy pods.
fn unready_pod_may_go(budget: &Value) -> bool {
    if budget.pointer("/spec/unhealthyPodEvictionPolicy").and_then(Value::as_str) == Some("AlwaysAllow") {
        return true;
    }
    let status = |field: &str| budget.pointer(&format!("/status/{field}")).and_then(Value::as_i64).unwrap_or(0);
    status("currentHealthy") >= status("desiredHealthy") && status("desiredHealthy") > 0
}

/// The budgets in the pod's namespace whose selector matches the pod's labels, as kube's
/// `getPodDisruptionBudgets`: an invalid, absent or empty selector matches nothing. None while
/// the apiserver serves no budgets.
async fn matching_budgets(api: &Api, namespace: &str, pod: &Value) -> Result<Vec<Value>, ApiError> {
    let Some(kind) = api.registry.find("policy", "v1", "poddisruptionbudgets") else { return Ok(Vec::new()) };
    let labels: std::collections::BTreeMap<String, String> =
        serde_json::from_value(pod.pointer("/metadata/labels").cloned().unwrap_or(Value::Null)).unwrap_or_default();
    // Read from storage with each budget's resourceVersion, the precondition of its status write.
    let page = api.store.list(&kind.namespace_prefix(Some(namespace)), ListOptions::default()).await.map_err(|err| ApiError::from_store(err, &kind, ""))?;
    let mut budgets = Vec::new();
    for kv in &page.items {
        let budget = watch_cache::decode(kv).map_err(|err| ApiError::from_store(err, &kind, ""))?;
        if selects(&budget, &labels) {
            budgets.push(budget);
        }
    }
    Ok(budgets)
}

fn selects(budget: &Value, labels: &std::collections::BTreeMap<String, String>) -> bool {
    let Some(selector) = budget.pointer("/spec/selector").filter(|selector| !selector.is_null()) else { return false };
    let Ok(selector) = serde_json::from_value::<metav1::LabelSelector>(selector.clone()) else { return false };
    match common::selector::LabelSelector::from_k8s(&selector) {
        Ok(selector) => !selector.is_empty() && selector.matches(labels),
        Err(_) => false,
    }
}

/// Takes one disruption from the budget (kube's verify-and-decrement) with a compare-and-swap
/// on its status: refused with 429 when it allows none or its status is behind its spec, 409
/// when the budget changed since it was read (the caller matches the budgets again).
async fn take_from_budget(api: &Api, namespace: &str, pod_name: &str, budget: &Value, dry_run: bool) -> Result<(), ApiError> {
    let budget_name = meta::name(budget).unwrap_or_default().to_string();
    let kind = api.registry.find("policy", "v1", "poddisruptionbudgets").ok_or_else(|| ApiError::internal("poddisruptionbudgets are not served"))?;
    let status_target = Target { resource: kind, namespace: Some(namespace.to_string()), name: Some(budget_name.clone()), subresource: Some("status".into()) };
    let Some(updated) = decremented(budget, pod_name, dry_run)? else { return Ok(()) };
    let mut headers = own_headers();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    write::update(api, &status_target, &Params::default(), &headers, &Bytes::from(updated.to_string())).await?;
    tracing::info!(namespace, pod = pod_name, budget = budget_name, "eviction took a disruption from the budget");
    Ok(())
}

/// kube's `checkAndDecrement` on one version of the budget: the status to write (`None` in a
/// dry run, which writes nothing), or why the eviction is refused.
fn decremented(budget: &Value, pod_name: &str, dry_run: bool) -> Result<Option<Value>, ApiError> {
    let name = meta::name(budget).unwrap_or_default();
    let status = |field: &str| budget.pointer(&format!("/status/{field}")).and_then(Value::as_i64).unwrap_or(0);
    let generation = budget.pointer("/metadata/generation").and_then(Value::as_i64).unwrap_or(0);
    if status("observedGeneration") < generation {
        return Err(still_processing(name));
    }
    let allowed = status("disruptionsAllowed");
    if allowed < 0 {
        return Err(budget_forbidden(name, "pdb disruptions allowed is negative"));
    }
    let disrupted = budget.pointer("/status/disruptedPods").and_then(Value::as_object).map_or(0, serde_json::Map::len);
    if disrupted > MAX_DISRUPTED_POD_SIZE {
        return Err(budget_forbidden(name, "DisruptedPods map too big - too many evictions not confirmed by PDB controller"));
    }
    if allowed == 0 {
        let cause = format!("The disruption budget {name} needs {} healthy pods and has {} currently", status("desiredHealthy"), status("currentHealthy"));
        return Err(too_many_requests(&cause, 0));
    }
    if dry_run {
        return Ok(None);
    }
    let mut updated = budget.clone();
    if !updated["status"].is_object() {
        updated["status"] = json!({});
    }
    updated["status"]["disruptionsAllowed"] = json!(allowed - 1);
    if allowed - 1 == 0 {
        set_disruption_allowed_false(&mut updated);
    }
    if !updated["status"]["disruptedPods"].is_object() {
        updated["status"]["disruptedPods"] = json!({});
    }
    // The disruption controller counts the pod as gone from now on, and drops the entry once it
    // sees the pod deleted, or after its timeout if it never is.
    updated["status"]["disruptedPods"][pod_name] = json!(meta::now());
    Ok(Some(updated))
}

/// kube's `UpdateDisruptionAllowedCondition` once no disruption is left: `DisruptionAllowed`
/// False, reason `InsufficientPods`, set as `meta.SetStatusCondition` sets one (its transition
/// time kept unless its status changes).
fn set_disruption_allowed_false(budget: &mut Value) {
    let observed = budget.pointer("/status/observedGeneration").cloned().unwrap_or(json!(0));
    let conditions = budget["status"]["conditions"].as_array().cloned().unwrap_or_default();
    let mut conditions: Vec<Value> = conditions;
    match conditions.iter_mut().find(|condition| condition["type"] == "DisruptionAllowed") {
        Some(condition) => {
            if condition["status"] != "False" {
                condition["status"] = json!("False");
                condition["lastTransitionTime"] = json!(meta::now());
            }
            condition["reason"] = json!("InsufficientPods");
            condition["message"] = json!("");
            condition["observedGeneration"] = observed;
        }
        None => conditions.push(json!({
            "type": "DisruptionAllowed",
            "status": "False",
            "observedGeneration": observed,
            "lastTransitionTime": meta::now(),
            "reason": "InsufficientPods",
            "message": "",
        })),
    }
    budget["status"]["conditions"] = json!(conditions);
}

/// kube's `NewTooManyRequests` with the `DisruptionBudget` cause.
fn too_many_requests(cause: &str, retry_after_seconds: i64) -> ApiError {
    let mut error = ApiError::new(429, "TooManyRequests", BUDGET_MESSAGE);
    error.details = json!({"causes": [{"reason": "DisruptionBudget", "message": cause}]});
    if retry_after_seconds > 0 {
        error.details["retryAfterSeconds"] = json!(retry_after_seconds);
    }
    error
}

/// kube's `createTooManyRequestsError`: the budget's status is behind (or the pod changed).
fn still_processing(budget_name: &str) -> ApiError {
    too_many_requests(&format!("The disruption budget {budget_name} is still being processed by the server."), 10)
}

/// kube's `NewForbidden` on the resource `poddisruptionbudget.policy`.
fn budget_forbidden(name: &str, why: &str) -> ApiError {
    let mut error = ApiError::forbidden(format!("poddisruptionbudget.policy {name:?} is forbidden: {why}"));
    error.details = json!({"name": name, "group": "policy", "kind": "poddisruptionbudget"});
    error
}

/// kube's `addConditionAndDeletePod`: outside a dry run, the pod gets the `DisruptionTarget`
/// condition (reason `EvictionByEvictionAPI`) through its status, the delete options'
/// preconditions checked against the latest pod and a resourceVersion precondition moved to
/// the version written; then the pod is deleted as a DELETE with those options deletes it.
async fn add_condition_and_delete(api: &Api, pods: &Target, name: &str, mut options: DeleteOptions) -> Result<(), ApiError> {
    let dry_run = options.dry_run();
    let mut headers = own_headers();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if !dry_run {
        let status_target = Target { subresource: Some("status".into()), ..pods.clone() };
        let mut attempt = 0;
        let written = loop {
            attempt += 1;
            let latest = fetch(api, pods, name).await?;
            check_preconditions(pods, name, &options, &latest)?;
            let Some(updated) = with_disruption_target(&latest) else { break latest };
            match write::update(api, &status_target, &Params::default(), &headers, &Bytes::from(updated.to_string())).await {
                Ok(response) => break response_object(response).await?,
                // Only the version this read is written: a race is read again, as kube's
                // GuaranteedUpdate does.
                Err(err) if err.code == 409 && err.reason == "Conflict" && attempt < RETRY_STEPS => continue,
                Err(err) => return Err(err),
            }
        };
        if !options.resource_version_unset() {
            options = options.with_resource_version(&resource_version(&written));
        }
    }
    let params = if dry_run { Params::parse(Some("dryRun=All")) } else { Params::default() };
    write::delete(api, pods, &params, &headers, &Bytes::from(options.0.to_string())).await?;
    tracing::info!(namespace = ?pods.namespace, name, "evicted");
    Ok(())
}

/// `getLatestPod`'s checks of the delete options' preconditions, in kube's words.
fn check_preconditions(pods: &Target, name: &str, options: &DeleteOptions, latest: &Value) -> Result<(), ApiError> {
    let uid = meta::string(latest, "uid").unwrap_or_default();
    if let Some(wanted) = options.uid().filter(|wanted| !wanted.is_empty() && *wanted != uid) {
        return Err(ApiError::conflict(&pods.resource, name, &format!(
            "the UID in the precondition ({wanted}) does not match the UID in record ({uid}). The object might have been deleted and then recreated"
        )));
    }
    let version = resource_version(latest);
    if let Some(wanted) = options.resource_version().filter(|wanted| !wanted.is_empty() && *wanted != version) {
        return Err(ApiError::conflict(&pods.resource, name, &format!(
            "the ResourceVersion in the precondition ({wanted}) does not match the ResourceVersion in record ({version}). The object might have been modified"
        )));
    }
    Ok(())
}

/// The pod with the `DisruptionTarget` condition as kube's `UpdatePodCondition` sets it (the
/// transition time kept when its status does not change); `None` when it is there already.
fn with_disruption_target(pod: &Value) -> Option<Value> {
    let mut condition = json!({
        "type": "DisruptionTarget",
        "status": "True",
        "lastProbeTime": null,
        "lastTransitionTime": meta::now(),
        "reason": "EvictionByEvictionAPI",
        "message": "Eviction API: evicting",
    });
    let mut updated = pod.clone();
    if !updated["status"].is_object() {
        updated["status"] = json!({});
    }
    let mut conditions = updated["status"]["conditions"].as_array().cloned().unwrap_or_default();
    match conditions.iter_mut().find(|existing| existing["type"] == "DisruptionTarget") {
        Some(existing) => {
            if existing["status"] == condition["status"] {
                condition["lastTransitionTime"] = existing["lastTransitionTime"].clone();
            }
            let same = ["status", "reason", "message", "lastTransitionTime"].iter().all(|field| existing[*field] == condition[*field]);
            if same {
                return None;
            }
            *existing = condition;
        }
        None => conditions.push(condition),
    }
    updated["status"]["conditions"] = json!(conditions);
    Some(updated)
}

/// The object a successful write answered with.
async fn response_object(response: Response) -> Result<Value, ApiError> {
    let bytes = axum::body::to_bytes(response.into_body(), super::MAX_BODY * 4)
        .await
        .map_err(|err| ApiError::internal(format!("reading the written pod: {err}")))?;
    serde_json::from_slice(&bytes).map_err(|err| ApiError::internal(format!("reading the written pod: {err}")))
}

/// A refusal as a response: kube sets `Retry-After` from the Status' `retryAfterSeconds`.
fn with_retry_after(err: ApiError) -> Response {
    let retry = err.details["retryAfterSeconds"].as_i64().filter(|seconds| *seconds > 0);
    let mut response = err.into_response();
    if let Some(seconds) = retry.and_then(|seconds| HeaderValue::from_str(&seconds.to_string()).ok()) {
        response.headers_mut().insert(header::RETRY_AFTER, seconds);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn budget(status: Value) -> Value {
        json!({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "web", "namespace": "demo", "generation": 1, "resourceVersion": "7"},
               "spec": {"minAvailable": 3, "selector": {"matchLabels": {"app": "web"}}}, "status": status})
    }

    fn refusal(budget: &Value) -> (u16, &'static str, String, Value) {
        let err = decremented(budget, "web-1", false).expect_err("refused");
        (err.code, err.reason, err.message, err.details)
    }

    #[test]
    fn a_budget_that_allows_nothing_refuses_with_kubes_429() {
        let (code, reason, message, details) = refusal(&budget(json!({"observedGeneration": 1, "disruptionsAllowed": 0, "desiredHealthy": 3, "currentHealthy": 3})));
        assert_eq!((code, reason, message.as_str()), (429, "TooManyRequests", BUDGET_MESSAGE));
        assert_eq!(details, json!({"causes": [{"reason": "DisruptionBudget", "message": "The disruption budget web needs 3 healthy pods and has 3 currently"}]}));
        let text = ApiError { code, reason, message, details }.status_text();
        assert!(text.contains(r#""details":{"causes":[{"reason":"DisruptionBudget","message":"The disruption budget web needs 3 healthy pods and has 3 currently"}]},"code":429}"#), "{text}");
    }

    #[test]
    fn a_budget_behind_its_spec_or_broken_refuses() {
        let (code, _, _, details) = refusal(&budget(json!({"observedGeneration": 0, "disruptionsAllowed": 5})));
        assert_eq!(code, 429);
        assert_eq!(details["retryAfterSeconds"], 10);
        assert_eq!(details["causes"][0]["message"], "The disruption budget web is still being processed by the server.");
        let (code, reason, message, _) = refusal(&budget(json!({"observedGeneration": 1, "disruptionsAllowed": -1})));
        assert_eq!((code, reason, message.as_str()), (403, "Forbidden", "poddisruptionbudget.policy \"web\" is forbidden: pdb disruptions allowed is negative"));
        let many: serde_json::Map<String, Value> = (0..=MAX_DISRUPTED_POD_SIZE).map(|index| (format!("p{index}"), json!("2026-01-01T00:00:00Z"))).collect();
        let (code, _, message, _) = refusal(&budget(json!({"observedGeneration": 1, "disruptionsAllowed": 1, "disruptedPods": many})));
        assert_eq!(code, 403);
        assert!(message.ends_with("DisruptedPods map too big - too many evictions not confirmed by PDB controller"), "{message}");
    }

    #[test]
    fn taking_the_last_disruption_records_the_pod_and_the_condition() {
        let allowed = budget(json!({"observedGeneration": 1, "disruptionsAllowed": 2, "conditions": [
            {"type": "DisruptionAllowed", "status": "True", "reason": "SufficientPods", "message": "", "observedGeneration": 1, "lastTransitionTime": "2026-01-01T00:00:00Z"}]}));
        let once = decremented(&allowed, "web-1", false).unwrap().unwrap();
        assert_eq!(once["status"]["disruptionsAllowed"], 1);
        assert!(once["status"]["disruptedPods"]["web-1"].is_string());
        assert_eq!(once["status"]["conditions"][0]["status"], "True", "untouched while disruptions are left");
        let twice = decremented(&once, "web-2", false).unwrap().unwrap();
        assert_eq!(twice["status"]["disruptionsAllowed"], 0);
        assert_eq!(twice["status"]["disruptedPods"].as_object().map(serde_json::Map::len), Some(2));
        let condition = &twice["status"]["conditions"][0];
        assert_eq!((condition["status"].as_str(), condition["reason"].as_str()), (Some("False"), Some("InsufficientPods")));
        assert_ne!(condition["lastTransitionTime"], "2026-01-01T00:00:00Z");
        assert_eq!(decremented(&allowed, "web-1", true).unwrap(), None, "a dry run writes nothing");
    }

    #[test]
    fn pods_that_disrupted_already_skip_budgets() {
        let pod = |phase: &str, deleting: bool| {
            let mut pod = json!({"metadata": {"name": "p"}, "status": {"phase": phase}});
            if deleting {
                pod["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:00Z");
            }
            pod
        };
        for (phase, deleting, ignore, enforce) in [
            ("Running", false, false, true),
            ("Pending", false, true, true),
            ("Succeeded", false, true, false),
            ("Failed", false, true, false),
            ("Running", true, true, false),
        ] {
            assert_eq!(can_ignore_budget(&pod(phase, deleting)), ignore, "{phase} {deleting}");
            assert_eq!(should_enforce_resource_version(&pod(phase, deleting)), enforce, "{phase} {deleting}");
        }
    }

    #[test]
    fn unready_pods_follow_the_unhealthy_pod_eviction_policy() {
        let with = |policy: Option<&str>, current: i64, desired: i64| {
            let mut budget = budget(json!({"currentHealthy": current, "desiredHealthy": desired}));
            if let Some(policy) = policy {
                budget["spec"]["unhealthyPodEvictionPolicy"] = json!(policy);
            }
            unready_pod_may_go(&budget)
        };
        assert!(with(Some("AlwaysAllow"), 0, 3));
        assert!(!with(Some("IfHealthyBudget"), 2, 3));
        assert!(with(None, 3, 3));
        assert!(!with(None, 0, 0), "no healthy pods needed: the budget decides");
    }

    #[test]
    fn budgets_select_as_kube_selects() {
        let labels: std::collections::BTreeMap<String, String> = [("app".to_string(), "web".to_string())].into();
        let with = |selector: Value| {
            let mut budget = budget(json!({}));
            budget["spec"]["selector"] = selector;
            selects(&budget, &labels)
        };
        assert!(with(json!({"matchLabels": {"app": "web"}})));
        assert!(with(json!({"matchExpressions": [{"key": "app", "operator": "In", "values": ["web", "db"]}]})));
        assert!(!with(json!({"matchLabels": {"app": "db"}})));
        assert!(!with(json!({})), "an empty selector matches nothing");
        assert!(!with(Value::Null), "nor does none");
        assert!(!with(json!({"matchExpressions": [{"key": "app", "operator": "Near"}]})), "nor an invalid one");
    }

    /// Each row: a body, and the status code and message it is refused with (200 for none).
    #[test]
    fn bodies_decode_as_kube_decodes_an_eviction() {
        let rows: Vec<(&str, Value, u16, &str)> = vec![
            ("policy/v1", json!({"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "web", "namespace": "demo"}}), 200, ""),
            ("policy/v1beta1", json!({"apiVersion": "policy/v1beta1", "kind": "Eviction", "metadata": {"name": "web"}, "deleteOptions": {"gracePeriodSeconds": 0}}), 200, ""),
            ("another name", json!({"metadata": {"name": "db"}}), 400, "name in URL does not match name in Eviction object"),
            ("no name", json!({"metadata": {}}), 400, "name in URL does not match name in Eviction object"),
            ("another namespace", json!({"metadata": {"name": "web", "namespace": "x"}}), 400, "the namespace of the provided object does not match the namespace sent on the request"),
            ("another kind", json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"}}), 400, "Pod in version \"v1\" cannot be handled as a Eviction: no kind \"Pod\" is registered for version \"v1\""),
            ("a bad dry run", json!({"metadata": {"name": "web"}, "deleteOptions": {"dryRun": ["Some"]}}), 400, "Invalid dry run value \"Some\": supported values are \"All\""),
            ("a negative grace", json!({"metadata": {"name": "web"}, "deleteOptions": {"gracePeriodSeconds": -1}}), 400, "DeleteOptions.gracePeriodSeconds: must be greater than or equal to 0"),
        ];
        for (row, body, code, message) in rows {
            let got = decode(body, FieldValidation::Strict).and_then(|(eviction, _)| check_identity(&eviction, "demo", "web")).map_err(|err| (err.code, err.message));
            let want = if code == 200 { Ok(()) } else { Err((code, message.to_string())) };
            assert_eq!(got, want, "{row}");
        }
    }

    #[test]
    fn dry_run_is_propagated_as_kube_propagates_it() {
        let options = |value: Value| DeleteOptions(value);
        let dry = Params::parse(Some("dryRun=All"));
        assert!(propagate_dry_run(options(json!({})), &dry).unwrap().dry_run());
        assert!(!propagate_dry_run(options(json!({})), &Params::default()).unwrap().dry_run());
        assert!(propagate_dry_run(options(json!({"dryRun": ["All"]})), &Params::default()).unwrap().dry_run());
        assert!(propagate_dry_run(options(json!({"dryRun": ["All"]})), &dry).unwrap().dry_run());
    }

    /// One length-delimited protobuf field.
    fn field(number: u8, bytes: &[u8]) -> Vec<u8> {
        let length = u8::try_from(bytes.len()).expect("short");
        [&[(number << 3) | 2, length][..], bytes].concat()
    }

    fn envelope(api_version: &str, kind: &str, message: &[u8]) -> Vec<u8> {
        let type_meta = [field(1, api_version.as_bytes()), field(2, kind.as_bytes())].concat();
        [b"k8s\0".as_slice(), &field(1, &type_meta), &field(2, message)].concat()
    }

    /// client-go's protobuf bodies: an Eviction of either version, and DeleteOptions under any
    /// group version (kubectl drain's DELETE sends `v1`; other clients their resource's).
    #[test]
    fn protobuf_evictions_and_delete_options_decode() {
        // deleteOptions: gracePeriodSeconds = 1 (varint 0), preconditions = 2 {uid = 1}.
        let options = [vec![1 << 3, 0], field(2, &field(1, b"u1"))].concat();
        let eviction = [field(1, &[field(1, b"web"), field(3, b"demo")].concat()), field(2, &options)].concat();
        for api_version in ["policy/v1", "policy/v1beta1"] {
            let object = crate::protobuf::decode(&envelope(api_version, "Eviction", &eviction)).expect("decodes");
            assert_eq!(object["metadata"], json!({"name": "web", "namespace": "demo"}), "{api_version}");
            assert_eq!(object["deleteOptions"]["gracePeriodSeconds"], 0, "{api_version}: {object}");
            assert_eq!(object["deleteOptions"]["preconditions"]["uid"], "u1", "{api_version}: {object}");
            let (decoded, options) = decode(object, FieldValidation::Strict).expect("an Eviction");
            assert_eq!(decoded.metadata.name.as_deref(), Some("web"));
            assert_eq!(options.uid(), Some("u1"));
        }
        for api_version in ["v1", "apps/v1", "meta.k8s.io/v1"] {
            let object = crate::protobuf::decode(&envelope(api_version, "DeleteOptions", &options)).expect("decodes");
            assert_eq!(object["preconditions"]["uid"], "u1", "{api_version}: {object}");
        }
    }

    #[test]
    fn the_disruption_target_condition_is_added_once() {
        let pod = json!({"metadata": {"name": "p"}, "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}});
        let once = with_disruption_target(&pod).expect("added");
        let conditions = once["status"]["conditions"].as_array().unwrap();
        assert_eq!(conditions.len(), 2);
        assert_eq!(conditions[1]["reason"], "EvictionByEvictionAPI");
        assert_eq!(conditions[1]["message"], "Eviction API: evicting");
        assert_eq!(with_disruption_target(&once), None);
    }

    #[test]
    fn preconditions_are_checked_in_kubes_words() {
        let resource = crate::kinds::find("", "v1", "pods").expect("pods are served");
        let pods = Target { resource: std::sync::Arc::new(resource.clone()), namespace: Some("demo".into()), name: Some("web".into()), subresource: None };
        let pod = json!({"metadata": {"name": "web", "uid": "u1", "resourceVersion": "5"}});
        let err = check_preconditions(&pods, "web", &DeleteOptions(json!({"preconditions": {"uid": "u2"}})), &pod).unwrap_err();
        assert_eq!(err.message, "Operation cannot be fulfilled on pods \"web\": the UID in the precondition (u2) does not match the UID in record (u1). The object might have been deleted and then recreated");
        let err = check_preconditions(&pods, "web", &DeleteOptions(json!({"preconditions": {"resourceVersion": "4"}})), &pod).unwrap_err();
        assert_eq!(err.message, "Operation cannot be fulfilled on pods \"web\": the ResourceVersion in the precondition (4) does not match the ResourceVersion in record (5). The object might have been modified");
        assert!(check_preconditions(&pods, "web", &DeleteOptions(json!({"preconditions": {"uid": "u1", "resourceVersion": "5"}})), &pod).is_ok());
    }
}
