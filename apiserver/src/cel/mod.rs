//! A lean Common Expression Language implementation, enough for the `x-kubernetes-validations`
//! rules of CustomResourceDefinitions as kube-apiserver 1.33 runs them: parse
//! ([`parser`], cel-go's limits), type against declared variables ([`checker`], cel-go's
//! error texts), evaluate ([`eval`]) with cel-go's runtime cost bounded per call.
//!
//! Kube's environment is declared in [`library`]: the standard functions, the strings
//! extension (with `format()`), optional values, `sets`, and Kubernetes' lists, regex, URL,
//! quantity, IP and CIDR libraries. Not here: message construction (`Msg{...}`) and
//! protobuf types, two-variable comprehensions, `optMap`/`optFlatMap`, Kubernetes' `format`,
//! `authz` and `semver` libraries, and the merge of `map` lists by `+`. kube's compile-time cost estimate is approximated ([`Program::estimate`]); its
//! runtime cost limit is kept. Every caller runs the language through [`with_stack`].

mod ast;
mod checker;
pub mod cost;
mod error;
mod estimate;
mod eval;
mod lexer;
mod library;
mod operators;
mod parser;
pub mod permit;
mod time;
mod types;
mod value;

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

pub use cost::Cost;
pub use error::{EvalError, Issue, Issues};
pub use estimate::{UNBOUNDED_LIST, UNBOUNDED_MAP};
pub use types::{Field, ListKind, ListType, ObjectType, Type, escape};
pub use value::{Value, from_json};

use ast::{Expr, ExprKind};

/// The largest compiled program a regular expression may become: CEL's regexes and CRD
/// `pattern`s alike. It keeps a hostile pattern from costing more memory than a rule is worth.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// The most patterns built while a rule runs that one evaluation keeps compiled: enough for
/// a rule's few dynamic patterns, few enough that a rule making a new pattern per item holds
/// no more than this many at once (each is charged by its length anyway).
const DYNAMIC_REGEX_CACHE: usize = 64;

/// The stack [`with_stack`] gives: room for the deepest expression the parser accepts to be
/// parsed, checked and evaluated in a debug build, with a wide margin.
const STACK_BYTES: usize = 64 << 20;

/// Runs `work` (compiling or evaluating expressions) on a thread with a stack deep enough
/// for any expression within the parser's limits: the recursive walks of a 250-level tree
/// need more than a 2 MiB async worker's stack. The stack is reserved, not committed, so
/// only what is used costs memory. `None` if no thread could be had or `work` panicked (a
/// bug, kept from taking the caller down).
pub fn with_stack<T: Send>(work: impl FnOnce() -> T + Send) -> Option<T> {
    std::thread::scope(|scope| {
        let handle = std::thread::Builder::new().name("cel".into()).stack_size(STACK_BYTES).spawn_scoped(scope, work).ok()?;
        handle.join().ok()
    })
}

/// A checked expression, ready to evaluate.
#[derive(Debug)]
pub struct Program {
    expr: Expr,
    /// The literal patterns of `matches`, `find` and `findAll`, compiled once.
    regexes: HashMap<String, Arc<regex::Regex>>,
    /// The expression's type, as the checker found it.
    pub output: Type,
}

/// Parses and checks `source` with `variables` declared.
pub fn compile(source: &str, variables: &[(String, Type)]) -> Result<Program, Issues> {
    let mut expr = parser::parse(source)?;
    let output = checker::check(&mut expr, variables).map_err(|issues| Issues { expression: source.to_string(), issues })?;
    let mut regexes = HashMap::new();
    let mut issues = Vec::new();
    literal_patterns(&expr, &mut regexes, &mut issues);
    if !issues.is_empty() {
        return Err(Issues { expression: source.to_string(), issues });
    }
    Ok(Program { expr, regexes, output })
}

/// Compiles a regular expression as Go's `regexp.Compile` would (RE2 syntax, unanchored),
/// within [`REGEX_SIZE_LIMIT`].
pub fn compile_regex(pattern: &str) -> Result<regex::Regex, regex::Error> {
    regex::RegexBuilder::new(pattern).size_limit(REGEX_SIZE_LIMIT).build()
}

/// [`compile_regex`] with cel-go's wording of an error.
fn compile_cel_regex(pattern: &str) -> Result<regex::Regex, String> {
    compile_regex(pattern).map_err(|error| format!("error parsing regexp: {error}"))
}

/// Compiles each literal pattern of a regex function, as kube's regex optimisation does at
/// compile time (so a bad literal pattern fails the rule, not each evaluation), and checks
/// literal durations and timestamps, as cel-go's literal validators do.
fn literal_patterns(expr: &Expr, out: &mut HashMap<String, Arc<regex::Regex>>, issues: &mut Vec<Issue>) {
    match &expr.kind {
        ExprKind::Call { function, target, args } => {
            let pattern = match (function.as_str(), target.is_some(), args.as_slice()) {
                ("matches" | "find" | "findAll", true, [pattern, ..]) | ("matches", false, [_, pattern]) => Some(pattern),
                _ => None,
            };
            if let Some(Expr { kind: ExprKind::Literal(Value::String(text)), offset }) = pattern {
                match compile_cel_regex(text) {
                    Ok(compiled) => {
                        out.insert(text.to_string(), Arc::new(compiled));
                    }
                    Err(error) => issues.push(Issue::new(*offset, error)),
                }
            }
            // cel-go checks literal durations and timestamps when it compiles.
            match (function.as_str(), target.is_none(), args.as_slice()) {
                ("duration", true, [Expr { kind: ExprKind::Literal(Value::String(text)), offset }]) if common::durations::parse_go_duration(text).is_err() => {
                    issues.push(Issue::new(*offset, "invalid duration argument"));
                }
                ("timestamp", true, [Expr { kind: ExprKind::Literal(literal), offset }]) => {
                    let valid = match literal {
                        Value::String(text) => time::parse_timestamp(text).is_ok(),
                        Value::Int(seconds) => jiff::Timestamp::from_second(*seconds).ok().and_then(|at| time::in_range(at).ok()).is_some(),
                        _ => true,
                    };
                    if !valid {
                        issues.push(Issue::new(*offset, "invalid timestamp"));
                    }
                }
                _ => {}
            }
            if let Some(target) = target {
                literal_patterns(target, out, issues);
            }
            for arg in args {
                literal_patterns(arg, out, issues);
            }
        }
        ExprKind::Select { operand, .. } => literal_patterns(operand, out, issues),
        ExprKind::List { elements, .. } => elements.iter().for_each(|element| literal_patterns(element, out, issues)),
        ExprKind::Map(entries) => entries.iter().for_each(|entry| {
            literal_patterns(&entry.key, out, issues);
            literal_patterns(&entry.value, out, issues);
        }),
        ExprKind::Comprehension(comprehension) => {
            literal_patterns(&comprehension.range, out, issues);
            if let Some(filter) = &comprehension.filter {
                literal_patterns(filter, out, issues);
            }
            literal_patterns(&comprehension.body, out, issues);
        }
        _ => {}
    }
}

impl Program {
    /// Whether the expression refers to `name` (kube: a rule using `oldSelf` is a transition
    /// rule).
    pub fn references(&self, name: &str) -> bool {
        self.expr.references(name)
    }

    /// The worst-case cost of one evaluation with `variables` (name, type, the schema's bound
    /// on its size) bound.
    pub fn estimate(&self, variables: &[(String, Type, Option<u64>)]) -> f64 {
        estimate::estimate(&self.expr, variables)
    }

    /// The value of the expression with `variables` bound, charging `cost`.
    pub fn evaluate(&self, variables: Vec<(String, Value)>, cost: &mut Cost) -> Result<Value, EvalError> {
        // Patterns the rule builds as it runs (`''.matches(self.p)` in a loop) are compiled
        // once per evaluation, not once per call: the call is charged for the pattern's
        // length each time, the compile happens once.
        let dynamic: RefCell<HashMap<String, Arc<regex::Regex>>> = RefCell::new(HashMap::new());
        let regexes = |pattern: &str| -> Result<Arc<regex::Regex>, EvalError> {
            if let Some(compiled) = self.regexes.get(pattern).or(dynamic.borrow().get(pattern)) {
                return Ok(compiled.clone());
            }
            let compiled = compile_cel_regex(pattern).map(Arc::new).map_err(EvalError::Message)?;
            let mut dynamic = dynamic.borrow_mut();
            if dynamic.len() < DYNAMIC_REGEX_CACHE {
                dynamic.insert(pattern.to_string(), compiled.clone());
            }
            Ok(compiled)
        };
        let mut evaluator = eval::Evaluator { scopes: variables, cost, regexes: &regexes };
        evaluator.eval(&self.expr)
    }
}

#[cfg(test)]
mod tests;
