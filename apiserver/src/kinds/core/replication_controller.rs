//! `ReplicationController`: its declaration; its strategy is the typed one (`admission::replication_controller`).

use k8s_openapi::api::core::v1::ReplicationController;

use crate::admission::Typed;
use crate::registry::Kind;
use crate::resources::{Name, Names, PodSelector, ResourceType};
use crate::kinds::ALL;

static STRATEGY: Typed<ReplicationController> = Typed::new();

pub static KIND: Kind = Kind {
    resource: ResourceType {
        group: Name::Borrowed(""),
        version: Name::Borrowed("v1"),
        kind: Name::Borrowed("ReplicationController"),
        plural: Name::Borrowed("replicationcontrollers"),
        singular: Name::Borrowed("replicationcontroller"),
        namespaced: true,
        short_names: Names::Static(&["rc"]),
        categories: Names::Static(ALL),
        subresources: Names::Static(&["status", "scale"]),
        tracks_generation: true,
        returns_deleted_object: false,
        pod_selector: PodSelector::LabelMap,
        selectable_fields: Names::Static(&["status.replicas"]),
        custom: None,
        deletion_finalizer: None,
    },
    strategy: &STRATEGY,
    printer: None,
};
