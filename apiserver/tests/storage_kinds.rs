//! The storage kinds (`kinds/core/persistent_volume{,_claim}.rs`, `kinds/storage/*.rs`),
//! through the real binary: the real `kubectl` finds them by their short names, creates and
//! prints them as against kube-apiserver 1.33, and bad input gets kube-apiserver's 422.

use std::process::{Command, Output};

use common::testing::{ApiServer, Storage};
use http::Client;
use serde_json::{Value, json};

#[path = "support/http.rs"]
mod http;

common::on_both_stores!(kubectl_lists_creates_and_prints_the_storage_kinds);

fn kubectl(server: &ApiServer, args: &[&str]) -> Output {
    Command::new("kubectl").arg(format!("--kubeconfig={}", server.kubeconfig().display())).args(args).output().unwrap_or_else(|err| panic!("running kubectl: {err}"))
}

/// Runs kubectl and returns its stdout, failing the test with its stderr if it fails.
fn kubectl_ok(server: &ApiServer, args: &[&str]) -> String {
    let output = kubectl(server, args);
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "kubectl {args:?} failed:\n{stdout}\n{}\n--- apiserver log:\n{}", String::from_utf8_lossy(&output.stderr), log_tail(server));
    stdout
}

fn log_tail(server: &ApiServer) -> String {
    let text = std::fs::read_to_string(server.log_path()).unwrap_or_default();
    let lines: Vec<&str> = text.lines().rev().take(30).collect();
    lines.into_iter().rev().collect::<Vec<_>>().join("\n")
}

fn volume(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": name},
        "spec": {"capacity": {"storage": "2Gi"}, "accessModes": ["ReadWriteOnce"], "storageClassName": "manual", "hostPath": {"path": format!("/data/{name}")}}})
}

fn claim(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name},
        "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "manual", "resources": {"requests": {"storage": "1Gi"}}}})
}

fn class(name: &str) -> Value {
    json!({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": name,
        "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}}, "provisioner": "cluster.local/local-path", "volumeBindingMode": "WaitForFirstConsumer"})
}

fn columns(line: &str) -> Vec<&str> {
    line.split_whitespace().collect()
}

async fn kubectl_lists_creates_and_prints_the_storage_kinds(storage: Storage) {
    let server = ApiServer::start(storage).unwrap_or_else(|err| panic!("starting the apiserver: {err}"));
    let core = kubectl_ok(&server, &["api-resources", "--api-group=", "--no-headers"]);
    let rows: Vec<Vec<&str>> = core.lines().map(columns).collect();
    for expected in [vec!["persistentvolumeclaims", "pvc", "v1", "true", "PersistentVolumeClaim"], vec!["persistentvolumes", "pv", "v1", "false", "PersistentVolume"]] {
        assert!(rows.contains(&expected), "{expected:?} in\n{core}");
    }
    let storage_group = kubectl_ok(&server, &["api-resources", "--api-group=storage.k8s.io", "--no-headers"]);
    let rows: Vec<Vec<&str>> = storage_group.lines().map(columns).collect();
    assert_eq!(rows, [
        vec!["csidrivers", "storage.k8s.io/v1", "false", "CSIDriver"],
        vec!["csinodes", "storage.k8s.io/v1", "false", "CSINode"],
        vec!["storageclasses", "sc", "storage.k8s.io/v1", "false", "StorageClass"],
        vec!["volumeattachments", "storage.k8s.io/v1", "false", "VolumeAttachment"],
    ], "{storage_group}");

    let dir = tempfile::tempdir().unwrap_or_else(|err| panic!("{err}"));
    let manifest = dir.path().join("storage.json");
    let list = json!({"apiVersion": "v1", "kind": "List", "items": [class("standard"), volume("pv1"), claim("data")]});
    std::fs::write(&manifest, list.to_string()).unwrap_or_else(|err| panic!("{err}"));
    let applied = kubectl_ok(&server, &["apply", "-f", &manifest.display().to_string()]);
    assert_eq!(applied.lines().collect::<Vec<_>>(), ["storageclass.storage.k8s.io/standard created", "persistentvolume/pv1 created", "persistentvolumeclaim/data created"], "{applied}");
    // Applying again is a no-op: the defaults the server filled in are not a difference.
    let again = kubectl_ok(&server, &["apply", "-f", &manifest.display().to_string()]);
    assert!(again.lines().all(|line| line.ends_with(" unchanged")), "{again}");

    let tables = kubectl_ok(&server, &["get", "pv,pvc,sc"]);
    let headers: Vec<Vec<&str>> = tables.lines().filter(|line| line.starts_with("NAME")).map(columns).collect();
    assert_eq!(headers, [
        vec!["NAME", "CAPACITY", "ACCESS", "MODES", "RECLAIM", "POLICY", "STATUS", "CLAIM", "STORAGECLASS", "VOLUMEATTRIBUTESCLASS", "REASON", "AGE"],
        vec!["NAME", "STATUS", "VOLUME", "CAPACITY", "ACCESS", "MODES", "STORAGECLASS", "VOLUMEATTRIBUTESCLASS", "AGE"],
        vec!["NAME", "PROVISIONER", "RECLAIMPOLICY", "VOLUMEBINDINGMODE", "ALLOWVOLUMEEXPANSION", "AGE"],
    ], "{tables}");
    let row = |prefix: &str| tables.lines().find(|line| line.starts_with(prefix)).map(columns).unwrap_or_default();
    assert_eq!(row("persistentvolume/pv1")[..7], ["persistentvolume/pv1", "2Gi", "RWO", "Retain", "Pending", "manual", "<unset>"], "{tables}");
    assert_eq!(row("persistentvolumeclaim/data")[..4], ["persistentvolumeclaim/data", "Pending", "manual", "<unset>"], "{tables}");
    assert_eq!(row("storageclass.storage.k8s.io/standard")[..6], ["storageclass.storage.k8s.io/standard", "(default)", "cluster.local/local-path", "Delete", "WaitForFirstConsumer", "false"], "{tables}");
    let wide = kubectl_ok(&server, &["get", "pvc", "-o", "wide"]);
    assert_eq!(wide.lines().next().map(columns), Some(vec!["NAME", "STATUS", "VOLUME", "CAPACITY", "ACCESS", "MODES", "STORAGECLASS", "VOLUMEATTRIBUTESCLASS", "AGE", "VOLUMEMODE"]), "{wide}");
    assert_eq!(wide.lines().nth(1).map(columns).and_then(|row| row.last().map(|mode| mode.to_string())).as_deref(), Some("Filesystem"), "{wide}");

    // The status subresources: the binder's writes, and nothing else, change the phase.
    let client = Client::new(&server);
    let (_, pv) = client.get("/api/v1/persistentvolumes/pv1").await;
    assert_eq!((pv["spec"]["persistentVolumeReclaimPolicy"].as_str(), pv["spec"]["volumeMode"].as_str(), pv["status"]["phase"].as_str()), (Some("Retain"), Some("Filesystem"), Some("Pending")), "{pv}");
    let mut available = pv.clone();
    available["status"]["phase"] = json!("Available");
    let (code, written) = client.json("PUT", "/api/v1/persistentvolumes/pv1/status", &available).await;
    assert_eq!((code, written["status"]["phase"].as_str()), (200, Some("Available")), "{written}");
    let (_, claimed) = client.get("/api/v1/namespaces/default/persistentvolumeclaims/data").await;
    let mut bound = claimed.clone();
    bound["status"] = json!({"phase": "Bound", "accessModes": ["ReadWriteOnce"], "capacity": {"storage": "2Gi"}});
    let (code, written) = client.json("PUT", "/api/v1/namespaces/default/persistentvolumeclaims/data/status", &bound).await;
    assert_eq!((code, written["status"]["phase"].as_str()), (200, Some("Bound")), "{written}");
    let (code, written) = client.json("PUT", "/api/v1/namespaces/default/persistentvolumeclaims/data", &with(written.clone(), "/status/phase", json!("Lost"))).await;
    assert_eq!((code, written["status"]["phase"].as_str()), (200, Some("Bound")), "a plain update keeps the status: {written}");
}

/// `object` with the value at a JSON pointer replaced (or added, its parent existing).
fn with(mut object: Value, pointer: &str, value: Value) -> Value {
    let (parent, key) = pointer.rsplit_once('/').unwrap_or_else(|| panic!("{pointer} is no pointer"));
    match object.pointer_mut(parent) {
        Some(Value::Object(fields)) => {
            fields.insert(key.to_string(), value);
        }
        _ => panic!("nothing at {parent}"),
    }
    object
}
