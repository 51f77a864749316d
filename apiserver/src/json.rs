//! Reading JSON and YAML documents into `serde_json::Value` under one set of limits, for request
//! bodies and stored values alike, so that the write path never stores what the read path
//! cannot read back:
//!
//! - objects and arrays nest at most [`MAX_DEPTH`] levels;
//! - a YAML document's aliases may not expand it beyond a small multiple of its own size
//!   ([`expansion_budget`]), counted before anything is allocated;
//! - duplicate object keys are reported (the last one wins, as in Go's decoder and serde_json's),
//!   so that `fieldValidation` can refuse or warn about them as kube-apiserver does.
//!
//! Both formats go through one visitor, which builds the `Value` as serde_json's own would.

use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// How deeply objects and arrays may nest in any object this server stores or accepts (the
/// object itself is level 1).
///
/// Why 100: the readers of a stored object stop at 128 levels (serde_json's recursion limit,
/// which the store's decoder, the watch cache and clients built on serde_json such as kube-rs
/// all have; serde_yaml_ng's is the same), and several of them read the object wrapped in more
/// levels than it has alone: a list adds two (`{"items": [...]}`), a watch event one, a Table row
/// three. The 28 levels left over cover those with room to spare. Real objects nest far less: a
/// Deployment's deepest field is about 15 levels down, and its `managedFields[].fieldsV1` about as
/// deep as the fields it records.
pub const MAX_DEPTH: usize = 100;

/// How deeply a stored object may nest and still be read back: the most serde_json reads (its
/// recursion limit is 128), which is what this server read before [`MAX_DEPTH`] bounded writes.
/// Objects between the two were let in by older versions and stay readable, so the repair path
/// (`--delete-undecodable-objects`) removes only what no version could read.
pub const MAX_STORED_DEPTH: usize = 127;

/// How many duplicate keys are reported; kube-apiserver's decoder stops collecting strict
/// errors at 100 too.
const MAX_REPORTED_DUPLICATES: usize = 100;

/// How many path segments a "nests too deep" error shows before eliding the rest.
const SHOWN_PATH_SEGMENTS: usize = 8;

/// A document read within the limits.
#[derive(Debug)]
pub struct Document {
    pub value: Value,
    /// The paths (`metadata.labels.app`, `spec.containers[0].name`) of keys that occurred more
    /// than once in their object, in the order met; the value kept is the last one.
    pub duplicates: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum DocumentError {
    #[error("{0}")]
    Json(#[source] serde_json::Error),
    #[error("{0}")]
    Yaml(#[source] serde_yaml_ng::Error),
    #[error("the object nests deeper than {limit} levels (at {path})")]
    TooDeep { limit: usize, path: String },
    #[error("the value is not a JSON object")]
    NotAnObject,
    /// go-yaml's words for the same refusal, then the budget that was crossed.
    #[error("yaml: document contains excessive aliasing (its aliases expand it beyond {budget} bytes)")]
    ExcessiveAliasing { budget: usize },
}

/// How large a YAML document of `source_len` bytes may become once its aliases are expanded,
/// counted as one unit per node plus the bytes of each scalar (keys included).
///
/// A document without aliases never reaches it: each node takes at least one byte of the source,
/// and a scalar's text is at most 1.5 times its source (the escapes `\L` and `\P` are two bytes
/// that become three); so it stays under 2.5 times its size. Aliases are what can take it further
/// (a 1 MiB scalar named 400 times is 400 MiB), and those documents are refused before the first
/// byte of the expansion is allocated.
pub fn expansion_budget(source_len: usize) -> usize {
    source_len.saturating_mul(3).saturating_add(4096)
}

/// Parses one JSON document.
pub fn from_json(bytes: &[u8]) -> Result<Document, DocumentError> {
    json_within(bytes, MAX_DEPTH)
}

/// Parses a stored object's JSON, up to [`MAX_STORED_DEPTH`].
pub fn from_stored_json(bytes: &[u8]) -> Result<Document, DocumentError> {
    json_within(bytes, MAX_STORED_DEPTH)
}

fn json_within(bytes: &[u8], max_depth: usize) -> Result<Document, DocumentError> {
    let mut state = State::new(Mode::Build, usize::MAX);
    state.max_depth = max_depth;
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let parsed = ValueSeed { state: &mut state }.deserialize(&mut deserializer).and_then(|value| deserializer.end().map(|()| value));
    match parsed {
        Ok(value) => Ok(Document { value, duplicates: state.duplicates }),
        Err(err) => Err(state.failure.take().unwrap_or(DocumentError::Json(err))),
    }
}

/// Parses one YAML document, its aliases expanded within [`expansion_budget`].
///
/// Two passes: the first only counts what the expanded document would hold and allocates
/// nothing for it (serde_yaml_ng replays an alias from the events it has already loaded), so
/// an alias bomb is refused at the cost of its source; the second builds the value.
pub fn from_yaml(bytes: &[u8]) -> Result<Document, DocumentError> {
    let budget = expansion_budget(bytes.len());
    // The YAML library copies each scalar as it scans it (a 1 MiB scalar costs several MiB
    // before the first alias is replayed), so a document whose aliases plainly name more than
    // the budget is refused from its text alone.
    if aliases::estimated_expansion(bytes, budget) > budget {
        return Err(DocumentError::ExcessiveAliasing { budget });
    }
    let mut counting = State::new(Mode::Count, budget);
    if let Err(err) = (ValueSeed { state: &mut counting }).deserialize(serde_yaml_ng::Deserializer::from_slice(bytes)) {
        return Err(counting.failure.take().unwrap_or(DocumentError::Yaml(err)));
    }
    let mut state = State::new(Mode::Build, budget);
    match (ValueSeed { state: &mut state }).deserialize(serde_yaml_ng::Deserializer::from_slice(bytes)) {
        Ok(value) => Ok(Document { value, duplicates: state.duplicates }),
        Err(err) => Err(state.failure.take().unwrap_or(DocumentError::Yaml(err))),
    }
}

/// A look at a YAML document's text, before any parser copies it, for what its aliases would
/// add: each alias adds the size of the node its anchor names, counted as the anchor's text
/// (from the anchor to the next line indented no deeper than the anchor's line), including
/// what the aliases inside that text add in turn. Anchors and aliases count where a node can
/// start, outside quoted scalars, block scalars and comments. It is an estimate that errs
/// towards low: what it misses, the parser's exact count still refuses.
mod aliases {
    struct Anchor<'a> {
        name: &'a [u8],
        end: usize,
        size: usize,
    }

    /// The document's size with its aliases expanded, as far as the text tells; stops counting
    /// once past `limit`.
    pub fn estimated_expansion(text: &[u8], limit: usize) -> usize {
        let mut total = text.len();
        if !text.contains(&b'*') {
            return total;
        }
        let mut anchors: Vec<Anchor<'_>> = Vec::new();
        // Bytes looked at to find anchors' ends; past a few times the text, the estimate stops.
        let mut scanned = 0usize;
        let mut at = 0;
        let mut line_indent = 0;
        let mut at_line_start = true;
        let mut token_start = true;
        let mut block_indent: Option<usize> = None;
        while at < text.len() {
            let byte = text[at];
            if at_line_start {
                let indent = text[at..].iter().take_while(|byte| **byte == b' ').count();
                let rest = &text[at + indent..];
                let blank = rest.first().is_none_or(|byte| *byte == b'\n' || *byte == b'\r');
                if let Some(block) = block_indent {
                    if blank || indent > block {
                        at = next_line(text, at);
                        continue;
                    }
                    block_indent = None;
                }
                line_indent = indent;
                at += indent;
                at_line_start = false;
                token_start = true;
                continue;
            }
            match byte {
                b'\n' => {
                    at += 1;
                    at_line_start = true;
                    continue;
                }
                b' ' | b'\t' | b'\r' => {}
                b'#' if token_start || text.get(at.wrapping_sub(1)).is_some_and(|byte| *byte == b' ' || *byte == b'\t') => {
                    at = next_line(text, at);
                    continue;
                }
                b'\'' | b'"' if token_start => {
                    at = quoted_end(text, at);
                    token_start = false;
                    continue;
                }
                b'|' | b'>' if token_start => {
                    block_indent = Some(line_indent);
                    at = next_line(text, at);
                    continue;
                }
                b'&' | b'*' if token_start => {
                    let name_end = text[at + 1..].iter().position(|byte| matches!(byte, b' ' | b'\t' | b'\r' | b'\n' | b',' | b'[' | b']' | b'{' | b'}')).map_or(text.len(), |end| at + 1 + end);
                    let name = &text[at + 1..name_end];
                    if byte == b'&' {
                        let end = node_end(text, name_end, line_indent);
                        scanned = scanned.saturating_add(end - at);
                        if scanned > text.len().saturating_mul(4) {
                            return total;
                        }
                        anchors.push(Anchor { name, end, size: end - at });
                    } else if let Some(size) = anchors.iter().rev().find(|anchor| anchor.name == name).map(|anchor| anchor.size) {
                        total = total.saturating_add(size);
                        for open in anchors.iter_mut().filter(|anchor| anchor.end > at) {
                            open.size = open.size.saturating_add(size);
                        }
                        if total > limit {
                            return total;
                        }
                    }
                    at = name_end;
                    // An anchor is a property of the node that follows it.
                    token_start = byte == b'&';
                    continue;
                }
                b'[' | b'{' | b',' => token_start = true,
                b':' | b'-' | b'?' => {
                    // An indicator only when followed by a space or the line's end.
                    token_start = text.get(at + 1).is_none_or(|next| matches!(next, b' ' | b'\t' | b'\r' | b'\n'));
                }
                _ => token_start = false,
            }
            at += 1;
        }
        total
    }

    fn next_line(text: &[u8], from: usize) -> usize {
        text[from..].iter().position(|byte| *byte == b'\n').map_or(text.len(), |end| from + end + 1)
    }

    /// Past the quoted scalar starting at `from` (`''` and `\"` escape the quote).
    fn quoted_end(text: &[u8], from: usize) -> usize {
        let quote = text[from];
        let mut at = from + 1;
        while at < text.len() {
            match text[at] {
                b'\\' if quote == b'"' => at += 2,
                byte if byte == quote && quote == b'\'' && text.get(at + 1) == Some(&b'\'') => at += 2,
                byte if byte == quote => return at + 1,
                _ => at += 1,
            }
        }
        text.len()
    }

    /// Where the node anchored on a line indented `indent` ends: at the first later line that
    /// is not blank and is indented no deeper.
    fn node_end(text: &[u8], from: usize, indent: usize) -> usize {
        let mut at = next_line(text, from);
        while at < text.len() {
            let line_indent = text[at..].iter().take_while(|byte| **byte == b' ').count();
            let blank = text.get(at + line_indent).is_none_or(|byte| *byte == b'\n' || *byte == b'\r' || *byte == b'#');
            if !blank && line_indent <= indent {
                return at;
            }
            at = next_line(text, at);
        }
        text.len()
    }

    #[cfg(test)]
    mod tests {
        use super::estimated_expansion;

        #[test]
        fn aliases_add_their_anchors_text() {
            let plain = b"a: *not-an-alias-in-a-'quote'\nb: '*x'\nc: |\n  *x\n  &y\n# *x\n";
            assert_eq!(estimated_expansion(plain, usize::MAX), plain.len());
            let one = b"a: &x [1, 2]\nb: *x\n";
            assert_eq!(estimated_expansion(one, usize::MAX), one.len() + "&x [1, 2]\n".len());
            let block = b"a: &x\n  k: v\n  l: w\nb: *x\nc: *x\n";
            assert_eq!(estimated_expansion(block, usize::MAX), block.len() + 2 * "&x\n  k: v\n  l: w\n".len());
            // Nested: y holds two x's, so each y adds its text and two x's more.
            let nested = b"x: &x abc\ny: &y\n  - *x\n  - *x\nz: [*y, *y]\n";
            let x = "&x abc\n".len();
            let y = "&y\n  - *x\n  - *x\n".len() + 2 * x;
            assert_eq!(estimated_expansion(nested, usize::MAX), nested.len() + 2 * x + 2 * y);
        }

        #[test]
        fn a_large_anchor_named_often_is_past_the_limit_at_once() {
            let mut bomb = format!("data:\n  a: &x \"{}\"\n", "a".repeat(1 << 20));
            for i in 0..400 {
                bomb.push_str(&format!("  b{i}: *x\n"));
            }
            let limit = 3 * bomb.len();
            assert!(estimated_expansion(bomb.as_bytes(), limit) > limit);
        }
    }
}

/// How deeply `value` nests (a scalar is 0, `{}` and `[]` are 1).
pub fn depth(value: &Value) -> usize {
    // Iterative, so that measuring a value built elsewhere (a patch result, a protobuf body)
    // never depends on how deep it is.
    let mut deepest = 0;
    let mut pending = vec![(value, 1)];
    while let Some((value, level)) = pending.pop() {
        match value {
            Value::Array(items) => {
                deepest = deepest.max(level);
                pending.extend(items.iter().map(|item| (item, level + 1)));
            }
            Value::Object(fields) => {
                deepest = deepest.max(level);
                pending.extend(fields.values().map(|field| (field, level + 1)));
            }
            _ => {}
        }
    }
    deepest
}

/// [`DocumentError::TooDeep`] for a value built elsewhere that nests deeper than [`MAX_DEPTH`],
/// naming the path to its first level too deep.
pub fn check_depth(value: &Value) -> Result<(), DocumentError> {
    if depth(value) <= MAX_DEPTH {
        return Ok(());
    }
    let mut path = Vec::new();
    let mut current = value;
    // Follow a deepest branch down to the level past the limit.
    while path.len() < MAX_DEPTH {
        let next = match current {
            Value::Array(items) => items.iter().enumerate().max_by_key(|(_, item)| depth(item)).map(|(index, item)| (Segment::Index(index), item)),
            Value::Object(fields) => fields.iter().max_by_key(|(_, field)| depth(field)).map(|(key, field)| (Segment::Key(key.clone()), field)),
            _ => None,
        };
        let Some((segment, child)) = next else { break };
        path.push(segment);
        current = child;
    }
    Err(DocumentError::TooDeep { limit: MAX_DEPTH, path: render(&path) })
}

/// One step of a path: an object key or an array index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Segment {
    Key(String),
    Index(usize),
}

/// `metadata.labels.app`, `spec.containers[0].name`, as kube-apiserver's strict errors write paths.
pub(crate) fn render_path(path: &[Segment]) -> String {
    render_at_most(path, usize::MAX)
}

/// The path's first [`SHOWN_PATH_SEGMENTS`] segments, then how many more levels there are.
fn render(path: &[Segment]) -> String {
    render_at_most(path, SHOWN_PATH_SEGMENTS)
}

fn render_at_most(path: &[Segment], shown: usize) -> String {
    let mut text = String::new();
    for (position, segment) in path.iter().enumerate() {
        if position == shown && path.len() > shown.saturating_add(1) {
            text.push_str(&format!("... ({} more levels)", path.len() - position));
            break;
        }
        match segment {
            Segment::Key(key) => {
                if !text.is_empty() {
                    text.push('.');
                }
                text.push_str(key);
            }
            Segment::Index(index) => text.push_str(&format!("[{index}]")),
        }
    }
    text
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Only count what the document holds; build nothing.
    Count,
    /// Build the value.
    Build,
}

struct State {
    mode: Mode,
    depth: usize,
    max_depth: usize,
    /// Units of [`expansion_budget`] still allowed.
    budget: usize,
    initial_budget: usize,
    /// The keys and indexes from the root to the value being read.
    path: Vec<Segment>,
    duplicates: Vec<String>,
    /// Why the visitor stopped, when it was a limit rather than the syntax.
    failure: Option<DocumentError>,
}

impl State {
    fn new(mode: Mode, budget: usize) -> Self {
        Self { mode, depth: 0, max_depth: MAX_DEPTH, budget, initial_budget: budget, path: Vec::new(), duplicates: Vec::new(), failure: None }
    }

    fn fail<E: de::Error>(&mut self, failure: DocumentError) -> E {
        let error = E::custom(&failure);
        self.failure = Some(failure);
        error
    }

    /// Takes `units` from the budget, before what they stand for is allocated.
    fn charge<E: de::Error>(&mut self, units: usize) -> Result<(), E> {
        match self.budget.checked_sub(units) {
            Some(left) => {
                self.budget = left;
                Ok(())
            }
            None => Err(self.fail(DocumentError::ExcessiveAliasing { budget: self.initial_budget })),
        }
    }

    fn enter<E: de::Error>(&mut self) -> Result<(), E> {
        self.charge(1)?;
        self.depth += 1;
        if self.depth > self.max_depth {
            let path = render(&self.path);
            let limit = self.max_depth;
            return Err(self.fail(DocumentError::TooDeep { limit, path }));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth -= 1;
    }

    fn duplicate(&mut self, key: &str) {
        if self.duplicates.len() < MAX_REPORTED_DUPLICATES {
            self.path.push(Segment::Key(key.to_string()));
            let path = render_path(&self.path);
            self.path.pop();
            if !self.duplicates.contains(&path) {
                self.duplicates.push(path);
            }
        }
    }
}

struct ValueSeed<'s> {
    state: &'s mut State,
}

impl<'de> DeserializeSeed<'de> for ValueSeed<'_> {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ValueSeed<'_> {
    type Value = Value;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("any JSON value")
    }

    fn visit_bool<E: de::Error>(self, value: bool) -> Result<Value, E> {
        self.state.charge(2)?;
        Ok(Value::Bool(value))
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Value, E> {
        self.state.charge(2)?;
        Ok(Value::Number(value.into()))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Value, E> {
        self.state.charge(2)?;
        Ok(Value::Number(value.into()))
    }

    fn visit_i128<E: de::Error>(self, value: i128) -> Result<Value, E> {
        // Beyond 64 bits a number is a float, as serde_json parses such a number in JSON text.
        match i64::try_from(value) {
            Ok(value) => self.visit_i64(value),
            Err(_) => self.visit_f64(value as f64),
        }
    }

    fn visit_u128<E: de::Error>(self, value: u128) -> Result<Value, E> {
        match u64::try_from(value) {
            Ok(value) => self.visit_u64(value),
            Err(_) => self.visit_f64(value as f64),
        }
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<Value, E> {
        self.state.charge(2)?;
        // Infinity and NaN (YAML's .inf and .nan) have no JSON form: null, as serde_json's Value.
        Ok(Number::from_f64(value).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<Value, E> {
        self.state.charge(value.len().saturating_add(1))?;
        Ok(match self.state.mode {
            Mode::Build => Value::String(value.to_string()),
            Mode::Count => Value::Null,
        })
    }

    fn visit_string<E: de::Error>(self, value: String) -> Result<Value, E> {
        self.state.charge(value.len().saturating_add(1))?;
        Ok(Value::String(value))
    }

    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        self.state.charge(1)?;
        Ok(Value::Null)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        self.visit_none()
    }

    fn visit_some<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }

    fn visit_newtype_struct<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let state = self.state;
        state.enter()?;
        let mut items = Vec::new();
        let mut index = 0;
        loop {
            state.path.push(Segment::Index(index));
            let item = access.next_element_seed(ValueSeed { state: &mut *state });
            state.path.pop();
            match item? {
                Some(item) if state.mode == Mode::Build => items.push(item),
                Some(_) => {}
                None => break,
            }
            index += 1;
        }
        state.leave();
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let state = self.state;
        state.enter()?;
        let mut fields = Map::new();
        while let Some(key) = access.next_key_seed(KeySeed { state: &mut *state })? {
            // The key rides on the path while its value is read (for the paths of errors
            // and duplicates below it) and comes back off it to go into the map.
            state.path.push(Segment::Key(key));
            let value = access.next_value_seed(ValueSeed { state: &mut *state });
            let key = match state.path.pop() {
                Some(Segment::Key(key)) => key,
                // Pushed just above, and every level below pops what it pushes.
                _ => String::new(),
            };
            let value = value?;
            if state.mode == Mode::Count {
                continue;
            }
            match fields.entry(key) {
                serde_json::map::Entry::Occupied(mut entry) => {
                    state.duplicate(entry.key());
                    entry.insert(value);
                }
                serde_json::map::Entry::Vacant(entry) => {
                    entry.insert(value);
                }
            }
        }
        state.leave();
        Ok(Value::Object(fields))
    }
}

/// An object key, counted before it is allocated.
struct KeySeed<'s> {
    state: &'s mut State,
}

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = String;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<String, D::Error> {
        deserializer.deserialize_string(self)
    }
}

impl<'de> Visitor<'de> for KeySeed<'_> {
    type Value = String;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a string key")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<String, E> {
        // Allocated in both modes, for the path of errors; when counting, it is dropped again
        // once its value is read, so an alias bomb of keys holds one at a time.
        self.state.charge(key.len().saturating_add(1))?;
        Ok(key.to_string())
    }

    fn visit_string<E: de::Error>(self, key: String) -> Result<String, E> {
        self.state.charge(key.len().saturating_add(1))?;
        Ok(key)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn nested(levels: usize) -> String {
        format!("{}{}", "{\"a\":".repeat(levels - 1) + "{}", "}".repeat(levels - 1))
    }

    #[test]
    fn json_parses_as_serde_json_does() {
        let text = br#"{"a": [1, -2, 3.5, "x", true, null, {"b": {}}], "c": 18446744073709551615, "d": 1e400}"#;
        let document = from_json(text.as_slice()).err().map(|err| err.to_string());
        // serde_json refuses 1e400 too (out of range): the same error, not a different value.
        assert!(document.is_some_and(|err| err.contains("number out of range")));
        let text = br#"{"a": [1, -2, 3.5, "x", true, null, {"b": {}}], "c": 18446744073709551615}"#;
        let document = from_json(text.as_slice()).expect("parses");
        assert_eq!(document.value, serde_json::from_slice::<Value>(text).expect("parses"));
        assert!(document.duplicates.is_empty());
        assert!(from_json(b"{} x").is_err(), "trailing characters");
        assert!(from_json(b"{\"a\": }").is_err());
    }

    #[test]
    fn depth_is_limited_the_same_for_json_and_yaml() {
        let deepest = nested(MAX_DEPTH);
        assert_eq!(depth(&from_json(deepest.as_bytes()).expect("at the limit").value), MAX_DEPTH);
        assert_eq!(depth(&from_yaml(deepest.as_bytes()).expect("JSON is YAML").value), MAX_DEPTH);
        let too_deep = nested(MAX_DEPTH + 1);
        for err in [from_json(too_deep.as_bytes()).unwrap_err(), from_yaml(too_deep.as_bytes()).unwrap_err()] {
            assert!(matches!(&err, DocumentError::TooDeep { path, .. } if path.starts_with("a.a.a.a.a.a.a.a... (92 more levels)")), "{err}");
        }
        // Arrays count as objects do, and the path names their indexes.
        let arrays = format!("{{\"x\": {}{}}}", "[0, ".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        let err = from_json(arrays.as_bytes()).unwrap_err();
        assert!(matches!(&err, DocumentError::TooDeep { path, .. } if path.starts_with("x[1][1][1]")), "{err}");
        // Far deeper than serde_json's own limit: still this error, not a recursion failure.
        let very_deep = "[".repeat(100_000);
        assert!(matches!(from_json(very_deep.as_bytes()), Err(DocumentError::TooDeep { .. })));
        assert!(from_yaml(very_deep.as_bytes()).is_err());
    }

    #[test]
    fn an_object_at_the_limit_stays_readable_inside_what_readers_wrap_it_in() {
        // What serde_json (the store's reader, the watch cache's, kube-rs') parses: 127 levels.
        assert!(serde_json::from_str::<Value>(&nested(127)).is_ok());
        assert!(serde_json::from_str::<Value>(&nested(128)).is_err());
        let object = nested(MAX_DEPTH);
        let list = format!("{{\"kind\":\"ConfigMapList\",\"items\":[{object}]}}");
        let table = format!("{{\"kind\":\"Table\",\"rows\":[{{\"cells\":[],\"object\":{object}}}]}}");
        let event = format!("{{\"type\":\"ADDED\",\"object\":{object}}}");
        let listed_event = format!("{{\"type\":\"ADDED\",\"object\":{list}}}");
        for text in [list, table, event, listed_event] {
            assert!(serde_json::from_str::<Value>(&text).is_ok(), "{text:.60}");
        }
    }

    #[test]
    fn depth_of_built_values() {
        assert_eq!(depth(&json!(1)), 0);
        assert_eq!(depth(&json!({})), 1);
        assert_eq!(depth(&json!({"a": [1, {"b": []}], "c": {}})), 4);
        let deep = serde_json::from_str::<Value>(&nested(MAX_DEPTH + 3)).expect("under serde_json's limit");
        let err = check_depth(&json!({"spec": 1, "metadata": {"fields": deep}})).unwrap_err();
        assert!(matches!(&err, DocumentError::TooDeep { path, .. } if path.starts_with("metadata.fields.a.a.a.a.a.a...")), "{err}");
        assert!(check_depth(&serde_json::from_str(&nested(MAX_DEPTH)).expect("parses")).is_ok());
    }

    #[test]
    fn duplicate_keys_are_reported_with_their_paths_and_the_last_wins() {
        let text = br#"{"a": 1, "b": {"c": [{"d": 1, "d": 2}]}, "a": 3, "b2": {"e": 1, "e": 1, "e": 1}}"#;
        let document = from_json(text.as_slice()).expect("parses");
        assert_eq!(document.duplicates, vec!["b.c[0].d", "a", "b2.e"]);
        assert_eq!(document.value["a"], 3);
        assert_eq!(document.value["b"]["c"][0]["d"], 2);
        let yaml = b"metadata:\n  name: x\n  labels:\n    app: a\n    app: b\nmetadata2: {}\n";
        let document = from_yaml(yaml.as_slice()).expect("parses");
        assert_eq!(document.duplicates, vec!["metadata.labels.app"]);
        assert_eq!(document.value["metadata"]["labels"]["app"], "b");
    }

    #[test]
    fn yaml_aliases_are_expanded_within_a_budget_of_the_documents_size() {
        let small = b"a: &x {b: [1, 2], c: text}\nd: *x\ne: *x\n";
        let document = from_yaml(small.as_slice()).expect("a few aliases are fine");
        assert_eq!(document.value["e"], json!({"b": [1, 2], "c": "text"}));

        // One large anchored scalar named many times: refused, whatever the alias count limit.
        let scalar = "x".repeat(64 * 1024);
        let mut bomb = format!("a: &big {scalar}\nlist:\n");
        for _ in 0..10 {
            bomb.push_str("- *big\n");
        }
        let err = from_yaml(bomb.as_bytes()).unwrap_err();
        assert!(matches!(err, DocumentError::ExcessiveAliasing { budget } if budget == expansion_budget(bomb.len())), "{err}");
        assert!(err.to_string().starts_with("yaml: document contains excessive aliasing"));

        // Nested aliases (a billion laughs) likewise.
        let mut laughs = String::from("a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
        for level in 1..9 {
            let previous = format!("*a{}", level - 1);
            laughs.push_str(&format!("a{level}: &a{level} [{}]\n", vec![previous; 10].join(", ")));
        }
        assert!(matches!(from_yaml(laughs.as_bytes()), Err(DocumentError::ExcessiveAliasing { .. })));
    }

    #[test]
    fn documents_without_aliases_stay_within_the_budget() {
        // Many small nodes, the densest a document gets: one byte of source per node or so.
        let flow = format!("[{}]", vec!["1"; 50_000].join(","));
        assert!(from_yaml(flow.as_bytes()).is_ok());
        let block: String = (0..20_000).map(|index| format!("k{index}:\n")).collect();
        assert!(from_yaml(block.as_bytes()).is_ok());
        // Escapes that grow: `\L` is two bytes of source and three of text.
        let escapes = format!("a: \"{}\"\n", "\\L".repeat(50_000));
        assert_eq!(from_yaml(escapes.as_bytes()).expect("parses").value["a"].as_str().map(str::len), Some(150_000));
    }

    #[test]
    fn yaml_scalars_become_the_json_values_kubernetes_reads() {
        let document = from_yaml(b"a: 1\nb: true\nc: ~\nd: '7'\ne: 1.5\nf: 18446744073709551616\n1: key\n".as_slice()).expect("parses");
        assert_eq!(document.value["a"], 1);
        assert_eq!(document.value["b"], true);
        assert_eq!(document.value["c"], Value::Null);
        assert_eq!(document.value["d"], "7");
        assert_eq!(document.value["e"], 1.5);
        assert_eq!(document.value["f"], 18446744073709551616.0);
        assert_eq!(document.value["1"], "key");
        assert!(from_yaml(b"a: 1\n---\nb: 2\n".as_slice()).is_err(), "one document only");
    }
}
