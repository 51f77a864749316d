//! Persistent-volume benchmark (issue #24) against the real apiserver (embedded store) and the
//! real controller-manager binary, whose binding controller and local-path provisioner do the
//! work; a few fake Nodes (Node objects, no kubelet) are what the claims' volumes are made for.
//!
//! - Provisioning: 500 claims of the default class (`standard`, `WaitForFirstConsumer`) created
//!   at once, each already annotated `volume.kubernetes.io/selected-node` with one of the nodes
//!   as the scheduler's volume binding would; the time until every claim is `Bound` (the binder
//!   hands each to the provisioner, which makes a PV on that node, which the binder binds).
//! - Baselines in the same run: the raw rate at which 32 clients create 500 claims (of a class
//!   nothing serves, so nothing else happens to them), and 500 claims statically bound to 500
//!   pre-made PVs, each claim naming its volume (the binding alone, no provisioning).
//! - The controller-manager's peak RSS (VmHWM) after each phase: the provisioner runs inside it.
//!
//! Run: `cargo bench -p controller-manager --bench storage` (`-- --quick` for 100 claims).

use std::collections::HashSet;
use std::time::{Duration, Instant};

use common::storage::{DEFAULT_STORAGE_CLASS, HOSTNAME_LABEL, SELECTED_NODE};
use common::testing::{ApiServer, Component, Storage, free_port, measure, peak_rss_kib};
use serde_json::{Value, json};

const CLIENTS: usize = 32;
/// How many fake nodes the provisioned volumes are spread over.
const NODES: usize = 4;
const TIMEOUT: Duration = Duration::from_secs(600);

fn node(index: usize) -> Value {
    let name = node_name(index);
    let resources = json!({"cpu": "32", "memory": "128Gi", "pods": "110"});
    json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": {HOSTNAME_LABEL: name}},
        "status": {"capacity": resources, "allocatable": resources, "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}]}})
}

fn node_name(index: usize) -> String {
    format!("node-{index}")
}

/// A claim of 1Gi, ReadWriteOnce; `class` None leaves the class to the default.
fn claim(name: &str, class: Option<&str>, annotations: Value, volume: Option<&str>) -> Value {
    let mut spec = json!({"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}});
    if let Some(class) = class {
        spec["storageClassName"] = json!(class);
    }
    if let Some(volume) = volume {
        spec["volumeName"] = json!(volume);
    }
    json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name, "annotations": annotations}, "spec": spec})
}

/// A pre-made 1Gi hostPath volume of no class, Retain, that only `claim` in `namespace` may take.
fn volume(name: &str, namespace: &str, claim: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": name},
        "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"], "persistentVolumeReclaimPolicy": "Retain",
                 "storageClassName": "", "hostPath": {"path": format!("/tmp/bench/{name}")},
                 "claimRef": {"namespace": namespace, "name": claim}}})
}

async fn create_namespace(http: &reqwest::Client, base: &str, name: &str) -> anyhow::Result<()> {
    let body = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}});
    http.post(format!("{base}/api/v1/namespaces")).json(&body).send().await?.error_for_status()?;
    Ok(())
}

async fn list(http: &reqwest::Client, url: &str) -> anyhow::Result<Vec<Value>> {
    let list: Value = http.get(url).send().await?.error_for_status()?.json().await?;
    Ok(list["items"].as_array().cloned().unwrap_or_default())
}

async fn bound(http: &reqwest::Client, url: &str) -> anyhow::Result<usize> {
    Ok(list(http, url).await?.iter().filter(|claim| claim["status"]["phase"] == "Bound").count())
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

/// Creates `count` objects at `url` with 32 clients, `body(index)` each; the create rate.
async fn create_all(http: &reqwest::Client, url: String, count: usize, body: impl Fn(usize) -> Value + Send + Sync + 'static) -> common::testing::Stats {
    let http = http.clone();
    let body = std::sync::Arc::new(body);
    measure(count, CLIENTS, move |index| {
        let (http, url, body) = (http.clone(), url.clone(), body.clone());
        async move {
            let response = http.post(&url).json(&body(index)).send().await;
            match response {
                Ok(response) if response.status().as_u16() == 201 => {}
                Ok(response) => panic!("{url} #{index}: {} {}", response.status(), response.text().await.unwrap_or_default()),
                Err(err) => panic!("{url} #{index}: {err}"),
            }
        }
    })
    .await
}

fn mib(pid: Option<u32>) -> String {
    pid.and_then(peak_rss_kib).map_or_else(|| "?".to_string(), |kib| format!("{:.1} MiB", kib as f64 / 1024.0))
}

struct Row {
    what: String,
    figure: String,
    note: String,
}

fn main() -> anyhow::Result<()> {
    let quick = std::env::args().any(|arg| arg == "--quick");
    let count = if quick { 100 } else { 500 };
    common::testing::build_release_binaries(&["apiserver", "controller-manager"])?;
    let server = ApiServer::start(Storage::Embedded)?;
    let kubeconfig = server.kubeconfig();
    println!("storage benchmark: {count} claims; apiserver on the embedded store, the controller-manager binary, {NODES} fake nodes");
    println!();
    tokio::runtime::Runtime::new()?.block_on(async {
        let http = reqwest::Client::builder().pool_max_idle_per_host(CLIENTS * 2).build()?;
        let base = server.url();
        for index in 0..NODES {
            http.post(format!("{base}/api/v1/nodes")).json(&node(index)).send().await?.error_for_status()?;
        }
        // Node lifecycle left out: with no kubelet behind them the fake nodes would be marked
        // unknown and tainted half-way, which is not what is measured here.
        let manager = Component::start(
            "controller-manager",
            &[
                format!("--kubeconfig={}", kubeconfig.display()),
                "--leader-elect=false".into(),
                "--controllers=*,-nodelifecycle".into(),
                format!("--metrics-bind-address=127.0.0.1:{}", free_port()?),
            ],
        )?;
        // The controller-manager makes the default class at start; the clocks start once it is there.
        let class_url = format!("{base}/apis/storage.k8s.io/v1/storageclasses/{DEFAULT_STORAGE_CLASS}");
        wait_until("the default StorageClass", Instant::now(), async || Ok(http.get(&class_url).send().await?.status().is_success())).await?;
        let mut rows = Vec::new();
        let idle = mib(manager.pid());

        // Baseline 1: the raw create rate, claims of a class nobody serves (the binder only
        // records a ProvisioningFailed event for each).
        create_namespace(&http, &base, "raw").await?;
        let raw = create_all(&http, format!("{base}/api/v1/namespaces/raw/persistentvolumeclaims"), count, |index| {
            claim(&format!("raw-{index:04}"), Some("unserved"), json!({}), None)
        })
        .await;
        rows.push(Row {
            what: format!("create {count} claims ({CLIENTS} clients, no binding)"),
            figure: format!("{:.0}/s", raw.per_second),
            note: format!("p50 {:.1} ms, p99 {:.1} ms", raw.p50.as_secs_f64() * 1e3, raw.p99.as_secs_f64() * 1e3),
        });

        // Gone before the timed phases, so that the binder does not keep coming back to them.
        let raw_url = format!("{base}/api/v1/namespaces/raw/persistentvolumeclaims");
        http.delete(&raw_url).send().await?.error_for_status()?;
        wait_until("the raw claims gone", Instant::now(), async || Ok(list(&http, &raw_url).await?.is_empty())).await?;

        // Baseline 2: static binding. The volumes first (not timed), then the claims, each
        // naming its volume; timed from the first claim create until every one is Bound.
        create_namespace(&http, &base, "static").await?;
        create_all(&http, format!("{base}/api/v1/persistentvolumes"), count, |index| volume(&format!("static-{index:04}"), "static", &format!("claim-{index:04}"))).await;
        let started = Instant::now();
        let claims_url = format!("{base}/api/v1/namespaces/static/persistentvolumeclaims");
        create_all(&http, claims_url.clone(), count, |index| claim(&format!("claim-{index:04}"), Some(""), json!({}), Some(&format!("static-{index:04}")))).await;
        let statically = wait_until("static claims Bound", started, async || Ok(bound(&http, &claims_url).await? >= count)).await?;
        rows.push(Row {
            what: format!("{count} claims bound to {count} pre-made PVs (baseline)"),
            figure: format!("{:.2} s", statically.as_secs_f64()),
            note: format!("{:.0} claims/s", count as f64 / statically.as_secs_f64()),
        });
        let after_static = mib(manager.pid());

        // Provisioning: default class, the node already chosen.
        create_namespace(&http, &base, "provisioned").await?;
        let started = Instant::now();
        let claims_url = format!("{base}/api/v1/namespaces/provisioned/persistentvolumeclaims");
        let creates = create_all(&http, claims_url.clone(), count, |index| claim(&format!("data-{index:04}"), None, json!({SELECTED_NODE: node_name(index % NODES)}), None)).await;
        let provisioned = wait_until("provisioned claims Bound", started, async || Ok(bound(&http, &claims_url).await? >= count)).await?;
        rows.push(Row {
            what: format!("create {count} claims of the default class"),
            figure: format!("{:.0}/s", creates.per_second),
            note: String::new(),
        });
        rows.push(Row {
            what: format!("{count} claims provisioned (local-path) and Bound"),
            figure: format!("{:.2} s", provisioned.as_secs_f64()),
            note: format!("{:.0} claims/s, {:.2} × the static binding", count as f64 / provisioned.as_secs_f64(), provisioned.as_secs_f64() / statically.as_secs_f64()),
        });

        // What was made is what the design says: one PV per claim, on the claim's node.
        let volumes = list(&http, &format!("{base}/api/v1/persistentvolumes")).await?;
        let claims = list(&http, &claims_url).await?;
        let mut made = 0;
        let mut on_nodes = HashSet::new();
        for claim in &claims {
            let volume_name = claim["spec"]["volumeName"].as_str().unwrap_or_default();
            let Some(volume) = volumes.iter().find(|volume| volume["metadata"]["name"] == volume_name) else { continue };
            let node = &volume["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"][0]["matchExpressions"][0]["values"][0];
            anyhow::ensure!(*node == claim["metadata"]["annotations"][SELECTED_NODE], "{volume_name} is not on its claim's selected node: {volume}");
            anyhow::ensure!(volume_name == format!("pvc-{}", claim["metadata"]["uid"].as_str().unwrap_or_default()), "volume {volume_name} not named after its claim");
            on_nodes.insert(node.as_str().unwrap_or_default().to_string());
            made += 1;
        }
        anyhow::ensure!(made == count && on_nodes.len() == NODES, "{made} provisioned volumes found on {} nodes, not {count} on {NODES}", on_nodes.len());

        println!("{:<58} {:>10}  note", "phase", "figure");
        println!("{}", "-".repeat(100));
        for row in rows {
            println!("{:<58} {:>10}  {}", row.what, row.figure, row.note);
        }
        println!();
        println!(
            "controller-manager peak RSS (VmHWM): {idle} at start, {after_static} after the static binding, {} after provisioning; apiserver {}",
            mib(manager.pid()),
            mib(server.pid())
        );
        Ok(())
    })
}
