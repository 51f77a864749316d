//! `authentication.k8s.io/v1` reviews, as kube-apiserver serves them: TokenReview (does this
//! bearer token authenticate, and as whom; what webhook authenticators and `kubectl`-less
//! clients such as kr8s' `whoami` ask) and SelfSubjectReview (who am I, `kubectl auth whoami`).
//! Like the access reviews, they are create-only and never stored: the answer is the request
//! object with its status filled in, 201 Created.

use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::auth::Authenticator;
use crate::request::User;
use crate::errors::ApiError;
use crate::request::RequestInfo;
use crate::rest;

pub const GROUP: &str = "authentication.k8s.io";
pub const VERSION: &str = "v1";

/// The review resources of `authentication.k8s.io/v1`, for discovery.
pub fn resources() -> Value {
    let entry = |name: &str, kind: &str| json!({"name": name, "singularName": "", "namespaced": false, "kind": kind, "verbs": ["create"]});
    json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": format!("{GROUP}/{VERSION}"), "resources": [
        entry("selfsubjectreviews", "SelfSubjectReview"),
        entry("tokenreviews", "TokenReview"),
    ]})
}

/// TokenReview and SelfSubjectReview, as the request's one parse names them. `authenticator`
/// is the one bearer tokens are checked with; without one (every request acts as the
/// administrator) no token is reviewed, as kube-apiserver answers without a token authenticator.
pub async fn handler(authenticator: Option<&Authenticator>, info: &RequestInfo, request: Request) -> Response {
    if info.parts.len() != 1 || !info.namespace.is_empty() {
        return ApiError::path_not_found().into_response();
    }
    if info.verb != "create" {
        return ApiError::method_not_allowed(format!("the server does not allow this method on the requested resource ({})", request.method())).into_response();
    }
    let user = request.extensions().get::<User>().cloned().unwrap_or_else(User::unauthenticated_admin);
    let review = match rest::review_body(request).await {
        Ok(review) => review,
        Err(err) => return err.into_response(),
    };
    let answered = match info.resource.as_str() {
        "tokenreviews" => token_review(authenticator, review).await,
        "selfsubjectreviews" => Ok(self_subject_review(&user, review)),
        _ => return ApiError::path_not_found().into_response(),
    };
    match answered {
        Ok(review) => rest::json_response(StatusCode::CREATED, &review),
        Err(err) => err.into_response(),
    }
}

/// The request echoed as kube-apiserver writes back an object it decoded: its kind and
/// apiVersion set, and a `creationTimestamp` of null (the zero time).
fn echoed(mut review: Value, kind: &str) -> Value {
    if !review.is_object() {
        review = json!({});
    }
    review["kind"] = json!(kind);
    review["apiVersion"] = json!(format!("{GROUP}/{VERSION}"));
    if !review["metadata"].is_object() {
        review["metadata"] = json!({});
    }
    review["metadata"]["creationTimestamp"] = Value::Null;
    review
}

/// `UserInfo` as Kubernetes serializes it: empty fields left out.
fn user_info(user: &User) -> Value {
    let mut info = json!({"username": user.name});
    if !user.uid.is_empty() {
        info["uid"] = json!(user.uid);
    }
    if !user.groups.is_empty() {
        info["groups"] = json!(user.groups);
    }
    info
}

/// `pkg/registry/authentication/tokenreview`: the token authenticated with the server's own
/// authenticator, for `spec.audiences` (the apiserver's audiences when none are given).
async fn token_review(authenticator: Option<&Authenticator>, review: Value) -> Result<Value, ApiError> {
    let mut review = echoed(review, "TokenReview");
    let token = review["spec"]["token"].as_str().unwrap_or_default().to_string();
    if token.is_empty() {
        return Err(ApiError::bad_request("token is required for TokenReview in authentication"));
    }
    let audiences: Vec<String> = review["spec"]["audiences"].as_array().into_iter().flatten().filter_map(|audience| audience.as_str().map(str::to_string)).collect();
    // `authenticated: false` is left out, as Go's `omitempty` leaves it: clients read it absent.
    review["status"] = match authenticator {
        None => json!({"user": {}}),
        Some(authenticator) => match authenticator.authenticate_token(&token, &audiences).await {
            Ok(authenticated) => json!({"authenticated": true, "user": user_info(&authenticated.user), "audiences": authenticated.audiences}),
            // kube-apiserver's union of token authenticators words it `[invalid bearer token, why]`.
            Err(err) => json!({"user": {}, "error": format!("[invalid bearer token, {err}]")}),
        },
    };
    Ok(review)
}

/// `pkg/registry/authentication/selfsubjectreview`: who the request comes from.
fn self_subject_review(user: &User, review: Value) -> Value {
    let mut review = echoed(review, "SelfSubjectReview");
    review["status"] = json!({"userInfo": user_info(user)});
    review
}
