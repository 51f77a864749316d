//! HTTP/1.1 upgrades handed on to another server: the apiserver hands exec, attach and
//! port-forward connections to the pod's kubelet, and the kubelet to the runtime's streaming
//! server. Whatever protocol the two ends then speak (WebSocket or SPDY) passes through as bytes.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, StatusCode, header};
use http_body_util::{BodyExt, Empty, Limited};
use hyper::upgrade::{OnUpgrade, Upgraded};
use hyper_util::rt::TokioIo;

/// An upgraded connection.
pub type Io = TokioIo<Upgraded>;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the other server may take to answer the upgrade request (an exec first starts the
/// process in the runtime).
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);
/// How much of a refusal's body is kept (it is a Status or a line of text).
const REFUSAL_LIMIT: usize = 64 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum UpgradeError {
    #[error("cannot connect to {address}: {source}")]
    Connect { address: String, source: std::io::Error },
    #[error("{address} did not answer within {} s", ANSWER_TIMEOUT.as_secs())]
    Timeout { address: String },
    #[error("{address}: {source}")]
    Http { address: String, source: hyper::Error },
    #[error("invalid upgrade request for {address}: {source}")]
    Request { address: String, source: http::Error },
    #[error("the upgraded connection to {address} failed: {source}")]
    Upgrade { address: String, source: hyper::Error },
}

/// What the other server answered.
pub enum Dialed {
    /// 101 Switching Protocols: its headers (the protocol it chose) and the connection.
    Switched { headers: HeaderMap, io: Io },
    /// Anything else: its status and (the start of) its body, usually a Status.
    Refused { status: StatusCode, body: Bytes },
}

/// True when the request asks to switch protocols (`Connection: Upgrade` with an `Upgrade`).
pub fn is_upgrade(headers: &HeaderMap) -> bool {
    let connection = headers.get_all(header::CONNECTION).iter().filter_map(|value| value.to_str().ok());
    let asks = connection.flat_map(|value| value.split(',')).any(|token| token.trim().eq_ignore_ascii_case("upgrade"));
    asks && headers.contains_key(header::UPGRADE)
}

/// The upgrade protocol asked for, lower-cased (`websocket`, `spdy/3.1`).
pub fn protocol(headers: &HeaderMap) -> String {
    headers.get(header::UPGRADE).and_then(|value| value.to_str().ok()).unwrap_or_default().trim().to_ascii_lowercase()
}

/// A byte stream to another server, plain or TLS.
trait Stream: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> Stream for T {}

/// How connections to the other server are made: plain TCP, or TLS with a client certificate
/// (the apiserver to kubelets).
#[derive(Clone, Default)]
pub struct Connector {
    tls: Option<tokio_rustls::TlsConnector>,
}

impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connector").field("tls", &self.tls.is_some()).finish()
    }
}

impl Connector {
    pub fn tls(config: Arc<rustls::ClientConfig>) -> Self {
        Self { tls: Some(tokio_rustls::TlsConnector::from(config)) }
    }

    pub fn scheme(&self) -> &'static str {
        if self.tls.is_some() { "https" } else { "http" }
    }

    async fn connect(&self, address: &str) -> Result<Box<dyn Stream>, UpgradeError> {
        let failed = |source| UpgradeError::Connect { address: address.to_string(), source };
        let stream = tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::TcpStream::connect(address))
            .await
            .map_err(|_| failed(std::io::ErrorKind::TimedOut.into()))?
            .map_err(failed)?;
        let _ = stream.set_nodelay(true);
        let Some(tls) = &self.tls else { return Ok(Box::new(stream)) };
        // The server is named by the host part of `host:port` (an IP address for kubelets).
        let host = address.rsplit_once(':').map_or(address, |(host, _)| host).trim_start_matches('[').trim_end_matches(']');
        let name = rustls::pki_types::ServerName::try_from(host.to_string()).map_err(|err| failed(std::io::Error::other(err)))?;
        let stream = tokio::time::timeout(CONNECT_TIMEOUT, tls.connect(name, stream))
            .await
            .map_err(|_| failed(std::io::ErrorKind::TimedOut.into()))?
            .map_err(failed)?;
        Ok(Box::new(stream))
    }
}

/// A GET of `path_and_query` from `address`: the answer, its body still to be read (a followed
/// log streams for as long as the container runs).
pub async fn get(connector: &Connector, address: &str, path_and_query: &str) -> Result<http::Response<hyper::body::Incoming>, UpgradeError> {
    let stream = connector.connect(address).await?;
    let http = |source| UpgradeError::Http { address: address.to_string(), source };
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(http)?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    let mut request = Request::builder()
        .uri(path_and_query)
        .body(Empty::<Bytes>::new())
        .map_err(|source| UpgradeError::Request { address: address.to_string(), source })?;
    if let Ok(host) = HeaderValue::from_str(address) {
        request.headers_mut().insert(header::HOST, host);
    }
    tokio::time::timeout(ANSWER_TIMEOUT, sender.send_request(request))
        .await
        .map_err(|_| UpgradeError::Timeout { address: address.to_string() })?
        .map_err(http)
}

/// Sends an upgrade request to `address` (`host:port`) with `headers` (the client's, as they
/// came: Upgrade, Connection, the WebSocket key and protocols, X-Stream-Protocol-Version) and
/// returns what it answered.
pub async fn dial(connector: &Connector, address: &str, method: Method, path_and_query: &str, headers: &HeaderMap) -> Result<Dialed, UpgradeError> {
    let stream = connector.connect(address).await?;
    let http = |source| UpgradeError::Http { address: address.to_string(), source };
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(http)?;
    tokio::spawn(async move {
        // Ends when the upgrade hands the connection over, or when the server goes away.
        let _ = connection.with_upgrades().await;
    });
    let mut request = Request::builder()
        .method(method)
        .uri(path_and_query)
        .body(Empty::<Bytes>::new())
        .map_err(|source| UpgradeError::Request { address: address.to_string(), source })?;
    for (name, value) in headers {
        if ![header::HOST, header::CONTENT_LENGTH, header::TRANSFER_ENCODING, header::AUTHORIZATION].contains(name) {
            request.headers_mut().append(name, value.clone());
        }
    }
    if let Ok(host) = HeaderValue::from_str(address) {
        request.headers_mut().insert(header::HOST, host);
    }
    let response = tokio::time::timeout(ANSWER_TIMEOUT, sender.send_request(request))
        .await
        .map_err(|_| UpgradeError::Timeout { address: address.to_string() })?
        .map_err(http)?;
    let status = response.status();
    if status != StatusCode::SWITCHING_PROTOCOLS {
        let body = match tokio::time::timeout(ANSWER_TIMEOUT, Limited::new(response.into_body(), REFUSAL_LIMIT).collect()).await {
            Ok(Ok(collected)) => collected.to_bytes(),
            _ => Bytes::new(),
        };
        return Ok(Dialed::Refused { status, body });
    }
    let headers = response.headers().clone();
    let upgraded = hyper::upgrade::on(response).await.map_err(|source| UpgradeError::Upgrade { address: address.to_string(), source })?;
    Ok(Dialed::Switched { headers, io: TokioIo::new(upgraded) })
}

/// Counts the connections a server is splicing or translating, for its metrics and for tests
/// that check that aborted sessions leave nothing open.
#[derive(Clone, Debug, Default)]
pub struct Gauge(Arc<AtomicI64>);

impl Gauge {
    pub fn get(&self) -> i64 {
        self.0.load(Ordering::Relaxed)
    }

    /// Counts one until the returned guard is dropped.
    pub fn hold(&self) -> Held {
        self.0.fetch_add(1, Ordering::Relaxed);
        Held(self.0.clone())
    }
}

pub struct Held(Arc<AtomicI64>);

impl Drop for Held {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The client's side of an upgrade this server answered with 101, once the client has it.
pub async fn accepted(client: OnUpgrade) -> Result<Io, hyper::Error> {
    client.await.map(TokioIo::new)
}

/// How long the server may go on answering after the client has stopped sending.
const LINGER: Duration = Duration::from_secs(2);

/// Waits for the client's side of the upgrade, then copies both ways between it and `io` until
/// the session is over: when the server ends it, or shortly after the client stops sending. A
/// streaming client that half-closes has gone (the protocols close streams in their own
/// frames), and a runtime may keep its side open for ever (containerd does for attach).
pub async fn splice(client: OnUpgrade, io: Io, gauge: Gauge) {
    use tokio::io::AsyncWriteExt;
    let _held = gauge.hold();
    let Ok(upgraded) = client.await else { return };
    let (mut from_client, mut to_client) = tokio::io::split(TokioIo::new(upgraded));
    let (mut from_server, mut to_server) = tokio::io::split(io);
    let up = async {
        let copied = tokio::io::copy(&mut from_client, &mut to_server).await;
        let _ = to_server.shutdown().await;
        copied
    };
    let down = async {
        let copied = tokio::io::copy(&mut from_server, &mut to_client).await;
        let _ = to_client.shutdown().await;
        copied
    };
    tokio::pin!(up, down);
    tokio::select! {
        _ = &mut down => {}
        _ = &mut up => {
            let _ = tokio::time::timeout(LINGER, &mut down).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upgrade_requests_are_recognised() {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONNECTION, HeaderValue::from_static("keep-alive, Upgrade"));
        assert!(!is_upgrade(&headers), "an Upgrade header is needed too");
        headers.insert(header::UPGRADE, HeaderValue::from_static("SPDY/3.1"));
        assert!(is_upgrade(&headers));
        assert_eq!(protocol(&headers), "spdy/3.1");
        headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
        assert!(!is_upgrade(&headers));
    }

    #[test]
    fn the_gauge_counts_what_is_held() {
        let gauge = Gauge::default();
        let first = gauge.hold();
        let second = gauge.hold();
        assert_eq!(gauge.get(), 2);
        drop(first);
        drop(second);
        assert_eq!(gauge.get(), 0);
    }
}
