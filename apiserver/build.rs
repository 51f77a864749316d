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
const APPS: &str = "k8s.io/api/apps/v1";
const RBAC: &str = "k8s.io/api/rbac/v1";
const COORDINATION: &str = "k8s.io/api/coordination/v1";
const AUTHENTICATION: &str = "k8s.io/api/authentication/v1";
const AUTHORIZATION: &str = "k8s.io/api/authorization/v1";
const AUTOSCALING: &str = "k8s.io/api/autoscaling/v1";

/// The bodies that may arrive as protobuf: the stored kinds, and the bodies of the binding,
/// scale and token subresources and of the reviews.
const PROTOBUF_ROOTS: &[Root] = &[
    Root {
        api_version: "v1",
        package: CORE,
        kind: "Namespace",
    },
    Root {
        api_version: "v1",
        package: CORE,
        kind: "ConfigMap",
    },
    Root {
        api_version: "v1",
        package: CORE,
        kind: "Secret",
    },
    Root {
        api_version: "v1",
        package: CORE,
        kind: "Service",
    },
    Root {
        api_version: "v1",
        package: CORE,
        kind: "ServiceAccount",
    },
    Root {
        api_version: "v1",
        package: CORE,
        kind: "Pod",
    },
    Root {
        api_version: "v1",
        package: CORE,
        kind: "Endpoints",
    },
    Root {
        api_version: "v1",
        package: CORE,
        kind: "Node",
    },
    Root {
        api_version: "v1",
        package: CORE,
        kind: "Event",
    },
    Root {
        api_version: "v1",
        package: CORE,
        kind: "ReplicationController",
    },
    Root {
        api_version: "v1",
        package: CORE,
        kind: "Binding",
    },
    Root {
        api_version: "apps/v1",
        package: APPS,
        kind: "Deployment",
    },
    Root {
        api_version: "apps/v1",
        package: APPS,
        kind: "ReplicaSet",
    },
    Root {
        api_version: "coordination.k8s.io/v1",
        package: COORDINATION,
        kind: "Lease",
    },
    Root {
        api_version: "authorization.k8s.io/v1",
        package: AUTHORIZATION,
        kind: "SelfSubjectAccessReview",
    },
    Root {
        api_version: "authorization.k8s.io/v1",
        package: AUTHORIZATION,
        kind: "SubjectAccessReview",
    },
    Root {
        api_version: "authorization.k8s.io/v1",
        package: AUTHORIZATION,
        kind: "SelfSubjectRulesReview",
    },
    Root {
        api_version: "rbac.authorization.k8s.io/v1",
        package: RBAC,
        kind: "Role",
    },
    Root {
        api_version: "rbac.authorization.k8s.io/v1",
        package: RBAC,
        kind: "ClusterRole",
    },
    Root {
        api_version: "rbac.authorization.k8s.io/v1",
        package: RBAC,
        kind: "RoleBinding",
    },
    Root {
        api_version: "rbac.authorization.k8s.io/v1",
        package: RBAC,
        kind: "ClusterRoleBinding",
    },
    Root {
        api_version: "autoscaling/v1",
        package: AUTOSCALING,
        kind: "Scale",
    },
    Root {
        api_version: "authentication.k8s.io/v1",
        package: AUTHENTICATION,
        kind: "TokenRequest",
    },
    Root {
        api_version: "authentication.k8s.io/v1",
        package: AUTHENTICATION,
        kind: "TokenReview",
    },
    Root {
        api_version: "authentication.k8s.io/v1",
        package: AUTHENTICATION,
        kind: "SelfSubjectReview",
    },
];

/// The kinds that accept a strategic merge patch, by kind name as `patch::supports_strategic_merge`
/// is asked. (events.k8s.io/v1 Event has no patch metadata outside its metadata either, so the
/// core Event's table serves both.)
const PATCH_KINDS: &[PatchKind] = &[
    PatchKind {
        kind: "Pod",
        package: CORE,
    },
    PatchKind {
        kind: "Deployment",
        package: APPS,
    },
    PatchKind {
        kind: "ReplicaSet",
        package: APPS,
    },
    PatchKind {
        kind: "ReplicationController",
        package: CORE,
    },
    PatchKind {
        kind: "Service",
        package: CORE,
    },
    PatchKind {
        kind: "Namespace",
        package: CORE,
    },
    PatchKind {
        kind: "Node",
        package: CORE,
    },
    PatchKind {
        kind: "ServiceAccount",
        package: CORE,
    },
    PatchKind {
        kind: "Endpoints",
        package: CORE,
    },
    PatchKind {
        kind: "ConfigMap",
        package: CORE,
    },
    PatchKind {
        kind: "Secret",
        package: CORE,
    },
    PatchKind {
        kind: "Event",
        package: CORE,
    },
    PatchKind {
        kind: "Lease",
        package: COORDINATION,
    },
    PatchKind {
        kind: "Role",
        package: RBAC,
    },
    PatchKind {
        kind: "ClusterRole",
        package: RBAC,
    },
    PatchKind {
        kind: "RoleBinding",
        package: RBAC,
    },
    PatchKind {
        kind: "ClusterRoleBinding",
        package: RBAC,
    },
];

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
    let root = PathBuf::from(env("CARGO_MANIFEST_DIR")?).join(VENDORED);
    let mut universe = go::Universe::default();
    read_packages(&root, &root, &mut universe)?;
    let (protobuf, reached) = tables::protobuf(&universe, PROTOBUF_ROOTS)?;
    let patch = tables::patch(&universe, PATCH_KINDS, &reached)?;
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
