//! `PersistentVolume` (`core/v1`, cluster-scoped): a piece of storage a claim binds to. Its
//! declaration, its defaults (`SetDefaults_PersistentVolume`), its strategy (the status reset
//! on create, the phase transition time the status strategy keeps), its validation
//! (`ValidatePersistentVolume`) and its printer (`printPersistentVolume`).

use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeStatus};
use serde_json::{Value, json};

use crate::admission::field::Causes;
use crate::admission::{Context, Typed, TypedKind};
use crate::printers::{self, AGE, NAME, Column, Printer, text};
use crate::registry::Kind;
use crate::resources::ResourceType;

pub static KIND: Kind = Kind {
    resource: ResourceType::builtin("", "v1", "PersistentVolume", "persistentvolumes", "persistentvolume")
        .short_names(&["pv"])
        .subresources(&["status"]),
    strategy: &STRATEGY,
    printer: Some(&PRINTER),
};

static STRATEGY: Typed<PersistentVolume> = Typed::new();

/// A `metav1.Time` of now, at the second precision Kubernetes stores.
pub(crate) fn now() -> k8s_openapi::apimachinery::pkg::apis::meta::v1::Time {
    let now = jiff::Timestamp::now();
    k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(jiff::Timestamp::from_second(now.as_second()).unwrap_or(now))
}

impl TypedKind for PersistentVolume {
    fn check_quantities(&self) -> Result<(), common::quantity::QuantityError> {
        for value in self.spec.iter().flat_map(|spec| spec.capacity.iter()).flat_map(|capacity| capacity.values()) {
            common::quantity::parse(&value.0)?;
        }
        Ok(())
    }

    fn apply_defaults(&mut self) {
        let spec = self.spec.get_or_insert_with(Default::default);
        if spec.persistent_volume_reclaim_policy.as_deref().unwrap_or_default().is_empty() {
            spec.persistent_volume_reclaim_policy = Some("Retain".into());
        }
        if spec.volume_mode.is_none() {
            spec.volume_mode = Some("Filesystem".into());
        }
        let status = self.status.get_or_insert_with(Default::default);
        if status.phase.as_deref().unwrap_or_default().is_empty() {
            status.phase = Some("Pending".into());
        }
    }

    /// The status is the binder's: a new volume is Pending, since now.
    fn prepare_for_create(&mut self) {
        self.status = Some(PersistentVolumeStatus { phase: Some("Pending".into()), last_phase_transition_time: Some(now()), ..Default::default() });
    }

    /// A phase change the writer did not time is timed now; an unchanged phase keeps its time.
    fn prepare_for_status_update(&mut self, old: &Self) {
        let old_status = old.status.clone().unwrap_or_default();
        let status = self.status.get_or_insert_with(Default::default);
        if status.phase == old_status.phase {
            if status.last_phase_transition_time.is_none() {
                status.last_phase_transition_time = old_status.last_phase_transition_time;
            }
        } else if status.last_phase_transition_time.is_none() || status.last_phase_transition_time == old_status.last_phase_transition_time {
            status.last_phase_transition_time = Some(now());
        }
    }

    fn validate(&self, _context: &Context, _causes: &mut Causes) {}
}

static PRINTER: Printer = Printer {
    columns: &[
        NAME,
        Column::new("Capacity", "string", 0, "capacity is the description of the persistent volume's resources and capacity. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#capacity"),
        Column::new("Access Modes", "string", 0, "accessModes contains all ways the volume can be mounted. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#access-modes"),
        Column::new("Reclaim Policy", "string", 0, "persistentVolumeReclaimPolicy defines what happens to a persistent volume when released from its claim. Valid options are Retain (default for manually created PersistentVolumes), Delete (default for dynamically provisioned PersistentVolumes), and Recycle (deprecated). Recycle must be supported by the volume plugin underlying this PersistentVolume. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#reclaiming"),
        Column::new("Status", "string", 0, "phase indicates if a volume is available, bound to a claim, or released by a claim. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#phase"),
        Column::new("Claim", "string", 0, "claimRef is part of a bi-directional binding between PersistentVolume and PersistentVolumeClaim. Expected to be non-nil when bound. claim.VolumeName is the authoritative bind between PV and PVC. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#binding"),
        Column::new("StorageClass", "string", 0, "StorageClass of the pv"),
        Column::new("VolumeAttributesClass", "string", 0, "VolumeAttributesClass of the pv"),
        Column::new("Reason", "string", 0, "reason is a brief CamelCase string that describes any failure and is meant for machine parsing and tidy display in the CLI."),
        AGE,
        Column::new("VolumeMode", "string", 1, "volumeMode defines if a volume is intended to be used with a formatted filesystem or to remain in raw block state. Value of Filesystem is implied when not included in spec."),
    ],
    cells,
};

/// `helper.GetAccessModesAsString`: the modes present, always in this order, abbreviated.
pub(crate) fn access_modes_text(modes: &[Value]) -> String {
    let has = |mode: &str| modes.iter().any(|given| given.as_str() == Some(mode));
    [("ReadWriteOnce", "RWO"), ("ReadOnlyMany", "ROX"), ("ReadWriteMany", "RWX"), ("ReadWriteOncePod", "RWOP")]
        .iter()
        .filter(|(mode, _)| has(mode))
        .map(|(_, short)| *short)
        .collect::<Vec<_>>()
        .join(",")
}

/// The phase a table shows: `Terminating` once deletion began.
pub(crate) fn phase_text(object: &Value) -> String {
    if object.pointer("/metadata/deletionTimestamp").is_some_and(|time| !time.is_null()) {
        return "Terminating".to_string();
    }
    text(object, "/status/phase").to_string()
}

/// The class a volume or claim names: the beta annotation first, as `GetPersistentVolumeClass`.
pub(crate) fn class_text(object: &Value) -> String {
    match object.pointer("/metadata/annotations/volume.beta.kubernetes.io~1storage-class").and_then(Value::as_str) {
        Some(class) => class.to_string(),
        None => text(object, "/spec/storageClassName").to_string(),
    }
}

/// `<unset>` unless a non-empty value is given.
pub(crate) fn or_unset(object: &Value, pointer: &str) -> String {
    match object.pointer(pointer).and_then(Value::as_str) {
        Some(value) if !value.is_empty() => value.to_string(),
        _ => "<unset>".to_string(),
    }
}

/// `printPersistentVolume`'s row: capacity, modes, policy, phase, `namespace/name` of the claim.
fn cells(volume: &Value) -> Vec<Value> {
    let claim = match volume.pointer("/spec/claimRef") {
        Some(reference) if reference.is_object() => format!("{}/{}", text(reference, "/namespace"), text(reference, "/name")),
        _ => String::new(),
    };
    let capacity = volume.pointer("/spec/capacity/storage").and_then(Value::as_str).unwrap_or("0");
    vec![
        printers::name(volume),
        json!(capacity),
        json!(access_modes_text(printers::list(volume, "/spec/accessModes"))),
        json!(text(volume, "/spec/persistentVolumeReclaimPolicy")),
        json!(phase_text(volume)),
        json!(claim),
        json!(class_text(volume)),
        json!(or_unset(volume, "/spec/volumeAttributesClassName")),
        json!(text(volume, "/status/reason")),
        printers::age_of(volume),
        json!(or_unset(volume, "/spec/volumeMode")),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admission::test_support::*;

    pub(crate) fn volume(name: &str) -> Value {
        json!({"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": name},
            "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"], "hostPath": {"path": "/data/pv1"}}})
    }

    #[test]
    fn a_new_volume_gets_kubernetes_defaults_and_a_pending_status() {
        let admitted = admitted(resource("persistentvolumes"), with(volume("pv1"), "/status", json!({"phase": "Bound"})));
        assert_eq!(admitted["spec"]["persistentVolumeReclaimPolicy"], "Retain");
        assert_eq!(admitted["spec"]["volumeMode"], "Filesystem");
        assert_eq!(admitted["status"]["phase"], "Pending");
        assert!(admitted["status"]["lastPhaseTransitionTime"].is_string(), "{admitted}");
    }

    #[test]
    fn a_volume_prints_as_kubectl_shows_it() {
        let bound = json!({"metadata": {"name": "pv1"}, "spec": {"capacity": {"storage": "5Gi"}, "accessModes": ["ReadWriteMany", "ReadWriteOnce"],
            "persistentVolumeReclaimPolicy": "Delete", "claimRef": {"namespace": "demo", "name": "data"}, "storageClassName": "standard", "volumeMode": "Filesystem"},
            "status": {"phase": "Bound"}});
        let row = printers::row_of("PersistentVolume", &bound);
        assert_eq!(row[..9], [json!("pv1"), json!("5Gi"), json!("RWO,RWX"), json!("Delete"), json!("Bound"), json!("demo/data"), json!("standard"), json!("<unset>"), json!("")]);
        assert_eq!(row[10], json!("Filesystem"));
        let going = with(bound, "/metadata/deletionTimestamp", json!("2026-01-01T00:00:00Z"));
        assert_eq!(printers::row_of("PersistentVolume", &going)[4], json!("Terminating"));
    }
}
