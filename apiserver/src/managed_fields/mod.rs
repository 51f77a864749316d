//! Field management and server-side apply, as kube-apiserver 1.33's field manager has them
//! (k8s.io/apimachinery's `managedfields` over structured-merge-diff): every write records in
//! `metadata.managedFields` which manager set which fields, and an apply (`PATCH` with
//! `application/apply-patch+yaml`) merges a manager's configuration into the object, removes
//! what that manager applied before and no longer does, and refuses to change fields other
//! managers own unless forced.
//!
//! The layers kube stacks are here in one place: stripping the fields the server owns
//! (`stripmeta`), naming entries by manager, operation, version and subresource
//! (`buildmanagerinfo`), stamping times (`managedfieldsupdater`), folding the oldest of more
//! than ten update entries into `ancient-changes` (`capmanagers`), owning an object that has no
//! entries for `before-first-apply` (`skipnonapplied`), and kubectl's last-applied annotation
//! (`lastappliedmanager`, `lastappliedupdater`).

pub mod schema;
mod set;
mod typed;

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::errors::ApiError;
use crate::meta;

pub use schema::Schema;
pub use set::{Path, PathElement, Set};
use typed::Typed;

/// kube's `FieldManagerMaxLength`.
pub const MAX_MANAGER_LENGTH: usize = 128;
/// kube's `DefaultMaxUpdateManagers`.
const MAX_UPDATE_MANAGERS: usize = 10;
const ANCIENT_CHANGES: &str = "ancient-changes";
const BEFORE_FIRST_APPLY: &str = "before-first-apply";
/// The manager whose applies keep client-side apply's annotation in step.
const KUBECTL: &str = "kubectl";
pub const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";
/// kube's `TotalAnnotationSizeLimitB`.
const MAX_ANNOTATIONS_BYTES: usize = 256 * 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Operation {
    Apply,
    Update,
}

impl Operation {
    fn as_str(self) -> &'static str {
        match self {
            Self::Apply => "Apply",
            Self::Update => "Update",
        }
    }
}

/// What tells entries apart (`BuildManagerIdentifier`): an applier is one entry whatever
/// version it applies, an updater one per version.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Id {
    manager: String,
    operation: Operation,
    /// Empty for appliers.
    api_version: String,
    subresource: String,
}

#[derive(Clone, Debug)]
struct Entry {
    set: Set,
    api_version: String,
    time: Option<String>,
}

/// An object's managed fields, decoded.
#[derive(Clone, Debug, Default)]
struct Managed(BTreeMap<Id, Entry>);

impl Managed {
    /// `metadata.managedFields` as kube's `DecodeManagedFields` reads it.
    fn decode(object: &Value) -> Result<Self, String> {
        let Some(entries) = meta::metadata(object).and_then(|metadata| metadata.get("managedFields")).filter(|entries| !entries.is_null()) else {
            return Ok(Self::default());
        };
        let Some(entries) = entries.as_array() else {
            return Err("managedFields must be a list".into());
        };
        let mut managed = BTreeMap::new();
        for (index, entry) in entries.iter().enumerate() {
            let text = |name: &str| entry.get(name).and_then(Value::as_str).unwrap_or_default();
            let operation = match text("operation") {
                "Apply" => Operation::Apply,
                "Update" => Operation::Update,
                _ => return Err("operation must be `Apply` or `Update`".into()),
            };
            if text("apiVersion").is_empty() {
                return Err("apiVersion must not be empty".into());
            }
            match text("fieldsType") {
                "FieldsV1" => {}
                "" => return Err(format!("missing fieldsType in managed fields entry {index}")),
                other => return Err(format!("invalid fieldsType {other:?} in managed fields entry {index}")),
            }
            let set = match entry.get("fieldsV1") {
                None | Some(Value::Null) => Set::default(),
                Some(fields) => Set::from_fields_v1(fields).map_err(|error| format!("error decoding versioned set from entry {index}: {error}"))?,
            };
            let id = Id {
                manager: text("manager").to_string(),
                operation,
                api_version: if operation == Operation::Apply { String::new() } else { text("apiVersion").to_string() },
                subresource: text("subresource").to_string(),
            };
            let time = entry.get("time").and_then(Value::as_str).map(str::to_string);
            managed.insert(id, Entry { set, api_version: text("apiVersion").to_string(), time });
        }
        Ok(Self(managed))
    }

    /// Written back in kube's order: appliers first, then by time, manager, version and
    /// subresource; an object no one manages has no `managedFields`.
    fn encode(&self, object: &mut Value) {
        let mut entries: Vec<(&Id, &Entry)> = self.0.iter().collect();
        entries.sort_by(|(a, a_entry), (b, b_entry)| {
            (a.operation, a_entry.time.as_deref().unwrap_or_default(), &a.manager, &a_entry.api_version, &a.subresource).cmp(&(
                b.operation,
                b_entry.time.as_deref().unwrap_or_default(),
                &b.manager,
                &b_entry.api_version,
                &b.subresource,
            ))
        });
        let encoded: Vec<Value> = entries
            .into_iter()
            .map(|(id, entry)| {
                let mut fields = Map::new();
                fields.insert("manager".into(), json!(id.manager));
                fields.insert("operation".into(), json!(id.operation.as_str()));
                fields.insert("apiVersion".into(), json!(entry.api_version));
                if let Some(time) = &entry.time {
                    fields.insert("time".into(), json!(time));
                }
                fields.insert("fieldsType".into(), json!("FieldsV1"));
                fields.insert("fieldsV1".into(), entry.set.to_fields_v1());
                if !id.subresource.is_empty() {
                    fields.insert("subresource".into(), json!(id.subresource));
                }
                Value::Object(fields)
            })
            .collect();
        if encoded.is_empty() {
            meta::remove(object, "managedFields");
        } else {
            meta::set(object, "managedFields", Value::Array(encoded));
        }
    }

    /// Entries whose sets became empty are dropped, and no entry keeps a field the server owns.
    fn tidy(&mut self) {
        for entry in self.0.values_mut() {
            entry.set.subtract(server_owned());
        }
        self.0.retain(|_, entry| !entry.set.is_empty());
    }

    /// More than ten update entries: the oldest are folded, per version, into one
    /// `ancient-changes` entry (kube's `capManagersManager`).
    fn cap(&mut self) {
        let mut updaters: Vec<Id> = self.0.keys().filter(|id| id.operation == Operation::Update).cloned().collect();
        if updaters.len() <= MAX_UPDATE_MANAGERS {
            return;
        }
        updaters.sort_by(|a, b| {
            let time = |id: &Id| self.0.get(id).and_then(|entry| entry.time.clone()).unwrap_or_default();
            (time(a), &a.manager).cmp(&(time(b), &b.manager))
        });
        let mut first_of_version: BTreeMap<String, Id> = BTreeMap::new();
        let mut count = updaters.len();
        for id in updaters {
            if count <= MAX_UPDATE_MANAGERS {
                break;
            }
            let Some(api_version) = self.0.get(&id).map(|entry| entry.api_version.clone()) else { continue };
            let bucket = Id { manager: ANCIENT_CHANGES.into(), operation: Operation::Update, api_version: api_version.clone(), subresource: String::new() };
            match first_of_version.get(&api_version) {
                Some(first) => {
                    if !self.0.contains_key(&bucket)
                        && let Some(first_entry) = self.0.remove(first)
                    {
                        self.0.insert(bucket.clone(), first_entry);
                    }
                    let Some(entry) = self.0.remove(&id) else { continue };
                    // Folded in place: a bucket that grows by thousands of entries is not
                    // copied once per entry.
                    let folded = self.0.entry(bucket).or_insert_with(|| Entry { set: Set::default(), api_version: api_version.clone(), time: None });
                    folded.set.union_with(&entry.set);
                    folded.time = entry.time;
                    count -= 1;
                }
                None => {
                    first_of_version.insert(api_version, id);
                }
            }
        }
    }
}

/// The fields of every object that the server sets (`stripmeta`): no manager owns them. Built
/// once; every write subtracts it.
fn server_owned() -> &'static Set {
    static SET: std::sync::OnceLock<Set> = std::sync::OnceLock::new();
    SET.get_or_init(|| {
        let mut set = Set::default();
        let field = |name: &str| PathElement::Field(name.into());
        for top in ["apiVersion", "kind", "metadata"] {
            set.insert(&[field(top)]);
        }
        for name in ["name", "namespace", "creationTimestamp", "selfLink", "uid", "clusterName", "generation", "managedFields", "resourceVersion"] {
            set.insert(&[field("metadata"), field(name)]);
        }
        set
    })
}

/// Which part of an object a write may set, and so what its entries may own.
#[derive(Clone, Debug, PartialEq)]
pub enum Scope {
    /// All of it.
    Whole,
    /// All but `status`, which its own subresource writes (kube's reset fields).
    WithoutStatus,
    /// Only what is at or below this path: `status` for the status subresource, the replicas
    /// field for the scale subresource.
    Within(Vec<PathElement>),
}

impl Scope {
    fn restrict(&self, set: &Set) -> Set {
        match self {
            Self::Whole => set.clone(),
            Self::WithoutStatus => {
                let mut status = Set::default();
                status.insert(&[PathElement::Field("status".into())]);
                set.recursive_difference(&status)
            }
            Self::Within(path) => {
                let mut out = Set::default();
                if set.has(path) {
                    out.insert(path);
                }
                let mut below = Some(set);
                for element in path {
                    below = below.and_then(|set| set.with_prefix(element));
                }
                for rest in below.map(Set::paths).unwrap_or_default() {
                    let mut full = path.clone();
                    full.extend(rest.0);
                    out.insert(&full);
                }
                out
            }
        }
    }
}

/// Who writes, with what, to which part: the same for every write of one request.
pub struct Writer<'a> {
    pub schema: &'a Schema,
    pub manager: &'a str,
    /// `apps/v1`: the version the request is in.
    pub api_version: &'a str,
    /// `""`, `status` or `scale`.
    pub subresource: &'a str,
    pub scope: Scope,
}

/// A managedFields entry the server cannot read makes the write fail as kube's does.
fn decode_error(error: String) -> ApiError {
    ApiError::internal(format!("failed to decode managed fields: {error}"))
}

/// `[]` or `[{}]`: a client asking for the managed fields to be reset (kube's
/// `isResetManagedFields`; an absent or null list keeps them).
fn is_reset(object: &Value) -> bool {
    meta::metadata(object)
        .and_then(|metadata| metadata.get("managedFields"))
        .and_then(Value::as_array)
        .is_some_and(|entries| matches!(entries.as_slice(), [] | [Value::Object(_)] if entries.first().is_none_or(|only| only.as_object().is_some_and(Map::is_empty))))
}

impl Writer<'_> {
    fn id(&self, operation: Operation) -> Id {
        Id {
            manager: self.manager.to_string(),
            operation,
            api_version: if operation == Operation::Apply { String::new() } else { self.api_version.to_string() },
            subresource: self.subresource.to_string(),
        }
    }

    /// Records an update (a create, a PUT, a non-apply PATCH) of `live` into `new` in `new`'s
    /// managed fields: the fields it added or changed become the manager's, and no one else's.
    /// `live` is the kind's zero value (`Schema::zero`) for a create. The managed fields come
    /// from `new` when the client sent some that decode (so that clients may edit them, and
    /// `[{}]` resets them), from `live` otherwise and always for a subresource.
    pub fn update(&self, live: &Value, new: &mut Value) {
        let reset = self.subresource.is_empty() && is_reset(new);
        let sent = if self.subresource.is_empty() && !reset { Managed::decode(new).ok().filter(|sent| !sent.0.is_empty()) } else { None };
        let mut managed = match sent {
            Some(sent) => sent,
            None if reset => Managed::default(),
            // Entries the server cannot read are not carried on: they would fail every later
            // write as well (kube's `UpdateNoErrors` drops them).
            None => Managed::decode(live).unwrap_or_default(),
        };
        meta::remove(new, "managedFields");
        if managed.0.is_empty() && meta::metadata(live).is_some_and(|metadata| metadata.contains_key("uid")) {
            // An object whose fields no one manages (reset with `[{}]`, or written before
            // fields were tracked) is not tracked by updates until an apply starts it again
            // (kube's `skipNonAppliedManager`, which tracks every create).
            return;
        }
        let typed = Typed::new(self.schema);
        let comparison = typed.compare(live, new);
        let changed = self.scope.restrict(&comparison.added.union(&comparison.modified));
        let removed = self.scope.restrict(&comparison.removed);
        for entry in managed.0.values_mut() {
            entry.set.subtract(&changed);
            entry.set.subtract(&removed);
        }
        let id = self.id(Operation::Update);
        let changed = changed.difference(server_owned());
        if !changed.is_empty() {
            let entry = managed.0.entry(id).or_insert_with(|| Entry { set: Set::default(), api_version: String::new(), time: None });
            entry.set.union_with(&changed);
            entry.api_version = self.api_version.to_string();
            entry.time = Some(meta::now());
        }
        managed.tidy();
        managed.cap();
        managed.encode(new);
    }

    /// Applies `config` to `live` (`{}` when the object does not exist yet) for this writer's
    /// manager: the merged object with its managed fields, or `None` when nothing at all
    /// changes. `config` has been checked to be for this object (apiVersion, kind, name,
    /// no managedFields).
    pub fn apply(&self, live: &Value, config: &Value, force: bool) -> Result<Option<Value>, ApiError> {
        let typed = Typed::new(self.schema);
        let stored = live;
        let mut managed = Managed::decode(stored).map_err(decode_error)?;
        let mut live = Cow::Borrowed(stored);
        if managed.0.is_empty() && meta::metadata(stored).is_some_and(|metadata| metadata.contains_key("uid")) {
            // An object no one manages (written before fields were tracked, or reset) is first
            // owned whole by `before-first-apply`, so that an apply that changes it conflicts.
            let before = Writer { schema: self.schema, manager: BEFORE_FIRST_APPLY, api_version: self.api_version, subresource: self.subresource, scope: self.scope.clone() };
            before.update(&self.schema.zero, live.to_mut());
            managed = Managed::decode(&live).map_err(decode_error)?;
        }
        let live = live.as_ref();
        let config_set = typed.field_set(config).map_err(|errors| self.typed_patch_error(config, &errors))?;
        let merged = typed.merge(live, config).map_err(|errors| self.typed_patch_error(config, &errors))?;
        let id = self.id(Operation::Apply);
        // Only kubectl's applies may be tried again (below): only they keep copies for it.
        let retry = (!force && self.manager == KUBECTL && self.subresource.is_empty()).then(|| (merged.clone(), managed.clone()));
        let result = match (self.apply_with(&typed, live, config, &config_set, merged, managed, &id, force), retry) {
            (Err(Conflicts(conflicts)), Some((merged, managed))) => {
                // kubectl's first server-side apply after client-side ones: the fields its
                // last-applied annotation set, and that still hold those values, are its own.
                let allowed = self.last_applied_fields(&typed, live);
                let remaining: Vec<Conflict> = conflicts.into_iter().filter(|conflict| !allowed.has(&conflict.path.0)).collect();
                if !remaining.is_empty() {
                    return Err(conflict_error(&remaining));
                }
                self.apply_with(&typed, live, config, &config_set, merged, managed, &id, true).map_err(|Conflicts(conflicts)| conflict_error(&conflicts))?
            }
            (result, _) => result.map_err(|Conflicts(conflicts)| conflict_error(&conflicts))?,
        };
        Ok((result != *stored).then_some(result))
    }

    #[allow(clippy::too_many_arguments)]
    fn apply_with(&self, typed: &Typed<'_>, live: &Value, config: &Value, config_set: &Set, merged: Value, mut managed: Managed, id: &Id, force: bool) -> Result<Value, Conflicts> {
        let previous = managed.0.remove(id);
        // The server's fields are stripped from the entries only after the prune (`tidy`): while
        // it runs, the applier still owns `metadata.name`, which keeps `metadata` in place.
        let set = self.scope.restrict(config_set);
        // Nothing is pruned when the applier still applies all it did (every apply after the
        // first of an unchanged manifest): what it owned, it owns.
        let prunes = previous.as_ref().is_some_and(|previous| !previous.set.is_subset(&set));
        let time = previous.as_ref().and_then(|previous| previous.time.clone());
        managed.0.insert(id.clone(), Entry { set, api_version: self.api_version.to_string(), time });
        let mut merged = match &previous {
            Some(previous) if prunes => prune(typed, merged, &managed, &previous.set),
            _ => merged,
        };
        let comparison = typed.compare(live, &merged);
        let changed = self.scope.restrict(&comparison.added.union(&comparison.modified));
        let removed = self.scope.restrict(&comparison.removed);
        let mut conflicts = Vec::new();
        for (other, entry) in &managed.0 {
            if other == id {
                continue;
            }
            for path in entry.set.intersection(&changed).paths() {
                conflicts.push(Conflict { manager: other.clone(), api_version: entry.api_version.clone(), path });
            }
        }
        if !force && !conflicts.is_empty() {
            return Err(Conflicts(conflicts));
        }
        for (other, entry) in managed.0.iter_mut() {
            if other != id {
                entry.set.subtract(&changed);
                entry.set.subtract(&removed);
            }
        }
        let changes_object = !meta::equal_except(&merged, live, &["managedFields"]);
        if changes_object && let Some(entry) = managed.0.get_mut(id) {
            entry.time = Some(meta::now());
        }
        if self.manager == KUBECTL && self.subresource.is_empty() {
            keep_last_applied(&mut merged, config);
        }
        managed.tidy();
        managed.cap();
        managed.encode(&mut merged);
        Ok(merged)
    }

    /// The fields kubectl's last-applied annotation set that the live object still holds as
    /// it set them.
    fn last_applied_fields(&self, typed: &Typed<'_>, live: &Value) -> Set {
        let Some(text) = meta::metadata(live).and_then(|metadata| metadata.get("annotations")).and_then(|annotations| annotations.get(LAST_APPLIED)).and_then(Value::as_str) else {
            return Set::default();
        };
        let Ok(last_applied) = serde_json::from_str::<Value>(text) else { return Set::default() };
        let fields = typed.stored_field_set(&last_applied);
        let comparison = typed.compare(&last_applied, live);
        fields.difference(&comparison.modified).difference(&comparison.removed)
    }

    /// kube's wording for a configuration that does not fit the kind's schema.
    fn typed_patch_error(&self, config: &Value, errors: &[typed::TypeError]) -> ApiError {
        let kind = config.get("kind").and_then(Value::as_str).unwrap_or_default();
        let (group, version) = match self.api_version.split_once('/') {
            Some((group, version)) => (group, version),
            None => ("", self.api_version),
        };
        // kube's `objectGVKNN` prints `namespace/name`, the namespace empty for cluster-scoped kinds.
        let object = format!("{}/{}", meta::namespace(config).unwrap_or_default(), meta::name(config).unwrap_or_default());
        ApiError::bad_request(format!("failed to create typed patch object ({object}; {group}/{version}, Kind={kind}): {}", typed::render(errors)))
    }
}

/// Removes what the applier applied last time and no longer does, unless another manager
/// owns it (structured-merge-diff's `prune`, `addBackOwnedItems`, `addBackDanglingItems`).
fn prune(typed: &Typed<'_>, merged: Value, managed: &Managed, last: &Set) -> Value {
    let named = |set: &Set| typed.with_named_fields(set);
    let field_set = |value: &Value| typed.stored_field_set(value);
    let pruned = typed.remove(&merged, &named(last));
    let owned = managed.0.values().fold(Set::default(), |mut all, entry| {
        all.union_with(&entry.set);
        all
    });
    let merged_set = named(&field_set(&merged));
    let pruned = typed.remove(&merged, &merged_set.difference(&named(&field_set(&pruned)).union(&named(&owned))));
    typed.remove(&merged, &merged_set.difference(&named(&field_set(&pruned))).intersection(&named(last)))
}

/// kubectl's server-side applies keep client-side apply's annotation, where there is one,
/// equal to what was applied (kube's `lastAppliedUpdater`).
fn keep_last_applied(merged: &mut Value, config: &Value) {
    let has = meta::metadata(merged)
        .and_then(|metadata| metadata.get("annotations"))
        .and_then(|annotations| annotations.get(LAST_APPLIED))
        .and_then(Value::as_str)
        .is_some_and(|text| !text.is_empty());
    if !has {
        return;
    }
    let mut applied = config.clone();
    if let Some(annotations) = applied.pointer_mut("/metadata/annotations").and_then(Value::as_object_mut) {
        annotations.remove(LAST_APPLIED);
    }
    let text = format!("{}\n", applied);
    if let Some(annotations) = merged.pointer_mut("/metadata/annotations").and_then(Value::as_object_mut) {
        annotations.insert(LAST_APPLIED.into(), Value::String(text));
        // Too large for the annotations' limit, it goes rather than fail the apply (kube's
        // `SetLastApplied`).
        let size: usize = annotations.iter().map(|(key, value)| key.len() + value.as_str().map_or(0, str::len)).sum();
        if size > MAX_ANNOTATIONS_BYTES {
            annotations.remove(LAST_APPLIED);
        }
    }
}

struct Conflict {
    manager: Id,
    api_version: String,
    path: Path,
}

struct Conflicts(Vec<Conflict>);

/// How kube names a manager in a conflict (`printManager`).
fn shown_manager(conflict: &Conflict) -> String {
    let mut shown = format!("{:?}", conflict.manager.manager);
    if !conflict.manager.subresource.is_empty() {
        shown = format!("{shown} with subresource {:?}", conflict.manager.subresource);
    }
    if conflict.manager.operation == Operation::Update {
        shown = format!("{shown} using {}", conflict.api_version);
    }
    shown
}

/// 409 with kube's message (`NewConflictError`): one conflict on one line, several grouped
/// by manager, and a cause per field.
fn conflict_error(conflicts: &[Conflict]) -> ApiError {
    let causes: Vec<Value> = conflicts
        .iter()
        .map(|conflict| json!({"reason": "FieldManagerConflict", "message": format!("conflict with {}", shown_manager(conflict)), "field": conflict.path.to_string()}))
        .collect();
    let message = match conflicts {
        [one] => format!("Apply failed with 1 conflict: conflict with {}: {}", shown_manager(one), one.path),
        many => {
            let mut by_manager: BTreeMap<String, (String, Vec<String>)> = BTreeMap::new();
            for conflict in many {
                let (_, paths) = by_manager.entry(manager_key(conflict)).or_insert_with(|| (shown_manager(conflict), Vec::new()));
                paths.push(format!("- {}", conflict.path));
            }
            let mut lines = Vec::new();
            for (shown, paths) in by_manager.into_values() {
                lines.push(format!("conflicts with {shown}:"));
                lines.extend(paths);
            }
            format!("Apply failed with {} conflicts: {}", many.len(), lines.join("\n"))
        }
    };
    let mut error = ApiError::new(409, "Conflict", message);
    error.details = json!({"causes": causes});
    error
}

/// The manager identifier kube sorts conflicts by: its JSON, fields in `ManagedFieldsEntry`'s
/// order.
fn manager_key(conflict: &Conflict) -> String {
    let mut key = format!("{{\"manager\":{},\"operation\":\"{}\"", json!(conflict.manager.manager), conflict.manager.operation.as_str());
    if conflict.manager.operation == Operation::Update {
        key.push_str(&format!(",\"apiVersion\":{}", json!(conflict.api_version)));
    }
    if !conflict.manager.subresource.is_empty() {
        key.push_str(&format!(",\"subresource\":{}", json!(conflict.manager.subresource)));
    }
    key + "}"
}

/// The manager of a write that names none: the client's user agent up to its first `/`,
/// printable characters only, at most 128 bytes (kube's `prefixFromUserAgent`), or `unknown`
/// without one (`buildManagerInfo`).
pub fn manager_from_user_agent(user_agent: &str) -> String {
    let prefix = user_agent.split('/').next().unwrap_or_default();
    let mut out = String::new();
    for c in prefix.chars().filter(|c| !c.is_control()) {
        if out.len() + c.len_utf8() > MAX_MANAGER_LENGTH {
            break;
        }
        out.push(c);
    }
    if out.is_empty() { "unknown".to_string() } else { out }
}

#[cfg(test)]
mod tests;
