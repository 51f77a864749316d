//! API errors as Kubernetes reports them: a `metav1.Status` body with the HTTP code, the reason
//! and a message worded as kube-apiserver words it, so that kubectl prints
//! `Error from server (NotFound): pods "web" not found` and clients can branch on the reason.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::resources::ResourceType;
use crate::storage::StoreError;

pub use crate::cause::Cause;

#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub code: u16,
    pub reason: &'static str,
    pub message: String,
    /// `details` of the Status: name, group, kind, causes.
    pub details: Value,
}

impl ApiError {
    pub fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        Self { code, reason, message: message.into(), details: json!({}) }
    }

    fn about(mut self, resource: &ResourceType, name: &str) -> Self {
        self.details = json!({"name": name, "group": resource.group, "kind": resource.plural});
        self
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }

    pub fn not_found(resource: &ResourceType, name: &str) -> Self {
        Self::new(404, "NotFound", format!("{} {name:?} not found", resource.qualified_plural())).about(resource, name)
    }

    pub fn path_not_found() -> Self {
        Self::new(404, "NotFound", "the server could not find the requested resource")
    }

    pub fn already_exists(resource: &ResourceType, name: &str) -> Self {
        Self::new(409, "AlreadyExists", format!("{} {name:?} already exists", resource.qualified_plural()))
            .about(resource, name)
    }

    pub fn conflict(resource: &ResourceType, name: &str, why: &str) -> Self {
        Self::new(
            409,
            "Conflict",
            format!("Operation cannot be fulfilled on {} {name:?}: {why}", resource.qualified_plural()),
        )
        .about(resource, name)
    }

    pub fn modified(resource: &ResourceType, name: &str) -> Self {
        Self::conflict(
            resource,
            name,
            "the object has been modified; please apply your changes to the latest version and try again",
        )
    }

    pub fn invalid(resource: &ResourceType, name: &str, causes: Vec<Cause>) -> Self {
        // kube names the kind with its group (`Deployment.apps`), as `GroupKind.String()` does.
        let label = if resource.group.is_empty() { resource.kind.to_string() } else { format!("{}.{}", resource.kind, resource.group) };
        Self::invalid_as(&label, &resource.group, &resource.kind, name, causes)
    }

    /// 422 for options rather than an object (`ListOptions.meta.k8s.io "" is invalid: ...`),
    /// named by group and kind as kube-apiserver's `NewInvalid` names them.
    pub fn invalid_options(group: &str, kind: &str, causes: Vec<Cause>) -> Self {
        Self::invalid_as(&format!("{kind}.{group}"), group, kind, "", causes)
    }

    fn invalid_as(label: &str, group: &str, kind: &str, name: &str, causes: Vec<Cause>) -> Self {
        let rendered: Vec<String> = causes.iter().map(Cause::rendered).collect();
        let summary = match rendered.as_slice() {
            [one] => one.clone(),
            many => format!("[{}]", many.join(", ")),
        };
        let causes: Vec<Value> = causes
            .iter()
            .map(|cause| json!({"reason": cause.reason, "message": cause.message, "field": cause.field}))
            .collect();
        let mut error = Self::new(422, "Invalid", format!("{label} {name:?} is invalid: {summary}"));
        error.details = json!({"name": name, "group": group, "kind": kind, "causes": causes});
        error
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(403, "Forbidden", message)
    }

    pub fn method_not_allowed(message: impl Into<String>) -> Self {
        Self::new(405, "MethodNotAllowed", message)
    }

    pub fn gone(message: impl Into<String>) -> Self {
        Self::new(410, "Expired", message)
    }

    pub fn too_large(limit: usize) -> Self {
        Self::new(413, "RequestEntityTooLarge", format!("Request entity too large: limit is {limit}"))
    }

    /// The 504 kube-apiserver's timeout filter answers a request that outlived its deadline.
    pub fn timeout() -> Self {
        Self::new(504, "Timeout", "Timeout: request did not complete within the allotted timeout")
    }

    pub fn too_large_patch(message: impl Into<String>) -> Self {
        Self::new(413, "RequestEntityTooLarge", message)
    }

    /// kube's `errUnsupportedMediaType`, which names what is accepted, not what was sent.
    pub fn unsupported_media_type(accepted: &[&str]) -> Self {
        Self::new(
            415,
            "UnsupportedMediaType",
            format!("the body of the request was in an unknown format - accepted media types include: {}", accepted.join(", ")),
        )
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(500, "InternalError", format!("Internal error occurred: {}", message.into()))
    }

    /// 429, with kube's hint to retry after a second.
    pub fn too_many_requests(message: impl Into<String>) -> Self {
        let mut error = Self::new(429, "TooManyRequests", message);
        error.details = json!({"retryAfterSeconds": 1});
        error
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(503, "ServiceUnavailable", message)
    }

    /// The storage failure behind a request on `resource`/`name`, as a Status.
    pub fn from_store(err: StoreError, resource: &ResourceType, name: &str) -> Self {
        match err {
            StoreError::AlreadyExists { .. } => Self::already_exists(resource, name),
            StoreError::NotFound { .. } => Self::not_found(resource, name),
            StoreError::Conflict { .. } => Self::modified(resource, name),
            StoreError::Compacted { requested, oldest } => Self::gone(match oldest {
                Some(oldest) => format!("too old resource version: {requested} ({oldest})"),
                None => format!("too old resource version: {requested}"),
            }),
            StoreError::FutureRevision { requested, .. } => Self::new(
                504,
                "Timeout",
                format!("Too large resource version: {requested}, current: unknown"),
            ),
            StoreError::Corrupt { .. } | StoreError::Untransformable { .. } => Self::internal(err.to_string()),
            StoreError::Unavailable(message) => Self::unavailable(message),
            StoreError::Internal(message) => Self::internal(message),
        }
    }
}

/// A `metav1.Status` in the order kube-apiserver's encoder writes its fields, empty ones left
/// out as Go's `omitempty` leaves them.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct StatusBody<'a> {
    kind: &'static str,
    api_version: &'static str,
    metadata: Empty,
    status: &'static str,
    #[serde(skip_serializing_if = "str::is_empty")]
    message: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    reason: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    details: Option<DetailsBody<'a>>,
    #[serde(skip_serializing_if = "is_zero")]
    code: u16,
}

fn is_zero(code: &u16) -> bool {
    *code == 0
}

#[derive(serde::Serialize)]
struct Empty {}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct DetailsBody<'a> {
    #[serde(skip_serializing_if = "str::is_empty")]
    name: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    group: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    kind: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    uid: &'a str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    causes: Vec<CauseBody<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    retry_after_seconds: Option<i64>,
}

#[derive(serde::Serialize)]
struct CauseBody<'a> {
    #[serde(skip_serializing_if = "str::is_empty")]
    reason: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    message: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    field: &'a str,
}

impl ApiError {
    /// The Status as kube-apiserver writes it: its field order, empty fields omitted, and a
    /// newline.
    pub fn status_text(&self) -> String {
        status_text("Failure", &self.message, self.reason, &self.details, self.code)
    }
}

/// A `metav1.Status` (`Failure` or `Success`) as kube-apiserver writes one: its field order,
/// empty fields omitted (a code of 0 too, as a delete's Success has none), and a newline.
pub fn status_text(status: &'static str, message: &str, reason: &str, details: &Value, code: u16) -> String {
    fn text(value: &Value) -> &str {
        value.as_str().unwrap_or_default()
    }
    let causes = details["causes"].as_array().map(|causes| {
        causes.iter().map(|cause| CauseBody { reason: text(&cause["reason"]), message: text(&cause["message"]), field: text(&cause["field"]) }).collect()
    });
    let body = StatusBody {
        kind: "Status",
        api_version: "v1",
        metadata: Empty {},
        status,
        message,
        reason,
        details: details.as_object().is_some_and(|fields| !fields.is_empty()).then(|| DetailsBody {
            name: text(&details["name"]),
            group: text(&details["group"]),
            kind: text(&details["kind"]),
            uid: text(&details["uid"]),
            causes: causes.unwrap_or_default(),
            retry_after_seconds: details["retryAfterSeconds"].as_i64(),
        }),
        code,
    };
    let mut out = serde_json::to_string(&body).unwrap_or_default();
    out.push('\n');
    out
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let code = StatusCode::from_u16(self.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if code.is_server_error() {
            tracing::warn!(code = self.code, reason = self.reason, message = %self.message, "request failed");
        }
        (code, [(axum::http::header::CONTENT_TYPE, "application/json")], self.status_text()).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::find;

    #[test]
    fn messages_are_worded_as_kubernetes_words_them() {
        let pods = find("", "v1", "pods").unwrap();
        let deployments = find("apps", "v1", "deployments").unwrap();
        assert_eq!(ApiError::not_found(pods, "web").message, "pods \"web\" not found");
        assert_eq!(ApiError::already_exists(deployments, "web").message, "deployments.apps \"web\" already exists");
        let invalid = ApiError::invalid(deployments, "web", vec![Cause::required("spec.selector", "")]);
        assert_eq!(invalid.message, "Deployment.apps \"web\" is invalid: spec.selector: Required value");
        assert_eq!(serde_json::from_str::<Value>(&invalid.status_text()).unwrap()["details"]["causes"][0]["field"], "spec.selector");
        let two = ApiError::invalid(pods, "x", vec![Cause::required("a", ""), Cause::required("b", "")]);
        assert_eq!(two.message, "Pod \"x\" is invalid: [a: Required value, b: Required value]");
    }

    #[test]
    fn statuses_are_written_as_kube_apiserver_writes_them() {
        let pods = find("", "v1", "pods").unwrap();
        assert_eq!(
            ApiError::not_found(pods, "web").status_text(),
            "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\",\"message\":\"pods \\\"web\\\" not found\",\"reason\":\"NotFound\",\"details\":{\"name\":\"web\",\"kind\":\"pods\"},\"code\":404}\n"
        );
        let invalid = ApiError::invalid(pods, "x", vec![Cause::required("spec.containers", "")]);
        assert!(invalid.status_text().contains("\"details\":{\"name\":\"x\",\"kind\":\"Pod\",\"causes\":[{\"reason\":\"FieldValueRequired\",\"message\":\"Required value\",\"field\":\"spec.containers\"}]},\"code\":422}"), "{}", invalid.status_text());
        assert!(ApiError::bad_request("no").status_text().ends_with("\"message\":\"no\",\"reason\":\"BadRequest\",\"code\":400}\n"));
    }
}
