//! The cluster DNS server: Services and pods by name. Not built yet (issue #10): `run` says so instead of pretending.

use std::path::PathBuf;

#[derive(Clone, Debug, clap::Parser)]
#[command(name = "dns", about = "The cluster DNS server: Services and pods by name", version)]
pub struct Config {
    /// Path to the kubeconfig used to reach the apiserver.
    #[arg(long, env = "KUBECONFIG")]
    pub kubeconfig: Option<PathBuf>,
}

pub async fn run(_config: Config) -> Result<(), common::NotImplemented> {
    Err(common::NotImplemented { component: "dns", issue: 10 })
}
