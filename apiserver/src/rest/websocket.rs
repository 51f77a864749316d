//! Watches over WebSocket, as kube-apiserver serves them: a watch request with RFC 6455's
//! handshake headers is answered with 101, then each event goes as one text message, the JSON
//! line the chunked answer would carry. fabric8 (the client of Spark, Flink and many Java
//! operators) opens every watch this way first, and falls back to streaming only when the
//! upgrade is answered 200 or 503, which its WebSocket client does not always see through.

use axum::body::Body;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::{SinkExt, StreamExt};
use hyper::upgrade::OnUpgrade;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Message, Role};

const KEY: &str = "sec-websocket-key";

/// Whether a request asks to be answered over WebSocket.
pub fn asked(headers: &HeaderMap) -> bool {
    common::upgrade::is_upgrade(headers) && common::upgrade::protocol(headers) == "websocket" && headers.contains_key(KEY)
}

/// Answers the handshake and, once the client holds the connection, sends `watch`'s events
/// over it, one message each, until the watch ends or the client goes.
pub fn serve(client: OnUpgrade, headers: &HeaderMap, watch: Response) -> Response {
    let accept = derive_accept_key(headers.get(KEY).map(|key| key.as_bytes()).unwrap_or_default());
    tokio::spawn(pump(client, watch.into_body()));
    (StatusCode::SWITCHING_PROTOCOLS, [(header::CONNECTION, "Upgrade"), (header::UPGRADE, "websocket")], [(header::SEC_WEBSOCKET_ACCEPT, accept)])
        .into_response()
}

async fn pump(client: OnUpgrade, events: Body) {
    let Ok(io) = common::upgrade::accepted(client).await else { return };
    let mut socket = WebSocketStream::from_raw_socket(io, Role::Server, None).await;
    let mut events = events.into_data_stream();
    loop {
        tokio::select! {
            event = events.next() => match event {
                // Text frames for JSON, each event with its newline, as kube's encoder writes it.
                Some(Ok(bytes)) => {
                    if socket.send(Message::text(String::from_utf8_lossy(&bytes).into_owned())).await.is_err() {
                        return;
                    }
                }
                Some(Err(_)) | None => break,
            },
            // A watch reads nothing from its client: tungstenite answers pings as it reads, and
            // a close or a broken connection ends the watch.
            incoming = socket.next() => match incoming {
                Some(Ok(Message::Close(_)) | Err(_)) | None => return,
                Some(Ok(_)) => {}
            },
        }
    }
    let _ = socket.close(Some(CloseFrame { code: CloseCode::Normal, reason: "".into() })).await;
}
