//! CEL's types as the checker sees them, named as cel-go prints them in its errors, and the
//! object types a caller declares (kube's `DeclType`s of a structural schema).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

#[derive(Clone, Debug)]
pub enum Type {
    Dyn,
    Null,
    Bool,
    Int,
    Uint,
    Double,
    String,
    Bytes,
    Duration,
    Timestamp,
    List(Arc<ListType>),
    Map(Arc<Type>, Arc<Type>),
    Object(Arc<ObjectType>),
    /// The type of a type value (`type(x)`, `int`), `type` in CEL.
    Metatype,
    Optional(Arc<Type>),
    /// A library's own type: `kubernetes.URL`, `kubernetes.Quantity`, `net.IP`, `net.CIDR`.
    Opaque(&'static str),
    /// A type parameter while an overload is resolved.
    Param(&'static str),
}

/// How a list's items are correlated and compared: kube compares `set` and `map` lists
/// regardless of order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ListKind {
    #[default]
    Atomic,
    Set,
    Map,
}

#[derive(Clone, Debug)]
pub struct ListType {
    pub element: Type,
    pub kind: ListKind,
    /// `maxItems`, where the schema bounds the list (for the cost estimate).
    pub max_items: Option<u64>,
    /// The items' own bound (`maxLength`, `maxItems`, `maxProperties`), if any.
    pub element_max_size: Option<u64>,
}

/// An object with declared fields (a schema with `properties`), escaped names as keys.
#[derive(Clone, Debug, Default)]
pub struct ObjectType {
    pub name: String,
    pub fields: BTreeMap<String, Field>,
}

#[derive(Clone, Debug)]
pub struct Field {
    /// The property's name in JSON, before escaping.
    pub json_name: String,
    pub type_: Type,
    /// The value's bound (`maxLength`, `maxItems`, `maxProperties`), for the cost estimate.
    pub max_size: Option<u64>,
}

impl Type {
    pub fn list(element: Type) -> Type {
        Type::List(Arc::new(ListType { element, kind: ListKind::Atomic, max_items: None, element_max_size: None }))
    }

    pub fn map(key: Type, value: Type) -> Type {
        Type::Map(Arc::new(key), Arc::new(value))
    }

    pub fn optional(inner: Type) -> Type {
        Type::Optional(Arc::new(inner))
    }

    pub fn is_dyn(&self) -> bool {
        matches!(self, Type::Dyn)
    }

    /// Whether values of the two types may be the same value, `dyn` matching anything.
    pub fn compatible(&self, other: &Type) -> bool {
        match (self, other) {
            (Type::Dyn, _) | (_, Type::Dyn) | (Type::Param(_), _) | (_, Type::Param(_)) => true,
            (Type::List(left), Type::List(right)) => left.element.compatible(&right.element),
            (Type::Map(left_key, left_value), Type::Map(right_key, right_value)) => left_key.compatible(right_key) && left_value.compatible(right_value),
            (Type::Optional(left), Type::Optional(right)) => left.compatible(right),
            (Type::Object(left), Type::Object(right)) => Arc::ptr_eq(left, right) || left.name == right.name,
            (Type::Opaque(left), Type::Opaque(right)) => left == right,
            // null is assignable to the nullable kinds of value.
            (Type::Null, Type::Object(_) | Type::Duration | Type::Timestamp | Type::Opaque(_)) | (Type::Object(_) | Type::Duration | Type::Timestamp | Type::Opaque(_), Type::Null) => true,
            _ => std::mem::discriminant(self) == std::mem::discriminant(other),
        }
    }
}

impl fmt::Display for Type {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Type::Dyn => write!(formatter, "dyn"),
            Type::Null => write!(formatter, "null_type"),
            Type::Bool => write!(formatter, "bool"),
            Type::Int => write!(formatter, "int"),
            Type::Uint => write!(formatter, "uint"),
            Type::Double => write!(formatter, "double"),
            Type::String => write!(formatter, "string"),
            Type::Bytes => write!(formatter, "bytes"),
            Type::Duration => write!(formatter, "google.protobuf.Duration"),
            Type::Timestamp => write!(formatter, "google.protobuf.Timestamp"),
            Type::List(list) => write!(formatter, "list({})", list.element),
            Type::Map(key, value) => write!(formatter, "map({key}, {value})"),
            Type::Object(object) => write!(formatter, "{}", object.name),
            Type::Metatype => write!(formatter, "type"),
            Type::Optional(inner) => write!(formatter, "optional_type({inner})"),
            Type::Opaque(name) => write!(formatter, "{name}"),
            Type::Param(name) => write!(formatter, "{name}"),
        }
    }
}

/// CEL's reserved words, which kube escapes as `__{word}__` when a property is named so.
const RESERVED: &[&str] = &[
    "true", "false", "null", "in", "as", "break", "const", "continue", "else", "for", "function", "if", "import", "let", "loop", "package", "namespace", "return", "var", "void", "while",
];

/// kube's `Escape`: the CEL name of a property, or `None` where the property cannot be named
/// in CEL (it is then not accessible to rules).
pub fn escape(name: &str) -> Option<String> {
    if RESERVED.contains(&name) {
        return Some(format!("__{name}__"));
    }
    let mut chars = name.chars();
    let first = chars.next()?;
    let allowed = |character: char| character.is_ascii_alphanumeric() || matches!(character, '_' | '.' | '-' | '/');
    if !(first.is_ascii_alphabetic() || matches!(first, '_' | '.' | '-' | '/')) || !chars.all(allowed) {
        return None;
    }
    let mut out = String::with_capacity(name.len());
    let mut rest = name;
    while let Some(character) = rest.chars().next() {
        if rest.starts_with("__") {
            out.push_str("__underscores__");
            rest = &rest[2..];
            continue;
        }
        match character {
            '.' => out.push_str("__dot__"),
            '-' => out.push_str("__dash__"),
            '/' => out.push_str("__slash__"),
            other => out.push(other),
        }
        rest = &rest[character.len_utf8()..];
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn property_names_are_escaped_as_kube_escapes_them() {
        assert_eq!(escape("namespace").as_deref(), Some("__namespace__"));
        assert_eq!(escape("x-prop").as_deref(), Some("x__dash__prop"));
        assert_eq!(escape("redact__d").as_deref(), Some("redact__underscores__d"));
        assert_eq!(escape("a.b/c").as_deref(), Some("a__dot__b__slash__c"));
        assert_eq!(escape("plain").as_deref(), Some("plain"));
        assert_eq!(escape("1abc"), None);
        assert_eq!(escape("has space"), None);
    }
}
