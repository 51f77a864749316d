//! `Event`: its declaration; its strategy is the typed one (`admission::event`).

use common::durations::age;
use serde_json::{Value, json};
use k8s_openapi::api::core::v1::Event;

use crate::admission::Typed;
use crate::registry::Kind;
use crate::resources::ResourceType;
use crate::printers::{Column, Printer, text};

static STRATEGY: Typed<Event> = Typed::new();

pub static KIND: Kind = Kind {
    resource: ResourceType::builtin("", "v1", "Event", "events", "event")
        .namespaced()
        .short_names(&["ev"])
        .selectable_fields(&["involvedObject.kind", "involvedObject.namespace", "involvedObject.name", "involvedObject.uid", "involvedObject.apiVersion", "involvedObject.resourceVersion", "involvedObject.fieldPath", "reason", "type", "source"]),
    strategy: &STRATEGY,
    printer: Some(&PRINTER),
};

static PRINTER: Printer = Printer {
    columns: &[
        Column::new("Last Seen", "string", 0, "Time of the last occurrence."),
        Column::new("Type", "string", 0, "Type of the event."),
        Column::new("Reason", "string", 0, "Reason of the event."),
        Column::new("Object", "string", 0, "The object this event is about."),
        Column::new("Message", "string", 0, "A human-readable description of the event."),
    ],
    cells,
};

/// `printEvent`'s row: when it was last seen (its creation when never counted), and the
/// object it is about as `kind/name`.
fn cells(event: &Value) -> Vec<Value> {
    let last = event.get("lastTimestamp").and_then(Value::as_str).or_else(|| event.pointer("/metadata/creationTimestamp").and_then(Value::as_str));
    let involved = format!("{}/{}", text(event, "/involvedObject/kind").to_ascii_lowercase(), text(event, "/involvedObject/name"));
    vec![json!(age(last)), json!(text(event, "/type")), json!(text(event, "/reason")), json!(involved), json!(text(event, "/message"))]
}
