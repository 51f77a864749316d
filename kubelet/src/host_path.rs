//! hostPath directories and files on the node: the type check a `hostPath` volume (or a
//! PersistentVolume's) asks for, making what `DirectoryOrCreate` and `FileOrCreate` want with
//! the mode set explicitly. A leaf module: pod volumes and claim-backed volumes both use it.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// The mode of a directory a hostPath volume's `DirectoryOrCreate` makes.
pub const HOST_PATH_DIR_MODE: u32 = 0o755;
/// The mode of a local-path volume's directory: kind's provisioner runs `mkdir -m 0777`, so that
/// containers running as any user (a non-root database image) can write their data.
pub const LOCAL_PATH_DIR_MODE: u32 = 0o777;

/// A hostPath's type check, creating what `DirectoryOrCreate` and `FileOrCreate` ask for. A
/// directory made here gets `dir_mode` set explicitly (not through the umask): `HOST_PATH_DIR_MODE`
/// for a hostPath, `LOCAL_PATH_DIR_MODE` for the local-path provisioner's volumes.
pub fn check_host_path(path: &str, kind: &str, dir_mode: u32) -> Result<(), String> {
    let metadata = std::fs::metadata(path);
    let check = |ok: bool, what: &str| if ok { Ok(()) } else { Err(format!("hostPath type check failed: {path} is not a {what}")) };
    match kind {
        "" => Ok(()),
        "DirectoryOrCreate" => match metadata {
            Ok(metadata) => check(metadata.is_dir(), "directory"),
            Err(_) => create_dir(Path::new(path), dir_mode).map_err(|err| format!("cannot create {path}: {err}")),
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

pub fn create_dir(path: &Path, mode: u32) -> std::io::Result<()> {
    std::fs::create_dir_all(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directories_made_for_a_host_path_get_their_mode_whatever_the_umask() {
        let dir = tempfile::tempdir().unwrap();
        let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o7777;
        let host = dir.path().join("host");
        check_host_path(&host.to_string_lossy(), "DirectoryOrCreate", HOST_PATH_DIR_MODE).unwrap();
        assert_eq!(mode(&host), 0o755);
        let local = dir.path().join("local");
        check_host_path(&local.to_string_lossy(), "DirectoryOrCreate", LOCAL_PATH_DIR_MODE).unwrap();
        assert_eq!(mode(&local), 0o777, "set explicitly, not masked by the umask");
        // An existing directory is left as it is.
        std::fs::set_permissions(&local, std::fs::Permissions::from_mode(0o700)).unwrap();
        check_host_path(&local.to_string_lossy(), "DirectoryOrCreate", LOCAL_PATH_DIR_MODE).unwrap();
        assert_eq!(mode(&local), 0o700);
    }
}
