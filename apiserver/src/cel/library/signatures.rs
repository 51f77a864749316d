//! The overloads the checker resolves calls against, written as type patterns: `A`, `B`,
//! `K`, `V` are type parameters; a receiver of `-` marks a global function.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use crate::cel::types::Type;

const NUMBERS: [&str; 3] = ["int", "uint", "double"];

/// (function, receiver, arguments, result).
type Row = (&'static str, &'static str, &'static [&'static str], &'static str);

const ROWS: &[Row] = &[
    ("!_", "-", &["bool"], "bool"),
    ("_&&_", "-", &["bool", "bool"], "bool"),
    ("_||_", "-", &["bool", "bool"], "bool"),
    ("_?_:_", "-", &["bool", "A", "A"], "A"),
    ("_==_", "-", &["A", "A"], "bool"),
    ("_!=_", "-", &["A", "A"], "bool"),
    ("@in", "-", &["A", "list(A)"], "bool"),
    ("@in", "-", &["K", "map(K,V)"], "bool"),
    ("_[_]", "-", &["list(A)", "int"], "A"),
    ("_[_]", "-", &["map(K,V)", "K"], "V"),
    ("_[?_]", "-", &["list(A)", "int"], "optional(A)"),
    ("_[?_]", "-", &["map(K,V)", "K"], "optional(V)"),
    ("_[?_]", "-", &["optional(list(A))", "int"], "optional(A)"),
    ("_[?_]", "-", &["optional(map(K,V))", "K"], "optional(V)"),
    ("_+_", "-", &["string", "string"], "string"),
    ("_+_", "-", &["bytes", "bytes"], "bytes"),
    ("_+_", "-", &["list(A)", "list(A)"], "list(A)"),
    ("_+_", "-", &["duration", "duration"], "duration"),
    ("_+_", "-", &["timestamp", "duration"], "timestamp"),
    ("_+_", "-", &["duration", "timestamp"], "timestamp"),
    ("_-_", "-", &["duration", "duration"], "duration"),
    ("_-_", "-", &["timestamp", "timestamp"], "duration"),
    ("_-_", "-", &["timestamp", "duration"], "timestamp"),
    ("-_", "-", &["int"], "int"),
    ("-_", "-", &["double"], "double"),
    ("size", "-", &["string"], "int"),
    ("size", "-", &["bytes"], "int"),
    ("size", "-", &["list(A)"], "int"),
    ("size", "-", &["map(K,V)"], "int"),
    ("size", "string", &[], "int"),
    ("size", "bytes", &[], "int"),
    ("size", "list(A)", &[], "int"),
    ("size", "map(K,V)", &[], "int"),
    ("contains", "string", &["string"], "bool"),
    ("startsWith", "string", &["string"], "bool"),
    ("endsWith", "string", &["string"], "bool"),
    ("matches", "string", &["string"], "bool"),
    ("matches", "-", &["string", "string"], "bool"),
    ("int", "-", &["int"], "int"),
    ("int", "-", &["uint"], "int"),
    ("int", "-", &["double"], "int"),
    ("int", "-", &["string"], "int"),
    ("int", "-", &["timestamp"], "int"),
    ("uint", "-", &["int"], "uint"),
    ("uint", "-", &["uint"], "uint"),
    ("uint", "-", &["double"], "uint"),
    ("uint", "-", &["string"], "uint"),
    ("double", "-", &["int"], "double"),
    ("double", "-", &["uint"], "double"),
    ("double", "-", &["double"], "double"),
    ("double", "-", &["string"], "double"),
    ("string", "-", &["int"], "string"),
    ("string", "-", &["uint"], "string"),
    ("string", "-", &["double"], "string"),
    ("string", "-", &["string"], "string"),
    ("string", "-", &["bytes"], "string"),
    ("string", "-", &["bool"], "string"),
    ("string", "-", &["duration"], "string"),
    ("string", "-", &["timestamp"], "string"),
    ("string", "-", &["IP"], "string"),
    ("string", "-", &["CIDR"], "string"),
    ("bool", "-", &["bool"], "bool"),
    ("bool", "-", &["string"], "bool"),
    ("bytes", "-", &["bytes"], "bytes"),
    ("bytes", "-", &["string"], "bytes"),
    ("duration", "-", &["duration"], "duration"),
    ("duration", "-", &["string"], "duration"),
    ("timestamp", "-", &["timestamp"], "timestamp"),
    ("timestamp", "-", &["string"], "timestamp"),
    ("timestamp", "-", &["int"], "timestamp"),
    ("type", "-", &["A"], "type"),
    ("dyn", "-", &["A"], "dyn"),
    ("optional.of", "-", &["A"], "optional(A)"),
    ("optional.ofNonZeroValue", "-", &["A"], "optional(A)"),
    ("optional.none", "-", &[], "optional(dyn)"),
    ("hasValue", "optional(A)", &[], "bool"),
    ("value", "optional(A)", &[], "A"),
    ("orValue", "optional(A)", &["A"], "A"),
    ("or", "optional(A)", &["optional(A)"], "optional(A)"),
    ("charAt", "string", &["int"], "string"),
    ("indexOf", "string", &["string"], "int"),
    ("indexOf", "string", &["string", "int"], "int"),
    ("lastIndexOf", "string", &["string"], "int"),
    ("lastIndexOf", "string", &["string", "int"], "int"),
    ("lowerAscii", "string", &[], "string"),
    ("upperAscii", "string", &[], "string"),
    ("replace", "string", &["string", "string"], "string"),
    ("replace", "string", &["string", "string", "int"], "string"),
    ("split", "string", &["string"], "list(string)"),
    ("split", "string", &["string", "int"], "list(string)"),
    ("substring", "string", &["int"], "string"),
    ("substring", "string", &["int", "int"], "string"),
    ("trim", "string", &[], "string"),
    ("reverse", "string", &[], "string"),
    ("join", "list(string)", &[], "string"),
    ("join", "list(string)", &["string"], "string"),
    ("strings.quote", "-", &["string"], "string"),
    ("format", "string", &["list(dyn)"], "string"),
    ("indexOf", "list(A)", &["A"], "int"),
    ("lastIndexOf", "list(A)", &["A"], "int"),
    ("find", "string", &["string"], "string"),
    ("findAll", "string", &["string"], "list(string)"),
    ("findAll", "string", &["string", "int"], "list(string)"),
    ("url", "-", &["string"], "URL"),
    ("isURL", "-", &["string"], "bool"),
    ("getScheme", "URL", &[], "string"),
    ("getHost", "URL", &[], "string"),
    ("getHostname", "URL", &[], "string"),
    ("getPort", "URL", &[], "string"),
    ("getEscapedPath", "URL", &[], "string"),
    ("getQuery", "URL", &[], "map(string,list(string))"),
    ("quantity", "-", &["string"], "Quantity"),
    ("isQuantity", "-", &["string"], "bool"),
    ("isGreaterThan", "Quantity", &["Quantity"], "bool"),
    ("isLessThan", "Quantity", &["Quantity"], "bool"),
    ("compareTo", "Quantity", &["Quantity"], "int"),
    ("add", "Quantity", &["Quantity"], "Quantity"),
    ("add", "Quantity", &["int"], "Quantity"),
    ("sub", "Quantity", &["Quantity"], "Quantity"),
    ("sub", "Quantity", &["int"], "Quantity"),
    ("sign", "Quantity", &[], "int"),
    ("isInteger", "Quantity", &[], "bool"),
    ("asInteger", "Quantity", &[], "int"),
    ("asApproximateFloat", "Quantity", &[], "double"),
    ("ip", "-", &["string"], "IP"),
    ("isIP", "-", &["string"], "bool"),
    ("ip.isCanonical", "-", &["string"], "bool"),
    ("family", "IP", &[], "int"),
    ("isUnspecified", "IP", &[], "bool"),
    ("isLoopback", "IP", &[], "bool"),
    ("isLinkLocalMulticast", "IP", &[], "bool"),
    ("isLinkLocalUnicast", "IP", &[], "bool"),
    ("isGlobalUnicast", "IP", &[], "bool"),
    ("cidr", "-", &["string"], "CIDR"),
    ("isCIDR", "-", &["string"], "bool"),
    ("containsIP", "CIDR", &["IP"], "bool"),
    ("containsIP", "CIDR", &["string"], "bool"),
    ("containsCIDR", "CIDR", &["CIDR"], "bool"),
    ("containsCIDR", "CIDR", &["string"], "bool"),
    ("ip", "CIDR", &[], "IP"),
    ("masked", "CIDR", &[], "CIDR"),
    ("prefixLength", "CIDR", &[], "int"),
    ("sets.contains", "-", &["list(A)", "list(A)"], "bool"),
    ("sets.intersects", "-", &["list(A)", "list(A)"], "bool"),
    ("sets.equivalent", "-", &["list(A)", "list(A)"], "bool"),
];

/// The timestamp and duration accessors, each with an optional time zone for timestamps.
const ACCESSORS: &[&str] = &["getFullYear", "getMonth", "getDate", "getDayOfMonth", "getDayOfWeek", "getDayOfYear", "getHours", "getMinutes", "getSeconds", "getMilliseconds"];

/// One overload, its types parsed.
pub struct Overload {
    pub receiver: Option<Type>,
    pub args: Vec<Type>,
    pub result: Type,
}

/// Every overload by function name.
pub fn overloads() -> &'static HashMap<String, Vec<Overload>> {
    static TABLE: OnceLock<HashMap<String, Vec<Overload>>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut table: HashMap<String, Vec<Overload>> = HashMap::new();
        let mut add = |name: &str, receiver: &str, args: &[&str], result: &str| {
            let overload = Overload { receiver: (receiver != "-").then(|| pattern(receiver)), args: args.iter().map(|arg| pattern(arg)).collect(), result: pattern(result) };
            table.entry(name.to_string()).or_default().push(overload);
        };
        for (name, receiver, args, result) in ROWS {
            add(name, receiver, args, result);
        }
        for operator in ["_<_", "_<=_", "_>_", "_>=_"] {
            for left in NUMBERS {
                for right in NUMBERS {
                    add(operator, "-", &[left, right], "bool");
                }
            }
            for kind in ["string", "bytes", "bool", "duration", "timestamp"] {
                add(operator, "-", &[kind, kind], "bool");
            }
        }
        for operator in ["_+_", "_-_", "_*_", "_/_"] {
            for kind in NUMBERS {
                add(operator, "-", &[kind, kind], kind);
            }
        }
        for kind in ["int", "uint"] {
            add("_%_", "-", &[kind, kind], kind);
        }
        // Kubernetes' list library: sums of numbers and durations, orders of what compares.
        for kind in ["int", "uint", "double", "duration"] {
            let list = format!("list({kind})");
            add("sum", &list, &[], kind);
        }
        for kind in ["int", "uint", "double", "bool", "string", "bytes", "duration", "timestamp"] {
            let list = format!("list({kind})");
            add("min", &list, &[], kind);
            add("max", &list, &[], kind);
            add("isSorted", &list, &[], "bool");
        }
        for accessor in ACCESSORS {
            add(accessor, "timestamp", &[], "int");
            add(accessor, "timestamp", &["string"], "int");
        }
        for accessor in ["getHours", "getMinutes", "getSeconds", "getMilliseconds"] {
            add(accessor, "duration", &[], "int");
        }
        table
    })
}

/// A type pattern from its text; the table above is all it reads, so an unknown word is a
/// mistake in the table and reads as `dyn`.
fn pattern(text: &str) -> Type {
    let text = text.trim();
    if let Some(inner) = text.strip_prefix("list(").and_then(|rest| rest.strip_suffix(')')) {
        return Type::list(pattern(inner));
    }
    if let Some(inner) = text.strip_prefix("optional(").and_then(|rest| rest.strip_suffix(')')) {
        return Type::optional(pattern(inner));
    }
    if let Some(inner) = text.strip_prefix("map(").and_then(|rest| rest.strip_suffix(')')) {
        let (key, value) = inner.split_once(',').unwrap_or((inner, "dyn"));
        return Type::Map(Arc::new(pattern(key)), Arc::new(pattern(value)));
    }
    match text {
        "int" => Type::Int,
        "uint" => Type::Uint,
        "double" => Type::Double,
        "string" => Type::String,
        "bytes" => Type::Bytes,
        "bool" => Type::Bool,
        "null" => Type::Null,
        "duration" => Type::Duration,
        "timestamp" => Type::Timestamp,
        "type" => Type::Metatype,
        "URL" => Type::Opaque("kubernetes.URL"),
        "Quantity" => Type::Opaque("kubernetes.Quantity"),
        "IP" => Type::Opaque("net.IP"),
        "CIDR" => Type::Opaque("net.CIDR"),
        "A" => Type::Param("A"),
        "K" => Type::Param("K"),
        "V" => Type::Param("V"),
        _ => Type::Dyn,
    }
}
