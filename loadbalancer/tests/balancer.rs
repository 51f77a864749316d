//! The balancer in front of fake apiservers on loopback: TLS servers with a cluster CA that
//! answer `GET /readyz` with 200 or 500 as told, and on any other connection say their name and
//! then echo lines, so a client can tell which backend the balancer chose.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use loadbalancer::{Balancer, Config};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::{JoinHandle, JoinSet};
use tokio_rustls::client::TlsStream;
use tokio_rustls::{TlsAcceptor, TlsConnector};

/// Short, so that falls and rises take a fraction of a second; the checks' timeout (80 %) is
/// still far above a loopback handshake.
const INTERVAL_MS: u64 = 200;
/// The bound of every wait for a condition; only reached when a test fails.
const PATIENCE: Duration = Duration::from_secs(20);

/// A cluster CA, an apiserver certificate for `kubernetes` signed by it, and the CA as a file.
struct Pki {
    _dir: tempfile::TempDir,
    ca_file: PathBuf,
    server: Arc<rustls::ServerConfig>,
    client: Arc<rustls::ClientConfig>,
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn pki() -> Pki {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(rcgen::DnType::CommonName, "kubernetes-ca");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["kubernetes".to_string()]).unwrap().signed_by(&key, &ca, &ca_key).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.crt");
    std::fs::write(&ca_file, ca.pem()).unwrap();
    let server = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.der().clone()], PrivateKeyDer::Pkcs8(key.serialize_der().into()))
        .unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from(ca.der().to_vec())).unwrap();
    let client = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    Pki { _dir: dir, ca_file, server: Arc::new(server), client: Arc::new(client) }
}

/// A fake apiserver. `stop` closes its listener but, like an apiserver whose network namespace
/// vanished, never closes the connections it has: only the balancer can end those.
struct FakeApiserver {
    name: String,
    address: SocketAddr,
    ready: Arc<AtomicBool>,
    tls: TlsAcceptor,
    accepting: Option<JoinHandle<()>>,
    connections: Arc<Mutex<JoinSet<()>>>,
}

impl FakeApiserver {
    async fn start(name: &str, pki: &Pki) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut server = Self {
            name: name.to_string(),
            address: listener.local_addr().unwrap(),
            ready: Arc::new(AtomicBool::new(true)),
            tls: TlsAcceptor::from(pki.server.clone()),
            accepting: None,
            connections: Arc::default(),
        };
        server.accept(listener);
        server
    }

    fn backend(&self) -> String {
        self.address.to_string()
    }

    fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::SeqCst);
    }

    fn accept(&mut self, listener: TcpListener) {
        let (name, ready, tls, connections) = (self.name.clone(), self.ready.clone(), self.tls.clone(), self.connections.clone());
        self.accepting = Some(tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (name, ready, tls) = (name.clone(), ready.clone(), tls.clone());
                connections.lock().unwrap().spawn(async move {
                    if let Ok(stream) = tls.accept(stream).await {
                        serve(stream, &name, &ready).await;
                    }
                });
            }
        }));
    }

    /// Refuses new connections from now on; keeps the open ones.
    async fn stop(&mut self) {
        if let Some(accepting) = self.accepting.take() {
            accepting.abort();
            // Once awaited, the task and its listener are dropped.
            let _ = accepting.await;
        }
    }

    async fn restart(&mut self) {
        let listener = TcpListener::bind(self.address).await.unwrap();
        self.accept(listener);
    }
}

impl Drop for FakeApiserver {
    fn drop(&mut self) {
        if let Some(accepting) = &self.accepting {
            accepting.abort();
        }
        if let Ok(mut connections) = self.connections.lock() {
            connections.abort_all();
        }
    }
}

/// A health check gets its status (400 without a Host header, as Go's server); anything else
/// gets the server's name, then its own lines back.
async fn serve(stream: tokio_rustls::server::TlsStream<TcpStream>, name: &str, ready: &AtomicBool) {
    let mut stream = BufReader::new(stream);
    let mut line = String::new();
    if stream.read_line(&mut line).await.unwrap_or(0) == 0 {
        return;
    }
    if let Some(target) = line.strip_prefix("GET ") {
        let path = target.split(' ').next().unwrap_or_default().to_string();
        let mut host = None;
        loop {
            let mut header = String::new();
            if stream.read_line(&mut header).await.unwrap_or(0) == 0 || header == "\r\n" {
                break;
            }
            if let Some(value) = header.strip_prefix("Host: ") {
                host = Some(value.trim().to_string());
            }
        }
        let status = match (path.as_str(), host.as_deref(), ready.load(Ordering::SeqCst)) {
            (_, None, _) => "400 Bad Request",
            ("/readyz", Some(_), true) => "200 OK",
            ("/readyz", Some(_), false) => "500 Internal Server Error",
            _ => "404 Not Found",
        };
        let _ = stream.write_all(format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").as_bytes()).await;
        let _ = stream.shutdown().await;
        return;
    }
    if stream.write_all(format!("{name}\n").as_bytes()).await.is_err() {
        return;
    }
    loop {
        line.clear();
        match stream.read_line(&mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {
                if stream.write_all(line.as_bytes()).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// The balancer, in-process, stopped on drop.
struct RunningBalancer {
    address: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), loadbalancer::Error>>,
}

impl RunningBalancer {
    async fn start(pki: &Pki, backends: Vec<String>, max_connections: usize) -> Self {
        let config = Config {
            listen: "127.0.0.1:0".parse().unwrap(),
            backends,
            ca_file: pki.ca_file.clone(),
            server_name: "kubernetes".into(),
            health_path: "/readyz".into(),
            interval_ms: INTERVAL_MS,
            max_connections,
        };
        let balancer = Balancer::bind(config).await.unwrap();
        let address = balancer.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(balancer.run(async move {
            let _ = stopped.await;
        }));
        Self { address, stop: Some(stop), task }
    }
}

impl Drop for RunningBalancer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A client connection through the balancer, TLS end to end with the backend.
struct Client {
    backend: String,
    stream: BufReader<TlsStream<TcpStream>>,
}

impl Client {
    /// The connection and the name of the backend it reached, or `None` when the balancer
    /// closed it.
    async fn connect(balancer: SocketAddr, pki: &Pki) -> Option<Self> {
        let attempt = async {
            let tcp = TcpStream::connect(balancer).await.ok()?;
            let server_name = ServerName::try_from("kubernetes").unwrap();
            let tls = TlsConnector::from(pki.client.clone()).connect(server_name, tcp).await.ok()?;
            let mut stream = BufReader::new(tls);
            stream.write_all(b"who\n").await.ok()?;
            let mut backend = String::new();
            stream.read_line(&mut backend).await.ok()?;
            let backend = backend.strip_suffix('\n')?.to_string();
            Some(Self { backend, stream })
        };
        tokio::time::timeout(PATIENCE, attempt).await.expect("a connection through the balancer hung")
    }

    async fn echoes(&mut self) -> bool {
        let attempt = async {
            self.stream.write_all(b"ping\n").await.ok()?;
            let mut line = String::new();
            self.stream.read_line(&mut line).await.ok()?;
            Some(line == "ping\n")
        };
        tokio::time::timeout(PATIENCE, attempt).await.ok().flatten().unwrap_or(false)
    }

    /// Whether the connection is closed (EOF, or an error such as a reset) within `PATIENCE`.
    async fn closed(&mut self) -> bool {
        let mut byte = [0u8; 1];
        match tokio::time::timeout(PATIENCE, self.stream.read(&mut byte)).await {
            Ok(Ok(0) | Err(_)) => true,
            Ok(Ok(_)) | Err(_) => false,
        }
    }
}

/// Waits until `condition` holds, failing the test after `PATIENCE`.
async fn eventually(what: &str, mut condition: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !condition().await {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Connections until one reaches `backend`, which is returned open.
async fn connection_to(balancer: SocketAddr, pki: &Pki, backend: &str) -> Client {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(client) = Client::connect(balancer, pki).await
            && client.backend == backend
        {
            return client;
        }
        assert!(Instant::now() < deadline, "no connection reached {backend}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The backends `count` successive short connections reach.
async fn backends_of(balancer: SocketAddr, pki: &Pki, count: usize) -> Vec<Option<String>> {
    let mut reached = Vec::new();
    for _ in 0..count {
        reached.push(Client::connect(balancer, pki).await.map(|client| client.backend));
    }
    reached
}

/// A loopback port nothing listens on.
async fn dead_address() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_spread_over_the_backends_by_fewest_connections() {
    let pki = pki();
    let servers = [FakeApiserver::start("a", &pki).await, FakeApiserver::start("b", &pki).await, FakeApiserver::start("c", &pki).await];
    let balancer = RunningBalancer::start(&pki, servers.iter().map(FakeApiserver::backend).collect(), 4096).await;
    eventually("every backend has been reached", async || {
        let reached = backends_of(balancer.address, &pki, 6).await;
        ["a", "b", "c"].iter().all(|name| reached.contains(&Some(name.to_string())))
    })
    .await;
    // Six connections held open: two on each, as each goes to the backend with the fewest. A
    // short connection of the step before may still be counted for a moment, hence the retry.
    eventually("six held connections are spread two by two", async || {
        let mut held = Vec::new();
        for _ in 0..6 {
            held.push(Client::connect(balancer.address, &pki).await.unwrap());
        }
        ["a", "b", "c"].iter().all(|name| held.iter().filter(|client| client.backend == *name).count() == 2)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unready_backend_is_taken_out_with_its_connections_and_rejoins() {
    let pki = pki();
    let (a, b) = (FakeApiserver::start("a", &pki).await, FakeApiserver::start("b", &pki).await);
    let balancer = RunningBalancer::start(&pki, vec![a.backend(), b.backend()], 4096).await;
    let mut on_a = connection_to(balancer.address, &pki, "a").await;
    let mut on_b = connection_to(balancer.address, &pki, "b").await;
    assert!(on_a.echoes().await);

    a.set_ready(false);
    assert!(on_a.closed().await, "the balancer closes the connections of a backend that goes unready");
    assert!(on_b.echoes().await, "the other backend's connections go on");
    let reached = backends_of(balancer.address, &pki, 10).await;
    assert!(reached.iter().all(|backend| backend.as_deref() == Some("b")), "only the ready backend is chosen: {reached:?}");

    a.set_ready(true);
    connection_to(balancer.address, &pki, "a").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_backend_loses_its_connections_and_rejoins_when_back() {
    let pki = pki();
    let (mut a, b) = (FakeApiserver::start("a", &pki).await, FakeApiserver::start("b", &pki).await);
    let balancer = RunningBalancer::start(&pki, vec![a.backend(), b.backend()], 4096).await;
    let mut on_a = connection_to(balancer.address, &pki, "a").await;
    let mut on_b = connection_to(balancer.address, &pki, "b").await;

    // The fake keeps its end open: the client sees EOF only because the balancer cut it.
    a.stop().await;
    assert!(on_a.closed().await, "the balancer closes the connections of a backend that refuses connections");
    assert!(on_b.echoes().await);
    let reached = backends_of(balancer.address, &pki, 10).await;
    assert!(reached.iter().all(|backend| backend.as_deref() == Some("b")), "new connections go to the live backend: {reached:?}");

    a.restart().await;
    let mut back = connection_to(balancer.address, &pki, "a").await;
    assert!(back.echoes().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_healthy_backend_an_unready_one_serves_and_a_dead_one_never() {
    let pki = pki();
    let (unready, ready) = (FakeApiserver::start("unready", &pki).await, FakeApiserver::start("ready", &pki).await);
    unready.set_ready(false);
    let balancer = RunningBalancer::start(&pki, vec![unready.backend(), ready.backend(), dead_address().await], 4096).await;
    // Once checked, only the ready backend is chosen while it is ready.
    eventually("only the ready backend is chosen", async || backends_of(balancer.address, &pki, 4).await.iter().all(|backend| backend.as_deref() == Some("ready"))).await;

    // When every backend fails its checks (as every apiserver does while etcd elects a leader),
    // a client still reaches one that accepts connections rather than being closed on.
    ready.set_ready(false);
    eventually("the unready backends serve", async || {
        let reached = backends_of(balancer.address, &pki, 6).await;
        reached.iter().all(Option::is_some) && reached.iter().any(|backend| backend.as_deref() == Some("unready"))
    })
    .await;
    ready.set_ready(true);
    eventually("the ready backend alone again", async || backends_of(balancer.address, &pki, 4).await.iter().all(|backend| backend.as_deref() == Some("ready"))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_no_backend_listening_client_connections_are_closed() {
    let pki = pki();
    let balancer = RunningBalancer::start(&pki, vec![dead_address().await, dead_address().await], 4096).await;
    // Even before any check: every resolved backend is tried, and none connects.
    assert_eq!(backends_of(balancer.address, &pki, 3).await, vec![None; 3]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_the_maximum_are_closed() {
    let pki = pki();
    let server = FakeApiserver::start("a", &pki).await;
    let balancer = RunningBalancer::start(&pki, vec![server.backend()], 2).await;
    let first = Client::connect(balancer.address, &pki).await.expect("first connection");
    let mut second = Client::connect(balancer.address, &pki).await.expect("second connection");
    assert!(Client::connect(balancer.address, &pki).await.is_none(), "a third one is over the maximum");
    assert!(second.echoes().await, "the others go on");

    drop(first);
    eventually("a connection is free again", async || Client::connect(balancer.address, &pki).await.is_some()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_returns_and_closes_the_connections() {
    let pki = pki();
    let server = FakeApiserver::start("a", &pki).await;
    let mut balancer = RunningBalancer::start(&pki, vec![server.backend()], 4096).await;
    let mut client = Client::connect(balancer.address, &pki).await.unwrap();

    balancer.stop.take().unwrap().send(()).unwrap();
    let result = tokio::time::timeout(PATIENCE, &mut balancer.task).await.expect("the balancer stops");
    assert!(result.unwrap().is_ok());
    assert!(client.closed().await);
    assert!(TcpStream::connect(balancer.address).await.is_err(), "nothing listens any more");
}

/// The binary as the cluster runs it: a backend given by name, SIGTERM ends it with status 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_balances_and_exits_cleanly_on_sigterm() {
    let pki = pki();
    let server = FakeApiserver::start("a", &pki).await;
    let listen = dead_address().await;
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_loadbalancer"))
        .args(["--listen", &listen, "--backends", &format!("localhost:{}", server.address.port())])
        .arg("--ca-file")
        .arg(&pki.ca_file)
        .args(["--server-name", "kubernetes", "--interval-ms", &INTERVAL_MS.to_string()])
        .spawn()
        .unwrap();
    let mut child = KillOnDrop(child);
    let listen: SocketAddr = listen.parse().unwrap();
    eventually("the binary proxies", async || Client::connect(listen, &pki).await.is_some_and(|client| client.backend == "a")).await;

    let status = std::process::Command::new("kill").args(["-TERM", &child.0.id().to_string()]).status().unwrap();
    assert!(status.success());
    eventually("the binary exits", async || child.0.try_wait().unwrap().is_some()).await;
    assert!(child.0.wait().unwrap().success(), "SIGTERM is a clean exit");
}

#[test]
fn bad_command_lines_are_refused() {
    let pki = pki();
    let ca_file = pki.ca_file.to_str().unwrap();
    let rows: &[&[&str]] = &[
        &["--ca-file", ca_file],
        &["--backends", "no-port", "--ca-file", ca_file],
        &["--backends", "cp:6443"],
        &["--backends", "cp:6443", "--ca-file", "/nonexistent/ca.crt"],
        &["--backends", "cp:6443", "--ca-file", ca_file, "--interval-ms", "0"],
        &["--backends", "cp:6443", "--ca-file", ca_file, "--health-path", "readyz"],
        &["--backends", "cp:6443", "--ca-file", ca_file, "--server-name", "not a name"],
    ];
    for args in rows {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_loadbalancer")).args(["--listen", "127.0.0.1:0"]).args(*args).output().unwrap();
        assert!(!output.status.success(), "{args:?} was accepted");
        assert!(!output.stderr.is_empty(), "{args:?} failed without saying why");
    }
}

struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
