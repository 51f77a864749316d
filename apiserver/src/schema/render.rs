//! Values in messages as kube-apiserver prints them. Its field errors print a bad value with
//! Go's fmt (`%q` for a string, `%v` for a number or bool, `%#v` for a map or slice), and
//! kube-openapi's messages print numbers with `%v`; clients and tests compare these texts.

use serde_json::Value;

use crate::cause::Cause;

/// `field.Invalid(path, value, detail)`.
pub(super) fn invalid(field: impl Into<String>, value: &Value, detail: &str) -> Cause {
    Cause { reason: "FieldValueInvalid", field: field.into(), message: format!("Invalid value: {}: {detail}", bad_value(value)) }
}

/// `field.TypeInvalid(path, value, detail)`: worded as Invalid, with its own reason.
pub(super) fn type_invalid(field: impl Into<String>, value: &Value, detail: &str) -> Cause {
    Cause { reason: "FieldValueTypeInvalid", field: field.into(), message: format!("Invalid value: {}: {detail}", bad_value(value)) }
}

/// `field.Duplicate(path, value)`.
pub(super) fn duplicate(field: impl Into<String>, value: &Value) -> Cause {
    Cause { reason: "FieldValueDuplicate", field: field.into(), message: format!("Duplicate value: {}", bad_value(value)) }
}

/// `field.NotSupported(path, value, supported)`: each supported value quoted with `%q`.
pub(super) fn not_supported(field: impl Into<String>, value: &Value, supported: &[String]) -> Cause {
    let mut message = format!("Unsupported value: {}", bad_value(value));
    if !supported.is_empty() {
        let quoted: Vec<String> = supported.iter().map(|value| go_quote(value)).collect();
        message.push_str(&format!(": supported values: {}", quoted.join(", ")));
    }
    Cause { reason: "FieldValueNotSupported", field: field.into(), message }
}

/// A bad value as `field.Error.ErrorBody` prints it.
pub(super) fn bad_value(value: &Value) -> String {
    match value {
        Value::Null => "\"null\"".to_string(),
        Value::String(text) => go_quote(text),
        Value::Bool(flag) => flag.to_string(),
        Value::Number(_) => number(value),
        Value::Array(_) | Value::Object(_) => sharp(value),
    }
}

/// A JSON number as Go's `%v` prints the int64 or float64 it decodes to.
pub(super) fn number(value: &Value) -> String {
    match value.as_i64() {
        Some(integer) => integer.to_string(),
        None => go_float(value.as_f64().unwrap_or_default()),
    }
}

/// Go's `%v` of a float64: the shortest digits, in exponent form when the exponent is below
/// -4 or at least 6 (strconv's `'g'` with the shortest precision), the exponent of at least
/// two digits.
pub(super) fn go_float(value: f64) -> String {
    if value == 0.0 || !value.is_finite() {
        return if value.is_nan() { "NaN".into() } else if value.is_infinite() { if value > 0.0 { "+Inf".into() } else { "-Inf".into() } } else { "0".into() };
    }
    let scientific = format!("{value:e}");
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exponent: i32 = exponent.parse().unwrap_or_default();
    if !(-4..6).contains(&exponent) {
        let sign = if exponent < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exponent.abs())
    } else {
        format!("{value}")
    }
}

/// Go's `%#v` of a decoded JSON value (`map[string]interface {}{"a":1}`), keys sorted as Go
/// sorts them. Bounded by the value's depth, which the callers' schema walks bound.
fn sharp(value: &Value) -> String {
    match value {
        Value::Null => "interface {}(nil)".to_string(),
        Value::String(text) => go_quote(text),
        Value::Bool(flag) => flag.to_string(),
        Value::Number(_) => number(value),
        Value::Array(items) => {
            let inner: Vec<String> = items.iter().map(sharp).collect();
            format!("[]interface {{}}{{{}}}", inner.join(", "))
        }
        Value::Object(fields) => {
            let mut keys: Vec<&String> = fields.keys().collect();
            keys.sort();
            let inner: Vec<String> = keys.iter().map(|key| format!("{}:{}", go_quote(key), sharp(&fields[key.as_str()]))).collect();
            format!("map[string]interface {{}}{{{}}}", inner.join(", "))
        }
    }
}

/// Go's `strconv.Quote`: printable characters as they are, the rest escaped.
pub(super) fn go_quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for character in text.chars() {
        match character {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\u{b}' => out.push_str("\\v"),
            control if (control as u32) < 0x20 || control as u32 == 0x7f => out.push_str(&format!("\\x{:02x}", control as u32)),
            control if control.is_control() => {
                let code = control as u32;
                if code > 0xffff { out.push_str(&format!("\\U{code:08x}")) } else { out.push_str(&format!("\\u{code:04x}")) }
            }
            other => out.push(other),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_print_as_go_prints_them() {
        let rows = [
            (json!("x"), "\"x\""),
            (json!(5), "5"),
            (json!(1.5), "1.5"),
            (json!(1000000.0), "1e+06"),
            (json!(123456.0), "123456"),
            (json!(0.00001), "1e-05"),
            (json!(true), "true"),
            (json!(null), "\"null\""),
            (json!({"name": "a", "b": 1}), "map[string]interface {}{\"b\":1, \"name\":\"a\"}"),
            (json!(["a", 1, null]), "[]interface {}{\"a\", 1, interface {}(nil)}"),
            (json!("tab\there"), "\"tab\\there\""),
        ];
        for (value, want) in rows {
            assert_eq!(bad_value(&value), want, "{value}");
        }
    }
}
