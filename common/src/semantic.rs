//! JSON compared as Kubernetes' semantic equality compares objects: a null, an empty map or an
//! empty list is the same as the field left out. Go writes `creationTimestamp: null` and
//! `resources: {}` where other encoders write nothing, and kubectl's `rollout undo` sends
//! `resources: {}` where the stored template has nothing; pruned, the two read the same.

use serde_json::Value;

/// `value` with every map entry that is null, an empty map or an empty list left out (after its
/// own entries were); list items stay where they are.
pub fn pruned(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter().map(|(key, value)| (key.clone(), pruned(value))).filter(|(_, value)| !is_empty(value)).collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(pruned).collect()),
        other => other.clone(),
    }
}

/// The pruned value as a canonical string: serde_json writes maps in key order, so semantically
/// equal values give equal text (to hash, or to compare).
pub fn canonical(value: &Value) -> String {
    pruned(value).to_string()
}

fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Object(map) => map.is_empty(),
        Value::Array(items) => items.is_empty(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn nulls_and_empty_maps_and_lists_are_left_out_of_maps() {
        let value = json!({"metadata": {"creationTimestamp": null, "labels": {"app": "web"}},
            "spec": {"containers": [{"name": "c", "resources": {}, "env": []}, {}], "volumes": [], "nested": {"empty": {"list": []}}}});
        let expected = json!({"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c"}, {}]}});
        assert_eq!(pruned(&value), expected);
        assert_eq!(canonical(&value), canonical(&expected));
        assert_eq!(canonical(&json!({"b": 1, "a": [null]})), r#"{"a":[null],"b":1}"#, "key order; list items stay");
        assert_eq!(pruned(&json!(null)), json!(null));
        assert_ne!(canonical(&json!({"a": 0})), canonical(&json!({})), "zero values are kept");
    }
}
