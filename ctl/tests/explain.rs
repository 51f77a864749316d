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
