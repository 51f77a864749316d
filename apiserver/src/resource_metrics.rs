//! `metrics.k8s.io/v1beta1`, which metrics-server serves on Kubernetes: NodeMetrics and
//! PodMetrics built from the Summary API of each node's kubelet (asked at request time; the
//! kubelets keep the samples). What `kubectl top` reads.

use std::collections::HashMap;
use std::time::Duration;

use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::errors::ApiError;
use crate::request::{Parsed, RequestInfo};
use crate::rest::{self, Params, Target};
use crate::state::Api;

pub const GROUP: &str = "metrics.k8s.io";
pub const VERSION: &str = "v1beta1";
const GROUP_VERSION: &str = "metrics.k8s.io/v1beta1";
/// A kubelet that does not answer within this is left out (its objects are missing, as
/// metrics-server leaves out nodes it cannot scrape).
const KUBELET_TIMEOUT: Duration = Duration::from_secs(5);

/// The group's resource list for discovery.
pub fn resource_list() -> Value {
    json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": GROUP_VERSION, "resources": [
        {"name": "nodes", "singularName": "", "namespaced": false, "kind": "NodeMetrics", "verbs": ["get", "list"]},
        {"name": "pods", "singularName": "", "namespaced": true, "kind": "PodMetrics", "verbs": ["get", "list"]},
    ]})
}

/// Serves the group's resource requests, as the request's one parse names them.
pub async fn handle(api: &Api, info: &RequestInfo, request: Request) -> Response {
    let params = match Parsed::from_extensions(&request) {
        Ok(parsed) => parsed.params,
        Err(err) => return ApiError::bad_request(err.to_string()).into_response(),
    };
    let parts: Vec<&str> = info.parts.iter().map(String::as_str).collect();
    let namespace = Some(info.namespace.as_str()).filter(|namespace| !namespace.is_empty());
    let result = match (info.verb.as_str(), namespace, parts.as_slice()) {
        ("list", None, ["nodes"]) => nodes(api, &params, None).await,
        ("get", None, ["nodes", name]) => nodes(api, &params, Some(name)).await,
        ("list", _, ["pods"]) => pods(api, &params, namespace, None).await,
        ("get", Some(namespace), ["pods", name]) => pods(api, &params, Some(namespace), Some(name)).await,
        ("get" | "list" | "watch", _, _) => Err(ApiError::path_not_found()),
        _ => Err(ApiError::method_not_allowed(format!("the server does not allow this method on the requested resource ({})", request.method()))),
    };
    result.map_or_else(IntoResponse::into_response, |value| rest::json_response(StatusCode::OK, &value))
}

/// The objects of `plural` (core v1) that the request's selectors pick, in `namespace`.
async fn selected(api: &Api, plural: &str, namespace: Option<&str>, params: &Params) -> Result<Vec<Value>, ApiError> {
    let resource = api.registry.find("", "v1", plural).ok_or_else(|| ApiError::internal(format!("{plural} are not served")))?;
    let target = Target { resource, namespace: namespace.map(str::to_string), name: None, subresource: None };
    rest::all_selected(api, &target, params).await
}

/// The most of a kubelet's Summary read (a few KiB per pod).
const SUMMARY_LIMIT: usize = 64 * 1024 * 1024;

/// The Summary API of the kubelets of `nodes` (by name), those that answered.
async fn summaries(api: &Api, nodes: impl IntoIterator<Item = String>) -> HashMap<String, Value> {
    let asks = nodes.into_iter().map(|node| async move {
        let address = rest::kubelet_address(api, &node).await.ok()?;
        let asked = async {
            let answer = common::upgrade::get(&api.kubelet, &address, "/stats/summary").await.ok()?;
            if !answer.status().is_success() {
                return None;
            }
            let body = axum::body::to_bytes(axum::body::Body::new(answer.into_body()), SUMMARY_LIMIT).await.ok()?;
            serde_json::from_slice::<Value>(&body).ok()
        };
        let summary = tokio::time::timeout(KUBELET_TIMEOUT, asked).await.ok()??;
        Some((node, summary))
    });
    futures::future::join_all(asks).await.into_iter().flatten().collect()
}

fn metadata(object: &Value, now: &str) -> Value {
    let mut metadata = json!({"name": object["metadata"]["name"], "creationTimestamp": now});
    if let Some(namespace) = object["metadata"]["namespace"].as_str() {
        metadata["namespace"] = json!(namespace);
    }
    if let Some(labels) = object["metadata"].get("labels") {
        metadata["labels"] = labels.clone();
    }
    metadata
}

/// CPU in nanocores and memory in bytes, as metrics-server writes them.
fn usage(cpu: &Value, memory: &Value) -> Option<Value> {
    let nanocores = cpu["usageNanoCores"].as_u64()?;
    let bytes = memory["workingSetBytes"].as_u64()?;
    let memory = if bytes % 1024 == 0 { format!("{}Ki", bytes / 1024) } else { bytes.to_string() };
    Some(json!({"cpu": format!("{nanocores}n"), "memory": memory}))
}

fn window() -> String {
    format!("{}s", common::RESOURCE_USAGE_WINDOW.as_secs())
}

async fn nodes(api: &Api, params: &Params, name: Option<&str>) -> Result<Value, ApiError> {
    let mut nodes = selected(api, "nodes", None, params).await?;
    if let Some(name) = name {
        nodes.retain(|node| node["metadata"]["name"] == name);
    }
    let names = nodes.iter().filter_map(|node| node["metadata"]["name"].as_str().map(str::to_string));
    let summaries = summaries(api, names).await;
    let now = jiff::Timestamp::now().to_string();
    let mut items: Vec<Value> = nodes
        .iter()
        .filter_map(|node| {
            let summary = &summaries.get(node["metadata"]["name"].as_str()?)?["node"];
            let usage = usage(&summary["cpu"], &summary["memory"])?;
            Some(json!({"metadata": metadata(node, &now), "timestamp": summary["cpu"]["time"], "window": window(), "usage": usage}))
        })
        .collect();
    items.sort_by(|a, b| a["metadata"]["name"].as_str().cmp(&b["metadata"]["name"].as_str()));
    match name {
        Some(name) => single(items, "NodeMetrics", &format!("nodemetrics.metrics.k8s.io {name:?} not found")),
        None => Ok(json!({"kind": "NodeMetricsList", "apiVersion": GROUP_VERSION, "metadata": {}, "items": items})),
    }
}

async fn pods(api: &Api, params: &Params, namespace: Option<&str>, name: Option<&str>) -> Result<Value, ApiError> {
    let mut pods = selected(api, "pods", namespace, params).await?;
    if let Some(name) = name {
        pods.retain(|pod| pod["metadata"]["name"] == name);
    }
    pods.retain(|pod| pod["status"]["phase"] == "Running");
    let mut nodes: Vec<String> = pods.iter().filter_map(|pod| pod["spec"]["nodeName"].as_str().map(str::to_string)).collect();
    nodes.sort();
    nodes.dedup();
    let summaries = summaries(api, nodes).await;
    let by_uid: HashMap<&str, &Value> = summaries
        .values()
        .flat_map(|summary| summary["pods"].as_array().into_iter().flatten())
        .filter_map(|pod| Some((pod["podRef"]["uid"].as_str()?, pod)))
        .collect();
    let now = jiff::Timestamp::now().to_string();
    let mut items: Vec<Value> = pods
        .iter()
        .filter_map(|pod| {
            let stats = by_uid.get(pod["metadata"]["uid"].as_str()?)?;
            let containers: Option<Vec<Value>> = stats["containers"]
                .as_array()?
                .iter()
                .map(|container| Some(json!({"name": container["name"], "usage": usage(&container["cpu"], &container["memory"])?})))
                .collect();
            let containers = containers.filter(|containers| !containers.is_empty())?;
            let timestamp = stats["containers"][0]["cpu"]["time"].clone();
            Some(json!({"metadata": metadata(pod, &now), "timestamp": timestamp, "window": window(), "containers": containers}))
        })
        .collect();
    items.sort_by(|a, b| {
        let key = |item: &Value| (item["metadata"]["namespace"].as_str().unwrap_or_default().to_string(), item["metadata"]["name"].as_str().unwrap_or_default().to_string());
        key(a).cmp(&key(b))
    });
    match name {
        Some(name) => {
            let shown = format!("{}/{name}", namespace.unwrap_or_default());
            single(items, "PodMetrics", &format!("podmetrics.metrics.k8s.io {shown:?} not found"))
        }
        None => Ok(json!({"kind": "PodMetricsList", "apiVersion": GROUP_VERSION, "metadata": {}, "items": items})),
    }
}

fn single(items: Vec<Value>, kind: &str, missing: &str) -> Result<Value, ApiError> {
    let mut item = items.into_iter().next().ok_or_else(|| ApiError::new(404, "NotFound", missing))?;
    item["kind"] = json!(kind);
    item["apiVersion"] = json!(GROUP_VERSION);
    Ok(item)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_is_written_as_metrics_server_writes_it() {
        let cpu = json!({"usageNanoCores": 7_338_891});
        assert_eq!(usage(&cpu, &json!({"workingSetBytes": 14_868_480})), Some(json!({"cpu": "7338891n", "memory": "14520Ki"})));
        assert_eq!(usage(&cpu, &json!({"workingSetBytes": 14_868_481})), Some(json!({"cpu": "7338891n", "memory": "14868481"})));
        assert_eq!(usage(&json!({}), &json!({"workingSetBytes": 1})), None, "no sample yet, no object");
    }
}
