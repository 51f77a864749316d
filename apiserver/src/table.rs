//! Server-side printing: the `meta.k8s.io/v1` `Table` that `kubectl get` asks for
//! (`Accept: application/json;as=Table;v=v1;g=meta.k8s.io`), with the columns kube-apiserver's
//! printers give each kind (priority 1 columns are the `-o wide` extras).

use common::durations::age;
use serde_json::{Value, json};

use crate::meta;
use crate::registry::{Column, Kind};
use crate::resources::{CustomKind, PodSelector, PrinterColumn, ResourceType};

const fn column(name: &'static str, type_: &'static str, priority: u8, description: &'static str) -> Column {
    Column { name, type_, priority, description }
}

fn columns(kind: &str) -> Vec<Column> {
    let name = column("Name", "string", 0, "Name must be unique within a namespace.");
    let age = column("Age", "string", 0, "CreationTimestamp is a timestamp representing the server time when this object was created.");
    match kind {
        "Pod" => vec![
            name,
            column("Ready", "string", 0, "The aggregate readiness state of this pod for accepting traffic."),
            column("Status", "string", 0, "The aggregate status of the containers in this pod."),
            column("Restarts", "string", 0, "The number of times the containers in this pod have been restarted."),
            age,
            column("IP", "string", 1, "IP address allocated to the pod."),
            column("Node", "string", 1, "Name of the node this pod is assigned to."),
            column("Nominated Node", "string", 1, "Name of the node this pod is nominated to."),
            column("Readiness Gates", "string", 1, "Readiness gates of this pod."),
        ],
        "Deployment" => vec![
            name,
            column("Ready", "string", 0, "Number of the pod with ready state"),
            column("Up-to-date", "integer", 0, "Total number of non-terminated pods targeted by this deployment that have the desired template spec."),
            column("Available", "integer", 0, "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment."),
            age,
            column("Containers", "string", 1, "Names of each container in the template."),
            column("Images", "string", 1, "Images referenced by each container in the template."),
            column("Selector", "string", 1, "Label selector for pods."),
        ],
        "ReplicaSet" => vec![
            name,
            column("Desired", "integer", 0, "Number of desired pods."),
            column("Current", "integer", 0, "Number of actual replicas."),
            column("Ready", "integer", 0, "The number of ready replicas for this replica set."),
            age,
            column("Containers", "string", 1, "Names of each container in the template."),
            column("Images", "string", 1, "Images referenced by each container in the template."),
            column("Selector", "string", 1, "Label selector for pods."),
        ],
        // printReplicationController's columns, described by the fields' API documentation.
        "ReplicationController" => vec![
            name,
            column("Desired", "integer", 0, "Replicas is the number of desired replicas. This is a pointer to distinguish between explicit zero and unspecified. Defaults to 1. More info: https://kubernetes.io/docs/concepts/workloads/controllers/replicationcontroller#what-is-a-replicationcontroller"),
            column("Current", "integer", 0, "Replicas is the most recently observed number of replicas. More info: https://kubernetes.io/docs/concepts/workloads/controllers/replicationcontroller#what-is-a-replicationcontroller"),
            column("Ready", "integer", 0, "The number of ready replicas for this replication controller."),
            age,
            column("Containers", "string", 1, "Names of each container in the template."),
            column("Images", "string", 1, "Images referenced by each container in the template."),
            column("Selector", "string", 1, "Selector is a label query over pods that should match the Replicas count. If Selector is empty, it is defaulted to the labels present on the Pod template. Label keys and values that must match in order to be controlled by this replication controller, if empty defaulted to labels on Pod template. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors"),
        ],
        "Service" => vec![
            name,
            column("Type", "string", 0, "The type of service."),
            column("Cluster-IP", "string", 0, "The cluster IP of the service."),
            column("External-IP", "string", 0, "The external IP of the service."),
            column("Port(s)", "string", 0, "The ports of the service."),
            age,
            column("Selector", "string", 1, "Label selector of the service."),
        ],
        "ConfigMap" => vec![name, column("Data", "integer", 0, "Number of data keys."), age],
        "ServiceAccount" => vec![name, column("Secrets", "integer", 0, "Secrets is a list of the secrets in the same namespace that pods running using this ServiceAccount are allowed to use."), age],
        "Secret" => vec![
            name,
            column("Type", "string", 0, "The type of the secret."),
            column("Data", "integer", 0, "Number of data keys."),
            age,
        ],
        "Namespace" => vec![name, column("Status", "string", 0, "The status of the namespace."), age],
        "Node" => vec![
            name,
            column("Status", "string", 0, "The status of the node."),
            column("Roles", "string", 0, "The roles of the node."),
            age,
            column("Version", "string", 0, "Kubelet Version reported by the node."),
            column("Internal-IP", "string", 1, "List of internal IPs for the node."),
            column("External-IP", "string", 1, "List of external IPs for the node."),
            column("OS-Image", "string", 1, "OS image reported by the node."),
            column("Kernel-Version", "string", 1, "Kernel version reported by the node."),
            column("Container-Runtime", "string", 1, "Container runtime and version reported by the node."),
        ],
        "Endpoints" => vec![name, column("Endpoints", "string", 0, "Endpoints of the service."), age],
        "Event" => vec![
            column("Last Seen", "string", 0, "Time of the last occurrence."),
            column("Type", "string", 0, "Type of the event."),
            column("Reason", "string", 0, "Reason of the event."),
            column("Object", "string", 0, "The object this event is about."),
            column("Message", "string", 0, "A human-readable description of the event."),
        ],
        "Lease" => vec![name, column("Holder", "string", 0, "The holder of the lease."), age],
        _ => vec![name, age],
    }
}

/// The Table of `objects`, each row carrying the object itself so that clients can print it
/// in any other form too.
pub fn table(kind: &Kind, objects: &[Value], list_metadata: Value) -> Value {
    if let Some(custom) = kind.custom.as_deref() {
        return custom_table(custom, objects, list_metadata);
    }
    if let Some(printer) = kind.printer {
        return render(printer.columns, objects, printer.cells, list_metadata);
    }
    let resource = &kind.resource;
    render(&columns(&resource.kind), objects, |object| cells(resource, object), list_metadata)
}

/// The Table of `objects` with these columns, `cells` giving each row's.
fn render(columns: &[Column], objects: &[Value], cells: impl Fn(&Value) -> Vec<Value>, list_metadata: Value) -> Value {
    let definitions: Vec<Value> = columns
        .iter()
        .map(|column| {
            let format = if column.name == "Name" { "name" } else { "" };
            json!({"name": column.name, "type": column.type_, "format": format, "description": column.description, "priority": column.priority})
        })
        .collect();
    let rows: Vec<Value> = objects.iter().map(|object| json!({"cells": cells(object), "object": object})).collect();
    json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": list_metadata, "columnDefinitions": definitions, "rows": rows})
}

/// A custom kind's Table: Name and the definition's `additionalPrinterColumns`, or Name and
/// Age when it declares none, as kube-apiserver's custom resource table convertor prints them.
fn custom_table(custom: &CustomKind, objects: &[Value], list_metadata: Value) -> Value {
    let age = PrinterColumn {
        name: "Age".into(),
        type_: "date".into(),
        format: String::new(),
        description: String::new(),
        priority: 0,
        json_path: ".metadata.creationTimestamp".into(),
    };
    let declared: Vec<&PrinterColumn> = if custom.printer_columns.is_empty() { vec![&age] } else { custom.printer_columns.iter().collect() };
    let mut definitions = vec![json!({"name": "Name", "type": "string", "format": "name", "description": "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names", "priority": 0})];
    definitions.extend(declared.iter().map(|column| json!({"name": column.name, "type": column.type_, "format": column.format, "description": column.description, "priority": column.priority})));
    let rows: Vec<Value> = objects
        .iter()
        .map(|object| {
            let mut cells = vec![json!(meta::name(object).unwrap_or_default())];
            cells.extend(declared.iter().map(|column| custom_cell(column, object)));
            json!({"cells": cells, "object": object})
        })
        .collect();
    json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": list_metadata, "columnDefinitions": definitions, "rows": rows})
}

/// One cell: the first value the column's path finds, as its type prints it (`null` when none,
/// which kubectl shows as `<none>`).
fn custom_cell(column: &PrinterColumn, object: &Value) -> Value {
    let Some(value) = crate::jsonpath::find(object, &column.json_path).ok().and_then(|found| found.first().copied()) else { return Value::Null };
    match (column.type_.as_str(), value) {
        ("date", Value::String(time)) => json!(age(Some(time))),
        ("integer", Value::Number(number)) => number.as_i64().map_or_else(|| json!(number.as_f64().map(|float| float as i64)), |integer| json!(integer)),
        ("string", Value::String(text)) => json!(text),
        ("string", other) => json!(other.to_string()),
        (_, other) => other.clone(),
    }
}

fn text<'a>(object: &'a Value, pointer: &str) -> &'a str {
    object.pointer(pointer).and_then(Value::as_str).unwrap_or_default()
}

fn number(object: &Value, pointer: &str) -> i64 {
    object.pointer(pointer).and_then(Value::as_i64).unwrap_or(0)
}

fn list<'a>(object: &'a Value, pointer: &str) -> &'a [Value] {
    object.pointer(pointer).and_then(Value::as_array).map_or(&[], Vec::as_slice)
}

fn or_none(text: String) -> String {
    if text.is_empty() { "<none>".to_string() } else { text }
}

fn cells(resource: &ResourceType, object: &Value) -> Vec<Value> {
    let kind: &str = &resource.kind;
    let name = json!(meta::name(object).unwrap_or_default());
    let age_cell = json!(age(meta::string(object, "creationTimestamp")));
    match kind {
        "Pod" => {
            let statuses = list(object, "/status/containerStatuses");
            let ready = statuses.iter().filter(|status| status.get("ready").and_then(Value::as_bool) == Some(true)).count();
            let total = list(object, "/spec/containers").len();
            let restarts: i64 = statuses.iter().map(|status| status.get("restartCount").and_then(Value::as_i64).unwrap_or(0)).sum();
            let waiting = statuses
                .iter()
                .find_map(|status| status.pointer("/state/waiting/reason").and_then(Value::as_str))
                .map(str::to_string);
            let status = if meta::is_being_deleted(object) {
                "Terminating".to_string()
            } else {
                waiting.or_else(|| object.pointer("/status/reason").and_then(Value::as_str).map(str::to_string)).unwrap_or_else(|| {
                    let phase = text(object, "/status/phase");
                    if phase.is_empty() { "Pending".to_string() } else { phase.to_string() }
                })
            };
            vec![
                name,
                json!(format!("{ready}/{total}")),
                json!(status),
                json!(restarts.to_string()),
                age_cell,
                json!(or_none(text(object, "/status/podIP").to_string())),
                json!(or_none(text(object, "/spec/nodeName").to_string())),
                json!(or_none(text(object, "/status/nominatedNodeName").to_string())),
                json!("<none>"),
            ]
        }
        "Deployment" | "ReplicaSet" | "ReplicationController" => {
            let containers = list(object, "/spec/template/spec/containers");
            let names: Vec<&str> = containers.iter().map(|c| c.get("name").and_then(Value::as_str).unwrap_or_default()).collect();
            let images: Vec<&str> = containers.iter().map(|c| c.get("image").and_then(Value::as_str).unwrap_or_default()).collect();
            let selector = match resource.pod_selector {
                // A plain label map, as `labels.FormatLabels` prints it.
                PodSelector::LabelMap => or_none(label_map_text(object.pointer("/spec/selector"))),
                PodSelector::LabelSelector | PodSelector::None => selector_text(object.pointer("/spec/selector")),
            };
            let desired = number(object, "/spec/replicas");
            let mut row = if kind == "Deployment" {
                vec![
                    name,
                    json!(format!("{}/{desired}", number(object, "/status/readyReplicas"))),
                    json!(number(object, "/status/updatedReplicas")),
                    json!(number(object, "/status/availableReplicas")),
                ]
            } else {
                vec![
                    name,
                    json!(desired),
                    json!(number(object, "/status/replicas")),
                    json!(number(object, "/status/readyReplicas")),
                ]
            };
            row.extend([age_cell, json!(names.join(",")), json!(images.join(",")), json!(selector)]);
            row
        }
        "Service" => {
            let ports: Vec<String> = list(object, "/spec/ports")
                .iter()
                .map(|port| {
                    let number = port.get("port").and_then(Value::as_i64).unwrap_or(0);
                    let protocol = port.get("protocol").and_then(Value::as_str).unwrap_or("TCP");
                    match port.get("nodePort").and_then(Value::as_i64) {
                        Some(node_port) => format!("{number}:{node_port}/{protocol}"),
                        None => format!("{number}/{protocol}"),
                    }
                })
                .collect();
            let service_type = text(object, "/spec/type");
            let external = match service_type {
                "ExternalName" => text(object, "/spec/externalName").to_string(),
                "LoadBalancer" => "<pending>".to_string(),
                _ => "<none>".to_string(),
            };
            let selector = label_map_text(object.pointer("/spec/selector"));
            vec![
                name,
                json!(service_type),
                json!(or_none(text(object, "/spec/clusterIP").to_string())),
                json!(external),
                json!(or_none(ports.join(","))),
                age_cell,
                json!(or_none(selector)),
            ]
        }
        "ConfigMap" => {
            let count = map_len(object, "/data") + map_len(object, "/binaryData");
            vec![name, json!(count), age_cell]
        }
        "Secret" => vec![name, json!(text(object, "/type")), json!(map_len(object, "/data")), age_cell],
        "ServiceAccount" => vec![name, json!(list(object, "/secrets").len()), age_cell],
        "Namespace" => vec![name, json!(text(object, "/status/phase")), age_cell],
        "Node" => {
            let ready = list(object, "/status/conditions")
                .iter()
                .find(|condition| condition.get("type").and_then(Value::as_str) == Some("Ready"))
                .and_then(|condition| condition.get("status").and_then(Value::as_str));
            let mut status = match ready {
                Some("True") => "Ready".to_string(),
                _ => "NotReady".to_string(),
            };
            if object.pointer("/spec/unschedulable").and_then(Value::as_bool) == Some(true) {
                status.push_str(",SchedulingDisabled");
            }
            let roles: Vec<String> = meta::labels(object)
                .keys()
                .filter_map(|key| key.strip_prefix("node-role.kubernetes.io/").map(str::to_string))
                .collect();
            let address = |kind: &str| {
                list(object, "/status/addresses")
                    .iter()
                    .filter(|address| address.get("type").and_then(Value::as_str) == Some(kind))
                    .filter_map(|address| address.get("address").and_then(Value::as_str))
                    .collect::<Vec<_>>()
                    .join(",")
            };
            vec![
                name,
                json!(status),
                json!(or_none(roles.join(","))),
                age_cell,
                json!(text(object, "/status/nodeInfo/kubeletVersion")),
                json!(or_none(address("InternalIP"))),
                json!(or_none(address("ExternalIP"))),
                json!(text(object, "/status/nodeInfo/osImage")),
                json!(text(object, "/status/nodeInfo/kernelVersion")),
                json!(text(object, "/status/nodeInfo/containerRuntimeVersion")),
            ]
        }
        "Endpoints" => vec![name, json!(endpoints_cell(object)), age_cell],
        "Event" => {
            let last = meta::string(object, "creationTimestamp");
            let last = object.get("lastTimestamp").and_then(Value::as_str).or(last);
            let involved = format!(
                "{}/{}",
                text(object, "/involvedObject/kind").to_ascii_lowercase(),
                text(object, "/involvedObject/name")
            );
            vec![
                json!(age(last)),
                json!(text(object, "/type")),
                json!(text(object, "/reason")),
                json!(involved),
                json!(text(object, "/message")),
            ]
        }
        "Lease" => vec![name, json!(text(object, "/spec/holderIdentity")), age_cell],
        _ => vec![name, age_cell],
    }
}

fn map_len(object: &Value, pointer: &str) -> usize {
    object.pointer(pointer).and_then(Value::as_object).map_or(0, serde_json::Map::len)
}

/// A label map as `k=v,k2=v2`, keys sorted; empty when there is none (`labels.FormatLabels`
/// without its `<none>`).
pub(crate) fn label_map_text(labels: Option<&Value>) -> String {
    let labels: std::collections::BTreeMap<&str, &str> = labels
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(key, value)| (key.as_str(), value.as_str().unwrap_or_default()))
        .collect();
    labels.iter().map(|(key, value)| format!("{key}={value}")).collect::<Vec<_>>().join(",")
}

/// A LabelSelector as `metav1.FormatLabelSelector` prints it (`<none>` when absent).
pub(crate) fn selector_text(selector: Option<&Value>) -> String {
    let Some(selector) = selector else { return "<none>".to_string() };
    let mut parts: Vec<String> = selector
        .get("matchLabels")
        .and_then(Value::as_object)
        .map(|labels| labels.iter().map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default())).collect())
        .unwrap_or_default();
    for expression in selector.get("matchExpressions").and_then(Value::as_array).map_or(&[][..], Vec::as_slice) {
        let key = expression.get("key").and_then(Value::as_str).unwrap_or_default();
        let values: Vec<&str> = expression.get("values").and_then(Value::as_array).map_or(Vec::new(), |v| v.iter().filter_map(Value::as_str).collect());
        let part = match expression.get("operator").and_then(Value::as_str).unwrap_or_default() {
            "In" => format!("{key} in ({})", values.join(",")),
            "NotIn" => format!("{key} notin ({})", values.join(",")),
            "Exists" => key.to_string(),
            "DoesNotExist" => format!("!{key}"),
            other => format!("{key} {other}"),
        };
        parts.push(part);
    }
    if parts.is_empty() { "<none>".to_string() } else { parts.join(",") }
}

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

    /// The row of `object`, a `kind` as declared.
    fn row_of(kind: &str, object: &Value) -> Vec<Value> {
        let resource = crate::kinds::BUILTIN.iter().find(|resource| resource.kind == kind).unwrap_or_else(|| panic!("{kind} is served"));
        cells(&resource.resource, object)
    }

    #[test]
    fn endpoints_show_three_then_how_many_more() {
        let endpoints = json!({"subsets": [{"addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}, {"ip": "fd00::3"}], "ports": [{"port": 80}, {"port": 443}]}]});
        assert_eq!(endpoints_cell(&endpoints), "10.0.0.1:80,10.0.0.2:80,[fd00::3]:80 + 3 more...");
        assert_eq!(endpoints_cell(&json!({"subsets": [{"notReadyAddresses": [{"ip": "10.0.0.1"}], "ports": [{"port": 80}]}]})), "");
        assert_eq!(endpoints_cell(&json!({})), "<none>");
    }

    #[test]
    fn rows_of_a_service_and_a_deployment() {
        let service = json!({"metadata": {"name": "web"}, "spec": {"type": "NodePort", "clusterIP": "10.96.1.2", "ports": [{"port": 80, "nodePort": 30080, "protocol": "TCP"}], "selector": {"app": "web"}}});
        let row = row_of("Service", &service);
        assert_eq!(row[1..5], [json!("NodePort"), json!("10.96.1.2"), json!("<none>"), json!("80:30080/TCP")]);
        let deployment = json!({"metadata": {"name": "web"}, "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}}, "template": {"spec": {"containers": [{"name": "c", "image": "busybox"}]}}}, "status": {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2}});
        let row = row_of("Deployment", &deployment);
        assert_eq!(row[1], json!("2/3"));
        assert_eq!(row[7], json!("app=web"));
    }

    #[test]
    fn rows_of_a_replication_controller() {
        let controller = json!({"metadata": {"name": "web"}, "spec": {"replicas": 3, "selector": {"tier": "front", "app": "web"},
            "template": {"spec": {"containers": [{"name": "a", "image": "busybox"}, {"name": "b", "image": "nginx"}]}}}, "status": {"replicas": 2, "readyReplicas": 1}});
        let row = row_of("ReplicationController", &controller);
        assert_eq!(row.len(), columns("ReplicationController").len());
        assert_eq!(row[..4], [json!("web"), json!(3), json!(2), json!(1)]);
        assert_eq!(row[5..], [json!("a,b"), json!("busybox,nginx"), json!("app=web,tier=front")]);
        let no_selector = json!({"metadata": {"name": "web"}, "spec": {}});
        assert_eq!(row_of("ReplicationController", &no_selector)[7], json!("<none>"));
    }
}
