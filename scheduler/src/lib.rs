//! The scheduler: watches pods that no node runs yet and binds each to a node through the
//! `pods/binding` subresource, choosing with filter and score plugins after kube-scheduler's
//! (`plugins.rs`) over a watch-fed cache of nodes and their pods (`cache.rs`), pods taken from a
//! queue with backoff (`queue.rs`). Several replicas elect one leader on a Lease.

mod cache;
mod plugins;
mod queue;
mod scheduling;

use std::path::PathBuf;
use std::time::Duration;

#[derive(Clone, Debug, clap::Parser)]
#[command(name = "scheduler", about = "The scheduler: binds pending pods to nodes", version)]
pub struct Config {
    /// Path to the kubeconfig used to reach the apiserver.
    #[arg(long, env = "KUBECONFIG")]
    pub kubeconfig: Option<PathBuf>,
    /// Pods whose spec.schedulerName is this are ours.
    #[arg(long, default_value = "default-scheduler")]
    pub scheduler_name: String,
    /// Run as one of several replicas, scheduling only while holding the Lease.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub leader_elect: bool,
    #[arg(long, default_value = "kube-scheduler")]
    pub leader_elect_resource_name: String,
    #[arg(long, default_value = "kube-system")]
    pub leader_elect_resource_namespace: String,
    /// How long a lease that is not renewed stays the leader's. With the retry period, a standby
    /// takes over at most this plus 2 s after the leader dies.
    #[arg(long, default_value_t = 10)]
    pub leader_elect_lease_duration_seconds: u64,
    #[arg(long, default_value_t = 8)]
    pub leader_elect_renew_deadline_seconds: u64,
    #[arg(long, default_value_t = 2)]
    pub leader_elect_retry_period_seconds: u64,
    /// This replica's name in the Lease (default: hostname and process id).
    #[arg(long)]
    pub identity: Option<String>,
    /// How many bindings may be in flight at once.
    #[arg(long, default_value_t = 64)]
    pub parallel_bindings: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum SchedulerError {
    #[error(transparent)]
    Client(#[from] common::client::ClientError),
    #[error(transparent)]
    Leader(#[from] common::leader::LeaderError),
    #[error("invalid configuration: {0}")]
    Config(String),
}

pub async fn run(config: Config) -> Result<(), SchedulerError> {
    let client = common::client::from_kubeconfig(config.kubeconfig.as_deref()).await?;
    if config.leader_elect_renew_deadline_seconds >= config.leader_elect_lease_duration_seconds {
        return Err(SchedulerError::Config("--leader-elect-renew-deadline-seconds must be less than the lease duration".into()));
    }
    let identity = config.identity.clone().unwrap_or_else(|| {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
        format!("{}_{}", host.trim(), std::process::id())
    });
    let work = scheduling::run(client.clone(), config.clone(), identity.clone());
    if !config.leader_elect {
        work.await;
        return Ok(());
    }
    let lease = common::leader::LeaseConfig {
        namespace: config.leader_elect_resource_namespace.clone(),
        name: config.leader_elect_resource_name.clone(),
        identity,
        lease_duration: Duration::from_secs(config.leader_elect_lease_duration_seconds),
        renew_deadline: Duration::from_secs(config.leader_elect_renew_deadline_seconds),
        retry_period: Duration::from_secs(config.leader_elect_retry_period_seconds),
    };
    common::leader::run_as_leader(client, &lease, work).await?;
    Ok(())
}
