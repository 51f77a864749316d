//! Admission: what kube-apiserver does to an object between decoding a request body and storing
//! it, for the kinds this server serves.
//!
//! 1. Decode the JSON into the kind's typed k8s-openapi struct (`decode.rs`): wrong types are a
//!    400 naming the field; unknown fields are pruned and reported per `?fieldValidation=`.
//! 2. Apply the `v1` defaults (`pkg/apis/*/v1/defaults.go`) and the registry strategy's
//!    `PrepareForCreate`/`PrepareForUpdate` (status reset on create, fields a client may not
//!    set).
//! 3. Validate (`pkg/apis/*/validation`), collecting every cause into one 422 Invalid with
//!    Kubernetes' field paths and wording.
//!
//! The result is the typed struct serialized again, so what is stored is what Kubernetes would
//! store: unknown fields dropped, defaults filled in.
//!
//! What the REST layer does around this, and admission therefore does not: server-owned
//! metadata (uid, creationTimestamp, generation, resourceVersion), name generation, namespace
//! existence, keeping the stored status on a plain update and the stored spec on a status
//! update, and Service ClusterIP/NodePort allocation. For Services, admission expects to run
//! before allocation on create (an empty `spec.clusterIP` is left empty, to be allocated; a
//! requested one is checked and gets `clusterIPs`, `ipFamilies` and `ipFamilyPolicy`), and on
//! update it keeps the allocated `clusterIP`/`clusterIPs` and NodePorts a PUT leaves out, as
//! Kubernetes does.

mod certificates;
mod config_map;
mod custom_resource;
mod custom_resource_definition;
mod decode;
pub(crate) mod deployment;
mod endpoints;
mod event;
pub(crate) mod field;
mod lease;
pub(crate) mod limit_ranger;
pub(crate) mod metadata;
mod namespace;
mod node;
mod node_restriction;
mod pod;
pub(crate) mod pod_spec;
pub(crate) mod priority;
pub(crate) mod quota;
mod replica_set;
mod replication_controller;
mod secret;
pub(crate) mod service;
mod service_account;
pub(crate) mod storage;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::errors::ApiError;
use crate::registry::Kind;
use crate::resources::ResourceType;
use crate::strategy::Strategy;
use field::Causes;
use common::names::{self, NameFormat};
use common::quantity::{self, QuantityError};

pub use crate::strategy::{Admitted, FieldValidation, Operation};

/// Create: decode the object as its kind's typed struct, apply Kubernetes' defaults, validate.
/// The DefaultTolerationSeconds plugin's two flags (not-ready, unreachable), set once at start;
/// Kubernetes' 300 s each until then.
static DEFAULT_TOLERATIONS: std::sync::OnceLock<(i64, i64)> = std::sync::OnceLock::new();

pub use service_account::{enabled as service_account_admission, set_mount_tokens as set_mount_service_account_tokens};

pub fn set_default_tolerations(not_ready_seconds: i64, unreachable_seconds: i64) {
    let _ = DEFAULT_TOLERATIONS.set((not_ready_seconds, unreachable_seconds));
}

fn default_tolerations() -> (i64, i64) {
    DEFAULT_TOLERATIONS.get().copied().unwrap_or((300, 300))
}

pub fn admit_create(resource: &Kind, object: Value, validation: FieldValidation) -> Result<Admitted, ApiError> {
    dispatch(resource, object, None, Operation::Create, validation)
}

/// Update (PUT or the result of a PATCH) of the object itself (not a subresource): as create,
/// plus the update rules (immutable fields) against `old`.
pub fn admit_update(
    resource: &Kind,
    object: Value,
    old: &Value,
    validation: FieldValidation,
) -> Result<Admitted, ApiError> {
    dispatch(resource, object, Some(old), Operation::Update, validation)
}

/// Update of the status subresource: validate the status part only (e.g. pod phase values,
/// conditions' types/status) against old.
pub fn admit_status_update(
    resource: &Kind,
    object: Value,
    old: &Value,
    validation: FieldValidation,
) -> Result<Admitted, ApiError> {
    dispatch(resource, object, Some(old), Operation::StatusUpdate, validation)
}

/// Update through `subresource`, one of the kind's subresources that write its status
/// (`status` itself, or one of `ResourceType::status_subresources`): the kind's rule for that
/// subresource says what of the body is taken and how it is validated.
pub fn admit_subresource_update(
    resource: &Kind,
    subresource: &'static str,
    object: Value,
    old: &Value,
    validation: FieldValidation,
) -> Result<Admitted, ApiError> {
    let operation = if subresource == "status" { Operation::StatusUpdate } else { Operation::SubresourceUpdate(subresource) };
    dispatch(resource, object, Some(old), operation, validation)
}

/// A subresource's body (a Scale, a Binding, a TokenRequest) as its typed struct, decoded as
/// every object is: a wrong type is a 400 naming the field, unknown fields are reported per
/// `?fieldValidation=` (returned as warnings). `kind` names the body's type, not the resource's.
pub(crate) fn decode_body<T: DeserializeOwned + Serialize>(kind: &ResourceType, object: Value, validation: FieldValidation) -> Result<(T, Vec<String>), ApiError> {
    let decoded = decode::decode::<T>(kind, object, validation)?;
    Ok((decoded.value, decoded.warnings))
}

pub(crate) use decode::cannot_handle;


/// The checks of a body's decoding that come before anything reads it: `ObjectMeta`'s field
/// types, in Go's words (400).
pub fn check_metadata(resource: &ResourceType, object: &Value) -> Result<(), ApiError> {
    decode::check_metadata(resource, object)
}

/// Keys a body repeated, per `?fieldValidation=`: 400 under Strict, warnings under Warn.
pub fn duplicate_fields(resource: &ResourceType, duplicates: &[String], validation: FieldValidation) -> Result<Vec<String>, ApiError> {
    decode::duplicate_fields(resource, duplicates, validation)
}

/// Delete: what depends on who asks (NodeRestriction), with the object as it is stored.
pub fn admit_delete(resource: &ResourceType, current: &Value) -> Result<(), ApiError> {
    check_requester(resource, &node_restriction::Write::Delete(current))
}

/// The plugins that judge the request's user rather than its object alone: NodeRestriction,
/// and RBAC's escalation prevention (which Kubernetes makes in the RBAC kinds' storage, on the
/// object as it would be stored, as here). The server's own writes have no requester and pass.
fn check_requester(resource: &ResourceType, write: &node_restriction::Write<'_>) -> Result<(), ApiError> {
    use node_restriction::Write;
    crate::authz::with_requester(|requester| {
        node_restriction::admit(&requester.user, resource, write)?;
        match write {
            Write::Create(object) => requester.check_escalation(resource, object, None),
            Write::Update { object, old } | Write::StatusUpdate { object, old } => requester.check_escalation(resource, object, Some(old)),
            Write::Delete(_) => Ok(()),
        }
    })
    .unwrap_or(Ok(()))
}

/// The plugins that judge who asks, then the kind's own strategy.
fn dispatch(
    kind: &Kind,
    object: Value,
    old: Option<&Value>,
    operation: Operation,
    validation: FieldValidation,
) -> Result<Admitted, ApiError> {
    let write = match (operation, old) {
        (Operation::Update, Some(old)) => node_restriction::Write::Update { object: &object, old },
        (Operation::StatusUpdate | Operation::SubresourceUpdate(_), Some(old)) => node_restriction::Write::StatusUpdate { object: &object, old },
        _ => node_restriction::Write::Create(&object),
    };
    check_requester(kind, &write)?;
    let mut admitted = kind.strategy.admit(kind, object, old, operation, validation)?;
    // Validating admission, which Kubernetes runs after the strategy has validated the object.
    certificates::admit(kind, operation, &admitted.object, old)?;
    crate::meta::drop_empty(&mut admitted.object);
    Ok(admitted)
}

/// The strategy of a kind served as its typed k8s-openapi struct: decoded, defaulted, prepared
/// and validated as [`TypedKind`] says.
pub(crate) struct Typed<T>(std::marker::PhantomData<fn() -> T>);

impl<T> Typed<T> {
    pub(crate) const fn new() -> Self {
        Self(std::marker::PhantomData)
    }
}

impl<T: TypedKind + 'static> Strategy for Typed<T> {
    fn admit(&self, resource: &ResourceType, object: Value, old: Option<&Value>, operation: Operation, validation: FieldValidation) -> Result<Admitted, ApiError> {
        admit::<T>(resource, object, old, operation, validation)
    }
}

pub(crate) use custom_resource::CUSTOM;

/// What validation may need besides the object.
pub(crate) struct Context {
    /// The request's object, without `null`s.
    input: Value,
}

impl Context {
    /// Whether the request left out the field at this JSON pointer (`/spec/selector`), which
    /// k8s-openapi decodes as its default and Go as `nil`.
    pub(crate) fn was_missing(&self, pointer: &str) -> bool {
        self.input.pointer(pointer).is_none()
    }
}

/// One served kind: its defaults, its strategy's preparation and its validation, each named
/// after the Kubernetes function it follows.
pub(crate) trait TypedKind:
    DeserializeOwned + Serialize + Clone + k8s_openapi::Metadata<Ty = ObjectMeta>
{
    /// How `metadata.name` is checked.
    const NAME_FORMAT: NameFormat = NameFormat::Dns1123Subdomain;

    /// Quantities that must parse: Kubernetes' decoder rejects the body (400) otherwise.
    fn check_quantities(&self) -> Result<(), QuantityError> {
        Ok(())
    }

    /// `SetDefaults_*`, which decoding applies to every body (and to stored objects).
    fn apply_defaults(&mut self) {}

    /// The strategy's `PrepareForCreate`.
    fn prepare_for_create(&mut self) {}

    /// The strategy's `PrepareForUpdate`.
    fn prepare_for_update(&mut self, _old: &Self) {}

    /// The status strategy's `PrepareForUpdate`.
    fn prepare_for_status_update(&mut self, _old: &Self) {}

    /// The kind's validation beyond `metadata` (which is checked for every kind).
    fn validate(&self, context: &Context, causes: &mut Causes);

    /// The kind's update rules; by default, the update must simply be valid.
    fn validate_update(&self, _old: &Self, context: &Context, causes: &mut Causes) {
        self.validate(context, causes);
    }

    /// The status subresource's validation (the `metadata` immutables are checked for every kind).
    fn validate_status_update(&self, _old: &Self, _context: &Context, _causes: &mut Causes) {}

    /// The strategy's `PrepareForUpdate` for another subresource that writes the status (one
    /// the kind declares in `status_subresources`); by default, the status subresource's.
    fn prepare_for_subresource_update(&mut self, _subresource: &str, old: &Self) {
        self.prepare_for_status_update(old);
    }

    /// That subresource's validation; by default, the status subresource's.
    fn validate_subresource_update(&self, _subresource: &str, old: &Self, context: &Context, causes: &mut Causes) {
        self.validate_status_update(old, context, causes);
    }

    /// The strategy's `PrepareForCreate` when it depends on who asks (a
    /// CertificateSigningRequest records its requester); `user` is `None` for the server's own
    /// writes.
    fn prepare_for_create_by(&mut self, _user: Option<&crate::request::User>) {}
}

fn admit<T: TypedKind>(
    resource: &ResourceType,
    object: Value,
    old: Option<&Value>,
    operation: Operation,
    validation: FieldValidation,
) -> Result<Admitted, ApiError> {
    let decoded = decode::decode::<T>(resource, object, validation)?;
    let mut value = decoded.value;
    let context = Context { input: decoded.input };
    value
        .check_quantities()
        .map_err(|err| ApiError::bad_request(format!("{}: {err}", decode::cannot_handle(resource))))?;
    value.apply_defaults();
    let old = match old {
        Some(old) => {
            let mut old: T = decode::decode_stored(resource, old)?;
            old.apply_defaults();
            Some(old)
        }
        None => None,
    };
    let mut causes = Causes::new();
    match (operation, &old) {
        (Operation::Create, _) | (_, None) => {
            value.prepare_for_create();
            value.prepare_for_create_by(crate::request::current_user().as_ref());
            metadata::validate(value.metadata(), resource.namespaced, T::NAME_FORMAT, &mut causes);
            value.validate(&context, &mut causes);
        }
        (Operation::Update, Some(old)) => {
            value.prepare_for_update(old);
            metadata::validate_update(value.metadata(), old.metadata(), &mut causes);
            metadata::validate(value.metadata(), resource.namespaced, T::NAME_FORMAT, &mut causes);
            value.validate_update(old, &context, &mut causes);
        }
        (Operation::StatusUpdate, Some(old)) => {
            value.prepare_for_status_update(old);
            metadata::validate_update(value.metadata(), old.metadata(), &mut causes);
            value.validate_status_update(old, &context, &mut causes);
        }
        (Operation::SubresourceUpdate(subresource), Some(old)) => {
            value.prepare_for_subresource_update(subresource, old);
            metadata::validate_update(value.metadata(), old.metadata(), &mut causes);
            value.validate_subresource_update(subresource, old, &context, &mut causes);
        }
    }
    if !causes.is_empty() {
        let name = value.metadata().name.clone().unwrap_or_default();
        return Err(ApiError::invalid(resource, &name, causes.into_vec()));
    }
    let object = serde_json::to_value(&value).map_err(|err| ApiError::internal(format!("encoding: {err}")))?;
    Ok(Admitted { object, warnings: decoded.warnings })
}

#[cfg(test)]
pub(crate) mod test_support;

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::test_support::*;
    use super::*;

    #[test]
    fn field_validation_parses_as_kube_apiserver() {
        assert_eq!(FieldValidation::parse(None).ok(), Some(FieldValidation::Warn));
        assert_eq!(FieldValidation::parse(Some("")).ok(), Some(FieldValidation::Warn));
        assert_eq!(FieldValidation::parse(Some("Strict")).ok(), Some(FieldValidation::Strict));
        assert_eq!(FieldValidation::parse(Some("Ignore")).ok(), Some(FieldValidation::Ignore));
        let err = FieldValidation::parse(Some("strict")).expect_err("case matters");
        assert_eq!(err.code, 400);
        assert_eq!(
            err.message,
            "fieldValidation: Unsupported value: \"strict\": supported values: \"\", \"Ignore\", \"Strict\", \"Warn\""
        );
    }

    #[test]
    fn unknown_fields_are_pruned_and_warned_about() {
        let mut object = config_map("settings");
        object["colour"] = json!("red");
        object["metadata"]["extra"] = json!({"a": 1});
        let admitted = admit_create(resource("configmaps"), object, FieldValidation::Warn).expect("admitted");
        assert_eq!(admitted.warnings, vec!["unknown field \"colour\"", "unknown field \"metadata.extra\""]);
        assert_eq!(admitted.object.get("colour"), None);
        assert_eq!(admitted.object["metadata"].get("extra"), None);
        assert_eq!(admitted.object["apiVersion"], "v1");
        assert_eq!(admitted.object["kind"], "ConfigMap");
    }

    #[test]
    fn a_kind_not_handled_here_passes_unchanged() {
        let other = Kind { resource: ResourceType::body_type("example.com", "v1", "Widget"), strategy: &crate::strategy::AsGiven, printer: None };
        let object = json!({"apiVersion": "example.com/v1", "kind": "Widget", "spec": {"anything": 1}});
        let admitted = admit_create(&other, object.clone(), FieldValidation::Strict).expect("admitted");
        assert_eq!(admitted.object, object);
    }

    #[test]
    fn quantities_that_do_not_parse_are_a_bad_request() {
        let mut object = pod("web");
        object["spec"]["containers"][0]["resources"] = json!({"limits": {"cpu": "lots"}});
        let err = admit_create(resource("pods"), object, FieldValidation::Strict).expect_err("rejected");
        assert_eq!(err.code, 400);
        assert_eq!(
            err.message,
            "Pod in version \"v1\" cannot be handled as a Pod: quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
        );
    }

    #[test]
    fn every_cause_is_reported_at_once() {
        let object = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "Bad_Name", "namespace": "demo",
            "labels": {"-x": "y"}}, "spec": {"containers": [{"name": "a"}], "restartPolicy": "Sometimes"}});
        let err = admit_create(resource("pods"), object, FieldValidation::Strict).expect_err("rejected");
        assert_eq!(
            cause_fields(&err),
            vec!["metadata.name", "metadata.labels", "spec.containers[0].image", "spec.restartPolicy"]
        );
        assert!(err.message.starts_with("Pod \"Bad_Name\" is invalid: ["), "{}", err.message);
    }
}
