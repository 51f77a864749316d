//! The audit log (`--audit-log-path`): one `audit.k8s.io/v1` Event per line, at Metadata level —
//! who asked, what, about which object, and the answer's code — never a request's or a
//! response's body, so Secret data and tokens never reach it. Every request gets a
//! `RequestReceived` event and then a `ResponseComplete` one (`ResponseStarted` for watches and
//! streams, whose answer goes on), with the same `auditID`, also sent as the `Audit-ID` header.

use std::io::Write;
use std::path::Path;
use std::sync::mpsc::{Sender, channel};

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use serde_json::{Value, json};

use crate::request::User;
use crate::request::Attributes;
use crate::request::Parsed;

/// Where events go: a thread appends them to the file, so that requests never wait on the disk.
#[derive(Clone)]
pub struct AuditLog {
    lines: Sender<String>,
}

impl AuditLog {
    /// Opens (appends to) `path`; `-` is stdout.
    pub fn open(path: &Path) -> std::io::Result<Self> {
        let mut out: Box<dyn Write + Send> = if path == Path::new("-") {
            Box::new(std::io::stdout())
        } else {
            Box::new(std::fs::OpenOptions::new().create(true).append(true).open(path)?)
        };
        let (lines, received) = channel::<String>();
        std::thread::Builder::new().name("audit-log".into()).spawn(move || {
            while let Ok(line) = received.recv() {
                if out.write_all(line.as_bytes()).and_then(|()| out.flush()).is_err() {
                    tracing::error!("cannot write the audit log");
                }
            }
        })?;
        Ok(Self { lines })
    }

    fn write(&self, event: &Value) {
        let _ = self.lines.send(format!("{event}\n"));
    }
}

fn timestamp() -> String {
    jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%S.%6fZ").to_string()
}

/// The addresses the request came through: X-Forwarded-For's, then X-Real-Ip.
fn source_ips(headers: &HeaderMap, peer: Option<String>) -> Vec<String> {
    let header = |name: &str| headers.get(name).and_then(|value| value.to_str().ok()).map(str::to_string);
    let mut ips: Vec<String> = header("x-forwarded-for").into_iter().flat_map(|list| list.split(',').map(|ip| ip.trim().to_string()).collect::<Vec<_>>()).filter(|ip| !ip.is_empty()).collect();
    ips.extend(header("x-real-ip"));
    ips.extend(peer);
    ips.dedup();
    ips
}

/// The event's request part: what is known before the handler runs.
fn received(request: &Request, id: &str, at: &str) -> Value {
    let uri = request.uri();
    // A path that cannot be parsed was answered 400 before this layer.
    let asked = Parsed::from_extensions(request).map(|parsed| Attributes::of_request(&parsed.info)).unwrap_or_default();
    let peer = request.extensions().get::<axum::extract::ConnectInfo<std::net::SocketAddr>>().map(|info| info.0.ip().to_string());
    let user = request.extensions().get::<User>().cloned().unwrap_or_else(User::unauthenticated_admin);
    let mut event = json!({
        "kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Metadata", "auditID": id, "stage": "RequestReceived",
        "requestURI": uri.to_string(),
        "verb": asked.verb,
        "user": {"username": user.name, "groups": user.groups},
        "sourceIPs": source_ips(request.headers(), peer),
    });
    if let Some(agent) = request.headers().get("user-agent").and_then(|value| value.to_str().ok()) {
        event["userAgent"] = json!(agent);
    }
    if let Some(resource) = &asked.resource {
        let mut object = json!({"resource": resource, "apiVersion": asked.version});
        for (field, value) in [("apiGroup", &asked.group), ("namespace", &asked.namespace), ("name", &asked.name), ("subresource", &asked.subresource)] {
            if !value.is_empty() {
                object[field] = json!(value);
            }
        }
        event["objectRef"] = object;
    }
    event["requestReceivedTimestamp"] = json!(at);
    event["stageTimestamp"] = json!(at);
    event
}

pub async fn middleware(State(log): State<Option<AuditLog>>, request: Request, next: Next) -> Response {
    let Some(log) = log else { return next.run(request).await };
    let id = uuid::Uuid::new_v4().to_string();
    let mut event = received(&request, &id, &timestamp());
    let long_running = Parsed::from_extensions(&request).is_ok_and(|parsed| parsed.info.is_long_running());
    log.write(&event);
    let mut response = next.run(request).await;
    let code = response.status().as_u16();
    event["stage"] = json!(if long_running { "ResponseStarted" } else { "ResponseComplete" });
    event["stageTimestamp"] = json!(timestamp());
    event["responseStatus"] = if code < 400 { json!({"metadata": {}, "code": code}) } else { json!({"metadata": {}, "status": "Failure", "code": code}) };
    log.write(&event);
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert("audit-id", value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_described_as_kubernetes_audits_them() {
        let request = Request::builder()
            .method("GET")
            .uri("/api/v1/namespaces/default/secrets/db?resourceVersion=0")
            .header("user-agent", "kubectl/v1.32.0")
            .header("x-forwarded-for", "10.0.0.1, 10.0.0.2")
            .body(axum::body::Body::empty())
            .unwrap();
        let event = received(&request, "id-1", "2026-11-25T00:00:00.000000Z");
        assert_eq!(event["verb"], "get");
        assert_eq!(event["objectRef"], json!({"resource": "secrets", "namespace": "default", "name": "db", "apiVersion": "v1"}));
        assert_eq!(event["sourceIPs"], json!(["10.0.0.1", "10.0.0.2"]));
        assert_eq!(event["userAgent"], "kubectl/v1.32.0");
        let watch = Request::builder().uri("/apis/apps/v1/deployments?watch=true").body(axum::body::Body::empty()).unwrap();
        let event = received(&watch, "id-2", "t");
        assert_eq!((event["verb"].as_str(), event["objectRef"]["apiGroup"].as_str()), (Some("watch"), Some("apps")));
        let discovery = Request::builder().uri("/apis").body(axum::body::Body::empty()).unwrap();
        let event = received(&discovery, "id-3", "t");
        assert_eq!((event["verb"].as_str(), event.get("objectRef")), (Some("get"), None));
    }
}
