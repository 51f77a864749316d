//! `Service`: its declaration; its strategy is the typed one (`admission::service`).

use k8s_openapi::api::core::v1::Service;

use crate::admission::Typed;
use crate::registry::Kind;
use crate::resources::{Name, Names, PodSelector, ResourceType};
use crate::kinds::ALL;

static STRATEGY: Typed<Service> = Typed::new();

pub static KIND: Kind = Kind {
    resource: ResourceType {
        group: Name::Borrowed(""),
        version: Name::Borrowed("v1"),
        kind: Name::Borrowed("Service"),
        plural: Name::Borrowed("services"),
        singular: Name::Borrowed("service"),
        namespaced: true,
        short_names: Names::Static(&["svc"]),
        categories: Names::Static(ALL),
        subresources: Names::Static(&["status"]),
        tracks_generation: false,
        returns_deleted_object: true,
        pod_selector: PodSelector::None,
        selectable_fields: Names::Static(&[]),
        custom: None,
        deletion_finalizer: None,
    },
    strategy: &STRATEGY,
    printer: None,
};
