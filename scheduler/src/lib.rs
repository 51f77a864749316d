//! The scheduler: binds pending pods to nodes. Not built yet (issue #5): `run` says so instead of pretending.

use std::path::PathBuf;

#[derive(Clone, Debug, clap::Parser)]
#[command(name = "scheduler", about = "The scheduler: binds pending pods to nodes", version)]
pub struct Config {
    /// Path to the kubeconfig used to reach the apiserver.
    #[arg(long, env = "KUBECONFIG")]
    pub kubeconfig: Option<PathBuf>,
}

pub async fn run(_config: Config) -> Result<(), common::NotImplemented> {
    Err(common::NotImplemented { component: "scheduler", issue: 5 })
}
