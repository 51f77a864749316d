//! Scheduler benchmark: the real scheduler and apiserver binaries (embedded store), 5,000 nodes
//! and 10,000 pending pods, twice: a backlog created before the scheduler starts (its own pace),
//! then pods arriving while it runs (p50/p99 from a pod's creation to its binding as a watcher
//! sees it). Prints pods scheduled per second and the peak RSS of both processes; beside, in the
//! same run and against the same apiserver, the raw rate of binding writes with no scheduling
//! logic, the limit the scheduler's rate is a fraction of.
//!
//! Run: `cargo bench -p scheduler --bench scheduling` (`-- --quick` for 1,000 nodes and 2,000
//! pods).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use common::testing::{ApiServer, Stats, Storage, measure, peak_rss_kib, workspace_binary};
use futures::StreamExt;
use serde_json::{Value, json};

const CREATE_CLIENTS: usize = 32;
/// The scheduler's default `--parallel-bindings`, so that the raw rate is the one it could reach.
const BINDING_CLIENTS: usize = 64;
const PODS_PER_NODE: usize = 110;
const BINDING_TIMEOUT: Duration = Duration::from_secs(300);

fn node(index: usize) -> Value {
    let name = node_name(index);
    let resources = json!({"cpu": "32", "memory": "128Gi", "pods": PODS_PER_NODE.to_string()});
    json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
        "status": {
            "capacity": resources,
            "allocatable": resources,
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}],
        }
    })
}

fn node_name(index: usize) -> String {
    format!("node-{index:05}")
}

fn pod(name: &str, scheduler: &str) -> Value {
    let requests = json!({"requests": {"cpu": "100m", "memory": "128Mi"}});
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": "bench"}},
        "spec": {
            "schedulerName": scheduler,
            "containers": [
                {"name": "app", "image": "busybox:local", "command": ["httpd", "-f"], "resources": requests},
                {"name": "sidecar", "image": "busybox:local", "command": ["sleep", "infinity"], "resources": requests}
            ]
        }
    })
}

fn pod_name(index: usize) -> String {
    format!("pod-{index:05}")
}

fn binding(pod: &str, node: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Binding",
        "metadata": {"name": pod},
        "target": {"apiVersion": "v1", "kind": "Node", "name": node}
    })
}

fn milliseconds(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}

/// `measure` for operations that can fail: the first error is returned once all tasks are done,
/// and the operations after it are skipped.
async fn measure_fallible<F, Fut>(total: usize, concurrency: usize, op: F) -> anyhow::Result<Stats>
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
{
    let failure: Arc<Mutex<Option<anyhow::Error>>> = Arc::default();
    let (op, recorded) = (Arc::new(op), failure.clone());
    let stats = measure(total, concurrency, move |index| {
        let (op, recorded) = (op.clone(), recorded.clone());
        async move {
            if recorded.lock().is_ok_and(|slot| slot.is_some()) {
                return;
            }
            if let Err(err) = op(index).await
                && let Ok(mut slot) = recorded.lock()
            {
                slot.get_or_insert(err);
            }
        }
    })
    .await;
    let first = failure.lock().map_err(|_| anyhow::anyhow!("an operation panicked"))?.take();
    match first {
        Some(err) => Err(err),
        None => Ok(stats),
    }
}

async fn expect_status(response: reqwest::Response, wanted: u16, what: &str) -> anyhow::Result<()> {
    let status = response.status();
    if status.as_u16() != wanted {
        let body = response.text().await.unwrap_or_default();
        bail!("{what}: {status}: {body}");
    }
    Ok(())
}

async fn create_namespace(http: &reqwest::Client, base: &str, name: &str) -> anyhow::Result<()> {
    let body = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}});
    expect_status(http.post(format!("{base}/api/v1/namespaces")).json(&body).send().await?, 201, &format!("create namespace {name}")).await
}

async fn get_json(http: &reqwest::Client, url: &str) -> anyhow::Result<Value> {
    let response = http.get(url).send().await?.error_for_status()?;
    Ok(response.json().await?)
}

async fn create_nodes(http: &reqwest::Client, base: &str, nodes: usize) -> anyhow::Result<()> {
    let (client, url) = (http.clone(), format!("{base}/api/v1/nodes"));
    let creates = measure_fallible(nodes, CREATE_CLIENTS, move |index| {
        let (client, url) = (client.clone(), url.clone());
        async move { expect_status(client.post(&url).json(&node(index)).send().await?, 201, &format!("create node {index}")).await }
    })
    .await?;
    println!("{:<44} {:>8.0}/s", format!("create {nodes} nodes ({CREATE_CLIENTS} clients)"), creates.per_second);

    // The scheduler fits pods against status.allocatable; if create dropped the status, as
    // kube-apiserver's node strategy does not but a stricter one might, set it through /status.
    let first = get_json(http, &format!("{base}/api/v1/nodes/{}", node_name(0))).await?;
    if first.pointer("/status/allocatable/cpu").is_none() {
        println!("(node status was not kept on create; patching it through /status)");
        let (client, base) = (http.clone(), base.to_string());
        measure_fallible(nodes, CREATE_CLIENTS, move |index| {
            let (client, base) = (client.clone(), base.clone());
            async move {
                let status = json!({"status": node(index)["status"]});
                let response = client
                    .patch(format!("{base}/api/v1/nodes/{}/status", node_name(index)))
                    .header("content-type", "application/merge-patch+json")
                    .body(status.to_string())
                    .send()
                    .await?;
                expect_status(response, 200, &format!("status of node {index}")).await
            }
        })
        .await?;
    }
    Ok(())
}

/// Creates `total` pods in `namespace` with `clients` at a time; returns, per pod name, when its
/// create answered 201, and the creation rate.
async fn create_pods(
    http: &reqwest::Client,
    base: &str,
    namespace: &str,
    total: usize,
    scheduler: &'static str,
) -> anyhow::Result<(HashMap<String, Instant>, Stats)> {
    let created: Arc<Mutex<HashMap<String, Instant>>> = Arc::new(Mutex::new(HashMap::with_capacity(total)));
    let (client, url, record) = (http.clone(), format!("{base}/api/v1/namespaces/{namespace}/pods"), created.clone());
    let stats = measure_fallible(total, CREATE_CLIENTS, move |index| {
        let (client, url, record) = (client.clone(), url.clone(), record.clone());
        async move {
            let name = pod_name(index);
            expect_status(client.post(&url).json(&pod(&name, scheduler)).send().await?, 201, &format!("create pod {name}")).await?;
            let answered = Instant::now();
            record.lock().map_err(|_| anyhow::anyhow!("a pod create panicked"))?.insert(name, answered);
            Ok(())
        }
    })
    .await?;
    let created = std::mem::take(&mut *created.lock().map_err(|_| anyhow::anyhow!("a pod create panicked"))?);
    Ok((created, stats))
}

/// How fast the apiserver takes bindings when nothing decides them: pods nobody schedules,
/// bound round-robin by 64 clients, then removed so that the scheduler never sees them.
async fn raw_binding_rate(http: &reqwest::Client, base: &str, nodes: usize, pods: usize) -> anyhow::Result<f64> {
    create_namespace(http, base, "baseline").await?;
    create_pods(http, base, "baseline", pods, "none").await?;
    let (client, base_url) = (http.clone(), base.to_string());
    let bindings = measure_fallible(pods, BINDING_CLIENTS, move |index| {
        let (client, base) = (client.clone(), base_url.clone());
        async move {
            let name = pod_name(index);
            let body = binding(&name, &node_name(index % nodes));
            let response = client.post(format!("{base}/api/v1/namespaces/baseline/pods/{name}/binding")).json(&body).send().await?;
            expect_status(response, 201, &format!("bind {name}")).await
        }
    })
    .await?;

    // Not a namespace delete: with no namespace controller yet, the namespace would stay
    // Terminating with its pods, and those bound pods would take room on the scheduler's nodes.
    // A bound pod deleted with grace 0 is removed at once (no kubelet needs to stop it).
    let url = format!("{base}/api/v1/namespaces/baseline/pods");
    http.delete(format!("{url}?gracePeriodSeconds=0")).send().await?.error_for_status()?;
    let left = get_json(http, &format!("{url}?limit=1")).await?;
    let remaining = left["items"].as_array().map_or(0, Vec::len);
    anyhow::ensure!(remaining == 0, "baseline pods still listed after deleting them with grace 0");
    Ok(bindings.per_second)
}

/// The scheduler process, killed when this guard goes (also when the bench fails or panics).
struct Scheduler {
    child: Child,
    log: PathBuf,
}

impl Scheduler {
    fn start(kubeconfig: &Path, log: PathBuf) -> anyhow::Result<Self> {
        let file = std::fs::File::create(&log)?;
        let binary = workspace_binary("scheduler");
        let child = Command::new(&binary)
            .arg(format!("--kubeconfig={}", kubeconfig.display()))
            .arg("--leader-elect=false")
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(file.try_clone()?)
            .stderr(file)
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        Ok(Self { child, log })
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// An error naming how the scheduler exited, if it has.
    fn ensure_running(&mut self) -> anyhow::Result<()> {
        match self.child.try_wait()? {
            None => Ok(()),
            Some(status) => bail!("the scheduler exited ({status})"),
        }
    }

    /// Keeps the log past the temp dir (which goes with the apiserver) and says where it is,
    /// with its last lines.
    fn keep_log(&self) -> String {
        let kept = std::env::temp_dir().join("scheduler-bench.log");
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let _ = std::fs::write(&kept, &text);
        let tail: Vec<&str> = text.lines().rev().take(20).collect();
        format!("scheduler log kept at {}; it ends with:\n{}", kept.display(), tail.into_iter().rev().collect::<Vec<_>>().join("\n"))
    }
}

impl Drop for Scheduler {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until the scheduler has the whole node list: a probe pod that fits only the node
/// listed last gets bound only then.
async fn wait_for_nodes(http: &reqwest::Client, base: &str, scheduler: &mut Scheduler, last_node: &str) -> anyhow::Result<()> {
    let url = format!("{base}/api/v1/namespaces/default/pods");
    let mut probe = pod("probe", "default-scheduler");
    probe["spec"]["nodeSelector"] = json!({"kubernetes.io/hostname": last_node});
    expect_status(http.post(&url).json(&probe).send().await?, 201, "create the probe pod").await?;
    let started = Instant::now();
    loop {
        scheduler.ensure_running()?;
        let current = get_json(http, &format!("{url}/probe")).await?;
        if current.pointer("/spec/nodeName").and_then(Value::as_str).is_some_and(|node| !node.is_empty()) {
            break;
        }
        anyhow::ensure!(started.elapsed() < Duration::from_secs(60), "the probe pod was not bound within 60 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    http.delete(format!("{url}/probe?gracePeriodSeconds=0")).send().await?.error_for_status()?;
    Ok(())
}

/// Follows pods in `namespace` from `resource_version` and notes when each is first seen with a
/// node, until `expected` are; `seen` counts them as they come, for progress and timeouts.
async fn watch_bindings(
    http: reqwest::Client,
    url: String,
    mut resource_version: String,
    expected: usize,
    seen: Arc<AtomicUsize>,
) -> anyhow::Result<HashMap<String, Instant>> {
    let mut bound: HashMap<String, Instant> = HashMap::with_capacity(expected);
    // The apiserver cuts off a watcher that falls behind; it resumes from the last event it had.
    loop {
        let response = http
            .get(format!("{url}?watch=true&allowWatchBookmarks=true&resourceVersion={resource_version}"))
            .send()
            .await?
            .error_for_status()?;
        let mut stream = response.bytes_stream();
        let mut buffer: Vec<u8> = Vec::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.context("reading the pod watch")?;
            // Every event in a chunk arrived now; parsing it is our cost, not the scheduler's.
            let arrived = Instant::now();
            buffer.extend_from_slice(&chunk);
            let mut consumed = 0;
            while let Some(end) = buffer[consumed..].iter().position(|&byte| byte == b'\n') {
                let line = &buffer[consumed..consumed + end];
                consumed += end + 1;
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                let event: Value = serde_json::from_slice(line).context("a pod watch event that is not JSON")?;
                let object = &event["object"];
                match event["type"].as_str() {
                    Some("ERROR") => bail!("the pod watch failed: {object}"),
                    Some("ADDED" | "MODIFIED") => {
                        let node = object.pointer("/spec/nodeName").and_then(Value::as_str).unwrap_or_default();
                        let name = object.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
                        if !node.is_empty() && !bound.contains_key(name) {
                            bound.insert(name.to_string(), arrived);
                            seen.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    _ => {}
                }
                if let Some(version) = object.pointer("/metadata/resourceVersion").and_then(Value::as_str) {
                    resource_version = version.to_string();
                }
                if bound.len() >= expected {
                    return Ok(bound);
                }
            }
            buffer.drain(..consumed);
        }
    }
}

fn percentile(sorted: &[Duration], quantile: f64) -> Duration {
    let index = ((sorted.len() as f64 * quantile).ceil() as usize).saturating_sub(1);
    sorted.get(index).copied().unwrap_or_default()
}

/// Pods per node in `namespace`, after checking that every pod has one.
async fn pods_per_node(http: &reqwest::Client, base: &str, namespace: &str) -> anyhow::Result<HashMap<String, usize>> {
    let list = get_json(http, &format!("{base}/api/v1/namespaces/{namespace}/pods")).await?;
    let mut counts: HashMap<String, usize> = HashMap::new();
    for pod in list["items"].as_array().map(Vec::as_slice).unwrap_or_default() {
        let name = pod.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
        match pod.pointer("/spec/nodeName").and_then(Value::as_str).filter(|node| !node.is_empty()) {
            Some(node) => *counts.entry(node.to_string()).or_default() += 1,
            None => bail!("pod {name} has no node at the end"),
        }
    }
    Ok(counts)
}

async fn bench(server: &ApiServer, nodes: usize, pods: usize) -> anyhow::Result<()> {
    let http = reqwest::Client::builder().pool_max_idle_per_host(BINDING_CLIENTS * 2).build()?;
    let base = server.url();
    create_nodes(&http, &base, nodes).await?;

    // Measured before the scheduler runs, so that nothing else writes meanwhile.
    let raw_rate = raw_binding_rate(&http, &base, nodes, pods).await?;
    println!("{:<44} {raw_rate:>8.0}/s", format!("raw bindings ({BINDING_CLIENTS} clients, no scheduling)"));

    // A backlog first: the pods wait before any scheduler runs, so that how fast they are
    // cleared is the scheduler's own pace, not the pace at which a client creates pods.
    create_namespace(&http, &base, "backlog").await?;
    create_pods(&http, &base, "backlog", pods, "default-scheduler").await?;
    let collection = format!("{base}/api/v1/namespaces/backlog/pods");
    let list = get_json(&http, &format!("{collection}?limit=1")).await?;
    let resource_version = list.pointer("/metadata/resourceVersion").and_then(Value::as_str).unwrap_or("0").to_string();
    let seen = Arc::new(AtomicUsize::new(0));
    let watch_client = reqwest::Client::builder().pool_max_idle_per_host(0).build()?;
    let watch = tokio::spawn(watch_bindings(watch_client, collection, resource_version, pods, seen.clone()));

    let log = server.log_path().with_file_name("scheduler.log");
    let started = Instant::now();
    let mut scheduler = Scheduler::start(&server.kubeconfig(), log)?;
    let outcome = async {
        let bound = wait_bound(watch, &mut scheduler, started, pods, &seen).await?;
        let first = bound.values().min().copied().unwrap_or(started);
        let last = bound.values().max().copied().unwrap_or(started);
        let overall = pods as f64 / last.duration_since(started).as_secs_f64();
        let pace = (pods.saturating_sub(1)) as f64 / last.duration_since(first).as_secs_f64().max(f64::EPSILON);
        println!(
            "{:<44} {overall:>8.0} pods/s  (ratio {:.2} of the raw binding rate; from the scheduler's start, its lists included)",
            format!("scheduler: backlog of {pods} pods, {nodes} nodes"),
            overall / raw_rate
        );
        println!("{:<44} {pace:>8.0} pods/s  (ratio {:.2})", "  first binding to last", pace / raw_rate);
        schedule(server, &http, &mut scheduler, nodes, pods, raw_rate).await
    }
    .await;
    outcome.map_err(|err| anyhow::anyhow!("{err:#}\n{}", scheduler.keep_log()))
}

/// Waits for the watch to have seen `pods` bindings, checking on the scheduler meanwhile.
async fn wait_bound(
    mut watch: tokio::task::JoinHandle<anyhow::Result<HashMap<String, Instant>>>,
    scheduler: &mut Scheduler,
    started: Instant,
    pods: usize,
    seen: &AtomicUsize,
) -> anyhow::Result<HashMap<String, Instant>> {
    loop {
        tokio::select! {
            finished = &mut watch => return finished?,
            () = tokio::time::sleep(Duration::from_millis(200)) => {
                scheduler.ensure_running()?;
                if started.elapsed() > BINDING_TIMEOUT {
                    watch.abort();
                    bail!("{} of {pods} pods bound after {BINDING_TIMEOUT:?}", seen.load(Ordering::Relaxed));
                }
            }
        }
    }
}

async fn schedule(
    server: &ApiServer,
    http: &reqwest::Client,
    scheduler: &mut Scheduler,
    nodes: usize,
    pods: usize,
    raw_rate: f64,
) -> anyhow::Result<()> {
    let base = &server.url();
    wait_for_nodes(http, base, scheduler, &node_name(nodes - 1)).await?;

    let collection = format!("{base}/api/v1/namespaces/bench/pods");
    let list = get_json(http, &format!("{collection}?limit=1")).await?;
    let resource_version = list.pointer("/metadata/resourceVersion").and_then(Value::as_str).unwrap_or("0").to_string();
    let seen = Arc::new(AtomicUsize::new(0));
    // Its own connection, so that the stream never waits behind the creates' pool.
    let watch_client = reqwest::Client::builder().pool_max_idle_per_host(0).build()?;
    let watch = tokio::spawn(watch_bindings(watch_client, collection, resource_version, pods, seen.clone()));

    create_namespace(http, base, "bench").await?;
    let started = Instant::now();
    let (created, creates) = create_pods(http, base, "bench", pods, "default-scheduler").await?;
    println!("{:<44} {:>8.0}/s  (while being scheduled)", format!("create {pods} pods ({CREATE_CLIENTS} clients)"), creates.per_second);

    let bound = wait_bound(watch, scheduler, started, pods, &seen).await?;
    let scheduler_peak = peak_rss_kib(scheduler.pid());
    let server_peak = server.pid().and_then(peak_rss_kib);

    let last = bound.values().max().copied().unwrap_or(started);
    // While creation is the slower side, the scheduled rate is the creation rate; this says how
    // far behind the creates the scheduler was at the end.
    let last_created = created.values().max().copied().unwrap_or(started);
    let rate = pods as f64 / last.duration_since(started).as_secs_f64();
    let mut latencies: Vec<Duration> = created
        .iter()
        .filter_map(|(name, answered)| bound.get(name).map(|binding| binding.saturating_duration_since(*answered)))
        .collect();
    anyhow::ensure!(latencies.len() == pods, "{} of {pods} created pods were seen bound", latencies.len());
    latencies.sort_unstable();

    let mut counts = pods_per_node(http, base, "bench").await?;
    for (node, count) in pods_per_node(http, base, "backlog").await? {
        *counts.entry(node).or_default() += count;
    }
    let fullest = counts.values().max().copied().unwrap_or(0);
    anyhow::ensure!(fullest <= PODS_PER_NODE, "a node holds {fullest} pods, more than its {PODS_PER_NODE}");

    println!(
        "{:<44} {rate:>8.0} pods/s  (ratio {:.2} of the raw binding rate)",
        format!("scheduler: {pods} pods arriving, {nodes} nodes"),
        rate / raw_rate
    );
    println!(
        "{:<44} p50 {:.1} ms  p99 {:.1} ms",
        "creation to binding",
        milliseconds(percentile(&latencies, 0.5)),
        milliseconds(percentile(&latencies, 0.99))
    );
    println!("{:<44} {:.1} ms", "last binding after the last create", milliseconds(last.saturating_duration_since(last_created)));
    println!("{:<44} {} nodes used, at most {fullest} pods on one", "spread", counts.len());
    let mebibytes = |peak: Option<u64>| peak.map_or_else(|| "?".to_string(), |kib| format!("{:.1}", kib as f64 / 1024.0));
    println!("peak RSS: scheduler {} MiB, apiserver {} MiB", mebibytes(scheduler_peak), mebibytes(server_peak));
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let quick = std::env::args().any(|arg| arg == "--quick");
    let (nodes, pods) = if quick { (1_000, 2_000) } else { (5_000, 10_000) };
    common::testing::build_release_binaries(&["apiserver", "scheduler"])?;
    let server = ApiServer::start(Storage::Embedded)?;
    println!("scheduler benchmark: {nodes} nodes, {pods} pending pods, apiserver on the embedded store");
    println!();
    tokio::runtime::Runtime::new()?.block_on(bench(&server, nodes, pods))
}
