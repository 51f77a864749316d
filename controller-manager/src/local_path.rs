//! The built-in local-path provisioner (kind's, in the controller-manager): a claim the binder
//! handed to `cluster.local/local-path` becomes a PersistentVolume `pvc-<claim uid>` that is a
//! directory under `/var/local-path-provisioner` on one node: the node the scheduler chose for
//! a `WaitForFirstConsumer` claim, else a Ready schedulable node with the fewest such volumes.
//! The volume is made pre-bound to its claim (the binder finishes the binding) and carries the
//! `PV_DELETION` finalizer, which the node's kubelet removes once it has removed the directory;
//! a volume whose node is gone has nobody to do that, so its finalizer is removed here.
//!
//! At start the default StorageClass `standard` is created when absent.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use common::storage::{
    self, BETA_STORAGE_PROVISIONER, BIND_COMPLETED, DEFAULT_STORAGE_CLASS, HOSTNAME_LABEL, IS_DEFAULT_CLASS, LOCAL_PATH_PROVISIONER, LOCAL_PATH_ROOT, PROVISIONED_BY, PV_DELETION, SELECTED_NODE,
    STORAGE_PROVISIONER,
};
use futures::StreamExt;
use k8s_openapi::api::core::v1::{
    HostPathVolumeSource, Node, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, PersistentVolume, PersistentVolumeClaim, PersistentVolumeSpec, VolumeNodeAffinity,
};
use k8s_openapi::api::storage::v1::StorageClass;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, PostParams};
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;

use crate::context::Context;
use crate::framework::{self, ReconcileError};

/// How soon a claim that cannot be provisioned yet (no node to put it on) is looked at again.
const WAIT: Duration = Duration::from_secs(15);

struct Provisioner {
    context: Arc<Context>,
    recorder: common::events::Recorder,
}

pub async fn run(context: Arc<Context>) {
    context.storage_ready().await;
    ensure_default_class(&context).await;
    let provisioner = Arc::new(Provisioner { recorder: context.recorder(LOCAL_PATH_PROVISIONER), context: context.clone() });
    futures::future::join(run_claims(provisioner.clone()), run_volumes(provisioner)).await;
}

/// The class every cluster gets (as kind's `standard`), unless one of that name exists.
async fn ensure_default_class(context: &Context) {
    let class = default_class();
    let classes: Api<StorageClass> = Api::all(context.client.clone());
    let mut delay = Duration::from_millis(500);
    loop {
        if context.storage_classes.store().get(&ObjectRef::new(DEFAULT_STORAGE_CLASS)).is_some() {
            return;
        }
        match classes.create(&PostParams::default(), &class).await {
            Ok(_) => {
                tracing::info!(name = DEFAULT_STORAGE_CLASS, "created the default storage class");
                return;
            }
            Err(err) if framework::answered(&err, &[409]) => return,
            Err(err) => {
                tracing::warn!(name = DEFAULT_STORAGE_CLASS, error = %err, retry_in = ?delay, "cannot create the default storage class");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(30));
            }
        }
    }
}

fn default_class() -> StorageClass {
    StorageClass {
        metadata: ObjectMeta {
            name: Some(DEFAULT_STORAGE_CLASS.into()),
            annotations: Some(BTreeMap::from([(IS_DEFAULT_CLASS.to_string(), "true".to_string())])),
            ..ObjectMeta::default()
        },
        provisioner: LOCAL_PATH_PROVISIONER.into(),
        reclaim_policy: Some("Delete".into()),
        volume_binding_mode: Some("WaitForFirstConsumer".into()),
        ..StorageClass::default()
    }
}

async fn run_claims(provisioner: Arc<Provisioner>) {
    let context = provisioner.context.clone();
    let own = context.persistent_volume_claims.changes().map(|claim| ObjectRef::from_obj(&*claim)).boxed();
    // A volume of ours going (deleted before it was bound) concerns its claim again.
    let volumes = context.persistent_volumes.changes().filter_map(|volume| async move { crate::persistentvolume::claim_named_by(&volume) }).boxed();
    let store = context.persistent_volume_claims.store();
    framework::run("local-path-claims", context.metrics.clone(), provisioner, store, vec![own, volumes], context.settings.concurrent_syncs, |claim, provisioner| async move {
        provision(&claim, &provisioner).await
    })
    .await;
}

async fn run_volumes(provisioner: Arc<Provisioner>) {
    let context = provisioner.context.clone();
    let own = context.persistent_volumes.changes().map(|volume| ObjectRef::from_obj(&*volume)).boxed();
    // A node going (being deleted, or gone: the informer's store no longer holds it) concerns
    // the volumes on it; its heartbeats do not.
    let volumes_store = context.persistent_volumes.store();
    let nodes_store = context.nodes.store();
    let nodes = context
        .nodes
        .changes()
        .filter(move |node| {
            let present = nodes_store.get(&ObjectRef::from_obj(&**node)).is_some_and(|current| current.metadata.uid == node.metadata.uid);
            futures::future::ready(node.metadata.deletion_timestamp.is_some() || !present)
        })
        .flat_map(move |node| {
            let name = node.metadata.name.clone().unwrap_or_default();
            let on_node: Vec<ObjectRef<PersistentVolume>> = volumes_store
                .state()
                .iter()
                .filter(|volume| ours(volume) && storage::local_volume_nodes(volume).contains(&name.as_str()))
                .map(|volume| ObjectRef::from_obj(&**volume))
                .collect();
            futures::stream::iter(on_node)
        })
        .boxed();
    let store = context.persistent_volumes.store();
    framework::run("local-path-volumes", context.metrics.clone(), provisioner, store, vec![own, nodes], context.settings.concurrent_syncs, |volume, provisioner| async move {
        release_orphan(&volume, &provisioner).await
    })
    .await;
}

fn annotation<'a>(metadata: &'a ObjectMeta, key: &str) -> Option<&'a str> {
    metadata.annotations.as_ref()?.get(key).map(String::as_str)
}

fn ours(volume: &PersistentVolume) -> bool {
    annotation(&volume.metadata, PROVISIONED_BY) == Some(LOCAL_PATH_PROVISIONER)
}

/// Why this provisioner cannot make a volume for the claim, if it cannot (the checks of kind's
/// local-path provisioner): a node directory has no selector to match, is one node's (no
/// ReadWriteMany or ReadOnlyMany) and is a filesystem.
pub fn refusal(claim: &PersistentVolumeClaim) -> Option<&'static str> {
    let spec = claim.spec.as_ref()?;
    if spec.selector.is_some() {
        return Some("claim.Spec.Selector is not supported for dynamic provisioning");
    }
    if spec.access_modes.iter().flatten().any(|mode| mode != "ReadWriteOnce" && mode != "ReadWriteOncePod") {
        return Some("only the ReadWriteOnce and ReadWriteOncePod access modes are supported");
    }
    if spec.volume_mode.as_deref().is_some_and(|mode| mode != "Filesystem") {
        return Some("only the Filesystem volume mode is supported");
    }
    None
}

/// Whether a volume made at once (before any pod) may go on the node: Ready, not cordoned, and
/// without a NoSchedule or NoExecute taint, which would keep most pods (and so the volume's
/// users) off it: a control-plane node is never chosen for them.
fn ready_and_schedulable(node: &Node) -> bool {
    let ready = node.status.as_ref().and_then(|status| status.conditions.as_ref()).is_some_and(|conditions| {
        conditions.iter().any(|condition| condition.type_ == "Ready" && condition.status == "True")
    });
    let spec = node.spec.as_ref();
    let repelling = spec.and_then(|spec| spec.taints.as_ref()).is_some_and(|taints| taints.iter().any(|taint| matches!(taint.effect.as_str(), "NoSchedule" | "NoExecute")));
    ready && spec.and_then(|spec| spec.unschedulable) != Some(true) && !repelling
}

/// For a claim that binds at once: the Ready schedulable untainted node with the fewest
/// local-path volumes, ties by name.
pub fn pick_node(nodes: &[Arc<Node>], volumes: &[Arc<PersistentVolume>]) -> Option<String> {
    let mut candidates: Vec<(usize, String)> = nodes
        .iter()
        .filter(|node| ready_and_schedulable(node))
        .filter_map(|node| node.metadata.name.clone())
        .map(|name| (volumes.iter().filter(|volume| ours(volume) && storage::local_volume_nodes(volume).contains(&name.as_str())).count(), name))
        .collect();
    candidates.sort();
    candidates.into_iter().next().map(|(_, name)| name)
}

/// The volume for `claim` on `node` (kind's local-path provisioner's, in Kubernetes' shape).
pub fn volume_for(claim: &PersistentVolumeClaim, class: &StorageClass, node: &str) -> Option<PersistentVolume> {
    let namespace = claim.metadata.namespace.clone()?;
    let claim_name = claim.metadata.name.clone()?;
    let name = format!("pvc-{}", claim.metadata.uid.as_deref()?);
    let path = storage::local_path_dir(Path::new(LOCAL_PATH_ROOT), &name, &namespace, &claim_name)?;
    let spec = claim.spec.clone().unwrap_or_default();
    let capacity = spec.resources.as_ref().and_then(|resources| resources.requests.as_ref()).and_then(|requests| requests.get("storage")).cloned()?;
    Some(PersistentVolume {
        metadata: ObjectMeta {
            name: Some(name),
            annotations: Some(BTreeMap::from([(PROVISIONED_BY.to_string(), LOCAL_PATH_PROVISIONER.to_string())])),
            finalizers: Some(vec![PV_DELETION.to_string()]),
            ..ObjectMeta::default()
        },
        spec: Some(PersistentVolumeSpec {
            access_modes: spec.access_modes.clone(),
            capacity: Some(BTreeMap::from([("storage".to_string(), capacity)])),
            claim_ref: Some(k8s_openapi::api::core::v1::ObjectReference {
                api_version: Some("v1".into()),
                kind: Some("PersistentVolumeClaim".into()),
                namespace: Some(namespace),
                name: Some(claim_name),
                uid: claim.metadata.uid.clone(),
                resource_version: claim.metadata.resource_version.clone(),
                field_path: None,
            }),
            host_path: Some(HostPathVolumeSource { path: path.to_string_lossy().into_owned(), type_: Some("DirectoryOrCreate".into()) }),
            node_affinity: Some(VolumeNodeAffinity {
                required: Some(NodeSelector {
                    node_selector_terms: vec![NodeSelectorTerm {
                        match_expressions: Some(vec![NodeSelectorRequirement { key: HOSTNAME_LABEL.into(), operator: "In".into(), values: Some(vec![node.to_string()]) }]),
                        match_fields: None,
                    }],
                }),
            }),
            mount_options: class.mount_options.clone(),
            persistent_volume_reclaim_policy: Some(class.reclaim_policy.clone().unwrap_or_else(|| "Delete".into())),
            storage_class_name: class.metadata.name.clone(),
            volume_mode: Some(spec.volume_mode.clone().unwrap_or_else(|| "Filesystem".into())),
            ..PersistentVolumeSpec::default()
        }),
        status: None,
    })
}

impl Provisioner {
    async fn event(&self, claim: &PersistentVolumeClaim, kind: &str, reason: &str, message: &str) {
        if let Err(err) = self.recorder.record(&common::events::reference(claim), kind, reason, "Provisioning", message).await {
            tracing::debug!(namespace = ?claim.metadata.namespace, name = ?claim.metadata.name, error = %err, "cannot record event");
        }
    }

    /// Whether the node exists, asking the apiserver when the informer does not show it.
    async fn node_exists(&self, name: &str) -> Result<bool, kube::Error> {
        if self.context.nodes.store().get(&ObjectRef::new(name)).is_some() {
            return Ok(true);
        }
        let nodes: Api<Node> = Api::all(self.context.client.clone());
        Ok(nodes.get_opt(name).await?.is_some())
    }
}

async fn provision(claim: &PersistentVolumeClaim, provisioner: &Provisioner) -> Result<Action, ReconcileError> {
    let asked = annotation(&claim.metadata, STORAGE_PROVISIONER).or_else(|| annotation(&claim.metadata, BETA_STORAGE_PROVISIONER));
    let unbound = claim.spec.as_ref().and_then(|spec| spec.volume_name.as_deref()).is_none_or(str::is_empty) && annotation(&claim.metadata, BIND_COMPLETED).is_none();
    if asked != Some(LOCAL_PATH_PROVISIONER) || !unbound || claim.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let context = &provisioner.context;
    let Some(uid) = claim.metadata.uid.clone() else {
        return Ok(Action::await_change());
    };
    let volume_name = format!("pvc-{uid}");
    if context.persistent_volumes.store().get(&ObjectRef::new(&volume_name)).is_some() {
        return Ok(Action::await_change());
    }
    let class_name = storage::claim_class(claim);
    let Some(class) = context.storage_classes.store().get(&ObjectRef::new(class_name)).filter(|class| class.provisioner == LOCAL_PATH_PROVISIONER) else {
        return Ok(Action::await_change());
    };
    let key = format!("{}/{}", claim.metadata.namespace.as_deref().unwrap_or_default(), claim.metadata.name.as_deref().unwrap_or_default());
    let failed = |why: &str| format!("failed to provision volume with StorageClass {class_name:?}: {why}");
    if let Some(why) = refusal(claim) {
        provisioner.event(claim, "Warning", "ProvisioningFailed", &failed(why)).await;
        return Ok(Action::await_change());
    }
    let node = if class.volume_binding_mode.as_deref() == Some("WaitForFirstConsumer") {
        let Some(node) = annotation(&claim.metadata, SELECTED_NODE).filter(|node| !node.is_empty()) else {
            return Ok(Action::await_change());
        };
        if !provisioner.node_exists(node).await? {
            // As the external provisioners do: the scheduler is asked to choose again.
            provisioner.event(claim, "Warning", "ProvisioningFailed", &failed(&format!("failed to get target node: nodes {node:?} not found"))).await;
            let claims: Api<PersistentVolumeClaim> = Api::namespaced(context.client.clone(), claim.metadata.namespace.as_deref().unwrap_or_default());
            let mut updated = claim.clone();
            if let Some(annotations) = updated.metadata.annotations.as_mut() {
                annotations.remove(SELECTED_NODE);
            }
            updated.metadata.managed_fields = None;
            claims.replace(claim.metadata.name.as_deref().unwrap_or_default(), &PostParams::default(), &updated).await?;
            return Ok(Action::await_change());
        }
        node.to_string()
    } else {
        match pick_node(&context.nodes.store().state(), &context.persistent_volumes.store().state()) {
            Some(node) => node,
            None => {
                provisioner.event(claim, "Warning", "ProvisioningFailed", &failed("no Ready schedulable node to make the volume on")).await;
                return Ok(Action::requeue(WAIT));
            }
        }
    };
    let Some(volume) = volume_for(claim, &class, &node) else {
        provisioner.event(claim, "Warning", "ProvisioningFailed", &failed("the claim requests no storage")).await;
        return Ok(Action::await_change());
    };
    provisioner.event(claim, "Normal", "Provisioning", &format!("External provisioner is provisioning volume for claim {key:?}")).await;
    let volumes: Api<PersistentVolume> = Api::all(context.client.clone());
    match volumes.create(&PostParams::default(), &volume).await {
        Ok(_) => {
            tracing::info!(namespace = ?claim.metadata.namespace, name = ?claim.metadata.name, volume = %volume_name, node = %node, "provisioned a local-path volume");
        }
        // Made by an earlier sync whose answer was lost (the name is the claim's uid).
        Err(err) if framework::answered(&err, &[409]) => return Ok(Action::await_change()),
        Err(err) => {
            provisioner.event(claim, "Warning", "ProvisioningFailed", &failed(&err.to_string())).await;
            return Err(err.into());
        }
    }
    provisioner.event(claim, "Normal", "ProvisioningSucceeded", &format!("Successfully provisioned volume {volume_name}")).await;
    Ok(Action::await_change())
}

/// A volume of ours being deleted whose node is gone keeps its `PV_DELETION` finalizer for
/// ever (no kubelet will remove the directory): it is removed here.
async fn release_orphan(volume: &PersistentVolume, provisioner: &Provisioner) -> Result<Action, ReconcileError> {
    let has_finalizer = volume.metadata.finalizers.iter().flatten().any(|finalizer| finalizer == PV_DELETION);
    if volume.metadata.deletion_timestamp.is_none() || !has_finalizer || !ours(volume) {
        return Ok(Action::await_change());
    }
    // Any of the nodes the volume names may hold its directory, and the kubelet of each may
    // reclaim it: the finalizer is removed here only once none of them is left.
    let nodes = storage::local_volume_nodes(volume);
    if nodes.is_empty() {
        return Ok(Action::await_change());
    }
    for node in &nodes {
        if provisioner.node_exists(node).await? {
            // The node's kubelet removes the directory, then the finalizer.
            return Ok(Action::await_change());
        }
    }
    let node = nodes.iter().map(|node| format!("{node:?}")).collect::<Vec<_>>().join(", ");
    let name = volume.metadata.name.clone().unwrap_or_default();
    let volumes: Api<PersistentVolume> = Api::all(provisioner.context.client.clone());
    match framework::remove_finalizer(&volumes, volume, PV_DELETION).await {
        Ok(()) => {}
        Err(err) if framework::answered(&err, &[409]) => return Ok(Action::requeue(Duration::from_millis(200))),
        Err(err) if framework::answered(&err, &[404]) => return Ok(Action::await_change()),
        Err(err) => return Err(err.into()),
    }
    tracing::info!(name = %name, node = %node, "the volume's node is gone; its deletion finalizer is removed");
    let message = if nodes.len() == 1 {
        format!("node {node} no longer exists: the volume's directory was not removed")
    } else {
        format!("nodes {node} no longer exist: the volume's directory was not removed")
    };
    if let Err(err) = provisioner.recorder.record(&common::events::reference(volume), "Warning", "NodeNotFound", "Deleting", &message).await {
        tracing::debug!(name = %name, error = %err, "cannot record event");
    }
    Ok(Action::await_change())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn claim(value: serde_json::Value) -> PersistentVolumeClaim {
        serde_json::from_value(value).unwrap()
    }

    fn node(name: &str, ready: bool, unschedulable: bool) -> Arc<Node> {
        Arc::new(
            serde_json::from_value(json!({"metadata": {"name": name}, "spec": {"unschedulable": unschedulable},
                "status": {"conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}]}}))
            .unwrap(),
        )
    }

    #[test]
    fn a_volume_is_a_directory_on_the_node() {
        let want = claim(json!({"metadata": {"name": "data", "namespace": "ns", "uid": "1234", "resourceVersion": "7"},
            "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "standard", "resources": {"requests": {"storage": "1Gi"}}}}));
        let volume = volume_for(&want, &default_class(), "node-1").unwrap();
        let value = serde_json::to_value(&volume).unwrap();
        assert_eq!(value["metadata"]["name"], "pvc-1234");
        assert_eq!(value["metadata"]["annotations"][PROVISIONED_BY], LOCAL_PATH_PROVISIONER);
        assert_eq!(value["metadata"]["finalizers"], json!([PV_DELETION]));
        assert_eq!(value["spec"]["hostPath"], json!({"path": "/var/local-path-provisioner/pvc-1234_ns_data", "type": "DirectoryOrCreate"}));
        assert_eq!(value["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"][0]["matchExpressions"][0],
            json!({"key": "kubernetes.io/hostname", "operator": "In", "values": ["node-1"]}));
        assert_eq!(value["spec"]["capacity"]["storage"], "1Gi");
        assert_eq!(value["spec"]["persistentVolumeReclaimPolicy"], "Delete");
        assert_eq!(value["spec"]["storageClassName"], "standard");
        assert_eq!(value["spec"]["volumeMode"], "Filesystem");
        assert_eq!(value["spec"]["claimRef"]["uid"], "1234");
        assert_eq!(value["spec"]["claimRef"]["kind"], "PersistentVolumeClaim");
        assert_eq!(storage::local_volume_nodes(&volume), ["node-1"]);
    }

    #[test]
    fn what_a_node_directory_cannot_be() {
        let base = |spec: serde_json::Value| claim(json!({"metadata": {"name": "c", "namespace": "ns"}, "spec": spec}));
        assert_eq!(refusal(&base(json!({"accessModes": ["ReadWriteOnce"]}))), None);
        assert!(refusal(&base(json!({"accessModes": ["ReadWriteOnce"], "selector": {"matchLabels": {"a": "b"}}}))).unwrap().contains("Selector"));
        assert!(refusal(&base(json!({"accessModes": ["ReadWriteMany"]}))).is_some());
        assert!(refusal(&base(json!({"accessModes": ["ReadWriteOnce"], "volumeMode": "Block"}))).is_some());
    }

    #[test]
    fn the_emptiest_ready_node_is_picked() {
        let nodes = [node("b", true, false), node("a", true, false), node("c", false, false), node("d", true, true)];
        assert_eq!(pick_node(&nodes, &[]).as_deref(), Some("a"));
        let want = claim(json!({"metadata": {"name": "data", "namespace": "ns", "uid": "1"}, "spec": {"resources": {"requests": {"storage": "1Gi"}}}}));
        let on_a = Arc::new(volume_for(&want, &default_class(), "a").unwrap());
        assert_eq!(pick_node(&nodes, &[on_a]).as_deref(), Some("b"));
        assert_eq!(pick_node(&[node("c", false, false)], &[]), None);
    }

    #[test]
    fn a_tainted_node_is_not_picked() {
        let tainted = |name: &str, effect: &str| -> Arc<Node> {
            Arc::new(
                serde_json::from_value(json!({"metadata": {"name": name}, "spec": {"taints": [{"key": "node-role.kubernetes.io/control-plane", "effect": effect}]},
                    "status": {"conditions": [{"type": "Ready", "status": "True"}]}}))
                .unwrap(),
            )
        };
        // kind's control plane sorts first.
        let nodes = [tainted("kind-control-plane", "NoSchedule"), tainted("kind-evicting", "NoExecute"), node("kind-worker", true, false)];
        assert_eq!(pick_node(&nodes, &[]).as_deref(), Some("kind-worker"));
        assert_eq!(pick_node(&[tainted("soft", "PreferNoSchedule")], &[]).as_deref(), Some("soft"), "a preference does not keep pods off");
        assert_eq!(pick_node(&nodes[..2], &[]), None);
    }

    #[test]
    fn a_volume_naming_several_nodes_counts_on_each() {
        let mut volume = volume_for(&claim(json!({"metadata": {"name": "d", "namespace": "ns", "uid": "9"}, "spec": {"resources": {"requests": {"storage": "1Gi"}}}})), &default_class(), "a").unwrap();
        if let Some(expression) = volume.spec.as_mut().and_then(|spec| spec.node_affinity.as_mut()).and_then(|affinity| affinity.required.as_mut()).and_then(|required| required.node_selector_terms[0].match_expressions.as_mut()) {
            expression[0].values = Some(vec!["a".into(), "b".into()]);
        }
        let nodes = [node("a", true, false), node("b", true, false), node("c", true, false)];
        assert_eq!(pick_node(&nodes, &[Arc::new(volume)]).as_deref(), Some("c"));
    }
}
