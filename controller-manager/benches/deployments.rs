//! Controller-manager benchmark: 1,000 Deployments of 10 replicas created at once against the
//! real apiserver (embedded store) and the real controller-manager binary. Prints the time until
//! every ReplicaSet and pod object exists, the objects written per second, and the
//! controller-manager's peak RSS; beside, in the same run, the rate at which 32 plain clients
//! create the same number of pods (the apiserver's limit for these writes).
//!
//! Run: `cargo bench -p controller-manager --bench deployments` (`-- --quick` for 100).

use std::time::{Duration, Instant};

use common::testing::{ApiServer, Component, Storage, free_port, measure, peak_rss_kib};
use serde_json::{Value, json};

const CLIENTS: usize = 32;
const REPLICAS: usize = 10;

fn deployment(index: usize) -> Value {
    let name = format!("app-{index:04}");
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
        "spec": {"replicas": REPLICAS, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}},
                              "spec": {"containers": [{"name": "web", "image": "busybox:local", "resources": {"requests": {"cpu": "10m"}}}]}}}})
}

async fn count(http: &reqwest::Client, url: &str) -> anyhow::Result<usize> {
    let list: Value = http.get(format!("{url}?limit=1")).send().await?.error_for_status()?.json().await?;
    let shown = list["items"].as_array().map_or(0, Vec::len);
    let remaining = list["metadata"]["remainingItemCount"].as_u64().unwrap_or(0);
    Ok(shown + usize::try_from(remaining)?)
}

async fn create_namespace(http: &reqwest::Client, base: &str, name: &str) -> anyhow::Result<()> {
    let body = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}});
    http.post(format!("{base}/api/v1/namespaces")).json(&body).send().await?.error_for_status()?;
    Ok(())
}

async fn bench(server: &ApiServer, deployments: usize) -> anyhow::Result<()> {
    let http = reqwest::Client::builder().pool_max_idle_per_host(CLIENTS * 2).build()?;
    let base = server.url();
    let pods = deployments * REPLICAS;

    // The baseline: the same number of pods created by plain clients, no controller involved.
    create_namespace(&http, &base, "baseline").await?;
    let (client, url) = (http.clone(), format!("{base}/api/v1/namespaces/baseline/pods"));
    let raw = measure(pods, CLIENTS, move |index| {
        let (client, url) = (client.clone(), url.clone());
        async move {
            let body = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": format!("raw-{index:05}")},
                "spec": {"containers": [{"name": "web", "image": "busybox:local"}]}});
            let response = client.post(&url).json(&body).send().await;
            assert!(response.is_ok_and(|response| response.status().as_u16() == 201), "raw create {index} failed");
        }
    })
    .await;
    println!("{:<48} {:>8.0}/s", format!("raw pod creates ({CLIENTS} clients)"), raw.per_second);

    let manager = Component::start(
        "controller-manager",
        &[
            format!("--kubeconfig={}", server.kubeconfig().display()),
            "--leader-elect=false".into(),
            "--controllers=deployment,replicaset".into(),
            format!("--metrics-bind-address=127.0.0.1:{}", free_port()?),
        ],
    )?;
    create_namespace(&http, &base, "bench").await?;
    let started = Instant::now();
    let (client, url) = (http.clone(), format!("{base}/apis/apps/v1/namespaces/bench/deployments"));
    let creates = measure(deployments, CLIENTS, move |index| {
        let (client, url) = (client.clone(), url.clone());
        async move {
            let response = client.post(&url).json(&deployment(index)).send().await;
            assert!(response.is_ok_and(|response| response.status().as_u16() == 201), "create deployment {index} failed");
        }
    })
    .await;
    println!("{:<48} {:>8.0}/s", format!("create {deployments} deployments ({CLIENTS} clients)"), creates.per_second);

    let sets_url = format!("{base}/apis/apps/v1/namespaces/bench/replicasets");
    let pods_url = format!("{base}/api/v1/namespaces/bench/pods");
    let mut sets_done = None;
    let (sets, pods_seen) = loop {
        let (sets, pods_seen) = (count(&http, &sets_url).await?, count(&http, &pods_url).await?);
        if sets >= deployments && sets_done.is_none() {
            sets_done = Some(started.elapsed());
        }
        if sets >= deployments && pods_seen >= pods {
            break (sets, pods_seen);
        }
        anyhow::ensure!(started.elapsed() < Duration::from_secs(600), "after 10 minutes: {sets} replica sets, {pods_seen} pods");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let elapsed = started.elapsed();
    // Let it settle, then check nothing extra was made.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (sets_after, pods_after) = (count(&http, &sets_url).await?, count(&http, &pods_url).await?);
    anyhow::ensure!((sets_after, pods_after) == (deployments, pods), "{sets_after} sets and {pods_after} pods, not {deployments} and {pods}");
    let written = sets + pods_seen;
    let rate = written as f64 / elapsed.as_secs_f64();
    println!("{:<48} {:>8.2} s", "every replica set exists after", sets_done.unwrap_or(elapsed).as_secs_f64());
    println!("{:<48} {:>8.2} s", format!("every pod exists after ({pods} pods)"), elapsed.as_secs_f64());
    println!("{:<48} {:>8.0}/s  (ratio {:.2} of the raw pod create rate)", "objects written (sets and pods)", rate, rate / raw.per_second);
    let peak = manager.pid().and_then(peak_rss_kib).map_or_else(|| "?".to_string(), |kib| format!("{:.1}", kib as f64 / 1024.0));
    let server_peak = server.pid().and_then(peak_rss_kib).map_or_else(|| "?".to_string(), |kib| format!("{:.1}", kib as f64 / 1024.0));
    println!("peak RSS: controller-manager {peak} MiB, apiserver {server_peak} MiB");
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let quick = std::env::args().any(|arg| arg == "--quick");
    let deployments = if quick { 100 } else { 1_000 };
    common::testing::build_release_binaries(&["apiserver", "controller-manager"])?;
    let server = ApiServer::start(Storage::Embedded)?;
    println!("controller-manager benchmark: {deployments} deployments of {REPLICAS} replicas, apiserver on the embedded store");
    println!();
    tokio::runtime::Runtime::new()?.block_on(bench(&server, deployments))
}
