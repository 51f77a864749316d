//! The ReplicaSet, ReplicationController and Deployment controllers, in the real
//! controller-manager binary against the real apiserver. No kubelet or scheduler runs: a task in the test plays both, binding each new
//! pod, making it Running and Ready, and finishing the deletion of pods marked for deletion.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use support::Cluster;

const NS: &str = "work";

/// Plays kubelet and scheduler for the namespace until dropped.
struct FakeNode {
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl FakeNode {
    fn start(cluster: &Arc<Cluster>) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let (cluster, flag) = (cluster.clone(), stop.clone());
        let task = tokio::spawn(async move {
            let mut next_ip = 10u32;
            while !flag.load(Ordering::Relaxed) {
                for pod in cluster.items(&format!("/api/v1/namespaces/{NS}/pods")).await {
                    let name = pod["metadata"]["name"].as_str().unwrap_or_default().to_string();
                    if pod["metadata"]["deletionTimestamp"].is_string() {
                        cluster.delete(&format!("/api/v1/namespaces/{NS}/pods/{name}"), &json!({"gracePeriodSeconds": 0})).await;
                    } else if pod["status"]["phase"] != "Running" {
                        next_ip += 1;
                        cluster.run_pod(NS, &name, "node-1", &format!("10.244.0.{}", next_ip % 250 + 2), true).await;
                    }
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        });
        Self { stop, task }
    }
}

impl Drop for FakeNode {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        self.task.abort();
    }
}

fn deployment(name: &str, replicas: i32, image: &str, strategy: Value) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": NS},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}}, "strategy": strategy,
                 "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": "c", "image": image}]}}}})
}

/// Pods not being deleted, with their image and readiness.
async fn live_pods(cluster: &Cluster) -> Vec<(String, String, bool)> {
    cluster
        .items(&format!("/api/v1/namespaces/{NS}/pods"))
        .await
        .into_iter()
        .filter(|pod| pod["metadata"]["deletionTimestamp"].is_null())
        .map(|pod| {
            let ready = pod["status"]["conditions"].as_array().is_some_and(|conditions| conditions.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"));
            (pod["metadata"]["name"].as_str().unwrap_or_default().to_string(), pod["spec"]["containers"][0]["image"].as_str().unwrap_or_default().to_string(), ready)
        })
        .collect()
}

async fn wait_rolled_out(cluster: &Cluster, name: &str, replicas: usize, image: &str) {
    cluster
        .wait_for(&format!("{name} rolled out to {image}"), Duration::from_secs(30), || async {
            let pods = live_pods(cluster).await;
            let deployment = cluster.get(&format!("/apis/apps/v1/namespaces/{NS}/deployments/{name}")).await;
            let status = &deployment["status"];
            let done = pods.len() == replicas
                && pods.iter().all(|(_, have, ready)| have == image && *ready)
                && status["updatedReplicas"] == replicas
                && status["availableReplicas"] == replicas
                && status["replicas"] == replicas
                && status["observedGeneration"] == deployment["metadata"]["generation"];
            if done { Ok(()) } else { Err(format!("{pods:?} {status}")) }
        })
        .await
}

async fn replica_sets(cluster: &Cluster) -> BTreeMap<String, (i64, String)> {
    cluster
        .items(&format!("/apis/apps/v1/namespaces/{NS}/replicasets"))
        .await
        .into_iter()
        .map(|set| {
            let name = set["metadata"]["name"].as_str().unwrap_or_default().to_string();
            let replicas = set["spec"]["replicas"].as_i64().unwrap_or(-1);
            let revision = set["metadata"]["annotations"]["deployment.kubernetes.io/revision"].as_str().unwrap_or_default().to_string();
            (name, (replicas, revision))
        })
        .collect()
}

async fn set_image(cluster: &Cluster, name: &str, image: &str) {
    let patch = json!({"spec": {"template": {"spec": {"containers": [{"name": "c", "image": image}]}}}});
    cluster.merge_patch(&format!("/apis/apps/v1/namespaces/{NS}/deployments/{name}"), &patch).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replica_sets_scale_adopt_and_release() {
    let cluster = Arc::new(Cluster::start());
    let _manager = cluster.controller_manager(&["--controllers=replicaset"]);
    cluster.namespace(NS).await;
    let set = json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "web", "namespace": NS},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "busybox:local"}]}}}});
    let created = cluster.create(&format!("/apis/apps/v1/namespaces/{NS}/replicasets"), &set).await;
    let uid = created["metadata"]["uid"].clone();
    let owned = |count: usize| {
        let cluster = cluster.clone();
        let uid = uid.clone();
        async move {
            cluster
                .wait_for(&format!("{count} pods owned by the set"), Duration::from_secs(20), || async {
                    let pods = cluster.items(&format!("/api/v1/namespaces/{NS}/pods")).await;
                    let live: Vec<&Value> = pods.iter().filter(|pod| pod["metadata"]["deletionTimestamp"].is_null()).collect();
                    let all_owned = live.iter().all(|pod| pod["metadata"]["ownerReferences"][0]["uid"] == uid && pod["metadata"]["ownerReferences"][0]["controller"] == true);
                    if live.len() == count && all_owned { Ok(live.iter().map(|pod| pod["metadata"]["name"].as_str().unwrap_or_default().to_string()).collect::<Vec<_>>()) } else { Err(format!("{pods:?}")) }
                })
                .await
        }
    };
    let names = owned(3).await;
    assert!(names.iter().all(|name| name.starts_with("web-")), "{names:?}");

    // Scaling down keeps the ready pod and removes the not-ready ones first.
    cluster.run_pod(NS, &names[1], "node-1", "10.244.0.5", true).await;
    cluster.merge_patch(&format!("/apis/apps/v1/namespaces/{NS}/replicasets/web"), &json!({"spec": {"replicas": 1}})).await;
    let kept = owned(1).await;
    assert_eq!(kept, [names[1].clone()]);
    let status = cluster
        .wait_for("status", Duration::from_secs(20), || async {
            let set = cluster.get(&format!("/apis/apps/v1/namespaces/{NS}/replicasets/web")).await;
            if set["status"]["replicas"] == 1 && set["status"]["readyReplicas"] == 1 { Ok(set["status"].clone()) } else { Err(set["status"].to_string()) }
        })
        .await;
    assert_eq!(status["availableReplicas"], 1);
    assert_eq!(status["fullyLabeledReplicas"], 1);

    // An orphan with matching labels is adopted by a new set rather than one pod more created.
    let orphan = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "orphan", "labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "busybox:local"}]}});
    cluster.delete(&format!("/apis/apps/v1/namespaces/{NS}/replicasets/web"), &json!({"propagationPolicy": "Orphan"})).await;
    cluster.delete(&format!("/api/v1/namespaces/{NS}/pods/{}", names[1]), &json!({"gracePeriodSeconds": 0})).await;
    cluster.create(&format!("/api/v1/namespaces/{NS}/pods"), &orphan).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut again = set.clone();
    again["spec"]["replicas"] = json!(2);
    // (The first set waits for the garbage collector, which is not running, to drop its
    // orphan finalizer; it does not adopt anything while it is being deleted.)
    again["metadata"]["name"] = json!("web2");
    let created = cluster.create(&format!("/apis/apps/v1/namespaces/{NS}/replicasets"), &again).await;
    let uid = created["metadata"]["uid"].clone();
    let owned = |count: usize| {
        let cluster = cluster.clone();
        let uid = uid.clone();
        async move {
            cluster
                .wait_for(&format!("{count} pods owned by the new set"), Duration::from_secs(20), || async {
                    let pods = cluster.items(&format!("/api/v1/namespaces/{NS}/pods")).await;
                    let live: Vec<&Value> =
                        pods.iter().filter(|pod| pod["metadata"]["deletionTimestamp"].is_null() && pod["metadata"]["labels"]["app"] == "web").collect();
                    let all_owned = live.iter().all(|pod| pod["metadata"]["ownerReferences"][0]["uid"] == uid);
                    if live.len() == count && all_owned { Ok(live.iter().map(|pod| pod["metadata"]["name"].as_str().unwrap_or_default().to_string()).collect::<Vec<_>>()) } else { Err(format!("{pods:?}")) }
                })
                .await
        }
    };
    let two = owned(2).await;
    assert!(two.contains(&"orphan".to_string()), "the orphan was adopted instead of creating a pod: {two:?}");

    // A pod relabelled out of the selector is released, and replaced.
    cluster.merge_patch(&format!("/api/v1/namespaces/{NS}/pods/orphan"), &json!({"metadata": {"labels": {"app": "debug"}}})).await;
    let after = owned(2).await;
    assert!(after.iter().all(|name| name.starts_with("web2-") || name == "orphan"), "{after:?}");
    assert!(!after.contains(&"orphan".to_string()));
    let released = cluster.get(&format!("/api/v1/namespaces/{NS}/pods/orphan")).await;
    assert!(released["metadata"]["ownerReferences"].as_array().is_none_or(|owners| owners.is_empty()), "{released}");

    let events = cluster.items(&format!("/api/v1/namespaces/{NS}/events")).await;
    let reasons: BTreeSet<&str> = events.iter().filter_map(|event| event["reason"].as_str()).collect();
    assert!(reasons.contains("SuccessfulCreate") && reasons.contains("SuccessfulDelete"), "{reasons:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replication_controllers_keep_their_pods_and_take_them_along_when_deleted() {
    let cluster = Arc::new(Cluster::start());
    let _manager = cluster.controller_manager(&["--controllers=replicationcontroller,garbagecollector"]);
    cluster.namespace(NS).await;
    let _node = FakeNode::start(&cluster);
    let controllers = format!("/api/v1/namespaces/{NS}/replicationcontrollers");
    // An orphan the selector matches is adopted rather than one pod more created.
    let orphan = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "orphan", "labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "busybox:local"}]}});
    cluster.create(&format!("/api/v1/namespaces/{NS}/pods"), &orphan).await;
    let controller = json!({"apiVersion": "v1", "kind": "ReplicationController", "metadata": {"name": "web"},
        "spec": {"replicas": 3, "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "busybox:local"}]}}}});
    let created = cluster.create(&controllers, &controller).await;
    let uid = created["metadata"]["uid"].clone();
    let expected_owner = json!([{"apiVersion": "v1", "kind": "ReplicationController", "name": "web", "uid": uid, "controller": true, "blockOwnerDeletion": true}]);
    let owned = |count: usize| {
        let (cluster, expected_owner) = (cluster.clone(), expected_owner.clone());
        async move {
            cluster
                .wait_for(&format!("{count} pods owned by the replication controller"), Duration::from_secs(20), || async {
                    let pods = cluster.items(&format!("/api/v1/namespaces/{NS}/pods")).await;
                    let live: Vec<&Value> = pods.iter().filter(|pod| pod["metadata"]["deletionTimestamp"].is_null()).collect();
                    let all_owned = live.iter().all(|pod| pod["metadata"]["ownerReferences"] == expected_owner);
                    let names: Vec<String> = live.iter().map(|pod| pod["metadata"]["name"].as_str().unwrap_or_default().to_string()).collect();
                    if live.len() == count && all_owned { Ok(names) } else { Err(format!("{pods:?}")) }
                })
                .await
        }
    };
    let status_reaches = |replicas: i64| {
        let cluster = cluster.clone();
        let path = format!("{controllers}/web");
        async move {
            cluster
                .wait_for(&format!("status of {replicas} ready replicas"), Duration::from_secs(20), || async {
                    let controller = cluster.get(&path).await;
                    let status = &controller["status"];
                    let counted = ["replicas", "fullyLabeledReplicas", "readyReplicas", "availableReplicas"].iter().all(|field| status[field] == replicas);
                    if counted && status["observedGeneration"] == controller["metadata"]["generation"] { Ok(()) } else { Err(controller.to_string()) }
                })
                .await
        }
    };
    let three = owned(3).await;
    assert!(three.contains(&"orphan".to_string()), "the orphan was not adopted: {three:?}");
    assert_eq!(three.iter().filter(|name| name.starts_with("web-")).count(), 2, "{three:?}");
    status_reaches(3).await;

    // Scaled through its scale subresource, as `kubectl scale` and the HPA do: two pods go.
    let scale = cluster.merge_patch(&format!("{controllers}/web/scale"), &json!({"spec": {"replicas": 1}})).await;
    assert_eq!(scale["status"]["selector"], "app=web", "{scale}");
    let one = owned(1).await;
    assert!(three.contains(&one[0]), "a pod was replaced rather than kept: {three:?} then {one:?}");
    status_reaches(1).await;
    let events = cluster.items(&format!("/api/v1/namespaces/{NS}/events")).await;
    let reasons: BTreeSet<&str> = events.iter().filter(|event| event["involvedObject"]["kind"] == "ReplicationController").filter_map(|event| event["reason"].as_str()).collect();
    assert!(reasons.contains("SuccessfulCreate") && reasons.contains("SuccessfulDelete"), "{reasons:?}");

    // Deleted in the background, it goes at once and the garbage collector takes its pods.
    let (code, deleted) = cluster.delete(&format!("{controllers}/web"), &json!({"propagationPolicy": "Background"})).await;
    assert_eq!(code, 200, "{deleted}");
    cluster
        .wait_for("the replication controller and its pods to be gone", Duration::from_secs(30), || async {
            let left = cluster.get_opt(&format!("{controllers}/web")).await;
            let pods = cluster.items(&format!("/api/v1/namespaces/{NS}/pods")).await;
            if left.is_none() && pods.is_empty() { Ok(()) } else { Err(format!("{left:?} {pods:?}")) }
        })
        .await;

    // In the foreground the pods go first; orphaned, they stay without an owner.
    for (name, policy) in [("front", "Foreground"), ("kept", "Orphan")] {
        let mut body = controller.clone();
        body["metadata"]["name"] = json!(name);
        body["spec"]["replicas"] = json!(2);
        body["spec"]["template"]["metadata"]["labels"] = json!({"app": name});
        let uid = cluster.create(&controllers, &body).await["metadata"]["uid"].clone();
        let pods_of = |owned_by: Option<Value>| {
            let cluster = cluster.clone();
            async move {
                let pods = cluster.items(&format!("/api/v1/namespaces/{NS}/pods?labelSelector=app%3D{name}")).await;
                let live = pods.iter().filter(|pod| pod["metadata"]["deletionTimestamp"].is_null());
                let owners_match = |pod: &&Value| match &owned_by {
                    Some(uid) => pod["metadata"]["ownerReferences"][0]["uid"] == *uid,
                    None => pod["metadata"]["ownerReferences"].as_array().is_none_or(Vec::is_empty),
                };
                (live.clone().count(), live.filter(owners_match).count(), pods.len())
            }
        };
        cluster
            .wait_for(&format!("2 pods of {name}"), Duration::from_secs(20), || async {
                let (live, owned, _) = pods_of(Some(uid.clone())).await;
                if (live, owned) == (2, 2) { Ok(()) } else { Err(format!("{live} live, {owned} owned")) }
            })
            .await;
        let (code, answer) = cluster.delete(&format!("{controllers}/{name}"), &json!({"propagationPolicy": policy})).await;
        assert_eq!(code, 200, "{policy}: {answer}");
        let expected_pods = if policy == "Orphan" { 2 } else { 0 };
        cluster
            .wait_for(&format!("{name}, deleted with {policy}, gone and {expected_pods} pods left without an owner"), Duration::from_secs(30), || async {
                let left = cluster.get_opt(&format!("{controllers}/{name}")).await;
                let (live, unowned, all) = pods_of(None).await;
                if left.is_none() && (live, unowned, all) == (expected_pods, expected_pods, expected_pods) { Ok(()) } else { Err(format!("{left:?}: {live} live, {unowned} without owner, {all} in all")) }
            })
            .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolling_update_stays_within_surge_and_unavailability_then_rolls_back() {
    let cluster = Arc::new(Cluster::start());
    let _manager = cluster.controller_manager(&["--controllers=replicaset,deployment"]);
    cluster.namespace(NS).await;
    let _node = FakeNode::start(&cluster);
    let strategy = json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 1}});
    cluster.create(&format!("/apis/apps/v1/namespaces/{NS}/deployments"), &deployment("web", 4, "busybox:1", strategy)).await;
    wait_rolled_out(&cluster, "web", 4, "busybox:1").await;

    set_image(&cluster, "web", "busybox:2").await;
    // Watch every step: never more than 4 + 1 pods, never fewer than 4 - 1 ready.
    cluster
        .wait_for("the rollout to busybox:2", Duration::from_secs(30), || {
            let cluster = cluster.clone();
            async move {
                let pods = live_pods(&cluster).await;
                let ready = pods.iter().filter(|(_, _, ready)| *ready).count();
                assert!(pods.len() <= 5, "more than replicas + maxSurge: {pods:?}");
                assert!(ready >= 3, "fewer than replicas - maxUnavailable ready: {pods:?}");
                let new = pods.iter().filter(|(_, image, _)| image == "busybox:2").count();
                if new == 4 && pods.len() == 4 && pods.iter().all(|(_, _, ready)| *ready) { Ok(()) } else { Err(format!("{pods:?}")) }
            }
        })
        .await;
    wait_rolled_out(&cluster, "web", 4, "busybox:2").await;
    let sets = replica_sets(&cluster).await;
    assert_eq!(sets.len(), 2, "{sets:?}");
    let revisions: BTreeSet<(i64, String)> = sets.values().cloned().collect();
    assert_eq!(revisions, BTreeSet::from([(0, "1".to_string()), (4, "2".to_string())]));
    let deployment_now = cluster.get(&format!("/apis/apps/v1/namespaces/{NS}/deployments/web")).await;
    let conditions = deployment_now["status"]["conditions"].as_array().cloned().unwrap_or_default();
    let reason = |type_: &str| conditions.iter().find(|c| c["type"] == type_).and_then(|c| c["reason"].as_str().map(str::to_string));
    assert_eq!(reason("Available").as_deref(), Some("MinimumReplicasAvailable"));
    assert_eq!(reason("Progressing").as_deref(), Some("NewReplicaSetAvailable"));

    // kubectl's rollout undo brings the first template back, in its own set, as revision 3.
    let kubeconfig = format!("--kubeconfig={}", cluster.server.kubeconfig().display());
    let undo = std::process::Command::new("kubectl").args([&kubeconfig, "-n", NS, "rollout", "undo", "deployment/web"]).output().unwrap();
    assert!(undo.status.success(), "{undo:?}");
    wait_rolled_out(&cluster, "web", 4, "busybox:1").await;
    let sets = replica_sets(&cluster).await;
    let revisions: BTreeSet<(i64, String)> = sets.values().cloned().collect();
    assert_eq!(revisions, BTreeSet::from([(4, "3".to_string()), (0, "2".to_string())]), "{sets:?}");
    let status = std::process::Command::new("kubectl").args([&kubeconfig, "-n", NS, "rollout", "status", "deployment/web", "--timeout=20s"]).output().unwrap();
    assert!(String::from_utf8_lossy(&status.stdout).contains("successfully rolled out"), "{status:?}");

    // Idle, it writes nothing.
    let before = cluster.get(&format!("/apis/apps/v1/namespaces/{NS}/deployments/web")).await["metadata"]["resourceVersion"].clone();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = cluster.get(&format!("/apis/apps/v1/namespaces/{NS}/deployments/web")).await["metadata"]["resourceVersion"].clone();
    assert_eq!(before, after);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recreate_pause_scale_and_history_limit() {
    let cluster = Arc::new(Cluster::start());
    let _manager = cluster.controller_manager(&["--controllers=replicaset,deployment"]);
    cluster.namespace(NS).await;
    let _node = FakeNode::start(&cluster);
    let mut body = deployment("db", 3, "busybox:1", json!({"type": "Recreate"}));
    body["spec"]["revisionHistoryLimit"] = json!(1);
    cluster.create(&format!("/apis/apps/v1/namespaces/{NS}/deployments"), &body).await;
    wait_rolled_out(&cluster, "db", 3, "busybox:1").await;

    set_image(&cluster, "db", "busybox:2").await;
    cluster
        .wait_for("the recreate to busybox:2", Duration::from_secs(30), || {
            let cluster = cluster.clone();
            async move {
                let pods = live_pods(&cluster).await;
                let images: BTreeSet<&str> = pods.iter().map(|(_, image, _)| image.as_str()).collect();
                assert!(images.len() <= 1, "old and new pods at once: {pods:?}");
                if pods.len() == 3 && images.contains("busybox:2") { Ok(()) } else { Err(format!("{pods:?}")) }
            }
        })
        .await;
    wait_rolled_out(&cluster, "db", 3, "busybox:2").await;

    // Paused: a template change waits; scaling still works through the set on resume.
    cluster.merge_patch(&format!("/apis/apps/v1/namespaces/{NS}/deployments/db"), &json!({"spec": {"paused": true}})).await;
    set_image(&cluster, "db", "busybox:3").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(replica_sets(&cluster).await.len(), 2, "no new set while paused");
    assert!(live_pods(&cluster).await.iter().all(|(_, image, _)| image == "busybox:2"));
    cluster.merge_patch(&format!("/apis/apps/v1/namespaces/{NS}/deployments/db"), &json!({"spec": {"paused": false, "replicas": 2}})).await;
    wait_rolled_out(&cluster, "db", 2, "busybox:3").await;

    // History: the current set and one old one.
    cluster
        .wait_for("history trimmed to one old set", Duration::from_secs(20), || async {
            let sets = replica_sets(&cluster).await;
            let revisions: BTreeSet<String> = sets.values().map(|(_, revision)| revision.clone()).collect();
            if revisions == BTreeSet::from(["2".to_string(), "3".to_string()]) { Ok(()) } else { Err(format!("{sets:?}")) }
        })
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_controller_manager_killed_mid_rollout_converges_to_the_same_end() {
    let cluster = Arc::new(Cluster::start());
    let mut manager = cluster.controller_manager(&["--controllers=replicaset,deployment"]);
    cluster.namespace(NS).await;
    let _node = FakeNode::start(&cluster);
    let strategy = json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 2, "maxUnavailable": 0}});
    cluster.create(&format!("/apis/apps/v1/namespaces/{NS}/deployments"), &deployment("api", 6, "busybox:1", strategy)).await;
    wait_rolled_out(&cluster, "api", 6, "busybox:1").await;

    set_image(&cluster, "api", "busybox:2").await;
    cluster
        .wait_for("the rollout to have started", Duration::from_secs(20), || async {
            let pods = live_pods(&cluster).await;
            if pods.iter().any(|(_, image, _)| image == "busybox:2") { Ok(()) } else { Err(format!("{pods:?}")) }
        })
        .await;
    manager.kill();
    tokio::time::sleep(Duration::from_millis(500)).await;
    manager.start_again().unwrap();
    wait_rolled_out(&cluster, "api", 6, "busybox:2").await;

    // The same end as an uninterrupted rollout: six new pods, two sets, nothing extra.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let pods = cluster.items(&format!("/api/v1/namespaces/{NS}/pods")).await;
    assert_eq!(pods.len(), 6, "{pods:?}");
    let sets = replica_sets(&cluster).await;
    let replicas: BTreeSet<(i64, String)> = sets.values().cloned().collect();
    assert_eq!(replicas, BTreeSet::from([(0, "1".to_string()), (6, "2".to_string())]), "{sets:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollout_that_makes_no_progress_says_so_after_its_deadline() {
    let cluster = Arc::new(Cluster::start());
    let _manager = cluster.controller_manager(&["--controllers=replicaset,deployment"]);
    cluster.namespace(NS).await;
    // No node runs the pods: they never become ready.
    let mut body = deployment("stuck", 2, "busybox:1", json!({"type": "RollingUpdate"}));
    body["spec"]["progressDeadlineSeconds"] = json!(2);
    cluster.create(&format!("/apis/apps/v1/namespaces/{NS}/deployments"), &body).await;
    let conditions = cluster
        .wait_for("the deadline to pass", Duration::from_secs(20), || async {
            let deployment = cluster.get(&format!("/apis/apps/v1/namespaces/{NS}/deployments/stuck")).await;
            let conditions = deployment["status"]["conditions"].as_array().cloned().unwrap_or_default();
            let exceeded = conditions.iter().any(|c| c["type"] == "Progressing" && c["status"] == "False" && c["reason"] == "ProgressDeadlineExceeded");
            if exceeded { Ok(conditions) } else { Err(format!("{conditions:?}")) }
        })
        .await;
    let available = conditions.iter().find(|c| c["type"] == "Available").cloned().unwrap_or_default();
    assert_eq!((available["status"].as_str(), available["reason"].as_str()), (Some("False"), Some("MinimumReplicasUnavailable")), "{conditions:?}");
    let status = std::process::Command::new("kubectl")
        .args([&format!("--kubeconfig={}", cluster.server.kubeconfig().display()), "-n", NS, "rollout", "status", "deployment/stuck", "--timeout=5s"])
        .output()
        .unwrap();
    assert!(!status.status.success());
    assert!(String::from_utf8_lossy(&status.stderr).contains("exceeded its progress deadline"), "{status:?}");
}
