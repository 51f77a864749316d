//! The replication manager: ReplicationControllers (core `v1`) kept by the ReplicaSet
//! controller's code, as kube-controller-manager keeps them (`pkg/controller/replication` runs
//! the ReplicaSet controller over RCs converted to ReplicaSets). Only what differs is here: the
//! selector is a plain label map (as a ReplicaSet's `matchLabels`), and the status type is the
//! RC's own. Pods it creates are owned by `v1` `ReplicationController` references.

use common::selector::LabelSelector;
use k8s_openapi::api::core::v1::{PodTemplateSpec, ReplicationController, ReplicationControllerStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector as K8sLabelSelector;

use crate::context::Context;
use crate::informer::Informer;
use crate::replicaset::{Counts, PodSet};

impl PodSet for ReplicationController {
    const CONTROLLER: &'static str = "replicationcontroller";
    /// The event source kube-controller-manager's replication manager records as.
    const COMPONENT: &'static str = "replication-controller";
    type Status = ReplicationControllerStatus;

    fn informer(context: &Context) -> &Informer<Self> {
        &context.replication_controllers
    }

    fn selector(&self) -> Option<LabelSelector> {
        // An absent selector selects nothing; the apiserver defaults it from the template's
        // labels and refuses an empty one, so that is only ever a stored oddity.
        let labels = self.spec.as_ref()?.selector.clone()?;
        LabelSelector::from_k8s(&K8sLabelSelector { match_labels: Some(labels), match_expressions: None }).ok()
    }

    fn replicas(&self) -> Option<i32> {
        self.spec.as_ref().and_then(|spec| spec.replicas)
    }

    fn min_ready_seconds(&self) -> Option<i32> {
        self.spec.as_ref().and_then(|spec| spec.min_ready_seconds)
    }

    fn template(&self) -> Option<&PodTemplateSpec> {
        self.spec.as_ref().and_then(|spec| spec.template.as_ref())
    }

    fn status(&self) -> Option<&ReplicationControllerStatus> {
        self.status.as_ref()
    }

    fn counted(&self, counts: &Counts) -> ReplicationControllerStatus {
        ReplicationControllerStatus {
            replicas: counts.replicas,
            fully_labeled_replicas: Some(counts.fully_labeled),
            ready_replicas: Some(counts.ready),
            available_replicas: Some(counts.available),
            observed_generation: counts.observed_generation,
            conditions: self.status.as_ref().and_then(|status| status.conditions.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::*;

    #[test]
    fn the_label_map_selects_as_match_labels() {
        let controller: ReplicationController = serde_json::from_value(json!({"metadata": {"name": "web"}, "spec": {"selector": {"app": "web", "tier": "front"}}})).unwrap();
        let selector = controller.selector().unwrap();
        let labels = |pairs: &[(&str, &str)]| pairs.iter().map(|(key, value)| (key.to_string(), value.to_string())).collect::<BTreeMap<_, _>>();
        assert!(selector.matches(&labels(&[("app", "web"), ("tier", "front"), ("extra", "x")])));
        assert!(!selector.matches(&labels(&[("app", "web")])));
        let without: ReplicationController = serde_json::from_value(json!({"metadata": {"name": "web"}, "spec": {}})).unwrap();
        assert!(without.selector().is_none_or(|selector| !selector.matches(&labels(&[("app", "web")]))));
    }

    #[test]
    fn the_status_counts_and_keeps_conditions() {
        let controller: ReplicationController = serde_json::from_value(json!({"metadata": {"name": "web", "generation": 4},
            "status": {"replicas": 1, "conditions": [{"type": "ReplicaFailure", "status": "True"}]}})).unwrap();
        let counts = Counts { replicas: 3, fully_labeled: 3, ready: 2, available: 1, observed_generation: Some(4) };
        let status = serde_json::to_value(controller.counted(&counts)).unwrap();
        assert_eq!(
            status,
            json!({"replicas": 3, "fullyLabeledReplicas": 3, "readyReplicas": 2, "availableReplicas": 1, "observedGeneration": 4,
                   "conditions": [{"type": "ReplicaFailure", "status": "True"}]})
        );
    }
}
