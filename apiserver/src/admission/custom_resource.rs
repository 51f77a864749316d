//! Custom objects, as kube-apiserver's custom resource handler admits them: `metadata` decoded
//! and checked as every kind's, then the definition's structural schema: fields it does not
//! specify pruned (and reported per `?fieldValidation=`), its defaults applied, the object
//! validated against it and its `x-kubernetes-validations` rules.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::Value;

use super::decode::cannot_handle;
use super::field::Causes;
use super::{Admitted, FieldValidation, NameFormat, Operation, metadata};
use crate::errors::ApiError;
use crate::resources::{CustomKind, ResourceType};
use crate::schema;
use crate::strategy::Strategy;

/// The strategy of every custom kind: its definition's schema, read from the kind.
pub(crate) struct Custom;

pub(crate) static CUSTOM: Custom = Custom;

impl Strategy for Custom {
    fn admit(&self, resource: &ResourceType, object: Value, old: Option<&Value>, operation: Operation, validation: FieldValidation) -> Result<Admitted, ApiError> {
        match resource.custom.as_deref() {
            Some(custom) => admit(resource, custom, object, old, operation, validation),
            None => Err(ApiError::internal(format!("{} is served as a custom kind without a definition", resource.qualified_plural()))),
        }
    }
}

fn admit(resource: &ResourceType, custom: &CustomKind, mut object: Value, old: Option<&Value>, operation: Operation, validation: FieldValidation) -> Result<Admitted, ApiError> {
    let Some(fields) = object.as_object_mut() else {
        return Err(ApiError::bad_request(format!("{}: the object must be a JSON object", cannot_handle(resource))));
    };
    // The REST layer has checked the body's apiVersion and kind; a patch result keeps the
    // stored object's, which may name another served version of the same kind.
    fields.insert("apiVersion".into(), Value::String(resource.api_version()));
    fields.insert("kind".into(), Value::String(resource.kind.to_string()));
    let meta = object_meta(resource, &object)?;
    let mut unknown = Vec::new();
    if let Some(structural) = custom.structural.as_deref() {
        unknown = schema::prune(structural, &mut object);
        schema::default(structural, &mut object);
    }
    // What is stored of metadata is what ObjectMeta has, as for every kind.
    object["metadata"] = serde_json::to_value(&meta).map_err(|err| ApiError::internal(format!("encoding: {err}")))?;
    let unknown: Vec<String> = unknown.iter().map(|path| format!("unknown field {path:?}")).collect();
    let warnings = match validation {
        FieldValidation::Strict if !unknown.is_empty() => {
            return Err(ApiError::bad_request(format!("{}: strict decoding error: {}", cannot_handle(resource), unknown.join(", "))));
        }
        FieldValidation::Strict | FieldValidation::Ignore => Vec::new(),
        FieldValidation::Warn => unknown,
    };
    let mut causes = Causes::new();
    let old_meta = old.map(|old| object_meta(resource, old)).transpose()?;
    if let Some(old_meta) = &old_meta {
        metadata::validate_update(&meta, old_meta, &mut causes);
    }
    if operation != Operation::StatusUpdate {
        metadata::validate(&meta, resource.namespaced, NameFormat::Dns1123Subdomain, &mut causes);
    }
    let mut warnings = warnings;
    if let Some(structural) = custom.structural.as_deref() {
        let found = schema::validate(structural, &object);
        // kube runs the rules only when nothing more basic is wrong (`hasBlockingErr`).
        let rules = if !schema::has_rules(structural) {
            schema::RuleResults::default()
        } else if schema::blocking(&found) || schema::blocking(causes.as_slice()) {
            schema::RuleResults { causes: vec![schema::blocked()], warnings: Vec::new() }
        } else {
            // Rule evaluation is CPU-bound and may take up to a second: on a multi-threaded
            // runtime, tell tokio so that this worker's other tasks move to another thread
            // while it runs (a current-thread runtime, as in some tests, cannot do that).
            let evaluate = || schema::validate_rules(structural, &object, old);
            let multi_threaded = tokio::runtime::Handle::try_current().is_ok_and(|runtime| runtime.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
            let evaluated = if multi_threaded { tokio::task::block_in_place(evaluate) } else { evaluate() };
            evaluated.map_err(|busy| ApiError::too_many_requests(busy.to_string()))?
        };
        for cause in found.into_iter().chain(rules.causes) {
            causes.push(cause);
        }
        warnings.extend(rules.warnings);
    }
    if !causes.is_empty() {
        return Err(ApiError::invalid(resource, meta.name.as_deref().unwrap_or_default(), causes.into_vec()));
    }
    Ok(Admitted { object, warnings })
}

fn object_meta(resource: &ResourceType, object: &Value) -> Result<ObjectMeta, ApiError> {
    match object.get("metadata") {
        None | Some(Value::Null) => Ok(ObjectMeta::default()),
        Some(meta) => serde_json::from_value(meta.clone()).map_err(|err| ApiError::bad_request(format!("{}: metadata: {err}", cannot_handle(resource)))),
    }
}
