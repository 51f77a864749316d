//! The cluster verbs (`cordon`, `uncordon`, `taint`, `auth`, `api-versions`, `cluster-info`,
//! `events`, `wait`) beside kubectl on the same apiserver, with the same arguments.

mod support;

use std::path::Path;
use std::process::{Command, Output};

use common::testing::{ApiServer, Credentials, Storage};
use support::*;

/// Runs ctl or kubectl with this kubeconfig.
fn run_as(binary: &str, kubeconfig: &Path, args: &[&str]) -> Output {
    Command::new(binary)
        .arg(format!("--kubeconfig={}", kubeconfig.display()))
        .args(args)
        .output()
        .unwrap_or_else(|err| panic!("cannot run {binary}: {err}"))
}

/// What a run printed, with kubectl's name for itself read as ctl's, and without client-go's
/// log lines (`I1207 07:01:41.886897 23227 reflector.go:556] ...`), which come and go with timing.
fn printed(output: &Output) -> (String, String, Option<i32>) {
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).replace("'kubectl ", "'ctl ");
    let klog = |line: &str| {
        let bytes = line.as_bytes();
        bytes.len() > 5 && b"IWE".contains(&bytes[0]) && bytes[1..5].iter().all(u8::is_ascii_digit) && bytes[5] == b' '
    };
    let stderr: String = text(&output.stderr).split_inclusive('\n').filter(|line| !klog(line)).collect();
    (text(&output.stdout), stderr, output.status.code())
}

/// Runs both tools with the same arguments and asserts the same stdout, stderr and status.
fn same(kubeconfig: &Path, args: &[&str]) -> String {
    let ours = printed(&run_as(env!("CARGO_BIN_EXE_ctl"), kubeconfig, args));
    let theirs = printed(&run_as("kubectl", kubeconfig, args));
    assert_eq!(ours, theirs, "ctl {args:?} differs from kubectl");
    ours.0
}

fn node(name: &str, role: &str) -> String {
    format!("apiVersion: v1\nkind: Node\nmetadata:\n  name: {name}\n  labels:\n    role: {role}\n")
}

/// Each step runs kubectl on the nodes node-k1 and node-k2 (labelled role=k) and ctl on node-c1
/// and node-c2 (role=c), which start equal; their output and the nodes' specs must stay equal.
#[test]
fn cordon_uncordon_and_taint_as_kubectl() {
    let server = ApiServer::start(Storage::Embedded).unwrap();
    let manifests = [node("node-k1", "k"), node("node-k2", "k"), node("node-c1", "c"), node("node-c2", "c")].join("---\n");
    kubectl_stdin(&server, &["apply", "-f", "-"], &manifests);
    let steps: &[&[&str]] = &[
        &["cordon", "node-X1"],
        &["cordon", "node-X1"],
        &["uncordon", "node-X1"],
        &["uncordon", "node-X1"],
        &["cordon", "node-X1", "node-X2"],
        &["uncordon", "-l", "role=X"],
        &["cordon", "nosuch"],
        &["cordon"],
        &["taint", "nodes", "node-X1", "a=b:NoSchedule"],
        &["taint", "nodes", "node-X1", "a=b:NoSchedule"],
        &["taint", "nodes", "node-X1", "a=c:NoSchedule"],
        &["taint", "nodes", "node-X1", "a=c:NoSchedule", "--overwrite"],
        &["taint", "nodes", "node-X1", "a:NoSchedule-"],
        &["taint", "nodes", "node-X1", "a:NoSchedule-"],
        &["taint", "nodes", "node-X1", "a-"],
        &["taint", "nodes", "node-X1", "x=y:Bad"],
        &["taint", "nodes", "node-X1", "a=b=c:NoSchedule"],
        &["taint", "node", "node-X1", "node-X2", "k=v:NoExecute"],
        &["taint", "nodes", "node-X1"],
        &["taint", "nodes", "node-X1", "a=b:NoSchedule", "b=c:PreferNoSchedule"],
        &["taint", "nodes", "node-X1", "a=b:NoSchedule", "a-"],
        &["taint", "nodes", "node-X1", "a-", "b-"],
        &["taint", "node/node-X2", "z=1:NoExecute"],
        &["taint", "nodes", "-l", "role=X", "q:NoSchedule"],
        &["taint", "nodes", "-l", "role=X", "q:NoSchedule-", "k:NoExecute-"],
        &["taint", "node-X1", "a=b:NoSchedule"],
        &["taint", "nodes", "nosuch", "a=b:NoSchedule"],
        &["taint", "nodes", "nosuch", "node-X1", "m=v:NoSchedule"],
        &["taint", "nodes", "node-X1", "node-X2", "m-", "none-"],
        &["taint", "nodes", "node-X1", "k=v:NoSchedule", "k=w:NoSchedule"],
        &["taint", "pods", "x", "k=v:NoSchedule"],
        &["taint", "nodes", "node-X1", "k=v"],
        &["taint", "nodes", "node-X1", "k=-v:NoSchedule"],
        &["taint", "nodes", "node-X1", "a/b/c=v:NoSchedule"],
        &["cordon", "node-X1", "--dry-run=client"],
        &["cordon", "node-X1", "--dry-run=server"],
        &["uncordon", "node-X1", "--dry-run=server"],
        &["cordon", "node-X2", "--dry-run=bad"],
        &["taint", "nodes", "node-X1", "dry=1:NoSchedule", "--dry-run=client"],
        &["taint", "nodes", "node-X1", "dry=1:NoSchedule", "--dry-run=server"],
        &["taint", "nodes", "node-X1", "dry=1:NoSchedule", "--dry-run=bad"],
        &["taint", "nodes", "node-X2", "z=1:NoExecute"],
    ];
    for step in steps {
        let with = |side: &str| -> Vec<String> { step.iter().map(|arg| arg.replace("X", side)).collect() };
        let (kubectl_args, ctl_args) = (with("k"), with("c"));
        let theirs = printed(&run("kubectl", &server, &kubectl_args.iter().map(String::as_str).collect::<Vec<_>>()));
        let ours = printed(&ctl(&server, &ctl_args.iter().map(String::as_str).collect::<Vec<_>>()));
        let theirs = (theirs.0.replace("node-k", "node-c"), theirs.1.replace("node-k", "node-c"), theirs.2);
        assert_eq!(ours, theirs, "ctl {ctl_args:?} differs from kubectl {kubectl_args:?}");
        for number in ["1", "2"] {
            let spec = |side: &str| object(&server, "default", &format!("node/node-{side}{number}"))["spec"].clone();
            assert_eq!(spec("c"), spec("k"), "node {number} after {ctl_args:?}");
        }
    }
    let tainted = object(&server, "default", "node/node-c2");
    assert_eq!(tainted["spec"]["taints"], serde_json::json!([{"key": "z", "value": "1", "effect": "NoExecute"}]), "{tainted}");
}

#[test]
fn auth_can_i_and_whoami_as_kubectl() {
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("tokens.csv");
    std::fs::write(&tokens, "admin-token,admin,1,\"system:masters\"\nbob-token,bob,2,\"devs\"\n").unwrap();
    let server = ApiServer::start_https(Storage::Embedded, &[&format!("--token-auth-file={}", tokens.display()), "--authorization-mode=RBAC"]).unwrap();
    let admin = server.kubeconfig_as("admin", "default", Credentials::Token("admin-token")).unwrap();
    let bob = server.kubeconfig_as("bob", "default", Credentials::Token("bob-token")).unwrap();
    for args in [
        &["create", "namespace", "dev"][..],
        &["create", "role", "pods", "--verb=get,list", "--resource=pods,configmaps", "-n", "dev"][..],
        &["create", "rolebinding", "bob", "--role=pods", "--user=bob", "-n", "dev"][..],
        &["create", "clusterrole", "nodes", "--verb=get", "--resource=nodes", "--resource-name=n1"][..],
        &["create", "clusterrolebinding", "devs", "--clusterrole=nodes", "--group=devs"][..],
    ] {
        stdout_ok(run_as("kubectl", &admin, args));
    }
    for args in [
        &["get", "pods"][..],
        &["get", "pods", "-n", "dev"][..],
        &["list", "configmaps", "-n", "dev"][..],
        &["get", "pods", "-A"][..],
        &["create", "pods", "-n", "dev"][..],
        &["get", "pods/log", "-n", "dev"][..],
        &["get", "pods", "--subresource=log", "-n", "dev"][..],
        &["get", "nodes/n1"][..],
        &["get", "nodes/n2"][..],
        &["get", "nodes", "-A"][..],
        &["get", "deployments.apps", "-n", "dev"][..],
        &["get", "foo"][..],
        &["get", "foo.bar"][..],
        &["get", "users"][..],
        &["frob", "pods", "-n", "dev"][..],
        &["get", "*", "-n", "dev"][..],
        &["get", "/healthz"][..],
        &["frob", "/healthz"][..],
        &["get", "pods", "-q", "-n", "dev"][..],
        &["get", "pods", "x", "-n", "dev"][..],
        &["get"][..],
        &["get", "pods", "--no-headers"][..],
        &["--list"][..],
        &["--list", "-n", "dev"][..],
        &["--list", "--no-headers", "-n", "dev"][..],
        &["--list", "-A"][..],
        &["--list", "pods"][..],
    ] {
        let args: Vec<&str> = ["auth", "can-i"].into_iter().chain(args.iter().copied()).collect();
        same(&bob, &args);
        same(&admin, &args);
    }
    assert_eq!(same(&bob, &["auth", "can-i", "get", "pods", "-n", "dev"]), "yes\n");
    assert_eq!(same(&bob, &["auth", "can-i", "create", "pods", "-n", "dev"]), "no\n");
    assert!(same(&bob, &["auth", "can-i", "--list", "-n", "dev"]).contains("\npods                                            []                  []               [get list]\n"));
    // The server does not impersonate; both tools must still accept the flag and send it.
    same(&admin, &["auth", "can-i", "get", "pods", "--as=bob"]);

    assert_eq!(same(&bob, &["auth", "whoami"]), "ATTRIBUTE   VALUE\nUsername    bob\nUID         2\nGroups      [devs system:authenticated]\n");
    same(&admin, &["auth", "whoami"]);
    same(&bob, &["auth", "whoami", "-o", "json"]);
    let yaml = |binary: &str| -> serde_json::Value { serde_yaml_ng::from_str(&stdout_ok(run_as(binary, &bob, &["auth", "whoami", "-o", "yaml"]))).unwrap() };
    assert_eq!(yaml(env!("CARGO_BIN_EXE_ctl")), yaml("kubectl"));
}

#[test]
fn api_versions_and_cluster_info_as_kubectl() {
    let server = ApiServer::start(Storage::Embedded).unwrap();
    let kubeconfig = server.kubeconfig();
    let versions = same(&kubeconfig, &["api-versions"]);
    assert!(versions.contains("\nautoscaling/v1\nautoscaling/v2\n") && versions.ends_with("\nv1\n"), "{versions}");
    same(&kubeconfig, &["cluster-info"]);
    // ctl has no `cluster-info dump`, so it points at kubectl's, word for word.
    assert_eq!(
        stdout_ok(ctl(&server, &["cluster-info"])),
        format!("Kubernetes control plane is running at {}\n\nTo further debug and diagnose cluster problems, use 'kubectl cluster-info dump'.\n", server.url())
    );
    let services = "apiVersion: v1
kind: Service
metadata:
  name: kube-dns
  namespace: kube-system
  labels: {kubernetes.io/cluster-service: \"true\", kubernetes.io/name: CoreDNS}
spec:
  ports: [{name: dns, port: 53, protocol: UDP}]
---
apiVersion: v1
kind: Service
metadata:
  name: dashboard
  namespace: kube-system
  labels: {kubernetes.io/cluster-service: \"true\"}
spec:
  ports: [{port: 443}]
---
apiVersion: v1
kind: Service
metadata:
  name: plain
  namespace: kube-system
  labels: {kubernetes.io/cluster-service: \"true\"}
spec:
  ports: [{port: 80}]
---
apiVersion: v1
kind: Service
metadata:
  name: balanced
  namespace: kube-system
  labels: {kubernetes.io/cluster-service: \"true\"}
spec:
  type: LoadBalancer
  ports: [{name: a, port: 80}, {name: b, port: 81}]
";
    kubectl_stdin(&server, &["apply", "-f", "-"], services);
    let status = r#"{"status":{"loadBalancer":{"ingress":[{"ip":"10.0.0.9"}]}}}"#;
    stdout_ok(run("kubectl", &server, &["patch", "service", "balanced", "-n", "kube-system", "--subresource=status", "--type=merge", "-p", status]));
    let info = same(&kubeconfig, &["cluster-info"]);
    assert!(info.contains("CoreDNS is running at ") && info.contains("balanced is running at http://10.0.0.9:80 http://10.0.0.9:81 \n"), "{info}");
    same(&kubeconfig, &["cluster-info", "-n", "default"]);
    // On a terminal too (a pty from util-linux's `script`), the same bytes: no colour codes.
    let on_terminal = |binary: &str| {
        let command = format!("{binary} --kubeconfig={} cluster-info", kubeconfig.display());
        let output = Command::new("script").args(["-qec", &command, "/dev/null"]).env("TERM", "xterm").output().unwrap();
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    let ours = on_terminal(env!("CARGO_BIN_EXE_ctl"));
    assert_eq!(ours, on_terminal("kubectl"));
    assert!(ours.starts_with("Kubernetes control plane is running at "), "{ours:?}");
}

/// The event `namespace/name` about `object`, last and first seen `[last, first]` minutes ago
/// and half a minute more, off a minute's edge, so that ages in whole minutes read the same in
/// both tools' runs.
fn event(key: &str, object: &str, kind: &str, reason: &str, [last, first]: [i64; 2], count: i64) -> String {
    let time = |minutes: i64| (jiff::Timestamp::now() - jiff::SignedDuration::from_secs(minutes * 60 + 30)).strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
    let (namespace, name) = key.split_once('/').unwrap();
    let (object_kind, object_name) = object.split_once('/').unwrap();
    format!(
        "apiVersion: v1\nkind: Event\nmetadata: {{name: {name}, namespace: {namespace}}}\ninvolvedObject: {{kind: {object_kind}, name: {object_name}, namespace: {namespace}, apiVersion: v1}}\nreason: {reason}\nmessage: \"{reason} of {object}  \"\ntype: {kind}\nfirstTimestamp: \"{}\"\nlastTimestamp: \"{}\"\ncount: {count}\n",
        time(first),
        time(last)
    )
}

#[test]
fn events_as_kubectl() {
    let server = ApiServer::start(Storage::Embedded).unwrap();
    let kubeconfig = server.kubeconfig();
    stdout_ok(run("kubectl", &server, &["create", "namespace", "dev"]));
    let events = [
        event("dev/scheduled", "Pod/web", "Normal", "Scheduled", [51, 51], 1),
        event("dev/backoff", "Pod/web", "Warning", "BackOff", [46, 50], 5),
        event("dev/other", "ConfigMap/settings", "Normal", "Seen", [70, 70], 1),
        event("default/here", "Pod/app", "Warning", "Failed", [48, 48], 1),
    ];
    kubectl_stdin(&server, &["apply", "-f", "-"], &events.join("---\n"));
    let deployment_event = "apiVersion: v1
kind: Event
metadata: {name: scaled, namespace: default}
involvedObject: {kind: Deployment, name: app, namespace: default, apiVersion: apps/v1}
reason: ScalingReplicaSet
message: Scaled up replica set app-1 to 1
type: Normal
eventTime: \"2020-01-01T00:00:00.000000Z\"
reportingComponent: deployment-controller
reportingInstance: x
action: Scale
";
    kubectl_stdin(&server, &["apply", "-f", "-"], deployment_event);
    for args in [
        &["events", "-n", "dev"][..],
        &["events"][..],
        &["events", "-A"][..],
        &["events", "-n", "dev", "--for", "pod/web"][..],
        &["events", "-n", "dev", "--for=Pod/web", "--types=Warning"][..],
        &["events", "-A", "--types=warning,Normal"][..],
        &["events", "-A", "--types=Warning", "--no-headers"][..],
        &["events", "--for", "deployment/app"][..],
        &["events", "-n", "dev", "--for", "pod/nothing"][..],
        &["events", "-n", "empty"][..],
        &["events", "-n", "dev", "--types=Bad"][..],
        &["events", "-n", "dev", "--for=widget/x"][..],
        &["events", "-n", "dev", "--for=web"][..],
    ] {
        same(&kubeconfig, args);
    }
    let table = same(&kubeconfig, &["events", "-n", "dev"]);
    assert_eq!(table.lines().nth(3).unwrap(), "46m (x5 over 50m)   Warning   BackOff     Pod/web              BackOff of Pod/web", "{table}");
}

/// Both tools with these arguments, started side by side and left running (ctl first).
fn spawn_both(server: &ApiServer, args: &[&str]) -> [std::process::Child; 2] {
    [env!("CARGO_BIN_EXE_ctl"), "kubectl"].map(|binary| {
        Command::new(binary)
            .arg(format!("--kubeconfig={}", server.kubeconfig().display()))
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    })
}

/// Each wait's output, ctl's first; both must agree.
fn finished(children: [std::process::Child; 2]) -> String {
    let [ours, theirs] = children.map(|child| printed(&child.wait_with_output().unwrap()));
    assert_eq!(ours, theirs, "ctl wait differs from kubectl wait");
    ours.0
}

/// How many GETs of `resource` the apiserver has answered with 200, from its metrics.
fn gets(server: &ApiServer, resource: &str) -> u64 {
    let metrics = stdout_ok(run("kubectl", server, &["get", "--raw", "/metrics"]));
    let line = format!("apiserver_request_total{{code=\"200\",resource=\"{resource}\",verb=\"GET\"}} ");
    metrics.lines().find_map(|text| text.strip_prefix(&line)).map_or(0, |count| count.parse().unwrap())
}

#[test]
fn wait_as_kubectl() {
    let server = ApiServer::start(Storage::Embedded).unwrap();
    let kubeconfig = server.kubeconfig();
    stdout_ok(run("kubectl", &server, &["create", "configmap", "settings", "--from-literal=mode=fast"]));
    let pod = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\nspec:\n  nodeName: node-1\n  containers:\n  - name: app\n    image: app:1\n";
    kubectl_stdin(&server, &["apply", "-f", "-"], pod);
    for args in [
        &["wait", "pod/web", "--for=condition=Ready", "--timeout=1s"][..],
        &["wait", "pod/web", "--for=delete", "--timeout=1s"][..],
        &["wait", "pod/web", "--for=delete", "--timeout=0"][..],
        &["wait", "cm/settings", "--for=jsonpath={.data.mode}=fast"][..],
        &["wait", "configmap", "settings", "--for=jsonpath={.data.mode}=slow", "--timeout=1s"][..],
        &["wait", "cm", "--all", "--for=jsonpath={.data.mode}"][..],
        &["wait", "cm/settings", "pod/web", "--for=jsonpath={.metadata.namespace}=default"][..],
        &["wait", "pod/web", "--for=jsonpath={.spec.containers[0].image}=app:1"][..],
        &["wait", "pod/web", "--for=jsonpath={.spec}=x", "--timeout=1s"][..],
        &["wait", "pod/web", "--for=create"][..],
        &["wait", "cm/nothing", "--for=delete"][..],
        &["wait", "cm/nothing", "--for=condition=Ready", "--timeout=1s"][..],
        &["wait", "pod", "-l", "app=none", "--for=delete"][..],
        &["wait", "pod", "-l", "app=none", "--for=condition=Ready"][..],
        &["wait", "pod/web", "--for=bad"][..],
        &["wait", "pod/web"][..],
        &["wait", "pod/web", "--for=jsonpath={}"][..],
        &["wait", "pod/web", "--for=delete", "--timeout=soon"][..],
        &["wait", "pod", "--for=delete"][..],
        &["wait", "--for=delete"][..],
    ] {
        same(&kubeconfig, args);
    }

    // Conditions met while both wait: the pod becomes Ready, then Running.
    let waits = spawn_both(&server, &["wait", "pod/web", "--for=condition=Ready"]);
    let ready = r#"{"status":{"conditions":[{"type":"Ready","status":"True"}]}}"#;
    stdout_ok(run("kubectl", &server, &["patch", "pod", "web", "--subresource=status", "--type=merge", "-p", ready]));
    assert_eq!(finished(waits), "pod/web condition met\n");
    let waits = spawn_both(&server, &["wait", "pod/web", "--for=jsonpath={.status.phase}=Running", "--timeout=1m"]);
    stdout_ok(run("kubectl", &server, &["patch", "pod", "web", "--subresource=status", "--type=merge", "-p", r#"{"status":{"phase":"Running"}}"#]));
    assert_eq!(finished(waits), "pod/web condition met\n");
    same(&kubeconfig, &["wait", "pod/web", "--for=condition=ready=false", "--timeout=1s"]);

    // A deletion while both wait: deleted only once both have read the object (counted in the
    // server's metrics), since an object gone before the first read is waited for in silence.
    stdout_ok(run("kubectl", &server, &["create", "secret", "generic", "doomed"]));
    let before = gets(&server, "secrets");
    let waits = spawn_both(&server, &["wait", "secret/doomed", "--for=delete"]);
    let started = std::time::Instant::now();
    while gets(&server, "secrets") < before + 2 {
        assert!(started.elapsed() < std::time::Duration::from_secs(30), "the waits never read the secret");
    }
    stdout_ok(run("kubectl", &server, &["delete", "secret", "doomed"]));
    assert_eq!(finished(waits), "secret/doomed condition met\n");
}

/// The lines a running command prints, as they come.
fn lines_of(child: &mut std::process::Child) -> std::sync::mpsc::Receiver<String> {
    use std::io::BufRead;
    let stdout = child.stdout.take().unwrap();
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    receiver
}

/// The next `count` lines, waiting up to half a minute for each.
fn next_lines(lines: &std::sync::mpsc::Receiver<String>, count: usize) -> Vec<String> {
    (0..count).map(|_| lines.recv_timeout(std::time::Duration::from_secs(30)).expect("no line within 30s")).collect()
}

#[test]
fn events_watch_as_kubectl() {
    let server = ApiServer::start(Storage::Embedded).unwrap();
    stdout_ok(run("kubectl", &server, &["create", "namespace", "dev"]));
    let events = [event("dev/a-scheduled", "Pod/web", "Normal", "Scheduled", [51, 51], 1), event("dev/b-backoff", "Pod/web", "Warning", "BackOff", [46, 50], 5)];
    kubectl_stdin(&server, &["apply", "-f", "-"], &events.join("---\n"));
    let mut children = spawn_both(&server, &["events", "-n", "dev", "-w"]);
    let [ours, theirs] = children.each_mut().map(lines_of);
    // The events there are first, header and all; then one made while both watch, whose
    // longer reason widens its column from there on, as kubectl's tab writer does.
    assert_eq!(next_lines(&ours, 3), next_lines(&theirs, 3));
    kubectl_stdin(&server, &["apply", "-f", "-"], &event("dev/c-pulled", "Pod/web", "Normal", "SuccessfullyPulled", [48, 48], 1));
    let ([later], [kubectl_later]) = (next_lines(&ours, 1).try_into().unwrap(), next_lines(&theirs, 1).try_into().unwrap());
    for child in &mut children {
        child.kill().unwrap();
        child.wait().unwrap();
    }
    assert_eq!(later, kubectl_later);
    assert_eq!(later, "48m                 Normal    SuccessfullyPulled   Pod/web   SuccessfullyPulled of Pod/web");
}
