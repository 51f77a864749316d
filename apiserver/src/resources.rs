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

    /// The name at `index`, borrowed for the built-in kinds' static lists.
    pub fn get_cow(&self, index: usize) -> Cow<'static, str> {
        match self {
            Names::Static(names) => Cow::Borrowed(names[index]),
            Names::Owned(names) => Cow::Owned(names[index].clone()),
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
    /// Subresources besides `status` that write the object's status, each under the kind's own
    /// rule for what of it they may change (a CertificateSigningRequest's `approval`, which
    /// writes its Approved and Denied conditions). Each is among `subresources` too.
    pub status_subresources: &'static [&'static str],
    /// Whether `metadata.generation` is kept (bumped on spec changes), as Kubernetes does for
    /// the kinds whose spec a controller acts on.
    pub tracks_generation: bool,
    /// Whether a DELETE that removes the object answers with the object rather than a Status,
    /// as the kinds' storage in kube-apiserver says (`ReturnDeletedObject`: pods, services,
    /// service accounts).
    pub returns_deleted_object: bool,
    /// How `spec.selector` selects the pods the kind manages, for its Scale and its table.
    pub pod_selector: PodSelector,
    /// The fields a field selector may name besides `metadata.name` and `metadata.namespace`
    /// (kube's `GetAttrs`), as dotted paths into the object.
    pub selectable_fields: Names,
    /// What a CustomResourceDefinition declares for a custom kind; `None` for built-in kinds.
    pub custom: Option<Arc<CustomKind>>,
    /// A finalizer the server adds when a deletion starts, so that the kind's own controller
    /// cleans up before the object goes (as kube-apiserver's CRD storage adds
    /// `customresourcecleanup.apiextensions.k8s.io`).
    pub deletion_finalizer: Option<&'static str>,
    /// What a DELETE that names no propagation policy does with the object's dependents
    /// (kube's `DefaultGarbageCollectionPolicy` of the kind's strategy).
    pub default_propagation: DefaultPropagation,
    /// How a built-in kind served in another version than the one its objects are stored in
    /// converts them (autoscaling/v1 HorizontalPodAutoscalers, stored as autoscaling/v2).
    pub conversion: Option<&'static Conversion>,
}

/// A built-in kind's conversion between the version it serves and the one its objects are
/// stored in (kube's conversion functions between a version and the internal type).
pub struct Conversion {
    /// The apiVersion of stored objects (`autoscaling/v2`).
    pub stored_version: &'static str,
    /// A stored object as this version serves it.
    pub to_served: fn(&mut serde_json::Value),
    /// An object of this version as it is to be stored; `stored` is the object it replaces,
    /// whose fields this version cannot express are kept.
    pub to_stored: fn(&mut serde_json::Value, Option<&serde_json::Value>),
}

impl std::fmt::Debug for Conversion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conversion").field("stored_version", &self.stored_version).finish_non_exhaustive()
    }
}

impl PartialEq for Conversion {
    /// Each conversion is one static: the same one is the same address.
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self, other)
    }
}

/// Built-in declarations: `ResourceType::builtin(group, version, kind, plural, singular)` with
/// the defaults most kinds keep (cluster-scoped, no short names, categories, subresources or
/// selectable fields, no generation, a Status for a delete), then what the kind differs in.
/// `build.rs` reads the group, version and kind of each from its `builtin(...)` call.
impl ResourceType {
    pub const fn builtin(group: &'static str, version: &'static str, kind: &'static str, plural: &'static str, singular: &'static str) -> Self {
        Self {
            group: Name::Borrowed(group),
            version: Name::Borrowed(version),
            kind: Name::Borrowed(kind),
            plural: Name::Borrowed(plural),
            singular: Name::Borrowed(singular),
            namespaced: false,
            short_names: Names::Static(&[]),
            categories: Names::Static(&[]),
            subresources: Names::Static(&[]),
            status_subresources: &[],
            tracks_generation: false,
            returns_deleted_object: false,
            pod_selector: PodSelector::None,
            selectable_fields: Names::Static(&[]),
            custom: None,
            deletion_finalizer: None,
            default_propagation: DefaultPropagation::Background,
            conversion: None,
        }
    }

    pub const fn namespaced(mut self) -> Self {
        self.namespaced = true;
        self
    }

    pub const fn short_names(mut self, names: &'static [&'static str]) -> Self {
        set_names(&mut self.short_names, names);
        self
    }

    pub const fn categories(mut self, names: &'static [&'static str]) -> Self {
        set_names(&mut self.categories, names);
        self
    }

    pub const fn subresources(mut self, names: &'static [&'static str]) -> Self {
        set_names(&mut self.subresources, names);
        self
    }

    pub const fn status_subresources(mut self, names: &'static [&'static str]) -> Self {
        self.status_subresources = names;
        self
    }

    pub const fn selectable_fields(mut self, names: &'static [&'static str]) -> Self {
        set_names(&mut self.selectable_fields, names);
        self
    }

    pub const fn tracks_generation(mut self) -> Self {
        self.tracks_generation = true;
        self
    }

    pub const fn returns_deleted_object(mut self) -> Self {
        self.returns_deleted_object = true;
        self
    }

    pub const fn pod_selector(mut self, selector: PodSelector) -> Self {
        self.pod_selector = selector;
        self
    }

    pub const fn deletion_finalizer(mut self, finalizer: &'static str) -> Self {
        self.deletion_finalizer = Some(finalizer);
        self
    }

    /// A DELETE without a propagation policy orphans the dependents, and answers `warning`.
    pub const fn orphans_dependents_by_default(mut self, warning: &'static str) -> Self {
        self.default_propagation = DefaultPropagation::Orphan { warning };
        self
    }

    pub const fn conversion(mut self, conversion: &'static Conversion) -> Self {
        self.conversion = Some(conversion);
        self
    }
}

/// Sets a declaration's names. A plain assignment would drop the old value, which const
/// evaluation refuses for a type with drop glue; the old value is always `Names::Static`
/// there, so forgetting it leaks nothing.
const fn set_names(field: &mut Names, names: &'static [&'static str]) {
    std::mem::forget(std::mem::replace(field, Names::Static(names)));
}

/// What a CustomResourceDefinition declares of one served version beyond its names.
#[derive(Debug, PartialEq)]
pub struct CustomKind {
    /// The definition's name (`widgets.example.com`).
    pub definition: String,
    /// The version objects are stored as.
    pub storage_version: String,
    /// Whether the definition serves more than one version, whose objects then need their
    /// apiVersion rewritten to the version asked for.
    pub several_versions: bool,
    /// The version's `openAPIV3Schema`, as declared (for OpenAPI documents).
    pub schema: Option<JSONSchemaProps>,
    /// The same as a structural schema with pruned defaults, for pruning, defaulting and
    /// validating objects.
    pub structural: Option<Arc<crate::schema::Structural>>,
    /// `additionalPrinterColumns`, for server-side tables.
    pub printer_columns: Vec<PrinterColumn>,
    /// The `scale` subresource's paths, when it is declared.
    pub scale: Option<ScalePaths>,
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

/// What a DELETE that names no propagation policy (nor `orphanDependents`) does with the
/// object's dependents, when the object has no garbage-collector finalizer from an earlier
/// delete (kube's `shouldOrphanDependents`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefaultPropagation {
    /// The garbage collector deletes them once the object is gone: most kinds.
    Background,
    /// The object gets the `orphan` finalizer and the collector removes the dependents'
    /// references to it (batch/v1 Jobs, "for back compatibility"); the delete answers `warning`
    /// so that a client relying on it learns of it.
    Orphan { warning: &'static str },
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

/// The finalizer that keeps a CustomResourceDefinition until its objects are deleted.
pub const CUSTOM_RESOURCE_CLEANUP: &str = "customresourcecleanup.apiextensions.k8s.io";


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
            status_subresources: &[],
            tracks_generation: false,
            returns_deleted_object: false,
            pod_selector: PodSelector::None,
            selectable_fields: Names::Static(&[]),
            custom: None,
            deletion_finalizer: None,
            default_propagation: DefaultPropagation::Background,
            conversion: None,
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

    pub fn has_subresource(&self, name: &str) -> bool {
        self.subresources.contains(name)
    }

    /// The subresource named `name` when it writes the object's status (`status`, or one of
    /// [`status_subresources`](Self::status_subresources)), as a static name for its strategy.
    pub fn status_writer(&self, name: &str) -> Option<&'static str> {
        if name == "status" && self.has_subresource("status") {
            return Some("status");
        }
        self.status_subresources.iter().copied().find(|candidate| *candidate == name && self.has_subresource(name))
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

#[cfg(test)]
mod tests {
    use super::*;

    use crate::kinds::find;

    fn namespaces() -> &'static ResourceType {
        find("", "v1", "namespaces").unwrap()
    }

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
