//! `PersistentVolumeClaim` (`core/v1`): a pod's request for storage. Its declaration, its
//! defaults (`SetDefaults_PersistentVolumeClaim(Spec)`), its strategy (the status reset on
//! create), its validation (`ValidatePersistentVolumeClaim`, `ValidatePersistentVolumeClaimUpdate`)
//! and its printer (`printPersistentVolumeClaim`).

use k8s_openapi::api::core::v1::{PersistentVolumeClaim, PersistentVolumeClaimSpec, PersistentVolumeClaimStatus};
use serde_json::{Value, json};

use super::persistent_volume::{VOLUME_MODES, access_modes_text, class_text, or_unset, phase_text, validate_access_modes};
use crate::admission::field::{Causes, Path, diff_lines, json_of};
use crate::admission::{Context, Typed, TypedKind};
use crate::errors::ApiError;
use crate::strategy::{Admitted, Cluster, FieldValidation, Operation, Strategy};
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

static STRATEGY: ClaimStrategy = ClaimStrategy(Typed::new());

struct ClaimStrategy(Typed<PersistentVolumeClaim>);

#[async_trait::async_trait]
impl Strategy for ClaimStrategy {
    fn admit(&self, resource: &ResourceType, object: Value, old: Option<&Value>, operation: Operation, validation: FieldValidation) -> Result<Admitted, ApiError> {
        self.0.admit(resource, object, old, operation, validation)
    }

    /// The DefaultStorageClass admission plugin, then LimitRanger's storage bounds.
    async fn mutate_create(&self, cluster: &dyn Cluster, namespace: Option<&str>, claim: &mut Value) -> Result<(), ApiError> {
        crate::admission::storage::default_storage_class(cluster, claim).await?;
        crate::admission::limit_ranger::admit_claim(cluster, &KIND.resource, namespace, claim).await
    }

    /// LimitRanger's storage bounds hold for an update (a resize) too; a claim being deleted
    /// is left alone, as kube's plugin leaves it.
    async fn check_update(&self, cluster: &dyn Cluster, namespace: Option<&str>, claim: &Value, old: &Value) -> Result<(), ApiError> {
        if crate::meta::is_being_deleted(old) {
            return Ok(());
        }
        crate::admission::limit_ranger::admit_claim(cluster, &KIND.resource, namespace, claim).await
    }

    /// Claims count, with their storage, per class too (kube's claim evaluator).
    fn usage(&self) -> Option<&'static dyn common::quota::Evaluator> {
        Some(&common::quota::ClaimEvaluator)
    }
}

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

    /// The status is the binder's: a new claim is Pending. StorageObjectInUseProtection
    /// keeps it while pods use it.
    fn prepare_for_create(&mut self) {
        crate::admission::storage::protect(&mut self.metadata.finalizers, common::storage::PVC_PROTECTION);
        self.status = Some(PersistentVolumeClaimStatus { phase: Some("Pending".into()), ..Default::default() });
    }

    /// The status is written through its subresource only.
    fn prepare_for_update(&mut self, old: &Self) {
        self.status.clone_from(&old.status);
    }

    /// `ValidatePersistentVolumeClaimStatusUpdate`: the capacity the binder reports is a
    /// quantity of storage.
    fn validate_status_update(&self, _old: &Self, _context: &Context, causes: &mut Causes) {
        let capacity = self.status.as_ref().and_then(|status| status.capacity.as_ref());
        for (name, value) in capacity.into_iter().flatten() {
            if let Ok(parsed) = common::quantity::parse(&value.0)
                && parsed.is_negative()
            {
                causes.invalid(&Path::new("status").child("capacity").key(name), parsed.value(), "must be a valid resource quantity");
            }
        }
    }

    /// `ValidatePersistentVolumeClaim`.
    fn validate(&self, _context: &Context, causes: &mut Causes) {
        validate_spec(&self.spec.clone().unwrap_or_default(), &Path::new("spec"), causes);
    }

    /// `ValidatePersistentVolumeClaimUpdate`: the spec stays as created, but for the volume
    /// name set once (by the binder), a class set where there was none (by the default class),
    /// and the storage request of a bound claim (an expansion, never below the capacity).
    fn validate_update(&self, old: &Self, context: &Context, causes: &mut Causes) {
        self.validate(context, causes);
        let (spec, old_spec) = (self.spec.clone().unwrap_or_default(), old.spec.clone().unwrap_or_default());
        let (mut new_clone, mut old_clone) = (spec.clone(), old_spec.clone());
        if old_spec.volume_name.as_deref().unwrap_or_default().is_empty() {
            old_clone.volume_name.clone_from(&new_clone.volume_name);
        }
        let annotation = |claim: &Self| claim.metadata.annotations.as_ref().and_then(|annotations| annotations.get(BETA_CLASS)).cloned();
        let (old_annotation, new_annotation) = (annotation(old), annotation(self));
        let from_annotation = old_annotation.is_some()
            && old_spec.storage_class_name.is_none()
            && spec.storage_class_name.is_some()
            && spec.storage_class_name == old_annotation
            && (new_annotation.is_none() || new_annotation == old_annotation);
        if from_annotation {
            new_clone.storage_class_name = None;
        } else {
            // `ValidateImmutableAnnotation`: absent is "", and the path joins the key with a dot.
            let (shown, was) = (new_annotation.clone().unwrap_or_default(), old_annotation.clone().unwrap_or_default());
            if shown != was {
                causes.invalid(&Path::new("metadata").child("annotations").child(BETA_CLASS), shown, "field is immutable");
            }
            let from_nil = spec.storage_class_name.is_some()
                && old_spec.storage_class_name.is_none()
                && (old_annotation.is_none() || spec.storage_class_name == old_annotation);
            if from_nil {
                new_clone.storage_class_name.clone_from(&old_clone.storage_class_name);
            }
        }
        let bound = self.status.as_ref().and_then(|status| status.phase.as_deref()) == Some("Bound");
        if bound && let Some(requests) = new_clone.resources.as_mut().and_then(|resources| resources.requests.as_mut()) {
            match storage_of(&old_spec) {
                Some(old_request) => requests.insert("storage".into(), old_request.clone()),
                None => requests.remove("storage"),
            };
        }
        new_clone.volume_attributes_class_name.clone_from(&old_clone.volume_attributes_class_name);
        let (new_json, old_json) = (json_of(&new_clone), json_of(&old_clone));
        if new_json != old_json {
            let diff = diff_lines("core.PersistentVolumeClaimSpec", &old_json, &new_json);
            causes.forbidden(&Path::new("spec"), &format!("spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims\n{diff}"));
        }
        let parse = |quantity: Option<&k8s_openapi::apimachinery::pkg::api::resource::Quantity>| quantity.and_then(|quantity| common::quantity::parse(&quantity.0).ok());
        let capacity = parse(old.status.as_ref().and_then(|status| status.capacity.as_ref()).and_then(|capacity| capacity.get("storage")));
        // RecoverVolumeExpansionFailure (on in 1.33): a request may come down, not to the capacity.
        let shrunk = match (parse(storage_of(&spec)), parse(storage_of(&old_spec))) {
            (Some(new_size), Some(old_size)) => new_size.compare(&old_size).is_lt() && capacity.map_or(!new_size.is_positive(), |capacity| new_size.compare(&capacity).is_le()),
            _ => false,
        };
        if shrunk {
            causes.forbidden(&Path::new("spec").child("resources").child("requests").child("storage"), "field can not be less than status.capacity");
        }
        if spec.volume_mode != old_spec.volume_mode {
            causes.immutable(&Path::new("volumeMode"), spec.volume_mode.clone().map_or(Value::Null, Value::from));
        }
    }
}

const BETA_CLASS: &str = common::storage::BETA_STORAGE_CLASS;

fn storage_of(spec: &PersistentVolumeClaimSpec) -> Option<&k8s_openapi::apimachinery::pkg::api::resource::Quantity> {
    spec.resources.as_ref().and_then(|resources| resources.requests.as_ref()).and_then(|requests| requests.get("storage"))
}

/// `ValidatePersistentVolumeClaimSpec`.
pub(crate) fn validate_spec(spec: &PersistentVolumeClaimSpec, path: &Path, causes: &mut Causes) {
    let modes = spec.access_modes.as_deref().unwrap_or_default();
    if modes.is_empty() {
        causes.required(&path.child("accessModes"), "at least 1 access mode is required");
    }
    if let Some(selector) = spec.selector.as_ref() {
        crate::admission::deployment::validate_label_selector(selector, &path.child("selector"), causes);
    }
    validate_access_modes(modes, &path.child("accessModes"), causes);
    let storage_path = path.child("resources").key("storage");
    match storage_of(spec) {
        None => causes.required(&storage_path, ""),
        Some(request) => {
            if let Ok(parsed) = common::quantity::parse(&request.0)
                && !parsed.is_positive()
            {
                causes.invalid(&storage_path, request.0.as_str(), "must be greater than zero");
            }
        }
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
    let source = spec.data_source.as_ref().map(|source| (source.api_group.as_deref(), source.kind.as_str(), source.name.as_str()));
    let reference = spec.data_source_ref.as_ref().map(|source| (source.api_group.as_deref(), source.kind.as_str(), source.name.as_str()));
    for (field, given) in [("dataSource", source), ("dataSourceRef", reference)] {
        let Some((group, kind, name)) = given else { continue };
        let source_path = path.child(field);
        if name.is_empty() {
            causes.required(&source_path.child("name"), "");
        }
        if kind.is_empty() {
            causes.required(&source_path.child("kind"), "");
        }
        let group = group.unwrap_or_default();
        if group.is_empty() && kind != "PersistentVolumeClaim" {
            causes.invalid(&source_path, kind, "must be 'PersistentVolumeClaim' when referencing the default apiGroup");
        }
        if !group.is_empty() {
            causes.invalid_each(&source_path.child("apiGroup"), group, common::names::dns1123_subdomain(group));
        }
    }
    let namespaced_reference = spec.data_source_ref.as_ref().and_then(|reference| reference.namespace.as_deref()).is_some_and(|namespace| !namespace.is_empty());
    if namespaced_reference {
        if spec.data_source.is_some() {
            causes.invalid(path, path.child("dataSource").to_string(), "may not be specified when dataSourceRef.namespace is specified");
        }
    } else if let (Some(source), Some(reference)) = (source, reference)
        && source != reference
    {
        causes.invalid(path, path.child("dataSource").to_string(), "must match dataSourceRef");
    }
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

    #[test]
    fn a_claim_changes_only_as_kube_lets_it() {
        let bound = with(with(admitted(resource("persistentvolumeclaims"), claim("data")), "/spec/volumeName", json!("pv1")),
            "/status", json!({"phase": "Bound", "capacity": {"storage": "1Gi"}}));
        let immutable = "spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims";
        let rows: Vec<(&str, Value, Outcome)> = vec![
            ("grown", with(bound.clone(), "/spec/resources/requests/storage", json!("2Gi")), Outcome::Admitted),
            ("a class where there was none", with(bound.clone(), "/spec/storageClassName", json!("standard")), Outcome::Admitted),
            ("labelled", with(bound.clone(), "/metadata/labels", json!({"a": "b"})), Outcome::Admitted),
            ("shrunk to the capacity", with(bound.clone(), "/spec/resources/requests/storage", json!("512Mi")),
             invalid(&["spec.resources.requests.storage"], "Forbidden: field can not be less than status.capacity")),
            ("another volume", with(bound.clone(), "/spec/volumeName", json!("pv2")), invalid(&["spec"], immutable)),
            ("other modes", with(bound.clone(), "/spec/accessModes", json!(["ReadWriteMany"])), invalid(&["spec"], immutable)),
            ("block mode", with(bound.clone(), "/spec/volumeMode", json!("Block")), invalid(&["spec", "volumeMode"], "volumeMode: Invalid value: \"Block\": field is immutable")),
            ("a beta class annotation", with(bound.clone(), "/metadata/annotations", json!({"volume.beta.kubernetes.io/storage-class": "x"})),
             invalid(&["metadata.annotations.volume.beta.kubernetes.io/storage-class"], "Invalid value: \"x\": field is immutable")),
        ];
        // The stored claim is bound: its status is what the update is judged with.
        let old = with(bound.clone(), "/spec/volumeName", json!("pv1"));
        run_update("persistentvolumeclaims", &old, rows);
        // An unbound claim's request is part of its immutable spec.
        let pending = admitted(resource("persistentvolumeclaims"), claim("data"));
        let rows: Vec<(&str, Value, Outcome)> = vec![
            ("its volume, once", with(pending.clone(), "/spec/volumeName", json!("pv1")), Outcome::Admitted),
            ("grown while pending", with(pending.clone(), "/spec/resources/requests/storage", json!("2Gi")), invalid(&["spec"], immutable)),
        ];
        run_update("persistentvolumeclaims", &pending, rows);
        let status = |capacity: &str| crate::admission::admit_status_update(resource("persistentvolumeclaims"),
            with(pending.clone(), "/status", json!({"phase": "Bound", "capacity": {"storage": capacity}})), &pending, crate::strategy::FieldValidation::Strict);
        assert!(status("1Gi").is_ok_and(|admitted| admitted.object["status"]["phase"] == "Bound"));
        let refused = status("-1Gi").expect_err("a negative capacity");
        assert!(refused.message.ends_with("status.capacity[storage]: Invalid value: -1073741824: must be a valid resource quantity"), "{}", refused.message);
    }
}
