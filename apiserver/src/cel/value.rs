//! CEL's runtime values, their equality and ordering (heterogeneous numeric equality, as
//! cel-go has it on), and their making from a JSON value along a declared type, as kube's
//! `UnstructuredToVal` makes them: formats `duration`, `date-time` and `byte` become
//! durations, timestamps and bytes, `number`s doubles, undeclared fields vanish.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::sync::Arc;

use super::error::EvalError;
use super::time;
use super::types::{ListKind, Type};

#[derive(Clone, Debug)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Uint(u64),
    Double(f64),
    String(Arc<str>),
    Bytes(Arc<[u8]>),
    /// Nanoseconds, as Go's `time.Duration`.
    Duration(i64),
    Timestamp(jiff::Timestamp),
    List(Arc<List>),
    Map(Arc<BTreeMap<Key, Value>>),
    /// An object of a declared type: its present fields by escaped name.
    Object(Arc<BTreeMap<String, Value>>),
    /// A type as a value: `int`, `list`, an object type's name.
    Type(Arc<str>),
    Optional(Option<Arc<Value>>),
    Url(Arc<Url>),
    /// A quantity, with its text where it was parsed from one (`sub` negates the text, as
    /// the shared quantity type has no negation).
    Quantity(common::quantity::Quantity, Option<Arc<str>>),
    Ip(std::net::IpAddr),
    Cidr(Cidr),
}

/// A URL as Kubernetes' URL library holds it (parsed in `library::url`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Url {
    pub scheme: String,
    pub host: String,
    pub path: String,
    pub query: String,
}

/// A CIDR as Kubernetes' CIDR library holds it (parsed in `library::network`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    pub address: std::net::IpAddr,
    pub prefix: u8,
}

#[derive(Clone, Debug, Default)]
pub struct List {
    pub items: Vec<Value>,
    pub kind: ListKind,
}

/// A map key: CEL allows bools, integers and strings.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Key {
    Bool(bool),
    Int(i64),
    Uint(u64),
    String(Arc<str>),
}

impl Key {
    pub fn from_value(value: &Value) -> Option<Key> {
        Some(match value {
            Value::Bool(flag) => Key::Bool(*flag),
            Value::Int(number) => Key::Int(*number),
            Value::Uint(number) => Key::Uint(*number),
            Value::String(text) => Key::String(text.clone()),
            _ => return None,
        })
    }

    pub fn to_value(&self) -> Value {
        match self {
            Key::Bool(flag) => Value::Bool(*flag),
            Key::Int(number) => Value::Int(*number),
            Key::Uint(number) => Value::Uint(*number),
            Key::String(text) => Value::String(text.clone()),
        }
    }
}

impl Value {
    pub fn string(text: impl Into<Arc<str>>) -> Value {
        Value::String(text.into())
    }

    pub fn list(items: Vec<Value>) -> Value {
        Value::List(Arc::new(List { items, kind: ListKind::Atomic }))
    }

    /// The name of the value's type, as `type()` gives it and cel-go prints it.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null_type",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Uint(_) => "uint",
            Value::Double(_) => "double",
            Value::String(_) => "string",
            Value::Bytes(_) => "bytes",
            Value::Duration(_) => "google.protobuf.Duration",
            Value::Timestamp(_) => "google.protobuf.Timestamp",
            Value::List(_) => "list",
            Value::Map(_) => "map",
            Value::Object(_) => "object",
            Value::Type(_) => "type",
            Value::Optional(_) => "optional_type",
            Value::Url(_) => "kubernetes.URL",
            Value::Quantity(..) => "kubernetes.Quantity",
            Value::Ip(_) => "net.IP",
            Value::Cidr(_) => "net.CIDR",
        }
    }

    /// Looks a key up in a map, numeric keys matching across int, uint and double.
    pub fn map_get<'a>(map: &'a BTreeMap<Key, Value>, key: &Value) -> Option<&'a Value> {
        let candidates: Vec<Key> = match key {
            Value::Int(number) => vec![Key::Int(*number), Key::Uint(u64::try_from(*number).unwrap_or(u64::MAX))],
            Value::Uint(number) => vec![Key::Uint(*number), Key::Int(i64::try_from(*number).unwrap_or(-1))],
            Value::Double(number) if number.fract() == 0.0 => vec![Key::Int(*number as i64), Key::Uint(*number as u64)],
            other => Key::from_value(other).into_iter().collect(),
        };
        candidates.iter().find_map(|candidate| map.get(candidate))
    }
}

/// CEL equality: numbers by value across types, lists in order (but kube's `set` and `map`
/// lists regardless of it), maps and objects by their entries; values of other types differ.
pub fn equal(left: &Value, right: &Value) -> bool {
    equal_counted(left, right, &mut |_| Ok(())).unwrap_or(false)
}

/// [`equal`], reporting to `work` each node it visits (one) and each string or bytes it
/// compares (their length) as it goes, so that a caller can charge for a deep or wide
/// comparison and stop it midway. Identical shared strings and bytes compare at once.
pub fn equal_counted(left: &Value, right: &Value, work: &mut dyn FnMut(usize) -> Result<(), EvalError>) -> Result<bool, EvalError> {
    work(1)?;
    if let (Some(ordering), true) = (numeric_order(left, right), is_number(left) && is_number(right)) {
        return Ok(ordering == Ordering::Equal);
    }
    Ok(match (left, right) {
        (Value::Null, Value::Null) => true,
        (Value::Bool(a), Value::Bool(b)) => a == b,
        (Value::String(a), Value::String(b)) => {
            if Arc::ptr_eq(a, b) {
                return Ok(true);
            }
            work(a.len().min(b.len()))?;
            a == b
        }
        (Value::Bytes(a), Value::Bytes(b)) => {
            if Arc::ptr_eq(a, b) {
                return Ok(true);
            }
            work(a.len().min(b.len()))?;
            a == b
        }
        (Value::Duration(a), Value::Duration(b)) => a == b,
        (Value::Timestamp(a), Value::Timestamp(b)) => a == b,
        (Value::Type(a), Value::Type(b)) => a == b,
        (Value::List(a), Value::List(b)) => {
            if a.items.len() != b.items.len() {
                return Ok(false);
            }
            // The left side's kind decides, as kube's list values implement `Equal`.
            if a.kind != ListKind::Atomic {
                // Unordered: every item of one has an equal in the other, counted once.
                let mut used = vec![false; b.items.len()];
                for item in &a.items {
                    let mut found = false;
                    for (at, other) in b.items.iter().enumerate() {
                        if !used[at] && equal_counted(item, other, work)? {
                            used[at] = true;
                            found = true;
                            break;
                        }
                    }
                    if !found {
                        return Ok(false);
                    }
                }
                return Ok(true);
            }
            for (x, y) in a.items.iter().zip(&b.items) {
                if !equal_counted(x, y, work)? {
                    return Ok(false);
                }
            }
            true
        }
        (Value::Map(a), Value::Map(b)) => {
            if a.len() != b.len() {
                return Ok(false);
            }
            for (key, value) in a.iter() {
                match Value::map_get(b, &key.to_value()) {
                    Some(other) if equal_counted(value, other, work)? => {}
                    _ => return Ok(false),
                }
            }
            true
        }
        (Value::Object(a), Value::Object(b)) => {
            if a.len() != b.len() {
                return Ok(false);
            }
            for (name, value) in a.iter() {
                match b.get(name) {
                    Some(other) if equal_counted(value, other, work)? => {}
                    _ => return Ok(false),
                }
            }
            true
        }
        (Value::Optional(a), Value::Optional(b)) => match (a, b) {
            (None, None) => true,
            (Some(a), Some(b)) => equal_counted(a, b, work)?,
            _ => false,
        },
        (Value::Url(a), Value::Url(b)) => a == b,
        (Value::Quantity(a, _), Value::Quantity(b, _)) => a.compare(b) == Ordering::Equal,
        (Value::Ip(a), Value::Ip(b)) => a == b,
        (Value::Cidr(a), Value::Cidr(b)) => a == b,
        _ => false,
    })
}

fn is_number(value: &Value) -> bool {
    matches!(value, Value::Int(_) | Value::Uint(_) | Value::Double(_))
}

/// Orders numbers of any of the three kinds by value; `None` for NaN or non-numbers.
fn numeric_order(left: &Value, right: &Value) -> Option<Ordering> {
    match (left, right) {
        (Value::Int(a), Value::Int(b)) => Some(a.cmp(b)),
        (Value::Uint(a), Value::Uint(b)) => Some(a.cmp(b)),
        (Value::Int(a), Value::Uint(b)) => Some(if *a < 0 { Ordering::Less } else { (*a as u64).cmp(b) }),
        (Value::Uint(a), Value::Int(b)) => Some(if *b < 0 { Ordering::Greater } else { a.cmp(&(*b as u64)) }),
        (Value::Double(a), Value::Double(b)) => a.partial_cmp(b),
        (Value::Double(a), Value::Int(b)) => double_vs_int(*a, *b),
        (Value::Int(a), Value::Double(b)) => double_vs_int(*b, *a).map(Ordering::reverse),
        (Value::Double(a), Value::Uint(b)) => double_vs_uint(*a, *b),
        (Value::Uint(a), Value::Double(b)) => double_vs_uint(*b, *a).map(Ordering::reverse),
        _ => None,
    }
}

fn double_vs_int(double: f64, integer: i64) -> Option<Ordering> {
    if double.is_nan() {
        return None;
    }
    if double < -9.223_372_036_854_776e18 {
        return Some(Ordering::Less);
    }
    if double >= 9.223_372_036_854_776e18 {
        return Some(Ordering::Greater);
    }
    let whole = double.trunc() as i64;
    Some(whole.cmp(&integer).then(if double.fract() > 0.0 { Ordering::Greater } else if double.fract() < 0.0 { Ordering::Less } else { Ordering::Equal }))
}

fn double_vs_uint(double: f64, integer: u64) -> Option<Ordering> {
    if double.is_nan() {
        return None;
    }
    if double < 0.0 {
        return Some(Ordering::Less);
    }
    if double >= 1.844_674_407_370_955_2e19 {
        return Some(Ordering::Greater);
    }
    let whole = double.trunc() as u64;
    Some(whole.cmp(&integer).then(if double.fract() > 0.0 { Ordering::Greater } else { Ordering::Equal }))
}

/// CEL's `<` family: numbers across kinds, strings, bytes, bools, durations, timestamps.
pub fn compare(left: &Value, right: &Value) -> Option<Ordering> {
    if is_number(left) && is_number(right) {
        return numeric_order(left, right);
    }
    match (left, right) {
        (Value::String(a), Value::String(b)) => Some(a.cmp(b)),
        (Value::Bytes(a), Value::Bytes(b)) => Some(a.cmp(b)),
        (Value::Bool(a), Value::Bool(b)) => Some(a.cmp(b)),
        (Value::Duration(a), Value::Duration(b)) => Some(a.cmp(b)),
        (Value::Timestamp(a), Value::Timestamp(b)) => Some(a.cmp(b)),
        _ => None,
    }
}

/// The value of `json` as a rule sees it when its schema declares `type_`. Depth is bounded
/// by the declared type's, which the schema's depth bounds; undeclared JSON under `dyn` is
/// bounded by serde_json's own nesting limit.
pub fn from_json(json: &serde_json::Value, type_: &Type) -> Value {
    use serde_json::Value as Json;
    match (type_, json) {
        (_, Json::Null) => Value::Null,
        (Type::Object(object), Json::Object(fields)) => {
            let mut out = BTreeMap::new();
            for (name, field) in &object.fields {
                // kube treats a null field as an absent one.
                if let Some(value) = fields.get(&field.json_name).filter(|value| !value.is_null()) {
                    out.insert(name.clone(), from_json(value, &field.type_));
                }
            }
            Value::Object(Arc::new(out))
        }
        (Type::Map(_, value_type), Json::Object(fields)) => {
            let entries = fields.iter().map(|(name, value)| (Key::String(Arc::from(name.as_str())), from_json(value, value_type)));
            Value::Map(Arc::new(entries.collect()))
        }
        (Type::List(list), Json::Array(items)) => Value::List(Arc::new(List { items: items.iter().map(|item| from_json(item, &list.element)).collect(), kind: list.kind })),
        (Type::Double, Json::Number(number)) => Value::Double(number.as_f64().unwrap_or_default()),
        (Type::Duration, Json::String(text)) => common::durations::parse_go_duration(text).map_or_else(|_| Value::string(text.as_str()), Value::Duration),
        (Type::Timestamp, Json::String(text)) => time::parse_timestamp(text).or_else(|_| time::parse_date(text)).map_or_else(|_| Value::string(text.as_str()), Value::Timestamp),
        (Type::Bytes, Json::String(text)) => {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD.decode(text).map_or_else(|_| Value::string(text.as_str()), |bytes| Value::Bytes(Arc::from(bytes)))
        }
        (_, json) => untyped(json),
    }
}

/// A JSON value under no declared type (`dyn`, int-or-string).
fn untyped(json: &serde_json::Value) -> Value {
    use serde_json::Value as Json;
    match json {
        Json::Null => Value::Null,
        Json::Bool(flag) => Value::Bool(*flag),
        Json::Number(number) => match number.as_i64() {
            Some(integer) => Value::Int(integer),
            None => number.as_u64().map_or_else(|| Value::Double(number.as_f64().unwrap_or_default()), Value::Uint),
        },
        Json::String(text) => Value::string(text.as_str()),
        Json::Array(items) => Value::list(items.iter().map(untyped).collect()),
        Json::Object(fields) => Value::Map(Arc::new(fields.iter().map(|(name, value)| (Key::String(Arc::from(name.as_str())), untyped(value))).collect())),
    }
}
