//! Kubelet benchmark: 100 pods created at once on one node (real apiserver, private containerd,
//! the real kubelet binary). Prints p50/p99 from pod creation to Running as the apiserver shows
//! it, and the kubelet's peak RSS; beside, in the same run, the same sandboxes and containers
//! created and started directly over CRI with 100 concurrent clients: the runtime's own limit,
//! so that the kubelet's overhead over it is the ratio.
//!
//! Run: `cargo bench -p kubelet --bench pods` (`-- --quick` for 20 pods).

#[path = "../tests/support/mod.rs"]
mod support;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{DeleteParams, ListParams, PostParams};
use kube::runtime::{WatchStreamExt, watcher};
use kubelet::cri::{Runtime, api};
use serde_json::json;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn report(label: &str, mut latencies: Vec<Duration>, total: Duration) {
    latencies.sort();
    println!(
        "{label:<44} p50 {:>7.0} ms  p99 {:>7.0} ms  all in {:>6.2} s",
        percentile(&latencies, 0.5).as_secs_f64() * 1000.0,
        percentile(&latencies, 0.99).as_secs_f64() * 1000.0,
        total.as_secs_f64()
    );
}

async fn through_kubelet(node: &support::Node, count: usize) -> anyhow::Result<(Vec<Duration>, Duration)> {
    let pods = node.pods();
    let mut running = watcher::watcher(pods.clone(), watcher::Config::default()).applied_objects().boxed();
    let started = Instant::now();
    let mut created_at: HashMap<String, Instant> = HashMap::new();
    let creates = (0..count).map(|index| {
        let pods = pods.clone();
        let name = format!("bench-{index:03}");
        let manifest = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"nodeName": node.name, "terminationGracePeriodSeconds": 0,
                     "containers": [{"name": "main", "image": "localhost/busybox:local", "imagePullPolicy": "IfNotPresent", "command": ["sleep", "3600"]}]}});
        async move {
            let at = Instant::now();
            let pod: Pod = serde_json::from_value(manifest)?;
            pods.create(&PostParams::default(), &pod).await?;
            Ok::<_, anyhow::Error>((name, at))
        }
    });
    for result in futures::future::join_all(creates).await {
        let (name, at) = result?;
        created_at.insert(name, at);
    }
    let mut latencies = HashMap::new();
    let deadline = Instant::now() + Duration::from_secs(300);
    while latencies.len() < count {
        let next = tokio::time::timeout(deadline.saturating_duration_since(Instant::now()), running.next()).await;
        let Ok(Some(Ok(pod))) = next else { anyhow::bail!("only {} of {count} pods Running; kubelet log:\n{}", latencies.len(), node.log_tail()) };
        let name = pod.metadata.name.clone().unwrap_or_default();
        if support::phase(Some(&pod)) == "Running" && !latencies.contains_key(&name)
            && let Some(at) = created_at.get(&name) {
                latencies.insert(name, at.elapsed());
            }
    }
    let total = started.elapsed();
    pods.delete_collection(&DeleteParams::default(), &ListParams::default()).await?;
    let deadline = Instant::now() + Duration::from_secs(120);
    while !pods.list(&ListParams::default()).await?.items.is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Ok((latencies.into_values().collect(), total))
}

/// The same work straight over CRI: sandbox, container, start, per pod, all at once.
async fn direct_cri(node: &support::Node, count: usize) -> anyhow::Result<(Vec<Duration>, Duration)> {
    let runtime = Arc::new(Runtime::connect(&node.containerd.socket())?);
    let image = runtime.image_status("localhost/busybox:local").await?.ok_or_else(|| anyhow::anyhow!("busybox image missing"))?.id;
    let logs = node.dirs.path().join("raw-logs");
    let started = Instant::now();
    let runs = (0..count).map(|index| {
        let runtime = runtime.clone();
        let image = image.clone();
        let cgroup_parent = format!("{}/raw{index}", node.containerd.cgroup_root());
        let log_directory = logs.join(format!("raw-{index}"));
        async move {
            let at = Instant::now();
            std::fs::create_dir_all(&log_directory)?;
            let sandbox = api::PodSandboxConfig {
                metadata: Some(api::PodSandboxMetadata { name: format!("raw-{index}"), uid: format!("raw-uid-{index}"), namespace: "bench".into(), attempt: 0 }),
                hostname: format!("raw-{index}"),
                log_directory: log_directory.to_string_lossy().into_owned(),
                linux: Some(api::LinuxPodSandboxConfig { cgroup_parent, ..Default::default() }),
                ..Default::default()
            };
            let id = runtime.run_pod_sandbox(sandbox.clone()).await?;
            let container = api::ContainerConfig {
                metadata: Some(api::ContainerMetadata { name: "main".into(), attempt: 0 }),
                image: Some(api::ImageSpec { image, ..Default::default() }),
                command: vec!["sleep".into(), "3600".into()],
                log_path: "main.log".into(),
                ..Default::default()
            };
            let container_id = runtime.create_container(&id, container, sandbox).await?;
            runtime.start_container(&container_id).await?;
            Ok::<_, anyhow::Error>((id, at.elapsed()))
        }
    });
    let mut latencies = Vec::new();
    let mut sandboxes = Vec::new();
    for result in futures::future::join_all(runs).await {
        let (id, latency) = result?;
        sandboxes.push(id);
        latencies.push(latency);
    }
    let total = started.elapsed();
    for id in sandboxes {
        runtime.stop_pod_sandbox(&id).await?;
        runtime.remove_pod_sandbox(&id).await?;
    }
    Ok((latencies, total))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let quick = std::env::args().any(|arg| arg == "--quick");
    let count = if quick { 20 } else { 100 };
    common::testing::build_release_binaries(&["apiserver", "kubelet"])?;
    let node = support::Node::start().await;
    println!("kubelet: {count} pods created at once on one node");
    // The baseline first, on an idle runtime; it removes what it made before the kubelet's turn.
    let (raw, raw_total) = direct_cri(&node, count).await?;
    let (kubelet, kubelet_total) = through_kubelet(&node, count).await?;
    let rss = node.kubelet.pid().and_then(common::testing::peak_rss_kib).unwrap_or(0);
    report("through the kubelet (create → Running)", kubelet.clone(), kubelet_total);
    report("direct CRI (sandbox + create + start)", raw.clone(), raw_total);
    let mut k = kubelet;
    let mut r = raw;
    k.sort();
    r.sort();
    println!(
        "overhead over the runtime: p50 x{:.2}, p99 x{:.2}, all pods x{:.2}",
        percentile(&k, 0.5).as_secs_f64() / percentile(&r, 0.5).as_secs_f64().max(1e-9),
        percentile(&k, 0.99).as_secs_f64() / percentile(&r, 0.99).as_secs_f64().max(1e-9),
        kubelet_total.as_secs_f64() / raw_total.as_secs_f64().max(1e-9)
    );
    println!("kubelet peak RSS: {:.1} MiB", rss as f64 / 1024.0);
    Ok(())
}
