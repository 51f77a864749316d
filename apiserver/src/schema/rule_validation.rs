//! Custom objects against their `x-kubernetes-validations` rules, as kube's apiextensions
//! `cel.Validator` checks them: every rule of every node where a value is present (each item
//! of a list, each value of a map), transition rules (`oldSelf`) only where an old value
//! correlates (object fields, map keys, items of map lists by their keys), the whole object
//! bounded by kube's runtime cost budget. Rules that do not use `oldSelf` and fail on a value
//! the update left unchanged are reported as warnings (kube's validation ratcheting).

use std::collections::HashMap;

use serde_json::{Map, Value};

use crate::cause::Cause;
use crate::cel::{self, Cost, EvalError, Value as CelValue};

use super::render::invalid;
use super::rules::{Compiled, compiled};
use super::{AdditionalProperties, MAX_DEPTH, Rule, Structural, child, index, key};

/// kube's `MaxEvaluatedMessageExpressionSizeBytes`.
const MAX_MESSAGE_BYTES: usize = 5 * 1024;

/// The causes and warnings of `object`'s rules; `old` is the stored object on update.
#[derive(Debug, Default)]
pub struct RuleResults {
    pub causes: Vec<Cause>,
    pub warnings: Vec<String>,
}

/// The error kube adds in place of rule results when the object already has errors that
/// make rules meaningless (`hasBlockingErr`).
pub fn blocked() -> Cause {
    invalid("<nil>", &Value::Null, "some validation rules were not checked because the object was invalid; correct the existing errors to complete validation")
}

/// Whether any node of `schema` has rules (kube has no rule validator otherwise, so nothing
/// of rules shows in its answers).
pub fn has_rules(schema: &Structural) -> bool {
    *schema.rule_cache.any.get_or_init(|| any(schema, 0))
}

fn any(schema: &Structural, depth: usize) -> bool {
        depth <= MAX_DEPTH
            && (!schema.validations.is_empty()
                || schema.properties.values().any(|property| any(property, depth + 1))
                || schema.items.as_deref().is_some_and(|items| any(items, depth + 1))
                || matches!(&schema.additional_properties, Some(AdditionalProperties::Schema(values)) if any(values, depth + 1)))
}

/// Whether `causes` hold an error kube lets no rule run after.
pub fn blocking(causes: &[Cause]) -> bool {
    causes.iter().any(|cause| matches!(cause.reason, "FieldValueNotSupported" | "FieldValueRequired" | "FieldValueTooLong" | "FieldValueTooMany" | "FieldValueTypeInvalid"))
}

/// How long a write waits for one of the process's evaluation permits ([`cel::permit`])
/// before it is refused as too many requests: short, since it waits on a tokio worker.
const PERMIT_WAIT: std::time::Duration = std::time::Duration::from_millis(250);

/// The results of `object`'s rules, or [`Busy`](cel::permit::Busy) when too many objects'
/// rules are being evaluated already.
pub fn validate_rules(schema: &Structural, object: &Value, old: Option<&Value>) -> Result<RuleResults, cel::permit::Busy> {
    let _permit = cel::permit::acquire(PERMIT_WAIT)?;
    let validated = cel::with_stack(|| {
        let deadline = std::time::Instant::now() + cel::cost::OBJECT_TIME_LIMIT;
        let mut walk = Walk { budget: cel::cost::PER_OBJECT_BUDGET, deadline, stopped: false, out: RuleResults::default() };
        walk.node(schema, object, old, "", true, false, 0);
        walk.out
    });
    Ok(validated.unwrap_or_else(|| RuleResults { causes: vec![Cause { reason: "InternalError", field: "<nil>".into(), message: "Internal error: the rules could not be evaluated".into() }], warnings: Vec::new() }))
}

struct Walk {
    /// What is left of the object's cost budget.
    budget: u64,
    /// When the object's rules must stop, however much budget is left.
    deadline: std::time::Instant,
    /// Set once kube would run no further rule.
    stopped: bool,
    out: RuleResults,
}

impl Walk {
    /// One node; `parent_unchanged` says whether the nearest node with an old value to
    /// compare is unchanged, which is what ratchets a node without one (kube's
    /// `nearestParentCorrelation`).
    #[allow(clippy::too_many_arguments)]
    fn node(&mut self, schema: &Structural, value: &Value, old: Option<&Value>, path: &str, root: bool, parent_unchanged: bool, depth: usize) {
        if depth > MAX_DEPTH || self.stopped || value.is_null() {
            return;
        }
        let old = old.filter(|old| !old.is_null());
        let unchanged = old.map_or(parent_unchanged, |old| old == value);
        if !schema.validations.is_empty() {
            self.rules(schema, value, old, path, root, unchanged);
        }
        match value {
            Value::Object(fields) => self.object(schema, fields, old.and_then(Value::as_object), path, unchanged, depth),
            Value::Array(items) => {
                if let Some(item_schema) = &schema.items {
                    let old_items = old.and_then(Value::as_array).and_then(|old_items| OldItems::index(schema, old_items));
                    for (at, item) in items.iter().enumerate() {
                        let old_item = old_items.as_ref().and_then(|old_items| old_items.correlated(schema, item));
                        self.node(item_schema, item, old_item, &index(path, at), false, unchanged, depth + 1);
                    }
                }
            }
            _ => {}
        }
    }

    fn object(&mut self, schema: &Structural, fields: &Map<String, Value>, old: Option<&Map<String, Value>>, path: &str, unchanged: bool, depth: usize) {
        let correlatable = matches!(schema.map_type.as_deref(), None | Some("granular" | "atomic"));
        let old_of = |name: &str| old.filter(|_| correlatable).and_then(|old| old.get(name));
        if let Some(AdditionalProperties::Schema(values)) = &schema.additional_properties {
            for (name, value) in fields {
                self.node(values, value, old_of(name), &key(path, name), false, unchanged, depth + 1);
            }
        }
        for (name, value) in fields {
            if let Some(property) = schema.properties.get(name) {
                self.node(property, value, old_of(name), &child(path, name), false, unchanged, depth + 1);
            }
        }
    }

    fn rules(&mut self, schema: &Structural, value: &Value, old: Option<&Value>, path: &str, root: bool, unchanged: bool) {
        let type_name = schema.type_.clone();
        let node = compiled(schema, root);
        let self_value = cel::from_json(value, &node.self_type);
        let old_value = old.map(|old| cel::from_json(old, &node.self_type));
        for (rule, program) in schema.validations.iter().zip(&node.rules) {
            if self.budget == 0 {
                self.fail(path, &type_name, "validation failed due to running out of cost budget, no further validation rules will be run");
                self.stopped = true;
                return;
            }
            let Ok(rule_program) = &program.rule else {
                if let Err(error) = &program.rule {
                    self.fail(path, &type_name, &format!("rule compile error: {error}"));
                }
                continue;
            };
            let optional_old_self = rule.optional_old_self == Some(true);
            if program.uses_old_self && old_value.is_none() && !optional_old_self {
                continue;
            }
            let mut variables = vec![("self".to_string(), self_value.clone())];
            let old_binding = match (&old_value, optional_old_self) {
                (old, true) => Some(CelValue::Optional(old.clone().map(std::sync::Arc::new))),
                (Some(old), false) => Some(old.clone()),
                (None, false) => None,
            };
            variables.extend(old_binding.map(|old| ("oldSelf".to_string(), old)));
            let mut cost = Cost::with_deadline(cel::cost::PER_CALL_LIMIT.min(self.budget), self.deadline);
            let result = rule_program.evaluate(variables.clone(), &mut cost);
            self.budget = self.budget.saturating_sub(cost.used);
            let shown = rule_text(rule);
            match result {
                Ok(CelValue::Bool(true)) => {}
                Ok(_) => {
                    let at = match &program.field_path {
                        Some(field_path) => child(path, field_path),
                        None => path.to_string(),
                    };
                    let message = self.message(program, variables).unwrap_or_else(|| default_message(rule));
                    let cause = for_reason(rule.reason.as_deref(), shown_path(&at), &type_name, &message);
                    if unchanged && !program.uses_old_self {
                        self.out.warnings.push(cause.rendered());
                    } else {
                        self.out.causes.push(cause);
                    }
                }
                Err(EvalError::CostExceeded) if cost.used > cel::cost::PER_CALL_LIMIT => {
                    let detail = format!("'{}': no further validation rules will be run due to call cost exceeds limit for rule: {shown}", EvalError::CostExceeded);
                    self.fail(path, &type_name, &detail);
                    self.stopped = true;
                    return;
                }
                Err(EvalError::CostExceeded) => {
                    self.fail(path, &type_name, "validation failed due to running out of cost budget, no further validation rules will be run");
                    self.stopped = true;
                    return;
                }
                Err(EvalError::Message(error)) if error.starts_with("no such overload") => {
                    self.fail(path, &type_name, &format!("'{error}': call arguments did not match a supported operator, function or macro signature for rule: {shown}"));
                }
                Err(EvalError::Message(error)) => self.fail(path, &type_name, &format!("{error} evaluating rule: {shown}")),
            }
        }
    }

    /// The `messageExpression`'s text, or `None` to fall back to the rule's message, as kube
    /// does when the expression fails or gives no usable text.
    fn message(&mut self, program: &Compiled, variables: Vec<(String, CelValue)>) -> Option<String> {
        let Some(Ok(message_program)) = &program.message else { return None };
        let mut cost = Cost::with_deadline(cel::cost::PER_CALL_LIMIT.min(self.budget), self.deadline);
        let result = message_program.evaluate(variables, &mut cost);
        self.budget = self.budget.saturating_sub(cost.used);
        match result {
            Ok(CelValue::String(text)) => {
                let trimmed = text.trim();
                (!trimmed.is_empty() && trimmed.len() <= MAX_MESSAGE_BYTES && !trimmed.contains('\n')).then(|| trimmed.to_string())
            }
            _ => None,
        }
    }

    fn fail(&mut self, path: &str, type_name: &str, detail: &str) {
        self.out.causes.push(invalid(shown_path(path), &type_name.into(), detail));
    }
}

/// A field path as kube's `field.Path` prints it: the root (a nil path) as `<nil>`.
fn shown_path(path: &str) -> String {
    if path.is_empty() { "<nil>".to_string() } else { path.to_string() }
}

/// The old items of a map list by their keys, built once per list so that correlating every
/// new item is a lookup, not a search of the old list (quadratic for lists of 100k items).
struct OldItems<'a> {
    by_keys: HashMap<Vec<Option<String>>, &'a Value>,
}

impl<'a> OldItems<'a> {
    /// `None` where the list is not a map list, whose items correlate with nothing.
    fn index(schema: &Structural, old_items: &'a [Value]) -> Option<Self> {
        if schema.list_type.as_deref() != Some("map") || schema.list_map_keys.is_empty() {
            return None;
        }
        let mut by_keys = HashMap::with_capacity(old_items.len());
        for old in old_items {
            // The first item with given keys wins, as a search from the front would find it.
            by_keys.entry(keys_of(schema, old)).or_insert(old);
        }
        Some(Self { by_keys })
    }

    /// The old item a new item correlates with: the one with the same keys.
    fn correlated(&self, schema: &Structural, item: &Value) -> Option<&'a Value> {
        self.by_keys.get(&keys_of(schema, item)).copied()
    }
}

/// An item's map-list keys, as JSON text (a missing key apart from a `null` one).
fn keys_of(schema: &Structural, item: &Value) -> Vec<Option<String>> {
    schema.list_map_keys.iter().map(|name| item.get(name).map(Value::to_string)).collect()
}

/// kube's `ruleErrorString`: the message if there is one, else the rule.
fn rule_text(rule: &Rule) -> String {
    match rule.message.as_deref().map(str::trim).filter(|message| !message.is_empty()) {
        Some(message) => message.to_string(),
        None => rule.rule.trim().to_string(),
    }
}

/// kube's `ruleMessageOrDefault`.
fn default_message(rule: &Rule) -> String {
    match rule.message.as_deref().filter(|message| !message.is_empty()) {
        Some(message) => message.trim().to_string(),
        None => format!("failed rule: {}", rule_text(rule)),
    }
}

/// kube's `fieldErrorForReason`: the value shown is the node's schema type.
fn for_reason(reason: Option<&str>, field: String, type_name: &str, message: &str) -> Cause {
    match reason {
        Some("FieldValueForbidden") => Cause::forbidden(field, message),
        Some("FieldValueRequired") => Cause::required(field, message),
        Some("FieldValueDuplicate") => super::render::duplicate(field, &type_name.into()),
        _ => invalid(field, &type_name.into(), message),
    }
}
