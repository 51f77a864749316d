//! The cluster tool as a kind user expects it (issue 27), on a kind-style 2-node cluster:
//! `delete` of an unknown cluster an error, `get kubeconfig` (host and `--internal`) that kubectl
//! uses, each node's own memory in the metrics `kubectl top nodes` reads, `load-image` saying
//! what it loads where (and a missing image in a sentence of its own), a component crashing in
//! `create` failing it in seconds with the end of its log, and `stop` then `start` bringing the
//! nodes back Ready at the addresses their certificates name. And a user's certificate by the
//! certificates API: a request approved with kubectl, signed by the controller-manager with
//! the cluster CA, and accepted by the apiserver as that user's.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{Background, Cluster, ok, text};

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn the_cluster_tool_as_a_kind_user_expects_it() {
    let cluster = Cluster::create(2, None);
    let nodes = [cluster.node("control-plane"), cluster.node("worker")];

    unknown_clusters_are_errors(&cluster);
    kubeconfig_for_the_host_and_the_network(&cluster);
    a_users_certificate_through_the_certificates_api(&cluster);
    each_node_reports_its_own_memory(&cluster, &nodes);
    images_load_where_they_are_missing(&cluster, &nodes);
    a_crashing_component_fails_create_in_seconds(&cluster);
    stopped_and_started_the_nodes_come_back(&cluster, &nodes);
}

fn unknown_clusters_are_errors(cluster: &Cluster) {
    let missing = format!("{}-nosuch", cluster.name);
    for args in [vec!["delete", "--name", &missing], vec!["stop", "--name", &missing], vec!["start", "--name", &missing], vec!["get", "kubeconfig", "--name", &missing]] {
        let output = cluster.tool(&args);
        assert_eq!(output.status.code(), Some(1), "{args:?}: {output:?}");
        assert_eq!(stderr(&output), format!("error: no cluster named {missing:?}\n"), "{args:?}");
        assert_eq!(text(&output), "", "{args:?}");
    }
}

fn kubeconfig_for_the_host_and_the_network(cluster: &Cluster) {
    // The harness's KUBECONFIG held nothing before create: what create wrote is what is printed.
    let printed = ok(cluster.tool(&["get", "kubeconfig", "--name", &cluster.name]));
    assert_eq!(printed, std::fs::read_to_string(cluster.kubeconfig()).unwrap());
    let path = cluster.dir.path().join("printed-kubeconfig");
    std::fs::write(&path, &printed).unwrap();
    let listed = ok(Command::new("kubectl").arg(format!("--kubeconfig={}", path.display())).args(["get", "nodes", "-o", "name"]).output().unwrap());
    assert_eq!(listed, format!("node/{}\nnode/{}\n", cluster.node("control-plane"), cluster.node("worker")));

    let internal = ok(cluster.tool(&["get", "kubeconfig", "--name", &cluster.name, "--internal"]));
    let config: serde_yaml_ng::Value = serde_yaml_ng::from_str(&internal).unwrap();
    assert_eq!(config["clusters"][0]["cluster"]["server"].as_str(), Some(format!("https://{}:6443", cluster.node("control-plane")).as_str()), "{internal}");
    assert_eq!(internal.replace(config["clusters"][0]["cluster"]["server"].as_str().unwrap(), "SERVER"), printed.replace(&server(&printed), "SERVER"), "only the address differs");
}

/// openssl in the test's directory, which must succeed.
fn openssl(cluster: &Cluster, args: &[&str]) {
    ok(Command::new("openssl").current_dir(cluster.dir.path()).args(args).output().unwrap());
}

fn a_users_certificate_through_the_certificates_api(cluster: &Cluster) {
    use base64::Engine;
    let base64 = base64::engine::general_purpose::STANDARD;
    openssl(cluster, &["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "alice.key", "-subj", "/CN=alice/O=devs", "-out", "alice.csr"]);
    let request = base64.encode(std::fs::read(cluster.dir.path().join("alice.csr")).unwrap());
    let manifest = format!(
        "apiVersion: certificates.k8s.io/v1\nkind: CertificateSigningRequest\nmetadata:\n  name: alice\nspec:\n  request: {request}\n  signerName: kubernetes.io/kube-apiserver-client\n  expirationSeconds: 3600\n  usages: [client auth]\n"
    );
    ok(cluster.kubectl_stdin(&["create", "-f", "-"], &manifest));
    assert_eq!(ok(cluster.kubectl(&["certificate", "approve", "alice"])), "certificatesigningrequest.certificates.k8s.io/alice approved\n");
    let issued = || !cluster.jsonpath(&["csr", "alice"], "{.status.certificate}").is_empty();
    cluster.wait("alice's certificate issued", 60, issued, || text(&cluster.kubectl(&["get", "csr", "alice", "-o", "yaml"])));
    let certificate = base64.decode(cluster.jsonpath(&["csr", "alice"], "{.status.certificate}").trim()).unwrap();
    std::fs::write(cluster.dir.path().join("alice.crt"), certificate).unwrap();
    let (crt, key) = (cluster.dir.path().join("alice.crt"), cluster.dir.path().join("alice.key"));
    // kubectl refuses --client-certificate beside the kubeconfig's own certificate data, so
    // alice's kubectl gets an empty kubeconfig and the server and CA as flags.
    let url = ok(cluster.kubectl(&["config", "view", "--minify", "-o", "jsonpath={.clusters[0].cluster.server}"]));
    cluster.curl_credentials();
    let empty = cluster.dir.path().join("empty.kubeconfig");
    std::fs::write(&empty, "").unwrap();
    let whoami = Command::new("kubectl")
        .arg(format!("--kubeconfig={}", empty.display()))
        .arg(format!("--server={url}"))
        .arg(format!("--certificate-authority={}", cluster.dir.path().join("ca.crt").display()))
        .arg(format!("--client-certificate={}", crt.display()))
        .arg(format!("--client-key={}", key.display()))
        .args(["auth", "whoami", "-o", "jsonpath={.status.userInfo.username} {.status.userInfo.groups}"])
        .output()
        .unwrap();
    assert_eq!(ok(whoami), r#"alice ["devs","system:authenticated"]"#);
}

fn server(kubeconfig: &str) -> String {
    let config: serde_yaml_ng::Value = serde_yaml_ng::from_str(kubeconfig).unwrap();
    config["clusters"][0]["cluster"]["server"].as_str().unwrap().to_string()
}

/// A node's memory working set as the host's cgroups (v1) say: its container's and its pods'
/// tree's, each its usage less its inactive file cache.
fn cgroup_working_set(cluster: &Cluster, node: &str) -> u64 {
    let id = ok(cluster.docker(&["inspect", "-f", "{{.Id}}", node])).trim().to_string();
    let read = |cgroup: &str| -> u64 {
        let dir = Path::new("/sys/fs/cgroup/memory").join(cgroup);
        let Ok(usage) = std::fs::read_to_string(dir.join("memory.usage_in_bytes")) else { return 0 };
        let stat = std::fs::read_to_string(dir.join("memory.stat")).unwrap_or_default();
        let inactive: u64 = stat.lines().find_map(|line| line.strip_prefix("total_inactive_file ")?.trim().parse().ok()).unwrap_or(0);
        usage.trim().parse::<u64>().unwrap().saturating_sub(inactive)
    };
    assert!(Path::new("/sys/fs/cgroup/memory/docker").join(&id).exists(), "the node's container cgroup under the host's cgroup v1 memory hierarchy");
    read(&format!("docker/{id}")) + read(&format!("cluster-{}/{node}", cluster.name))
}

/// The memory (bytes) of a node's NodeMetrics, once there.
fn metrics_memory(cluster: &Cluster, node: &str) -> Option<u64> {
    let output = cluster.kubectl(&["get", "--raw", &format!("/apis/metrics.k8s.io/v1beta1/nodes/{node}")]);
    let metrics: Value = serde_json::from_str(&text(&output)).ok()?;
    let memory = metrics["usage"]["memory"].as_str()?;
    memory.strip_suffix("Ki")?.parse::<u64>().ok().map(|kib| kib * 1024)
}

fn each_node_reports_its_own_memory(cluster: &Cluster, nodes: &[String; 2]) {
    // The host's memory in use (what every node reported before) is far from one node's own; a
    // node's own usage moves by far less than half between the kubelet's sample and ours.
    let last = std::cell::RefCell::new(String::new());
    let own = || {
        let reported: Vec<Option<u64>> = nodes.iter().map(|node| metrics_memory(cluster, node)).collect();
        let expected: Vec<u64> = nodes.iter().map(|node| cgroup_working_set(cluster, node)).collect();
        *last.borrow_mut() = format!("reported {reported:?}, the nodes' cgroups {expected:?}");
        reported.iter().zip(&expected).all(|(reported, expected)| reported.is_some_and(|reported| reported > expected / 2 && reported < expected * 2)) && reported[0] != reported[1]
    };
    cluster.wait("each node's memory in its NodeMetrics, its own", 90, own, || last.borrow().clone());
    let top = ok(cluster.kubectl(&["top", "nodes", "--no-headers"]));
    let memory = |node: &str| top.lines().find(|line| line.starts_with(&format!("{node} "))).and_then(|line| line.split_whitespace().nth(3)).map(str::to_string);
    assert!(memory(&nodes[0]).is_some() && memory(&nodes[1]).is_some(), "{top}");
}

/// An image made for the test alone, removed from Docker when the test ends.
struct TestImage(String);

impl TestImage {
    fn new(cluster: &Cluster) -> Self {
        let dir = cluster.dir.path().join("image");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("made-for"), &cluster.name).unwrap();
        let archive = cluster.dir.path().join("image.tar");
        ok(Command::new("tar").arg("-C").arg(&dir).arg("-cf").arg(&archive).arg(".").output().unwrap());
        let name = format!("localhost/cluster-tool-test:{}", cluster.name);
        ok(cluster.docker(&["import", &archive.display().to_string(), &name]));
        Self(name)
    }
}

impl Drop for TestImage {
    fn drop(&mut self) {
        let _ = Command::new("docker").args(["rmi", &self.0]).output();
    }
}

fn images_load_where_they_are_missing(cluster: &Cluster, nodes: &[String; 2]) {
    let missing = cluster.tool(&["load-image", "localhost/no-such-image:none", "--name", &cluster.name]);
    assert_eq!(missing.status.code(), Some(1), "{missing:?}");
    assert_eq!(stderr(&missing), "error: image \"localhost/no-such-image:none\" not present locally\n");

    let image = TestImage::new(cluster);
    let id = ok(cluster.docker(&["image", "inspect", "-f", "{{.Id}}", &image.0])).trim().to_string();
    let loaded = ok(cluster.tool(&["load-image", &image.0, "--name", &cluster.name]));
    let expected: String = nodes.iter().map(|node| format!("Image: {:?} with ID {id:?} not yet present on node {node:?}, loading...\n", image.0)).collect();
    assert_eq!(loaded, expected);
    for node in nodes {
        let listed = ok(cluster.docker(&["exec", node, "ctr", "-n", "k8s.io", "images", "ls", "-q"]));
        assert!(listed.lines().any(|line| line == image.0), "{node} has {}: {listed}", image.0);
    }
    let again = ok(cluster.tool(&["load-image", &image.0, "--name", &cluster.name]));
    assert_eq!(again, format!("Image: {:?} with ID {id:?} found to be already present on all nodes.\n", image.0));
}

fn a_crashing_component_fails_create_in_seconds(cluster: &Cluster) {
    let broken = format!("{}-broken", cluster.name);
    let config = cluster.dir.path().join("broken.yaml");
    std::fs::write(&config, "apiserver: [\"--no-such-flag\"]\n").unwrap();
    let mut command = Command::new(cluster.binaries.join("cluster"));
    command.args(["create", "--name", &broken, "--wait", "300", "--config", &config.display().to_string()]).env("KUBECONFIG", cluster.dir.path().join("broken-kubeconfig"));
    let mut create = Background::start(command);
    create.wait_stdout("the broken cluster's nodes prepared", 600, |stdout| stdout.contains("Preparing nodes"));
    let prepared = Instant::now();
    let finished = create.finish(300);
    let since = prepared.elapsed();
    assert!(finished.exited(1), "{finished:?}");
    assert!(since < Duration::from_secs(60), "failed {since:?} after the nodes were prepared, not after the 300 s wait: {finished:?}");
    let node = format!("{broken}-control-plane");
    assert!(finished.stderr.contains(&format!("error: apiserver on node {node} exited (")), "{}", finished.stderr);
    assert!(finished.stderr.contains("the last lines of its log (/var/log/cluster/apiserver.log):\n"), "{}", finished.stderr);
    assert!(finished.stderr.contains("--no-such-flag"), "the log's tail names the flag: {}", finished.stderr);
    assert!(!finished.stderr.contains("kube_client"), "no connection errors of kube's client while waiting: {}", finished.stderr);
    // Each step with its own time, which is why the node image's (already built) is short.
    assert!(finished.stdout.contains(" ✓ Preparing nodes ("), "{}", finished.stdout);
    for leftover in [cluster.docker(&["ps", "-a", "--filter", &format!("label=dev.cluster.name={broken}"), "-q"]), cluster.docker(&["network", "ls", "-q", "--filter", &format!("label=dev.cluster.name={broken}")])] {
        assert_eq!(text(&leftover).trim(), "", "nothing of the failed cluster is left");
    }
    let _ = std::fs::remove_dir_all(std::env::temp_dir().join(format!("cluster-{broken}-failed-logs")));
}

fn stopped_and_started_the_nodes_come_back(cluster: &Cluster, nodes: &[String; 2]) {
    let addresses: Vec<String> = nodes.iter().map(|node| cluster.node_ip(node)).collect();
    assert_eq!(ok(cluster.tool(&["stop", "--name", &cluster.name])), format!("Stopped cluster {:?}\n", cluster.name));
    let running = cluster.docker(&["ps", "--filter", &format!("label=dev.cluster.name={}", cluster.name), "-q"]);
    assert_eq!(text(&running).trim(), "", "every container stopped");
    assert!(!cluster.kubectl(&["get", "nodes", "--request-timeout=3s"]).status.success(), "no apiserver while stopped");

    assert_eq!(ok(cluster.tool(&["start", "--name", &cluster.name])), format!("Started cluster {:?}: 2 nodes Ready\n", cluster.name));
    let after: Vec<String> = nodes.iter().map(|node| cluster.node_ip(node)).collect();
    assert_eq!(after, addresses, "each node back at the address its certificates name");
    let ready = cluster.jsonpath(&["nodes"], "{range .items[*]}{.metadata.name}={.status.conditions[?(@.type==\"Ready\")].status} {end}");
    assert_eq!(ready.trim(), format!("{}=True {}=True", nodes[0], nodes[1]));
    // The apiserver reaches the kubelets again (their serving certificates name their addresses).
    let dns_logs = || cluster.kubectl(&["logs", "-n", "kube-system", "deployment/cluster-dns", "--tail=1"]).status.success();
    cluster.wait("the logs of a pod after the start", 120, dns_logs, || stderr(&cluster.kubectl(&["logs", "-n", "kube-system", "deployment/cluster-dns", "--tail=1"])));
}
