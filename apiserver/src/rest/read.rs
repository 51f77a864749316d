//! get, list and watch.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use base64::Engine;
use common::selector::{FieldSelector, LabelSelector};
use futures::StreamExt;
use serde_json::{Value, json};
use tokio::sync::broadcast;

use super::{Api, Params, Target, json_response};
use crate::errors::{ApiError, Cause};
use crate::meta;
use crate::registry::Kind;
use crate::resources::ResourceType;
use crate::table;
use crate::storage::{ListOptions, Revision, StoreError};
use crate::watch_cache::{self, CachedEvent, CachedObject, EventType, Start, field_value};

/// The default and largest page size of a list read from storage in one go.
const STORAGE_PAGE: usize = 500;
/// How long a watch lasts when the client gives no timeout (kube-apiserver picks 30-60 min).
const DEFAULT_WATCH_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// The longest watch granted: a client asking for more (up to `i64::MAX` seconds, which would
/// overflow the deadline) gets this, and watches again as it does after any timeout.
const MAX_WATCH_TIMEOUT: Duration = Duration::from_secs(24 * 60 * 60);
const BOOKMARK_EVERY: Duration = Duration::from_secs(30);

pub async fn get(api: &Api, target: &Target, headers: &HeaderMap) -> Result<Response, ApiError> {
    let name = target.name.as_deref().unwrap_or_default();
    let representation = if target.subresource.is_none() { Representation::of(headers, false)? } else { Representation::Object };
    let mut object = fetch(api, target, name).await?;
    super::serve_as(&target.resource, &mut object);
    match representation {
        Representation::Object => Ok(json_response(StatusCode::OK, &object)),
        Representation::Table => {
            let resource_version = meta::string(&object, "resourceVersion").unwrap_or_default().to_string();
            let table = table::table(&target.resource, &[object], json!({"resourceVersion": resource_version}));
            Ok(json_response(StatusCode::OK, &table))
        }
        Representation::Metadata(version) => Ok(json_response(StatusCode::OK, &partial_metadata(version, &object))),
    }
}

/// What an `Accept` header asks objects to be served as: themselves, a server-side Table, or
/// only their metadata (`PartialObjectMetadata`, which client-go's metadata informers ask for),
/// in `meta.k8s.io` `v1` or `v1beta1`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Representation {
    Object,
    Table,
    Metadata(&'static str),
}

impl Representation {
    /// The first of the Accept header's choices this server can give, as kube-apiserver
    /// negotiates: a choice without `as=` is the object itself; `as=Table` a Table;
    /// `as=PartialObjectMetadata` (`...List` for a list) the metadata. A header whose every
    /// choice asks for something else is 406.
    fn of(headers: &HeaderMap, list: bool) -> Result<Self, ApiError> {
        let metadata_kind = if list { "PartialObjectMetadataList" } else { "PartialObjectMetadata" };
        let mut asked_for_other = false;
        for choice in super::media_ranges(headers).filter(super::MediaRange::is_produced) {
            let version = match choice.parameter("v") {
                Some("v1") => Some("v1"),
                Some("v1beta1") => Some("v1beta1"),
                _ => None,
            };
            match (choice.parameter("as"), choice.parameter("g"), version) {
                (None, _, _) => return Ok(Self::Object),
                (Some("Table"), Some("meta.k8s.io"), Some(_)) => return Ok(Self::Table),
                (Some(kind), Some("meta.k8s.io"), Some(version)) if kind == metadata_kind => return Ok(Self::Metadata(version)),
                _ => asked_for_other = true,
            }
        }
        if asked_for_other {
            return Err(ApiError::new(406, "NotAcceptable", format!(
                "only the following media types are accepted: application/json, application/yaml, application/vnd.kubernetes.protobuf, application/json;as=Table;v=v1;g=meta.k8s.io, application/json;as={metadata_kind};v=v1;g=meta.k8s.io"
            )));
        }
        Ok(Self::Object)
    }
}

/// An object's `PartialObjectMetadata`: its metadata alone.
fn partial_metadata(version: &str, object: &Value) -> Value {
    json!({"kind": "PartialObjectMetadata", "apiVersion": format!("meta.k8s.io/{version}"), "metadata": object.get("metadata").cloned().unwrap_or_else(|| json!({}))})
}

/// The stored object with its resourceVersion; 404 when absent, 500 InternalError naming the
/// key and why when it cannot be read (undecodable or undecryptable), as kube-apiserver
/// answers a corrupt object.
pub async fn fetch(api: &Api, target: &Target, name: &str) -> Result<Value, ApiError> {
    let key = target.key(name);
    let kv = api
        .store
        .get(&key)
        .await
        .map_err(|err| ApiError::from_store(err, &target.resource, name))?
        .ok_or_else(|| ApiError::not_found(&target.resource, name))?;
    watch_cache::decode(&kv).map_err(|err| ApiError::from_store(err, &target.resource, name))
}

/// How many unreadable objects a list names before it says there are more, as kube-apiserver.
const MAX_REPORTED_UNREADABLE: usize = 100;

/// The 500 a list answers when it meets objects that cannot be read, naming their keys rather
/// than leaving them out: kube-apiserver's answer (KEP-3926) with the corrupt objects' keys as
/// the causes' fields.
fn unreadable_objects(resource: &ResourceType, unreadable: &[(String, String)]) -> ApiError {
    let mut causes: Vec<Value> = unreadable
        .iter()
        .take(MAX_REPORTED_UNREADABLE)
        .map(|(key, why)| json!({"reason": "UnexpectedServerResponse", "field": key, "message": why}))
        .collect();
    if unreadable.len() > MAX_REPORTED_UNREADABLE {
        causes.push(json!({"reason": "TooMany", "message": "too many errors, the list is truncated"}));
    }
    let mut error = ApiError::new(500, "StorageReadError", format!("failed to read one or more {} from the storage", resource.qualified_plural()));
    error.details = json!({"name": "list", "group": resource.group, "kind": resource.plural, "causes": causes});
    error
}

/// Which objects a list or watch selects: namespace, label selector, field selector (and the
/// object's name, for a watch of one object by its path).
pub struct Filter {
    namespace: Option<String>,
    name: Option<String>,
    labels: LabelSelector,
    fields: FieldSelector,
    resource: Arc<Kind>,
}

impl Filter {
    pub fn new(target: &Target, params: &Params) -> Result<Self, ApiError> {
        let labels = LabelSelector::parse(params.get("labelSelector").unwrap_or_default())
            .map_err(|err| ApiError::bad_request(err.to_string()))?;
        let fields = FieldSelector::parse(params.get("fieldSelector").unwrap_or_default())
            .map_err(|err| ApiError::bad_request(err.to_string()))?;
        for requirement in fields.requirements() {
            if !supported_field(&target.resource, requirement.field()) {
                return Err(ApiError::bad_request(format!(
                    "field label not supported: {}",
                    requirement.field()
                )));
            }
        }
        Ok(Self { namespace: target.namespace.clone(), name: target.name.clone(), labels, fields, resource: target.resource.clone() })
    }

    pub fn matches(&self, object: &Value) -> bool {
        self.namespace_matches(meta::namespace(object))
            && self.name_matches(meta::name(object))
            && self.labels.matches(&meta::labels(object))
            && self.fields.matches(|field| field_value(object, field))
    }

    pub fn matches_cached(&self, object: &CachedObject) -> bool {
        self.namespace_matches(object.namespace())
            && self.name_matches(object.field("metadata.name"))
            && self.labels.matches(&object.labels)
            && self.fields.matches(|field| object.field(field).map(str::to_string))
    }

    fn name_matches(&self, name: Option<&str>) -> bool {
        self.name.as_deref().is_none_or(|wanted| name == Some(wanted))
    }

    fn namespace_matches(&self, namespace: Option<&str>) -> bool {
        match &self.namespace {
            Some(wanted) if self.resource.namespaced => namespace == Some(wanted.as_str()),
            _ => true,
        }
    }
}

/// The field selectors Kubernetes supports on every kind, plus those the kind declares.
fn supported_field(resource: &ResourceType, field: &str) -> bool {
    matches!(field, "metadata.name" | "metadata.namespace") || resource.selectable_fields.contains(field)
}

#[derive(serde::Serialize, serde::Deserialize)]
struct ContinueToken {
    /// The revision the list is read at.
    rv: Revision,
    /// The storage key to continue from.
    start: String,
}

fn encode_continue(revision: Revision, start: &str) -> String {
    let token = json!({"rv": revision, "start": start});
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(token.to_string())
}

fn decode_continue(token: &str, prefix: &str) -> Result<ContinueToken, ApiError> {
    let invalid = || ApiError::bad_request("continue key is not valid: it is not a token this server issued");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(token).map_err(|_| invalid())?;
    let token: ContinueToken = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    if !token.start.starts_with(prefix) {
        return Err(invalid());
    }
    Ok(token)
}

pub async fn list(api: &Api, target: &Target, params: &Params, headers: &HeaderMap) -> Result<Response, ApiError> {
    let filter = Filter::new(target, params)?;
    let list_metadata = |revision: Revision, next: Option<(String, Option<u64>)>| {
        let mut metadata = json!({"resourceVersion": revision.to_string()});
        if let Some((token, remaining)) = next {
            metadata["continue"] = json!(token);
            if let Some(remaining) = remaining {
                metadata["remainingItemCount"] = json!(remaining);
            }
        }
        metadata
    };
    match Representation::of(headers, true)? {
        Representation::Object => {}
        Representation::Table => {
            let mut items = Vec::new();
            let (revision, next) = list_objects(api, target, params, &filter, &mut |object| {
                let mut object = object.to_value();
                super::serve_as(&target.resource, &mut object);
                items.push(object);
            })
            .await?;
            let table = table::table(&target.resource, &items, list_metadata(revision, next));
            return Ok(json_response(StatusCode::OK, &table));
        }
        Representation::Metadata(version) => {
            let mut items = Vec::new();
            let (revision, next) = list_objects(api, target, params, &filter, &mut |object| items.push(partial_metadata(version, &object.to_value()))).await?;
            let list = json!({"kind": "PartialObjectMetadataList", "apiVersion": format!("meta.k8s.io/{version}"), "metadata": list_metadata(revision, next), "items": items});
            return Ok(json_response(StatusCode::OK, &list));
        }
    }
    // The list is written out object by object as it is read, rather than built as one JSON
    // tree first: a list of many objects then costs its text, not several times that.
    let head = json!({"kind": format!("{}List", target.resource.kind), "apiVersion": target.resource.api_version()});
    let mut body = head.to_string().into_bytes();
    body.pop();
    body.extend_from_slice(b",\"items\":[");
    let mut first = true;
    let mut failed = None;
    let (revision, next) = list_objects(api, target, params, &filter, &mut |object| {
        if !first {
            body.push(b',');
        }
        first = false;
        if let Err(err) = object.write_json(&mut body, &target.resource) {
            failed.get_or_insert(err);
        }
    })
    .await?;
    if let Some(err) = failed {
        return Err(ApiError::internal(format!("encoding the list: {err}")));
    }
    body.extend_from_slice(b"],\"metadata\":");
    body.extend_from_slice(list_metadata(revision, next).to_string().as_bytes());
    body.push(b'}');
    Ok(Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body))
        .unwrap_or_default())
}

/// A listed object, as read from storage or as the watch cache keeps it.
pub enum Item<'a> {
    Parsed(&'a Value),
    Cached(&'a CachedObject),
}

impl Item<'_> {
    pub fn to_value(&self) -> Value {
        match self {
            Item::Parsed(object) => (*object).clone(),
            Item::Cached(object) => object.value(),
        }
    }

    /// The object's JSON as `kind` serves it.
    fn write_json(&self, out: &mut Vec<u8>, kind: &ResourceType) -> Result<(), serde_json::Error> {
        match self {
            // Copied only when its apiVersion may have to change: lists are a hot path.
            Item::Parsed(object) if super::rewrites_versions(kind) => {
                let mut object = (*object).clone();
                super::serve_as(kind, &mut object);
                serde_json::to_writer(out, &object)
            }
            Item::Parsed(object) => serde_json::to_writer(out, object),
            Item::Cached(object) => {
                out.extend_from_slice(super::serve_text_as(kind, &object.json).as_bytes());
                Ok(())
            }
        }
    }
}

/// Hands each selected object to `sink`; returns the revision they were read at, and the
/// continue token (with the remaining count when known) when the limit cut the list short.
pub async fn list_objects(
    api: &Api,
    target: &Target,
    params: &Params,
    filter: &Filter,
    sink: &mut (dyn FnMut(Item<'_>) + Send),
) -> Result<(Revision, Option<(String, Option<u64>)>), ApiError> {
    let prefix = target.resource.namespace_prefix(target.namespace.as_deref());
    let limit = match params.number("limit")? {
        Some(limit) if limit > 0 => Some(limit as usize),
        _ => None,
    };
    let continue_token = params.get("continue").filter(|token| !token.is_empty());
    let resource_version = params.get("resourceVersion").unwrap_or_default();
    if continue_token.is_some() && !resource_version.is_empty() && resource_version != "0" {
        return Err(ApiError::bad_request(
            "specifying resource version is not allowed when using continue",
        ));
    }

    // resourceVersion=0 means "any version is fine": serve it from the watch cache.
    if resource_version == "0" && limit.is_none() && continue_token.is_none() {
        if let Some(cache) = api.cache.of(&target.resource) {
            cache.wait_ready().await;
            let unreadable = cache.corrupt_under(&prefix);
            if !unreadable.is_empty() {
                return Err(unreadable_objects(&target.resource, &unreadable));
            }
            let (objects, revision, _) = cache.snapshot();
            objects.iter().filter(|object| filter.matches_cached(object)).for_each(|object| sink(Item::Cached(object)));
            return Ok((revision, None));
        }
    }

    let mut options = ListOptions::default();
    if let Some(token) = continue_token {
        let token = decode_continue(token, &prefix)?;
        options.revision = Some(token.rv);
        options.start_key = Some(token.start);
    } else if let Some(revision) = meta::parse_resource_version(resource_version).map_err(ApiError::bad_request)? {
        // An exact revision (resourceVersionMatch=Exact) reads at it; otherwise anything at
        // least as new will do, and the newest is that.
        if params.get("resourceVersionMatch") == Some("Exact") {
            options.revision = Some(revision);
        }
    }
    let mut selected = 0;
    let wanted = limit.unwrap_or(usize::MAX);
    let label = |err: StoreError| ApiError::from_store(err, &target.resource, "");
    // Objects that cannot be read fail the list, all of them named (up to a bound), rather
    // than being left out of it.
    let mut unreadable = Vec::new();
    let finish = |unreadable: &[(String, String)], result| if unreadable.is_empty() { Ok(result) } else { Err(unreadable_objects(&target.resource, unreadable)) };
    loop {
        options.limit = Some(STORAGE_PAGE.min(wanted.saturating_sub(selected).max(1)));
        if limit.is_none() {
            options.limit = Some(STORAGE_PAGE);
        }
        let page = api.store.list(&prefix, options.clone()).await.map_err(label)?;
        options.revision = Some(page.revision);
        for kv in &page.items {
            match watch_cache::decode(kv) {
                Ok(object) if filter.matches(&object) => {
                    sink(Item::Parsed(&object));
                    selected += 1;
                }
                Ok(_) => {}
                Err(err) => {
                    tracing::error!(key = %kv.key, error = %err, "a listed object cannot be decoded");
                    unreadable.push((kv.key.clone(), err.to_string()));
                }
            }
        }
        match page.next_key {
            Some(_) if unreadable.len() > MAX_REPORTED_UNREADABLE => return finish(&unreadable, (page.revision, None)),
            Some(next) if selected >= wanted => {
                let remaining = filter_is_trivial(params).then_some(page.remaining);
                return finish(&unreadable, (page.revision, Some((encode_continue(page.revision, &next), remaining))));
            }
            Some(next) => options.start_key = Some(next),
            None => return finish(&unreadable, (page.revision, None)),
        }
    }
}

/// Kubernetes reports `remainingItemCount` only when no selector filters the list.
fn filter_is_trivial(params: &Params) -> bool {
    params.get("labelSelector").is_none_or(str::is_empty) && params.get("fieldSelector").is_none_or(str::is_empty)
}

// ---------------------------------------------------------------------------------------------
// Watch

enum Feed {
    Cache(broadcast::Receiver<Arc<CachedEvent>>),
    Store(crate::storage::WatchStream),
}

/// How watch events carry their objects: as they are, or as one-row Tables (`kubectl get -w`).
#[derive(Clone)]
enum Encoding {
    /// The objects as the kind's requested version serves them.
    Json(Arc<Kind>),
    Table(Arc<Kind>),
    Metadata(&'static str),
}

struct WatchState {
    resource: Arc<Kind>,
    filter: Filter,
    encoding: Encoding,
    /// Lines to send, each one event.
    pending: std::collections::VecDeque<String>,
    feed: Feed,
    /// The last revision delivered (events at or before it are skipped).
    delivered: Revision,
    bookmarks: bool,
    deadline: tokio::time::Instant,
    next_bookmark: tokio::time::Instant,
    done: bool,
}

pub async fn watch(api: &Api, target: &Target, params: &Params, headers: &HeaderMap) -> Result<Response, ApiError> {
    let filter = Filter::new(target, params)?;
    let encoding = match Representation::of(headers, false)? {
        Representation::Object => Encoding::Json(target.resource.clone()),
        Representation::Table => Encoding::Table(target.resource.clone()),
        Representation::Metadata(version) => Encoding::Metadata(version),
    };
    let timeout = params
        .number("timeoutSeconds")?
        .filter(|seconds| *seconds > 0)
        .map_or(DEFAULT_WATCH_TIMEOUT, |seconds| Duration::from_secs(seconds.unsigned_abs()).min(MAX_WATCH_TIMEOUT));
    let cache = api
        .cache
        .of(&target.resource)
        .ok_or_else(|| ApiError::internal(format!("no watch cache for {}", target.resource.plural)))?;
    cache.wait_ready().await;

    let requested = meta::parse_resource_version(params.get("resourceVersion").unwrap_or_default())
        .map_err(ApiError::bad_request)?;
    let initial_events = send_initial_events(params)?;
    let mut pending = std::collections::VecDeque::new();
    let (feed, delivered) = match (requested, initial_events) {
        // WatchList (`sendInitialEvents=true`): the state at least as new as the
        // resourceVersion asked for as ADDED events, then a bookmark marking their end, then
        // the changes, as client-go's streaming informers and kube-rs' StreamingList expect.
        (requested, Some(true)) => {
            // kube-rs' StreamingList asks `resourceVersion=0` and, like client-go asking none,
            // expects what it wrote before to be there.
            let consistent = matches!(requested, None | Some(0));
            let (revision, live) = initial_state(api, target, &filter, &encoding, &cache, consistent, &mut pending).await?;
            pending.push_back(bookmark(&target.resource, revision, true));
            (Feed::Cache(live), revision)
        }
        // `sendInitialEvents=false`: the changes from now on alone.
        (None | Some(0), Some(false)) => {
            let (_, revision, live) = cache.snapshot();
            (Feed::Cache(live), revision)
        }
        // No resourceVersion ("get state and start at most recent", which kube-apiserver serves
        // from etcd rather than its cache), or 0 ("start at any", the cache's state will do): the
        // state as ADDED events, then the changes.
        (requested @ (None | Some(0)), None) => {
            let (revision, live) = initial_state(api, target, &filter, &encoding, &cache, requested.is_none(), &mut pending).await?;
            (Feed::Cache(live), revision)
        }
        (Some(revision), _) => match cache.start_after(revision) {
            Start::Resume { replay, live } => {
                for event in replay {
                    if let Some(line) = filtered(&filter, &event, &encoding) {
                        pending.push_back(line);
                    }
                }
                (Feed::Cache(live), revision)
            }
            Start::TooOld => {
                let prefix = target.resource.namespace_prefix(target.namespace.as_deref());
                match api.store.watch(&prefix, revision + 1).await {
                    Ok(stream) => (Feed::Store(stream), revision),
                    Err(err) => return Ok(single_error(ApiError::from_store(err, &target.resource, ""))),
                }
            }
        },
    };
    let now = tokio::time::Instant::now();
    let state = WatchState {
        resource: target.resource.clone(),
        filter,
        encoding,
        pending,
        feed,
        delivered,
        bookmarks: params.flag("allowWatchBookmarks"),
        deadline: now.checked_add(timeout).unwrap_or(now),
        next_bookmark: now + BOOKMARK_EVERY,
        done: false,
    };
    let body = futures::stream::unfold(state, next_line).map(Ok::<_, std::convert::Infallible>);
    Ok(Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from_stream(body))
        .unwrap_or_else(|_| ApiError::internal("building the watch response").into_response_body()))
}

/// The state a watch starts with, as ADDED lines, and the revision it is at with the feed of
/// the changes after it. The cache may lag storage by the events in flight; when `consistent`
/// and the cache is behind storage's revision, the objects are read from storage (kube's
/// WatchList likewise waits for its cache to reach etcd's revision), and the feed, taken before
/// the read, skips what the read already holds.
async fn initial_state(
    api: &Api,
    target: &Target,
    filter: &Filter,
    encoding: &Encoding,
    cache: &watch_cache::ResourceCache,
    consistent: bool,
    pending: &mut std::collections::VecDeque<String>,
) -> Result<(Revision, broadcast::Receiver<Arc<CachedEvent>>), ApiError> {
    let (objects, cached_revision, live) = cache.snapshot();
    let behind = consistent && api.store.current_revision().await.ok().is_none_or(|current| current > cached_revision);
    if !behind {
        for object in objects.iter().filter(|object| filter.matches_cached(object)) {
            pending.push_back(event_line(EventType::Added, object, encoding));
        }
        return Ok((cached_revision, live));
    }
    let selectable = &target.resource.selectable_fields;
    let (revision, _) = list_objects(api, target, &Params::default(), filter, &mut |item| {
        let line = match item {
            Item::Cached(object) => event_line(EventType::Added, object, encoding),
            Item::Parsed(object) => event_line(EventType::Added, &CachedObject::new(object, selectable), encoding),
        };
        pending.push_back(line);
    })
    .await?;
    Ok((revision, live))
}

/// `sendInitialEvents`, checked as kube-apiserver's `validateWatchOptions` checks it: it needs
/// `resourceVersionMatch=NotOlderThan`, which in turn needs it and `allowWatchBookmarks`.
fn send_initial_events(params: &Params) -> Result<Option<bool>, ApiError> {
    const NOT_OLDER_THAN: &str = "NotOlderThan";
    let send = params.get("sendInitialEvents").map(|_| params.flag("sendInitialEvents"));
    let matching = params.get("resourceVersionMatch").filter(|matching| !matching.is_empty());
    let mut causes = Vec::new();
    if send.is_some() && matching != Some(NOT_OLDER_THAN) {
        causes.push(Cause::forbidden("resourceVersionMatch", &format!("sendInitialEvents requires setting resourceVersionMatch to {NOT_OLDER_THAN}")));
    }
    if let Some(matching) = matching {
        if send.is_none() {
            causes.push(Cause::forbidden("resourceVersionMatch", "resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided"));
        }
        if matching != NOT_OLDER_THAN {
            causes.push(Cause::not_supported("resourceVersionMatch", &json!(matching), &[NOT_OLDER_THAN]));
        }
        if !params.flag("allowWatchBookmarks") {
            causes.push(Cause::forbidden("allowWatchBookmarks", "allowWatchBookmarks must be set to true when resourceVersionMatch is provided"));
        }
    }
    if causes.is_empty() { Ok(send) } else { Err(ApiError::invalid_options("meta.k8s.io", "ListOptions", causes)) }
}

trait IntoResponseBody {
    fn into_response_body(self) -> Response;
}

impl IntoResponseBody for ApiError {
    fn into_response_body(self) -> Response {
        axum::response::IntoResponse::into_response(self)
    }
}

/// A watch answered with one ERROR event, as kube-apiserver reports a watch it cannot start
/// (e.g. 410 Expired for a compacted resourceVersion).
fn single_error(err: ApiError) -> Response {
    let line = error_event(&err);
    json_response_text(line)
}

fn json_response_text(text: String) -> Response {
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(text))
        .unwrap_or_default()
}

/// An ERROR watch event carrying the Status, as the error's own answer writes it.
fn error_event(err: &ApiError) -> String {
    format!("{{\"type\":\"ERROR\",\"object\":{}}}\n", err.status_text().trim_end())
}

/// One watch event as a line of the response, the cached JSON text written in as it is.
fn event_line(kind: EventType, object: &CachedObject, encoding: &Encoding) -> String {
    match encoding {
        Encoding::Json(resource) => format!("{{\"type\":\"{}\",\"object\":{}}}\n", kind.as_str(), super::serve_text_as(resource, &object.json)),
        Encoding::Table(resource) => {
            let mut object = object.value();
            super::serve_as(resource, &mut object);
            let metadata = json!({"resourceVersion": meta::string(&object, "resourceVersion").unwrap_or_default()});
            format!("{}\n", json!({"type": kind.as_str(), "object": table::table(resource, &[object], metadata)}))
        }
        Encoding::Metadata(version) => format!("{}\n", json!({"type": kind.as_str(), "object": partial_metadata(version, &object.value())})),
    }
}

/// The event as this watcher sees it: objects moving into the selection are ADDED, out of it
/// DELETED, as kube-apiserver reports selector transitions.
fn filtered(filter: &Filter, event: &CachedEvent, encoding: &Encoding) -> Option<String> {
    let now = filter.matches_cached(&event.object);
    let before = event.previous.as_deref().map(|previous| filter.matches_cached(previous));
    let kind = match (event.kind, now, before) {
        (EventType::Deleted, true, _) => EventType::Deleted,
        (EventType::Deleted, false, _) => return None,
        (EventType::Added, true, _) => EventType::Added,
        (EventType::Modified, true, Some(false)) => EventType::Added,
        (EventType::Modified, true, _) => EventType::Modified,
        (EventType::Modified, false, Some(true)) => EventType::Deleted,
        (_, false, _) => return None,
    };
    Some(event_line(kind, &event.object, encoding))
}

async fn next_line(mut state: WatchState) -> Option<(String, WatchState)> {
    loop {
        if let Some(line) = state.pending.pop_front() {
            return Some((line, state));
        }
        if state.done {
            return None;
        }
        let deadline = state.deadline;
        let wake = if state.bookmarks { state.next_bookmark.min(deadline) } else { deadline };
        let next = tokio::select! {
            next = next_event(&mut state.feed, &state.resource.selectable_fields) => next,
            () = tokio::time::sleep_until(wake) => {
                if tokio::time::Instant::now() >= deadline {
                    state.done = true;
                }
                if state.bookmarks {
                    state.next_bookmark = tokio::time::Instant::now() + BOOKMARK_EVERY;
                    state.pending.push_back(bookmark(&state.resource, state.delivered, false));
                }
                continue;
            }
        };
        match next {
            Ok(Some(event)) => {
                if event.revision <= state.delivered {
                    continue;
                }
                state.delivered = event.revision;
                if let Some(line) = filtered(&state.filter, &event, &state.encoding) {
                    state.pending.push_back(line);
                }
            }
            // The feed ended (cache reset, slow watcher cut off, store watch ended): close the
            // response; the client resumes from the last resourceVersion it saw.
            Ok(None) => state.done = true,
            Err(err) => {
                state.pending.push_back(error_event(&err));
                state.done = true;
            }
        }
    }
}

/// A BOOKMARK event at `revision`; `initial_events_end` marks the end of WatchList's initial
/// objects.
fn bookmark(resource: &Kind, revision: Revision, initial_events_end: bool) -> String {
    let mut metadata = serde_json::Map::new();
    metadata.insert("resourceVersion".into(), json!(revision.to_string()));
    if initial_events_end {
        metadata.insert("annotations".into(), json!({"k8s.io/initial-events-end": "true"}));
    }
    let api_version = resource.api_version();
    let object = crate::protobuf::zero_object(&api_version, &resource.kind, metadata.clone())
        .unwrap_or_else(|| json!({"kind": resource.kind, "apiVersion": api_version, "metadata": metadata}));
    format!("{}\n", json!({"type": "BOOKMARK", "object": object}))
}

async fn next_event(feed: &mut Feed, selectable: &crate::resources::Names) -> Result<Option<Arc<CachedEvent>>, ApiError> {
    match feed {
        Feed::Cache(live) => match live.recv().await {
            Ok(event) => Ok(Some(event)),
            Err(broadcast::error::RecvError::Lagged(_) | broadcast::error::RecvError::Closed) => Ok(None),
        },
        Feed::Store(stream) => loop {
            match stream.next().await {
                None => return Ok(None),
                Some(Err(StoreError::Compacted { requested, oldest })) => {
                    let message = match oldest {
                        Some(oldest) => format!("too old resource version: {} ({oldest})", requested - 1),
                        None => format!("too old resource version: {}", requested - 1),
                    };
                    return Err(ApiError::gone(message));
                }
                Some(Err(_)) => return Ok(None),
                Some(Ok(event)) => {
                    // An object that cannot be read ends the watch with an ERROR event naming
                    // it, as kube-apiserver's storage watch reports a decoding failure.
                    if let Some(event) = watch_cache::convert(event, selectable, |_| None).map_err(|err| ApiError::internal(err.to_string()))? {
                        return Ok(Some(Arc::new(event)));
                    }
                }
            }
        },
    }
}

/// Lists every object in the target's scope that the filter selects (for deletecollection).
pub async fn all_selected(api: &Api, target: &Target, params: &Params) -> Result<Vec<Value>, ApiError> {
    let filter = Filter::new(target, params)?;
    let unpaged = Params::default();
    let mut items = Vec::new();
    list_objects(api, target, &unpaged, &filter, &mut |object| items.push(object.to_value())).await?;
    Ok(items)
}


#[cfg(test)]
mod tests {
    use super::*;

    /// Each row: an Accept header, whether for a list, and what it is served as (None: 406).
    #[test]
    fn accept_headers_choose_the_representation_as_kube_apiserver_negotiates() {
        let table = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";
        let metadata_list = "application/vnd.kubernetes.protobuf;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json";
        let rows: [(&str, bool, Option<Representation>); 9] = [
            ("", false, Some(Representation::Object)),
            ("application/json", true, Some(Representation::Object)),
            (table, true, Some(Representation::Table)),
            (metadata_list, true, Some(Representation::Metadata("v1"))),
            ("application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1beta1", false, Some(Representation::Metadata("v1beta1"))),
            // A list asks for the List kind; the single kind then is an unknown choice.
            ("application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json", true, Some(Representation::Object)),
            ("application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1", true, None),
            ("application/json;as=Widget;g=example.com;v=v1", false, None),
            ("text/html,application/json;as=Table;g=meta.k8s.io;v=v1", false, Some(Representation::Table)),
        ];
        for (accept, list, expected) in rows {
            let mut headers = HeaderMap::new();
            headers.insert(header::ACCEPT, accept.parse().unwrap());
            let got = Representation::of(&headers, list);
            match expected {
                Some(expected) => assert_eq!(got.ok(), Some(expected), "{accept:?} (list: {list})"),
                None => assert_eq!(got.err().map(|err| err.code), Some(406), "{accept:?} (list: {list})"),
            }
        }
    }
}
