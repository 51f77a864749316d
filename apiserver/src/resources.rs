//! The resource types this server serves: their group, version, names and scope, as discovery
//! reports them and as the REST paths and storage keys use them.

/// One served resource type, e.g. `apps/v1` `deployments`.
#[derive(Debug, PartialEq, Eq)]
pub struct ResourceType {
    /// `""` for the core group.
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    pub plural: &'static str,
    pub singular: &'static str,
    pub namespaced: bool,
    pub short_names: &'static [&'static str],
    pub categories: &'static [&'static str],
    /// Subresources beside the object itself: `status`, `scale`, `binding`, `log`, `finalize`.
    pub subresources: &'static [&'static str],
    /// Whether `metadata.generation` is kept (bumped on spec changes), as Kubernetes does for
    /// the kinds whose spec a controller acts on.
    pub tracks_generation: bool,
    /// Whether a DELETE that removes the object answers with the object rather than a Status,
    /// as the kinds' storage in kube-apiserver says (`ReturnDeletedObject`: pods, services,
    /// service accounts).
    pub returns_deleted_object: bool,
    /// How `spec.selector` selects the pods the kind manages, for its Scale and its table.
    pub pod_selector: PodSelector,
}

/// The shape of a kind's `spec.selector` over its pods.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PodSelector {
    /// The kind manages no pods.
    None,
    /// A `LabelSelector` (`matchLabels`, `matchExpressions`): the apps kinds.
    LabelSelector,
    /// A plain label map: ReplicationController.
    LabelMap,
}

const ALL: &[&str] = &["all"];

pub static RESOURCES: &[ResourceType] = &[
    ResourceType {
        group: "",
        version: "v1",
        kind: "Namespace",
        plural: "namespaces",
        singular: "namespace",
        namespaced: false,
        short_names: &["ns"],
        categories: &[],
        subresources: &["status", "finalize"],
        tracks_generation: false,
        returns_deleted_object: false,
        pod_selector: PodSelector::None,
    },
    ResourceType {
        group: "",
        version: "v1",
        kind: "Pod",
        plural: "pods",
        singular: "pod",
        namespaced: true,
        short_names: &["po"],
        categories: ALL,
        subresources: &["status", "binding", "log", "exec", "attach", "portforward"],
        tracks_generation: true,
        returns_deleted_object: true,
        pod_selector: PodSelector::None,
    },
    ResourceType {
        group: "",
        version: "v1",
        kind: "Service",
        plural: "services",
        singular: "service",
        namespaced: true,
        short_names: &["svc"],
        categories: ALL,
        subresources: &["status"],
        tracks_generation: false,
        returns_deleted_object: true,
        pod_selector: PodSelector::None,
    },
    ResourceType {
        group: "",
        version: "v1",
        kind: "Endpoints",
        plural: "endpoints",
        singular: "endpoints",
        namespaced: true,
        short_names: &["ep"],
        categories: &[],
        subresources: &[],
        tracks_generation: false,
        returns_deleted_object: false,
        pod_selector: PodSelector::None,
    },
    ResourceType {
        group: "",
        version: "v1",
        kind: "ServiceAccount",
        plural: "serviceaccounts",
        singular: "serviceaccount",
        namespaced: true,
        short_names: &["sa"],
        categories: &[],
        subresources: &["token"],
        tracks_generation: false,
        returns_deleted_object: true,
        pod_selector: PodSelector::None,
    },
    ResourceType {
        group: "",
        version: "v1",
        kind: "ConfigMap",
        plural: "configmaps",
        singular: "configmap",
        namespaced: true,
        short_names: &["cm"],
        categories: &[],
        subresources: &[],
        tracks_generation: false,
        returns_deleted_object: false,
        pod_selector: PodSelector::None,
    },
    ResourceType {
        group: "",
        version: "v1",
        kind: "Secret",
        plural: "secrets",
        singular: "secret",
        namespaced: true,
        short_names: &[],
        categories: &[],
        subresources: &[],
        tracks_generation: false,
        returns_deleted_object: false,
        pod_selector: PodSelector::None,
    },
    ResourceType {
        group: "",
        version: "v1",
        kind: "Node",
        plural: "nodes",
        singular: "node",
        namespaced: false,
        short_names: &["no"],
        categories: &[],
        subresources: &["status"],
        tracks_generation: false,
        returns_deleted_object: false,
        pod_selector: PodSelector::None,
    },
    ResourceType {
        group: "",
        version: "v1",
        kind: "Event",
        plural: "events",
        singular: "event",
        namespaced: true,
        short_names: &["ev"],
        categories: &[],
        subresources: &[],
        tracks_generation: false,
        returns_deleted_object: false,
        pod_selector: PodSelector::None,
    },
    ResourceType {
        group: "",
        version: "v1",
        kind: "ReplicationController",
        plural: "replicationcontrollers",
        singular: "replicationcontroller",
        namespaced: true,
        short_names: &["rc"],
        categories: ALL,
        subresources: &["status", "scale"],
        tracks_generation: true,
        returns_deleted_object: false,
        pod_selector: PodSelector::LabelMap,
    },
    ResourceType {
        group: "apps",
        version: "v1",
        kind: "Deployment",
        plural: "deployments",
        singular: "deployment",
        namespaced: true,
        short_names: &["deploy"],
        categories: ALL,
        subresources: &["status", "scale"],
        tracks_generation: true,
        returns_deleted_object: false,
        pod_selector: PodSelector::LabelSelector,
    },
    ResourceType {
        group: "apps",
        version: "v1",
        kind: "ReplicaSet",
        plural: "replicasets",
        singular: "replicaset",
        namespaced: true,
        short_names: &["rs"],
        categories: ALL,
        subresources: &["status", "scale"],
        tracks_generation: true,
        returns_deleted_object: false,
        pod_selector: PodSelector::LabelSelector,
    },
    ResourceType {
        group: "rbac.authorization.k8s.io",
        version: "v1",
        kind: "Role",
        plural: "roles",
        singular: "role",
        namespaced: true,
        short_names: &[],
        categories: &[],
        subresources: &[],
        tracks_generation: false,
        returns_deleted_object: false,
        pod_selector: PodSelector::None,
    },
    ResourceType {
        group: "rbac.authorization.k8s.io",
        version: "v1",
        kind: "ClusterRole",
        plural: "clusterroles",
        singular: "clusterrole",
        namespaced: false,
        short_names: &[],
        categories: &[],
        subresources: &[],
        tracks_generation: false,
        returns_deleted_object: false,
        pod_selector: PodSelector::None,
    },
    ResourceType {
        group: "rbac.authorization.k8s.io",
        version: "v1",
        kind: "RoleBinding",
        plural: "rolebindings",
        singular: "rolebinding",
        namespaced: true,
        short_names: &[],
        categories: &[],
        subresources: &[],
        tracks_generation: false,
        returns_deleted_object: false,
        pod_selector: PodSelector::None,
    },
    ResourceType {
        group: "rbac.authorization.k8s.io",
        version: "v1",
        kind: "ClusterRoleBinding",
        plural: "clusterrolebindings",
        singular: "clusterrolebinding",
        namespaced: false,
        short_names: &[],
        categories: &[],
        subresources: &[],
        tracks_generation: false,
        returns_deleted_object: false,
        pod_selector: PodSelector::None,
    },
    ResourceType {
        group: "coordination.k8s.io",
        version: "v1",
        kind: "Lease",
        plural: "leases",
        singular: "lease",
        namespaced: true,
        short_names: &[],
        categories: &[],
        subresources: &[],
        tracks_generation: false,
        returns_deleted_object: false,
        pod_selector: PodSelector::None,
    },
];

impl ResourceType {
    /// A type that is only ever a request body (a Scale, a Binding), or a kind served by no
    /// declaration here (in tests): its group, version and kind alone, for decoding and its
    /// messages.
    pub const fn body_type(group: &'static str, version: &'static str, kind: &'static str) -> Self {
        Self {
            group,
            version,
            kind,
            plural: "",
            singular: "",
            namespaced: true,
            short_names: &[],
            categories: &[],
            subresources: &[],
            tracks_generation: false,
            returns_deleted_object: false,
            pod_selector: PodSelector::None,
        }
    }

    /// `v1` or `apps/v1`.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// The storage prefix of every object of this type.
    pub fn prefix(&self) -> String {
        let group = if self.group.is_empty() { "core" } else { self.group };
        format!("/registry/{group}/{}/", self.plural)
    }

    /// The storage prefix of one namespace's objects (or of all, for `None`).
    pub fn namespace_prefix(&self, namespace: Option<&str>) -> String {
        match namespace {
            Some(namespace) if self.namespaced => format!("{}{namespace}/", self.prefix()),
            _ => self.prefix(),
        }
    }

    pub fn key(&self, namespace: Option<&str>, name: &str) -> String {
        format!("{}{name}", self.namespace_prefix(namespace))
    }

    pub fn has_subresource(&self, name: &str) -> bool {
        self.subresources.contains(&name)
    }

    /// `deployments.apps`, or `pods` for the core group, as Status details and messages name it.
    pub fn qualified_plural(&self) -> String {
        if self.group.is_empty() {
            self.plural.to_string()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }
}

pub fn find(group: &str, version: &str, plural: &str) -> Option<&'static ResourceType> {
    RESOURCES
        .iter()
        .find(|resource| resource.group == group && resource.version == version && resource.plural == plural)
}

/// The served group versions, core first, in discovery order.
pub fn group_versions() -> Vec<(&'static str, &'static str)> {
    let mut seen = Vec::new();
    for resource in RESOURCES {
        if !seen.contains(&(resource.group, resource.version)) {
            seen.push((resource.group, resource.version));
        }
    }
    seen
}

pub fn namespaces() -> &'static ResourceType {
    &RESOURCES[0]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_the_registry_layout() {
        let pods = find("", "v1", "pods").unwrap();
        assert_eq!(pods.key(Some("demo"), "web"), "/registry/core/pods/demo/web");
        assert_eq!(pods.namespace_prefix(Some("demo")), "/registry/core/pods/demo/");
        let deployments = find("apps", "v1", "deployments").unwrap();
        assert_eq!(deployments.key(Some("demo"), "web"), "/registry/apps/deployments/demo/web");
        assert_eq!(namespaces().key(None, "demo"), "/registry/core/namespaces/demo");
        assert_eq!(namespaces().plural, "namespaces");
    }

    #[test]
    fn lookups() {
        assert_eq!(find("apps", "v1", "deployments").unwrap().kind, "Deployment");
        assert!(find("", "v1", "deployments").is_none());
        assert_eq!(group_versions(), vec![("", "v1"), ("apps", "v1"), ("rbac.authorization.k8s.io", "v1"), ("coordination.k8s.io", "v1")]);
    }
}
