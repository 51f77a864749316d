//! Request bodies: JSON, YAML or Kubernetes protobuf, read into the object's JSON through one
//! decoder configuration ([`crate::json`]: one depth limit, YAML aliases bounded by bytes,
//! duplicate keys found), with the errors kube-apiserver gives for the wrong media type or
//! malformed content.

use axum::body::Bytes;
use axum::http::{HeaderMap, header};
use serde_json::Value;

use crate::errors::ApiError;
use crate::json::{self, DocumentError};
use crate::protobuf;

/// What kube-apiserver says before every reason a body cannot be read.
const UNDECODABLE: &str = "the object provided is unrecognized or couldn't be decoded";

/// A request body read into the object's JSON.
#[derive(Debug)]
pub struct Body {
    pub object: Value,
    /// Keys that occurred twice in one object (`metadata.labels.app`), which `fieldValidation`
    /// refuses or warns about; the last occurrence is the one kept.
    pub duplicates: Vec<String>,
}

/// Parses a request body into the object's JSON: JSON as most clients send it, YAML, or
/// Kubernetes' protobuf as kubectl's typed commands (`create namespace`, `create configmap`,
/// ...) send it.
pub fn decode(headers: &HeaderMap, body: &Bytes) -> Result<Body, ApiError> {
    const ACCEPTED: &[&str] = &["application/json", "application/yaml", protobuf::CONTENT_TYPE];
    let content_type = content_type(headers);
    match content_type.as_str() {
        "" | "application/json" | "*/*" => parse_json_body(body),
        "application/yaml" => parse_yaml(body),
        protobuf::CONTENT_TYPE => {
            let object = protobuf::decode(body).map_err(|err| match err {
                protobuf::ProtobufError::UnsupportedKind { .. } | protobuf::ProtobufError::UnsupportedContentEncoding(_) => {
                    ApiError::unsupported_media_type(&ACCEPTED[..1])
                }
                other => ApiError::bad_request(format!("{UNDECODABLE}: {other}")),
            })?;
            // Protobuf messages nest a bounded number of levels, but the JSON they carry
            // (managedFields' fieldsV1, RawExtension) does not.
            json::check_depth(&object).map_err(|err| ApiError::bad_request(format!("{UNDECODABLE}: {err}")))?;
            // Protobuf has no duplicate keys: a repeated field is a list, a message repeated merges.
            Ok(Body { object, duplicates: Vec::new() })
        }
        _ => Err(ApiError::unsupported_media_type(ACCEPTED)),
    }
}

/// The object of a request body, for the requests that do not report duplicate keys
/// (subresources, DeleteOptions, reviews).
pub fn json_body(headers: &HeaderMap, body: &Bytes) -> Result<Value, ApiError> {
    decode(headers, body).map(|body| body.object)
}

/// A JSON body, which must be an object.
pub fn parse_json(body: &Bytes) -> Result<Value, ApiError> {
    parse_json_body(body).map(|body| body.object)
}

fn parse_json_body(body: &Bytes) -> Result<Body, ApiError> {
    if body.is_empty() {
        return Err(ApiError::bad_request("the request body is empty: an object is required"));
    }
    match json::from_json(body) {
        Ok(json::Document { value: value @ Value::Object(_), duplicates }) => Ok(Body { object: value, duplicates }),
        Ok(other) => Err(ApiError::bad_request(format!("{UNDECODABLE}: expected a JSON object, got {}", json_type(&other.value)))),
        Err(err) => Err(ApiError::bad_request(format!("{UNDECODABLE}: {err}"))),
    }
}

/// One YAML document as the object's JSON, as kube-apiserver accepts `application/yaml` bodies.
fn parse_yaml(body: &Bytes) -> Result<Body, ApiError> {
    match json::from_yaml(body) {
        Ok(json::Document { value: value @ Value::Object(_), duplicates }) => Ok(Body { object: value, duplicates }),
        Ok(other) => Err(ApiError::bad_request(format!("{UNDECODABLE}: expected a YAML mapping, got {}", json_type(&other.value)))),
        Err(err @ DocumentError::TooDeep { .. }) => Err(ApiError::bad_request(format!("{UNDECODABLE}: {err}"))),
        Err(err) => Err(ApiError::bad_request(format!("{UNDECODABLE}: error converting YAML to JSON: {err}"))),
    }
}

/// A patch: any JSON document (a JSON patch is an array), within the same limits.
pub fn parse_patch(body: &Bytes) -> Result<json::Document, ApiError> {
    if body.is_empty() {
        return Err(ApiError::bad_request("the request body is empty: a patch is required"));
    }
    json::from_json(body).map_err(|err| ApiError::bad_request(format!("the patch is not valid JSON: {err}")))
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The media type of the body, lower-cased, without parameters.
pub fn content_type(headers: &HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .map(|value| value.trim().to_ascii_lowercase())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn typed(content_type: &'static str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        headers
    }

    /// `{"metadata": {"managedFields": [{"fieldsV1": {"f:a": {"f:a": ... {}}}}]}}`, the whole
    /// object nesting `levels` deep.
    fn deep_configmap(levels: usize) -> String {
        let inner = levels - 4;
        let fields = format!("{}{{}}{}", "{\"f:a\":".repeat(inner - 1), "}".repeat(inner - 1));
        format!("{{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{{\"name\":\"deep\",\"managedFields\":[{{\"manager\":\"m\",\"fieldsV1\":{fields}}}]}}}}")
    }

    #[test]
    fn every_format_has_the_same_depth_limit() {
        for (content_type, body) in [("application/json", deep_configmap(json::MAX_DEPTH)), ("application/yaml", deep_configmap(json::MAX_DEPTH))] {
            let decoded = decode(&typed(content_type), &Bytes::from(body)).expect("at the limit");
            assert_eq!(json::depth(&decoded.object), json::MAX_DEPTH);
        }
        for content_type in ["application/json", "application/yaml"] {
            let err = decode(&typed(content_type), &Bytes::from(deep_configmap(json::MAX_DEPTH + 1))).unwrap_err();
            assert_eq!(err.code, 400);
            assert!(err.message.contains("nests deeper than 100 levels (at metadata.managedFields[0].fieldsV1.f:a.f:a"), "{content_type}: {}", err.message);
        }
    }

    /// One length-delimited protobuf field.
    fn field(number: u64, bytes: &[u8]) -> Vec<u8> {
        fn varint(mut value: u64, out: &mut Vec<u8>) {
            while value >= 0x80 {
                out.push((value as u8) | 0x80);
                value >>= 7;
            }
            out.push(value as u8);
        }
        let mut out = Vec::new();
        varint((number << 3) | 2, &mut out);
        varint(bytes.len() as u64, &mut out);
        out.extend_from_slice(bytes);
        out
    }

    /// kubectl's protobuf ConfigMap whose `managedFields[0].fieldsV1` holds JSON nesting
    /// `levels` deep: the whole object nests 4 more.
    fn protobuf_configmap(levels: usize) -> Bytes {
        let fields = format!("{}{{}}{}", "{\"f:a\":".repeat(levels - 1), "}".repeat(levels - 1));
        let entry = [field(1, b"m"), field(7, &field(1, fields.as_bytes()))].concat();
        let metadata = [field(1, b"deep"), field(17, &entry)].concat();
        let type_meta = [field(1, b"v1"), field(2, b"ConfigMap")].concat();
        let unknown = [field(1, &type_meta), field(2, &field(1, &metadata))].concat();
        Bytes::from([b"k8s\0".as_slice(), &unknown].concat())
    }

    #[test]
    fn protobuf_bodies_have_the_same_depth_limit() {
        let headers = typed(protobuf::CONTENT_TYPE);
        let decoded = decode(&headers, &protobuf_configmap(json::MAX_DEPTH - 4)).expect("at the limit");
        assert_eq!(json::depth(&decoded.object), json::MAX_DEPTH);
        assert_eq!(decoded.object["metadata"]["managedFields"][0]["manager"], "m");
        // 126 levels in fieldsV1 is what the protobuf decoder's JSON parser let through before.
        for levels in [json::MAX_DEPTH - 3, 126] {
            let err = decode(&headers, &protobuf_configmap(levels)).unwrap_err();
            assert_eq!(err.code, 400);
            assert!(err.message.contains("nests deeper than 100 levels (at metadata.managedFields[0].fieldsV1.f:a"), "{}", err.message);
        }
    }

    #[test]
    fn yaml_alias_bombs_are_refused_with_400() {
        let scalar = "x".repeat(256 * 1024);
        let aliases = "- *a\n".repeat(400);
        let bomb = format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bomb\nbig: &a {scalar}\nlist:\n{aliases}");
        let err = decode(&typed("application/yaml"), &Bytes::from(bomb)).unwrap_err();
        assert_eq!(err.code, 400);
        assert!(err.message.contains("error converting YAML to JSON: yaml: document contains excessive aliasing"), "{}", err.message);
    }

    #[test]
    fn duplicate_keys_are_reported_in_json_and_yaml() {
        let json_body = Bytes::from_static(br#"{"metadata": {"name": "a", "name": "b"}, "data": {"x": "1", "x": "2"}}"#);
        let decoded = decode(&typed("application/json"), &json_body).expect("parses");
        assert_eq!(decoded.duplicates, vec!["metadata.name", "data.x"]);
        assert_eq!(decoded.object["metadata"]["name"], "b");
        let yaml_body = Bytes::from_static(b"metadata:\n  name: a\n  name: b\n");
        assert_eq!(decode(&typed("application/yaml"), &yaml_body).expect("parses").duplicates, vec!["metadata.name"]);
    }

    #[test]
    fn bodies_must_be_objects() {
        for (content_type, body, expected) in [
            ("application/json", "[1]", "expected a JSON object, got an array"),
            ("application/json", "", "the request body is empty"),
            ("application/yaml", "- 1", "expected a YAML mapping, got an array"),
            ("text/plain", "{}", "the body of the request was in an unknown format"),
        ] {
            let err = decode(&typed(content_type), &Bytes::from(body)).unwrap_err();
            assert!(err.message.contains(expected), "{content_type} {body:?}: {}", err.message);
        }
    }
}
