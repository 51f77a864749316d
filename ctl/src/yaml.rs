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

#[derive(Debug, thiserror::Error)]
pub enum YamlError {
    /// Go's YAML reader, reading kubectl's own JSON back, refuses DEL, C1 controls (other than
    /// NEL) and U+FFFE/U+FFFF in a string; kubectl then prints this and nothing else.
    #[error("yaml: control characters are not allowed")]
    ControlCharacters,
}

/// `value` as kubectl's `-o yaml` prints it, ending in a line break.
pub fn to_string(value: &Value) -> Result<String, YamlError> {
    let mut emitter = Emitter { out: String::new(), column: 0, whitespace: true, indention: true, indent: None };
    emitter.node(value, Context::default())?;
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
    fn node(&mut self, value: &Value, context: Context) -> Result<(), YamlError> {
        match value {
            Value::Null => self.scalar("null", Style::Plain, context),
            Value::Bool(true) => self.scalar("true", Style::Plain, context),
            Value::Bool(false) => self.scalar("false", Style::Plain, context),
            Value::Number(number) => self.scalar(&go_number(number), Style::Plain, context),
            Value::String(text) => self.string(&as_go_reads(text)?, context),
            // Go's encoder asks for block collections; libyaml writes empty ones in flow style.
            Value::Array(items) if items.is_empty() => self.empty_flow("[", "]"),
            Value::Object(map) if map.is_empty() => self.empty_flow("{", "}"),
            Value::Array(items) => self.sequence(items, context)?,
            Value::Object(map) => self.mapping(map)?,
        }
        Ok(())
    }

    fn sequence(&mut self, items: &[Value], context: Context) -> Result<(), YamlError> {
        let outer = self.indent;
        // A list right after `key:` is not indented under it.
        self.increase_indent(false, context.mapping && !self.indention);
        for item in items {
            self.write_indent();
            self.write_indicator("-", true, false, true);
            self.node(item, Context::default())?;
        }
        self.indent = outer;
        Ok(())
    }

    fn mapping(&mut self, map: &Map<String, Value>) -> Result<(), YamlError> {
        let mut entries = Vec::with_capacity(map.len());
        for (key, value) in map {
            entries.push((as_go_reads(key)?, value));
        }
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
            self.node(value, Context { mapping: true, simple_key: false })?;
        }
        self.indent = outer;
        Ok(())
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

/// A string as kubectl has it after its JSON → YAML round trip. Go's JSON encoder escapes control
/// characters below U+0020 and U+2028/U+2029 but writes the rest raw; the YAML reader then
/// refuses some of those (DEL, C1 controls, U+FFFE, U+FFFF) and reads a raw NEL (U+0085) inside
/// the double-quoted JSON string as a line break, which folds: one break with the spaces around
/// it becomes a space, n breaks become n-1 line feeds.
fn as_go_reads(text: &str) -> Result<Cow<'_, str>, YamlError> {
    let refused = |character: char| matches!(u32::from(character), 0x7F..=0x84 | 0x86..=0x9F | 0xFFFE | 0xFFFF);
    if text.chars().any(refused) {
        return Err(YamlError::ControlCharacters);
    }
    if !text.contains('\u{85}') {
        return Ok(Cow::Borrowed(text));
    }
    let mut folded = String::with_capacity(text.len());
    let mut rest = text;
    loop {
        let content = rest.find([' ', '\u{85}']).unwrap_or(rest.len());
        folded.push_str(&rest[..content]);
        rest = &rest[content..];
        if rest.is_empty() {
            return Ok(Cow::Owned(folded));
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
                if !number(&mut rest).is_some_and(|hour| hour < 24) {
                    return false;
                }
            }
            Field::Minute | Field::Second => {
                if !number(&mut rest).is_some_and(|value| value < 60) {
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
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Sorts keys as go-yaml's `keyList.Less` orders strings: at the first differing character, a
/// letter sorts after a non-letter, two letters by code point, and otherwise the runs of digits
/// there compare as numbers (`a9` < `a10`). That order is not always transitive, so the sort
/// is one that cannot panic on it: Go's insertion sort for up to 12 keys (what its sort does
/// with so few, so the order matches exactly), a merge sort above.
fn sort_keys<T>(entries: &mut Vec<(Cow<'_, str>, T)>) {
    let keys: Vec<Vec<char>> = entries.iter().map(|(key, _)| key.chars().collect()).collect();
    let mut order: Vec<usize> = (0..entries.len()).collect();
    if order.len() <= 12 {
        for next in 1..order.len() {
            let mut at = next;
            while at > 0 && key_less(&keys[order[at]], &keys[order[at - 1]]) {
                order.swap(at, at - 1);
                at -= 1;
            }
        }
    } else {
        merge_sort(&mut order, &|a, b| key_less(&keys[a], &keys[b]));
    }
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
