use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    common::init_tracing();
    Ok(e2e::run(e2e::Config::parse()).await?)
}
