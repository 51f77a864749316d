//! `default` values: applying them to custom objects (kube's `structuraldefaulting.Default`),
//! pruning them once when a schema is loaded (`PruneDefaults`), and checking them when a CRD
//! is written (`ValidateDefaults`).

use serde_json::Value;

use super::prune::prune_value;
use super::validate::{embedded_at, openapi};
use super::{MAX_DEPTH, Structural, child, key};
use crate::cause::Cause;
use crate::schema::render::invalid;

/// Applies `schema`'s defaults to `value`: a property that is absent, or `null` where the
/// schema is not nullable, takes its default; items and additionalProperties values that are
/// such `null`s too. Defaults nest: a default put in place gets the defaults below it.
/// kube applies defaults as it decodes, before pruning; defaults only touch specified fields,
/// so the order with [`super::prune`] does not change the outcome.
pub fn default(schema: &Structural, value: &mut Value) {
    walk(schema, value, 0);
}

fn non_nullable_null(value: &Value, schema: &Structural) -> bool {
    value.is_null() && !schema.nullable
}

fn walk(schema: &Structural, value: &mut Value, depth: usize) {
    if depth > MAX_DEPTH {
        return;
    }
    match value {
        Value::Object(fields) => {
            for (name, property) in &schema.properties {
                let Some(default) = &property.default else { continue };
                match fields.get(name) {
                    Some(found) if !non_nullable_null(found, property) => {}
                    _ => {
                        fields.insert(name.clone(), default.clone());
                    }
                }
            }
            for (name, inner) in fields.iter_mut() {
                if let Some(property) = schema.properties.get(name) {
                    walk(property, inner, depth + 1);
                } else if let Some(additional) = schema.additional_schema() {
                    if non_nullable_null(inner, additional)
                        && let Some(default) = &additional.default
                    {
                        *inner = default.clone();
                    }
                    walk(additional, inner, depth + 1);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.items.as_deref() {
                for item in items.iter_mut() {
                    if non_nullable_null(item, item_schema)
                        && let Some(default) = &item_schema.default
                    {
                        *item = default.clone();
                    }
                    walk(item_schema, item, depth + 1);
                }
            }
        }
        _ => {}
    }
}

/// Prunes every default by the schema it stands in, as kube does when it loads a CRD, so that
/// a default never brings in a field the schema would drop. (A CRD created under v1 cannot
/// have such defaults, [`validate_defaults`] refuses them; older stored ones may.)
pub fn prune_defaults(schema: &mut Structural) {
    prune_defaults_at(schema, 0);
}

fn prune_defaults_at(schema: &mut Structural, depth: usize) {
    if depth > MAX_DEPTH {
        return;
    }
    if let Some(mut default) = schema.default.take() {
        prune_value(schema, &mut default, schema.embedded_resource, &mut Vec::new());
        schema.default = Some(default);
    }
    if let Some(super::AdditionalProperties::Schema(inner)) = &mut schema.additional_properties {
        prune_defaults_at(inner, depth + 1);
    }
    if let Some(item) = &mut schema.items {
        prune_defaults_at(item, depth + 1);
    }
    for property in schema.properties.values_mut() {
        prune_defaults_at(property, depth + 1);
    }
}

/// kube's `ValidateDefaults` for a CRD being created: each default in properties and items
/// (kube does not look into additionalProperties) must be pruned already, must make embedded
/// resources well-formed, and must validate against its own schema. `path` is the schema's,
/// such as `spec.versions[0].schema.openAPIV3Schema`.
pub fn validate_defaults(schema: &Structural, path: &str) -> Vec<Cause> {
    let mut out = Vec::new();
    let root = Structural { embedded_resource: true, ..schema.clone() };
    check(&root, path, false, 0, &mut out);
    out
}

fn check(schema: &Structural, path: &str, inside_meta: bool, depth: usize, out: &mut Vec<Cause>) {
    if depth > MAX_DEPTH {
        return;
    }
    let inside_meta = inside_meta && !schema.embedded_resource;
    if let Some(default) = &schema.default {
        let at = child(path, "default");
        if inside_meta {
            // kube coerces such a default into the surrounding ObjectMeta first; that is the
            // caller's ObjectMeta logic, so only the schema's own checks are made here.
            out.extend(rebase(openapi(schema, default), &at));
        } else {
            let mut pruned = default.clone();
            prune_value(schema, &mut pruned, schema.embedded_resource, &mut Vec::new());
            if &pruned != default {
                out.push(invalid(at.clone(), default, "must not have unknown fields"));
            }
            let mut meta = Vec::new();
            embedded_at(schema, default, &at, &mut meta);
            if !meta.is_empty() {
                out.extend(meta);
            } else {
                out.extend(rebase(openapi(schema, default), &at));
            }
        }
    }
    if let Some(item) = &schema.items {
        check(item, &child(path, "items"), inside_meta, depth + 1, out);
    }
    for (name, property) in &schema.properties {
        let meta = schema.embedded_resource && ["metadata", "apiVersion", "kind"].contains(&name.as_str());
        check(property, &key(&child(path, "properties"), name), inside_meta || meta, depth + 1, out);
    }
}

/// Puts the causes of validating a default under the default's path, as kube's
/// `ValidateCustomResource(pth.Child("default"), ...)` does.
fn rebase(causes: Vec<Cause>, at: &str) -> Vec<Cause> {
    causes
        .into_iter()
        .map(|mut cause| {
            cause.field = if cause.field.is_empty() || cause.field == "<nil>" { at.to_string() } else { child(at, &cause.field) };
            cause
        })
        .collect()
}
