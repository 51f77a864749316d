//! A custom object against its structural schema, as kube-apiserver's custom resource strategy
//! validates one: kube-openapi's schema validator (worded by apiextensions'
//! `kubeOpenAPIResultToFieldErrors`), then embedded resources' type meta
//! (`objectmeta.Validate`), then `x-kubernetes-list-type` set and map uniqueness
//! (`listtype.ValidateListSetsAndMaps`). The object's own `metadata` is the caller's.

use serde_json::{Map, Value};

use super::formats::format_valid;
use super::render::{duplicate, go_float, go_quote, invalid, not_supported, type_invalid};
use super::{AdditionalProperties, MAX_DEPTH, Structural, child, index, key};
use crate::cause::Cause;

/// Every cause `object` breaks `schema` by, with kube's field paths and wording.
pub fn validate(schema: &Structural, object: &Value) -> Vec<Cause> {
    let mut out = openapi(schema, object);
    embedded(schema, object, "", 0, &mut out);
    if let Value::Object(fields) = object {
        lists_in_object(schema, fields, "", 0, &mut out);
    }
    out
}

/// kube-openapi's part alone, fields relative to `value`.
pub(super) fn openapi(schema: &Structural, value: &Value) -> Vec<Cause> {
    let mut out = Vec::new();
    node(schema, value, "", 0, &mut out);
    out
}

/// The embedded resources' type meta in `value`, under `path`.
pub(super) fn embedded_at(schema: &Structural, value: &Value, path: &str, out: &mut Vec<Cause>) {
    embedded(schema, value, path, 0, out);
}

/// The JSON type kube-openapi sees in a decoded value, and the format Go's types imply.
fn kind_of(value: &Value) -> (&'static str, &'static str) {
    match value {
        Value::Null => ("null", ""),
        Value::Bool(_) => ("boolean", ""),
        Value::String(_) => ("string", ""),
        Value::Number(number) if number.is_f64() => ("number", "float64"),
        Value::Number(_) => ("integer", "int64"),
        Value::Array(_) => ("array", ""),
        Value::Object(_) => ("object", ""),
    }
}

/// `{path} in body {rest}`, kube-openapi's placing of a message.
fn body(path: &str, rest: &str) -> String {
    format!("{path} in body {rest}")
}

/// The field of a kube-openapi error: its name without the leading dot.
fn field(path: &str) -> String {
    path.strip_prefix('.').unwrap_or(path).to_string()
}

/// kube-openapi's `SchemaValidator.Validate` for one node at `path` (its dotted name). The
/// depth is bounded by the schema's, which conversion bounded; the check is a second guard.
fn node(schema: &Structural, value: &Value, path: &str, depth: usize, out: &mut Vec<Cause>) {
    if depth > MAX_DEPTH {
        return;
    }
    let types: Vec<&str> = if schema.int_or_string {
        vec!["integer", "string"]
    } else if schema.type_.is_empty() {
        Vec::new()
    } else {
        vec![schema.type_.as_str()]
    };
    let format = schema.value.format.as_deref().unwrap_or_default();
    if value.is_null() {
        if !types.is_empty() && !schema.nullable {
            let detail = body(path, &format!("must be of type {}: \"null\"", types.join(",")));
            out.push(type_invalid(field(path), &"null".into(), &detail));
        }
        enumeration(schema, value, path, out);
        return;
    }
    if !types.is_empty() || !format.is_empty() {
        type_check(&types, format, value, path, out);
    }
    junctors(schema, value, path, depth, out);
    if let Value::String(text) = value {
        string_checks(schema, text, path, out);
        if let Some(format) = &schema.value.format
            && !format_valid(format, text)
        {
            let detail = body(path, &format!("must be of type {format}: {}", go_quote(text)));
            out.push(type_invalid(field(path), value, &detail));
        }
    }
    if value.is_number() {
        number_checks(schema, value, path, out);
    }
    if let Value::Array(items) = value {
        array_checks(schema, items, path, depth, out);
    }
    enumeration(schema, value, path, out);
    if let Value::Object(fields) = value {
        object_checks(schema, fields, path, depth, out);
    }
}

/// kube-openapi's `typeValidator`, quirks and all: a string or array under a format passes
/// for any non-numeric type, and an integral float passes as an integer.
// The conditions are kept in kube-openapi's shape, to be read against it.
#[allow(clippy::nonminimal_bool)]
fn type_check(types: &[&str], format: &str, value: &Value, path: &str, out: &mut Vec<Cause>) {
    let (kind, implied_format) = kind_of(value);
    let contains = |name: &str| types.contains(&name);
    let float_int = kind == "number" && value.as_f64().is_some_and(|number| number.fract() == 0.0) && contains("integer");
    let int_float = kind == "integer" && contains("number");
    let string_or_array = matches!(value, Value::String(_) | Value::Array(_));
    if !string_or_array && !format.is_empty() && !(contains(kind) || implied_format == format || float_int || int_float) {
        let detail = body(path, &format!("must be of type {format}: {}", go_quote(implied_format)));
        out.push(type_invalid(field(path), &implied_format.into(), &detail));
        return;
    }
    if !(contains("number") || contains("integer")) && !format.is_empty() && string_or_array {
        return;
    }
    if !(contains(kind) || float_int || int_float) {
        let detail = body(path, &format!("must be of type {}: {}", types.join(","), go_quote(kind)));
        out.push(type_invalid(field(path), &kind.into(), &detail));
    }
}

/// allOf, anyOf, oneOf and not, each branch validated as a whole schema at the same path.
/// kube reports their own failures with a nil field path, which Go prints as `<nil>`.
fn junctors(schema: &Structural, value: &Value, path: &str, depth: usize, out: &mut Vec<Cause>) {
    let quoted = go_quote(path);
    let branch = |inner: &Structural| {
        let mut causes = Vec::new();
        node(inner, value, path, depth + 1, &mut causes);
        causes
    };
    let composite = |message: String| invalid("<nil>", &Value::String(String::new()), &message);
    if !schema.value.any_of.is_empty() {
        let results: Vec<Vec<Cause>> = schema.value.any_of.iter().map(branch).collect();
        if !results.iter().any(Vec::is_empty) {
            out.push(composite(format!("{quoted} must validate at least one schema (anyOf)")));
            // kube adds the failures of the branch that came closest; fewest causes stands in
            // for its count of passed checks.
            if let Some(best) = results.into_iter().min_by_key(Vec::len) {
                out.extend(best);
            }
        }
    }
    if !schema.value.one_of.is_empty() {
        let results: Vec<Vec<Cause>> = schema.value.one_of.iter().map(branch).collect();
        let passed = results.iter().filter(|causes| causes.is_empty()).count();
        if passed != 1 {
            let more = if passed == 0 { "Found none valid".to_string() } else { format!("Found {passed} valid alternatives") };
            out.push(composite(format!("{quoted} must validate one and only one schema (oneOf). {more}")));
            if passed == 0
                && let Some(best) = results.into_iter().min_by_key(Vec::len)
            {
                out.extend(best);
            }
        }
    }
    if !schema.value.all_of.is_empty() {
        let mut passed = 0;
        for inner in &schema.value.all_of {
            let causes = branch(inner);
            passed += usize::from(causes.is_empty());
            out.extend(causes);
        }
        if passed != schema.value.all_of.len() {
            let more = if passed == 0 { ". None validated" } else { "" };
            out.push(composite(format!("{quoted} must validate all the schemas (allOf){more}")));
        }
    }
    if let Some(inner) = &schema.value.not
        && branch(inner).is_empty()
    {
        out.push(composite(format!("{quoted} must not validate the schema (not)")));
    }
}

/// maxLength, minLength and pattern; kube stops at the first that fails. Lengths count
/// characters (Go's `utf8.RuneCount`), though the TooLong message says bytes.
fn string_checks(schema: &Structural, text: &str, path: &str, out: &mut Vec<Cause>) {
    let length = i64::try_from(text.chars().count()).unwrap_or(i64::MAX);
    if let Some(max) = schema.value.max_length
        && length > max
    {
        out.push(Cause::too_long(field(path), max));
        return;
    }
    if let Some(min) = schema.value.min_length
        && length < min
    {
        out.push(invalid(field(path), &text.into(), &body(path, &format!("should be at least {min} chars long"))));
        return;
    }
    if let Some(pattern) = &schema.value.pattern {
        let detail = match &pattern.compiled {
            Ok(compiled) if compiled.is_match(text) => return,
            Ok(_) => body(path, &format!("should match '{}'", pattern.source)),
            Err(error) => body(path, &format!("should match '{}, but pattern is invalid: {error}'", pattern.source)),
        };
        out.push(invalid(field(path), &text.into(), &detail));
    }
}

/// multipleOf, maximum and minimum. An integer is compared with the bound truncated to an
/// integer, as kube-openapi's native-type checks do; a float with the bound as it is.
fn number_checks(schema: &Structural, value: &Value, path: &str, out: &mut Vec<Cause>) {
    let integer = value.as_i64();
    let float = value.as_f64().unwrap_or_default();
    let push = |out: &mut Vec<Cause>, rest: String| out.push(invalid(field(path), value, &body(path, &rest)));
    // Truncation toward zero is Go's int64(float64) for the bounds that matter.
    let truncated = |bound: f64| bound as i64;
    if let Some(factor) = schema.value.multiple_of {
        match integer {
            Some(data) => {
                let factor = truncated(factor);
                if factor <= 0 {
                    let message = format!("factor MultipleOf declared for {path} must be positive: {factor}");
                    out.push(invalid(field(path), &Value::String(String::new()), &message));
                } else if data % factor != 0 {
                    push(out, format!("should be a multiple of {factor}"));
                }
            }
            None => {
                if factor <= 0.0 {
                    let message = format!("factor MultipleOf declared for {path} must be positive: {}", go_float(factor));
                    out.push(invalid(field(path), &Value::String(String::new()), &message));
                } else {
                    let multiple = if factor < 1.0 { 1.0 / factor * float } else { float / factor };
                    if multiple.fract() != 0.0 || !multiple.is_finite() {
                        push(out, format!("should be a multiple of {}", go_float(factor)));
                    }
                }
            }
        }
    }
    let shown = |bound: f64| match integer {
        Some(_) => truncated(bound).to_string(),
        None => go_float(bound),
    };
    if let Some(minimum) = schema.value.minimum {
        let exclusive = schema.value.exclusive_minimum;
        let below = match integer {
            Some(data) => if exclusive { data <= truncated(minimum) } else { data < truncated(minimum) },
            None => if exclusive { float <= minimum } else { float < minimum },
        };
        if below {
            let relation = if exclusive { "greater than" } else { "greater than or equal to" };
            push(out, format!("should be {relation} {}", shown(minimum)));
        }
    }
    if let Some(maximum) = schema.value.maximum {
        let exclusive = schema.value.exclusive_maximum;
        let above = match integer {
            Some(data) => if exclusive { data >= truncated(maximum) } else { data > truncated(maximum) },
            None => if exclusive { float >= maximum } else { float > maximum },
        };
        if above {
            let relation = if exclusive { "less than" } else { "less than or equal to" };
            push(out, format!("should be {relation} {}", shown(maximum)));
        }
    }
}

fn array_checks(schema: &Structural, items: &[Value], path: &str, depth: usize, out: &mut Vec<Cause>) {
    if let Some(item_schema) = &schema.items {
        for (at, item) in items.iter().enumerate() {
            node(item_schema, item, &index(path, at), depth + 1, out);
        }
    }
    let size = i64::try_from(items.len()).unwrap_or(i64::MAX);
    if let Some(min) = schema.value.min_items
        && size < min
    {
        out.push(invalid(field(path), &size.into(), &body(path, &format!("should have at least {min} items"))));
    }
    if let Some(max) = schema.value.max_items
        && size > max
    {
        out.push(Cause::too_many(field(path), items.len(), max));
    }
    if schema.value.unique_items && items.iter().enumerate().any(|(at, item)| items[..at].contains(item)) {
        out.push(invalid(field(path), &Value::String(String::new()), &body(path, "shouldn't contain duplicates")));
    }
}

/// `enum`: Go converts the value to each allowed value's type before comparing, so an integer
/// meets an equal float and a float meets the integer it truncates to.
fn enumeration(schema: &Structural, value: &Value, path: &str, out: &mut Vec<Cause>) {
    let allowed = &schema.value.enum_;
    if allowed.is_empty() || allowed.iter().any(|candidate| enum_matches(candidate, value)) {
        return;
    }
    let shown: Vec<String> = allowed
        .iter()
        .map(|candidate| match candidate {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        })
        .collect();
    out.push(not_supported(field(path), value, &shown));
}

fn enum_matches(candidate: &Value, value: &Value) -> bool {
    match (candidate, value) {
        (Value::Number(allowed), Value::Number(given)) => match allowed.as_i64() {
            Some(allowed) if !allowed_is_float(candidate) => given.as_i64().or_else(|| given.as_f64().map(|float| float as i64)) == Some(allowed),
            _ => allowed.as_f64() == given.as_f64(),
        },
        _ => candidate == value,
    }
}

fn allowed_is_float(candidate: &Value) -> bool {
    matches!(candidate, Value::Number(number) if number.is_f64())
}

fn object_checks(schema: &Structural, fields: &Map<String, Value>, path: &str, depth: usize, out: &mut Vec<Cause>) {
    let count = i64::try_from(fields.len()).unwrap_or(i64::MAX);
    if let Some(min) = schema.value.min_properties
        && count < min
    {
        out.push(invalid(field(path), &count.into(), &body(path, &format!("should have at least {min} properties"))));
    }
    if let Some(max) = schema.value.max_properties
        && count > max
    {
        out.push(Cause::too_many(field(path), fields.len(), max));
    }
    match &schema.additional_properties {
        Some(AdditionalProperties::Allows(false)) => {
            for name in fields.keys().filter(|name| !schema.properties.contains_key(*name)) {
                let detail = format!("{path}.{name} in body is a forbidden property");
                out.push(invalid(field(path), &name.as_str().into(), &detail));
            }
        }
        Some(AdditionalProperties::Schema(inner)) => {
            for (name, value) in fields.iter().filter(|(name, _)| !schema.properties.contains_key(*name)) {
                node(inner, value, &format!("{path}.{name}"), depth + 1, out);
            }
        }
        _ => {}
    }
    for (name, property) in &schema.properties {
        if let Some(value) = fields.get(name) {
            node(property, value, &child(path, name), depth + 1, out);
        }
    }
    for name in schema.value.required.iter().filter(|name| !fields.contains_key(*name)) {
        out.push(Cause::required(field(&format!("{path}.{name}")), ""));
    }
}

/// kube's `objectmeta.Validate` below the root: every embedded resource needs a well-formed
/// `apiVersion` and `kind`, and a `metadata` that is an object.
fn embedded(schema: &Structural, value: &Value, path: &str, depth: usize, out: &mut Vec<Cause>) {
    if depth > MAX_DEPTH {
        return;
    }
    match value {
        Value::Object(fields) => {
            if schema.embedded_resource {
                type_meta(fields, path, out);
            }
            for (name, inner) in fields {
                if let Some(property) = schema.properties.get(name) {
                    embedded(property, inner, &child(path, name), depth + 1, out);
                } else if let Some(additional) = schema.additional_schema() {
                    embedded(additional, inner, &key(path, name), depth + 1, out);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = &schema.items {
                for (at, item) in items.iter().enumerate() {
                    embedded(item_schema, item, &index(path, at), depth + 1, out);
                }
            }
        }
        _ => {}
    }
}

/// kube's `validateEmbeddedResource`. Of `metadata` only its being an object is checked here:
/// the full ObjectMeta validation is the caller's, as for the object's own.
fn type_meta(fields: &Map<String, Value>, path: &str, out: &mut Vec<Cause>) {
    for name in ["apiVersion", "kind"] {
        if !fields.contains_key(name) {
            out.push(Cause::required(child(path, name), "must not be empty"));
        }
    }
    for (name, value) in fields {
        let at = child(path, name);
        match (name.as_str(), value) {
            ("apiVersion" | "kind", Value::String(text)) if text.is_empty() => out.push(invalid(at, value, "must not be empty")),
            ("apiVersion" | "kind", Value::String(text)) => {
                let problem = if name == "apiVersion" { group_version_problem(text) } else { kind_problem(text) };
                if let Some(problem) = problem {
                    out.push(invalid(at, value, &problem));
                }
            }
            ("apiVersion" | "kind", _) => out.push(invalid(at, value, "must be a string")),
            ("metadata", Value::Object(_)) => {}
            ("metadata", _) => {
                let detail = format!("expected object, got {}", kind_of(value).0);
                out.push(invalid(at, value, &detail));
            }
            _ => {}
        }
    }
}

/// apimachinery's `schema.ParseGroupVersion`: `v1` or `group/version`, no more slashes.
fn group_version_problem(text: &str) -> Option<String> {
    (text.matches('/').count() > 1).then(|| format!("unexpected GroupVersion string: {text}"))
}

/// `IsDNS1035Label` of the lower-cased kind, as kube words its failure.
fn kind_problem(text: &str) -> Option<String> {
    let lower = text.to_lowercase();
    let mut problems = Vec::new();
    if lower.len() > 63 {
        problems.push("must be no more than 63 characters".to_string());
    }
    let shape_ok = lower.chars().next().is_some_and(|first| first.is_ascii_lowercase())
        && lower.chars().last().is_some_and(|last| last.is_ascii_lowercase() || last.is_ascii_digit())
        && lower.chars().all(|character| character.is_ascii_lowercase() || character.is_ascii_digit() || character == '-');
    if !shape_ok {
        problems.push("a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')".to_string());
    }
    (!problems.is_empty()).then(|| format!("may have mixed case, but should otherwise match: {}", problems.join(",")))
}

/// kube's `ValidateListSetsAndMaps` over an object's fields.
fn lists_in_object(schema: &Structural, fields: &Map<String, Value>, path: &str, depth: usize, out: &mut Vec<Cause>) {
    if depth > MAX_DEPTH {
        return;
    }
    if let Some(additional) = schema.additional_schema() {
        for (name, value) in fields {
            lists(additional, value, &key(path, name), depth + 1, out);
        }
    }
    for (name, value) in fields {
        if let Some(property) = schema.properties.get(name) {
            lists(property, value, &child(path, name), depth + 1, out);
        }
    }
}

fn lists(schema: &Structural, value: &Value, path: &str, depth: usize, out: &mut Vec<Cause>) {
    match value {
        Value::Object(fields) => lists_in_object(schema, fields, path, depth, out),
        Value::Array(items) => {
            match schema.list_type.as_deref() {
                Some("set") => {
                    for at in second_occurrences(items) {
                        out.push(duplicate(index(path, at), &items[at]));
                    }
                }
                Some("map") => list_map(schema, items, path, out),
                _ => {}
            }
            if let Some(item_schema) = &schema.items {
                for (at, item) in items.iter().enumerate() {
                    lists(item_schema, item, &index(path, at), depth + 1, out);
                }
            }
        }
        _ => {}
    }
}

/// The index of the second occurrence of every value that occurs more than once, in order
/// (kube's `validateListSet` reports each duplicated value once).
fn second_occurrences(items: &[Value]) -> Vec<usize> {
    let mut seen: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let mut out = Vec::new();
    for (at, item) in items.iter().enumerate() {
        // serde_json's text of a value is canonical for equality here: object keys are sorted.
        let count = seen.entry(item.to_string()).or_default();
        *count += 1;
        if *count == 2 {
            out.push(at);
        }
    }
    out
}

/// kube's `validateListMap`: items must be objects (or null), unique by their map keys.
fn list_map(schema: &Structural, items: &[Value], path: &str, out: &mut Vec<Cause>) {
    if let Some((at, item)) = items.iter().enumerate().find(|(_, item)| !item.is_null() && !item.is_object()) {
        out.push(invalid(index(path, at), item, "must be an object for an array of list-type map"));
        return;
    }
    let keys: Vec<Value> = items
        .iter()
        .map(|item| {
            let mut key = Map::new();
            for name in &schema.list_map_keys {
                if let Some(found) = item.get(name) {
                    key.insert(name.clone(), found.clone());
                }
            }
            Value::Object(key)
        })
        .collect();
    for at in second_occurrences(&keys) {
        out.push(duplicate(index(path, at), &keys[at]));
    }
}

#[cfg(test)]
mod tests {
    // Table rows live in the module's tests (tests.rs); this keeps the helpers honest.
    use super::*;

    #[test]
    fn kinds_follow_dns1035_as_kube_words_it() {
        assert_eq!(kind_problem("Foo"), None);
        assert!(kind_problem("1foo").is_some_and(|problem| problem.starts_with("may have mixed case, but should otherwise match: a DNS-1035 label")));
        assert_eq!(group_version_problem("a/b/c"), Some("unexpected GroupVersion string: a/b/c".into()));
    }
}
