//! What a kind does with the objects written to it, as kube-apiserver's registry strategies
//! do: how a create, an update or a status update is decoded, defaulted, prepared and
//! validated. Each built-in kind declares its strategy beside its names (`kinds/`), a custom
//! kind gets the one its definition's schema drives; the handlers call it and never ask which
//! kind it is.

use serde_json::Value;

use crate::errors::ApiError;
use crate::resources::ResourceType;

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
}

pub trait Strategy: Send + Sync + 'static {
    /// The object to store for this write (`old` is the stored one, for updates), or why not.
    fn admit(&self, resource: &ResourceType, object: Value, old: Option<&Value>, operation: Operation, validation: FieldValidation) -> Result<Admitted, ApiError>;
}

/// Objects stored as they are given: the kinds whose decoding and validation are still to
/// come (the RBAC kinds today).
pub struct AsGiven;

impl Strategy for AsGiven {
    fn admit(&self, _resource: &ResourceType, object: Value, _old: Option<&Value>, _operation: Operation, _validation: FieldValidation) -> Result<Admitted, ApiError> {
        Ok(Admitted { object, warnings: Vec::new() })
    }
}
