//! Node IPAM, after Kubernetes' range allocator (`pkg/controller/nodeipam/ipam`): every node
//! without `spec.podCIDR` gets the lowest free `/--node-cidr-mask-size` block of
//! `--cluster-cidr` (IPv4), no two nodes the same, and a deleted node's block is free again.
//!
//! Before handing out anything it learns every block nodes already have, so that a restart never
//! gives one out twice. A node's pod CIDR cannot change once set, so one that lies outside the
//! range or that another node already has is reported (event `CIDRNotAvailable`) and left alone;
//! if the other node goes, it becomes this node's.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::Ipv4Addr;
use std::ops::RangeInclusive;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::reflector::{ObjectRef, Store};
use serde_json::json;

use crate::context::Context;
use crate::framework::{self, ReconcileError};

/// Kubernetes' node IPAM signs its events as the node controller.
const COMPONENT: &str = "node-controller";
/// The most node blocks one cluster CIDR may be cut into (Kubernetes' `clusterSubnetMaxDiff`
/// of 16 bits), which also bounds the allocator's memory.
const MAX_SUBNET_BITS: u8 = 16;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CidrError {
    #[error("cluster CIDR {0:?} is not an IPv4 CIDR (a.b.c.d/n); IPv6 is not supported")]
    Invalid(String),
    #[error("node CIDR mask size {mask} does not fit cluster CIDR {cidr}: it must be between /{prefix} and /32 and at most {MAX_SUBNET_BITS} bits longer")]
    MaskSize { cidr: String, prefix: u8, mask: u8 },
}

/// Why a node's own pod CIDR cannot be recorded as its.
#[derive(Debug, PartialEq, Eq)]
enum Refused {
    /// Not a CIDR at all (the apiserver validates it, so only a bug would get here).
    Invalid,
    OutOfRange,
    /// Another node has (part of) it; its name.
    Taken(String),
}

/// Parses `a.b.c.d/n`, masking host bits off as Go's `net.ParseCIDR` does.
fn parse_ipv4_cidr(text: &str) -> Option<(u32, u8)> {
    let (address, prefix) = text.split_once('/')?;
    let address: Ipv4Addr = address.parse().ok()?;
    let prefix: u8 = prefix.parse().ok().filter(|prefix| *prefix <= 32)?;
    Some((u32::from(address) & mask_bits(prefix), prefix))
}

fn mask_bits(prefix: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0)
}

#[derive(Clone, Debug)]
struct Holder {
    uid: String,
    node: String,
}

/// Which blocks of the cluster CIDR are whose.
struct Allocator {
    base: u32,
    prefix: u8,
    mask: u8,
    /// Block index → its node.
    owners: BTreeMap<u32, Holder>,
    /// Node uid → the blocks it holds.
    held: HashMap<String, RangeInclusive<u32>>,
}

impl Allocator {
    fn new(cluster_cidr: &str, mask: u8) -> Result<Self, CidrError> {
        let (base, prefix) = parse_ipv4_cidr(cluster_cidr.trim()).ok_or_else(|| CidrError::Invalid(cluster_cidr.to_string()))?;
        if mask < prefix || mask > 32 || mask - prefix > MAX_SUBNET_BITS {
            return Err(CidrError::MaskSize { cidr: cluster_cidr.to_string(), prefix, mask });
        }
        Ok(Self { base, prefix, mask, owners: BTreeMap::new(), held: HashMap::new() })
    }

    fn blocks(&self) -> u32 {
        1 << (self.mask - self.prefix)
    }

    fn range(&self) -> String {
        format!("{}/{}", Ipv4Addr::from(self.base), self.prefix)
    }

    fn cidr(&self, index: u32) -> String {
        let shift = 32 - u32::from(self.mask);
        let offset = u64::from(index) << shift;
        // index < blocks(), so the offset stays within the cluster CIDR and below 2^32.
        let address = self.base.saturating_add(u32::try_from(offset).unwrap_or(u32::MAX));
        format!("{}/{}", Ipv4Addr::from(address), self.mask)
    }

    /// The blocks a CIDR covers: several for a wider one, the one it lies in for a narrower.
    fn blocks_of(&self, cidr: &str) -> Result<RangeInclusive<u32>, Refused> {
        let (address, prefix) = parse_ipv4_cidr(cidr).ok_or(Refused::Invalid)?;
        if prefix < self.prefix || address & mask_bits(self.prefix) != self.base {
            return Err(Refused::OutOfRange);
        }
        let shift = 32 - u32::from(self.mask);
        let first = (address - self.base) >> shift;
        let last = if prefix < self.mask { first + (1 << (self.mask - prefix)) - 1 } else { first };
        Ok(first..=last)
    }

    /// Records that node `uid` has `cidr`, unless it is outside the range or another's.
    fn occupy(&mut self, uid: &str, node: &str, cidr: &str) -> Result<(), Refused> {
        let blocks = self.blocks_of(cidr)?;
        if self.held.get(uid) == Some(&blocks) {
            return Ok(());
        }
        if let Some(other) = blocks.clone().filter_map(|index| self.owners.get(&index)).find(|holder| holder.uid != uid) {
            return Err(Refused::Taken(other.node.clone()));
        }
        // What the node was given earlier and did not end up with is free again.
        self.release(uid);
        for index in blocks.clone() {
            self.owners.insert(index, Holder { uid: uid.to_string(), node: node.to_string() });
        }
        self.held.insert(uid.to_string(), blocks);
        Ok(())
    }

    /// The block for a node without one: what it was given already (a write that did not
    /// land), else the lowest free one; None when the range is used up.
    fn allocate(&mut self, uid: &str, node: &str) -> Option<String> {
        if let Some(blocks) = self.held.get(uid) {
            return Some(self.cidr(*blocks.start()));
        }
        let mut free = 0;
        for index in self.owners.keys() {
            if *index != free {
                break;
            }
            free += 1;
        }
        if free >= self.blocks() {
            return None;
        }
        self.owners.insert(free, Holder { uid: uid.to_string(), node: node.to_string() });
        self.held.insert(uid.to_string(), free..=free);
        Some(self.cidr(free))
    }

    /// Frees what node `uid` holds; answers whether it held anything.
    fn release(&mut self, uid: &str) -> bool {
        let Some(blocks) = self.held.remove(uid) else { return false };
        for index in blocks {
            if self.owners.get(&index).is_some_and(|holder| holder.uid == uid) {
                self.owners.remove(&index);
            }
        }
        true
    }

    fn holds(&self, uid: &str) -> bool {
        self.held.contains_key(uid)
    }
}

/// The node's IPv4 pod CIDR, if it has one. (A dual-stack node's IPv6 one is not ours to manage.)
fn ipv4_cidr(node: &Node) -> Option<String> {
    let spec = node.spec.as_ref()?;
    let cidrs = spec.pod_cidrs.clone().filter(|cidrs| !cidrs.is_empty()).or_else(|| spec.pod_cidr.clone().map(|cidr| vec![cidr]))?;
    cidrs.into_iter().find(|cidr| !cidr.contains(':'))
}

fn has_cidr(node: &Node) -> bool {
    node.spec.as_ref().is_some_and(|spec| spec.pod_cidrs.as_ref().is_some_and(|cidrs| !cidrs.is_empty()) || spec.pod_cidr.as_ref().is_some_and(|cidr| !cidr.is_empty()))
}

struct Controller {
    context: Arc<Context>,
    recorder: common::events::Recorder,
    allocator: Mutex<Allocator>,
    /// (node uid, message) of warnings already recorded, so that a node's every status update
    /// does not add to its event.
    warned: Mutex<HashSet<(String, String)>>,
}

pub async fn run(context: Arc<Context>) {
    let settings = &context.settings;
    let allocator = match Allocator::new(&settings.cluster_cidr, settings.node_cidr_mask_size) {
        Ok(allocator) => allocator,
        Err(err) => {
            tracing::error!(controller = "nodeipam", error = %err, "not starting");
            return;
        }
    };
    tracing::info!(cluster_cidr = %allocator.range(), node_cidr_mask_size = allocator.mask, "allocating node pod CIDRs");
    let controller = Arc::new(Controller { recorder: context.recorder(COMPONENT), context: context.clone(), allocator: Mutex::new(allocator), warned: Mutex::default() });

    // Everything already given is learnt before anything is handed out; oldest node first, so
    // that of two nodes with one CIDR the one that had it first keeps it.
    let mut nodes = context.nodes.store().state();
    nodes.sort_by_key(|node| (node.metadata.creation_timestamp.as_ref().map(|time| time.0), node.metadata.name.clone()));
    for node in nodes.iter().filter(|node| has_cidr(node)) {
        controller.occupy(node).await;
    }

    let store = context.nodes.store();
    let changes = context.nodes.changes().flat_map({
        let (store, controller) = (store.clone(), controller.clone());
        move |node| futures::stream::iter(controller.requests_for(&store, &node))
    });
    framework::run("nodeipam", context.metrics.clone(), controller, store, vec![changes.boxed()], context.settings.concurrent_syncs, reconcile).await;
}

async fn reconcile(node: Arc<Node>, controller: Arc<Controller>) -> Result<Action, ReconcileError> {
    if has_cidr(&node) {
        controller.occupy(&node).await;
        return Ok(Action::requeue(framework::RESYNC));
    }
    if node.metadata.deletion_timestamp.is_some() {
        return Ok(Action::requeue(framework::RESYNC));
    }
    let name = node.metadata.name.clone().unwrap_or_default();
    let uid = node.metadata.uid.clone().unwrap_or_default();
    let allocated = controller.allocator.lock().map_err(|_| ReconcileError::Other("node CIDR allocator poisoned".into()))?.allocate(&uid, &name);
    let Some(cidr) = allocated else {
        controller.warn(&node, &format!("Node {name} status is now: CIDRNotAvailable"), "no pod CIDR left for the node").await;
        return Ok(Action::requeue(framework::RESYNC));
    };
    // The resourceVersion makes sure the node is the one the block was reserved for, not a
    // namesake created meanwhile, nor one given a CIDR by someone else since it was read.
    let patch = json!({"metadata": {"resourceVersion": node.metadata.resource_version}, "spec": {"podCIDR": cidr, "podCIDRs": [cidr]}});
    let nodes: Api<Node> = Api::all(controller.context.client.clone());
    match nodes.patch(&name, &PatchParams::default(), &Patch::Merge(patch)).await {
        Ok(_) => {
            tracing::info!(node = %name, cidr = %cidr, "pod CIDR assigned");
            Ok(Action::requeue(framework::RESYNC))
        }
        // Changed meanwhile: the block stays reserved for the node, and the change that came
        // first brings it back here (the requeue is in case that was its deletion).
        Err(err) if framework::answered(&err, &[409]) => {
            tracing::debug!(node = %name, "node changed meanwhile; trying again");
            Ok(Action::requeue(Duration::from_secs(1)))
        }
        // Gone, or given a CIDR by someone else (the apiserver refuses a second): the block is
        // not this node's; if it has one of its own, the change brings it here to be recorded.
        Err(err) if framework::answered(&err, &[404, 422]) => {
            if let Ok(mut allocator) = controller.allocator.lock() {
                allocator.release(&uid);
            }
            Ok(Action::requeue(framework::RESYNC))
        }
        // The block stays reserved for the node; the retry writes the same one.
        Err(err) => Err(err.into()),
    }
}

impl Controller {
    /// Records the node's own CIDR as its, or warns that it cannot be.
    async fn occupy(&self, node: &Node) {
        let Some(cidr) = ipv4_cidr(node) else { return };
        let name = node.metadata.name.clone().unwrap_or_default();
        let uid = node.metadata.uid.clone().unwrap_or_default();
        let (outcome, range) = match self.allocator.lock() {
            Ok(mut allocator) => (allocator.occupy(&uid, &name, &cidr), allocator.range()),
            Err(_) => return,
        };
        let message = match outcome {
            Ok(()) => return,
            Err(Refused::Invalid) => format!("Node {name} has pod CIDR {cidr:?}, which is not an IPv4 CIDR; it is left as it is"),
            Err(Refused::OutOfRange) => format!("Node {name} has pod CIDR {cidr}, outside the cluster CIDR {range}; it is left as it is"),
            Err(Refused::Taken(other)) => format!("Node {name} has pod CIDR {cidr}, which node {other} has too; it is left as it is"),
        };
        self.warn(node, &message, &message).await;
    }

    /// What to reconcile when `node` changed: itself; or, when it is gone, every node that
    /// waits for a block (none left, or its own held by another), since it may have freed one.
    fn requests_for(&self, store: &Store<Node>, node: &Node) -> Vec<ObjectRef<Node>> {
        let reference = ObjectRef::from_obj(node);
        let current = store.get(&reference);
        if current.as_ref().is_some_and(|current| current.metadata.uid == node.metadata.uid) {
            return vec![reference];
        }
        // Deleted, or replaced by a namesake.
        let uid = node.metadata.uid.clone().unwrap_or_default();
        if let Ok(mut warned) = self.warned.lock() {
            warned.retain(|(warned_uid, _)| *warned_uid != uid);
        }
        let Ok(mut allocator) = self.allocator.lock() else { return Vec::new() };
        let mut requests: Vec<ObjectRef<Node>> = current.iter().map(|current| ObjectRef::from_obj(&**current)).collect();
        if allocator.release(&uid) {
            if let Some(cidr) = ipv4_cidr(node) {
                tracing::info!(node = node.metadata.name.as_deref().unwrap_or_default(), cidr = %cidr, "node deleted; its pod CIDR is free");
            }
            let waiting = store.state().into_iter().filter(|other| !allocator.holds(other.metadata.uid.as_deref().unwrap_or_default()));
            requests.extend(waiting.map(|other| ObjectRef::from_obj(&*other)));
        }
        requests
    }

    /// Logs `log` and records `message` as a warning about the node, once per node and message.
    async fn warn(&self, node: &Node, message: &str, log: &str) {
        let key = (node.metadata.uid.clone().unwrap_or_default(), message.to_string());
        if !self.warned.lock().is_ok_and(|mut warned| warned.insert(key)) {
            return;
        }
        let range = self.allocator.lock().map(|allocator| allocator.range()).unwrap_or_default();
        tracing::warn!(node = node.metadata.name.as_deref().unwrap_or_default(), cluster_cidr = %range, "{log}");
        if let Err(err) = self.recorder.record(&common::events::reference(node), "Warning", "CIDRNotAvailable", "CIDRAssignment", message).await {
            tracing::debug!(node = ?node.metadata.name, error = %err, "cannot record event");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lowest_free_blocks_in_order_and_reused() {
        let mut allocator = Allocator::new("10.244.0.0/16", 24).unwrap();
        assert_eq!(allocator.allocate("a", "a"), Some("10.244.0.0/24".into()));
        assert_eq!(allocator.allocate("b", "b"), Some("10.244.1.0/24".into()));
        assert_eq!(allocator.allocate("a", "a"), Some("10.244.0.0/24".into()), "a retry gets the same block");
        assert_eq!(allocator.occupy("c", "c", "10.244.2.0/24"), Ok(()));
        assert_eq!(allocator.allocate("d", "d"), Some("10.244.3.0/24".into()));
        assert!(allocator.release("b"));
        assert!(!allocator.release("b"));
        assert_eq!(allocator.allocate("e", "e"), Some("10.244.1.0/24".into()));
    }

    #[test]
    fn own_cidrs_outside_or_taken_are_refused() {
        let mut allocator = Allocator::new("10.244.0.0/16", 24).unwrap();
        assert_eq!(allocator.occupy("a", "a", "10.244.5.0/24"), Ok(()));
        assert_eq!(allocator.occupy("b", "b", "10.244.5.0/24"), Err(Refused::Taken("a".into())));
        assert_eq!(allocator.occupy("b", "b", "10.245.0.0/24"), Err(Refused::OutOfRange));
        assert_eq!(allocator.occupy("b", "b", "10.0.0.0/8"), Err(Refused::OutOfRange));
        assert_eq!(allocator.occupy("b", "b", "fd00::/64"), Err(Refused::Invalid));
        // A wider block takes every block it covers; a narrower one the block it lies in.
        assert_eq!(allocator.occupy("c", "c", "10.244.6.0/23"), Ok(()));
        assert_eq!(allocator.occupy("d", "d", "10.244.7.128/25"), Err(Refused::Taken("c".into())));
        assert_eq!(allocator.allocate("e", "e"), Some("10.244.0.0/24".into()));
        // Once the holder goes, the node that had it too can have it.
        assert!(allocator.release("a"));
        assert_eq!(allocator.occupy("b", "b", "10.244.5.0/24"), Ok(()));
    }

    #[test]
    fn exhausted_range_allocates_nothing() {
        let mut allocator = Allocator::new("10.250.0.0/23", 24).unwrap();
        assert_eq!(allocator.allocate("a", "a"), Some("10.250.0.0/24".into()));
        assert_eq!(allocator.allocate("b", "b"), Some("10.250.1.0/24".into()));
        assert_eq!(allocator.allocate("c", "c"), None);
        let mut single = Allocator::new("10.0.0.0/24", 24).unwrap();
        assert_eq!(single.allocate("a", "a"), Some("10.0.0.0/24".into()));
        assert_eq!(single.allocate("b", "b"), None);
    }

    #[test]
    fn configuration_is_checked() {
        assert!(matches!(Allocator::new("fd00::/48", 64), Err(CidrError::Invalid(_))));
        assert!(matches!(Allocator::new("10.244.0.0", 24), Err(CidrError::Invalid(_))));
        assert!(matches!(Allocator::new("10.244.0.0/16", 8), Err(CidrError::MaskSize { .. })));
        assert!(matches!(Allocator::new("10.0.0.0/8", 25), Err(CidrError::MaskSize { .. })));
        assert!(matches!(Allocator::new("10.0.0.0/8", 33), Err(CidrError::MaskSize { .. })));
        let masked = Allocator::new("10.244.3.7/16", 32).unwrap();
        assert_eq!(masked.range(), "10.244.0.0/16");
        assert_eq!(masked.cidr(65535), "10.244.255.255/32");
    }
}
