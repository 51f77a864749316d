//! Node IPAM in the real controller-manager binary against the real apiserver: nodes get
//! distinct pod CIDRs from the cluster CIDR, keep the ones they have, and free theirs when
//! deleted.

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::Cluster;

const WITHIN: Duration = Duration::from_secs(20);

async fn node_with_cidr(cluster: &Cluster, name: &str, cidr: &str) {
    let body = json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}, "spec": {"podCIDR": cidr, "podCIDRs": [cidr]},
        "status": {"conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}]}});
    cluster.create("/api/v1/nodes", &body).await;
}

async fn cidr_of(cluster: &Cluster, name: &str) -> Value {
    let node = cluster.get(&format!("/api/v1/nodes/{name}")).await;
    node["spec"]["podCIDR"].clone()
}

/// Waits until `name` has a pod CIDR and answers it (podCIDRs saying the same).
async fn wait_for_cidr(cluster: &Cluster, name: &str) -> String {
    cluster
        .wait_for(&format!("a pod CIDR for {name}"), WITHIN, || async {
            let node = cluster.get(&format!("/api/v1/nodes/{name}")).await;
            match node["spec"]["podCIDR"].as_str() {
                Some(cidr) => {
                    assert_eq!(node["spec"]["podCIDRs"], json!([cidr]), "{name}");
                    Ok(cidr.to_string())
                }
                None => Err(node["spec"].to_string()),
            }
        })
        .await
}

async fn warnings(cluster: &Cluster, node: &str) -> Vec<Value> {
    cluster
        .items("/api/v1/namespaces/default/events")
        .await
        .into_iter()
        .filter(|event| event["involvedObject"]["name"] == node && event["reason"] == "CIDRNotAvailable")
        .collect()
}

async fn wait_for_warning(cluster: &Cluster, node: &str) -> Value {
    cluster
        .wait_for(&format!("CIDRNotAvailable on {node}"), WITHIN, || async {
            let found = warnings(cluster, node).await;
            found.first().cloned().ok_or_else(|| "no event".to_string())
        })
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_get_distinct_blocks_in_order_and_freed_ones_again() {
    let cluster = Cluster::start();
    // A node that had its CIDR before the controller started: learnt, never handed out again.
    node_with_cidr(&cluster, "early", "10.244.1.0/24").await;
    let _manager = cluster.controller_manager(&["--controllers=nodeipam"]);

    let mut given = Vec::new();
    for name in ["n1", "n2", "n3"] {
        cluster.node(name).await;
        given.push(wait_for_cidr(&cluster, name).await);
    }
    assert_eq!(given, ["10.244.0.0/24", "10.244.2.0/24", "10.244.3.0/24"]);
    assert_eq!(cidr_of(&cluster, "early").await, "10.244.1.0/24");

    // One created with its own CIDR keeps it, and nobody else gets it.
    node_with_cidr(&cluster, "late", "10.244.4.0/24").await;
    cluster.node("n4").await;
    assert_eq!(wait_for_cidr(&cluster, "n4").await, "10.244.5.0/24");
    assert_eq!(cidr_of(&cluster, "late").await, "10.244.4.0/24");

    // A deleted node's block goes to the next node.
    let (code, answer) = cluster.delete("/api/v1/nodes/n2", &json!({})).await;
    assert_eq!(code, 200, "{answer}");
    cluster.wait_for("n2 gone", WITHIN, || async { if cluster.get_opt("/api/v1/nodes/n2").await.is_none() { Ok(()) } else { Err("still there".to_string()) } }).await;
    cluster.node("n5").await;
    assert_eq!(wait_for_cidr(&cluster, "n5").await, "10.244.2.0/24");

    // CIDRs the controller cannot count as a node's are reported, and left as they are.
    node_with_cidr(&cluster, "outside", "10.99.0.0/24").await;
    node_with_cidr(&cluster, "twin", "10.244.3.0/24").await;
    for (name, cidr) in [("outside", "10.99.0.0/24"), ("twin", "10.244.3.0/24")] {
        let event = wait_for_warning(&cluster, name).await;
        assert_eq!(event["type"], "Warning");
        assert!(event["message"].as_str().unwrap().contains(cidr), "{event}");
        assert_eq!(cidr_of(&cluster, name).await, cidr);
    }
    cluster.node("n6").await;
    assert_eq!(wait_for_cidr(&cluster, "n6").await, "10.244.6.0/24");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exhausted_range_leaves_a_node_without_until_one_is_freed() {
    let cluster = Cluster::start();
    let _manager = cluster.controller_manager(&["--controllers=nodeipam", "--cluster-cidr=10.250.0.0/23"]);
    cluster.node("a").await;
    assert_eq!(wait_for_cidr(&cluster, "a").await, "10.250.0.0/24");
    cluster.node("b").await;
    assert_eq!(wait_for_cidr(&cluster, "b").await, "10.250.1.0/24");
    cluster.node("c").await;
    let event = wait_for_warning(&cluster, "c").await;
    assert_eq!(event["message"], "Node c status is now: CIDRNotAvailable");
    assert_eq!(cidr_of(&cluster, "c").await, Value::Null);

    let (code, answer) = cluster.delete("/api/v1/nodes/a", &json!({})).await;
    assert_eq!(code, 200, "{answer}");
    assert_eq!(wait_for_cidr(&cluster, "c").await, "10.250.0.0/24");
}
