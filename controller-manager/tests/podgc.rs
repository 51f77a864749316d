//! The pod garbage collector in the real controller-manager binary against the real apiserver:
//! a pod bound to a node that is deleted goes once the node has been gone for the quarantine.

mod support;

use std::time::Duration;

use serde_json::json;
use support::Cluster;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pods_of_a_node_that_is_gone_are_deleted_after_the_quarantine() {
    let cluster = Cluster::start();
    let _manager = cluster.controller_manager(&["--controllers=podgc"]);
    cluster.namespace("gc").await;
    cluster.node("kept").await;
    cluster.node("gone").await;
    for (name, node) in [("on-kept", "kept"), ("on-gone", "gone")] {
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"nodeName": node, "containers": [{"name": "c", "image": "busybox:local"}]}});
        cluster.create("/api/v1/namespaces/gc/pods", &pod).await;
    }
    cluster.delete("/api/v1/nodes/gone", &json!({})).await;
    cluster
        .wait_for("the pod on the deleted node gone", Duration::from_secs(120), || async {
            match cluster.get_opt("/api/v1/namespaces/gc/pods/on-gone").await {
                None => Ok(()),
                Some(pod) => Err(pod["status"].to_string()),
            }
        })
        .await;
    assert!(cluster.get_opt("/api/v1/namespaces/gc/pods/on-kept").await.is_some(), "the pod on a live node stays");
}
