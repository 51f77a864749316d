//! The Kubernetes REST API over the store: path parsing, query parameters, request bodies and
//! the dispatch of each verb to `read` (get, list, watch) or `write` (create, update, patch,
//! delete, binding, scale).

mod kubernetes_service;
mod logs;
mod read;

pub use kubernetes_service::{INTERVAL as KUBERNETES_SERVICE_INTERVAL, Reconciler as KubernetesServiceReconciler};
pub use logs::kubelet_address;
pub use read::all_selected;
mod stream;
mod token;
mod write;

pub use token::still_bound;

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::errors::ApiError;
use crate::metrics::Metrics;
use crate::protobuf;
use crate::resources::{self, ResourceType};
use crate::storage::Store;
use crate::watch_cache::WatchCache;

/// Request bodies above this are refused with 413, as kube-apiserver refuses them.
pub const MAX_BODY: usize = 3 * 1024 * 1024;
/// How much of a too-large body is read and discarded before the 413 goes out.
const DRAIN_LIMIT: usize = 64 * 1024 * 1024;

/// What the REST handlers share.
pub struct Api {
    pub store: Arc<dyn Store>,
    pub cache: WatchCache,
    pub metrics: Metrics,
    /// How the requests proxied to nodes' kubelets connect (TLS with the apiserver's client
    /// certificate, when configured).
    pub kubelet: common::upgrade::Connector,
    /// The exec, attach and port-forward connections being spliced to kubelets.
    pub streams: common::upgrade::Gauge,
    /// Signs service account tokens (TokenRequest), when a signing key is configured.
    pub tokens: Option<Arc<crate::service_account_token::Signer>>,
}

/// What a request path names.
#[derive(Clone, Debug)]
pub struct Target {
    pub resource: &'static ResourceType,
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub subresource: Option<String>,
    /// The legacy `/watch/` path form.
    pub watch: bool,
}

impl Target {
    pub fn key(&self, name: &str) -> String {
        self.resource.key(self.namespace.as_deref(), name)
    }
}

/// Parses `/api/v1/...` and `/apis/{group}/{version}/...` resource paths.
pub fn parse_path(path: &str) -> Result<Target, ApiError> {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, version, mut rest) = match segments.as_slice() {
        ["api", version, rest @ ..] => ("", *version, rest),
        ["apis", group, version, rest @ ..] => (*group, *version, rest),
        _ => return Err(ApiError::path_not_found()),
    };
    let watch = rest.first() == Some(&"watch");
    if watch {
        rest = &rest[1..];
    }
    let find = |plural: &str| resources::find(group, version, plural).ok_or_else(ApiError::path_not_found);
    let target = |resource, namespace: Option<&str>, name: Option<&str>, subresource: Option<&str>| Target {
        resource,
        namespace: namespace.map(str::to_string),
        name: name.map(str::to_string),
        subresource: subresource.map(str::to_string),
        watch,
    };
    let target = match rest {
        [plural] => target(find(plural)?, None, None, None),
        ["namespaces", namespace, plural, tail @ ..] if find(plural).is_ok_and(|r| r.namespaced) => {
            let resource = find(plural)?;
            match tail {
                [] => target(resource, Some(namespace), None, None),
                [name] => target(resource, Some(namespace), Some(name), None),
                [name, subresource] => target(resource, Some(namespace), Some(name), Some(subresource)),
                _ => return Err(ApiError::path_not_found()),
            }
        }
        [plural, name] => target(find(plural)?, None, Some(name), None),
        [plural, name, subresource] => target(find(plural)?, None, Some(name), Some(subresource)),
        _ => return Err(ApiError::path_not_found()),
    };
    if target.resource.namespaced && target.namespace.is_none() && target.name.is_some() {
        return Err(ApiError::path_not_found());
    }
    if let Some(subresource) = &target.subresource {
        if !target.resource.has_subresource(subresource) {
            return Err(ApiError::path_not_found());
        }
    }
    Ok(target)
}

/// The query parameters the verbs read.
#[derive(Debug, Default)]
pub struct Params(Vec<(String, String)>);

impl Params {
    pub fn parse(query: Option<&str>) -> Self {
        let pairs = query.map(|query| form_urlencoded::parse(query.as_bytes()).into_owned().collect());
        Self(pairs.unwrap_or_default())
    }

    /// The parameter's value; the last one when it is given more than once.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().rev().find(|(key, _)| key == name).map(|(_, value)| value.as_str())
    }

    /// Every value of a repeated parameter (exec's `command`), in order.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0.iter().filter(|(key, _)| key == name).map(|(_, value)| value.as_str()).collect()
    }

    pub fn flag(&self, name: &str) -> bool {
        matches!(self.get(name), Some("true" | "1"))
    }

    pub fn number(&self, name: &str) -> Result<Option<i64>, ApiError> {
        match self.get(name) {
            None | Some("") => Ok(None),
            Some(text) => text.parse().map(Some).map_err(|_| {
                ApiError::bad_request(format!("invalid value {text:?} for query parameter {name}: must be an integer"))
            }),
        }
    }

    /// `dryRun=All` (the only value Kubernetes accepts).
    pub fn dry_run(&self) -> Result<bool, ApiError> {
        match self.get("dryRun") {
            None | Some("") => Ok(false),
            Some("All") => Ok(true),
            Some(other) => Err(ApiError::bad_request(format!(
                "Invalid dry run value {other:?}: supported values are \"All\""
            ))),
        }
    }
}

/// Parses a request body into the object's JSON: JSON as most clients send it, or Kubernetes'
/// protobuf as kubectl's typed commands (`create namespace`, `create configmap`, ...) send it;
/// with the errors Kubernetes gives for the wrong media type or malformed content.
pub fn json_body(headers: &HeaderMap, body: &Bytes) -> Result<Value, ApiError> {
    const ACCEPTED: &[&str] = &["application/json", "application/yaml", protobuf::CONTENT_TYPE];
    let content_type = content_type(headers);
    match content_type.as_str() {
        "" | "application/json" | "*/*" => parse_json(body),
        "application/yaml" => parse_yaml(body),
        protobuf::CONTENT_TYPE => protobuf::decode(body).map_err(|err| match err {
            protobuf::ProtobufError::UnsupportedKind { .. } | protobuf::ProtobufError::UnsupportedContentEncoding(_) => {
                ApiError::unsupported_media_type(&content_type, &ACCEPTED[..1])
            }
            other => ApiError::bad_request(format!("the object provided is unrecognized or couldn't be decoded: {other}")),
        }),
        _ => Err(ApiError::unsupported_media_type(&content_type, ACCEPTED)),
    }
}

pub fn parse_json(body: &Bytes) -> Result<Value, ApiError> {
    if body.is_empty() {
        return Err(ApiError::bad_request("the request body is empty: an object is required"));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(value @ Value::Object(_)) => Ok(value),
        Ok(other) => Err(ApiError::bad_request(format!(
            "the object provided is unrecognized or couldn't be decoded: expected a JSON object, got {}",
            json_type(&other)
        ))),
        Err(err) => Err(ApiError::bad_request(format!(
            "the object provided is unrecognized or couldn't be decoded: {err}"
        ))),
    }
}

/// One YAML document as the object's JSON, as kube-apiserver accepts `application/yaml` bodies.
fn parse_yaml(body: &Bytes) -> Result<Value, ApiError> {
    match serde_yaml_ng::from_slice::<Value>(body) {
        Ok(value @ Value::Object(_)) => Ok(value),
        Ok(other) => Err(ApiError::bad_request(format!(
            "the object provided is unrecognized or couldn't be decoded: expected a YAML mapping, got {}",
            json_type(&other)
        ))),
        Err(err) => Err(ApiError::bad_request(format!(
            "the object provided is unrecognized or couldn't be decoded: error converting YAML to JSON: {err}"
        ))),
    }
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The media type of the body, lower-cased, without parameters.
pub fn content_type(headers: &HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .map(|value| value.trim().to_ascii_lowercase())
        .unwrap_or_default()
}

pub fn json_response(status: StatusCode, value: &Value) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], value.to_string()).into_response()
}

/// Serves every `/api/...` and `/apis/...` resource request.
pub async fn handle(State(api): State<Arc<Api>>, request: Request) -> Response {
    let started = std::time::Instant::now();
    let (mut parts, body) = request.into_parts();
    let params = Params::parse(parts.uri.query());
    let target = parse_path(parts.uri.path());
    let resource = target.as_ref().map_or("", |target| target.resource.plural);
    let verb = target.as_ref().map_or_else(|_| parts.method.to_string(), |target| verb(&parts.method, target, &params));
    if let Some(target) = target.as_ref().ok().filter(|target| is_stream(&parts.method, target)) {
        // The body is the stream itself: the connection is handed on, not read here.
        let response = stream::connect(&api, target, &params, &mut parts).await.unwrap_or_else(IntoResponse::into_response);
        api.metrics.record("CONNECT", resource, response.status().as_u16(), started.elapsed());
        return response;
    }
    let result = match (target, read_body(body).await) {
        (Ok(target), Ok(body)) => dispatch(&api, &parts.method, &parts.headers, target, &params, &body).await,
        (Err(err), _) | (_, Err(err)) => Err(err),
    };
    let response = result.unwrap_or_else(IntoResponse::into_response);
    api.metrics.record(&verb, resource, response.status().as_u16(), started.elapsed());
    response
}

/// exec, attach and port-forward on a pod (GET or POST, as clients send either).
fn is_stream(method: &Method, target: &Target) -> bool {
    let subresource = target.subresource.as_deref().unwrap_or_default();
    target.resource.kind == "Pod" && target.name.is_some() && stream::SUBRESOURCES.contains(&subresource) && (method == Method::GET || method == Method::POST)
}

/// The verb as kube-apiserver's metrics name it.
fn verb(method: &Method, target: &Target, params: &Params) -> String {
    let collection = target.name.is_none();
    match method.as_str() {
        "GET" if collection && (target.watch || params.flag("watch")) => "WATCH".into(),
        "GET" if collection => "LIST".into(),
        "DELETE" if collection => "DELETECOLLECTION".into(),
        other => other.to_string(),
    }
}

async fn read_body(body: Body) -> Result<Bytes, ApiError> {
    use futures::StreamExt;
    let mut chunks = body.into_data_stream();
    let mut buffer = Vec::new();
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.map_err(|err| ApiError::bad_request(format!("cannot read the request body: {err}")))?;
        if buffer.len() + chunk.len() > MAX_BODY {
            // Read what the client is still sending (up to a bound) before answering, so that
            // it gets the 413 rather than a connection reset in the middle of its upload.
            let mut drained = buffer.len() + chunk.len();
            while let Some(Ok(chunk)) = chunks.next().await {
                drained += chunk.len();
                if drained > DRAIN_LIMIT {
                    break;
                }
            }
            return Err(ApiError::too_large(MAX_BODY));
        }
        buffer.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(buffer))
}

async fn dispatch(
    api: &Api,
    method: &Method,
    headers: &HeaderMap,
    target: Target,
    params: &Params,
    body: &Bytes,
) -> Result<Response, ApiError> {
    let item = target.name.is_some();
    let subresource = target.subresource.as_deref();
    match (method.as_str(), item, subresource) {
        ("GET", false, None) if target.watch || params.flag("watch") => read::watch(api, &target, params, headers).await,
        ("GET", false, None) => read::list(api, &target, params, headers).await,
        ("GET", true, None | Some("status")) => read::get(api, &target, headers).await,
        ("GET", true, Some("scale")) => write::get_scale(api, &target).await,
        ("POST", false, None) => write::create(api, &target, params, headers, body).await,
        ("POST", true, Some("binding")) => write::bind(api, &target, params, headers, body).await,
        ("POST", true, Some("token")) => token::request(api, &target, headers, body).await,
        ("PUT", true, None | Some("status") | Some("finalize")) => {
            write::update(api, &target, params, headers, body).await
        }
        ("PUT", true, Some("scale")) => write::update_scale(api, &target, params, headers, body).await,
        ("PATCH", true, None | Some("status")) => write::patch(api, &target, params, headers, body).await,
        ("PATCH", true, Some("scale")) => write::patch_scale(api, &target, params, headers, body).await,
        ("DELETE", true, None) => write::delete(api, &target, params, headers, body).await,
        ("DELETE", false, None) => write::delete_collection(api, &target, params, headers, body).await,
        ("GET", true, Some("log")) if target.resource.kind == "Pod" => logs::get(api, &target, params).await,
        (method, _, _) => Err(ApiError::method_not_allowed(format!(
            "the server does not allow this method on the requested resource ({method} {})",
            target.resource.qualified_plural()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        let target = parse_path("/api/v1/namespaces/demo/pods/web/status").unwrap();
        assert_eq!(target.resource.plural, "pods");
        assert_eq!(
            (target.namespace.as_deref(), target.name.as_deref(), target.subresource.as_deref()),
            (Some("demo"), Some("web"), Some("status"))
        );
        let namespace = parse_path("/api/v1/namespaces/demo").unwrap();
        assert_eq!((namespace.resource.plural, namespace.name.as_deref()), ("namespaces", Some("demo")));
        let finalize = parse_path("/api/v1/namespaces/demo/finalize").unwrap();
        assert_eq!(finalize.subresource.as_deref(), Some("finalize"));
        let all = parse_path("/apis/apps/v1/deployments").unwrap();
        assert_eq!((all.resource.plural, all.namespace), ("deployments", None));
        let watch = parse_path("/api/v1/watch/namespaces/demo/configmaps").unwrap();
        assert!(watch.watch);
        let node = parse_path("/api/v1/nodes/n1/status").unwrap();
        assert_eq!(node.name.as_deref(), Some("n1"));
        for bad in ["/api/v1/widgets", "/api/v2/pods", "/apis/apps/v1/pods", "/api/v1/pods/web", "/api/v1/namespaces/demo/configmaps/x/status", "/apis"] {
            assert!(parse_path(bad).is_err(), "{bad}");
        }
    }
}

/// The namespaces every Kubernetes cluster has from its start, which kube-apiserver's bootstrap
/// controller creates: users expect `default` to exist, and components their `kube-*` ones.
pub const SYSTEM_NAMESPACES: [&str; 4] = ["default", "kube-system", "kube-public", "kube-node-lease"];

/// Creates whichever system namespace is missing, through the same admission as a client's
/// create. Retries while the store is unavailable, so that an apiserver started before its
/// etcd still gets them once etcd is there.
pub async fn ensure_system_namespaces(api: &Api) {
    let namespaces = SYSTEM_NAMESPACES.iter().map(|name| ("namespaces", serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})));
    ensure_defaults(api, namespaces.collect()).await;
}

/// Creates each `(plural, object)` that does not exist yet (objects of served kinds), retrying
/// while storage is unavailable.
pub async fn ensure_defaults(api: &Api, objects: Vec<(&str, Value)>) {
    let mut delay = std::time::Duration::from_millis(100);
    for (plural, object) in objects {
        let (group, version) = match object["apiVersion"].as_str().unwrap_or_default().split_once('/') {
            Some((group, version)) => (group.to_string(), version.to_string()),
            None => (String::new(), object["apiVersion"].as_str().unwrap_or_default().to_string()),
        };
        let Some(resource) = resources::find(&group, &version, plural) else { continue };
        let name = object["metadata"]["name"].as_str().unwrap_or_default().to_string();
        let namespace = object["metadata"]["namespace"].as_str().map(str::to_string);
        let target = Target { resource, namespace, name: None, subresource: None, watch: false };
        loop {
            let body = Bytes::from(object.to_string());
            match write::create(api, &target, &Params::default(), &HeaderMap::new(), &body).await {
                Ok(_) => tracing::info!(kind = resource.kind, name, "created default object"),
                Err(err) if err.reason == "AlreadyExists" => {}
                Err(err) if err.code >= 500 => {
                    tracing::warn!(kind = resource.kind, name, error = %err.message, "storage unavailable, retrying a default object");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(std::time::Duration::from_secs(5));
                    continue;
                }
                Err(err) => tracing::error!(kind = resource.kind, name, error = %err.message, "cannot create a default object"),
            }
            break;
        }
    }
}
