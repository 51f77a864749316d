use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    common::init_tracing();
    Ok(kubelet::run(kubelet::Config::parse()).await?)
}
