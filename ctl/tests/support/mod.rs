//! What the ctl test files share: running ctl or kubectl on a test apiserver, and comparing
//! their output.

#![allow(dead_code)] // each test file uses its own part

use std::process::{Command, Output};

use common::testing::ApiServer;

pub fn run(binary: &str, server: &ApiServer, args: &[&str]) -> Output {
    Command::new(binary)
        .arg(format!("--kubeconfig={}", server.kubeconfig().display()))
        .args(args)
        .output()
        .unwrap_or_else(|err| panic!("cannot run {binary}: {err}"))
}

pub fn ctl(server: &ApiServer, args: &[&str]) -> Output {
    run(env!("CARGO_BIN_EXE_ctl"), server, args)
}

pub fn stdout_ok(output: Output) -> String {
    assert!(output.status.success(), "failed: {}\n{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Tables as cells with the AGE column blanked, so that two runs a second apart compare equal
/// (an age one character longer also widens its column, so the cells are compared, not the
/// padding; `columns_are_aligned_as_kubectl_aligns_them` checks the padding).
pub fn without_ages(table: &str) -> String {
    // Each table (several kinds print several, each after a blank line) is cut where its header's
    // columns start: every cell of an aligned table starts there, empty cells (a Job's DURATION
    // before it started) included. A header name may hold one space (`LAST SCHEDULE`), never two.
    let mut starts: Option<Vec<usize>> = None;
    let mut age = None;
    let mut out = Vec::new();
    for line in table.lines() {
        let chars: Vec<char> = line.chars().collect();
        if chars.is_empty() {
            starts = None;
            out.push(String::new());
            continue;
        }
        let Some(columns) = &starts else {
            let columns: Vec<usize> = (0..chars.len()).filter(|&at| chars[at] != ' ' && (at == 0 || (at >= 2 && chars[at - 1] == ' ' && chars[at - 2] == ' '))).collect();
            let cells = cut(&chars, &columns);
            age = cells.iter().position(|cell| cell == "AGE");
            out.push(cells.join(" | "));
            starts = Some(columns);
            continue;
        };
        let mut cells = cut(&chars, columns);
        if let Some(cell) = age.and_then(|index| cells.get_mut(index)) {
            *cell = "AGE".into();
        }
        out.push(cells.join(" | "));
    }
    out.join("\n")
}

/// The cells of a table row, cut at the column starts.
pub fn cut(chars: &[char], starts: &[usize]) -> Vec<String> {
    starts
        .iter()
        .enumerate()
        .map(|(index, &start)| {
            let end = starts.get(index + 1).copied().unwrap_or(chars.len()).min(chars.len());
            chars.get(start.min(end)..end).map(|cell| cell.iter().collect::<String>().trim().to_string()).unwrap_or_default()
        })
        .collect()
}

/// Runs `binary` (ctl or kubectl) with `input` on stdin.
pub fn run_stdin(binary: &str, server: &ApiServer, args: &[&str], input: &str) -> Output {
    let mut command = Command::new(binary);
    command.arg(format!("--kubeconfig={}", server.kubeconfig().display())).args(args);
    common::testing::output_with_input(&mut command, input.as_bytes()).unwrap_or_else(|err| panic!("cannot run {binary}: {err}"))
}

/// Runs `kubectl` with a manifest on stdin.
pub fn kubectl_stdin(server: &ApiServer, args: &[&str], input: &str) -> String {
    stdout_ok(run_stdin("kubectl", server, args, input))
}

/// `value` without nulls and empty maps and lists: what Go's encoder writes (`resources: {}`,
/// `creationTimestamp: null`) and ours leaves out mean the same object.
pub fn pruned(value: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(key, value)| (key.clone(), pruned(value)))
                .filter(|(_, value)| !value.is_null() && value.as_object().is_none_or(|map| !map.is_empty()) && value.as_array().is_none_or(|items| !items.is_empty()))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(pruned).collect()),
        other => other.clone(),
    }
}

pub fn object(server: &ApiServer, namespace: &str, kind_name: &str) -> serde_json::Value {
    serde_json::from_str(&stdout_ok(run("kubectl", server, &["get", kind_name, "-n", namespace, "-o", "json"]))).unwrap()
}

/// What a run shows a user: stdout, stderr and the exit code.
pub fn shown(output: &Output) -> (String, String, Option<i32>) {
    (String::from_utf8_lossy(&output.stdout).into_owned(), String::from_utf8_lossy(&output.stderr).into_owned(), output.status.code())
}

/// Runs kubectl then ctl with `args` and asserts they show the same (ctl's hints name ctl).
pub fn same(server: &ApiServer, args: &[&str]) -> (String, String, Option<i32>) {
    let (stdout, stderr, code) = shown(&run("kubectl", server, args));
    let theirs = (stdout, stderr.replace("'kubectl ", "'ctl "), code);
    let ours = shown(&ctl(server, args));
    assert_eq!(ours, theirs, "ctl {args:?} differs from kubectl");
    ours
}

/// `args` with `flags` added before a `--` (after which all is the container's command).
pub fn with_flags<'a>(args: &[&'a str], flags: &[&'a str]) -> Vec<&'a str> {
    let at = args.iter().position(|arg| *arg == "--").unwrap_or(args.len());
    [&args[..at], flags, &args[at..]].concat()
}

/// Runs kubectl in namespace `k` and ctl in `c` and asserts they show the same but for the
/// namespace's name.
pub fn same_in_namespaces(server: &ApiServer, args: &[&str]) -> (String, String, Option<i32>) {
    let theirs = shown(&run("kubectl", server, &with_flags(args, &["-n", "k"])));
    let (stdout, stderr, code) = shown(&ctl(server, &with_flags(args, &["-n", "c"])));
    let ours = (stdout.replace("namespace: c\n", "namespace: k\n").replace("\"namespace\": \"c\"", "\"namespace\": \"k\""), stderr, code);
    assert_eq!(ours, theirs, "ctl {args:?} differs from kubectl");
    ours
}
