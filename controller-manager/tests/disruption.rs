//! The disruption and resourcequota controllers in the real controller-manager binary against
//! the real apiserver. No scheduler or kubelet runs: the tests bind pods and write their status
//! (Ready, Succeeded) as a kubelet would, and write a budget's `disruptedPods` as the eviction
//! subresource does.

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::Cluster;

const WITHIN: Duration = Duration::from_secs(30);

/// The controller-manager, whose log is printed when the test fails.
struct Manager(common::testing::Component);

impl Drop for Manager {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("controller-manager log:\n{}", self.0.log());
        }
    }
}

fn deployment(name: &str, replicas: i64) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}})
}

fn budget(name: &str, app: &str, spec: Value) -> Value {
    let mut body = json!({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": name}, "spec": {"selector": {"matchLabels": {"app": app}}}});
    for (key, value) in spec.as_object().cloned().unwrap_or_default() {
        body["spec"][key] = value;
    }
    body
}

fn pdb_path(namespace: &str, name: &str) -> String {
    format!("/apis/policy/v1/namespaces/{namespace}/poddisruptionbudgets/{name}")
}

/// The names of the pods with `app` in `namespace`, not being deleted, once there are `count`.
async fn pods_of(cluster: &Cluster, namespace: &str, app: &str, count: usize) -> Vec<String> {
    cluster
        .wait_for(&format!("{count} pods of {app}"), WITHIN, || async {
            let pods = cluster.items(&format!("/api/v1/namespaces/{namespace}/pods?labelSelector=app%3D{app}")).await;
            let names: Vec<String> = pods.iter().filter(|pod| pod["metadata"]["deletionTimestamp"].is_null()).map(|pod| pod["metadata"]["name"].as_str().unwrap_or_default().to_string()).collect();
            if names.len() == count { Ok(names) } else { Err(format!("{names:?}")) }
        })
        .await
}

/// The budget's status once `expected` (a subset of its fields) holds, and its generation
/// observed.
async fn budget_status(cluster: &Cluster, namespace: &str, name: &str, expected: Value) -> Value {
    budget_status_within(cluster, namespace, name, expected, WITHIN).await
}

async fn budget_status_within(cluster: &Cluster, namespace: &str, name: &str, expected: Value, within: Duration) -> Value {
    cluster
        .wait_for(&format!("budget {namespace}/{name} with {expected}"), within, || async {
            let budget = cluster.get(&pdb_path(namespace, name)).await;
            let status = &budget["status"];
            let fields_match = expected.as_object().into_iter().flatten().all(|(key, value)| &status[key] == value);
            if fields_match && status["observedGeneration"] == budget["metadata"]["generation"] { Ok(budget) } else { Err(budget["status"].to_string()) }
        })
        .await
}

fn condition<'a>(budget: &'a Value, kind: &str) -> &'a Value {
    budget["status"]["conditions"].as_array().and_then(|conditions| conditions.iter().find(|condition| condition["type"] == kind)).unwrap_or(&Value::Null)
}

/// Waits for an event with `reason` about the object `name` in `namespace`, returns its message.
async fn event(cluster: &Cluster, namespace: &str, name: &str, reason: &str) -> Value {
    cluster
        .wait_for(&format!("event {reason} about {namespace}/{name}"), WITHIN, || async {
            let events = cluster.items(&format!("/api/v1/namespaces/{namespace}/events")).await;
            events
                .iter()
                .find(|event| event["involvedObject"]["name"] == name && event["reason"] == reason)
                .cloned()
                .ok_or_else(|| events.iter().map(|event| format!("{} {}: {}", event["involvedObject"]["name"], event["reason"], event["message"])).collect::<Vec<_>>().join("; "))
        })
        .await
}

fn ago(seconds: i64) -> String {
    let at = jiff::Timestamp::now() - jiff::SignedDuration::from_secs(seconds);
    at.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn budgets_count_ready_pods_of_their_controllers() {
    let cluster = Cluster::start();
    let _manager = Manager(cluster.controller_manager(&["--controllers=deployment,replicaset,disruption"]));
    cluster.node("node-1").await;
    cluster.namespace("pdb").await;
    let budgets = "/apis/policy/v1/namespaces/pdb/poddisruptionbudgets";

    // An integer minAvailable over a Deployment's three pods, Ready as a kubelet reports them.
    cluster.create("/apis/apps/v1/namespaces/pdb/deployments", &deployment("web", 3)).await;
    cluster.create(budgets, &budget("web", "web", json!({"minAvailable": 2}))).await;
    let pods = pods_of(&cluster, "pdb", "web", 3).await;
    for (index, pod) in pods.iter().enumerate() {
        cluster.run_pod("pdb", pod, "node-1", &format!("10.244.0.{}", index + 10), true).await;
    }
    let web = budget_status(&cluster, "pdb", "web", json!({"currentHealthy": 3, "desiredHealthy": 2, "expectedPods": 3, "disruptionsAllowed": 1})).await;
    let allowed = condition(&web, "DisruptionAllowed");
    assert_eq!((allowed["status"].as_str(), allowed["reason"].as_str()), (Some("True"), Some("SufficientPods")), "{web}");
    assert_eq!(allowed["observedGeneration"], web["metadata"]["generation"]);

    // One pod not Ready: no disruption allowed.
    cluster.set_pod_status("pdb", &pods[0], "10.244.0.10", false).await;
    let web = budget_status(&cluster, "pdb", "web", json!({"currentHealthy": 2, "desiredHealthy": 2, "expectedPods": 3, "disruptionsAllowed": 0})).await;
    let allowed = condition(&web, "DisruptionAllowed");
    assert_eq!((allowed["status"].as_str(), allowed["reason"].as_str()), (Some("False"), Some("InsufficientPods")), "{web}");

    // A percentage is of the Deployment's scale, rounded up: 50 % of 4 with 3 Ready.
    cluster.create("/apis/apps/v1/namespaces/pdb/deployments", &deployment("api", 4)).await;
    cluster.create(budgets, &budget("api", "api", json!({"minAvailable": "50%"}))).await;
    let pods = pods_of(&cluster, "pdb", "api", 4).await;
    for (index, pod) in pods.iter().enumerate() {
        cluster.run_pod("pdb", pod, "node-1", &format!("10.244.0.{}", index + 20), index < 3).await;
    }
    budget_status(&cluster, "pdb", "api", json!({"currentHealthy": 3, "desiredHealthy": 2, "expectedPods": 4, "disruptionsAllowed": 1})).await;
    // The Deployment scaled: the expected count follows its spec, before its new pods exist.
    cluster.merge_patch("/apis/apps/v1/namespaces/pdb/deployments/api", &json!({"spec": {"replicas": 7}})).await;
    budget_status(&cluster, "pdb", "api", json!({"currentHealthy": 3, "desiredHealthy": 4, "expectedPods": 7, "disruptionsAllowed": 0})).await;
    // maxUnavailable instead (a new generation, observed): 7 - 25 % rounded up = 5.
    let patched = cluster.merge_patch(&pdb_path("pdb", "api"), &json!({"spec": {"minAvailable": null, "maxUnavailable": "25%"}})).await;
    assert!(patched["metadata"]["generation"].as_i64() > Some(1), "{patched}");
    let api = budget_status(&cluster, "pdb", "api", json!({"desiredHealthy": 5, "expectedPods": 7, "disruptionsAllowed": 0})).await;
    assert_eq!(api["status"]["observedGeneration"], patched["metadata"]["generation"]);

    // A budget selecting nothing: kube's Normal NoPods event, nothing allowed.
    cluster.create(budgets, &budget("nothing", "none", json!({"maxUnavailable": 1}))).await;
    budget_status(&cluster, "pdb", "nothing", json!({"currentHealthy": 0, "expectedPods": 0, "disruptionsAllowed": 0})).await;
    let no_pods = event(&cluster, "pdb", "nothing", "NoPods").await;
    assert_eq!((no_pods["type"].as_str(), no_pods["message"].as_str()), (Some("Normal"), Some("No matching pods found")));

    // A pod whose controller is of a kind nobody serves: the expected count cannot be known;
    // the fail-safe allows nothing, with kube's reason, message and event.
    cluster
        .create("/api/v1/namespaces/pdb/pods", &json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "odd", "labels": {"app": "odd"},
                         "ownerReferences": [{"apiVersion": "example.com/v1", "kind": "Widget", "name": "w", "uid": "00000000-0000-0000-0000-000000000001", "controller": true}]},
            "spec": {"containers": [{"name": "c", "image": "busybox"}]}}))
        .await;
    cluster.run_pod("pdb", "odd", "node-1", "10.244.0.40", true).await;
    cluster.create(budgets, &budget("odd", "odd", json!({"maxUnavailable": 1}))).await;
    let odd = cluster
        .wait_for("budget odd failed safe", WITHIN, || async {
            let budget = cluster.get(&pdb_path("pdb", "odd")).await;
            if condition(&budget, "DisruptionAllowed")["reason"] == "SyncFailed" { Ok(budget) } else { Err(budget["status"].to_string()) }
        })
        .await;
    let failed = condition(&odd, "DisruptionAllowed");
    assert_eq!(failed["status"], "False");
    assert_eq!(failed["message"], "no matches for kind \"Widget\" in version \"example.com/v1\"");
    assert_eq!(odd["status"]["disruptionsAllowed"], 0);
    let calculate = event(&cluster, "pdb", "odd", "CalculateExpectedPodCountFailed").await;
    assert_eq!(calculate["type"], "Warning");
    assert_eq!(calculate["message"], "Failed to calculate the number of expected pods: no matches for kind \"Widget\" in version \"example.com/v1\"");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evicted_pods_leave_disrupted_pods_when_deleted_gone_or_two_minutes_old() {
    let cluster = Cluster::start();
    let _manager = Manager(cluster.controller_manager(&["--controllers=deployment,replicaset,disruption"]));
    cluster.node("node-1").await;
    cluster.namespace("evict").await;
    cluster.create("/apis/apps/v1/namespaces/evict/deployments", &deployment("db", 4)).await;
    cluster.create("/apis/policy/v1/namespaces/evict/poddisruptionbudgets", &budget("db", "db", json!({"minAvailable": 1}))).await;
    let pods = pods_of(&cluster, "evict", "db", 4).await;
    for (index, pod) in pods.iter().enumerate() {
        cluster.run_pod("evict", pod, "node-1", &format!("10.244.1.{}", index + 10), true).await;
    }
    budget_status(&cluster, "evict", "db", json!({"currentHealthy": 4, "disruptionsAllowed": 3})).await;

    // As the eviction subresource writes them: one evicted moments ago, one evicted 90 s ago
    // and never deleted (30 s before it expires: wide enough a "kept" state for a loaded
    // machine to see), one gone, one being deleted (a finalizer keeps it).
    let (fresh, old, deleting) = (&pods[0], &pods[1], &pods[2]);
    cluster.merge_patch(&format!("/api/v1/namespaces/evict/pods/{deleting}"), &json!({"metadata": {"finalizers": ["example.com/hold"]}})).await;
    let (code, answer) = cluster.delete(&format!("/api/v1/namespaces/evict/pods/{deleting}"), &json!({"gracePeriodSeconds": 30})).await;
    assert!(code == 200 || code == 202, "{answer}");
    let written_at = jiff::Timestamp::now();
    let disrupted = json!({fresh.as_str(): ago(5), old.as_str(): ago(90), "gone": ago(5)});
    cluster.merge_patch(&format!("{}/status", pdb_path("evict", "db")), &json!({"status": {"disruptedPods": disrupted}})).await;

    // Kept: the fresh and the old entry; neither pod, nor the one being deleted, counts healthy.
    let kept = budget_status(&cluster, "evict", "db", json!({"currentHealthy": 1, "disruptionsAllowed": 0})).await;
    let mut names: Vec<&str> = kept["status"]["disruptedPods"].as_object().map(|pods| pods.keys().map(String::as_str).collect()).unwrap_or_default();
    names.sort_unstable();
    let mut expected = vec![fresh.as_str(), old.as_str()];
    expected.sort_unstable();
    assert_eq!(names, expected, "{kept}");

    // The old entry expires at 120 s without a deletion: dropped, its pod healthy again, and
    // kube's NotDeleted warning on the pod.
    let expired = budget_status_within(&cluster, "evict", "db", json!({"currentHealthy": 2, "disruptionsAllowed": 1}), WITHIN + Duration::from_secs(30)).await;
    assert!(jiff::Timestamp::now().duration_since(written_at) >= jiff::SignedDuration::from_secs(25), "not dropped before it expired");
    let names: Vec<&str> = expired["status"]["disruptedPods"].as_object().map(|pods| pods.keys().map(String::as_str).collect()).unwrap_or_default();
    assert_eq!(names, [fresh.as_str()], "{expired}");
    let not_deleted = event(&cluster, "evict", old, "NotDeleted").await;
    assert_eq!(not_deleted["type"], "Warning");
    assert_eq!(not_deleted["message"], "Pod was expected by PDB evict/evict to be deleted but it wasn't");

    // The fresh pod deleted: its entry goes too.
    cluster.delete(&format!("/api/v1/namespaces/evict/pods/{fresh}"), &json!({"gracePeriodSeconds": 0})).await;
    let done = cluster
        .wait_for("no disrupted pods", WITHIN, || async {
            let budget = cluster.get(&pdb_path("evict", "db")).await;
            if budget["status"]["disruptedPods"].as_object().is_none_or(|pods| pods.is_empty()) { Ok(budget) } else { Err(budget["status"].to_string()) }
        })
        .await;
    assert_eq!(done["status"]["disruptionsAllowed"], done["status"]["currentHealthy"].as_i64().unwrap_or_default() - 1);
    cluster.merge_patch(&format!("/api/v1/namespaces/evict/pods/{deleting}"), &json!({"metadata": {"finalizers": null}})).await;
}

fn quota_path(namespace: &str, name: &str) -> String {
    format!("/api/v1/namespaces/{namespace}/resourcequotas/{name}")
}

/// The quota once its `status.used` has `expected` (a subset) and its status.hard is its spec.
async fn quota_used(cluster: &Cluster, namespace: &str, name: &str, expected: Value) -> Value {
    cluster
        .wait_for(&format!("quota {namespace}/{name} using {expected}"), WITHIN, || async {
            let quota = cluster.get(&quota_path(namespace, name)).await;
            let used = &quota["status"]["used"];
            let matches = expected.as_object().into_iter().flatten().all(|(key, value)| &used[key] == value);
            if matches && quota["status"]["hard"] == quota["spec"]["hard"] { Ok(quota) } else { Err(quota["status"].to_string()) }
        })
        .await
}

fn pod(name: &str, cpu: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
        "spec": {"containers": [{"name": "c", "image": "busybox", "resources": {"requests": {"cpu": cpu, "memory": "16Mi"}, "limits": {"cpu": cpu, "memory": "16Mi"}}}]}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quota_usage_follows_pods_and_counted_objects() {
    let cluster = Cluster::start();
    let _manager = Manager(cluster.controller_manager(&["--controllers=resourcequota"]));
    cluster.namespace("team").await;
    cluster.node("node-1").await;
    let quota = json!({"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "compute"},
        "spec": {"hard": {"pods": "3", "requests.cpu": "1", "count/configmaps": "5", "secrets": "4", "count/deployments.apps": "3"}}});
    cluster.create("/api/v1/namespaces/team/resourcequotas", &quota).await;
    quota_used(&cluster, "team", "compute", json!({"pods": "0", "requests.cpu": "0", "count/configmaps": "0", "secrets": "0", "count/deployments.apps": "0"})).await;

    // A second quota, scoped to pods with a deadline.
    let terminating = json!({"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "terminating"},
        "spec": {"hard": {"pods": "2"}, "scopes": ["Terminating"]}});
    cluster.create("/api/v1/namespaces/team/resourcequotas", &terminating).await;
    quota_used(&cluster, "team", "terminating", json!({"pods": "0"})).await;

    cluster.create("/api/v1/namespaces/team/pods", &pod("a", "100m")).await;
    cluster.create("/api/v1/namespaces/team/pods", &pod("b", "200m")).await;
    let mut deadline = pod("c", "300m");
    deadline["spec"]["activeDeadlineSeconds"] = json!(600);
    cluster.create("/api/v1/namespaces/team/pods", &deadline).await;
    for name in ["x", "y"] {
        cluster.create("/api/v1/namespaces/team/configmaps", &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}})).await;
    }
    cluster.create("/api/v1/namespaces/team/secrets", &json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}})).await;
    for name in ["d1", "d2"] {
        cluster.create("/apis/apps/v1/namespaces/team/deployments", &deployment(name, 0)).await;
    }
    // A changed spec.hard is recomputed from what is there (whatever admission charged).
    cluster.merge_patch(&quota_path("team", "compute"), &json!({"spec": {"hard": {"pods": "4"}}})).await;
    let compute = quota_used(&cluster, "team", "compute", json!({"pods": "3", "requests.cpu": "600m", "count/configmaps": "2", "secrets": "1", "count/deployments.apps": "2"})).await;
    assert_eq!(compute["status"]["hard"]["pods"], "4");
    assert_eq!(compute["status"]["used"].as_object().map(|used| used.len()), Some(5), "used has the hard names only: {compute}");
    cluster.merge_patch(&quota_path("team", "terminating"), &json!({"spec": {"hard": {"pods": "3"}}})).await;
    quota_used(&cluster, "team", "terminating", json!({"pods": "1"})).await;

    // A deletion gives its usage back.
    let (code, answer) = cluster.delete("/api/v1/namespaces/team/pods/a", &json!({"gracePeriodSeconds": 0})).await;
    assert_eq!(code, 200, "{answer}");
    quota_used(&cluster, "team", "compute", json!({"pods": "2", "requests.cpu": "500m"})).await;

    // A pod that finished uses nothing but its object.
    cluster.merge_patch("/api/v1/namespaces/team/pods/b/status", &json!({"status": {"phase": "Succeeded"}})).await;
    quota_used(&cluster, "team", "compute", json!({"pods": "1", "requests.cpu": "300m"})).await;
    cluster.merge_patch("/api/v1/namespaces/team/pods/c/status", &json!({"status": {"phase": "Failed"}})).await;
    quota_used(&cluster, "team", "compute", json!({"pods": "0", "requests.cpu": "0"})).await;
    quota_used(&cluster, "team", "terminating", json!({"pods": "0"})).await;

    // Objects counted by number, watched metadata-only: a deletion counts down.
    cluster.delete("/api/v1/namespaces/team/configmaps/x", &json!({})).await;
    cluster.delete("/api/v1/namespaces/team/secrets/s", &json!({})).await;
    cluster.delete("/apis/apps/v1/namespaces/team/deployments/d1", &json!({})).await;
    quota_used(&cluster, "team", "compute", json!({"count/configmaps": "1", "secrets": "0", "count/deployments.apps": "1"})).await;
}

fn crd(plural: &str, kind: &str, scale: bool) -> Value {
    let mut version = json!({"name": "v1", "served": true, "storage": true,
        "schema": {"openAPIV3Schema": {"type": "object", "properties": {
            "spec": {"type": "object", "properties": {"replicas": {"type": "integer"}}},
            "status": {"type": "object", "properties": {"replicas": {"type": "integer"}}}}}}});
    if scale {
        version["subresources"] = json!({"status": {}, "scale": {"specReplicasPath": ".spec.replicas", "statusReplicasPath": ".status.replicas"}});
    }
    json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "metadata": {"name": format!("{plural}.example.com")},
        "spec": {"group": "example.com", "scope": "Namespaced", "names": {"plural": plural, "singular": kind.to_lowercase(), "kind": kind}, "versions": [version]}})
}

/// A custom object of `kind` and two Ready pods it controls, labelled `app: <name>`.
async fn custom_controller_with_pods(cluster: &Cluster, plural: &str, kind: &str, name: &str, replicas: i64) {
    let objects = format!("/apis/example.com/v1/namespaces/custom/{plural}");
    cluster
        .wait_for(&format!("{plural} served"), WITHIN, || async {
            let (code, answer) = cluster.send(reqwest::Method::GET, &objects, "application/json", None).await;
            if code == 200 { Ok(()) } else { Err(answer.to_string()) }
        })
        .await;
    let object = cluster.create(&objects, &json!({"apiVersion": "example.com/v1", "kind": kind, "metadata": {"name": name}, "spec": {"replicas": replicas}})).await;
    let uid = object["metadata"]["uid"].clone();
    for index in 0..2 {
        let pod = format!("{name}-{index}");
        cluster
            .create("/api/v1/namespaces/custom/pods", &json!({"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": pod, "labels": {"app": name},
                             "ownerReferences": [{"apiVersion": "example.com/v1", "kind": kind, "name": name, "uid": uid, "controller": true}]},
                "spec": {"containers": [{"name": "c", "image": "busybox"}]}}))
            .await;
        cluster.run_pod("custom", &pod, "node-1", &format!("10.244.2.{}", index + 10), true).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_budget_over_custom_resources_reads_their_scale_subresource() {
    let cluster = Cluster::start();
    let _manager = Manager(cluster.controller_manager(&["--controllers=disruption"]));
    cluster.node("node-1").await;
    cluster.namespace("custom").await;
    let budgets = "/apis/policy/v1/namespaces/custom/poddisruptionbudgets";
    cluster.create("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", &crd("widgets", "Widget", true)).await;
    cluster.create("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", &crd("gadgets", "Gadget", false)).await;

    // The expected count is the widget's spec.replicas, read through its scale subresource.
    custom_controller_with_pods(&cluster, "widgets", "Widget", "w", 4).await;
    cluster.create(budgets, &budget("w", "w", json!({"minAvailable": "50%"}))).await;
    budget_status(&cluster, "custom", "w", json!({"currentHealthy": 2, "desiredHealthy": 2, "expectedPods": 4, "disruptionsAllowed": 0})).await;
    // Scaled down (no watch on custom kinds, as kube: a pod's change brings the budget back).
    cluster.merge_patch("/apis/example.com/v1/namespaces/custom/widgets/w/scale", &json!({"spec": {"replicas": 2}})).await;
    cluster.merge_patch("/api/v1/namespaces/custom/pods/w-0", &json!({"metadata": {"annotations": {"touched": "yes"}}})).await;
    budget_status(&cluster, "custom", "w", json!({"currentHealthy": 2, "desiredHealthy": 1, "expectedPods": 2, "disruptionsAllowed": 1})).await;

    // A kind without the subresource: kube's message, and nothing allowed.
    custom_controller_with_pods(&cluster, "gadgets", "Gadget", "g", 2).await;
    cluster.create(budgets, &budget("g", "g", json!({"maxUnavailable": 1}))).await;
    let gadgets = cluster
        .wait_for("budget g failed safe", WITHIN, || async {
            let budget = cluster.get(&pdb_path("custom", "g")).await;
            if condition(&budget, "DisruptionAllowed")["reason"] == "SyncFailed" { Ok(budget) } else { Err(budget["status"].to_string()) }
        })
        .await;
    assert_eq!(condition(&gadgets, "DisruptionAllowed")["message"], "gadgets.example.com does not implement the scale subresource");
    assert_eq!(gadgets["status"]["disruptionsAllowed"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_disruption_target_on_a_pod_not_deleted_is_reset() {
    let cluster = Cluster::start();
    let _manager = Manager(cluster.controller_manager(&["--controllers=disruption"]));
    cluster.node("node-1").await;
    cluster.namespace("stale").await;
    for name in ["stale", "recent"] {
        cluster.create("/api/v1/namespaces/stale/pods", &json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}})).await;
        cluster.run_pod("stale", name, "node-1", "10.244.3.10", true).await;
    }
    // An eviction or preemption marked them and did not delete them: 3 minutes ago, and now.
    for (name, since) in [("stale", ago(180)), ("recent", ago(0))] {
        let condition = json!({"type": "DisruptionTarget", "status": "True", "reason": "EvictionByEvictionAPI", "message": "Eviction API: evicting", "lastTransitionTime": since});
        let pod = cluster.get(&format!("/api/v1/namespaces/stale/pods/{name}")).await;
        let mut conditions = pod["status"]["conditions"].as_array().cloned().unwrap_or_default();
        conditions.push(condition);
        cluster.merge_patch(&format!("/api/v1/namespaces/stale/pods/{name}/status"), &json!({"status": {"conditions": conditions}})).await;
    }
    let target = |pod: &Value| pod["status"]["conditions"].as_array().and_then(|conditions| conditions.iter().find(|condition| condition["type"] == "DisruptionTarget").cloned()).unwrap_or_default();
    let reset = cluster
        .wait_for("the stale DisruptionTarget False", WITHIN, || async {
            let pod = cluster.get("/api/v1/namespaces/stale/pods/stale").await;
            let condition = target(&pod);
            if condition["status"] == "False" { Ok(condition) } else { Err(pod["status"].to_string()) }
        })
        .await;
    // As kube's UpdatePodCondition with a bare condition: reason and message go.
    assert!(reset["reason"].is_null() && reset["message"].is_null(), "{reset}");
    assert_eq!(target(&cluster.get("/api/v1/namespaces/stale/pods/recent").await)["status"], "True", "not stale for another 2 minutes");
}

/// Evicts a pod through the eviction subresource: the status code and the answer.
async fn evict(cluster: &Cluster, namespace: &str, name: &str) -> (u16, Value) {
    let eviction = json!({"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": name, "namespace": namespace}});
    cluster.send(reqwest::Method::POST, &format!("/api/v1/namespaces/{namespace}/pods/{name}/eviction"), "application/json", Some(&eviction)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evictions_spend_the_budget_and_the_controller_gives_it_back_as_pods_become_ready() {
    let cluster = Cluster::start();
    let _manager = Manager(cluster.controller_manager(&["--controllers=deployment,replicaset,disruption"]));
    cluster.node("node-1").await;
    cluster.namespace("drain").await;
    cluster.create("/apis/apps/v1/namespaces/drain/deployments", &deployment("web", 3)).await;
    cluster.create("/apis/policy/v1/namespaces/drain/poddisruptionbudgets", &budget("web", "web", json!({"minAvailable": 2}))).await;
    let pods = pods_of(&cluster, "drain", "web", 3).await;
    for (index, pod) in pods.iter().enumerate() {
        cluster.run_pod("drain", pod, "node-1", &format!("10.244.4.{}", index + 10), true).await;
    }
    budget_status(&cluster, "drain", "web", json!({"currentHealthy": 3, "disruptionsAllowed": 1})).await;

    // One eviction allowed; the next refused until a replacement is Ready.
    let (code, answer) = evict(&cluster, "drain", &pods[0]).await;
    assert_eq!(code, 201, "{answer}");
    let (code, answer) = evict(&cluster, "drain", &pods[1]).await;
    assert_eq!(code, 429, "{answer}");
    // The evicted pod is terminating (no kubelet finishes it): not healthy, not listed.
    budget_status(&cluster, "drain", "web", json!({"currentHealthy": 2, "desiredHealthy": 2, "disruptionsAllowed": 0})).await;
    let replacement = cluster
        .wait_for("a replacement pod", WITHIN, || async {
            let listed = cluster.items("/api/v1/namespaces/drain/pods?labelSelector=app%3Dweb").await;
            listed
                .iter()
                .filter(|pod| pod["metadata"]["deletionTimestamp"].is_null())
                .map(|pod| pod["metadata"]["name"].as_str().unwrap_or_default().to_string())
                .find(|name| !pods.contains(name))
                .ok_or_else(|| format!("{} pods", listed.len()))
        })
        .await;
    cluster.run_pod("drain", &replacement, "node-1", "10.244.4.20", true).await;
    let budget = budget_status(&cluster, "drain", "web", json!({"currentHealthy": 3, "disruptionsAllowed": 1})).await;
    assert!(budget["status"]["disruptedPods"].as_object().is_none_or(|pods| pods.is_empty()), "{budget}");
    let (code, answer) = evict(&cluster, "drain", &pods[1]).await;
    assert_eq!(code, 201, "{answer}");
}
