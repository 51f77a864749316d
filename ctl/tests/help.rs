//! Every command's `--help` ends with examples, as kubectl's do, and each example is a command
//! line ctl accepts.

use std::process::Command;

use clap::{CommandFactory, Parser};

/// The paths of every visible subcommand, nested ones included (`rollout status`).
fn subcommands(command: &clap::Command, path: &[String], paths: &mut Vec<Vec<String>>) {
    for subcommand in command.get_subcommands().filter(|subcommand| !subcommand.is_hide_set()) {
        let mut sub_path = path.to_vec();
        sub_path.push(subcommand.get_name().to_string());
        paths.push(sub_path.clone());
        subcommands(subcommand, &sub_path, paths);
    }
}

/// A shell word list, with '…' and "…" quoting, enough for the examples.
fn shell_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut quote = None;
    for char in line.chars() {
        match (quote, char) {
            (Some(open), char) if char == open => quote = None,
            (Some(_), char) => word.get_or_insert_default().push(char),
            (None, '\'' | '"') => {
                quote = Some(char);
                word.get_or_insert_default();
            }
            (None, ' ') => words.extend(word.take()),
            (None, char) => word.get_or_insert_default().push(char),
        }
    }
    words.extend(word);
    words
}

#[test]
fn every_command_has_examples_that_parse() {
    let mut paths = Vec::new();
    subcommands(&ctl::Config::command(), &[], &mut paths);
    assert!(paths.len() > 60, "{paths:?}");
    for path in paths {
        let output = Command::new(env!("CARGO_BIN_EXE_ctl")).args(&path).arg("--help").output().unwrap();
        let help = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "ctl {path:?} --help: {output:?}");
        let Some((_, examples)) = help.split_once("\nExamples:\n") else { panic!("ctl {} --help has no examples:\n{help}", path.join(" ")) };
        assert!(!examples.trim().is_empty(), "ctl {path:?}");
        for example in examples.lines().map(str::trim).filter(|line| !line.is_empty()) {
            // The ctl part of a pipeline, without the environment set for it or a redirection.
            for part in example.split(" | ") {
                let words = shell_words(part);
                let words: Vec<&String> = words.iter().skip_while(|word| word.contains('=') && !word.starts_with('-')).take_while(|word| *word != ">").collect();
                if words.first().is_none_or(|word| *word != "ctl") {
                    continue;
                }
                if let Err(err) = ctl::Config::try_parse_from(&words) {
                    panic!("the example `{example}` of ctl {} does not parse: {err}", path.join(" "));
                }
            }
        }
    }
}

#[test]
fn the_shell_words_of_examples_are_read_as_a_shell_reads_them() {
    assert_eq!(shell_words("ctl get pod/web -o jsonpath='{.a b}'"), ["ctl", "get", "pod/web", "-o", "jsonpath={.a b}"]);
    assert_eq!(shell_words("ctl create cj x --schedule='*/5 * * * *' -- sh -c \"echo hi\""), ["ctl", "create", "cj", "x", "--schedule=*/5 * * * *", "--", "sh", "-c", "echo hi"]);
}
