use std::io::Write;

use clap::Parser;

#[tokio::main]
async fn main() {
    // A command-line client speaks through its output and errors, as kubectl does; the client
    // library's request logs are there for RUST_LOG=debug only.
    common::init_tracing("off");
    quiet_panics();
    if ctl::completion::answer_if_asked().await {
        return;
    }
    let result = ctl::run(ctl::Config::parse()).await;
    let flushed = std::io::stdout().flush();
    if let Err(err) = flushed.map_err(ctl::CtlError::from).and(result) {
        // Server errors read as kubectl prints them; the rest get kubectl's `error: ` prefix.
        match err {
            ctl::CtlError::Output(err) if ctl::output::is_broken_pipe(&err) => std::process::exit(ctl::output::BROKEN_PIPE_STATUS),
            ctl::CtlError::Reported(_) => {}
            ctl::CtlError::Server { .. } | ctl::CtlError::Client(_) => eprintln!("{err}"),
            ctl::CtlError::Exit(code) => {
                eprintln!("{err}");
                std::process::exit(code);
            }
            other => eprintln!("error: {other}"),
        }
        std::process::exit(1);
    }
}

/// A bug must not greet a user with Rust's panic text and a hint about RUST_BACKTRACE: say it in
/// kubectl's form, with the backtrace only when asked for. A print that reached a closed pipe
/// outside `output` (stderr, a library) ends ctl as SIGPIPE would.
fn quiet_panics() {
    std::panic::set_hook(Box::new(|info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("a panic");
        if message.contains("Broken pipe") {
            std::process::exit(ctl::output::BROKEN_PIPE_STATUS);
        }
        let location = info.location().map(|location| format!(" at {location}")).unwrap_or_default();
        let _ = writeln!(std::io::stderr(), "error: internal error: {message}{location}");
        if std::env::var_os("RUST_BACKTRACE").is_some_and(|value| value != "0") {
            let _ = writeln!(std::io::stderr(), "{}", std::backtrace::Backtrace::force_capture());
        }
        std::process::exit(1);
    }));
}
