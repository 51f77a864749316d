//! `pods/log`: checked here as kube-apiserver checks it (the pod, its node, the container), then
//! streamed from the kubelet of the pod's node, which reads the container's log files.

use axum::body::Body;
use axum::http::{StatusCode, header};
use axum::response::Response;
use serde_json::Value;

use common::upgrade;

use super::{Api, Params, Target, read};
use crate::errors::ApiError;

/// The kubelet's port when its Node does not say (`status.daemonEndpoints.kubeletEndpoint`).
const DEFAULT_KUBELET_PORT: u64 = 10250;

/// Boolean query parameters of `pods/log` for the kubelet's `containerLogs`, passed on as
/// `true` or `false` whatever form the client wrote (the Python client before 37 sends `True`).
const PASSED_ON_FLAGS: [&str; 3] = ["follow", "previous", "timestamps"];
/// Integer query parameters of `pods/log`, checked here and passed on as they are.
const PASSED_ON_NUMBERS: [&str; 3] = ["tailLines", "sinceSeconds", "limitBytes"];

pub async fn get(api: &Api, target: &Target, params: &Params) -> Result<Response, ApiError> {
    let name = target.name.as_deref().unwrap_or_default();
    let namespace = target.namespace.as_deref().unwrap_or_default();
    let pod = read::fetch(api, target, name).await?;
    let container = container(&pod, name, params.get("container"))?;
    for number in PASSED_ON_NUMBERS {
        if params.number(number)?.is_some_and(|value| value < 0) {
            return Err(ApiError::bad_request(format!("{number} must be a non-negative integer")));
        }
    }
    let node_name = pod["spec"]["nodeName"].as_str().filter(|node| !node.is_empty()).ok_or_else(|| {
        ApiError::bad_request(format!("pod {name} does not have a host assigned"))
    })?;
    let address = kubelet_address(api, node_name).await?;

    let flags = PASSED_ON_FLAGS.iter().filter(|key| params.get(key).is_some()).map(|key| format!("{key}={}", params.flag(key)));
    let numbers = PASSED_ON_NUMBERS.iter().filter_map(|key| params.get(key).filter(|value| !value.is_empty()).map(|value| format!("{key}={}", encode(value))));
    let mut query: Vec<String> = flags.chain(numbers).collect();
    if let Some(since) = params.get("sinceTime").filter(|since| !since.is_empty()) {
        query.push(format!("sinceTime={}", encode(since)));
    }
    let path = format!("/containerLogs/{namespace}/{name}/{container}?{}", query.join("&"));
    let answer = upgrade::get(&api.kubelet, &address, &path)
        .await
        .map_err(|err| ApiError::internal(format!("Get \"{}://{address}{path}\": {}", api.kubelet.scheme(), error_chain(&err))))?;
    if !answer.status().is_success() {
        let code = answer.status();
        let body = axum::body::to_bytes(Body::new(answer.into_body()), REFUSAL_LIMIT).await.unwrap_or_default();
        return Err(kubelet_error(code, &String::from_utf8_lossy(&body)));
    }
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "text/plain")
        .body(Body::new(answer.into_body()))
        .map_err(|err| ApiError::internal(err.to_string()))
}

/// How much of a kubelet's refusal is read (a Status or a line of text).
const REFUSAL_LIMIT: usize = 64 * 1024;

/// The container a log request names: the one asked for, the pod's default-container
/// annotation, or its only container; else the error kube-apiserver gives.
pub(super) fn container(pod: &Value, pod_name: &str, asked: Option<&str>) -> Result<String, ApiError> {
    let names = |field: &str| -> Vec<String> {
        pod["spec"][field].as_array().into_iter().flatten().filter_map(|c| c["name"].as_str().map(str::to_string)).collect()
    };
    let (containers, init, ephemeral) = (names("containers"), names("initContainers"), names("ephemeralContainers"));
    if let Some(asked) = asked.filter(|asked| !asked.is_empty()) {
        if containers.iter().chain(&init).chain(&ephemeral).any(|name| name == asked) {
            return Ok(asked.to_string());
        }
        let mut message = format!("container {asked} is not valid for pod {pod_name}");
        if !init.is_empty() || !ephemeral.is_empty() {
            message = format!("{message}, choose one of: [{}] or one of the init containers: [{}]", containers.join(" "), init.join(" "));
        }
        return Err(ApiError::bad_request(message));
    }
    if let Some(default) = pod["metadata"]["annotations"]["kubectl.kubernetes.io/default-container"].as_str() {
        if containers.iter().any(|name| name == default) {
            return Ok(default.to_string());
        }
    }
    match containers.as_slice() {
        [only] => Ok(only.clone()),
        _ => Err(ApiError::bad_request(format!(
            "a container name must be specified for pod {pod_name}, choose one of: [{}]",
            containers.join(" ")
        ))),
    }
}

/// Where a node's kubelet listens (`host:port`): its InternalIP (else its Hostname) and its
/// reported port.
pub async fn kubelet_address(api: &Api, node_name: &str) -> Result<String, ApiError> {
    let nodes = api.registry.find("", "v1", "nodes").ok_or_else(|| ApiError::internal("nodes are not served"))?;
    let target = Target { resource: nodes, namespace: None, name: None, subresource: None };
    let node = read::fetch(api, &target, node_name).await?;
    let addresses = node["status"]["addresses"].as_array().cloned().unwrap_or_default();
    let address_of = |kind: &str| addresses.iter().find(|a| a["type"] == kind).and_then(|a| a["address"].as_str()).map(str::to_string);
    let host = address_of("InternalIP")
        .or_else(|| address_of("Hostname"))
        .ok_or_else(|| ApiError::unavailable(format!("node {node_name:?} reports no address for its kubelet")))?;
    let port = node["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"].as_u64().filter(|port| *port > 0).unwrap_or(DEFAULT_KUBELET_PORT);
    let host = if host.contains(':') { format!("[{host}]") } else { host };
    Ok(format!("{host}:{port}"))
}

/// A kubelet's refusal as the client should see it: its Status when it sent one, else its text.
pub(super) fn kubelet_error(code: axum::http::StatusCode, text: &str) -> ApiError {
    let status: Option<Value> = serde_json::from_str(text).ok();
    let message = status
        .as_ref()
        .and_then(|status| status["message"].as_str())
        .map(str::to_string)
        .unwrap_or_else(|| text.trim().to_string());
    if code.is_server_error() { ApiError::internal(message) } else { ApiError::bad_request(message) }
}

/// The whole cause of a failed request ("connection refused" sits a few sources down).
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text = format!("{text}: {cause}");
        source = cause.source();
    }
    text
}

fn encode(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_container_is_named_defaulted_or_refused() {
        let pod = json!({"spec": {"containers": [{"name": "app"}, {"name": "sidecar"}], "initContainers": [{"name": "setup"}]}});
        assert_eq!(container(&pod, "web", Some("sidecar")).unwrap(), "sidecar");
        assert_eq!(container(&pod, "web", Some("setup")).unwrap(), "setup");
        let missing = container(&pod, "web", None).unwrap_err();
        assert_eq!((missing.code, missing.message.as_str()), (400, "a container name must be specified for pod web, choose one of: [app sidecar]"));
        let wrong = container(&pod, "web", Some("db")).unwrap_err();
        assert_eq!(wrong.message, "container db is not valid for pod web, choose one of: [app sidecar] or one of the init containers: [setup]");
        let annotated = json!({"metadata": {"annotations": {"kubectl.kubernetes.io/default-container": "sidecar"}}, "spec": pod["spec"]});
        assert_eq!(container(&annotated, "web", None).unwrap(), "sidecar");
        let single = json!({"spec": {"containers": [{"name": "only"}]}});
        assert_eq!(container(&single, "one", None).unwrap(), "only");
    }

    #[test]
    fn kubelet_refusals_keep_their_message() {
        let status = r#"{"kind":"Status","message":"container \"app\" in pod \"web\" is waiting to start: ContainerCreating","code":400}"#;
        let err = kubelet_error(StatusCode::BAD_REQUEST, status);
        assert_eq!((err.code, err.message.as_str()), (400, "container \"app\" in pod \"web\" is waiting to start: ContainerCreating"));
        assert_eq!(kubelet_error(StatusCode::INTERNAL_SERVER_ERROR, "boom\n").message, "Internal error occurred: boom");
    }
}
