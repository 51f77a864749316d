//! Objects that older versions let into a store and could not read back, on the embedded store
//! and on etcd: written straight into the store beside good ones, they are errors naming their
//! keys (GET 500, LIST 500 rather than a silent skip, from storage and from the watch cache), a
//! DELETE with `ignoreStoreReadErrorWithClusterBreakingPotential` removes one, and
//! `apiserver --delete-undecodable-objects` removes the rest, after which every resource lists and
//! every object reads back. And the write path now refuses those objects in the first place.

// A test that cannot set itself up fails on the spot, as the other integration tests do.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;
use std::time::{Duration, Instant};

use apiserver::storage::{EmbeddedStore, EtcdStore, Store};
use common::testing::{ApiServer, Storage, workspace_binary};
use serde_json::{Value, json};

common::on_both_stores!(unreadable_objects_are_errors_until_deleted_or_repaired);

const NAMESPACE: &str = "repair";
const CONFIGMAPS: &str = "/api/v1/namespaces/repair/configmaps";

/// Plain HTTP with the status, the JSON answer and the headers.
struct Http {
    base: String,
    client: reqwest::Client,
}

struct Answer {
    code: u16,
    body: Value,
    headers: reqwest::header::HeaderMap,
}

impl Http {
    fn new(server: &ApiServer) -> Self {
        Self { base: server.url(), client: reqwest::Client::new() }
    }

    async fn send(&self, method: &str, path: &str, content_type: &str, body: Vec<u8>) -> Answer {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("a method");
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if !body.is_empty() {
            request = request.header("content-type", content_type).body(body);
        }
        let response = request.send().await.expect("the apiserver answers");
        let code = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.json().await.unwrap_or(Value::Null);
        Answer { code, body, headers }
    }

    async fn json(&self, method: &str, path: &str, body: &Value) -> Answer {
        let bytes = if body.is_null() { Vec::new() } else { body.to_string().into_bytes() };
        self.send(method, path, "application/json", bytes).await
    }

    async fn get(&self, path: &str) -> Answer {
        self.json("GET", path, &Value::Null).await
    }

    /// Polls `path` until `done` holds for its answer (the watch cache follows the store a
    /// moment later), for up to 20 s; the last answer either way.
    async fn get_until(&self, path: &str, done: impl Fn(&Answer) -> bool) -> Answer {
        let started = Instant::now();
        loop {
            let answer = self.get(path).await;
            if done(&answer) || started.elapsed() > Duration::from_secs(20) {
                return answer;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn configmap(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": NAMESPACE}, "data": {"key": format!("value of {name}")}})
}

/// `{"f:a": {"f:a": ... {}}}`, nesting `levels` deep.
fn nested_fields(levels: usize) -> String {
    format!("{}{{}}{}", "{\"f:a\":".repeat(levels - 1), "}".repeat(levels - 1))
}

/// The bytes the apiserver stored for a ConfigMap sent with `managedFields[0].fieldsV1` nesting
/// `levels` deep, before it limited depth (admission's serialization: sorted keys, no spaces);
/// the object nests 4 levels more.
fn stored_deep_configmap(name: &str, levels: usize) -> Vec<u8> {
    format!(
        "{{\"apiVersion\":\"v1\",\"data\":{{\"a\":\"b\"}},\"kind\":\"ConfigMap\",\"metadata\":{{\"creationTimestamp\":\"2026-11-30T10:00:00Z\",\"managedFields\":[{{\"fieldsType\":\"FieldsV1\",\"fieldsV1\":{},\"manager\":\"kubectl\",\"operation\":\"Update\"}}],\"name\":\"{name}\",\"namespace\":\"{NAMESPACE}\",\"uid\":\"6a1f5c0e-0000-4000-8000-{:012}\"}}}}",
        nested_fields(levels),
        levels
    )
    .into_bytes()
}

fn configmap_key(name: &str) -> String {
    format!("/registry/core/configmaps/{NAMESPACE}/{name}")
}

/// Writes `values` straight into the apiserver's store: the embedded one with the apiserver
/// stopped (the file is its alone while it runs), etcd beside the running apiserver.
async fn write_into_store(server: &mut ApiServer, storage: Storage, values: &[(String, Vec<u8>)]) {
    match storage {
        Storage::Embedded => {
            server.stop();
            let store = EmbeddedStore::open(embedded_store_path(server)).await.expect("open the store file");
            for (key, value) in values {
                store.create(key, value.clone()).await.expect("write into the store");
            }
            drop(store);
            server.start_again().expect("the apiserver starts on the store again");
        }
        Storage::Etcd => {
            let store = EtcdStore::connect(&[etcd_endpoint(server)]).await.expect("connect to etcd");
            for (key, value) in values {
                store.create(key, value.clone()).await.expect("write into etcd");
            }
        }
    }
}

fn embedded_store_path(server: &ApiServer) -> std::path::PathBuf {
    // The harness keeps the log and the data dir side by side.
    server.log_path().parent().expect("the log is in the server's dir").join("data").join("store.redb")
}

fn etcd_endpoint(server: &ApiServer) -> String {
    server.etcd.as_ref().expect("an apiserver on etcd has its etcd").endpoint()
}

/// Runs `apiserver --delete-undecodable-objects` on the server's store (the embedded one with
/// the apiserver stopped) and returns its output; it must succeed.
fn repair(server: &mut ApiServer, storage: Storage) -> String {
    let (succeeded, text) = run_repair(server, storage);
    assert!(succeeded, "the repair failed:\n{text}");
    text
}

/// The repair's exit status and output.
fn run_repair(server: &mut ApiServer, storage: Storage) -> (bool, String) {
    let mut command = Command::new(workspace_binary("apiserver"));
    command.arg("--delete-undecodable-objects").env("RUST_LOG", "info");
    match storage {
        Storage::Embedded => {
            server.stop();
            let data_dir = embedded_store_path(server).parent().map(std::path::Path::to_path_buf).unwrap_or_default();
            command.arg("--storage=embedded").arg(format!("--data-dir={}", data_dir.display()));
        }
        Storage::Etcd => {
            command.arg("--storage=etcd").arg(format!("--etcd-servers={}", etcd_endpoint(server)));
        }
    }
    let output = command.output().expect("run the repair");
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    if storage == Storage::Embedded {
        server.start_again().expect("the apiserver starts on the repaired store");
    }
    (output.status.success(), text)
}

/// The keys a LIST's StorageReadError names, sorted.
fn named_keys(answer: &Answer) -> Vec<String> {
    let mut keys: Vec<String> = answer.body["details"]["causes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|cause| cause["field"].as_str().map(str::to_string))
        .collect();
    keys.sort();
    keys
}

fn assert_unreadable_list(answer: &Answer, resource: &str, keys: &[String], what: &str) {
    assert_eq!((answer.code, answer.body["reason"].as_str()), (500, Some("StorageReadError")), "{what}: {}", answer.body);
    assert_eq!(answer.body["message"], format!("failed to read one or more {resource} from the storage"), "{what}");
    assert_eq!(answer.body["details"]["kind"], resource, "{what}");
    assert_eq!(named_keys(answer), keys, "{what}");
}

/// Every resource the apiserver serves (with `list`), as discovery lists them: the path of its
/// list across namespaces, and the path prefix of its objects.
async fn served_resources(http: &Http) -> Vec<(String, String, bool)> {
    let mut group_versions = vec!["/api/v1".to_string()];
    for group in http.get("/apis").await.body["groups"].as_array().into_iter().flatten() {
        if let Some(version) = group["preferredVersion"]["groupVersion"].as_str() {
            group_versions.push(format!("/apis/{version}"));
        }
    }
    let mut resources = Vec::new();
    for base in group_versions {
        for resource in http.get(&base).await.body["resources"].as_array().into_iter().flatten() {
            let name = resource["name"].as_str().unwrap_or_default();
            let lists = resource["verbs"].as_array().is_some_and(|verbs| verbs.iter().any(|verb| verb == "list"));
            if !name.contains('/') && lists {
                resources.push((base.clone(), name.to_string(), resource["namespaced"].as_bool().unwrap_or(false)));
            }
        }
    }
    resources
}

/// A full read-back: every served resource lists (from storage and from the watch cache), and
/// every object listed reads back by its own path. Returns how many objects were read.
async fn read_back_everything(http: &Http) -> usize {
    let resources = served_resources(http).await;
    assert!(resources.len() >= 10, "discovery lists the served resources: {resources:?}");
    let mut objects = 0;
    for (base, plural, namespaced) in resources {
        let list = http.get(&format!("{base}/{plural}")).await;
        assert_eq!(list.code, 200, "LIST {base}/{plural}: {}", list.body);
        let cached = http.get_until(&format!("{base}/{plural}?resourceVersion=0"), |answer| answer.code == 200).await;
        assert_eq!(cached.code, 200, "LIST {base}/{plural}?resourceVersion=0: {}", cached.body);
        for item in list.body["items"].as_array().into_iter().flatten() {
            let name = item["metadata"]["name"].as_str().unwrap_or_default();
            let path = match item["metadata"]["namespace"].as_str().filter(|_| namespaced) {
                Some(namespace) => format!("{base}/namespaces/{namespace}/{plural}/{name}"),
                None => format!("{base}/{plural}/{name}"),
            };
            let got = http.get(&path).await;
            assert_eq!(got.code, 200, "GET {path}: {}", got.body);
            assert_eq!(got.body["metadata"]["uid"], item["metadata"]["uid"], "GET {path}");
            objects += 1;
        }
    }
    objects
}

async fn unreadable_objects_are_errors_until_deleted_or_repaired(storage: Storage) {
    let mut server = ApiServer::start(storage).expect("start the apiserver");
    let http = Http::new(&server);
    let namespace = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}});
    assert_eq!(http.json("POST", "/api/v1/namespaces", &namespace).await.code, 201);
    for name in ["good-1", "good-2", "good-3"] {
        assert_eq!(http.json("POST", CONFIGMAPS, &configmap(name)).await.code, 201, "create {name}");
    }

    // What older versions let in: a ConfigMap whose fieldsV1 nests 125 levels (129 in all, more
    // than serde_json reads), bytes that are not JSON at all, JSON that is not an object, and a
    // pod cut short; and beside them one nesting 106 levels (110 in all: more than any write
    // now lets in, but what older versions read back), which stays readable.
    let bad_configmaps = ["deep-125", "garbage", "array"];
    let broken_pod = format!("/registry/core/pods/{NAMESPACE}/broken");
    let values = vec![
        (configmap_key("deep-125"), stored_deep_configmap("deep-125", 125)),
        (configmap_key("deep-106"), stored_deep_configmap("deep-106", 106)),
        (configmap_key("garbage"), b"\x00\x01\x02 garbage {\"kind\": not json".to_vec()),
        (configmap_key("array"), b"[\"not\", \"an\", \"object\"]".to_vec()),
        (broken_pod.clone(), br#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"broken""#.to_vec()),
    ];
    write_into_store(&mut server, storage, &values).await;

    // GET: 500 InternalError naming the key and why.
    for name in bad_configmaps {
        let answer = http.get(&format!("{CONFIGMAPS}/{name}")).await;
        assert_eq!((answer.code, answer.body["reason"].as_str()), (500, Some("InternalError")), "GET {name}: {}", answer.body);
        let message = answer.body["message"].as_str().unwrap_or_default();
        assert!(message.contains("corrupt object") && message.contains(&configmap_key(name)), "GET {name}: {message}");
    }
    let deep = http.get(&format!("{CONFIGMAPS}/deep-125")).await;
    assert!(deep.body["message"].as_str().is_some_and(|message| message.contains("nests deeper than 127 levels") || message.contains("recursion limit exceeded")), "{}", deep.body);
    assert_eq!(http.get(&format!("{CONFIGMAPS}/deep-106")).await.code, 200, "what older versions read back still reads");
    assert_eq!(http.get(&format!("{CONFIGMAPS}/good-1")).await.code, 200, "good objects beside them read");

    // LIST: an error naming every unreadable key, from storage and from the watch cache, in the
    // namespace and across namespaces; never a list that leaves them out.
    let mut keys: Vec<String> = bad_configmaps.iter().map(|name| configmap_key(name)).collect();
    keys.sort();
    assert_unreadable_list(&http.get(CONFIGMAPS).await, "configmaps", &keys, "LIST from storage");
    assert_unreadable_list(&http.get("/api/v1/configmaps?limit=2").await, "configmaps", &keys, "LIST across namespaces, paged");
    let cached = http.get_until(&format!("{CONFIGMAPS}?resourceVersion=0"), |answer| named_keys(answer).len() == keys.len()).await;
    assert_unreadable_list(&cached, "configmaps", &keys, "LIST from the watch cache");
    assert_unreadable_list(&http.get("/api/v1/pods").await, "pods", std::slice::from_ref(&broken_pod), "LIST of pods");
    let metrics = reqwest::get(format!("{}/metrics", server.url())).await.expect("metrics").text().await.unwrap_or_default();
    assert!(
        metrics.lines().any(|line| line.starts_with("apiserver_storage_decode_errors_total{resource=\"configmaps\"} ") && !line.ends_with(" 0")),
        "the watch cache counts what it could not decode:\n{metrics}"
    );
    assert_eq!(http.get("/api/v1/namespaces/default/configmaps").await.code, 200, "other namespaces list");

    // DELETE: a plain one fails as the GET does (kube-apiserver's answer too); with
    // ignoreStoreReadErrorWithClusterBreakingPotential, as a query parameter or in
    // DeleteOptions, the object goes, and its name is free again.
    let plain = http.json("DELETE", &format!("{CONFIGMAPS}/garbage"), &Value::Null).await;
    assert_eq!(plain.code, 500, "{}", plain.body);
    let forced = http.json("DELETE", &format!("{CONFIGMAPS}/garbage?ignoreStoreReadErrorWithClusterBreakingPotential=true"), &Value::Null).await;
    assert_eq!((forced.code, forced.body["status"].as_str()), (200, Some("Success")), "{}", forced.body);
    assert_eq!(forced.body["details"]["name"], "garbage");
    assert_eq!(http.get(&format!("{CONFIGMAPS}/garbage")).await.code, 404);
    let options = json!({"apiVersion": "v1", "kind": "DeleteOptions", "ignoreStoreReadErrorWithClusterBreakingPotential": true});
    assert_eq!(http.json("DELETE", &format!("{CONFIGMAPS}/array"), &options).await.code, 200);
    assert_eq!(http.get(&format!("{CONFIGMAPS}/array")).await.code, 404);
    assert_eq!(http.json("POST", CONFIGMAPS, &configmap("garbage")).await.code, 201, "the name is free again");
    // On an object that reads fine the option changes nothing: the normal delete.
    let normal = http.json("DELETE", &format!("{CONFIGMAPS}/good-3"), &options).await;
    assert_eq!((normal.code, normal.body["details"]["uid"].is_string()), (200, true), "{}", normal.body);

    // The repair removes the rest, naming each, and leaves the good objects as they were.
    let output = repair(&mut server, storage);
    for key in [configmap_key("deep-125"), broken_pod.clone()] {
        assert!(output.lines().any(|line| line.contains("deleted an object that cannot be decoded") && line.contains(&key)), "the repair names {key}:\n{output}");
    }
    assert!(!output.contains(&configmap_key("good-1")) && !output.contains(&configmap_key("garbage")) && !output.contains(&configmap_key("deep-106")), "only the unreadable go:\n{output}");
    assert!(output.contains("2 undecodable objects deleted, 0 values that do not decrypt left in place"), "{output}");
    assert_eq!(http.get_until(&format!("{CONFIGMAPS}/deep-125"), |answer| answer.code == 404).await.code, 404, "deep-125 is gone");
    let good = http.get(&format!("{CONFIGMAPS}/good-1")).await;
    assert_eq!((good.code, good.body["data"]["key"].as_str()), (200, Some("value of good-1")));

    // And then everything reads back: every resource lists, every object reads.
    let objects = read_back_everything(&http).await;
    assert!(objects >= 8, "the system namespaces, the repair namespace and its ConfigMaps at least: {objects}");
    let listed = http.get(CONFIGMAPS).await;
    let mut names: Vec<&str> = listed.body["items"].as_array().into_iter().flatten().filter_map(|item| item["metadata"]["name"].as_str()).collect();
    names.sort();
    assert_eq!(names, vec!["deep-106", "garbage", "good-1", "good-2"]);

    // A second repair finds nothing to do.
    let again = repair(&mut server, storage);
    assert!(again.contains("0 undecodable objects deleted"), "{again}");
}

/// The requests that used to store what could not be read back, and the smaller departures of
/// issue 19, with kube-apiserver's answers. One store is enough: nothing here reaches storage.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_write_path_refuses_what_the_read_path_cannot_read() {
    let server = ApiServer::start(Storage::Embedded).expect("start the apiserver");
    let http = Http::new(&server);
    let namespace = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}});
    assert_eq!(http.json("POST", "/api/v1/namespaces", &namespace).await.code, 201);
    let deep_json = |levels: usize| {
        let mut object = configmap("deep");
        let fields: Value = serde_json::from_str(&nested_fields(levels)).expect("under serde_json's limit");
        // A whole entry, which the field manager keeps as sent (one it cannot read it replaces).
        object["metadata"]["managedFields"] = json!([{"manager": "m", "operation": "Update", "apiVersion": "v1", "fieldsType": "FieldsV1", "fieldsV1": fields}]);
        object.to_string().into_bytes()
    };
    let deep_yaml = |levels: usize| {
        // Flow style: one line of `{f:a: ` per level, as a YAML client would send it.
        let fields = format!("{}{{}}{}", "{\"f:a\": ".repeat(levels - 1), "}".repeat(levels - 1));
        format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: deep\n  managedFields:\n  - manager: m\n    operation: Update\n    fieldsType: FieldsV1\n    fieldsV1: {fields}\n").into_bytes()
    };
    let bomb = {
        let scalar = "x".repeat(256 * 1024);
        let aliases: String = (0..400).map(|index| format!("  b{index}: *a\n")).collect();
        format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bomb\ndata:\n  a: &a {scalar}\n{aliases}").into_bytes()
    };
    let cannot_handle = "ConfigMap in version \"v1\" cannot be handled as a ConfigMap";
    let rows: Vec<(&str, &str, Vec<u8>, u16, String)> = vec![
        ("application/json", "", deep_json(96), 201, String::new()),
        ("application/json", "", deep_json(97), 400, "nests deeper than 100 levels (at metadata.managedFields[0].fieldsV1.f:a.f:a".into()),
        ("application/json", "?dryRun=All", deep_json(120), 400, "nests deeper than 100 levels".into()),
        // Issue 19: 123 levels in YAML and 126 in protobuf were stored and could not be read.
        ("application/yaml", "", deep_yaml(123), 400, "nests deeper than 100 levels (at metadata.managedFields[0].fieldsV1".into()),
        ("application/yaml", "?dryRun=All", bomb, 400, "error converting YAML to JSON: yaml: document contains excessive aliasing".into()),
        (
            "application/json",
            "?fieldValidation=Strict",
            br#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"dup"},"data":{"x":"1","x":"2"}}"#.to_vec(),
            400,
            format!("{cannot_handle}: strict decoding error: duplicate field \"data.x\""),
        ),
        (
            "application/yaml",
            "?fieldValidation=Strict",
            b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: dup\n  labels:\n    a: b\n    a: c\n".to_vec(),
            400,
            format!("{cannot_handle}: strict decoding error: duplicate field \"metadata.labels.a\""),
        ),
        (
            "application/json",
            "",
            br#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"big","generation":9223372036854775808}}"#.to_vec(),
            400,
            format!("{cannot_handle}: json: cannot unmarshal number 9223372036854775808 into Go struct field ObjectMeta.metadata.generation of type int64"),
        ),
        (
            "application/json",
            "",
            br#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":7}}"#.to_vec(),
            400,
            format!("{cannot_handle}: json: cannot unmarshal number into Go struct field ObjectMeta.metadata.name of type string"),
        ),
    ];
    for (content_type, query, body, code, message) in rows {
        let answer = http.send("POST", &format!("{CONFIGMAPS}{query}"), content_type, body).await;
        let what = format!("POST {content_type} {query} expecting {code}");
        assert_eq!(answer.code, code, "{what}: {}", answer.body);
        if code != 201 {
            assert_eq!(answer.body["reason"], "BadRequest", "{what}");
            let text = answer.body["message"].as_str().unwrap_or_default();
            assert!(text.contains(&message), "{what}: {text}");
        }
    }
    assert_eq!(http.get(&format!("{CONFIGMAPS}/bomb")).await.code, 404, "nothing of the refused bodies was stored");

    // Under Warn (the default) a duplicate key is a warning, and the last value is the one kept.
    let duplicated = br#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"dup"},"data":{"x":"1","x":"2"}}"#.to_vec();
    let warned = http.send("POST", CONFIGMAPS, "application/json", duplicated).await;
    assert_eq!(warned.code, 201, "{}", warned.body);
    let warnings: Vec<&str> = warned.headers.get_all("warning").iter().filter_map(|value| value.to_str().ok()).collect();
    assert_eq!(warnings, vec!["299 - \"duplicate field \\\"data.x\\\"\""]);
    assert_eq!(warned.body["data"]["x"], "2");

    // Updates and patches are held to the same limit: a JSON patch within it that would make
    // the stored object deeper than it is refused, and the object stays as it was.
    let put = http.send("PUT", &format!("{CONFIGMAPS}/deep"), "application/json", deep_json(97)).await;
    assert_eq!(put.code, 400, "{}", put.body);
    let before = http.get(&format!("{CONFIGMAPS}/deep")).await.body["metadata"]["resourceVersion"].clone();
    let deeper: Value = serde_json::from_str(&nested_fields(20)).expect("parses");
    let path = format!("/metadata/managedFields/0/fieldsV1{}/f:b", "/f:a".repeat(95));
    let patch = json!([{"op": "add", "path": path, "value": deeper}]);
    let patched = http.send("PATCH", &format!("{CONFIGMAPS}/deep"), "application/json-patch+json", patch.to_string().into_bytes()).await;
    assert_eq!(patched.code, 400, "{}", patched.body);
    assert!(patched.body["message"].as_str().is_some_and(|message| message.contains("the object cannot be stored: the object nests deeper than 100 levels")), "{}", patched.body);
    let after = http.get(&format!("{CONFIGMAPS}/deep")).await;
    assert_eq!((after.code, &after.body["metadata"]["resourceVersion"]), (200, &before), "the object is as it was");
    let name_patch = json!({"metadata": {"name": 7}});
    let renamed = http.send("PATCH", &format!("{CONFIGMAPS}/dup"), "application/merge-patch+json", name_patch.to_string().into_bytes()).await;
    assert_eq!(renamed.code, 400, "{}", renamed.body);
}

/// kube-apiserver authorises an unsafe delete twice: `delete`, and
/// `unsafe-delete-ignore-read-errors` on the same object; a user allowed only the first gets
/// 403 and the object stays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unsafe_delete_needs_its_own_verb() {
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("tokens.csv");
    std::fs::write(&tokens, "admin-token,admin,1,\"system:masters\"\njane-token,jane,2\n").unwrap();
    let mut server = ApiServer::start_with_args(Storage::Embedded, &[&format!("--token-auth-file={}", tokens.display()), "--authorization-mode=RBAC"]).unwrap();
    let as_user = |token: &'static str| {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(reqwest::header::AUTHORIZATION, format!("Bearer {token}").parse().unwrap());
        Http { base: server.url(), client: reqwest::Client::builder().default_headers(headers).build().unwrap() }
    };
    let (admin, jane) = (as_user("admin-token"), as_user("jane-token"));
    let namespace = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}});
    assert_eq!(admin.json("POST", "/api/v1/namespaces", &namespace).await.code, 201);
    let role = |verbs: &[&str]| json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "cleaner", "namespace": NAMESPACE},
        "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": verbs}]});
    let roles = "/apis/rbac.authorization.k8s.io/v1/namespaces/repair/roles";
    assert_eq!(admin.json("POST", roles, &role(&["get", "list", "delete"])).await.code, 201);
    let binding = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "cleaner", "namespace": NAMESPACE},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "cleaner"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "jane"}]});
    assert_eq!(admin.json("POST", "/apis/rbac.authorization.k8s.io/v1/namespaces/repair/rolebindings", &binding).await.code, 201);
    write_into_store(&mut server, Storage::Embedded, &[(configmap_key("garbage"), b"garbage".to_vec())]).await;

    let unsafe_delete = format!("{CONFIGMAPS}/garbage?ignoreStoreReadErrorWithClusterBreakingPotential=true");
    let refused = jane.json("DELETE", &unsafe_delete, &Value::Null).await;
    assert_eq!(refused.code, 403, "{}", refused.body);
    assert_eq!(
        refused.body["message"],
        "configmaps \"garbage\" is forbidden: User \"jane\" cannot unsafe-delete-ignore-read-errors resource \"configmaps\" in API group \"\" in the namespace \"repair\""
    );
    assert_eq!(admin.get(&format!("{CONFIGMAPS}/garbage")).await.code, 500, "still there");

    let granted = role(&["get", "list", "delete", "unsafe-delete-ignore-read-errors"]);
    assert_eq!(admin.json("PUT", &format!("{roles}/cleaner"), &granted).await.code, 200);
    let deleted = jane.delete_once_allowed(&unsafe_delete).await;
    assert_eq!(deleted.code, 200, "{}", deleted.body);
    assert_eq!(admin.get(&format!("{CONFIGMAPS}/garbage")).await.code, 404);
}

impl Http {
    /// DELETEs `path` until it is allowed (RBAC reads roles from the watch cache, which follows
    /// the store a moment later), for up to 20 s; the last answer either way.
    async fn delete_once_allowed(&self, path: &str) -> Answer {
        let started = Instant::now();
        loop {
            let answer = self.json("DELETE", path, &Value::Null).await;
            if answer.code != 403 || started.elapsed() > Duration::from_secs(20) {
                return answer;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// A value that does not decrypt (here: encrypted, and the repair given no encryption
/// configuration) is never deleted: the repair names it, leaves it, removes the rest, and exits
/// with an error so that the store is not taken for clean.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_repair_never_deletes_what_does_not_decrypt() {
    let mut server = ApiServer::start(Storage::Embedded).unwrap();
    let http = Http::new(&server);
    let namespace = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}});
    assert_eq!(http.json("POST", "/api/v1/namespaces", &namespace).await.code, 201);
    let sealed = format!("/registry/core/secrets/{NAMESPACE}/sealed");
    let values = vec![
        (sealed.clone(), b"k8s:enc:aesgcm:v1:key1:\x8f\x02\x11 sealed bytes".to_vec()),
        (configmap_key("garbage"), b"garbage".to_vec()),
    ];
    write_into_store(&mut server, Storage::Embedded, &values).await;
    let (succeeded, output) = run_repair(&mut server, Storage::Embedded);
    assert!(!succeeded, "values left in place fail the repair:\n{output}");
    assert!(output.lines().any(|line| line.contains("left in place: the value does not decrypt") && line.contains(&sealed)), "{output}");
    assert!(output.contains("1 undecodable objects deleted, 1 values that do not decrypt left in place"), "{output}");
    assert!(output.contains("1 stored values do not decrypt with the encryption configuration given and were left in place"), "{output}");
    assert_eq!(http.get(&format!("{CONFIGMAPS}/garbage")).await.code, 404);
    let secret = http.get(&format!("/api/v1/namespaces/{NAMESPACE}/secrets/sealed")).await;
    assert_eq!(secret.code, 500, "still stored: {}", secret.body);
}
