//! The resource types this server serves: their group, version, names and scope, as discovery
//! reports them and as the REST paths and storage keys use them.

use std::borrow::Cow;
use std::sync::Arc;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::JSONSchemaProps;

/// A name in a declaration: borrowed for the built-in kinds, owned for the kinds
/// CustomResourceDefinitions declare at run time.
pub type Name = Cow<'static, str>;

/// A list of names in a declaration (short names, categories, subresources).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Names {
    Static(&'static [&'static str]),
    Owned(Vec<String>),
}

impl Names {
    pub fn len(&self) -> usize {
        match self {
            Names::Static(names) => names.len(),
            Names::Owned(names) => names.len(),
        }
    }

    fn get(&self, index: usize) -> &str {
        match self {
            Names::Static(names) => names[index],
            Names::Owned(names) => &names[index],
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        (0..self.len()).map(move |index| self.get(index))
    }

    pub fn contains(&self, name: &str) -> bool {
        self.iter().any(|candidate| candidate == name)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One served resource type, e.g. `apps/v1` `deployments`.
#[derive(Clone, Debug, PartialEq)]
pub struct ResourceType {
    /// `""` for the core group.
    pub group: Name,
    pub version: Name,
    pub kind: Name,
    pub plural: Name,
    pub singular: Name,
    pub namespaced: bool,
    pub short_names: Names,
    pub categories: Names,
    /// Subresources beside the object itself: `status`, `scale`, `binding`, `log`, `finalize`.
    pub subresources: Names,
    /// Whether `metadata.generation` is kept (bumped on spec changes), as Kubernetes does for
    /// the kinds whose spec a controller acts on.
    pub tracks_generation: bool,
    /// Whether a DELETE that removes the object answers with the object rather than a Status,
    /// as the kinds' storage in kube-apiserver says (`ReturnDeletedObject`: pods, services,
    /// service accounts).
    pub returns_deleted_object: bool,
    /// How `spec.selector` selects the pods the kind manages, for its Scale and its table.
    pub pod_selector: PodSelector,
    /// What a CustomResourceDefinition declares for a custom kind; `None` for built-in kinds.
    pub custom: Option<Arc<CustomKind>>,
    /// A finalizer the server adds when a deletion starts, so that the kind's own controller
    /// cleans up before the object goes (as kube-apiserver's CRD storage adds
    /// `customresourcecleanup.apiextensions.k8s.io`).
    pub deletion_finalizer: Option<&'static str>,
}

/// What a CustomResourceDefinition declares of one served version beyond its names.
#[derive(Debug, PartialEq)]
pub struct CustomKind {
    /// The definition's name (`widgets.example.com`).
    pub definition: String,
    /// The version objects are stored as.
    pub storage_version: String,
    /// The version's `openAPIV3Schema`, as declared (for OpenAPI documents).
    pub schema: Option<JSONSchemaProps>,
    /// The same as a structural schema with pruned defaults, for pruning, defaulting and
    /// validating objects.
    pub structural: Option<Arc<crate::schema::Structural>>,
    /// `additionalPrinterColumns`, for server-side tables.
    pub printer_columns: Vec<PrinterColumn>,
    /// The `scale` subresource's paths, when it is declared.
    pub scale: Option<ScalePaths>,
    /// `selectableFields` beyond `metadata.name` and `metadata.namespace`, as dotted paths.
    pub selectable_fields: Vec<String>,
    /// The definition is being deleted: its objects are read and deleted, not created.
    pub terminating: bool,
}

#[derive(Debug, PartialEq)]
pub struct PrinterColumn {
    pub name: String,
    pub type_: String,
    pub format: String,
    pub description: String,
    pub priority: i32,
    pub json_path: String,
}

/// Where a custom kind keeps what its Scale reads and writes (JSON paths such as `.spec.replicas`).
#[derive(Debug, PartialEq)]
pub struct ScalePaths {
    pub spec_replicas: String,
    pub status_replicas: String,
    pub label_selector: Option<String>,
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

/// The finalizer that keeps a CustomResourceDefinition until its objects are deleted.
pub const CUSTOM_RESOURCE_CLEANUP: &str = "customresourcecleanup.apiextensions.k8s.io";

pub static RESOURCES: &[ResourceType] = &[
    ResourceType {
        group: Name::Borrowed(""),
        version: Name::Borrowed("v1"),
        kind: Name::Borrowed("Namespace"),
        plural: Name::Borrowed("namespaces"),
        singular: Name::Borrowed("namespace"),
        namespaced: false,
        short_names: Names::Static(&["ns"]),
        categories: Names::Static(&[]),
        subresources: Names::Static(&["status", "finalize"]),
        tracks_generation: false,
        returns_deleted_object: false,
        pod_selector: PodSelector::None,
        custom: None,
        deletion_finalizer: None,
    },
    ResourceType {
        group: Name::Borrowed(""),
        version: Name::Borrowed("v1"),
        kind: Name::Borrowed("Pod"),
        plural: Name::Borrowed("pods"),
        singular: Name::Borrowed("pod"),
        namespaced: true,
        short_names: Names::Static(&["po"]),
        categories: Names::Static(ALL),
        subresources: Names::Static(&["status", "binding", "log", "exec", "attach", "portforward"]),
        tracks_generation: true,
        returns_deleted_object: true,
        pod_selector: PodSelector::None,
        custom: None,
        deletion_finalizer: None,
    },
    ResourceType {
        group: Name::Borrowed(""),
        version: Name::Borrowed("v1"),
        kind: Name::Borrowed("Service"),
        plural: Name::Borrowed("services"),
        singular: Name::Borrowed("service"),
        namespaced: true,
        short_names: Names::Static(&["svc"]),
        categories: Names::Static(ALL),
        subresources: Names::Static(&["status"]),
        tracks_generation: false,
        returns_deleted_object: true,
        pod_selector: PodSelector::None,
        custom: None,
        deletion_finalizer: None,
    },
    ResourceType {
        group: Name::Borrowed(""),
        version: Name::Borrowed("v1"),
        kind: Name::Borrowed("Endpoints"),
        plural: Name::Borrowed("endpoints"),
        singular: Name::Borrowed("endpoints"),
        namespaced: true,
        short_names: Names::Static(&["ep"]),
        categories: Names::Static(&[]),
        subresources: Names::Static(&[]),
        tracks_generation: false,
        returns_deleted_object: false,
        pod_selector: PodSelector::None,
        custom: None,
        deletion_finalizer: None,
    },
    ResourceType {
        group: Name::Borrowed(""),
        version: Name::Borrowed("v1"),
        kind: Name::Borrowed("ServiceAccount"),
        plural: Name::Borrowed("serviceaccounts"),
        singular: Name::Borrowed("serviceaccount"),
        namespaced: true,
        short_names: Names::Static(&["sa"]),
        categories: Names::Static(&[]),
        subresources: Names::Static(&["token"]),
        tracks_generation: false,
        returns_deleted_object: true,
        pod_selector: PodSelector::None,
        custom: None,
        deletion_finalizer: None,
    },
    ResourceType {
        group: Name::Borrowed(""),
        version: Name::Borrowed("v1"),
        kind: Name::Borrowed("ConfigMap"),
        plural: Name::Borrowed("configmaps"),
        singular: Name::Borrowed("configmap"),
        namespaced: true,
        short_names: Names::Static(&["cm"]),
        categories: Names::Static(&[]),
        subresources: Names::Static(&[]),
        tracks_generation: false,
        returns_deleted_object: false,
        pod_selector: PodSelector::None,
        custom: None,
        deletion_finalizer: None,
    },
    ResourceType {
        group: Name::Borrowed(""),
        version: Name::Borrowed("v1"),
        kind: Name::Borrowed("Secret"),
        plural: Name::Borrowed("secrets"),
        singular: Name::Borrowed("secret"),
        namespaced: true,
        short_names: Names::Static(&[]),
        categories: Names::Static(&[]),
        subresources: Names::Static(&[]),
        tracks_generation: false,
        returns_deleted_object: false,
        pod_selector: PodSelector::None,
        custom: None,
        deletion_finalizer: None,
    },
    ResourceType {
        group: Name::Borrowed(""),
        version: Name::Borrowed("v1"),
        kind: Name::Borrowed("Node"),
        plural: Name::Borrowed("nodes"),
        singular: Name::Borrowed("node"),
        namespaced: false,
        short_names: Names::Static(&["no"]),
        categories: Names::Static(&[]),
        subresources: Names::Static(&["status"]),
        tracks_generation: false,
        returns_deleted_object: false,
        pod_selector: PodSelector::None,
        custom: None,
        deletion_finalizer: None,
    },
    ResourceType {
        group: Name::Borrowed(""),
        version: Name::Borrowed("v1"),
        kind: Name::Borrowed("Event"),
        plural: Name::Borrowed("events"),
        singular: Name::Borrowed("event"),
        namespaced: true,
        short_names: Names::Static(&["ev"]),
        categories: Names::Static(&[]),
        subresources: Names::Static(&[]),
        tracks_generation: false,
        returns_deleted_object: false,
        pod_selector: PodSelector::None,
        custom: None,
        deletion_finalizer: None,
    },
    ResourceType {
        group: Name::Borrowed(""),
        version: Name::Borrowed("v1"),
        kind: Name::Borrowed("ReplicationController"),
        plural: Name::Borrowed("replicationcontrollers"),
        singular: Name::Borrowed("replicationcontroller"),
        namespaced: true,
        short_names: Names::Static(&["rc"]),
        categories: Names::Static(ALL),
        subresources: Names::Static(&["status", "scale"]),
        tracks_generation: true,
        returns_deleted_object: false,
        pod_selector: PodSelector::LabelMap,
        custom: None,
        deletion_finalizer: None,
    },
    ResourceType {
        group: Name::Borrowed("apps"),
        version: Name::Borrowed("v1"),
        kind: Name::Borrowed("Deployment"),
        plural: Name::Borrowed("deployments"),
        singular: Name::Borrowed("deployment"),
        namespaced: true,
        short_names: Names::Static(&["deploy"]),
        categories: Names::Static(ALL),
        subresources: Names::Static(&["status", "scale"]),
        tracks_generation: true,
        returns_deleted_object: false,
        pod_selector: PodSelector::LabelSelector,
        custom: None,
        deletion_finalizer: None,
    },
    ResourceType {
        group: Name::Borrowed("apps"),
        version: Name::Borrowed("v1"),
        kind: Name::Borrowed("ReplicaSet"),
        plural: Name::Borrowed("replicasets"),
        singular: Name::Borrowed("replicaset"),
        namespaced: true,
        short_names: Names::Static(&["rs"]),
        categories: Names::Static(ALL),
        subresources: Names::Static(&["status", "scale"]),
        tracks_generation: true,
        returns_deleted_object: false,
        pod_selector: PodSelector::LabelSelector,
        custom: None,
        deletion_finalizer: None,
    },
    ResourceType {
        group: Name::Borrowed("rbac.authorization.k8s.io"),
        version: Name::Borrowed("v1"),
        kind: Name::Borrowed("Role"),
        plural: Name::Borrowed("roles"),
        singular: Name::Borrowed("role"),
        namespaced: true,
        short_names: Names::Static(&[]),
        categories: Names::Static(&[]),
        subresources: Names::Static(&[]),
        tracks_generation: false,
        returns_deleted_object: false,
        pod_selector: PodSelector::None,
        custom: None,
        deletion_finalizer: None,
    },
    ResourceType {
        group: Name::Borrowed("rbac.authorization.k8s.io"),
        version: Name::Borrowed("v1"),
        kind: Name::Borrowed("ClusterRole"),
        plural: Name::Borrowed("clusterroles"),
        singular: Name::Borrowed("clusterrole"),
        namespaced: false,
        short_names: Names::Static(&[]),
        categories: Names::Static(&[]),
        subresources: Names::Static(&[]),
        tracks_generation: false,
        returns_deleted_object: false,
        pod_selector: PodSelector::None,
        custom: None,
        deletion_finalizer: None,
    },
    ResourceType {
        group: Name::Borrowed("rbac.authorization.k8s.io"),
        version: Name::Borrowed("v1"),
        kind: Name::Borrowed("RoleBinding"),
        plural: Name::Borrowed("rolebindings"),
        singular: Name::Borrowed("rolebinding"),
        namespaced: true,
        short_names: Names::Static(&[]),
        categories: Names::Static(&[]),
        subresources: Names::Static(&[]),
        tracks_generation: false,
        returns_deleted_object: false,
        pod_selector: PodSelector::None,
        custom: None,
        deletion_finalizer: None,
    },
    ResourceType {
        group: Name::Borrowed("rbac.authorization.k8s.io"),
        version: Name::Borrowed("v1"),
        kind: Name::Borrowed("ClusterRoleBinding"),
        plural: Name::Borrowed("clusterrolebindings"),
        singular: Name::Borrowed("clusterrolebinding"),
        namespaced: false,
        short_names: Names::Static(&[]),
        categories: Names::Static(&[]),
        subresources: Names::Static(&[]),
        tracks_generation: false,
        returns_deleted_object: false,
        pod_selector: PodSelector::None,
        custom: None,
        deletion_finalizer: None,
    },
    ResourceType {
        group: Name::Borrowed("coordination.k8s.io"),
        version: Name::Borrowed("v1"),
        kind: Name::Borrowed("Lease"),
        plural: Name::Borrowed("leases"),
        singular: Name::Borrowed("lease"),
        namespaced: true,
        short_names: Names::Static(&[]),
        categories: Names::Static(&[]),
        subresources: Names::Static(&[]),
        tracks_generation: false,
        returns_deleted_object: false,
        pod_selector: PodSelector::None,
        custom: None,
        deletion_finalizer: None,
    },
    ResourceType {
        group: Name::Borrowed("apiextensions.k8s.io"),
        version: Name::Borrowed("v1"),
        kind: Name::Borrowed("CustomResourceDefinition"),
        plural: Name::Borrowed("customresourcedefinitions"),
        singular: Name::Borrowed("customresourcedefinition"),
        namespaced: false,
        short_names: Names::Static(&["crd", "crds"]),
        categories: Names::Static(&["api-extensions"]),
        subresources: Names::Static(&["status"]),
        tracks_generation: true,
        returns_deleted_object: false,
        pod_selector: PodSelector::None,
        custom: None,
        deletion_finalizer: Some(CUSTOM_RESOURCE_CLEANUP),
    },
];

impl ResourceType {
    /// A type that is only ever a request body (a Scale, a Binding), or a kind served by no
    /// declaration here (in tests): its group, version and kind alone, for decoding and its
    /// messages.
    pub const fn body_type(group: &'static str, version: &'static str, kind: &'static str) -> Self {
        Self {
            group: Name::Borrowed(group),
            version: Name::Borrowed(version),
            kind: Name::Borrowed(kind),
            plural: Name::Borrowed(""),
            singular: Name::Borrowed(""),
            namespaced: true,
            short_names: Names::Static(&[]),
            categories: Names::Static(&[]),
            subresources: Names::Static(&[]),
            tracks_generation: false,
            returns_deleted_object: false,
            pod_selector: PodSelector::None,
            custom: None,
            deletion_finalizer: None,
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
        let group = if self.group.is_empty() { "core" } else { &self.group };
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

    /// Whether this is the built-in kind `kind` of `group` (a custom kind may share its name).
    pub fn is(&self, group: &str, kind: &str) -> bool {
        self.custom.is_none() && self.group == group && self.kind == kind
    }

    pub fn has_subresource(&self, name: &str) -> bool {
        self.subresources.contains(name)
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
    }
}
