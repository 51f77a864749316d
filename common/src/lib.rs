//! Code that two or more components of the cluster need: Kubernetes' name formats, quantities,
//! label and field selectors, cron schedules, Go durations, taint and node affinity matching,
//! JSON compared as Kubernetes' semantic equality compares it, tracing setup, and, behind the `testing` feature,
//! the harness that runs real processes (etcd, the apiserver) for tests and benchmarks.

pub mod cgroups;
#[cfg(feature = "client")]
pub mod client;
pub mod cron;
pub mod durations;
#[cfg(feature = "client")]
pub mod events;
#[cfg(feature = "client")]
pub mod leader;
pub mod names;
pub mod quantity;
pub mod quota;
pub mod scheduling;
pub mod selector;
pub mod semantic;
#[cfg(feature = "signals")]
pub mod signals;
pub mod storage;
#[cfg(feature = "testing")]
pub mod testing;
#[cfg(feature = "tls")]
pub mod tls;
#[cfg(feature = "upgrade")]
pub mod upgrade;
#[cfg(feature = "x509")]
pub mod x509;

/// The Kubernetes release the cluster speaks (its API and behaviour are 1.33's), as `/version`'s
/// `gitVersion` and each Node's `kubeletVersion` report it: tools and charts compare the two.
pub const KUBERNETES_VERSION: &str = concat!("v1.33.0+cluster-", env!("CARGO_PKG_VERSION"));

/// How often kubelets sample containers' CPU and memory, and so the window over which the
/// resource metrics API reports CPU usage.
pub const RESOURCE_USAGE_WINDOW: std::time::Duration = std::time::Duration::from_secs(5);

/// Installs the process-wide `tracing` subscriber: human-readable lines on stderr, filtered by
/// `RUST_LOG` (else `default_filter`). Calling it twice is harmless; the second call does nothing.
pub fn init_tracing(default_filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

/// What the entry point of a component that is not built yet returns, so that nothing pretends
/// to work before it does.
#[derive(Debug, thiserror::Error)]
#[error("{component} is not implemented yet (issue #{issue})")]
pub struct NotImplemented {
    pub component: &'static str,
    pub issue: u32,
}

/// Ends a binary the way a command-line user expects after a failure: one line with the error
/// and its causes (no debug output, no backtrace), exit code 1.
pub fn exit_with_error(err: &dyn std::error::Error) -> ! {
    let mut line = format!("error: {err}");
    let mut source = err.source();
    while let Some(cause) = source {
        line.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    eprintln!("{line}");
    std::process::exit(1)
}
