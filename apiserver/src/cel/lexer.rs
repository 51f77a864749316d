//! CEL's tokens (cel-spec `doc/langdef.md`, "Syntax"): numbers, strings and bytes with their
//! escapes, raw and triple-quoted forms, identifiers, keywords and punctuation. Positions are
//! byte offsets into the source; the error type turns them into cel-go's line and column.

use super::error::Issue;

#[derive(Clone, Debug, PartialEq)]
pub(super) enum Token {
    /// An integer literal's digits, kept as `u64` so that `-9223372036854775808` can be read
    /// as the unary minus of 2^63 (the parser checks the range).
    Int(u64),
    Uint(u64),
    Double(f64),
    String(String),
    Bytes(Vec<u8>),
    Ident(String),
    /// Punctuation and operators, and the keywords `true`, `false`, `null`, `in`.
    Symbol(&'static str),
    Eof,
}

impl Token {
    /// How ANTLR names a token in cel-go's syntax errors.
    pub(super) fn shown(&self, source: &str, start: usize, end: usize) -> String {
        match self {
            Token::Eof => "'<EOF>'".to_string(),
            _ => format!("'{}'", source.get(start..end).unwrap_or_default()),
        }
    }
}

/// Every token with its start and end offsets, the last one `Eof`.
pub(super) type Tokens = Vec<(Token, usize, usize)>;

/// Sorted longest first, so that the first match is the longest.
const SYMBOLS: &[&str] = &[
    "==", "!=", "<=", ">=", "&&", "||", ".?", "[?", "<", ">", "!", "+", "-", "*", "/", "%", "?", ":", ".", ",", "(", ")", "[", "]", "{", "}",
];

/// CEL's reserved words that cannot be identifiers (cel-go's "reserved identifier").
const RESERVED: &[&str] = &[
    "as", "break", "const", "continue", "else", "for", "function", "if", "import", "let", "loop", "package", "namespace", "return", "var", "void", "while",
];

pub(super) fn tokens(source: &str) -> Result<Tokens, Issue> {
    let mut lexer = Lexer { source, bytes: source.as_bytes(), at: 0 };
    let mut out = Vec::new();
    loop {
        lexer.skip_blanks();
        let start = lexer.at;
        if start >= lexer.bytes.len() {
            out.push((Token::Eof, start, start));
            return Ok(out);
        }
        let token = lexer.token()?;
        out.push((token, start, lexer.at));
    }
}

struct Lexer<'a> {
    source: &'a str,
    bytes: &'a [u8],
    at: usize,
}

impl Lexer<'_> {
    fn peek(&self, ahead: usize) -> Option<u8> {
        self.bytes.get(self.at + ahead).copied()
    }

    fn skip_blanks(&mut self) {
        loop {
            match self.peek(0) {
                Some(b' ' | b'\t' | b'\n' | b'\r' | b'\x0c') => self.at += 1,
                Some(b'/') if self.peek(1) == Some(b'/') => {
                    while self.peek(0).is_some_and(|byte| byte != b'\n') {
                        self.at += 1;
                    }
                }
                _ => return,
            }
        }
    }

    fn error(&self, at: usize, message: String) -> Issue {
        Issue::syntax(at, message)
    }

    fn token(&mut self) -> Result<Token, Issue> {
        let start = self.at;
        let Some(first) = self.peek(0) else { return Ok(Token::Eof) };
        if first.is_ascii_digit() || (first == b'.' && self.peek(1).is_some_and(|byte| byte.is_ascii_digit())) {
            return self.number();
        }
        let quote_after_prefix = |ahead: usize| matches!(self.peek(ahead), Some(b'"' | b'\''));
        match first {
            b'r' | b'R' if quote_after_prefix(1) => {
                self.at += 1;
                return self.string(true, false).map(|text| Token::String(String::from_utf8_lossy(&text).into_owned()));
            }
            b'b' | b'B' if quote_after_prefix(1) => {
                self.at += 1;
                return self.string(false, true).map(Token::Bytes);
            }
            b'b' | b'B' if matches!(self.peek(1), Some(b'r' | b'R')) && quote_after_prefix(2) => {
                self.at += 2;
                return self.string(true, true).map(Token::Bytes);
            }
            b'r' | b'R' if matches!(self.peek(1), Some(b'b' | b'B')) && quote_after_prefix(2) => {
                self.at += 2;
                return self.string(true, true).map(Token::Bytes);
            }
            b'"' | b'\'' => {
                return self.string(false, false).and_then(|bytes| {
                    String::from_utf8(bytes).map(Token::String).map_err(|_| self.error(start, "Syntax error: invalid UTF-8 in string literal".into()))
                });
            }
            _ => {}
        }
        if first == b'_' || first.is_ascii_alphabetic() {
            while self.peek(0).is_some_and(|byte| byte == b'_' || byte.is_ascii_alphanumeric()) {
                self.at += 1;
            }
            let word = &self.source[start..self.at];
            return Ok(match word {
                "true" => Token::Symbol("true"),
                "false" => Token::Symbol("false"),
                "null" => Token::Symbol("null"),
                "in" => Token::Symbol("in"),
                _ if RESERVED.contains(&word) => return Err(self.error(start, format!("Syntax error: reserved identifier: {word}"))),
                _ => Token::Ident(word.to_string()),
            });
        }
        for symbol in SYMBOLS {
            if self.bytes[self.at..].starts_with(symbol.as_bytes()) {
                // `.?` only before an identifier would be a field; `a ? .5 : b` keeps its dot.
                self.at += symbol.len();
                return Ok(Token::Symbol(symbol));
            }
        }
        let character = self.source[start..].chars().next().unwrap_or('?');
        Err(self.error(start, format!("Syntax error: token recognition error at: '{character}'")))
    }

    fn number(&mut self) -> Result<Token, Issue> {
        let start = self.at;
        if self.peek(0) == Some(b'0') && matches!(self.peek(1), Some(b'x' | b'X')) {
            self.at += 2;
            let digits_start = self.at;
            while self.peek(0).is_some_and(|byte| byte.is_ascii_hexdigit()) {
                self.at += 1;
            }
            let digits = &self.source[digits_start..self.at];
            let value = u64::from_str_radix(digits, 16).map_err(|_| self.error(start, "invalid int literal".into()))?;
            return Ok(self.integer_suffix(value));
        }
        let mut float = false;
        while self.peek(0).is_some_and(|byte| byte.is_ascii_digit()) {
            self.at += 1;
        }
        if self.peek(0) == Some(b'.') && self.peek(1).is_some_and(|byte| byte.is_ascii_digit()) {
            float = true;
            self.at += 1;
            while self.peek(0).is_some_and(|byte| byte.is_ascii_digit()) {
                self.at += 1;
            }
        }
        if matches!(self.peek(0), Some(b'e' | b'E')) {
            let sign = usize::from(matches!(self.peek(1), Some(b'+' | b'-')));
            if self.peek(1 + sign).is_some_and(|byte| byte.is_ascii_digit()) {
                float = true;
                self.at += 1 + sign;
                while self.peek(0).is_some_and(|byte| byte.is_ascii_digit()) {
                    self.at += 1;
                }
            }
        }
        let text = &self.source[start..self.at];
        if float {
            return text.parse().map(Token::Double).map_err(|_| self.error(start, "invalid double literal".into()));
        }
        let value: u64 = text.parse().map_err(|_| self.error(start, "invalid int literal".into()))?;
        Ok(self.integer_suffix(value))
    }

    fn integer_suffix(&mut self, value: u64) -> Token {
        if matches!(self.peek(0), Some(b'u' | b'U')) {
            self.at += 1;
            Token::Uint(value)
        } else {
            Token::Int(value)
        }
    }

    /// A quoted literal from its opening quote; escapes decoded unless `raw`. Bytes literals
    /// keep `\x`/octal escapes as single bytes, strings encode them as code points.
    fn string(&mut self, raw: bool, bytes_literal: bool) -> Result<Vec<u8>, Issue> {
        let start = self.at;
        let quote = self.bytes[self.at];
        let triple = self.peek(1) == Some(quote) && self.peek(2) == Some(quote);
        self.at += if triple { 3 } else { 1 };
        let mut out = Vec::new();
        loop {
            let Some(byte) = self.peek(0) else {
                return Err(self.error(start, format!("Syntax error: token recognition error at: '{}'", &self.source[start..])));
            };
            if byte == quote && (!triple || (self.peek(1) == Some(quote) && self.peek(2) == Some(quote))) {
                self.at += if triple { 3 } else { 1 };
                return Ok(out);
            }
            if !triple && (byte == b'\n' || byte == b'\r') {
                return Err(self.error(start, format!("Syntax error: token recognition error at: '{}'", &self.source[start..self.at])));
            }
            if byte == b'\\' && !raw {
                self.escape(&mut out, bytes_literal)?;
            } else if byte == b'\\' {
                // A raw string keeps the backslash, but an escaped quote does not end it.
                out.push(byte);
                self.at += 1;
                if let Some(next) = self.peek(0) {
                    out.push(next);
                    self.at += 1;
                }
            } else {
                out.push(byte);
                self.at += 1;
            }
        }
    }

    fn escape(&mut self, out: &mut Vec<u8>, bytes_literal: bool) -> Result<(), Issue> {
        let start = self.at;
        let bad = |lexer: &Self| lexer.error(start, format!("Syntax error: token recognition error at: '{}'", lexer.source.get(start..lexer.at + 1).unwrap_or("\\")));
        self.at += 1;
        let Some(kind) = self.peek(0) else { return Err(bad(self)) };
        self.at += 1;
        let simple = match kind {
            b'a' => Some(0x07),
            b'b' => Some(0x08),
            b'f' => Some(0x0c),
            b'n' => Some(b'\n'),
            b'r' => Some(b'\r'),
            b't' => Some(b'\t'),
            b'v' => Some(0x0b),
            b'\\' | b'\'' | b'"' | b'`' | b'?' => Some(kind),
            _ => None,
        };
        if let Some(byte) = simple {
            out.push(byte);
            return Ok(());
        }
        let digits = |count: usize, radix: u32, lexer: &mut Self| -> Result<u32, Issue> {
            let text = lexer.source.get(lexer.at..lexer.at + count).ok_or_else(|| bad(lexer))?;
            let value = u32::from_str_radix(text, radix).map_err(|_| bad(lexer))?;
            lexer.at += count;
            Ok(value)
        };
        match kind {
            b'x' | b'X' => {
                let value = digits(2, 16, self)?;
                push_code(out, value, bytes_literal);
            }
            b'u' => {
                let value = digits(4, 16, self)?;
                if char::from_u32(value).is_none() {
                    return Err(bad(self));
                }
                push_code(out, value, false);
            }
            b'U' => {
                let value = digits(8, 16, self)?;
                if char::from_u32(value).is_none() {
                    return Err(bad(self));
                }
                push_code(out, value, false);
            }
            b'0'..=b'3' => {
                self.at -= 1;
                let value = digits(3, 8, self)?;
                push_code(out, value, bytes_literal);
            }
            _ => return Err(bad(self)),
        }
        Ok(())
    }
}

/// `\x` and octal escapes are one byte in a bytes literal; in a string they name a code
/// point, as every escape does, and are pushed as its UTF-8.
fn push_code(out: &mut Vec<u8>, value: u32, raw_byte: bool) {
    match char::from_u32(value) {
        Some(character) if !raw_byte || value < 0x80 => {
            let mut buffer = [0; 4];
            out.extend_from_slice(character.encode_utf8(&mut buffer).as_bytes());
        }
        // Only byte escapes (at most 0xff) reach here, so the conversion cannot fail.
        _ => out.push(u8::try_from(value).unwrap_or(b'?')),
    }
}
