//! CEL's grammar (cel-spec `doc/langdef.md`) by precedence climbing, with cel-go's macros
//! expanded as it expands them and its limits: at most [`MAX_DEPTH`] levels of nesting and
//! [`MAX_CODE_POINTS`] characters, so that no expression can overflow the stack of the
//! parser or of the checker and evaluator that walk its tree.

use std::sync::Arc;

use super::ast::{Comprehension, Expr, ExprKind, MacroKind, MapEntry};
use super::error::{Issue, Issues};
use super::lexer::{Token, Tokens, tokens};
use super::value::Value;

/// cel-go's default `maxRecursionDepth`.
pub const MAX_DEPTH: usize = 250;

/// cel-go's default `expressionSizeCodePointLimit`.
pub const MAX_CODE_POINTS: usize = 100_000;

/// What ANTLR expects where an operand is missing, as cel-go words it.
const EXPECTING_OPERAND: &str = "{'[', '{', '(', '.', '-', '!', 'true', 'false', 'null', NUM_FLOAT, NUM_INT, NUM_UINT, STRING, BYTES, IDENTIFIER}";

pub fn parse(source: &str) -> Result<Expr, Issues> {
    let size = source.chars().count();
    if size > MAX_CODE_POINTS {
        let message = format!("expression code point size exceeds limit: size: {size}, limit {MAX_CODE_POINTS}");
        return Err(Issues::one(source, Issue::new(0, message)));
    }
    let tokens = tokens(source).map_err(|issue| Issues::one(source, issue))?;
    let mut parser = Parser { source, tokens, at: 0, depth: 0 };
    let expr = parser.expression().map_err(|issue| Issues::one(source, issue))?;
    match parser.peek() {
        Token::Eof => Ok(expr),
        _ => Err(Issues::one(source, parser.mismatched("<EOF>"))),
    }
}

struct Parser<'a> {
    source: &'a str,
    tokens: Tokens,
    at: usize,
    depth: usize,
}

type Parsed = Result<Expr, Issue>;

/// Binary operators by precedence, lowest first (`||` is 1, `*` is 5).
fn binary_precedence(symbol: &str) -> Option<(u8, &'static str)> {
    Some(match symbol {
        "||" => (1, "_||_"),
        "&&" => (2, "_&&_"),
        "==" => (3, "_==_"),
        "!=" => (3, "_!=_"),
        "<" => (3, "_<_"),
        "<=" => (3, "_<=_"),
        ">" => (3, "_>_"),
        ">=" => (3, "_>=_"),
        "in" => (3, "@in"),
        "+" => (4, "_+_"),
        "-" => (4, "_-_"),
        "*" => (5, "_*_"),
        "/" => (5, "_/_"),
        "%" => (5, "_%_"),
        _ => return None,
    })
}

impl Parser<'_> {
    fn peek(&self) -> &Token {
        self.tokens.get(self.at).map_or(&Token::Eof, |(token, _, _)| token)
    }

    fn offset(&self) -> usize {
        self.tokens.get(self.at).map_or(self.source.len(), |(_, start, _)| *start)
    }

    fn advance(&mut self) -> Token {
        let token = self.peek().clone();
        if self.at < self.tokens.len() - 1 {
            self.at += 1;
        }
        token
    }

    fn is(&self, symbol: &str) -> bool {
        matches!(self.peek(), Token::Symbol(found) if *found == symbol)
    }

    fn mismatched(&self, expecting: &str) -> Issue {
        let (token, start, end) = self.tokens.get(self.at).cloned().unwrap_or((Token::Eof, self.source.len(), self.source.len()));
        Issue::syntax(start, format!("Syntax error: mismatched input {} expecting {expecting}", token.shown(self.source, start, end)))
    }

    fn expect(&mut self, symbol: &str) -> Result<usize, Issue> {
        if self.is(symbol) {
            let offset = self.offset();
            self.advance();
            Ok(offset)
        } else if matches!(self.peek(), Token::Eof) {
            // ANTLR recovers by inserting the token and says so.
            Err(Issue::syntax(self.offset(), format!("Syntax error: missing '{symbol}' at '<EOF>'")))
        } else {
            Err(self.mismatched(&format!("'{symbol}'")))
        }
    }

    /// Enters one more level of nesting, refusing past the limit.
    fn deeper(&mut self) -> Result<(), Issue> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(Issue::syntax(self.offset(), "Syntax error: max recursion depth exceeded".into()));
        }
        Ok(())
    }

    fn expression(&mut self) -> Parsed {
        self.deeper()?;
        let result = self.conditional();
        self.depth -= 1;
        result
    }

    fn conditional(&mut self) -> Parsed {
        let condition = self.binary(1)?;
        if !self.is("?") {
            return Ok(condition);
        }
        let offset = self.expect("?")?;
        let truthy = self.binary(1)?;
        self.expect(":")?;
        let falsy = self.expression()?;
        Ok(call(offset, "_?_:_", None, vec![condition, truthy, falsy]))
    }

    fn binary(&mut self, minimum: u8) -> Parsed {
        let mut left = self.unary()?;
        let entered = self.depth;
        let result = loop {
            let Token::Symbol(symbol) = self.peek() else { break Ok(left) };
            let Some((precedence, function)) = binary_precedence(symbol) else { break Ok(left) };
            if precedence < minimum {
                break Ok(left);
            }
            // A chain `a + b + c + ...` nests to the left: each link is a level.
            if let Err(issue) = self.deeper() {
                break Err(issue);
            }
            let offset = self.offset();
            self.advance();
            let right = match self.binary(precedence + 1) {
                Ok(right) => right,
                Err(issue) => break Err(issue),
            };
            left = call(offset, function, None, vec![left, right]);
        };
        self.depth = entered;
        result
    }

    fn unary(&mut self) -> Parsed {
        let offset = self.offset();
        if self.is("!") || self.is("-") {
            let symbol = if self.is("!") { "!_" } else { "-_" };
            self.advance();
            self.deeper()?;
            let result = self.unary_operand(symbol, offset);
            self.depth -= 1;
            return result;
        }
        self.member()
    }

    fn unary_operand(&mut self, function: &str, offset: usize) -> Parsed {
        // A negative literal is one literal, so that the smallest int can be written.
        if function == "-_" {
            match self.peek().clone() {
                Token::Int(value) if !self.postfix_follows() => {
                    self.advance();
                    let negative = 0i64.checked_sub_unsigned(value).ok_or_else(|| Issue::syntax(offset, "invalid int literal".into()))?;
                    return Ok(Expr::new(ExprKind::Literal(Value::Int(negative)), offset));
                }
                Token::Double(value) if !self.postfix_follows() => {
                    self.advance();
                    return Ok(Expr::new(ExprKind::Literal(Value::Double(-value)), offset));
                }
                _ => {}
            }
        }
        let operand = self.unary()?;
        Ok(call(offset, function, None, vec![operand]))
    }

    /// Whether the token after the current one continues a member expression, so that
    /// `-1.abs()`-like forms apply the minus last.
    fn postfix_follows(&self) -> bool {
        matches!(self.tokens.get(self.at + 1), Some((Token::Symbol(".") | Token::Symbol(".?") | Token::Symbol("[") | Token::Symbol("[?"), _, _)))
    }

    fn member(&mut self) -> Parsed {
        let mut expr = self.primary()?;
        let entered = self.depth;
        let result = loop {
            let offset = self.offset();
            let step = if self.is(".") || self.is(".?") {
                let optional = self.is(".?");
                self.advance();
                let Token::Ident(name) = self.peek().clone() else { break Err(self.mismatched("IDENTIFIER")) };
                self.advance();
                if !optional && self.is("(") {
                    let open = self.offset();
                    self.advance();
                    match self.arguments(")") {
                        Ok(args) => self.method(expr, name, args, open),
                        Err(issue) => Err(issue),
                    }
                } else {
                    Ok(Expr::new(ExprKind::Select { operand: Box::new(expr), field: name, presence: false, optional }, offset))
                }
            } else if self.is("[") || self.is("[?") {
                let function = if self.is("[") { "_[_]" } else { "_[?_]" };
                self.advance();
                match self.expression().and_then(|index| self.expect("]").map(|_| index)) {
                    Ok(index) => Ok(call(offset, function, None, vec![expr, index])),
                    Err(issue) => Err(issue),
                }
            } else {
                break Ok(expr);
            };
            match step.and_then(|next| self.deeper().map(|()| next)) {
                Ok(next) => expr = next,
                Err(issue) => break Err(issue),
            }
        };
        self.depth = entered;
        result
    }

    fn primary(&mut self) -> Parsed {
        let offset = self.offset();
        let literal = |value| Ok(Expr::new(ExprKind::Literal(value), offset));
        match self.peek().clone() {
            Token::Int(value) => {
                self.advance();
                let value = i64::try_from(value).map_err(|_| Issue::syntax(offset, "invalid int literal".into()))?;
                literal(Value::Int(value))
            }
            Token::Uint(value) => {
                self.advance();
                literal(Value::Uint(value))
            }
            Token::Double(value) => {
                self.advance();
                literal(Value::Double(value))
            }
            Token::String(text) => {
                self.advance();
                literal(Value::String(Arc::from(text)))
            }
            Token::Bytes(bytes) => {
                self.advance();
                literal(Value::Bytes(Arc::from(bytes)))
            }
            Token::Symbol("true") | Token::Symbol("false") => {
                let value = self.is("true");
                self.advance();
                literal(Value::Bool(value))
            }
            Token::Symbol("null") => {
                self.advance();
                literal(Value::Null)
            }
            Token::Symbol("(") => {
                self.advance();
                let inner = self.expression()?;
                self.expect(")")?;
                Ok(inner)
            }
            Token::Symbol("[") | Token::Symbol("[?") => self.list(offset),
            Token::Symbol("{") => self.map(offset),
            Token::Symbol(".") => {
                // A leading dot names an identifier from the root scope: the same here.
                self.advance();
                self.identifier()
            }
            Token::Ident(_) => self.identifier(),
            _ => Err(self.mismatched(EXPECTING_OPERAND)),
        }
    }

    fn identifier(&mut self) -> Parsed {
        let offset = self.offset();
        if !matches!(self.peek(), Token::Ident(_)) {
            return Err(self.mismatched("IDENTIFIER"));
        }
        let Token::Ident(name) = self.advance() else { return Err(self.mismatched("IDENTIFIER")) };
        if !self.is("(") {
            return Ok(Expr::new(ExprKind::Ident(name), offset));
        }
        let open = self.offset();
        self.advance();
        let args = self.arguments(")")?;
        if name == "has" && args.len() == 1 {
            let mut args = args;
            let arg = args.remove(0);
            return match arg.kind {
                ExprKind::Select { operand, field, optional: false, .. } => Ok(Expr::new(ExprKind::Select { operand, field, presence: true, optional: false }, open)),
                _ => Err(Issue::new(arg.offset, "invalid argument to has() macro")),
            };
        }
        Ok(call(open, &name, None, args))
    }

    fn arguments(&mut self, close: &str) -> Result<Vec<Expr>, Issue> {
        let mut args = Vec::new();
        if self.is(close) {
            self.advance();
            return Ok(args);
        }
        loop {
            args.push(self.expression()?);
            if self.is(",") {
                self.advance();
                continue;
            }
            self.expect(close)?;
            return Ok(args);
        }
    }

    fn list(&mut self, offset: usize) -> Parsed {
        // `[?` opens a list whose first element is optional.
        let mut optional_next = self.is("[?");
        self.advance();
        let mut elements = Vec::new();
        let mut optional = Vec::new();
        loop {
            if !optional_next && self.is("]") {
                self.advance();
                break;
            }
            if optional_next || self.is("?") {
                if !optional_next {
                    self.advance();
                }
                optional.push(elements.len());
            }
            optional_next = false;
            elements.push(self.expression()?);
            if self.is(",") {
                self.advance();
                continue;
            }
            self.expect("]")?;
            break;
        }
        Ok(Expr::new(ExprKind::List { elements, optional }, offset))
    }

    fn map(&mut self, offset: usize) -> Parsed {
        self.advance();
        let mut entries = Vec::new();
        loop {
            if self.is("}") {
                self.advance();
                break;
            }
            let optional = self.is("?");
            if optional {
                self.advance();
            }
            let key = self.expression()?;
            self.expect(":")?;
            let value = self.expression()?;
            entries.push(MapEntry { key, value, optional });
            if self.is(",") {
                self.advance();
                continue;
            }
            self.expect("}")?;
            break;
        }
        Ok(Expr::new(ExprKind::Map(entries), offset))
    }

    /// `target.name(args)`: a macro when the name and arity are one's, else a method call.
    fn method(&mut self, target: Expr, name: String, mut args: Vec<Expr>, open: usize) -> Parsed {
        let kind = match (name.as_str(), args.len()) {
            ("all", 2) => MacroKind::All,
            ("exists", 2) => MacroKind::Exists,
            ("exists_one", 2) => MacroKind::ExistsOne,
            ("map", 2 | 3) => MacroKind::Map,
            ("filter", 2) => MacroKind::Filter,
            _ => return Ok(call(open, &name, Some(target), args)),
        };
        let variable = match &args[0].kind {
            ExprKind::Ident(variable) => variable.clone(),
            _ => return Err(Issue::new(args[0].offset, "argument must be a simple name")),
        };
        let body = args.pop().unwrap_or_else(|| Expr::new(ExprKind::Literal(Value::Null), open));
        // Only the three-argument `map` has a predicate left before its body.
        let filter = if args.len() == 2 { args.pop() } else { None };
        Ok(Expr::new(ExprKind::Comprehension(Box::new(Comprehension { kind, variable, range: target, filter, body })), open))
    }
}

fn call(offset: usize, function: &str, target: Option<Expr>, args: Vec<Expr>) -> Expr {
    Expr::new(ExprKind::Call { function: function.to_string(), target: target.map(Box::new), args }, offset)
}
