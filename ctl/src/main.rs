use std::io::Write;

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{CommandFactory, Parser};

#[tokio::main]
async fn main() {
    // A command-line client speaks through its output and errors, as kubectl does; the client
    // library's request logs are there for RUST_LOG=debug only.
    common::init_tracing("off");
    quiet_panics();
    if ctl::completion::answer_if_asked().await {
        return;
    }
    let config = ctl::Config::try_parse().unwrap_or_else(|err| usage_error(&err));
    let result = ctl::run(config).await;
    let flushed = std::io::stdout().flush();
    if let Err(err) = flushed.map_err(ctl::CtlError::from).and(result) {
        match err {
            ctl::CtlError::Output(err) if ctl::output::is_broken_pipe(&err) => std::process::exit(ctl::output::BROKEN_PIPE_STATUS),
            ctl::CtlError::Reported(_) => {}
            ctl::CtlError::Exit(code) => {
                eprintln!("{}", err.kubectl_text());
                std::process::exit(code);
            }
            other => eprintln!("{}", other.kubectl_text()),
        }
        std::process::exit(1);
    }
}

/// A command line clap cannot parse, in kubectl's (cobra's and pflag's) words with ctl's name,
/// ending ctl with kubectl's status 1: an unknown flag or shorthand, a flag without its value,
/// an unknown command (with cobra's suggestions at the top). Help, versions and what kubectl
/// has no words for keep clap's text and status.
fn usage_error(err: &clap::Error) -> ! {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let text = |kind: ContextKind| match err.get(kind) {
        Some(ContextValue::String(value)) => Some(value.clone()),
        _ => None,
    };
    // cobra finds the command with the unknown flag left out, and with it the word after it
    // when nothing joins the flag to a value (`--foo get` reads `get` as --foo's value).
    let bad_flag = text(ContextKind::InvalidArg).filter(|_| err.kind() == ErrorKind::UnknownArgument);
    let typed = |flag: &str, arg: &str| {
        let shorthands = !flag.starts_with("--") && !arg.starts_with("--") && arg.starts_with(flag);
        arg == flag || arg.starts_with(&format!("{flag}=")) || shorthands
    };
    let mut words = args.clone();
    if let Some(at) = bad_flag.and_then(|flag| args.iter().position(|arg| typed(&flag, arg))) {
        let joined = args[at].contains('=') || (!args[at].starts_with("--") && args[at].len() > 2);
        words.drain(at..(if joined { at + 1 } else { at + 2 }).min(args.len()));
    }
    let (path, rest) = command_path(&words);
    let see_help = format!("See '{} --help' for usage.", path.join(" "));
    let message = match err.kind() {
        ErrorKind::UnknownArgument => text(ContextKind::InvalidArg).and_then(|flag| unknown_flag(&flag, &args)).map(|message| format!("error: {message}\n{see_help}")),
        // clap names the flag by its long form whichever was typed; a flag left without its
        // value is the last argument.
        ErrorKind::InvalidValue if text(ContextKind::InvalidValue).is_some_and(|value| value.is_empty()) => {
            args.last().filter(|last| last.starts_with('-')).map(|last| format!("error: flag needs an argument: {}\n{see_help}", flag_name(last)))
        }
        ErrorKind::InvalidSubcommand => text(ContextKind::InvalidSubcommand).map(|name| {
            if path.len() == 1 {
                format!("error: unknown command {name:?} for \"ctl\"{}", suggestions(&name))
            } else {
                format!("error: unknown command {:?}\nSee '{} -h' for help and examples", rest.join(" "), path.join(" "))
            }
        }),
        _ => None,
    };
    match message {
        Some(message) => {
            eprintln!("{message}");
            std::process::exit(1);
        }
        None => err.exit(),
    }
}

/// pflag's words for a flag it does not know: `unknown flag: --foo` (its value aside), or
/// `unknown shorthand flag: 'z' in -zx` naming the argument the letter came in.
fn unknown_flag(flag: &str, args: &[String]) -> Option<String> {
    if let Some(long) = flag.strip_prefix("--") {
        return Some(format!("unknown flag: --{}", long.split('=').next().unwrap_or(long)));
    }
    let letter = flag.strip_prefix('-')?.chars().next()?;
    let typed = args.iter().find(|arg| !arg.starts_with("--") && arg.starts_with('-') && arg[1..].contains(letter)).map_or(flag, String::as_str);
    Some(format!("unknown shorthand flag: '{letter}' in {typed}"))
}

/// `--namespace`, or pflag's `'n' in -n` for a shorthand.
fn flag_name(arg: &str) -> String {
    if arg.starts_with("--") {
        arg.split('=').next().unwrap_or(arg).to_string()
    } else {
        format!("'{}' in {arg}", arg.chars().last().unwrap_or('-'))
    }
}

/// The command the arguments name (`ctl rollout status`), and the words after it that are no
/// flags (what kubectl reports of an unknown subcommand). A word that names no subcommand is
/// skipped, as it may be a global flag's value (`-n shop get`).
fn command_path(args: &[String]) -> (Vec<String>, Vec<String>) {
    let mut command = ctl::Config::command();
    let mut path = vec!["ctl".to_string()];
    let mut rest = Vec::new();
    for arg in args.iter().filter(|arg| !arg.starts_with('-')) {
        let found = command.get_subcommands().find(|sub| sub.get_name() == arg || sub.get_all_aliases().any(|alias| alias == arg)).cloned();
        match found {
            Some(sub) if rest.is_empty() => {
                path.push(sub.get_name().to_string());
                command = sub;
            }
            _ if command.has_subcommands() => rest.push(arg.clone()),
            _ => {}
        }
    }
    (path, rest)
}

/// cobra's `Did you mean this?`: the commands within two edits of `typed`, or starting with it,
/// in the order ctl lists them.
fn suggestions(typed: &str) -> String {
    let command = ctl::Config::command();
    let typed = typed.to_lowercase();
    let close: Vec<String> = command
        .get_subcommands()
        .filter(|sub| !sub.is_hide_set() && sub.get_name() != "help")
        .map(|sub| sub.get_name().to_string())
        .filter(|name| edit_distance(&typed, &name.to_lowercase()) <= 2 || name.to_lowercase().starts_with(&typed))
        .collect();
    if close.is_empty() {
        return String::new();
    }
    format!("\n\nDid you mean this?\n{}", close.iter().map(|name| format!("\t{name}")).collect::<Vec<_>>().join("\n"))
}

/// The Levenshtein distance of two words.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current.push(substitution.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
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
