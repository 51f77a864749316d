//! The node's side of the kubelet: registration, the Lease heartbeat, and the Node status
//! (capacity, conditions, addresses, node info), and the CNI config once the podCIDR is known.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::api::core::v1::{DaemonEndpoint, Node, NodeAddress, NodeCondition, NodeDaemonEndpoints, NodeSpec, NodeStatus, NodeSystemInfo, Taint};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta, OwnerReference, Time};
use kube::api::{Api, Patch, PatchParams, PostParams};

use crate::Kubelet;

const LEASE_NAMESPACE: &str = "kube-node-lease";
const LEASE_SECONDS: i32 = 40;
/// How often the Lease is renewed and the status looked at (the kubelet's 10 s).
const HEARTBEAT: Duration = Duration::from_secs(10);
const NOT_READY_PACE: Duration = Duration::from_secs(1);
/// An unchanged status is still posted this often, so that its heartbeat times move.
const STATUS_REPORT: Duration = Duration::from_secs(60);
const PID_PRESSURE_PERCENT: u64 = 5;

/// A hard eviction threshold: an amount in bytes, or a percentage of the total.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Threshold {
    Bytes(u64),
    Percent(f64),
}

impl Threshold {
    fn crossed(self, available: u64, total: u64) -> bool {
        match self {
            Self::Bytes(bytes) => available < bytes,
            Self::Percent(percent) => total > 0 && (available as f64) * 100.0 / (total as f64) < percent,
        }
    }
}

/// `--eviction-hard`: the signals the node's pressure conditions are judged by.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Thresholds {
    memory: Option<Threshold>,
    nodefs: Option<Threshold>,
}

impl Thresholds {
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut thresholds = Self { memory: None, nodefs: None };
        for rule in text.split(',').map(str::trim).filter(|rule| !rule.is_empty()) {
            let (signal, value) = rule.split_once('<').ok_or_else(|| format!("--eviction-hard: {rule:?} is not <signal><<value>"))?;
            let threshold = match value.strip_suffix('%') {
                Some(percent) => Threshold::Percent(percent.parse::<f64>().ok().filter(|p| (0.0..=100.0).contains(p)).ok_or_else(|| format!("--eviction-hard: bad percentage {value:?}"))?),
                None => {
                    let quantity = common::quantity::parse(value).map_err(|err| format!("--eviction-hard: {value:?}: {err}"))?;
                    Threshold::Bytes(u64::try_from(quantity.value()).map_err(|_| format!("--eviction-hard: {value:?} is negative"))?)
                }
            };
            match signal {
                "memory.available" => thresholds.memory = Some(threshold),
                "nodefs.available" => thresholds.nodefs = Some(threshold),
                // Signals this kubelet does not watch (imagefs, inodes, pids) are accepted and ignored.
                "imagefs.available" | "nodefs.inodesFree" | "imagefs.inodesFree" | "pid.available" => {}
                other => return Err(format!("--eviction-hard: unknown signal {other:?}")),
            }
        }
        Ok(thresholds)
    }
}

pub fn hostname() -> std::io::Result<String> {
    Ok(std::fs::read_to_string("/proc/sys/kernel/hostname")?.trim().to_lowercase())
}

/// The source address the kernel would pick for traffic leaving by the default route. A UDP
/// connect only consults the routing table; nothing is sent.
pub fn default_route_ip() -> Option<IpAddr> {
    let socket = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    socket.connect("192.0.2.1:9").ok()?;
    Some(socket.local_addr().ok()?.ip()).filter(|ip| !ip.is_unspecified())
}

pub async fn run(kubelet: Arc<Kubelet>, runtime_info: String) {
    let nodes: Api<Node> = Api::all(kubelet.client.clone());
    let mut backoff = Duration::from_millis(500);
    let mut node_uid = None;
    let mut last_posted: Option<(NodeStatus, Instant)> = None;
    let mut cni_written = None;
    loop {
        let started = Instant::now();
        let step = async {
            let node = match node_uid {
                Some(_) => nodes.get(&kubelet.node_name).await?,
                None => register(&kubelet, &nodes).await?,
            };
            node_uid = node.metadata.uid.clone();
            let pod_cidr = node.spec.as_ref().and_then(|spec| spec.pod_cidr.clone()).or_else(|| kubelet.config.pod_cidr.clone());
            if let (Some(dir), Some(cidr)) = (&kubelet.config.cni_conf_dir, &pod_cidr)
                && cni_written.as_ref() != Some(cidr) {
                    match crate::cni::write_config(dir, &kubelet.config.cni_bridge, cidr) {
                        Ok(()) => {
                            tracing::info!(node = %kubelet.node_name, %cidr, "wrote the CNI config");
                            cni_written = Some(cidr.clone());
                        }
                        Err(err) => tracing::error!(node = %kubelet.node_name, "cannot write the CNI config: {err}"),
                    }
                }
            renew_lease(&kubelet, node_uid.as_deref()).await?;
            let status = node_status(&kubelet, &runtime_info, node.status.as_ref()).await;
            let due = last_posted.as_ref().is_none_or(|(posted, at)| !same_status(posted, &status) || at.elapsed() >= STATUS_REPORT);
            if due {
                let patch = serde_json::json!({"status": status});
                nodes.patch_status(&kubelet.node_name, &PatchParams::default(), &Patch::Merge(patch)).await?;
                last_posted = Some((status, Instant::now()));
            }
            let ready = last_posted.as_ref().and_then(|(status, _)| status.conditions.as_ref()?.iter().find(|c| c.type_ == "Ready").map(|c| c.status == "True"));
            Ok::<_, kube::Error>(ready.unwrap_or(false))
        };
        // A request that hangs (a peer gone without a word) must not keep the Lease from being
        // renewed: the next try opens a new connection, through the load balancer to a live
        // apiserver.
        let step = async {
            match tokio::time::timeout(HEARTBEAT, step).await {
                Ok(result) => result.map_err(Heartbeat::Failed),
                Err(_) => Err(Heartbeat::TimedOut),
            }
        };
        match step.await {
            Ok(ready) => {
                backoff = Duration::from_millis(500);
                // Until the node is Ready (its podCIDR assigned, the network up) it looks again
                // every second, so that it is Ready moments after it can be.
                let pace = if ready { HEARTBEAT } else { NOT_READY_PACE };
                tokio::time::sleep(pace.saturating_sub(started.elapsed())).await;
            }
            Err(err) => {
                tracing::warn!(node = %kubelet.node_name, "node heartbeat failed, retrying in {backoff:?}: {err}");
                if matches!(&err, Heartbeat::Failed(kube::Error::Api(status)) if status.code == 404) {
                    node_uid = None; // deleted under us: register again, as the kubelet does
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(HEARTBEAT);
            }
        }
    }
}

/// Why a heartbeat did not go through.
#[derive(Debug, thiserror::Error)]
enum Heartbeat {
    #[error(transparent)]
    Failed(kube::Error),
    #[error("no answer within {HEARTBEAT:?}")]
    TimedOut,
}

/// Creates the Node, or takes over the one already there (a restarted kubelet), adding its labels.
async fn register(kubelet: &Kubelet, nodes: &Api<Node>) -> Result<Node, kube::Error> {
    let mut labels: BTreeMap<String, String> = BTreeMap::from([
        ("kubernetes.io/hostname".to_string(), kubelet.node_name.clone()),
        ("kubernetes.io/os".to_string(), "linux".to_string()),
        ("kubernetes.io/arch".to_string(), arch().to_string()),
        ("beta.kubernetes.io/os".to_string(), "linux".to_string()),
        ("beta.kubernetes.io/arch".to_string(), arch().to_string()),
    ]);
    for label in &kubelet.config.node_labels {
        if let Some((key, value)) = label.split_once('=') {
            labels.insert(key.to_string(), value.to_string());
        }
    }
    let node = Node {
        metadata: ObjectMeta { name: Some(kubelet.node_name.clone()), labels: Some(labels.clone()), ..ObjectMeta::default() },
        spec: Some(NodeSpec {
            pod_cidr: kubelet.config.pod_cidr.clone(),
            pod_cidrs: kubelet.config.pod_cidr.clone().map(|cidr| vec![cidr]),
            taints: Some(taints(&kubelet.config.register_with_taints).unwrap_or_default()).filter(|taints| !taints.is_empty()),
            ..NodeSpec::default()
        }),
        status: None,
    };
    match nodes.create(&PostParams::default(), &node).await {
        Ok(created) => {
            tracing::info!(node = %kubelet.node_name, "registered the node");
            Ok(created)
        }
        Err(kube::Error::Api(status)) if status.code == 409 => {
            let patch = serde_json::json!({"metadata": {"labels": labels}});
            nodes.patch(&kubelet.node_name, &PatchParams::default(), &Patch::Merge(patch)).await
        }
        Err(err) => Err(err),
    }
}

/// `--register-with-taints`: `key=value:Effect` or `key:Effect`.
pub fn taints(specs: &[String]) -> Result<Vec<Taint>, String> {
    specs
        .iter()
        .filter(|spec| !spec.is_empty())
        .map(|spec| {
            let (key_value, effect) = spec.rsplit_once(':').ok_or_else(|| format!("--register-with-taints: {spec:?} has no :Effect"))?;
            if !matches!(effect, "NoSchedule" | "PreferNoSchedule" | "NoExecute") {
                return Err(format!("--register-with-taints: {spec:?}: effect must be NoSchedule, PreferNoSchedule or NoExecute"));
            }
            let (key, value) = key_value.split_once('=').unwrap_or((key_value, ""));
            if let Some(problem) = common::names::qualified_name(key).first() {
                return Err(format!("--register-with-taints: key {key:?}: {problem}"));
            }
            Ok(Taint { key: key.to_string(), value: Some(value.to_string()).filter(|v| !v.is_empty()), effect: effect.to_string(), time_added: None })
        })
        .collect()
}

async fn renew_lease(kubelet: &Kubelet, node_uid: Option<&str>) -> Result<(), kube::Error> {
    let leases: Api<Lease> = Api::namespaced(kubelet.client.clone(), LEASE_NAMESPACE);
    let now = MicroTime(jiff::Timestamp::now());
    let spec = LeaseSpec {
        holder_identity: Some(kubelet.node_name.clone()),
        lease_duration_seconds: Some(LEASE_SECONDS),
        renew_time: Some(now),
        ..LeaseSpec::default()
    };
    match leases.get_opt(&kubelet.node_name).await? {
        Some(mut lease) => {
            lease.spec = Some(spec);
            leases.replace(&kubelet.node_name, &PostParams::default(), &lease).await?;
        }
        None => {
            // Owned by the Node, so that the lease goes when the node is deleted.
            let owner = node_uid.map(|uid| OwnerReference {
                api_version: "v1".into(),
                kind: "Node".into(),
                name: kubelet.node_name.clone(),
                uid: uid.to_string(),
                ..OwnerReference::default()
            });
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(kubelet.node_name.clone()),
                    namespace: Some(LEASE_NAMESPACE.into()),
                    owner_references: owner.map(|owner| vec![owner]),
                    ..ObjectMeta::default()
                },
                spec: Some(spec),
            };
            leases.create(&PostParams::default(), &lease).await?;
        }
    }
    Ok(())
}

/// Statuses equal but for the heartbeat times.
fn same_status(a: &NodeStatus, b: &NodeStatus) -> bool {
    let strip = |status: &NodeStatus| {
        let mut status = status.clone();
        for condition in status.conditions.iter_mut().flatten() {
            condition.last_heartbeat_time = None;
        }
        status
    };
    strip(a) == strip(b)
}

async fn node_status(kubelet: &Kubelet, runtime_info: &str, previous: Option<&NodeStatus>) -> NodeStatus {
    let memory = MemInfo::read();
    let disk = rustix::fs::statvfs(&kubelet.config.root_dir).ok();
    let mut capacity = BTreeMap::new();
    capacity.insert("cpu".to_string(), Quantity(cpus().to_string()));
    if let Some(memory) = &memory {
        capacity.insert("memory".to_string(), Quantity(format!("{}Ki", memory.total_kib)));
    }
    if let Some(disk) = &disk {
        capacity.insert("ephemeral-storage".to_string(), Quantity(format!("{}Ki", disk.f_blocks * disk.f_frsize / 1024)));
    }
    capacity.insert("pods".to_string(), Quantity(kubelet.config.max_pods.to_string()));
    capacity.insert("hugepages-2Mi".to_string(), Quantity("0".into()));

    let now = Time(jiff::Timestamp::now());
    let runtime = kubelet.runtime.status().await;
    let not_ready = match &runtime {
        Ok(status) => {
            let failing: Vec<String> = status
                .conditions
                .iter()
                .filter(|condition| !condition.status)
                .map(|condition| format!("{}=false reason:{} message:{}", condition.r#type, condition.reason, condition.message))
                .collect();
            (!failing.is_empty()).then(|| format!("container runtime not ready: {}", failing.join(", ")))
        }
        Err(err) => Some(format!("container runtime is down: {err}")),
    };
    let thresholds = Thresholds::parse(&kubelet.config.eviction_hard).unwrap_or(Thresholds { memory: None, nodefs: None });
    let memory_pressure = match (thresholds.memory, &memory) {
        (Some(threshold), Some(memory)) => threshold.crossed(memory.available_kib * 1024, memory.total_kib * 1024),
        _ => false,
    };
    let disk_pressure = match (thresholds.nodefs, &disk) {
        (Some(threshold), Some(disk)) => threshold.crossed(disk.f_bavail * disk.f_frsize, disk.f_blocks * disk.f_frsize),
        _ => false,
    };
    let pid_pressure = pid_pressure();
    let conditions = vec![
        condition(previous, &now, "MemoryPressure", memory_pressure, ("KubeletHasInsufficientMemory", "kubelet has insufficient memory available"), ("KubeletHasSufficientMemory", "kubelet has sufficient memory available")),
        condition(previous, &now, "DiskPressure", disk_pressure, ("KubeletHasDiskPressure", "kubelet has disk pressure"), ("KubeletHasNoDiskPressure", "kubelet has no disk pressure")),
        condition(previous, &now, "PIDPressure", pid_pressure, ("KubeletHasInsufficientPID", "kubelet has insufficient PID available"), ("KubeletHasSufficientPID", "kubelet has sufficient PID available")),
        match &not_ready {
            None => condition(previous, &now, "Ready", true, ("KubeletReady", "kubelet is posting ready status"), ("", "")),
            Some(message) => condition(previous, &now, "Ready", false, ("", ""), ("KubeletNotReady", message)),
        },
    ];
    let os_image = std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|text| text.lines().find_map(|line| line.strip_prefix("PRETTY_NAME=").map(|value| value.trim_matches('"').to_string())))
        .unwrap_or_else(|| "Linux".into());
    let read = |path: &str| std::fs::read_to_string(path).map(|text| text.trim().to_string()).unwrap_or_default();
    NodeStatus {
        allocatable: Some(capacity.clone()),
        capacity: Some(capacity),
        conditions: Some(conditions),
        addresses: Some(vec![
            NodeAddress { type_: "InternalIP".into(), address: kubelet.node_ip.to_string() },
            NodeAddress { type_: "Hostname".into(), address: kubelet.node_name.clone() },
        ]),
        daemon_endpoints: Some(NodeDaemonEndpoints { kubelet_endpoint: Some(DaemonEndpoint { port: i32::from(kubelet.config.port) }) }),
        node_info: Some(NodeSystemInfo {
            architecture: arch().into(),
            boot_id: read("/proc/sys/kernel/random/boot_id"),
            container_runtime_version: runtime_info.to_string(),
            kernel_version: read("/proc/sys/kernel/osrelease"),
            kube_proxy_version: String::new(),
            kubelet_version: common::KUBERNETES_VERSION.into(),
            machine_id: read("/etc/machine-id"),
            operating_system: "linux".into(),
            os_image,
            system_uuid: read("/sys/class/dmi/id/product_uuid"),
            ..NodeSystemInfo::default()
        }),
        ..NodeStatus::default()
    }
}

/// A condition, keeping its lastTransitionTime while its status stays the same.
fn condition(previous: Option<&NodeStatus>, now: &Time, kind: &str, on: bool, when_on: (&str, &str), when_off: (&str, &str)) -> NodeCondition {
    let status = if on { "True" } else { "False" };
    let (reason, message) = if on { when_on } else { when_off };
    let earlier = previous.and_then(|status| status.conditions.as_ref()?.iter().find(|condition| condition.type_ == kind));
    let transition = match earlier {
        Some(earlier) if earlier.status == status => earlier.last_transition_time.clone(),
        _ => None,
    };
    NodeCondition {
        type_: kind.into(),
        status: status.into(),
        reason: Some(reason.into()),
        message: Some(message.into()),
        last_heartbeat_time: Some(now.clone()),
        last_transition_time: transition.or_else(|| Some(now.clone())),
    }
}

fn arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

/// The host's CPUs, as its capacity counts them.
pub fn cpus() -> u64 {
    std::thread::available_parallelism().map_or(1, |n| n.get() as u64)
}

/// The host's memory in bytes (0 when /proc/meminfo cannot be read).
pub fn memory_bytes() -> u64 {
    MemInfo::read().map_or(0, |memory| memory.total_kib * 1024)
}

struct MemInfo {
    total_kib: u64,
    available_kib: u64,
}

impl MemInfo {
    fn read() -> Option<Self> {
        let text = std::fs::read_to_string("/proc/meminfo").ok()?;
        let field = |name: &str| {
            text.lines()
                .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
                .and_then(|rest| rest.split_whitespace().next()?.parse::<u64>().ok())
        };
        Some(Self { total_kib: field("MemTotal")?, available_kib: field("MemAvailable")? })
    }
}

/// Fewer than 5% of pid_max left.
fn pid_pressure() -> bool {
    let max = std::fs::read_to_string("/proc/sys/kernel/pid_max").ok().and_then(|text| text.trim().parse::<u64>().ok());
    let running = std::fs::read_dir("/proc").map(|dir| dir.flatten().filter(|entry| entry.file_name().to_string_lossy().bytes().all(|b| b.is_ascii_digit())).count() as u64);
    match (max, running) {
        (Some(max), Ok(running)) if max > 0 => (max - running.min(max)) * 100 / max < PID_PRESSURE_PERCENT,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eviction_thresholds_parse_as_the_kubelets() {
        let parsed = Thresholds::parse("memory.available<100Mi,nodefs.available<10%,imagefs.available<15%").unwrap();
        assert_eq!(parsed.memory, Some(Threshold::Bytes(100 << 20)));
        assert_eq!(parsed.nodefs, Some(Threshold::Percent(10.0)));
        assert!(Threshold::Percent(10.0).crossed(9, 100));
        assert!(!Threshold::Percent(10.0).crossed(10, 100));
        assert!(Threshold::Bytes(100).crossed(99, 1000));
        assert_eq!(Thresholds::parse("").unwrap(), Thresholds { memory: None, nodefs: None });
        assert!(Thresholds::parse("memory.available>1").is_err());
        assert!(Thresholds::parse("cpu.available<1").is_err());
        assert!(Thresholds::parse("nodefs.available<150%").is_err());
    }

    #[test]
    fn taints_parse_as_the_kubelets_flag() {
        let parsed = taints(&["node-role.kubernetes.io/control-plane=:NoSchedule".into(), "dedicated=gpu:NoExecute".into()]).unwrap();
        assert_eq!(parsed[0].key, "node-role.kubernetes.io/control-plane");
        assert_eq!((parsed[0].value.as_deref(), parsed[0].effect.as_str()), (None, "NoSchedule"));
        assert_eq!((parsed[1].value.as_deref(), parsed[1].effect.as_str()), (Some("gpu"), "NoExecute"));
        assert!(taints(&["no-effect".into()]).is_err());
        assert!(taints(&["k=v:Sometimes".into()]).is_err());
    }
}
