//! The StatefulSet controller, in the real controller-manager binary against the real apiserver.
//! No kubelet or scheduler runs: a task in the test plays both, binding each new pod and making
//! it Running, then Ready a moment later, and finishing the deletion of pods marked for deletion
//! a moment after they are marked. The moments leave the controller room to get the order wrong,
//! and every wait checks the order at each look.

mod support;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::Cluster;

const NS: &str = "stateful";
const SETS: &str = "/apis/apps/v1/namespaces/stateful/statefulsets";
const PODS: &str = "/api/v1/namespaces/stateful/pods";
const WAIT: Duration = Duration::from_secs(40);

/// Plays kubelet and scheduler for the namespace until dropped: a new pod is bound and Running
/// at once and Ready after `delay`; a pod marked for deletion is removed after `delay`.
struct FakeNode {
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl FakeNode {
    fn start(cluster: &Arc<Cluster>, delay: Duration) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let (cluster, flag) = (cluster.clone(), stop.clone());
        let task = tokio::spawn(async move {
            let mut next_ip = 10u32;
            // First seen Running-not-ready, or first seen terminating, by uid.
            let mut since: HashMap<String, Instant> = HashMap::new();
            while !flag.load(Ordering::Relaxed) {
                for pod in cluster.items(PODS).await {
                    let name = pod["metadata"]["name"].as_str().unwrap_or_default().to_string();
                    let uid = pod["metadata"]["uid"].as_str().unwrap_or_default().to_string();
                    let mut seen = |state: &str| since.entry(format!("{uid}/{state}")).or_insert_with(Instant::now).elapsed();
                    if pod["metadata"]["deletionTimestamp"].is_string() {
                        if seen("terminating") >= delay {
                            cluster.delete(&format!("{PODS}/{name}"), &json!({"gracePeriodSeconds": 0})).await;
                        }
                    } else if pod["status"]["phase"] == "Pending" {
                        next_ip += 1;
                        bring_up(&cluster, &pod, &format!("10.244.0.{}", next_ip % 250 + 2), false).await;
                    } else if pod["status"]["phase"] == "Running" && !is_ready(&pod) && seen("running") >= delay {
                        bring_up(&cluster, &pod, pod["status"]["podIP"].as_str().unwrap_or("10.244.0.2"), true).await;
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

/// Binds the pod (if unbound) and writes its status, ignoring a pod that went meanwhile.
async fn bring_up(cluster: &Cluster, pod: &Value, ip: &str, ready: bool) {
    let name = pod["metadata"]["name"].as_str().unwrap_or_default();
    if pod["spec"]["nodeName"].is_null() {
        let binding = json!({"apiVersion": "v1", "kind": "Binding", "metadata": {"name": name}, "target": {"apiVersion": "v1", "kind": "Node", "name": "node-1"}});
        let (code, _) = cluster.send(reqwest::Method::POST, &format!("{PODS}/{name}/binding"), "application/json", Some(&binding)).await;
        if code != 201 {
            return;
        }
    }
    let status = if ready { "True" } else { "False" };
    let now = jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
    let patch = json!({"status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}], "hostIP": "172.18.0.2", "startTime": now,
        "conditions": [{"type": "Ready", "status": status, "lastTransitionTime": now}, {"type": "ContainersReady", "status": status, "lastTransitionTime": now}]}});
    cluster.send(reqwest::Method::PATCH, &format!("{PODS}/{name}/status"), "application/merge-patch+json", Some(&patch)).await;
}

/// A sync that fails is retried, so a test could pass over one: none should have failed (a
/// repeated create, a stale cache or a conflict are all answers the controller expects).
fn no_failed_syncs(manager: &common::testing::Component) {
    let log = manager.log();
    let failed: Vec<&str> = log.lines().filter(|line| line.contains("reconcile failed")).collect();
    assert!(failed.is_empty(), "{failed:#?}");
}

fn is_ready(pod: &Value) -> bool {
    pod["status"]["conditions"].as_array().is_some_and(|conditions| conditions.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"))
}

fn terminating(pod: &Value) -> bool {
    pod["metadata"]["deletionTimestamp"].is_string()
}

fn statefulset(name: &str, replicas: i32, image: &str, extra: Value) -> Value {
    let mut body = json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": name, "namespace": NS},
        "spec": {"replicas": replicas, "serviceName": name, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": "c", "image": image}]}}}});
    if let (Some(spec), Value::Object(extra)) = (body["spec"].as_object_mut(), extra) {
        spec.extend(extra);
    }
    body
}

/// The namespace's pods by name.
async fn pods(cluster: &Cluster) -> BTreeMap<String, Value> {
    cluster.items(PODS).await.into_iter().map(|pod| (pod["metadata"]["name"].as_str().unwrap_or_default().to_string(), pod)).collect()
}

async fn set_image(cluster: &Cluster, name: &str, image: &str) {
    let patch = json!({"spec": {"template": {"spec": {"containers": [{"name": "c", "image": image}]}}}});
    cluster.merge_patch(&format!("{SETS}/{name}"), &patch).await;
}

fn image(pod: &Value) -> &str {
    pod["spec"]["containers"][0]["image"].as_str().unwrap_or_default()
}

fn revision(pod: &Value) -> &str {
    pod["metadata"]["labels"]["controller-revision-hash"].as_str().unwrap_or_default()
}

/// Waits until the set has `replicas` pods `<name>-0..`, all Ready at `image`, and a status that
/// says so with the rollout complete (`kubectl rollout status` reads these fields); returns the
/// pods and the status.
async fn wait_rolled_out(cluster: &Cluster, name: &str, replicas: usize, image_wanted: &str) -> (BTreeMap<String, Value>, Value) {
    cluster
        .wait_for(&format!("{name} rolled out to {image_wanted}"), WAIT, || async {
            let pods = pods(cluster).await;
            let set = cluster.get(&format!("{SETS}/{name}")).await;
            let status = &set["status"];
            let done = pods.len() == replicas
                && (0..replicas).all(|ordinal| pods.get(&format!("{name}-{ordinal}")).is_some_and(|pod| is_ready(pod) && !terminating(pod) && image(pod) == image_wanted))
                && status["observedGeneration"] == set["metadata"]["generation"]
                && [&status["replicas"], &status["readyReplicas"], &status["availableReplicas"], &status["currentReplicas"], &status["updatedReplicas"]].iter().all(|n| **n == replicas)
                && status["currentRevision"].is_string()
                && status["currentRevision"] == status["updateRevision"];
            if done { Ok((pods, status.clone())) } else { Err(format!("{:?} {status}", pods.iter().map(|(n, p)| (n, image(p), is_ready(p), terminating(p))).collect::<Vec<_>>())) }
        })
        .await
}

/// The set's events with `reason`, oldest first, as (message, count).
async fn events(cluster: &Cluster, set: &str, reason: &str) -> Vec<(String, String)> {
    let mut found: Vec<(String, String, String)> = cluster
        .items(&format!("/api/v1/namespaces/{NS}/events"))
        .await
        .into_iter()
        .filter(|event| event["involvedObject"]["kind"] == "StatefulSet" && event["involvedObject"]["name"] == set && event["reason"] == reason)
        .map(|event| {
            let at = event["eventTime"].as_str().or(event["firstTimestamp"].as_str()).unwrap_or_default().parse::<jiff::Timestamp>().map(|t| t.as_nanosecond()).unwrap_or(0);
            (format!("{at:020}"), event["message"].as_str().unwrap_or_default().to_string(), event["type"].as_str().unwrap_or_default().to_string())
        })
        .collect();
    found.sort();
    found.into_iter().map(|(_, message, kind)| (message, kind)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ordered_ready_creates_in_order_replaces_a_deleted_pod_and_scales_down_from_the_top() {
    let cluster = Arc::new(Cluster::start());
    let manager = cluster.controller_manager(&["--controllers=statefulset"]);
    cluster.namespace(NS).await;
    let _node = FakeNode::start(&cluster, Duration::from_millis(800));
    let created = cluster.create(SETS, &statefulset("web", 3, "busybox:1", json!({}))).await;
    let uid = created["metadata"]["uid"].clone();

    // web-k appears only once web-(k-1) is Running and Ready: checked at every look.
    cluster
        .wait_for("web-0, web-1 and web-2 in order", WAIT, || {
            let cluster = cluster.clone();
            async move {
                let pods = pods(&cluster).await;
                for ordinal in 1..3 {
                    if pods.contains_key(&format!("web-{ordinal}")) {
                        let below = pods.get(&format!("web-{}", ordinal - 1));
                        assert!(below.is_some_and(is_ready), "web-{ordinal} exists while web-{} is not Ready: {pods:?}", ordinal - 1);
                    }
                }
                if pods.len() == 3 && pods.values().all(is_ready) { Ok(()) } else { Err(format!("{:?}", pods.keys())) }
            }
        })
        .await;
    let (pods_now, status) = wait_rolled_out(&cluster, "web", 3, "busybox:1").await;
    let revision_name = status["updateRevision"].as_str().unwrap_or_default().to_string();
    assert!(revision_name.starts_with("web-"), "{status}");
    for (ordinal, (name, pod)) in pods_now.iter().enumerate() {
        assert_eq!(name, &format!("web-{ordinal}"));
        let labels = &pod["metadata"]["labels"];
        assert_eq!(labels["app"], "web", "{pod}");
        assert_eq!(labels["controller-revision-hash"], revision_name.as_str(), "{pod}");
        assert_eq!(labels["statefulset.kubernetes.io/pod-name"], name.as_str(), "{pod}");
        assert_eq!(labels["apps.kubernetes.io/pod-index"], ordinal.to_string(), "{pod}");
        assert_eq!(pod["spec"]["hostname"], name.as_str(), "{pod}");
        assert_eq!(pod["spec"]["subdomain"], "web", "{pod}");
        let owner = &pod["metadata"]["ownerReferences"][0];
        assert_eq!((&owner["kind"], &owner["uid"], &owner["controller"]), (&json!("StatefulSet"), &uid, &json!(true)), "{pod}");
    }
    // The template's revision, owned by the set, its data the patch that restores the template.
    let revision = cluster.get(&format!("/apis/apps/v1/namespaces/{NS}/controllerrevisions/{revision_name}")).await;
    assert_eq!(revision["revision"], 1, "{revision}");
    assert_eq!(revision["metadata"]["ownerReferences"][0]["uid"], uid, "{revision}");
    assert_eq!(revision["data"]["spec"]["template"]["$patch"], "replace", "{revision}");
    let created_events = events(&cluster, "web", "SuccessfulCreate").await;
    let expected: Vec<(String, String)> = (0..3).map(|ordinal| (format!("create Pod web-{ordinal} in StatefulSet web successful"), "Normal".to_string())).collect();
    assert_eq!(created_events, expected);

    // A deleted pod comes back under its name, a new pod.
    let old_uid = pods_now["web-0"]["metadata"]["uid"].clone();
    let (code, answer) = cluster.delete(&format!("{PODS}/web-0"), &json!({})).await;
    assert_eq!(code, 200, "{answer}");
    cluster
        .wait_for("web-0 back, a new pod", WAIT, || async {
            let pods = pods(&cluster).await;
            match pods.get("web-0") {
                Some(pod) if pod["metadata"]["uid"] != old_uid && is_ready(pod) => Ok(()),
                other => Err(format!("{other:?}")),
            }
        })
        .await;
    wait_rolled_out(&cluster, "web", 3, "busybox:1").await;

    // Scaled to one: web-2 goes first, and web-1 only once web-2 is gone.
    cluster.merge_patch(&format!("{SETS}/web"), &json!({"spec": {"replicas": 1}})).await;
    cluster
        .wait_for("web-2 then web-1 gone", WAIT, || {
            let cluster = cluster.clone();
            async move {
                let pods = pods(&cluster).await;
                let web1_going = pods.get("web-1").is_none_or(terminating);
                assert!(!web1_going || !pods.contains_key("web-2"), "web-1 goes while web-2 is still there: {:?}", pods.iter().map(|(n, p)| (n, terminating(p))).collect::<Vec<_>>());
                if pods.keys().eq(["web-0"]) { Ok(()) } else { Err(format!("{:?}", pods.keys())) }
            }
        })
        .await;
    wait_rolled_out(&cluster, "web", 1, "busybox:1").await;
    let deleted = events(&cluster, "web", "SuccessfulDelete").await;
    let messages: Vec<&str> = deleted.iter().map(|(message, _)| message.as_str()).collect();
    assert_eq!(messages, ["delete Pod web-2 in StatefulSet web successful", "delete Pod web-1 in StatefulSet web successful"]);

    // Idle, it writes nothing.
    let before = cluster.get(&format!("{SETS}/web")).await["metadata"]["resourceVersion"].clone();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = cluster.get(&format!("{SETS}/web")).await["metadata"]["resourceVersion"].clone();
    assert_eq!(before, after);
    no_failed_syncs(&manager);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_creates_and_deletes_all_at_once() {
    let cluster = Arc::new(Cluster::start());
    let _manager = cluster.controller_manager(&["--controllers=statefulset"]);
    cluster.namespace(NS).await;
    // No node runs the pods: none becomes Ready, which would hold OrderedReady at web-0.
    cluster.create(SETS, &statefulset("web", 3, "busybox:1", json!({"podManagementPolicy": "Parallel"}))).await;
    cluster
        .wait_for("three pods at once", WAIT, || async {
            let pods = pods(&cluster).await;
            let set = cluster.get(&format!("{SETS}/web")).await;
            if pods.keys().eq(["web-0", "web-1", "web-2"]) && set["status"]["replicas"] == 3 && set["status"]["readyReplicas"] == 0 {
                Ok(())
            } else {
                Err(format!("{:?} {}", pods.keys(), set["status"]))
            }
        })
        .await;
    cluster.merge_patch(&format!("{SETS}/web"), &json!({"spec": {"replicas": 0}})).await;
    cluster
        .wait_for("every pod gone", WAIT, || async {
            let pods = pods(&cluster).await;
            let set = cluster.get(&format!("{SETS}/web")).await;
            if pods.is_empty() && set["status"]["replicas"] == 0 { Ok(()) } else { Err(format!("{:?} {}", pods.keys(), set["status"])) }
        })
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolling_update_goes_from_the_top_stops_at_the_partition_and_completes() {
    let cluster = Arc::new(Cluster::start());
    let manager = cluster.controller_manager(&["--controllers=statefulset"]);
    cluster.namespace(NS).await;
    let _node = FakeNode::start(&cluster, Duration::from_millis(500));
    cluster.create(SETS, &statefulset("db", 3, "busybox:1", json!({}))).await;
    let (before, status) = wait_rolled_out(&cluster, "db", 3, "busybox:1").await;
    let first_revision = status["currentRevision"].as_str().unwrap_or_default().to_string();

    // Partition 1: db-2 then db-1 move to the new template, one at a time; db-0 stays.
    cluster.merge_patch(&format!("{SETS}/db"), &json!({"spec": {"updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 1}}}})).await;
    set_image(&cluster, "db", "busybox:2").await;
    let (updated, status) = cluster
        .wait_for("db-2 and db-1 updated", WAIT, || {
            let cluster = cluster.clone();
            async move {
                let pods = pods(&cluster).await;
                let not_ready = pods.values().filter(|pod| !is_ready(pod) || terminating(pod)).count();
                assert!(not_ready <= 1, "more than one pod down at once: {pods:?}");
                if pods.get("db-1").is_some_and(|db1| image(db1) == "busybox:2") {
                    assert!(pods.get("db-2").is_some_and(|db2| image(db2) == "busybox:2" && is_ready(db2)), "db-1 updated before db-2 was back: {pods:?}");
                }
                let set = cluster.get(&format!("{SETS}/db")).await;
                let status = set["status"].clone();
                let done = ["db-1", "db-2"].iter().all(|name| pods.get(*name).is_some_and(|pod| image(pod) == "busybox:2" && is_ready(pod)))
                    && status["updatedReplicas"] == 2
                    && status["currentReplicas"] == 1
                    && status["readyReplicas"] == 3
                    && status["observedGeneration"] == set["metadata"]["generation"];
                if done { Ok((pods, status)) } else { Err(format!("{status}")) }
            }
        })
        .await;
    let update_revision = status["updateRevision"].as_str().unwrap_or_default().to_string();
    assert_ne!(update_revision, first_revision);
    assert_eq!(status["currentRevision"], first_revision.as_str(), "not complete below the partition: {status}");
    assert_eq!(updated["db-0"]["metadata"]["uid"], before["db-0"]["metadata"]["uid"], "db-0 is below the partition");
    assert_eq!(revision(&updated["db-0"]), first_revision);
    assert_eq!(revision(&updated["db-2"]), update_revision);

    // Below the partition a deleted pod comes back from the current revision.
    cluster.delete(&format!("{PODS}/db-0"), &json!({})).await;
    cluster
        .wait_for("db-0 back at the current revision", WAIT, || async {
            let pods = pods(&cluster).await;
            match pods.get("db-0") {
                Some(pod) if pod["metadata"]["uid"] != before["db-0"]["metadata"]["uid"] && is_ready(pod) => {
                    assert_eq!((image(pod), revision(pod)), ("busybox:1", first_revision.as_str()), "{pod}");
                    Ok(())
                }
                other => Err(format!("{other:?}")),
            }
        })
        .await;

    // Partition 0: db-0 follows, and the update revision becomes the current one.
    cluster.merge_patch(&format!("{SETS}/db"), &json!({"spec": {"updateStrategy": {"rollingUpdate": {"partition": 0}}}})).await;
    let (_, status) = wait_rolled_out(&cluster, "db", 3, "busybox:2").await;
    assert_eq!(status["currentRevision"], update_revision.as_str(), "{status}");
    let deleted = events(&cluster, "db", "SuccessfulDelete").await;
    let messages: Vec<&str> = deleted.iter().map(|(message, _)| message.as_str()).collect();
    assert_eq!(messages, ["delete Pod db-2 in StatefulSet db successful", "delete Pod db-1 in StatefulSet db successful", "delete Pod db-0 in StatefulSet db successful"]);
    let revisions = cluster.items(&format!("/apis/apps/v1/namespaces/{NS}/controllerrevisions")).await;
    let mut numbered: Vec<(i64, String)> = revisions.iter().map(|r| (r["revision"].as_i64().unwrap_or(0), r["metadata"]["name"].as_str().unwrap_or_default().to_string())).collect();
    numbered.sort();
    assert_eq!(numbered, [(1, first_revision.clone()), (2, update_revision.clone())]);

    // kubectl reads the status as done.
    let kubeconfig = format!("--kubeconfig={}", cluster.server.kubeconfig().display());
    let rollout = std::process::Command::new("kubectl").args([&kubeconfig, "-n", NS, "rollout", "status", "statefulset/db", "--timeout=20s"]).output().unwrap();
    assert!(rollout.status.success() && String::from_utf8_lossy(&rollout.stdout).contains("roll out complete"), "{rollout:?}");

    // kubectl finds the history, and undo puts the first template back: its revision becomes the
    // newest (3) and the pods roll back to it.
    let history = std::process::Command::new("kubectl").args([&kubeconfig, "-n", NS, "rollout", "history", "statefulset/db"]).output().unwrap();
    let listed: Vec<String> = String::from_utf8_lossy(&history.stdout).lines().filter_map(|line| line.split_whitespace().next().map(str::to_string)).collect();
    assert!(history.status.success() && listed.ends_with(&["1".to_string(), "2".to_string()]), "{history:?}");
    let undo = std::process::Command::new("kubectl").args([&kubeconfig, "-n", NS, "rollout", "undo", "statefulset/db"]).output().unwrap();
    assert!(undo.status.success(), "{undo:?}");
    let (_, status) = wait_rolled_out(&cluster, "db", 3, "busybox:1").await;
    assert_eq!(status["currentRevision"], first_revision.as_str(), "the first revision is reused: {status}");
    let renumbered = cluster.get(&format!("/apis/apps/v1/namespaces/{NS}/controllerrevisions/{first_revision}")).await;
    assert_eq!(renumbered["revision"], 3, "{renumbered}");
    no_failed_syncs(&manager);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_delete_waits_for_pods_to_be_deleted() {
    let cluster = Arc::new(Cluster::start());
    let manager = cluster.controller_manager(&["--controllers=statefulset"]);
    cluster.namespace(NS).await;
    let _node = FakeNode::start(&cluster, Duration::from_millis(300));
    cluster.create(SETS, &statefulset("kv", 2, "busybox:1", json!({"updateStrategy": {"type": "OnDelete"}}))).await;
    let (before, status) = wait_rolled_out(&cluster, "kv", 2, "busybox:1").await;
    let first_revision = status["currentRevision"].clone();

    set_image(&cluster, "kv", "busybox:2").await;
    // Once the controller has seen the new template (the sync that records it is the one that
    // would delete a pod under RollingUpdate), both pods are still the old ones.
    let status = cluster
        .wait_for("the new revision seen", WAIT, || async {
            let set = cluster.get(&format!("{SETS}/kv")).await;
            let status = set["status"].clone();
            if status["observedGeneration"] == set["metadata"]["generation"] && status["updateRevision"] != first_revision { Ok(status) } else { Err(format!("{status}")) }
        })
        .await;
    assert_eq!((status["updatedReplicas"].as_i64().unwrap_or(0), &status["currentRevision"]), (0, &first_revision), "{status}");
    let pods_now = pods(&cluster).await;
    for name in ["kv-0", "kv-1"] {
        assert_eq!(pods_now[name]["metadata"]["uid"], before[name]["metadata"]["uid"], "{name} was replaced under OnDelete");
        assert!(!terminating(&pods_now[name]), "{name} is being deleted under OnDelete");
    }

    // Deleted by hand, kv-1 comes back at the update revision; kv-0 stays as it was.
    cluster.delete(&format!("{PODS}/kv-1"), &json!({})).await;
    cluster
        .wait_for("kv-1 at the new template", WAIT, || async {
            let pods = pods(&cluster).await;
            let set = cluster.get(&format!("{SETS}/kv")).await;
            let fresh = pods.get("kv-1").is_some_and(|pod| image(pod) == "busybox:2" && is_ready(pod) && revision(pod) == set["status"]["updateRevision"]);
            if fresh && set["status"]["updatedReplicas"] == 1 && set["status"]["currentReplicas"] == 1 { Ok(()) } else { Err(format!("{:?} {}", pods.get("kv-1"), set["status"])) }
        })
        .await;
    let pods_now = pods(&cluster).await;
    assert_eq!(pods_now["kv-0"]["metadata"]["uid"], before["kv-0"]["metadata"]["uid"]);
    assert_eq!(image(&pods_now["kv-0"]), "busybox:1");

    // A pod that failed is deleted and made again under its name, here from the update revision.
    cluster.merge_patch(&format!("{PODS}/kv-0/status"), &json!({"status": {"phase": "Failed"}})).await;
    cluster
        .wait_for("kv-0 made again at the new template", WAIT, || async {
            let pods = pods(&cluster).await;
            let set = cluster.get(&format!("{SETS}/kv")).await;
            let fresh = pods.get("kv-0").is_some_and(|pod| pod["metadata"]["uid"] != before["kv-0"]["metadata"]["uid"] && image(pod) == "busybox:2" && is_ready(pod));
            // OnDelete never completes a rollout: currentRevision stays, as in Kubernetes.
            if fresh && set["status"]["updatedReplicas"] == 2 && set["status"]["readyReplicas"] == 2 && set["status"]["currentRevision"] == first_revision {
                Ok(())
            } else {
                Err(format!("{:?} {}", pods.get("kv-0"), set["status"]))
            }
        })
        .await;
    let deleted = events(&cluster, "kv", "SuccessfulDelete").await;
    assert_eq!(deleted, [("delete Pod kv-0 in StatefulSet kv successful".to_string(), "Normal".to_string())]);
    no_failed_syncs(&manager);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claims_are_made_before_their_pod_and_only_for_sets_that_have_claim_templates() {
    let cluster = Arc::new(Cluster::start());
    let _manager = cluster.controller_manager(&["--controllers=statefulset"]);
    cluster.namespace(NS).await;
    let claims_served = cluster.get("/api/v1").await["resources"].as_array().is_some_and(|resources| resources.iter().any(|r| r["name"] == "persistentvolumeclaims"));
    let templates = json!({"volumeClaimTemplates": [{"metadata": {"name": "data", "labels": {"tier": "db"}},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]});
    cluster.create(SETS, &statefulset("pg", 1, "busybox:1", templates)).await;
    cluster.create(SETS, &statefulset("plain", 1, "busybox:1", json!({}))).await;
    cluster.wait_for("plain-0", WAIT, || async { if pods(&cluster).await.contains_key("plain-0") { Ok(()) } else { Err("no plain-0".into()) } }).await;

    if claims_served {
        let pod = cluster
            .wait_for("pg-0", WAIT, || async { pods(&cluster).await.remove("pg-0").ok_or_else(|| "no pg-0".to_string()) })
            .await;
        let claim = cluster.get(&format!("/api/v1/namespaces/{NS}/persistentvolumeclaims/data-pg-0")).await;
        assert_eq!(claim["metadata"]["labels"], json!({"app": "pg", "tier": "db"}), "{claim}");
        let volume = pod["spec"]["volumes"].as_array().and_then(|volumes| volumes.iter().find(|v| v["name"] == "data")).cloned().unwrap_or_default();
        assert_eq!(volume["persistentVolumeClaim"]["claimName"], "data-pg-0", "{pod}");
        let created = events(&cluster, "pg", "SuccessfulCreate").await;
        assert!(created.iter().any(|(message, _)| message == "create Claim data-pg-0 Pod pg-0 in StatefulSet pg success"), "{created:?}");
    } else {
        // Claims not served yet: the claim cannot be made, so neither is the pod, and the set says why.
        let failed = cluster
            .wait_for("the claim's failure recorded", WAIT, || async {
                let failed = events(&cluster, "pg", "FailedCreate").await;
                if failed.len() >= 2 { Ok(failed) } else { Err(format!("{failed:?}")) }
            })
            .await;
        assert!(failed.iter().all(|(_, kind)| kind == "Warning"), "{failed:?}");
        assert!(failed.iter().any(|(message, _)| message.starts_with("create Claim data-pg-0 for Pod pg-0 in StatefulSet pg failed error: ")), "{failed:?}");
        assert!(failed.iter().any(|(message, _)| message.starts_with("create Pod pg-0 in StatefulSet pg failed error: failed to create PVC data-pg-0: ")), "{failed:?}");
        assert!(!pods(&cluster).await.contains_key("pg-0"));
    }
}
