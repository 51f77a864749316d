//! ctl's errors beside kubectl's, byte for byte: the server's refusals of create, apply, replace
//! and patch (Invalid with one cause and with several, AlreadyExists, NotFound, Forbidden), bad
//! flags and unknown commands (with `kubectl` read as `ctl`), and their exit codes. Suggestions
//! for an unknown command are compared where ctl and kubectl have the same commands near it.

mod support;
use support::*;

use std::process::{Command, Output};

use common::testing::{ApiServer, Storage};

const DEPLOYMENT: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: app, image: nginx}]
"#;

fn server_with_fixture() -> ApiServer {
    let server = ApiServer::start(Storage::Embedded).unwrap();
    stdout_ok(run("kubectl", &server, &["create", "namespace", "shop"]));
    kubectl_stdin(&server, &["apply", "-f", "-"], DEPLOYMENT);
    stdout_ok(run("kubectl", &server, &["create", "configmap", "settings", "-n", "shop"]));
    stdout_ok(run("kubectl", &server, &["create", "secret", "generic", "creds", "-n", "shop"]));
    // No namespace controller runs here: a deleted namespace stays Terminating, and creating
    // in it is Forbidden.
    stdout_ok(run("kubectl", &server, &["create", "namespace", "gone"]));
    stdout_ok(run("kubectl", &server, &["delete", "namespace", "gone", "--wait=false"]));
    server
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The same stdout, stderr (kubectl's name read as ctl's) and exit code.
fn same_output(args: &[&str], theirs: Output, ours: Output) {
    assert_eq!(text(&ours.stderr), text(&theirs.stderr).replace("kubectl", "ctl"), "stderr of {args:?}");
    assert_eq!(text(&ours.stdout), text(&theirs.stdout), "stdout of {args:?}");
    assert_eq!(ours.status.code(), theirs.status.code(), "status of {args:?}");
}

/// Both tools with `args` and `manifest` on stdin.
fn same_with_input(server: &ApiServer, args: &[&str], manifest: &str) {
    let theirs = run_stdin("kubectl", server, args, manifest);
    let ours = run_stdin(env!("CARGO_BIN_EXE_ctl"), server, args, manifest);
    same_output(args, theirs, ours);
}

fn same(server: &ApiServer, args: &[&str]) {
    same_output(args, run("kubectl", server, args), ctl(server, args));
}

#[test]
fn server_refusals_read_as_kubectl_prints_them() {
    let server = server_with_fixture();
    let negative = DEPLOYMENT.replace("replicas: 1", "replicas: -1");
    let twice_wrong = negative.replace("image: nginx", "image: \"\"").replace("name: app", "name: Bad_Name");
    let other = DEPLOYMENT.replace("name: web,", "name: other,");
    let other_invalid = other.replace("replicas: 1", "replicas: -1");
    for (args, manifest) in [
        // Invalid, one cause and several.
        (&["create", "-f", "-"][..], other_invalid.as_str()),
        (&["create", "-f", "-"], twice_wrong.replace("name: web,", "name: other,").as_str()),
        (&["apply", "-f", "-"], negative.as_str()),
        (&["apply", "-f", "-"], twice_wrong.as_str()),
        (&["replace", "-f", "-"], negative.as_str()),
        (&["replace", "-f", "-"], twice_wrong.as_str()),
        // AlreadyExists, NotFound.
        (&["create", "-f", "-"], DEPLOYMENT),
        (&["replace", "-f", "-"], other.as_str()),
        (&["create", "-f", "-"], other.replace("namespace: shop", "namespace: nosuch").as_str()),
        // Forbidden.
        (&["create", "-f", "-"], other.replace("namespace: shop", "namespace: gone").as_str()),
        (&["apply", "-f", "-"], other.replace("namespace: shop", "namespace: gone").as_str()),
    ] {
        same_with_input(&server, args, manifest);
    }
    for args in [
        &["patch", "deployment", "web", "-n", "shop", "-p", r#"{"spec":{"replicas":-1}}"#][..],
        &["patch", "deployment", "web", "-n", "shop", "--type=merge", "-p", r#"{"spec":{"replicas":-1,"template":{"spec":{"containers":[{"name":"app","image":""}]}}}}"#],
        &["patch", "deployment", "nosuch", "-n", "shop", "-p", r#"{"spec":{"replicas":2}}"#],
        &["create", "deployment", "web", "--image=nginx", "-n", "shop"],
        &["create", "namespace", "shop"],
        &["create", "configmap", "settings", "-n", "shop"],
        &["create", "secret", "generic", "creds", "-n", "shop"],
        &["create", "configmap", "new", "-n", "gone"],
        &["create", "deployment", "Bad", "--image=nginx", "-n", "shop"],
    ] {
        same(&server, args);
    }
}

/// Runs `binary` without a kubeconfig flag (kubectl refuses flags before an unknown command),
/// its kubeconfig in the environment instead.
fn bare(server: &ApiServer, binary: &str, args: &[&str]) -> Output {
    Command::new(binary).args(args).env("KUBECONFIG", server.kubeconfig()).output().unwrap()
}

/// kubectl 1.33 itself. This machine's `kubectl` is a dispatcher that runs the kubectl of the
/// server's version, but falls back to 1.32 (whose flag errors start `Error:`, where 1.33's
/// start `error:`) when it cannot parse the flags itself, as with a flag missing its value.
fn kubectl_133() -> &'static str {
    const PINNED: &str = "/usr/lib/google-cloud-sdk/bin/kubectl.1.33";
    if std::path::Path::new(PINNED).exists() { PINNED } else { "kubectl" }
}

#[test]
fn bad_flags_and_commands_read_as_kubectl_prints_them() {
    let server = ApiServer::start(Storage::Embedded).unwrap();
    for args in [
        &["get", "--foo"][..],
        &["get", "--foo=bar"],
        &["get", "-z"],
        &["get", "-zx"],
        &["get", "pods", "--namespace"],
        &["get", "pods", "-n"],
        &["get", "pods", "-o"],
        // Before the command: a flag without `=` takes the next word as its value.
        &["--foo", "get"],
        &["--foo=bar", "get"],
        &["-zx", "get"],
        &["rollout", "status", "--foo"],
        &["create", "deployment", "web", "--bogus=1"],
        &["config", "view", "--foo"],
        &["gte"],
        &["delte", "pods"],
        &["lab"],
        &["xyzzy"],
        &["rollout", "sttus", "x"],
        &["set", "imag"],
    ] {
        same_output(args, bare(&server, kubectl_133(), args), bare(&server, env!("CARGO_BIN_EXE_ctl"), args));
    }
}
