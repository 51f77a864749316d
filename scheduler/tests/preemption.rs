//! Preemption by the real scheduler binary against the real apiserver, Node objects created
//! directly (no kubelet). Victims are deleted gracefully, so without a kubelet they stay
//! terminating: the test finishes their deletion (grace period 0) as a kubelet would once their
//! containers stopped. Priorities come from PriorityClasses when the apiserver's admission
//! resolves them, else are written in the pod spec.

use std::time::{Duration, Instant};

use common::testing::{ApiServer, Component, Storage};
use serde_json::{Value, json};

const WITHIN: Duration = Duration::from_secs(30);
const NOT_HELPFUL: &str = "Preemption is not helpful for scheduling";
const NO_VICTIMS: &str = "No preemption victims found for incoming pod";

struct Cluster {
    server: ApiServer,
    http: reqwest::Client,
    /// The apiserver serves scheduling.k8s.io/v1 PriorityClasses (and resolves them at admission).
    classes: bool,
}

impl Cluster {
    /// The apiserver, with this file's PriorityClasses when it serves them; `classes` says
    /// whether its admission resolves them into pods' priorities.
    async fn start() -> Self {
        let server = ApiServer::start(Storage::Embedded).unwrap_or_else(|err| panic!("apiserver: {err}"));
        let mut cluster = Self { server, http: reqwest::Client::new(), classes: false };
        let (code, _) = cluster.send(reqwest::Method::GET, "/apis/scheduling.k8s.io/v1/priorityclasses", None, "").await;
        if code != 200 {
            return cluster;
        }
        for (name, value, never) in [LOWEST, LOW, MID, URGENT, POLITE] {
            let mut body = json!({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": name}, "value": value});
            if never {
                body["preemptionPolicy"] = json!("Never");
            }
            cluster.create("/apis/scheduling.k8s.io/v1/priorityclasses", body).await;
        }
        let probe = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "priority-probe", "namespace": "default"},
            "spec": {"priorityClassName": LOW.0, "containers": [{"name": "c", "image": "busybox:local"}]}});
        let created = cluster.create("/api/v1/namespaces/default/pods", probe).await;
        cluster.classes = created["spec"]["priority"] == LOW.1;
        let (code, answer) = cluster.send(reqwest::Method::DELETE, "/api/v1/namespaces/default/pods/priority-probe?gracePeriodSeconds=0", None, "").await;
        assert_eq!(code, 200, "{answer}");
        cluster
    }

    fn scheduler(&self) -> Component {
        Component::start("scheduler", &[format!("--kubeconfig={}", self.server.kubeconfig().display()), "--leader-elect=false".into()])
            .unwrap_or_else(|err| panic!("scheduler: {err}"))
    }

    async fn send(&self, method: reqwest::Method, path: &str, body: Option<&Value>, content_type: &str) -> (u16, Value) {
        let mut request = self.http.request(method, format!("{}{path}", self.server.url()));
        if let Some(body) = body {
            request = request.header("content-type", content_type).body(body.to_string());
        }
        let response = request.send().await.unwrap_or_else(|err| panic!("{path}: {err}"));
        let code = response.status().as_u16();
        (code, response.json().await.unwrap_or(Value::Null))
    }

    async fn create(&self, path: &str, body: Value) -> Value {
        let (code, answer) = self.send(reqwest::Method::POST, path, Some(&body), "application/json").await;
        assert_eq!(code, 201, "POST {path}: {answer}");
        answer
    }

    async fn get(&self, path: &str) -> Value {
        self.send(reqwest::Method::GET, path, None, "").await.1
    }

    async fn node(&self, name: &str, cpu: &str) {
        let resources = json!({"cpu": cpu, "memory": "16Gi", "pods": "110"});
        self.create("/api/v1/nodes", json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
            "status": {"allocatable": resources, "capacity": resources}}))
            .await;
    }

    /// A pod asking `cpu`, of priority `value` through class `class` (or in its spec), with
    /// `extra` merged into its metadata (`labels`) and spec.
    async fn pod(&self, name: &str, class: Option<(&str, i32, bool)>, cpu: &str, extra: Value) -> Value {
        let mut spec = json!({"containers": [{"name": "c", "image": "busybox:local", "resources": {"requests": {"cpu": cpu}}}]});
        match class {
            Some((class, _, _)) if self.classes => spec["priorityClassName"] = json!(class),
            Some((_, value, never)) => {
                spec["priority"] = json!(value);
                if never {
                    spec["preemptionPolicy"] = json!("Never");
                }
            }
            None => {}
        }
        let mut metadata = json!({"name": name, "namespace": "default"});
        for (key, value) in extra.as_object().into_iter().flatten() {
            if key == "labels" {
                metadata["labels"] = value.clone();
            } else {
                spec[key] = value.clone();
            }
        }
        self.create("/api/v1/namespaces/default/pods", json!({"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec})).await
    }

    async fn wait_pod<T>(&self, name: &str, check: impl Fn(&Value) -> Option<T>) -> T {
        let path = format!("/api/v1/namespaces/default/pods/{name}");
        let started = Instant::now();
        loop {
            let pod = self.get(&path).await;
            if let Some(found) = check(&pod) {
                return found;
            }
            assert!(started.elapsed() < WITHIN, "pod {name} not as expected after {WITHIN:?}: {pod}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn bound_node(&self, name: &str) -> String {
        self.wait_pod(name, |pod| pod["spec"]["nodeName"].as_str().map(str::to_string)).await
    }

    async fn nominated_node(&self, name: &str) -> String {
        self.wait_pod(name, |pod| pod["status"]["nominatedNodeName"].as_str().map(str::to_string)).await
    }

    /// Waits until the pod is terminating with kube's DisruptionTarget condition; the condition.
    async fn preempted(&self, name: &str) -> Value {
        self.wait_pod(name, |pod| {
            pod["metadata"]["deletionTimestamp"].as_str()?;
            pod["status"]["conditions"].as_array()?.iter().find(|condition| condition["type"] == "DisruptionTarget").cloned()
        })
        .await
    }

    /// Finishes a graceful deletion as the kubelet would, and waits until the pod is gone.
    async fn finish_deletion(&self, name: &str) {
        let path = format!("/api/v1/namespaces/default/pods/{name}?gracePeriodSeconds=0");
        let (code, answer) = self.send(reqwest::Method::DELETE, &path, None, "").await;
        assert!(code == 200 || code == 404, "DELETE {name}: {code} {answer}");
        self.wait_pod(name, |pod| (pod["code"] == 404).then_some(())).await;
    }

    async fn unschedulable_message(&self, name: &str, wanted: &str) {
        self.wait_pod(name, |pod| {
            let conditions = pod["status"]["conditions"].as_array()?;
            let scheduled = conditions.iter().find(|condition| condition["type"] == "PodScheduled")?;
            (scheduled["message"] == wanted && scheduled["reason"] == "Unschedulable").then_some(())
        })
        .await;
    }

    async fn events(&self, name: &str, reason: &str) -> Vec<Value> {
        let list = self.get(&format!("/api/v1/namespaces/default/events?fieldSelector=involvedObject.name={name},reason={reason}")).await;
        list["items"].as_array().cloned().unwrap_or_default()
    }

    async fn wait_event(&self, name: &str, reason: &str, message: &str) -> Value {
        let started = Instant::now();
        loop {
            let events = self.events(name, reason).await;
            if let Some(event) = events.iter().find(|event| event["message"] == message) {
                return event.clone();
            }
            assert!(started.elapsed() < WITHIN, "no {reason} event {message:?} for {name}: {events:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn deletion_timestamp(&self, name: &str) -> Value {
        self.get(&format!("/api/v1/namespaces/default/pods/{name}")).await["metadata"]["deletionTimestamp"].clone()
    }
}

const LOWEST: (&str, i32, bool) = ("lowest", 1, false);
const LOW: (&str, i32, bool) = ("low", 100, false);
const MID: (&str, i32, bool) = ("mid", 500, false);
const URGENT: (&str, i32, bool) = ("urgent", 1000, false);
const POLITE: (&str, i32, bool) = ("polite", 1000, true);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_high_priority_pod_preempts_the_lowest_pods_and_their_room_is_kept_for_it() {
    let cluster = Cluster::start().await;
    let _scheduler = cluster.scheduler();
    cluster.node("n1", "4").await;
    for (name, class) in [("lowest-a", LOWEST), ("lowest-b", LOWEST), ("low", LOW), ("mid", MID)] {
        cluster.pod(name, Some(class), "1", json!({})).await;
        assert_eq!(cluster.bound_node(name).await, "n1");
    }

    // Two cpus wanted on a full node: the two lowest go, the others stay.
    let urgent = cluster.pod("urgent", Some(URGENT), "2", json!({})).await;
    assert_eq!(cluster.nominated_node("urgent").await, "n1");
    let uid = urgent["metadata"]["uid"].as_str().unwrap_or_default().to_string();
    for victim in ["lowest-a", "lowest-b"] {
        let condition = cluster.preempted(victim).await;
        assert_eq!(condition["status"], "True", "{condition}");
        assert_eq!(condition["reason"], "PreemptionByScheduler", "{condition}");
        assert_eq!(condition["message"], "default-scheduler: preempting to accommodate a higher priority pod", "{condition}");
        let event = cluster.wait_event(victim, "Preempted", &format!("Preempted by pod {uid} on node n1")).await;
        assert_eq!(event["type"], "Normal", "{event}");
        assert_eq!(event["source"]["component"], "default-scheduler", "{event}");
    }
    for survivor in ["low", "mid"] {
        assert!(cluster.deletion_timestamp(survivor).await.is_null(), "{survivor} was not to be preempted");
    }
    // Preemption went well: the event says only why it did not fit (kube writes no suffix then).
    cluster.wait_event("urgent", "FailedScheduling", "0/1 nodes are available: 1 Insufficient cpu.").await;

    // One victim gone: not room enough yet, and the pod does not preempt more while the other
    // is still terminating.
    cluster.finish_deletion("lowest-a").await;
    cluster
        .wait_event("urgent", "FailedScheduling", "0/1 nodes are available: 1 Insufficient cpu. preemption: not eligible due to a terminating pod on the nominated node.")
        .await;
    assert!(cluster.deletion_timestamp("low").await.is_null());
    // The free cpu is kept for the nominated pod: a lower-priority pod that would fit does not
    // get it, and has no one it may preempt.
    cluster.pod("sneaky", Some(LOWEST), "1", json!({})).await;
    cluster
        .unschedulable_message("sneaky", &format!("0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: 1 {NO_VICTIMS}."))
        .await;

    cluster.finish_deletion("lowest-b").await;
    assert_eq!(cluster.bound_node("urgent").await, "n1");
    cluster.wait_event("urgent", "Scheduled", "Successfully assigned default/urgent to n1").await;
    assert!(cluster.get("/api/v1/namespaces/default/pods/sneaky").await["spec"]["nodeName"].is_null());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preemption_policy_never_waits_and_equal_priorities_are_no_victims() {
    let cluster = Cluster::start().await;
    let _scheduler = cluster.scheduler();
    cluster.node("n1", "1").await;
    cluster.pod("low", Some(LOW), "1", json!({})).await;
    cluster.bound_node("low").await;

    cluster.pod("polite", Some(POLITE), "1", json!({})).await;
    cluster.unschedulable_message("polite", "0/1 nodes are available: 1 Insufficient cpu. preemption: not eligible due to preemptionPolicy=Never.").await;
    assert!(cluster.deletion_timestamp("low").await.is_null());
    assert!(cluster.get("/api/v1/namespaces/default/pods/polite").await["status"]["nominatedNodeName"].is_null());

    cluster.pod("peer", Some(LOW), "1", json!({})).await;
    cluster.unschedulable_message("peer", &format!("0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: 1 {NO_VICTIMS}.")).await;
    // More than the node has at all: kube 1.33 still tries, and says why it failed.
    cluster.pod("huge", Some(URGENT), "2", json!({})).await;
    cluster.unschedulable_message("huge", "0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: 1 Insufficient cpu.").await;
    assert!(cluster.deletion_timestamp("low").await.is_null());
    assert!(cluster.events("low", "Preempted").await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disruption_budget_steers_preemption_to_another_node() {
    let cluster = Cluster::start().await;
    cluster.node("n1", "1").await;
    cluster.node("n2", "1").await;
    // Placed by hand, and the budget made, before the scheduler starts: its first lists have
    // them all.
    let on = |node: &str, labels: Value| json!({"nodeName": node, "labels": labels});
    // Without a budget n1 would be chosen: its victim has the lower priority.
    cluster.pod("db-0", Some(LOWEST), "1", on("n1", json!({"app": "db"}))).await;
    cluster.pod("batch-0", Some(LOW), "1", on("n2", json!({"app": "batch"}))).await;
    // No status yet: no disruption allowed, as the disruption controller would say of one pod
    // with minAvailable 1.
    cluster
        .create("/apis/policy/v1/namespaces/default/poddisruptionbudgets", json!({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
            "metadata": {"name": "db", "namespace": "default"}, "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "db"}}}}))
        .await;
    let _scheduler = cluster.scheduler();
    // A pod bound shows the scheduler has listed what it reads (its lists start together).
    cluster.pod("marker", Some(LOWEST), "0", json!({})).await;
    cluster.bound_node("marker").await;

    cluster.pod("urgent", Some(URGENT), "1", json!({})).await;
    assert_eq!(cluster.nominated_node("urgent").await, "n2");
    cluster.preempted("batch-0").await;
    assert!(cluster.deletion_timestamp("db-0").await.is_null(), "the budget protects db-0");
    cluster.finish_deletion("batch-0").await;
    assert_eq!(cluster.bound_node("urgent").await, "n2");

    // Only protected pods left to preempt: the budget is broken rather than the pod left out.
    cluster.pod("urgent-2", Some(URGENT), "1", json!({})).await;
    assert_eq!(cluster.nominated_node("urgent-2").await, "n1");
    cluster.preempted("db-0").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nomination_that_no_longer_fits_is_cleared() {
    let cluster = Cluster::start().await;
    let _scheduler = cluster.scheduler();
    cluster.node("n1", "1").await;
    cluster.pod("low", Some(LOW), "1", json!({})).await;
    cluster.bound_node("low").await;
    cluster.pod("urgent", Some(URGENT), "1", json!({})).await;
    assert_eq!(cluster.nominated_node("urgent").await, "n1");
    cluster.preempted("low").await;

    // Cordoned: the nominated node is out of the question, and no other node helps.
    let (code, answer) = cluster.send(reqwest::Method::PATCH, "/api/v1/nodes/n1", Some(&json!({"spec": {"unschedulable": true}})), "application/merge-patch+json").await;
    assert_eq!(code, 200, "{answer}");
    cluster.wait_pod("urgent", |pod| pod["status"]["nominatedNodeName"].is_null().then_some(())).await;
    cluster
        .unschedulable_message("urgent", &format!("0/1 nodes are available: 1 node(s) were unschedulable. preemption: 0/1 nodes are available: 1 {NOT_HELPFUL}."))
        .await;
}
