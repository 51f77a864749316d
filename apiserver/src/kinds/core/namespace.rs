//! `Namespace`: its declaration; its strategy (the typed one, `admission::namespace`, and its
//! lifecycle on deletion) and its printer.

use serde_json::{Value, json};
use k8s_openapi::api::core::v1::Namespace;

use crate::admission::Typed;
use crate::errors::ApiError;
use crate::registry::Kind;
use crate::strategy::{Admitted, FieldValidation, Operation, Strategy};
use crate::resources::ResourceType;
use crate::printers::{self, NAME, AGE, Column, Printer, text};

static STRATEGY: NamespaceStrategy = NamespaceStrategy(Typed::new());

struct NamespaceStrategy(Typed<Namespace>);

impl Strategy for NamespaceStrategy {
    fn admit(&self, resource: &ResourceType, object: Value, old: Option<&Value>, operation: Operation, validation: FieldValidation) -> Result<Admitted, ApiError> {
        self.0.admit(resource, object, old, operation, validation)
    }

    /// As kube-apiserver's NamespaceLifecycle admission: the cluster's own namespaces stay.
    fn check_delete(&self, name: &str) -> Result<(), ApiError> {
        if ["default", "kube-system", "kube-public"].contains(&name) {
            return Err(ApiError::forbidden(format!("namespaces {name:?} is forbidden: this namespace may not be deleted")));
        }
        Ok(())
    }

    /// A namespace being deleted is Terminating, and stays until the namespace controller has
    /// emptied it and removed its `spec.finalizers`, as kube's namespace storage keeps it.
    fn deleting(&self, namespace: &mut Value) -> bool {
        let finalized = namespace.pointer("/spec/finalizers").and_then(Value::as_array).is_some_and(|list| !list.is_empty());
        if let Some(fields) = namespace.as_object_mut() {
            fields.insert("status".into(), json!({"phase": "Terminating"}));
        }
        finalized
    }
}

pub static KIND: Kind = Kind {
    resource: ResourceType::builtin("", "v1", "Namespace", "namespaces", "namespace")
        .short_names(&["ns"])
        .subresources(&["status", "finalize"])
        .selectable_fields(&["status.phase"]),
    strategy: &STRATEGY,
    printer: Some(&PRINTER),
};

static PRINTER: Printer = Printer {
    columns: &[NAME, Column::new("Status", "string", 0, "The status of the namespace."), AGE],
    cells: |namespace| vec![printers::name(namespace), json!(text(namespace, "/status/phase")), printers::age_of(namespace)],
};
