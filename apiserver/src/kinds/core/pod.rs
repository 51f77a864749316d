//! `Pod`: its declaration; its strategy is the typed one (`admission::pod`).

use k8s_openapi::api::core::v1::Pod;

use crate::admission::Typed;
use crate::registry::Kind;
use crate::resources::{Name, Names, PodSelector, ResourceType};
use crate::kinds::ALL;

static STRATEGY: Typed<Pod> = Typed::new();

pub static KIND: Kind = Kind {
    resource: ResourceType {
        group: Name::Borrowed(""),
        version: Name::Borrowed("v1"),
        kind: Name::Borrowed("Pod"),
        plural: Name::Borrowed("pods"),
        singular: Name::Borrowed("pod"),
        namespaced: true,
        short_names: Names::Static(&["po"]),
        categories: Names::Static(ALL),
        subresources: Names::Static(&["status", "binding", "log", "exec", "attach", "portforward"]),
        tracks_generation: true,
        returns_deleted_object: true,
        pod_selector: PodSelector::None,
        selectable_fields: Names::Static(&["spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName", "status.phase", "status.podIP", "status.nominatedNodeName"]),
        custom: None,
        deletion_finalizer: None,
    },
    strategy: &STRATEGY,
    printer: None,
};
