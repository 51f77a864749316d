//! Generates the protobuf field tables and the strategic-merge and list metadata of the served
//! kinds from the Go types of Kubernetes 1.33 vendored in `kubernetes-1.33/` (see its README):
//! `$OUT_DIR/protobuf_tables.rs`, included by `src/protobuf.rs`, and `$OUT_DIR/patch_tables.rs`,
//! included by `src/patch.rs`. Only the struct tags and markers of `types.go` hold all of it
//! (protobuf numbers, JSON names, `omitempty`, pointers, inline embedding, patch strategies and
//! list types); generating them keeps the tables at one pinned version instead of copied by hand.
//! It also builds the OpenAPI definitions of the built-in kinds (`build/openapi.rs`).

#[path = "build/go.rs"]
mod go;
#[path = "build/openapi.rs"]
mod openapi;
#[path = "build/tables.rs"]
mod tables;

use std::path::{Path, PathBuf};

use tables::{PatchKind, Root};

const VENDORED: &str = "kubernetes-1.33";

const CORE: &str = "k8s.io/api/core/v1";
const AUTHENTICATION: &str = "k8s.io/api/authentication/v1";
const AUTHORIZATION: &str = "k8s.io/api/authorization/v1";
const AUTOSCALING: &str = "k8s.io/api/autoscaling/v1";
const POLICY: &str = "k8s.io/api/policy/v1";
const META: &str = "k8s.io/apimachinery/pkg/apis/meta/v1";

/// The bodies that may arrive as protobuf besides the served kinds' own: those of the binding,
/// scale and token subresources and of the reviews.
const BODY_ROOTS: &[Root] = &[
    Root { api_version: "v1", package: CORE, kind: "Binding" },
    Root { api_version: "autoscaling/v1", package: AUTOSCALING, kind: "Scale" },
    Root { api_version: "authentication.k8s.io/v1", package: AUTHENTICATION, kind: "TokenRequest" },
    Root { api_version: "authentication.k8s.io/v1", package: AUTHENTICATION, kind: "TokenReview" },
    Root { api_version: "authentication.k8s.io/v1", package: AUTHENTICATION, kind: "SelfSubjectReview" },
    Root { api_version: "authorization.k8s.io/v1", package: AUTHORIZATION, kind: "SelfSubjectAccessReview" },
    Root { api_version: "authorization.k8s.io/v1", package: AUTHORIZATION, kind: "SubjectAccessReview" },
    Root { api_version: "authorization.k8s.io/v1", package: AUTHORIZATION, kind: "SelfSubjectRulesReview" },
    // pods/eviction's body; `protobuf::generated::root` finds it for policy/v1beta1 too.
    Root { api_version: "policy/v1", package: POLICY, kind: "Eviction" },
    // A DELETE's body (kubectl drain sends one as protobuf), registered in every group version;
    // `protobuf::generated::root` finds this one for any of them.
    Root { api_version: "meta.k8s.io/v1", package: META, kind: "DeleteOptions" },
];

/// Where the kinds are declared, one file each: the served ones are roots of both tables.
const KINDS_DIR: &str = "src/kinds";

/// The group, version and kind of every built-in kind declared under `src/kinds/`, read from
/// the declarations' `ResourceType::builtin("group", "version", "Kind", ...)` calls, so that
/// declaring a kind is all it takes for its protobuf and patch tables to be generated.
fn declared_kinds(dir: &Path, found: &mut Vec<(String, String, String)>) -> Result<(), String> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|error| format!("{}: {error}", dir.display()))?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            declared_kinds(&path, found)?;
            continue;
        }
        let text = std::fs::read_to_string(&path).map_err(|error| format!("{}: {error}", path.display()))?;
        let Some(arguments) = text.split_once("ResourceType::builtin(").and_then(|(_, rest)| rest.split_once(')')).map(|(arguments, _)| arguments) else {
            continue;
        };
        // Quoted strings alternate with what separates them: the odd pieces are the strings.
        let strings: Vec<&str> = arguments.split('"').skip(1).step_by(2).collect();
        match strings.as_slice() {
            [group, version, kind, ..] => found.push((group.to_string(), version.to_string(), kind.to_string())),
            _ => return Err(format!("{}: a ResourceType::builtin call without group, version and kind", path.display())),
        }
    }
    Ok(())
}

/// The vendored Go package of a group version (`k8s.io/api/apps/v1`), if it is vendored.
fn package_of(root: &Path, group: &str, version: &str) -> Option<&'static str> {
    let short = if group.is_empty() { "core" } else { group.split('.').next().unwrap_or(group) };
    let package = format!("k8s.io/api/{short}/{version}");
    // A build script runs once; the few leaked strings give the tables their 'static names.
    root.join(&package).join("types.go").is_file().then(|| &*Box::leak(package.into_boxed_str()))
}

fn main() {
    if let Err(error) = generate() {
        // A build script fails by exiting non-zero; cargo shows what it printed.
        eprintln!("error: generating the Kubernetes tables from {VENDORED}: {error}");
        std::process::exit(1);
    }
    if let Err(error) = openapi::generate() {
        eprintln!("error: generating the OpenAPI definitions from openapi/: {error}");
        std::process::exit(1);
    }
}

fn generate() -> Result<(), String> {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=build");
    println!("cargo:rerun-if-changed={VENDORED}");
    println!("cargo:rerun-if-changed={KINDS_DIR}");
    let root = PathBuf::from(env("CARGO_MANIFEST_DIR")?).join(VENDORED);
    let mut universe = go::Universe::default();
    read_packages(&root, &root, &mut universe)?;
    let manifest = PathBuf::from(env("CARGO_MANIFEST_DIR")?);
    let mut declared = Vec::new();
    declared_kinds(&manifest.join(KINDS_DIR), &mut declared)?;
    let leak = |text: String| -> &'static str { Box::leak(text.into_boxed_str()) };
    let mut protobuf_roots: Vec<Root> = BODY_ROOTS.to_vec();
    let mut patch_kinds = Vec::new();
    for (group, version, kind) in &declared {
        // A kind whose Go types are not vendored (apiextensions') has no tables: a protobuf
        // or strategic merge body for it is refused with 415.
        let Some(package) = package_of(&root, group, version) else { continue };
        let api_version = if group.is_empty() { version.clone() } else { format!("{group}/{version}") };
        protobuf_roots.push(Root { api_version: leak(api_version), package, kind: leak(kind.clone()) });
        patch_kinds.push(PatchKind { kind: leak(kind.clone()), package });
    }
    let (protobuf, reached) = tables::protobuf(&universe, &protobuf_roots)?;
    let patch = tables::patch(&universe, &patch_kinds, &reached)?;
    let version = std::fs::read_to_string(root.join("VERSION"))
        .map_err(|error| format!("VERSION: {error}"))?;
    let header = format!(
        "// Generated by build.rs from {VENDORED}/ at\n{}// Do not edit: change the vendored sources or the generator.\n\n",
        version
            .lines()
            .map(|line| format!("//   {line}\n"))
            .collect::<String>()
    );
    let out = PathBuf::from(env("OUT_DIR")?);
    write(
        &out.join("protobuf_tables.rs"),
        &format!("{header}{protobuf}"),
    )?;
    write(&out.join("patch_tables.rs"), &format!("{header}{patch}"))
}

fn env(name: &str) -> Result<String, String> {
    std::env::var(name).map_err(|error| format!("${name}: {error}"))
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    std::fs::write(path, text).map_err(|error| format!("{}: {error}", path.display()))
}

/// Reads every `.go` file under `dir`; the package's import path is its directory under `root`.
fn read_packages(root: &Path, dir: &Path, universe: &mut go::Universe) -> Result<(), String> {
    let entries = std::fs::read_dir(dir).map_err(|error| format!("{}: {error}", dir.display()))?;
    let mut paths: Vec<PathBuf> = entries
        .map(|entry| entry.map(|entry| entry.path()))
        .collect::<Result<_, _>>()
        .map_err(|error| format!("{}: {error}", dir.display()))?;
    paths.sort();
    for path in paths {
        if path.is_dir() {
            read_packages(root, &path, universe)?;
        } else if path.extension().is_some_and(|extension| extension == "go") {
            let text = std::fs::read_to_string(&path)
                .map_err(|error| format!("{}: {error}", path.display()))?;
            let package =
                go::parse_file(&text).map_err(|error| format!("{}: {error}", path.display()))?;
            let import_path = dir
                .strip_prefix(root)
                .map_err(|error| format!("{}: {error}", dir.display()))?
                .to_string_lossy()
                .replace('\\', "/");
            let merged = universe.packages.entry(import_path).or_default();
            merged.imports.extend(package.imports);
            merged.types.extend(package.types);
        }
    }
    Ok(())
}
