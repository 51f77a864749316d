//! The structural-schema engine of CustomResourceDefinitions, as kube-apiserver 1.33's
//! apiextensions-apiserver has it (`pkg/apiserver/schema`, `pkg/apiserver/validation` and
//! kube-openapi's `validate`): turning an `openAPIV3Schema` into a [`Structural`] schema (or the
//! reasons it is not one), validating custom objects against it, pruning fields it does not
//! specify and applying its defaults. Pure: no HTTP, no storage; causes are worded and placed
//! as kube words and places them, so a caller can put them in a 422 as they are.
//!
//! The order kube applies them in on a write: [`prune`], then [`default`], then [`validate`]
//! (the caller validates the object's own `metadata`).
//!
//! `x-kubernetes-validations` (CEL) rules are kept on each node ([`Structural::validations`]),
//! compiled with the crate's own CEL implementation (`crate::cel`) at CRD validation
//! ([`check`] refuses rules that do not compile, as kube does) and evaluated on every write
//! of a custom object ([`validate_rules`], after [`validate`]), transition rules against the
//! stored object.

mod convert;
mod default;
mod formats;
mod prune;
mod render;
mod rule_validation;
mod rules;
mod validate;

use std::collections::BTreeMap;

use serde_json::Value;

pub use convert::{check, structural};
pub use default::{default, prune_defaults, validate_defaults};
pub use prune::prune;
pub use rule_validation::{RuleResults, blocked, blocking, has_rules, validate_rules};
pub use validate::validate;

/// How deep a schema may nest (properties, items, additionalProperties and the junctors
/// allOf/anyOf/oneOf/not each count a level). Every walk of a schema, and of a value along a
/// schema, is bounded by it, so no input reaches a stack overflow. A JSON body cannot carry a
/// schema half this deep anyway (serde_json stops decoding at 128 nested arrays and objects,
/// and each schema level is at least two of them), so the bound refuses nothing real.
pub const MAX_DEPTH: usize = 64;

/// A structural schema: every specified field has a type, value validations only restrict
/// what the structure already says (see kube's `schema.Structural`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Structural {
    /// `object`, `array`, `string`, `integer`, `number`, `boolean`, or empty where
    /// `x-kubernetes-int-or-string` or `x-kubernetes-preserve-unknown-fields` stand for one.
    pub type_: String,
    pub nullable: bool,
    /// `default`, absent when unset or `null` (kube reads a `null` default as none).
    pub default: Option<Value>,
    pub properties: BTreeMap<String, Structural>,
    pub items: Option<Box<Structural>>,
    pub additional_properties: Option<AdditionalProperties>,
    pub preserve_unknown_fields: bool,
    pub embedded_resource: bool,
    pub int_or_string: bool,
    /// `x-kubernetes-list-type`: `atomic`, `set` or `map`.
    pub list_type: Option<String>,
    pub list_map_keys: Vec<String>,
    /// `x-kubernetes-map-type`: `atomic` or `granular`.
    pub map_type: Option<String>,
    /// `x-kubernetes-validations`.
    pub validations: Vec<Rule>,
    /// The rules compiled, once, when first needed.
    pub rule_cache: rules::RuleCache,
    pub value: ValueValidation,
}

/// `additionalProperties`: a schema every other key's value must meet, or whether other keys
/// are allowed at all.
#[derive(Clone, Debug, PartialEq)]
pub enum AdditionalProperties {
    Allows(bool),
    Schema(Box<Structural>),
}

impl Structural {
    /// The schema of the values of keys not in `properties`, if there is one.
    fn additional_schema(&self) -> Option<&Structural> {
        match &self.additional_properties {
            Some(AdditionalProperties::Schema(schema)) => Some(schema),
            _ => None,
        }
    }
}

/// The value validations of a node (kube's `ValueValidation`). The junctors' schemas are
/// [`Structural`] too, since kube validates them as full schemas; structurality forbids the
/// fields in them that would change the structure.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ValueValidation {
    /// The format as written, kept only where kube checks it (the formats of
    /// `supportedVersionedFormats`; others, like `int32`, kube strips before validating).
    pub format: Option<String>,
    pub maximum: Option<f64>,
    pub exclusive_maximum: bool,
    pub minimum: Option<f64>,
    pub exclusive_minimum: bool,
    pub max_length: Option<i64>,
    pub min_length: Option<i64>,
    pub pattern: Option<Pattern>,
    pub max_items: Option<i64>,
    pub min_items: Option<i64>,
    pub unique_items: bool,
    pub multiple_of: Option<f64>,
    pub enum_: Vec<Value>,
    pub max_properties: Option<i64>,
    pub min_properties: Option<i64>,
    pub required: Vec<String>,
    pub all_of: Vec<Structural>,
    pub any_of: Vec<Structural>,
    pub one_of: Vec<Structural>,
    pub not: Option<Box<Structural>>,
}

/// A `pattern`, compiled once. Go's regexp is RE2, which the `regex` crate follows; a pattern
/// that does not compile is refused at CRD validation, and kept uncompiled here only for the
/// error text if a schema skipped that check.
#[derive(Clone, Debug)]
pub struct Pattern {
    pub source: String,
    pub compiled: Result<regex::Regex, String>,
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl Pattern {
    fn new(source: &str) -> Self {
        Self { source: source.to_string(), compiled: compile_pattern(source) }
    }
}

/// Compiles as Go's `regexp.Compile` would, unanchored, with the size limit CEL's regexes
/// have too (one function for both, so the two cannot drift).
fn compile_pattern(source: &str) -> Result<regex::Regex, String> {
    crate::cel::compile_regex(source).map_err(|error| error.to_string())
}

/// One `x-kubernetes-validations` rule as written.
#[derive(Clone, Debug, PartialEq)]
pub struct Rule {
    pub rule: String,
    pub message: Option<String>,
    pub message_expression: Option<String>,
    pub reason: Option<String>,
    pub field_path: Option<String>,
    pub optional_old_self: Option<bool>,
}

/// Field paths as kube's `field.Path` prints them.
fn child(path: &str, name: &str) -> String {
    if path.is_empty() { name.to_string() } else { format!("{path}.{name}") }
}

fn key(path: &str, name: &str) -> String {
    format!("{path}[{name}]")
}

fn index(path: &str, at: usize) -> String {
    format!("{path}[{at}]")
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod rule_tests;
