//! The kubelet: runs the pods bound to its node through containerd over CRI. Not built yet (issue #7): `run` says so instead of pretending.

use std::path::PathBuf;

#[derive(Clone, Debug, clap::Parser)]
#[command(name = "kubelet", about = "The kubelet: runs the pods bound to its node through containerd over CRI", version)]
pub struct Config {
    /// Path to the kubeconfig used to reach the apiserver.
    #[arg(long, env = "KUBECONFIG")]
    pub kubeconfig: Option<PathBuf>,
}

pub async fn run(_config: Config) -> Result<(), common::NotImplemented> {
    Err(common::NotImplemented { component: "kubelet", issue: 7 })
}
