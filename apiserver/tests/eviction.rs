//! `pods/eviction` through the real binary: budgets honoured with kube-apiserver 1.33's 429 and
//! message, its other answers (404, a terminating pod, two budgets, protobuf and policy/v1beta1
//! bodies), and the real `kubectl drain` cordoning a fake node, stopping at a budget with
//! kubectl's retry message, and passing once the budget's status allows.
//!
//! No disruption controller runs here: each test writes the budget's status itself, as the
//! controller would.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::testing::{ApiServer, Storage};
use http::Client;
use serde_json::{Value, json};

#[path = "support/http.rs"]
mod http;

common::on_both_stores!(evictions_honour_budgets_as_kube_apiserver_does);

const BUDGET_MESSAGE: &str = "Cannot evict pod as it would violate the pod's disruption budget.";
const PROTOBUF: &str = "application/vnd.kubernetes.protobuf";

fn log_tail(server: &ApiServer) -> String {
    let text = std::fs::read_to_string(server.log_path()).unwrap_or_default();
    let lines: Vec<&str> = text.lines().rev().take(30).collect();
    lines.into_iter().rev().collect::<Vec<_>>().join("\n")
}

impl Client {
    async fn ok(&self, method: &str, path: &str, body: &Value) -> Value {
        let (code, answer) = self.json(method, path, body).await;
        assert!((200..300).contains(&code), "{method} {path}: {code} {answer}");
        answer
    }

    async fn evict(&self, namespace: &str, name: &str, body: &Value) -> (u16, Value) {
        self.json("POST", &format!("/api/v1/namespaces/{namespace}/pods/{name}/eviction"), body).await
    }

    /// A pod bound to `node`, running and Ready (its status written as a kubelet would).
    async fn running_pod(&self, namespace: &str, name: &str, node: &str, labels: Value, grace: i64) {
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": namespace, "labels": labels,
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "owner", "uid": "8c4f3a76-6d1f-4d6e-9b6c-3c2f2b0a9d11", "controller": true}]},
            "spec": {"nodeName": node, "terminationGracePeriodSeconds": grace, "containers": [{"name": "c", "image": "busybox"}]}});
        self.ok("POST", &format!("/api/v1/namespaces/{namespace}/pods"), &pod).await;
        let status = json!({"status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}});
        let path = format!("/api/v1/namespaces/{namespace}/pods/{name}/status");
        let (code, answer) = self.send("PATCH", &path, "application/merge-patch+json", status.to_string().into_bytes()).await;
        assert_eq!(code, 200, "{answer}");
    }

    async fn budget(&self, namespace: &str, name: &str, selector: Value) {
        let budget = json!({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": name, "namespace": namespace},
            "spec": {"minAvailable": 1, "selector": {"matchLabels": selector}}});
        self.ok("POST", &format!("/apis/policy/v1/namespaces/{namespace}/poddisruptionbudgets"), &budget).await;
    }

    /// Writes the budget's status as the disruption controller would, at its generation.
    async fn allow(&self, namespace: &str, name: &str, allowed: i64, healthy: i64) {
        let path = format!("/apis/policy/v1/namespaces/{namespace}/poddisruptionbudgets/{name}");
        let (_, current) = self.get(&path).await;
        let status = json!({"status": {"observedGeneration": current["metadata"]["generation"], "disruptionsAllowed": allowed,
            "currentHealthy": healthy, "desiredHealthy": healthy - allowed, "expectedPods": healthy}});
        let (code, answer) = self.send("PATCH", &format!("{path}/status"), "application/merge-patch+json", status.to_string().into_bytes()).await;
        assert_eq!(code, 200, "{answer}");
    }
}

fn eviction(name: &str) -> Value {
    json!({"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": name}})
}

/// One length-delimited protobuf field, and a varint one.
fn field(number: u64, bytes: &[u8]) -> Vec<u8> {
    let mut out = varint((number << 3) | 2);
    out.extend(varint(bytes.len() as u64));
    out.extend_from_slice(bytes);
    out
}

fn varint_field(number: u64, value: u64) -> Vec<u8> {
    [varint(number << 3), varint(value)].concat()
}

fn varint(mut value: u64) -> Vec<u8> {
    let mut out = Vec::new();
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
    out
}

/// An Eviction as client-go encodes it in protobuf: `k8s\0`, then runtime.Unknown with the
/// type and the Eviction message (metadata = 1, deleteOptions = 2 with gracePeriodSeconds = 1).
fn protobuf_eviction(api_version: &str, name: &str, namespace: &str, grace: u64) -> Vec<u8> {
    let metadata = [field(1, name.as_bytes()), field(3, namespace.as_bytes())].concat();
    let eviction = [field(1, &metadata), field(2, &varint_field(1, grace))].concat();
    let type_meta = [field(1, api_version.as_bytes()), field(2, b"Eviction")].concat();
    [b"k8s\0".as_slice(), &field(1, &type_meta), &field(2, &eviction)].concat()
}

async fn evictions_honour_budgets_as_kube_apiserver_does(storage: Storage) {
    let server = ApiServer::start(storage).unwrap_or_else(|err| panic!("starting the apiserver: {err}"));
    let client = Client::new(&server);
    client.ok("POST", "/api/v1/nodes", &json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}})).await;

    // Discovery lists the subresource as kube-apiserver does, so that kubectl drain uses it.
    let (_, core) = client.get("/api/v1").await;
    let entry = core["resources"].as_array().into_iter().flatten().find(|entry| entry["name"] == "pods/eviction").cloned();
    assert_eq!(entry, Some(json!({"name": "pods/eviction", "singularName": "", "namespaced": true, "group": "policy", "version": "v1", "kind": "Eviction", "verbs": ["create"]})));

    // No budget: the pod goes (grace 0: at once), and the answer is kube's 201 Success.
    client.running_pod("default", "free", "n1", json!({"app": "free"}), 0).await;
    let (code, answer) = client.evict("default", "free", &eviction("free")).await;
    assert_eq!((code, answer.clone()), (201, json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201})));
    assert_eq!(client.get("/api/v1/namespaces/default/pods/free").await.0, 404);

    // A missing pod.
    let (code, answer) = client.evict("default", "nope", &eviction("nope")).await;
    assert_eq!((code, answer["reason"].as_str(), answer["message"].as_str()), (404, Some("NotFound"), Some("pods \"nope\" not found")));
    // A body naming another pod.
    let (code, answer) = client.evict("default", "free", &eviction("other")).await;
    assert_eq!((code, answer["message"].as_str()), (400, Some("name in URL does not match name in Eviction object")));

    // A budget that allows nothing: 429 with kube's message and cause.
    for index in 0..3 {
        client.running_pod("default", &format!("web-{index}"), "n1", json!({"app": "web"}), 30).await;
    }
    client.budget("default", "web", json!({"app": "web"})).await;
    client.allow("default", "web", 0, 3).await;
    let response = client.http.post(format!("{}/api/v1/namespaces/default/pods/web-0/eviction", client.base)).json(&eviction("web-0")).send().await.unwrap_or_else(|err| panic!("eviction: {err}"));
    assert_eq!(response.status().as_u16(), 429);
    assert!(response.headers().get("retry-after").is_none(), "a budget that allows nothing names no retry time");
    let answer: Value = response.json().await.unwrap_or_else(|err| panic!("a Status: {err}"));
    assert_eq!(answer, json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": BUDGET_MESSAGE, "reason": "TooManyRequests",
        "details": {"causes": [{"reason": "DisruptionBudget", "message": "The disruption budget web needs 3 healthy pods and has 3 currently"}]}, "code": 429}));
    assert!(client.get("/api/v1/namespaces/default/pods/web-0").await.1["metadata"]["deletionTimestamp"].is_null());

    // A budget that allows one: the first eviction takes it (recorded in the budget's status),
    // and the pod on its node is deleted gracefully with the DisruptionTarget condition.
    client.allow("default", "web", 1, 3).await;
    let (code, _) = client.evict("default", "web-0", &eviction("web-0")).await;
    assert_eq!(code, 201);
    let (_, budget) = client.get("/apis/policy/v1/namespaces/default/poddisruptionbudgets/web").await;
    assert_eq!(budget["status"]["disruptionsAllowed"], 0, "{budget}");
    assert!(budget["status"]["disruptedPods"]["web-0"].is_string(), "{budget}");
    let condition = budget["status"]["conditions"].as_array().into_iter().flatten().find(|condition| condition["type"] == "DisruptionAllowed").cloned().unwrap_or_default();
    assert_eq!((condition["status"].as_str(), condition["reason"].as_str()), (Some("False"), Some("InsufficientPods")), "{budget}");
    let (_, pod) = client.get("/api/v1/namespaces/default/pods/web-0").await;
    assert!(pod["metadata"]["deletionTimestamp"].is_string(), "graceful: {pod}");
    assert_eq!(pod["metadata"]["deletionGracePeriodSeconds"], 30);
    let target = pod["status"]["conditions"].as_array().into_iter().flatten().find(|condition| condition["type"] == "DisruptionTarget").cloned().unwrap_or_default();
    assert_eq!((target["status"].as_str(), target["reason"].as_str(), target["message"].as_str()), (Some("True"), Some("EvictionByEvictionAPI"), Some("Eviction API: evicting")), "{pod}");
    // The second is refused: the budget has nothing left.
    let (code, answer) = client.evict("default", "web-1", &eviction("web-1")).await;
    assert_eq!((code, answer["message"].as_str()), (429, Some(BUDGET_MESSAGE)), "{answer}");
    assert_eq!(answer["details"]["causes"][0]["message"], "The disruption budget web needs 2 healthy pods and has 3 currently");

    // A terminating pod is deleted again without the budget (which allows nothing).
    let (code, answer) = client.evict("default", "web-0", &json!({"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "web-0"}, "deleteOptions": {"gracePeriodSeconds": 0}})).await;
    assert_eq!(code, 201, "{answer}");
    assert_eq!(client.get("/api/v1/namespaces/default/pods/web-0").await.0, 404);

    // A dry run takes nothing and deletes nothing.
    client.allow("default", "web", 1, 3).await;
    let (code, _) = client.json("POST", "/api/v1/namespaces/default/pods/web-1/eviction?dryRun=All", &eviction("web-1")).await;
    assert_eq!(code, 201);
    let (_, budget) = client.get("/apis/policy/v1/namespaces/default/poddisruptionbudgets/web").await;
    assert_eq!(budget["status"]["disruptionsAllowed"], 1);
    assert!(client.get("/api/v1/namespaces/default/pods/web-1").await.1["metadata"]["deletionTimestamp"].is_null());

    // A budget status behind its spec: 429, come back in 10 s.
    let (code, answer) = client.send("PATCH", "/apis/policy/v1/namespaces/default/poddisruptionbudgets/web", "application/merge-patch+json", br#"{"spec":{"minAvailable":2}}"#.to_vec()).await;
    assert_eq!(code, 200, "{answer}");
    let response = client.http.post(format!("{}/api/v1/namespaces/default/pods/web-1/eviction", client.base)).json(&eviction("web-1")).send().await.unwrap_or_else(|err| panic!("eviction: {err}"));
    assert_eq!((response.status().as_u16(), response.headers().get("retry-after").and_then(|value| value.to_str().ok())), (429, Some("10")));
    let answer: Value = response.json().await.unwrap_or_else(|err| panic!("a Status: {err}"));
    assert_eq!(answer["details"], json!({"causes": [{"reason": "DisruptionBudget", "message": "The disruption budget web is still being processed by the server."}], "retryAfterSeconds": 10}));

    // Two budgets over one pod: kube's 500.
    client.budget("default", "web-too", json!({"app": "web"})).await;
    let (code, answer) = client.evict("default", "web-1", &eviction("web-1")).await;
    assert_eq!(code, 500, "{answer}");
    assert_eq!(answer, json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.", "code": 500}));

    // Protobuf bodies, policy/v1 and policy/v1beta1, as client-go sends them.
    for (api_version, name) in [("policy/v1", "proto-v1"), ("policy/v1beta1", "proto-v1beta1")] {
        client.running_pod("default", name, "n1", json!({"app": name}), 30).await;
        let path = format!("/api/v1/namespaces/default/pods/{name}/eviction");
        let (code, answer) = client.send("POST", &path, PROTOBUF, protobuf_eviction(api_version, name, "default", 0)).await;
        assert_eq!(code, 201, "{api_version}: {answer}");
        assert_eq!(client.get(&format!("/api/v1/namespaces/default/pods/{name}")).await.0, 404, "{api_version}: grace 0 from the body's deleteOptions");
    }
    // A JSON policy/v1beta1 body.
    client.running_pod("default", "json-v1beta1", "n1", json!({"app": "json"}), 0).await;
    let (code, answer) = client.evict("default", "json-v1beta1", &json!({"apiVersion": "policy/v1beta1", "kind": "Eviction", "metadata": {"name": "json-v1beta1"}})).await;
    assert_eq!(code, 201, "{answer}");
}

/// Runs `kubectl drain` to its end, its output in files so that a caller can watch it.
struct Drain {
    child: std::process::Child,
    stderr: std::path::PathBuf,
    stdout: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl Drain {
    fn start(server: &ApiServer, args: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap_or_else(|err| panic!("{err}"));
        let (stdout, stderr) = (dir.path().join("stdout"), dir.path().join("stderr"));
        let file = |path: &std::path::Path| std::fs::File::create(path).unwrap_or_else(|err| panic!("{err}"));
        let child = Command::new("kubectl")
            .arg(format!("--kubeconfig={}", server.kubeconfig().display()))
            .arg("drain")
            .args(args)
            .stdout(Stdio::from(file(&stdout)))
            .stderr(Stdio::from(file(&stderr)))
            .spawn()
            .unwrap_or_else(|err| panic!("running kubectl drain: {err}"));
        Self { child, stderr, stdout, _dir: dir }
    }

    fn output(&self) -> String {
        let read = |path: &std::path::Path| std::fs::read_to_string(path).unwrap_or_default();
        format!("{}{}", read(&self.stdout), read(&self.stderr))
    }

    /// Waits until its output contains `text`.
    async fn wait_for(&self, text: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !self.output().contains(text) {
            assert!(Instant::now() < deadline, "kubectl drain never printed {text:?}:\n{}", self.output());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits for it to exit; returns whether it succeeded.
    async fn finish(mut self) -> (bool, String) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait().unwrap_or_else(|err| panic!("{err}")) {
                return (status.success(), self.output());
            }
            assert!(Instant::now() < deadline, "kubectl drain did not finish:\n{}", self.output());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Drain {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_drain_stops_at_a_budget_and_passes_once_it_allows() {
    let server = ApiServer::start(Storage::Embedded).unwrap_or_else(|err| panic!("starting the apiserver: {err}"));
    let client = Client::new(&server);
    client.ok("POST", "/api/v1/nodes", &json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n2"}})).await;
    client.ok("POST", "/api/v1/nodes", &json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "other"}})).await;
    // Grace 0: with no kubelet here, a pod deleted gracefully would never go.
    for name in ["db-0", "db-1"] {
        client.running_pod("default", name, "n2", json!({"app": "db"}), 0).await;
    }
    client.running_pod("default", "elsewhere", "other", json!({"app": "db"}), 0).await;
    client.budget("default", "db", json!({"app": "db"})).await;
    client.allow("default", "db", 0, 3).await;

    // The budget allows nothing: drain cordons, retries with kubectl's message, and gives up.
    let (succeeded, output) = Drain::start(&server, &["n2", "--ignore-daemonsets", "--timeout=10s"]).finish().await;
    assert!(!succeeded, "{output}");
    assert!(output.contains("node/n2 cordoned"), "{output}");
    assert!(output.contains(&format!("error when evicting pods/\"db-0\" -n \"default\" (will retry after 5s): {BUDGET_MESSAGE}")), "{output}\n{}", log_tail(&server));
    let (_, node) = client.get("/api/v1/nodes/n2").await;
    assert_eq!(node["spec"]["unschedulable"], true);
    for name in ["db-0", "db-1"] {
        assert_eq!(client.get(&format!("/api/v1/namespaces/default/pods/{name}")).await.0, 200, "{name} stays");
    }

    // Drained again, and the budget allows two once drain is waiting on it: drain passes.
    let drain = Drain::start(&server, &["n2", "--ignore-daemonsets", "--timeout=60s"]);
    drain.wait_for(BUDGET_MESSAGE).await;
    client.allow("default", "db", 2, 3).await;
    let (succeeded, output) = drain.finish().await;
    assert!(succeeded, "{output}\n{}", log_tail(&server));
    assert!(output.contains("pod/db-0 evicted") && output.contains("pod/db-1 evicted") && output.contains("node/n2 drained"), "{output}");
    for name in ["db-0", "db-1"] {
        assert_eq!(client.get(&format!("/api/v1/namespaces/default/pods/{name}")).await.0, 404, "{name} is gone");
    }
    assert_eq!(client.get("/api/v1/namespaces/default/pods/elsewhere").await.0, 200, "a pod on another node stays");
    let (_, budget) = client.get("/apis/policy/v1/namespaces/default/poddisruptionbudgets/db").await;
    assert_eq!(budget["status"]["disruptionsAllowed"], 0, "{budget}");

    // Without evictions kubectl deletes, its DeleteOptions in protobuf (the 415 of before),
    // and budgets do not stop it.
    let (succeeded, output) = Drain::start(&server, &["other", "--ignore-daemonsets", "--disable-eviction", "--timeout=10s"]).finish().await;
    assert!(succeeded && output.contains("pod/elsewhere deleted") && output.contains("node/other drained"), "{output}\n{}", log_tail(&server));
    assert_eq!(client.get("/api/v1/namespaces/default/pods/elsewhere").await.0, 404);
}

/// A POST with a bearer token over HTTPS (curl: the test's reqwest has no TLS): the status code
/// and the body.
fn post_as(server: &ApiServer, token: &str, path: &str, body: &Value) -> (u16, Value) {
    let output = Command::new("curl")
        .arg("-s")
        .arg("--cacert")
        .arg(server.certificate_authority().unwrap_or_else(|| panic!("HTTPS")))
        .args(["-H", &format!("Authorization: Bearer {token}"), "-H", "Content-Type: application/json", "-d", &body.to_string()])
        .args(["-w", "\n%{http_code}", &format!("{}{path}", server.url())])
        .output()
        .unwrap_or_else(|err| panic!("curl: {err}"));
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let (answer, code) = text.rsplit_once('\n').unwrap_or_default();
    (code.trim().parse().unwrap_or(0), serde_json::from_str(answer).unwrap_or(Value::String(answer.to_string())))
}

/// RBAC sees an eviction as kube's authorizer does (verb create, resource pods, subresource
/// eviction): `edit` may evict, `view` may not, with kube-apiserver's 403.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rbac_authorizes_evictions_as_create_on_pods_eviction() {
    let dir = tempfile::tempdir().unwrap_or_else(|err| panic!("{err}"));
    let tokens = dir.path().join("tokens.csv");
    std::fs::write(&tokens, "admin-token,admin,1,\"system:masters\"\njane-token,jane,2\njoe-token,joe,3\n").unwrap_or_else(|err| panic!("{err}"));
    let server = ApiServer::start_https(Storage::Embedded, &[&format!("--token-auth-file={}", tokens.display()), "--authorization-mode=RBAC"])
        .unwrap_or_else(|err| panic!("starting the apiserver: {err}"));
    let admin = |path: &str, body: Value| post_as(&server, "admin-token", path, &body);
    assert_eq!(admin("/api/v1/namespaces", json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "demo"}})).0, 201);
    for (user, role) in [("jane", "view"), ("joe", "edit")] {
        let binding = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": user},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}]});
        assert_eq!(admin("/apis/rbac.authorization.k8s.io/v1/namespaces/demo/rolebindings", binding).0, 201);
    }
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}});
    let (code, answer) = admin("/api/v1/namespaces/demo/pods", pod);
    assert_eq!(code, 201, "{answer}");

    let path = "/api/v1/namespaces/demo/pods/web/eviction";
    let (code, answer) = post_as(&server, "jane-token", path, &eviction("web"));
    assert_eq!(code, 403, "{answer}");
    assert_eq!(answer["message"], "pods \"web\" is forbidden: User \"jane\" cannot create resource \"pods/eviction\" in API group \"\" in the namespace \"demo\"");
    // A grant takes a moment to reach the authorizer's caches.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (code, answer) = post_as(&server, "joe-token", path, &eviction("web"));
        if code == 201 {
            break;
        }
        assert!(code == 403 && Instant::now() < deadline, "{code} {answer}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
