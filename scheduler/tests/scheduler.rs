//! The real scheduler binary against the real apiserver, with Node objects created directly (no
//! kubelet): what it binds where, what it says about pods it cannot place, and how it behaves
//! when the leader dies or the apiserver restarts.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::testing::{ApiServer, Component, Storage};
use serde_json::{Value, json};

struct Cluster {
    server: ApiServer,
    http: reqwest::Client,
}

impl Cluster {
    fn start() -> Self {
        Self { server: ApiServer::start(Storage::Embedded).unwrap_or_else(|err| panic!("apiserver: {err}")), http: reqwest::Client::new() }
    }

    fn scheduler(&self, extra: &[&str]) -> Component {
        let mut args = vec![format!("--kubeconfig={}", self.server.kubeconfig().display())];
        args.extend(extra.iter().map(|arg| arg.to_string()));
        Component::start("scheduler", &args).unwrap_or_else(|err| panic!("scheduler: {err}"))
    }

    async fn send(&self, method: reqwest::Method, path: &str, body: Option<&Value>) -> (u16, Value) {
        let mut request = self.http.request(method, format!("{}{path}", self.server.url()));
        if let Some(body) = body {
            request = request.json(body);
        }
        match request.send().await {
            Ok(response) => {
                let code = response.status().as_u16();
                (code, response.json().await.unwrap_or(Value::Null))
            }
            Err(err) => (0, json!({"error": err.to_string()})),
        }
    }

    async fn create(&self, path: &str, body: &Value) -> Value {
        let (code, answer) = self.send(reqwest::Method::POST, path, Some(body)).await;
        assert_eq!(code, 201, "POST {path}: {answer}");
        answer
    }

    async fn get(&self, path: &str) -> Value {
        self.send(reqwest::Method::GET, path, None).await.1
    }

    /// A Node as a kubelet would register it (with its hostname label), ready for pods.
    async fn node(&self, name: &str, cpu: &str, pods: u32, labels: Value, spec: Value) {
        let mut labels = labels;
        labels["kubernetes.io/hostname"] = json!(name);
        let body = json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": labels}, "spec": spec,
            "status": {"allocatable": {"cpu": cpu, "memory": "16Gi", "pods": pods.to_string()},
                       "capacity": {"cpu": cpu, "memory": "16Gi", "pods": pods.to_string()}}});
        self.create("/api/v1/nodes", &body).await;
    }

    async fn pod(&self, name: &str, cpu: Option<&str>, extra_spec: Value) {
        let mut container = json!({"name": "c", "image": "busybox:local"});
        if let Some(cpu) = cpu {
            container["resources"] = json!({"requests": {"cpu": cpu}});
        }
        let mut spec = json!({"containers": [container]});
        if let (Some(spec), Some(extra)) = (spec.as_object_mut(), extra_spec.as_object()) {
            spec.extend(extra.clone());
        }
        let body = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"}, "spec": spec});
        self.create("/api/v1/namespaces/default/pods", &body).await;
    }

    /// Polls until `check` finds what it wants in the pod, or `within` passes.
    async fn wait_pod<T>(&self, name: &str, within: Duration, check: impl Fn(&Value) -> Option<T>) -> T {
        let started = Instant::now();
        loop {
            let pod = self.get(&format!("/api/v1/namespaces/default/pods/{name}")).await;
            if let Some(found) = check(&pod) {
                return found;
            }
            assert!(started.elapsed() < within, "pod {name} not as expected after {within:?}: {pod}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn bound_node(&self, name: &str) -> String {
        self.wait_pod(name, Duration::from_secs(20), |pod| pod["spec"]["nodeName"].as_str().map(str::to_string)).await
    }

    /// The PodScheduled=False message the scheduler gave, once it gave one.
    async fn unschedulable_message(&self, name: &str) -> String {
        self.wait_pod(name, Duration::from_secs(20), |pod| {
            let conditions = pod["status"]["conditions"].as_array()?;
            let scheduled = conditions.iter().find(|condition| condition["type"] == "PodScheduled")?;
            assert_eq!((scheduled["status"].as_str(), scheduled["reason"].as_str()), (Some("False"), Some("Unschedulable")), "{pod}");
            assert!(pod["spec"]["nodeName"].is_null(), "{pod}");
            scheduled["message"].as_str().map(str::to_string)
        })
        .await
    }

    async fn events_of(&self, pod: &str) -> Vec<(String, String)> {
        let list = self.get(&format!("/api/v1/namespaces/default/events?fieldSelector=involvedObject.name={pod}")).await;
        list["items"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|event| (event["reason"].as_str().unwrap_or_default().to_string(), event["message"].as_str().unwrap_or_default().to_string()))
            .collect()
    }

    async fn wait_event(&self, pod: &str, reason: &str) -> String {
        let started = Instant::now();
        loop {
            if let Some((_, message)) = self.events_of(pod).await.into_iter().find(|(found, _)| found == reason) {
                return message;
            }
            assert!(started.elapsed() < Duration::from_secs(20), "no {reason} event for {pod}: {:?}", self.events_of(pod).await);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_decide_the_node_and_a_new_node_takes_a_pod_that_fit_nowhere() {
    let cluster = Cluster::start();
    let _scheduler = cluster.scheduler(&[]);
    cluster.node("small", "1", 110, json!({}), json!({})).await;
    cluster.node("large", "4", 110, json!({}), json!({})).await;

    cluster.pod("two-cpus", Some("2"), json!({})).await;
    assert_eq!(cluster.bound_node("two-cpus").await, "large");
    assert_eq!(cluster.wait_event("two-cpus", "Scheduled").await, "Successfully assigned default/two-cpus to large");

    // 2 of large's 4 cpus are taken: 3 fit nowhere.
    cluster.pod("three-cpus", Some("3"), json!({})).await;
    let message = cluster.unschedulable_message("three-cpus").await;
    assert_eq!(message, "0/2 nodes are available: 2 Insufficient cpu. preemption: 0/2 nodes are available: 2 No preemption victims found for incoming pod.");
    assert_eq!(cluster.wait_event("three-cpus", "FailedScheduling").await, message);

    // Another node that does not help: the pod is tried again, and the same event counts up.
    cluster.node("tiny", "1", 110, json!({}), json!({})).await;
    let started = Instant::now();
    let repeated = loop {
        let list = cluster.get("/api/v1/namespaces/default/events?fieldSelector=involvedObject.name=three-cpus,reason=FailedScheduling").await;
        let items = list["items"].as_array().cloned().unwrap_or_default();
        if items.iter().any(|event| event["message"] == "0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod.") {
            break items;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "{items:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(repeated.len(), 2, "one event per distinct message: {repeated:?}");
    // A pod that goes away sends it round again with the same verdict: the event counts up.
    cluster.pod("passing", None, json!({})).await;
    cluster.bound_node("passing").await;
    let (code, _) = cluster.send(reqwest::Method::DELETE, "/api/v1/namespaces/default/pods/passing?gracePeriodSeconds=0", None).await;
    assert_eq!(code, 200);
    let started = Instant::now();
    loop {
        let list = cluster.get("/api/v1/namespaces/default/events?fieldSelector=involvedObject.name=three-cpus,reason=FailedScheduling").await;
        let items = list["items"].as_array().cloned().unwrap_or_default();
        if items.iter().any(|event| event["message"] == "0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod." && event["count"] == 2) {
            assert_eq!(items.len(), 2, "{items:?}");
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "{items:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    cluster.node("huge", "8", 110, json!({}), json!({})).await;
    assert_eq!(cluster.bound_node("three-cpus").await, "huge");

    // A pod that goes frees what it took.
    cluster.pod("four-cpus", Some("4"), json!({"nodeSelector": {"kubernetes.io/hostname": "large"}})).await;
    cluster.unschedulable_message("four-cpus").await;
    let (code, _) = cluster.send(reqwest::Method::DELETE, "/api/v1/namespaces/default/pods/two-cpus?gracePeriodSeconds=0", None).await;
    assert_eq!(code, 200);
    assert_eq!(cluster.bound_node("four-cpus").await, "large");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn selectors_affinity_taints_and_cordons() {
    let cluster = Cluster::start();
    let _scheduler = cluster.scheduler(&[]);
    cluster.node("east", "4", 110, json!({"zone": "east", "disk": "ssd", "cores": "16"}), json!({})).await;
    cluster.node("west", "4", 110, json!({"zone": "west", "cores": "4"}), json!({})).await;
    cluster.node("gpu", "4", 110, json!({"zone": "east", "gpu": "true"}), json!({"taints": [{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]})).await;

    cluster.pod("selected", None, json!({"nodeSelector": {"zone": "west"}})).await;
    assert_eq!(cluster.bound_node("selected").await, "west");
    let required = |requirement: Value| json!({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{"matchExpressions": [requirement]}]}}}});
    cluster.pod("in-east", None, required(json!({"key": "zone", "operator": "In", "values": ["east"]}))).await;
    assert_eq!(cluster.bound_node("in-east").await, "east", "the gpu node is in the east too, but tainted");
    cluster.pod("many-cores", None, required(json!({"key": "cores", "operator": "Gt", "values": ["8"]}))).await;
    assert_eq!(cluster.bound_node("many-cores").await, "east");
    cluster.pod("not-east", None, required(json!({"key": "zone", "operator": "NotIn", "values": ["east"]}))).await;
    assert_eq!(cluster.bound_node("not-east").await, "west");

    let preferred = json!({"affinity": {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 100, "preference": {"matchExpressions": [{"key": "disk", "operator": "In", "values": ["ssd"]}]}}]}}});
    for index in 0..3 {
        let name = format!("prefers-ssd-{index}");
        cluster.pod(&name, None, preferred.clone()).await;
        assert_eq!(cluster.bound_node(&name).await, "east", "preferred affinity outweighs the emptier west node");
    }

    cluster.pod("wants-gpu", None, json!({"nodeSelector": {"gpu": "true"}})).await;
    assert_eq!(
        cluster.unschedulable_message("wants-gpu").await,
        "0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}, 2 node(s) didn't match Pod's node affinity/selector. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
    );
    cluster.pod("tolerates-gpu", None, json!({"nodeSelector": {"gpu": "true"}, "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}]})).await;
    assert_eq!(cluster.bound_node("tolerates-gpu").await, "gpu");

    // A cordoned node takes nothing new.
    let cordon = json!({"spec": {"unschedulable": true}});
    let response = cluster
        .http
        .patch(format!("{}/api/v1/nodes/west", cluster.server.url()))
        .header("content-type", "application/merge-patch+json")
        .body(cordon.to_string())
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success());
    cluster.pod("west-again", None, json!({"nodeSelector": {"zone": "west"}})).await;
    assert_eq!(
        cluster.unschedulable_message("west-again").await,
        "0/3 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, 1 node(s) had untolerated taint {dedicated: gpu}, 1 node(s) were unschedulable. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_ports_and_pods_of_one_owner_spread_over_the_nodes() {
    let cluster = Cluster::start();
    let _scheduler = cluster.scheduler(&[]);
    for name in ["n1", "n2", "n3"] {
        cluster.node(name, "8", 110, json!({}), json!({})).await;
    }
    let port = json!({"containers": [{"name": "c", "image": "busybox:local", "ports": [{"containerPort": 80, "hostPort": 8080}]}]});
    let mut nodes = Vec::new();
    for index in 0..3 {
        let name = format!("port-{index}");
        cluster.pod(&name, None, port.clone()).await;
        nodes.push(cluster.bound_node(&name).await);
    }
    nodes.sort();
    assert_eq!(nodes, ["n1", "n2", "n3"], "one pod with host port 8080 per node");
    cluster.pod("port-3", None, port).await;
    assert_eq!(cluster.unschedulable_message("port-3").await, "0/3 nodes are available: 3 node(s) didn't have free ports for the requested pod ports. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod.");
    // Another protocol on the same port is another port.
    cluster.pod("udp", None, json!({"containers": [{"name": "c", "image": "busybox:local", "ports": [{"containerPort": 80, "hostPort": 8080, "protocol": "UDP"}]}]})).await;
    cluster.bound_node("udp").await;

    // Six pods of one ReplicaSet: two per node, whatever else runs there.
    let mut per_node: BTreeMap<String, u32> = BTreeMap::new();
    for index in 0..6 {
        let name = format!("web-{index}");
        let body = json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "default", "labels": {"app": "web"},
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-5d9f", "uid": "7f1c8a9e-0000-4000-8000-000000000001", "controller": true}]},
            "spec": {"containers": [{"name": "c", "image": "busybox:local", "resources": {"requests": {"cpu": "100m"}}}]}});
        cluster.create("/api/v1/namespaces/default/pods", &body).await;
        *per_node.entry(cluster.bound_node(&name).await).or_default() += 1;
    }
    assert_eq!(per_node.values().copied().collect::<Vec<_>>(), [2, 2, 2], "{per_node:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_pods_at_once_on_room_for_five_hundred_book_nothing_twice() {
    let cluster = Cluster::start();
    let _scheduler = cluster.scheduler(&[]);
    for index in 0..10 {
        cluster.node(&format!("node-{index}"), "64", 50, json!({}), json!({})).await;
    }
    let mut creates = tokio::task::JoinSet::new();
    for client in 0..16 {
        let (http, url) = (cluster.http.clone(), cluster.server.url());
        creates.spawn(async move {
            for index in (client..510).step_by(16) {
                let body = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": format!("burst-{index:03}")},
                    "spec": {"containers": [{"name": "c", "image": "busybox:local", "resources": {"requests": {"cpu": "100m"}}}]}});
                let response = http.post(format!("{url}/api/v1/namespaces/default/pods")).json(&body).send().await;
                assert!(response.is_ok_and(|response| response.status().as_u16() == 201), "create burst-{index:03}");
            }
        });
    }
    while let Some(done) = creates.join_next().await {
        done.unwrap();
    }

    // Every pod has been tried once all 10 left over say why they wait.
    let started = Instant::now();
    let (bound, waiting) = loop {
        let list = cluster.get("/api/v1/namespaces/default/pods").await;
        let items = list["items"].as_array().cloned().unwrap_or_default();
        let bound: Vec<&Value> = items.iter().filter(|pod| pod["spec"]["nodeName"].is_string()).collect();
        let waiting: Vec<&Value> = items
            .iter()
            .filter(|pod| pod["status"]["conditions"].as_array().is_some_and(|conditions| conditions.iter().any(|c| c["reason"] == "Unschedulable")))
            .collect();
        if bound.len() + waiting.len() == 510 {
            let mut per_node: BTreeMap<String, usize> = BTreeMap::new();
            for pod in &bound {
                *per_node.entry(pod["spec"]["nodeName"].as_str().unwrap_or_default().to_string()).or_default() += 1;
            }
            let messages: Vec<String> = waiting.iter().map(|pod| pod["status"]["conditions"][0]["message"].as_str().unwrap_or_default().to_string()).collect();
            break (per_node, messages);
        }
        assert!(started.elapsed() < Duration::from_secs(60), "{} bound and {} waiting after a minute", bound.len(), waiting.len());
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(bound.values().sum::<usize>(), 500);
    assert!(bound.values().all(|count| *count == 50), "each node holds exactly its 50: {bound:?}");
    assert_eq!(waiting.len(), 10);
    assert!(waiting.iter().all(|message| message == "0/10 nodes are available: 10 Too many pods. preemption: 0/10 nodes are available: 10 No preemption victims found for incoming pod."), "{waiting:?}");
}

async fn lease_holder(cluster: &Cluster) -> Option<String> {
    let lease = cluster.get("/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/kube-scheduler").await;
    lease["spec"]["holderIdentity"].as_str().map(str::to_string)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standby_takes_over_when_the_leader_dies() {
    let cluster = Cluster::start();
    cluster.node("n1", "4", 110, json!({}), json!({})).await;
    let mut first = cluster.scheduler(&["--identity=first"]);
    let started = Instant::now();
    while lease_holder(&cluster).await.as_deref() != Some("first") {
        assert!(started.elapsed() < Duration::from_secs(20), "the first replica never took the lease");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let second = cluster.scheduler(&["--identity=second"]);
    cluster.pod("before", None, json!({})).await;
    cluster.bound_node("before").await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(lease_holder(&cluster).await.as_deref(), Some("first"), "the standby waits while the leader renews");
    assert!(!second.log().contains("became leader"), "{}", second.log());

    first.kill();
    let died = Instant::now();
    cluster.pod("after", None, json!({})).await;
    cluster.wait_pod("after", Duration::from_secs(30), |pod| pod["spec"]["nodeName"].as_str().map(str::to_string)).await;
    let takeover = died.elapsed();
    println!("the standby bound a pod {:.1} s after the leader died", takeover.as_secs_f64());
    assert_eq!(lease_holder(&cluster).await.as_deref(), Some("second"));
    let lease = cluster.get("/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/kube-scheduler").await;
    assert_eq!(lease["spec"]["leaseTransitions"], 1, "{lease}");
    // The lease lasts 10 s and standbys look every 2 s: the bound is 15 s.
    assert!(takeover < Duration::from_secs(15), "took {takeover:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scheduler_resumes_after_an_apiserver_restart() {
    let mut cluster = Cluster::start();
    let mut scheduler = cluster.scheduler(&["--leader-elect=false"]);
    cluster.node("n1", "4", 110, json!({}), json!({})).await;
    cluster.pod("before", None, json!({})).await;
    assert_eq!(cluster.bound_node("before").await, "n1");

    cluster.server.kill();
    tokio::time::sleep(Duration::from_secs(1)).await;
    cluster.server.start_again().unwrap();
    cluster.node("n2", "4", 110, json!({}), json!({})).await;
    cluster.pod("after", None, json!({"nodeSelector": {"kubernetes.io/hostname": "n2"}})).await;
    let node = cluster.wait_pod("after", Duration::from_secs(60), |pod| pod["spec"]["nodeName"].as_str().map(str::to_string)).await;
    assert_eq!(node, "n2", "the new node was seen too");
    assert!(scheduler.is_running(), "{}", scheduler.log());
}
