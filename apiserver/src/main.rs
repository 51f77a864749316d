use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    common::init_tracing();
    apiserver::run(apiserver::Config::parse()).await?;
    Ok(())
}
