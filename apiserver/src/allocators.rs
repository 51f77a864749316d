//! Service ClusterIPs (from 10.96.0.0/12) and NodePorts (30000-32767).
//!
//! Each address or port handed out is a key created with create-if-absent in the store, so two
//! Services can never get the same one, whether they are created at once, across restarts, or
//! through several apiservers sharing one etcd (the role Kubernetes' IPAddress objects and
//! allocation bitmaps play).

use std::net::Ipv4Addr;

use serde_json::json;

use crate::storage::{Store, StoreError};

const CLUSTER_IPS: &str = "/registry/allocations/clusterips/";
const NODE_PORTS: &str = "/registry/allocations/nodeports/";
const SERVICE_NETWORK: u32 = u32::from_be_bytes([10, 96, 0, 0]);
const SERVICE_PREFIX_BITS: u32 = 12;
pub const NODE_PORT_RANGE: std::ops::RangeInclusive<u16> = 30000..=32767;
/// Random draws before falling back to a scan of the whole range.
const RANDOM_TRIES: usize = 32;

#[derive(Debug, thiserror::Error)]
pub enum AllocationError {
    #[error("provided IP is already allocated")]
    IpTaken,
    #[error("provided IP is not in the valid range. The range of valid IPs is 10.96.0.0/12")]
    IpOutOfRange,
    #[error("provided port is already allocated")]
    PortTaken,
    #[error("provided port is not in the valid range. The range of valid ports is 30000-32767")]
    PortOutOfRange,
    #[error("range is full")]
    Full,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Entries of the pools an object holds: a ClusterIP and NodePorts.
#[derive(Debug, Default)]
pub struct Held {
    pub ip: Option<String>,
    pub ports: Vec<u16>,
}

impl Held {
    /// What `self` holds that `kept` does not.
    pub fn without(self, kept: &Held) -> Self {
        Self {
            ip: self.ip.filter(|ip| kept.ip.as_ref() != Some(ip)),
            ports: self.ports.into_iter().filter(|port| !kept.ports.contains(port)).collect(),
        }
    }

    /// Gives the entries back to their pools.
    pub async fn release(&self, store: &dyn Store) {
        if let Some(ip) = &self.ip {
            release_ip(store, ip).await;
        }
        for port in &self.ports {
            release_port(store, *port).await;
        }
    }
}

/// The Service network's first address, which the `kubernetes` Service takes.
pub fn first_cluster_ip() -> Ipv4Addr {
    Ipv4Addr::from(SERVICE_NETWORK + 1)
}

fn random_u32() -> u32 {
    let bytes = uuid::Uuid::new_v4().into_bytes();
    u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])
}

/// The usable addresses: the network and broadcast addresses are not handed out.
fn ip_range() -> (u32, u32) {
    let size = 1u32 << (32 - SERVICE_PREFIX_BITS);
    (SERVICE_NETWORK + 1, SERVICE_NETWORK + size - 2)
}

pub fn in_service_range(ip: Ipv4Addr) -> bool {
    let (first, last) = ip_range();
    (first..=last).contains(&u32::from(ip))
}

async fn claim(store: &dyn Store, key: &str, owner: &str) -> Result<bool, StoreError> {
    let value = json!({"owner": owner}).to_string().into_bytes();
    match store.create(key, value).await {
        Ok(_) => Ok(true),
        Err(StoreError::AlreadyExists { .. }) => Ok(false),
        Err(err) => Err(err),
    }
}

/// Reserves `ip` for `owner` (`namespace/name`).
pub async fn reserve_ip(store: &dyn Store, ip: Ipv4Addr, owner: &str) -> Result<(), AllocationError> {
    if !in_service_range(ip) {
        return Err(AllocationError::IpOutOfRange);
    }
    if claim(store, &format!("{CLUSTER_IPS}{ip}"), owner).await? { Ok(()) } else { Err(AllocationError::IpTaken) }
}

/// Picks a free ClusterIP for `owner`. The first addresses are left to Services that ask for
/// them by number (10.96.0.1 for `kubernetes`, 10.96.0.10 for `kube-dns`), as Kubernetes
/// prefers the upper part of the range for dynamic allocation.
pub async fn allocate_ip(store: &dyn Store, owner: &str) -> Result<Ipv4Addr, AllocationError> {
    let (first, last) = ip_range();
    let dynamic_first = first + 255;
    let span = last - dynamic_first + 1;
    for _ in 0..RANDOM_TRIES {
        let ip = Ipv4Addr::from(dynamic_first + random_u32() % span);
        if claim(store, &format!("{CLUSTER_IPS}{ip}"), owner).await? {
            return Ok(ip);
        }
    }
    for candidate in first..=last {
        let ip = Ipv4Addr::from(candidate);
        if claim(store, &format!("{CLUSTER_IPS}{ip}"), owner).await? {
            return Ok(ip);
        }
    }
    Err(AllocationError::Full)
}

pub async fn reserve_port(store: &dyn Store, port: u16, owner: &str) -> Result<(), AllocationError> {
    if !NODE_PORT_RANGE.contains(&port) {
        return Err(AllocationError::PortOutOfRange);
    }
    if claim(store, &format!("{NODE_PORTS}{port}"), owner).await? { Ok(()) } else { Err(AllocationError::PortTaken) }
}

pub async fn allocate_port(store: &dyn Store, owner: &str) -> Result<u16, AllocationError> {
    let span = u32::from(NODE_PORT_RANGE.end() - NODE_PORT_RANGE.start()) + 1;
    for _ in 0..RANDOM_TRIES {
        let port = NODE_PORT_RANGE.start() + (random_u32() % span) as u16;
        if claim(store, &format!("{NODE_PORTS}{port}"), owner).await? {
            return Ok(port);
        }
    }
    for port in NODE_PORT_RANGE {
        if claim(store, &format!("{NODE_PORTS}{port}"), owner).await? {
            return Ok(port);
        }
    }
    Err(AllocationError::Full)
}

pub async fn release_ip(store: &dyn Store, ip: &str) {
    release(store, &format!("{CLUSTER_IPS}{ip}")).await;
}

pub async fn release_port(store: &dyn Store, port: u16) {
    release(store, &format!("{NODE_PORTS}{port}")).await;
}

async fn release(store: &dyn Store, key: &str) {
    match store.delete(key, None).await {
        Ok(_) | Err(StoreError::NotFound { .. }) => {}
        Err(err) => tracing::warn!(key, error = %err, "could not release an allocation; it stays reserved"),
    }
}
