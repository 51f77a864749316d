//! What the handlers and the policy layer share at run time: the store, the watch cache over it,
//! the metrics, how kubelets are reached and the token signer; and the one way to read an object
//! as it is now.

use std::sync::Arc;

use serde_json::Value;

use crate::errors::ApiError;
use crate::metrics::Metrics;
use crate::registry::Registry;
use crate::resources::ResourceType;
use crate::storage::Store;
use crate::strategy::Cluster;
use crate::watch_cache::WatchCache;

/// What the REST handlers and the policy layer share.
pub struct Api {
    /// The served kinds.
    pub registry: Registry,
    pub store: Arc<dyn Store>,
    pub cache: WatchCache,
    pub metrics: Metrics,
    /// How the requests proxied to nodes' kubelets connect (TLS with the apiserver's client
    /// certificate, when configured).
    pub kubelet: common::upgrade::Connector,
    /// The exec, attach and port-forward connections being spliced to kubelets.
    pub streams: common::upgrade::Gauge,
    /// Signs service account tokens (TokenRequest), when a signing key is configured.
    pub tokens: Option<Arc<crate::service_account_token::Signer>>,
    /// How long a request that is not long-running may take (`--request-timeout`).
    pub request_timeout: std::time::Duration,
}

/// The object stored under `resource`/`namespace`/`name`: from the watch cache when it has it,
/// else from storage, so that an object created a moment ago is found and a deleted one is not.
pub async fn current(api: &Api, resource: &ResourceType, namespace: Option<&str>, name: &str) -> Result<Option<Value>, ApiError> {
    let key = resource.key(namespace, name);
    if let Some(cached) = api.cache.of(resource).and_then(|cache| cache.get(&key)) {
        return Ok(Some(cached.value()));
    }
    let stored = api.store.get(&key).await.map_err(|err| ApiError::from_store(err, resource, name))?;
    stored.map(|kv| kv.decode_object().map_err(|err| ApiError::from_store(err, resource, name))).transpose()
}

/// What kinds' strategies see of the cluster: objects as [`current`] reads them.
#[async_trait::async_trait]
impl Cluster for Api {
    async fn current(&self, group: &str, version: &str, plural: &str, namespace: Option<&str>, name: &str) -> Result<Option<Value>, ApiError> {
        let Some(kind) = self.registry.find(group, version, plural) else {
            return Err(ApiError::internal(format!("{plural}.{group}/{version} is not served")));
        };
        current(self, &kind, namespace, name).await
    }

    async fn list(&self, group: &str, version: &str, plural: &str, namespace: Option<&str>) -> Result<Vec<Value>, ApiError> {
        let Some(kind) = self.registry.find(group, version, plural) else {
            return Err(ApiError::internal(format!("{plural}.{group}/{version} is not served")));
        };
        let page = self.store.list(&kind.namespace_prefix(namespace), crate::storage::ListOptions::default()).await.map_err(|err| ApiError::from_store(err, &kind, ""))?;
        page.items.iter().map(|kv| kv.decode_object().map_err(|err| ApiError::from_store(err, &kind, ""))).collect()
    }
}
