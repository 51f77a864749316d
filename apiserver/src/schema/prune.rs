//! Dropping what a structural schema does not specify, as kube's `pruning.PruneWithOptions`
//! and `PruneNonNullableNullsWithoutDefaults` do to every custom object read or written.

use serde_json::Value;

use super::{MAX_DEPTH, Structural, child, index};

const META_FIELDS: [&str; 3] = ["apiVersion", "kind", "metadata"];

/// Prunes a custom object (the resource root: its `apiVersion`, `kind` and `metadata` are
/// kept, the last being the caller's to coerce), then drops `null`s where the schema allows
/// none and has no default. Returns the removed fields' paths sorted, as kube reports them:
/// a request with `fieldValidation=Strict` fails with `unknown field "spec.foo"` for each,
/// `Warn` warns with the same words.
pub fn prune(schema: &Structural, object: &mut Value) -> Vec<String> {
    let mut removed = Vec::new();
    prune_value(schema, object, true, &mut removed);
    prune_nulls(Some(schema), object, 0);
    removed.sort();
    removed
}

/// kube's `Prune` of `value` at a node; `resource_root` makes the node an embedded resource,
/// as kube treats the object's root.
pub(super) fn prune_value(schema: &Structural, value: &mut Value, resource_root: bool, removed: &mut Vec<String>) {
    if resource_root && !schema.embedded_resource {
        let root = Structural { embedded_resource: true, ..schema.clone() };
        walk(Some(&root), value, "", 0, removed);
    } else {
        walk(Some(schema), value, "", 0, removed);
    }
}

/// The walk along the schema. Below a node with no schema the value is pruned by
/// `unspecified`, which needs no schema and so no recursion; the schema bounds this one.
fn walk(schema: Option<&Structural>, value: &mut Value, path: &str, depth: usize, removed: &mut Vec<String>) {
    let Some(schema) = schema else {
        unspecified(value, path, removed);
        return;
    };
    if depth > MAX_DEPTH {
        return;
    }
    if schema.preserve_unknown_fields {
        keep_unknown(schema, value, path, depth, removed);
        return;
    }
    match value {
        Value::Object(fields) => {
            let names: Vec<String> = fields.keys().cloned().collect();
            for name in names {
                if schema.embedded_resource && META_FIELDS.contains(&name.as_str()) {
                    continue;
                }
                let inner_schema = match schema.properties.get(&name) {
                    Some(property) => Some(property),
                    None if schema.additional_properties.is_some() => schema.additional_schema(),
                    None => {
                        // kube does not report the type meta of the object's own root.
                        if !META_FIELDS.contains(&name.as_str()) || !path.is_empty() {
                            removed.push(child(path, &name));
                        }
                        fields.remove(&name);
                        continue;
                    }
                };
                if let Some(inner) = fields.get_mut(&name) {
                    walk(inner_schema, inner, &child(path, &name), depth + 1, removed);
                }
            }
        }
        Value::Array(items) => {
            for (at, item) in items.iter_mut().enumerate() {
                walk(schema.items.as_deref(), item, &index(path, at), depth + 1, removed);
            }
        }
        _ => {}
    }
}

/// kube's `skipPrune`: under `x-kubernetes-preserve-unknown-fields` unknown fields stay, but
/// the fields the schema does specify are pruned by their own schemas.
fn keep_unknown(schema: &Structural, value: &mut Value, path: &str, depth: usize, removed: &mut Vec<String>) {
    if depth > MAX_DEPTH {
        return;
    }
    match value {
        Value::Object(fields) => {
            for (name, inner) in fields.iter_mut() {
                if schema.embedded_resource && META_FIELDS.contains(&name.as_str()) {
                    continue;
                }
                if let Some(property) = schema.properties.get(name) {
                    walk(Some(property), inner, &child(path, name), depth + 1, removed);
                } else if schema.additional_properties.is_some() {
                    walk(schema.additional_schema(), inner, &child(path, name), depth + 1, removed);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.items.as_deref() {
                for (at, item) in items.iter_mut().enumerate() {
                    keep_unknown(item_schema, item, &index(path, at), depth + 1, removed);
                }
            }
        }
        _ => {}
    }
}

/// Pruning with no schema: every object loses all its fields, arrays are walked through. The
/// value may be nested as deep as its decoder allowed, so this keeps its own stack.
fn unspecified(value: &mut Value, path: &str, removed: &mut Vec<String>) {
    let mut pending: Vec<(&mut Value, String)> = vec![(value, path.to_string())];
    while let Some((value, path)) = pending.pop() {
        match value {
            Value::Object(fields) => {
                removed.extend(fields.keys().map(|name| child(&path, name)));
                fields.clear();
            }
            Value::Array(items) => {
                for (at, item) in items.iter_mut().enumerate() {
                    pending.push((item, index(&path, at)));
                }
            }
            _ => {}
        }
    }
}

/// kube's `PruneNonNullableNullsWithoutDefaults`.
fn prune_nulls(schema: Option<&Structural>, value: &mut Value, depth: usize) {
    if depth > MAX_DEPTH {
        return;
    }
    let Some(schema) = schema else { return };
    match value {
        Value::Object(fields) => {
            fields.retain(|name, inner| {
                let field_schema = field_schema(schema, name);
                !(inner.is_null() && field_schema.is_some_and(|field| !field.nullable && field.default.is_none()))
            });
            for (name, inner) in fields.iter_mut() {
                prune_nulls(field_schema(schema, name), inner, depth + 1);
            }
        }
        Value::Array(items) => {
            for item in items {
                prune_nulls(schema.items.as_deref(), item, depth + 1);
            }
        }
        _ => {}
    }
}

fn field_schema<'a>(schema: &'a Structural, name: &str) -> Option<&'a Structural> {
    schema.properties.get(name).or_else(|| schema.additional_schema())
}
