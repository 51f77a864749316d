//! HTTPS (`--tls-cert-file`, `--tls-private-key-file`): rustls on every accepted connection,
//! then the same HTTP service as plain serving, with upgrades (exec and the like) and a bound on
//! how long a client may take to send its request headers.

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

/// The verifier of client certificates signed by `--client-ca-file`'s authorities.
pub fn client_verifier(ca: &Path) -> Result<Arc<dyn ClientCertVerifier>, TlsError> {
    let bad = |why: String| TlsError::Certificate { path: ca.display().to_string(), why };
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca).map_err(|err| bad(err.to_string()))? {
        roots.add(cert.map_err(|err| bad(err.to_string()))?).map_err(|err| bad(err.to_string()))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider).allow_unauthenticated().build().map_err(|err| bad(err.to_string()))
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

pub fn server_config(cert: &Path, key: &Path, clients: Option<Arc<dyn ClientCertVerifier>>) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<_, _>>())
        .map_err(|err| TlsError::Certificate { path: cert.display().to_string(), why: err.to_string() })?;
    if chain.is_empty() {
        return Err(TlsError::Certificate { path: cert.display().to_string(), why: "no certificate in it".into() });
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|err| TlsError::Key { path: key.display().to_string(), why: err.to_string() })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider).with_safe_default_protocol_versions()?;
    let builder = match clients {
        Some(verifier) => builder.with_client_cert_verifier(Arc::new(RequestCertificate(verifier))),
        None => builder.with_no_client_auth(),
    };
    let mut config = builder.with_single_cert(chain, key)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Serves `app` over TLS until `shutdown` completes.
pub async fn serve(listener: tokio::net::TcpListener, app: Router, config: Arc<rustls::ServerConfig>, shutdown: impl std::future::Future<Output = ()>) -> std::io::Result<()> {
    let acceptor = TlsAcceptor::from(config);
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
            let Ok(Ok(tls)) = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await else {
                tracing::debug!(%peer, "TLS handshake failed or timed out");
                return;
            };
            let certificates = tls.get_ref().1.peer_certificates().map(|certs| PeerCertificates(Arc::new(certs.iter().map(|cert| cert.clone().into_owned()).collect())));
            let service = app.map_request(move |request: hyper::Request<hyper::body::Incoming>| {
                let mut request = request.map(axum::body::Body::new);
                request.extensions_mut().insert(ConnectInfo::<SocketAddr>(peer));
                if let Some(certificates) = &certificates {
                    request.extensions_mut().insert(certificates.clone());
                }
                request
            });
            // HTTP/1.1 only (ALPN offers nothing else): hyper-util's auto builder would first
            // read a preface to choose a protocol, with no deadline, so a client silent after
            // the handshake would hold its connection for ever.
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder.timer(TokioTimer::new()).header_read_timeout(HEADER_TIMEOUT);
            if let Err(err) = builder.serve_connection(TokioIo::new(tls), TowerToHyperService::new(service)).with_upgrades().await {
                tracing::debug!(%peer, error = %err, "connection ended");
            }
        });
    }
}
