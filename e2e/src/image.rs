//! The node image: built from this workspace's release binaries and the host's containerd, runc,
//! CNI plugins and tools by `node-image/build.sh` (no registry, no base image), tagged by a hash
//! of everything that goes in, so that an unchanged workspace reuses it.

use std::hash::Hasher;
use std::path::{Path, PathBuf};

use crate::docker;

/// The components a node runs (the DNS server as pods, from an image built beside).
pub const BINARIES: [&str; 6] = ["apiserver", "scheduler", "controller-manager", "kubelet", "dns", "loadbalancer"];

#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("the node image needs {path} (build it with `cargo build --release --workspace`): {source}")]
    Binary { path: String, source: std::io::Error },
    #[error("building the node image failed: {0}")]
    Build(String),
    #[error(transparent)]
    Docker(#[from] docker::DockerError),
}

fn build_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("node-image").join("build.sh")
}

/// A hash of the binaries and of every file in `node-image/` (the build script and what it copies
/// in, the entrypoint among them); SipHash with fixed keys, so it is the same from run to run of
/// one toolchain.
fn input_hash(binaries: &Path) -> Result<String, ImageError> {
    let mut hasher = std::hash::DefaultHasher::new();
    let mut inputs: Vec<PathBuf> = BINARIES.iter().map(|name| binaries.join(name)).collect();
    let mut node_image: Vec<PathBuf> = std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("node-image"))
        .map_err(|source| ImageError::Binary { path: "node-image".into(), source })?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .collect();
    node_image.sort();
    inputs.extend(node_image);
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    inputs.push(workspace.join("scripts/build-test-images.sh"));
    inputs.push(workspace.join("scripts/images/pause.c"));
    for path in inputs {
        let bytes = std::fs::read(&path).map_err(|source| ImageError::Binary { path: path.display().to_string(), source })?;
        hasher.write(&bytes);
    }
    Ok(format!("{:016x}", hasher.finish()))
}

/// The tag of an image holding these binaries, built when there is none yet.
pub async fn ensure(binaries: &Path) -> Result<String, ImageError> {
    let tag = format!("cluster-node:{}", input_hash(binaries)?);
    if docker::run(&["image", "inspect", "--format", "{{.Id}}", &tag]).await.is_ok() {
        return Ok(tag);
    }
    let work = tempfile::tempdir().map_err(|err| ImageError::Build(format!("a temporary directory: {err}")))?;
    let output = tokio::process::Command::new("bash")
        .arg(build_script())
        .arg(work.path())
        .arg(binaries)
        .arg(&tag)
        .output()
        .await
        .map_err(|err| ImageError::Build(format!("cannot run {}: {err}", build_script().display())))?;
    if !output.status.success() {
        return Err(ImageError::Build(format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))));
    }
    // Each build of the workspace makes a new image of a few hundred MB; older ones go, but for
    // those a cluster still runs on (Docker refuses to remove them).
    let images = docker::run(&["images", "--format", "{{.Repository}}:{{.Tag}}", "cluster-node"]).await.unwrap_or_default();
    for old in images.lines().filter(|image| *image != tag) {
        let _ = docker::run(&["rmi", old]).await;
    }
    Ok(tag)
}
