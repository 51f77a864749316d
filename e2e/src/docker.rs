//! The Docker CLI, which the cluster tool drives (nodes are containers): each call a process,
//! its failure an error carrying what Docker said.

use std::process::Stdio;

use tokio::io::AsyncWriteExt;
use tokio::process::Command;

#[derive(Debug, thiserror::Error)]
pub enum DockerError {
    #[error("Docker is not available ({0}); install docker.io and start dockerd (scripts/setup.sh does both)")]
    Unavailable(String),
    #[error("`docker {command}` failed: {message}")]
    Failed { command: String, message: String },
}

fn describe(args: &[&str]) -> String {
    let mut words: Vec<&str> = args.iter().copied().take(4).collect();
    if args.len() > 4 {
        words.push("…");
    }
    words.join(" ")
}

/// Runs `docker args...`; its stdout, trimmed, when it succeeds.
pub async fn run(args: &[&str]) -> Result<String, DockerError> {
    run_with_input(args, None).await
}

/// The same with `input` on its stdin.
pub async fn run_with_input(args: &[&str], input: Option<&[u8]>) -> Result<String, DockerError> {
    let mut command = Command::new("docker");
    command.args(args).stdout(Stdio::piped()).stderr(Stdio::piped()).stdin(if input.is_some() { Stdio::piped() } else { Stdio::null() });
    let mut child = command.spawn().map_err(|err| DockerError::Unavailable(format!("cannot run docker: {err}")))?;
    if let (Some(input), Some(mut stdin)) = (input, child.stdin.take()) {
        stdin.write_all(input).await.map_err(|err| DockerError::Failed { command: describe(args), message: format!("writing its input: {err}") })?;
    }
    let output = child.wait_with_output().await.map_err(|err| DockerError::Failed { command: describe(args), message: err.to_string() })?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
    } else {
        let stderr = String::from_utf8_lossy(&output.stderr).trim().to_string();
        Err(DockerError::Failed { command: describe(args), message: if stderr.is_empty() { output.status.to_string() } else { stderr } })
    }
}

/// What a container wrote, its stdout and stderr as `docker logs` passes them on.
pub async fn logs(container: &str) -> Result<String, DockerError> {
    let output = Command::new("docker").args(["logs", container]).stdin(Stdio::null()).output().await.map_err(|err| DockerError::Unavailable(format!("cannot run docker: {err}")))?;
    if !output.status.success() {
        return Err(DockerError::Failed { command: format!("logs {container}"), message: String::from_utf8_lossy(&output.stderr).trim().to_string() });
    }
    Ok(format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr)))
}

/// Whether a Docker engine answers.
pub async fn check() -> Result<(), DockerError> {
    match run(&["info", "--format", "{{.ServerVersion}}"]).await {
        Ok(_) => Ok(()),
        Err(DockerError::Failed { message, .. }) => Err(DockerError::Unavailable(message)),
        Err(err) => Err(err),
    }
}

/// Names of the containers carrying `label` (`key=value`), running or not.
pub async fn containers_with(label: &str) -> Result<Vec<String>, DockerError> {
    containers_with_all(&[label.to_string()]).await
}

/// Names of the containers carrying every one of `labels`.
pub async fn containers_with_all(labels: &[String]) -> Result<Vec<String>, DockerError> {
    let mut args = vec!["ps".to_string(), "-a".into()];
    for label in labels {
        args.extend(["--filter".to_string(), format!("label={label}")]);
    }
    args.extend(["--format".to_string(), "{{.Names}}".into()]);
    let out = run(&args.iter().map(String::as_str).collect::<Vec<_>>()).await?;
    let mut names: Vec<String> = out.lines().map(str::trim).filter(|name| !name.is_empty()).map(str::to_string).collect();
    names.sort();
    Ok(names)
}
