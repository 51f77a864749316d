//! CustomResourceDefinitions on the real `apiserver` binary, driven by the clients people use
//! with them: the real `kubectl`, the Python `kubernetes` client's `CustomObjectsApi`, and
//! kube-rs (a `#[derive(CustomResource)]` kind, a `Controller`, the streaming-list watcher);
//! two apiservers on one etcd; and bad definitions and objects, each answered with
//! kube-apiserver's status code and message.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::Client;
use common::testing::{ApiServer, Storage};
use widgets::{Kubectl, WIDGETS, WIDGETS_NAME, WIDGETS_PATH, log_tail, widget};
use futures::StreamExt;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::{CustomResource, CustomResourceExt};
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::watcher::{self, Event};
use kube::runtime::{conditions, wait::await_condition};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

#[path = "support/http.rs"]
mod http;
#[path = "support/widgets.rs"]
mod widgets;

common::on_both_stores!(
    kubectl_creates_serves_scales_and_deletes_a_custom_resource,
    python_custom_objects_api_works_on_a_custom_resource,
    kube_rs_controller_reconciles_custom_objects,
    kube_rs_streaming_list_watcher_sees_custom_objects,
    bad_definitions_and_objects_get_kubes_status,
    a_custom_kind_named_as_a_builtin_one_leaves_the_builtin_alone,
    the_versions_of_a_custom_kind_serve_the_same_objects,
);

/// Two served versions with `conversion: None`: discovery prefers the newer, and an object
/// written through either is read through both, each answer naming the version asked for.
async fn the_versions_of_a_custom_kind_serve_the_same_objects(storage: Storage) {
    let server = ApiServer::start(storage).unwrap_or_else(|err| panic!("starting the apiserver: {err}"));
    let client = Client::new(&server);
    let schema = json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {"size": {"type": "integer"}}}}});
    let version = |name: &str, storage: bool| json!({"name": name, "served": true, "storage": storage, "schema": {"openAPIV3Schema": schema}});
    let definition = json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "gears.versions.example.com"},
        "spec": {"group": "versions.example.com", "scope": "Namespaced",
                 "names": {"plural": "gears", "singular": "gear", "kind": "Gear"},
                 "versions": [version("v1beta1", false), version("v1", true)]},
    });
    let (beta, ga) = ("/apis/versions.example.com/v1beta1/namespaces/default/gears", "/apis/versions.example.com/v1/namespaces/default/gears");
    client.create_definition(&definition, beta).await;
    client.served(ga).await;
    let (code, group) = client.get("/apis/versions.example.com").await;
    assert_eq!(code, 200, "{group}");
    assert_eq!(group["preferredVersion"]["version"], "v1", "{group}");
    assert_eq!(group["versions"].as_array().map(Vec::len), Some(2), "{group}");
    let (_, groups) = client.get("/apis").await;
    let named = groups["groups"].as_array().into_iter().flatten().filter(|entry| entry["name"] == "versions.example.com").count();
    assert_eq!(named, 1, "one entry per group: {groups}");

    let gear = json!({"apiVersion": "versions.example.com/v1beta1", "kind": "Gear", "metadata": {"name": "g1"}, "spec": {"size": 3}});
    let (code, created) = client.json("POST", beta, &gear).await;
    assert_eq!((code, created["apiVersion"].as_str()), (201, Some("versions.example.com/v1beta1")), "{created}");
    for (path, api_version) in [(beta, "versions.example.com/v1beta1"), (ga, "versions.example.com/v1")] {
        let (code, got) = client.get(&format!("{path}/g1")).await;
        assert_eq!((code, got["apiVersion"].as_str(), got["spec"]["size"].as_i64()), (200, Some(api_version), Some(3)), "{got}");
        let (code, list) = client.get(path).await;
        assert_eq!((code, list["items"][0]["apiVersion"].as_str()), (200, Some(api_version)), "{list}");
    }
    let (code, patched) = client.send("PATCH", &format!("{ga}/g1"), "application/merge-patch+json", br#"{"spec":{"size":4}}"#.to_vec()).await;
    assert_eq!((code, patched["apiVersion"].as_str(), patched["spec"]["size"].as_i64()), (200, Some("versions.example.com/v1"), Some(4)), "{patched}");
    let (_, through_beta) = client.get(&format!("{beta}/g1")).await;
    assert_eq!((through_beta["apiVersion"].as_str(), through_beta["spec"]["size"].as_i64()), (Some("versions.example.com/v1beta1"), Some(4)), "{through_beta}");
}

impl Client {
    /// Waits (30 s at most) until the objects at `objects` can be listed.
    async fn served(&self, objects: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.get(objects).await.0 != 200 {
            assert!(Instant::now() < deadline, "{objects} is not served 30 s after its definition was created");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Creates a definition and waits (30 s at most) until it is Established and its objects
    /// can be listed at `objects`.
    async fn create_definition(&self, definition: &Value, objects: &str) {
        let (code, created) = self.json("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", definition).await;
        assert_eq!(code, 201, "{created}");
        self.served(objects).await;
    }
}

fn widgets_definition() -> Value {
    serde_yaml_ng::from_str(WIDGETS).unwrap_or_else(|err| panic!("the widgets' definition: {err}"))
}

/// What a user of a custom resource does with kubectl, and what kubectl prints back; and what
/// kubectl sent, as the API answers it to any client.
async fn kubectl_creates_serves_scales_and_deletes_a_custom_resource(storage: Storage) {
    let server = ApiServer::start(storage).unwrap_or_else(|err| panic!("starting the apiserver: {err}"));
    let kubectl = kubectl(&server);
    let client = Client::new(&server);
    widgets::use_widgets(&kubectl);

    let bad = widget("bad", json!({"color": "green", "size": 0}));
    let (code, status) = client.json("POST", WIDGETS_PATH, &bad).await;
    assert_eq!((code, &status["reason"]), (422, &json!("Invalid")), "{status}");
    assert_eq!(
        status["message"],
        "Widget.stable.example.com \"bad\" is invalid: [spec.color: Unsupported value: \"green\": supported values: \"red\", \"blue\", spec.size: Invalid value: 0: spec.size in body should be greater than or equal to 1]"
    );
    assert_eq!((&status["details"]["group"], &status["details"]["kind"], &status["details"]["name"]), (&json!("stable.example.com"), &json!("Widget"), &json!("bad")), "{status}");
    let extra = widget("extra", json!({"color": "red", "size": 1, "extra": true}));
    let (code, status) = client.json("POST", &format!("{WIDGETS_PATH}?fieldValidation=Strict"), &extra).await;
    assert_eq!((code, &status["reason"], &status["message"]), (400, &json!("BadRequest"), &json!("Widget in version \"v1\" cannot be handled as a Widget: strict decoding error: unknown field \"spec.extra\"")), "{status}");
    assert_eq!(client.get(&format!("{WIDGETS_PATH}/extra")).await.0, 404);
    let (code, status) = client.send("PATCH", &format!("{WIDGETS_PATH}/w1"), "application/strategic-merge-patch+json", br#"{"spec":{"size":6}}"#.to_vec()).await;
    assert_eq!((code, &status["reason"]), (415, &json!("UnsupportedMediaType")), "{status}");

    widgets::delete_widgets(&kubectl);
    assert_eq!(client.get(WIDGETS_PATH).await.0, 404);
}

/// The Python client's `CustomObjectsApi`, as its own e2e tests use it.
async fn python_custom_objects_api_works_on_a_custom_resource(storage: Storage) {
    let server = ApiServer::start(storage).unwrap_or_else(|err| panic!("starting the apiserver: {err}"));
    if let Err(failure) = widgets::use_widgets_from_python(&server.kubeconfig()) {
        panic!("{failure}\n--- apiserver log:\n{}", log_tail(&server.log_path()));
    }
}

/// kubectl against `server`, whose log a failure shows.
fn kubectl(server: &ApiServer) -> Kubectl {
    Kubectl::new(server.kubeconfig(), Some(server.log_path()))
}

/// A definition created through one apiserver is served by another on the same etcd within
/// a second of the create's answer, as every kube-apiserver runs the same controllers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_definition_created_through_one_apiserver_is_served_by_another_within_a_second() {
    let first = ApiServer::start(Storage::Etcd).unwrap_or_else(|err| panic!("starting the first apiserver: {err}"));
    // The harness starts a second apiserver on a first one's etcd on HTTPS; kube-rs speaks it.
    let second = first.start_https_beside(&[]).unwrap_or_else(|err| panic!("starting the second apiserver: {err}"));
    let second_client = kube_client_from(&second.kubeconfig()).await;
    let first_client = Client::new(&first);
    let widgets_resource = kube::api::ApiResource::from_gvk_with_plural(&kube::api::GroupVersionKind::gvk("stable.example.com", "v1", "Widget"), "widgets");
    let widgets: Api<kube::api::DynamicObject> = Api::namespaced_with(second_client.clone(), "default", &widgets_resource);
    // The second serves nothing of the group before.
    let before = second_client.list_api_group_resources("stable.example.com/v1").await;
    assert!(matches!(before, Err(kube::Error::Api(ref status)) if status.code == 404), "{before:?}");

    let (code, created) = first_client.json("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", &widgets_definition()).await;
    let answered = Instant::now();
    assert_eq!(code, 201, "{created}");
    let deadline = answered + Duration::from_secs(1);
    let mut listed = false;
    let mut discovered = false;
    while !(listed && discovered) {
        if !discovered {
            let answer = second_client.list_api_group_resources("stable.example.com/v1").await;
            discovered = answer.is_ok_and(|list| list.resources.iter().any(|resource| resource.name == "widgets"));
        }
        if !listed {
            listed = widgets.list(&Default::default()).await.is_ok();
        }
        assert!(Instant::now() < deadline, "not served by the second apiserver 1 s after the create's answer (discovered: {discovered}, listed: {listed})\n--- its log:\n{}", log_tail(&second.log_path()));
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    eprintln!("served by the second apiserver {:?} after the create's answer", answered.elapsed());

    // And what is created through the second is read through the first.
    let object: kube::api::DynamicObject = serde_json::from_value(widget("beside", json!({"color": "blue", "size": 1}))).unwrap_or_else(|err| panic!("a widget: {err}"));
    widgets.create(&PostParams::default(), &object).await.unwrap_or_else(|err| panic!("creating through the second: {err}"));
    let (code, read) = first_client.get(&format!("{WIDGETS_PATH}/beside")).await;
    assert_eq!((code, &read["spec"]["shape"]), (200, &json!("round")), "{read}");
}

async fn kube_client_from(kubeconfig: &std::path::Path) -> kube::Client {
    let kubeconfig = kube::config::Kubeconfig::read_from(kubeconfig).unwrap_or_else(|err| panic!("reading {}: {err}", kubeconfig.display()));
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &kube::config::KubeConfigOptions::default()).await.unwrap_or_else(|err| panic!("a client configuration: {err}"));
    kube::Client::try_from(config).unwrap_or_else(|err| panic!("a client: {err}"))
}

fn kube_client(server: &ApiServer) -> kube::Client {
    let url = server.url().parse().unwrap_or_else(|err| panic!("the apiserver's URL: {err}"));
    kube::Client::try_from(kube::Config::new(url)).unwrap_or_else(|err| panic!("a client: {err}"))
}

/// A kind defined in Rust, its definition generated by kube-rs.
#[derive(CustomResource, Deserialize, Serialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
#[kube(group = "rs.example.com", version = "v1", kind = "Counter", namespaced, status = "CounterStatus", shortname = "ctr")]
struct CounterSpec {
    value: i64,
}

#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, schemars::JsonSchema)]
struct CounterStatus {
    doubled: i64,
}

fn counter(name: &str, value: i64) -> Counter {
    let mut counter = Counter::new(name, CounterSpec { value });
    counter.metadata.namespace = Some("default".into());
    counter
}

/// Installs Counter's definition through `Api<CustomResourceDefinition>` and waits until it is
/// Established (30 s at most).
async fn install_counters(client: &kube::Client) -> Api<Counter> {
    let definitions: Api<CustomResourceDefinition> = Api::all(client.clone());
    let definition = Counter::crd();
    let name = definition.metadata.name.clone().unwrap_or_default();
    assert_eq!(name, "counters.rs.example.com");
    definitions.create(&PostParams::default(), &definition).await.unwrap_or_else(|err| panic!("creating {name}: {err}"));
    tokio::time::timeout(Duration::from_secs(30), await_condition(definitions, &name, conditions::is_crd_established()))
        .await
        .unwrap_or_else(|_| panic!("{name} not Established within 30 s"))
        .unwrap_or_else(|err| panic!("waiting for {name}: {err}"));
    Api::namespaced(client.clone(), "default")
}

/// Waits (30 s at most) until the counter's status is `doubled`.
async fn await_doubled(counters: &Api<Counter>, name: &str, doubled: i64) {
    let reconciled = move |object: Option<&Counter>| object.and_then(|counter| counter.status.as_ref()).is_some_and(|status| status.doubled == doubled);
    tokio::time::timeout(Duration::from_secs(30), await_condition(counters.clone(), name, reconciled))
        .await
        .unwrap_or_else(|_| panic!("{name}'s status never became doubled: {doubled}"))
        .unwrap_or_else(|err| panic!("waiting for {name}: {err}"));
}

#[derive(Debug, thiserror::Error)]
#[error("writing {name}'s status: {source}")]
struct ReconcileError {
    name: String,
    source: kube::Error,
}

async fn reconcile_counter(counter: Arc<Counter>, counters: Arc<Api<Counter>>) -> Result<Action, ReconcileError> {
    let name = counter.metadata.name.clone().unwrap_or_default();
    let doubled = counter.spec.value * 2;
    if counter.status.as_ref().map(|status| status.doubled) != Some(doubled) {
        let patch = json!({"status": {"doubled": doubled}});
        counters.patch_status(&name, &PatchParams::default(), &Patch::Merge(patch)).await.map_err(|source| ReconcileError { name, source })?;
    }
    Ok(Action::await_change())
}

/// Aborts the controller's task when the test ends, however it ends.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn kube_rs_controller_reconciles_custom_objects(storage: Storage) {
    let server = ApiServer::start(storage).unwrap_or_else(|err| panic!("starting the apiserver: {err}"));
    let client = kube_client(&server);
    let counters = install_counters(&client).await;
    let before = counters.create(&PostParams::default(), &counter("before", 1)).await.unwrap_or_else(|err| panic!("creating a counter: {err}"));
    assert_eq!(before.status, None, "a create through the main resource writes no status");

    let controller = Controller::new(counters.clone(), watcher::Config::default())
        .run(reconcile_counter, |_, _: &ReconcileError, _| Action::requeue(Duration::from_millis(100)), Arc::new(counters.clone()))
        .for_each(|_| std::future::ready(()));
    let _controller = AbortOnDrop(tokio::spawn(controller));

    for (name, value) in [("a", 2), ("b", 3), ("c", 4), ("d", 5)] {
        counters.create(&PostParams::default(), &counter(name, value)).await.unwrap_or_else(|err| panic!("creating counter {name}: {err}"));
    }
    for (name, value) in [("before", 1), ("a", 2), ("b", 3), ("c", 4), ("d", 5)] {
        await_doubled(&counters, name, value * 2).await;
    }
    // A change to the spec is reconciled again.
    counters.patch("b", &PatchParams::default(), &Patch::Merge(json!({"spec": {"value": 21}}))).await.unwrap_or_else(|err| panic!("patching b: {err}"));
    await_doubled(&counters, "b", 42).await;
    let listed = counters.list(&Default::default()).await.unwrap_or_else(|err| panic!("listing counters: {err}"));
    let statuses: BTreeMap<String, Option<CounterStatus>> = listed.items.into_iter().map(|counter| (counter.metadata.name.unwrap_or_default(), counter.status)).collect();
    let expected: BTreeMap<String, Option<CounterStatus>> =
        [("a", 4), ("b", 42), ("before", 2), ("c", 8), ("d", 10)].into_iter().map(|(name, doubled)| (name.to_string(), Some(CounterStatus { doubled }))).collect();
    assert_eq!(statuses, expected);
}

type CounterEvents = futures::stream::BoxStream<'static, Result<Event<Counter>, watcher::Error>>;

async fn next_event(events: &mut CounterEvents) -> Event<Counter> {
    tokio::time::timeout(Duration::from_secs(30), events.next())
        .await
        .unwrap_or_else(|_| panic!("the watcher stalled"))
        .unwrap_or_else(|| panic!("the watcher ended"))
        .unwrap_or_else(|err| panic!("the watcher failed: {err}"))
}

/// The streaming list (`sendInitialEvents`) on a custom resource: the stored objects, InitDone,
/// then what changes.
async fn kube_rs_streaming_list_watcher_sees_custom_objects(storage: Storage) {
    let server = ApiServer::start(storage).unwrap_or_else(|err| panic!("starting the apiserver: {err}"));
    let client = kube_client(&server);
    let counters = install_counters(&client).await;
    for (name, value) in [("one", 1), ("two", 2), ("three", 3)] {
        counters.create(&PostParams::default(), &counter(name, value)).await.unwrap_or_else(|err| panic!("creating counter {name}: {err}"));
    }
    let mut events: CounterEvents = watcher::watcher(counters.clone(), watcher::Config::default().streaming_lists()).boxed();
    assert!(matches!(next_event(&mut events).await, Event::Init));
    let mut initial = BTreeMap::new();
    loop {
        match next_event(&mut events).await {
            Event::InitApply(object) => {
                initial.insert(object.metadata.name.clone().unwrap_or_default(), object.spec.value);
            }
            Event::InitDone => break,
            other => panic!("expected the initial objects, then InitDone; got {other:?}"),
        }
    }
    assert_eq!(initial, BTreeMap::from([("one".to_string(), 1), ("three".to_string(), 3), ("two".to_string(), 2)]));

    counters.patch("two", &PatchParams::default(), &Patch::Merge(json!({"spec": {"value": 20}}))).await.unwrap_or_else(|err| panic!("patching two: {err}"));
    match next_event(&mut events).await {
        Event::Apply(object) => assert_eq!((object.metadata.name.as_deref(), object.spec.value), (Some("two"), 20)),
        other => panic!("expected the change, got {other:?}"),
    }
    counters.delete("one", &Default::default()).await.unwrap_or_else(|err| panic!("deleting one: {err}"));
    match next_event(&mut events).await {
        Event::Delete(object) => assert_eq!(object.metadata.name.as_deref(), Some("one")),
        other => panic!("expected the deletion, got {other:?}"),
    }
}

/// Bad definitions and objects: kube-apiserver's status code and message for each, and what
/// was stored before still there after.
async fn bad_definitions_and_objects_get_kubes_status(storage: Storage) {
    let mut server = ApiServer::start(storage).unwrap_or_else(|err| panic!("starting the apiserver: {err}"));
    let client = Client::new(&server);
    let definitions = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions";
    client.create_definition(&widgets_definition(), WIDGETS_PATH).await;
    let (code, kept) = client.json("POST", WIDGETS_PATH, &widget("kept", json!({"color": "red", "size": 1}))).await;
    assert_eq!(code, 201, "{kept}");

    // A definition of `things` in `group`, with `schema` as its only version's schema.
    let things = |group: &str, schema: Value| {
        json!({
            "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": format!("things.{group}")},
            "spec": {"group": group, "scope": "Namespaced", "names": {"plural": "things", "singular": "thing", "kind": "Thing"},
                     "versions": [{"name": "v1", "served": true, "storage": true, "schema": {"openAPIV3Schema": schema}}]}
        })
    };
    let object_schema = json!({"type": "object"});
    let mut misnamed = things("misnamed.example.com", object_schema.clone());
    misnamed["metadata"]["name"] = json!("widgets.misnamed.example.com");
    let rows: Vec<(&str, Value, &str)> = vec![
        (
            "a property without a type",
            things("untyped.example.com", json!({"type": "object", "properties": {"spec": {"properties": {"size": {"type": "integer"}}}}})),
            "CustomResourceDefinition.apiextensions.k8s.io \"things.untyped.example.com\" is invalid: spec.versions[0].schema.openAPIV3Schema.properties[spec].type: Required value: must not be empty for specified object fields",
        ),
        (
            "a built-in group",
            things("apps", object_schema.clone()),
            "CustomResourceDefinition.apiextensions.k8s.io \"things.apps\" is invalid: spec.group: Invalid value: \"apps\": should be a domain with at least one dot",
        ),
        (
            "a protected group without the approval annotation",
            things("rbac.authorization.k8s.io", object_schema.clone()),
            "CustomResourceDefinition.apiextensions.k8s.io \"things.rbac.authorization.k8s.io\" is invalid: metadata.annotations[api-approved.kubernetes.io]: Required value: protected groups must have approval annotation \"api-approved.kubernetes.io\", see https://github.com/kubernetes/enhancements/pull/1111",
        ),
        (
            "a name other than <plural>.<group>",
            misnamed,
            "CustomResourceDefinition.apiextensions.k8s.io \"widgets.misnamed.example.com\" is invalid: metadata.name: Invalid value: \"widgets.misnamed.example.com\": must be spec.names.plural+\".\"+spec.group",
        ),
    ];
    for (case, definition, message) in rows {
        let (code, status) = client.json("POST", definitions, &definition).await;
        assert_eq!((code, &status["reason"]), (422, &json!("Invalid")), "{case}: {status}");
        assert_eq!(status["message"], message, "{case}");
        let name = definition["metadata"]["name"].as_str().unwrap_or_default();
        assert_eq!(client.get(&format!("{definitions}/{name}")).await.0, 404, "{case}: it was stored");
    }

    // A stored version must stay in spec.versions.
    let (_, mut stored) = client.get(&format!("{definitions}/{WIDGETS_NAME}")).await;
    assert_eq!(stored["status"]["storedVersions"], json!(["v1"]), "{stored}");
    let mut version = stored["spec"]["versions"][0].clone();
    version["name"] = json!("v2");
    stored["spec"]["versions"] = json!([version]);
    let (code, status) = client.json("PUT", &format!("{definitions}/{WIDGETS_NAME}"), &stored).await;
    assert_eq!((code, &status["reason"]), (422, &json!("Invalid")), "{status}");
    assert_eq!(
        status["message"],
        "CustomResourceDefinition.apiextensions.k8s.io \"widgets.stable.example.com\" is invalid: status.storedVersions[0]: Invalid value: \"v1\": missing from spec.versions; v1 was previously a storage version, and must remain in spec.versions until a storage migration ensures no data remains persisted in v1 and removes v1 from status.storedVersions"
    );

    // An object over kube-apiserver's 3 MiB request limit.
    let huge = widget("huge", json!({"color": "red", "size": 1, "note": "x".repeat(3 * 1024 * 1024 + 1)}));
    let (code, status) = client.json("POST", WIDGETS_PATH, &huge).await;
    assert_eq!((code, &status["reason"]), (413, &json!("RequestEntityTooLarge")), "{status}");
    assert_eq!(status["message"], "Request entity too large: limit is 3145728", "{status}");
    assert_eq!(client.get(&format!("{WIDGETS_PATH}/huge")).await.0, 404);

    // A schema 10,000 levels deep: refused, and the server still answers.
    let deep_text = deep_definition_text(10_000);
    let (code, status) = client.send("POST", definitions, "application/json", deep_text.into_bytes()).await;
    assert!((400..500).contains(&code), "a schema 10,000 levels deep: {code} {status}");
    eprintln!("a schema 10,000 levels deep: {code} {}", status["message"]);
    assert!(server.is_running(), "the apiserver died on a deep schema\n{}", log_tail(&server.log_path()));
    assert_eq!(client.get(&format!("{definitions}/things.deep.example.com")).await.0, 404);

    // What was stored is still there and still served.
    let (code, read) = client.get(&format!("{WIDGETS_PATH}/kept")).await;
    assert_eq!((code, &read["spec"]), (200, &json!({"color": "red", "size": 1, "replicas": 1, "shape": "round"})), "{read}");
    let (code, read) = client.get(&format!("{definitions}/{WIDGETS_NAME}")).await;
    assert_eq!((code, &read["spec"]["versions"][0]["name"]), (200, &json!("v1")), "{read}");
    let (code, created) = client.json("POST", WIDGETS_PATH, &widget("after", json!({"color": "blue", "size": 2}))).await;
    assert_eq!(code, 201, "{created}");
}

/// The `things.deep.example.com` definition with a schema `levels` objects deep, written as text
/// (a `serde_json::Value` that deep would overflow the test thread's stack being dropped).
fn deep_definition_text(levels: usize) -> String {
    let inner = format!("{}{}{}", r#"{"type":"object","properties":{"a":"#.repeat(levels), r#"{"type":"string"}"#, "}}".repeat(levels));
    format!(
        r#"{{"apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition","metadata":{{"name":"things.deep.example.com"}},"spec":{{"group":"deep.example.com","scope":"Namespaced","names":{{"plural":"things","singular":"thing","kind":"Thing"}},"versions":[{{"name":"v1","served":true,"storage":true,"schema":{{"openAPIV3Schema":{inner}}}}}]}}}}"#
    )
}

/// A definition whose kind is `Pod` (in its own group) serves its own objects and leaves the
/// core group's pods as they were, for kubectl as for the API.
async fn a_custom_kind_named_as_a_builtin_one_leaves_the_builtin_alone(storage: Storage) {
    let server = ApiServer::start(storage).unwrap_or_else(|err| panic!("starting the apiserver: {err}"));
    let client = Client::new(&server);
    let kubectl = kubectl(&server);
    let real = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "real"}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}});
    assert_eq!(client.json("POST", "/api/v1/namespaces/default/pods", &real).await.0, 201);

    let definition = json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "pods.example.com"},
        "spec": {"group": "example.com", "scope": "Namespaced", "names": {"plural": "pods", "singular": "pod", "kind": "Pod"},
                 "versions": [{"name": "v1", "served": true, "storage": true, "schema": {"openAPIV3Schema": {
                     "type": "object", "properties": {"spec": {"type": "object", "properties": {"flavour": {"type": "string"}}}}}}}]}
    });
    let custom_pods = "/apis/example.com/v1/namespaces/default/pods";
    client.create_definition(&definition, custom_pods).await;
    let custom = json!({"apiVersion": "example.com/v1", "kind": "Pod", "metadata": {"name": "custom"}, "spec": {"flavour": "mint"}});
    let (code, created) = client.json("POST", custom_pods, &custom).await;
    assert_eq!((code, &created["spec"]), (201, &json!({"flavour": "mint"})), "{created}");

    let names = |list: &Value| list["items"].as_array().into_iter().flatten().map(|item| item["metadata"]["name"].clone()).collect::<Vec<_>>();
    let (code, core) = client.get("/api/v1/namespaces/default/pods").await;
    assert_eq!((code, names(&core)), (200, vec![json!("real")]), "{core}");
    let (_, real_read) = client.get("/api/v1/namespaces/default/pods/real").await;
    assert_eq!((&real_read["apiVersion"], &real_read["spec"]["containers"][0]["image"]), (&json!("v1"), &json!("busybox")), "{real_read}");
    assert_eq!(names(&client.get(custom_pods).await.1), vec![json!("custom")]);

    // kubectl's `pods` is still the core group's; the custom kind is reached by its full name.
    assert_eq!(kubectl.ok(&["get", "pods", "-o", "name"]), "pod/real\n");
    assert_eq!(kubectl.ok(&["get", "pods.example.com", "-o", "name"]), "pod.example.com/custom\n");
    // A new real pod is a real pod, validated as one.
    let invalid = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "empty"}, "spec": {"flavour": "mint"}});
    let (code, status) = client.json("POST", "/api/v1/namespaces/default/pods", &invalid).await;
    assert_eq!((code, &status["reason"]), (422, &json!("Invalid")), "{status}");
    assert_eq!(kubectl.ok(&["delete", "pods.example.com", "custom"]).trim(), "pod.example.com \"custom\" deleted");
    assert_eq!(names(&client.get("/api/v1/namespaces/default/pods").await.1), vec![json!("real")]);
}
