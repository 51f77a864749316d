//! The kind-style local cluster tool (nodes as Docker containers) and the end-to-end tests. Not built yet (issue #8): `run` says so instead of pretending.

use std::path::PathBuf;

#[derive(Clone, Debug, clap::Parser)]
#[command(name = "cluster", about = "The kind-style local cluster tool (nodes as Docker containers) and the end-to-end tests", version)]
pub struct Config {
    /// Path to the kubeconfig used to reach the apiserver.
    #[arg(long, env = "KUBECONFIG")]
    pub kubeconfig: Option<PathBuf>,
}

pub async fn run(_config: Config) -> Result<(), common::NotImplemented> {
    Err(common::NotImplemented { component: "cluster", issue: 8 })
}
