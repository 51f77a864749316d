//! YAML as kubectl writes it, byte for byte. kubectl's printers go through sigs.k8s.io/yaml
//! v1.4.0: the object as JSON, read back by its vendored go-yaml v2 (a YAML 1.1 reader, which
//! picks Go number types), and written by go-yaml v2's emitter (a port of libyaml). This module
//! follows that path for a `serde_json::Value`:
//!
//! - keys sorted by go-yaml's "natural" order (digit runs compare as numbers: `f9` < `f10`);
//! - a string that would read back as something else in YAML 1.1 (`"yes"`, `"on"`, `"1e3"`,
//!   `"0x1F"`, `"2024-01-01"`, `"12:30"`, `""`) double-quoted; one that cannot be plain for its
//!   punctuation or spaces single-quoted; one with non-printable characters double-quoted with
//!   escapes; one with a line break a `|` block when its lines allow it;
//! - lines folded at spaces past column 80 (kubectl does not turn go-yaml's folding off);
//! - numbers as Go prints them after its JSON round trip (`1.0` → `1`, `1e20` → `1e+20`,
//!   `1234567.5` → `1.2345675e+06`);
//! - `{}` and `[]` for empty maps and lists, lists not indented under their key.

use std::borrow::Cow;

use serde_json::{Map, Number, Value};

/// go-yaml's defaults: kubectl sets neither the indentation nor the width.
const INDENT: usize = 2;
const WIDTH: usize = 80;
/// Keys longer than this (in bytes) are written in the explicit `? key` form.
const SIMPLE_KEY_LIMIT: usize = 128;

/// Where kubectl's JSON → YAML round trip fails, in its words; kubectl then prints nothing else.
/// `line` is a line of kubectl's JSON text, whose only raw line breaks are NELs (U+0085).
#[derive(Debug, thiserror::Error)]
pub enum YamlError {
    /// Go's YAML reader refuses DEL, C1 controls (other than NEL) and U+FFFE/U+FFFF, which Go's
    /// JSON encoder writes raw.
    #[error("yaml: control characters are not allowed")]
    ControlCharacters,
    /// `---` or `...` at the start of a line (right after a NEL) inside a string.
    #[error("yaml: line {line}: found unexpected document indicator")]
    DocumentIndicator { line: usize },
    /// A key that spans lines or is over 1022 characters as JSON: the reader gives up looking
    /// for its `:`.
    #[error("yaml: {}did not find expected ',' or '}}'", if *line == 0 { String::new() } else { format!("line {line}: ") })]
    KeyTooLong { line: usize },
}

/// `value` as kubectl's `-o yaml` prints it, ending in a line break.
pub fn to_string(value: &Value) -> Result<String, YamlError> {
    read_back(value, &mut 0)?;
    let mut emitter = Emitter { out: String::new(), column: 0, whitespace: true, indention: true, indent: None };
    emitter.node(value, Context::default());
    // The implicit document end: a line break unless the last line is already ended.
    emitter.write_indent();
    Ok(emitter.out)
}

/// Where a node sits, as the emitter's state machine knows it.
#[derive(Clone, Copy, Default)]
struct Context {
    /// A mapping's key or value.
    mapping: bool,
    /// A key written as `key: ` (not as `? key`): on one line, never folded.
    simple_key: bool,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Style {
    Plain,
    SingleQuoted,
    DoubleQuoted,
    Literal,
}

/// The emitter's state: where the cursor is and what was written last. `column` counts
/// characters, not bytes, as libyaml's does.
struct Emitter {
    out: String,
    column: usize,
    /// The last character written is white space (so an indicator needs no space before it).
    whitespace: bool,
    /// Only indentation (and indicators such as `- `) has been written on this line.
    indention: bool,
    /// The current indentation; `None` before the root node (libyaml's -1).
    indent: Option<usize>,
}

impl Emitter {
    fn node(&mut self, value: &Value, context: Context) {
        match value {
            Value::Null => self.scalar("null", Style::Plain, context),
            Value::Bool(true) => self.scalar("true", Style::Plain, context),
            Value::Bool(false) => self.scalar("false", Style::Plain, context),
            Value::Number(number) => self.scalar(&go_number(number), Style::Plain, context),
            Value::String(text) => self.string(&folded(text), context),
            // Go's encoder asks for block collections; libyaml writes empty ones in flow style.
            Value::Array(items) if items.is_empty() => self.empty_flow("[", "]"),
            Value::Object(map) if map.is_empty() => self.empty_flow("{", "}"),
            Value::Array(items) => self.sequence(items, context),
            Value::Object(map) => self.mapping(map),
        }
    }

    fn sequence(&mut self, items: &[Value], context: Context) {
        let outer = self.indent;
        // A list right after `key:` is not indented under it.
        self.increase_indent(false, context.mapping && !self.indention);
        for item in items {
            self.write_indent();
            self.write_indicator("-", true, false, true);
            self.node(item, Context::default());
        }
        self.indent = outer;
    }

    fn mapping(&mut self, map: &Map<String, Value>) {
        let mut entries: Vec<_> = map.iter().map(|(key, value)| (folded(key), value)).collect();
        sort_keys(&mut entries);
        let outer = self.indent;
        self.increase_indent(false, false);
        for (key, value) in entries {
            self.write_indent();
            if key.len() <= SIMPLE_KEY_LIMIT && !Analysis::of(&key).multiline {
                self.string(&key, Context { mapping: true, simple_key: true });
                self.write_indicator(":", false, false, false);
            } else {
                self.write_indicator("?", true, false, true);
                self.string(&key, Context { mapping: true, simple_key: false });
                self.write_indent();
                self.write_indicator(":", true, false, true);
            }
            self.node(value, Context { mapping: true, simple_key: false });
        }
        self.indent = outer;
    }

    fn empty_flow(&mut self, open: &str, close: &str) {
        self.write_indicator(open, true, true, false);
        self.write_indicator(close, false, false, false);
    }

    /// A string as go-yaml's encoder asks for it: a block when it holds a line feed, plain when
    /// it would read back as a string, else double-quoted. The emitter may still pick another
    /// style (`scalar`).
    fn string(&mut self, text: &str, context: Context) {
        let style = if text.contains('\n') {
            Style::Literal
        } else if reads_back_as_string(text) {
            Style::Plain
        } else {
            Style::DoubleQuoted
        };
        self.scalar(text, style, context);
    }

    /// libyaml's `select_scalar_style` and `process_scalar`. (Flow context never holds a scalar
    /// here: only empty collections are written in flow style.)
    fn scalar(&mut self, text: &str, requested: Style, context: Context) {
        let analysis = Analysis::of(text);
        let mut style = requested;
        if context.simple_key && analysis.multiline {
            style = Style::DoubleQuoted;
        }
        if style == Style::Plain && (!analysis.plain_allowed || (text.is_empty() && context.simple_key)) {
            style = Style::SingleQuoted;
        }
        if style == Style::SingleQuoted && !analysis.single_quoted_allowed {
            style = Style::DoubleQuoted;
        }
        if style == Style::Literal && (!analysis.block_allowed || context.simple_key) {
            style = Style::DoubleQuoted;
        }
        let outer = self.indent;
        self.increase_indent(true, false);
        let chars: Vec<char> = text.chars().collect();
        let folds = !context.simple_key;
        match style {
            Style::Plain => self.write_plain(&chars, folds),
            Style::SingleQuoted => self.write_single_quoted(&chars, folds),
            Style::DoubleQuoted => self.write_double_quoted(&chars, folds),
            Style::Literal => self.write_literal(&chars),
        }
        self.indent = outer;
    }

    fn increase_indent(&mut self, flow: bool, indentless: bool) {
        self.indent = match self.indent {
            None if flow => Some(INDENT),
            None => Some(0),
            Some(indent) if !indentless => Some(indent + INDENT),
            same => same,
        };
    }

    fn put(&mut self, character: char) {
        self.out.push(character);
        self.column += 1;
    }

    fn put_break(&mut self) {
        self.out.push('\n');
        self.column = 0;
    }

    /// A line break of the content: a line feed as the output's line break, another break
    /// (U+2028, U+2029) as it is.
    fn write_break(&mut self, character: char) {
        if character == '\n' {
            self.put_break();
        } else {
            self.out.push(character);
            self.column = 0;
        }
    }

    fn write_indent(&mut self) {
        let indent = self.indent.unwrap_or(0);
        if !self.indention || self.column > indent || (self.column == indent && !self.whitespace) {
            self.put_break();
        }
        while self.column < indent {
            self.put(' ');
        }
        self.whitespace = true;
        self.indention = true;
    }

    fn write_indicator(&mut self, indicator: &str, need_whitespace: bool, is_whitespace: bool, is_indention: bool) {
        if need_whitespace && !self.whitespace {
            self.put(' ');
        }
        for character in indicator.chars() {
            self.put(character);
        }
        self.whitespace = is_whitespace;
        self.indention = self.indention && is_indention;
    }

    fn write_plain(&mut self, chars: &[char], folds: bool) {
        if !self.whitespace {
            self.put(' ');
        }
        let (mut spaces, mut breaks) = (false, false);
        for (at, &character) in chars.iter().enumerate() {
            if character == ' ' {
                if folds && !spaces && self.column > WIDTH && chars.get(at + 1) != Some(&' ') {
                    self.write_indent();
                } else {
                    self.put(character);
                }
                spaces = true;
            } else if is_break(character) {
                if !breaks && character == '\n' {
                    self.put_break();
                }
                self.write_break(character);
                self.indention = true;
                breaks = true;
            } else {
                if breaks {
                    self.write_indent();
                }
                self.put(character);
                self.indention = false;
                spaces = false;
                breaks = false;
            }
        }
        self.whitespace = false;
        self.indention = false;
    }

    fn write_single_quoted(&mut self, chars: &[char], folds: bool) {
        self.write_indicator("'", true, false, false);
        let (mut spaces, mut breaks) = (false, false);
        for (at, &character) in chars.iter().enumerate() {
            if character == ' ' {
                let inside = at > 0 && at + 1 < chars.len();
                if folds && !spaces && self.column > WIDTH && inside && chars[at + 1] != ' ' {
                    self.write_indent();
                } else {
                    self.put(character);
                }
                spaces = true;
            } else if is_break(character) {
                if !breaks && character == '\n' {
                    self.put_break();
                }
                self.write_break(character);
                self.indention = true;
                breaks = true;
            } else {
                if breaks {
                    self.write_indent();
                }
                if character == '\'' {
                    self.put('\'');
                }
                self.put(character);
                self.indention = false;
                spaces = false;
                breaks = false;
            }
        }
        self.write_indicator("'", false, false, false);
        self.whitespace = false;
        self.indention = false;
    }

    fn write_double_quoted(&mut self, chars: &[char], folds: bool) {
        self.write_indicator("\"", true, false, false);
        // libyaml's BOM test looks at the value's start, not at the character: a value that
        // starts with U+FEFF has every character escaped.
        let starts_with_bom = chars.first() == Some(&'\u{feff}');
        let mut spaces = false;
        for (at, &character) in chars.iter().enumerate() {
            if !is_printable(character) || starts_with_bom || is_break(character) || character == '"' || character == '\\' {
                self.put('\\');
                match character {
                    '\0' => self.put('0'),
                    '\u{07}' => self.put('a'),
                    '\u{08}' => self.put('b'),
                    '\t' => self.put('t'),
                    '\n' => self.put('n'),
                    '\u{0b}' => self.put('v'),
                    '\u{0c}' => self.put('f'),
                    '\r' => self.put('r'),
                    '\u{1b}' => self.put('e'),
                    '"' => self.put('"'),
                    '\\' => self.put('\\'),
                    '\u{85}' => self.put('N'),
                    '\u{a0}' => self.put('_'),
                    '\u{2028}' => self.put('L'),
                    '\u{2029}' => self.put('P'),
                    other => {
                        let code = u32::from(other);
                        let escape = match code {
                            0..=0xFF => format!("x{code:02X}"),
                            0x100..=0xFFFF => format!("u{code:04X}"),
                            _ => format!("U{code:08X}"),
                        };
                        for character in escape.chars() {
                            self.put(character);
                        }
                    }
                }
                spaces = false;
            } else if character == ' ' {
                if folds && !spaces && self.column > WIDTH && at > 0 && at + 1 < chars.len() {
                    self.write_indent();
                    // A space starting the next line would be read as indentation.
                    if chars[at + 1] == ' ' {
                        self.put('\\');
                    }
                } else {
                    self.put(character);
                }
                spaces = true;
            } else {
                self.put(character);
                spaces = false;
            }
        }
        self.write_indicator("\"", false, false, false);
        self.whitespace = false;
        self.indention = false;
    }

    fn write_literal(&mut self, chars: &[char]) {
        self.write_indicator("|", true, false, false);
        // An indentation indicator when the first line starts with a space or is empty, and a
        // chomping indicator for how the text ends: `-` without a final break, `+` with more
        // than one.
        if chars.first().is_some_and(|&first| first == ' ' || is_break(first)) {
            self.write_indicator(&INDENT.to_string(), false, false, false);
        }
        let chomp = match chars {
            [] => Some("-"),
            [.., last] if !is_break(*last) => Some("-"),
            [_] => Some("+"),
            [.., before, _] if is_break(*before) => Some("+"),
            _ => None,
        };
        if let Some(chomp) = chomp {
            self.write_indicator(chomp, false, false, false);
        }
        self.put_break();
        self.indention = true;
        self.whitespace = true;
        let mut breaks = true;
        for &character in chars {
            if is_break(character) {
                self.write_break(character);
                self.indention = true;
                breaks = true;
            } else {
                if breaks {
                    self.write_indent();
                }
                self.put(character);
                self.indention = false;
                breaks = false;
            }
        }
    }
}

/// libyaml's `analyze_scalar`: which styles can carry the text.
struct Analysis {
    multiline: bool,
    /// Plain in block context.
    plain_allowed: bool,
    single_quoted_allowed: bool,
    /// A literal or folded block.
    block_allowed: bool,
}

impl Analysis {
    fn of(text: &str) -> Self {
        if text.is_empty() {
            return Self { multiline: false, plain_allowed: true, single_quoted_allowed: true, block_allowed: false };
        }
        let chars: Vec<char> = text.chars().collect();
        let last = chars.len() - 1;
        let mut indicators = text.starts_with("---") || text.starts_with("...");
        let (mut line_breaks, mut special_characters) = (false, false);
        let (mut leading_space, mut leading_break, mut trailing_space, mut trailing_break) = (false, false, false, false);
        let (mut break_space, mut space_break) = (false, false);
        let (mut previous_space, mut previous_break) = (false, false);
        let mut preceded_by_whitespace = true;
        for (at, &character) in chars.iter().enumerate() {
            let followed_by_whitespace = chars.get(at + 1).is_none_or(|&next| next == ' ' || next == '\t');
            if at == 0 {
                match character {
                    '#' | ',' | '[' | ']' | '{' | '}' | '&' | '*' | '!' | '|' | '>' | '\'' | '"' | '%' | '@' | '`' => indicators = true,
                    '?' | ':' | '-' if followed_by_whitespace => indicators = true,
                    _ => {}
                }
            } else {
                match character {
                    ':' if followed_by_whitespace => indicators = true,
                    '#' if preceded_by_whitespace => indicators = true,
                    _ => {}
                }
            }
            if !is_printable(character) {
                special_characters = true;
            }
            if character == ' ' {
                leading_space |= at == 0;
                trailing_space |= at == last;
                break_space |= previous_break;
                previous_space = true;
                previous_break = false;
            } else if is_break(character) {
                line_breaks = true;
                leading_break |= at == 0;
                trailing_break |= at == last;
                space_break |= previous_space;
                previous_space = false;
                previous_break = true;
            } else {
                previous_space = false;
                previous_break = false;
            }
            preceded_by_whitespace = matches!(character, ' ' | '\t' | '\0') || is_break(character);
        }
        let unsafe_edges = leading_space || leading_break || trailing_space || trailing_break;
        Self {
            multiline: line_breaks,
            plain_allowed: !(unsafe_edges || break_space || space_break || special_characters || line_breaks || indicators),
            single_quoted_allowed: !(break_space || space_break || special_characters),
            block_allowed: !(trailing_space || space_break || special_characters),
        }
    }
}

/// libyaml's printable set (with unicode output on): note that it leaves out every character
/// beyond the Basic Multilingual Plane, so emoji are escaped (`"\U0001F600"`).
fn is_printable(character: char) -> bool {
    matches!(u32::from(character), 0x0A | 0x20..=0x7E | 0xA0..=0xD7FF | 0xE000..=0xFFFD) && character != '\u{feff}'
}

fn is_break(character: char) -> bool {
    matches!(character, '\r' | '\n' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

/// Characters Go's JSON encoder writes raw and Go's YAML reader refuses.
fn is_refused(character: char) -> bool {
    matches!(u32::from(character), 0x7F..=0x84 | 0x86..=0x9F | 0xFFFE | 0xFFFF)
}

/// Reads `value` as Go's YAML reader reads kubectl's JSON of it (keys sorted, as Go's encoder
/// sorts them), failing where it fails; `line` counts the raw NELs, the text's line breaks. The
/// first failure in the text is the one reported (Go's reader decodes up to 512 bytes ahead of
/// its scanner, so kubectl may name a control character a little further on first).
fn read_back(value: &Value, line: &mut usize) -> Result<(), YamlError> {
    match value {
        Value::String(text) => read_string(text, line),
        Value::Array(items) => items.iter().try_for_each(|item| read_back(item, line)),
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            for key in keys {
                let first_line = *line;
                read_string(key, line)?;
                if *line != first_line || json_length(key) > 1022 {
                    return Err(YamlError::KeyTooLong { line: *line });
                }
                read_back(&map[key], line)?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// A JSON string's content as the reader scans it: `---` or `...` right after a raw NEL and
/// before a raw blank is a document marker.
fn read_string(text: &str, line: &mut usize) -> Result<(), YamlError> {
    if text.chars().any(is_refused) {
        return Err(YamlError::ControlCharacters);
    }
    let chars: Vec<char> = text.chars().collect();
    for (at, &character) in chars.iter().enumerate() {
        if character != '\u{85}' {
            continue;
        }
        *line += 1;
        let marker = chars.get(at + 1..at + 4).is_some_and(|marker| marker == ['-'; 3] || marker == ['.'; 3]);
        if marker && matches!(chars.get(at + 4), Some(' ' | '\u{85}')) {
            return Err(YamlError::DocumentIndicator { line: *line + 1 });
        }
    }
    Ok(())
}

/// Characters in Go's JSON of `text`, without the quotes.
fn json_length(text: &str) -> usize {
    text.chars()
        .map(|character| match character {
            '"' | '\\' | '\n' | '\r' | '\t' | '\u{8}' | '\u{c}' => 2,
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => 6,
            control if control < ' ' => 6,
            _ => 1,
        })
        .sum()
}

/// A string as kubectl has it after its JSON → YAML round trip: Go's reader takes a raw NEL
/// (U+0085, which Go's JSON encoder does not escape) inside the double-quoted JSON string for a
/// line break, and folds it: one break with the spaces around it becomes a space, n breaks
/// become n-1 line feeds.
fn folded(text: &str) -> Cow<'_, str> {
    if !text.contains('\u{85}') {
        return Cow::Borrowed(text);
    }
    let mut folded = String::with_capacity(text.len());
    let mut rest = text;
    loop {
        let content = rest.find([' ', '\u{85}']).unwrap_or(rest.len());
        folded.push_str(&rest[..content]);
        rest = &rest[content..];
        if rest.is_empty() {
            return Cow::Owned(folded);
        }
        let blanks = rest.find(|character| character != ' ' && character != '\u{85}').unwrap_or(rest.len());
        let run = &rest[..blanks];
        match run.matches('\u{85}').count() {
            0 => folded.push_str(run),
            1 => folded.push(' '),
            breaks => folded.extend(std::iter::repeat_n('\n', breaks - 1)),
        }
        rest = &rest[blanks..];
    }
}

/// A number as kubectl prints it. Go decodes a JSON integer that fits int64 as int64 and every
/// other number as float64; its JSON encoder writes a float64 in the shortest digits (`%f`-like
/// below 1e21, so `9223372036854775808.0` becomes `9223372036854776000`); go-yaml reads that back
/// as an int when it fits int64 or uint64 and writes other floats with Go's `%g` (`1e+20`).
fn go_number(number: &Number) -> String {
    if let Some(integer) = number.as_i64() {
        return integer.to_string();
    }
    let Some(float) = number.as_f64() else { return number.to_string() };
    if float.is_finite() && float.trunc() == float && float.abs() < 1e21 {
        let (digits, exponent) = shortest_digits(float);
        let fixed = fixed_notation(float < 0.0, &digits, exponent);
        if let Ok(integer) = fixed.parse::<i64>() {
            return integer.to_string();
        }
        if fixed.parse::<u64>().is_ok() {
            return fixed;
        }
    }
    go_general(float)
}

/// The shortest decimal digits that read back as `float` (no sign, no trailing zeros) and the
/// decimal exponent of the first: `1234.5` → ("12345", 3).
fn shortest_digits(float: f64) -> (String, i32) {
    let scientific = format!("{:e}", float.abs());
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    (mantissa.replace('.', ""), exponent.parse().unwrap_or(0))
}

/// Go's `%f` with the shortest digits.
fn fixed_notation(negative: bool, digits: &str, exponent: i32) -> String {
    let mut out = String::from(if negative { "-" } else { "" });
    let point = exponent + 1; // digits before the decimal point
    let digit = |at: i32| usize::try_from(at).ok().and_then(|at| digits.as_bytes().get(at)).map_or('0', |&byte| char::from(byte));
    if point > 0 {
        (0..point).for_each(|at| out.push(digit(at)));
    } else {
        out.push('0');
    }
    let decimals = i32::try_from(digits.len()).unwrap_or(i32::MAX) - point;
    if decimals > 0 {
        out.push('.');
        (0..decimals).for_each(|at| out.push(digit(point + at)));
    }
    out
}

/// Go's `strconv.FormatFloat(float, 'g', -1, 64)` as go-yaml writes floats.
fn go_general(float: f64) -> String {
    if float.is_nan() {
        return ".nan".into();
    }
    if float.is_infinite() {
        return if float > 0.0 { ".inf" } else { "-.inf" }.into();
    }
    if float == 0.0 {
        return if float.is_sign_negative() { "-0" } else { "0" }.into();
    }
    let (digits, exponent) = shortest_digits(float);
    // With the shortest digits Go switches to `%e` from an exponent of 6 (or below -4).
    if !(-4..6).contains(&exponent) {
        let sign = if float < 0.0 { "-" } else { "" };
        let (first, rest) = digits.split_at(1);
        let point = if rest.is_empty() { String::new() } else { format!(".{rest}") };
        let exponent_sign = if exponent < 0 { '-' } else { '+' };
        return format!("{sign}{first}{point}e{exponent_sign}{:02}", exponent.abs());
    }
    fixed_notation(float < 0.0, &digits, exponent)
}

/// Whether go-yaml writes `text` plain: YAML 1.1's resolver reads it as a string, and it is not
/// a base-60 number (`12:30`), which go-yaml quotes for other YAML 1.1 readers.
fn reads_back_as_string(text: &str) -> bool {
    resolves_to_string(text) && !is_base60_float(text)
}

/// go-yaml v2's `resolve` for an untagged plain scalar: booleans (`y`, `yes`, `on`, `off` and
/// their capitalisations), nulls (`~`, `null`, ``), `.inf`/`.nan`, timestamps, Go integers in
/// any base (underscores ignored) and YAML floats are not strings.
fn resolves_to_string(text: &str) -> bool {
    const SPECIAL: &[&str] = &[
        "y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON", "n", "N", "no", "No", "NO", "false", "False",
        "FALSE", "off", "Off", "OFF", "", "~", "null", "Null", "NULL", ".nan", ".NaN", ".NAN", ".inf", ".Inf", ".INF", "+.inf",
        "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF", "<<",
    ];
    let Some(&first) = text.as_bytes().first() else { return false };
    match first {
        b'y' | b'Y' | b'n' | b'N' | b't' | b'T' | b'f' | b'F' | b'o' | b'O' | b'~' => !SPECIAL.contains(&text),
        b'.' => !SPECIAL.contains(&text) && !is_go_float_with_point(text),
        b'+' | b'-' | b'0'..=b'9' => {
            if SPECIAL.contains(&text) || is_timestamp(text) {
                return false;
            }
            let plain = text.replace('_', "");
            !(is_go_integer(&plain) || (is_yaml_float(&plain) && plain.parse::<f64>().is_ok_and(f64::is_finite)))
        }
        _ => true,
    }
}

/// Go's `ParseInt(text, 0, 64)` or `ParseUint(text, 0, 64)` succeeds: an optional sign (int
/// only), then `0x`/`0o`/`0b` digits, `0` and octal digits, or decimal digits, within range.
fn is_go_integer(text: &str) -> bool {
    let (sign, unsigned) = match text.as_bytes().first() {
        Some(b'-') => (Some('-'), &text[1..]),
        Some(b'+') => (Some('+'), &text[1..]),
        _ => (None, text),
    };
    let bytes = unsigned.as_bytes();
    let (radix, digits) = match bytes {
        [b'0', prefix, _, ..] if prefix.eq_ignore_ascii_case(&b'x') => (16, &unsigned[2..]),
        [b'0', prefix, _, ..] if prefix.eq_ignore_ascii_case(&b'o') => (8, &unsigned[2..]),
        [b'0', prefix, _, ..] if prefix.eq_ignore_ascii_case(&b'b') => (2, &unsigned[2..]),
        [b'0', ..] => (8, &unsigned[1..]),
        [] => return false,
        _ => (10, unsigned),
    };
    if !digits.chars().all(|character| character.is_digit(radix)) {
        return false;
    }
    // `0` alone is octal with no digits after the prefix, which Go accepts.
    let magnitude = if digits.is_empty() { Some(0) } else { u64::from_str_radix(digits, radix).ok() };
    match (sign, magnitude) {
        (_, None) => false,
        (None, Some(_)) => true,
        (Some('-'), Some(magnitude)) => magnitude <= 1 << 63,
        (Some(_), Some(magnitude)) => magnitude <= i64::MAX as u64,
    }
}

/// go-yaml's float pattern `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`.
fn is_yaml_float(text: &str) -> bool {
    let bytes = text.as_bytes();
    let mut at = usize::from(matches!(bytes.first(), Some(b'-' | b'+')));
    let digits = |at: &mut usize| {
        let start = *at;
        while bytes.get(*at).is_some_and(u8::is_ascii_digit) {
            *at += 1;
        }
        *at - start
    };
    if bytes.get(at) == Some(&b'.') {
        at += 1;
        if digits(&mut at) == 0 {
            return false;
        }
    } else {
        if digits(&mut at) == 0 {
            return false;
        }
        if bytes.get(at) == Some(&b'.') {
            at += 1;
            digits(&mut at);
        }
    }
    if matches!(bytes.get(at), Some(b'e' | b'E')) {
        at += 1;
        if matches!(bytes.get(at), Some(b'-' | b'+')) {
            at += 1;
        }
        if digits(&mut at) == 0 {
            return false;
        }
    }
    at == bytes.len()
}

/// Go's `ParseFloat` on text starting with `.`: digits (underscores only between them), an
/// optional exponent, and no overflow to infinity.
fn is_go_float_with_point(text: &str) -> bool {
    let Some(rest) = text.strip_prefix('.') else { return false };
    let (mantissa, exponent) = match rest.find(['e', 'E']) {
        Some(at) => (&rest[..at], Some(&rest[at + 1..])),
        None => (rest, None),
    };
    let separated_digits = |part: &str| !part.is_empty() && part.split('_').all(|group| !group.is_empty() && group.bytes().all(|byte| byte.is_ascii_digit()));
    if !separated_digits(mantissa) {
        return false;
    }
    if let Some(exponent) = exponent {
        let unsigned = exponent.strip_prefix(['+', '-']).unwrap_or(exponent);
        if !separated_digits(unsigned) {
            return false;
        }
    }
    text.replace('_', "").parse::<f64>().is_ok_and(f64::is_finite)
}

/// go-yaml's `isBase60Float`: `^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$`.
fn is_base60_float(text: &str) -> bool {
    let bytes = text.as_bytes();
    let mut at = usize::from(matches!(bytes.first(), Some(b'-' | b'+')));
    if !bytes.get(at).is_some_and(u8::is_ascii_digit) {
        return false;
    }
    while bytes.get(at).is_some_and(|&byte| byte.is_ascii_digit() || byte == b'_') {
        at += 1;
    }
    let mut groups = 0;
    while bytes.get(at) == Some(&b':') {
        // Two digits when the first is 0-5 and a digit follows; one otherwise. Taking one where
        // two were possible leaves a digit that nothing after a group accepts.
        match (bytes.get(at + 1), bytes.get(at + 2)) {
            (Some(b'0'..=b'5'), Some(b'0'..=b'9')) => at += 3,
            (Some(b'0'..=b'9'), _) => at += 2,
            _ => return false,
        }
        groups += 1;
    }
    if groups == 0 {
        return false;
    }
    if bytes.get(at) == Some(&b'.') {
        at += 1;
        while bytes.get(at).is_some_and(|&byte| byte.is_ascii_digit() || byte == b'_') {
            at += 1;
        }
    }
    at == bytes.len()
}

/// Whether go-yaml v2 reads `text` as a timestamp: Go's `time.Parse` with one of
/// `2006-1-2T15:4:5.999999999Z07:00`, the same with a lower-case `t`, `2006-1-2 15:4:5.999999999`
/// and `2006-1-2`. (`2024-01-01T10:00:00`, without a zone, is none of them, so it stays plain.)
fn is_timestamp(text: &str) -> bool {
    use Field::*;
    let bytes = text.as_bytes();
    if bytes.len() <= 4 || !bytes[..4].iter().all(u8::is_ascii_digit) || bytes[4] != b'-' {
        return false;
    }
    const LAYOUTS: [&[Field]; 4] = [
        &[Year, Literal("-"), Month, Literal("-"), Day, Literal("T"), Hour, Literal(":"), Minute, Literal(":"), Second, Fraction, Zone],
        &[Year, Literal("-"), Month, Literal("-"), Day, Literal("t"), Hour, Literal(":"), Minute, Literal(":"), Second, Fraction, Zone],
        &[Year, Literal("-"), Month, Literal("-"), Day, Literal(" "), Hour, Literal(":"), Minute, Literal(":"), Second, Fraction],
        &[Year, Literal("-"), Month, Literal("-"), Day],
    ];
    LAYOUTS.iter().any(|layout| parses_as(text, layout))
}

#[derive(Clone, Copy)]
enum Field {
    Year,
    Month,
    Day,
    Hour,
    Minute,
    Second,
    /// Optional `.` or `,` and any number of digits.
    Fraction,
    /// `Z` or `±hh:mm`.
    Zone,
    Literal(&'static str),
}

/// Go's `time.Parse` of `text` against `layout`, for the fields go-yaml's layouts use.
fn parses_as(text: &str, layout: &[Field]) -> bool {
    // One or two digits, as Go's `getnum` reads a non-padded field.
    fn number(rest: &mut &[u8]) -> Option<u32> {
        let length = match rest {
            [first, second, ..] if first.is_ascii_digit() && second.is_ascii_digit() => 2,
            [first, ..] if first.is_ascii_digit() => 1,
            _ => return None,
        };
        let value = rest[..length].iter().fold(0, |value, digit| value * 10 + u32::from(digit - b'0'));
        *rest = &rest[length..];
        Some(value)
    }
    let mut rest = text.as_bytes();
    let (mut year, mut month, mut day) = (0, 1, 1);
    for field in layout {
        match field {
            Field::Year => {
                let Some(digits) = rest.get(..4).filter(|digits| digits.iter().all(u8::is_ascii_digit)) else { return false };
                year = digits.iter().fold(0, |value, digit| value * 10 + u32::from(digit - b'0'));
                rest = &rest[4..];
            }
            Field::Month => match number(&mut rest) {
                Some(value @ 1..=12) => month = value,
                _ => return false,
            },
            Field::Day => match number(&mut rest) {
                Some(value) => day = value,
                None => return false,
            },
            Field::Hour => {
                if number(&mut rest).is_none_or(|hour| hour >= 24) {
                    return false;
                }
            }
            Field::Minute | Field::Second => {
                if number(&mut rest).is_none_or(|value| value >= 60) {
                    return false;
                }
            }
            Field::Fraction => {
                if let [b'.' | b',', digit, ..] = rest
                    && digit.is_ascii_digit()
                {
                    let digits = rest[1..].iter().take_while(|byte| byte.is_ascii_digit()).count();
                    rest = &rest[1 + digits..];
                }
            }
            Field::Zone => match rest {
                [b'Z', ..] => rest = &rest[1..],
                [b'+' | b'-', h1, h2, b':', m1, m2, ..] if [h1, h2, m1, m2].iter().all(|digit| digit.is_ascii_digit()) => {
                    let hours = u32::from(h1 - b'0') * 10 + u32::from(h2 - b'0');
                    let minutes = u32::from(m1 - b'0') * 10 + u32::from(m2 - b'0');
                    if hours > 24 || minutes > 60 {
                        return false;
                    }
                    rest = &rest[6..];
                }
                _ => return false,
            },
            Field::Literal(" ") => {
                // A space in a Go layout matches one or more spaces.
                if rest.first() != Some(&b' ') {
                    return false;
                }
                while rest.first() == Some(&b' ') {
                    rest = &rest[1..];
                }
            }
            Field::Literal(literal) => match rest.strip_prefix(literal.as_bytes()) {
                Some(after) => rest = after,
                None => return false,
            },
        }
    }
    rest.is_empty() && day >= 1 && day <= days_in(month, year)
}

fn days_in(month: u32, year: u32) -> u32 {
    match month {
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Sorts keys as go-yaml's `keyList.Less` orders strings: at the first differing character, a
/// letter sorts after a non-letter, two letters by code point, and otherwise the runs of digits
/// there compare as numbers (`a9` < `a10`). That order is not always transitive (`a1b` < `a2` <
/// `a10` < `a1b`); kubectl's order for such keys then changes from run to run with Go's map
/// order, so any order is as right, and a merge sort, which cannot panic on it, gives one.
fn sort_keys<T>(entries: &mut Vec<(Cow<'_, str>, T)>) {
    let keys: Vec<Vec<char>> = entries.iter().map(|(key, _)| key.chars().collect()).collect();
    let mut order: Vec<usize> = (0..entries.len()).collect();
    merge_sort(&mut order, &|a, b| key_less(&keys[a], &keys[b]));
    let mut slots: Vec<Option<(Cow<'_, str>, T)>> = std::mem::take(entries).into_iter().map(Some).collect();
    entries.extend(order.into_iter().filter_map(|index| slots[index].take()));
}

fn merge_sort(items: &mut [usize], less: &dyn Fn(usize, usize) -> bool) {
    if items.len() <= 1 {
        return;
    }
    let middle = items.len() / 2;
    merge_sort(&mut items[..middle], less);
    merge_sort(&mut items[middle..], less);
    let (left, right) = (items[..middle].to_vec(), items[middle..].to_vec());
    let (mut l, mut r) = (0, 0);
    for slot in items.iter_mut() {
        let take_right = r < right.len() && (l >= left.len() || less(right[r], left[l]));
        if take_right {
            *slot = right[r];
            r += 1;
        } else {
            *slot = left[l];
            l += 1;
        }
    }
}

/// go-yaml's `keyList.Less` for two strings. The digit runs are summed with Go's wrapping
/// int64 arithmetic.
fn key_less(a: &[char], b: &[char]) -> bool {
    let digit_value = |character: char| i64::from(u32::from(character)) - i64::from(u32::from('0'));
    for at in 0..a.len().min(b.len()) {
        let (x, y) = (a[at], b[at]);
        if x == y {
            continue;
        }
        let (x_letter, y_letter) = (x.is_alphabetic(), y.is_alphabetic());
        if x_letter && y_letter {
            return x < y;
        }
        if x_letter || y_letter {
            return y_letter;
        }
        let (mut x_number, mut y_number) = (0i64, 0i64);
        if x == '0' || y == '0' {
            // A zero inside a number (`10` against `1a`) counts as part of it.
            let before = a[..at].iter().rev().take_while(|character| character.is_ascii_digit());
            if before.clone().any(|&character| character != '0') {
                x_number = 1;
                y_number = 1;
            }
        }
        let mut x_end = at;
        while x_end < a.len() && a[x_end].is_ascii_digit() {
            x_number = x_number.wrapping_mul(10).wrapping_add(digit_value(a[x_end]));
            x_end += 1;
        }
        let mut y_end = at;
        while y_end < b.len() && b[y_end].is_ascii_digit() {
            y_number = y_number.wrapping_mul(10).wrapping_add(digit_value(b[y_end]));
            y_end += 1;
        }
        if x_number != y_number {
            return x_number < y_number;
        }
        if x_end != y_end {
            return x_end < y_end;
        }
        return x < y;
    }
    a.len() < b.len()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// (key, value, the key's lines under `data:`), each as kubectl 1.32 printed it for a
    /// ConfigMap with that data (`kubectl get cm -o yaml`); ctl/tests/yaml.rs checks the same
    /// strings against kubectl on a live server.
    const STRINGS: &[(&str, &str, &str)] = &[
        ("k000", "true", "  k000: \"true\"\n"),
        ("k001", "yes", "  k001: \"yes\"\n"),
        ("k002", "on", "  k002: \"on\"\n"),
        ("k003", "NO", "  k003: \"NO\"\n"),
        ("k004", "~", "  k004: \"~\"\n"),
        ("k005", "null", "  k005: \"null\"\n"),
        ("k006", "", "  k006: \"\"\n"),
        ("k007", " lead", "  k007: ' lead'\n"),
        ("k008", "trail ", "  k008: 'trail '\n"),
        ("k009", "a: b", "  k009: 'a: b'\n"),
        ("k010", "a #b", "  k010: 'a #b'\n"),
        ("k011", "#x", "  k011: '#x'\n"),
        ("k012", "- x", "  k012: '- x'\n"),
        ("k013", "[x", "  k013: '[x'\n"),
        ("k014", "{x", "  k014: '{x'\n"),
        ("k015", "*x", "  k015: '*x'\n"),
        ("k016", "&x", "  k016: '&x'\n"),
        ("k017", "!x", "  k017: '!x'\n"),
        ("k018", "|x", "  k018: '|x'\n"),
        ("k019", ">x", "  k019: '>x'\n"),
        ("k020", "%x", "  k020: '%x'\n"),
        ("k021", "@x", "  k021: '@x'\n"),
        ("k022", "`x", "  k022: '`x'\n"),
        ("k023", "'q'", "  k023: '''q'''\n"),
        ("k024", "\"dq\"", "  k024: '\"dq\"'\n"),
        ("k025", "1", "  k025: \"1\"\n"),
        ("k026", "1.5", "  k026: \"1.5\"\n"),
        ("k027", "1e3", "  k027: \"1e3\"\n"),
        ("k028", "0x1F", "  k028: \"0x1F\"\n"),
        ("k029", "0o17", "  k029: \"0o17\"\n"),
        ("k030", "017", "  k030: \"017\"\n"),
        ("k031", ".inf", "  k031: \".inf\"\n"),
        ("k032", "-.inf", "  k032: \"-.inf\"\n"),
        ("k033", ".nan", "  k033: \".nan\"\n"),
        ("k034", "2024-01-01", "  k034: \"2024-01-01\"\n"),
        ("k035", "12:30", "  k035: \"12:30\"\n"),
        ("k036", "1_000", "  k036: \"1_000\"\n"),
        ("k037", "a\nb", "  k037: |-\n    a\n    b\n"),
        ("k038", "a\nb\n", "  k038: |\n    a\n    b\n"),
        ("k039", "a\nb\n\n", "  k039: |+\n    a\n    b\n\n"),
        ("k040", "a  \nb", "  k040: \"a  \\nb\"\n"),
        ("k041", "a\t\nb", "  k041: \"a\\t\\nb\"\n"),
        ("k042", "a\n  b", "  k042: |-\n    a\n      b\n"),
        ("k043", "\nlead", "  k043: |2-\n\n    lead\n"),
        ("k044", "  \na", "  k044: \"  \\na\"\n"),
        ("k045", "x\n ", "  k045: \"x\\n \"\n"),
        ("k046", "é", "  k046: é\n"),
        ("k047", "日本", "  k047: 日本\n"),
        ("k048", "\u{1f600}", "  k048: \"\\U0001F600\"\n"),
        ("k049", "\u{1}", "  k049: \"\\x01\"\n"),
        ("k050", "\t", "  k050: \"\\t\"\n"),
        ("k051", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "  k051: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n"),
        ("k052", "ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ", "  k052: 'ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab\n    ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab\n    ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab '\n"),
        ("k053", "2024-01-01T10:00:00", "  k053: 2024-01-01T10:00:00\n"),
        ("k054", "2024-01-01T10:00:00Z", "  k054: \"2024-01-01T10:00:00Z\"\n"),
        ("k055", "2024-1-1", "  k055: \"2024-1-1\"\n"),
        ("k056", "2024-02-30", "  k056: 2024-02-30\n"),
        ("k057", "2024-02-29", "  k057: \"2024-02-29\"\n"),
        ("k058", "2023-02-29", "  k058: 2023-02-29\n"),
        ("k059", "2024-01-01 10:00:00", "  k059: \"2024-01-01 10:00:00\"\n"),
        ("k060", "2024-01-01  10:00:00", "  k060: \"2024-01-01  10:00:00\"\n"),
        ("k061", "2024-01-01t10:00:00.5+01:00", "  k061: \"2024-01-01t10:00:00.5+01:00\"\n"),
        ("k062", "2024-01-01T10:00:00,5Z", "  k062: \"2024-01-01T10:00:00,5Z\"\n"),
        ("k063", "2024-01-01T24:00:00Z", "  k063: 2024-01-01T24:00:00Z\n"),
        ("k064", "2024-13-01", "  k064: 2024-13-01\n"),
        ("k065", "08", "  k065: \"08\"\n"),
        ("k066", "0b101", "  k066: \"0b101\"\n"),
        ("k067", "0x", "  k067: 0x\n"),
        ("k068", "0b", "  k068: 0b\n"),
        ("k069", "+1", "  k069: \"+1\"\n"),
        ("k070", "-1", "  k070: \"-1\"\n"),
        ("k071", "+", "  k071: +\n"),
        ("k072", "-", "  k072: '-'\n"),
        ("k073", "-a", "  k073: -a\n"),
        ("k074", "-_", "  k074: -_\n"),
        ("k075", "1_", "  k075: \"1_\"\n"),
        ("k076", "_1", "  k076: _1\n"),
        ("k077", "1e400", "  k077: 1e400\n"),
        ("k078", "1e-400", "  k078: \"1e-400\"\n"),
        ("k079", ".5", "  k079: \".5\"\n"),
        ("k080", ".5_5", "  k080: \".5_5\"\n"),
        ("k081", "._5", "  k081: ._5\n"),
        ("k082", "+.5", "  k082: \"+.5\"\n"),
        ("k083", "1.", "  k083: \"1.\"\n"),
        ("k084", "1.e5", "  k084: \"1.e5\"\n"),
        ("k085", "0X1F", "  k085: \"0X1F\"\n"),
        ("k086", "0O7", "  k086: \"0O7\"\n"),
        ("k087", "1:2:3", "  k087: \"1:2:3\"\n"),
        ("k088", "12:60", "  k088: 12:60\n"),
        ("k089", "-12:30", "  k089: \"-12:30\"\n"),
        ("k090", "12:5", "  k090: \"12:5\"\n"),
        ("k091", "12:30.5", "  k091: \"12:30.5\"\n"),
        ("k092", "1:1_0", "  k092: 1:1_0\n"),
        ("k093", "---", "  k093: '---'\n"),
        ("k094", "...", "  k094: '...'\n"),
        ("k095", "---x", "  k095: '---x'\n"),
        ("k096", "...x", "  k096: '...x'\n"),
        ("k097", "--", "  k097: --\n"),
        ("k098", "a:", "  k098: 'a:'\n"),
        ("k099", "a:b", "  k099: a:b\n"),
        ("k100", ":a", "  k100: :a\n"),
        ("k101", ": a", "  k101: ': a'\n"),
        ("k102", "?a", "  k102: ?a\n"),
        ("k103", "? a", "  k103: '? a'\n"),
        ("k104", "a?", "  k104: a?\n"),
        ("k105", "a,b", "  k105: a,b\n"),
        ("k106", "a]", "  k106: a]\n"),
        ("k107", "a#b", "  k107: a#b\n"),
        ("k108", "a #", "  k108: 'a #'\n"),
        ("k109", "<<", "  k109: <<\n"),
        ("k110", "=", "  k110: =\n"),
        ("k111", "y", "  k111: \"y\"\n"),
        ("k112", "Y", "  k112: \"Y\"\n"),
        ("k113", "n", "  k113: \"n\"\n"),
        ("k114", "N", "  k114: \"N\"\n"),
        ("k115", "True", "  k115: \"True\"\n"),
        ("k116", "oN", "  k116: oN\n"),
        ("k117", "Off", "  k117: \"Off\"\n"),
        ("k118", "OFF", "  k118: \"OFF\"\n"),
        ("k119", "a'b", "  k119: a'b\n"),
        ("k120", "it's", "  k120: it's\n"),
        ("k121", "\\", "  k121: \\\n"),
        ("k122", "a\\b", "  k122: a\\b\n"),
        ("k123", "a\"b", "  k123: a\"b\n"),
        ("k124", "\u{a0}", "  k124: \u{a0}\n"),
        ("k125", "a\u{a0}", "  k125: a\u{a0}\n"),
        ("k126", "\u{2028}", "  k126: '\u{2028}'\n"),
        ("k127", "a\u{2029}b", "  k127: 'a\u{2029}    b'\n"),
        ("k128", "\u{feff}x", "  k128: \"\\uFEFF\\x78\"\n"),
        ("k129", "\u{feff}", "  k129: \"\\uFEFF\"\n"),
        ("k130", "x\u{feff}", "  k130: \"x\\uFEFF\"\n"),
        ("k131", "é́", "  k131: é́\n"),
        ("k132", "\r", "  k132: \"\\r\"\n"),
        ("k133", "a\rb", "  k133: \"a\\rb\"\n"),
        ("k134", "a\r\nb", "  k134: \"a\\r\\nb\"\n"),
        ("k135", "\u{1b}[0m", "  k135: \"\\e[0m\"\n"),
        ("k136", "0", "  k136: \"0\"\n"),
        ("k137", "-0", "  k137: \"-0\"\n"),
        ("k138", "00", "  k138: \"00\"\n"),
        ("k139", "0.0", "  k139: \"0.0\"\n"),
        ("k140", "-0.0", "  k140: \"-0.0\"\n"),
        ("k141", "1e", "  k141: 1e\n"),
        ("k142", "e1", "  k142: e1\n"),
        ("k143", "E1", "  k143: E1\n"),
        ("k144", "0x1g", "  k144: 0x1g\n"),
        ("k145", "9223372036854775807", "  k145: \"9223372036854775807\"\n"),
        ("k146", "9223372036854775808", "  k146: \"9223372036854775808\"\n"),
        ("k147", "18446744073709551615", "  k147: \"18446744073709551615\"\n"),
        ("k148", "18446744073709551616", "  k148: \"18446744073709551616\"\n"),
        ("k149", "-9223372036854775808", "  k149: \"-9223372036854775808\"\n"),
        ("k150", "-9223372036854775809", "  k150: \"-9223372036854775809\"\n"),
        ("k151", "# x", "  k151: '# x'\n"),
        ("k152", "x #", "  k152: 'x #'\n"),
        ("k153", "x # y", "  k153: 'x # y'\n"),
        ("k154", "x#y", "  k154: x#y\n"),
        ("k155", "-- x", "  k155: -- x\n"),
        ("k156", "a\n#b", "  k156: |-\n    a\n    #b\n"),
        ("k157", "a\n- b", "  k157: |-\n    a\n    - b\n"),
        ("k158", "\ta", "  k158: \"\\ta\"\n"),
        ("k159", "a\t", "  k159: \"a\\t\"\n"),
        ("k160", "a b  c", "  k160: a b  c\n"),
        ("bom", "\u{feff}ab", "  bom: \"\\uFEFF\\x61\\x62\"\n"),
        ("dq", "\u{1} y y y y y y y y y y y y y y y y y y y y y y y y y y y y y y y y y y y y y y y y y y y y y y y y y y y y y y y y y y y y ", "  dq: \"\\x01 y y y y y y y y y y y y y y y y y y y y y y y y y y y y y y y y y y y\n    y y y y y y y y y y y y y y y y y y y y y y y y y \"\n"),
        ("emoji", "\u{1f600}", "  emoji: \"\\U0001F600\"\n"),
        ("kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk", "v", "  ? kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk\n  : v\n"),
        ("lit", "line1\nline2 with some words z z z z z z z z z z z z z z z z z z z z z z z z z z z z z z z z z z z z z z z z \n", "  lit: \"line1\\nline2 with some words z z z z z z z z z z z z z z z z z z z z z z z\n    z z z z z z z z z z z z z z z z z \\n\"\n"),
        ("long1", "word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word word ", "  long1: 'word word word word word word word word word word word word word word word\n    word word word word word word word word word word word word word word word word\n    word word word word word word word word word '\n"),
        ("long2", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "  long2: xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n"),
        ("long3", "a ba ba ba ba ba ba ba ba ba ba ba ba ba ba ba ba ba ba ba ba ba ba ba ba ba ba ba ba ba ba ba ba ba ba ba ba ba ba ba ba ba ba ba ba ba ba ba ba ba b#", "  long3: a ba ba ba ba ba ba ba ba ba ba ba ba ba ba ba ba ba ba ba ba ba ba ba ba\n    ba ba ba ba ba ba ba ba ba ba ba ba ba ba ba ba ba ba ba ba ba ba ba ba ba b#\n"),
        ("long4", "éééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééé éééééééééé", "  long4: éééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééé\n    éééééééééé\n"),
        ("ls", "a\u{2028}b", "  ls: 'a\u{2028}    b'\n"),
        ("nel", "a\u{85}b", "  nel: a b\n"),
        ("tab", "a\tb", "  tab: \"a\\tb\"\n"),
        ("trailtab", "a\t", "  trailtab: \"a\\t\"\n"),
        ("v", "a \u{85}\u{85}  b", "  v: |-\n    a\n    b\n"),
        ("v", "\u{85}x", "  v: ' x'\n"),
    ];

    #[test]
    fn strings_as_kubectl_writes_them() {
        for (key, value, expected) in STRINGS {
            let yaml = to_string(&json!({"data": {*key: *value}})).unwrap();
            assert_eq!(yaml, format!("data:\n{expected}"), "value {value:?}");
        }
    }

    /// `ctl edit` and `ctl apply` read this YAML back (as YAML 1.2, with serde_yaml_ng).
    #[test]
    fn output_reads_back_as_written() {
        for (key, value, _) in STRINGS {
            let object = json!({"data": {*key: *value}});
            let yaml = to_string(&object).unwrap();
            let read: Value = serde_yaml_ng::from_str(&yaml).unwrap_or_else(|error| panic!("{value:?}: {error}\n{yaml}"));
            assert_eq!(read, json!({"data": {*key: folded(value)}}), "{yaml}");
        }
        let keys = json!({"a\nb": "v", "c": {"a\nb\n": {"n": 1}}, "": [1], "x".repeat(200): {"yes": []}, "word ".repeat(30): 1.5});
        let read: Value = serde_yaml_ng::from_str(&to_string(&keys).unwrap()).unwrap();
        assert_eq!(read, keys);
    }

    #[test]
    fn control_characters_are_refused_as_kubectl_refuses_them() {
        for value in ["a\u{7f}b", "a\u{80}b", "a\u{9f}", "a\u{fffe}b", "\u{ffff}"] {
            let error = to_string(&json!({"data": {"v": value}})).unwrap_err();
            assert_eq!(error.to_string(), "yaml: control characters are not allowed", "{value:?}");
        }
        assert!(to_string(&json!({"data": {"a\u{7f}": "v"}})).is_err());
    }

    /// Each as kubectl 1.32 failed on a custom resource with that `spec`.
    #[test]
    fn keys_and_line_breaks_kubectl_cannot_read_back() {
        let error = |spec: Value| to_string(&json!({"apiVersion": "example.com/v1", "spec": spec})).map(|_| ()).map_err(|error| error.to_string());
        assert_eq!(error(json!({"k".repeat(1022): 1})), Ok(()));
        assert_eq!(error(json!({"k".repeat(1023): 1})), Err("yaml: did not find expected ',' or '}'".into()));
        // `<` is six characters in Go's JSON (`\u003c`).
        assert_eq!(error(json!({format!("{}aa", "<".repeat(170)): 1})), Ok(()));
        assert_eq!(error(json!({format!("{}aaa", "<".repeat(170)): 1})), Err("yaml: did not find expected ',' or '}'".into()));
        assert_eq!(error(json!({"a": "x\u{85}y", "b\u{85}c": 1})), Err("yaml: line 2: did not find expected ',' or '}'".into()));
        assert_eq!(error(json!({"a": "x\u{85}\u{85}y", "b": "\u{85}...\u{85}"})), Err("yaml: line 4: found unexpected document indicator".into()));
        assert_eq!(error(json!({"a": "x\u{85} --- y", "b": "x\u{85}---"})), Ok(()));
    }

    /// kubectl's `get -o yaml` of a custom resource created from this JSON.
    #[test]
    fn numbers_and_collections_as_kubectl_writes_them() {
        let object: Value = serde_json::from_str(NUMBERS).unwrap();
        let expected = "x:\n  b: true\n  big: 9223372036854775807\n  big2: 9223372036854776000\n  big3: 1.8446744073709552e+19\n  big4: 1e+20\n  e: {}\n  f1: 1\n  f2: 1.5\n  f3: 1000\n  f4: 1.2345675e+06\n  f5: 1e-05\n  f6: 0.0001\n  f7: 1e+21\n  f8: 0\n  f9: 123456.5\n  f10: 1.5e+300\n  f11: 1.2345678901234568e+22\n  f12: 9300000000000000000\n  i: 1\n  l: []\n  ll:\n  - - 1\n    - []\n  - - {}\n  - a:\n    - b: 1\n      c:\n      - 2\n  \"n\": null\n  neg: -5\n";
        assert_eq!(to_string(&json!({"x": object["x"]})).unwrap(), expected);
    }
    const NUMBERS: &str = r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"nums"},"x":{"i":1,"neg":-5,"big":9223372036854775807,"big2":9223372036854775808,"big3":18446744073709551615,"big4":100000000000000000000,"f1":1.0,"f2":1.5,"f3":1e3,"f4":1234567.5,"f5":0.00001,"f6":0.0001,"f7":1e21,"f8":-0.0,"f9":123456.5,"f10":1.5e300,"f11":12345678901234567890123,"f12":9300000000000000000, "b":true,"n":null,"e":{},"l":[],"ll":[[1,[]],[{}],{"a":[{"b":1,"c":[2]}]}]}}"#;

    #[test]
    fn keys_in_go_yaml_order_and_quoting() {
        let keys = [
            "1", "true", "yes", "on", "---", "-a", ".a", "_a", "a.b", &"x".repeat(130), "A", "a", "B", "b", "a1", "a01", "a10", "a9",
            "a-b", "ab", "a_b", "a.1", "10", "9", "a2", "0", "00", "k1", "k01", "k001", "a0", "a00", "a100", "a0100", "1.5", "0x1F",
            "2024-01-01", "y", "n", "-", "_", "a..b", "Z", "z", "a-1", "a.2", "a_3",
        ];
        let data: Map<String, Value> = keys.iter().map(|key| (key.to_string(), json!("v"))).collect();
        let expected = KEYS;
        assert_eq!(to_string(&json!({"data": data})).unwrap(), format!("data:\n{expected}\n"));
    }
    const KEYS: &str = "  '-': v\n  '---': v\n  -a: v\n  .a: v\n  _: v\n  _a: v\n  \"0\": v\n  \"00\": v\n  \"0x1F\": v\n  \"1\": v\n  \"1.5\": v\n  \"9\": v\n  \"10\": v\n  \"2024-01-01\": v\n  A: v\n  B: v\n  Z: v\n  a: v\n  a-1: v\n  a-b: v\n  a..b: v\n  a.1: v\n  a.2: v\n  a.b: v\n  a_3: v\n  a_b: v\n  a0: v\n  a00: v\n  a1: v\n  a01: v\n  a2: v\n  a9: v\n  a10: v\n  a100: v\n  a0100: v\n  ab: v\n  b: v\n  k1: v\n  k01: v\n  k001: v\n  \"n\": v\n  \"on\": v\n  \"true\": v\n  ? xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n  : v\n  \"y\": v\n  \"yes\": v\n  z: v";

    #[test]
    fn keys_that_cannot_be_simple() {
        let yaml = to_string(&json!({"a\nb": "v", "c": {"a\nb\n": {"n": 1}}, "": [1]})).unwrap();
        assert_eq!(yaml, "\"\":\n- 1\n? |-\n  a\n  b\n: v\nc:\n  ? |\n    a\n    b\n  : \"n\": 1\n");
    }

    #[test]
    fn roots_and_empty_collections() {
        assert_eq!(to_string(&json!({})).unwrap(), "{}\n");
        assert_eq!(to_string(&json!([])).unwrap(), "[]\n");
        assert_eq!(to_string(&json!("x")).unwrap(), "x\n");
        assert_eq!(to_string(&json!([{"a": []}, [], {}])).unwrap(), "- a: []\n- []\n- {}\n");
        assert_eq!(to_string(&json!({"a": {"b": {}}})).unwrap(), "a:\n  b: {}\n");
    }

    #[test]
    fn go_floats() {
        for (float, expected) in [(1.0, "1"), (-2.0, "-2"), (0.5, "0.5"), (1e-7, "1e-07"), (123456.0, "123456"), (-1234567.5, "-1.2345675e+06"), (1e22, "1e+22"), (-0.0, "0")] {
            assert_eq!(go_number(&Number::from_f64(float).unwrap()), expected, "{float}");
        }
        assert_eq!(go_number(&Number::from(u64::MAX)), "1.8446744073709552e+19");
        assert_eq!(go_number(&Number::from(i64::MIN)), "-9223372036854775808");
    }

    #[test]
    fn yaml_1_1_resolution() {
        for plain in ["2024-01-01T10:00:00", "2024-02-30", "2024-13-01", "0x", "+", "_1", "1e400", "._5", "12:60", "<<", "oN", "yES"] {
            assert!(reads_back_as_string(plain), "{plain}");
        }
        for quoted in ["2024-1-1", "2024-01-01 10:00:00", "2024-01-01t10:00:00.5+01:00", "08", "0b101", "1_", "+.5", "1.", "0O7", "1:2:3", "-12:30", ".5_5", "-9223372036854775808", "18446744073709551615", "18446744073709551616"] {
            assert!(!reads_back_as_string(quoted), "{quoted}");
        }
    }
}
