//! The scripts `ctl completion SHELL` prints. Each asks `ctl __complete` (or
//! `__completeNoDesc`) at TAB time and acts on the directive of the answer's last line.

use crate::CtlError;

/// The shells ctl has a completion script for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}

pub fn print_script(shell: Shell) -> Result<(), CtlError> {
    let script = match shell {
        Shell::Bash => include_str!("ctl.bash"),
        Shell::Zsh => include_str!("ctl.zsh"),
        Shell::Fish => include_str!("ctl.fish"),
    };
    crate::output::write_bytes(script.as_bytes())
}
