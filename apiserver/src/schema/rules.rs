//! `x-kubernetes-validations` rules compiled against their node's schema, as kube's
//! apiextensions `cel.Compile` compiles them: `self` typed from the schema (kube's
//! `SchemaDeclType`), `oldSelf` the same type (an optional one under `optionalOldSelf`), the
//! rule a `bool`, a `messageExpression` a `string`. [`check_rules`] gives the causes a CRD
//! is refused with; [`compiled`] the programs objects are validated with, compiled once per
//! schema node and kept with it.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use crate::cause::Cause;
use crate::cel::{self, Field, ListKind, ListType, ObjectType, Program, Type};

use super::render::{go_quote, invalid};
use super::{AdditionalProperties, MAX_DEPTH, Rule, Structural, child, index};

/// The compiled rules of one node, made the first time an object reaches it, and (kept at
/// the root) whether the schema has rules anywhere.
#[derive(Clone, Default)]
pub struct RuleCache {
    rules: Arc<OnceLock<NodeRules>>,
    pub(super) any: Arc<OnceLock<bool>>,
}

/// A node's type for rules and its rules compiled with it.
pub struct NodeRules {
    pub self_type: Type,
    pub rules: Vec<Compiled>,
}

impl std::fmt::Debug for RuleCache {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("RuleCache")
    }
}

/// A cache is derived from the schema, so it never makes two schemas differ.
impl PartialEq for RuleCache {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

/// One rule, compiled, or why it is not (a CRD stored before rules were compiled).
pub struct Compiled {
    pub rule: Result<Program, String>,
    pub message: Option<Result<Program, String>>,
    pub uses_old_self: bool,
    /// `fieldPath` as kube normalises it (`.a['b.c']` is `a[b.c]`), to place causes at.
    pub field_path: Option<String>,
}

/// The rules of `schema`, compiled with the node's type (`resource_root` for the root of an
/// object, whose `apiVersion`, `kind` and `metadata.name` rules may read).
pub fn compiled(schema: &Structural, resource_root: bool) -> &NodeRules {
    schema.rule_cache.rules.get_or_init(|| {
        let self_type = declared_type(schema, resource_root || schema.embedded_resource, 0).unwrap_or(Type::Dyn);
        let rules = schema.validations.iter().map(|rule| compile_rule(rule, &self_type, schema)).collect();
        NodeRules { self_type, rules }
    })
}

fn compile_rule(rule: &Rule, self_type: &Type, schema: &Structural) -> Compiled {
    let optional_old_self = rule.optional_old_self == Some(true);
    let old_self_type = if optional_old_self { Type::optional(self_type.clone()) } else { self_type.clone() };
    let variables = vec![("self".to_string(), self_type.clone()), ("oldSelf".to_string(), old_self_type)];
    let compiled = cel::compile(&rule.rule, &variables);
    let uses_old_self = compiled.as_ref().is_ok_and(|program| program.references("oldSelf"));
    let rule_result = match compiled {
        Ok(program) if matches!(program.output, Type::Bool) => Ok(program),
        Ok(_) => Err("cel expression must evaluate to a bool".to_string()),
        Err(issues) => Err(format!("compilation failed: {issues}")),
    };
    let message = rule.message_expression.as_deref().filter(|text| !text.trim().is_empty()).map(|text| match cel::compile(text, &variables) {
        Ok(program) if matches!(program.output, Type::String) => Ok(program),
        Ok(_) => Err("messageExpression must evaluate to a string".to_string()),
        Err(issues) => Err(format!("messageExpression compilation failed: {issues}")),
    });
    let field_path = rule.field_path.as_deref().filter(|path| !path.trim().is_empty()).and_then(|path| valid_field_path(path, schema));
    Compiled { rule: rule_result, message, uses_old_self, field_path }
}

/// kube's `ValidFieldPath`: `.name` and `['name']` steps through properties (or map keys),
/// the path they make as `field.Path` prints it, or `None` where the path names no field.
pub fn valid_field_path(path: &str, schema: &Structural) -> Option<String> {
    let mut schema = schema;
    let mut out = String::new();
    let mut rest = path;
    let mut steps = 0;
    while !rest.is_empty() {
        steps += 1;
        if steps > MAX_DEPTH {
            return None;
        }
        let name = if let Some(after) = rest.strip_prefix("['") {
            let end = after.char_indices().find(|(at, character)| *character == '\'' && !after[..*at].ends_with('\\')).map(|(at, _)| at)?;
            let name = after[..end].replace("\\'", "'").replace("\\\\", "\\");
            rest = after[end + 1..].strip_prefix(']')?;
            name
        } else if let Some(after) = rest.strip_prefix('.') {
            let end = after.find(['.', '[', ']']).unwrap_or(after.len());
            rest = &after[end..];
            after[..end].to_string()
        } else {
            return None;
        };
        if !schema.properties.is_empty() {
            schema = schema.properties.get(&name)?;
            out = child(&out, &name);
        } else if let Some(AdditionalProperties::Schema(values)) = &schema.additional_properties {
            schema = values;
            out = format!("{out}[{name}]");
        } else {
            return None;
        }
    }
    Some(out)
}

/// kube's `SchemaDeclType`: the CEL type of values of `schema`, or `None` where the schema
/// is of unknown type (no `type`, preserving unknown fields), which rules cannot see.
pub fn declared_type(schema: &Structural, resource_root: bool, depth: usize) -> Option<Type> {
    if depth > MAX_DEPTH {
        return None;
    }
    if schema.int_or_string {
        return Some(Type::Dyn);
    }
    match schema.type_.as_str() {
        "array" => {
            let items = schema.items.as_deref()?;
            let element = declared_type(items, items.embedded_resource, depth + 1)?;
            let kind = match schema.list_type.as_deref() {
                Some("set") => ListKind::Set,
                Some("map") => ListKind::Map,
                _ => ListKind::Atomic,
            };
            let max_items = schema.value.max_items.and_then(|max| u64::try_from(max).ok());
            Some(Type::List(Arc::new(ListType { element, kind, max_items, element_max_size: max_size(items) })))
        }
        "object" => {
            if let Some(AdditionalProperties::Schema(values)) = &schema.additional_properties {
                let value = declared_type(values, values.embedded_resource, depth + 1)?;
                return Some(Type::map(Type::String, value));
            }
            let mut fields = BTreeMap::new();
            for (name, property) in &schema.properties {
                if let (Some(type_), Some(escaped)) = (declared_type(property, property.embedded_resource, depth + 1), cel::escape(name)) {
                    fields.insert(escaped, Field { json_name: name.clone(), type_, max_size: max_size(property) });
                }
            }
            if resource_root {
                // kube's `WithTypeAndObjectMeta`: always readable at a resource's root.
                for name in ["apiVersion", "kind"] {
                    fields.insert(name.to_string(), Field { json_name: name.to_string(), type_: Type::String, max_size: None });
                }
                let meta: BTreeMap<String, Field> = ["name", "generateName"].iter().map(|name| (name.to_string(), Field { json_name: name.to_string(), type_: Type::String, max_size: None })).collect();
                let meta = Type::Object(Arc::new(ObjectType { name: "object".into(), fields: meta }));
                fields.insert("metadata".to_string(), Field { json_name: "metadata".to_string(), type_: meta, max_size: None });
            }
            Some(Type::Object(Arc::new(ObjectType { name: "object".into(), fields })))
        }
        "string" => Some(match schema.value.format.as_deref() {
            Some("byte") => Type::Bytes,
            Some("duration") => Type::Duration,
            Some("date" | "date-time" | "datetime") => Type::Timestamp,
            _ => Type::String,
        }),
        "boolean" => Some(Type::Bool),
        "number" => Some(Type::Double),
        "integer" => Some(Type::Int),
        _ => None,
    }
}

/// The bound a schema puts on its values' size: characters, items or properties.
pub fn max_size(schema: &Structural) -> Option<u64> {
    let bound = match schema.type_.as_str() {
        "string" => schema.value.max_length,
        "array" => schema.value.max_items,
        "object" => schema.value.max_properties,
        _ => None,
    };
    bound.map(|bound| u64::try_from(bound).unwrap_or(0))
}

/// kube's CEL checks of a CRD's schema at `path`: every rule and `messageExpression`
/// compiles, `oldSelf` only where old values can be correlated, `optionalOldSelf` only with
/// `oldSelf`.
pub fn check_rules(schema: &Structural, path: &str) -> Vec<Cause> {
    let checked = cel::with_stack(|| {
        let mut out = Vec::new();
        let mut total = TotalCost::default();
        walk(schema, path, true, None, 1.0, 0, &mut total, &mut out);
        // kube's check of the whole schema's estimated cost, reported after every other
        // cause: the most expensive expressions, then the total.
        if total.total > cel::cost::ESTIMATED_CRD_LIMIT {
            for (expensive, _) in &total.most_expensive {
                out.push(Cause::forbidden(expensive.clone(), "contributed to estimated rule cost total exceeding cost limit for entire OpenAPIv3 schema"));
            }
            let detail = over_budget("x-kubernetes-validations estimated rule cost total for entire OpenAPIv3 schema", total.total, cel::cost::ESTIMATED_CRD_LIMIT);
            out.push(Cause::forbidden(path.to_string(), &detail));
        }
        out
    });
    checked.unwrap_or_else(|| vec![Cause { reason: "InternalError", field: child(path, "x-kubernetes-validations"), message: "Internal error: the rules could not be compiled".into() }])
}

/// kube's `TotalCost`: the estimated cost of all of a schema's expressions together, and the
/// (at most four) most expensive of those that make up at least 1% of its limit.
#[derive(Default)]
struct TotalCost {
    total: f64,
    most_expensive: Vec<(String, f64)>,
}

impl TotalCost {
    fn observe(&mut self, path: String, cost: f64) {
        self.total += cost;
        if cost < cel::cost::ESTIMATED_CRD_LIMIT / 100.0 {
            return;
        }
        self.most_expensive.push((path, cost));
        // Most expensive first; equal costs in the order seen (kube's `sort.Slice` leaves
        // their order unspecified).
        self.most_expensive.sort_by(|a, b| b.1.total_cmp(&a.1));
        self.most_expensive.truncate(4);
    }
}

/// Where a walk of the schema is: the path of the highest node below which old values
/// cannot be correlated, and how many values of the node an object can hold.
#[allow(clippy::too_many_arguments)]
fn walk(schema: &Structural, path: &str, root: bool, uncorrelatable: Option<&str>, cardinality: f64, depth: usize, total: &mut TotalCost, out: &mut Vec<Cause>) {
    if depth > MAX_DEPTH {
        return;
    }
    if !schema.validations.is_empty() {
        let node = compiled(schema, root);
        let bound = max_size(schema);
        let variables = [("self".to_string(), node.self_type.clone(), bound), ("oldSelf".to_string(), node.self_type.clone(), bound)];
        for (at, (rule, compiled)) in schema.validations.iter().zip(&node.rules).enumerate() {
            let rule_path = index(&child(path, "x-kubernetes-validations"), at);
            if let Ok(program) = &compiled.rule {
                let estimated = program.estimate(&variables) * cardinality;
                if estimated > cel::cost::ESTIMATED_LIMIT {
                    out.push(Cause::forbidden(child(&rule_path, "rule"), &over_budget("estimated rule cost", estimated, cel::cost::ESTIMATED_LIMIT)));
                }
                total.observe(child(&rule_path, "rule"), estimated);
            }
            if let Some(Ok(program)) = &compiled.message {
                let estimated = program.estimate(&variables) * cardinality;
                if estimated > cel::cost::ESTIMATED_LIMIT {
                    out.push(Cause::forbidden(child(&rule_path, "messageExpression"), &over_budget("estimated messageExpression cost", estimated, cel::cost::ESTIMATED_LIMIT)));
                }
                total.observe(child(&rule_path, "messageExpression"), estimated);
            }
            if let Err(detail) = &compiled.rule {
                out.push(Cause { reason: "FieldValueInvalid", field: child(&rule_path, "rule"), message: format!("Invalid value: {}: {detail}", go_rule(rule)) });
            }
            if let Some(Err(detail)) = &compiled.message {
                out.push(Cause { reason: "FieldValueInvalid", field: child(&rule_path, "messageExpression"), message: format!("Invalid value: {}: {detail}", go_rule(rule)) });
            }
            if compiled.uses_old_self {
                if let Some(within) = uncorrelatable {
                    let detail = format!("oldSelf cannot be used on the uncorrelatable portion of the schema within {within}");
                    out.push(invalid(child(&rule_path, "rule"), &rule.rule.as_str().into(), &detail));
                }
            } else if let Some(flag) = rule.optional_old_self {
                out.push(invalid(child(&rule_path, "optionalOldSelf"), &flag.into(), "may not be set if oldSelf is not used in rule"));
            }
        }
    }
    let correlatable_map = matches!(schema.map_type.as_deref(), None | Some("granular" | "atomic"));
    let properties_uncorrelatable = if correlatable_map { uncorrelatable } else { uncorrelatable.or(Some(path)) };
    for (name, property) in &schema.properties {
        walk(property, &format!("{path}.properties[{name}]"), false, properties_uncorrelatable, cardinality, depth + 1, total, out);
    }
    if let Some(AdditionalProperties::Schema(values)) = &schema.additional_properties {
        let entries = max_size(schema).map_or(cel::UNBOUNDED_MAP, |bound| bound as f64);
        walk(values, &child(path, "additionalProperties"), false, uncorrelatable, cardinality * entries, depth + 1, total, out);
    }
    if let Some(items) = &schema.items {
        // Only items of map lists are correlated with their old selves.
        let items_uncorrelatable = if schema.list_type.as_deref() == Some("map") { uncorrelatable } else { uncorrelatable.or(Some(path)) };
        let count = max_size(schema).map_or(cel::UNBOUNDED_LIST, |bound| bound as f64);
        walk(items, &child(path, "items"), false, items_uncorrelatable, cardinality * count, depth + 1, total, out);
    }
}

/// kube's `getCostErrorMessage`, its factor printed as Go's `%f`, `%.1f` or in words.
fn over_budget(name: &str, cost: f64, limit: f64) -> String {
    let factor = cost / limit;
    let shown = if factor > 100.0 {
        "more than 100x".to_string()
    } else if factor < 1.5 {
        format!("{factor:.6}x")
    } else {
        format!("{factor:.1}x")
    };
    format!("{name} exceeds budget by factor of {shown} (try simplifying the rule, or adding maxItems, maxProperties, and maxLength where arrays, maps, and strings are declared)")
}

/// Go's `%#v` of an `apiextensions.ValidationRule`, as kube's causes print the rule. Go
/// prints a set pointer as its address, which differs per process; a fixed one stands in.
fn go_rule(rule: &Rule) -> String {
    let pointer = |set: bool, kind: &str| if set { format!("(*{kind})(0xc000000000)") } else { format!("(*{kind})(nil)") };
    format!(
        "apiextensions.ValidationRule{{Rule:{}, Message:{}, MessageExpression:{}, Reason:{}, FieldPath:{}, OptionalOldSelf:{}}}",
        go_quote(&rule.rule),
        go_quote(rule.message.as_deref().unwrap_or_default()),
        go_quote(rule.message_expression.as_deref().unwrap_or_default()),
        pointer(rule.reason.is_some(), "apiextensions.FieldValueErrorReason"),
        go_quote(rule.field_path.as_deref().unwrap_or_default()),
        pointer(rule.optional_old_self.is_some(), "bool"),
    )
}
