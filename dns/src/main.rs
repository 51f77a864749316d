use clap::Parser;

#[tokio::main]
async fn main() {
    dns::init_tracing();
    if let Err(err) = dns::run(dns::Config::parse()).await {
        common::exit_with_error(&err);
    }
}
