//! Builds the OpenAPI schemas of the built-in kinds into the apiserver. Kubernetes' own v3
//! documents are vendored under `openapi/v1.33/`; this keeps the definitions `openapi/roots`
//! names and everything they reference (the paths, and the kinds nothing here serves, are
//! dropped), and writes them to `$OUT_DIR/openapi_definitions.rs` as one table of compact JSON
//! texts. The server then parses nothing at start-up: a document is written from these texts
//! when a client asks for it.

use std::collections::{BTreeMap, BTreeSet};
use std::error::Error;
use std::fmt::Write as _;
use std::path::Path;

use serde_json::Value;

const SCHEMA_REF_PREFIX: &str = "#/components/schemas/";

pub fn generate() -> Result<(), Box<dyn Error>> {
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR")?;
    let openapi = Path::new(&manifest_dir).join("openapi");
    println!("cargo:rerun-if-changed=openapi");
    let definitions = read_definitions(&openapi.join("v1.33"))?;
    let roots = std::fs::read_to_string(openapi.join("roots"))?;
    let kept = closure(&definitions, &root_names(&definitions, &roots)?)?;
    let out = Path::new(&std::env::var("OUT_DIR")?).join("openapi_definitions.rs");
    std::fs::write(out, render(&definitions, &kept)?)?;
    Ok(())
}

/// Every definition of every vendored document, by name. The documents share definitions (each
/// carries ObjectMeta, say); they must agree, since one release generated them all.
fn read_definitions(dir: &Path) -> Result<BTreeMap<String, Value>, Box<dyn Error>> {
    let mut files: Vec<_> = std::fs::read_dir(dir)?
        .map(|entry| entry.map(|entry| entry.path()))
        .collect::<Result<_, _>>()?;
    files.retain(|path| path.to_string_lossy().ends_with("_openapi.json"));
    files.sort();
    let mut definitions = BTreeMap::new();
    for path in files {
        let document: Value = serde_json::from_slice(&std::fs::read(&path)?)?;
        let Some(schemas) = document.pointer("/components/schemas").and_then(Value::as_object) else {
            return Err(format!("{} has no components.schemas", path.display()).into());
        };
        for (name, schema) in schemas {
            match definitions.get(name) {
                Some(existing) if existing != schema => {
                    return Err(format!("{name} in {} differs from its copy in an earlier document", path.display()).into());
                }
                Some(_) => {}
                None => {
                    definitions.insert(name.clone(), schema.clone());
                }
            }
        }
    }
    Ok(definitions)
}

fn group_version_kinds(schema: &Value) -> Vec<(String, String, String)> {
    let field = |gvk: &Value, name: &str| gvk.get(name).and_then(Value::as_str).unwrap_or_default().to_string();
    schema
        .get("x-kubernetes-group-version-kind")
        .and_then(Value::as_array)
        .map(|gvks| gvks.iter().map(|gvk| (field(gvk, "group"), field(gvk, "version"), field(gvk, "kind"))).collect())
        .unwrap_or_default()
}

/// The definitions `roots` names, one a line: `group/version Kind` (`v1 Kind` for the core
/// group) with its `KindList`, or a definition's full name.
fn root_names(definitions: &BTreeMap<String, Value>, roots: &str) -> Result<Vec<String>, Box<dyn Error>> {
    let mut by_kind: BTreeMap<(String, String, String), &str> = BTreeMap::new();
    for (name, schema) in definitions {
        for gvk in group_version_kinds(schema) {
            // One release names each kind once; two claims would make the lookup a guess.
            if let Some(other) = by_kind.insert(gvk.clone(), name) {
                return Err(format!("{other} and {name} both claim {gvk:?}").into());
            }
        }
    }
    let mut names = Vec::new();
    for line in roots.lines().map(str::trim).filter(|line| !line.is_empty() && !line.starts_with('#')) {
        let Some((group_version, kind)) = line.split_once(' ') else {
            if !definitions.contains_key(line) {
                return Err(format!("openapi/roots names {line}, which no vendored document defines").into());
            }
            names.push(line.to_string());
            continue;
        };
        let (group, version) = group_version.split_once('/').unwrap_or(("", group_version));
        let key = |kind: &str| (group.to_string(), version.to_string(), kind.to_string());
        let Some(name) = by_kind.get(&key(kind)) else {
            return Err(format!("openapi/roots names {line}, which no vendored document defines").into());
        };
        names.push((*name).to_string());
        if let Some(list) = by_kind.get(&key(&format!("{kind}List"))) {
            names.push((*list).to_string());
        }
    }
    Ok(names)
}

fn references(value: &Value, found: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            if let Some(target) = map.get("$ref").and_then(Value::as_str).and_then(|target| target.strip_prefix(SCHEMA_REF_PREFIX)) {
                found.insert(target.to_string());
            }
            map.values().for_each(|value| references(value, found));
        }
        Value::Array(items) => items.iter().for_each(|value| references(value, found)),
        _ => {}
    }
}

fn closure(definitions: &BTreeMap<String, Value>, roots: &[String]) -> Result<BTreeSet<String>, Box<dyn Error>> {
    let mut kept = BTreeSet::new();
    let mut pending: Vec<String> = roots.to_vec();
    while let Some(name) = pending.pop() {
        if !kept.insert(name.clone()) {
            continue;
        }
        let Some(schema) = definitions.get(&name) else {
            return Err(format!("{name} is referenced but defined in no vendored document").into());
        };
        let mut found = BTreeSet::new();
        references(schema, &mut found);
        pending.extend(found.into_iter().filter(|target| !kept.contains(target)));
    }
    Ok(kept)
}

fn render(definitions: &BTreeMap<String, Value>, kept: &BTreeSet<String>) -> Result<String, Box<dyn Error>> {
    let index: BTreeMap<&str, usize> = kept.iter().enumerate().map(|(position, name)| (name.as_str(), position)).collect();
    let mut out = String::from("// Generated by build.rs from openapi/v1.33 and openapi/roots.\n\npub(crate) static DEFINITIONS: &[Definition] = &[\n");
    for name in kept {
        let schema = &definitions[name];
        let mut found = BTreeSet::new();
        references(schema, &mut found);
        let refs: Vec<String> = found.iter().map(|target| index[target.as_str()].to_string()).collect();
        let kinds: Vec<String> = group_version_kinds(schema).iter().map(|(group, version, kind)| format!("({group:?}, {version:?}, {kind:?})")).collect();
        writeln!(
            out,
            "    Definition {{ name: {name:?}, kinds: &[{}], references: &[{}], schema: {:?} }},",
            kinds.join(", "),
            refs.join(", "),
            serde_json::to_string(schema)?,
        )?;
    }
    out.push_str("];\n");
    Ok(out)
}
