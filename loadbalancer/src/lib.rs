//! The external load balancer of a multi-control-plane cluster (kind's
//! `<name>-external-load-balancer`): a TCP proxy in front of the apiservers. Backends are the
//! addresses the `--backends` names resolve to, re-resolved every interval (`balancer`); each
//! is checked with `GET /readyz` over TLS (`health`); new connections go to a healthy backend
//! with the fewest connections, and the connections of a backend that goes unhealthy or leaves
//! DNS are cut so that their clients reconnect to a live apiserver (`backends`). TLS passes
//! through: clients authenticate to the apiserver itself.

pub mod backends;
pub mod balancer;
pub mod health;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

pub use balancer::Balancer;

#[derive(Clone, Debug, clap::Parser)]
#[command(name = "loadbalancer", about = "A TCP load balancer with health checks in front of the apiservers", version)]
pub struct Config {
    /// Where to accept client connections.
    #[arg(long, default_value = "0.0.0.0:6443")]
    pub listen: SocketAddr,

    /// A `HOST:PORT` whose every address is a backend, resolved again every interval (a Docker
    /// network alias names all running control planes). Repeatable.
    #[arg(long = "backends", required = true, value_parser = parse_backend)]
    pub backends: Vec<String>,

    /// The authorities (PEM) the apiservers' serving certificates are checked against.
    #[arg(long)]
    pub ca_file: PathBuf,

    /// The name the apiservers' certificates are checked for, and the checks' Host header.
    #[arg(long, default_value = "kubernetes")]
    pub server_name: String,

    /// What the health check asks for; healthy iff it answers 200.
    #[arg(long, default_value = "/readyz")]
    pub health_path: String,

    /// Milliseconds between resolutions and between the checks of a backend.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..))]
    pub interval_ms: u64,

    /// Client connections proxied at once; further ones are closed as they come.
    #[arg(long, default_value_t = 4096)]
    pub max_connections: usize,
}

impl Config {
    pub fn interval(&self) -> Duration {
        Duration::from_millis(self.interval_ms)
    }
}

/// `HOST:PORT`, checked here so that a typo fails at startup rather than resolving to nothing
/// every interval; the host may be a name or a literal address (`[::1]:6443` for IPv6).
fn parse_backend(value: &str) -> Result<String, String> {
    match value.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok_and(|port| port != 0) => Ok(value.to_string()),
        _ => Err(format!("{value:?} is not HOST:PORT")),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot listen on {address}: {source}")]
    Listen { address: SocketAddr, source: std::io::Error },
    #[error("cannot read the CA certificates {path}: {why}")]
    CaFile { path: PathBuf, why: String },
    #[error("--server-name {0:?} is not a DNS name or IP address")]
    ServerName(String),
    #[error("--health-path {0:?} is not an absolute path")]
    HealthPath(String),
    #[error("the TLS configuration: {0}")]
    Tls(#[from] rustls::Error),
}

/// Listens on `config.listen` and balances until `shutdown` completes.
pub async fn run(config: Config, shutdown: impl Future<Output = ()>) -> Result<(), Error> {
    Balancer::bind(config).await?.run(shutdown).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_arguments() {
        for good in ["cp:6443", "kind-control-planes:6443", "127.0.0.1:6443", "[::1]:6443"] {
            assert_eq!(parse_backend(good).as_deref(), Ok(good));
        }
        for bad in ["cp", "cp:", ":6443", "cp:0", "cp:65536", "cp:https", ""] {
            assert!(parse_backend(bad).is_err(), "{bad:?}");
        }
    }
}
