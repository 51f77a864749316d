//! Compile errors as cel-go prints its `Issues` (kube puts that text in its causes):
//! `ERROR: <input>:LINE:COLUMN: message`, then the source line and a caret under the column.

use std::fmt;

/// One problem found at a byte offset of the source.
#[derive(Clone, Debug, PartialEq)]
pub struct Issue {
    pub offset: usize,
    pub message: String,
}

impl Issue {
    pub(super) fn syntax(offset: usize, message: String) -> Self {
        Self { offset, message }
    }

    pub(super) fn new(offset: usize, message: impl Into<String>) -> Self {
        Self { offset, message: message.into() }
    }
}

/// Every issue of one expression, with the source they point into.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub struct Issues {
    pub expression: String,
    pub issues: Vec<Issue>,
}

impl Issues {
    pub(super) fn one(source: &str, issue: Issue) -> Self {
        Self { expression: source.to_string(), issues: vec![issue] }
    }
}

impl fmt::Display for Issues {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for issue in &self.issues {
            if !first {
                writeln!(formatter)?;
            }
            first = false;
            let (line, column, text) = locate(&self.expression, issue.offset);
            write!(formatter, "ERROR: <input>:{line}:{}: {}", column + 1, issue.message)?;
            // cel-go shows the line with a caret under the column, dots before it.
            write!(formatter, "\n | {text}\n | {}^", ".".repeat(column))?;
        }
        Ok(())
    }
}

/// The 1-based line, 0-based column in code points, and the text of the line at `offset`.
fn locate(source: &str, offset: usize) -> (usize, usize, &str) {
    let offset = offset.min(source.len());
    let before = source.get(..offset).unwrap_or(source);
    let line_start = before.rfind('\n').map_or(0, |at| at + 1);
    let line = before.matches('\n').count() + 1;
    let column = before[line_start..].chars().count();
    let line_end = source[line_start..].find('\n').map_or(source.len(), |at| line_start + at);
    (line, column, &source[line_start..line_end])
}

/// Why an evaluation failed, worded as cel-go words its errors (kube quotes them).
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum EvalError {
    #[error("{0}")]
    Message(String),
    /// The per-call cost limit was reached.
    #[error("operation cancelled: actual cost limit exceeded")]
    CostExceeded,
}

impl EvalError {
    pub fn message(text: impl Into<String>) -> Self {
        EvalError::Message(text.into())
    }

    pub fn no_overload() -> Self {
        EvalError::Message("no such overload".into())
    }
}
