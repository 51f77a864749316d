//! `authorization.k8s.io/v1`: SelfSubjectAccessReview, SubjectAccessReview and
//! SelfSubjectRulesReview (`kubectl auth can-i`), answered by the configured authorizer.

use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::errors::ApiError;
use crate::authz::node;
use crate::authz::{AuthorizationMode, Authorizer, Decision, Rule, strings};
use crate::request::{Attributes, RequestInfo, User};
use crate::rest;

/// The review resources of `authorization.k8s.io/v1`, for discovery.
pub fn review_resources() -> Value {
    let entry = |name: &str, kind: &str, namespaced: bool| json!({"name": name, "singularName": "", "namespaced": namespaced, "kind": kind, "verbs": ["create"]});
    json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "authorization.k8s.io/v1", "resources": [
        entry("selfsubjectaccessreviews", "SelfSubjectAccessReview", false),
        entry("selfsubjectrulesreviews", "SelfSubjectRulesReview", false),
        entry("subjectaccessreviews", "SubjectAccessReview", false),
    ]})
}

pub const REVIEW_GROUP: &str = "authorization.k8s.io";

/// SelfSubjectAccessReview, SubjectAccessReview and SelfSubjectRulesReview, as the request's
/// one parse names them. Without an authorizer every request is allowed, and so is every review.
pub async fn review_handler(authorizer: Option<&Authorizer>, info: &RequestInfo, request: Request) -> Response {
    if info.parts.len() != 1 || !info.namespace.is_empty() {
        return ApiError::path_not_found().into_response();
    }
    if info.verb != "create" {
        return ApiError::method_not_allowed(format!("the server does not allow this method on the requested resource ({})", request.method())).into_response();
    }
    let user = request.extensions().get::<User>().cloned().unwrap_or_else(User::unauthenticated_admin);
    review(authorizer, &user, &info.resource, request).await
}

async fn review(authorizer: Option<&Authorizer>, user: &User, resource: &str, request: Request) -> Response {
    let mut review = match rest::review_body(request).await {
        Ok(review) => review,
        Err(err) => return err.into_response(),
    };
    let spec = review["spec"].clone();
    let subject = match resource {
        "subjectaccessreviews" => User {
            name: spec["user"].as_str().unwrap_or_default().to_string(),
            uid: spec["uid"].as_str().unwrap_or_default().to_string(),
            groups: strings(&spec["groups"]),
        },
        "selfsubjectaccessreviews" | "selfsubjectrulesreviews" => user.clone(),
        _ => return ApiError::path_not_found().into_response(),
    };
    if resource == "selfsubjectrulesreviews" {
        let namespace = spec["namespace"].as_str().unwrap_or_default();
        let rules = match authorizer {
            Some(authorizer) => authorizer.rules(&subject, namespace).await,
            None => vec![Rule { verbs: vec!["*".into()], api_groups: vec!["*".into()], resources: vec!["*".into()], ..Rule::default() }, Rule { verbs: vec!["*".into()], non_resource_urls: vec!["*".into()], ..Rule::default() }],
        };
        // The Node authorizer's grants depend on the node's pods and are not listed, as
        // Kubernetes marks such a list incomplete.
        let incomplete = authorizer.is_some_and(|authorizer| authorizer.has_mode(AuthorizationMode::Node)) && node::node_identity(&subject).is_some();
        let (resource_rules, other): (Vec<&Rule>, Vec<&Rule>) = rules.iter().partition(|rule| rule.non_resource_urls.is_empty());
        review["status"] = json!({
            "resourceRules": resource_rules.iter().map(|rule| rule.to_json()).collect::<Vec<_>>(),
            "nonResourceRules": other.iter().map(|rule| json!({"verbs": rule.verbs, "nonResourceURLs": rule.non_resource_urls})).collect::<Vec<_>>(),
            "incomplete": incomplete,
        });
    } else {
        let attributes = match (spec.get("resourceAttributes"), spec.get("nonResourceAttributes")) {
            (Some(asked), _) => Attributes {
                verb: asked["verb"].as_str().unwrap_or_default().to_string(),
                resource: Some(asked["resource"].as_str().unwrap_or_default().to_string()),
                group: asked["group"].as_str().unwrap_or_default().to_string(),
                version: asked["version"].as_str().unwrap_or_default().to_string(),
                subresource: asked["subresource"].as_str().unwrap_or_default().to_string(),
                namespace: asked["namespace"].as_str().unwrap_or_default().to_string(),
                name: asked["name"].as_str().unwrap_or_default().to_string(),
                path: String::new(),
            },
            (None, Some(asked)) => Attributes { verb: asked["verb"].as_str().unwrap_or_default().to_string(), path: asked["path"].as_str().unwrap_or_default().to_string(), ..Attributes::default() },
            (None, None) => return ApiError::bad_request("exactly one of nonResourceAttributes or resourceAttributes must be specified").into_response(),
        };
        let decision = match authorizer {
            Some(authorizer) => authorizer.authorize(&subject, &attributes).await,
            None => Decision::Allow,
        };
        review["status"] = match decision {
            Decision::Allow => json!({"allowed": true, "reason": "RBAC: allowed"}),
            Decision::NoOpinion { reason } if reason.is_empty() => json!({"allowed": false}),
            Decision::NoOpinion { reason } => json!({"allowed": false, "reason": reason}),
        };
    }
    rest::json_response(axum::http::StatusCode::CREATED, &review)
}
