//! `explain`, `edit` and `diff` beside kubectl on the same apiserver: stdout, stderr and the
//! exit code compared byte for byte (diff's temporary directories and times masked).

mod support;

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::testing::{ApiServer, Storage};
use support::*;

const KUBECTL: &str = "kubectl";
const CTL: &str = env!("CARGO_BIN_EXE_ctl");

/// What a run shows a user: stdout, stderr and the exit code.
fn shown(output: &Output) -> (String, String, Option<i32>) {
    (String::from_utf8_lossy(&output.stdout).into_owned(), String::from_utf8_lossy(&output.stderr).into_owned(), output.status.code())
}

/// Runs kubectl then ctl with `args` and `env`, in `dir`; asserts they show the same and
/// returns it.
fn same_with(server: &ApiServer, dir: &Path, env: &[(&str, &str)], args: &[&str]) -> (String, String, Option<i32>) {
    let [theirs, ours] = [KUBECTL, CTL].map(|binary| {
        let output = Command::new(binary)
            .current_dir(dir)
            .envs(env.iter().copied())
            .arg(format!("--kubeconfig={}", server.kubeconfig().display()))
            .args(args)
            .output()
            .unwrap_or_else(|err| panic!("cannot run {binary}: {err}"));
        shown(&output)
    });
    assert_eq!(ours, theirs, "ctl {args:?} differs from kubectl");
    ours
}

fn same(server: &ApiServer, args: &[&str]) -> (String, String, Option<i32>) {
    same_with(server, Path::new("."), &[], args)
}

/// A custom kind with what explain shows of a schema: a description long enough to wrap, a
/// required field, an enum longer than kubectl's limit of four, a list of objects and a map.
const WIDGETS: &str = "apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  names: {kind: Widget, plural: widgets, singular: widget, shortNames: [wd]}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        description: A Widget is a thing with a size and a colour, described at length so that the description wraps over more than one line.
        properties:
          spec:
            type: object
            required: [size]
            properties:
              size: {type: integer, description: How big.}
              colour: {type: string, enum: [red, green, blue, \"\", yellow, black]}
              parts:
                type: array
                items:
                  type: object
                  properties:
                    name: {type: string}
              labels: {type: object, additionalProperties: {type: string}}
";

fn until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < deadline, "{what} never happened");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn with_widgets(server: &ApiServer) {
    kubectl_stdin(server, &["apply", "-f", "-"], WIDGETS);
    until("widgets served", || run(KUBECTL, server, &["explain", "widgets"]).status.success());
}

#[test]
fn explain_as_kubectl() {
    let server = ApiServer::start(Storage::Embedded).unwrap();
    with_widgets(&server);
    for target in [
        "pods",
        "pods.spec",
        "pods.spec.containers",
        "pod.spec.restartPolicy",
        "deployments.spec",
        "deployments.apps.spec",
        "deploy.spec.template.spec.volumes.csi.nodePublishSecretRef",
        "services",
        "svc.spec.type",
        "pods.metadata.labels",
        "nodes.status.capacity",
        "crd.spec.versions.schema.openAPIV3Schema",
        "widgets",
        "widgets.spec",
        "wd.spec.colour",
        "widgets.spec.parts",
    ] {
        let (stdout, _, code) = same(&server, &["explain", target]);
        assert_eq!(code, Some(0), "{target}");
        assert!(stdout.contains("DESCRIPTION:"), "{target}: {stdout}");
    }
    for args in [
        &["explain", "pods.spec.securityContext", "--recursive"][..],
        &["explain", "widgets", "--recursive"][..],
        &["explain", "crd", "--recursive"][..],
        &["explain", "deployments", "--api-version=apps/v1"][..],
    ] {
        assert_eq!(same(&server, args).2, Some(0), "{args:?}");
    }
    let (stdout, stderr, code) = same(&server, &["explain", "pods.spec.nosuch"]);
    assert_eq!((stdout.as_str(), stderr.as_str(), code), ("KIND:       Pod\nVERSION:    v1\n\n", "error: field \"nosuch\" does not exist\n", Some(1)));
    let (_, stderr, code) = same(&server, &["explain", "nosuch"]);
    assert_eq!((stderr.as_str(), code), ("the server doesn't have a resource type \"nosuch\"\n", Some(1)));
    let (_, stderr, code) = same(&server, &["explain", "deployments", "--api-version=apps/v2"]);
    assert_eq!((stderr.as_str(), code), ("error: couldn't find resource for \"apps/v2, Resource=deployments\"\n", Some(1)));
}

/// Output with the editor's temporary file and the binary's name in kubectl's hints made alike:
/// `/tmp/kubectl-edit-123.yaml` and `/tmp/ctl-edit-456.yaml` both read `/tmp/ctl-edit-N.yaml`.
fn masked(text: &str) -> String {
    let text = text.replace("kubectl-edit-", "ctl-edit-").replace("`kubectl replace", "`ctl replace");
    let mut out = String::new();
    let mut rest = text.as_str();
    while let Some(at) = rest.find("ctl-edit-") {
        out.push_str(&rest[..at + "ctl-edit-".len()]);
        rest = rest[at + "ctl-edit-".len()..].trim_start_matches(|char: char| char.is_ascii_alphanumeric());
        out.push('N');
    }
    out.push_str(rest);
    out
}

/// An editor: a shell script that keeps the comment lines of each file it is given in `$LOG`,
/// then runs `sed` with `expression` on the file.
fn editor(dir: &Path, name: &str, expression: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\ngrep '^#' \"$1\" >> \"$LOG\"\necho --- >> \"$LOG\"\nsed -i '{expression}' \"$1\"\n")).unwrap();
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    path.display().to_string()
}

const WEB: &str = "apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: c, image: nginx}]
";

/// Runs `edit` through kubectl and then ctl with `editor` (each time from the same stored
/// object, restored by `reset`), and asserts they print the same, leave the same object and
/// showed the editor the same comments.
fn edit_both(server: &ApiServer, dir: &Path, editor: &str, target: &str, reset: &[&str], field: &str) -> (String, String, Option<i32>) {
    let mut results = Vec::new();
    for binary in [KUBECTL, CTL] {
        let log = dir.join(format!("{}.log", Path::new(binary).file_name().unwrap().to_string_lossy()));
        let output = Command::new(binary)
            .env("EDITOR", editor)
            .env_remove("KUBE_EDITOR")
            .env("LOG", &log)
            .arg(format!("--kubeconfig={}", server.kubeconfig().display()))
            .args(["edit", target])
            .output()
            .unwrap();
        let (stdout, stderr, code) = shown(&output);
        let stored = stdout_ok(run(KUBECTL, server, &["get", target, "-o", &format!("jsonpath={field}")]));
        results.push(((masked(&stdout), masked(&stderr), code), stored, std::fs::read_to_string(&log).unwrap_or_default()));
        stdout_ok(run(KUBECTL, server, reset));
    }
    assert_eq!(results[1], results[0], "ctl edit {target} with {editor} differs from kubectl");
    results.swap_remove(0).0
}

#[test]
fn edit_as_kubectl() {
    let server = ApiServer::start(Storage::Embedded).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    kubectl_stdin(&server, &["apply", "-f", "-"], WEB);
    let reset = ["patch", "deploy/web", "-p", r#"{"spec":{"replicas":1}}"#];
    let replicas = "{.spec.replicas}";

    let unchanged = edit_both(&server, dir, &editor(dir, "same.sh", "s/^$//"), "deploy/web", &reset, replicas);
    assert_eq!(unchanged, (String::new(), "Edit cancelled, no changes made.\n".into(), Some(0)));
    let edited = edit_both(&server, dir, &editor(dir, "up.sh", "s/replicas: 1$/replicas: 2/"), "deployment/web", &reset, replicas);
    assert_eq!(edited, ("deployment.apps/web edited\n".into(), String::new(), Some(0)));
    // The server refuses the object: the file is reopened with the reasons as comments, and the
    // same edit again ends it.
    let invalid = edit_both(&server, dir, &editor(dir, "bad.sh", "s/replicas: [0-9]*$/replicas: -1/"), "deploy/web", &reset, replicas);
    assert_eq!(invalid.2, Some(1));
    assert!(invalid.1.starts_with("error: deployments.apps \"web\" is invalid\nA copy of your changes has been stored to "), "{}", invalid.1);
    let log = std::fs::read_to_string(dir.join("ctl.log")).unwrap();
    assert!(log.contains("# deployments.apps \"web\" was not valid:\n# * spec.replicas: "), "{log}");
    // Strict field validation: an unknown field is not patched.
    let unknown = edit_both(&server, dir, &editor(dir, "unknown.sh", "s/^  replicas: .*$/  replicas: 1\\n  bogus: 1/"), "deploy/web", &reset, replicas);
    assert_eq!(unknown.2, Some(1));
    assert!(unknown.1.contains("strict decoding error: unknown field \"spec.bogus\"\nYou can run `ctl replace -f "), "{}", unknown.1);

    // A custom resource takes a JSON merge patch.
    with_widgets(&server);
    kubectl_stdin(&server, &["apply", "-f", "-"], "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\nspec: {size: 2}\n");
    let reset = ["patch", "widget/w", "--type=merge", "-p", r#"{"spec":{"size":2}}"#];
    let edited = edit_both(&server, dir, &editor(dir, "size.sh", "s/size: 2$/size: 5/"), "widget/w", &reset, "{.spec.size}");
    assert_eq!(edited, ("widget.example.com/w edited\n".into(), String::new(), Some(0)));
}

/// The lines a unified diff adds or removes, without its file headers.
fn changes(diff: &str) -> Vec<&str> {
    diff.lines().filter(|line| (line.starts_with('+') || line.starts_with('-')) && !line.starts_with("+++") && !line.starts_with("---")).collect()
}

/// A diff's lines but for each file's header (temporary directories and file times) and with
/// `uid` values masked.
fn without_header(diff: &str) -> Vec<&str> {
    let mut header = 0;
    let mut lines = Vec::new();
    for line in diff.lines() {
        if line.starts_with("diff -u -N ") {
            header = 3;
        }
        if header > 0 {
            header -= 1;
        } else if line.trim_start_matches(['+', '-', ' ']).starts_with("uid: ") {
            lines.push("uid");
        } else {
            lines.push(line);
        }
    }
    lines
}

#[test]
fn diff_as_kubectl() {
    let server = ApiServer::start(Storage::Embedded).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    std::fs::write(dir.join("web.yaml"), WEB).unwrap();
    std::fs::write(dir.join("more.yaml"), WEB.replace("replicas: 1", "replicas: 3")).unwrap();
    std::fs::write(dir.join("new.yaml"), WEB.replace("name: web}", "name: new}")).unwrap();
    kubectl_stdin(&server, &["apply", "-f", "-"], WEB);

    let (stdout, stderr, code) = same_with(&server, dir, &[], &["diff", "-f", "web.yaml"]);
    assert_eq!((stdout.as_str(), stderr.as_str(), code), ("", "", Some(0)));
    let both = |file: &str, env: &[(&str, &str)]| {
        [KUBECTL, CTL].map(|binary| {
            let output = Command::new(binary).current_dir(dir).envs(env.iter().copied()).arg(format!("--kubeconfig={}", server.kubeconfig().display())).args(["diff", "-f", file]).output().unwrap();
            shown(&output)
        })
    };
    let [theirs, ours] = both("more.yaml", &[]);
    assert_eq!((ours.2, theirs.2), (Some(1), Some(1)));
    assert_eq!(without_header(&ours.0), without_header(&theirs.0));
    assert!(changes(&ours.0).contains(&"+  replicas: 3"), "{}", ours.0);
    // A new object: all of it added, the same but for the uid the server makes for each dry run.
    let [theirs, ours] = both("new.yaml", &[]);
    assert_eq!((ours.2, theirs.2), (Some(1), Some(1)));
    assert_eq!(without_header(&ours.0), without_header(&theirs.0));
    // The external diff gets the two directories, named as kubectl names them.
    let [theirs, ours] = both("more.yaml", &[("KUBECTL_EXTERNAL_DIFF", "ls")]);
    // kubectl's random part is digits, ctl's (tempfile's) letters and digits.
    let digitless = |text: &str| {
        text.split('\n')
            .map(|line| match line.find("LIVE-").or_else(|| line.find("MERGED-")) {
                Some(at) => {
                    let (head, tail) = line.split_at(at);
                    let dash = tail.find('-').unwrap_or(0) + 1;
                    let rest = tail[dash..].trim_start_matches(|char: char| char.is_ascii_alphanumeric());
                    format!("{head}{}{rest}", &tail[..dash])
                }
                None => line.to_string(),
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!((digitless(&ours.0), ours.2), (digitless(&theirs.0), theirs.2));
    assert!(ours.0.contains("apps.v1.Deployment.default.web"), "{}", ours.0);
    // Nothing was stored.
    assert_eq!(stdout_ok(run(KUBECTL, &server, &["get", "deploy/web", "-o", "jsonpath={.spec.replicas}"])), "1");
    assert!(!run(KUBECTL, &server, &["get", "deploy/new"]).status.success());
}
