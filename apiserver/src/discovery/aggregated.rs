//! Aggregated discovery (`apidiscovery.k8s.io/v2`, KEP-3352): `/api` and `/apis` answered as one
//! `APIGroupDiscoveryList` each, every group with its versions and their resources, when the
//! `Accept` header asks for it. kubectl and client-go ask for it first, and then never read the
//! per-group-version lists.
//!
//! The documents are written from the legacy resource lists ([`super::resource_list_document`])
//! of the same registry snapshot, so that both forms always name the same resources (custom kinds
//! included, as soon as the registry has them). As kube-apiserver 1.33 (with
//! `AggregatedDiscoveryRemoveBetaType` on by default) only `v2` is served: an Accept header that
//! asks only for `v2beta1` gets the legacy document, or 406 when it accepts nothing else
//! (`pkg/endpoints/discovery/aggregated/negotiation.go`, `wrapper.go`).

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;

use super::{group_versions, groups, resource_list_document};
use crate::errors::ApiError;
use crate::protobuf::{self, Writer as Message};
use crate::registry::Snapshot;
use crate::rest::{MediaRange, media_ranges};

const GROUP: &str = "apidiscovery.k8s.io";
const VERSION: &str = "v2";
const KIND: &str = "APIGroupDiscoveryList";

/// The encodings of the answer, as kube-apiserver's discovery codecs offer them (CBOR is off in
/// 1.33), in its order: a wildcard media type gets the first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Format {
    Json,
    Yaml,
    Protobuf,
}

impl Format {
    const ALL: [(Self, &'static str); 3] = [(Self::Json, "application/json"), (Self::Yaml, "application/yaml"), (Self::Protobuf, protobuf::CONTENT_TYPE)];

    /// The response's Content-Type: the media type with the group, version and kind of the
    /// document, as kube-apiserver writes it (`generateMediaTypeWithGVK`).
    fn content_type(self) -> String {
        let media_type = Self::ALL.iter().find(|(format, _)| *format == self).map_or("application/json", |(_, media_type)| media_type);
        format!("{media_type};g={GROUP};v={VERSION};as={KIND}")
    }
}

/// What the Accept header asks of `/api` or `/apis`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Answer {
    Aggregated(Format),
    Legacy,
    /// Nothing the header accepts can be served: 406.
    NotAcceptable,
}

/// Negotiates as kube-apiserver's discovery wrapper does: the first choice (by `q`, then in
/// order) of a served media type whose `g`, `v` and `as` name `apidiscovery.k8s.io/v2`
/// `APIGroupDiscoveryList` is served aggregated, wherever it stands in the header; failing one,
/// the first choice without `g`/`v`/`as` gets the legacy document; a header with choices but
/// neither is 406. No Accept header is the legacy document.
pub(crate) fn negotiate(headers: &HeaderMap) -> Answer {
    let mut choices: Vec<MediaRange<'_>> = media_ranges(headers).collect();
    if choices.is_empty() {
        return Answer::Legacy;
    }
    // goautoneg orders the choices by quality, keeping the header's order among equals.
    choices.sort_by(|left, right| quality(right).total_cmp(&quality(left)));
    let choices: Vec<(Format, &MediaRange<'_>)> = choices.iter().filter(|choice| quality(choice) > 0.0).filter_map(|choice| format_of(choice).map(|format| (format, choice))).collect();
    let aggregated = choices.iter().find(|(_, choice)| {
        choice.parameter("g") == Some(GROUP) && choice.parameter("v") == Some(VERSION) && choice.parameter("as") == Some(KIND) && choice.parameter("sv").is_none_or(str::is_empty)
    });
    if let Some((format, _)) = aggregated {
        return Answer::Aggregated(*format);
    }
    let legacy = choices.iter().any(|(_, choice)| ["g", "v", "as"].iter().all(|name| choice.parameter(name).is_none()));
    if legacy { Answer::Legacy } else { Answer::NotAcceptable }
}

fn quality(choice: &MediaRange<'_>) -> f64 {
    choice.parameter("q").and_then(|q| q.parse::<f64>().ok()).unwrap_or(1.0)
}

/// The encoding a choice's media type selects: one served, or a wildcard (the first served).
fn format_of(choice: &MediaRange<'_>) -> Option<Format> {
    if choice.media_type == "*/*" || choice.media_type == "application/*" {
        return Some(Format::Json);
    }
    Format::ALL.iter().find(|(_, media_type)| *media_type == choice.media_type).map(|(format, _)| *format)
}

/// kube-apiserver's 406 for discovery: the media types its discovery codecs offer.
pub(crate) fn not_acceptable() -> Response {
    ApiError::new(406, "NotAcceptable", "only the following media types are accepted: application/json, application/yaml, application/vnd.kubernetes.protobuf").into_response()
}

/// `apidiscovery.k8s.io/v2` `APIGroupDiscoveryList`, its fields in Go's order.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GroupList {
    kind: &'static str,
    api_version: String,
    metadata: serde_json::Map<String, Value>,
    items: Vec<GroupDiscovery>,
}

#[derive(Serialize)]
struct GroupDiscovery {
    metadata: GroupMeta,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    versions: Vec<VersionDiscovery>,
}

/// The `ObjectMeta` of a group: its name (none for the core group), and the zero
/// `creationTimestamp` Go writes as `null`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GroupMeta {
    #[serde(skip_serializing_if = "String::is_empty")]
    name: String,
    creation_timestamp: Option<String>,
}

#[derive(Serialize)]
struct VersionDiscovery {
    version: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    resources: Vec<ResourceDiscovery>,
    freshness: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ResourceDiscovery {
    resource: String,
    response_kind: Option<GroupVersionKind>,
    scope: &'static str,
    singular_resource: String,
    verbs: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    short_names: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    categories: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    subresources: Vec<SubresourceDiscovery>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SubresourceDiscovery {
    subresource: String,
    response_kind: Option<GroupVersionKind>,
    verbs: Vec<String>,
}

#[derive(Serialize)]
struct GroupVersionKind {
    group: String,
    version: String,
    kind: String,
}

/// The core group alone, as `/api` serves it.
pub(crate) fn core(snapshot: &Snapshot, format: Format, headers: &HeaderMap) -> Response {
    let versions: Vec<&str> = group_versions(snapshot).into_iter().filter(|(group, _)| group.is_empty()).map(|(_, version)| version).collect();
    respond(&list(vec![group(snapshot, "", &versions)]), format, headers)
}

/// Every named group, in the order and with the versions (the preferred first) of `/apis`.
pub(crate) fn named(snapshot: &Snapshot, format: Format, headers: &HeaderMap) -> Response {
    let items = groups(snapshot).into_iter().map(|(name, versions)| group(snapshot, name, &versions)).collect();
    respond(&list(items), format, headers)
}

fn list(items: Vec<GroupDiscovery>) -> GroupList {
    GroupList { kind: KIND, api_version: format!("{GROUP}/{VERSION}"), metadata: serde_json::Map::new(), items }
}

fn group(snapshot: &Snapshot, name: &str, versions: &[&str]) -> GroupDiscovery {
    let versions = versions
        .iter()
        .map(|version| {
            let document = resource_list_document(snapshot, name, version).unwrap_or(Value::Null);
            VersionDiscovery { version: version.to_string(), resources: resources(name, version, &document), freshness: "Current" }
        })
        .collect();
    GroupDiscovery { metadata: GroupMeta { name: name.to_string(), creation_timestamp: None }, versions }
}

/// A legacy `APIResourceList`'s entries as aggregated resources: `plural/sub` entries become
/// the subresources of `plural`, each kind named with its group and version (the entry's own
/// when it has one, as `deployments/scale` answers `autoscaling/v1` `Scale`).
fn resources(group: &str, version: &str, document: &Value) -> Vec<ResourceDiscovery> {
    let text = |entry: &Value, field: &str| entry.get(field).and_then(Value::as_str).unwrap_or_default().to_string();
    let strings = |entry: &Value, field: &str| -> Vec<String> {
        entry.get(field).and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).map(str::to_string).collect()
    };
    let kind_of = |entry: &Value| {
        let own = |field: &str| entry.get(field).and_then(Value::as_str).map(str::to_string);
        Some(GroupVersionKind { group: own("group").unwrap_or_else(|| group.to_string()), version: own("version").unwrap_or_else(|| version.to_string()), kind: text(entry, "kind") })
    };
    let entries = document.get("resources").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    let mut resources: Vec<ResourceDiscovery> = Vec::new();
    for entry in entries {
        let name = text(entry, "name");
        match name.split_once('/') {
            None => resources.push(ResourceDiscovery {
                response_kind: kind_of(entry),
                scope: if entry.get("namespaced").and_then(Value::as_bool).unwrap_or_default() { "Namespaced" } else { "Cluster" },
                singular_resource: text(entry, "singularName"),
                verbs: strings(entry, "verbs"),
                short_names: strings(entry, "shortNames"),
                categories: strings(entry, "categories"),
                subresources: Vec::new(),
                resource: name,
            }),
            Some((parent, subresource)) => {
                // Legacy lists name a subresource after its resource; one without it is dropped,
                // as kube-apiserver never lists such a thing.
                if let Some(parent) = resources.iter_mut().find(|resource| resource.resource == parent) {
                    parent.subresources.push(SubresourceDiscovery { subresource: subresource.to_string(), response_kind: kind_of(entry), verbs: strings(entry, "verbs") });
                }
            }
        }
    }
    resources
}

/// The document in `format`, with kube-apiserver's caching headers: an ETag (SHA-512 of the JSON
/// form, whatever the encoding, as `calculateETag`), `304 Not Modified` when `If-None-Match`
/// names it, and `Vary: Accept` since the header decides between this and the legacy document.
fn respond(document: &GroupList, format: Format, headers: &HeaderMap) -> Response {
    let json = match serde_json::to_vec(document) {
        Ok(json) => json,
        Err(err) => return ApiError::internal(format!("cannot encode the discovery document: {err}")).into_response(),
    };
    let digest = ring::digest::digest(&ring::digest::SHA512, &json);
    let etag = format!("\"{}\"", digest.as_ref().iter().map(|byte| format!("{byte:02X}")).collect::<String>());
    let mut response = if headers.get(header::IF_NONE_MATCH).and_then(|value| value.to_str().ok()) == Some(etag.as_str()) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let body = match format {
            Format::Json => Ok(json),
            Format::Yaml => serde_yaml_ng::to_string(document).map(String::into_bytes).map_err(|err| err.to_string()),
            Format::Protobuf => Ok(encode_protobuf(document)),
        };
        match body {
            Ok(body) => ([(header::CONTENT_TYPE, format.content_type())], body).into_response(),
            Err(err) => return ApiError::internal(format!("cannot encode the discovery document: {err}")).into_response(),
        }
    };
    let response_headers = response.headers_mut();
    if let Ok(etag) = HeaderValue::from_str(&etag) {
        response_headers.insert(header::ETAG, etag);
    }
    response_headers.insert(header::VARY, HeaderValue::from_static("Accept"));
    response_headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public"));
    response
}

/// The document in Kubernetes' protobuf envelope: `k8s\0`, then a `runtime.Unknown` naming the
/// type and holding the list's message, numbered as `k8s.io/api/apidiscovery/v2/generated.proto`.
fn encode_protobuf(document: &GroupList) -> Vec<u8> {
    let mut list = Message::default();
    list.message(1, Message::default());
    for item in &document.items {
        let mut group = Message::default();
        let mut metadata = Message::default();
        metadata.string(1, &item.metadata.name);
        group.message(1, metadata);
        for version in &item.versions {
            let mut entry = Message::default();
            entry.string(1, &version.version);
            for resource in &version.resources {
                entry.message(2, resource_message(resource));
            }
            entry.string(3, version.freshness);
            group.message(2, entry);
        }
        list.message(2, group);
    }
    let mut type_meta = Message::default();
    type_meta.string(1, &document.api_version);
    type_meta.string(2, document.kind);
    let mut unknown = Message::default();
    unknown.message(1, type_meta);
    unknown.bytes(2, &list.into_bytes());
    let mut body = b"k8s\0".to_vec();
    body.extend(unknown.into_bytes());
    body
}

fn resource_message(resource: &ResourceDiscovery) -> Message {
    let mut message = Message::default();
    message.string(1, &resource.resource);
    if let Some(kind) = &resource.response_kind {
        message.message(2, kind_message(kind));
    }
    message.string(3, resource.scope);
    message.string(4, &resource.singular_resource);
    repeated(&mut message, 5, &resource.verbs);
    repeated(&mut message, 6, &resource.short_names);
    repeated(&mut message, 7, &resource.categories);
    for subresource in &resource.subresources {
        let mut entry = Message::default();
        entry.string(1, &subresource.subresource);
        if let Some(kind) = &subresource.response_kind {
            entry.message(2, kind_message(kind));
        }
        repeated(&mut entry, 4, &subresource.verbs);
        message.message(8, entry);
    }
    message
}

fn kind_message(kind: &GroupVersionKind) -> Message {
    let mut message = Message::default();
    message.string(1, &kind.group);
    message.string(2, &kind.version);
    message.string(3, &kind.kind);
    message
}

/// A repeated string field: every element written, empty ones included.
fn repeated(message: &mut Message, field: u32, values: &[String]) {
    for value in values {
        message.bytes(field, value.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, HeaderValue::from_str(value).unwrap_or_else(|err| panic!("{value}: {err}")));
        headers
    }

    #[test]
    fn accept_headers_are_negotiated_as_kube_apiserver_1_33_does() {
        let v2 = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";
        let v2beta1 = "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList";
        let protobuf = "application/vnd.kubernetes.protobuf;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";
        let cases = [
            (format!("{v2},{v2beta1},application/json"), Answer::Aggregated(Format::Json)),
            (format!("{protobuf},{v2},application/json"), Answer::Aggregated(Format::Protobuf)),
            (format!("{v2beta1},application/json"), Answer::Legacy),
            (v2beta1.to_string(), Answer::NotAcceptable),
            ("application/json".to_string(), Answer::Legacy),
            ("*/*".to_string(), Answer::Legacy),
            // The aggregated choice wins wherever it stands among equals, as the wrapper only
            // looks for it; a lower quality loses to a legacy choice only for the legacy handler.
            (format!("application/json,{v2}"), Answer::Aggregated(Format::Json)),
            (format!("{protobuf};q=0.5,{v2}"), Answer::Aggregated(Format::Json)),
            ("application/yaml;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList".to_string(), Answer::Aggregated(Format::Yaml)),
            ("text/html".to_string(), Answer::NotAcceptable),
            ("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscovery".to_string(), Answer::NotAcceptable),
        ];
        for (header, expected) in cases {
            assert_eq!(negotiate(&accept(&header)), expected, "{header}");
        }
        assert_eq!(negotiate(&HeaderMap::new()), Answer::Legacy);
    }

    #[test]
    fn protobuf_is_the_kubernetes_envelope_around_the_generated_proto_fields() {
        let version = VersionDiscovery { version: "v1".into(), resources: Vec::new(), freshness: "Current" };
        let document = list(vec![GroupDiscovery { metadata: GroupMeta { name: "g".into(), creation_timestamp: None }, versions: vec![version] }]);
        let mut expected = b"k8s\0".to_vec();
        // runtime.Unknown: typeMeta (1) {apiVersion (1), kind (2)}, raw (2).
        expected.extend([0x0a, 47, 0x0a, 22]);
        expected.extend(b"apidiscovery.k8s.io/v2");
        expected.extend([0x12, 21]);
        expected.extend(b"APIGroupDiscoveryList");
        // APIGroupDiscoveryList: metadata (1), items (2) {metadata (1) {name (1)}, versions (2)
        // {version (1), freshness (3)}}.
        expected.extend([0x12, 24, 0x0a, 0, 0x12, 20, 0x0a, 3, 0x0a, 1, b'g', 0x12, 13, 0x0a, 2, b'v', b'1', 0x1a, 7]);
        expected.extend(b"Current");
        assert_eq!(encode_protobuf(&document), expected);
    }

    #[test]
    fn legacy_entries_become_resources_with_their_subresources() {
        let document = serde_json::json!({"resources": [
            {"name": "deployments", "singularName": "deployment", "namespaced": true, "kind": "Deployment", "verbs": ["get", "list"], "shortNames": ["deploy"], "categories": ["all"]},
            {"name": "deployments/scale", "singularName": "", "namespaced": true, "kind": "Scale", "group": "autoscaling", "version": "v1", "verbs": ["get", "patch", "update"]},
            {"name": "deployments/status", "singularName": "", "namespaced": true, "kind": "Deployment", "verbs": ["get"]},
            {"name": "nodes", "singularName": "node", "namespaced": false, "kind": "Node", "verbs": ["get"]},
        ]});
        let resources = resources("apps", "v1", &document);
        let written = serde_json::to_value(&resources).unwrap_or_default();
        assert_eq!(written, serde_json::json!([
            {"resource": "deployments", "responseKind": {"group": "apps", "version": "v1", "kind": "Deployment"}, "scope": "Namespaced", "singularResource": "deployment",
             "verbs": ["get", "list"], "shortNames": ["deploy"], "categories": ["all"], "subresources": [
                {"subresource": "scale", "responseKind": {"group": "autoscaling", "version": "v1", "kind": "Scale"}, "verbs": ["get", "patch", "update"]},
                {"subresource": "status", "responseKind": {"group": "apps", "version": "v1", "kind": "Deployment"}, "verbs": ["get"]},
            ]},
            {"resource": "nodes", "responseKind": {"group": "apps", "version": "v1", "kind": "Node"}, "scope": "Cluster", "singularResource": "node", "verbs": ["get"]},
        ]));
    }
}
