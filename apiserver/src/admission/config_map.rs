//! ConfigMaps: `ValidateConfigMap` (keys, a key in both `data` and `binaryData`, 1 MiB in all)
//! and `ValidateConfigMapUpdate` (nothing changes once `immutable` is set).

use k8s_openapi::api::core::v1::ConfigMap;

use super::field::{Causes, Path};
use super::names;
use super::{Context, TypedKind};

/// `core.MaxSecretSize`, which ConfigMaps share.
pub(crate) const MAX_SIZE: usize = 1024 * 1024;

impl TypedKind for ConfigMap {
    fn validate(&self, _context: &Context, causes: &mut Causes) {
        let data_path = Path::new("data");
        let binary_path = Path::new("binaryData");
        let mut total = 0;
        for (key, value) in self.data.iter().flatten() {
            causes.invalid_each(&data_path.key(key), key, names::config_map_key(key));
            if self.binary_data.as_ref().is_some_and(|binary| binary.contains_key(key)) {
                causes.invalid(&data_path.key(key), key.as_str(), "duplicate of key present in binaryData");
            }
            total += value.len();
        }
        for (key, value) in self.binary_data.iter().flatten() {
            causes.invalid_each(&binary_path.key(key), key, names::config_map_key(key));
            total += value.0.len();
        }
        if total > MAX_SIZE {
            // Kubernetes names no field here: the limit is the whole object's.
            causes.too_long(&Path::root(), MAX_SIZE);
        }
    }

    fn validate_update(&self, old: &Self, context: &Context, causes: &mut Causes) {
        if old.immutable == Some(true) {
            let detail = "field is immutable when `immutable` is set";
            if self.immutable != Some(true) {
                causes.forbidden(&Path::new("immutable"), detail);
            }
            if !same_map(&self.data, &old.data) {
                causes.forbidden(&Path::new("data"), detail);
            }
            if !same_map(&self.binary_data, &old.binary_data) {
                causes.forbidden(&Path::new("binaryData"), detail);
            }
        }
        self.validate(context, causes);
    }
}

/// Maps compared as Kubernetes compares them here (`reflect.DeepEqual` after decoding, where an
/// absent map and an empty one differ only in ways that decoding erases).
pub(crate) fn same_map<V: PartialEq>(
    new: &Option<std::collections::BTreeMap<String, V>>,
    old: &Option<std::collections::BTreeMap<String, V>>,
) -> bool {
    let empty = std::collections::BTreeMap::new();
    new.as_ref().unwrap_or(&empty) == old.as_ref().unwrap_or(&empty)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::test_support::*;

    fn long_key_data() -> serde_json::Value {
        let mut data = serde_json::Map::new();
        data.insert("k".repeat(254), json!("x"));
        serde_json::Value::Object(data)
    }

    fn long_key_field() -> &'static str {
        Box::leak(format!("data[{}]", "k".repeat(254)).into_boxed_str())
    }

    #[test]
    fn config_map_validation() {
        let rows: Vec<(&str, serde_json::Value, Outcome)> = vec![
            ("valid", config_map("settings"), Outcome::Admitted),
            ("binary data", with(config_map("settings"), "/binaryData", json!({"logo.png": "iVBORw0KGgo="})), Outcome::Admitted),
            ("key with a space", with(config_map("settings"), "/data", json!({"my key": "x"})), invalid(&["data[my key]"], "data[my key]: Invalid value: \"my key\": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')")),
            ("key too long", with(config_map("settings"), "/data", long_key_data()), invalid(&[long_key_field()], "must be no more than 253 characters")),
            ("dot dot", with(config_map("settings"), "/data", json!({"..": "x"})), invalid(&["data[..]"], "must not be '..'")),
            ("binary key", with(config_map("settings"), "/binaryData", json!({"a/b": "eA=="})), invalid(&["binaryData[a/b]"], "a valid config key")),
            ("in both", with(config_map("settings"), "/binaryData", json!({"app.properties": "eA=="})), invalid(&["data[app.properties]"], "duplicate of key present in binaryData")),
            ("too large", with(config_map("settings"), "/data", json!({"a": "x".repeat(1024 * 1024), "b": "y"})), invalid(&[""], ": Too long: may not be more than 1048576 bytes")),
            ("binary not base64", with(config_map("settings"), "/binaryData", json!({"a": "%%%"})), Outcome::BadRequest("binaryData.a: ")),
            ("value not a string", with(config_map("settings"), "/data", json!({"a": 1})), Outcome::BadRequest("data.a: invalid type: integer `1`, expected a string")),
        ];
        run_create("configmaps", rows);
    }

    #[test]
    fn immutable_config_maps_stay_as_they_are() {
        let old = admitted(resource("configmaps"), with(config_map("settings"), "/immutable", json!(true)));
        let rows: Vec<(&str, serde_json::Value, Outcome)> = vec![
            ("labels may change", with(old.clone(), "/metadata/labels", json!({"a": "b"})), Outcome::Admitted),
            ("data", with(old.clone(), "/data/app.properties", json!("colour=red")), invalid(&["data"], "data: Forbidden: field is immutable when `immutable` is set")),
            ("binary data", with(old.clone(), "/binaryData", json!({"x": "eA=="})), invalid(&["binaryData"], "field is immutable when `immutable` is set")),
            ("unset", with(old.clone(), "/immutable", json!(false)), invalid(&["immutable"], "field is immutable when `immutable` is set")),
            ("removed", without(old.clone(), "/immutable"), invalid(&["immutable"], "field is immutable when `immutable` is set")),
        ];
        run_update("configmaps", &old, rows);
        let mutable = admitted(resource("configmaps"), config_map("settings"));
        run_update("configmaps", &mutable, vec![
            ("data of a mutable one", with(mutable.clone(), "/data/app.properties", json!("colour=red")), Outcome::Admitted),
            ("made immutable", with(mutable.clone(), "/immutable", json!(true)), Outcome::Admitted),
        ]);
    }
}
