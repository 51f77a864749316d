//! The ServiceAccounts controller in the real controller-manager against the real apiserver:
//! every namespace, old or new, gets a `default` ServiceAccount, made again when deleted, and
//! none in a namespace being deleted.

mod support;

use std::time::Duration;

use serde_json::json;
use support::Cluster;

const WAIT: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_namespace_has_a_default_service_account() {
    let cluster = Cluster::start();
    cluster.namespace("before").await;
    let _controllers = cluster.controller_manager(&["--controllers=serviceaccount"]);
    cluster.namespace("after").await;
    for namespace in ["default", "kube-system", "before", "after"] {
        let path = format!("/api/v1/namespaces/{namespace}/serviceaccounts/default");
        cluster
            .wait_for(&format!("the default ServiceAccount of {namespace}"), WAIT, || async {
                let account = cluster.get(&path).await;
                if account["metadata"]["name"] == "default" { Ok(()) } else { Err(account.to_string()) }
            })
            .await;
    }
    // Deleted, it comes back (a new one: another uid).
    let path = "/api/v1/namespaces/after/serviceaccounts/default";
    let first = cluster.get(path).await["metadata"]["uid"].clone();
    let (code, answer) = cluster.delete(path, &json!({})).await;
    assert_eq!(code, 200, "{answer}");
    cluster
        .wait_for("the default ServiceAccount made again", WAIT, || async {
            let account = cluster.get(path).await;
            if account["metadata"]["uid"].is_string() && account["metadata"]["uid"] != first { Ok(()) } else { Err(account.to_string()) }
        })
        .await;
    // kubectl sees them as Kubernetes shows them.
    let kubectl = |args: &[&str]| std::process::Command::new("kubectl").arg(format!("--kubeconfig={}", cluster.server.kubeconfig().display())).args(args).output().expect("kubectl");
    let table = kubectl(&["get", "serviceaccounts", "-n", "after"]);
    let text = String::from_utf8_lossy(&table.stdout).to_string();
    assert!(text.starts_with("NAME") && text.contains("SECRETS") && text.lines().nth(1).is_some_and(|line| line.starts_with("default ")), "{text}{}", String::from_utf8_lossy(&table.stderr));
    let created = kubectl(&["create", "serviceaccount", "robot", "-n", "after"]);
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));
}
