//! The kubelet's HTTP server: container logs for the apiserver's `pods/log`; exec, attach and
//! port-forward for its `pods/exec`, `pods/attach` and `pods/portforward`; health and metrics.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};

use crate::Kubelet;
use crate::http::refuse;
use crate::logs::{self, Options, Renderer};
use crate::spec;
use crate::stream;

pub async fn serve(kubelet: Arc<Kubelet>, listener: tokio::net::TcpListener, tls: Option<Arc<rustls::ServerConfig>>) -> std::io::Result<()> {
    let authorizer = kubelet.config.client_ca_file.is_some().then(|| {
        Arc::new(crate::authz::Authorizer::new(kubelet.config.authorization_mode, kubelet.client.clone(), kubelet.node_name.clone()))
    });
    let app = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/metrics", get(metrics))
        .route("/stats/summary", get(|State(kubelet): State<Arc<Kubelet>>| async move { axum::Json(crate::stats::summary(&kubelet)) }))
        .route("/containerLogs/{namespace}/{pod}/{container}", get(container_logs))
        .route("/exec/{namespace}/{pod}/{container}", any(stream::exec))
        .route("/attach/{namespace}/{pod}/{container}", any(stream::attach))
        .route("/portForward/{namespace}/{pod}", any(stream::port_forward))
        .with_state(kubelet);
    match tls {
        Some(config) => {
            let app = match authorizer {
                Some(authorizer) => app.layer(axum::middleware::from_fn_with_state(authorizer, crate::authz::middleware)),
                None => app,
            };
            common::tls::serve(listener, app, config, std::future::pending()).await
        }
        None => axum::serve(listener, app).await,
    }
}

async fn metrics(State(kubelet): State<Arc<Kubelet>>) -> Response {
    let text = format!(
        "# HELP kubelet_streams_open Exec, attach and port-forward sessions being relayed.\n# TYPE kubelet_streams_open gauge\nkubelet_streams_open {}\n",
        kubelet.streams.get()
    );
    (StatusCode::OK, [("content-type", "text/plain; version=0.0.4")], text).into_response()
}

fn flag(query: &HashMap<String, String>, name: &str) -> bool {
    query.get(name).is_some_and(|value| value == "true" || value == "1" || value.is_empty())
}

async fn container_logs(State(kubelet): State<Arc<Kubelet>>, Path((namespace, pod, container)): Path<(String, String, String)>, Query(query): Query<HashMap<String, String>>) -> Response {
    let number = |name: &str| query.get(name).and_then(|value| value.parse::<i64>().ok()).filter(|value| *value >= 0);
    let since = match (number("sinceSeconds"), query.get("sinceTime")) {
        (Some(seconds), _) => jiff::Timestamp::now().checked_sub(jiff::SignedDuration::from_secs(seconds)).ok(),
        (None, Some(time)) => match time.parse::<jiff::Timestamp>() {
            Ok(time) => Some(time),
            Err(err) => return refuse(StatusCode::BAD_REQUEST, format!("sinceTime {time:?}: {err}")),
        },
        (None, None) => None,
    };
    let options = Options {
        follow: flag(&query, "follow"),
        timestamps: flag(&query, "timestamps"),
        tail_lines: number("tailLines").map(|n| usize::try_from(n).unwrap_or(usize::MAX)),
        since,
        limit_bytes: number("limitBytes").map(|n| usize::try_from(n).unwrap_or(usize::MAX)),
    };
    let previous = flag(&query, "previous");
    let containers = match kubelet.runtime.list_containers().await {
        Ok(containers) => containers,
        Err(err) => return refuse(StatusCode::INTERNAL_SERVER_ERROR, format!("cannot list containers: {err}")),
    };
    let mut instances: Vec<_> = containers
        .into_iter()
        .filter(|c| {
            c.labels.get(spec::POD_NAMESPACE) == Some(&namespace) && c.labels.get(spec::POD_NAME) == Some(&pod) && c.labels.get(spec::CONTAINER_NAME) == Some(&container)
        })
        .collect();
    instances.sort_by_key(|c| std::cmp::Reverse((c.metadata.as_ref().map_or(0, |m| m.attempt), c.created_at)));
    let chosen = if previous { instances.get(1) } else { instances.first() };
    let Some(chosen) = chosen else {
        let message = if previous {
            format!("previous terminated container \"{container}\" in pod \"{pod}\" not found")
        } else {
            format!("container \"{container}\" in pod \"{pod}\" is waiting to start: ContainerCreating")
        };
        return refuse(StatusCode::BAD_REQUEST, message);
    };
    let id = chosen.id.clone();
    let pod_uid = chosen.labels.get(spec::POD_UID).cloned().unwrap_or_default();
    let status = match kubelet.runtime.container_status(&id).await {
        Ok(status) => status,
        Err(err) => return refuse(StatusCode::NOT_FOUND, format!("container \"{container}\" in pod \"{pod}\": {err}")),
    };
    let path = status.log_path.clone();
    let mut renderer = Renderer::new(options.clone());
    let (text, offset) = match logs::read_from(&path, 0).await {
        Ok(read) => read,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => (String::new(), 0),
        Err(err) => return refuse(StatusCode::INTERNAL_SERVER_ERROR, format!("cannot read the log of container \"{container}\": {err}")),
    };
    let first = renderer.render_all(&text);
    let running = status.state == crate::cri::api::ContainerState::ContainerRunning as i32;
    if !options.follow || !running || renderer.done() {
        return (StatusCode::OK, [("content-type", "text/plain")], first).into_response();
    }
    // Following: new lines as they come, until the container stops or the client goes away
    // (then the channel closes and the task ends).
    let (sender, receiver) = tokio::sync::mpsc::channel::<Vec<u8>>(16);
    tokio::spawn(async move {
        if sender.send(first).await.is_err() {
            return;
        }
        let mut offset = offset;
        let mut ticks = 0u32;
        loop {
            tokio::time::sleep(logs::FOLLOW_POLL).await;
            let stopped = if ticks % 5 == 4 {
                kubelet.runtime.container_status(&id).await.map_or(true, |status| status.state != crate::cri::api::ContainerState::ContainerRunning as i32)
            } else {
                false
            };
            ticks = ticks.wrapping_add(1);
            let Ok((text, next)) = logs::read_from(&path, offset).await else { return };
            offset = next;
            let more = renderer.render_more(&text);
            if !more.is_empty() && sender.send(more).await.is_err() {
                return;
            }
            if renderer.done() || sender.is_closed() {
                return;
            }
            if stopped {
                // The stream ends only once the pod's status says the container terminated, so
                // that a client reading the pod after the log does not see it still running.
                if !kubelet.exits.wait(&pod_uid, &id, crate::exits::REPORT_WAIT).await {
                    tracing::debug!(container = %id, "ending a followed log before the container's exit was reported");
                }
                // Whatever the runtime wrote after the last read.
                if let Ok((text, _)) = logs::read_from(&path, offset).await {
                    let more = renderer.render_more(&text);
                    if !more.is_empty() {
                        // A client gone by now has all it asked for that it could take.
                        let _ = sender.send(more).await;
                    }
                }
                return;
            }
        }
    });
    let stream = futures::stream::unfold(receiver, |mut receiver| async move { receiver.recv().await.map(|chunk| (Ok::<_, std::io::Error>(chunk), receiver)) });
    (StatusCode::OK, [("content-type", "text/plain")], Body::from_stream(stream)).into_response()
}
