//! Cluster DNS end to end: the `cluster-dns` Deployment the cluster tool installs behind
//! `kube-dns` (10.96.0.10), asked from pods on every node as applications ask it.

#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use support::{Cluster, ok, text};

const DEMO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../manifests/demo/app.yaml");
const CLIENT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../manifests/demo/client.yaml");
const DOMAIN: &str = "cluster.local";

fn dns_available(cluster: &Cluster) -> bool {
    cluster.jsonpath(&["deployment", "cluster-dns", "-n", "kube-system"], "{.status.availableReplicas}") == "2"
}

fn apply(cluster: &Cluster, namespace: &str, manifest: &str) {
    ok(cluster.kubectl_stdin(&["apply", "-n", namespace, "-f", "-"], manifest));
}

#[test]
fn services_and_pods_are_found_by_name_from_every_node() {
    let cluster = Cluster::create(3, None);
    cluster.wait("cluster DNS available", 120, || dns_available(&cluster), || text(&cluster.kubectl(&["get", "pods", "-n", "kube-system", "-o", "wide"])));
    ok(cluster.kubectl(&["create", "namespace", "demo"]));
    ok(cluster.kubectl(&["apply", "-n", "demo", "-f", DEMO]));
    ok(cluster.kubectl(&["apply", "-n", "demo", "-f", CLIENT]));
    ok(cluster.kubectl(&["rollout", "status", "deployment/example", "-n", "demo", "--timeout=90s"]));
    // A headless Service over two pods of which only one is ready at first (the other turns ready
    // when the test says so, after the lookups), and an ExternalName Service.
    for object in [
        r#"{"apiVersion":"v1","kind":"Service","metadata":{"name":"peers"},"spec":{"clusterIP":"None","selector":{"app":"peer"},"ports":[{"name":"http","port":5000,"protocol":"TCP"}]}}"#,
        r#"{"apiVersion":"v1","kind":"Service","metadata":{"name":"elsewhere"},"spec":{"type":"ExternalName","externalName":"example.org"}}"#,
        r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"peer-ready","labels":{"app":"peer"}},"spec":{"containers":[{"name":"p","image":"localhost/busybox:local","command":["sh","-c","touch /tmp/ready; sleep 3600"],"readinessProbe":{"exec":{"command":["cat","/tmp/ready"]},"periodSeconds":1}}]}}"#,
        r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"peer-late","labels":{"app":"peer"}},"spec":{"containers":[{"name":"p","image":"localhost/busybox:local","command":["sleep","3600"],"readinessProbe":{"exec":{"command":["cat","/tmp/ready"]},"periodSeconds":1}}]}}"#,
    ] {
        apply(&cluster, "demo", object);
    }
    let ready_ip = || cluster.jsonpath(&["pod", "peer-ready", "-n", "demo"], "{.status.podIP}");
    cluster.wait("peer-ready Ready", 60, || cluster.jsonpath(&["pod", "peer-ready", "-n", "demo"], "{.status.conditions[?(@.type==\"Ready\")].status}") == "True", String::new);
    // Read once the pod has one: an empty IP would be "contained" in any answer.
    cluster.wait("peer-late running", 60, || cluster.jsonpath(&["pod", "peer-late", "-n", "demo"], "{.status.phase}") == "Running", String::new);
    let late_ip = cluster.jsonpath(&["pod", "peer-late", "-n", "demo"], "{.status.podIP}");
    assert!(!late_ip.is_empty(), "a running pod has an IP");
    let cluster_ip = cluster.jsonpath(&["svc", "example-service", "-n", "demo"], "{.spec.clusterIP}");

    for (index, node) in [cluster.node("control-plane"), cluster.node("worker"), cluster.node("worker2")].iter().enumerate() {
        let script = format!(
            "nslookup example-service.demo.svc.{DOMAIN}; echo ---; \
             for name in example-service example-service.demo example-service.demo.svc.{DOMAIN}; do wget -q -O- http://$name/url; echo; done; echo ---; \
             nslookup peers.demo.svc.{DOMAIN}; echo ---; \
             nslookup -type=SRV _http._tcp.peers.demo.svc.{DOMAIN}; echo ---; \
             nslookup -type=CNAME elsewhere.demo.svc.{DOMAIN}; echo ---; \
             start=$(date +%s); nslookup nothing-here.demo.svc.{DOMAIN}; echo took $(($(date +%s) - start)); echo ---; \
             nslookup {cluster_ip}"
        );
        let log = cluster.run_on("demo", &format!("ask-{index}"), node, &script);
        let parts: Vec<&str> = log.split("---\n").collect();
        assert_eq!(parts.len(), 7, "{log}");
        assert!(parts[0].contains(&format!("Address: {cluster_ip}")), "A from {node}: {}", parts[0]);
        assert_eq!(parts[1], "example-service\nexample-service\nexample-service\n", "wget by name from {node}");
        assert!(parts[2].contains(&ready_ip()), "headless from {node}: {}", parts[2]);
        assert!(!parts[2].contains(&late_ip), "an unready pod is not resolved: {}", parts[2]);
        assert!(parts[3].contains(" 5000 "), "SRV with the named port from {node}: {}", parts[3]);
        assert!(parts[4].contains("canonical name = example.org"), "CNAME from {node}: {}", parts[4]);
        assert!(parts[5].contains("NXDOMAIN"), "NXDOMAIN from {node}: {}", parts[5]);
        let took: u64 = parts[5].lines().find_map(|line| line.strip_prefix("took ")).and_then(|n| n.trim().parse().ok()).unwrap_or(99);
        assert!(took <= 2, "NXDOMAIN at once, not after a timeout ({took} s)");
        assert!(parts[6].contains(&format!("example-service.demo.svc.{DOMAIN}")), "PTR from {node}: {}", parts[6]);
    }

    // The headless answer follows readiness.
    ok(cluster.kubectl(&["exec", "peer-late", "-n", "demo", "--", "touch", "/tmp/ready"]));
    cluster.wait("peer-late Ready", 90, || cluster.jsonpath(&["pod", "peer-late", "-n", "demo"], "{.status.conditions[?(@.type==\"Ready\")].status}") == "True", String::new);
    let later = cluster.run_on("demo", "ask-later", &cluster.node("worker"), &format!("sleep 1; nslookup peers.demo.svc.{DOMAIN}"));
    assert!(later.contains(&late_ip) && later.contains(&ready_ip()), "{later}");

    // The demo's client calls the Service by the name in its ConfigMap.
    let client_says = || text(&cluster.kubectl(&["logs", "deployment/example-client", "-n", "demo", "--tail=3"])).lines().any(|line| line.ends_with(" example-service"));
    cluster.wait("the client reaching the Service by name", 60, client_says, || text(&cluster.kubectl(&["logs", "deployment/example-client", "-n", "demo", "--tail=5"])));
}

#[test]
fn lookups_survive_a_lost_dns_pod_and_bad_packets() {
    let cluster = Cluster::create(3, None);
    cluster.wait("cluster DNS available", 120, || dns_available(&cluster), || text(&cluster.kubectl(&["get", "pods", "-n", "kube-system", "-o", "wide"])));
    // Garbage and a flood of random datagrams at the DNS Service, then a normal lookup.
    let abuse = format!(
        "printf '\\001' | nc -u -w 1 10.96.0.10 53; printf 'garbage that is no DNS message' | nc -u -w 1 10.96.0.10 53; \
         dd if=/dev/urandom bs=512 count=2000 2>/dev/null | nc -u -w 2 10.96.0.10 53; \
         printf '\\377\\377' | nc -w 1 10.96.0.10 53; \
         nslookup kube-dns.kube-system.svc.{DOMAIN}"
    );
    let log = cluster.run_on("default", "abuse", &cluster.node("worker"), &abuse);
    assert!(log.contains("Address: 10.96.0.10"), "still answering after bad input: {log}");
    let restarts = cluster.jsonpath(&["pods", "-n", "kube-system", "-l", "k8s-app=kube-dns"], "{.items[*].status.containerStatuses[0].restartCount}");
    assert!(restarts.split_whitespace().all(|count| count == "0"), "no DNS pod crashed: {restarts}");

    // Lookups every 250 ms from a pod while one DNS pod is deleted: none fails, and the
    // Deployment brings the second replica back.
    let overrides = format!(r#"{{"spec":{{"nodeName":"{}"}}}}"#, cluster.node("worker2"));
    let script = format!("for i in $(seq 60); do if nslookup kube-dns.kube-system.svc.{DOMAIN} >/dev/null 2>&1; then echo ok; else echo FAIL; fi; sleep 0.25; done");
    ok(cluster.kubectl(&["run", "asker", "--image=localhost/busybox:local", "--restart=Never", &format!("--overrides={overrides}"), "--", "sh", "-c", &script]));
    cluster.wait("asker running", 60, || cluster.jsonpath(&["pod", "asker"], "{.status.phase}") == "Running", String::new);
    std::thread::sleep(Duration::from_secs(2));
    let victim = cluster.jsonpath(&["pods", "-n", "kube-system", "-l", "k8s-app=kube-dns"], "{.items[0].metadata.name}");
    ok(cluster.kubectl(&["delete", "pod", &victim, "-n", "kube-system", "--wait=false"]));
    cluster.wait("asker done", 90, || cluster.jsonpath(&["pod", "asker"], "{.status.phase}") == "Succeeded", String::new);
    let answers = text(&cluster.kubectl(&["logs", "asker"]));
    assert_eq!(answers.lines().filter(|line| *line == "ok").count(), 60, "every lookup answered while a DNS pod went: {answers}");
    cluster.wait("the DNS Deployment back to 2", 90, || dns_available(&cluster), || text(&cluster.kubectl(&["get", "pods", "-n", "kube-system"])));
}
