use clap::Parser;

#[tokio::main]
async fn main() {
    // kube's client logs every refused connection while `create` waits for the apiserver (ten a
    // second); the tool says itself what it waits for and why it gave up.
    common::init_tracing("info,kube_client=off");
    if let Err(err) = e2e::run(e2e::Config::parse()).await {
        common::exit_with_error(&err);
    }
}
