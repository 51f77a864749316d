//! Field paths and validation causes, worded as `k8s.io/apimachinery/pkg/util/validation/field`
//! words them: `spec.containers[0].image`, `data[my key]`, `Required value`, `Invalid value: "x":
//! detail`, `Unsupported value: "x": supported values: "a", "b"`.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::Value;

use crate::errors::Cause;

/// A field path as Kubernetes prints it: children joined with `.`, list indexes and map keys in
/// brackets (keys unquoted).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Path(String);

impl Path {
    pub(crate) fn new(root: &str) -> Self {
        Self(root.to_string())
    }

    /// The path of the whole object (`""`), which some causes name.
    pub(crate) fn root() -> Self {
        Self(String::new())
    }

    pub(crate) fn child(&self, name: &str) -> Self {
        if self.0.is_empty() { Self(name.to_string()) } else { Self(format!("{}.{name}", self.0)) }
    }

    pub(crate) fn index(&self, index: usize) -> Self {
        Self(format!("{}[{index}]", self.0))
    }

    pub(crate) fn key(&self, key: &str) -> Self {
        Self(format!("{}[{key}]", self.0))
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The causes found so far; validation appends to it and the caller turns a non-empty list into
/// one 422 that names every cause.
#[derive(Debug, Default)]
pub(crate) struct Causes(Vec<Cause>);

impl Causes {
    pub(crate) fn new() -> Self {
        Self(Vec::new())
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub(crate) fn as_slice(&self) -> &[Cause] {
        &self.0
    }

    pub(crate) fn into_vec(self) -> Vec<Cause> {
        self.0
    }

    pub(crate) fn push(&mut self, cause: Cause) {
        // Kubernetes' ErrorList.ToAggregate drops exact repeats; so do we.
        if !self.0.contains(&cause) {
            self.0.push(cause);
        }
    }

    pub(crate) fn required(&mut self, path: &Path, detail: &str) {
        self.push(Cause::required(path.to_string(), detail));
    }

    pub(crate) fn invalid(&mut self, path: &Path, value: impl Into<Value>, detail: &str) {
        self.push(Cause::invalid(path.to_string(), &value.into(), detail));
    }

    /// `Invalid value` with the value already written as Kubernetes shows it (see
    /// [`go_string_map`]).
    pub(crate) fn invalid_shown(&mut self, path: &Path, shown: &str, detail: &str) {
        self.push(Cause { reason: "FieldValueInvalid", field: path.to_string(), message: format!("Invalid value: {shown}: {detail}") });
    }

    /// One `Invalid value` per message, as Kubernetes loops over the messages of its `Is*`
    /// format checks.
    pub(crate) fn invalid_each(&mut self, path: &Path, value: &str, messages: Vec<String>) {
        for message in messages {
            self.invalid(path, value, &message);
        }
    }

    pub(crate) fn not_supported(&mut self, path: &Path, value: impl Into<Value>, supported: &[&str]) {
        self.push(Cause::not_supported(path.to_string(), &value.into(), supported));
    }

    pub(crate) fn forbidden(&mut self, path: &Path, detail: &str) {
        self.push(Cause::forbidden(path.to_string(), detail));
    }

    pub(crate) fn duplicate(&mut self, path: &Path, value: impl Into<Value>) {
        self.push(Cause::duplicate(path.to_string(), &value.into()));
    }

    pub(crate) fn not_found(&mut self, path: &Path, value: impl Into<Value>) {
        self.push(Cause {
            reason: "FieldValueNotFound",
            field: path.to_string(),
            message: format!("Not found: {}", value.into()),
        });
    }

    /// `field.TooLong(path, "", max)`: the value itself is not shown.
    pub(crate) fn too_long(&mut self, path: &Path, max_bytes: usize) {
        self.push(Cause {
            reason: "FieldValueTooLong",
            field: path.to_string(),
            message: format!("Too long: may not be more than {max_bytes} bytes"),
        });
    }

    /// `ValidateImmutableField`: `Invalid value: <new>: field is immutable`.
    pub(crate) fn immutable(&mut self, path: &Path, new_value: impl Into<Value>) {
        self.invalid(path, new_value, "field is immutable");
    }
}

/// A JSON rendering of any serializable value, for causes that show a whole struct (Kubernetes
/// prints Go's `%#v` there, which has no JSON equivalent).
pub(crate) fn json_of<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

/// The changed fields of two objects, one `-` line for the old value and one `+` line for the
/// new, in the shape of the `cmp.Diff` kube appends to some immutability causes (which go-cmp
/// deliberately words unstably, so clients cannot depend on it byte for byte).
pub(crate) fn diff_lines(type_name: &str, old: &Value, new: &Value) -> String {
    let empty = serde_json::Map::new();
    let (old, new) = (old.as_object().unwrap_or(&empty), new.as_object().unwrap_or(&empty));
    let mut keys: Vec<&String> = old.keys().chain(new.keys()).collect();
    keys.sort();
    keys.dedup();
    let mut lines = vec![format!("  {type_name}{{")];
    for key in keys {
        let (before, after) = (old.get(key), new.get(key));
        if before == after {
            continue;
        }
        if let Some(before) = before {
            lines.push(format!("- \t{key}: {before},"));
        }
        if let Some(after) = after {
            lines.push(format!("+ \t{key}: {after},"));
        }
    }
    lines.push("  }".to_string());
    lines.join("\n")
}

/// A `map[string]string` as a cause shows it: `field.Invalid` prints values of no simpler type
/// with Go's `%#v`, which writes a map's keys sorted (`map[string]string{"a":"1", "b":"2"}`) and
/// a nil map as `map[string]string(nil)`.
pub(crate) fn go_string_map(map: Option<&BTreeMap<String, String>>) -> String {
    let Some(map) = map else { return "map[string]string(nil)".to_string() };
    let entries: Vec<String> = map.iter().map(|(key, value)| format!("{key:?}:{value:?}")).collect();
    format!("map[string]string{{{}}}", entries.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_print_as_kubernetes_prints_them() {
        let spec = Path::new("spec");
        assert_eq!(spec.child("containers").index(0).child("image").to_string(), "spec.containers[0].image");
        assert_eq!(Path::new("data").key("my key").to_string(), "data[my key]");
        assert_eq!(Path::root().child("metadata").to_string(), "metadata");
        assert_eq!(Path::root().to_string(), "");
    }

    #[test]
    fn causes_are_worded_as_kubernetes_words_them() {
        let mut causes = Causes::new();
        causes.not_found(&Path::new("spec.volumes"), "data");
        causes.too_long(&Path::new("data"), 1048576);
        causes.immutable(&Path::new("metadata.name"), "b");
        causes.immutable(&Path::new("metadata.name"), "b");
        let causes = causes.into_vec();
        assert_eq!(causes.len(), 3, "exact repeats are dropped");
        assert_eq!(causes[0].message, "Not found: \"data\"");
        assert_eq!(causes[0].reason, "FieldValueNotFound");
        assert_eq!(causes[1].message, "Too long: may not be more than 1048576 bytes");
        assert_eq!(causes[2].message, "Invalid value: \"b\": field is immutable");
    }

    #[test]
    fn string_maps_print_as_go_prints_them() {
        let map = BTreeMap::from([("tier".to_string(), "x".to_string()), ("app".to_string(), "a \"b\"".to_string())]);
        assert_eq!(go_string_map(Some(&map)), r#"map[string]string{"app":"a \"b\"", "tier":"x"}"#);
        assert_eq!(go_string_map(Some(&BTreeMap::new())), "map[string]string{}");
        assert_eq!(go_string_map(None), "map[string]string(nil)");
    }
}
