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

/// The issue's Deployment: `comand` where `command` was meant.
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
    // Both print the strategic merge patch they computed, which must be the same bytes.
    for args in [&["apply", "-f", "bad.yaml"][..], &["apply", "-f", "bad.yaml", "--dry-run=server"][..]] {
        let (_, stderr, _) = same(&server, dir, args);
        assert!(stderr.starts_with("Error from server (BadRequest): error when applying patch:\n{\"metadata\""), "{stderr}");
        assert!(stderr.contains("\"$setElementOrder/containers\":[{\"name\":\"c\"}],\"containers\":[{\"comand\":[\"sleep\",\"3600\"],\"command\":null,\"name\":\"c\"}]"), "{stderr}");
        assert!(stderr.ends_with("\nto:\nResource: \"apps/v1, Resource=deployments\", GroupVersionKind: \"apps/v1, Kind=Deployment\"\nName: \"bf\", Namespace: \"default\"\nfor: \"bad.yaml\": error when patching \"bad.yaml\": Deployment in version \"v1\" cannot be handled as a Deployment: strict decoding error: unknown field \"spec.template.spec.containers[0].comand\"\n"), "{stderr}");
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

/// Runs each command with kubectl in one namespace and with ctl in another set up the same way,
/// asserting that each shows the same; then the two namespaces' objects are compared.
fn same_sequence(server: &ApiServer, dir: &Path, setup: &[&[&str]], commands: &[&[&str]], compared: &[&str]) {
    let mut shown_by = Vec::new();
    for (binary, namespace) in [("kubectl", "by-kubectl"), (env!("CARGO_BIN_EXE_ctl"), "by-ctl")] {
        stdout_ok(run("kubectl", server, &["create", "namespace", namespace]));
        for args in setup {
            stdout_ok(run_in("kubectl", server, dir, &[args, &["-n", namespace][..]].concat()));
        }
        let each: Vec<_> = commands
            .iter()
            .map(|args| {
                let (mut stdout, stderr, code) = shown(&run_in(binary, server, dir, &[args, &["-n", namespace][..]].concat()));
                if args.contains(&"--list") {
                    // kubectl lists in Go's map order, which varies from run to run.
                    let mut lines: Vec<&str> = stdout.lines().collect();
                    lines.sort();
                    stdout = lines.join("\n");
                }
                (stdout, stderr, code)
            })
            .collect();
        shown_by.push(each);
    }
    for (index, args) in commands.iter().enumerate() {
        assert_eq!(shown_by[1][index], shown_by[0][index], "ctl {args:?} differs from kubectl");
    }
    for kind_name in compared {
        assert_eq!(stored(server, "by-ctl", kind_name), stored(server, "by-kubectl", kind_name), "{kind_name}");
    }
}

const SETUP: &[&[&str]] = &[
    &["create", "configmap", "l1", "--from-literal=k=v"],
    &["create", "configmap", "l2"],
    &["label", "configmap", "l1", "keep=1"],
    &["apply", "-f", "good.yaml"],
];

#[test]
fn label_and_annotate_as_kubectl() {
    let server = ApiServer::start(Storage::Embedded).unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("good.yaml"), MISSPELLED.replace("comand", "command")).unwrap();
    std::fs::write(dir.path().join("two.yaml"), TWO_CONFIG_MAPS.replace("  namespace: other\n", "")).unwrap();
    let commands: &[&[&str]] = &[
        &["label", "cm", "l1", "a=b"],
        &["label", "cm", "l1", "a=c"],
        &["label", "cm", "l1", "a=c", "--overwrite"],
        &["label", "cm", "l1", "a=c", "--overwrite"],
        &["label", "cm", "l1", "a=c"],
        &["label", "cm", "l1", "a-"],
        &["label", "cm", "l1", "a-"],
        &["label", "cm", "l2", "a-"],
        &["label", "cm", "l2", "a-"],
        &["label", "cm", "l1", "keep-", "--overwrite"],
        &["label", "cm", "l1", "x=1", "y=2"],
        &["label", "cm", "l1", "--list"],
        &["label", "cm", "l1", "l2", "--list"],
        &["label", "cm", "--all", "z=9"],
        &["label", "cm", "-l", "z=9", "w=1"],
        &["label", "cm", "-l", "nothing=here", "w=1"],
        &["label", "cm/l1", "deploy/bf", "q=1"],
        &["label", "cm", "l1", "l2", "r=1"],
        &["label", "cm", "l1", "x=2", "--dry-run=server", "--overwrite"],
        &["label", "cm", "l1", "x=3", "-o", "name", "--overwrite"],
        &["label", "cm", "nosuch", "l1", "n=1"],
        &["label", "cm", "l1"],
        &["label", "cm", "l1", "x"],
        &["label", "x=1"],
        &["label", "cm", "l1", "a=b", "a-"],
        &["label", "cm", "l1", "a=b", "c"],
        &["label", "cm", "l1", "a=b=c"],
        &["label", "cm", "l1", "a=-x"],
        &["label", "cm", "-l", "z=9", "--all", "m=1"],
        &["label", "cm", "--list", "-o", "name", "l1"],
        &["label", "widgets", "x", "a=b"],
        &["label", "cm", "l1", "x=4"],
        &["label", "-f", "two.yaml", "t=1"],
        &["annotate", "cm", "l1", "note=hi"],
        &["annotate", "cm", "l1", "note=ho"],
        &["annotate", "cm", "l1", "note=hi"],
        &["annotate", "cm", "l1", "note=ho", "--overwrite"],
        &["annotate", "cm", "l1", "note-"],
        &["annotate", "cm", "l1", "note-"],
        &["annotate", "cm", "l1", "a=1 2"],
        &["annotate", "cm", "l1", "--list"],
        &["annotate", "cm", "l1", "a=1", "a-"],
        &["annotate", "cm", "l1"],
        &["annotate", "deploy/bf", "b=x", "--dry-run=server"],
        &["annotate", "cm", "--all", "c=1"],
        &["annotate", "-f", "two.yaml", "t=1"],
    ];
    let setup = [SETUP, &[&["create", "-f", "two.yaml"][..]]].concat();
    same_sequence(&server, dir.path(), &setup, commands, &["configmap/l1", "configmap/l2", "deployment/bf", "configmap/one", "configmap/two"]);
}

#[test]
fn patch_as_kubectl() {
    let server = ApiServer::start(Storage::Embedded).unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("good.yaml"), MISSPELLED.replace("comand", "command")).unwrap();
    std::fs::write(dir.path().join("patch.yaml"), "data:\n  f: \"1\"\n").unwrap();
    let commands: &[&[&str]] = &[
        &["patch", "cm", "l1", "-p", r#"{"data":{"k":"v"}}"#],
        &["patch", "cm", "l1", "-p", r#"{"data":{"k":"v2"}}"#],
        &["patch", "cm/l1", "--type", "merge", "-p", r#"{"data":{"k":"w"}}"#],
        &["patch", "cm", "l1", "--type=json", "-p", r#"[{"op":"remove","path":"/data/k"}]"#],
        &["patch", "cm", "l1", "--type=JSON", "-p", "[]"],
        &["patch", "deploy", "bf", "-p", r#"{"spec":{"replicas":2}}"#, "--subresource=scale"],
        &["patch", "deploy", "bf", "-p", r#"{"spec":{"replicas":2}}"#, "--subresource", "scale"],
        &["patch", "deploy", "bf", "--type=merge", "-p", r#"{"status":{"replicas":2}}"#, "--subresource=status"],
        &["patch", "deploy", "bf", "-p", r#"{"spec":{"comand":2}}"#],
        &["patch", "deploy", "bf", "-p", r#"{"spec":{"template":{"spec":{"containers":[{"name":"c","image":"nginx"}]}}}}"#],
        &["patch", "cm", "l1", "-p", "notjson"],
        &["patch", "cm", "l1"],
        &["patch", "cm", "l1", "-p", ""],
        &["patch", "cm", "nosuch", "-p", "{}"],
        &["patch", "cm", "l1", "-p", r#"{"data":{"k":"v3"}}"#, "--dry-run=server"],
        &["patch", "cm", "l1", "--type", "foo", "-p", "{}"],
        &["patch", "cm", "l1", "--type", "foo"],
        &["patch", "cm", "l1", "--patch-file", "patch.yaml"],
        &["patch", "cm", "l1", "--patch-file", "nosuch.json"],
        &["patch", "-f", "good.yaml", "-p", r#"{"metadata":{"labels":{"z":"1"}}}"#],
        &["patch", "cm", "-p", "{}"],
        &["patch", "-p", "{}"],
        &["patch", "cm", "l1", "l2", "-p", "{}"],
        &["patch", "cm", "nosuch", "l1", "-p", r#"{"data":{"n":"1"}}"#],
        &["patch", "cm", "l1", "-p", r#"{"data":{"o":"1"}}"#, "-o", "name"],
        // Not `y:`, which kubectl's YAML 1.1 reads as `true:` and ctl's YAML 1.2 as `y:`.
        &["patch", "cm", "l1", "-p", "data: {yy: \"2\"}"],
    ];
    same_sequence(&server, dir.path(), SETUP, commands, &["configmap/l1", "configmap/l2", "deployment/bf"]);
}

/// The demo manifest's Deployment, changed: another image, an environment, a port and a strategy.
const CHANGED: &str = "apiVersion: apps/v1
kind: Deployment
metadata: {name: bf, labels: {app: bf, tier: web}, annotations: {note: <web&>}}
spec:
  replicas: 2
  strategy: {type: Recreate}
  selector: {matchLabels: {app: bf}}
  template:
    metadata: {labels: {app: bf}}
    spec:
      containers:
      - name: c
        image: busybox:1.36
        env: [{name: A, value: \"1\"}]
        ports: [{containerPort: 8080}, {containerPort: 80}]
";

#[test]
fn apply_patches_existing_objects_as_kubectl_does() {
    let server = ApiServer::start(Storage::Embedded).unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("good.yaml"), MISSPELLED.replace("comand", "command")).unwrap();
    std::fs::write(dir.path().join("changed.yaml"), CHANGED).unwrap();
    // A sidecar another client added stays: the containers are merged by name, not replaced.
    let sidecar = r#"{"spec":{"template":{"spec":{"containers":[{"name":"sidecar","image":"pause"}]}}}}"#;
    let setup: &[&[&str]] = &[&["apply", "-f", "good.yaml"], &["patch", "deploy", "bf", "-p", sidecar]];
    // (Not the same manifest again: kubectl says "configured" whenever its patch is not empty, as
    // the `$retainKeys` of a defaulted strategy makes it; ctl says "unchanged" when the object is.)
    let commands: &[&[&str]] = &[
        &["apply", "-f", "changed.yaml", "--dry-run=server"],
        &["apply", "-f", "changed.yaml"],
        &["apply", "-f", "good.yaml"],
    ];
    same_sequence(&server, dir.path(), setup, commands, &["deployment/bf"]);
    let stored = stored(&server, "by-ctl", "deployment/bf");
    let names: Vec<&Value> = stored["spec"]["template"]["spec"]["containers"].as_array().unwrap().iter().map(|container| &container["name"]).collect();
    assert!(names.contains(&&Value::from("sidecar")) && names.contains(&&Value::from("c")), "{names:?}");
}

const WIDGETS: &str = "apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  names: {plural: widgets, singular: widget, kind: Widget}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              size: {type: integer}
";

#[test]
fn custom_resources_are_validated_as_kubectl_validates_them() {
    let server = ApiServer::start(Storage::Embedded).unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("crd.yaml"), WIDGETS).unwrap();
    let widget = "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\nspec:\n  size: 2\n  colour: red\n";
    std::fs::write(dir.path().join("w.yaml"), widget).unwrap();
    std::fs::write(dir.path().join("good.yaml"), widget.replace("  colour: red\n", "")).unwrap();
    let dir = dir.path();
    stdout_ok(run_in("kubectl", &server, dir, &["apply", "-f", "crd.yaml"]));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !run("kubectl", &server, &["get", "widgets"]).status.success() {
        assert!(std::time::Instant::now() < deadline, "widgets never served");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }

    for args in [
        &["apply", "-f", "w.yaml"][..],
        &["apply", "-f", "w.yaml", "--dry-run=server"][..],
        &["create", "-f", "w.yaml"][..],
        &["apply", "--server-side", "-f", "w.yaml"][..],
    ] {
        let (_, stderr, code) = same(&server, dir, args);
        assert_eq!(code, Some(1), "{args:?}: {stderr}");
    }
    let (_, stderr, _) = same(&server, dir, &["apply", "-f", "w.yaml", "--validate=warn", "--dry-run=server"]);
    assert_eq!(stderr, "Warning: unknown field \"spec.colour\"\n");

    stdout_ok(run_in("kubectl", &server, dir, &["create", "-f", "good.yaml"]));
    for args in [&["replace", "-f", "w.yaml"][..], &["apply", "--server-side", "-f", "w.yaml"][..], &["replace", "-f", "w.yaml", "--validate=ignore", "--dry-run=server"][..]] {
        same(&server, dir, args);
    }

    // An existing custom resource: the server's OpenAPI offers no strategic merge patch for it,
    // so both tools send a JSON merge patch.
    std::fs::write(dir.join("bigger.yaml"), widget.replace("  colour: red\n", "").replace("size: 2", "size: 3")).unwrap();
    let applied = stdout_ok(run_in("kubectl", &server, dir, &["apply", "-f", "good.yaml"]));
    assert_eq!(applied, "widget.example.com/w configured\n");
    let applied = stdout_ok(run_in(env!("CARGO_BIN_EXE_ctl"), &server, dir, &["apply", "-f", "bigger.yaml"]));
    assert_eq!(applied, "widget.example.com/w configured\n");
    assert_eq!(object(&server, "default", "widget/w")["spec"], serde_json::json!({"size": 3}));
    // kubectl reads ctl's last-applied configuration back.
    let applied = stdout_ok(run_in("kubectl", &server, dir, &["apply", "-f", "good.yaml"]));
    assert_eq!(applied, "widget.example.com/w configured\n");
    assert_eq!(object(&server, "default", "widget/w")["spec"], serde_json::json!({"size": 2}));
}

#[test]
fn the_repositorys_manifests_pass_strict_validation_through_both_tools() {
    let server = ApiServer::start(Storage::Embedded).unwrap();
    let demo = concat!(env!("CARGO_MANIFEST_DIR"), "/../manifests/demo");
    stdout_ok(run("kubectl", &server, &["create", "namespace", "demo"]));
    for args in [&["apply", "-n", "demo", "-f", demo, "--dry-run=server"][..], &["create", "-n", "demo", "-f", demo, "--dry-run=server"][..]] {
        let (_, stderr, code) = same(&server, Path::new(demo), args);
        assert_eq!((stderr.as_str(), code), ("", Some(0)), "{args:?}");
    }
}
