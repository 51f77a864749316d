//! Shell completion as kubectl (cobra) does it. The scripts `ctl completion bash|zsh|fish`
//! prints call the hidden `ctl __complete WORD... PARTIAL` at TAB time, which answers with one
//! candidate a line (`candidate<TAB>description`; `__completeNoDesc` leaves descriptions out),
//! then `:DIRECTIVE` (bits telling the shell what to do besides, see [`directive`]), and on
//! stderr the directive's names. Subcommands and flags come from clap's command tree
//! ([`line`]); resource types, object names, namespaces and containers from the server, and
//! contexts, clusters and users from the kubeconfig ([`sources`]).

mod line;
mod scripts;
mod sources;

use std::io::Write;
use std::time::Duration;

pub use scripts::{Shell, print_script};

/// The bits of a completion answer's last line, as cobra numbers them.
pub mod directive {
    /// Something failed: the shell offers nothing.
    pub const ERROR: u32 = 1;
    /// No space after the completed word (a `pods/` waiting for its name).
    pub const NO_SPACE: u32 = 2;
    /// No file names when there are no candidates.
    pub const NO_FILE_COMP: u32 = 4;
    /// The candidates are file extensions to filter file names by.
    pub const FILTER_FILE_EXT: u32 = 8;
    /// Complete directory names (under the one candidate, if any).
    pub const FILTER_DIRS: u32 = 16;
    /// Keep the candidates' order instead of sorting them.
    pub const KEEP_ORDER: u32 = 32;

    /// The directive's names, as cobra prints them on stderr.
    pub fn names(directive: u32) -> String {
        let names: Vec<&str> = [
            (ERROR, "ShellCompDirectiveError"),
            (NO_SPACE, "ShellCompDirectiveNoSpace"),
            (NO_FILE_COMP, "ShellCompDirectiveNoFileComp"),
            (FILTER_FILE_EXT, "ShellCompDirectiveFilterFileExt"),
            (FILTER_DIRS, "ShellCompDirectiveFilterDirs"),
            (KEEP_ORDER, "ShellCompDirectiveKeepOrder"),
        ]
        .into_iter()
        .filter(|(bit, _)| directive & bit != 0)
        .map(|(_, name)| name)
        .collect();
        if names.is_empty() { "ShellCompDirectiveDefault".to_string() } else { names.join(", ") }
    }
}

/// How long a completion may wait for the server: a shell waiting on TAB must not hang on a
/// server that does not answer (kubectl's completion means to use `--request-timeout=5s`).
const TIMEOUT: Duration = Duration::from_secs(5);

/// One completion: the word and, for shells that show them, what it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
    pub value: String,
    pub description: String,
}

impl Candidate {
    fn plain(value: impl Into<String>) -> Self {
        Self { value: value.into(), description: String::new() }
    }
}

/// What `__complete` prints.
#[derive(Debug, PartialEq, Eq)]
pub struct Answer {
    pub candidates: Vec<Candidate>,
    pub directive: u32,
    /// Why the answer is an error, for stderr (the scripts do not show it).
    pub error: Option<String>,
}

impl Answer {
    fn new(candidates: Vec<Candidate>, directive: u32) -> Self {
        Self { candidates, directive, error: None }
    }

    /// kubectl answers a failed lookup (server down, no answer in time) with no candidates and
    /// the no-file directive, so that TAB offers nothing rather than the directory's files; the
    /// reason goes to stderr, which the scripts discard.
    fn error(message: String) -> Self {
        Self { candidates: Vec::new(), directive: directive::NO_FILE_COMP, error: Some(message) }
    }
}

/// Answers `ctl __complete ...` or `ctl __completeNoDesc ...` when those are ctl's arguments,
/// and says whether it did; any other command line is left to the ordinary parser.
pub async fn answer_if_asked() -> bool {
    let args: Vec<String> = std::env::args_os().skip(1).map(|arg| arg.to_string_lossy().into_owned()).collect();
    // Global flags may come first (`ctl --kubeconfig=k __complete get ""`); they count as if
    // they followed `__complete`.
    let Some(at) = args.iter().position(|arg| arg == "__complete" || arg == "__completeNoDesc") else { return false };
    if at > 0 && !args[0].starts_with('-') {
        return false;
    }
    let descriptions = args[at] == "__complete";
    let words: Vec<String> = args[..at].iter().chain(&args[at + 1..]).cloned().collect();
    let answer = complete(&words).await;
    let mut text = String::new();
    for candidate in &answer.candidates {
        text.push_str(&candidate.value);
        if descriptions && !candidate.description.is_empty() {
            text.push('\t');
            text.push_str(&candidate.description);
        }
        text.push('\n');
    }
    text.push_str(&format!(":{}\n", answer.directive));
    // A shell that went away before reading the answer leaves nothing to tell.
    let _ = std::io::stdout().write_all(text.as_bytes()).and_then(|()| std::io::stdout().flush());
    let mut note = String::new();
    if let Some(error) = &answer.error {
        note.push_str(&format!("error: {error}\n"));
    }
    note.push_str(&format!("Completion ended with directive: {}\n", directive::names(answer.directive)));
    let _ = std::io::stderr().write_all(note.as_bytes());
    true
}

/// Completes the last of `words` (the partial word; empty after a space), the others being the
/// command line before it, without ctl's own name.
pub async fn complete(words: &[String]) -> Answer {
    let (current, before) = match words.split_last() {
        Some((current, before)) => (current.as_str(), before),
        None => ("", words),
    };
    let mut root = <crate::Config as clap::CommandFactory>::command();
    // Building propagates the global flags (--namespace, --context, ...) to every subcommand.
    root.build();
    let line = line::Line::parse(&root, before);
    let want = line.want(current);
    match tokio::time::timeout(TIMEOUT, sources::resolve(&line, want)).await {
        Ok(Ok(answer)) => answer,
        Ok(Err(err)) => Answer::error(err.to_string()),
        Err(_) => Answer::error(format!("no answer from the server within {} s", TIMEOUT.as_secs())),
    }
}

#[cfg(test)]
mod tests {
    use super::directive;

    #[test]
    fn directives_are_named_as_cobra_names_them() {
        assert_eq!(directive::names(0), "ShellCompDirectiveDefault");
        assert_eq!(directive::names(directive::NO_FILE_COMP), "ShellCompDirectiveNoFileComp");
        assert_eq!(directive::names(6), "ShellCompDirectiveNoSpace, ShellCompDirectiveNoFileComp");
        assert_eq!(directive::names(directive::ERROR), "ShellCompDirectiveError");
    }
}
