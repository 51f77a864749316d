//! `PersistentVolumeClaim` (`core/v1`): a pod's request for storage. Its declaration, its
//! defaults (`SetDefaults_PersistentVolumeClaim(Spec)`), its strategy (the status reset on
//! create), its validation (`ValidatePersistentVolumeClaim`, `ValidatePersistentVolumeClaimUpdate`)
//! and its printer (`printPersistentVolumeClaim`).

use k8s_openapi::api::core::v1::{PersistentVolumeClaim, PersistentVolumeClaimStatus};
use serde_json::{Value, json};

use super::persistent_volume::{access_modes_text, class_text, or_unset, phase_text};
use crate::admission::field::Causes;
use crate::admission::{Context, Typed, TypedKind};
use crate::printers::{self, AGE, NAME, Column, Printer, text};
use crate::registry::Kind;
use crate::resources::ResourceType;

pub static KIND: Kind = Kind {
    resource: ResourceType::builtin("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", "persistentvolumeclaim")
        .namespaced()
        .short_names(&["pvc"])
        .subresources(&["status"]),
    strategy: &STRATEGY,
    printer: Some(&PRINTER),
};

static STRATEGY: Typed<PersistentVolumeClaim> = Typed::new();

impl TypedKind for PersistentVolumeClaim {
    fn check_quantities(&self) -> Result<(), common::quantity::QuantityError> {
        let resources = self.spec.iter().flat_map(|spec| spec.resources.iter());
        let lists = resources.flat_map(|resources| [resources.requests.as_ref(), resources.limits.as_ref()]).flatten();
        let capacity = self.status.iter().flat_map(|status| status.capacity.iter());
        for value in lists.chain(capacity).flat_map(|list| list.values()) {
            common::quantity::parse(&value.0)?;
        }
        Ok(())
    }

    fn apply_defaults(&mut self) {
        let spec = self.spec.get_or_insert_with(Default::default);
        if spec.volume_mode.is_none() {
            spec.volume_mode = Some("Filesystem".into());
        }
        let status = self.status.get_or_insert_with(Default::default);
        if status.phase.as_deref().unwrap_or_default().is_empty() {
            status.phase = Some("Pending".into());
        }
    }

    /// The status is the binder's: a new claim is Pending.
    fn prepare_for_create(&mut self) {
        self.status = Some(PersistentVolumeClaimStatus { phase: Some("Pending".into()), ..Default::default() });
    }

    fn validate(&self, _context: &Context, _causes: &mut Causes) {}
}

static PRINTER: Printer = Printer {
    columns: &[
        NAME,
        Column::new("Status", "string", 0, "phase represents the current phase of PersistentVolumeClaim."),
        Column::new("Volume", "string", 0, "volumeName is the binding reference to the PersistentVolume backing this claim."),
        Column::new("Capacity", "string", 0, "capacity represents the actual resources of the underlying volume."),
        Column::new("Access Modes", "string", 0, "accessModes contains the actual access modes the volume backing the PVC has. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#access-modes-1"),
        Column::new("StorageClass", "string", 0, "StorageClass of the pvc"),
        Column::new("VolumeAttributesClass", "string", 0, "VolumeAttributesClass of the pvc"),
        AGE,
        Column::new("VolumeMode", "string", 1, "volumeMode defines what type of volume is required by the claim. Value of Filesystem is implied when not included in claim spec."),
    ],
    cells,
};

/// `printPersistentVolumeClaim`'s row: the capacity and modes the bound volume gave (none
/// until the claim names a volume).
fn cells(claim: &Value) -> Vec<Value> {
    let volume = text(claim, "/spec/volumeName");
    let (capacity, modes) = if volume.is_empty() {
        (String::new(), String::new())
    } else {
        let capacity = claim.pointer("/status/capacity/storage").and_then(Value::as_str).unwrap_or("0").to_string();
        (capacity, access_modes_text(printers::list(claim, "/status/accessModes")))
    };
    vec![
        printers::name(claim),
        json!(phase_text(claim)),
        json!(volume),
        json!(capacity),
        json!(modes),
        json!(class_text(claim)),
        json!(or_unset(claim, "/spec/volumeAttributesClassName")),
        printers::age_of(claim),
        json!(or_unset(claim, "/spec/volumeMode")),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admission::test_support::*;

    fn claim(name: &str) -> Value {
        json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name, "namespace": "demo"},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}})
    }

    #[test]
    fn a_new_claim_is_pending_in_filesystem_mode() {
        let admitted = admitted(resource("persistentvolumeclaims"), with(claim("data"), "/status", json!({"phase": "Bound"})));
        assert_eq!(admitted["spec"]["volumeMode"], "Filesystem");
        assert_eq!(admitted["status"], json!({"phase": "Pending"}));
    }

    #[test]
    fn a_claim_prints_as_kubectl_shows_it() {
        let pending = json!({"metadata": {"name": "data"}, "spec": {"storageClassName": "standard", "volumeMode": "Filesystem", "accessModes": ["ReadWriteOnce"]}, "status": {"phase": "Pending"}});
        let row = printers::row_of("PersistentVolumeClaim", &pending);
        assert_eq!(row[..7], [json!("data"), json!("Pending"), json!(""), json!(""), json!(""), json!("standard"), json!("<unset>")]);
        let bound = json!({"metadata": {"name": "data"}, "spec": {"volumeName": "pv1"}, "status": {"phase": "Bound", "capacity": {"storage": "2Gi"}, "accessModes": ["ReadWriteOncePod", "ReadOnlyMany"]}});
        let row = printers::row_of("PersistentVolumeClaim", &bound);
        assert_eq!(row[1..5], [json!("Bound"), json!("pv1"), json!("2Gi"), json!("ROX,RWOP")]);
        assert_eq!(row[8], json!("<unset>"));
    }
}
