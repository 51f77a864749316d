//! Label and field selectors, parsed and matched as Kubernetes does (`k8s.io/apimachinery/pkg/labels`
//! and `pkg/fields`), so that `?labelSelector=`, `?fieldSelector=`, `kubectl -l` and the
//! `spec.selector` of workload objects pick the same objects here as on a real cluster.
//!
//! Error texts keep Kubernetes' wording (`unable to parse requirement: ...`,
//! `found 'x', expected: ...`, `can't understand '...'`) inside a [`SelectorError`] that also names
//! the whole selector; [`SelectorError::reason`] gives the Kubernetes part alone.

use crate::names;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use k8s_openapi::apimachinery::pkg::apis::meta::v1 as metav1;

/// Why a selector was rejected. Each variant names the offending input; `reason` is worded as
/// Kubernetes words it, so an API server can answer with the same 400 text kube-apiserver would.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectorError {
    /// A `labelSelector` string (query parameter, `kubectl -l`) that `labels.Parse` rejects.
    #[error("invalid label selector {selector:?}: {reason}")]
    LabelSelectorSyntax { selector: String, reason: String },
    /// A `metav1.LabelSelector` object (`matchLabels` / `matchExpressions`) that
    /// `metav1.LabelSelectorAsSelector` rejects; `reason` starts with the path of the bad part.
    #[error("invalid label selector: {reason}")]
    LabelSelectorObject { reason: String },
    /// A `fieldSelector` string that `fields.ParseSelector` rejects.
    #[error("invalid field selector {selector:?}: {reason}")]
    FieldSelectorSyntax { selector: String, reason: String },
}

impl SelectorError {
    /// What is wrong, in Kubernetes' words, without the selector this type adds around it.
    pub fn reason(&self) -> &str {
        match self {
            SelectorError::LabelSelectorSyntax { reason, .. }
            | SelectorError::LabelSelectorObject { reason }
            | SelectorError::FieldSelectorSyntax { reason, .. } => reason,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Label selectors
// ---------------------------------------------------------------------------------------------

/// How a label requirement relates its key to its values (Kubernetes' `selection.Operator`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LabelOperator {
    /// `key=value`
    Equals,
    /// `key==value`: matches as `=`, kept apart only so that the text renders back unchanged.
    DoubleEquals,
    /// `key!=value`: also matches objects without the label.
    NotEquals,
    /// `key in (a,b)`
    In,
    /// `key notin (a,b)`: also matches objects without the label.
    NotIn,
    /// `key`
    Exists,
    /// `!key`
    DoesNotExist,
    /// `key>n`: the label's value, read as a 64-bit integer, is greater than `n`.
    GreaterThan,
    /// `key<n`: the label's value, read as a 64-bit integer, is less than `n`.
    LessThan,
}

impl LabelOperator {
    /// The operator's name as Kubernetes spells it (`selection.Operator`'s string value).
    pub fn as_str(self) -> &'static str {
        match self {
            LabelOperator::Equals => "=",
            LabelOperator::DoubleEquals => "==",
            LabelOperator::NotEquals => "!=",
            LabelOperator::In => "in",
            LabelOperator::NotIn => "notin",
            LabelOperator::Exists => "exists",
            LabelOperator::DoesNotExist => "!",
            LabelOperator::GreaterThan => "gt",
            LabelOperator::LessThan => "lt",
        }
    }
}

/// One validated requirement of a label selector: a key, an operator and its values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelRequirement {
    key: String,
    operator: LabelOperator,
    /// Sorted and without duplicates: Kubernetes collects parsed values in a set and sorts them
    /// when rendering, and neither order nor repetition changes what matches.
    values: Vec<String>,
}

impl LabelRequirement {
    pub fn key(&self) -> &str {
        &self.key
    }

    pub fn operator(&self) -> LabelOperator {
        self.operator
    }

    /// The values, sorted; empty for `Exists` and `DoesNotExist`, one for `=`, `==`, `!=`, `>`, `<`.
    pub fn values(&self) -> &[String] {
        &self.values
    }

    /// Whether a label set satisfies this requirement (Kubernetes' `Requirement.Matches`).
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        let value = labels.get(&self.key);
        match self.operator {
            LabelOperator::In | LabelOperator::Equals | LabelOperator::DoubleEquals => {
                value.is_some_and(|value| self.has_value(value))
            }
            // Kubernetes counts an object without the label as "not equal" / "not in".
            LabelOperator::NotIn | LabelOperator::NotEquals => value.is_none_or(|value| !self.has_value(value)),
            LabelOperator::Exists => value.is_some(),
            LabelOperator::DoesNotExist => value.is_none(),
            LabelOperator::GreaterThan | LabelOperator::LessThan => {
                // A label whose value is not an integer never satisfies `>` or `<`.
                let Some(actual) = value.and_then(|value| value.parse::<i64>().ok()) else {
                    return false;
                };
                let Some(bound) = self.values.first().and_then(|value| value.parse::<i64>().ok()) else {
                    return false;
                };
                if self.operator == LabelOperator::GreaterThan { actual > bound } else { actual < bound }
            }
        }
    }

    fn has_value(&self, value: &str) -> bool {
        self.values.iter().any(|candidate| candidate == value)
    }
}

/// Renders as Kubernetes' `Requirement.String()`: `!key`, `key`, `key=v`, `key in (a,b)`, ...
impl fmt::Display for LabelRequirement {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let values = self.values.join(",");
        match self.operator {
            LabelOperator::Exists => write!(formatter, "{}", self.key),
            LabelOperator::DoesNotExist => write!(formatter, "!{}", self.key),
            LabelOperator::Equals => write!(formatter, "{}={values}", self.key),
            LabelOperator::DoubleEquals => write!(formatter, "{}=={values}", self.key),
            LabelOperator::NotEquals => write!(formatter, "{}!={values}", self.key),
            LabelOperator::GreaterThan => write!(formatter, "{}>{values}", self.key),
            LabelOperator::LessThan => write!(formatter, "{}<{values}", self.key),
            LabelOperator::In => write!(formatter, "{} in ({values})", self.key),
            LabelOperator::NotIn => write!(formatter, "{} notin ({values})", self.key),
        }
    }
}

/// A parsed, validated label selector: all of its requirements must hold.
///
/// Kubernetes has two selectors without requirements, and they mean opposite things:
/// [`LabelSelector::everything`] (the empty string, or a `metav1.LabelSelector` with neither
/// `matchLabels` nor `matchExpressions`) matches every object, while [`LabelSelector::nothing`]
/// (an absent, `null`, `metav1.LabelSelector`) matches none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelSelector {
    selection: Selection,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Selection {
    /// Kubernetes' `labels.Nothing()`.
    Nothing,
    /// Sorted by key (stable, so requirements on one key keep the order they were given in).
    Requirements(Vec<LabelRequirement>),
}

impl LabelSelector {
    /// The selector that matches every label set: what the empty string and an empty
    /// `metav1.LabelSelector` (`{}`) mean.
    pub fn everything() -> Self {
        Self { selection: Selection::Requirements(Vec::new()) }
    }

    /// The selector that matches no label set: what an absent (`null`) `metav1.LabelSelector`
    /// means in `metav1.LabelSelectorAsSelector`, e.g. a `PodAffinityTerm` without `labelSelector`.
    pub fn nothing() -> Self {
        Self { selection: Selection::Nothing }
    }

    /// Parses the string form used by `?labelSelector=` and `kubectl -l`, as `labels.Parse` does:
    /// comma-separated requirements `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`, `k`,
    /// `!k`, `k>n`, `k<n`; blanks between tokens are ignored; the empty string selects everything.
    pub fn parse(text: &str) -> Result<Self, SelectorError> {
        let mut parser = Parser { tokens: lex(text), position: 0 };
        let mut requirements = parser
            .parse()
            .map_err(|reason| SelectorError::LabelSelectorSyntax { selector: text.to_owned(), reason })?;
        sort_by_key(&mut requirements);
        Ok(Self { selection: Selection::Requirements(requirements) })
    }

    /// Converts a `metav1.LabelSelector` that is present in the object, as
    /// `metav1.LabelSelectorAsSelector` does: `matchLabels` entries become `key=value`,
    /// `matchExpressions` accept `In`, `NotIn` (one value or more), `Exists`, `DoesNotExist` (no
    /// values). An empty selector (`{}`) matches everything.
    ///
    /// Where the field is optional and may be absent, use [`LabelSelector::from_optional_k8s`]
    /// so that an absent selector matches nothing, as in Kubernetes.
    pub fn from_k8s(selector: &metav1::LabelSelector) -> Result<Self, SelectorError> {
        let match_labels = selector.match_labels.iter().flatten();
        let match_expressions = selector.match_expressions.iter().flatten();
        let mut requirements = Vec::new();
        for (key, value) in match_labels {
            let requirement =
                new_requirement(key, LabelOperator::Equals, vec![value.clone()], &ErrorPaths::MatchLabels)
                    .map_err(|reason| SelectorError::LabelSelectorObject { reason })?;
            requirements.push(requirement);
        }
        for (index, expression) in match_expressions.enumerate() {
            let operator = match expression.operator.as_str() {
                "In" => LabelOperator::In,
                "NotIn" => LabelOperator::NotIn,
                "Exists" => LabelOperator::Exists,
                "DoesNotExist" => LabelOperator::DoesNotExist,
                other => {
                    return Err(SelectorError::LabelSelectorObject {
                        reason: format!(
                            "matchExpressions[{index}].operator: {other:?} is not a valid label selector operator"
                        ),
                    });
                }
            };
            let values = expression.values.clone().unwrap_or_default();
            let requirement = new_requirement(&expression.key, operator, values, &ErrorPaths::MatchExpression(index))
                .map_err(|reason| SelectorError::LabelSelectorObject { reason })?;
            requirements.push(requirement);
        }
        sort_by_key(&mut requirements);
        Ok(Self { selection: Selection::Requirements(requirements) })
    }

    /// Converts an optional `metav1.LabelSelector` field: absent means [`LabelSelector::nothing`],
    /// present is [`LabelSelector::from_k8s`]. This is the whole of `metav1.LabelSelectorAsSelector`.
    pub fn from_optional_k8s(selector: Option<&metav1::LabelSelector>) -> Result<Self, SelectorError> {
        match selector {
            None => Ok(Self::nothing()),
            Some(selector) => Self::from_k8s(selector),
        }
    }

    /// Whether a label set satisfies every requirement.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        match &self.selection {
            Selection::Nothing => false,
            Selection::Requirements(requirements) => requirements.iter().all(|requirement| requirement.matches(labels)),
        }
    }

    /// True when the selector restricts nothing (it matches everything). False for
    /// [`LabelSelector::nothing`], as Kubernetes' `Empty()`.
    pub fn is_empty(&self) -> bool {
        matches!(&self.selection, Selection::Requirements(requirements) if requirements.is_empty())
    }

    /// The requirements, sorted by key; `None` for [`LabelSelector::nothing`], which has none yet
    /// selects nothing (Kubernetes' `Requirements()` answering `selectable == false`).
    pub fn requirements(&self) -> Option<&[LabelRequirement]> {
        match &self.selection {
            Selection::Nothing => None,
            Selection::Requirements(requirements) => Some(requirements),
        }
    }
}

/// Renders the canonical string form, as Kubernetes' `Selector.String()`: requirements sorted by
/// key, joined by `,`, values sorted. Parsing it gives the same selector back, except for
/// [`LabelSelector::nothing`], which renders as `""` (as in Kubernetes) and so reads back as
/// everything: never carry a "nothing" selector through its string form.
impl fmt::Display for LabelSelector {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Selection::Requirements(requirements) = &self.selection else {
            return Ok(());
        };
        for (index, requirement) in requirements.iter().enumerate() {
            if index > 0 {
                formatter.write_str(",")?;
            }
            write!(formatter, "{requirement}")?;
        }
        Ok(())
    }
}

impl FromStr for LabelSelector {
    type Err = SelectorError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

fn sort_by_key(requirements: &mut [LabelRequirement]) {
    requirements.sort_by(|left, right| left.key.cmp(&right.key));
}

/// A token of the label selector language (Kubernetes' `labels.Lexer`).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    EndOfString,
    OpenParenthesis,
    CloseParenthesis,
    Comma,
    Bang,
    Equals,
    DoubleEquals,
    NotEquals,
    GreaterThan,
    LessThan,
    In,
    NotIn,
    Identifier(String),
}

impl Token {
    /// The text the token was read from, for `found '...'` messages (empty at the end).
    fn literal(&self) -> &str {
        match self {
            Token::EndOfString => "",
            Token::OpenParenthesis => "(",
            Token::CloseParenthesis => ")",
            Token::Comma => ",",
            Token::Bang => "!",
            Token::Equals => "=",
            Token::DoubleEquals => "==",
            Token::NotEquals => "!=",
            Token::GreaterThan => ">",
            Token::LessThan => "<",
            Token::In => "in",
            Token::NotIn => "notin",
            Token::Identifier(text) => text,
        }
    }
}

/// Where `in` and `notin` are keywords. Kubernetes reads them as operators only right after a
/// key, so `in in (in)` is a valid selector on a label named `in`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Context {
    KeyAndOperator,
    Values,
}

/// The blanks Kubernetes skips between tokens.
fn is_whitespace(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\r' | b'\n')
}

/// The bytes that end an identifier, because they start an operator or punctuation.
fn is_special(byte: u8) -> bool {
    matches!(byte, b'=' | b'!' | b'(' | b')' | b',' | b'>' | b'<')
}

/// The operator or punctuation starting with `byte`, and how many bytes it takes. Kubernetes
/// reads special characters greedily, and the only two-character tokens are `==` and `!=`.
fn special_token(byte: u8, next: Option<u8>) -> Option<(Token, usize)> {
    let token = match (byte, next) {
        (b'=', Some(b'=')) => return Some((Token::DoubleEquals, 2)),
        (b'!', Some(b'=')) => return Some((Token::NotEquals, 2)),
        (b'=', _) => Token::Equals,
        (b'!', _) => Token::Bang,
        (b'(', _) => Token::OpenParenthesis,
        (b')', _) => Token::CloseParenthesis,
        (b',', _) => Token::Comma,
        (b'>', _) => Token::GreaterThan,
        (b'<', _) => Token::LessThan,
        _ => return None,
    };
    Some((token, 1))
}

/// Splits the selector into tokens, ending with `EndOfString`. Anything that is neither blank
/// nor special is part of an identifier; validation of keys and values rejects what is not
/// allowed there, as in Kubernetes.
fn lex(text: &str) -> Vec<Token> {
    let bytes = text.as_bytes();
    let mut tokens = Vec::new();
    let mut position = 0;
    loop {
        while position < bytes.len() && is_whitespace(bytes[position]) {
            position += 1;
        }
        let Some(&byte) = bytes.get(position) else {
            tokens.push(Token::EndOfString);
            return tokens;
        };
        if let Some((token, width)) = special_token(byte, bytes.get(position + 1).copied()) {
            tokens.push(token);
            position += width;
            continue;
        }
        let start = position;
        while position < bytes.len() && !is_whitespace(bytes[position]) && !is_special(bytes[position]) {
            position += 1;
        }
        // Both ends are the start or end of the text or an ASCII delimiter, so they are on char
        // boundaries and the slice cannot panic.
        let word = &text[start..position];
        tokens.push(match word {
            "in" => Token::In,
            "notin" => Token::NotIn,
            _ => Token::Identifier(word.to_owned()),
        });
    }
}

/// The recursive-descent parser of Kubernetes' `labels.Parser`, step for step, so that the same
/// inputs are accepted and the same `found '...', expected: ...` errors come out.
struct Parser {
    tokens: Vec<Token>,
    position: usize,
}

impl Parser {
    fn lookahead(&self, context: Context) -> Token {
        let token = self.tokens.get(self.position).cloned().unwrap_or(Token::EndOfString);
        in_context(token, context)
    }

    fn consume(&mut self, context: Context) -> Token {
        let token = self.lookahead(context);
        self.position += 1;
        token
    }

    fn parse(&mut self) -> Result<Vec<LabelRequirement>, String> {
        let mut requirements = Vec::new();
        loop {
            let token = self.lookahead(Context::Values);
            match token {
                Token::Identifier(_) | Token::Bang => {
                    let requirement =
                        self.parse_requirement().map_err(|reason| format!("unable to parse requirement: {reason}"))?;
                    requirements.push(requirement);
                    match self.consume(Context::Values) {
                        Token::EndOfString => return Ok(requirements),
                        Token::Comma => {
                            let next = self.lookahead(Context::Values);
                            if !matches!(next, Token::Identifier(_) | Token::Bang) {
                                return Err(format!("found '{}', expected: identifier after ','", next.literal()));
                            }
                        }
                        other => {
                            return Err(format!("found '{}', expected: ',' or 'end of string'", other.literal()));
                        }
                    }
                }
                Token::EndOfString => return Ok(requirements),
                other => {
                    return Err(format!("found '{}', expected: !, identifier, or 'end of string'", other.literal()));
                }
            }
        }
    }

    fn parse_requirement(&mut self) -> Result<LabelRequirement, String> {
        let (key, inferred) = self.parse_key_and_infer_operator()?;
        if let Some(operator) = inferred {
            return new_requirement(&key, operator, Vec::new(), &ErrorPaths::Parsed);
        }
        let operator = self.parse_operator()?;
        let values = match operator {
            LabelOperator::In | LabelOperator::NotIn => self.parse_values()?,
            _ => self.parse_exact_value()?,
        };
        new_requirement(&key, operator, values.into_iter().collect(), &ErrorPaths::Parsed)
    }

    /// Reads `[!] key`; the operator is `DoesNotExist` after `!`, `Exists` when the requirement
    /// ends after the key, and still unknown (`None`) otherwise.
    fn parse_key_and_infer_operator(&mut self) -> Result<(String, Option<LabelOperator>), String> {
        let mut operator = None;
        let mut token = self.consume(Context::Values);
        if token == Token::Bang {
            operator = Some(LabelOperator::DoesNotExist);
            token = self.consume(Context::Values);
        }
        let Token::Identifier(key) = token else {
            return Err(format!("found '{}', expected: identifier", token.literal()));
        };
        let problems = names::qualified_name(&key);
        if !problems.is_empty() {
            return Err(invalid_value(&ErrorPaths::Parsed.key(), &key, &problems.join("; ")));
        }
        if operator.is_none() && matches!(self.lookahead(Context::Values), Token::EndOfString | Token::Comma) {
            operator = Some(LabelOperator::Exists);
        }
        Ok((key, operator))
    }

    fn parse_operator(&mut self) -> Result<LabelOperator, String> {
        match self.consume(Context::KeyAndOperator) {
            Token::In => Ok(LabelOperator::In),
            Token::NotIn => Ok(LabelOperator::NotIn),
            Token::Equals => Ok(LabelOperator::Equals),
            Token::DoubleEquals => Ok(LabelOperator::DoubleEquals),
            Token::NotEquals => Ok(LabelOperator::NotEquals),
            Token::GreaterThan => Ok(LabelOperator::GreaterThan),
            Token::LessThan => Ok(LabelOperator::LessThan),
            other => Err(format!("found '{}', expected: in, notin, =, ==, !=, gt, lt", other.literal())),
        }
    }

    /// Reads `( values )`. As in Kubernetes, an empty list `()` and empty entries (`(a,,b)`,
    /// `(,a)`, `(a,)`) stand for the empty value.
    fn parse_values(&mut self) -> Result<BTreeSet<String>, String> {
        let token = self.consume(Context::Values);
        if token != Token::OpenParenthesis {
            return Err(format!("found '{}' expected: '('", token.literal()));
        }
        match self.lookahead(Context::Values) {
            Token::Identifier(_) | Token::Comma => {
                let values = self.parse_identifiers_list()?;
                let closing = self.consume(Context::Values);
                if closing != Token::CloseParenthesis {
                    return Err(format!("found '{}', expected: ')'", closing.literal()));
                }
                Ok(values)
            }
            Token::CloseParenthesis => {
                self.consume(Context::Values);
                Ok(BTreeSet::from([String::new()]))
            }
            other => Err(format!("found '{}', expected: ',', ')' or identifier", other.literal())),
        }
    }

    /// Reads the comma-separated values inside the parentheses, up to but not including `)`.
    fn parse_identifiers_list(&mut self) -> Result<BTreeSet<String>, String> {
        let mut values = BTreeSet::new();
        loop {
            match self.consume(Context::Values) {
                Token::Identifier(value) => {
                    values.insert(value);
                    match self.lookahead(Context::Values) {
                        Token::Comma => continue,
                        Token::CloseParenthesis => return Ok(values),
                        other => return Err(format!("found '{}', expected: ',' or ')'", other.literal())),
                    }
                }
                Token::Comma => {
                    // A comma first, last or doubled leaves an empty value.
                    if values.is_empty() {
                        values.insert(String::new());
                    }
                    match self.lookahead(Context::Values) {
                        Token::CloseParenthesis => {
                            values.insert(String::new());
                            return Ok(values);
                        }
                        Token::Comma => {
                            self.consume(Context::Values);
                            values.insert(String::new());
                        }
                        _ => {}
                    }
                }
                other => return Err(format!("found '{}', expected: ',', or identifier", other.literal())),
            }
        }
    }

    /// Reads the single value after `=`, `==`, `!=`, `>` or `<`; nothing there is the empty value.
    fn parse_exact_value(&mut self) -> Result<BTreeSet<String>, String> {
        if matches!(self.lookahead(Context::Values), Token::EndOfString | Token::Comma) {
            return Ok(BTreeSet::from([String::new()]));
        }
        match self.consume(Context::Values) {
            Token::Identifier(value) => Ok(BTreeSet::from([value])),
            other => Err(format!("found '{}', expected: identifier", other.literal())),
        }
    }
}

fn in_context(token: Token, context: Context) -> Token {
    match (token, context) {
        (Token::In, Context::Values) => Token::Identifier("in".to_owned()),
        (Token::NotIn, Context::Values) => Token::Identifier("notin".to_owned()),
        (token, _) => token,
    }
}

/// Where a requirement came from, to name the bad part in errors the way Kubernetes' field paths
/// do (`key`, `values[0][app]`), with the position inside a `metav1.LabelSelector` added.
enum ErrorPaths {
    Parsed,
    MatchLabels,
    MatchExpression(usize),
}

impl ErrorPaths {
    fn key(&self) -> String {
        match self {
            ErrorPaths::Parsed => "key".to_owned(),
            ErrorPaths::MatchLabels => "matchLabels".to_owned(),
            ErrorPaths::MatchExpression(index) => format!("matchExpressions[{index}].key"),
        }
    }

    fn values(&self) -> String {
        match self {
            ErrorPaths::Parsed => "values".to_owned(),
            ErrorPaths::MatchLabels => "matchLabels".to_owned(),
            ErrorPaths::MatchExpression(index) => format!("matchExpressions[{index}].values"),
        }
    }

    fn value(&self, index: usize) -> String {
        match self {
            ErrorPaths::MatchLabels => "matchLabels".to_owned(),
            _ => format!("{}[{index}]", self.values()),
        }
    }

    /// The path of a value that is not a valid label value; Kubernetes adds the key to it.
    fn label_value(&self, index: usize, key: &str) -> String {
        match self {
            ErrorPaths::MatchLabels => format!("matchLabels[{key}]"),
            _ => format!("{}[{key}]", self.value(index)),
        }
    }
}

/// Kubernetes' `field.Invalid(...).Error()` for a string value.
fn invalid_value(path: &str, value: &str, detail: &str) -> String {
    format!("{path}: Invalid value: {value:?}: {detail}")
}

/// Builds a requirement after the checks of Kubernetes' `labels.NewRequirement`: a valid key,
/// the number of values the operator takes, integers for `>` and `<`, valid label values.
/// All problems are reported together, as Kubernetes' aggregated error: one alone, several as
/// `[first, second]`.
fn new_requirement(
    key: &str,
    operator: LabelOperator,
    values: Vec<String>,
    paths: &ErrorPaths,
) -> Result<LabelRequirement, String> {
    let mut problems = Vec::new();
    let key_problems = names::qualified_name(key);
    if !key_problems.is_empty() {
        problems.push(invalid_value(&paths.key(), key, &key_problems.join("; ")));
    }
    let count_problem = match operator {
        LabelOperator::In | LabelOperator::NotIn if values.is_empty() => {
            Some("for 'in', 'notin' operators, values set can't be empty")
        }
        LabelOperator::Equals | LabelOperator::DoubleEquals | LabelOperator::NotEquals if values.len() != 1 => {
            Some("exact-match compatibility requires one single value")
        }
        LabelOperator::Exists | LabelOperator::DoesNotExist if !values.is_empty() => {
            Some("values set must be empty for exists and does not exist")
        }
        LabelOperator::GreaterThan | LabelOperator::LessThan if values.len() != 1 => {
            Some("for 'Gt', 'Lt' operators, exactly one value is required")
        }
        _ => None,
    };
    if let Some(detail) = count_problem {
        problems.push(format!("{}: Invalid value: {values:?}: {detail}", paths.values()));
    }
    if matches!(operator, LabelOperator::GreaterThan | LabelOperator::LessThan) {
        for (index, value) in values.iter().enumerate() {
            if value.parse::<i64>().is_err() {
                problems.push(invalid_value(
                    &paths.value(index),
                    value,
                    "for 'Gt', 'Lt' operators, the value must be an integer",
                ));
            }
        }
    }
    for (index, value) in values.iter().enumerate() {
        let value_problems = names::label_value(value);
        if !value_problems.is_empty() {
            problems.push(invalid_value(&paths.label_value(index, key), value, &value_problems.join("; ")));
        }
    }
    match problems.len() {
        0 => {
            let values: BTreeSet<String> = values.into_iter().collect();
            Ok(LabelRequirement { key: key.to_owned(), operator, values: values.into_iter().collect() })
        }
        1 => Err(problems.concat()),
        _ => Err(format!("[{}]", problems.join(", "))),
    }
}

// ---------------------------------------------------------------------------------------------
// Field selectors
// ---------------------------------------------------------------------------------------------

/// The operators of a field selector; Kubernetes supports only these two (`==` parses as
/// `Equals`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldOperator {
    Equals,
    NotEquals,
}

impl FieldOperator {
    pub fn as_str(self) -> &'static str {
        match self {
            FieldOperator::Equals => "=",
            FieldOperator::NotEquals => "!=",
        }
    }
}

/// One `field=value` or `field!=value` term of a field selector, with the value unescaped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldRequirement {
    field: String,
    operator: FieldOperator,
    value: String,
}

impl FieldRequirement {
    /// The field name exactly as written (Kubernetes trims nothing: `a =b` names the field `a `).
    pub fn field(&self) -> &str {
        &self.field
    }

    pub fn operator(&self) -> FieldOperator {
        self.operator
    }

    /// The value with escapes resolved (`a\,b` in the selector is `a,b` here).
    pub fn value(&self) -> &str {
        &self.value
    }
}

/// Renders as Kubernetes does: `field=value` or `field!=value`, the value escaped again.
impl fmt::Display for FieldRequirement {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}{}{}", self.field, self.operator.as_str(), escape_field_value(&self.value))
    }
}

/// A parsed field selector: all of its terms must hold. It checks only syntax; which fields a
/// kind can be selected by is the caller's to decide, through [`FieldSelector::requirements`]
/// (kube-apiserver answers `field label not supported: ...` with a 400).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldSelector {
    /// In Kubernetes' order: sorted by the term's text as written.
    requirements: Vec<FieldRequirement>,
}

impl FieldSelector {
    /// The selector without terms, which matches every object.
    pub fn everything() -> Self {
        Self { requirements: Vec::new() }
    }

    /// Parses `?fieldSelector=` text as `fields.ParseSelector` does: terms split on unescaped
    /// commas (empty terms skipped), each split at the first `!=`, `==` or `=`; in values `\,`,
    /// `\=` and `\\` stand for `,`, `=` and `\`, and an unescaped `,` or `=` or any other escape
    /// is an error. Blanks are kept as part of names and values, as in Kubernetes.
    pub fn parse(text: &str) -> Result<Self, SelectorError> {
        let syntax_error = |reason: String| SelectorError::FieldSelectorSyntax { selector: text.to_owned(), reason };
        let mut terms = split_field_terms(text);
        // Kubernetes sorts the raw terms before reading them, which fixes the rendering order.
        terms.sort_unstable();
        let mut requirements = Vec::new();
        for term in terms.into_iter().filter(|term| !term.is_empty()) {
            let Some((field, operator, raw_value)) = split_field_term(term) else {
                return Err(syntax_error(format!("can't understand '{term}'")));
            };
            let value = unescape_field_value(raw_value)
                .map_err(|reason| syntax_error(format!("{reason} (in '{term}')")))?;
            requirements.push(FieldRequirement { field: field.to_owned(), operator, value });
        }
        Ok(Self { requirements })
    }

    /// Whether an object satisfies every term. `field` returns the object's value for a field
    /// name; a field it does not know (`None`) compares as the empty string, as Kubernetes'
    /// `fields.Set.Get` does, so `spec.nodeName=` matches a pod that has no node.
    pub fn matches(&self, field: impl Fn(&str) -> Option<String>) -> bool {
        self.requirements.iter().all(|requirement| {
            let actual = field(&requirement.field).unwrap_or_default();
            match requirement.operator {
                FieldOperator::Equals => actual == requirement.value,
                FieldOperator::NotEquals => actual != requirement.value,
            }
        })
    }

    /// True when the selector has no terms (it matches everything).
    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    /// The terms, to check the field names against those the kind supports.
    pub fn requirements(&self) -> impl Iterator<Item = &FieldRequirement> {
        self.requirements.iter()
    }
}

/// Renders the terms joined by `,`, as Kubernetes' `Selector.String()`; parsing the result gives
/// an equal selector.
impl fmt::Display for FieldSelector {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, requirement) in self.requirements.iter().enumerate() {
            if index > 0 {
                formatter.write_str(",")?;
            }
            write!(formatter, "{requirement}")?;
        }
        Ok(())
    }
}

impl FromStr for FieldSelector {
    type Err = SelectorError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

/// Splits on commas that are not escaped; escapes stay in the terms, to be resolved per value.
fn split_field_terms(text: &str) -> Vec<&str> {
    if text.is_empty() {
        return Vec::new();
    }
    let mut terms = Vec::new();
    let mut start = 0;
    let mut escaped = false;
    for (index, character) in text.char_indices() {
        if escaped {
            escaped = false;
        } else if character == '\\' {
            escaped = true;
        } else if character == ',' {
            terms.push(&text[start..index]);
            start = index + 1;
        }
    }
    terms.push(&text[start..]);
    terms
}

/// Splits a term at the first operator; names cannot contain escapes, so the first `!=`, `==`
/// or `=` is the operator (`==` before `=`, so the value does not start with `=`).
fn split_field_term(term: &str) -> Option<(&str, FieldOperator, &str)> {
    term.char_indices().find_map(|(index, _)| {
        let rest = &term[index..];
        let (operator, width) = if rest.starts_with("!=") {
            (FieldOperator::NotEquals, 2)
        } else if rest.starts_with("==") {
            (FieldOperator::Equals, 2)
        } else if rest.starts_with('=') {
            (FieldOperator::Equals, 1)
        } else {
            return None;
        };
        Some((&term[..index], operator, &term[index + width..]))
    })
}

/// Kubernetes' `fields.UnescapeValue`.
fn unescape_field_value(raw: &str) -> Result<String, String> {
    let mut value = String::with_capacity(raw.len());
    let mut escaped = false;
    for character in raw.chars() {
        if escaped {
            if !matches!(character, '\\' | ',' | '=') {
                return Err(format!("invalid escape sequence: \\{character}"));
            }
            value.push(character);
            escaped = false;
            continue;
        }
        match character {
            '\\' => escaped = true,
            ',' | '=' => return Err(format!("unescaped character in value: '{character}'")),
            _ => value.push(character),
        }
    }
    if escaped {
        return Err("invalid escape sequence: \\".to_owned());
    }
    Ok(value)
}

/// Kubernetes' `fields.EscapeValue`.
fn escape_field_value(value: &str) -> String {
    let mut escaped = String::with_capacity(value.len());
    for character in value.chars() {
        if matches!(character, '\\' | ',' | '=') {
            escaped.push('\\');
        }
        escaped.push(character);
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(key, value)| (key.to_string(), value.to_string())).collect()
    }

    fn parse(text: &str) -> LabelSelector {
        LabelSelector::parse(text).unwrap_or_else(|err| panic!("{text:?} should parse: {err}"))
    }

    #[test]
    fn label_selectors_that_parse_render_canonically() {
        let long_name = "n".repeat(63);
        let long_value = "v".repeat(63);
        let long_prefix = format!("{}.example.com", "p".repeat(241)); // 253 characters
        let cases: Vec<(String, String)> = vec![
            ("".into(), "".into()),
            (" \t\r\n".into(), "".into()),
            ("x=a".into(), "x=a".into()),
            ("x==a".into(), "x==a".into()),
            ("x!=a".into(), "x!=a".into()),
            (" x = a , y != b ".into(), "x=a,y!=b".into()),
            ("x=a\t,\ny==b".into(), "x=a,y==b".into()),
            ("x=".into(), "x=".into()),
            ("x==".into(), "x==".into()),
            ("x=,y".into(), "x=,y".into()),
            ("x in (b,a)".into(), "x in (a,b)".into()),
            ("x in(a)".into(), "x in (a)".into()),
            ("x in ( a , b , a )".into(), "x in (a,b)".into()),
            ("x notin (a, b)".into(), "x notin (a,b)".into()),
            ("x in ()".into(), "x in ()".into()),
            ("x in (a,,b)".into(), "x in (,a,b)".into()),
            ("x in (,a)".into(), "x in (,a)".into()),
            ("x in (a,)".into(), "x in (,a)".into()),
            ("x".into(), "x".into()),
            ("!x".into(), "!x".into()),
            (" ! x ".into(), "!x".into()),
            ("x>1".into(), "x>1".into()),
            ("x < 10".into(), "x<10".into()),
            ("in in (in, notin)".into(), "in in (in,notin)".into()),
            ("notin notin (in)".into(), "notin notin (in)".into()),
            ("z=1,a=2,m".into(), "a=2,m,z=1".into()),
            ("!b,a".into(), "a,!b".into()),
            ("example.com/app=web".into(), "example.com/app=web".into()),
            ("a.b-c_D=E.f-G_h".into(), "a.b-c_D=E.f-G_h".into()),
            (format!("{long_prefix}/{long_name}={long_value}"), format!("{long_prefix}/{long_name}={long_value}")),
        ];
        for (input, expected) in cases {
            let selector = parse(&input);
            assert_eq!(selector.to_string(), expected, "rendering of {input:?}");
        }
    }

    #[test]
    fn label_selectors_that_do_not_parse_say_why() {
        let cases: Vec<(String, &str)> = vec![
            (",".into(), "found ',', expected: !, identifier, or 'end of string'"),
            ("(x)".into(), "found '(', expected: !, identifier, or 'end of string'"),
            ("x=a,".into(), "found '', expected: identifier after ','"),
            ("x=a,,y".into(), "found ',', expected: identifier after ','"),
            ("x=a b".into(), "found 'b', expected: ',' or 'end of string'"),
            ("x=a=b".into(), "found '=', expected: ',' or 'end of string'"),
            ("x in (a)b".into(), "found 'b', expected: ',' or 'end of string'"),
            ("!x=a".into(), "found '=', expected: ',' or 'end of string'"),
            ("x y".into(), "unable to parse requirement: found 'y', expected: in, notin, =, ==, !=, gt, lt"),
            ("x!a".into(), "unable to parse requirement: found '!', expected: in, notin, =, ==, !=, gt, lt"),
            ("!".into(), "unable to parse requirement: found '', expected: identifier"),
            ("!=a".into(), "found '!=', expected: !, identifier, or 'end of string'"),
            ("x=(a)".into(), "unable to parse requirement: found '(', expected: identifier"),
            ("x in a".into(), "unable to parse requirement: found 'a' expected: '('"),
            ("x in (a".into(), "unable to parse requirement: found '', expected: ',' or ')'"),
            ("x in (a b)".into(), "unable to parse requirement: found 'b', expected: ',' or ')'"),
            ("x in (=)".into(), "unable to parse requirement: found '=', expected: ',', ')' or identifier"),
            ("x in (a,=)".into(), "unable to parse requirement: found '=', expected: ',', or identifier"),
            ("-x=a".into(), "unable to parse requirement: key: Invalid value: \"-x\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"),
            ("ünicode".into(), "key: Invalid value: \"ünicode\": name part must consist of"),
            ("a/b/c".into(), "key: Invalid value: \"a/b/c\": a qualified name must consist of"),
            ("/x".into(), "key: Invalid value: \"/x\": prefix part must be non-empty"),
            ("Example.com/x".into(), "prefix part a lowercase RFC 1123 subdomain must consist of lower case"),
            ("a..b/x".into(), "prefix part a lowercase RFC 1123 subdomain must consist of lower case"),
            ("x/".into(), "key: Invalid value: \"x/\": name part must be non-empty"),
            (format!("{}=a", "n".repeat(64)), "name part must be no more than 63 characters"),
            (format!("{}.com/x", "p".repeat(250)), "prefix part must be no more than 253 characters"),
            ("x=-a".into(), "unable to parse requirement: values[0][x]: Invalid value: \"-a\": a valid label must be an empty string or consist of alphanumeric characters"),
            ("x in (a,b-)".into(), "values[1][x]: Invalid value: \"b-\": a valid label must be"),
            (format!("x={}", "v".repeat(64)), "must be no more than 63 characters"),
            ("x>a".into(), "values[0]: Invalid value: \"a\": for 'Gt', 'Lt' operators, the value must be an integer"),
            ("x<".into(), "values[0]: Invalid value: \"\": for 'Gt', 'Lt' operators, the value must be an integer"),
            ("x>99999999999999999999".into(), "for 'Gt', 'Lt' operators, the value must be an integer"),
            // A negative bound is an integer but not a valid label value: Kubernetes rejects it.
            ("x>-1".into(), "values[0][x]: Invalid value: \"-1\": a valid label must be"),
            // Both problems at once come back as Kubernetes' aggregate, in brackets.
            ("x>-a".into(), "[values[0]: Invalid value: \"-a\": for 'Gt', 'Lt' operators, the value must be an integer, values[0][x]: Invalid value: \"-a\": a valid label must be"),
        ];
        for (input, expected) in cases {
            match LabelSelector::parse(&input) {
                Ok(selector) => panic!("{input:?} should not parse, got {selector}"),
                Err(err) => {
                    assert!(err.to_string().contains(expected), "error for {input:?}: {err}\nexpected to contain: {expected}");
                    assert!(matches!(err, SelectorError::LabelSelectorSyntax { ref selector, .. } if *selector == input));
                }
            }
        }
    }

    #[test]
    fn label_selector_error_names_the_selector_and_keeps_kubernetes_reason() {
        let err = LabelSelector::parse("x y").expect_err("two identifiers do not parse");
        assert_eq!(
            err.to_string(),
            "invalid label selector \"x y\": unable to parse requirement: found 'y', expected: in, notin, =, ==, !=, gt, lt"
        );
        assert_eq!(err.reason(), "unable to parse requirement: found 'y', expected: in, notin, =, ==, !=, gt, lt");
    }

    #[test]
    fn label_selectors_match_as_kubernetes() {
        let cases: &[(&str, &[(&str, &str)], bool)] = &[
            ("", &[], true),
            ("", &[("a", "b")], true),
            ("x=a", &[("x", "a")], true),
            ("x=a", &[("x", "b")], false),
            ("x=a", &[], false),
            ("x==a", &[("x", "a"), ("y", "b")], true),
            ("x==a", &[("x", "b")], false),
            ("x==a", &[("y", "a")], false),
            ("x!=a", &[("x", "a")], false),
            ("x!=a", &[("x", "b")], true),
            ("x!=a", &[], true),
            ("x in (a,b)", &[("x", "b")], true),
            ("x in (a,b)", &[("x", "c")], false),
            ("x in (a,b)", &[], false),
            ("x notin (a,b)", &[("x", "a")], false),
            ("x notin (a,b)", &[("x", "c")], true),
            ("x notin (a,b)", &[], true),
            ("x", &[("x", "")], true),
            ("x", &[("y", "x")], false),
            ("!x", &[("x", "a")], false),
            ("!x", &[("y", "a")], true),
            ("x>5", &[("x", "6")], true),
            ("x>5", &[("x", "5")], false),
            ("x>5", &[("x", "abc")], false),
            ("x>5", &[], false),
            ("x<5", &[("x", "4")], true),
            ("x<5", &[("x", "5")], false),
            ("x<5", &[("x", "-7")], true),
            ("x<5", &[], false),
            ("x=", &[("x", "")], true),
            ("x=", &[], false),
            ("x in ()", &[("x", "")], true),
            ("x in ()", &[("x", "a")], false),
            ("x notin ()", &[("x", "")], false),
            ("a=1,b=2", &[("a", "1"), ("b", "2")], true),
            ("a=1,b=2", &[("a", "1")], false),
            ("x=a,x=b", &[("x", "a")], false),
            ("x,!y", &[("x", "1")], true),
            ("x,!y", &[("x", "1"), ("y", "1")], false),
        ];
        for (text, label_pairs, expected) in cases {
            let selector = parse(text);
            assert_eq!(selector.matches(&labels(label_pairs)), *expected, "{text:?} against {label_pairs:?}");
        }
    }

    #[test]
    fn everything_and_nothing_differ() {
        let some_labels = labels(&[("app", "web")]);
        assert!(LabelSelector::everything().matches(&some_labels));
        assert!(LabelSelector::everything().matches(&BTreeMap::new()));
        assert!(LabelSelector::everything().is_empty());
        assert_eq!(LabelSelector::everything().requirements(), Some(&[][..]));
        assert!(!LabelSelector::nothing().matches(&some_labels));
        assert!(!LabelSelector::nothing().matches(&BTreeMap::new()));
        assert!(!LabelSelector::nothing().is_empty());
        assert_eq!(LabelSelector::nothing().requirements(), None);
        assert_eq!(LabelSelector::nothing().to_string(), "");
        assert_eq!(parse(""), LabelSelector::everything());
        assert!(!parse("app").is_empty());
    }

    #[test]
    fn requirements_expose_key_operator_and_sorted_values() {
        let selector = parse("tier notin (web,api),app=x");
        let requirements = selector.requirements().expect("a parsed selector is selectable");
        let seen: Vec<(&str, LabelOperator, Vec<&str>)> = requirements
            .iter()
            .map(|requirement| {
                (requirement.key(), requirement.operator(), requirement.values().iter().map(String::as_str).collect())
            })
            .collect();
        assert_eq!(
            seen,
            vec![("app", LabelOperator::Equals, vec!["x"]), ("tier", LabelOperator::NotIn, vec!["api", "web"])]
        );
        assert_eq!(LabelOperator::GreaterThan.as_str(), "gt");
    }

    fn expression(key: &str, operator: &str, values: Option<&[&str]>) -> metav1::LabelSelectorRequirement {
        metav1::LabelSelectorRequirement {
            key: key.to_string(),
            operator: operator.to_string(),
            values: values.map(|values| values.iter().map(|value| value.to_string()).collect()),
        }
    }

    fn k8s_selector(
        match_labels: Option<&[(&str, &str)]>,
        match_expressions: Option<Vec<metav1::LabelSelectorRequirement>>,
    ) -> metav1::LabelSelector {
        metav1::LabelSelector { match_labels: match_labels.map(labels), match_expressions }
    }

    #[test]
    fn from_k8s_converts_every_operator() {
        let object = k8s_selector(
            Some(&[("app", "web")]),
            Some(vec![
                expression("tier", "In", Some(&["fe", "be"])),
                expression("env", "NotIn", Some(&["prod"])),
                expression("gpu", "Exists", None),
                expression("legacy", "DoesNotExist", Some(&[])),
            ]),
        );
        let selector = LabelSelector::from_k8s(&object).expect("valid selector");
        assert_eq!(selector.to_string(), "app=web,env notin (prod),gpu,!legacy,tier in (be,fe)");
        let cases: &[(&[(&str, &str)], bool)] = &[
            (&[("app", "web"), ("tier", "fe"), ("gpu", "1")], true),
            (&[("app", "web"), ("tier", "be"), ("gpu", ""), ("env", "dev")], true),
            (&[("app", "api"), ("tier", "fe"), ("gpu", "1")], false),
            (&[("app", "web"), ("tier", "db"), ("gpu", "1")], false),
            (&[("app", "web"), ("tier", "fe"), ("gpu", "1"), ("env", "prod")], false),
            (&[("app", "web"), ("tier", "fe")], false),
            (&[("app", "web"), ("tier", "fe"), ("gpu", "1"), ("legacy", "true")], false),
        ];
        for (label_pairs, expected) in cases {
            assert_eq!(selector.matches(&labels(label_pairs)), *expected, "{label_pairs:?}");
        }
    }

    #[test]
    fn from_k8s_empty_matches_everything_and_absent_matches_nothing() {
        let some_labels = labels(&[("app", "web")]);
        for object in [k8s_selector(None, None), k8s_selector(Some(&[]), Some(vec![]))] {
            let selector = LabelSelector::from_k8s(&object).expect("empty selector is valid");
            assert_eq!(selector, LabelSelector::everything(), "{object:?}");
            assert!(selector.matches(&some_labels));
            let optional = LabelSelector::from_optional_k8s(Some(&object)).expect("empty selector is valid");
            assert!(optional.matches(&some_labels));
        }
        let absent = LabelSelector::from_optional_k8s(None).expect("absent selector is valid");
        assert_eq!(absent, LabelSelector::nothing());
        assert!(!absent.matches(&some_labels));
        assert!(!absent.matches(&BTreeMap::new()));
    }

    #[test]
    fn from_k8s_rejects_what_kubernetes_rejects() {
        let cases: Vec<(metav1::LabelSelector, &str)> = vec![
            (
                k8s_selector(None, Some(vec![expression("tier", "In", None)])),
                "matchExpressions[0].values: Invalid value: []: for 'in', 'notin' operators, values set can't be empty",
            ),
            (
                k8s_selector(None, Some(vec![expression("a", "Exists", None), expression("tier", "NotIn", Some(&[]))])),
                "matchExpressions[1].values: Invalid value: []: for 'in', 'notin' operators, values set can't be empty",
            ),
            (
                k8s_selector(None, Some(vec![expression("tier", "Exists", Some(&["a"]))])),
                "matchExpressions[0].values: Invalid value: [\"a\"]: values set must be empty for exists and does not exist",
            ),
            (
                k8s_selector(None, Some(vec![expression("tier", "DoesNotExist", Some(&["a"]))])),
                "values set must be empty for exists and does not exist",
            ),
            (
                k8s_selector(None, Some(vec![expression("tier", "in", Some(&["a"]))])),
                "matchExpressions[0].operator: \"in\" is not a valid label selector operator",
            ),
            (
                k8s_selector(None, Some(vec![expression("tier", "Gt", Some(&["1"]))])),
                "\"Gt\" is not a valid label selector operator",
            ),
            (
                k8s_selector(None, Some(vec![expression("-bad", "Exists", None)])),
                "matchExpressions[0].key: Invalid value: \"-bad\": name part must consist of",
            ),
            (
                k8s_selector(None, Some(vec![expression("app", "In", Some(&["ok", "-bad"]))])),
                "matchExpressions[0].values[1][app]: Invalid value: \"-bad\": a valid label must be",
            ),
            (k8s_selector(Some(&[("a/b/c", "x")]), None), "matchLabels: Invalid value: \"a/b/c\": a qualified name"),
            (k8s_selector(Some(&[("app", "a b")]), None), "matchLabels[app]: Invalid value: \"a b\": a valid label must be"),
        ];
        for (object, expected) in cases {
            match LabelSelector::from_k8s(&object) {
                Ok(selector) => panic!("{object:?} should be rejected, got {selector}"),
                Err(err) => {
                    assert!(matches!(err, SelectorError::LabelSelectorObject { .. }), "{err:?}");
                    assert!(err.to_string().contains(expected), "error for {object:?}: {err}\nexpected: {expected}");
                }
            }
        }
    }

    #[test]
    fn label_selectors_round_trip_through_their_string_form() {
        let texts = [
            "x=a",
            "b==2,a!=1",
            "x in (c,a,b),y notin (,a),z,!w",
            "x>1,x<10",
            "x=,y in ()",
            "example.com/app in (web)",
            "in in (in),notin notin (notin)",
            "a=1,a=2",
        ];
        for text in texts {
            let selector = parse(text);
            let rendered = selector.to_string();
            let again: LabelSelector = rendered.parse().unwrap_or_else(|err| panic!("{rendered:?}: {err}"));
            assert_eq!(again, selector, "{text:?} rendered as {rendered:?}");
            assert_eq!(again.to_string(), rendered);
        }
        let object = k8s_selector(
            Some(&[("app", "web"), ("empty", "")]),
            Some(vec![expression("tier", "In", Some(&["fe", "be", "fe"])), expression("gpu", "DoesNotExist", None)]),
        );
        let selector = LabelSelector::from_k8s(&object).expect("valid selector");
        assert_eq!(selector.to_string(), "app=web,empty=,!gpu,tier in (be,fe)");
        assert_eq!(parse(&selector.to_string()), selector);
    }

    fn parse_fields(text: &str) -> FieldSelector {
        FieldSelector::parse(text).unwrap_or_else(|err| panic!("{text:?} should parse: {err}"))
    }

    #[test]
    fn field_selectors_that_parse_unescape_values() {
        let cases: &[(&str, &[(&str, FieldOperator, &str)], &str)] = &[
            ("", &[], ""),
            (",", &[], ""),
            ("metadata.name=foo", &[("metadata.name", FieldOperator::Equals, "foo")], "metadata.name=foo"),
            ("metadata.name==foo", &[("metadata.name", FieldOperator::Equals, "foo")], "metadata.name=foo"),
            ("spec.nodeName!=", &[("spec.nodeName", FieldOperator::NotEquals, "")], "spec.nodeName!="),
            (
                "b!=2,a==1",
                &[("a", FieldOperator::Equals, "1"), ("b", FieldOperator::NotEquals, "2")],
                "a=1,b!=2",
            ),
            ("a=b,,c=d", &[("a", FieldOperator::Equals, "b"), ("c", FieldOperator::Equals, "d")], "a=b,c=d"),
            (r"a=x\,y", &[("a", FieldOperator::Equals, "x,y")], r"a=x\,y"),
            (r"a=x\=y", &[("a", FieldOperator::Equals, "x=y")], r"a=x\=y"),
            (r"a=x\\y", &[("a", FieldOperator::Equals, r"x\y")], r"a=x\\y"),
            (r"a=\\\,", &[("a", FieldOperator::Equals, r"\,")], r"a=\\\,"),
            (r"a=x\,,b=y", &[("a", FieldOperator::Equals, "x,"), ("b", FieldOperator::Equals, "y")], r"a=x\,,b=y"),
            ("a=ü", &[("a", FieldOperator::Equals, "ü")], "a=ü"),
            // Kubernetes trims nothing and accepts an empty field name; callers reject such names.
            ("a = b", &[("a ", FieldOperator::Equals, " b")], "a = b"),
            ("=x", &[("", FieldOperator::Equals, "x")], "=x"),
        ];
        for (input, expected, rendered) in cases {
            let selector = parse_fields(input);
            let seen: Vec<(&str, FieldOperator, &str)> = selector
                .requirements()
                .map(|requirement| (requirement.field(), requirement.operator(), requirement.value()))
                .collect();
            assert_eq!(seen, *expected, "terms of {input:?}");
            assert_eq!(selector.to_string(), *rendered, "rendering of {input:?}");
            assert_eq!(parse_fields(&selector.to_string()), selector, "round trip of {input:?}");
            assert_eq!(selector.is_empty(), expected.is_empty());
        }
    }

    #[test]
    fn field_selectors_that_do_not_parse_say_why() {
        let cases: &[(&str, &str)] = &[
            ("foo", "can't understand 'foo'"),
            ("a=b,foo", "can't understand 'foo'"),
            ("a!b", "can't understand 'a!b'"),
            (r"a=x\y", r"invalid escape sequence: \y (in 'a=x\y')"),
            (r"a=x\", r"invalid escape sequence: \ (in 'a=x\')"),
            ("a=b=c", "unescaped character in value: '=' (in 'a=b=c')"),
            ("a!==b", "unescaped character in value: '='"),
            ("a==b=c", "unescaped character in value: '='"),
        ];
        for (input, expected) in cases {
            match FieldSelector::parse(input) {
                Ok(selector) => panic!("{input:?} should not parse, got {selector}"),
                Err(err) => {
                    assert!(err.to_string().contains(expected), "error for {input:?}: {err}\nexpected: {expected}");
                    assert!(matches!(err, SelectorError::FieldSelectorSyntax { ref selector, .. } if selector == input));
                }
            }
        }
        let err = FieldSelector::parse("foo").expect_err("no operator");
        assert_eq!(err.to_string(), "invalid field selector \"foo\": can't understand 'foo'");
    }

    #[test]
    fn field_selectors_match_missing_fields_as_empty() {
        let object = |pairs: &'static [(&'static str, &'static str)]| {
            move |field: &str| pairs.iter().find(|(name, _)| *name == field).map(|(_, value)| value.to_string())
        };
        let cases: &[(&str, &'static [(&'static str, &'static str)], bool)] = &[
            ("", &[], true),
            ("metadata.name=foo", &[("metadata.name", "foo")], true),
            ("metadata.name=foo", &[("metadata.name", "bar")], false),
            ("metadata.name=foo", &[], false),
            ("metadata.name==foo", &[("metadata.name", "foo")], true),
            ("metadata.name!=foo", &[("metadata.name", "foo")], false),
            ("metadata.name!=foo", &[("metadata.name", "bar")], true),
            ("metadata.name!=foo", &[], true),
            ("spec.nodeName=", &[], true),
            ("spec.nodeName=", &[("spec.nodeName", "")], true),
            ("spec.nodeName=", &[("spec.nodeName", "n1")], false),
            ("spec.nodeName!=", &[], false),
            ("spec.nodeName!=", &[("spec.nodeName", "n1")], true),
            ("a=1,b!=2", &[("a", "1"), ("b", "3")], true),
            ("a=1,b!=2", &[("a", "1"), ("b", "2")], false),
            (r"a=x\,y", &[("a", "x,y")], true),
            (r"a=x\,y", &[("a", r"x\,y")], false),
        ];
        for (text, pairs, expected) in cases {
            let selector = parse_fields(text);
            assert_eq!(selector.matches(object(pairs)), *expected, "{text:?} against {pairs:?}");
        }
        assert!(FieldSelector::everything().matches(|_| None));
    }
}
