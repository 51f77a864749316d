//! `CustomResourceDefinition`: its declaration; its strategy is the typed one (`admission::custom_resource_definition`).

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;

use crate::admission::Typed;
use crate::registry::Kind;
use crate::resources::{CUSTOM_RESOURCE_CLEANUP, ResourceType};

static STRATEGY: Typed<CustomResourceDefinition> = Typed::new();

pub static KIND: Kind = Kind {
    resource: ResourceType::builtin("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions", "customresourcedefinition")
        .short_names(&["crd", "crds"])
        .categories(&["api-extensions"])
        .subresources(&["status"])
        .tracks_generation()
        .deletion_finalizer(CUSTOM_RESOURCE_CLEANUP),
    strategy: &STRATEGY,
    printer: None,
};
