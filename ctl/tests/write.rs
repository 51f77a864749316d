//! ctl's write path beside kubectl on the same apiserver: strict field validation and the
//! server's warnings (apply, create -f, replace), `create -f`, `patch`, `label` and `annotate`.
//! Each case runs both tools with the same arguments and compares stdout, stderr and the exit
//! code byte for byte, and the objects they stored.

mod support;

use std::path::Path;
use std::process::{Command, Output};

use common::testing::{ApiServer, Storage};
use serde_json::Value;
use support::*;

/// The Deployment: `comand` where `command` was meant.
const MISSPELLED: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: bf
spec:
  replicas: 1
  selector:
    matchLabels:
      app: bf
  template:
    metadata:
      labels:
        app: bf
    spec:
      containers:
      - name: c
        image: busybox
        comand: [\"sleep\", \"3600\"]
";

/// Runs `binary` in `dir`, so that both tools name a manifest by the same relative path.
fn run_in(binary: &str, server: &ApiServer, dir: &Path, args: &[&str]) -> Output {
    Command::new(binary)
        .current_dir(dir)
        .arg(format!("--kubeconfig={}", server.kubeconfig().display()))
        .args(args)
        .output()
        .unwrap_or_else(|err| panic!("cannot run {binary}: {err}"))
}

/// What a run shows a user: stdout, stderr and the exit code.
fn shown(output: &Output) -> (String, String, Option<i32>) {
    (String::from_utf8_lossy(&output.stdout).into_owned(), String::from_utf8_lossy(&output.stderr).into_owned(), output.status.code())
}

/// Runs kubectl then ctl with `args` (a command that changes nothing, or that fails, or whose
/// change the caller undoes between them) and asserts they show the same; returns what they show.
fn same(server: &ApiServer, dir: &Path, args: &[&str]) -> (String, String, Option<i32>) {
    let theirs = shown(&run_in("kubectl", server, dir, args));
    let ours = shown(&run_in(env!("CARGO_BIN_EXE_ctl"), server, dir, args));
    assert_eq!(ours, theirs, "ctl {args:?} differs from kubectl");
    ours
}

/// A stored object without what differs between two writes of the same manifest (identity,
/// versions, times, and the field manager's name).
fn stored(server: &ApiServer, namespace: &str, kind_name: &str) -> Value {
    let mut object = object(server, namespace, kind_name);
    if let Some(metadata) = object["metadata"].as_object_mut() {
        for field in ["uid", "resourceVersion", "creationTimestamp", "managedFields", "generation", "namespace"] {
            metadata.remove(field);
        }
    }
    if let Some(annotations) = object["metadata"]["annotations"].as_object_mut() {
        if let Some(Value::String(applied)) = annotations.get_mut("kubectl.kubernetes.io/last-applied-configuration") {
            *applied = applied.replace(&format!("\"namespace\":\"{namespace}\""), "");
        }
    }
    pruned(&object)
}

#[test]
fn a_misspelled_field_is_refused_as_kubectl_refuses_it() {
    let server = ApiServer::start(Storage::Embedded).unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bad.yaml"), MISSPELLED).unwrap();
    std::fs::write(dir.path().join("good.yaml"), MISSPELLED.replace("comand", "command")).unwrap();
    let dir = dir.path();

    // A new object: every way of writing it is refused, the dry runs too.
    for args in [
        &["apply", "-f", "bad.yaml"][..],
        &["apply", "-f", "bad.yaml", "--dry-run=server"][..],
        &["apply", "--server-side", "-f", "bad.yaml"][..],
        &["apply", "--server-side", "-f", "bad.yaml", "--dry-run=server"][..],
        &["create", "-f", "bad.yaml"][..],
        &["create", "-f", "bad.yaml", "--dry-run=server"][..],
        &["apply", "-f", "bad.yaml", "--validate=true"][..],
        &["apply", "-f", "good.yaml", "--validate=bogus"][..],
    ] {
        let (stdout, stderr, code) = same(&server, dir, args);
        assert_eq!((stdout.as_str(), code), ("", Some(1)), "{args:?}: {stderr}");
    }
    let (_, stderr, _) = same(&server, dir, &["create", "-f", "bad.yaml"]);
    assert_eq!(
        stderr,
        "Error from server (BadRequest): error when creating \"bad.yaml\": Deployment in version \"v1\" cannot be handled as a Deployment: strict decoding error: unknown field \"spec.template.spec.containers[0].comand\"\n"
    );
    // Warn and ignore: the object passes, with the unknown field as a warning or silently.
    for args in [
        &["apply", "-f", "bad.yaml", "--validate=warn", "--dry-run=server"][..],
        &["apply", "-f", "bad.yaml", "--validate=ignore", "--dry-run=server"][..],
        &["apply", "-f", "bad.yaml", "--validate=false", "--dry-run=server"][..],
        &["create", "-f", "bad.yaml", "--validate=warn", "--dry-run=server"][..],
    ] {
        let (_, stderr, code) = same(&server, dir, args);
        assert_eq!(code, Some(0), "{args:?}");
        let warned = args.contains(&"--validate=warn");
        assert_eq!(stderr.contains("Warning: unknown field \"spec.template.spec.containers[0].comand\"\n"), warned, "{args:?}: {stderr}");
    }

    // An existing object: the same refusals, and the object is left as it was.
    stdout_ok(run_in("kubectl", &server, dir, &["apply", "-f", "good.yaml"]));
    let before = stored(&server, "default", "deployment/bf");
    for args in [
        &["apply", "--server-side", "-f", "bad.yaml"][..],
        &["apply", "--server-side", "-f", "bad.yaml", "--dry-run=server"][..],
        &["replace", "-f", "bad.yaml"][..],
        &["replace", "-f", "bad.yaml", "--validate"][..],
        &["create", "-f", "good.yaml"][..],
    ] {
        let (_, stderr, code) = same(&server, dir, args);
        assert_eq!(code, Some(1), "{args:?}: {stderr}");
    }
    // kubectl patches an existing object with a strategic merge patch, ctl with a merge patch, and
    // both print the patch they sent: that line alone differs.
    for args in [&["apply", "-f", "bad.yaml"][..], &["apply", "-f", "bad.yaml", "--dry-run=server"][..]] {
        let theirs = shown(&run_in("kubectl", &server, dir, args));
        let ours = shown(&run_in(env!("CARGO_BIN_EXE_ctl"), &server, dir, args));
        let without_patch = |(stdout, stderr, code): (String, String, Option<i32>)| {
            let mut lines: Vec<&str> = stderr.split('\n').collect();
            assert!(lines.len() > 2 && lines[1].starts_with('{'), "{stderr}");
            lines[1] = "<patch>";
            (stdout, lines.join("\n"), code)
        };
        let ours = without_patch(ours);
        assert_eq!(ours, without_patch(theirs), "ctl {args:?} differs from kubectl");
        assert_eq!(ours.1, "Error from server (BadRequest): error when applying patch:\n<patch>\nto:\nResource: \"apps/v1, Resource=deployments\", GroupVersionKind: \"apps/v1, Kind=Deployment\"\nName: \"bf\", Namespace: \"default\"\nfor: \"bad.yaml\": error when patching \"bad.yaml\": Deployment in version \"v1\" cannot be handled as a Deployment: strict decoding error: unknown field \"spec.template.spec.containers[0].comand\"\n");
    }
    assert_eq!(stored(&server, "default", "deployment/bf"), before, "a refused write changed the object");
    for args in [
        &["apply", "-f", "bad.yaml", "--validate=warn", "--dry-run=server"][..],
        &["replace", "-f", "bad.yaml", "--validate=warn", "--dry-run=server"][..],
        &["apply", "-f", "bad.yaml", "--validate=ignore", "--dry-run=server"][..],
    ] {
        let (_, _, code) = same(&server, dir, args);
        assert_eq!(code, Some(0), "{args:?}");
    }

    // For real, with --validate=warn, each tool in a namespace of its own: the same object stored.
    for namespace in ["by-kubectl", "by-ctl"] {
        stdout_ok(run("kubectl", &server, &["create", "namespace", namespace]));
    }
    let theirs = shown(&run_in("kubectl", &server, dir, &["create", "-n", "by-kubectl", "-f", "bad.yaml", "--validate=warn"]));
    let ours = shown(&run_in(env!("CARGO_BIN_EXE_ctl"), &server, dir, &["create", "-n", "by-ctl", "-f", "bad.yaml", "--validate=warn"]));
    assert_eq!(ours, theirs);
    assert_eq!(stored(&server, "by-ctl", "deployment/bf"), stored(&server, "by-kubectl", "deployment/bf"));
}

const TWO_CONFIG_MAPS: &str = "apiVersion: v1
kind: ConfigMap
metadata:
  name: one
  labels:
    app: x
data:
  a: \"1\"
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: two
  namespace: other
data:
  b: \"2\"
";

#[test]
fn create_from_files_as_kubectl() {
    let server = ApiServer::start(Storage::Embedded).unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("two.yaml"), TWO_CONFIG_MAPS).unwrap();
    let dir = dir.path();

    // The second object's namespace is missing: the first is created, the second reported.
    let theirs = shown(&run_in("kubectl", &server, dir, &["create", "-f", "two.yaml"]));
    let created_by_kubectl = stored(&server, "default", "configmap/one");
    stdout_ok(run("kubectl", &server, &["delete", "configmap", "one"]));
    let ours = shown(&run_in(env!("CARGO_BIN_EXE_ctl"), &server, dir, &["create", "-f", "two.yaml"]));
    assert_eq!(ours, theirs);
    assert_eq!(
        ours,
        (
            "configmap/one created\n".to_string(),
            "Error from server (NotFound): error when creating \"two.yaml\": namespaces \"other\" not found\n".to_string(),
            Some(1)
        )
    );
    assert_eq!(stored(&server, "default", "configmap/one"), created_by_kubectl);

    // Both exist now: each is reported, after nothing was created.
    stdout_ok(run("kubectl", &server, &["create", "namespace", "other"]));
    stdout_ok(run("kubectl", &server, &["create", "configmap", "two", "-n", "other"]));
    let (stdout, stderr, _) = same(&server, dir, &["create", "-f", "two.yaml"]);
    assert_eq!(stdout, "");
    assert_eq!(stderr.lines().count(), 2, "{stderr}");
    same(&server, dir, &["create", "-f", "two.yaml", "--dry-run=server"]);

    // From standard input, and the subcommands still work beside -f.
    let input = TWO_CONFIG_MAPS.replace("one", "three").replace("two", "four");
    let theirs = shown(&run_stdin("kubectl", &server, &["create", "-f", "-"], &input));
    stdout_ok(run("kubectl", &server, &["delete", "configmap", "three"]));
    stdout_ok(run("kubectl", &server, &["delete", "configmap", "four", "-n", "other"]));
    let ours = shown(&run_stdin(env!("CARGO_BIN_EXE_ctl"), &server, &["create", "-f", "-"], &input));
    assert_eq!(ours, theirs);
    assert_eq!(stdout_ok(ctl(&server, &["create", "namespace", "fresh"])), "namespace/fresh created\n");
    same(&server, dir, &["create"]);
}
