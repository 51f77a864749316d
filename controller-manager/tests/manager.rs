//! The controller-manager as a whole: one leader among replicas, and its `/metrics`.

mod support;

use std::time::Duration;

use common::testing::free_port;
use serde_json::json;
use support::Cluster;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_replica_leads_and_its_metrics_count_reconciles() {
    let cluster = Cluster::start();
    let port = free_port().unwrap();
    let metrics = format!("--metrics-bind-address=127.0.0.1:{port}");
    let mut leader = cluster.controller_manager(&["--leader-elect=true", "--identity=first", &metrics, "--controllers=replicaset"]);
    let lease_path = "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/kube-controller-manager";
    cluster
        .wait_for("the first replica to lead", Duration::from_secs(20), || async {
            let lease = cluster.get(lease_path).await;
            if lease["spec"]["holderIdentity"] == "first" { Ok(()) } else { Err(lease.to_string()) }
        })
        .await;
    let standby = cluster.controller_manager(&["--leader-elect=true", "--identity=second", "--controllers=replicaset"]);

    cluster.namespace("work").await;
    let set = json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "web", "namespace": "work"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "busybox:local"}]}}}});
    cluster.create("/apis/apps/v1/namespaces/work/replicasets", &set).await;
    cluster
        .wait_for("two pods", Duration::from_secs(20), || async {
            let pods = cluster.items("/api/v1/namespaces/work/pods").await;
            if pods.len() == 2 { Ok(()) } else { Err(format!("{pods:?}")) }
        })
        .await;
    let text = cluster
        .wait_for("reconciles counted", Duration::from_secs(10), || async {
            let text = cluster.http.get(format!("http://127.0.0.1:{port}/metrics")).send().await.map_err(|err| err.to_string())?.text().await.map_err(|err| err.to_string())?;
            let counted = text.lines().any(|line| line.starts_with("controller_reconcile_total{controller=\"replicaset\",result=\"success\"}") && !line.ends_with(" 0"));
            if counted { Ok(text) } else { Err(text) }
        })
        .await;
    assert!(text.contains("workqueue_depth{name=\"replicaset\"}"), "{text}");
    assert!(text.contains("controller_reconcile_duration_seconds_bucket{controller=\"replicaset\",le=\"+Inf\"}"), "{text}");
    assert!(!standby.log().contains("became leader"), "the standby waits: {}", standby.log());

    // The standby takes over when the leader dies, and keeps the set whole.
    leader.kill();
    cluster
        .wait_for("the standby to lead", Duration::from_secs(30), || async {
            let lease = cluster.get(lease_path).await;
            if lease["spec"]["holderIdentity"] == "second" { Ok(()) } else { Err(lease.to_string()) }
        })
        .await;
    let pods = cluster.items("/api/v1/namespaces/work/pods").await;
    let victim = pods[0]["metadata"]["name"].as_str().unwrap_or_default().to_string();
    cluster.delete(&format!("/api/v1/namespaces/work/pods/{victim}"), &json!({"gracePeriodSeconds": 0})).await;
    cluster
        .wait_for("the pod replaced by the new leader", Duration::from_secs(20), || async {
            let pods = cluster.items("/api/v1/namespaces/work/pods").await;
            let names: Vec<&str> = pods.iter().filter_map(|pod| pod["metadata"]["name"].as_str()).collect();
            if pods.len() == 2 && !names.contains(&victim.as_str()) { Ok(()) } else { Err(format!("{names:?}")) }
        })
        .await;
}
