//! OpenAPI as kube-apiserver 1.33 serves it: `/openapi/v3` lists one document per group version
//! with the hash of its content, each document (`/openapi/v3/apis/apps/v1`) has the operations on
//! every served path and the full schemas of the kinds they take and answer, and `/openapi/v2` is
//! all of it in one Swagger 2.0 document. kubectl reads them to explain kinds, to find out that
//! PATCH takes `fieldValidation` (and leave validation to this server), and to compute strategic
//! merge patches from the `x-kubernetes-patch-*` extensions.
//!
//! A document is written from what discovery lists and the schemas of the kinds found there,
//! built in (`schemas`) or supplied at run time, each time it is asked for: nothing is kept but
//! the built-in schema texts in the binary.

mod protobuf;

use std::collections::BTreeSet;

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use crate::discovery;
use crate::errors::ApiError;
use crate::state::Api;

use crate::definitions as schemas;
pub use crate::definitions::Extra;

/// The version the documents' `info` names.
const INFO_VERSION: &str = "v1.33.0";

/// One served group version and its `APIResourceList`, as discovery has it now.
type ResourceList = (String, String, Value);

/// What the documents describe: every served group version's resources, from the registry's
/// current snapshot, so that kinds added at run time appear with their next request.
fn resource_lists(api: &Api) -> Vec<ResourceList> {
    let snapshot = api.registry.snapshot();
    discovery::group_versions(&snapshot)
        .into_iter()
        .filter_map(|(group, version)| discovery::resource_list_document(&snapshot, group, version).map(|list| (group.to_string(), version.to_string(), list)))
        .collect()
}

/// Schemas supplied at run time: those of the served custom kinds and their lists, named and
/// shaped as kube-apiserver's CRD OpenAPI builder names and shapes them (`com.example.v1.Widget`,
/// `metadata` a reference to ObjectMeta, `apiVersion` and `kind` added).
fn extra(api: &Api) -> Extra {
    let mut extra = Extra::new();
    for kind in api.registry.snapshot().kinds() {
        let Some(schema) = kind.custom.as_ref().and_then(|custom| custom.schema.as_ref()) else { continue };
        let Ok(mut schema) = serde_json::to_value(schema) else { continue };
        let name = custom_definition_name(&kind.group, &kind.version, &kind.kind);
        let reference = |target: &str| json!({"allOf": [{"$ref": format!("#/components/schemas/{target}")}]});
        let type_meta = |properties: &mut Map<String, Value>| {
            properties.insert("apiVersion".into(), json!({"type": "string", "description": "APIVersion defines the versioned schema of this representation of an object. Servers should convert recognized schemas to the latest internal value, and may reject unrecognized values. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources"}));
            properties.insert("kind".into(), json!({"type": "string", "description": "Kind is a string value representing the REST resource this object represents. Servers may infer this from the endpoint the client submits requests to. Cannot be updated. In CamelCase. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds"}));
        };
        if let Some(fields) = schema.as_object_mut() {
            let properties = fields.entry("properties").or_insert_with(|| json!({}));
            if let Some(properties) = properties.as_object_mut() {
                type_meta(properties);
                let mut metadata = reference("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta");
                metadata["description"] = json!("Standard object's metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata");
                properties.insert("metadata".into(), metadata);
            }
            fields.insert("x-kubernetes-group-version-kind".into(), json!([{"group": kind.group, "version": kind.version, "kind": kind.kind}]));
        }
        let mut list_properties = Map::new();
        type_meta(&mut list_properties);
        list_properties.insert("items".into(), json!({"type": "array", "description": format!("List of {}. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md", kind.plural), "items": reference(&name)}));
        list_properties.insert("metadata".into(), reference("io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta"));
        let list = json!({
            "type": "object",
            "description": format!("{}List is a list of {}", kind.kind, kind.kind),
            "required": ["items"],
            "properties": list_properties,
            "x-kubernetes-group-version-kind": [{"group": kind.group, "version": kind.version, "kind": format!("{}List", kind.kind)}],
        });
        extra.insert(format!("{name}List"), list);
        extra.insert(name, schema);
    }
    extra
}

/// `com.example.v1.Widget` for `example.com/v1` `Widget`: the group's labels reversed, as
/// kube's builder names a CRD's definition.
fn custom_definition_name(group: &str, version: &str, kind: &str) -> String {
    let reversed: Vec<&str> = group.split('.').rev().collect();
    format!("{}.{version}.{kind}", reversed.join("."))
}

#[derive(Debug, thiserror::Error)]
pub enum OpenApiError {
    #[error("cannot write the OpenAPI document: {0}")]
    Write(#[from] serde_json::Error),
}

/// One written document and the hash clients cache it by.
#[derive(Debug)]
pub struct Document {
    pub body: Vec<u8>,
    /// SHA-512 of `body`, upper-case hex, as kube-openapi computes the `hash` and ETag.
    pub hash: String,
}

impl Document {
    fn new(body: Vec<u8>) -> Self {
        let digest = ring::digest::digest(&ring::digest::SHA512, &body);
        let hash = digest.as_ref().iter().map(|byte| format!("{byte:02X}")).collect();
        Self { body, hash }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Form {
    /// Swagger 2.0, `/openapi/v2`.
    V2,
    /// OpenAPI 3.0, `/openapi/v3/...`.
    V3,
}

/// A resource as discovery lists it (`deployments`, or a subresource such as `deployments/scale`).
#[derive(Debug)]
struct Served {
    name: String,
    namespaced: bool,
    /// The group, version and kind of what the resource takes and answers: a subresource's may
    /// be another group's (`autoscaling/v1` Scale).
    group: String,
    version: String,
    kind: String,
    /// The kind of the resource a subresource belongs to (for operation IDs), else `kind`.
    parent_kind: String,
    verbs: Vec<String>,
}

fn served(list: &Value, group: &str, version: &str) -> Vec<Served> {
    let entries = list.get("resources").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    let text = |entry: &Value, field: &str| entry.get(field).and_then(Value::as_str).map(str::to_string);
    let kind_of = |name: &str| entries.iter().find(|entry| text(entry, "name").as_deref() == Some(name)).and_then(|entry| text(entry, "kind"));
    entries
        .iter()
        .filter_map(|entry| {
            let name = text(entry, "name")?;
            let kind = text(entry, "kind")?;
            let parent_kind = name.split_once('/').and_then(|(parent, _)| kind_of(parent)).unwrap_or_else(|| kind.clone());
            Some(Served {
                namespaced: entry.get("namespaced").and_then(Value::as_bool).unwrap_or(false),
                group: text(entry, "group").unwrap_or_else(|| group.to_string()),
                version: text(entry, "version").unwrap_or_else(|| version.to_string()),
                verbs: entry.get("verbs").and_then(Value::as_array).map(|verbs| verbs.iter().filter_map(|verb| verb.as_str().map(str::to_string)).collect()).unwrap_or_default(),
                name,
                kind,
                parent_kind,
            })
        })
        .collect()
}

/// `api/v1` or `apis/apps/v1`: the document's path under `/openapi/v3/`, and its title.
fn document_path(group: &str, version: &str) -> String {
    if group.is_empty() { format!("api/{version}") } else { format!("apis/{group}/{version}") }
}

/// `Core`, `Apps`, `RbacAuthorization`: the group as kube's operation IDs spell it.
fn group_word(group: &str) -> String {
    if group.is_empty() {
        return "Core".to_string();
    }
    group.trim_end_matches(".k8s.io").split(['.', '-']).map(capitalized).collect()
}

fn capitalized(word: &str) -> String {
    let mut chars = word.chars();
    chars.next().map(|first| first.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

/// The query parameters of each action, as kube-apiserver lists them (descriptions left out).
fn query_parameters(action: &str) -> &'static [&'static str] {
    match action {
        "list" => &["allowWatchBookmarks", "continue", "fieldSelector", "labelSelector", "limit", "resourceVersion", "resourceVersionMatch", "sendInitialEvents", "timeoutSeconds", "watch"],
        "post" | "put" => &["dryRun", "fieldManager", "fieldValidation"],
        "patch" => &["dryRun", "fieldManager", "fieldValidation", "force"],
        "delete" => &["dryRun", "gracePeriodSeconds", "ignoreStoreReadErrorWithClusterBreakingPotential", "orphanDependents", "propagationPolicy"],
        "deletecollection" => &[
            "continue", "dryRun", "fieldSelector", "gracePeriodSeconds", "ignoreStoreReadErrorWithClusterBreakingPotential", "labelSelector", "limit",
            "orphanDependents", "propagationPolicy", "resourceVersion", "resourceVersionMatch", "sendInitialEvents", "timeoutSeconds",
        ],
        _ => &[],
    }
}

fn parameter_type(name: &str) -> &'static str {
    match name {
        "allowWatchBookmarks" | "watch" | "force" | "sendInitialEvents" | "orphanDependents" | "ignoreStoreReadErrorWithClusterBreakingPotential" => "boolean",
        "limit" | "timeoutSeconds" | "gracePeriodSeconds" => "integer",
        _ => "string",
    }
}

fn parameter(form: Form, name: &str, location: &str) -> Value {
    let kind = parameter_type(name);
    let required = location == "path";
    match form {
        Form::V3 => json!({"name": name, "in": location, "required": required, "schema": {"type": kind, "uniqueItems": true}}),
        Form::V2 => json!({"name": name, "in": location, "required": required, "type": kind, "uniqueItems": true}),
    }
}

fn reference(form: Form, name: &str) -> Value {
    match form {
        Form::V3 => json!({"$ref": format!("#/components/schemas/{name}")}),
        Form::V2 => json!({"$ref": format!("#/definitions/{name}")}),
    }
}

const STATUS: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Status";
const DELETE_OPTIONS: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions";
const PATCH: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Patch";

/// One operation: its ID, kube's `x-kubernetes-action` and `x-kubernetes-group-version-kind`
/// (kubectl finds a kind's PATCH by these and looks for `fieldValidation` among its parameters),
/// what it takes and what it answers.
struct Operation<'a> {
    id: String,
    action: &'a str,
    gvk: Value,
    body: Option<&'a str>,
    answer: Option<String>,
    /// What a PATCH takes: kubectl sends a strategic merge patch where this lists one.
    patch_types: &'static [&'static str],
}

impl Operation<'_> {
    fn render(&self, form: Form) -> Value {
        let mut parameters: Vec<Value> = query_parameters(self.action).iter().map(|name| parameter(form, name, "query")).collect();
        let mut operation = Map::new();
        operation.insert("operationId".into(), json!(self.id));
        operation.insert("x-kubernetes-action".into(), json!(self.action));
        operation.insert("x-kubernetes-group-version-kind".into(), self.gvk.clone());
        let content_types: &[&str] = if self.action == "patch" { self.patch_types } else { &["application/json", "application/yaml", "application/vnd.kubernetes.protobuf"] };
        if let Some(body) = self.body {
            match form {
                Form::V3 => {
                    let content: Map<String, Value> = content_types.iter().map(|media| ((*media).to_string(), json!({"schema": reference(form, body)}))).collect();
                    operation.insert("requestBody".into(), json!({"content": content, "required": body != DELETE_OPTIONS}));
                }
                Form::V2 => {
                    parameters.insert(0, json!({"name": "body", "in": "body", "required": body != DELETE_OPTIONS, "schema": reference(form, body)}));
                    operation.insert("consumes".into(), json!(content_types));
                }
            }
        }
        let answer = self.answer.as_deref().map(|name| reference(form, name));
        let answered = match (form, answer) {
            (Form::V3, Some(schema)) => json!({"description": "OK", "content": {"application/json": {"schema": schema}, "application/yaml": {"schema": schema}}}),
            (Form::V2, Some(schema)) => json!({"description": "OK", "schema": schema}),
            (_, None) => json!({"description": "OK"}),
        };
        operation.insert("responses".into(), json!({"200": answered, "401": {"description": "Unauthorized"}}));
        if form == Form::V2 {
            operation.insert("produces".into(), json!(["application/json", "application/yaml", "application/vnd.kubernetes.protobuf"]));
            operation.insert("schemes".into(), json!(["https"]));
        }
        operation.insert("parameters".into(), json!(parameters));
        Value::Object(operation)
    }
}

/// The paths of one group version's served resources, and the definitions they name.
fn paths(form: Form, group: &str, version: &str, resources: &[Served], extra: &Extra, roots: &mut BTreeSet<String>) -> Map<String, Value> {
    let base = if group.is_empty() { format!("/api/{version}") } else { format!("/apis/{group}/{version}") };
    let group_version = format!("{}{}", group_word(group), capitalized(version));
    let mut paths = Map::new();
    for resource in resources {
        let Some(schema) = schemas::for_kind(extra, &resource.group, &resource.version, &resource.kind) else {
            // exec, attach, port-forward and log have no body schema; kubectl needs none of them.
            continue;
        };
        let list = schemas::for_kind(extra, &resource.group, &resource.version, &format!("{}List", resource.kind));
        roots.insert(schema.clone());
        roots.extend(list.clone());
        let gvk = json!({"group": resource.group, "version": resource.version, "kind": resource.kind});
        let (plural, subresource) = match resource.name.split_once('/') {
            Some((plural, subresource)) => (plural, Some(subresource)),
            None => (resource.name.as_str(), None),
        };
        let scope = if resource.namespaced { format!("{base}/namespaces/{{namespace}}") } else { base.clone() };
        let namespaced = if resource.namespaced { "Namespaced" } else { "" };
        let suffix = subresource.map(capitalized).unwrap_or_default();
        let id = |action: &str| format!("{action}{group_version}{namespaced}{}{suffix}", resource.parent_kind);
        // A custom kind's paths, its scale subresource's too, take no strategic merge patch.
        let custom = extra.contains_key(&custom_definition_name(group, version, &resource.parent_kind));
        let patch_types = if custom { crate::patch::CUSTOM_MEDIA_TYPES } else { crate::patch::MEDIA_TYPES };
        let operation = |id: String, action: &'static str, body: Option<&str>, answer: Option<&str>| {
            let operation = Operation { id, action, gvk: gvk.clone(), body, answer: answer.map(str::to_string), patch_types };
            operation.render(form)
        };
        let has = |verb: &str| resource.verbs.iter().any(|served| served == verb);
        let mut path_parameters = vec![];
        if resource.namespaced {
            path_parameters.push(parameter(form, "namespace", "path"));
        }
        let mut collection = Map::new();
        let mut item = Map::new();
        match subresource {
            None => {
                if has("list") {
                    collection.insert("get".into(), operation(id("list"), "list", None, list.as_deref()));
                }
                if has("create") {
                    collection.insert("post".into(), operation(id("create"), "post", Some(schema.as_str()), Some(schema.as_str())));
                }
                if has("deletecollection") {
                    let id = format!("delete{group_version}Collection{namespaced}{}", resource.kind);
                    collection.insert("delete".into(), operation(id, "deletecollection", Some(DELETE_OPTIONS), Some(STATUS)));
                }
                if has("get") {
                    item.insert("get".into(), operation(id("read"), "get", None, Some(schema.as_str())));
                }
                if has("update") {
                    item.insert("put".into(), operation(id("replace"), "put", Some(schema.as_str()), Some(schema.as_str())));
                }
                if has("patch") {
                    item.insert("patch".into(), operation(id("patch"), "patch", Some(PATCH), Some(schema.as_str())));
                }
                if has("delete") {
                    item.insert("delete".into(), operation(id("delete"), "delete", Some(DELETE_OPTIONS), Some(STATUS)));
                }
                if resource.namespaced && has("list") {
                    let id = format!("list{group_version}{}ForAllNamespaces", resource.kind);
                    paths.insert(format!("{base}/{plural}"), json!({"get": operation(id, "list", None, list.as_deref())}));
                }
            }
            Some(_) => {
                // A subresource of a named object: `pods/{name}/binding` is created, `status` and
                // `scale` are read, replaced and patched.
                if has("get") {
                    item.insert("get".into(), operation(id("read"), "get", None, Some(schema.as_str())));
                }
                if has("create") {
                    item.insert("post".into(), operation(id("create"), "post", Some(schema.as_str()), Some(schema.as_str())));
                }
                if has("update") {
                    item.insert("put".into(), operation(id("replace"), "put", Some(schema.as_str()), Some(schema.as_str())));
                }
                if has("patch") {
                    item.insert("patch".into(), operation(id("patch"), "patch", Some(PATCH), Some(schema.as_str())));
                }
            }
        }
        if !collection.is_empty() && subresource.is_none() {
            collection.insert("parameters".into(), json!(path_parameters));
            paths.insert(format!("{scope}/{plural}"), Value::Object(collection));
        }
        if !item.is_empty() {
            path_parameters.insert(0, parameter(form, "name", "path"));
            item.insert("parameters".into(), json!(path_parameters));
            let path = match subresource {
                Some(subresource) => format!("{scope}/{plural}/{{name}}/{subresource}"),
                None => format!("{scope}/{plural}/{{name}}"),
            };
            paths.insert(path, Value::Object(item));
        }
    }
    if !paths.is_empty() {
        roots.extend([STATUS, DELETE_OPTIONS, PATCH].map(str::to_string));
    }
    paths
}

/// The v3 document of one group version: the paths of `resources` (an `APIResourceList`) and
/// every schema they need, built in or from `extra`. `None` when no resource there has a schema
/// (the resource metrics, whose schemas kube-apiserver gets from metrics-server).
pub fn group_version_document(group: &str, version: &str, resources: &Value, extra: &Extra) -> Result<Option<Document>, OpenApiError> {
    let mut roots = BTreeSet::new();
    let paths = paths(Form::V3, group, version, &served(resources, group, version), extra, &mut roots);
    if paths.is_empty() {
        return Ok(None);
    }
    let names = schemas::closure(roots, extra);
    let mut body = Vec::with_capacity(256 * 1024);
    body.extend_from_slice(br#"{"openapi":"3.0.0","info":{"title":"Kubernetes","version":""#);
    body.extend_from_slice(INFO_VERSION.as_bytes());
    body.extend_from_slice(br#""},"paths":"#);
    serde_json::to_writer(&mut body, &paths)?;
    body.extend_from_slice(br#","components":{"schemas":{"#);
    schemas::write_v3(&mut body, &names, extra)?;
    body.extend_from_slice(b"}}}");
    Ok(Some(Document::new(body)))
}

/// The paths of every served group version in the Swagger 2.0 form, and the definitions they need.
fn v2_parts(lists: &[ResourceList], extra: &Extra) -> (Map<String, Value>, BTreeSet<String>) {
    let mut roots = BTreeSet::new();
    let mut all_paths = Map::new();
    for (group, version, list) in lists {
        all_paths.extend(paths(Form::V2, group, version, &served(list, group, version), extra, &mut roots));
    }
    (all_paths, schemas::closure(roots, extra))
}

/// The Swagger 2.0 document of every served group version at once, as `/openapi/v2` is.
pub fn v2_document(lists: &[ResourceList], extra: &Extra) -> Result<Document, OpenApiError> {
    let (all_paths, names) = v2_parts(lists, extra);
    let mut body = Vec::with_capacity(1024 * 1024);
    body.extend_from_slice(br#"{"swagger":"2.0","info":{"title":"Kubernetes","version":""#);
    body.extend_from_slice(INFO_VERSION.as_bytes());
    body.extend_from_slice(br#""},"paths":"#);
    serde_json::to_writer(&mut body, &all_paths)?;
    body.extend_from_slice(br#","definitions":{"#);
    schemas::write_v2(&mut body, &names, extra)?;
    body.extend_from_slice(br#"},"securityDefinitions":{"BearerToken":{"description":"Bearer Token authentication","in":"header","name":"authorization","type":"apiKey"}},"security":[{"BearerToken":[]}]}"#);
    Ok(Document::new(body))
}

/// The same document as gnostic's `openapi.v2.Document` protobuf message, which client-go reads.
pub fn v2_protobuf_document(lists: &[ResourceList], extra: &Extra) -> Result<Document, OpenApiError> {
    let (all_paths, names) = v2_parts(lists, extra);
    let mut document = protobuf::Message::default();
    document.string(1, "2.0");
    document.message(2, protobuf::info("Kubernetes", INFO_VERSION));
    document.message(8, protobuf::paths(&all_paths));
    let mut definitions = protobuf::Message::default();
    for name in &names {
        definitions.message(1, protobuf::named_schema(name, &schemas::v2_schema(name, extra)?));
    }
    document.message(9, definitions);
    Ok(Document::new(document.into_bytes()))
}

fn documents(lists: &[ResourceList], extra: &Extra) -> Result<Vec<(String, Document)>, OpenApiError> {
    let mut documents = Vec::new();
    for (group, version, list) in lists {
        if let Some(document) = group_version_document(group, version, list, extra)? {
            documents.push((document_path(group, version), document));
        }
    }
    Ok(documents)
}

/// `/openapi/v3`: where each group version's document is, under its current hash.
pub async fn root(State(api): State<Arc<Api>>) -> Response {
    let (lists, extra) = (resource_lists(&api), extra(&api));
    let documents = match tokio::task::spawn_blocking(move || documents(&lists, &extra)).await {
        Ok(Ok(documents)) => documents,
        Ok(Err(err)) => return ApiError::internal(err.to_string()).into_response(),
        Err(err) => return ApiError::internal(err.to_string()).into_response(),
    };
    let mut paths = Map::new();
    for (path, document) in documents {
        paths.insert(path.clone(), json!({"serverRelativeURL": format!("/openapi/v3/{path}?hash={}", document.hash)}));
    }
    axum::Json(json!({"paths": paths})).into_response()
}

pub async fn core_document(State(api): State<Arc<Api>>, Path(version): Path<String>, RawQuery(query): RawQuery, headers: HeaderMap) -> Response {
    serve_group_version(&api, String::new(), version, query, headers).await
}

pub async fn group_document(State(api): State<Arc<Api>>, Path((group, version)): Path<(String, String)>, RawQuery(query): RawQuery, headers: HeaderMap) -> Response {
    serve_group_version(&api, group, version, query, headers).await
}

async fn serve_group_version(api: &Api, group: String, version: String, query: Option<String>, headers: HeaderMap) -> Response {
    let Some(list) = discovery::resource_list_document(&api.registry.snapshot(), &group, &version) else {
        return ApiError::path_not_found().into_response();
    };
    let extra = extra(api);
    let document = match tokio::task::spawn_blocking(move || group_version_document(&group, &version, &list, &extra).map(|document| document.map(|document| (document, group, version)))).await {
        Ok(Ok(Some(document))) => document,
        Ok(Ok(None)) => return ApiError::path_not_found().into_response(),
        Ok(Err(err)) => return ApiError::internal(err.to_string()).into_response(),
        Err(err) => return ApiError::internal(err.to_string()).into_response(),
    };
    let (document, group, version) = document;
    let asked = query.as_deref().and_then(|query| form_urlencoded::parse(query.as_bytes()).find(|(key, _)| key == "hash").map(|(_, value)| value.into_owned()));
    // kube-openapi's handler: a stale hash is redirected to the current one, and a current one
    // may be cached for good (the URL changes with the content).
    if let Some(asked) = asked.filter(|asked| !asked.is_empty()) {
        if asked != document.hash {
            let location = format!("/openapi/v3/{}?hash={}", document_path(&group, &version), document.hash);
            return (StatusCode::MOVED_PERMANENTLY, [(header::LOCATION, location)]).into_response();
        }
        return respond(document, "application/json", &headers, true);
    }
    respond(document, "application/json", &headers, false)
}

const V2_PROTOBUF: &str = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf";
/// What kube-openapi answers protobuf with: the same type with `.` for the `@` that Go's
/// mime.ParseMediaType (and so client-go) refuses in a Content-Type.
const V2_PROTOBUF_CONTENT_TYPE: &str = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";

/// What an `Accept` header asks `/openapi/v2` for.
#[derive(Debug, PartialEq, Eq)]
enum V2Format {
    Json,
    Protobuf,
}

/// The first media type of `accept` that `/openapi/v2` is served as, as kube-openapi
/// negotiates it: JSON, or gnostic's protobuf (also under its older `.v1.0` name). `None` when
/// the client accepts neither: 406, which client-go takes as a server too old for the endpoint.
fn v2_format(accept: Option<&str>) -> Option<V2Format> {
    let Some(accept) = accept.filter(|accept| !accept.trim().is_empty()) else { return Some(V2Format::Json) };
    accept.split(',').find_map(|media| match media.split(';').next().unwrap_or_default().trim() {
        "application/json" | "application/*" | "*/*" => Some(V2Format::Json),
        V2_PROTOBUF | V2_PROTOBUF_CONTENT_TYPE => Some(V2Format::Protobuf),
        _ => None,
    })
}

/// `/openapi/v2`, as JSON or protobuf.
pub async fn v2(State(api): State<Arc<Api>>, headers: HeaderMap) -> Response {
    let Some(format) = v2_format(headers.get(header::ACCEPT).and_then(|value| value.to_str().ok())) else {
        return ApiError::new(406, "NotAcceptable", format!("only application/json and {V2_PROTOBUF} are served")).into_response();
    };
    let (lists, extra) = (resource_lists(&api), extra(&api));
    let written = tokio::task::spawn_blocking(move || match format {
        V2Format::Json => v2_document(&lists, &extra).map(|document| (document, "application/json")),
        V2Format::Protobuf => v2_protobuf_document(&lists, &extra).map(|document| (document, V2_PROTOBUF_CONTENT_TYPE)),
    });
    match written.await {
        Ok(Ok((document, content_type))) => respond(document, content_type, &headers, false),
        Ok(Err(err)) => ApiError::internal(err.to_string()).into_response(),
        Err(err) => ApiError::internal(err.to_string()).into_response(),
    }
}

/// The document with its ETag; `304 Not Modified` when the client has it already.
fn respond(document: Document, content_type: &'static str, headers: &HeaderMap, immutable: bool) -> Response {
    let etag = format!("\"{}\"", document.hash);
    let mut response = if headers.get(header::IF_NONE_MATCH).and_then(|value| value.to_str().ok()) == Some(etag.as_str()) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ([(header::CONTENT_TYPE, content_type)], document.body).into_response()
    };
    let response_headers = response.headers_mut();
    if let Ok(etag) = HeaderValue::from_str(&etag) {
        response_headers.insert(header::ETAG, etag);
    }
    // The Accept header can change the answer: caches must not hand JSON to a client that asked
    // for something else.
    response_headers.insert(header::VARY, HeaderValue::from_static("Accept"));
    if immutable {
        response_headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, immutable"));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apps() -> Value {
        json!({"resources": [
            {"name": "deployments", "namespaced": true, "kind": "Deployment", "verbs": ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]},
            {"name": "deployments/scale", "namespaced": true, "kind": "Scale", "group": "autoscaling", "version": "v1", "verbs": ["get", "patch", "update"]},
        ]})
    }

    fn parsed(document: &Document) -> Value {
        serde_json::from_slice(&document.body).expect("a document is JSON")
    }

    #[test]
    fn a_group_version_document_has_the_schemas_of_its_kinds_and_their_references() {
        let document = group_version_document("apps", "v1", &apps(), &Extra::new()).expect("written").expect("served");
        let document = parsed(&document);
        let schemas = &document["components"]["schemas"];
        assert_eq!(schemas["io.k8s.api.apps.v1.Deployment"]["x-kubernetes-group-version-kind"], json!([{"group": "apps", "kind": "Deployment", "version": "v1"}]));
        for name in ["io.k8s.api.apps.v1.DeploymentList", "io.k8s.api.core.v1.PodSpec", "io.k8s.api.autoscaling.v1.Scale", STATUS, DELETE_OPTIONS, PATCH] {
            assert!(schemas.get(name).is_some(), "{name}");
        }
        assert!(schemas.get("io.k8s.api.apps.v1.StatefulSet").is_none(), "only what the served kinds need");
        let patch = &document["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"];
        assert_eq!(patch["x-kubernetes-group-version-kind"]["kind"], "Deployment");
        assert!(patch["parameters"].as_array().unwrap().iter().any(|parameter| parameter["name"] == "fieldValidation"));
        assert_eq!(patch["operationId"], "patchAppsV1NamespacedDeployment");
        let scale = &document["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale"]["get"];
        assert_eq!((scale["operationId"].as_str(), scale["x-kubernetes-group-version-kind"]["group"].as_str()), (Some("readAppsV1NamespacedDeploymentScale"), Some("autoscaling")));
        assert!(document["paths"]["/apis/apps/v1/deployments"]["get"].is_object(), "the list across namespaces");
    }

    #[test]
    fn the_hash_follows_the_content() {
        let builtin = group_version_document("apps", "v1", &apps(), &Extra::new()).unwrap().unwrap();
        let again = group_version_document("apps", "v1", &apps(), &Extra::new()).unwrap().unwrap();
        assert_eq!(builtin.hash, again.hash);
        assert_eq!(builtin.hash.len(), 128);
        let widget = json!({"type": "object", "x-kubernetes-group-version-kind": [{"group": "apps", "version": "v1", "kind": "Widget"}]});
        let mut resources = apps();
        resources["resources"].as_array_mut().unwrap().push(json!({"name": "widgets", "namespaced": false, "kind": "Widget", "verbs": ["get"]}));
        let extra = Extra::from([("com.example.Widget".to_string(), widget)]);
        let composed = group_version_document("apps", "v1", &resources, &extra).unwrap().unwrap();
        assert_ne!(composed.hash, builtin.hash);
        assert!(parsed(&composed)["components"]["schemas"]["com.example.Widget"].is_object());
        assert!(parsed(&composed)["paths"]["/apis/apps/v1/widgets/{name}"]["get"].is_object());
    }

    #[test]
    fn group_versions_without_schemas_have_no_document() {
        let metrics = json!({"resources": [{"name": "pods", "namespaced": true, "kind": "PodMetrics", "verbs": ["get", "list"]}]});
        assert!(group_version_document("metrics.k8s.io", "v1beta1", &metrics, &Extra::new()).unwrap().is_none());
    }

    #[test]
    fn every_served_kind_has_a_built_in_schema() {
        for resource in crate::kinds::BUILTIN {
            for kind in [resource.kind.to_string(), format!("{}List", resource.kind)] {
                assert!(schemas::for_kind(&Extra::new(), &resource.group, &resource.version, &kind).is_some(), "{} {kind}: add it to openapi/roots", resource.api_version());
            }
        }
    }

    #[test]
    fn the_vendored_documents_are_kubernetes_own() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("openapi/v1.33");
        let sums = std::fs::read_to_string(dir.join("SHA256SUMS")).expect("SHA256SUMS");
        let mut checked = 0;
        for line in sums.lines() {
            let (sum, file) = line.split_once("  ").expect("sha256sum's format");
            let bytes = std::fs::read(dir.join(file)).expect(file);
            let digest = ring::digest::digest(&ring::digest::SHA256, &bytes);
            let hex: String = digest.as_ref().iter().map(|byte| format!("{byte:02x}")).collect();
            assert_eq!(hex, sum, "{file} differs from the upstream file SHA256SUMS names");
            checked += 1;
        }
        let documents = std::fs::read_dir(&dir).expect("vendored dir").filter(|entry| entry.as_ref().is_ok_and(|entry| entry.file_name().to_string_lossy().ends_with(".json"))).count();
        assert_eq!(checked, documents, "every vendored document has its sum");
    }

    #[test]
    fn v2_is_negotiated_as_kube_openapi_does() {
        assert_eq!(v2_format(None), Some(V2Format::Json));
        assert_eq!(v2_format(Some("application/json, */*")), Some(V2Format::Json));
        assert_eq!(v2_format(Some(V2_PROTOBUF)), Some(V2Format::Protobuf));
        assert_eq!(v2_format(Some("application/com.github.proto-openapi.spec.v2@v1.0+protobuf;q=0.9, application/json")), Some(V2Format::Protobuf));
        assert_eq!(v2_format(Some("application/vnd.kubernetes.protobuf")), None);
    }

    #[test]
    fn operation_ids_spell_groups_as_kube_does() {
        assert_eq!(group_word(""), "Core");
        assert_eq!(group_word("rbac.authorization.k8s.io"), "RbacAuthorization");
        assert_eq!(group_word("coordination.k8s.io"), "Coordination");
        assert_eq!(group_word("apps"), "Apps");
    }
}
