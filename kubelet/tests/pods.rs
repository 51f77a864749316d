//! The kubelet against a real containerd: pods run, are configured, restarted, probed, stopped
//! and adopted as Kubernetes does it.

mod support;

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{DeleteParams, PostParams};
use serde_json::json;
use support::{Node, busybox, condition, container, phase, waiting_reason};

#[tokio::test(flavor = "multi_thread")]
async fn a_pod_runs_with_an_ip_and_its_status_follows() {
    let node = Node::start().await;
    node.run_pod(busybox("web", "echo started; sleep 3600")).await;
    let pod = node.wait_pod("web", "Running and Ready", 60, |pod| phase(pod) == "Running" && condition(pod, "Ready").as_deref() == Some("True")).await;
    let status = pod.as_ref().and_then(|pod| pod.status.clone()).expect("status");
    let ip: std::net::Ipv4Addr = status.pod_ip.as_deref().expect("podIP").parse().expect("an IPv4 podIP");
    let (network, prefix) = node.containerd.pod_cidr().split_once('/').map(|(a, p)| (a.parse::<std::net::Ipv4Addr>().unwrap(), p.parse::<u32>().unwrap())).unwrap();
    let mask = u32::MAX << (32 - prefix);
    assert_eq!(u32::from(ip) & mask, u32::from(network) & mask, "podIP {ip} is in the node's podCIDR {}", node.containerd.pod_cidr());
    assert_eq!(status.host_ip.as_deref(), Some("127.0.0.1"));
    assert!(status.start_time.is_some());
    for kind in ["PodReadyToStartContainers", "Initialized", "ContainersReady", "Ready"] {
        assert_eq!(condition(pod.as_ref(), kind).as_deref(), Some("True"), "{kind}");
    }
    let main = container(pod.as_ref()).expect("container status");
    assert!(main.state.as_ref().and_then(|s| s.running.as_ref()).is_some());
    assert!(main.container_id.as_deref().is_some_and(|id| id.starts_with("containerd://")));
    assert!(main.image_id.starts_with("sha256:"), "imageID {}", main.image_id);
    assert_eq!((main.ready, main.started, main.restart_count), (true, Some(true), 0));

    // The Node carries what the host has and what the scheduler needs.
    let node_object = node.node_object().await.expect("node");
    let node_status = node_object.status.expect("node status");
    let capacity = node_status.capacity.expect("capacity");
    for resource in ["cpu", "memory", "pods"] {
        assert!(capacity.contains_key(resource), "capacity has {resource}");
    }
    let conditions: Vec<_> = node_status.conditions.unwrap_or_default().into_iter().map(|c| (c.type_, c.status)).collect();
    for (kind, expected) in [("Ready", "True"), ("MemoryPressure", "False"), ("DiskPressure", "False"), ("PIDPressure", "False")] {
        assert!(conditions.contains(&(kind.to_string(), expected.to_string())), "{kind}={expected} in {conditions:?}");
    }
    let info = node_status.node_info.expect("nodeInfo");
    assert!(info.container_runtime_version.starts_with("containerd://"), "{}", info.container_runtime_version);
    let lease: k8s_openapi::api::coordination::v1::Lease = kube::Api::namespaced(node.client.clone(), "kube-node-lease").get(&node.name).await.expect("lease");
    assert_eq!(lease.spec.and_then(|s| s.holder_identity), Some(node.name.clone()));

    // Logs come through the apiserver, also to kubectl.
    let logs = node.kubectl(&["logs", "web"]);
    assert_eq!(String::from_utf8_lossy(&logs.stdout), "started\n", "kubectl logs: {}", String::from_utf8_lossy(&logs.stderr));
}

#[tokio::test(flavor = "multi_thread")]
async fn environment_and_files_come_from_config_maps_and_secrets() {
    let node = Node::start().await;
    let maps: kube::Api<ConfigMap> = kube::Api::namespaced(node.client.clone(), "default");
    let secrets: kube::Api<Secret> = kube::Api::namespaced(node.client.clone(), "default");
    maps.create(&PostParams::default(), &serde_json::from_value(json!({"metadata": {"name": "settings"}, "data": {"greeting": "hello", "LEVEL": "debug", "app.conf": "port=8080\n"}})).unwrap()).await.unwrap();
    secrets.create(&PostParams::default(), &serde_json::from_value(json!({"metadata": {"name": "creds"}, "stringData": {"password": "s3cret"}})).unwrap()).await.unwrap();
    let mut manifest = busybox("configured", "echo \"$GREETING $PASSWORD $LEVEL $NODE $(cat /etc/app/app.conf) $(cat /etc/creds/pass) $(cat /etc/info/name)\"; sleep 3600");
    manifest["spec"]["containers"][0]["env"] = json!([
        {"name": "GREETING", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "greeting"}}},
        {"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "password"}}},
        {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
    ]);
    manifest["spec"]["containers"][0]["envFrom"] = json!([{"configMapRef": {"name": "settings"}}]);
    manifest["spec"]["containers"][0]["volumeMounts"] = json!([
        {"name": "config", "mountPath": "/etc/app"},
        {"name": "secret", "mountPath": "/etc/creds"},
        {"name": "info", "mountPath": "/etc/info"},
    ]);
    manifest["spec"]["volumes"] = json!([
        {"name": "config", "configMap": {"name": "settings"}},
        {"name": "secret", "secret": {"secretName": "creds", "items": [{"key": "password", "path": "pass"}]}},
        {"name": "info", "downwardAPI": {"items": [{"path": "name", "fieldRef": {"fieldPath": "metadata.name"}}]}},
    ]);
    node.run_pod(manifest).await;
    node.wait_running("configured").await;
    let expected = format!("hello s3cret debug {} port=8080 s3cret configured\n", node.name);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let logs = node.kubectl(&["logs", "configured"]);
        if String::from_utf8_lossy(&logs.stdout) == expected {
            break;
        }
        assert!(Instant::now() < deadline, "logs {:?} (stderr {:?}), expected {expected:?}", String::from_utf8_lossy(&logs.stdout), String::from_utf8_lossy(&logs.stderr));
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_crashing_container_backs_off_and_counts_restarts() {
    let node = Node::start().await;
    node.run_pod(busybox("crash", "echo attempt; exit 3")).await;
    let started = Instant::now();
    let pod = node.wait_pod("crash", "in CrashLoopBackOff after restarts", 90, |pod| {
        container(pod).is_some_and(|c| c.restart_count >= 2) && waiting_reason(pod).as_deref() == Some("CrashLoopBackOff")
    }).await;
    let status = container(pod.as_ref()).expect("status");
    let last = status.last_state.and_then(|s| s.terminated).expect("lastState.terminated");
    assert_eq!(last.exit_code, 3);
    assert_eq!(phase(pod.as_ref()), "Running", "a restarting pod stays Running");
    let message = status.state.and_then(|s| s.waiting).and_then(|w| w.message).unwrap_or_default();
    assert!(message.starts_with("back-off ") && message.contains("restarting failed container=main pod=crash_default("), "{message}");
    // Back-off: 10 s after the first restart, 20 s after the second; without it the container
    // would have restarted dozens of times by now.
    let elapsed = started.elapsed();
    let pod = node.pods().get("crash").await.unwrap();
    let restarts = container(Some(&pod)).map_or(0, |c| c.restart_count);
    assert!(elapsed >= Duration::from_secs(9), "two restarts only after the first back-off ({elapsed:?})");
    assert!(restarts <= 3, "{restarts} restarts in {elapsed:?}");
    // The previous instance's output is still there.
    let previous = node.kubectl(&["logs", "crash", "--previous"]);
    assert_eq!(String::from_utf8_lossy(&previous.stdout), "attempt\n", "{}", String::from_utf8_lossy(&previous.stderr));
    assert!(node.events("crash").await.iter().any(|e| e.reason.as_deref() == Some("BackOff")));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_liveness_probe_restarts_the_container() {
    let node = Node::start().await;
    let mut manifest = busybox("sick", "touch /tmp/healthy; sleep 2; rm /tmp/healthy; sleep 3600");
    manifest["spec"]["containers"][0]["livenessProbe"] = json!({"exec": {"command": ["cat", "/tmp/healthy"]}, "periodSeconds": 1, "failureThreshold": 2});
    node.run_pod(manifest).await;
    let pod = node.wait_pod("sick", "restarted by its liveness probe", 60, |pod| container(pod).is_some_and(|c| c.restart_count >= 1)).await;
    let last = container(pod.as_ref()).and_then(|c| c.last_state?.terminated).expect("lastState.terminated");
    assert_ne!(last.exit_code, 0, "killed, not exited cleanly");
    let events = node.events("sick").await;
    assert!(events.iter().any(|e| e.reason.as_deref() == Some("Unhealthy") && e.message.as_deref().is_some_and(|m| m.starts_with("Liveness probe failed"))), "{events:?}");
    assert!(events.iter().any(|e| e.reason.as_deref() == Some("Killing") && e.message.as_deref().is_some_and(|m| m.contains("failed liveness probe"))));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_readiness_probe_gates_ready() {
    let node = Node::start().await;
    let mut manifest = busybox("gated", "sleep 3; touch /tmp/ready; sleep 4; rm /tmp/ready; sleep 3600");
    manifest["spec"]["containers"][0]["readinessProbe"] = json!({"exec": {"command": ["cat", "/tmp/ready"]}, "periodSeconds": 1, "failureThreshold": 1});
    node.run_pod(manifest).await;
    let running = node.wait_running("gated").await;
    assert_eq!(condition(Some(&running), "Ready").as_deref(), Some("False"), "not ready before the probe passes");
    assert_eq!(container(Some(&running)).map(|c| c.ready), Some(false));
    node.wait_pod("gated", "Ready", 30, |pod| condition(pod, "Ready").as_deref() == Some("True")).await;
    let unready = node.wait_pod("gated", "unready again", 30, |pod| condition(pod, "Ready").as_deref() == Some("False")).await;
    assert_eq!(container(unready.as_ref()).map(|c| c.restart_count), Some(0), "readiness never restarts");
    assert_eq!(phase(unready.as_ref()), "Running");
}

#[tokio::test(flavor = "multi_thread")]
async fn deletion_stops_the_containers_within_the_grace_period() {
    let node = Node::start().await;
    // One that stops at SIGTERM, and one that ignores it (sh as PID 1 does), stopped by SIGKILL.
    node.run_pod(busybox("polite", "trap 'exit 0' TERM; while true; do sleep 1; done")).await;
    let mut stubborn = busybox("stubborn", "trap '' TERM; while true; do sleep 1; done");
    stubborn["spec"]["terminationGracePeriodSeconds"] = json!(3);
    node.run_pod(stubborn).await;
    node.wait_running("polite").await;
    node.wait_running("stubborn").await;
    let started = Instant::now();
    node.pods().delete("polite", &DeleteParams::default()).await.unwrap();
    node.wait_pod("polite", "gone", 30, |pod| pod.is_none()).await;
    let polite = started.elapsed();
    assert!(polite < Duration::from_secs(5), "a container that exits at SIGTERM is gone at once ({polite:?})");
    let started = Instant::now();
    node.pods().delete("stubborn", &DeleteParams::default()).await.unwrap();
    node.wait_pod("stubborn", "gone", 30, |pod| pod.is_none()).await;
    let stubborn = started.elapsed();
    assert!(stubborn >= Duration::from_secs(3), "SIGKILL waits for the grace period ({stubborn:?})");
    assert!(stubborn < Duration::from_secs(10), "and comes after it ({stubborn:?})");
    assert!(node.runtime_containers().is_empty(), "no containers left: {:?}", node.runtime_containers());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_restarted_kubelet_adopts_running_pods_and_removes_deleted_ones() {
    let mut node = Node::start().await;
    node.run_pod(busybox("kept", "sleep 3600")).await;
    node.run_pod(busybox("dropped", "sleep 3600")).await;
    let kept = node.wait_running("kept").await;
    node.wait_running("dropped").await;
    let before = container(Some(&kept)).expect("status");
    node.kubelet.kill();
    // Deleted while no kubelet runs: force, as nobody would finish a graceful delete.
    node.pods().delete("dropped", &DeleteParams { grace_period_seconds: Some(0), ..DeleteParams::default() }).await.unwrap();
    node.kubelet.start_again().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let containers = node.runtime_containers();
        if containers.len() == 2 {
            break;
        }
        assert!(Instant::now() < deadline, "the deleted pod's sandbox and container are removed after the restart, the kept pod's two stay: {containers:?}\n{}", node.log_tail());
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    // A few relists later the kept pod is untouched: same container, no restart.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after = container(Some(&node.pods().get("kept").await.unwrap())).expect("status");
    assert_eq!(after.container_id, before.container_id, "the running container was adopted, not replaced");
    assert_eq!(after.restart_count, 0);
    assert!(after.state.and_then(|s| s.running).is_some());
}

#[tokio::test(flavor = "multi_thread")]
async fn limits_become_cgroup_settings() {
    let node = Node::start().await;
    let mut manifest = busybox("limited", "sleep 3600");
    manifest["spec"]["containers"][0]["resources"] = json!({"requests": {"cpu": "250m", "memory": "32Mi"}, "limits": {"cpu": "500m", "memory": "64Mi"}});
    node.run_pod(manifest).await;
    let pod = node.wait_running("limited").await;
    let uid = pod.metadata.uid.clone().unwrap();
    let id = container(Some(&pod)).and_then(|c| c.container_id).unwrap().trim_start_matches("containerd://").to_string();
    let cgroup = format!("{}/pod{uid}/{id}", node.containerd.cgroup_root().trim_start_matches('/'));
    let read = |controller: &str, file: &str| std::fs::read_to_string(format!("/sys/fs/cgroup/{controller}/{cgroup}/{file}")).map(|text| text.trim().to_string());
    assert_eq!(read("memory", "memory.limit_in_bytes").unwrap(), (64u64 << 20).to_string());
    assert_eq!(read("cpu", "cpu.cfs_quota_us").unwrap(), "50000");
    assert_eq!(read("cpu", "cpu.cfs_period_us").unwrap(), "100000");
    assert_eq!(read("cpu", "cpu.shares").unwrap(), "256");
    assert_eq!(pod.status.and_then(|s| s.qos_class).as_deref(), Some("Burstable"));
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_pods_say_why_and_others_keep_running() {
    let node = Node::start().await;
    let mut missing_image = busybox("no-image", "true");
    missing_image["spec"]["containers"][0]["image"] = json!("localhost/does-not-exist:1.0");
    node.run_pod(missing_image).await;
    let mut missing_command = busybox("no-command", "");
    missing_command["spec"]["containers"][0]["command"] = json!(["/no/such/binary"]);
    node.run_pod(missing_command).await;
    let mut missing_map = busybox("no-config", "sleep 3600");
    missing_map["spec"]["containers"][0]["env"] = json!([{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "absent", "key": "x"}}}]);
    node.run_pod(missing_map).await;
    node.run_pod(busybox("healthy", "sleep 3600")).await;

    let pod = node.wait_pod("no-image", "failing its pull", 60, |pod| matches!(waiting_reason(pod).as_deref(), Some("ErrImagePull" | "ImagePullBackOff"))).await;
    let message = container(pod.as_ref()).and_then(|c| c.state?.waiting?.message).unwrap_or_default();
    assert!(message.contains("localhost/does-not-exist:1.0"), "{message}");
    node.wait_pod("no-image", "backing off its pull", 60, |pod| waiting_reason(pod).as_deref() == Some("ImagePullBackOff")).await;

    let pod = node.wait_pod("no-command", "failing to start", 60, |pod| {
        let status = container(pod);
        let waiting = status.as_ref().and_then(|c| c.state.as_ref()?.waiting.as_ref()?.reason.clone());
        let last = status.as_ref().and_then(|c| c.last_state.as_ref()?.terminated.as_ref()?.message.clone());
        matches!(waiting.as_deref(), Some("RunContainerError" | "CreateContainerError" | "CrashLoopBackOff")) && (last.is_some() || waiting.as_deref() != Some("CrashLoopBackOff"))
    }).await;
    let status = container(pod.as_ref()).expect("status");
    let said = format!("{:?} {:?}", status.state.and_then(|s| s.waiting).and_then(|w| w.message), status.last_state.and_then(|s| s.terminated).and_then(|t| t.message));
    assert!(said.contains("/no/such/binary"), "the reason names the command: {said}");

    let pod = node.wait_pod("no-config", "failing its config", 60, |pod| waiting_reason(pod).as_deref() == Some("CreateContainerConfigError")).await;
    let message = container(pod.as_ref()).and_then(|c| c.state?.waiting?.message).unwrap_or_default();
    assert_eq!(message, "configmap \"absent\" not found");

    node.wait_running("healthy").await;
    // An image already there is not pulled, and kube's kubelet says so under `Pulled` (clients
    // such as Airflow's pod operator wait for that reason). The event is written before the
    // container is created, so it is there once the pod runs; the loop only covers the
    // recorder's write reaching the list.
    let present = "Container image \"localhost/busybox:local\" already present on machine";
    let deadline = Instant::now() + Duration::from_secs(30);
    let events = loop {
        let events = node.events("healthy").await;
        if events.iter().any(|event| event.reason.as_deref() == Some("Pulled")) || Instant::now() > deadline {
            break events;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let said: Vec<_> = events.iter().map(|event| (event.type_.clone(), event.reason.clone(), event.message.clone())).collect();
    assert!(said.contains(&(Some("Normal".into()), Some("Pulled".into()), Some(present.into()))), "{said:?}");
    assert!(!said.iter().any(|(_, reason, _)| reason.as_deref() == Some("Pulling")), "an image present is not pulled: {said:?}");
    // Fixing the cause lets the pod start without being recreated.
    let maps: kube::Api<ConfigMap> = kube::Api::namespaced(node.client.clone(), "default");
    maps.create(&PostParams::default(), &serde_json::from_value(json!({"metadata": {"name": "absent"}, "data": {"x": "1"}})).unwrap()).await.unwrap();
    node.wait_running("no-config").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn init_containers_run_in_order_then_the_pod_completes() {
    let node = Node::start().await;
    let manifest = json!({
        "metadata": {"name": "steps"},
        "spec": {
            "restartPolicy": "Never",
            "volumes": [{"name": "work", "emptyDir": {}}],
            "initContainers": [
                {"name": "first", "image": "localhost/busybox:local", "command": ["sh", "-c", "sleep 1; echo first >> /work/order"], "volumeMounts": [{"name": "work", "mountPath": "/work"}]},
                {"name": "second", "image": "localhost/busybox:local", "command": ["sh", "-c", "echo second >> /work/order"], "volumeMounts": [{"name": "work", "mountPath": "/work"}]},
            ],
            "containers": [{"name": "main", "image": "localhost/busybox:local", "command": ["sh", "-c", "cat /work/order; id -u; touch /probe-write 2>/dev/null || echo read-only"],
                            "volumeMounts": [{"name": "work", "mountPath": "/work"}],
                            "securityContext": {"runAsUser": 65534, "readOnlyRootFilesystem": true}}],
        },
    });
    node.run_pod(manifest).await;
    let pod = node.wait_pod("steps", "Succeeded", 60, |pod| phase(pod) == "Succeeded").await;
    let status = pod.and_then(|pod| pod.status).expect("status");
    let init: Vec<_> = status.init_container_statuses.unwrap_or_default().into_iter().map(|s| (s.name, s.state.and_then(|s| s.terminated).map(|t| (t.exit_code, t.reason)))).collect();
    assert_eq!(init, vec![("first".to_string(), Some((0, Some("Completed".to_string())))), ("second".to_string(), Some((0, Some("Completed".to_string()))))]);
    assert!(status.conditions.unwrap_or_default().iter().any(|c| c.type_ == "Ready" && c.status == "False" && c.reason.as_deref() == Some("PodCompleted")));
    let logs = node.kubectl(&["logs", "steps"]);
    assert_eq!(String::from_utf8_lossy(&logs.stdout), "first\nsecond\n65534\nread-only\n", "{}", String::from_utf8_lossy(&logs.stderr));
    let init_logs = node.kubectl(&["logs", "steps", "-c", "first"]);
    assert_eq!(String::from_utf8_lossy(&init_logs.stdout), "", "the init container wrote to the volume only");

    // A container that fails under restartPolicy Never fails the pod.
    node.run_pod(json!({"metadata": {"name": "fails"}, "spec": {"restartPolicy": "Never",
        "containers": [{"name": "main", "image": "localhost/busybox:local", "command": ["sh", "-c", "exit 4"]}]}})).await;
    let failed = node.wait_pod("fails", "Failed", 60, |pod| phase(pod) == "Failed").await;
    let terminated = container(failed.as_ref()).and_then(|c| c.state?.terminated).expect("terminated");
    assert_eq!((terminated.exit_code, terminated.reason.as_deref()), (4, Some("Error")));
}

#[tokio::test(flavor = "multi_thread")]
async fn http_and_tcp_probes_and_followed_logs() {
    let node = Node::start().await;
    let mut server = busybox("server", "mkdir -p /www && echo ok > /www/healthz && echo serving && httpd -f -p 8080 -h /www");
    server["spec"]["containers"][0]["ports"] = json!([{"name": "http", "containerPort": 8080}]);
    server["spec"]["containers"][0]["livenessProbe"] = json!({"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 1, "failureThreshold": 2});
    server["spec"]["containers"][0]["readinessProbe"] = json!({"tcpSocket": {"port": 8080}, "periodSeconds": 1});
    node.run_pod(server).await;
    node.wait_pod("server", "Ready", 60, |pod| condition(pod, "Ready").as_deref() == Some("True")).await;
    // Healthy probes restart nothing.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let pod = node.pods().get("server").await.unwrap();
    assert_eq!(container(Some(&pod)).map(|c| (c.restart_count, c.ready)), Some((0, true)));

    // `kubectl logs -f` streams until the container ends.
    node.run_pod(json!({"metadata": {"name": "counter"}, "spec": {"restartPolicy": "Never",
        "containers": [{"name": "main", "image": "localhost/busybox:local", "command": ["sh", "-c", "for i in 1 2 3; do echo line $i; sleep 1; done"]}]}})).await;
    node.wait_pod("counter", "started", 60, |pod| matches!(phase(pod), "Running" | "Succeeded")).await;
    let followed = node.kubectl(&["logs", "-f", "counter"]);
    assert_eq!(String::from_utf8_lossy(&followed.stdout), "line 1\nline 2\nline 3\n", "{}", String::from_utf8_lossy(&followed.stderr));
    // The follow ends only once the pod's status says the container terminated, so a client
    // reading the pod right after it (Airflow's pod operator) does not follow the log again.
    let pod = node.pods().get("counter").await.unwrap();
    assert!(container(Some(&pod)).and_then(|c| c.state?.terminated).is_some(), "still running after the follow ended: {:?}", pod.status);
    let tail = node.kubectl(&["logs", "counter", "--tail=1", "--timestamps"]);
    let tail = String::from_utf8_lossy(&tail.stdout).to_string();
    let (stamp, line) = tail.trim_end().split_once(' ').expect("timestamp and line");
    assert!(stamp.parse::<jiff::Timestamp>().is_ok(), "{stamp}");
    assert_eq!(line, "line 3");
}

#[tokio::test(flavor = "multi_thread")]
async fn resolv_conf_hosts_and_hostname_follow_the_pod() {
    let node = Node::start().await;
    let mut first = busybox("cluster-first", "cat /etc/resolv.conf; echo ---; cat /etc/hosts; echo ---; hostname");
    first["spec"]["restartPolicy"] = json!("Never");
    first["spec"]["hostname"] = json!("db");
    first["spec"]["subdomain"] = json!("backend");
    first["spec"]["hostAliases"] = json!([{"ip": "10.1.2.3", "hostnames": ["foo.local", "bar.local"]}]);
    node.run_pod(first).await;
    let mut custom = busybox("custom", "cat /etc/resolv.conf; hostname");
    custom["spec"]["restartPolicy"] = json!("Never");
    custom["spec"]["dnsPolicy"] = json!("None");
    custom["spec"]["dnsConfig"] = json!({"nameservers": ["192.0.2.53"], "searches": ["example.test"], "options": [{"name": "ndots", "value": "2"}]});
    custom["spec"]["hostname"] = json!("api");
    custom["spec"]["subdomain"] = json!("svc-a");
    custom["spec"]["setHostnameAsFQDN"] = json!(true);
    node.run_pod(custom).await;
    let pod = node.wait_pod("cluster-first", "Succeeded", 60, |pod| phase(pod) == "Succeeded").await;
    let ip = pod.and_then(|p| p.status?.pod_ip).expect("podIP");
    let logs = String::from_utf8_lossy(&node.kubectl(&["logs", "cluster-first"]).stdout).to_string();
    let mut parts = logs.split("---\n");
    let (resolv, hosts, hostname) = (parts.next().unwrap_or_default(), parts.next().unwrap_or_default(), parts.next().unwrap_or_default());
    assert!(resolv.contains("nameserver 10.96.0.10"), "{resolv}");
    assert!(resolv.contains("search default.svc.cluster.local svc.cluster.local cluster.local"), "{resolv}");
    assert!(resolv.contains("options ndots:5"), "{resolv}");
    assert!(hosts.contains(&format!("{ip}\tdb.backend.default.svc.cluster.local\tdb")), "{hosts}");
    assert!(hosts.contains("10.1.2.3\tfoo.local\tbar.local"), "{hosts}");
    assert_eq!(hostname.trim(), "db");
    node.wait_pod("custom", "Succeeded", 60, |pod| phase(pod) == "Succeeded").await;
    let logs = String::from_utf8_lossy(&node.kubectl(&["logs", "custom"]).stdout).to_string();
    assert!(logs.contains("nameserver 192.0.2.53") && !logs.contains("10.96.0.10"), "{logs}");
    assert!(logs.contains("search example.test") && logs.contains("options ndots:2"), "{logs}");
    assert!(logs.trim_end().ends_with("api.svc-a.default.svc.cluster.local"), "setHostnameAsFQDN: {logs}");
}
