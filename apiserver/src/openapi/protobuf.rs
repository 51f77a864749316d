//! `/openapi/v2` in protobuf, the form client-go asks for (`Accept:
//! application/com.github.proto-openapi.spec.v2@v1.0+protobuf`) when kubectl validates on the
//! client: a List's items, and kinds without a PATCH to find `fieldValidation` on. The messages
//! are gnostic's `openapi.v2` ones (OpenAPIv2.proto); field numbers below are theirs. Values
//! gnostic keeps as YAML (`Any.yaml`: vendor extensions, defaults, enums) are written as JSON,
//! which is YAML too, and which kube-openapi's readers parse as such.

use serde_json::{Map, Value};

pub(crate) use crate::protobuf::Writer as Message;

fn text(value: &Value) -> &str {
    value.as_str().unwrap_or_default()
}

/// `Any { yaml }`.
fn any(value: &Value) -> Message {
    let mut any = Message::default();
    any.string(2, &value.to_string());
    any
}

/// `NamedAny { name, value: Any }`, how gnostic keeps an `x-` field.
fn vendor_extension(name: &str, value: &Value) -> Message {
    let mut named = Message::default();
    named.string(1, name);
    named.message(2, any(value));
    named
}

/// `Schema`.
pub(crate) fn schema(schema: &Value) -> Message {
    let mut message = Message::default();
    let Some(map) = schema.as_object() else { return message };
    for (key, value) in map {
        match key.as_str() {
            "$ref" => message.string(1, text(value)),
            "format" => message.string(2, text(value)),
            "title" => message.string(3, text(value)),
            "description" => message.string(4, text(value)),
            "default" => message.message(5, any(value)),
            "multipleOf" => message.double(6, value.as_f64().unwrap_or_default()),
            "maximum" => message.double(7, value.as_f64().unwrap_or_default()),
            "exclusiveMaximum" => message.boolean(8, value.as_bool().unwrap_or_default()),
            "minimum" => message.double(9, value.as_f64().unwrap_or_default()),
            "exclusiveMinimum" => message.boolean(10, value.as_bool().unwrap_or_default()),
            "maxLength" => message.int64(11, value.as_i64().unwrap_or_default()),
            "minLength" => message.int64(12, value.as_i64().unwrap_or_default()),
            "pattern" => message.string(13, text(value)),
            "maxItems" => message.int64(14, value.as_i64().unwrap_or_default()),
            "minItems" => message.int64(15, value.as_i64().unwrap_or_default()),
            "uniqueItems" => message.boolean(16, value.as_bool().unwrap_or_default()),
            "maxProperties" => message.int64(17, value.as_i64().unwrap_or_default()),
            "minProperties" => message.int64(18, value.as_i64().unwrap_or_default()),
            "required" => value.as_array().into_iter().flatten().for_each(|name| message.string(19, text(name))),
            "enum" => value.as_array().into_iter().flatten().for_each(|item| message.message(20, any(item))),
            "additionalProperties" => {
                // `AdditionalPropertiesItem`: a schema, or a boolean.
                let mut item = Message::default();
                match value {
                    Value::Bool(allowed) => {
                        item.tag(2, 0);
                        item.varint(u64::from(*allowed));
                    }
                    other => item.message(1, self::schema(other)),
                }
                message.message(21, item);
            }
            "type" => {
                let mut types = Message::default();
                match value {
                    Value::Array(names) => names.iter().for_each(|name| types.string(1, text(name))),
                    name => types.string(1, text(name)),
                }
                message.message(22, types);
            }
            "items" => {
                let mut items = Message::default();
                match value {
                    Value::Array(schemas) => schemas.iter().for_each(|item| items.message(1, self::schema(item))),
                    item => items.message(1, self::schema(item)),
                }
                message.message(23, items);
            }
            "allOf" => value.as_array().into_iter().flatten().for_each(|item| message.message(24, self::schema(item))),
            "properties" => {
                let mut properties = Message::default();
                for (name, property) in value.as_object().into_iter().flatten() {
                    properties.message(1, named_schema(name, property));
                }
                message.message(25, properties);
            }
            "discriminator" => message.string(26, text(value)),
            "readOnly" => message.boolean(27, value.as_bool().unwrap_or_default()),
            "example" => message.message(30, any(value)),
            name if name.starts_with("x-") => message.message(31, vendor_extension(name, value)),
            // OpenAPI 3 only (`nullable`): Swagger 2.0 has no field for it.
            _ => {}
        }
    }
    message
}

/// `NamedSchema { name, value }`, an entry of `definitions` or `properties`.
pub(crate) fn named_schema(name: &str, value: &Value) -> Message {
    let mut named = Message::default();
    named.string(1, name);
    named.message(2, schema(value));
    named
}

/// `ParametersItem { parameter: Parameter { body_parameter | non_body_parameter } }`.
fn parameter(parameter: &Value) -> Message {
    let field = |name: &str| text(&parameter[name]).to_string();
    let required = parameter["required"].as_bool().unwrap_or_default();
    let mut inner = Message::default();
    let location = field("in");
    let choice = if location == "body" {
        // BodyParameter: name 2, in 3, required 4, schema 5.
        inner.string(2, &field("name"));
        inner.string(3, &location);
        inner.boolean(4, required);
        inner.message(5, schema(&parameter["schema"]));
        1
    } else {
        // Query (3) and path (4) sub-schemas: required 1, in 2, name 4, then type and
        // uniqueItems at the query one's numbers or the path one's.
        let (sub, type_field, unique_field) = if location == "path" { (4, 5, 19) } else { (3, 6, 20) };
        let mut sub_schema = Message::default();
        sub_schema.boolean(1, required);
        sub_schema.string(2, &location);
        sub_schema.string(4, &field("name"));
        sub_schema.string(type_field, &field("type"));
        sub_schema.boolean(unique_field, parameter["uniqueItems"].as_bool().unwrap_or_default());
        inner.message(sub, sub_schema);
        2
    };
    let mut parameter = Message::default();
    parameter.message(choice, inner);
    let mut item = Message::default();
    item.message(1, parameter);
    item
}

/// `Operation`.
fn operation(operation: &Map<String, Value>) -> Message {
    let mut message = Message::default();
    let strings = |value: Option<&Value>| value.and_then(Value::as_array).into_iter().flatten().map(text).map(str::to_string).collect::<Vec<_>>();
    message.string(5, operation.get("operationId").map(text).unwrap_or_default());
    strings(operation.get("produces")).iter().for_each(|media| message.string(6, media));
    strings(operation.get("consumes")).iter().for_each(|media| message.string(7, media));
    for item in operation.get("parameters").and_then(Value::as_array).into_iter().flatten() {
        message.message(8, parameter(item));
    }
    let mut responses = Message::default();
    for (code, answer) in operation.get("responses").and_then(Value::as_object).into_iter().flatten() {
        // NamedResponseValue { name, value: ResponseValue { response: Response } }.
        let mut response = Message::default();
        response.string(1, text(&answer["description"]));
        if answer.get("schema").is_some() {
            let mut schema_item = Message::default();
            schema_item.message(1, schema(&answer["schema"]));
            response.message(2, schema_item);
        }
        let mut value = Message::default();
        value.message(1, response);
        let mut named = Message::default();
        named.string(1, code);
        named.message(2, value);
        responses.message(1, named);
    }
    message.message(9, responses);
    strings(operation.get("schemes")).iter().for_each(|scheme| message.string(10, scheme));
    for (name, value) in operation.iter().filter(|(name, _)| name.starts_with("x-")) {
        message.message(13, vendor_extension(name, value));
    }
    message
}

/// `Paths { path: [NamedPathItem { name, value: PathItem }] }`.
pub(crate) fn paths(paths: &Map<String, Value>) -> Message {
    let mut message = Message::default();
    for (path, item) in paths {
        let mut path_item = Message::default();
        for (method, field) in [("get", 2), ("put", 3), ("post", 4), ("delete", 5), ("patch", 8)] {
            if let Some(described) = item.get(method).and_then(Value::as_object) {
                path_item.message(field, operation(described));
            }
        }
        for shared in item.get("parameters").and_then(Value::as_array).into_iter().flatten() {
            path_item.message(9, parameter(shared));
        }
        let mut named = Message::default();
        named.string(1, path);
        named.message(2, path_item);
        message.message(2, named);
    }
    message
}

/// `Info { title, version }`.
pub(crate) fn info(title: &str, version: &str) -> Message {
    let mut info = Message::default();
    info.string(1, title);
    info.string(2, version);
    info
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn varints_and_strings_are_written_as_protobuf_does() {
        let mut message = Message::default();
        message.string(1, "2.0");
        message.int64(11, 300);
        message.int64(12, -1);
        assert_eq!(message.into_bytes(), [&[0x0a, 3, b'2', b'.', b'0', 0x58, 0xac, 0x02, 0x60][..], &[0xff; 9], &[0x01]].concat());
    }

    #[test]
    fn a_schema_keeps_its_references_types_and_extensions() {
        let written = schema(&json!({"required": ["a"], "type": "object", "x-kubernetes-group-version-kind": [{"group": "", "kind": "Pod", "version": "v1"}]})).into_bytes();
        let extension = br#"[{"group":"","kind":"Pod","version":"v1"}]"#;
        let mut expected = vec![0x9a, 0x01, 1, b'a', 0xb2, 0x01, 8, 0x0a, 6];
        expected.extend_from_slice(b"object");
        // field 31 (NamedAny): name, then value Any { yaml }.
        let name = b"x-kubernetes-group-version-kind";
        let any_len = 2 + extension.len();
        let named_len = 2 + name.len() + 2 + any_len;
        expected.extend_from_slice(&[0xfa, 0x01, named_len as u8, 0x0a, name.len() as u8]);
        expected.extend_from_slice(name);
        expected.extend_from_slice(&[0x12, any_len as u8, 0x12, extension.len() as u8]);
        expected.extend_from_slice(extension);
        assert_eq!(written, expected);
    }
}
