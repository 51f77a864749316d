//! `Event`: its declaration; its strategy is the typed one (`admission::event`).

use k8s_openapi::api::core::v1::Event;

use crate::admission::Typed;
use crate::registry::Kind;
use crate::resources::{Name, Names, PodSelector, ResourceType};

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
    printer: None,
};
