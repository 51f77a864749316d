//! From an `openAPIV3Schema` to a [`Structural`] schema, with the reasons a CRD's schema is
//! refused: kube's `NewStructural` and `ValidateStructural` (pkg/apiserver/schema) and the
//! schema part of `ValidateCustomResourceDefinitionOpenAPISchema` (pkg/apis/apiextensions/
//! validation), as they stand for a CRD being created (every `require...` option on).
//!
//! The causes come in kube's order: the structural ones sorted by their text (kube sorts them
//! since Go's map order would shuffle them), then those of default values, then the schema
//! checks in walking order, properties by name. Kube reports a schema that cannot even be
//! converted (a `$ref`, say) only by the schema checks, and the conversion's own error only
//! when nothing else was found.

use std::collections::BTreeSet;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    JSONSchemaProps, JSONSchemaPropsOrArray, JSONSchemaPropsOrBool,
};
use serde_json::Value;

use super::render::{invalid, not_supported};
use super::{AdditionalProperties, MAX_DEPTH, Pattern, Rule, Structural, ValueValidation, child, index, key};
use crate::cause::Cause;

/// The formats kube-apiserver 1.33 checks (apiextensions' `supportedVersionedFormats`,
/// dashes removed as go-openapi normalises names); any other format, `int32` and `int64`
/// among them, is stripped before validation and so checks nothing.
const SUPPORTED_FORMATS: &[&str] = &[
    "bsonobjectid", "uri", "email", "hostname", "ipv4", "ipv6", "cidr", "mac", "uuid", "uuid3", "uuid4", "uuid5",
    "isbn", "isbn10", "isbn13", "creditcard", "ssn", "hexcolor", "rgbcolor", "byte", "password", "date",
    "duration", "datetime",
];

const OPENAPI_TYPES: &[&str] = &["array", "boolean", "integer", "number", "object", "string"];

/// The reasons an `x-kubernetes-validations` rule may give, sorted as kube lists them.
const RULE_REASONS: &[&str] = &["FieldValueDuplicate", "FieldValueForbidden", "FieldValueInvalid", "FieldValueRequired"];

/// The structural schema of `schema`, or every reason it is not one, with field paths under
/// `path` (such as `spec.versions[0].schema.openAPIV3Schema`). Default values are not
/// checked here: [`check`] adds that.
pub fn structural(schema: &JSONSchemaProps, path: &str) -> Result<Structural, Vec<Cause>> {
    finish(analyse(schema, path), Vec::new())
}

/// Everything kube checks of a CRD version's `openAPIV3Schema` (`validateCustomResource
/// DefinitionValidation` but for the status-subresource rule, which needs the CRD): the
/// structural checks, the default values' validity, and the schema checks.
pub fn check(schema: &JSONSchemaProps, path: &str) -> Result<Structural, Vec<Cause>> {
    let analysis = analyse(schema, path);
    // kube checks defaults only of a schema that is structural.
    let defaults = match &analysis.converted {
        Ok(structural) if analysis.structural.is_empty() => super::validate_defaults(structural, path),
        _ => Vec::new(),
    };
    // kube compiles rules only where the schema is otherwise sound, and lists their causes
    // after every other.
    let rules = match &analysis.converted {
        Ok(structural) if analysis.structural.is_empty() && analysis.schema.is_empty() && defaults.is_empty() => super::rules::check_rules(structural, path),
        _ => Vec::new(),
    };
    let mut result = finish(analysis, defaults);
    if !rules.is_empty() {
        match &mut result {
            Ok(_) => result = Err(rules),
            Err(causes) => causes.extend(rules),
        }
    }
    result
}

/// What kube finds of a schema, kept apart to be put in its order.
struct Analysis {
    /// The structural schema, or why kube's `NewStructural` could not make one.
    converted: Result<Structural, String>,
    structural: Vec<Cause>,
    schema: Vec<Cause>,
    path: String,
}

fn finish(analysis: Analysis, defaults: Vec<Cause>) -> Result<Structural, Vec<Cause>> {
    let mut causes = analysis.structural;
    causes.extend(defaults);
    causes.extend(analysis.schema);
    match analysis.converted {
        Ok(structural) if causes.is_empty() => Ok(structural),
        Ok(_) => Err(causes),
        Err(reason) => {
            if causes.is_empty() {
                causes.push(invalid(analysis.path, &Value::String(String::new()), &reason));
            }
            Err(causes)
        }
    }
}

fn analyse(schema: &JSONSchemaProps, path: &str) -> Analysis {
    if deeper_than(schema, MAX_DEPTH) {
        let detail = format!("must not be nested more than {MAX_DEPTH} levels deep");
        return Analysis {
            converted: Err(detail.clone()),
            structural: Vec::new(),
            schema: vec![Cause::forbidden(path, &detail)],
            path: path.to_string(),
        };
    }
    let mut schema_causes = Vec::new();
    if schema.nullable == Some(true) {
        schema_causes.push(Cause::forbidden(child(path, "nullable"), "nullable cannot be true at the root"));
    }
    openapi_checks(schema, path, &Context::root(), true, &mut schema_causes);
    let converted = convert(schema);
    let mut structural_causes = Vec::new();
    if converted.is_ok() {
        invariants(schema, Level::Root, path, &mut structural_causes);
        completeness(schema, schema, path, path, &mut structural_causes);
        structural_causes.sort_by_key(|cause| format!("{}: {}", cause.field, cause.message));
    }
    Analysis { converted, structural: structural_causes, schema: schema_causes, path: path.to_string() }
}

/// Whether `schema` nests more than `budget` levels, looking no further than that.
fn deeper_than(schema: &JSONSchemaProps, budget: usize) -> bool {
    if budget == 0 {
        return true;
    }
    children(schema).into_iter().any(|child| deeper_than(child, budget - 1))
}

/// Every schema directly inside `schema`, whatever it stands for.
fn children(schema: &JSONSchemaProps) -> Vec<&JSONSchemaProps> {
    let mut out: Vec<&JSONSchemaProps> = Vec::new();
    for map in [&schema.properties, &schema.pattern_properties, &schema.definitions].into_iter().flatten() {
        out.extend(map.values());
    }
    for list in [&schema.all_of, &schema.any_of, &schema.one_of].into_iter().flatten() {
        out.extend(list.iter());
    }
    out.extend(schema.not.as_deref());
    match &schema.items {
        Some(JSONSchemaPropsOrArray::Schema(item)) => out.push(item),
        Some(JSONSchemaPropsOrArray::Schemas(items)) => out.extend(items.iter()),
        None => {}
    }
    for more in [&schema.additional_properties, &schema.additional_items].into_iter().flatten() {
        if let JSONSchemaPropsOrBool::Schema(inner) = more {
            out.push(inner);
        }
    }
    for dependency in schema.dependencies.iter().flat_map(|map| map.values()) {
        if let k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::JSONSchemaPropsOrStringArray::Schema(inner) = dependency {
            out.push(inner);
        }
    }
    out
}

fn type_of(schema: &JSONSchemaProps) -> &str {
    schema.type_.as_deref().unwrap_or_default()
}

fn is_set(flag: Option<bool>) -> bool {
    flag == Some(true)
}

/// kube's `NewStructural`: fails on what a structural schema cannot hold. Depth is bounded by
/// the caller's `deeper_than`.
fn convert(schema: &JSONSchemaProps) -> Result<Structural, String> {
    unsupported(schema)?;
    let mut out = Structural {
        type_: type_of(schema).to_string(),
        nullable: is_set(schema.nullable),
        default: schema.default.as_ref().map(|json| json.0.clone()).filter(|value| !value.is_null()),
        preserve_unknown_fields: match schema.x_kubernetes_preserve_unknown_fields {
            Some(false) => return Err("internal error: 'x-kubernetes-preserve-unknown-fields' must be true or undefined".into()),
            flag => is_set(flag),
        },
        embedded_resource: is_set(schema.x_kubernetes_embedded_resource),
        int_or_string: is_set(schema.x_kubernetes_int_or_string),
        list_type: schema.x_kubernetes_list_type.clone(),
        list_map_keys: schema.x_kubernetes_list_map_keys.clone().unwrap_or_default(),
        map_type: schema.x_kubernetes_map_type.clone(),
        validations: schema
            .x_kubernetes_validations
            .iter()
            .flatten()
            .map(|rule| Rule {
                rule: rule.rule.clone(),
                message: rule.message.clone(),
                message_expression: rule.message_expression.clone(),
                reason: rule.reason.clone(),
                field_path: rule.field_path.clone(),
                optional_old_self: rule.optional_old_self,
            })
            .collect(),
        value: value_validation(schema)?,
        ..Structural::default()
    };
    match &schema.items {
        Some(JSONSchemaPropsOrArray::Schema(item)) => out.items = Some(Box::new(convert(item)?)),
        Some(JSONSchemaPropsOrArray::Schemas(_)) => return Err("OpenAPIV3Schema 'items' must be a schema, but is an array".into()),
        None => {}
    }
    for (name, property) in schema.properties.iter().flatten() {
        out.properties.insert(name.clone(), convert(property)?);
    }
    out.additional_properties = match &schema.additional_properties {
        Some(JSONSchemaPropsOrBool::Schema(inner)) => Some(AdditionalProperties::Schema(Box::new(convert(inner)?))),
        Some(JSONSchemaPropsOrBool::Bool(allows)) => Some(AdditionalProperties::Allows(*allows)),
        None => None,
    };
    Ok(out)
}

fn unsupported(schema: &JSONSchemaProps) -> Result<(), String> {
    let refused = [
        (schema.id.as_deref().is_some_and(|id| !id.is_empty()), "id"),
        (schema.schema.as_deref().is_some_and(|text| !text.is_empty()), "schema"),
        (schema.ref_path.as_deref().is_some_and(|text| !text.is_empty()), "$ref"),
        (schema.pattern_properties.as_ref().is_some_and(|map| !map.is_empty()), "patternProperties"),
        (schema.dependencies.as_ref().is_some_and(|map| !map.is_empty()), "dependencies"),
        (schema.additional_items.is_some(), "additionalItems"),
        (schema.definitions.as_ref().is_some_and(|map| !map.is_empty()), "definitions"),
    ];
    match refused.iter().find(|(found, _)| *found) {
        Some((_, name)) => Err(format!("OpenAPIV3Schema '{name}' is not supported")),
        None => Ok(()),
    }
}

fn value_validation(schema: &JSONSchemaProps) -> Result<ValueValidation, String> {
    let junctors = |list: &Option<Vec<JSONSchemaProps>>| -> Result<Vec<Structural>, String> {
        list.iter().flatten().map(convert).collect()
    };
    let format = schema.format.clone().filter(|format| SUPPORTED_FORMATS.contains(&format.replace('-', "").as_str()));
    Ok(ValueValidation {
        format,
        maximum: schema.maximum,
        exclusive_maximum: is_set(schema.exclusive_maximum),
        minimum: schema.minimum,
        exclusive_minimum: is_set(schema.exclusive_minimum),
        max_length: schema.max_length,
        min_length: schema.min_length,
        pattern: schema.pattern.as_deref().filter(|pattern| !pattern.is_empty()).map(Pattern::new),
        max_items: schema.max_items,
        min_items: schema.min_items,
        unique_items: is_set(schema.unique_items),
        multiple_of: schema.multiple_of,
        enum_: schema.enum_.iter().flatten().map(|json| json.0.clone()).collect(),
        max_properties: schema.max_properties,
        min_properties: schema.min_properties,
        required: schema.required.clone().unwrap_or_default(),
        all_of: junctors(&schema.all_of)?,
        any_of: junctors(&schema.any_of)?,
        one_of: junctors(&schema.one_of)?,
        not: match &schema.not {
            Some(inner) => Some(Box::new(convert(inner)?)),
            None => None,
        },
    })
}

#[derive(Clone, Copy, PartialEq)]
enum Level {
    Root,
    Item,
    Field,
}

/// kube's `validateStructuralInvariants`.
fn invariants(schema: &JSONSchemaProps, level: Level, path: &str, out: &mut Vec<Cause>) {
    let type_ = type_of(schema);
    if type_ == "array" && schema.items.is_none() {
        out.push(Cause::required(child(path, "items"), "must be specified"));
    }
    if let Some(JSONSchemaPropsOrArray::Schema(item)) = &schema.items {
        invariants(item, Level::Item, &child(path, "items"), out);
    }
    for (name, property) in schema.properties.iter().flatten() {
        invariants(property, Level::Field, &key(&child(path, "properties"), name), out);
    }
    if let Some(additional) = &schema.additional_properties {
        if level == Level::Root {
            out.push(Cause::forbidden(child(path, "additionalProperties"), "must not be used at the root"));
        }
        if let JSONSchemaPropsOrBool::Schema(inner) = additional {
            invariants(inner, Level::Field, &child(path, "additionalProperties"), out);
        }
    }
    let int_or_string = is_set(schema.x_kubernetes_int_or_string);
    let preserve = is_set(schema.x_kubernetes_preserve_unknown_fields);
    let embedded = is_set(schema.x_kubernetes_embedded_resource);
    if int_or_string && preserve {
        out.push(invalid(child(path, "x-kubernetes-preserve-unknown-fields"), &Value::Bool(true), "must be false if x-kubernetes-int-or-string is true"));
    }
    if int_or_string && embedded {
        out.push(invalid(child(path, "x-kubernetes-embedded-resource"), &Value::Bool(true), "must be false if x-kubernetes-int-or-string is true"));
    }

    let skip_any_of = schema.any_of.as_deref().is_some_and(is_int_or_string_pattern);
    let skip_first_all_of_any_of = schema
        .all_of
        .as_deref()
        .and_then(|all_of| all_of.first())
        .and_then(|first| first.any_of.as_deref())
        .is_some_and(is_int_or_string_pattern);
    junctor_invariants(schema, skip_any_of, skip_first_all_of_any_of, level, path, out);

    let check_metadata = level == Level::Root || embedded;
    if embedded && type_ != "object" {
        let detail = "must be object if x-kubernetes-embedded-resource is true";
        out.push(if type_.is_empty() { Cause::required(child(path, "type"), detail) } else { invalid(child(path, "type"), &type_.into(), detail) });
    } else if type_.is_empty() && !int_or_string && !preserve {
        let detail = match level {
            Level::Root => "must not be empty at the root",
            Level::Item => "must not be empty for specified array items",
            Level::Field => "must not be empty for specified object fields",
        };
        out.push(Cause::required(child(path, "type"), detail));
    }
    if embedded && schema.additional_properties.is_some() {
        out.push(Cause::forbidden(child(path, "additionalProperties"), "must not be used if x-kubernetes-embedded-resource is set"));
    }
    if level == Level::Root && !type_.is_empty() && type_ != "object" {
        out.push(invalid(child(path, "type"), &type_.into(), "must be object at the root"));
    }
    let properties = schema.properties.as_ref();
    for meta_field in ["kind", "apiVersion"] {
        if let Some(field) = properties.and_then(|properties| properties.get(meta_field))
            && check_metadata
            && type_of(field) != "string"
        {
            let at = child(&key(&child(path, "properties"), meta_field), "type");
            out.push(invalid(at, &type_of(field).into(), "must be string"));
        }
    }
    if let Some(metadata) = properties.and_then(|properties| properties.get("metadata")) {
        let at = key(&child(path, "properties"), "metadata");
        if check_metadata && type_of(metadata) != "object" {
            out.push(invalid(child(&at, "type"), &type_of(metadata).into(), "must be object"));
        }
        if level == Level::Root && !only_names(metadata) {
            out.push(Cause::forbidden(at, "must not specify anything other than name and generateName, but metadata is implicitly specified"));
        }
    }
    if embedded && !preserve && properties.is_none_or(|properties| properties.is_empty()) {
        out.push(Cause::required(child(path, "properties"), "must not be empty if x-kubernetes-embedded-resource is true without x-kubernetes-preserve-unknown-fields"));
    }
}

/// Whether a root `metadata` schema restricts no more than `name` and `generateName`: kube
/// drops those, the type and the default, and refuses anything left.
fn only_names(metadata: &JSONSchemaProps) -> bool {
    let mut rest = metadata.clone();
    rest.type_ = None;
    rest.default = None;
    if let Some(properties) = &rest.properties {
        let names = properties.keys().all(|name| name == "name" || name == "generateName");
        if names || properties.is_empty() {
            rest.properties = None;
        }
    }
    rest == JSONSchemaProps::default()
}

/// The `anyOf: [{type: integer}, {type: string}]` that `x-kubernetes-int-or-string` may come
/// with (kube's `intOrStringAnyOf`): the one place a junctor may hold a type.
fn is_int_or_string_pattern(any_of: &[JSONSchemaProps]) -> bool {
    let only_type = |name: &str| JSONSchemaProps { type_: Some(name.to_string()), ..JSONSchemaProps::default() };
    any_of.len() == 2 && any_of[0] == only_type("integer") && any_of[1] == only_type("string")
}

/// kube's `validateValueValidation` over `schema`'s junctors, and its pattern.
fn junctor_invariants(schema: &JSONSchemaProps, skip_any_of: bool, skip_first_all_of_any_of: bool, level: Level, path: &str, out: &mut Vec<Cause>) {
    if !skip_any_of {
        for (at, inner) in schema.any_of.iter().flatten().enumerate() {
            nested_invariants(inner, false, level, &index(&child(path, "anyOf"), at), out);
        }
    }
    for (at, inner) in schema.all_of.iter().flatten().enumerate() {
        nested_invariants(inner, skip_first_all_of_any_of && at == 0, level, &index(&child(path, "allOf"), at), out);
    }
    for (at, inner) in schema.one_of.iter().flatten().enumerate() {
        nested_invariants(inner, false, level, &index(&child(path, "oneOf"), at), out);
    }
    if let Some(inner) = &schema.not {
        nested_invariants(inner, false, level, &child(path, "not"), out);
    }
    if let Some(pattern) = schema.pattern.as_deref().filter(|pattern| !pattern.is_empty())
        && let Err(error) = super::compile_pattern(pattern)
    {
        let detail = format!("must be a valid regular expression, but isn't: {error}");
        out.push(invalid(child(path, "pattern"), &pattern.into(), &detail));
    }
}

/// kube's `validateNestedValueValidation`: a junctor's schema may only restrict values, not
/// say anything of structure, defaults or extensions.
fn nested_invariants(schema: &JSONSchemaProps, skip_any_of: bool, level: Level, path: &str, out: &mut Vec<Cause>) {
    junctor_invariants(schema, skip_any_of, false, level, path, out);
    if let Some(JSONSchemaPropsOrArray::Schema(item)) = &schema.items {
        nested_invariants(item, false, level, &child(path, "items"), out);
    }
    for (name, property) in schema.properties.iter().flatten() {
        nested_invariants(property, false, Level::Field, &key(&child(path, "properties"), name), out);
    }
    let forbidden = |out: &mut Vec<Cause>, field: &str, detail: &str| out.push(Cause::forbidden(child(path, field), detail));
    if !type_of(schema).is_empty() {
        forbidden(out, "type", "must be empty to be structural");
    }
    // kube's conversion turns `additionalProperties: false` in a junctor into nothing.
    if matches!(schema.additional_properties, Some(JSONSchemaPropsOrBool::Schema(_)) | Some(JSONSchemaPropsOrBool::Bool(true))) {
        forbidden(out, "additionalProperties", "must be undefined to be structural");
    }
    if schema.default.as_ref().is_some_and(|json| !json.0.is_null()) {
        forbidden(out, "default", "must be undefined to be structural");
    }
    if schema.title.as_deref().is_some_and(|text| !text.is_empty()) {
        forbidden(out, "title", "must be empty to be structural");
    }
    if schema.description.as_deref().is_some_and(|text| !text.is_empty()) {
        forbidden(out, "description", "must be empty to be structural");
    }
    if is_set(schema.nullable) {
        forbidden(out, "nullable", "must be false to be structural");
    }
    if is_set(schema.x_kubernetes_preserve_unknown_fields) {
        forbidden(out, "x-kubernetes-preserve-unknown-fields", "must be false to be structural");
    }
    if is_set(schema.x_kubernetes_embedded_resource) {
        forbidden(out, "x-kubernetes-embedded-resource", "must be false to be structural");
    }
    if is_set(schema.x_kubernetes_int_or_string) {
        forbidden(out, "x-kubernetes-int-or-string", "must be false to be structural");
    }
    if schema.x_kubernetes_list_map_keys.as_ref().is_some_and(|keys| !keys.is_empty()) {
        forbidden(out, "x-kubernetes-list-map-keys", "must be empty to be structural");
    }
    if schema.x_kubernetes_list_type.is_some() {
        forbidden(out, "x-kubernetes-list-type", "must be undefined to be structural");
    }
    if schema.x_kubernetes_map_type.is_some() {
        forbidden(out, "x-kubernetes-map-type", "must be undefined to be structural");
    }
    if schema.x_kubernetes_validations.as_ref().is_some_and(|rules| !rules.is_empty()) {
        forbidden(out, "x-kubernetes-validations", "must be empty to be structural");
    }
    if schema.properties.as_ref().is_some_and(|properties| properties.contains_key("metadata")) {
        out.push(Cause::forbidden(key(&child(path, "properties"), "metadata"), "must not be specified in a nested context"));
    }
}

/// kube's `validateStructuralCompleteness`: whatever a junctor at the root speaks of must be
/// specified in the structure too. (kube looks at the root's junctors only, and so do we.)
fn completeness(junctors_of: &JSONSchemaProps, structure: &JSONSchemaProps, structure_path: &str, junctor_path: &str, out: &mut Vec<Cause>) {
    if let Some(inner) = &junctors_of.not {
        nested_completeness(inner, Some(structure), structure_path, &child(junctor_path, "not"), out);
    }
    for (name, list) in [("allOf", &junctors_of.all_of), ("anyOf", &junctors_of.any_of), ("oneOf", &junctors_of.one_of)] {
        for (at, inner) in list.iter().flatten().enumerate() {
            nested_completeness(inner, Some(structure), structure_path, &index(&child(junctor_path, name), at), out);
        }
    }
}

fn nested_completeness(junctor: &JSONSchemaProps, structure: Option<&JSONSchemaProps>, structure_path: &str, junctor_path: &str, out: &mut Vec<Cause>) {
    let Some(structure) = structure else {
        out.push(Cause::required(structure_path, &format!("because it is defined in {junctor_path}")));
        return;
    };
    completeness(junctor, structure, structure_path, junctor_path, out);
    if let Some(JSONSchemaPropsOrArray::Schema(item)) = &junctor.items {
        let structure_item = match &structure.items {
            Some(JSONSchemaPropsOrArray::Schema(item)) => Some(item.as_ref()),
            _ => None,
        };
        nested_completeness(item, structure_item, &child(structure_path, "items"), &child(junctor_path, "items"), out);
    }
    for (name, property) in junctor.properties.iter().flatten() {
        let structure_at = key(&child(structure_path, "properties"), name);
        let junctor_at = key(&child(junctor_path, "properties"), name);
        match structure.properties.as_ref().and_then(|properties| properties.get(name)) {
            Some(specified) => nested_completeness(property, Some(specified), &structure_at, &junctor_at, out),
            None => out.push(Cause::required(structure_at, &format!("because it is defined in {junctor_at}"))),
        }
    }
}

/// What the walk of `ValidateCustomResourceDefinitionOpenAPISchema` carries down (kube's
/// `specStandardValidatorV3`).
#[derive(Clone)]
struct Context {
    allow_defaults: bool,
    disallow_defaults_reason: String,
    inside_resource_meta: bool,
}

impl Context {
    fn root() -> Self {
        Self { allow_defaults: true, disallow_defaults_reason: String::new(), inside_resource_meta: false }
    }

    fn forbidding_defaults(&self, reason: String) -> Self {
        Self { allow_defaults: false, disallow_defaults_reason: reason, ..self.clone() }
    }
}

/// kube's `ValidateCustomResourceDefinitionOpenAPISchema`, without CEL compilation.
fn openapi_checks(schema: &JSONSchemaProps, path: &str, context: &Context, is_root: bool, out: &mut Vec<Cause>) {
    standard_checks(schema, path, context, out);
    let type_ = type_of(schema);
    if is_set(schema.unique_items) {
        out.push(Cause::forbidden(child(path, "uniqueItems"), "uniqueItems cannot be set to true since the runtime complexity becomes quadratic"));
    }
    if let Some(additional) = &schema.additional_properties {
        let allows = !matches!(additional, JSONSchemaPropsOrBool::Bool(false));
        let has_schema = matches!(additional, JSONSchemaPropsOrBool::Schema(_));
        if schema.properties.as_ref().is_some_and(|properties| !properties.is_empty()) && (!allows || has_schema) {
            out.push(Cause::forbidden(child(path, "additionalProperties"), "additionalProperties and properties are mutual exclusive"));
        }
        if let JSONSchemaPropsOrBool::Schema(inner) = additional {
            let inner_context = if context.inside_resource_meta {
                // Pruning a default with no value around it would be ambiguous (kube's words).
                context.forbidding_defaults("inside additionalProperties applying to object metadata".into())
            } else {
                context.clone()
            };
            openapi_checks(inner, &child(path, "additionalProperties"), &inner_context, false, out);
        }
    }
    for (name, property) in schema.properties.iter().flatten() {
        let mut inner_context = context.clone();
        if (is_root || is_set(schema.x_kubernetes_embedded_resource)) && ["metadata", "kind", "apiVersion"].contains(&name.as_str()) {
            inner_context.inside_resource_meta = true;
            if is_root {
                inner_context = inner_context.forbidding_defaults(format!("in top-level {name}"));
            }
        }
        openapi_checks(property, &key(&child(path, "properties"), name), &inner_context, false, out);
    }
    if let Some(inner) = &schema.not {
        openapi_checks(inner, &child(path, "not"), context, false, out);
    }
    for (name, list) in [("allOf", &schema.all_of), ("oneOf", &schema.one_of), ("anyOf", &schema.any_of)] {
        for (at, inner) in list.iter().flatten().enumerate() {
            openapi_checks(inner, &index(&child(path, name), at), context, false, out);
        }
    }
    for (name, inner) in schema.definitions.iter().flatten() {
        openapi_checks(inner, &key(&child(path, "definitions"), name), context, false, out);
    }
    match &schema.items {
        Some(JSONSchemaPropsOrArray::Schema(item)) => openapi_checks(item, &child(path, "items"), context, false, out),
        Some(JSONSchemaPropsOrArray::Schemas(items)) => {
            for (at, item) in items.iter().enumerate() {
                openapi_checks(item, &index(&child(path, "items"), at), context, false, out);
            }
        }
        None => {}
    }
    for (name, dependency) in schema.dependencies.iter().flatten() {
        if let k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::JSONSchemaPropsOrStringArray::Schema(inner) = dependency {
            openapi_checks(inner, &key(&child(path, "dependencies"), name), context, false, out);
        }
    }
    if schema.x_kubernetes_preserve_unknown_fields == Some(false) {
        out.push(invalid(child(path, "x-kubernetes-preserve-unknown-fields"), &Value::Bool(false), "must be true or undefined"));
    }
    map_and_list_checks(schema, type_, path, out);
    rule_checks(schema, path, out);
}

/// kube's `specStandardValidatorV3.validate`.
fn standard_checks(schema: &JSONSchemaProps, path: &str, context: &Context, out: &mut Vec<Cause>) {
    let type_ = type_of(schema);
    if !type_.is_empty() && !OPENAPI_TYPES.contains(&type_) {
        let supported: Vec<String> = OPENAPI_TYPES.iter().map(|name| name.to_string()).collect();
        out.push(not_supported(child(path, "type"), &type_.into(), &supported));
    }
    if schema.default.is_some() && !context.allow_defaults {
        let mut detail = "must not be set".to_string();
        if !context.disallow_defaults_reason.is_empty() {
            detail = format!("{detail} {}", context.disallow_defaults_reason);
        }
        out.push(Cause::forbidden(child(path, "default"), &detail));
    }
    let forbidden = |out: &mut Vec<Cause>, field: &str, detail: &str| out.push(Cause::forbidden(child(path, field), detail));
    if schema.id.as_deref().is_some_and(|id| !id.is_empty()) {
        forbidden(out, "id", "id is not supported");
    }
    if schema.additional_items.is_some() {
        forbidden(out, "additionalItems", "additionalItems is not supported");
    }
    if schema.pattern_properties.as_ref().is_some_and(|map| !map.is_empty()) {
        forbidden(out, "patternProperties", "patternProperties is not supported");
    }
    if schema.definitions.as_ref().is_some_and(|map| !map.is_empty()) {
        forbidden(out, "definitions", "definitions is not supported");
    }
    if schema.dependencies.is_some() {
        forbidden(out, "dependencies", "dependencies is not supported");
    }
    if schema.ref_path.is_some() {
        forbidden(out, "$ref", "$ref is not supported");
    }
    if type_ == "null" {
        forbidden(out, "type", "type cannot be set to null, use nullable as an alternative");
    }
    if matches!(&schema.items, Some(JSONSchemaPropsOrArray::Schemas(items)) if !items.is_empty()) {
        forbidden(out, "items", "items must be a schema object and not an array");
    }
    if context.inside_resource_meta && is_set(schema.x_kubernetes_embedded_resource) {
        forbidden(out, "x-kubernetes-embedded-resource", "must not be used inside of resource meta");
    }
}

/// `x-kubernetes-map-type`, `x-kubernetes-list-type` and `x-kubernetes-list-map-keys`.
fn map_and_list_checks(schema: &JSONSchemaProps, type_: &str, path: &str, out: &mut Vec<Cause>) {
    let strings = |names: &[&str]| -> Vec<String> { names.iter().map(|name| name.to_string()).collect() };
    if let Some(map_type) = &schema.x_kubernetes_map_type {
        if type_ != "object" {
            let detail = "must be object if x-kubernetes-map-type is specified";
            out.push(if type_.is_empty() { Cause::required(child(path, "type"), detail) } else { invalid(child(path, "type"), &type_.into(), detail) });
        }
        if map_type != "atomic" && map_type != "granular" {
            out.push(not_supported(child(path, "x-kubernetes-map-type"), &map_type.as_str().into(), &strings(&["atomic", "granular"])));
        }
    }
    let item = match &schema.items {
        Some(JSONSchemaPropsOrArray::Schema(item)) => Some(item.as_ref()),
        _ => None,
    };
    let list_type = schema.x_kubernetes_list_type.as_deref();
    if list_type.is_some() && type_ != "array" {
        let detail = "must be array if x-kubernetes-list-type is specified";
        out.push(if type_.is_empty() { Cause::required(child(path, "type"), detail) } else { invalid(child(path, "type"), &type_.into(), detail) });
    } else if list_type == Some("set")
        && let Some(item) = item
    {
        let detail = "must be atomic as item of a list with x-kubernetes-list-type=set";
        let shown = item.x_kubernetes_list_type.clone().map(Value::String).unwrap_or(Value::Null);
        match type_of(item) {
            "array" if item.x_kubernetes_list_type.as_deref().is_some_and(|inner| inner != "atomic") => {
                out.push(invalid(child(&child(path, "items"), "x-kubernetes-list-type"), &shown, detail));
            }
            // kube shows the item's list type here too, though it speaks of the map type.
            "object" if item.x_kubernetes_map_type.as_deref() != Some("atomic") => {
                out.push(invalid(child(&child(path, "items"), "x-kubernetes-map-type"), &shown, detail));
            }
            _ => {}
        }
    }
    if let Some(list_type) = list_type
        && !["atomic", "set", "map"].contains(&list_type)
    {
        out.push(not_supported(child(path, "x-kubernetes-list-type"), &list_type.into(), &strings(&["atomic", "set", "map"])));
    }
    let map_keys = schema.x_kubernetes_list_map_keys.as_deref().unwrap_or_default();
    if !map_keys.is_empty() {
        match list_type {
            None => out.push(Cause::required(child(path, "x-kubernetes-list-type"), "must be map if x-kubernetes-list-map-keys is non-empty")),
            Some(other) if other != "map" => out.push(invalid(child(path, "x-kubernetes-list-type"), &other.into(), "must be map if x-kubernetes-list-map-keys is non-empty")),
            _ => {}
        }
    }
    if list_type == Some("map") {
        if map_keys.is_empty() {
            out.push(Cause::required(child(path, "x-kubernetes-list-map-keys"), "must not be empty if x-kubernetes-list-type is map"));
        }
        match &schema.items {
            None => out.push(Cause::required(child(path, "items"), "must have a schema if x-kubernetes-list-type is map")),
            Some(JSONSchemaPropsOrArray::Schemas(_)) => {
                out.push(invalid(child(path, "items"), &Value::String(String::new()), "must only have a single schema if x-kubernetes-list-type is map"));
            }
            Some(JSONSchemaPropsOrArray::Schema(item)) if type_of(item) != "object" => {
                out.push(invalid(child(&child(path, "items"), "type"), &type_of(item).into(), "must be object if parent array's x-kubernetes-list-type is map"));
            }
            Some(JSONSchemaPropsOrArray::Schema(item)) => {
                let mut seen = BTreeSet::new();
                let keys_shown = go_string_slice(map_keys);
                for name in map_keys {
                    match item.properties.as_ref().and_then(|properties| properties.get(name)) {
                        Some(property) if matches!(type_of(property), "array" | "object") => {
                            // kube shows the item's type ("object") rather than the key's.
                            let at = child(&key(&child(&child(path, "items"), "properties"), name), "type");
                            out.push(invalid(at, &"object".into(), "must be a scalar type if parent array's x-kubernetes-list-type is map"));
                        }
                        Some(_) => {}
                        None => out.push(shown_invalid(child(path, "x-kubernetes-list-map-keys"), &keys_shown, "entries must all be names of item properties")),
                    }
                    if !seen.insert(name) {
                        out.push(shown_invalid(child(path, "x-kubernetes-list-map-keys"), &keys_shown, "must not contain duplicate entries"));
                    }
                }
            }
        }
    }
    // kube's validateMapListKeysMapSet.
    if let (Some(list_type @ ("set" | "map")), Some(item)) = (list_type, item) {
        if is_set(item.nullable) {
            out.push(Cause::forbidden(child(&child(path, "items"), "nullable"), &format!("cannot be nullable when x-kubernetes-list-type is {list_type}")));
        }
        if list_type == "map" {
            let required = item.required.as_deref().unwrap_or_default();
            for name in map_keys {
                let Some(property) = item.properties.as_ref().and_then(|properties| properties.get(name)) else { continue };
                let at = key(&child(&child(path, "items"), "properties"), name);
                if !required.contains(name) && property.default.is_none() {
                    out.push(Cause::required(child(&at, "default"), "this property is in x-kubernetes-list-map-keys, so it must have a default or be a required property"));
                }
                if is_set(property.nullable) {
                    out.push(Cause::forbidden(child(&at, "nullable"), "this property is in x-kubernetes-list-map-keys, so it cannot be nullable"));
                }
            }
        }
    }
}

/// A Go `[]string` as `%#v` prints it.
fn go_string_slice(names: &[String]) -> String {
    let quoted: Vec<String> = names.iter().map(|name| super::render::go_quote(name)).collect();
    format!("[]string{{{}}}", quoted.join(", "))
}

fn shown_invalid(field: String, shown: &str, detail: &str) -> Cause {
    Cause { reason: "FieldValueInvalid", field, message: format!("Invalid value: {shown}: {detail}") }
}

/// The shape of `x-kubernetes-validations` rules, as far as it goes without compiling them.
fn rule_checks(schema: &JSONSchemaProps, path: &str, out: &mut Vec<Cause>) {
    let has_newlines = |text: &str| text.contains(['\n', '\r']);
    for (at, rule) in schema.x_kubernetes_validations.iter().flatten().enumerate() {
        let rule_path = index(&child(path, "x-kubernetes-validations"), at);
        let trimmed_rule = rule.rule.trim();
        let message = rule.message.as_deref().unwrap_or_default();
        let trimmed_message = message.trim();
        if trimmed_rule.is_empty() {
            out.push(Cause::required(child(&rule_path, "rule"), "rule is not specified"));
        } else if !message.is_empty() && trimmed_message.is_empty() {
            out.push(invalid(child(&rule_path, "message"), &message.into(), "message must be non-empty if specified"));
        } else if has_newlines(trimmed_message) {
            out.push(invalid(child(&rule_path, "message"), &message.into(), "message must not contain line breaks"));
        } else if has_newlines(trimmed_rule) && trimmed_message.is_empty() {
            out.push(Cause::required(child(&rule_path, "message"), "message must be specified if rule contains line breaks"));
        }
        if let Some(reason) = &rule.reason
            && !RULE_REASONS.contains(&reason.as_str())
        {
            let supported: Vec<String> = RULE_REASONS.iter().map(|name| name.to_string()).collect();
            out.push(not_supported(child(&rule_path, "reason"), &reason.as_str().into(), &supported));
        }
        let field_path = rule.field_path.as_deref().unwrap_or_default();
        if !field_path.is_empty() && field_path.trim().is_empty() {
            out.push(invalid(child(&rule_path, "fieldPath"), &field_path.into(), "fieldPath must be non-empty if specified"));
        }
        if has_newlines(field_path) {
            out.push(invalid(child(&rule_path, "fieldPath"), &field_path.into(), "fieldPath must not contain line breaks"));
        }
        // kube's `pathValid`: checked against the node's own structural schema, if it has one.
        if !field_path.is_empty()
            && let Ok(node) = convert(schema)
            && super::rules::valid_field_path(field_path, &node).is_none()
        {
            out.push(invalid(child(&rule_path, "fieldPath"), &field_path.into(), "fieldPath must be a valid path"));
        }
    }
}
