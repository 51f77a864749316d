//! exec, attach and port-forward, as the apiserver hands them on. For exec and attach the
//! kubelet asks the runtime (CRI Exec, Attach) for a single-use URL on containerd's streaming
//! server and connects the client to it: SPDY clients, and the WebSocket protocols containerd
//! speaks itself, pass through as bytes; WebSocket `v5.channel.k8s.io` and `v4.channel.k8s.io`,
//! which containerd (1.6) does not know, are translated to SPDY streams ([`channels`]).
//!
//! Port-forward is served here, in the pod's network namespace ([`forward`]), for SPDY,
//! kubectl's SPDY-over-WebSocket tunnel ([`tunnel`]) and the WebSocket channel protocol; other
//! protocols go to the runtime's (CRI PortForward).

mod channels;
mod forward;
mod headers;
mod spdy;
mod tunnel;
mod websocket;

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{StatusCode, header};
use axum::response::Response;
use common::upgrade::{self, Dialed, Gauge};
use hyper::upgrade::OnUpgrade;

use crate::Kubelet;
use crate::cri::api;
use crate::http::refuse;
use crate::spec;

/// What an exec or attach session carries.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Streams {
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
    pub tty: bool,
}

fn query(request: &Request) -> Vec<(String, String)> {
    form_urlencoded::parse(request.uri().query().unwrap_or_default().as_bytes()).into_owned().collect()
}

/// The kubelet's parameter names, as the apiserver sends them (`input`, `output`, `error`, `tty`).
fn streams(pairs: &[(String, String)]) -> Streams {
    let flag = |name: &str| pairs.iter().any(|(key, value)| key == name && matches!(value.as_str(), "1" | "true"));
    Streams { stdin: flag("input"), stdout: flag("output"), stderr: flag("error"), tty: flag("tty") }
}

pub async fn exec(State(kubelet): State<Arc<Kubelet>>, Path((namespace, pod, container)): Path<(String, String, String)>, request: Request) -> Response {
    let pairs = query(&request);
    let streams = streams(&pairs);
    let command: Vec<String> = pairs.iter().filter(|(key, _)| key == "command").map(|(_, value)| value.clone()).collect();
    if command.is_empty() {
        return refuse(StatusCode::BAD_REQUEST, "you must specify at least 1 command".into());
    }
    let id = match running_container(&kubelet, &namespace, &pod, &container).await {
        Ok(id) => id,
        Err(response) => return response,
    };
    let message = api::ExecRequest { container_id: id, cmd: command, tty: streams.tty, stdin: streams.stdin, stdout: streams.stdout, stderr: streams.stderr };
    match kubelet.runtime.exec(message).await {
        Ok(url) => hand_on(request, &url, Session::Command(streams), kubelet.streams.clone()).await,
        Err(err) => refuse(StatusCode::INTERNAL_SERVER_ERROR, format!("cannot exec in container \"{container}\" of pod \"{pod}\": {err}")),
    }
}

pub async fn attach(State(kubelet): State<Arc<Kubelet>>, Path((namespace, pod, container)): Path<(String, String, String)>, request: Request) -> Response {
    let streams = streams(&query(&request));
    let id = match running_container(&kubelet, &namespace, &pod, &container).await {
        Ok(id) => id,
        Err(response) => return response,
    };
    let message = api::AttachRequest { container_id: id, stdin: streams.stdin, tty: streams.tty, stdout: streams.stdout, stderr: streams.stderr };
    match kubelet.runtime.attach(message).await {
        Ok(url) => hand_on(request, &url, Session::Command(streams), kubelet.streams.clone()).await,
        Err(err) => refuse(StatusCode::INTERNAL_SERVER_ERROR, format!("cannot attach to container \"{container}\" of pod \"{pod}\": {err}")),
    }
}

pub async fn port_forward(State(kubelet): State<Arc<Kubelet>>, Path((namespace, pod)): Path<(String, String)>, request: Request) -> Response {
    let mut ports = Vec::new();
    for (_, value) in query(&request).iter().filter(|(key, _)| key == "port") {
        match value.parse::<u16>() {
            Ok(port) if port > 0 => ports.push(i32::from(port)),
            _ => return refuse(StatusCode::BAD_REQUEST, format!("invalid port {value:?}: must be between 1 and 65535, inclusive")),
        }
    }
    let sandboxes = match kubelet.runtime.list_pod_sandboxes().await {
        Ok(sandboxes) => sandboxes,
        Err(err) => return refuse(StatusCode::INTERNAL_SERVER_ERROR, format!("cannot list pod sandboxes: {err}")),
    };
    let sandbox = sandboxes.into_iter().find(|sandbox| {
        sandbox.state == api::PodSandboxState::SandboxReady as i32
            && sandbox.labels.get(spec::POD_NAMESPACE) == Some(&namespace)
            && sandbox.labels.get(spec::POD_NAME) == Some(&pod)
    });
    let Some(sandbox) = sandbox else {
        return refuse(StatusCode::NOT_FOUND, format!("pod \"{pod}\" in namespace \"{namespace}\" is not running on this node"));
    };
    if let Some(native) = forward::native(request.headers()) {
        let netns = match kubelet.runtime.pod_sandbox_netns(&sandbox.id).await {
            Ok(netns) => netns,
            Err(err) => return refuse(StatusCode::INTERNAL_SERVER_ERROR, format!("cannot find the network of pod \"{pod}\": {err}")),
        };
        let (mut parts, _) = request.into_parts();
        let Some(client) = parts.extensions.remove::<OnUpgrade>() else {
            return refuse(StatusCode::BAD_REQUEST, "the connection cannot be upgraded (HTTP/1.1 is required)".into());
        };
        let target = forward::Target { pod: format!("{namespace}/{pod}"), sandbox: sandbox.id, netns };
        let ports = ports.into_iter().filter_map(|port| u16::try_from(port).ok()).collect();
        return forward::serve(native, &parts.headers, client, target, ports, kubelet.streams.clone());
    }
    match kubelet.runtime.port_forward(&sandbox.id, ports).await {
        Ok(url) => hand_on(request, &url, Session::PortForward, kubelet.streams.clone()).await,
        Err(err) => refuse(StatusCode::INTERNAL_SERVER_ERROR, format!("cannot forward ports of pod \"{pod}\": {err}")),
    }
}

/// The newest running instance of the container.
async fn running_container(kubelet: &Kubelet, namespace: &str, pod: &str, container: &str) -> Result<String, Response> {
    let containers = kubelet
        .runtime
        .list_containers()
        .await
        .map_err(|err| refuse(StatusCode::INTERNAL_SERVER_ERROR, format!("cannot list containers: {err}")))?;
    containers
        .into_iter()
        .filter(|c| {
            c.state == api::ContainerState::ContainerRunning as i32
                && c.labels.get(spec::POD_NAMESPACE).is_some_and(|value| value == namespace)
                && c.labels.get(spec::POD_NAME).is_some_and(|value| value == pod)
                && c.labels.get(spec::CONTAINER_NAME).is_some_and(|value| value == container)
        })
        .max_by_key(|c| c.created_at)
        .map(|c| c.id)
        .ok_or_else(|| refuse(StatusCode::BAD_REQUEST, format!("container \"{container}\" in pod \"{pod}\" is not running")))
}

#[derive(Clone, Copy, Debug)]
enum Session {
    Command(Streams),
    PortForward,
}

/// Connects the client's upgrade request to the runtime's streaming `url`.
async fn hand_on(request: Request, url: &str, session: Session, gauge: Gauge) -> Response {
    let (mut parts, _) = request.into_parts();
    if !upgrade::is_upgrade(&parts.headers) {
        return refuse(StatusCode::BAD_REQUEST, "Upgrade request required".into());
    }
    let Some(client) = parts.extensions.remove::<OnUpgrade>() else {
        return refuse(StatusCode::BAD_REQUEST, "the connection cannot be upgraded (HTTP/1.1 is required)".into());
    };
    let Some((address, path)) = split_url(url) else {
        return refuse(StatusCode::INTERNAL_SERVER_ERROR, format!("the runtime gave an unusable streaming URL {url:?}"));
    };
    if upgrade::protocol(&parts.headers) == "websocket" {
        let offered = websocket::offered(&parts.headers);
        match session {
            Session::Command(streams) => {
                if let Some(version) = channels::choose(&offered) {
                    return channels::serve(&parts.headers, client, &address, &path, streams, version, gauge).await;
                }
            }
            // The port-forward protocols containerd does not speak are served in `forward`.
            Session::PortForward => {}
        }
    }
    // Everything else is containerd's to speak: SPDY, and the WebSocket protocols it knows.
    match upgrade::dial(&upgrade::Connector::default(), &address, parts.method.clone(), &path, &parts.headers).await {
        Ok(Dialed::Switched { headers, io }) => {
            tokio::spawn(upgrade::splice(client, io, gauge));
            switched(&headers)
        }
        Ok(Dialed::Refused { status, body }) => {
            let mut response = Response::new(Body::from(body));
            *response.status_mut() = status;
            response
        }
        Err(err) => refuse(StatusCode::INTERNAL_SERVER_ERROR, format!("cannot reach the runtime's streaming server: {err}")),
    }
}

/// The headers of a SPDY upgrade request for `protocol` (an `X-Stream-Protocol-Version`).
fn spdy_request(protocol: &'static str) -> axum::http::HeaderMap {
    use axum::http::HeaderValue;
    let mut headers = axum::http::HeaderMap::new();
    headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    headers.insert(header::UPGRADE, HeaderValue::from_static("SPDY/3.1"));
    headers.insert("x-stream-protocol-version", HeaderValue::from_static(protocol));
    headers
}

/// Switches the runtime's connection at `(address, path)` to SPDY `spdy_protocol`, then accepts
/// the client's WebSocket handshake with `protocol` and runs `session` on the two; a refusal
/// by the runtime is the client's answer instead.
async fn websocket_to_spdy<F, Fut>(
    headers: &axum::http::HeaderMap,
    client: OnUpgrade,
    (address, path): (&str, &str),
    protocol: &str,
    spdy_protocol: &'static str,
    gauge: Gauge,
    session: F,
) -> Response
where
    F: FnOnce(websocket::Socket, common::upgrade::Io) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let accepted = websocket::accept(headers, protocol);
    if accepted.status() != StatusCode::SWITCHING_PROTOCOLS {
        return accepted;
    }
    let io = match upgrade::dial(&upgrade::Connector::default(), address, axum::http::Method::POST, path, &spdy_request(spdy_protocol)).await {
        Ok(Dialed::Switched { io, .. }) => io,
        Ok(Dialed::Refused { status, body }) => {
            return refuse(StatusCode::INTERNAL_SERVER_ERROR, format!("the runtime refused the stream ({status}): {}", String::from_utf8_lossy(&body).trim()));
        }
        Err(err) => return refuse(StatusCode::INTERNAL_SERVER_ERROR, format!("cannot reach the runtime's streaming server: {err}")),
    };
    tokio::spawn(async move {
        let _held = gauge.hold();
        if let Some(socket) = websocket::open(client).await {
            session(socket, io).await;
        }
    });
    accepted
}

/// A 101 answer carrying `headers` (the protocol chosen).
fn switched(headers: &axum::http::HeaderMap) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    for (name, value) in headers {
        if name != header::CONTENT_LENGTH && name != header::TRANSFER_ENCODING {
            response.headers_mut().append(name, value.clone());
        }
    }
    response
}

/// `http://127.0.0.1:39915/exec/Tok3n` as (`127.0.0.1:39915`, `/exec/Tok3n`).
fn split_url(url: &str) -> Option<(String, String)> {
    let rest = url.strip_prefix("http://")?;
    let (address, path) = rest.split_once('/').unwrap_or((rest, ""));
    (!address.is_empty()).then(|| (address.to_string(), format!("/{path}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streaming_urls_split_into_address_and_path() {
        assert_eq!(split_url("http://127.0.0.1:39915/exec/Tok3n"), Some(("127.0.0.1:39915".into(), "/exec/Tok3n".into())));
        assert_eq!(split_url("http://[::1]:1/portforward/x"), Some(("[::1]:1".into(), "/portforward/x".into())));
        assert_eq!(split_url("https://127.0.0.1:1/exec/x"), None);
        assert_eq!(split_url("http:///exec"), None);
    }

    #[test]
    fn stream_flags_use_the_kubelet_names() {
        let pairs = vec![("input".to_string(), "1".to_string()), ("output".into(), "true".into()), ("tty".into(), "0".into())];
        assert_eq!(streams(&pairs), Streams { stdin: true, stdout: true, stderr: false, tty: false });
    }
}
