//! `metadata` checks shared by every kind (`ValidateObjectMeta`, `ValidateObjectMetaUpdate`), and
//! the label and annotation checks that pod templates and selectors reuse.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::Value;

use super::field::{Causes, Path, json_of};
use super::names::{self, NameFormat};

/// `TotalAnnotationSizeLimitB`: all keys and values together.
const ANNOTATIONS_SIZE_LIMIT: usize = 256 * 1024;

/// Finalizers Kubernetes itself defines, the only ones allowed without a `domain/` prefix.
const STANDARD_FINALIZERS: &[&str] = &["kubernetes", "orphan", "foregroundDeletion"];

pub(crate) fn validate(meta: &ObjectMeta, namespaced: bool, format: NameFormat, causes: &mut Causes) {
    let path = Path::new("metadata");
    if let Some(prefix) = meta.generate_name.as_deref().filter(|prefix| !prefix.is_empty()) {
        causes.invalid_each(&path.child("generateName"), prefix, format.check(prefix, true));
    }
    match meta.name.as_deref().filter(|name| !name.is_empty()) {
        None => causes.required(&path.child("name"), "name or generateName is required"),
        Some(name) => causes.invalid_each(&path.child("name"), name, format.check(name, false)),
    }
    let namespace = meta.namespace.as_deref().unwrap_or_default();
    if namespaced {
        if namespace.is_empty() {
            causes.required(&path.child("namespace"), "");
        } else {
            causes.invalid_each(&path.child("namespace"), namespace, NameFormat::Dns1123Label.check(namespace, false));
        }
    } else if !namespace.is_empty() {
        causes.forbidden(&path.child("namespace"), "not allowed on this type");
    }
    if let Some(generation) = meta.generation.filter(|generation| *generation < 0) {
        causes.invalid(&path.child("generation"), generation, "must be greater than or equal to 0");
    }
    validate_labels(meta.labels.as_ref(), &path.child("labels"), causes);
    validate_annotations(meta.annotations.as_ref(), &path.child("annotations"), causes);
    validate_owner_references(meta, &path.child("ownerReferences"), causes);
    validate_finalizers(meta.finalizers.as_deref().unwrap_or_default(), &path.child("finalizers"), true, causes);
}

/// `ValidateObjectMetaUpdate`: what the server set at creation does not change.
pub(crate) fn validate_update(new: &ObjectMeta, old: &ObjectMeta, causes: &mut Causes) {
    let path = Path::new("metadata");
    let unchanged: [(&str, Value, Value); 6] = [
        ("name", json_of(&new.name), json_of(&old.name)),
        ("namespace", json_of(&new.namespace), json_of(&old.namespace)),
        ("uid", json_of(&new.uid), json_of(&old.uid)),
        ("creationTimestamp", json_of(&new.creation_timestamp), json_of(&old.creation_timestamp)),
        ("deletionTimestamp", json_of(&new.deletion_timestamp), json_of(&old.deletion_timestamp)),
        ("deletionGracePeriodSeconds", json_of(&new.deletion_grace_period_seconds), json_of(&old.deletion_grace_period_seconds)),
    ];
    for (field, new_value, old_value) in unchanged {
        if new_value != old_value {
            causes.immutable(&path.child(field), new_value);
        }
    }
}

/// `ValidateLabels`: qualified-name keys and label values, each reported at the map's path.
pub(crate) fn validate_labels(labels: Option<&BTreeMap<String, String>>, path: &Path, causes: &mut Causes) {
    for (key, value) in labels.into_iter().flatten() {
        causes.invalid_each(path, key, names::qualified_name(key));
        causes.invalid_each(path, value, names::label_value(value));
    }
}

/// `ValidateAnnotations`: keys are qualified names (compared in lower case) and everything
/// together stays under 256 KiB.
pub(crate) fn validate_annotations(annotations: Option<&BTreeMap<String, String>>, path: &Path, causes: &mut Causes) {
    let mut total = 0;
    for (key, value) in annotations.into_iter().flatten() {
        causes.invalid_each(path, key, names::qualified_name(&key.to_lowercase()));
        total += key.len() + value.len();
    }
    if total > ANNOTATIONS_SIZE_LIMIT {
        causes.too_long(path, ANNOTATIONS_SIZE_LIMIT);
    }
}

fn validate_owner_references(meta: &ObjectMeta, path: &Path, causes: &mut Causes) {
    let mut controllers = Vec::new();
    for reference in meta.owner_references.iter().flatten() {
        if reference.api_version.is_empty() {
            causes.invalid(&path.child("apiVersion"), reference.api_version.as_str(), "version must not be empty");
        }
        if reference.kind.is_empty() {
            causes.invalid(&path.child("kind"), reference.kind.as_str(), "kind must not be empty");
        }
        if reference.name.is_empty() {
            causes.invalid(&path.child("name"), reference.name.as_str(), "name must not be empty");
        }
        if reference.uid.is_empty() {
            causes.invalid(&path.child("uid"), reference.uid.as_str(), "uid must not be empty");
        }
        if reference.controller == Some(true) {
            controllers.push(format!("{}/{}", reference.kind, reference.name));
        }
    }
    if controllers.len() > 1 {
        let detail = format!(
            "Only one reference can have Controller set to true. Found \"true\" in references for {} and {}",
            controllers[0], controllers[1]
        );
        causes.invalid(path, json_of(&meta.owner_references), &detail);
    }
}

/// `ValidateFinalizers` and core's `validateKubeFinalizerName`; the latter reports at each
/// finalizer's index for `metadata.finalizers`, at the list for a namespace's
/// `spec.finalizers`.
pub(crate) fn validate_finalizers(finalizers: &[String], path: &Path, indexed: bool, causes: &mut Causes) {
    for (index, finalizer) in finalizers.iter().enumerate() {
        causes.invalid_each(path, finalizer, names::qualified_name(finalizer));
        if !finalizer.contains('/') && !STANDARD_FINALIZERS.contains(&finalizer.as_str()) {
            causes.invalid(
                &if indexed { path.index(index) } else { path.clone() },
                finalizer.as_str(),
                "name is neither a standard finalizer name nor is it fully qualified",
            );
        }
    }
    let has = |name: &str| finalizers.iter().any(|finalizer| finalizer == name);
    if has("orphan") && has("foregroundDeletion") {
        causes.invalid(path, json_of(&finalizers), "finalizer orphan and foregroundDeletion cannot be both set");
    }
}
