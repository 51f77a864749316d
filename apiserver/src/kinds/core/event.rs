//! `Event`: its declaration; its strategy is the typed one (`admission::event`).

use common::durations::age;
use serde_json::{Value, json};
use k8s_openapi::api::core::v1::Event;

use crate::admission::Typed;
use crate::registry::Kind;
use crate::resources::{Name, Names, PodSelector, ResourceType};
use crate::printers::{Column, Printer, text};

static STRATEGY: Typed<Event> = Typed::new();

pub static KIND: Kind = Kind {
    resource: ResourceType {
        group: Name::Borrowed(""),
        version: Name::Borrowed("v1"),
        kind: Name::Borrowed("Event"),
        plural: Name::Borrowed("events"),
        singular: Name::Borrowed("event"),
        namespaced: true,
        short_names: Names::Static(&["ev"]),
        categories: Names::Static(&[]),
        subresources: Names::Static(&[]),
        tracks_generation: false,
        returns_deleted_object: false,
        pod_selector: PodSelector::None,
        selectable_fields: Names::Static(&["involvedObject.kind", "involvedObject.namespace", "involvedObject.name", "involvedObject.uid", "involvedObject.apiVersion", "involvedObject.resourceVersion", "involvedObject.fieldPath", "reason", "type", "source"]),
        custom: None,
        deletion_finalizer: None,
    },
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
