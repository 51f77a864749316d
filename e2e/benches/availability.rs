//! API availability during the loss of a control plane (issue #26): on an HA cluster (three
//! control planes behind the load balancer, one worker), two clients poll `/readyz` every 100 ms
//! and record when they succeed: one on the host through the kubeconfig (a kube-rs client, as a
//! program would keep one, 2 s timeout a request) and one in a pod on the worker, through the
//! `kubernetes` Service with its ServiceAccount (a new connection a request, 2 s timeout, as the
//! Python client's in-cluster configuration, to the Service's IP). The figure is the longest gap
//! between two successes, in a quiet window and while a control plane is down (30 s) and
//! after it is started again.
//!
//! Run: `cargo bench -p e2e --bench availability` (needs Docker and the host's Python
//! `kubernetes` client for the in-cluster image, as `scripts/setup.sh` installs).

mod support;

use support::{release_dir, run};

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const DOWN_FOR: Duration = Duration::from_secs(30);
const BASELINE: Duration = Duration::from_secs(30);
const INCLUSTER_IMAGE: &str = "localhost/incluster:bench";

/// The in-pod poller: only the standard library (the in-cluster image carries what the Python
/// `kubernetes` client loads, `ssl` and `http.client` among it). It prints the time of each
/// success, and `E` lines for failures (not used for the figures, shown for the curious).
const POD_POLLER: &str = r#"
import http.client, os, ssl, time
host, port = os.environ["KUBERNETES_SERVICE_HOST"], int(os.environ["KUBERNETES_SERVICE_PORT"])
account = "/var/run/secrets/kubernetes.io/serviceaccount"
context = ssl.create_default_context(cafile=account + "/ca.crt")
while True:
    began = time.time()
    try:
        with open(account + "/token") as file:
            token = file.read().strip()
        connection = http.client.HTTPSConnection(host, port, context=context, timeout=2)
        try:
            connection.request("GET", "/readyz", headers={"Authorization": "Bearer " + token})
            response = connection.getresponse()
            response.read()
            if response.status == 200:
                print("%.3f" % time.time(), flush=True)
            else:
                print("E %.3f status %d" % (time.time(), response.status), flush=True)
        finally:
            connection.close()
    except Exception as error:
        print("E %.3f %s" % (time.time(), str(error).replace("\n", " ")), flush=True)
    time.sleep(max(0.0, began + 0.1 - time.time()))
"#;


fn now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |since| since.as_secs_f64())
}

/// The cluster, deleted when dropped (also when the run fails or panics).
struct ClusterGuard {
    binary: PathBuf,
    kubeconfig: PathBuf,
    name: String,
}

impl ClusterGuard {
    fn tool(&self, args: &[&str]) -> anyhow::Result<String> {
        run(Command::new(&self.binary).args(args).env("KUBECONFIG", &self.kubeconfig))
    }

    fn kubectl(&self, args: &[&str]) -> anyhow::Result<String> {
        run(Command::new("kubectl").arg(format!("--kubeconfig={}", self.kubeconfig.display())).args(args))
    }

    fn kubectl_stdin(&self, args: &[&str], input: &str) -> anyhow::Result<String> {
        let mut child = Command::new("kubectl")
            .arg(format!("--kubeconfig={}", self.kubeconfig.display()))
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        child.stdin.take().ok_or_else(|| anyhow::anyhow!("no stdin"))?.write_all(input.as_bytes())?;
        let output = child.wait_with_output()?;
        anyhow::ensure!(output.status.success(), "kubectl {args:?} failed: {}", String::from_utf8_lossy(&output.stderr));
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    fn node(&self, suffix: &str) -> String {
        format!("{}-{suffix}", self.name)
    }

    /// Polls `check` every 500 ms for up to `seconds`.
    fn wait(&self, what: &str, seconds: u64, check: impl Fn() -> bool) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(seconds);
        while !check() {
            anyhow::ensure!(Instant::now() < deadline, "{what}: not within {seconds} s");
            std::thread::sleep(Duration::from_millis(500));
        }
        Ok(())
    }

    /// Ready, and its apiserver among the `kubernetes` Endpoints with the others': a control
    /// plane fully back.
    fn wait_back(&self, node: &str, control_planes: &[String]) -> anyhow::Result<()> {
        let ready = || self.kubectl(&["get", "node", node, "-o", "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}"]).is_ok_and(|status| status == "True");
        self.wait(&format!("{node} Ready"), 180, ready)?;
        let endpoints = || {
            let listed = self.kubectl(&["get", "endpoints", "kubernetes", "-n", "default", "-o", "jsonpath={.subsets[*].addresses[*].ip}"]).unwrap_or_default();
            control_planes.iter().all(|node| {
                self.kubectl(&["get", "node", node, "-o", "jsonpath={.status.addresses[?(@.type==\"InternalIP\")].address}"])
                    .is_ok_and(|ip| !ip.is_empty() && listed.split_whitespace().any(|listed| listed == ip))
            })
        };
        self.wait("every apiserver in the kubernetes Endpoints", 120, endpoints)
    }
}

impl Drop for ClusterGuard {
    fn drop(&mut self) {
        if let Err(err) = self.tool(&["delete", "--name", &self.name]) {
            eprintln!("deleting cluster {}: {err}", self.name);
        }
    }
}

/// The host poller: a kube-rs client from the kubeconfig, `/readyz` every 100 ms; the times of
/// successes and the number of failures, until `stop`.
fn host_poller(kubeconfig: PathBuf, successes: Arc<Mutex<Vec<f64>>>, failures: Arc<Mutex<Vec<f64>>>, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<anyhow::Result<()>> {
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        runtime.block_on(async move {
            let kubeconfig = kube::config::Kubeconfig::read_from(kubeconfig)?;
            let config = kube::Config::from_custom_kubeconfig(kubeconfig, &kube::config::KubeConfigOptions::default()).await?;
            let client = kube::Client::try_from(config)?;
            let mut ticks = tokio::time::interval(Duration::from_millis(100));
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            while !stop.load(Ordering::Relaxed) {
                ticks.tick().await;
                let request = http::Request::get("/readyz").body(Vec::new())?;
                match tokio::time::timeout(Duration::from_secs(2), client.request_text(request)).await {
                    Ok(Ok(_)) => successes.lock().unwrap_or_else(PoisonError::into_inner).push(now()),
                    _ => failures.lock().unwrap_or_else(PoisonError::into_inner).push(now()),
                }
            }
            Ok::<(), anyhow::Error>(())
        })
    })
}

/// The longest time between two successes in [from, to], the window's ends counting as
/// successes (a client failing from the start of the window has been without the API since).
fn longest_gap(successes: &[f64], from: f64, to: f64) -> f64 {
    let mut previous = from;
    let mut longest: f64 = 0.0;
    for &at in successes.iter().filter(|&&at| at >= from && at <= to) {
        longest = longest.max(at - previous);
        previous = at;
    }
    longest.max(to - previous)
}

struct Window {
    scenario: String,
    from: f64,
    to: f64,
}

fn main() -> anyhow::Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    run(Command::new(cargo).args(["build", "--release", "--locked", "--bins", "-p", "apiserver", "-p", "scheduler", "-p", "controller-manager", "-p", "kubelet", "-p", "dns", "-p", "ctl", "-p", "e2e", "-p", "loadbalancer"]))?;
    let dir = tempfile::tempdir()?;
    let cluster = ClusterGuard { binary: release_dir()?.join("cluster"), kubeconfig: dir.path().join("kubeconfig"), name: format!("avail-{}", std::process::id()) };
    let created = Instant::now();
    cluster.tool(&["create", "--name", &cluster.name, "--nodes", "4", "--storage", "etcd-ha"])?;
    eprintln!("HA cluster {} (3 control planes, 1 worker) Ready in {:.1} s", cluster.name, created.elapsed().as_secs_f64());
    let control_planes: Vec<String> = ["control-plane", "control-plane2", "control-plane3"].iter().map(|suffix| cluster.node(suffix)).collect();

    // The in-pod poller, on the worker (the control planes are tainted).
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/incluster-image.sh");
    run(Command::new("bash").arg(script).arg(INCLUSTER_IMAGE))?;
    cluster.tool(&["load-image", INCLUSTER_IMAGE, "--name", &cluster.name])?;
    let pod = serde_json::json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "poller", "namespace": "default"},
        "spec": {"containers": [{"name": "poller", "image": INCLUSTER_IMAGE, "imagePullPolicy": "Never", "command": ["python3", "-u", "-c", POD_POLLER]}]}});
    cluster.kubectl_stdin(&["apply", "-f", "-"], &pod.to_string())?;
    let pod_successes = || -> Vec<f64> {
        let logs = cluster.kubectl(&["logs", "poller", "-n", "default"]).unwrap_or_default();
        logs.lines().filter_map(|line| line.trim().parse().ok()).collect()
    };
    cluster.wait("the pod's poller answering", 120, || pod_successes().len() >= 10)?;

    let (successes, failures, stop) = (Arc::new(Mutex::new(Vec::new())), Arc::new(Mutex::new(Vec::new())), Arc::new(AtomicBool::new(false)));
    let poller = host_poller(cluster.kubeconfig.clone(), Arc::clone(&successes), Arc::clone(&failures), Arc::clone(&stop));
    let host_started = Instant::now();
    while successes.lock().unwrap_or_else(PoisonError::into_inner).len() < 10 {
        anyhow::ensure!(host_started.elapsed() < Duration::from_secs(30) && !poller.is_finished(), "the host poller did not start answering");
        std::thread::sleep(Duration::from_millis(100));
    }

    let mut windows = Vec::new();
    let from = now();
    std::thread::sleep(BASELINE);
    windows.push(Window { scenario: format!("baseline ({} s quiet)", BASELINE.as_secs()), from, to: now() });
    for suffix in ["control-plane", "control-plane2"] {
        let node = cluster.node(suffix);
        let stopped = now();
        run(Command::new("docker").args(["stop", &node]))?;
        let stop_took = now() - stopped;
        std::thread::sleep(DOWN_FOR.saturating_sub(Duration::from_secs_f64(stop_took)));
        let started = now();
        windows.push(Window { scenario: format!("{suffix} down {} s", DOWN_FOR.as_secs()), from: stopped, to: started });
        run(Command::new("docker").args(["start", &node]))?;
        cluster.wait_back(&node, &control_planes)?;
        // A few seconds more, so what the returning apiserver does once in use is seen too.
        std::thread::sleep(Duration::from_secs(10));
        let settled = now();
        eprintln!("{node}: docker stop took {stop_took:.1} s; back (Ready, in the Endpoints) {:.1} s after its start", settled - 10.0 - started);
        windows.push(Window { scenario: format!("{suffix} started, until back + 10 s"), from: started, to: settled });
    }
    stop.store(true, Ordering::Relaxed);
    poller.join().map_err(|_| anyhow::anyhow!("the host poller panicked"))??;
    let host = successes.lock().unwrap_or_else(PoisonError::into_inner).clone();
    let host_failures = failures.lock().unwrap_or_else(PoisonError::into_inner).clone();
    let logs = cluster.kubectl(&["logs", "poller", "-n", "default"])?;
    let pod: Vec<f64> = logs.lines().filter_map(|line| line.trim().parse().ok()).collect();
    let pod_failures: Vec<&str> = logs.lines().filter(|line| line.starts_with("E ")).collect();

    let baseline = &windows[0];
    let (baseline_host, baseline_pod) = (longest_gap(&host, baseline.from, baseline.to) * 1000.0, longest_gap(&pod, baseline.from, baseline.to) * 1000.0);
    println!("API availability, longest gap between successful /readyz requests polled every 100 ms:");
    println!("{:<42} {:>8} {:>14} {:>13} {:>10} {:>13} {:>12}", "scenario", "window s", "host gap ms", "pod gap ms", "baseline", "host failed", "pod failed");
    for window in &windows {
        let count = |times: &[f64]| times.iter().filter(|&&at| at >= window.from && at <= window.to).count();
        let pod_failed = pod_failures.iter().filter_map(|line| line.split_whitespace().nth(1)?.parse::<f64>().ok()).filter(|&at| at >= window.from && at <= window.to).count();
        println!(
            "{:<42} {:>8.1} {:>14.0} {:>13.0} {:>10} {:>13} {:>12}",
            window.scenario,
            window.to - window.from,
            longest_gap(&host, window.from, window.to) * 1000.0,
            longest_gap(&pod, window.from, window.to) * 1000.0,
            format!("{baseline_host:.0}/{baseline_pod:.0}"),
            count(&host_failures),
            pod_failed
        );
    }
    println!("(baseline = host/pod longest gap in the quiet window; failures are requests that errored or took over 2 s)");
    Ok(())
}
