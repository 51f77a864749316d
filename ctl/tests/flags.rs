//! Flags of ctl's verbs beside kubectl's on the same apiserver: `wait -A` and `-f`, `events -o`,
//! `get -o jsonpath-as-json`, `set env --from`, `expose -f`, `edit --output-patch`,
//! `diff --server-side`, `run`'s refusals and `cluster-info dump`.

mod support;

use std::path::Path;
use std::process::{Command, Output};

use common::testing::{ApiServer, Storage};
use support::*;

/// Runs ctl or kubectl with this kubeconfig, in `dir`.
fn run_in(binary: &str, kubeconfig: &Path, dir: &Path, args: &[&str]) -> Output {
    Command::new(binary)
        .current_dir(dir)
        .arg(format!("--kubeconfig={}", kubeconfig.display()))
        .args(args)
        .output()
        .unwrap_or_else(|err| panic!("cannot run {binary}: {err}"))
}

/// What a run printed, with kubectl's name for itself read as ctl's, and without client-go's
/// log lines (`E1207 07:01:41.886897 23227 reflector.go:200] ...`), which come and go with timing.
fn printed(output: &Output) -> (String, String, Option<i32>) {
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).replace("'kubectl ", "'ctl ").replace("kubectl ", "ctl ");
    let klog = |line: &str| {
        let bytes = line.as_bytes();
        bytes.len() > 5 && b"IWE".contains(&bytes[0]) && bytes[1..5].iter().all(u8::is_ascii_digit) && bytes[5] == b' '
    };
    let stderr: String = text(&output.stderr).split_inclusive('\n').filter(|line| !klog(line)).collect();
    (text(&output.stdout), stderr, output.status.code())
}

/// Runs both tools in `dir` with the same arguments and asserts the same stdout, stderr and
/// status; ctl's stdout.
fn same_in(server: &ApiServer, dir: &Path, args: &[&str]) -> String {
    let kubeconfig = server.kubeconfig();
    let ours = printed(&run_in(env!("CARGO_BIN_EXE_ctl"), &kubeconfig, dir, args));
    let theirs = printed(&run_in("kubectl", &kubeconfig, dir, args));
    assert_eq!(ours, theirs, "ctl {args:?} differs from kubectl");
    ours.0
}

#[test]
fn wait_across_namespaces_and_for_manifests_as_kubectl() {
    let server = ApiServer::start(Storage::Embedded).unwrap();
    let dir = tempfile::tempdir().unwrap();
    stdout_ok(run("kubectl", &server, &["create", "namespace", "dev"]));
    stdout_ok(run("kubectl", &server, &["create", "configmap", "a", "--from-literal=m=x"]));
    stdout_ok(run("kubectl", &server, &["create", "configmap", "b", "-n", "dev", "--from-literal=m=y"]));
    // `-l` with `-f` selects by the live object's labels, not the manifest's.
    stdout_ok(run("kubectl", &server, &["label", "configmap", "b", "-n", "dev", "app=web"]));
    let manifests = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, labels: {app: web}}\ndata: {m: x}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: b, namespace: dev}\n";
    std::fs::write(dir.path().join("both.yaml"), manifests).unwrap();
    std::fs::write(dir.path().join("widget.yaml"), "apiVersion: v1\nkind: Widget\nmetadata: {name: a}\n").unwrap();
    std::fs::write(dir.path().join("empty.yaml"), "").unwrap();
    for args in [
        &["wait", "cm", "--all", "-A", "--for=jsonpath={.data.m}"][..],
        &["wait", "cm", "-A", "-l", "app=none", "--for=jsonpath={.data.m}"][..],
        &["wait", "cm", "-A", "-l", "app=none", "--for=delete"][..],
        &["wait", "cm/a", "-A", "--for=jsonpath={.data.m}"][..],
        &["wait", "cm", "a", "--all-namespaces", "--for=jsonpath={.data.m}"][..],
        &["wait", "-f", "both.yaml", "--for=jsonpath={.data.m}", "--timeout=1s"][..],
        &["wait", "-f", "both.yaml", "-l", "app=web", "--for=jsonpath={.data.m}=y"][..],
        &["wait", "-f", "both.yaml", "-l", "app=none", "--for=jsonpath={.data.m}"][..],
        &["wait", "-f", "both.yaml", "-A", "--for=jsonpath={.data.m}", "--timeout=1s"][..],
        &["wait", "-f", "both.yaml", "cm/a", "--for=jsonpath={.data.m}"][..],
        &["wait", "-f", "nothing.yaml", "--for=delete"][..],
        &["wait", "-f", "both.yaml", "-n", "default", "--for=jsonpath={.data.m}", "--timeout=1s"][..],
        &["wait", "-f", "both.yaml", "-n", "dev", "--for=jsonpath={.data.m}", "--timeout=1s"][..],
        &["wait", "-f", "both.yaml", "-n", "kube-system", "--for=jsonpath={.data.m}=y", "--timeout=1s"][..],
        &["wait", "-f", "widget.yaml", "--for=delete"][..],
        &["wait", "-f", "empty.yaml", "--for=delete"][..],
        // One timeout for all: `b` is not read once `a` used the second up.
        &["wait", "-f", "both.yaml", "--for=jsonpath={.data.m}=y", "--timeout=1s"][..],
    ] {
        same_in(&server, dir.path(), args);
    }
    let met = same_in(&server, dir.path(), &["wait", "-f", "-", "--for=jsonpath={.data.m}", "-f", "both.yaml"]);
    assert_eq!(met, "configmap/a condition met\nconfigmap/b condition met\n");
}

#[test]
fn events_as_json_and_yaml_as_kubectl() {
    let server = ApiServer::start(Storage::Embedded).unwrap();
    let dir = tempfile::tempdir().unwrap();
    stdout_ok(run("kubectl", &server, &["create", "namespace", "dev"]));
    let events = r#"apiVersion: v1
kind: Event
metadata: {name: old, namespace: dev}
involvedObject: {kind: Pod, name: web, namespace: dev}
reason: BackOff
message: Back-off <restarting> & more
type: Warning
lastTimestamp: "2019-01-01T00:00:00Z"
---
apiVersion: v1
kind: Event
metadata:
  name: scaled
  namespace: dev
  labels: {b: "1", a: "yes"}
  ownerReferences: [{apiVersion: v1, kind: Pod, name: web, uid: u2}]
involvedObject: {kind: Deployment, name: app, namespace: dev, apiVersion: apps/v1, uid: u1, fieldPath: spec}
reason: ScalingReplicaSet
message: Scaled up
type: Normal
eventTime: "2020-01-01T00:00:00.000000Z"
reportingComponent: deployment-controller
reportingInstance: x
action: Scale
series: {count: 3, lastObservedTime: "2020-01-01T00:01:00.000000Z"}
related: {kind: Pod, name: web}
source: {component: controller, host: node-1}
count: 4
firstTimestamp: "2018-01-01T00:00:00Z"
---
apiVersion: v1
kind: Event
metadata: {name: elsewhere, namespace: default}
involvedObject: {kind: ConfigMap, name: settings, namespace: default}
reason: Seen
type: Normal
lastTimestamp: "2021-01-01T00:00:00Z"
"#;
    kubectl_stdin(&server, &["apply", "-f", "-"], events);
    for args in [
        &["events", "-n", "dev", "-o", "json"][..],
        &["events", "-n", "dev", "-o", "yaml"][..],
        &["events", "-A", "-o", "json"][..],
        &["events", "-A", "-o", "yaml", "--types=Normal"][..],
        &["events", "-n", "dev", "--for=pod/web", "-o", "yaml"][..],
        &["events", "-n", "empty", "-o", "json"][..],
        &["events", "-n", "dev", "-o", "name"][..],
        &["events", "-n", "dev", "-o", "wide"][..],
    ] {
        same_in(&server, dir.path(), args);
    }
    // Watched, each event is printed on its own: the first `count` lines of each tool's output.
    for (output, count) in [("json", 60), ("yaml", 50), ("name", 2)] {
        let args = ["events", "-n", "dev", "-w", "-o", output];
        let [ours, theirs] = [env!("CARGO_BIN_EXE_ctl"), "kubectl"].map(|binary| {
            let mut child = Command::new(binary)
                .arg(format!("--kubeconfig={}", server.kubeconfig().display()))
                .args(args)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap();
            let reader = std::io::BufReader::new(child.stdout.take().unwrap());
            let lines: Vec<String> = std::io::BufRead::lines(reader).take(count).map(Result::unwrap).collect();
            child.kill().unwrap();
            child.wait().unwrap();
            lines
        });
        assert_eq!(ours, theirs, "ctl {args:?} differs from kubectl");
    }
    let list: serde_json::Value = serde_json::from_str(&same_in(&server, dir.path(), &["events", "-A", "-o", "json"])).unwrap();
    let names: Vec<&str> = list["items"].as_array().unwrap().iter().map(|event| event["metadata"]["name"].as_str().unwrap()).collect();
    assert_eq!((list["kind"].as_str(), names), (Some("EventList"), vec!["old", "scaled", "elsewhere"]));
}

#[test]
fn get_jsonpath_as_json_as_kubectl() {
    let server = ApiServer::start(Storage::Embedded).unwrap();
    let dir = tempfile::tempdir().unwrap();
    stdout_ok(run("kubectl", &server, &["create", "namespace", "dev"]));
    stdout_ok(run("kubectl", &server, &["create", "configmap", "a", "--from-literal=m=x", "--from-literal=n=<y>"]));
    stdout_ok(run("kubectl", &server, &["create", "configmap", "b", "-n", "dev", "--from-literal=m=y"]));
    for args in [
        &["get", "cm", "-A", "-o", "jsonpath-as-json={.items[*].metadata.name}"][..],
        &["get", "cm", "-A", "-o", "jsonpath-as-json={.items[*].metadata}"][..],
        &["get", "cm", "a", "-o", "jsonpath-as-json={.data}"][..],
        &["get", "cm", "a", "-o", "jsonpath-as-json={.metadata.name}{.data.m}"][..],
        &["get", "cm", "a", "-o", "jsonpath-as-json={.nothing}"][..],
        &["get", "cm", "a", "-o", "jsonpath-as-json={range .data}{@}{end}"][..],
        &["get", "cm", "-o", "jsonpath-as-json={range .items[*]}{.metadata.name}{\"\\n\"}{end}"][..],
        &["get", "cm", "a", "-o", "jsonpath-as-json=x{.data.n}{\"<&>\"}{.metadata.resourceVersion}{1.5}"][..],
        &["get", "cm", "a", "-o", "jsonpath-as-json="][..],
        &["get", "cm", "a", "-o", "jsonpath-as-json={.data.m"][..],
        &["get", "cm", "a", "-o", "jsonpath-as-json={.items[0]}"][..],
        &["get", "cm", "-o", "bogus"][..],
    ] {
        same_in(&server, dir.path(), args);
    }
    let names = same_in(&server, dir.path(), &["get", "cm", "-A", "-o", "jsonpath-as-json={.items[*].metadata.name}"]);
    assert_eq!(names, "[\n    \"a\",\n    \"b\"\n]\n");
}

/// The environment of a Deployment's first container.
fn env_of(server: &ApiServer, deployment: &str) -> serde_json::Value {
    object(server, "default", &format!("deployment/{deployment}"))["spec"]["template"]["spec"]["containers"][0]["env"].clone()
}

#[test]
fn set_env_from_configmaps_and_secrets_as_kubectl() {
    let server = ApiServer::start(Storage::Embedded).unwrap();
    stdout_ok(run("kubectl", &server, &["create", "configmap", "one", "--from-literal=mode.x=fast"]));
    stdout_ok(run("kubectl", &server, &["create", "configmap", "many", "--from-literal=Z=3", "--from-literal=a.key=1", "--from-literal=b-key=2"]));
    stdout_ok(run("kubectl", &server, &["create", "secret", "generic", "sec", "--from-literal=pw=x", "--from-literal=user=y"]));
    // Each tool changes a Deployment of its own; the outputs, named alike, and the results must agree.
    for (round, args) in [
        &["--from=configmap/one", "--prefix=P_"][..],
        &["--from=secret/sec", "--keys=pw,nope"][..],
        &["--from=secret/sec", "--keys=pw", "--prefix=Q_", "-e", "Z=2"][..],
        &["--from=cm/one", "X=1"][..],
        &["--from=configmap/one", "--list"][..],
        &["--from=configmap/one", "MODE_X-"][..],
        &["--from=configmap/many", "--keys=Z", "A-"][..],
        &["--list", "C=1", "A-"][..],
        &["--prefix=unused"][..],
        &["--from=configmap/nothing"][..],
        &["--from=bogus/x"][..],
        &["--from=configmap"][..],
        &["--from=deployment/web"][..],
        &["--keys=a"][..],
    ]
    .into_iter()
    .enumerate()
    {
        let [ours, theirs] = [("ctl", env!("CARGO_BIN_EXE_ctl")), ("kubectl", "kubectl")].map(|(tool, binary)| {
            let name = format!("{tool}-{round}");
            stdout_ok(run("kubectl", &server, &["create", "deployment", &name, "--image=nginx"]));
            stdout_ok(run("kubectl", &server, &["set", "env", &format!("deployment/{name}"), "A=1", "B=2"]));
            let target = format!("deployment/{name}");
            let output = run(binary, &server, &[&["set", "env", target.as_str()][..], args].concat());
            let printed = printed(&output);
            let rename = |text: String| text.replace(&name, "NAME");
            ((rename(printed.0), rename(printed.1), printed.2), env_of(&server, &name))
        });
        assert_eq!(ours, theirs, "ctl set env {args:?} differs from kubectl");
    }
    // Several keys: kubectl takes them in Go's random map order, ctl sorted; the same variables.
    let [ours, theirs] = [("ctl", env!("CARGO_BIN_EXE_ctl")), ("kubectl", "kubectl")].map(|(tool, binary)| {
        let name = format!("{tool}-many");
        stdout_ok(run("kubectl", &server, &["create", "deployment", &name, "--image=nginx"]));
        let output = run(binary, &server, &["set", "env", &format!("deployment/{name}"), "--from=configmap/many"]);
        let mut warnings: Vec<String> = String::from_utf8_lossy(&output.stderr).lines().map(str::to_string).collect();
        warnings.sort();
        let mut env: Vec<String> = env_of(&server, &name).as_array().unwrap().iter().map(|variable| variable.to_string()).collect();
        env.sort();
        (stdout_ok(output).replace(&name, "NAME"), warnings, env)
    });
    assert_eq!(ours, theirs);
    assert_eq!(ours.1, ["Warning: key a.key transferred to A_KEY", "Warning: key b-key transferred to B_KEY"]);
}

#[test]
fn expose_manifests_as_kubectl() {
    let server = ApiServer::start(Storage::Embedded).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let deployment = "apiVersion: apps/v1
kind: Deployment
metadata: {name: filed, labels: {app: filed}}
spec:
  selector: {matchLabels: {app: filed}}
  template:
    metadata: {labels: {app: filed}}
    spec: {containers: [{name: c, image: nginx, ports: [{containerPort: 80}]}]}
";
    let pod = "apiVersion: v1
kind: Pod
metadata: {name: single, labels: {run: single}}
spec: {containers: [{name: c, image: nginx, ports: [{containerPort: 8080, protocol: UDP}]}]}
";
    let configmap = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\n";
    std::fs::write(dir.path().join("pod.yaml"), pod).unwrap();
    // kubectl keeps the first object's selector, port and labels for the objects after it.
    std::fs::write(dir.path().join("both.yaml"), format!("{deployment}---\n{pod}")).unwrap();
    std::fs::write(dir.path().join("mixed.yaml"), format!("{configmap}---\n{deployment}---\n{configmap}")).unwrap();
    for args in [
        &["expose", "-f", "pod.yaml", "--dry-run=client", "-o", "yaml"][..],
        &["expose", "-f", "both.yaml", "--dry-run=client", "-o", "yaml"][..],
        &["expose", "-f", "both.yaml", "--port=90", "--name=one", "--dry-run=client", "-o", "yaml"][..],
        &["expose", "-f", "both.yaml", "--dry-run=server"][..],
        &["expose", "-f", "mixed.yaml", "--dry-run=client"][..],
        &["expose", "-f", "pod.yaml", "pod/single"][..],
        &["expose", "-f", "nothing.yaml"][..],
    ] {
        same_in(&server, dir.path(), args);
    }
    // Created for real: the same Services.
    let services = |tool: &str| {
        let binary = if tool == "ctl" { env!("CARGO_BIN_EXE_ctl") } else { "kubectl" };
        let printed = stdout_ok(run_in(binary, &server.kubeconfig(), dir.path(), &["expose", "-f", "both.yaml"]));
        let mut found = Vec::new();
        for name in ["filed", "single"] {
            let mut service = object(&server, "default", &format!("service/{name}"));
            found.push((service["metadata"]["labels"].take(), service["spec"]["selector"].take(), service["spec"]["ports"].take()));
        }
        stdout_ok(run("kubectl", &server, &["delete", "service", "filed", "single"]));
        (printed, found)
    };
    assert_eq!(services("ctl"), services("kubectl"));
}

/// An editor script running `sed -i EXPRESSION` on the file.
fn sed_editor(dir: &Path, name: &str, expression: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\nsed -i '{expression}' \"$1\"\n")).unwrap();
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    path.display().to_string()
}

#[test]
fn edit_output_patch_as_kubectl() {
    let server = ApiServer::start(Storage::Embedded).unwrap();
    let dir = tempfile::tempdir().unwrap();
    stdout_ok(run("kubectl", &server, &["create", "configmap", "settings", "--from-literal=k=v"]));
    stdout_ok(run("kubectl", &server, &["create", "deployment", "web", "--image=nginx"]));
    for (target, expression, reset) in [
        ("cm/settings", "s/k: v$/k: w/", &["patch", "cm/settings", "-p", r#"{"data":{"k":"v"}}"#][..]),
        ("deployment/web", "s/image: nginx$/image: nginx:2/", &["set", "image", "deployment/web", "nginx=nginx"][..]),
        ("deployment/web", "s/^$//", &["get", "deployment/web"][..]),
    ] {
        let editor = sed_editor(dir.path(), "edit.sh", expression);
        let [ours, theirs] = [env!("CARGO_BIN_EXE_ctl"), "kubectl"].map(|binary| {
            let output = Command::new(binary)
                .env("EDITOR", &editor)
                .env_remove("KUBE_EDITOR")
                .arg(format!("--kubeconfig={}", server.kubeconfig().display()))
                .args(["edit", target, "--output-patch"])
                .output()
                .unwrap();
            let stored = stdout_ok(run("kubectl", &server, &["get", target, "-o", "jsonpath={.data}{.spec.template.spec.containers[0].image}"]));
            stdout_ok(run("kubectl", &server, reset));
            (printed(&output), stored)
        });
        assert_eq!(ours, theirs, "ctl edit {target} --output-patch differs from kubectl");
    }
}

#[test]
fn diff_server_side_as_kubectl() {
    let server = ApiServer::start(Storage::Embedded).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let manifest = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {k: v}\n";
    std::fs::write(dir.path().join("settings.yaml"), manifest).unwrap();
    std::fs::write(dir.path().join("changed.yaml"), manifest.replace("k: v", "k: w")).unwrap();
    // Differences, listed by `diff -r` without the directories' random names; where `exact` is
    // false, only how many lines (a created object's uid and time are the server's).
    let differences = |args: &[&str], exact: bool| {
        let [ours, theirs] = [env!("CARGO_BIN_EXE_ctl"), "kubectl"].map(|binary| {
            let output = Command::new(binary)
                .current_dir(dir.path())
                .env("KUBECTL_EXTERNAL_DIFF", "diff -r")
                .arg(format!("--kubeconfig={}", server.kubeconfig().display()))
                .args(args)
                .output()
                .unwrap();
            let (stdout, stderr, code) = printed(&output);
            let kept: Vec<String> = stdout.lines().filter(|line| !line.starts_with("diff -r")).map(str::to_string).collect();
            (kept, stderr, code)
        });
        match exact {
            true => assert_eq!(ours, theirs, "ctl {args:?} differs from kubectl"),
            false => assert_eq!((ours.0.len(), &ours.1, ours.2), (theirs.0.len(), &theirs.1, theirs.2), "ctl {args:?} differs from kubectl"),
        }
        ours
    };
    // A new object: the server's dry run of the apply creates it (uid and time are the server's).
    let created = differences(&["diff", "-f", "settings.yaml", "--server-side", "--field-manager=kubectl"], false).0;
    assert!(created.len() > 3 && created.iter().all(|line| line.starts_with('>') || line.starts_with("0a")), "{created:?}");
    stdout_ok(run_in("kubectl", &server.kubeconfig(), dir.path(), &["apply", "-f", "settings.yaml", "--server-side"]));
    assert_eq!(differences(&["diff", "-f", "settings.yaml", "--server-side", "--field-manager=kubectl"], true), (vec![], String::new(), Some(0)));
    let changed = differences(&["diff", "-f", "changed.yaml", "--server-side", "--field-manager=kubectl"], true).0;
    assert!(changed.contains(&"<   k: v".to_string()) && changed.contains(&">   k: w".to_string()), "{changed:?}");
    // Another manager's change conflicts, unless forced.
    differences(&["diff", "-f", "changed.yaml", "--server-side", "--field-manager=other"], true);
    differences(&["diff", "-f", "changed.yaml", "--server-side", "--field-manager=other", "--force-conflicts"], true);
    differences(&["diff", "-f", "changed.yaml", "--force-conflicts"], true);
    differences(&["diff", "-f", "nothing.yaml"], true);
    assert_eq!(object(&server, "default", "cm/settings")["data"]["k"], "v");
}

#[test]
fn run_attached_refusals_and_timeouts_as_kubectl() {
    let server = ApiServer::start(Storage::Embedded).unwrap();
    let dir = tempfile::tempdir().unwrap();
    // Without a kubelet no Pod runs: the attached runs time out (and --rm deletes the Pod); the
    // attach itself is left to the end-to-end tests.
    for args in [
        &["run", "x", "--image=i", "--rm"][..],
        &["run", "x", "--image=i", "--rm", "--restart=Never"][..],
        &["run", "x", "--image=i", "--rm", "--attach=false", "-i"][..],
        &["run", "x", "--image=i", "-t"][..],
        &["run", "x", "--image=i", "-i", "--dry-run=client"][..],
        &["run", "x", "--image=i", "--attach", "--dry-run=server"][..],
        &["run", "x", "--image=i", "--rm", "-i", "--restart=Never", "--dry-run=client"][..],
        &["run", "x", "--image=i", "-i", "--pod-running-timeout=0s"][..],
        &["run", "x", "--image=i", "-i", "--attach=false", "--dry-run=client", "-o", "yaml"][..],
        &["run", "x", "--image=i", "-i", "-t", "--pod-running-timeout=1s"][..],
        &["run", "x", "--image=i", "--rm", "-i", "--pod-running-timeout=1s", "--restart=Never"][..],
        &["run", "x", "--image=i", "--attach", "--pod-running-timeout=1s", "-q"][..],
        &["run", "x", "--image=i", "-i", "--leave-stdin-open", "--attach=false"][..],
    ] {
        let [ours, theirs] = [env!("CARGO_BIN_EXE_ctl"), "kubectl"].map(|binary| {
            let output = Command::new(binary)
                .current_dir(dir.path())
                .stdin(std::process::Stdio::null())
                .arg(format!("--kubeconfig={}", server.kubeconfig().display()))
                .args(args)
                .output()
                .unwrap();
            let pod = run("kubectl", &server, &["get", "pod", "x", "-o", "jsonpath={.spec.containers[0]}"]);
            stdout_ok(run("kubectl", &server, &["delete", "pod", "x", "--ignore-not-found"]));
            (printed(&output), printed(&pod))
        });
        assert_eq!(ours, theirs, "ctl {args:?} differs from kubectl");
    }
}

/// Runs `args` with each tool; once the Pod `y` exists, its status becomes `status` (a kubelet's
/// doing, elsewhere); each tool's output, and the Pod afterwards.
fn run_while_status_changes(server: &ApiServer, args: &[&str], status: &str) -> [((String, String, Option<i32>), bool); 2] {
    [env!("CARGO_BIN_EXE_ctl"), "kubectl"].map(|binary| {
        let child = Command::new(binary)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .arg(format!("--kubeconfig={}", server.kubeconfig().display()))
            .args(args)
            .spawn()
            .unwrap();
        let started = std::time::Instant::now();
        while !run("kubectl", server, &["get", "pod", "y"]).status.success() {
            assert!(started.elapsed() < std::time::Duration::from_secs(30), "{binary} never made the Pod");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        stdout_ok(run("kubectl", server, &["patch", "pod", "y", "--subresource=status", "--type=merge", "-p", status]));
        let output = child.wait_with_output().unwrap();
        let left = run("kubectl", server, &["get", "pod", "y"]).status.success();
        stdout_ok(run("kubectl", server, &["delete", "pod", "y", "--ignore-not-found"]));
        (printed(&output), left)
    })
}

#[test]
fn run_attached_to_pods_that_end_or_never_get_ready_as_kubectl() {
    let server = ApiServer::start(Storage::Embedded).unwrap();
    // Ended before the attach: kubectl shows the log instead (here the server's refusal, the Pod
    // having no node), and --rm deletes the Pod.
    let args = ["run", "y", "--image=i", "-i", "--restart=Never", "--rm", "--pod-running-timeout=20s"];
    let [ours, theirs] = run_while_status_changes(&server, &args, r#"{"status":{"phase":"Succeeded"}}"#);
    assert_eq!(ours, theirs);
    assert_eq!(ours.0.0, "pod \"y\" deleted\n");
    // Running but not ready: no attach.
    let args = ["run", "y", "--image=i", "-i", "--restart=Never", "--pod-running-timeout=2s"];
    let [ours, theirs] = run_while_status_changes(&server, &args, r#"{"status":{"phase":"Running"}}"#);
    assert_eq!(ours, theirs);
    assert_eq!((ours.0.1.as_str(), ours.1), ("error: timed out waiting for the condition\n", true));
}

/// A dump's parts: each JSON document (a list, without what Go's typed encoder adds and ctl
/// leaves out: nulls, empty strings, maps and lists) and each line of log text.
fn dump_parts(text: &str) -> Vec<serde_json::Value> {
    fn bare(value: &serde_json::Value) -> serde_json::Value {
        use serde_json::Value;
        match value {
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(key, value)| (key.clone(), bare(value)))
                    .filter(|(_, value)| !value.is_null() && value != "" && value != &serde_json::json!({}) && value != &serde_json::json!([]))
                    .collect(),
            ),
            Value::Array(items) => Value::Array(items.iter().map(bare).collect()),
            other => other.clone(),
        }
    }
    let mut parts = Vec::new();
    let mut document: Option<String> = None;
    for line in text.lines() {
        match &mut document {
            Some(lines) => {
                lines.push_str(line);
                lines.push('\n');
                if line == "}" {
                    parts.push(bare(&serde_json::from_str(lines).unwrap()));
                    document = None;
                }
            }
            None if line == "{" => document = Some("{\n".into()),
            None => parts.push(serde_json::Value::String(line.into())),
        }
    }
    assert!(document.is_none(), "unfinished JSON in {text}");
    parts
}

#[test]
fn cluster_info_dump_as_kubectl() {
    let server = ApiServer::start(Storage::Embedded).unwrap();
    let dir = tempfile::tempdir().unwrap();
    stdout_ok(run("kubectl", &server, &["create", "namespace", "dev"]));
    stdout_ok(run("kubectl", &server, &["create", "deployment", "web", "--image=nginx", "--replicas=2"]));
    stdout_ok(run("kubectl", &server, &["create", "service", "clusterip", "web", "--tcp=80:8080", "-n", "dev"]));
    stdout_ok(run("kubectl", &server, &["run", "unplaced", "--image=i"]));
    // A Pod on a node that is not there: its containers' log requests fail otherwise.
    let placed = "apiVersion: v1\nkind: Pod\nmetadata: {name: placed, namespace: dev}\nspec:\n  nodeName: node-1\n  initContainers: [{name: init, image: i}]\n  containers: [{name: app, image: i}]\n";
    let event = "apiVersion: v1\nkind: Event\nmetadata: {name: seen, namespace: dev}\ninvolvedObject: {kind: Pod, name: placed, namespace: dev}\nreason: Seen\ntype: Normal\n";
    kubectl_stdin(&server, &["apply", "-f", "-"], &format!("{placed}---\n{event}"));
    let both = |args: &[&str]| {
        [env!("CARGO_BIN_EXE_ctl"), "kubectl"].map(|binary| {
            let (stdout, stderr, code) = printed(&run_in(binary, &server.kubeconfig(), dir.path(), args));
            (dump_parts(&stdout), stderr, code)
        })
    };
    for args in [
        &["cluster-info", "dump"][..],
        &["cluster-info", "dump", "--namespaces", "default,dev"][..],
        &["cluster-info", "dump", "-A"][..],
        &["cluster-info", "dump", "-n", "dev", "--output-directory=-"][..],
        &["cluster-info", "dump", "-o", "wide"][..],
    ] {
        let [ours, theirs] = both(args);
        assert_eq!(ours, theirs, "ctl {args:?} differs from kubectl");
    }
    let [ours, _] = both(&["cluster-info", "dump", "--namespaces", "dev"]);
    assert!(ours.0.contains(&serde_json::json!("==== START logs for container init of pod dev/placed ====")), "{:?}", ours.0);
    // To a directory: the same files, each as kubectl's.
    let [ours, theirs] = ["ctl", "kubectl"].map(|tool| {
        let binary = if tool == "ctl" { env!("CARGO_BIN_EXE_ctl") } else { "kubectl" };
        let target = format!("{tool}-dump");
        let stdout = stdout_ok(run_in(binary, &server.kubeconfig(), dir.path(), &["cluster-info", "dump", "--namespaces=default,dev", &format!("--output-directory={target}")]));
        let root = dir.path().join(&target);
        let mut files = Vec::new();
        let mut pending = vec![root.clone()];
        while let Some(path) = pending.pop() {
            if path.is_dir() {
                pending.extend(std::fs::read_dir(&path).unwrap().map(|entry| entry.unwrap().path()));
            } else {
                let name = path.strip_prefix(&root).unwrap().display().to_string();
                files.push((name, dump_parts(&std::fs::read_to_string(&path).unwrap())));
            }
        }
        files.sort_by(|left, right| left.0.cmp(&right.0));
        (stdout.replace(&target, "DIR"), files)
    });
    assert_eq!(ours, theirs);
    assert_eq!(ours.1.len(), 17, "{:?}", ours.1.iter().map(|file| &file.0).collect::<Vec<_>>());
}
