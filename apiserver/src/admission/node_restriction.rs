//! NodeRestriction (`plugin/pkg/admission/noderestriction`): the Node authorizer lets every
//! kubelet write Nodes, pod statuses and Leases; this plugin keeps each to its own. A node may
//! create and change only its own Node (not its taints, and not labels a kubelet may not set,
//! which would let it steer workloads to itself), write the status of and delete only the pods
//! bound to it, and use only its own Lease in `kube-node-lease`; of a claim's status it may write
//! the capacity and conditions only. This server's kubelets also remove the finalizer of the
//! local-path volumes they clean up: of a PersistentVolume, a node may only remove the
//! provisioner's finalizer, once the volume is being deleted, and only from local-path volumes
//! whose node affinity names it. Requests from anyone else pass.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::PersistentVolume;
use serde_json::Value;

use crate::request::User;
use crate::errors::ApiError;
use crate::meta;
use crate::authz::node::{NODE_LEASE_NAMESPACE, node_identity};
use crate::resources::ResourceType;

/// A write, with the object as it would be stored and the one it replaces.
pub(crate) enum Write<'a> {
    Create(&'a Value),
    Update { object: &'a Value, old: &'a Value },
    StatusUpdate { object: &'a Value, old: &'a Value },
    Delete(&'a Value),
}

impl Write<'_> {
    /// The object written, or the one deleted.
    fn object(&self) -> &Value {
        match self {
            Write::Create(object) | Write::Update { object, .. } | Write::StatusUpdate { object, .. } | Write::Delete(object) => object,
        }
    }

    fn operation(&self) -> &'static str {
        match self {
            Write::Create(_) => "CREATE",
            Write::Update { .. } | Write::StatusUpdate { .. } => "UPDATE",
            Write::Delete(_) => "DELETE",
        }
    }
}

/// Refuses a node's write of what is not its own (403, in Kubernetes' words).
pub(crate) fn admit(user: &User, resource: &ResourceType, write: &Write<'_>) -> Result<(), ApiError> {
    let Some(node) = node_identity(user) else { return Ok(()) };
    let name = meta::name(write.object()).unwrap_or_default();
    let forbidden = |why: String| crate::authz::object_forbidden(resource, name, &why);
    if node.is_empty() {
        return Err(forbidden(format!("could not determine node from user {:?}", user.name)));
    }
    match (&*resource.group, &*resource.plural) {
        ("", "pods") => admit_pod(node, write).map_err(forbidden),
        ("", "nodes") => admit_node(node, name, write).map_err(forbidden),
        ("coordination.k8s.io", "leases") => admit_lease(node, name, write).map_err(forbidden),
        ("", "persistentvolumes") => admit_volume(node, name, write).map_err(forbidden),
        ("", "persistentvolumeclaims") => admit_claim_status(node, write).map_err(forbidden),
        _ => Ok(()),
    }
}

fn node_name(pod: &Value) -> &str {
    pod.pointer("/spec/nodeName").and_then(Value::as_str).unwrap_or_default()
}

fn admit_pod(node: &str, write: &Write<'_>) -> Result<(), String> {
    match write {
        Write::Create(pod) => {
            if meta::metadata(pod).and_then(|metadata| metadata.get("annotations")).and_then(|annotations| annotations.get(MIRROR_POD_ANNOTATION)).is_none() {
                return Err(format!("pod does not have {MIRROR_POD_ANNOTATION:?} annotation, node {node:?} can only create mirror pods"));
            }
            // Kubernetes admits mirror pods of a node's static pods; there are no static pods here.
            Err(format!("node {node:?} cannot create mirror pods: static pods are not supported"))
        }
        Write::StatusUpdate { object, old } => {
            if node_name(old) != node {
                return Err(format!("node {node:?} can only update pod status for pods with spec.nodeName set to itself"));
            }
            if meta::labels(object) != meta::labels(old) {
                return Err(format!("node {node:?} cannot update labels through pod status"));
            }
            Ok(())
        }
        Write::Delete(pod) if node_name(pod) != node => Err(format!("node {node:?} can only delete pods with spec.nodeName set to itself")),
        Write::Delete(_) => Ok(()),
        Write::Update { .. } => Err(format!("unexpected operation {:?}, node {node:?} can only create and delete mirror pods", write.operation())),
    }
}

/// The object without what a write may leave out or the server sets (its resourceVersion and
/// managed fields) and without the fields named by these JSON pointers.
fn without(object: &Value, pointers: &[&str]) -> Value {
    let mut object = object.clone();
    for pointer in ["/metadata/resourceVersion", "/metadata/managedFields"].iter().chain(pointers) {
        if let Some((parent, key)) = pointer.rsplit_once('/')
            && let Some(Value::Object(fields)) = object.pointer_mut(parent)
        {
            fields.remove(key);
        }
    }
    crate::meta::drop_empty(&mut object);
    if object.get("status").is_some_and(|status| status.as_object().is_some_and(serde_json::Map::is_empty)) {
        object.as_object_mut().map(|fields| fields.remove("status"));
    }
    object
}

/// Whether a volume's required node affinity names `node` (`kubernetes.io/hostname In [.., node, ..]`
/// in one of its terms, as the local-path provisioner pins its volumes): common's reading, the
/// one the kubelets' reclaim and the provisioner's orphan release use, so that a node may write
/// exactly the volumes it is asked to clean up. A volume that does not read as one names none.
fn affinity_names(volume: &Value, node: &str) -> bool {
    serde_json::from_value::<PersistentVolume>(volume.clone()).is_ok_and(|volume| common::storage::local_volume_nodes(&volume).contains(&node))
}

/// A kubelet's only write of a volume: once a local-path volume pinned to its node is being
/// deleted and its directory is gone, the removal of the provisioner's finalizer, the rest of the
/// list (in its order) and of the object as they were. Anything wider would let a node strip
/// `pv-protection` from the bound volumes pinned to it, or add finalizers that never go.
fn admit_volume(node: &str, name: &str, write: &Write<'_>) -> Result<(), String> {
    let Write::Update { object, old } = write else {
        return Err(format!("unexpected operation {:?}, node {node:?} can only update the finalizers of persistentvolumes", write.operation()));
    };
    if !affinity_names(old, node) {
        return Err(format!("node {node:?} is not allowed to modify persistentvolume {name:?}: its node affinity does not name the node"));
    }
    let provisioner = old.pointer("/metadata/annotations").and_then(|annotations| annotations.get(common::storage::PROVISIONED_BY)).and_then(Value::as_str);
    if provisioner != Some(common::storage::LOCAL_PATH_PROVISIONER) {
        return Err(format!("node {node:?} is not allowed to modify persistentvolume {name:?}: it was not provisioned by {:?}", common::storage::LOCAL_PATH_PROVISIONER));
    }
    if old.pointer("/metadata/deletionTimestamp").is_none_or(Value::is_null) {
        return Err(format!("node {node:?} is not allowed to modify persistentvolume {name:?}: it is not being deleted"));
    }
    let finalizers = |volume: &Value| -> Vec<Value> { volume.pointer("/metadata/finalizers").and_then(Value::as_array).cloned().unwrap_or_default() };
    let (old_finalizers, new_finalizers) = (finalizers(old), finalizers(object));
    let is_deletion = |finalizer: &Value| finalizer.as_str() == Some(common::storage::PV_DELETION);
    let kept: Vec<Value> = old_finalizers.iter().filter(|finalizer| !is_deletion(finalizer)).cloned().collect();
    if !old_finalizers.iter().any(is_deletion) || new_finalizers != kept {
        return Err(format!("node {node:?} is only allowed to remove the {:?} finalizer of persistentvolumes", common::storage::PV_DELETION));
    }
    if without(object, &["/metadata/finalizers"]) != without(old, &["/metadata/finalizers"]) {
        return Err(format!("node {node:?} is not allowed to update fields of persistentvolumes other than metadata.finalizers"));
    }
    Ok(())
}

/// `admitPVCStatus`: a node may write a claim's status capacity and conditions (and, with
/// RecoverVolumeExpansionFailure, its allocated resources), nothing else of the claim.
fn admit_claim_status(node: &str, write: &Write<'_>) -> Result<(), String> {
    let Write::StatusUpdate { object, old } = write else { return Ok(()) };
    let allowed = ["/status/capacity", "/status/conditions", "/status/allocatedResources", "/status/allocatedResourceStatuses"];
    if without(object, &allowed) != without(old, &allowed) {
        return Err(format!("node {node:?} is not allowed to update fields other than status.capacity and status.conditions"));
    }
    Ok(())
}

/// What marks a mirror pod, the API's copy of a kubelet's static pod.
const MIRROR_POD_ANNOTATION: &str = "kubernetes.io/config.mirror";

fn admit_node(node: &str, name: &str, write: &Write<'_>) -> Result<(), String> {
    if name != node {
        return Err(format!("node {node:?} is not allowed to modify node {name:?}"));
    }
    match write {
        Write::Create(object) => {
            let forbidden = forbidden_labels(&modified_labels(&meta::labels(object), &BTreeMap::new()));
            if !forbidden.is_empty() {
                return Err(format!("node {node:?} is not allowed to set the following labels: {}", forbidden.join(", ")));
            }
            Ok(())
        }
        Write::Update { object, old } | Write::StatusUpdate { object, old } => {
            // Removing or changing its taints would let a node take pods meant to keep away.
            let taints = |node: &Value| node.pointer("/spec/taints").and_then(Value::as_array).filter(|taints| !taints.is_empty()).cloned();
            if taints(object) != taints(old) {
                return Err(format!("node {node:?} is not allowed to modify taints"));
            }
            let forbidden = forbidden_labels(&modified_labels(&meta::labels(object), &meta::labels(old)));
            if !forbidden.is_empty() {
                // Kubernetes' message has no node name here.
                return Err(format!("is not allowed to modify labels: {}", forbidden.join(", ")));
            }
            Ok(())
        }
        Write::Delete(_) => Ok(()),
    }
}

/// The keys whose values differ between the two label sets (added, removed or changed).
fn modified_labels(new: &BTreeMap<String, String>, old: &BTreeMap<String, String>) -> BTreeSet<String> {
    let changed = |a: &BTreeMap<String, String>, b: &BTreeMap<String, String>| a.iter().filter(|(key, value)| b.get(*key) != Some(*value)).map(|(key, _)| key.clone()).collect::<Vec<_>>();
    changed(new, old).into_iter().chain(changed(old, new)).collect()
}

/// The labels a kubelet may not add, remove or change: those under
/// `node-restriction.kubernetes.io/` (kept for administrators to steer workloads with, knowing
/// nodes cannot set them), and those of `kubernetes.io` and `k8s.io` that are not a kubelet's.
fn forbidden_labels(modified: &BTreeSet<String>) -> Vec<String> {
    modified
        .iter()
        .filter(|label| {
            let prefix = label_prefix(label);
            let restricted = prefix == NODE_RESTRICTION_PREFIX || prefix.ends_with(&format!(".{NODE_RESTRICTION_PREFIX}"));
            let kubernetes = ["kubernetes.io", "k8s.io"].iter().any(|domain| prefix == *domain || prefix.ends_with(&format!(".{domain}")));
            restricted || (kubernetes && !is_kubelet_label(label))
        })
        .cloned()
        .collect()
}

const NODE_RESTRICTION_PREFIX: &str = "node-restriction.kubernetes.io";

fn label_prefix(key: &str) -> &str {
    key.split_once('/').map(|(prefix, _)| prefix).unwrap_or_default()
}

/// The labels kubelets set on their Node (`k8s.io/kubelet/pkg/apis.IsKubeletLabel`).
fn is_kubelet_label(key: &str) -> bool {
    const LABELS: &[&str] = &[
        "kubernetes.io/hostname",
        "topology.kubernetes.io/zone",
        "topology.kubernetes.io/region",
        "failure-domain.beta.kubernetes.io/zone",
        "failure-domain.beta.kubernetes.io/region",
        "node.kubernetes.io/instance-type",
        "beta.kubernetes.io/instance-type",
        "kubernetes.io/os",
        "kubernetes.io/arch",
        "beta.kubernetes.io/os",
        "beta.kubernetes.io/arch",
    ];
    const PREFIXES: &[&str] = &["kubelet.kubernetes.io", "node.kubernetes.io"];
    let prefix = label_prefix(key);
    LABELS.contains(&key) || PREFIXES.iter().any(|allowed| prefix == *allowed || prefix.ends_with(&format!(".{allowed}")))
}

fn admit_lease(node: &str, name: &str, write: &Write<'_>) -> Result<(), String> {
    if meta::namespace(write.object()).unwrap_or_default() != NODE_LEASE_NAMESPACE {
        return Err(format!("can only access leases in the {NODE_LEASE_NAMESPACE:?} system namespace"));
    }
    if name != node {
        return Err("can only access node lease with the same name as the requesting node".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::admission::test_support::resource;

    fn node_user(name: &str) -> User {
        User { name: format!("system:node:{name}"), uid: String::new(), groups: vec!["system:nodes".into(), "system:authenticated".into()] }
    }

    fn pod(name: &str, node: &str) -> Value {
        json!({"metadata": {"name": name, "namespace": "demo", "labels": {"app": "web"}}, "spec": {"nodeName": node}})
    }

    fn node(name: &str, labels: Value, taints: Value) -> Value {
        json!({"metadata": {"name": name, "labels": labels}, "spec": {"taints": taints}})
    }

    fn lease(namespace: &str, name: &str) -> Value {
        json!({"metadata": {"name": name, "namespace": namespace}})
    }

    #[test]
    fn nodes_write_only_what_is_their_own() {
        let n1 = node_user("n1");
        let mine = pod("web", "n1");
        let theirs = pod("db", "n2");
        let mut relabelled = mine.clone();
        relabelled["metadata"]["labels"]["app"] = json!("other");
        let plain = node("n1", json!({"kubernetes.io/hostname": "n1", "team": "a"}), json!([]));
        let mut labelled = plain.clone();
        labelled["metadata"]["labels"]["node.kubernetes.io/exclude-from-external-load-balancers"] = json!("true");
        let mut restricted = plain.clone();
        restricted["metadata"]["labels"]["node-restriction.kubernetes.io/dedicated"] = json!("gpu");
        let mut role = plain.clone();
        role["metadata"]["labels"]["node-role.kubernetes.io/control-plane"] = json!("");
        let tainted = node("n1", json!({"kubernetes.io/hostname": "n1", "team": "a"}), json!([{"key": "k", "effect": "NoSchedule"}]));
        let other = node("n2", json!({}), json!([]));
        let (own_lease, other_lease, system_lease, config_map) = (lease("kube-node-lease", "n1"), lease("kube-node-lease", "n2"), lease("kube-system", "n1"), lease("demo", "anything"));
        let rows: Vec<(&str, Write<'_>, Option<&str>)> = vec![
            ("pods", Write::StatusUpdate { object: &mine, old: &mine }, None),
            ("pods", Write::StatusUpdate { object: &theirs, old: &theirs }, Some("pods \"db\" is forbidden: node \"n1\" can only update pod status for pods with spec.nodeName set to itself")),
            ("pods", Write::StatusUpdate { object: &relabelled, old: &mine }, Some("pods \"web\" is forbidden: node \"n1\" cannot update labels through pod status")),
            ("pods", Write::Delete(&mine), None),
            ("pods", Write::Delete(&theirs), Some("pods \"db\" is forbidden: node \"n1\" can only delete pods with spec.nodeName set to itself")),
            ("pods", Write::Create(&mine), Some("pods \"web\" is forbidden: pod does not have \"kubernetes.io/config.mirror\" annotation, node \"n1\" can only create mirror pods")),
            ("pods", Write::Update { object: &mine, old: &mine }, Some("pods \"web\" is forbidden: unexpected operation \"UPDATE\", node \"n1\" can only create and delete mirror pods")),
            ("nodes", Write::Create(&plain), None),
            ("nodes", Write::Create(&other), Some("nodes \"n2\" is forbidden: node \"n1\" is not allowed to modify node \"n2\"")),
            ("nodes", Write::Create(&restricted), Some("nodes \"n1\" is forbidden: node \"n1\" is not allowed to set the following labels: node-restriction.kubernetes.io/dedicated")),
            ("nodes", Write::Create(&role), Some("nodes \"n1\" is forbidden: node \"n1\" is not allowed to set the following labels: node-role.kubernetes.io/control-plane")),
            ("nodes", Write::Update { object: &labelled, old: &plain }, None),
            ("nodes", Write::StatusUpdate { object: &plain, old: &plain }, None),
            ("nodes", Write::Update { object: &plain, old: &restricted }, Some("nodes \"n1\" is forbidden: is not allowed to modify labels: node-restriction.kubernetes.io/dedicated")),
            ("nodes", Write::Update { object: &plain, old: &tainted }, Some("nodes \"n1\" is forbidden: node \"n1\" is not allowed to modify taints")),
            ("nodes", Write::Update { object: &other, old: &other }, Some("nodes \"n2\" is forbidden: node \"n1\" is not allowed to modify node \"n2\"")),
            ("leases", Write::Create(&own_lease), None),
            ("leases", Write::Create(&other_lease), Some("leases.coordination.k8s.io \"n2\" is forbidden: can only access node lease with the same name as the requesting node")),
            ("leases", Write::Update { object: &system_lease, old: &system_lease }, Some("leases.coordination.k8s.io \"n1\" is forbidden: can only access leases in the \"kube-node-lease\" system namespace")),
            ("configmaps", Write::Create(&config_map), None),
        ];
        for (plural, write, expected) in rows {
            let result = admit(&n1, resource(plural), &write);
            assert_eq!(result.as_ref().err().map(|err| err.message.as_str()), expected, "{plural} {}", write.operation());
            if let Err(err) = result {
                assert_eq!(err.code, 403);
            }
        }
        // Anyone else passes; a node user without a name is refused everything.
        let admin = User { name: "admin".into(), uid: String::new(), groups: vec!["system:masters".into()] };
        assert!(admit(&admin, resource("nodes"), &Write::Delete(&node("n2", json!({}), json!([])))).is_ok());
        let nameless = admit(&node_user(""), resource("configmaps"), &Write::Create(&lease("demo", "x"))).unwrap_err();
        assert_eq!(nameless.message, "configmaps \"x\" is forbidden: could not determine node from user \"system:node:\"");
    }

    /// A local-path volume pinned to `node`, being deleted, with these finalizers.
    fn volume(name: &str, node: &str, finalizers: Value) -> Value {
        json!({"metadata": {"name": name, "resourceVersion": "7", "finalizers": finalizers, "deletionTimestamp": "2026-12-06T22:00:00Z",
                "annotations": {"pv.kubernetes.io/provisioned-by": "cluster.local/local-path"}},
            "spec": {"hostPath": {"path": format!("/var/local-path-provisioner/{name}")}, "nodeAffinity": {"required": {"nodeSelectorTerms": [
                {"matchExpressions": [{"key": "kubernetes.io/hostname", "operator": "In", "values": [node]}]}]}}},
            "status": {"phase": "Released"}})
    }

    #[test]
    fn nodes_only_remove_the_provisioner_finalizer_of_their_deleted_local_volumes() {
        const DELETION: &str = "external-provisioner.volume.kubernetes.io/finalizer";
        let n1 = node_user("n1");
        let (mine, cleaned) = (volume("pv-a", "n1", json!([DELETION])), volume("pv-a", "n1", json!([])));
        let (theirs, theirs_cleaned) = (volume("pv-b", "n2", json!([DELETION])), volume("pv-b", "n2", json!([])));
        let mut unconditional = cleaned.clone();
        unconditional["metadata"].as_object_mut().map(|metadata| metadata.remove("resourceVersion"));
        let (several, kept_in_order, reordered) =
            (volume("pv-a", "n1", json!(["a.example/one", DELETION, "b.example/two"])), volume("pv-a", "n1", json!(["a.example/one", "b.example/two"])), volume("pv-a", "n1", json!(["b.example/two", "a.example/one"])));
        let (added, swapped) = (volume("pv-a", "n1", json!([DELETION, "example.com/hold"])), volume("pv-a", "n1", json!(["example.com/hold"])));
        let protected = volume("pv-a", "n1", json!(["kubernetes.io/pv-protection", DELETION]));
        let unprotected = volume("pv-a", "n1", json!([DELETION]));
        let without_deletion = volume("pv-a", "n1", json!(["kubernetes.io/pv-protection"]));
        let mut live = mine.clone();
        live["metadata"].as_object_mut().map(|metadata| metadata.remove("deletionTimestamp"));
        let mut live_cleaned = cleaned.clone();
        live_cleaned["metadata"].as_object_mut().map(|metadata| metadata.remove("deletionTimestamp"));
        let mut foreign = mine.clone();
        foreign["metadata"]["annotations"]["pv.kubernetes.io/provisioned-by"] = json!("example.com/nfs");
        let mut foreign_cleaned = cleaned.clone();
        foreign_cleaned["metadata"]["annotations"]["pv.kubernetes.io/provisioned-by"] = json!("example.com/nfs");
        let mut shared = mine.clone();
        shared["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"][0]["matchExpressions"][0]["values"] = json!(["n2", "n1"]);
        let mut shared_cleaned = shared.clone();
        shared_cleaned["metadata"]["finalizers"] = json!([]);
        let mut moved = cleaned.clone();
        moved["spec"]["hostPath"]["path"] = json!("/etc");
        let mut relabelled = cleaned.clone();
        relabelled["metadata"]["labels"] = json!({"a": "b"});
        let only_removal = "persistentvolumes \"pv-a\" is forbidden: node \"n1\" is only allowed to remove the \"external-provisioner.volume.kubernetes.io/finalizer\" finalizer of persistentvolumes";
        let rows: Vec<(&str, Write<'_>, Option<&str>)> = vec![
            ("the allowed removal", Write::Update { object: &cleaned, old: &mine }, None),
            ("the removal without a resourceVersion", Write::Update { object: &unconditional, old: &mine }, None),
            ("the removal from a volume naming several nodes, the node among them", Write::Update { object: &shared_cleaned, old: &shared }, None),
            ("the removal keeping the others in order", Write::Update { object: &kept_in_order, old: &several }, None),
            ("the others reordered", Write::Update { object: &reordered, old: &several }, Some(only_removal)),
            ("adds a finalizer", Write::Update { object: &added, old: &mine }, Some(only_removal)),
            ("swaps the finalizer for another", Write::Update { object: &swapped, old: &mine }, Some(only_removal)),
            ("removes pv-protection", Write::Update { object: &unprotected, old: &protected }, Some(only_removal)),
            ("removes pv-protection too", Write::Update { object: &cleaned, old: &protected }, Some(only_removal)),
            ("no provisioner finalizer to remove", Write::Update { object: &without_deletion, old: &without_deletion }, Some(only_removal)),
            ("PV not being deleted", Write::Update { object: &live_cleaned, old: &live },
             Some("persistentvolumes \"pv-a\" is forbidden: node \"n1\" is not allowed to modify persistentvolume \"pv-a\": it is not being deleted")),
            ("another provisioner's PV", Write::Update { object: &foreign_cleaned, old: &foreign },
             Some("persistentvolumes \"pv-a\" is forbidden: node \"n1\" is not allowed to modify persistentvolume \"pv-a\": it was not provisioned by \"cluster.local/local-path\"")),
            ("another node's PV", Write::Update { object: &theirs_cleaned, old: &theirs },
             Some("persistentvolumes \"pv-b\" is forbidden: node \"n1\" is not allowed to modify persistentvolume \"pv-b\": its node affinity does not name the node")),
            ("moves the volume", Write::Update { object: &moved, old: &mine }, Some("persistentvolumes \"pv-a\" is forbidden: node \"n1\" is not allowed to update fields of persistentvolumes other than metadata.finalizers")),
            ("relabels the volume", Write::Update { object: &relabelled, old: &mine }, Some("persistentvolumes \"pv-a\" is forbidden: node \"n1\" is not allowed to update fields of persistentvolumes other than metadata.finalizers")),
            ("a status write", Write::StatusUpdate { object: &cleaned, old: &mine }, Some("persistentvolumes \"pv-a\" is forbidden: unexpected operation \"UPDATE\", node \"n1\" can only update the finalizers of persistentvolumes")),
            ("a create", Write::Create(&mine), Some("persistentvolumes \"pv-a\" is forbidden: unexpected operation \"CREATE\", node \"n1\" can only update the finalizers of persistentvolumes")),
            ("a delete", Write::Delete(&mine), Some("persistentvolumes \"pv-a\" is forbidden: unexpected operation \"DELETE\", node \"n1\" can only update the finalizers of persistentvolumes")),
        ];
        for (case, write, expected) in rows {
            let result = admit(&n1, resource("persistentvolumes"), &write);
            assert_eq!(result.as_ref().err().map(|err| err.message.as_str()), expected, "{case}");
            if let Err(err) = result {
                assert_eq!(err.code, 403, "{case}");
            }
        }
    }

    #[test]
    fn nodes_write_only_the_capacity_and_conditions_of_a_claims_status() {
        let n1 = node_user("n1");
        // Of a claim's status, a node writes the capacity and conditions only.
        let claim = json!({"metadata": {"name": "data", "namespace": "demo"}, "spec": {"volumeName": "pv-a"}, "status": {"phase": "Bound", "capacity": {"storage": "1Gi"}}});
        let mut grown = claim.clone();
        grown["status"]["capacity"]["storage"] = json!("2Gi");
        let mut lost = claim.clone();
        lost["status"]["phase"] = json!("Lost");
        assert!(admit(&n1, resource("persistentvolumeclaims"), &Write::StatusUpdate { object: &grown, old: &claim }).is_ok());
        let refused = admit(&n1, resource("persistentvolumeclaims"), &Write::StatusUpdate { object: &lost, old: &claim }).unwrap_err();
        assert_eq!(refused.message, "persistentvolumeclaims \"data\" is forbidden: node \"n1\" is not allowed to update fields other than status.capacity and status.conditions");
    }
}
