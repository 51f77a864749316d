//! Pod volumes on the node: each under `<root>/pods/<uid>/volumes/<plugin>/<name>`, then bind
//! mounted into containers by the runtime. ConfigMap, Secret, downward API and projected volumes
//! are written the way the kubelet's atomic writer does (files behind a `..data` symlink that is
//! swapped in one rename), so that a container never reads half an update. A `subPath` is opened
//! without following links and bind mounted from that descriptor under
//! `<root>/pods/<uid>/volume-subpaths/<volume>/<container>/<index>`, as Kubernetes does, so that a
//! container cannot swap a directory for a link between the check and the runtime's mount.

use std::collections::{BTreeMap, HashMap};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use k8s_openapi::api::core::v1::{Container, DownwardAPIVolumeFile, KeyToPath, Pod};
use rustix::fs::OFlags;

use crate::cri::api;
use crate::host_path::{HOST_PATH_DIR_MODE, check_host_path, create_dir};
use crate::env::{ConfigError, Host, SourceKind, Sources};

#[derive(Debug, thiserror::Error)]
pub enum VolumeError {
    #[error("MountVolume.SetUp failed for volume \"{volume}\" : {source}")]
    Source { volume: String, source: ConfigError },
    #[error("MountVolume.SetUp failed for volume \"{volume}\" : {message}")]
    SetUp { volume: String, message: String },
    #[error(transparent)]
    Claim(crate::claims::ClaimError),
    /// Volumes that cannot be processed yet (claims not Bound...), as the kubelet's volume
    /// manager words it: Go's `%v` of sorted name lists, then the errors joined by "; ".
    #[error("Unable to attach or mount volumes: unmounted volumes=[{}], unattached volumes=[], failed to process volumes=[{}]: {message}", unmounted.join(" "), failed.join(" "))]
    Unready { unmounted: Vec<String>, failed: Vec<String>, message: String },
}

/// A prepared volume: where it is on the node, whether containers only ever read it, and
/// whether its content is the kubelet's own (written atomically; nothing is made inside it).
#[derive(Clone, Debug)]
pub struct Prepared {
    path: PathBuf,
    read_only: bool,
    written: bool,
}

impl Prepared {
    pub fn new(path: PathBuf, read_only: bool, written: bool) -> Self {
        Self { path, read_only, written }
    }
}

pub fn pod_dir(root: &Path, uid: &str) -> PathBuf {
    root.join("pods").join(uid)
}

/// Makes every volume of the pod ready on the node (and brings written ones up to date).
/// Claims resolved once stay in `claims` for the pod's life: as in Kubernetes, a running pod
/// keeps its volume even if its claim is later being deleted.
pub async fn prepare(root: &Path, pod: &Pod, sources: &mut Sources<'_>, host: &Host<'_>, client: &kube::Client, claims: &mut HashMap<String, Prepared>) -> Result<HashMap<String, Prepared>, VolumeError> {
    let uid = pod.metadata.uid.as_deref().unwrap_or_default();
    let base = pod_dir(root, uid).join("volumes");
    let mut prepared = HashMap::new();
    // Claims not usable yet: the others are still set up, and all of them are named at once.
    let mut unready: Vec<(String, String)> = Vec::new();
    for volume in pod.spec.as_ref().and_then(|spec| spec.volumes.as_ref()).into_iter().flatten() {
        let set_up = |message: String| VolumeError::SetUp { volume: volume.name.clone(), message };
        let from_source = |source| VolumeError::Source { volume: volume.name.clone(), source };
        let volume_dir = |plugin: &str| base.join(plugin).join(&volume.name);
        let entry = if volume.persistent_volume_claim.is_some() || volume.ephemeral.is_some() {
            if let Some(known) = claims.get(&volume.name) {
                known.clone()
            } else if !crate::claims::used_by_containers(pod, &volume.name) {
                continue;
            } else {
                match crate::claims::resolve(client, pod, volume).await.map(|found| found.map(|found| Prepared::new(found.path, found.read_only, false))) {
                    Ok(Some(entry)) => {
                        tracing::info!(volume = %volume.name, path = %entry.path.display(), "claim's volume ready");
                        claims.insert(volume.name.clone(), entry.clone());
                        entry
                    }
                    Ok(None) => continue,
                    Err(crate::claims::ClaimError::Process(message)) => {
                        unready.push((volume.name.clone(), message));
                        continue;
                    }
                    Err(err) => return Err(VolumeError::Claim(err)),
                }
            }
        } else if let Some(source) = &volume.empty_dir {
            let dir = volume_dir("kubernetes.io~empty-dir");
            // A Memory medium would be a tmpfs; it is kept on disk here, which only differs in speed
            // and in counting against the node's disk.
            let _ = source.medium;
            create_dir(&dir, 0o777).map_err(|err| set_up(err.to_string()))?;
            Prepared { path: dir, read_only: false, written: false }
        } else if let Some(source) = &volume.host_path {
            check_host_path(&source.path, source.type_.as_deref().unwrap_or_default(), HOST_PATH_DIR_MODE).map_err(set_up)?;
            Prepared { path: PathBuf::from(&source.path), read_only: false, written: false }
        } else if let Some(source) = &volume.config_map {
            let dir = volume_dir("kubernetes.io~configmap");
            let files = match sources.required(SourceKind::ConfigMap, &source.name, source.optional.unwrap_or(false)).await.map_err(from_source)? {
                Some(data) => project(&data, source.items.as_deref(), source.default_mode, SourceKind::ConfigMap, &source.name, source.optional.unwrap_or(false)).map_err(set_up)?,
                None => BTreeMap::new(),
            };
            write_atomically(&dir, &files).map_err(|err| set_up(err.to_string()))?;
            Prepared { path: dir, read_only: true, written: true }
        } else if let Some(source) = &volume.secret {
            let dir = volume_dir("kubernetes.io~secret");
            let name = source.secret_name.clone().unwrap_or_default();
            let files = match sources.required(SourceKind::Secret, &name, source.optional.unwrap_or(false)).await.map_err(from_source)? {
                Some(data) => project(&data, source.items.as_deref(), source.default_mode, SourceKind::Secret, &name, source.optional.unwrap_or(false)).map_err(set_up)?,
                None => BTreeMap::new(),
            };
            write_atomically(&dir, &files).map_err(|err| set_up(err.to_string()))?;
            Prepared { path: dir, read_only: true, written: true }
        } else if let Some(source) = &volume.downward_api {
            let dir = volume_dir("kubernetes.io~downward-api");
            let files = downward(pod, host, source.items.as_deref().unwrap_or_default(), source.default_mode).map_err(from_source)?;
            write_atomically(&dir, &files).map_err(|err| set_up(err.to_string()))?;
            Prepared { path: dir, read_only: true, written: true }
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
            Prepared { path: dir, read_only: true, written: true }
        } else {
            return Err(set_up(format!("volume type of {:?} is not supported by this kubelet", volume.name)));
        };
        prepared.insert(volume.name.clone(), entry);
    }
    if !unready.is_empty() {
        unready.sort();
        let names: Vec<String> = unready.iter().map(|(name, _)| name.clone()).collect();
        let message = unready.into_iter().map(|(_, message)| message).collect::<Vec<_>>().join("; ");
        return Err(VolumeError::Unready { unmounted: names.clone(), failed: names, message });
    }
    Ok(prepared)
}

/// The container's volume mounts as the runtime takes them; `env` is the container's
/// environment, which `subPathExpr` is expanded against. A `subPath` is bind mounted under
/// `sub_paths` (the pod's `volume-subpaths`) and the runtime is given that mount point.
pub fn mounts(container: &Container, volumes: &HashMap<String, Prepared>, env: &[(String, String)], sub_paths: &Path) -> Result<Vec<api::Mount>, String> {
    let mut mounts = Vec::new();
    for (index, mount) in container.volume_mounts.iter().flatten().enumerate() {
        let Some(volume) = volumes.get(&mount.name) else {
            return Err(format!("volume {:?} of mount {:?} is not in the pod", mount.name, mount.mount_path));
        };
        let mut host_path = volume.path.clone();
        let sub_path = match mount.sub_path_expr.as_deref().filter(|expression| !expression.is_empty()) {
            Some(expression) => crate::env::expand(expression, env),
            None => mount.sub_path.clone().unwrap_or_default(),
        };
        if !sub_path.is_empty() {
            let opened = open_sub_path(volume, &sub_path, &mount.name, &container.name)?;
            let target = sub_paths.join(&mount.name).join(&container.name).join(index.to_string());
            bind_sub_path(&opened, &target).map_err(|err| {
                tracing::warn!(mount = %mount.name, container = %container.name, "cannot bind subPath {sub_path:?} at {}: {err}", target.display());
                format!("failed to prepare subPath for volumeMount \"{}\" of container \"{}\"", mount.name, container.name)
            })?;
            host_path = target;
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

/// A mount's `subPath` inside its volume, opened (with the kubelet's messages, makeMounts): the
/// details of a refused path are logged, not shown, as they tell of the host's filesystem.
fn open_sub_path(volume: &Prepared, sub_path: &str, mount: &str, container: &str) -> Result<OwnedFd, String> {
    let relative = Path::new(sub_path);
    if relative.is_absolute() {
        return Err(format!("error SubPath `{sub_path}` must not be an absolute path"));
    }
    if relative.components().any(|part| matches!(part, Component::ParentDir)) {
        return Err(format!("unable to provision SubPath `{sub_path}`: must not contain '..'"));
    }
    match resolve_sub_path(&volume.path, relative, !volume.written) {
        Ok(opened) => Ok(opened),
        Err(SubPathError::Create(err)) => {
            tracing::warn!(%mount, %container, "cannot create subPath {sub_path:?} in {}: {err}", volume.path.display());
            Err(format!("failed to create subPath directory for volumeMount \"{mount}\" of container \"{container}\""))
        }
        Err(err) => {
            tracing::warn!(%mount, %container, "subPath {sub_path:?} in {}: {err}", volume.path.display());
            Err(format!("failed to prepare subPath for volumeMount \"{mount}\" of container \"{container}\""))
        }
    }
}

#[derive(Debug, thiserror::Error)]
enum SubPathError {
    #[error("{0} leads outside the volume")]
    Escapes(PathBuf),
    #[error("{0} is not a directory")]
    NotADirectory(PathBuf),
    #[error("{0} does not exist")]
    Missing(PathBuf),
    #[error("cannot create it: {0}")]
    Create(std::io::Error),
    #[error("{0}: {1}")]
    Io(PathBuf, std::io::Error),
}

/// `relative` inside the volume at `base`, resolved one component at a time so that no symbolic
/// link takes it outside (a link that stays inside is followed, as Kubernetes does); missing
/// directories are made (with the volume's own mode) when `create`. Then the resolved place is
/// opened from the volume's root one component at a time with `O_NOFOLLOW`, and directories
/// are made with `mkdirat` on such a descriptor, so a directory swapped for a link after the
/// check is never followed (kube's volume-subpaths: doSafeMakeDir, doSafeOpen). The descriptor
/// is what gets bind mounted, so the runtime follows no path a container could change.
fn resolve_sub_path(base: &Path, relative: &Path, create: bool) -> Result<OwnedFd, SubPathError> {
    // The volume itself may be reached through links (a hostPath): its real place is the bound.
    let base = std::fs::canonicalize(base).map_err(|err| SubPathError::Io(base.to_path_buf(), err))?;
    let parts: Vec<&std::ffi::OsStr> = relative
        .components()
        .filter(|part| !matches!(part, Component::CurDir))
        .map(|part| match part {
            Component::Normal(name) => Ok(name),
            _ => Err(SubPathError::Escapes(relative.to_path_buf())),
        })
        .collect::<Result<_, _>>()?;
    let mode = std::fs::metadata(&base).map(|metadata| metadata.permissions().mode() & 0o7777).unwrap_or(0o755);
    let mut current = base.clone();
    for (index, part) in parts.iter().enumerate() {
        let last = index + 1 == parts.len();
        let next = current.join(part);
        match std::fs::symlink_metadata(&next) {
            Ok(metadata) if metadata.file_type().is_symlink() => {
                let target = std::fs::canonicalize(&next).map_err(|err| SubPathError::Io(next.clone(), err))?;
                if !target.starts_with(&base) {
                    return Err(SubPathError::Escapes(next));
                }
                if !last && !target.is_dir() {
                    return Err(SubPathError::NotADirectory(next));
                }
                current = target;
            }
            Ok(metadata) => {
                if !last && !metadata.is_dir() {
                    return Err(SubPathError::NotADirectory(next));
                }
                current = next;
            }
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                if !create {
                    return Err(SubPathError::Missing(next));
                }
                // Made in the parent opened without following links, so never elsewhere.
                let parent = open_beneath(&base, &current, true)?;
                rustix::fs::mkdirat(&parent, *part, rustix::fs::Mode::from_raw_mode(0o700)).map_err(|err| SubPathError::Create(err.into()))?;
                let made = rustix::fs::openat(&parent, *part, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC, rustix::fs::Mode::empty())
                    .map_err(|err| SubPathError::Create(err.into()))?;
                // Set explicitly, not through the umask (the kubelet's SafeMakeDir).
                rustix::fs::fchmod(&made, rustix::fs::Mode::from_raw_mode(mode)).map_err(|err| SubPathError::Create(err.into()))?;
                current = next;
            }
            Err(err) => return Err(SubPathError::Io(next, err)),
        }
    }
    open_beneath(&base, &current, false)
}

/// Opens `path` (inside `base`, with no link left in it) from `base` down, every component with
/// `O_NOFOLLOW`: a component that became a link since it was checked fails the open. The last
/// one is opened `O_PATH` (it may be a file) and must not be a link itself; `directory` asks
/// that it be a directory.
fn open_beneath(base: &Path, path: &Path, directory: bool) -> Result<OwnedFd, SubPathError> {
    let io = |err: rustix::io::Errno| SubPathError::Io(path.to_path_buf(), err.into());
    let relative = path.strip_prefix(base).map_err(|_| SubPathError::Escapes(path.to_path_buf()))?;
    let parts: Vec<&std::ffi::OsStr> = relative.components().map(|part| part.as_os_str()).collect();
    let mut current = rustix::fs::open(base, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, rustix::fs::Mode::empty()).map_err(io)?;
    for (index, part) in parts.iter().enumerate() {
        let last = index + 1 == parts.len();
        let flags = if last && !directory { OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC } else { OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC };
        current = rustix::fs::openat(&current, *part, flags, rustix::fs::Mode::empty()).map_err(|err| match err {
            rustix::io::Errno::LOOP => SubPathError::Escapes(path.to_path_buf()),
            other => io(other),
        })?;
    }
    // `O_PATH | O_NOFOLLOW` opens a link itself rather than failing: refused.
    let kind = rustix::fs::FileType::from_raw_mode(rustix::fs::fstat(&current).map_err(io)?.st_mode);
    if kind == rustix::fs::FileType::Symlink {
        return Err(SubPathError::Escapes(path.to_path_buf()));
    }
    Ok(current)
}

/// Bind mounts the opened subPath onto `target` (made as a directory or an empty file to match),
/// through `/proc/self/fd`, so that what is mounted is what was checked. Whatever was mounted
/// there before (the container's previous run) is unmounted first. The mount is checked to be
/// the opened file afterwards, as the kubelet does.
fn bind_sub_path(opened: &OwnedFd, target: &Path) -> std::io::Result<()> {
    let status = rustix::fs::fstat(opened)?;
    let is_dir = rustix::fs::FileType::from_raw_mode(status.st_mode) == rustix::fs::FileType::Directory;
    unmount_all(target)?;
    match std::fs::symlink_metadata(target) {
        Ok(metadata) if metadata.is_dir() == is_dir && !metadata.file_type().is_symlink() => {}
        Ok(metadata) => {
            if metadata.is_dir() { std::fs::remove_dir(target)? } else { std::fs::remove_file(target)? }
            make_mount_point(target, is_dir)?;
        }
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => make_mount_point(target, is_dir)?,
        Err(err) => return Err(err),
    }
    let source = format!("/proc/self/fd/{}", opened.as_raw_fd());
    rustix::mount::mount_bind(source.as_str(), target)?;
    let mounted = rustix::fs::stat(target)?;
    if (mounted.st_dev, mounted.st_ino) != (status.st_dev, status.st_ino) {
        let _ = unmount_all(target);
        return Err(std::io::Error::other(format!("{} does not show the opened subPath after mounting", target.display())));
    }
    Ok(())
}

fn make_mount_point(target: &Path, is_dir: bool) -> std::io::Result<()> {
    if let Some(parent) = target.parent() {
        std::fs::create_dir_all(parent)?;
    }
    if is_dir {
        std::fs::create_dir(target)
    } else {
        std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(target).map(drop)
    }
}

/// Unmounts everything mounted at `target` (lazily, as a container may still be going away);
/// not a mount point, or not there, is done.
fn unmount_all(target: &Path) -> std::io::Result<()> {
    // Bounded: a mount that keeps coming back is an error, not a loop.
    for _ in 0..16 {
        match rustix::mount::unmount(target, rustix::mount::UnmountFlags::DETACH | rustix::mount::UnmountFlags::NOFOLLOW) {
            Ok(()) => {}
            Err(rustix::io::Errno::INVAL | rustix::io::Errno::NOENT) => return Ok(()),
            Err(err) => return Err(err.into()),
        }
    }
    Err(std::io::Error::other(format!("{} stays mounted", target.display())))
}

/// Unmounts every subPath bind mount of the pod (`volume-subpaths/<volume>/<container>/<index>`).
fn unmount_sub_paths(dir: &Path) -> std::io::Result<()> {
    let entries = |dir: &Path| -> std::io::Result<Vec<PathBuf>> {
        match std::fs::read_dir(dir) {
            Ok(entries) => entries.map(|entry| entry.map(|entry| entry.path())).collect(),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(err) => Err(err),
        }
    };
    for volume in entries(dir)? {
        for container in entries(&volume)? {
            for index in entries(&container)? {
                unmount_all(&index)?;
            }
        }
    }
    Ok(())
}

/// Where a pod's subPath bind mounts are (kube's `volume-subpaths`).
pub fn sub_paths_dir(root: &Path, uid: &str) -> PathBuf {
    pod_dir(root, uid).join("volume-subpaths")
}

/// Removes what the kubelet wrote for the pod (host paths are the node's and stay). The subPath
/// bind mounts go first: removing through one would remove the volume's data; if one cannot
/// be unmounted nothing is removed.
pub fn remove(root: &Path, uid: &str) -> std::io::Result<()> {
    unmount_sub_paths(&sub_paths_dir(root, uid))?;
    match std::fs::remove_dir_all(pod_dir(root, uid)) {
        Err(err) if err.kind() != std::io::ErrorKind::NotFound => Err(err),
        _ => Ok(()),
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

    fn volume(path: &Path, written: bool) -> Prepared {
        Prepared::new(path.to_path_buf(), false, written)
    }

    fn identity(path: &Path) -> (u64, u64) {
        use std::os::unix::fs::MetadataExt;
        let metadata = std::fs::metadata(path).unwrap();
        (metadata.dev(), metadata.ino())
    }

    /// What the subPath opens to, as (device, inode).
    fn opened(volume: &Prepared, sub_path: &str) -> Result<(u64, u64), String> {
        open_sub_path(volume, sub_path, "data", "main").map(|fd| {
            let status = rustix::fs::fstat(&fd).unwrap();
            (status.st_dev, status.st_ino)
        })
    }

    #[test]
    fn sub_paths_are_made_inside_the_volume() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("volume");
        std::fs::create_dir(&base).unwrap();
        std::fs::set_permissions(&base, std::fs::Permissions::from_mode(0o777)).unwrap();
        let made = opened(&volume(&base, false), "a/b").unwrap();
        assert!(base.join("a/b").is_dir());
        assert_eq!(made, identity(&base.join("a/b")));
        assert_eq!(std::fs::metadata(base.join("a/b")).unwrap().permissions().mode() & 0o777, 0o777, "the volume's mode, as the kubelet's SafeMakeDir");
        assert_eq!(opened(&volume(&base, false), "./a/b").unwrap(), made, "the same place again");
        std::fs::write(base.join("file"), "x").unwrap();
        assert_eq!(opened(&volume(&base, false), "file").unwrap(), identity(&base.join("file")), "a file may be mounted");
        assert!(opened(&volume(&base, false), "file/below").is_err());
        // A link that stays inside is followed.
        std::os::unix::fs::symlink("a", base.join("inside")).unwrap();
        assert_eq!(opened(&volume(&base, false), "inside/b").unwrap(), made);
        // Nothing is made in what the kubelet writes.
        assert!(opened(&volume(&base, true), "absent").is_err());
        assert!(!base.join("absent").exists());
    }

    #[test]
    fn a_directory_swapped_for_a_link_after_the_check_is_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let base = std::fs::canonicalize(dir.path()).unwrap().join("volume");
        let outside = base.parent().unwrap().join("outside");
        std::fs::create_dir_all(base.join("x/y")).unwrap();
        std::fs::create_dir_all(outside.join("y")).unwrap();
        // Checked as base/x/y; then x becomes a link out before the open.
        std::fs::rename(base.join("x"), base.join("x-moved")).unwrap();
        std::os::unix::fs::symlink(&outside, base.join("x")).unwrap();
        assert!(open_beneath(&base, &base.join("x/y"), false).is_err());
        assert!(open_beneath(&base, &base.join("x"), false).is_err(), "the last component a link is refused too");
        assert!(open_beneath(&base, &base.join("x-moved/y"), true).is_ok());
    }

    #[test]
    fn sub_paths_are_bind_mounted_and_unmounted_before_the_pod_goes() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        let base = dir.path().join("volume");
        std::fs::create_dir_all(base.join("web-0/logs")).unwrap();
        std::fs::write(base.join("web-0/logs/keep"), "data").unwrap();
        let container: Container = serde_json::from_value(serde_json::json!({"name": "main",
            "volumeMounts": [{"name": "data", "mountPath": "/data", "subPathExpr": "$(POD)/logs", "readOnly": true}]})).unwrap();
        let volumes = HashMap::from([("data".to_string(), volume(&base, false))]);
        let sub_paths = sub_paths_dir(&root, "uid-1");
        let mounted = match mounts(&container, &volumes, &[("POD".to_string(), "web-0".to_string())], &sub_paths) {
            Ok(mounted) => mounted,
            // Mounting needs privileges; where there are none, there is nothing to show.
            Err(err) => {
                eprintln!("cannot bind mount here ({err}); skipped");
                return;
            }
        };
        let target = sub_paths.join("data/main/0");
        assert_eq!(mounted[0].host_path, target.to_string_lossy());
        assert!(mounted[0].readonly, "the mount's readOnly holds");
        assert_eq!(identity(&target), identity(&base.join("web-0/logs")));
        // Again (the container restarted): the earlier mount is replaced, not stacked.
        mounts(&container, &volumes, &[("POD".to_string(), "web-0".to_string())], &sub_paths).unwrap();
        remove(&root, "uid-1").unwrap();
        assert!(!root.join("pods/uid-1").exists());
        assert_eq!(std::fs::read_to_string(base.join("web-0/logs/keep")).unwrap(), "data", "the volume's data is not removed through the mount");
    }

    #[test]
    fn sub_paths_never_escape() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("volume");
        let outside = dir.path().join("outside");
        std::fs::create_dir(&base).unwrap();
        std::fs::create_dir(&outside).unwrap();
        let refused = |sub: &str| opened(&volume(&base, false), sub).unwrap_err();
        assert_eq!(refused("/etc"), "error SubPath `/etc` must not be an absolute path");
        assert_eq!(refused("../outside"), "unable to provision SubPath `../outside`: must not contain '..'");
        assert_eq!(refused("a/../../outside"), "unable to provision SubPath `a/../../outside`: must not contain '..'");
        std::os::unix::fs::symlink(&outside, base.join("absolute-link")).unwrap();
        std::os::unix::fs::symlink("../outside", base.join("relative-link")).unwrap();
        std::os::unix::fs::symlink("/nonexistent-target", base.join("dangling")).unwrap();
        for sub in ["absolute-link", "absolute-link/new", "relative-link", "relative-link/new", "dangling", "dangling/new"] {
            assert_eq!(refused(sub), "failed to prepare subPath for volumeMount \"data\" of container \"main\"", "{sub}");
        }
        assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0, "nothing was made outside");
        assert!(!Path::new("/nonexistent-target").exists());
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
