//! ctl: the command-line client for the cluster. Not built yet (issue #4): `run` says so instead of pretending.

pub mod manifest;

use std::path::PathBuf;

#[derive(Clone, Debug, clap::Parser)]
#[command(name = "ctl", about = "ctl: the command-line client for the cluster", version)]
pub struct Config {
    /// Path to the kubeconfig used to reach the apiserver.
    #[arg(long, env = "KUBECONFIG")]
    pub kubeconfig: Option<PathBuf>,
}

pub async fn run(_config: Config) -> Result<(), common::NotImplemented> {
    Err(common::NotImplemented { component: "ctl", issue: 4 })
}
