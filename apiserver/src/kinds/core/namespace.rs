//! `Namespace`: its declaration; its strategy is the typed one (`admission::namespace`).

use k8s_openapi::api::core::v1::Namespace;

use crate::admission::Typed;
use crate::registry::Kind;
use crate::resources::{Name, Names, PodSelector, ResourceType};

static STRATEGY: Typed<Namespace> = Typed::new();

pub static KIND: Kind = Kind {
    resource: ResourceType {
        group: Name::Borrowed(""),
        version: Name::Borrowed("v1"),
        kind: Name::Borrowed("Namespace"),
        plural: Name::Borrowed("namespaces"),
        singular: Name::Borrowed("namespace"),
        namespaced: false,
        short_names: Names::Static(&["ns"]),
        categories: Names::Static(&[]),
        subresources: Names::Static(&["status", "finalize"]),
        tracks_generation: false,
        returns_deleted_object: false,
        pod_selector: PodSelector::None,
        selectable_fields: Names::Static(&["status.phase"]),
        custom: None,
        deletion_finalizer: None,
    },
    strategy: &STRATEGY,
    printer: None,
};
