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

#[derive(Clone, Debug, PartialEq, Eq)]
enum Segment {
    Key(String),
    Index(usize),
}

fn render(path: &[Segment]) -> String {
    let mut text = String::new();
    for segment in path {
        match segment {
            Segment::Key(key) => {
                if !text.is_empty() {
                    text.push('.');
                }
                text.push_str(key);
            }
            Segment::Index(index) => text.push_str(&format!("[{index}]")),
        }
    }
    text
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
    use crate::resources::find;

    fn deployments() -> &'static ResourceType {
        find("apps", "v1", "deployments").expect("served")
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
    fn not_an_object() {
        let err = decode::<Deployment>(deployments(), json!([1]), FieldValidation::Strict).err().expect("rejected");
        assert_eq!(err.code, 400);
    }
}
