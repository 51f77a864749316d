//! The Kubernetes REST API over the store: path parsing, query parameters, request bodies and
//! the dispatch of each verb to `read` (get, list, watch) or `write` (create, update, patch,
//! delete, binding, scale).

mod body;
mod kubernetes_service;
mod logs;
mod read;

pub use body::{content_type, json_body, parse_json};

pub use kubernetes_service::{INTERVAL as KUBERNETES_SERVICE_INTERVAL, Reconciler as KubernetesServiceReconciler};
pub use logs::kubelet_address;
pub use read::all_selected;
mod stream;
mod token;
mod write;

pub use token::still_bound;
pub use crate::request::Params;

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::errors::ApiError;
use crate::metrics::Metrics;
use crate::request::{self, Parsed, RequestInfo};
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
    /// How long a request that is not long-running may take (`--request-timeout`).
    pub request_timeout: std::time::Duration,
}

/// What a request path names.
#[derive(Clone, Debug)]
pub struct Target {
    pub resource: &'static ResourceType,
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub subresource: Option<String>,
}

impl Target {
    pub fn key(&self, name: &str) -> String {
        self.resource.key(self.namespace.as_deref(), name)
    }

    /// The served resource a request names, from its one parse: 404 for what no resource
    /// serves (an empty segment anywhere, a group under `/api` or none under `/apis`, more
    /// segments than resource/name/subresource), 400 for a name or namespace that cannot be a
    /// path segment, as kube-apiserver's key functions answer.
    pub fn of(info: &RequestInfo) -> Result<Self, ApiError> {
        let has_empty_segment = info.path.trim_matches('/').split('/').any(str::is_empty);
        let grouped = info.api_prefix == "apis";
        if !info.is_resource_request || has_empty_segment || grouped == info.api_group.is_empty() || info.verb == "proxy" || info.parts.is_empty() || info.parts.len() > 3 {
            return Err(ApiError::path_not_found());
        }
        let resource = resources::find(&info.api_group, &info.api_version, &info.resource).ok_or_else(ApiError::path_not_found)?;
        let name = info.parts.get(1).cloned();
        let namespace = match (resource.namespaced, info.namespace.as_str()) {
            (true, "") if name.is_some() => return Err(ApiError::path_not_found()),
            (true, "") => None,
            (true, namespace) => Some(namespace.to_string()),
            // `/api/v1/namespaces/{name}` is the namespace itself, not a resource in it.
            (false, namespace) if !namespace.is_empty() && resource.plural != "namespaces" => return Err(ApiError::path_not_found()),
            (false, _) => None,
        };
        if let Some(namespace) = namespace.as_deref().filter(|namespace| !request::valid_path_segment(namespace)) {
            return Err(ApiError::bad_request(format!("Namespace parameter invalid: {namespace:?}: {}", path_segment_problem(namespace))));
        }
        if let Some(name) = name.as_deref().filter(|name| !request::valid_path_segment(name)) {
            return Err(ApiError::bad_request(format!("Name parameter invalid: {name:?}: {}", path_segment_problem(name))));
        }
        let subresource = info.parts.get(2).cloned();
        if subresource.as_deref().is_some_and(|subresource| !resource.has_subresource(subresource)) {
            return Err(ApiError::path_not_found());
        }
        Ok(Self { resource, namespace, name, subresource })
    }
}

/// Why `path.IsValidPathSegmentName` refuses a segment, in its words.
fn path_segment_problem(segment: &str) -> String {
    if segment == "." || segment == ".." {
        return format!("may not be '{segment}'");
    }
    ['/', '%'].iter().filter(|bad| segment.contains(**bad)).map(|bad| format!("may not contain '{bad}'")).collect::<Vec<_>>().join(";")
}

pub fn json_response(status: StatusCode, value: &Value) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], value.to_string()).into_response()
}

/// Serves every `/api/...` and `/apis/...` resource request, as its one parse names it.
pub async fn handle(State(api): State<Arc<Api>>, request: Request) -> Response {
    let started = std::time::Instant::now();
    let parsed = match Parsed::from_extensions(&request) {
        Ok(parsed) => parsed,
        Err(err) => return ApiError::bad_request(err.to_string()).into_response(),
    };
    let (info, params) = (&*parsed.info, &*parsed.params);
    let (mut parts, body) = request.into_parts();
    let target = Target::of(info);
    let resource = target.as_ref().map_or("", |target| target.resource.plural);
    if let Some(target) = target.as_ref().ok().filter(|target| is_stream(info, target)) {
        // The body is the stream itself: the connection is handed on, not read here.
        let response = stream::connect(&api, target, params, &mut parts).await.unwrap_or_else(IntoResponse::into_response);
        api.metrics.record("CONNECT", resource, response.status().as_u16(), started.elapsed());
        return response;
    }
    let served = async {
        let target = target?;
        let body = read_body(&parts.headers, body).await?;
        dispatch(&api, info, &parts.method, &parts.headers, target, params, &body).await
    };
    let result = if info.is_long_running() {
        served.await
    } else {
        match request_timeout(&api, params) {
            Ok(limit) => tokio::time::timeout(limit, served).await.unwrap_or_else(|_| Err(ApiError::timeout())),
            Err(err) => Err(err),
        }
    };
    let response = result.unwrap_or_else(IntoResponse::into_response);
    api.metrics.record(&metrics_verb(info, &parts.method), resource, response.status().as_u16(), started.elapsed());
    response
}

/// `--request-timeout`, or less when the request's `timeout` parameter asks for less (more is
/// not granted), as kube-apiserver's `WithRequestDeadline` computes it.
fn request_timeout(api: &Api, params: &Params) -> Result<std::time::Duration, ApiError> {
    let Some(text) = params.get("timeout").filter(|text| !text.is_empty()) else { return Ok(api.request_timeout) };
    let asked = request::go_duration(text).ok_or_else(|| ApiError::bad_request("invalid timeout specified in the request URL"))?;
    Ok(if asked.is_zero() { api.request_timeout } else { asked.min(api.request_timeout) })
}

/// exec, attach and port-forward on a pod (GET or POST, as clients send either).
fn is_stream(info: &RequestInfo, target: &Target) -> bool {
    let subresource = target.subresource.as_deref().unwrap_or_default();
    target.resource.kind == "Pod" && target.name.is_some() && stream::SUBRESOURCES.contains(&subresource) && matches!(info.verb.as_str(), "get" | "create")
}

/// The verb as kube-apiserver's metrics name it.
fn metrics_verb(info: &RequestInfo, method: &Method) -> String {
    match info.verb.as_str() {
        "watch" | "list" | "deletecollection" => info.verb.to_ascii_uppercase(),
        _ => method.to_string(),
    }
}

/// The body, refused with 413 beyond [`MAX_BODY`]: from the `Content-Length` header when it
/// says so, without reading anything.
async fn read_body(headers: &HeaderMap, body: Body) -> Result<Bytes, ApiError> {
    use futures::StreamExt;
    let declared = headers.get(header::CONTENT_LENGTH).and_then(|value| value.to_str().ok()).and_then(|value| value.trim().parse::<u64>().ok());
    if declared.is_some_and(|length| length > MAX_BODY as u64) {
        return Err(ApiError::too_large(MAX_BODY));
    }
    let mut chunks = body.into_data_stream();
    // The declared length up front: a body grown by doubling can hold twice its size at once
    // while it is copied, which counts against a bounded request's memory.
    let mut buffer = Vec::with_capacity(declared.map_or(0, |length| length as usize));
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

async fn dispatch(api: &Api, info: &RequestInfo, method: &Method, headers: &HeaderMap, target: Target, params: &Params, body: &Bytes) -> Result<Response, ApiError> {
    let item = target.name.is_some();
    let subresource = target.subresource.as_deref();
    match (info.verb.as_str(), item, subresource) {
        // A watch may name one object (the legacy `/watch/namespaces/{ns}/{resource}/{name}`).
        ("watch", _, None) => read::watch(api, &target, params, headers).await,
        ("list", false, None) => read::list(api, &target, params, headers).await,
        ("get", true, None | Some("status")) => read::get(api, &target, headers).await,
        ("get", true, Some("scale")) => write::get_scale(api, &target).await,
        ("get", true, Some("log")) if target.resource.kind == "Pod" => logs::get(api, &target, params).await,
        ("create", false, None) => write::create(api, &target, params, headers, body).await,
        ("create", true, Some("binding")) => write::bind(api, &target, params, headers, body).await,
        ("create", true, Some("token")) => token::request(api, &target, headers, body).await,
        ("update", true, None | Some("status") | Some("finalize")) => write::update(api, &target, params, headers, body).await,
        ("update", true, Some("scale")) => write::update_scale(api, &target, params, headers, body).await,
        ("patch", true, None | Some("status")) => write::patch(api, &target, params, headers, body).await,
        ("patch", true, Some("scale")) => write::patch_scale(api, &target, params, headers, body).await,
        ("delete", true, None) => write::delete(api, &target, params, headers, body).await,
        ("deletecollection", false, None) => write::delete_collection(api, &target, params, headers, body).await,
        _ => Err(ApiError::method_not_allowed(format!(
            "the server does not allow this method on the requested resource ({method} {})",
            target.resource.qualified_plural()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_path(path: &str) -> Result<Target, ApiError> {
        let info = RequestInfo::new(&Method::GET, path, &Params::default()).map_err(|err| ApiError::bad_request(err.to_string()))?;
        Target::of(&info)
    }

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
        assert_eq!((watch.resource.plural, watch.namespace.as_deref()), ("configmaps", Some("demo")));
        let node = parse_path("/api/v1/nodes/n1/status").unwrap();
        assert_eq!(node.name.as_deref(), Some("n1"));
        for bad in ["/api/v1/widgets", "/api/v2/pods", "/apis/apps/v1/pods", "/api/v1/pods/web", "/api/v1/namespaces/demo/configmaps/x/status", "/apis", "/apis//v1/secrets", "/api/apps/v1/deployments", "/api/v1/namespaces//secrets", "/api/v1/namespaces/demo/nodes", "/api/v1/namespaces/demo/pods/web/exec/extra", "/api/v1/proxy/nodes/n1"] {
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
        let target = Target { resource, namespace, name: None, subresource: None };
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
