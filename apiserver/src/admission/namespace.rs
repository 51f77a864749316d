//! Namespaces: `SetDefaults_Namespace` (the `kubernetes.io/metadata.name` label), the namespace
//! strategy on create (phase `Active`, the `kubernetes` finalizer), `ValidateNamespace` (a
//! DNS-1123 label name, finalizer names) and `ValidateNamespaceStatusUpdate`.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Namespace, NamespaceStatus};

use super::field::{Causes, Path};
use super::metadata;
use super::names::NameFormat;
use super::{Context, TypedKind};

/// `v1.LabelMetadataName`.
const NAME_LABEL: &str = "kubernetes.io/metadata.name";

impl TypedKind for Namespace {
    const NAME_FORMAT: NameFormat = NameFormat::Dns1123Label;

    fn apply_defaults(&mut self) {
        if let Some(name) = self.metadata.name.clone().filter(|name| !name.is_empty()) {
            self.metadata.labels.get_or_insert_with(BTreeMap::new).insert(NAME_LABEL.into(), name);
        }
        // SetDefaults_NamespaceStatus: the Go status is a value, so it always has a phase.
        let status = self.status.get_or_insert_with(NamespaceStatus::default);
        if status.phase.as_deref().unwrap_or_default().is_empty() {
            status.phase = Some("Active".into());
        }
    }

    fn prepare_for_create(&mut self) {
        self.status = Some(NamespaceStatus { phase: Some("Active".into()), ..Default::default() });
        // The namespace controller's finalizer, which this server's namespace controller removes
        // once the namespace is empty.
        let finalizers = self.spec.get_or_insert_with(Default::default).finalizers.get_or_insert_with(Vec::new);
        if !finalizers.iter().any(|finalizer| finalizer == "kubernetes") {
            finalizers.push("kubernetes".into());
        }
    }

    fn validate(&self, _context: &Context, causes: &mut Causes) {
        let finalizers = self.spec.as_ref().and_then(|spec| spec.finalizers.as_deref()).unwrap_or_default();
        metadata::validate_finalizers(finalizers, &Path::new("spec").child("finalizers"), false, causes);
    }

    fn validate_status_update(&self, _old: &Self, _context: &Context, causes: &mut Causes) {
        let phase = self.status.as_ref().and_then(|status| status.phase.clone()).unwrap_or_default();
        // Kubernetes spells this path with a capital P.
        let path = Path::new("status").child("Phase");
        if self.metadata.deletion_timestamp.is_none() {
            if phase != "Active" {
                causes.invalid(&path, phase, "may only be 'Active' if `deletionTimestamp` is empty");
            }
        } else if phase != "Terminating" {
            causes.invalid(&path, phase, "may only be 'Terminating' if `deletionTimestamp` is not empty");
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::test_support::*;
    use super::super::{FieldValidation, admit_status_update};

    #[test]
    fn a_new_namespace_is_active_with_the_kubernetes_finalizer() {
        let admitted = admitted(resource("namespaces"), namespace("demo"));
        let expected = json!({"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": "demo", "labels": {"kubernetes.io/metadata.name": "demo"}},
            "spec": {"finalizers": ["kubernetes"]},
            "status": {"phase": "Active"}});
        assert_eq!(admitted, expected);
        let with_own = with(namespace("demo"), "/spec/finalizers", json!(["example.com/cleanup"]));
        assert_eq!(admitted_of(with_own)["spec"]["finalizers"], json!(["example.com/cleanup", "kubernetes"]));
    }

    fn admitted_of(object: serde_json::Value) -> serde_json::Value {
        admitted(resource("namespaces"), object)
    }

    #[test]
    fn namespace_validation() {
        let rows: Vec<(&str, serde_json::Value, Outcome)> = vec![
            ("valid", namespace("demo"), Outcome::Admitted),
            ("dots", namespace("demo.app"), invalid(&["metadata.name"], "metadata.name: Invalid value: \"demo.app\": must not contain dots")),
            ("upper case", namespace("Demo"), invalid(&["metadata.name"], "a lowercase RFC 1123 label must consist of")),
            ("too long", namespace(&"a".repeat(64)), invalid(&["metadata.name", "metadata.labels"], "must be no more than 63 characters")),
            ("finalizer", with(namespace("demo"), "/spec/finalizers", json!(["cleanup"])), invalid(&["spec.finalizers"], "name is neither a standard finalizer name nor is it fully qualified")),
        ];
        run_create("namespaces", rows);
    }

    #[test]
    fn namespace_updates() {
        let old = admitted(resource("namespaces"), namespace("demo"));
        run_update("namespaces", &old, vec![
            ("labels", with(old.clone(), "/metadata/labels/team", json!("a")), Outcome::Admitted),
            ("label removed comes back", without(old.clone(), "/metadata/labels"), Outcome::Admitted),
            ("finalizers emptied", with(old.clone(), "/spec/finalizers", json!([])), Outcome::Admitted),
        ]);
        let rows: Vec<(&str, serde_json::Value, Outcome)> = vec![
            ("active", old.clone(), Outcome::Admitted),
            ("terminating without deletion", with(old.clone(), "/status/phase", json!("Terminating")), invalid(&["status.Phase"], "may only be 'Active' if `deletionTimestamp` is empty")),
        ];
        for (label, object, expected) in rows {
            check(label, admit_status_update(resource("namespaces"), object, &old, FieldValidation::Strict), &expected);
        }
        let deleting = with(old.clone(), "/metadata/deletionTimestamp", json!("2026-11-24T16:00:00Z"));
        check("active while deleting", admit_status_update(resource("namespaces"), deleting.clone(), &deleting, FieldValidation::Strict),
            &invalid(&["status.Phase"], "may only be 'Terminating' if `deletionTimestamp` is not empty"));
        let terminating = with(deleting.clone(), "/status/phase", json!("Terminating"));
        check("terminating", admit_status_update(resource("namespaces"), terminating, &deleting, FieldValidation::Strict), &Outcome::Admitted);
    }
}
