//! What the kubelet's HTTP handlers, the server's own and `stream`'s, answer alike.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// A refusal as Kubernetes writes it, so that the apiserver can pass its message on.
pub(crate) fn refuse(code: StatusCode, message: String) -> Response {
    let reason = if code == StatusCode::NOT_FOUND { "NotFound" } else { "BadRequest" };
    let body = serde_json::json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": message, "reason": reason, "code": code.as_u16(),
    });
    (code, [("content-type", "application/json")], body.to_string()).into_response()
}
