//! Events (`v1`): `ValidateEventCreate`/`ValidateEventUpdate` for the core group. An event
//! without `eventTime` (the usual kind) must be in its object's namespace; one with `eventTime`
//! must say who reported it and what happened.

use k8s_openapi::api::core::v1::Event;

use super::field::{Causes, Path};
use super::names;
use super::{Context, TypedKind};

/// `ReportingInstanceLengthLimit`, `ActionLengthLimit`, `ReasonLengthLimit`.
const SHORT_LIMIT: usize = 128;
/// `NoteLengthLimit`.
const MESSAGE_LIMIT: usize = 1024;

impl TypedKind for Event {
    fn validate(&self, _context: &Context, causes: &mut Causes) {
        let namespace = self.metadata.namespace.as_deref().unwrap_or_default();
        let involved_namespace = self.involved_object.namespace.as_deref().unwrap_or_default();
        let involved_path = Path::new("involvedObject").child("namespace");
        if self.event_time.is_none() {
            let matches = if involved_namespace.is_empty() {
                // Cluster-scoped objects' events live in "default" (or nowhere, for old clients).
                namespace.is_empty() || namespace == "default"
            } else {
                namespace == involved_namespace
            };
            if !matches {
                causes.invalid(&involved_path, involved_namespace, "does not match event.namespace");
            }
        } else {
            if involved_namespace.is_empty() && namespace != "default" && namespace != "kube-system" {
                causes.invalid(&involved_path, involved_namespace, "does not match event.namespace");
            }
            let component = self.reporting_component.as_deref().unwrap_or_default();
            let component_path = Path::new("reportingComponent");
            if component.is_empty() {
                causes.required(&component_path, "");
            }
            causes.invalid_each(&component_path, component, names::qualified_name(component));
            let required_short = [
                ("reportingInstance", self.reporting_instance.as_deref()),
                ("action", self.action.as_deref()),
                ("reason", self.reason.as_deref()),
            ];
            for (field, value) in required_short {
                let value = value.unwrap_or_default();
                if value.is_empty() {
                    causes.required(&Path::new(field), "");
                }
                if value.len() > SHORT_LIMIT {
                    causes.invalid(&Path::new(field), "", &format!("can have at most {SHORT_LIMIT} characters"));
                }
            }
            if self.message.as_deref().unwrap_or_default().len() > MESSAGE_LIMIT {
                causes.invalid(&Path::new("message"), "", &format!("can have at most {MESSAGE_LIMIT} characters"));
            }
        }
        causes.invalid_each(&Path::new("namespace"), namespace, names::dns1123_subdomain(namespace));
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::test_support::*;

    #[test]
    fn event_validation() {
        let rows: Vec<(&str, serde_json::Value, Outcome)> = vec![
            ("valid", event("web.1"), Outcome::Admitted),
            ("other namespace", with(event("web.1"), "/involvedObject/namespace", json!("other")), invalid(&["involvedObject.namespace"], "involvedObject.namespace: Invalid value: \"other\": does not match event.namespace")),
            ("cluster-scoped object", without(event("web.1"), "/involvedObject/namespace"), invalid(&["involvedObject.namespace"], "does not match event.namespace")),
            ("new style", with(with(event("web.1"), "/eventTime", json!("2026-11-24T16:00:00.000000Z")), "/reportingComponent", json!("kubelet")), invalid(&["reportingInstance", "action"], "reportingInstance: Required value")),
            ("name", event("Web_1"), invalid(&["metadata.name"], "a lowercase RFC 1123 subdomain")),
        ];
        run_create("events", rows);
        let node_event = with(with(event("node.1"), "/metadata/namespace", json!("default")), "/involvedObject", json!({"kind": "Node", "name": "worker-1"}));
        run_create("events", vec![("a node's event in default", node_event, Outcome::Admitted)]);
    }
}
