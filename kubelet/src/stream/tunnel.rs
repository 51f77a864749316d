//! kubectl's port-forward over WebSocket: SPDY frames carried in binary WebSocket messages. The
//! runtime speaks SPDY port-forward itself, so the frames are unwrapped and passed on as bytes,
//! and its answers wrapped again.

use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use common::upgrade::{self, Dialed, Gauge, Io};
use futures::{SinkExt, StreamExt};
use hyper::upgrade::OnUpgrade;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;

use super::websocket::{self, Socket};
use crate::server::refuse;

/// The subprotocol kubectl 1.30+ offers for port-forward over WebSocket.
pub const PROTOCOL: &str = "SPDY/3.1+portforward.k8s.io";
/// The SPDY protocol the runtime is asked for.
const PORT_FORWARD: &str = "portforward.k8s.io";

/// The headers of a SPDY upgrade request for `protocol` (an `X-Stream-Protocol-Version`).
pub fn spdy_request(protocol: &'static str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    headers.insert(header::UPGRADE, HeaderValue::from_static("SPDY/3.1"));
    headers.insert("x-stream-protocol-version", HeaderValue::from_static(protocol));
    headers
}

pub async fn serve(headers: &HeaderMap, client: OnUpgrade, address: &str, path: &str, gauge: Gauge) -> Response {
    let accepted = websocket::accept(headers, PROTOCOL);
    if accepted.status() != StatusCode::SWITCHING_PROTOCOLS {
        return accepted;
    }
    let io = match upgrade::dial(address, Method::POST, path, &spdy_request(PORT_FORWARD)).await {
        Ok(Dialed::Switched { io, .. }) => io,
        Ok(Dialed::Refused { status, body }) => {
            return refuse(StatusCode::INTERNAL_SERVER_ERROR, format!("the runtime refused port-forward ({status}): {}", String::from_utf8_lossy(&body).trim()));
        }
        Err(err) => return refuse(StatusCode::INTERNAL_SERVER_ERROR, format!("cannot reach the runtime's streaming server: {err}")),
    };
    tokio::spawn(async move {
        let _held = gauge.hold();
        if let Some(socket) = websocket::open(client).await {
            relay(socket, io).await;
        }
    });
    accepted
}

/// Until either side ends: each binary message's bytes to the runtime, and what the runtime
/// sends back as binary messages.
async fn relay(socket: Socket, io: Io) {
    let (mut to_client, mut from_client) = socket.split();
    let (mut from_runtime, mut to_runtime) = tokio::io::split(io);
    let upstream = async {
        while let Some(Ok(message)) = from_client.next().await {
            match message {
                Message::Binary(bytes) if to_runtime.write_all(&bytes).await.is_err() => break,
                Message::Close(_) => break,
                _ => {}
            }
        }
        let _ = to_runtime.shutdown().await;
    };
    let downstream = async {
        let mut buffer = vec![0u8; 32 * 1024];
        loop {
            match from_runtime.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(read) => {
                    if to_client.send(Message::binary(buffer[..read].to_vec())).await.is_err() {
                        break;
                    }
                }
            }
        }
        let _ = to_client.close().await;
    };
    // Either side ending ends the session: a half-open tunnel serves nobody.
    tokio::select! {
        () = upstream => {}
        () = downstream => {}
    }
}
