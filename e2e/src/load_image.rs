//! `load-image`: images from the local Docker engine copied into the nodes' containerd (the
//! `k8s.io` namespace the kubelet's runtime uses), as `kind load docker-image` does: only into the
//! nodes that do not have that image (by ID) yet, saying so for each.

use crate::cluster;
use crate::docker;
use crate::error::ClusterError;

/// Loads `images` into the nodes of cluster `name` that lack them.
pub async fn load_images(name: &str, images: &[String]) -> Result<(), ClusterError> {
    docker::check().await?;
    let mut ids = Vec::new();
    for image in images {
        // As kind: whatever Docker answers, an image it cannot inspect is not there to load.
        let id = docker::run(&["image", "inspect", "-f", "{{.Id}}", image]).await.map_err(|_| ClusterError::NoImage(image.clone()))?;
        ids.push(id);
    }
    let nodes = cluster::nodes(name).await?;
    let (mut wanted, mut targets) = (Vec::new(), Vec::new());
    for (image, id) in images.iter().zip(&ids) {
        let reference = normalized(image);
        let mut present_everywhere = true;
        for node in &nodes {
            if !present(node, &reference, id).await {
                println!("Image: {image:?} with ID {id:?} not yet present on node {node:?}, loading...");
                present_everywhere = false;
                if !targets.contains(&node) {
                    targets.push(node);
                }
            }
        }
        if present_everywhere {
            println!("Image: {image:?} with ID {id:?} found to be already present on all nodes.");
        } else {
            wanted.push(image.as_str());
        }
    }
    if wanted.is_empty() {
        return Ok(());
    }
    let dir = tempfile::tempdir().map_err(|source| ClusterError::Io { what: "a temporary directory".into(), source })?;
    let archive = dir.path().join("images.tar").display().to_string();
    let mut args = vec!["save", "-o", archive.as_str()];
    args.extend(wanted);
    docker::run(&args).await?;
    for node in targets {
        docker::run(&["cp", &archive, &format!("{node}:/tmp/images.tar")]).await?;
        docker::run(&["exec", node, "sh", "-c", "ctr -n k8s.io images import --snapshotter overlayfs /tmp/images.tar && rm /tmp/images.tar"]).await?;
    }
    Ok(())
}

/// An image reference as containerd names it: with its registry (`docker.io` by default, and
/// `library/` for Docker Hub's official images) and its tag (`latest` by default).
fn normalized(image: &str) -> String {
    let (name, digest) = match image.split_once('@') {
        Some((name, digest)) => (name, Some(digest)),
        None => (image, None),
    };
    let first = name.split('/').next().unwrap_or_default();
    let has_registry = name.contains('/') && (first.contains('.') || first.contains(':') || first == "localhost");
    let mut full = match (has_registry, name.contains('/')) {
        (true, _) => name.to_string(),
        (false, true) => format!("docker.io/{name}"),
        (false, false) => format!("docker.io/library/{name}"),
    };
    let last = full.rsplit('/').next().unwrap_or_default();
    match digest {
        Some(digest) => {
            full.push('@');
            full.push_str(digest);
        }
        None if !last.contains(':') => full.push_str(":latest"),
        None => {}
    }
    full
}

/// Whether `node`'s containerd has `reference` as the image whose ID (its config's digest, what
/// Docker calls its ID) is `id`. Anything the node cannot answer counts as absent: loading again
/// is harmless.
async fn present(node: &str, reference: &str, id: &str) -> bool {
    let ctr = |args: &[&str]| {
        let mut command = vec!["exec", node, "ctr", "-n", "k8s.io"];
        command.extend(args);
        command.iter().map(|word| word.to_string()).collect::<Vec<_>>()
    };
    let run = |args: Vec<String>| async move { docker::run(&args.iter().map(String::as_str).collect::<Vec<_>>()).await.ok() };
    let filter = format!("name=={reference}");
    let Some(listed) = run(ctr(&["images", "ls", &filter])).await else { return false };
    // REF TYPE DIGEST SIZE PLATFORMS LABELS: the digest of its manifest (or index).
    let Some(target) = listed.lines().nth(1).and_then(|line| line.split_whitespace().nth(2)).map(str::to_string) else { return false };
    if target == id {
        return true;
    }
    let mut pending = vec![target];
    // An index names manifests, a manifest its config; a few levels at most.
    for _ in 0..3 {
        let mut next = Vec::new();
        for digest in pending {
            let Some(text) = run(ctr(&["content", "get", &digest])).await else { continue };
            let Ok(document) = serde_json::from_str::<serde_json::Value>(&text) else { continue };
            if document["config"]["digest"].as_str() == Some(id) {
                return true;
            }
            next.extend(document["manifests"].as_array().into_iter().flatten().filter_map(|manifest| manifest["digest"].as_str().map(str::to_string)));
        }
        pending = next;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_named_as_containerd_names_them() {
        assert_eq!(normalized("busybox"), "docker.io/library/busybox:latest");
        assert_eq!(normalized("nginx:1.27"), "docker.io/library/nginx:1.27");
        assert_eq!(normalized("me/app"), "docker.io/me/app:latest");
        assert_eq!(normalized("localhost/busybox:local"), "localhost/busybox:local");
        assert_eq!(normalized("localhost:5001/app"), "localhost:5001/app:latest");
        assert_eq!(normalized("registry.k8s.io/pause:3.10"), "registry.k8s.io/pause:3.10");
        assert_eq!(normalized("localhost"), "docker.io/library/localhost:latest", "a bare name is an image name, whatever it is");
        assert_eq!(normalized("app@sha256:abc"), "docker.io/library/app@sha256:abc");
    }
}
