use clap::Parser;

#[tokio::main]
async fn main() {
    common::init_tracing();
    if let Err(err) = ctl::run(ctl::Config::parse()).await {
        // Server errors read as kubectl prints them; the rest get kubectl's `error: ` prefix.
        match err {
            ctl::CtlError::Reported(_) => {}
            ctl::CtlError::Server { .. } => eprintln!("{err}"),
            other => eprintln!("error: {other}"),
        }
        std::process::exit(1);
    }
}
