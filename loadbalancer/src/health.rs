//! The active health check of one backend: a TLS handshake that verifies the cluster CA and the
//! apiserver's name, then `GET /readyz`. An apiserver that is shutting down fails /readyz at
//! once while it still accepts connections, which a plain TCP check would miss.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::Error;

/// Bytes read for the status line; any real one is far shorter.
const MAX_STATUS_LINE: u64 = 1024;

#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error("connect: {0}")]
    Connect(std::io::Error),
    #[error("TLS handshake: {0}")]
    Handshake(std::io::Error),
    #[error("request: {0}")]
    Request(std::io::Error),
    #[error("no HTTP status line in the answer")]
    Malformed,
    #[error("status {0}")]
    Status(u16),
    #[error("no answer within {0:?}")]
    Timeout(Duration),
}

impl CheckError {
    /// Whether the failure says the apiserver is gone rather than slow: nothing listens on the
    /// port (its process exited) or nothing has the address (its container stopped). Such a
    /// backend is taken out at the first failure.
    pub fn is_definitive(&self) -> bool {
        use std::io::ErrorKind::{ConnectionRefused, HostUnreachable, NetworkUnreachable};
        matches!(self, Self::Connect(error) if matches!(error.kind(), ConnectionRefused | HostUnreachable | NetworkUnreachable))
    }
}

/// Checks backends; cheap to clone, one per concurrent check.
#[derive(Clone)]
pub struct Checker {
    connector: TlsConnector,
    server_name: ServerName<'static>,
    request: Arc<[u8]>,
    timeout: Duration,
}

impl Checker {
    /// A checker trusting the authorities in `ca_file` (PEM) for certificates of `server_name`,
    /// asking for `path`, each check bounded by `timeout`.
    pub fn new(ca_file: &Path, server_name: &str, path: &str, timeout: Duration) -> Result<Self, Error> {
        let bad_ca = |why: String| Error::CaFile { path: ca_file.to_path_buf(), why };
        let mut roots = rustls::RootCertStore::empty();
        for certificate in CertificateDer::pem_file_iter(ca_file).map_err(|error| bad_ca(error.to_string()))? {
            roots.add(certificate.map_err(|error| bad_ca(error.to_string()))?).map_err(|error| bad_ca(error.to_string()))?;
        }
        if roots.is_empty() {
            return Err(bad_ca("no certificate in it".into()));
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let server_name = ServerName::try_from(server_name.to_string()).map_err(|_| Error::ServerName(server_name.to_string()))?;
        if !path.starts_with('/') || path.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(Error::HealthPath(path.to_string()));
        }
        // The Host header names the server as the certificate does; the apiserver refuses a
        // request without one (400), as Go's server does.
        let host = match &server_name {
            ServerName::DnsName(name) => name.as_ref().to_string(),
            ServerName::IpAddress(address) => std::net::IpAddr::from(*address).to_string(),
            _ => String::new(),
        };
        let request = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: loadbalancer\r\nAccept: */*\r\nConnection: close\r\n\r\n");
        Ok(Self { connector: TlsConnector::from(Arc::new(config)), server_name, request: request.into_bytes().into(), timeout })
    }

    /// `Ok` iff the backend answers the health path with 200 within the timeout.
    pub async fn check(&self, address: SocketAddr) -> Result<(), CheckError> {
        tokio::time::timeout(self.timeout, self.check_unbounded(address)).await.map_err(|_| CheckError::Timeout(self.timeout))?
    }

    async fn check_unbounded(&self, address: SocketAddr) -> Result<(), CheckError> {
        let stream = TcpStream::connect(address).await.map_err(CheckError::Connect)?;
        let _ = stream.set_nodelay(true);
        let mut tls = self.connector.connect(self.server_name.clone(), stream).await.map_err(CheckError::Handshake)?;
        tls.write_all(&self.request).await.map_err(CheckError::Request)?;
        tls.flush().await.map_err(CheckError::Request)?;
        let mut line = Vec::new();
        BufReader::new(tls.take(MAX_STATUS_LINE)).read_until(b'\n', &mut line).await.map_err(CheckError::Request)?;
        match status(&line) {
            Some(200) => Ok(()),
            Some(code) => Err(CheckError::Status(code)),
            None => Err(CheckError::Malformed),
        }
    }
}

/// The code of an HTTP/1.x status line (`HTTP/1.1 200 OK`).
fn status(line: &[u8]) -> Option<u16> {
    let line = std::str::from_utf8(line).ok()?;
    let mut parts = line.trim_end_matches(['\r', '\n']).splitn(3, ' ');
    let version = parts.next()?;
    let code = parts.next()?;
    (version.starts_with("HTTP/1.") && code.len() == 3).then(|| code.parse().ok()).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines() {
        let cases: &[(&[u8], Option<u16>)] = &[
            (b"HTTP/1.1 200 OK\r\n", Some(200)),
            (b"HTTP/1.0 200\r\n", Some(200)),
            (b"HTTP/1.1 500 Internal Server Error\r\n", Some(500)),
            (b"HTTP/1.1 503 Service Unavailable", Some(503)),
            (b"HTTP/2 200\r\n", None),
            (b"HTTP/1.1 2000 OK\r\n", None),
            (b"HTTP/1.1 abc OK\r\n", None),
            (b"SSH-2.0-OpenSSH\r\n", None),
            (b"", None),
            (b"\xff\xfe", None),
        ];
        for (line, expected) in cases {
            assert_eq!(status(line), *expected, "{:?}", String::from_utf8_lossy(line));
        }
    }

    #[test]
    fn refusal_and_unreachability_are_definitive() {
        use std::io::ErrorKind;
        assert!(CheckError::Connect(ErrorKind::ConnectionRefused.into()).is_definitive());
        assert!(CheckError::Connect(ErrorKind::HostUnreachable.into()).is_definitive());
        assert!(!CheckError::Connect(ErrorKind::TimedOut.into()).is_definitive());
        assert!(!CheckError::Timeout(Duration::from_secs(1)).is_definitive());
        assert!(!CheckError::Status(500).is_definitive());
    }
}
