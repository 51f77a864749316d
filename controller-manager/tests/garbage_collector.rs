//! The garbage collector in the real controller-manager binary against the real apiserver:
//! ownerReferences (with the owners' real uids) cascade in the background, in the foreground
//! and not at all (orphan), through the API's DeleteOptions and through `kubectl delete
//! --cascade`. No replicaset or deployment controller runs, so nothing recreates what goes; pods
//! bound to a node are stopped by the test in the kubelet's place.

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

/// An owner reference to `owner` as created (its real uid).
fn reference(owner: &Value, controller: bool, block: bool) -> Value {
    json!({"apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": owner["metadata"]["name"], "uid": owner["metadata"]["uid"],
           "controller": controller, "blockOwnerDeletion": block})
}

fn owned(mut object: Value, owners: Vec<Value>) -> Value {
    object["metadata"]["ownerReferences"] = json!(owners);
    object
}

fn pod(name: &str, app: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels(app)}, "spec": pod_spec()})
}

fn configmap(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"key": "value"}})
}

fn replicaset(name: &str, app: &str) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": name, "labels": labels(app)},
           "spec": {"replicas": 2, "selector": {"matchLabels": labels(app)}, "template": {"metadata": {"labels": labels(app)}, "spec": pod_spec()}}})
}

fn deployment(name: &str, app: &str) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
           "spec": {"replicas": 2, "selector": {"matchLabels": labels(app)}, "template": {"metadata": {"labels": labels(app)}, "spec": pod_spec()}}})
}

async fn create_replicaset(cluster: &Cluster, namespace: &str, name: &str) -> Value {
    cluster.create(&format!("/apis/apps/v1/namespaces/{namespace}/replicasets"), &replicaset(name, name)).await
}

/// Pods `<owner>-0..count` controlled by `owner` (blocking its foreground deletion).
async fn create_pods(cluster: &Cluster, namespace: &str, owner: &Value, count: usize) -> Vec<String> {
    let prefix = owner["metadata"]["name"].as_str().unwrap_or_default().to_string();
    let mut names = Vec::new();
    for index in 0..count {
        let name = format!("{prefix}-{index}");
        let body = owned(pod(&name, &prefix), vec![reference(owner, true, true)]);
        cluster.create(&format!("/api/v1/namespaces/{namespace}/pods"), &body).await;
        names.push(name);
    }
    names
}

async fn exists(cluster: &Cluster, path: &str) -> bool {
    cluster.get_opt(path).await.is_some()
}

async fn wait_gone(cluster: &Cluster, paths: &[String]) {
    cluster
        .wait_for(&format!("{paths:?} gone"), WAIT, || async {
            let mut left = Vec::new();
            for path in paths {
                if exists(cluster, path).await {
                    left.push(path.clone());
                }
            }
            if left.is_empty() { Ok(()) } else { Err(format!("{left:?} still there")) }
        })
        .await;
}

fn owner_uids(object: &Value) -> Vec<String> {
    object["metadata"]["ownerReferences"]
        .as_array()
        .map(|owners| owners.iter().filter_map(|owner| owner["uid"].as_str().map(str::to_string)).collect())
        .unwrap_or_default()
}

fn pod_path(namespace: &str, name: &str) -> String {
    format!("/api/v1/namespaces/{namespace}/pods/{name}")
}

fn finalizers(object: &Value) -> Vec<String> {
    object["metadata"]["finalizers"]
        .as_array()
        .map(|all| all.iter().filter_map(|finalizer| finalizer.as_str().map(str::to_string)).collect())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn background_deletion_removes_dependents_whose_owners_are_all_gone() {
    let cluster = Cluster::start();
    let _controllers = cluster.controller_manager(&["--controllers=garbagecollector"]);
    cluster.namespace("bg").await;
    let owner = create_replicaset(&cluster, "bg", "web").await;
    let pods = create_pods(&cluster, "bg", &owner, 3).await;
    let config = owned(configmap("web-config"), vec![reference(&owner, false, false)]);
    cluster.create("/api/v1/namespaces/bg/configmaps", &config).await;
    let secret = owned(json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "web-token"}, "stringData": {"a": "b"}}), vec![reference(&owner, false, false)]);
    cluster.create("/api/v1/namespaces/bg/secrets", &secret).await;
    let keeper = cluster.create("/api/v1/namespaces/bg/configmaps", &configmap("keeper")).await;
    let shared = owned(pod("shared", "other"), vec![reference(&owner, false, true), reference(&keeper, false, false)]);
    cluster.create("/api/v1/namespaces/bg/pods", &shared).await;
    cluster.create("/api/v1/namespaces/bg/pods", &pod("free", "other")).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    for name in &pods {
        assert!(exists(&cluster, &pod_path("bg", name)).await, "{name} went while its owner is there");
    }

    // No propagationPolicy: apps/v1 deletes in the background.
    let (code, answer) = cluster.delete("/apis/apps/v1/namespaces/bg/replicasets/web", &json!({})).await;
    assert_eq!(code, 200, "{answer}");
    assert_eq!(cluster.get_opt("/apis/apps/v1/namespaces/bg/replicasets/web").await, None, "a background deletion removes the owner at once");
    let mut gone: Vec<String> = pods.iter().map(|name| pod_path("bg", name)).collect();
    gone.push("/api/v1/namespaces/bg/configmaps/web-config".into());
    gone.push("/api/v1/namespaces/bg/secrets/web-token".into());
    wait_gone(&cluster, &gone).await;

    // A dependent with a live owner left only loses the reference to the gone one.
    let keeper_uid = keeper["metadata"]["uid"].as_str().unwrap_or_default().to_string();
    cluster
        .wait_for("the shared pod detached from the gone owner", WAIT, || async {
            let shared = cluster.get(&pod_path("bg", "shared")).await;
            if owner_uids(&shared) == [keeper_uid.clone()] { Ok(()) } else { Err(shared["metadata"].to_string()) }
        })
        .await;
    assert!(exists(&cluster, &pod_path("bg", "free")).await);
    assert!(exists(&cluster, "/api/v1/namespaces/bg/configmaps/keeper").await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owners_are_told_apart_by_uid_and_read_live_before_anything_goes() {
    let cluster = Cluster::start();
    let _controllers = cluster.controller_manager(&["--controllers=garbagecollector"]);
    cluster.namespace("uids").await;
    // An owner of that name exists, but with another uid: the owner referred to is gone.
    let current = cluster.create("/api/v1/namespaces/uids/configmaps", &configmap("owner")).await;
    let mut stale = reference(&current, true, true);
    stale["uid"] = json!("00000000-0000-0000-0000-000000000001");
    cluster.create("/api/v1/namespaces/uids/pods", &owned(pod("stale", "a"), vec![stale])).await;
    // Owners created just before their dependents, faster than any cache: they stay.
    for index in 0..5 {
        let owner = cluster.create("/api/v1/namespaces/uids/configmaps", &configmap(&format!("fresh-{index}"))).await;
        cluster.create("/api/v1/namespaces/uids/pods", &owned(pod(&format!("fresh-{index}"), "a"), vec![reference(&owner, true, true)])).await;
    }
    // Owners of kinds the collector does not watch are read through discovery: a Lease.
    let lease = json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "lock"}, "spec": {"holderIdentity": "me"}});
    let lease = cluster.create("/apis/coordination.k8s.io/v1/namespaces/uids/leases", &lease).await;
    cluster.create("/api/v1/namespaces/uids/pods", &owned(pod("leased", "a"), vec![reference(&lease, false, false)])).await;
    let mut missing_lease = reference(&lease, false, false);
    missing_lease["name"] = json!("no-such-lease");
    missing_lease["uid"] = json!("00000000-0000-0000-0000-000000000002");
    cluster.create("/api/v1/namespaces/uids/pods", &owned(pod("unleased", "a"), vec![missing_lease])).await;
    // A cluster-scoped owner: a pod owned by its node (as mirror pods are).
    let node = cluster.node("node-gc").await;
    cluster.create("/api/v1/namespaces/uids/pods", &owned(pod("mirror", "a"), vec![reference(&node, true, false)])).await;

    wait_gone(&cluster, &[pod_path("uids", "stale"), pod_path("uids", "unleased")]).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    for name in ["fresh-0", "fresh-1", "fresh-2", "fresh-3", "fresh-4", "leased", "mirror"] {
        assert!(exists(&cluster, &pod_path("uids", name)).await, "{name} went though its owner is there");
    }
    assert!(exists(&cluster, "/api/v1/namespaces/uids/configmaps/owner").await);

    let (code, answer) = cluster.delete("/api/v1/nodes/node-gc", &json!({})).await;
    assert_eq!(code, 200, "{answer}");
    wait_gone(&cluster, &[pod_path("uids", "mirror")]).await;
    // No informer watches leases: the dependent finds out on its next look, within 30 s.
    let (code, answer) = cluster.delete("/apis/coordination.k8s.io/v1/namespaces/uids/leases/lock", &json!({})).await;
    assert_eq!(code, 200, "{answer}");
    cluster
        .wait_for("the pod of the deleted lease gone", Duration::from_secs(45), || async {
            if exists(&cluster, &pod_path("uids", "leased")).await { Err("still there".to_string()) } else { Ok(()) }
        })
        .await;
}

/// An owner a reference cannot reach from one namespace is gone for that reference alone: a
/// ConfigMap elsewhere that copies the owner's uid (and so names no object in its own
/// namespace) is collected, and the owner's real dependents stay. Kubernetes keys what it
/// remembers of absent owners by namespace and coordinates, not by uid.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_missing_in_one_namespace_is_not_gone_in_its_own() {
    let cluster = Cluster::start();
    let _controllers = cluster.controller_manager(&["--controllers=garbagecollector"]);
    cluster.namespace("home").await;
    cluster.namespace("elsewhere").await;
    let owner = cluster.create("/api/v1/namespaces/home/configmaps", &configmap("owner")).await;
    cluster.create("/api/v1/namespaces/elsewhere/configmaps", &owned(configmap("impostor"), vec![reference(&owner, false, false)])).await;
    wait_gone(&cluster, &["/api/v1/namespaces/elsewhere/configmaps/impostor".to_string()]).await;

    cluster.create("/api/v1/namespaces/home/configmaps", &owned(configmap("dependent"), vec![reference(&owner, false, false)])).await;
    // A dependent whose owner is really gone, created after: once it is collected, the
    // collector has looked at the one before it too.
    let mut gone_owner = reference(&owner, false, false);
    gone_owner["name"] = json!("never-was");
    gone_owner["uid"] = json!("00000000-0000-0000-0000-000000000003");
    cluster.create("/api/v1/namespaces/home/configmaps", &owned(configmap("sentinel"), vec![gone_owner])).await;
    wait_gone(&cluster, &["/api/v1/namespaces/home/configmaps/sentinel".to_string()]).await;
    assert!(exists(&cluster, "/api/v1/namespaces/home/configmaps/dependent").await, "a dependent went though its owner is there");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreground_deletion_keeps_the_owner_until_its_blocking_dependents_are_gone() {
    let cluster = Cluster::start();
    let _controllers = cluster.controller_manager(&["--controllers=garbagecollector"]);
    cluster.node("node-1").await;
    cluster.namespace("fg").await;
    let owner = cluster.create("/apis/apps/v1/namespaces/fg/deployments", &deployment("app", "app")).await;
    let child = owned(replicaset("app-1", "app"), vec![reference(&owner, true, true)]);
    let child = cluster.create("/apis/apps/v1/namespaces/fg/replicasets", &child).await;
    let pods = create_pods(&cluster, "fg", &child, 2).await;
    // One pod runs on a node: it stops gracefully, and holds everything above it until then.
    cluster.run_pod("fg", &pods[1], "node-1", "10.244.0.5", true).await;
    // A dependent that does not block its owner.
    let loose = owned(configmap("app-notes"), vec![reference(&owner, false, false)]);
    cluster.create("/api/v1/namespaces/fg/configmaps", &loose).await;

    let (code, answer) = cluster.delete("/apis/apps/v1/namespaces/fg/deployments/app?propagationPolicy=Foreground", &json!({})).await;
    assert_eq!(code, 200, "{answer}");
    assert!(answer["metadata"]["deletionTimestamp"].is_string(), "{answer}");
    assert_eq!(finalizers(&answer), ["foregroundDeletion"]);

    // The replicaset has dependents of its own: it is deleted in the foreground too.
    cluster
        .wait_for("the replicaset deleted in the foreground", WAIT, || async {
            let replicaset = cluster.get("/apis/apps/v1/namespaces/fg/replicasets/app-1").await;
            let foreground = replicaset["metadata"]["deletionTimestamp"].is_string() && finalizers(&replicaset) == ["foregroundDeletion"];
            if foreground { Ok(()) } else { Err(replicaset["metadata"].to_string()) }
        })
        .await;
    wait_gone(&cluster, &[pod_path("fg", &pods[0]), "/api/v1/namespaces/fg/configmaps/app-notes".into()]).await;
    let running = cluster.get(&pod_path("fg", &pods[1])).await;
    assert!(running["metadata"]["deletionTimestamp"].is_string(), "the running pod is stopping: {running}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let replicaset = cluster.get("/apis/apps/v1/namespaces/fg/replicasets/app-1").await;
    assert_eq!(finalizers(&replicaset), ["foregroundDeletion"], "the replicaset waits for its running pod");
    let deployment = cluster.get("/apis/apps/v1/namespaces/fg/deployments/app").await;
    assert_eq!(finalizers(&deployment), ["foregroundDeletion"], "the deployment waits for its replicaset");

    // The kubelet's part: the pod stopped.
    let (code, answer) = cluster.delete(&pod_path("fg", &pods[1]), &json!({"gracePeriodSeconds": 0})).await;
    assert_eq!(code, 200, "{answer}");
    wait_gone(&cluster, &["/apis/apps/v1/namespaces/fg/replicasets/app-1".into(), "/apis/apps/v1/namespaces/fg/deployments/app".into()]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orphan_deletion_leaves_dependents_without_the_reference() {
    let cluster = Cluster::start();
    let _controllers = cluster.controller_manager(&["--controllers=garbagecollector"]);
    cluster.namespace("orphans").await;
    let owner = create_replicaset(&cluster, "orphans", "web").await;
    let pods = create_pods(&cluster, "orphans", &owner, 2).await;
    let other = cluster.create("/api/v1/namespaces/orphans/configmaps", &configmap("other-owner")).await;
    let both = owned(configmap("both"), vec![reference(&owner, false, false), reference(&other, false, false)]);
    cluster.create("/api/v1/namespaces/orphans/configmaps", &both).await;

    let options = json!({"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Orphan"});
    let (code, answer) = cluster.delete("/apis/apps/v1/namespaces/orphans/replicasets/web", &options).await;
    assert_eq!(code, 200, "{answer}");
    assert_eq!(finalizers(&answer), ["orphan"]);
    wait_gone(&cluster, &["/apis/apps/v1/namespaces/orphans/replicasets/web".into()]).await;

    let owner_uid = owner["metadata"]["uid"].as_str().unwrap_or_default().to_string();
    tokio::time::sleep(Duration::from_secs(2)).await;
    for name in &pods {
        let pod = cluster.get(&pod_path("orphans", name)).await;
        assert_eq!(pod["kind"], "Pod", "{name} was deleted: {pod}");
        assert!(pod["metadata"]["ownerReferences"].is_null(), "{name} still refers to an owner: {pod}");
    }
    let both = cluster.get("/api/v1/namespaces/orphans/configmaps/both").await;
    let uids = owner_uids(&both);
    assert!(!uids.contains(&owner_uid), "{both}");
    assert_eq!(uids, [other["metadata"]["uid"].as_str().unwrap_or_default().to_string()]);

    // A cluster-scoped owner is orphaned the same way.
    let node = cluster.node("node-orphan").await;
    cluster.create("/api/v1/namespaces/orphans/pods", &owned(pod("mirror", "mirror"), vec![reference(&node, true, false)])).await;
    let (code, answer) = cluster.delete("/api/v1/nodes/node-orphan?propagationPolicy=Orphan", &json!({})).await;
    assert_eq!(code, 200, "{answer}");
    wait_gone(&cluster, &["/api/v1/nodes/node-orphan".into()]).await;
    let mirror = cluster.get(&pod_path("orphans", "mirror")).await;
    assert_eq!(mirror["kind"], "Pod", "{mirror}");
    assert!(mirror["metadata"]["ownerReferences"].is_null(), "{mirror}");
}

fn job(name: &str) -> Value {
    json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name},
           "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "work", "image": "busybox:local"}]}}}})
}

/// batch/v1 Jobs keep their original default: a DELETE naming no policy orphans the pods (kube's
/// Job strategy `DefaultGarbageCollectionPolicy`, what Airflow's job operator relies on), while
/// an explicit Background still cascades. No job controller runs: the pods are the test's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_deleted_without_a_policy_orphans_its_pods() {
    let cluster = Cluster::start();
    let _controllers = cluster.controller_manager(&["--controllers=garbagecollector"]);
    cluster.namespace("jobs").await;
    let jobs = "/apis/batch/v1/namespaces/jobs/jobs";
    let kept = cluster.create(jobs, &job("kept")).await;
    let kept_pods = create_pods(&cluster, "jobs", &kept, 1).await;

    let (code, answer) = cluster.send(reqwest::Method::DELETE, &format!("{jobs}/kept"), "", None).await;
    assert_eq!(code, 200, "{answer}");
    assert_eq!(finalizers(&answer), ["orphan"], "{answer}");
    wait_gone(&cluster, &[format!("{jobs}/kept")]).await;
    for name in &kept_pods {
        cluster
            .wait_for(&format!("{name} orphaned"), WAIT, || async {
                match cluster.get_opt(&pod_path("jobs", name)).await {
                    None => panic!("{name} was deleted with its Job"),
                    Some(pod) if pod["metadata"]["ownerReferences"].is_null() => Ok(()),
                    Some(pod) => Err(pod["metadata"].to_string()),
                }
            })
            .await;
    }

    // An explicit policy overrides the default: the pods go with the Job.
    let cascaded = cluster.create(jobs, &job("cascaded")).await;
    let cascaded_pods: Vec<String> = create_pods(&cluster, "jobs", &cascaded, 1).await.iter().map(|name| pod_path("jobs", name)).collect();
    let (code, answer) = cluster.delete(&format!("{jobs}/cascaded"), &json!({"propagationPolicy": "Background"})).await;
    assert_eq!(code, 200, "{answer}");
    wait_gone(&cluster, &cascaded_pods).await;

    // `orphanDependents: false` is explicit too, and so is the default for a deletecollection.
    // (A finalizer of the test's holds the Job, so that the answer shows what the delete did.)
    let mut older = job("older");
    older["metadata"]["finalizers"] = json!(["example.com/hold"]);
    cluster.create(jobs, &older).await;
    let (code, answer) = cluster.delete(&format!("{jobs}/older"), &json!({"orphanDependents": false})).await;
    assert_eq!(code, 200, "{answer}");
    assert_eq!(finalizers(&answer), ["example.com/hold"], "{answer}");
    cluster.create(jobs, &job("listed")).await;
    let (code, answer) = cluster.send(reqwest::Method::DELETE, jobs, "", None).await;
    assert_eq!(code, 200, "{answer}");
    let listed = answer["items"].as_array().into_iter().flatten().find(|item| item["metadata"]["name"] == "listed");
    assert_eq!(listed.map(finalizers), Some(vec!["orphan".to_string()]), "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_delete_cascades_as_asked() {
    let cluster = Cluster::start();
    let _controllers = cluster.controller_manager(&["--controllers=namespace,garbagecollector"]);
    cluster.namespace("cascade").await;
    let kubeconfig = format!("--kubeconfig={}", cluster.server.kubeconfig().display());
    let kubectl = |args: Vec<&str>| {
        let mut command = tokio::process::Command::new("/usr/bin/kubectl");
        command.arg(&kubeconfig).args(["-n", "cascade"]).args(args);
        command
    };
    let mut pods = std::collections::BTreeMap::new();
    for mode in ["orphan", "foreground", "background"] {
        let owner = create_replicaset(&cluster, "cascade", mode).await;
        pods.insert(mode, create_pods(&cluster, "cascade", &owner, 2).await);
    }

    for mode in ["orphan", "foreground", "background"] {
        let cascade = format!("--cascade={mode}");
        let run = kubectl(vec!["delete", "replicaset", mode, &cascade, "--timeout=60s"]).output();
        let output = tokio::time::timeout(Duration::from_secs(90), run).await.expect("kubectl delete did not return").unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "{mode}: {stdout}\n{}", String::from_utf8_lossy(&output.stderr));
        assert_eq!(stdout.trim(), format!("replicaset.apps \"{mode}\" deleted"));
        // kubectl waits for the owner to be gone (foreground and orphan hold it until the
        // collector is done).
        assert!(!exists(&cluster, &format!("/apis/apps/v1/namespaces/cascade/replicasets/{mode}")).await, "{mode}");
    }

    for name in &pods["orphan"] {
        let pod = cluster.get(&pod_path("cascade", name)).await;
        assert_eq!(pod["kind"], "Pod", "{name}: {pod}");
        assert!(pod["metadata"]["ownerReferences"].is_null(), "{pod}");
    }
    for name in &pods["foreground"] {
        assert!(!exists(&cluster, &pod_path("cascade", name)).await, "{name} outlived its owner deleted in the foreground");
    }
    let background: Vec<String> = pods["background"].iter().map(|name| pod_path("cascade", name)).collect();
    wait_gone(&cluster, &background).await;
}

/// A namespaced custom kind, `Gizmo` in `gc.example.com`.
fn gizmos_definition() -> Value {
    json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "metadata": {"name": "gizmos.gc.example.com"},
           "spec": {"group": "gc.example.com", "scope": "Namespaced", "names": {"plural": "gizmos", "singular": "gizmo", "kind": "Gizmo"},
                    "versions": [{"name": "v1", "served": true, "storage": true,
                                  "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}]}})
}

fn gizmo(name: &str) -> Value {
    json!({"apiVersion": "gc.example.com/v1", "kind": "Gizmo", "metadata": {"name": name}, "spec": {"size": 1}})
}

fn gizmo_path(namespace: &str, name: &str) -> String {
    format!("/apis/gc.example.com/v1/namespaces/{namespace}/gizmos/{name}")
}

/// Creates the Gizmo definition and waits until its objects can be listed.
async fn define_gizmos(cluster: &Cluster) {
    cluster.create("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", &gizmos_definition()).await;
    cluster
        .wait_for("gizmos served", WAIT, || async {
            let (code, answer) = cluster.send(reqwest::Method::GET, "/apis/gc.example.com/v1/gizmos", "", None).await;
            if code == 200 { Ok(()) } else { Err(format!("{code} {answer}")) }
        })
        .await;
}

/// How long a kind a definition adds may take to be collected: the collector reads discovery
/// again every 30 s, as kube-controller-manager's does.
const DISCOVERY_WAIT: Duration = Duration::from_secs(90);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_custom_object_and_a_lease_go_with_the_configmap_that_owns_them() {
    let cluster = Cluster::start();
    define_gizmos(&cluster).await;
    let _controllers = cluster.controller_manager(&["--controllers=garbagecollector"]);
    cluster.namespace("custom").await;
    let owner = cluster.create("/api/v1/namespaces/custom/configmaps", &configmap("owner")).await;
    cluster.create("/apis/gc.example.com/v1/namespaces/custom/gizmos", &owned(gizmo("owned"), vec![reference(&owner, false, false)])).await;
    // A built-in kind no shared informer holds is collected the same way.
    let lease = json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "owned-lease"}, "spec": {"holderIdentity": "x"}});
    cluster.create("/apis/coordination.k8s.io/v1/namespaces/custom/leases", &owned(lease, vec![reference(&owner, false, false)])).await;
    let keeper = cluster.create("/api/v1/namespaces/custom/configmaps", &configmap("keeper")).await;
    cluster.create("/apis/gc.example.com/v1/namespaces/custom/gizmos", &owned(gizmo("kept"), vec![reference(&keeper, false, false)])).await;

    let (code, answer) = cluster.delete("/api/v1/namespaces/custom/configmaps/owner", &json!({"propagationPolicy": "Background"})).await;
    assert_eq!(code, 200, "{answer}");
    wait_gone(&cluster, &[gizmo_path("custom", "owned"), "/apis/coordination.k8s.io/v1/namespaces/custom/leases/owned-lease".into()]).await;
    assert!(exists(&cluster, &gizmo_path("custom", "kept")).await, "a gizmo whose owner is there stays");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_custom_owner_deleted_in_the_foreground_waits_for_its_blocking_dependents() {
    let cluster = Cluster::start();
    define_gizmos(&cluster).await;
    let _controllers = cluster.controller_manager(&["--controllers=garbagecollector"]);
    cluster.namespace("customfg").await;
    let owner = cluster.create("/apis/gc.example.com/v1/namespaces/customfg/gizmos", &gizmo("owner")).await;
    // A finalizer of the test's holds the dependent, and so the owner, until the test lets go.
    let mut blocking = owned(configmap("blocking"), vec![reference(&owner, true, true)]);
    blocking["metadata"]["finalizers"] = json!(["example.com/hold"]);
    cluster.create("/api/v1/namespaces/customfg/configmaps", &blocking).await;
    let loose = owned(configmap("loose"), vec![reference(&owner, false, false)]);
    cluster.create("/api/v1/namespaces/customfg/configmaps", &loose).await;

    let (code, answer) = cluster.delete(&format!("{}?propagationPolicy=Foreground", gizmo_path("customfg", "owner")), &json!({})).await;
    assert_eq!(code, 200, "{answer}");
    assert_eq!(finalizers(&answer), ["foregroundDeletion"], "{answer}");
    wait_gone(&cluster, &["/api/v1/namespaces/customfg/configmaps/loose".into()]).await;
    cluster
        .wait_for("the blocking configmap being deleted", WAIT, || async {
            let blocking = cluster.get("/api/v1/namespaces/customfg/configmaps/blocking").await;
            if blocking["metadata"]["deletionTimestamp"].is_string() { Ok(()) } else { Err(blocking.to_string()) }
        })
        .await;
    let waiting = cluster.get(&gizmo_path("customfg", "owner")).await;
    assert_eq!(finalizers(&waiting), ["foregroundDeletion"], "the owner waits for its blocking dependent: {waiting}");

    cluster.merge_patch("/api/v1/namespaces/customfg/configmaps/blocking", &json!({"metadata": {"finalizers": null}})).await;
    wait_gone(&cluster, &["/api/v1/namespaces/customfg/configmaps/blocking".into(), gizmo_path("customfg", "owner")]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kind_defined_after_the_collector_started_is_collected_until_its_definition_goes() {
    let cluster = Cluster::start();
    let controllers = cluster.controller_manager(&["--controllers=garbagecollector"]);
    cluster.namespace("later").await;
    // The collector has started (it collects configmaps at once).
    let probe_owner = cluster.create("/api/v1/namespaces/later/configmaps", &configmap("probe-owner")).await;
    cluster.create("/api/v1/namespaces/later/configmaps", &owned(configmap("probe"), vec![reference(&probe_owner, false, false)])).await;
    cluster.delete("/api/v1/namespaces/later/configmaps/probe-owner", &json!({})).await;
    wait_gone(&cluster, &["/api/v1/namespaces/later/configmaps/probe".into()]).await;

    define_gizmos(&cluster).await;
    let owner = cluster.create("/api/v1/namespaces/later/configmaps", &configmap("owner")).await;
    cluster.create("/apis/gc.example.com/v1/namespaces/later/gizmos", &owned(gizmo("owned"), vec![reference(&owner, false, false)])).await;
    let (code, answer) = cluster.delete("/api/v1/namespaces/later/configmaps/owner", &json!({})).await;
    assert_eq!(code, 200, "{answer}");
    cluster
        .wait_for("the gizmo collected once discovery finds its kind", DISCOVERY_WAIT, || async {
            if exists(&cluster, &gizmo_path("later", "owned")).await { Err("still there".to_string()) } else { Ok(()) }
        })
        .await;

    // The definition goes: so does the collector's watch of its kind, at its next discovery.
    let (code, answer) = cluster.delete("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/gizmos.gc.example.com", &json!({})).await;
    assert_eq!(code, 200, "{answer}");
    cluster
        .wait_for("the collector to stop collecting gizmos", DISCOVERY_WAIT, || async {
            let log = controllers.log();
            let stopped = log.lines().any(|line| line.contains("no longer collecting") && line.contains("gizmos.gc.example.com"));
            if stopped { Ok(()) } else { Err(log.lines().filter(|line| line.contains("gizmos")).collect::<Vec<_>>().join("\n")) }
        })
        .await;
}
