//! kubectl's `-o go-template` (Go's `text/template` over the object as kubectl unmarshals it:
//! integral numbers as int64, others as float64, missing keys `<no value>`), for the subset
//! people write: fields, variables, pipes, `if`/`else`/`with`/`range`, trim markers, Go's
//! builtins (`index`, `len`, `printf`, `eq`…) and kubectl's `base64decode`.
//!
//! Written here rather than taken from a crate: no Rust template engine prints Go's `%v`
//! (`map[a:b]`, `[a b]`, `<no value>`) or Go's messages, which users compare with kubectl's.

use std::fmt::Write;

use base64::Engine;
use serde_json::Value;

/// A parsed template, named `output` as kubectl names it.
#[derive(Debug)]
pub struct GoTemplate {
    nodes: Vec<Node>,
    source: String,
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Text(String),
    Field(String),
    Variable(String),
    Dot,
    Str(String),
    Number(String),
    Word(String),
    Pipe,
    Open,
    Close,
    Declare,
    Assign,
    Comma,
    End,
}

#[derive(Debug)]
enum Node {
    Text(String),
    Action(Pipeline),
    If(Pipeline, Vec<Node>, Vec<Node>),
    With(Pipeline, Vec<Node>, Vec<Node>),
    Range(Pipeline, Vec<Node>, Vec<Node>),
}

#[derive(Debug)]
struct Pipeline {
    declare: Vec<String>,
    assign: bool,
    commands: Vec<Command>,
}

#[derive(Debug)]
struct Command {
    args: Vec<Operand>,
    pos: usize,
    text: String,
}

#[derive(Debug)]
enum Operand {
    Dot,
    /// `$x.a.b` (variable `$` names the data), or `.a.b` from dot when the variable is empty.
    Chain(Option<String>, Vec<String>, usize),
    Pipe(Box<Pipeline>, Vec<String>),
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Nil,
    Function(String),
}

/// A value as the template sees it; `Missing` is Go's invalid value, printed `<no value>`.
#[derive(Debug, Clone)]
enum V {
    Missing,
    Json(Value),
    Int(i64),
    Float(f64),
}

const FUNCTIONS: &[&str] = &["and", "or", "not", "len", "index", "printf", "print", "println", "eq", "ne", "lt", "le", "gt", "ge", "base64decode", "exists"];

impl GoTemplate {
    pub fn parse(source: &str) -> Result<GoTemplate, String> {
        let tokens = lex(source).map_err(|(pos, message)| format!("template: output:{}: {message}", line(source, pos)))?;
        let mut parser = Parser { tokens, at: 0, source, variables: vec!["$".into()] };
        let (nodes, end) = parser.list().map_err(|(pos, message)| format!("template: output:{}: {message}", line(source, pos)))?;
        if let Some(word) = end {
            return Err(format!("template: output:{}: unexpected {{{{{word}}}}}", line(source, parser.pos())));
        }
        Ok(GoTemplate { nodes, source: source.to_string() })
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// The text, and the error that stopped it if any (Go keeps what it printed before).
    pub fn render(&self, data: &Value) -> (String, Option<String>) {
        let mut state = State { out: String::new(), variables: vec![("$".into(), V::Json(data.clone()))], source: &self.source };
        let result = state.walk(&self.nodes, &V::Json(data.clone()));
        (state.out, result.err())
    }
}

fn line(source: &str, pos: usize) -> usize {
    1 + source[..pos.min(source.len())].matches('\n').count()
}

type Positioned = Vec<(Token, usize)>;

fn lex(source: &str) -> Result<Positioned, (usize, String)> {
    let mut tokens = Vec::new();
    let mut rest = 0;
    let bytes = source.as_bytes();
    while rest < source.len() {
        let Some(open) = source[rest..].find("{{").map(|at| at + rest) else {
            tokens.push((Token::Text(source[rest..].to_string()), rest));
            break;
        };
        let mut text = &source[rest..open];
        let mut at = open + 2;
        if source[at..].starts_with("- ") || source[at..].starts_with("-\t") || source[at..].starts_with("-\n") {
            text = text.trim_end();
            at += 1;
        }
        if !text.is_empty() {
            tokens.push((Token::Text(text.to_string()), rest));
        }
        let mut trim_after = false;
        let close;
        let (first, mut comment) = (tokens.len(), false);
        loop {
            while at < source.len() && bytes[at].is_ascii_whitespace() {
                if source[at..].starts_with(" -}}") || source[at..].starts_with("\t-}}") || source[at..].starts_with("\n-}}") {
                    break;
                }
                at += 1;
            }
            if source[at..].starts_with(" -}}") || source[at..].starts_with("\t-}}") || source[at..].starts_with("\n-}}") {
                trim_after = true;
                close = at + 1;
                at += 4;
                break;
            }
            if source[at..].starts_with("}}") {
                close = at;
                at += 2;
                break;
            }
            if source[at..].starts_with("/*") {
                let end = source[at..].find("*/").ok_or((at, "unclosed comment".to_string()))?;
                at += end + 2;
                comment = true;
                continue;
            }
            let Some(character) = source[at..].chars().next() else {
                return Err((at, "unclosed action".into()));
            };
            let start = at;
            let name_end = |from: usize| source[from..].find(|c: char| !(c.is_alphanumeric() || c == '_')).map_or(source.len(), |end| end + from);
            let token = match character {
                '.' if source[at + 1..].starts_with(|c: char| c.is_alphabetic() || c == '_') => {
                    at = name_end(at + 1);
                    Token::Field(source[start + 1..at].to_string())
                }
                '.' => {
                    at += 1;
                    Token::Dot
                }
                '$' => {
                    at = name_end(at + 1);
                    Token::Variable(source[start..at].to_string())
                }
                '|' => {
                    at += 1;
                    Token::Pipe
                }
                '(' | ')' | ',' | '=' => {
                    at += 1;
                    match character {
                        '(' => Token::Open,
                        ')' => Token::Close,
                        ',' => Token::Comma,
                        _ => Token::Assign,
                    }
                }
                ':' if source[at..].starts_with(":=") => {
                    at += 2;
                    Token::Declare
                }
                '"' => {
                    let (text, length) = quoted(&source[at..]).ok_or((at, "unterminated quoted string".to_string()))?;
                    at += length;
                    Token::Str(text)
                }
                '`' => {
                    let end = source[at + 1..].find('`').ok_or((at, "unterminated raw quoted string".to_string()))?;
                    at += end + 2;
                    Token::Str(source[start + 1..at - 1].to_string())
                }
                c if c.is_ascii_digit() || c == '-' || c == '+' => {
                    at = source[at + 1..].find(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '_' || c == '+' || c == '-')).map_or(source.len(), |end| end + at + 1);
                    Token::Number(source[start..at].to_string())
                }
                c if c.is_alphabetic() || c == '_' => {
                    at = name_end(at);
                    Token::Word(source[start..at].to_string())
                }
                other => return Err((at, format!("bad character {:?}", GoRune(other)))),
            };
            tokens.push((token, start));
        }
        if !(comment && tokens.len() == first) {
            tokens.push((Token::End, close));
        }
        rest = at;
        if trim_after {
            rest = source[at..].find(|c: char| !c.is_ascii_whitespace()).map_or(source.len(), |skip| at + skip);
        }
    }
    Ok(tokens)
}

/// Go's `%#U`-like name of a character in lexer errors: `U+007D '}'`.
struct GoRune(char);

impl std::fmt::Debug for GoRune {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "U+{:04X} '{}'", self.0 as u32, self.0)
    }
}

/// A Go interpreted string literal at the start of `text`, and its length.
fn quoted(text: &str) -> Option<(String, usize)> {
    let mut out = String::new();
    let mut characters = text.char_indices().skip(1);
    while let Some((at, character)) = characters.next() {
        match character {
            '"' => return Some((out, at + 1)),
            '\n' => return None,
            '\\' => match characters.next()?.1 {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                'r' => out.push('\r'),
                other => out.push(other),
            },
            other => out.push(other),
        }
    }
    None
}

struct Parser<'a> {
    tokens: Positioned,
    at: usize,
    source: &'a str,
    variables: Vec<String>,
}

type ParseResult<T> = Result<T, (usize, String)>;

impl Parser<'_> {
    fn pos(&self) -> usize {
        self.tokens.get(self.at).map_or(self.source.len(), |token| token.1)
    }

    fn peek(&self) -> Token {
        self.tokens.get(self.at).map_or(Token::End, |token| token.0.clone())
    }

    fn next(&mut self) -> Token {
        let token = self.peek();
        self.at += 1;
        token
    }

    /// Nodes up to `{{end}}`, `{{else}}` or the end of the text, and which of the two ended them.
    fn list(&mut self) -> ParseResult<(Vec<Node>, Option<String>)> {
        let mut nodes = Vec::new();
        while self.at < self.tokens.len() {
            if let Token::Text(text) = self.peek() {
                self.at += 1;
                nodes.push(Node::Text(text));
                continue;
            }
            match self.peek() {
                Token::Word(word) if word == "end" || word == "else" => {
                    self.at += 1;
                    if word == "end" {
                        self.expect_end()?;
                    }
                    return Ok((nodes, Some(word)));
                }
                Token::Word(word) if word == "if" || word == "with" || word == "range" => {
                    self.at += 1;
                    nodes.push(self.control(&word)?);
                }
                _ => nodes.push(Node::Action(self.pipeline(true, "command")?)),
            }
        }
        Ok((nodes, None))
    }

    fn expect_end(&mut self) -> ParseResult<()> {
        match self.next() {
            Token::End => Ok(()),
            other => Err((self.pos(), format!("unexpected {} in end", describe(&other)))),
        }
    }

    fn control(&mut self, word: &str) -> ParseResult<Node> {
        let depth = self.variables.len();
        let pipeline = self.pipeline(true, word)?;
        let (body, end) = self.list()?;
        let otherwise = match end.as_deref() {
            Some("else") if matches!(self.peek(), Token::Word(ref next) if next == "if" || next == "with") => {
                let Token::Word(next) = self.next() else { unreachable!() };
                vec![self.control(&next)?]
            }
            Some("else") => {
                self.expect_end()?;
                match self.list()? {
                    (nodes, Some(end)) if end == "end" => nodes,
                    _ => return Err((self.pos(), "unexpected EOF".into())),
                }
            }
            Some(_) => Vec::new(),
            None => return Err((self.pos(), "unexpected EOF".into())),
        };
        self.variables.truncate(depth);
        Ok(match word {
            "if" => Node::If(pipeline, body, otherwise),
            "with" => Node::With(pipeline, body, otherwise),
            _ => Node::Range(pipeline, body, otherwise),
        })
    }

    /// A pipeline up to `}}` (or `)` when not `top`), with its leading declaration.
    fn pipeline(&mut self, top: bool, context: &str) -> ParseResult<Pipeline> {
        let mut declare = Vec::new();
        let mut assign = false;
        let start = self.at;
        while let Token::Variable(name) = self.peek() {
            self.at += 1;
            match self.next() {
                Token::Declare | Token::Assign if declare.len() < 2 => {
                    assign = self.tokens[self.at - 1].0 == Token::Assign;
                    declare.push(name);
                    break;
                }
                Token::Comma if declare.is_empty() => declare.push(name),
                _ => {
                    declare.clear();
                    self.at = start;
                    break;
                }
            }
        }
        let mut commands = Vec::new();
        loop {
            let pos = self.pos();
            let mut args = Vec::new();
            loop {
                match self.peek() {
                    Token::End if top => break,
                    Token::Close if !top => break,
                    Token::Pipe => break,
                    _ => args.push(self.operand()?),
                }
            }
            let end = self.pos();
            if args.is_empty() {
                return Err((pos, format!("missing value for {context}")));
            }
            commands.push(Command { args, pos, text: self.source[pos..end].trim().to_string() });
            if self.next() != Token::Pipe {
                break;
            }
        }
        for name in &declare {
            if !assign {
                self.variables.push(name.clone());
            }
        }
        Ok(Pipeline { declare, assign, commands })
    }

    /// The fields written right after the previous token: `.a.b` is one chain, `.a .b` two
    /// operands.
    fn fields(&mut self) -> Vec<String> {
        let mut fields = Vec::new();
        while let Some((previous, start)) = self.at.checked_sub(1).and_then(|at| self.tokens.get(at)) {
            let length = match previous {
                Token::Field(name) => name.len() + 1,
                Token::Variable(name) => name.len(),
                Token::Close => 1,
                _ => break,
            };
            match self.tokens.get(self.at) {
                Some((Token::Field(name), at)) if *at == start + length => {
                    fields.push(name.clone());
                    self.at += 1;
                }
                _ => break,
            }
        }
        fields
    }

    fn operand(&mut self) -> ParseResult<Operand> {
        let pos = self.pos();
        Ok(match self.next() {
            Token::Dot => Operand::Dot,
            Token::Field(name) => {
                // Go places a chain of fields at its second one.
                let chain_pos = self.pos();
                let mut fields = vec![name];
                fields.extend(self.fields());
                let at = if fields.len() > 1 { chain_pos } else { pos };
                Operand::Chain(None, fields, at)
            }
            Token::Variable(name) => {
                if !self.variables.contains(&name) {
                    return Err((pos, format!("undefined variable {name:?}")));
                }
                let chain_pos = self.pos();
                Operand::Chain(Some(name), self.fields(), chain_pos)
            }
            Token::Open => {
                let pipeline = self.pipeline(false, "command")?;
                Operand::Pipe(Box::new(pipeline), self.fields())
            }
            Token::Str(text) => Operand::Str(text),
            Token::Number(text) => match (text.parse::<i64>(), text.parse::<f64>()) {
                (Ok(number), _) => Operand::Int(number),
                (_, Ok(number)) => Operand::Float(number),
                _ => return Err((pos, format!("bad number syntax: {text:?}"))),
            },
            Token::Word(word) if word == "true" || word == "false" => Operand::Bool(word == "true"),
            Token::Word(word) if word == "nil" => Operand::Nil,
            Token::Word(word) if FUNCTIONS.contains(&word.as_str()) => Operand::Function(word),
            Token::Word(word) => return Err((pos, format!("function {word:?} not defined"))),
            other => return Err((pos, format!("unexpected {} in operand", describe(&other)))),
        })
    }
}

fn describe(token: &Token) -> String {
    match token {
        Token::End => "\"}}\"".into(),
        Token::Close => "\")\"".into(),
        Token::Pipe => "\"|\"".into(),
        Token::Comma => "\",\"".into(),
        Token::Declare => "\":=\"".into(),
        Token::Assign => "\"=\"".into(),
        other => format!("{other:?}"),
    }
}

struct State<'a> {
    out: String,
    variables: Vec<(String, V)>,
    source: &'a str,
}

type Run<T> = Result<T, String>;

impl State<'_> {
    fn walk(&mut self, nodes: &[Node], dot: &V) -> Run<()> {
        for node in nodes {
            match node {
                Node::Text(text) => self.out.push_str(text),
                Node::Action(pipeline) => {
                    let value = self.pipeline(pipeline, dot)?;
                    if pipeline.declare.is_empty() {
                        print(&value, &mut self.out);
                    }
                }
                Node::If(pipeline, body, otherwise) | Node::With(pipeline, body, otherwise) => {
                    let depth = self.variables.len();
                    let value = self.pipeline(pipeline, dot)?;
                    let next = if matches!(node, Node::With(..)) { &value } else { dot };
                    let result = if truth(&value) { self.walk(body, next) } else { self.walk(otherwise, dot) };
                    self.variables.truncate(depth);
                    result?;
                }
                Node::Range(pipeline, body, otherwise) => self.range(pipeline, body, otherwise, dot)?,
            }
        }
        Ok(())
    }

    fn range(&mut self, pipeline: &Pipeline, body: &[Node], otherwise: &[Node], dot: &V) -> Run<()> {
        let depth = self.variables.len();
        let value = self.commands(&pipeline.commands, dot)?;
        let entries: Vec<(V, V)> = match &value {
            V::Missing => Vec::new(),
            V::Json(Value::Array(items)) => items.iter().enumerate().map(|(index, item)| (V::Int(index as i64), from_json(item))).collect(),
            V::Json(Value::Object(map)) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                keys.into_iter().map(|key| (V::Json(Value::String(key.clone())), from_json(&map[key]))).collect()
            }
            // Go ranges over an integer since 1.22 (kubectl's get hands it int64s).
            V::Int(count) => (0..*count).map(|index| (V::Int(index), V::Int(index))).collect(),
            other => {
                let mut text = String::new();
                print(other, &mut text);
                let message = format!("range can't iterate over {text}");
                return Err(match pipeline.commands.last().map(|command| (command, command.args.as_slice())) {
                    Some((command, [Operand::Chain(None, fields, pos)])) if command.args.len() == 1 => {
                        self.error_at(*pos, &fields.iter().map(|field| format!(".{field}")).collect::<String>(), &message)
                    }
                    other => self.error(other.map(|(command, _)| command), &message),
                });
            }
        };
        if entries.is_empty() {
            return self.walk(otherwise, dot);
        }
        for (key, item) in entries {
            match pipeline.declare.as_slice() {
                [one] => self.variables.push((one.clone(), item.clone())),
                [first, second] => {
                    self.variables.push((first.clone(), key));
                    self.variables.push((second.clone(), item.clone()));
                }
                _ => {}
            }
            let result = self.walk(body, &item);
            self.variables.truncate(depth);
            result?;
        }
        Ok(())
    }

    fn pipeline(&mut self, pipeline: &Pipeline, dot: &V) -> Run<V> {
        if pipeline.commands.is_empty() {
            return Ok(V::Missing);
        }
        let value = self.commands(&pipeline.commands, dot)?;
        for name in &pipeline.declare {
            if pipeline.assign {
                if let Some(slot) = self.variables.iter_mut().rev().find(|(known, _)| known == name) {
                    slot.1 = value.clone();
                }
            } else {
                self.variables.push((name.clone(), value.clone()));
            }
        }
        Ok(value)
    }

    fn commands(&mut self, commands: &[Command], dot: &V) -> Run<V> {
        let mut last = None;
        for command in commands {
            last = Some(self.command(command, dot, last.take())?);
        }
        Ok(last.unwrap_or(V::Missing))
    }

    fn error(&self, command: Option<&Command>, message: &str) -> String {
        let (pos, text) = command.map_or((0, ""), |command| (command.pos, command.text.as_str()));
        self.error_at(pos, text, message)
    }

    fn error_at(&self, pos: usize, text: &str, message: &str) -> String {
        let before = &self.source[..pos.min(self.source.len())];
        let column = before.rfind('\n').map_or(pos, |newline| pos - newline - 1);
        format!("template: output:{}:{column}: executing \"output\" at <{text}>: {message}", line(self.source, pos))
    }

    fn command(&mut self, command: &Command, dot: &V, piped: Option<V>) -> Run<V> {
        let Some(Operand::Function(name)) = command.args.first() else {
            if command.args.len() > 1 || piped.is_some() {
                return Err(self.error(Some(command), "can't give argument to non-function"));
            }
            return self.operand(&command.args[0], dot, command);
        };
        if name == "and" || name == "or" {
            if command.args.len() == 1 && piped.is_none() {
                return Err(self.error(Some(command), &format!("wrong number of args for {name}: want at least 1 got 0")));
            }
            let mut last = V::Missing;
            for arg in &command.args[1..] {
                last = self.operand(arg, dot, command)?;
                if truth(&last) == (name == "or") {
                    return Ok(last);
                }
            }
            return Ok(piped.unwrap_or(last));
        }
        let mut args = Vec::new();
        for arg in &command.args[1..] {
            args.push(self.operand(arg, dot, command)?);
        }
        args.extend(piped);
        call(name, &args).map_err(|message| self.error(Some(command), &format!("error calling {name}: {message}")))
    }

    fn operand(&mut self, operand: &Operand, dot: &V, command: &Command) -> Run<V> {
        Ok(match operand {
            Operand::Dot => dot.clone(),
            Operand::Chain(variable, fields, pos) => {
                let start = match variable {
                    Some(name) => self.variables.iter().rev().find(|(known, _)| known == name).map_or(V::Missing, |(_, value)| value.clone()),
                    None => dot.clone(),
                };
                let text = match variable {
                    Some(name) => format!("{name}{}", fields.iter().map(|field| format!(".{field}")).collect::<String>()),
                    None => fields.iter().map(|field| format!(".{field}")).collect(),
                };
                self.fields(start, fields, *pos, &text)?
            }
            Operand::Pipe(pipeline, fields) => {
                let value = self.commands(&pipeline.commands, dot)?;
                self.fields(value, fields, command.pos, &command.text)?
            }
            Operand::Str(text) => V::Json(Value::String(text.clone())),
            Operand::Int(number) => V::Int(*number),
            Operand::Float(number) => V::Float(*number),
            Operand::Bool(value) => V::Json(Value::Bool(*value)),
            Operand::Nil => return Err(self.error(Some(command), "nil is not a command")),
            Operand::Function(name) => call(name, &[]).map_err(|message| self.error(Some(command), &format!("error calling {name}: {message}")))?,
        })
    }

    fn fields(&self, mut value: V, fields: &[String], pos: usize, text: &str) -> Run<V> {
        for (index, field) in fields.iter().enumerate() {
            value = match value {
                V::Missing => V::Missing,
                V::Json(Value::Object(map)) => map.get(field).map_or(V::Missing, from_json),
                V::Json(Value::Null) if index > 0 => return Err(self.error_at(pos, text, &format!("nil pointer evaluating interface {{}}.{field}"))),
                _ => return Err(self.error_at(pos, text, &format!("can't evaluate field {field} in type interface {{}}"))),
            };
        }
        Ok(value)
    }
}

fn from_json(value: &Value) -> V {
    match value {
        Value::Number(number) => number.as_i64().map_or_else(|| V::Float(number.as_f64().unwrap_or_default()), V::Int),
        other => V::Json(other.clone()),
    }
}

fn truth(value: &V) -> bool {
    match value {
        V::Missing | V::Json(Value::Null) => false,
        V::Json(Value::Bool(value)) => *value,
        V::Json(Value::String(text)) => !text.is_empty(),
        V::Json(Value::Array(items)) => !items.is_empty(),
        V::Json(Value::Object(map)) => !map.is_empty(),
        V::Json(Value::Number(number)) => number.as_f64() != Some(0.0),
        V::Int(number) => *number != 0,
        V::Float(number) => *number != 0.0,
    }
}

/// Go's `%v`.
fn print(value: &V, out: &mut String) {
    match value {
        V::Missing => out.push_str("<no value>"),
        V::Int(number) => {
            let _ = write!(out, "{number}");
        }
        V::Float(number) => go_float(*number, out),
        V::Json(json) => crate::jsonpath::go_value(json, template_number, out),
    }
}

/// A JSON number as a template prints it: as the int64 or float64 it decodes into.
fn template_number(number: &serde_json::Number, out: &mut String) {
    print(&from_json(&Value::Number(number.clone())), out);
}

/// Go's `%v` of a float64: shortest digits, exponent form below 1e-4 and from 1e6.
fn go_float(number: f64, out: &mut String) {
    let scientific = format!("{number:e}");
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exponent: i32 = exponent.parse().unwrap_or_default();
    if (-4..6).contains(&exponent) {
        let _ = write!(out, "{number}");
    } else {
        let sign = if exponent < 0 { '-' } else { '+' };
        let _ = write!(out, "{mantissa}e{sign}{:02}", exponent.abs());
    }
}

fn text(value: &V) -> String {
    let mut out = String::new();
    print(value, &mut out);
    out
}

fn call(name: &str, args: &[V]) -> Result<V, String> {
    let want = |count: usize| if args.len() == count { Ok(()) } else { Err(format!("wrong number of args for {name}: want {count} got {}", args.len())) };
    Ok(match name {
        "not" => {
            want(1)?;
            V::Json(Value::Bool(!truth(&args[0])))
        }
        "len" => {
            want(1)?;
            V::Int(match &args[0] {
                V::Json(Value::String(text)) => text.len(),
                V::Json(Value::Array(items)) => items.len(),
                V::Json(Value::Object(map)) => map.len(),
                V::Missing => return Err("reflect: call of reflect.Value.Type on zero Value".into()),
                other => return Err(format!("len of type {}", type_name(other))),
            } as i64)
        }
        "index" => {
            let Some((first, keys)) = args.split_first() else { return Err(format!("wrong number of args for {name}: want at least 1 got 0")) };
            let mut value = first.clone();
            for key in keys {
                value = match (&value, key) {
                    (V::Json(Value::Object(map)), V::Json(Value::String(key))) => map.get(key).map_or(V::Missing, from_json),
                    (V::Json(Value::Object(_)), other) => return Err(format!("value has type {}; should be string", type_name(other))),
                    (V::Json(Value::Array(items)), V::Int(at)) => match usize::try_from(*at).ok().and_then(|at| items.get(at)) {
                        Some(item) => from_json(item),
                        None => return Err(format!("index out of range: {at}")),
                    },
                    (V::Json(Value::Array(_)), other) => return Err(format!("cannot index slice/array with type {}", type_name(other))),
                    (V::Missing | V::Json(Value::Null), _) => return Err("index of untyped nil".into()),
                    (other, _) => return Err(format!("can't index item of type {}", type_name(other))),
                };
            }
            value
        }
        "print" | "println" => {
            let mut out = String::new();
            for (index, arg) in args.iter().enumerate() {
                let is_string = |value: &V| matches!(value, V::Json(Value::String(_)));
                if index > 0 && (name == "println" || !(is_string(arg) || is_string(&args[index - 1]))) {
                    out.push(' ');
                }
                print(&nil_for_missing(std::slice::from_ref(arg))[0], &mut out);
            }
            if name == "println" {
                out.push('\n');
            }
            V::Json(Value::String(out))
        }
        "printf" => {
            let Some((V::Json(Value::String(format)), rest)) = args.split_first() else { return Err("wrong type for value; expected string".into()) };
            V::Json(Value::String(printf(format, &nil_for_missing(rest))))
        }
        "eq" | "ne" | "lt" | "le" | "gt" | "ge" => V::Json(Value::Bool(compare(name, args)?)),
        "base64decode" => {
            want(1)?;
            let V::Json(Value::String(encoded)) = &args[0] else { return Err(format!("wrong type for value; expected string; got {}", type_name(&args[0]))) };
            let bytes = base64::engine::general_purpose::STANDARD.decode(encoded).map_err(|err| {
                let at = match err {
                    base64::DecodeError::InvalidByte(at, _) | base64::DecodeError::InvalidLastSymbol(at, _) => at,
                    _ => encoded.len() / 4 * 4,
                };
                format!("base64 decode failed: illegal base64 data at input byte {at}")
            })?;
            V::Json(Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        }
        "exists" => V::Json(Value::Bool(exists(args))),
        _ => return Err(format!("function {name:?} not defined")),
    })
}

/// kubectl's `exists ITEM KEY...`: whether `index` would find a non-nil value.
fn exists(args: &[V]) -> bool {
    let Some((first, keys)) = args.split_first() else { return false };
    let mut value = first.clone();
    for key in keys {
        value = match (&value, key) {
            (V::Json(Value::Object(map)), V::Json(Value::String(key))) => map.get(key).map_or(V::Missing, from_json),
            (V::Json(Value::Array(items)), V::Int(at)) => match usize::try_from(*at).ok().and_then(|at| items.get(at)) {
                Some(item) => from_json(item),
                None => return false,
            },
            _ => return false,
        };
    }
    !matches!(value, V::Missing | V::Json(Value::Null))
}

/// Go hands a missing value to a function's `interface{}` parameter as nil.
fn nil_for_missing(args: &[V]) -> Vec<V> {
    args.iter().map(|arg| if let V::Missing = arg { V::Json(Value::Null) } else { arg.clone() }).collect()
}

fn type_name(value: &V) -> &'static str {
    match value {
        V::Missing => "<nil>",
        V::Int(_) => "int",
        V::Float(_) => "float64",
        V::Json(Value::String(_)) => "string",
        V::Json(Value::Bool(_)) => "bool",
        V::Json(Value::Array(_)) => "[]interface {}",
        V::Json(Value::Object(_)) => "map[string]interface {}",
        V::Json(Value::Number(_)) => "float64",
        V::Json(Value::Null) => "<nil>",
    }
}

fn compare(name: &str, args: &[V]) -> Result<bool, String> {
    let Some((first, rest)) = args.split_first() else { return Err("missing argument for comparison".into()) };
    if rest.is_empty() {
        return Err("missing argument for comparison".into());
    }
    let order = |left: &V, right: &V| -> Result<std::cmp::Ordering, String> {
        match (left, right) {
            (V::Int(a), V::Int(b)) => Ok(a.cmp(b)),
            (V::Float(a), V::Float(b)) => a.partial_cmp(b).ok_or_else(|| "incompatible types for comparison".into()),
            (V::Json(Value::String(a)), V::Json(Value::String(b))) => Ok(a.cmp(b)),
            (V::Json(Value::Bool(a)), V::Json(Value::Bool(b))) if name == "eq" || name == "ne" => Ok(a.cmp(b)),
            // Go's eq takes a nil or missing value as unequal to anything but another.
            (V::Missing | V::Json(Value::Null), V::Missing | V::Json(Value::Null)) if name == "eq" || name == "ne" => Ok(std::cmp::Ordering::Equal),
            (V::Missing | V::Json(Value::Null), _) | (_, V::Missing | V::Json(Value::Null)) if name == "eq" || name == "ne" => Ok(std::cmp::Ordering::Less),
            _ if name == "eq" || name == "ne" => Err("incompatible types for comparison".into()),
            _ => Err("invalid type for comparison".into()),
        }
    };
    use std::cmp::Ordering::*;
    match name {
        "eq" => {
            for right in rest {
                if order(first, right)? == Equal {
                    return Ok(true);
                }
            }
            Ok(false)
        }
        _ => {
            let ordering = order(first, &rest[0])?;
            Ok(match name {
                "ne" => ordering != Equal,
                "lt" => ordering == Less,
                "le" => ordering != Greater,
                "gt" => ordering == Greater,
                _ => ordering != Less,
            })
        }
    }
}

/// Go's `fmt.Sprintf` for the verbs templates use: `%s %v %d %q %f %x %%`, with a width.
fn printf(format: &str, args: &[V]) -> String {
    let mut out = String::new();
    let mut args = args.iter();
    let mut characters = format.chars().peekable();
    while let Some(character) = characters.next() {
        if character != '%' {
            out.push(character);
            continue;
        }
        let mut spec = String::new();
        while let Some(&next) = characters.peek() {
            if next.is_ascii_digit() || next == '-' || next == '.' || next == '+' {
                spec.push(next);
                characters.next();
            } else {
                break;
            }
        }
        let Some(verb) = characters.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        let Some(arg) = args.next() else {
            let _ = write!(out, "%!{verb}(MISSING)");
            continue;
        };
        let formatted = match (verb, arg) {
            ('v', value) | ('s', value @ V::Json(Value::String(_) | Value::Array(_) | Value::Object(_))) => text(value),
            (verb, V::Missing | V::Json(Value::Null)) => format!("%!{verb}(<nil>)"),
            ('d', V::Int(number)) => number.to_string(),
            ('q', V::Json(Value::String(text))) => serde_json::to_string(text).unwrap_or_default(),
            ('f', V::Float(number)) => format!("{:.*}", spec.split_once('.').and_then(|(_, digits)| digits.parse().ok()).unwrap_or(6), number),
            ('x', V::Int(number)) => format!("{number:x}"),
            ('x', V::Json(Value::String(text))) => text.bytes().map(|byte| format!("{byte:02x}")).collect(),
            ('t', V::Json(Value::Bool(value))) => value.to_string(),
            (verb, other) => format!("%!{verb}({}={})", type_name(other), text(other)),
        };
        let formatted = match (verb, spec.split_once('.').and_then(|(_, digits)| digits.parse::<usize>().ok())) {
            ('s', Some(precision)) => formatted.chars().take(precision).collect(),
            _ => formatted,
        };
        let width: usize = spec.trim_start_matches(['-', '+']).split('.').next().and_then(|digits| digits.parse().ok()).unwrap_or(0);
        let padding = width.saturating_sub(formatted.chars().count());
        if spec.starts_with('-') {
            out.push_str(&formatted);
            out.extend(std::iter::repeat_n(' ', padding));
        } else {
            out.extend(std::iter::repeat_n(if spec.starts_with('0') && verb != 's' { '0' } else { ' ' }, padding));
            out.push_str(&formatted);
        }
    }
    let extra: Vec<&V> = args.collect();
    if !extra.is_empty() {
        let listed: Vec<String> = extra.iter().map(|value| format!("{}={}", type_name(value), text(value))).collect();
        let _ = write!(out, "%!(EXTRA {})", listed.join(", "));
    }
    out
}

/// Go's `%+v` of the object, for kubectl's dump after an execution error.
pub fn go_value(value: &Value) -> String {
    text(&V::Json(value.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn render(template: &str, data: Value) -> String {
        let (out, err) = GoTemplate::parse(template).unwrap().render(&data);
        assert_eq!(err, None);
        out
    }

    #[test]
    fn fields_values_and_missing_keys() {
        let data = json!({"a": {"b": 3, "f": 2.5, "big": 1e21, "l": [1, "x"], "m": {"z": 1, "y": null}}});
        assert_eq!(render("{{.a.b}} {{.a.f}} {{.a.big}} {{.a.l}} {{.a.m}} {{.a.nope}} {{.nope.deeper}}", data), "3 2.5 1e+21 [1 x] map[y:<nil> z:1] <no value> <no value>");
    }

    #[test]
    fn control_structures_and_variables() {
        let data = json!({"items": [{"n": "a", "r": 1}, {"n": "b", "r": 0}], "m": {"k2": "v2", "k1": "v1"}});
        assert_eq!(render("{{range $i, $e := .items}}{{$i}}:{{$e.n}}{{if .r}}+{{else}}-{{end}} {{end}}", data.clone()), "0:a+ 1:b- ");
        assert_eq!(render("{{range $k, $v := .m}}{{$k}}={{$v}};{{end}}", data.clone()), "k1=v1;k2=v2;");
        assert_eq!(render("{{with .m}}{{.k1}}{{end}}{{with .x}}no{{else}}none{{end}}", data.clone()), "v1none");
        assert_eq!(render("{{- $x := len .items -}}  {{ $x -}} \n !", data.clone()), "2!");
        assert_eq!(render("{{range .none}}x{{else}}empty{{end}}", data), "empty");
    }

    #[test]
    fn functions() {
        let data = json!({"s": "aGVsbG8=", "n": 3, "m": {"k": "v"}});
        assert_eq!(render(r#"{{.s | base64decode}} {{index .m "k"}} {{printf "%s-%d %q" "a" .n "q"}} {{eq .n 3}} {{ne "a" "b"}} {{and 1 0}} {{or 0 "x"}} {{not true}}"#, data), "hello v a-3 \"q\" true true 0 x false");
    }

    #[test]
    fn errors_as_go_prints_them() {
        assert_eq!(GoTemplate::parse("{{.a}").unwrap_err(), "template: output:1: bad character U+007D '}'");
        assert_eq!(GoTemplate::parse("{{nope}}").unwrap_err(), "template: output:1: function \"nope\" not defined");
        let (_, err) = GoTemplate::parse("{{.spec.replicas.x.y}}").unwrap().render(&json!({"spec": {"replicas": 1}}));
        assert_eq!(err.unwrap(), "template: output:1:7: executing \"output\" at <.spec.replicas.x.y>: can't evaluate field x in type interface {}");
        let (_, err) = GoTemplate::parse("{{index .spec 3}}").unwrap().render(&json!({"spec": {}}));
        assert_eq!(err.unwrap(), "template: output:1:2: executing \"output\" at <index .spec 3>: error calling index: value has type int; should be string");
    }
}
