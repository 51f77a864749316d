//! The proxy: the accept loop, the splice of each client connection to a backend, and the loop
//! that resolves the backends and checks them every interval.

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::MissedTickBehavior;

use crate::backends::Backends;
use crate::health::{CheckError, Checker};
use crate::{Config, Error};

/// How long connecting to a backend for a client may take before the next one is tried; on a
/// Docker network a live apiserver answers in well under a millisecond.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// A pause after a failed accept (out of descriptors), so the loop does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// A bound listener with its configuration, ready to [`run`](Balancer::run).
pub struct Balancer {
    listener: TcpListener,
    config: Config,
    checker: Checker,
}

impl Balancer {
    /// Reads the CA and binds `config.listen`; no backend is contacted yet.
    pub async fn bind(config: Config) -> Result<Self, Error> {
        let checker = Checker::new(&config.ca_file, &config.server_name, &config.health_path, check_timeout(config.interval()))?;
        let listener = TcpListener::bind(config.listen).await.map_err(|source| Error::Listen { address: config.listen, source })?;
        Ok(Self { listener, config, checker })
    }

    /// The address clients connect to (the port, when `--listen` asked for port 0).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Proxies client connections until `shutdown` completes, then drops them all.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<(), Error> {
        let Self { listener, config, checker } = self;
        let listen = listener.local_addr().unwrap_or(config.listen);
        tracing::info!(%listen, backends = ?config.backends, "balancing");
        let backends = Arc::new(Mutex::new(Backends::default()));
        tokio::pin!(shutdown);
        // The first resolution before the first accept: until the first checks end, a client
        // is proxied to any resolved backend, but with none resolved it would be turned away.
        // Meanwhile clients wait in the listen backlog.
        let mut answers = HashMap::new();
        tokio::select! {
            () = &mut shutdown => return Ok(()),
            resolved = resolve(&config.backends, &mut answers, check_timeout(config.interval())) => lock(&backends).update(&resolved),
        }
        // Dropped on return, which aborts the checks and every proxied connection.
        let mut checking = JoinSet::new();
        checking.spawn(check_forever(backends.clone(), config.backends.clone(), answers, checker, config.interval()));
        let mut connections = JoinSet::new();
        let slots = Arc::new(Semaphore::new(config.max_connections.min(Semaphore::MAX_PERMITS)));
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
                accepted = listener.accept() => {
                    let (client, peer) = match accepted {
                        Ok(accepted) => accepted,
                        Err(error) => {
                            tracing::warn!(%error, "accept failed");
                            tokio::time::sleep(ACCEPT_BACKOFF).await;
                            continue;
                        }
                    };
                    let Ok(slot) = slots.clone().try_acquire_owned() else {
                        tracing::debug!(%peer, max = config.max_connections, "too many connections; closing this one");
                        continue;
                    };
                    let backends = backends.clone();
                    connections.spawn(async move {
                        proxy(client, peer, &backends).await;
                        drop(slot);
                    });
                }
            }
        }
        tracing::info!(connections = connections.len(), "shutting down");
        Ok(())
    }
}

/// Each check must end before the next interval begins, with room for the resolution.
fn check_timeout(interval: Duration) -> Duration {
    interval.mul_f64(0.8)
}

/// The table is only touched by short, synchronous code that does not panic; were it poisoned
/// anyway, its contents are still consistent (every change is a single assignment or insert).
fn lock(backends: &Mutex<Backends>) -> MutexGuard<'_, Backends> {
    backends.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Connects `client` to a backend, trying each candidate once, and splices the two until either
/// side closes or the backend is taken out. Without any backend to reach, the client's
/// connection is closed: it will retry, as Kubernetes clients do.
async fn proxy(mut client: TcpStream, peer: SocketAddr, backends: &Mutex<Backends>) {
    let _ = client.set_nodelay(true);
    let mut tried = Vec::new();
    let (mut upstream, mut lease) = loop {
        let Some(lease) = lock(backends).pick(&tried) else {
            tracing::debug!(%peer, tried = tried.len(), "no backend to proxy to; closing the connection");
            return;
        };
        tried.push(lease.address);
        match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(lease.address)).await {
            Ok(Ok(upstream)) => break (upstream, lease),
            Ok(Err(error)) => {
                tracing::debug!(%peer, backend = %lease.address, %error, "cannot connect to the backend");
                let error = CheckError::Connect(error);
                // Nothing listens there any more: take it out now rather than at its next check.
                if error.is_definitive() {
                    lock(backends).record(lease.address, Err(error));
                }
            }
            Err(_) => tracing::debug!(%peer, backend = %lease.address, "connecting to the backend timed out"),
        }
    };
    let _ = upstream.set_nodelay(true);
    let backend = lease.address;
    tracing::debug!(%peer, %backend, "proxying");
    tokio::select! {
        copied = tokio::io::copy_bidirectional(&mut client, &mut upstream) => match copied {
            Ok((sent, received)) => tracing::debug!(%peer, %backend, sent, received, "connection closed"),
            Err(error) => tracing::debug!(%peer, %backend, %error, "connection failed"),
        },
        // Closed when the backend is taken out. Dropping both streams then closes the client's
        // side at once: an apiserver whose container vanished never sends a FIN, and a client
        // such as the kubelet would otherwise wait on it for minutes.
        _ = lease.aborted.changed() => tracing::debug!(%peer, %backend, "backend taken out; connection aborted"),
    }
}

/// Every interval: resolves the backends' names, brings the table up to date, and checks every
/// backend, recording each result as it comes.
async fn check_forever(backends: Arc<Mutex<Backends>>, names: Vec<String>, mut answers: HashMap<String, BTreeSet<SocketAddr>>, checker: Checker, interval: Duration) {
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let resolved = resolve(&names, &mut answers, check_timeout(interval)).await;
        let addresses = {
            let mut table = lock(&backends);
            table.update(&resolved);
            table.addresses()
        };
        let mut checks = JoinSet::new();
        for address in addresses {
            let checker = checker.clone();
            checks.spawn(async move { (address, checker.check(address).await) });
        }
        while let Some(done) = checks.join_next().await {
            if let Ok((address, result)) = done {
                lock(&backends).record(address, result);
            }
        }
    }
}

/// The addresses of all `names`, remembering each name's in `answers`. Docker's DNS drops a
/// stopped container's address from its alias at once, so an answer is taken as it is. A
/// lookup that fails or does not end within `timeout` keeps the name's last answer: a resolver
/// that stumbles says nothing about the apiservers, and cutting every connection on its word
/// would do the harm the balancer is there to prevent (the health checks still take out the
/// addresses that stopped answering, the last one too when the alias has none left).
async fn resolve(names: &[String], answers: &mut HashMap<String, BTreeSet<SocketAddr>>, timeout: Duration) -> BTreeSet<SocketAddr> {
    let mut lookups = JoinSet::new();
    for name in names {
        let name = name.clone();
        lookups.spawn(async move {
            let answer = tokio::time::timeout(timeout, tokio::net::lookup_host(name.clone())).await;
            (name, answer)
        });
    }
    while let Some(done) = lookups.join_next().await {
        let Ok((name, answer)) = done else { continue };
        match answer {
            Ok(Ok(addresses)) => {
                answers.insert(name, addresses.collect());
            }
            Ok(Err(error)) => tracing::debug!(%name, %error, "the backends do not resolve; keeping the last answer"),
            Err(_) => tracing::debug!(%name, ?timeout, "resolving the backends timed out; keeping the last answer"),
        }
    }
    names.iter().filter_map(|name| answers.get(name)).flatten().copied().collect()
}
