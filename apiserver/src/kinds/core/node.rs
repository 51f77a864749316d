//! `Node`: its declaration; its strategy is the typed one (`admission::node`).

use k8s_openapi::api::core::v1::Node;

use crate::admission::Typed;
use crate::registry::Kind;
use crate::resources::{Name, Names, PodSelector, ResourceType};

static STRATEGY: Typed<Node> = Typed::new();

pub static KIND: Kind = Kind {
    resource: ResourceType {
        group: Name::Borrowed(""),
        version: Name::Borrowed("v1"),
        kind: Name::Borrowed("Node"),
        plural: Name::Borrowed("nodes"),
        singular: Name::Borrowed("node"),
        namespaced: false,
        short_names: Names::Static(&["no"]),
        categories: Names::Static(&[]),
        subresources: Names::Static(&["status"]),
        tracks_generation: false,
        returns_deleted_object: false,
        pod_selector: PodSelector::None,
        selectable_fields: Names::Static(&["spec.unschedulable"]),
        custom: None,
        deletion_finalizer: None,
    },
    strategy: &STRATEGY,
    printer: None,
};
