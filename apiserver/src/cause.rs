//! One field-level cause of a 422 Invalid, worded and placed as Kubernetes' `field.Error`s are;
//! below everything that validates (the admission of each kind, the schemas of custom kinds)
//! and the errors that carry the causes.

use serde_json::Value;

/// One field-level cause of a 422 Invalid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cause {
    /// `FieldValueRequired`, `FieldValueInvalid`, `FieldValueNotSupported`, ...
    pub reason: &'static str,
    pub field: String,
    pub message: String,
}

impl Cause {
    pub fn required(field: impl Into<String>, detail: &str) -> Self {
        let message = if detail.is_empty() { "Required value".to_string() } else { format!("Required value: {detail}") };
        Self { reason: "FieldValueRequired", field: field.into(), message }
    }

    pub fn invalid(field: impl Into<String>, value: &Value, detail: &str) -> Self {
        let shown = match value {
            Value::String(text) => format!("{text:?}"),
            other => other.to_string(),
        };
        Self {
            reason: "FieldValueInvalid",
            field: field.into(),
            message: format!("Invalid value: {shown}: {detail}"),
        }
    }

    pub fn not_supported(field: impl Into<String>, value: &Value, supported: &[&str]) -> Self {
        let supported: Vec<String> = supported.iter().map(|value| format!("{value:?}")).collect();
        Self {
            reason: "FieldValueNotSupported",
            field: field.into(),
            message: format!("Unsupported value: {value}: supported values: {}", supported.join(", ")),
        }
    }

    pub fn forbidden(field: impl Into<String>, detail: &str) -> Self {
        Self { reason: "FieldValueForbidden", field: field.into(), message: format!("Forbidden: {detail}") }
    }

    pub fn duplicate(field: impl Into<String>, value: &Value) -> Self {
        Self { reason: "FieldValueDuplicate", field: field.into(), message: format!("Duplicate value: {value}") }
    }

    /// `field.TooLong`: kube words it in bytes whatever was counted.
    pub fn too_long(field: impl Into<String>, max: i64) -> Self {
        Self { reason: "FieldValueTooLong", field: field.into(), message: format!("Too long: may not be more than {max} bytes") }
    }

    /// `field.TooMany`.
    pub fn too_many(field: impl Into<String>, actual: usize, max: i64) -> Self {
        Self { reason: "FieldValueTooMany", field: field.into(), message: format!("Too many: {actual}: must have at most {max} items") }
    }

    pub fn immutable(field: impl Into<String>) -> Self {
        Self {
            reason: "FieldValueInvalid",
            field: field.into(),
            message: "Invalid value: field is immutable".to_string(),
        }
    }

    pub(crate) fn rendered(&self) -> String {
        format!("{}: {}", self.field, self.message)
    }
}
