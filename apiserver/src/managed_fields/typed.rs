//! Objects walked along their merge schema, as structured-merge-diff's `typed` package walks
//! them: the set of fields a value sets, the difference between two values, the merge of an
//! applied configuration into a live object, and the removal of a set of fields.
//!
//! Values are bounded in depth by the body decoder (`json::MAX_DEPTH`), which bounds every
//! recursion here.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::schema::{Atom, ListKind, Schema, TypeRef};
use super::set::{Path, PathElement, Set};

/// Why a value does not fit its schema, at a path: structured-merge-diff's `ValidationError`.
#[derive(Clone, Debug, PartialEq)]
pub struct TypeError {
    pub path: Path,
    pub message: String,
}

impl std::fmt::Display for TypeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Several errors print as structured-merge-diff prints `ValidationErrors`.
pub fn render(errors: &[TypeError]) -> String {
    match errors {
        [one] => one.to_string(),
        many => {
            let mut lines = vec!["errors:".to_string()];
            lines.extend(many.iter().map(|error| format!("  {error}")));
            lines.join("\n")
        }
    }
}

/// The fields each of two values sets that the other does not, or sets differently.
#[derive(Debug, Default, PartialEq)]
pub struct Comparison {
    pub added: Set,
    pub modified: Set,
    pub removed: Set,
}

/// How a node's children are told apart: what to call each, and each one's type.
enum Shape<'s> {
    /// A scalar, an atomic list or map, or an untyped value: compared and merged whole.
    Leaf,
    Map { fields: Option<&'s BTreeMap<String, TypeRef>>, element: Option<TypeRef> },
    List { element: TypeRef, kind: &'s ListKind },
}

pub struct Typed<'s> {
    schema: &'s Schema,
}

impl<'s> Typed<'s> {
    pub fn new(schema: &'s Schema) -> Self {
        Self { schema }
    }

    pub fn root(&self) -> TypeRef {
        self.schema.root
    }

    fn shape(&self, ty: TypeRef, value: &Value) -> Shape<'s> {
        match self.schema.atom(ty) {
            Atom::Map { atomic: true, .. } | Atom::List { kind: ListKind::Atomic, .. } | Atom::Scalar(_) | Atom::Untyped => Shape::Leaf,
            Atom::Map { fields, element, .. } => Shape::Map { fields: Some(fields), element: *element },
            Atom::List { element, kind } => Shape::List { element: *element, kind },
            Atom::Deduced if value.is_object() => Shape::Map { fields: None, element: Some(self.schema.deduced()) },
            Atom::Deduced => Shape::Leaf,
        }
    }

    fn field_type(fields: Option<&BTreeMap<String, TypeRef>>, element: Option<TypeRef>, name: &str) -> Option<(TypeRef, bool)> {
        match fields.and_then(|fields| fields.get(name)) {
            Some(ty) => Some((*ty, true)),
            None => element.map(|ty| (ty, false)),
        }
    }

    /// The path element of a list item: its key fields (with their schema defaults when left
    /// out), or its value for a set.
    fn item_element(&self, element: TypeRef, kind: &ListKind, item: &Value, index: usize) -> Result<PathElement, String> {
        match kind {
            ListKind::Atomic => Ok(PathElement::Index(index)),
            ListKind::Set => match item {
                Value::Object(_) | Value::Array(_) => Err("associative list without keys has an element that's a map or a list".into()),
                scalar => Ok(PathElement::value(scalar)),
            },
            ListKind::Map(keys) => {
                let Value::Object(map) = item else {
                    return Err(format!("associative list with keys has an element that is not a map: {item}"));
                };
                let defaults = match self.schema.atom(element) {
                    Atom::Map { defaults, .. } => Some(defaults),
                    _ => None,
                };
                let mut fields = Vec::with_capacity(keys.len());
                for key in keys {
                    match map.get(key).or_else(|| defaults.and_then(|defaults| defaults.get(key))) {
                        Some(value) => fields.push((key.clone(), value)),
                        None => return Err(format!("associative list with keys has an element that omits key field {key:?} (and doesn't have default value)")),
                    }
                }
                Ok(PathElement::key(fields))
            }
        }
    }

    /// The items of an associative list by path element, in order, one per item; duplicates are
    /// an error unless `allow_duplicates` (a live object may hold them; an applied one may not).
    fn items<'v>(&self, element: TypeRef, kind: &ListKind, list: &'v [Value], path: &[PathElement], allow_duplicates: bool) -> Result<Vec<(PathElement, &'v Value)>, TypeError> {
        let mut out: Vec<(PathElement, &Value)> = Vec::with_capacity(list.len());
        let mut seen = std::collections::BTreeSet::new();
        for (index, item) in list.iter().enumerate() {
            let element = self.item_element(element, kind, item, index).map_err(|message| TypeError { path: Path(path.to_vec()), message })?;
            if !allow_duplicates && !seen.insert(element.clone()) {
                return Err(TypeError { path: Path(path.to_vec()), message: format!("duplicate entries for key {element}") });
            }
            out.push((element, item));
        }
        Ok(out)
    }

    /// The fields `value` sets (`ToFieldSet`): every leaf, every list item and map key, and
    /// the struct fields that are null or empty. Refuses what its schema does not declare.
    pub fn field_set(&self, value: &Value) -> Result<Set, Vec<TypeError>> {
        let mut set = Set::default();
        let mut errors = Vec::new();
        self.collect_fields(self.root(), value, false, &mut Vec::new(), &mut set, &mut errors);
        if errors.is_empty() { Ok(set) } else { Err(errors) }
    }

    /// The fields of a stored object, whatever in it its schema does not declare (an object
    /// stored before a CRD's schema changed): those are left out.
    pub fn stored_field_set(&self, value: &Value) -> Set {
        let mut set = Set::default();
        self.collect_fields(self.root(), value, true, &mut Vec::new(), &mut set, &mut Vec::new());
        set
    }

    fn collect_fields(&self, ty: TypeRef, value: &Value, stored: bool, path: &mut Vec<PathElement>, set: &mut Set, errors: &mut Vec<TypeError>) {
        match self.shape(ty, value) {
            Shape::Leaf => {
                if let Atom::Scalar(scalar) = self.schema.atom(ty)
                    && let Some(message) = scalar.refuses(value)
                {
                    errors.push(TypeError { path: Path(path.clone()), message });
                }
                set.insert(path);
            }
            Shape::Map { fields, element } => {
                let Some(map) = value.as_object() else {
                    if !value.is_null() {
                        errors.push(TypeError { path: Path(path.clone()), message: format!("expected map, got {}", kind_of(value)) });
                    }
                    return;
                };
                for (name, child) in map {
                    path.push(PathElement::Field(name.clone()));
                    match Self::field_type(fields, element, name) {
                        None => errors.push(TypeError { path: Path(path.clone()), message: "field not declared in schema".into() }),
                        Some((child_type, declared)) => {
                            self.collect_fields(child_type, child, stored, path, set, errors);
                            let empty = child.is_null() || child.as_object().is_some_and(Map::is_empty);
                            if empty || !declared {
                                set.insert(path);
                            }
                        }
                    }
                    path.pop();
                }
            }
            Shape::List { element, kind } => {
                let Some(list) = value.as_array() else {
                    if !value.is_null() {
                        errors.push(TypeError { path: Path(path.clone()), message: format!("expected list, got {}", kind_of(value)) });
                    }
                    return;
                };
                match self.items(element, kind, list, path, stored) {
                    Err(error) => errors.push(error),
                    Ok(items) => {
                        for (item_element, item) in items {
                            path.push(item_element);
                            self.collect_fields(element, item, stored, path, set, errors);
                            set.insert(path);
                            path.pop();
                        }
                    }
                }
            }
        }
    }

    /// What changed from `old` to `new`: leaves and whole nodes added, removed or changed
    /// (`Compare`). Either may be absent.
    pub fn compare(&self, old: &Value, new: &Value) -> Comparison {
        let mut comparison = Comparison::default();
        self.compare_at(self.root(), Some(old), Some(new), &mut Vec::new(), &mut comparison);
        comparison
    }

    fn compare_at<'v>(&self, ty: TypeRef, old: Option<&'v Value>, new: Option<&'v Value>, path: &mut Vec<PathElement>, out: &mut Comparison) {
        let shape_of = new.or(old).map(|value| self.shape(ty, value));
        let (Some(shape), false) = (shape_of, old.is_none() && new.is_none()) else { return };
        let old_shape_differs = matches!((old, new), (Some(old), Some(new)) if std::mem::discriminant(old) != std::mem::discriminant(new) && !old.is_null() && !new.is_null());
        match shape {
            Shape::Map { fields, element } if !old_shape_differs => {
                let empty = Map::new();
                let old_map = old.and_then(Value::as_object).unwrap_or(&empty);
                let new_map = new.and_then(Value::as_object).unwrap_or(&empty);
                for (name, old_child) in old_map {
                    if let Some((child_type, _)) = Self::field_type(fields, element, name) {
                        path.push(PathElement::Field(name.clone()));
                        self.compare_at(child_type, Some(old_child), new_map.get(name), path, out);
                        path.pop();
                    }
                }
                for (name, new_child) in new_map {
                    if old_map.contains_key(name) {
                        continue;
                    }
                    if let Some((child_type, _)) = Self::field_type(fields, element, name) {
                        path.push(PathElement::Field(name.clone()));
                        self.compare_at(child_type, None, Some(new_child), path, out);
                        path.pop();
                    }
                }
            }
            Shape::List { element, kind } if !old_shape_differs => {
                let items_of = |value: Option<&'v Value>, path: &[PathElement]| -> Vec<(PathElement, &'v Value)> {
                    let items = value.and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[]);
                    self.items(element, kind, items, path, true).unwrap_or_default()
                };
                // Items by key, each key with every item that has it: a key held twice is
                // compared as one whole, as structured-merge-diff compares duplicates.
                let mut by_key: BTreeMap<PathElement, (Vec<&Value>, Vec<&Value>)> = BTreeMap::new();
                for (item_element, item) in items_of(old, path) {
                    by_key.entry(item_element).or_default().0.push(item);
                }
                for (item_element, item) in items_of(new, path) {
                    by_key.entry(item_element).or_default().1.push(item);
                }
                for (item_element, (old_items, new_items)) in by_key {
                    path.push(item_element);
                    match (old_items.as_slice(), new_items.as_slice()) {
                        ([] | [_], [] | [_]) => self.compare_at(element, old_items.first().copied(), new_items.first().copied(), path, out),
                        ([], _) => out.added.insert(path),
                        (_, []) => out.removed.insert(path),
                        _ if old_items != new_items => out.modified.insert(path),
                        _ => {}
                    }
                    path.pop();
                }
            }
            _ => {
                match (old, new) {
                    (None, Some(_)) => out.added.insert(path),
                    (Some(_), None) => out.removed.insert(path),
                    (Some(old), Some(new)) if old != new => out.modified.insert(path),
                    _ => {}
                }
                return;
            }
        }
        match (old, new) {
            (None, Some(_)) => out.added.insert(path),
            (Some(_), None) => out.removed.insert(path),
            _ => {}
        }
    }

    /// `config` merged into `live` (`Merge`): config's leaves and atomic nodes win, maps merge
    /// key by key, associative lists item by item, keeping both orders where they agree.
    pub fn merge(&self, live: &Value, config: &Value) -> Result<Value, Vec<TypeError>> {
        let mut errors = Vec::new();
        let merged = self.merge_at(self.root(), Some(live.clone()), Some(config), &mut Vec::new(), &mut errors);
        if errors.is_empty() { Ok(merged.unwrap_or(Value::Null)) } else { Err(errors) }
    }

    /// Takes `live` by value: each level moves its children down rather than copying the
    /// subtree, so a merge costs the object's size, not its size times its depth.
    fn merge_at(&self, ty: TypeRef, live: Option<Value>, config: Option<&Value>, path: &mut Vec<PathElement>, errors: &mut Vec<TypeError>) -> Option<Value> {
        let Some(config) = config else { return live };
        let live = live.unwrap_or(Value::Null);
        match self.shape(ty, config) {
            Shape::Leaf => Some(config.clone()),
            // A null map or list in a configuration merges nothing in: only the prune that
            // follows removes what the applier no longer sets.
            Shape::Map { .. } | Shape::List { .. } if config.is_null() => Some(live),
            Shape::Map { fields, element } => {
                let Some(config_map) = config.as_object() else {
                    errors.push(TypeError { path: Path(path.clone()), message: format!("expected map, got {}", kind_of(config)) });
                    return Some(config.clone());
                };
                let mut out = match live {
                    Value::Object(map) => map,
                    _ => Map::new(),
                };
                for (name, config_child) in config_map {
                    path.push(PathElement::Field(name.clone()));
                    match Self::field_type(fields, element, name) {
                        None => errors.push(TypeError { path: Path(path.clone()), message: "field not declared in schema".into() }),
                        Some((child_type, _)) => {
                            let live_child = out.remove(name);
                            if let Some(merged) = self.merge_at(child_type, live_child, Some(config_child), path, errors) {
                                out.insert(name.clone(), merged);
                            }
                        }
                    }
                    path.pop();
                }
                Some(Value::Object(out))
            }
            Shape::List { element, kind } => {
                let Some(config_list) = config.as_array() else {
                    errors.push(TypeError { path: Path(path.clone()), message: format!("expected list, got {}", kind_of(config)) });
                    return Some(config.clone());
                };
                let config_items = match self.items(element, kind, config_list, path, false) {
                    Ok(items) => items,
                    Err(error) => {
                        errors.push(error);
                        return Some(config.clone());
                    }
                };
                let mut live_list = match live {
                    Value::Array(items) => items,
                    _ => Vec::new(),
                };
                // One element per item, duplicates too (kube does not refuse every duplicate
                // key on a write, and a merge must not lose what it does not touch).
                let live_elements: Vec<PathElement> = match self.items(element, kind, &live_list, path, true) {
                    Ok(items) => items.into_iter().map(|(item_element, _)| item_element).collect(),
                    Err(error) => {
                        errors.push(error);
                        return Some(config.clone());
                    }
                };
                let live_items: Vec<(PathElement, Option<Value>)> = live_elements.into_iter().zip(live_list.iter_mut().map(|item| Some(std::mem::take(item)))).collect();
                let merged = self.merge_items(element, live_items, &config_items, path, errors);
                Some(Value::Array(merged))
            }
        }
    }

    /// structured-merge-diff's ordering of a merged associative list: live's items stay in
    /// their order, config's new items go where config puts them, and the items both have
    /// follow config's order among themselves. A key live holds twice is kept twice unless
    /// config names it, which makes it one item.
    fn merge_items(&self, element: TypeRef, mut live: Vec<(PathElement, Option<Value>)>, config: &[(PathElement, &Value)], path: &mut Vec<PathElement>, errors: &mut Vec<TypeError>) -> Vec<Value> {
        let mut first: BTreeMap<PathElement, usize> = BTreeMap::new();
        for (index, (item_element, _)) in live.iter().enumerate() {
            first.entry(item_element.clone()).or_insert(index);
        }
        let config_by: BTreeMap<&PathElement, &Value> = config.iter().map(|(e, v)| (e, *v)).collect();
        let shared: Vec<PathElement> = config.iter().map(|(e, _)| e).filter(|e| first.contains_key(*e)).cloned().collect();
        let mut shared = shared.into_iter();
        let mut next_shared = shared.next();
        let mut merged_config = std::collections::BTreeSet::new();
        let mut out = Vec::with_capacity(live.len() + config.len());
        let merge_one = |item_element: &PathElement, live_item: Option<Value>, config_item: Option<&Value>, path: &mut Vec<PathElement>, errors: &mut Vec<TypeError>| {
            path.push(item_element.clone());
            let merged = self.merge_at(element, live_item, config_item, path, errors);
            path.pop();
            merged
        };
        let (mut l, mut r) = (0, 0);
        while l < live.len() || r < config.len() {
            if l < live.len() && r < config.len() {
                if live[l].0 == config[r].0 {
                    let item_element = config[r].0.clone();
                    merged_config.insert(item_element.clone());
                    let live_item = live[l].1.take();
                    out.extend(merge_one(&item_element, live_item, Some(config[r].1), path, errors));
                    l += 1;
                    r += 1;
                    next_shared = shared.next();
                    continue;
                }
                if config_by.contains_key(&live[l].0) && next_shared.as_ref().is_some_and(|next| *next != live[l].0) {
                    l += 1;
                    continue;
                }
            }
            if l < live.len() {
                if !config_by.contains_key(&live[l].0) {
                    let item_element = live[l].0.clone();
                    let live_item = live[l].1.take();
                    out.extend(merge_one(&item_element, live_item, None, path, errors));
                    l += 1;
                    continue;
                }
                if merged_config.contains(&live[l].0) {
                    l += 1;
                    continue;
                }
            }
            if r < config.len() {
                let item_element = &config[r].0;
                merged_config.insert(item_element.clone());
                let live_item = first.get(item_element).and_then(|&index| live[index].1.take());
                out.extend(merge_one(item_element, live_item, Some(config[r].1), path, errors));
                r += 1;
                if next_shared.as_ref() == Some(item_element) {
                    next_shared = shared.next();
                }
            }
        }
        out
    }

    /// `value` without the fields `set` names as members, and whatever is below them
    /// (`RemoveItems`). A map or list left empty by the removal is removed too.
    pub fn remove(&self, value: &Value, set: &Set) -> Value {
        self.remove_at(self.root(), value, set).unwrap_or_else(|| Value::Object(Map::new()))
    }

    fn remove_at(&self, ty: TypeRef, value: &Value, set: &Set) -> Option<Value> {
        match self.shape(ty, value) {
            Shape::Leaf => Some(value.clone()),
            Shape::Map { fields, element } => {
                let map = value.as_object()?;
                if map.is_empty() {
                    return Some(value.clone());
                }
                let mut out = Map::new();
                for (name, child) in map {
                    let element_of = PathElement::Field(name.clone());
                    if set.has(std::slice::from_ref(&element_of)) {
                        continue;
                    }
                    let kept = match (set.with_prefix(&element_of), Self::field_type(fields, element, name)) {
                        (Some(below), Some((child_type, _))) => self.remove_at(child_type, child, below),
                        _ => Some(child.clone()),
                    };
                    if let Some(kept) = kept {
                        out.insert(name.clone(), kept);
                    }
                }
                (!out.is_empty()).then_some(Value::Object(out))
            }
            Shape::List { element, kind } => {
                let list = value.as_array()?;
                if list.is_empty() {
                    return Some(value.clone());
                }
                let mut out = Vec::with_capacity(list.len());
                for (index, item) in list.iter().enumerate() {
                    let Ok(item_element) = self.item_element(element, kind, item, index) else {
                        out.push(item.clone());
                        continue;
                    };
                    if set.has(std::slice::from_ref(&item_element)) {
                        continue;
                    }
                    let kept = match set.with_prefix(&item_element) {
                        Some(below) => self.remove_at(element, item, below),
                        None => Some(item.clone()),
                    };
                    out.extend(kept);
                }
                (!out.is_empty()).then_some(Value::Array(out))
            }
        }
    }

    /// `set` with every struct field that has members below it made a member itself
    /// (`EnsureNamedFieldsAreMembers`): owning `spec.replicas` is owning a part of `spec`, so
    /// pruning `spec` needs someone to own it.
    pub fn with_named_fields(&self, set: &Set) -> Set {
        let mut out = Set::default();
        self.named_fields_at(self.root(), set, &mut Vec::new(), &mut out);
        out
    }

    fn named_fields_at(&self, ty: TypeRef, set: &Set, path: &mut Vec<PathElement>, out: &mut Set) {
        for member in set.members() {
            path.push(member.clone());
            out.insert(path);
            path.pop();
        }
        for (element, below) in set.children() {
            let child_type = match (self.schema.atom(ty), element) {
                (Atom::Map { fields, element: other, .. }, PathElement::Field(name)) => match fields.get(name) {
                    Some(field) => {
                        path.push(element.clone());
                        out.insert(path);
                        path.pop();
                        Some(*field)
                    }
                    None => *other,
                },
                (Atom::List { element: item, .. }, _) => Some(*item),
                (Atom::Deduced, _) => Some(self.schema.deduced()),
                _ => None,
            };
            path.push(element.clone());
            match child_type {
                Some(child_type) => self.named_fields_at(child_type, below, path, out),
                None => below.paths().iter().for_each(|below_path| {
                    let mut full = path.clone();
                    full.extend(below_path.0.iter().cloned());
                    out.insert(&full);
                }),
            }
            path.pop();
        }
    }
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "map",
    }
}
