//! `ctl drain` beside `kubectl drain`: each runs on its own apiserver holding the same fake
//! nodes and pods (no kubelet: the pods have a grace period of 0, so the server deletes them as
//! soon as they are evicted), and their output, exit codes and the objects left must agree.

mod support;
use support::*;

use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::testing::{ApiServer, Storage};

const BUDGET_MESSAGE: &str = "Cannot evict pod as it would violate the pod's disruption budget.";

fn pod(name: &str, node: &str, owner: Option<(&str, &str)>, empty_dir: bool) -> String {
    let owner = owner.map_or(String::new(), |(kind, owner)| {
        let version = if kind == "DaemonSet" || kind == "ReplicaSet" { "apps/v1" } else { "v1" };
        format!("  ownerReferences: [{{apiVersion: {version}, kind: {kind}, name: {owner}, uid: 8c4f3a76-6d1f-4d6e-9b6c-3c2f2b0a9d11, controller: true}}]\n")
    });
    let volumes = if empty_dir { "  volumes: [{name: scratch, emptyDir: {}}]\n" } else { "" };
    format!("---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  labels: {{app: {name}}}\n{owner}spec:\n  nodeName: {node}\n  terminationGracePeriodSeconds: 0\n  containers: [{{name: c, image: busybox}}]\n{volumes}")
}

/// The same cluster on each server: a node per case, each with the pods that case is about.
fn scenario(server: &ApiServer) {
    let mut manifest = String::new();
    for node in ["plain", "daemon", "bare", "scratch", "deleting", "budget"] {
        manifest.push_str(&format!("---\napiVersion: v1\nkind: Node\nmetadata:\n  name: {node}\n  labels: {{case: {node}}}\n"));
    }
    manifest.push_str("---\napiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: agent}\nspec:\n  selector: {matchLabels: {app: agent}}\n  template:\n    metadata: {labels: {app: agent}}\n    spec: {containers: [{name: c, image: busybox}]}\n");
    for (name, node, owner, empty_dir) in [
        ("web-0", "plain", Some(("ReplicaSet", "web")), false),
        ("web-1", "plain", Some(("ReplicaSet", "web")), false),
        ("agent-x", "daemon", Some(("DaemonSet", "agent")), false),
        ("api-0", "daemon", Some(("ReplicaSet", "api")), false),
        ("loner", "bare", None, false),
        ("cache-0", "scratch", Some(("ReplicaSet", "cache")), true),
        ("gone-0", "deleting", Some(("ReplicaSet", "gone")), false),
        ("db-0", "budget", Some(("ReplicaSet", "db")), false),
        ("db-1", "budget", Some(("ReplicaSet", "db")), false),
    ] {
        manifest.push_str(&pod(name, node, owner, empty_dir));
    }
    manifest.push_str("---\napiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: db}\nspec:\n  minAvailable: 1\n  selector: {matchExpressions: [{key: app, operator: In, values: [db-0, db-1]}]}\n");
    kubectl_stdin(server, &["apply", "-f", "-"], &manifest);
    // Running and Ready, as a kubelet would say: the budget counts only those.
    for name in ["db-0", "db-1"] {
        let status = r#"{"status":{"phase":"Running","conditions":[{"type":"Ready","status":"True"}]}}"#;
        stdout_ok(run("kubectl", server, &["patch", "pod", name, "--subresource=status", "--type=merge", "-p", status]));
    }
    allow(server, 0);
}

/// Writes the budget's status as the disruption controller would.
fn allow(server: &ApiServer, allowed: i64) {
    let budget = object(server, "default", "pdb/db");
    let status = format!(
        r#"{{"status":{{"observedGeneration":{},"disruptionsAllowed":{allowed},"currentHealthy":2,"desiredHealthy":{},"expectedPods":2}}}}"#,
        budget["metadata"]["generation"],
        2 - allowed
    );
    stdout_ok(run("kubectl", server, &["patch", "pdb", "db", "--subresource=status", "--type=merge", "-p", &status]));
}

/// Stdout with its lines sorted: kubectl evicts pods in parallel, in no fixed order.
fn lines(output: &Output) -> (Vec<String>, Vec<String>, Option<i32>) {
    let sorted = |bytes: &[u8]| {
        let mut lines: Vec<String> = String::from_utf8_lossy(bytes).lines().map(str::to_string).collect();
        lines.sort();
        lines
    };
    (sorted(&output.stdout), sorted(&output.stderr), output.status.code())
}

/// What drain leaves: each node's unschedulable flag and the pods still there.
fn state(server: &ApiServer) -> String {
    let nodes = stdout_ok(run("kubectl", server, &["get", "nodes", "-o", "custom-columns=NAME:.metadata.name,OFF:.spec.unschedulable"]));
    let pods = stdout_ok(run("kubectl", server, &["get", "pods", "-o", "custom-columns=NAME:.metadata.name,NODE:.spec.nodeName"]));
    format!("{nodes}{pods}")
}

struct Pair {
    kubectl: ApiServer,
    ctl: ApiServer,
}

impl Pair {
    fn start() -> Self {
        let start = || ApiServer::start(Storage::Embedded).unwrap_or_else(|err| panic!("starting the apiserver: {err}"));
        let pair = Self { kubectl: start(), ctl: start() };
        scenario(&pair.kubectl);
        scenario(&pair.ctl);
        pair
    }

    /// Runs the same drain with both and compares; returns kubectl's output.
    fn same(&self, args: &[&str]) -> Output {
        let mut full = vec!["drain"];
        full.extend_from_slice(args);
        let expected = run("kubectl", &self.kubectl, &full);
        let actual = ctl(&self.ctl, &full);
        assert_eq!(lines(&actual), lines(&expected), "drain {args:?}");
        assert_eq!(state(&self.ctl), state(&self.kubectl), "after drain {args:?}");
        expected
    }
}

#[test]
fn drain_refuses_evicts_and_reports_as_kubectl_does() {
    let pair = Pair::start();
    // Refusals: the node is cordoned all the same.
    let refused = pair.same(&["bare"]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("cannot delete Pods that declare no controller (use --force to override): default/loner"), "{refused:?}");
    pair.same(&["daemon"]);
    pair.same(&["scratch"]);
    // Overridden: warnings, evictions, and the node drained.
    let forced = pair.same(&["bare", "--force"]);
    assert!(String::from_utf8_lossy(&forced.stderr).contains("Warning: deleting Pods that declare no controller: default/loner"), "{forced:?}");
    let ignored = pair.same(&["daemon", "--ignore-daemonsets"]);
    assert!(String::from_utf8_lossy(&ignored.stderr).contains("Warning: ignoring DaemonSet-managed Pods: default/agent-x"), "{ignored:?}");
    pair.same(&["scratch", "--delete-emptydir-data", "--grace-period=0"]);
    // Dry runs change nothing but the cordon's (server) check.
    pair.same(&["plain", "--dry-run=client"]);
    pair.same(&["plain", "--dry-run=server"]);
    // A pod selector, then the rest by node selector.
    pair.same(&["plain", "--pod-selector=app=web-1"]);
    let drained = pair.same(&["-l", "case=plain"]);
    assert!(String::from_utf8_lossy(&drained.stdout).contains("pod/web-0 evicted"), "{drained:?}");
    pair.same(&["deleting", "--disable-eviction"]);
    // Nothing left to drain.
    pair.same(&["plain"]);
}

/// A drain running in the background, its output in files.
struct Background {
    child: Child,
    dir: tempfile::TempDir,
}

impl Background {
    fn start(binary: &str, server: &ApiServer, args: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let file = |name: &str| Stdio::from(std::fs::File::create(dir.path().join(name)).unwrap());
        let child = Command::new(binary)
            .arg(format!("--kubeconfig={}", server.kubeconfig().display()))
            .arg("drain")
            .args(args)
            .stdout(file("stdout"))
            .stderr(file("stderr"))
            .spawn()
            .unwrap();
        Self { child, dir }
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stderr")).unwrap_or_default()
    }

    fn wait_for_stderr(&self, text: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !self.stderr().contains(text) {
            assert!(Instant::now() < deadline, "never printed {text:?}: {}", self.stderr());
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn finish(mut self) -> Output {
        let status = self.child.wait().unwrap();
        let read = |name: &str| std::fs::read(self.dir.path().join(name)).unwrap_or_default();
        Output { status, stdout: read("stdout"), stderr: read("stderr") }
    }
}

#[test]
fn drain_retries_a_budget_and_times_out_as_kubectl_does() {
    let pair = Pair::start();
    // The budget allows nothing: retries every 5 s, then kubectl's timeout (one pod: kubectl
    // lists the errors of several in the order they come).
    let timed_out = pair.same(&["budget", "--timeout=7s", "--pod-selector=app=db-0"]);
    assert_eq!(timed_out.status.code(), Some(1), "{timed_out:?}");
    assert!(String::from_utf8_lossy(&timed_out.stderr).contains(&format!("error when evicting pods/\"db-0\" -n \"default\" (will retry after 5s): {BUDGET_MESSAGE}")), "{timed_out:?}");

    // The budget allows two once both are retrying: both pass.
    let kubectl = Background::start("kubectl", &pair.kubectl, &["budget"]);
    let ours = Background::start(env!("CARGO_BIN_EXE_ctl"), &pair.ctl, &["budget"]);
    kubectl.wait_for_stderr(BUDGET_MESSAGE);
    ours.wait_for_stderr(BUDGET_MESSAGE);
    allow(&pair.kubectl, 2);
    allow(&pair.ctl, 2);
    let (expected, actual) = (kubectl.finish(), ours.finish());
    assert!(expected.status.success(), "{expected:?}");
    assert_eq!(lines(&actual), lines(&expected));
    assert_eq!(state(&pair.ctl), state(&pair.kubectl));
}
