//! Decoding a JSON object into its kind's typed struct as kube-apiserver's decoder does:
//!
//! - `null` means "not set", for every field (Go leaves the zero value);
//! - a required field left out (a container without `name`) decodes as its zero value, as in
//!   Go (k8s-openapi does that itself), and validation reports it: the client gets the 422
//!   Kubernetes gives, not a 400;
//! - a value of the wrong type is a 400 that names the field (`spec.replicas`);
//! - fields the struct does not know are found by comparing the input with the struct serialized
//!   again, and are reported per `?fieldValidation=`.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::json::{Segment, render_path as render};
use super::FieldValidation;
use crate::errors::ApiError;
use crate::resources::ResourceType;

pub(crate) struct Decoded<T> {
    pub(crate) value: T,
    pub(crate) warnings: Vec<String>,
    /// The input as decoded (without `null`s), for checks of what the client left out that the
    /// typed struct cannot tell (k8s-openapi fills a missing required field with its default).
    pub(crate) input: Value,
}

/// `Deployment in version "v1" cannot be handled as a Deployment`, the start of every decoding
/// error kube-apiserver returns.
pub(crate) fn cannot_handle(resource: &ResourceType) -> String {
    format!("{} in version {:?} cannot be handled as a {}", resource.kind, resource.version, resource.kind)
}

pub(crate) fn decode<T: DeserializeOwned + Serialize>(
    resource: &ResourceType,
    mut object: Value,
    validation: FieldValidation,
) -> Result<Decoded<T>, ApiError> {
    let Some(fields) = object.as_object_mut() else {
        return Err(ApiError::bad_request(format!("{}: the object must be a JSON object", cannot_handle(resource))));
    };
    // The typed structs insist on their own apiVersion and kind; the REST layer has checked the
    // body's already, and a patch result keeps the stored object's.
    fields.insert("apiVersion".into(), Value::String(resource.api_version()));
    fields.insert("kind".into(), Value::String(resource.kind.to_string()));
    strip_base64_line_breaks(resource, &mut object);
    let input = object.clone();
    strip_nulls(&mut object);
    let value = deserialize::<T>(&object)
        .map_err(|err| ApiError::bad_request(format!("{}: {err}", cannot_handle(resource))))?;
    let decoded_again = serde_json::to_value(&value).map_err(|err| ApiError::internal(format!("encoding: {err}")))?;
    let mut unknown = Vec::new();
    unknown_fields(&input, &decoded_again, &mut Vec::new(), &mut unknown);
    let unknown: Vec<String> = unknown.iter().map(|path| format!("unknown field {path:?}")).collect();
    let warnings = match validation {
        FieldValidation::Strict if !unknown.is_empty() => {
            return Err(ApiError::bad_request(format!(
                "{}: strict decoding error: {}",
                cannot_handle(resource),
                unknown.join(", ")
            )));
        }
        FieldValidation::Strict | FieldValidation::Ignore => Vec::new(),
        FieldValidation::Warn => unknown,
    };
    Ok(Decoded { value, warnings, input: object })
}

/// The maps of `[]byte` values among the served kinds' fields, as (kind, field): Go's JSON
/// decoder reads a `[]byte` as base64 skipping `\r` and `\n` (so a Secret's data may come
/// wrapped, as `base64` writes it), where k8s-openapi's `ByteString` refuses them.
const BASE64_MAPS: &[(&str, &str)] = &[("Secret", "data"), ("ConfigMap", "binaryData")];

/// Removes the line breaks Go's base64 decoding skips from the kind's `[]byte` values; they
/// are stored and served without them, as Kubernetes re-encodes them.
fn strip_base64_line_breaks(resource: &ResourceType, object: &mut Value) {
    for (_, field) in BASE64_MAPS.iter().filter(|(kind, _)| *kind == resource.kind) {
        let Some(values) = object.get_mut(*field).and_then(Value::as_object_mut) else { continue };
        for value in values.values_mut() {
            if let Value::String(text) = value
                && text.contains(['\r', '\n'])
            {
                text.retain(|character| character != '\r' && character != '\n');
            }
        }
    }
}

/// The strict decoding error or warnings for keys a body repeated (`duplicate field "a.b"`, as
/// kube-apiserver's decoder words them), per `?fieldValidation=`: under Strict a 400, under Warn
/// one warning each, under Ignore nothing.
pub(crate) fn duplicate_fields(resource: &ResourceType, duplicates: &[String], validation: FieldValidation) -> Result<Vec<String>, ApiError> {
    let found: Vec<String> = duplicates.iter().map(|path| format!("duplicate field {path:?}")).collect();
    match validation {
        FieldValidation::Strict if !found.is_empty() => {
            Err(ApiError::bad_request(format!("{}: strict decoding error: {}", cannot_handle(resource), found.join(", "))))
        }
        FieldValidation::Strict | FieldValidation::Ignore => Ok(Vec::new()),
        FieldValidation::Warn => Ok(found),
    }
}

/// What Go's JSON decoder says of a value of the wrong type for a field of `ObjectMeta`, which
/// every kind has and kube-apiserver decodes first: `json: cannot unmarshal number into Go struct
/// field ObjectMeta.metadata.name of type string` (400). Checked before anything reads the
/// metadata, so that `name: 7` is a decoding error rather than a missing name (422), and a
/// `generation` beyond int64 is refused rather than dropped.
pub(crate) fn check_metadata(resource: &ResourceType, object: &Value) -> Result<(), ApiError> {
    let fail = |message: String| Err(ApiError::bad_request(format!("{}: json: {message}", cannot_handle(resource))));
    let metadata = match object.get("metadata") {
        None | Some(Value::Null) => return Ok(()),
        Some(Value::Object(metadata)) => metadata,
        Some(other) => return fail(format!("cannot unmarshal {} into Go struct field {}.metadata of type v1.ObjectMeta", go_kind(other), resource.kind)),
    };
    let field_error = |field: &str, value: &Value, go_type: &str| {
        fail(format!("cannot unmarshal {} into Go struct field ObjectMeta.metadata.{field} of type {go_type}", go_kind(value)))
    };
    for (field, value) in metadata {
        if value.is_null() {
            continue;
        }
        match field.as_str() {
            "name" | "generateName" | "namespace" | "selfLink" | "uid" | "resourceVersion" if !value.is_string() => {
                return field_error(field, value, if field == "uid" { "types.UID" } else { "string" });
            }
            "generation" | "deletionGracePeriodSeconds" if value.as_i64().is_none() => {
                // Go names the number when it is one that does not fit (too large, a fraction).
                let kind = if value.is_number() { format!("number {value}") } else { go_kind(value).to_string() };
                return fail(format!("cannot unmarshal {kind} into Go struct field ObjectMeta.metadata.{field} of type int64"));
            }
            // metav1.Time reads itself: a string, or Go's error for decoding one.
            "creationTimestamp" | "deletionTimestamp" if !value.is_string() => {
                return fail(format!("cannot unmarshal {} into Go value of type string", go_kind(value)));
            }
            "labels" | "annotations" => match value {
                Value::Object(entries) => {
                    if let Some((key, entry)) = entries.iter().find(|(_, entry)| !entry.is_string() && !entry.is_null()) {
                        return field_error(&format!("{field}.{key}"), entry, "string");
                    }
                }
                _ => return field_error(field, value, "map[string]string"),
            },
            "finalizers" => match value {
                Value::Array(items) => {
                    if let Some(item) = items.iter().find(|item| !item.is_string() && !item.is_null()) {
                        return field_error(field, item, "string");
                    }
                }
                _ => return field_error(field, value, "[]string"),
            },
            "ownerReferences" | "managedFields" => {
                let element = if field == "ownerReferences" { "v1.OwnerReference" } else { "v1.ManagedFieldsEntry" };
                match value {
                    Value::Array(items) => {
                        if let Some(item) = items.iter().find(|item| !item.is_object() && !item.is_null()) {
                            return field_error(field, item, element);
                        }
                    }
                    _ => return field_error(field, value, &format!("[]{element}")),
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// How Go's decoder names the JSON value it met.
fn go_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Decodes an object that was admitted before (the stored one an update replaces).
pub(crate) fn decode_stored<T: DeserializeOwned>(resource: &ResourceType, object: &Value) -> Result<T, ApiError> {
    let mut object = object.clone();
    if let Some(fields) = object.as_object_mut() {
        fields.insert("apiVersion".into(), Value::String(resource.api_version()));
        fields.insert("kind".into(), Value::String(resource.kind.to_string()));
    }
    strip_nulls(&mut object);
    deserialize::<T>(&object)
        .map_err(|err| ApiError::internal(format!("the stored {} cannot be decoded: {err}", resource.kind)))
}

fn strip_nulls(value: &mut Value) {
    match value {
        Value::Object(fields) => {
            fields.retain(|_, field| !field.is_null());
            fields.values_mut().for_each(strip_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_nulls),
        _ => {}
    }
}


/// A decoding failure: what serde said, and where.
#[derive(Debug)]
struct LocatedError {
    path: Vec<Segment>,
    message: String,
}

impl std::fmt::Display for LocatedError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.path.is_empty() { f.write_str(&self.message) } else { write!(f, "{}: {}", render(&self.path), self.message) }
    }
}

/// Deserializes; on failure, says where, by decoding the pretty-printed text again, whose error
/// line locates the bad value.
fn deserialize<T: DeserializeOwned>(object: &Value) -> Result<T, LocatedError> {
    let first = match T::deserialize(object) {
        Ok(value) => return Ok(value),
        Err(err) => err,
    };
    let located = serde_json::to_string_pretty(object).ok().and_then(|text| match serde_json::from_str::<T>(&text) {
        Ok(_) => None,
        Err(err) => Some(LocatedError { path: path_at_line(&text, err.line()), message: without_position(&err.to_string()) }),
    });
    Err(located.unwrap_or(LocatedError { path: Vec::new(), message: first.to_string() }))
}

/// serde_json ends its messages with ` at line L column C`, which means nothing to a client.
fn without_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(index) => message[..index].to_string(),
        None => message.to_string(),
    }
}

/// One level of the pretty-printed document: an object or an array, and where it sits.
struct Frame {
    segment: Option<Segment>,
    next_index: Option<usize>,
}

/// The field path of the value on `line` (1-based) of `serde_json::to_string_pretty` output;
/// for a closing bracket, the path of the object or array it closes.
fn path_at_line(text: &str, line: usize) -> Vec<Segment> {
    let mut frames: Vec<Frame> = Vec::new();
    let path_of = |frames: &[Frame]| frames.iter().filter_map(|frame| frame.segment.clone()).collect::<Vec<_>>();
    for (index, raw) in text.lines().enumerate() {
        let trimmed = raw.trim();
        let trimmed = trimmed.strip_suffix(',').unwrap_or(trimmed);
        if trimmed == "}" || trimmed == "]" {
            if index + 1 == line {
                return path_of(&frames);
            }
            frames.pop();
            continue;
        }
        let (segment, rest) = match frames.last_mut() {
            None => (None, trimmed),
            Some(Frame { next_index: Some(next), .. }) => {
                let segment = Segment::Index(*next);
                *next += 1;
                (Some(segment), trimmed)
            }
            Some(Frame { next_index: None, .. }) => match split_key(trimmed) {
                Some((key, rest)) => (Some(Segment::Key(key)), rest),
                None => (None, trimmed),
            },
        };
        if index + 1 == line {
            let mut path = path_of(&frames);
            path.extend(segment);
            return path;
        }
        match rest {
            "{" => frames.push(Frame { segment, next_index: None }),
            "[" => frames.push(Frame { segment, next_index: Some(0) }),
            _ => {}
        }
    }
    path_of(&frames)
}

/// `"key": rest` → (key, rest).
fn split_key(line: &str) -> Option<(String, &str)> {
    let body = line.strip_prefix('"')?;
    let mut escaped = false;
    let mut end = None;
    for (position, c) in body.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => {
                end = Some(position);
                break;
            }
            _ => {}
        }
    }
    let end = end?;
    let key: String = serde_json::from_str(&line[..end + 2]).ok()?;
    let rest = line[end + 2..].trim_start().strip_prefix(':')?.trim_start();
    Some((key, rest))
}

/// Paths present (and not `null`) in `input` but absent from `decoded`.
fn unknown_fields(input: &Value, decoded: &Value, path: &mut Vec<Segment>, found: &mut Vec<String>) {
    match (input, decoded) {
        (Value::Object(input), Value::Object(decoded)) => {
            for (key, value) in input {
                if value.is_null() {
                    continue;
                }
                path.push(Segment::Key(key.clone()));
                match decoded.get(key) {
                    None => found.push(render(path)),
                    Some(decoded) => unknown_fields(value, decoded, path, found),
                }
                path.pop();
            }
        }
        (Value::Array(input), Value::Array(decoded)) => {
            for (index, (value, decoded)) in input.iter().zip(decoded).enumerate() {
                path.push(Segment::Index(index));
                unknown_fields(value, decoded, path, found);
                path.pop();
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::apps::v1::Deployment;
    use k8s_openapi::api::core::v1::Pod;
    use serde_json::json;

    use super::*;
    use crate::kinds::find;

    fn deployments() -> &'static ResourceType {
        &find("apps", "v1", "deployments").expect("served").resource
    }

    #[test]
    fn finds_the_line_of_any_value() {
        let value = json!({"a": {"b": [1, {"c": "x", "d": []}], "e": "y"}, "f\"g": {}});
        let text = serde_json::to_string_pretty(&value).expect("serializable");
        let paths: Vec<String> = (1..=text.lines().count()).map(|line| render(&path_at_line(&text, line))).collect();
        let lines: Vec<&str> = text.lines().collect();
        for (line, path) in lines.iter().zip(&paths) {
            if line.contains("\"c\"") {
                assert_eq!(path, "a.b[1].c");
            }
            if line.trim() == "1," {
                assert_eq!(path, "a.b[0]");
            }
            if line.contains("\"e\"") {
                assert_eq!(path, "a.e");
            }
            if line.contains("f\\\"g") {
                assert_eq!(path, "f\"g");
            }
        }
    }

    #[test]
    fn a_wrong_type_names_the_field() {
        let object = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"replicas": "two", "selector": {}, "template": {}}});
        let err = decode::<Deployment>(deployments(), object, FieldValidation::Strict).err().expect("rejected");
        assert_eq!(err.code, 400);
        assert_eq!(
            err.message,
            "Deployment in version \"v1\" cannot be handled as a Deployment: spec.replicas: invalid type: string \"two\", expected i32"
        );
    }

    #[test]
    fn required_fields_decode_as_zero_values() {
        // As Go leaves them: validation, not decoding, reports what is missing.
        let object = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
            "spec": {"containers": [{"image": "x", "ports": [{"name": "http"}]}]}});
        let pods = find("", "v1", "pods").expect("served");
        let decoded = decode::<Pod>(pods, object, FieldValidation::Strict).expect("decodes");
        let spec = decoded.value.spec.expect("spec");
        assert_eq!(spec.containers[0].name, "");
        assert_eq!(spec.containers[0].ports.as_ref().map(|ports| ports[0].container_port), Some(0));
        assert_eq!(decoded.input.pointer("/spec/containers/0/name"), None);
    }

    #[test]
    fn unknown_fields_follow_field_validation() {
        let object = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "bogus": null},
            "spec": {"foo": 1, "selector": {}, "template": {"spec": {"containers": [{"name": "a", "colour": "red"}]}}}});
        let strict = decode::<Deployment>(deployments(), object.clone(), FieldValidation::Strict).err().expect("rejected");
        assert_eq!(strict.code, 400);
        assert_eq!(
            strict.message,
            "Deployment in version \"v1\" cannot be handled as a Deployment: strict decoding error: unknown field \"spec.foo\", unknown field \"spec.template.spec.containers[0].colour\""
        );
        let warned = decode::<Deployment>(deployments(), object.clone(), FieldValidation::Warn).expect("decodes");
        assert_eq!(
            warned.warnings,
            vec!["unknown field \"spec.foo\"".to_string(), "unknown field \"spec.template.spec.containers[0].colour\"".to_string()]
        );
        let ignored = decode::<Deployment>(deployments(), object, FieldValidation::Ignore).expect("decodes");
        assert!(ignored.warnings.is_empty());
    }

    #[test]
    fn nulls_mean_unset() {
        let object = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "labels": null},
            "spec": {"replicas": null, "selector": {"matchLabels": {"a": "b"}}, "template": {"metadata": null}}});
        let decoded = decode::<Deployment>(deployments(), object, FieldValidation::Strict).expect("decodes");
        assert_eq!(decoded.value.spec.and_then(|spec| spec.replicas), None);
    }

    #[test]
    fn metadata_of_the_wrong_type_is_refused_in_gos_words() {
        let configmaps = find("", "v1", "configmaps").expect("served");
        let prefix = "ConfigMap in version \"v1\" cannot be handled as a ConfigMap: json: cannot unmarshal";
        for (metadata, expected) in [
            (json!({"name": 7}), "number into Go struct field ObjectMeta.metadata.name of type string"),
            (json!({"generation": 9223372036854775808u64}), "number 9223372036854775808 into Go struct field ObjectMeta.metadata.generation of type int64"),
            (json!({"generation": 1.5}), "number 1.5 into Go struct field ObjectMeta.metadata.generation of type int64"),
            (json!({"generation": "1"}), "string into Go struct field ObjectMeta.metadata.generation of type int64"),
            (json!({"uid": true}), "bool into Go struct field ObjectMeta.metadata.uid of type types.UID"),
            (json!({"labels": ["a"]}), "array into Go struct field ObjectMeta.metadata.labels of type map[string]string"),
            (json!({"labels": {"app": 1}}), "number into Go struct field ObjectMeta.metadata.labels.app of type string"),
            (json!({"finalizers": "a"}), "string into Go struct field ObjectMeta.metadata.finalizers of type []string"),
            (json!({"finalizers": [{}]}), "object into Go struct field ObjectMeta.metadata.finalizers of type string"),
            (json!({"ownerReferences": [1]}), "number into Go struct field ObjectMeta.metadata.ownerReferences of type v1.OwnerReference"),
            (json!({"creationTimestamp": 5}), "number into Go value of type string"),
        ] {
            let err = check_metadata(configmaps, &json!({"metadata": metadata})).expect_err("wrong type");
            assert_eq!((err.code, err.message.clone()), (400, format!("{prefix} {expected}")), "{metadata}");
        }
        let err = check_metadata(configmaps, &json!({"metadata": "x"})).expect_err("wrong type");
        assert_eq!(err.message, format!("{prefix} string into Go struct field ConfigMap.metadata of type v1.ObjectMeta"));
        let fine = json!({"metadata": {"name": "a", "generation": 9223372036854775807i64, "labels": {"a": "b", "c": null}, "finalizers": null, "managedFields": [{}]}});
        assert!(check_metadata(configmaps, &fine).is_ok());
    }

    #[test]
    fn duplicate_fields_follow_field_validation() {
        let configmaps = find("", "v1", "configmaps").expect("served");
        let duplicates = vec!["data.x".to_string(), "metadata.name".to_string()];
        let err = duplicate_fields(configmaps, &duplicates, FieldValidation::Strict).expect_err("strict");
        assert_eq!(
            (err.code, err.message),
            (400, "ConfigMap in version \"v1\" cannot be handled as a ConfigMap: strict decoding error: duplicate field \"data.x\", duplicate field \"metadata.name\"".to_string())
        );
        let warnings = duplicate_fields(configmaps, &duplicates, FieldValidation::Warn).expect("warn");
        assert_eq!(warnings, vec!["duplicate field \"data.x\"", "duplicate field \"metadata.name\""]);
        assert!(duplicate_fields(configmaps, &duplicates, FieldValidation::Ignore).expect("ignore").is_empty());
        assert!(duplicate_fields(configmaps, &[], FieldValidation::Strict).expect("none").is_empty());
    }

    #[test]
    fn not_an_object() {
        let err = decode::<Deployment>(deployments(), json!([1]), FieldValidation::Strict).err().expect("rejected");
        assert_eq!(err.code, 400);
    }
}
