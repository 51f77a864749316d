//! Several kubeconfig files in `$KUBECONFIG`, read and written by ctl beside kubectl.

mod support;

use std::path::Path;
use std::process::{Command, Output};

use common::testing::{ApiServer, Storage};
use support::*;

/// A kubeconfig with a current context of "" (as kind leaves it after a delete), a relative
/// certificate path, and the names `one`, `alice` and `ctx-a` that later files set again.
const FIRST: &str = "apiVersion: v1
kind: Config
clusters:
- name: one
  cluster:
    server: http://127.0.0.1:1
    certificate-authority: ca.pem
contexts:
- name: ctx-a
  context:
    cluster: one
    user: alice
    namespace: na
current-context: \"\"
users:
- name: alice
  user:
    token: aaa
";

const SECOND: &str = "apiVersion: v1
kind: Config
clusters:
- name: one
  cluster:
    server: http://127.0.0.1:2
- name: two
  cluster:
    server: http://127.0.0.1:3
    certificate-authority: rel/ca.pem
contexts:
- name: ctx-b
  context:
    cluster: two
    user: bob
- name: ctx-a
  context:
    cluster: two
    user: bob
current-context: ctx-b
preferences:
  colors: true
users:
- name: bob
  user:
    client-certificate: b.crt
    client-key: b.key
- name: alice
  user:
    token: zzz
";

/// No current context and no preferences; a user `bob` the second file already names.
const THIRD: &str = "apiVersion: v1
kind: Config
clusters:
- name: three
  cluster:
    server: http://127.0.0.1:4
contexts:
- name: ctx-c
  context:
    cluster: three
    user: bob
    namespace: nc
users:
- name: bob
  user:
    token: ccc
";

/// A kubeconfig as kind writes one, with credentials inline, and users of other kinds (exec,
/// basic, token) and cluster fields (a false flag Go leaves out, a proxy).
const KIND: &str = r#"apiVersion: v1
clusters:
- cluster:
    certificate-authority-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUMvakNDQWVhZ0F3SUJBZ0lCQURBTkJna3Foa2lHOXcwQkFRc0ZBREFWTVJNd0VRWURWUVFERXdwcmRXSmwKLS0tLS1FTkQgQ0VSVElGSUNBVEUtLS0tLQo=
    server: https://127.0.0.1:34567
    insecure-skip-tls-verify: false
    proxy-url: http://proxy:3128
  name: kind-demo
contexts:
- context:
    cluster: kind-demo
    user: kind-demo
  name: kind-demo
current-context: kind-demo
kind: Config
preferences: {}
users:
- name: kind-demo
  user:
    client-certificate-data: Y2VydA==
    client-key-data: a2V5
- name: exec-user
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      command: aws
      args: ["eks", "get-token"]
      env:
      - name: A
        value: b
      interactiveMode: Never
- name: basic
  user:
    username: u
    password: p
    token: t
"#;

/// Runs ctl or kubectl in `dir` with `$KUBECONFIG` set and no --kubeconfig.
fn run_env(binary: &str, dir: &Path, kubeconfig: &str, args: &[&str]) -> Output {
    Command::new(binary)
        .current_dir(dir)
        .env("KUBECONFIG", kubeconfig)
        .args(args)
        .output()
        .unwrap_or_else(|err| panic!("cannot run {binary}: {err}"))
}

fn write_files(dir: &Path) {
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    std::fs::write(dir.join("first.yaml"), FIRST).unwrap();
    std::fs::write(dir.join("sub/second.yaml"), SECOND).unwrap();
    std::fs::write(dir.join("third.yaml"), THIRD).unwrap();
    std::fs::write(dir.join("kind.yaml"), KIND).unwrap();
}

/// Asserts that both tools print the same bytes and exit with the same status.
fn same(dir: &Path, kubeconfig: &str, args: &[&str]) -> String {
    let ours = run_env(env!("CARGO_BIN_EXE_ctl"), dir, kubeconfig, args);
    let theirs = run_env("kubectl", dir, kubeconfig, args);
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    assert_eq!(text(&ours.stdout), text(&theirs.stdout), "ctl {args:?} with KUBECONFIG={kubeconfig}: stdout differs from kubectl's");
    assert_eq!(ours.status.code(), theirs.status.code(), "ctl {args:?} with KUBECONFIG={kubeconfig}: {}", text(&ours.stderr));
    if !theirs.status.success() {
        assert_eq!(text(&ours.stderr), text(&theirs.stderr), "ctl {args:?}: stderr differs from kubectl's");
    }
    text(&ours.stdout)
}

#[test]
fn merged_files_read_as_kubectl_reads_them() {
    let dir = tempfile::tempdir().unwrap();
    write_files(dir.path());
    let missing = dir.path().join("missing.yaml");
    let lists = [
        // two files, with an empty entry, a missing file and a repeat
        format!("first.yaml::{}:sub/second.yaml:first.yaml", missing.display()),
        "sub/second.yaml:first.yaml".to_string(),
        // three files
        "third.yaml:first.yaml:sub/second.yaml".to_string(),
        "first.yaml:third.yaml:sub/second.yaml".to_string(),
        "kind.yaml".to_string(),
        "first.yaml:kind.yaml:third.yaml".to_string(),
        // the empty current context alone, and no file at all
        "first.yaml".to_string(),
        missing.display().to_string(),
    ];
    for list in &lists {
        for args in [
            &["config", "view", "--raw"][..],
            &["config", "view"][..],
            &["config", "current-context"][..],
            &["config", "get-contexts"][..],
        ] {
            same(dir.path(), list, args);
        }
    }
    assert_eq!(same(dir.path(), &lists[0], &["config", "current-context"]), "ctx-b\n");
    // --kubeconfig reads that file alone; the config commands take a missing one as empty, the
    // others refuse it.
    for file in ["--kubeconfig=sub/second.yaml", "--kubeconfig=missing.yaml"] {
        for args in [&["config", "view", "--raw"][..], &["config", "current-context"][..], &["config", "get-contexts"][..]] {
            let args: Vec<&str> = std::iter::once(file).chain(args.iter().copied()).collect();
            same(dir.path(), &lists[0], &args);
        }
    }
    same(dir.path(), &lists[0], &["--kubeconfig=missing.yaml", "get", "pods"]);
    let unset = run_env(env!("CARGO_BIN_EXE_ctl"), dir.path(), "first.yaml", &["config", "current-context"]);
    assert_eq!(String::from_utf8_lossy(&unset.stderr), "error: current-context is not set\n");
}

#[test]
fn use_context_writes_the_file_kubectl_writes() {
    for (list, context) in [
        ("first.yaml:sub/second.yaml", "ctx-a"),
        ("missing.yaml:third.yaml:first.yaml:sub/second.yaml", "ctx-a"),
        ("sub/second.yaml:third.yaml", "ctx-c"),
        ("sub/second.yaml:third.yaml", "ctx-b"),
    ] {
        let ours = tempfile::tempdir().unwrap();
        let theirs = tempfile::tempdir().unwrap();
        write_files(ours.path());
        write_files(theirs.path());
        let switched = stdout_ok(run_env(env!("CARGO_BIN_EXE_ctl"), ours.path(), list, &["config", "use-context", context]));
        assert_eq!(switched, stdout_ok(run_env("kubectl", theirs.path(), list, &["config", "use-context", context])));
        for (file, original) in [("first.yaml", FIRST), ("sub/second.yaml", SECOND), ("third.yaml", THIRD)] {
            let written = std::fs::read_to_string(ours.path().join(file)).unwrap();
            let kubectl_written = std::fs::read_to_string(theirs.path().join(file)).unwrap();
            assert_eq!(written == original, kubectl_written == original, "{list} {context}: ctl and kubectl disagree on writing {file}");
            if written != original {
                // kubectl rewrites the whole file; ctl changes only the one line, so the two
                // files are compared as kubectl reads them.
                let changed: Vec<_> = written.lines().filter(|line| !original.lines().any(|old| old == *line)).collect();
                assert_eq!(changed, [format!("current-context: {context}")], "{list}: ctl changed more than current-context in {file}");
                let view = |dir: &Path| stdout_ok(run_env("kubectl", dir, file, &["config", "view", "--raw"]));
                assert_eq!(view(ours.path()), view(theirs.path()), "{list}: {file} as kubectl reads it");
            }
        }
        assert_eq!(same(ours.path(), list, &["config", "current-context"]), stdout_ok(run_env("kubectl", theirs.path(), list, &["config", "current-context"])));
    }
    // A kubeconfig in JSON gets its current context too.
    let json = r#"{"apiVersion": "v1", "kind": "Config", "clusters": [{"name": "j", "cluster": {"server": "http://127.0.0.1:5"}}],
        "contexts": [{"name": "ctx-j", "context": {"cluster": "j", "user": "alice"}}], "users": []}"#;
    let [ours, theirs] = [(); 2].map(|_| tempfile::tempdir().unwrap());
    for (dir, binary) in [(&ours, env!("CARGO_BIN_EXE_ctl")), (&theirs, "kubectl")] {
        write_files(dir.path());
        std::fs::write(dir.path().join("j.json"), json).unwrap();
        stdout_ok(run_env(binary, dir.path(), "j.json:first.yaml", &["config", "use-context", "ctx-j"]));
    }
    let view = |dir: &Path| stdout_ok(run_env("kubectl", dir, "j.json", &["config", "view", "--raw"]));
    assert_eq!(view(ours.path()), view(theirs.path()));
    assert!(view(ours.path()).contains("current-context: ctx-j\n"));
}

#[test]
fn commands_use_the_merged_context_and_name_the_files_without_one() {
    let server = ApiServer::start(Storage::Embedded).unwrap();
    let dir = tempfile::tempdir().unwrap();
    write_files(dir.path());
    // The server's context comes second, after a file whose current context is "".
    let list = format!("first.yaml:{}", server.kubeconfig().display());
    let args = ["get", "namespaces", "-o", "name"];
    assert_eq!(
        stdout_ok(run_env(env!("CARGO_BIN_EXE_ctl"), dir.path(), &list, &args)),
        stdout_ok(run_env("kubectl", dir.path(), &list, &args))
    );
    let unset = run_env(env!("CARGO_BIN_EXE_ctl"), dir.path(), "first.yaml:third.yaml", &["get", "pods"]);
    assert_eq!(unset.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&unset.stderr),
        "error: current-context is not set in the kubeconfig first.yaml:third.yaml: pass --context or run `ctl config use-context NAME`\n"
    );
    let chosen = run_env(env!("CARGO_BIN_EXE_ctl"), dir.path(), &list, &["--context", "nope", "get", "pods"]);
    assert_eq!(String::from_utf8_lossy(&chosen.stderr), "error: no context exists with the name: \"nope\"\n");
}
