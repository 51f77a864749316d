//! Turns the parsed Go types into the Rust source of the tables: protobuf messages for
//! `src/protobuf.rs`, strategic-merge patch metadata and list types for `src/patch.rs`.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt::Write as _;

use crate::go::{Decl, Field, GoType, Universe};

const META_V1: &str = "k8s.io/apimachinery/pkg/apis/meta/v1";

/// A Go type by import path and name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TypeId {
    pub package: String,
    pub name: String,
}

impl TypeId {
    pub fn new(package: &str, name: &str) -> TypeId {
        TypeId {
            package: package.to_owned(),
            name: name.to_owned(),
        }
    }

    /// The Rust name of the type's table: package version and type, `CORE_V1_POD_SPEC`.
    fn ident(&self) -> String {
        let mut parts = self.package.rsplit('/');
        let version = parts.next().unwrap_or_default();
        let group = parts.next().unwrap_or_default();
        format!(
            "{}_{}_{}",
            group.to_uppercase(),
            version.to_uppercase(),
            upper_snake(&self.name)
        )
    }

    /// The OpenAPI definition name, as kube-apiserver's OpenAPI and server-side apply name it:
    /// `io.k8s.api.core.v1.PodSpec`.
    fn definition(&self) -> String {
        let path = self
            .package
            .strip_prefix("k8s.io/")
            .unwrap_or(&self.package);
        format!("io.k8s.{}.{}", path.replace('/', "."), self.name)
    }
}

impl std::fmt::Display for TypeId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.package, self.name)
    }
}

/// `PodIP` → `POD_IP`, `HTTPGetAction` → `HTTP_GET_ACTION`.
fn upper_snake(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::new();
    for (index, &c) in chars.iter().enumerate() {
        if index > 0 && c.is_ascii_uppercase() {
            let previous = chars[index - 1];
            let next_is_lower = chars.get(index + 1).is_some_and(|n| n.is_ascii_lowercase());
            if previous.is_ascii_lowercase()
                || previous.is_ascii_digit()
                || (previous.is_ascii_uppercase() && next_is_lower)
            {
                out.push('_');
            }
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

fn lower_first(name: &str) -> String {
    let mut chars = name.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_ascii_lowercase().to_string() + chars.as_str()
    })
}

/// What a Go type is, for the tables, once named types are seen through.
#[derive(Debug, Clone)]
enum Shape {
    /// `Str`, `Bool`, `I32` or `I64`.
    Scalar(&'static str),
    /// `[]byte`.
    Bytes,
    /// A type with its own JSON form, named as the `Kind` variant that reads it.
    Special(&'static str),
    Struct(TypeId),
    Pointer(Box<Shape>),
    Slice(Box<Shape>),
    /// A map with string keys; the value's shape.
    Map(Box<Shape>),
    /// A named `[]string` marked `+protobuf.nullable=true` (authentication's and authorization's
    /// `ExtraValue`): the message `{repeated string items = 1}` on the wire, an array in JSON.
    StringList,
}

/// Types whose protobuf and JSON forms are their own code, not their Go fields.
fn special(package: &str, name: &str) -> Option<Shape> {
    let shape = match (package, name) {
        (META_V1, "Time") => Shape::Special("Time"),
        (META_V1, "MicroTime") => Shape::Special("MicroTime"),
        (META_V1, "Duration") => Shape::Special("Duration"),
        (META_V1, "FieldsV1") => Shape::Special("FieldsV1"),
        ("k8s.io/apimachinery/pkg/api/resource", "Quantity") => Shape::Special("Quantity"),
        ("k8s.io/apimachinery/pkg/util/intstr", "IntOrString") => Shape::Special("IntOrString"),
        ("k8s.io/apimachinery/pkg/runtime", "RawExtension") => Shape::Special("RawExtension"),
        ("k8s.io/apimachinery/pkg/types", "UID") => Shape::Scalar("Str"),
        _ => return None,
    };
    Some(shape)
}

fn shape(universe: &Universe, package: &str, ty: &GoType) -> Result<Shape, String> {
    match ty {
        GoType::Pointer(inner) => Ok(Shape::Pointer(Box::new(shape(universe, package, inner)?))),
        GoType::Slice(inner)
            if **inner
                == GoType::Named {
                    qualifier: None,
                    name: "byte".into(),
                } =>
        {
            Ok(Shape::Bytes)
        }
        GoType::Slice(inner) => Ok(Shape::Slice(Box::new(shape(universe, package, inner)?))),
        GoType::Map(_, value) => Ok(Shape::Map(Box::new(shape(universe, package, value)?))),
        GoType::Named { qualifier, name } => {
            let (path, name) = universe.qualify(package, qualifier.as_deref(), name)?;
            if let Some(shape) = special(&path, &name) {
                return Ok(shape);
            }
            if path.is_empty() {
                return match name.as_str() {
                    "string" => Ok(Shape::Scalar("Str")),
                    "bool" => Ok(Shape::Scalar("Bool")),
                    "int32" => Ok(Shape::Scalar("I32")),
                    "int64" => Ok(Shape::Scalar("I64")),
                    other => Err(format!("Go type {other} has no table kind")),
                };
            }
            match universe.decl(&path, &name)? {
                Decl::Struct(_) => Ok(Shape::Struct(TypeId::new(&path, &name))),
                Decl::Named { ty, markers } => {
                    if markers
                        .iter()
                        .any(|marker| marker == "+protobuf.nullable=true")
                    {
                        let strings = GoType::Slice(Box::new(GoType::Named {
                            qualifier: None,
                            name: "string".into(),
                        }));
                        return if *ty == strings {
                            Ok(Shape::StringList)
                        } else {
                            Err(format!(
                                "{path}.{name}: a nullable named type other than []string"
                            ))
                        };
                    }
                    shape(universe, &path, ty)
                }
            }
        }
    }
}

fn struct_fields<'a>(universe: &'a Universe, id: &TypeId) -> Result<&'a [Field], String> {
    match universe.decl(&id.package, &id.name)? {
        Decl::Struct(fields) => Ok(fields),
        Decl::Named { .. } => Err(format!("{id} is not a struct")),
    }
}

/// Whether a field is the `TypeMeta` every object embeds, which the protobuf message leaves out
/// (the envelope carries apiVersion and kind).
fn is_type_meta(universe: &Universe, package: &str, field: &Field) -> bool {
    let GoType::Named { qualifier, name } = &field.ty else {
        return false;
    };
    field.name.is_none()
        && universe
            .qualify(package, qualifier.as_deref(), name)
            .is_ok_and(|(path, name)| path == META_V1 && name == "TypeMeta")
}

/// A protobuf root: the object of `kind` in `api_version` is the Go type `package.kind`.
#[derive(Clone)]
pub struct Root {
    pub api_version: &'static str,
    pub package: &'static str,
    pub kind: &'static str,
}

/// The protobuf tables: one `static` `Message` per struct reachable from the roots, in the order
/// first reached, and `ROOTS`. Returns the source and every struct reached.
pub fn protobuf(universe: &Universe, roots: &[Root]) -> Result<(String, BTreeSet<TypeId>), String> {
    let mut out = String::new();
    let mut queue: VecDeque<TypeId> = roots
        .iter()
        .map(|root| TypeId::new(root.package, root.kind))
        .collect();
    let mut seen: BTreeSet<TypeId> = queue.iter().cloned().collect();
    while let Some(id) = queue.pop_front() {
        let mut lines = Vec::new();
        for field in struct_fields(universe, &id)? {
            let line = protobuf_field(universe, &id.package, field, &mut |reached: &TypeId| {
                if seen.insert(reached.clone()) {
                    queue.push_back(reached.clone());
                }
            })
            .map_err(|error| format!("{id} line {}: {error}", field.line))?;
            lines.extend(line);
        }
        let _ = writeln!(out, "// {id}");
        let _ = writeln!(
            out,
            "static {}: Message = message(\n    {:?},\n    &[",
            id.ident(),
            id.name
        );
        for line in lines {
            let _ = writeln!(out, "        {line},");
        }
        let _ = writeln!(out, "    ],\n);");
    }
    let _ = writeln!(
        out,
        "\n/// The kinds whose bodies decode, by apiVersion and kind."
    );
    let _ = writeln!(
        out,
        "pub(super) static ROOTS: &[(&str, &str, &Message)] = &["
    );
    for root in roots {
        let _ = writeln!(
            out,
            "    ({:?}, {:?}, &{}),",
            root.api_version,
            root.kind,
            TypeId::new(root.package, root.kind).ident()
        );
    }
    let _ = writeln!(out, "];");
    Ok((out, seen))
}

/// The table entry of one Go field (`field`, `keep`, `list`), or `None` for `TypeMeta`.
fn protobuf_field(
    universe: &Universe,
    package: &str,
    field: &Field,
    reach: &mut dyn FnMut(&TypeId),
) -> Result<Option<String>, String> {
    let Some(tag) = &field.tags.protobuf else {
        if is_type_meta(universe, package, field) {
            return Ok(None);
        }
        return Err("a field without a protobuf tag".into());
    };
    let (pointer, shape) = match shape(universe, package, &field.ty)? {
        Shape::Pointer(inner) => (true, *inner),
        other => (false, other),
    };
    let number = tag.number;
    let code = if field.is_inline() {
        let Shape::Struct(id) = &shape else {
            return Err("an inline field that is not a struct".into());
        };
        reach(id);
        // Inline fields are named by their protobuf name, used only in errors; where the tag has
        // none, go-to-protobuf names it after the embedded type, first letter lowered.
        let name = if tag.name.is_empty() {
            lower_first(&id.name)
        } else {
            tag.name.clone()
        };
        format!("field({number}, {name:?}, Inline(&{}))", id.ident())
    } else {
        let name = field.json_name()?;
        match &shape {
            Shape::Slice(element) => {
                let kind = element_kind(element, reach)?;
                format!("list({number}, {name:?}, {kind})")
            }
            Shape::Map(value) => {
                let value = map_value(value, reach)?;
                format!("field({number}, {name:?}, Map({value}))")
            }
            single => {
                let kind = element_kind(single, reach)?;
                // Go's encoder leaves out a zero scalar only for a non-pointer `omitempty` field.
                let scalar = matches!(single, Shape::Scalar(_) | Shape::Bytes);
                let keep = scalar && (pointer || !field.tags.omitempty);
                let constructor = if keep { "keep" } else { "field" };
                format!("{constructor}({number}, {name:?}, {kind})")
            }
        }
    };
    Ok(Some(code))
}

/// The `Kind` of a single value.
fn element_kind(shape: &Shape, reach: &mut dyn FnMut(&TypeId)) -> Result<String, String> {
    match shape {
        Shape::Scalar(kind) | Shape::Special(kind) => Ok((*kind).to_owned()),
        Shape::Bytes => Ok("Bytes".to_owned()),
        Shape::Struct(id) => {
            reach(id);
            Ok(format!("Msg(&{})", id.ident()))
        }
        other => Err(format!("no protobuf kind for {other:?} here")),
    }
}

fn map_value(shape: &Shape, reach: &mut dyn FnMut(&TypeId)) -> Result<String, String> {
    match shape {
        Shape::Scalar("Str") => Ok("MapValue::Str".into()),
        Shape::Bytes => Ok("MapValue::Bytes".into()),
        Shape::Special("Quantity") => Ok("MapValue::Quantity".into()),
        Shape::Special("Time") => Ok("MapValue::Time".into()),
        Shape::StringList => Ok("MapValue::StringList".into()),
        Shape::Struct(id) => {
            reach(id);
            Ok(format!("MapValue::Msg(&{})", id.ident()))
        }
        other => Err(format!("no map value kind for {other:?}")),
    }
}

/// The fields of a struct as JSON sees them: inline embeddings replaced by their own fields, each
/// with the package its type is written in.
fn json_fields<'a>(
    universe: &'a Universe,
    id: &TypeId,
) -> Result<Vec<(String, &'a Field)>, String> {
    let mut out = Vec::new();
    for field in struct_fields(universe, id)? {
        if is_type_meta(universe, &id.package, field) {
            continue;
        }
        if field.is_inline() {
            let inner = match shape(universe, &id.package, &field.ty)? {
                Shape::Struct(inner) => inner,
                other => return Err(format!("{id} line {}: inline {other:?}", field.line)),
            };
            out.extend(json_fields(universe, &inner)?);
        } else if field.tags.json_name.as_deref() != Some("-") {
            out.push((id.package.clone(), field));
        }
    }
    Ok(out)
}

/// A kind with strategic-merge metadata: its name and Go type.
pub struct PatchKind {
    pub kind: &'static str,
    pub package: &'static str,
}

/// How a field with patch metadata merges: the constructor of `patch.rs`'s `Field` it takes.
enum Strategy {
    /// A struct with metadata below it.
    Object,
    /// A list of primitives with `patchStrategy:"merge"`.
    Union,
    /// A list of structs merged by `patchMergeKey`.
    MergeBy(String),
}

/// One entry of a struct's patch metadata.
struct PatchEntry {
    name: String,
    strategy: Strategy,
    /// The struct (or list element) whose own entries are nested, when it has any.
    nested: Option<TypeId>,
}

/// The strategic-merge patch metadata: a `const` per struct that has patch metadata at or below
/// it, holding only the fields that lead to some (as `patch.rs` reads them), and `KINDS`; then
/// the list types of every struct in `reached`.
pub fn patch(
    universe: &Universe,
    kinds: &[PatchKind],
    reached: &BTreeSet<TypeId>,
) -> Result<String, String> {
    let mut tables: BTreeMap<TypeId, Vec<PatchEntry>> = BTreeMap::new();
    let mut order = Vec::new();
    for kind in kinds {
        patch_entries(
            universe,
            &TypeId::new(kind.package, kind.kind),
            &mut tables,
            &mut order,
            &mut Vec::new(),
        )?;
    }
    // Indexing `tables` below cannot panic: `patch_entries` inserts every struct it visits, each
    // kind's and every nested one, and `order` lists exactly those.
    let mut out = String::new();
    for id in &order {
        let entries = &tables[id];
        if entries.is_empty() {
            continue;
        }
        let _ = writeln!(out, "// {id}\nconst {}: &[Field] = &[", id.ident());
        for entry in entries {
            let nested = entry
                .nested
                .as_ref()
                .filter(|nested| !tables[*nested].is_empty())
                .map_or_else(|| "&[]".to_owned(), TypeId::ident);
            let line = match &entry.strategy {
                Strategy::Object => format!("Field::object({:?}, {nested})", entry.name),
                Strategy::Union => format!("Field::union({:?})", entry.name),
                Strategy::MergeBy(key) => {
                    format!("Field::merge_by({:?}, {key:?}, {nested})", entry.name)
                }
            };
            let _ = writeln!(out, "    {line},");
        }
        let _ = writeln!(out, "];");
    }
    let _ = writeln!(
        out,
        "\n/// The kinds with strategic-merge metadata, by kind name."
    );
    let _ = writeln!(out, "pub(super) static KINDS: &[(&str, &[Field])] = &[");
    for kind in kinds {
        let id = TypeId::new(kind.package, kind.kind);
        let table = if tables[&id].is_empty() {
            "&[]".to_owned()
        } else {
            id.ident()
        };
        let _ = writeln!(out, "    ({:?}, {table}),", kind.kind);
    }
    let _ = writeln!(out, "];");

    let mut all: BTreeSet<TypeId> = reached.clone();
    all.extend(tables.keys().cloned());
    let _ = writeln!(
        out,
        "\n/// The `+listType` of every list field with one, of every type reached from the served kinds."
    );
    let _ = writeln!(out, "pub static LIST_TYPES: &[ListTypeOf] = &[");
    for id in &all {
        for (_, field) in json_fields(universe, id)? {
            let Some(list_type) = &field.list_type else {
                continue;
            };
            let name = field.json_name()?;
            let value = match (list_type.as_str(), field.list_map_keys.as_slice()) {
                ("atomic", []) => "ListType::Atomic".to_owned(),
                ("set", []) => "ListType::Set".to_owned(),
                ("map", keys) if !keys.is_empty() => format!("ListType::Map(&{keys:?})"),
                (other, keys) => {
                    return Err(format!(
                        "{id} line {}: +listType={other} with map keys {keys:?}",
                        field.line
                    ));
                }
            };
            let _ = writeln!(
                out,
                "    ListTypeOf {{ definition: {:?}, field: {name:?}, list_type: {value} }},",
                id.definition()
            );
        }
    }
    let _ = writeln!(out, "];");
    Ok(out)
}

fn patch_entries(
    universe: &Universe,
    id: &TypeId,
    tables: &mut BTreeMap<TypeId, Vec<PatchEntry>>,
    order: &mut Vec<TypeId>,
    stack: &mut Vec<TypeId>,
) -> Result<(), String> {
    if tables.contains_key(id) {
        return Ok(());
    }
    if stack.contains(id) {
        return Err(format!(
            "{id} contains itself; the patch tables cannot be recursive"
        ));
    }
    stack.push(id.clone());
    let mut entries = Vec::new();
    for (package, field) in json_fields(universe, id)? {
        let at = |error: String| format!("{id} line {}: {error}", field.line);
        let shape = match shape(universe, &package, &field.ty).map_err(at)? {
            Shape::Pointer(inner) => *inner,
            other => other,
        };
        let merge = field
            .tags
            .patch_strategy
            .as_deref()
            .is_some_and(|strategy| strategy.split(',').any(|part| part == "merge"));
        let name = field.json_name().map_err(at)?.to_owned();
        if merge {
            // `merge,retainKeys` merges too; `retainKeys` only tells a client to send
            // `$retainKeys`, which the patch code honours wherever it appears.
            let Shape::Slice(element) = shape else {
                return Err(at(
                    "patchStrategy merge on a field that is not a list".into()
                ));
            };
            match (*element, &field.tags.patch_merge_key) {
                (Shape::Struct(element), Some(key)) => {
                    patch_entries(universe, &element, tables, order, stack)?;
                    entries.push(PatchEntry {
                        name,
                        strategy: Strategy::MergeBy(key.clone()),
                        nested: Some(element),
                    });
                }
                (Shape::Scalar(_), None) => entries.push(PatchEntry {
                    name,
                    strategy: Strategy::Union,
                    nested: None,
                }),
                (element, key) => {
                    return Err(at(format!(
                        "patchStrategy merge on {element:?} with merge key {key:?}"
                    )));
                }
            }
        } else if let Shape::Struct(inner) = shape {
            patch_entries(universe, &inner, tables, order, stack)?;
            // Present: the call above inserted it (or found it there).
            if !tables[&inner].is_empty() {
                entries.push(PatchEntry {
                    name,
                    strategy: Strategy::Object,
                    nested: Some(inner),
                });
            }
        }
    }
    stack.pop();
    tables.insert(id.clone(), entries);
    order.push(id.clone());
    Ok(())
}
