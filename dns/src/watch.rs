//! Services and Endpoints from the apiserver (list once, then watch), turned into a new index
//! whenever either changes. Changes that arrive together are built together after a short pause,
//! which keeps a change answered well within a second.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures::StreamExt;
use hickory_server::proto::rr::Name;
use k8s_openapi::api::core::v1::{Endpoints, Service};
use kube::api::Api;
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Resource, ResourceExt};
use tokio::sync::Notify;
use tokio::task::JoinSet;

use crate::index::Index;
use crate::metrics::Metrics;
use crate::server::Zone;

/// How long a change waits for the ones that come with it (a Service and its Endpoints, a
/// rollout's many endpoint updates) before the index is rebuilt.
const SETTLE: Duration = Duration::from_millis(50);

pub struct Watch {
    pub client: kube::Client,
    pub zone: Arc<Zone>,
    pub metrics: Arc<Metrics>,
    pub domain: Name,
    pub ttl: u32,
}

impl Watch {
    /// Runs until dropped: the two watches, and a rebuild after each change once both have
    /// listed everything.
    pub async fn run(self) {
        let changed = Arc::new(Notify::new());
        let mut tasks = JoinSet::new();
        let (services, services_synced) = reflect::<Service>(&self.client, &changed, &mut tasks);
        let (endpoints, endpoints_synced) = reflect::<Endpoints>(&self.client, &changed, &mut tasks);
        let mut serial = 0u32;
        loop {
            changed.notified().await;
            tokio::time::sleep(SETTLE).await;
            if !(services_synced.load(Ordering::Acquire) && endpoints_synced.load(Ordering::Acquire)) {
                continue;
            }
            let (services, endpoints) = (services.state(), endpoints.state());
            // The SOA serial grows with each rebuild, from the time (as zone serials usually do).
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |since| since.as_secs());
            serial = u32::try_from(now).unwrap_or(0).max(serial.wrapping_add(1));
            let index = Index::build(services.iter().map(AsRef::as_ref), endpoints.iter().map(AsRef::as_ref), &self.domain, self.ttl, serial);
            self.metrics.rebuilt(index.services(), index.names());
            tracing::debug!(services = index.services(), names = index.names(), "index rebuilt");
            let first = !self.zone.is_ready();
            self.zone.replace(index);
            if first {
                tracing::info!(services = services.len(), endpoints = endpoints.len(), "serving the cluster's records");
            }
        }
    }
}

/// A reflector store of every `K` in the cluster, the flag that says it has listed them all, and
/// a notification on every change. The store keeps objects without the managed fields and
/// annotations, which the index never reads and which can be most of an object's size.
fn reflect<K>(client: &kube::Client, changed: &Arc<Notify>, tasks: &mut JoinSet<()>) -> (Store<K>, Arc<AtomicBool>)
where
    K: Resource<DynamicType = ()> + Clone + std::fmt::Debug + serde::de::DeserializeOwned + Send + Sync + 'static,
{
    let (store, writer) = reflector::store();
    let synced = Arc::new(AtomicBool::new(false));
    let stream = watcher::watcher(Api::<K>::all(client.clone()), watcher::Config::default())
        .default_backoff()
        .modify(|object: &mut K| {
            object.managed_fields_mut().clear();
            object.annotations_mut().clear();
        })
        .reflect(writer);
    let (changed, flag) = (changed.clone(), synced.clone());
    tasks.spawn(async move {
        let mut stream = std::pin::pin!(stream);
        while let Some(event) = stream.next().await {
            match event {
                Ok(watcher::Event::Init | watcher::Event::InitApply(_)) => {}
                Ok(watcher::Event::InitDone) => {
                    flag.store(true, Ordering::Release);
                    changed.notify_one();
                }
                Ok(watcher::Event::Apply(_) | watcher::Event::Delete(_)) => changed.notify_one(),
                Err(err) => tracing::warn!(kind = %K::kind(&()), "watch failed, retrying: {err}"),
            }
        }
    });
    (store, synced)
}
