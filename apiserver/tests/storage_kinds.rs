//! The storage kinds (`kinds/core/persistent_volume{,_claim}.rs`, `kinds/storage/*.rs`),
//! through the real binary: the real `kubectl` finds them by their short names, creates and
//! prints them as against kube-apiserver 1.33, and bad input gets kube-apiserver's 422.

use std::process::{Command, Output};

use common::testing::{ApiServer, Storage};
use http::Client;
use serde_json::{Value, json};

#[path = "support/http.rs"]
mod http;

common::on_both_stores!(kubectl_lists_creates_and_prints_the_storage_kinds, bad_storage_objects_get_kube_apiservers_422, claims_get_the_default_class_and_both_kinds_their_protection);

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

    // kubectl finds the kinds' schemas, and describes them.
    let explained = kubectl_ok(&server, &["explain", "storageclass.volumeBindingMode"]);
    assert!(explained.contains("GROUP:      storage.k8s.io") && explained.contains("volumeBindingMode"), "{explained}");
    let described = kubectl_ok(&server, &["describe", "pvc", "data"]);
    assert!(described.lines().any(|line| columns(line) == ["StorageClass:", "manual"]), "{described}");
    let described = kubectl_ok(&server, &["describe", "pv", "pv1"]);
    assert!(described.lines().any(|line| columns(line) == ["Finalizers:", "[kubernetes.io/pv-protection]"]), "{described}");

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

const CLAIMS: &str = "/api/v1/namespaces/default/persistentvolumeclaims";
const VOLUMES: &str = "/api/v1/persistentvolumes";
const CLASSES: &str = "/apis/storage.k8s.io/v1/storageclasses";

fn affinity(terms: Value) -> Value {
    json!({"required": {"nodeSelectorTerms": terms}})
}

fn without(mut object: Value, pointer: &str) -> Value {
    let (parent, key) = pointer.rsplit_once('/').unwrap_or_else(|| panic!("{pointer} is no pointer"));
    if let Some(Value::Object(fields)) = object.pointer_mut(parent) {
        fields.remove(key);
    }
    object
}

async fn bad_storage_objects_get_kube_apiservers_422(storage: Storage) {
    let server = ApiServer::start(storage).unwrap_or_else(|err| panic!("starting the apiserver: {err}"));
    let client = Client::new(&server);
    let standard = with(class("standard"), "/metadata/annotations", json!({}));
    for (collection, object) in [(VOLUMES.to_string(), volume("pv1")), (CLAIMS.to_string(), claim("data")), (CLASSES.to_string(), standard)] {
        let (code, created) = client.json("POST", &collection, &object).await;
        assert_eq!(code, 201, "{created}");
    }
    let pv = client.get(&format!("{VOLUMES}/pv1")).await.1;
    let pvc = client.get(&format!("{CLAIMS}/data")).await.1;
    let sc = client.get(&format!("{CLASSES}/standard")).await.1;
    let local = with(without(volume("local"), "/spec/hostPath"), "/spec/local", json!({"path": "/mnt/../etc"}));
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"}, "spec": {"volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}],
        "containers": [{"name": "c", "image": "busybox:1", "volumeMounts": [{"name": "data", "mountPath": "/data", "subPath": "a/../../b"}]}]}});
    // (what, method, path, body, the message's start, the cause's field and message)
    let rows: Vec<(&str, &str, String, Value, &str, &str, String)> = vec![
        ("a claim without access modes", "POST", CLAIMS.into(), without(claim("bad"), "/spec/accessModes"),
         "PersistentVolumeClaim \"bad\" is invalid: ", "spec.accessModes", "Required value: at least 1 access mode is required".into()),
        ("a claim without a storage request", "POST", CLAIMS.into(), without(claim("bad"), "/spec/resources/requests"),
         "PersistentVolumeClaim \"bad\" is invalid: ", "spec.resources[storage]", "Required value".into()),
        ("a negative request", "POST", CLAIMS.into(), with(claim("bad"), "/spec/resources/requests/storage", json!("-1Gi")),
         "PersistentVolumeClaim \"bad\" is invalid: ", "spec.resources[storage]", "Invalid value: \"-1Gi\": must be greater than zero".into()),
        ("an unknown access mode", "POST", CLAIMS.into(), with(claim("bad"), "/spec/accessModes", json!(["ReadSometimes"])),
         "PersistentVolumeClaim \"bad\" is invalid: ", "spec.accessModes",
         "Unsupported value: \"ReadSometimes\": supported values: \"ReadOnlyMany\", \"ReadWriteMany\", \"ReadWriteOnce\", \"ReadWriteOncePod\"".into()),
        ("ReadWriteOncePod with another mode", "POST", CLAIMS.into(), with(claim("bad"), "/spec/accessModes", json!(["ReadWriteOncePod", "ReadWriteOnce"])),
         "PersistentVolumeClaim \"bad\" is invalid: ", "spec.accessModes", "Forbidden: may not use ReadWriteOncePod with other access modes".into()),
        ("an unknown volume mode", "POST", CLAIMS.into(), with(claim("bad"), "/spec/volumeMode", json!("Raw")),
         "PersistentVolumeClaim \"bad\" is invalid: ", "spec.volumeMode", "Unsupported value: \"Raw\": supported values: \"Block\", \"Filesystem\"".into()),
        ("a claim's new class", "PUT", format!("{CLAIMS}/data"), with(pvc.clone(), "/spec/storageClassName", json!("other")),
         "PersistentVolumeClaim \"data\" is invalid: ", "spec",
         "Forbidden: spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims\n  core.PersistentVolumeClaimSpec{\n- \tstorageClassName: \"manual\",\n+ \tstorageClassName: \"other\",\n  }".into()),
        ("a volume without capacity", "POST", VOLUMES.into(), without(volume("bad"), "/spec/capacity"),
         "PersistentVolume \"bad\" is invalid: ", "spec.capacity", "Required value".into()),
        ("a volume without a source", "POST", VOLUMES.into(), without(volume("bad"), "/spec/hostPath"),
         "PersistentVolume \"bad\" is invalid: ", "spec", "Required value: must specify a volume type".into()),
        ("a volume with two sources", "POST", VOLUMES.into(), with(volume("bad"), "/spec/nfs", json!({"server": "nfs.example", "path": "/export"})),
         "PersistentVolume \"bad\" is invalid: ", "spec.nfs", "Forbidden: may not specify more than 1 volume type".into()),
        ("an unknown reclaim policy", "POST", VOLUMES.into(), with(volume("bad"), "/spec/persistentVolumeReclaimPolicy", json!("Keep")),
         "PersistentVolume \"bad\" is invalid: ", "spec.persistentVolumeReclaimPolicy", "Unsupported value: \"Keep\": supported values: \"Delete\", \"Recycle\", \"Retain\"".into()),
        ("a node affinity without terms", "POST", VOLUMES.into(), with(volume("bad"), "/spec/nodeAffinity", affinity(json!([]))),
         "PersistentVolume \"bad\" is invalid: ", "spec.nodeAffinity.required.nodeSelectorTerms", "Required value: must have at least one node selector term".into()),
        ("a host path going up", "POST", VOLUMES.into(), with(volume("bad"), "/spec/hostPath/path", json!("/data/../etc")),
         "PersistentVolume \"bad\" is invalid: ", "spec.hostPath.path", "Invalid value: \"/data/../etc\": must not contain '..'".into()),
        ("a local volume without node affinity, going up", "POST", VOLUMES.into(), local,
         "PersistentVolume \"local\" is invalid: ", "spec.local.path", "Invalid value: \"/mnt/../etc\": must not contain '..'".into()),
        ("a volume's new source", "PUT", format!("{VOLUMES}/pv1"), with(pv.clone(), "/spec/hostPath/path", json!("/data/other")),
         "PersistentVolume \"pv1\" is invalid: ", "spec.persistentvolumesource",
         "Forbidden: spec.persistentvolumesource is immutable after creation\n  core.PersistentVolumeSource{\n- \thostPath: {\"path\":\"/data/pv1\",\"type\":\"\"},\n+ \thostPath: {\"path\":\"/data/other\",\"type\":\"\"},\n  }".into()),
        ("a class without provisioner", "POST", CLASSES.into(), with(class("bad"), "/provisioner", json!("")),
         "StorageClass.storage.k8s.io \"bad\" is invalid: ", "provisioner", "Required value".into()),
        ("an unknown binding mode", "POST", CLASSES.into(), with(class("bad"), "/volumeBindingMode", json!("Later")),
         "StorageClass.storage.k8s.io \"bad\" is invalid: ", "volumeBindingMode", "Unsupported value: \"Later\": supported values: \"Immediate\", \"WaitForFirstConsumer\"".into()),
        ("a class's reclaim policy Recycle", "POST", CLASSES.into(), with(class("bad"), "/reclaimPolicy", json!("Recycle")),
         "StorageClass.storage.k8s.io \"bad\" is invalid: ", "reclaimPolicy", "Unsupported value: \"Recycle\": supported values: \"Delete\", \"Retain\"".into()),
        ("a class's new parameters", "PUT", format!("{CLASSES}/standard"), with(sc.clone(), "/parameters", json!({"type": "ssd"})),
         "StorageClass.storage.k8s.io \"standard\" is invalid: ", "parameters", "Forbidden: updates to parameters are forbidden.".into()),
        ("a class's new provisioner", "PUT", format!("{CLASSES}/standard"), with(sc.clone(), "/provisioner", json!("example.com/other")),
         "StorageClass.storage.k8s.io \"standard\" is invalid: ", "provisioner", "Forbidden: updates to provisioner are forbidden.".into()),
        ("a class's new reclaim policy", "PUT", format!("{CLASSES}/standard"), with(sc.clone(), "/reclaimPolicy", json!("Retain")),
         "StorageClass.storage.k8s.io \"standard\" is invalid: ", "reclaimPolicy", "Forbidden: updates to reclaimPolicy are forbidden.".into()),
        ("a class's new binding mode", "PUT", format!("{CLASSES}/standard"), with(sc.clone(), "/volumeBindingMode", json!("Immediate")),
         "StorageClass.storage.k8s.io \"standard\" is invalid: ", "volumeBindingMode", "Invalid value: \"Immediate\": field is immutable".into()),
        ("a sub-path going up", "POST", "/api/v1/namespaces/default/pods".into(), pod,
         "Pod \"web\" is invalid: ", "spec.containers[0].volumeMounts.subPath", "Invalid value: \"a/../../b\": must not contain '..'".into()),
    ];
    for (what, method, path, body, start, field, message) in rows {
        let (code, status) = client.json(method, &path, &body).await;
        assert_eq!((code, status["reason"].as_str()), (422, Some("Invalid")), "{what}: {status}");
        let causes: Vec<(&str, &str)> = status["details"]["causes"].as_array().into_iter().flatten()
            .map(|cause| (cause["field"].as_str().unwrap_or_default(), cause["message"].as_str().unwrap_or_default()))
            .collect();
        assert!(causes.contains(&(field, message.as_str())), "{what}: {causes:?}");
        let text = status["message"].as_str().unwrap_or_default();
        assert!(text.starts_with(start), "{what}: {text}");
    }
    // What may change: a claim's volume name once, a class where there was none, labels.
    let (code, named) = client.json("PUT", &format!("{CLAIMS}/data"), &with(pvc.clone(), "/spec/volumeName", json!("pv1"))).await;
    assert_eq!(code, 200, "{named}");
    let (code, renamed) = client.json("PUT", &format!("{CLAIMS}/data"), &with(named.clone(), "/spec/volumeName", json!("pv2"))).await;
    assert_eq!(code, 422, "the volume name is set once: {renamed}");
    let classless = with(without(claim("classless"), "/spec/storageClassName"), "/metadata/annotations", json!({}));
    let (code, classless) = client.json("POST", CLAIMS, &with(classless, "/spec/storageClassName", Value::Null)).await;
    assert_eq!(code, 201, "{classless}");
    let (code, classed) = client.json("PUT", &format!("{CLAIMS}/classless"), &with(classless.clone(), "/spec/storageClassName", json!("manual"))).await;
    assert_eq!(code, 200, "a class where there was none: {classed}");
    let (code, relabelled) = client.json("PUT", &format!("{CLASSES}/standard"), &with(sc.clone(), "/allowVolumeExpansion", json!(true))).await;
    assert_eq!(code, 200, "{relabelled}");
}

async fn claims_get_the_default_class_and_both_kinds_their_protection(storage: Storage) {
    let server = ApiServer::start(storage).unwrap_or_else(|err| panic!("starting the apiserver: {err}"));
    let client = Client::new(&server);
    let classless = |name: &str| without(claim(name), "/spec/storageClassName");
    // No default class: the claim stays without one.
    let (code, lone) = client.json("POST", CLAIMS, &classless("lone")).await;
    assert_eq!((code, lone["spec"].get("storageClassName")), (201, None), "{lone}");
    assert_eq!(lone["metadata"]["finalizers"], json!(["kubernetes.io/pvc-protection"]), "{lone}");
    let (code, pv) = client.json("POST", VOLUMES, &volume("pv1")).await;
    assert_eq!((code, &pv["metadata"]["finalizers"]), (201, &json!(["kubernetes.io/pv-protection"])), "{pv}");

    // Two default classes: the newer wins, though its name sorts after the other's.
    for name in ["a-first", "b-second"] {
        let (code, created) = client.json("POST", CLASSES, &class(name)).await;
        assert_eq!(code, 201, "{created}");
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    }
    let (code, defaulted) = client.json("POST", CLAIMS, &classless("defaulted")).await;
    assert_eq!((code, defaulted["spec"]["storageClassName"].as_str()), (201, Some("b-second")), "{defaulted}");
    // An empty class is a choice (no class), as is a named one and the beta annotation.
    let (code, none) = client.json("POST", CLAIMS, &with(claim("none"), "/spec/storageClassName", json!(""))).await;
    assert_eq!((code, none["spec"]["storageClassName"].as_str()), (201, Some("")), "{none}");
    let (code, named) = client.json("POST", CLAIMS, &claim("named")).await;
    assert_eq!((code, named["spec"]["storageClassName"].as_str()), (201, Some("manual")), "{named}");
    let beta = with(classless("beta"), "/metadata/annotations", json!({"volume.beta.kubernetes.io/storage-class": "a-first"}));
    let (code, beta) = client.json("POST", CLAIMS, &beta).await;
    assert_eq!((code, beta["spec"].get("storageClassName")), (201, None), "{beta}");
    // A finalizer the client gave is kept, and not doubled.
    let given = with(classless("given"), "/metadata/finalizers", json!(["example.com/keep", "kubernetes.io/pvc-protection"]));
    let (code, given) = client.json("POST", CLAIMS, &given).await;
    assert_eq!((code, &given["metadata"]["finalizers"]), (201, &json!(["example.com/keep", "kubernetes.io/pvc-protection"])), "{given}");

    // Deleting a protected claim leaves it Terminating until the finalizer goes.
    let (code, deleting) = client.json("DELETE", &format!("{CLAIMS}/lone"), &json!({})).await;
    assert_eq!(code, 200, "{deleting}");
    let (code, kept) = client.get(&format!("{CLAIMS}/lone")).await;
    assert!(code == 200 && kept["metadata"]["deletionTimestamp"].is_string(), "{kept}");
}
