//! The node's half of the built-in local-path provisioner: the controller-manager makes a
//! PersistentVolume per claim (a directory under `LOCAL_PATH_ROOT` on one node) and deletes it
//! when its claim goes; the directory can only be removed here, on that node. A deleted volume
//! keeps the provisioner's finalizer (`external-provisioner.volume.kubernetes.io/finalizer`)
//! until this kubelet has removed its directory, then the kubelet removes the finalizer.
//!
//! Only a volume's own directory is ever removed: its hostPath must be exactly
//! `<root>/<volume>_<namespace>_<claim>` for its own name and claimRef, so no volume object can
//! name another's data. The removal walks file descriptors opened without following links, from
//! `/` down, and stops at other mounts. A volume that cannot be reclaimed keeps its finalizer
//! and gets a Warning `VolumeFailedDelete`, as an external provisioner whose Delete fails.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::storage::{LOCAL_PATH_PROVISIONER, LOCAL_PATH_ROOT, PROVISIONED_BY, PV_DELETION, PV_PROTECTION, local_path_dir, local_path_owns, local_volume_nodes, within_root};
use futures::StreamExt;
use k8s_openapi::api::core::v1::PersistentVolume;
use kube::api::Api;
use kube::runtime::{WatchStreamExt, watcher};
use rustix::fs::{AtFlags, Mode, OFlags, StatxAttributes, StatxFlags};
use tracing::Instrument;

use crate::Kubelet;

/// Volumes whose directory or finalizer could not be removed are tried again this often.
const RETRY: Duration = Duration::from_secs(10);
/// A volume that cannot be reclaimed is warned about at most this often (the retries go on).
const WARN_AGAIN: Duration = Duration::from_secs(300);

#[derive(Debug, thiserror::Error)]
pub enum LocalPathError {
    #[error("failed to delete volume {volume}: cannot remove its directory {}: {source}", path.display())]
    Remove { volume: String, path: PathBuf, source: std::io::Error },
    #[error("failed to delete volume {volume}: {reason}; nothing was removed, and the finalizer stays until the volume's path is its own directory or the finalizer is removed by hand")]
    Refused { volume: String, reason: String },
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
    /// Delete, but removing the path could touch data that is not this volume's: nothing is
    /// removed and the finalizer stays. As an external provisioner whose Delete fails, the
    /// kubelet says so with a Warning `VolumeFailedDelete` on the volume and keeps trying (an
    /// administrator who wants the object gone removes the finalizer).
    Refuse(String),
}

pub async fn run(kubelet: Arc<Kubelet>) {
    let volumes: Api<PersistentVolume> = Api::all(kubelet.client.clone());
    let mut events = watcher::watcher(volumes, watcher::Config::default()).default_backoff().boxed();
    let mut known: HashMap<String, PersistentVolume> = HashMap::new();
    let mut listing: HashMap<String, PersistentVolume> = HashMap::new();
    let mut warned = Warned::new();
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
                            handle(&kubelet, volume, &mut warned).await;
                        }
                    }
                    Ok(watcher::Event::Apply(volume)) => {
                        handle(&kubelet, &volume, &mut warned).await;
                        known.insert(volume.metadata.name.clone().unwrap_or_default(), volume);
                    }
                    Ok(watcher::Event::Delete(volume)) => {
                        known.remove(volume.metadata.name.as_deref().unwrap_or_default());
                        warned.remove(volume.metadata.uid.as_deref().unwrap_or_default());
                    }
                    Err(err) => tracing::warn!(node = %kubelet.node_name, "PersistentVolume watch failed, retrying: {err}"),
                }
            }
            _ = retry.tick() => {
                // Level-triggered: whatever is still waiting for this node is looked at again.
                for volume in known.values() {
                    handle(&kubelet, volume, &mut warned).await;
                }
            }
        }
    }
}

/// When each volume (by uid) that cannot be reclaimed was last warned about.
type Warned = HashMap<String, Instant>;

async fn handle(kubelet: &Kubelet, volume: &PersistentVolume, warned: &mut Warned) {
    // The provisioner writes every path under this constant; one root on both sides, so a
    // volume is never left Terminating because the two disagree.
    let root = PathBuf::from(LOCAL_PATH_ROOT);
    let Some(action) = action(volume, &kubelet.node_name, &root) else { return };
    let name = volume.metadata.name.clone().unwrap_or_default();
    let span = tracing::info_span!("local-path volume", name = %name, node = %kubelet.node_name);
    async {
        let failure = match reclaim(kubelet, volume, action, root).await {
            Ok(()) => {
                tracing::info!("volume reclaimed; its finalizer is removed");
                None
            }
            // Another writer changed the finalizers first: the watch brings the newer copy.
            Err(LocalPathError::Finalizer { source: kube::Error::Api(status), .. }) if matches!(status.code, 404 | 409 | 422) => {
                tracing::debug!("finalizers changed meanwhile: {}", status.message);
                None
            }
            Err(err @ (LocalPathError::Remove { .. } | LocalPathError::Refused { .. })) => Some(err),
            Err(err) => {
                tracing::warn!("{err}");
                None
            }
        };
        if let Some(err) = failure {
            tracing::warn!("{err}");
            warn(kubelet, volume, &err.to_string(), warned).await;
        } else {
            warned.remove(volume.metadata.uid.as_deref().unwrap_or_default());
        }
    }
    .instrument(span)
    .await;
}

/// A Warning `VolumeFailedDelete` on the volume (the external provisioner's reason when its
/// Delete fails), at most every `WARN_AGAIN` for the same volume.
async fn warn(kubelet: &Kubelet, volume: &PersistentVolume, message: &str, warned: &mut Warned) {
    let uid = volume.metadata.uid.clone().unwrap_or_default();
    if warned.get(&uid).is_some_and(|at| at.elapsed() < WARN_AGAIN) {
        return;
    }
    warned.insert(uid, Instant::now());
    let reference = common::events::reference(volume);
    if let Err(err) = kubelet.recorder.record(&reference, "Warning", "VolumeFailedDelete", "Delete", message).await {
        tracing::debug!("cannot record the event: {err}");
    }
}

async fn reclaim(kubelet: &Kubelet, volume: &PersistentVolume, action: Action, root: PathBuf) -> Result<(), LocalPathError> {
    let name = volume.metadata.name.clone().unwrap_or_default();
    match action {
        Action::RemoveDirectory(path) => {
            let target = path.clone();
            let removed = tokio::task::spawn_blocking(move || remove_volume_dir(&root, &target))
                .await
                .unwrap_or_else(|err| Err(std::io::Error::other(err.to_string())));
            removed.map_err(|source| LocalPathError::Remove { volume: name.clone(), path: path.clone(), source })?;
            tracing::info!(path = %path.display(), "removed the volume's directory");
        }
        Action::Refuse(reason) => return Err(LocalPathError::Refused { volume: name, reason }),
        Action::KeepData => {}
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
/// no longer bound (the pv-protection finalizer is gone). With reclaim policy Delete its hostPath
/// must be exactly its own directory (`<root>/<volume>_<namespace>_<claim>`): a copy of another
/// volume's object (same annotation, finalizer and path) must never remove that volume's data.
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
    if !local_volume_nodes(volume).contains(&node) {
        return None;
    }
    let spec = volume.spec.as_ref()?;
    match spec.persistent_volume_reclaim_policy.as_deref().unwrap_or("Delete") {
        "Delete" => Some(match own_directory(volume, root) {
            Ok(path) => Action::RemoveDirectory(path),
            Err(why) => Action::Refuse(why),
        }),
        _ => Some(Action::KeepData),
    }
}

/// The volume's hostPath when it is exactly the directory the provisioner gives this volume
/// (`common::storage::local_path_owns`), else why not, for the Warning.
fn own_directory(volume: &PersistentVolume, root: &Path) -> Result<PathBuf, String> {
    let spec = volume.spec.as_ref().ok_or("it has no spec")?;
    let path = PathBuf::from(&spec.host_path.as_ref().ok_or("it has no hostPath")?.path);
    if local_path_owns(root, volume) {
        return Ok(path);
    }
    let reference = spec.claim_ref.as_ref().ok_or("it has no claimRef, so its directory is not known")?;
    if !within_root(root, &path) {
        return Err(format!("its path {} is outside {}", path.display(), root.display()));
    }
    let name = volume.metadata.name.as_deref().unwrap_or_default();
    match local_path_dir(root, name, reference.namespace.as_deref().unwrap_or_default(), reference.name.as_deref().unwrap_or_default()) {
        Some(expected) => Err(format!("its path {} is not its own directory {}", path.display(), expected.display())),
        None => Err(format!("its path {} is not its own directory", path.display())),
    }
}

/// Removes `path`, a directory directly inside `root`, without following a link and without
/// crossing into another mount. Every step goes through a file descriptor opened with
/// `O_NOFOLLOW` from the one before (from `/` down to the root, then the volume's directory,
/// then each directory under it), so a component swapped for a link meanwhile is never
/// followed; a link (or file) in the volume's place is removed as itself. A directory on
/// another device, or the root of a mount, is left alone and reported. Already gone is done.
fn remove_volume_dir(root: &Path, path: &Path) -> std::io::Result<()> {
    let refuse = || std::io::Error::other(format!("{} is not a directory directly inside {}", path.display(), root.display()));
    if !within_root(root, path) || path.parent() != Some(root) {
        return Err(refuse());
    }
    let Some(leaf) = path.file_name() else { return Err(refuse()) };
    let root_dir = open_without_links(root)?;
    let device = rustix::fs::fstat(&root_dir)?.st_dev;
    let dir = match open_directory(&root_dir, leaf) {
        Ok(dir) => dir,
        Err(rustix::io::Errno::NOENT) => return Ok(()),
        // A link, or anything but a directory, where the volume's directory should be: only it goes.
        Err(rustix::io::Errno::LOOP | rustix::io::Errno::NOTDIR) => return ignore_gone(rustix::fs::unlinkat(&root_dir, leaf, AtFlags::empty())),
        Err(err) => return Err(err.into()),
    };
    if is_other_mount(&dir, device)? {
        return Err(std::io::Error::other(format!("{} is a mount point; not removing across it", path.display())));
    }
    empty_directory(&dir, device, path)?;
    drop(dir);
    ignore_gone(rustix::fs::unlinkat(&root_dir, leaf, AtFlags::REMOVEDIR))
}

fn ignore_gone(result: rustix::io::Result<()>) -> std::io::Result<()> {
    match result {
        Ok(()) | Err(rustix::io::Errno::NOENT) => Ok(()),
        Err(err) => Err(err.into()),
    }
}

fn open_directory<Fd: AsFd>(parent: Fd, name: &OsStr) -> rustix::io::Result<OwnedFd> {
    rustix::fs::openat(parent, name, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC, Mode::empty())
}

/// The directory at `path` (absolute), opened one component at a time from `/` so that none of
/// them is a link: checked at the moment of removal, not earlier.
fn open_without_links(path: &Path) -> std::io::Result<OwnedFd> {
    let mut current = rustix::fs::open("/", OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())?;
    for part in path.components() {
        match part {
            Component::RootDir => {}
            Component::Normal(name) => {
                current = open_directory(&current, name).map_err(|err| std::io::Error::other(format!("{} (at {:?}): {err}", path.display(), name)))?;
            }
            _ => return Err(std::io::Error::other(format!("{} is not a plain absolute path", path.display()))),
        }
    }
    Ok(current)
}

/// Whether the open directory is on another device than `device`, or the root of a mount (a
/// bind mount of the same filesystem keeps the device; statx tells it apart where the kernel can).
fn is_other_mount(dir: &OwnedFd, device: u64) -> std::io::Result<bool> {
    if rustix::fs::fstat(dir)?.st_dev != device {
        return Ok(true);
    }
    match rustix::fs::statx(dir, "", AtFlags::EMPTY_PATH, StatxFlags::BASIC_STATS) {
        Ok(status) => Ok(status.stx_attributes_mask.contains(StatxAttributes::MOUNT_ROOT) && status.stx_attributes.contains(StatxAttributes::MOUNT_ROOT)),
        Err(_) => Ok(false),
    }
}

/// Removes everything inside the open directory `dir` (at `path`, for messages), depth first,
/// never following a link and never entering another mount (those are left and reported).
fn empty_directory(dir: &OwnedFd, device: u64, path: &Path) -> std::io::Result<()> {
    let mut names: Vec<std::ffi::OsString> = Vec::new();
    for entry in rustix::fs::Dir::read_from(dir)? {
        let entry = entry?;
        let name = OsStr::from_bytes(entry.file_name().to_bytes());
        if name != "." && name != ".." {
            names.push(name.to_os_string());
        }
    }
    let mut left: Option<std::io::Error> = None;
    for name in names {
        match open_directory(dir, &name) {
            Ok(child) => {
                let child_path = path.join(&name);
                if is_other_mount(&child, device)? {
                    left.get_or_insert_with(|| std::io::Error::other(format!("{} is a mount point; not removing across it", child_path.display())));
                    continue;
                }
                if let Err(err) = empty_directory(&child, device, &child_path) {
                    left.get_or_insert(err);
                    continue;
                }
                drop(child);
                ignore_gone(rustix::fs::unlinkat(dir, &name, AtFlags::REMOVEDIR))?;
            }
            Err(rustix::io::Errno::LOOP | rustix::io::Errno::NOTDIR) => ignore_gone(rustix::fs::unlinkat(dir, &name, AtFlags::empty()))?,
            Err(rustix::io::Errno::NOENT) => {}
            Err(err) => return Err(err.into()),
        }
    }
    left.map_or(Ok(()), Err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use common::storage::HOSTNAME_LABEL;
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
                "claimRef": {"namespace": "default", "name": "data", "uid": "claim-uid"},
            },
            "status": {"phase": "Released"},
        });
        changes(&mut value);
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn only_this_nodes_deleted_local_path_volumes_are_reclaimed() {
        let root = Path::new(ROOT);
        let dir = PathBuf::from(format!("{ROOT}/pvc-1_default_data"));
        assert_eq!(action(&volume(|_| {}), "node-a", root), Some(Action::RemoveDirectory(dir)));
        assert_eq!(action(&volume(|v| v["spec"]["persistentVolumeReclaimPolicy"] = json!("Retain")), "node-a", root), Some(Action::KeepData));
        let ignored: Vec<(&str, PersistentVolume)> = vec![
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
        ];
        for (index, (why, volume)) in ignored.into_iter().enumerate() {
            let node = if index == 0 { "node-b" } else { "node-a" };
            assert_eq!(action(&volume, node, root), None, "{why}");
        }
        // This node's to reclaim, but the path is not the volume's own directory: nothing is
        // removed, and the kubelet says why.
        let refused: Vec<(&str, PersistentVolume, &str)> = vec![
            ("another volume's directory (a copied object)", volume(|v| v["spec"]["hostPath"]["path"] = json!(format!("{ROOT}/pvc-0_default_data"))), "is not its own directory"),
            ("another claim's name", volume(|v| v["spec"]["claimRef"]["name"] = json!("other")), "is not its own directory"),
            ("below its directory", volume(|v| v["spec"]["hostPath"]["path"] = json!(format!("{ROOT}/pvc-1_default_data/sub"))), "is not its own directory"),
            ("outside the root", volume(|v| v["spec"]["hostPath"]["path"] = json!("/var/lib/data")), "is outside"),
            ("the root itself", volume(|v| v["spec"]["hostPath"]["path"] = json!(ROOT)), "is outside"),
            ("climbing out", volume(|v| v["spec"]["hostPath"]["path"] = json!(format!("{ROOT}/../etc"))), "is outside"),
            ("relative", volume(|v| v["spec"]["hostPath"]["path"] = json!("var/local-path-provisioner/pvc-1_default_data")), "is outside"),
            ("no claimRef", volume(|v| {
                v["spec"].as_object_mut().unwrap().remove("claimRef");
            }), "no claimRef"),
            ("a local volume", volume(|v| {
                v["spec"].as_object_mut().unwrap().remove("hostPath");
                v["spec"]["local"] = json!({"path": format!("{ROOT}/pvc-1_default_data")});
            }), "no hostPath"),
        ];
        for (why, volume, says) in refused {
            match action(&volume, "node-a", root) {
                Some(Action::Refuse(reason)) => assert!(reason.contains(says), "{why}: {reason}"),
                other => panic!("{why}: {other:?}"),
            }
        }
    }

    #[test]
    fn removal_stays_inside_the_volumes_directory() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        let outside = dir.path().join("outside");
        std::fs::create_dir_all(root.join("pvc-1_default_data/nested/deeper")).unwrap();
        std::fs::write(root.join("pvc-1_default_data/nested/deeper/file"), "x").unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(outside.join("keep"), "x").unwrap();
        // Links inside the volume's directory are removed, not what they point at.
        std::os::unix::fs::symlink(&outside, root.join("pvc-1_default_data/nested/link")).unwrap();
        std::os::unix::fs::symlink(outside.join("keep"), root.join("pvc-1_default_data/file-link")).unwrap();
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

        // Only a directory directly inside the root: never a deeper one, nor through a link.
        std::fs::create_dir_all(root.join("pvc-3_default_data/sub")).unwrap();
        assert!(remove_volume_dir(&root, &root.join("pvc-3_default_data/sub")).is_err());
        assert!(root.join("pvc-3_default_data/sub").exists());
        std::os::unix::fs::symlink(&outside, root.join("hop")).unwrap();
        assert!(remove_volume_dir(&root, &root.join("hop/keep")).is_err());
        assert!(outside.join("keep").exists());

        // A root reached through a link is refused: no component may be one.
        let linked_root = dir.path().join("linked-root");
        std::os::unix::fs::symlink(&root, &linked_root).unwrap();
        assert!(remove_volume_dir(&linked_root, &linked_root.join("pvc-3_default_data")).is_err());
        assert!(root.join("pvc-3_default_data/sub").exists());

        // Nothing outside, nor the root itself.
        assert!(remove_volume_dir(&root, &outside).is_err());
        assert!(remove_volume_dir(&root, &root).is_err());
        assert!(remove_volume_dir(&root, &root.join("../outside")).is_err());
        assert!(outside.join("keep").exists() && root.exists());
    }

    #[test]
    fn removal_does_not_cross_into_another_mount() {
        // Mounting needs privileges; where there are none, there is nothing to show.
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        let volume_dir = root.join("pvc-1_default_data");
        let mount_point = volume_dir.join("mounted");
        std::fs::create_dir_all(&mount_point).unwrap();
        std::fs::write(volume_dir.join("own"), "x").unwrap();
        let status = std::process::Command::new("mount").args(["-t", "tmpfs", "tmpfs"]).arg(&mount_point).status();
        if !status.is_ok_and(|status| status.success()) {
            eprintln!("cannot mount a tmpfs here; skipped");
            return;
        }
        std::fs::write(mount_point.join("theirs"), "x").unwrap();
        let result = remove_volume_dir(&root, &volume_dir);
        let kept = mount_point.join("theirs").exists();
        let _ = std::process::Command::new("umount").arg(&mount_point).status();
        assert!(result.unwrap_err().to_string().contains("mount point"));
        assert!(kept, "the other mount's content stays");
        assert!(!volume_dir.join("own").exists(), "the volume's own files go");
    }
}
