//! `Endpoints`: its declaration; its strategy is the typed one (`admission::endpoints`).

use serde_json::{Value, json};
use k8s_openapi::api::core::v1::Endpoints;

use crate::admission::Typed;
use crate::registry::Kind;
use crate::resources::ResourceType;
use crate::printers::{self, NAME, AGE, Column, Printer, list};

static STRATEGY: Typed<Endpoints> = Typed::new();

pub static KIND: Kind = Kind {
    resource: ResourceType::builtin("", "v1", "Endpoints", "endpoints", "endpoints")
        .namespaced()
        .short_names(&["ep"]),
    strategy: &STRATEGY,
    printer: Some(&PRINTER),
};

static PRINTER: Printer = Printer {
    columns: &[NAME, Column::new("Endpoints", "string", 0, "Endpoints of the service."), AGE],
    cells: |endpoints| vec![printers::name(endpoints), json!(endpoints_cell(endpoints)), printers::age_of(endpoints)],
};

/// kubectl's ENDPOINTS column: ports outside, addresses inside, `[v6]:port`, at most three and
/// then `+ N more...`; `<none>` only when there are no subsets at all.
fn endpoints_cell(object: &Value) -> String {
    const SHOWN: usize = 3;
    let subsets = list(object, "/subsets");
    if subsets.is_empty() {
        return "<none>".into();
    }
    let mut shown = Vec::new();
    let mut count = 0;
    for subset in subsets {
        let addresses: Vec<&str> = list(subset, "/addresses").iter().filter_map(|address| address.get("ip").and_then(Value::as_str)).collect();
        let ports: Vec<i64> = list(subset, "/ports").iter().filter_map(|port| port.get("port").and_then(Value::as_i64)).collect();
        let entries: Vec<String> = if ports.is_empty() {
            addresses.iter().map(|ip| ip.to_string()).collect()
        } else {
            ports
                .iter()
                .flat_map(|port| addresses.iter().map(move |ip| if ip.contains(':') { format!("[{ip}]:{port}") } else { format!("{ip}:{port}") }))
                .collect()
        };
        count += entries.len();
        shown.extend(entries.into_iter().take(SHOWN.saturating_sub(shown.len())));
    }
    let text = shown.join(",");
    if count > SHOWN { format!("{text} + {} more...", count - SHOWN) } else { text }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_show_three_then_how_many_more() {
        let endpoints = json!({"subsets": [{"addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}, {"ip": "fd00::3"}], "ports": [{"port": 80}, {"port": 443}]}]});
        assert_eq!(endpoints_cell(&endpoints), "10.0.0.1:80,10.0.0.2:80,[fd00::3]:80 + 3 more...");
        assert_eq!(endpoints_cell(&json!({"subsets": [{"notReadyAddresses": [{"ip": "10.0.0.1"}], "ports": [{"port": 80}]}]})), "");
        assert_eq!(endpoints_cell(&json!({})), "<none>");
    }
}
