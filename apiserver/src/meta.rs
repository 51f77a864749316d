//! Reading and writing `metadata` fields of objects held as JSON.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::storage::Revision;

pub fn metadata(object: &Value) -> Option<&Map<String, Value>> {
    object.get("metadata")?.as_object()
}

/// The object's `metadata`, created empty if missing (or if it was not an object).
pub fn metadata_mut(object: &mut Value) -> &mut Map<String, Value> {
    if !object.is_object() {
        *object = Value::Object(Map::new());
    }
    let Value::Object(fields) = object else { unreachable!("made an object just above") };
    let metadata = fields.entry("metadata").or_insert_with(|| Value::Object(Map::new()));
    if !metadata.is_object() {
        *metadata = Value::Object(Map::new());
    }
    match metadata {
        Value::Object(map) => map,
        _ => unreachable!("made an object just above"),
    }
}

pub fn string<'a>(object: &'a Value, field: &str) -> Option<&'a str> {
    metadata(object)?.get(field)?.as_str()
}

pub fn name(object: &Value) -> Option<&str> {
    string(object, "name").filter(|name| !name.is_empty())
}

pub fn namespace(object: &Value) -> Option<&str> {
    string(object, "namespace").filter(|namespace| !namespace.is_empty())
}

pub fn set(object: &mut Value, field: &str, value: Value) {
    metadata_mut(object).insert(field.to_string(), value);
}

pub fn remove(object: &mut Value, field: &str) -> Option<Value> {
    metadata_mut(object).remove(field)
}

pub fn labels(object: &Value) -> BTreeMap<String, String> {
    string_map(object, "labels")
}

fn string_map(object: &Value, field: &str) -> BTreeMap<String, String> {
    metadata(object)
        .and_then(|metadata| metadata.get(field))
        .and_then(Value::as_object)
        .map(|map| {
            map.iter()
                .filter_map(|(key, value)| Some((key.clone(), value.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

pub fn finalizers(object: &Value) -> Vec<String> {
    metadata(object)
        .and_then(|metadata| metadata.get("finalizers"))
        .and_then(Value::as_array)
        .map(|list| list.iter().filter_map(|item| item.as_str().map(str::to_string)).collect())
        .unwrap_or_default()
}

/// Leaves out the metadata lists and maps that are empty, as kube-apiserver's Go types do
/// (`omitempty`): a patch that deletes the last finalizer leaves no `finalizers: []` behind.
pub fn drop_empty(object: &mut Value) {
    if let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        for field in ["finalizers", "ownerReferences", "labels", "annotations"] {
            let empty = metadata.get(field).is_some_and(|value| match value {
                Value::Array(items) => items.is_empty(),
                Value::Object(map) => map.is_empty(),
                Value::Null => true,
                _ => false,
            });
            if empty {
                metadata.remove(field);
            }
        }
    }
}

pub fn is_being_deleted(object: &Value) -> bool {
    string(object, "deletionTimestamp").is_some()
}

/// Parses a `resourceVersion` as a store revision; `None` for empty.
pub fn parse_resource_version(text: &str) -> Result<Option<Revision>, String> {
    if text.is_empty() {
        return Ok(None);
    }
    text.parse::<Revision>()
        .ok()
        .filter(|revision| *revision >= 0)
        .map(Some)
        .ok_or_else(|| format!("invalid resource version {text:?}: must be a non-negative integer"))
}

/// Whether two objects are equal but for the named `metadata` fields, compared in place (the
/// objects of a write are large; copying them to drop a field costs more than the write).
pub fn equal_except(a: &Value, b: &Value, ignored: &[&str]) -> bool {
    let (Some(a), Some(b)) = (a.as_object(), b.as_object()) else { return a == b };
    a.len() == b.len()
        && a.iter().all(|(key, value)| match b.get(key) {
            Some(other) if key == "metadata" => match (value.as_object(), other.as_object()) {
                (Some(value), Some(other)) => {
                    let kept = |map: &'_ Map<String, Value>| map.iter().filter(|(field, _)| !ignored.contains(&field.as_str())).count();
                    kept(value) == kept(other) && value.iter().filter(|(field, _)| !ignored.contains(&field.as_str())).all(|(field, inner)| other.get(field) == Some(inner))
                }
                _ => value == other,
            },
            Some(other) => value == other,
            None => false,
        })
}

pub fn now() -> String {
    // Kubernetes timestamps are RFC 3339 in UTC at second precision.
    jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// `now` plus `seconds`, in the same format.
pub fn seconds_from_now(seconds: i64) -> String {
    let later = jiff::Timestamp::now()
        .checked_add(jiff::SignedDuration::from_secs(seconds))
        .unwrap_or_else(|_| jiff::Timestamp::now());
    later.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// How many random characters follow a `generateName` prefix (`randomLength`).
const GENERATED_SUFFIX_LENGTH: usize = 5;
/// The longest prefix kept (`maxGeneratedNameLength`): with the suffix, a name fits the 63
/// characters of a DNS label.
const MAX_GENERATED_PREFIX_LENGTH: usize = 63 - GENERATED_SUFFIX_LENGTH;

/// A name for `generateName`, as Kubernetes' `SimpleNameGenerator` makes it: the prefix cut to
/// 58 bytes, then five characters from its alphabet (`utilrand.String`: no vowels, nothing
/// that reads as another character).
pub fn generate_name(prefix: &str) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    // Go cuts at a byte; a prefix that is not ASCII fails name validation either way, so the
    // cut here backs off to a character boundary rather than split one.
    let mut end = prefix.len().min(MAX_GENERATED_PREFIX_LENGTH);
    while !prefix.is_char_boundary(end) {
        end -= 1;
    }
    let entropy = uuid::Uuid::new_v4();
    let suffix: String = entropy
        .as_bytes()
        .iter()
        .take(GENERATED_SUFFIX_LENGTH)
        .map(|byte| ALPHABET[*byte as usize % ALPHABET.len()] as char)
        .collect();
    format!("{}{suffix}", &prefix[..end])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn empty_metadata_lists_and_maps_are_left_out_as_go_leaves_them() {
        let mut object = json!({"metadata": {"name": "x", "finalizers": [], "labels": {}, "annotations": {"a": "b"}, "ownerReferences": null}});
        drop_empty(&mut object);
        assert_eq!(object, json!({"metadata": {"name": "x", "annotations": {"a": "b"}}}));
    }

    #[test]
    fn metadata_helpers_tolerate_odd_shapes() {
        let mut object = json!({"metadata": "not a map"});
        assert_eq!(name(&object), None);
        set(&mut object, "name", json!("x"));
        assert_eq!(name(&object), Some("x"));
        let mut scalar = json!(3);
        set(&mut scalar, "name", json!("y"));
        assert_eq!(name(&scalar), Some("y"));
        let labelled = json!({"metadata": {"labels": {"app": "web", "bad": 3}}});
        assert_eq!(labels(&labelled), BTreeMap::from([("app".to_string(), "web".to_string())]));
    }

    /// Each row: a `generateName` prefix, and the part of it the generated name starts with.
    #[test]
    fn generated_names_cut_the_prefix_to_58_bytes() {
        let long = "a".repeat(70);
        let accented = format!("{}é-", "a".repeat(57));
        let rows = [
            ("web-", "web-"),
            (long.as_str(), &long[..58]),
            (&long[..58], &long[..58]),
            (&long[..59], &long[..58]),
            // `é` takes bytes 57 and 58: the cut backs off before it instead of splitting it.
            (accented.as_str(), &accented[..57]),
        ];
        for (prefix, kept) in rows {
            let name = generate_name(prefix);
            let suffix = name.strip_prefix(kept).unwrap_or_else(|| panic!("{name:?} does not start with {kept:?}"));
            assert_eq!(suffix.len(), 5, "{name:?}");
            assert!(suffix.bytes().all(|byte| b"bcdfghjklmnpqrstvwxz2456789".contains(&byte)), "{name:?}");
        }
        assert_eq!(generate_name(&long).len(), 63);
    }

    #[test]
    fn resource_versions() {
        assert_eq!(parse_resource_version(""), Ok(None));
        assert_eq!(parse_resource_version("42"), Ok(Some(42)));
        assert!(parse_resource_version("abc").is_err());
        assert!(parse_resource_version("-1").is_err());
    }
}
