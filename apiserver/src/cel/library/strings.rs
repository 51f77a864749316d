//! cel-go's strings extension as kube declares it (`ext.Strings(ext.StringsVersion(2))`):
//! indices and lengths count code points, `lowerAscii`/`upperAscii` touch ASCII only.

use std::sync::Arc;

use super::{Context, Outcome, fail};
use crate::cel::error::EvalError;
use crate::cel::value::Value;

/// Code-point index → byte offset, or an error as cel-go words it.
fn byte_at(text: &str, index: i64, what: &str) -> Result<usize, EvalError> {
    let count = text.chars().count();
    let index = usize::try_from(index).map_err(|_| EvalError::message(format!("{what} out of range: {index}")))?;
    if index > count {
        return Err(EvalError::message(format!("{what} out of range: {index}")));
    }
    Ok(text.char_indices().nth(index).map_or(text.len(), |(at, _)| at))
}

fn position(found: Option<usize>, text: &str) -> Value {
    Value::Int(found.map_or(-1, |at| i64::try_from(text[..at].chars().count()).unwrap_or(i64::MAX)))
}

pub(super) fn call(context: &mut Context<'_>, name: &str, target: Option<&Value>, args: &[Value]) -> Option<Outcome> {
    let Some(Value::String(text)) = target else {
        return join(context, name, target, args).or_else(|| quote(context, name, target, args));
    };
    if !matches!(name, "charAt" | "indexOf" | "lastIndexOf" | "lowerAscii" | "upperAscii" | "replace" | "split" | "substring" | "trim" | "reverse") {
        return None;
    }
    if let Err(error) = context.cost.traverse(text.len()) {
        return Some(Err(error));
    }
    Some(match (name, args) {
        ("charAt", [Value::Int(index)]) => byte_at(text, *index, "index").map(|at| Value::string(text[at..].chars().next().map(String::from).unwrap_or_default())),
        ("indexOf", [Value::String(part)]) => Ok(position(text.find(part.as_ref()), text)),
        ("indexOf", [Value::String(part), Value::Int(from)]) => byte_at(text, *from, "index").map(|at| position(text[at..].find(part.as_ref()).map(|found| found + at), text)),
        ("lastIndexOf", [Value::String(part)]) => Ok(position(text.rfind(part.as_ref()), text)),
        ("lastIndexOf", [Value::String(part), Value::Int(from)]) => byte_at(text, *from, "index").map(|at| {
            let end = (at + part.len()).min(text.len());
            let end = (end..=text.len()).find(|end| text.is_char_boundary(*end)).unwrap_or(text.len());
            position(text[..end].rfind(part.as_ref()), text)
        }),
        ("lowerAscii", []) => Ok(Value::string(text.to_ascii_lowercase())),
        ("upperAscii", []) => Ok(Value::string(text.to_ascii_uppercase())),
        ("replace", [Value::String(from), Value::String(to)]) => replace(context, text, from, to, -1),
        ("replace", [Value::String(from), Value::String(to), Value::Int(limit)]) => replace(context, text, from, to, *limit),
        // Each part is a new string and a list item: charge for the items too (the
        // characters were charged as traversed above).
        ("split", [Value::String(separator)]) => split_charged(context, text, separator, -1),
        ("split", [Value::String(separator), Value::Int(limit)]) => split_charged(context, text, separator, *limit),
        ("substring", [Value::Int(start)]) => byte_at(text, *start, "index").map(|at| Value::string(&text[at..])),
        ("substring", [Value::Int(start), Value::Int(end)]) => {
            if end < start {
                fail(format!("invalid substring range. start: {start}, end: {end}"))
            } else {
                byte_at(text, *start, "index").and_then(|from| byte_at(text, *end, "index").map(|to| Value::string(&text[from..to])))
            }
        }
        // Go's strings.TrimSpace: Unicode white space.
        ("trim", []) => Ok(Value::string(text.trim())),
        ("reverse", []) => Ok(Value::string(text.chars().rev().collect::<String>())),
        _ => return None,
    })
}

fn replace(context: &mut Context<'_>, text: &str, from: &str, to: &str, limit: i64) -> Outcome {
    // The result can grow by |to| for each match: size it, and charge for it, first.
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let matches = if from.is_empty() { text.chars().count() + 1 } else { text.matches(from).count() }.min(limit);
    let size = matches.checked_mul(to.len()).and_then(|added| added.checked_add(text.len()));
    context.cost.output(size)?;
    Ok(Value::string(text.replacen(from, to, limit)))
}

fn split_charged(context: &mut Context<'_>, text: &str, separator: &str, limit: i64) -> Outcome {
    let parts = if separator.is_empty() { text.chars().count() } else { text.matches(separator).count() + 1 };
    let parts = if limit > 0 { parts.min(usize::try_from(limit).unwrap_or(usize::MAX)) } else { parts };
    context.cost.output(Some(parts))?;
    Ok(split(text, separator, limit))
}

fn split(text: &str, separator: &str, limit: i64) -> Value {
    let parts: Vec<Value> = match limit {
        0 => Vec::new(),
        limit if limit < 0 => {
            if separator.is_empty() {
                text.chars().map(|character| Value::string(character.to_string())).collect()
            } else {
                text.split(separator).map(Value::string).collect()
            }
        }
        limit => {
            let limit = usize::try_from(limit).unwrap_or(usize::MAX);
            if separator.is_empty() {
                let mut parts: Vec<Value> = text.chars().take(limit.saturating_sub(1)).map(|character| Value::string(character.to_string())).collect();
                let taken: usize = text.chars().take(limit.saturating_sub(1)).map(char::len_utf8).sum();
                if taken < text.len() || parts.len() < limit {
                    parts.push(Value::string(&text[taken..]));
                }
                parts
            } else {
                text.splitn(limit, separator).map(Value::string).collect()
            }
        }
    };
    Value::list(parts)
}

fn join(context: &mut Context<'_>, name: &str, target: Option<&Value>, args: &[Value]) -> Option<Outcome> {
    let (Some(Value::List(list)), "join") = (target, name) else { return None };
    let separator = match args {
        [] => "",
        [Value::String(separator)] => separator.as_ref(),
        _ => return None,
    };
    let mut parts = Vec::with_capacity(list.items.len());
    // The items may all be one shared string: size the result, and charge for it, before
    // building it.
    let mut size = Some(separator.len().saturating_mul(list.items.len().saturating_sub(1)));
    for item in &list.items {
        match item {
            Value::String(text) => {
                size = size.and_then(|size| size.checked_add(text.len()));
                parts.push(text.as_ref());
            }
            _ => return Some(Err(EvalError::no_overload())),
        }
    }
    if let Err(error) = context.cost.output(size) {
        return Some(Err(error));
    }
    Some(Ok(Value::String(Arc::from(parts.join(separator)))))
}

/// `strings.quote(text)`: the text in double quotes, escaped as CEL reads it back.
fn quote(context: &mut Context<'_>, name: &str, target: Option<&Value>, args: &[Value]) -> Option<Outcome> {
    match (name, target, args) {
        ("strings.quote", None, [Value::String(text)]) => {
            // At most two characters out for each in, and the quotes.
            if let Err(error) = context.cost.output(text.len().checked_mul(2).and_then(|size| size.checked_add(2))) {
                return Some(Err(error));
            }
            let mut out = String::from("\"");
            for character in text.chars() {
                match character {
                    '\x07' => out.push_str("\\a"),
                    '\x08' => out.push_str("\\b"),
                    '\x0c' => out.push_str("\\f"),
                    '\n' => out.push_str("\\n"),
                    '\r' => out.push_str("\\r"),
                    '\t' => out.push_str("\\t"),
                    '\x0b' => out.push_str("\\v"),
                    '\\' => out.push_str("\\\\"),
                    '"' => out.push_str("\\\""),
                    other => out.push(other),
                }
            }
            out.push('"');
            Some(Ok(Value::string(out)))
        }
        _ => None,
    }
}
