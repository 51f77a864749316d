//! The DaemonSet controller in the real controller-manager binary against the real apiserver.
//! No scheduler or kubelet runs: a task in the test plays both, binding each new pod to the node
//! its node affinity pins it to (as the scheduler does with `matchFields: metadata.name`), making
//! it Running and Ready, and finishing the deletion of pods marked for deletion.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use support::Cluster;

const NS: &str = "infra";
const HASH: &str = "controller-revision-hash";

/// Plays scheduler and kubelet for the namespace until dropped. Pods that have failed or
/// succeeded are left as they are (a test may fail one); pods pinned to a node that does not
/// exist stay pending; pods of a held image run but do not turn ready until released.
struct FakeNodes {
    stop: Arc<AtomicBool>,
    held: Arc<Mutex<BTreeSet<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl FakeNodes {
    fn start(cluster: &Arc<Cluster>) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let held: Arc<Mutex<BTreeSet<String>>> = Arc::default();
        let (cluster, flag, holding) = (cluster.clone(), stop.clone(), held.clone());
        let task = tokio::spawn(async move {
            let mut next_ip = 10u32;
            while !flag.load(Ordering::Relaxed) {
                for pod in cluster.items(&format!("/api/v1/namespaces/{NS}/pods")).await {
                    let name = pod["metadata"]["name"].as_str().unwrap_or_default().to_string();
                    if pod["metadata"]["deletionTimestamp"].is_string() {
                        cluster.delete(&format!("/api/v1/namespaces/{NS}/pods/{name}"), &json!({"gracePeriodSeconds": 0})).await;
                        continue;
                    }
                    let image = pod["spec"]["containers"][0]["image"].as_str().unwrap_or_default();
                    let ready = holding.lock().is_ok_and(|held| !held.contains(image));
                    let is_ready = pod["status"]["conditions"].as_array().is_some_and(|conditions| conditions.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"));
                    let phase = pod["status"]["phase"].as_str().unwrap_or("Pending");
                    let Some(node) = target_node(&pod) else { continue };
                    let ip = pod["status"]["podIP"].as_str().map(str::to_string).unwrap_or_else(|| {
                        next_ip += 1;
                        format!("10.244.0.{}", next_ip % 250 + 2)
                    });
                    match phase {
                        "Pending" if cluster.get_opt(&format!("/api/v1/nodes/{node}")).await.is_some() => cluster.run_pod(NS, &name, &node, &ip, ready).await,
                        "Running" if ready && !is_ready => cluster.set_pod_status(NS, &name, &ip, true).await,
                        _ => {}
                    }
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        });
        Self { stop, held, task }
    }

    /// Pods of `image` stay not ready until released.
    fn hold(&self, image: &str) {
        if let Ok(mut held) = self.held.lock() {
            held.insert(image.to_string());
        }
    }

    fn release(&self, image: &str) {
        if let Ok(mut held) = self.held.lock() {
            held.remove(image);
        }
    }
}

impl Drop for FakeNodes {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        self.task.abort();
    }
}

/// Where a pod is bound, or else the node its required node affinity names by `metadata.name`.
fn target_node(pod: &Value) -> Option<String> {
    if let Some(node) = pod["spec"]["nodeName"].as_str() {
        return Some(node.to_string());
    }
    let terms = pod["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"].as_array()?;
    terms.iter().flat_map(|term| term["matchFields"].as_array().cloned().unwrap_or_default()).find(|field| field["key"] == "metadata.name" && field["operator"] == "In").and_then(|field| field["values"][0].as_str().map(str::to_string))
}

/// A Node as a kubelet registers it, Ready, with `taints`.
async fn node(cluster: &Cluster, name: &str, taints: Value) {
    let body = json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}}, "spec": {"taints": taints},
        "status": {"allocatable": {"cpu": "8", "memory": "16Gi", "pods": "110"}, "capacity": {"cpu": "8", "memory": "16Gi", "pods": "110"},
                   "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "kubelet is posting ready status"}]}});
    cluster.create("/api/v1/nodes", &body).await;
}

fn daemon_set(name: &str, image: &str, strategy: Value) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": name, "namespace": NS},
        "spec": {"selector": {"matchLabels": {"app": name}}, "updateStrategy": strategy,
                 "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": "c", "image": image}]}}}})
}

/// A daemon pod as the tests look at it.
#[derive(Clone)]
struct DaemonPod {
    name: String,
    node: String,
    hash: String,
    image: String,
    ready: bool,
    body: Value,
}

/// Without the body, which would drown a failure message.
impl std::fmt::Debug for DaemonPod {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "{} on {} ({} {}{})", self.name, self.node, self.image, self.hash, if self.ready { ", ready" } else { "" })
    }
}

/// The pods of `set` not being deleted.
async fn live_pods(cluster: &Cluster, set: &str) -> Vec<DaemonPod> {
    cluster
        .items(&format!("/api/v1/namespaces/{NS}/pods?labelSelector=app%3D{set}"))
        .await
        .into_iter()
        .filter(|pod| pod["metadata"]["deletionTimestamp"].is_null())
        .map(|pod| DaemonPod {
            name: pod["metadata"]["name"].as_str().unwrap_or_default().to_string(),
            node: target_node(&pod).unwrap_or_default(),
            hash: pod["metadata"]["labels"][HASH].as_str().unwrap_or_default().to_string(),
            image: pod["spec"]["containers"][0]["image"].as_str().unwrap_or_default().to_string(),
            ready: pod["status"]["conditions"].as_array().is_some_and(|conditions| conditions.iter().any(|c| c["type"] == "Ready" && c["status"] == "True")),
            body: pod,
        })
        .collect()
}

fn set_path(name: &str) -> String {
    format!("/apis/apps/v1/namespaces/{NS}/daemonsets/{name}")
}

/// Waits until `set` has exactly one ready pod on each of `nodes`, all of `image`, and its status
/// says so for the current generation; returns the pods by node.
async fn wait_rolled_out(cluster: &Cluster, set: &str, nodes: &[&str], image: &str) -> BTreeMap<String, DaemonPod> {
    let wanted: BTreeSet<String> = nodes.iter().map(|node| node.to_string()).collect();
    cluster
        .wait_for(&format!("{set} on {nodes:?} with {image}"), Duration::from_secs(30), || async {
            let pods = live_pods(cluster, set).await;
            let on: BTreeSet<String> = pods.iter().map(|pod| pod.node.clone()).collect();
            let object = cluster.get(&set_path(set)).await;
            let status = &object["status"];
            let count = nodes.len();
            let done = pods.len() == count
                && on == wanted
                && pods.iter().all(|pod| pod.ready && pod.image == image)
                && status["desiredNumberScheduled"] == count
                && status["currentNumberScheduled"] == count
                && status["numberReady"] == count
                && status["updatedNumberScheduled"] == count
                && status["numberAvailable"] == count
                && status["numberUnavailable"].as_i64().unwrap_or(0) == 0
                && status["numberMisscheduled"] == 0
                && status["observedGeneration"] == object["metadata"]["generation"];
            let summary: Vec<(&str, &str, &str, &str, bool)> = pods.iter().map(|pod| (pod.name.as_str(), pod.node.as_str(), pod.image.as_str(), pod.hash.as_str(), pod.ready)).collect();
            if done { Ok(pods.iter().map(|pod| (pod.node.clone(), pod.clone())).collect()) } else { Err(format!("{summary:?} {status}")) }
        })
        .await
}

/// The set's ControllerRevisions: name → (revision, hash label, data).
async fn revisions(cluster: &Cluster) -> BTreeMap<String, (i64, String, Value)> {
    cluster
        .items(&format!("/apis/apps/v1/namespaces/{NS}/controllerrevisions"))
        .await
        .into_iter()
        .map(|revision| {
            let name = revision["metadata"]["name"].as_str().unwrap_or_default().to_string();
            let hash = revision["metadata"]["labels"][HASH].as_str().unwrap_or_default().to_string();
            (name, (revision["revision"].as_i64().unwrap_or(-1), hash, revision["data"].clone()))
        })
        .collect()
}

async fn set_image(cluster: &Cluster, name: &str, image: &str) {
    let patch = json!({"spec": {"template": {"spec": {"containers": [{"name": "c", "image": image}]}}}});
    cluster.merge_patch(&set_path(name), &patch).await;
}

fn kubectl(cluster: &Cluster, args: &[&str]) -> std::process::Output {
    let kubeconfig = format!("--kubeconfig={}", cluster.server.kubeconfig().display());
    match std::process::Command::new("kubectl").arg(&kubeconfig).args(["-n", NS]).args(args).output() {
        Ok(output) => output,
        Err(err) => panic!("cannot run kubectl: {err}"),
    }
}

async fn events(cluster: &Cluster) -> Vec<(String, String)> {
    cluster
        .items(&format!("/api/v1/namespaces/{NS}/events"))
        .await
        .into_iter()
        .filter(|event| event["involvedObject"]["kind"] == "DaemonSet")
        .map(|event| (event["reason"].as_str().unwrap_or_default().to_string(), event["message"].as_str().unwrap_or_default().to_string()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_pod_per_eligible_node_following_the_nodes() {
    let cluster = Arc::new(Cluster::start());
    let _manager = cluster.controller_manager(&["--controllers=daemonset"]);
    cluster.namespace(NS).await;
    for name in ["n1", "n2", "n3"] {
        node(&cluster, name, json!([])).await;
    }
    node(&cluster, "db", json!([{"key": "dedicated", "value": "db", "effect": "NoSchedule"}])).await;
    let _nodes = FakeNodes::start(&cluster);
    let created = cluster.create(&format!("/apis/apps/v1/namespaces/{NS}/daemonsets"), &daemon_set("agent", "busybox:1", json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}}))).await;
    let uid = created["metadata"]["uid"].clone();

    // One pod on each untainted node, none on the tainted one.
    let pods = wait_rolled_out(&cluster, "agent", &["n1", "n2", "n3"], "busybox:1").await;
    let revisions_now = revisions(&cluster).await;
    assert_eq!(revisions_now.len(), 1, "{revisions_now:?}");
    let (revision_name, (revision, hash, _)) = revisions_now.iter().next().unwrap();
    assert_eq!((*revision, revision_name.clone()), (1, format!("agent-{hash}")));
    let generation = cluster.get(&set_path("agent")).await["metadata"]["generation"].clone();
    for (node_name, pod) in &pods {
        let body = &pod.body;
        assert!(pod.name.starts_with("agent-"), "{body}");
        assert_eq!(body["spec"]["nodeName"], node_name.as_str());
        assert_eq!(
            body["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"],
            json!({"nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node_name]}]}]}),
            "{body}"
        );
        assert_eq!(body["metadata"]["labels"][HASH], hash.as_str(), "{body}");
        assert_eq!(body["metadata"]["labels"]["app"], "agent");
        // The template generation: the annotation the apiserver keeps of it, else the generation.
        let annotated = cluster.get(&set_path("agent")).await["metadata"]["annotations"]["deprecated.daemonset.template.generation"].as_str().map(str::to_string);
        let expected = annotated.unwrap_or_else(|| generation.as_i64().unwrap_or_default().to_string());
        assert_eq!(body["metadata"]["labels"]["pod-template-generation"], expected.as_str(), "{body}");
        assert_eq!(body["metadata"]["ownerReferences"], json!([{"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "agent", "uid": uid, "controller": true, "blockOwnerDeletion": true}]));
        let tolerations: BTreeSet<(String, String)> = body["spec"]["tolerations"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .filter(|toleration| toleration["operator"] == "Exists")
            .map(|toleration| (toleration["key"].as_str().unwrap_or_default().to_string(), toleration["effect"].as_str().unwrap_or_default().to_string()))
            .collect();
        for (key, effect) in [("not-ready", "NoExecute"), ("unreachable", "NoExecute"), ("disk-pressure", "NoSchedule"), ("memory-pressure", "NoSchedule"), ("pid-pressure", "NoSchedule"), ("unschedulable", "NoSchedule")] {
            assert!(tolerations.contains(&(format!("node.kubernetes.io/{key}"), effect.to_string())), "{key}: {tolerations:?}");
        }
    }

    // A node that joins gets its pod; one that goes takes its pod along.
    node(&cluster, "n4", json!([])).await;
    wait_rolled_out(&cluster, "agent", &["n1", "n2", "n3", "n4"], "busybox:1").await;
    let (code, answer) = cluster.delete("/api/v1/nodes/n4", &json!({})).await;
    assert_eq!(code, 200, "{answer}");
    wait_rolled_out(&cluster, "agent", &["n1", "n2", "n3"], "busybox:1").await;

    // Tainted NoExecute, a node loses its pod; the taint tolerated, the tainted node gets one.
    cluster.merge_patch("/api/v1/nodes/n3", &json!({"spec": {"taints": [{"key": "maintenance", "effect": "NoExecute"}]}})).await;
    wait_rolled_out(&cluster, "agent", &["n1", "n2"], "busybox:1").await;
    cluster.merge_patch("/api/v1/nodes/n3", &json!({"spec": {"taints": null}})).await;
    wait_rolled_out(&cluster, "agent", &["n1", "n2", "n3"], "busybox:1").await;

    // A failed pod is deleted and replaced on its node.
    let pods = wait_rolled_out(&cluster, "agent", &["n1", "n2", "n3"], "busybox:1").await;
    let failed = pods["n2"].name.clone();
    cluster.merge_patch(&format!("/api/v1/namespaces/{NS}/pods/{failed}/status"), &json!({"status": {"phase": "Failed", "conditions": [{"type": "Ready", "status": "False"}]}})).await;
    let pods = wait_rolled_out(&cluster, "agent", &["n1", "n2", "n3"], "busybox:1").await;
    assert_ne!(pods["n2"].name, failed);
    assert!(cluster.get_opt(&format!("/api/v1/namespaces/{NS}/pods/{failed}")).await.is_none());

    let events = cluster
        .wait_for("the controller's events", Duration::from_secs(10), || async {
            let events = events(&cluster).await;
            let reasons: BTreeSet<&str> = events.iter().map(|(reason, _)| reason.as_str()).collect();
            if ["SuccessfulCreate", "SuccessfulDelete", "FailedDaemonPod"].iter().all(|reason| reasons.contains(reason)) { Ok(events) } else { Err(format!("{events:?}")) }
        })
        .await;
    assert!(events.contains(&("FailedDaemonPod".to_string(), format!("Found failed daemon pod {NS}/{failed} on node n2, will try to kill it"))), "{events:?}");
    assert!(events.contains(&("SuccessfulDelete".to_string(), format!("Deleted pod: {failed}"))), "{events:?}");
    assert!(events.contains(&("SuccessfulCreate".to_string(), format!("Created pod: {}", pods["n2"].name))), "{events:?}");

    // Idle, it writes nothing.
    let before = cluster.get(&set_path("agent")).await["metadata"]["resourceVersion"].clone();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(cluster.get(&set_path("agent")).await["metadata"]["resourceVersion"], before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolling_update_replaces_one_node_at_a_time_and_undo_renumbers_the_old_revision() {
    let cluster = Arc::new(Cluster::start());
    let _manager = cluster.controller_manager(&["--controllers=daemonset"]);
    cluster.namespace(NS).await;
    let nodes = ["n1", "n2", "n3"];
    for name in nodes {
        node(&cluster, name, json!([])).await;
    }
    let fake_nodes = FakeNodes::start(&cluster);
    let mut body = daemon_set("agent", "busybox:1", json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}}));
    body["spec"]["revisionHistoryLimit"] = json!(1);
    cluster.create(&format!("/apis/apps/v1/namespaces/{NS}/daemonsets"), &body).await;
    let first = wait_rolled_out(&cluster, "agent", &nodes, "busybox:1").await;
    let first_hash = first["n1"].hash.clone();

    // While the first new pod is not ready, the other nodes keep their old pods.
    fake_nodes.hold("busybox:2");
    set_image(&cluster, "agent", "busybox:2").await;
    cluster
        .wait_for("one node replaced, waiting for its new pod", Duration::from_secs(20), || async {
            let pods = live_pods(&cluster, "agent").await;
            let object = cluster.get(&set_path("agent")).await;
            let status = &object["status"];
            let new: Vec<&DaemonPod> = pods.iter().filter(|pod| pod.image == "busybox:2").collect();
            let old_ready = pods.iter().filter(|pod| pod.image == "busybox:1" && pod.ready).count();
            let counted = status["observedGeneration"] == object["metadata"]["generation"] && status["updatedNumberScheduled"] == 1 && status["numberUnavailable"] == 1;
            assert!(old_ready >= 2, "more than maxUnavailable nodes without a ready pod: {pods:?}");
            match new.as_slice() {
                [only] if !only.ready && pods.len() == 3 && old_ready == 2 && counted => Ok(()),
                _ => Err(format!("{pods:?} {status}")),
            }
        })
        .await;
    fake_nodes.release("busybox:2");
    // Every step: one pod a node at most, and never more than one node without a ready pod.
    cluster
        .wait_for("the rollout to busybox:2", Duration::from_secs(30), || {
            let cluster = cluster.clone();
            async move {
                let pods = live_pods(&cluster, "agent").await;
                let nodes_with_pods: BTreeSet<&str> = pods.iter().map(|pod| pod.node.as_str()).collect();
                assert_eq!(nodes_with_pods.len(), pods.len(), "two pods on a node: {pods:?}");
                let ready = pods.iter().filter(|pod| pod.ready).count();
                assert!(ready >= 2, "more than maxUnavailable nodes without a ready pod: {pods:?}");
                if pods.len() == 3 && pods.iter().all(|pod| pod.image == "busybox:2" && pod.ready) { Ok(()) } else { Err(format!("{pods:?}")) }
            }
        })
        .await;
    let second = wait_rolled_out(&cluster, "agent", &nodes, "busybox:2").await;
    let second_hash = second["n1"].hash.clone();
    assert_ne!(first_hash, second_hash);
    assert!(second.values().all(|pod| pod.hash == second_hash));
    let status = kubectl(&cluster, &["rollout", "status", "daemonset/agent", "--timeout=20s"]);
    assert!(String::from_utf8_lossy(&status.stdout).contains("daemon set \"agent\" successfully rolled out"), "{status:?}");
    let history = revisions(&cluster).await;
    let numbered: BTreeMap<String, i64> = history.values().map(|(revision, hash, _)| (hash.clone(), *revision)).collect();
    assert_eq!(numbered, BTreeMap::from([(first_hash.clone(), 1), (second_hash.clone(), 2)]), "{history:?}");

    // Undo as kubectl does it: the old revision's data as a strategic merge patch.
    let old_data = history.values().find(|(_, hash, _)| *hash == first_hash).map(|(_, _, data)| data.clone()).unwrap();
    let (code, answer) = cluster.send(reqwest::Method::PATCH, &set_path("agent"), "application/strategic-merge-patch+json", Some(&old_data)).await;
    assert_eq!(code, 200, "{answer}");
    let back = wait_rolled_out(&cluster, "agent", &nodes, "busybox:1").await;
    assert!(back.values().all(|pod| pod.hash == first_hash), "the pods return to the old revision's hash: {back:?}");
    let history = revisions(&cluster).await;
    let numbered: BTreeMap<String, i64> = history.values().map(|(revision, hash, _)| (hash.clone(), *revision)).collect();
    assert_eq!(numbered, BTreeMap::from([(first_hash.clone(), 3), (second_hash.clone(), 2)]), "the old revision renumbered, none made: {history:?}");

    // One more template: with revisionHistoryLimit 1 the oldest unused revision goes.
    set_image(&cluster, "agent", "busybox:3").await;
    let third = wait_rolled_out(&cluster, "agent", &nodes, "busybox:3").await;
    let third_hash = third["n1"].hash.clone();
    cluster
        .wait_for("history trimmed to one old revision", Duration::from_secs(20), || async {
            let numbered: BTreeMap<String, i64> = revisions(&cluster).await.values().map(|(revision, hash, _)| (hash.clone(), *revision)).collect();
            if numbered == BTreeMap::from([(first_hash.clone(), 3), (third_hash.clone(), 4)]) { Ok(()) } else { Err(format!("{numbered:?}")) }
        })
        .await;

    // kubectl's own undo goes back to the previous revision the same way.
    let undo = kubectl(&cluster, &["rollout", "undo", "daemonset/agent"]);
    assert!(undo.status.success(), "{undo:?}");
    let back = wait_rolled_out(&cluster, "agent", &nodes, "busybox:1").await;
    assert!(back.values().all(|pod| pod.hash == first_hash), "{back:?}");
    cluster
        .wait_for("the undone revision renumbered", Duration::from_secs(20), || async {
            let numbered: BTreeMap<String, i64> = revisions(&cluster).await.values().map(|(revision, hash, _)| (hash.clone(), *revision)).collect();
            if numbered == BTreeMap::from([(first_hash.clone(), 5), (third_hash.clone(), 4)]) { Ok(()) } else { Err(format!("{numbered:?}")) }
        })
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_delete_replaces_only_the_pods_deleted() {
    let cluster = Arc::new(Cluster::start());
    let _manager = cluster.controller_manager(&["--controllers=daemonset"]);
    cluster.namespace(NS).await;
    let nodes = ["n1", "n2"];
    for name in nodes {
        node(&cluster, name, json!([])).await;
    }
    let _nodes = FakeNodes::start(&cluster);
    cluster.create(&format!("/apis/apps/v1/namespaces/{NS}/daemonsets"), &daemon_set("agent", "busybox:1", json!({"type": "OnDelete"}))).await;
    let first = wait_rolled_out(&cluster, "agent", &nodes, "busybox:1").await;

    set_image(&cluster, "agent", "busybox:2").await;
    // Once the controller has seen the new template (a revision for it, the generation
    // observed), the pods are still the old ones.
    cluster
        .wait_for("the new template observed", Duration::from_secs(20), || async {
            let object = cluster.get(&set_path("agent")).await;
            let history = revisions(&cluster).await;
            let status = &object["status"];
            let observed = status["observedGeneration"] == object["metadata"]["generation"];
            if observed && history.len() == 2 && status["updatedNumberScheduled"].as_i64().unwrap_or(0) == 0 && status["numberAvailable"] == 2 {
                Ok(())
            } else {
                Err(format!("{status} {history:?}"))
            }
        })
        .await;
    let pods = live_pods(&cluster, "agent").await;
    let names: BTreeSet<String> = pods.iter().map(|pod| pod.name.clone()).collect();
    assert_eq!(names, first.values().map(|pod| pod.name.clone()).collect::<BTreeSet<_>>(), "{pods:?}");

    // A pod deleted by hand comes back with the new template; the other stays as it was.
    let (code, answer) = cluster.delete(&format!("/api/v1/namespaces/{NS}/pods/{}", first["n1"].name), &json!({})).await;
    assert_eq!(code, 200, "{answer}");
    let replaced = cluster
        .wait_for("n1's pod replaced", Duration::from_secs(20), || async {
            let pods = live_pods(&cluster, "agent").await;
            let object = cluster.get(&set_path("agent")).await;
            let status = &object["status"];
            let on_n1 = pods.iter().find(|pod| pod.node == "n1" && pod.ready && pod.image == "busybox:2").cloned();
            match on_n1 {
                Some(pod) if pods.len() == 2 && status["updatedNumberScheduled"] == 1 && status["numberAvailable"] == 2 => Ok(pod),
                _ => Err(format!("{pods:?} {status}")),
            }
        })
        .await;
    assert_ne!(replaced.hash, first["n1"].hash);
    let pods = live_pods(&cluster, "agent").await;
    let on_n2: Vec<&DaemonPod> = pods.iter().filter(|pod| pod.node == "n2").collect();
    assert_eq!(on_n2.len(), 1);
    assert_eq!((on_n2[0].name.as_str(), on_n2[0].image.as_str()), (first["n2"].name.as_str(), "busybox:1"));
    let status = kubectl(&cluster, &["rollout", "status", "daemonset/agent", "--timeout=5s"]);
    assert!(String::from_utf8_lossy(&status.stderr).contains("rollout status is only available for RollingUpdate strategy type"), "{status:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_max_surge_the_new_pod_is_available_before_the_old_one_goes() {
    let cluster = Arc::new(Cluster::start());
    let _manager = cluster.controller_manager(&["--controllers=daemonset"]);
    cluster.namespace(NS).await;
    let nodes = ["n1", "n2", "n3"];
    for name in nodes {
        node(&cluster, name, json!([])).await;
    }
    let fake_nodes = FakeNodes::start(&cluster);
    let strategy = json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}});
    cluster.create(&format!("/apis/apps/v1/namespaces/{NS}/daemonsets"), &daemon_set("agent", "busybox:1", strategy)).await;
    wait_rolled_out(&cluster, "agent", &nodes, "busybox:1").await;

    // The new pod starts beside the old one, which stays while the new one is not ready.
    fake_nodes.hold("busybox:2");
    set_image(&cluster, "agent", "busybox:2").await;
    let surged = cluster
        .wait_for("one new pod beside an old one", Duration::from_secs(20), || async {
            let pods = live_pods(&cluster, "agent").await;
            let object = cluster.get(&set_path("agent")).await;
            let status = &object["status"];
            let new: Vec<&DaemonPod> = pods.iter().filter(|pod| pod.image == "busybox:2").collect();
            // (The status counts the oldest pod of each node: which of the two that is depends on
            // names when both were made in the same second, as in Kubernetes.)
            let counted = status["observedGeneration"] == object["metadata"]["generation"] && status["currentNumberScheduled"] == 3 && status["desiredNumberScheduled"] == 3;
            match new.as_slice() {
                [only] if !only.ready && pods.len() == 4 && counted => Ok(only.node.clone()),
                _ => Err(format!("{pods:?} {status}")),
            }
        })
        .await;
    let pods = live_pods(&cluster, "agent").await;
    assert!(pods.iter().any(|pod| pod.node == surged && pod.image == "busybox:1" && pod.ready), "the old pod stays while the new one is not ready: {pods:?}");

    fake_nodes.release("busybox:2");
    // Every step: every node keeps a ready pod, and at most one node has two.
    cluster
        .wait_for("the surging rollout to busybox:2", Duration::from_secs(30), || {
            let cluster = cluster.clone();
            async move {
                let pods = live_pods(&cluster, "agent").await;
                let mut per_node: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
                for pod in &pods {
                    let entry = per_node.entry(pod.node.as_str()).or_default();
                    entry.0 += 1;
                    entry.1 += usize::from(pod.ready);
                }
                assert!(nodes.iter().all(|node| per_node.get(node).is_some_and(|(_, ready)| *ready >= 1)), "a node without a ready pod: {pods:?}");
                assert!(per_node.values().filter(|(count, _)| *count > 1).count() <= 1, "more than maxSurge nodes with two pods: {pods:?}");
                if pods.len() == 3 && pods.iter().all(|pod| pod.image == "busybox:2" && pod.ready) { Ok(()) } else { Err(format!("{pods:?}")) }
            }
        })
        .await;
    wait_rolled_out(&cluster, "agent", &nodes, "busybox:2").await;
    let status = kubectl(&cluster, &["rollout", "status", "daemonset/agent", "--timeout=20s"]);
    assert!(String::from_utf8_lossy(&status.stdout).contains("successfully rolled out"), "{status:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_controller_manager_restarted_mid_rollout_converges_to_the_same_end() {
    let cluster = Arc::new(Cluster::start());
    let mut manager = cluster.controller_manager(&["--controllers=daemonset"]);
    cluster.namespace(NS).await;
    let nodes = ["n1", "n2", "n3"];
    for name in nodes {
        node(&cluster, name, json!([])).await;
    }
    let fake_nodes = FakeNodes::start(&cluster);
    cluster.create(&format!("/apis/apps/v1/namespaces/{NS}/daemonsets"), &daemon_set("agent", "busybox:1", json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}}))).await;
    wait_rolled_out(&cluster, "agent", &nodes, "busybox:1").await;

    fake_nodes.hold("busybox:2");
    set_image(&cluster, "agent", "busybox:2").await;
    cluster
        .wait_for("the rollout to have started", Duration::from_secs(20), || async {
            let pods = live_pods(&cluster, "agent").await;
            if pods.iter().any(|pod| pod.image == "busybox:2") { Ok(()) } else { Err(format!("{pods:?}")) }
        })
        .await;
    manager.kill();
    fake_nodes.release("busybox:2");
    manager.start_again().unwrap();
    wait_rolled_out(&cluster, "agent", &nodes, "busybox:2").await;

    // The same end as an uninterrupted rollout: three new pods, two revisions, nothing extra.
    let pods = cluster.items(&format!("/api/v1/namespaces/{NS}/pods")).await;
    assert_eq!(pods.len(), 3, "{:?}", live_pods(&cluster, "agent").await);
    let numbered: BTreeSet<i64> = revisions(&cluster).await.values().map(|(revision, _, _)| *revision).collect();
    assert_eq!(numbered, BTreeSet::from([1, 2]));
}
