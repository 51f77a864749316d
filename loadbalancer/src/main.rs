use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use tokio::signal::unix::{SignalKind, signal};

fn main() -> anyhow::Result<()> {
    let config = loadbalancer::Config::parse();
    init_tracing();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("cannot start the runtime")?;
    let result = runtime.block_on(async {
        // Installed before serving: as PID 1 of its container the process would otherwise
        // ignore SIGTERM, and `docker stop` would wait its whole grace period.
        let mut terminate = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
        let mut interrupt = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
        let shutdown = async move {
            tokio::select! {
                _ = terminate.recv() => {}
                _ = interrupt.recv() => {}
            }
        };
        loadbalancer::run(config, shutdown).await.map_err(anyhow::Error::from)
    });
    // A name lookup in flight holds a blocking thread, which dropping the runtime would wait for
    // (up to the resolver's timeout); exiting promptly matters more.
    runtime.shutdown_timeout(Duration::from_millis(100));
    result
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}
