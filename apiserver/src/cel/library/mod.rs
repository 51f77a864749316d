//! The functions rules can call, as kube-apiserver 1.33 declares them: CEL's standard
//! functions and conversions, cel-go's strings extension (version 2) and optional values,
//! and Kubernetes' libraries (lists, regex, URLs, quantities, IPs and CIDRs). `signatures`
//! types them for the checker; [`call`] runs them on values.

mod format;
pub mod network;
pub mod signatures;
mod strings;
pub mod url;

use std::cmp::Ordering;
use std::sync::Arc;

use super::cost::Cost;
use super::error::EvalError;
use super::time;
use super::value::{List, Value, compare};

/// What a call needs beyond its arguments.
pub struct Context<'a> {
    pub cost: &'a mut Cost,
    pub regexes: &'a dyn Fn(&str) -> Result<Arc<regex::Regex>, EvalError>,
}

type Outcome = Result<Value, EvalError>;

fn fail(message: impl Into<String>) -> Outcome {
    Err(EvalError::message(message))
}

/// Calls `name` on `target` (a method) or globally, with `args` evaluated.
pub fn call(context: &mut Context<'_>, name: &str, target: Option<&Value>, args: &[Value]) -> Outcome {
    if let Some(outcome) = standard(context, name, target, args) {
        return outcome;
    }
    if let Some(outcome) = strings::call(context, name, target, args) {
        return outcome;
    }
    if let Some(outcome) = kubernetes(context, name, target, args) {
        return outcome;
    }
    Err(EvalError::no_overload())
}

fn size_of(value: &Value) -> Outcome {
    let size = match value {
        Value::String(text) => text.chars().count(),
        Value::Bytes(bytes) => bytes.len(),
        Value::List(list) => list.items.len(),
        Value::Map(map) => map.len(),
        Value::Object(fields) => fields.len(),
        _ => return Err(EvalError::no_overload()),
    };
    Ok(Value::Int(i64::try_from(size).unwrap_or(i64::MAX)))
}

fn standard(context: &mut Context<'_>, name: &str, target: Option<&Value>, args: &[Value]) -> Option<Outcome> {
    Some(match (name, target, args) {
        ("size", None, [value]) | ("size", Some(value), []) => size_of(value),
        ("format", Some(Value::String(template)), [Value::List(list)]) => {
            traverse(context, template.len().saturating_add(list.items.len())).and_then(|()| format::format(template, &list.items, context.cost))
        }
        ("contains", Some(Value::String(text)), [Value::String(part)]) => {
            traverse(context, text.len()).map(|()| Value::Bool(text.contains(part.as_ref())))
        }
        ("startsWith", Some(Value::String(text)), [Value::String(part)]) => traverse(context, part.len()).map(|()| Value::Bool(text.starts_with(part.as_ref()))),
        ("endsWith", Some(Value::String(text)), [Value::String(part)]) => traverse(context, part.len()).map(|()| Value::Bool(text.ends_with(part.as_ref()))),
        ("matches", Some(Value::String(text)), [Value::String(pattern)]) | ("matches", None, [Value::String(text), Value::String(pattern)]) => {
            traverse(context, text.len().saturating_mul(pattern.len().max(1)) / 10)
                .and_then(|()| regex_compile_cost(context, pattern))
                .and_then(|()| (context.regexes)(pattern))
                .map(|regex| Value::Bool(regex.is_match(text)))
        }
        ("int", None, [value]) => to_int(value),
        ("uint", None, [value]) => to_uint(value),
        ("double", None, [value]) => to_double(value),
        // Only bytes convert to a string as long as themselves; charge for the copy first.
        ("string", None, [value @ Value::Bytes(bytes)]) => context.cost.output(Some(bytes.len())).and_then(|()| to_string(value)),
        ("string", None, [value]) => to_string(value),
        ("bool", None, [value]) => to_bool(value),
        ("bytes", None, [value]) => match value {
            Value::Bytes(_) => Ok(value.clone()),
            Value::String(text) => context.cost.output(Some(text.len())).map(|()| Value::Bytes(Arc::from(text.as_bytes()))),
            _ => Err(EvalError::no_overload()),
        },
        ("duration", None, [value]) => match value {
            Value::Duration(_) => Ok(value.clone()),
            Value::String(text) => common::durations::parse_go_duration(text).map(Value::Duration).map_err(|error| EvalError::Message(error.to_string())),
            _ => Err(EvalError::no_overload()),
        },
        ("timestamp", None, [value]) => match value {
            Value::Timestamp(_) => Ok(value.clone()),
            Value::String(text) => time::parse_timestamp(text).map(Value::Timestamp).map_err(EvalError::Message),
            Value::Int(seconds) => jiff::Timestamp::from_second(*seconds).map_err(|_| EvalError::message("timestamp overflow")).and_then(|at| time::in_range(at).map_err(EvalError::Message)).map(Value::Timestamp),
            _ => Err(EvalError::no_overload()),
        },
        ("type", None, [value]) => Ok(Value::Type(Arc::from(value.type_name()))),
        ("dyn", None, [value]) => Ok(value.clone()),
        (accessor, Some(Value::Timestamp(at)), []) if accessor.starts_with("get") => time::accessor(accessor, *at, None).map(Value::Int).map_err(EvalError::Message),
        (accessor, Some(Value::Timestamp(at)), [Value::String(zone)]) if accessor.starts_with("get") => time::accessor(accessor, *at, Some(zone)).map(Value::Int).map_err(EvalError::Message),
        (accessor, Some(Value::Duration(nanos)), []) if accessor.starts_with("get") => time::duration_accessor(accessor, *nanos).map(Value::Int).map_err(EvalError::Message),
        // Optional values.
        ("optional.of", None, [value]) => Ok(Value::Optional(Some(Arc::new(value.clone())))),
        ("optional.ofNonZeroValue", None, [value]) => Ok(Value::Optional((!is_zero(value)).then(|| Arc::new(value.clone())))),
        ("optional.none", None, []) => Ok(Value::Optional(None)),
        ("hasValue", Some(Value::Optional(inner)), []) => Ok(Value::Bool(inner.is_some())),
        ("value", Some(Value::Optional(inner)), []) => inner.as_deref().cloned().ok_or_else(|| EvalError::message("optional.none() dereference")),
        ("orValue", Some(Value::Optional(inner)), [fallback]) => Ok(inner.as_deref().cloned().unwrap_or_else(|| fallback.clone())),
        ("or", Some(Value::Optional(inner)), [other @ Value::Optional(_)]) => Ok(if inner.is_some() { Value::Optional(inner.clone()) } else { other.clone() }),
        _ => return None,
    })
}

/// What a regex function is charged for its pattern on every call, compiled or cached:
/// kube's regex library charges a quarter of a unit per character of the pattern, so that a
/// long pattern used per item costs in proportion.
fn regex_compile_cost(context: &mut Context<'_>, pattern: &str) -> Result<(), EvalError> {
    context.cost.charge(u64::try_from(pattern.len() / 4).unwrap_or(u64::MAX))
}

fn traverse(context: &mut Context<'_>, size: usize) -> Result<(), EvalError> {
    context.cost.traverse(size)
}

/// The zero value of a value's type, for `optional.ofNonZeroValue`.
fn is_zero(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Bool(flag) => !flag,
        Value::Int(number) => *number == 0,
        Value::Uint(number) => *number == 0,
        Value::Double(number) => *number == 0.0,
        Value::String(text) => text.is_empty(),
        Value::Bytes(bytes) => bytes.is_empty(),
        Value::Duration(nanos) => *nanos == 0,
        // Go's zero time.Time.
        Value::Timestamp(at) => at.as_second() == -62_135_596_800 && at.subsec_nanosecond() == 0,
        Value::List(list) => list.items.is_empty(),
        Value::Map(map) => map.is_empty(),
        Value::Object(fields) => fields.is_empty(),
        _ => false,
    }
}

fn to_int(value: &Value) -> Outcome {
    match value {
        Value::Int(_) => Ok(value.clone()),
        Value::Uint(number) => i64::try_from(*number).map(Value::Int).map_err(|_| EvalError::message("integer overflow")),
        Value::Double(number) => {
            if number.is_nan() || *number <= -9.223_372_036_854_776e18 || *number >= 9.223_372_036_854_776e18 {
                fail("integer overflow")
            } else {
                Ok(Value::Int(*number as i64))
            }
        }
        Value::String(text) => text.parse().map(Value::Int).or_else(|_| fail("type conversion error from 'string' to 'int'")),
        Value::Timestamp(at) => Ok(Value::Int(at.as_second())),
        _ => Err(EvalError::no_overload()),
    }
}

fn to_uint(value: &Value) -> Outcome {
    match value {
        Value::Uint(_) => Ok(value.clone()),
        Value::Int(number) => u64::try_from(*number).map(Value::Uint).map_err(|_| EvalError::message("unsigned integer overflow")),
        Value::Double(number) => {
            if number.is_nan() || *number < 0.0 || *number >= 1.844_674_407_370_955_2e19 {
                fail("unsigned integer overflow")
            } else {
                Ok(Value::Uint(*number as u64))
            }
        }
        Value::String(text) => text.parse().map(Value::Uint).or_else(|_| fail("type conversion error from 'string' to 'uint'")),
        _ => Err(EvalError::no_overload()),
    }
}

fn to_double(value: &Value) -> Outcome {
    match value {
        Value::Double(_) => Ok(value.clone()),
        Value::Int(number) => Ok(Value::Double(*number as f64)),
        Value::Uint(number) => Ok(Value::Double(*number as f64)),
        Value::String(text) => text.parse().map(Value::Double).or_else(|_| fail("type conversion error from 'string' to 'double'")),
        _ => Err(EvalError::no_overload()),
    }
}

/// cel-go's `%g`-like shortest form for doubles in `string()`.
pub fn format_double(number: f64) -> String {
    if number.is_nan() {
        return "NaN".into();
    }
    if number.is_infinite() {
        return if number > 0.0 { "+Inf".into() } else { "-Inf".into() };
    }
    let exponent = if number == 0.0 { 0 } else { number.abs().log10().floor() as i32 };
    if !(-4..21).contains(&exponent) {
        let scientific = format!("{number:e}");
        let (mantissa, power) = scientific.split_once('e').unwrap_or((&scientific, "0"));
        let power: i32 = power.parse().unwrap_or_default();
        return format!("{mantissa}e{}{:02}", if power < 0 { '-' } else { '+' }, power.abs());
    }
    format!("{number}")
}

fn to_string(value: &Value) -> Outcome {
    Ok(Value::string(match value {
        Value::String(_) => return Ok(value.clone()),
        Value::Int(number) => number.to_string(),
        Value::Uint(number) => number.to_string(),
        Value::Double(number) => format_double(*number),
        Value::Bool(flag) => flag.to_string(),
        Value::Bytes(bytes) => std::str::from_utf8(bytes).map_err(|_| EvalError::message("invalid UTF-8 in bytes, cannot convert to string"))?.to_string(),
        Value::Duration(nanos) => time::format_duration(*nanos),
        Value::Timestamp(at) => time::format_timestamp(*at),
        Value::Ip(address) => address.to_string(),
        Value::Cidr(cidr) => network::cidr_string(*cidr),
        Value::Url(url) => url_text(url),
        _ => return Err(EvalError::no_overload()),
    }))
}

fn url_text(url: &super::value::Url) -> String {
    let mut out = String::new();
    if !url.scheme.is_empty() {
        out.push_str(&url.scheme);
        out.push(':');
        if !url.host.is_empty() {
            out.push_str("//");
        }
    }
    out.push_str(&url.host);
    out.push_str(&url.path);
    if !url.query.is_empty() {
        out.push('?');
        out.push_str(&url.query);
    }
    out
}

fn to_bool(value: &Value) -> Outcome {
    match value {
        Value::Bool(_) => Ok(value.clone()),
        Value::String(text) => match text.as_ref() {
            "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(Value::Bool(true)),
            "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(Value::Bool(false)),
            _ => fail("type conversion error from 'string' to 'bool'"),
        },
        _ => Err(EvalError::no_overload()),
    }
}

/// Kubernetes' own libraries: lists, regex, URL, quantity, IP and CIDR, sets.
fn kubernetes(context: &mut Context<'_>, name: &str, target: Option<&Value>, args: &[Value]) -> Option<Outcome> {
    Some(match (name, target, args) {
        ("isSorted", Some(Value::List(list)), []) => traverse(context, list.items.len()).and_then(|()| {
            let mut sorted = true;
            for pair in list.items.windows(2) {
                match compare(&pair[0], &pair[1]) {
                    Some(Ordering::Greater) => sorted = false,
                    Some(_) => {}
                    None => return Err(EvalError::no_overload()),
                }
            }
            Ok(Value::Bool(sorted))
        }),
        ("sum", Some(Value::List(list)), []) => traverse(context, list.items.len()).and_then(|()| sum(&list.items)),
        ("min" | "max", Some(Value::List(list)), []) => traverse(context, list.items.len()).and_then(|()| extreme(&list.items, name == "max")),
        ("indexOf" | "lastIndexOf", Some(Value::List(list)), [wanted]) => traverse(context, list.items.len()).and_then(|()| {
            // Each comparison charged for what it compares (the items may be deep).
            let mut found = None;
            let mut positions: Box<dyn Iterator<Item = usize>> = if name == "indexOf" { Box::new(0..list.items.len()) } else { Box::new((0..list.items.len()).rev()) };
            for at in &mut positions {
                if context.cost.equal(&list.items[at], wanted)? {
                    found = Some(at);
                    break;
                }
            }
            Ok(Value::Int(found.map_or(-1, |at| i64::try_from(at).unwrap_or(i64::MAX))))
        }),
        ("find", Some(Value::String(text)), [Value::String(pattern)]) => {
            traverse(context, text.len()).and_then(|()| regex_compile_cost(context, pattern)).and_then(|()| (context.regexes)(pattern)).map(|regex| Value::string(regex.find(text).map_or("", |found| found.as_str())))
        }
        ("findAll", Some(Value::String(text)), [Value::String(pattern), rest @ ..]) if rest.len() <= 1 => {
            let limit = match rest.first() {
                Some(Value::Int(limit)) if *limit >= 0 => usize::try_from(*limit).unwrap_or(usize::MAX),
                Some(Value::Int(_)) | None => usize::MAX,
                Some(_) => return Some(Err(EvalError::no_overload())),
            };
            traverse(context, text.len())
                .and_then(|()| regex_compile_cost(context, pattern))
                .and_then(|()| (context.regexes)(pattern))
                .map(|regex| Value::list(regex.find_iter(text).take(limit).map(|found| Value::string(found.as_str())).collect()))
        }
        ("url", None, [Value::String(text)]) => url::parse(text).map(|url| Value::Url(Arc::new(url))).map_err(EvalError::Message),
        ("isURL", None, [Value::String(text)]) => Ok(Value::Bool(url::parse(text).is_ok())),
        (method, Some(Value::Url(url)), []) => return url::method(method, url).map(Ok),
        ("quantity", None, [Value::String(text)]) => common::quantity::parse(text).map(|quantity| Value::Quantity(quantity, Some(text.clone()))).map_err(|error| EvalError::message(error.to_string())),
        ("isQuantity", None, [Value::String(text)]) => Ok(Value::Bool(common::quantity::parse(text).is_ok())),
        (_, Some(Value::Quantity(quantity, _)), _) => return quantity_method(name, quantity, args),
        ("ip", None, [Value::String(text)]) => network::parse_ip(text).map(Value::Ip).map_err(EvalError::Message),
        ("isIP", None, [Value::String(text)]) => Ok(Value::Bool(network::parse_ip(text).is_ok())),
        ("ip.isCanonical", None, [Value::String(text)]) => network::is_canonical(text).map(Value::Bool).map_err(EvalError::Message),
        ("cidr", None, [Value::String(text)]) => network::parse_cidr(text).map(Value::Cidr).map_err(EvalError::Message),
        ("isCIDR", None, [Value::String(text)]) => Ok(Value::Bool(network::parse_cidr(text).is_ok())),
        (method, Some(Value::Ip(address)), []) => return network::ip_method(method, *address).map(Ok),
        ("containsIP", Some(Value::Cidr(cidr)), [other]) => match other {
            Value::Ip(address) => Ok(Value::Bool(cidr.contains(*address))),
            Value::String(text) => network::parse_ip(text).map(|address| Value::Bool(cidr.contains(address))).map_err(EvalError::Message),
            _ => Err(EvalError::no_overload()),
        },
        ("containsCIDR", Some(Value::Cidr(cidr)), [other]) => {
            let inner = match other {
                Value::Cidr(inner) => Ok(*inner),
                Value::String(text) => network::parse_cidr(text).map_err(EvalError::Message),
                _ => Err(EvalError::no_overload()),
            };
            inner.map(|inner| Value::Bool(inner.prefix >= cidr.prefix && cidr.contains(inner.address)))
        }
        (method, Some(Value::Cidr(cidr)), []) => return network::cidr_method(method, *cidr).map(Ok),
        ("sets.contains" | "sets.intersects" | "sets.equivalent", None, [Value::List(left), Value::List(right)]) => {
            traverse(context, left.items.len().saturating_mul(right.items.len())).and_then(|()| {
                // Each comparison charged for what it compares (the items may be deep).
                let cost = &mut *context.cost;
                let mut contains = |list: &List, wanted: &Value| -> Result<bool, EvalError> {
                    for item in &list.items {
                        if cost.equal(wanted, item)? {
                            return Ok(true);
                        }
                    }
                    Ok(false)
                };
                let mut within = |a: &List, b: &List| -> Result<bool, EvalError> {
                    for item in &a.items {
                        if !contains(b, item)? {
                            return Ok(false);
                        }
                    }
                    Ok(true)
                };
                Ok(Value::Bool(match name {
                    "sets.contains" => within(right, left)?,
                    "sets.intersects" => {
                        let mut any = false;
                        for item in &left.items {
                            if contains(right, item)? {
                                any = true;
                                break;
                            }
                        }
                        any
                    }
                    _ => within(left, right)? && within(right, left)?,
                }))
            })
        }
        _ => return None,
    })
}

fn sum(items: &[Value]) -> Outcome {
    let mut total = match items.first() {
        None => return Ok(Value::Int(0)),
        Some(Value::Int(_)) => Value::Int(0),
        Some(Value::Uint(_)) => Value::Uint(0),
        Some(Value::Double(_)) => Value::Double(0.0),
        Some(Value::Duration(_)) => Value::Duration(0),
        Some(_) => return Err(EvalError::no_overload()),
    };
    for item in items {
        total = super::operators::arithmetic("_+_", &total, item)?;
    }
    Ok(total)
}

fn extreme(items: &[Value], largest: bool) -> Outcome {
    let Some(mut best) = items.first() else { return fail("min called on empty list".replace("min", if largest { "max" } else { "min" })) };
    for item in &items[1..] {
        let ordering = compare(item, best).ok_or_else(EvalError::no_overload)?;
        if (largest && ordering == Ordering::Greater) || (!largest && ordering == Ordering::Less) {
            best = item;
        }
    }
    Ok(best.clone())
}

fn quantity_method(name: &str, quantity: &common::quantity::Quantity, args: &[Value]) -> Option<Outcome> {
    let other = |value: &Value| match value {
        Value::Quantity(other, _) => Some(*other),
        Value::Int(number) => common::quantity::parse(&number.to_string()).ok(),
        _ => None,
    };
    // The negation of a quantity, through its text: `-` added or taken away.
    let negated = |value: &Value| match value {
        Value::Quantity(_, Some(text)) => common::quantity::parse(&match text.strip_prefix('-') {
            Some(positive) => positive.to_string(),
            None => format!("-{}", text.strip_prefix('+').unwrap_or(text)),
        })
        .ok(),
        Value::Int(number) => number.checked_neg().and_then(|negative| common::quantity::parse(&negative.to_string()).ok()),
        _ => None,
    };
    Some(match (name, args) {
        ("isGreaterThan", [Value::Quantity(other, _)]) => Ok(Value::Bool(quantity.compare(other) == Ordering::Greater)),
        ("isLessThan", [Value::Quantity(other, _)]) => Ok(Value::Bool(quantity.compare(other) == Ordering::Less)),
        ("compareTo", [Value::Quantity(other, _)]) => Ok(Value::Int(match quantity.compare(other) {
            Ordering::Less => -1,
            Ordering::Equal => 0,
            Ordering::Greater => 1,
        })),
        ("add", [value]) => other(value).map(|other| Value::Quantity(quantity.add(&other), None)).ok_or_else(EvalError::no_overload),
        ("sub", [value]) => negated(value).map(|other| Value::Quantity(quantity.add(&other), None)).ok_or_else(EvalError::no_overload),
        ("sign", []) => Ok(Value::Int(if quantity.is_negative() { -1 } else if quantity.is_positive() { 1 } else { 0 })),
        ("isInteger", []) => Ok(Value::Bool(quantity.is_integer())),
        ("asInteger", []) => {
            if quantity.is_integer() {
                Ok(Value::Int(quantity.value()))
            } else {
                fail("cannot convert value to integer")
            }
        }
        ("asApproximateFloat", []) => Ok(Value::Double(quantity.milli_value() as f64 / 1000.0)),
        _ => return None,
    })
}
