use clap::Parser;

#[tokio::main]
async fn main() {
    common::init_tracing("info");
    if let Err(err) = scheduler::run(scheduler::Config::parse()).await {
        common::exit_with_error(&err);
    }
}
