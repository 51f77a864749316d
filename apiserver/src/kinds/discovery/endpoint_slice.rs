//! `EndpointSlice` (`discovery.k8s.io/v1`, namespaced): a slice of a Service's endpoints, of one
//! address type. Its declaration, its defaults (`SetDefaults_EndpointPort`), its validation
//! (`ValidateEndpointSliceCreate`, `ValidateEndpointSliceUpdate` in
//! `pkg/apis/discovery/validation`: the address type is immutable, at most 1000 endpoints) and
//! its printer (`printEndpointSlice`). Nothing here writes slices: there is no slice controller.

use std::collections::BTreeSet;

use k8s_openapi::api::discovery::v1::{Endpoint, EndpointPort, EndpointSlice};
use serde_json::{Value, json};

use crate::admission::field::{Causes, Path};
use crate::admission::service::validate_non_special_ip;
use crate::admission::{Context, Typed, TypedKind};
use crate::cause::Cause;
use crate::printers::{self, AGE, NAME, Column, Printer, list};
use crate::registry::Kind;
use crate::resources::ResourceType;

pub static KIND: Kind = Kind {
    resource: ResourceType::builtin("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices", "endpointslice").namespaced(),
    strategy: &STRATEGY,
    printer: Some(&PRINTER),
};

static STRATEGY: Typed<EndpointSlice> = Typed::new();

const MAX_ENDPOINTS: usize = 1000;
const MAX_ADDRESSES: usize = 100;
const MAX_PORTS: usize = 20000;

/// `supportedAddressTypes`, sorted; an update also accepts the deprecated `IP`.
const ADDRESS_TYPES: &[&str] = &["FQDN", "IPv4", "IPv6"];
const ADDRESS_TYPES_ON_UPDATE: &[&str] = &["FQDN", "IP", "IPv4", "IPv6"];
const PROTOCOLS: &[&str] = &["SCTP", "TCP", "UDP"];

impl TypedKind for EndpointSlice {
    /// A port without a protocol is TCP's, and one without a name has the empty name.
    fn apply_defaults(&mut self) {
        for port in self.ports.iter_mut().flatten() {
            port.protocol.get_or_insert_with(|| "TCP".into());
            port.name.get_or_insert_with(String::new);
        }
    }

    fn validate(&self, _context: &Context, causes: &mut Causes) {
        validate_slice(self, ADDRESS_TYPES, causes);
    }

    fn validate_update(&self, old: &Self, _context: &Context, causes: &mut Causes) {
        validate_slice(self, ADDRESS_TYPES_ON_UPDATE, causes);
        if self.address_type != old.address_type {
            causes.immutable(&Path::new("addressType"), self.address_type.as_str());
        }
    }
}

/// `ValidateEndpointSlice`.
fn validate_slice(slice: &EndpointSlice, address_types: &[&str], causes: &mut Causes) {
    let address_type = slice.address_type.as_str();
    if address_type.is_empty() {
        causes.required(&Path::new("addressType"), "");
    } else if !address_types.contains(&address_type) {
        causes.not_supported(&Path::new("addressType"), address_type, address_types);
    }
    validate_endpoints(&slice.endpoints, address_type, &Path::new("endpoints"), causes);
    validate_ports(slice.ports.as_deref().unwrap_or_default(), &Path::new("ports"), causes);
}

fn validate_endpoints(endpoints: &[Endpoint], address_type: &str, path: &Path, causes: &mut Causes) {
    if endpoints.len() > MAX_ENDPOINTS {
        return causes.push(Cause::too_many(path.to_string(), endpoints.len(), MAX_ENDPOINTS as i64));
    }
    for (index, endpoint) in endpoints.iter().enumerate() {
        let addresses_path = path.index(index).child("addresses");
        if endpoint.addresses.is_empty() {
            causes.required(&addresses_path, "must contain at least 1 address");
        } else if endpoint.addresses.len() > MAX_ADDRESSES {
            causes.push(Cause::too_many(addresses_path.to_string(), endpoint.addresses.len(), MAX_ADDRESSES as i64));
        }
        for (address_index, address) in endpoint.addresses.iter().enumerate() {
            validate_address(address, address_type, &addresses_path.index(address_index), causes);
        }
        if let Some(hostname) = &endpoint.hostname {
            causes.invalid_each(&path.index(index).child("hostname"), hostname, common::names::dns1123_label(hostname));
        }
    }
}

/// An address of the slice's type (unknown types are not checked, as in kube).
fn validate_address(address: &str, address_type: &str, path: &Path, causes: &mut Causes) {
    let parsed = common::names::parse_ip(address);
    match address_type {
        "IPv4" | "IPv6" => {
            let family_matches = parsed.is_some_and(|ip| ip.is_ipv4() == (address_type == "IPv4"));
            if !family_matches {
                causes.invalid(path, address, &format!("must be a valid {address_type} address"));
            }
            validate_non_special_ip(address, path, causes);
        }
        "IP" if parsed.is_none() => {
            causes.invalid(path, address, "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)");
        }
        "FQDN" => {
            if address.split('.').filter(|label| !label.is_empty()).count() < 2 {
                causes.invalid(path, address, "should be a domain with at least two segments separated by dots");
            }
            causes.invalid_each(path, address, common::names::dns1123_subdomain(address.trim_end_matches('.')));
        }
        _ => {}
    }
}

fn validate_ports(ports: &[EndpointPort], path: &Path, causes: &mut Causes) {
    if ports.len() > MAX_PORTS {
        return causes.push(Cause::too_many(path.to_string(), ports.len(), MAX_PORTS as i64));
    }
    let mut names = BTreeSet::new();
    for (index, port) in ports.iter().enumerate() {
        let port_path = path.index(index);
        let name = port.name.as_deref().unwrap_or_default();
        if !name.is_empty() {
            causes.invalid_each(&port_path.child("name"), name, common::names::dns1123_label(name));
        }
        if !names.insert(name) {
            causes.duplicate(&port_path.child("name"), name);
        }
        match port.protocol.as_deref() {
            None => causes.required(&port_path.child("protocol"), ""),
            Some(protocol) if !PROTOCOLS.contains(&protocol) => causes.not_supported(&port_path.child("protocol"), protocol, PROTOCOLS),
            Some(_) => {}
        }
        if let Some(app_protocol) = &port.app_protocol {
            causes.invalid_each(&port_path.child("appProtocol"), app_protocol, common::names::qualified_name(app_protocol));
        }
    }
}

static PRINTER: Printer = Printer {
    columns: &[
        NAME,
        Column::new("AddressType", "string", 0, "addressType specifies the type of address carried by this EndpointSlice. All addresses in this slice must be the same type."),
        Column::new("Ports", "string", 0, "ports specifies the list of network ports exposed by each endpoint in this slice."),
        Column::new("Endpoints", "string", 0, "endpoints is a list of unique endpoints in this slice."),
        AGE,
    ],
    cells,
};

/// `printEndpointSlice`'s row.
fn cells(slice: &Value) -> Vec<Value> {
    let ports = list(slice, "/ports").iter().map(|port| match (port.get("port").and_then(Value::as_i64), port.get("name").and_then(Value::as_str)) {
        (Some(number), _) => number.to_string(),
        (None, Some(name)) => name.to_string(),
        (None, None) => "*".to_string(),
    });
    let addresses = list(slice, "/endpoints").iter().flat_map(|endpoint| endpoint.get("addresses").and_then(Value::as_array).into_iter().flatten());
    let addresses = addresses.map(|address| address.as_str().unwrap_or_default().to_string());
    vec![
        printers::name(slice),
        json!(printers::text(slice, "/addressType")),
        json!(first_three(ports.collect())),
        json!(first_three(addresses.collect())),
        printers::age_of(slice),
    ]
}

/// `listWithMoreString`: three items, how many more, and `<unset>` for none.
fn first_three(items: Vec<String>) -> String {
    match items.len() {
        0 => "<unset>".to_string(),
        1..=3 => items.join(","),
        count => format!("{} + {} more...", items[..3].join(","), count - 3),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admission::test_support::*;

    fn slice(name: &str) -> Value {
        json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "metadata": {"name": name, "namespace": "demo"},
            "addressType": "IPv4", "endpoints": [{"addresses": ["10.244.1.5"]}], "ports": [{"name": "http", "port": 80}]})
    }

    #[test]
    fn ports_default_to_tcp() {
        let admitted = admitted(resource("endpointslices"), slice("web-abc"));
        assert_eq!(admitted["ports"], json!([{"name": "http", "port": 80, "protocol": "TCP"}]));
    }

    #[test]
    fn bad_slices_get_kube_apiservers_causes() {
        let many: Vec<Value> = (0..1001).map(|index| json!({"addresses": [format!("10.0.{}.{}", index / 250, index % 250 + 1)]})).collect();
        let rows: Vec<(&str, Value, Outcome)> = vec![
            ("an FQDN slice", with(with(slice("web"), "/addressType", json!("FQDN")), "/endpoints/0/addresses/0", json!("web.example.com")), Outcome::Admitted),
            ("no address type", without(slice("web"), "/addressType"), invalid(&["addressType"], "Required value")),
            ("the deprecated IP type", with(slice("web"), "/addressType", json!("IP")),
             invalid(&["addressType"], "Unsupported value: \"IP\": supported values: \"FQDN\", \"IPv4\", \"IPv6\"")),
            ("an IPv6 address", with(slice("web"), "/endpoints/0/addresses/0", json!("fd00::1")), invalid(&["endpoints[0].addresses[0]"], "must be a valid IPv4 address")),
            ("no addresses", with(slice("web"), "/endpoints/0/addresses", json!([])), invalid(&["endpoints[0].addresses"], "Required value: must contain at least 1 address")),
            ("1001 endpoints", with(slice("web"), "/endpoints", json!(many)), invalid(&["endpoints"], "Too many: 1001: must have at most 1000 items")),
            ("two unnamed ports", with(without(slice("web"), "/ports/0/name"), "/ports/1", json!({"port": 81})), invalid(&["ports[1].name"], "Duplicate value: \"\"")),
        ];
        run_create("endpointslices", rows);
    }

    #[test]
    fn the_address_type_is_immutable() {
        let stored = admitted(resource("endpointslices"), slice("web"));
        let rows: Vec<(&str, Value, Outcome)> = vec![
            ("new endpoints", with(stored.clone(), "/endpoints/0/addresses/0", json!("10.244.2.7")), Outcome::Admitted),
            ("IPv6", with(with(stored.clone(), "/addressType", json!("IPv6")), "/endpoints/0/addresses/0", json!("fd00::1")),
             invalid(&["addressType"], "Invalid value: \"IPv6\": field is immutable")),
        ];
        run_update("endpointslices", &stored, rows);
    }

    #[test]
    fn a_slice_prints_as_kubectl_shows_it() {
        assert_eq!(printers::row_of("EndpointSlice", &slice("web"))[..4], [json!("web"), json!("IPv4"), json!("80"), json!("10.244.1.5")]);
        let busy = json!({"metadata": {"name": "busy"}, "addressType": "IPv4", "ports": [{"name": "http"}, {}, {"port": 1}, {"port": 2}],
            "endpoints": [{"addresses": ["10.0.0.1", "10.0.0.2"]}, {"addresses": ["10.0.0.3", "10.0.0.4", "10.0.0.5"]}]});
        assert_eq!(printers::row_of("EndpointSlice", &busy)[2..4], [json!("http,*,1 + 1 more..."), json!("10.0.0.1,10.0.0.2,10.0.0.3 + 2 more...")]);
        let empty = json!({"metadata": {"name": "empty"}, "addressType": "IPv4", "endpoints": []});
        assert_eq!(printers::row_of("EndpointSlice", &empty)[2..4], [json!("<unset>"), json!("<unset>")]);
    }
}
