//! HTTPS for the servers (the apiserver, the kubelet) and their clients: rustls with ring on
//! every accepted connection, then the same HTTP service as plain serving, with upgrades (exec
//! and the like) and bounds on the handshake and on how long a client may take to send its
//! request headers; client certificates, and the subject Kubernetes reads from them.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use rustls::pki_types::pem::PemObject;
use rustls::DigitallySignedStruct;
use rustls::client::danger::HandshakeSignatureValid;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

/// How long a client has for the TLS handshake, and then for its request headers.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read the certificate {path}: {why}")]
    Certificate { path: String, why: String },
    #[error("cannot read the private key {path}: {why}")]
    Key { path: String, why: String },
    #[error("the certificate and key do not make a TLS configuration: {0}")]
    Config(#[from] rustls::Error),
}

/// The certificates a client presented, for the x509 authenticator to check.
#[derive(Clone, Debug)]
pub struct PeerCertificates(pub Arc<Vec<CertificateDer<'static>>>);

fn roots(ca: &Path) -> Result<rustls::RootCertStore, TlsError> {
    let bad = |why: String| TlsError::Certificate { path: ca.display().to_string(), why };
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca).map_err(|err| bad(err.to_string()))? {
        roots.add(cert.map_err(|err| bad(err.to_string()))?).map_err(|err| bad(err.to_string()))?;
    }
    Ok(roots)
}

/// The verifier of client certificates signed by the authorities in `ca` (PEM).
pub fn client_verifier(ca: &Path) -> Result<Arc<dyn ClientCertVerifier>, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    WebPkiClientVerifier::builder_with_provider(Arc::new(roots(ca)?), provider)
        .allow_unauthenticated()
        .build()
        .map_err(|err| TlsError::Certificate { path: ca.display().to_string(), why: err.to_string() })
}

/// A client that trusts the authorities in `ca` and presents `cert` with `key`.
pub fn client_config(ca: &Path, cert: &Path, key: &Path) -> Result<Arc<rustls::ClientConfig>, TlsError> {
    let (chain, key) = (chain(cert)?, private_key(key)?);
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots(ca)?)
        .with_client_auth_cert(chain, key)?;
    Ok(Arc::new(config))
}

fn chain(cert: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<_, _>>())
        .map_err(|err| TlsError::Certificate { path: cert.display().to_string(), why: err.to_string() })?;
    if chain.is_empty() {
        return Err(TlsError::Certificate { path: cert.display().to_string(), why: "no certificate in it".into() });
    }
    Ok(chain)
}

fn private_key(key: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_file(key).map_err(|err| TlsError::Key { path: key.display().to_string(), why: err.to_string() })
}

/// Asks clients for a certificate and checks that they hold its key, but leaves the chain to
/// the authenticator, as kube-apiserver does: a certificate it does not trust gets 401, not a
/// failed handshake.
#[derive(Debug)]
struct RequestCertificate(Arc<dyn ClientCertVerifier>);

impl ClientCertVerifier for RequestCertificate {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[rustls::DistinguishedName] {
        self.0.root_hint_subjects()
    }

    fn verify_client_cert(&self, _: &CertificateDer<'_>, _: &[CertificateDer<'_>], _: UnixTime) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(&self, message: &[u8], cert: &CertificateDer<'_>, dss: &DigitallySignedStruct) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(&self, message: &[u8], cert: &CertificateDer<'_>, dss: &DigitallySignedStruct) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// Whether and how clients present certificates.
pub enum ClientAuth {
    None,
    /// Asked for; the chain is the application's to check (the apiserver answers 401).
    Requested(Arc<dyn ClientCertVerifier>),
    /// Asked for and, when presented, checked at the handshake; the server answers 401 to a
    /// client without one, as the kubelet does.
    Verified(Arc<dyn ClientCertVerifier>),
}

pub fn server_config(cert: &Path, key: &Path, clients: ClientAuth) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let (chain, key) = (chain(cert)?, private_key(key)?);
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider).with_safe_default_protocol_versions()?;
    let builder = match clients {
        ClientAuth::Requested(verifier) => builder.with_client_cert_verifier(Arc::new(RequestCertificate(verifier))),
        ClientAuth::Verified(verifier) => builder.with_client_cert_verifier(verifier),
        ClientAuth::None => builder.with_no_client_auth(),
    };
    let mut config = builder.with_single_cert(chain, key)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Go's server has no bound on the number of header fields, only on their bytes; hyper needs
/// one (it sizes a table for each request by it), so this is generous: ten times hyper's
/// default. The bytes of a request head are bounded by hyper's read buffer (about 400 KiB),
/// under Go's 1 MiB: a larger buffer would also hold more of every request body at once
/// (hyper reads bodies through it), and no client sends heads of that size.
const MAX_HEADERS: usize = 1024;

/// Serves `app` over TLS until `shutdown` completes.
pub async fn serve(listener: tokio::net::TcpListener, app: Router, config: Arc<rustls::ServerConfig>, shutdown: impl std::future::Future<Output = ()>) -> std::io::Result<()> {
    accept(listener, app, Some(TlsAcceptor::from(config)), shutdown).await
}

/// Serves `app` over plain HTTP until `shutdown` completes, with the same bounds as [`serve`].
pub async fn serve_plain(listener: tokio::net::TcpListener, app: Router, shutdown: impl std::future::Future<Output = ()>) -> std::io::Result<()> {
    accept(listener, app, None, shutdown).await
}

async fn accept(listener: tokio::net::TcpListener, app: Router, acceptor: Option<TlsAcceptor>, shutdown: impl std::future::Future<Output = ()>) -> std::io::Result<()> {
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                // Out of descriptors and the like: go on with the next connection.
                Err(err) => {
                    tracing::warn!(error = %err, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => return Ok(()),
        };
        let (acceptor, app) = (acceptor.clone(), app.clone());
        tokio::spawn(async move {
            let _ = stream.set_nodelay(true);
            let Some(acceptor) = acceptor else {
                serve_connection(stream, peer, None, app).await;
                return;
            };
            let Ok(Ok(tls)) = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await else {
                tracing::debug!(%peer, "TLS handshake failed or timed out");
                return;
            };
            let certificates = tls.get_ref().1.peer_certificates().map(|certs| PeerCertificates(Arc::new(certs.iter().map(|cert| cert.clone().into_owned()).collect())));
            serve_connection(tls, peer, certificates, app).await;
        });
    }
}

/// HTTP/1.1 on one connection (ALPN offers nothing else): hyper-util's auto builder would first
/// read a preface to choose a protocol, with no deadline, so a client silent after connecting
/// would hold its connection for ever.
async fn serve_connection<IO>(io: IO, peer: SocketAddr, certificates: Option<PeerCertificates>, app: Router)
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = tower::service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
        let mut request = request.map(axum::body::Body::new);
        request.extensions_mut().insert(ConnectInfo::<SocketAddr>(peer));
        if let Some(certificates) = &certificates {
            request.extensions_mut().insert(certificates.clone());
        }
        let app = app.clone();
        async move {
            if let Some(refusal) = host_refusal(&request) {
                return Ok(refusal);
            }
            app.oneshot(request).await
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(HEADER_TIMEOUT).max_headers(MAX_HEADERS);
    if let Err(err) = builder.serve_connection(TokioIo::new(io), TowerToHyperService::new(service)).with_upgrades().await {
        tracing::debug!(%peer, error = %err, "connection ended");
    }
}

/// Go's server refuses an HTTP/1.1 request without exactly one Host header, before any
/// handler sees it: `400 Bad Request: missing required Host header` or `too many Host headers`,
/// as plain text, closing the connection.
fn host_refusal(request: &axum::extract::Request) -> Option<axum::response::Response> {
    if request.version() != hyper::Version::HTTP_11 {
        return None;
    }
    let why = match request.headers().get_all(hyper::header::HOST).iter().count() {
        1 => return None,
        0 => "missing required Host header",
        _ => "too many Host headers",
    };
    let mut response = axum::response::Response::new(axum::body::Body::from(format!("400 Bad Request: {why}")));
    *response.status_mut() = hyper::StatusCode::BAD_REQUEST;
    let headers = response.headers_mut();
    headers.insert(hyper::header::CONTENT_TYPE, hyper::header::HeaderValue::from_static("text/plain; charset=utf-8"));
    headers.insert(hyper::header::CONNECTION, hyper::header::HeaderValue::from_static("close"));
    Some(response)
}

/// One DER element: its tag, its contents and what follows it.
fn element(der: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = der.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (length, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 || rest.len() < count {
            return None;
        }
        let length = rest[..count].iter().fold(0usize, |length, byte| (length << 8) | usize::from(*byte));
        (length, &rest[count..])
    };
    (rest.len() >= length).then(|| (tag, &rest[..length], &rest[length..]))
}

/// A certificate's subject CN and O values (the user and groups Kubernetes reads from it).
pub fn subject(der: &[u8]) -> Option<(String, Vec<String>)> {
    const SEQUENCE: u8 = 0x30;
    let (SEQUENCE, certificate, _) = element(der)? else { return None };
    let (SEQUENCE, tbs, _) = element(certificate)? else { return None };
    let mut rest = tbs;
    // [0] version (optional), serial number, signature algorithm, issuer, validity, subject.
    let (tag, _, after) = element(rest)?;
    if tag == 0xa0 {
        rest = after;
    }
    for _ in 0..4 {
        rest = element(rest)?.2;
    }
    let (SEQUENCE, mut names, _) = element(rest)? else { return None };
    let (mut common_name, mut organizations) = (String::new(), Vec::new());
    while !names.is_empty() {
        let (_, set, after) = element(names)?;
        names = after;
        let mut attributes = set;
        while !attributes.is_empty() {
            let (_, attribute, after) = element(attributes)?;
            attributes = after;
            let (0x06, oid, value) = element(attribute)? else { return None };
            let (string_type, text, _) = element(value)?;
            let text = directory_string(string_type, text)?;
            match oid {
                [0x55, 0x04, 0x03] => common_name = text,
                [0x55, 0x04, 0x0a] => organizations.push(text),
                _ => {}
            }
        }
    }
    Some((common_name, organizations))
}

/// An X.509 DirectoryString as Go decodes it: UTF8String must be UTF-8, BMPString is UTF-16,
/// the others (Printable, IA5, Teletex) are read as single bytes.
fn directory_string(string_type: u8, bytes: &[u8]) -> Option<String> {
    const UTF8_STRING: u8 = 0x0c;
    const BMP_STRING: u8 = 0x1e;
    match string_type {
        UTF8_STRING => String::from_utf8(bytes.to_vec()).ok(),
        BMP_STRING => {
            let units: Vec<u16> = bytes.chunks(2).map(|pair| if let [high, low] = pair { Some(u16::from_be_bytes([*high, *low])) } else { None }).collect::<Option<_>>()?;
            String::from_utf16(&units).ok()
        }
        _ => Some(bytes.iter().map(|byte| char::from(*byte)).collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificate_subjects_give_the_user_and_groups() {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(rcgen::DnType::CommonName, "system:node:worker");
        params.distinguished_name.push(rcgen::DnType::OrganizationName, "system:nodes");
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        assert_eq!(subject(cert.der()), Some(("system:node:worker".to_string(), vec!["system:nodes".to_string()])));
        // Garbage and truncations are refusals, never panics.
        assert_eq!(subject(b"\x30\x82\xff"), None);
        for cut in 0..cert.der().len() {
            let _ = subject(&cert.der()[..cut]);
        }
    }
}
