//! `Node`: its declaration; its strategy is the typed one (`admission::node`).

use serde_json::{Value, json};
use k8s_openapi::api::core::v1::Node;

use crate::admission::Typed;
use crate::registry::Kind;
use crate::resources::ResourceType;
use crate::printers::{self, NAME, AGE, Column, Printer, list, or_none, text};

static STRATEGY: Typed<Node> = Typed::new();

pub static KIND: Kind = Kind {
    resource: ResourceType::builtin("", "v1", "Node", "nodes", "node")
        .short_names(&["no"])
        .subresources(&["status"])
        .selectable_fields(&["spec.unschedulable"]),
    strategy: &STRATEGY,
    printer: Some(&PRINTER),
};

static PRINTER: Printer = Printer {
    columns: &[
        NAME,
        Column::new("Status", "string", 0, "The status of the node."),
        Column::new("Roles", "string", 0, "The roles of the node."),
        AGE,
        Column::new("Version", "string", 0, "Kubelet Version reported by the node."),
        Column::new("Internal-IP", "string", 1, "List of internal IPs for the node."),
        Column::new("External-IP", "string", 1, "List of external IPs for the node."),
        Column::new("OS-Image", "string", 1, "OS image reported by the node."),
        Column::new("Kernel-Version", "string", 1, "Kernel version reported by the node."),
        Column::new("Container-Runtime", "string", 1, "Container runtime and version reported by the node."),
    ],
    cells,
};

/// `printNode`'s row: Ready or NotReady (and SchedulingDisabled when cordoned), the roles its
/// `node-role.kubernetes.io/` labels name, its addresses by type.
fn cells(node: &Value) -> Vec<Value> {
    let ready = list(node, "/status/conditions")
        .iter()
        .find(|condition| condition.get("type").and_then(Value::as_str) == Some("Ready"))
        .and_then(|condition| condition.get("status").and_then(Value::as_str));
    let mut status = match ready {
        Some("True") => "Ready".to_string(),
        _ => "NotReady".to_string(),
    };
    if node.pointer("/spec/unschedulable").and_then(Value::as_bool) == Some(true) {
        status.push_str(",SchedulingDisabled");
    }
    let roles: Vec<&str> = node
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .into_iter()
        .flat_map(|labels| labels.keys())
        .filter_map(|key| key.strip_prefix("node-role.kubernetes.io/"))
        .collect();
    let address = |kind: &str| {
        list(node, "/status/addresses")
            .iter()
            .filter(|address| address.get("type").and_then(Value::as_str) == Some(kind))
            .filter_map(|address| address.get("address").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join(",")
    };
    vec![
        printers::name(node),
        json!(status),
        json!(or_none(roles.join(","))),
        printers::age_of(node),
        json!(text(node, "/status/nodeInfo/kubeletVersion")),
        json!(or_none(address("InternalIP"))),
        json!(or_none(address("ExternalIP"))),
        json!(text(node, "/status/nodeInfo/osImage")),
        json!(text(node, "/status/nodeInfo/kernelVersion")),
        json!(text(node, "/status/nodeInfo/containerRuntimeVersion")),
    ]
}
