use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    common::init_tracing();
    Ok(dns::run(dns::Config::parse()).await?)
}
