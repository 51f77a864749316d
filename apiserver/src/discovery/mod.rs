//! API discovery as kubectl and client-go read it: `/api`, `/apis`, the resource list of each
//! group version, and `/version`: the legacy (unaggregated) documents here, and `/api` and
//! `/apis` as one aggregated document each in [`aggregated`], for the clients that ask for it
//! (kubectl and client-go first of all).

mod aggregated;

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::authentication_reviews;
use crate::errors::ApiError;
use crate::resource_metrics;
use crate::registry::Snapshot;
use crate::resources::ResourceType;
use crate::state::Api;

const VERBS: &[&str] = &["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];

pub async fn api_versions(State(api): State<Arc<Api>>, headers: HeaderMap) -> Response {
    match aggregated::negotiate(&headers) {
        aggregated::Answer::Aggregated(format) => return aggregated::core(&api.registry.snapshot(), format, &headers),
        aggregated::Answer::NotAcceptable => return aggregated::not_acceptable(),
        aggregated::Answer::Legacy => {}
    }
    ok(json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": ""}],
    }))
}

/// Every group version served: the stored resources', and the resource metrics.
pub(crate) fn group_versions(snapshot: &Snapshot) -> Vec<(&str, &str)> {
    let mut all = snapshot.group_versions();
    all.push(("authorization.k8s.io", "v1"));
    all.push((authentication_reviews::GROUP, authentication_reviews::VERSION));
    all.push((resource_metrics::GROUP, resource_metrics::VERSION));
    all
}

pub async fn api_groups(State(api): State<Arc<Api>>, headers: HeaderMap) -> Response {
    let snapshot = api.registry.snapshot();
    match aggregated::negotiate(&headers) {
        aggregated::Answer::Aggregated(format) => return aggregated::named(&snapshot, format, &headers),
        aggregated::Answer::NotAcceptable => return aggregated::not_acceptable(),
        aggregated::Answer::Legacy => {}
    }
    let groups: Vec<Value> = groups(&snapshot).into_iter().map(|(group, versions)| group_json(group, &versions)).collect();
    ok(json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}))
}

/// The named groups and their served versions, the preferred first: by Kubernetes' version
/// priority (GA, then beta, then alpha, each newest first), as kube-apiserver orders a group's
/// versions (a CRD's several versions among them).
fn groups(snapshot: &Snapshot) -> Vec<(&str, Vec<&str>)> {
    let mut groups: Vec<(&str, Vec<&str>)> = Vec::new();
    for (group, version) in group_versions(snapshot).into_iter().filter(|(group, _)| !group.is_empty()) {
        match groups.iter_mut().find(|(name, _)| *name == group) {
            Some((_, versions)) => versions.push(version),
            None => groups.push((group, vec![version])),
        }
    }
    for (_, versions) in &mut groups {
        versions.sort_by_key(|version| std::cmp::Reverse(version_priority(version)));
    }
    groups
}

/// `version.CompareKubeAwareVersionStrings`: `v2` > `v1` > `v1beta2` > `v1beta1` > `v1alpha1`
/// > anything else (which sorts by name, last).
fn version_priority(version: &str) -> (u8, u64, u64, std::cmp::Reverse<String>) {
    let parse = |text: &str| text.parse::<u64>().ok();
    let Some(rest) = version.strip_prefix('v') else { return (0, 0, 0, std::cmp::Reverse(version.to_string())) };
    let split = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
    let Some(major) = parse(&rest[..split]) else { return (0, 0, 0, std::cmp::Reverse(version.to_string())) };
    let tail = &rest[split..];
    let none = std::cmp::Reverse(String::new());
    if tail.is_empty() {
        (3, major, 0, none)
    } else if let Some(minor) = tail.strip_prefix("beta").and_then(parse) {
        (2, major, minor, none)
    } else if let Some(minor) = tail.strip_prefix("alpha").and_then(parse) {
        (1, major, minor, none)
    } else {
        (0, 0, 0, std::cmp::Reverse(version.to_string()))
    }
}

fn group_json(group: &str, versions: &[&str]) -> Value {
    let entries: Vec<Value> = versions.iter().map(|version| json!({"groupVersion": format!("{group}/{version}"), "version": version})).collect();
    let preferred = entries.first().cloned().unwrap_or(Value::Null);
    json!({"name": group, "versions": entries, "preferredVersion": preferred})
}

pub async fn api_group(State(api): State<Arc<Api>>, Path(group): Path<String>) -> Response {
    let snapshot = api.registry.snapshot();
    match groups(&snapshot).into_iter().find(|(name, _)| *name == group) {
        Some((group, versions)) => {
            let mut document = group_json(group, &versions);
            document["kind"] = json!("APIGroup");
            document["apiVersion"] = json!("v1");
            ok(document)
        }
        None => ApiError::path_not_found().into_response(),
    }
}

pub async fn core_resources(State(api): State<Arc<Api>>) -> Response {
    resource_list(&api.registry.snapshot(), "", "v1")
}

pub async fn group_resources(State(api): State<Arc<Api>>, Path((group, version)): Path<(String, String)>) -> Response {
    resource_list(&api.registry.snapshot(), &group, &version)
}

fn resource_list(snapshot: &Snapshot, group: &str, version: &str) -> Response {
    match resource_list_document(snapshot, group, version) {
        Some(document) => ok(document),
        None => ApiError::path_not_found().into_response(),
    }
}

/// The `APIResourceList` of one group version, or `None` when it is not served. OpenAPI
/// documents are written from it too, so that both always name the same resources.
pub(crate) fn resource_list_document(snapshot: &Snapshot, group: &str, version: &str) -> Option<Value> {
    if (group, version) == (resource_metrics::GROUP, resource_metrics::VERSION) {
        return Some(resource_metrics::resource_list());
    }
    if (group, version) == ("authorization.k8s.io", "v1") {
        return Some(crate::authorization_reviews::review_resources());
    }
    if (group, version) == (authentication_reviews::GROUP, authentication_reviews::VERSION) {
        return Some(authentication_reviews::resources());
    }
    let served: Vec<&Arc<crate::registry::Kind>> = snapshot.of_group_version(group, version).collect();
    if served.is_empty() {
        return None;
    }
    let mut entries = Vec::new();
    for resource in served {
        entries.push(json!({
            "name": resource.plural,
            "singularName": resource.singular,
            "namespaced": resource.namespaced,
            "kind": resource.kind,
            "verbs": VERBS,
            "shortNames": resource.short_names.iter().collect::<Vec<_>>(),
            "categories": resource.categories.iter().collect::<Vec<_>>(),
        }));
        for subresource in resource.subresources.iter() {
            entries.push(subresource_json(resource, subresource));
        }
    }
    let group_version = if group.is_empty() { version.to_string() } else { format!("{group}/{version}") };
    Some(json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": entries}))
}

fn subresource_json(resource: &ResourceType, subresource: &str) -> Value {
    let name = format!("{}/{subresource}", resource.plural);
    let (kind, verbs, group_version): (&str, &[&str], Option<(&str, &str)>) = match subresource {
        name if resource.status_writer(name).is_some() => (&resource.kind, &["get", "patch", "update"], None),
        "scale" => ("Scale", &["get", "patch", "update"], Some(("autoscaling", "v1"))),
        "binding" => ("Binding", &["create"], None),
        "eviction" => ("Eviction", &["create"], Some(("policy", "v1"))),
        "log" => ("Pod", &["get"], None),
        "exec" => ("PodExecOptions", &["create", "get"], None),
        "attach" => ("PodAttachOptions", &["create", "get"], None),
        "portforward" => ("PodPortForwardOptions", &["create", "get"], None),
        "finalize" => (&resource.kind, &["update"], None),
        "token" => ("TokenRequest", &["create"], Some(("authentication.k8s.io", "v1"))),
        _ => (&resource.kind, &["get"], None),
    };
    let mut entry = json!({"name": name, "singularName": "", "namespaced": resource.namespaced, "kind": kind, "verbs": verbs});
    if let Some((group, version)) = group_version {
        entry["group"] = json!(group);
        entry["version"] = json!(version);
    }
    entry
}

pub async fn version() -> Response {
    ok(json!({
        "major": "1",
        "minor": "33",
        "gitVersion": common::KUBERNETES_VERSION,
        "gitCommit": "",
        "gitTreeState": "clean",
        "buildDate": "",
        "goVersion": "",
        "compiler": "rustc",
        "platform": "linux/amd64",
    }))
}

fn ok(document: Value) -> Response {
    (StatusCode::OK, axum::Json(document)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_ordered_as_kubernetes_orders_them() {
        let mut versions = vec!["v1alpha1", "v1beta1", "foo", "v1", "v2beta3", "v10", "v2", "v1beta2", "v12alpha1", "bar"];
        versions.sort_by_key(|version| std::cmp::Reverse(version_priority(version)));
        assert_eq!(versions, ["v10", "v2", "v1", "v2beta3", "v1beta2", "v1beta1", "v12alpha1", "v1alpha1", "bar", "foo"]);
    }
}
