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
    // Debian 12's busybox wget crashes when given a timeout (-T); nc with -w speaks plain HTTP well enough.
    let script = format!("for i in $(seq {count}); do printf 'GET /url HTTP/1.0\\r\\n\\r\\n' | nc -w 3 {host} {port} | tail -n 1; echo; done");
    cluster.run_on(namespace, name, node, &script)
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

    if client == "kubectl" {
        // A pod the Service selects but that is not Ready gets no traffic.
        let unready = r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"unready","labels":{"app":"example"}},"spec":{"containers":[{"name":"web","image":"localhost/busybox:local",
            "command":["sh","-c","mkdir /www && echo wrong > /www/url && httpd -f -p 5000 -h /www"],"ports":[{"containerPort":5000}],
            "readinessProbe":{"exec":{"command":["false"]},"periodSeconds":1}}]}}"#;
        ok(cluster.kubectl_stdin(&["apply", "-n", &namespace, "-f", "-"], unready));
        cluster.wait("the unready pod running", 60, || cluster.jsonpath(&["pod", "unready", "-n", &namespace], "{.status.phase}") == "Running", String::new);
        let url = node_port_url(cluster, &namespace, &workers[1]);
        for _ in 0..20 {
            assert_eq!(Cluster::http_get(&url).as_deref(), Ok("example-service"), "only ready pods answer");
        }
        ok(cluster.kubectl(&["delete", "pod", "unready", "-n", &namespace, "--grace-period=1"]));
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
    // The old pods finish their preStop hook and grace period after the rollout is complete.
    let images = || cluster.jsonpath(&["pods", "-n", &namespace, "-l", "app=example"], "{.items[*].spec.containers[0].image}");
    cluster.wait("only pods of the new image", 60, || images().split_whitespace().all(|image| image == "localhost/demo:v2"), images);

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

/// The test images (`localhost/busybox:local`, `localhost/pause:local`) in the local Docker engine.
/// A second image version for rolling updates: the test busybox image under another name, loaded
/// from the local Docker engine into every node, as `kind load docker-image` does.
fn load_second_version(cluster: &Cluster) {
    cluster.load_test_images_into_docker();
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

#[test]
fn etcd_ha_keeps_working_without_one_control_plane() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let cluster = Cluster::create_with(4, None, &["--storage", "etcd-ha"]);
    let nodes = ok(cluster.kubectl(&["get", "nodes"]));
    assert_eq!(nodes.lines().filter(|line| line.contains(" Ready ")).count(), 4, "{nodes}");
    assert_eq!(nodes.lines().filter(|line| line.contains("control-plane")).count(), 3, "{nodes}");
    ok(cluster.kubectl(&["create", "namespace", "demo"]));
    ok(cluster.kubectl(&["apply", "-n", "demo", "-f", DEMO]));
    ok(cluster.kubectl(&["rollout", "status", "deployment/example", "-n", "demo", "--timeout=90s"]));
    // Pods reach the API through the Service `kubernetes`, whose Endpoints list the apiservers alive.
    let apiservers = || cluster.jsonpath(&["endpoints", "kubernetes", "-n", "default"], "{.subsets[*].addresses[*].ip}");
    let address = |node: &str| cluster.jsonpath(&["node", &cluster.node(node)], "{.status.addresses[?(@.type==\"InternalIP\")].address}");
    let mut all: Vec<String> = ["control-plane", "control-plane2", "control-plane3"].iter().map(|node| address(node)).collect();
    all.sort();
    cluster.wait("the three apiservers in the kubernetes Endpoints", 30, || apiservers() == all.join(" "), apiservers);
    // A third of etcd gone (with an apiserver, and perhaps the leading scheduler or
    // controller-manager): the others keep the cluster going.
    ok(cluster.docker(&["stop", &cluster.node("control-plane3")]));
    // While the remaining members elect a leader, a write may be refused with 503 ("etcdserver:
    // leader changed"), as kube-apiserver refuses it; a user tries again.
    let scaled = || {
        let output = cluster.kubectl(&["scale", "deployment/example", "-n", "demo", "--replicas=3"]);
        let stderr = String::from_utf8_lossy(&output.stderr).to_string();
        assert!(output.status.success() || stderr.contains("Unavailable") || stderr.contains("leader"), "scale failed otherwise: {stderr}");
        output.status.success()
    };
    cluster.wait("a scale accepted while etcd elects a leader", 30, scaled, String::new);
    let three = || cluster.jsonpath(&["deployment", "example", "-n", "demo"], "{.status.availableReplicas}") == "3";
    cluster.wait("3 replicas with a control plane down", 90, three, || text(&cluster.kubectl(&["get", "pods", "-n", "demo", "-o", "wide"])));
    let gone = address("control-plane3");
    cluster.wait("the stopped apiserver out of the kubernetes Endpoints", 60, || !apiservers().contains(&gone), apiservers);
    ok(cluster.docker(&["start", &cluster.node("control-plane3")]));
    let ready = || cluster.jsonpath(&["node", &cluster.node("control-plane3")], "{.status.conditions[?(@.type==\"Ready\")].status}") == "True";
    cluster.wait("the control plane back", 90, ready, String::new);
    cluster.wait("the three apiservers in the kubernetes Endpoints again", 30, || apiservers() == all.join(" "), apiservers);
    assert_eq!(cluster.jsonpath(&["deployment", "example", "-n", "demo"], "{.spec.replicas}"), "3");
}

#[test]
fn the_tool_serves_a_local_registry_refuses_a_taken_name_and_leaves_nothing_behind() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port().to_string();
    let cluster = Cluster::create_with(2, None, &["--storage", "etcd", "--registry", &port]);

    // An image pushed to the local registry from the host is pulled by a pod through the
    // kubelet's normal pull path.
    cluster.load_test_images_into_docker();
    let image = format!("localhost:{port}/hello:1");
    ok(cluster.docker(&["tag", "localhost/busybox:local", &image]));
    ok(cluster.docker(&["push", &image]));
    let overrides = r#"{"spec":{"containers":[{"name":"hello","image":"IMAGE","imagePullPolicy":"Always","command":["echo","pulled"]}]}}"#.replace("IMAGE", &image);
    ok(cluster.kubectl(&["run", "hello", &format!("--image={image}"), "--restart=Never", &format!("--overrides={overrides}")]));
    let done = || cluster.jsonpath(&["pod", "hello"], "{.status.phase}") == "Succeeded";
    cluster.wait("the pod from the local registry", 60, done, || text(&cluster.kubectl(&["describe", "pod", "hello"])));
    assert_eq!(text(&cluster.kubectl(&["logs", "hello"])), "pulled\n");
    let _ = cluster.docker(&["rmi", &image]);
    assert_eq!(ok(cluster.tool(&["get", "nodes", "--name", &cluster.name])).lines().count(), 2, "the registry is no node");
    let again = cluster.tool(&["create", "--name", &cluster.name]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains(&format!("a cluster named \"{}\" already exists", cluster.name)), "{again:?}");
    assert!(ok(cluster.kubectl(&["get", "nodes"])).contains(" Ready "), "the existing cluster is untouched");

    let logs = cluster.dir.path().join("logs");
    ok(cluster.tool(&["export", "logs", &logs.display().to_string(), "--name", &cluster.name]));
    for log in ["cluster/apiserver.log", "cluster/etcd.log", "cluster/kubelet.log", "containerd.log"] {
        let path = logs.join(cluster.node("control-plane")).join(log);
        assert!(std::fs::metadata(&path).is_ok_and(|m| m.len() > 0), "{} exported", path.display());
    }

    // A create that fails (a kubelet that cannot start) removes what it made.
    let broken = format!("{}-broken", cluster.name);
    let config = cluster.dir.path().join("broken.yaml");
    std::fs::write(&config, "kubelet: [\"--no-such-flag\"]\n").unwrap();
    let failed = cluster.tool(&["create", "--name", &broken, "--nodes", "2", "--wait", "15", "--config", &config.display().to_string()]);
    assert!(!failed.status.success());
    assert!(String::from_utf8_lossy(&failed.stderr).contains("kubelet on node"), "{}", String::from_utf8_lossy(&failed.stderr));
    for leftover in [cluster.docker(&["ps", "-a", "--filter", &format!("label=dev.cluster.name={broken}"), "-q"]), cluster.docker(&["network", "ls", "-q", "--filter", &format!("label=dev.cluster.name={broken}")])] {
        assert_eq!(text(&leftover).trim(), "", "nothing of the failed cluster is left");
    }
    assert!(!std::path::Path::new(&format!("/sys/fs/cgroup/memory/cluster-{broken}")).exists());
    let _ = std::fs::remove_dir_all(std::env::temp_dir().join(format!("cluster-{broken}-failed-logs")));

    // Without Docker, the tool says so and what to do.
    let without = std::process::Command::new(cluster.binaries.join("cluster")).args(["get", "clusters"]).env("PATH", "/nonexistent").output().unwrap();
    assert!(!without.status.success());
    assert!(String::from_utf8_lossy(&without.stderr).contains("Docker is not available"), "{without:?}");

    ok(cluster.tool(&["delete", "--name", &cluster.name]));
    assert_eq!(text(&cluster.docker(&["ps", "-a", "--filter", &format!("label=dev.cluster.name={}", cluster.name), "-q"])).trim(), "");
    assert!(!std::path::Path::new(&format!("/sys/fs/cgroup/memory/cluster-{}", cluster.name)).exists(), "the nodes' cgroups are gone");
    assert!(!ok(cluster.tool(&["get", "clusters"])).lines().any(|line| line == cluster.name));
}
