//! The node lifecycle controller in the real controller-manager binary against the real
//! apiserver. No kubelet runs: the test plays it, registering nodes, renewing their Leases in
//! `kube-node-lease` and writing their pods' status, and stops renewing one to "lose" its node.

mod support;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use common::testing::Component;
use serde_json::{Value, json};
use support::Cluster;

const NS: &str = "work";
/// Short periods so that a node is lost within seconds: 3 s of silence, looked at every second,
/// and pods without their own toleration evicted 2 s after the taint.
const GRACE: &str = "--node-monitor-grace-period-seconds=3";
const PERIOD: &str = "--node-monitor-period-seconds=1";
const TOLERATION: &str = "--default-unreachable-toleration-seconds=2";
/// The apiserver gives pods their default tolerations (DefaultTolerationSeconds), as in
/// Kubernetes; the controller's flag covers pods that came without.
const APISERVER_TOLERATIONS: &[&str] = &["--default-not-ready-toleration-seconds=2", "--default-unreachable-toleration-seconds=2"];
const WITHIN: Duration = Duration::from_secs(20);

fn now() -> String {
    jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// A Lease's renewTime is a MicroTime.
fn now_micro() -> String {
    let now = jiff::Timestamp::now();
    format!("{}.{:06}Z", now.strftime("%Y-%m-%dT%H:%M:%S"), now.subsec_microsecond())
}

/// A node as a kubelet registers it: Ready, no pressure, heartbeat now.
async fn kubelet_node(cluster: &Cluster, name: &str) -> Value {
    let body = json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
        "status": {"allocatable": {"cpu": "8", "memory": "16Gi", "pods": "110"}, "capacity": {"cpu": "8", "memory": "16Gi", "pods": "110"},
                   "conditions": kubelet_conditions("True"), "addresses": [{"type": "InternalIP", "address": "172.18.0.2"}]}});
    cluster.create("/api/v1/nodes", &body).await
}

fn kubelet_conditions(ready: &str) -> Value {
    let now = now();
    let reason = if ready == "True" { "KubeletReady" } else { "KubeletNotReady" };
    let pressure = |type_: &str, reason: &str| json!({"type": type_, "status": "False", "reason": reason, "lastHeartbeatTime": now, "lastTransitionTime": now});
    json!([
        pressure("MemoryPressure", "KubeletHasSufficientMemory"),
        pressure("DiskPressure", "KubeletHasNoDiskPressure"),
        pressure("PIDPressure", "KubeletHasSufficientPID"),
        {"type": "Ready", "status": ready, "reason": reason, "message": "as the test says", "lastHeartbeatTime": now, "lastTransitionTime": now},
    ])
}

/// What a kubelet posts when it reports its node's readiness.
async fn post_node_status(cluster: &Cluster, node: &str, ready: &str) {
    cluster.merge_patch(&format!("/api/v1/nodes/{node}/status"), &json!({"status": {"conditions": kubelet_conditions(ready)}})).await;
}

/// Plays the kubelets' heartbeat: renews the Lease of every node still alive every 300 ms,
/// until dropped.
struct Heartbeats {
    alive: Arc<Mutex<BTreeSet<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Heartbeats {
    async fn start(cluster: &Arc<Cluster>, nodes: &[&str]) -> Self {
        for node in nodes {
            let lease = json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": node, "namespace": "kube-node-lease"},
                "spec": {"holderIdentity": node, "leaseDurationSeconds": 40, "renewTime": now_micro()}});
            cluster.create("/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases", &lease).await;
        }
        let alive = Arc::new(Mutex::new(nodes.iter().map(|node| node.to_string()).collect::<BTreeSet<_>>()));
        let (cluster, renewing) = (cluster.clone(), alive.clone());
        let task = tokio::spawn(async move {
            loop {
                let nodes: Vec<String> = renewing.lock().unwrap_or_else(PoisonError::into_inner).iter().cloned().collect();
                for node in nodes {
                    let path = format!("/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/{node}");
                    // A failed renewal is a late heartbeat, as for a real kubelet; the next one follows.
                    cluster.send(reqwest::Method::PATCH, &path, "application/merge-patch+json", Some(&json!({"spec": {"renewTime": now_micro()}}))).await;
                }
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        });
        Self { alive, task }
    }

    fn stop(&self, node: &str) {
        self.alive.lock().unwrap_or_else(PoisonError::into_inner).remove(node);
    }

    fn resume(&self, node: &str) {
        self.alive.lock().unwrap_or_else(PoisonError::into_inner).insert(node.to_string());
    }

    fn is_alive(&self, node: &str) -> bool {
        self.alive.lock().unwrap_or_else(PoisonError::into_inner).contains(node)
    }
}

impl Drop for Heartbeats {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A pod bound to `node`, Running and Ready, with `tolerations`.
async fn running_pod(cluster: &Cluster, name: &str, node: &str, ip: &str, tolerations: Value) {
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": NS},
        "spec": {"containers": [{"name": "c", "image": "busybox:local"}], "tolerations": tolerations}});
    cluster.create(&format!("/api/v1/namespaces/{NS}/pods"), &pod).await;
    cluster.run_pod(NS, name, node, ip, true).await;
}

fn condition(object: &Value, type_: &str) -> Value {
    object["status"]["conditions"].as_array().and_then(|conditions| conditions.iter().find(|condition| condition["type"] == type_)).cloned().unwrap_or(Value::Null)
}

/// The node's taints as `key:effect`.
fn taints(node: &Value) -> BTreeSet<String> {
    node["spec"]["taints"].as_array().into_iter().flatten().map(|taint| format!("{}:{}", taint["key"].as_str().unwrap_or_default(), taint["effect"].as_str().unwrap_or_default())).collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|item| item.to_string()).collect()
}

async fn pod(cluster: &Cluster, name: &str) -> Value {
    cluster.get(&format!("/api/v1/namespaces/{NS}/pods/{name}")).await
}

async fn node(cluster: &Cluster, name: &str) -> Value {
    cluster.get(&format!("/api/v1/nodes/{name}")).await
}

/// The messages of `reason` events about `name` in `namespace`.
async fn events(cluster: &Cluster, namespace: &str, name: &str, reason: &str) -> Vec<String> {
    cluster
        .items(&format!("/api/v1/namespaces/{namespace}/events"))
        .await
        .into_iter()
        .filter(|event| event["involvedObject"]["name"] == name && event["reason"] == reason)
        .map(|event| event["message"].as_str().unwrap_or_default().to_string())
        .collect()
}

async fn wait_for_event(cluster: &Cluster, namespace: &str, name: &str, reason: &str, message: &str) {
    cluster
        .wait_for(&format!("{reason} event on {name}"), WITHIN, || async {
            let found = events(cluster, namespace, name, reason).await;
            if found.iter().any(|found| found == message) { Ok(()) } else { Err(format!("{found:?}")) }
        })
        .await;
}

async fn wait_for_taints(cluster: &Cluster, name: &str, expected: &[&str]) -> Value {
    let expected = set(expected);
    cluster
        .wait_for(&format!("taints {expected:?} on {name}"), WITHIN, || async {
            let node = node(cluster, name).await;
            if taints(&node) == expected { Ok(node) } else { Err(format!("{:?}", taints(&node))) }
        })
        .await
}

async fn wait_for_deletion(cluster: &Cluster, name: &str) {
    cluster
        .wait_for(&format!("pod {name} deleted"), WITHIN, || async {
            let pod = pod(cluster, name).await;
            if pod["metadata"]["deletionTimestamp"].is_string() || pod["code"] == 404 { Ok(()) } else { Err(pod["metadata"].to_string()) }
        })
        .await;
}

fn deleting(pod: &Value) -> bool {
    pod["metadata"]["deletionTimestamp"].is_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_node_goes_unknown_its_pods_are_evicted_and_it_recovers() {
    let cluster = Arc::new(Cluster::start_with(APISERVER_TOLERATIONS));
    let _manager = cluster.controller_manager(&[GRACE, PERIOD, TOLERATION, "--controllers=nodelifecycle"]);
    cluster.namespace(NS).await;
    let lost = kubelet_node(&cluster, "lost").await;
    kubelet_node(&cluster, "alive").await;
    let heartbeats = Heartbeats::start(&cluster, &["lost", "alive"]).await;
    let unreachable = |seconds: Value| json!([{"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": seconds}]);
    running_pod(&cluster, "plain", "lost", "10.244.1.2", json!([])).await;
    running_pod(&cluster, "patient", "lost", "10.244.1.3", unreachable(json!(3600))).await;
    running_pod(&cluster, "forever", "lost", "10.244.1.4", unreachable(Value::Null)).await;
    running_pod(&cluster, "bystander", "alive", "10.244.2.2", json!([])).await;

    heartbeats.stop("lost");
    let unknown = cluster
        .wait_for("lost node Unknown", WITHIN, || async {
            let node = node(&cluster, "lost").await;
            let all = ["Ready", "MemoryPressure", "DiskPressure", "PIDPressure"].iter().all(|type_| condition(&node, type_)["status"] == "Unknown");
            if all { Ok(node) } else { Err(node["status"]["conditions"].to_string()) }
        })
        .await;
    let ready = condition(&unknown, "Ready");
    assert_eq!(ready["reason"], "NodeStatusUnknown");
    assert_eq!(ready["message"], "Kubelet stopped posting node status.");
    assert_eq!(condition(&unknown, "DiskPressure")["reason"], "NodeStatusUnknown");
    assert_eq!(ready["lastHeartbeatTime"], condition(&lost, "Ready")["lastHeartbeatTime"], "the last heartbeat stays what the kubelet posted");
    assert_ne!(ready["lastTransitionTime"], condition(&lost, "Ready")["lastTransitionTime"]);

    let tainted = wait_for_taints(&cluster, "lost", &["node.kubernetes.io/unreachable:NoExecute", "node.kubernetes.io/unreachable:NoSchedule"]).await;
    let no_execute = tainted["spec"]["taints"].as_array().unwrap().iter().find(|taint| taint["effect"] == "NoExecute").unwrap().clone();
    assert!(no_execute["timeAdded"].is_string(), "{no_execute}");
    wait_for_event(&cluster, "default", "lost", "NodeNotReady", "Node lost status is now: NodeNotReady").await;

    // Without a toleration of its own the pod gets the default 2 s, then goes.
    wait_for_deletion(&cluster, "plain").await;
    wait_for_event(&cluster, NS, "plain", "TaintManagerEviction", "Marking for deletion Pod work/plain").await;
    assert_eq!(condition(&pod(&cluster, "plain").await, "DisruptionTarget")["reason"], "DeletionByTaintManager");
    // The tolerating pods stay, marked not Ready so that endpoints drop them.
    for name in ["patient", "forever"] {
        let pod = cluster
            .wait_for(&format!("{name} not Ready"), WITHIN, || async {
                let pod = pod(&cluster, name).await;
                if condition(&pod, "Ready")["status"] == "False" { Ok(pod) } else { Err(pod["status"].to_string()) }
            })
            .await;
        assert!(!deleting(&pod), "{name} tolerates the taint: {}", pod["metadata"]);
    }
    wait_for_event(&cluster, NS, "forever", "NodeNotReady", "Node is not ready").await;
    // The other node and its pod are untouched.
    let alive = node(&cluster, "alive").await;
    assert_eq!(condition(&alive, "Ready")["status"], "True");
    assert_eq!(taints(&alive), set(&[]));
    let bystander = pod(&cluster, "bystander").await;
    assert!(!deleting(&bystander));
    assert_eq!(condition(&bystander, "Ready")["status"], "True");

    // The kubelet comes back: heartbeats, then Ready.
    heartbeats.resume("lost");
    post_node_status(&cluster, "lost", "True").await;
    wait_for_taints(&cluster, "lost", &[]).await;
    wait_for_event(&cluster, NS, "patient", "TaintManagerEviction", "Cancelling deletion of Pod work/patient").await;
    assert!(!deleting(&pod(&cluster, "patient").await));
    assert_eq!(condition(&node(&cluster, "lost").await, "Ready")["status"], "True");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_its_kubelet_calls_not_ready_is_tainted_not_ready() {
    let cluster = Arc::new(Cluster::start_with(APISERVER_TOLERATIONS));
    let _manager = cluster.controller_manager(&[GRACE, PERIOD, TOLERATION, "--controllers=nodelifecycle"]);
    cluster.namespace(NS).await;
    kubelet_node(&cluster, "sick").await;
    kubelet_node(&cluster, "well").await;
    let _heartbeats = Heartbeats::start(&cluster, &["sick", "well"]).await;
    running_pod(&cluster, "plain", "sick", "10.244.1.2", json!([])).await;

    // The kubelet still renews its lease but says the node is not Ready (its runtime is down, say).
    post_node_status(&cluster, "sick", "False").await;
    let tainted = wait_for_taints(&cluster, "sick", &["node.kubernetes.io/not-ready:NoExecute", "node.kubernetes.io/not-ready:NoSchedule"]).await;
    assert_eq!(condition(&tainted, "Ready")["reason"], "KubeletNotReady", "the kubelet's condition is left as it wrote it");
    wait_for_deletion(&cluster, "plain").await;
    assert_eq!(taints(&node(&cluster, "well").await), set(&[]));

    post_node_status(&cluster, "sick", "True").await;
    wait_for_taints(&cluster, "sick", &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn losing_every_node_evicts_nothing() {
    let cluster = Arc::new(Cluster::start_with(&["--default-not-ready-toleration-seconds=30", "--default-unreachable-toleration-seconds=30"]));
    // A long default toleration: a node seen lost a pass before the other may be tainted for
    // that pass, as in Kubernetes; what matters is that the taint goes when all are lost.
    let _manager = cluster.controller_manager(&[GRACE, PERIOD, "--default-unreachable-toleration-seconds=30", "--controllers=nodelifecycle"]);
    cluster.namespace(NS).await;
    kubelet_node(&cluster, "a").await;
    kubelet_node(&cluster, "b").await;
    let heartbeats = Heartbeats::start(&cluster, &["a", "b"]).await;
    running_pod(&cluster, "on-a", "a", "10.244.1.2", json!([])).await;
    running_pod(&cluster, "on-b", "b", "10.244.2.2", json!([])).await;

    // As if the control plane were cut off from every node at once.
    heartbeats.stop("a");
    heartbeats.stop("b");
    for name in ["a", "b"] {
        let node = wait_for_taints(&cluster, name, &["node.kubernetes.io/unreachable:NoSchedule"]).await;
        assert_eq!(condition(&node, "Ready")["status"], "Unknown");
    }
    // Some more passes change nothing.
    tokio::time::sleep(Duration::from_secs(3)).await;
    for (node_name, pod_name) in [("a", "on-a"), ("b", "on-b")] {
        assert_eq!(taints(&node(&cluster, node_name).await), set(&["node.kubernetes.io/unreachable:NoSchedule"]));
        assert!(!deleting(&pod(&cluster, pod_name).await), "{pod_name} was evicted");
    }

    // One node coming back ends it: the other is taken for lost now.
    heartbeats.resume("b");
    assert!(heartbeats.is_alive("b"));
    post_node_status(&cluster, "b", "True").await;
    wait_for_taints(&cluster, "b", &[]).await;
    wait_for_taints(&cluster, "a", &["node.kubernetes.io/unreachable:NoExecute", "node.kubernetes.io/unreachable:NoSchedule"]).await;
}

/// Plays the kubelet of every node whose heartbeat is alive: starts the pods bound to it.
fn kubelets(cluster: &Arc<Cluster>, heartbeats: &Arc<Heartbeats>) -> tokio::task::JoinHandle<()> {
    let (cluster, heartbeats) = (cluster.clone(), heartbeats.clone());
    tokio::spawn(async move {
        let mut next_ip = 10u32;
        loop {
            for pod in cluster.items(&format!("/api/v1/namespaces/{NS}/pods")).await {
                let name = pod["metadata"]["name"].as_str().unwrap_or_default().to_string();
                let node = pod["spec"]["nodeName"].as_str().unwrap_or_default().to_string();
                if !node.is_empty() && heartbeats.is_alive(&node) && !deleting(&pod) && pod["status"]["phase"] != "Running" {
                    next_ip += 1;
                    cluster.set_pod_status(NS, &name, &format!("10.244.0.{}", next_ip % 250 + 2), true).await;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
}

/// Pods not being deleted, as (name, node, running and ready).
async fn live_pods(cluster: &Cluster) -> Vec<(String, String, bool)> {
    cluster
        .items(&format!("/api/v1/namespaces/{NS}/pods"))
        .await
        .into_iter()
        .filter(|pod| !deleting(pod))
        .map(|pod| {
            let running = pod["status"]["phase"] == "Running" && condition(&pod, "Ready")["status"] == "True";
            (pod["metadata"]["name"].as_str().unwrap_or_default().to_string(), pod["spec"]["nodeName"].as_str().unwrap_or_default().to_string(), running)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pods_of_a_lost_node_are_replaced_on_another() {
    let cluster = Arc::new(Cluster::start_with(APISERVER_TOLERATIONS));
    let _manager = cluster.controller_manager(&[GRACE, PERIOD, TOLERATION, "--controllers=nodelifecycle,replicaset"]);
    let scheduler = common::testing::workspace_binary("scheduler");
    assert!(scheduler.exists(), "{} is missing: build it first (cargo build -p scheduler)", scheduler.display());
    let _scheduler = Component::start("scheduler", &[format!("--kubeconfig={}", cluster.server.kubeconfig().display()), "--leader-elect=false".into()]).unwrap();
    cluster.namespace(NS).await;
    kubelet_node(&cluster, "node-1").await;
    kubelet_node(&cluster, "node-2").await;
    let heartbeats = Arc::new(Heartbeats::start(&cluster, &["node-1", "node-2"]).await);
    let kubelets = kubelets(&cluster, &heartbeats);

    let set = json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "web", "namespace": NS},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "busybox:local"}]}}}});
    cluster.create(&format!("/apis/apps/v1/namespaces/{NS}/replicasets"), &set).await;
    let first = cluster
        .wait_for("2 pods running", WITHIN, || async {
            let pods = live_pods(&cluster).await;
            if pods.len() == 2 && pods.iter().all(|(_, _, running)| *running) { Ok(pods) } else { Err(format!("{pods:?}")) }
        })
        .await;

    // The node of the first pod is lost; every pod there is replaced on the other.
    let lost = first[0].1.clone();
    let survivor = if lost == "node-1" { "node-2" } else { "node-1" };
    let on_lost: Vec<String> = first.iter().filter(|(_, node, _)| *node == lost).map(|(name, _, _)| name.clone()).collect();
    heartbeats.stop(&lost);
    for name in &on_lost {
        wait_for_deletion(&cluster, name).await;
    }
    let replaced = cluster
        .wait_for(&format!("2 pods running on {survivor}"), WITHIN, || async {
            let pods = live_pods(&cluster).await;
            if pods.len() == 2 && pods.iter().all(|(_, node, running)| node == survivor && *running) { Ok(pods) } else { Err(format!("{pods:?}")) }
        })
        .await;
    assert!(replaced.iter().all(|(name, _, _)| !on_lost.contains(name)));

    // The evicted pods stay Terminating while their node is gone, as in Kubernetes; force them.
    for name in &on_lost {
        let (code, answer) = cluster.delete(&format!("/api/v1/namespaces/{NS}/pods/{name}"), &json!({"gracePeriodSeconds": 0})).await;
        assert!(code == 200 || code == 404, "{code} {answer}");
    }
    cluster
        .wait_for("the set reports 2 ready", WITHIN, || async {
            let set = cluster.get(&format!("/apis/apps/v1/namespaces/{NS}/replicasets/web")).await;
            if set["status"]["readyReplicas"] == 2 && set["status"]["replicas"] == 2 { Ok(()) } else { Err(set["status"].to_string()) }
        })
        .await;
    kubelets.abort();
}
