//! The three PATCH formats of the Kubernetes API, applied to objects held as `serde_json::Value` the
//! way kube-apiserver applies them:
//!
//! - [`json_merge_patch`]: `application/merge-patch+json`, RFC 7386.
//! - [`json_patch`]: `application/json-patch+json`, RFC 6902 with RFC 6901 pointers, applied
//!   atomically.
//! - [`strategic_merge_patch`]: `application/strategic-merge-patch+json`, what `kubectl apply`
//!   (client-side), `kubectl edit` and `kubectl patch` send. Lists merge by the patch metadata
//!   (`patchStrategy`, `patchMergeKey`) of the k8s.io/api types of Kubernetes 1.33, generated at
//!   build time from the vendored `types.go` for the built-in kinds this server serves.
//!
//! All three take the stored object and the decoded request body and return the patched object,
//! or a [`PatchError`] whose [`PatchError::status_code`] is the HTTP status kube-apiserver answers
//! with. None of them panics or recurses without bound, whatever the input.
//!
//! Where this differs from kube-apiserver on purpose:
//! - A strategic merge patch may say `$patch: merge` (the default) in a map or a list element;
//!   Kubernetes refuses it ("merge" is documented as struct-tag-only). It is accepted and ignored.
//! - `$patch: replace` on a map the object does not have yet adds the map's contents; Kubernetes'
//!   `removeDirectives` drops the whole map there, which loses the user's data.
//! - kube-apiserver decodes the result into the typed object, which drops nulls and fields it does
//!   not know, such as a directive left in a list that the patch replaces. Objects here stay
//!   `Value`s, so the strategic merge strips directives, and nulls in maps, from what it copies in.
//!   (The merge patch keeps nulls inside arrays, as RFC 7386 says.)
//! - JSON Patch array indices follow RFC 6901 strictly: no negative indices (the Go library that
//!   kube-apiserver uses accepts `-1` for the last element) and no leading zeros.
//! - Strategic-merge errors that kube-apiserver passes through unclassified (and so answers 500
//!   Internal Error), such as a list element without its merge key, are 400 or 422 here.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::io;

use serde_json::{Map, Number, Value};

/// The deepest nesting accepted in a patch or an object, counting a scalar as one level and
/// `{"a": 1}` as two. It is the deepest serde_json parses (127 arrays or objects around a value),
/// so nothing that arrives as JSON is refused and no patch makes an object too deep to read back.
/// The merges recurse once per level; this bounds their stack, to well under the 2 MiB of a
/// spawned thread even in a debug build. Kubernetes objects nest a few dozen levels at most.
pub const MAX_NESTING: usize = 128;

/// kube-apiserver's `maxJSONPatchOperations`; more is refused with 413.
pub const MAX_JSON_PATCH_OPERATIONS: usize = 10_000;

/// kube-apiserver's `JSONPatchMaxCopyBytes` (3 MiB, its request-body limit): the total size the
/// `copy` operations of one JSON patch may add. Without it `copy /a -> /a/b`, repeated, doubles
/// the object each time and a small request exhausts memory.
pub const MAX_JSON_PATCH_COPY_BYTES: usize = 3 * 1024 * 1024;

/// The media types a PATCH takes on built-in kinds, as kube-apiserver lists them in a 415 answer
/// and in OpenAPI (where kubectl looks to choose its apply patch).
pub const MEDIA_TYPES: &[&str] = &["application/json-patch+json", "application/merge-patch+json", "application/strategic-merge-patch+json", "application/apply-patch+yaml"];

/// On custom kinds: no strategic merge, since there are no Go types to take patch strategies from.
pub const CUSTOM_MEDIA_TYPES: &[&str] = &["application/json-patch+json", "application/merge-patch+json", "application/apply-patch+yaml"];

/// A PATCH body's format, from its Content-Type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PatchType {
    /// `application/json-patch+json`
    Json,
    /// `application/merge-patch+json`
    Merge,
    /// `application/strategic-merge-patch+json`
    StrategicMerge,
}

impl PatchType {
    /// The patch type a Content-Type names, ignoring parameters such as `; charset=utf-8` as
    /// kube-apiserver does. `None` for anything else, which kube-apiserver answers with 415.
    pub fn from_content_type(content_type: &str) -> Option<Self> {
        let media_type = content_type.split(';').next().unwrap_or_default().trim();
        match media_type.to_ascii_lowercase().as_str() {
            "application/json-patch+json" => Some(Self::Json),
            "application/merge-patch+json" => Some(Self::Merge),
            "application/strategic-merge-patch+json" => Some(Self::StrategicMerge),
            _ => None,
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Self::Json => "application/json-patch+json",
            Self::Merge => "application/merge-patch+json",
            Self::StrategicMerge => "application/strategic-merge-patch+json",
        }
    }
}

impl fmt::Display for PatchType {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            Self::Json => "JSON patch",
            Self::Merge => "merge patch",
            Self::StrategicMerge => "strategic merge patch",
        })
    }
}

/// Which input of a patch call was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Document {
    /// The request body.
    Patch,
    /// The stored object being patched.
    Object,
}

impl fmt::Display for Document {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            Self::Patch => "patch",
            Self::Object => "object",
        })
    }
}

/// Why a patch was not applied. The object is never partly patched: on any error the caller
/// keeps the object it had. [`PatchError::status_code`] gives the HTTP status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatchError {
    /// 400 BadRequest: the body is not a document of its patch type: a merge patch that is not
    /// an object, a JSON patch that is not an array of operation objects, a strategic merge patch
    /// whose directives are malformed (kube-apiserver's `ErrBadPatchFormat*` and `ErrBadJSONDoc`).
    #[error("invalid {patch_type}: {reason}")]
    Malformed { patch_type: PatchType, reason: String },

    /// 422 Invalid: a JSON patch operation without a usable `op`. kube-apiserver only rejects the
    /// array's shape up front; everything about single operations surfaces when applying.
    #[error("the operation at index {index} is not valid: {reason}")]
    InvalidOperation { index: usize, reason: String },

    /// 422 Invalid: a JSON patch operation that cannot apply to this object, e.g. a failed `test`
    /// or a path that does not exist.
    #[error("the {op:?} operation at index {index} failed: {reason}")]
    OperationFailed { index: usize, op: String, reason: String },

    /// 422 Invalid: a well-formed strategic merge patch that does not fit the object, e.g. the
    /// object's list holds something other than maps where the patch merges maps by key.
    #[error("the strategic merge patch cannot be applied at {path}: {reason}")]
    Conflict { path: String, reason: String },

    /// 413 RequestEntityTooLarge, worded as kube-apiserver words it.
    #[error("The allowed maximum operations in a JSON patch is {limit}, got {count}")]
    TooManyOperations { count: usize, limit: usize },

    /// 400 BadRequest for a patch, 422 Invalid for an object nesting deeper than [`MAX_NESTING`].
    #[error("the {document} nests deeper than {limit} levels")]
    TooDeep { document: Document, limit: usize },
}

impl PatchError {
    /// The HTTP status kube-apiserver answers with for this error.
    pub fn status_code(&self) -> u16 {
        match self {
            Self::Malformed { .. } | Self::TooDeep { document: Document::Patch, .. } => 400,
            Self::TooManyOperations { .. } => 413,
            Self::InvalidOperation { .. }
            | Self::OperationFailed { .. }
            | Self::Conflict { .. }
            | Self::TooDeep { document: Document::Object, .. } => 422,
        }
    }

    /// Whether this is a 400 BadRequest: the request body itself is at fault, not its fit to the
    /// object. The other errors are 422 Invalid, except [`PatchError::TooManyOperations`] (413).
    pub fn is_malformed(&self) -> bool {
        self.status_code() == 400
    }
}

// ---------------------------------------------------------------------------------------------
// JSON merge patch (RFC 7386)
// ---------------------------------------------------------------------------------------------

/// Applies an RFC 7386 merge patch: members set to null are removed, objects merge recursively,
/// anything else (arrays included) replaces what was there.
///
/// RFC 7386 lets a patch that is not an object replace the whole document; for a Kubernetes
/// object that can never be valid, and kube-apiserver answers 400, so it is [`PatchError::Malformed`].
pub fn json_merge_patch(target: &Value, patch: &Value) -> Result<Value, PatchError> {
    if !patch.is_object() {
        return Err(PatchError::Malformed {
            patch_type: PatchType::Merge,
            reason: format!("a merge patch must be a JSON object, not {}", describe(patch)),
        });
    }
    check_nesting(patch, Document::Patch)?;
    check_nesting(target, Document::Object)?;
    Ok(merge_patch_value(target.clone(), patch))
}

/// RFC 7386 section 2, `MergePatch(Target, Patch)`, on an owned target. It recurses once per
/// level of the patch, whose depth the caller has bounded.
fn merge_patch_value(target: Value, patch: &Value) -> Value {
    let Value::Object(patch_members) = patch else {
        return patch.clone();
    };
    let mut members = match target {
        Value::Object(members) => members,
        _ => Map::new(),
    };
    for (name, patch_value) in patch_members {
        if patch_value.is_null() {
            members.remove(name);
            continue;
        }
        match members.get_mut(name) {
            Some(slot) => {
                let current = std::mem::take(slot);
                *slot = merge_patch_value(current, patch_value);
            }
            None => {
                members.insert(name.clone(), merge_patch_value(Value::Null, patch_value));
            }
        }
    }
    Value::Object(members)
}

// ---------------------------------------------------------------------------------------------
// JSON patch (RFC 6902)
// ---------------------------------------------------------------------------------------------

const JSON_PATCH_OPERATIONS: [&str; 6] = ["add", "remove", "replace", "move", "copy", "test"];

/// Applies an RFC 6902 JSON patch: its operations in order, all or nothing. Errors name the
/// operation's index and the path, e.g. `the "test" operation at index 2 failed: value at
/// /spec/replicas is 3, not 4`.
pub fn json_patch(target: &Value, patch: &Value) -> Result<Value, PatchError> {
    let malformed = |reason: String| PatchError::Malformed { patch_type: PatchType::Json, reason };
    let Value::Array(elements) = patch else {
        return Err(malformed(format!("a JSON patch must be a JSON array of operations, not {}", describe(patch))));
    };
    let mut operations = Vec::with_capacity(elements.len());
    for (index, element) in elements.iter().enumerate() {
        match element {
            Value::Object(operation) => operations.push(operation),
            other => {
                return Err(malformed(format!(
                    "the operation at index {index} is {}, not a JSON object",
                    describe(other)
                )));
            }
        }
    }
    if operations.len() > MAX_JSON_PATCH_OPERATIONS {
        return Err(PatchError::TooManyOperations { count: operations.len(), limit: MAX_JSON_PATCH_OPERATIONS });
    }
    check_nesting(patch, Document::Patch)?;
    let depth_bound = check_nesting(target, Document::Object)?;

    // Atomicity: the operations work on a copy, which is only returned once all have applied.
    let mut run = JsonPatchRun { document: target.clone(), depth_bound, copied_bytes: 0 };
    for (index, operation) in operations.into_iter().enumerate() {
        let op = match operation.get("op") {
            Some(Value::String(op)) if JSON_PATCH_OPERATIONS.contains(&op.as_str()) => op.as_str(),
            Some(Value::String(op)) => {
                return Err(PatchError::InvalidOperation {
                    index,
                    reason: format!("unknown op {op:?}; it must be one of add, remove, replace, move, copy, test"),
                });
            }
            Some(other) => {
                return Err(PatchError::InvalidOperation {
                    index,
                    reason: format!("\"op\" must be a string, not {}", describe(other)),
                });
            }
            None => {
                return Err(PatchError::InvalidOperation { index, reason: "it has no \"op\" member".to_string() });
            }
        };
        run.apply(op, operation).map_err(|reason| PatchError::OperationFailed { index, op: op.to_string(), reason })?;
    }
    Ok(run.document)
}

/// A JSON patch being applied.
struct JsonPatchRun {
    document: Value,
    /// At least the nesting depth of `document`. Operations that place a value check it against
    /// [`MAX_NESTING`]; keeping a bound rather than measuring spares measuring every moved value.
    depth_bound: usize,
    /// What the `copy` operations so far have added, in serialized bytes.
    copied_bytes: usize,
}

impl JsonPatchRun {
    /// Applies one operation; the error is the reason, which the caller wraps with the index.
    fn apply(&mut self, op: &str, operation: &Map<String, Value>) -> Result<(), String> {
        let path = member_pointer(operation, "path")?;
        match op {
            "add" => {
                let value = member_value(operation)?;
                self.ensure_fits(&path, nesting_depth(value, MAX_NESTING + 1))?;
                add(&mut self.document, &path, value.clone())
            }
            "remove" => remove(&mut self.document, &path).map(drop),
            "replace" => {
                let value = member_value(operation)?;
                self.ensure_fits(&path, nesting_depth(value, MAX_NESTING + 1))?;
                let slot = resolve_mut(&mut self.document, &path.tokens).ok_or_else(|| missing(&path))?;
                *slot = value.clone();
                Ok(())
            }
            "test" => {
                let expected = member_value(operation)?;
                let actual = resolve(&self.document, &path.tokens).ok_or_else(|| missing(&path))?;
                if json_equal(actual, expected) {
                    Ok(())
                } else {
                    Err(format!("value at {} is {}, not {}", location(path.text), show(actual), show(expected)))
                }
            }
            "move" => {
                let from = member_pointer(operation, "from")?;
                self.move_value(&from, &path)
            }
            "copy" => {
                let from = member_pointer(operation, "from")?;
                self.copy_value(&from, &path)
            }
            // The caller only passes the operations listed in JSON_PATCH_OPERATIONS.
            other => Err(format!("unknown op {other:?}")),
        }
    }

    /// Checks that a value `value_depth` deep fits under `path`, and raises the depth bound.
    fn ensure_fits(&mut self, path: &Pointer<'_>, value_depth: usize) -> Result<(), String> {
        let depth = path.tokens.len() + value_depth;
        if depth > MAX_NESTING {
            return Err(format!("the result would nest deeper than {MAX_NESTING} levels"));
        }
        self.depth_bound = self.depth_bound.max(depth);
        Ok(())
    }

    /// How deep the value at `from` can be: exact when the bound does not fit under `to`.
    fn depth_below(&self, from: &Pointer<'_>, to: &Pointer<'_>, value: &Value) -> usize {
        let estimate = self.depth_bound.saturating_sub(from.tokens.len());
        if to.tokens.len() + estimate > MAX_NESTING { nesting_depth(value, MAX_NESTING + 1) } else { estimate }
    }

    fn move_value(&mut self, from: &Pointer<'_>, to: &Pointer<'_>) -> Result<(), String> {
        if from.tokens == to.tokens {
            // RFC 6902 4.4: still an error if "from" does not exist.
            return resolve(&self.document, &from.tokens).map(drop).ok_or_else(|| missing(from));
        }
        if to.tokens.starts_with(&from.tokens) {
            return Err(format!("cannot move {} into its own child {}", location(from.text), to.text));
        }
        let value = remove(&mut self.document, from)?;
        let value_depth = self.depth_below(from, to, &value);
        self.ensure_fits(to, value_depth)?;
        add(&mut self.document, to, value)
    }

    fn copy_value(&mut self, from: &Pointer<'_>, to: &Pointer<'_>) -> Result<(), String> {
        let source = resolve(&self.document, &from.tokens).ok_or_else(|| missing(from))?;
        self.copied_bytes = self.copied_bytes.saturating_add(serialized_len(source));
        if self.copied_bytes > MAX_JSON_PATCH_COPY_BYTES {
            return Err(format!(
                "the values copied by this patch add up to {} bytes, over the limit of {MAX_JSON_PATCH_COPY_BYTES}",
                self.copied_bytes
            ));
        }
        let value_depth = self.depth_below(from, to, source);
        let value = source.clone();
        self.ensure_fits(to, value_depth)?;
        add(&mut self.document, to, value)
    }
}

/// An RFC 6901 JSON pointer: its text, for messages, and its unescaped reference tokens.
struct Pointer<'p> {
    text: &'p str,
    tokens: Vec<String>,
}

impl<'p> Pointer<'p> {
    fn parse(text: &'p str) -> Result<Self, String> {
        if text.is_empty() {
            return Ok(Self { text, tokens: Vec::new() });
        }
        let Some(rest) = text.strip_prefix('/') else {
            return Err(format!("{text:?} is not a JSON pointer: it must be empty or start with \"/\""));
        };
        let tokens = rest
            .split('/')
            .map(|token| {
                unescape_token(token)
                    .ok_or_else(|| format!("{text:?} is not a JSON pointer: \"~\" must be followed by 0 or 1"))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { text, tokens })
    }

    /// The parent's pointer text. Escapes never contain `/`, so the last `/` ends the parent.
    fn parent_text(&self) -> &'p str {
        self.text.rfind('/').map_or("", |end| &self.text[..end])
    }
}

/// RFC 6901 section 4: `~1` is `/` and `~0` is `~`; any other `~` makes the pointer invalid.
fn unescape_token(token: &str) -> Option<String> {
    if !token.contains('~') {
        return Some(token.to_string());
    }
    let mut unescaped = String::with_capacity(token.len());
    let mut chars = token.chars();
    while let Some(c) = chars.next() {
        if c == '~' {
            match chars.next() {
                Some('0') => unescaped.push('~'),
                Some('1') => unescaped.push('/'),
                _ => return None,
            }
        } else {
            unescaped.push(c);
        }
    }
    Some(unescaped)
}

/// RFC 6901 section 4: an array index is `0` or digits without a leading zero.
fn array_index(token: &str) -> Option<usize> {
    let digits = !token.is_empty() && token.bytes().all(|byte| byte.is_ascii_digit());
    if !digits || (token.len() > 1 && token.starts_with('0')) {
        return None;
    }
    token.parse().ok()
}

fn member_pointer<'p>(operation: &'p Map<String, Value>, member: &str) -> Result<Pointer<'p>, String> {
    match operation.get(member) {
        Some(Value::String(text)) => Pointer::parse(text),
        Some(other) => Err(format!("{member:?} must be a string, not {}", describe(other))),
        None => Err(format!("it has no {member:?} member")),
    }
}

fn member_value(operation: &Map<String, Value>) -> Result<&Value, String> {
    operation.get("value").ok_or_else(|| "it has no \"value\" member".to_string())
}

fn missing(pointer: &Pointer<'_>) -> String {
    format!("path {} does not exist", pointer.text)
}

/// How a pointer reads in a message; the empty pointer is the whole document.
fn location(pointer_text: &str) -> &str {
    if pointer_text.is_empty() { "the document root" } else { pointer_text }
}

fn resolve<'d>(document: &'d Value, tokens: &[String]) -> Option<&'d Value> {
    let mut current = document;
    for token in tokens {
        current = match current {
            Value::Object(members) => members.get(token)?,
            Value::Array(items) => items.get(array_index(token)?)?,
            _ => return None,
        };
    }
    Some(current)
}

fn resolve_mut<'d>(document: &'d mut Value, tokens: &[String]) -> Option<&'d mut Value> {
    let mut current = document;
    for token in tokens {
        current = match current {
            Value::Object(members) => members.get_mut(token)?,
            Value::Array(items) => items.get_mut(array_index(token)?)?,
            _ => return None,
        };
    }
    Some(current)
}

/// RFC 6902 4.1: sets an object member, inserts into an array (`-` appends), or replaces the
/// whole document for the empty pointer. The parent must exist.
fn add(document: &mut Value, path: &Pointer<'_>, value: Value) -> Result<(), String> {
    let Some((last, parents)) = path.tokens.split_last() else {
        *document = value;
        return Ok(());
    };
    let parent_text = path.parent_text();
    match resolve_mut(document, parents) {
        Some(Value::Object(members)) => {
            members.insert(last.clone(), value);
            Ok(())
        }
        Some(Value::Array(items)) => {
            let index = if last == "-" {
                items.len()
            } else {
                let index = array_index(last)
                    .ok_or_else(|| format!("{last:?} is not an array index, in {}", location(parent_text)))?;
                if index > items.len() {
                    return Err(format!(
                        "index {index} is out of range for the array at {} (length {})",
                        location(parent_text),
                        items.len()
                    ));
                }
                index
            };
            items.insert(index, value);
            Ok(())
        }
        Some(other) => Err(format!(
            "the value at {} is {}, which has no members to add to",
            location(parent_text),
            describe(other)
        )),
        None => Err(format!("path {parent_text} does not exist")),
    }
}

/// RFC 6902 4.2: removes and returns the value at `path`, which must exist.
fn remove(document: &mut Value, path: &Pointer<'_>) -> Result<Value, String> {
    let Some((last, parents)) = path.tokens.split_last() else {
        return Err("cannot remove the whole document".to_string());
    };
    match resolve_mut(document, parents) {
        Some(Value::Object(members)) => members.remove(last).ok_or_else(|| missing(path)),
        Some(Value::Array(items)) => match array_index(last) {
            Some(index) if index < items.len() => Ok(items.remove(index)),
            _ => Err(missing(path)),
        },
        _ => Err(missing(path)),
    }
}

/// Counts the bytes serde_json writes, to size a copy without building its text.
struct ByteCounter(usize);

impl io::Write for ByteCounter {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0 += bytes.len();
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn serialized_len(value: &Value) -> usize {
    let mut counter = ByteCounter(0);
    // Writing a Value to a counter cannot fail; if it did, the count so far is still a lower bound.
    let _ = serde_json::to_writer(&mut counter, value);
    counter.0
}

// ---------------------------------------------------------------------------------------------
// Strategic merge patch: the patch metadata of the served kinds
// ---------------------------------------------------------------------------------------------

/// How a list field merges, from its `patchStrategy` / `patchMergeKey` tags in k8s.io/api.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ListStrategy {
    /// No patch strategy: the patch's list replaces the object's.
    Replace,
    /// `patchStrategy:"merge"` on a list of primitives: a set union.
    Union,
    /// `patchStrategy:"merge"` with `patchMergeKey`: maps matched and merged by that key.
    MergeByKey(&'static str),
}

/// A field with patch metadata, or a struct on the way to one.
#[derive(Debug)]
struct Field {
    name: &'static str,
    list: ListStrategy,
    /// The fields with patch metadata of the struct under this field; for a list, of each element.
    fields: &'static [Field],
}

impl Field {
    const fn object(name: &'static str, fields: &'static [Field]) -> Self {
        Self { name, list: ListStrategy::Replace, fields }
    }

    const fn union(name: &'static str) -> Self {
        Self { name, list: ListStrategy::Union, fields: &[] }
    }

    const fn merge_by(name: &'static str, key: &'static str, fields: &'static [Field]) -> Self {
        Self { name, list: ListStrategy::MergeByKey(key), fields }
    }
}

/// The tables generated by build.rs from the vendored Kubernetes 1.33 types (see
/// `apiserver/kubernetes-1.33/`): for each struct with patch metadata at or below it, a `const`
/// holding only the fields that lead to some; `KINDS`, the table of each kind by name; and
/// `LIST_TYPES`. Lists not named have no patch strategy and are replaced whole; among them, on
/// purpose: PodSpec tolerations, Container resizePolicy (atomic), NodeSpec taints, Endpoints
/// subsets, NamespaceSpec finalizers and the container status lists.
/// `patchStrategy:"merge,retainKeys"` (PodSpec volumes and resourceClaims, PodStatus
/// resourceClaimStatuses) merges; `retainKeys` (DeploymentSpec strategy) only tells a client to
/// send `$retainKeys`, which is honoured wherever it appears.
mod generated {
    use super::{Field, ListType, ListTypeOf};

    include!(concat!(env!("OUT_DIR"), "/patch_tables.rs"));
}

/// How server-side apply merges a list field, from its `+listType` and `+listMapKey` markers in
/// the Kubernetes 1.33 types. Lists without a marker are atomic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListType {
    /// `+listType=atomic`: replaced whole.
    Atomic,
    /// `+listType=set`: scalars, each owned on its own.
    Set,
    /// `+listType=map`: elements identified by these keys.
    Map(&'static [&'static str]),
}

/// The list type of one field of one type, by OpenAPI definition name.
#[derive(Debug)]
pub struct ListTypeOf {
    /// As kube-apiserver's OpenAPI names it, e.g. `io.k8s.api.core.v1.PodSpec`.
    pub definition: &'static str,
    /// The field's JSON name.
    pub field: &'static str,
    pub list_type: ListType,
}

/// The list type of `field` in the type named `definition` (an OpenAPI definition name such as
/// `io.k8s.api.core.v1.PodSpec`), for the types reachable from the served kinds; `None` where the
/// field has no `+listType` marker. For server-side apply.
pub fn list_type(definition: &str, field: &str) -> Option<ListType> {
    generated::LIST_TYPES
        .iter()
        .find(|entry| entry.definition == definition && entry.field == field)
        .map(|entry| entry.list_type)
}

/// The patch metadata of a served kind, generated from its Go type. Endpoints, ConfigMap,
/// Secret, Event (core/v1 and events.k8s.io/v1 alike), Lease and the RBAC kinds have none outside
/// their metadata.
fn kind_schema(kind: &str) -> Option<&'static [Field]> {
    generated::KINDS.iter().find(|(name, _)| *name == kind).map(|(_, fields)| *fields)
}

/// The patch metadata of a built-in kind: its generated table, or for a kind whose Go types
/// are not vendored (CustomResourceDefinition, whose types carry no patch strategies outside
/// ObjectMeta) the metadata every kind has, which is ConfigMap's whole table.
fn builtin_schema(kind: &str) -> &'static [Field] {
    kind_schema(kind).or_else(|| kind_schema(METADATA_ONLY_KIND)).unwrap_or(&[])
}

/// A kind with no patch metadata outside its `metadata` (a test keeps it so).
const METADATA_ONLY_KIND: &str = "ConfigMap";


fn field_in(schema: &'static [Field], name: &str) -> Option<&'static Field> {
    schema.iter().find(|field| field.name == name)
}

fn fields_of(field: Option<&'static Field>) -> &'static [Field] {
    field.map_or(&[], |field| field.fields)
}

fn list_strategy(field: Option<&'static Field>) -> ListStrategy {
    field.map_or(ListStrategy::Replace, |field| field.list)
}

// ---------------------------------------------------------------------------------------------
// Strategic merge patch: applying it
// ---------------------------------------------------------------------------------------------

const DIRECTIVE: &str = "$patch";
const RETAIN_KEYS: &str = "$retainKeys";
const SET_ELEMENT_ORDER: &str = "$setElementOrder/";
const DELETE_FROM_PRIMITIVE_LIST: &str = "$deleteFromPrimitiveList/";

/// Applies a Kubernetes strategic merge patch to an object of `kind`, as kube-apiserver's
/// `strategicpatch.StrategicMergeMapPatch` does:
///
/// - maps merge and null removes a field, as in a merge patch;
/// - lists with a merge key merge element by element, matched by that key, and lists of primitives
///   with the merge strategy are unioned; other lists are replaced;
/// - `$patch: replace` takes a map (or, as a list element, the list) literally, `$patch: delete`
///   empties a map or, in a list element with the merge key, removes the matching elements;
/// - `$retainKeys: [..]` clears the map's fields it does not list;
/// - `$deleteFromPrimitiveList/<field>: [..]` removes values from a list of primitives;
/// - `$setElementOrder/<field>: [..]` orders the list: the listed elements in that order, the
///   object's other elements kept near their old neighbours.
///
/// Without `$setElementOrder`, elements the patch adds come before the object's own that they
/// meet, as in Kubernetes; `kubectl apply` always sends the order.
pub fn strategic_merge_patch(kind: &str, target: &Value, patch: &Value) -> Result<Value, PatchError> {
    let Value::Object(patch_members) = patch else {
        return Err(PatchError::Malformed {
            patch_type: PatchType::StrategicMerge,
            reason: format!("a strategic merge patch must be a JSON object, not {}", describe(patch)),
        });
    };
    check_nesting(patch, Document::Patch)?;
    check_nesting(target, Document::Object)?;
    let Value::Object(current) = target else {
        return Err(PatchError::Conflict {
            path: Path::root().render(),
            reason: format!("the object is {}, not a JSON object", describe(target)),
        });
    };
    let schema = builtin_schema(kind);
    merge_map(current.clone(), patch_members, schema, &Path::root()).map(Value::Object)
}

/// Where in the object a merge is, for messages: a linked list on the stack, rendered only when an
/// error needs it.
#[derive(Clone, Copy)]
struct Path<'a> {
    parent: Option<&'a Path<'a>>,
    step: Option<Step<'a>>,
}

#[derive(Clone, Copy)]
enum Step<'a> {
    Field(&'a str),
    /// A list element found by its merge key and value.
    Element(&'a str, &'a Value),
    Index(usize),
}

impl<'a> Path<'a> {
    fn root() -> Path<'static> {
        Path { parent: None, step: None }
    }

    fn child(&'a self, step: Step<'a>) -> Path<'a> {
        Path { parent: Some(self), step: Some(step) }
    }

    fn render(&self) -> String {
        let mut steps = Vec::new();
        let mut at = Some(self);
        while let Some(path) = at {
            steps.extend(path.step);
            at = path.parent;
        }
        if steps.is_empty() {
            return "the object root".to_string();
        }
        let mut rendered = String::new();
        for step in steps.iter().rev() {
            match step {
                Step::Field(name) => {
                    if !rendered.is_empty() {
                        rendered.push('.');
                    }
                    rendered.push_str(name);
                }
                Step::Element(key, Value::String(value)) => rendered.push_str(&format!("[{key}={value}]")),
                Step::Element(key, value) => rendered.push_str(&format!("[{key}={}]", show(value))),
                Step::Index(index) => rendered.push_str(&format!("[{index}]")),
            }
        }
        rendered
    }
}

fn malformed_at(path: &Path<'_>, reason: impl fmt::Display) -> PatchError {
    PatchError::Malformed { patch_type: PatchType::StrategicMerge, reason: format!("at {}: {reason}", path.render()) }
}

fn conflict_at(path: &Path<'_>, reason: impl fmt::Display) -> PatchError {
    PatchError::Conflict { path: path.render(), reason: reason.to_string() }
}

fn is_directive_key(key: &str) -> bool {
    key == DIRECTIVE
        || key == RETAIN_KEYS
        || key.starts_with(SET_ELEMENT_ORDER)
        || key.starts_with(DELETE_FROM_PRIMITIVE_LIST)
}

/// Merges a patch map into an object map (Go: `mergeMap`), first obeying a `$patch` directive.
/// Every recursion below descends one level of the patch, so the patch's checked depth bounds it.
fn merge_map(
    original: Map<String, Value>,
    patch: &Map<String, Value>,
    schema: &'static [Field],
    path: &Path<'_>,
) -> Result<Map<String, Value>, PatchError> {
    let Some(directive) = patch.get(DIRECTIVE) else {
        return merge_map_fields(original, patch, schema, path);
    };
    match directive.as_str() {
        Some("replace") => merge_map_fields(Map::new(), patch, schema, path),
        // Kubernetes leaves an empty map, not an absent field (`handleDirectiveInMergeMap`);
        // null is how a patch removes a field.
        Some("delete") => Ok(Map::new()),
        Some("merge") => merge_map_fields(original, patch, schema, path),
        _ => Err(malformed_at(path, format!("unknown $patch directive {}", show(directive)))),
    }
}

/// The body of `mergeMap` once any `$patch` is dealt with: `$retainKeys`, then the
/// `$setElementOrder` lists, then the fields, then `$deleteFromPrimitiveList`.
fn merge_map_fields(
    mut original: Map<String, Value>,
    patch: &Map<String, Value>,
    schema: &'static [Field],
    path: &Path<'_>,
) -> Result<Map<String, Value>, PatchError> {
    if let Some(retain) = patch.get(RETAIN_KEYS) {
        retain_keys(&mut original, patch, retain, path)?;
    }

    let mut ordered = HashSet::new();
    for (key, order) in patch {
        if let Some(name) = key.strip_prefix(SET_ELEMENT_ORDER) {
            set_element_order(&mut original, patch, name, order, field_in(schema, name), path)?;
            ordered.insert(name);
        }
    }

    let mut deletions = Vec::new();
    for (key, patch_value) in patch {
        if let Some(name) = key.strip_prefix(DELETE_FROM_PRIMITIVE_LIST) {
            deletions.push((name, patch_value));
            continue;
        }
        if is_directive_key(key) || ordered.contains(key.as_str()) {
            continue;
        }
        if patch_value.is_null() {
            original.remove(key);
            continue;
        }
        let field = field_in(schema, key);
        let field_path = path.child(Step::Field(key));
        let merged = match (original.remove(key), patch_value) {
            (Some(Value::Object(current)), Value::Object(members)) => {
                Some(Value::Object(merge_map(current, members, fields_of(field), &field_path)?))
            }
            (Some(Value::Array(current)), Value::Array(items)) => {
                Some(Value::Array(merge_list(current, items, field, &field_path)?))
            }
            // Absent from the object, or of another type there: the patch's value is taken.
            (_, value) => fresh_value(value, field, &field_path)?,
        };
        if let Some(merged) = merged {
            original.insert(key.clone(), merged);
        }
    }

    for (name, values) in deletions {
        delete_from_primitive_list(&mut original, name, values, path)?;
    }
    Ok(original)
}

/// `$retainKeys`: every field the patch sets must be listed (Kubernetes' `ErrBadPatchFormatForRetainKeys`),
/// and the object's fields not listed are cleared; this is how a union such as a volume source
/// switches from one member to another.
fn retain_keys(
    original: &mut Map<String, Value>,
    patch: &Map<String, Value>,
    retain: &Value,
    path: &Path<'_>,
) -> Result<(), PatchError> {
    let Value::Array(names) = retain else {
        return Err(malformed_at(path, format!("$retainKeys must be a list of field names, not {}", describe(retain))));
    };
    let keep: HashSet<&str> = names.iter().filter_map(Value::as_str).collect();
    for (key, value) in patch {
        if !is_directive_key(key) && !value.is_null() && !keep.contains(key.as_str()) {
            return Err(malformed_at(path, format!("the patch sets {key:?}, which $retainKeys does not list")));
        }
    }
    original.retain(|key, _| keep.contains(key.as_str()));
    Ok(())
}

/// `$setElementOrder/<name>` (Go: `mergePatchIntoOriginal`): merges the patch's list for `name`, if
/// any, then orders the result: the elements the order lists, in its order, with the object's
/// other elements interleaved where they stood relative to them.
fn set_element_order(
    original: &mut Map<String, Value>,
    patch: &Map<String, Value>,
    name: &str,
    order: &Value,
    field: Option<&'static Field>,
    path: &Path<'_>,
) -> Result<(), PatchError> {
    let field_path = path.child(Step::Field(name));
    let Value::Array(order) = order else {
        return Err(malformed_at(path, format!("$setElementOrder/{name} must be a list, not {}", describe(order))));
    };
    let merge_key = match list_strategy(field) {
        ListStrategy::MergeByKey(key) => Some(key),
        ListStrategy::Replace | ListStrategy::Union => None,
    };
    let mut order_ranks = HashMap::new();
    for (index, entry) in order.iter().enumerate() {
        let Some(id) = element_id(entry, merge_key) else {
            return Err(malformed_at(
                &field_path,
                match merge_key {
                    Some(key) => {
                        format!("$setElementOrder/{name} entry {index} must be a map with the {key:?} merge key")
                    }
                    None => format!("$setElementOrder/{name} entry {index} must be a primitive value"),
                },
            ));
        };
        order_ranks.entry(id).or_insert(index);
    }
    let patch_items = match patch.get(name) {
        None => None,
        Some(Value::Array(items)) => Some(items.as_slice()),
        Some(other) => {
            return Err(malformed_at(
                &field_path,
                format!("$setElementOrder/{name} is given but {name} is {}", describe(other)),
            ));
        }
    };
    if let Some(items) = patch_items {
        check_follows_order(items, order, merge_key, &field_path, name)?;
    }
    let current = match original.remove(name) {
        None => None,
        Some(Value::Array(items)) => Some(items),
        Some(other) => {
            return Err(conflict_at(&field_path, format!("the object has {}, not a list", describe(&other))));
        }
    };
    let current_ranks = current.as_deref().map(|items| first_positions(items, merge_key)).unwrap_or_default();
    let merged = match (current, patch_items) {
        (Some(current), None) => current,
        (None, Some(items)) => fresh_list(items, field, &field_path)?,
        (Some(current), Some(items)) => merge_list(current, items, field, &field_path)?,
        (None, None) => return Ok(()),
    };

    let mut listed = Vec::new();
    let mut unlisted = Vec::new();
    for item in merged {
        let id = element_id(&item, merge_key);
        let rank = id.as_ref().and_then(|id| current_ranks.get(id)).copied();
        match id.as_ref().and_then(|id| order_ranks.get(id)) {
            Some(&order_rank) => listed.push((order_rank, rank, item)),
            None => unlisted.push((rank, item)),
        }
    }
    listed.sort_by_key(|(order_rank, _, _)| *order_rank);
    unlisted.sort_by_key(|(rank, _)| rank.unwrap_or(usize::MAX));
    let listed = listed.into_iter().map(|(_, rank, item)| (rank, item)).collect();
    original.insert(name.to_string(), Value::Array(interleave(unlisted, listed)));
    Ok(())
}

/// The patch's own elements must come in the order `$setElementOrder` gives them (Go:
/// `validatePatchWithSetOrderList`); elements carrying `$patch` are not elements and are skipped.
fn check_follows_order(
    items: &[Value],
    order: &[Value],
    merge_key: Option<&str>,
    path: &Path<'_>,
    name: &str,
) -> Result<(), PatchError> {
    let order_ids: Vec<_> = order.iter().map(|entry| element_id(entry, merge_key)).collect();
    let mut next = 0;
    for item in items {
        if item.as_object().is_some_and(|members| members.contains_key(DIRECTIVE)) {
            continue;
        }
        let Some(id) = element_id(item, merge_key) else {
            return Err(malformed_at(
                path,
                match merge_key {
                    Some(key) => format!("an element of the patch has no {key:?}, the merge key of this list"),
                    None => format!("the patch's {name} holds {}, which $setElementOrder cannot place", describe(item)),
                },
            ));
        };
        loop {
            let Some(candidate) = order_ids.get(next) else {
                return Err(malformed_at(
                    path,
                    format!("the order of {name} in the patch does not match $setElementOrder/{name}"),
                ));
            };
            next += 1;
            if candidate.as_ref() == Some(&id) {
                break;
            }
        }
    }
    Ok(())
}

/// Merges the patch's list into the object's by the field's strategy.
fn merge_list(
    current: Vec<Value>,
    patch: &[Value],
    field: Option<&'static Field>,
    path: &Path<'_>,
) -> Result<Vec<Value>, PatchError> {
    match list_strategy(field) {
        ListStrategy::Replace => fresh_list(patch, field, path),
        ListStrategy::Union => merge_union(current, patch, path),
        ListStrategy::MergeByKey(key) => merge_by_key(current, patch, key, fields_of(field), path),
    }
}

/// A list of primitives with the merge strategy: a set union, duplicates dropped, ordered as
/// Kubernetes' `mergeSlice` orders it.
fn merge_union(current: Vec<Value>, patch: &[Value], path: &Path<'_>) -> Result<Vec<Value>, PatchError> {
    for (index, item) in patch.iter().enumerate() {
        if matches!(item, Value::Object(_) | Value::Array(_)) {
            return Err(malformed_at(
                &path.child(Step::Index(index)),
                format!("this list is a set of primitive values, and the patch gives {}", describe(item)),
            ));
        }
    }
    if current.is_empty() && patch.is_empty() {
        return Ok(current);
    }
    let patch_ranks = first_positions(patch, None);
    let current_ranks = first_positions(&current, None);
    let mut seen = HashSet::new();
    let mut from_patch = Vec::new();
    let mut server_only = Vec::new();
    for item in current.into_iter().chain(patch.iter().cloned()) {
        let id = value_key(&item);
        if !seen.insert(id.clone()) {
            continue;
        }
        let rank = current_ranks.get(&id).copied();
        match patch_ranks.get(&id) {
            Some(&patch_rank) => from_patch.push((patch_rank, rank, item)),
            None => server_only.push((rank, item)),
        }
    }
    from_patch.sort_by_key(|(patch_rank, _, _)| *patch_rank);
    let from_patch = from_patch.into_iter().map(|(_, rank, item)| (rank, item)).collect();
    Ok(interleave(server_only, from_patch))
}

/// A list of maps with a merge key (Go: `mergeSlice` with `mergeSliceWithSpecialElements`):
/// `$patch` elements first (delete by key, replace the list), then each patch element merged into
/// the object's element with the same key, or added.
fn merge_by_key(
    mut current: Vec<Value>,
    patch: &[Value],
    key: &'static str,
    schema: &'static [Field],
    path: &Path<'_>,
) -> Result<Vec<Value>, PatchError> {
    for (index, item) in current.iter().enumerate() {
        if !item.is_object() {
            return Err(conflict_at(
                &path.child(Step::Index(index)),
                format!("the object's list holds {} where maps merged by {key:?} are expected", describe(item)),
            ));
        }
    }
    let mut regular = Vec::new();
    let mut deleted = HashSet::new();
    let mut replace = false;
    for (index, item) in patch.iter().enumerate() {
        let item_path = path.child(Step::Index(index));
        let Value::Object(members) = item else {
            return Err(malformed_at(
                &item_path,
                format!("elements of this list are maps merged by {key:?}, not {}", describe(item)),
            ));
        };
        let Some(directive) = members.get(DIRECTIVE) else {
            regular.push(members);
            continue;
        };
        match directive.as_str() {
            Some("delete") => match members.get(key) {
                Some(value) => {
                    deleted.insert(value_key(value));
                }
                None => {
                    return Err(malformed_at(
                        &item_path,
                        format!("a $patch: delete element must give the {key:?} of the elements to delete"),
                    ));
                }
            },
            Some("replace") => replace = true,
            // With the merge key it is an ordinary element; without, a note that the list merges,
            // which it does anyway.
            Some("merge") => {
                if members.contains_key(key) {
                    regular.push(members);
                }
            }
            _ => return Err(malformed_at(&item_path, format!("unknown $patch directive {}", show(directive)))),
        }
    }
    if current.is_empty() && patch.is_empty() {
        return Ok(current);
    }
    if !deleted.is_empty() {
        current.retain(|item| element_id(item, Some(key)).is_none_or(|id| !deleted.contains(&id)));
    }
    if replace {
        // The other elements of the patch are the whole list.
        return regular
            .into_iter()
            .map(|members| merge_map(Map::new(), members, schema, path).map(Value::Object))
            .collect();
    }

    let current_ranks = first_positions(&current, Some(key));
    let mut positions = current_ranks.clone();
    let mut patch_ranks = HashMap::new();
    for (patch_rank, members) in regular.into_iter().enumerate() {
        let Some(key_value) = members.get(key) else {
            return Err(malformed_at(
                path,
                format!("an element of the patch has no {key:?}, the merge key of this list"),
            ));
        };
        let id = value_key(key_value);
        let element_path = path.child(Step::Element(key, key_value));
        patch_ranks.entry(id.clone()).or_insert(patch_rank);
        match positions.get(&id) {
            Some(&at) => {
                // Every element of `current` was checked above to be a map.
                let existing = match std::mem::take(&mut current[at]) {
                    Value::Object(existing) => existing,
                    _ => Map::new(),
                };
                current[at] = Value::Object(merge_map(existing, members, schema, &element_path)?);
            }
            None => {
                positions.insert(id, current.len());
                current.push(Value::Object(merge_map(Map::new(), members, schema, &element_path)?));
            }
        }
    }

    let mut from_patch = Vec::new();
    let mut server_only = Vec::new();
    for item in current {
        let id = element_id(&item, Some(key));
        let rank = id.as_ref().and_then(|id| current_ranks.get(id)).copied();
        match id.as_ref().and_then(|id| patch_ranks.get(id)) {
            Some(&patch_rank) => from_patch.push((patch_rank, rank, item)),
            None => server_only.push((rank, item)),
        }
    }
    from_patch.sort_by_key(|(patch_rank, _, _)| *patch_rank);
    let from_patch = from_patch.into_iter().map(|(_, rank, item)| (rank, item)).collect();
    Ok(interleave(server_only, from_patch))
}

/// Kubernetes' `mergeSortedSlice`: merges the object's elements the patch did not touch into the
/// patch's elements, each kept in its own order. An object element goes first only when both it
/// and the next patch element were in the object's list and it stood before; so an element new in
/// the patch goes before the object elements that remain, and unchanged neighbours stay together.
/// Each element comes with its position in the object's list.
fn interleave(server_only: Vec<(Option<usize>, Value)>, from_patch: Vec<(Option<usize>, Value)>) -> Vec<Value> {
    let mut merged = Vec::with_capacity(server_only.len() + from_patch.len());
    let mut server_only = server_only.into_iter().peekable();
    let mut from_patch = from_patch.into_iter().peekable();
    loop {
        let take_server = match (server_only.peek(), from_patch.peek()) {
            (Some((Some(server_rank), _)), Some((Some(patch_rank), _))) => server_rank < patch_rank,
            (Some(_), Some(_)) => false,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => break,
        };
        let next = if take_server { server_only.next() } else { from_patch.next() };
        merged.extend(next.map(|(_, item)| item));
    }
    merged
}

/// `$deleteFromPrimitiveList/<name>`: removes every occurrence of the given values from the
/// object's list, whatever the list's strategy (Kubernetes does the same). No list, nothing to do.
fn delete_from_primitive_list(
    original: &mut Map<String, Value>,
    name: &str,
    values: &Value,
    path: &Path<'_>,
) -> Result<(), PatchError> {
    let Value::Array(values) = values else {
        return Err(malformed_at(
            path,
            format!("$deleteFromPrimitiveList/{name} must be a list, not {}", describe(values)),
        ));
    };
    if let Some(value) = values.iter().find(|value| matches!(value, Value::Object(_) | Value::Array(_))) {
        return Err(malformed_at(
            path,
            format!("$deleteFromPrimitiveList/{name} may only list primitive values, not {}", describe(value)),
        ));
    }
    if let Some(Value::Array(current)) = original.get_mut(name) {
        let doomed: HashSet<ValueKey> = values.iter().map(value_key).collect();
        current.retain(|item| element_id(item, None).is_none_or(|id| !doomed.contains(&id)));
    }
    Ok(())
}

/// The value a patch sets where the object has nothing to merge it with (the field is absent or
/// of another type): Go's `removeDirectives` and `discardNullValuesFromPatch`. `None` removes the
/// field.
fn fresh_value(value: &Value, field: Option<&'static Field>, path: &Path<'_>) -> Result<Option<Value>, PatchError> {
    Ok(match value {
        // Maps drop a null member before getting here; a null anywhere else removes the field too.
        Value::Null => None,
        Value::Object(members) => match members.get(DIRECTIVE).and_then(Value::as_str) {
            Some("delete") => None,
            _ => Some(Value::Object(merge_map(Map::new(), members, fields_of(field), path)?)),
        },
        Value::Array(items) => Some(Value::Array(fresh_list(items, field, path)?)),
        scalar => Some(scalar.clone()),
    })
}

/// A list taken from the patch as it is: elements carrying `$patch` are directives about the list,
/// not elements, and are dropped (Go: `removeDirectives`); maps lose their nulls; nulls in the list
/// itself stay, as in Go.
fn fresh_list(items: &[Value], field: Option<&'static Field>, path: &Path<'_>) -> Result<Vec<Value>, PatchError> {
    let merge_key = match list_strategy(field) {
        ListStrategy::MergeByKey(key) => Some(key),
        ListStrategy::Replace | ListStrategy::Union => None,
    };
    let mut fresh = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let item_path = path.child(Step::Index(index));
        match item {
            Value::Object(members) if members.contains_key(DIRECTIVE) => {}
            Value::Object(members) => {
                fresh.push(Value::Object(merge_map_fields(Map::new(), members, fields_of(field), &item_path)?));
            }
            other => {
                if let Some(key) = merge_key {
                    return Err(malformed_at(
                        &item_path,
                        format!("elements of this list are maps merged by {key:?}, not {}", describe(other)),
                    ));
                }
                fresh.push(other.clone());
            }
        }
    }
    Ok(fresh)
}

// ---------------------------------------------------------------------------------------------
// Shared helpers
// ---------------------------------------------------------------------------------------------

/// A JSON value as a hash key, equal where Go's `==` on decoded JSON is: every number is a
/// float64 there, so `80` and `80.0` are the same merge key.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum ValueKey {
    Null,
    Bool(bool),
    Number(u64),
    String(String),
    /// Objects and arrays, which no Kubernetes merge key holds, by their JSON text.
    Composite(String),
}

fn value_key(value: &Value) -> ValueKey {
    match value {
        Value::Null => ValueKey::Null,
        Value::Bool(flag) => ValueKey::Bool(*flag),
        Value::Number(number) => ValueKey::Number(number_bits(number)),
        Value::String(text) => ValueKey::String(text.clone()),
        composite => ValueKey::Composite(composite.to_string()),
    }
}

fn number_bits(number: &Number) -> u64 {
    let float = number.as_f64().unwrap_or(f64::NAN);
    // -0.0 == 0.0 in Go, but their bits differ.
    if float == 0.0 { 0.0f64.to_bits() } else { float.to_bits() }
}

/// What identifies a list element: the value of its merge key in a list merged by key, the
/// element itself in a list of primitives; `None` for a map without the key, or a map or list in a
/// list without one.
fn element_id(element: &Value, merge_key: Option<&str>) -> Option<ValueKey> {
    match merge_key {
        Some(key) => element.as_object()?.get(key).map(value_key),
        None => match element {
            Value::Object(_) | Value::Array(_) => None,
            scalar => Some(value_key(scalar)),
        },
    }
}

/// Where each identity first occurs in `items`.
fn first_positions(items: &[Value], merge_key: Option<&str>) -> HashMap<ValueKey, usize> {
    let mut positions = HashMap::new();
    for (index, item) in items.iter().enumerate() {
        if let Some(id) = element_id(item, merge_key) {
            positions.entry(id).or_insert(index);
        }
    }
    positions
}

/// RFC 6902 4.6 equality: numbers compare by value (`1` equals `1.0`), objects regardless of
/// member order. Iterative, so no depth of input can exhaust the stack.
fn json_equal(left: &Value, right: &Value) -> bool {
    let mut pending = vec![(left, right)];
    while let Some(pair) = pending.pop() {
        match pair {
            (Value::Null, Value::Null) => {}
            (Value::Bool(a), Value::Bool(b)) if a == b => {}
            (Value::Number(a), Value::Number(b)) if numbers_equal(a, b) => {}
            (Value::String(a), Value::String(b)) if a == b => {}
            (Value::Array(a), Value::Array(b)) if a.len() == b.len() => pending.extend(a.iter().zip(b)),
            (Value::Object(a), Value::Object(b)) if a.len() == b.len() => {
                for (name, value) in a {
                    let Some(other) = b.get(name) else {
                        return false;
                    };
                    pending.push((value, other));
                }
            }
            _ => return false,
        }
    }
    true
}

fn numbers_equal(a: &Number, b: &Number) -> bool {
    if let (Some(a), Some(b)) = (a.as_i64(), b.as_i64()) {
        return a == b;
    }
    if let (Some(a), Some(b)) = (a.as_u64(), b.as_u64()) {
        return a == b;
    }
    a.as_f64() == b.as_f64()
}

/// Levels of nesting in `value` (a scalar is 1), measured without recursion so that any depth is
/// safe to measure; counting stops at `cap`.
fn nesting_depth(value: &Value, cap: usize) -> usize {
    let mut deepest = 0;
    let mut pending = vec![(value, 1)];
    while let Some((value, depth)) = pending.pop() {
        deepest = deepest.max(depth);
        if deepest >= cap {
            break;
        }
        match value {
            Value::Array(items) => pending.extend(items.iter().map(|item| (item, depth + 1))),
            Value::Object(members) => pending.extend(members.values().map(|member| (member, depth + 1))),
            _ => {}
        }
    }
    deepest
}

/// Refuses a document nesting deeper than [`MAX_NESTING`]; returns its depth otherwise.
fn check_nesting(value: &Value, document: Document) -> Result<usize, PatchError> {
    let depth = nesting_depth(value, MAX_NESTING + 1);
    if depth > MAX_NESTING { Err(PatchError::TooDeep { document, limit: MAX_NESTING }) } else { Ok(depth) }
}

fn describe(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a map",
    }
}

/// A value as compact JSON for a message, cut short if long.
fn show(value: &Value) -> String {
    const LIMIT: usize = 80;
    let text = value.to_string();
    if text.len() <= LIMIT {
        return text;
    }
    let mut end = LIMIT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn list_types_come_from_the_markers() {
        let pod_spec = "io.k8s.api.core.v1.PodSpec";
        assert_eq!(list_type(pod_spec, "containers"), Some(ListType::Map(&["name"])));
        assert_eq!(list_type(pod_spec, "tolerations"), Some(ListType::Atomic));
        // Server-side apply keys topology spread constraints by both fields, where strategic
        // merge uses topologyKey alone.
        assert_eq!(
            list_type(pod_spec, "topologySpreadConstraints"),
            Some(ListType::Map(&["topologyKey", "whenUnsatisfiable"]))
        );
        assert_eq!(list_type("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", "finalizers"), Some(ListType::Set));
        // Fields of an inline embedding belong to the embedding struct.
        assert_eq!(list_type("io.k8s.api.core.v1.EphemeralContainer", "ports"), Some(ListType::Map(&["containerPort", "protocol"])));
        assert_eq!(list_type(pod_spec, "hostname"), None);
        assert_eq!(list_type("io.k8s.api.core.v1.NoSuchType", "containers"), None);
    }

    #[test]
    fn service_account_metadata_merges_like_every_object_metadata() {
        let object = json!({"metadata": {"name": "robot", "finalizers": ["a"]}, "secrets": [{"name": "one"}]});
        let patch = json!({"metadata": {"finalizers": ["b"]}, "secrets": [{"name": "two"}]});
        let merged = strategic_merge_patch("ServiceAccount", &object, &patch).unwrap();
        // A union, not a replacement (as the hand table had it); what the patch adds comes first.
        assert_eq!(merged["metadata"]["finalizers"], json!(["b", "a"]));
        assert_eq!(merged["secrets"], json!([{"name": "two"}, {"name": "one"}]));
    }

    fn parse(text: &str) -> Value {
        serde_json::from_str(text).unwrap_or_else(|err| panic!("test JSON {text:?} does not parse: {err}"))
    }

    // --- JSON merge patch ---------------------------------------------------------------------

    /// RFC 7386 appendix A, every example: (target, patch, result).
    const RFC7386_APPENDIX_A: &[(&str, &str, &str)] = &[
        (r#"{"a":"b"}"#, r#"{"a":"c"}"#, r#"{"a":"c"}"#),
        (r#"{"a":"b"}"#, r#"{"b":"c"}"#, r#"{"a":"b","b":"c"}"#),
        (r#"{"a":"b"}"#, r#"{"a":null}"#, r#"{}"#),
        (r#"{"a":"b","b":"c"}"#, r#"{"a":null}"#, r#"{"b":"c"}"#),
        (r#"{"a":["b"]}"#, r#"{"a":"c"}"#, r#"{"a":"c"}"#),
        (r#"{"a":"c"}"#, r#"{"a":["b"]}"#, r#"{"a":["b"]}"#),
        (r#"{"a":{"b":"c"}}"#, r#"{"a":{"b":"d","c":null}}"#, r#"{"a":{"b":"d"}}"#),
        (r#"{"a":[{"b":"c"}]}"#, r#"{"a":[1]}"#, r#"{"a":[1]}"#),
        (r#"["a","b"]"#, r#"["c","d"]"#, r#"["c","d"]"#),
        (r#"{"a":"b"}"#, r#"["c"]"#, r#"["c"]"#),
        (r#"{"a":"foo"}"#, r#"null"#, r#"null"#),
        (r#"{"a":"foo"}"#, r#""bar""#, r#""bar""#),
        (r#"{"e":null}"#, r#"{"a":1}"#, r#"{"e":null,"a":1}"#),
        (r#"[1,2]"#, r#"{"a":"b","c":null}"#, r#"{"a":"b"}"#),
        (r#"{}"#, r#"{"a":{"bb":{"ccc":null}}}"#, r#"{"a":{"bb":{}}}"#),
        // Section 3's example.
        (
            r#"{"title":"Goodbye!","author":{"givenName":"John","familyName":"Doe"},"tags":["example","sample"],"content":"This will be unchanged"}"#,
            r#"{"title":"Hello!","phoneNumber":"+01-123-456-7890","author":{"familyName":null},"tags":["example"]}"#,
            r#"{"title":"Hello!","author":{"givenName":"John"},"tags":["example"],"content":"This will be unchanged","phoneNumber":"+01-123-456-7890"}"#,
        ),
    ];

    #[test]
    fn merge_patch_follows_rfc7386_appendix_a() {
        for (target, patch, expected) in RFC7386_APPENDIX_A {
            let (target, patch, expected) = (parse(target), parse(patch), parse(expected));
            assert_eq!(merge_patch_value(target.clone(), &patch), expected, "RFC algorithm, patch {patch}");
            // The public function: a patch that is not an object is refused as kube-apiserver
            // refuses it, since it could only replace the whole object.
            match json_merge_patch(&target, &patch) {
                Ok(result) => {
                    assert!(patch.is_object(), "patch {patch} should have been refused");
                    assert_eq!(result, expected, "patch {patch}");
                }
                Err(err) => {
                    assert!(!patch.is_object(), "patch {patch} failed: {err}");
                    assert_eq!(err.status_code(), 400, "{err}");
                    assert!(
                        err.to_string().starts_with("invalid merge patch: a merge patch must be a JSON object"),
                        "{err}"
                    );
                }
            }
        }
    }

    #[test]
    fn merge_patch_leaves_the_target_and_merges_an_object_deeply() {
        let target = json!({"metadata": {"labels": {"app": "web", "tier": "frontend"}}, "spec": {"replicas": 2}});
        let patch = json!({"metadata": {"labels": {"tier": null, "team": "a"}}, "spec": {"replicas": 3}});
        let result = json_merge_patch(&target, &patch).unwrap();
        assert_eq!(result, json!({"metadata": {"labels": {"app": "web", "team": "a"}}, "spec": {"replicas": 3}}));
        assert_eq!(target["spec"]["replicas"], 2, "the target is not touched");
    }

    // --- JSON patch ---------------------------------------------------------------------------

    enum Outcome {
        /// The patched document.
        Patched(&'static str),
        /// The status and the whole error message.
        Refused(u16, &'static str),
    }
    use Outcome::{Patched, Refused};

    /// RFC 6902 appendix A, every example, then further cases: (name, target, patch, outcome).
    /// A.13's patch repeats "op"; serde_json keeps the last, so it is a "remove" of a missing path
    /// and fails as the RFC requires.
    const JSON_PATCH_CASES: &[(&str, &str, &str, Outcome)] = &[
        (
            "A.1 add an object member",
            r#"{"foo":"bar"}"#,
            r#"[{"op":"add","path":"/baz","value":"qux"}]"#,
            Patched(r#"{"baz":"qux","foo":"bar"}"#),
        ),
        (
            "A.2 add an array element",
            r#"{"foo":["bar","baz"]}"#,
            r#"[{"op":"add","path":"/foo/1","value":"qux"}]"#,
            Patched(r#"{"foo":["bar","qux","baz"]}"#),
        ),
        (
            "A.3 remove an object member",
            r#"{"baz":"qux","foo":"bar"}"#,
            r#"[{"op":"remove","path":"/baz"}]"#,
            Patched(r#"{"foo":"bar"}"#),
        ),
        (
            "A.4 remove an array element",
            r#"{"foo":["bar","qux","baz"]}"#,
            r#"[{"op":"remove","path":"/foo/1"}]"#,
            Patched(r#"{"foo":["bar","baz"]}"#),
        ),
        (
            "A.5 replace a value",
            r#"{"baz":"qux","foo":"bar"}"#,
            r#"[{"op":"replace","path":"/baz","value":"boo"}]"#,
            Patched(r#"{"baz":"boo","foo":"bar"}"#),
        ),
        (
            "A.6 move a value",
            r#"{"foo":{"bar":"baz","waldo":"fred"},"qux":{"corge":"grault"}}"#,
            r#"[{"op":"move","from":"/foo/waldo","path":"/qux/thud"}]"#,
            Patched(r#"{"foo":{"bar":"baz"},"qux":{"corge":"grault","thud":"fred"}}"#),
        ),
        (
            "A.7 move an array element",
            r#"{"foo":["all","grass","cows","eat"]}"#,
            r#"[{"op":"move","from":"/foo/1","path":"/foo/3"}]"#,
            Patched(r#"{"foo":["all","cows","eat","grass"]}"#),
        ),
        (
            "A.8 test a value, success",
            r#"{"baz":"qux","foo":["a",2,"c"]}"#,
            r#"[{"op":"test","path":"/baz","value":"qux"},{"op":"test","path":"/foo/1","value":2}]"#,
            Patched(r#"{"baz":"qux","foo":["a",2,"c"]}"#),
        ),
        (
            "A.9 test a value, error",
            r#"{"baz":"qux"}"#,
            r#"[{"op":"test","path":"/baz","value":"bar"}]"#,
            Refused(422, r#"the "test" operation at index 0 failed: value at /baz is "qux", not "bar""#),
        ),
        (
            "A.10 add a nested member object",
            r#"{"foo":"bar"}"#,
            r#"[{"op":"add","path":"/child","value":{"grandchild":{}}}]"#,
            Patched(r#"{"foo":"bar","child":{"grandchild":{}}}"#),
        ),
        (
            "A.11 ignore unrecognized elements",
            r#"{"foo":"bar"}"#,
            r#"[{"op":"add","path":"/baz","value":"qux","xyz":123}]"#,
            Patched(r#"{"foo":"bar","baz":"qux"}"#),
        ),
        (
            "A.12 add to a nonexistent target",
            r#"{"foo":"bar"}"#,
            r#"[{"op":"add","path":"/baz/bat","value":"qux"}]"#,
            Refused(422, r#"the "add" operation at index 0 failed: path /baz does not exist"#),
        ),
        (
            "A.13 invalid JSON patch document",
            r#"{"foo":"bar"}"#,
            r#"[{"op":"add","path":"/baz","value":"qux","op":"remove"}]"#,
            Refused(422, r#"the "remove" operation at index 0 failed: path /baz does not exist"#),
        ),
        (
            "A.14 ~ escape ordering",
            r#"{"/":9,"~1":10}"#,
            r#"[{"op":"test","path":"/~01","value":10}]"#,
            Patched(r#"{"/":9,"~1":10}"#),
        ),
        (
            "A.15 compare strings and numbers",
            r#"{"/":9,"~1":10}"#,
            r#"[{"op":"test","path":"/~01","value":"10"}]"#,
            Refused(422, r#"the "test" operation at index 0 failed: value at /~01 is 10, not "10""#),
        ),
        (
            "A.16 add an array value",
            r#"{"foo":["bar"]}"#,
            r#"[{"op":"add","path":"/foo/-","value":["abc","def"]}]"#,
            Patched(r#"{"foo":["bar",["abc","def"]]}"#),
        ),
        // Beyond the appendix.
        (
            "the brief's failed test",
            r#"{"spec":{"replicas":3}}"#,
            r#"[{"op":"test","path":"/spec","value":{"replicas":3}},{"op":"add","path":"/spec/paused","value":true},{"op":"test","path":"/spec/replicas","value":4}]"#,
            Refused(422, r#"the "test" operation at index 2 failed: value at /spec/replicas is 3, not 4"#),
        ),
        (
            "remove a missing path",
            r#"{"spec":{}}"#,
            r#"[{"op":"remove","path":"/spec/foo/bar"}]"#,
            Refused(422, r#"the "remove" operation at index 0 failed: path /spec/foo/bar does not exist"#),
        ),
        (
            "replace a missing path",
            r#"{"spec":{}}"#,
            r#"[{"op":"replace","path":"/spec/foo","value":1}]"#,
            Refused(422, r#"the "replace" operation at index 0 failed: path /spec/foo does not exist"#),
        ),
        (
            "test a missing path",
            r#"{}"#,
            r#"[{"op":"test","path":"/a","value":1}]"#,
            Refused(422, r#"the "test" operation at index 0 failed: path /a does not exist"#),
        ),
        (
            "numbers compare by value",
            r#"{"a":1,"b":[1.0,{"c":2}]}"#,
            r#"[{"op":"test","path":"/a","value":1.0},{"op":"test","path":"/b","value":[1,{"c":2.0}]}]"#,
            Patched(r#"{"a":1,"b":[1.0,{"c":2}]}"#),
        ),
        (
            "objects compare regardless of order, and by every member",
            r#"{"a":{"x":1,"y":2}}"#,
            r#"[{"op":"test","path":"/a","value":{"y":2,"x":1}},{"op":"test","path":"/a","value":{"x":1}}]"#,
            Refused(422, r#"the "test" operation at index 1 failed: value at /a is {"x":1,"y":2}, not {"x":1}"#),
        ),
        (
            "replace the whole document",
            r#"{"a":1}"#,
            r#"[{"op":"replace","path":"","value":{"b":2}}]"#,
            Patched(r#"{"b":2}"#),
        ),
        ("add at the root replaces it", r#"{"a":1}"#, r#"[{"op":"add","path":"","value":[1]}]"#, Patched(r#"[1]"#)),
        (
            "append with -",
            r#"{"a":[1]}"#,
            r#"[{"op":"add","path":"/a/-","value":2},{"op":"add","path":"/a/2","value":3}]"#,
            Patched(r#"{"a":[1,2,3]}"#),
        ),
        (
            "copy a value",
            r#"{"a":{"b":[1]}}"#,
            r#"[{"op":"copy","from":"/a/b","path":"/c"},{"op":"add","path":"/c/-","value":2}]"#,
            Patched(r#"{"a":{"b":[1]},"c":[1,2]}"#),
        ),
        (
            "move onto itself is a no-op",
            r#"{"a":1}"#,
            r#"[{"op":"move","from":"/a","path":"/a"}]"#,
            Patched(r#"{"a":1}"#),
        ),
        (
            "move from a missing path",
            r#"{"a":1}"#,
            r#"[{"op":"move","from":"/b","path":"/b"}]"#,
            Refused(422, r#"the "move" operation at index 0 failed: path /b does not exist"#),
        ),
        (
            "move into its own child",
            r#"{"a":{"b":1}}"#,
            r#"[{"op":"move","from":"/a","path":"/a/b/c"}]"#,
            Refused(422, r#"the "move" operation at index 0 failed: cannot move /a into its own child /a/b/c"#),
        ),
        (
            "escaped members",
            r#"{"a/b":{"m~n":1}}"#,
            r#"[{"op":"replace","path":"/a~1b/m~0n","value":2}]"#,
            Patched(r#"{"a/b":{"m~n":2}}"#),
        ),
        (
            "an operation after a failing one is not applied either",
            r#"{"a":1}"#,
            r#"[{"op":"replace","path":"/a","value":2},{"op":"remove","path":"/nope"}]"#,
            Refused(422, r#"the "remove" operation at index 1 failed: path /nope does not exist"#),
        ),
        (
            "remove the root",
            r#"{"a":1}"#,
            r#"[{"op":"remove","path":""}]"#,
            Refused(422, r#"the "remove" operation at index 0 failed: cannot remove the whole document"#),
        ),
        (
            "index past the end",
            r#"{"a":[1]}"#,
            r#"[{"op":"add","path":"/a/2","value":3}]"#,
            Refused(
                422,
                r#"the "add" operation at index 0 failed: index 2 is out of range for the array at /a (length 1)"#,
            ),
        ),
        (
            "a leading zero is no index",
            r#"{"a":[1,2]}"#,
            r#"[{"op":"remove","path":"/a/01"}]"#,
            Refused(422, r#"the "remove" operation at index 0 failed: path /a/01 does not exist"#),
        ),
        (
            "a negative index is no index",
            r#"{"a":[1,2]}"#,
            r#"[{"op":"add","path":"/a/-1","value":0}]"#,
            Refused(422, r#"the "add" operation at index 0 failed: "-1" is not an array index, in /a"#),
        ),
        (
            "- only appends",
            r#"{"a":[1]}"#,
            r#"[{"op":"remove","path":"/a/-"}]"#,
            Refused(422, r#"the "remove" operation at index 0 failed: path /a/- does not exist"#),
        ),
        (
            "add under a scalar",
            r#"{"a":1}"#,
            r#"[{"op":"add","path":"/a/b","value":2}]"#,
            Refused(
                422,
                r#"the "add" operation at index 0 failed: the value at /a is a number, which has no members to add to"#,
            ),
        ),
        (
            "a pointer without a leading slash",
            r#"{"a":1}"#,
            r#"[{"op":"remove","path":"a"}]"#,
            Refused(
                422,
                r#"the "remove" operation at index 0 failed: "a" is not a JSON pointer: it must be empty or start with "/""#,
            ),
        ),
        (
            "a bad escape",
            r#"{"a":1}"#,
            r#"[{"op":"remove","path":"/a~2"}]"#,
            Refused(
                422,
                r#"the "remove" operation at index 0 failed: "/a~2" is not a JSON pointer: "~" must be followed by 0 or 1"#,
            ),
        ),
        (
            "no value",
            r#"{}"#,
            r#"[{"op":"add","path":"/a"}]"#,
            Refused(422, r#"the "add" operation at index 0 failed: it has no "value" member"#),
        ),
        (
            "no path",
            r#"{}"#,
            r#"[{"op":"remove"}]"#,
            Refused(422, r#"the "remove" operation at index 0 failed: it has no "path" member"#),
        ),
        (
            "no from",
            r#"{}"#,
            r#"[{"op":"copy","path":"/a"}]"#,
            Refused(422, r#"the "copy" operation at index 0 failed: it has no "from" member"#),
        ),
        (
            "a path that is no string",
            r#"{}"#,
            r#"[{"op":"remove","path":1}]"#,
            Refused(422, r#"the "remove" operation at index 0 failed: "path" must be a string, not a number"#),
        ),
        (
            "no op",
            r#"{}"#,
            r#"[{"path":"/a"}]"#,
            Refused(422, r#"the operation at index 0 is not valid: it has no "op" member"#),
        ),
        (
            "an unknown op",
            r#"{}"#,
            r#"[{"op":"frobnicate","path":"/a"}]"#,
            Refused(
                422,
                r#"the operation at index 0 is not valid: unknown op "frobnicate"; it must be one of add, remove, replace, move, copy, test"#,
            ),
        ),
        (
            "an op that is no string",
            r#"{}"#,
            r#"[{"op":["add"],"path":"/a"}]"#,
            Refused(422, r#"the operation at index 0 is not valid: "op" must be a string, not a list"#),
        ),
        (
            "a patch that is an object",
            r#"{}"#,
            r#"{"op":"add","path":"/a","value":1}"#,
            Refused(400, r#"invalid JSON patch: a JSON patch must be a JSON array of operations, not a map"#),
        ),
        (
            "a patch that is a string",
            r#"{}"#,
            r#""add""#,
            Refused(400, r#"invalid JSON patch: a JSON patch must be a JSON array of operations, not a string"#),
        ),
        (
            "an operation that is no object",
            r#"{}"#,
            r#"[{"op":"test","path":"","value":{}},"remove"]"#,
            Refused(400, r#"invalid JSON patch: the operation at index 1 is a string, not a JSON object"#),
        ),
        ("an empty patch changes nothing", r#"{"a":1}"#, r#"[]"#, Patched(r#"{"a":1}"#)),
    ];

    #[test]
    fn json_patch_cases() {
        for (name, target, patch, outcome) in JSON_PATCH_CASES {
            let result = json_patch(&parse(target), &parse(patch));
            match (outcome, result) {
                (Patched(expected), Ok(result)) => assert_eq!(result, parse(expected), "{name}"),
                (Refused(status, message), Err(err)) => {
                    assert_eq!(err.to_string(), *message, "{name}");
                    assert_eq!(err.status_code(), *status, "{name}");
                }
                (Patched(_), Err(err)) => panic!("{name}: failed: {err}"),
                (Refused(..), Ok(result)) => panic!("{name}: applied, giving {result}"),
            }
        }
    }

    #[test]
    fn json_patch_refuses_more_operations_than_kube_apiserver() {
        let test = json!({"op": "test", "path": "/a", "value": 1});
        let at_limit = Value::Array(vec![test.clone(); MAX_JSON_PATCH_OPERATIONS]);
        assert_eq!(json_patch(&json!({"a": 1}), &at_limit).unwrap(), json!({"a": 1}));
        let over = Value::Array(vec![test; MAX_JSON_PATCH_OPERATIONS + 1]);
        let err = json_patch(&json!({"a": 1}), &over).unwrap_err();
        assert_eq!(err, PatchError::TooManyOperations { count: 10_001, limit: 10_000 });
        assert_eq!(err.status_code(), 413);
    }

    #[test]
    fn json_patch_copies_are_bounded_in_size() {
        // Four copies of a 1 MiB string pass the 3 MiB kube-apiserver allows copies to add.
        let target = json!({"blob": "x".repeat(1024 * 1024)});
        let copies: Vec<Value> =
            (0..4).map(|n| json!({"op": "copy", "from": "/blob", "path": format!("/copy{n}")})).collect();
        assert!(json_patch(&target, &Value::Array(copies[..2].to_vec())).is_ok());
        let err = json_patch(&target, &Value::Array(copies)).unwrap_err();
        assert_eq!(err.status_code(), 422);
        assert!(
            err.to_string()
                .starts_with(r#"the "copy" operation at index 2 failed: the values copied by this patch add up to"#),
            "{err}"
        );
    }

    #[test]
    fn json_patch_copies_and_moves_cannot_nest_without_bound() {
        // Copying a value to its own deepest point doubles its depth each time: the 6th copy
        // would pass the limit (a patch of 20 such copies would nest a million levels).
        let copies: Vec<Value> = (0..20)
            .map(|n| json!({"op": "copy", "from": "/a", "path": format!("/a{}", "/b/c".repeat(1 << n))}))
            .collect();
        let err = json_patch(&json!({"a": {"b": {}}}), &Value::Array(copies)).unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"the "copy" operation at index 5 failed: the result would nest deeper than 128 levels"#
        );

        // Moving a deep value under a deeper path.
        let target = Value::Object(Map::from_iter([
            ("v".to_string(), nested(125, |value| under("d", value))),
            ("w".to_string(), json!({"x": {"y": {"z": {"q": {"r": {}}}}}})),
        ]));
        let err = json_patch(&target, &json!([{"op": "move", "from": "/v", "path": "/w/x/y/z/q/r/s"}])).unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"the "move" operation at index 0 failed: the result would nest deeper than 128 levels"#
        );
        let moved = json_patch(&target, &json!([{"op": "move", "from": "/v", "path": "/w/x/v"}])).unwrap();
        assert_eq!(nesting_depth(&moved, usize::MAX), MAX_NESTING);
    }

    // --- strategic merge patch ----------------------------------------------------------------

    fn deployment() -> Value {
        json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {
                "name": "web",
                "labels": {"app": "web", "tier": "frontend"},
                "finalizers": ["a", "b", "c"],
                "ownerReferences": [{"uid": "u1", "name": "owner-1", "kind": "Thing"}],
            },
            "spec": {
                "replicas": 2,
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {
                        "containers": [
                            {
                                "name": "web",
                                "image": "nginx:1.25",
                                "ports": [{"containerPort": 80, "name": "http"}, {"containerPort": 443, "name": "https"}],
                                "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                            },
                            {"name": "log-shipper", "image": "fluent-bit:3"},
                        ],
                        "volumes": [{"name": "config", "configMap": {"name": "web-config"}}],
                        "tolerations": [{"key": "k1", "operator": "Exists"}],
                    },
                },
            },
            "status": {"conditions": [{"type": "Available", "status": "True"}, {"type": "Progressing", "status": "True"}]},
        })
    }

    /// Wraps a pod spec patch the way a Deployment patch carries it.
    fn template_spec(pod_spec: Value) -> Value {
        json!({"spec": {"template": {"spec": pod_spec}}})
    }

    /// A JSON pointer into the result and the value expected there; `None` for nothing.
    type Check = (&'static str, Option<Value>);

    /// A kind, the object, the patch, and the values expected at JSON pointers in the result.
    type KindCase = (&'static str, Value, Value, Vec<(&'static str, Value)>);

    fn names(result: &Value, pointer: &str, key: &str) -> Vec<String> {
        result
            .pointer(pointer)
            .and_then(Value::as_array)
            .unwrap_or_else(|| panic!("no list at {pointer} in {result}"))
            .iter()
            .map(|item| match &item[key] {
                Value::String(name) => name.clone(),
                other => other.to_string(),
            })
            .collect()
    }

    /// Patches as `kubectl apply` (client-side) and `kubectl patch` produce them, against the
    /// Deployment above: (name, patch, checks of (JSON pointer, expected value or absent)).
    #[test]
    fn strategic_merge_patches_of_a_deployment() {
        let absent = None;
        let cases: Vec<(&str, Value, Vec<Check>)> = vec![
            (
                "kubectl apply adds a container",
                template_spec(json!({
                    "$setElementOrder/containers": [{"name": "web"}, {"name": "log-shipper"}, {"name": "sidecar"}],
                    "containers": [{"name": "sidecar", "image": "busybox"}],
                })),
                vec![
                    ("/spec/template/spec/containers/0/name", Some(json!("web"))),
                    ("/spec/template/spec/containers/0/image", Some(json!("nginx:1.25"))),
                    ("/spec/template/spec/containers/1/name", Some(json!("log-shipper"))),
                    ("/spec/template/spec/containers/2", Some(json!({"name": "sidecar", "image": "busybox"}))),
                    ("/spec/template/spec/containers/3", absent.clone()),
                ],
            ),
            (
                "without $setElementOrder a new container goes first, as in Kubernetes",
                template_spec(json!({"containers": [{"name": "sidecar", "image": "busybox"}]})),
                vec![
                    ("/spec/template/spec/containers/0/name", Some(json!("sidecar"))),
                    ("/spec/template/spec/containers/1/name", Some(json!("web"))),
                    ("/spec/template/spec/containers/2/name", Some(json!("log-shipper"))),
                ],
            ),
            (
                "kubectl apply removes a container",
                template_spec(json!({
                    "$setElementOrder/containers": [{"name": "web"}],
                    "containers": [{"$patch": "delete", "name": "log-shipper"}],
                })),
                vec![
                    ("/spec/template/spec/containers/0/name", Some(json!("web"))),
                    ("/spec/template/spec/containers/0/env/1/value", Some(json!("2"))),
                    ("/spec/template/spec/containers/1", absent.clone()),
                ],
            ),
            (
                "kubectl apply changes one env var",
                template_spec(json!({
                    "$setElementOrder/containers": [{"name": "web"}, {"name": "log-shipper"}],
                    "containers": [{
                        "$setElementOrder/env": [{"name": "A"}, {"name": "B"}],
                        "env": [{"name": "B", "value": "3"}],
                        "name": "web",
                    }],
                })),
                vec![
                    (
                        "/spec/template/spec/containers/0/env",
                        Some(json!([{"name": "A", "value": "1"}, {"name": "B", "value": "3"}])),
                    ),
                    ("/spec/template/spec/containers/0/image", Some(json!("nginx:1.25"))),
                    ("/spec/template/spec/containers/0/ports/1/containerPort", Some(json!(443))),
                    ("/spec/template/spec/containers/1/name", Some(json!("log-shipper"))),
                ],
            ),
            (
                "a port removed with $patch: delete",
                template_spec(
                    json!({"containers": [{"name": "web", "ports": [{"$patch": "delete", "containerPort": 443}]}]}),
                ),
                vec![
                    ("/spec/template/spec/containers/0/ports", Some(json!([{"containerPort": 80, "name": "http"}]))),
                    ("/spec/template/spec/containers/1/name", Some(json!("log-shipper"))),
                ],
            ),
            (
                "a port changed, found by containerPort",
                template_spec(
                    json!({"containers": [{"name": "web", "ports": [{"containerPort": 443, "name": "tls"}]}]}),
                ),
                vec![
                    ("/spec/template/spec/containers/0/ports/0", Some(json!({"containerPort": 80, "name": "http"}))),
                    ("/spec/template/spec/containers/0/ports/1", Some(json!({"containerPort": 443, "name": "tls"}))),
                ],
            ),
            (
                "$setElementOrder/containers alone reorders",
                template_spec(json!({"$setElementOrder/containers": [{"name": "log-shipper"}, {"name": "web"}]})),
                vec![
                    ("/spec/template/spec/containers/0/name", Some(json!("log-shipper"))),
                    ("/spec/template/spec/containers/1/name", Some(json!("web"))),
                    ("/spec/template/spec/containers/1/env/0/name", Some(json!("A"))),
                ],
            ),
            (
                "$retainKeys switches a volume from configMap to secret",
                template_spec(json!({
                    "$setElementOrder/volumes": [{"name": "config"}],
                    "volumes": [{"$retainKeys": ["name", "secret"], "name": "config", "secret": {"secretName": "web-secret"}}],
                })),
                vec![(
                    "/spec/template/spec/volumes",
                    Some(json!([{"name": "config", "secret": {"secretName": "web-secret"}}])),
                )],
            ),
            (
                "without $retainKeys a volume keeps both sources",
                template_spec(json!({"volumes": [{"name": "config", "secret": {"secretName": "web-secret"}}]})),
                vec![(
                    "/spec/template/spec/volumes",
                    Some(
                        json!([{"name": "config", "configMap": {"name": "web-config"}, "secret": {"secretName": "web-secret"}}]),
                    ),
                )],
            ),
            (
                "$deleteFromPrimitiveList/finalizers",
                json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["b", "not-there"]}}),
                vec![("/metadata/finalizers", Some(json!(["a", "c"])))],
            ),
            (
                "finalizers merge as a set; new ones go first without an order",
                json!({"metadata": {"finalizers": ["d", "a"]}}),
                vec![("/metadata/finalizers", Some(json!(["d", "a", "b", "c"])))],
            ),
            (
                "finalizers merge as a set in the order given",
                json!({"metadata": {"$setElementOrder/finalizers": ["a", "b", "c", "d"], "finalizers": ["d"]}}),
                vec![("/metadata/finalizers", Some(json!(["a", "b", "c", "d"])))],
            ),
            (
                "an empty list changes neither a set nor a list merged by key, as in Kubernetes",
                json!({"metadata": {"finalizers": []}, "spec": {"template": {"spec": {"containers": []}}}}),
                vec![
                    ("/metadata/finalizers", Some(json!(["a", "b", "c"]))),
                    ("/spec/template/spec/containers/1/name", Some(json!("log-shipper"))),
                ],
            ),
            (
                "null removes a merged list",
                json!({"metadata": {"finalizers": null}}),
                vec![("/metadata/finalizers", absent.clone()), ("/metadata/name", Some(json!("web")))],
            ),
            (
                "null deletes a label",
                json!({"metadata": {"labels": {"tier": null, "absent": null}}}),
                vec![("/metadata/labels", Some(json!({"app": "web"})))],
            ),
            (
                "$patch: replace on a map",
                json!({"metadata": {"labels": {"$patch": "replace", "team": "x"}}}),
                vec![("/metadata/labels", Some(json!({"team": "x"}))), ("/metadata/name", Some(json!("web")))],
            ),
            (
                "$patch: delete on a map leaves it empty, as in Kubernetes",
                json!({"spec": {"template": {"metadata": {"labels": {"$patch": "delete"}}}}}),
                vec![("/spec/template/metadata/labels", Some(json!({}))), ("/metadata/labels/app", Some(json!("web")))],
            ),
            (
                "$patch: replace in a list replaces it",
                template_spec(json!({"containers": [{"name": "only", "image": "x"}, {"$patch": "replace"}]})),
                vec![("/spec/template/spec/containers", Some(json!([{"name": "only", "image": "x"}])))],
            ),
            (
                "$patch: merge is the default",
                template_spec(
                    json!({"$patch": "merge", "containers": [{"$patch": "merge", "name": "web", "image": "nginx:2"}]}),
                ),
                vec![
                    ("/spec/template/spec/containers/0/image", Some(json!("nginx:2"))),
                    ("/spec/template/spec/containers/0/env/0/name", Some(json!("A"))),
                    ("/spec/template/spec/containers/1/name", Some(json!("log-shipper"))),
                ],
            ),
            (
                "tolerations have no merge key and are replaced",
                template_spec(json!({"tolerations": [{"key": "k2", "operator": "Exists"}]})),
                vec![("/spec/template/spec/tolerations", Some(json!([{"key": "k2", "operator": "Exists"}])))],
            ),
            (
                "a new map loses its nulls and directives",
                template_spec(
                    json!({"securityContext": {"runAsUser": 1000, "fsGroup": null, "seLinuxOptions": {"$patch": "delete"}}}),
                ),
                vec![("/spec/template/spec/securityContext", Some(json!({"runAsUser": 1000})))],
            ),
            (
                "a new container's lists are taken, without directive elements",
                template_spec(json!({
                    "$setElementOrder/containers": [{"name": "web"}, {"name": "log-shipper"}, {"name": "new"}],
                    "containers": [{"name": "new", "$setElementOrder/env": [{"name": "Y"}, {"name": "X"}],
                        "env": [{"name": "Y", "value": null}, {"name": "X", "value": "x"}, {"$patch": "delete", "name": "Z"}]}],
                })),
                vec![(
                    "/spec/template/spec/containers/2",
                    Some(json!({"name": "new", "env": [{"name": "Y"}, {"name": "X", "value": "x"}]})),
                )],
            ),
            (
                "ownerReferences merge by uid",
                json!({"metadata": {"ownerReferences": [{"uid": "u2", "name": "owner-2", "kind": "Thing"}]}}),
                vec![
                    ("/metadata/ownerReferences/0/uid", Some(json!("u2"))),
                    ("/metadata/ownerReferences/1/uid", Some(json!("u1"))),
                ],
            ),
            (
                "status conditions merge by type",
                json!({"status": {"conditions": [{"type": "Progressing", "status": "False"}]}}),
                vec![
                    ("/status/conditions/0", Some(json!({"type": "Available", "status": "True"}))),
                    ("/status/conditions/1", Some(json!({"type": "Progressing", "status": "False"}))),
                ],
            ),
            (
                "a field of another type is replaced",
                json!({"spec": {"replicas": {"odd": true}, "template": {"spec": {"volumes": "none"}}}}),
                vec![
                    ("/spec/replicas", Some(json!({"odd": true}))),
                    ("/spec/template/spec/volumes", Some(json!("none"))),
                ],
            ),
        ];
        for (name, patch, checks) in cases {
            let result = strategic_merge_patch("Deployment", &deployment(), &patch)
                .unwrap_or_else(|err| panic!("{name}: {err}"));
            for (pointer, expected) in checks {
                assert_eq!(result.pointer(pointer), expected.as_ref(), "{name}: {pointer} in {result}");
            }
        }
    }

    /// How a list merged by key is ordered, from Kubernetes' own strategic merge patch tests:
    /// (name, the object's container names, patch, resulting names).
    #[test]
    fn strategic_merge_orders_lists_as_kubernetes_does() {
        let containers = |names: &[&str]| -> Value {
            Value::Array(names.iter().map(|name| json!({"name": name, "image": format!("image-{name}")})).collect())
        };
        let order =
            |names: &[&str]| -> Value { Value::Array(names.iter().map(|name| json!({"name": name})).collect()) };
        let cases: Vec<(&str, &[&str], Value, &[&str])> = vec![
            (
                "patch order wins, server-only elements kept before those they preceded",
                &["1", "2", "3"],
                json!({"containers": [{"name": "3", "image": "c"}, {"name": "1", "image": "a"}]}),
                &["2", "3", "1"],
            ),
            (
                "patch order over the whole list",
                &["1", "2", "3"],
                json!({"containers": [{"name": "3"}, {"name": "1"}, {"name": "2"}]}),
                &["3", "1", "2"],
            ),
            (
                "set order with a server-only element at the end",
                &["1", "3", "4", "2", "9"],
                json!({"$setElementOrder/containers": order(&["4", "2", "3", "1"])}),
                &["4", "2", "3", "1", "9"],
            ),
            (
                "set order with a server-only element in the middle",
                &["1", "2", "9", "3", "4"],
                json!({"$setElementOrder/containers": order(&["2", "1", "4", "3"])}),
                &["2", "1", "9", "4", "3"],
            ),
            (
                "set order with server-only elements in a run",
                &["1", "2", "7", "9", "8", "3", "4"],
                json!({"$setElementOrder/containers": order(&["2", "1", "4", "3"])}),
                &["2", "1", "7", "9", "8", "4", "3"],
            ),
            (
                "added elements placed by the order",
                &["1", "2"],
                json!({"$setElementOrder/containers": order(&["1", "4", "2", "3"]), "containers": [{"name": "4"}, {"name": "3"}]}),
                &["1", "4", "2", "3"],
            ),
            (
                "set order may name elements the list does not have",
                &["1", "3"],
                json!({"$setElementOrder/containers": order(&["3", "2", "1"]), "containers": [{"name": "3"}, {"name": "1"}]}),
                &["3", "1"],
            ),
            (
                "delete and reorder",
                &["1", "3", "2"],
                json!({"$setElementOrder/containers": order(&["2", "1"]), "containers": [{"name": "3", "$patch": "delete"}]}),
                &["2", "1"],
            ),
            (
                "delete removes every element with the key",
                &["1", "2", "1", "3"],
                json!({"containers": [{"name": "1", "$patch": "delete"}]}),
                &["2", "3"],
            ),
        ];
        for (name, current, patch, expected) in cases {
            let pod = json!({"kind": "Pod", "spec": {"containers": containers(current)}});
            let result = strategic_merge_patch("Pod", &pod, &json!({"spec": patch}))
                .unwrap_or_else(|err| panic!("{name}: {err}"));
            assert_eq!(names(&result, "/spec/containers", "name"), *expected, "{name}");
        }

        // Primitives, ordered the same way (Kubernetes' "add an item in a list of primitives and
        // preserve order").
        let node = json!({"spec": {"podCIDRs": ["1", "4", "2"]}});
        let patch = json!({"spec": {"$setElementOrder/podCIDRs": ["3", "1", "2"], "podCIDRs": ["3"]}});
        assert_eq!(
            strategic_merge_patch("Node", &node, &patch).unwrap()["spec"]["podCIDRs"],
            json!(["3", "1", "4", "2"])
        );
    }

    /// The merge keys of the other served kinds: (kind, object, patch, checks).
    #[test]
    fn strategic_merge_keys_of_the_served_kinds() {
        let cases: Vec<KindCase> = vec![
            (
                "Pod",
                json!({"spec": {"containers": [{"name": "a", "volumeMounts": [{"mountPath": "/x", "name": "v1"}]}],
                    "initContainers": [{"name": "init"}], "imagePullSecrets": [{"name": "s1"}],
                    "topologySpreadConstraints": [{"topologyKey": "zone", "maxSkew": 1}]},
                    "status": {"conditions": [{"type": "Ready", "status": "False"}, {"type": "PodScheduled", "status": "True"}],
                    "podIPs": [{"ip": "10.0.0.1"}]}}),
                json!({"spec": {"containers": [{"name": "a", "volumeMounts": [{"mountPath": "/y", "name": "v2"}]}],
                    "initContainers": [{"name": "init", "image": "i"}], "imagePullSecrets": [{"name": "s2"}],
                    "topologySpreadConstraints": [{"topologyKey": "zone", "maxSkew": 2}]},
                    "status": {"conditions": [{"type": "Ready", "status": "True"}], "podIPs": [{"ip": "fd00::1"}]}}),
                vec![
                    (
                        "/spec/containers/0/volumeMounts",
                        json!([{"mountPath": "/y", "name": "v2"}, {"mountPath": "/x", "name": "v1"}]),
                    ),
                    ("/spec/initContainers", json!([{"name": "init", "image": "i"}])),
                    ("/spec/imagePullSecrets", json!([{"name": "s2"}, {"name": "s1"}])),
                    ("/spec/topologySpreadConstraints", json!([{"topologyKey": "zone", "maxSkew": 2}])),
                    (
                        "/status/conditions",
                        json!([{"type": "Ready", "status": "True"}, {"type": "PodScheduled", "status": "True"}]),
                    ),
                    ("/status/podIPs", json!([{"ip": "fd00::1"}, {"ip": "10.0.0.1"}])),
                ],
            ),
            (
                "ReplicaSet",
                json!({"spec": {"template": {"spec": {"containers": [{"name": "a", "env": [{"name": "X", "value": "1"}]}]}}}}),
                json!({"spec": {"template": {"spec": {"containers": [{"name": "a", "env": [{"name": "X", "value": "2"}]}]}}}}),
                vec![("/spec/template/spec/containers", json!([{"name": "a", "env": [{"name": "X", "value": "2"}]}]))],
            ),
            (
                "ReplicationController",
                json!({"spec": {"selector": {"app": "a"}, "template": {"spec": {"containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "y"}]}}},
                       "status": {"conditions": [{"type": "ReplicaFailure", "status": "True"}]}}),
                json!({"spec": {"selector": {"tier": "b"}, "template": {"spec": {"containers": [{"name": "b", "image": "z"}]}}},
                       "status": {"conditions": [{"type": "Other", "status": "False"}]}}),
                vec![
                    ("/spec/selector", json!({"app": "a", "tier": "b"})),
                    ("/spec/template/spec/containers", json!([{"name": "a", "image": "x"}, {"name": "b", "image": "z"}])),
                    ("/status/conditions", json!([{"type": "Other", "status": "False"}, {"type": "ReplicaFailure", "status": "True"}])),
                ],
            ),
            (
                "Service",
                json!({"spec": {"ports": [{"port": 80, "targetPort": 8080}, {"port": 443}]}}),
                json!({"spec": {"ports": [{"port": 80, "targetPort": 9090}]}}),
                vec![("/spec/ports", json!([{"port": 80, "targetPort": 9090}, {"port": 443}]))],
            ),
            (
                "Node",
                json!({"spec": {"podCIDRs": ["10.0.0.0/24"], "taints": [{"key": "a", "effect": "NoSchedule"}]},
                    "status": {"conditions": [{"type": "Ready", "status": "False"}, {"type": "MemoryPressure", "status": "False"}],
                    "addresses": [{"type": "InternalIP", "address": "10.1.1.1"}, {"type": "Hostname", "address": "n1"}]}}),
                json!({"spec": {"$setElementOrder/podCIDRs": ["10.0.0.0/24", "fd00::/64"], "podCIDRs": ["fd00::/64"],
                    "taints": [{"key": "b", "effect": "NoExecute"}]},
                    "status": {"conditions": [{"type": "Ready", "status": "True"}],
                    "addresses": [{"type": "InternalIP", "address": "10.1.1.2"}]}}),
                vec![
                    ("/spec/podCIDRs", json!(["10.0.0.0/24", "fd00::/64"])),
                    ("/spec/taints", json!([{"key": "b", "effect": "NoExecute"}])),
                    (
                        "/status/conditions",
                        json!([{"type": "Ready", "status": "True"}, {"type": "MemoryPressure", "status": "False"}]),
                    ),
                    (
                        "/status/addresses",
                        json!([{"type": "InternalIP", "address": "10.1.1.2"}, {"type": "Hostname", "address": "n1"}]),
                    ),
                ],
            ),
            (
                "Namespace",
                json!({"spec": {"finalizers": ["kubernetes"]}, "status": {"conditions": [{"type": "A", "status": "True"}]}}),
                json!({"spec": {"finalizers": ["other"]}, "status": {"conditions": [{"type": "B", "status": "True"}]}}),
                vec![
                    ("/spec/finalizers", json!(["other"])),
                    ("/status/conditions", json!([{"type": "B", "status": "True"}, {"type": "A", "status": "True"}])),
                ],
            ),
            (
                "Endpoints",
                json!({"subsets": [{"addresses": [{"ip": "10.0.0.1"}], "ports": [{"port": 80}]}]}),
                json!({"subsets": [{"addresses": [{"ip": "10.0.0.2"}], "ports": [{"port": 80}]}]}),
                vec![("/subsets", json!([{"addresses": [{"ip": "10.0.0.2"}], "ports": [{"port": 80}]}]))],
            ),
            (
                "ConfigMap",
                json!({"metadata": {"finalizers": ["x"]}, "data": {"a": "1", "b": "2"}}),
                json!({"metadata": {"finalizers": ["y"]}, "data": {"a": null, "c": "3"}}),
                vec![("/metadata/finalizers", json!(["y", "x"])), ("/data", json!({"b": "2", "c": "3"}))],
            ),
            (
                // A built-in kind without generated tables: its ObjectMeta merges as every
                // kind's, its own lists are replaced.
                "CustomResourceDefinition",
                json!({"metadata": {"finalizers": ["x"]}, "spec": {"versions": [{"name": "v1"}]}}),
                json!({"metadata": {"finalizers": ["y"]}, "spec": {"versions": [{"name": "v2"}]}}),
                vec![("/metadata/finalizers", json!(["y", "x"])), ("/spec/versions", json!([{"name": "v2"}]))],
            ),
        ];
        for (kind, object, patch, checks) in cases {
            let result = strategic_merge_patch(kind, &object, &patch).unwrap_or_else(|err| panic!("{kind}: {err}"));
            for (pointer, expected) in checks {
                assert_eq!(result.pointer(pointer), Some(&expected), "{kind}: {pointer} in {result}");
            }
        }
    }

    #[test]
    fn patch_tables_are_generated_for_the_kinds_with_go_types() {
        for kind in ["Pod", "Deployment", "ReplicaSet", "ReplicationController", "Service", "Endpoints", "ConfigMap", "Secret", "Namespace", "Node", "Event", "Lease", "Job", "Role", "ClusterRoleBinding"] {
            assert!(kind_schema(kind).is_some(), "{kind}");
        }
        for kind in ["Widget", "pod", "", "CustomResourceDefinition"] {
            assert!(kind_schema(kind).is_none(), "{kind}");
        }
        // What stands in for the kinds without tables must carry only ObjectMeta's metadata.
        let fallback: Vec<&str> = builtin_schema("CustomResourceDefinition").iter().map(|field| field.name).collect();
        assert_eq!(fallback, vec!["metadata"]);
    }

    /// Strategic merge patches that are refused: (name, object, patch, status, message).
    #[test]
    fn strategic_merge_refusals() {
        let pod = json!({"metadata": {"finalizers": ["a"]}, "spec": {"containers": [{"name": "web"}]}});
        let cases: Vec<(&str, Value, Value, u16, &str)> = vec![
            (
                "a patch that is a string",
                pod.clone(),
                json!("spec"),
                400,
                "invalid strategic merge patch: a strategic merge patch must be a JSON object, not a string",
            ),
            (
                "a patch that is a list",
                pod.clone(),
                json!([]),
                400,
                "invalid strategic merge patch: a strategic merge patch must be a JSON object, not a list",
            ),
            (
                "a container that is not a map",
                pod.clone(),
                json!({"spec": {"containers": ["web"]}}),
                400,
                r#"invalid strategic merge patch: at spec.containers[0]: elements of this list are maps merged by "name", not a string"#,
            ),
            (
                "a container that is not a map, where the object has none",
                json!({}),
                json!({"spec": {"containers": [1]}}),
                400,
                r#"invalid strategic merge patch: at spec.containers[0]: elements of this list are maps merged by "name", not a number"#,
            ),
            (
                "a container without its merge key",
                pod.clone(),
                json!({"spec": {"containers": [{"image": "x"}]}}),
                400,
                r#"invalid strategic merge patch: at spec.containers: an element of the patch has no "name", the merge key of this list"#,
            ),
            (
                "the object's list holds no maps",
                json!({"spec": {"containers": ["web"]}}),
                json!({"spec": {"containers": [{"name": "web"}]}}),
                422,
                r#"the strategic merge patch cannot be applied at spec.containers[0]: the object's list holds a string where maps merged by "name" are expected"#,
            ),
            (
                "an unknown $patch in a map",
                pod.clone(),
                json!({"spec": {"$patch": "remove"}}),
                400,
                r#"invalid strategic merge patch: at spec: unknown $patch directive "remove""#,
            ),
            (
                "an unknown $patch in a list",
                pod.clone(),
                json!({"spec": {"containers": [{"name": "web", "$patch": 1}]}}),
                400,
                "invalid strategic merge patch: at spec.containers[0]: unknown $patch directive 1",
            ),
            (
                "a delete without the merge key",
                pod.clone(),
                json!({"spec": {"containers": [{"$patch": "delete"}]}}),
                400,
                r#"invalid strategic merge patch: at spec.containers[0]: a $patch: delete element must give the "name" of the elements to delete"#,
            ),
            (
                "$retainKeys that is not a list",
                pod.clone(),
                json!({"spec": {"$retainKeys": "containers"}}),
                400,
                "invalid strategic merge patch: at spec: $retainKeys must be a list of field names, not a string",
            ),
            (
                "a field $retainKeys does not list",
                pod.clone(),
                json!({"spec": {"$retainKeys": ["containers"], "hostname": "h"}}),
                400,
                r#"invalid strategic merge patch: at spec: the patch sets "hostname", which $retainKeys does not list"#,
            ),
            (
                "a patch list out of $setElementOrder's order",
                pod.clone(),
                json!({"spec": {"$setElementOrder/containers": [{"name": "a"}, {"name": "b"}], "containers": [{"name": "b"}, {"name": "a"}]}}),
                400,
                "invalid strategic merge patch: at spec.containers: the order of containers in the patch does not match $setElementOrder/containers",
            ),
            (
                "a patch element $setElementOrder leaves out",
                pod.clone(),
                json!({"spec": {"$setElementOrder/containers": [{"name": "a"}], "containers": [{"name": "c"}]}}),
                400,
                "invalid strategic merge patch: at spec.containers: the order of containers in the patch does not match $setElementOrder/containers",
            ),
            (
                "$setElementOrder that is not a list",
                pod.clone(),
                json!({"spec": {"$setElementOrder/containers": {"name": "a"}}}),
                400,
                "invalid strategic merge patch: at spec: $setElementOrder/containers must be a list, not a map",
            ),
            (
                "$setElementOrder entries without the merge key",
                pod.clone(),
                json!({"spec": {"$setElementOrder/containers": ["web"]}}),
                400,
                r#"invalid strategic merge patch: at spec.containers: $setElementOrder/containers entry 0 must be a map with the "name" merge key"#,
            ),
            (
                "$setElementOrder of a list without a merge key",
                json!({"spec": {"tolerations": [{"key": "a"}]}}),
                json!({"spec": {"$setElementOrder/tolerations": [{"key": "a"}]}}),
                400,
                "invalid strategic merge patch: at spec.tolerations: $setElementOrder/tolerations entry 0 must be a primitive value",
            ),
            (
                "$deleteFromPrimitiveList that is not a list",
                pod.clone(),
                json!({"metadata": {"$deleteFromPrimitiveList/finalizers": "a"}}),
                400,
                "invalid strategic merge patch: at metadata: $deleteFromPrimitiveList/finalizers must be a list, not a string",
            ),
            (
                "$deleteFromPrimitiveList of maps",
                pod.clone(),
                json!({"metadata": {"$deleteFromPrimitiveList/finalizers": [{"a": 1}]}}),
                400,
                "invalid strategic merge patch: at metadata: $deleteFromPrimitiveList/finalizers may only list primitive values, not a map",
            ),
            (
                "a map in a set of primitives",
                pod.clone(),
                json!({"metadata": {"finalizers": [{"$patch": "replace"}]}}),
                400,
                "invalid strategic merge patch: at metadata.finalizers[0]: this list is a set of primitive values, and the patch gives a map",
            ),
            (
                "an object that is not a map",
                json!("pod"),
                json!({}),
                422,
                "the strategic merge patch cannot be applied at the object root: the object is a string, not a JSON object",
            ),
        ];
        for (name, object, patch, status, message) in cases {
            let err = strategic_merge_patch("Pod", &object, &patch)
                .map(|result| panic!("{name}: applied, giving {result}"))
                .unwrap_err();
            assert_eq!(err.to_string(), message, "{name}");
            assert_eq!(err.status_code(), status, "{name}");
            assert_eq!(err.is_malformed(), status == 400, "{name}");
        }
    }

    // --- limits and errors --------------------------------------------------------------------

    /// `{key: value}`, moving the value in: `json!` would serialize it, recursively.
    fn under(key: &str, value: Value) -> Value {
        Value::Object(Map::from_iter([(key.to_string(), value)]))
    }

    fn under_a(value: Value) -> Value {
        under("a", value)
    }

    /// A value nested `depth` levels, built without recursion.
    fn nested(depth: usize, wrap: impl Fn(Value) -> Value) -> Value {
        let mut value = json!(1);
        for _ in 1..depth {
            value = wrap(value);
        }
        value
    }

    #[test]
    fn patches_at_the_nesting_limit_apply() {
        // The deepest accepted patch, applied where the object has nothing: the longest
        // recursion the merges make, on a test thread's stack.
        let patch = nested(MAX_NESTING, under_a);
        assert_eq!(nesting_depth(&patch, usize::MAX), MAX_NESTING);
        let merged = json_merge_patch(&json!({}), &patch).unwrap();
        assert_eq!(nesting_depth(&merged, usize::MAX), MAX_NESTING);
        let merged = strategic_merge_patch("Pod", &json!({}), &patch).unwrap();
        assert_eq!(merged, patch);
        let merged = strategic_merge_patch("Pod", &patch, &patch).unwrap();
        assert_eq!(merged, patch);
        let list_patch = nested(MAX_NESTING, |value| json!({"spec": {"containers": [{"name": "c", "a": value}]}}));
        assert!(nesting_depth(&list_patch, usize::MAX) > MAX_NESTING);
        let list_patch = nested(MAX_NESTING / 4, |value| json!({"spec": {"containers": [{"name": "c", "a": value}]}}));
        assert!(strategic_merge_patch("Pod", &list_patch, &list_patch).is_ok());
    }

    #[test]
    fn deeper_inputs_are_refused_without_recursing() {
        // Far deeper than any recursion could survive. serde_json would recurse to drop it, so the
        // test leaks it instead.
        let deep = std::mem::ManuallyDrop::new(nested(200_000, |value| Value::Array(vec![value])));
        let deep_map = std::mem::ManuallyDrop::new(nested(200_000, under_a));
        let mut add = Map::new();
        add.insert("op".into(), json!("add"));
        add.insert("path".into(), json!("/a"));
        add.insert("value".into(), nested(200_000, |value| Value::Array(vec![value])));
        let deep_operation = std::mem::ManuallyDrop::new(Value::Array(vec![Value::Object(add)]));
        let too_deep_patch = PatchError::TooDeep { document: Document::Patch, limit: MAX_NESTING };
        let too_deep_object = PatchError::TooDeep { document: Document::Object, limit: MAX_NESTING };
        assert_eq!(json_merge_patch(&json!({}), &deep_map), Err(too_deep_patch.clone()));
        assert_eq!(strategic_merge_patch("Pod", &json!({}), &deep_map), Err(too_deep_patch.clone()));
        assert_eq!(json_patch(&json!({}), &deep_operation), Err(too_deep_patch.clone()));
        assert_eq!(json_merge_patch(&deep_map, &json!({})), Err(too_deep_object.clone()));
        assert_eq!(strategic_merge_patch("Pod", &deep_map, &json!({})), Err(too_deep_object.clone()));
        assert_eq!(json_patch(&deep, &json!([])), Err(too_deep_object.clone()));
        assert_eq!(too_deep_patch.status_code(), 400);
        assert_eq!(too_deep_object.status_code(), 422);
        assert_eq!(too_deep_patch.to_string(), "the patch nests deeper than 128 levels");
    }

    #[test]
    fn large_lists_merge_in_reasonable_time() {
        // Quadratic matching would take minutes here.
        let count = 50_000;
        let env: Vec<Value> = (0..count).map(|n| json!({"name": format!("V{n}"), "value": "old"})).collect();
        let object = json!({"spec": {"containers": [{"name": "c", "env": env}]}});
        let patch_env: Vec<Value> =
            (0..count).rev().map(|n| json!({"name": format!("V{n}"), "value": "new"})).collect();
        let patch = json!({"spec": {"containers": [{"name": "c", "env": patch_env}]}});
        let result = strategic_merge_patch("Pod", &object, &patch).unwrap();
        let merged = result["spec"]["containers"][0]["env"].as_array().unwrap();
        assert_eq!(merged.len(), count);
        assert_eq!(merged[0], json!({"name": format!("V{}", count - 1), "value": "new"}));
    }

    #[test]
    fn errors_carry_their_status() {
        let cases = [
            (PatchError::Malformed { patch_type: PatchType::Merge, reason: String::new() }, 400, true),
            (PatchError::InvalidOperation { index: 0, reason: String::new() }, 422, false),
            (PatchError::OperationFailed { index: 0, op: "test".into(), reason: String::new() }, 422, false),
            (PatchError::Conflict { path: String::new(), reason: String::new() }, 422, false),
            (PatchError::TooManyOperations { count: 2, limit: 1 }, 413, false),
            (PatchError::TooDeep { document: Document::Patch, limit: 1 }, 400, true),
            (PatchError::TooDeep { document: Document::Object, limit: 1 }, 422, false),
        ];
        for (err, status, malformed) in cases {
            assert_eq!(err.status_code(), status, "{err:?}");
            assert_eq!(err.is_malformed(), malformed, "{err:?}");
        }
    }

    #[test]
    fn patch_types_from_content_types() {
        let cases = [
            ("application/json-patch+json", Some(PatchType::Json)),
            ("application/merge-patch+json; charset=utf-8", Some(PatchType::Merge)),
            ("Application/Strategic-Merge-Patch+JSON", Some(PatchType::StrategicMerge)),
            ("application/apply-patch+yaml", None),
            ("application/json", None),
            ("", None),
        ];
        for (content_type, expected) in cases {
            assert_eq!(PatchType::from_content_type(content_type), expected, "{content_type}");
            if let Some(patch_type) = expected {
                assert_eq!(PatchType::from_content_type(patch_type.content_type()), expected);
            }
        }
    }
}
