//! Evaluates a checked expression over values, as cel-go's interpreter does: `&&` and `||`
//! commutative in their errors (`false && error` is false, whichever side errs), macros as
//! comprehensions, every node charged to the [`Cost`] so that no rule runs past its limit.
//! Recursion follows the tree, whose depth the parser bounds.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::ast::{Comprehension, Expr, ExprKind, MacroKind};
use super::checker::{TYPE_NAMES, qualified_name};
use super::cost::Cost;
use super::error::EvalError;
use super::library::{self, Context};
use super::operators::{arithmetic, index, membership, negate, no_such_key, relation, shown_key};
use super::types::ListKind;
use super::value::{Key, List, Value};

type Outcome = Result<Value, EvalError>;

pub struct Evaluator<'a> {
    pub scopes: Vec<(String, Value)>,
    pub cost: &'a mut Cost,
    pub regexes: &'a dyn Fn(&str) -> Result<Arc<regex::Regex>, EvalError>,
}

fn as_bool(value: Outcome) -> Result<bool, EvalError> {
    match value? {
        Value::Bool(flag) => Ok(flag),
        _ => Err(EvalError::no_overload()),
    }
}

impl Evaluator<'_> {
    pub fn eval(&mut self, expr: &Expr) -> Outcome {
        self.cost.charge(1)?;
        match &expr.kind {
            ExprKind::Literal(value) => Ok(value.clone()),
            ExprKind::Ident(name) => match self.scopes.iter().rev().find(|(bound, _)| bound == name) {
                Some((_, value)) => Ok(value.clone()),
                None if TYPE_NAMES.contains(&name.as_str()) => Ok(Value::Type(Arc::from(name.as_str()))),
                None => Err(EvalError::message(format!("no such attribute(s): {name}"))),
            },
            ExprKind::Select { operand, field, presence, optional } => {
                // A dotted type name (`net.IP`), which the checker let through.
                if let Some(name) = qualified_name(expr).filter(|name| TYPE_NAMES.contains(&name.as_str()))
                    && name.split('.').next().is_some_and(|root| !self.scopes.iter().any(|(bound, _)| bound == root))
                {
                    return Ok(Value::Type(Arc::from(name.as_str())));
                }
                let operand = self.eval(operand)?;
                select(&operand, field, *presence, *optional)
            }
            ExprKind::Call { function, target, args } => self.call(function, target.as_deref(), args),
            ExprKind::List { elements, optional } => {
                let mut items = Vec::with_capacity(elements.len());
                for (at, element) in elements.iter().enumerate() {
                    let value = self.eval(element)?;
                    match value {
                        Value::Optional(inner) if optional.contains(&at) => items.extend(inner.map(|inner| (*inner).clone())),
                        other => items.push(other),
                    }
                }
                Ok(Value::list(items))
            }
            ExprKind::Map(entries) => {
                let mut map = BTreeMap::new();
                for entry in entries {
                    let key_value = self.eval(&entry.key)?;
                    let key = Key::from_value(&key_value).ok_or_else(EvalError::no_overload)?;
                    let value = match self.eval(&entry.value)? {
                        Value::Optional(None) if entry.optional => continue,
                        Value::Optional(Some(inner)) if entry.optional => (*inner).clone(),
                        other => other,
                    };
                    if map.insert(key, value).is_some() {
                        return Err(EvalError::message(format!("Failed with repeated key: {}", shown_key(&key_value))));
                    }
                }
                Ok(Value::Map(Arc::new(map)))
            }
            ExprKind::Comprehension(comprehension) => self.comprehension(comprehension),
        }
    }

    fn call(&mut self, function: &str, target: Option<&Expr>, args: &[Expr]) -> Outcome {
        match (function, args) {
            ("_&&_", [left, right]) => return self.logical(left, right, false),
            ("_||_", [left, right]) => return self.logical(left, right, true),
            ("_?_:_", [condition, truthy, falsy]) => {
                return if as_bool(self.eval(condition))? { self.eval(truthy) } else { self.eval(falsy) };
            }
            _ => {}
        }
        let receiver = target.map(|target| self.eval(target)).transpose()?;
        let mut values = Vec::with_capacity(args.len());
        for arg in args {
            values.push(self.eval(arg)?);
        }
        match (function, values.as_slice()) {
            ("!_", [value]) => as_bool(Ok(value.clone())).map(|flag| Value::Bool(!flag)),
            ("-_", [value]) => negate(value),
            ("_==_" | "_!=_", [left, right]) => {
                let same = self.cost.equal(left, right)?;
                Ok(Value::Bool(same == (function == "_==_")))
            }
            ("_<_" | "_<=_" | "_>_" | "_>=_", [left, right]) => relation(function, left, right),
            ("_+_" | "_-_" | "_*_" | "_/_" | "_%_", [left, right]) => {
                // Concatenations build a value as long as both sides: charge for it, bounded,
                // before building it (the sides may be shared parts of one big value).
                match (left, right) {
                    (Value::String(a), Value::String(b)) => self.cost.output(a.len().checked_add(b.len()))?,
                    (Value::Bytes(a), Value::Bytes(b)) => self.cost.output(a.len().checked_add(b.len()))?,
                    (Value::List(a), Value::List(b)) => {
                        self.cost.output(a.items.len().checked_add(b.items.len()))?;
                        // A set's union compares every pair.
                        if a.kind == ListKind::Set {
                            self.cost.traverse(a.items.len().saturating_mul(b.items.len()))?;
                        }
                    }
                    _ => {}
                }
                arithmetic(function, left, right)
            }
            ("@in", [element, container]) => {
                if let Value::List(list) = container {
                    // Each item compared is charged for what comparing it costs.
                    self.cost.traverse(list.items.len())?;
                    for item in &list.items {
                        if self.cost.equal(item, element)? {
                            return Ok(Value::Bool(true));
                        }
                    }
                    return Ok(Value::Bool(false));
                }
                membership(element, container)
            }
            ("_[_]", [container, key]) => index(container, key, false),
            ("_[?_]", [container, key]) => index(container, key, true),
            _ => {
                let mut context = Context { cost: self.cost, regexes: self.regexes };
                library::call(&mut context, function, receiver.as_ref(), &values)
            }
        }
    }

    /// `&&` (`stop_on` false) and `||` (true): the deciding value of either side wins over an
    /// error on the other.
    fn logical(&mut self, left: &Expr, right: &Expr, stop_on: bool) -> Outcome {
        let left = as_bool(self.eval(left));
        if let Ok(flag) = left
            && flag == stop_on
        {
            return Ok(Value::Bool(stop_on));
        }
        let right = as_bool(self.eval(right));
        match (left, right) {
            (_, Ok(flag)) if flag == stop_on => Ok(Value::Bool(stop_on)),
            (Err(error), _) | (_, Err(error)) => match error {
                // Running out of budget stops everything, whatever the other side said.
                EvalError::CostExceeded => Err(EvalError::CostExceeded),
                other => Err(other),
            },
            (Ok(_), Ok(_)) => Ok(Value::Bool(!stop_on)),
        }
    }

    fn comprehension(&mut self, comprehension: &Comprehension) -> Outcome {
        let range = self.eval(&comprehension.range)?;
        let items: Vec<Value> = match &range {
            Value::List(list) => list.items.clone(),
            Value::Map(map) => map.keys().map(Key::to_value).collect(),
            _ => return Err(EvalError::no_overload()),
        };
        let mut error = None;
        let mut count = 0usize;
        let mut out = Vec::new();
        for item in items {
            self.cost.charge(1)?;
            self.scopes.push((comprehension.variable.clone(), item.clone()));
            let step = self.step(comprehension, &item);
            self.scopes.pop();
            match (comprehension.kind, step) {
                (_, Err(EvalError::CostExceeded)) => return Err(EvalError::CostExceeded),
                (MacroKind::All, Ok(Some(Value::Bool(false)))) => return Ok(Value::Bool(false)),
                (MacroKind::Exists, Ok(Some(Value::Bool(true)))) => return Ok(Value::Bool(true)),
                (MacroKind::All | MacroKind::Exists, Ok(Some(Value::Bool(_)))) => {}
                (MacroKind::All | MacroKind::Exists, Err(found)) => error = Some(found),
                (MacroKind::ExistsOne, Ok(Some(Value::Bool(flag)))) => count += usize::from(flag),
                (MacroKind::Map, Ok(Some(value))) => out.push(value),
                (MacroKind::Filter, Ok(Some(Value::Bool(keep)))) => {
                    if keep {
                        out.push(item);
                    }
                }
                (MacroKind::Map, Ok(None)) => {}
                (_, Err(found)) => return Err(found),
                (_, Ok(_)) => return Err(EvalError::no_overload()),
            }
        }
        if let Some(error) = error {
            return Err(error);
        }
        Ok(match comprehension.kind {
            MacroKind::All => Value::Bool(true),
            MacroKind::Exists => Value::Bool(false),
            MacroKind::ExistsOne => Value::Bool(count == 1),
            MacroKind::Map | MacroKind::Filter => Value::List(Arc::new(List { items: out, kind: Default::default() })),
        })
    }

    /// One iteration: the body's value, or `None` where a `map`'s filter skipped the item.
    fn step(&mut self, comprehension: &Comprehension, _item: &Value) -> Result<Option<Value>, EvalError> {
        if let Some(filter) = &comprehension.filter
            && !as_bool(self.eval(filter))?
        {
            return Ok(None);
        }
        self.eval(&comprehension.body).map(Some)
    }
}

/// `operand.field`, `has(operand.field)` and `operand.?field`.
fn select(operand: &Value, field: &str, presence: bool, optional: bool) -> Outcome {
    let found = match operand {
        Value::Object(fields) => fields.get(field).cloned(),
        Value::Map(map) => Value::map_get(map, &Value::string(field)).cloned(),
        Value::Optional(None) => return Ok(if presence { Value::Bool(false) } else { Value::Optional(None) }),
        Value::Optional(Some(inner)) => {
            let inner = select(inner, field, presence, true)?;
            return Ok(inner);
        }
        _ => {
            return Err(if presence { EvalError::message("invalid type for field selection.") } else { EvalError::no_overload() });
        }
    };
    if presence {
        return Ok(Value::Bool(found.is_some()));
    }
    if optional {
        return Ok(Value::Optional(found.map(Arc::new)));
    }
    found.ok_or_else(|| no_such_key(&Value::string(field)))
}
