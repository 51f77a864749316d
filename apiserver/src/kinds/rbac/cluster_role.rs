//! `ClusterRole`: its declaration; its objects are stored as given until its validation comes.

use crate::registry::Kind;
use crate::resources::{Name, Names, PodSelector, ResourceType};
use crate::strategy::AsGiven;

pub static KIND: Kind = Kind {
    resource: ResourceType {
        group: Name::Borrowed("rbac.authorization.k8s.io"),
        version: Name::Borrowed("v1"),
        kind: Name::Borrowed("ClusterRole"),
        plural: Name::Borrowed("clusterroles"),
        singular: Name::Borrowed("clusterrole"),
        namespaced: false,
        short_names: Names::Static(&[]),
        categories: Names::Static(&[]),
        subresources: Names::Static(&[]),
        tracks_generation: false,
        returns_deleted_object: false,
        pod_selector: PodSelector::None,
        selectable_fields: Names::Static(&[]),
        custom: None,
        deletion_finalizer: None,
    },
    strategy: &AsGiven,
    printer: None,
};
