//! `NetworkPolicy` (`networking.k8s.io/v1`, namespaced): which traffic may reach and leave the
//! pods a selector picks. Spark's submission client writes one per application. Its
//! declaration, its defaults (`SetDefaults_NetworkPolicy`, `SetDefaults_NetworkPolicyPort`), its
//! validation (`ValidateNetworkPolicySpec`) and its printer (`printNetworkPolicy`). Enforcing the
//! policies is a network plugin's work, which clusters without one (kind's default) skip too.

use k8s_openapi::api::networking::v1::{NetworkPolicy, NetworkPolicyPeer, NetworkPolicyPort};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde_json::{Value, json};

use crate::admission::deployment::validate_label_selector;
use crate::admission::field::{Causes, Path};
use crate::admission::pod_spec::validate_port_number_or_name;
use crate::admission::{Context, Typed, TypedKind};
use crate::printers::{self, AGE, NAME, Column, Printer};
use crate::registry::Kind;
use crate::resources::ResourceType;

pub static KIND: Kind = Kind {
    resource: ResourceType::builtin("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", "networkpolicy")
        .namespaced()
        .short_names(&["netpol"])
        .tracks_generation(),
    strategy: &STRATEGY,
    printer: Some(&PRINTER),
};

static STRATEGY: Typed<NetworkPolicy> = Typed::new();

const INGRESS: &str = "Ingress";
const EGRESS: &str = "Egress";
const PROTOCOLS: &[&str] = &["SCTP", "TCP", "UDP"];

impl TypedKind for NetworkPolicy {
    /// Ports speak TCP unless they say otherwise; a policy without types is an ingress policy,
    /// and an egress one too when it has egress rules.
    fn apply_defaults(&mut self) {
        let Some(spec) = self.spec.as_mut() else { return };
        let rules_ports = spec.ingress.iter_mut().flatten().flat_map(|rule| rule.ports.iter_mut().flatten());
        let egress_ports = spec.egress.iter_mut().flatten().flat_map(|rule| rule.ports.iter_mut().flatten());
        for port in rules_ports.chain(egress_ports) {
            port.protocol.get_or_insert_with(|| "TCP".into());
        }
        if spec.policy_types.as_ref().is_none_or(Vec::is_empty) {
            let mut types = vec![INGRESS.to_string()];
            if spec.egress.as_ref().is_some_and(|rules| !rules.is_empty()) {
                types.push(EGRESS.to_string());
            }
            spec.policy_types = Some(types);
        }
    }

    /// `ValidateNetworkPolicySpec`.
    fn validate(&self, _context: &Context, causes: &mut Causes) {
        let spec = self.spec.clone().unwrap_or_default();
        let path = Path::new("spec");
        if let Some(selector) = &spec.pod_selector {
            validate_label_selector(selector, &path.child("podSelector"), causes);
        }
        // Both directions' rules: their ports, and their peers (`from` and `to`).
        let ingress: Vec<_> = spec.ingress.iter().flatten().map(|rule| (&rule.ports, &rule.from)).collect();
        let egress: Vec<_> = spec.egress.iter().flatten().map(|rule| (&rule.ports, &rule.to)).collect();
        for (direction, peers_field, rules) in [("ingress", "from", ingress), ("egress", "to", egress)] {
            for (i, (ports, peers)) in rules.into_iter().enumerate() {
                let rule_path = path.child(direction).index(i);
                for (j, port) in ports.iter().flatten().enumerate() {
                    validate_port(port, &rule_path.child("ports").index(j), causes);
                }
                for (j, peer) in peers.iter().flatten().enumerate() {
                    validate_peer(peer, &rule_path.child(peers_field).index(j), causes);
                }
            }
        }
        let types = spec.policy_types.unwrap_or_default();
        for (i, policy_type) in types.iter().enumerate() {
            if policy_type != INGRESS && policy_type != EGRESS {
                causes.not_supported(&path.child("policyType").index(i), policy_type.as_str(), &[EGRESS, INGRESS]);
            }
        }
        if types.len() > 2 {
            causes.invalid(&path.child("policyTypes"), json!(types), "may not specify more than two policyTypes");
        }
    }
}

/// `ValidateNetworkPolicyPort`.
fn validate_port(port: &NetworkPolicyPort, path: &Path, causes: &mut Causes) {
    if let Some(protocol) = port.protocol.as_deref().filter(|protocol| !PROTOCOLS.contains(protocol)) {
        causes.not_supported(&path.child("protocol"), protocol, PROTOCOLS);
    }
    let Some(number) = port.port.as_ref() else {
        if port.end_port.is_some() {
            causes.required(&path.child("port"), "must specify port when endPort is specified");
        }
        return;
    };
    validate_port_number_or_name(number, &path.child("port"), causes);
    match (number, port.end_port) {
        (IntOrString::String(_), Some(_)) => causes.forbidden(&path.child("endPort"), "may not be specified when `port` is non-numeric"),
        (IntOrString::Int(start), Some(end)) => {
            if end < *start {
                causes.invalid(&path.child("endPort"), end, "must be greater than or equal to `port`");
            }
            for message in common::names::port_number(end.into()) {
                causes.invalid(&path.child("endPort"), end, &message);
            }
        }
        _ => {}
    }
}

/// `ValidateNetworkPolicyPeer`: selectors, or an IP block alone.
fn validate_peer(peer: &NetworkPolicyPeer, path: &Path, causes: &mut Causes) {
    let mut given = 0;
    if let Some(selector) = &peer.pod_selector {
        given += 1;
        validate_label_selector(selector, &path.child("podSelector"), causes);
    }
    if let Some(selector) = &peer.namespace_selector {
        given += 1;
        validate_label_selector(selector, &path.child("namespaceSelector"), causes);
    }
    if let Some(block) = &peer.ip_block {
        given += 1;
        let block_path = path.child("ipBlock");
        match parse_cidr(&block.cidr) {
            None if block.cidr.is_empty() => causes.required(&block_path.child("cidr"), ""),
            None => causes.invalid(&block_path.child("cidr"), block.cidr.as_str(), "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"),
            Some(_) => {
                for (i, except) in block.except.iter().flatten().enumerate() {
                    if parse_cidr(except).is_none() {
                        causes.invalid(&block_path.child("except").index(i), except.as_str(), "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)");
                    }
                }
            }
        }
    }
    if given == 0 {
        causes.required(path, "must specify a peer");
    } else if peer.ip_block.is_some() && given > 1 {
        causes.forbidden(path, "may not specify both ipBlock and another peer");
    }
}

/// An address and a prefix length that fits it (`10.0.0.0/8`, `2001:db8::/64`).
fn parse_cidr(cidr: &str) -> Option<(std::net::IpAddr, u8)> {
    let (address, length) = cidr.split_once('/')?;
    let address: std::net::IpAddr = address.parse().ok()?;
    let length: u8 = length.parse().ok().filter(|_| !length.starts_with('+'))?;
    let max = if address.is_ipv4() { 32 } else { 128 };
    (length <= max).then_some((address, length))
}

static PRINTER: Printer = Printer {
    columns: &[NAME, Column::new("Pod-Selector", "string", 0, "Pod selector of the NetworkPolicy"), AGE],
    cells,
};

/// `printNetworkPolicy`'s row.
fn cells(policy: &Value) -> Vec<Value> {
    vec![printers::name(policy), json!(printers::selector_text(policy.pointer("/spec/podSelector"))), printers::age_of(policy)]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admission::test_support::*;

    fn policy(name: &str) -> Value {
        json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": name, "namespace": "default"},
            "spec": {"podSelector": {"matchLabels": {"app": "spark"}},
                "ingress": [{"from": [{"podSelector": {"matchLabels": {"role": "driver"}}}], "ports": [{"port": 7078}]}]}})
    }

    #[test]
    fn bad_policies_get_kube_apiservers_causes() {
        let rows: Vec<(&str, Value, Outcome)> = vec![
            ("a policy", policy("spark"), Outcome::Admitted),
            ("an IP block", with(policy("spark"), "/spec/egress", json!([{"to": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16"]}}]}])), Outcome::Admitted),
            ("an unknown protocol", with(policy("spark"), "/spec/ingress/0/ports/0/protocol", json!("ICMP")),
             invalid(&["spec.ingress[0].ports[0].protocol"], "Unsupported value: \"ICMP\": supported values: \"SCTP\", \"TCP\", \"UDP\"")),
            ("an end before the start", with(policy("spark"), "/spec/ingress/0/ports/0/endPort", json!(7000)),
             invalid(&["spec.ingress[0].ports[0].endPort"], "Invalid value: 7000: must be greater than or equal to `port`")),
            ("an empty peer", with(policy("spark"), "/spec/ingress/0/from/0", json!({})),
             invalid(&["spec.ingress[0].from[0]"], "Required value: must specify a peer")),
            ("an IP block beside a selector", with(policy("spark"), "/spec/ingress/0/from/0/ipBlock", json!({"cidr": "10.0.0.0/8"})),
             invalid(&["spec.ingress[0].from[0]"], "Forbidden: may not specify both ipBlock and another peer")),
            ("a bad CIDR", with(policy("spark"), "/spec/egress", json!([{"to": [{"ipBlock": {"cidr": "10.0.0.0/33"}}]}])),
             invalid(&["spec.egress[0].to[0].ipBlock.cidr"], "Invalid value: \"10.0.0.0/33\": must be a valid CIDR value")),
            ("an unknown type", with(policy("spark"), "/spec/policyTypes", json!(["Sideways"])),
             invalid(&["spec.policyType[0]"], "Unsupported value: \"Sideways\": supported values: \"Egress\", \"Ingress\"")),
        ];
        run_create("networkpolicies", rows);
    }

    #[test]
    fn types_and_protocols_are_defaulted_as_kube_does() {
        let stored = admitted(resource("networkpolicies"), policy("spark"));
        assert_eq!(stored["spec"]["policyTypes"], json!(["Ingress"]));
        assert_eq!(stored["spec"]["ingress"][0]["ports"][0]["protocol"], json!("TCP"));
        let egress = admitted(resource("networkpolicies"), with(policy("both"), "/spec/egress", json!([{"ports": [{"port": 53, "protocol": "UDP"}]}])));
        assert_eq!(egress["spec"]["policyTypes"], json!(["Ingress", "Egress"]));
        assert_eq!(egress["spec"]["egress"][0]["ports"][0]["protocol"], json!("UDP"));
    }

    #[test]
    fn a_policy_prints_as_kubectl_shows_it() {
        assert_eq!(printers::row_of("NetworkPolicy", &policy("spark"))[..2], [json!("spark"), json!("app=spark")]);
        assert_eq!(printers::row_of("NetworkPolicy", &with(policy("all"), "/spec/podSelector", json!({})))[1], json!("<none>"));
    }
}
