//! The Node authorizer (`--authorization-mode=Node,...`), as kube-apiserver's
//! (`plugin/pkg/auth/authorizer/node`): a kubelet, `system:node:<name>` in `system:nodes`, may
//! get the Secrets and ConfigMaps the pods bound to its node use, get those pods, ask tokens for
//! their ServiceAccounts, use its own Lease, and do what the static `system:node` rules allow.
//! Anything else gets no opinion, for the next mode (RBAC) to decide; what a node may write is
//! then narrowed to its own objects by the NodeRestriction admission plugin.
//!
//! Which objects a node's pods use comes from an index over the pods watch cache, brought up to
//! date from the cache's live feed whenever a request needs it (and read again whole only when
//! the feed was lost), so that a kubelet may read a pod's Secret as soon as it has seen the pod.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use serde_json::{Value, json};
use tokio::sync::broadcast::{self, error::TryRecvError};

use crate::request::User;
use super::{Decision, Rule};
use crate::request::Attributes;
use crate::state::Api;
use crate::watch_cache::{CachedEvent, EventType, ResourceCache};

/// The group every kubelet's credentials carry.
pub const NODES_GROUP: &str = "system:nodes";
const NODE_USER_PREFIX: &str = "system:node:";
/// Where kubelets keep their heartbeat Leases, each named after its node.
pub const NODE_LEASE_NAMESPACE: &str = "kube-node-lease";

/// The node a user is, as Kubernetes' NodeIdentifier reads it: `system:node:<name>` in the
/// `system:nodes` group. The name may be empty: such a user is a node, but none in particular,
/// and may do nothing as one.
pub fn node_identity(user: &User) -> Option<&str> {
    let name = user.name.strip_prefix(NODE_USER_PREFIX)?;
    user.groups.iter().any(|group| group == NODES_GROUP).then_some(name)
}

/// What a node may do whatever its pods are (`NodeRules()` of Kubernetes' bootstrap policy,
/// trimmed to the resources this server serves). It is also the `system:node` ClusterRole.
pub fn node_rules() -> Value {
    json!([
        // Needed to check API access.
        {"apiGroups": ["authorization.k8s.io"], "resources": ["subjectaccessreviews"], "verbs": ["create"]},
        // Services become the environment variables of containers.
        {"apiGroups": [""], "resources": ["services"], "verbs": ["get", "list", "watch"]},
        // Nodes register and report their status; NodeRestriction keeps each to its own Node.
        {"apiGroups": [""], "resources": ["nodes"], "verbs": ["create", "get", "list", "watch"]},
        {"apiGroups": [""], "resources": ["nodes/status"], "verbs": ["update", "patch"]},
        {"apiGroups": [""], "resources": ["nodes"], "verbs": ["update", "patch"]},
        {"apiGroups": [""], "resources": ["events"], "verbs": ["create", "update", "patch"]},
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]},
        // The kubelet deletes the pods it has stopped. Kubernetes also lets it create mirror
        // pods; static pods do not exist here, so that is left out.
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["delete"]},
        {"apiGroups": [""], "resources": ["pods/status"], "verbs": ["update", "patch"]},
        // Narrowed by this authorizer to the Secrets and ConfigMaps of the node's pods.
        {"apiGroups": [""], "resources": ["secrets", "configmaps"], "verbs": ["get", "list", "watch"]},
        {"apiGroups": [""], "resources": ["endpoints"], "verbs": ["get"]},
        {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["get", "create", "update", "patch", "delete"]},
        {"apiGroups": [""], "resources": ["serviceaccounts/token"], "verbs": ["create"]},
        // Persistent volumes: the claims of its pods (narrowed by this authorizer), and the
        // volumes. Kubernetes lets a kubelet get only the volumes of its pods' claims; this one
        // also watches them all, to clean up the local-path volumes of its node once deleted,
        // and removes their finalizer, which NodeRestriction keeps it to, on volumes of its node.
        {"apiGroups": [""], "resources": ["persistentvolumeclaims"], "verbs": ["get"]},
        {"apiGroups": [""], "resources": ["persistentvolumeclaims/status"], "verbs": ["update", "patch"]},
        {"apiGroups": [""], "resources": ["persistentvolumes"], "verbs": ["get", "list", "watch", "update", "patch"]},
        {"apiGroups": ["storage.k8s.io"], "resources": ["volumeattachments"], "verbs": ["get"]},
        {"apiGroups": ["storage.k8s.io"], "resources": ["csidrivers"], "verbs": ["get", "list", "watch"]},
    ])
}

/// What a node's pods make it related to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    Pod,
    Secret,
    ConfigMap,
    ServiceAccount,
    PersistentVolumeClaim,
}

/// One relation: `node` runs a pod that is, or uses, the object `kind` `namespace`/`name`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Edge {
    node: String,
    kind: Kind,
    namespace: String,
    name: String,
}

/// The relations of every bound pod, counted, since two pods may use the same Secret.
#[derive(Debug, Default)]
pub struct Graph {
    by_pod: HashMap<String, Vec<Edge>>,
    edges: HashMap<Edge, usize>,
}

impl Graph {
    /// Whether `node` runs a pod that is, or uses, `kind` `namespace`/`name`.
    pub fn related(&self, node: &str, kind: Kind, namespace: &str, name: &str) -> bool {
        let edge = Edge { node: node.to_string(), kind, namespace: namespace.to_string(), name: name.to_string() };
        self.edges.contains_key(&edge)
    }

    /// Replaces what the pod stored under `key` relates (nothing once it is deleted).
    fn set(&mut self, key: &str, pod: Option<&Value>) {
        for edge in self.by_pod.remove(key).into_iter().flatten() {
            if let Some(count) = self.edges.get_mut(&edge) {
                *count -= 1;
                if *count == 0 {
                    self.edges.remove(&edge);
                }
            }
        }
        let edges = pod.map(edges).unwrap_or_default();
        if edges.is_empty() {
            return;
        }
        for edge in &edges {
            *self.edges.entry(edge.clone()).or_default() += 1;
        }
        self.by_pod.insert(key.to_string(), edges);
    }

    fn apply(&mut self, event: &CachedEvent) {
        match event.kind {
            EventType::Deleted => self.set(&event.key, None),
            EventType::Added | EventType::Modified => self.set(&event.key, Some(&event.object.value())),
        }
    }
}

/// The relations a pod makes, as Kubernetes' graph populator adds them: none until it is bound
/// to a node; then the pod itself, its ServiceAccount, its image pull Secrets, and the Secrets
/// and ConfigMaps of its volumes (projected ones too) and of every container's env and envFrom.
fn edges(pod: &Value) -> Vec<Edge> {
    let spec = &pod["spec"];
    let Some(node) = spec["nodeName"].as_str().filter(|node| !node.is_empty()) else { return Vec::new() };
    let namespace = pod["metadata"]["namespace"].as_str().unwrap_or_default();
    let mut edges = Vec::new();
    let mut add = |kind: Kind, name: &Value| {
        if let Some(name) = name.as_str().filter(|name| !name.is_empty()) {
            let edge = Edge { node: node.to_string(), kind, namespace: namespace.to_string(), name: name.to_string() };
            if !edges.contains(&edge) {
                edges.push(edge);
            }
        }
    };
    add(Kind::Pod, &pod["metadata"]["name"]);
    // Kubernetes' ServiceAccount admission names `default` when the pod names none; this
    // server's does not, and the kubelet then acts for `default` all the same.
    let account = [&spec["serviceAccountName"], &spec["serviceAccount"]].into_iter().find(|name| name.as_str().is_some_and(|name| !name.is_empty()));
    add(Kind::ServiceAccount, account.unwrap_or(&json!("default")));
    for secret in spec["imagePullSecrets"].as_array().into_iter().flatten() {
        add(Kind::Secret, &secret["name"]);
    }
    for volume in spec["volumes"].as_array().into_iter().flatten() {
        add(Kind::Secret, &volume["secret"]["secretName"]);
        add(Kind::ConfigMap, &volume["configMap"]["name"]);
        add(Kind::PersistentVolumeClaim, &volume["persistentVolumeClaim"]["claimName"]);
        // An ephemeral volume's claim is named after the pod and the volume. Whether the pod
        // owns it is not asked, as kube's graph does not: the node reads it to find out.
        if volume["ephemeral"].is_object()
            && let (Some(pod), Some(volume)) = (pod["metadata"]["name"].as_str(), volume["name"].as_str())
        {
            add(Kind::PersistentVolumeClaim, &json!(common::storage::ephemeral_claim_name(pod, volume)));
        }
        for source in volume["projected"]["sources"].as_array().into_iter().flatten() {
            add(Kind::Secret, &source["secret"]["name"]);
            add(Kind::ConfigMap, &source["configMap"]["name"]);
        }
    }
    let containers = ["initContainers", "containers", "ephemeralContainers"].into_iter().flat_map(|field| spec[field].as_array().into_iter().flatten());
    for container in containers {
        for source in container["envFrom"].as_array().into_iter().flatten() {
            add(Kind::Secret, &source["secretRef"]["name"]);
            add(Kind::ConfigMap, &source["configMapRef"]["name"]);
        }
        for variable in container["env"].as_array().into_iter().flatten() {
            add(Kind::Secret, &variable["valueFrom"]["secretKeyRef"]["name"]);
            add(Kind::ConfigMap, &variable["valueFrom"]["configMapKeyRef"]["name"]);
        }
    }
    edges
}

/// The graph and the pods cache's feed it follows.
#[derive(Default)]
struct Index {
    graph: Graph,
    /// None until the first request that needs the graph, and after the feed was lost.
    feed: Option<broadcast::Receiver<Arc<CachedEvent>>>,
}

impl Index {
    /// Applies what the pods cache saw since the last call; reads the cache whole if the feed
    /// fell behind or the cache started over.
    fn refresh(&mut self, pods: &ResourceCache) {
        while let Some(feed) = self.feed.as_mut() {
            match feed.try_recv() {
                Ok(event) => self.graph.apply(&event),
                Err(TryRecvError::Empty) => return,
                Err(TryRecvError::Lagged(_) | TryRecvError::Closed) => self.feed = None,
            }
        }
        let (objects, _, feed) = pods.snapshot();
        let mut graph = Graph::default();
        for object in objects {
            let pod = object.value();
            // The key the feed's events carry for this pod.
            let key = pods.resource().key(pod["metadata"]["namespace"].as_str(), pod["metadata"]["name"].as_str().unwrap_or_default());
            graph.set(&key, Some(&pod));
        }
        *self = Self { graph, feed: Some(feed) };
    }
}

/// The Node authorizer; clones share the index.
#[derive(Clone)]
pub struct NodeAuthorizer {
    api: Arc<Api>,
    rules: Arc<[Rule]>,
    index: Arc<Mutex<Index>>,
}

impl NodeAuthorizer {
    pub fn new(api: Arc<Api>) -> Self {
        let rules = node_rules().as_array().into_iter().flatten().map(Rule::parse).collect();
        Self { api, rules, index: Arc::default() }
    }

    pub async fn authorize(&self, user: &User, attributes: &Attributes) -> Decision {
        let Some(node) = node_identity(user) else { return Decision::no_opinion("") };
        if node.is_empty() {
            return Decision::no_opinion(format!("unknown node for user {:?}", user.name));
        }
        if !uses_graph(attributes) {
            return decide(node, attributes, &self.rules, &Graph::default());
        }
        let Some(pods) = self.api.registry.find("", "v1", "pods").and_then(|resource| self.api.cache.of(&resource)) else {
            return Decision::no_opinion("no pods cache to relate objects to nodes");
        };
        pods.wait_ready().await;
        let mut index = self.index.lock().unwrap_or_else(PoisonError::into_inner);
        index.refresh(&pods);
        decide(node, attributes, &self.rules, &index.graph)
    }
}

/// The requests whose answer depends on the node's pods.
fn uses_graph(attributes: &Attributes) -> bool {
    let pod_get = attributes.verb == "get" && attributes.subresource.is_empty();
    attributes.group.is_empty()
        && match attributes.resource.as_deref() {
            Some("secrets" | "configmaps" | "serviceaccounts" | "persistentvolumeclaims") => true,
            Some("pods") => pod_get,
            _ => false,
        }
}

/// The decision for `node`'s request, with `graph` the relations of the pods bound to nodes.
fn decide(node: &str, attributes: &Attributes, rules: &[Rule], graph: &Graph) -> Decision {
    let verb = attributes.verb.as_str();
    let subresource = attributes.subresource.as_str();
    let related = |kind: Kind| {
        if attributes.name.is_empty() {
            return Decision::no_opinion("No Object name found");
        }
        if graph.related(node, kind, &attributes.namespace, &attributes.name) {
            Decision::Allow
        } else {
            Decision::no_opinion(format!("no relationship found between node '{node}' and this object"))
        }
    };
    match (attributes.group.as_str(), attributes.resource.as_deref()) {
        ("", Some(resource @ ("secrets" | "configmaps"))) => {
            if !matches!(verb, "get" | "list" | "watch") {
                return Decision::no_opinion("can only read resources of this type");
            }
            if !subresource.is_empty() {
                return Decision::no_opinion("cannot read subresource");
            }
            if attributes.namespace.is_empty() {
                return Decision::no_opinion("can only read namespaced object of this type");
            }
            related(if resource == "secrets" { Kind::Secret } else { Kind::ConfigMap })
        }
        // `authorizeGet`, and `authorizeStatusUpdate` for the status (volume expansion).
        ("", Some("persistentvolumeclaims")) => {
            if subresource == "status" {
                if !matches!(verb, "update" | "patch") {
                    return Decision::no_opinion("can only get/update/patch this type");
                }
                return related(Kind::PersistentVolumeClaim);
            }
            if verb != "get" {
                return Decision::no_opinion("can only get individual resources of this type");
            }
            if !subresource.is_empty() {
                return Decision::no_opinion("cannot get subresource");
            }
            related(Kind::PersistentVolumeClaim)
        }
        ("", Some("serviceaccounts")) => {
            if verb != "create" || attributes.name.is_empty() {
                return Decision::no_opinion("can only create tokens for individual service accounts");
            }
            if subresource != "token" {
                return Decision::no_opinion("can only create token subresource of serviceaccount");
            }
            related(Kind::ServiceAccount)
        }
        ("coordination.k8s.io", Some("leases")) => {
            if !matches!(verb, "get" | "create" | "update" | "patch" | "delete") {
                return Decision::no_opinion("can only get, create, update, patch, or delete a node lease");
            }
            if attributes.namespace != NODE_LEASE_NAMESPACE {
                return Decision::no_opinion(format!("can only access leases in the {NODE_LEASE_NAMESPACE:?} system namespace"));
            }
            // A create names no lease in its path: NodeRestriction checks the object's name.
            if verb != "create" && attributes.name != node {
                return Decision::no_opinion("can only access node lease with the same name as the requesting node");
            }
            Decision::Allow
        }
        ("", Some("pods")) => match (subresource, verb) {
            ("", "get") => related(Kind::Pod),
            // Allowed whole, as before Kubernetes 1.32's AuthorizeNodeWithSelectors: field
            // selectors are no part of a request's attributes here.
            ("", "list" | "watch") => Decision::Allow,
            // NodeRestriction keeps a node to deleting, and writing the status of, its own pods.
            ("", "delete") | ("status", "update" | "patch") => Decision::Allow,
            _ => Decision::no_opinion(""),
        },
        _ if rules.iter().any(|rule| rule.allows(attributes)) => Decision::Allow,
        _ => Decision::no_opinion(""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(namespace: &str, name: &str, node: &str, spec: Value) -> Value {
        let mut pod = json!({"metadata": {"namespace": namespace, "name": name}, "spec": spec});
        pod["spec"]["nodeName"] = json!(node);
        pod
    }

    fn user(name: &str, groups: &[&str]) -> User {
        User { name: name.into(), uid: String::new(), groups: groups.iter().map(|group| (*group).to_string()).collect() }
    }

    #[test]
    fn nodes_are_identified_as_kubernetes_identifies_them() {
        assert_eq!(node_identity(&user("system:node:n1", &["system:nodes", "system:authenticated"])), Some("n1"));
        assert_eq!(node_identity(&user("system:node:n1", &["system:authenticated"])), None, "the group is required");
        assert_eq!(node_identity(&user("n1", &["system:nodes"])), None, "so is the prefix");
        assert_eq!(node_identity(&user("system:node:", &["system:nodes"])), Some(""));
    }

    #[test]
    fn pods_relate_their_node_to_what_they_use() {
        let spec = json!({
            "serviceAccountName": "builder",
            "imagePullSecrets": [{"name": "registry"}],
            "volumes": [{"name": "a", "secret": {"secretName": "tls"}}, {"name": "b", "configMap": {"name": "settings"}},
                        {"name": "c", "projected": {"sources": [{"secret": {"name": "projected-secret"}}, {"configMap": {"name": "projected-map"}}]}}],
            "initContainers": [{"name": "init", "envFrom": [{"secretRef": {"name": "init-env"}}]}],
            "containers": [{"name": "app", "env": [{"name": "X", "valueFrom": {"secretKeyRef": {"name": "password", "key": "p"}}},
                                                   {"name": "Y", "valueFrom": {"configMapKeyRef": {"name": "flags", "key": "f"}}}],
                            "envFrom": [{"configMapRef": {"name": "env-map"}}]}],
        });
        let mut graph = Graph::default();
        graph.set("/pods/demo/web", Some(&pod("demo", "web", "n1", spec.clone())));
        graph.set("/pods/demo/copy", Some(&pod("demo", "copy", "n1", spec)));
        for (kind, name) in [(Kind::Pod, "web"), (Kind::ServiceAccount, "builder"), (Kind::Secret, "registry"), (Kind::Secret, "tls"), (Kind::ConfigMap, "settings"),
                             (Kind::Secret, "projected-secret"), (Kind::ConfigMap, "projected-map"), (Kind::Secret, "init-env"), (Kind::Secret, "password"),
                             (Kind::ConfigMap, "flags"), (Kind::ConfigMap, "env-map")] {
            assert!(graph.related("n1", kind, "demo", name), "{kind:?} {name}");
            assert!(!graph.related("n2", kind, "demo", name), "another node: {kind:?} {name}");
            assert!(!graph.related("n1", kind, "other", name), "another namespace: {kind:?} {name}");
        }
        assert!(!graph.related("n1", Kind::ConfigMap, "demo", "tls"), "the kind matters");
        // Counted: the Secret stays related while one of its two pods is left.
        graph.set("/pods/demo/web", None);
        assert!(!graph.related("n1", Kind::Pod, "demo", "web") && graph.related("n1", Kind::Secret, "demo", "tls"));
        graph.set("/pods/demo/copy", Some(&pod("demo", "copy", "n2", json!({}))));
        assert!(!graph.related("n1", Kind::Secret, "demo", "tls"), "moved to n2, without the secret");
        assert!(graph.related("n2", Kind::ServiceAccount, "demo", "default"), "no account named: default");
        graph.set("/pods/demo/unbound", Some(&json!({"metadata": {"namespace": "demo", "name": "unbound"}, "spec": {"volumes": [{"secret": {"secretName": "s"}}]}})));
        assert!(graph.edges.keys().all(|edge| edge.name != "s" && edge.name != "unbound"), "unbound pods relate nothing");
    }

    #[test]
    fn requests_are_decided_as_the_node_authorizer_decides_them() {
        let rules: Vec<Rule> = node_rules().as_array().into_iter().flatten().map(Rule::parse).collect();
        let mut graph = Graph::default();
        let volumes = json!({"volumes": [{"name": "s", "secret": {"secretName": "mine"}}, {"name": "d", "persistentVolumeClaim": {"claimName": "data"}},
            {"name": "scratch", "ephemeral": {"volumeClaimTemplate": {"spec": {}}}}]});
        graph.set("/pods/demo/web", Some(&pod("demo", "web", "n1", volumes)));
        let decide = |method: &str, path: &str| decide("n1", &Attributes::of(method, path, false), &rules, &graph);
        let allowed = [
            ("GET", "/api/v1/namespaces/demo/secrets/mine"),
            ("GET", "/api/v1/namespaces/demo/pods/web"),
            ("GET", "/api/v1/pods"),
            ("PATCH", "/api/v1/namespaces/demo/pods/web/status"),
            ("DELETE", "/api/v1/namespaces/demo/pods/web"),
            ("GET", "/api/v1/nodes"),
            ("GET", "/api/v1/nodes/n2"),
            ("PATCH", "/api/v1/nodes/n1/status"),
            ("POST", "/api/v1/nodes"),
            ("POST", "/api/v1/namespaces/demo/events"),
            ("GET", "/api/v1/services"),
            ("POST", "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases"),
            ("PUT", "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/n1"),
            ("POST", "/api/v1/namespaces/demo/serviceaccounts/default/token"),
            ("GET", "/api/v1/namespaces/demo/persistentvolumeclaims/data"),
            ("GET", "/api/v1/namespaces/demo/persistentvolumeclaims/web-scratch"),
            ("PATCH", "/api/v1/namespaces/demo/persistentvolumeclaims/data/status"),
            ("GET", "/api/v1/persistentvolumes/pv1"),
            ("GET", "/api/v1/persistentvolumes"),
            ("PATCH", "/api/v1/persistentvolumes/pv1"),
            ("PUT", "/api/v1/persistentvolumes/pv1"),
        ];
        for (method, path) in allowed {
            assert_eq!(decide(method, path), Decision::Allow, "{method} {path}");
        }
        let refused = [
            ("GET", "/api/v1/namespaces/demo/secrets/yours", "no relationship found between node 'n1' and this object"),
            ("GET", "/api/v1/namespaces/demo/secrets", "No Object name found"),
            ("DELETE", "/api/v1/namespaces/demo/secrets/mine", "can only read resources of this type"),
            ("GET", "/api/v1/namespaces/demo/pods/other", "no relationship found between node 'n1' and this object"),
            ("POST", "/api/v1/namespaces/demo/pods", ""),
            ("PUT", "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/n2", "can only access node lease with the same name as the requesting node"),
            ("GET", "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/n1", "can only access leases in the \"kube-node-lease\" system namespace"),
            ("POST", "/api/v1/namespaces/demo/serviceaccounts/builder/token", "no relationship found between node 'n1' and this object"),
            ("DELETE", "/api/v1/nodes/n1", ""),
            ("GET", "/apis/apps/v1/deployments", ""),
            ("GET", "/api/v1/namespaces/demo/persistentvolumeclaims/other", "no relationship found between node 'n1' and this object"),
            ("GET", "/api/v1/namespaces/demo/persistentvolumeclaims/web-other", "no relationship found between node 'n1' and this object"),
            ("GET", "/api/v1/namespaces/demo/persistentvolumeclaims", "can only get individual resources of this type"),
            ("DELETE", "/api/v1/namespaces/demo/persistentvolumeclaims/data", "can only get individual resources of this type"),
            ("GET", "/api/v1/namespaces/demo/persistentvolumeclaims/data/status", "can only get/update/patch this type"),
            ("DELETE", "/api/v1/persistentvolumes/pv1", ""),
            ("POST", "/api/v1/persistentvolumes", ""),
            ("PUT", "/api/v1/persistentvolumes/pv1/status", ""),
        ];
        for (method, path, reason) in refused {
            assert_eq!(decide(method, path), Decision::no_opinion(reason), "{method} {path}");
        }
    }
}
