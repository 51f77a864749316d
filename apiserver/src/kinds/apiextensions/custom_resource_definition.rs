//! `CustomResourceDefinition`: its declaration; its strategy is the typed one (`admission::custom_resource_definition`).

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;

use crate::admission::Typed;
use crate::registry::Kind;
use crate::resources::{CUSTOM_RESOURCE_CLEANUP, Name, Names, PodSelector, ResourceType};

static STRATEGY: Typed<CustomResourceDefinition> = Typed::new();

pub static KIND: Kind = Kind {
    resource: ResourceType {
        group: Name::Borrowed("apiextensions.k8s.io"),
        version: Name::Borrowed("v1"),
        kind: Name::Borrowed("CustomResourceDefinition"),
        plural: Name::Borrowed("customresourcedefinitions"),
        singular: Name::Borrowed("customresourcedefinition"),
        namespaced: false,
        short_names: Names::Static(&["crd", "crds"]),
        categories: Names::Static(&["api-extensions"]),
        subresources: Names::Static(&["status"]),
        tracks_generation: true,
        returns_deleted_object: false,
        pod_selector: PodSelector::None,
        selectable_fields: Names::Static(&[]),
        custom: None,
        deletion_finalizer: Some(CUSTOM_RESOURCE_CLEANUP),
    },
    strategy: &STRATEGY,
    printer: None,
};
