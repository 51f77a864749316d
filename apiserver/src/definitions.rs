//! The OpenAPI definitions of the built-in kinds, as build.rs keeps them from Kubernetes' own
//! v1.33 documents: one compact JSON text per definition, read when an OpenAPI document is
//! written (`openapi`) and when a kind's merge schema is built (`managed_fields`). A leaf: it
//! knows nothing of the server.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

/// One definition of `components.schemas`, e.g. `io.k8s.api.apps.v1.Deployment`.
#[derive(Debug)]
pub(crate) struct Definition {
    pub name: &'static str,
    /// Its `x-kubernetes-group-version-kind`: `(group, version, kind)`.
    pub kinds: &'static [(&'static str, &'static str, &'static str)],
    /// The definitions it references, as indices into `DEFINITIONS`.
    pub references: &'static [usize],
    /// The schema, compact JSON, references in the v3 form (`#/components/schemas/...`).
    pub schema: &'static str,
}

// `DEFINITIONS`, sorted by name.
include!(concat!(env!("OUT_DIR"), "/openapi_definitions.rs"));

const V3_PREFIX: &str = "#/components/schemas/";
const V2_PREFIX: &str = "#/definitions/";

/// Schemas supplied at run time (the kinds of CRDs), by definition name, in the v3 form. They
/// may reference the built-in ones, as a CRD's schema references ObjectMeta.
pub type Extra = BTreeMap<String, Value>;

pub(crate) fn builtin(name: &str) -> Option<&'static Definition> {
    DEFINITIONS.binary_search_by(|definition| definition.name.cmp(name)).ok().map(|index| &DEFINITIONS[index])
}

fn carries_kind(schema: &Value, group: &str, version: &str, kind: &str) -> bool {
    let field = |gvk: &Value, name: &str| gvk.get(name).and_then(Value::as_str).unwrap_or_default().to_string();
    schema
        .get("x-kubernetes-group-version-kind")
        .and_then(Value::as_array)
        .is_some_and(|gvks| gvks.iter().any(|gvk| field(gvk, "group") == group && field(gvk, "version") == version && field(gvk, "kind") == kind))
}

/// A built-in definition's schema (`io.k8s.api.apps.v1.Deployment`), parsed; references are in
/// the v3 form (`#/components/schemas/...`).
pub(crate) fn schema(name: &str) -> Option<Value> {
    builtin(name).and_then(|definition| serde_json::from_str(definition.schema).ok())
}

/// The name of the built-in definition of a kind, if Kubernetes 1.33 defines it.
pub(crate) fn of_builtin_kind(group: &str, version: &str, kind: &str) -> Option<String> {
    for_kind(&Extra::new(), group, version, kind)
}

/// The name of the definition of a kind: a run-time schema first (a CRD may not shadow a
/// built-in kind, but the registry decides that), then a built-in one.
pub(crate) fn for_kind(extra: &Extra, group: &str, version: &str, kind: &str) -> Option<String> {
    if let Some((name, _)) = extra.iter().find(|(_, schema)| carries_kind(schema, group, version, kind)) {
        return Some(name.clone());
    }
    DEFINITIONS
        .iter()
        .find(|definition| definition.kinds.contains(&(group, version, kind)))
        .map(|definition| definition.name.to_string())
}

fn references(value: &Value, found: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(target) = map.get("$ref").and_then(Value::as_str).and_then(|target| target.strip_prefix(V3_PREFIX)) {
                found.push(target.to_string());
            }
            map.values().for_each(|value| references(value, found));
        }
        Value::Array(items) => items.iter().for_each(|value| references(value, found)),
        _ => {}
    }
}

/// `roots` and every definition they reference, run-time and built-in alike. A name defined
/// nowhere is left out (a CRD's schema referencing a type this server lacks); the document then
/// has a dangling reference, which kubectl reads as an unknown type rather than failing.
pub(crate) fn closure(roots: impl IntoIterator<Item = String>, extra: &Extra) -> BTreeSet<String> {
    let mut kept = BTreeSet::new();
    let mut pending: Vec<String> = roots.into_iter().collect();
    while let Some(name) = pending.pop() {
        if kept.contains(&name) {
            continue;
        }
        if let Some(schema) = extra.get(&name) {
            references(schema, &mut pending);
        } else if let Some(definition) = builtin(&name) {
            pending.extend(definition.references.iter().map(|index| DEFINITIONS[*index].name.to_string()));
        } else {
            continue;
        }
        kept.insert(name);
    }
    kept
}

/// Writes `"name":schema,...` for every name, in the v3 form.
pub(crate) fn write_v3(out: &mut Vec<u8>, names: &BTreeSet<String>, extra: &Extra) -> Result<(), serde_json::Error> {
    for (position, name) in names.iter().enumerate() {
        if position > 0 {
            out.push(b',');
        }
        serde_json::to_writer(&mut *out, name)?;
        out.push(b':');
        match extra.get(name) {
            Some(schema) => serde_json::to_writer(&mut *out, schema)?,
            None => out.extend_from_slice(builtin(name).map_or("{}", |definition| definition.schema).as_bytes()),
        }
    }
    Ok(())
}

/// Writes `"name":schema,...` for every name, in the Swagger 2.0 form. Each schema is parsed and
/// converted on its own, so no more than one definition is held twice at a time.
pub(crate) fn write_v2(out: &mut Vec<u8>, names: &BTreeSet<String>, extra: &Extra) -> Result<(), serde_json::Error> {
    for (position, name) in names.iter().enumerate() {
        if position > 0 {
            out.push(b',');
        }
        serde_json::to_writer(&mut *out, name)?;
        out.push(b':');
        serde_json::to_writer(&mut *out, &v2_schema(name, extra)?)?;
    }
    Ok(())
}

/// One definition in the Swagger 2.0 form.
pub(crate) fn v2_schema(name: &str, extra: &Extra) -> Result<Value, serde_json::Error> {
    let schema = match extra.get(name) {
        Some(schema) => schema.clone(),
        None => serde_json::from_str(builtin(name).map_or("{}", |definition| definition.schema))?,
    };
    Ok(to_v2(schema))
}

/// A v3 schema in the Swagger 2.0 form kube-apiserver serves at /openapi/v2: references point
/// into `#/definitions/`, and the `allOf: [{$ref}]` that v3 wraps a reference in (so that a
/// description and default can stand beside it) is a bare `$ref` with its description again.
/// Swagger 2.0 ignores whatever stands beside a `$ref`, and kube-apiserver's v2 documents carry
/// no `default: {}` there, so that is dropped.
pub(crate) fn to_v2(schema: Value) -> Value {
    match schema {
        Value::Object(mut map) => {
            if let Some(Value::Array(all_of)) = map.get("allOf")
                && let [Value::Object(only)] = all_of.as_slice()
                && only.len() == 1
                && let Some(Value::String(target)) = only.get("$ref")
            {
                let target = target.clone();
                map.remove("allOf");
                map.remove("default");
                map.insert("$ref".to_string(), Value::String(target));
            }
            for (key, value) in map.iter_mut() {
                if key == "$ref"
                    && let Value::String(target) = value
                    && let Some(name) = target.strip_prefix(V3_PREFIX)
                {
                    *target = format!("{V2_PREFIX}{name}");
                } else {
                    *value = to_v2(std::mem::take(value));
                }
            }
            Value::Object(map)
        }
        Value::Array(items) => Value::Array(items.into_iter().map(to_v2).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn definitions_are_sorted_and_parse() {
        assert!(DEFINITIONS.windows(2).all(|pair| pair[0].name < pair[1].name));
        for definition in DEFINITIONS {
            let schema: Value = serde_json::from_str(definition.schema).unwrap_or_else(|err| panic!("{}: {err}", definition.name));
            assert!(schema.is_object(), "{}", definition.name);
        }
    }

    #[test]
    fn kinds_are_found_by_their_group_version_kind() {
        let extra = Extra::new();
        assert_eq!(for_kind(&extra, "apps", "v1", "Deployment").as_deref(), Some("io.k8s.api.apps.v1.Deployment"));
        assert_eq!(for_kind(&extra, "autoscaling", "v1", "Scale").as_deref(), Some("io.k8s.api.autoscaling.v1.Scale"));
        assert_eq!(for_kind(&extra, "apps", "v1", "Widget"), None);
        let widget = json!({"type": "object", "x-kubernetes-group-version-kind": [{"group": "example.com", "version": "v1", "kind": "Widget"}]});
        let extra = Extra::from([("com.example.v1.Widget".to_string(), widget)]);
        assert_eq!(for_kind(&extra, "example.com", "v1", "Widget").as_deref(), Some("com.example.v1.Widget"));
    }

    #[test]
    fn closure_follows_references_from_run_time_schemas_into_built_in_ones() {
        let widget = json!({"properties": {"metadata": {"allOf": [{"$ref": "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}]}, "spec": {"$ref": "#/components/schemas/com.example.Missing"}}});
        let extra = Extra::from([("com.example.v1.Widget".to_string(), widget)]);
        let names = closure(["com.example.v1.Widget".to_string()], &extra);
        assert!(names.contains("com.example.v1.Widget"));
        assert!(names.contains("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"));
        assert!(names.contains("io.k8s.apimachinery.pkg.apis.meta.v1.ManagedFieldsEntry"), "ObjectMeta's own references");
        assert!(!names.contains("com.example.Missing"));
    }

    #[test]
    fn v2_unwraps_all_of_and_points_into_definitions() {
        let v3 = json!({"properties": {
            "spec": {"allOf": [{"$ref": "#/components/schemas/io.k8s.api.apps.v1.DeploymentSpec"}], "default": {}, "description": "Spec."},
            "items": {"type": "array", "items": {"allOf": [{"$ref": "#/components/schemas/io.k8s.api.core.v1.Pod"}], "default": {}}},
            "protocol": {"type": "string", "default": "TCP"},
        }});
        assert_eq!(
            to_v2(v3),
            json!({"properties": {
                "spec": {"$ref": "#/definitions/io.k8s.api.apps.v1.DeploymentSpec", "description": "Spec."},
                "items": {"type": "array", "items": {"$ref": "#/definitions/io.k8s.api.core.v1.Pod"}},
                "protocol": {"type": "string", "default": "TCP"},
            }})
        );
    }
}
