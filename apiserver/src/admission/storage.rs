//! The storage admission plugins kube-apiserver 1.33 enables by default:
//!
//! - DefaultStorageClass (`plugin/pkg/admission/storage/storageclass/setdefault`): a claim
//!   created without a class (no `spec.storageClassName`, no beta annotation; `""` is a class,
//!   "none") gets the class annotated `storageclass.kubernetes.io/is-default-class: "true"`, the
//!   newest when several are (ties by name), and nothing when none is.
//! - StorageObjectInUseProtection (`plugin/pkg/admission/storage/storageobjectinuseprotection`):
//!   a new claim gets the `kubernetes.io/pvc-protection` finalizer and a new volume the
//!   `kubernetes.io/pv-protection` one, which the protection controllers remove once nothing
//!   uses them.

use k8s_openapi::api::storage::v1::StorageClass;
use serde_json::{Value, json};

use crate::errors::ApiError;
use crate::strategy::Cluster;

/// StorageObjectInUseProtection's `Admit` on a create: the finalizer, once.
pub(crate) fn protect(finalizers: &mut Option<Vec<String>>, finalizer: &str) {
    let finalizers = finalizers.get_or_insert_with(Vec::new);
    if !finalizers.iter().any(|present| present == finalizer) {
        finalizers.push(finalizer.to_string());
    }
}

/// DefaultStorageClass's `Admit` on a claim's create.
pub(crate) async fn default_storage_class(cluster: &dyn Cluster, claim: &mut Value) -> Result<(), ApiError> {
    let annotated = claim.pointer("/metadata/annotations").and_then(|annotations| annotations.get(common::storage::BETA_STORAGE_CLASS)).is_some();
    let named = claim.pointer("/spec/storageClassName").is_some_and(|name| !name.is_null());
    if annotated || named {
        return Ok(());
    }
    let classes = cluster.list("storage.k8s.io", "v1", "storageclasses", None).await?;
    let Some(default) = newest_default(&classes) else { return Ok(()) };
    let name = crate::meta::name(claim).unwrap_or_default().to_string();
    tracing::debug!(namespace = crate::meta::string(claim, "namespace").unwrap_or_default(), name, class = default, "defaulting the claim's storage class");
    if let Some(spec) = claim.get_mut("spec").and_then(Value::as_object_mut) {
        spec.insert("storageClassName".into(), json!(default));
    }
    Ok(())
}

/// `util.GetDefaultClass`: of the classes annotated default, the newest, ties by name
/// (common's [`common::storage::newest_default_class`], which the binder's retroactive
/// defaulting uses too, so both pick the same class). A class that does not read as a
/// StorageClass is not a candidate.
pub(crate) fn newest_default(classes: &[Value]) -> Option<String> {
    let classes: Vec<StorageClass> = classes.iter().filter_map(|class| serde_json::from_value(class.clone()).ok()).collect();
    common::storage::newest_default_class(&classes).and_then(|class| class.metadata.name.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(name: &str, created: &str, default: bool) -> Value {
        json!({"metadata": {"name": name, "creationTimestamp": created, "annotations": {"storageclass.kubernetes.io/is-default-class": default.to_string()}}})
    }

    #[test]
    fn the_newest_default_class_wins_ties_going_by_name() {
        let classes = [class("old", "2026-01-01T00:00:00Z", true), class("new", "2026-02-01T00:00:00Z", true), class("newer", "2026-03-01T00:00:00Z", false)];
        assert_eq!(newest_default(&classes).as_deref(), Some("new"));
        let tied = [class("b", "2026-01-01T00:00:00Z", true), class("a", "2026-01-01T00:00:00Z", true)];
        assert_eq!(newest_default(&tied).as_deref(), Some("a"));
        assert_eq!(newest_default(&[class("x", "2026-01-01T00:00:00Z", false)]), None);
        let beta = json!({"metadata": {"name": "beta", "annotations": {"storageclass.beta.kubernetes.io/is-default-class": "true"}}});
        assert_eq!(newest_default(&[beta]).as_deref(), Some("beta"));
    }

    #[test]
    fn protection_adds_its_finalizer_once() {
        let mut finalizers = None;
        protect(&mut finalizers, "kubernetes.io/pvc-protection");
        protect(&mut finalizers, "kubernetes.io/pvc-protection");
        assert_eq!(finalizers, Some(vec!["kubernetes.io/pvc-protection".to_string()]));
    }
}
