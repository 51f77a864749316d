//! `Endpoints`: its declaration; its strategy is the typed one (`admission::endpoints`).

use k8s_openapi::api::core::v1::Endpoints;

use crate::admission::Typed;
use crate::registry::Kind;
use crate::resources::{Name, Names, PodSelector, ResourceType};

static STRATEGY: Typed<Endpoints> = Typed::new();

pub static KIND: Kind = Kind {
    resource: ResourceType {
        group: Name::Borrowed(""),
        version: Name::Borrowed("v1"),
        kind: Name::Borrowed("Endpoints"),
        plural: Name::Borrowed("endpoints"),
        singular: Name::Borrowed("endpoints"),
        namespaced: true,
        short_names: Names::Static(&["ep"]),
        categories: Names::Static(&[]),
        subresources: Names::Static(&[]),
        tracks_generation: false,
        returns_deleted_object: false,
        pod_selector: PodSelector::None,
        selectable_fields: Names::Static(&[]),
        custom: None,
        deletion_finalizer: None,
    },
    strategy: &STRATEGY,
    printer: None,
};
