//! The node's half of the built-in local-path provisioner: the controller-manager makes a
//! PersistentVolume per claim (a directory under `--local-path-root` on one node) and deletes it
//! when its claim goes; the directory can only be removed here, on that node. A deleted volume
//! keeps the provisioner's finalizer (`external-provisioner.volume.kubernetes.io/finalizer`)
//! until this kubelet has removed its directory, then the kubelet removes the finalizer.
//!
//! Nothing outside the root is ever touched: the path must be strictly inside it (read
//! lexically), no directory between the root and it may be a link, and the removal follows no
//! link.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use common::storage::{HOSTNAME_LABEL, LOCAL_PATH_PROVISIONER, PROVISIONED_BY, PV_DELETION, PV_PROTECTION, within_root};
use futures::StreamExt;
use k8s_openapi::api::core::v1::PersistentVolume;
use kube::api::Api;
use kube::runtime::{WatchStreamExt, watcher};
use tracing::Instrument;

use crate::Kubelet;

/// Volumes whose directory or finalizer could not be removed are tried again this often.
const RETRY: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum LocalPathError {
    #[error("cannot remove the directory {path} of volume {volume}: {source}")]
    Remove { volume: String, path: PathBuf, source: std::io::Error },
    #[error("cannot remove the finalizer of volume {volume}: {source}")]
    Finalizer { volume: String, source: kube::Error },
    #[error("cannot build the request for volume {volume}: {message}")]
    Request { volume: String, message: String },
}

/// What the kubelet does for a deleted volume of its node.
#[derive(Debug, PartialEq)]
enum Action {
    /// Reclaim policy Delete: the directory goes, then the finalizer.
    RemoveDirectory(PathBuf),
    /// Retain (or Recycle, which nothing here does): the data stays, the object may go.
    KeepData,
}

pub async fn run(kubelet: Arc<Kubelet>) {
    let volumes: Api<PersistentVolume> = Api::all(kubelet.client.clone());
    let mut events = watcher::watcher(volumes, watcher::Config::default()).default_backoff().boxed();
    let mut known: HashMap<String, PersistentVolume> = HashMap::new();
    let mut listing: HashMap<String, PersistentVolume> = HashMap::new();
    let mut retry = tokio::time::interval(RETRY);
    retry.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            event = events.next() => {
                let Some(event) = event else { return };
                match event {
                    Ok(watcher::Event::Init) => listing.clear(),
                    Ok(watcher::Event::InitApply(volume)) => {
                        listing.insert(volume.metadata.name.clone().unwrap_or_default(), volume);
                    }
                    Ok(watcher::Event::InitDone) => {
                        known = std::mem::take(&mut listing);
                        for volume in known.values() {
                            handle(&kubelet, volume).await;
                        }
                    }
                    Ok(watcher::Event::Apply(volume)) => {
                        handle(&kubelet, &volume).await;
                        known.insert(volume.metadata.name.clone().unwrap_or_default(), volume);
                    }
                    Ok(watcher::Event::Delete(volume)) => {
                        known.remove(volume.metadata.name.as_deref().unwrap_or_default());
                    }
                    Err(err) => tracing::warn!(node = %kubelet.node_name, "PersistentVolume watch failed, retrying: {err}"),
                }
            }
            _ = retry.tick() => {
                // Level-triggered: whatever is still waiting for this node is looked at again.
                for volume in known.values() {
                    handle(&kubelet, volume).await;
                }
            }
        }
    }
}

async fn handle(kubelet: &Kubelet, volume: &PersistentVolume) {
    let root = kubelet.config.local_path_root.clone();
    let Some(action) = action(volume, &kubelet.node_name, &root) else { return };
    let name = volume.metadata.name.clone().unwrap_or_default();
    let span = tracing::info_span!("local-path volume", name = %name, node = %kubelet.node_name);
    async {
        match reclaim(kubelet, volume, action, root).await {
            Ok(()) => tracing::info!("volume reclaimed; its finalizer is removed"),
            // Another writer changed the finalizers first: the watch brings the newer copy.
            Err(LocalPathError::Finalizer { source: kube::Error::Api(status), .. }) if matches!(status.code, 404 | 409 | 422) => {
                tracing::debug!("finalizers changed meanwhile: {}", status.message);
            }
            Err(err) => tracing::warn!("{err}"),
        }
    }
    .instrument(span)
    .await;
}

async fn reclaim(kubelet: &Kubelet, volume: &PersistentVolume, action: Action, root: PathBuf) -> Result<(), LocalPathError> {
    let name = volume.metadata.name.clone().unwrap_or_default();
    if let Action::RemoveDirectory(path) = action {
        let target = path.clone();
        let removed = tokio::task::spawn_blocking(move || remove_volume_dir(&root, &target))
            .await
            .unwrap_or_else(|err| Err(std::io::Error::other(err.to_string())));
        removed.map_err(|source| LocalPathError::Remove { volume: name.clone(), path: path.clone(), source })?;
        tracing::info!(path = %path.display(), "removed the volume's directory");
    }
    let finalizers = volume.metadata.finalizers.clone().unwrap_or_default();
    let remaining: Vec<&String> = finalizers.iter().filter(|finalizer| finalizer.as_str() != PV_DELETION).collect();
    // The list is tested first, so that a finalizer someone added meanwhile is never dropped.
    let patch = serde_json::json!([
        {"op": "test", "path": "/metadata/finalizers", "value": finalizers},
        {"op": "replace", "path": "/metadata/finalizers", "value": remaining},
    ]);
    let request_error = |message: String| LocalPathError::Request { volume: name.clone(), message };
    let body = serde_json::to_vec(&patch).map_err(|err| request_error(err.to_string()))?;
    let request = http::Request::patch(format!("/api/v1/persistentvolumes/{name}"))
        .header(http::header::CONTENT_TYPE, "application/json-patch+json")
        .body(body)
        .map_err(|err| request_error(err.to_string()))?;
    kubelet.client.request::<PersistentVolume>(request).await.map_err(|source| LocalPathError::Finalizer { volume: name.clone(), source })?;
    Ok(())
}

/// What to do for a volume, if it is this node's to reclaim: being deleted, holding the
/// provisioner's finalizer, made by the local-path provisioner, on this node (hostname affinity),
/// no longer bound (the pv-protection finalizer is gone), with a hostPath inside the root.
fn action(volume: &PersistentVolume, node: &str, root: &Path) -> Option<Action> {
    let metadata = &volume.metadata;
    metadata.deletion_timestamp.as_ref()?;
    let finalizers = metadata.finalizers.as_deref().unwrap_or_default();
    if !finalizers.iter().any(|finalizer| finalizer == PV_DELETION) || finalizers.iter().any(|finalizer| finalizer == PV_PROTECTION) {
        return None;
    }
    if metadata.annotations.as_ref().and_then(|annotations| annotations.get(PROVISIONED_BY)).map(String::as_str) != Some(LOCAL_PATH_PROVISIONER) {
        return None;
    }
    if volume.status.as_ref().and_then(|status| status.phase.as_deref()) == Some("Bound") {
        return None;
    }
    let spec = volume.spec.as_ref()?;
    let terms = &spec.node_affinity.as_ref()?.required.as_ref()?.node_selector_terms;
    let names_node = terms.iter().flat_map(|term| term.match_expressions.iter().flatten()).any(|requirement| {
        requirement.key == HOSTNAME_LABEL && requirement.operator == "In" && requirement.values.iter().flatten().any(|value| value == node)
    });
    if !names_node {
        return None;
    }
    let path = PathBuf::from(&spec.host_path.as_ref()?.path);
    if !within_root(root, &path) {
        return None;
    }
    match spec.persistent_volume_reclaim_policy.as_deref().unwrap_or("Delete") {
        "Delete" => Some(Action::RemoveDirectory(path)),
        _ => Some(Action::KeepData),
    }
}

/// Removes `path` (strictly inside `root`) without following a link out: every directory
/// between the root and it must be a real directory, a link at `path` itself is removed as a
/// link, and `remove_dir_all` does not descend into links. Already gone is done.
fn remove_volume_dir(root: &Path, path: &Path) -> std::io::Result<()> {
    if !within_root(root, path) {
        return Err(std::io::Error::other(format!("{} is not inside {}", path.display(), root.display())));
    }
    let Ok(relative) = path.strip_prefix(root) else {
        return Err(std::io::Error::other(format!("{} is not inside {}", path.display(), root.display())));
    };
    let mut between = root.to_path_buf();
    let parts: Vec<_> = relative.components().collect();
    for part in parts.iter().take(parts.len().saturating_sub(1)) {
        between.push(part);
        match std::fs::symlink_metadata(&between) {
            Ok(metadata) if metadata.file_type().is_symlink() || !metadata.is_dir() => {
                return Err(std::io::Error::other(format!("{} is not a directory; not following it", between.display())));
            }
            Ok(_) => {}
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(err) => return Err(err),
        }
    }
    match std::fs::symlink_metadata(path) {
        Ok(metadata) if metadata.is_dir() => std::fs::remove_dir_all(path),
        Ok(_) => std::fs::remove_file(path),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(err) => Err(err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ROOT: &str = "/var/local-path-provisioner";

    fn volume(changes: impl FnOnce(&mut serde_json::Value)) -> PersistentVolume {
        let mut value = json!({
            "metadata": {
                "name": "pvc-1",
                "deletionTimestamp": "2024-01-01T00:00:00Z",
                "finalizers": [PV_DELETION],
                "annotations": {PROVISIONED_BY: LOCAL_PATH_PROVISIONER},
            },
            "spec": {
                "hostPath": {"path": format!("{ROOT}/pvc-1_default_data"), "type": "DirectoryOrCreate"},
                "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [{"key": HOSTNAME_LABEL, "operator": "In", "values": ["node-a"]}]}]}},
                "persistentVolumeReclaimPolicy": "Delete",
            },
            "status": {"phase": "Released"},
        });
        changes(&mut value);
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn only_this_nodes_deleted_local_path_volumes_inside_the_root_are_reclaimed() {
        let root = Path::new(ROOT);
        let dir = PathBuf::from(format!("{ROOT}/pvc-1_default_data"));
        assert_eq!(action(&volume(|_| {}), "node-a", root), Some(Action::RemoveDirectory(dir)));
        assert_eq!(action(&volume(|v| v["spec"]["persistentVolumeReclaimPolicy"] = json!("Retain")), "node-a", root), Some(Action::KeepData));
        let refused: Vec<(&str, PersistentVolume)> = vec![
            ("another node", volume(|_| {})),
            ("not being deleted", volume(|v| {
                v["metadata"].as_object_mut().unwrap().remove("deletionTimestamp");
            })),
            ("without the finalizer", volume(|v| v["metadata"]["finalizers"] = json!([]))),
            ("still protected", volume(|v| v["metadata"]["finalizers"] = json!([PV_DELETION, PV_PROTECTION]))),
            ("still bound", volume(|v| v["status"]["phase"] = json!("Bound"))),
            ("another provisioner", volume(|v| v["metadata"]["annotations"][PROVISIONED_BY] = json!("example.com/nfs"))),
            ("no affinity", volume(|v| {
                v["spec"].as_object_mut().unwrap().remove("nodeAffinity");
            })),
            ("NotIn", volume(|v| v["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"][0]["matchExpressions"][0]["operator"] = json!("NotIn"))),
            ("another label", volume(|v| v["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"][0]["matchExpressions"][0]["key"] = json!("zone"))),
            ("outside the root", volume(|v| v["spec"]["hostPath"]["path"] = json!("/var/lib/data"))),
            ("the root itself", volume(|v| v["spec"]["hostPath"]["path"] = json!(ROOT))),
            ("climbing out", volume(|v| v["spec"]["hostPath"]["path"] = json!(format!("{ROOT}/../etc")))),
            ("relative", volume(|v| v["spec"]["hostPath"]["path"] = json!("var/local-path-provisioner/x"))),
            ("a local volume", volume(|v| {
                v["spec"].as_object_mut().unwrap().remove("hostPath");
                v["spec"]["local"] = json!({"path": format!("{ROOT}/x")});
            })),
        ];
        for (index, (why, volume)) in refused.into_iter().enumerate() {
            let node = if index == 0 { "node-b" } else { "node-a" };
            assert_eq!(action(&volume, node, root), None, "{why}");
        }
    }

    #[test]
    fn removal_stays_inside_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        let outside = dir.path().join("outside");
        std::fs::create_dir_all(root.join("pvc-1_default_data/nested")).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(outside.join("keep"), "x").unwrap();
        // A link inside the volume's directory is removed, not what it points at.
        std::os::unix::fs::symlink(&outside, root.join("pvc-1_default_data/nested/link")).unwrap();
        remove_volume_dir(&root, &root.join("pvc-1_default_data")).unwrap();
        assert!(!root.join("pvc-1_default_data").exists());
        assert!(outside.join("keep").exists());
        assert!(root.exists(), "the root stays");
        remove_volume_dir(&root, &root.join("pvc-1_default_data")).unwrap();

        // The volume's path itself a link: only the link goes.
        std::os::unix::fs::symlink(&outside, root.join("pvc-2_default_data")).unwrap();
        remove_volume_dir(&root, &root.join("pvc-2_default_data")).unwrap();
        assert!(std::fs::symlink_metadata(root.join("pvc-2_default_data")).is_err());
        assert!(outside.join("keep").exists());

        // A link between the root and the path is never followed.
        std::os::unix::fs::symlink(&outside, root.join("hop")).unwrap();
        assert!(remove_volume_dir(&root, &root.join("hop/keep")).is_err());
        assert!(outside.join("keep").exists());

        // Nothing outside, nor the root itself.
        assert!(remove_volume_dir(&root, &outside).is_err());
        assert!(remove_volume_dir(&root, &root).is_err());
        assert!(remove_volume_dir(&root, &root.join("../outside")).is_err());
        assert!(outside.join("keep").exists() && root.exists());
    }
}
