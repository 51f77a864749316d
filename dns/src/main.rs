use clap::Parser;

#[tokio::main]
async fn main() {
    common::init_tracing("info");
    if let Err(err) = dns::run(dns::Config::parse()).await {
        common::exit_with_error(&err);
    }
}
