//! The kinds of issue #25 (`kinds/autoscaling`, `kinds/policy`, `kinds/scheduling`), through the
//! real binary: the real `kubectl` creates them with its generators (`autoscale`, `create pdb`,
//! `create priorityclass`) and prints them as against kube-apiserver 1.33, the system priority
//! classes exist from the start and stay, and bad input gets kube-apiserver's status.

use std::process::{Command, Output};

use common::testing::{ApiServer, Storage};
use http::Client;
use serde_json::{Value, json};

#[path = "support/http.rs"]
mod http;

common::on_both_stores!(kubectl_creates_and_prints_the_autoscaling_kinds, bad_autoscaling_objects_get_kube_apiservers_status, budgets_keep_their_generation_and_status, pods_get_their_priority_from_their_class, autoscalers_are_served_as_v1_too);

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

/// Runs kubectl expecting it to fail, and returns its stderr.
fn kubectl_fails(server: &ApiServer, args: &[&str]) -> String {
    let output = kubectl(server, args);
    assert!(!output.status.success(), "kubectl {args:?} succeeded:\n{}", String::from_utf8_lossy(&output.stdout));
    String::from_utf8_lossy(&output.stderr).trim().to_string()
}

fn log_tail(server: &ApiServer) -> String {
    let text = std::fs::read_to_string(server.log_path()).unwrap_or_default();
    let lines: Vec<&str> = text.lines().rev().take(30).collect();
    lines.into_iter().rev().collect::<Vec<_>>().join("\n")
}

fn columns(line: &str) -> Vec<&str> {
    line.split_whitespace().collect()
}

/// The rows of a kubectl table (header first), each as its columns.
fn rows(table: &str) -> Vec<Vec<&str>> {
    table.lines().map(columns).collect()
}

async fn kubectl_creates_and_prints_the_autoscaling_kinds(storage: Storage) {
    let server = ApiServer::start(storage).unwrap_or_else(|err| panic!("starting the apiserver: {err}"));
    for (group, expected) in [
        ("autoscaling", vec!["horizontalpodautoscalers", "hpa", "autoscaling/v2", "true", "HorizontalPodAutoscaler"]),
        ("policy", vec!["poddisruptionbudgets", "pdb", "policy/v1", "true", "PodDisruptionBudget"]),
        ("scheduling.k8s.io", vec!["priorityclasses", "pc", "scheduling.k8s.io/v1", "false", "PriorityClass"]),
    ] {
        let listed = kubectl_ok(&server, &["api-resources", &format!("--api-group={group}"), "--no-headers"]);
        assert!(rows(&listed).contains(&expected), "{expected:?} in\n{listed}");
    }

    // The system classes are there from the start, and stay.
    let classes = kubectl_ok(&server, &["get", "pc"]);
    let classes = rows(&classes);
    assert_eq!(classes[0], ["NAME", "VALUE", "GLOBAL-DEFAULT", "AGE", "PREEMPTIONPOLICY"]);
    let class = |name: &str| classes.iter().find(|row| row[0] == name).map(|row| [row[1], row[2], row[4]]);
    assert_eq!(class("system-node-critical"), Some(["2000001000", "false", "PreemptLowerPriority"]), "{classes:?}");
    assert_eq!(class("system-cluster-critical"), Some(["2000000000", "false", "PreemptLowerPriority"]), "{classes:?}");
    let refused = kubectl_fails(&server, &["delete", "pc", "system-node-critical"]);
    assert_eq!(refused, "Error from server (Forbidden): priorityclasses.scheduling.k8s.io \"system-node-critical\" is forbidden: this is a system priority class and cannot be deleted");
    let described = kubectl_ok(&server, &["get", "pc", "system-cluster-critical", "-o", "jsonpath={.description}"]);
    assert_eq!(described, "Used for system critical pods that must run in the cluster, but can be moved to another node if necessary.");

    // kubectl's generators, and one global default at most.
    let created = kubectl_ok(&server, &["create", "priorityclass", "high", "--value=1000", "--global-default=true", "--preemption-policy=Never"]);
    assert_eq!(created.trim(), "priorityclass.scheduling.k8s.io/high created");
    let refused = kubectl_fails(&server, &["create", "priorityclass", "other", "--value=10", "--global-default=true"]);
    assert_eq!(refused, "error: failed to create priorityclass: priorityclasses.scheduling.k8s.io \"other\" is forbidden: PriorityClass high is already marked as default. Only one default can exist");
    kubectl_ok(&server, &["create", "priorityclass", "low", "--value=1"]);
    let refused = kubectl_fails(&server, &["patch", "pc", "low", "-p", r#"{"globalDefault":true}"#]);
    assert_eq!(refused, "Error from server (Forbidden): priorityclasses.scheduling.k8s.io \"low\" is forbidden: PriorityClass high is already marked as default. Only one default can exist");
    kubectl_ok(&server, &["label", "pc", "high", "tier=web"]);
    let high = rows(&kubectl_ok(&server, &["get", "pc", "high", "--no-headers"]))[0].clone().into_iter().map(str::to_string).collect::<Vec<_>>();
    assert_eq!([&high[..3], &high[4..]].concat(), ["high", "1000", "true", "Never"]);

    kubectl_ok(&server, &["create", "deployment", "web", "--image=nginx", "--replicas=2"]);
    let autoscaled = kubectl_ok(&server, &["autoscale", "deployment", "web", "--min=2", "--max=5", "--cpu-percent=50"]);
    assert_eq!(autoscaled.trim(), "horizontalpodautoscaler.autoscaling/web autoscaled");
    let table = kubectl_ok(&server, &["get", "hpa"]);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(columns(lines[0]), ["NAME", "REFERENCE", "TARGETS", "MINPODS", "MAXPODS", "REPLICAS", "AGE"], "{table}");
    assert_eq!(columns(lines[1])[..7], ["web", "Deployment/web", "cpu:", "<unknown>/50%", "2", "5", "0"], "{table}");
    let all = kubectl_ok(&server, &["get", "all", "-o", "name"]);
    assert_eq!(all.lines().filter(|line| *line == "horizontalpodautoscaler.autoscaling/web").count(), 1, "{all}");
    let explained = kubectl_ok(&server, &["explain", "hpa.spec"]);
    assert!(explained.contains("GROUP:      autoscaling") && explained.contains("VERSION:    v2") && explained.contains("maxReplicas"), "{explained}");

    let created = kubectl_ok(&server, &["create", "pdb", "web", "--selector=app=web", "--min-available=2"]);
    assert_eq!(created.trim(), "poddisruptionbudget.policy/web created");
    kubectl_ok(&server, &["create", "pdb", "half", "--selector=app=half", "--max-unavailable=50%"]);
    let table = kubectl_ok(&server, &["get", "pdb"]);
    let budgets = rows(&table);
    assert_eq!(budgets[0], ["NAME", "MIN", "AVAILABLE", "MAX", "UNAVAILABLE", "ALLOWED", "DISRUPTIONS", "AGE"], "{table}");
    assert_eq!(budgets[1][..4], ["half", "N/A", "50%", "0"], "{table}");
    assert_eq!(budgets[2][..4], ["web", "2", "N/A", "0"], "{table}");
    let described = kubectl_ok(&server, &["describe", "pdb", "web"]);
    assert!(described.lines().any(|line| columns(line) == ["Min", "available:", "2"]), "{described}");
    let described = kubectl_ok(&server, &["describe", "hpa", "web"]);
    assert!(described.lines().any(|line| columns(line) == ["Reference:", "Deployment/web"]), "{described}");
    assert!(described.lines().any(|line| columns(line) == ["Min", "replicas:", "2"]), "{described}");
    let explained = kubectl_ok(&server, &["explain", "pdb.spec.unhealthyPodEvictionPolicy"]);
    assert!(explained.contains("GROUP:      policy"), "{explained}");
}

const AUTOSCALERS: &str = "/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers";
const BUDGETS: &str = "/apis/policy/v1/namespaces/default/poddisruptionbudgets";
const CLASSES: &str = "/apis/scheduling.k8s.io/v1/priorityclasses";

fn autoscaler(name: &str, min: i64, max: i64, metrics: Value) -> Value {
    json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": name},
        "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}, "minReplicas": min, "maxReplicas": max, "metrics": metrics}})
}

fn budget(name: &str, spec: Value) -> Value {
    json!({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": name}, "spec": spec})
}

fn cpu(target: Value) -> Value {
    json!([{"type": "Resource", "resource": {"name": "cpu", "target": target}}])
}

async fn bad_autoscaling_objects_get_kube_apiservers_status(storage: Storage) {
    let server = ApiServer::start(storage).unwrap_or_else(|err| panic!("starting the apiserver: {err}"));
    let client = Client::new(&server);
    let utilization = cpu(json!({"type": "Utilization", "averageUtilization": 50}));
    let both = budget("both", json!({"minAvailable": 1, "maxUnavailable": 1, "selector": {"matchLabels": {"app": "web"}}}));
    // (what, path, body, the whole message)
    let rows: Vec<(&str, &str, Value, &str)> = vec![
        ("minReplicas above maxReplicas", AUTOSCALERS, autoscaler("bad", 3, 1, utilization.clone()),
         "HorizontalPodAutoscaler.autoscaling \"bad\" is invalid: spec.maxReplicas: Invalid value: 1: must be greater than or equal to `minReplicas`"),
        ("a metric target of the wrong type", AUTOSCALERS, autoscaler("bad", 1, 3, cpu(json!({"type": "Percent", "averageUtilization": 50}))),
         "HorizontalPodAutoscaler.autoscaling \"bad\" is invalid: spec.metrics[0].resource.target.type: Invalid value: \"Percent\": must be either Utilization, Value, or AverageValue"),
        ("a utilization target without its value", AUTOSCALERS, autoscaler("bad", 1, 3, cpu(json!({"type": "Utilization"}))),
         "HorizontalPodAutoscaler.autoscaling \"bad\" is invalid: spec.metrics[0].resource.target.averageUtilization: Required value: must set either a target raw value or a target utilization"),
        ("no replicas at the least", AUTOSCALERS, autoscaler("bad", 0, 3, utilization.clone()),
         "HorizontalPodAutoscaler.autoscaling \"bad\" is invalid: [spec.minReplicas: Invalid value: 0: must be greater than or equal to 1, spec.metrics: Forbidden: must specify at least one Object or External metric to support scaling to zero replicas]"),
        ("both bounds", BUDGETS, both,
         "PodDisruptionBudget.policy \"both\" is invalid: spec: Invalid value: policy.PodDisruptionBudgetSpec{MinAvailable:(*intstr.IntOrString)(0xc000000000), Selector:(*v1.LabelSelector)(0xc000000000), MaxUnavailable:(*intstr.IntOrString)(0xc000000000), UnhealthyPodEvictionPolicy:(*policy.UnhealthyPodEvictionPolicy)(nil)}: minAvailable and maxUnavailable cannot be both set"),
        ("more than all pods", BUDGETS, budget("bad", json!({"minAvailable": "150%"})),
         "PodDisruptionBudget.policy \"bad\" is invalid: spec.minAvailable: Invalid value: \"150%\": must not be greater than 100%"),
        ("a user class above the user range", CLASSES, json!({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": "huge"}, "value": 2_000_000_000}),
         "PriorityClass.scheduling.k8s.io \"huge\" is invalid: value: Forbidden: maximum allowed value of a user defined priority is 1000000000"),
        ("a class in the system's names", CLASSES, json!({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": "system-mine"}, "value": 1}),
         "PriorityClass.scheduling.k8s.io \"system-mine\" is invalid: metadata.name: Forbidden: priority class names with 'system-' prefix are reserved for system use only. error: system-mine is not a known system priority class"),
    ];
    for (what, path, body, message) in rows {
        let (code, status) = client.json("POST", path, &body).await;
        assert_eq!((code, status["reason"].as_str(), status["message"].as_str()), (422, Some("Invalid"), Some(message)), "{what}: {status}");
    }

    // A class's value stays as created.
    let class = json!({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": "high"}, "value": 1000});
    let (code, created) = client.json("POST", CLASSES, &class).await;
    assert_eq!((code, created["preemptionPolicy"].as_str()), (201, Some("PreemptLowerPriority")), "{created}");
    let mut changed = created.clone();
    changed["value"] = json!(5);
    let (code, status) = client.json("PUT", &format!("{CLASSES}/high"), &changed).await;
    assert_eq!((code, status["message"].as_str()), (422, Some("PriorityClass.scheduling.k8s.io \"high\" is invalid: value: Forbidden: may not be changed in an update.")), "{status}");
}

/// The Priority admission plugin: a pod naming a class that does not exist is refused; one
/// naming a class gets its priority and preemption policy, one naming none the default's.
async fn pods_get_their_priority_from_their_class(storage: Storage) {
    let server = ApiServer::start(storage).unwrap_or_else(|err| panic!("starting the apiserver: {err}"));
    let client = Client::new(&server);
    let class = json!({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": "high"}, "value": 1000, "preemptionPolicy": "Never"});
    let (code, created) = client.json("POST", CLASSES, &class).await;
    assert_eq!(code, 201, "{created}");
    let pod = |name: &str, class: &str| json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
        "spec": {"priorityClassName": class, "containers": [{"name": "c", "image": "busybox:1"}]}});
    let (code, status) = client.json("POST", "/api/v1/namespaces/default/pods", &pod("web", "nope")).await;
    assert_eq!((code, status["reason"].as_str(), status["message"].as_str()), (403, Some("Forbidden"), Some("pods \"web\" is forbidden: no PriorityClass with name nope was found")), "{status}");
    let (code, created) = client.json("POST", "/api/v1/namespaces/default/pods", &pod("web", "high")).await;
    assert_eq!((code, created["spec"]["priority"].as_i64(), created["spec"]["preemptionPolicy"].as_str()), (201, Some(1000), Some("Never")), "{created}");
    let (code, created) = client.json("POST", "/api/v1/namespaces/default/pods", &without_class(pod("plain", ""))).await;
    assert_eq!((code, created["spec"]["priority"].as_i64(), created["spec"]["preemptionPolicy"].as_str()), (201, Some(0), Some("PreemptLowerPriority")), "{created}");
    let default = json!({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": "low"}, "value": -5, "globalDefault": true});
    let (code, created) = client.json("POST", CLASSES, &default).await;
    assert_eq!(code, 201, "{created}");
    let (code, created) = client.json("POST", "/api/v1/namespaces/default/pods", &without_class(pod("defaulted", ""))).await;
    assert_eq!((code, created["spec"]["priorityClassName"].as_str(), created["spec"]["priority"].as_i64()), (201, Some("low"), Some(-5)), "{created}");
    let (code, status) = client.json("POST", "/api/v1/namespaces/default/pods", &with_priority(pod("given", "high"), 7)).await;
    assert_eq!((code, status["message"].as_str()), (403, Some("pods \"given\" is forbidden: the integer value of priority (7) must not be provided in pod spec; priority admission controller computed 1000 from the given PriorityClass name")), "{status}");
}

fn without_class(mut pod: Value) -> Value {
    if let Some(spec) = pod["spec"].as_object_mut() {
        spec.remove("priorityClassName");
    }
    pod
}

fn with_priority(mut pod: Value, priority: i64) -> Value {
    pod["spec"]["priority"] = json!(priority);
    pod
}

async fn budgets_keep_their_generation_and_status(storage: Storage) {
    let server = ApiServer::start(storage).unwrap_or_else(|err| panic!("starting the apiserver: {err}"));
    let client = Client::new(&server);
    let given = budget("web", json!({"minAvailable": 2, "selector": {"matchLabels": {"app": "web"}}}));
    let (code, created) = client.json("POST", BUDGETS, &with_status(given, json!({"disruptionsAllowed": 3}))).await;
    assert_eq!(code, 201, "{created}");
    assert_eq!(created["metadata"]["generation"], 1, "{created}");
    assert_eq!(created["status"], json!({"currentHealthy": 0, "desiredHealthy": 0, "disruptionsAllowed": 0, "expectedPods": 0}), "a new budget allows nothing: {created}");

    // The disruption controller's status write: the spec stays, the generation too.
    let status = json!({"observedGeneration": 1, "disruptionsAllowed": 1, "currentHealthy": 3, "desiredHealthy": 2, "expectedPods": 3,
        "disruptedPods": {"web-1": "2026-01-01T00:00:00Z"},
        "conditions": [{"type": "DisruptionAllowed", "status": "True", "reason": "SufficientPods", "message": "", "lastTransitionTime": "2026-01-01T00:00:00Z", "observedGeneration": 1}]});
    let mut written = with_status(created.clone(), status.clone());
    written["spec"]["minAvailable"] = json!(9);
    let (code, updated) = client.json("PUT", &format!("{BUDGETS}/web/status"), &written).await;
    assert_eq!((code, updated["spec"]["minAvailable"].as_i64(), updated["metadata"]["generation"].as_i64()), (200, Some(2), Some(1)), "{updated}");
    assert_eq!(updated["status"], status, "{updated}");
    let (code, refused) = client.json("PUT", &format!("{BUDGETS}/web/status"), &with_status(updated.clone(), json!({"disruptionsAllowed": -1, "currentHealthy": 0, "desiredHealthy": 0, "expectedPods": 0}))).await;
    assert_eq!((code, refused["message"].as_str()), (422, Some("PodDisruptionBudget.policy \"web\" is invalid: status.disruptionsAllowed: Invalid value: -1: must be greater than or equal to 0")), "{refused}");

    // A change of the spec bumps the generation (the eviction waits for the controller to see
    // it) and keeps the status.
    let mut changed = updated.clone();
    changed["spec"]["minAvailable"] = json!("50%");
    changed["status"] = json!({});
    let (code, changed) = client.json("PUT", &format!("{BUDGETS}/web"), &changed).await;
    assert_eq!((code, changed["metadata"]["generation"].as_i64(), changed["status"]["disruptionsAllowed"].as_i64()), (200, Some(2), Some(1)), "{changed}");
    let (code, labelled) = client.json("PUT", &format!("{BUDGETS}/web"), &with_label(changed.clone())).await;
    assert_eq!((code, labelled["metadata"]["generation"].as_i64()), (200, Some(2)), "metadata is no spec change: {labelled}");
}

fn with_status(mut object: Value, status: Value) -> Value {
    object["status"] = status;
    object
}

fn with_label(mut object: Value) -> Value {
    object["metadata"]["labels"] = json!({"tier": "web"});
    object
}

/// autoscaling/v1 serves the objects stored as autoscaling/v2: the cpu target is
/// `targetCPUUtilizationPercentage`, and a write through v1 keeps what v1 cannot say.
async fn autoscalers_are_served_as_v1_too(storage: Storage) {
    let server = ApiServer::start(storage).unwrap_or_else(|err| panic!("starting the apiserver: {err}"));
    let client = Client::new(&server);
    const V1: &str = "/apis/autoscaling/v1/namespaces/default/horizontalpodautoscalers";
    let v1 = json!({"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "web"},
        "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}, "maxReplicas": 4, "targetCPUUtilizationPercentage": 60}});
    let (code, created) = client.json("POST", V1, &v1).await;
    assert_eq!((code, created["apiVersion"].as_str(), created["spec"]["minReplicas"].as_i64(), created["spec"]["targetCPUUtilizationPercentage"].as_i64()), (201, Some("autoscaling/v1"), Some(1), Some(60)), "{created}");
    let (_, as_v2) = client.get(&format!("{AUTOSCALERS}/web")).await;
    assert_eq!(as_v2["spec"]["metrics"], cpu(json!({"type": "Utilization", "averageUtilization": 60})), "{as_v2}");

    // A memory metric and a behavior written through v2 survive a v1 update of the cpu target.
    let mut richer = as_v2.clone();
    richer["spec"]["metrics"] = json!([{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 60}}},
        {"type": "Resource", "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": "100Mi"}}}]);
    richer["spec"]["behavior"] = json!({"scaleDown": {"stabilizationWindowSeconds": 30}});
    let (code, richer) = client.json("PUT", &format!("{AUTOSCALERS}/web"), &richer).await;
    assert_eq!(code, 200, "{richer}");
    let (_, read) = client.get(&format!("{V1}/web")).await;
    assert_eq!((read["apiVersion"].as_str(), read["spec"].get("metrics")), (Some("autoscaling/v1"), None), "{read}");
    let mut changed = read.clone();
    changed["spec"]["targetCPUUtilizationPercentage"] = json!(70);
    let (code, updated) = client.json("PUT", &format!("{V1}/web"), &changed).await;
    assert_eq!((code, updated["spec"]["targetCPUUtilizationPercentage"].as_i64()), (200, Some(70)), "{updated}");
    let (_, as_v2) = client.get(&format!("{AUTOSCALERS}/web")).await;
    assert_eq!(as_v2["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"], 70, "{as_v2}");
    assert_eq!(as_v2["spec"]["metrics"][1], richer["spec"]["metrics"][1], "{as_v2}");
    assert_eq!(as_v2["spec"]["behavior"]["scaleDown"]["stabilizationWindowSeconds"], 30, "{as_v2}");
    let (code, patched) = client.send("PATCH", &format!("{V1}/web"), "application/merge-patch+json", br#"{"spec":{"maxReplicas":6}}"#.to_vec()).await;
    assert_eq!((code, patched["spec"]["maxReplicas"].as_i64(), patched["apiVersion"].as_str()), (200, Some(6), Some("autoscaling/v1")), "{patched}");

    // Lists, kubectl and bad input in v1.
    let (_, list) = client.get(V1).await;
    assert_eq!(list["items"][0]["spec"]["targetCPUUtilizationPercentage"], 70, "{list}");
    let (code, events) = client.get(&format!("{V1}?watch=1&timeoutSeconds=1")).await;
    let text = events.as_str().map_or_else(|| events.to_string(), str::to_string);
    let first: Value = text.lines().next().and_then(|line| serde_json::from_str(line).ok()).unwrap_or_default();
    assert_eq!((code, first["type"].as_str(), first["object"]["apiVersion"].as_str(), first["object"]["spec"]["targetCPUUtilizationPercentage"].as_i64()),
        (200, Some("ADDED"), Some("autoscaling/v1"), Some(70)), "{text}");
    let table = kubectl_ok(&server, &["get", "hpa.v1.autoscaling", "web", "--no-headers"]);
    assert_eq!(columns(&table)[..6], ["web", "Deployment/web", "cpu:", "<unknown>/70%,", "memory:", "<unknown>/100Mi"], "{table}");
    let (code, status) = client.json("POST", V1, &{ let mut bad = v1.clone(); bad["metadata"]["name"] = json!("bad"); bad["spec"]["minReplicas"] = json!(5); bad }).await;
    assert_eq!((code, status["message"].as_str()), (422, Some("HorizontalPodAutoscaler.autoscaling \"bad\" is invalid: spec.maxReplicas: Invalid value: 4: must be greater than or equal to `minReplicas`")), "{status}");
}
