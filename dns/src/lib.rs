//! The cluster DNS server: Services and pods by name under the cluster domain, as the Kubernetes
//! DNS specification defines them, over UDP and TCP. Records come from watched Services and
//! Endpoints (`watch`), held in an immutable index swapped whole on change (`index`); the UDP
//! listener replays answers the index has given (`udp`, `replay`), and hickory parses and frames the rest
//! and TCP's for the handler (`server`); names outside the domain go to the upstream resolvers
//! (`forward`). `/ready`, `/healthz` and `/metrics` are served over HTTP (`health`).

mod forward;
mod health;
mod index;
mod metrics;
mod replay;
mod server;
mod udp;
mod watch;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use hickory_server::proto::rr::Name;
use tokio::net::{TcpListener, UdpSocket};
use tokio::task::JoinSet;

pub use index::{Answer, Index, Lookup};

/// How long a TCP connection may sit without sending a query before it is closed.
const TCP_IDLE: Duration = Duration::from_secs(10);
/// Answers queued per TCP connection.
const TCP_RESPONSE_BUFFER: usize = 32;

#[derive(Clone, Debug, clap::Parser)]
#[command(name = "dns", about = "The cluster DNS server: Services and pods by name", version)]
pub struct Config {
    /// Path to the kubeconfig used to reach the apiserver.
    #[arg(long, env = "KUBECONFIG")]
    pub kubeconfig: Option<PathBuf>,

    /// The domain the cluster's names live under.
    #[arg(long, default_value = "cluster.local")]
    pub cluster_domain: String,

    /// Where to answer queries, over both UDP and TCP.
    #[arg(long, default_value = "0.0.0.0:53")]
    pub listen: SocketAddr,

    /// The TTL of every record, and of negative answers, in seconds.
    #[arg(long, default_value_t = 5)]
    pub ttl: u32,

    /// Resolvers for names outside the cluster domain, comma-separated `ip[:port]`. Default: the
    /// nameservers of /etc/resolv.conf, less this server itself.
    #[arg(long, value_delimiter = ',', value_parser = forward::parse_upstream)]
    pub upstream: Vec<SocketAddr>,

    /// Where to serve /ready, /healthz and /metrics over HTTP.
    #[arg(long, default_value = "0.0.0.0:8080")]
    pub health_address: SocketAddr,

    /// Seconds to go on answering after SIGTERM (CoreDNS' lameduck): queries still routed here
    /// while every node's rules let go of this pod are answered, not dropped.
    #[arg(long, default_value_t = 5)]
    pub lameduck: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum DnsError {
    #[error("--cluster-domain {domain:?} is not a DNS name: {reason}")]
    Domain { domain: String, reason: String },
    #[error(transparent)]
    Client(#[from] common::client::ClientError),
    #[error("cannot listen on {protocol} {address}: {source}")]
    Listen { protocol: &'static str, address: SocketAddr, source: std::io::Error },
    #[error("the DNS listeners stopped: {0}")]
    Serve(String),
    #[error("the health server stopped: {0}")]
    Health(std::io::Error),
}

/// The tracing setup of the binary: `common::init_tracing`'s, except that hickory's line per
/// query (logged at info) stays off unless `RUST_LOG` names hickory; at thousands of queries a
/// second it would be most of the server's work and log.
pub fn init_tracing() {
    let asked = std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into());
    let mut filter = tracing_subscriber::EnvFilter::new(&asked);
    if !asked.contains("hickory")
        && let Ok(quiet) = "hickory_server::server=warn".parse()
    {
        filter = filter.add_directive(quiet);
    }
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

/// Serves until SIGTERM or Ctrl-C, or until a listener fails.
pub async fn run(config: Config) -> Result<(), DnsError> {
    let mut domain = Name::from_ascii(&config.cluster_domain)
        .map_err(|err| DnsError::Domain { domain: config.cluster_domain.clone(), reason: err.to_string() })?;
    domain.set_fqdn(true);
    if domain.is_root() {
        return Err(DnsError::Domain { domain: config.cluster_domain.clone(), reason: "the root cannot be the cluster domain".into() });
    }
    let upstreams = if config.upstream.is_empty() { system_upstreams(config.listen).await } else { config.upstream.clone() };
    if upstreams.is_empty() {
        tracing::warn!("no upstream resolvers: names outside {domain} will answer SERVFAIL");
    }
    let client = common::client::from_kubeconfig(config.kubeconfig.as_deref(), "coredns").await?;

    let metrics = Arc::new(metrics::Metrics::default());
    let zone = Arc::new(server::Zone::new(Index::empty(&domain, config.ttl)));
    let forwarder = Arc::new(forward::Forwarder::new(upstreams, forward::BUDGET, metrics.clone()));
    let udp = UdpSocket::bind(config.listen).await.map_err(|source| DnsError::Listen { protocol: "UDP", address: config.listen, source })?;
    let tcp = TcpListener::bind(config.listen).await.map_err(|source| DnsError::Listen { protocol: "TCP", address: config.listen, source })?;
    let http = TcpListener::bind(config.health_address)
        .await
        .map_err(|source| DnsError::Listen { protocol: "HTTP", address: config.health_address, source })?;
    tracing::info!(listen = %config.listen, health = %config.health_address, domain = %domain, upstreams = ?forwarder.upstreams(), "serving DNS");

    let handler = server::Handler { zone: zone.clone(), forwarder, metrics: metrics.clone() };
    let mut dns = hickory_server::Server::new(handler.clone());
    dns.register_listener(tcp, TCP_IDLE, TCP_RESPONSE_BUFFER);

    let mut tasks: JoinSet<Result<(), DnsError>> = JoinSet::new();
    // One receiving loop per core on the one socket: a replayed answer is sent from the loop
    // that received its query.
    let (udp, handler) = (Arc::new(udp), Arc::new(handler));
    for _ in 0..std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get) {
        let (udp, zone, handler) = (udp.clone(), zone.clone(), handler.clone());
        tasks.spawn(async move {
            udp::serve(udp, zone, handler).await;
            Ok(())
        });
    }
    let watch = watch::Watch { client, zone: zone.clone(), metrics: metrics.clone(), domain, ttl: config.ttl };
    tasks.spawn(async move {
        watch.run().await;
        Ok(())
    });
    tasks.spawn(async move { health::serve(http, zone, metrics).await.map_err(DnsError::Health) });

    let stopped = tokio::select! {
        result = dns.block_until_done() => Some(result.map_err(|err| DnsError::Serve(err.to_string()))),
        Some(joined) = tasks.join_next() => Some(match joined {
            Ok(result) => result,
            Err(err) => Err(DnsError::Serve(format!("a background task ended: {err}"))),
        }),
        () = common::signals::shutdown() => None,
    };
    match stopped {
        Some(result) => result,
        None => {
            tracing::info!(seconds = config.lameduck, "asked to stop: answering on for the lame-duck period");
            tokio::time::sleep(std::time::Duration::from_secs(config.lameduck)).await;
            tracing::info!("shutting down");
            tasks.abort_all();
            dns.shutdown_gracefully().await.map_err(|err| DnsError::Serve(err.to_string()))
        }
    }
}

/// The nameservers of /etc/resolv.conf, less this server itself; none if it cannot be read.
async fn system_upstreams(listen: SocketAddr) -> Vec<SocketAddr> {
    match tokio::fs::read_to_string("/etc/resolv.conf").await {
        Ok(text) => forward::upstreams_from_resolv_conf(&text, listen),
        Err(err) => {
            tracing::warn!("cannot read /etc/resolv.conf: {err}");
            Vec::new()
        }
    }
}
