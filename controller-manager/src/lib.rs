//! The controller-manager: reconciling controllers that drive actual state toward desired state. Not built yet (issue #6): `run` says so instead of pretending.

use std::path::PathBuf;

#[derive(Clone, Debug, clap::Parser)]
#[command(name = "controller-manager", about = "The controller-manager: reconciling controllers that drive actual state toward desired state", version)]
pub struct Config {
    /// Path to the kubeconfig used to reach the apiserver.
    #[arg(long, env = "KUBECONFIG")]
    pub kubeconfig: Option<PathBuf>,
}

pub async fn run(_config: Config) -> Result<(), common::NotImplemented> {
    Err(common::NotImplemented { component: "controller-manager", issue: 6 })
}
