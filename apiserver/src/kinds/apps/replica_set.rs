//! `ReplicaSet`: its declaration; its strategy is the typed one (`admission::replica_set`).

use k8s_openapi::api::apps::v1::ReplicaSet;

use crate::admission::Typed;
use crate::registry::Kind;
use crate::resources::{PodSelector, ResourceType};
use crate::kinds::ALL;
use crate::printers::{self, NAME, AGE, CONTAINERS, IMAGES, Column, Printer, selector_text};

static STRATEGY: Typed<ReplicaSet> = Typed::new();

pub static KIND: Kind = Kind {
    resource: ResourceType::builtin("apps", "v1", "ReplicaSet", "replicasets", "replicaset")
        .namespaced()
        .short_names(&["rs"])
        .categories(ALL)
        .subresources(&["status", "scale"])
        .selectable_fields(&["status.replicas"])
        .tracks_generation()
        .pod_selector(PodSelector::LabelSelector),
    strategy: &STRATEGY,
    printer: Some(&PRINTER),
};

static PRINTER: Printer = Printer {
    columns: &[
        NAME,
        Column::new("Desired", "integer", 0, "Number of desired pods."),
        Column::new("Current", "integer", 0, "Number of actual replicas."),
        Column::new("Ready", "integer", 0, "The number of ready replicas for this replica set."),
        AGE,
        CONTAINERS,
        IMAGES,
        Column::new("Selector", "string", 1, "Label selector for pods."),
    ],
    cells: |replica_set| printers::replicas_row(replica_set, selector_text(replica_set.pointer("/spec/selector"))),
};
