//! The Kubernetes REST API over the store: path parsing, query parameters, request bodies and
//! the dispatch of each verb to `read` (get, list, watch) or `write` (create, update, patch,
//! delete, binding, scale).

mod body;
mod eviction;
mod kubernetes_service;
mod logs;
mod read;

pub use body::{content_type, json_body, parse_json};

pub use kubernetes_service::{INTERVAL as KUBERNETES_SERVICE_INTERVAL, Reconciler as KubernetesServiceReconciler};
pub use logs::kubelet_address;
pub use read::all_selected;

/// Whether objects of `kind` may carry another served version than the one asked for: a
/// custom kind with several served versions, or a built-in kind served in another version than
/// it is stored in.
pub(crate) fn rewrites_versions(kind: &ResourceType) -> bool {
    kind.conversion.is_some() || kind.custom.as_ref().is_some_and(|custom| custom.several_versions)
}

/// An object of `kind`, in the version it serves, as it is to be stored (`stored`: the object
/// it replaces, if any). Nothing changes but for a kind with a conversion.
pub(crate) fn store_as(kind: &ResourceType, object: &mut Value, stored: Option<&Value>) {
    if let Some(conversion) = kind.conversion
        && object.get("apiVersion").and_then(Value::as_str) != Some(conversion.stored_version)
    {
        (conversion.to_stored)(object, stored);
    }
}

/// An object of `kind` as the version asked for serves it. The served versions of a custom kind
/// share their stored objects (conversion `None`), each carrying the version it was written in;
/// kube's `None` converter rewrites apiVersion alone, and so does this.
pub(crate) fn serve_as(kind: &ResourceType, object: &mut Value) {
    if !rewrites_versions(kind) {
        return;
    }
    let wanted = kind.api_version();
    if let Some(conversion) = kind.conversion {
        if object.get("apiVersion").and_then(Value::as_str) == Some(conversion.stored_version) {
            (conversion.to_served)(object);
        }
        return;
    }
    if let Some(fields) = object.as_object_mut()
        && fields.get("apiVersion").and_then(Value::as_str) != Some(wanted.as_str())
    {
        fields.insert("apiVersion".into(), Value::String(wanted));
    }
}

/// [`serve_as`] for an object's JSON text, as the watch cache keeps it: borrowed unless it has
/// to change.
pub(crate) fn serve_text_as<'a>(kind: &ResourceType, text: &'a str) -> std::borrow::Cow<'a, str> {
    if !rewrites_versions(kind) {
        return std::borrow::Cow::Borrowed(text);
    }
    match serde_json::from_str::<Value>(text) {
        Ok(mut object) => {
            serve_as(kind, &mut object);
            std::borrow::Cow::Owned(object.to_string())
        }
        Err(_) => std::borrow::Cow::Borrowed(text),
    }
}

/// The headers of the server's own writes: its user agent, which names the managedFields
/// entries they make `kube-apiserver`, as kube-apiserver's loopback client names its own.
pub(crate) fn own_headers() -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(header::USER_AGENT, axum::http::HeaderValue::from_static(concat!("kube-apiserver/v", env!("CARGO_PKG_VERSION"))));
    headers
}

/// A JSON merge patch of the object (or subresource) `target` names, as the server's own
/// controllers write: no field manager, no dry run.
pub async fn merge_patch(api: &Api, target: &Target, patch: &Value) -> Result<(), ApiError> {
    let mut headers = own_headers();
    headers.insert(header::CONTENT_TYPE, axum::http::HeaderValue::from_static("application/merge-patch+json"));
    write::patch(api, target, &Params::default(), &headers, &Bytes::from(patch.to_string())).await.map(drop)
}

/// Deletes the object `target` names with the default options, as the server's own
/// controllers delete.
pub async fn delete_object(api: &Api, target: &Target) -> Result<(), ApiError> {
    write::delete(api, target, &Params::default(), &HeaderMap::new(), &Bytes::new()).await.map(drop)
}
mod stream;
mod subresource;
mod token;
mod websocket;
mod write;

pub use crate::state::Api;
pub use crate::request::Params;

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::errors::ApiError;
use crate::request::{self, Parsed, RequestInfo};
use crate::registry::{Kind, Registry};
use crate::resources::ResourceType;

/// Request bodies above this are refused with 413, as kube-apiserver refuses them.
pub const MAX_BODY: usize = 3 * 1024 * 1024;
/// How much of a too-large body is read and discarded before the 413 goes out.
const DRAIN_LIMIT: usize = 64 * 1024 * 1024;


/// What a request path names.
#[derive(Clone, Debug)]
pub struct Target {
    pub resource: Arc<Kind>,
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub subresource: Option<String>,
}

impl Target {
    pub fn key(&self, name: &str) -> String {
        self.resource.key(self.namespace.as_deref(), name)
    }

    /// The served resource a request names, from its one parse: 404 for what no resource
    /// serves (an empty version, resource, name or subresource, a group under `/api` or none under `/apis`, more
    /// segments than resource/name/subresource), 400 for a name or namespace that cannot be a
    /// path segment, as kube-apiserver's key functions answer.
    pub fn of(registry: &Registry, info: &RequestInfo) -> Result<Self, ApiError> {
        // An empty namespace segment (`/api/v1/namespaces//pods`) is no namespace, as
        // kube-apiserver's router takes it (authorization too saw the cluster scope); empty
        // segments anywhere else name nothing.
        let has_empty_segment = info.api_version.is_empty() || info.parts.iter().any(String::is_empty);
        let grouped = info.api_prefix == "apis";
        if !info.is_resource_request || has_empty_segment || grouped == info.api_group.is_empty() || info.verb == "proxy" || info.parts.is_empty() || info.parts.len() > 3 {
            return Err(ApiError::path_not_found());
        }
        let resource = registry.find(&info.api_group, &info.api_version, &info.resource).ok_or_else(ApiError::path_not_found)?;
        let name = info.parts.get(1).cloned();
        let namespace = match (resource.namespaced, info.namespace.as_str()) {
            (true, "") if name.is_some() => return Err(ApiError::path_not_found()),
            (true, "") => None,
            (true, namespace) => Some(namespace.to_string()),
            // A namespace by name is only ever `/api/v1/namespaces/{name}`, whose parse names it
            // as its own namespace.
            // `/api/v1/namespaces/{name}` is the namespace itself, not a resource in it; a
            // namespace by name in any other form names nothing.
            (false, _) if info.names_a_namespace() => {
                if !info.is_namespace_itself() {
                    return Err(ApiError::path_not_found());
                }
                None
            }
            (false, "") => None,
            (false, _) => return Err(ApiError::path_not_found()),
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
    let target = Target::of(&api.registry, info);
    // The metrics' resource label, kept apart from the target, which the handler consumes.
    let resource = target.as_ref().map_or(crate::resources::Name::Borrowed(""), |target| target.resource.plural.clone());
    if let Some(target) = target.as_ref().ok().filter(|target| is_stream(info, target)) {
        // The body is the stream itself: the connection is handed on, not read here.
        let response = stream::connect(&api, target, params, &mut parts).await.unwrap_or_else(IntoResponse::into_response);
        api.metrics.record("CONNECT", &resource, response.status().as_u16(), started.elapsed());
        return response;
    }
    let served = async {
        let target = target?;
        check_acceptable(info, &parts.headers)?;
        // Long-running requests too have a deadline for their body.
        let body = tokio::time::timeout(api.request_timeout, read_body(&parts.headers, body)).await.map_err(|_| ApiError::timeout())??;
        dispatch(&api, info, &parts.method, &parts.headers, target, params, &body).await
    };
    let response = within_deadline(&api, info, params, async { served.await.unwrap_or_else(IntoResponse::into_response) }).await;
    // A watch asked over WebSocket: its events go as messages once the handshake is answered
    // (an error is answered as it is, before any upgrade).
    let response = match parts.extensions.remove::<hyper::upgrade::OnUpgrade>() {
        Some(client) if info.verb == "watch" && response.status() == StatusCode::OK && websocket::asked(&parts.headers) => {
            websocket::serve(client, &parts.headers, response)
        }
        _ => response,
    };
    api.metrics.record(&metrics_verb(info, &parts.method), &resource, response.status().as_u16(), started.elapsed());
    response
}

/// Runs `serve` within the request's deadline unless it is long-running: 504 past it, 400 for
/// a `timeout` parameter that is no duration.
pub async fn within_deadline(api: &Api, info: &RequestInfo, params: &Params, serve: impl std::future::Future<Output = Response>) -> Response {
    if info.is_long_running() {
        return serve.await;
    }
    match request_timeout(api, params) {
        Ok(limit) => tokio::time::timeout(limit, serve).await.unwrap_or_else(|_| ApiError::timeout().into_response()),
        Err(err) => err.into_response(),
    }
}

/// `--request-timeout`, or less when the request's `timeout` parameter asks for less (more is
/// not granted), as kube-apiserver's `WithRequestDeadline` computes it.
fn request_timeout(api: &Api, params: &Params) -> Result<std::time::Duration, ApiError> {
    let Some(text) = params.get("timeout").filter(|text| !text.is_empty()) else { return Ok(api.request_timeout) };
    let asked = request::go_duration(text).ok_or_else(|| ApiError::bad_request(format!("invalid timeout specified in the request URL - time: invalid duration {text:?}")))?;
    Ok(if asked.is_zero() { api.request_timeout } else { asked.min(api.request_timeout) })
}

/// The media types resource endpoints produce, as go-restful lists them for a route's
/// `Produces` (CBOR off, as in Kubernetes 1.33).
const PRODUCED: [&str; 5] = ["application/json", "application/yaml", crate::protobuf::CONTENT_TYPE, "application/json;stream=watch", "application/vnd.kubernetes.protobuf;stream=watch"];

/// 406 when the request's `Accept` names nothing an endpoint produces, as go-restful answers
/// before any handler runs; logs (text) and streams have no such check here.
fn check_acceptable(info: &RequestInfo, headers: &HeaderMap) -> Result<(), ApiError> {
    if matches!(info.subresource.as_str(), "log" | "exec" | "attach" | "portforward" | "proxy") {
        return Ok(());
    }
    let mut choices = media_ranges(headers).peekable();
    if choices.peek().is_none() || choices.any(|choice| choice.is_produced()) {
        return Ok(());
    }
    Err(ApiError::new(406, "NotAcceptable", format!("406: Not Acceptable\n\nAvailable representations: {}", PRODUCED.join(", "))))
}

/// One choice of an `Accept` header: its media type, lower-cased, and its parameters.
pub(crate) struct MediaRange<'a> {
    pub media_type: String,
    parameters: Vec<(&'a str, &'a str)>,
}

impl MediaRange<'_> {
    /// A parameter's value (`as`, `g`, `v`), its name in any case.
    pub fn parameter(&self, name: &str) -> Option<&str> {
        self.parameters.iter().find(|(key, _)| key.eq_ignore_ascii_case(name)).map(|(_, value)| *value)
    }

    /// Whether resource endpoints produce this media type (or a wildcard covering one).
    pub fn is_produced(&self) -> bool {
        self.media_type == "*/*" || self.media_type == "application/*" || PRODUCED.iter().any(|produced| produced.split(';').next() == Some(self.media_type.as_str()))
    }
}

/// The request's `Accept` choices, in the order given.
pub(crate) fn media_ranges(headers: &HeaderMap) -> impl Iterator<Item = MediaRange<'_>> {
    let accept = headers.get(header::ACCEPT).and_then(|value| value.to_str().ok()).unwrap_or_default();
    accept.split(',').filter(|choice| !choice.trim().is_empty()).map(|choice| {
        let mut parts = choice.split(';').map(str::trim);
        let media_type = parts.next().unwrap_or_default().to_ascii_lowercase();
        MediaRange { media_type, parameters: parts.filter_map(|part| part.split_once('=')).collect() }
    })
}

/// exec, attach and port-forward (GET or POST, as clients send either), on the kinds whose
/// declaration has them (pods): [`Target::of`] refuses them on any other.
fn is_stream(info: &RequestInfo, target: &Target) -> bool {
    let subresource = target.subresource.as_deref().unwrap_or_default();
    target.name.is_some() && stream::SUBRESOURCES.contains(&subresource) && matches!(info.verb.as_str(), "get" | "create")
}

/// The verb as kube-apiserver's metrics name it.
fn metrics_verb(info: &RequestInfo, method: &Method) -> String {
    match info.verb.as_str() {
        "watch" | "list" | "deletecollection" => info.verb.to_ascii_uppercase(),
        _ => method.to_string(),
    }
}

/// The object a create-only review sends (access and token reviews, never stored): its body
/// read with the bounds of every write's ([`read_body`]) and decoded as one (JSON, YAML, or
/// protobuf as kubectl sends it).
pub async fn review_body(request: Request) -> Result<Value, ApiError> {
    let (parts, body) = request.into_parts();
    let body = read_body(&parts.headers, body).await?;
    json_body(&parts.headers, &body)
}

/// The body, refused with 413 beyond [`MAX_BODY`], decided from `Content-Length` when it says
/// so: nothing of such a body is kept, and one too large even to drain (see [`drain`]) is not
/// read at all.
async fn read_body(headers: &HeaderMap, body: Body) -> Result<Bytes, ApiError> {
    use futures::StreamExt;
    let declared = headers.get(header::CONTENT_LENGTH).and_then(|value| value.to_str().ok()).and_then(|value| value.trim().parse::<u64>().ok());
    let mut chunks = body.into_data_stream();
    if let Some(declared) = declared.filter(|length| *length > MAX_BODY as u64) {
        if declared <= DRAIN_LIMIT as u64 {
            drain(&mut chunks, 0).await;
        }
        return Err(ApiError::too_large(MAX_BODY));
    }
    // The declared length up front (at most MAX_BODY, checked above): a body grown by doubling
    // can hold twice its size at once while it is copied.
    let mut buffer = Vec::with_capacity(declared.map_or(0, |length| length as usize));
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.map_err(|err| ApiError::bad_request(format!("cannot read the request body: {err}")))?;
        if buffer.len() + chunk.len() > MAX_BODY {
            drain(&mut chunks, buffer.len() + chunk.len()).await;
            return Err(ApiError::too_large(MAX_BODY));
        }
        buffer.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(buffer))
}

/// Reads what the client is still sending of a refused body, up to [`DRAIN_LIMIT`] in all,
/// so that it gets the 413 rather than a connection reset in the middle of its upload.
async fn drain(chunks: &mut axum::body::BodyDataStream, mut drained: usize) {
    use futures::StreamExt;
    while let Some(Ok(chunk)) = chunks.next().await {
        drained += chunk.len();
        if drained > DRAIN_LIMIT {
            break;
        }
    }
}

/// What the server does for a request: one handler per verb and subresource.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Operation {
    Watch,
    List,
    Get,
    GetScale,
    Log,
    Create,
    Bind,
    Evict,
    Token,
    Update,
    UpdateScale,
    Patch,
    PatchScale,
    Delete,
    DeleteCollection,
}

impl Operation {
    /// The operation the request's verb asks of its target; None when the target does not
    /// serve that verb (405).
    fn of(info: &RequestInfo, method: &Method, target: &Target) -> Option<Self> {
        let item = target.name.is_some();
        Some(match (info.verb.as_str(), item, target.subresource.as_deref()) {
            // A watch may name one object (the legacy `/watch/namespaces/{ns}/{resource}/{name}`);
            // the `/watch/` paths serve GET alone.
            ("watch", _, None) if *method == Method::GET => Self::Watch,
            ("list", false, None) => Self::List,
            ("get", true, None) => Self::Get,
            ("get", true, Some(name)) if target.resource.status_writer(name).is_some() => Self::Get,
            ("get", true, Some("scale")) => Self::GetScale,
            ("get", true, Some("log")) => Self::Log,
            ("create", false, None) => Self::Create,
            ("create", true, Some("binding")) => Self::Bind,
            ("create", true, Some("eviction")) => Self::Evict,
            ("create", true, Some("token")) => Self::Token,
            ("update", true, None | Some("finalize")) => Self::Update,
            ("update", true, Some(name)) if target.resource.status_writer(name).is_some() => Self::Update,
            ("update", true, Some("scale")) => Self::UpdateScale,
            ("patch", true, None) => Self::Patch,
            ("patch", true, Some(name)) if target.resource.status_writer(name).is_some() => Self::Patch,
            ("patch", true, Some("scale")) => Self::PatchScale,
            ("delete", true, None) => Self::Delete,
            ("deletecollection", false, None) => Self::DeleteCollection,
            _ => return None,
        })
    }
}

async fn dispatch(api: &Api, info: &RequestInfo, method: &Method, headers: &HeaderMap, target: Target, params: &Params, body: &Bytes) -> Result<Response, ApiError> {
    let Some(operation) = Operation::of(info, method, &target) else {
        return Err(ApiError::method_not_allowed(format!(
            "the server does not allow this method on the requested resource ({method} {})",
            target.resource.qualified_plural()
        )));
    };
    match operation {
        Operation::Watch => read::watch(api, &target, params, headers).await,
        Operation::List => {
            // A list decodes the whole of ListOptions, as kube-apiserver does, so a watch's
            // parameter that is no number is refused here too.
            params.number("timeoutSeconds")?;
            read::list(api, &target, params, headers).await
        }
        Operation::Get => read::get(api, &target, headers).await,
        Operation::GetScale => write::get_scale(api, &target).await,
        Operation::Log => logs::get(api, &target, params).await,
        Operation::Create => write::create(api, &target, params, headers, body).await,
        Operation::Bind => write::bind(api, &target, params, headers, body).await,
        Operation::Evict => eviction::create(api, &target, params, headers, body).await,
        Operation::Token => token::request(api, &target, params, headers, body).await,
        Operation::Update => write::update(api, &target, params, headers, body).await,
        Operation::UpdateScale => write::update_scale(api, &target, params, headers, body).await,
        Operation::Patch => write::patch(api, &target, params, headers, body).await,
        Operation::PatchScale => write::patch_scale(api, &target, params, headers, body).await,
        Operation::Delete => write::delete(api, &target, params, headers, body).await,
        Operation::DeleteCollection => write::delete_collection(api, &target, params, headers, body).await,
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
        let Some(resource) = api.registry.find(&group, &version, plural) else { continue };
        let name = object["metadata"]["name"].as_str().unwrap_or_default().to_string();
        let namespace = object["metadata"]["namespace"].as_str().map(str::to_string);
        let target = Target { resource: resource.clone(), namespace, name: None, subresource: None };
        loop {
            let body = Bytes::from(object.to_string());
            match write::create(api, &target, &Params::default(), &own_headers(), &body).await {
                Ok(_) => tracing::info!(kind = %resource.kind, name, "created default object"),
                Err(err) if err.reason == "AlreadyExists" => {}
                Err(err) if err.code >= 500 => {
                    tracing::warn!(kind = %resource.kind, name, error = %err.message, "storage unavailable, retrying a default object");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(std::time::Duration::from_secs(5));
                    continue;
                }
                Err(err) => tracing::error!(kind = %resource.kind, name, error = %err.message, "cannot create a default object"),
            }
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_path(path: &str) -> Result<Target, ApiError> {
        let info = RequestInfo::new(&Method::GET, path, &Params::default()).map_err(|err| ApiError::bad_request(err.to_string()))?;
        Target::of(&Registry::new(crate::kinds::BUILTIN), &info)
    }

    /// A small deterministic generator (xorshift64*), so that a failure reproduces.
    struct Generator(u64);

    impl Generator {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }

        fn one_in(&mut self, n: u64) -> bool {
            self.next().is_multiple_of(n)
        }

        fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
            from[(self.next() % from.len() as u64) as usize]
        }
    }

    /// Property: for any path and query (empty, dot and encoded segments, repeated and encoded
    /// parameters), whenever the router serves a request, the resource, group, version,
    /// namespace, name, subresource and verb it serves are the ones authorization was asked about.
    #[test]
    fn authorization_sees_what_the_router_serves() {
        const QUERIES: &[&str] = &[
            "", "watch=1", "watch=0", "watch=%74rue", "watch=%31", "watch=yes", "watch=", "watch=FALSE", "watch=1&watch=0", "watch=0&watch=1",
            "fieldSelector=metadata.name%3Dx", "fieldSelector=metadata.name%3D%3Dy&watch=true", "fieldSelector=metadata.name!%3Dx", "limit=1&watch",
        ];
        const METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"];
        let registry = Registry::new(crate::kinds::BUILTIN);
        let mut generator = Generator(0x9e37_79b9_7f4a_7c15);
        let mut served = 0;
        for _ in 0..100_000 {
            // Mostly well-formed paths, then broken in one of the ways clients break them.
            let mut segments: Vec<&str> = Vec::new();
            match generator.next() % 6 {
                0..=2 => segments.push(generator.pick(&["api", "api", "%61pi", "apis"])),
                _ => segments.extend(["apis", generator.pick(&["apps", "apps", "rbac.authorization.k8s.io", "", "%61pps", "v1"])]),
            }
            segments.push(generator.pick(&["v1", "v1", "v1", "%76%31", "", "v2"]));
            if generator.one_in(4) {
                segments.push(generator.pick(&["watch", "watch", "proxy"]));
            }
            if generator.one_in(2) {
                segments.extend(["namespaces", generator.pick(&["default", "kube-system", "", ".", "..", "%2E%2E", "a%2Fb", "x%25"])]);
            }
            if !generator.one_in(5) {
                segments.push(generator.pick(&["pods", "secrets", "configmaps", "deployments", "nodes", "namespaces", "roles", "", "secrets%2Fx"]));
            }
            if generator.one_in(2) {
                segments.push(generator.pick(&["x", "n1", "default", "..", ".", "", "a%2Fb", "%2E"]));
                if generator.one_in(2) {
                    segments.push(generator.pick(&["status", "scale", "finalize", "exec", "log", "binding", "eviction", "token", "", "x"]));
                }
            }
            if generator.one_in(4) {
                let at = (generator.next() % (segments.len() as u64 + 1)) as usize;
                segments.insert(at, generator.pick(&["", ".", "..", "%2F", "x"]));
            }
            let mut path = format!("/{}", segments.join("/"));
            if generator.one_in(4) {
                path.push('/');
            }
            let query = generator.pick(QUERIES);
            let method: Method = generator.pick(METHODS).parse().unwrap();
            let params = Params::parse(Some(query));
            let Ok(info) = RequestInfo::new(&method, &path, &params) else { continue };
            let attributes = crate::request::Attributes::of_request(&info);
            let Ok(target) = Target::of(&registry, &info) else { continue };
            let Some(operation) = Operation::of(&info, &method, &target) else { continue };
            served += 1;
            let case = format!("{method} {path}?{query}: {info:?}");
            assert!(info.is_resource_request, "{case}");
            assert_eq!(attributes.resource.as_deref(), Some(&*target.resource.plural), "{case}");
            assert_eq!((attributes.group.as_str(), attributes.version.as_str()), (&*target.resource.group, &*target.resource.version), "{case}");
            assert_eq!(attributes.subresource, target.subresource.clone().unwrap_or_default(), "{case}");
            let namespace = if info.is_namespace_itself() { target.name.clone() } else { target.namespace.clone() };
            assert_eq!(attributes.namespace, namespace.unwrap_or_default(), "{case}");
            match &target.name {
                Some(name) => assert_eq!(&attributes.name, name, "{case}"),
                // A collection: the name authorization sees can only be an exact field selector's.
                None => assert!(attributes.name.is_empty() || (matches!(attributes.verb.as_str(), "list" | "watch") && query.contains("metadata.name")), "{case}"),
            }
            let verb = match operation {
                Operation::Watch => "watch",
                Operation::List => "list",
                Operation::Get | Operation::GetScale | Operation::Log => "get",
                Operation::Create | Operation::Bind | Operation::Evict | Operation::Token => "create",
                Operation::Update | Operation::UpdateScale => "update",
                Operation::Patch | Operation::PatchScale => "patch",
                Operation::Delete => "delete",
                Operation::DeleteCollection => "deletecollection",
            };
            assert_eq!(attributes.verb, verb, "{case}: served as {operation:?}");
            assert_eq!(attributes.verb == "watch", method == Method::GET && (path.contains("/watch/") || params.flag("watch")) && (target.name.is_none() || path.contains("/watch/")), "{case}");
        }
        assert!(served > 1_000, "the generator must reach served paths often enough to mean something: {served}");
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
        assert_eq!((&*namespace.resource.plural, namespace.name.as_deref()), ("namespaces", Some("demo")));
        let finalize = parse_path("/api/v1/namespaces/demo/finalize").unwrap();
        assert_eq!(finalize.subresource.as_deref(), Some("finalize"));
        let all = parse_path("/apis/apps/v1/deployments").unwrap();
        assert_eq!((&*all.resource.plural, all.namespace), ("deployments", None));
        let watch = parse_path("/api/v1/watch/namespaces/demo/configmaps").unwrap();
        assert_eq!((&*watch.resource.plural, watch.namespace.as_deref()), ("configmaps", Some("demo")));
        let node = parse_path("/api/v1/nodes/n1/status").unwrap();
        assert_eq!(node.name.as_deref(), Some("n1"));
        for bad in ["/api/v1/widgets", "/api/v2/pods", "/apis/apps/v1/pods", "/api/v1/pods/web", "/api/v1/namespaces/demo/configmaps/x/status", "/apis", "/apis//v1/secrets", "/api/apps/v1/deployments", "/api/v1/namespaces/demo/nodes", "/api/v1/namespaces/demo//pods", "/api/v1/namespaces/demo/pods//status", "/api/v1/namespaces/demo/pods/web/exec/extra", "/api/v1/proxy/nodes/n1"] {
            assert!(parse_path(bad).is_err(), "{bad}");
        }
    }
}
