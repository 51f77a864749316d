//! The worst-case cost of an expression, estimated before it runs as cel-go's cost estimator
//! estimates it (roughly: the same unit costs, traversals a tenth of a unit per character or
//! item, comprehensions their body times the range's largest size). Sizes come from the
//! declared bounds (`maxLength`, `maxItems`); an unbounded string or list is as large as a
//! request could make it, as kube assumes. kube refuses a rule whose estimate, times the
//! number of places it runs, passes its budget.

use super::ast::{Expr, ExprKind, MacroKind};
use super::types::Type;
use super::value::Value;

/// kube's `maxRequestSizeBytes`.
const MAX_REQUEST_BYTES: f64 = 3_145_728.0;

/// The longest string a request can hold (less its quotes).
pub const UNBOUNDED_STRING: f64 = MAX_REQUEST_BYTES - 2.0;

/// The most items a request's list can hold: each at least two bytes and a comma.
pub const UNBOUNDED_LIST: f64 = (MAX_REQUEST_BYTES - 2.0) / 3.0;

/// The most entries a request's map can hold: a two-byte key, a colon, a two-byte value and
/// a comma each.
pub const UNBOUNDED_MAP: f64 = (MAX_REQUEST_BYTES - 2.0) / 6.0;

/// cel-go's cost factor per character or item traversed.
const TRAVERSAL: f64 = 0.1;

/// cel-go's cost factor per character of a regular expression.
const REGEX_LENGTH: f64 = 0.25;

/// A value's type and the largest size it can have (characters, items, entries).
#[derive(Clone)]
struct Shape {
    type_: Type,
    size: f64,
}

impl Shape {
    fn scalar(type_: Type) -> Self {
        Shape { type_, size: 0.0 }
    }

    /// The shape of a value of `type_` whose schema bounds its size by `bound`.
    fn of(type_: &Type, bound: Option<u64>) -> Self {
        let declared = bound.map(|bound| bound as f64);
        let size = match type_ {
            // `maxLength` counts characters, kube's sizes bytes: up to four a character.
            Type::String => declared.map_or(UNBOUNDED_STRING, |length| length * 4.0),
            Type::Bytes | Type::Dyn => declared.unwrap_or(UNBOUNDED_STRING),
            Type::List(list) => declared.or(list.max_items.map(|max| max as f64)).unwrap_or(UNBOUNDED_LIST),
            Type::Map(..) => declared.unwrap_or(UNBOUNDED_MAP),
            Type::Object(object) => object.fields.len() as f64,
            _ => 0.0,
        };
        Shape { type_: type_.clone(), size }
    }

    /// The most characters the value can show as text (`format`'s `%s`): a list or map all
    /// its items at their largest, a scalar a number's or timestamp's width.
    fn text_size(&self, depth: usize) -> f64 {
        // Types nest no deeper than schemas do; past that, take the size as it stands.
        if depth > 32 {
            return self.size;
        }
        match &self.type_ {
            Type::String | Type::Bytes | Type::Dyn => self.size,
            Type::List(_) => self.size * (self.element().text_size(depth + 1) + 2.0),
            Type::Map(_, value) => self.size * (Shape::of(value, None).text_size(depth + 1) + 4.0),
            _ => 32.0,
        }
    }

    /// The shape of one item (of a list) or key (of a map).
    fn element(&self) -> Shape {
        match &self.type_ {
            Type::List(list) => Shape::of(&list.element, list.element_max_size),
            // kube declares a map's keys as a plain string with no size (its `StringType`),
            // which its estimate takes as empty.
            Type::Map(key, _) => Shape::scalar((**key).clone()),
            _ => Shape::of(&Type::Dyn, None),
        }
    }
}

/// The estimated worst-case cost of `expr` with `variables` (name, type, size bound).
pub fn estimate(expr: &Expr, variables: &[(String, Type, Option<u64>)]) -> f64 {
    let mut estimator = Estimator { scopes: variables.iter().map(|(name, type_, bound)| (name.clone(), Shape::of(type_, *bound))).collect() };
    estimator.cost(expr).0
}

struct Estimator {
    scopes: Vec<(String, Shape)>,
}

impl Estimator {
    fn cost(&mut self, expr: &Expr) -> (f64, Shape) {
        match &expr.kind {
            ExprKind::Literal(Value::String(text)) => (0.0, Shape { type_: Type::String, size: text.len() as f64 }),
            ExprKind::Literal(Value::Bytes(bytes)) => (0.0, Shape { type_: Type::Bytes, size: bytes.len() as f64 }),
            ExprKind::Literal(_) => (0.0, Shape::scalar(Type::Int)),
            ExprKind::Ident(name) => {
                let shape = self.scopes.iter().rev().find(|(bound, _)| bound == name).map_or_else(|| Shape::scalar(Type::Dyn), |(_, shape)| shape.clone());
                (1.0, shape)
            }
            ExprKind::Select { operand, field, presence, .. } => {
                let (cost, operand) = self.cost(operand);
                let shape = match &operand.type_ {
                    _ if *presence => Shape::scalar(Type::Bool),
                    Type::Object(object) => object.fields.get(field).map_or_else(|| Shape::of(&Type::Dyn, None), |declared| Shape::of(&declared.type_, declared.max_size)),
                    Type::Map(_, value) => Shape::of(value, None),
                    Type::Optional(inner) => Shape::of(inner, None),
                    _ => Shape::of(&Type::Dyn, None),
                };
                (cost + 1.0, shape)
            }
            ExprKind::List { elements, .. } => {
                let mut cost = 10.0;
                let mut element = Shape::scalar(Type::Dyn);
                for item in elements {
                    let (item_cost, shape) = self.cost(item);
                    cost += item_cost;
                    element = shape;
                }
                (cost, Shape { type_: Type::list(element.type_), size: elements.len() as f64 })
            }
            ExprKind::Map(entries) => {
                let mut cost = 30.0;
                for entry in entries {
                    cost += self.cost(&entry.key).0 + self.cost(&entry.value).0;
                }
                (cost, Shape { type_: Type::map(Type::Dyn, Type::Dyn), size: entries.len() as f64 })
            }
            ExprKind::Call { function, target, args } => self.call(function, target.as_deref(), args),
            ExprKind::Comprehension(comprehension) => {
                let (range_cost, range) = self.cost(&comprehension.range);
                let element = range.element();
                self.scopes.push((comprehension.variable.clone(), element.clone()));
                let filter = comprehension.filter.as_ref().map_or(0.0, |filter| self.cost(filter).0);
                let (body_cost, body) = self.cost(&comprehension.body);
                self.scopes.pop();
                let cost = range_cost + range.size * (filter + body_cost + 1.0);
                let shape = match comprehension.kind {
                    MacroKind::All | MacroKind::Exists | MacroKind::ExistsOne => Shape::scalar(Type::Bool),
                    MacroKind::Map => Shape { type_: Type::list(body.type_), size: range.size },
                    MacroKind::Filter => Shape { type_: Type::list(element.type_), size: range.size },
                };
                (cost, shape)
            }
        }
    }

    fn call(&mut self, function: &str, target: Option<&Expr>, args: &[Expr]) -> (f64, Shape) {
        let mut cost = 1.0;
        let mut shapes = Vec::new();
        if let Some(target) = target {
            let (target_cost, shape) = self.cost(target);
            cost += target_cost;
            shapes.push(shape);
        }
        let mut branches = Vec::new();
        for arg in args {
            let (arg_cost, shape) = self.cost(arg);
            branches.push(arg_cost);
            shapes.push(shape);
        }
        let first = shapes.first().map_or(0.0, |shape| shape.size);
        let second = shapes.get(1).map_or(0.0, |shape| shape.size);
        // A conditional costs its condition and the dearer branch; every other call all of
        // its arguments.
        cost += match (function, branches.as_slice()) {
            ("_?_:_", [condition, truthy, falsy]) => condition + truthy.max(*falsy),
            _ => branches.iter().sum(),
        };
        let string_result = |size: f64| Shape { type_: Type::String, size };
        let (extra, shape) = match function {
            "_?_:_" => (0.0, if second >= shapes.get(2).map_or(0.0, |shape| shape.size) { shapes.get(1).cloned() } else { shapes.get(2).cloned() }.unwrap_or_else(|| Shape::scalar(Type::Dyn))),
            "_[_]" | "_[?_]" => (0.0, match shapes.first().map(|shape| &shape.type_) {
                Some(Type::Map(_, value)) => Shape::of(value, None),
                Some(_) => shapes.first().map(Shape::element).unwrap_or_else(|| Shape::scalar(Type::Dyn)),
                None => Shape::scalar(Type::Dyn),
            }),
            "matches" | "find" | "findAll" => {
                // The text and the pattern come first and second, as receiver or argument.
                let (text, pattern) = (first, second);
                // The pattern is charged on each call too, whatever the text (see the library).
                (TRAVERSAL * text * (REGEX_LENGTH * pattern).max(1.0) + REGEX_LENGTH * pattern, if function == "findAll" { Shape { type_: Type::list(Type::String), size: text } } else { string_result(text) })
            }
            "_+_" => match shapes.first().map(|shape| &shape.type_) {
                Some(Type::List(_)) => (first + second, Shape { type_: shapes[0].type_.clone(), size: first + second }),
                _ => (TRAVERSAL * (first + second), string_result(first + second)),
            },
            "_==_" | "_!=_" => (TRAVERSAL * first.min(second), Shape::scalar(Type::Bool)),
            "@in" => (second, Shape::scalar(Type::Bool)),
            "contains" | "startsWith" | "endsWith" | "indexOf" | "lastIndexOf" | "charAt" | "isURL" | "url" | "isQuantity" | "quantity" | "isIP" | "ip" | "isCIDR" | "cidr" | "sum" | "min" | "max" | "isSorted" => {
                (TRAVERSAL * first, Shape::scalar(Type::Dyn))
            }
            // A joined list is as long as all its items (and separators) together, not as
            // the list has items.
            "join" => {
                let item = shapes.first().map_or(0.0, |list| list.element().size);
                let size = first * (item + second);
                (TRAVERSAL * size, string_result(size))
            }
            // `format`'s list argument may be shown whole (`%s`), every item at its largest.
            "format" => {
                let size = first + shapes.get(1).map_or(0.0, |list| list.text_size(0));
                (TRAVERSAL * size, string_result(size))
            }
            "lowerAscii" | "upperAscii" | "trim" | "substring" | "replace" | "reverse" | "string" => (TRAVERSAL * first, string_result(first)),
            "split" => (TRAVERSAL * first, Shape { type_: Type::list(Type::String), size: first }),
            "size" => (0.0, Shape::scalar(Type::Int)),
            "sets.contains" | "sets.intersects" | "sets.equivalent" => (first * second, Shape::scalar(Type::Bool)),
            _ => (0.0, shapes.first().cloned().filter(|_| function == "orValue" || function == "value" || function == "dyn").unwrap_or_else(|| Shape::scalar(Type::Dyn))),
        };
        (cost + extra, shape)
    }
}
