//! End to end on a kind-style 3-node cluster: the demo app deployed, spread, reached, rolled and
//! rolled back with both `ctl` and `kubectl`; the cluster surviving its components' crashes and a
//! stopped worker.

#![allow(clippy::unwrap_used)]

mod support;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use support::{Cluster, ok, text};

const DEMO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../manifests/demo/app.yaml");

/// One cluster at a time: two on 2 cores make the timing of each less like a user's.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// The demo's running pods that are not being deleted: (name, node, IP).
fn demo_pods(cluster: &Cluster, namespace: &str) -> Vec<(String, String, String)> {
    let path = "{range .items[*]}{.metadata.name} {.spec.nodeName} {.status.podIP} {.metadata.deletionTimestamp}{\"\\n\"}{end}";
    let out = cluster.jsonpath(&["pods", "-n", namespace, "-l", "app=example", "--field-selector=status.phase=Running"], path);
    out.lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            match fields[..] {
                [name, node, ip] => Some((name.to_string(), node.to_string(), ip.to_string())),
                _ => None,
            }
        })
        .collect()
}

/// The URL the demo serves (its ConfigMap's `url` key), through the NodePort of `node`.
fn node_port_url(cluster: &Cluster, namespace: &str, node: &str) -> String {
    let port = cluster.jsonpath(&["svc", "example-service", "-n", namespace], "{.spec.ports[0].nodePort}");
    format!("http://{}:{port}/url", cluster.node_ip(node))
}

/// A pod on `node` that asks `target` (`ip:port`) for /url `count` times; its log.
fn ask_from_pod(cluster: &Cluster, namespace: &str, name: &str, node: &str, target: &str, count: usize) -> String {
    let (host, port) = target.split_once(':').unwrap();
    // busybox's wget crashes on Debian 12 (a static glibc build); nc speaks plain HTTP well enough.
    let script = format!("for i in $(seq {count}); do printf 'GET /url HTTP/1.0\\r\\n\\r\\n' | nc -w 3 {host} {port} | tail -n 1; echo; done");
    let overrides = format!(r#"{{"spec":{{"nodeName":"{node}","tolerations":[{{"operator":"Exists"}}]}}}}"#);
    ok(cluster.kubectl(&["run", name, "-n", namespace, "--image=localhost/busybox:local", "--restart=Never", &format!("--overrides={overrides}"), "--", "sh", "-c", &script]));
    cluster.wait(&format!("pod {name} done"), 60, || cluster.jsonpath(&["pod", name, "-n", namespace], "{.status.phase}") == "Succeeded", || text(&cluster.kubectl(&["describe", "pod", name, "-n", namespace])));
    text(&cluster.kubectl(&["logs", name, "-n", namespace]))
}

/// The demo through `client`: apply, spread over the workers, reached from a pod on another node
/// and through the NodePort from the host, a rolling update to a new image with requests running
/// throughout, undo, scale, logs and delete.
fn demo_scenario(cluster: &Cluster, client: &str) {
    let namespace = format!("demo-{client}");
    ok(cluster.client(client, &["create", "namespace", &namespace]));
    ok(cluster.client(client, &["apply", "-n", &namespace, "-f", DEMO]));
    ok(cluster.client(client, &["rollout", "status", "deployment/example", "-n", &namespace, "--timeout=90s"]));
    let listed = ok(cluster.client(client, &["get", "pods", "-n", &namespace, "-o", "wide"]));
    assert!(listed.contains("Running"), "{listed}");

    let pods = demo_pods(cluster, &namespace);
    let workers = [cluster.node("worker"), cluster.node("worker2")];
    let nodes: std::collections::BTreeSet<&str> = pods.iter().map(|(_, node, _)| node.as_str()).collect();
    assert_eq!(nodes, workers.iter().map(String::as_str).collect(), "the two replicas spread over the workers: {pods:?}");

    // From a pod on one worker to the pod on the other (pod IP), and to the Service.
    let (_, far_node, far_ip) = pods.iter().find(|(_, node, _)| *node == workers[1]).unwrap().clone();
    let direct = ask_from_pod(cluster, &namespace, "direct", &workers[0], &format!("{far_ip}:5000"), 1);
    assert_eq!(direct.trim(), "example-service", "pod on {} to pod {far_ip} on {far_node}", workers[0]);
    let cluster_ip = cluster.jsonpath(&["svc", "example-service", "-n", &namespace], "{.spec.clusterIP}");
    let through_service = ask_from_pod(cluster, &namespace, "via-service", &workers[0], &format!("{cluster_ip}:80"), 6);
    assert_eq!(through_service.lines().filter(|line| *line == "example-service").count(), 6, "{through_service}");
    for node in [cluster.node("control-plane"), workers[0].clone(), workers[1].clone()] {
        assert_eq!(Cluster::http_get(&node_port_url(cluster, &namespace, &node)).as_deref(), Ok("example-service"), "NodePort on {node} from the host");
    }

    // A rolling update to a new image, with a client asking all along.
    let url = node_port_url(cluster, &namespace, &workers[0]);
    let (asked, failed, stop) = (Arc::new(AtomicUsize::new(0)), Arc::new(Mutex::new(Vec::new())), Arc::new(AtomicBool::new(false)));
    let asker = {
        let (asked, failed, stop, url) = (asked.clone(), failed.clone(), stop.clone(), url.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                match Cluster::http_get(&url) {
                    Ok(body) if body == "example-service" => {}
                    other => failed.lock().unwrap().push(format!("{other:?}")),
                }
                asked.fetch_add(1, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };
    // `set image` is kubectl's alone; ctl users edit the manifest and apply it.
    ok(cluster.kubectl(&["set", "image", "deployment/example", "-n", &namespace, "web=localhost/demo:v2"]));
    ok(cluster.client(client, &["rollout", "status", "deployment/example", "-n", &namespace, "--timeout=120s"]));
    std::thread::sleep(Duration::from_secs(4));
    stop.store(true, Ordering::Relaxed);
    asker.join().unwrap();
    let failures = failed.lock().unwrap().clone();
    assert!(failures.is_empty(), "{} of {} requests failed during the rolling update: {failures:?}", failures.len(), asked.load(Ordering::Relaxed));
    assert!(asked.load(Ordering::Relaxed) > 50, "the client kept asking");
    let images = cluster.jsonpath(&["pods", "-n", &namespace, "-l", "app=example"], "{.items[*].spec.containers[0].image}");
    assert!(images.split_whitespace().all(|image| image == "localhost/demo:v2"), "{images}");

    ok(cluster.client(client, &["rollout", "undo", "deployment/example", "-n", &namespace]));
    ok(cluster.client(client, &["rollout", "status", "deployment/example", "-n", &namespace, "--timeout=120s"]));
    assert_eq!(cluster.jsonpath(&["deployment", "example", "-n", &namespace], "{.spec.template.spec.containers[0].image}"), "localhost/busybox:local");

    ok(cluster.client(client, &["scale", "deployment/example", "-n", &namespace, "--replicas=3"]));
    ok(cluster.client(client, &["rollout", "status", "deployment/example", "-n", &namespace, "--timeout=90s"]));
    assert_eq!(demo_pods(cluster, &namespace).len(), 3);
    let logs = cluster.client(client, &["logs", "deployment/example", "-n", &namespace]);
    assert!(logs.status.success(), "{}", String::from_utf8_lossy(&logs.stderr));

    ok(cluster.client(client, &["delete", "-n", &namespace, "-f", DEMO]));
    cluster.wait("demo pods gone", 90, || demo_pods(cluster, &namespace).is_empty() && text(&cluster.kubectl(&["get", "pods", "-n", &namespace, "-l", "app=example", "-o", "name"])).trim().is_empty(), || text(&cluster.kubectl(&["get", "pods", "-n", &namespace])));
}

/// A second image version for rolling updates: the test busybox image under another name, loaded
/// from the local Docker engine into every node, as `kind load docker-image` does.
fn load_second_version(cluster: &Cluster) {
    let images = cluster.dir.path().join("images");
    ok(std::process::Command::new("bash").arg(concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/build-test-images.sh")).arg(&images).output().unwrap());
    ok(cluster.docker(&["load", "-i", &images.join("images.tar").display().to_string()]));
    ok(cluster.docker(&["tag", "localhost/busybox:local", "localhost/demo:v2"]));
    ok(cluster.tool(&["load-image", "localhost/demo:v2", "--name", &cluster.name]));
}

#[test]
fn the_demo_runs_rolls_and_rolls_back_with_ctl_and_kubectl() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let cluster = Cluster::create(3, None);
    let nodes = ok(cluster.kubectl(&["get", "nodes"]));
    assert_eq!(nodes.lines().filter(|line| line.contains(" Ready ")).count(), 3, "{nodes}");
    assert_eq!(ok(cluster.tool(&["get", "nodes", "--name", &cluster.name])).lines().count(), 3);
    assert!(ok(cluster.tool(&["get", "clusters"])).lines().any(|line| line == cluster.name));
    load_second_version(&cluster);
    demo_scenario(&cluster, "kubectl");
    demo_scenario(&cluster, "ctl");
}

#[test]
fn the_cluster_survives_crashed_components_and_a_stopped_worker() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let config = "apiserver: [\"--default-not-ready-toleration-seconds=5\", \"--default-unreachable-toleration-seconds=5\"]\n\
                  controllerManager: [\"--node-monitor-grace-period-seconds=10\"]\n";
    let cluster = Cluster::create(3, Some(config));
    ok(cluster.kubectl(&["create", "namespace", "demo"]));
    ok(cluster.kubectl(&["apply", "-n", "demo", "-f", DEMO]));
    ok(cluster.kubectl(&["rollout", "status", "deployment/example", "-n", "demo", "--timeout=90s"]));
    let control_plane = cluster.node("control-plane");

    // Each control-plane component killed in turn; its supervisor starts it again and the
    // cluster goes on from what is stored.
    for (component, replicas) in [("apiserver", 3), ("scheduler", 4), ("controller-manager", 2)] {
        ok(cluster.docker(&["exec", &control_plane, "killall", "-9", component]));
        cluster.wait(&format!("{component} back"), 60, || cluster.kubectl(&["get", "--raw", "/readyz"]).status.success(), String::new);
        ok(cluster.kubectl(&["scale", "deployment/example", "-n", "demo", &format!("--replicas={replicas}")]));
        let check = || cluster.jsonpath(&["deployment", "example", "-n", "demo"], "{.status.availableReplicas}/{.status.replicas}") == format!("{replicas}/{replicas}") && demo_pods(&cluster, "demo").len() == replicas;
        cluster.wait(&format!("{replicas} replicas after killing the {component}"), 90, check, || text(&cluster.kubectl(&["get", "pods", "-n", "demo", "-o", "wide"])));
        let names = ok(cluster.kubectl(&["get", "cm,secret,svc,deploy", "-n", "demo", "-o", "name"]));
        for object in ["configmap/example-config", "secret/example-secret", "service/example-service", "deployment.apps/example"] {
            assert!(names.lines().any(|line| line == object), "{object} survived the {component}'s crash: {names}");
        }
    }

    // A stopped worker: NotReady, its pods recreated on the other worker; started again, Ready.
    let (stopped, other) = (cluster.node("worker2"), cluster.node("worker"));
    ok(cluster.docker(&["stop", &stopped]));
    let ready = |node: &str| cluster.jsonpath(&["node", node], "{.status.conditions[?(@.type==\"Ready\")].status}");
    cluster.wait("the stopped worker NotReady", 60, || ready(&stopped) != "True", || ready(&stopped));
    let all_on_other = || {
        let pods = demo_pods(&cluster, "demo");
        pods.len() == 2 && pods.iter().all(|(_, node, _)| *node == other)
    };
    cluster.wait("the demo's pods recreated on the other worker", 120, all_on_other, || text(&cluster.kubectl(&["get", "pods", "-n", "demo", "-o", "wide"])));
    assert_eq!(Cluster::http_get(&node_port_url(&cluster, "demo", &other)).as_deref(), Ok("example-service"));
    ok(cluster.docker(&["start", &stopped]));
    cluster.wait("the worker Ready again", 60, || ready(&stopped) == "True", || ready(&stopped));
}
