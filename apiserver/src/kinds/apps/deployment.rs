//! `Deployment`: its declaration; its strategy is the typed one (`admission::deployment`).

use serde_json::{Value, json};
use k8s_openapi::api::apps::v1::Deployment;

use crate::admission::Typed;
use crate::registry::Kind;
use crate::resources::{PodSelector, ResourceType};
use crate::kinds::ALL;
use crate::printers::{self, NAME, AGE, CONTAINERS, IMAGES, Column, Printer, number, selector_text};

static STRATEGY: Typed<Deployment> = Typed::new();

pub static KIND: Kind = Kind {
    resource: ResourceType::builtin("apps", "v1", "Deployment", "deployments", "deployment")
        .namespaced()
        .short_names(&["deploy"])
        .categories(ALL)
        .subresources(&["status", "scale"])
        .tracks_generation()
        .pod_selector(PodSelector::LabelSelector),
    strategy: &STRATEGY,
    printer: Some(&PRINTER),
};

static PRINTER: Printer = Printer {
    columns: &[
        NAME,
        Column::new("Ready", "string", 0, "Number of the pod with ready state"),
        Column::new("Up-to-date", "integer", 0, "Total number of non-terminated pods targeted by this deployment that have the desired template spec."),
        Column::new("Available", "integer", 0, "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment."),
        AGE,
        CONTAINERS,
        IMAGES,
        Column::new("Selector", "string", 1, "Label selector for pods."),
    ],
    cells,
};

/// `printDeployment`'s row.
fn cells(deployment: &Value) -> Vec<Value> {
    let [containers, images] = printers::template_containers(deployment);
    vec![
        printers::name(deployment),
        json!(format!("{}/{}", number(deployment, "/status/readyReplicas"), number(deployment, "/spec/replicas"))),
        json!(number(deployment, "/status/updatedReplicas")),
        json!(number(deployment, "/status/availableReplicas")),
        printers::age_of(deployment),
        containers,
        images,
        json!(selector_text(deployment.pointer("/spec/selector"))),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deployment_prints_ready_of_desired_and_its_selector() {
        let deployment = json!({"metadata": {"name": "web"}, "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}}, "template": {"spec": {"containers": [{"name": "c", "image": "busybox"}]}}}, "status": {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2}});
        let row = printers::row_of("Deployment", &deployment);
        assert_eq!(row[1..4], [json!("2/3"), json!(3), json!(2)]);
        assert_eq!(row[5..], [json!("c"), json!("busybox"), json!("app=web")]);
    }
}
