//! Resource usage for `kubectl top`: every sampling period the kubelet reads each running
//! container's CPU time and memory from its cgroup, and the node's from the node's cgroups (or,
//! on a whole machine, from the kernel's totals); CPU usage is the rate between the last two
//! samples. Served as the kubelet's Summary API
//! (`/stats/summary`, the subset metrics consumers read), from which the apiserver builds
//! `metrics.k8s.io`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde_json::{Value, json};

use crate::Kubelet;
use crate::cri::api;
use crate::spec;

/// Cumulative CPU time (ns) and memory working set (bytes) at one moment.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Sample {
    at: Instant,
    cpu_ns: u64,
    memory: u64,
}

/// The last two samples of one thing measured.
#[derive(Clone, Copy, Debug, Default)]
struct Pair {
    previous: Option<Sample>,
    last: Option<Sample>,
}

impl Pair {
    fn push(&mut self, sample: Sample) {
        self.previous = self.last.replace(sample);
    }

    /// CPU in nanocores over the last interval, and the memory of the last sample; None until
    /// there are two samples (or if the counter went backwards: a restarted container).
    fn usage(&self) -> Option<(u64, u64)> {
        let (previous, last) = (self.previous?, self.last?);
        let seconds = last.at.checked_duration_since(previous.at)?.as_secs_f64();
        let used = last.cpu_ns.checked_sub(previous.cpu_ns)?;
        if seconds <= 0.0 {
            return None;
        }
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_precision_loss)]
        let nanocores = (used as f64 / seconds) as u64;
        Some((nanocores, last.memory))
    }
}

/// One running container, as the sampler found it.
#[derive(Clone, Debug)]
struct Container {
    namespace: String,
    pod: String,
    uid: String,
    name: String,
}

#[derive(Default)]
pub struct Stats {
    node: Mutex<Pair>,
    /// By container id.
    containers: Mutex<HashMap<String, (Container, Pair)>>,
}

/// Samples until the kubelet stops.
pub async fn run(kubelet: Arc<Kubelet>) {
    let mut ticks = tokio::time::interval(common::RESOURCE_USAGE_WINDOW);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        sample(&kubelet).await;
    }
}

async fn sample(kubelet: &Kubelet) {
    let at = Instant::now();
    if let Some(node) = node_sample(at, &kubelet.config.cgroup_root) {
        kubelet.stats.node.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(node);
    }
    let Ok(running) = kubelet.runtime.list_containers().await else { return };
    let running: Vec<api::Container> = running.into_iter().filter(|c| c.state == api::ContainerState::ContainerRunning as i32).collect();
    let mut containers = kubelet.stats.containers.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    containers.retain(|id, _| running.iter().any(|c| &c.id == id));
    for container in running {
        let label = |key: &str| container.labels.get(key).cloned().unwrap_or_default();
        let cgroup = format!("{}/{}", spec::cgroup_parent(kubelet, &label(spec::POD_UID)), container.id);
        let Some((cpu_ns, memory)) = cgroup_usage(Path::new(CGROUP_ROOT), &cgroup) else { continue };
        let entry = containers.entry(container.id.clone()).or_insert_with(|| {
            let about = Container { namespace: label(spec::POD_NAMESPACE), pod: label(spec::POD_NAME), uid: label(spec::POD_UID), name: label(spec::CONTAINER_NAME) };
            (about, Pair::default())
        });
        entry.1.push(Sample { at, cpu_ns, memory });
    }
}

const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// A cgroup's cumulative CPU time and memory working set, from cgroup v1 (cpuacct and memory
/// controllers) or v2 (the unified hierarchy), as cAdvisor reads them.
fn cgroup_usage(root: &Path, cgroup: &str) -> Option<(u64, u64)> {
    Some((cgroup_cpu(root, cgroup)?, cgroup_memory(root, cgroup)?))
}

fn read(path: PathBuf) -> Option<String> {
    std::fs::read_to_string(path).ok()
}

/// A cgroup's cumulative CPU time in nanoseconds.
fn cgroup_cpu(root: &Path, cgroup: &str) -> Option<u64> {
    let relative = cgroup.trim_start_matches('/');
    match read(root.join("cpuacct").join(relative).join("cpuacct.usage")) {
        Some(cpu) => cpu.trim().parse().ok(),
        None => Some(stat_field(&read(root.join(relative).join("cpu.stat"))?, "usage_usec")?.saturating_mul(1000)),
    }
}

/// A cgroup's memory working set: what it uses less the file cache the kernel may take back.
fn cgroup_memory(root: &Path, cgroup: &str) -> Option<u64> {
    let relative = cgroup.trim_start_matches('/');
    let v1 = root.join("memory").join(relative);
    if let Some(usage) = read(v1.join("memory.usage_in_bytes")) {
        let usage: u64 = usage.trim().parse().ok()?;
        let inactive = stat_field(&read(v1.join("memory.stat"))?, "total_inactive_file").unwrap_or(0);
        return Some(usage.saturating_sub(inactive));
    }
    let unified = root.join(relative);
    let usage: u64 = read(unified.join("memory.current"))?.trim().parse().ok()?;
    let inactive = stat_field(&read(unified.join("memory.stat"))?, "inactive_file").unwrap_or(0);
    Some(usage.saturating_sub(inactive))
}

/// The cgroups a node's own usage is the sum of: the kubelet's (its CPU and memory ones, from
/// `/proc/self/cgroup`) and its pods' tree (`--cgroup-root`). On a node that is a container
/// sharing the host's cgroups (the cluster tool's), the pods' tree lies outside the container's.
#[derive(Debug, PartialEq)]
struct NodeCgroups {
    cpu: String,
    memory: String,
    /// None when it lies within the kubelet's own, which counts it already.
    pods: Option<String>,
}

/// None when the kubelet runs in the root cgroup (of either controller): the node is the whole
/// machine, whose totals `/proc` gives.
fn node_cgroups(proc_self_cgroup: &str, pods: &str) -> Option<NodeCgroups> {
    let (mut cpu, mut memory, mut unified) = (None, None, None);
    // `hierarchy-id:controller,controller:path`; cgroup v2's single line has no controllers.
    for line in proc_self_cgroup.lines() {
        let mut fields = line.splitn(3, ':');
        let (_, controllers, path) = (fields.next()?, fields.next()?, fields.next()?);
        for controller in controllers.split(',') {
            match controller {
                "cpuacct" => cpu = Some(path),
                "memory" => memory = Some(path),
                "" => unified = Some(path),
                _ => {}
            }
        }
    }
    let (cpu, memory) = (cpu.or(unified)?, memory.or(unified)?);
    if cpu == "/" || memory == "/" {
        return None;
    }
    let within = |own: &str| pods.strip_prefix(own).is_some_and(|rest| rest.is_empty() || rest.starts_with('/'));
    let pods = (!within(cpu) && !within(memory)).then(|| pods.to_string());
    Some(NodeCgroups { cpu: cpu.to_string(), memory: memory.to_string(), pods })
}

impl NodeCgroups {
    /// The node's CPU time and working set: the kubelet's cgroups' and its pods' (none yet
    /// before the first pod).
    fn usage(&self, root: &Path) -> Option<(u64, u64)> {
        let pods = self.pods.as_deref().and_then(|pods| cgroup_usage(root, pods)).unwrap_or((0, 0));
        Some((cgroup_cpu(root, &self.cpu)?.saturating_add(pods.0), cgroup_memory(root, &self.memory)?.saturating_add(pods.1)))
    }
}

fn stat_field(text: &str, name: &str) -> Option<u64> {
    text.lines().find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

/// The node's CPU time and memory in use: from its cgroups, or on a whole machine the kernel's
/// totals (all CPUs, everything but idle and iowait).
fn node_sample(at: Instant, pods: &str) -> Option<Sample> {
    let own = std::fs::read_to_string("/proc/self/cgroup").ok().and_then(|text| node_cgroups(&text, pods));
    if let Some((cpu_ns, memory)) = own.and_then(|cgroups| cgroups.usage(Path::new(CGROUP_ROOT))) {
        return Some(Sample { at, cpu_ns, memory });
    }
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    Some(Sample { at, cpu_ns: cpu_from_proc_stat(&stat)?, memory: memory_from_meminfo(&meminfo)? })
}

/// USER_HZ is 100 on every Linux the kubelet runs on.
const NS_PER_TICK: u64 = 10_000_000;

fn cpu_from_proc_stat(stat: &str) -> Option<u64> {
    let fields: Vec<u64> = stat.lines().find(|line| line.starts_with("cpu "))?.split_whitespace().skip(1).filter_map(|n| n.parse().ok()).collect();
    // user nice system idle iowait irq softirq steal
    let busy: u64 = [0, 1, 2, 5, 6, 7].iter().filter_map(|index| fields.get(*index)).sum();
    Some(busy.saturating_mul(NS_PER_TICK))
}

fn memory_from_meminfo(meminfo: &str) -> Option<u64> {
    let kib = |name: &str| meminfo.lines().find_map(|line| line.strip_prefix(name)?.trim().trim_end_matches("kB").trim().parse::<u64>().ok());
    Some(kib("MemTotal:")?.saturating_sub(kib("MemAvailable:")?).saturating_mul(1024))
}

fn usage_json(time: &str, (nanocores, memory): (u64, u64)) -> (Value, Value) {
    (json!({"time": time, "usageNanoCores": nanocores}), json!({"time": time, "workingSetBytes": memory}))
}

/// The Summary API document: the node, and every pod all of whose running containers have a
/// usage (two samples).
pub fn summary(kubelet: &Kubelet) -> Value {
    let time = jiff::Timestamp::now().to_string();
    let mut node = json!({"nodeName": kubelet.node_name});
    if let Some(usage) = kubelet.stats.node.lock().unwrap_or_else(std::sync::PoisonError::into_inner).usage() {
        let (cpu, memory) = usage_json(&time, usage);
        node["cpu"] = cpu;
        node["memory"] = memory;
    }
    let containers = kubelet.stats.containers.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut pods: HashMap<&str, (&Container, Vec<Value>, bool)> = HashMap::new();
    for (about, pair) in containers.values() {
        let pod = pods.entry(about.uid.as_str()).or_insert_with(|| (about, Vec::new(), true));
        match pair.usage() {
            Some(usage) => {
                let (cpu, memory) = usage_json(&time, usage);
                pod.1.push(json!({"name": about.name, "cpu": cpu, "memory": memory}));
            }
            None => pod.2 = false,
        }
    }
    let pods: Vec<Value> = pods
        .into_values()
        .filter(|(_, _, complete)| *complete)
        .map(|(about, mut containers, _)| {
            containers.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
            json!({"podRef": {"name": about.pod, "namespace": about.namespace, "uid": about.uid}, "containers": containers})
        })
        .collect();
    json!({"node": node, "pods": pods})
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn cpu_is_a_rate_between_two_samples() {
        let start = Instant::now();
        let mut pair = Pair::default();
        pair.push(Sample { at: start, cpu_ns: 1_000_000_000, memory: 10 });
        assert_eq!(pair.usage(), None, "one sample is no rate");
        pair.push(Sample { at: start + Duration::from_secs(2), cpu_ns: 2_000_000_000, memory: 20 });
        assert_eq!(pair.usage(), Some((500_000_000, 20)));
        pair.push(Sample { at: start + Duration::from_secs(4), cpu_ns: 5, memory: 20 });
        assert_eq!(pair.usage(), None, "a counter that went back is a new container");
    }

    #[test]
    fn cgroups_are_read_as_cadvisor_reads_them() {
        let root = tempfile::tempdir().unwrap();
        let v1 = |controller: &str| root.path().join(controller).join("pods/pod1/c1");
        std::fs::create_dir_all(v1("cpuacct")).unwrap();
        std::fs::create_dir_all(v1("memory")).unwrap();
        std::fs::write(v1("cpuacct").join("cpuacct.usage"), "123456789\n").unwrap();
        std::fs::write(v1("memory").join("memory.usage_in_bytes"), "10000\n").unwrap();
        std::fs::write(v1("memory").join("memory.stat"), "inactive_file 1\ntotal_inactive_file 4000\n").unwrap();
        assert_eq!(cgroup_usage(root.path(), "/pods/pod1/c1"), Some((123_456_789, 6000)));

        let unified = tempfile::tempdir().unwrap();
        let dir = unified.path().join("pods/pod2/c2");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("cpu.stat"), "usage_usec 2500\nuser_usec 2000\n").unwrap();
        std::fs::write(dir.join("memory.current"), "8192\n").unwrap();
        std::fs::write(dir.join("memory.stat"), "anon 1\ninactive_file 9000\n").unwrap();
        assert_eq!(cgroup_usage(unified.path(), "pods/pod2/c2"), Some((2_500_000, 0)), "working set never goes below 0");
        assert_eq!(cgroup_usage(unified.path(), "pods/absent"), None);
    }

    /// A node's cgroups under `root`, cgroup v1: its container's and its pods' tree.
    fn fake_node(root: &Path, container: &str, pods: &str, (cpu, memory): (u64, u64), (pods_cpu, pods_memory): (u64, u64)) {
        for (cgroup, cpu, memory) in [(container, cpu, memory), (pods, pods_cpu, pods_memory)] {
            let (cpuacct, memory_dir) = (root.join("cpuacct").join(cgroup), root.join("memory").join(cgroup));
            std::fs::create_dir_all(&cpuacct).unwrap();
            std::fs::create_dir_all(&memory_dir).unwrap();
            std::fs::write(cpuacct.join("cpuacct.usage"), format!("{cpu}\n")).unwrap();
            std::fs::write(memory_dir.join("memory.usage_in_bytes"), format!("{}\n", memory + 100)).unwrap();
            std::fs::write(memory_dir.join("memory.stat"), "total_inactive_file 100\n").unwrap();
        }
    }

    #[test]
    fn each_node_is_its_container_and_its_pods() {
        let root = tempfile::tempdir().unwrap();
        fake_node(root.path(), "docker/aaa", "cluster-c/c-worker", (1_000, 50_000), (2_000, 70_000));
        fake_node(root.path(), "docker/bbb", "cluster-c/c-worker2", (10, 500), (20, 700));
        let proc_self = |id: &str| format!("12:pids:/docker/{id}\n4:memory:/docker/{id}\n3:cpu,cpuacct:/docker/{id}\n0::/system.slice/docker.service\n");

        let worker = node_cgroups(&proc_self("aaa"), "/cluster-c/c-worker").unwrap();
        assert_eq!(worker, NodeCgroups { cpu: "/docker/aaa".into(), memory: "/docker/aaa".into(), pods: Some("/cluster-c/c-worker".into()) });
        assert_eq!(worker.usage(root.path()), Some((3_000, 120_000)));
        let worker2 = node_cgroups(&proc_self("bbb"), "/cluster-c/c-worker2").unwrap();
        assert_eq!(worker2.usage(root.path()), Some((30, 1_200)), "another node, its own usage");

        let no_pods_yet = node_cgroups(&proc_self("aaa"), "/cluster-c/absent").unwrap();
        assert_eq!(no_pods_yet.usage(root.path()), Some((1_000, 50_000)));
        let gone = node_cgroups(&proc_self("ccc"), "/cluster-c/c-worker").unwrap();
        assert_eq!(gone.usage(root.path()), None, "without its own cgroup the node falls back to /proc");
        let inside = node_cgroups(&proc_self("aaa"), "/docker/aaa/kubepods").unwrap();
        assert_eq!(inside.pods, None, "pods within the kubelet's cgroup are counted once");
    }

    #[test]
    fn a_kubelet_in_the_root_cgroup_reads_the_machine() {
        assert_eq!(node_cgroups("4:memory:/\n3:cpu,cpuacct:/\n0::/\n", "/kubepods"), None);
        assert_eq!(node_cgroups("4:memory:/user.slice\n2:cpuacct:/\n", "/kubepods"), None, "either controller at the root");
        assert_eq!(node_cgroups("0::/\n", "/kubepods"), None);
        let unified = node_cgroups("0::/system.slice/kubelet.service\n", "/kubepods").unwrap();
        assert_eq!((unified.cpu.as_str(), unified.memory.as_str(), unified.pods.as_deref()), ("/system.slice/kubelet.service", "/system.slice/kubelet.service", Some("/kubepods")));
    }

    #[test]
    fn the_node_is_read_from_proc() {
        let stat = "cpu  100 5 50 9000 40 3 2 0 0 0\ncpu0 1 2 3 4 5 6 7 8\n";
        assert_eq!(cpu_from_proc_stat(stat), Some(160 * NS_PER_TICK));
        let meminfo = "MemTotal:       16000000 kB\nMemFree:         1000 kB\nMemAvailable:   12000000 kB\n";
        assert_eq!(memory_from_meminfo(meminfo), Some(4_000_000 * 1024));
    }
}
