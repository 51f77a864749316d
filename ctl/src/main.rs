use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    common::init_tracing();
    Ok(ctl::run(ctl::Config::parse()).await?)
}
