//! The real `apiserver` binary, on the embedded store and on etcd, driven by outside clients:
//! the real `kubectl`, the Python `kubernetes` client, and raw HTTP for bad input.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::time::Duration;

use http::Client;
use common::testing::{ApiServer, Storage};
use futures::StreamExt;
use serde_json::{Value, json};

#[path = "support/http.rs"]
mod http;

common::on_both_stores!(
    kubectl_applies_gets_and_deletes_the_demo_app,
    python_client_creates_lists_watches_and_deletes_configmaps,
    restart_loses_nothing_and_watches_resume,
    bad_input_gets_the_right_status_and_changes_nothing,
    a_watch_from_compacted_history_is_gone,
    lists_page_and_dry_runs_and_deletecollection_write_nothing_else,
    watches_end_at_their_timeout_with_a_bookmark,
    service_addresses_are_unique_and_released,
    object_lifecycle_follows_kubernetes_semantics,
    a_namespace_new_or_deleted_here_is_seen_at_once,
    system_namespaces_exist_from_the_start_and_stay,
    a_uid_in_the_body_must_be_the_objects,
    deletion_follows_grace_periods_and_propagation_policies,
    a_malformed_or_misaddressed_scale_changes_nothing,
    generated_names_keep_58_characters_of_their_prefix,
    replication_controllers_are_served_as_kube_apiserver_serves_them,
    python_client_creates_scales_and_deletes_replication_controllers,
    jobs_are_served_from_their_declaration,
    finished_pods_show_their_containers_reason,
    a_job_deleted_without_a_policy_keeps_its_pods_and_says_so,
);

/// `kubectl get pods` shows what kube's `printPod` shows: a finished pod's STATUS is its
/// container's terminated reason, not the phase.
async fn finished_pods_show_their_containers_reason(storage: Storage) {
    let server = ApiServer::start(storage).unwrap();
    let client = Client::new(&server);
    let pods = "/api/v1/namespaces/default/pods";
    for (name, phase, reason, exit_code) in [("done", "Succeeded", "Completed", 0), ("broken", "Failed", "Error", 1)] {
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": {"restartPolicy": "Never", "containers": [{"name": "main", "image": "busybox"}]}});
        assert_eq!(client.json("POST", pods, &pod).await.0, 201);
        let terminated = json!({"exitCode": exit_code, "reason": reason, "startedAt": "2026-01-01T00:00:00Z", "finishedAt": "2026-01-01T00:00:01Z", "containerID": "containerd://x"});
        let status = json!({"status": {"phase": phase, "containerStatuses": [{"name": "main", "image": "busybox", "imageID": "", "ready": false, "restartCount": 0, "started": false,
            "state": {"terminated": terminated}}]}});
        let (code, answer) = client.send("PATCH", &format!("{pods}/{name}/status"), "application/merge-patch+json", status.to_string().into_bytes()).await;
        assert_eq!(code, 200, "{answer}");
    }
    let table = kubectl_binary_ok("kubectl", &server, &["get", "pods", "--no-headers"]);
    let rows: Vec<Vec<&str>> = table.lines().map(|line| line.split_whitespace().take(4).collect()).collect();
    assert_eq!(rows, [["broken", "0/1", "Error", "0"], ["done", "0/1", "Completed", "0"]], "{table}");
}

/// batch/v1 Jobs orphan their pods unless told otherwise (kube's Job strategy), and the
/// delete says so in a warning, as kube's Job storage does; kubectl's Background cascades.
async fn a_job_deleted_without_a_policy_keeps_its_pods_and_says_so(storage: Storage) {
    let server = ApiServer::start(storage).unwrap();
    let client = Client::new(&server);
    let jobs = "/apis/batch/v1/namespaces/default/jobs";
    let job = |name: &str| json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name},
        "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}}}});
    for name in ["plain", "background", "orphan"] {
        assert_eq!(client.json("POST", jobs, &job(name)).await.0, 201);
    }
    let delete = |path: String, body: &'static str| {
        let request = client.http.delete(format!("{}{path}", client.base)).header("content-type", "application/json").body(body);
        async move {
            let response = request.send().await.expect("an answer");
            let warnings: Vec<String> = response.headers().get_all("warning").iter().map(|value| value.to_str().unwrap_or_default().to_string()).collect();
            let object: Value = response.json().await.unwrap_or(Value::Null);
            (warnings, object)
        }
    };
    let (warnings, object) = delete(format!("{jobs}/plain"), "").await;
    assert_eq!(object["metadata"]["finalizers"], json!(["orphan"]), "{object}");
    assert_eq!(warnings, [r#"299 - "child pods are preserved by default when jobs are deleted; set propagationPolicy=Background to remove them or set propagationPolicy=Orphan to suppress this warning""#]);
    let (warnings, object) = delete(format!("{jobs}/background"), r#"{"propagationPolicy": "Background"}"#).await;
    assert_eq!((warnings.len(), object["kind"].as_str()), (0, Some("Status")), "removed at once: {object}");
    let (warnings, object) = delete(format!("{jobs}/orphan?propagationPolicy=Orphan"), "").await;
    assert_eq!((warnings.len(), &object["metadata"]["finalizers"]), (0, &json!(["orphan"])), "{object}");
}

/// Jobs, the first kind added as a declaration alone (`kinds/batch/job.rs`): discovery, the
/// defaults and generated selector of kube's Job strategy, its validation, its printer, its
/// protobuf body (kubectl create sends one) and its OpenAPI schema.
async fn jobs_are_served_from_their_declaration(storage: Storage) {
    let server = ApiServer::start(storage).unwrap();
    let kubectl = |args: &[&str]| kubectl_binary_ok("kubectl", &server, args);
    let resources = kubectl(&["api-resources", "--api-group=batch", "--no-headers"]);
    assert!(resources.lines().any(|line| line.split_whitespace().collect::<Vec<_>>() == ["jobs", "batch/v1", "true", "Job"]), "{resources}");
    assert_eq!(kubectl(&["create", "job", "hello", "--image=busybox", "--", "echo", "hi"]).trim(), "job.batch/hello created");
    let job: Value = serde_json::from_str(&kubectl(&["get", "job", "hello", "-o", "json"])).expect("a Job");
    let uid = job["metadata"]["uid"].as_str().unwrap_or_default().to_string();
    assert_eq!(job["spec"]["selector"], json!({"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}), "{job}");
    for (label, value) in [("batch.kubernetes.io/controller-uid", &uid), ("batch.kubernetes.io/job-name", &"hello".to_string()), ("controller-uid", &uid), ("job-name", &"hello".to_string())] {
        assert_eq!(job["spec"]["template"]["metadata"]["labels"][label], json!(value), "{label}: {job}");
    }
    for (field, value) in [("backoffLimit", json!(6)), ("completions", json!(1)), ("parallelism", json!(1)), ("completionMode", json!("NonIndexed")), ("suspend", json!(false)), ("podReplacementPolicy", json!("TerminatingOrFailed"))] {
        assert_eq!(job["spec"][field], value, "{field}: {job}");
    }
    let table = kubectl(&["get", "jobs"]);
    let header: Vec<&str> = table.lines().next().unwrap_or_default().split_whitespace().collect();
    assert_eq!(header, ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"], "{table}");
    assert!(table.lines().nth(1).is_some_and(|row| row.split_whitespace().take(3).collect::<Vec<_>>() == ["hello", "Running", "0/1"]), "{table}");
    // A Job's pods may not restart in place: kube's message, for kubectl.
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("job.yaml");
    std::fs::write(&manifest, "apiVersion: batch/v1\nkind: Job\nmetadata: {name: forever}\nspec:\n  template:\n    spec:\n      restartPolicy: Always\n      containers: [{name: c, image: busybox}]\n").unwrap();
    let refused = kubectl_binary("kubectl", &server, &["apply", "-f", &manifest.display().to_string()]);
    assert!(!refused.status.success());
    assert_eq!(
        String::from_utf8_lossy(&refused.stderr),
        format!("The Job \"forever\" is invalid: spec.template.spec.restartPolicy: Required value: valid values: \"OnFailure\", \"Never\"\n")
    );
    let explained = kubectl(&["explain", "jobs.spec.backoffLimit"]);
    assert!(explained.contains("FIELD: backoffLimit <integer>"), "{explained}");
    assert_eq!(kubectl(&["delete", "job", "hello"]).trim(), "job.batch \"hello\" deleted");
}

async fn deletion_follows_grace_periods_and_propagation_policies(storage: Storage) {
    let server = ApiServer::start(storage).unwrap();
    let client = Client::new(&server);
    let pods = "/api/v1/namespaces/default/pods";
    let pod = |name: &str| json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}});
    for name in ["stopping", "finished"] {
        assert_eq!(client.json("POST", pods, &pod(name)).await.0, 201);
        let binding = json!({"apiVersion": "v1", "kind": "Binding", "metadata": {"name": name}, "target": {"kind": "Node", "name": "node-1"}});
        assert_eq!(client.json("POST", &format!("{pods}/{name}/binding"), &binding).await.0, 201);
    }
    // A pod stopping on its node stays while its kubelet reports on it.
    let (code, marked) = client.json("DELETE", &format!("{pods}/stopping"), &json!({})).await;
    assert_eq!((code, marked["metadata"]["deletionGracePeriodSeconds"].as_i64()), (200, Some(30)), "{marked}");
    let status = json!({"status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "False"}]}});
    let (code, _) = client.send("PATCH", &format!("{pods}/stopping/status"), "application/merge-patch+json", status.to_string().into_bytes()).await;
    assert_eq!(code, 200);
    assert_eq!(client.json("GET", &format!("{pods}/stopping"), &Value::Null).await.0, 200, "a status update during the grace period keeps the pod");
    assert_eq!(client.json("DELETE", &format!("{pods}/stopping"), &json!({"gracePeriodSeconds": 0})).await.0, 200);
    assert_eq!(client.json("GET", &format!("{pods}/stopping"), &Value::Null).await.0, 404);

    // A finished pod has nothing to stop: it goes at once.
    let finished = json!({"status": {"phase": "Succeeded"}});
    let (code, _) = client.send("PATCH", &format!("{pods}/finished/status"), "application/merge-patch+json", finished.to_string().into_bytes()).await;
    assert_eq!(code, 200);
    assert_eq!(client.json("DELETE", &format!("{pods}/finished"), &json!({})).await.0, 200);
    assert_eq!(client.json("GET", &format!("{pods}/finished"), &Value::Null).await.0, 404);

    // Each policy replaces the garbage-collector finalizer an earlier delete asked for.
    let mut held = configmap("held", "1");
    held["metadata"]["finalizers"] = json!(["example.com/hold"]);
    assert_eq!(client.json("POST", "/api/v1/namespaces/default/configmaps", &held).await.0, 201);
    let path = "/api/v1/namespaces/default/configmaps/held";
    for (policy, expected) in [
        ("Orphan", json!(["example.com/hold", "orphan"])),
        ("Foreground", json!(["example.com/hold", "foregroundDeletion"])),
        ("Background", json!(["example.com/hold"])),
    ] {
        let (code, object) = client.json("DELETE", path, &json!({"propagationPolicy": policy})).await;
        assert_eq!(code, 200, "{object}");
        assert_eq!(object["metadata"]["finalizers"], expected, "after {policy}");
    }
}

async fn a_uid_in_the_body_must_be_the_objects(storage: Storage) {
    let server = ApiServer::start(storage).unwrap();
    let client = Client::new(&server);
    let (code, created) = client.json("POST", "/api/v1/namespaces/default/configmaps", &configmap("held", "1")).await;
    assert_eq!(code, 201, "{created}");
    let mut stale = created.clone();
    stale["metadata"]["uid"] = json!("0d7e3a7e-0000-4000-8000-000000000000");
    stale["data"] = json!({"value": "2"});
    let (code, status) = client.json("PUT", "/api/v1/namespaces/default/configmaps/held", &stale).await;
    assert_eq!((code, status["reason"].as_str()), (409, Some("Conflict")), "{status}");
    assert!(status["message"].as_str().unwrap_or_default().contains("Precondition failed: UID in precondition"), "{status}");
    let mut right = created.clone();
    right["data"] = json!({"value": "2"});
    let (code, updated) = client.json("PUT", "/api/v1/namespaces/default/configmaps/held", &right).await;
    assert_eq!(code, 200, "{updated}");
    assert_eq!(updated["metadata"]["uid"], created["metadata"]["uid"]);
}

async fn system_namespaces_exist_from_the_start_and_stay(storage: Storage) {
    let mut server = ApiServer::start(storage).unwrap();
    let client = Client::new(&server);
    let names = |list: &Value| -> Vec<String> {
        list["items"].as_array().into_iter().flatten().filter_map(|ns| ns["metadata"]["name"].as_str().map(str::to_string)).collect()
    };
    let (code, list) = client.json("GET", "/api/v1/namespaces", &Value::Null).await;
    assert_eq!(code, 200);
    assert_eq!(names(&list), ["default", "kube-node-lease", "kube-public", "kube-system"]);
    for namespace in list["items"].as_array().into_iter().flatten() {
        assert_eq!(namespace["status"]["phase"], "Active", "{namespace}");
        assert_eq!(namespace["spec"]["finalizers"], json!(["kubernetes"]), "{namespace}");
    }
    // The first thing a user does on a new cluster works without creating a namespace.
    let created = kubectl_binary_ok("kubectl", &server, &["create", "configmap", "first", "--from-literal=a=b"]);
    assert_eq!(created.trim(), "configmap/first created");

    for name in ["default", "kube-system", "kube-public"] {
        let (code, status) = client.json("DELETE", &format!("/api/v1/namespaces/{name}"), &json!({})).await;
        assert_eq!((code, status["reason"].as_str()), (403, Some("Forbidden")), "{status}");
        assert_eq!(status["message"], format!("namespaces \"{name}\" is forbidden: this namespace may not be deleted"));
    }
    let refused = kubectl_binary("kubectl", &server, &["delete", "namespace", "kube-system"]);
    assert!(String::from_utf8_lossy(&refused.stderr).contains("Error from server (Forbidden)"), "{refused:?}");

    // A restart finds them there and creates nothing twice.
    let (_, before) = client.json("GET", "/api/v1/namespaces", &Value::Null).await;
    server.kill();
    server.start_again().unwrap();
    let (_, after) = client.json("GET", "/api/v1/namespaces", &Value::Null).await;
    let uids = |list: &Value| list["items"].as_array().into_iter().flatten().map(|ns| ns["metadata"]["uid"].clone()).collect::<Vec<_>>();
    assert_eq!(uids(&before), uids(&after));
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).unwrap_or_default()
}

/// The kubectl on PATH picks its version to match the server's (this image's dispatcher); the
/// demo test also runs the 1.32 client by name, the version the project promises to support.
const KUBECTL_1_32: &str = "/usr/lib/google-cloud-sdk/bin/kubectl.1.32";

fn kubectl_binary(binary: &str, server: &ApiServer, args: &[&str]) -> Output {
    Command::new(binary)
        .arg(format!("--kubeconfig={}", server.kubeconfig().display()))
        .args(args)
        .output()
        .expect("run kubectl")
}

/// Runs kubectl and returns its stdout, failing the test with its stderr if it fails.
fn kubectl_binary_ok(binary: &str, server: &ApiServer, args: &[&str]) -> String {
    let output = kubectl_binary(binary, server, args);
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "kubectl {args:?} failed:\n{stdout}\n{stderr}\n--- apiserver log:\n{}", log_tail(server));
    stdout
}

fn log_tail(server: &ApiServer) -> String {
    let text = std::fs::read_to_string(server.log_path()).unwrap_or_default();
    let lines: Vec<&str> = text.lines().rev().take(30).collect();
    lines.into_iter().rev().collect::<Vec<_>>().join("\n")
}

async fn kubectl_applies_gets_and_deletes_the_demo_app(storage: Storage) {
    demo_round_trip("kubectl", storage);
    assert!(Path::new(KUBECTL_1_32).exists(), "{KUBECTL_1_32} is missing from this machine");
    demo_round_trip(KUBECTL_1_32, storage);
}

fn demo_round_trip(kubectl_path: &str, storage: Storage) {
    let kubectl = |server: &ApiServer, args: &[&str]| kubectl_binary(kubectl_path, server, args);
    let kubectl_ok = |server: &ApiServer, args: &[&str]| kubectl_binary_ok(kubectl_path, server, args);
    let server = ApiServer::start(storage).unwrap();
    let demo = workspace_root().join("manifests/demo/app.yaml");
    let demo = demo.to_str().unwrap();

    assert_eq!(kubectl_ok(&server, &["create", "namespace", "demo"]).trim(), "namespace/demo created");
    let applied = kubectl_ok(&server, &["apply", "-n", "demo", "-f", demo]);
    for line in [
        "configmap/example-config created",
        "secret/example-secret created",
        "deployment.apps/example created",
        "service/example-service created",
    ] {
        assert!(applied.contains(line), "{line:?} missing from:\n{applied}");
    }

    // Applying it again changed: a second apply patches, it does not fail.
    let original = std::fs::read_to_string(demo).unwrap();
    let changed = original.replace("replicas: 2", "replicas: 3").replace("url: example-service", "url: example-service.demo");
    assert_ne!(changed, original);
    let dir = tempfile::tempdir().unwrap();
    let changed_path = dir.path().join("app.yaml");
    std::fs::write(&changed_path, &changed).unwrap();
    let reapplied = kubectl_ok(&server, &["apply", "-n", "demo", "-f", changed_path.to_str().unwrap()]);
    for line in [
        "configmap/example-config configured",
        "secret/example-secret unchanged",
        "deployment.apps/example configured",
        "service/example-service unchanged",
    ] {
        assert!(reapplied.contains(line), "{line:?} missing from:\n{reapplied}");
    }

    let listed = kubectl_ok(&server, &["get", "deploy,svc,cm,secret", "-n", "demo"]);
    for name in ["deployment.apps/example", "service/example-service", "configmap/example-config", "secret/example-secret"] {
        assert!(listed.contains(name), "{name} missing from:\n{listed}");
    }
    let yaml = kubectl_ok(&server, &["get", "deploy", "example", "-n", "demo", "-o", "yaml"]);
    assert!(yaml.contains("replicas: 3"), "{yaml}");
    let deployment: Value = serde_json::from_str(&kubectl_ok(&server, &["get", "deploy", "example", "-n", "demo", "-o", "json"])).unwrap();
    assert_eq!(deployment["spec"]["replicas"], 3);
    assert_eq!(deployment["metadata"]["generation"], 2);
    let config: Value = serde_json::from_str(&kubectl_ok(&server, &["get", "cm", "example-config", "-n", "demo", "-o", "json"])).unwrap();
    assert_eq!(config["data"]["url"], "example-service.demo");
    let service: Value = serde_json::from_str(&kubectl_ok(&server, &["get", "svc", "example-service", "-n", "demo", "-o", "json"])).unwrap();
    let cluster_ip = service["spec"]["clusterIP"].as_str().unwrap();
    assert!(cluster_ip.starts_with("10.9") || cluster_ip.starts_with("10.10") || cluster_ip.starts_with("10.11"), "{cluster_ip}");

    let pods = kubectl(&server, &["get", "pods", "-A"]);
    assert!(pods.status.success());
    assert!(String::from_utf8_lossy(&pods.stderr).contains("No resources found"), "{pods:?}");

    let deleted = kubectl_ok(&server, &["delete", "-n", "demo", "-f", changed_path.to_str().unwrap()]);
    assert!(deleted.contains("deployment.apps \"example\" deleted"), "{deleted}");
    let left = kubectl(&server, &["get", "deploy,svc,cm,secret", "-n", "demo"]);
    assert!(String::from_utf8_lossy(&left.stderr).contains("No resources found"), "{left:?}");
}

async fn python_client_creates_lists_watches_and_deletes_configmaps(storage: Storage) {
    let server = ApiServer::start(storage).unwrap();
    let script = r#"
import sys
from kubernetes import client, config, watch
config.load_kube_config(config_file=sys.argv[1])
v1 = client.CoreV1Api()
v1.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="py")))
for name, tier in [("a", "web"), ("b", "web"), ("c", "db")]:
    body = client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name, labels={"tier": tier}), data={"k": name})
    v1.create_namespaced_config_map("py", body)
web = v1.list_namespaced_config_map("py", label_selector="tier=web")
assert sorted(item.metadata.name for item in web.items) == ["a", "b"], web.items
rv = web.metadata.resource_version
v1.create_namespaced_config_map("py", client.V1ConfigMap(metadata=client.V1ObjectMeta(name="d", labels={"tier": "web"})))
v1.patch_namespaced_config_map("c", "py", {"metadata": {"labels": {"tier": "web"}}})
seen = []
w = watch.Watch()
for event in w.stream(v1.list_namespaced_config_map, "py", label_selector="tier=web", resource_version=rv, timeout_seconds=5):
    seen.append((event["type"], event["object"].metadata.name))
    if len(seen) == 2:
        w.stop()
assert seen == [("ADDED", "d"), ("ADDED", "c")], seen
for name in ["a", "b", "c", "d"]:
    v1.delete_namespaced_config_map(name, "py")
left = v1.list_namespaced_config_map("py")
assert left.items == [], left.items
print("python client OK")
"#;
    let output = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(server.kubeconfig())
        .output()
        .expect("run python3");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("python client OK"),
        "python client failed:\n{stdout}\n{}\n--- apiserver log:\n{}",
        String::from_utf8_lossy(&output.stderr),
        log_tail(&server)
    );
}

fn configmap(name: &str, data: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"k": data}})
}

/// Reads watch events from a streaming response until `count` arrived (30 s at most).
async fn watch_events(client: &Client, path: &str, count: usize) -> Vec<Value> {
    let response = client.http.get(format!("{}{path}", client.base)).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let mut body = response.bytes_stream();
    let mut buffer = Vec::new();
    let mut events = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while events.len() < count {
        let chunk = tokio::time::timeout_at(deadline, body.next())
            .await
            .unwrap_or_else(|_| panic!("watch stalled after {events:?}"))
            .expect("watch ended early")
            .unwrap();
        buffer.extend_from_slice(&chunk);
        while let Some(end) = buffer.iter().position(|byte| *byte == b'\n') {
            let line: Vec<u8> = buffer.drain(..=end).collect();
            events.push(serde_json::from_slice(&line).unwrap());
        }
    }
    events
}

async fn restart_loses_nothing_and_watches_resume(storage: Storage) {
    let mut server = ApiServer::start(storage).unwrap();
    let client = Client::new(&server);
    assert_eq!(client.json("POST", "/api/v1/namespaces", &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "keep"}})).await.0, 201);
    let collection = "/api/v1/namespaces/keep/configmaps";
    for i in 0..20 {
        assert_eq!(client.json("POST", collection, &configmap(&format!("cm-{i}"), "before")).await.0, 201);
    }
    let (_, list) = client.get(collection).await;
    let seen = list["metadata"]["resourceVersion"].as_str().unwrap().to_string();

    // Changes the watcher has not seen yet, then a crash.
    assert_eq!(client.json("POST", collection, &configmap("while-away", "x")).await.0, 201);
    assert_eq!(client.send("DELETE", &format!("{collection}/cm-0"), "", Vec::new()).await.0, 200);
    server.kill();
    server.start_again().unwrap();

    let (_, after) = client.get(collection).await;
    let names = |list: &Value| -> Vec<String> {
        list["items"].as_array().unwrap().iter().map(|item| item["metadata"]["name"].as_str().unwrap().to_string()).collect()
    };
    let mut expected = names(&list);
    expected.retain(|name| name != "cm-0");
    expected.push("while-away".into());
    expected.sort();
    let mut found = names(&after);
    found.sort();
    assert_eq!(found, expected);

    assert_eq!(client.json("POST", collection, &configmap("after-restart", "y")).await.0, 201);
    let events = watch_events(&client, &format!("{collection}?watch=true&resourceVersion={seen}"), 3).await;
    let summary: Vec<(String, String)> = events
        .iter()
        .map(|event| (event["type"].as_str().unwrap().to_string(), event["object"]["metadata"]["name"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(summary, vec![
        ("ADDED".to_string(), "while-away".to_string()),
        ("DELETED".to_string(), "cm-0".to_string()),
        ("ADDED".to_string(), "after-restart".to_string()),
    ]);
}

async fn bad_input_gets_the_right_status_and_changes_nothing(storage: Storage) {
    let mut server = ApiServer::start(storage).unwrap();
    let client = Client::new(&server);
    assert_eq!(client.json("POST", "/api/v1/namespaces", &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "bad"}})).await.0, 201);
    let collection = "/api/v1/namespaces/bad/configmaps";
    assert_eq!(client.json("POST", collection, &configmap("existing", "v")).await.0, 201);
    let (_, before) = client.get(collection).await;

    let big = "x".repeat(4 * 1024 * 1024);
    let rows: Vec<(&str, String, &str, Vec<u8>, u16, &str)> = vec![
        ("POST", collection.to_string(), "application/json", b"{\"apiVersion\": \"v1\", \"kind\": ".to_vec(), 400, "BadRequest"),
        ("POST", collection.to_string(), "application/json", b"[1, 2]".to_vec(), 400, "BadRequest"),
        ("POST", collection.to_string(), "application/yaml", b"kind: ConfigMap\nmetadata:\n\tname: x".to_vec(), 400, "BadRequest"),
        ("POST", collection.to_string(), "application/yaml", b"- just\n- a list".to_vec(), 400, "BadRequest"),
        ("POST", collection.to_string(), "application/xml", b"<ConfigMap/>".to_vec(), 415, "UnsupportedMediaType"),
        ("POST", collection.to_string(), "application/json", json!({"apiVersion": "apps/v1", "kind": "ConfigMap", "metadata": {"name": "x"}}).to_string().into_bytes(), 400, "BadRequest"),
        ("POST", collection.to_string(), "application/json", json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "x"}}).to_string().into_bytes(), 400, "BadRequest"),
        ("POST", collection.to_string(), "application/json", json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}}).to_string().into_bytes(), 422, "Invalid"),
        ("POST", collection.to_string(), "application/json", json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "Not_Valid"}}).to_string().into_bytes(), 422, "Invalid"),
        ("POST", collection.to_string(), "application/json", json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "namespace": "other"}}).to_string().into_bytes(), 400, "BadRequest"),
        ("POST", collection.to_string(), "application/json", format!("{{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", \"metadata\": {{\"name\": \"big\"}}, \"data\": {{\"k\": \"{big}\"}}}}").into_bytes(), 413, "RequestEntityTooLarge"),
        ("POST", format!("{collection}?fieldValidation=Strict"), "application/json", json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "spec": {"unknown": 1}}).to_string().into_bytes(), 400, "BadRequest"),
        ("POST", collection.to_string(), "application/json", configmap("existing", "again").to_string().into_bytes(), 409, "AlreadyExists"),
        ("POST", "/api/v1/namespaces/missing/configmaps".to_string(), "application/json", configmap("x", "v").to_string().into_bytes(), 404, "NotFound"),
        ("PUT", format!("{collection}/existing"), "application/json", json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "existing", "resourceVersion": "1"}}).to_string().into_bytes(), 409, "Conflict"),
        ("PUT", format!("{collection}/existing"), "application/json", configmap("other-name", "v").to_string().into_bytes(), 400, "BadRequest"),
        ("PATCH", format!("{collection}/existing"), "application/json-patch+json", json!([{"op": "test", "path": "/data/k", "value": "nope"}]).to_string().into_bytes(), 422, "Invalid"),
        ("PATCH", format!("{collection}/existing"), "text/plain", b"{}".to_vec(), 415, "UnsupportedMediaType"),
        ("GET", format!("{collection}/missing"), "", Vec::new(), 404, "NotFound"),
        ("GET", format!("{collection}?labelSelector=a%20in%20(b"), "", Vec::new(), 400, "BadRequest"),
        ("GET", format!("{collection}?fieldSelector=spec.nodeName%3Dx"), "", Vec::new(), 400, "BadRequest"),
        ("GET", format!("{collection}?limit=abc"), "", Vec::new(), 400, "BadRequest"),
        ("GET", "/api/v1/widgets".to_string(), "", Vec::new(), 404, "NotFound"),
        ("DELETE", format!("{collection}/missing"), "", Vec::new(), 404, "NotFound"),
        ("POST", format!("{collection}/existing"), "application/json", b"{}".to_vec(), 405, "MethodNotAllowed"),
    ];
    for (method, path, content_type, body, code, reason) in rows {
        let (got, status) = client.send(method, &path, content_type, body).await;
        assert_eq!((got, status["reason"].as_str().unwrap_or_default()), (code, reason), "{method} {path}: {status}");
        assert_eq!(status["kind"], "Status", "{method} {path}: {status}");
        assert!(!status["message"].as_str().unwrap_or_default().is_empty(), "{status}");
    }

    assert!(server.is_running(), "the apiserver died:\n{}", log_tail(&server));
    let (_, after) = client.get(collection).await;
    assert_eq!(after["items"], before["items"], "bad input changed what is stored");

    // Well-formed YAML is as good as JSON.
    let yaml = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-yaml\ndata:\n  k: v\n".to_vec();
    let (code, created) = client.send("POST", collection, "application/yaml", yaml).await;
    assert_eq!(code, 201, "{created}");
    assert_eq!(created["data"]["k"], "v");
}

/// etcd's own count of its watchers, from its metrics endpoint.
async fn etcd_watchers(endpoint: &str) -> u64 {
    let metrics = reqwest::get(format!("{endpoint}/metrics")).await.unwrap().text().await.unwrap();
    metrics
        .lines()
        .find(|line| line.starts_with("etcd_debugging_mvcc_watcher_total "))
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|value| value.parse::<f64>().ok())
        .map(|value| value as u64)
        .unwrap_or_else(|| panic!("etcd reports no watcher count:\n{metrics}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_watchers_share_one_storage_watch_per_resource() {
    let server = ApiServer::start(Storage::Etcd).unwrap();
    let endpoint = server.etcd.as_ref().unwrap().endpoint();
    let client = Client::new(&server);
    assert_eq!(client.json("POST", "/api/v1/namespaces", &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "many"}})).await.0, 201);
    let before = etcd_watchers(&endpoint).await;
    let (_, list) = client.get("/api/v1/namespaces/many/configmaps").await;
    let revision = list["metadata"]["resourceVersion"].as_str().unwrap().to_string();

    let http = reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap();
    let mut streams = Vec::new();
    for _ in 0..1000 {
        let response = http
            .get(format!("{}/api/v1/namespaces/many/configmaps?watch=true&resourceVersion={revision}", server.url()))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 200);
        streams.push(response.bytes_stream());
    }
    let during = etcd_watchers(&endpoint).await;
    assert!(during <= before + 2, "1,000 watchers opened {} storage watches", during - before);

    assert_eq!(client.json("POST", "/api/v1/namespaces/many/configmaps", &configmap("one-change", "v")).await.0, 201);
    let mut received = 0;
    for stream in &mut streams {
        let chunk = tokio::time::timeout(Duration::from_secs(30), stream.next()).await.expect("a watcher got nothing");
        let text = String::from_utf8(chunk.unwrap().unwrap().to_vec()).unwrap();
        assert!(text.contains("\"ADDED\"") && text.contains("one-change"), "{text}");
        received += 1;
    }
    assert_eq!(received, 1000);
}

async fn a_watch_from_compacted_history_is_gone(storage: Storage) {
    let mut server = ApiServer::start_with_args(storage, &["--compaction-interval-seconds=1"]).unwrap();
    let client = Client::new(&server);
    assert_eq!(client.json("POST", "/api/v1/namespaces", &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "old"}})).await.0, 201);
    let collection = "/api/v1/namespaces/old/configmaps";
    let (_, first) = client.json("POST", collection, &configmap("first", "v")).await;
    let old = first["metadata"]["resourceVersion"].as_str().unwrap().to_string();
    assert_eq!(client.json("POST", collection, &configmap("second", "v")).await.0, 201);
    // Each compaction tick compacts up to what was current at the tick before, so within a few
    // ticks after a later write, history up to "second" is gone. A restarted apiserver's watch
    // cache starts at the present, so the old revision can then only come from storage.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(client.json("POST", collection, &configmap("third", "v")).await.0, 201);
    let old_revision: i64 = old.parse().unwrap();
    let compacted_past_old = || {
        std::fs::read_to_string(server.log_path()).unwrap_or_default().lines().any(|line| {
            line.contains("compacted storage history")
                && line.split("revision=").nth(1).and_then(|rest| rest.split_whitespace().next()).and_then(|n| n.parse::<i64>().ok()).is_some_and(|n| n > old_revision + 1)
        })
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !compacted_past_old() {
        assert!(std::time::Instant::now() < deadline, "storage was never compacted:\n{}", log_tail(&server));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    server.kill();
    server.start_again().unwrap();
    let events = watch_events(&client, &format!("{collection}?watch=true&resourceVersion={old}"), 1).await;
    assert_eq!(events[0]["type"], "ERROR", "{events:?}");
    assert_eq!(events[0]["object"]["code"], 410, "{events:?}");
    assert_eq!(events[0]["object"]["reason"], "Expired", "{events:?}");
    let (code, status) = client.get(&format!("{collection}?resourceVersion={old}&resourceVersionMatch=Exact")).await;
    assert_eq!((code, status["reason"].as_str()), (410, Some("Expired")), "{status}");
}

async fn lists_page_and_dry_runs_and_deletecollection_write_nothing_else(storage: Storage) {
    let server = ApiServer::start(storage).unwrap();
    let client = Client::new(&server);
    assert_eq!(client.json("POST", "/api/v1/namespaces", &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "pages"}})).await.0, 201);
    let collection = "/api/v1/namespaces/pages/configmaps";
    for i in 0..25 {
        let mut object = configmap(&format!("cm-{i:02}"), "v");
        object["metadata"]["labels"] = json!({"parity": if i % 2 == 0 { "even" } else { "odd" }});
        assert_eq!(client.json("POST", collection, &object).await.0, 201);
    }
    let (_, first) = client.get(&format!("{collection}?limit=10")).await;
    assert_eq!(first["items"].as_array().unwrap().len(), 10);
    assert_eq!(first["metadata"]["remainingItemCount"], 15);
    let mut names: Vec<String> = Vec::new();
    let mut page = first;
    loop {
        names.extend(page["items"].as_array().unwrap().iter().map(|item| item["metadata"]["name"].as_str().unwrap().to_string()));
        let Some(token) = page["metadata"]["continue"].as_str().filter(|token| !token.is_empty()) else { break };
        page = client.get(&format!("{collection}?limit=10&continue={token}")).await.1;
    }
    let expected: Vec<String> = (0..25).map(|i| format!("cm-{i:02}")).collect();
    assert_eq!(names, expected);
    let (code, _) = client.get(&format!("{collection}?limit=10&continue=not-a-token")).await;
    assert_eq!(code, 400);

    let (code, created) = client.json("POST", &format!("{collection}?dryRun=All"), &configmap("dry", "v")).await;
    assert_eq!(code, 201, "{created}");
    assert_eq!(client.get(&format!("{collection}/dry")).await.0, 404, "a dry run stored the object");
    let (code, _) = client.send("DELETE", &format!("{collection}/cm-00?dryRun=All"), "", Vec::new()).await;
    assert_eq!(code, 200);
    assert_eq!(client.get(&format!("{collection}/cm-00")).await.0, 200, "a dry-run delete deleted");

    let (code, deleted) = client.send("DELETE", &format!("{collection}?labelSelector=parity%3Deven"), "", Vec::new()).await;
    assert_eq!(code, 200, "{deleted}");
    assert_eq!(deleted["items"].as_array().unwrap().len(), 13);
    let (_, left) = client.get(collection).await;
    let left: Vec<&str> = left["items"].as_array().unwrap().iter().map(|item| item["metadata"]["labels"]["parity"].as_str().unwrap()).collect();
    assert_eq!(left.len(), 12);
    assert!(left.iter().all(|parity| *parity == "odd"));

    let metrics = reqwest::get(format!("{}/metrics", server.url())).await.unwrap().text().await.unwrap();
    assert!(metrics.contains("apiserver_request_total{code=\"201\",resource=\"configmaps\",verb=\"POST\"} 26"), "{metrics}");
    assert!(metrics.contains("apiserver_request_total{code=\"200\",resource=\"configmaps\",verb=\"DELETECOLLECTION\"} 1"), "{metrics}");
}

async fn watches_end_at_their_timeout_with_a_bookmark(storage: Storage) {
    let server = ApiServer::start(storage).unwrap();
    let client = Client::new(&server);
    let (_, list) = client.get("/api/v1/namespaces").await;
    let revision = list["metadata"]["resourceVersion"].as_str().unwrap().to_string();
    let started = std::time::Instant::now();
    let response = client
        .http
        .get(format!("{}/api/v1/namespaces?watch=true&resourceVersion={revision}&allowWatchBookmarks=true&timeoutSeconds=1", client.base))
        .send()
        .await
        .unwrap();
    let body = tokio::time::timeout(Duration::from_secs(20), response.text()).await.expect("the watch outlived its timeout").unwrap();
    assert!(started.elapsed() >= Duration::from_millis(900));
    let last: Value = serde_json::from_str(body.lines().last().expect("no bookmark")).unwrap();
    assert_eq!(last["type"], "BOOKMARK", "{body}");
    assert_eq!(last["object"]["metadata"]["resourceVersion"], json!(revision));
    // The kind's zero value, as kube-apiserver writes it: Java clients (fabric8) read a
    // bookmark's spec and status as they read any event's.
    assert_eq!(last["object"], json!({"kind": "Namespace", "apiVersion": "v1", "metadata": {"resourceVersion": revision, "creationTimestamp": null}, "spec": {}, "status": {}}));
}

fn service(name: &str, spec: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": spec})
}

async fn service_addresses_are_unique_and_released(storage: Storage) {
    let mut server = ApiServer::start(storage).unwrap();
    let client = Arc::new(Client::new(&server));
    assert_eq!(client.json("POST", "/api/v1/namespaces", &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "svc"}})).await.0, 201);
    let collection = "/api/v1/namespaces/svc/services";
    let ports = json!([{"port": 80, "targetPort": 8080}]);

    // Many at once: no address handed out twice.
    let mut creates = tokio::task::JoinSet::new();
    for i in 0..40 {
        let (client, ports) = (client.clone(), ports.clone());
        creates.spawn(async move {
            let (code, created) = client.json("POST", collection, &service(&format!("s{i}"), json!({"ports": ports, "type": "NodePort"}))).await;
            assert_eq!(code, 201, "{created}");
            (i, created["spec"]["clusterIP"].as_str().unwrap().to_string(), created["spec"]["ports"][0]["nodePort"].as_u64().unwrap())
        });
    }
    let mut assigned = creates.join_all().await;
    assigned.sort();
    let ips: std::collections::BTreeSet<&String> = assigned.iter().map(|(_, ip, _)| ip).collect();
    let node_ports: std::collections::BTreeSet<u64> = assigned.iter().map(|(_, _, port)| *port).collect();
    assert_eq!((ips.len(), node_ports.len()), (40, 40), "{assigned:?}");
    assert!(node_ports.iter().all(|port| (30000..=32767).contains(port)));

    // Asking for taken ones is refused, also after a restart.
    let (_, taken_ip, taken_port) = assigned[0].clone();
    server.kill();
    server.start_again().unwrap();
    let (code, status) = client.json("POST", collection, &service("same-ip", json!({"ports": ports, "clusterIP": taken_ip}))).await;
    assert_eq!((code, status["reason"].as_str()), (422, Some("Invalid")), "{status}");
    let nodeport_ports = json!([{"port": 80, "nodePort": taken_port}]);
    let (code, status) = client.json("POST", collection, &service("same-port", json!({"ports": nodeport_ports, "type": "NodePort"}))).await;
    assert_eq!((code, status["reason"].as_str()), (422, Some("Invalid")), "{status}");

    // Switching s0 to ClusterIP gives its NodePort back; deleting it gives its address back.
    let patch = json!({"spec": {"type": "ClusterIP", "ports": [{"port": 80, "targetPort": 8080, "nodePort": null}]}});
    let (code, patched) = client.send("PATCH", &format!("{collection}/s0"), "application/merge-patch+json", patch.to_string().into_bytes()).await;
    assert_eq!(code, 200, "{patched}");
    assert_eq!(patched["spec"]["clusterIP"], json!(taken_ip), "the ClusterIP changed on a type change");
    let (code, created) = client.json("POST", collection, &service("same-port", json!({"ports": nodeport_ports, "type": "NodePort"}))).await;
    assert_eq!(code, 201, "the NodePort was not released: {created}");
    assert_eq!(client.send("DELETE", &format!("{collection}/s0"), "", Vec::new()).await.0, 200);
    let (code, created) = client.json("POST", collection, &service("same-ip", json!({"ports": ports, "clusterIP": taken_ip}))).await;
    assert_eq!(code, 201, "the ClusterIP was not released: {created}");

    // A ClusterIP service turned NodePort gets a NodePort.
    let patch = json!({"spec": {"type": "NodePort"}});
    let (code, patched) = client.send("PATCH", &format!("{collection}/same-ip"), "application/merge-patch+json", patch.to_string().into_bytes()).await;
    assert_eq!(code, 200, "{patched}");
    assert!(patched["spec"]["ports"][0]["nodePort"].as_u64().is_some(), "{patched}");
}

async fn object_lifecycle_follows_kubernetes_semantics(storage: Storage) {
    let server = ApiServer::start(storage).unwrap();
    let client = Client::new(&server);
    let namespace = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "life"}});
    assert_eq!(client.json("POST", "/api/v1/namespaces", &namespace).await.0, 201);
    let deployments = "/apis/apps/v1/namespaces/life/deployments";
    let deployment = json!({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "busybox:1"}]}}},
    });
    let (code, created) = client.json("POST", deployments, &deployment).await;
    assert_eq!(code, 201, "{created}");
    assert_eq!(created["metadata"]["generation"], 1);
    let merge = |body: Value| body.to_string().into_bytes();

    // Metadata changes leave generation alone; spec changes bump it; status writes through the
    // main resource are ignored, and spec writes through status are ignored.
    let (_, labelled) = client.send("PATCH", &format!("{deployments}/web"), "application/merge-patch+json", merge(json!({"metadata": {"labels": {"x": "y"}}}))).await;
    assert_eq!(labelled["metadata"]["generation"], 1, "{labelled}");
    let (_, scaled) = client.send("PATCH", &format!("{deployments}/web"), "application/merge-patch+json", merge(json!({"spec": {"replicas": 3}, "status": {"replicas": 7}}))).await;
    assert_eq!((scaled["metadata"]["generation"].clone(), scaled["spec"]["replicas"].clone()), (json!(2), json!(3)), "{scaled}");
    assert!(scaled["status"].get("replicas").is_none(), "a main-resource write set status: {scaled}");
    let (code, status) = client.send("PATCH", &format!("{deployments}/web/status"), "application/merge-patch+json", merge(json!({"spec": {"replicas": 9}, "status": {"replicas": 3}}))).await;
    assert_eq!(code, 200, "{status}");
    assert_eq!((status["spec"]["replicas"].clone(), status["status"]["replicas"].clone()), (json!(3), json!(3)), "{status}");
    assert_eq!(status["metadata"]["generation"], 2);
    let (code, scale) = client.get(&format!("{deployments}/web/scale")).await;
    assert_eq!((code, scale["spec"]["replicas"].clone(), scale["status"]["selector"].clone()), (200, json!(3), json!("app=web")));

    // A finalizer holds a deleted object until it is removed.
    let (_, held) = client.send("PATCH", &format!("{deployments}/web"), "application/merge-patch+json", merge(json!({"metadata": {"finalizers": ["example.com/hold"]}}))).await;
    assert_eq!(held["metadata"]["finalizers"], json!(["example.com/hold"]));
    let (code, marked) = client.send("DELETE", &format!("{deployments}/web"), "", Vec::new()).await;
    assert_eq!(code, 200);
    assert!(marked["metadata"]["deletionTimestamp"].is_string(), "{marked}");
    assert_eq!(client.get(&format!("{deployments}/web")).await.0, 200, "deleted despite its finalizer");
    let (code, _) = client.send("PATCH", &format!("{deployments}/web"), "application/merge-patch+json", merge(json!({"metadata": {"finalizers": null}}))).await;
    assert_eq!(code, 200);
    assert_eq!(client.get(&format!("{deployments}/web")).await.0, 404, "not removed when its last finalizer went");

    // A pod never bound goes at once; a bound pod is marked, and goes when deleted with grace 0.
    let pods = "/api/v1/namespaces/life/pods";
    let pod = |name: &str| json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": {"containers": [{"name": "c", "image": "busybox:1"}]}});
    assert_eq!(client.json("POST", pods, &pod("unbound")).await.0, 201);
    assert_eq!(client.send("DELETE", &format!("{pods}/unbound"), "", Vec::new()).await.0, 200);
    assert_eq!(client.get(&format!("{pods}/unbound")).await.0, 404);
    assert_eq!(client.json("POST", pods, &pod("bound")).await.0, 201);
    let binding = json!({"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "bound"}, "target": {"kind": "Node", "name": "node-1"}});
    assert_eq!(client.json("POST", &format!("{pods}/bound/binding"), &binding).await.0, 201);
    let (code, again) = client.json("POST", &format!("{pods}/bound/binding"), &binding).await;
    assert_eq!((code, again["reason"].as_str()), (409, Some("Conflict")), "{again}");
    let (_, bound) = client.get(&format!("{pods}/bound")).await;
    assert_eq!(bound["spec"]["nodeName"], "node-1");
    assert_eq!(bound["status"]["conditions"][0]["type"], "PodScheduled");
    let (_, terminating) = client.send("DELETE", &format!("{pods}/bound"), "", Vec::new()).await;
    assert_eq!(terminating["metadata"]["deletionGracePeriodSeconds"], 30, "{terminating}");
    assert_eq!(client.get(&format!("{pods}/bound")).await.0, 200, "a bound pod went before its kubelet confirmed");
    assert_eq!(client.send("DELETE", &format!("{pods}/bound?gracePeriodSeconds=0"), "", Vec::new()).await.0, 200);
    assert_eq!(client.get(&format!("{pods}/bound")).await.0, 404);

    // A terminating namespace takes no new objects.
    let (code, namespace) = client.send("DELETE", "/api/v1/namespaces/life", "", Vec::new()).await;
    assert_eq!((code, namespace["status"]["phase"].as_str()), (200, Some("Terminating")), "{namespace}");
    let (code, refused) = client.json("POST", pods, &pod("late")).await;
    assert_eq!((code, refused["reason"].as_str()), (403, Some("Forbidden")), "{refused}");
    // The namespace goes when its finalizers are done (the namespace controller's job).
    let finalize = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "life"}, "spec": {"finalizers": []}});
    assert_eq!(client.json("PUT", "/api/v1/namespaces/life/finalize", &finalize).await.0, 200);
    assert_eq!(client.get("/api/v1/namespaces/life").await.0, 404);
}

/// The namespace check of a create reads the watch cache, yet a namespace created a moment ago
/// takes objects, and one this apiserver has just marked terminating refuses them, every time:
/// the cache is read only once it has seen this apiserver's own writes to namespaces, and
/// storage when it does not hold the namespace.
async fn a_namespace_new_or_deleted_here_is_seen_at_once(storage: Storage) {
    let server = ApiServer::start(storage).unwrap_or_else(|err| panic!("starting the apiserver: {err}"));
    let client = Client::new(&server);
    let configmap = |name: &str| json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}});
    for round in 0..100 {
        let namespace = format!("brief-{round}");
        let (code, created) = client.json("POST", "/api/v1/namespaces", &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})).await;
        assert_eq!(code, 201, "{created}");
        let collection = format!("/api/v1/namespaces/{namespace}/configmaps");
        let (code, first) = client.json("POST", &collection, &configmap("first")).await;
        assert_eq!(code, 201, "round {round}: {first}");
        assert_eq!(client.send("DELETE", &format!("/api/v1/namespaces/{namespace}"), "", Vec::new()).await.0, 200);
        let (code, refused) = client.json("POST", &collection, &configmap("late")).await;
        let expected = format!("unable to create new content in namespace {namespace} because it is being terminated");
        assert_eq!((code, refused["message"].as_str()), (403, Some(expected.as_str())), "round {round}: {refused}");
    }
}

/// A deployment or replica set named `name` with 2 replicas.
fn scalable(kind: &str, name: &str) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": kind, "metadata": {"name": name},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": "c", "image": "busybox:1"}]}}},
    })
}

async fn a_malformed_or_misaddressed_scale_changes_nothing(storage: Storage) {
    let mut server = ApiServer::start(storage).unwrap_or_else(|err| panic!("starting the apiserver: {err}"));
    let client = Client::new(&server);
    assert_eq!(client.json("POST", "/api/v1/namespaces", &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "scaling"}})).await.0, 201);
    for (kind, plural) in [("Deployment", "deployments"), ("ReplicaSet", "replicasets")] {
        let collection = format!("/apis/apps/v1/namespaces/scaling/{plural}");
        for name in ["web", "other"] {
            let (code, created) = client.json("POST", &collection, &scalable(kind, name)).await;
            assert_eq!(code, 201, "{created}");
        }
        let scale = format!("{collection}/web/scale");
        let (_, before) = client.get(&format!("{collection}/web")).await;

        // Sent as text, so that `1e3` reaches the server as written.
        let mut rows: Vec<(String, &str, String, u16, &str)> = Vec::new();
        for value in ["\"3\"", "1e3", "2.5", "true", "{\"replicas\": 3}"] {
            let put = format!(r#"{{"apiVersion": "autoscaling/v1", "kind": "Scale", "metadata": {{"name": "web", "namespace": "scaling"}}, "spec": {{"replicas": {value}}}}}"#);
            rows.push((format!("PUT {value}"), "application/json", put, 400, "BadRequest"));
            let merge = format!(r#"{{"spec": {{"replicas": {value}}}}}"#);
            rows.push((format!("merge patch {value}"), "application/merge-patch+json", merge.clone(), 422, "Invalid"));
            if value != "1e3" {
                // kube-apiserver's strategic merge takes a whole float as an integer.
                rows.push((format!("strategic merge patch {value}"), "application/strategic-merge-patch+json", merge, 422, "Invalid"));
            }
            let json_patch = format!(r#"[{{"op": "replace", "path": "/spec/replicas", "value": {value}}}]"#);
            rows.push((format!("JSON patch {value}"), "application/json-patch+json", json_patch, 422, "Invalid"));
        }
        let misaddressed = [
            ("PUT naming another object", "application/json", r#"{"metadata": {"name": "other"}, "spec": {"replicas": 5}}"#, 400, "BadRequest"),
            ("PUT naming no object", "application/json", r#"{"spec": {"replicas": 5}}"#, 400, "BadRequest"),
            ("PUT in another namespace", "application/json", r#"{"metadata": {"name": "web", "namespace": "default"}, "spec": {"replicas": 5}}"#, 400, "BadRequest"),
            ("merge patch naming another object", "application/merge-patch+json", r#"{"metadata": {"name": "other"}, "spec": {"replicas": 5}}"#, 400, "BadRequest"),
            ("merge patch into another namespace", "application/merge-patch+json", r#"{"metadata": {"namespace": "default"}, "spec": {"replicas": 5}}"#, 400, "BadRequest"),
            ("PUT -1", "application/json", r#"{"metadata": {"name": "web"}, "spec": {"replicas": -1}}"#, 422, "Invalid"),
        ];
        rows.extend(misaddressed.map(|(row, content_type, body, code, reason)| (row.to_string(), content_type, body.to_string(), code, reason)));
        for (row, content_type, body, code, reason) in rows {
            let method = if content_type == "application/json" { "PUT" } else { "PATCH" };
            let (got, status) = client.send(method, &scale, content_type, body.into_bytes()).await;
            assert_eq!((got, status["reason"].as_str().unwrap_or_default()), (code, reason), "{plural}: {row}: {status}");
            let message = status["message"].as_str().unwrap_or_default();
            match (code, row.as_str()) {
                (400, row) if row.starts_with("PUT ") && !row.contains("object") && !row.contains("namespace") => {
                    assert!(message.starts_with("Scale in version \"v1\" cannot be handled as a Scale: spec.replicas: "), "{plural}: {row}: {message}")
                }
                (422, row) if row != "PUT -1" => assert!(message.starts_with(" \"\" is invalid: patch: Invalid value: ") && message.contains("spec.replicas: "), "{plural}: {row}: {message}"),
                _ => {}
            }
        }
        let (_, status) = client.send("PUT", &scale, "application/json", br#"{"metadata": {"name": "other"}, "spec": {"replicas": 5}}"#.to_vec()).await;
        assert_eq!(status["message"], "the name of the object (other) does not match the name on the URL (web)");
        let (_, status) = client.send("PATCH", &scale, "application/merge-patch+json", br#"{"metadata": {"namespace": "default"}}"#.to_vec()).await;
        assert_eq!(status["message"], "the namespace of the provided object does not match the namespace sent on the request");

        assert!(server.is_running(), "the apiserver died:\n{}", log_tail(&server));
        let (_, after) = client.get(&format!("{collection}/web")).await;
        assert_eq!((after["spec"]["replicas"].clone(), after["metadata"]["resourceVersion"].clone()), (json!(2), before["metadata"]["resourceVersion"].clone()), "{plural}: {after}");
        let (_, other) = client.get(&format!("{collection}/other")).await;
        assert_eq!(other["spec"]["replicas"], 2, "{plural}: {other}");

        // Well-formed ones still scale.
        let (code, scaled) = client.send("PATCH", &scale, "application/merge-patch+json", br#"{"spec": {"replicas": 4}}"#.to_vec()).await;
        assert_eq!((code, scaled["spec"]["replicas"].clone()), (200, json!(4)), "{plural}: {scaled}");
        let (code, scaled) = client.send("PATCH", &scale, "application/strategic-merge-patch+json", br#"{"spec": {"replicas": 1e1}}"#.to_vec()).await;
        assert_eq!((code, scaled["spec"]["replicas"].clone()), (200, json!(10)), "{plural}: {scaled}");
        let put = json!({"apiVersion": "autoscaling/v1", "kind": "Scale", "metadata": {"name": "web", "namespace": "scaling"}, "spec": {"replicas": 3}});
        let (code, scaled) = client.json("PUT", &scale, &put).await;
        assert_eq!((code, scaled["spec"]["replicas"].clone()), (200, json!(3)), "{plural}: {scaled}");
        assert_eq!(client.get(&format!("{collection}/web")).await.1["spec"]["replicas"], 3);
    }
}

async fn generated_names_keep_58_characters_of_their_prefix(storage: Storage) {
    let server = ApiServer::start(storage).unwrap_or_else(|err| panic!("starting the apiserver: {err}"));
    let client = Client::new(&server);
    // A letter the suffix's alphabet (no vowels) never draws, so that where the prefix ends shows.
    let prefix = "a".repeat(70);
    let configmap = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"generateName": prefix}});
    let (code, created) = client.json("POST", "/api/v1/namespaces/default/configmaps", &configmap).await;
    assert_eq!(code, 201, "{created}");
    let name = created["metadata"]["name"].as_str().unwrap_or_default();
    assert_eq!(name.len(), 63, "{name}");
    assert!(name.starts_with(&prefix[..58]) && !name.starts_with(&prefix[..59]), "{name}");
    assert_eq!(created["metadata"]["generateName"], prefix.as_str());
    assert_eq!(client.get(&format!("/api/v1/namespaces/default/configmaps/{name}")).await.0, 200);
}

async fn replication_controllers_are_served_as_kube_apiserver_serves_them(storage: Storage) {
    let server = ApiServer::start(storage).unwrap_or_else(|err| panic!("starting the apiserver: {err}"));
    let client = Client::new(&server);
    assert_eq!(client.json("POST", "/api/v1/namespaces", &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "rc"}})).await.0, 201);

    // Discovery lists the kind with its short name, category, verbs and subresources.
    let (code, core) = client.get("/api/v1").await;
    assert_eq!(code, 200, "{core}");
    let entry = |name: &str| core["resources"].as_array().into_iter().flatten().find(|entry| entry["name"] == name).cloned().unwrap_or_else(|| panic!("{name} is not in {core}"));
    let controllers = entry("replicationcontrollers");
    assert_eq!(
        (controllers["kind"].clone(), controllers["singularName"].clone(), controllers["namespaced"].clone(), controllers["shortNames"].clone(), controllers["categories"].clone()),
        (json!("ReplicationController"), json!("replicationcontroller"), json!(true), json!(["rc"]), json!(["all"]))
    );
    assert_eq!(controllers["verbs"], json!(["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]));
    let scale = entry("replicationcontrollers/scale");
    assert_eq!((scale["group"].clone(), scale["version"].clone(), scale["kind"].clone(), scale["verbs"].clone()), (json!("autoscaling"), json!("v1"), json!("Scale"), json!(["get", "patch", "update"])));
    assert_eq!(entry("replicationcontrollers/status")["kind"], "ReplicationController");

    // Created with only the template's labels: selector, labels and replicas are defaulted.
    let collection = "/api/v1/namespaces/rc/replicationcontrollers";
    let template = json!({"metadata": {"labels": {"app": "x"}}, "spec": {"containers": [{"name": "c", "image": "busybox:1"}]}});
    let body = json!({"apiVersion": "v1", "kind": "ReplicationController", "metadata": {"name": "x"}, "spec": {"template": template}});
    let (code, created) = client.json("POST", collection, &body).await;
    assert_eq!(code, 201, "{created}");
    assert_eq!(
        (created["spec"]["selector"].clone(), created["metadata"]["labels"].clone(), created["spec"]["replicas"].clone()),
        (json!({"app": "x"}), json!({"app": "x"}), json!(1)),
        "{created}"
    );
    assert_eq!((created["metadata"]["generation"].clone(), created["status"].clone()), (json!(1), json!({"replicas": 0})), "{created}");

    // A selector that does not match the template is refused as kube-apiserver refuses it.
    let mut bad = body.clone();
    bad["metadata"]["name"] = json!("bad");
    bad["spec"]["selector"] = json!({"app": "y"});
    let (code, status) = client.json("POST", collection, &bad).await;
    assert_eq!((code, status["reason"].as_str()), (422, Some("Invalid")), "{status}");
    assert_eq!(status["message"], "ReplicationController \"bad\" is invalid: spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"x\"}: `selector` does not match template `labels`");
    assert_eq!(status["details"]["kind"], "ReplicationController");
    assert_eq!(status["details"]["causes"], json!([{"reason": "FieldValueInvalid", "message": "Invalid value: map[string]string{\"app\":\"x\"}: `selector` does not match template `labels`", "field": "spec.template.metadata.labels"}]));
    assert_eq!(client.get(&format!("{collection}/bad")).await.0, 404);

    // The scale subresource reads and writes spec.replicas; its selector is the label map's.
    let (code, scale) = client.get(&format!("{collection}/x/scale")).await;
    assert_eq!(code, 200, "{scale}");
    assert_eq!((scale["kind"].clone(), scale["apiVersion"].clone()), (json!("Scale"), json!("autoscaling/v1")));
    assert_eq!((scale["spec"]["replicas"].clone(), scale["status"]["selector"].clone()), (json!(1), json!("app=x")), "{scale}");
    let mut put = scale.clone();
    put["spec"]["replicas"] = json!(3);
    let (code, scaled) = client.json("PUT", &format!("{collection}/x/scale"), &put).await;
    assert_eq!((code, scaled["spec"]["replicas"].clone(), scaled["status"]["selector"].clone()), (200, json!(3), json!("app=x")), "{scaled}");
    let (_, object) = client.get(&format!("{collection}/x")).await;
    assert_eq!((object["spec"]["replicas"].clone(), object["metadata"]["generation"].clone()), (json!(3), json!(2)), "{object}");
    let scaled = kubectl_binary_ok("kubectl", &server, &["-n", "rc", "scale", "rc", "x", "--replicas=2"]);
    assert_eq!(scaled.trim(), "replicationcontroller/x scaled");
    assert_eq!(client.get(&format!("{collection}/x")).await.1["spec"]["replicas"], 2);

    // The status subresource takes the controller's counts; a field selector reads them.
    let counts = json!({"status": {"replicas": 2, "fullyLabeledReplicas": 2, "readyReplicas": 1, "availableReplicas": 1, "observedGeneration": 3}});
    let (code, written) = client.send("PATCH", &format!("{collection}/x/status"), "application/merge-patch+json", counts.to_string().into_bytes()).await;
    assert_eq!((code, written["status"]["readyReplicas"].clone()), (200, json!(1)), "{written}");
    let names = |list: &Value| list["items"].as_array().into_iter().flatten().map(|item| item["metadata"]["name"].clone()).collect::<Vec<_>>();
    assert_eq!(names(&client.get(&format!("{collection}?fieldSelector=status.replicas%3D2")).await.1), [json!("x")]);
    assert!(names(&client.get(&format!("{collection}?fieldSelector=status.replicas%3D0")).await.1).is_empty());

    // The Table kubectl asks for, with kube-apiserver's columns.
    let response = client
        .http
        .get(format!("{}{collection}", client.base))
        .header("accept", "application/json;as=Table;v=v1;g=meta.k8s.io")
        .send()
        .await
        .unwrap_or_else(|err| panic!("GET the Table: {err}"));
    let table: Value = response.json().await.unwrap_or_else(|err| panic!("the Table: {err}"));
    let columns: Vec<(Value, Value)> = table["columnDefinitions"].as_array().into_iter().flatten().map(|column| (column["name"].clone(), column["priority"].clone())).collect();
    let expected: Vec<(Value, Value)> =
        [("Name", 0), ("Desired", 0), ("Current", 0), ("Ready", 0), ("Age", 0), ("Containers", 1), ("Images", 1), ("Selector", 1)].iter().map(|(name, priority)| (json!(name), json!(priority))).collect();
    assert_eq!(columns, expected, "{table}");
    let cells = table["rows"][0]["cells"].as_array().cloned().unwrap_or_default();
    assert_eq!((cells.get(..4), cells.get(5..)), (Some(&[json!("x"), json!(2), json!(2), json!(1)][..]), Some(&[json!("c"), json!("busybox:1"), json!("app=x")][..])), "{table}");
    let wide = kubectl_binary_ok("kubectl", &server, &["-n", "rc", "get", "rc", "-o", "wide"]);
    let header: Vec<&str> = wide.lines().next().unwrap_or_default().split_whitespace().collect();
    assert_eq!(header, ["NAME", "DESIRED", "CURRENT", "READY", "AGE", "CONTAINERS", "IMAGES", "SELECTOR"], "{wide}");

    // A DELETE answers with a Success Status, not the object.
    let (code, deleted) = client.send("DELETE", &format!("{collection}/x"), "", Vec::new()).await;
    assert_eq!(code, 200, "{deleted}");
    assert_eq!((deleted["kind"].clone(), deleted["status"].clone()), (json!("Status"), json!("Success")), "{deleted}");
    assert_eq!((deleted["details"]["name"].clone(), deleted["details"]["kind"].clone()), (json!("x"), json!("replicationcontrollers")), "{deleted}");
    assert_eq!(client.get(&format!("{collection}/x")).await.0, 404);
}

/// What the Python `kubernetes` client's e2e tests do with ReplicationControllers
/// (`test_replication_controller_apis`, and `create_from_yaml` with
/// `multi-resource-replication-controller.yaml`), plus its scale calls.
async fn python_client_creates_scales_and_deletes_replication_controllers(storage: Storage) {
    let server = ApiServer::start(storage).unwrap_or_else(|err| panic!("starting the apiserver: {err}"));
    let manifests = tempfile::tempdir().unwrap_or_else(|err| panic!("a temporary directory: {err}"));
    let yaml = manifests.path().join("multi-resource-replication-controller.yaml");
    let manifest = "apiVersion: v1\nkind: ReplicationController\nmetadata:\n  name: mock\nspec:\n  replicas: 1\n  selector:\n    app: mock\n  template:\n    metadata:\n      labels:\n        app: mock\n    spec:\n      containers:\n      - name: mock-container\n        image: k8s.gcr.io/pause:2.0\n        ports:\n        - containerPort: 9949\n          protocol: TCP\n";
    std::fs::write(&yaml, manifest).unwrap_or_else(|err| panic!("writing {}: {err}", yaml.display()));
    let script = r#"
import sys
from kubernetes import client, config, utils
config.load_kube_config(config_file=sys.argv[1])
api_client = client.ApiClient()
api = client.CoreV1Api(api_client)
name = "frontend-1"
rc_manifest = {
    "apiVersion": "v1", "kind": "ReplicationController",
    "metadata": {"labels": {"name": name}, "name": name},
    "spec": {"replicas": 2, "selector": {"name": name},
             "template": {"metadata": {"labels": {"name": name}},
                          "spec": {"containers": [{"image": "nginx", "name": "nginx", "ports": [{"containerPort": 80, "protocol": "TCP"}]}]}}}}
resp = api.create_namespaced_replication_controller(body=rc_manifest, namespace="default")
assert resp.metadata.name == name and resp.spec.replicas == 2, resp
resp = api.read_namespaced_replication_controller(name=name, namespace="default")
assert resp.metadata.name == name and resp.spec.replicas == 2, resp
scale = api.read_namespaced_replication_controller_scale(name=name, namespace="default")
assert scale.spec.replicas == 2 and scale.status.selector == "name=" + name, scale
scale = api.patch_namespaced_replication_controller_scale(name=name, namespace="default", body={"spec": {"replicas": 4}})
assert scale.spec.replicas == 4, scale
listed = api.list_namespaced_replication_controller("default")
assert [(item.metadata.name, item.spec.replicas) for item in listed.items] == [(name, 4)], listed.items
status = api.delete_namespaced_replication_controller(name=name, namespace="default", propagation_policy="Background")
# This client version types a DELETE's answer as a plain object: the Status as a dict.
assert status["kind"] == "Status" and status["status"] == "Success", status

utils.create_from_yaml(api_client, sys.argv[2])
ctr = api.read_namespaced_replication_controller(name="mock", namespace="default")
assert ctr.spec.selector == {"app": "mock"} and ctr.spec.replicas == 1, ctr
api.delete_namespaced_replication_controller(name="mock", namespace="default", propagation_policy="Background")
assert api.list_namespaced_replication_controller("default").items == []
print("python client OK")
"#;
    let output = Command::new("python3").arg("-c").arg(script).arg(server.kubeconfig()).arg(&yaml).output().unwrap_or_else(|err| panic!("running python3: {err}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("python client OK"),
        "python client failed:\n{stdout}\n{}\n--- apiserver log:\n{}",
        String::from_utf8_lossy(&output.stderr),
        log_tail(&server)
    );
}
