//! kubectl's port-forward over WebSocket: SPDY frames carried in binary WebSocket messages,
//! unwrapped into a byte stream for the SPDY session and its answers wrapped again.

use futures::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;

use super::websocket::Socket;

/// The subprotocol kubectl 1.30+ offers for port-forward over WebSocket.
pub const PROTOCOL: &str = "SPDY/3.1+portforward.k8s.io";

/// Until either side ends: each binary message's bytes to `io`, and what `io` gives back as
/// binary messages.
pub async fn relay(socket: Socket, io: impl AsyncRead + AsyncWrite) {
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
        let mut buffer = vec![0u8; 128 * 1024];
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
