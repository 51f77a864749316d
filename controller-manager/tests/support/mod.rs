//! The harness the controller tests share: a real apiserver, the real controller-manager binary
//! against it, and small JSON helpers. Pods' status is written by the tests, as no kubelet runs.

#![allow(dead_code)]

use std::time::{Duration, Instant};

use common::testing::{ApiServer, Component, Rest, Storage, free_port};
use serde_json::{Value, json};

pub struct Cluster {
    pub server: ApiServer,
    pub rest: Rest,
}

/// The cluster's REST helpers (create, get, merge_patch, ...) as its own.
impl std::ops::Deref for Cluster {
    type Target = Rest;

    fn deref(&self) -> &Rest {
        &self.rest
    }
}

impl Cluster {
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// With extra apiserver flags.
    pub fn start_with(apiserver_args: &[&str]) -> Self {
        let server = ApiServer::start_with_args(Storage::Embedded, apiserver_args).unwrap();
        let rest = Rest::new(&server.url());
        Self { server, rest }
    }

    /// The controller-manager with `extra` flags (leader election off unless asked for).
    pub fn controller_manager(&self, extra: &[&str]) -> Component {
        let mut args = vec![format!("--kubeconfig={}", self.server.kubeconfig().display())];
        if !extra.iter().any(|arg| arg.starts_with("--metrics-bind-address=")) {
            args.push(format!("--metrics-bind-address=127.0.0.1:{}", free_port().unwrap()));
        }
        if !extra.iter().any(|arg| arg.starts_with("--leader-elect=")) {
            args.push("--leader-elect=false".into());
        }
        args.extend(extra.iter().map(|arg| arg.to_string()));
        Component::start("controller-manager", &args).unwrap()
    }

    /// Polls `probe` every 100 ms until it returns Some, or panics after `within` with the last
    /// thing it saw.
    pub async fn wait_for<T, F, Fut>(&self, what: &str, within: Duration, probe: F) -> T
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<T, String>>,
    {
        let started = Instant::now();
        loop {
            match probe().await {
                Ok(found) => return found,
                Err(last) if started.elapsed() > within => panic!("{what}: not after {within:?}; last seen: {last}"),
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }

    /// A Node as a kubelet would register it, Ready.
    pub async fn node(&self, name: &str) -> Value {
        let body = json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
            "status": {"allocatable": {"cpu": "8", "memory": "16Gi", "pods": "110"}, "capacity": {"cpu": "8", "memory": "16Gi", "pods": "110"},
                       "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "kubelet is posting ready status"}],
                       "addresses": [{"type": "InternalIP", "address": "172.18.0.2"}]}});
        self.create("/api/v1/nodes", &body).await
    }

    /// Plays the kubelet's part for a pod: bound to `node`, Running, with the Ready condition
    /// `ready` and an IP. A pod deleted meanwhile (a controller scaling down between a fake
    /// kubelet's list and this) is left alone, as a kubelet would.
    pub async fn run_pod(&self, namespace: &str, name: &str, node: &str, ip: &str, ready: bool) {
        let binding = json!({"apiVersion": "v1", "kind": "Binding", "metadata": {"name": name}, "target": {"apiVersion": "v1", "kind": "Node", "name": node}});
        let Some(pod) = self.get_opt(&format!("/api/v1/namespaces/{namespace}/pods/{name}")).await else { return };
        if pod["spec"]["nodeName"].is_null() {
            let (code, answer) = self.send(reqwest::Method::POST, &format!("/api/v1/namespaces/{namespace}/pods/{name}/binding"), "application/json", Some(&binding)).await;
            if code == 404 {
                return;
            }
            assert_eq!(code, 201, "binding {namespace}/{name}: {answer}");
        }
        self.set_pod_status(namespace, name, ip, ready).await;
    }

    pub async fn set_pod_status(&self, namespace: &str, name: &str, ip: &str, ready: bool) {
        let status = if ready { "True" } else { "False" };
        let now = jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
        let patch = json!({"status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}], "hostIP": "172.18.0.2", "startTime": now,
            "conditions": [{"type": "Ready", "status": status, "lastTransitionTime": now}, {"type": "ContainersReady", "status": status, "lastTransitionTime": now}]}});
        self.merge_patch(&format!("/api/v1/namespaces/{namespace}/pods/{name}/status"), &patch).await;
    }
}
