//! Types an expression against its declared variables, as cel-go's checker does: undeclared
//! names and fields, and calls no overload accepts, are compile errors worded as cel-go's.
//! `dyn` matches every type, so values of undeclared shape are checked when evaluated.
//! Namespaced functions (`optional.of`, `ip.isCanonical`) are resolved here, rewriting the
//! call, since only the checker knows whether `ip` is a variable.

use std::sync::Arc;

use super::ast::{Expr, ExprKind, MacroKind};
use super::error::Issue;
use super::library::signatures::{Overload, overloads};
use super::types::Type;
use super::value::Value;

/// The names types go by as values (`type(x) == int`).
pub const TYPE_NAMES: &[&str] = &[
    "int", "uint", "double", "bool", "string", "bytes", "list", "map", "null_type", "type", "dyn", "optional_type",
    "google.protobuf.Duration", "google.protobuf.Timestamp", "net.IP", "net.CIDR", "kubernetes.URL", "kubernetes.Quantity",
];

/// The dotted name `expr` spells (`net.IP`), when it is identifiers and fields only.
pub fn qualified_name(expr: &Expr) -> Option<String> {
    match &expr.kind {
        ExprKind::Ident(name) => Some(name.clone()),
        ExprKind::Select { operand, field, presence: false, optional: false } => qualified_name(operand).map(|prefix| format!("{prefix}.{field}")),
        _ => None,
    }
}

/// The outermost identifier of a dotted name.
fn root_ident(expr: &Expr) -> Option<&str> {
    match &expr.kind {
        ExprKind::Ident(name) => Some(name),
        ExprKind::Select { operand, .. } => root_ident(operand),
        _ => None,
    }
}

/// The type of `expr` with `variables` in scope, or the issues that make it ill-typed.
pub fn check(expr: &mut Expr, variables: &[(String, Type)]) -> Result<Type, Vec<Issue>> {
    let mut checker = Checker { scopes: variables.to_vec(), issues: Vec::new(), heterogeneous: false };
    let found = checker.expr(expr);
    match found {
        Some(found) if checker.issues.is_empty() => Ok(found),
        _ => Err(checker.issues),
    }
}

struct Checker {
    scopes: Vec<(String, Type)>,
    issues: Vec<Issue>,
    /// Set while the list literal argument of `format` is checked: its items may differ.
    heterogeneous: bool,
}

/// Bound type parameters while one overload is tried.
type Bindings = Vec<(&'static str, Type)>;

impl Checker {
    fn fail(&mut self, offset: usize, message: String) -> Option<Type> {
        self.issues.push(Issue::new(offset, message));
        None
    }

    fn lookup(&self, name: &str) -> Option<&Type> {
        self.scopes.iter().rev().find(|(bound, _)| bound == name).map(|(_, type_)| type_)
    }

    /// The expression's type; `None` once an issue is recorded (its parents stay quiet).
    fn expr(&mut self, expr: &mut Expr) -> Option<Type> {
        let offset = expr.offset;
        // Only a list literal given straight to `format` is exempt from homogeneity.
        if !matches!(expr.kind, ExprKind::List { .. }) {
            self.heterogeneous = false;
        }
        // A dotted type name (`net.IP`) whose first part is no variable.
        if let ExprKind::Select { operand, .. } = &expr.kind
            && root_ident(operand).is_some_and(|root| self.lookup(root).is_none())
            && qualified_name(expr).is_some_and(|name| TYPE_NAMES.contains(&name.as_str()))
        {
            return Some(Type::Metatype);
        }
        match &mut expr.kind {
            ExprKind::Literal(value) => Some(literal_type(value)),
            ExprKind::Ident(name) => match self.lookup(name) {
                Some(found) => Some(found.clone()),
                None if TYPE_NAMES.contains(&name.as_str()) => Some(Type::Metatype),
                None => {
                    let message = format!("undeclared reference to '{name}' (in container '')");
                    self.fail(offset, message)
                }
            },
            ExprKind::Select { operand, field, presence, optional } => {
                let (presence, optional, field) = (*presence, *optional, field.clone());
                let operand_type = self.expr(operand)?;
                let field_type = self.field(offset, &operand_type, &field)?;
                Some(if presence {
                    Type::Bool
                } else if optional && !matches!(field_type, Type::Optional(_)) {
                    Type::optional(field_type)
                } else {
                    field_type
                })
            }
            ExprKind::Call { .. } => self.call(expr),
            ExprKind::List { elements, optional } => {
                let optional = optional.clone();
                let heterogeneous = std::mem::replace(&mut self.heterogeneous, false);
                let mut types = Vec::new();
                for (at, element) in elements.iter_mut().enumerate() {
                    let found = self.expr(element)?;
                    let found = match found {
                        Type::Optional(inner) if optional.contains(&at) => (*inner).clone(),
                        other => other,
                    };
                    if !heterogeneous {
                        self.homogeneous(types.first(), &found, element.offset)?;
                    }
                    types.push(found);
                }
                Some(Type::list(join(&types)))
            }
            ExprKind::Map(entries) => {
                let mut keys = Vec::new();
                let mut values = Vec::new();
                for entry in entries.iter_mut() {
                    let key = self.expr(&mut entry.key)?;
                    self.homogeneous(keys.first(), &key, entry.key.offset)?;
                    keys.push(key);
                    let value = self.expr(&mut entry.value)?;
                    let value = match value {
                        Type::Optional(inner) if entry.optional => (*inner).clone(),
                        other => other,
                    };
                    self.homogeneous(values.first(), &value, entry.value.offset)?;
                    values.push(value);
                }
                Some(Type::map(join(&keys), join(&values)))
            }
            ExprKind::Comprehension(comprehension) => {
                let range = self.expr(&mut comprehension.range)?;
                let variable_type = match &range {
                    Type::List(list) => list.element.clone(),
                    Type::Map(key, _) => (**key).clone(),
                    Type::Dyn => Type::Dyn,
                    other => {
                        let message = format!("expression of type '{other}' cannot be the range of a comprehension (must be list, map, or dynamic)");
                        return self.fail(comprehension.range.offset, message);
                    }
                };
                self.scopes.push((comprehension.variable.clone(), variable_type.clone()));
                let filter = comprehension.filter.as_mut().map(|filter| (filter.offset, self.expr(filter)));
                let body_offset = comprehension.body.offset;
                let body = self.expr(&mut comprehension.body);
                self.scopes.pop();
                if let Some((filter_offset, filter)) = filter {
                    self.expect_bool(filter_offset, filter?)?;
                }
                let body = body?;
                match comprehension.kind {
                    MacroKind::All | MacroKind::Exists | MacroKind::ExistsOne => self.expect_bool(body_offset, body).map(|()| Type::Bool),
                    MacroKind::Map => Some(Type::list(body)),
                    MacroKind::Filter => self.expect_bool(body_offset, body).map(|()| Type::list(variable_type)),
                }
            }
        }
    }

    /// kube enables cel-go's homogeneous aggregate literals: every element of a list literal
    /// (every key, every value of a map literal) of the first one's type, `dyn` aside.
    fn homogeneous(&mut self, first: Option<&Type>, found: &Type, offset: usize) -> Option<()> {
        match first {
            Some(first) if !(first.is_dyn() || found.is_dyn() || same_kind(first, found)) => {
                self.fail(offset, format!("expected type '{first}' but found '{found}'")).map(|_| ())
            }
            _ => Some(()),
        }
    }

    fn expect_bool(&mut self, offset: usize, found: Type) -> Option<()> {
        if matches!(found, Type::Bool | Type::Dyn) {
            return Some(());
        }
        self.fail(offset, format!("found no matching overload for '_&&_' applied to '(bool, {found})'")).map(|_| ())
    }

    fn field(&mut self, offset: usize, operand: &Type, field: &str) -> Option<Type> {
        match operand {
            Type::Object(object) => match object.fields.get(field) {
                Some(declared) => Some(declared.type_.clone()),
                None => self.fail(offset, format!("undefined field '{field}'")),
            },
            Type::Map(_, value) => Some((**value).clone()),
            Type::Dyn => Some(Type::Dyn),
            Type::Optional(inner) => {
                let inner = self.field(offset, inner, field)?;
                Some(if matches!(inner, Type::Optional(_)) { inner } else { Type::optional(inner) })
            }
            other => self.fail(offset, format!("type '{other}' does not support field selection")),
        }
    }

    fn call(&mut self, expr: &mut Expr) -> Option<Type> {
        let offset = expr.offset;
        let ExprKind::Call { function, target, args } = &mut expr.kind else { return None };
        // `ns.function(args)` where `ns` is no variable: a namespaced global function.
        if let Some(ExprKind::Ident(namespace)) = target.as_deref().map(|target| &target.kind) {
            let qualified = format!("{namespace}.{function}");
            if self.lookup(namespace).is_none() && overloads().contains_key(&qualified) {
                *function = qualified;
                *target = None;
            }
        }
        let receiver = match target.as_deref_mut() {
            Some(target) => Some(self.expr(target)?),
            None => None,
        };
        // cel-go exempts `format`'s list of arguments from homogeneous literals.
        let exempt = function == "format";
        let mut arg_types = Vec::with_capacity(args.len());
        let mut failed = false;
        for arg in args.iter_mut() {
            let was = std::mem::replace(&mut self.heterogeneous, exempt);
            let checked = self.expr(arg);
            self.heterogeneous = was;
            match checked {
                Some(found) => arg_types.push(found),
                None => failed = true,
            }
        }
        if failed {
            return None;
        }
        let function = function.clone();
        let Some(candidates) = overloads().get(&function) else {
            return self.fail(offset, format!("undeclared reference to '{function}' (in container '')"));
        };
        let results: Vec<Type> = candidates.iter().filter_map(|overload| resolve(overload, receiver.as_ref(), &arg_types)).collect();
        if results.is_empty() {
            let shown: Vec<String> = arg_types.iter().map(ToString::to_string).collect();
            let applied = match &receiver {
                Some(receiver) => format!("{receiver}.({})", shown.join(", ")),
                None => format!("({})", shown.join(", ")),
            };
            return self.fail(offset, format!("found no matching overload for '{function}' applied to '{applied}'"));
        }
        Some(join(&results))
    }
}

fn literal_type(value: &Value) -> Type {
    match value {
        Value::Bool(_) => Type::Bool,
        Value::Int(_) => Type::Int,
        Value::Uint(_) => Type::Uint,
        Value::Double(_) => Type::Double,
        Value::String(_) => Type::String,
        Value::Bytes(_) => Type::Bytes,
        _ => Type::Null,
    }
}

/// The result type if `overload` accepts the receiver and arguments.
fn resolve(overload: &Overload, receiver: Option<&Type>, args: &[Type]) -> Option<Type> {
    if overload.args.len() != args.len() || overload.receiver.is_some() != receiver.is_some() {
        return None;
    }
    let mut bindings = Bindings::new();
    if let (Some(pattern), Some(actual)) = (&overload.receiver, receiver)
        && !unify(pattern, actual, &mut bindings)
    {
        return None;
    }
    for (pattern, actual) in overload.args.iter().zip(args) {
        if !unify(pattern, actual, &mut bindings) {
            return None;
        }
    }
    Some(substitute(&overload.result, &bindings))
}

fn unify(pattern: &Type, actual: &Type, bindings: &mut Bindings) -> bool {
    match (pattern, actual) {
        (Type::Param(name), _) => match bindings.iter().position(|(bound, _)| bound == name) {
            Some(at) => {
                let bound = bindings[at].1.clone();
                if bound.is_dyn() {
                    bindings[at].1 = actual.clone();
                    true
                } else {
                    bound.compatible(actual)
                }
            }
            None => {
                bindings.push((name, actual.clone()));
                true
            }
        },
        (_, Type::Dyn) | (Type::Dyn, _) => true,
        (Type::List(pattern), Type::List(actual)) => unify(&pattern.element, &actual.element, bindings),
        (Type::Map(pattern_key, pattern_value), Type::Map(key, value)) => unify(pattern_key, key, bindings) && unify(pattern_value, value, bindings),
        (Type::Optional(pattern), Type::Optional(actual)) => unify(pattern, actual, bindings),
        (Type::Opaque(pattern), Type::Opaque(actual)) => pattern == actual,
        _ => std::mem::discriminant(pattern) == std::mem::discriminant(actual),
    }
}

fn substitute(pattern: &Type, bindings: &Bindings) -> Type {
    match pattern {
        Type::Param(name) => bindings.iter().find(|(bound, _)| bound == name).map_or(Type::Dyn, |(_, found)| found.clone()),
        Type::List(list) => Type::list(substitute(&list.element, bindings)),
        Type::Map(key, value) => Type::Map(Arc::new(substitute(key, bindings)), Arc::new(substitute(value, bindings))),
        Type::Optional(inner) => Type::optional(substitute(inner, bindings)),
        other => other.clone(),
    }
}

/// Whether two types are the same kind of type and may hold the same values.
fn same_kind(first: &Type, other: &Type) -> bool {
    first.compatible(other) && std::mem::discriminant(first) == std::mem::discriminant(other)
}

/// The one type all of `types` are, or `dyn` when they differ (or there are none).
fn join(types: &[Type]) -> Type {
    let Some(first) = types.first() else { return Type::Dyn };
    let concrete = types.iter().find(|found| !found.is_dyn() && !matches!(found, Type::Null)).unwrap_or(first);
    if types.iter().all(|found| same_kind(concrete, found)) {
        concrete.clone()
    } else {
        Type::Dyn
    }
}
