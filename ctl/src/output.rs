//! Everything ctl prints on stdout goes through here. Rust ignores SIGPIPE, so a `println!` to a
//! reader that went away (`ctl get pods | head -1`) panics; a write here returns the error
//! instead, and `main` ends ctl quietly with the status a shell gives kubectl killed by SIGPIPE.

use std::io::Write;

use crate::CtlError;

/// The exit status of a process killed by SIGPIPE as a shell reports it (128 + 13).
pub const BROKEN_PIPE_STATUS: i32 = 141;

/// Writes `text` to stdout.
pub fn write(text: std::fmt::Arguments<'_>) -> Result<(), CtlError> {
    std::io::stdout().lock().write_fmt(text)?;
    Ok(())
}

/// Writes bytes to stdout as they are (shell completion scripts, logs).
pub fn write_bytes(bytes: &[u8]) -> Result<(), CtlError> {
    std::io::stdout().lock().write_all(bytes)?;
    Ok(())
}

/// Whether an error is a reader gone away, which ends ctl quietly.
pub fn is_broken_pipe(error: &std::io::Error) -> bool {
    error.kind() == std::io::ErrorKind::BrokenPipe
}

/// `print!` that returns a closed pipe as an error.
macro_rules! out {
    ($($arg:tt)*) => { $crate::output::write(format_args!($($arg)*)) };
}

/// `println!` that returns a closed pipe as an error.
macro_rules! outln {
    () => { $crate::output::write(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::output::write(format_args!("{}\n", format_args!($($arg)*))) };
}

pub(crate) use {out, outln};
