//! `PersistentVolume` (`core/v1`, cluster-scoped): a piece of storage a claim binds to. Its
//! declaration, its defaults (`SetDefaults_PersistentVolume`), its strategy (the status reset
//! on create, the phase transition time the status strategy keeps), its validation
//! (`ValidatePersistentVolume`) and its printer (`printPersistentVolume`).

use k8s_openapi::api::core::v1::{NodeSelector, PersistentVolume, PersistentVolumeSpec, PersistentVolumeStatus, VolumeNodeAffinity};
use serde_json::{Value, json};

use crate::admission::field::{Causes, Path};
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
        // SetDefaults_HostPathVolumeSource: no type is the empty one.
        if let Some(host_path) = spec.host_path.as_mut() {
            host_path.type_.get_or_insert_with(String::new);
        }
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

    /// The status is the binder's: a new volume is Pending, since now. StorageObjectInUseProtection
    /// keeps it while it is bound.
    fn prepare_for_create(&mut self) {
        crate::admission::storage::protect(&mut self.metadata.finalizers, common::storage::PV_PROTECTION);
        self.status = Some(PersistentVolumeStatus { phase: Some("Pending".into()), last_phase_transition_time: Some(now()), ..Default::default() });
    }

    /// The status is written through its subresource only.
    fn prepare_for_update(&mut self, old: &Self) {
        self.status.clone_from(&old.status);
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

    /// `ValidatePersistentVolume`.
    fn validate(&self, _context: &Context, causes: &mut Causes) {
        validate_spec(&self.spec.clone().unwrap_or_default(), &Path::new("spec"), causes);
    }

    /// `ValidatePersistentVolumeUpdate`: the source, the volume mode and a node affinity once
    /// set stay as created.
    fn validate_update(&self, old: &Self, context: &Context, causes: &mut Causes) {
        self.validate(context, causes);
        let (spec, old_spec) = (self.spec.clone().unwrap_or_default(), old.spec.clone().unwrap_or_default());
        let (source, old_source) = (volume_source(&spec), volume_source(&old_spec));
        if source != old_source {
            let diff = crate::admission::field::diff_lines("core.PersistentVolumeSource", &old_source, &source);
            causes.forbidden(&Path::new("spec").child("persistentvolumesource"), &format!("spec.persistentvolumesource is immutable after creation\n{diff}"));
        }
        if spec.volume_mode != old_spec.volume_mode {
            causes.immutable(&Path::new("volumeMode"), spec.volume_mode.clone().map_or(Value::Null, Value::from));
        }
        if old_spec.node_affinity.is_some() && spec.node_affinity != old_spec.node_affinity {
            causes.invalid_shown(&Path::new("nodeAffinity"), &go_node_affinity(spec.node_affinity.as_ref()), "field is immutable, except for updating from beta label to GA");
        }
    }
}

/// The access modes kube knows, as `sets.List` orders them for its messages.
pub(crate) const ACCESS_MODES: &[&str] = &["ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod"];
pub(crate) const VOLUME_MODES: &[&str] = &["Block", "Filesystem"];
const RECLAIM_POLICIES: &[&str] = &["Delete", "Recycle", "Retain"];
const HOST_PATH_TYPES: &[&str] = &["", "BlockDevice", "CharDevice", "Directory", "DirectoryOrCreate", "File", "FileOrCreate", "Socket"];

/// The access modes' checks a volume and a claim share: known modes, ReadWriteOncePod alone.
pub(crate) fn validate_access_modes(modes: &[String], path: &Path, causes: &mut Causes) {
    let (mut once_pod, mut other) = (false, false);
    for mode in modes {
        if !ACCESS_MODES.contains(&mode.as_str()) {
            causes.not_supported(path, mode.as_str(), ACCESS_MODES);
        } else if mode == "ReadWriteOncePod" {
            once_pod = true;
        } else {
            other = true;
        }
    }
    if once_pod && other {
        causes.forbidden(path, "may not use ReadWriteOncePod with other access modes");
    }
}

/// `validatePathNoBacksteps`: one cause however many `..` there are.
pub(crate) fn validate_no_backsteps(value: &str, path: &Path, causes: &mut Causes) {
    if value.split(['/', '\\']).any(|part| part == "..") {
        causes.invalid(path, value, "must not contain '..'");
    }
}

/// The volume sources a PersistentVolume may name, in the order `ValidatePersistentVolumeSpec`
/// looks at them, with the field name its "more than 1" cause uses.
fn sources(spec: &PersistentVolumeSpec) -> [(&'static str, bool); 22] {
    [
        ("hostPath", spec.host_path.is_some()),
        ("gcePersistentDisk", spec.gce_persistent_disk.is_some()),
        ("awsElasticBlockStore", spec.aws_elastic_block_store.is_some()),
        ("glusterfs", spec.glusterfs.is_some()),
        ("flocker", spec.flocker.is_some()),
        ("nfs", spec.nfs.is_some()),
        ("rbd", spec.rbd.is_some()),
        ("quobyte", spec.quobyte.is_some()),
        ("cephFS", spec.cephfs.is_some()),
        ("iscsi", spec.iscsi.is_some()),
        ("cinder", spec.cinder.is_some()),
        ("fc", spec.fc.is_some()),
        ("flexVolume", spec.flex_volume.is_some()),
        ("azureFile", spec.azure_file.is_some()),
        ("vsphereVolume", spec.vsphere_volume.is_some()),
        ("photonPersistentDisk", spec.photon_persistent_disk.is_some()),
        ("portworxVolume", spec.portworx_volume.is_some()),
        ("azureDisk", spec.azure_disk.is_some()),
        ("scaleIO", spec.scale_io.is_some()),
        ("local", spec.local.is_some()),
        ("storageos", spec.storageos.is_some()),
        ("csi", spec.csi.is_some()),
    ]
}

/// The `PersistentVolumeSource` part of a spec, as JSON, for the immutability check.
fn volume_source(spec: &PersistentVolumeSpec) -> Value {
    let mut whole = crate::admission::field::json_of(spec);
    if let Some(fields) = whole.as_object_mut() {
        let kept: Vec<String> = fields.keys().filter(|key| {
            !matches!(key.as_str(), "accessModes" | "capacity" | "claimRef" | "mountOptions" | "nodeAffinity" | "persistentVolumeReclaimPolicy" | "storageClassName" | "volumeAttributesClassName" | "volumeMode")
        }).cloned().collect();
        fields.retain(|key, _| kept.contains(key));
    }
    whole
}

/// `ValidatePersistentVolumeSpec` for a volume of its own (not an inline one).
fn validate_spec(spec: &PersistentVolumeSpec, path: &Path, causes: &mut Causes) {
    let modes = spec.access_modes.as_deref().unwrap_or_default();
    if modes.is_empty() {
        causes.required(&path.child("accessModes"), "");
    }
    validate_access_modes(modes, &path.child("accessModes"), causes);

    let capacity_path = path.child("capacity");
    let capacity = spec.capacity.as_ref().filter(|capacity| !capacity.is_empty());
    if capacity.is_none() {
        causes.required(&capacity_path, "");
    }
    if capacity.is_none_or(|capacity| !capacity.contains_key("storage") || capacity.len() > 1) {
        let shown = capacity.map_or(Value::Null, |capacity| json!(capacity.iter().map(|(name, value)| (name.clone(), json!(value.0))).collect::<serde_json::Map<_, _>>()));
        causes.not_supported(&capacity_path, shown, &["storage"]);
    }
    for (name, value) in capacity.into_iter().flatten() {
        let Ok(parsed) = common::quantity::parse(&value.0) else { continue };
        if parsed.is_negative() {
            causes.invalid(&capacity_path.key(name), parsed.value(), "must be a valid resource quantity");
        }
        if !parsed.is_positive() {
            causes.invalid(&capacity_path.key(name), value.0.as_str(), "must be greater than zero");
        }
    }

    let policy = spec.persistent_volume_reclaim_policy.as_deref().unwrap_or_default();
    if !policy.is_empty() && !RECLAIM_POLICIES.contains(&policy) {
        causes.not_supported(&path.child("persistentVolumeReclaimPolicy"), policy, RECLAIM_POLICIES);
    }

    let affinity = spec.node_affinity.as_ref();
    if let Some(affinity) = affinity {
        match affinity.required.as_ref() {
            Some(required) => validate_node_selector(required, &path.child("nodeAffinity").child("required"), causes),
            None => causes.required(&path.child("nodeAffinity").child("required"), "must specify required node constraints"),
        }
    }

    let mut count = 0;
    for (field, set) in sources(spec) {
        if !set {
            continue;
        }
        // A flexVolume counts without being refused, as in kube.
        if count > 0 && field != "flexVolume" {
            causes.forbidden(&path.child(field), "may not specify more than 1 volume type");
            continue;
        }
        count += 1;
        match field {
            "hostPath" => {
                if let Some(host_path) = spec.host_path.as_ref() {
                    let source_path = path.child("hostPath");
                    if host_path.path.is_empty() {
                        causes.required(&source_path.child("path"), "");
                    } else {
                        validate_no_backsteps(&host_path.path, &source_path.child("path"), causes);
                        let kind = host_path.type_.as_deref().unwrap_or_default();
                        if !HOST_PATH_TYPES.contains(&kind) {
                            causes.not_supported(&source_path.child("type"), kind, HOST_PATH_TYPES);
                        }
                    }
                }
            }
            "local" => {
                if let Some(local) = spec.local.as_ref() {
                    if local.path.is_empty() {
                        causes.required(&path.child("local").child("path"), "");
                    } else {
                        validate_no_backsteps(&local.path, &path.child("local").child("path"), causes);
                    }
                    if affinity.is_none() {
                        causes.required(&path.child("nodeAffinity"), "Local volume requires node affinity");
                    }
                }
            }
            "nfs" => {
                if let Some(nfs) = spec.nfs.as_ref() {
                    let source_path = path.child("nfs");
                    if nfs.server.is_empty() {
                        causes.required(&source_path.child("server"), "");
                    }
                    if nfs.path.is_empty() {
                        causes.required(&source_path.child("path"), "");
                    } else if !nfs.path.starts_with('/') {
                        causes.invalid(&source_path.child("path"), nfs.path.as_str(), "must be an absolute path");
                    }
                }
            }
            "csi" => {
                if let Some(csi) = spec.csi.as_ref() {
                    let source_path = path.child("csi");
                    if csi.driver.is_empty() {
                        causes.required(&source_path.child("driver"), "");
                    }
                    if csi.volume_handle.is_empty() {
                        causes.required(&source_path.child("volumeHandle"), "");
                    }
                }
            }
            _ => {}
        }
    }
    if count == 0 {
        causes.required(path, "must specify a volume type");
    }

    if let Some(host_path) = spec.host_path.as_ref()
        && clean_is_root(&host_path.path)
        && policy == "Recycle"
    {
        causes.forbidden(&path.child("persistentVolumeReclaimPolicy"), "may not be 'recycle' for a hostPath mount of '/'");
    }
    let class = spec.storage_class_name.as_deref().unwrap_or_default();
    if !class.is_empty() {
        causes.invalid_each(&path.child("storageClassName"), class, common::names::dns1123_subdomain(class));
    }
    if let Some(mode) = spec.volume_mode.as_deref()
        && !VOLUME_MODES.contains(&mode)
    {
        causes.not_supported(&path.child("volumeMode"), mode, VOLUME_MODES);
    }
}

/// Whether Go's `path.Clean` makes this `/`.
fn clean_is_root(value: &str) -> bool {
    value.starts_with('/') && value.split('/').all(|part| part.is_empty() || part == "." || part == "..")
}

/// `ValidateNodeSelector` (required node affinity: label values checked).
pub(crate) fn validate_node_selector(selector: &NodeSelector, path: &Path, causes: &mut Causes) {
    let terms_path = path.child("nodeSelectorTerms");
    if selector.node_selector_terms.is_empty() {
        causes.required(&terms_path, "must have at least one node selector term");
        return;
    }
    for (index, term) in selector.node_selector_terms.iter().enumerate() {
        let term_path = terms_path.index(index);
        for (position, requirement) in term.match_expressions.iter().flatten().enumerate() {
            let requirement_path = term_path.child("matchExpressions").index(position);
            let values = requirement.values.as_deref().unwrap_or_default();
            validate_operator(&requirement.operator, values.len(), &requirement_path, causes);
            causes.invalid_each(&requirement_path.child("key"), &requirement.key, common::names::qualified_name(&requirement.key));
            for (value_index, value) in values.iter().enumerate() {
                causes.invalid_each(&requirement_path.child("values").index(value_index), value, common::names::label_value(value));
            }
        }
        for (position, requirement) in term.match_fields.iter().flatten().enumerate() {
            let requirement_path = term_path.child("matchFields").index(position);
            let values = requirement.values.as_deref().unwrap_or_default();
            match requirement.operator.as_str() {
                "In" | "NotIn" => {
                    if values.len() != 1 {
                        causes.required(&requirement_path.child("values"), "must be only one value when `operator` is 'In' or 'NotIn' for node field selector");
                    }
                }
                other => causes.invalid(&requirement_path.child("operator"), other, "not a valid selector operator"),
            }
            if requirement.key != "metadata.name" {
                causes.invalid(&requirement_path.child("key"), requirement.key.as_str(), "not a valid field selector key");
            }
        }
    }
}

/// `ValidateNodeSelectorRequirement`'s operator rules.
fn validate_operator(operator: &str, values: usize, path: &Path, causes: &mut Causes) {
    match operator {
        "In" | "NotIn" if values == 0 => causes.required(&path.child("values"), "must be specified when `operator` is 'In' or 'NotIn'"),
        "Exists" | "DoesNotExist" if values > 0 => causes.forbidden(&path.child("values"), "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"),
        "Gt" | "Lt" if values != 1 => causes.required(&path.child("values"), "must be specified single value when `operator` is 'Lt' or 'Gt'"),
        "In" | "NotIn" | "Exists" | "DoesNotExist" | "Gt" | "Lt" => {}
        other => causes.invalid(&path.child("operator"), other, "not a valid selector operator"),
    }
}

/// A volume node affinity as a cause shows it: Go's JSON of the internal type, whose fields
/// have no JSON names (`{"Required":{"NodeSelectorTerms":[...]}}`).
fn go_node_affinity(affinity: Option<&VolumeNodeAffinity>) -> String {
    let Some(affinity) = affinity else { return "null".to_string() };
    let requirement = |key: &str, operator: &str, values: &Option<Vec<String>>| json!({"Key": key, "Operator": operator, "Values": values});
    let required = affinity.required.as_ref().map(|required| {
        let terms: Vec<Value> = required.node_selector_terms.iter().map(|term| {
            let expressions = term.match_expressions.as_ref().map(|list| list.iter().map(|r| requirement(&r.key, &r.operator, &r.values)).collect::<Vec<_>>());
            let fields = term.match_fields.as_ref().map(|list| list.iter().map(|r| requirement(&r.key, &r.operator, &r.values)).collect::<Vec<_>>());
            json!({"MatchExpressions": expressions, "MatchFields": fields})
        }).collect();
        json!({"NodeSelectorTerms": terms})
    });
    // serde_json writes object keys sorted, as Go writes struct fields in declaration order:
    // the two agree for these types.
    json!({"Required": required}).to_string()
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

/// The class a volume or claim names: the beta annotation first, as `GetPersistentVolumeClass`
/// and `GetPersistentVolumeClaimClass` read it, and as common's `volume_class` and
/// `claim_class` do, so that the class `kubectl get` shows is the one binding uses.
pub(crate) fn class_text(object: &Value) -> String {
    match object.pointer("/metadata/annotations").and_then(|annotations| annotations.get(common::storage::BETA_STORAGE_CLASS)).and_then(Value::as_str) {
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
    fn the_printed_class_is_the_one_binding_reads() {
        let (annotated, named) = (json!({"volume.beta.kubernetes.io/storage-class": "slow"}), json!("fast"));
        let rows = [
            ("both, the annotation first", Some(annotated.clone()), Some(named.clone()), "slow"),
            ("the annotation only", Some(annotated), None, "slow"),
            ("the field only", None, Some(named), "fast"),
            ("an empty annotation over a field", Some(json!({"volume.beta.kubernetes.io/storage-class": ""})), Some(json!("fast")), ""),
            ("neither", None, None, ""),
        ];
        for (case, annotations, class, expected) in rows {
            let mut object = json!({"metadata": {"name": "x", "namespace": "demo"}, "spec": {}});
            if let Some(annotations) = annotations {
                object["metadata"]["annotations"] = annotations;
            }
            if let Some(class) = class {
                object["spec"]["storageClassName"] = class;
            }
            assert_eq!(class_text(&object), expected, "{case}");
            let volume: PersistentVolume = serde_json::from_value(object.clone()).unwrap();
            assert_eq!(common::storage::volume_class(&volume), expected, "volume: {case}");
            let claim: k8s_openapi::api::core::v1::PersistentVolumeClaim = serde_json::from_value(object.clone()).unwrap();
            assert_eq!(common::storage::claim_class(&claim), expected, "claim: {case}");
            assert_eq!(printers::row_of("PersistentVolume", &object)[6], json!(expected), "volume row: {case}");
            assert_eq!(printers::row_of("PersistentVolumeClaim", &object)[5], json!(expected), "claim row: {case}");
        }
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

    #[test]
    fn volume_validation() {
        let pinned = with(volume("pv1"), "/spec/nodeAffinity", json!({"required": {"nodeSelectorTerms": [{"matchExpressions": [{"key": "kubernetes.io/hostname", "operator": "In", "values": ["n1"]}]}]}}));
        let local = with(without(pinned.clone(), "/spec/hostPath"), "/spec/local", json!({"path": "/mnt/disk"}));
        let rows: Vec<(&str, Value, Outcome)> = vec![
            ("valid", pinned.clone(), Outcome::Admitted),
            ("local, pinned", local.clone(), Outcome::Admitted),
            ("local, not pinned", without(local, "/spec/nodeAffinity"), invalid(&["spec.nodeAffinity"], "spec.nodeAffinity: Required value: Local volume requires node affinity")),
            ("no modes", without(volume("pv1"), "/spec/accessModes"), invalid(&["spec.accessModes"], "spec.accessModes: Required value")),
            ("two resources", with(volume("pv1"), "/spec/capacity/cpu", json!("1")), invalid(&["spec.capacity"], "Unsupported value: {\"cpu\":\"1\",\"storage\":\"1Gi\"}: supported values: \"storage\"")),
            ("zero capacity", with(volume("pv1"), "/spec/capacity/storage", json!("0")), invalid(&["spec.capacity[storage]"], "Invalid value: \"0\": must be greater than zero")),
            ("no affinity required", with(volume("pv1"), "/spec/nodeAffinity", json!({})), invalid(&["spec.nodeAffinity.required"], "Required value: must specify required node constraints")),
            ("an unknown operator", with(pinned.clone(), "/spec/nodeAffinity/required/nodeSelectorTerms/0/matchExpressions/0/operator", json!("Near")),
             invalid(&["spec.nodeAffinity.required.nodeSelectorTerms[0].matchExpressions[0].operator"], "Invalid value: \"Near\": not a valid selector operator")),
            ("an unknown host path type", with(volume("pv1"), "/spec/hostPath/type", json!("Dir")), invalid(&["spec.hostPath.type"], "supported values: \"\", \"BlockDevice\"")),
            ("recycling /", with(with(volume("pv1"), "/spec/hostPath/path", json!("/")), "/spec/persistentVolumeReclaimPolicy", json!("Recycle")),
             invalid(&["spec.persistentVolumeReclaimPolicy"], "Forbidden: may not be 'recycle' for a hostPath mount of '/'")),
        ];
        run_create("persistentvolumes", rows);
        let old = admitted(resource("persistentvolumes"), pinned.clone());
        let moved = with(old.clone(), "/spec/nodeAffinity/required/nodeSelectorTerms/0/matchExpressions/0/values", json!(["n2"]));
        let rows: Vec<(&str, Value, Outcome)> = vec![
            ("bound", with(old.clone(), "/spec/claimRef", json!({"namespace": "demo", "name": "data", "uid": "1"})), Outcome::Admitted),
            ("moved", moved, invalid(&["nodeAffinity"], "nodeAffinity: Invalid value: {\"Required\":{\"NodeSelectorTerms\":[{\"MatchExpressions\":[{\"Key\":\"kubernetes.io/hostname\",\"Operator\":\"In\",\"Values\":[\"n2\"]}],\"MatchFields\":null}]}}: field is immutable, except for updating from beta label to GA")),
            ("block mode", with(old.clone(), "/spec/volumeMode", json!("Block")), invalid(&["volumeMode"], "volumeMode: Invalid value: \"Block\": field is immutable")),
        ];
        run_update("persistentvolumes", &old, rows);
    }
}
