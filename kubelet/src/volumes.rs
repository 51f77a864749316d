//! Pod volumes on the node: each under `<root>/pods/<uid>/volumes/<plugin>/<name>`, then bind
//! mounted into containers by the runtime. ConfigMap, Secret, downward API and projected volumes
//! are written the way the kubelet's atomic writer does (files behind a `..data` symlink that is
//! swapped in one rename), so that a container never reads half an update.

use std::collections::{BTreeMap, HashMap};
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};

use k8s_openapi::api::core::v1::{Container, DownwardAPIVolumeFile, KeyToPath, Pod};

use crate::cri::api;
use crate::env::{ConfigError, Host, SourceKind, Sources};

#[derive(Debug, thiserror::Error)]
pub enum VolumeError {
    #[error("MountVolume.SetUp failed for volume \"{volume}\" : {source}")]
    Source { volume: String, source: ConfigError },
    #[error("MountVolume.SetUp failed for volume \"{volume}\" : {message}")]
    SetUp { volume: String, message: String },
}

/// A prepared volume: where it is on the node, and whether containers only ever read it.
pub struct Prepared {
    path: PathBuf,
    read_only: bool,
}

pub fn pod_dir(root: &Path, uid: &str) -> PathBuf {
    root.join("pods").join(uid)
}

/// Makes every volume of the pod ready on the node (and brings written ones up to date).
pub async fn prepare(root: &Path, pod: &Pod, sources: &mut Sources<'_>, host: &Host<'_>) -> Result<HashMap<String, Prepared>, VolumeError> {
    let uid = pod.metadata.uid.as_deref().unwrap_or_default();
    let base = pod_dir(root, uid).join("volumes");
    let mut prepared = HashMap::new();
    for volume in pod.spec.as_ref().and_then(|spec| spec.volumes.as_ref()).into_iter().flatten() {
        let set_up = |message: String| VolumeError::SetUp { volume: volume.name.clone(), message };
        let from_source = |source| VolumeError::Source { volume: volume.name.clone(), source };
        let volume_dir = |plugin: &str| base.join(plugin).join(&volume.name);
        let entry = if let Some(source) = &volume.empty_dir {
            let dir = volume_dir("kubernetes.io~empty-dir");
            // A Memory medium would be a tmpfs; it is kept on disk here, which only differs in speed
            // and in counting against the node's disk.
            let _ = source.medium;
            create_dir(&dir, 0o777).map_err(|err| set_up(err.to_string()))?;
            Prepared { path: dir, read_only: false }
        } else if let Some(source) = &volume.host_path {
            host_path(&source.path, source.type_.as_deref().unwrap_or_default()).map_err(set_up)?;
            Prepared { path: PathBuf::from(&source.path), read_only: false }
        } else if let Some(source) = &volume.config_map {
            let dir = volume_dir("kubernetes.io~configmap");
            let files = match sources.required(SourceKind::ConfigMap, &source.name, source.optional.unwrap_or(false)).await.map_err(from_source)? {
                Some(data) => project(&data, source.items.as_deref(), source.default_mode, SourceKind::ConfigMap, &source.name, source.optional.unwrap_or(false)).map_err(set_up)?,
                None => BTreeMap::new(),
            };
            write_atomically(&dir, &files).map_err(|err| set_up(err.to_string()))?;
            Prepared { path: dir, read_only: true }
        } else if let Some(source) = &volume.secret {
            let dir = volume_dir("kubernetes.io~secret");
            let name = source.secret_name.clone().unwrap_or_default();
            let files = match sources.required(SourceKind::Secret, &name, source.optional.unwrap_or(false)).await.map_err(from_source)? {
                Some(data) => project(&data, source.items.as_deref(), source.default_mode, SourceKind::Secret, &name, source.optional.unwrap_or(false)).map_err(set_up)?,
                None => BTreeMap::new(),
            };
            write_atomically(&dir, &files).map_err(|err| set_up(err.to_string()))?;
            Prepared { path: dir, read_only: true }
        } else if let Some(source) = &volume.downward_api {
            let dir = volume_dir("kubernetes.io~downward-api");
            let files = downward(pod, host, source.items.as_deref().unwrap_or_default(), source.default_mode).map_err(from_source)?;
            write_atomically(&dir, &files).map_err(|err| set_up(err.to_string()))?;
            Prepared { path: dir, read_only: true }
        } else if let Some(source) = &volume.projected {
            let dir = volume_dir("kubernetes.io~projected");
            let mut files = BTreeMap::new();
            for projection in source.sources.iter().flatten() {
                if let Some(map) = &projection.config_map {
                    let optional = map.optional.unwrap_or(false);
                    if let Some(data) = sources.required(SourceKind::ConfigMap, &map.name, optional).await.map_err(from_source)? {
                        files.extend(project(&data, map.items.as_deref(), source.default_mode, SourceKind::ConfigMap, &map.name, optional).map_err(set_up)?);
                    }
                }
                if let Some(secret) = &projection.secret {
                    let optional = secret.optional.unwrap_or(false);
                    if let Some(data) = sources.required(SourceKind::Secret, &secret.name, optional).await.map_err(from_source)? {
                        files.extend(project(&data, secret.items.as_deref(), source.default_mode, SourceKind::Secret, &secret.name, optional).map_err(set_up)?);
                    }
                }
                if let Some(api) = &projection.downward_api {
                    files.extend(downward(pod, host, api.items.as_deref().unwrap_or_default(), source.default_mode).map_err(from_source)?);
                }
                if let Some(token) = &projection.service_account_token {
                    let path = safe_relative(&token.path).ok_or_else(|| set_up(format!("invalid token path {:?}", token.path)))?;
                    let seconds = token.expiration_seconds.unwrap_or(3600);
                    let value = sources.token(pod, token.audience.as_deref().filter(|audience| !audience.is_empty()), seconds).await.map_err(from_source)?;
                    // Only the pod's user may read its token.
                    files.insert(path, (value.into_bytes(), source.default_mode.map_or(0o600, |mode| mode as u32 & 0o600)));
                }
                if projection.cluster_trust_bundle.is_some() {
                    return Err(set_up("cluster trust bundles are not served yet".into()));
                }
            }
            write_atomically(&dir, &files).map_err(|err| set_up(err.to_string()))?;
            Prepared { path: dir, read_only: true }
        } else {
            return Err(set_up(format!("volume type of {:?} is not supported by this kubelet", volume.name)));
        };
        prepared.insert(volume.name.clone(), entry);
    }
    Ok(prepared)
}

/// The container's volume mounts as the runtime takes them.
pub fn mounts(container: &Container, volumes: &HashMap<String, Prepared>) -> Result<Vec<api::Mount>, String> {
    let mut mounts = Vec::new();
    for mount in container.volume_mounts.iter().flatten() {
        let Some(volume) = volumes.get(&mount.name) else {
            return Err(format!("volume {:?} of mount {:?} is not in the pod", mount.name, mount.mount_path));
        };
        let mut host_path = volume.path.clone();
        if let Some(sub_path) = mount.sub_path.as_deref().filter(|path| !path.is_empty()) {
            let relative = safe_relative(sub_path).ok_or_else(|| format!("subPath {sub_path:?} must be a relative path without '..'"))?;
            host_path = host_path.join(relative);
            if !volume.read_only && std::fs::symlink_metadata(&host_path).is_err() {
                create_dir(&host_path, 0o755).map_err(|err| format!("cannot create subPath {sub_path:?}: {err}"))?;
            }
        }
        let propagation = match mount.mount_propagation.as_deref() {
            Some("HostToContainer") => api::MountPropagation::PropagationHostToContainer,
            Some("Bidirectional") => api::MountPropagation::PropagationBidirectional,
            _ => api::MountPropagation::PropagationPrivate,
        };
        mounts.push(api::Mount {
            container_path: mount.mount_path.clone(),
            host_path: host_path.to_string_lossy().into_owned(),
            readonly: volume.read_only || mount.read_only.unwrap_or(false),
            selinux_relabel: false,
            propagation: propagation as i32,
        });
    }
    Ok(mounts)
}

/// Removes what the kubelet wrote for the pod (host paths are the node's and stay).
pub fn remove(root: &Path, uid: &str) -> std::io::Result<()> {
    match std::fs::remove_dir_all(pod_dir(root, uid)) {
        Err(err) if err.kind() != std::io::ErrorKind::NotFound => Err(err),
        _ => Ok(()),
    }
}

fn host_path(path: &str, kind: &str) -> Result<(), String> {
    let metadata = std::fs::metadata(path);
    let check = |ok: bool, what: &str| if ok { Ok(()) } else { Err(format!("hostPath type check failed: {path} is not a {what}")) };
    match kind {
        "" => Ok(()),
        "DirectoryOrCreate" => match metadata {
            Ok(metadata) => check(metadata.is_dir(), "directory"),
            Err(_) => create_dir(Path::new(path), 0o755).map_err(|err| format!("cannot create {path}: {err}")),
        },
        "FileOrCreate" => match metadata {
            Ok(metadata) => check(metadata.is_file(), "file"),
            Err(_) => {
                if let Some(parent) = Path::new(path).parent() {
                    std::fs::create_dir_all(parent).map_err(|err| format!("cannot create {}: {err}", parent.display()))?;
                }
                std::fs::OpenOptions::new().create(true).append(true).open(path).map(drop).map_err(|err| format!("cannot create {path}: {err}"))
            }
        },
        "Directory" => check(metadata.as_ref().is_ok_and(std::fs::Metadata::is_dir), "directory"),
        "File" => check(metadata.as_ref().is_ok_and(std::fs::Metadata::is_file), "file"),
        "Socket" | "CharDevice" | "BlockDevice" => {
            use std::os::unix::fs::FileTypeExt;
            let file_type = metadata.as_ref().map(std::fs::Metadata::file_type);
            let ok = match kind {
                "Socket" => file_type.is_ok_and(|t| t.is_socket()),
                "CharDevice" => file_type.is_ok_and(|t| t.is_char_device()),
                _ => file_type.is_ok_and(|t| t.is_block_device()),
            };
            check(ok, kind)
        }
        other => Err(format!("unknown hostPath type {other:?}")),
    }
}

/// Keys (or the listed items) of a ConfigMap or Secret as files.
fn project(data: &BTreeMap<String, Vec<u8>>, items: Option<&[KeyToPath]>, default_mode: Option<i32>, kind: SourceKind, name: &str, optional: bool) -> Result<BTreeMap<PathBuf, (Vec<u8>, u32)>, String> {
    let mode = |item_mode: Option<i32>| u32::try_from(item_mode.or(default_mode).unwrap_or(0o644)).unwrap_or(0o644) & 0o777;
    let mut files = BTreeMap::new();
    match items {
        None => {
            for (key, value) in data {
                let path = safe_relative(key).ok_or_else(|| format!("key {key:?} is not a file name"))?;
                files.insert(path, (value.clone(), mode(None)));
            }
        }
        Some(items) => {
            for item in items {
                let Some(value) = data.get(&item.key) else {
                    if optional {
                        continue;
                    }
                    let kind = match kind {
                        SourceKind::ConfigMap => "configmap",
                        SourceKind::Secret => "secret",
                    };
                    return Err(format!("{kind} \"{name}\" has no key {:?}", item.key));
                };
                let path = safe_relative(&item.path).ok_or_else(|| format!("path {:?} must be relative without '..'", item.path))?;
                files.insert(path, (value.clone(), mode(item.mode)));
            }
        }
    }
    Ok(files)
}

fn downward(pod: &Pod, host: &Host<'_>, items: &[DownwardAPIVolumeFile], default_mode: Option<i32>) -> Result<BTreeMap<PathBuf, (Vec<u8>, u32)>, ConfigError> {
    let mut files = BTreeMap::new();
    for item in items {
        let value = if let Some(selector) = &item.field_ref {
            crate::env::field_value(pod, host, selector)?
        } else if let Some(selector) = &item.resource_field_ref {
            crate::env::resource_value(pod, None, host, selector)?
        } else {
            continue;
        };
        let path = safe_relative(&item.path).ok_or_else(|| ConfigError::Unsupported(format!("path {:?} must be relative without '..'", item.path)))?;
        let mode = u32::try_from(item.mode.or(default_mode).unwrap_or(0o644)).unwrap_or(0o644) & 0o777;
        files.insert(path, (value.into_bytes(), mode));
    }
    Ok(files)
}

/// A path that stays inside the directory it is joined to: relative, no `..`, not empty.
fn safe_relative(path: &str) -> Option<PathBuf> {
    let path = Path::new(path);
    let ok = !path.as_os_str().is_empty() && path.components().all(|component| matches!(component, Component::Normal(_)));
    ok.then(|| path.to_path_buf())
}

fn create_dir(path: &Path, mode: u32) -> std::io::Result<()> {
    std::fs::create_dir_all(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

/// Writes `files` under `dir` behind the `..data` symlink; does nothing when they are already
/// what is there.
fn write_atomically(dir: &Path, files: &BTreeMap<PathBuf, (Vec<u8>, u32)>) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let data_link = dir.join("..data");
    let current = std::fs::read_link(&data_link).ok();
    if let Some(current) = &current
        && same_files(&dir.join(current), files) {
            return Ok(());
        }
    let stamp = format!("..{}", jiff::Timestamp::now().as_nanosecond());
    let target = dir.join(&stamp);
    std::fs::create_dir(&target)?;
    for (path, (content, mode)) in files {
        let file = target.join(path);
        if let Some(parent) = file.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&file, content)?;
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(*mode))?;
    }
    let temporary = dir.join("..data_tmp");
    let _ = std::fs::remove_file(&temporary);
    std::os::unix::fs::symlink(&stamp, &temporary)?;
    std::fs::rename(&temporary, &data_link)?;
    // The user-visible names are links through `..data`, so that they switch with it.
    let tops: std::collections::BTreeSet<_> = files.keys().filter_map(|path| path.components().next()).map(|c| c.as_os_str().to_os_string()).collect();
    for top in &tops {
        let link = dir.join(top);
        if std::fs::symlink_metadata(&link).is_err() {
            std::os::unix::fs::symlink(Path::new("..data").join(top), &link)?;
        }
    }
    for entry in std::fs::read_dir(dir)?.flatten() {
        let name = entry.file_name();
        let hidden = name.to_string_lossy().starts_with("..");
        if !hidden && !tops.contains(&name) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
    if let Some(current) = current {
        let _ = std::fs::remove_dir_all(dir.join(current));
    }
    Ok(())
}

fn same_files(dir: &Path, files: &BTreeMap<PathBuf, (Vec<u8>, u32)>) -> bool {
    let mut count = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(next) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&next) else { return false };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            count += 1;
            let Ok(relative) = path.strip_prefix(dir) else { return false };
            let Some((content, mode)) = files.get(relative) else { return false };
            let same_mode = std::fs::metadata(&path).is_ok_and(|m| m.permissions().mode() & 0o777 == *mode);
            if !same_mode || std::fs::read(&path).ok().as_ref() != Some(content) {
                return false;
            }
        }
    }
    count == files.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(pairs: &[(&str, &str)]) -> BTreeMap<PathBuf, (Vec<u8>, u32)> {
        pairs.iter().map(|(path, content)| (PathBuf::from(path), (content.as_bytes().to_vec(), 0o644))).collect()
    }

    #[test]
    fn writes_behind_a_swapped_link_and_drops_removed_keys() {
        let dir = tempfile::tempdir().unwrap();
        write_atomically(dir.path(), &files(&[("a", "1"), ("sub/b", "2")])).unwrap();
        assert_eq!(std::fs::read_to_string(dir.path().join("a")).unwrap(), "1");
        assert_eq!(std::fs::read_to_string(dir.path().join("sub/b")).unwrap(), "2");
        let first = std::fs::read_link(dir.path().join("..data")).unwrap();
        write_atomically(dir.path(), &files(&[("a", "1"), ("sub/b", "2")])).unwrap();
        assert_eq!(std::fs::read_link(dir.path().join("..data")).unwrap(), first, "unchanged files are not rewritten");
        write_atomically(dir.path(), &files(&[("a", "changed")])).unwrap();
        assert_eq!(std::fs::read_to_string(dir.path().join("a")).unwrap(), "changed");
        assert!(std::fs::symlink_metadata(dir.path().join("sub")).is_err(), "a removed key's link goes");
        assert!(!dir.path().join(first).exists(), "the old generation goes");
    }

    #[test]
    fn paths_never_leave_the_volume() {
        assert!(safe_relative("../etc/passwd").is_none());
        assert!(safe_relative("/etc/passwd").is_none());
        assert!(safe_relative("a/../../b").is_none());
        assert!(safe_relative("").is_none());
        assert_eq!(safe_relative("a/b"), Some(PathBuf::from("a/b")));
    }
}
