//! The merge schema of a kind, as structured-merge-diff's `schema.Schema`: for each node of an
//! object, whether it is a scalar, a list (atomic, a set, or a map keyed by some of its items'
//! fields) or a map (granular or atomic, with declared fields and a type for other keys).
//!
//! Built from the same OpenAPI the server publishes: Kubernetes 1.33's definitions for the
//! built-in kinds (their `x-kubernetes-list-type`, `-list-map-keys`, `-map-type`, and the
//! `x-kubernetes-patch-strategy`/`-patch-merge-key` that kube-openapi's `schemaconv` reads when
//! a list has no list type), and a CustomResourceDefinition's structural schema, whose
//! `metadata` is ObjectMeta's definition.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, OnceLock, Weak};

use serde_json::Value;

use crate::definitions;
use crate::resources::ResourceType;
use crate::schema::{AdditionalProperties, Structural};

pub type TypeRef = usize;

#[derive(Clone, Debug, PartialEq)]
pub enum ListKind {
    Atomic,
    /// Items are scalars, each at most once (`x-kubernetes-list-type: set`).
    Set,
    /// Items are maps told apart by these fields (`x-kubernetes-list-type: map`).
    Map(Vec<String>),
}

/// What a scalar must be, as structured-merge-diff checks an applied configuration.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Scalar {
    String,
    /// An integer or a number: structured-merge-diff does not tell them apart.
    Numeric,
    Boolean,
}

impl Scalar {
    fn of(openapi_type: &str) -> Option<Self> {
        match openapi_type {
            "string" => Some(Self::String),
            "integer" | "number" => Some(Self::Numeric),
            "boolean" => Some(Self::Boolean),
            _ => None,
        }
    }

    /// Why `value` cannot be this scalar, in structured-merge-diff's words (`validateScalar`);
    /// null always can.
    pub fn refuses(self, value: &Value) -> Option<String> {
        let go_type = match value {
            Value::Null => return None,
            Value::Bool(_) => "bool",
            Value::Number(_) => "float64",
            Value::String(_) => "string",
            Value::Array(_) => "[]interface {}",
            Value::Object(_) => "map[string]interface {}",
        };
        match (self, value) {
            (Self::String, Value::String(_)) | (Self::Numeric, Value::Number(_)) | (Self::Boolean, Value::Bool(_)) => None,
            (Self::String, other) => Some(format!("expected string, got {other}")),
            (Self::Numeric, _) => Some(format!("expected numeric (int or float), got {go_type}")),
            (Self::Boolean, other) => Some(format!("expected boolean, got {other}")),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Atom {
    Scalar(Scalar),
    List { element: TypeRef, kind: ListKind },
    Map {
        fields: BTreeMap<String, TypeRef>,
        /// The defaults of fields, for key fields an item omits (a container port's
        /// `protocol` is `TCP` when not given).
        defaults: BTreeMap<String, Value>,
        /// The type of keys not in `fields`; `None` refuses them.
        element: Option<TypeRef>,
        atomic: bool,
    },
    /// Anything, as structured-merge-diff's deduced type: a map is granular, a list atomic.
    Deduced,
    /// Anything, taken whole (`x-kubernetes-int-or-string`, a schema with no type).
    Untyped,
}

/// A kind's merge schema: atoms in an arena, so that recursive definitions (JSONSchemaProps)
/// refer back to themselves. The root is `root`.
#[derive(Debug)]
pub struct Schema {
    atoms: Vec<Atom>,
    pub root: TypeRef,
    /// The new object a create is compared with: what Go's zero value of the kind serializes
    /// as, the structs that are not pointers as `{}` and the required fields as null, so that
    /// a create's entry owns `spec.template` but not the `spec` every object has, as kube's
    /// does. `{}` for custom kinds, which are unstructured in kube too.
    pub zero: Value,
}

impl Schema {
    pub fn atom(&self, ty: TypeRef) -> &Atom {
        self.atoms.get(ty).unwrap_or(&Atom::Deduced)
    }

    /// The schema of keys a map may hold that nothing declares: deduced.
    pub fn deduced(&self) -> TypeRef {
        DEDUCED
    }
}

const DEDUCED: TypeRef = 0;
const UNTYPED: TypeRef = 1;
const STRING: TypeRef = 2;
const NUMERIC: TypeRef = 3;
const BOOLEAN: TypeRef = 4;

fn scalar_type(openapi_type: &str) -> TypeRef {
    match Scalar::of(openapi_type) {
        Some(Scalar::String) => STRING,
        Some(Scalar::Numeric) => NUMERIC,
        Some(Scalar::Boolean) => BOOLEAN,
        None => UNTYPED,
    }
}

/// A quantity is a string in OpenAPI and a number or a string in manifests (`cpu: 1`):
/// kube-openapi's `schemaconv` takes it untyped.
const QUANTITY: &str = "io.k8s.apimachinery.pkg.api.resource.Quantity";

const OBJECT_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";
const REF_PREFIX: &str = "#/components/schemas/";

struct Builder {
    atoms: Vec<Atom>,
    named: HashMap<String, TypeRef>,
}

impl Builder {
    fn new() -> Self {
        let atoms = vec![Atom::Deduced, Atom::Untyped, Atom::Scalar(Scalar::String), Atom::Scalar(Scalar::Numeric), Atom::Scalar(Scalar::Boolean)];
        Self { atoms, named: HashMap::new() }
    }

    fn push(&mut self, atom: Atom) -> TypeRef {
        self.atoms.push(atom);
        self.atoms.len() - 1
    }

    fn finish(self, root: TypeRef) -> Schema {
        Schema { atoms: self.atoms, root, zero: Value::Object(serde_json::Map::new()) }
    }

    /// A built-in definition by name, built once per schema (definitions refer to each other
    /// and to themselves).
    fn definition(&mut self, name: &str) -> TypeRef {
        if let Some(found) = self.named.get(name) {
            return *found;
        }
        if name == QUANTITY {
            return UNTYPED;
        }
        let Some(schema) = definitions::schema(name) else {
            return UNTYPED;
        };
        // Reserved before the walk, so that a reference back to it finds it.
        let at = self.push(Atom::Deduced);
        self.named.insert(name.to_string(), at);
        let atom = self.openapi_atom(&schema);
        self.atoms[at] = atom;
        at
    }

    fn reference(schema: &Value) -> Option<&str> {
        if let Some(target) = schema.get("$ref").and_then(Value::as_str) {
            return target.strip_prefix(REF_PREFIX);
        }
        // `allOf: [{$ref}]` is how v3 documents give a property its type beside a default.
        match schema.get("allOf").and_then(Value::as_array).map(Vec::as_slice) {
            Some([only]) => only.get("$ref").and_then(Value::as_str).and_then(|target| target.strip_prefix(REF_PREFIX)),
            _ => None,
        }
    }

    fn openapi_type(&mut self, schema: &Value) -> TypeRef {
        if let Some(name) = Self::reference(schema) {
            return self.definition(name);
        }
        match schema.get("type").and_then(Value::as_str) {
            Some("object" | "array") => {
                let atom = self.openapi_atom(schema);
                self.push(atom)
            }
            Some(other) => scalar_type(other),
            None => UNTYPED,
        }
    }

    fn openapi_atom(&mut self, schema: &Value) -> Atom {
        match schema.get("type").and_then(Value::as_str) {
            Some("array") => {
                let element = schema.get("items").map_or(UNTYPED, |items| self.openapi_type(items));
                Atom::List { element, kind: list_kind(schema) }
            }
            Some("object") => {
                let mut fields = BTreeMap::new();
                let mut defaults = BTreeMap::new();
                if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
                    for (name, property) in properties {
                        let ty = self.openapi_type(property);
                        fields.insert(name.clone(), ty);
                        if let Some(default) = property.get("default").filter(|default| !default.is_null() && !default.is_object()) {
                            defaults.insert(name.clone(), default.clone());
                        }
                    }
                }
                let element = match schema.get("additionalProperties") {
                    Some(Value::Object(additional)) => Some(self.openapi_type(&Value::Object(additional.clone()))),
                    // An object that says nothing of its keys holds anything (RawExtension).
                    None if fields.is_empty() => Some(DEDUCED),
                    _ => None,
                };
                let atomic = schema.get("x-kubernetes-map-type").and_then(Value::as_str) == Some("atomic");
                Atom::Map { fields, defaults, element, atomic }
            }
            Some(other) => Scalar::of(other).map_or(Atom::Untyped, Atom::Scalar),
            None => Atom::Untyped,
        }
    }

    fn structural_type(&mut self, node: &Structural, resource_root: bool) -> TypeRef {
        let atom = self.structural_atom(node, resource_root);
        match atom {
            Atom::Scalar(scalar) => match scalar {
                Scalar::String => STRING,
                Scalar::Numeric => NUMERIC,
                Scalar::Boolean => BOOLEAN,
            },
            Atom::Untyped => UNTYPED,
            Atom::Deduced => DEDUCED,
            atom => self.push(atom),
        }
    }

    /// A node of a CRD's structural schema. `resource_root` is the object itself or an
    /// embedded resource, whose `apiVersion`, `kind` and `metadata` are the API's, not the
    /// schema's.
    fn structural_atom(&mut self, node: &Structural, resource_root: bool) -> Atom {
        match node.type_.as_str() {
            "array" => {
                let element = node.items.as_deref().map_or(UNTYPED, |items| self.structural_type(items, items.embedded_resource));
                let kind = match (node.list_type.as_deref(), node.list_map_keys.as_slice()) {
                    (Some("set"), _) => ListKind::Set,
                    (Some("map"), keys) if !keys.is_empty() => ListKind::Map(keys.to_vec()),
                    _ => ListKind::Atomic,
                };
                Atom::List { element, kind }
            }
            // Without a type, a node that keeps unknown fields holds anything: a scalar, a list
            // or a map (structured-merge-diff's deduced type), unless it is the object itself.
            "" if node.int_or_string => Atom::Untyped,
            "" if node.preserve_unknown_fields && !resource_root && node.properties.is_empty() => Atom::Deduced,
            "object" | "" if resource_root || node.type_ == "object" || node.preserve_unknown_fields => {
                let mut fields = BTreeMap::new();
                let mut defaults = BTreeMap::new();
                for (name, property) in &node.properties {
                    fields.insert(name.clone(), self.structural_type(property, property.embedded_resource));
                    if let Some(default) = property.default.as_ref().filter(|default| !default.is_object()) {
                        defaults.insert(name.clone(), default.clone());
                    }
                }
                if resource_root {
                    fields.insert("apiVersion".into(), STRING);
                    fields.insert("kind".into(), STRING);
                    let meta = self.definition(OBJECT_META);
                    fields.insert("metadata".into(), meta);
                }
                let element = match &node.additional_properties {
                    Some(AdditionalProperties::Schema(schema)) => Some(self.structural_type(schema, schema.embedded_resource)),
                    Some(AdditionalProperties::Allows(true)) => Some(DEDUCED),
                    _ if node.preserve_unknown_fields => Some(DEDUCED),
                    _ => None,
                };
                let atomic = node.map_type.as_deref() == Some("atomic");
                Atom::Map { fields, defaults, element, atomic }
            }
            "" if node.int_or_string => Atom::Untyped,
            "" => Atom::Untyped,
            other => Scalar::of(other).map_or(Atom::Untyped, Atom::Scalar),
        }
    }
}

/// How kube-openapi's `schemaconv` reads a list: its list type, else a merge patch strategy
/// (keyed by the merge key, or a set without one), else atomic.
fn list_kind(schema: &Value) -> ListKind {
    let text = |name: &str| schema.get(name).and_then(Value::as_str);
    match text("x-kubernetes-list-type") {
        Some("set") => return ListKind::Set,
        Some("map") => {
            let keys: Vec<String> = schema
                .get("x-kubernetes-list-map-keys")
                .and_then(Value::as_array)
                .map(|keys| keys.iter().filter_map(Value::as_str).map(str::to_string).collect())
                .unwrap_or_default();
            return if keys.is_empty() { ListKind::Atomic } else { ListKind::Map(keys) };
        }
        Some(_) => return ListKind::Atomic,
        None => {}
    }
    match text("x-kubernetes-patch-strategy") {
        Some("merge" | "merge,retainKeys") => match text("x-kubernetes-patch-merge-key") {
            Some(key) => ListKind::Map(vec![key.to_string()]),
            None => ListKind::Set,
        },
        _ => ListKind::Atomic,
    }
}

/// The zero value of a built-in definition as Go serializes it: properties defaulted to `{}`
/// (structs that are not pointers) hold their own zero values, required ones are null. Go
/// structs cannot hold themselves by value, so this ends; `depth` bounds it anyway.
fn zero_of(schema: &Value, depth: usize) -> Value {
    let resolved = Builder::reference(schema).and_then(definitions::schema);
    let schema = resolved.as_ref().unwrap_or(schema);
    let mut zero = serde_json::Map::new();
    let required: Vec<&str> = schema.get("required").and_then(Value::as_array).map(|names| names.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
    for (name, property) in schema.get("properties").and_then(Value::as_object).into_iter().flatten() {
        let is_struct = property.get("default").is_some_and(|default| default.as_object().is_some_and(serde_json::Map::is_empty));
        if is_struct && depth < 32 {
            zero.insert(name.clone(), zero_of(property, depth + 1));
        } else if required.contains(&name.as_str()) {
            zero.insert(name.clone(), Value::Null);
        }
    }
    Value::Object(zero)
}

/// The merge schema of a built-in kind's definition, built once per definition.
pub fn builtin(definition: &str) -> Arc<Schema> {
    static CACHE: OnceLock<Mutex<HashMap<String, Arc<Schema>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Mutex::default);
    if let Some(found) = cache.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(definition) {
        return found.clone();
    }
    let mut builder = Builder::new();
    let root = builder.definition(definition);
    let mut schema = builder.finish(root);
    if let Some(definition) = definitions::schema(definition) {
        schema.zero = zero_of(&definition, 0);
    }
    let schema = Arc::new(schema);
    cache.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(definition.to_string(), schema.clone());
    schema
}

/// The merge schema of a custom kind: its structural schema (or none: anything goes) with the
/// API's own `apiVersion`, `kind` and `metadata`.
pub fn custom(structural: Option<&Structural>) -> Schema {
    let mut builder = Builder::new();
    let root = match structural {
        Some(node) => builder.structural_type(node, true),
        None => {
            let meta = builder.definition(OBJECT_META);
            let fields = BTreeMap::from([("apiVersion".to_string(), STRING), ("kind".to_string(), STRING), ("metadata".to_string(), meta)]);
            builder.push(Atom::Map { fields, defaults: BTreeMap::new(), element: Some(DEDUCED), atomic: false })
        }
    };
    builder.finish(root)
}

/// The merge schema of a served kind. A custom kind's is built once per structural schema
/// (a CRD's update makes a new one), kept while that schema is served.
pub fn of(resource: &ResourceType) -> Arc<Schema> {
    type Cache = Mutex<Vec<(Weak<Structural>, Arc<Schema>)>>;
    static CUSTOM: OnceLock<Cache> = OnceLock::new();
    match resource.custom.as_ref() {
        None => match definitions::of_builtin_kind(&resource.group, &resource.version, &resource.kind) {
            Some(definition) => builtin(&definition),
            None => Arc::new(custom(None)),
        },
        Some(kind) => {
            let Some(structural) = kind.structural.as_ref() else { return Arc::new(custom(None)) };
            let mut cache = CUSTOM.get_or_init(Mutex::default).lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            cache.retain(|(weak, _)| weak.strong_count() > 0);
            if let Some((_, schema)) = cache.iter().find(|(weak, _)| std::ptr::eq(weak.as_ptr(), Arc::as_ptr(structural))) {
                return schema.clone();
            }
            let schema = Arc::new(custom(Some(structural)));
            cache.push((Arc::downgrade(structural), schema.clone()));
            schema
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(schema: &Schema, ty: TypeRef, name: &str) -> TypeRef {
        match schema.atom(ty) {
            Atom::Map { fields, .. } => fields.get(name).copied().unwrap_or_else(|| panic!("no field {name}")),
            other => panic!("{name}: not a map: {other:?}"),
        }
    }

    #[test]
    fn a_deployment_lists_containers_by_name_and_ports_by_port_and_protocol() {
        let schema = builtin("io.k8s.api.apps.v1.Deployment");
        let pod_spec = ["spec", "template", "spec"].iter().fold(schema.root, |ty, name| field(&schema, ty, name));
        let containers = field(&schema, pod_spec, "containers");
        let Atom::List { element, kind } = schema.atom(containers) else { panic!("containers is not a list") };
        assert_eq!(kind, &ListKind::Map(vec!["name".into()]));
        let ports = field(&schema, *element, "ports");
        let Atom::List { element: port, kind } = schema.atom(ports) else { panic!("ports is not a list") };
        assert_eq!(kind, &ListKind::Map(vec!["containerPort".into(), "protocol".into()]));
        let Atom::Map { defaults, .. } = schema.atom(*port) else { panic!("a port is not a map") };
        assert_eq!(defaults.get("protocol"), Some(&Value::from("TCP")));
        let selector = field(&schema, field(&schema, schema.root, "spec"), "selector");
        assert!(matches!(schema.atom(selector), Atom::Map { atomic: true, .. }));
        let metadata = field(&schema, schema.root, "metadata");
        let finalizers = field(&schema, metadata, "finalizers");
        assert!(matches!(schema.atom(finalizers), Atom::List { kind: ListKind::Set, .. }));
        let labels = field(&schema, metadata, "labels");
        assert!(matches!(schema.atom(labels), Atom::Map { atomic: false, element: Some(_), .. }));
        assert_eq!(
            schema.zero,
            serde_json::json!({"metadata": {}, "spec": {"selector": null, "strategy": {}, "template": {"metadata": {}, "spec": {"containers": null}}}, "status": {}})
        );
    }
}
