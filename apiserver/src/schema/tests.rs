//! Table rows with the messages kube-apiserver 1.33 gives (most from apiextensions-apiserver's
//! own tests: pkg/apiserver/validation/validation_test.go, pkg/apiserver/schema/
//! validation_test.go, listtype/validation_test.go, pruning/algorithm_test.go,
//! defaulting/algorithm_test.go), and a check that random and deep inputs never panic.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{JSONSchemaProps, JSONSchemaPropsOrArray};
use serde_json::{Value, json};

use super::*;
use crate::cause::Cause;

const ROOT: &str = "spec.validation.openAPIV3Schema";

fn props(schema: Value) -> JSONSchemaProps {
    serde_json::from_value(schema).expect("test schemas are well-formed")
}

fn schema_of(schema: Value) -> Structural {
    match check(&props(schema), ROOT) {
        Ok(structural) => structural,
        Err(causes) => panic!("test schema refused: {}", rendered(&causes).join("\n")),
    }
}

fn rendered(causes: &[Cause]) -> Vec<String> {
    causes.iter().map(|cause| format!("{}: {}", cause.field, cause.message)).collect()
}

fn sorted(mut lines: Vec<String>) -> Vec<String> {
    lines.sort();
    lines
}

#[test]
fn objects_are_validated_with_kubes_paths_and_words() {
    let rows: Vec<(Value, Value, Vec<&str>)> = vec![
        (json!({"type": "object", "properties": {"field": {"type": "object"}}}), json!({"field": "foo"}),
            vec![r#"field: Invalid value: "string": field in body must be of type object: "string""#]),
        (json!({"type": "object", "properties": {"field": {"type": "object"}}}), json!({"field": 42}),
            vec![r#"field: Invalid value: "integer": field in body must be of type object: "integer""#]),
        (json!({"type": "object", "properties": {"field": {"type": "object"}}}), json!({"field": 1.2}),
            vec![r#"field: Invalid value: "number": field in body must be of type object: "number""#]),
        (json!({"type": "object", "properties": {"field": {"type": "object"}}}), json!({"field": null}),
            vec![r#"field: Invalid value: "null": field in body must be of type object: "null""#]),
        (json!({"type": "object", "properties": {"field": {"type": "object", "nullable": true}}}), json!({"field": null}), vec![]),
        (json!({"type": "object", "properties": {"field": {"x-kubernetes-int-or-string": true}}}), json!({"field": true}),
            vec![r#"field: Invalid value: "boolean": field in body must be of type integer,string: "boolean""#]),
        (json!({"type": "object", "properties": {"field": {"x-kubernetes-int-or-string": true}}}), json!({"field": "80%"}), vec![]),
        (json!({"type": "object", "properties": {"field": {"x-kubernetes-int-or-string": true, "nullable": true,
            "anyOf": [{"type": "integer"}, {"type": "string"}]}}}), json!({"field": true}),
            vec![
                r#"<nil>: Invalid value: "": "field" must validate at least one schema (anyOf)"#,
                r#"field: Invalid value: "boolean": field in body must be of type integer,string: "boolean""#,
                r#"field: Invalid value: "boolean": field in body must be of type integer: "boolean""#,
            ]),
        (json!({"type": "object", "properties": {"field": {"type": "object", "required": ["nestedint", "nestedstring"], "properties": {
            "nestedint": {"type": "integer", "enum": [1, 2]}, "nestedstring": {"type": "string", "enum": ["a", "b"]}}}}}),
            json!({"field": {}}), vec!["field.nestedint: Required value", "field.nestedstring: Required value"]),
        (json!({"type": "object", "properties": {"field": {"type": "object", "required": ["nestedint", "nestedstring"], "properties": {
            "nestedint": {"type": "integer", "enum": [1, 2]}, "nestedstring": {"type": "string", "enum": ["a", "b"]}}}}}),
            json!({"field": {"nestedint": "x", "nestedstring": true}}),
            vec![
                r#"field.nestedint: Invalid value: "string": field.nestedint in body must be of type integer: "string""#,
                r#"field.nestedint: Unsupported value: "x": supported values: "1", "2""#,
                r#"field.nestedstring: Invalid value: "boolean": field.nestedstring in body must be of type string: "boolean""#,
                r#"field.nestedstring: Unsupported value: true: supported values: "a", "b""#,
            ]),
        (json!({"type": "object", "required": ["test"]}), json!({}), vec!["test: Required value"]),
        (json!({"type": "object", "properties": {"fieldX": {"type": "object", "maxProperties": 2}}}), json!({"fieldX": {"a": true, "b": true, "c": true}}),
            vec!["fieldX: Too many: 3: must have at most 2 items"]),
        (json!({"type": "object", "properties": {"fieldX": {"type": "array", "items": {"type": "string"}, "maxItems": 2}}}), json!({"fieldX": ["a", "b", "c"]}),
            vec!["fieldX: Too many: 3: must have at most 2 items"]),
        (json!({"type": "object", "properties": {"fieldX": {"type": "string", "maxLength": 2}}}), json!({"fieldX": "abc"}),
            vec!["fieldX: Too long: may not be more than 2 bytes"]),
        // Lengths count characters: two of them here, four bytes.
        (json!({"type": "object", "properties": {"fieldX": {"type": "string", "maxLength": 2}}}), json!({"fieldX": "éé"}), vec![]),
        (json!({"type": "object", "properties": {"name": {"type": "string", "minLength": 3}}}), json!({"name": "ab"}),
            vec![r#"name: Invalid value: "ab": name in body should be at least 3 chars long"#]),
        (json!({"type": "object", "properties": {"name": {"type": "string", "pattern": "^[a-z]+$"}}}), json!({"name": "A1"}),
            vec![r#"name: Invalid value: "A1": name in body should match '^[a-z]+$'"#]),
        (json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {"replicas": {"type": "integer", "minimum": 1, "maximum": 10}}}}}),
            json!({"spec": {"replicas": 0}}), vec!["spec.replicas: Invalid value: 0: spec.replicas in body should be greater than or equal to 1"]),
        (json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {"replicas": {"type": "integer", "minimum": 1, "maximum": 10}}}}}),
            json!({"spec": {"replicas": 11}}), vec!["spec.replicas: Invalid value: 11: spec.replicas in body should be less than or equal to 10"]),
        (json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {"replicas": {"type": "integer"}}}}}),
            json!({"spec": {"replicas": "string"}}), vec![r#"spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer: "string""#]),
        // An integral float is an integer to kube.
        (json!({"type": "object", "properties": {"count": {"type": "integer"}}}), json!({"count": 3.0}), vec![]),
        (json!({"type": "object", "properties": {"ratio": {"type": "number", "exclusiveMaximum": true, "maximum": 1}}}), json!({"ratio": 1.0}),
            vec!["ratio: Invalid value: 1: ratio in body should be less than 1"]),
        (json!({"type": "object", "properties": {"ratio": {"type": "number", "exclusiveMinimum": true, "minimum": 0.5}}}), json!({"ratio": 0.5}),
            vec!["ratio: Invalid value: 0.5: ratio in body should be greater than 0.5"]),
        (json!({"type": "object", "properties": {"step": {"type": "integer", "multipleOf": 5}}}), json!({"step": 7}),
            vec!["step: Invalid value: 7: step in body should be a multiple of 5"]),
        (json!({"type": "object", "properties": {"step": {"type": "number", "multipleOf": 0.5}}}), json!({"step": 0.75}),
            vec!["step: Invalid value: 0.75: step in body should be a multiple of 0.5"]),
        (json!({"type": "object", "properties": {"list": {"type": "array", "items": {"type": "string"}, "minItems": 2}}}), json!({"list": ["a"]}),
            vec!["list: Invalid value: 1: list in body should have at least 2 items"]),
        (json!({"type": "object", "properties": {"map": {"type": "object", "minProperties": 1}}}), json!({"map": {}}),
            vec!["map: Invalid value: 0: map in body should have at least 1 properties"]),
        (json!({"type": "object", "properties": {"ports": {"type": "array", "items": {"type": "object", "properties": {"name": {"type": "string"}}}}}}),
            json!({"ports": [{"name": 1}]}), vec![r#"ports[0].name: Invalid value: "integer": ports[0].name in body must be of type string: "integer""#]),
        // additionalProperties values are named with a dot by kube-openapi.
        (json!({"type": "object", "properties": {"labels": {"type": "object", "additionalProperties": {"type": "string"}}}}),
            json!({"labels": {"foo": 1}}), vec![r#"labels.foo: Invalid value: "integer": labels.foo in body must be of type string: "integer""#]),
        (json!({"type": "object", "properties": {"when": {"type": "string", "format": "date-time"}}}), json!({"when": "yesterday"}),
            vec![r#"when: Invalid value: "yesterday": when in body must be of type date-time: "yesterday""#]),
        (json!({"type": "object", "properties": {"id": {"type": "string", "format": "uuid"}}}), json!({"id": "123e4567-e89b-12d3-a456-426614174000"}), vec![]),
        // kube strips int32 and int64 from CRD schemas: no range check.
        (json!({"type": "object", "properties": {"small": {"type": "integer", "format": "int32"}}}), json!({"small": 9999999999_i64}), vec![]),
        (json!({"type": "object", "properties": {"kind": {"type": "string", "enum": ["A", "B"]}}}), json!({"kind": "C"}),
            vec![r#"kind: Unsupported value: "C": supported values: "A", "B""#]),
        (json!({"type": "object", "properties": {"free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}), json!({"free": {"any": [1, {"x": null}]}}), vec![]),
        (json!({"type": "object", "properties": {"item": {"type": "string", "allOf": [{"minLength": 2}, {"pattern": "^a"}]}}}), json!({"item": "b"}),
            vec![
                r#"item: Invalid value: "b": item in body should be at least 2 chars long"#,
                r#"item: Invalid value: "b": item in body should match '^a'"#,
                r#"<nil>: Invalid value: "": "item" must validate all the schemas (allOf). None validated"#,
            ]),
        (json!({"type": "object", "properties": {"item": {"type": "string", "not": {"pattern": "^a"}}}}), json!({"item": "abc"}),
            vec![r#"<nil>: Invalid value: "": "item" must not validate the schema (not)"#]),
        (json!({"type": "object", "properties": {"item": {"type": "string", "oneOf": [{"pattern": "^a"}, {"pattern": "c$"}]}}}), json!({"item": "abc"}),
            vec![r#"<nil>: Invalid value: "": "item" must validate one and only one schema (oneOf). Found 2 valid alternatives"#]),
    ];
    for (schema, object, want) in rows {
        let structural = schema_of(schema.clone());
        let got = sorted(rendered(&validate(&structural, &object)));
        let want = sorted(want.into_iter().map(String::from).collect());
        assert_eq!(got, want, "schema {schema}\nobject {object}");
    }
}

#[test]
fn list_sets_and_maps_refuse_duplicates_as_kube_does() {
    let set = json!({"type": "object", "properties": {"tags": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}}}});
    let map = json!({"type": "object", "properties": {"ports": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
        "items": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}, "port": {"type": "integer"}}}}}});
    let two_keys = json!({"type": "object", "properties": {"ports": {"type": "array", "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": ["port", "protocol"], "items": {"type": "object", "required": ["port", "protocol"],
        "properties": {"port": {"type": "integer"}, "protocol": {"type": "string"}}}}}});
    let rows: Vec<(&Value, Value, Vec<&str>)> = vec![
        (&set, json!({"tags": ["a", "b", "a", "a", "b"]}), vec![r#"tags[2]: Duplicate value: "a""#, r#"tags[4]: Duplicate value: "b""#]),
        (&set, json!({"tags": ["a", "b"]}), vec![]),
        (&map, json!({"ports": [{"name": "a", "port": 1}, {"name": "a", "port": 2}]}),
            vec![r#"ports[1]: Duplicate value: map[string]interface {}{"name":"a"}"#]),
        (&two_keys, json!({"ports": [{"port": 80, "protocol": "TCP"}, {"port": 80, "protocol": "UDP"}, {"port": 80, "protocol": "TCP"}]}),
            vec![r#"ports[2]: Duplicate value: map[string]interface {}{"port":80, "protocol":"TCP"}"#]),
    ];
    for (schema, object, want) in rows {
        let structural = schema_of(schema.clone());
        assert_eq!(rendered(&validate(&structural, &object)), want, "{object}");
    }
}

#[test]
fn embedded_resources_need_type_meta() {
    let schema = schema_of(json!({"type": "object", "properties": {"template": {"type": "object",
        "x-kubernetes-embedded-resource": true, "x-kubernetes-preserve-unknown-fields": true}}}));
    let rows = [
        (json!({"template": {}}), vec!["template.apiVersion: Required value: must not be empty", "template.kind: Required value: must not be empty"]),
        (json!({"template": {"apiVersion": "v1", "kind": "Pod"}}), vec![]),
        (json!({"template": {"apiVersion": 1, "kind": ""}}), vec![
            "template.apiVersion: Invalid value: 1: must be a string",
            r#"template.kind: Invalid value: "": must not be empty"#,
        ]),
    ];
    for (object, want) in rows {
        assert_eq!(sorted(rendered(&validate(&schema, &object))), sorted(want.into_iter().map(String::from).collect()), "{object}");
    }
}

#[test]
fn non_structural_schemas_are_refused_with_kubes_reasons() {
    let rows: Vec<(Value, Vec<&str>)> = vec![
        (json!({"type": "object", "properties": {"spec": {"properties": {"a": {"type": "string"}}}}}),
            vec!["spec.validation.openAPIV3Schema.properties[spec].type: Required value: must not be empty for specified object fields"]),
        (json!({"properties": {}}), vec!["spec.validation.openAPIV3Schema.type: Required value: must not be empty at the root"]),
        (json!({"type": "array", "items": {"type": "string"}}), vec![r#"spec.validation.openAPIV3Schema.type: Invalid value: "array": must be object at the root"#]),
        (json!({"type": "object", "properties": {"list": {"type": "array"}}}),
            vec!["spec.validation.openAPIV3Schema.properties[list].items: Required value: must be specified"]),
        (json!({"type": "object", "properties": {"list": {"type": "array", "items": {}}}}),
            vec!["spec.validation.openAPIV3Schema.properties[list].items.type: Required value: must not be empty for specified array items"]),
        (json!({"type": "object", "properties": {"a": {"$ref": "#/definitions/x"}}}),
            vec!["spec.validation.openAPIV3Schema.properties[a].$ref: Forbidden: $ref is not supported"]),
        (json!({"type": "object", "properties": {"a": {"type": "object", "properties": {"b": {"type": "string"}}, "additionalProperties": {"type": "string"}}}}),
            vec!["spec.validation.openAPIV3Schema.properties[a].additionalProperties: Forbidden: additionalProperties and properties are mutual exclusive"]),
        (json!({"type": "object", "properties": {"a": {"type": "object", "x-kubernetes-preserve-unknown-fields": false}}}),
            vec!["spec.validation.openAPIV3Schema.properties[a].x-kubernetes-preserve-unknown-fields: Invalid value: false: must be true or undefined"]),
        (json!({"type": "object", "properties": {"metadata": {"type": "object", "properties": {"name": {"type": "string"}, "labels": {"type": "object"}}}}}),
            vec!["spec.validation.openAPIV3Schema.properties[metadata]: Forbidden: must not specify anything other than name and generateName, but metadata is implicitly specified"]),
        (json!({"type": "object", "properties": {"metadata": {"type": "object", "properties": {"name": {"type": "string", "maxLength": 10}, "generateName": {"type": "string"}}}}}), vec![]),
        (json!({"type": "object", "additionalProperties": {"type": "string"}}),
            vec!["spec.validation.openAPIV3Schema.additionalProperties: Forbidden: must not be used at the root"]),
        (json!({"type": "object", "properties": {"a": {"type": "object", "anyOf": [{"type": "string", "properties": {"b": {"type": "string"}}}]}}}),
            vec![
                "spec.validation.openAPIV3Schema.properties[a].anyOf[0].properties[b].type: Forbidden: must be empty to be structural",
                "spec.validation.openAPIV3Schema.properties[a].anyOf[0].type: Forbidden: must be empty to be structural",
            ]),
        (json!({"type": "object", "anyOf": [{"properties": {"b": {"minLength": 1}}}]}),
            vec!["spec.validation.openAPIV3Schema.properties[b]: Required value: because it is defined in spec.validation.openAPIV3Schema.anyOf[0].properties[b]"]),
        (json!({"type": "object", "properties": {"port": {"x-kubernetes-int-or-string": true, "anyOf": [{"type": "integer"}, {"type": "string"}]}}}), vec![]),
        (json!({"type": "object", "properties": {"port": {"x-kubernetes-int-or-string": true, "x-kubernetes-preserve-unknown-fields": true}}}),
            vec!["spec.validation.openAPIV3Schema.properties[port].x-kubernetes-preserve-unknown-fields: Invalid value: true: must be false if x-kubernetes-int-or-string is true"]),
        (json!({"type": "object", "properties": {"e": {"type": "string", "x-kubernetes-embedded-resource": true}}}), vec![
            r#"spec.validation.openAPIV3Schema.properties[e].properties: Required value: must not be empty if x-kubernetes-embedded-resource is true without x-kubernetes-preserve-unknown-fields"#,
            r#"spec.validation.openAPIV3Schema.properties[e].type: Invalid value: "string": must be object if x-kubernetes-embedded-resource is true"#,
        ]),
        (json!({"type": "object", "properties": {"l": {"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "bag"}}}),
            vec![r#"spec.validation.openAPIV3Schema.properties[l].x-kubernetes-list-type: Unsupported value: "bag": supported values: "atomic", "set", "map""#]),
        (json!({"type": "object", "properties": {"l": {"type": "string", "x-kubernetes-list-type": "set"}}}),
            vec![r#"spec.validation.openAPIV3Schema.properties[l].type: Invalid value: "string": must be array if x-kubernetes-list-type is specified"#]),
        (json!({"type": "object", "properties": {"l": {"type": "array", "x-kubernetes-list-type": "map", "items": {"type": "object", "properties": {"a": {"type": "string"}}}}}}),
            vec!["spec.validation.openAPIV3Schema.properties[l].x-kubernetes-list-map-keys: Required value: must not be empty if x-kubernetes-list-type is map"]),
        (json!({"type": "object", "properties": {"l": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["b"],
            "items": {"type": "object", "properties": {"a": {"type": "string"}}}}}}),
            vec![r#"spec.validation.openAPIV3Schema.properties[l].x-kubernetes-list-map-keys: Invalid value: []string{"b"}: entries must all be names of item properties"#]),
        (json!({"type": "object", "properties": {"l": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["a"],
            "items": {"type": "object", "properties": {"a": {"type": "string"}}}}}}),
            vec!["spec.validation.openAPIV3Schema.properties[l].items.properties[a].default: Required value: this property is in x-kubernetes-list-map-keys, so it must have a default or be a required property"]),
        (json!({"type": "object", "properties": {"l": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "object"}}}}),
            vec![r#"spec.validation.openAPIV3Schema.properties[l].items.x-kubernetes-map-type: Invalid value: "null": must be atomic as item of a list with x-kubernetes-list-type=set"#]),
        (json!({"type": "object", "properties": {"m": {"type": "object", "x-kubernetes-map-type": "loose"}}}),
            vec![r#"spec.validation.openAPIV3Schema.properties[m].x-kubernetes-map-type: Unsupported value: "loose": supported values: "atomic", "granular""#]),
        (json!({"type": "object", "properties": {"s": {"type": "string", "pattern": "("}}}),
            vec![]),
        (json!({"type": "object", "properties": {"s": {"type": "array", "items": {"type": "string"}, "uniqueItems": true}}}),
            vec!["spec.validation.openAPIV3Schema.properties[s].uniqueItems: Forbidden: uniqueItems cannot be set to true since the runtime complexity becomes quadratic"]),
        (json!({"type": "object", "properties": {"s": {"type": "null"}}}), vec![
            r#"spec.validation.openAPIV3Schema.properties[s].type: Unsupported value: "null": supported values: "array", "boolean", "integer", "number", "object", "string""#,
            "spec.validation.openAPIV3Schema.properties[s].type: Forbidden: type cannot be set to null, use nullable as an alternative",
        ]),
        // kube leaves the default to the schema check, not the metadata restriction.
        (json!({"type": "object", "properties": {"metadata": {"type": "object", "default": {}}}}),
            vec!["spec.validation.openAPIV3Schema.properties[metadata].default: Forbidden: must not be set in top-level metadata"]),
        (json!({"type": "object", "x-kubernetes-validations": [{"rule": " "}, {"rule": "self.a > 0", "reason": "Because"}]}), vec![
            "spec.validation.openAPIV3Schema.x-kubernetes-validations[0].rule: Required value: rule is not specified",
            r#"spec.validation.openAPIV3Schema.x-kubernetes-validations[1].reason: Unsupported value: "Because": supported values: "FieldValueDuplicate", "FieldValueForbidden", "FieldValueInvalid", "FieldValueRequired""#,
        ]),
    ];
    for (schema, want) in rows {
        let got = match check(&props(schema.clone()), ROOT) {
            Ok(_) => Vec::new(),
            Err(causes) => rendered(&causes),
        };
        if schema.to_string().contains("\"pattern\":\"(\"") {
            // Go's and Rust's regex errors are worded differently; the field and the start agree.
            assert_eq!(got.len(), 1, "{got:?}");
            assert!(got[0].starts_with(r#"spec.validation.openAPIV3Schema.properties[s].pattern: Invalid value: "(": must be a valid regular expression, but isn't: "#), "{got:?}");
            continue;
        }
        assert_eq!(got, want, "{schema}");
    }
}

#[test]
fn defaults_must_be_pruned_and_valid() {
    let rows: Vec<(Value, Vec<&str>)> = vec![
        (json!({"type": "object", "properties": {"a": {"type": "string", "default": "x"}}}), vec![]),
        (json!({"type": "object", "properties": {"a": {"type": "integer", "default": "x"}}}),
            vec![r#"spec.validation.openAPIV3Schema.properties[a].default: Invalid value: "string":  in body must be of type integer: "string""#]),
        (json!({"type": "object", "properties": {"a": {"type": "object", "properties": {"b": {"type": "string"}}, "default": {"b": "x", "c": 1}}}}),
            vec![r#"spec.validation.openAPIV3Schema.properties[a].default: Invalid value: map[string]interface {}{"b":"x", "c":1}: must not have unknown fields"#]),
        (json!({"type": "object", "properties": {"a": {"type": "object", "properties": {"b": {"type": "integer", "minimum": 2}}, "default": {"b": 1}}}}),
            vec!["spec.validation.openAPIV3Schema.properties[a].default.b: Invalid value: 1: b in body should be greater than or equal to 2"]),
        (json!({"type": "object", "properties": {"e": {"type": "object", "x-kubernetes-embedded-resource": true, "x-kubernetes-preserve-unknown-fields": true, "default": {"kind": "Pod"}}}}),
            vec!["spec.validation.openAPIV3Schema.properties[e].default.apiVersion: Required value: must not be empty"]),
    ];
    for (schema, want) in rows {
        let got = match check(&props(schema.clone()), ROOT) {
            Ok(_) => Vec::new(),
            Err(causes) => rendered(&causes),
        };
        assert_eq!(got, want, "{schema}");
    }
}

#[test]
fn pruning_drops_unspecified_fields_and_names_them() {
    let rows: Vec<(Value, Value, Value, Vec<&str>)> = vec![
        (json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {"a": {"type": "string"}}}}}),
            json!({"apiVersion": "x/v1", "kind": "K", "metadata": {"name": "n"}, "spec": {"a": "1", "foo": 2}, "extra": true}),
            json!({"apiVersion": "x/v1", "kind": "K", "metadata": {"name": "n"}, "spec": {"a": "1"}}),
            vec!["extra", "spec.foo"]),
        (json!({"type": "object", "properties": {"list": {"type": "array", "items": {"type": "object", "properties": {"a": {"type": "string"}}}}}}),
            json!({"list": [{"a": "x", "b": 1}, {"c": 2}]}), json!({"list": [{"a": "x"}, {}]}), vec!["list[0].b", "list[1].c"]),
        (json!({"type": "object", "properties": {"free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true,
            "properties": {"known": {"type": "object", "properties": {"a": {"type": "string"}}}}}}}),
            json!({"free": {"any": {"deep": 1}, "known": {"a": "x", "b": 2}}}),
            json!({"free": {"any": {"deep": 1}, "known": {"a": "x"}}}), vec!["free.known.b"]),
        (json!({"type": "object", "properties": {"labels": {"type": "object", "additionalProperties": {"type": "object", "properties": {"a": {"type": "string"}}}}}}),
            json!({"labels": {"x": {"a": "1", "z": 2}}}), json!({"labels": {"x": {"a": "1"}}}), vec!["labels.x.z"]),
        (json!({"type": "object", "properties": {"e": {"type": "object", "x-kubernetes-embedded-resource": true, "properties": {"spec": {"type": "object"}}}}}),
            json!({"e": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"x": 1}, "status": {}}}),
            json!({"e": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {}}}), vec!["e.spec.x", "e.status"]),
        // Non-nullable nulls without a default go; nullable ones stay.
        (json!({"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "string", "nullable": true}}}),
            json!({"a": null, "b": null}), json!({"b": null}), vec![]),
    ];
    for (schema, mut object, want, removed) in rows {
        let structural = schema_of(schema.clone());
        let got = prune(&structural, &mut object);
        assert_eq!(object, want, "{schema}");
        assert_eq!(got, removed, "{schema}");
    }
}

#[test]
fn defaults_fill_absent_and_non_nullable_null_fields() {
    let rows: Vec<(Value, Value, Value)> = vec![
        (json!({"type": "object", "properties": {"a": {"type": "string", "default": "A"}, "b": {"type": "string", "default": "B", "nullable": true}}}),
            json!({"b": null}), json!({"a": "A", "b": null})),
        (json!({"type": "object", "properties": {"a": {"type": "string", "default": "A"}}}), json!({"a": null}), json!({"a": "A"})),
        (json!({"type": "object", "properties": {"spec": {"type": "object", "default": {}, "properties": {"replicas": {"type": "integer", "default": 1}}}}}),
            json!({}), json!({"spec": {"replicas": 1}})),
        (json!({"type": "object", "properties": {"list": {"type": "array", "items": {"type": "object", "default": {"x": 1},
            "properties": {"x": {"type": "integer"}, "y": {"type": "integer", "default": 2}}}}}}),
            json!({"list": [null, {"x": 5}]}), json!({"list": [{"x": 1, "y": 2}, {"x": 5, "y": 2}]})),
        (json!({"type": "object", "properties": {"m": {"type": "object", "additionalProperties": {"type": "object",
            "properties": {"z": {"type": "string", "default": "Z"}}}}}}),
            json!({"m": {"k": {}}}), json!({"m": {"k": {"z": "Z"}}})),
    ];
    for (schema, mut object, want) in rows {
        let structural = schema_of(schema.clone());
        default(&structural, &mut object);
        assert_eq!(object, want, "{schema}");
    }
}

#[test]
fn stored_defaults_are_pruned_on_load() {
    let mut structural = structural(&props(json!({"type": "object", "properties": {"a": {"type": "object",
        "properties": {"b": {"type": "string"}}, "default": {"b": "x", "c": 1}}}})), ROOT)
    .unwrap_or_else(|causes| panic!("{causes:?}"));
    prune_defaults(&mut structural);
    assert_eq!(structural.properties["a"].default, Some(json!({"b": "x"})));
}

/// A schema nested 10,000 levels deep ends in a cause, whether it arrives as JSON text (which
/// serde_json refuses past 128 levels) or is built in memory.
#[test]
fn deep_schemas_are_refused_not_overflowed() {
    let depth = 10_000;
    let text = format!("{}{{\"type\":\"string\"}}{}", "{\"type\":\"array\",\"items\":".repeat(depth), "}".repeat(depth));
    let decoded = serde_json::from_str::<JSONSchemaProps>(&text);
    assert!(decoded.is_err_and(|error| error.to_string().contains("recursion limit exceeded")));

    let mut schema = JSONSchemaProps { type_: Some("string".into()), ..JSONSchemaProps::default() };
    for _ in 0..depth {
        schema = JSONSchemaProps { type_: Some("array".into()), items: Some(JSONSchemaPropsOrArray::Schema(Box::new(schema))), ..JSONSchemaProps::default() };
    }
    let root = JSONSchemaProps {
        type_: Some("object".into()),
        properties: Some([("deep".to_string(), schema)].into_iter().collect()),
        ..JSONSchemaProps::default()
    };
    let causes = check(&root, ROOT).err().unwrap_or_default();
    assert_eq!(rendered(&causes), vec![format!("{ROOT}: Forbidden: must not be nested more than {MAX_DEPTH} levels deep")]);
    dismantle(root);
}

/// Takes a deep schema apart level by level: dropping it whole would recurse once per level.
fn dismantle(mut schema: JSONSchemaProps) {
    let mut pending: Vec<JSONSchemaProps> = schema.properties.take().into_iter().flat_map(|map| map.into_values()).collect();
    while let Some(mut next) = pending.pop() {
        if let Some(JSONSchemaPropsOrArray::Schema(inner)) = next.items.take() {
            pending.push(*inner);
        }
    }
}

/// A value nested far deeper than a decoder would allow, where the schema leaves it
/// unspecified: every walk is bounded by the schema, and pruning there keeps its own stack.
#[test]
fn deep_values_do_not_overflow() {
    let structural = schema_of(json!({"type": "object", "properties": {"m": {"type": "object", "additionalProperties": true}}}));
    let mut deep = json!({"gone": 1});
    for _ in 0..100_000 {
        deep = Value::Array(vec![deep]);
    }
    let mut object = json!({"m": {"k": null}});
    if let Some(slot) = object.pointer_mut("/m/k") {
        *slot = deep;
    }
    default(&structural, &mut object);
    let removed = prune(&structural, &mut object);
    assert_eq!(removed.len(), 1);
    assert!(removed[0].starts_with("m.k[0][0]") && removed[0].ends_with("[0].gone"));
    assert!(validate(&structural, &object).is_empty());
    // serde_json drops a value recursively: take this one apart level by level.
    let mut pending = object.pointer_mut("/m/k").map(Value::take);
    while let Some(Value::Array(mut items)) = pending {
        pending = items.pop();
    }
}

/// A small deterministic generator, so that failures reproduce without a seed file.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }

    fn value(&mut self, depth: usize) -> Value {
        match if depth == 0 { self.below(5) } else { self.below(7) } {
            0 => Value::Null,
            1 => Value::Bool(self.below(2) == 0),
            2 => json!(self.next() as i64),
            3 => json!((self.next() % 1000) as f64 / 7.0),
            4 => {
                let text = ["a", "b", "é", "", "2024-01-02T03:04:05Z", "80%"][self.below(6) as usize];
                json!(text)
            }
            5 => Value::Array((0..self.below(4)).map(|_| self.value(depth - 1)).collect()),
            _ => Value::Object((0..self.below(4)).map(|_| (["a", "b", "c", "kind", "metadata"][self.below(5) as usize].to_string(), self.value(depth - 1))).collect()),
        }
    }

    fn schema(&mut self, depth: usize) -> Value {
        let scalar = || ["string", "integer", "number", "boolean"];
        let mut schema = match if depth == 0 { 0 } else { self.below(4) } {
            0 => {
                let type_ = scalar()[self.below(4) as usize];
                json!({"type": type_})
            }
            1 => {
                let list_type = ["atomic", "set"][self.below(2) as usize];
                json!({"type": "array", "items": self.schema(depth - 1), "x-kubernetes-list-type": list_type})
            }
            2 => json!({"type": "object", "properties": {"a": self.schema(depth - 1), "b": self.schema(depth - 1)}, "required": ["a"]}),
            _ => json!({"type": "object", "additionalProperties": self.schema(depth - 1)}),
        };
        if let Some(fields) = schema.as_object_mut() {
            for (name, value) in [("nullable", json!(true)), ("minLength", json!(1)), ("maximum", json!(3.5)), ("enum", json!(["a", 1])),
                ("pattern", json!("^[a-z]")), ("format", json!("date-time")), ("x-kubernetes-preserve-unknown-fields", json!(true)),
                ("multipleOf", json!(0.5)), ("default", self.value(1))]
            {
                if self.below(6) == 0 {
                    fields.insert(name.to_string(), value);
                }
            }
        }
        schema
    }
}

/// Random schemas and objects through every entry point: causes or not, never a panic.
#[test]
fn random_inputs_never_panic() {
    let mut random = Random(0x9e37_79b9_7f4a_7c15);
    for _ in 0..400 {
        let schema = json!({"type": "object", "properties": {"spec": random.schema(4), "list": random.schema(3)}});
        let Ok(parsed) = serde_json::from_value::<JSONSchemaProps>(schema) else { continue };
        let _ = check(&parsed, ROOT);
        let Ok(mut structural) = structural(&parsed, ROOT) else { continue };
        prune_defaults(&mut structural);
        for _ in 0..5 {
            let mut object = json!({"spec": random.value(4), "list": random.value(3), "other": random.value(2)});
            default(&structural, &mut object);
            let _ = prune(&structural, &mut object);
            let _ = validate(&structural, &object);
        }
    }
}
