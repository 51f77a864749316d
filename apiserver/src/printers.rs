//! What kube-apiserver's printers (`pkg/printers/internalversion`) share: the shape of a
//! kind's server-side Table ([`Printer`], [`Column`]), the Name and Age columns, and the cell
//! formats several kinds print alike. Each kind's printer lives beside its declaration in
//! `kinds/`; `table.rs` renders whichever a kind declares.

use std::collections::BTreeMap;

use common::durations::age;
use serde_json::{Value, json};

/// How a kind prints as a `meta.k8s.io/v1` Table: the column definitions (priority 1 ones are
/// `-o wide`'s) and each object's cells, in the same order.
pub struct Printer {
    pub columns: &'static [Column],
    pub cells: fn(&Value) -> Vec<Value>,
}

pub struct Column {
    pub name: &'static str,
    /// `string`, `integer`, `date`, ...
    pub type_: &'static str,
    pub priority: u8,
    pub description: &'static str,
}

impl Column {
    pub const fn new(name: &'static str, type_: &'static str, priority: u8, description: &'static str) -> Self {
        Self { name, type_, priority, description }
    }
}

/// The Name column as kube's printers describe it (`metav1.ObjectMeta`'s short description).
pub const NAME: Column = Column::new("Name", "string", 0, "Name must be unique within a namespace.");

pub const AGE: Column = Column::new("Age", "string", 0, "CreationTimestamp is a timestamp representing the server time when this object was created.");

/// The wide columns of the kinds that run a pod template.
pub const CONTAINERS: Column = Column::new("Containers", "string", 1, "Names of each container in the template.");
pub const IMAGES: Column = Column::new("Images", "string", 1, "Images referenced by each container in the template.");

/// The Name and Age columns alone: what kube's default table convertor shows of a kind
/// without a printer of its own.
pub static NAME_AND_AGE: Printer = Printer { columns: &[NAME, AGE], cells: |object| vec![name(object), age_of(object)] };

pub fn name(object: &Value) -> Value {
    json!(object.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default())
}

/// The Age cell: how long ago the object was created, as kubectl shows durations.
pub fn age_of(object: &Value) -> Value {
    json!(age(object.pointer("/metadata/creationTimestamp").and_then(Value::as_str)))
}

pub fn text<'a>(object: &'a Value, pointer: &str) -> &'a str {
    object.pointer(pointer).and_then(Value::as_str).unwrap_or_default()
}

pub fn number(object: &Value, pointer: &str) -> i64 {
    object.pointer(pointer).and_then(Value::as_i64).unwrap_or(0)
}

pub fn list<'a>(object: &'a Value, pointer: &str) -> &'a [Value] {
    object.pointer(pointer).and_then(Value::as_array).map_or(&[], Vec::as_slice)
}

pub fn map_len(object: &Value, pointer: &str) -> usize {
    object.pointer(pointer).and_then(Value::as_object).map_or(0, serde_json::Map::len)
}

/// `<none>` for an empty cell, as kube's printers write it.
pub fn or_none(text: String) -> String {
    if text.is_empty() { "<none>".to_string() } else { text }
}

/// The Containers and Images cells of a pod template at `/spec/template`.
pub fn template_containers(object: &Value) -> [Value; 2] {
    let containers = list(object, "/spec/template/spec/containers");
    let field = |field: &str| containers.iter().map(|container| container.get(field).and_then(Value::as_str).unwrap_or_default()).collect::<Vec<_>>().join(",");
    [json!(field("name")), json!(field("image"))]
}

/// The row of a kind that keeps replicas of a pod template (`printReplicaSet`,
/// `printReplicationController`): desired, current and ready counts, then the template's
/// containers and images and `selector` as the kind prints its selector.
pub fn replicas_row(object: &Value, selector: String) -> Vec<Value> {
    let [containers, images] = template_containers(object);
    vec![
        name(object),
        json!(number(object, "/spec/replicas")),
        json!(number(object, "/status/replicas")),
        json!(number(object, "/status/readyReplicas")),
        age_of(object),
        containers,
        images,
        json!(selector),
    ]
}

/// A label map as `k=v,k2=v2`, keys sorted; empty when there is none (`labels.FormatLabels`
/// without its `<none>`).
pub fn label_map_text(labels: Option<&Value>) -> String {
    let labels: BTreeMap<&str, &str> = labels
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(key, value)| (key.as_str(), value.as_str().unwrap_or_default()))
        .collect();
    labels.iter().map(|(key, value)| format!("{key}={value}")).collect::<Vec<_>>().join(",")
}

/// A LabelSelector as `metav1.FormatLabelSelector` prints it (`<none>` when absent).
pub fn selector_text(selector: Option<&Value>) -> String {
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

/// The row of `object` as the built-in kind `kind` prints it, for the kinds' tests.
#[cfg(test)]
pub fn row_of(kind: &str, object: &Value) -> Vec<Value> {
    let declared = crate::kinds::BUILTIN.iter().find(|declared| declared.kind == kind).unwrap_or_else(|| panic!("{kind} is served"));
    let printer = declared.printer.unwrap_or_else(|| panic!("{kind} declares a printer"));
    let row = (printer.cells)(object);
    assert_eq!(row.len(), printer.columns.len(), "{kind}: a cell per column");
    row
}
