//! Field paths and sets of them, as structured-merge-diff has them (`fieldpath`): what each
//! manager of an object owns, and the `fieldsV1` encoding of it in `metadata.managedFields`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde_json::{Map, Value};

/// One step into a value: a struct or map field (`f:name`), an item of an associative list by
/// its key fields (`k:{"name":"web"}`), an item of a set by its value (`v:"a"`), or a list
/// item by position (`i:0`). Key fields and values are kept as compact JSON text, which both
/// orders them and is what fieldsV1 writes.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PathElement {
    Field(String),
    /// Key fields by name, sorted, each with its value as JSON text.
    Key(Vec<(String, String)>),
    Value(String),
    Index(usize),
}

impl PathElement {
    /// The key of an associative list item from its key fields' values.
    pub fn key(fields: Vec<(String, &Value)>) -> Self {
        let mut fields: Vec<(String, String)> = fields.into_iter().map(|(name, value)| (name, value.to_string())).collect();
        fields.sort();
        Self::Key(fields)
    }

    pub fn value(value: &Value) -> Self {
        Self::Value(value.to_string())
    }

    /// The fieldsV1 member name: `f:spec`, `k:{"name":"web"}`, `v:"a"`, `i:0`.
    fn encoded(&self) -> String {
        match self {
            Self::Field(name) => format!("f:{name}"),
            Self::Key(fields) => format!("k:{}", key_object(fields)),
            Self::Value(value) => format!("v:{value}"),
            Self::Index(index) => format!("i:{index}"),
        }
    }

    fn decoded(text: &str) -> Result<Self, String> {
        let Some((prefix, rest)) = text.split_once(':') else {
            return Err(format!("unexpected key {text:?}: no prefix"));
        };
        let parse = |rest: &str| serde_json::from_str::<Value>(rest).map_err(|error| format!("{text:?}: {error}"));
        match prefix {
            "f" => Ok(Self::Field(rest.to_string())),
            "v" => Ok(Self::value(&parse(rest)?)),
            "i" => rest.parse().map(Self::Index).map_err(|_| format!("{text:?}: not an index")),
            "k" => match parse(rest)? {
                Value::Object(fields) => Ok(Self::key(fields.iter().map(|(name, value)| (name.clone(), value)).collect())),
                _ => Err(format!("{text:?}: a key must be an object")),
            },
            _ => Err(format!("unknown prefix {prefix:?} in {text:?}")),
        }
    }
}

fn key_object(fields: &[(String, String)]) -> String {
    let members: Vec<String> = fields.iter().map(|(name, value)| format!("{}:{value}", Value::from(name.as_str()))).collect();
    format!("{{{}}}", members.join(","))
}

/// How structured-merge-diff prints a path element in a conflict: `.name`, `[name="web"]`,
/// `[="a"]`, `[0]`.
impl fmt::Display for PathElement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Field(name) => write!(f, ".{name}"),
            Self::Key(fields) => {
                let pairs: Vec<String> = fields.iter().map(|(name, value)| format!("{name}={value}")).collect();
                write!(f, "[{}]", pairs.join(","))
            }
            Self::Value(value) => write!(f, "[={value}]"),
            Self::Index(index) => write!(f, "[{index}]"),
        }
    }
}

/// A path from the root of an object.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Path(pub Vec<PathElement>);

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|element| write!(f, "{element}"))
    }
}

/// A set of paths as a tree: the elements that are members here, and the subsets below each
/// element. A path can be a member and have children (a map a manager added, and the keys it
/// set in it). Empty subsets are never kept, so equal sets compare equal.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Set {
    members: BTreeSet<PathElement>,
    children: BTreeMap<PathElement, Set>,
}

/// How deep a fieldsV1 may nest; the body decoder refuses JSON deeper than this anyway.
const MAX_DEPTH: usize = 128;

impl Set {
    pub fn is_empty(&self) -> bool {
        self.members.is_empty() && self.children.is_empty()
    }

    pub fn insert(&mut self, path: &[PathElement]) {
        match path {
            [] => {}
            [last] => {
                if !self.members.contains(last) {
                    self.members.insert(last.clone());
                }
            }
            // The element is cloned only when its subtree is new: most inserts walk down
            // subtrees that are there already.
            [first, rest @ ..] => match self.children.get_mut(first) {
                Some(child) => child.insert(rest),
                None => self.children.entry(first.clone()).or_default().insert(rest),
            },
        }
    }

    /// Whether `path` is a member.
    pub fn has(&self, path: &[PathElement]) -> bool {
        match path {
            [] => false,
            [last] => self.members.contains(last),
            [first, rest @ ..] => self.children.get(first).is_some_and(|child| child.has(rest)),
        }
    }

    /// The members and children below `element`.
    pub fn with_prefix(&self, element: &PathElement) -> Option<&Set> {
        self.children.get(element)
    }

    pub fn union(&self, other: &Set) -> Set {
        let mut out = self.clone();
        out.union_with(other);
        out
    }

    /// Adds `other`'s members to this set, in place.
    pub fn union_with(&mut self, other: &Set) {
        self.members.extend(other.members.iter().cloned());
        for (element, child) in &other.children {
            match self.children.get_mut(element) {
                Some(mine) => mine.union_with(child),
                None => {
                    self.children.insert(element.clone(), child.clone());
                }
            }
        }
    }

    /// The members of both. Walks the smaller side at each level, so that a small set of
    /// changes meets a manager's large set in time proportional to the changes.
    pub fn intersection(&self, other: &Set) -> Set {
        let (small, large) = if self.members.len() + self.children.len() <= other.members.len() + other.children.len() { (self, other) } else { (other, self) };
        let members = small.members.iter().filter(|member| large.members.contains(*member)).cloned().collect();
        let children = small
            .children
            .iter()
            .filter_map(|(element, child)| large.children.get(element).map(|theirs| (element.clone(), child.intersection(theirs))))
            .filter(|(_, child)| !child.is_empty())
            .collect();
        Set { members, children }
    }

    /// Removes `other`'s members from this set, in place, in time proportional to `other`.
    pub fn subtract(&mut self, other: &Set) {
        for member in &other.members {
            self.members.remove(member);
        }
        for (element, theirs) in &other.children {
            if let Some(mine) = self.children.get_mut(element) {
                mine.subtract(theirs);
                if mine.is_empty() {
                    self.children.remove(element);
                }
            }
        }
    }

    /// Whether every member of this set is one of `other`'s.
    pub fn is_subset(&self, other: &Set) -> bool {
        self.members.iter().all(|member| other.members.contains(member))
            && self.children.iter().all(|(element, child)| other.children.get(element).is_some_and(|theirs| child.is_subset(theirs)))
    }

    /// The members of this set that are not members of `other`, path by path.
    pub fn difference(&self, other: &Set) -> Set {
        let mut out = self.clone();
        out.subtract(other);
        out
    }

    /// The members of this set that are not at or below a member of `other`: a member of
    /// `other` removes its whole subtree here.
    pub fn recursive_difference(&self, other: &Set) -> Set {
        let members = self.members.difference(&other.members).cloned().collect();
        let children = self
            .children
            .iter()
            .filter(|(element, _)| !other.members.contains(*element))
            .map(|(element, child)| match other.children.get(element) {
                Some(theirs) => (element.clone(), child.recursive_difference(theirs)),
                None => (element.clone(), child.clone()),
            })
            .filter(|(_, child)| !child.is_empty())
            .collect();
        Set { members, children }
    }

    /// Every member path, members of a level before its children, each level in order.
    pub fn paths(&self) -> Vec<Path> {
        let mut out = Vec::new();
        self.collect_paths(&mut Vec::new(), &mut out);
        out
    }

    fn collect_paths(&self, prefix: &mut Vec<PathElement>, out: &mut Vec<Path>) {
        for member in &self.members {
            let mut path = prefix.clone();
            path.push(member.clone());
            out.push(Path(path));
        }
        for (element, child) in &self.children {
            prefix.push(element.clone());
            child.collect_paths(prefix, out);
            prefix.pop();
        }
    }

    /// The children sets, for walkers that follow a value and a set together.
    pub fn children(&self) -> impl Iterator<Item = (&PathElement, &Set)> {
        self.children.iter()
    }

    pub fn members(&self) -> impl Iterator<Item = &PathElement> {
        self.members.iter()
    }

    /// The fieldsV1 form: each member an empty object, each element with children an object of
    /// them, with `"."` when the element is a member too. (serde_json's maps are ordered by key,
    /// which puts `"."` first and fields by name, as structured-merge-diff writes them.)
    pub fn to_fields_v1(&self) -> Value {
        let mut out = Map::new();
        for member in &self.members {
            if !self.children.contains_key(member) {
                out.insert(member.encoded(), Value::Object(Map::new()));
            }
        }
        for (element, child) in &self.children {
            let mut encoded = match child.to_fields_v1() {
                Value::Object(map) => map,
                _ => Map::new(),
            };
            if self.members.contains(element) {
                encoded.insert(".".into(), Value::Object(Map::new()));
            }
            out.insert(element.encoded(), Value::Object(encoded));
        }
        Value::Object(out)
    }

    /// Reads a fieldsV1 object; an error says what is wrong with it, in structured-merge-diff's
    /// spirit if not its words.
    pub fn from_fields_v1(value: &Value) -> Result<Set, String> {
        Self::decode(value, 0)
    }

    fn decode(value: &Value, depth: usize) -> Result<Set, String> {
        if depth > MAX_DEPTH {
            return Err(format!("nests deeper than {MAX_DEPTH} levels"));
        }
        let Value::Object(map) = value else {
            return Err(format!("expected an object, got {value}"));
        };
        let mut set = Set::default();
        for (name, child) in map {
            if name == "." {
                continue;
            }
            let element = PathElement::decoded(name)?;
            let Value::Object(entries) = child else {
                return Err(format!("{name:?}: expected an object, got {child}"));
            };
            if entries.is_empty() || entries.contains_key(".") {
                set.members.insert(element.clone());
            }
            if entries.keys().any(|key| key != ".") {
                let below = Self::decode(child, depth + 1)?;
                if !below.is_empty() {
                    set.children.insert(element, below);
                }
            }
        }
        Ok(set)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn field(name: &str) -> PathElement {
        PathElement::Field(name.into())
    }

    #[test]
    fn fields_v1_round_trips_with_the_member_marker_first() {
        let web = PathElement::key(vec![("name".into(), &json!("web"))]);
        let mut set = Set::default();
        set.insert(&[field("metadata"), field("labels")]);
        set.insert(&[field("metadata"), field("labels"), field("app")]);
        set.insert(&[field("spec"), field("containers"), web.clone()]);
        set.insert(&[field("spec"), field("containers"), web.clone(), field("image")]);
        set.insert(&[field("metadata"), field("finalizers"), PathElement::value(&json!("a"))]);
        let encoded = set.to_fields_v1();
        assert_eq!(
            serde_json::to_string(&encoded).unwrap_or_default(),
            r#"{"f:metadata":{"f:finalizers":{"v:\"a\"":{}},"f:labels":{".":{},"f:app":{}}},"f:spec":{"f:containers":{"k:{\"name\":\"web\"}":{".":{},"f:image":{}}}}}"#
        );
        assert_eq!(Set::from_fields_v1(&encoded), Ok(set));
    }

    #[test]
    fn keys_sort_their_fields_and_print_as_conflicts_do() {
        let key = PathElement::key(vec![("protocol".into(), &json!("TCP")), ("containerPort".into(), &json!(80))]);
        assert_eq!(key.encoded(), r#"k:{"containerPort":80,"protocol":"TCP"}"#);
        let path = Path(vec![field("spec"), field("ports"), key, field("name")]);
        assert_eq!(path.to_string(), r#".spec.ports[containerPort=80,protocol="TCP"].name"#);
    }

    #[test]
    fn differences_remove_members_or_whole_subtrees() {
        let mut a = Set::default();
        a.insert(&[field("spec"), field("replicas")]);
        a.insert(&[field("spec"), field("template"), field("image")]);
        let mut b = Set::default();
        b.insert(&[field("spec"), field("template")]);
        assert_eq!(a.difference(&b), a);
        let mut replicas = Set::default();
        replicas.insert(&[field("spec"), field("replicas")]);
        assert_eq!(a.recursive_difference(&b), replicas);
        assert_eq!(a.intersection(&replicas), replicas);
        assert!(a.difference(&a).is_empty());
    }

    #[test]
    fn malformed_fields_v1_is_an_error() {
        for bad in [json!("x"), json!({"spec": {}}), json!({"f:spec": 1}), json!({"i:x": {}}), json!({"k:[1]": {}})] {
            assert!(Set::from_fields_v1(&bad).is_err(), "{bad}");
        }
    }
}
