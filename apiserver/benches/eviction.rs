//! Eviction benchmark: the real apiserver binary, 1,000 running pods on a fake node under 10
//! PodDisruptionBudgets whose status allows 100 disruptions each, evicted by 10 clients (one per
//! budget, so that budget writes do not race); beside, plain DELETEs of another 1,000 such pods
//! by 10 clients in the same run. Each eviction lists the budgets, takes one from its budget by
//! compare-and-swap, writes the pod's DisruptionTarget condition and deletes it: three writes
//! where a DELETE makes one. Prints requests/s, p50/p99 and the apiserver's CPU per request, on
//! the embedded store and on etcd.
//!
//! Run: `cargo bench -p apiserver --bench eviction` (`-- --quick` for 200 pods).

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::testing::{ApiServer, CpuMeter, Stats, Storage};
use serde_json::{Value, json};

const BUDGETS: usize = 10;

fn print(stats: &Stats, operation: &str, backend: &str) {
    println!(
        "{operation:<36} {backend:<9} {:>9.0}/s  p50 {:>8.2} ms  p99 {:>8.2} ms",
        stats.per_second,
        stats.p50.as_secs_f64() * 1e3,
        stats.p99.as_secs_f64() * 1e3
    );
}

fn print_cpu(meter: CpuMeter, operations: usize, operation: &str, backend: &str) {
    if let Some(per_operation) = meter.per_operation(operations) {
        println!("{:<36} {backend:<9} {per_operation:>9.1} µs of apiserver CPU each", format!("{operation} CPU"));
    }
}

struct Bench {
    http: reqwest::Client,
    base: String,
}

impl Bench {
    async fn send(&self, method: reqwest::Method, path: &str, content_type: &str, body: String) -> anyhow::Result<Value> {
        let response = self.http.request(method.clone(), format!("{}{path}", self.base)).header("content-type", content_type).body(body).send().await?;
        let code = response.status();
        let text = response.text().await?;
        anyhow::ensure!(code.is_success(), "{method} {path}: {code} {text}");
        Ok(serde_json::from_str(&text)?)
    }

    async fn post(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        self.send(reqwest::Method::POST, path, "application/json", body.to_string()).await
    }

    async fn merge_patch(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        self.send(reqwest::Method::PATCH, path, "application/merge-patch+json", body.to_string()).await
    }

    /// A pod on the fake node, running and Ready as a kubelet reports it; grace 0, so that a
    /// delete removes it at once whichever way it comes.
    async fn running_pod(&self, name: &str, group: usize) -> anyhow::Result<()> {
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"group": format!("g{group}")}},
            "spec": {"nodeName": "n1", "terminationGracePeriodSeconds": 0, "containers": [{"name": "c", "image": "busybox"}]}});
        self.post("/api/v1/namespaces/bench/pods", &pod).await?;
        let status = json!({"status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}});
        self.merge_patch(&format!("/api/v1/namespaces/bench/pods/{name}/status"), &status).await?;
        Ok(())
    }
}

/// Runs `op(client, index)` for every index, client `k` taking the indices `k, k + clients, ...`
/// in order: with pods assigned to budgets the same way, each budget is written by one client.
async fn per_client<F, Fut>(bench: &Arc<Bench>, total: usize, clients: usize, op: F) -> Stats
where
    F: Fn(Arc<Bench>, usize) -> Fut + Send + Sync + 'static + Clone,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send,
{
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for client in 0..clients {
        let (bench, op) = (bench.clone(), op.clone());
        tasks.spawn(async move {
            let mut latencies: Vec<Duration> = Vec::new();
            for index in (client..total).step_by(clients) {
                let began = Instant::now();
                if let Err(err) = op(bench.clone(), index).await {
                    panic!("request {index}: {err}");
                }
                latencies.push(began.elapsed());
            }
            latencies
        });
    }
    let mut latencies = Vec::with_capacity(total);
    while let Some(done) = tasks.join_next().await {
        latencies.extend(done.unwrap_or_else(|err| panic!("a client failed: {err}")));
    }
    Stats::of(latencies, started.elapsed())
}

async fn bench_server(backend: &str, server: &ApiServer, pods: usize) -> anyhow::Result<()> {
    let http = reqwest::Client::builder().pool_max_idle_per_host(64).build()?;
    let bench = Arc::new(Bench { http, base: server.url() });
    bench.post("/api/v1/namespaces", &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "bench"}})).await?;
    bench.post("/api/v1/nodes", &json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}})).await?;
    let per_budget = (pods / BUDGETS) as i64;
    for group in 0..BUDGETS {
        let name = format!("budget-{group}");
        let budget = json!({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": name},
            "spec": {"maxUnavailable": per_budget, "selector": {"matchLabels": {"group": format!("g{group}")}}}});
        let created = bench.post("/apis/policy/v1/namespaces/bench/poddisruptionbudgets", &budget).await?;
        // The disruption controller's status, written here: every pod may go.
        let status = json!({"status": {"observedGeneration": created["metadata"]["generation"], "disruptionsAllowed": per_budget,
            "currentHealthy": per_budget, "desiredHealthy": 0, "expectedPods": per_budget}});
        bench.merge_patch(&format!("/apis/policy/v1/namespaces/bench/poddisruptionbudgets/{name}/status"), &status).await?;
    }
    let setup = per_client(&bench, pods * 2, 16, move |bench, index| async move {
        let (prefix, number) = if index < pods { ("evict", index) } else { ("delete", index - pods) };
        bench.running_pod(&format!("{prefix}-{number:04}"), number % BUDGETS).await
    })
    .await;
    print(&setup, "setup: pod create + status (16)", backend);

    let meter = CpuMeter::start(server.pid());
    let evictions = per_client(&bench, pods, BUDGETS, |bench, index| async move {
        let name = format!("evict-{index:04}");
        let eviction = json!({"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": name, "namespace": "bench"}});
        bench.post(&format!("/api/v1/namespaces/bench/pods/{name}/eviction"), &eviction).await.map(drop)
    })
    .await;
    print(&evictions, &format!("eviction ({BUDGETS} clients)"), backend);
    print_cpu(meter, pods, "eviction", backend);

    let meter = CpuMeter::start(server.pid());
    let deletes = per_client(&bench, pods, BUDGETS, |bench, index| async move {
        bench.send(reqwest::Method::DELETE, &format!("/api/v1/namespaces/bench/pods/delete-{index:04}"), "application/json", String::new()).await.map(drop)
    })
    .await;
    print(&deletes, &format!("pod DELETE ({BUDGETS} clients)"), backend);
    print_cpu(meter, pods, "pod DELETE", backend);
    println!("{:<36} {backend:<9} {:>9.2}", "eviction/s over DELETE/s", evictions.per_second / deletes.per_second);

    // Every budget gave exactly its disruptions, each recorded, and every pod is gone.
    for group in 0..BUDGETS {
        let budget = bench.send(reqwest::Method::GET, &format!("/apis/policy/v1/namespaces/bench/poddisruptionbudgets/budget-{group}"), "application/json", String::new()).await?;
        let recorded = budget["status"]["disruptedPods"].as_object().map_or(0, serde_json::Map::len) as i64;
        anyhow::ensure!(budget["status"]["disruptionsAllowed"] == 0 && recorded == per_budget, "budget-{group} after the run: {}", budget["status"]);
    }
    let left = bench.send(reqwest::Method::GET, "/api/v1/namespaces/bench/pods", "application/json", String::new()).await?;
    anyhow::ensure!(left["items"].as_array().is_some_and(Vec::is_empty), "pods left: {}", left["items"].as_array().map_or(0, Vec::len));
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let quick = std::env::args().any(|arg| arg == "--quick");
    let pods = if quick { 200 } else { 1_000 };
    println!("Eviction benchmark: {pods} evictions under {BUDGETS} budgets beside {pods} pod DELETEs");
    println!();
    for (backend, storage) in [("embedded", Storage::Embedded), ("etcd", Storage::Etcd)] {
        let server = ApiServer::start(storage)?;
        bench_server(backend, &server, pods).await?;
        if let Some(rss) = server.pid().and_then(common::testing::peak_rss_kib) {
            println!("{:<36} {backend:<9} {:>9.1} MiB", "apiserver peak RSS", rss as f64 / 1024.0);
        }
        println!();
    }
    Ok(())
}
