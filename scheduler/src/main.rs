use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    common::init_tracing();
    Ok(scheduler::run(scheduler::Config::parse()).await?)
}
