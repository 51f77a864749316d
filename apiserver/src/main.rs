use clap::Parser;

#[tokio::main]
async fn main() {
    common::init_tracing("info");
    if let Err(err) = apiserver::run(apiserver::Config::parse()).await {
        common::exit_with_error(&err);
    }
}
