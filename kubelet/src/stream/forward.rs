//! Port-forward served by the kubelet itself, as CRI lets a kubelet do: each forwarded
//! connection is a socket connected to `localhost:PORT` from a thread that entered the pod's
//! network namespace, spliced to the client's streams here.
//!
//! Going through containerd's streaming server instead cost a hop and, worse, a second per
//! connection: it waits up to a second for the client's direction after the pod's has ended
//! (kubernetes#100367), so every download through a forward lasted a second longer than its
//! bytes took. Here the pod's end of a connection ends the client's streams at once.
//!
//! Three protocols: SPDY/3.1 `portforward.k8s.io` (kubectl's fallback, a pair of streams per
//! connection, told apart by their `requestID`), the same frames inside WebSocket binary
//! messages (`SPDY/3.1+portforward.k8s.io`, kubectl's default since 1.31), and the WebSocket
//! channel protocol (`v4.channel.k8s.io`, kube-rs and the Python client: the URL's ports, a data
//! and an error channel each, the port in the first two bytes the server sends on each).

use std::collections::HashMap;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use bytes::{BufMut, Bytes, BytesMut};
use common::upgrade::Gauge;
use futures::{SinkExt, StreamExt};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::{AbortHandle, JoinSet};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;

use super::headers::{self, Inflater};
use super::spdy::{self, Encoder, Frame};
use super::{tunnel, websocket};
use crate::http::refuse;

/// The SPDY protocol (`X-Stream-Protocol-Version`) and the WebSocket channel protocols served.
const SPDY_PROTOCOL: &str = "portforward.k8s.io";
const CHANNEL_PROTOCOLS: [&str; 2] = ["v4.channel.k8s.io", "channel.k8s.io"];

/// The most bytes read from the pod at once: one DATA frame or WebSocket message.
const CHUNK: usize = 128 * 1024;
/// A client's data waiting for its pod connection, in messages: beyond it, reading the client
/// waits (SPDY's flow control is not spoken by kubectl's spdystream, so this is the bound).
const QUEUED: usize = 16;
/// The most connections (stream pairs) one SPDY session holds at once.
const MAX_STREAMS: usize = 2048;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// RST_STREAM status for a stream this side cannot serve.
const PROTOCOL_ERROR: u32 = 1;

/// A pod's port-forward target.
pub struct Target {
    /// `namespace/name`, for the log.
    pub pod: String,
    pub sandbox: String,
    /// The sandbox's network namespace; None for the node's own (hostNetwork).
    pub netns: Option<PathBuf>,
}

/// How a port-forward request is served here, from its upgrade headers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Native {
    Spdy,
    Tunnel,
    Channels(&'static str),
}

/// The protocol of `headers` this module serves, or None for one left to the runtime.
pub fn native(headers: &HeaderMap) -> Option<Native> {
    match common::upgrade::protocol(headers).as_str() {
        "websocket" => {
            let offered = websocket::offered(headers);
            offered.iter().find_map(|protocol| {
                if protocol == tunnel::PROTOCOL {
                    Some(Native::Tunnel)
                } else {
                    CHANNEL_PROTOCOLS.into_iter().find(|known| known == protocol).map(Native::Channels)
                }
            })
        }
        protocol if protocol.eq_ignore_ascii_case("spdy/3.1") => Some(Native::Spdy),
        _ => None,
    }
}

/// Answers the upgrade and serves the session once the client has switched.
pub fn serve(native: Native, headers: &HeaderMap, client: OnUpgrade, target: Target, ports: Vec<u16>, gauge: Gauge) -> Response {
    let target = Arc::new(target);
    match native {
        Native::Spdy => {
            let offered: Vec<&str> = headers.get_all("x-stream-protocol-version").iter().filter_map(|value| value.to_str().ok()).flat_map(|value| value.split(',')).map(str::trim).collect();
            // No version offered is the oldest clients' way; anything else must include ours.
            if !offered.is_empty() && !offered.contains(&SPDY_PROTOCOL) {
                return refuse(StatusCode::FORBIDDEN, format!("unable to upgrade: unable to negotiate protocol: client supports {offered:?}, server supports [{SPDY_PROTOCOL:?}]"));
            }
            tokio::spawn(async move {
                let _held = gauge.hold();
                if let Ok(upgraded) = client.await {
                    spdy_session(TokioIo::new(upgraded), target).await;
                }
            });
            let mut response = Response::new(Body::empty());
            *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
            let answer = response.headers_mut();
            answer.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
            answer.insert(header::UPGRADE, HeaderValue::from_static("SPDY/3.1"));
            if !offered.is_empty() {
                answer.insert("x-stream-protocol-version", HeaderValue::from_static(SPDY_PROTOCOL));
            }
            response
        }
        Native::Tunnel => upgrade_websocket(headers, tunnel::PROTOCOL, client, gauge, move |socket| async move {
            // The frames travel through a pipe so that one SPDY session serves both transports.
            let (ours, session_side) = tokio::io::duplex(2 * CHUNK);
            tokio::join!(tunnel::relay(socket, ours), spdy_session(session_side, target));
        }),
        Native::Channels(protocol) => {
            if ports.is_empty() {
                return refuse(StatusCode::BAD_REQUEST, "query parameter \"port\" is required".into());
            }
            upgrade_websocket(headers, protocol, client, gauge, move |socket| channel_session(socket, target, ports))
        }
    }
}

fn upgrade_websocket<F, Fut>(headers: &HeaderMap, protocol: &str, client: OnUpgrade, gauge: Gauge, session: F) -> Response
where
    F: FnOnce(websocket::Socket) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    let accepted = websocket::accept(headers, protocol);
    if accepted.status() == StatusCode::SWITCHING_PROTOCOLS {
        tokio::spawn(async move {
            let _held = gauge.hold();
            if let Some(socket) = websocket::open(client).await {
                session(socket).await;
            }
        });
    }
    accepted
}

/// A socket connected to `port` on the pod's loopback (IPv4, then IPv6, as containerd dials),
/// or the message the client is told.
async fn dial(target: &Target, port: u16) -> Result<TcpStream, String> {
    let netns = target.netns.clone();
    let (sender, receiver) = tokio::sync::oneshot::channel();
    // A thread of its own, never one of a pool: it leaves the kubelet's network namespace for
    // good, and ends with the connection made (the socket stays in the pod's namespace).
    let spawned = std::thread::Builder::new().name("port-forward".into()).spawn(move || {
        let _ = sender.send(connect_in(netns.as_deref(), port));
    });
    if let Err(err) = spawned {
        return Err(format!("cannot start a thread to dial port {port}: {err}"));
    }
    let connected = match receiver.await {
        Ok(connected) => connected,
        Err(_) => Err(format!("dialing port {port} ended without an answer")),
    };
    let failed = |why: String| format!("error forwarding port {port} to pod {}, uid : {why}", target.sandbox);
    let stream = connected.map_err(failed)?;
    stream.set_nonblocking(true).and_then(|()| TcpStream::from_std(stream)).map_err(|err| failed(err.to_string()))
}

fn connect_in(netns: Option<&Path>, port: u16) -> Result<std::net::TcpStream, String> {
    if let Some(path) = netns {
        let file = std::fs::File::open(path).map_err(|err| format!("failed to open network namespace {path:?}: {err}"))?;
        rustix::thread::move_into_link_name_space(file.as_fd(), Some(rustix::thread::LinkNameSpaceType::Network))
            .map_err(|err| format!("failed to enter network namespace {path:?}: {err}"))?;
    }
    let v4 = std::net::TcpStream::connect_timeout(&SocketAddr::from((Ipv4Addr::LOCALHOST, port)), CONNECT_TIMEOUT);
    let v4_err = match v4 {
        Ok(stream) => return Ok(stream),
        Err(err) => err,
    };
    std::net::TcpStream::connect_timeout(&SocketAddr::from((Ipv6Addr::LOCALHOST, port)), CONNECT_TIMEOUT)
        .map_err(|v6_err| format!("failed to connect to localhost:{port} inside the pod's network namespace, IPv4: {v4_err} IPv6: {v6_err}"))
}

/// Reads up to [`CHUNK`] bytes from `pod` behind `head` reserved bytes; None at its end.
async fn read_chunk(pod: &mut (impl AsyncRead + Unpin), head: usize) -> io::Result<Option<BytesMut>> {
    let mut buffer = BytesMut::with_capacity(head + CHUNK);
    buffer.put_bytes(0, head);
    // `read_buf` fills the spare capacity without zeroing it first.
    let read = pod.read_buf(&mut buffer).await?;
    Ok((read > 0).then_some(buffer))
}

/// The client's bytes to the pod until the client has no more, then the pod's write side closed.
async fn to_pod(mut from_client: mpsc::Receiver<Bytes>, mut pod: impl AsyncWrite + Unpin) {
    while let Some(bytes) = from_client.recv().await {
        if pod.write_all(&bytes).await.is_err() {
            return;
        }
    }
    let _ = pod.shutdown().await;
}

// ---- SPDY ----

/// One SPDY connection's streams.
struct Spdy {
    target: Arc<Target>,
    frames: mpsc::Sender<Bytes>,
    encoder: Encoder,
    inflater: Inflater,
    /// The client's open streams: a data stream's sender feeds its pod connection.
    streams: HashMap<u32, Open>,
    /// Pairs of which one stream has come so far, by request id.
    halves: HashMap<String, Half>,
    tasks: JoinSet<()>,
}

struct Open {
    to_pod: Option<mpsc::Sender<Bytes>>,
    task: Option<AbortHandle>,
}

#[derive(Default)]
struct Half {
    data: Option<(u32, String, mpsc::Receiver<Bytes>)>,
    error: Option<u32>,
}

async fn spdy_session<T: AsyncRead + AsyncWrite + Send + 'static>(io: T, target: Arc<Target>) {
    let (mut reader, writer) = tokio::io::split(io);
    let (frames, outgoing) = mpsc::channel(64);
    let writing = tokio::spawn(write_frames(writer, outgoing));
    let pod = target.pod.clone();
    let mut session = Spdy { target, frames, encoder: Encoder::default(), inflater: Inflater::default(), streams: HashMap::new(), halves: HashMap::new(), tasks: JoinSet::new() };
    if let Err(why) = session.run(&mut reader).await {
        tracing::info!(pod = %pod, why = %why, "port-forward session ended");
    }
    // Dropping the session aborts its connections; the writer then flushes what they sent.
    drop(session);
    let _ = writing.await;
}

async fn write_frames<W: AsyncWrite>(mut writer: tokio::io::WriteHalf<W>, mut frames: mpsc::Receiver<Bytes>) {
    while let Some(frame) = frames.recv().await {
        if writer.write_all(&frame).await.is_err() {
            return;
        }
    }
    let _ = writer.shutdown().await;
}

impl Spdy {
    async fn run<R: AsyncRead + Unpin>(&mut self, reader: &mut R) -> Result<(), String> {
        let mut buffer = BytesMut::with_capacity(64 * 1024);
        loop {
            while let Some(frame) = spdy::next_frame(&mut buffer).map_err(|err| err.to_string())? {
                match frame {
                    Frame::SynStream { stream, headers, .. } => self.open(stream, &headers).await?,
                    Frame::Data { stream, fin, data } => self.data(stream, fin, data).await,
                    Frame::Reset { stream, .. } => self.reset(stream),
                    Frame::Ping { id } => self.send(spdy::ping(id)).await?,
                    Frame::GoAway => return Ok(()),
                    Frame::Reply { .. } | Frame::Ignored => {}
                }
            }
            if reader.read_buf(&mut buffer).await.map_err(|err| err.to_string())? == 0 {
                return Ok(());
            }
        }
    }

    async fn send(&self, frame: Vec<u8>) -> Result<(), String> {
        self.frames.send(Bytes::from(frame)).await.map_err(|_| "the connection is gone".to_string())
    }

    async fn open(&mut self, stream: u32, block: &[u8]) -> Result<(), String> {
        // A block that does not inflate leaves the connection's zlib stream unreadable: the
        // session ends, as spdystream's does.
        let pairs = headers::pairs(&self.inflater.inflate(block).map_err(|err| err.to_string())?).map_err(|err| err.to_string())?;
        let header = |name: &str| pairs.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str());
        self.streams.retain(|_, open| open.task.as_ref().is_none_or(|task| !task.is_finished()));
        if self.streams.len() >= 2 * MAX_STREAMS {
            return self.send(spdy::reset(stream, spdy::REFUSED_STREAM)).await;
        }
        let reply = self.encoder.reply(stream, &[]);
        self.send(reply).await?;
        // Clients before requestID paired an error stream with the data stream after it.
        let kind = header("streamtype").unwrap_or_default().to_string();
        let request = match (header("requestid"), kind.as_str()) {
            (Some(id), _) => id.to_string(),
            (None, "data") => stream.saturating_sub(2).to_string(),
            (None, _) => stream.to_string(),
        };
        let half = self.halves.entry(request.clone()).or_default();
        match kind.as_str() {
            "data" if half.data.is_none() => {
                let (to_pod, from_client) = mpsc::channel(QUEUED);
                half.data = Some((stream, header("port").unwrap_or_default().to_string(), from_client));
                self.streams.insert(stream, Open { to_pod: Some(to_pod), task: None });
            }
            "error" if half.error.is_none() => {
                half.error = Some(stream);
                self.streams.insert(stream, Open { to_pod: None, task: None });
            }
            _ => return self.send(spdy::reset(stream, PROTOCOL_ERROR)).await,
        }
        let whole = self.halves.get(&request).is_some_and(|half| half.data.is_some() && half.error.is_some());
        if whole && let Some(Half { data: Some((data, port, from_client)), error: Some(error) }) = self.halves.remove(&request) {
            let task = self.tasks.spawn(forward_spdy(self.target.clone(), port, data, error, from_client, self.frames.clone()));
            for id in [data, error] {
                if let Some(open) = self.streams.get_mut(&id) {
                    open.task = Some(task.clone());
                }
            }
        }
        Ok(())
    }

    async fn data(&mut self, stream: u32, fin: bool, data: Bytes) {
        let Some(open) = self.streams.get_mut(&stream) else { return };
        if let Some(to_pod) = &open.to_pod
            && !data.is_empty()
        {
            // A connection that has ended takes no more; its stream is reset by the client.
            let _ = to_pod.send(data).await;
        }
        if fin {
            open.to_pod = None;
        }
    }

    fn reset(&mut self, stream: u32) {
        if let Some(Open { task: Some(task), .. }) = self.streams.remove(&stream) {
            task.abort();
        }
    }
}

/// One forwarded connection: `data` carries its bytes both ways, `error` what went wrong.
async fn forward_spdy(target: Arc<Target>, port: String, data: u32, error: u32, from_client: mpsc::Receiver<Bytes>, frames: mpsc::Sender<Bytes>) {
    let connected = match port.parse::<u16>() {
        Ok(number) if number > 0 => dial(&target, number).await,
        _ => Err(format!("invalid port {port:?}: must be between 1 and 65535, inclusive")),
    };
    let tcp = match connected {
        Ok(tcp) => tcp,
        Err(message) => {
            tracing::info!(pod = %target.pod, port = %port, why = %message, "port-forward connection failed");
            let _ = frames.send(Bytes::from(spdy::data(error, message.as_bytes(), true))).await;
            let _ = frames.send(Bytes::from(spdy::data(data, &[], true))).await;
            return;
        }
    };
    let (mut from_pod, pod) = tcp.into_split();
    let to_client = async {
        while let Ok(Some(mut chunk)) = read_chunk(&mut from_pod, 8).await {
            let head = spdy::data_head(data, chunk.len() - 8, false);
            chunk[..8].copy_from_slice(&head);
            if frames.send(chunk.freeze()).await.is_err() {
                return;
            }
        }
        // The pod's side has ended: so do both streams, at once.
        let _ = frames.send(Bytes::from(spdy::data(data, &[], true))).await;
        let _ = frames.send(Bytes::from(spdy::data(error, &[], true))).await;
    };
    tokio::join!(to_client, to_pod(from_client, pod));
}

// ---- WebSocket channels ----

/// The URL's ports over one WebSocket: channel `2i` the data of port `i`, `2i + 1` its errors.
async fn channel_session<S>(socket: WebSocketStream<S>, target: Arc<Target>, ports: Vec<u16>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sink, mut stream) = socket.split();
    let (messages, mut outgoing) = mpsc::channel::<Message>(64);
    let writing = tokio::spawn(async move {
        while let Some(message) = outgoing.recv().await {
            if sink.send(message).await.is_err() {
                return;
            }
        }
        let _ = sink.close().await;
    });
    let mut to_pods = Vec::with_capacity(ports.len());
    let mut tasks = JoinSet::new();
    for (index, port) in ports.iter().copied().enumerate() {
        let Ok(channel) = u8::try_from(2 * index) else { break };
        let (to_pod, from_client) = mpsc::channel(QUEUED);
        to_pods.push(to_pod);
        tasks.spawn(forward_channel(target.clone(), port, channel, from_client, messages.clone()));
    }
    drop(messages);
    let reading = async {
        while let Some(Ok(message)) = stream.next().await {
            match message {
                Message::Binary(bytes) if !bytes.is_empty() => {
                    // Data channels only; a client writes nothing on an error channel.
                    let channel = usize::from(bytes[0]);
                    if channel % 2 == 0
                        && let Some(to_pod) = to_pods.get(channel / 2)
                    {
                        let _ = to_pod.send(bytes.slice(1..)).await;
                    }
                }
                Message::Close(_) => return,
                _ => {}
            }
        }
    };
    // The session ends when every connection has (the writer then closes the socket), or when
    // the client goes (the connections are then aborted).
    let connections = async { while tasks.join_next().await.is_some() {} };
    tokio::select! {
        () = connections => {}
        () = reading => {}
    }
    drop(tasks);
    let _ = writing.await;
}

async fn forward_channel(target: Arc<Target>, port: u16, channel: u8, from_client: mpsc::Receiver<Bytes>, messages: mpsc::Sender<Message>) {
    let error = channel + 1;
    // Each channel's first message is the port, little-endian.
    let [low, high] = port.to_le_bytes();
    for first in [channel, error] {
        if messages.send(Message::binary(vec![first, low, high])).await.is_err() {
            return;
        }
    }
    let tcp = match dial(&target, port).await {
        Ok(tcp) => tcp,
        Err(message) => {
            tracing::info!(pod = %target.pod, port, why = %message, "port-forward connection failed");
            let _ = messages.send(Message::binary([&[error], message.as_bytes()].concat())).await;
            return;
        }
    };
    let (mut from_pod, pod) = tcp.into_split();
    let to_client = async {
        while let Ok(Some(mut chunk)) = read_chunk(&mut from_pod, 1).await {
            chunk[0] = channel;
            if messages.send(Message::binary(chunk.freeze())).await.is_err() {
                return;
            }
        }
    };
    // The pod's end ends the connection: this protocol has no way to say "no more" otherwise.
    tokio::select! {
        () = to_client => {}
        () = to_pod(from_client, pod) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upgrade(protocol: &str, offered: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
        headers.insert(header::UPGRADE, HeaderValue::from_str(protocol).unwrap());
        for offer in offered {
            headers.append(header::SEC_WEBSOCKET_PROTOCOL, HeaderValue::from_str(offer).unwrap());
        }
        headers
    }

    #[test]
    fn the_protocols_served_here_are_told_from_the_upgrade() {
        assert_eq!(native(&upgrade("SPDY/3.1", &[])), Some(Native::Spdy));
        assert_eq!(native(&upgrade("websocket", &["SPDY/3.1+portforward.k8s.io"])), Some(Native::Tunnel));
        assert_eq!(native(&upgrade("websocket", &["v4.channel.k8s.io"])), Some(Native::Channels("v4.channel.k8s.io")));
        // The client's order decides.
        assert_eq!(native(&upgrade("websocket", &["v4.base64.channel.k8s.io", "channel.k8s.io"])), Some(Native::Channels("channel.k8s.io")));
        assert_eq!(native(&upgrade("websocket", &["v4.base64.channel.k8s.io"])), None, "left to the runtime");
        assert_eq!(native(&HeaderMap::new()), None);
    }

    /// A loopback server that answers each connection with `reply` after reading its request.
    async fn server(reply: &'static [u8]) -> u16 {
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut request = [0u8; 5];
                    if socket.read_exact(&mut request).await.is_ok() {
                        let _ = socket.write_all(&request).await;
                        let _ = socket.write_all(reply).await;
                    }
                });
            }
        });
        port
    }

    fn target() -> Arc<Target> {
        Arc::new(Target { pod: "default/web".into(), sandbox: "sandbox".into(), netns: None })
    }

    async fn frames_until_fin(client: &mut tokio::io::DuplexStream, buffer: &mut BytesMut, stream: u32) -> (Vec<u8>, bool) {
        let mut body = Vec::new();
        loop {
            while let Some(frame) = spdy::next_frame(buffer).unwrap() {
                if let Frame::Data { stream: id, fin, data } = frame
                    && id == stream
                {
                    body.extend_from_slice(&data);
                    if fin {
                        return (body, true);
                    }
                }
            }
            if client.read_buf(buffer).await.unwrap() == 0 {
                return (body, false);
            }
        }
    }

    fn syn(inflated_block: &[(&str, &str)], stream: u32, encoder: &mut Encoder) -> Vec<u8> {
        encoder.open(stream, inflated_block, false)
    }

    #[tokio::test]
    async fn a_spdy_pair_forwards_both_ways_and_ends_with_the_pods_side() {
        let port = server(b" world").await.to_string();
        let (mut client, session) = tokio::io::duplex(1 << 20);
        tokio::spawn(spdy_session(session, target()));
        let mut encoder = Encoder::default();
        client.write_all(&syn(&[("streamType", "error"), ("port", &port), ("requestID", "0")], 1, &mut encoder)).await.unwrap();
        client.write_all(&syn(&[("streamType", "data"), ("port", &port), ("requestID", "0")], 3, &mut encoder)).await.unwrap();
        client.write_all(&spdy::data(3, b"hello", true)).await.unwrap();
        let mut buffer = BytesMut::new();
        let (body, fin) = frames_until_fin(&mut client, &mut buffer, 3).await;
        assert_eq!((body.as_slice(), fin), (&b"hello world"[..], true));
        let (error, fin) = frames_until_fin(&mut client, &mut buffer, 1).await;
        assert_eq!((error.as_slice(), fin), (&b""[..], true), "no error, and the error stream closed too");
    }

    #[tokio::test]
    async fn a_closed_port_is_said_on_the_error_stream() {
        let closed = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap().local_addr().unwrap().port().to_string();
        let (mut client, session) = tokio::io::duplex(1 << 20);
        tokio::spawn(spdy_session(session, target()));
        let mut encoder = Encoder::default();
        // Without requestID: the data stream pairs with the error stream before it.
        client.write_all(&syn(&[("streamType", "error"), ("port", &closed)], 5, &mut encoder)).await.unwrap();
        client.write_all(&syn(&[("streamType", "data"), ("port", &closed)], 7, &mut encoder)).await.unwrap();
        let mut buffer = BytesMut::new();
        let (error, fin) = frames_until_fin(&mut client, &mut buffer, 5).await;
        let error = String::from_utf8(error).unwrap();
        assert!(fin && error.contains(&format!("error forwarding port {closed} to pod sandbox")) && error.contains("refused"), "{error}");
    }

    /// A loopback server that sends `size` bytes to each connection and closes it.
    async fn sender(size: usize) -> u16 {
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let block = vec![7u8; 64 * 1024];
                    for _ in 0..size / block.len() {
                        if socket.write_all(&block).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        port
    }

    #[tokio::test]
    async fn websocket_channels_carry_more_than_the_queue_holds_and_close_at_the_pods_end() {
        use tokio_tungstenite::tungstenite::protocol::Role;
        let size = 32 << 20;
        let port = sender(size).await;
        let (client, server) = tokio::io::duplex(1 << 20);
        let server = WebSocketStream::from_raw_socket(server, Role::Server, None).await;
        tokio::spawn(channel_session(server, target(), vec![port]));
        let mut client = WebSocketStream::from_raw_socket(client, Role::Client, None).await;
        let [low, high] = port.to_le_bytes();
        let (mut data, mut firsts, mut closed) = (0usize, Vec::new(), false);
        while let Some(message) = tokio::time::timeout(Duration::from_secs(30), client.next()).await.expect("a message or the end") {
            match message.unwrap() {
                Message::Binary(bytes) if bytes.len() == 3 && firsts.len() < 2 => firsts.push(bytes.to_vec()),
                Message::Binary(bytes) => {
                    assert_eq!(bytes[0], 0, "data on the data channel only");
                    data += bytes.len() - 1;
                }
                Message::Close(_) => {
                    closed = true;
                    break;
                }
                _ => {}
            }
        }
        assert_eq!(firsts, [vec![0, low, high], vec![1, low, high]], "each channel opens with the port");
        assert_eq!(data, size);
        assert!(closed, "the pod's end closes the socket");
    }

    #[tokio::test]
    async fn a_stream_of_no_known_type_is_reset_and_garbage_ends_the_session() {
        let (mut client, session) = tokio::io::duplex(1 << 20);
        let ended = tokio::spawn(spdy_session(session, target()));
        let mut encoder = Encoder::default();
        client.write_all(&syn(&[("streamType", "stdin")], 1, &mut encoder)).await.unwrap();
        let mut buffer = BytesMut::new();
        let reset = loop {
            client.read_buf(&mut buffer).await.unwrap();
            if let Some(frame) = std::iter::from_fn(|| spdy::next_frame(&mut buffer).unwrap()).find(|frame| matches!(frame, Frame::Reset { .. })) {
                break frame;
            }
        };
        assert_eq!(reset, Frame::Reset { stream: 1, status: PROTOCOL_ERROR });
        // A SYN_STREAM whose header block is not zlib at all.
        client.write_all(&[0x80, 0x03, 0x00, 0x01, 0, 0, 0, 14, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0xde, 0xad, 0xbe, 0xef]).await.unwrap();
        tokio::time::timeout(Duration::from_secs(10), ended).await.expect("the session ends").unwrap();
    }
}
