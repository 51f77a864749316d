//! `StorageClass` (`storage.k8s.io/v1`, cluster-scoped): how claims of a class get volumes.
//! Its declaration, its defaults (`SetDefaults_StorageClass`), its validation
//! (`ValidateStorageClass`, `ValidateStorageClassUpdate`) and its printer (`printStorageClass`).

use k8s_openapi::api::storage::v1::StorageClass;
use serde_json::{Value, json};

use crate::admission::field::{Causes, Path};
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

    /// `ValidateStorageClass`.
    fn validate(&self, _context: &Context, causes: &mut Causes) {
        let provisioner_path = Path::new("provisioner");
        if self.provisioner.is_empty() {
            causes.required(&provisioner_path, "");
        } else {
            let lower = self.provisioner.to_lowercase();
            causes.invalid_each(&provisioner_path, &lower, common::names::qualified_name(&lower));
        }
        let parameters = self.parameters.as_ref();
        let parameters_path = Path::new("parameters");
        if parameters.is_some_and(|parameters| parameters.len() > MAX_PARAMETERS) {
            causes.too_long(&parameters_path, MAX_PARAMETERS);
        } else {
            let mut size = 0;
            for (key, value) in parameters.into_iter().flatten() {
                if key.is_empty() {
                    causes.invalid(&parameters_path, key.as_str(), "field can not be empty.");
                }
                size += key.len() + value.len();
            }
            if size > MAX_PARAMETERS_SIZE {
                causes.too_long(&parameters_path, MAX_PARAMETERS_SIZE);
            }
        }
        let policy = self.reclaim_policy.as_deref().unwrap_or_default();
        if !policy.is_empty() && !["Delete", "Retain"].contains(&policy) {
            causes.not_supported(&Path::new("reclaimPolicy"), policy, &["Delete", "Retain"]);
        }
        match self.volume_binding_mode.as_deref() {
            None => causes.required(&Path::new("volumeBindingMode"), ""),
            Some(mode) if !BINDING_MODES.contains(&mode) => causes.not_supported(&Path::new("volumeBindingMode"), mode, BINDING_MODES),
            Some(_) => {}
        }
    }

    /// `ValidateStorageClassUpdate`: only the metadata and volume expansion may change.
    fn validate_update(&self, old: &Self, context: &Context, causes: &mut Causes) {
        self.validate(context, causes);
        let empty_as_none = |parameters: &Option<std::collections::BTreeMap<String, String>>| parameters.clone().filter(|parameters| !parameters.is_empty());
        if empty_as_none(&self.parameters) != empty_as_none(&old.parameters) {
            causes.forbidden(&Path::new("parameters"), "updates to parameters are forbidden.");
        }
        if self.provisioner != old.provisioner {
            causes.forbidden(&Path::new("provisioner"), "updates to provisioner are forbidden.");
        }
        if self.reclaim_policy != old.reclaim_policy {
            causes.forbidden(&Path::new("reclaimPolicy"), "updates to reclaimPolicy are forbidden.");
        }
        if self.volume_binding_mode != old.volume_binding_mode {
            causes.immutable(&Path::new("volumeBindingMode"), self.volume_binding_mode.clone().map_or(Value::Null, Value::from));
        }
    }
}

const MAX_PARAMETERS: usize = 512;
const MAX_PARAMETERS_SIZE: usize = 256 * (1 << 10);
const BINDING_MODES: &[&str] = &["Immediate", "WaitForFirstConsumer"];

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
