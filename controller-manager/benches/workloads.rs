//! Workload controller benchmark against the real apiserver (embedded store), controller-manager
//! and scheduler binaries, on fake nodes (Node objects; a task in this process plays every
//! kubelet: the scheduler binds, and the task ends each bound pod with success).
//!
//! - Jobs: 1,000 single-pod Jobs created at once; the time until every one is `Complete`, beside
//!   1,000 bare pods created and run to `Succeeded` the same way in the same run (the cost of the
//!   pods alone).
//! - DaemonSet: one DaemonSet over 1,000 nodes; the time until every daemon pod is bound, beside
//!   1,000 bare pods, each pinned to its node the way a daemon pod is, created by 32 clients and
//!   bound by the same scheduler.
//!
//! Run: `cargo bench -p controller-manager --bench workloads` (`-- --quick` for 100 of each).

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::testing::{ApiServer, Component, Storage, free_port, measure, peak_rss_kib};
use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::watcher;
use serde_json::{Value, json};

const CLIENTS: usize = 32;
/// How many pod status writes the fake kubelets make at once.
const KUBELET_WRITES: usize = 32;
const TIMEOUT: Duration = Duration::from_secs(900);

fn node(index: usize) -> Value {
    let name = node_name(index);
    let resources = json!({"cpu": "32", "memory": "128Gi", "pods": "110"});
    json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
        "status": {"capacity": resources, "allocatable": resources, "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}]}})
}

fn node_name(index: usize) -> String {
    format!("node-{index:05}")
}

fn container() -> Value {
    json!([{"name": "work", "image": "busybox:local", "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}}}])
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

/// Every kubelet at once: each pod of `namespace` bound to a node runs and succeeds (one status
/// write, as a kubelet's last), until the task is dropped.
fn fake_kubelets(client: kube::Client, namespace: &str) -> tokio::task::JoinHandle<()> {
    let pods: Api<Pod> = Api::namespaced(client, namespace);
    tokio::spawn(async move {
        let done: Arc<Mutex<HashSet<String>>> = Arc::default();
        let events = watcher(pods.clone(), watcher::Config::default());
        let bound = events.filter_map(|event| async move {
            match event {
                Ok(watcher::Event::Apply(pod) | watcher::Event::InitApply(pod)) => Some(pod),
                _ => None,
            }
        });
        bound
            .filter(|pod| {
                let runs = pod.spec.as_ref().and_then(|spec| spec.node_name.as_ref()).is_some()
                    && pod.status.as_ref().and_then(|status| status.phase.as_deref()) != Some("Succeeded")
                    && pod.metadata.deletion_timestamp.is_none();
                let new = runs && done.lock().is_ok_and(|mut done| done.insert(pod.metadata.uid.clone().unwrap_or_default()));
                futures::future::ready(new)
            })
            .for_each_concurrent(KUBELET_WRITES, |pod| {
                let pods = pods.clone();
                async move {
                    let now = jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
                    let status = json!({"status": {"phase": "Succeeded", "startTime": now,
                        "containerStatuses": [{"name": "work", "image": "busybox:local", "imageID": "", "ready": false, "restartCount": 0,
                            "state": {"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": now, "finishedAt": now}}}]}});
                    let name = pod.metadata.name.clone().unwrap_or_default();
                    if let Err(err) = pods.patch_status(&name, &PatchParams::default(), &Patch::Merge(status)).await {
                        eprintln!("fake kubelet: {name}: {err}");
                    }
                }
            })
            .await;
    })
}

async fn wait_until(what: &str, started: Instant, mut check: impl AsyncFnMut() -> anyhow::Result<bool>) -> anyhow::Result<Duration> {
    loop {
        if check().await? {
            return Ok(started.elapsed());
        }
        anyhow::ensure!(started.elapsed() < TIMEOUT, "{what}: not after {TIMEOUT:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn complete(job: &Value) -> bool {
    job["status"]["conditions"].as_array().is_some_and(|conditions| conditions.iter().any(|condition| condition["type"] == "Complete" && condition["status"] == "True"))
}

async fn jobs(server: &ApiServer, client: &kube::Client, http: &reqwest::Client, count: usize) -> anyhow::Result<()> {
    let base = server.url();
    // The baseline: bare pods, bound by the scheduler and run to success.
    create_namespace(http, &base, "bare").await?;
    let kubelets = fake_kubelets(client.clone(), "bare");
    let started = Instant::now();
    let (client_http, url) = (http.clone(), format!("{base}/api/v1/namespaces/bare/pods"));
    measure(count, CLIENTS, move |index| {
        let (http, url) = (client_http.clone(), url.clone());
        async move {
            let body = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": format!("bare-{index:05}")},
                "spec": {"restartPolicy": "Never", "containers": container()}});
            let response = http.post(&url).json(&body).send().await;
            assert!(response.is_ok_and(|response| response.status().as_u16() == 201), "bare pod {index} not created");
        }
    })
    .await;
    let pods_url = format!("{base}/api/v1/namespaces/bare/pods");
    let bare = wait_until("bare pods succeeded", started, async || {
        Ok(list(http, &pods_url).await?.iter().filter(|pod| pod["status"]["phase"] == "Succeeded").count() >= count)
    })
    .await?;
    kubelets.abort();

    // The Jobs, on the same fake kubelets and scheduler.
    create_namespace(http, &base, "jobs").await?;
    let kubelets = fake_kubelets(client.clone(), "jobs");
    let started = Instant::now();
    let (client_http, url) = (http.clone(), format!("{base}/apis/batch/v1/namespaces/jobs/jobs"));
    let creates = measure(count, CLIENTS, move |index| {
        let (http, url) = (client_http.clone(), url.clone());
        async move {
            let body = json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": format!("job-{index:05}")},
                "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": container()}}}});
            let response = http.post(&url).json(&body).send().await;
            assert!(response.is_ok_and(|response| response.status().as_u16() == 201), "job {index} not created");
        }
    })
    .await;
    let jobs_url = format!("{base}/apis/batch/v1/namespaces/jobs/jobs");
    let all_complete = wait_until("jobs complete", started, async || Ok(list(http, &jobs_url).await?.iter().filter(|job| complete(job)).count() >= count)).await?;
    kubelets.abort();
    let succeeded: i64 = list(http, &jobs_url).await?.iter().map(|job| job["status"]["succeeded"].as_i64().unwrap_or(0)).sum();
    anyhow::ensure!(succeeded == i64::try_from(count)?, "{succeeded} pods counted, not {count}");
    println!("{:<56} {:>8.0}/s", format!("create {count} jobs ({CLIENTS} clients)"), creates.per_second);
    println!("{:<56} {:>8.2} s", format!("{count} bare pods created and succeeded (baseline)"), bare.as_secs_f64());
    println!("{:<56} {:>8.2} s  ({:.2} × the baseline)", format!("{count} single-pod jobs Complete"), all_complete.as_secs_f64(), all_complete.as_secs_f64() / bare.as_secs_f64());
    Ok(())
}

/// A pod pinned to a node as the DaemonSet controller pins its pods: required node affinity on
/// the node's name, and the tolerations daemon pods get.
fn pinned_pod(index: usize) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": format!("pinned-{index:05}")},
        "spec": {"containers": container(),
                 "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                     {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node_name(index)]}]}]}}},
                 "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"},
                                 {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"}]}})
}

async fn daemon_set(server: &ApiServer, http: &reqwest::Client, nodes: usize) -> anyhow::Result<()> {
    let base = server.url();
    let bound = |url: String| async move { Ok::<usize, anyhow::Error>(list(http, &url).await?.iter().filter(|pod| pod["spec"]["nodeName"].is_string()).count()) };

    create_namespace(http, &base, "pinned").await?;
    let started = Instant::now();
    let (client_http, url) = (http.clone(), format!("{base}/api/v1/namespaces/pinned/pods"));
    measure(nodes, CLIENTS, move |index| {
        let (http, url) = (client_http.clone(), url.clone());
        async move {
            let response = http.post(&url).json(&pinned_pod(index)).send().await;
            assert!(response.is_ok_and(|response| response.status().as_u16() == 201), "pinned pod {index} not created");
        }
    })
    .await;
    let pinned_url = format!("{base}/api/v1/namespaces/pinned/pods");
    let pinned = wait_until("pinned pods bound", started, async || Ok(bound(pinned_url.clone()).await? >= nodes)).await?;

    create_namespace(http, &base, "daemons").await?;
    let body = json!({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "agent"},
        "spec": {"selector": {"matchLabels": {"app": "agent"}},
                 "template": {"metadata": {"labels": {"app": "agent"}}, "spec": {"containers": container()}}}});
    let started = Instant::now();
    http.post(format!("{base}/apis/apps/v1/namespaces/daemons/daemonsets")).json(&body).send().await?.error_for_status()?;
    let daemons_url = format!("{base}/api/v1/namespaces/daemons/pods");
    let daemons = wait_until("daemon pods bound", started, async || Ok(bound(daemons_url.clone()).await? >= nodes)).await?;
    let pods = list(http, &daemons_url).await?;
    let on: HashSet<&str> = pods.iter().filter_map(|pod| pod["spec"]["nodeName"].as_str()).collect();
    anyhow::ensure!(pods.len() == nodes && on.len() == nodes, "{} daemon pods on {} nodes, not one on each of {nodes}", pods.len(), on.len());
    println!("{:<56} {:>8.2} s", format!("{nodes} pinned pods created and bound (baseline)"), pinned.as_secs_f64());
    println!("{:<56} {:>8.2} s  ({:.2} × the baseline)", format!("a DaemonSet over {nodes} nodes, every pod bound"), daemons.as_secs_f64(), daemons.as_secs_f64() / pinned.as_secs_f64());
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let quick = std::env::args().any(|arg| arg == "--quick");
    let count = if quick { 100 } else { 1_000 };
    common::testing::build_release_binaries(&["apiserver", "controller-manager", "scheduler"])?;
    let server = ApiServer::start(Storage::Embedded)?;
    let kubeconfig = server.kubeconfig();
    println!("workload controllers benchmark: {count} jobs, a DaemonSet over {count} nodes; apiserver on the embedded store");
    println!();
    tokio::runtime::Runtime::new()?.block_on(async {
        let http = reqwest::Client::builder().pool_max_idle_per_host(CLIENTS * 2).build()?;
        let base = server.url();
        let (client_http, url) = (http.clone(), format!("{base}/api/v1/nodes"));
        measure(count, CLIENTS, move |index| {
            let (http, url) = (client_http.clone(), url.clone());
            async move {
                let response = http.post(&url).json(&node(index)).send().await;
                assert!(response.is_ok_and(|response| response.status().as_u16() == 201), "node {index} not created");
            }
        })
        .await;
        let scheduler = Component::start("scheduler", &[format!("--kubeconfig={}", kubeconfig.display()), "--leader-elect=false".into()])?;
        let manager = Component::start(
            "controller-manager",
            &[
                format!("--kubeconfig={}", kubeconfig.display()),
                "--leader-elect=false".into(),
                "--controllers=job,daemonset".into(),
                format!("--metrics-bind-address=127.0.0.1:{}", free_port()?),
            ],
        )?;
        let client = common::client::from_kubeconfig(Some(&kubeconfig), "workloads-bench").await?;
        jobs(&server, &client, &http, count).await?;
        daemon_set(&server, &http, count).await?;
        let rss = |pid: Option<u32>| pid.and_then(peak_rss_kib).map_or_else(|| "?".to_string(), |kib| format!("{:.1}", kib as f64 / 1024.0));
        println!("peak RSS: controller-manager {} MiB, scheduler {} MiB, apiserver {} MiB", rss(manager.pid()), rss(scheduler.pid()), rss(server.pid()));
        Ok(())
    })
}
