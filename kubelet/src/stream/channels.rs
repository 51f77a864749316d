//! exec and attach over WebSocket (`v5.channel.k8s.io`, `v4.channel.k8s.io`), translated to the
//! SPDY streams containerd's streaming server speaks (it knows no v5, and only v5 can say that
//! stdin has ended, which `kubectl cp` and piped input need).
//!
//! Every WebSocket message is `[channel][bytes]`: 0 stdin, 1 stdout, 2 stderr, 3 the status
//! (a metav1.Status in JSON, with the exit code), 4 terminal resizes; in v5, `[255, channel]`
//! closes a channel. Each channel is one SPDY stream.

use std::time::Duration;

use axum::http::HeaderMap;
use axum::response::Response;
use bytes::BytesMut;
use common::upgrade::{Gauge, Io};
use futures::{SinkExt, StreamExt};
use hyper::upgrade::OnUpgrade;
use tokio::io::{AsyncReadExt, AsyncWriteExt, WriteHalf};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use super::Streams;
use super::spdy::{self, Encoder, Frame};
use super::websocket::Socket;

const STDIN: u8 = 0;
const STDOUT: u8 = 1;
const STDERR: u8 = 2;
const ERROR: u8 = 3;
const RESIZE: u8 = 4;
/// v5: `[CLOSE, channel]` half-closes the channel.
const CLOSE: u8 = 255;

/// How long containerd may take to accept the streams.
const STREAMS_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    V4,
    V5,
}

impl Version {
    fn name(self) -> &'static str {
        match self {
            Self::V4 => "v4.channel.k8s.io",
            Self::V5 => "v5.channel.k8s.io",
        }
    }
}

/// The first protocol the client offers that is translated here.
pub fn choose(offered: &[String]) -> Option<Version> {
    offered.iter().find_map(|protocol| [Version::V5, Version::V4].into_iter().find(|version| version.name() == protocol))
}

pub async fn serve(headers: &HeaderMap, client: OnUpgrade, address: &str, path: &str, streams: Streams, version: Version, gauge: Gauge) -> Response {
    super::websocket_to_spdy(headers, client, (address, path), version.name(), "v4.channel.k8s.io", gauge, move |socket, io| async move {
        if let Err(err) = Session::new(io, streams, version).relay(socket).await {
            tracing::warn!(error = %err, "exec/attach stream failed");
        }
    })
    .await
}

#[derive(Debug, thiserror::Error)]
enum RelayError {
    #[error("runtime connection: {0}")]
    Runtime(#[from] std::io::Error),
    #[error(transparent)]
    Spdy(#[from] spdy::SpdyError),
    #[error("client connection: {0}")]
    Client(#[from] tokio_tungstenite::tungstenite::Error),
    #[error("the runtime did not accept the streams within {} s", STREAMS_TIMEOUT.as_secs())]
    StreamsTimeout,
}

/// One SPDY stream per channel.
struct Channel {
    channel: u8,
    id: u32,
    replied: bool,
    /// The runtime's side has ended (FIN or reset), or for stdin and resize: ours has.
    closed: bool,
}

struct Session {
    reader: tokio::io::ReadHalf<Io>,
    writer: WriteHalf<Io>,
    buffer: BytesMut,
    encoder: Encoder,
    channels: Vec<Channel>,
    streams: Streams,
    version: Version,
    /// The runtime has sent the client a status (the exit code, or why it failed).
    status_sent: bool,
}

/// How a session ended.
enum Ending {
    ClientGone,
    RuntimeDone,
}

impl Session {
    fn new(io: Io, streams: Streams, version: Version) -> Self {
        let (reader, writer) = tokio::io::split(io);
        // containerd's order (client-go's): error, stdin, stdout, stderr, resize.
        let wanted = [(ERROR, true), (STDIN, streams.stdin), (STDOUT, streams.stdout), (STDERR, streams.stderr && !streams.tty), (RESIZE, streams.tty)];
        let channels = wanted
            .into_iter()
            .filter(|(_, wanted)| *wanted)
            .zip((1u32..).step_by(2))
            .map(|((channel, _), id)| Channel { channel, id, replied: false, closed: false })
            .collect();
        Self { reader, writer, buffer: BytesMut::with_capacity(64 * 1024), encoder: Encoder::default(), channels, streams, version, status_sent: false }
    }

    fn stream_of(&self, channel: u8) -> Option<&Channel> {
        self.channels.iter().find(|c| c.channel == channel)
    }

    async fn relay(mut self, mut socket: Socket) -> Result<(), RelayError> {
        let failure = match self.run(&mut socket).await {
            Ok(Ending::ClientGone) => return Ok(()),
            Ok(Ending::RuntimeDone) => None,
            Err(err @ RelayError::Client(_)) => return Err(err),
            Err(err) => Some(err.to_string()),
        };
        if !self.status_sent {
            // Without a status a client would take the session for a success.
            let why = failure.unwrap_or_else(|| "the container runtime ended the session without a status".into());
            let status = serde_json::json!({"metadata": {}, "status": "Failure", "message": format!("Internal error occurred: {why}"), "reason": "InternalError", "code": 500});
            let mut message = vec![ERROR];
            message.extend_from_slice(status.to_string().as_bytes());
            socket.send(Message::binary(message)).await?;
        }
        // A normal close, which kubectl needs to read the exit code rather than report a broken
        // connection.
        socket.send(Message::Close(Some(CloseFrame { code: CloseCode::Normal, reason: "".into() }))).await?;
        // And the end of the stream at once, as kube's streaming server closes the connection:
        // a client that polls its socket before reading frames (the Python client does) may hold
        // the status and the close in one TLS record, and sees neither until more bytes or the
        // end arrive.
        let _ = tokio::io::AsyncWriteExt::shutdown(socket.get_mut()).await;
        // The client answers the close; wait briefly for it so the close handshake completes.
        let _ = tokio::time::timeout(Duration::from_secs(5), async { while let Some(Ok(_)) = socket.next().await {} }).await;
        Ok(())
    }

    async fn run(&mut self, socket: &mut Socket) -> Result<Ending, RelayError> {
        for index in 0..self.channels.len() {
            let (id, channel) = (self.channels[index].id, self.channels[index].channel);
            let kind = match channel {
                ERROR => "error",
                STDIN => "stdin",
                STDOUT => "stdout",
                STDERR => "stderr",
                _ => "resize",
            };
            let frame = self.encoder.open(id, &[("streamtype", kind)], false);
            self.writer.write_all(&frame).await?;
        }
        // containerd drops data on a stream it has not yet answered; wait for every answer.
        let answered = async {
            while !self.channels.iter().all(|c| c.replied) {
                if self.fill().await? == 0 || !self.runtime_frames(socket).await? {
                    return Ok::<bool, RelayError>(false);
                }
            }
            Ok(true)
        };
        if !tokio::time::timeout(STREAMS_TIMEOUT, answered).await.map_err(|_| RelayError::StreamsTimeout)?? {
            return Ok(Ending::RuntimeDone);
        }
        // As containerd's own WebSocket server does: an empty message on the lowest channel the
        // client reads, to say the session is up.
        let first = if self.streams.stdout { STDOUT } else if self.streams.stderr && !self.streams.tty { STDERR } else { ERROR };
        socket.send(Message::binary(vec![first])).await?;
        loop {
            tokio::select! {
                message = socket.next() => match message {
                    Some(Ok(Message::Binary(bytes))) => self.client_message(&bytes).await?,
                    // The Python client sends text frames for str data; Kubernetes' server reads
                    // both kinds alike.
                    Some(Ok(Message::Text(text))) => self.client_message(text.as_bytes()).await?,
                    Some(Ok(Message::Close(_)) | Err(_)) | None => return Ok(Ending::ClientGone),
                    Some(Ok(_)) => {}
                },
                read = Self::fill_into(&mut self.reader, &mut self.buffer) => {
                    if read? == 0 || !self.runtime_frames(socket).await? {
                        return Ok(Ending::RuntimeDone);
                    }
                }
            }
        }
    }

    async fn fill(&mut self) -> std::io::Result<usize> {
        Self::fill_into(&mut self.reader, &mut self.buffer).await
    }

    /// Reads more of the runtime's frames (0: it closed the connection). Cancel-safe.
    async fn fill_into(reader: &mut tokio::io::ReadHalf<Io>, buffer: &mut BytesMut) -> std::io::Result<usize> {
        buffer.reserve(32 * 1024);
        reader.read_buf(buffer).await
    }

    async fn client_message(&mut self, message: &[u8]) -> Result<(), RelayError> {
        let Some((&channel, data)) = message.split_first() else { return Ok(()) };
        match channel {
            STDIN | RESIZE => {
                let Some(stream) = self.stream_of(channel).filter(|s| !s.closed) else { return Ok(()) };
                let id = stream.id;
                for chunk in data.chunks(spdy::MAX_DATA) {
                    self.writer.write_all(&spdy::data(id, chunk, false)).await?;
                }
            }
            CLOSE if self.version == Version::V5 && data.len() == 1 => {
                let target = data[0];
                if let Some(stream) = self.channels.iter_mut().find(|s| s.channel == target && matches!(target, STDIN | RESIZE) && !s.closed) {
                    stream.closed = true;
                    let id = stream.id;
                    self.writer.write_all(&spdy::data(id, &[], true)).await?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Passes on the frames the runtime has sent; false once the session is over (the runtime
    /// said goodbye, or every stream it writes has ended).
    async fn runtime_frames(&mut self, socket: &mut Socket) -> Result<bool, RelayError> {
        while let Some(frame) = spdy::next_frame(&mut self.buffer)? {
            match frame {
                Frame::Data { stream, fin, data } => {
                    let Some(channel) = self.channels.iter_mut().find(|c| c.id == stream) else { continue };
                    if fin {
                        channel.closed = true;
                    }
                    let number = channel.channel;
                    self.status_sent |= number == ERROR && !data.is_empty();
                    if !data.is_empty() && matches!(number, STDOUT | STDERR | ERROR) {
                        let mut message = Vec::with_capacity(1 + data.len());
                        message.push(number);
                        message.extend_from_slice(&data);
                        socket.send(Message::binary(message)).await?;
                    }
                }
                Frame::Reply { stream, fin } => {
                    if let Some(channel) = self.channels.iter_mut().find(|c| c.id == stream) {
                        channel.replied = true;
                        channel.closed |= fin;
                    }
                }
                Frame::Reset { stream, .. } => {
                    if let Some(channel) = self.channels.iter_mut().find(|c| c.id == stream) {
                        channel.closed = true;
                        channel.replied = true;
                    }
                }
                Frame::Ping { id } => self.writer.write_all(&spdy::ping(id)).await?,
                Frame::SynStream { stream, .. } => self.writer.write_all(&spdy::reset(stream, spdy::REFUSED_STREAM)).await?,
                Frame::GoAway => return Ok(false),
                Frame::Ignored => {}
            }
        }
        let written_done = self.channels.iter().filter(|c| matches!(c.channel, STDOUT | STDERR | ERROR)).all(|c| c.closed);
        Ok(!written_done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v5_is_preferred_in_the_clients_order() {
        let offered = |list: &[&str]| list.iter().map(|p| (*p).to_string()).collect::<Vec<_>>();
        assert_eq!(choose(&offered(&["v5.channel.k8s.io"])), Some(Version::V5));
        assert_eq!(choose(&offered(&["v4.channel.k8s.io", "v5.channel.k8s.io"])), Some(Version::V4));
        assert_eq!(choose(&offered(&["base64.channel.k8s.io"])), None);
    }
}
