//! The server side of a WebSocket handshake on an upgrade request hyper has already parsed.

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use common::upgrade::Io;
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};

use crate::http::refuse;

pub type Socket = WebSocketStream<Io>;

/// The subprotocols the client offers, in its order of preference.
pub fn offered(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(|protocol| protocol.trim().to_string())
        .filter(|protocol| !protocol.is_empty())
        .collect()
}

/// The 101 answer that accepts the handshake with `protocol`, or the 400 for a request that is
/// not a valid WebSocket handshake.
pub fn accept(headers: &HeaderMap, protocol: &str) -> Response {
    handshake(headers, protocol).unwrap_or_else(|why| refuse(StatusCode::BAD_REQUEST, why))
}

fn handshake(headers: &HeaderMap, protocol: &str) -> Result<Response, String> {
    let key = headers.get(header::SEC_WEBSOCKET_KEY).ok_or("a WebSocket upgrade needs Sec-WebSocket-Key")?;
    let version = headers.get(header::SEC_WEBSOCKET_VERSION).and_then(|value| value.to_str().ok()).unwrap_or_default();
    if version.trim() != "13" {
        return Err(format!("unsupported WebSocket version {version:?} (13 is supported)"));
    }
    let accept = HeaderValue::from_str(&derive_accept_key(key.as_bytes())).map_err(|err| format!("bad Sec-WebSocket-Key: {err}"))?;
    let protocol = HeaderValue::from_str(protocol).map_err(|err| format!("bad protocol: {err}"))?;
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let answer = response.headers_mut();
    answer.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    answer.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    answer.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
    answer.insert(header::SEC_WEBSOCKET_PROTOCOL, protocol);
    Ok(response)
}

/// The client's side once hyper has sent the 101; None when the client went away first.
pub async fn open(client: OnUpgrade) -> Option<Socket> {
    let upgraded = client.await.ok()?;
    // Messages are stream chunks, never large; the bound keeps a client from making the kubelet
    // buffer much.
    let config = WebSocketConfig::default().max_message_size(Some(16 << 20)).max_frame_size(Some(16 << 20));
    Some(WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, Some(config)).await)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_handshake_is_answered_as_rfc_6455_says() {
        let mut headers = HeaderMap::new();
        headers.insert(header::SEC_WEBSOCKET_PROTOCOL, HeaderValue::from_static("v5.channel.k8s.io, v4.channel.k8s.io"));
        assert_eq!(offered(&headers), ["v5.channel.k8s.io", "v4.channel.k8s.io"]);
        assert_eq!(accept(&headers, "v5.channel.k8s.io").status(), StatusCode::BAD_REQUEST, "no key");
        headers.insert(header::SEC_WEBSOCKET_KEY, HeaderValue::from_static("dGhlIHNhbXBsZSBub25jZQ=="));
        headers.insert(header::SEC_WEBSOCKET_VERSION, HeaderValue::from_static("13"));
        let response = accept(&headers, "v5.channel.k8s.io");
        assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);
        // The example of RFC 6455 section 1.3.
        assert_eq!(response.headers()[header::SEC_WEBSOCKET_ACCEPT], "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
        assert_eq!(response.headers()[header::SEC_WEBSOCKET_PROTOCOL], "v5.channel.k8s.io");
    }
}
