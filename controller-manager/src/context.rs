//! What every controller gets: the client, the shared informers, the settings and the metrics.

use std::sync::Arc;

use k8s_openapi::api::apps::v1::{ControllerRevision, DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Endpoints, Namespace, Node, PersistentVolume, PersistentVolumeClaim, Pod, ReplicationController, ResourceQuota, Service, ServiceAccount};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::storage::v1::StorageClass;
use kube::api::Api;

use crate::informer::Informer;
use crate::metrics::Metrics;

/// The flags controllers read.
#[derive(Clone, Debug)]
pub struct Settings {
    /// How long a node's Lease may go unrenewed before the node is `Ready=Unknown`.
    pub node_monitor_grace_period: std::time::Duration,
    /// How often the node lifecycle controller looks at the nodes' leases.
    pub node_monitor_period: std::time::Duration,
    /// The toleration for `node.kubernetes.io/unreachable` a pod without its own gets.
    pub default_unreachable_toleration: std::time::Duration,
    pub cluster_cidr: String,
    pub node_cidr_mask_size: u8,
    pub concurrent_syncs: u16,
    /// The cluster CA to publish in every namespace, when given.
    pub root_ca: Option<String>,
}

pub struct Context {
    pub client: kube::Client,
    pub settings: Settings,
    pub metrics: Arc<Metrics>,
    /// This replica's name, for events.
    pub identity: String,
    pub pods: Informer<Pod>,
    pub replicasets: Informer<ReplicaSet>,
    pub replication_controllers: Informer<ReplicationController>,
    pub deployments: Informer<Deployment>,
    pub jobs: Informer<Job>,
    pub cron_jobs: Informer<CronJob>,
    pub daemon_sets: Informer<DaemonSet>,
    pub stateful_sets: Informer<StatefulSet>,
    pub controller_revisions: Informer<ControllerRevision>,
    pub services: Informer<Service>,
    pub endpoints: Informer<Endpoints>,
    pub nodes: Informer<Node>,
    pub namespaces: Informer<Namespace>,
    pub service_accounts: Informer<ServiceAccount>,
    /// Node heartbeats, in `kube-node-lease`.
    pub node_leases: Informer<Lease>,
    /// Storage: not waited for by [`Context::start`], so that the other controllers run against
    /// an apiserver that does not serve them; the storage controllers wait with
    /// [`Context::storage_ready`].
    pub persistent_volumes: Informer<PersistentVolume>,
    pub persistent_volume_claims: Informer<PersistentVolumeClaim>,
    pub storage_classes: Informer<StorageClass>,
    /// Not waited for by [`Context::start`] either: each is waited for by its one controller
    /// (`disruption`, `resourcequota`), so an apiserver without the kind stalls only that one.
    pub pod_disruption_budgets: Informer<PodDisruptionBudget>,
    pub resource_quotas: Informer<ResourceQuota>,
    /// Waited for by `horizontalpodautoscaling` alone, as the two above.
    pub horizontal_pod_autoscalers: Informer<HorizontalPodAutoscaler>,
    storage_listed: tokio::sync::OnceCell<()>,
}

impl Context {
    /// Starts every informer and waits until each has listed.
    pub async fn start(client: kube::Client, settings: Settings, metrics: Arc<Metrics>, identity: String) -> Arc<Self> {
        let context = Self {
            pods: Informer::start(Api::all(client.clone()), "pods"),
            replicasets: Informer::start(Api::all(client.clone()), "replicasets"),
            replication_controllers: Informer::start(Api::all(client.clone()), "replicationcontrollers"),
            deployments: Informer::start(Api::all(client.clone()), "deployments"),
            jobs: Informer::start(Api::all(client.clone()), "jobs"),
            cron_jobs: Informer::start(Api::all(client.clone()), "cron jobs"),
            daemon_sets: Informer::start(Api::all(client.clone()), "daemon sets"),
            stateful_sets: Informer::start(Api::all(client.clone()), "stateful sets"),
            controller_revisions: Informer::start(Api::all(client.clone()), "controller revisions"),
            services: Informer::start(Api::all(client.clone()), "services"),
            endpoints: Informer::start(Api::all(client.clone()), "endpoints"),
            nodes: Informer::start(Api::all(client.clone()), "nodes"),
            namespaces: Informer::start(Api::all(client.clone()), "namespaces"),
            service_accounts: Informer::start(Api::all(client.clone()), "service accounts"),
            node_leases: Informer::start(Api::namespaced(client.clone(), "kube-node-lease"), "node leases"),
            persistent_volumes: Informer::start(Api::all(client.clone()), "persistent volumes"),
            persistent_volume_claims: Informer::start(Api::all(client.clone()), "persistent volume claims"),
            storage_classes: Informer::start(Api::all(client.clone()), "storage classes"),
            pod_disruption_budgets: Informer::start(Api::all(client.clone()), "pod disruption budgets"),
            resource_quotas: Informer::start(Api::all(client.clone()), "resource quotas"),
            horizontal_pod_autoscalers: Informer::start(Api::all(client.clone()), "horizontal pod autoscalers"),
            storage_listed: tokio::sync::OnceCell::new(),
            client,
            settings,
            metrics,
            identity,
        };
        context.pods.ready().await;
        context.replicasets.ready().await;
        context.replication_controllers.ready().await;
        context.deployments.ready().await;
        context.jobs.ready().await;
        context.cron_jobs.ready().await;
        context.daemon_sets.ready().await;
        context.stateful_sets.ready().await;
        context.controller_revisions.ready().await;
        context.services.ready().await;
        context.endpoints.ready().await;
        context.nodes.ready().await;
        context.namespaces.ready().await;
        context.service_accounts.ready().await;
        context.node_leases.ready().await;
        Arc::new(context)
    }

    /// Waits until the volume, claim and class informers have listed. One caller waits on the
    /// stores and the others on it: kube-runtime's readiness wakes only the last of several
    /// tasks waiting on one store at once (a oneshot receiver keeps one waker), so the storage
    /// controllers starting together must not each wait on the stores.
    pub async fn storage_ready(&self) {
        self.storage_listed
            .get_or_init(|| async {
                self.persistent_volumes.ready().await;
                self.persistent_volume_claims.ready().await;
                self.storage_classes.ready().await;
            })
            .await;
    }

    /// An event recorder that signs as `component` (`deployment-controller`, ...).
    pub fn recorder(&self, component: &str) -> common::events::Recorder {
        common::events::Recorder::new(self.client.clone(), component, &self.identity)
    }
}
