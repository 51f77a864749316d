//! What RBAC costs a request: two real apiservers in the same run, both on HTTPS with client
//! certificates and the same objects (50 namespaces, 1,000 Roles, 1,000 RoleBindings to other
//! users, groups and service accounts, the benchmark user bound by one of them), one with
//! `--authorization-mode=RBAC`, one with authorisation off (AlwaysAllow). The same 16 clients,
//! each on its own keep-alive connection, get one ConfigMap and list a namespace's ConfigMaps a
//! fixed number of times on each; prints requests/s, p50/p99 and the ratio RBAC / off.
//!
//! Run: `cargo bench -p apiserver --bench rbac` (`-- --quick` for a short run).

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use anyhow::{Context, bail};
use bytes::Bytes;
use common::testing::pki::Authority;
use common::testing::{ApiServer, Stats, Storage, peak_rss_kib};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{CONTENT_TYPE, HOST};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
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

/// One apiserver on HTTPS with its own embedded store, taking the client certificates the CA
/// in `client_ca` signs, with RBAC or with authorisation off.
fn start(client_ca: &Path, rbac: bool) -> anyhow::Result<ApiServer> {
    let client_ca = format!("--client-ca-file={}", client_ca.display());
    let args: Vec<&str> = if rbac { vec![&client_ca, "--authorization-mode=RBAC"] } else { vec![&client_ca] };
    // The harness waits for readiness with blocking sleeps.
    tokio::task::block_in_place(|| ApiServer::start_https(Storage::Embedded, &args))
        .context("starting the apiserver (cargo bench builds it; or set APISERVER_BIN)")
}

/// The clients of both servers: an administrator (O system:masters) and the benchmark user,
/// each with a certificate the CA signs, trusting both servers' certificates.
struct Clients {
    admin: Arc<rustls::ClientConfig>,
    bench: Arc<rustls::ClientConfig>,
}

impl Clients {
    fn new(ca: &Authority, servers: &[&ApiServer]) -> anyhow::Result<Self> {
        let mut roots = rustls::RootCertStore::empty();
        for server in servers {
            roots.add(CertificateDer::from(server.tls_certificate().context("the apiserver is not on HTTPS")?.der().to_vec()))?;
        }
        let client = |name: &str, group: &str| -> anyhow::Result<Arc<rustls::ClientConfig>> {
            let certificate = ca.client_certificate(name, &[group])?;
            let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(certificate.key().serialize_der()));
            let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()?
                .with_root_certificates(roots.clone())
                .with_client_auth_cert(vec![CertificateDer::from(certificate.der().to_vec())], key)?;
            Ok(Arc::new(config))
        };
        Ok(Self { admin: client("admin", "system:masters")?, bench: client(BENCH_USER, "bench-team")? })
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
async fn populate(server: &ApiServer, clients: &Clients) -> anyhow::Result<()> {
    drive(server.address(), &clients.admin, NAMESPACES, |index| {
        let namespace = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace_of(index)}});
        (request(Method::POST, "/api/v1/namespaces", Some(&namespace)), 201)
    })
    .await?;
    drive(server.address(), &clients.admin, 2 * ROLES + CONFIGMAPS, |index| {
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
    let dir = tempfile::Builder::new().prefix("rbac-bench-").tempdir()?;
    let ca = Authority::new("bench-ca")?;
    let client_ca = dir.path().join("client-ca.crt");
    ca.write(&client_ca)?;
    let rbac = start(&client_ca, true)?;
    let off = start(&client_ca, false)?;
    let clients = Clients::new(&ca, &[&rbac, &off])?;
    let started = Instant::now();
    populate(&rbac, &clients).await?;
    populate(&off, &clients).await?;
    let populated = started.elapsed();

    // RBAC is on where it should be: the benchmark user is refused outside its one binding.
    let elsewhere = |_: usize| (request(Method::GET, "/api/v1/namespaces/ns-00/configmaps", None), 403);
    drive(rbac.address(), &clients.bench, 1, elsewhere).await.context("RBAC should refuse the benchmark user in ns-00")?;
    drive(off.address(), &clients.bench, 1, |_| (request(Method::GET, "/api/v1/namespaces/ns-00/configmaps", None), 200)).await?;
    // Warm-up: connections, caches, the RBAC policy parsed once.
    for server in [&rbac, &off] {
        drive(server.address(), &clients.bench, 1_000, get_configmap).await?;
    }

    println!("RBAC ({ROLES} roles, {ROLES} bindings) vs authorisation off, HTTPS + client certificates, {CLIENTS} clients");
    println!("  (set-up: {NAMESPACES} namespaces, {} objects on each server in {:.1} s)", 2 * ROLES + CONFIGMAPS, populated.as_secs_f64());
    let operations: [(&str, usize, fn(usize) -> (Request<Full<Bytes>>, u16)); 2] =
        [("get configmap", gets, get_configmap), (&format!("list {CONFIGMAPS} configmaps"), lists, list_configmaps)];
    for (label, total, make) in operations {
        let with_rbac = drive(rbac.address(), &clients.bench, total, make).await?;
        let without = drive(off.address(), &clients.bench, total, make).await?;
        println!(
            "  {label:<18} rbac {}   off {}   ratio {:.2}   ({total} requests each)",
            figures(&with_rbac),
            figures(&without),
            with_rbac.per_second / without.per_second
        );
    }
    let rss = |server: &ApiServer| server.pid().and_then(peak_rss_kib).map_or("?".to_string(), |kib| format!("{:.1} MiB", kib as f64 / 1024.0));
    println!("  apiserver peak RSS  rbac {}   off {}", rss(&rbac), rss(&off));
    Ok(())
}
