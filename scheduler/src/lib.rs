//! The scheduler: watches pods that no node runs yet and binds each to a node through the
//! `pods/binding` subresource, choosing with filter and score plugins after kube-scheduler's
//! (`plugins.rs`) over a watch-fed cache of nodes and their pods (`cache.rs`), pods taken from a
//! queue with backoff (`queue.rs`). Pods with PersistentVolumeClaims go where their volumes can
//! be, and are bound only once their claims are (`volume_binding.rs`). A pod that fits nowhere
//! may preempt pods of lower priority, budgets respected where possible (`preemption.rs`).
//! Several replicas elect one leader on a Lease.

mod cache;
mod plugins;
mod preemption;
mod queue;
mod scheduling;
mod volume_binding;

use std::path::PathBuf;

#[derive(Clone, Debug, clap::Parser)]
#[command(name = "scheduler", about = "The scheduler: binds pending pods to nodes", version)]
pub struct Config {
    /// Path to the kubeconfig used to reach the apiserver.
    #[arg(long, env = "KUBECONFIG")]
    pub kubeconfig: Option<PathBuf>,
    /// Pods whose spec.schedulerName is this are ours.
    #[arg(long, default_value = "default-scheduler")]
    pub scheduler_name: String,
    #[command(flatten)]
    pub leader_election: common::leader::LeaderElectionArgs,
    #[arg(long, default_value = "kube-scheduler")]
    pub leader_elect_resource_name: String,
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
    let client = common::client::from_kubeconfig(config.kubeconfig.as_deref(), "kube-scheduler").await?;
    let election = &config.leader_election;
    let lease = election.lease(&config.leader_elect_resource_name).map_err(SchedulerError::Config)?;
    let work = scheduling::run(client.clone(), config.clone(), lease.identity.clone());
    if !election.leader_elect {
        work.await;
        return Ok(());
    }
    common::leader::run_as_leader(client, &lease, work).await?;
    Ok(())
}
