//! `Deployment`: its declaration; its strategy is the typed one (`admission::deployment`).

use k8s_openapi::api::apps::v1::Deployment;

use crate::admission::Typed;
use crate::registry::Kind;
use crate::resources::{Name, Names, PodSelector, ResourceType};
use crate::kinds::ALL;

static STRATEGY: Typed<Deployment> = Typed::new();

pub static KIND: Kind = Kind {
    resource: ResourceType {
        group: Name::Borrowed("apps"),
        version: Name::Borrowed("v1"),
        kind: Name::Borrowed("Deployment"),
        plural: Name::Borrowed("deployments"),
        singular: Name::Borrowed("deployment"),
        namespaced: true,
        short_names: Names::Static(&["deploy"]),
        categories: Names::Static(ALL),
        subresources: Names::Static(&["status", "scale"]),
        tracks_generation: true,
        returns_deleted_object: false,
        pod_selector: PodSelector::LabelSelector,
        selectable_fields: Names::Static(&[]),
        custom: None,
        deletion_finalizer: None,
    },
    strategy: &STRATEGY,
    printer: None,
};
