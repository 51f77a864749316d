//! `StorageClass` (`storage.k8s.io/v1`, cluster-scoped): how claims of a class get volumes.
//! Its declaration, its defaults (`SetDefaults_StorageClass`), its validation
//! (`ValidateStorageClass`, `ValidateStorageClassUpdate`) and its printer (`printStorageClass`).

use k8s_openapi::api::storage::v1::StorageClass;
use serde_json::{Value, json};

use crate::admission::field::Causes;
use crate::admission::{Context, Typed, TypedKind};
use crate::printers::{self, AGE, NAME, Column, Printer, text};
use crate::registry::Kind;
use crate::resources::ResourceType;

pub static KIND: Kind = Kind {
    resource: ResourceType::builtin("storage.k8s.io", "v1", "StorageClass", "storageclasses", "storageclass").short_names(&["sc"]),
    strategy: &STRATEGY,
    printer: Some(&PRINTER),
};

static STRATEGY: Typed<StorageClass> = Typed::new();

impl TypedKind for StorageClass {
    fn apply_defaults(&mut self) {
        if self.reclaim_policy.is_none() {
            self.reclaim_policy = Some("Delete".into());
        }
        if self.volume_binding_mode.is_none() {
            self.volume_binding_mode = Some("Immediate".into());
        }
    }

    fn validate(&self, _context: &Context, _causes: &mut Causes) {}
}

static PRINTER: Printer = Printer {
    columns: &[
        NAME,
        Column::new("Provisioner", "string", 0, "Indicates the type of the provisioner."),
        Column::new("ReclaimPolicy", "string", 0, "Dynamically provisioned PersistentVolumes of this storage class are created with this reclaimPolicy. Defaults to Delete."),
        Column::new("VolumeBindingMode", "string", 0, "VolumeBindingMode indicates how PersistentVolumeClaims should be provisioned and bound. When unset, VolumeBindingImmediate is used."),
        Column::new("AllowVolumeExpansion", "string", 0, "AllowVolumeExpansion shows whether the storage class allow volume expand."),
        AGE,
    ],
    cells,
};

/// Whether the class is annotated as the default one (`storageutil.IsDefaultAnnotation`: the
/// GA or the beta annotation, `"true"`).
pub(crate) fn is_default(class: &Value) -> bool {
    let annotation = |key: &str| class.pointer("/metadata/annotations").and_then(|annotations| annotations.get(key)).and_then(Value::as_str) == Some("true");
    annotation(common::storage::IS_DEFAULT_CLASS) || annotation(common::storage::BETA_IS_DEFAULT_CLASS)
}

/// `printStorageClass`'s row: `(default)` after the default class's name.
fn cells(class: &Value) -> Vec<Value> {
    let mut name = text(class, "/metadata/name").to_string();
    if is_default(class) {
        name.push_str(" (default)");
    }
    let or = |pointer: &str, default: &str| match text(class, pointer) {
        "" => default.to_string(),
        value => value.to_string(),
    };
    vec![
        json!(name),
        json!(text(class, "/provisioner")),
        json!(or("/reclaimPolicy", "Delete")),
        json!(or("/volumeBindingMode", "Immediate")),
        json!(class.get("allowVolumeExpansion").and_then(Value::as_bool).unwrap_or(false)),
        printers::age_of(class),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admission::test_support::*;

    pub(crate) fn class(name: &str) -> Value {
        json!({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": name}, "provisioner": "cluster.local/local-path"})
    }

    #[test]
    fn a_class_gets_kubernetes_defaults() {
        let admitted = admitted(resource("storageclasses"), class("standard"));
        assert_eq!((admitted["reclaimPolicy"].as_str(), admitted["volumeBindingMode"].as_str()), (Some("Delete"), Some("Immediate")));
    }

    #[test]
    fn the_default_class_prints_so() {
        let default = with(class("standard"), "/metadata/annotations", json!({"storageclass.kubernetes.io/is-default-class": "true"}));
        let row = printers::row_of("StorageClass", &with(default, "/volumeBindingMode", json!("WaitForFirstConsumer")));
        assert_eq!(row[..5], [json!("standard (default)"), json!("cluster.local/local-path"), json!("Delete"), json!("WaitForFirstConsumer"), json!(false)]);
        assert_eq!(printers::row_of("StorageClass", &class("fast"))[0], json!("fast"));
    }
}
