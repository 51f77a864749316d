//! What a kind does with the objects written to it, as kube-apiserver's registry strategies
//! do: how a create, an update or a status update is decoded, defaulted, prepared and
//! validated; what it takes from the cluster's shared pools (a Service's addresses) and checks
//! against other objects (a Pod's service account); how its deletion goes (a Pod's grace
//! period, a Namespace's lifecycle). Each built-in kind declares its strategy beside its names
//! (`kinds/`), a custom kind gets the one its definition's schema drives; the handlers call it
//! and never ask which kind it is.

use async_trait::async_trait;
use serde_json::Value;

use crate::allocators::Held;
use crate::errors::ApiError;
use crate::resources::ResourceType;
use crate::storage::Store;

/// The `?fieldValidation=` query parameter: what to do with fields the kind does not have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldValidation {
    /// Drop them silently.
    Ignore,
    /// Drop them and answer with a `Warning` header for each (kube-apiserver's default).
    Warn,
    /// Reject the request (400), as `kubectl` asks by default.
    Strict,
}

impl FieldValidation {
    /// Parses the query parameter; absent or empty means `Warn`, as in kube-apiserver.
    pub fn parse(value: Option<&str>) -> Result<Self, ApiError> {
        match value {
            None | Some("") | Some("Warn") => Ok(Self::Warn),
            Some("Ignore") => Ok(Self::Ignore),
            Some("Strict") => Ok(Self::Strict),
            Some(other) => Err(ApiError::bad_request(format!(
                "fieldValidation: Unsupported value: {other:?}: supported values: \"\", \"Ignore\", \"Strict\", \"Warn\""
            ))),
        }
    }
}

/// An object that passed admission: the object to store and the warnings for the client.
#[derive(Clone, Debug, PartialEq)]
pub struct Admitted {
    pub object: Value,
    pub warnings: Vec<String>,
}

/// Which write admission judges.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    Create,
    Update,
    StatusUpdate,
    /// An update through one of the kind's other subresources that write its status
    /// (`ResourceType::status_subresources`), named here.
    SubresourceUpdate(&'static str),
}

/// What a kind's hooks see of the cluster beside the object written: the objects of other
/// kinds as they are now.
#[async_trait]
pub trait Cluster: Send + Sync {
    /// The object of the kind served as `group`/`version`/`plural` under `namespace`/`name`.
    async fn current(&self, group: &str, version: &str, plural: &str, namespace: Option<&str>, name: &str) -> Result<Option<Value>, ApiError>;

    /// Every object of the kind served as `group`/`version`/`plural` (under `namespace`, for a
    /// namespaced kind given one), as stored now.
    async fn list(&self, group: &str, version: &str, plural: &str, namespace: Option<&str>) -> Result<Vec<Value>, ApiError>;
}

/// A kind's behaviour on writes. Only `admit` is needed; the other hooks do nothing unless a
/// kind declares them.
#[async_trait]
pub trait Strategy: Send + Sync + 'static {
    /// The object to store for this write (`old` is the stored one, for updates), or why not.
    fn admit(&self, resource: &ResourceType, object: Value, old: Option<&Value>, operation: Operation, validation: FieldValidation) -> Result<Admitted, ApiError>;

    /// Changes a create from what other objects say, as kube's mutating admission plugins that
    /// read them do (DefaultStorageClass); after validation, as those plugins' changes need
    /// none, and before [`Strategy::check_create`].
    async fn mutate_create(&self, _cluster: &dyn Cluster, _namespace: Option<&str>, _object: &mut Value) -> Result<(), ApiError> {
        Ok(())
    }

    /// Checks a create against other objects before it is stored, as kube's admission plugins
    /// that read them do.
    async fn check_create(&self, _cluster: &dyn Cluster, _namespace: Option<&str>, _object: &Value) -> Result<(), ApiError> {
        Ok(())
    }

    /// How ResourceQuota measures what an object of this kind uses (kube's quota evaluator
    /// registry: pods, claims and services have their own). `None`: the object only counts as
    /// one (`count/<resource>`, and the legacy name of a core kind), which quota admission
    /// counts for every kind.
    fn usage(&self) -> Option<&'static dyn common::quota::Evaluator> {
        None
    }

    /// Checks an update of the object itself (not a subresource) against other objects
    /// before it is stored, as kube's validating admission plugins that read them do; `old` is
    /// the stored object.
    async fn check_update(&self, _cluster: &dyn Cluster, _namespace: Option<&str>, _object: &Value, _old: &Value) -> Result<(), ApiError> {
        Ok(())
    }

    /// What `object` holds of the cluster's shared pools (ClusterIPs, NodePorts).
    fn held(&self, _object: &Value) -> Held {
        Held::default()
    }

    /// Takes from the shared pools what `object` needs and `previous` (its stored version, or
    /// null) does not hold yet, writing it into the object; returns what was newly taken, for
    /// the caller to give back if the write fails. Nothing is left taken when this fails.
    async fn allocate(&self, _store: &dyn Store, _resource: &ResourceType, _namespace: Option<&str>, _previous: &Value, _object: &mut Value) -> Result<Held, ApiError> {
        Ok(Held::default())
    }

    /// Refuses deleting the object named `name` outright (kube's NamespaceLifecycle keeps the
    /// cluster's own namespaces).
    fn check_delete(&self, _name: &str) -> Result<(), ApiError> {
        Ok(())
    }

    /// How long `object` takes to go, when its deletion is graceful (a Pod on a node, whose
    /// kubelet stops it first): `requested` is the delete's `gracePeriodSeconds`. `None`: it
    /// goes at once, unless finalizers keep it.
    fn grace_period(&self, _object: &Value, _requested: Option<i64>) -> Option<i64> {
        None
    }

    /// Marks `object` as being deleted beyond its deletionTimestamp (a Namespace's phase) and
    /// says whether something other than its finalizers keeps it until then (a Namespace's
    /// `spec.finalizers`).
    fn deleting(&self, _object: &mut Value) -> bool {
        false
    }
}

/// Objects stored as they are given: the kinds whose decoding and validation are still to
/// come (the RBAC kinds today).
pub struct AsGiven;

impl Strategy for AsGiven {
    fn admit(&self, _resource: &ResourceType, object: Value, _old: Option<&Value>, _operation: Operation, _validation: FieldValidation) -> Result<Admitted, ApiError> {
        Ok(Admitted { object, warnings: Vec::new() })
    }
}
