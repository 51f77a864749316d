//! Hostile clients against the real apiserver on HTTPS with client certificates, a token file
//! and RBAC: malformed certificates and bearer tokens, oversized headers, slow and silent
//! clients, idle connections. Each must end in a refusal (a failed handshake, a closed
//! connection, 401, 431) within a bound, never in a panic or a hang, and the server must go on
//! answering others promptly. The bounds are generous: they tell a hang from an answer, they
//! are not measurements.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::testing::pki::{self, Authority};
use common::testing::{ApiServer, Storage};
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper::header::{AUTHORIZATION, HOST, HeaderName, HeaderValue};
use hyper_util::rt::TokioIo;
use rustls::client::ResolvesClientCert;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use rustls::sign::CertifiedKey;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

/// The server's bound on the TLS handshake and on the request headers (apiserver/src/tls.rs),
/// and how much later than that a slow client must have been cut off.
const SERVER_TIMEOUT: Duration = Duration::from_secs(10);
const CUT_OFF_BY: Duration = Duration::from_secs(15);
/// What tells "answered" from "hung" for one request.
const PROMPT: Duration = Duration::from_secs(2);
/// How long one exchange may take before the test calls it a hang.
const EXCHANGE_LIMIT: Duration = Duration::from_secs(20);

const ADMIN_TOKEN: &str = "admin-token";

/// The apiserver binary on HTTPS with `--client-ca-file`, `--token-auth-file` and RBAC.
struct Server {
    apiserver: ApiServer,
    /// Holds the client CA's certificate and the token file.
    _dir: tempfile::TempDir,
    /// The authority `--client-ca-file` names.
    client_ca: Authority,
}

/// How one exchange ended.
#[derive(Debug)]
enum Outcome {
    Answered(u16, Bytes),
    /// The handshake failed or the connection closed before an answer (why, for the failure
    /// messages, which print it through Debug).
    Closed(#[allow(dead_code)] String),
    TimedOut,
}

impl Server {
    async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = |name: &str| dir.path().join(name);
        let client_ca = Authority::new("hostile-test-ca").unwrap();
        client_ca.write(&path("client-ca.crt")).unwrap();
        std::fs::write(path("tokens.csv"), format!("{ADMIN_TOKEN},admin,1,\"system:masters\"\njane-token,jane,2\n")).unwrap();
        let shown = |name: &str| path(name).display().to_string();
        let args: [&str; 3] = [&format!("--client-ca-file={}", shown("client-ca.crt")), &format!("--token-auth-file={}", shown("tokens.csv")), "--authorization-mode=RBAC"];
        // The harness waits for readiness with blocking sleeps.
        let apiserver = tokio::task::block_in_place(|| ApiServer::start_https(Storage::Embedded, &args)).expect("apiserver");
        Self { apiserver, _dir: dir, client_ca }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.apiserver.log_path()).unwrap_or_default()
    }

    /// A client configuration that trusts the server and presents `identity`, if any, whatever
    /// it holds: rustls checks nothing of a certificate it is handed this way.
    fn tls(&self, identity: Option<Arc<CertifiedKey>>) -> Arc<rustls::ClientConfig> {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(CertificateDer::from(self.apiserver.tls_certificate().unwrap().der().to_vec())).unwrap();
        let builder = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots);
        Arc::new(match identity {
            Some(identity) => builder.with_client_cert_resolver(Arc::new(Present(identity))),
            None => builder.with_no_client_auth(),
        })
    }

    /// A TLS connection, handshake done (from the client's side: in TLS 1.3 the server judges the
    /// client's certificate after the client has finished).
    async fn connect(&self, tls: &Arc<rustls::ClientConfig>) -> std::io::Result<TlsStream<TcpStream>> {
        let tcp = TcpStream::connect(self.apiserver.address()).await?;
        let name = ServerName::try_from("127.0.0.1").map_err(std::io::Error::other)?;
        TlsConnector::from(tls.clone()).connect(name, tcp).await
    }

    /// One request on a new connection.
    async fn send(&self, tls: &Arc<rustls::ClientConfig>, request: Request<Full<Bytes>>) -> Outcome {
        let exchange = async {
            let stream = self.connect(tls).await.map_err(|err| format!("handshake: {err}"))?;
            let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(|err| err.to_string())?;
            let driver = tokio::spawn(connection);
            let response = sender.send_request(request).await.map_err(|err| format!("request: {err}"))?;
            let status = response.status().as_u16();
            let body = response.into_body().collect().await.map_err(|err| format!("body: {err}"))?.to_bytes();
            driver.abort();
            Ok::<_, String>((status, body))
        };
        match tokio::time::timeout(EXCHANGE_LIMIT, exchange).await {
            Ok(Ok((status, body))) => Outcome::Answered(status, body),
            Ok(Err(why)) => Outcome::Closed(why),
            Err(_) => Outcome::TimedOut,
        }
    }

    /// How long the administrator's list of namespaces takes; it must succeed.
    async fn serves(&self) -> Duration {
        let started = Instant::now();
        let outcome = self.send(&self.tls(None), get("/api/v1/namespaces").header(AUTHORIZATION, format!("Bearer {ADMIN_TOKEN}")).body(Full::default()).unwrap()).await;
        assert!(matches!(outcome, Outcome::Answered(200, _)), "the server no longer serves a good request: {outcome:?}\n{}", self.log());
        started.elapsed()
    }

    /// The server still serves, promptly, and has neither exited nor panicked.
    async fn assert_unharmed(&mut self) {
        let took = self.serves().await;
        assert!(took < PROMPT, "a good request took {took:?}");
        assert!(self.apiserver.is_running(), "the apiserver exited:\n{}", self.log());
        let log = self.log();
        assert!(!log.contains("panicked"), "the apiserver panicked:\n{log}");
    }
}

fn get(path: &str) -> hyper::http::request::Builder {
    Request::get(path).header(HOST, "127.0.0.1")
}

/// Hands rustls one certificate chain and key, unchecked.
#[derive(Debug)]
struct Present(Arc<CertifiedKey>);

impl ResolvesClientCert for Present {
    fn resolve(&self, _: &[&[u8]], _: &[rustls::SignatureScheme]) -> Option<Arc<CertifiedKey>> {
        Some(self.0.clone())
    }

    fn has_certs(&self) -> bool {
        true
    }
}

/// A chain of arbitrary bytes, signed for with `key`.
fn identity(chain: Vec<Vec<u8>>, key: &rcgen::KeyPair) -> Arc<CertifiedKey> {
    let der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let signer = rustls::crypto::ring::sign::any_supported_type(&der).unwrap();
    Arc::new(CertifiedKey::new(chain.into_iter().map(CertificateDer::from).collect(), signer))
}

fn signed(params: rcgen::CertificateParams, by: &Authority) -> (Vec<u8>, rcgen::KeyPair) {
    let certificate = by.sign(params).unwrap();
    (certificate.der().to_vec(), certificate.into_key())
}

fn self_signed(params: rcgen::CertificateParams) -> (Vec<u8>, rcgen::KeyPair) {
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    (cert.der().to_vec(), key)
}

fn admin_subject() -> Vec<(rcgen::DnType, rcgen::DnValue)> {
    vec![(rcgen::DnType::CommonName, "admin".into()), (rcgen::DnType::OrganizationName, "system:masters".into())]
}

/// Asserts a 401 body is Kubernetes' Status for it.
fn assert_unauthorized_status(body: &[u8], case: &str) {
    let status: Value = serde_json::from_slice(body).unwrap_or_else(|err| panic!("{case}: the 401 body is not JSON ({err}): {}", String::from_utf8_lossy(body)));
    assert_eq!(
        (&status["kind"], &status["apiVersion"], &status["status"], &status["code"], &status["reason"]),
        (&Value::from("Status"), &Value::from("v1"), &Value::from("Failure"), &Value::from(401), &Value::from("Unauthorized")),
        "{case}: {status}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_client_certificates_fail_the_handshake_or_get_401() {
    let mut server = Server::start().await;
    let (good, good_key) = signed(pki::client_params(admin_subject()), &server.client_ca);
    // The good certificate works, so that the refusals below are the certificates' doing.
    let outcome = server.send(&server.tls(Some(identity(vec![good.clone()], &good_key))), get("/api/v1/namespaces").body(Full::default()).unwrap()).await;
    assert!(matches!(outcome, Outcome::Answered(200, _)), "a good client certificate: {outcome:?}");

    let mut tampered = good.clone();
    let at = tampered.windows(5).position(|window| window == b"admin").expect("the CN in the DER");
    tampered[at + 4] = b'x';
    let mut misframed = good.clone();
    misframed[2] ^= 0x40;
    let (inverted, inverted_key) = self_signed({
        let mut params = pki::client_params(admin_subject());
        params.not_before = rcgen::date_time_ymd(2030, 1, 1);
        params.not_after = rcgen::date_time_ymd(2020, 1, 1);
        params
    });
    let (masters, masters_key) = self_signed(pki::client_params(admin_subject()));
    let (nameless, nameless_key) = self_signed(pki::client_params(Vec::new()));
    let (bloated, bloated_key) = self_signed(pki::client_params(
        std::iter::once((rcgen::DnType::CommonName, rcgen::DnValue::from("a".repeat(10_000))))
            .chain((0..500).map(|i| (rcgen::DnType::OrganizationName, rcgen::DnValue::from(format!("group-{i}")))))
            .collect(),
    ));
    let stranger = rcgen::KeyPair::generate().unwrap();
    let cases: Vec<(&str, Arc<CertifiedKey>)> = vec![
        ("bytes that are no DER at all", identity(vec![b"this is not a certificate".to_vec()], &stranger)),
        ("a DER header claiming 16 MiB, then nothing", identity(vec![vec![0x30, 0x83, 0xff, 0xff, 0xff, 0x02, 0x01]], &stranger)),
        ("an empty certificate", identity(vec![Vec::new()], &stranger)),
        ("the good certificate cut in half", identity(vec![good[..good.len() / 2].to_vec()], &good_key)),
        ("the good certificate with its outer length changed", identity(vec![misframed], &good_key)),
        ("the good certificate with one byte of its CN changed (the signature no longer holds)", identity(vec![tampered], &good_key)),
        ("the good certificate without its key (signed for with another)", identity(vec![good.clone()], &stranger)),
        ("self-signed, CN admin, O system:masters", identity(vec![masters], &masters_key)),
        ("self-signed, valid from 2030 to 2020", identity(vec![inverted], &inverted_key)),
        ("self-signed, with an empty subject", identity(vec![nameless], &nameless_key)),
        ("self-signed, a 10,000-byte CN and 500 O values", identity(vec![bloated], &bloated_key)),
        ("the client CA's own certificate, with its key", identity(vec![server.client_ca.certificate().der().to_vec()], server.client_ca.certificate().key())),
    ];
    for (case, certified) in cases {
        let started = Instant::now();
        let outcome = server.send(&server.tls(Some(certified)), get("/api/v1/namespaces").body(Full::default()).unwrap()).await;
        match &outcome {
            Outcome::Closed(_) => {}
            Outcome::Answered(401, body) => assert_unauthorized_status(body, case),
            _ => panic!("{case}: expected a failed handshake or 401, got {outcome:?}"),
        }
        assert!(started.elapsed() < PROMPT, "{case}: the refusal took {:?}", started.elapsed());
        server.assert_unharmed().await;
    }

    // A valid leaf followed by garbage "intermediates": Go's TLS stack refuses to parse such a
    // chain; trusting the leaf alone is as good. Either way, no panic, no hang.
    let outcome = server.send(&server.tls(Some(identity(vec![good, b"junk".to_vec(), Vec::new()], &good_key))), get("/api/v1/namespaces").body(Full::default()).unwrap()).await;
    assert!(matches!(outcome, Outcome::Closed(_) | Outcome::Answered(200 | 401, _)), "a good leaf with junk after it: {outcome:?}");
    server.assert_unharmed().await;
}

/// Kubernetes reads a certificate without a CN as no credentials at all (`CommonNameUserConversion`
/// answers "not authenticated" without an error), so the request goes on as it would without a
/// certificate: anonymous where anonymous may go, refused elsewhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_without_a_common_name_counts_as_no_credentials() {
    let mut server = Server::start().await;
    let no_cn = signed(pki::client_params(vec![(rcgen::DnType::OrganizationName, "system:masters".into())]), &server.client_ca);
    let empty_cn = signed(pki::client_params(vec![(rcgen::DnType::CommonName, "".into()), (rcgen::DnType::OrganizationName, "system:masters".into())]), &server.client_ca);
    let mut mismatches = Vec::new();
    for (case, (cert, key)) in [("no CN attribute", no_cn), ("an empty CN", empty_cn)] {
        for path in ["/api/v1/namespaces", "/healthz", "/version"] {
            let without = server.send(&server.tls(None), get(path).body(Full::default()).unwrap()).await;
            let with = server.send(&server.tls(Some(identity(vec![cert.clone()], &key))), get(path).body(Full::default()).unwrap()).await;
            let status = |outcome: &Outcome| match outcome {
                Outcome::Answered(code, _) => Some(*code),
                _ => None,
            };
            if path == "/api/v1/namespaces" {
                assert_ne!(status(&with), Some(200), "{case}: a nameless certificate must not act as system:masters");
            }
            if status(&with) != status(&without) {
                mismatches.push(format!("{case}, GET {path}: {:?} with the certificate, {:?} without one", status(&with), status(&without)));
            }
        }
    }
    server.assert_unharmed().await;
    assert!(
        mismatches.is_empty(),
        "MISMATCH with Kubernetes: a CA-signed certificate without a CN should count as no credentials (anonymous on the public paths), \
         but the authenticator (apiserver/src/auth.rs, certificate_user: `if name.is_empty() {{ return Err(()) }}`) refuses it as bad ones:\n{}",
        mismatches.join("\n")
    );
}

/// Go's x509 parser decodes a BMPString (UTF-16) subject value; a CN in one names the same user
/// as in UTF8String.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_common_name_in_a_bmp_string_names_the_user_as_on_kubernetes() {
    let mut server = Server::start().await;
    let bmp = rcgen::DnValue::BmpString(rcgen::BmpString::try_from("jane").unwrap());
    let (cert, key) = signed(pki::client_params(vec![(rcgen::DnType::CommonName, bmp)]), &server.client_ca);
    let outcome = server.send(&server.tls(Some(identity(vec![cert], &key))), get("/api/v1/namespaces/default/configmaps").body(Full::default()).unwrap()).await;
    server.assert_unharmed().await;
    let Outcome::Answered(403, body) = &outcome else { panic!("jane may not list configmaps: expected 403, got {outcome:?}") };
    let status: Value = serde_json::from_slice(body).unwrap();
    let message = status["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("User \"jane\" cannot list"),
        "MISMATCH with Kubernetes: a CN encoded as BMPString should name the user \"jane\" (Go decodes UTF-16), but the authenticator \
         (apiserver/src/auth.rs, subject(): String::from_utf8_lossy on any string type) reads its raw bytes: {message:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_bearer_tokens_get_401_with_a_status() {
    let mut server = Server::start().await;
    let base64url = |text: &str| {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
    };
    let unsigned_jwt = format!(
        "{}.{}.",
        base64url(r#"{"alg":"none","typ":"JWT"}"#),
        base64url(r#"{"iss":"kubernetes/serviceaccount","sub":"system:serviceaccount:kube-system:default","groups":["system:masters"]}"#)
    );
    let cases: Vec<(&str, HeaderValue)> = vec![
        ("an empty bearer token", HeaderValue::from_static("Bearer ")),
        ("no token, not even the scheme's space", HeaderValue::from_static("Bearer")),
        ("non-ASCII bytes", HeaderValue::from_bytes(b"Bearer \xff\xfe\x80admin-token").unwrap()),
        ("a 64 KiB token", HeaderValue::from_str(&format!("Bearer {}", "a".repeat(64 * 1024))).unwrap()),
        ("three dot-separated segments of garbage", HeaderValue::from_static("Bearer eyJ!!.@@@@.$$$$")),
        ("a JWT with alg none and no signature", HeaderValue::from_str(&format!("Bearer {unsigned_jwt}")).unwrap()),
        ("the right token after another scheme", HeaderValue::from_str(&format!("Basic {ADMIN_TOKEN}")).unwrap()),
        ("the right token with a suffix", HeaderValue::from_str(&format!("Bearer {ADMIN_TOKEN}x")).unwrap()),
    ];
    for (case, value) in cases {
        let outcome = server.send(&server.tls(None), get("/api/v1/namespaces").header(AUTHORIZATION, value).body(Full::default()).unwrap()).await;
        let Outcome::Answered(401, body) = &outcome else { panic!("{case}: expected 401, got {outcome:?}") };
        assert_unauthorized_status(body, case);
    }
    server.assert_unharmed().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_headers_are_refused_quickly() {
    let mut server = Server::start().await;
    // Go's server reads up to MaxHeaderBytes (1 MiB) plus 4 KiB of request head; past that, 431.
    let one_huge = get("/api/v1/namespaces").header(AUTHORIZATION, format!("Bearer {ADMIN_TOKEN}")).header("x-huge", "a".repeat(1024 * 1024 + 8 * 1024));
    let mut many = get("/api/v1/namespaces").header(AUTHORIZATION, format!("Bearer {ADMIN_TOKEN}"));
    for i in 0..10_000 {
        many = many.header(HeaderName::try_from(format!("x-filler-{i}")).unwrap(), "a");
    }
    for (case, request) in [("one header of 1 MiB and 8 KiB", one_huge), ("10,000 headers", many)] {
        let started = Instant::now();
        let outcome = server.send(&server.tls(None), request.body(Full::default()).unwrap()).await;
        assert!(matches!(outcome, Outcome::Answered(431 | 400, _) | Outcome::Closed(_)), "{case}: expected 431, 400 or a closed connection, got {outcome:?}");
        assert!(started.elapsed() < Duration::from_secs(5), "{case}: the refusal took {:?}", started.elapsed());
        server.assert_unharmed().await;
    }
}

/// Waits until the server closes `stream` (end of stream or an error), reading and discarding
/// whatever it sends first; None if it is still open after `limit`.
async fn closed_within<R: tokio::io::AsyncRead + Unpin>(mut stream: R, limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    let mut buffer = [0u8; 4096];
    tokio::time::timeout(limit, async {
        while let Ok(1..) = stream.read(&mut buffer).await {}
    })
    .await
    .ok()
    .map(|()| started.elapsed())
}

/// Good requests, one every 500 ms until `done`; the slowest one's time.
async fn keep_asking(server: &Server, done: &tokio::sync::Notify) -> Duration {
    let mut slowest = Duration::ZERO;
    loop {
        slowest = slowest.max(server.serves().await);
        tokio::select! {
            () = done.notified() => return slowest,
            () = tokio::time::sleep(Duration::from_millis(500)) => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_and_silent_clients_are_cut_off_while_others_are_served() {
    let mut server = Server::start().await;
    // Slowloris over TLS: request headers one byte a second, never finished.
    let stream = server.connect(&server.tls(None)).await.unwrap();
    let (reader, mut writer) = tokio::io::split(stream);
    let trickle = tokio::spawn(async move {
        for byte in format!("GET /api/v1/namespaces HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {ADMIN_TOKEN}\r\nX-Slow: ").bytes() {
            if writer.write_all(&[byte]).await.is_err() || writer.flush().await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        std::future::pending::<()>().await;
    });
    // A client that opens TCP and sends nothing.
    let silent = TcpStream::connect(server.apiserver.address()).await.unwrap();

    let done = tokio::sync::Notify::new();
    let cut_off = async {
        let closed = tokio::join!(closed_within(reader, EXCHANGE_LIMIT), closed_within(silent, EXCHANGE_LIMIT));
        done.notify_one();
        closed
    };
    let ((slowloris, silent), slowest) = tokio::join!(cut_off, keep_asking(&server, &done));
    trickle.abort();
    assert!(slowloris.is_some_and(|after| after < CUT_OFF_BY), "a client sending its headers a byte a second was not cut off (header timeout {SERVER_TIMEOUT:?}): {slowloris:?}");
    assert!(silent.is_some_and(|after| after < CUT_OFF_BY), "a client that sends nothing was not cut off (handshake timeout {SERVER_TIMEOUT:?}): {silent:?}");
    assert!(slowest < PROMPT, "a good request during the slow clients took {slowest:?}");
    server.assert_unharmed().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_silent_after_the_handshake_are_cut_off() {
    let mut server = Server::start().await;
    let tls = server.tls(None);
    let silent = server.connect(&tls).await.unwrap();
    // The first bytes of the HTTP/2 preface, then nothing.
    let mut preface = server.connect(&tls).await.unwrap();
    preface.write_all(b"PRI * HTTP/2.0\r\n").await.unwrap();
    preface.flush().await.unwrap();
    let (silent, preface) = tokio::join!(closed_within(silent, EXCHANGE_LIMIT), closed_within(preface, EXCHANGE_LIMIT));
    server.assert_unharmed().await;
    assert!(
        silent.is_some_and(|after| after < CUT_OFF_BY) && preface.is_some_and(|after| after < CUT_OFF_BY),
        "BUG: a client that completes the TLS handshake and then sends nothing (closed after {silent:?}), or only the start of the HTTP/2 \
         preface (closed after {preface:?}), is never cut off: hyper-util's auto::Builder first reads up to 24 bytes to tell HTTP/2 from \
         HTTP/1 (ReadVersion), without a deadline, and the HTTP/1 header_read_timeout only starts after that; `http1_only()` does \
         not help, serve_connection_with_upgrades reads the version regardless (apiserver/src/tls.rs, serve; hyper's own \
         server::conn::http1::Builder with the timer and header_read_timeout, `.serve_connection(..).with_upgrades()`, has no such phase)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_do_not_keep_others_from_being_served() {
    let mut server = Server::start().await;
    let tls = server.tls(None);
    let mut idle_tcp = Vec::new();
    let mut idle_tls = Vec::new();
    for _ in 0..100 {
        idle_tcp.push(TcpStream::connect(server.apiserver.address()).await.unwrap());
        idle_tls.push(server.connect(&tls).await.unwrap());
    }
    let took = server.serves().await;
    assert!(took < PROMPT, "a good request beside 200 idle connections took {took:?}");
    drop((idle_tcp, idle_tls));
    server.assert_unharmed().await;
}
