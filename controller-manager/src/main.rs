use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    common::init_tracing();
    Ok(controller_manager::run(controller_manager::Config::parse()).await?)
}
