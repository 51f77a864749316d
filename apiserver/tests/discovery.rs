//! Aggregated discovery (`apidiscovery.k8s.io/v2`) on the real apiserver binary: the Accept
//! headers it answers and falls back on as kube-apiserver 1.33 does, the document's shape and its
//! agreement with the legacy documents, a custom kind appearing and disappearing with its
//! definition, ETag and 304, and the real kubectl 1.33 and 1.32 asking for it, getting it, and
//! printing what they print from the legacy documents.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::testing::{ApiServer, Storage};
use serde_json::{Value, json};

const V2: &str = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";
const V2BETA1: &str = "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList";
const V2_PROTOBUF: &str = "application/vnd.kubernetes.protobuf;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";
/// What kubectl and client-go 1.33 send.
const CLIENT_GO: &str = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";
const KUBECTL_1_32: &str = "/usr/lib/google-cloud-sdk/bin/kubectl.1.32";

struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|value| value.to_str().ok()).unwrap_or_default()
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|err| panic!("not JSON ({err}): {}", String::from_utf8_lossy(&self.body)))
    }
}

async fn get(server: &ApiServer, path: &str, headers: &[(&str, &str)]) -> Answer {
    let mut request = reqwest::Client::new().get(format!("{}{path}", server.url()));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap_or_else(|err| panic!("{path}: {err}"));
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.bytes().await.map(|body| body.to_vec()).unwrap_or_default();
    Answer { status, headers, body }
}

fn start() -> ApiServer {
    tokio::task::block_in_place(|| ApiServer::start(Storage::Embedded)).expect("apiserver")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accept_headers_choose_aggregated_or_legacy_discovery_as_kube_apiserver_1_33() {
    let server = start();
    for path in ["/api", "/apis", "/apis/"] {
        for accept in [V2, CLIENT_GO, &format!("application/json,{V2}")] {
            let answer = get(&server, path, &[("accept", accept)]).await;
            assert_eq!((answer.status, answer.header("content-type")), (200, V2), "{path} with {accept}");
            assert_eq!(answer.header("vary"), "Accept");
            let document = answer.json();
            assert_eq!((document["kind"].as_str(), document["apiVersion"].as_str()), (Some("APIGroupDiscoveryList"), Some("apidiscovery.k8s.io/v2")), "{document}");
        }
        // v2beta1 is no longer served in 1.33: with plain JSON beside it, the legacy document.
        let legacy = get(&server, path, &[("accept", &format!("{V2BETA1},application/json"))]).await;
        assert_eq!((legacy.status, legacy.header("content-type")), (200, "application/json"), "{path}");
        let kind = if path == "/api" { "APIVersions" } else { "APIGroupList" };
        assert_eq!(legacy.json()["kind"], kind);
        let plain = get(&server, path, &[]).await;
        assert_eq!((plain.status, plain.json()["kind"].as_str()), (200, Some(kind)), "{path} without Accept");
        // Only v2beta1, or nothing discovery encodes: 406 with kube-apiserver's Status.
        for accept in [V2BETA1, "text/html"] {
            let refused = get(&server, path, &[("accept", accept)]).await;
            assert_eq!(refused.status, 406, "{path} with {accept}");
            assert_eq!(refused.json()["reason"], "NotAcceptable");
        }
        let protobuf = get(&server, path, &[("accept", &format!("{V2_PROTOBUF},{V2},application/json"))]).await;
        assert_eq!((protobuf.status, protobuf.header("content-type")), (200, V2_PROTOBUF), "{path}");
        assert!(protobuf.body.starts_with(b"k8s\0"), "{path}: not Kubernetes protobuf");
        let json = get(&server, path, &[("accept", V2)]).await;
        assert_eq!(protobuf.header("etag"), json.header("etag"), "the ETag is the JSON document's, whatever the encoding");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_aggregated_documents_say_what_the_legacy_ones_say() {
    let server = start();
    let core = get(&server, "/api", &[("accept", V2)]).await.json();
    let items = core["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "{core}");
    assert_eq!(items[0]["metadata"], json!({"creationTimestamp": null}), "the core group has no name");
    let pods = find_resource(&core, "", "v1", "pods").expect("pods");
    assert_eq!(pods["responseKind"], json!({"group": "", "version": "v1", "kind": "Pod"}));
    assert_eq!((pods["scope"].as_str(), pods["singularResource"].as_str()), (Some("Namespaced"), Some("pod")));
    assert_eq!(pods["shortNames"], json!(["po"]));
    let status = pods["subresources"].as_array().into_iter().flatten().find(|sub| sub["subresource"] == "status").expect("pods/status");
    assert_eq!(status, &json!({"subresource": "status", "responseKind": {"group": "", "version": "v1", "kind": "Pod"}, "verbs": ["get", "patch", "update"]}));
    let nodes = find_resource(&core, "", "v1", "nodes").expect("nodes");
    assert_eq!(nodes["scope"], "Cluster");

    let named = get(&server, "/apis", &[("accept", V2)]).await.json();
    let scale = find_resource(&named, "apps", "v1", "deployments").and_then(|deployments| {
        deployments["subresources"].as_array().into_iter().flatten().find(|sub| sub["subresource"] == "scale").cloned()
    });
    assert_eq!(scale.map(|scale| scale["responseKind"].clone()), Some(json!({"group": "autoscaling", "version": "v1", "kind": "Scale"})));

    // Every group of the legacy list, in its order with its versions, each version with the
    // legacy list's resources and subresources.
    let legacy_groups = get(&server, "/apis", &[]).await.json();
    let legacy: Vec<(String, Vec<String>)> = legacy_groups["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .map(|group| (group["name"].as_str().unwrap_or_default().to_string(), group["versions"].as_array().into_iter().flatten().map(|version| version["version"].as_str().unwrap_or_default().to_string()).collect()))
        .collect();
    let aggregated: Vec<(String, Vec<String>)> = named["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|group| (group["metadata"]["name"].as_str().unwrap_or_default().to_string(), group["versions"].as_array().into_iter().flatten().map(|version| version["version"].as_str().unwrap_or_default().to_string()).collect()))
        .collect();
    assert_eq!(aggregated, legacy);
    for (group, versions) in std::iter::once((String::new(), vec!["v1".to_string()])).chain(legacy) {
        let document = if group.is_empty() { &core } else { &named };
        for version in versions {
            let path = if group.is_empty() { format!("/api/{version}") } else { format!("/apis/{group}/{version}") };
            let list = get(&server, &path, &[]).await.json();
            let mut expected: Vec<String> = list["resources"].as_array().into_iter().flatten().map(|resource| resource["name"].as_str().unwrap_or_default().to_string()).collect();
            let mut found: Vec<String> = Vec::new();
            for resource in versions_of(document, &group, &version).and_then(|version| version["resources"].as_array().cloned()).unwrap_or_default() {
                assert!(resource["responseKind"]["version"].as_str().is_some(), "{resource}");
                let name = resource["resource"].as_str().unwrap_or_default().to_string();
                for sub in resource["subresources"].as_array().into_iter().flatten() {
                    found.push(format!("{name}/{}", sub["subresource"].as_str().unwrap_or_default()));
                }
                found.push(name);
            }
            expected.sort();
            found.sort();
            assert_eq!(found, expected, "{path}");
            let freshness = versions_of(document, &group, &version).map(|version| version["freshness"].clone());
            assert_eq!(freshness, Some(json!("Current")), "{path}");
        }
    }
}

fn versions_of<'a>(document: &'a Value, group: &str, version: &str) -> Option<&'a Value> {
    let group = document["items"].as_array()?.iter().find(|item| item["metadata"]["name"].as_str().unwrap_or_default() == group)?;
    group["versions"].as_array()?.iter().find(|entry| entry["version"] == version)
}

fn find_resource<'a>(document: &'a Value, group: &str, version: &str, resource: &str) -> Option<&'a Value> {
    versions_of(document, group, version)?["resources"].as_array()?.iter().find(|entry| entry["resource"] == resource)
}

const GADGETS: &str = r#"{
  "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
  "metadata": {"name": "gadgets.discovery.example.com"},
  "spec": {"group": "discovery.example.com", "scope": "Namespaced",
    "names": {"plural": "gadgets", "singular": "gadget", "kind": "Gadget", "shortNames": ["gd"], "categories": ["all"]},
    "versions": [
      {"name": "v1beta1", "served": true, "storage": false, "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}},
      {"name": "v1", "served": true, "storage": true, "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}},
       "subresources": {"status": {}}}
    ]}
}"#;

/// Polls the aggregated `/apis` (30 s at most) until `done` holds for it; returns it.
async fn until_apis(server: &ApiServer, what: &str, done: impl Fn(&Value) -> bool) -> Answer {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let answer = get(server, "/apis", &[("accept", V2)]).await;
        if answer.status == 200 && done(&answer.json()) {
            return answer;
        }
        assert!(Instant::now() < deadline, "aggregated discovery: {what} within 30 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Creates the Gadget definition and waits until aggregated discovery lists it; returns that
/// answer.
async fn define_gadgets(server: &ApiServer) -> Answer {
    let definition: Value = serde_json::from_str(GADGETS).expect("definition");
    let created = reqwest::Client::new().post(format!("{}/apis/apiextensions.k8s.io/v1/customresourcedefinitions", server.url())).json(&definition).send().await.expect("create");
    assert_eq!(created.status().as_u16(), 201);
    until_apis(server, "the custom group appears", |document| find_resource(document, "discovery.example.com", "v1", "gadgets").is_some()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_custom_kind_comes_and_goes_with_its_definition_and_the_etag_follows() {
    let server = start();
    let before = get(&server, "/apis", &[("accept", V2)]).await;
    let etag = before.header("etag").to_string();
    assert!(etag.len() > 2 && etag.starts_with('"') && etag.ends_with('"'), "ETag {etag:?}");
    let cached = get(&server, "/apis", &[("accept", V2), ("if-none-match", &etag)]).await;
    assert_eq!((cached.status, cached.body.len(), cached.header("etag")), (304, 0, etag.as_str()));
    let other = get(&server, "/apis", &[("accept", V2), ("if-none-match", "\"something else\"")]).await;
    assert_eq!(other.status, 200);

    let with = define_gadgets(&server).await;
    let document = with.json();
    let group = document["items"].as_array().into_iter().flatten().find(|item| item["metadata"]["name"] == "discovery.example.com").expect("group");
    let versions: Vec<&str> = group["versions"].as_array().into_iter().flatten().filter_map(|version| version["version"].as_str()).collect();
    assert_eq!(versions, ["v1", "v1beta1"], "the preferred version first");
    let gadgets = find_resource(&document, "discovery.example.com", "v1", "gadgets").expect("gadgets");
    assert_eq!(gadgets["responseKind"], json!({"group": "discovery.example.com", "version": "v1", "kind": "Gadget"}));
    assert_eq!((gadgets["singularResource"].as_str(), gadgets["scope"].as_str()), (Some("gadget"), Some("Namespaced")));
    assert_eq!((&gadgets["shortNames"], &gadgets["categories"]), (&json!(["gd"]), &json!(["all"])));
    assert_eq!(gadgets["subresources"][0]["subresource"], "status");
    assert!(find_resource(&document, "discovery.example.com", "v1beta1", "gadgets").is_some());
    let changed = with.header("etag").to_string();
    assert_ne!(changed, etag, "a new kind is a new document");
    let stale = get(&server, "/apis", &[("accept", V2), ("if-none-match", &etag)]).await;
    assert_eq!((stale.status, stale.header("etag")), (200, changed.as_str()));

    let deleted = reqwest::Client::new().delete(format!("{}/apis/apiextensions.k8s.io/v1/customresourcedefinitions/gadgets.discovery.example.com", server.url())).send().await.expect("delete");
    assert_eq!(deleted.status().as_u16(), 200);
    let without = until_apis(&server, "the custom group goes", |document| {
        !document["items"].as_array().into_iter().flatten().any(|item| item["metadata"]["name"] == "discovery.example.com")
    })
    .await;
    assert_eq!(without.header("etag"), etag, "the same document again, the same ETag");
}

/// Runs `kubectl` (`binary`) on `server` with a cache of its own; returns its stdout and stderr.
fn kubectl(binary: &str, kubeconfig: &Path, cache: &Path, args: &[&str]) -> (String, String) {
    let output = Command::new(binary)
        .arg(format!("--kubeconfig={}", kubeconfig.display()))
        .arg(format!("--cache-dir={}", cache.display()))
        .args(args)
        .output()
        .unwrap_or_else(|err| panic!("{binary}: {err}"));
    let (stdout, stderr) = (String::from_utf8_lossy(&output.stdout).into_owned(), String::from_utf8_lossy(&output.stderr).into_owned());
    assert!(output.status.success(), "{binary} {args:?} failed:\n{stderr}");
    (stdout, stderr)
}

/// A proxy in front of `server` that strips aggregated discovery from every Accept header, as
/// a server without it would answer: what kubectl prints from the legacy documents.
async fn legacy_only_proxy(server: &ApiServer) -> (String, tokio::task::JoinHandle<()>) {
    let upstream = server.url();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    let client = reqwest::Client::new();
    let app = axum::Router::new().fallback(move |request: axum::extract::Request| {
        let (client, upstream) = (client.clone(), upstream.clone());
        async move {
            let (parts, body) = request.into_parts();
            let body = axum::body::to_bytes(body, 64 << 20).await.unwrap_or_default();
            let mut forwarded = client.request(parts.method.clone(), format!("{upstream}{}", parts.uri));
            for (name, value) in &parts.headers {
                if name == "host" {
                    continue;
                }
                if name == "accept" {
                    let legacy: Vec<&str> = value.to_str().unwrap_or_default().split(',').filter(|choice| !choice.contains("apidiscovery.k8s.io")).collect();
                    forwarded = forwarded.header("accept", legacy.join(","));
                } else {
                    forwarded = forwarded.header(name.as_str(), value.as_bytes());
                }
            }
            let response = forwarded.body(body).send().await.expect("upstream");
            let mut answer = axum::http::Response::builder().status(response.status().as_u16());
            for (name, value) in response.headers() {
                answer = answer.header(name.as_str(), value.as_bytes());
            }
            answer.body(axum::body::Body::from(response.bytes().await.unwrap_or_default())).expect("response")
        }
    });
    let serving = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{address}"), serving)
}

/// Writes a kubeconfig for `server` at `path` (no credentials: the test apiserver allows all).
fn kubeconfig_for(path: std::path::PathBuf, server: &str) -> std::path::PathBuf {
    let config = format!(
        "apiVersion: v1\nkind: Config\nclusters: [{{name: c, cluster: {{server: \"{server}\"}}}}]\ncontexts: [{{name: c, context: {{cluster: c, user: u, namespace: default}}}}]\nusers: [{{name: u, user: {{}}}}]\ncurrent-context: c\n"
    );
    std::fs::write(&path, config).expect("kubeconfig");
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_reads_aggregated_discovery_and_prints_what_legacy_discovery_gives() {
    let server = start();
    define_gadgets(&server).await;
    let gadget = json!({"apiVersion": "discovery.example.com/v1", "kind": "Gadget", "metadata": {"name": "g1", "namespace": "default"}});
    let made = reqwest::Client::new().post(format!("{}/apis/discovery.example.com/v1/namespaces/default/gadgets", server.url())).json(&gadget).send().await.expect("create gadget");
    assert_eq!(made.status().as_u16(), 201);

    let (proxy, serving) = legacy_only_proxy(&server).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let direct = kubeconfig_for(dir.path().join("direct.kubeconfig"), &server.url());
    let legacy = kubeconfig_for(dir.path().join("legacy.kubeconfig"), &proxy);
    for binary in ["kubectl", KUBECTL_1_32] {
        let cache = |name: &str| dir.path().join(format!("{}-{name}", binary.replace('/', "_")));
        let (stdout, stderr) = tokio::task::block_in_place(|| kubectl(binary, &direct, &cache("aggregated"), &["api-resources", "-v=8"]));
        // -v=8 logs each request's headers and the response's.
        assert!(stderr.contains(&format!("Accept: {CLIENT_GO}")), "{binary} did not ask for aggregated discovery:\n{stderr}");
        assert!(stderr.contains(&format!("Content-Type: {V2}")), "{binary} did not get aggregated discovery:\n{stderr}");
        assert!(!stderr.contains("/api/v1?") && !stderr.contains("/apis/apps/v1?"), "{binary} read legacy lists too:\n{stderr}");
        assert!(stdout.contains("gadgets") && stdout.contains("discovery.example.com/v1 "), "{stdout}");
        let (from_legacy, legacy_log) = tokio::task::block_in_place(|| kubectl(binary, &legacy, &cache("legacy"), &["api-resources", "-v=6"]));
        assert!(legacy_log.contains("/apis/apps/v1?"), "{binary} behind the proxy should read the legacy lists:\n{legacy_log}");
        assert_eq!(stdout, from_legacy, "{binary}: api-resources from aggregated and from legacy discovery");
        let wide = tokio::task::block_in_place(|| kubectl(binary, &direct, &cache("aggregated"), &["api-resources", "-o", "wide"])).0;
        let wide_legacy = tokio::task::block_in_place(|| kubectl(binary, &legacy, &cache("legacy"), &["api-resources", "-o", "wide"])).0;
        assert_eq!(wide, wide_legacy, "{binary}: api-resources -o wide");

        // A custom kind by its short name, category and full name, found through the aggregated
        // document alone.
        let (got, log) = tokio::task::block_in_place(|| kubectl(binary, &direct, &cache("get"), &["get", "gd", "-v=6"]));
        assert!(got.contains("g1"), "{got}");
        assert!(log.contains("/apis?timeout") && log.contains("/apis/discovery.example.com/v1/namespaces/default/gadgets"), "{log}");
        assert!(!log.contains("/apis/discovery.example.com/v1?"), "{binary} read the legacy list:\n{log}");
        let (all, _) = tokio::task::block_in_place(|| kubectl(binary, &direct, &cache("get"), &["get", "all", "-o", "name"]));
        assert!(all.contains("gadget.discovery.example.com/g1"), "{all}");
        let (full, _) = tokio::task::block_in_place(|| kubectl(binary, &direct, &cache("get"), &["get", "gadgets.v1beta1.discovery.example.com", "g1", "-o", "jsonpath={.apiVersion}"]));
        assert_eq!(full, "discovery.example.com/v1beta1");
    }
    serving.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kube_rs_finds_the_same_resources_through_aggregated_and_legacy_discovery() {
    let server = start();
    define_gadgets(&server).await;
    let config = kube::Config::new(server.url().parse().expect("url"));
    let client = kube::Client::try_from(config).expect("client");
    // kube-rs names a subresource of the aggregated document with its parent's group and
    // version (`parse_v2_subresource`) and one of the legacy list with its own group: subresources
    // are compared by name, kind and verbs.
    let described = |discovery: &kube::Discovery| -> Vec<String> {
        let mut all: Vec<String> = discovery
            .groups()
            .flat_map(|group| group.versions().flat_map(|version| group.versioned_resources(version)).collect::<Vec<_>>())
            .map(|(resource, capabilities)| {
                let subresources: Vec<String> =
                    capabilities.subresources.iter().map(|(sub, caps)| format!("{}/{} {:?}", sub.plural, sub.kind, caps.operations)).collect();
                format!("{resource:?} {:?} {:?} {subresources:?}", capabilities.scope, capabilities.operations)
            })
            .collect();
        all.sort();
        all
    };
    let aggregated = kube::Discovery::new(client.clone()).run_aggregated().await.expect("aggregated discovery");
    let legacy = kube::Discovery::new(client).run().await.expect("legacy discovery");
    let (aggregated, legacy) = (described(&aggregated), described(&legacy));
    assert!(aggregated.iter().any(|entry| entry.contains("plural: \"gadgets\"") && entry.contains("version: \"v1beta1\"")), "{aggregated:#?}");
    assert_eq!(aggregated, legacy);
}
