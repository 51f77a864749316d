//! OpenAPI as the real kubectl (1.33 through the dispatcher on PATH, and 1.32) reads it from the
//! real apiserver: `kubectl explain` from the v3 documents' schemas, client-side validation of
//! Lists from `/openapi/v2` in protobuf, strategic merge patches from the schemas' patch
//! extensions; and the documents themselves, their hashes and caching headers.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Command, Output};

use common::testing::{ApiServer, Storage};
use serde_json::Value;

const KUBECTL_1_32: &str = "/usr/lib/google-cloud-sdk/bin/kubectl.1.32";

/// Runs kubectl with a cache of its own, so that no document cached by another run is read.
fn kubectl(binary: &str, server: &ApiServer, cache: &std::path::Path, args: &[&str]) -> Output {
    Command::new(binary)
        .arg(format!("--kubeconfig={}", server.kubeconfig().display()))
        .arg(format!("--cache-dir={}", cache.display()))
        .args(args)
        .output()
        .expect("run kubectl")
}

fn kubectl_ok(binary: &str, server: &ApiServer, cache: &std::path::Path, args: &[&str]) -> String {
    let output = kubectl(binary, server, cache, args);
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "{binary} {args:?} failed:\n{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    stdout
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_explains_built_in_kinds() {
    let server = tokio::task::block_in_place(|| ApiServer::start(Storage::Embedded)).expect("apiserver");
    for binary in ["kubectl", KUBECTL_1_32] {
        let cache = tempfile::tempdir().unwrap();
        let spec = kubectl_ok(binary, &server, cache.path(), &["explain", "deployment.spec", "--recursive"]);
        // The fields and their types as kubectl prints them against kube-apiserver 1.33.
        for line in [
            "GROUP:      apps",
            "KIND:       Deployment",
            "FIELD: spec <DeploymentSpec>",
            "Specification of the desired behavior of the Deployment.",
            "  replicas\t<integer>",
            "  selector\t<LabelSelector> -required-",
            "  strategy\t<DeploymentStrategy>",
            "    rollingUpdate\t<RollingUpdateDeployment>",
            "      maxSurge\t<IntOrString>",
            "  template\t<PodTemplateSpec> -required-",
            "      containers\t<[]Container> -required-",
            "        livenessProbe\t<Probe>",
        ] {
            assert!(spec.contains(line), "{binary}: `explain deployment.spec --recursive` lacks {line:?}:\n{spec}");
        }
        let containers = kubectl_ok(binary, &server, cache.path(), &["explain", "pods.spec.containers"]);
        for line in [
            "KIND:       Pod",
            "FIELD: containers <[]Container>",
            "List of containers belonging to the pod.",
            "  image\t<string>",
            "    Container image name.",
            "  name\t<string> -required-",
            "  ports\t<[]ContainerPort>",
            "  resources\t<ResourceRequirements>",
        ] {
            assert!(containers.contains(line), "{binary}: `explain pods.spec.containers` lacks {line:?}:\n{containers}");
        }
        // Every group version served has its schemas: RBAC, coordination, and the core group.
        for (resource, field) in [("clusterrole.rules", "verbs\t<[]string> -required-"), ("lease.spec", "holderIdentity\t<string>"), ("services.spec", "clusterIP\t<string>")] {
            let explained = kubectl_ok(binary, &server, cache.path(), &["explain", resource]);
            assert!(explained.contains(field), "{binary}: `explain {resource}` lacks {field:?}:\n{explained}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documents_carry_full_schemas_under_hashes_that_follow_their_content() {
    let server = tokio::task::block_in_place(|| ApiServer::start(Storage::Embedded)).expect("apiserver");
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let get = |path: String, accept: &'static str| {
        let request = client.get(format!("{}{path}", server.url())).header("Accept", accept);
        async move { request.send().await.expect("request") }
    };

    let root: Value = get("/openapi/v3".into(), "application/json").await.json().await.unwrap();
    let apps = root["paths"]["apis/apps/v1"]["serverRelativeURL"].as_str().expect("apps/v1 is listed").to_string();
    let hash = apps.split_once("?hash=").map(|(_, hash)| hash.to_string()).expect("a hash");
    for listed in ["api/v1", "apis/rbac.authorization.k8s.io/v1", "apis/coordination.k8s.io/v1", "apis/authorization.k8s.io/v1", "apis/authentication.k8s.io/v1"] {
        assert!(root["paths"][listed].is_object(), "{listed} is listed: {root}");
    }

    let response = get(apps.clone(), "application/json").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["etag"].to_str().unwrap(), format!("\"{hash}\""));
    assert_eq!(response.headers()["cache-control"].to_str().unwrap(), "public, immutable");
    let document: Value = response.json().await.unwrap();
    let deployment = &document["components"]["schemas"]["io.k8s.api.apps.v1.Deployment"];
    assert_eq!(deployment["x-kubernetes-group-version-kind"], serde_json::json!([{"group": "apps", "kind": "Deployment", "version": "v1"}]));
    let containers = &document["components"]["schemas"]["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"];
    assert_eq!((containers["x-kubernetes-patch-merge-key"].as_str(), containers["x-kubernetes-list-type"].as_str()), (Some("name"), Some("map")), "{containers}");
    assert_eq!(containers["x-kubernetes-list-map-keys"], serde_json::json!(["name"]));
    let patch = &document["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"];
    assert!(patch["parameters"].as_array().unwrap().iter().any(|parameter| parameter["name"] == "fieldValidation"), "{patch}");

    // A stale hash is sent to the current one; a client holding the current one gets 304.
    let stale = get("/openapi/v3/apis/apps/v1?hash=0123".into(), "application/json").await;
    assert_eq!(stale.status(), 301);
    assert_eq!(stale.headers()["location"].to_str().unwrap(), apps);
    let cached = client.get(format!("{}{apps}", server.url())).header("If-None-Match", format!("\"{hash}\"")).send().await.unwrap();
    assert_eq!(cached.status(), 304);
    assert_eq!(get("/openapi/v3/apis/node.k8s.io/v1".into(), "application/json").await.status(), 404, "only served group versions");

    // /openapi/v2: every group version in one Swagger 2.0 document, as JSON or protobuf.
    let v2 = get("/openapi/v2".into(), "application/json").await;
    assert_eq!(v2.headers()["content-type"].to_str().unwrap(), "application/json");
    let v2: Value = v2.json().await.expect("/openapi/v2 is JSON");
    assert_eq!(v2["swagger"], "2.0");
    let spec = &v2["definitions"]["io.k8s.api.apps.v1.Deployment"]["properties"]["spec"];
    assert_eq!(spec["$ref"], "#/definitions/io.k8s.api.apps.v1.DeploymentSpec", "{spec}");
    assert!(v2["definitions"]["io.k8s.api.rbac.v1.ClusterRole"].is_object() && v2["definitions"]["io.k8s.api.core.v1.Pod"].is_object());
    assert!(v2["paths"]["/api/v1/namespaces/{namespace}/pods/{name}"]["patch"].is_object());
    let protobuf = get("/openapi/v2".into(), "application/com.github.proto-openapi.spec.v2@v1.0+protobuf").await;
    assert_eq!((protobuf.status().as_u16(), protobuf.headers()["content-type"].to_str().unwrap()), (200, "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"));
    assert!(protobuf.bytes().await.unwrap().starts_with(b"\x0a\x032.0"), "the Document's swagger field first");
    assert_eq!(get("/openapi/v2".into(), "application/vnd.kubernetes.protobuf").await.status(), 406);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_validates_lists_and_patches_by_the_served_schemas() {
    let server = tokio::task::block_in_place(|| ApiServer::start(Storage::Embedded)).expect("apiserver");
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_string()
    };
    for (binary, name) in [("kubectl", "a"), (KUBECTL_1_32, "b")] {
        let cache = tempfile::tempdir().unwrap();
        kubectl_ok(binary, &server, cache.path(), &["create", "configmap", name, "--from-literal=k=v"]);
        let mut list: Value = serde_json::from_str(&kubectl_ok(binary, &server, cache.path(), &["get", "configmap", name, "-o", "json"])).unwrap();
        list = serde_json::json!({"apiVersion": "v1", "kind": "List", "items": [list]});
        // A List is validated on the client against /openapi/v2, as with kube-apiserver: good
        // items pass with --validate=strict, an unknown field is named.
        list["items"][0]["data"]["k"] = "changed".into();
        let good = write(&format!("{name}-good.json"), &list.to_string());
        assert_eq!(kubectl_ok(binary, &server, cache.path(), &["replace", "--validate=strict", "-f", &good]), format!("configmap/{name} replaced\n"));
        list["items"][0]["bogus"] = 1.into();
        let bad = write(&format!("{name}-bad.json"), &list.to_string());
        let refused = kubectl(binary, &server, cache.path(), &["replace", "--validate=strict", "-f", &bad]);
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert!(!refused.status.success() && stderr.contains("unknown field \"bogus\" in io.k8s.api.core.v1.ConfigMap"), "{binary}: {stderr}");

        // kubectl apply computes the strategic merge patch from the schema's merge keys: the
        // port taken out of the manifest is deleted by its containerPort.
        let deployment = |port: u16| {
            format!(
                "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: web-{name}, namespace: default}}\nspec:\n  selector: {{matchLabels: {{app: web}}}}\n  template:\n    metadata: {{labels: {{app: web}}}}\n    spec:\n      containers:\n      - name: web\n        image: busybox\n        ports: [{{containerPort: {port}}}]\n"
            )
        };
        kubectl_ok(binary, &server, cache.path(), &["apply", "--validate=strict", "-f", &write("web.yaml", &deployment(80))]);
        kubectl_ok(binary, &server, cache.path(), &["apply", "--validate=strict", "-f", &write("web.yaml", &deployment(81))]);
        let ports = kubectl_ok(binary, &server, cache.path(), &["get", "deployment", &format!("web-{name}"), "-o", "jsonpath={.spec.template.spec.containers[0].ports[*].containerPort}"]);
        assert_eq!(ports, "81");
        let unknown = kubectl(binary, &server, cache.path(), &["apply", "--validate=strict", "-f", &write("web.yaml", &deployment(81).replace("  selector:", "  bogus: 1\n  selector:"))]);
        let stderr = String::from_utf8_lossy(&unknown.stderr);
        assert!(!unknown.status.success() && stderr.contains("unknown field \"spec.bogus\""), "{binary}: {stderr}");
    }
}
