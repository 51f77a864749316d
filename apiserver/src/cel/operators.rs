//! CEL's operators on values: arithmetic with overflow errors, comparison, membership,
//! indexing and list concatenation, worded as cel-go's errors.

use std::cmp::Ordering;
use std::sync::Arc;

use super::error::EvalError;
use super::time;
use super::types::ListKind;
use super::value::{List, Value, compare, equal};

type Outcome = Result<Value, EvalError>;

fn overflow() -> EvalError {
    EvalError::message("integer overflow")
}

fn uint_overflow() -> EvalError {
    EvalError::message("unsigned integer overflow")
}

/// `_+_ _-_ _*_ _/_ _%_` on two values of the same numeric kind (and time, strings, lists).
pub fn arithmetic(operator: &str, left: &Value, right: &Value) -> Outcome {
    match (left, right) {
        (Value::Int(a), Value::Int(b)) => int(operator, *a, *b).map(Value::Int),
        (Value::Uint(a), Value::Uint(b)) => uint(operator, *a, *b).map(Value::Uint),
        (Value::Double(a), Value::Double(b)) => Ok(Value::Double(match operator {
            "_+_" => a + b,
            "_-_" => a - b,
            "_*_" => a * b,
            "_/_" => a / b,
            _ => return Err(EvalError::no_overload()),
        })),
        (Value::String(a), Value::String(b)) if operator == "_+_" => Ok(Value::String(Arc::from(format!("{a}{b}")))),
        (Value::Bytes(a), Value::Bytes(b)) if operator == "_+_" => Ok(Value::Bytes(a.iter().chain(b.iter()).copied().collect())),
        // kube: `set` lists concatenate as a union, the left side's order kept.
        (Value::List(a), Value::List(b)) if operator == "_+_" && a.kind == ListKind::Set => {
            let mut items = a.items.clone();
            for item in &b.items {
                if !items.iter().any(|kept| equal(kept, item)) {
                    items.push(item.clone());
                }
            }
            Ok(Value::List(Arc::new(List { items, kind: a.kind })))
        }
        (Value::List(a), Value::List(b)) if operator == "_+_" => Ok(Value::List(Arc::new(List { items: a.items.iter().chain(&b.items).cloned().collect(), kind: a.kind }))),
        (Value::Duration(a), Value::Duration(b)) => match operator {
            "_+_" => a.checked_add(*b).map(Value::Duration).ok_or_else(|| EvalError::message("duration overflow")),
            "_-_" => a.checked_sub(*b).map(Value::Duration).ok_or_else(|| EvalError::message("duration overflow")),
            _ => Err(EvalError::no_overload()),
        },
        (Value::Timestamp(at), Value::Duration(nanos)) | (Value::Duration(nanos), Value::Timestamp(at)) if operator == "_+_" => time::add(*at, *nanos).map(Value::Timestamp).map_err(EvalError::Message),
        (Value::Timestamp(at), Value::Duration(nanos)) if operator == "_-_" => {
            let negative = nanos.checked_neg().ok_or_else(|| EvalError::message("duration overflow"))?;
            time::add(*at, negative).map(Value::Timestamp).map_err(EvalError::Message)
        }
        (Value::Timestamp(later), Value::Timestamp(earlier)) if operator == "_-_" => time::difference(*later, *earlier).map(Value::Duration).map_err(EvalError::Message),
        _ => Err(EvalError::no_overload()),
    }
}

fn int(operator: &str, a: i64, b: i64) -> Result<i64, EvalError> {
    match operator {
        "_+_" => a.checked_add(b).ok_or_else(overflow),
        "_-_" => a.checked_sub(b).ok_or_else(overflow),
        "_*_" => a.checked_mul(b).ok_or_else(overflow),
        "_/_" if b == 0 => Err(EvalError::message("division by zero")),
        "_/_" => a.checked_div(b).ok_or_else(overflow),
        "_%_" if b == 0 => Err(EvalError::message("modulus by zero")),
        "_%_" => a.checked_rem(b).ok_or_else(overflow),
        _ => Err(EvalError::no_overload()),
    }
}

fn uint(operator: &str, a: u64, b: u64) -> Result<u64, EvalError> {
    match operator {
        "_+_" => a.checked_add(b).ok_or_else(uint_overflow),
        "_-_" => a.checked_sub(b).ok_or_else(uint_overflow),
        "_*_" => a.checked_mul(b).ok_or_else(uint_overflow),
        "_/_" if b == 0 => Err(EvalError::message("division by zero")),
        "_/_" => Ok(a / b),
        "_%_" if b == 0 => Err(EvalError::message("modulus by zero")),
        "_%_" => Ok(a % b),
        _ => Err(EvalError::no_overload()),
    }
}

pub fn negate(value: &Value) -> Outcome {
    match value {
        Value::Int(number) => number.checked_neg().map(Value::Int).ok_or_else(overflow),
        Value::Double(number) => Ok(Value::Double(-number)),
        Value::Duration(nanos) => nanos.checked_neg().map(Value::Duration).ok_or_else(|| EvalError::message("duration overflow")),
        _ => Err(EvalError::no_overload()),
    }
}

/// `_<_ _<=_ _>_ _>=_`.
pub fn relation(operator: &str, left: &Value, right: &Value) -> Outcome {
    let ordering = compare(left, right).ok_or_else(|| {
        if matches!((left, right), (Value::Double(a), _) if a.is_nan()) || matches!((left, right), (_, Value::Double(b)) if b.is_nan()) {
            EvalError::message("NaN values cannot be ordered")
        } else {
            EvalError::no_overload()
        }
    })?;
    Ok(Value::Bool(match operator {
        "_<_" => ordering == Ordering::Less,
        "_<=_" => ordering != Ordering::Greater,
        "_>_" => ordering == Ordering::Greater,
        "_>=_" => ordering != Ordering::Less,
        _ => return Err(EvalError::no_overload()),
    }))
}

/// `element in container`.
pub fn membership(element: &Value, container: &Value) -> Outcome {
    match container {
        Value::List(list) => Ok(Value::Bool(list.items.iter().any(|item| equal(item, element)))),
        Value::Map(map) => Ok(Value::Bool(Value::map_get(map, element).is_some())),
        _ => Err(EvalError::no_overload()),
    }
}

/// `container[index]`, or with `optional` its `[?index]` form.
pub fn index(container: &Value, index: &Value, optional: bool) -> Outcome {
    let found = match (container, index) {
        (Value::Optional(None), _) if optional => return Ok(Value::Optional(None)),
        (Value::Optional(Some(inner)), _) if optional => return self::index(inner, index, true),
        (Value::List(list), _) => {
            let at = match index {
                Value::Int(at) => *at,
                Value::Uint(at) => i64::try_from(*at).unwrap_or(i64::MAX),
                Value::Double(at) if at.fract() == 0.0 => *at as i64,
                _ => return Err(EvalError::no_overload()),
            };
            match usize::try_from(at).ok().and_then(|at| list.items.get(at)) {
                Some(item) => Ok(item.clone()),
                None => Err(EvalError::message(format!("index '{at}' out of range in list size '{}'", list.items.len()))),
            }
        }
        (Value::Map(map), key) => Value::map_get(map, key).cloned().ok_or_else(|| no_such_key(key)),
        (Value::Object(fields), Value::String(name)) => fields.get(name.as_ref()).cloned().ok_or_else(|| no_such_key(index)),
        _ => Err(EvalError::no_overload()),
    };
    if optional {
        return Ok(Value::Optional(found.ok().map(Arc::new)));
    }
    found
}

pub fn no_such_key(key: &Value) -> EvalError {
    EvalError::message(format!("no such key: {}", shown_key(key)))
}

/// A map key as cel-go's errors print it: the value of a string, number or bool, else its type.
pub fn shown_key(key: &Value) -> String {
    match key {
        Value::String(text) => text.to_string(),
        Value::Int(number) => number.to_string(),
        Value::Uint(number) => number.to_string(),
        Value::Bool(flag) => flag.to_string(),
        other => other.type_name().to_string(),
    }
}
