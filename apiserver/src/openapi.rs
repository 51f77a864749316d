//! The OpenAPI v3 documents kubectl reads before it writes: `/openapi/v3` lists one document
//! per group version, and each names the operations on every path with the
//! `x-kubernetes-group-version-kind` extension and the query parameters they take. kubectl
//! checks there that PATCH supports `fieldValidation`, and then leaves validation of unknown and
//! duplicate fields to this server. Object schemas are not served: kubectl then computes
//! strategic merge patches from the types compiled into it, as it does for built-in kinds.

use axum::extract::Path;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use crate::errors::ApiError;
use crate::resources::{self, RESOURCES, ResourceType};

/// Changes whenever the served documents do, so clients refresh their cached copies.
const HASH: &str = concat!("cluster-", env!("CARGO_PKG_VERSION"), "-1");

fn document_path(group: &str, version: &str) -> String {
    if group.is_empty() { format!("api/{version}") } else { format!("apis/{group}/{version}") }
}

pub async fn root() -> Response {
    let mut paths = Map::new();
    for (group, version) in resources::group_versions() {
        let path = document_path(group, version);
        paths.insert(path.clone(), json!({"serverRelativeURL": format!("/openapi/v3/{path}?hash={HASH}")}));
    }
    axum::Json(json!({"paths": paths})).into_response()
}

pub async fn core_document(Path(version): Path<String>) -> Response {
    document("", &version)
}

pub async fn group_document(Path((group, version)): Path<(String, String)>) -> Response {
    document(&group, &version)
}

fn document(group: &str, version: &str) -> Response {
    let served: Vec<&ResourceType> =
        RESOURCES.iter().filter(|resource| resource.group == group && resource.version == version).collect();
    if served.is_empty() {
        return ApiError::path_not_found().into_response();
    }
    let mut paths = Map::new();
    for resource in served {
        let base = if group.is_empty() { format!("/api/{version}") } else { format!("/apis/{group}/{version}") };
        let scope = if resource.namespaced { format!("{base}/namespaces/{{namespace}}") } else { base.clone() };
        let gvk = json!({"group": group, "version": version, "kind": resource.kind});
        paths.insert(
            format!("{scope}/{}", resource.plural),
            json!({
                "get": operation(&gvk, "list", &["labelSelector", "fieldSelector", "limit", "continue", "resourceVersion", "watch", "timeoutSeconds"]),
                "post": operation(&gvk, "post", &["dryRun", "fieldManager", "fieldValidation"]),
                "delete": operation(&gvk, "deletecollection", &["labelSelector", "fieldSelector", "dryRun", "gracePeriodSeconds", "propagationPolicy"]),
            }),
        );
        paths.insert(
            format!("{scope}/{}/{{name}}", resource.plural),
            json!({
                "get": operation(&gvk, "get", &[]),
                "put": operation(&gvk, "put", &["dryRun", "fieldManager", "fieldValidation"]),
                "patch": operation(&gvk, "patch", &["dryRun", "fieldManager", "fieldValidation", "force"]),
                "delete": operation(&gvk, "delete", &["dryRun", "gracePeriodSeconds", "propagationPolicy"]),
            }),
        );
        if resource.namespaced {
            paths.insert(format!("{base}/{}", resource.plural), json!({"get": operation(&gvk, "list", &["labelSelector", "fieldSelector", "limit", "continue", "resourceVersion", "watch"])}));
        }
    }
    let title = if group.is_empty() { format!("api/{version}") } else { format!("apis/{group}/{version}") };
    axum::Json(json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.33.0"},
        "paths": paths,
        "components": {"schemas": {}},
        "x-title": title,
    }))
    .into_response()
}

fn operation(gvk: &Value, action: &str, parameters: &[&str]) -> Value {
    let parameters: Vec<Value> = parameters
        .iter()
        .map(|name| json!({"name": name, "in": "query", "schema": {"type": "string", "uniqueItems": true}}))
        .collect();
    json!({
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": gvk,
        "parameters": parameters,
        "responses": {"200": {"description": "OK"}},
    })
}
