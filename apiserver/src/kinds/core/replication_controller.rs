//! `ReplicationController`: its declaration; its strategy is the typed one (`admission::replication_controller`).

use k8s_openapi::api::core::v1::ReplicationController;

use crate::admission::Typed;
use crate::registry::Kind;
use crate::resources::{PodSelector, ResourceType};
use crate::kinds::ALL;
use crate::printers::{self, NAME, AGE, CONTAINERS, IMAGES, Column, Printer, or_none, label_map_text};

static STRATEGY: Typed<ReplicationController> = Typed::new();

pub static KIND: Kind = Kind {
    resource: ResourceType::builtin("", "v1", "ReplicationController", "replicationcontrollers", "replicationcontroller")
        .namespaced()
        .short_names(&["rc"])
        .categories(ALL)
        .subresources(&["status", "scale"])
        .selectable_fields(&["status.replicas"])
        .tracks_generation()
        .pod_selector(PodSelector::LabelMap),
    strategy: &STRATEGY,
    printer: Some(&PRINTER),
};

/// printReplicationController's columns, described by the fields' API documentation.
static PRINTER: Printer = Printer {
    columns: &[
        NAME,
        Column::new("Desired", "integer", 0, "Replicas is the number of desired replicas. This is a pointer to distinguish between explicit zero and unspecified. Defaults to 1. More info: https://kubernetes.io/docs/concepts/workloads/controllers/replicationcontroller#what-is-a-replicationcontroller"),
        Column::new("Current", "integer", 0, "Replicas is the most recently observed number of replicas. More info: https://kubernetes.io/docs/concepts/workloads/controllers/replicationcontroller#what-is-a-replicationcontroller"),
        Column::new("Ready", "integer", 0, "The number of ready replicas for this replication controller."),
        AGE,
        CONTAINERS,
        IMAGES,
        Column::new("Selector", "string", 1, "Selector is a label query over pods that should match the Replicas count. If Selector is empty, it is defaulted to the labels present on the Pod template. Label keys and values that must match in order to be controlled by this replication controller, if empty defaulted to labels on Pod template. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors"),
    ],
    cells: |controller| printers::replicas_row(controller, or_none(label_map_text(controller.pointer("/spec/selector")))),
};

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_replication_controller_prints_its_label_map_selector() {
        let controller = json!({"metadata": {"name": "web"}, "spec": {"replicas": 3, "selector": {"tier": "front", "app": "web"},
            "template": {"spec": {"containers": [{"name": "a", "image": "busybox"}, {"name": "b", "image": "nginx"}]}}}, "status": {"replicas": 2, "readyReplicas": 1}});
        let row = printers::row_of("ReplicationController", &controller);
        assert_eq!(row[..4], [json!("web"), json!(3), json!(2), json!(1)]);
        assert_eq!(row[5..], [json!("a,b"), json!("busybox,nginx"), json!("app=web,tier=front")]);
        let no_selector = json!({"metadata": {"name": "web"}, "spec": {}});
        assert_eq!(printers::row_of("ReplicationController", &no_selector)[7], json!("<none>"));
    }
}
