//! The namespace controller in the real controller-manager binary against the real apiserver:
//! a deleted namespace is emptied of every kind the server serves, waits for what only stops
//! gracefully (bound pods, here stopped by the test in the kubelet's place) or is held by
//! finalizers, says so in its conditions, and then goes; `kubectl delete namespace` returns once
//! it has.

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::Cluster;

const WAIT: Duration = Duration::from_secs(30);

fn labels(app: &str) -> Value {
    json!({"app": app})
}

fn pod_spec() -> Value {
    json!({"containers": [{"name": "app", "image": "busybox:local", "command": ["sleep", "3600"]}]})
}

fn configmap(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"key": "value"}})
}

fn pod(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels("web")}, "spec": pod_spec()})
}

/// The owner reference Kubernetes' controllers set, pointing at `owner` as created.
fn controlled_by(owner: &Value) -> Value {
    json!([{"apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": owner["metadata"]["name"], "uid": owner["metadata"]["uid"],
            "controller": true, "blockOwnerDeletion": true}])
}

fn condition(namespace: &Value, condition_type: &str) -> Option<Value> {
    namespace["status"]["conditions"].as_array()?.iter().find(|condition| condition["type"] == condition_type).cloned()
}

async fn names(cluster: &Cluster, path: &str) -> Vec<String> {
    cluster.items(path).await.iter().filter_map(|item| item["metadata"]["name"].as_str().map(str::to_string)).collect()
}

/// Fills `namespace` with one object of every kind the server serves in a namespace, a pod
/// bound to `node` among them; returns the bound pod's name.
async fn fill(cluster: &Cluster, namespace: &str, node: &str) -> &'static str {
    let base = format!("/api/v1/namespaces/{namespace}");
    let apps = format!("/apis/apps/v1/namespaces/{namespace}");
    cluster.create(&format!("{base}/configmaps"), &configmap("settings")).await;
    let secret = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "token"}, "stringData": {"token": "s3cret"}});
    cluster.create(&format!("{base}/secrets"), &secret).await;
    let service = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
        "spec": {"selector": labels("web"), "ports": [{"port": 80, "targetPort": 8080}]}});
    cluster.create(&format!("{base}/services"), &service).await;
    let endpoints = json!({"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "manual"},
        "subsets": [{"addresses": [{"ip": "10.244.0.9"}], "ports": [{"port": 8080}]}]});
    cluster.create(&format!("{base}/endpoints"), &endpoints).await;
    let deployment = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"replicas": 1, "selector": {"matchLabels": labels("web")}, "template": {"metadata": {"labels": labels("web")}, "spec": pod_spec()}}});
    let deployment = cluster.create(&format!("{apps}/deployments"), &deployment).await;
    let replicaset = json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "web-1", "ownerReferences": controlled_by(&deployment)},
        "spec": {"replicas": 2, "selector": {"matchLabels": labels("web")}, "template": {"metadata": {"labels": labels("web")}, "spec": pod_spec()}}});
    let replicaset = cluster.create(&format!("{apps}/replicasets"), &replicaset).await;
    let mut waiting = pod("web-1-waiting");
    waiting["metadata"]["ownerReferences"] = controlled_by(&replicaset);
    cluster.create(&format!("{base}/pods"), &waiting).await;
    let mut running = pod("web-1-running");
    running["metadata"]["ownerReferences"] = controlled_by(&replicaset);
    cluster.create(&format!("{base}/pods"), &running).await;
    cluster.run_pod(namespace, "web-1-running", node, "10.244.0.10", true).await;
    let lease = json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "leader"},
        "spec": {"holderIdentity": "someone", "leaseDurationSeconds": 15}});
    cluster.create(&format!("/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases"), &lease).await;
    let event = json!({"apiVersion": "v1", "kind": "Event", "metadata": {"name": "web.1"}, "reason": "Testing", "message": "filled",
        "type": "Normal", "involvedObject": {"kind": "Deployment", "namespace": namespace, "name": "web"}});
    cluster.create(&format!("{base}/events"), &event).await;
    "web-1-running"
}

/// Every namespaced collection a namespace's content lives in here.
fn collections(namespace: &str) -> Vec<String> {
    let core = ["configmaps", "secrets", "services", "endpoints", "pods", "events"].map(|plural| format!("/api/v1/namespaces/{namespace}/{plural}"));
    let apps = ["deployments", "replicasets"].map(|plural| format!("/apis/apps/v1/namespaces/{namespace}/{plural}"));
    let lease = format!("/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases");
    core.into_iter().chain(apps).chain([lease]).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_namespace_is_emptied_waits_for_its_pods_and_goes() {
    let cluster = Cluster::start();
    let _controllers = cluster.controller_manager(&["--controllers=namespace,garbagecollector"]);
    cluster.node("node-1").await;
    cluster.namespace("doomed").await;
    cluster.namespace("kept").await;
    cluster.create("/api/v1/namespaces/kept/configmaps", &configmap("settings")).await;
    let bound = fill(&cluster, "doomed", "node-1").await;

    let (code, answer) = cluster.delete("/api/v1/namespaces/doomed", &json!({})).await;
    assert_eq!(code, 200, "{answer}");
    assert_eq!(answer["status"]["phase"], "Terminating");

    // Everything goes but the bound pod, which its node stops first.
    cluster
        .wait_for("everything but the bound pod deleted", WAIT, || async {
            let mut left = Vec::new();
            for path in collections("doomed") {
                for name in names(&cluster, &path).await {
                    left.push(format!("{path}/{name}"));
                }
            }
            if left == [format!("/api/v1/namespaces/doomed/pods/{bound}")] { Ok(()) } else { Err(format!("{left:?}")) }
        })
        .await;
    let pod = cluster.get(&format!("/api/v1/namespaces/doomed/pods/{bound}")).await;
    assert!(pod["metadata"]["deletionTimestamp"].is_string(), "the bound pod is only marked: {pod}");
    let namespace = cluster
        .wait_for("the namespace says what remains", WAIT, || async {
            let namespace = cluster.get("/api/v1/namespaces/doomed").await;
            match condition(&namespace, "NamespaceContentRemaining") {
                Some(remaining) if remaining["status"] == "True" => Ok(namespace),
                _ => Err(namespace.to_string()),
            }
        })
        .await;
    let remaining = condition(&namespace, "NamespaceContentRemaining").unwrap();
    assert_eq!(remaining["reason"], "SomeResourcesRemain");
    assert_eq!(remaining["message"], "Some resources are remaining: pods. has 1 resource instances");
    assert_eq!(condition(&namespace, "NamespaceDeletionDiscoveryFailure").unwrap()["status"], "False");
    assert_eq!(namespace["spec"]["finalizers"], json!(["kubernetes"]));
    assert_eq!(namespace["status"]["phase"], "Terminating");
    let (code, answer) = cluster.send(reqwest::Method::POST, "/api/v1/namespaces/doomed/configmaps", "application/json", Some(&configmap("late"))).await;
    assert_eq!(code, 403, "nothing new in a terminating namespace: {answer}");

    // The kubelet's part: the containers stopped, the pod is deleted for good.
    let (code, answer) = cluster.delete(&format!("/api/v1/namespaces/doomed/pods/{bound}"), &json!({"gracePeriodSeconds": 0})).await;
    assert_eq!(code, 200, "{answer}");
    cluster
        .wait_for("the namespace gone", WAIT, || async {
            match cluster.get_opt("/api/v1/namespaces/doomed").await {
                None => Ok(()),
                Some(namespace) => Err(namespace.to_string()),
            }
        })
        .await;
    for path in collections("doomed") {
        assert_eq!(names(&cluster, &path).await, Vec::<String>::new(), "{path}");
    }
    assert_eq!(names(&cluster, "/api/v1/namespaces/kept/configmaps").await, ["settings"], "other namespaces are untouched");
    let kept = cluster.get("/api/v1/namespaces/kept").await;
    assert_eq!(kept["status"]["phase"], "Active");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_held_by_finalizers_hold_the_namespace_until_released() {
    let cluster = Cluster::start();
    let _controllers = cluster.controller_manager(&["--controllers=namespace"]);
    cluster.namespace("held").await;
    let mut held = configmap("held");
    held["metadata"]["finalizers"] = json!(["example.com/hold"]);
    cluster.create("/api/v1/namespaces/held/configmaps", &held).await;
    cluster.create("/api/v1/namespaces/held/configmaps", &configmap("free")).await;
    cluster.create("/api/v1/namespaces/held/pods", &pod("pending")).await;

    let (code, answer) = cluster.delete("/api/v1/namespaces/held", &json!({})).await;
    assert_eq!(code, 200, "{answer}");
    let namespace = cluster
        .wait_for("the namespace names the finalizer it waits for", WAIT, || async {
            let namespace = cluster.get("/api/v1/namespaces/held").await;
            match condition(&namespace, "NamespaceFinalizersRemaining") {
                Some(held) if held["status"] == "True" => Ok(namespace),
                _ => Err(namespace.to_string()),
            }
        })
        .await;
    let finalizers = condition(&namespace, "NamespaceFinalizersRemaining").unwrap();
    assert_eq!(finalizers["reason"], "SomeFinalizersRemain");
    assert_eq!(finalizers["message"], "Some content in the namespace has finalizers remaining: example.com/hold in 1 resource instances");
    assert_eq!(condition(&namespace, "NamespaceContentRemaining").unwrap()["message"], "Some resources are remaining: configmaps. has 1 resource instances");
    assert_eq!(names(&cluster, "/api/v1/namespaces/held/configmaps").await, ["held"]);
    assert_eq!(names(&cluster, "/api/v1/namespaces/held/pods").await, Vec::<String>::new(), "a pod never bound goes at once");
    let configmap = cluster.get("/api/v1/namespaces/held/configmaps/held").await;
    assert!(configmap["metadata"]["deletionTimestamp"].is_string(), "{configmap}");

    // Whoever owns the finalizer finishes: the object goes, then the namespace.
    cluster.merge_patch("/api/v1/namespaces/held/configmaps/held", &json!({"metadata": {"finalizers": null}})).await;
    cluster
        .wait_for("the namespace gone", WAIT, || async {
            match cluster.get_opt("/api/v1/namespaces/held").await {
                None => Ok(()),
                Some(namespace) => Err(namespace["status"].to_string()),
            }
        })
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_delete_namespace_returns_once_it_is_gone() {
    let cluster = Cluster::start();
    let _controllers = cluster.controller_manager(&["--controllers=namespace"]);
    let kubeconfig = format!("--kubeconfig={}", cluster.server.kubeconfig().display());
    let kubectl = |args: &[&str]| {
        let mut command = tokio::process::Command::new("/usr/bin/kubectl");
        command.arg(&kubeconfig).args(args);
        command
    };
    let created = kubectl(&["create", "namespace", "scratch"]).output().await.unwrap();
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));
    cluster.create("/api/v1/namespaces/scratch/configmaps", &configmap("settings")).await;
    cluster.create("/api/v1/namespaces/scratch/pods", &pod("pending")).await;
    let secret = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "token"}, "stringData": {"token": "s3cret"}});
    cluster.create("/api/v1/namespaces/scratch/secrets", &secret).await;

    let deleted = tokio::time::timeout(Duration::from_secs(90), kubectl(&["delete", "namespace", "scratch", "--timeout=60s"]).output())
        .await
        .expect("kubectl delete namespace did not return")
        .unwrap();
    let stdout = String::from_utf8_lossy(&deleted.stdout);
    assert!(deleted.status.success(), "stdout: {stdout}\nstderr: {}", String::from_utf8_lossy(&deleted.stderr));
    assert_eq!(stdout.trim(), "namespace \"scratch\" deleted");
    assert_eq!(cluster.get_opt("/api/v1/namespaces/scratch").await, None, "kubectl returned before the namespace was gone");
    let got = kubectl(&["get", "namespace", "scratch"]).output().await.unwrap();
    assert!(!got.status.success());
    assert!(String::from_utf8_lossy(&got.stderr).contains("NotFound"), "{}", String::from_utf8_lossy(&got.stderr));
}
