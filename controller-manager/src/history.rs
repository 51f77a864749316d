//! ControllerRevisions: the history DaemonSets and StatefulSets keep of their pod templates, as
//! Kubernetes' `controller/history` package keeps it, so that `kubectl rollout history` lists the
//! revisions and `kubectl rollout undo` puts one back.
//!
//! A revision's `data` is the patch that restores its template (`{"spec": {"template": {...,
//! "$patch": "replace"}}}`), which is what kubectl sends back on undo. Its name is the owner's
//! name and a hash of that data; the same template seen again (an undo) renumbers the old
//! revision instead of making a new one.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use k8s_openapi::api::apps::v1::ControllerRevision;
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::runtime::RawExtension;
use kube::Resource;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use common::semantic::canonical;
use serde_json::{Value, json};

use crate::context::Context;
use crate::framework::{self, ReconcileError};

/// The label revisions (and the pods made from them) carry: the hash of the revision.
pub const HASH_LABEL: &str = "controller-revision-hash";

/// A short name-safe hash of `text` and the collision count, in the alphabet Kubernetes uses for
/// its hashes (`rand.SafeEncodeString`) so that it never spells words or looks like a number.
pub fn short_hash(text: &str, collisions: i32) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    // FNV-1a, 32 bits, as Kubernetes' ComputeHash.
    let mut hash: u32 = 0x811c_9dc5;
    for byte in text.bytes().chain(collisions.to_le_bytes()) {
        hash ^= u32::from(byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    let mut encoded = String::new();
    let mut rest = hash;
    for _ in 0..10 {
        encoded.push(char::from(ALPHABET[(rest % 27) as usize]));
        rest /= 27;
        if rest == 0 {
            break;
        }
    }
    encoded
}

/// The data of a revision of `template`: the patch that puts the template back.
pub fn patch_of(template: &PodTemplateSpec) -> Value {
    let mut template = serde_json::to_value(template).unwrap_or_else(|_| json!({}));
    if let Value::Object(map) = &mut template {
        map.insert("$patch".into(), Value::String("replace".into()));
    }
    json!({"spec": {"template": template}})
}

/// The template a revision restores.
pub fn template_of(revision: &ControllerRevision) -> Option<PodTemplateSpec> {
    let mut template = revision.data.as_ref()?.0.pointer("/spec/template")?.clone();
    if let Value::Object(map) = &mut template {
        map.remove("$patch");
    }
    serde_json::from_value(template).ok()
}

fn data_text(revision: &ControllerRevision) -> String {
    canonical(revision.data.as_ref().map_or(&Value::Null, |data| &data.0))
}

/// The revisions `owner` controls, oldest first.
pub fn owned<K: Resource<DynamicType = ()>>(context: &Context, owner: &K) -> Vec<Arc<ControllerRevision>> {
    let uid = owner.meta().uid.as_deref().unwrap_or_default();
    let mut revisions: Vec<Arc<ControllerRevision>> = context
        .controller_revisions
        .store()
        .state()
        .into_iter()
        .filter(|revision| revision.metadata.namespace == owner.meta().namespace)
        .filter(|revision| revision.metadata.owner_references.iter().flatten().any(|reference| reference.controller == Some(true) && reference.uid == uid))
        .collect();
    revisions.sort_by(|left, right| left.revision.cmp(&right.revision).then_with(|| left.metadata.name.cmp(&right.metadata.name)));
    revisions
}

/// What the owner's history needs from it.
pub struct Owner<'a, K> {
    pub object: &'a K,
    /// Labels the revision carries besides the hash: the template's, as Kubernetes copies them.
    pub labels: BTreeMap<String, String>,
    /// `status.collisionCount`: bumped by the owner when a name is taken by other data.
    pub collisions: i32,
}

/// The outcome of [`record`].
pub enum Recorded {
    /// The revision for the data: created, found, or an older one renumbered as the newest.
    Revision(Arc<ControllerRevision>),
    /// The name the data hashes to holds other data: bump `collisionCount` and try again.
    Collision,
}

/// Makes sure `data` is the owner's newest revision, among `revisions` (from [`owned`]).
pub async fn record<K>(context: &Context, owner: &Owner<'_, K>, revisions: &[Arc<ControllerRevision>], data: Value) -> Result<Recorded, ReconcileError>
where
    K: Resource<DynamicType = ()>,
{
    let namespace = owner.object.meta().namespace.clone().unwrap_or_default();
    let api: Api<ControllerRevision> = Api::namespaced(context.client.clone(), &namespace);
    let text = canonical(&data);
    let newest = revisions.iter().map(|revision| revision.revision).max().unwrap_or(0);
    let equal: Vec<&Arc<ControllerRevision>> = revisions.iter().filter(|revision| data_text(revision) == text).collect();
    if let Some(latest) = equal.last() {
        if latest.revision == newest {
            return Ok(Recorded::Revision(Arc::clone(latest)));
        }
        // An older template back (an undo): it becomes the newest revision again.
        let name = latest.metadata.name.clone().unwrap_or_default();
        let patch = json!({"revision": newest.saturating_add(1), "metadata": {"resourceVersion": latest.metadata.resource_version}});
        let renumbered = api.patch(&name, &PatchParams::default(), &Patch::Merge(patch)).await?;
        return Ok(Recorded::Revision(Arc::new(renumbered)));
    }
    let hash = short_hash(&text, owner.collisions);
    let owner_name = owner.object.meta().name.clone().unwrap_or_default();
    let name = format!("{owner_name}-{hash}");
    let mut labels = owner.labels.clone();
    labels.insert(HASH_LABEL.into(), hash);
    let revision = ControllerRevision {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            namespace: Some(namespace),
            labels: Some(labels),
            owner_references: Some(vec![framework::controller_reference(owner.object)]),
            ..ObjectMeta::default()
        },
        data: Some(RawExtension(data)),
        revision: newest.saturating_add(1),
    };
    match api.create(&PostParams::default(), &revision).await {
        Ok(created) => Ok(Recorded::Revision(Arc::new(created))),
        Err(err) if framework::answered(&err, &[409]) => {
            // Made by an earlier run whose answer was lost, or a hash collision.
            let existing = api.get(&name).await?;
            let ours = existing.metadata.owner_references.iter().flatten().any(|reference| Some(&reference.uid) == owner.object.meta().uid.as_ref());
            if ours && data_text(&existing) == text {
                Ok(Recorded::Revision(Arc::new(existing)))
            } else {
                Ok(Recorded::Collision)
            }
        }
        Err(err) => Err(err.into()),
    }
}

/// Deletes the oldest revisions beyond `limit` that no pod uses (`in_use`: revision names).
pub async fn truncate(context: &Context, revisions: &[Arc<ControllerRevision>], in_use: &HashSet<String>, limit: i32) -> Result<(), ReconcileError> {
    let unused: Vec<&Arc<ControllerRevision>> =
        revisions.iter().filter(|revision| !in_use.contains(revision.metadata.name.as_deref().unwrap_or_default())).collect();
    let excess = unused.len().saturating_sub(usize::try_from(limit).unwrap_or(0));
    for revision in unused.into_iter().take(excess) {
        let api: Api<ControllerRevision> = Api::namespaced(context.client.clone(), revision.metadata.namespace.as_deref().unwrap_or_default());
        match api.delete(revision.metadata.name.as_deref().unwrap_or_default(), &DeleteParams::default()).await {
            Err(err) if !framework::answered(&err, &[404]) => return Err(err.into()),
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_revision_restores_its_template_and_hashes_as_semantically_equal() {
        let template: PodTemplateSpec = serde_json::from_value(json!({"metadata": {"labels": {"app": "x"}}, "spec": {"containers": [{"name": "c", "image": "busybox:1"}]}})).unwrap();
        let data = patch_of(&template);
        assert_eq!(data["spec"]["template"]["$patch"], "replace");
        let revision = ControllerRevision { data: Some(RawExtension(data.clone())), ..ControllerRevision::default() };
        assert_eq!(template_of(&revision), Some(template));
        let with_empty = json!({"spec": {"template": {"$patch": "replace", "metadata": {"labels": {"app": "x"}}, "spec": {"containers": [{"name": "c", "image": "busybox:1", "resources": {}}]}}}});
        assert_eq!(canonical(&with_empty), canonical(&data));
        assert_eq!(short_hash(&canonical(&with_empty), 0), short_hash(&canonical(&data), 0));
        assert_ne!(short_hash(&canonical(&data), 0), short_hash(&canonical(&data), 1));
        assert!(short_hash("x", 0).chars().all(|c| "bcdfghjklmnpqrstvwxz2456789".contains(c)));
    }
}
