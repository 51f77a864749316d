//! Hostile clients against the real apiserver on HTTPS with client certificates, a token file
//! and RBAC: malformed certificates and bearer tokens, oversized headers, slow and silent
//! clients, idle connections. Each must end in a refusal (a failed handshake, a closed
//! connection, 401, 431) within a bound, never in a panic or a hang, and the server must go on
//! answering others promptly. The bounds are generous: they tell a hang from an answer, they
//! are not measurements.
//!
//! Then requests that must be parsed as kube-apiserver parses them (issue 19), each expecting
//! kube-apiserver's answer: empty, dot and encoded path segments and repeated or encoded query
//! parameters (authorization must judge the request the router serves), malformed Scales,
//! stalled and oversized bodies, a YAML alias bomb, Host and header counts, and smaller
//! decoding differences.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::testing::pki::{self, Authority};
use common::testing::{ApiServer, Storage};
use http_body_util::{BodyExt, Full};
use hyper::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HOST, HeaderName, HeaderValue};
use hyper::{HeaderMap, Method, Request};
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
/// A user with no role bindings.
const JANE_TOKEN: &str = "jane-token";
/// Users given only `list`, and only `watch`, on Secrets in `default` (by [`Server::grant`]).
const LISTER_TOKEN: &str = "lister-token";
const WATCHER_TOKEN: &str = "watcher-token";

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
        Self::start_with(&[]).await
    }

    /// Started with `extra` flags besides.
    async fn start_with(extra: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = |name: &str| dir.path().join(name);
        let client_ca = Authority::new("hostile-test-ca").unwrap();
        client_ca.write(&path("client-ca.crt")).unwrap();
        std::fs::write(
            path("tokens.csv"),
            format!("{ADMIN_TOKEN},admin,1,\"system:masters\"\n{JANE_TOKEN},jane,2\n{LISTER_TOKEN},lister,3\n{WATCHER_TOKEN},watcher,4\n"),
        )
        .unwrap();
        let shown = |name: &str| path(name).display().to_string();
        let mut args = vec![format!("--client-ca-file={}", shown("client-ca.crt")), format!("--token-auth-file={}", shown("tokens.csv")), "--authorization-mode=RBAC".to_string()];
        args.extend(extra.iter().map(|arg| arg.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
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
    // Go's server reads up to MaxHeaderBytes (1 MiB) plus 4 KiB of request head; past that, 431
    // (ours refuses from about 400 KiB: common/src/tls.rs).
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

// ---------------------------------------------------------------------------------------------
// Requests that must be parsed as kube-apiserver parses them (issue 19): what authorization
// sees and what the router serves must be the same request, and every input is bounded.
// ---------------------------------------------------------------------------------------------

/// How one request ended, its body read as far as it takes to tell a watch from a whole answer.
enum Reply {
    /// The answer with all of its body.
    Whole { status: u16, headers: HeaderMap, body: Bytes },
    /// 200 and a body of watch events: the complete ones that had come when the first had.
    Watch(Vec<Value>),
    /// The connection failed or closed before an answer (why).
    Closed(String),
    TimedOut,
}

impl std::fmt::Debug for Reply {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Whole { status, body, .. } => write!(formatter, "{status} {}", excerpt(body)),
            Self::Watch(events) => write!(formatter, "200 and a watch stream (events so far: {}; the first: {})", events.len(), excerpt(events[0].to_string().as_bytes())),
            Self::Closed(why) => write!(formatter, "the connection closed without an answer ({why})"),
            Self::TimedOut => write!(formatter, "no answer within {EXCHANGE_LIMIT:?}"),
        }
    }
}

/// The start of a body, for failure messages.
fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let start: String = text.chars().take(400).collect();
    if start.len() < text.len() { format!("{start}...") } else { start }
}

/// The complete watch events at the start of `received` (all of it once the body has `ended`);
/// None unless the first line is one, `{"type": ..., "object": {...}}`.
fn watch_events(received: &[u8], ended: bool) -> Option<Vec<Value>> {
    let complete = if ended { received } else { &received[..received.iter().rposition(|byte| *byte == b'\n')?] };
    let events: Vec<Value> = complete
        .split(|byte| *byte == b'\n')
        .filter(|line| !line.iter().all(u8::is_ascii_whitespace))
        .map_while(|line| serde_json::from_slice(line).ok())
        .collect();
    let first = events.first()?;
    (first["type"].is_string() && first["object"].is_object()).then_some(events)
}

/// Aborts the spawned task (a client connection's driver) when dropped.
struct Aborting<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for Aborting<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A request as the holder of `token`, without a body yet.
fn as_user(method: Method, path: &str, token: &str) -> hyper::http::request::Builder {
    Request::builder().method(method).uri(path).header(HOST, "127.0.0.1").header(AUTHORIZATION, format!("Bearer {token}"))
}

fn get_as(token: &str, path: &str) -> Request<Full<Bytes>> {
    as_user(Method::GET, path, token).body(Full::default()).unwrap()
}

/// A request with a body of `content_type`.
fn with_body(method: Method, path: &str, token: &str, content_type: &str, body: impl Into<Bytes>) -> Request<Full<Bytes>> {
    as_user(method, path, token).header(CONTENT_TYPE, content_type).body(Full::new(body.into())).unwrap()
}

/// What kube-apiserver answers, in the tables.
#[derive(Clone, Debug)]
enum Expect {
    /// A Status with this code and reason whose message contains the text.
    Status(u16, &'static str, String),
    /// 200 and a whole list of this kind (not a stream).
    List(&'static str),
    /// 200 and a stream of watch events.
    Watch,
    /// 201 with a `Warning` header containing the text.
    CreatedWarning(&'static str),
}

fn refused(code: u16, reason: &'static str) -> Expect {
    Expect::Status(code, reason, String::new())
}

fn refused_saying(code: u16, reason: &'static str, says: impl Into<String>) -> Expect {
    Expect::Status(code, reason, says.into())
}

/// None when `reply` is what `expected` says; else what was expected and what came back.
fn mismatch(reply: &Reply, expected: &Expect) -> Option<String> {
    let json = |body: &Bytes| serde_json::from_slice::<Value>(body).unwrap_or_default();
    let matches = match (expected, reply) {
        (Expect::Status(code, reason, says), Reply::Whole { status, body, .. }) => {
            let body = json(body);
            *status == *code && body["kind"] == "Status" && body["code"] == *code && body["reason"] == *reason && body["message"].as_str().is_some_and(|message| message.contains(says.as_str()))
        }
        (Expect::List(kind), Reply::Whole { status: 200, body, .. }) => json(body)["kind"] == *kind,
        (Expect::Watch, Reply::Watch(_)) => true,
        (Expect::CreatedWarning(says), Reply::Whole { status: 201, headers, .. }) => {
            headers.get_all("warning").iter().any(|warning| String::from_utf8_lossy(warning.as_bytes()).contains(says))
        }
        _ => false,
    };
    if matches {
        return None;
    }
    let wanted = match expected {
        Expect::Status(code, reason, says) if says.is_empty() => format!("{code} (a Status, reason {reason})"),
        Expect::Status(code, reason, says) => format!("{code} (a Status, reason {reason}, message containing {says:?})"),
        Expect::List(kind) => format!("200 and a whole {kind}"),
        Expect::Watch => "200 and a stream of watch events".to_string(),
        Expect::CreatedWarning(says) => format!("201 with a Warning header containing {says:?}"),
    };
    let headers = match reply {
        Reply::Whole { headers, .. } if matches!(expected, Expect::CreatedWarning(_)) => format!(" (Warning headers: {:?})", headers.get_all("warning").iter().collect::<Vec<_>>()),
        _ => String::new(),
    };
    Some(format!("expected {wanted}, got {reply:?}{headers}"))
}

/// Fails with every row that was not answered as expected.
fn assert_no_mismatches(failures: &[String], rows: usize) {
    assert!(failures.is_empty(), "{} of {rows} requests were not answered as kube-apiserver answers them:\n{}", failures.len(), failures.join("\n"));
}

/// A field of `/proc/<pid>/status` (`VmRSS`, `VmHWM`), in bytes.
fn memory(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kilobytes = status.lines().find_map(|line| line.strip_prefix(field)?.strip_prefix(':')?.trim().strip_suffix("kB")?.trim().parse::<u64>().ok());
    kilobytes.unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status:\n{status}")) * 1024
}

/// A request head written by hand: the request line, each header line, the blank line.
fn head(request_line: &str, headers: &[&str]) -> String {
    let mut text = format!("{request_line}\r\n");
    for header in headers {
        text.push_str(header);
        text.push_str("\r\n");
    }
    text.push_str("\r\n");
    text
}

/// The status and body of the HTTP/1.1 response at the start of `received`, once all of it has
/// come (by `Content-Length`, the last chunk, or the stream's end).
fn whole_response(received: &[u8], ended: bool) -> Option<(u16, Bytes)> {
    let head_end = received.windows(4).position(|window| window == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&received[..head_end]);
    let status = head.split(' ').nth(1)?.parse().ok()?;
    let rest = &received[head_end + 4..];
    let header = |name: &str| {
        head.lines().skip(1).find_map(|line| line.split_once(':').filter(|(key, _)| key.trim().eq_ignore_ascii_case(name)).map(|(_, value)| value.trim().to_string()))
    };
    let body = if let Some(length) = header("content-length").and_then(|value| value.parse::<usize>().ok()) {
        (rest.len() >= length).then(|| rest[..length].to_vec())
    } else if header("transfer-encoding").is_some_and(|value| value.eq_ignore_ascii_case("chunked")) {
        dechunk(rest)
    } else {
        None
    };
    body.or_else(|| ended.then(|| rest.to_vec())).map(|body| (status, Bytes::from(body)))
}

/// A chunked body, once its last chunk has come.
fn dechunk(mut rest: &[u8]) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line_end = rest.windows(2).position(|window| window == b"\r\n")?;
        let size = usize::from_str_radix(std::str::from_utf8(&rest[..line_end]).ok()?.split(';').next()?.trim(), 16).ok()?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            return Some(body);
        }
        body.extend_from_slice(rest.get(..size)?);
        rest = rest.get(size + 2..)?;
    }
}

impl Server {
    /// One request on a new connection, as the client of [`Reply`] reads it: a 200 whose body
    /// starts with a watch event is a watch (read no further), anything else is read whole.
    async fn ask(&self, request: Request<Full<Bytes>>) -> Reply {
        let exchange = async {
            let stream = self.connect(&self.tls(None)).await.map_err(|err| format!("handshake: {err}"))?;
            let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(|err| err.to_string())?;
            let _driver = Aborting(tokio::spawn(connection));
            let response = sender.send_request(request).await.map_err(|err| format!("request: {err}"))?;
            let (head, mut body) = response.into_parts();
            let watch = |received: &[u8], ended| if head.status == 200 { watch_events(received, ended) } else { None };
            let mut received = Vec::new();
            while let Some(frame) = body.frame().await {
                let frame = frame.map_err(|err| format!("body after {}: {err}", excerpt(&received)))?;
                if let Ok(data) = frame.into_data() {
                    received.extend_from_slice(&data);
                }
                if let Some(events) = watch(&received, false) {
                    return Ok(Reply::Watch(events));
                }
            }
            Ok::<_, String>(match watch(&received, true) {
                Some(events) => Reply::Watch(events),
                None => Reply::Whole { status: head.status.as_u16(), headers: head.headers, body: Bytes::from(received) },
            })
        };
        match tokio::time::timeout(EXCHANGE_LIMIT, exchange).await {
            Ok(Ok(reply)) => reply,
            Ok(Err(why)) => Reply::Closed(why),
            Err(_) => Reply::TimedOut,
        }
    }

    /// Creates an object as the administrator; it must be created.
    async fn create(&self, path: &str, object: Value) {
        let reply = self.ask(with_body(Method::POST, path, ADMIN_TOKEN, "application/json", object.to_string())).await;
        assert!(matches!(reply, Reply::Whole { status: 200..=202, .. }), "creating {object} at {path}: expected 201, got {reply:?}");
    }

    /// Asks until the answer is `expected` (a grant reaches the authoriser a moment after it is
    /// written), for at most [`EXCHANGE_LIMIT`].
    async fn eventually(&self, request: impl Fn() -> Request<Full<Bytes>>, expected: &Expect, what: &str) {
        let started = Instant::now();
        loop {
            let Some(mismatch) = mismatch(&self.ask(request()).await, expected) else { return };
            assert!(started.elapsed() < EXCHANGE_LIMIT, "{what}, within {EXCHANGE_LIMIT:?}: {mismatch}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Gives `user` only `verb` on Secrets in `default`, as the administrator would: a Role and a
    /// RoleBinding, created through the API.
    async fn grant(&self, user: &str, verb: &str) {
        let role = format!("secrets-{verb}");
        self.create(
            "/apis/rbac.authorization.k8s.io/v1/namespaces/default/roles",
            serde_json::json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": role, "namespace": "default"},
                "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": [verb]}]}),
        )
        .await;
        self.create(
            "/apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings",
            serde_json::json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": format!("{user}-{role}"), "namespace": "default"},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role},
                "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}]}),
        )
        .await;
    }

    /// One object of each resource the bypass reached, in `default` where namespaced; the
    /// Secret's data holds [`SECRET_VALUE`].
    async fn plant_objects(&self) {
        use base64::Engine;
        let value = base64::engine::general_purpose::STANDARD.encode(SECRET_VALUE);
        self.create("/api/v1/namespaces/default/secrets", serde_json::json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "planted"}, "data": {"password": value}})).await;
        self.create("/api/v1/namespaces/default/configmaps", serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "planted"}, "data": {"k": "v"}})).await;
        self.create("/api/v1/namespaces/default/serviceaccounts", serde_json::json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "planted"}})).await;
        self.create(
            "/api/v1/namespaces/default/pods",
            serde_json::json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "planted"}, "spec": {"containers": [{"name": "main", "image": "busybox"}]}}),
        )
        .await;
        self.create("/api/v1/nodes", serde_json::json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "planted"}})).await;
    }

    /// Writes `bytes` as they are on a new TLS connection (a request head and whatever of a
    /// body), then reads until a whole answer, the connection's end, or `limit` after writing.
    async fn raw(&self, bytes: &[u8], limit: Duration) -> Outcome {
        let mut stream = match self.connect(&self.tls(None)).await {
            Ok(stream) => stream,
            Err(err) => return Outcome::Closed(format!("handshake: {err}")),
        };
        let exchange = async {
            stream.write_all(bytes).await.map_err(|err| format!("write: {err}"))?;
            stream.flush().await.map_err(|err| format!("write: {err}"))?;
            let mut received = Vec::new();
            let mut buffer = [0u8; 8192];
            loop {
                let read = stream.read(&mut buffer).await;
                if let Ok(count) = read {
                    received.extend_from_slice(&buffer[..count]);
                }
                let ended = !matches!(read, Ok(1..));
                if let Some(answer) = whole_response(&received, ended) {
                    return Ok(answer);
                }
                if ended {
                    return Err(read.err().map_or_else(|| "end of stream".to_string(), |err| format!("read: {err}")));
                }
            }
        };
        match tokio::time::timeout(limit, exchange).await {
            Ok(Ok((status, body))) => Outcome::Answered(status, body),
            Ok(Err(why)) => Outcome::Closed(why),
            Err(_) => Outcome::TimedOut,
        }
    }
}

/// What the planted Secret holds: no answer to an identity without rights may contain it.
const SECRET_VALUE: &str = "planted-secret-value-4f1c";

/// The resources the empty-group bypass reached, and whether they are namespaced.
const BYPASSED: [(&str, bool); 5] = [("secrets", true), ("configmaps", true), ("pods", true), ("serviceaccounts", true), ("nodes", false)];

/// kube-apiserver's RequestInfo reads `/apis//v1/secrets` as group "", version v1, resource
/// secrets, and RBAC judges that: 403 for a user without rights. No group is served at
/// `/apis//v1` (the legacy group lives under `/api`), so an administrator gets 404.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_group_segment_is_authorized_as_the_resource_it_names() {
    let mut server = Server::start().await;
    server.plant_objects().await;
    let mut paths = Vec::new();
    for (resource, namespaced) in BYPASSED {
        paths.push(format!("/apis//v1/{resource}"));
        if namespaced {
            paths.push(format!("/apis//v1/namespaces/default/{resource}"));
        }
    }
    let mut failures = Vec::new();
    let mut rows = 0;
    for (path, verb) in paths.iter().flat_map(|path| [(path.clone(), "list"), (format!("{path}?watch=1"), "watch")]) {
        let jane = server.ask(get_as(JANE_TOKEN, &path)).await;
        let admin = server.ask(get_as(ADMIN_TOKEN, &path)).await;
        rows += 2;
        let leaked = matches!(&jane, Reply::Whole { body, .. } if String::from_utf8_lossy(body).contains("planted")) || matches!(jane, Reply::Watch(_));
        let leak = if leaked { "LEAK, objects served to a user without rights: " } else { "" };
        failures.extend(mismatch(&jane, &refused_saying(403, "Forbidden", format!("User \"jane\" cannot {verb}"))).map(|why| format!("GET {path} as jane: {leak}{why}")));
        failures.extend(mismatch(&admin, &refused(404, "NotFound")).map(|why| format!("GET {path} as the administrator: {why}")));
    }
    server.assert_unharmed().await;
    assert_no_mismatches(&failures, rows);
}

/// Encoded slashes and dot segments, as kube-apiserver reads the decoded path: RBAC first (jane
/// may get nothing: 403), then the route for the administrator (`..` as a name is refused by the
/// store's key function, `path.IsValidPathSegmentName`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encoded_and_dot_segments_get_kube_apiservers_answers() {
    let mut server = Server::start().await;
    server.plant_objects().await;
    let rows: [(&str, Expect); 4] = [
        // Decoded, `secrets/x`: the Secret "x", which does not exist.
        ("/api/v1/namespaces/default/secrets%2Fx", refused(404, "NotFound")),
        // Resource ".", name "secrets": no route.
        ("/api/v1/namespaces/default/./secrets", refused(404, "NotFound")),
        ("/api/v1/namespaces/default/secrets/..", refused_saying(400, "BadRequest", "Name parameter invalid: \"..\": may not be '..'")),
        // Version "", resource "v1", name "secrets": no route.
        ("/api//v1/secrets", refused(404, "NotFound")),
    ];
    let mut failures = Vec::new();
    for (path, for_admin) in &rows {
        let jane = server.ask(get_as(JANE_TOKEN, path)).await;
        if matches!(&jane, Reply::Whole { status: 200, .. } | Reply::Watch(_)) {
            failures.push(format!("GET {path} as jane: LEAK, 200 to a user without rights: {jane:?}"));
        }
        failures.extend(mismatch(&jane, &refused_saying(403, "Forbidden", "User \"jane\" cannot")).map(|why| format!("GET {path} as jane: {why}")));
        let admin = server.ask(get_as(ADMIN_TOKEN, path)).await;
        failures.extend(mismatch(&admin, for_admin).map(|why| format!("GET {path} as the administrator: {why}")));
    }
    server.assert_unharmed().await;
    assert_no_mismatches(&failures, rows.len() * 2);
}

/// `/api/v1/namespaces//secrets` is, to kube-apiserver, a list of Secrets in namespace "": its
/// RequestInfo takes the empty segment as the namespace, RBAC judges a cluster-wide list (403 for
/// jane), go-restful's CurlyRouter matches the empty segment to `{namespace}`, and the list
/// handler (`ContextBasedNaming.Namespace`, then `ListResource`) lists every namespace's: 200 for
/// the administrator (kubernetes-client/python#1349 shows `list_namespaced_pod('')` answering as
/// `list_pod_for_all_namespaces`). The brief for these tests expected 404 here; this is what
/// kube-apiserver does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_namespace_segment_names_every_namespace_as_on_kubernetes() {
    let mut server = Server::start().await;
    server.plant_objects().await;
    server.create("/api/v1/namespaces", serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "elsewhere"}})).await;
    server.create("/api/v1/namespaces/elsewhere/secrets", serde_json::json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "far"}})).await;
    let mut failures = Vec::new();
    for (path, verb) in [("/api/v1/namespaces//secrets", "list"), ("/api/v1/namespaces//secrets?watch=1", "watch")] {
        let jane = server.ask(get_as(JANE_TOKEN, path)).await;
        failures.extend(mismatch(&jane, &refused_saying(403, "Forbidden", format!("User \"jane\" cannot {verb} resource \"secrets\" in API group \"\" at the cluster scope"))).map(|why| format!("GET {path} as jane: {why}")));
    }
    let admin = server.ask(get_as(ADMIN_TOKEN, "/api/v1/namespaces//secrets")).await;
    match mismatch(&admin, &Expect::List("SecretList")) {
        Some(why) => failures.push(format!("GET /api/v1/namespaces//secrets as the administrator: {why}")),
        None => {
            let Reply::Whole { body, .. } = &admin else { unreachable!("a list is a whole answer") };
            let list: Value = serde_json::from_slice(body).unwrap();
            let mut found: Vec<String> = list["items"].as_array().into_iter().flatten().map(|item| format!("{}/{}", item["metadata"]["namespace"].as_str().unwrap_or_default(), item["metadata"]["name"].as_str().unwrap_or_default())).collect();
            found.sort();
            if !(found.contains(&"default/planted".to_string()) && found.contains(&"elsewhere/far".to_string())) {
                failures.push(format!("GET /api/v1/namespaces//secrets as the administrator: expected the Secrets of every namespace (default/planted, elsewhere/far), got {found:?}"));
            }
        }
    }
    server.assert_unharmed().await;
    assert_no_mismatches(&failures, 3);
}

/// The verb is decided once, from the decoded query's first `watch` value, as kube-apiserver's
/// RequestInfo and its query codec (`Convert_Slice_string_To_bool`: only "0" and "false" are
/// false) decide it: an identity allowed only to list never gets a watch, one allowed only to
/// watch never gets a list.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_verb_authorized_is_the_verb_served() {
    let mut server = Server::start().await;
    server.plant_objects().await;
    server.grant("lister", "list").await;
    server.grant("watcher", "watch").await;
    let secrets = "/api/v1/namespaces/default/secrets";
    server.eventually(|| get_as(LISTER_TOKEN, secrets), &Expect::List("SecretList"), "lister's grant to list Secrets in default").await;
    server.eventually(|| get_as(WATCHER_TOKEN, &format!("{secrets}?watch=1")), &Expect::Watch, "watcher's grant to watch Secrets in default").await;

    let cannot = |user: &str, verb: &str| refused_saying(403, "Forbidden", format!("User \"{user}\" cannot {verb} resource \"secrets\""));
    let rows = [
        ("lister", LISTER_TOKEN, "?watch=1", cannot("lister", "watch")),
        ("lister", LISTER_TOKEN, "?watch=%74rue", cannot("lister", "watch")),
        ("lister", LISTER_TOKEN, "?watch=%31", cannot("lister", "watch")),
        ("lister", LISTER_TOKEN, "?watch=yes", cannot("lister", "watch")),
        ("lister", LISTER_TOKEN, "?watch=1&watch=0", cannot("lister", "watch")),
        ("lister", LISTER_TOKEN, "?watch=0&watch=1", Expect::List("SecretList")),
        ("lister", LISTER_TOKEN, "?watch=false", Expect::List("SecretList")),
        ("watcher", WATCHER_TOKEN, "?watch=1&watch=0", Expect::Watch),
        ("watcher", WATCHER_TOKEN, "?watch=%74rue", Expect::Watch),
        ("watcher", WATCHER_TOKEN, "?watch=0&watch=1", cannot("watcher", "list")),
        ("watcher", WATCHER_TOKEN, "", cannot("watcher", "list")),
        ("watcher", WATCHER_TOKEN, "?watch=%30", cannot("watcher", "list")),
    ];
    let mut failures = Vec::new();
    for (user, token, query, expected) in &rows {
        let reply = server.ask(get_as(token, &format!("{secrets}{query}"))).await;
        failures.extend(mismatch(&reply, expected).map(|why| format!("GET {secrets}{query} as {user}: {why}")));
    }
    server.assert_unharmed().await;
    assert_no_mismatches(&failures, rows.len());
}

/// A watch deadline far beyond any clock is still a watch (the deadline computed with checked
/// arithmetic and capped) that delivers its initial events, and the server lives on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_timeout_beyond_any_clock_is_still_a_watch() {
    let mut server = Server::start().await;
    let path = "/api/v1/namespaces?watch=1&timeoutSeconds=9223372036854775807";
    let reply = server.ask(get_as(ADMIN_TOKEN, path)).await;
    if let Some(why) = mismatch(&reply, &Expect::Watch) {
        panic!("GET {path}: {why}\npanics in the apiserver's log: {:?}", server.log().lines().filter(|line| line.contains("panicked") || line.contains("overflow")).collect::<Vec<_>>());
    }
    server.assert_unharmed().await;
}

/// Numbers in the query that are no numbers are refused with 400, as kube-apiserver's query
/// codec refuses them (`strconv.ParseInt`), on lists and watches alike.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_numbers_in_the_query_are_refused() {
    let mut server = Server::start().await;
    let rows = [
        "/api/v1/namespaces?timeoutSeconds=abc",
        "/api/v1/namespaces?limit=abc",
        "/api/v1/namespaces?watch=1&timeoutSeconds=abc",
        "/api/v1/namespaces/default/configmaps?limit=abc",
    ];
    let mut failures = Vec::new();
    for path in rows {
        let reply = server.ask(get_as(ADMIN_TOKEN, path)).await;
        failures.extend(mismatch(&reply, &refused(400, "BadRequest")).map(|why| format!("GET {path}: {why}")));
    }
    server.assert_unharmed().await;
    assert_no_mismatches(&failures, rows.len());
}

/// How long `--request-timeout` is in [`stalled_bodies_end_by_the_request_timeout`], and how much
/// later than that an answer or a close still counts as one (past it, a hang).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(3);
const REQUEST_TIMEOUT_MARGIN: Duration = Duration::from_secs(5);

/// A body that stops coming is bounded by the request timeout: 504 (kube-apiserver's timeout
/// filter) or a closed connection, and the task holding it ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_bodies_end_by_the_request_timeout() {
    let mut server = Server::start_with(&[&format!("--request-timeout={}s", REQUEST_TIMEOUT.as_secs())]).await;
    let post = |framing: &str| {
        let authorization = format!("Authorization: Bearer {ADMIN_TOKEN}");
        head("POST /api/v1/namespaces/default/configmaps HTTP/1.1", &["Host: 127.0.0.1", &authorization, "Content-Type: application/json", framing])
    };
    let chunk = r#"{"apiVersion":"v1","#;
    let cases = [
        ("a chunked body that sends one chunk and then nothing", format!("{}{:x}\r\n{chunk}\r\n", post("Transfer-Encoding: chunked"), chunk.len())),
        ("Content-Length: 1000 followed by 10 bytes", format!("{}{{\"apiVersi", post("Content-Length: 1000"))),
    ];
    let limit = REQUEST_TIMEOUT + REQUEST_TIMEOUT_MARGIN;
    let mut failures = Vec::new();
    for (case, bytes) in &cases {
        let outcome = server.raw(bytes.as_bytes(), limit).await;
        let timed_out = |body: &Bytes| serde_json::from_slice::<Value>(body).is_ok_and(|status| status["kind"] == "Status" && status["reason"] == "Timeout");
        match &outcome {
            Outcome::Answered(504, body) if timed_out(body) => {}
            Outcome::Closed(_) => {}
            _ => failures.push(format!(
                "{case}: expected 504 (a Status, reason Timeout) or a closed connection within {limit:?} (--request-timeout={REQUEST_TIMEOUT:?}), got {}",
                describe(&outcome)
            )),
        }
        server.assert_unharmed().await;
    }
    assert_no_mismatches(&failures, cases.len());
}

/// A declared body beyond the limit is refused from its `Content-Length` header, before any of it
/// is sent, as kube-apiserver's body reader refuses it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_declared_beyond_the_limit_is_refused_from_the_header() {
    let mut server = Server::start().await;
    let authorization = format!("Authorization: Bearer {ADMIN_TOKEN}");
    let request = head("POST /api/v1/namespaces/default/configmaps HTTP/1.1", &["Host: 127.0.0.1", &authorization, "Content-Type: application/json", "Content-Length: 1000000000000"]);
    let outcome = server.raw(request.as_bytes(), PROMPT).await;
    server.assert_unharmed().await;
    let too_large = |body: &Bytes| serde_json::from_slice::<Value>(body).is_ok_and(|status| status["kind"] == "Status" && status["reason"] == "RequestEntityTooLarge");
    assert!(
        matches!(&outcome, Outcome::Answered(413, body) if too_large(body)),
        "Content-Length: 10^12 and no body: expected 413 (a Status, reason RequestEntityTooLarge) within {PROMPT:?}, got {}",
        describe(&outcome)
    );
}

/// An [`Outcome`] for failure messages, its body cut short.
fn describe(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Answered(status, body) => format!("{status} {}", excerpt(body)),
        other => format!("{other:?}"),
    }
}

/// One anchored 1 MiB scalar and 400 aliases of it expand to 400 MiB: refused, and decoding it
/// must not cost more than twice the body in memory (the aliases bounded by the bytes they
/// expand to, not by their count).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_yaml_alias_bomb_is_refused_without_amplifying_memory() {
    let mut server = Server::start().await;
    let mut body = format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: alias-bomb\ndata:\n  a: &x \"{}\"\n", "a".repeat(1024 * 1024));
    for i in 0..400 {
        body.push_str(&format!("  b{i}: *x\n"));
    }
    let pid = server.apiserver.pid().expect("the apiserver runs");
    // One small YAML create first, so that what any first request costs (stack pages, lazily
    // built tables) is not counted against the bomb.
    let warm_up = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: warm-up\ndata:\n  a: &x b\n  c: *x\n".to_string();
    let reply = server.ask(with_body(Method::POST, "/api/v1/namespaces/default/configmaps?dryRun=All", ADMIN_TOKEN, "application/yaml", warm_up)).await;
    assert!(matches!(reply, Reply::Whole { status: 201, .. }), "a small YAML body with an alias is accepted: {reply:?}");
    let before = memory(pid, "VmRSS");
    // Resets VmHWM to the current RSS (proc(5), /proc/pid/clear_refs).
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").unwrap();
    let reply = server.ask(with_body(Method::POST, "/api/v1/namespaces/default/configmaps?dryRun=All", ADMIN_TOKEN, "application/yaml", body.clone())).await;
    let growth = memory(pid, "VmHWM").saturating_sub(before);
    server.assert_unharmed().await;
    let mut failures = Vec::new();
    let refusal = [refused(400, "BadRequest"), refused(413, "RequestEntityTooLarge")];
    if refusal.iter().all(|expected| mismatch(&reply, expected).is_some()) {
        failures.push(format!("a {} byte YAML body of one 1 MiB anchor and 400 aliases: expected 400 or 413 (a Status), got {reply:?}", body.len()));
    }
    let bound = 2 * body.len() as u64;
    println!("the alias bomb ({} KiB): peak RSS growth {} KiB, bound {} KiB", body.len() / 1024, growth / 1024, bound / 1024);
    if growth >= bound {
        failures.push(format!("the alias bomb raised the apiserver's peak RSS by {} KiB (from {} KiB): expected under 2 x the body = {} KiB", growth / 1024, before / 1024, bound / 1024));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Go's server takes up to `MaxHeaderBytes` (1 MiB) of headers whatever their count, and refuses
/// an HTTP/1.1 request without exactly one Host with 400.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headers_and_host_are_judged_as_gos_server_judges_them() {
    let mut server = Server::start().await;
    let mut failures = Vec::new();
    let mut many = as_user(Method::GET, "/api/v1/namespaces", ADMIN_TOKEN);
    for i in 0..150 {
        many = many.header(HeaderName::try_from(format!("x-filler-{i}")).unwrap(), "a");
    }
    let reply = server.ask(many.body(Full::default()).unwrap()).await;
    failures.extend(mismatch(&reply, &Expect::List("NamespaceList")).map(|why| format!("GET /api/v1/namespaces with 150 headers: {why}")));
    let authorization = format!("Authorization: Bearer {ADMIN_TOKEN}");
    let hostless = [
        ("an HTTP/1.1 request without Host", head("GET /api/v1/namespaces HTTP/1.1", &[&authorization])),
        ("an HTTP/1.1 request with two Host headers", head("GET /api/v1/namespaces HTTP/1.1", &["Host: 127.0.0.1", "Host: 127.0.0.2", &authorization])),
    ];
    for (case, request) in &hostless {
        let outcome = server.raw(request.as_bytes(), EXCHANGE_LIMIT).await;
        if !matches!(outcome, Outcome::Answered(400, _)) {
            failures.push(format!("{case}: expected 400, got {}", describe(&outcome)));
        }
    }
    server.assert_unharmed().await;
    assert_no_mismatches(&failures, 3);
}

/// A watch offered only media types it cannot stream is refused with 406, as kube-apiserver's
/// `NegotiateOutputMediaTypeStream` refuses it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_accepting_only_html_gets_406() {
    let mut server = Server::start().await;
    let reply = server.ask(as_user(Method::GET, "/api/v1/namespaces?watch=1", ADMIN_TOKEN).header(ACCEPT, "text/html").body(Full::default()).unwrap()).await;
    server.assert_unharmed().await;
    if let Some(why) = mismatch(&reply, &refused(406, "NotAcceptable")) {
        panic!("GET /api/v1/namespaces?watch=1 with Accept: text/html: {why}");
    }
}

/// Bodies and parameters kube-apiserver's decoders judge differently from a lenient JSON reader:
/// a name that is a number and an int64 field beyond 2^63-1 are 400 (Go's typed decoding),
/// duplicate keys are 400 under `fieldValidation=Strict` and a warning otherwise (the default
/// directive is Warn), and any `watch` value but "0"/"false" is a watch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smaller_departures_are_answered_as_kube_apiserver_answers_them() {
    let mut server = Server::start().await;
    let configmaps = "/api/v1/namespaces/default/configmaps?dryRun=All";
    let strict = "/api/v1/namespaces/default/configmaps?dryRun=All&fieldValidation=Strict";
    let rows: [(&str, &str, &str, Expect); 4] = [
        ("a name that is a number", configmaps, r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":7}}"#, refused(400, "BadRequest")),
        (
            "metadata.generation of 2^63",
            configmaps,
            r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"big-generation","generation":9223372036854775808}}"#,
            refused(400, "BadRequest"),
        ),
        (
            "a duplicate key under fieldValidation=Strict",
            strict,
            r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"twice"},"data":{"key":"first","key":"second"}}"#,
            refused_saying(400, "BadRequest", "duplicate field"),
        ),
        (
            "a duplicate key without fieldValidation",
            configmaps,
            r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"twice"},"data":{"key":"first","key":"second"}}"#,
            Expect::CreatedWarning("duplicate field"),
        ),
    ];
    let mut failures = Vec::new();
    for (case, path, body, expected) in &rows {
        let reply = server.ask(with_body(Method::POST, path, ADMIN_TOKEN, "application/json", *body)).await;
        failures.extend(mismatch(&reply, expected).map(|why| format!("{case} (POST {path}): {why}")));
    }
    let watch = server.ask(get_as(ADMIN_TOKEN, "/api/v1/namespaces?watch=yes")).await;
    failures.extend(mismatch(&watch, &Expect::Watch).map(|why| format!("GET /api/v1/namespaces?watch=yes: {why}")));
    server.assert_unharmed().await;
    assert_no_mismatches(&failures, rows.len() + 1);
}

/// What the read path could not read back is refused on the way in, in every body format: a
/// ConfigMap whose `managedFields[0].fieldsV1` nests 123 levels as YAML or 120 as JSON (which
/// older versions stored, 201, and then answered 500 on every read) is 400 and leaves nothing
/// behind; and a `generateName` of 70 characters is cut to 58 before its 5-character suffix.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_could_not_be_read_back_is_refused_on_the_way_in() {
    let mut server = Server::start().await;
    let deep = |name: &str, levels: usize| {
        let fields = format!("{}{{}}{}", "{\"f:x\":".repeat(levels), "}".repeat(levels));
        format!(r#"{{"apiVersion":"v1","kind":"ConfigMap","metadata":{{"name":"{name}","managedFields":[{{"manager":"m","operation":"Apply","apiVersion":"v1","fieldsType":"FieldsV1","fieldsV1":{fields}}}]}},"data":{{"a":"b"}}}}"#)
    };
    let mut failures = Vec::new();
    // YAML flow mappings are JSON: the same text, sent as YAML.
    for (case, name, content_type, body) in [("as YAML, 123 levels", "deep-yaml", "application/yaml", deep("deep-yaml", 123)), ("as JSON, 120 levels", "deep-json", "application/json", deep("deep-json", 120))] {
        let reply = server.ask(with_body(Method::POST, "/api/v1/namespaces/default/configmaps", ADMIN_TOKEN, content_type, body)).await;
        failures.extend(mismatch(&reply, &refused_saying(400, "BadRequest", "nests deeper than 100 levels")).map(|why| format!("a deep ConfigMap {case}: {why}")));
        let after = server.ask(get_as(ADMIN_TOKEN, &format!("/api/v1/namespaces/default/configmaps/{name}"))).await;
        failures.extend(mismatch(&after, &refused(404, "NotFound")).map(|why| format!("GET {name} after its refusal: {why}")));
    }
    let prefix = "g".repeat(70);
    let body = format!(r#"{{"apiVersion":"v1","kind":"ConfigMap","metadata":{{"generateName":"{prefix}"}}}}"#);
    let reply = server.ask(with_body(Method::POST, "/api/v1/namespaces/default/configmaps", ADMIN_TOKEN, "application/json", body)).await;
    let name = match &reply {
        Reply::Whole { status: 201, body, .. } => serde_json::from_slice::<Value>(body).unwrap_or_default()["metadata"]["name"].as_str().unwrap_or_default().to_string(),
        _ => String::new(),
    };
    if name.len() != 63 || !name.starts_with(&prefix[..58]) {
        failures.push(format!("a generateName of 70 characters: expected 201 and a name of the first 58 and 5 more, got {reply:?}"));
    }
    server.assert_unharmed().await;
    assert_no_mismatches(&failures, 5);
}

/// A Scale is decoded into its type, with Kubernetes' errors: a `replicas` that is not an int32
/// is 400 by PUT (the body decoder) and 422 by merge or JSON patch (kube-apiserver's
/// `jsonPatcher.applyPatchToCurrentObject` answers an undecodable patched object with
/// `NewInvalid(.., "patch", ..)`; the brief for these tests expected 400); a Scale naming another
/// object is 400 (`checkName`). None of them changes the Deployment.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_scale_is_refused_and_changes_nothing() {
    let mut server = Server::start().await;
    server
        .create(
            "/apis/apps/v1/namespaces/default/deployments",
            serde_json::json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x"},
                "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "x"}},
                    "template": {"metadata": {"labels": {"app": "x"}}, "spec": {"containers": [{"name": "main", "image": "busybox", "command": ["sleep", "3600"]}]}}}}),
        )
        .await;
    let scale_path = "/apis/apps/v1/namespaces/default/deployments/x/scale";
    let scale = |name: &str, namespace: &str, replicas: &str| {
        format!(r#"{{"apiVersion":"autoscaling/v1","kind":"Scale","metadata":{{"name":"{name}","namespace":"{namespace}"}},"spec":{{"replicas":{replicas}}}}}"#)
    };
    let mut rows: Vec<(String, Method, &str, String, Expect)> = Vec::new();
    for replicas in [r#""3""#, "1e3", "2.5", "true", "{}"] {
        rows.push((format!("PUT with replicas {replicas}"), Method::PUT, "application/json", scale("x", "default", replicas), refused(400, "BadRequest")));
    }
    rows.push(("a merge patch with replicas \"3\"".into(), Method::PATCH, "application/merge-patch+json", r#"{"spec":{"replicas":"3"}}"#.into(), refused(422, "Invalid")));
    rows.push(("a JSON patch with replicas \"3\"".into(), Method::PATCH, "application/json-patch+json", r#"[{"op":"replace","path":"/spec/replicas","value":"3"}]"#.into(), refused(422, "Invalid")));
    rows.push(("PUT of a Scale named y".into(), Method::PUT, "application/json", scale("y", "default", "3"), refused_saying(400, "BadRequest", "does not match the name on the URL")));
    rows.push(("PUT of a Scale in namespace other".into(), Method::PUT, "application/json", scale("x", "other", "3"), refused(400, "BadRequest")));
    let mut failures = Vec::new();
    for (case, method, content_type, body, expected) in &rows {
        let reply = server.ask(with_body(method.clone(), scale_path, ADMIN_TOKEN, content_type, body.clone())).await;
        failures.extend(mismatch(&reply, expected).map(|why| format!("{case} ({method} {scale_path}): {why}")));
    }
    let deployment = server.ask(get_as(ADMIN_TOKEN, "/apis/apps/v1/namespaces/default/deployments/x")).await;
    let replicas = match &deployment {
        Reply::Whole { status: 200, body, .. } => serde_json::from_slice::<Value>(body).ok().map(|deployment| deployment["spec"]["replicas"].clone()),
        _ => None,
    };
    if replicas != Some(Value::from(1)) {
        failures.push(format!("the Deployment after the refused scales: expected spec.replicas 1, got {replicas:?} from {deployment:?}"));
    }
    server.assert_unharmed().await;
    assert_no_mismatches(&failures, rows.len() + 1);
}
