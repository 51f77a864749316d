//! `ctl get pods -A` against `kubectl get pods -A` (1.32) over the same 5,000 pods on the real
//! apiserver, in the same run: wall time and peak RSS of each, over several alternating runs.
//!
//! Run: `cargo bench -p ctl --bench get_pods` (`-- --quick` for 3 runs instead of 10).

use std::path::Path;
use std::process::Command;

mod support;

use common::testing::{ApiServer, Measured, measure, run_measured};
use serde_json::json;

const PODS: usize = 5_000;
const NAMESPACES: usize = 10;

fn pod(index: usize) -> (String, serde_json::Value, serde_json::Value) {
    let namespace = format!("team-{}", index % NAMESPACES);
    let name = format!("web-{index:05}");
    let spec = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app": "web", "tier": "frontend"}},
        "spec": {
            "nodeName": format!("node-{}", index % 3),
            "containers": [
                {"name": "app", "image": "busybox:local", "command": ["httpd", "-f"], "ports": [{"containerPort": 80}],
                 "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}},
                {"name": "sidecar", "image": "busybox:local", "command": ["sleep", "infinity"]}
            ]
        }
    });
    let ready = index % 7 != 0;
    let containers: Vec<_> = ["app", "sidecar"]
        .iter()
        .map(|container| {
            json!({
                "name": container, "image": "busybox:local", "imageID": "", "ready": ready,
                "restartCount": index % 3, "state": {"running": {"startedAt": "2026-11-24T10:00:01Z"}}
            })
        })
        .collect();
    let status = json!({"status": {
        "phase": "Running",
        "podIP": format!("10.244.{}.{}", index % 3, index % 250 + 2),
        "hostIP": format!("172.18.0.{}", index % 3 + 2),
        "startTime": "2026-11-24T10:00:00Z",
        "conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}],
        "containerStatuses": containers
    }});
    (format!("api/v1/namespaces/{namespace}/pods/{name}"), spec, status)
}

async fn fill(server: &ApiServer) -> anyhow::Result<()> {
    let http = reqwest::Client::new();
    let base = server.url();
    for namespace in 0..NAMESPACES {
        let body = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": format!("team-{namespace}")}});
        http.post(format!("{base}/api/v1/namespaces")).json(&body).send().await?.error_for_status()?;
    }
    measure(PODS, 32, move |index| {
        let (http, base) = (http.clone(), base.clone());
        async move {
            let (path, spec, status) = pod(index);
            let collection = path.rsplit_once('/').map(|(collection, _)| collection).unwrap_or_default();
            let created = http.post(format!("{base}/{collection}")).json(&spec).send().await;
            assert!(created.is_ok_and(|r| r.status().as_u16() == 201), "create pod {index} failed");
            let patched = http
                .patch(format!("{base}/{path}/status"))
                .header("content-type", "application/merge-patch+json")
                .body(status.to_string())
                .send()
                .await;
            assert!(patched.is_ok_and(|r| r.status().is_success()), "status of pod {index} failed");
        }
    })
    .await;
    Ok(())
}

fn get_pods(binary: &str, kubeconfig: &Path) -> anyhow::Result<Measured> {
    let measured = run_measured(Command::new(binary).arg(format!("--kubeconfig={}", kubeconfig.display())).args(["get", "pods", "-A"]))?;
    anyhow::ensure!(measured.success, "{binary} get pods -A failed");
    let rows = measured.stdout.iter().filter(|&&byte| byte == b'\n').count();
    anyhow::ensure!(rows == PODS + 1, "{binary} printed {rows} lines, not a header and {PODS} rows");
    Ok(measured)
}

fn main() -> anyhow::Result<()> {
    let (runs, kubectl, server) = support::setup()?;
    tokio::runtime::Runtime::new()?.block_on(fill(&server))?;

    let ctl = env!("CARGO_BIN_EXE_ctl");
    // Both tables must say the same thing before their costs mean anything.
    let ours = String::from_utf8(get_pods(ctl, &server.kubeconfig())?.stdout)?;
    let theirs = String::from_utf8(get_pods(kubectl, &server.kubeconfig())?.stdout)?;
    let first_columns = |table: &str| table.lines().map(|line| line.split_whitespace().take(5).collect::<Vec<_>>().join(" ")).collect::<Vec<_>>();
    anyhow::ensure!(first_columns(&ours) == first_columns(&theirs), "ctl and kubectl print different tables");

    println!("get pods -A over {PODS} pods in {NAMESPACES} namespaces, {runs} alternating runs each ({kubectl})");
    let (mut ctl_runs, mut kubectl_runs) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        ctl_runs.push(get_pods(ctl, &server.kubeconfig())?);
        kubectl_runs.push(get_pods(kubectl, &server.kubeconfig())?);
    }
    support::compare(&ctl_runs, &kubectl_runs);
    Ok(())
}
