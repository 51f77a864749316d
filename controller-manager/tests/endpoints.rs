//! The Endpoints controller against the real apiserver and the real controller-manager binary:
//! Endpoints follow the pods a Service selects (readiness, labels, deletion, named ports), go
//! with their Service, are put back when edited by hand, are not written when nothing changed,
//! and leave Services without a selector to their users. Pod status is written by the tests, as
//! no kubelet runs.

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::Cluster;

const WAIT: Duration = Duration::from_secs(20);

fn pod(name: &str, labels: Value, ports: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels},
           "spec": {"containers": [{"name": "app", "image": "busybox:1", "ports": ports}]}})
}

fn service(name: &str, labels: Value, selector: Value, ports: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "labels": labels},
           "spec": {"selector": selector, "ports": ports}})
}

/// The Endpoints as the tests compare them: per subset the ready and not-ready IPs and the
/// ports as `name/port/protocol`, or None while there are no Endpoints.
fn summary(endpoints: &Value) -> Value {
    let ips = |list: &Value| -> Vec<Value> { list.as_array().into_iter().flatten().map(|address| address["ip"].clone()).collect() };
    let subsets: Vec<Value> = endpoints["subsets"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|subset| {
            let ports: Vec<String> = subset["ports"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|port| format!("{}/{}/{}", port["name"].as_str().unwrap_or(""), port["port"], port["protocol"].as_str().unwrap_or("")))
                .collect();
            json!({"ready": ips(&subset["addresses"]), "notReady": ips(&subset["notReadyAddresses"]), "ports": ports})
        })
        .collect();
    json!(subsets)
}

async fn wait_for_endpoints(cluster: &Cluster, namespace: &str, name: &str, expected: Value) -> Value {
    let path = format!("/api/v1/namespaces/{namespace}/endpoints/{name}");
    cluster
        .wait_for(&format!("endpoints {namespace}/{name} = {expected}"), WAIT, || async {
            match cluster.get_opt(&path).await {
                Some(endpoints) if summary(&endpoints) == expected => Ok(endpoints),
                Some(endpoints) => Err(summary(&endpoints).to_string()),
                None => Err("no endpoints".into()),
            }
        })
        .await
}

async fn wait_for_no_endpoints(cluster: &Cluster, namespace: &str, name: &str) {
    let path = format!("/api/v1/namespaces/{namespace}/endpoints/{name}");
    cluster
        .wait_for(&format!("endpoints {namespace}/{name} gone"), WAIT, || async {
            match cluster.get_opt(&path).await {
                Some(endpoints) => Err(endpoints.to_string()),
                None => Ok(()),
            }
        })
        .await
}

fn resource_version(object: &Value) -> String {
    object["metadata"]["resourceVersion"].as_str().unwrap_or_default().to_string()
}

/// Asserts the Endpoints are not written again over a few seconds of an unchanged world.
async fn assert_left_alone(cluster: &Cluster, namespace: &str, name: &str, seen: &Value) {
    tokio::time::sleep(Duration::from_secs(3)).await;
    let now = cluster.get(&format!("/api/v1/namespaces/{namespace}/endpoints/{name}")).await;
    assert_eq!(resource_version(&now), resource_version(seen), "endpoints {namespace}/{name} rewritten: {seen} then {now}");
}

/// `kubectl get endpoints <name>`'s NAME and ENDPOINTS columns.
async fn kubectl_endpoints(cluster: &Cluster, namespace: &str, name: &str) -> (String, String) {
    let output = tokio::process::Command::new("/usr/bin/kubectl")
        .arg(format!("--kubeconfig={}", cluster.server.kubeconfig().display()))
        .args(["get", "endpoints", name, "-n", namespace])
        .output()
        .await
        .unwrap_or_else(|err| panic!("cannot run kubectl: {err}"));
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    assert!(output.status.success(), "kubectl: {stdout}{}", String::from_utf8_lossy(&output.stderr));
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "kubectl: {stdout}");
    let header: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(header, ["NAME", "ENDPOINTS", "AGE"], "kubectl: {stdout}");
    let row: Vec<&str> = lines[1].split_whitespace().collect();
    (row[0].to_string(), row[1].to_string())
}

async fn relabel(cluster: &Cluster, namespace: &str, name: &str, labels: Value) {
    cluster.merge_patch(&format!("/api/v1/namespaces/{namespace}/pods/{name}"), &json!({"metadata": {"labels": labels}})).await;
}

#[tokio::test]
async fn endpoints_follow_readiness_labels_and_deletion_of_pods() {
    let cluster = Cluster::start();
    let _controller_manager = cluster.controller_manager(&["--controllers=endpoints"]);
    let ns = "shop";
    cluster.namespace(ns).await;
    cluster.node("node-1").await;
    let pods = format!("/api/v1/namespaces/{ns}/pods");
    let labels = json!({"app": "web", "tier": "front"});
    cluster.create(&format!("/api/v1/namespaces/{ns}/services"), &service("web", labels.clone(), json!({"app": "web"}), json!([{"name": "http", "port": 80, "targetPort": 8080}]))).await;

    // A Service selecting nothing yet has Endpoints all the same, empty, with its labels.
    let endpoints = wait_for_endpoints(&cluster, ns, "web", json!([])).await;
    assert_eq!(endpoints["metadata"]["labels"], labels);
    assert!(endpoints["metadata"]["ownerReferences"].is_null(), "{endpoints}");
    assert_eq!(kubectl_endpoints(&cluster, ns, "web").await, ("web".to_string(), "<none>".to_string()));

    for (name, app, ip) in [("web-1", "web", "10.244.1.11"), ("web-2", "web", "10.244.1.12"), ("other", "other", "10.244.1.13")] {
        cluster.create(&pods, &pod(name, json!({"app": app}), json!([{"name": "http", "containerPort": 8080}]))).await;
        cluster.run_pod(ns, name, "node-1", ip, true).await;
    }
    let both = json!([{"ready": ["10.244.1.11", "10.244.1.12"], "notReady": [], "ports": ["http/8080/TCP"]}]);
    let endpoints = wait_for_endpoints(&cluster, ns, "web", both.clone()).await;
    let first = &endpoints["subsets"][0]["addresses"][0];
    let web_1 = cluster.get(&format!("{pods}/web-1")).await;
    assert_eq!(first["nodeName"], "node-1");
    assert_eq!(first["targetRef"]["kind"], "Pod");
    assert_eq!(first["targetRef"]["name"], "web-1");
    assert_eq!(first["targetRef"]["namespace"], ns);
    assert_eq!(first["targetRef"]["uid"], web_1["metadata"]["uid"]);
    assert_eq!(kubectl_endpoints(&cluster, ns, "web").await, ("web".to_string(), "10.244.1.11:8080,10.244.1.12:8080".to_string()));

    // Idempotence: nothing changes, nothing is written; a pod change that does not matter to
    // the Endpoints (an annotation) writes nothing either.
    assert_left_alone(&cluster, ns, "web", &endpoints).await;
    cluster.merge_patch(&format!("{pods}/web-1"), &json!({"metadata": {"annotations": {"note": "irrelevant"}}})).await;
    assert_left_alone(&cluster, ns, "web", &endpoints).await;

    // Not ready: moved to notReadyAddresses, and back when ready again.
    cluster.set_pod_status(ns, "web-2", "10.244.1.12", false).await;
    wait_for_endpoints(&cluster, ns, "web", json!([{"ready": ["10.244.1.11"], "notReady": ["10.244.1.12"], "ports": ["http/8080/TCP"]}])).await;
    assert_eq!(kubectl_endpoints(&cluster, ns, "web").await.1, "10.244.1.11:8080");
    cluster.set_pod_status(ns, "web-2", "10.244.1.12", true).await;
    wait_for_endpoints(&cluster, ns, "web", both).await;

    // Labels: a pod that stops matching leaves, one that starts matching joins.
    relabel(&cluster, ns, "web-1", json!({"app": "retired"})).await;
    wait_for_endpoints(&cluster, ns, "web", json!([{"ready": ["10.244.1.12"], "notReady": [], "ports": ["http/8080/TCP"]}])).await;
    relabel(&cluster, ns, "other", json!({"app": "web"})).await;
    wait_for_endpoints(&cluster, ns, "web", json!([{"ready": ["10.244.1.12", "10.244.1.13"], "notReady": [], "ports": ["http/8080/TCP"]}])).await;

    // Deletion: a terminating pod (graceful delete, waiting for a kubelet) leaves at once, a
    // pod deleted outright too.
    let (code, answer) = cluster.delete(&format!("{pods}/web-2"), &json!({})).await;
    assert_eq!(code, 200, "{answer}");
    assert!(cluster.get(&format!("{pods}/web-2")).await["metadata"]["deletionTimestamp"].is_string());
    wait_for_endpoints(&cluster, ns, "web", json!([{"ready": ["10.244.1.13"], "notReady": [], "ports": ["http/8080/TCP"]}])).await;
    let (code, answer) = cluster.delete(&format!("{pods}/other"), &json!({"gracePeriodSeconds": 0})).await;
    assert_eq!(code, 200, "{answer}");
    let endpoints = wait_for_endpoints(&cluster, ns, "web", json!([])).await;
    assert_eq!(kubectl_endpoints(&cluster, ns, "web").await.1, "<none>");
    assert_left_alone(&cluster, ns, "web", &endpoints).await;
}

#[tokio::test]
async fn named_target_ports_resolve_per_pod_and_not_ready_ones_can_be_published() {
    let cluster = Cluster::start();
    let _controller_manager = cluster.controller_manager(&["--controllers=endpoints"]);
    let ns = "api";
    cluster.namespace(ns).await;
    cluster.node("node-1").await;
    let pods = format!("/api/v1/namespaces/{ns}/pods");
    let ports = json!([{"name": "http", "port": 80, "targetPort": "web"}, {"name": "metrics", "port": 9100, "targetPort": 9100}]);
    cluster.create(&format!("/api/v1/namespaces/{ns}/services"), &service("api", json!({"app": "api"}), json!({"app": "api"}), ports.clone())).await;
    let mut publishing = service("api-all", json!({"app": "api"}), json!({"app": "api"}), ports);
    publishing["spec"]["publishNotReadyAddresses"] = json!(true);
    cluster.create(&format!("/api/v1/namespaces/{ns}/services"), &publishing).await;

    // a and b name their port "web" differently, c has no such port at all and is not ready.
    cluster.create(&pods, &pod("a", json!({"app": "api"}), json!([{"name": "web", "containerPort": 8080}]))).await;
    cluster.create(&pods, &pod("b", json!({"app": "api"}), json!([{"name": "web", "containerPort": 9090}, {"name": "debug", "containerPort": 6060}]))).await;
    cluster.create(&pods, &pod("c", json!({"app": "api"}), json!([]))).await;
    cluster.run_pod(ns, "a", "node-1", "10.244.2.2", true).await;
    cluster.run_pod(ns, "b", "node-1", "10.244.2.3", true).await;
    cluster.run_pod(ns, "c", "node-1", "10.244.2.4", false).await;

    let endpoints = wait_for_endpoints(
        &cluster,
        ns,
        "api",
        json!([
            {"ready": ["10.244.2.2"], "notReady": [], "ports": ["http/8080/TCP"]},
            {"ready": ["10.244.2.2", "10.244.2.3"], "notReady": ["10.244.2.4"], "ports": ["metrics/9100/TCP"]},
            {"ready": ["10.244.2.3"], "notReady": [], "ports": ["http/9090/TCP"]},
        ]),
    )
    .await;
    // publishNotReadyAddresses: c is listed as ready.
    wait_for_endpoints(
        &cluster,
        ns,
        "api-all",
        json!([
            {"ready": ["10.244.2.2"], "notReady": [], "ports": ["http/8080/TCP"]},
            {"ready": ["10.244.2.2", "10.244.2.3", "10.244.2.4"], "notReady": [], "ports": ["metrics/9100/TCP"]},
            {"ready": ["10.244.2.3"], "notReady": [], "ports": ["http/9090/TCP"]},
        ]),
    )
    .await;
    assert_left_alone(&cluster, ns, "api", &endpoints).await;

    // b again without a port named "web": it leaves the http subset but stays on metrics.
    let (code, answer) = cluster.delete(&format!("{pods}/b"), &json!({"gracePeriodSeconds": 0})).await;
    assert_eq!(code, 200, "{answer}");
    cluster.create(&pods, &pod("b", json!({"app": "api"}), json!([{"name": "other", "containerPort": 9090}]))).await;
    cluster.run_pod(ns, "b", "node-1", "10.244.2.3", true).await;
    wait_for_endpoints(
        &cluster,
        ns,
        "api",
        json!([
            {"ready": ["10.244.2.2"], "notReady": [], "ports": ["http/8080/TCP"]},
            {"ready": ["10.244.2.2", "10.244.2.3"], "notReady": ["10.244.2.4"], "ports": ["metrics/9100/TCP"]},
        ]),
    )
    .await;
}

#[tokio::test]
async fn endpoints_go_with_their_service_come_back_when_edited_and_user_ones_stay() {
    let cluster = Cluster::start();
    let ns = "ops";
    cluster.namespace(ns).await;
    cluster.node("node-1").await;
    let services = format!("/api/v1/namespaces/{ns}/services");
    let endpoints = format!("/api/v1/namespaces/{ns}/endpoints");
    let user_endpoints = |name: &str| {
        json!({"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": name},
               "subsets": [{"addresses": [{"ip": "192.168.5.5"}], "ports": [{"name": "pg", "port": 5432, "protocol": "TCP"}]}]})
    };
    // Left over from before the controller started: Endpoints of no Service go, except a
    // leader-election lock.
    cluster.create(&endpoints, &user_endpoints("leftover")).await;
    let mut lock = user_endpoints("lock");
    lock["metadata"]["annotations"] = json!({"control-plane.alpha.kubernetes.io/leader": "{\"holderIdentity\":\"someone\"}"});
    cluster.create(&endpoints, &lock).await;
    // A Service without selector: its Endpoints are its user's.
    cluster.create(&services, &json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "database"}, "spec": {"ports": [{"name": "pg", "port": 5432}]}})).await;
    let database = cluster.create(&endpoints, &user_endpoints("database")).await;

    let _controller_manager = cluster.controller_manager(&["--controllers=endpoints"]);
    wait_for_no_endpoints(&cluster, ns, "leftover").await;

    cluster.create(&services, &service("web", json!({"app": "web"}), json!({"app": "web"}), json!([{"port": 80, "targetPort": 8080}]))).await;
    cluster.create(&format!("/api/v1/namespaces/{ns}/pods"), &pod("web-1", json!({"app": "web"}), json!([]))).await;
    cluster.run_pod(ns, "web-1", "node-1", "10.244.3.2", true).await;
    let expected = json!([{"ready": ["10.244.3.2"], "notReady": [], "ports": ["/8080/TCP"]}]);
    let managed = wait_for_endpoints(&cluster, ns, "web", expected.clone()).await;

    // A hand edit (other addresses, a label of one's own) is put back; a hand deletion too.
    cluster.merge_patch(&format!("{endpoints}/web"), &json!({"metadata": {"labels": {"mine": "yes"}}, "subsets": [{"addresses": [{"ip": "10.9.9.9"}], "ports": [{"port": 1}]}]})).await;
    let restored = wait_for_endpoints(&cluster, ns, "web", expected.clone()).await;
    assert_ne!(resource_version(&restored), resource_version(&managed));
    cluster
        .wait_for("labels put back", WAIT, || async {
            let now = cluster.get(&format!("{endpoints}/web")).await;
            if now["metadata"]["labels"] == json!({"app": "web"}) { Ok(()) } else { Err(now["metadata"].to_string()) }
        })
        .await;
    let (code, answer) = cluster.delete(&format!("{endpoints}/web"), &json!({})).await;
    assert_eq!(code, 200, "{answer}");
    let recreated = wait_for_endpoints(&cluster, ns, "web", expected).await;
    assert_ne!(recreated["metadata"]["uid"], managed["metadata"]["uid"]);

    // An ExternalName Service gets no Endpoints.
    cluster.create(&services, &json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "external"}, "spec": {"type": "ExternalName", "externalName": "example.com"}})).await;

    // The user's Endpoints and the lock were never touched.
    assert_left_alone(&cluster, ns, "database", &database).await;
    assert_eq!(summary(&cluster.get(&format!("{endpoints}/database")).await), json!([{"ready": ["192.168.5.5"], "notReady": [], "ports": ["pg/5432/TCP"]}]));
    assert!(cluster.get_opt(&format!("{endpoints}/lock")).await.is_some());
    assert!(cluster.get_opt(&format!("{endpoints}/external")).await.is_none());

    // Deleting a Service deletes its Endpoints (as Kubernetes does, selector or not).
    for name in ["web", "database"] {
        let (code, answer) = cluster.delete(&format!("{services}/{name}"), &json!({})).await;
        assert_eq!(code, 200, "{answer}");
        wait_for_no_endpoints(&cluster, ns, name).await;
    }
    // A Service created again under the same name gets Endpoints again.
    cluster.create(&services, &service("web", json!({"app": "web"}), json!({"app": "web"}), json!([{"port": 80, "targetPort": 8080}]))).await;
    wait_for_endpoints(&cluster, ns, "web", json!([{"ready": ["10.244.3.2"], "notReady": [], "ports": ["/8080/TCP"]}])).await;
}
