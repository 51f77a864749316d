//! The harness the kubelet tests share: a real apiserver, a private containerd with the locally
//! built images, and the real kubelet binary between them, on loopback.

#![allow(dead_code, clippy::expect_used, clippy::unwrap_used)]

use std::time::{Duration, Instant};

use common::testing::{ApiServer, Component, Containerd, Storage, free_port};
use k8s_openapi::api::core::v1::{Event, Node as NodeObject, Pod};
use kube::api::{Api, ListParams, PostParams};
use serde_json::{Value, json};

/// One node: fields drop in order, so the kubelet goes before the runtime it drives.
pub struct Node {
    pub kubelet: Component,
    pub containerd: Containerd,
    pub server: ApiServer,
    pub client: kube::Client,
    pub name: String,
    pub port: u16,
    pub dirs: tempfile::TempDir,
}

impl Node {
    pub async fn start() -> Self {
        Self::start_with(&[]).await
    }

    /// A node whose kubelet gets `extra` flags after the usual ones.
    pub async fn start_with(extra: &[String]) -> Self {
        let server = ApiServer::start(Storage::Embedded).expect("apiserver");
        let containerd = Containerd::start().expect("containerd");
        let dirs = tempfile::Builder::new().prefix("kubelet-test-").tempdir().expect("temp dir");
        let port = free_port().expect("port");
        let name = format!("node-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
        let args = vec![
            format!("--kubeconfig={}", server.kubeconfig().display()),
            format!("--hostname-override={name}"),
            "--node-ip=127.0.0.1".to_string(),
            "--address=127.0.0.1".to_string(),
            format!("--port={port}"),
            format!("--container-runtime-endpoint=unix://{}", containerd.socket().display()),
            format!("--root-dir={}", dirs.path().join("root").display()),
            format!("--pod-logs-dir={}", dirs.path().join("logs").display()),
            format!("--cgroup-root={}", containerd.cgroup_root()),
            format!("--pod-cidr={}", containerd.pod_cidr()),
            format!("--cni-conf-dir={}", containerd.cni_conf_dir().display()),
            format!("--cni-bridge={}", containerd.bridge_name()),
            // The machines tests run on may be short of disk; pressure is not what is tested.
            "--eviction-hard=memory.available<1Mi,nodefs.available<1%".to_string(),
            "--cluster-dns=10.96.0.10".to_string(),
        ];
        let args: Vec<String> = args.into_iter().chain(extra.iter().cloned()).collect();
        let kubelet = Component::start("kubelet", &args).expect("kubelet");
        let client = common::client::from_kubeconfig(Some(&server.kubeconfig()), "kubelet").await.expect("client");
        let node = Self { kubelet, containerd, server, client, name, port, dirs };
        node.wait_node_ready().await;
        node
    }

    pub fn pods(&self) -> Api<Pod> {
        Api::namespaced(self.client.clone(), "default")
    }

    pub async fn node_object(&self) -> Option<NodeObject> {
        Api::<NodeObject>::all(self.client.clone()).get_opt(&self.name).await.ok().flatten()
    }

    pub async fn wait_node_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let ready = self.node_object().await.and_then(|node| node.status?.conditions).into_iter().flatten().any(|c| c.type_ == "Ready" && c.status == "True");
            if ready {
                return;
            }
            assert!(Instant::now() < deadline, "node {} not Ready within 60 s; kubelet log:\n{}", self.name, self.log_tail());
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Creates a pod in `default`, bound to this node (no scheduler runs here).
    pub async fn run_pod(&self, mut manifest: Value) -> Pod {
        manifest["apiVersion"] = json!("v1");
        manifest["kind"] = json!("Pod");
        manifest["spec"]["nodeName"] = json!(self.name);
        let pod: Pod = serde_json::from_value(manifest).expect("pod manifest");
        self.pods().create(&PostParams::default(), &pod).await.expect("create pod")
    }

    /// Waits until `check` holds for the pod (None: the pod is gone), failing with the pod and
    /// the kubelet's log after `seconds`.
    pub async fn wait_pod(&self, name: &str, what: &str, seconds: u64, check: impl Fn(Option<&Pod>) -> bool) -> Option<Pod> {
        let deadline = Instant::now() + Duration::from_secs(seconds);
        loop {
            let pod = self.pods().get_opt(name).await.expect("get pod");
            if check(pod.as_ref()) {
                return pod;
            }
            if Instant::now() > deadline {
                panic!(
                    "pod {name}: not {what} within {seconds} s; pod: {}\nkubelet log:\n{}",
                    serde_json::to_string_pretty(&pod.map(|p| p.status)).unwrap_or_default(),
                    self.log_tail()
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    pub async fn wait_running(&self, name: &str) -> Pod {
        self.wait_pod(name, "Running", 60, |pod| phase(pod) == "Running").await.expect("pod")
    }

    pub async fn events(&self, pod: &str) -> Vec<Event> {
        let events: Api<Event> = Api::namespaced(self.client.clone(), "default");
        let list = events.list(&ListParams::default()).await.expect("events");
        list.items.into_iter().filter(|event| event.involved_object.name.as_deref() == Some(pod)).collect()
    }

    pub fn log_tail(&self) -> String {
        let log = self.kubelet.log();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(60)..].join("\n")
    }

    /// `kubectl` against this node's apiserver.
    pub fn kubectl(&self, args: &[&str]) -> std::process::Output {
        std::process::Command::new("kubectl").arg(format!("--kubeconfig={}", self.server.kubeconfig().display())).args(args).output().expect("kubectl")
    }
}

impl Node {
    /// The kubelet's gauge of exec, attach and port-forward sessions still open, once it has
    /// settled (sessions end a moment after their clients do).
    pub async fn kubelet_streams_open(&self) -> i64 {
        let mut open = -1;
        for _ in 0..50 {
            let text = reqwest::get(format!("http://127.0.0.1:{}/metrics", self.port)).await.expect("kubelet metrics").text().await.expect("text");
            open = text.lines().find_map(|line| line.strip_prefix("kubelet_streams_open ")).and_then(|n| n.trim().parse().ok()).expect("gauge");
            if open == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        open
    }

    /// The apiserver's gauge of exec, attach and port-forward connections still spliced.
    pub async fn apiserver_streams_open(&self) -> i64 {
        let mut open = -1;
        for _ in 0..50 {
            let output = self.kubectl(&["get", "--raw", "/metrics"]);
            let text = String::from_utf8_lossy(&output.stdout).to_string();
            open = text.lines().find_map(|line| line.strip_prefix("apiserver_streams_open ")).and_then(|n| n.trim().parse().ok()).expect("gauge");
            if open == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        open
    }

    /// The containerd containers (sandboxes' pause containers included) the runtime holds.
    pub fn runtime_containers(&self) -> Vec<String> {
        self.containerd.ctr(&["containers", "ls", "-q"]).expect("ctr containers ls").lines().map(str::to_string).collect()
    }
}

pub fn phase(pod: Option<&Pod>) -> &str {
    pod.and_then(|pod| pod.status.as_ref()?.phase.as_deref()).unwrap_or_default()
}

/// The first container's status.
pub fn container(pod: Option<&Pod>) -> Option<k8s_openapi::api::core::v1::ContainerStatus> {
    pod?.status.as_ref()?.container_statuses.as_ref()?.first().cloned()
}

pub fn waiting_reason(pod: Option<&Pod>) -> Option<String> {
    container(pod)?.state?.waiting?.reason
}

pub fn condition(pod: Option<&Pod>, kind: &str) -> Option<String> {
    pod?.status.as_ref()?.conditions.as_ref()?.iter().find(|c| c.type_ == kind).map(|c| c.status.clone())
}

pub fn busybox(name: &str, script: &str) -> Value {
    json!({
        "metadata": {"name": name},
        "spec": {
            "terminationGracePeriodSeconds": 5,
            "containers": [{"name": "main", "image": "localhost/busybox:local", "imagePullPolicy": "IfNotPresent", "command": ["sh", "-c", script]}],
        },
    })
}
