//! The parsed form of a CEL expression. Operators are calls named as cel-go names them
//! (`_+_`, `!_`, `_[_]`, `@in`...), so that type errors read as cel-go's; the macros kube
//! enables are kept as comprehensions of their own kind.

use super::value::Value;

#[derive(Clone, Debug)]
pub struct Expr {
    pub kind: ExprKind,
    /// The byte offset errors about this node point at (the operator, the `.` of a field).
    pub offset: usize,
}

#[derive(Clone, Debug)]
pub enum ExprKind {
    /// A literal: null, a bool, a number, a string or bytes.
    Literal(Value),
    Ident(String),
    /// `operand.field`; `presence` for `has(operand.field)`, `optional` for `operand.?field`.
    Select { operand: Box<Expr>, field: String, presence: bool, optional: bool },
    /// A function (`size(x)`), a method (`x.size()`, `target` set) or an operator.
    Call { function: String, target: Option<Box<Expr>>, args: Vec<Expr> },
    /// `[a, ?b]`: the indices of optional elements are listed.
    List { elements: Vec<Expr>, optional: Vec<usize> },
    Map(Vec<MapEntry>),
    Comprehension(Box<Comprehension>),
}

#[derive(Clone, Debug)]
pub struct MapEntry {
    pub key: Expr,
    pub value: Expr,
    /// `{?key: optionalValue}`.
    pub optional: bool,
}

/// The macros: `range.all(variable, body)` and its siblings. `filter` is the predicate of the
/// three-argument `map` (`range.map(x, predicate, body)`).
#[derive(Clone, Debug)]
pub struct Comprehension {
    pub kind: MacroKind,
    pub variable: String,
    pub range: Expr,
    pub filter: Option<Expr>,
    pub body: Expr,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MacroKind {
    All,
    Exists,
    ExistsOne,
    Map,
    Filter,
}

impl Expr {
    pub fn new(kind: ExprKind, offset: usize) -> Self {
        Self { kind, offset }
    }

    /// Whether the identifier `name` is referred to anywhere but as a macro's own variable.
    pub fn references(&self, name: &str) -> bool {
        match &self.kind {
            ExprKind::Ident(ident) => ident == name,
            ExprKind::Select { operand, .. } => operand.references(name),
            ExprKind::Call { target, args, .. } => target.as_deref().is_some_and(|target| target.references(name)) || args.iter().any(|arg| arg.references(name)),
            ExprKind::List { elements, .. } => elements.iter().any(|element| element.references(name)),
            ExprKind::Map(entries) => entries.iter().any(|entry| entry.key.references(name) || entry.value.references(name)),
            ExprKind::Comprehension(comprehension) => {
                comprehension.range.references(name)
                    || (comprehension.variable != name
                        && (comprehension.filter.as_ref().is_some_and(|filter| filter.references(name)) || comprehension.body.references(name)))
            }
            _ => false,
        }
    }
}
