//! API benchmark: the real apiserver binary on etcd and on the embedded store. 32 concurrent
//! clients create 10,000 ConfigMaps, then get them, list them all, and 1,000 watchers wait for
//! one change; beside, raw etcd puts of the same objects to the same etcd in the same run.
//! Prints throughput, p50/p99 and the apiserver's peak RSS.
//!
//! Run: `cargo bench -p apiserver --bench api` (`-- --quick` for a short run).

use std::time::{Duration, Instant};

use common::testing::{ApiServer, CpuMeter, Stats, Storage, measure, peak_rss_kib};
use futures::StreamExt;
use serde_json::json;

const CONCURRENCY: usize = 32;

fn print(stats: &Stats, operation: &str, backend: &str) {
    println!(
        "{operation:<34} {backend:<9} {:>10.0}/s  p50 {:>8.2} ms  p99 {:>8.2} ms",
        stats.per_second,
        stats.p50.as_secs_f64() * 1e3,
        stats.p99.as_secs_f64() * 1e3
    );
}

/// The apiserver's CPU time per operation over a phase: a figure that other load on the machine
/// hardly moves, unlike throughput.
struct Cpu(CpuMeter);

impl Cpu {
    fn start(server: &ApiServer) -> Self {
        Self(CpuMeter::start(server.pid()))
    }

    fn print(self, operations: usize, operation: &str, backend: &str) {
        if let Some(per_operation) = self.0.per_operation(operations) {
            println!("{:<34} {backend:<9} {per_operation:>10.1} µs of apiserver CPU each", format!("{operation} CPU"));
        }
    }
}

fn configmap(name: &str) -> serde_json::Value {
    json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": "bench", "labels": {"app": "bench"}},
        "data": {"config.json": "{\"environment\": \"dev\"}", "url": "http://example-service:80/api"},
    })
}

async fn bench_server(backend: &str, server: &ApiServer, objects: usize, watchers: usize) -> anyhow::Result<()> {
    let http = reqwest::Client::builder().pool_max_idle_per_host(CONCURRENCY * 2).build()?;
    let base = server.url();
    let namespace = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "bench"}});
    http.post(format!("{base}/api/v1/namespaces")).json(&namespace).send().await?.error_for_status()?;
    let collection = format!("{base}/api/v1/namespaces/bench/configmaps");

    let (client, url) = (http.clone(), collection.clone());
    let cpu = Cpu::start(server);
    let creates = measure(objects, CONCURRENCY, move |i| {
        let (client, url) = (client.clone(), url.clone());
        async move {
            let response = client.post(&url).json(&configmap(&format!("cm-{i:06}"))).send().await;
            assert!(response.is_ok_and(|r| r.status().as_u16() == 201), "create {i} failed");
        }
    })
    .await;
    print(&creates, &format!("create ({CONCURRENCY} clients)"), backend);
    cpu.print(objects, "create", backend);

    let (client, url) = (http.clone(), collection.clone());
    let cpu = Cpu::start(server);
    let gets = measure(objects, CONCURRENCY, move |i| {
        let (client, url) = (client.clone(), url.clone());
        async move {
            let response = client.get(format!("{url}/cm-{i:06}")).send().await;
            assert!(response.is_ok_and(|r| r.status().is_success()), "get {i} failed");
        }
    })
    .await;
    print(&gets, &format!("get ({CONCURRENCY} clients)"), backend);
    cpu.print(objects, "get", backend);

    let (client, url) = (http.clone(), collection.clone());
    let lists = measure(10, 1, move |_| {
        let (client, url) = (client.clone(), url.clone());
        async move {
            let list: serde_json::Value = client.get(&url).send().await.expect("list").json().await.expect("list body");
            assert_eq!(list["items"].as_array().map(Vec::len), Some(objects));
        }
    })
    .await;
    print(&lists, &format!("list {objects} objects"), backend);

    // Watchers from the current revision, then one change; each reports when it saw it.
    let list: serde_json::Value = http.get(format!("{collection}?limit=1")).send().await?.json().await?;
    let revision = list["metadata"]["resourceVersion"].as_str().unwrap_or("0").to_string();
    let mut streams = Vec::with_capacity(watchers);
    let watch_client = reqwest::Client::builder().pool_max_idle_per_host(0).build()?;
    for _ in 0..watchers {
        let response = watch_client
            .get(format!("{collection}?watch=true&resourceVersion={revision}&timeoutSeconds=60"))
            .send()
            .await?;
        streams.push(response.bytes_stream());
    }
    let changed_at = Instant::now();
    http.post(&collection).json(&configmap("the-change")).send().await?.error_for_status()?;
    let mut waits = tokio::task::JoinSet::new();
    for mut stream in streams {
        waits.spawn(async move {
            let arrived = tokio::time::timeout(Duration::from_secs(30), stream.next()).await;
            arrived.ok().flatten().and_then(Result::ok).map(|_| changed_at.elapsed())
        });
    }
    let latencies: Vec<Duration> = waits.join_all().await.into_iter().flatten().collect();
    let received = latencies.len();
    let fanout = Stats::of(latencies, changed_at.elapsed());
    println!(
        "{:<34} {backend:<9} {received}/{watchers} received  p50 {:>8.2} ms  p99 {:>8.2} ms",
        format!("{watchers} watchers, one change"),
        fanout.p50.as_secs_f64() * 1e3,
        fanout.p99.as_secs_f64() * 1e3
    );
    if let Some(peak) = server.pid().and_then(peak_rss_kib) {
        println!("{:<34} {backend:<9} {:.1} MiB", "apiserver peak RSS", peak as f64 / 1024.0);
    }
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let quick = std::env::args().any(|arg| arg == "--quick");
    let (objects, watchers) = if quick { (2_000, 200) } else { (10_000, 1_000) };
    println!("API benchmark: {objects} ConfigMaps, {CONCURRENCY} concurrent clients, {watchers} watchers");
    println!();

    let server = ApiServer::start(Storage::Etcd)?;
    let endpoint = server.etcd.as_ref().map(|etcd| etcd.endpoint()).unwrap_or_default();
    let raw = etcd_client::Client::connect([endpoint], None).await?;
    let kv = raw.kv_client();
    let body = configmap("raw").to_string();
    let raw_puts = measure(objects, CONCURRENCY, move |i| {
        let (mut kv, body) = (kv.clone(), body.clone());
        async move {
            kv.put(format!("/raw/configmaps/cm-{i:06}"), body, None).await.expect("raw put");
        }
    })
    .await;
    print(&raw_puts, &format!("raw etcd put ({CONCURRENCY} clients)"), "etcd");
    bench_server("etcd", &server, objects, watchers).await?;
    drop(server);

    println!();
    let server = ApiServer::start(Storage::Embedded)?;
    bench_server("embedded", &server, objects, watchers).await?;
    println!();
    println!("create/s over raw etcd put/s is what the API layer costs on top of storage writes");
    Ok(())
}
