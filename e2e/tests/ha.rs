//! High availability behind the load balancer (issue #26): on `--storage etcd-ha` with three
//! control planes and two workers, each control plane in turn stopped for 90 s while a
//! Deployment scales and rolls, then the first one removed for good and replaced with
//! `cluster add-node --control-plane`. Throughout, watchers started before any fault record what
//! a user would see: kubectl on the host answering, every node not deliberately stopped Ready
//! and untainted, no pod evicted.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use support::{Cluster, ok, text};

/// How long each control plane stays down: longer than the node monitor's grace period, so a
/// kubelet that could not reach another apiserver would show as NotReady.
const DOWN_FOR: Duration = Duration::from_secs(90);

/// The taints the node lifecycle controller puts on a node it has stopped hearing from.
const UNHEALTHY_TAINTS: [&str; 2] = ["node.kubernetes.io/unreachable", "node.kubernetes.io/not-ready"];

/// Reasons of the events that mark a pod evicted: by the taint manager (a node unreachable past
/// the pod's toleration) or by a kubelet.
const EVICTION_REASONS: [&str; 2] = ["TaintManagerEviction", "Evicted"];

macro_rules! progress {
    ($started:expr, $($arg:tt)*) => {
        eprintln!("[ha {:>6.1}s] {}", $started.elapsed().as_secs_f64(), format!($($arg)*))
    };
}

/// What the watchers saw, since `started`.
#[derive(Default)]
struct Observed {
    /// Requests the host poller made, and the failed ones: (seconds since start, why).
    polls: usize,
    poll_failures: Vec<(f64, String)>,
    last_success: Option<Instant>,
    /// The longest time between two successful polls, and when it ended (seconds since start).
    longest_gap: Duration,
    longest_gap_at: f64,
    /// Samples of the nodes' conditions; nodes seen unhealthy while not excused: (seconds since
    /// start, node, what); samples that could not be taken (the API did not answer).
    node_samples: usize,
    unhealthy: Vec<(f64, String, String)>,
    sample_failures: Vec<(f64, String)>,
}

struct Shared {
    started: Instant,
    observed: Mutex<Observed>,
    /// Nodes the test stopped, removed or is adding just now: expected NotReady or tainted.
    excused: Mutex<BTreeSet<String>>,
}

impl Shared {
    fn excuse(&self, node: &str) {
        self.excused.lock().unwrap_or_else(PoisonError::into_inner).insert(node.to_string());
    }

    fn unexcuse(&self, node: &str) {
        self.excused.lock().unwrap_or_else(PoisonError::into_inner).remove(node);
    }

    fn seconds(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }
}

/// The background watchers; stopped and joined when dropped (before the cluster, which is
/// declared first), also when the test fails.
struct Watchers {
    shared: Arc<Shared>,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

fn kubectl(kubeconfig: &Path, args: &[&str]) -> std::process::Output {
    Command::new("kubectl").arg(format!("--kubeconfig={}", kubeconfig.display())).args(args).output().expect("kubectl")
}

/// Sleeps until `next` or until asked to stop, whichever comes first.
fn pause_until(next: Instant, stop: &AtomicBool) {
    while Instant::now() < next && !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(20).min(next.saturating_duration_since(Instant::now())));
    }
}

impl Watchers {
    fn start(cluster: &Cluster, started: Instant) -> Self {
        let shared = Arc::new(Shared { started, observed: Mutex::default(), excused: Mutex::default() });
        let stop = Arc::new(AtomicBool::new(false));
        let poller = {
            let (shared, stop, kubeconfig) = (Arc::clone(&shared), Arc::clone(&stop), cluster.kubeconfig());
            std::thread::spawn(move || {
                shared.observed.lock().unwrap_or_else(PoisonError::into_inner).last_success = Some(Instant::now());
                while !stop.load(Ordering::Relaxed) {
                    let next = Instant::now() + Duration::from_millis(500);
                    let output = kubectl(&kubeconfig, &["get", "--raw", "/readyz", "--request-timeout=5s"]);
                    let mut observed = shared.observed.lock().unwrap_or_else(PoisonError::into_inner);
                    observed.polls += 1;
                    if output.status.success() && text(&output).trim() == "ok" {
                        let now = Instant::now();
                        let gap = now - observed.last_success.unwrap_or(shared.started);
                        if gap > observed.longest_gap {
                            observed.longest_gap = gap;
                            observed.longest_gap_at = shared.seconds();
                        }
                        observed.last_success = Some(now);
                    } else {
                        let why = format!("{}{}", text(&output).trim(), String::from_utf8_lossy(&output.stderr).trim());
                        eprintln!("[ha {:>6.1}s] host poll FAILED: {why}", shared.seconds());
                        observed.poll_failures.push((shared.seconds(), why));
                    }
                    drop(observed);
                    pause_until(next, &stop);
                }
            })
        };
        let sampler = {
            let (shared, stop, kubeconfig) = (Arc::clone(&shared), Arc::clone(&stop), cluster.kubeconfig());
            std::thread::spawn(move || {
                let path = r#"-o=jsonpath={range .items[*]}{.metadata.name}{"\t"}{.status.conditions[?(@.type=="Ready")].status}{"\t"}{.spec.taints[*].key}{"\n"}{end}"#;
                while !stop.load(Ordering::Relaxed) {
                    let next = Instant::now() + Duration::from_secs(1);
                    // A node counts as excused when it was so before or after the sample was
                    // taken: the test excuses a node before stopping it and lets it go only once
                    // it is Ready and untainted again, but the sample may straddle either moment.
                    let before = shared.excused.lock().unwrap_or_else(PoisonError::into_inner).clone();
                    let output = kubectl(&kubeconfig, &["get", "nodes", "--request-timeout=5s", path]);
                    let after = shared.excused.lock().unwrap_or_else(PoisonError::into_inner).clone();
                    let mut observed = shared.observed.lock().unwrap_or_else(PoisonError::into_inner);
                    if !output.status.success() {
                        observed.sample_failures.push((shared.seconds(), String::from_utf8_lossy(&output.stderr).trim().to_string()));
                    } else {
                        observed.node_samples += 1;
                        for line in text(&output).lines() {
                            let mut fields = line.split('\t');
                            let (node, ready, taints) = (fields.next().unwrap_or(""), fields.next().unwrap_or(""), fields.next().unwrap_or(""));
                            if node.is_empty() || before.contains(node) || after.contains(node) {
                                continue;
                            }
                            let bad_taints: Vec<&str> = taints.split_whitespace().filter(|taint| UNHEALTHY_TAINTS.contains(taint)).collect();
                            if ready != "True" || !bad_taints.is_empty() {
                                let what = format!("Ready={ready:?} taints={bad_taints:?}");
                                eprintln!("[ha {:>6.1}s] node {node} UNHEALTHY: {what}", shared.seconds());
                                observed.unhealthy.push((shared.seconds(), node.to_string(), what));
                            }
                        }
                    }
                    drop(observed);
                    pause_until(next, &stop);
                }
            })
        };
        Self { shared, stop, threads: vec![poller, sampler] }
    }

    fn stop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for thread in std::mem::take(&mut self.threads) {
            let _ = thread.join();
        }
    }

    fn summary(&self) -> String {
        let observed = self.shared.observed.lock().unwrap_or_else(PoisonError::into_inner);
        format!(
            "host poller: {} requests, {} failed, longest gap between successes {:.2} s (ending at {:.1} s); \
             node sampler: {} samples ({} could not be taken), {} unhealthy sightings of nodes not excused",
            observed.polls,
            observed.poll_failures.len(),
            observed.longest_gap.as_secs_f64(),
            observed.longest_gap_at,
            observed.node_samples,
            observed.sample_failures.len(),
            observed.unhealthy.len()
        )
    }
}

impl Drop for Watchers {
    fn drop(&mut self) {
        self.stop();
        if std::thread::panicking() {
            eprintln!("[ha] at the failure: {}", self.summary());
        }
    }
}

/// On a failure, the nodes' and the load balancer's logs exported where they outlive the
/// cluster (declared after it, so dropped before it is deleted).
struct LogsOnFailure<'a>(&'a Cluster);

impl Drop for LogsOnFailure<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let logs = std::env::temp_dir().join(format!("{}-logs", self.0.name));
            let _ = self.0.tool(&["export", "logs", &logs.display().to_string(), "--name", &self.0.name]);
            eprintln!("[ha] node and load balancer logs exported to {}", logs.display());
        }
    }
}

const DEMO: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: demo
  namespace: ha
spec:
  replicas: 4
  selector:
    matchLabels: {app: demo}
  template:
    metadata:
      labels: {app: demo}
    spec:
      terminationGracePeriodSeconds: 2
      containers:
      - name: sleeper
        image: localhost/busybox:local
        imagePullPolicy: IfNotPresent
        command: ["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"]
"#;

/// An error a client sees while etcd elects a new leader after losing a member: the apiserver
/// answers 503 ("etcdserver: leader changed", "etcdserver: request timed out"), as
/// kube-apiserver does, and users try again.
fn transient(stderr: &str) -> bool {
    ["Unavailable", "leader", "etcdserver", "(503)"].iter().any(|sign| stderr.contains(sign))
}

/// kubectl not reaching any apiserver: what the load balancer is there to prevent.
fn unreachable(stderr: &str) -> bool {
    ["Unable to connect to the server", "EOF", "connection reset", "connection refused", "i/o timeout"].iter().any(|sign| stderr.contains(sign))
}

/// The failures of the test's own kubectl commands that it tried again after.
#[derive(Default)]
struct Retries {
    /// Refused while etcd elected a leader: expected, counted.
    etcd: usize,
    /// The API not reached at all: each one a finding, kept going after so that one run shows
    /// everything (seconds since start, the command, why).
    unreachable: Vec<(f64, String)>,
}

impl Retries {
    /// Whether to try `what` again after it failed with `stderr`; counts why.
    fn again(&mut self, started: Instant, what: &str, stderr: &str) -> bool {
        let stderr = stderr.trim();
        if transient(stderr) {
            self.etcd += 1;
            progress!(started, "retrying {what} after a transient error: {stderr}");
        } else if unreachable(stderr) {
            self.unreachable.push((started.elapsed().as_secs_f64(), format!("{what}: {stderr}")));
            progress!(started, "{what} did NOT reach the API: {stderr}; retrying");
        } else {
            return false;
        }
        true
    }
}

/// Runs kubectl `args`, trying again (for up to a minute) after a transient error or none
/// reached; any other failure fails the test.
fn with_retries(cluster: &Cluster, started: Instant, retries: &mut Retries, args: &[&str]) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let output = cluster.kubectl(args);
        if output.status.success() {
            return text(&output);
        }
        let stderr = String::from_utf8_lossy(&output.stderr).to_string();
        assert!(retries.again(started, &format!("kubectl {args:?}"), &stderr) && Instant::now() < deadline, "kubectl {args:?} failed: {stderr}");
        std::thread::sleep(Duration::from_secs(1));
    }
}

fn ready(cluster: &Cluster, node: &str) -> String {
    cluster.jsonpath(&["node", node], "{.status.conditions[?(@.type==\"Ready\")].status}")
}

/// Ready and without the taints of an unhealthy node: what the sampler holds every node to.
fn healthy(cluster: &Cluster, node: &str) -> bool {
    let state = cluster.jsonpath(&["node", node], "{.status.conditions[?(@.type==\"Ready\")].status} {.spec.taints[*].key}");
    state.starts_with("True") && !UNHEALTHY_TAINTS.iter().any(|taint| state.contains(taint))
}

fn address(cluster: &Cluster, node: &str) -> String {
    cluster.jsonpath(&["node", node], "{.status.addresses[?(@.type==\"InternalIP\")].address}")
}

/// The apiservers in the Endpoints of Service `kubernetes`, sorted.
fn apiservers(cluster: &Cluster) -> Vec<String> {
    let mut ips: Vec<String> = cluster.jsonpath(&["endpoints", "kubernetes", "-n", "default"], "{.subsets[*].addresses[*].ip}").split_whitespace().map(String::from).collect();
    ips.sort();
    ips
}

/// Waits until every one of `control_planes` is in the `kubernetes` Endpoints and nothing else is.
fn wait_apiservers(cluster: &Cluster, control_planes: &[String]) {
    let expected = || {
        let mut ips: Vec<String> = control_planes.iter().map(|node| address(cluster, node)).collect();
        ips.sort();
        ips
    };
    cluster.wait("the live apiservers, and only they, in the kubernetes Endpoints", 120, || apiservers(cluster) == expected(), || format!("{:?}, expected {:?}", apiservers(cluster), expected()));
}

/// Waits for the Deployment to be rolled out with `replicas` replicas, all of the latest template.
fn wait_rolled_out(cluster: &Cluster, started: Instant, retries: &mut Retries, replicas: usize) {
    let deadline = Instant::now() + Duration::from_secs(240);
    loop {
        let output = cluster.kubectl(&["rollout", "status", "deployment/demo", "-n", "ha", "--timeout=120s"]);
        if output.status.success() {
            break;
        }
        // A watch cut by a transient error is tried again, as a user would; a rollout that does
        // not complete is a failure.
        let stderr = String::from_utf8_lossy(&output.stderr).to_string();
        assert!(retries.again(started, "rollout status", &stderr) && Instant::now() < deadline, "rollout status failed: {}{stderr}", text(&output));
        std::thread::sleep(Duration::from_secs(1));
    }
    let status = || cluster.jsonpath(&["deployment", "demo", "-n", "ha"], "{.spec.replicas}/{.status.replicas}/{.status.updatedReplicas}/{.status.availableReplicas}");
    let expected = format!("{replicas}/{replicas}/{replicas}/{replicas}");
    cluster.wait("the rollout's status settled", 60, || status() == expected, status);
}

#[test]
fn the_cluster_keeps_serving_while_each_control_plane_is_lost_and_one_is_replaced() {
    let creating = Instant::now();
    let cluster = Cluster::create_with(5, None, &["--storage", "etcd-ha"]);
    let _logs = LogsOnFailure(&cluster);
    let started = Instant::now();
    progress!(started, "cluster {} created ({:.1} s, with the release build and the node image)", cluster.name, creating.elapsed().as_secs_f64());
    let control_planes: Vec<String> = ["control-plane", "control-plane2", "control-plane3"].iter().map(|suffix| cluster.node(suffix)).collect();
    let workers = [cluster.node("worker"), cluster.node("worker2")];
    let nodes = ok(cluster.kubectl(&["get", "nodes"]));
    assert_eq!(nodes.lines().filter(|line| line.contains(" Ready ")).count(), 5, "{nodes}");

    // The host's kubeconfig goes through the load balancer's port, fixed at create.
    let load_balancer = cluster.node("external-load-balancer");
    let server = ok(cluster.kubectl(&["config", "view", "-o", "jsonpath={.clusters[0].cluster.server}"]));
    let published = ok(cluster.docker(&["port", &load_balancer, "6443/tcp"]));
    let port = published.lines().next().and_then(|line| line.rsplit_once(':')).map(|(_, port)| port.trim().to_string()).unwrap();
    assert_eq!(server.trim(), format!("https://127.0.0.1:{port}"), "the kubeconfig points at the load balancer ({published})");
    wait_apiservers(&cluster, &control_planes);

    let mut watchers = Watchers::start(&cluster, started);
    let shared = Arc::clone(&watchers.shared);
    progress!(started, "watchers started");

    ok(cluster.kubectl(&["create", "namespace", "ha"]));
    ok(cluster.kubectl_stdin(&["apply", "-f", "-"], DEMO));
    let mut retries = Retries::default();
    wait_rolled_out(&cluster, started, &mut retries, 4);
    let placed = cluster.jsonpath(&["pods", "-n", "ha", "-l", "app=demo"], "{.items[*].spec.nodeName}");
    assert!(placed.split_whitespace().all(|node| workers.contains(&node.to_string())), "the demo runs on the workers: {placed}");
    progress!(started, "demo rolled out with 4 replicas");

    // Each control plane in turn down for 90 s, while the Deployment scales and rolls.
    let mut replicas = 4;
    let mut down_times = Vec::new();
    for (round, node) in control_planes.iter().enumerate() {
        let round = round + 1;
        shared.excuse(node);
        let stopped_at = Instant::now();
        ok(cluster.docker(&["stop", node]));
        progress!(started, "round {round}: {node} stopped ({:.1} s for docker stop)", stopped_at.elapsed().as_secs_f64());
        replicas = if replicas == 4 { 6 } else { 4 };
        let retries_before = retries.etcd;
        with_retries(&cluster, started, &mut retries, &["scale", "deployment/demo", "-n", "ha", &format!("--replicas={replicas}")]);
        with_retries(&cluster, started, &mut retries, &["set", "env", "deployment/demo", "-n", "ha", &format!("ROUND={round}")]);
        wait_rolled_out(&cluster, started, &mut retries, replicas);
        progress!(started, "round {round}: scaled to {replicas} and rolled out with {node} down ({:.1} s after the stop, {} retries)", stopped_at.elapsed().as_secs_f64(), retries.etcd - retries_before);
        std::thread::sleep(DOWN_FOR.saturating_sub(stopped_at.elapsed()));
        ok(cluster.docker(&["start", node]));
        let restarted_at = Instant::now();
        progress!(started, "round {round}: {node} started after {:.1} s down", stopped_at.elapsed().as_secs_f64());
        cluster.wait(&format!("{node} Ready and untainted again"), 180, || healthy(&cluster, node), || format!("Ready={} taints={}", ready(&cluster, node), cluster.jsonpath(&["node", node], "{.spec.taints}")));
        let ready_after = restarted_at.elapsed();
        wait_apiservers(&cluster, &control_planes);
        shared.unexcuse(node);
        progress!(started, "round {round}: {node} Ready {:.1} s after its start, its apiserver back in the Endpoints {:.1} s after", ready_after.as_secs_f64(), restarted_at.elapsed().as_secs_f64());
        down_times.push((node.clone(), stopped_at.elapsed()));
    }

    // The first control plane lost for good and replaced by a new one.
    let (removed, second, third, added) = (cluster.node("control-plane"), cluster.node("control-plane2"), cluster.node("control-plane3"), cluster.node("control-plane4"));
    shared.excuse(&removed);
    // Retired as a machine is: stopped, then its container removed with its volumes. (A hard
    // kill, `rm -f`, fails the requests in flight through it at that instant, which a TCP
    // balancer cannot replay.)
    ok(cluster.docker(&["stop", &removed]));
    ok(cluster.docker(&["rm", "-v", &removed]));
    progress!(started, "{removed} removed for good");
    // As an administrator retires a machine: its Node object goes too.
    with_retries(&cluster, started, &mut retries, &["delete", "node", &removed]);
    // The new node is NotReady until its kubelet has registered and is up.
    shared.excuse(&added);
    let adding = Instant::now();
    let output = cluster.tool(&["add-node", "--name", &cluster.name, "--control-plane"]);
    assert!(output.status.success(), "add-node failed: {}{}", text(&output), String::from_utf8_lossy(&output.stderr));
    let printed = text(&output);
    assert!(printed.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-')).any(|word| word == added), "add-node printed the new node's name {added}: {printed}");
    progress!(started, "add-node returned after {:.1} s", adding.elapsed().as_secs_f64());
    cluster.wait(&format!("{added} Ready and untainted"), 180, || healthy(&cluster, &added), || ready(&cluster, &added));
    shared.unexcuse(&added);
    progress!(started, "{added} Ready {:.1} s after add-node started", adding.elapsed().as_secs_f64());

    // etcd's membership follows: the three live control planes, not the removed one.
    let members = ok(cluster.docker(&["exec", &second, "etcdctl", "--endpoints", "http://127.0.0.1:2379", "member", "list"]));
    let mut names: Vec<&str> = members.lines().filter_map(|line| line.split(", ").nth(2)).collect();
    names.sort();
    assert_eq!(names, vec![second.as_str(), third.as_str(), added.as_str()], "etcd members: {members}");
    let live = vec![second.clone(), third.clone(), added.clone()];
    wait_apiservers(&cluster, &live);
    assert!(apiservers(&cluster).contains(&address(&cluster, &added)), "the new apiserver in the kubernetes Endpoints");
    let listed = ok(cluster.tool(&["get", "nodes", "--name", &cluster.name]));
    let listed: BTreeSet<&str> = listed.lines().map(str::trim).collect();
    assert!(listed.contains(added.as_str()) && !listed.contains(removed.as_str()), "cluster get nodes: {listed:?}");
    let nodes = ok(cluster.kubectl(&["get", "nodes", "-o", "name"]));
    assert!(!nodes.lines().any(|line| line == format!("node/{removed}")), "{nodes}");

    // The load balancer follows: with the second control plane down too, the host reaches the
    // third or the new one.
    shared.excuse(&second);
    let stopped_at = Instant::now();
    ok(cluster.docker(&["stop", &second]));
    progress!(started, "{second} stopped: only {third} and {added} serve");
    while stopped_at.elapsed() < Duration::from_secs(20) {
        ok(cluster.kubectl(&["get", "nodes", "--request-timeout=5s"]));
        std::thread::sleep(Duration::from_secs(1));
    }
    replicas = if replicas == 4 { 6 } else { 4 };
    with_retries(&cluster, started, &mut retries, &["scale", "deployment/demo", "-n", "ha", &format!("--replicas={replicas}")]);
    with_retries(&cluster, started, &mut retries, &["set", "env", "deployment/demo", "-n", "ha", "ROUND=replaced"]);
    wait_rolled_out(&cluster, started, &mut retries, replicas);
    progress!(started, "scaled to {replicas} and rolled out through {third} and {added} alone");
    ok(cluster.docker(&["start", &second]));
    cluster.wait(&format!("{second} Ready and untainted again"), 180, || healthy(&cluster, &second), || ready(&cluster, &second));
    wait_apiservers(&cluster, &live);
    shared.unexcuse(&second);
    progress!(started, "{second} back after {:.1} s", stopped_at.elapsed().as_secs_f64());

    // Let the sampler see the whole cluster healthy for a few seconds more, then stop watching.
    std::thread::sleep(Duration::from_secs(5));
    watchers.stop();
    let summary = watchers.summary();
    progress!(started, "{summary}");
    progress!(started, "{} kubectl retries after etcd's transient errors, {} after none reached; down times: {down_times:?}", retries.etcd, retries.unreachable.len());

    // No pod evicted, whatever its namespace.
    let events = cluster.jsonpath(&["events", "-A"], r#"{range .items[*]}{.reason}{"\t"}{.involvedObject.kind}{"\t"}{.involvedObject.namespace}/{.involvedObject.name}{"\t"}{.message}{"\n"}{end}"#);
    // The taint manager also reports, under the same reason, a deletion it cancelled because the
    // taint went before the pod's toleration ran out: no eviction, that.
    let evictions: Vec<&str> = events
        .lines()
        .filter(|line| EVICTION_REASONS.contains(&line.split('\t').next().unwrap_or("")) && !line.split('\t').nth(3).is_some_and(|message| message.starts_with("Cancelling deletion")))
        .collect();
    // A node the test stopped is reported NotReady (and so are the pods on it); no other is.
    let stopped_nodes: BTreeSet<&str> = control_planes.iter().chain([&added]).map(String::as_str).collect();
    let not_ready: Vec<&str> = events
        .lines()
        .filter(|line| {
            let fields: Vec<&str> = line.split('\t').collect();
            fields.first() == Some(&"NodeNotReady")
                && match fields.get(1) {
                    Some(&"Node") => !stopped_nodes.contains(fields.get(2).and_then(|key| key.rsplit('/').next()).unwrap_or("")),
                    _ => fields.get(2).is_some_and(|key| key.starts_with("ha/")),
                }
        })
        .collect();
    let evicted_pods = cluster.jsonpath(&["pods", "-A"], r#"{range .items[?(@.status.reason=="Evicted")]}{.metadata.namespace}/{.metadata.name}{"\n"}{end}"#);

    // Every finding at once, so that one run shows all that did not hold.
    let observed = watchers.shared.observed.lock().unwrap_or_else(PoisonError::into_inner);
    let mut problems = Vec::new();
    if observed.polls < 100 {
        problems.push(format!("the host poller made only {} requests", observed.polls));
    }
    if !observed.poll_failures.is_empty() {
        problems.push(format!("kubectl on the host failed {} times: {:?}", observed.poll_failures.len(), observed.poll_failures));
    }
    if !retries.unreachable.is_empty() {
        problems.push(format!("the test's kubectl commands did not reach the API {} times: {:?}", retries.unreachable.len(), retries.unreachable));
    }
    if !observed.unhealthy.is_empty() {
        problems.push(format!("nodes not stopped were seen unhealthy: {:?}", observed.unhealthy));
    }
    if !evictions.is_empty() {
        problems.push(format!("pods were evicted: {evictions:?}"));
    }
    if !not_ready.is_empty() {
        problems.push(format!("NotReady events for nodes not stopped or for the demo's pods: {not_ready:?}"));
    }
    if !evicted_pods.trim().is_empty() {
        problems.push(format!("pods evicted: {evicted_pods}"));
    }
    let final_state = cluster.jsonpath(&["deployment", "demo", "-n", "ha"], "{.status.readyReplicas}/{.status.updatedReplicas}/{.spec.template.spec.containers[0].env[0].value}");
    if final_state != format!("{replicas}/{replicas}/replaced") {
        problems.push(format!("the demo ended as ready/updated/ROUND {final_state}, not {replicas}/{replicas}/replaced"));
    }
    let nodes = ok(cluster.kubectl(&["get", "nodes"]));
    if nodes.lines().filter(|line| line.contains(" Ready ")).count() != 5 {
        problems.push(format!("not 5 nodes Ready at the end: {nodes}"));
    }
    assert!(problems.is_empty(), "{}\n{summary}", problems.join("\n"));
    progress!(started, "done");
}
