//! What RBAC costs a request: two real apiservers in the same run, both on HTTPS with client
//! certificates and the same objects (50 namespaces, 1,000 Roles, 1,000 RoleBindings to other
//! users, groups and service accounts, the benchmark user bound by one of them), one with
//! `--authorization-mode=RBAC`, one with authorisation off (AlwaysAllow). The same 16 clients,
//! each on its own keep-alive connection, get one ConfigMap and list a namespace's ConfigMaps a
//! fixed number of times on each; prints requests/s, p50/p99 and the ratio RBAC / off.
//!
//! Run: `cargo bench -p apiserver --bench rbac` (`-- --quick` for a short run).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytes::Bytes;
use common::testing::{Stats, free_port, peak_rss_kib, workspace_binary};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{CONTENT_TYPE, HOST};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

const CLIENTS: usize = 16;
const NAMESPACES: usize = 50;
const ROLES: usize = 1_000;
const CONFIGMAPS: usize = 20;
const BENCH_USER: &str = "bench-user";

fn namespace_of(index: usize) -> String {
    format!("ns-{:02}", index % NAMESPACES)
}

/// The benchmark user's one binding is the last; its namespace is where the load goes.
fn bench_namespace() -> String {
    namespace_of(ROLES - 1)
}

/// The certificates both servers use: the server's own, the client CA, an administrator's
/// (O system:masters) and the benchmark user's.
struct Pki {
    dir: tempfile::TempDir,
    admin: Arc<rustls::ClientConfig>,
    bench: Arc<rustls::ClientConfig>,
}

impl Pki {
    fn new() -> anyhow::Result<Self> {
        let dir = tempfile::Builder::new().prefix("rbac-bench-").tempdir()?;
        let server = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()])?;
        std::fs::write(dir.path().join("tls.crt"), server.cert.pem())?;
        std::fs::write(dir.path().join("tls.key"), server.key_pair.serialize_pem())?;
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new())?;
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.distinguished_name.push(rcgen::DnType::CommonName, "bench-ca");
        params.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign, rcgen::KeyUsagePurpose::DigitalSignature];
        let ca_key = rcgen::KeyPair::generate()?;
        let ca = params.self_signed(&ca_key)?;
        std::fs::write(dir.path().join("client-ca.crt"), ca.pem())?;
        let server_der = server.cert.der().clone();
        let client = |name: &str, group: &str| -> anyhow::Result<Arc<rustls::ClientConfig>> {
            let mut params = rcgen::CertificateParams::new(Vec::<String>::new())?;
            params.distinguished_name.push(rcgen::DnType::CommonName, name);
            params.distinguished_name.push(rcgen::DnType::OrganizationName, group);
            params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
            let key = rcgen::KeyPair::generate()?;
            let cert = params.signed_by(&key, &ca, &ca_key)?;
            let mut roots = rustls::RootCertStore::empty();
            roots.add(server_der.clone())?;
            let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()?
                .with_root_certificates(roots)
                .with_client_auth_cert(vec![cert.der().clone()], PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())))?;
            Ok(Arc::new(config))
        };
        let (admin, bench) = (client("admin", "system:masters")?, client(BENCH_USER, "bench-team")?);
        Ok(Self { dir, admin, bench })
    }

    fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

/// One apiserver binary on its own embedded store, killed when dropped.
struct Server {
    child: Child,
    dir: tempfile::TempDir,
    address: SocketAddr,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn start(pki: &Pki, rbac: bool) -> anyhow::Result<Self> {
        let dir = tempfile::Builder::new().prefix("rbac-bench-apiserver-").tempdir()?;
        let address: SocketAddr = format!("127.0.0.1:{}", free_port()?).parse()?;
        let shown = |path: &Path| path.display().to_string();
        let mut command = Command::new(workspace_binary("apiserver"));
        command
            .arg(format!("--bind-address={address}"))
            .arg(format!("--data-dir={}", shown(&dir.path().join("data"))))
            .arg(format!("--tls-cert-file={}", shown(&pki.file("tls.crt"))))
            .arg(format!("--tls-private-key-file={}", shown(&pki.file("tls.key"))))
            .arg(format!("--client-ca-file={}", shown(&pki.file("client-ca.crt"))));
        if rbac {
            command.arg("--authorization-mode=RBAC");
        }
        let child = command
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("apiserver.log"))?)
            .spawn()
            .context("starting the apiserver (cargo bench builds it; or set APISERVER_BIN)")?;
        Ok(Self { child, dir, address })
    }

    async fn wait_ready(&self, pki: &Pki) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ready = async {
                let mut sender = open(self.address, &pki.admin).await?;
                exchange(&mut sender, request(Method::GET, "/readyz", None)).await
            };
            if let Ok((200, _)) = ready.await {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("the apiserver did not become ready: {}", std::fs::read_to_string(self.dir.path().join("apiserver.log")).unwrap_or_default());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// A keep-alive HTTPS connection.
async fn open(address: SocketAddr, tls: &Arc<rustls::ClientConfig>) -> anyhow::Result<SendRequest<Full<Bytes>>> {
    let tcp = TcpStream::connect(address).await?;
    tcp.set_nodelay(true)?;
    let stream = TlsConnector::from(tls.clone()).connect(ServerName::try_from("127.0.0.1")?, tcp).await?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    // Ends when the sender is dropped or the server closes the connection.
    tokio::spawn(connection);
    Ok(sender)
}

async fn exchange(sender: &mut SendRequest<Full<Bytes>>, request: Request<Full<Bytes>>) -> anyhow::Result<(u16, Bytes)> {
    sender.ready().await?;
    let response = sender.send_request(request).await?;
    let status = response.status().as_u16();
    Ok((status, response.into_body().collect().await?.to_bytes()))
}

fn request(method: Method, path: &str, body: Option<&Value>) -> Request<Full<Bytes>> {
    let builder = Request::builder().method(method).uri(path).header(HOST, "127.0.0.1");
    let built = match body {
        Some(body) => builder.header(CONTENT_TYPE, "application/json").body(Full::from(body.to_string())),
        None => builder.body(Full::default()),
    };
    // Provably fine: the method, the path (made here from constants and numbers) and the header
    // values are all valid.
    #[allow(clippy::expect_used)]
    built.expect("a valid request")
}

/// `total` requests made by `request(index)` from `CLIENTS` connections, each request checked
/// against the status it expects.
async fn drive<F>(address: SocketAddr, tls: &Arc<rustls::ClientConfig>, total: usize, make: F) -> anyhow::Result<Stats>
where
    F: Fn(usize) -> (Request<Full<Bytes>>, u16) + Send + Sync + 'static,
{
    let make = Arc::new(make);
    let next = Arc::new(AtomicUsize::new(0));
    let mut senders = Vec::with_capacity(CLIENTS);
    for _ in 0..CLIENTS {
        senders.push(open(address, tls).await?);
    }
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for mut sender in senders {
        let (make, next) = (make.clone(), next.clone());
        tasks.spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                if index >= total {
                    return Ok::<_, anyhow::Error>(latencies);
                }
                let (request, expected) = make(index);
                let (method, path) = (request.method().clone(), request.uri().to_string());
                let began = Instant::now();
                let (status, body) = exchange(&mut sender, request).await?;
                latencies.push(began.elapsed());
                if status != expected {
                    bail!("{method} {path}: {status} (expected {expected}): {}", String::from_utf8_lossy(&body));
                }
            }
        });
    }
    let mut latencies = Vec::with_capacity(total);
    for result in tasks.join_all().await {
        latencies.extend(result?);
    }
    Ok(Stats::of(latencies, started.elapsed()))
}

fn role(index: usize) -> Value {
    let (group, resource) = match index {
        _ if index == ROLES - 1 => ("", "configmaps"),
        _ => [("", "pods"), ("", "secrets"), ("", "services"), ("apps", "deployments"), ("", "configmaps")][index % 5],
    };
    json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
        "metadata": {"name": format!("role-{index:04}"), "namespace": namespace_of(index)},
        "rules": [
            {"apiGroups": [group], "resources": [resource], "verbs": ["get", "list", "watch"]},
            {"apiGroups": [""], "resources": ["events"], "verbs": ["create", "patch"]},
        ],
    })
}

fn binding(index: usize) -> Value {
    let subject = match index % 3 {
        _ if index == ROLES - 1 => json!({"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": BENCH_USER}),
        0 => json!({"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": format!("user-{index}")}),
        1 => json!({"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": format!("group-{}", index % 40)}),
        _ => json!({"kind": "ServiceAccount", "name": format!("sa-{index}"), "namespace": namespace_of(index)}),
    };
    json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": {"name": format!("binding-{index:04}"), "namespace": namespace_of(index)},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": format!("role-{index:04}")},
        "subjects": [subject],
    })
}

/// The same objects on either server, created by the administrator.
async fn populate(server: &Server, pki: &Pki) -> anyhow::Result<()> {
    drive(server.address, &pki.admin, NAMESPACES, |index| {
        let namespace = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace_of(index)}});
        (request(Method::POST, "/api/v1/namespaces", Some(&namespace)), 201)
    })
    .await?;
    drive(server.address, &pki.admin, 2 * ROLES + CONFIGMAPS, |index| {
        let rbac = "/apis/rbac.authorization.k8s.io/v1/namespaces";
        let (path, body) = match index {
            _ if index < ROLES => (format!("{rbac}/{}/roles", namespace_of(index)), role(index)),
            _ if index < 2 * ROLES => (format!("{rbac}/{}/rolebindings", namespace_of(index - ROLES)), binding(index - ROLES)),
            _ => {
                let name = format!("cm-{:02}", index - 2 * ROLES);
                let body = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "labels": {"app": "bench"}},
                    "data": {"config.json": "{\"environment\": \"dev\"}", "url": "http://example-service:80/api"}});
                (format!("/api/v1/namespaces/{}/configmaps", bench_namespace()), body)
            }
        };
        (request(Method::POST, &path, Some(&body)), 201)
    })
    .await?;
    Ok(())
}

fn get_configmap(index: usize) -> (Request<Full<Bytes>>, u16) {
    (request(Method::GET, &format!("/api/v1/namespaces/{}/configmaps/cm-{:02}", bench_namespace(), index % CONFIGMAPS), None), 200)
}

fn list_configmaps(_: usize) -> (Request<Full<Bytes>>, u16) {
    (request(Method::GET, &format!("/api/v1/namespaces/{}/configmaps", bench_namespace()), None), 200)
}

fn figures(stats: &Stats) -> String {
    format!("{:>6.0} req/s p50 {:>5.2} ms p99 {:>5.2} ms", stats.per_second, stats.p50.as_secs_f64() * 1e3, stats.p99.as_secs_f64() * 1e3)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let quick = std::env::args().any(|arg| arg == "--quick");
    let (gets, lists) = if quick { (4_000, 2_000) } else { (20_000, 10_000) };
    let pki = Pki::new()?;
    let rbac = Server::start(&pki, true)?;
    let off = Server::start(&pki, false)?;
    rbac.wait_ready(&pki).await?;
    off.wait_ready(&pki).await?;
    let started = Instant::now();
    populate(&rbac, &pki).await?;
    populate(&off, &pki).await?;
    let populated = started.elapsed();

    // RBAC is on where it should be: the benchmark user is refused outside its one binding.
    let elsewhere = |_: usize| (request(Method::GET, "/api/v1/namespaces/ns-00/configmaps", None), 403);
    drive(rbac.address, &pki.bench, 1, elsewhere).await.context("RBAC should refuse the benchmark user in ns-00")?;
    drive(off.address, &pki.bench, 1, |_| (request(Method::GET, "/api/v1/namespaces/ns-00/configmaps", None), 200)).await?;
    // Warm-up: connections, caches, the RBAC policy parsed once.
    for server in [&rbac, &off] {
        drive(server.address, &pki.bench, 1_000, get_configmap).await?;
    }

    println!("RBAC ({ROLES} roles, {ROLES} bindings) vs authorisation off, HTTPS + client certificates, {CLIENTS} clients");
    println!("  (set-up: {NAMESPACES} namespaces, {} objects on each server in {:.1} s)", 2 * ROLES + CONFIGMAPS, populated.as_secs_f64());
    let operations: [(&str, usize, fn(usize) -> (Request<Full<Bytes>>, u16)); 2] =
        [("get configmap", gets, get_configmap), (&format!("list {CONFIGMAPS} configmaps"), lists, list_configmaps)];
    for (label, total, make) in operations {
        let with_rbac = drive(rbac.address, &pki.bench, total, make).await?;
        let without = drive(off.address, &pki.bench, total, make).await?;
        println!(
            "  {label:<18} rbac {}   off {}   ratio {:.2}   ({total} requests each)",
            figures(&with_rbac),
            figures(&without),
            with_rbac.per_second / without.per_second
        );
    }
    let rss = |server: &Server| peak_rss_kib(server.child.id()).map_or("?".to_string(), |kib| format!("{:.1} MiB", kib as f64 / 1024.0));
    println!("  apiserver peak RSS  rbac {}   off {}", rss(&rbac), rss(&off));
    Ok(())
}
