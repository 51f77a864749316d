//! `ctl apply -f` of 100 manifests and `ctl describe pod` against kubectl (1.32) doing the same on
//! the real apiserver, in the same run: wall time and peak RSS of each over alternating runs.
//! Every apply creates its 100 objects in a fresh namespace, so both tools do the same work.
//!
//! Run: `cargo bench -p ctl --bench apply_describe` (`-- --quick` for 3 runs instead of 10).

mod support;

use std::path::Path;
use std::process::Command;

use common::testing::{Measured, run_measured};
use serde_json::json;

const MANIFESTS: usize = 100;

/// A third each of ConfigMaps, Deployments and Services, one manifest per file, as a chart or a
/// kustomize build leaves them.
fn manifest(index: usize) -> serde_json::Value {
    let name = format!("app-{index:03}");
    let labels = json!({"app": name, "tier": "backend"});
    match index % 3 {
        0 => json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "labels": labels},
                    "data": {"settings.yaml": format!("replicas: {index}\nlevel: info\n"), "mode": "production"}}),
        1 => json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "labels": labels},
                    "spec": {"replicas": 2, "selector": {"matchLabels": labels},
                             "template": {"metadata": {"labels": labels}, "spec": {"containers": [{
                                 "name": "app", "image": "busybox:local", "command": ["httpd", "-f"],
                                 "ports": [{"containerPort": 8080}], "env": [{"name": "INDEX", "value": index.to_string()}],
                                 "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}}]}}}}),
        _ => json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "labels": labels},
                    "spec": {"selector": labels, "ports": [{"port": 80, "targetPort": 8080}]}}),
    }
}

fn run(binary: &str, kubeconfig: &Path, args: &[&str], lines: usize) -> anyhow::Result<Measured> {
    let measured = run_measured(Command::new(binary).arg(format!("--kubeconfig={}", kubeconfig.display())).args(args))?;
    anyhow::ensure!(measured.success, "{binary} {args:?} failed");
    let printed = measured.stdout.iter().filter(|&&byte| byte == b'\n').count();
    anyhow::ensure!(printed >= lines, "{binary} {args:?} printed {printed} lines, fewer than {lines}");
    Ok(measured)
}

fn create_namespace(kubectl: &str, kubeconfig: &Path, name: &str) -> anyhow::Result<()> {
    run(kubectl, kubeconfig, &["create", "namespace", name], 1).map(drop)
}

/// A running pod with two containers and a few events: what `describe pod` is typed for.
fn describe_target(kubectl: &str, kubeconfig: &Path) -> anyhow::Result<()> {
    create_namespace(kubectl, kubeconfig, "described")?;
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "described", "labels": {"app": "web"}},
        "spec": {"nodeName": "node-1", "containers": [
            {"name": "app", "image": "busybox:local", "command": ["httpd", "-f"], "ports": [{"containerPort": 80}],
             "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"memory": "128Mi"}},
             "readinessProbe": {"httpGet": {"path": "/", "port": 80}}},
            {"name": "sidecar", "image": "busybox:local", "command": ["sleep", "infinity"]}]}});
    let mut events = Vec::new();
    for (index, reason) in ["Scheduled", "Pulled", "Created", "Started"].iter().enumerate() {
        events.push(json!({"apiVersion": "v1", "kind": "Event", "metadata": {"name": format!("web.{index}"), "namespace": "described"},
            "involvedObject": {"kind": "Pod", "name": "web", "namespace": "described", "apiVersion": "v1"},
            "reason": reason, "message": format!("{reason} the container"), "type": "Normal", "count": 1,
            "firstTimestamp": "2026-12-07T10:00:00Z", "lastTimestamp": "2026-12-07T10:00:00Z", "source": {"component": "kubelet"}}));
    }
    let items: Vec<serde_json::Value> = std::iter::once(pod).chain(events).collect();
    let list = json!({"apiVersion": "v1", "kind": "List", "items": items});
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("pod.json");
    std::fs::write(&file, list.to_string())?;
    run(kubectl, kubeconfig, &["apply", "-f", &file.display().to_string()], 1).map(drop)
}

fn main() -> anyhow::Result<()> {
    let (runs, kubectl, server) = support::setup()?;
    let kubeconfig = server.kubeconfig();
    let ctl = env!("CARGO_BIN_EXE_ctl");

    let dir = tempfile::tempdir()?;
    for index in 0..MANIFESTS {
        std::fs::write(dir.path().join(format!("{index:03}.json")), manifest(index).to_string())?;
    }
    let manifests = dir.path().display().to_string();
    println!("apply -f of {MANIFESTS} manifests (ConfigMaps, Deployments, Services) into a new namespace, {runs} alternating runs each ({kubectl})");
    let (mut ctl_runs, mut kubectl_runs) = (Vec::new(), Vec::new());
    for run_index in 0..runs {
        for (tool, binary, runs) in [("ctl", ctl, &mut ctl_runs), ("kubectl", kubectl, &mut kubectl_runs)] {
            let namespace = format!("{tool}-{run_index}");
            create_namespace(kubectl, &kubeconfig, &namespace)?;
            runs.push(run(binary, &kubeconfig, &["apply", "-n", &namespace, "-f", &manifests], MANIFESTS)?);
        }
    }
    support::compare(&ctl_runs, &kubectl_runs);

    describe_target(kubectl, &kubeconfig)?;
    let describe = ["describe", "pod", "web", "-n", "described"];
    println!("\ndescribe pod (2 containers, 4 events), {runs} alternating runs each");
    let (mut ctl_runs, mut kubectl_runs) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        ctl_runs.push(run(ctl, &kubeconfig, &describe, 10)?);
        kubectl_runs.push(run(kubectl, &kubeconfig, &describe, 10)?);
    }
    support::compare(&ctl_runs, &kubectl_runs);
    Ok(())
}
