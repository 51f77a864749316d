//! Cgroups the runtime leaves behind: runc creates the parents of a container's cgroup but never
//! removes them.

use std::path::{Path, PathBuf};

/// Removes the cgroup `path` (e.g. `/kubepods/pod<uid>`) and everything below it, deepest first,
/// in every hierarchy under /sys/fs/cgroup (each v1 controller, and v2's unified one). Cgroups
/// that still hold processes stay; so does anything already gone.
pub fn remove_tree(path: &str) {
    let relative = path.trim_start_matches('/');
    if relative.is_empty() {
        return;
    }
    let base = Path::new("/sys/fs/cgroup");
    let Ok(hierarchies) = std::fs::read_dir(base) else { return };
    let mut tops: Vec<PathBuf> = hierarchies.flatten().map(|entry| entry.path().join(relative)).collect();
    tops.push(base.join(relative));
    for top in tops {
        let mut stack = vec![top];
        let mut dirs = Vec::new();
        while let Some(dir) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else { continue };
            dirs.push(dir);
            stack.extend(entries.flatten().filter(|entry| entry.file_type().is_ok_and(|kind| kind.is_dir())).map(|entry| entry.path()));
        }
        for dir in dirs.iter().rev() {
            let _ = std::fs::remove_dir(dir);
        }
    }
}
