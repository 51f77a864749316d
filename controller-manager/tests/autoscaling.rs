//! The HorizontalPodAutoscaler controller in the real controller-manager binary (with the
//! deployment and replicaset controllers) against the real apiserver binary. No kubelet runs: the
//! test plays the kubelets' part, binding pods to a node and marking them Running and Ready, and
//! serves that node's Summary API (`/stats/summary`) from a fake kubelet on loopback, which is
//! where the apiserver's `metrics.k8s.io` reads the pods' cpu samples, so the controller sees
//! exactly the usage the test sets.

// Helpers of a test may unwrap: a failure is the test failing.
#![allow(clippy::unwrap_used, clippy::type_complexity)]

mod support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use support::Cluster;

const WITHIN: Duration = Duration::from_secs(60);
const CONTROLLERS: &str = "--controllers=deployment,replicaset,horizontalpodautoscaling";
/// A sync a second, and cpu samples trusted one second after a pod starts, so that a test takes
/// seconds rather than minutes; the algorithm is the same.
const FAST: [&str; 2] = ["--horizontal-pod-autoscaler-sync-period=1s", "--horizontal-pod-autoscaler-cpu-initialization-period=1s"];

/// The controller-manager, whose log is printed when the test fails.
struct Manager(common::testing::Component);

impl Drop for Manager {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("controller-manager log:\n{}", self.0.log());
        }
    }
}

fn start(cluster: &Cluster) -> Manager {
    let mut args = vec![CONTROLLERS];
    args.extend(FAST);
    Manager(cluster.controller_manager(&args))
}

/// The cpu each running pod uses, in nanocores, as the fake kubelet reports it.
#[derive(Clone, Default)]
struct Usage(Arc<Mutex<HashMap<String, (String, String, u64)>>>, Arc<Mutex<u64>>);

impl Usage {
    fn set_per_pod(&self, nanocores: u64) {
        *self.1.lock().unwrap() = nanocores;
    }

    fn summary(&self, node: &str) -> Value {
        let now = jiff::Timestamp::now().to_string();
        let per_pod = *self.1.lock().unwrap();
        let pods: Vec<Value> = self
            .0
            .lock()
            .unwrap()
            .iter()
            .map(|(uid, (namespace, name, _))| {
                json!({"podRef": {"name": name, "namespace": namespace, "uid": uid},
                       "containers": [{"name": "app", "cpu": {"time": now, "usageNanoCores": per_pod}, "memory": {"time": now, "workingSetBytes": 10_485_760}}]})
            })
            .collect();
        json!({"node": {"nodeName": node, "cpu": {"time": now, "usageNanoCores": 1}, "memory": {"time": now, "workingSetBytes": 1}}, "pods": pods})
    }
}

/// Serves `/stats/summary` for `node` on a free loopback port; answers the port.
async fn fake_kubelet(usage: Usage, node: &'static str) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let app = axum::Router::new().route("/stats/summary", axum::routing::get(move || {
        let usage = usage.clone();
        async move { axum::Json(usage.summary(node)) }
    }));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    port
}

/// A Ready node whose kubelet is the fake one on `port`.
async fn node(cluster: &Cluster, name: &str, port: u16) {
    let status = json!({"allocatable": {"cpu": "8", "memory": "16Gi", "pods": "110"}, "capacity": {"cpu": "8", "memory": "16Gi", "pods": "110"},
        "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "kubelet is posting ready status"}],
        "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}], "daemonEndpoints": {"kubeletEndpoint": {"Port": port}}});
    cluster.create("/api/v1/nodes", &json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}, "status": status})).await;
    cluster.merge_patch(&format!("/api/v1/nodes/{name}/status"), &json!({"status": status})).await;
}

/// Plays the kubelet for every pod of `namespace`: binds and runs new ones (Ready), removes
/// deleted ones, and keeps the fake kubelet's list of running pods.
fn kubelet_loop(cluster: Arc<Cluster>, namespace: &'static str, node: &'static str, usage: Usage) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let pods = cluster.items(&format!("/api/v1/namespaces/{namespace}/pods")).await;
            let mut running = HashMap::new();
            for (index, pod) in pods.iter().enumerate() {
                let name = pod["metadata"]["name"].as_str().unwrap_or_default().to_string();
                if !pod["metadata"]["deletionTimestamp"].is_null() {
                    cluster.delete(&format!("/api/v1/namespaces/{namespace}/pods/{name}"), &json!({"gracePeriodSeconds": 0})).await;
                    continue;
                }
                if pod["status"]["phase"] != "Running" {
                    cluster.run_pod(namespace, &name, node, &format!("10.244.0.{}", index + 2), true).await;
                }
                let uid = pod["metadata"]["uid"].as_str().unwrap_or_default().to_string();
                running.insert(uid, (namespace.to_string(), name, 0));
            }
            *usage.0.lock().unwrap() = running;
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
}

fn deployment(name: &str, replicas: i32) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}},
                              "spec": {"containers": [{"name": "app", "image": "busybox", "resources": {"requests": {"cpu": "100m"}}}]}}}})
}

fn hpa(name: &str, target: &str, min: i32, max: i32, metrics: Value, behavior: Value) -> Value {
    let mut hpa = json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": name},
        "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": target}, "minReplicas": min, "maxReplicas": max, "metrics": metrics}});
    if !behavior.is_null() {
        hpa["spec"]["behavior"] = behavior;
    }
    hpa
}

fn cpu_utilization(percent: i32) -> Value {
    json!([{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": percent}}}])
}

fn condition<'a>(hpa: &'a Value, type_: &str) -> Option<&'a Value> {
    hpa["status"]["conditions"].as_array()?.iter().find(|condition| condition["type"] == type_)
}

/// `(status, reason, message)` of the HPA's condition `type_`.
fn condition_of(hpa: &Value, type_: &str) -> (String, String, String) {
    condition(hpa, type_).map_or_else(Default::default, |condition| {
        let text = |field: &str| condition[field].as_str().unwrap_or_default().to_string();
        (text("status"), text("reason"), text("message"))
    })
}

async fn wait_for_hpa(cluster: &Cluster, namespace: &str, name: &str, what: &str, check: impl Fn(&Value) -> bool) -> Value {
    let path = format!("/apis/autoscaling/v2/namespaces/{namespace}/horizontalpodautoscalers/{name}");
    cluster
        .wait_for(what, WITHIN, || async {
            let hpa = cluster.get(&path).await;
            if check(&hpa) { Ok(hpa) } else { Err(hpa["status"].to_string()) }
        })
        .await
}

async fn wait_for_replicas(cluster: &Cluster, namespace: &str, name: &str, replicas: i64) {
    let path = format!("/apis/apps/v1/namespaces/{namespace}/deployments/{name}");
    cluster
        .wait_for(&format!("deployment {name} at {replicas} replicas"), WITHIN, || async {
            let deployment = cluster.get(&path).await;
            if deployment["spec"]["replicas"] == replicas { Ok(()) } else { Err(deployment["spec"]["replicas"].to_string()) }
        })
        .await;
}

/// The message of the event `reason` about `object`, once one exists.
async fn wait_for_event(cluster: &Cluster, namespace: &str, object: &str, reason: &str, message: &str) -> Value {
    cluster
        .wait_for(&format!("event {reason} on {object}: {message}"), WITHIN, || async {
            let events = cluster.items(&format!("/api/v1/namespaces/{namespace}/events")).await;
            let found = events
                .iter()
                .find(|event| event["involvedObject"]["name"] == object && event["reason"] == reason && event["message"] == message);
            found.cloned().ok_or_else(|| {
                let seen: Vec<String> = events.iter().filter(|event| event["involvedObject"]["name"] == object).map(|event| format!("{}: {}", event["reason"], event["message"])).collect();
                seen.join("; ")
            })
        })
        .await
}

#[tokio::test]
async fn scales_up_on_load_and_down_after_the_stabilization_window() {
    let cluster = Arc::new(Cluster::start());
    let usage = Usage::default();
    let port = fake_kubelet(usage.clone(), "node-a").await;
    node(&cluster, "node-a", port).await;
    cluster.namespace("web").await;
    let _manager = start(&cluster);
    let _kubelet = kubelet_loop(cluster.clone(), "web", "node-a", usage.clone());
    cluster.create("/apis/apps/v1/namespaces/web/deployments", &deployment("web", 1)).await;

    // 200m of a 100m request: 200 % against 50 % asks for 4, held to maxReplicas 3.
    usage.set_per_pod(200_000_000);
    // A 12 s scale-down window: long enough that a poll on a loaded machine still sees the
    // stabilized state (a 3 s one could be missed), short enough for a test.
    let behavior = json!({"scaleDown": {"stabilizationWindowSeconds": 12}});
    cluster.create("/apis/autoscaling/v2/namespaces/web/horizontalpodautoscalers", &hpa("web", "web", 1, 3, cpu_utilization(50), behavior)).await;
    wait_for_replicas(&cluster, "web", "web", 3).await;
    wait_for_event(&cluster, "web", "web", "SuccessfulRescale", "New size: 3; reason: cpu resource utilization (percentage of request) above target").await;
    let scaled = wait_for_hpa(&cluster, "web", "web", "status after the scale-up", |hpa| {
        hpa["status"]["currentReplicas"] == 3 && condition_of(hpa, "ScalingLimited").1 == "TooManyReplicas"
    })
    .await;
    assert_eq!(scaled["status"]["desiredReplicas"], 3);
    assert!(scaled["status"]["lastScaleTime"].is_string());
    assert_eq!(scaled["status"]["currentMetrics"][0]["type"], "Resource");
    assert_eq!(scaled["status"]["currentMetrics"][0]["resource"]["name"], "cpu");
    assert_eq!(scaled["status"]["currentMetrics"][0]["resource"]["current"]["averageUtilization"], 200);
    assert_eq!(scaled["status"]["currentMetrics"][0]["resource"]["current"]["averageValue"], "200m");
    assert_eq!(
        condition_of(&scaled, "ScalingActive"),
        ("True".into(), "ValidMetricFound".into(), "the HPA was able to successfully calculate a replica count from cpu resource utilization (percentage of request)".into())
    );
    assert_eq!(
        condition_of(&scaled, "ScalingLimited"),
        ("True".into(), "TooManyReplicas".into(), "the desired replica count is more than the maximum replica count".into())
    );
    assert_eq!(condition_of(&scaled, "AbleToScale").0, "True");

    // The load stops: 10 % asks for 1, held at 3 for the 12 s window, then 1.
    usage.set_per_pod(10_000_000);
    let held = wait_for_hpa(&cluster, "web", "web", "scale-down stabilized", |hpa| condition_of(hpa, "AbleToScale").1 == "ScaleDownStabilized").await;
    assert_eq!(
        condition_of(&held, "AbleToScale"),
        ("True".into(), "ScaleDownStabilized".into(), "recent recommendations were higher than current one, applying the highest recent recommendation".into())
    );
    assert_eq!(held["status"]["desiredReplicas"], 3);
    wait_for_replicas(&cluster, "web", "web", 1).await;
    wait_for_event(&cluster, "web", "web", "SuccessfulRescale", "New size: 1; reason: All metrics below target").await;
    let settled = wait_for_hpa(&cluster, "web", "web", "settled at 1", |hpa| hpa["status"]["currentReplicas"] == 1 && hpa["status"]["desiredReplicas"] == 1).await;
    assert_eq!(settled["status"]["currentMetrics"][0]["resource"]["current"]["averageUtilization"], 10);
    assert_eq!(
        condition_of(&settled, "ScalingLimited"),
        ("False".into(), "DesiredWithinRange".into(), "the desired count is within the acceptable range".into())
    );
}

#[tokio::test]
async fn metrics_it_cannot_read_leave_scaling_inactive_with_kubes_reasons() {
    let cluster = Arc::new(Cluster::start());
    cluster.namespace("quiet").await;
    let _manager = start(&cluster);
    // Pods nobody runs: no samples at all.
    cluster.create("/apis/apps/v1/namespaces/quiet/deployments", &deployment("idle", 2)).await;
    cluster.create("/apis/apps/v1/namespaces/quiet/deployments", &deployment("still", 1)).await;

    let pods_metric = json!([{"type": "Pods", "pods": {"metric": {"name": "packets-per-second"}, "target": {"type": "AverageValue", "averageValue": "1k"}}}]);
    cluster.create("/apis/autoscaling/v2/namespaces/quiet/horizontalpodautoscalers", &hpa("custom", "idle", 1, 5, pods_metric, Value::Null)).await;
    let error = "unable to get metric packets-per-second: unable to fetch metrics from custom metrics API: no custom metrics API (custom.metrics.k8s.io) registered";
    let inactive = wait_for_hpa(&cluster, "quiet", "custom", "ScalingActive=False", |hpa| condition_of(hpa, "ScalingActive").0 == "False").await;
    assert_eq!(
        condition_of(&inactive, "ScalingActive"),
        ("False".into(), "FailedGetPodsMetric".into(), format!("the HPA was unable to compute the replica count: {error}"))
    );
    assert_eq!(
        condition_of(&inactive, "AbleToScale"),
        ("True".into(), "SucceededGetScale".into(), "the HPA controller was able to get the target's current scale".into())
    );
    assert_eq!(inactive["status"]["currentReplicas"], 2);
    wait_for_event(&cluster, "quiet", "custom", "FailedGetPodsMetric", error).await;
    wait_for_event(&cluster, "quiet", "custom", "FailedComputeMetricsReplicas", &format!("invalid metrics (1 invalid out of 1), first error is: failed to get pods metric value: {error}")).await;

    // A cpu metric without samples.
    cluster.create("/apis/autoscaling/v2/namespaces/quiet/horizontalpodautoscalers", &hpa("cpu", "still", 1, 5, cpu_utilization(50), Value::Null)).await;
    let error = "failed to get cpu utilization: unable to get metrics for resource cpu: no metrics returned from resource metrics API";
    let inactive = wait_for_hpa(&cluster, "quiet", "cpu", "ScalingActive=False", |hpa| condition_of(hpa, "ScalingActive").0 == "False").await;
    assert_eq!(
        condition_of(&inactive, "ScalingActive"),
        ("False".into(), "FailedGetResourceMetric".into(), format!("the HPA was unable to compute the replica count: {error}"))
    );
    wait_for_event(&cluster, "quiet", "cpu", "FailedGetResourceMetric", error).await;

    // A target that does not exist, and a kind nothing serves.
    cluster.create("/apis/autoscaling/v2/namespaces/quiet/horizontalpodautoscalers", &hpa("lost", "nope", 1, 5, cpu_utilization(50), Value::Null)).await;
    let lost = wait_for_hpa(&cluster, "quiet", "lost", "AbleToScale=False", |hpa| condition_of(hpa, "AbleToScale").0 == "False").await;
    assert_eq!(
        condition_of(&lost, "AbleToScale"),
        ("False".into(), "FailedGetScale".into(), "the HPA controller was unable to get the target's current scale: deployments.apps \"nope\" not found".into())
    );
    wait_for_event(&cluster, "quiet", "lost", "FailedGetScale", "deployments.apps \"nope\" not found").await;
    let mut unknown = hpa("unknown", "x", 1, 5, cpu_utilization(50), Value::Null);
    unknown["spec"]["scaleTargetRef"] = json!({"apiVersion": "example.com/v1", "kind": "Widget", "name": "x"});
    cluster.create("/apis/autoscaling/v2/namespaces/quiet/horizontalpodautoscalers", &unknown).await;
    let unknown = wait_for_hpa(&cluster, "quiet", "unknown", "AbleToScale=False", |hpa| condition_of(hpa, "AbleToScale").0 == "False").await;
    assert_eq!(condition_of(&unknown, "AbleToScale").2, "the HPA controller was unable to get the target's current scale: no matches for kind \"Widget\" in group \"example.com\"");

    // A second HPA over the same pods: neither scales them.
    cluster.create("/apis/autoscaling/v2/namespaces/quiet/horizontalpodautoscalers", &hpa("twin", "idle", 1, 5, cpu_utilization(50), Value::Null)).await;
    let message = "pods by selector app=idle are controlled by multiple HPAs: [quiet/custom quiet/twin]";
    for name in ["custom", "twin"] {
        let ambiguous = wait_for_hpa(&cluster, "quiet", name, "AmbiguousSelector", |hpa| condition_of(hpa, "ScalingActive").1 == "AmbiguousSelector").await;
        assert_eq!(condition_of(&ambiguous, "ScalingActive"), ("False".into(), "AmbiguousSelector".into(), message.into()));
        wait_for_event(&cluster, "quiet", name, "AmbiguousSelector", message).await;
    }
}

/// A custom resource with a scale subresource is scaled through it, and the minimum holds
/// without any metric being read.
#[tokio::test]
async fn scales_a_custom_resource_through_its_scale_subresource() {
    let cluster = Arc::new(Cluster::start());
    cluster.namespace("crd").await;
    let crd = json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "metadata": {"name": "widgets.example.com"},
        "spec": {"group": "example.com", "scope": "Namespaced", "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
                 "versions": [{"name": "v1", "served": true, "storage": true,
                               "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                                   "spec": {"type": "object", "properties": {"replicas": {"type": "integer"}}},
                                   "status": {"type": "object", "properties": {"replicas": {"type": "integer"}, "selector": {"type": "string"}}}}}},
                               "subresources": {"status": {}, "scale": {"specReplicasPath": ".spec.replicas", "statusReplicasPath": ".status.replicas", "labelSelectorPath": ".status.selector"}}}]}});
    cluster.create("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", &crd).await;
    cluster
        .wait_for("widgets served", WITHIN, || async {
            let (code, answer) = cluster.send(reqwest::Method::GET, "/apis/example.com/v1/namespaces/crd/widgets", "application/json", None).await;
            if code == 200 { Ok(()) } else { Err(answer.to_string()) }
        })
        .await;
    cluster.create("/apis/example.com/v1/namespaces/crd/widgets", &json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"replicas": 1}})).await;
    let _manager = start(&cluster);
    let mut widget_hpa = hpa("w", "w", 2, 4, cpu_utilization(50), Value::Null);
    widget_hpa["spec"]["scaleTargetRef"] = json!({"apiVersion": "example.com/v1", "kind": "Widget", "name": "w"});
    cluster.create("/apis/autoscaling/v2/namespaces/crd/horizontalpodautoscalers", &widget_hpa).await;
    cluster
        .wait_for("widget scaled to its minimum", WITHIN, || async {
            let widget = cluster.get("/apis/example.com/v1/namespaces/crd/widgets/w").await;
            if widget["spec"]["replicas"] == 2 { Ok(()) } else { Err(widget.to_string()) }
        })
        .await;
    wait_for_event(&cluster, "crd", "w", "SuccessfulRescale", "New size: 2; reason: Current number of replicas below Spec.MinReplicas").await;
}
