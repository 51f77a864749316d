use clap::Parser;

#[tokio::main]
async fn main() {
    // A command-line client speaks through its output and errors, as kubectl does; the client
    // library's request logs are there for RUST_LOG=debug only.
    common::init_tracing("off");
    if let Err(err) = ctl::run(ctl::Config::parse()).await {
        // Server errors read as kubectl prints them; the rest get kubectl's `error: ` prefix.
        match err {
            ctl::CtlError::Reported(_) => {}
            ctl::CtlError::Server { .. } => eprintln!("{err}"),
            ctl::CtlError::Exit(code) => {
                eprintln!("{err}");
                std::process::exit(code);
            }
            other => eprintln!("error: {other}"),
        }
        std::process::exit(1);
    }
}
