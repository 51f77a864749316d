//! `x-kubernetes-validations` rows: CRD schemas whose rules do not compile, and objects
//! their rules refuse, with kube-apiserver 1.33's paths and words.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::JSONSchemaProps;
use serde_json::{Value, json};

use super::*;

const ROOT: &str = "spec.versions[0].schema.openAPIV3Schema";

fn checked(schema: Value) -> Result<Structural, Vec<String>> {
    let props: JSONSchemaProps = serde_json::from_value(schema).unwrap_or_else(|error| panic!("test schema: {error}"));
    check(&props, ROOT).map_err(|causes| causes.iter().map(|cause| format!("{}: {}", cause.field, cause.message)).collect())
}

fn with_rules(rules: Value) -> Value {
    json!({"type": "object", "properties": {"spec": {"type": "object", "x-kubernetes-validations": rules, "properties": {
        "a": {"type": "integer"}, "name": {"type": "string", "maxLength": 10},
        "items": {"type": "array", "items": {"type": "object", "properties": {"k": {"type": "string"}},
                  "x-kubernetes-validations": [{"rule": "self.k != 'bad'", "message": "k must not be bad"}]}},
        "x-prop": {"type": "string"},
    }}}})
}

#[test]
fn rules_that_do_not_compile_refuse_the_definition() {
    let rows: Vec<(Value, Vec<&str>)> = vec![
        (json!([{"rule": "self.a >"}]), vec![
            "spec.versions[0].schema.openAPIV3Schema.properties[spec].x-kubernetes-validations[0].rule: Invalid value: apiextensions.ValidationRule{Rule:\"self.a >\", Message:\"\", MessageExpression:\"\", Reason:(*apiextensions.FieldValueErrorReason)(nil), FieldPath:\"\", OptionalOldSelf:(*bool)(nil)}: compilation failed: ERROR: <input>:1:9: Syntax error: mismatched input '<EOF>' expecting {'[', '{', '(', '.', '-', '!', 'true', 'false', 'null', NUM_FLOAT, NUM_INT, NUM_UINT, STRING, BYTES, IDENTIFIER}\n | self.a >\n | ........^",
        ]),
        (json!([{"rule": "self.nosuch == 1"}]), vec![
            "spec.versions[0].schema.openAPIV3Schema.properties[spec].x-kubernetes-validations[0].rule: Invalid value: apiextensions.ValidationRule{Rule:\"self.nosuch == 1\", Message:\"\", MessageExpression:\"\", Reason:(*apiextensions.FieldValueErrorReason)(nil), FieldPath:\"\", OptionalOldSelf:(*bool)(nil)}: compilation failed: ERROR: <input>:1:5: undefined field 'nosuch'\n | self.nosuch == 1\n | ....^",
        ]),
        (json!([{"rule": "self.a"}]), vec![
            "spec.versions[0].schema.openAPIV3Schema.properties[spec].x-kubernetes-validations[0].rule: Invalid value: apiextensions.ValidationRule{Rule:\"self.a\", Message:\"\", MessageExpression:\"\", Reason:(*apiextensions.FieldValueErrorReason)(nil), FieldPath:\"\", OptionalOldSelf:(*bool)(nil)}: cel expression must evaluate to a bool",
        ]),
        (json!([{"rule": "true", "messageExpression": "1"}]), vec![
            "spec.versions[0].schema.openAPIV3Schema.properties[spec].x-kubernetes-validations[0].messageExpression: Invalid value: apiextensions.ValidationRule{Rule:\"true\", Message:\"\", MessageExpression:\"1\", Reason:(*apiextensions.FieldValueErrorReason)(nil), FieldPath:\"\", OptionalOldSelf:(*bool)(nil)}: messageExpression must evaluate to a string",
        ]),
        (json!([{"rule": "true", "optionalOldSelf": true}]), vec![
            "spec.versions[0].schema.openAPIV3Schema.properties[spec].x-kubernetes-validations[0].optionalOldSelf: Invalid value: true: may not be set if oldSelf is not used in rule",
        ]),
        (json!([{"rule": "self.x__dash__prop == 'a' && self.a > 0 && self.name.size() < 5"}]), vec![]),
        (json!([{"rule": "true", "fieldPath": ".nosuch"}]), vec![
            "spec.versions[0].schema.openAPIV3Schema.properties[spec].x-kubernetes-validations[0].fieldPath: Invalid value: \".nosuch\": fieldPath must be a valid path",
        ]),
        (json!([{"rule": "true", "fieldPath": ".name"}, {"rule": "true", "fieldPath": "['x-prop']"}]), vec![]),
    ];
    for (rules, expected) in rows {
        let found = checked(with_rules(rules.clone())).err().unwrap_or_default();
        assert_eq!(found, expected, "{rules}");
    }
    let in_atomic_list = json!({"type": "object", "properties": {"list": {"type": "array", "maxItems": 10, "items": {"type": "string", "maxLength": 10, "x-kubernetes-validations": [{"rule": "self == oldSelf"}]}}}});
    assert_eq!(checked(in_atomic_list).err().unwrap_or_default(), vec![
        "spec.versions[0].schema.openAPIV3Schema.properties[list].items.x-kubernetes-validations[0].rule: Invalid value: \"self == oldSelf\": oldSelf cannot be used on the uncorrelatable portion of the schema within spec.versions[0].schema.openAPIV3Schema.properties[list]",
    ]);
}

#[test]
fn rules_estimated_too_expensive_refuse_the_definition() {
    let list = |bounds: Value| {
        let mut list = json!({"type": "array", "items": {"type": "string"}, "x-kubernetes-validations": [{"rule": "self.all(x, self.exists(y, x.matches(y)))"}]});
        if let (Some(list), Some(bounds)) = (list.as_object_mut(), bounds.as_object()) {
            list.extend(bounds.clone());
        }
        json!({"type": "object", "properties": {"list": list}})
    };
    // As kube: the rule's own estimate, its part in the schema's total, and the total.
    assert_eq!(checked(list(json!({}))).err().unwrap_or_default(), vec![
        "spec.versions[0].schema.openAPIV3Schema.properties[list].x-kubernetes-validations[0].rule: Forbidden: estimated rule cost exceeds budget by factor of more than 100x (try simplifying the rule, or adding maxItems, maxProperties, and maxLength where arrays, maps, and strings are declared)",
        "spec.versions[0].schema.openAPIV3Schema.properties[list].x-kubernetes-validations[0].rule: Forbidden: contributed to estimated rule cost total exceeding cost limit for entire OpenAPIv3 schema",
        "spec.versions[0].schema.openAPIV3Schema: Forbidden: x-kubernetes-validations estimated rule cost total for entire OpenAPIv3 schema exceeds budget by factor of more than 100x (try simplifying the rule, or adding maxItems, maxProperties, and maxLength where arrays, maps, and strings are declared)",
    ]);
    let bounded = list(json!({"maxItems": 10, "items": {"type": "string", "maxLength": 64}}));
    assert!(checked(bounded).is_ok());
    // Cheap rules on the items of unbounded lists pass: kube's estimate of those is small.
    let items = json!({"type": "object", "properties": {"list": {"type": "array", "items": {"type": "object", "properties": {"n": {"type": "integer"}},
        "x-kubernetes-validations": [{"rule": "self.n >= 0"}]}}}});
    assert!(checked(items).is_ok());
}

fn results(schema: &Structural, object: Value, old: Option<Value>) -> (Vec<String>, Vec<String>) {
    let Ok(found) = validate_rules(schema, &object, old.as_ref()) else { panic!("no evaluation permit") };
    (found.causes.iter().map(|cause| format!("{}: {}", cause.field, cause.message)).collect(), found.warnings)
}

#[test]
fn objects_are_refused_by_their_rules_with_kubes_words() {
    let schema = checked(with_rules(json!([
        {"rule": "self.a < 10"},
        {"rule": "self.a != 5", "message": "a must not be 5", "reason": "FieldValueForbidden"},
        {"rule": "!has(self.name) || self.name != 'x'", "messageExpression": "'name ' + self.name + ' is taken'", "fieldPath": ".name"},
        {"rule": "!has(self.a) || self.a == oldSelf.a", "message": "Value is immutable"},
    ])))
    .unwrap_or_else(|causes| panic!("{causes:?}"));
    let (causes, _) = results(&schema, json!({"spec": {"a": 1, "items": [{"k": "ok"}, {"k": "bad"}]}}), None);
    assert_eq!(causes, vec!["spec.items[1]: Invalid value: \"object\": k must not be bad"]);
    let (causes, _) = results(&schema, json!({"spec": {"a": 11, "name": "x"}}), None);
    assert_eq!(causes, vec!["spec: Invalid value: \"object\": failed rule: self.a < 10", "spec.name: Invalid value: \"object\": name x is taken"]);
    let (causes, _) = results(&schema, json!({"spec": {"a": 5}}), None);
    assert_eq!(causes, vec!["spec: Forbidden: a must not be 5"]);
    let (causes, _) = results(&schema, json!({"spec": {"a": 2}}), Some(json!({"spec": {"a": 1}})));
    assert_eq!(causes, vec!["spec: Invalid value: \"object\": Value is immutable"]);
    // An unchanged value that breaks a rule is only warned about (ratcheting).
    let (causes, warnings) = results(&schema, json!({"spec": {"a": 11}}), Some(json!({"spec": {"a": 11}})));
    assert_eq!((causes, warnings), (vec![], vec!["spec: Invalid value: \"object\": failed rule: self.a < 10".to_string()]));
    // Items of an atomic list have no old selves: an unchanged list ratchets them.
    let (causes, warnings) = results(&schema, json!({"spec": {"a": 1, "items": [{"k": "bad"}]}}), Some(json!({"spec": {"a": 1, "items": [{"k": "bad"}]}})));
    assert_eq!((causes, warnings), (vec![], vec!["spec.items[0]: Invalid value: \"object\": k must not be bad".to_string()]));
    let (causes, _) = results(&schema, json!({"spec": {"a": 1, "items": [{"k": "bad"}]}}), Some(json!({"spec": {"a": 1, "items": []}})));
    assert_eq!(causes, vec!["spec.items[0]: Invalid value: \"object\": k must not be bad"]);
    let runtime = checked(with_rules(json!([{"rule": "self.a / (self.a - self.a) == 1"}]))).unwrap_or_else(|causes| panic!("{causes:?}"));
    assert_eq!(results(&runtime, json!({"spec": {"a": 1}}), None).0, vec!["spec: Invalid value: \"object\": division by zero evaluating rule: self.a / (self.a - self.a) == 1"]);
    let missing = checked(with_rules(json!([{"rule": "self.name == 'x'"}]))).unwrap_or_else(|causes| panic!("{causes:?}"));
    assert_eq!(results(&missing, json!({"spec": {"a": 1}}), None).0, vec!["spec: Invalid value: \"object\": no such key: name evaluating rule: self.name == 'x'"]);
    let root = checked(json!({"type": "object", "x-kubernetes-validations": [{"rule": "self.metadata.name.startsWith('ok-') && self.kind == 'Widget'"}]})).unwrap_or_else(|causes| panic!("{causes:?}"));
    assert_eq!(results(&root, json!({"kind": "Widget", "metadata": {"name": "bad"}}), None).0, vec!["<nil>: Invalid value: \"object\": failed rule: self.metadata.name.startsWith('ok-') && self.kind == 'Widget'"]);
    assert!(results(&root, json!({"kind": "Widget", "metadata": {"name": "ok-1"}}), None).0.is_empty());
}

#[test]
fn expensive_rules_stop_at_the_cost_limit() {
    // As stored before the estimate refused such rules: the runtime limit still holds.
    let props: JSONSchemaProps = serde_json::from_value(json!({"type": "object", "properties": {"list": {"type": "array", "items": {"type": "integer"},
        "x-kubernetes-validations": [{"rule": "self.all(a, self.all(b, self.all(c, a + b + c >= 0)))"}]}}})).unwrap_or_else(|error| panic!("{error}"));
    let schema = structural(&props, ROOT).unwrap_or_else(|causes| panic!("{causes:?}"));
    let list: Vec<i64> = (0..200).collect();
    let (causes, _) = results(&schema, json!({"list": list}), None);
    assert_eq!(causes, vec!["list: Invalid value: \"array\": 'operation cancelled: actual cost limit exceeded': no further validation rules will be run due to call cost exceeds limit for rule: self.all(a, self.all(b, self.all(c, a + b + c >= 0)))"]);
}

/// Items of a map list correlate with the old item of the same keys wherever it stands, so
/// transition rules see it; an item with new keys has no old value and its transition rule
/// does not run.
#[test]
fn map_list_items_correlate_by_their_keys() {
    let schema = checked(json!({"type": "object", "properties": {"list": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name", "port"],
        "items": {"type": "object", "required": ["name", "port"], "properties": {"name": {"type": "string"}, "port": {"type": "integer"}, "value": {"type": "integer"}},
                  "x-kubernetes-validations": [{"rule": "self.value >= oldSelf.value", "message": "value may not decrease"}]}}}}))
    .unwrap_or_else(|causes| panic!("{causes:?}"));
    let old = json!({"list": [{"name": "a", "port": 1, "value": 5}, {"name": "a", "port": 2, "value": 5}, {"name": "b", "port": 1, "value": 5}]});
    let new = json!({"list": [{"name": "b", "port": 1, "value": 4}, {"name": "c", "port": 1, "value": 0}, {"name": "a", "port": 2, "value": 6}, {"name": "a", "port": 1, "value": 1}]});
    let (causes, _) = results(&schema, new, Some(old));
    assert_eq!(causes, vec!["list[0]: Invalid value: \"object\": value may not decrease", "list[3]: Invalid value: \"object\": value may not decrease"]);
}

/// Rules each within their own budget are refused together when their estimates add up past
/// the schema's (kube's `StaticEstimatedCRDCostLimit`): the four most expensive are named,
/// then the total.
#[test]
fn rules_estimated_too_expensive_together_refuse_the_definition() {
    let schema = |rules: usize| {
        let rule = json!({"rule": "self.all(x, x.contains('a'))"});
        json!({"type": "object", "properties": {"list": {"type": "array", "maxItems": 1000, "items": {"type": "string", "maxLength": 5000},
            "x-kubernetes-validations": vec![rule; rules]}}})
    };
    assert!(checked(schema(10)).is_ok());
    let causes = checked(schema(60)).err().unwrap_or_default();
    let path = "spec.versions[0].schema.openAPIV3Schema";
    let mut expected: Vec<String> = (0..4)
        .map(|at| format!("{path}.properties[list].x-kubernetes-validations[{at}].rule: Forbidden: contributed to estimated rule cost total exceeding cost limit for entire OpenAPIv3 schema"))
        .collect();
    expected.push(format!("{path}: Forbidden: x-kubernetes-validations estimated rule cost total for entire OpenAPIv3 schema exceeds budget by factor of "));
    assert_eq!(causes.len(), 5, "{causes:?}");
    assert_eq!(causes[..4], expected[..4]);
    assert!(causes[4].starts_with(&expected[4]), "{}", causes[4]);
}
