//! HorizontalPodAutoscaler benchmark (issue #25) against the real apiserver (embedded store) and
//! the real controller-manager binary running the `horizontalpodautoscaling` controller alone.
//!
//! 1,000 Deployments of one pod each; the pods are made by the benchmark, bound to 10 fake nodes
//! and marked Running and Ready (started 10 minutes ago, so that no cpu sample is held back as
//! start-up). Each fake node's kubelet is a Summary API (`/stats/summary`) on loopback that
//! reports 50m of cpu for each of its pods, which is where the apiserver's `metrics.k8s.io` reads
//! them. Then 1,000 HPAs (cpu at 50 % of the 100m request, so every one is at its target and
//! nothing is scaled: the steady state of a large cluster).
//!
//! - Baseline: the controller-manager's RSS with the Deployments and pods in its caches and no
//!   HPA.
//! - First round: from the first HPA create until all 1,000 report their current metrics.
//! - Rounds: the controller-manager is restarted so that every HPA comes due at once (its first
//!   sync of all of them), then every default 15 s sync period. A round is each block of 1,000
//!   syncs counted from the controller's `/metrics` (read every 50 ms), however long it takes;
//!   its wall time (round 0 from the restart), the summed sync time and the controller-manager's
//!   cpu. Only a controller that syncs nothing for 2 minutes fails the run.
//! - RSS (VmRSS, and the peak VmHWM) after the rounds, beside the baseline.
//!
//! Run: `cargo bench -p controller-manager --bench autoscaling` (`-- --quick` for 100 HPAs).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::testing::{ApiServer, Component, Storage, cpu_time, free_port, measure, peak_rss_kib};
use serde_json::{Value, json};

const CLIENTS: usize = 32;
const NODES: usize = 10;
const ROUNDS: usize = 3;
const TIMEOUT: Duration = Duration::from_secs(600);
/// How long the rounds may see no sync at all before the controller is taken as stuck (more
/// than the 15 s sync period, with room for a slow machine).
const STALLED: Duration = Duration::from_secs(120);
const NAMESPACE: &str = "bench";

/// The pods each fake kubelet runs: uid -> name.
type Running = Arc<Mutex<HashMap<String, String>>>;

fn summary(node: &str, running: &Running) -> Value {
    let now = jiff::Timestamp::now().to_string();
    let pods: Vec<Value> = running
        .lock()
        .map(|running| {
            running
                .iter()
                .map(|(uid, name)| {
                    json!({"podRef": {"name": name, "namespace": NAMESPACE, "uid": uid},
                           "containers": [{"name": "app", "cpu": {"time": now, "usageNanoCores": 50_000_000}, "memory": {"time": now, "workingSetBytes": 10_485_760}}]})
                })
                .collect()
        })
        .unwrap_or_default();
    json!({"node": {"nodeName": node, "cpu": {"time": now, "usageNanoCores": 1}, "memory": {"time": now, "workingSetBytes": 1}}, "pods": pods})
}

async fn fake_kubelet(node: String, running: Running) -> anyhow::Result<u16> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let app = axum::Router::new().route(
        "/stats/summary",
        axum::routing::get(move || {
            let (node, running) = (node.clone(), running.clone());
            async move { axum::Json(summary(&node, &running)) }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(port)
}

fn node(name: &str, port: u16) -> Value {
    let resources = json!({"cpu": "64", "memory": "256Gi", "pods": "250"});
    json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name},
        "status": {"capacity": resources, "allocatable": resources, "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}],
                   "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}], "daemonEndpoints": {"kubeletEndpoint": {"Port": port}}}})
}

fn deployment(index: usize) -> Value {
    let name = format!("web-{index:04}");
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": "app", "image": "busybox", "resources": {"requests": {"cpu": "100m"}}}]}}}})
}

fn pod(index: usize) -> Value {
    let name = format!("web-{index:04}");
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": format!("{name}-pod"), "labels": {"app": name}},
        "spec": {"nodeName": format!("node-{}", index % NODES), "containers": [{"name": "app", "image": "busybox", "resources": {"requests": {"cpu": "100m"}}}]}})
}

fn hpa(index: usize) -> Value {
    let name = format!("web-{index:04}");
    json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": name},
        "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name}, "minReplicas": 1, "maxReplicas": 10,
                 "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}}]}})
}

/// Creates `count` objects at `url` with 32 clients, `body(index)` each; answers each created
/// object.
async fn create_all(http: &reqwest::Client, url: String, count: usize, body: impl Fn(usize) -> Value + Send + Sync + 'static) -> Vec<Value> {
    let http = http.clone();
    let body = Arc::new(body);
    let created: Arc<Mutex<Vec<Value>>> = Arc::default();
    let kept = created.clone();
    measure(count, CLIENTS, move |index| {
        let (http, url, body, created) = (http.clone(), url.clone(), body.clone(), created.clone());
        async move {
            let response = http.post(&url).json(&body(index)).send().await;
            match response {
                Ok(response) if response.status().as_u16() == 201 => {
                    if let (Ok(object), Ok(mut created)) = (response.json::<Value>().await, created.lock()) {
                        created.push(object);
                    }
                }
                Ok(response) => panic!("{url} #{index}: {} {}", response.status(), response.text().await.unwrap_or_default()),
                Err(err) => panic!("{url} #{index}: {err}"),
            }
        }
    })
    .await;
    kept.lock().map(|created| created.clone()).unwrap_or_default()
}

async fn list(http: &reqwest::Client, url: &str) -> anyhow::Result<Vec<Value>> {
    let list: Value = http.get(url).send().await?.error_for_status()?.json().await?;
    Ok(list["items"].as_array().cloned().unwrap_or_default())
}

async fn wait_until(what: &str, started: Instant, mut check: impl AsyncFnMut() -> anyhow::Result<bool>) -> anyhow::Result<Duration> {
    loop {
        if check().await? {
            return Ok(started.elapsed());
        }
        anyhow::ensure!(started.elapsed() < TIMEOUT, "{what}: not after {TIMEOUT:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The HPA controller's reconcile count and summed reconcile seconds, from `/metrics`.
async fn reconciles(http: &reqwest::Client, metrics_url: &str) -> anyhow::Result<(u64, f64)> {
    let text = http.get(metrics_url).send().await?.error_for_status()?.text().await?;
    let mut count = 0;
    let mut seconds = 0.0;
    for line in text.lines() {
        let value = line.rsplit(' ').next().unwrap_or_default();
        if line.starts_with("controller_reconcile_total{controller=\"horizontalpodautoscaling\"") {
            count += value.parse::<u64>().unwrap_or(0);
        } else if line.starts_with("controller_reconcile_duration_seconds_sum{controller=\"horizontalpodautoscaling\"") {
            seconds = value.parse().unwrap_or(0.0);
        }
    }
    Ok((count, seconds))
}

fn rss_kib(pid: Option<u32>) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{}/status", pid?)).ok()?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn mib(kib: Option<u64>) -> String {
    kib.map_or_else(|| "?".to_string(), |kib| format!("{:.1} MiB", kib as f64 / 1024.0))
}

struct Round {
    wall: Duration,
    sync_seconds: f64,
    cpu: Duration,
}

fn main() -> anyhow::Result<()> {
    let quick = std::env::args().any(|arg| arg == "--quick");
    let count = if quick { 100 } else { 1000 };
    common::testing::build_release_binaries(&["apiserver", "controller-manager"])?;
    let server = ApiServer::start(Storage::Embedded)?;
    let kubeconfig = server.kubeconfig();
    println!("autoscaling benchmark: {count} HPAs over {count} Deployments (one pod each) on {NODES} fake nodes; apiserver on the embedded store, the controller-manager binary");
    println!();
    tokio::runtime::Runtime::new()?.block_on(async {
        let http = reqwest::Client::builder().pool_max_idle_per_host(CLIENTS * 2).build()?;
        let base = server.url();
        let mut kubelets: HashMap<String, Running> = HashMap::new();
        for index in 0..NODES {
            let name = format!("node-{index}");
            let running = Running::default();
            let port = fake_kubelet(name.clone(), running.clone()).await?;
            let body = node(&name, port);
            http.post(format!("{base}/api/v1/nodes")).json(&body).send().await?.error_for_status()?;
            http.patch(format!("{base}/api/v1/nodes/{name}/status"))
                .header("content-type", "application/merge-patch+json")
                .body(serde_json::to_vec(&json!({"status": body["status"]}))?)
                .send()
                .await?
                .error_for_status()?;
            kubelets.insert(name, running);
        }
        http.post(format!("{base}/api/v1/namespaces")).json(&json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}})).send().await?.error_for_status()?;
        create_all(&http, format!("{base}/apis/apps/v1/namespaces/{NAMESPACE}/deployments"), count, deployment).await;
        let pods = create_all(&http, format!("{base}/api/v1/namespaces/{NAMESPACE}/pods"), count, pod).await;
        // Running and Ready for ten minutes, as the kubelet would have reported them.
        let since = (jiff::Timestamp::now() - jiff::SignedDuration::from_secs(600)).strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
        let names: Arc<Vec<String>> = Arc::new(pods.iter().filter_map(|pod| pod["metadata"]["name"].as_str().map(str::to_string)).collect());
        {
            let (http, base, since, names) = (http.clone(), base.clone(), since.clone(), names.clone());
            measure(names.len(), CLIENTS, move |index| {
                let (http, base, since, name) = (http.clone(), base.clone(), since.clone(), names[index].clone());
                async move {
                    let patch = json!({"status": {"phase": "Running", "startTime": since, "podIP": "10.244.0.2",
                        "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": since}, {"type": "ContainersReady", "status": "True", "lastTransitionTime": since}]}});
                    let response = http
                        .patch(format!("{base}/api/v1/namespaces/{NAMESPACE}/pods/{name}/status"))
                        .header("content-type", "application/merge-patch+json")
                        .body(patch.to_string())
                        .send()
                        .await;
                    if !response.is_ok_and(|response| response.status().is_success()) {
                        panic!("status of pod {name} not written");
                    }
                }
            })
            .await;
        }
        for pod in &pods {
            let node = pod["spec"]["nodeName"].as_str().unwrap_or_default();
            if let (Some(running), Some(uid), Some(name)) = (kubelets.get(node), pod["metadata"]["uid"].as_str(), pod["metadata"]["name"].as_str())
                && let Ok(mut running) = running.lock()
            {
                running.insert(uid.to_string(), name.to_string());
            }
        }

        let metrics_port = free_port()?;
        let mut manager = Component::start(
            "controller-manager",
            &[
                format!("--kubeconfig={}", kubeconfig.display()),
                "--leader-elect=false".into(),
                "--controllers=horizontalpodautoscaling".into(),
                format!("--metrics-bind-address=127.0.0.1:{metrics_port}"),
            ],
        )?;
        let metrics_url = format!("http://127.0.0.1:{metrics_port}/metrics");
        wait_until("the controller-manager's metrics", Instant::now(), async || Ok(http.get(&metrics_url).send().await.is_ok_and(|answer| answer.status().is_success()))).await?;
        // Its caches fill within a few seconds; the baseline is read once they have.
        tokio::time::sleep(Duration::from_secs(5)).await;
        let baseline_rss = rss_kib(manager.pid());
        let baseline_peak = manager.pid().and_then(peak_rss_kib);

        // First round: every HPA synced once from its creation.
        let started = Instant::now();
        let hpas_url = format!("{base}/apis/autoscaling/v2/namespaces/{NAMESPACE}/horizontalpodautoscalers");
        create_all(&http, hpas_url.clone(), count, hpa).await;
        let created = started.elapsed();
        let first_round = wait_until("every HPA's first status", started, async || {
            let hpas = list(&http, &hpas_url).await?;
            Ok(hpas.iter().filter(|hpa| hpa["status"]["currentMetrics"][0]["resource"]["current"]["averageUtilization"] == 50).count() >= count)
        })
        .await?;
        let hpas = list(&http, &hpas_url).await?;
        let scaled = hpas.iter().filter(|hpa| hpa["status"]["desiredReplicas"] != 1).count();
        anyhow::ensure!(scaled == 0, "{scaled} HPAs want another size than 1 at their target");

        // Steady rounds. The HPAs came due one by one as they were created; a restarted
        // controller-manager syncs them all at once and then every sync period, so that a round
        // is a burst of syncs whose length is the controller's work, not the create rate.
        manager.kill();
        let restarted = Instant::now();
        manager.start_again()?;
        wait_until("the restarted controller-manager's metrics", Instant::now(), async || Ok(http.get(&metrics_url).send().await.is_ok_and(|answer| answer.status().is_success()))).await?;
        println!(
            "first round: {count} HPAs created and synced in {:.2} s ({:.0} HPAs/s created by {CLIENTS} clients)",
            first_round.as_secs_f64(),
            count as f64 / created.as_secs_f64()
        );
        println!("controller-manager RSS with {count} Deployments and pods cached and no HPA (baseline): {}", mib(baseline_rss));
        // Round k is the k-th block of `count` syncs: its wall time is from the sync that ends
        // round k-1 to the one that ends it (the sync period when the work fits in it), beside
        // the summed time of its syncs and the process's cpu.
        // No fixed deadline for all rounds: on a contended machine a round may take longer than
        // the sync period, and that is a figure to print, not a failure. Only a controller that
        // stops syncing altogether (no new sync for STALLED) ends the benchmark.
        let mut rounds = Vec::new();
        let (mut last_count, mut last_progress) = (0, Instant::now());
        // Round 0 is measured from the restart (the new process's start, its caches' list and
        // every HPA's sync), its cpu from the new process's zero.
        let (mut mark_time, mut mark_seconds, mut mark_cpu) = (restarted, 0.0, Duration::ZERO);
        while rounds.len() < ROUNDS + 1 {
            let (now_count, seconds) = reconciles(&http, &metrics_url).await?;
            if now_count != last_count {
                (last_count, last_progress) = (now_count, Instant::now());
            }
            anyhow::ensure!(
                last_progress.elapsed() < STALLED,
                "no HPA synced for {STALLED:?}: {} rounds seen, {now_count} syncs of the {} the rounds need",
                rounds.len(),
                (ROUNDS as u64 + 1) * count as u64
            );
            if now_count >= (rounds.len() as u64 + 1) * count as u64 {
                let (now, cpu) = (Instant::now(), manager.pid().and_then(cpu_time).unwrap_or_default());
                let round = Round { wall: now - mark_time, sync_seconds: seconds - mark_seconds, cpu: cpu.saturating_sub(mark_cpu) };
                println!(
                    "round {} ({count} syncs): {:.2} s wall, summed sync time {:.2} s ({:.2} ms per HPA), controller-manager cpu {:.2} s",
                    rounds.len(),
                    round.wall.as_secs_f64(),
                    round.sync_seconds,
                    round.sync_seconds * 1e3 / count as f64,
                    round.cpu.as_secs_f64()
                );
                rounds.push(round);
                (mark_time, mark_seconds, mark_cpu) = (now, seconds, cpu);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let after_rss = rss_kib(manager.pid());
        let after_peak = manager.pid().and_then(peak_rss_kib);

        println!("{:<62} {:>12}  note", "phase", "figure");
        println!("{}", "-".repeat(110));
        println!("{:<62} {:>12}  {:.0} HPAs/s created by {CLIENTS} clients", format!("first round: {count} HPAs created and synced"), format!("{:.2} s", first_round.as_secs_f64()), count as f64 / created.as_secs_f64());
        for (index, round) in rounds.iter().enumerate() {
            let what = if index == 0 { format!("restart: start, caches, every HPA synced ({count} syncs)") } else { format!("steady round {index} ({count} syncs, 15 s period)") };
            println!(
                "{:<62} {:>12}  summed sync time {:.2} s ({:.2} ms per HPA), controller-manager cpu {:.2} s",
                what,
                format!("{:.2} s", round.wall.as_secs_f64()),
                round.sync_seconds,
                round.sync_seconds * 1e3 / count as f64,
                round.cpu.as_secs_f64()
            );
        }
        println!();
        println!(
            "controller-manager RSS: {} with {count} Deployments and pods cached and no HPA (baseline), {} after the rounds with {count} HPAs; peak (VmHWM) {} -> {}",
            mib(baseline_rss),
            mib(after_rss),
            mib(baseline_peak),
            mib(after_peak)
        );
        println!("apiserver peak RSS (VmHWM): {}", mib(server.pid().and_then(peak_rss_kib)));
        Ok(())
    })
}
