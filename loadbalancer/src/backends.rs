//! The table of backends: which addresses the `--backends` names resolve to, how healthy each
//! is, how many connections it carries, and the choice of a backend for a new connection.
//! Pure bookkeeping under one lock, never held across an await; the I/O lives in `balancer`
//! and `health`.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::watch;

use crate::health::CheckError;

/// Consecutive failed checks that take a healthy backend out. One or two are not enough: a check
/// that times out once on a busy machine, or while etcd elects a leader (every apiserver's
/// /readyz waits on the store then), should not cut every connection to a live apiserver.
const FALL: u32 = 3;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Health {
    /// Resolved but not checked yet: only used while no backend is healthy (at startup).
    Unknown,
    Healthy,
    /// Fails its checks but still accepts connections: slow, not ready or shutting down. Only
    /// chosen when no backend is healthy or unchecked: when every apiserver fails at once the
    /// cause is shared (the store has no leader for a moment), and a client waiting on one gets
    /// its answer when the store is back, where a closed connection gets an error.
    Unready,
    /// Refused or unreachable at its last check or connect: its process or container is gone.
    Gone,
}

#[derive(Debug)]
struct Backend {
    health: Health,
    failures: u32,
    /// Connections proxied to it, and connections being attempted.
    active: Arc<AtomicUsize>,
    /// Never sent on: replacing (dropping) it closes every receiver, which is how the proxied
    /// connections to this backend learn to abort.
    abort: watch::Sender<()>,
}

impl Backend {
    fn new() -> Self {
        Self { health: Health::Unknown, failures: 0, active: Arc::default(), abort: watch::Sender::new(()) }
    }

    /// Closes the receivers of every connection proxied so far; later ones get a new channel.
    fn abort_connections(&mut self) {
        self.abort = watch::Sender::new(());
    }
}

/// A backend chosen for one connection. Counts as one of its active connections until dropped.
#[derive(Debug)]
pub struct Lease {
    pub address: SocketAddr,
    active: Arc<AtomicUsize>,
    /// `changed()` fails when the backend goes unhealthy or leaves: the connection must end.
    pub aborted: watch::Receiver<()>,
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.active.fetch_sub(1, Ordering::Relaxed);
    }
}

#[derive(Debug, Default)]
pub struct Backends {
    backends: BTreeMap<SocketAddr, Backend>,
    /// Advances with every choice, so that backends tied on connections take turns.
    rotation: usize,
}

impl Backends {
    /// Makes the table follow the latest resolution: new addresses join as `Unknown`, addresses
    /// gone from it leave at once, aborting their connections (the apiserver behind them is
    /// stopped or removed, and its peers may never answer again).
    pub fn update(&mut self, resolved: &BTreeSet<SocketAddr>) {
        self.backends.retain(|address, backend| {
            let keep = resolved.contains(address);
            if !keep {
                tracing::info!(%address, connections = backend.active.load(Ordering::Relaxed), "backend left DNS; aborting its connections");
            }
            keep
        });
        for address in resolved {
            self.backends.entry(*address).or_insert_with(|| {
                tracing::info!(%address, "backend discovered");
                Backend::new()
            });
        }
    }

    pub fn addresses(&self) -> Vec<SocketAddr> {
        self.backends.keys().copied().collect()
    }

    pub fn health(&self, address: SocketAddr) -> Option<Health> {
        self.backends.get(&address).map(|backend| backend.health)
    }

    /// Applies a check's result: one success makes a backend healthy; [`FALL`] consecutive
    /// failures make it unhealthy, or one when it was never healthy, or when the failure says
    /// the apiserver is gone (refused, unreachable). Going unhealthy aborts its connections.
    pub fn record(&mut self, address: SocketAddr, result: Result<(), CheckError>) {
        // Left DNS while being checked: nothing to record.
        let Some(backend) = self.backends.get_mut(&address) else { return };
        let error = match result {
            Ok(()) => {
                backend.failures = 0;
                if backend.health != Health::Healthy {
                    tracing::info!(%address, "backend is healthy");
                    backend.health = Health::Healthy;
                }
                return;
            }
            Err(error) => error,
        };
        backend.failures = backend.failures.saturating_add(1);
        let gone = error.is_definitive();
        let falls = match backend.health {
            Health::Gone => false,
            Health::Unready => gone,
            Health::Unknown => true,
            Health::Healthy => gone || backend.failures >= FALL,
        };
        if falls {
            let connections = backend.active.load(Ordering::Relaxed);
            tracing::info!(%address, %error, connections, "backend is unhealthy; aborting its connections");
            backend.health = if gone { Health::Gone } else { Health::Unready };
            backend.abort_connections();
        } else {
            tracing::debug!(%address, %error, failures = backend.failures, "health check failed");
        }
    }

    /// The backend for a new connection, among those not `tried` yet: a healthy one with the
    /// fewest active connections, ties taking turns; when no healthy one is left to try, an
    /// unchecked one (at startup, before the first checks end); when none of those either, one
    /// that fails its checks but accepts connections. Never one that is gone.
    pub fn pick(&mut self, tried: &[SocketAddr]) -> Option<Lease> {
        let untried = |health: Health| -> Vec<(&SocketAddr, &Backend)> {
            self.backends.iter().filter(|(address, backend)| backend.health == health && !tried.contains(address)).collect()
        };
        let mut candidates = untried(Health::Healthy);
        for fallback in [Health::Unknown, Health::Unready] {
            if candidates.is_empty() {
                candidates = untried(fallback);
            }
        }
        let fewest = candidates.iter().map(|(_, backend)| backend.active.load(Ordering::Relaxed)).min()?;
        candidates.retain(|(_, backend)| backend.active.load(Ordering::Relaxed) == fewest);
        let (address, backend) = candidates.get(self.rotation % candidates.len())?;
        backend.active.fetch_add(1, Ordering::Relaxed);
        let lease = Lease { address: **address, active: backend.active.clone(), aborted: backend.abort.subscribe() };
        self.rotation = self.rotation.wrapping_add(1);
        Some(lease)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn address(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    fn table(ports: &[u16]) -> Backends {
        let mut backends = Backends::default();
        backends.update(&ports.iter().map(|port| address(*port)).collect());
        backends
    }

    fn failure() -> Result<(), CheckError> {
        Err(CheckError::Status(500))
    }

    fn refused() -> Result<(), CheckError> {
        Err(CheckError::Connect(std::io::ErrorKind::ConnectionRefused.into()))
    }

    #[test]
    fn health_rises_after_one_success_and_falls_after_three_failures() {
        let mut backends = table(&[1]);
        assert_eq!(backends.health(address(1)), Some(Health::Unknown));
        backends.record(address(1), Ok(()));
        assert_eq!(backends.health(address(1)), Some(Health::Healthy));
        backends.record(address(1), failure());
        backends.record(address(1), failure());
        assert_eq!(backends.health(address(1)), Some(Health::Healthy), "two failures are tolerated");
        backends.record(address(1), Ok(()));
        backends.record(address(1), failure());
        backends.record(address(1), failure());
        assert_eq!(backends.health(address(1)), Some(Health::Healthy), "a success resets the count");
        backends.record(address(1), failure());
        assert_eq!(backends.health(address(1)), Some(Health::Unready));
        backends.record(address(1), refused());
        assert_eq!(backends.health(address(1)), Some(Health::Gone), "an unready backend that stops listening is gone");
        backends.record(address(1), Ok(()));
        assert_eq!(backends.health(address(1)), Some(Health::Healthy));
    }

    #[test]
    fn refused_or_never_healthy_falls_at_once() {
        let mut backends = table(&[1, 2]);
        backends.record(address(1), Ok(()));
        backends.record(address(1), refused());
        assert_eq!(backends.health(address(1)), Some(Health::Gone));
        backends.record(address(2), failure());
        assert_eq!(backends.health(address(2)), Some(Health::Unready));
    }

    #[test]
    fn falling_or_leaving_aborts_the_connections() {
        let mut backends = table(&[1, 2]);
        backends.record(address(1), Ok(()));
        backends.record(address(2), Ok(()));
        let first = backends.pick(&[]).unwrap();
        let second = backends.pick(&[]).unwrap();
        let (on_one, on_two) = if first.address == address(1) { (first, second) } else { (second, first) };
        backends.record(address(1), refused());
        assert!(on_one.aborted.has_changed().is_err(), "the receiver is closed");
        assert!(on_two.aborted.has_changed().is_ok());
        backends.update(&[address(1)].into());
        assert!(on_two.aborted.has_changed().is_err());
        // A connection chosen after the fall is not aborted by it.
        backends.record(address(1), Ok(()));
        let later = backends.pick(&[]).unwrap();
        assert!(later.aborted.has_changed().is_ok());
    }

    #[test]
    fn picks_fewest_connections_and_rotates_ties() {
        let mut backends = table(&[1, 2, 3]);
        for port in [1, 2, 3] {
            backends.record(address(port), Ok(()));
        }
        let held: Vec<Lease> = (0..6).map(|_| backends.pick(&[]).unwrap()).collect();
        for port in [1, 2, 3] {
            assert_eq!(held.iter().filter(|lease| lease.address == address(port)).count(), 2);
        }
        // Releasing one makes its backend the only one with the fewest.
        let freed = held.iter().position(|lease| lease.address == address(2)).unwrap();
        let mut held = held;
        held.remove(freed);
        assert_eq!(backends.pick(&[]).unwrap().address, address(2));
        // Short-lived connections (released at once) take turns.
        drop(held);
        let turns: BTreeSet<SocketAddr> = (0..3).map(|_| backends.pick(&[]).unwrap().address).collect();
        assert_eq!(turns.len(), 3);
    }

    #[test]
    fn unchecked_then_unready_backends_only_while_none_is_healthy_never_gone_ones() {
        let mut backends = table(&[1, 2, 3]);
        let tried: Vec<SocketAddr> = std::iter::from_fn(|| backends.pick(&[]).map(|lease| lease.address)).take(3).collect();
        assert_eq!(tried.len(), 3, "at startup every resolved backend may be tried");
        let mut tried = Vec::new();
        while let Some(lease) = backends.pick(&tried) {
            tried.push(lease.address);
        }
        assert_eq!(tried.len(), 3, "each once, then none");
        backends.record(address(1), failure());
        backends.record(address(2), Ok(()));
        assert_eq!(backends.pick(&[]).unwrap().address, address(2));
        assert!(backends.pick(&[address(2)]).is_some_and(|lease| lease.address == address(3)), "the unchecked one after the healthy ones");
        backends.record(address(3), refused());
        assert!(backends.pick(&[address(2)]).is_some_and(|lease| lease.address == address(1)), "the unready one last");
        assert!(backends.pick(&[address(2), address(1)]).is_none(), "never the gone one");
        backends.record(address(2), refused());
        backends.record(address(1), refused());
        assert!(backends.pick(&[]).is_none(), "every backend gone: no connection");
    }

    #[test]
    fn when_every_backend_fails_its_checks_at_once_connections_still_go_through() {
        let mut backends = table(&[1, 2]);
        for _ in 0..FALL {
            backends.record(address(1), Err(CheckError::Timeout(std::time::Duration::from_millis(800))));
            backends.record(address(2), failure());
        }
        assert_eq!(backends.health(address(1)), Some(Health::Unready));
        assert_eq!(backends.health(address(2)), Some(Health::Unready));
        let first = backends.pick(&[]).unwrap();
        assert!(backends.pick(&[first.address]).is_some(), "the other is tried next");
    }
}
