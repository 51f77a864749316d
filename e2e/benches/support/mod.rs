//! What the cluster tool's benchmarks share: where the release binaries are, and running a
//! command for its output.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The directory of the release binaries, which is the benchmark's own (`target/release`).
pub fn release_dir() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    Ok(exe.parent().and_then(Path::parent).ok_or_else(|| anyhow::anyhow!("no target dir"))?.to_path_buf())
}

/// Runs `command`; its stdout when it succeeds, else what it printed.
pub fn run(command: &mut Command) -> anyhow::Result<String> {
    let output = command.output()?;
    anyhow::ensure!(output.status.success(), "{command:?} failed: {}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}
