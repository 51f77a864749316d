//! The controller-manager: reconciling controllers that drive the actual state toward the
//! desired state, each a module of its own (`replicaset`, which runs over ReplicationControllers
//! too with `replicationcontroller`, `deployment`, `job`, `cronjob`, `daemonset`, `statefulset`
//! with their revisions in `history`, `endpoints`, `namespace`, `garbage_collector`,
//! `node_lifecycle`, `node_ipam`, `podgc`, and for storage `persistentvolume` (the binder),
//! `local_path` (the built-in provisioner), `pvc_protection`, `pv_protection`, `ephemeral`; `disruption` for PodDisruptionBudgets,
//! `resourcequota`; `horizontal` for HorizontalPodAutoscalers; `csrsigning` for
//! CertificateSigningRequests) run by `framework` over the shared
//! informers of `context`.
//! Level-triggered and idempotent: a reconcile on an unchanged world changes nothing. Several
//! replicas elect one leader on a Lease.

mod context;
mod cronjob;
mod csrsigning;
mod daemonset;
mod deployment;
mod discovery;
mod disruption;
mod endpoints;
mod ephemeral;
mod expectations;
mod framework;
mod garbage_collector;
mod history;
mod horizontal;
mod informer;
mod job;
mod local_path;
mod metrics;
mod namespace;
mod node_ipam;
mod node_lifecycle;
mod persistentvolume;
mod podgc;
mod pv_protection;
mod pvc_protection;
mod replicaset;
mod replicationcontroller;
mod resourcequota;
mod serviceaccount;
mod statefulset;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::ReplicationController;

use crate::context::{Context, Settings};

/// Every controller, by the name `--controllers` takes.
const CONTROLLERS: [&str; 23] = [
    "deployment", "replicaset", "replicationcontroller", "job", "cronjob", "daemonset", "statefulset", "endpoints", "namespace", "garbagecollector", "nodelifecycle", "nodeipam", "serviceaccount", "podgc",
    "persistentvolume-binder", "pvc-protection", "pv-protection", "ephemeral-volume", "local-path", "disruption", "resourcequota",
    "horizontalpodautoscaling", "csrsigning",
];

#[derive(Clone, Debug, clap::Parser)]
#[command(name = "controller-manager", about = "The controller-manager: reconciling controllers that drive actual state toward desired state", version)]
pub struct Config {
    /// Path to the kubeconfig used to reach the apiserver.
    #[arg(long, env = "KUBECONFIG")]
    pub kubeconfig: Option<PathBuf>,
    #[command(flatten)]
    pub leader_election: common::leader::LeaderElectionArgs,
    #[arg(long, default_value = "kube-controller-manager")]
    pub leader_elect_resource_name: String,
    /// Which controllers run: `*` for all, names to add, `-name` to leave one out
    /// (deployment, replicaset, replicationcontroller, job, cronjob, daemonset, statefulset,
    /// endpoints, namespace, garbagecollector, nodelifecycle, nodeipam, serviceaccount, which also
    /// publishes `kube-root-ca.crt`, podgc, which deletes the pods of nodes that are gone,
    /// persistentvolume-binder, pvc-protection, pv-protection, ephemeral-volume, local-path,
    /// the built-in provisioner, which also creates the default StorageClass `standard`,
    /// disruption, which keeps PodDisruptionBudgets' status, resourcequota, which keeps
    /// ResourceQuotas' usage, horizontalpodautoscaling, which scales HPAs' targets, and
    /// csrsigning, which signs approved CertificateSigningRequests given a CA).
    #[arg(long, value_delimiter = ',', default_value = "*")]
    pub controllers: Vec<String>,
    /// How long a node's Lease may go unrenewed before the node is marked `Ready=Unknown`.
    #[arg(long, default_value_t = 40)]
    pub node_monitor_grace_period_seconds: u64,
    #[arg(long, default_value_t = 5)]
    pub node_monitor_period_seconds: u64,
    /// How long pods stay on an unreachable node when they do not say themselves.
    #[arg(long, default_value_t = 300)]
    pub default_unreachable_toleration_seconds: u64,
    /// The range node IPAM gives nodes their pod CIDRs from.
    #[arg(long, default_value = "10.244.0.0/16")]
    pub cluster_cidr: String,
    #[arg(long, default_value_t = 24)]
    pub node_cidr_mask_size: u8,
    /// How many objects each controller reconciles at once.
    #[arg(long, default_value_t = 16)]
    pub concurrent_syncs: u16,
    /// The cluster CA (PEM) published as the ConfigMap `kube-root-ca.crt` in every namespace, for
    /// pods' service account volumes.
    #[arg(long)]
    pub root_ca_file: Option<PathBuf>,
    /// Where `/metrics` and `/healthz` are served.
    #[arg(long, default_value = "127.0.0.1:10257")]
    pub metrics_bind_address: SocketAddr,
    #[command(flatten)]
    pub horizontal_pod_autoscaler: horizontal::Flags,
    #[command(flatten)]
    pub csr_signing: csrsigning::SigningFlags,
}

#[derive(Debug, thiserror::Error)]
pub enum ControllerManagerError {
    #[error(transparent)]
    Client(#[from] common::client::ClientError),
    #[error(transparent)]
    Leader(#[from] common::leader::LeaderError),
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("cannot serve metrics on {address}: {source}")]
    Metrics { address: SocketAddr, source: std::io::Error },
}

impl Config {
    fn enabled(&self, controller: &str) -> bool {
        let mut enabled = false;
        for word in &self.controllers {
            match word.as_str() {
                "*" => enabled = true,
                name if name.strip_prefix('-') == Some(controller) => return false,
                name if name == controller => enabled = true,
                _ => {}
            }
        }
        enabled
    }
}

pub async fn run(config: Config) -> Result<(), ControllerManagerError> {
    for word in &config.controllers {
        let name = word.trim_start_matches('-');
        if name != "*" && !CONTROLLERS.contains(&name) {
            return Err(ControllerManagerError::Config(format!("unknown controller {name:?}; known: {}", CONTROLLERS.join(", "))));
        }
    }
    let root_ca = match &config.root_ca_file {
        Some(path) => Some(std::fs::read_to_string(path).map_err(|err| ControllerManagerError::Config(format!("--root-ca-file {}: {err}", path.display())))?),
        None => None,
    };
    let signer = config.csr_signing.signer().map_err(ControllerManagerError::Config)?.map(Arc::new);
    let client = common::client::from_kubeconfig(config.kubeconfig.as_deref(), "kube-controller-manager").await?;
    let lease = config.leader_election.lease(&config.leader_elect_resource_name).map_err(ControllerManagerError::Config)?;
    let metrics = Arc::new(metrics::Metrics::default());
    let listener_address = config.metrics_bind_address;
    let served = tokio::spawn(metrics::serve(listener_address, metrics.clone()));
    let settings = Settings {
        node_monitor_grace_period: Duration::from_secs(config.node_monitor_grace_period_seconds),
        node_monitor_period: Duration::from_secs(config.node_monitor_period_seconds.max(1)),
        default_unreachable_toleration: Duration::from_secs(config.default_unreachable_toleration_seconds),
        cluster_cidr: config.cluster_cidr.clone(),
        node_cidr_mask_size: config.node_cidr_mask_size,
        concurrent_syncs: config.concurrent_syncs.max(1),
        root_ca,
    };
    let work = {
        let (client, config, identity) = (client.clone(), config.clone(), lease.identity.clone());
        async move {
            let context = Context::start(client, settings, metrics, identity).await;
            let mut controllers = tokio::task::JoinSet::new();
            let start = |controllers: &mut tokio::task::JoinSet<()>, name: &str, future: futures::future::BoxFuture<'static, ()>| {
                if config.enabled(name) {
                    tracing::info!(controller = name, "starting controller");
                    controllers.spawn(future);
                }
            };
            use futures::FutureExt;
            start(&mut controllers, "replicaset", replicaset::run::<ReplicaSet>(context.clone()).boxed());
            start(&mut controllers, "replicationcontroller", replicaset::run::<ReplicationController>(context.clone()).boxed());
            start(&mut controllers, "deployment", deployment::run(context.clone()).boxed());
            start(&mut controllers, "job", job::run(context.clone()).boxed());
            start(&mut controllers, "cronjob", cronjob::run(context.clone()).boxed());
            start(&mut controllers, "daemonset", daemonset::run(context.clone()).boxed());
            start(&mut controllers, "statefulset", statefulset::run(context.clone()).boxed());
            start(&mut controllers, "endpoints", endpoints::run(context.clone()).boxed());
            start(&mut controllers, "namespace", namespace::run(context.clone()).boxed());
            start(&mut controllers, "garbagecollector", garbage_collector::run(context.clone()).boxed());
            start(&mut controllers, "nodelifecycle", node_lifecycle::run(context.clone()).boxed());
            start(&mut controllers, "nodeipam", node_ipam::run(context.clone()).boxed());
            start(&mut controllers, "serviceaccount", serviceaccount::run(context.clone()).boxed());
            start(&mut controllers, "podgc", podgc::run(context.clone()).boxed());
            start(&mut controllers, "persistentvolume-binder", persistentvolume::run(context.clone()).boxed());
            start(&mut controllers, "pvc-protection", pvc_protection::run(context.clone()).boxed());
            start(&mut controllers, "pv-protection", pv_protection::run(context.clone()).boxed());
            start(&mut controllers, "ephemeral-volume", ephemeral::run(context.clone()).boxed());
            start(&mut controllers, "local-path", local_path::run(context.clone()).boxed());
            start(&mut controllers, "disruption", disruption::run(context.clone()).boxed());
            start(&mut controllers, "resourcequota", resourcequota::run(context.clone()).boxed());
            start(&mut controllers, "horizontalpodautoscaling", horizontal::run(context.clone(), config.horizontal_pod_autoscaler.clone()).boxed());
            // As kube's: without a CA to sign with, the signer does not start.
            match signer {
                Some(signer) => start(&mut controllers, "csrsigning", csrsigning::run(context.clone(), signer).boxed()),
                None => tracing::info!("not starting csrsigning: no --cluster-signing-cert-file and --cluster-signing-key-file"),
            }
            while controllers.join_next().await.is_some() {}
        }
    };
    let outcome = if config.leader_election.leader_elect {
        common::leader::run_as_leader(client, &lease, work).await.map_err(ControllerManagerError::from)
    } else {
        work.await;
        Ok(())
    };
    if served.is_finished()
        && let Ok(Err(source)) = served.await {
            return Err(ControllerManagerError::Metrics { address: listener_address, source });
        }
    outcome
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[test]
    fn controllers_flag_reads_as_kubes() {
        let config = |flag: &str| Config::parse_from(["controller-manager", &format!("--controllers={flag}")]);
        assert!(config("*").enabled("deployment"));
        assert!(!config("*,-deployment").enabled("deployment"));
        assert!(config("*,-deployment").enabled("replicaset"));
        assert!(config("replicaset").enabled("replicaset"));
        assert!(!config("replicaset").enabled("deployment"));
    }
}
