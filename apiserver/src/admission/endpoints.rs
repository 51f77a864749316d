//! Endpoints: `SetDefaults_EndpointPort` (TCP) and `ValidateEndpoints` (every subset has
//! addresses, valid and not special; ports valid and named when there are several).

use k8s_openapi::api::core::v1::{EndpointAddress, Endpoints};

use super::field::{Causes, Path};
use super::names;
use super::service::validate_non_special_ip;
use super::{Context, TypedKind};

const PROTOCOLS: &[&str] = &["SCTP", "TCP", "UDP"];

impl TypedKind for Endpoints {
    fn apply_defaults(&mut self) {
        for subset in self.subsets.iter_mut().flatten() {
            for port in subset.ports.iter_mut().flatten() {
                if port.protocol.as_deref().unwrap_or_default().is_empty() {
                    port.protocol = Some("TCP".into());
                }
            }
        }
    }

    fn validate(&self, _context: &Context, causes: &mut Causes) {
        let path = Path::new("subsets");
        for (index, subset) in self.subsets.iter().flatten().enumerate() {
            let subset_path = path.index(index);
            let addresses = subset.addresses.as_deref().unwrap_or_default();
            let not_ready = subset.not_ready_addresses.as_deref().unwrap_or_default();
            if addresses.is_empty() && not_ready.is_empty() {
                causes.required(&subset_path, "must specify `addresses` or `notReadyAddresses`");
            }
            for (field, list) in [("addresses", addresses), ("notReadyAddresses", not_ready)] {
                for (address_index, address) in list.iter().enumerate() {
                    validate_address(address, &subset_path.child(field).index(address_index), causes);
                }
            }
            let ports = subset.ports.as_deref().unwrap_or_default();
            for (port_index, port) in ports.iter().enumerate() {
                let port_path = subset_path.child("ports").index(port_index);
                let name = port.name.as_deref().unwrap_or_default();
                if ports.len() > 1 && name.is_empty() {
                    causes.required(&port_path.child("name"), "");
                } else if !name.is_empty() {
                    causes.invalid_each(&port_path.child("name"), name, names::dns1123_label(name));
                }
                for message in names::port_number(port.port.into()) {
                    causes.invalid(&port_path.child("port"), port.port, &message);
                }
                match port.protocol.as_deref().unwrap_or_default() {
                    "" => causes.required(&port_path.child("protocol"), ""),
                    protocol if PROTOCOLS.contains(&protocol) => {}
                    other => causes.not_supported(&port_path.child("protocol"), other, PROTOCOLS),
                }
                if let Some(app_protocol) = port.app_protocol.as_deref() {
                    causes.invalid_each(&port_path.child("appProtocol"), app_protocol, names::qualified_name(app_protocol));
                }
            }
        }
    }
}

fn validate_address(address: &EndpointAddress, path: &Path, causes: &mut Causes) {
    let ip_path = path.child("ip");
    if !names::is_ip(&address.ip) {
        causes.invalid(&ip_path, address.ip.as_str(), names::IP_MESSAGE);
    }
    if let Some(hostname) = address.hostname.as_deref().filter(|hostname| !hostname.is_empty()) {
        causes.invalid_each(&path.child("hostname"), hostname, names::dns1123_label(hostname));
    }
    if let Some(node_name) = address.node_name.as_deref() {
        causes.invalid_each(&path.child("nodeName"), node_name, names::dns1123_subdomain(node_name));
    }
    validate_non_special_ip(&address.ip, &ip_path, causes);
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::test_support::*;

    #[test]
    fn endpoints_validation() {
        let rows: Vec<(&str, serde_json::Value, Outcome)> = vec![
            ("valid", endpoints("web"), Outcome::Admitted),
            ("no subsets", without(endpoints("web"), "/subsets"), Outcome::Admitted),
            ("no addresses", with(endpoints("web"), "/subsets/0", json!({"ports": [{"port": 80}]})), invalid(&["subsets[0]"], "subsets[0]: Required value: must specify `addresses` or `notReadyAddresses`")),
            ("not ready only", with(endpoints("web"), "/subsets/0", json!({"notReadyAddresses": [{"ip": "10.244.1.6"}]})), Outcome::Admitted),
            ("bad IP", with(endpoints("web"), "/subsets/0/addresses/0/ip", json!("10.244.1")), invalid(&["subsets[0].addresses[0].ip", "subsets[0].addresses[0].ip"], "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)")),
            ("loopback", with(endpoints("web"), "/subsets/0/addresses/0/ip", json!("127.0.0.1")), invalid(&["subsets[0].addresses[0].ip"], "may not be in the loopback range (127.0.0.0/8, ::1/128)")),
            ("link local", with(endpoints("web"), "/subsets/0/addresses/0/ip", json!("169.254.1.1")), invalid(&["subsets[0].addresses[0].ip"], "may not be in the link-local range")),
            ("port range", with(endpoints("web"), "/subsets/0/ports/0/port", json!(70000)), invalid(&["subsets[0].ports[0].port"], "must be between 1 and 65535, inclusive")),
            ("port names", with(endpoints("web"), "/subsets/0/ports/1", json!({"port": 8443})), invalid(&["subsets[0].ports[0].name", "subsets[0].ports[1].name"], "Required value")),
            ("protocol", with(endpoints("web"), "/subsets/0/ports/0/protocol", json!("HTTP")), invalid(&["subsets[0].ports[0].protocol"], "Unsupported value: \"HTTP\"")),
            ("hostname", with(endpoints("web"), "/subsets/0/addresses/0/hostname", json!("web.1")), invalid(&["subsets[0].addresses[0].hostname"], "must not contain dots")),
        ];
        run_create("endpoints", rows);
        let admitted = admitted(resource("endpoints"), endpoints("web"));
        assert_eq!(admitted["subsets"][0]["ports"][0]["protocol"], "TCP");
    }
}
