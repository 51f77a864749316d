//! The Service `kubernetes` in `default` and its Endpoints, which pods reach the API through
//! (`KUBERNETES_SERVICE_HOST`). As kube-apiserver's lease endpoint reconciler does, every
//! apiserver keeps a lease under `/registry/masterleases/<ip>` and writes the Endpoints as the
//! addresses of the leases still alive, so that one which dies leaves them and in-cluster clients
//! stop being sent to it.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use serde_json::{Value, json};

use super::{Api, Params, Target, ensure_defaults, write};
use crate::storage::{ListOptions, Revision, StoreError};

/// The port the `kubernetes` Service offers the apiserver on, as in every Kubernetes cluster.
const KUBERNETES_SERVICE_PORT: u16 = 443;

/// How often each apiserver renews its lease and reconciles the Service and Endpoints.
pub const INTERVAL: Duration = Duration::from_secs(5);

/// A lease whose revision has not moved for this long, on the observer's own clock, belongs to
/// an apiserver that is gone: three renewals missed, as kube-apiserver's 15 s lease TTL.
const LEASE_TTL: Duration = Duration::from_secs(15);

const LEASES: &str = "/registry/masterleases/";

/// One apiserver's side of the reconciliation: its address, and what it has seen of the others'
/// leases. Liveness is judged by whether a lease's revision moves, not by timestamps written by
/// other machines, so clocks that disagree cannot drop a live apiserver.
pub struct Reconciler {
    address: IpAddr,
    port: u16,
    /// Each lease's last seen mod revision and when this apiserver first saw that revision.
    seen: HashMap<String, (Revision, Instant)>,
}

impl Reconciler {
    pub fn new(address: IpAddr, port: u16) -> Self {
        Self { address, port, seen: HashMap::new() }
    }

    fn own_lease(&self) -> String {
        format!("{LEASES}{}", self.address)
    }

    /// Renews this apiserver's lease, forgets the dead ones, and makes the Service and
    /// Endpoints say so. Failures are logged and left to the next round.
    pub async fn reconcile(&mut self, api: &Api) {
        if let Err(err) = self.renew(api).await {
            tracing::warn!(error = %err, "cannot renew this apiserver's lease");
        }
        let addresses = match self.live_addresses(api).await {
            Ok(addresses) => addresses,
            Err(err) => {
                tracing::warn!(error = %err, "cannot read the apiservers' leases");
                return;
            }
        };
        self.ensure_service(api).await;
        self.write_endpoints(api, |_| addresses.clone()).await;
    }

    /// On shutdown: the lease goes, and this apiserver leaves the Endpoints at once rather than
    /// after the others notice.
    pub async fn withdraw(&self, api: &Api) {
        if let Err(err) = api.store.delete(&self.own_lease(), None).await
            && !matches!(err, StoreError::NotFound { .. })
        {
            tracing::warn!(error = %err, "cannot delete this apiserver's lease");
        }
        let own = self.address.to_string();
        self.write_endpoints(api, |current| current.iter().filter(|ip| **ip != own).cloned().collect()).await;
    }

    async fn renew(&self, api: &Api) -> Result<(), StoreError> {
        let key = self.own_lease();
        let value = json!({"ip": self.address.to_string(), "port": self.port}).to_string().into_bytes();
        match api.store.get(&key).await? {
            Some(current) => api.store.update(&key, value, current.mod_revision).await.map(drop),
            None => api.store.create(&key, value).await.map(drop),
        }
    }

    /// The addresses of the leases alive, this apiserver's always among them, sorted. Leases seen
    /// unchanged for [`LEASE_TTL`] are deleted (only if still unchanged).
    async fn live_addresses(&mut self, api: &Api) -> Result<Vec<String>, StoreError> {
        let now = Instant::now();
        let own = self.own_lease();
        let leases = api.store.list(LEASES, ListOptions::default()).await?.items;
        self.seen.retain(|key, _| leases.iter().any(|lease| lease.key == *key));
        let mut addresses = vec![self.address.to_string()];
        for lease in leases {
            if lease.key == own {
                continue;
            }
            let since = match self.seen.get(&lease.key) {
                Some((revision, since)) if *revision == lease.mod_revision => *since,
                _ => now,
            };
            self.seen.insert(lease.key.clone(), (lease.mod_revision, since));
            if now.duration_since(since) >= LEASE_TTL {
                tracing::info!(lease = %lease.key, "an apiserver stopped renewing its lease; removing it from the kubernetes Endpoints");
                match api.store.delete(&lease.key, Some(lease.mod_revision)).await {
                    Ok(_) | Err(StoreError::NotFound { .. }) => {
                        self.seen.remove(&lease.key);
                        continue;
                    }
                    // Renewed meanwhile: alive after all.
                    Err(StoreError::Conflict { .. }) => {}
                    Err(err) => return Err(err),
                }
            }
            if let Some(ip) = lease.key.strip_prefix(LEASES) {
                addresses.push(ip.to_string());
            }
        }
        addresses.sort();
        addresses.dedup();
        Ok(addresses)
    }

    async fn ensure_service(&self, api: &Api) {
        let Some(services) = api.registry.find("", "v1", "services") else { return };
        // Looked up in the watch cache first, so that the steady state writes nothing: a create
        // of the existing Service would even find its ClusterIP taken.
        if !matches!(crate::state::current(api, &services, Some("default"), "kubernetes").await, Ok(None)) {
            return;
        }
        let service = json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "kubernetes", "namespace": "default", "labels": {"component": "apiserver", "provider": "kubernetes"}},
            "spec": {"type": "ClusterIP", "clusterIP": crate::allocators::first_cluster_ip().to_string(), "sessionAffinity": "None",
                     "ports": [{"name": "https", "port": KUBERNETES_SERVICE_PORT, "protocol": "TCP", "targetPort": self.port}]},
        });
        ensure_defaults(api, vec![("services", service)]).await;
    }

    /// Sets the Endpoints' addresses to `desired(current addresses)`, creating them when absent;
    /// writes nothing when they already match.
    async fn write_endpoints(&self, api: &Api, desired: impl Fn(&[String]) -> Vec<String>) {
        let Some(resource) = api.registry.find("", "v1", "endpoints") else { return };
        let ports = json!([{"name": "https", "port": self.port, "protocol": "TCP"}]);
        let subsets = |addresses: Vec<String>| match addresses.is_empty() {
            true => json!([]),
            false => json!([{"addresses": addresses.iter().map(|ip| json!({"ip": ip})).collect::<Vec<_>>(), "ports": ports}]),
        };
        let target = Target { resource: resource.clone(), namespace: Some("default".into()), name: Some("kubernetes".into()), subresource: None };
        // A conflict means another apiserver wrote them meanwhile: read them again.
        for _ in 0..5 {
            let current = match crate::state::current(api, &resource, Some("default"), "kubernetes").await {
                Ok(current) => current,
                Err(err) => {
                    tracing::warn!(error = %err.message, "cannot read the kubernetes Endpoints");
                    return;
                }
            };
            let listed = current.as_ref().map(listed_addresses).unwrap_or_default();
            let mut addresses = desired(&listed);
            addresses.sort();
            let port = current.as_ref().and_then(|current| current["subsets"][0]["ports"][0]["port"].as_u64());
            let result = match current {
                // Compared by what matters rather than as JSON, which defaulting may have added to.
                Some(_) if listed == addresses && (addresses.is_empty() || port == Some(u64::from(self.port))) => return,
                Some(mut current) => {
                    current["subsets"] = subsets(addresses);
                    write::update(api, &target, &Params::default(), &super::own_headers(), &Bytes::from(current.to_string())).await
                }
                None => {
                    let endpoints = json!({
                        "apiVersion": "v1", "kind": "Endpoints",
                        "metadata": {"name": "kubernetes", "namespace": "default", "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}},
                        "subsets": subsets(addresses),
                    });
                    let target = Target { name: None, ..target.clone() };
                    write::create(api, &target, &Params::default(), &super::own_headers(), &Bytes::from(endpoints.to_string())).await
                }
            };
            match result {
                Ok(_) => return,
                Err(err) if err.code == 409 => continue,
                Err(err) => {
                    tracing::warn!(error = %err.message, "cannot write the kubernetes Endpoints");
                    return;
                }
            }
        }
    }
}

fn listed_addresses(endpoints: &Value) -> Vec<String> {
    let subsets = endpoints["subsets"].as_array().into_iter().flatten();
    let addresses = subsets.flat_map(|subset| subset["addresses"].as_array().into_iter().flatten());
    let mut listed: Vec<String> = addresses.filter_map(|address| address["ip"].as_str().map(str::to_string)).collect();
    listed.sort();
    listed
}
