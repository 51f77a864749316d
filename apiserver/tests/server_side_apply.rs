//! Server-side apply on the real `apiserver` binary, on both stores, driven by the clients that
//! use it: the real `kubectl` (`apply --server-side`, conflicts and `--force-conflicts`, fields
//! dropped from a manifest, two managers sharing a list, `diff --server-side`, the migration
//! from client-side apply), kube-rs' `Patch::Apply`, the Python client's dynamic
//! `server_side_apply`; bad input answered with kube-apiserver's status and leaving what is
//! stored as it was; and applies to the status and scale subresources.

use std::process::Command;

use http::Client;
use common::testing::{ApiServer, Storage};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, Patch, PatchParams};
use serde_json::{Value, json};
use widgets::{Kubectl, WIDGETS_PATH, log_tail, widget};

#[path = "support/http.rs"]
mod http;
#[path = "support/widgets.rs"]
mod widgets;

common::on_both_stores!(
    kubectl_applies_deployments_with_conflicts_force_and_pruning,
    kubectl_applies_custom_objects_and_migrates_from_client_side_apply,
    kube_rs_applies_deployments_and_config_maps,
    python_dynamic_client_applies_a_config_map,
    bad_applies_get_kubes_status_and_change_nothing,
    applies_to_status_and_scale_are_owned_as_subresources,
);

const CONFIG_MAPS: &str = "/api/v1/namespaces/default/configmaps";
const DEPLOYMENTS: &str = "/apis/apps/v1/namespaces/default/deployments";
const APPLY: &str = "application/apply-patch+yaml";

fn start(storage: Storage) -> ApiServer {
    ApiServer::start(storage).unwrap_or_else(|err| panic!("starting the apiserver: {err}"))
}

/// kubectl against `server`, whose log a failure shows.
fn kubectl(server: &ApiServer) -> Kubectl {
    Kubectl::new(server.kubeconfig(), Some(server.log_path()))
}

/// Raw HTTP, for what a client library would not send and for status codes.

impl Client {
    /// The stored object at `path`; the test fails if there is none.
    async fn object(&self, path: &str) -> Value {
        let (code, object) = self.get(path).await;
        assert_eq!(code, 200, "GET {path}: {object}");
        object
    }

    /// A server-side apply of `config` (JSON is YAML) to `path` by `manager`.
    async fn apply(&self, path: &str, manager: &str, config: &Value) -> (u16, Value) {
        self.send("PATCH", &format!("{path}?fieldManager={manager}"), APPLY, config.to_string().into_bytes()).await
    }
}

/// The managedFields entry of `manager` for `operation` on the main resource, if it has one.
fn entry<'a>(object: &'a Value, manager: &str, operation: &str) -> Option<&'a Value> {
    entries(object).iter().find(|entry| entry["manager"] == manager && entry["operation"] == operation && entry.get("subresource").is_none())
}

fn entries(object: &Value) -> &[Value] {
    object["metadata"]["managedFields"].as_array().map(Vec::as_slice).unwrap_or_default()
}

/// Whether an entry's fieldsV1 has the field at `path` (`["f:spec", "f:replicas"]`).
fn owns(entry: &Value, path: &[&str]) -> bool {
    path.iter().try_fold(&entry["fieldsV1"], |node, key| node.get(*key)).is_some()
}

fn managers(object: &Value) -> Vec<(String, String)> {
    entries(object).iter().map(|entry| (entry["manager"].as_str().unwrap_or_default().to_string(), entry["operation"].as_str().unwrap_or_default().to_string())).collect()
}

/// A Deployment of `name` running `containers` (`(name, image)`), with `extra` merged into
/// its top level (metadata, spec fields).
fn deployment(name: &str, containers: &[(&str, &str)], extra: Value) -> Value {
    let containers: Vec<Value> = containers.iter().map(|(name, image)| json!({"name": name, "image": image})).collect();
    let mut object = json!({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
        "spec": {"selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": containers}}}
    });
    merge(&mut object, &extra);
    object
}

/// `patch` merged into `target`, objects key by key and anything else replaced, for building
/// manifests.
fn merge(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(target), Value::Object(patch)) => {
            for (key, value) in patch {
                merge(target.entry(key.clone()).or_insert(Value::Null), value);
            }
        }
        (target, patch) => *target = patch.clone(),
    }
}

fn container_names(deployment: &Value) -> Vec<String> {
    let mut names: Vec<String> = deployment["spec"]["template"]["spec"]["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|container| container["name"].as_str().unwrap_or_default().to_string())
        .collect();
    names.sort();
    names
}

/// What a kubectl user does with server-side apply on a Deployment: the managed fields it
/// records, another manager's conflict and its forced takeover, a field dropped from the
/// manifest, two managers each owning one container of a list, `diff --server-side`, and
/// `get` hiding managedFields unless asked.
async fn kubectl_applies_deployments_with_conflicts_force_and_pruning(storage: Storage) {
    let server = start(storage);
    let kubectl = kubectl(&server);
    let client = Client::new(&server);
    let web = |extra: Value| deployment("web", &[("nginx", "nginx:1.27")], extra).to_string();
    let first = web(json!({"metadata": {"labels": {"team": "a"}, "annotations": {"note": "only-kubectl"}}, "spec": {"replicas": 2}}));
    let applied = kubectl.ok_with_input(&["apply", "--server-side", "-f", "-"], &first);
    assert_eq!(applied.trim(), "deployment.apps/web serverside-applied");

    // The entry as kube-apiserver writes it: fieldsV1 of the applied configuration alone, the
    // selector atomic, the container keyed by name and owned itself (`.`).
    let object = kubectl.json(&["get", "deployment", "web", "--show-managed-fields"]);
    assert_eq!(managers(&object), [("kubectl".to_string(), "Apply".to_string())], "{object}");
    let applied_entry = entry(&object, "kubectl", "Apply").unwrap_or_else(|| panic!("no kubectl Apply entry: {object}"));
    assert_eq!(applied_entry["apiVersion"], "apps/v1");
    assert_eq!(applied_entry["fieldsType"], "FieldsV1");
    assert!(applied_entry["time"].is_string(), "{applied_entry}");
    assert_eq!(
        applied_entry["fieldsV1"],
        json!({
            "f:metadata": {"f:annotations": {"f:note": {}}, "f:labels": {"f:team": {}}},
            "f:spec": {"f:replicas": {}, "f:selector": {},
                       "f:template": {"f:metadata": {"f:labels": {"f:app": {}}},
                                      "f:spec": {"f:containers": {"k:{\"name\":\"nginx\"}": {".": {}, "f:image": {}, "f:name": {}}}}}}
        }),
        "{applied_entry}"
    );
    let shown = kubectl.ok(&["get", "deployment", "web", "-o", "yaml", "--show-managed-fields"]);
    for expected in ["managedFields:", "manager: kubectl", "operation: Apply", "k:{\"name\":\"nginx\"}:", ".: {}", "f:replicas: {}"] {
        assert!(shown.contains(expected), "{expected:?} in:\n{shown}");
    }
    // kubectl hides managedFields itself unless asked.
    let hidden = kubectl.ok(&["get", "deployment", "web", "-o", "yaml"]);
    assert!(!hidden.contains("managedFields"), "{hidden}");
    assert!(hidden.contains("replicas: 2"), "{hidden}");

    // Another manager changing the replicas conflicts, and changes nothing.
    let other = web(json!({"metadata": {"labels": {"team": "a"}}, "spec": {"replicas": 5}}));
    let before = client.object(&format!("{DEPLOYMENTS}/web")).await;
    let refused = kubectl.fails(&["apply", "--server-side", "--field-manager=other", "-f", "-"], Some(&other));
    assert!(refused.contains("Apply failed with 1 conflict: conflict with \"kubectl\": .spec.replicas"), "{refused}");
    assert_eq!(client.object(&format!("{DEPLOYMENTS}/web")).await, before, "a refused apply changed the deployment");

    // Forced, it takes the replicas over; the fields both apply with equal values stay shared.
    kubectl.ok_with_input(&["apply", "--server-side", "--field-manager=other", "--force-conflicts", "-f", "-"], &other);
    let object = client.object(&format!("{DEPLOYMENTS}/web")).await;
    assert_eq!(object["spec"]["replicas"], 5, "{object}");
    let other_entry = entry(&object, "other", "Apply").unwrap_or_else(|| panic!("no entry of other: {object}"));
    let kubectl_entry = entry(&object, "kubectl", "Apply").unwrap_or_else(|| panic!("no entry of kubectl: {object}"));
    assert!(owns(other_entry, &["f:spec", "f:replicas"]), "{other_entry}");
    assert!(!owns(kubectl_entry, &["f:spec", "f:replicas"]), "{kubectl_entry}");
    for shared in [["f:spec", "f:template", "f:spec"], ["f:metadata", "f:labels", "f:team"]] {
        assert!(owns(other_entry, &shared) && owns(kubectl_entry, &shared), "{shared:?} shared: {object}");
    }

    // kubectl drops the annotation (only it applied) and the replicas (no longer its own):
    // the annotation goes, the replicas stay the other manager's.
    let third = web(json!({"metadata": {"labels": {"team": "a"}}}));
    kubectl.ok_with_input(&["apply", "--server-side", "-f", "-"], &third);
    let object = client.object(&format!("{DEPLOYMENTS}/web")).await;
    assert!(object["metadata"]["annotations"]["note"].is_null(), "the dropped annotation is still there: {object}");
    assert_eq!((&object["metadata"]["labels"]["team"], &object["spec"]["replicas"]), (&json!("a"), &json!(5)), "{object}");

    // diff --server-side shows a pending change (exit code 1) and makes none.
    let before = client.object(&format!("{DEPLOYMENTS}/web")).await;
    let pending = deployment("web", &[("nginx", "nginx:1.28")], json!({"metadata": {"labels": {"team": "a"}}})).to_string();
    let diff = kubectl.run_with_input(&["diff", "--server-side", "--force-conflicts", "-f", "-"], &pending);
    let diff_text = String::from_utf8_lossy(&diff.stdout);
    assert_eq!(diff.status.code(), Some(1), "kubectl diff: {diff_text}\n{}", String::from_utf8_lossy(&diff.stderr));
    let changed = |sign: char, image: &str| diff_text.lines().any(|line| line.starts_with(sign) && line.ends_with(&format!(" image: {image}")));
    assert!(changed('-', "nginx:1.27") && changed('+', "nginx:1.28"), "{diff_text}");
    assert_eq!(client.object(&format!("{DEPLOYMENTS}/web")).await, before, "diff changed the deployment");
    let unchanged = kubectl.run_with_input(&["diff", "--server-side", "-f", "-"], &third);
    assert_eq!(unchanged.status.code(), Some(0), "no change pending: {}", String::from_utf8_lossy(&unchanged.stdout));

    // Two managers, each applying one container of the list keyed by name.
    let main = deployment("pair", &[("main", "nginx:1.27")], json!({}));
    kubectl.ok_with_input(&["apply", "--server-side", "--field-manager=app", "-f", "-"], &main.to_string());
    let sidecar = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "pair"},
                         "spec": {"template": {"spec": {"containers": [{"name": "sidecar", "image": "busybox:1.36"}]}}}});
    kubectl.ok_with_input(&["apply", "--server-side", "--field-manager=sidecar", "-f", "-"], &sidecar.to_string());
    let object = client.object(&format!("{DEPLOYMENTS}/pair")).await;
    assert_eq!(container_names(&object), ["main", "sidecar"], "{object}");
    let containers = ["f:spec", "f:template", "f:spec", "f:containers"];
    let owner = |object: &Value, manager: &str, container: &str| {
        let key = format!("k:{{\"name\":\"{container}\"}}");
        entry(object, manager, "Apply").is_some_and(|entry| owns(entry, &[&containers[..], &[key.as_str()]].concat()))
    };
    assert!(owner(&object, "app", "main") && !owner(&object, "app", "sidecar"), "{object}");
    assert!(owner(&object, "sidecar", "sidecar") && !owner(&object, "sidecar", "main"), "{object}");
    // The first manager applying again leaves the other's container alone.
    kubectl.ok_with_input(&["apply", "--server-side", "--field-manager=app", "-f", "-"], &main.to_string());
    assert_eq!(container_names(&client.object(&format!("{DEPLOYMENTS}/pair")).await), ["main", "sidecar"]);
    // The second drops its container: only that one goes.
    let without = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "pair", "annotations": {"sidecar": "removed"}}});
    kubectl.ok_with_input(&["apply", "--server-side", "--field-manager=sidecar", "-f", "-"], &without.to_string());
    let object = client.object(&format!("{DEPLOYMENTS}/pair")).await;
    assert_eq!(container_names(&object), ["main"], "{object}");
    assert!(owner(&object, "app", "main") && !owner(&object, "sidecar", "sidecar"), "{object}");
    assert_eq!(object["metadata"]["annotations"]["sidecar"], "removed", "{object}");
}

/// kubectl's server-side apply of a custom object, and the way from client-side apply to
/// server-side apply and back.
async fn kubectl_applies_custom_objects_and_migrates_from_client_side_apply(storage: Storage) {
    let server = start(storage);
    let kubectl = kubectl(&server);
    let client = Client::new(&server);
    kubectl.create_widgets();

    let applied = kubectl.ok_with_input(&["apply", "--server-side", "-f", "-"], &widget("w1", json!({"color": "red", "size": 3})).to_string());
    assert_eq!(applied.trim(), "widget.stable.example.com/w1 serverside-applied");
    let object = kubectl.json(&["get", "widget", "w1", "--show-managed-fields"]);
    // The schema's defaults are set, and owned by no one.
    assert_eq!(object["spec"], json!({"color": "red", "size": 3, "replicas": 1, "shape": "round"}), "{object}");
    assert_eq!(managers(&object), [("kubectl".to_string(), "Apply".to_string())], "{object}");
    let applied_entry = entry(&object, "kubectl", "Apply").unwrap_or_else(|| panic!("no kubectl entry: {object}"));
    assert_eq!((&applied_entry["apiVersion"], &applied_entry["fieldsV1"]), (&json!("stable.example.com/v1"), &json!({"f:spec": {"f:color": {}, "f:size": {}}})), "{applied_entry}");
    // A second manager's change of the color conflicts; forced, it is applied.
    let blue = widget("w1", json!({"color": "blue", "size": 3})).to_string();
    let refused = kubectl.fails(&["apply", "--server-side", "--field-manager=painter", "-f", "-"], Some(&blue));
    assert!(refused.contains("Apply failed with 1 conflict: conflict with \"kubectl\": .spec.color"), "{refused}");
    kubectl.ok_with_input(&["apply", "--server-side", "--field-manager=painter", "--force-conflicts", "-f", "-"], &blue);
    let (_, object) = client.get(&format!("{WIDGETS_PATH}/w1")).await;
    assert_eq!(object["spec"]["color"], "blue", "{object}");
    assert!(entry(&object, "painter", "Apply").is_some_and(|entry| owns(entry, &["f:spec", "f:color"])), "{object}");
    assert!(entry(&object, "kubectl", "Apply").is_some_and(|entry| !owns(entry, &["f:spec", "f:color"]) && owns(entry, &["f:spec", "f:size"])), "{object}");

    // Client-side apply first: kubectl-client-side-apply updates, and the last-applied
    // annotation.
    let settings = |data: Value| json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"}, "data": data}).to_string();
    let created = kubectl.ok_with_input(&["apply", "-f", "-"], &settings(json!({"a": "1", "b": "2"})));
    assert_eq!(created.trim(), "configmap/settings created");
    let object = client.object(&format!("{CONFIG_MAPS}/settings")).await;
    assert!(entry(&object, "kubectl-client-side-apply", "Update").is_some(), "{object}");
    assert!(object["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"].is_string(), "{object}");

    // Then server-side apply of a changed manifest: a changed, b (applied before, by the same
    // user) removed, c added; the client-side entry becomes kubectl's Apply entry.
    let migrated = kubectl.ok_with_input(&["apply", "--server-side", "-f", "-"], &settings(json!({"a": "10", "c": "3"})));
    assert_eq!(migrated.trim(), "configmap/settings serverside-applied");
    let object = client.object(&format!("{CONFIG_MAPS}/settings")).await;
    assert_eq!(object["data"], json!({"a": "10", "c": "3"}), "{object}");
    assert!(!managers(&object).iter().any(|(manager, _)| manager == "kubectl-client-side-apply"), "{object}");
    let applied_entry = entry(&object, "kubectl", "Apply").unwrap_or_else(|| panic!("no kubectl Apply entry: {object}"));
    assert!(owns(applied_entry, &["f:data", "f:a"]) && owns(applied_entry, &["f:data", "f:c"]) && !owns(applied_entry, &["f:data", "f:b"]), "{applied_entry}");

    // Client-side apply keeps working after.
    let configured = kubectl.ok_with_input(&["apply", "-f", "-"], &settings(json!({"a": "10", "c": "30"})));
    assert_eq!(configured.trim(), "configmap/settings configured");
    let object = client.object(&format!("{CONFIG_MAPS}/settings")).await;
    assert_eq!(object["data"], json!({"a": "10", "c": "30"}), "{object}");
    let hidden = kubectl.ok(&["get", "configmap", "settings", "-o", "yaml"]);
    assert!(!hidden.contains("managedFields") && hidden.contains("c: \"30\""), "{hidden}");
    let shown = kubectl.ok(&["get", "configmap", "settings", "-o", "yaml", "--show-managed-fields"]);
    assert!(shown.contains("managedFields:") && shown.contains("manager: kubectl"), "{shown}");
}

/// kube-rs' `Patch::Apply`, as controllers use it: a create, then an update, of a Deployment
/// and a ConfigMap, and another manager's conflict as `kube::Error::Api`.
async fn kube_rs_applies_deployments_and_config_maps(storage: Storage) {
    let server = start(storage);
    let url = server.url().parse().unwrap_or_else(|err| panic!("the apiserver's URL: {err}"));
    let client = kube::Client::try_from(kube::Config::new(url)).unwrap_or_else(|err| panic!("a client: {err}"));
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let typed = |value: Value| -> Deployment { serde_json::from_value(value).unwrap_or_else(|err| panic!("a Deployment: {err}")) };
    let absent = deployments.get("rs-web").await;
    assert!(matches!(absent, Err(kube::Error::Api(ref status)) if status.code == 404), "{absent:?}");

    let first = typed(deployment("rs-web", &[("web", "nginx:1.27")], json!({"spec": {"replicas": 2}})));
    let created = deployments
        .patch("rs-web", &PatchParams::apply("x").force(), &Patch::Apply(&first))
        .await
        .unwrap_or_else(|err| panic!("applying a new deployment: {err}"));
    assert_eq!((created.metadata.generation, created.spec.as_ref().and_then(|spec| spec.replicas)), (Some(1), Some(2)));
    let uid = created.metadata.uid.clone().unwrap_or_else(|| panic!("no uid: {created:?}"));
    let created_json = serde_json::to_value(&created).unwrap_or_else(|err| panic!("{err}"));
    let x = entry(&created_json, "x", "Apply").unwrap_or_else(|| panic!("no Apply entry of x: {created_json}"));
    assert!(owns(x, &["f:spec", "f:replicas"]) && owns(x, &["f:spec", "f:template", "f:spec", "f:containers", "k:{\"name\":\"web\"}", "f:image"]), "{x}");

    let second = typed(deployment("rs-web", &[("web", "nginx:1.28")], json!({"spec": {"replicas": 3}})));
    let updated = deployments
        .patch("rs-web", &PatchParams::apply("x").force(), &Patch::Apply(&second))
        .await
        .unwrap_or_else(|err| panic!("applying a change: {err}"));
    assert_eq!(updated.metadata.uid.as_deref(), Some(uid.as_str()), "an update, not a new object");
    assert_eq!((updated.metadata.generation, updated.spec.as_ref().and_then(|spec| spec.replicas)), (Some(2), Some(3)));
    let image = updated.spec.as_ref().and_then(|spec| spec.template.spec.as_ref()).and_then(|pod| pod.containers.first()).and_then(|container| container.image.clone());
    assert_eq!(image.as_deref(), Some("nginx:1.28"));
    let managed = updated.metadata.managed_fields.clone().unwrap_or_default();
    assert_eq!(managed.iter().map(|entry| (entry.manager.as_deref(), entry.operation.as_deref())).collect::<Vec<_>>(), [(Some("x"), Some("Apply"))]);

    // Another manager's apply of other replicas, not forced: 409 Conflict, nothing changed.
    let third = typed(deployment("rs-web", &[("web", "nginx:1.28")], json!({"spec": {"replicas": 4}})));
    let refused = deployments.patch("rs-web", &PatchParams::apply("y"), &Patch::Apply(&third)).await;
    match refused {
        Err(kube::Error::Api(status)) => {
            assert_eq!((status.code, status.reason.as_str()), (409, "Conflict"), "{status:?}");
            assert_eq!(status.message, "Apply failed with 1 conflict: conflict with \"x\": .spec.replicas");
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    let after = deployments.get("rs-web").await.unwrap_or_else(|err| panic!("reading the deployment: {err}"));
    assert_eq!(after.metadata.resource_version, updated.metadata.resource_version, "a refused apply wrote");

    let config_maps: Api<ConfigMap> = Api::namespaced(client, "default");
    let settings = |value: &str| -> ConfigMap {
        serde_json::from_value(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "rs-settings"}, "data": {"mode": value}}))
            .unwrap_or_else(|err| panic!("a ConfigMap: {err}"))
    };
    let created = config_maps.patch("rs-settings", &PatchParams::apply("x"), &Patch::Apply(&settings("fast"))).await.unwrap_or_else(|err| panic!("applying a config map: {err}"));
    let updated = config_maps.patch("rs-settings", &PatchParams::apply("x"), &Patch::Apply(&settings("slow"))).await.unwrap_or_else(|err| panic!("applying a change: {err}"));
    assert_eq!(updated.metadata.uid, created.metadata.uid);
    assert_eq!(updated.data.as_ref().and_then(|data| data.get("mode")).map(String::as_str), Some("slow"));
    let updated_json = serde_json::to_value(&updated).unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(entry(&updated_json, "x", "Apply").map(|entry| &entry["fieldsV1"]), Some(&json!({"f:data": {"f:mode": {}}})), "{updated_json}");
}

/// The Python client's `DynamicClient.server_side_apply`, run as its users run it.
async fn python_dynamic_client_applies_a_config_map(storage: Storage) {
    let server = start(storage);
    let client = Client::new(&server);
    // The dynamic client caches discovery in a file; this one goes with the test.
    let cache = tempfile::Builder::new().prefix("python-discovery-").tempdir().unwrap_or_else(|err| panic!("a cache directory: {err}"));
    let output = Command::new("python3")
        .arg("-c")
        .arg(PYTHON)
        .arg(server.kubeconfig())
        .arg(cache.path().join("discovery.json"))
        .output()
        .unwrap_or_else(|err| panic!("running python3: {err}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("python server-side apply OK"),
        "python failed:\n{stdout}\n{}\n--- apiserver log:\n{}",
        String::from_utf8_lossy(&output.stderr),
        log_tail(&server.log_path())
    );
    let object = client.object(&format!("{CONFIG_MAPS}/py-settings")).await;
    assert_eq!(object["data"], json!({"greeting": "hola", "lang": "en"}), "{object}");
    assert!(object["metadata"]["labels"]["from"].is_null(), "the label py dropped is still there: {object}");
    // py keeps what the forced apply did not take.
    let py = entry(&object, "py", "Apply").unwrap_or_else(|| panic!("no Apply entry of py: {object}"));
    assert_eq!((&py["apiVersion"], &py["fieldsV1"]), (&json!("v1"), &json!({"f:data": {"f:lang": {}}})), "{py}");
    let other = entry(&object, "other", "Apply").unwrap_or_else(|| panic!("no Apply entry of other: {object}"));
    assert_eq!(other["fieldsV1"], json!({"f:data": {"f:greeting": {}}}), "{other}");
}

const PYTHON: &str = r#"
import json, sys
from kubernetes import client, config, dynamic
from kubernetes.client.rest import ApiException
config.load_kube_config(config_file=sys.argv[1])
dyn = dynamic.DynamicClient(client.ApiClient(), cache_file=sys.argv[2])
config_maps = dyn.resources.get(api_version="v1", kind="ConfigMap")

def body(data, labels=None):
    metadata = {"name": "py-settings"}
    if labels:
        metadata["labels"] = labels
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": data}

def py_entry(obj):
    return [e for e in obj["metadata"].get("managedFields", []) if e["manager"] == "py"]

created = config_maps.server_side_apply(body=body({"greeting": "hello", "lang": "en"}, {"from": "python"}), field_manager="py", namespace="default").to_dict()
assert created["data"] == {"greeting": "hello", "lang": "en"} and created["metadata"]["labels"] == {"from": "python"}, created
entries = py_entry(created)
assert len(entries) == 1 and entries[0]["operation"] == "Apply" and entries[0]["apiVersion"] == "v1", entries
assert entries[0]["fieldsV1"] == {"f:data": {"f:greeting": {}, "f:lang": {}}, "f:metadata": {"f:labels": {"f:from": {}}}}, entries

# The label dropped from the configuration goes.
updated = config_maps.server_side_apply(body=body({"greeting": "bonjour", "lang": "en"}), field_manager="py", namespace="default").to_dict()
assert updated["data"] == {"greeting": "bonjour", "lang": "en"} and not updated["metadata"].get("labels"), updated
assert updated["metadata"]["uid"] == created["metadata"]["uid"], updated

# Another manager: a conflict, then forced.
try:
    config_maps.server_side_apply(body=body({"greeting": "hola"}), field_manager="other", namespace="default")
    raise AssertionError("a conflicting apply succeeded")
except ApiException as error:
    assert error.status == 409, (error.status, error.body)
    assert json.loads(error.body)["message"] == 'Apply failed with 1 conflict: conflict with "py": .data.greeting', error.body
forced = config_maps.server_side_apply(body=body({"greeting": "hola"}), field_manager="other", namespace="default", force_conflicts=True).to_dict()
assert forced["data"] == {"greeting": "hola", "lang": "en"}, forced
assert config_maps.get(name="py-settings", namespace="default").data.greeting == "hola"
print("python server-side apply OK")
"#;

/// One request that must be refused, and how kube-apiserver refuses it.
struct Refusal {
    case: &'static str,
    method: &'static str,
    path: String,
    content_type: &'static str,
    body: Vec<u8>,
    code: u16,
    reason: &'static str,
    /// The status message, or (when `exact` is false) a part of it.
    message: String,
    exact: bool,
}

#[allow(clippy::too_many_arguments)]
fn refusal(case: &'static str, method: &'static str, path: String, content_type: &'static str, body: impl Into<Vec<u8>>, code: u16, reason: &'static str, message: &str) -> Refusal {
    Refusal { case, method, path, content_type, body: body.into(), code, reason, message: message.to_string(), exact: true }
}

/// Bad applies and writes of managedFields: each answered as kube-apiserver 1.33 answers it,
/// and what is stored unchanged after it (resourceVersion and content). Then the writes of
/// managedFields kube accepts: an undecodable entry in an update (ignored), and 10,000
/// entries (capped at ten updaters, the oldest folded into `ancient-changes`).
async fn bad_applies_get_kubes_status_and_change_nothing(storage: Storage) {
    let mut server = start(storage);
    let client = Client::new(&server);
    let config_map = |name: &str, extra: Value| {
        let mut object = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"k": "v"}});
        merge(&mut object, &extra);
        object
    };
    let target = format!("{CONFIG_MAPS}/target");
    // An apply to an absent object creates it (201); the same apply again changes nothing and
    // writes nothing (200, the same resourceVersion); a changed one updates (200).
    let (code, created) = client.apply(&target, "owner", &config_map("target", json!({}))).await;
    assert_eq!(code, 201, "{created}");
    let (code, again) = client.apply(&target, "owner", &config_map("target", json!({}))).await;
    assert_eq!((code, &again["metadata"]["resourceVersion"]), (200, &created["metadata"]["resourceVersion"]), "a no-op apply wrote: {again}");
    let (code, updated) = client.apply(&target, "owner", &config_map("target", json!({"data": {"k": "v", "k2": "v2"}}))).await;
    assert_eq!((code, &updated["data"]["k2"]), (200, &json!("v2")), "{updated}");
    let frozen = format!("{CONFIG_MAPS}/frozen");
    let (code, answer) = client.apply(&frozen, "owner", &config_map("frozen", json!({"immutable": true}))).await;
    assert_eq!(code, 201, "{answer}");
    let web = format!("{DEPLOYMENTS}/web");
    let (code, answer) = client.apply(&web, "owner", &deployment("web", &[("web", "nginx:1.27")], json!({}))).await;
    assert_eq!(code, 201, "{answer}");

    let yaml = |text: &str| text.as_bytes().to_vec();
    let json_body = |value: Value| value.to_string().into_bytes();
    let apply_to = |path: &str, manager: &str| format!("{path}?fieldManager={manager}");
    let long_manager = "m".repeat(129);
    let mut rows = vec![
        refusal(
            "an apply without fieldManager",
            "PATCH", target.clone(), APPLY, json_body(config_map("target", json!({}))),
            422, "Invalid", "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch",
        ),
        refusal(
            "a fieldManager of 129 bytes",
            "PATCH", apply_to(&target, &long_manager), APPLY, json_body(config_map("target", json!({}))),
            422, "Invalid", "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Too long: may not be more than 128 bytes",
        ),
        refusal(
            "force on a merge patch",
            "PATCH", format!("{target}?force=true"), "application/merge-patch+json", json_body(json!({"data": {"k": "changed"}})),
            422, "Invalid", "PatchOptions.meta.k8s.io \"\" is invalid: force: Forbidden: may not be specified for non-apply patch",
        ),
        // kube-apiserver 1.33's field manager checks the configuration's group, version and
        // kind first (`versionCheckManager`, the outermost of its managers), before the
        // structured merge's own "Incorrect version specified in apply patch".
        refusal(
            "an apply without apiVersion",
            "PATCH", apply_to(&target, "owner"), APPLY, yaml("kind: ConfigMap\nmetadata:\n  name: target\ndata:\n  k: changed\n"),
            400, "BadRequest", "invalid object type: /, Kind=ConfigMap",
        ),
        refusal(
            "an apply of another version",
            "PATCH", apply_to(&target, "owner"), APPLY, yaml("apiVersion: apps/v1\nkind: ConfigMap\nmetadata:\n  name: target\ndata:\n  k: changed\n"),
            400, "BadRequest", "invalid object type: apps/v1, Kind=ConfigMap",
        ),
        refusal(
            "an apply of another kind",
            "PATCH", apply_to(&target, "owner"), APPLY, yaml("apiVersion: v1\nkind: Secret\nmetadata:\n  name: target\nstringData:\n  k: changed\n"),
            400, "BadRequest", "invalid object type: /v1, Kind=Secret",
        ),
        // The name is checked on the merged object, as kube's patch handler checks it
        // (`checkName`): an empty one is "undeterminable".
        refusal(
            "an apply naming another object",
            "PATCH", apply_to(&target, "owner"), APPLY, json_body(config_map("other", json!({"data": {"k": "changed"}}))),
            400, "BadRequest", "the name of the object (other) does not match the name on the URL (target)",
        ),
        refusal(
            "an apply creating an object without a name",
            "PATCH", apply_to(&format!("{CONFIG_MAPS}/absent"), "owner"), APPLY, yaml("apiVersion: v1\nkind: ConfigMap\ndata:\n  k: v\n"),
            400, "BadRequest", "the name of the object (absent based on URL) was undeterminable: name must be provided",
        ),
        refusal(
            "an apply in another namespace",
            "PATCH", apply_to(&target, "owner"), APPLY, json_body(config_map("target", json!({"metadata": {"namespace": "kube-system"}, "data": {"k": "changed"}}))),
            400, "BadRequest", "the namespace of the provided object does not match the namespace sent on the request",
        ),
        refusal(
            "an apply carrying managedFields",
            "PATCH", apply_to(&target, "owner"), APPLY,
            json_body(config_map("target", json!({"metadata": {"managedFields": [{"manager": "owner", "operation": "Apply", "apiVersion": "v1", "fieldsType": "FieldsV1", "fieldsV1": {}}]}, "data": {"k": "changed"}}))),
            400, "BadRequest", "metadata.managedFields must be nil",
        ),
        refusal(
            "a change of an immutable config map's data",
            "PATCH", apply_to(&frozen, "owner"), APPLY, json_body(config_map("frozen", json!({"immutable": true, "data": {"k": "changed"}}))),
            422, "Invalid", "ConfigMap \"frozen\" is invalid: data: Forbidden: field is immutable when `immutable` is set",
        ),
        refusal(
            "another manager's change of an owned field",
            "PATCH", apply_to(&target, "intruder"), APPLY, json_body(config_map("target", json!({"data": {"k": "changed"}}))),
            409, "Conflict", "Apply failed with 1 conflict: conflict with \"owner\": .data.k",
        ),
    ];
    // YAML that does not parse: kube's `error decoding YAML: ...` names the line (the tab).
    rows.push(Refusal {
        exact: false,
        ..refusal(
            "malformed YAML",
            "PATCH", apply_to(&target, "owner"), APPLY, yaml("apiVersion: v1\nkind: ConfigMap\nmetadata:\n\tname: target\n"),
            400, "BadRequest", "error decoding YAML: ",
        )
    });
    // A Deployment's selector is immutable (`ValidateDeploymentUpdate`).
    rows.push(Refusal {
        exact: false,
        ..refusal(
            "a change of a deployment's selector",
            "PATCH", apply_to(&web, "owner"), APPLY,
            json_body(deployment("web", &[("web", "nginx:1.27")], json!({"spec": {"selector": {"matchLabels": {"app": "other"}}, "template": {"metadata": {"labels": {"app": "other"}}}}}))),
            422, "Invalid", "field is immutable",
        )
    });

    // Every row is tried, and what differs from kube reported together at the end.
    let mut failures = Vec::new();
    let stored = [target.as_str(), frozen.as_str(), web.as_str()];
    for row in rows {
        let mut before = Vec::new();
        for path in stored {
            before.push(client.object(path).await);
        }
        let (code, status) = client.send(row.method, &row.path, row.content_type, row.body.clone()).await;
        let case = row.case;
        let message = status["message"].as_str().unwrap_or_default();
        let as_expected = (code, status["reason"].as_str().unwrap_or_default()) == (row.code, row.reason)
            && (&status["kind"], &status["status"]) == (&json!("Status"), &json!("Failure"))
            && if row.exact { message == row.message } else { message.contains(&row.message) }
            && (case != "malformed YAML" || message.contains("line 4"))
            && (case != "a change of a deployment's selector" || (message.starts_with("Deployment.apps \"web\" is invalid: ") && message.contains("spec.selector")));
        if !as_expected {
            failures.push(format!("{case}: expected {} {} {:?}, got {code} {status}", row.code, row.reason, row.message));
        }
        for (path, before) in stored.iter().zip(before) {
            let after = client.object(path).await;
            if after != before {
                failures.push(format!("{case} changed {path}: {before} became {after}"));
            }
        }
        if client.get(&format!("{CONFIG_MAPS}/absent")).await.0 != 404 {
            failures.push(format!("{case} created an object"));
        }
    }
    assert!(server.is_running(), "the apiserver died:\n{}", log_tail(&server.log_path()));

    // A PUT whose managedFields cannot be decoded (an operation kube does not know): kube
    // keeps the stored ones (`decodeLiveOrNew`) and records the update on top.
    let stored_entries = entries(&client.object(&target).await).to_vec();
    let mut put = client.object(&target).await;
    put["metadata"]["managedFields"] = json!([{"manager": "bogus", "operation": "Bogus", "apiVersion": "v1", "fieldsType": "FieldsV1", "fieldsV1": {"f:data": {}}}]);
    put["data"]["k3"] = json!("v3");
    let (code, answer) = client.json("PUT", &format!("{target}?fieldManager=putter"), &put).await;
    assert_eq!(code, 200, "{answer}");
    let object = client.object(&target).await;
    assert_eq!(object["data"]["k3"], "v3", "{object}");
    assert_eq!(managers(&object), [("owner".to_string(), "Apply".to_string()), ("putter".to_string(), "Update".to_string())], "{object}");
    assert_eq!(entries(&object)[0], stored_entries[0], "the stored entry changed");
    let putter = entry(&object, "putter", "Update").unwrap_or_else(|| panic!("no putter entry: {object}"));
    assert_eq!(putter["fieldsV1"], json!({"f:data": {"f:k3": {}}}), "{putter}");

    // 10,000 update managers, in a PUT and in a create: kube keeps ten update entries, the
    // oldest (by time, then name) folded into `ancient-changes` (`capManagersManager`).
    let crowd = |field: &dyn Fn(usize) -> String| -> Value {
        (0..10_000)
            .map(|index| {
                json!({"manager": format!("m{index:05}"), "operation": "Update", "apiVersion": "v1", "time": "2020-01-01T00:00:00Z",
                       "fieldsType": "FieldsV1", "fieldsV1": {"f:data": {field(index): {}}}})
            })
            .collect()
    };
    let capped = |object: &Value, writer: &str| {
        let updaters: Vec<String> = managers(object).into_iter().filter(|(_, operation)| operation == "Update").map(|(manager, _)| manager).collect();
        let mut expected: Vec<String> = ["ancient-changes".to_string(), writer.to_string()].into_iter().chain((9992..10_000).map(|index| format!("m{index:05}"))).collect();
        expected.sort();
        let mut sorted = updaters.clone();
        sorted.sort();
        assert_eq!(sorted, expected, "the update entries kept: {updaters:?}");
        let ancient = entry(object, "ancient-changes", "Update").unwrap_or_else(|| panic!("no ancient-changes entry"));
        assert_eq!(ancient["apiVersion"], "v1", "{ancient}");
        ancient["fieldsV1"].clone()
    };
    // The PUT: every one of them owns data.k, which it leaves as it is.
    let mut put = client.object(&target).await;
    put["metadata"]["managedFields"] = crowd(&|_| "f:k".to_string());
    put["data"]["k4"] = json!("v4");
    let (code, answer) = client.json("PUT", &format!("{target}?fieldManager=crowd-putter"), &put).await;
    assert_eq!(code, 200, "{}", answer["message"]);
    let object = client.object(&target).await;
    assert_eq!(object["data"]["k4"], "v4");
    assert_eq!(capped(&object, "crowd-putter"), json!({"f:data": {"f:k": {}}}));
    assert_eq!(entry(&object, "crowd-putter", "Update").map(|entry| &entry["fieldsV1"]), Some(&json!({"f:data": {"f:k4": {}}})), "{object}");
    // The create: each owns a field of its own that the object does not have (what a create
    // sets is taken from every other manager, and a manager left with nothing is dropped).
    let mut crowded = config_map("crowded", json!({}));
    crowded["metadata"]["managedFields"] = crowd(&|index| format!("f:x{index:05}"));
    let (code, answer) = client.json("POST", &format!("{CONFIG_MAPS}?fieldManager=crowd-creator"), &crowded).await;
    assert_eq!(code, 201, "{}", answer["message"]);
    let object = client.object(&format!("{CONFIG_MAPS}/crowded")).await;
    let ancient = capped(&object, "crowd-creator");
    let folded = ancient["f:data"].as_object().map(|fields| fields.len());
    assert_eq!(folded, Some(9992), "the fields of m00000 to m09991");
    assert!(ancient["f:data"].get("f:x09991").is_some() && ancient["f:data"].get("f:x09992").is_none(), "m09991 folded, m09992 kept");
    assert_eq!(entry(&object, "m09999", "Update").map(|entry| &entry["fieldsV1"]), Some(&json!({"f:data": {"f:x09999": {}}})));
    assert_eq!(entry(&object, "crowd-creator", "Update").map(|entry| &entry["fieldsV1"]), Some(&json!({"f:data": {".": {}, "f:k": {}}})), "{object}");
    assert!(server.is_running(), "the apiserver died:\n{}", log_tail(&server.log_path()));

    // A configuration without a name for an object that exists is merged into it: the merged
    // object keeps the stored name, which is the URL's, so kube's `checkName` passes.
    let (code, answer) = client.send("PATCH", &apply_to(&target, "nameless"), APPLY, yaml("apiVersion: v1\nkind: ConfigMap\ndata:\n  k6: v6\n")).await;
    let nameless = entry(&answer, "nameless", "Apply").map(|entry| entry["fieldsV1"].clone());
    if (code, &answer["data"]["k6"], &answer["metadata"]["name"], nameless) != (200, &json!("v6"), &json!("target"), Some(json!({"f:data": {"f:k6": {}}}))) {
        failures.push(format!("an apply without a name to an existing object: expected 200, merged, got {code} {answer}"));
    }
    assert!(failures.is_empty(), "{} of the bad-input cases differ from kube:\n{}", failures.len(), failures.join("\n"));
}

/// Applies to a Deployment's status and scale subresources: entries of their own, owning only
/// what the subresource writes, and conflicts named with the subresource.
async fn applies_to_status_and_scale_are_owned_as_subresources(storage: Storage) {
    let server = start(storage);
    let client = Client::new(&server);
    let path = format!("{DEPLOYMENTS}/scaled");
    let main = |replicas: Option<i64>| {
        let spec = replicas.map(|replicas| json!({"spec": {"replicas": replicas}})).unwrap_or_else(|| json!({}));
        deployment("scaled", &[("web", "nginx:1.27")], spec)
    };
    let (code, created) = client.apply(&path, "main", &main(None)).await;
    assert_eq!((code, &created["spec"]["replicas"]), (201, &json!(1)), "{created}");

    // Scale: an autoscaling/v1 Scale configuration; the entry is on the Deployment, with
    // `subresource: scale`, owning the replicas.
    let scale = json!({"apiVersion": "autoscaling/v1", "kind": "Scale", "metadata": {"name": "scaled"}, "spec": {"replicas": 3}});
    let (code, answer) = client.apply(&format!("{path}/scale"), "sc", &scale).await;
    assert_eq!((code, &answer["kind"], &answer["spec"]["replicas"]), (200, &json!("Scale"), &json!(3)), "{answer}");
    let object = client.object(&path).await;
    assert_eq!(object["spec"]["replicas"], 3, "{object}");
    let sc = entries(&object).iter().find(|entry| entry["manager"] == "sc").unwrap_or_else(|| panic!("no entry of sc: {object}"));
    assert_eq!(
        (&sc["operation"], &sc["subresource"], &sc["apiVersion"], &sc["fieldsV1"]),
        (&json!("Apply"), &json!("scale"), &json!("apps/v1"), &json!({"f:spec": {"f:replicas": {}}})),
        "{sc}"
    );

    // The main resource's applier changing the replicas conflicts with the scale's.
    let (code, refused) = client.apply(&path, "main", &main(Some(4))).await;
    assert_eq!((code, &refused["reason"]), (409, &json!("Conflict")), "{refused}");
    assert_eq!(refused["message"], "Apply failed with 1 conflict: conflict with \"sc\" with subresource \"scale\": .spec.replicas", "{refused}");
    assert_eq!(client.object(&path).await, object, "a refused apply changed the deployment");
    // Forced, it takes them over from the scale's manager.
    let (code, forced) = client.send("PATCH", &format!("{path}?fieldManager=main&force=true"), APPLY, main(Some(4)).to_string().into_bytes()).await;
    assert_eq!((code, &forced["spec"]["replicas"]), (200, &json!(4)), "{forced}");
    assert!(entries(&forced).iter().all(|entry| entry["manager"] != "sc"), "the scale's entry owns nothing any more: {forced}");
    assert!(entry(&forced, "main", "Apply").is_some_and(|entry| owns(entry, &["f:spec", "f:replicas"])), "{forced}");

    // Status: an entry with `subresource: status`, owning status alone.
    let status = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "scaled"}, "status": {"replicas": 1, "observedGeneration": 1}});
    let (code, answer) = client.apply(&format!("{path}/status"), "st", &status).await;
    assert_eq!(code, 200, "{answer}");
    let object = client.object(&path).await;
    assert_eq!(object["status"]["replicas"], 1, "{object}");
    let st = entries(&object).iter().find(|entry| entry["manager"] == "st").unwrap_or_else(|| panic!("no entry of st: {object}"));
    assert_eq!(
        (&st["operation"], &st["subresource"], &st["apiVersion"], &st["fieldsV1"]),
        (&json!("Apply"), &json!("status"), &json!("apps/v1"), &json!({"f:status": {"f:observedGeneration": {}, "f:replicas": {}}})),
        "{st}"
    );
    let main_entry = entry(&object, "main", "Apply").unwrap_or_else(|| panic!("no entry of main: {object}"));
    assert!(!owns(main_entry, &["f:status"]), "{main_entry}");
    // Another status applier changing what st applied conflicts with st on its subresource.
    let other_status = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "scaled"}, "status": {"replicas": 2}});
    let (code, refused) = client.apply(&format!("{path}/status"), "st2", &other_status).await;
    assert_eq!((code, &refused["reason"]), (409, &json!("Conflict")), "{refused}");
    assert_eq!(refused["message"], "Apply failed with 1 conflict: conflict with \"st\" with subresource \"status\": .status.replicas", "{refused}");
    assert_eq!(client.object(&path).await, object, "a refused apply changed the deployment");
}
