//! `CSIDriver` (`storage.k8s.io/v1`, cluster-scoped): what a CSI driver on the nodes needs of
//! Kubernetes. Its declaration, its defaults (`SetDefaults_CSIDriver`), the immutability of
//! its attach and lifecycle settings (`ValidateCSIDriverUpdate`) and its printer (`printCSIDriver`).

use k8s_openapi::api::storage::v1::CSIDriver;
use serde_json::{Value, json};

use crate::admission::field::{Causes, Path, json_of};
use crate::admission::{Context, Typed, TypedKind};
use crate::printers::{self, AGE, NAME, Column, Printer, list};
use crate::registry::Kind;
use crate::resources::ResourceType;

pub static KIND: Kind = Kind {
    resource: ResourceType::builtin("storage.k8s.io", "v1", "CSIDriver", "csidrivers", "csidriver"),
    strategy: &STRATEGY,
    printer: Some(&PRINTER),
};

static STRATEGY: Typed<CSIDriver> = Typed::new();

impl TypedKind for CSIDriver {
    fn apply_defaults(&mut self) {
        let spec = &mut self.spec;
        spec.attach_required.get_or_insert(true);
        spec.pod_info_on_mount.get_or_insert(false);
        spec.storage_capacity.get_or_insert(false);
        spec.requires_republish.get_or_insert(false);
        spec.se_linux_mount.get_or_insert(false);
        spec.fs_group_policy.get_or_insert_with(|| "ReadWriteOnceWithFSType".into());
        if spec.volume_lifecycle_modes.as_ref().is_none_or(Vec::is_empty) {
            spec.volume_lifecycle_modes = Some(vec!["Persistent".into()]);
        }
    }

    fn validate(&self, _context: &Context, causes: &mut Causes) {
        let path = Path::new("spec");
        // `validateVolumeLifecycleModes`: the list's path, kube's order of the modes.
        for mode in self.spec.volume_lifecycle_modes.iter().flatten() {
            if mode != "Persistent" && mode != "Ephemeral" {
                causes.not_supported(&path.child("volumeLifecycleModes"), mode.as_str(), &["Persistent", "Ephemeral"]);
            }
        }
        if let Some(policy) = self.spec.fs_group_policy.as_deref()
            && !["File", "None", "ReadWriteOnceWithFSType"].contains(&policy)
        {
            causes.not_supported(&path.child("fsGroupPolicy"), policy, &["File", "None", "ReadWriteOnceWithFSType"]);
        }
    }

    fn validate_update(&self, old: &Self, context: &Context, causes: &mut Causes) {
        self.validate(context, causes);
        let path = Path::new("spec");
        if self.spec.attach_required != old.spec.attach_required {
            causes.immutable(&path.child("attachRequired"), json_of(&self.spec.attach_required));
        }
        if self.spec.volume_lifecycle_modes != old.spec.volume_lifecycle_modes {
            causes.immutable(&path.child("volumeLifecycleModes"), json_of(&self.spec.volume_lifecycle_modes));
        }
    }
}

static PRINTER: Printer = Printer {
    columns: &[
        NAME,
        Column::new("AttachRequired", "boolean", 0, "attachRequired indicates this CSI volume driver requires an attach operation."),
        Column::new("PodInfoOnMount", "boolean", 0, "podInfoOnMount indicates this CSI volume driver requires additional pod information (like podName, podUID, etc.) during mount operations, if set to true."),
        Column::new("StorageCapacity", "boolean", 0, "storageCapacity indicates that the CSI volume driver wants pod scheduling to consider the storage capacity that the driver deployment will report by creating CSIStorageCapacity objects with capacity information, if set to true."),
        Column::new("TokenRequests", "string", 0, "tokenRequests indicates the CSI driver needs pods' service account tokens it is mounting volume for to do necessary authentication."),
        Column::new("RequiresRepublish", "boolean", 0, "requiresRepublish indicates the CSI driver wants `NodePublishVolume` being periodically called to reflect any possible change in the mounted volume."),
        Column::new("Modes", "string", 0, "volumeLifecycleModes defines what kind of volumes this CSI volume driver supports."),
        AGE,
    ],
    cells,
};

/// `printCSIDriver`'s row: the flags with their defaults, token audiences (`<unset>` without
/// the list), lifecycle modes (`<none>` without any).
fn cells(driver: &Value) -> Vec<Value> {
    let flag = |name: &str, default: bool| driver.pointer(&format!("/spec/{name}")).and_then(Value::as_bool).unwrap_or(default);
    let tokens = match driver.pointer("/spec/tokenRequests").and_then(Value::as_array) {
        None => "<unset>".to_string(),
        Some(requests) => requests.iter().map(|request| request.get("audience").and_then(Value::as_str).unwrap_or_default()).collect::<Vec<_>>().join(","),
    };
    let modes: Vec<&str> = list(driver, "/spec/volumeLifecycleModes").iter().filter_map(Value::as_str).collect();
    let modes = if modes.is_empty() { "<none>".to_string() } else { modes.join(",") };
    vec![
        printers::name(driver),
        json!(flag("attachRequired", true)),
        json!(flag("podInfoOnMount", false)),
        json!(flag("storageCapacity", false)),
        json!(tokens),
        json!(flag("requiresRepublish", false)),
        json!(modes),
        printers::age_of(driver),
    ]
}
