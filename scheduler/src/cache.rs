//! What the scheduler knows of the cluster: every node with the pods assigned to it, summed into
//! what filters and scores read. Fed by the node and pod watches, and by the scheduler itself:
//! a pod it has just chosen a node for is *assumed* there at once, so that the next pod already
//! sees the room it takes, before the binding is written and the watch confirms it.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Node, Pod, Taint};

/// Requests summed the way kube-scheduler sums them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Resources {
    pub milli_cpu: i64,
    pub memory: i64,
    pub pods: i64,
}

impl Resources {
    pub fn add(&mut self, other: &Self) {
        self.milli_cpu += other.milli_cpu;
        self.memory += other.memory;
        self.pods += other.pods;
    }

    pub fn subtract(&mut self, other: &Self) {
        self.milli_cpu -= other.milli_cpu;
        self.memory -= other.memory;
        self.pods -= other.pods;
    }
}

/// What scoring assumes a container without requests uses (kube-scheduler's non-zero defaults),
/// so that many request-less pods still spread instead of piling on one node.
const DEFAULT_MILLI_CPU: i64 = 100;
const DEFAULT_MEMORY: i64 = 200 * 1024 * 1024;

/// A host port a pod asks for; two conflict on the same protocol and port unless both name
/// different specific host IPs.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct HostPort {
    pub protocol: String,
    pub ip: String,
    pub port: i32,
}

impl HostPort {
    pub fn conflicts(&self, other: &Self) -> bool {
        let wildcard = |ip: &str| ip.is_empty() || ip == "0.0.0.0" || ip == "::";
        self.protocol == other.protocol && self.port == other.port && (self.ip == other.ip || wildcard(&self.ip) || wildcard(&other.ip))
    }
}

/// A pod with what scheduling reads of it worked out once.
#[derive(Debug)]
pub struct PodInfo {
    pub pod: Arc<Pod>,
    pub uid: String,
    pub namespace: String,
    pub name: String,
    pub requests: Resources,
    pub non_zero: Resources,
    pub host_ports: Vec<HostPort>,
    /// The uid of the controller that owns the pod: pods of one owner are spread.
    pub owner: Option<String>,
    pub priority: i32,
}

/// `DisruptionTarget`, reason `PreemptionByScheduler`: what the scheduler sets on the pods it
/// preempts (kube's `v1.DisruptionTarget`, `v1.PodReasonPreemptionByScheduler`).
pub const DISRUPTION_TARGET: &str = "DisruptionTarget";
pub const PREEMPTION_BY_SCHEDULER: &str = "PreemptionByScheduler";

impl PodInfo {
    pub fn new(pod: Arc<Pod>) -> Self {
        let metadata = &pod.metadata;
        let spec = pod.spec.as_ref();
        let containers = spec.map(|spec| spec.containers.as_slice()).unwrap_or_default();
        let init = spec.and_then(|spec| spec.init_containers.as_deref()).unwrap_or_default();
        let request = |container: &k8s_openapi::api::core::v1::Container, name: &str, milli: bool| -> Option<i64> {
            let quantity = container.resources.as_ref()?.requests.as_ref()?.get(name)?;
            let parsed = common::quantity::parse(&quantity.0).ok()?;
            Some(if milli { parsed.milli_value() } else { parsed.value() })
        };
        let mut requests = Resources { pods: 1, ..Resources::default() };
        let mut non_zero = Resources { pods: 1, ..Resources::default() };
        for container in containers {
            requests.milli_cpu += request(container, "cpu", true).unwrap_or(0);
            requests.memory += request(container, "memory", false).unwrap_or(0);
            non_zero.milli_cpu += request(container, "cpu", true).unwrap_or(DEFAULT_MILLI_CPU);
            non_zero.memory += request(container, "memory", false).unwrap_or(DEFAULT_MEMORY);
        }
        // Init containers run one at a time before the others: the pod needs the largest of
        // them, or the sum of its containers, whichever is more.
        for container in init {
            requests.milli_cpu = requests.milli_cpu.max(request(container, "cpu", true).unwrap_or(0));
            requests.memory = requests.memory.max(request(container, "memory", false).unwrap_or(0));
        }
        if let Some(overhead) = spec.and_then(|spec| spec.overhead.as_ref()) {
            let value = |name: &str, milli: bool| {
                overhead.get(name).and_then(|q| common::quantity::parse(&q.0).ok()).map_or(0, |q| if milli { q.milli_value() } else { q.value() })
            };
            requests.milli_cpu += value("cpu", true);
            requests.memory += value("memory", false);
            non_zero.milli_cpu += value("cpu", true);
            non_zero.memory += value("memory", false);
        }
        let host_ports = containers
            .iter()
            .flat_map(|container| container.ports.iter().flatten())
            .filter_map(|port| {
                let host_port = port.host_port.filter(|host_port| *host_port > 0)?;
                Some(HostPort {
                    protocol: port.protocol.clone().unwrap_or_else(|| "TCP".into()),
                    ip: port.host_ip.clone().unwrap_or_default(),
                    port: host_port,
                })
            })
            .collect();
        let owner = metadata
            .owner_references
            .iter()
            .flatten()
            .find(|owner| owner.controller == Some(true))
            .map(|owner| owner.uid.clone());
        Self {
            uid: metadata.uid.clone().unwrap_or_default(),
            namespace: metadata.namespace.clone().unwrap_or_default(),
            name: metadata.name.clone().unwrap_or_default(),
            requests,
            non_zero,
            host_ports,
            owner,
            priority: spec.and_then(|spec| spec.priority).unwrap_or(0),
            pod,
        }
    }

    /// What the pod takes from its node: all the cache keeps of a placed pod, so that thousands
    /// of running pods cost a few hundred bytes each rather than their whole objects.
    pub fn usage(&self) -> Usage {
        let metadata = &self.pod.metadata;
        let status = self.pod.status.as_ref();
        // kube's podTerminatingByPreemption reads the condition; the deletion is checked apart.
        let disruption_target = status
            .and_then(|status| status.conditions.as_ref())
            .and_then(|conditions| conditions.iter().find(|condition| condition.type_ == DISRUPTION_TARGET && condition.status == "True"));
        let preempted = disruption_target.is_some_and(|condition| condition.reason.as_deref() == Some(PREEMPTION_BY_SCHEDULER));
        Usage {
            uid: self.uid.clone(),
            requests: self.requests,
            non_zero: self.non_zero,
            host_ports: self.host_ports.clone(),
            owner: self.owner.clone(),
            namespace: self.namespace.clone(),
            name: self.name.clone(),
            priority: self.priority,
            labels: metadata.labels.clone().unwrap_or_default(),
            start_time: status.and_then(|status| status.start_time.as_ref()).map(|time| time.0.as_nanosecond()),
            deleting: metadata.deletion_timestamp.is_some(),
            preempted,
            disruption_target: disruption_target.is_some(),
        }
    }

    /// `spec.preemptionPolicy: Never`: the pod waits for room rather than make it.
    pub fn never_preempts(&self) -> bool {
        self.pod.spec.as_ref().and_then(|spec| spec.preemption_policy.as_deref()) == Some("Never")
    }

    /// `status.nominatedNodeName`, when set.
    pub fn nominated_node(&self) -> Option<&str> {
        self.pod.status.as_ref().and_then(|status| status.nominated_node_name.as_deref()).filter(|name| !name.is_empty())
    }

    pub fn node_name(&self) -> Option<&str> {
        self.pod.spec.as_ref().and_then(|spec| spec.node_name.as_deref()).filter(|name| !name.is_empty())
    }
}

/// A placed pod as the cache keeps it: what it takes, and what preemption reads of it.
#[derive(Debug, PartialEq)]
pub struct Usage {
    pub uid: String,
    pub requests: Resources,
    non_zero: Resources,
    pub host_ports: Vec<HostPort>,
    owner: Option<String>,
    pub namespace: String,
    pub name: String,
    pub priority: i32,
    /// For the disruption budgets that select it.
    pub labels: BTreeMap<String, String>,
    /// `status.startTime` in nanoseconds since the epoch; None before a kubelet started it.
    pub start_time: Option<i128>,
    /// Has a deletionTimestamp.
    pub deleting: bool,
    /// Carries `DisruptionTarget=True` with reason `PreemptionByScheduler`.
    pub preempted: bool,
    /// Carries `DisruptionTarget=True` for any reason (an eviction whose delete failed, say).
    pub disruption_target: bool,
}

/// One node and the sums of what its pods take.
#[derive(Debug, Default)]
pub struct NodeInfo {
    /// None while pods name a node whose Node object has not been seen (yet).
    pub node: Option<Arc<Node>>,
    pub labels: BTreeMap<String, String>,
    pub taints: Vec<Taint>,
    pub unschedulable: bool,
    pub allocatable: Resources,
    pub requested: Resources,
    pub non_zero_requested: Resources,
    pub ports: Vec<HostPort>,
    /// Pods per owning controller uid.
    pub owners: HashMap<String, u32>,
    pods: HashSet<String>,
}

impl NodeInfo {
    fn set_node(&mut self, node: Arc<Node>) {
        let spec = node.spec.as_ref();
        self.labels = node.metadata.labels.clone().unwrap_or_default();
        self.taints = spec.and_then(|spec| spec.taints.clone()).unwrap_or_default();
        self.unschedulable = spec.and_then(|spec| spec.unschedulable).unwrap_or(false);
        let allocatable = node.status.as_ref().and_then(|status| status.allocatable.as_ref().or(status.capacity.as_ref()));
        let value = |name: &str, milli: bool| {
            allocatable
                .and_then(|allocatable| allocatable.get(name))
                .and_then(|quantity| common::quantity::parse(&quantity.0).ok())
                .map_or(0, |quantity| if milli { quantity.milli_value() } else { quantity.value() })
        };
        self.allocatable = Resources { milli_cpu: value("cpu", true), memory: value("memory", false), pods: value("pods", false) };
        self.node = Some(node);
    }

    fn add_pod(&mut self, pod: &Usage) {
        if !self.pods.insert(pod.uid.clone()) {
            return;
        }
        self.requested.add(&pod.requests);
        self.non_zero_requested.add(&pod.non_zero);
        self.ports.extend(pod.host_ports.iter().cloned());
        if let Some(owner) = &pod.owner {
            *self.owners.entry(owner.clone()).or_default() += 1;
        }
    }

    fn remove_pod(&mut self, pod: &Usage) {
        if !self.pods.remove(&pod.uid) {
            return;
        }
        self.requested.subtract(&pod.requests);
        self.non_zero_requested.subtract(&pod.non_zero);
        for port in &pod.host_ports {
            if let Some(index) = self.ports.iter().position(|used| used == port) {
                self.ports.swap_remove(index);
            }
        }
        if let Some(owner) = &pod.owner
            && let Some(count) = self.owners.get_mut(owner)
        {
            *count -= 1;
            if *count == 0 {
                self.owners.remove(owner);
            }
        }
    }

    pub fn name(&self) -> &str {
        self.node.as_ref().and_then(|node| node.metadata.name.as_deref()).unwrap_or_default()
    }

    #[cfg(test)]
    pub fn pod_count(&self) -> usize {
        self.pods.len()
    }
}

struct Placed {
    node: String,
    usage: Usage,
    /// Chosen by us, not yet seen bound by the watch.
    assumed: bool,
}

#[derive(Default)]
pub struct Cache {
    nodes: HashMap<String, NodeInfo>,
    /// Names of the nodes whose Node object exists, in a stable order for round-robin search.
    names: Vec<String>,
    pods: HashMap<String, Placed>,
}

impl Cache {
    #[cfg(test)]
    pub fn nodes(&self) -> impl Iterator<Item = &NodeInfo> {
        self.names.iter().filter_map(|name| self.nodes.get(name))
    }

    pub fn node_count(&self) -> usize {
        self.names.len()
    }

    pub fn node_at(&self, index: usize) -> Option<&NodeInfo> {
        self.names.get(index).and_then(|name| self.nodes.get(name))
    }

    pub fn node(&self, name: &str) -> Option<&NodeInfo> {
        self.nodes.get(name).filter(|info| info.node.is_some())
    }

    /// Adds or updates a node; true when what scheduling reads of it changed (a new node, or
    /// its allocatable, labels, taints or cordon), so that waiting pods may now fit.
    pub fn set_node(&mut self, node: Arc<Node>) -> bool {
        let Some(name) = node.metadata.name.clone() else {
            return false;
        };
        let info = self.nodes.entry(name.clone()).or_default();
        let new = info.node.is_none();
        let before = (info.allocatable, info.labels.clone(), info.taints.clone(), info.unschedulable);
        info.set_node(node);
        let changed = new || before != (info.allocatable, info.labels.clone(), info.taints.clone(), info.unschedulable);
        if new {
            let at = self.names.binary_search(&name).unwrap_or_else(|at| at);
            self.names.insert(at, name);
        }
        changed
    }

    pub fn remove_node(&mut self, name: &str) {
        if let Ok(at) = self.names.binary_search_by(|probe| probe.as_str().cmp(name)) {
            self.names.remove(at);
        }
        // The pods still bound to it keep their sums until they go, as a node that comes back
        // still runs them.
        if let Some(info) = self.nodes.get_mut(name) {
            info.node = None;
            if info.pods.is_empty() {
                self.nodes.remove(name);
            }
        }
    }

    /// Names of all known nodes, to drop those a re-list no longer has.
    pub fn node_names(&self) -> Vec<String> {
        self.names.clone()
    }

    /// A pod the watch shows bound to a node (confirming it if we assumed it).
    pub fn set_pod(&mut self, info: Arc<PodInfo>) {
        let Some(node) = info.node_name().map(str::to_string) else {
            return;
        };
        let usage = info.usage();
        if let Some(placed) = self.pods.get_mut(&info.uid)
            && placed.node == node
            && placed.usage == usage
        {
            placed.assumed = false;
            return;
        }
        self.remove_pod(&info.uid);
        self.nodes.entry(node.clone()).or_default().add_pod(&usage);
        self.pods.insert(info.uid.clone(), Placed { node, usage, assumed: false });
    }

    /// Counts a pod against the node chosen for it, before the binding is written.
    pub fn assume(&mut self, info: &PodInfo, node: &str) {
        self.remove_pod(&info.uid);
        let usage = info.usage();
        self.nodes.entry(node.to_string()).or_default().add_pod(&usage);
        self.pods.insert(info.uid.clone(), Placed { node: node.to_string(), usage, assumed: true });
    }

    /// Undoes `assume` after a failed binding; a pod the watch has confirmed stays.
    pub fn forget(&mut self, uid: &str) {
        if self.pods.get(uid).is_some_and(|placed| placed.assumed) {
            self.remove_pod(uid);
        }
    }

    pub fn is_assumed(&self, uid: &str) -> bool {
        self.pods.get(uid).is_some_and(|placed| placed.assumed)
    }

    pub fn remove_pod(&mut self, uid: &str) -> bool {
        let Some(placed) = self.pods.remove(uid) else {
            return false;
        };
        if let Some(node) = self.nodes.get_mut(&placed.node) {
            node.remove_pod(&placed.usage);
            if node.node.is_none() && node.pods.is_empty() {
                self.nodes.remove(&placed.node);
            }
        }
        true
    }

    /// The pods placed on a node, assumed ones included, as kube's `NodeInfo.Pods`.
    pub fn pods_on(&self, node: &str) -> impl Iterator<Item = &Usage> {
        self.nodes.get(node).into_iter().flat_map(|info| info.pods.iter()).filter_map(|uid| self.pods.get(uid)).map(|placed| &placed.usage)
    }

    /// Uids of the pods known bound (not merely assumed), to drop those a re-list no longer has.
    pub fn confirmed_pods(&self) -> Vec<String> {
        self.pods.iter().filter(|(_, placed)| !placed.assumed).map(|(uid, _)| uid.clone()).collect()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn pod(value: serde_json::Value) -> Arc<PodInfo> {
        Arc::new(PodInfo::new(Arc::new(serde_json::from_value(value).unwrap())))
    }

    fn node(name: &str, cpu: &str) -> Arc<Node> {
        Arc::new(serde_json::from_value(json!({"metadata": {"name": name}, "status": {"allocatable": {"cpu": cpu, "memory": "8Gi", "pods": "110"}}})).unwrap())
    }

    #[test]
    fn requests_sum_containers_and_take_the_largest_init_container() {
        let info = pod(json!({"metadata": {"name": "p", "uid": "u"}, "spec": {
            "containers": [
                {"name": "a", "image": "i", "resources": {"requests": {"cpu": "250m", "memory": "64Mi"}}},
                {"name": "b", "image": "i", "ports": [{"containerPort": 80, "hostPort": 8080}]}
            ],
            "initContainers": [{"name": "setup", "image": "i", "resources": {"requests": {"cpu": "1"}}}]
        }}));
        assert_eq!(info.requests, Resources { milli_cpu: 1000, memory: 64 * 1024 * 1024, pods: 1 });
        assert_eq!(info.non_zero, Resources { milli_cpu: 350, memory: 64 * 1024 * 1024 + DEFAULT_MEMORY, pods: 1 });
        assert_eq!(info.host_ports, [HostPort { protocol: "TCP".into(), ip: String::new(), port: 8080 }]);
    }

    #[test]
    fn assumed_pods_count_until_forgotten_and_confirmed_ones_stay() {
        let mut cache = Cache::default();
        cache.set_node(node("n1", "2"));
        let first = pod(json!({"metadata": {"name": "p", "uid": "u1"}, "spec": {"containers": [{"name": "a", "image": "i", "resources": {"requests": {"cpu": "1"}}}]}}));
        cache.assume(&first, "n1");
        assert_eq!(cache.node("n1").unwrap().requested.milli_cpu, 1000);
        assert!(cache.is_assumed("u1"));
        cache.forget("u1");
        assert_eq!(cache.node("n1").unwrap().requested, Resources::default());

        cache.assume(&first, "n1");
        let bound = pod(json!({"metadata": {"name": "p", "uid": "u1"}, "spec": {"nodeName": "n1", "containers": [{"name": "a", "image": "i", "resources": {"requests": {"cpu": "1"}}}]}}));
        cache.set_pod(bound);
        assert!(!cache.is_assumed("u1"));
        cache.forget("u1");
        assert_eq!(cache.node("n1").unwrap().requested.milli_cpu, 1000, "a confirmed pod is not forgotten");
        assert!(cache.remove_pod("u1"));
        assert_eq!(cache.node("n1").unwrap().requested, Resources::default());
    }

    #[test]
    fn only_changes_that_scheduling_reads_count_as_node_changes() {
        let mut cache = Cache::default();
        assert!(cache.set_node(node("n1", "2")), "a new node");
        let mut heartbeat = (*node("n1", "2")).clone();
        heartbeat.status.get_or_insert_default().conditions = Some(vec![serde_json::from_value(json!({"type": "Ready", "status": "True"})).unwrap()]);
        assert!(!cache.set_node(Arc::new(heartbeat)), "a status heartbeat");
        assert!(cache.set_node(node("n1", "4")), "more allocatable cpu");
    }

    #[test]
    fn pods_on_an_unknown_node_wait_for_it() {
        let mut cache = Cache::default();
        cache.set_pod(pod(json!({"metadata": {"name": "p", "uid": "u"}, "spec": {"nodeName": "later", "containers": [{"name": "a", "image": "i"}]}})));
        assert_eq!(cache.node_count(), 0);
        assert!(cache.node("later").is_none());
        cache.set_node(node("later", "1"));
        assert_eq!(cache.node("later").unwrap().pod_count(), 1);
    }
}
