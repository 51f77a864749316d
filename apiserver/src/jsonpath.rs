//! The JSONPath subset CustomResourceDefinitions use in `additionalPrinterColumns` (kube calls
//! them "simple JSON paths"): fields (`.spec.size`, `['a.b']`), indexes (`[0]`, `[-1]`), all
//! elements (`[*]`) and equality filters (`[?(@.type=="Ready")]`).

use serde_json::Value;

/// One step of a path.
#[derive(Debug, PartialEq)]
enum Step {
    Field(String),
    Index(i64),
    All,
    /// Elements whose value at the inner path equals the literal.
    Filter(Vec<Step>, Value),
}

/// Steps longer than this are refused, as no printer column needs them.
const MAX_STEPS: usize = 64;

#[derive(Debug, PartialEq, thiserror::Error)]
#[error("unrecognized JSONPath {path:?}: {why}")]
pub struct PathError {
    path: String,
    why: &'static str,
}

fn parse(path: &str) -> Result<Vec<Step>, PathError> {
    let error = |why| PathError { path: path.to_string(), why };
    let trimmed = path.trim();
    let inner = trimmed.strip_prefix('{').and_then(|rest| rest.strip_suffix('}')).unwrap_or(trimmed);
    let inner = inner.strip_prefix('$').unwrap_or(inner).strip_prefix('@').unwrap_or(inner);
    let mut steps = Vec::new();
    let mut rest = inner;
    while !rest.is_empty() {
        if steps.len() >= MAX_STEPS {
            return Err(error("too many steps"));
        }
        if let Some(after) = rest.strip_prefix('.') {
            let end = after.find(['.', '[']).unwrap_or(after.len());
            if end == 0 {
                return Err(error("empty field name"));
            }
            steps.push(Step::Field(after[..end].to_string()));
            rest = &after[end..];
        } else if let Some(after) = rest.strip_prefix('[') {
            let end = closing_bracket(after).ok_or_else(|| error("unclosed bracket"))?;
            let content = after[..end].trim();
            rest = &after[end + 1..];
            steps.push(bracket(content).ok_or_else(|| error("unsupported bracket expression"))?);
        } else {
            return Err(error("expected '.' or '['"));
        }
    }
    Ok(steps)
}

/// Where the bracket opened just before `text` closes, skipping quoted strings and nesting.
fn closing_bracket(text: &str) -> Option<usize> {
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    for (index, character) in text.char_indices() {
        match (quote, character) {
            (Some(open), c) if c == open => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(character),
            (None, '[' | '(') => depth += 1,
            (None, ')') => depth = depth.saturating_sub(1),
            (None, ']') if depth == 0 => return Some(index),
            (None, ']') => depth -= 1,
            _ => {}
        }
    }
    None
}

fn bracket(content: &str) -> Option<Step> {
    if content == "*" {
        return Some(Step::All);
    }
    if let Ok(index) = content.parse::<i64>() {
        return Some(Step::Index(index));
    }
    if let Some(quoted) = unquote(content) {
        return Some(Step::Field(quoted));
    }
    let filter = content.strip_prefix("?(")?.strip_suffix(')')?;
    let (left, right) = filter.split_once("==")?;
    let literal = match unquote(right.trim()) {
        Some(text) => Value::String(text),
        None => serde_json::from_str(right.trim()).ok()?,
    };
    let inner = parse(left.trim()).ok()?;
    Some(Step::Filter(inner, literal))
}

fn unquote(text: &str) -> Option<String> {
    let quoted = text.strip_prefix('\'').and_then(|rest| rest.strip_suffix('\'')).or_else(|| text.strip_prefix('"').and_then(|rest| rest.strip_suffix('"')))?;
    Some(quoted.to_string())
}

fn walk<'a>(values: Vec<&'a Value>, steps: &[Step]) -> Vec<&'a Value> {
    let mut current = values;
    for step in steps {
        let mut next = Vec::new();
        for value in current {
            match (step, value) {
                (Step::Field(name), Value::Object(fields)) => next.extend(fields.get(name)),
                (Step::Index(index), Value::Array(items)) => {
                    let position = if *index < 0 { items.len().checked_sub(index.unsigned_abs() as usize) } else { Some(*index as usize) };
                    next.extend(position.and_then(|position| items.get(position)));
                }
                (Step::All, Value::Array(items)) => next.extend(items),
                (Step::All, Value::Object(fields)) => next.extend(fields.values()),
                (Step::Filter(inner, literal), Value::Array(items)) => {
                    next.extend(items.iter().filter(|item| walk(vec![*item], inner).first().is_some_and(|found| *found == literal)));
                }
                _ => {}
            }
        }
        current = next;
    }
    current
}

/// The values `path` selects in `object`, in order; an error for a path outside the subset.
pub fn find<'a>(object: &'a Value, path: &str) -> Result<Vec<&'a Value>, PathError> {
    Ok(walk(vec![object], &parse(path)?))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn paths_select_as_kubectl_selects() {
        let object = json!({
            "metadata": {"name": "w", "labels": {"app.kubernetes.io/name": "web"}},
            "spec": {"size": 3, "ports": [{"name": "http", "port": 80}, {"name": "https", "port": 443}]},
            "status": {"conditions": [{"type": "Ready", "status": "True"}, {"type": "Synced", "status": "False"}]},
        });
        let rows: [(&str, Vec<Value>); 9] = [
            (".spec.size", vec![json!(3)]),
            ("{.spec.size}", vec![json!(3)]),
            (".spec.ports[1].port", vec![json!(443)]),
            (".spec.ports[-1].name", vec![json!("https")]),
            (".spec.ports[*].name", vec![json!("http"), json!("https")]),
            (".metadata.labels['app.kubernetes.io/name']", vec![json!("web")]),
            (".status.conditions[?(@.type==\"Ready\")].status", vec![json!("True")]),
            (".status.conditions[?(@.type=='Synced')].status", vec![json!("False")]),
            (".spec.missing", vec![]),
        ];
        for (path, expected) in rows {
            let found: Vec<Value> = find(&object, path).unwrap().into_iter().cloned().collect();
            assert_eq!(found, expected, "{path}");
        }
        for bad in ["spec", ".spec[", ".a..b", ".a[?(@.x>1)]"] {
            assert!(find(&object, bad).is_err(), "{bad}");
        }
    }
}
