//! From a pod's spec to what the runtime takes: the sandbox config and each container's config.
//! The labels written here are how a restarted kubelet finds its pods' sandboxes and containers.

use std::collections::HashMap;
use std::path::PathBuf;

use k8s_openapi::api::core::v1::{Container, Pod, ResourceRequirements};

use crate::Kubelet;
use crate::cri::api;

pub const POD_NAME: &str = "io.kubernetes.pod.name";
pub const POD_NAMESPACE: &str = "io.kubernetes.pod.namespace";
pub const POD_UID: &str = "io.kubernetes.pod.uid";
pub const CONTAINER_NAME: &str = "io.kubernetes.container.name";
/// Set on containers, so that a container is known as init or regular without the pod.
pub const CONTAINER_KIND: &str = "io.kubernetes.container.kind";
/// The grace period a container is stopped with when its pod is gone from the apiserver.
pub const GRACE_ANNOTATION: &str = "io.kubernetes.pod.terminationGracePeriod";

pub fn uid(pod: &Pod) -> &str {
    pod.metadata.uid.as_deref().unwrap_or_default()
}

pub fn full_name(pod: &Pod) -> String {
    format!("{}/{}", pod.metadata.namespace.as_deref().unwrap_or_default(), pod.metadata.name.as_deref().unwrap_or_default())
}

/// `<logs>/<namespace>_<name>_<uid>`, as the kubelet lays out pod logs.
pub fn log_directory(kubelet: &Kubelet, pod: &Pod) -> PathBuf {
    log_directory_of(kubelet, pod.metadata.namespace.as_deref().unwrap_or_default(), pod.metadata.name.as_deref().unwrap_or_default(), uid(pod))
}

pub fn log_directory_of(kubelet: &Kubelet, namespace: &str, name: &str, uid: &str) -> PathBuf {
    kubelet.config.pod_logs_dir.join(format!("{namespace}_{name}_{uid}"))
}

pub fn cgroup_parent(kubelet: &Kubelet, uid: &str) -> String {
    format!("{}/pod{uid}", kubelet.config.cgroup_root.trim_end_matches('/'))
}

fn pod_labels(pod: &Pod) -> HashMap<String, String> {
    HashMap::from([
        (POD_NAME.to_string(), pod.metadata.name.clone().unwrap_or_default()),
        (POD_NAMESPACE.to_string(), pod.metadata.namespace.clone().unwrap_or_default()),
        (POD_UID.to_string(), uid(pod).to_string()),
    ])
}

pub fn sandbox_config(kubelet: &Kubelet, pod: &Pod, attempt: u32) -> api::PodSandboxConfig {
    let spec = pod.spec.clone().unwrap_or_default();
    let mut labels: HashMap<String, String> = pod.metadata.labels.clone().unwrap_or_default().into_iter().collect();
    labels.extend(pod_labels(pod));
    let host_network = spec.host_network.unwrap_or(false);
    let hostname = if host_network { crate::node::hostname().unwrap_or_default() } else { crate::dns::sandbox_hostname(pod, &kubelet.config.cluster_domain) };
    let cluster = crate::dns::Cluster { servers: &kubelet.config.cluster_dns, domain: &kubelet.config.cluster_domain };
    let dns_config = crate::dns::config(pod, &cluster, &crate::dns::ResolvConf::of_host());
    let port_mappings = spec
        .containers
        .iter()
        .flat_map(|container| container.ports.iter().flatten())
        .filter(|port| port.host_port.is_some_and(|host| host > 0))
        .map(|port| api::PortMapping {
            protocol: protocol(port.protocol.as_deref()) as i32,
            container_port: port.container_port,
            host_port: port.host_port.unwrap_or_default(),
            host_ip: port.host_ip.clone().unwrap_or_default(),
        })
        .collect();
    let security = spec.security_context.clone().unwrap_or_default();
    api::PodSandboxConfig {
        metadata: Some(api::PodSandboxMetadata {
            name: pod.metadata.name.clone().unwrap_or_default(),
            uid: uid(pod).to_string(),
            namespace: pod.metadata.namespace.clone().unwrap_or_default(),
            attempt,
        }),
        hostname,
        log_directory: log_directory(kubelet, pod).to_string_lossy().into_owned(),
        dns_config: Some(dns_config),
        port_mappings,
        labels,
        annotations: pod.metadata.annotations.clone().unwrap_or_default().into_iter().collect(),
        linux: Some(api::LinuxPodSandboxConfig {
            cgroup_parent: cgroup_parent(kubelet, uid(pod)),
            security_context: Some(api::LinuxSandboxSecurityContext {
                namespace_options: Some(namespaces(&spec)),
                run_as_user: security.run_as_user.map(|value| api::Int64Value { value }),
                run_as_group: security.run_as_group.map(|value| api::Int64Value { value }),
                supplemental_groups: security.supplemental_groups.clone().unwrap_or_default(),
                ..Default::default()
            }),
            sysctls: security.sysctls.iter().flatten().map(|sysctl| (sysctl.name.clone(), sysctl.value.clone())).collect(),
            ..Default::default()
        }),
        windows: None,
    }
}

/// The pod's namespaces as the kubelet gives them to the sandbox and to each container: the
/// host's where asked for, else the pod's; processes each in their container's own PID
/// namespace unless the pod shares one.
fn namespaces(spec: &k8s_openapi::api::core::v1::PodSpec) -> api::NamespaceOption {
    let mode = |host: Option<bool>| if host.unwrap_or(false) { api::NamespaceMode::Node } else { api::NamespaceMode::Pod };
    let pid = if spec.host_pid.unwrap_or(false) {
        api::NamespaceMode::Node
    } else if spec.share_process_namespace.unwrap_or(false) {
        api::NamespaceMode::Pod
    } else {
        api::NamespaceMode::Container
    };
    api::NamespaceOption { network: mode(spec.host_network) as i32, pid: pid as i32, ipc: mode(spec.host_ipc) as i32, ..Default::default() }
}

fn protocol(name: Option<&str>) -> api::Protocol {
    match name {
        Some("UDP") => api::Protocol::Udp,
        Some("SCTP") => api::Protocol::Sctp,
        _ => api::Protocol::Tcp,
    }
}

pub struct ContainerInput<'a> {
    pub pod: &'a Pod,
    pub container: &'a Container,
    pub init: bool,
    pub attempt: u32,
    pub image_ref: String,
    pub env: Vec<(String, String)>,
    pub mounts: Vec<api::Mount>,
}

pub fn container_config(input: ContainerInput<'_>) -> api::ContainerConfig {
    let ContainerInput { pod, container, init, attempt, image_ref, env, mounts } = input;
    let mut labels = pod_labels(pod);
    labels.insert(CONTAINER_NAME.into(), container.name.clone());
    labels.insert(CONTAINER_KIND.into(), if init { "init" } else { "regular" }.into());
    let grace = pod.spec.as_ref().and_then(|spec| spec.termination_grace_period_seconds).unwrap_or(30);
    let annotations = HashMap::from([(GRACE_ANNOTATION.to_string(), grace.to_string())]);
    let pod_security = pod.spec.as_ref().and_then(|spec| spec.security_context.clone()).unwrap_or_default();
    let security = container.security_context.clone().unwrap_or_default();
    let capabilities = security.capabilities.clone().map(|capabilities| api::Capability {
        add_capabilities: capabilities.add.unwrap_or_default(),
        drop_capabilities: capabilities.drop.unwrap_or_default(),
        ..Default::default()
    });
    api::ContainerConfig {
        metadata: Some(api::ContainerMetadata { name: container.name.clone(), attempt }),
        image: Some(api::ImageSpec { image: image_ref, ..Default::default() }),
        command: expand_all(container.command.as_deref(), &env),
        args: expand_all(container.args.as_deref(), &env),
        working_dir: container.working_dir.clone().unwrap_or_default(),
        envs: env.into_iter().map(|(key, value)| api::KeyValue { key, value }).collect(),
        mounts,
        devices: Vec::new(),
        labels,
        annotations,
        log_path: format!("{}/{attempt}.log", container.name),
        stdin: container.stdin.unwrap_or(false),
        stdin_once: container.stdin_once.unwrap_or(false),
        tty: container.tty.unwrap_or(false),
        linux: Some(api::LinuxContainerConfig {
            resources: Some(resources(container.resources.as_ref())),
            security_context: Some(api::LinuxContainerSecurityContext {
                capabilities,
                privileged: security.privileged.unwrap_or(false),
                namespace_options: pod.spec.as_ref().map(namespaces),
                run_as_user: security.run_as_user.or(pod_security.run_as_user).map(|value| api::Int64Value { value }),
                run_as_group: security.run_as_group.or(pod_security.run_as_group).map(|value| api::Int64Value { value }),
                readonly_rootfs: security.read_only_root_filesystem.unwrap_or(false),
                supplemental_groups: pod_security.supplemental_groups.clone().unwrap_or_default(),
                no_new_privs: security.allow_privilege_escalation == Some(false),
                ..Default::default()
            }),
        }),
        windows: None,
    }
}

fn expand_all(values: Option<&[String]>, env: &[(String, String)]) -> Vec<String> {
    values.unwrap_or_default().iter().map(|value| crate::env::expand(value, env)).collect()
}

/// Requests and limits as cgroup settings, as the kubelet computes them: CPU requests become
/// shares, CPU limits a CFS quota per 100 ms period, memory limits a hard limit.
pub fn resources(requirements: Option<&ResourceRequirements>) -> api::LinuxContainerResources {
    const PERIOD: i64 = 100_000;
    let quantity = |set: Option<&std::collections::BTreeMap<String, k8s_openapi::apimachinery::pkg::api::resource::Quantity>>, name: &str| {
        set.and_then(|set| set.get(name)).and_then(|quantity| common::quantity::parse(&quantity.0).ok())
    };
    let limits = requirements.and_then(|r| r.limits.as_ref());
    let requests = requirements.and_then(|r| r.requests.as_ref());
    let cpu_request = quantity(requests, "cpu").or_else(|| quantity(limits, "cpu")).map(|q| q.milli_value());
    let cpu_limit = quantity(limits, "cpu").map(|q| q.milli_value());
    let memory_limit = quantity(limits, "memory").map(|q| q.value());
    api::LinuxContainerResources {
        cpu_period: if cpu_limit.is_some() { PERIOD } else { 0 },
        cpu_quota: cpu_limit.map_or(0, |millis| (millis.saturating_mul(PERIOD) / 1000).max(1000)),
        cpu_shares: cpu_request.map_or(2, |millis| (millis.saturating_mul(1024) / 1000).max(2)),
        memory_limit_in_bytes: memory_limit.unwrap_or(0),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

    fn requirements(requests: &[(&str, &str)], limits: &[(&str, &str)]) -> ResourceRequirements {
        let set = |pairs: &[(&str, &str)]| Some(pairs.iter().map(|(k, v)| (k.to_string(), Quantity(v.to_string()))).collect());
        ResourceRequirements { requests: set(requests), limits: set(limits), ..Default::default() }
    }

    #[test]
    fn cgroup_settings_follow_requests_and_limits() {
        let r = resources(Some(&requirements(&[("cpu", "250m")], &[("cpu", "500m"), ("memory", "64Mi")])));
        assert_eq!((r.cpu_shares, r.cpu_quota, r.cpu_period, r.memory_limit_in_bytes), (256, 50_000, 100_000, 64 << 20));
        let best_effort = resources(None);
        assert_eq!((best_effort.cpu_shares, best_effort.cpu_quota, best_effort.memory_limit_in_bytes), (2, 0, 0));
        let tiny = resources(Some(&requirements(&[], &[("cpu", "1m")])));
        assert_eq!((tiny.cpu_shares, tiny.cpu_quota), (2, 1000), "a limit's request defaults to it; quotas have a floor");
    }
}
