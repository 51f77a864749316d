//! kubectl's JSONPath templates (client-go's `util/jsonpath`), for `get -o jsonpath`,
//! `custom-columns` and `--sort-by`. Text outside `{}` is printed as it is; inside, `.a.b`,
//! `['a']`, `[0]`, `[-1]`, `[0:2:1]`, `[*]`, `.*`, `..`, unions `[0,1]`, filters
//! `[?(@.type=="Ready")]`, quoted literals (`{"\n"}`) and `{range …}…{end}`.
//!
//! Written over serde_json rather than on an RFC 9535 engine: client-go's language differs from
//! the RFC where users notice (`[*]` or a filter on a map is an error, out-of-range indexes are
//! errors, `..` lists the containers themselves, names may hold `-` and `\.`), and its messages are
//! kubectl's. Missing keys print nothing, as kubectl's `--allow-missing-template-keys` default.

use std::borrow::Cow;
use std::fmt::Write;

use serde_json::Value;

#[derive(Debug, PartialEq, thiserror::Error)]
pub enum JsonPathError {
    /// The template does not parse; the words are client-go's.
    #[error("{0}")]
    Parse(String),
    /// The template parses but cannot be applied to this object.
    #[error("{0}")]
    Execute(String),
}

/// A parsed template.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    nodes: Vec<Node>,
    source: String,
}

#[derive(Debug, Clone, PartialEq)]
enum Node {
    Text(String),
    Action(Vec<Step>),
    /// `{range steps}body{end}`: the body once for each result, with that result as `@`.
    Range(Vec<Step>, Vec<Node>),
}

#[derive(Debug, Clone, PartialEq)]
enum Step {
    Field(String),
    /// `.*`: every value of a map or element of a list.
    Wildcard,
    /// `[start:end:step]`; `[n]` is `[n:n+1]` and `[*]` is `[:]`.
    Slice { start: Option<i64>, end: Option<i64>, derived_end: bool, step: Option<i64> },
    Union(Vec<Vec<Step>>),
    Filter { left: Vec<Step>, operator: String, right: Vec<Step> },
    /// `..`: the value and every map or list below it.
    Recursive,
    /// A literal inside an action: it replaces what came before (client-go's Text/Int/Float/Bool nodes).
    Literal(Value),
    Identifier(String),
}

impl Template {
    /// Parses a template as `kubectl get -o jsonpath=…` takes it.
    pub fn parse(text: &str) -> Result<Template, JsonPathError> {
        let mut stack: Vec<(Vec<Step>, Vec<Node>)> = Vec::new();
        let mut nodes = Vec::new();
        let mut rest = text;
        while !rest.is_empty() {
            let Some(open) = rest.find('{') else {
                nodes.push(Node::Text(rest.to_string()));
                break;
            };
            if open > 0 {
                nodes.push(Node::Text(rest[..open].to_string()));
            }
            let mut parser = Parser { input: &rest[open + 1..], position: 0 };
            let steps = parser.action()?;
            rest = &parser.input[parser.position..];
            if steps.iter().any(|step| *step == Step::Identifier("range".into())) {
                let steps = steps.into_iter().filter(|step| *step != Step::Identifier("range".into())).collect();
                stack.push((steps, std::mem::take(&mut nodes)));
            } else if steps.iter().any(|step| *step == Step::Identifier("end".into())) {
                // An `{end}` outside a range fails when the template runs, as in client-go.
                let Some((range, outer)) = stack.pop() else {
                    nodes.push(Node::Action(steps));
                    continue;
                };
                let body = std::mem::replace(&mut nodes, outer);
                nodes.push(Node::Range(range, body));
            } else {
                nodes.push(Node::Action(steps));
            }
        }
        // A range left open runs to the end of the template, as in client-go.
        while let Some((steps, outer)) = stack.pop() {
            let body = std::mem::replace(&mut nodes, outer);
            nodes.push(Node::Range(steps, body));
        }
        Ok(Template { nodes, source: text.to_string() })
    }

    /// The text the template was parsed from.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The template over `data` as kubectl prints it: each action's results one space apart,
    /// strings as they are, maps and lists as compact JSON.
    pub fn render(&self, data: &Value) -> Result<String, JsonPathError> {
        let mut out = String::new();
        render_nodes(&self.nodes, data, &mut out)?;
        Ok(out)
    }

    /// The template over `data` as `-o jsonpath-as-json` prints it: each action's results (a text
    /// counts as one) as an indented JSON list, one list a line.
    pub fn render_json(&self, data: &Value) -> Result<String, JsonPathError> {
        let mut out = String::new();
        for values in self.results(data)? {
            let list = Value::Array(values.into_iter().map(Cow::into_owned).collect());
            out.push_str(&go_json_indented(&list, ""));
            out.push('\n');
        }
        Ok(out)
    }

    /// The results of each action of the template, in order (custom-columns and `--sort-by`).
    pub fn results<'a>(&self, data: &'a Value) -> Result<Vec<Vec<Cow<'a, Value>>>, JsonPathError> {
        let mut all = Vec::new();
        collect(&self.nodes, data, &mut all)?;
        Ok(all)
    }
}

fn render_nodes(nodes: &[Node], data: &Value, out: &mut String) -> Result<(), JsonPathError> {
    let mut results = Vec::new();
    collect(nodes, data, &mut results)?;
    for values in results {
        for (index, value) in values.iter().enumerate() {
            if index > 0 {
                out.push(' ');
            }
            match value.as_ref() {
                Value::Object(_) | Value::Array(_) => go_json(value, out),
                other => go_text(other, out),
            }
        }
    }
    Ok(())
}

fn collect<'a>(nodes: &[Node], data: &'a Value, all: &mut Vec<Vec<Cow<'a, Value>>>) -> Result<(), JsonPathError> {
    for node in nodes {
        match node {
            Node::Text(text) => all.push(vec![Cow::Owned(Value::String(text.clone()))]),
            Node::Action(steps) => all.push(evaluate(steps, vec![Cow::Borrowed(data)])?),
            Node::Range(steps, body) => {
                for item in evaluate(steps, vec![Cow::Borrowed(data)])? {
                    // Owned items (literals) are cheap; borrowed ones stay borrowed from `data`.
                    match item {
                        Cow::Borrowed(item) => collect(body, item, all)?,
                        Cow::Owned(item) => {
                            let mut inner = Vec::new();
                            collect(body, &item, &mut inner)?;
                            all.extend(inner.into_iter().map(|values| values.into_iter().map(|value| Cow::Owned(value.into_owned())).collect()));
                        }
                    }
                }
            }
        }
    }
    Ok(())
}

fn evaluate<'a>(steps: &[Step], mut values: Vec<Cow<'a, Value>>) -> Result<Vec<Cow<'a, Value>>, JsonPathError> {
    for step in steps {
        values = apply(step, values)?;
    }
    Ok(values)
}

/// A child of a value that may be borrowed from the data or owned by a literal.
fn child<'a>(parent: &Cow<'a, Value>, pick: impl Fn(&Value) -> Option<&Value>) -> Option<Cow<'a, Value>> {
    match parent {
        Cow::Borrowed(value) => pick(value).map(Cow::Borrowed),
        Cow::Owned(value) => pick(value).cloned().map(Cow::Owned),
    }
}

fn children<'a>(parent: &Cow<'a, Value>) -> Vec<Cow<'a, Value>> {
    let count = match parent.as_ref() {
        Value::Object(map) => map.len(),
        Value::Array(items) => items.len(),
        _ => 0,
    };
    (0..count)
        .filter_map(|index| {
            child(parent, |value| match value {
                Value::Object(map) => map.values().nth(index),
                Value::Array(items) => items.get(index),
                _ => None,
            })
        })
        .collect()
}

fn apply<'a>(step: &Step, input: Vec<Cow<'a, Value>>) -> Result<Vec<Cow<'a, Value>>, JsonPathError> {
    let mut results = Vec::new();
    match step {
        Step::Field(name) => {
            for value in &input {
                results.extend(child(value, |value| value.as_object().and_then(|map| map.get(name))));
            }
        }
        Step::Wildcard => {
            for value in &input {
                results.extend(children(value));
            }
        }
        Step::Slice { start, end, derived_end, step } => {
            for value in &input {
                let Some(items) = (match value.as_ref() {
                    Value::Null => continue,
                    Value::Array(items) => Some(items),
                    other => return Err(JsonPathError::Execute(format!("{} is not array or slice", go_type(other)))),
                }) else {
                    continue;
                };
                for index in slice_indexes(items.len(), *start, *end, *derived_end, *step)? {
                    results.extend(child(value, |value| value.as_array().and_then(|items| items.get(index))));
                }
            }
        }
        Step::Union(branches) => {
            for branch in branches {
                results.extend(evaluate(branch, input.clone())?);
            }
        }
        Step::Filter { left, operator, right } => {
            for value in &input {
                if !value.is_array() {
                    let mut text = String::new();
                    go_value(value, go_number, &mut text);
                    return Err(JsonPathError::Execute(format!("{text} is not array or slice and cannot be filtered")));
                }
                for item in children(value) {
                    if passes(item.as_ref(), left, operator, right)? {
                        results.push(item);
                    }
                }
            }
        }
        Step::Recursive => {
            for value in input {
                recurse(value, &mut results);
            }
        }
        Step::Literal(literal) => {
            // A quoted text is one value whatever came before; numbers and booleans one per input.
            let count = if literal.is_string() { 1 } else { input.len() };
            results.extend((0..count).map(|_| Cow::Owned(literal.clone())));
        }
        Step::Identifier(name) if name == "end" => return Err(JsonPathError::Execute("not in range, nothing to end".into())),
        Step::Identifier(name) => return Err(JsonPathError::Execute(format!("unrecognized identifier {name}"))),
    }
    Ok(results)
}

fn recurse<'a>(value: Cow<'a, Value>, results: &mut Vec<Cow<'a, Value>>) {
    let below = children(&value);
    let is_text = value.as_str().is_some_and(|text| !text.is_empty());
    if !below.is_empty() || is_text {
        results.push(value);
    }
    for item in below {
        recurse(item, results);
    }
}

/// The indexes a slice picks, with client-go's bounds errors.
fn slice_indexes(length: usize, start: Option<i64>, end: Option<i64>, derived_end: bool, step: Option<i64>) -> Result<Vec<usize>, JsonPathError> {
    let length_i = i64::try_from(length).unwrap_or(i64::MAX);
    let mut from = start.unwrap_or(0);
    if from < 0 {
        from += length_i;
    }
    let mut to = end.unwrap_or(length_i);
    if to < 0 || (to == 0 && derived_end) {
        to += length_i;
    }
    if to == from {
        return Ok(Vec::new());
    }
    if from >= length_i || from < 0 {
        return Err(JsonPathError::Execute(format!("array index out of bounds: index {from}, length {length}")));
    }
    if to > length_i || to < 0 {
        return Err(JsonPathError::Execute(format!("array index out of bounds: index {}, length {length}", to - 1)));
    }
    if from > to {
        return Err(JsonPathError::Execute(format!("starting index {from} is greater than ending index {to}")));
    }
    let step = match step {
        Some(step) if step <= 0 => return Err(JsonPathError::Execute("step must be > 0".into())),
        Some(step) => usize::try_from(step).unwrap_or(1),
        None => 1,
    };
    // from and to are within 0..=length here.
    Ok((usize::try_from(from).unwrap_or(0)..usize::try_from(to).unwrap_or(0)).step_by(step).collect())
}

fn passes(item: &Value, left: &[Step], operator: &str, right: &[Step]) -> Result<bool, JsonPathError> {
    let lefts = evaluate(left, vec![Cow::Borrowed(item)]);
    if operator == "exists" {
        return Ok(lefts.is_ok_and(|lefts| !lefts.is_empty()));
    }
    let lefts = lefts?;
    let rights = evaluate(right, vec![Cow::Borrowed(item)])?;
    if lefts.is_empty() || rights.is_empty() {
        return Ok(false);
    }
    if lefts.len() > 1 || rights.len() > 1 {
        return Err(JsonPathError::Execute("can only compare one element at a time".into()));
    }
    compare(&lefts[0], operator, &rights[0])
}

/// client-go's comparisons (Go templates' `eq`, `lt`, …): numbers with numbers of the same kind,
/// strings with strings, booleans only for equality.
fn compare(left: &Value, operator: &str, right: &Value) -> Result<bool, JsonPathError> {
    use std::cmp::Ordering;
    let incompatible = || JsonPathError::Execute("incompatible types for comparison".into());
    let ordering = match (left, right) {
        (Value::String(left), Value::String(right)) => left.cmp(right),
        (Value::Number(left), Value::Number(right)) => match (left.as_i64(), right.as_i64()) {
            (Some(left), Some(right)) => left.cmp(&right),
            (None, None) => {
                let (left, right) = (left.as_f64().unwrap_or(f64::NAN), right.as_f64().unwrap_or(f64::NAN));
                left.partial_cmp(&right).unwrap_or(Ordering::Less)
            }
            _ => return Err(incompatible()),
        },
        (Value::Bool(left), Value::Bool(right)) if matches!(operator, "==" | "!=") => {
            if left == right {
                Ordering::Equal
            } else {
                Ordering::Less
            }
        }
        (Value::Bool(_), Value::Bool(_)) => return Err(JsonPathError::Execute("invalid type for comparison".into())),
        _ => return Err(incompatible()),
    };
    Ok(match operator {
        "==" => ordering == Ordering::Equal,
        "!=" => ordering != Ordering::Equal,
        "<" => ordering == Ordering::Less,
        ">" => ordering == Ordering::Greater,
        "<=" => ordering != Ordering::Greater,
        ">=" => ordering != Ordering::Less,
        other => return Err(JsonPathError::Execute(format!("unrecognized filter operator {other}"))),
    })
}

/// A value as Go's `fmt.Print` writes what client-go found: strings raw, `<nil>` for null.
fn go_text(value: &Value, out: &mut String) {
    go_scalar(value, go_number, out);
}

/// A scalar as Go's `%v` writes it, numbers by `number`.
fn go_scalar(value: &Value, number: NumberPrinter, out: &mut String) {
    match value {
        Value::String(text) => out.push_str(text),
        Value::Null => out.push_str("<nil>"),
        Value::Number(value) => number(value, out),
        other => go_json(other, out),
    }
}

/// How a number is printed: client-go's JSONPath prints JSON's numbers as they are
/// ([`go_number`]); Go templates print them as the Go types they decode into.
pub type NumberPrinter = fn(&serde_json::Number, &mut String);

/// A JSON number as client-go's JSONPath prints it.
pub fn go_number(number: &serde_json::Number, out: &mut String) {
    if number.is_f64() {
        let _ = write!(out, "{}", number.as_f64().unwrap_or_default());
    } else {
        let _ = write!(out, "{number}");
    }
}

/// A value as Go's `%v` writes an unstructured object (custom-columns, templates):
/// `map[a:1 b:x]`, `[a b]`, `<nil>`, numbers by `number`.
pub fn go_value(value: &Value, number: NumberPrinter, out: &mut String) {
    match value {
        Value::Object(map) => {
            out.push_str("map[");
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            for (index, key) in keys.into_iter().enumerate() {
                if index > 0 {
                    out.push(' ');
                }
                out.push_str(key);
                out.push(':');
                go_value(&map[key], number, out);
            }
            out.push(']');
        }
        Value::Array(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(' ');
                }
                go_value(item, number, out);
            }
            out.push(']');
        }
        other => go_scalar(other, number, out),
    }
}

/// Go's `reflect` type name of an unstructured value, as client-go's errors name it.
fn go_type(value: &Value) -> &'static str {
    match value {
        Value::Object(_) => "map[string]interface {}",
        Value::String(_) => "string",
        Value::Bool(_) => "bool",
        Value::Number(number) if number.is_f64() => "float64",
        Value::Number(_) => "int64",
        Value::Array(_) => "[]interface {}",
        Value::Null => "<nil>",
    }
}

/// Compact JSON as Go's `json.Marshal` writes it: keys sorted, `<`, `>` and `&` escaped.
pub fn go_json(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            out.push('{');
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            for (index, key) in keys.into_iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                go_string(key, out);
                out.push(':');
                go_json(&map[key], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                go_json(item, out);
            }
            out.push(']');
        }
        Value::String(text) => go_string(text, out),
        Value::Number(number) => go_number(number, out),
        other => out.push_str(&other.to_string()),
    }
}

/// Go's `json.MarshalIndent(value, indent, "    ")` as kubectl's printers call it: four spaces a
/// level, map keys sorted, `<`, `>` and `&` escaped; `indent` starts each line after the first.
pub fn go_json_indented(value: &Value, indent: &str) -> String {
    let inner = format!("{indent}    ");
    let block = |open: char, close: char, parts: Vec<String>| {
        if parts.is_empty() { format!("{open}{close}") } else { format!("{open}\n{inner}{}\n{indent}{close}", parts.join(&format!(",\n{inner}"))) }
    };
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            block('{', '}', keys.into_iter().map(|key| {
                let mut text = String::new();
                go_string(key, &mut text);
                format!("{text}: {}", go_json_indented(&map[key], &inner))
            }).collect())
        }
        Value::Array(items) => block('[', ']', items.iter().map(|item| go_json_indented(item, &inner)).collect()),
        scalar => {
            let mut text = String::new();
            go_json(scalar, &mut text);
            text
        }
    }
}

pub fn go_string(text: &str, out: &mut String) {
    out.push('"');
    for character in text.chars() {
        match character {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", u32::from(character));
            }
            control if u32::from(control) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(control));
            }
            other => out.push(other),
        }
    }
    out.push('"');
}

/// kubectl's relaxed form for custom-columns and `--sort-by`: `a.b`, `.a.b`, `{a.b}` and
/// `{.a.b}` all mean `{.a.b}`.
pub fn relaxed(expression: &str) -> Result<String, JsonPathError> {
    if expression.is_empty() {
        return Ok(String::new());
    }
    let inner = match expression.strip_prefix('{').and_then(|rest| rest.strip_suffix('}')) {
        Some(inner) => inner,
        None => expression,
    };
    let inner = inner.strip_prefix('.').unwrap_or(inner);
    if inner.is_empty() || inner.contains(['{', '}']) {
        return Err(JsonPathError::Parse(
            "unexpected path string, expected a 'name1.name2' or '.name1.name2' or '{name1.name2}' or '{.name1.name2}'".into(),
        ));
    }
    Ok(format!("{{.{inner}}}"))
}

/// The parser of one action, from after its `{` to its `}`.
struct Parser<'a> {
    input: &'a str,
    position: usize,
}

impl<'a> Parser<'a> {
    fn rest(&self) -> &'a str {
        &self.input[self.position..]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn error(what: impl Into<String>) -> JsonPathError {
        JsonPathError::Parse(what.into())
    }

    /// Steps up to and past the closing `}`.
    fn action(&mut self) -> Result<Vec<Step>, JsonPathError> {
        let mut steps = Vec::new();
        loop {
            let rest = self.rest();
            if rest.starts_with('}') {
                self.position += 1;
                return Ok(steps);
            }
            if rest.starts_with("[?(") {
                self.position += 3;
                steps.push(self.filter()?);
                continue;
            }
            if rest.starts_with("..") {
                if steps.last() == Some(&Step::Recursive) {
                    return Err(Self::error("invalid multiple recursive descent"));
                }
                self.position += 2;
                steps.push(Step::Recursive);
                if self.peek().is_some_and(is_alphanumeric) {
                    steps.push(self.field());
                }
                continue;
            }
            let Some(character) = self.peek() else {
                return Err(Self::error("unclosed action"));
            };
            match character {
                '\r' | '\n' => return Err(Self::error("unclosed action")),
                ' ' | '@' | '$' => self.position += 1,
                '[' => {
                    self.position += 1;
                    steps.extend(self.array()?);
                }
                '"' | '\'' => steps.push(Step::Literal(Value::String(self.quoted(character)?))),
                '.' => {
                    self.position += 1;
                    steps.push(self.field());
                }
                '+' | '-' | '0'..='9' => steps.push(self.number()?),
                character if is_alphanumeric(character) => {
                    let word = self.until_terminator();
                    steps.push(match word.as_str() {
                        "true" => Step::Literal(Value::Bool(true)),
                        "false" => Step::Literal(Value::Bool(false)),
                        _ => Step::Identifier(word),
                    });
                }
                other => return Err(Self::error(format!("unrecognized character in action: {}", go_rune(other)))),
            }
        }
    }

    fn until_terminator(&mut self) -> String {
        let rest = self.rest();
        let end = rest.find(is_terminator).unwrap_or(rest.len());
        self.position += end;
        rest[..end].to_string()
    }

    /// A name up to the next unescaped terminator; `\` escapes (`\.`) and is dropped.
    fn field(&mut self) -> Step {
        let rest = self.rest();
        let mut end = rest.len();
        let mut escaped = false;
        for (index, character) in rest.char_indices() {
            if escaped {
                escaped = false;
            } else if character == '\\' {
                escaped = true;
            } else if is_terminator(character) {
                end = index;
                break;
            }
        }
        self.position += end;
        match &rest[..end] {
            "*" => Step::Wildcard,
            name => Step::Field(name.replace('\\', "")),
        }
    }

    fn number(&mut self) -> Result<Step, JsonPathError> {
        let rest = self.rest();
        let sign = usize::from(rest.starts_with(['+', '-']));
        let end = rest[sign..].find(|character: char| character != '.' && !character.is_ascii_digit()).map_or(rest.len(), |end| end + sign);
        self.position += end;
        let text = &rest[..end];
        if let Ok(integer) = text.parse::<i64>() {
            return Ok(Step::Literal(Value::from(integer)));
        }
        text.parse::<f64>().map(|float| Step::Literal(Value::from(float))).map_err(|_| Self::error(format!("cannot parse number {text}")))
    }

    fn quoted(&mut self, quote: char) -> Result<String, JsonPathError> {
        let rest = self.rest();
        let mut previous = quote;
        for (index, character) in rest.char_indices().skip(1) {
            if character == '\n' {
                break;
            }
            if character == quote && previous != '\\' {
                self.position += index + 1;
                return unquote(&rest[1..index], quote).ok_or_else(|| Self::error(format!("unquote string {} error invalid syntax", &rest[..=index])));
            }
            previous = character;
        }
        Err(Self::error("unterminated quoted string"))
    }

    /// After `[`: an index or slice, `'key'`, `*`, or a union of those.
    fn array(&mut self) -> Result<Vec<Step>, JsonPathError> {
        let rest = self.rest();
        let end = rest.find([']', '\n']).filter(|end| rest[*end..].starts_with(']')).ok_or_else(|| Self::error("unterminated array"))?;
        self.position += end + 1;
        let text = if &rest[..end] == "*" { ":" } else { &rest[..end] };
        if text.contains(',') {
            let branches = text.split(',').map(|part| sub_action(&format!("[{}]", part.trim_matches(' ')))).collect::<Result<_, _>>()?;
            return Ok(vec![Step::Union(branches)]);
        }
        if let Some(key) = text.strip_prefix('\'').and_then(|key| key.strip_suffix('\'')).filter(|key| !key.contains('\'')) {
            return sub_action(&format!(".{key}"));
        }
        slice(text).map(|step| vec![step])
    }

    /// After `[?(`: `left op right`, or `left` alone (exists), up to `)]`.
    fn filter(&mut self) -> Result<Step, JsonPathError> {
        let rest = self.rest();
        let (mut open, mut closed) = (false, false);
        let mut pair = '"';
        let mut previous = ' ';
        let mut end = None;
        for (index, character) in rest.char_indices() {
            match character {
                '\n' => break,
                '"' | '\'' if !open => {
                    open = true;
                    pair = character;
                }
                '"' | '\'' if previous != '\\' && character == pair => closed = true,
                ')' if open == closed => {
                    end = Some(index);
                    break;
                }
                _ => {}
            }
            previous = character;
        }
        let end = end.ok_or_else(|| Self::error("unterminated filter"))?;
        if !rest[end + 1..].starts_with(']') {
            return Err(Self::error("unclosed array expect ]"));
        }
        self.position += end + 2;
        let text = &rest[..end];
        let operator_at = text.find(['!', '<', '>', '=']).filter(|at| *at > 0);
        let Some(at) = operator_at else {
            return Ok(Step::Filter { left: sub_action(text)?, operator: "exists".into(), right: Vec::new() });
        };
        let operator_end = text[at..].find(|character| !matches!(character, '!' | '<' | '>' | '=' | '~')).map_or(text.len(), |end| at + end);
        let right = &text[operator_end..];
        if right.is_empty() {
            return Ok(Step::Filter { left: sub_action(text)?, operator: "exists".into(), right: Vec::new() });
        }
        Ok(Step::Filter { left: sub_action(&text[..at])?, operator: text[at..operator_end].to_string(), right: sub_action(right)? })
    }
}

/// The steps of `text` parsed as the inside of one action.
fn sub_action(text: &str) -> Result<Vec<Step>, JsonPathError> {
    let wrapped = format!("{text}}}");
    let mut parser = Parser { input: &wrapped, position: 0 };
    parser.action()
}

fn slice(text: &str) -> Result<Step, JsonPathError> {
    let invalid = || JsonPathError::Parse(format!("invalid array index {text}"));
    let parts: Vec<&str> = text.split(':').collect();
    if parts.len() > 3 {
        return Err(invalid());
    }
    let number = |part: &str| -> Result<Option<i64>, JsonPathError> {
        if part.is_empty() {
            return Ok(None);
        }
        let digits = part.strip_prefix('-').unwrap_or(part);
        if digits.is_empty() || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
            return Err(invalid());
        }
        part.parse().map(Some).map_err(|_| JsonPathError::Parse(format!("array index {part} is not a number")))
    };
    let start = number(parts[0])?;
    if parts.len() == 1 {
        // `[n]` is `[n:n+1]`, its end counted from the back when n is -1.
        return Ok(Step::Slice { start, end: Some(start.unwrap_or(0) + 1), derived_end: true, step: None });
    }
    Ok(Step::Slice { start, end: number(parts[1])?, derived_end: false, step: parts.get(2).map(|part| number(part)).transpose()?.flatten() })
}

fn unquote(text: &str, quote: char) -> Option<String> {
    let mut out = String::new();
    let mut characters = text.chars();
    while let Some(character) = characters.next() {
        if character != '\\' {
            if character == quote {
                return None;
            }
            out.push(character);
            continue;
        }
        match characters.next()? {
            'n' => out.push('\n'),
            't' => out.push('\t'),
            'r' => out.push('\r'),
            '0' => out.push('\0'),
            'a' => out.push('\u{7}'),
            'b' => out.push('\u{8}'),
            'f' => out.push('\u{c}'),
            'v' => out.push('\u{b}'),
            escaped @ ('\\' | '"' | '\'') => out.push(escaped),
            _ => return None,
        }
    }
    Some(out)
}

fn is_terminator(character: char) -> bool {
    matches!(character, ' ' | '\t' | '\r' | '\n' | '.' | ',' | '[' | ']' | '$' | '@' | '{' | '}')
}

fn is_alphanumeric(character: char) -> bool {
    character == '_' || character.is_alphanumeric()
}

/// Go's `%#U` of a rune: `U+0021 '!'`.
fn go_rune(character: char) -> String {
    format!("U+{:04X} '{character}'", u32::from(character))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn render(template: &str, data: &Value) -> Result<String, JsonPathError> {
        Template::parse(template)?.render(data)
    }

    /// Cases from client-go's `jsonpath_test.go`, with its data as JSON (its structs' fields by
    /// their JSON names); every missing key is allowed, as kubectl allows them.
    #[test]
    fn client_go_cases() {
        let types = json!({
            "bools": [true, false, true, false],
            "integers": [1, 2, 3, 4],
            "floats": [1.0, 2.2, 3.3, 4.0],
            "strings": ["one", "two", "three", "four"],
            "interfaces": [true, "one", 1, 1.1],
            "maps": [{"name": "one", "value": 1}, {"name": "two", "value": 2.02}, {"name": "three", "value": 3.03}, {"name": "four", "value": 4.04}],
        });
        let store = json!({
            "Name": "jsonpath",
            "Book": [
                {"Category": "reference", "Author": "Nigel Rees", "Title": "Sayings of the Centurey", "Price": 8.95},
                {"Category": "fiction", "Author": "Evelyn Waugh", "Title": "Sword of Honour", "Price": 12.99},
                {"Category": "fiction", "Author": "Herman Melville", "Title": "Moby Dick", "Price": 8.99}
            ],
            "Bicycle": [{"Color": "red", "Price": 19.95, "IsNew": true}, {"Color": "green", "Price": 20.01, "IsNew": false}],
            "Labels": {"engieer": 10, "web/html": 15, "k8s-app": 20},
            "Employees": {"jason": "manager", "dan": "clerk"}
        });
        let nodes = json!({
            "kind": "List",
            "items": [
                {"kind": "None", "metadata": {"name": "127.0.0.1", "labels": {"kubernetes.io/hostname": "127.0.0.1"}},
                 "status": {"capacity": {"cpu": "4"}, "ready": true, "addresses": [{"type": "LegacyHostIP", "address": "127.0.0.1"}]}},
                {"kind": "None", "metadata": {"name": "127.0.0.2", "labels": {"kubernetes.io/hostname": "127.0.0.2"}},
                 "status": {"capacity": {"cpu": "8"}, "ready": false, "addresses": [
                     {"type": "LegacyHostIP", "address": "127.0.0.2"}, {"type": "another", "address": "127.0.0.3"}]}}
            ],
            "users": [{"name": "myself", "user": {}}, {"name": "e2e", "user": {"username": "admin", "password": "secret"}}]
        });
        let points = json!([
            {"id": "i1", "x": 4, "y": -5}, {"id": "i2", "x": -2, "y": -5, "z": 1}, {"id": "i3", "x": 8, "y": 3},
            {"id": "i4", "x": -6, "y": -1}, {"id": "i5", "x": 0, "y": 2, "z": 1}, {"id": "i6", "x": 1, "y": 4}
        ]);
        let containers = json!({"spec": {"containers": (0..6).map(|index| json!({"name": format!("fake{index}")})).collect::<Vec<_>>()}});
        let four = json!({"spec": {"containers": (0..4).map(|index| json!({"name": format!("fake{index}")})).collect::<Vec<_>>()}});
        let cases: &[(&str, &Value, &str)] = &[
            ("{ .bools }", &types, "[true,false,true,false]"),
            ("{ .bools[-1] }", &types, "false"),
            ("{ .bools[:4:2] }", &types, "true true"),
            ("{ .integers[-2] }", &types, "3"),
            ("{ .integers[0:2] }", &types, "1 2"),
            ("{ .floats }", &types, "[1,2.2,3.3,4]"),
            ("{ .floats[:4:2] }", &types, "1 3.3"),
            ("{ .strings }", &types, r#"["one","two","three","four"]"#),
            ("{ .strings[:2] }", &types, "one two"),
            ("{ .interfaces }", &types, r#"[true,"one",1,1.1]"#),
            ("{ .interfaces[:4:2] }", &types, "true 1"),
            ("{ .maps[-2] }", &types, r#"{"name":"three","value":3.03}"#),
            ("{ .maps[1::2] }", &types, r#"{"name":"two","value":2.02} {"name":"four","value":4.04}"#),
            ("hello jsonpath", &Value::Null, "hello jsonpath"),
            ("{..}", &json!([1, 2, 3]), "[1,2,3]"),
            ("{[?(@<5)]}", &json!([2, 6, 3, 7]), "2 3"),
            (r#"{"{"}"#, &Value::Null, "{"),
            ("{[1,3,4]}", &json!([0, 1, 2, 3, 4]), "1 3 4"),
            ("{[0:2]}", &json!(["Monday", "Tudesday"]), "Monday Tudesday"),
            ("hello {.Name}", &store, "hello jsonpath"),
            ("{$.Labels.web/html}", &store, "15"),
            ("{$.Employees.jason}", &store, "manager"),
            ("{.Labels.k8s-app}", &store, "20"),
            ("{.Bicycle[*].Color}", &store, "red green"),
            ("{.Book[*].Author}", &store, "Nigel Rees Evelyn Waugh Herman Melville"),
            (r#"{range .Bicycle[*]}{ "{" }{ @.Color } { @.Price }{ "} " }{end}"#, &store, "{red 19.95} {green 20.01} "),
            // client-go's store is a struct (fields in order); over a map Go's order is random,
            // ours is the keys' order.
            ("{..Price}", &store, "19.95 20.01 8.95 12.99 8.99"),
            ("{...Price}", &store, "19.95 20.01 8.95 12.99 8.99"),
            ("{.Book[-1:].Title}", &store, "Moby Dick"),
            ("{..Book[2].Title}", &store, "Moby Dick"),
            ("{.Bicycle[?(@.IsNew==true)].Color}", &store, "red"),
            ("{.hello}", &store, ""),
            ("before-{.hello}after", &store, "before-after"),
            ("{[?(@.z)].id}", &points, "i2 i5"),
            ("{[0]['id']}", &points, "i1"),
            ("{[?(@.x>=1)].id}", &points, "i1 i3 i6"),
            ("{range .items[*]}{.metadata.name}, {end}{.kind}", &nodes, "127.0.0.1, 127.0.0.2, List"),
            (r#"{range .items[*]}{.metadata.name}{"\t"}{end}"#, &nodes, "127.0.0.1\t127.0.0.2\t"),
            ("{.items[*].status.addresses[*].address}", &nodes, "127.0.0.1 127.0.0.2 127.0.0.3"),
            ("{range .items[*]}{range .status.addresses[*]}{.address}, {end}{end}", &nodes, "127.0.0.1, 127.0.0.2, 127.0.0.3, "),
            ("{.items[*]['metadata.name', 'status.capacity']}", &nodes, r#"127.0.0.1 127.0.0.2 {"cpu":"4"} {"cpu":"8"}"#),
            ("{range .items[*]}[{.metadata.name}, {.status.capacity}] {end}", &nodes, r#"[127.0.0.1, {"cpu":"4"}] [127.0.0.2, {"cpu":"8"}] "#),
            (r#"{.users[?(@.name=="e2e")].user.password}"#, &nodes, "secret"),
            (r"{.items[0].metadata.labels.kubernetes\.io/hostname}", &nodes, "127.0.0.1"),
            (r#"{.items[?(@.metadata.labels.kubernetes\.io/hostname=="127.0.0.1")].kind}"#, &nodes, "None"),
            ("{.items[?(@..ready==true)].metadata.name}", &nodes, "127.0.0.1"),
            ("{range .items[*]}{.metadata.name}{end}", &json!({"items": []}), ""),
            (r#"{range .items[?(.status.phase=="Running")]}{.metadata.name}{" is Running\n"}{end}"#,
             &json!({"items": [{"metadata": {"name": "pod1"}, "status": {"phase": "Running"}}, {"resourceVersion": ""}]}), "pod1 is Running\n"),
            ("{.spec.containers[0:0].name}", &four, ""),
            ("{.spec.containers[0:-1].name}", &four, "fake0 fake1 fake2"),
            ("{.spec.containers[-1:].name}", &four, "fake3"),
            ("{.spec.containers[-4].name}", &four, "fake0"),
            ("{.spec.containers[5:5].name}", &four, ""),
            ("{.spec.containers[-5:-5].name}", &four, ""),
            ("{.spec.containers[0:6:].name}", &containers, "fake0 fake1 fake2 fake3 fake4 fake5"),
            ("{.spec.containers[1:4:3].name}", &containers, "fake1"),
            ("{.spec.containers[0:6:5].name}", &containers, "fake0 fake5"),
            // Go's json.Marshal escapes HTML characters; null prints as Go prints nil.
            ("{.a}", &json!({"a": {"b": "<&>"}}), r#"{"b":"\u003c\u0026\u003e"}"#),
            ("{.a}", &json!({"a": null}), "<nil>"),
        ];
        for (template, data, expected) in cases {
            assert_eq!(render(template, data).as_deref(), Ok(*expected), "{template}");
        }
        let nested = json!({"items": [
            {"metadata": {"name": "pod1"}, "spec": {"containers": [
                {"name": "foo", "another": [{"name": "value1"}, {"name": "value2"}]},
                {"name": "bar", "another": [{"name": "value1"}, {"name": "value2"}]}]}},
            {"metadata": {"name": "pod2"}, "spec": {"containers": [{"name": "baz", "another": [{"name": "value1"}, {"name": "value2"}]}]}}
        ]});
        let template = r##"{range .items[*]}{.metadata.name}{"~"}{range @.spec.containers[*]}{.name}{":"}{range @.another[*]}{.name}{","}{end}{"+"}{end}{"#"}{end}"##;
        assert_eq!(render(template, &nested).unwrap(), "pod1~foo:value1,value2,+bar:value1,value2,+#pod2~baz:value1,value2,+#");
        let template = r#"{range .items[*]}{.metadata.name}{"\t"}{range @.spec.containers[*]}{.name}{" "}{end}{"\t"}{range @.spec.containers[*]}{.name}{" "}{end}{"\n"}{end}"#;
        assert_eq!(render(template, &nested).unwrap(), "pod1\tfoo bar \tfoo bar \npod2\tbaz \tbaz \n");
    }

    #[test]
    fn client_go_errors() {
        let store = json!({"Labels": {"a": 1}, "Book": [{"Price": 1}]});
        let four = json!({"spec": {"containers": [1, 2, 3, 4]}});
        let cases: &[(&str, &Value, &str)] = &[
            ("{hello}", &store, "unrecognized identifier hello"),
            ("{.Labels[0]}", &store, "map[string]interface {} is not array or slice"),
            ("{.Book[?(@.Price<>10)]}", &store, "unrecognized filter operator <>"),
            ("{range .Labels.*}{@}{end}{end}", &store, "not in range, nothing to end"),
            ("{.Labels[?(@.a)]}", &store, "map[a:1] is not array or slice and cannot be filtered"),
            ("{.spec.containers[-1:0]}", &four, "starting index 3 is greater than ending index 0"),
            ("{.spec.containers[-5]}", &four, "array index out of bounds: index -1, length 4"),
            ("{.spec.containers[4]}", &four, "array index out of bounds: index 4, length 4"),
            ("{.spec.containers[3:1]}", &four, "starting index 3 is greater than ending index 1"),
            ("{.spec.containers[0:4:0]}", &four, "step must be > 0"),
            ("{.spec.containers[0:4:-1]}", &four, "step must be > 0"),
            ("{............Price}", &store, "invalid multiple recursive descent"),
            ("{.a", &store, "unclosed action"),
            ("{.a[0}", &store, "unterminated array"),
            ("{.a[x]}", &store, "invalid array index x"),
            ("{.a[?(@.x==1}", &store, "unterminated filter"),
            (r#"{"a}"#, &store, "unterminated quoted string"),
            ("{#}", &store, "unrecognized character in action: U+0023 '#'"),
        ];
        for (template, data, expected) in cases {
            assert_eq!(render(template, data).map_err(|err| err.to_string()), Err(expected.to_string()), "{template}");
        }
    }

    #[test]
    fn relaxed_paths_are_kubectl_s() {
        for (path, expected) in [("a.b", "{.a.b}"), (".a.b", "{.a.b}"), ("{a.b}", "{.a.b}"), ("{.a.b}", "{.a.b}"), ("", "")] {
            assert_eq!(relaxed(path).as_deref(), Ok(expected));
        }
        assert!(relaxed("{.a}{.b}").is_err());
    }

    #[test]
    fn go_values_print_as_go_prints_them() {
        let mut text = String::new();
        go_value(&json!({"b": [1, "x", {"c": null}], "a": 1.5}), go_number, &mut text);
        assert_eq!(text, "map[a:1.5 b:[1 x map[c:<nil>]]]");
    }
}
