//! `ReplicaSet`: its declaration; its strategy is the typed one (`admission::replica_set`).

use k8s_openapi::api::apps::v1::ReplicaSet;

use crate::admission::Typed;
use crate::registry::Kind;
use crate::resources::{Name, Names, PodSelector, ResourceType};
use crate::kinds::ALL;

static STRATEGY: Typed<ReplicaSet> = Typed::new();

pub static KIND: Kind = Kind {
    resource: ResourceType {
        group: Name::Borrowed("apps"),
        version: Name::Borrowed("v1"),
        kind: Name::Borrowed("ReplicaSet"),
        plural: Name::Borrowed("replicasets"),
        singular: Name::Borrowed("replicaset"),
        namespaced: true,
        short_names: Names::Static(&["rs"]),
        categories: Names::Static(ALL),
        subresources: Names::Static(&["status", "scale"]),
        tracks_generation: true,
        returns_deleted_object: false,
        pod_selector: PodSelector::LabelSelector,
        selectable_fields: Names::Static(&["status.replicas"]),
        custom: None,
        deletion_finalizer: None,
    },
    strategy: &STRATEGY,
    printer: None,
};
