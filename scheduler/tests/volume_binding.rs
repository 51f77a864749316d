//! The real scheduler binary against the real apiserver with pods that use PersistentVolumeClaims.
//! No controller-manager runs: the test binds claims itself, as the binding controller and the
//! provisioner would, when the scheduler has said where.

use std::time::{Duration, Instant};

use common::testing::{ApiServer, Component, Storage};
use serde_json::{Value, json};

const WITHIN: Duration = Duration::from_secs(30);

struct Cluster {
    server: ApiServer,
    http: reqwest::Client,
}

impl Cluster {
    fn start() -> Self {
        Self { server: ApiServer::start(Storage::Embedded).unwrap_or_else(|err| panic!("apiserver: {err}")), http: reqwest::Client::new() }
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

    async fn merge(&self, path: &str, patch: Value) -> Value {
        let (code, answer) = self.send(reqwest::Method::PATCH, path, Some(&patch), "application/merge-patch+json").await;
        assert_eq!(code, 200, "PATCH {path} {patch}: {answer}");
        answer
    }

    async fn get(&self, path: &str) -> Value {
        self.send(reqwest::Method::GET, path, None, "").await.1
    }

    async fn node(&self, name: &str) {
        self.create("/api/v1/nodes", json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
            "status": {"allocatable": {"cpu": "4", "memory": "16Gi", "pods": "110"}, "capacity": {"cpu": "4", "memory": "16Gi", "pods": "110"}}}))
            .await;
    }

    async fn class(&self, name: &str, provisioner: &str, mode: &str) {
        self.create("/apis/storage.k8s.io/v1/storageclasses", json!({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
            "metadata": {"name": name}, "provisioner": provisioner, "volumeBindingMode": mode}))
            .await;
    }

    async fn claim(&self, name: &str, class: &str) -> Value {
        self.create("/api/v1/namespaces/default/persistentvolumeclaims", json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": class, "resources": {"requests": {"storage": "1Gi"}}}}))
            .await
    }

    /// A volume on `node` holding the claim, and the claim bound to it, as the binding
    /// controller (or the provisioner, then the controller) leaves them.
    async fn bind_claim(&self, claim: &str, volume: &str, node: &str, class: &str) {
        let stored = self.get(&format!("/api/v1/namespaces/default/persistentvolumeclaims/{claim}")).await;
        self.create("/api/v1/persistentvolumes", json!({"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": volume},
            "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"], "storageClassName": class,
                "persistentVolumeReclaimPolicy": "Delete", "hostPath": {"path": format!("/var/local-path-provisioner/{volume}")},
                "claimRef": {"kind": "PersistentVolumeClaim", "apiVersion": "v1", "namespace": "default", "name": claim, "uid": stored["metadata"]["uid"]},
                "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [{"key": "kubernetes.io/hostname", "operator": "In", "values": [node]}]}]}}}}))
            .await;
        self.merge(&format!("/api/v1/persistentvolumes/{volume}/status"), json!({"status": {"phase": "Bound"}})).await;
        let path = format!("/api/v1/namespaces/default/persistentvolumeclaims/{claim}");
        self.merge(&path, json!({"metadata": {"annotations": {"pv.kubernetes.io/bind-completed": "yes", "pv.kubernetes.io/bound-by-controller": "yes"}},
            "spec": {"volumeName": volume}}))
            .await;
        self.merge(&format!("{path}/status"), json!({"status": {"phase": "Bound", "accessModes": ["ReadWriteOnce"], "capacity": {"storage": "1Gi"}}})).await;
    }

    async fn pod(&self, name: &str, claim: &str) {
        self.create("/api/v1/namespaces/default/pods", json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"},
            "spec": {"containers": [{"name": "c", "image": "busybox:local", "volumeMounts": [{"name": "data", "mountPath": "/data"}]}],
                "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": claim}}]}}))
            .await;
    }

    async fn wait<T>(&self, path: &str, check: impl Fn(&Value) -> Option<T>) -> T {
        let started = Instant::now();
        loop {
            let object = self.get(path).await;
            if let Some(found) = check(&object) {
                return found;
            }
            assert!(started.elapsed() < WITHIN, "{path} not as expected after {WITHIN:?}: {object}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn bound_node(&self, pod: &str) -> String {
        self.wait(&format!("/api/v1/namespaces/default/pods/{pod}"), |pod| pod["spec"]["nodeName"].as_str().map(str::to_string)).await
    }

    async fn unschedulable_message(&self, pod: &str) -> String {
        self.wait(&format!("/api/v1/namespaces/default/pods/{pod}"), |pod| {
            let conditions = pod["status"]["conditions"].as_array()?;
            let scheduled = conditions.iter().find(|condition| condition["type"] == "PodScheduled" && condition["reason"] == "Unschedulable")?;
            assert!(pod["spec"]["nodeName"].is_null(), "{pod}");
            scheduled["message"].as_str().map(str::to_string)
        })
        .await
    }

    async fn failed_scheduling(&self, pod: &str) -> Vec<String> {
        let list = self.get(&format!("/api/v1/namespaces/default/events?fieldSelector=involvedObject.name={pod},reason=FailedScheduling")).await;
        list["items"].as_array().into_iter().flatten().filter_map(|event| event["message"].as_str().map(str::to_string)).collect()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claims_decide_where_pods_go_and_are_given_their_node_before_the_pod_is_bound() {
    let cluster = Cluster::start();
    let _scheduler = cluster.scheduler();
    for name in ["node-1", "node-2", "node-3"] {
        cluster.node(name).await;
    }
    cluster.class("local", "cluster.local/local-path", "WaitForFirstConsumer").await;
    cluster.class("manual", "kubernetes.io/no-provisioner", "Immediate").await;

    // A WaitForFirstConsumer claim: the scheduler picks the node and says so on the claim, and
    // binds the pod only once the claim is bound there.
    cluster.claim("scratch", "local").await;
    cluster.pod("first-consumer", "scratch").await;
    let claim_path = "/api/v1/namespaces/default/persistentvolumeclaims/scratch";
    let selected = cluster.wait(claim_path, |claim| claim["metadata"]["annotations"]["volume.kubernetes.io/selected-node"].as_str().map(str::to_string)).await;
    assert!(["node-1", "node-2", "node-3"].contains(&selected.as_str()), "{selected}");

    // Meanwhile, a claim bound to a volume on node-2 takes its pod there, whatever the other
    // nodes offer. These pods are also the sign that the scheduler has seen the annotated
    // claim (the claim watch brings `pinned` after it) and so had every chance to bind
    // `first-consumer` wrongly before the check below.
    cluster.claim("pinned", "manual").await;
    cluster.bind_claim("pinned", "pv-node-2", "node-2", "manual").await;
    for index in 0..3 {
        let name = format!("pinned-{index}");
        cluster.pod(&name, "pinned").await;
        assert_eq!(cluster.bound_node(&name).await, "node-2");
    }
    let pod = cluster.get("/api/v1/namespaces/default/pods/first-consumer").await;
    assert!(pod["spec"]["nodeName"].is_null(), "the pod waits for its claim: {pod}");
    let uid = cluster.get(claim_path).await["metadata"]["uid"].as_str().unwrap().to_string();
    cluster.bind_claim("scratch", &format!("pvc-{uid}"), &selected, "local").await;
    assert_eq!(cluster.bound_node("first-consumer").await, selected, "the pod goes where its volume was made");

    // A volume no node can reach.
    cluster.claim("nowhere", "manual").await;
    cluster.bind_claim("nowhere", "pv-node-9", "node-9", "manual").await;
    cluster.pod("stranded", "nowhere").await;
    let message = cluster.unschedulable_message("stranded").await;
    assert_eq!(message, "0/3 nodes are available: 3 node(s) had volume node affinity conflict. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.");

    // A missing claim: kube's pre-filter message, as the whole verdict; the claim's arrival
    // sends the pod round again.
    cluster.pod("early", "data").await;
    let message = cluster.unschedulable_message("early").await;
    assert_eq!(message, "0/3 nodes are available: persistentvolumeclaim \"data\" not found. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.");
    let started = Instant::now();
    while !cluster.failed_scheduling("early").await.contains(&message) {
        assert!(started.elapsed() < WITHIN, "no FailedScheduling event: {:?}", cluster.failed_scheduling("early").await);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Unbound with an Immediate class: the binding controller's to bind first.
    cluster.claim("data", "manual").await;
    let message = cluster
        .wait("/api/v1/namespaces/default/pods/early", |pod| {
            let message = pod["status"]["conditions"].as_array()?.iter().find(|condition| condition["type"] == "PodScheduled")?["message"].as_str()?.to_string();
            message.contains("immediate").then_some(message)
        })
        .await;
    assert_eq!(message, "0/3 nodes are available: pod has unbound immediate PersistentVolumeClaims. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.");
    cluster.bind_claim("data", "pv-node-3", "node-3", "manual").await;
    assert_eq!(cluster.bound_node("early").await, "node-3");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_static_volume_is_pre_bound_to_the_waiting_claim_on_a_node_it_fits() {
    let cluster = Cluster::start();
    let _scheduler = cluster.scheduler();
    for name in ["node-1", "node-2", "node-3"] {
        cluster.node(name).await;
    }
    cluster.class("local-static", "kubernetes.io/no-provisioner", "WaitForFirstConsumer").await;
    cluster
        .create("/api/v1/persistentvolumes", json!({"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": "disk-on-3"},
            "spec": {"capacity": {"storage": "5Gi"}, "accessModes": ["ReadWriteOnce"], "storageClassName": "local-static", "local": {"path": "/mnt/disk"},
                "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [{"key": "kubernetes.io/hostname", "operator": "In", "values": ["node-3"]}]}]}}}}))
        .await;
    // Only an Available volume is offered (the binding controller makes a new one so).
    cluster.merge("/api/v1/persistentvolumes/disk-on-3/status", json!({"status": {"phase": "Available"}})).await;
    let claim = cluster.claim("disk", "local-static").await;
    cluster.pod("user", "disk").await;
    // The scheduler writes the volume's claimRef; the binding controller finishes the binding.
    let reference = cluster.wait("/api/v1/persistentvolumes/disk-on-3", |volume| volume["spec"]["claimRef"]["uid"].as_str().map(str::to_string)).await;
    assert_eq!(reference, claim["metadata"]["uid"].as_str().unwrap());
    let volume = cluster.get("/api/v1/persistentvolumes/disk-on-3").await;
    assert_eq!(volume["metadata"]["annotations"]["pv.kubernetes.io/bound-by-controller"], "yes", "{volume}");
    assert!(cluster.get("/api/v1/namespaces/default/pods/user").await["spec"]["nodeName"].is_null());
    let path = "/api/v1/namespaces/default/persistentvolumeclaims/disk";
    cluster.merge(path, json!({"metadata": {"annotations": {"pv.kubernetes.io/bind-completed": "yes", "pv.kubernetes.io/bound-by-controller": "yes"}}, "spec": {"volumeName": "disk-on-3"}})).await;
    cluster.merge(&format!("{path}/status"), json!({"status": {"phase": "Bound"}})).await;
    assert_eq!(cluster.bound_node("user").await, "node-3");

    // The provisioner gives up (it takes the selected node away): the pod is not bound, it is
    // tried again with a FailedScheduling event, and its claim is given a node once more.
    cluster.class("local", "cluster.local/local-path", "WaitForFirstConsumer").await;
    cluster.claim("flaky", "local").await;
    cluster.pod("retried", "flaky").await;
    let path = "/api/v1/namespaces/default/persistentvolumeclaims/flaky";
    let selected = |claim: &Value| claim["metadata"]["annotations"]["volume.kubernetes.io/selected-node"].as_str().map(str::to_string);
    cluster.wait(path, selected).await;
    cluster.merge(path, json!({"metadata": {"annotations": {"volume.kubernetes.io/selected-node": null}}})).await;
    let expected = "running PreBind plugin \"VolumeBinding\": binding volumes: selectedNode annotation reset for PVC \"flaky\"".to_string();
    let started = Instant::now();
    while !cluster.failed_scheduling("retried").await.contains(&expected) {
        assert!(started.elapsed() < WITHIN, "no FailedScheduling event: {:?}", cluster.failed_scheduling("retried").await);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let node = cluster.wait(path, selected).await;
    assert!(cluster.get("/api/v1/namespaces/default/pods/retried").await["spec"]["nodeName"].is_null());
    let uid = cluster.get(path).await["metadata"]["uid"].as_str().unwrap().to_string();
    cluster.bind_claim("flaky", &format!("pvc-{uid}"), &node, "local").await;
    assert_eq!(cluster.bound_node("retried").await, node);

    // No other volume of the class: a second claim has nowhere to go.
    cluster.claim("disk-2", "local-static").await;
    cluster.pod("second", "disk-2").await;
    assert_eq!(cluster.unschedulable_message("second").await, "0/3 nodes are available: 3 node(s) didn't find available persistent volumes to bind. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.");

    // A generic ephemeral volume's claim is `<pod>-<volume>`, and must be the pod's own.
    let template = json!({"spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "local", "resources": {"requests": {"storage": "1Gi"}}}});
    cluster
        .create("/api/v1/namespaces/default/pods", json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "eph", "namespace": "default"},
            "spec": {"containers": [{"name": "c", "image": "busybox:local"}], "volumes": [{"name": "scratch", "ephemeral": {"volumeClaimTemplate": template}}]}}))
        .await;
    assert_eq!(
        cluster.unschedulable_message("eph").await,
        "0/3 nodes are available: waiting for ephemeral volume controller to create the persistentvolumeclaim \"eph-scratch\". preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
    );
    cluster.claim("eph-scratch", "local").await;
    let message = cluster
        .wait("/api/v1/namespaces/default/pods/eph", |pod| {
            let message = pod["status"]["conditions"].as_array()?.iter().find(|condition| condition["type"] == "PodScheduled")?["message"].as_str()?.to_string();
            message.contains("owner").then_some(message)
        })
        .await;
    assert_eq!(message, "0/3 nodes are available: PVC default/eph-scratch was not created for pod default/eph (pod is not owner). preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.");

    // A volume pre-bound to a claim (here by an admin, with no uid) is the only one the claim
    // may have: it is on a node that does not exist, so no node is suitable, and the free
    // volume of the class on node-2 is not pre-bound in its stead.
    let local_volume = |name: &str, node: &str, claim_ref: Value| {
        json!({"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": name},
            "spec": {"capacity": {"storage": "5Gi"}, "accessModes": ["ReadWriteOnce"], "storageClassName": "pinned-static", "local": {"path": "/mnt/disk"}, "claimRef": claim_ref,
                "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [{"key": "kubernetes.io/hostname", "operator": "In", "values": [node]}]}]}}}})
    };
    cluster.class("pinned-static", "kubernetes.io/no-provisioner", "WaitForFirstConsumer").await;
    cluster.create("/api/v1/persistentvolumes", local_volume("free-on-2", "node-2", Value::Null)).await;
    cluster.merge("/api/v1/persistentvolumes/free-on-2/status", json!({"status": {"phase": "Available"}})).await;
    cluster.create("/api/v1/persistentvolumes", local_volume("held-on-9", "node-9", json!({"kind": "PersistentVolumeClaim", "apiVersion": "v1", "namespace": "default", "name": "held"}))).await;
    // The scheduler has seen both volumes once it places a pod whose volume was made after them.
    cluster.claim("marker", "manual").await;
    cluster.bind_claim("marker", "pv-marker", "node-3", "manual").await;
    cluster.pod("marker", "marker").await;
    assert_eq!(cluster.bound_node("marker").await, "node-3");
    cluster.claim("held", "pinned-static").await;
    cluster.pod("holder", "held").await;
    let message = cluster
        .wait("/api/v1/namespaces/default/pods/holder", |pod| {
            let message = pod["status"]["conditions"].as_array()?.iter().find(|condition| condition["type"] == "PodScheduled")?["message"].as_str()?.to_string();
            message.contains("persistent volumes").then_some(message)
        })
        .await;
    assert_eq!(message, "0/3 nodes are available: 3 node(s) didn't find available persistent volumes to bind. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.");
    let free = cluster.get("/api/v1/persistentvolumes/free-on-2").await;
    assert!(free["spec"]["claimRef"].is_null(), "{free}");
    assert!(cluster.get("/api/v1/namespaces/default/pods/holder").await["spec"]["nodeName"].is_null());
}
