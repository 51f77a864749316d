//! Services: `SetDefaults_Service`, the parts of the service strategy and storage that shape the
//! object (ClusterIP/ClusterIPs kept in step, allocated values kept across a PUT, fields of the
//! old type dropped when the type changes), `ValidateService` and `ValidateServiceUpdate`.
//!
//! Allocation itself (a ClusterIP for an empty `spec.clusterIP`, NodePorts) is the REST layer's,
//! after admission on create. What admission expects from it: a created Service with an empty
//! `spec.clusterIP` gets `clusterIP`, `clusterIPs`, `ipFamilies: [IPv4]` and
//! `ipFamilyPolicy: SingleStack` there; one that asked for an address (or `None`) gets
//! `clusterIPs`, `ipFamilies` and `ipFamilyPolicy` here already.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::{ClientIPConfig, Service, ServiceSpec, ServiceStatus, SessionAffinityConfig};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde_json::json;

use super::field::{Causes, Path, json_of};
use super::metadata;
use super::names::{self, NameFormat};
use super::pod_spec::validate_port_number_or_name;
use super::{Context, TypedKind};

const TYPES: &[&str] = &["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"];
const PROTOCOLS: &[&str] = &["SCTP", "TCP", "UDP"];
/// `allocators::NODE_PORT_RANGE`: the REST layer allocates from the same range.
const NODE_PORTS: std::ops::RangeInclusive<i32> = 30000..=32767;
/// `core.MaxClientIPServiceAffinitySeconds`.
const MAX_AFFINITY_SECONDS: i32 = 86400;

fn type_of(spec: &ServiceSpec) -> &str {
    spec.type_.as_deref().unwrap_or_default()
}

fn needs_cluster_ip(spec: &ServiceSpec) -> bool {
    type_of(spec) != "ExternalName"
}

fn needs_node_ports(spec: &ServiceSpec) -> bool {
    match type_of(spec) {
        "NodePort" => true,
        "LoadBalancer" => spec.allocate_load_balancer_node_ports != Some(false),
        _ => false,
    }
}

/// `ExternallyAccessible`: reachable other than through the ClusterIP.
fn externally_accessible(spec: &ServiceSpec) -> bool {
    match type_of(spec) {
        "LoadBalancer" | "NodePort" => true,
        "ClusterIP" => spec.external_ips.as_ref().is_some_and(|ips| !ips.is_empty()),
        _ => false,
    }
}

fn cluster_ips(spec: &ServiceSpec) -> &[String] {
    spec.cluster_ips.as_deref().unwrap_or_default()
}

fn is_headless(spec: &ServiceSpec) -> bool {
    cluster_ips(spec) == ["None"]
}

fn family_of(ip: &str) -> Option<&'static str> {
    names::parse_ip(ip).map(|ip| if ip.is_ipv4() { "IPv4" } else { "IPv6" })
}

/// The IP families of a Service that has its ClusterIP(s), for a single-stack cluster: the
/// family of each address (IPv4 for a headless Service with a selector), `SingleStack`.
fn set_ip_families(spec: &mut ServiceSpec) {
    if !needs_cluster_ip(spec) || spec.ip_families.as_ref().is_some_and(|families| !families.is_empty()) {
        return;
    }
    let families: Vec<String> = if is_headless(spec) {
        if spec.selector.is_none() {
            return;
        }
        vec!["IPv4".to_string()]
    } else {
        let families: Option<Vec<String>> =
            cluster_ips(spec).iter().map(|ip| family_of(ip).map(str::to_string)).collect();
        match families {
            Some(families) if !families.is_empty() => families,
            _ => return,
        }
    };
    spec.ip_families = Some(families);
    spec.ip_family_policy.get_or_insert_with(|| "SingleStack".to_string());
}

fn spec_of(service: &Service) -> ServiceSpec {
    service.spec.clone().unwrap_or_default()
}

impl TypedKind for Service {
    const NAME_FORMAT: NameFormat = NameFormat::Dns1035Label;

    fn apply_defaults(&mut self) {
        let spec = self.spec.get_or_insert_with(Default::default);
        if spec.session_affinity.as_deref().unwrap_or_default().is_empty() {
            spec.session_affinity = Some("None".into());
        }
        match spec.session_affinity.as_deref() {
            Some("None") => spec.session_affinity_config = None,
            Some("ClientIP") => {
                let config = spec.session_affinity_config.get_or_insert_with(SessionAffinityConfig::default);
                let client_ip = config.client_ip.get_or_insert_with(ClientIPConfig::default);
                client_ip.timeout_seconds.get_or_insert(10800);
            }
            _ => {}
        }
        if type_of(spec).is_empty() {
            spec.type_ = Some("ClusterIP".into());
        }
        for port in spec.ports.iter_mut().flatten() {
            if port.protocol.as_deref().unwrap_or_default().is_empty() {
                port.protocol = Some("TCP".into());
            }
            let unset = match &port.target_port {
                None => true,
                Some(IntOrString::Int(number)) => *number == 0,
                Some(IntOrString::String(name)) => name.is_empty(),
            };
            if unset {
                port.target_port = Some(IntOrString::Int(port.port));
            }
        }
        if externally_accessible(spec) && spec.external_traffic_policy.as_deref().unwrap_or_default().is_empty() {
            spec.external_traffic_policy = Some("Cluster".into());
        }
        if spec.internal_traffic_policy.is_none() && matches!(type_of(spec), "ClusterIP" | "NodePort" | "LoadBalancer") {
            spec.internal_traffic_policy = Some("Cluster".into());
        }
        if type_of(spec) == "LoadBalancer" {
            spec.allocate_load_balancer_node_ports.get_or_insert(true);
        }
    }

    fn prepare_for_create(&mut self) {
        self.status = Some(ServiceStatus { load_balancer: Some(Default::default()), ..Default::default() });
        let spec = self.spec.get_or_insert_with(Default::default);
        // An old client sets only the singular field.
        let cluster_ip = spec.cluster_ip.clone().unwrap_or_default();
        if !cluster_ip.is_empty() && cluster_ips(spec).is_empty() {
            spec.cluster_ips = Some(vec![cluster_ip]);
        }
        set_ip_families(spec);
    }

    fn prepare_for_update(&mut self, old: &Self) {
        let old_spec = spec_of(old);
        let spec = self.spec.get_or_insert_with(Default::default);
        patch_allocated_values(spec, &old_spec);
        normalize_cluster_ips(spec, &old_spec);
        drop_type_dependent_fields(spec, &old_spec);
        if needs_cluster_ip(spec) && needs_cluster_ip(&old_spec) && cluster_ips(spec) == cluster_ips(&old_spec) {
            if spec.ip_families.as_ref().is_none_or(Vec::is_empty) {
                spec.ip_families = old_spec.ip_families.clone();
            }
            if spec.ip_family_policy.is_none() {
                spec.ip_family_policy = old_spec.ip_family_policy.clone();
            }
        }
        set_ip_families(spec);
        if type_of(spec) != "LoadBalancer"
            && let Some(status) = self.status.as_mut()
        {
            status.load_balancer = Some(Default::default());
        }
    }

    fn validate(&self, _context: &Context, causes: &mut Causes) {
        validate_spec(self, causes);
    }

    fn validate_update(&self, old: &Self, _context: &Context, causes: &mut Causes) {
        let spec = spec_of(self);
        let old_spec = spec_of(old);
        validate_cluster_ips_update(&spec, &old_spec, causes);
        validate_ip_families_update(&spec, &old_spec, causes);
        validate_spec(self, causes);
    }

    fn validate_status_update(&self, _old: &Self, _context: &Context, causes: &mut Causes) {
        let spec = spec_of(self);
        let path = Path::new("status").child("loadBalancer").child("ingress");
        let ingress = self
            .status
            .as_ref()
            .and_then(|status| status.load_balancer.as_ref())
            .and_then(|load_balancer| load_balancer.ingress.as_deref())
            .unwrap_or_default();
        if !ingress.is_empty() && type_of(&spec) != "LoadBalancer" {
            causes.forbidden(&path, "may only be used when `spec.type` is 'LoadBalancer'");
        }
        for (index, entry) in ingress.iter().enumerate() {
            let entry_path = path.index(index);
            let ip = entry.ip.as_deref().unwrap_or_default();
            if !ip.is_empty() && !names::is_ip(ip) {
                causes.invalid(&entry_path.child("ip"), ip, "must be a valid IP address");
            }
            if let Some(mode) = entry.ip_mode.as_deref() {
                if ip.is_empty() {
                    causes.required(&entry_path.child("ipMode"), "must be specified when `ip` is set");
                } else if !matches!(mode, "VIP" | "Proxy") {
                    causes.not_supported(&entry_path.child("ipMode"), mode, &["Proxy", "VIP"]);
                }
            }
            let hostname = entry.hostname.as_deref().unwrap_or_default();
            if !hostname.is_empty() {
                causes.invalid_each(&entry_path.child("hostname"), hostname, names::dns1123_subdomain(hostname));
                if names::is_ip(hostname) {
                    causes.invalid(&entry_path.child("hostname"), hostname, "must be a DNS name, not an IP address");
                }
            }
        }
    }
}

/// `patchAllocatedValues`: a PUT that leaves out what the server allocated keeps it.
fn patch_allocated_values(spec: &mut ServiceSpec, old: &ServiceSpec) {
    if needs_cluster_ip(old) && needs_cluster_ip(spec) {
        if spec.cluster_ip.as_deref().unwrap_or_default().is_empty() {
            spec.cluster_ip = old.cluster_ip.clone();
        }
        if cluster_ips(spec).is_empty() && !cluster_ips(old).is_empty() {
            spec.cluster_ips = old.cluster_ips.clone();
        }
    }
    if needs_node_ports(old) && needs_node_ports(spec) {
        let used = |spec: &ServiceSpec| -> BTreeSet<i32> {
            spec.ports.iter().flatten().filter_map(|port| port.node_port).filter(|port| *port != 0).collect()
        };
        let in_both: BTreeSet<i32> = used(old).intersection(&used(spec)).copied().collect();
        let by_name: BTreeMap<String, i32> = old
            .ports
            .iter()
            .flatten()
            .map(|port| (port.name.clone().unwrap_or_default(), port.node_port.unwrap_or(0)))
            .collect();
        for port in spec.ports.iter_mut().flatten() {
            if port.node_port.unwrap_or(0) == 0 {
                let previous = by_name.get(port.name.as_deref().unwrap_or_default()).copied().unwrap_or(0);
                if previous != 0 && !in_both.contains(&previous) {
                    port.node_port = Some(previous);
                }
            }
        }
    }
}

/// `normalizeClusterIPs` on update: a client that changed only the singular field changed the
/// primary address.
fn normalize_cluster_ips(spec: &mut ServiceSpec, old: &ServiceSpec) {
    let cluster_ip = spec.cluster_ip.clone().unwrap_or_default();
    if cluster_ip == old.cluster_ip.clone().unwrap_or_default() || cluster_ips(spec) != cluster_ips(old) {
        return;
    }
    if cluster_ip.is_empty() {
        spec.cluster_ips = None;
    } else {
        let mut ips = vec![cluster_ip];
        ips.extend(cluster_ips(old).iter().skip(1).cloned());
        spec.cluster_ips = Some(ips);
    }
}

/// `dropTypeDependentFields`: switching type drops what only the old type had, unless the
/// client set it anew.
fn drop_type_dependent_fields(spec: &mut ServiceSpec, old: &ServiceSpec) {
    if needs_cluster_ip(old) && !needs_cluster_ip(spec) {
        if cluster_ips(spec) == cluster_ips(old) {
            spec.cluster_ip = None;
            spec.cluster_ips = None;
        }
        if spec.ip_families == old.ip_families {
            spec.ip_families = None;
        }
        if spec.ip_family_policy == old.ip_family_policy {
            spec.ip_family_policy = None;
        }
    }
    let node_ports = |spec: &ServiceSpec| -> Vec<i32> { spec.ports.iter().flatten().map(|port| port.node_port.unwrap_or(0)).collect() };
    if needs_node_ports(old) && !needs_node_ports(spec) && node_ports(spec) == node_ports(old) {
        for port in spec.ports.iter_mut().flatten() {
            port.node_port = None;
        }
    }
    if type_of(old) == "LoadBalancer"
        && type_of(spec) != "LoadBalancer"
        && spec.allocate_load_balancer_node_ports == old.allocate_load_balancer_node_ports
    {
        spec.allocate_load_balancer_node_ports = None;
    }
    if externally_accessible(old) && !externally_accessible(spec) && spec.external_traffic_policy == old.external_traffic_policy {
        spec.external_traffic_policy = None;
    }
}

fn validate_spec(service: &Service, causes: &mut Causes) {
    let spec = spec_of(service);
    let path = Path::new("spec");
    let service_type = type_of(&spec);
    let ports = spec.ports.as_deref().unwrap_or_default();
    let headless = is_headless(&spec);
    if ports.is_empty() && !headless && service_type != "ExternalName" {
        causes.required(&path.child("ports"), "");
    }
    match service_type {
        "LoadBalancer" | "NodePort" if headless => {
            let detail = format!("may not be set to 'None' for {service_type} services");
            causes.invalid(&path.child("clusterIPs").index(0), "None", &detail);
        }
        "ExternalName" => {
            let forbidden = [
                ("clusterIPs", !cluster_ips(&spec).is_empty()),
                ("ipFamilies", spec.ip_families.as_ref().is_some_and(|families| !families.is_empty())),
                ("ipFamilyPolicy", spec.ip_family_policy.is_some()),
            ];
            for (field, set) in forbidden {
                if set {
                    causes.forbidden(&path.child(field), "may not be set for ExternalName services");
                }
            }
            let external_name = spec.external_name.as_deref().unwrap_or_default();
            // A CNAME may end with a dot, fully qualified.
            let name = external_name.strip_suffix('.').unwrap_or(external_name);
            if name.is_empty() {
                causes.required(&path.child("externalName"), "");
            } else {
                causes.invalid_each(&path.child("externalName"), name, names::dns1123_subdomain(name));
            }
        }
        _ => {}
    }
    let mut port_names = BTreeSet::new();
    for (index, port) in ports.iter().enumerate() {
        let port_path = path.child("ports").index(index);
        let name = port.name.as_deref().unwrap_or_default();
        if ports.len() > 1 && name.is_empty() {
            causes.required(&port_path.child("name"), "");
        } else if !name.is_empty() {
            causes.invalid_each(&port_path.child("name"), name, names::dns1123_label(name));
            if !port_names.insert(name) {
                causes.duplicate(&port_path.child("name"), name);
            }
        }
        for message in names::port_number(port.port.into()) {
            causes.invalid(&port_path.child("port"), port.port, &message);
        }
        match port.protocol.as_deref().unwrap_or_default() {
            "" => causes.required(&port_path.child("protocol"), ""),
            protocol if PROTOCOLS.contains(&protocol) => {}
            other => causes.not_supported(&port_path.child("protocol"), other, PROTOCOLS),
        }
        if let Some(target) = port.target_port.as_ref() {
            validate_port_number_or_name(target, &port_path.child("targetPort"), causes);
        }
        if let Some(app_protocol) = port.app_protocol.as_deref() {
            causes.invalid_each(&port_path.child("appProtocol"), app_protocol, names::qualified_name(app_protocol));
        }
    }
    if spec.selector.is_some() {
        metadata::validate_labels(spec.selector.as_ref(), &path.child("selector"), causes);
    }
    validate_session_affinity(&spec, &path, causes);
    validate_cluster_ips(&spec, &path, causes);
    for (index, ip) in spec.external_ips.iter().flatten().enumerate() {
        let ip_path = path.child("externalIPs").index(index);
        if names::is_ip(ip) {
            validate_non_special_ip(ip, &ip_path, causes);
        } else {
            causes.invalid(&ip_path, ip.as_str(), names::IP_MESSAGE);
        }
    }
    if service_type.is_empty() {
        causes.required(&path.child("type"), "");
    } else if !TYPES.contains(&service_type) {
        causes.not_supported(&path.child("type"), service_type, TYPES);
    }
    validate_node_ports(&spec, &path, causes);
    let mut seen = BTreeSet::new();
    for (index, port) in ports.iter().enumerate() {
        let protocol = port.protocol.clone().unwrap_or_default();
        if !seen.insert((protocol.clone(), port.port)) {
            causes.duplicate(&path.child("ports").index(index), json!({"port": port.port, "protocol": protocol}));
        }
    }
    let source_ranges = spec.load_balancer_source_ranges.as_deref().unwrap_or_default();
    if !source_ranges.is_empty() {
        // Kubernetes spells this path with a capital L.
        let ranges_path = path.child("LoadBalancerSourceRanges");
        if service_type != "LoadBalancer" {
            causes.forbidden(&ranges_path, "may only be used when `type` is 'LoadBalancer'");
        }
        for (index, range) in source_ranges.iter().enumerate() {
            let range = range.trim();
            if names::parse_cidr(range).is_none() {
                causes.invalid(&ranges_path.index(index), range, names::CIDR_MESSAGE);
            }
        }
    }
    if spec.allocate_load_balancer_node_ports.is_some() && service_type != "LoadBalancer" {
        causes.forbidden(&path.child("allocateLoadBalancerNodePorts"), "may only be used when `type` is 'LoadBalancer'");
    }
    if service_type == "LoadBalancer" && spec.allocate_load_balancer_node_ports.is_none() {
        causes.required(&Path::new("allocateLoadBalancerNodePorts"), "");
    }
    validate_traffic_policies(&spec, &path, causes);
}

fn validate_session_affinity(spec: &ServiceSpec, path: &Path, causes: &mut Causes) {
    let affinity = spec.session_affinity.as_deref().unwrap_or_default();
    let config_path = path.child("sessionAffinityConfig");
    match affinity {
        "" => causes.required(&path.child("sessionAffinity"), ""),
        "ClientIP" => {
            let detail = "when session affinity type is ClientIP";
            let client_ip = spec.session_affinity_config.as_ref().and_then(|config| config.client_ip.as_ref());
            match (spec.session_affinity_config.as_ref(), client_ip) {
                (None, _) => causes.required(&config_path, detail),
                (Some(_), None) => causes.required(&config_path.child("clientIP"), detail),
                (Some(_), Some(client_ip)) => match client_ip.timeout_seconds {
                    None => causes.required(&config_path.child("clientIP").child("timeoutSeconds"), detail),
                    Some(timeout) if timeout <= 0 || timeout > MAX_AFFINITY_SECONDS => {
                        let detail = format!("must be greater than 0 and less than {MAX_AFFINITY_SECONDS}");
                        causes.invalid(&config_path.child("clientIP").child("timeoutSeconds"), timeout, &detail);
                    }
                    Some(_) => {}
                },
            }
        }
        "None" => {
            if spec.session_affinity_config.is_some() {
                causes.forbidden(&config_path, "must not be set when session affinity is None");
            }
        }
        other => causes.not_supported(&path.child("sessionAffinity"), other, &["ClientIP", "None"]),
    }
}

/// `ValidateServiceClusterIPsRelatedFields`.
fn validate_cluster_ips(spec: &ServiceSpec, path: &Path, causes: &mut Causes) {
    if !needs_cluster_ip(spec) {
        return;
    }
    let ips = cluster_ips(spec);
    let ips_path = path.child("clusterIPs");
    let cluster_ip = spec.cluster_ip.as_deref().unwrap_or_default();
    if !cluster_ip.is_empty() {
        match ips.first() {
            None => causes.required(&ips_path, ""),
            Some(first) if first != cluster_ip => causes.invalid(&ips_path, json_of(&ips), "first value must match `clusterIP`"),
            Some(_) => {}
        }
    } else if !ips.is_empty() {
        causes.invalid(&ips_path, json_of(&ips), "must be empty when `clusterIP` is not specified");
    }
    let families = spec.ip_families.as_deref().unwrap_or_default();
    let mut seen = BTreeSet::new();
    for (index, family) in families.iter().enumerate() {
        if !matches!(family.as_str(), "IPv4" | "IPv6") {
            causes.not_supported(&path.child("ipFamilies").index(index), family.as_str(), &["IPv4", "IPv6"]);
        }
        if !seen.insert(family.as_str()) {
            causes.duplicate(&path.child("ipFamilies").index(index), family.as_str());
        }
    }
    if let Some(policy) = spec.ip_family_policy.as_deref() {
        let supported = ["PreferDualStack", "RequireDualStack", "SingleStack"];
        if !supported.contains(&policy) {
            causes.not_supported(&path.child("ipFamilyPolicy"), policy, &supported);
        }
    }
    let mut invalid_ips = false;
    for (index, ip) in ips.iter().enumerate() {
        if index == 0 && ip == "None" {
            if ips.len() > 1 {
                invalid_ips = true;
                causes.invalid(&ips_path, json_of(&ips), "'None' must be the first and only value");
            }
            continue;
        }
        if !names::is_ip(ip) {
            invalid_ips = true;
            causes.invalid(&ips_path.index(index), ip.as_str(), names::IP_MESSAGE);
        }
    }
    if ips.len() > 2 {
        causes.invalid(&ips_path, json_of(&ips), "may only hold up to 2 values");
    }
    if invalid_ips {
        return;
    }
    if ips.len() > 1 {
        let ip_families: BTreeSet<&str> = ips.iter().filter_map(|ip| family_of(ip)).collect();
        if ip_families.len() != ips.len() {
            causes.invalid(&ips_path, json_of(&ips), "may specify no more than one IP for each IP family");
        }
    }
    if !is_headless(spec) {
        for (index, (ip, family)) in ips.iter().zip(families).enumerate() {
            match (family.as_str(), family_of(ip)) {
                ("IPv4", Some("IPv6")) => {
                    let detail = format!("expected an IPv4 value as indicated by `ipFamilies[{index}]`");
                    causes.invalid(&ips_path.index(index), ip.as_str(), &detail);
                }
                ("IPv6", Some("IPv4")) => {
                    let detail = format!("expected an IPv6 value as indicated by `ipFamilies[{index}]`");
                    causes.invalid(&ips_path.index(index), ip.as_str(), &detail);
                }
                _ => {}
            }
        }
    }
}

/// `ValidateNonSpecialIP`: external IPs and endpoints may not be unspecified, loopback or
/// link-local.
pub(crate) fn validate_non_special_ip(ip: &str, path: &Path, causes: &mut Causes) {
    let Some(address) = names::parse_ip(ip) else {
        return causes.invalid(path, ip, "must be a valid IP address");
    };
    if address.is_unspecified() {
        causes.invalid(path, ip, &format!("may not be unspecified ({ip})"));
    }
    if address.is_loopback() {
        causes.invalid(path, ip, "may not be in the loopback range (127.0.0.0/8, ::1/128)");
    }
    let link_local_unicast = match address {
        std::net::IpAddr::V4(v4) => v4.is_link_local(),
        std::net::IpAddr::V6(v6) => (v6.segments()[0] & 0xffc0) == 0xfe80,
    };
    if link_local_unicast {
        causes.invalid(path, ip, "may not be in the link-local range (169.254.0.0/16, fe80::/10)");
    }
    let link_local_multicast = match address {
        std::net::IpAddr::V4(v4) => v4.octets()[..3] == [224, 0, 0],
        std::net::IpAddr::V6(v6) => (v6.segments()[0] & 0xff0f) == 0xff02,
    };
    if link_local_multicast {
        causes.invalid(path, ip, "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)");
    }
}

fn validate_node_ports(spec: &ServiceSpec, path: &Path, causes: &mut Causes) {
    let service_type = type_of(spec);
    let mut seen = BTreeSet::new();
    for (index, port) in spec.ports.iter().flatten().enumerate() {
        let node_port = port.node_port.unwrap_or(0);
        if node_port == 0 {
            continue;
        }
        let node_port_path = path.child("ports").index(index).child("nodePort");
        if service_type == "ClusterIP" {
            causes.forbidden(&node_port_path, "may not be used when `type` is 'ClusterIP'");
        } else if matches!(service_type, "NodePort" | "LoadBalancer") && !NODE_PORTS.contains(&node_port) {
            // Kubernetes' allocator says this when it reserves the port; the REST layer here
            // reserves after admission, so the range is checked first.
            causes.invalid(
                &node_port_path,
                node_port,
                "provided port is not in the valid range. The range of valid ports is 30000-32767",
            );
        }
        if !seen.insert((port.protocol.clone().unwrap_or_default(), node_port)) {
            causes.duplicate(&node_port_path, node_port);
        }
    }
}

fn validate_traffic_policies(spec: &ServiceSpec, path: &Path, causes: &mut Causes) {
    let external = spec.external_traffic_policy.as_deref().unwrap_or_default();
    let external_path = path.child("externalTrafficPolicy");
    if !externally_accessible(spec) {
        if !external.is_empty() {
            causes.invalid(&external_path, external, "may only be set for externally-accessible services");
        }
    } else if external.is_empty() {
        causes.required(&external_path, "");
    } else if !matches!(external, "Cluster" | "Local") {
        causes.not_supported(&external_path, external, &["Cluster", "Local"]);
    }
    let needs_health_check = type_of(spec) == "LoadBalancer" && external == "Local";
    let health_check_port = spec.health_check_node_port.unwrap_or(0);
    if !needs_health_check && health_check_port != 0 {
        causes.invalid(
            &path.child("healthCheckNodePort"),
            health_check_port,
            "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'",
        );
    }
    let internal_path = path.child("internalTrafficPolicy");
    match spec.internal_traffic_policy.as_deref() {
        None if matches!(type_of(spec), "NodePort" | "LoadBalancer" | "ClusterIP") => causes.required(&internal_path, ""),
        None | Some("Cluster") | Some("Local") => {}
        Some(other) => causes.not_supported(&internal_path, other, &["Cluster", "Local"]),
    }
    if let Some(distribution) = spec.traffic_distribution.as_deref()
        && distribution != "PreferClose"
    {
        causes.not_supported(&path.child("trafficDistribution"), distribution, &["PreferClose"]);
    }
}

/// `validateUpgradeDowngradeClusterIPs`: the primary ClusterIP never changes (ExternalName
/// Services, which have none, aside).
fn validate_cluster_ips_update(new: &ServiceSpec, old: &ServiceSpec, causes: &mut Causes) {
    if !needs_cluster_ip(new) || !needs_cluster_ip(old) || (is_headless(new) && is_headless(old)) {
        return;
    }
    let (new_ips, old_ips) = (cluster_ips(new), cluster_ips(old));
    let path = Path::new("spec").child("clusterIPs");
    let value = json_of(&new_ips);
    if new_ips.len() == old_ips.len() {
        for (index, ip) in old_ips.iter().enumerate() {
            if new_ips[index] != *ip {
                causes.invalid(&path.index(index), value.clone(), "may not change once set");
            }
        }
    } else if old_ips.len() > new_ips.len() {
        match new_ips.first() {
            None => causes.invalid(&path.index(0), value.clone(), "primary clusterIP can not be unset"),
            Some(first) if old_ips.first() != Some(first) => {
                causes.invalid(&path.index(0), value.clone(), "may not change once set");
            }
            Some(_) => {}
        }
        if new_ips.len() == 1 && new.ip_family_policy.as_deref() != Some("SingleStack") {
            causes.invalid(
                &Path::new("spec").child("ipFamilyPolicy"),
                json_of(&new.ip_family_policy),
                "must be set to 'SingleStack' when releasing the secondary clusterIP",
            );
        }
    } else if let (Some(old_first), Some(new_first)) = (old_ips.first(), new_ips.first())
        && old_first != new_first
    {
        causes.invalid(&path.index(0), value, "may not change once set");
    }
}

/// `validateUpgradeDowngradeIPFamilies`, for the primary family.
fn validate_ip_families_update(new: &ServiceSpec, old: &ServiceSpec, causes: &mut Causes) {
    if !needs_cluster_ip(new) || !needs_cluster_ip(old) || is_headless(new) || is_headless(old) {
        return;
    }
    let new_families = new.ip_families.as_deref().unwrap_or_default();
    let old_families = old.ip_families.as_deref().unwrap_or_default();
    if let (Some(new_first), Some(old_first)) = (new_families.first(), old_families.first())
        && new_first != old_first
    {
        causes.invalid(&Path::new("spec").child("ipFamilies").index(0), json_of(&new_families), "may not change once set");
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::test_support::*;
    use super::super::{FieldValidation, admit_status_update, admit_update};

    #[test]
    fn a_minimal_service_gets_kubernetes_defaults() {
        let admitted = admitted(resource("services"), service("web"));
        let expected = json!({
            "apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "demo"},
            "spec": {
                "selector": {"app": "web"},
                "ports": [{"port": 80, "protocol": "TCP", "targetPort": 80}],
                "type": "ClusterIP", "sessionAffinity": "None", "internalTrafficPolicy": "Cluster"
            },
            "status": {"loadBalancer": {}}
        });
        assert_eq!(admitted, expected);
    }

    #[test]
    fn requested_addresses_get_their_families() {
        let object = with(service("dns"), "/spec/clusterIP", json!("10.96.0.10"));
        let spec = admitted(resource("services"), object)["spec"].clone();
        assert_eq!(spec["clusterIPs"], json!(["10.96.0.10"]));
        assert_eq!(spec["ipFamilies"], json!(["IPv4"]));
        assert_eq!(spec["ipFamilyPolicy"], "SingleStack");
        let node_port = with(service("web"), "/spec/type", json!("NodePort"));
        let spec = admitted(resource("services"), node_port)["spec"].clone();
        assert_eq!(spec["externalTrafficPolicy"], "Cluster");
        assert_eq!(spec.get("ipFamilies"), None, "left to allocation");
        let balancer = admitted(resource("services"), with(service("web"), "/spec/type", json!("LoadBalancer")));
        assert_eq!(balancer["spec"]["allocateLoadBalancerNodePorts"], true);
        let sticky = admitted(resource("services"), with(service("web"), "/spec/sessionAffinity", json!("ClientIP")));
        assert_eq!(sticky["spec"]["sessionAffinityConfig"], json!({"clientIP": {"timeoutSeconds": 10800}}));
    }

    #[test]
    fn service_validation() {
        let rows: Vec<(&str, serde_json::Value, Outcome)> = vec![
            ("valid", service("web"), Outcome::Admitted),
            ("name starting with a digit", with(service("web"), "/metadata/name", json!("1web")), invalid(&["metadata.name"], "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')")),
            ("no ports", without(service("web"), "/spec/ports"), invalid(&["spec.ports"], "spec.ports: Required value")),
            ("headless without ports", with(without(service("web"), "/spec/ports"), "/spec/clusterIP", json!("None")), Outcome::Admitted),
            ("external name without ports", json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "db", "namespace": "demo"}, "spec": {"type": "ExternalName", "externalName": "db.example.com."}}), Outcome::Admitted),
            ("external name required", json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "db", "namespace": "demo"}, "spec": {"type": "ExternalName"}}), invalid(&["spec.externalName"], "Required value")),
            ("external name format", json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "db", "namespace": "demo"}, "spec": {"type": "ExternalName", "externalName": "not a name"}}), invalid(&["spec.externalName"], "a lowercase RFC 1123 subdomain")),
            ("external name with cluster IP", json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "db", "namespace": "demo"}, "spec": {"type": "ExternalName", "externalName": "db.example.com", "clusterIP": "10.96.0.20"}}), invalid(&["spec.clusterIPs"], "may not be set for ExternalName services")),
            ("port range", with(service("web"), "/spec/ports/0/port", json!(0)), invalid(&["spec.ports[0].port", "spec.ports[0].targetPort"], "must be between 1 and 65535, inclusive")),
            ("names required with two ports", with(service("web"), "/spec/ports/1", json!({"port": 443})), invalid(&["spec.ports[0].name", "spec.ports[1].name"], "Required value")),
            ("port names unique", with(with(service("web"), "/spec/ports/0/name", json!("http")), "/spec/ports/1", json!({"port": 8080, "name": "http"})), invalid(&["spec.ports[1].name"], "Duplicate value: \"http\"")),
            ("port name format", with(service("web"), "/spec/ports/0/name", json!("HTTP")), invalid(&["spec.ports[0].name"], "a lowercase RFC 1123 label")),
            ("port and protocol unique", with(with(service("web"), "/spec/ports/0/name", json!("a")), "/spec/ports/1", json!({"port": 80, "name": "b"})), invalid(&["spec.ports[1]"], "Duplicate value: {\"port\":80,\"protocol\":\"TCP\"}")),
            ("same port other protocol", with(with(service("web"), "/spec/ports/0/name", json!("a")), "/spec/ports/1", json!({"port": 80, "name": "b", "protocol": "UDP"})), Outcome::Admitted),
            ("protocol", with(service("web"), "/spec/ports/0/protocol", json!("ICMP")), invalid(&["spec.ports[0].protocol"], "Unsupported value: \"ICMP\": supported values: \"SCTP\", \"TCP\", \"UDP\"")),
            ("target port name", with(service("web"), "/spec/ports/0/targetPort", json!("web-http-port-name")), invalid(&["spec.ports[0].targetPort"], "must be no more than 15 characters")),
            ("type", with(service("web"), "/spec/type", json!("Internal")), invalid(&["spec.type"], "Unsupported value: \"Internal\": supported values: \"ClusterIP\", \"ExternalName\", \"LoadBalancer\", \"NodePort\"")),
            ("node port on ClusterIP", with(service("web"), "/spec/ports/0/nodePort", json!(30080)), invalid(&["spec.ports[0].nodePort"], "may not be used when `type` is 'ClusterIP'")),
            ("node port in range", with(with(service("web"), "/spec/type", json!("NodePort")), "/spec/ports/0/nodePort", json!(30080)), Outcome::Admitted),
            ("node port out of range", with(with(service("web"), "/spec/type", json!("NodePort")), "/spec/ports/0/nodePort", json!(8080)), invalid(&["spec.ports[0].nodePort"], "provided port is not in the valid range. The range of valid ports is 30000-32767")),
            ("duplicate node port", with(with(with(service("web"), "/spec/type", json!("NodePort")), "/spec/ports", json!([{"name": "a", "port": 80, "nodePort": 30080}])), "/spec/ports/1", json!({"name": "b", "port": 81, "nodePort": 30080})), invalid(&["spec.ports[1].nodePort"], "Duplicate value: 30080")),
            ("headless NodePort", with(with(service("web"), "/spec/type", json!("NodePort")), "/spec/clusterIP", json!("None")), invalid(&["spec.clusterIPs[0]"], "may not be set to 'None' for NodePort services")),
            ("cluster IP format", with(service("web"), "/spec/clusterIP", json!("10.96.0")), invalid(&["spec.clusterIPs[0]"], "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)")),
            ("clusterIPs disagree", with(with(service("web"), "/spec/clusterIP", json!("10.96.0.10")), "/spec/clusterIPs", json!(["10.96.0.11"])), invalid(&["spec.clusterIPs"], "first value must match `clusterIP`")),
            ("selector", with(service("web"), "/spec/selector", json!({"app": "a b"})), invalid(&["spec.selector"], "a valid label must be an empty string")),
            ("session affinity", with(service("web"), "/spec/sessionAffinity", json!("Cookie")), invalid(&["spec.sessionAffinity"], "supported values: \"ClientIP\", \"None\"")),
            ("affinity timeout", with(with(service("web"), "/spec/sessionAffinity", json!("ClientIP")), "/spec/sessionAffinityConfig", json!({"clientIP": {"timeoutSeconds": 0}})), invalid(&["spec.sessionAffinityConfig.clientIP.timeoutSeconds"], "must be greater than 0 and less than 86400")),
            ("external IP", with(service("web"), "/spec/externalIPs", json!(["127.0.0.1"])), invalid(&["spec.externalIPs[0]"], "may not be in the loopback range (127.0.0.0/8, ::1/128)")),
            ("traffic policy on ClusterIP", with(service("web"), "/spec/externalTrafficPolicy", json!("Local")), invalid(&["spec.externalTrafficPolicy"], "may only be set for externally-accessible services")),
            ("internal traffic policy", with(service("web"), "/spec/internalTrafficPolicy", json!("Node")), invalid(&["spec.internalTrafficPolicy"], "supported values: \"Cluster\", \"Local\"")),
            ("source ranges", with(with(service("web"), "/spec/type", json!("LoadBalancer")), "/spec/loadBalancerSourceRanges", json!(["10.0.0.0/8", "nope"])), invalid(&["spec.LoadBalancerSourceRanges[1]"], "must be a valid CIDR value")),
            ("port type", with(service("web"), "/spec/ports/0/port", json!("80")), Outcome::BadRequest("spec.ports[0].port: invalid type: string \"80\", expected i32")),
        ];
        run_create("services", rows);
    }

    fn allocated(object: serde_json::Value, ip: &str) -> serde_json::Value {
        // What the REST layer does after admission on create.
        let mut stored = admitted(resource("services"), object);
        stored["spec"]["clusterIP"] = json!(ip);
        stored["spec"]["clusterIPs"] = json!([ip]);
        stored["spec"]["ipFamilies"] = json!(["IPv4"]);
        stored["spec"]["ipFamilyPolicy"] = json!("SingleStack");
        stored
    }

    #[test]
    fn service_updates() {
        let old = allocated(service("web"), "10.96.1.2");
        let rows: Vec<(&str, serde_json::Value, Outcome)> = vec![
            ("unchanged", old.clone(), Outcome::Admitted),
            ("a PUT without the allocated address", service("web"), Outcome::Admitted),
            ("cluster IP changed", with(old.clone(), "/spec/clusterIP", json!("10.96.1.3")), invalid(&["spec.clusterIPs[0]"], "spec.clusterIPs[0]: Invalid value: [\"10.96.1.3\"]: may not change once set")),
            ("cluster IPs changed", with(with(old.clone(), "/spec/clusterIP", json!("10.96.1.3")), "/spec/clusterIPs", json!(["10.96.1.3"])), invalid(&["spec.clusterIPs[0]"], "may not change once set")),
            ("to ExternalName", with(with(old.clone(), "/spec/type", json!("ExternalName")), "/spec/externalName", json!("example.com")), Outcome::Admitted),
            ("to NodePort", with(old.clone(), "/spec/type", json!("NodePort")), Outcome::Admitted),
        ];
        run_update("services", &old, rows);

        let put = admit_update(resource("services"), service("web"), &old, FieldValidation::Strict).expect("admitted");
        assert_eq!(put.object["spec"]["clusterIP"], "10.96.1.2");
        assert_eq!(put.object["spec"]["clusterIPs"], json!(["10.96.1.2"]));
        assert_eq!(put.object["spec"]["ipFamilies"], json!(["IPv4"]));

        let external = with(with(old.clone(), "/spec/type", json!("ExternalName")), "/spec/externalName", json!("example.com"));
        let external = admit_update(resource("services"), external, &old, FieldValidation::Strict).expect("admitted");
        for field in ["clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"] {
            assert_eq!(external.object["spec"].get(field), None, "{field} dropped");
        }

        let node_port = with(with(allocated(with(service("web"), "/spec/type", json!("NodePort")), "10.96.1.4"), "/spec/ports/0/nodePort", json!(30080)), "/spec/externalTrafficPolicy", json!("Cluster"));
        let back_to_cluster_ip = with(node_port.clone(), "/spec/type", json!("ClusterIP"));
        let admitted = admit_update(resource("services"), back_to_cluster_ip, &node_port, FieldValidation::Strict).expect("admitted");
        assert_eq!(admitted.object["spec"]["ports"][0].get("nodePort"), None, "node ports dropped with the type");
        assert_eq!(admitted.object["spec"].get("externalTrafficPolicy"), None);
        let without_node_port = with(node_port.clone(), "/spec/ports/0", json!({"port": 80}));
        let admitted = admit_update(resource("services"), without_node_port, &node_port, FieldValidation::Strict).expect("admitted");
        assert_eq!(admitted.object["spec"]["ports"][0]["nodePort"], 30080, "kept across a PUT");
    }

    #[test]
    fn service_status_updates() {
        let old = allocated(with(service("web"), "/spec/type", json!("LoadBalancer")), "10.96.1.5");
        let rows: Vec<(&str, serde_json::Value, Outcome)> = vec![
            ("ingress", with(old.clone(), "/status/loadBalancer/ingress", json!([{"ip": "192.168.1.10"}])), Outcome::Admitted),
            ("ingress IP", with(old.clone(), "/status/loadBalancer/ingress", json!([{"ip": "192.168.1"}])), invalid(&["status.loadBalancer.ingress[0].ip"], "must be a valid IP address")),
            ("ingress hostname", with(old.clone(), "/status/loadBalancer/ingress", json!([{"hostname": "10.0.0.1"}])), invalid(&["status.loadBalancer.ingress[0].hostname"], "must be a DNS name, not an IP address")),
        ];
        for (label, object, expected) in rows {
            check(label, admit_status_update(resource("services"), object, &old, FieldValidation::Strict), &expected);
        }
        let cluster_ip = allocated(service("web"), "10.96.1.6");
        let object = with(cluster_ip.clone(), "/status/loadBalancer/ingress", json!([{"ip": "192.168.1.10"}]));
        check("ingress on ClusterIP", admit_status_update(resource("services"), object, &cluster_ip, FieldValidation::Strict),
            &invalid(&["status.loadBalancer.ingress"], "may only be used when `spec.type` is 'LoadBalancer'"));
    }
}
