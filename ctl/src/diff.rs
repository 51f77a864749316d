//! `ctl diff -f FILE`: what `apply -f FILE` would change, as kubectl shows it: each object live
//! and as the server would store it after the apply (a server dry run of the same create or
//! patch), written to LIVE-* and MERGED-* directories compared by `$KUBECTL_EXTERNAL_DIFF` or
//! `diff -u -N`. The exit status is diff's: 0 when nothing would change, 1 when something would.
//! With `--server-side`, the merged object is the server's dry run of a server-side apply.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::apply::{FileArgs, OpenApi, PreparedPatch, Target, ValidateArgs, last_applied, prepare_patch, previously_applied, query, resolve};
use crate::discovery::send;
use crate::{Config, CtlError};

#[derive(Clone, Debug, clap::Args)]
pub struct DiffArgs {
    /// Manifest files or directories, or - for standard input.
    #[arg(short = 'f', long = "filename", required = true)]
    pub files: Vec<PathBuf>,
    #[command(flatten)]
    pub validate: ValidateArgs,
    /// Read the directories of -f recursively.
    #[arg(short = 'R', long)]
    pub recursive: bool,
    /// Compare with what a server-side apply would store (`apply --server-side`).
    #[arg(long)]
    pub server_side: bool,
    /// With --server-side: take over fields other managers set rather than fail.
    #[arg(long)]
    pub force_conflicts: bool,
    /// The manager the dry run's fields are recorded for.
    #[arg(long, default_value = "ctl")]
    pub field_manager: String,
}

pub async fn run(config: &Config, args: &DiffArgs) -> Result<(), CtlError> {
    match compare(config, args).await {
        Ok(()) => Ok(()),
        Err(differ @ CtlError::Reported(1)) => Err(differ),
        // kubectl diff's own failures exit with 2, as 1 means the objects differ; printed as
        // ctl's `main` prints errors.
        Err(err) => {
            use std::io::Write;
            let _ = std::io::stdout().flush();
            eprintln!("{}", err.kubectl_text());
            std::process::exit(2);
        }
    }
}

async fn compare(config: &Config, args: &DiffArgs) -> Result<(), CtlError> {
    let validation = args.validate.field_validation()?;
    if args.force_conflicts && !args.server_side {
        return Err(CtlError::Usage("--force-conflicts only works with --server-side".into()));
    }
    crate::apply::missing_path(&args.files)?;
    let file_args = FileArgs { files: args.files.clone(), recursive: args.recursive, dry_run: "server".into() };
    let (client, targets) = resolve(config, &file_args, "diff").await?;
    // Removed when dropped, whatever happens below.
    let live_dir = temp_dir("LIVE-")?;
    let merged_dir = temp_dir("MERGED-")?;
    let force = if args.server_side { args.force_conflicts.to_string() } else { String::new() };
    let query = query(&[("dryRun", "All"), ("fieldManager", &args.field_manager), ("fieldValidation", validation), ("force", &force)]);
    let mut openapi = OpenApi::default();
    for target in &targets {
        let (live, merged) = match args.server_side {
            true => server_side_dry_run(&client, target, &query).await?,
            false => dry_run(&client, target, &query, &mut openapi).await?,
        };
        let name = file_name(target);
        // As kubectl, an object to be created is compared with an empty live file.
        match live {
            Some(live) => write_yaml(&live_dir.path().join(&name), live)?,
            None => std::fs::write(live_dir.path().join(&name), "")?,
        }
        write_yaml(&merged_dir.path().join(&name), merged)?;
    }
    match run_diff(live_dir.path(), merged_dir.path())? {
        0 => Ok(()),
        1 => Err(CtlError::Reported(1)),
        code => Err(CtlError::Usage(format!("exit status {code}"))),
    }
}

/// `apps.v1.Deployment.default.web`: kubectl's name for an object's file.
fn file_name(target: &Target) -> String {
    let resource = &target.resource;
    let group = if resource.group.is_empty() { String::new() } else { format!("{}.", resource.group) };
    format!("{group}{}.{}.{}.{}", resource.version, resource.kind, target.namespace.as_deref().unwrap_or_default(), target.name)
}

/// A new directory `PREFIX…` in the temporary directory, as kubectl names them.
fn temp_dir(prefix: &str) -> Result<tempfile::TempDir, CtlError> {
    Ok(tempfile::Builder::new().prefix(prefix).tempdir()?)
}

fn write_yaml(path: &Path, mut object: Value) -> Result<(), CtlError> {
    if let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        metadata.remove("managedFields");
    }
    let text = crate::yaml::to_string(&object).map_err(|err| CtlError::Usage(err.to_string()))?;
    std::fs::write(path, text)?;
    Ok(())
}

/// The object live (if it exists) and as the server would store it after ctl's apply.
async fn dry_run(client: &kube::Client, target: &Target, query: &str, openapi: &mut OpenApi) -> Result<(Option<Value>, Value), CtlError> {
    // kubectl's diff patches toward the manifest without recording it as the last applied.
    let (desired, _) = last_applied(target);
    let resource = &target.resource;
    let item_path = resource.path(target.namespace.as_deref(), Some(&target.name));
    let live = match send(client, "GET", &item_path, "application/json", &Value::Null).await {
        Ok(live) => live,
        Err(CtlError::Server { reason, .. }) if reason == "NotFound" => {
            let collection = resource.path(target.namespace.as_deref(), None);
            // kubectl's dry-run create sends the manifest as it is, without the annotation.
            let merged = send(client, "POST", &format!("{collection}{query}"), "application/json", &target.manifest.object).await?;
            return Ok((None, merged));
        }
        Err(err) => return Err(err),
    };
    let previous = previously_applied(&live);
    let PreparedPatch { patch, content_type, .. } = prepare_patch(client, resource, &previous, &desired, &live, openapi).await;
    if patch == json!({}) {
        return Ok((Some(live.clone()), live));
    }
    let merged = send(client, "PATCH", &format!("{item_path}{query}"), content_type, &patch).await?;
    Ok((Some(live), merged))
}

/// The object live (if it exists) and as a server-side apply of the manifest would leave it: the
/// server's dry run of the apply patch, which creates what is missing.
async fn server_side_dry_run(client: &kube::Client, target: &Target, query: &str) -> Result<(Option<Value>, Value), CtlError> {
    let item_path = target.resource.path(target.namespace.as_deref(), Some(&target.name));
    let live = match send(client, "GET", &item_path, "application/json", &Value::Null).await {
        Ok(live) => Some(live),
        Err(CtlError::Server { reason, .. }) if reason == "NotFound" => None,
        Err(err) => return Err(err),
    };
    let mut object = target.manifest.object.clone();
    if let (Some(namespace), Some(metadata)) = (&target.namespace, object.get_mut("metadata").and_then(Value::as_object_mut)) {
        metadata.insert("namespace".into(), json!(namespace));
    }
    let merged = send(client, "PATCH", &format!("{item_path}{query}"), "application/apply-patch+yaml", &object).await?;
    Ok((live, merged))
}

/// Runs `$KUBECTL_EXTERNAL_DIFF` (words split at spaces) or `diff -u -N` on the two
/// directories, its output going straight to the user's; its exit status.
fn run_diff(live: &Path, merged: &Path) -> Result<i32, CtlError> {
    let external = std::env::var("KUBECTL_EXTERNAL_DIFF").ok().filter(|value| !value.trim().is_empty());
    let words: Vec<String> = match external {
        Some(command) => command.split_whitespace().map(str::to_string).collect(),
        None => vec!["diff".into(), "-u".into(), "-N".into()],
    };
    let status = std::process::Command::new(&words[0])
        .args(&words[1..])
        .arg(live)
        .arg(merged)
        .status()
        .map_err(|err| CtlError::Usage(format!("failed to run {:?}: {err}", words[0])))?;
    Ok(status.code().unwrap_or(2))
}
