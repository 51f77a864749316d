//! `ctl diff -f FILE`: what `apply -f FILE` would change, as kubectl shows it: each object live
//! and as the server would store it after the apply (a server dry run of the same create or
//! patch), written to LIVE-* and MERGED-* directories compared by `$KUBECTL_EXTERNAL_DIFF` or
//! `diff -u -N`. The exit status is diff's: 0 when nothing would change, 1 when something would.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::apply::{FileArgs, Target, ValidateArgs, query, resolve};
use crate::discovery::{get_json, send};
use crate::strategic::{Schema, three_way_json_merge, three_way_strategic};
use crate::{Config, CtlError};

const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

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
}

pub async fn run(config: &Config, args: &DiffArgs) -> Result<(), CtlError> {
    let validation = args.validate.field_validation()?;
    let file_args = FileArgs { files: args.files.clone(), recursive: args.recursive, dry_run: "server".into() };
    let (client, targets) = resolve(config, &file_args, "diff").await?;
    let live_dir = temp_dir("LIVE-")?;
    let merged_dir = temp_dir("MERGED-")?;
    let query = query(&[("dryRun", "All"), ("fieldManager", "ctl"), ("fieldValidation", validation)]);
    for target in &targets {
        let (live, merged) = dry_run(&client, target, &query).await?;
        let name = file_name(target);
        if let Some(live) = live {
            write_yaml(&live_dir.join(&name), live)?;
        }
        write_yaml(&merged_dir.join(&name), merged)?;
    }
    let status = run_diff(&live_dir, &merged_dir);
    let _ = std::fs::remove_dir_all(&live_dir);
    let _ = std::fs::remove_dir_all(&merged_dir);
    match status? {
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

fn temp_dir(prefix: &str) -> Result<PathBuf, CtlError> {
    let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|time| time.subsec_nanos()).unwrap_or_default();
    for attempt in 0..100u32 {
        let path = std::env::temp_dir().join(format!("{prefix}{}", seed.wrapping_add(attempt.wrapping_mul(7919)) ^ std::process::id()));
        match std::fs::create_dir(&path) {
            Ok(()) => return Ok(path),
            Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(err) => return Err(err.into()),
        }
    }
    Err(CtlError::Usage("cannot create a temporary directory".into()))
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
async fn dry_run(client: &kube::Client, target: &Target, query: &str) -> Result<(Option<Value>, Value), CtlError> {
    let mut object = target.manifest.object.clone();
    if let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        if let Some(namespace) = &target.namespace {
            metadata.insert("namespace".into(), json!(namespace));
        }
        // As kubectl's modified configuration: an `annotations` map, empty if need be.
        if let Some(annotations) = metadata.entry("annotations").or_insert_with(|| json!({})).as_object_mut() {
            annotations.remove(LAST_APPLIED);
        }
    }
    // kubectl's diff patches toward the manifest without recording it as the last applied.
    let desired = object;
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
    let previous = live["metadata"]["annotations"][LAST_APPLIED].as_str().and_then(|text| serde_json::from_str(text).ok()).unwrap_or_else(|| json!({}));
    let document_path = if resource.group.is_empty() { format!("/openapi/v3/api/{}", resource.version) } else { format!("/openapi/v3/apis/{}/{}", resource.group, resource.version) };
    let document = get_json(client, &document_path, "application/json").await.unwrap_or(Value::Null);
    let (patch, content_type) = match Schema::for_kind(&document, &resource.group, &resource.version, &resource.kind) {
        Some(schema) => (three_way_strategic(&previous, &desired, &live, schema), "application/strategic-merge-patch+json"),
        None => (three_way_json_merge(&previous, &desired, &live), "application/merge-patch+json"),
    };
    if patch == json!({}) {
        return Ok((Some(live.clone()), live));
    }
    let merged = send(client, "PATCH", &format!("{item_path}{query}"), content_type, &patch).await?;
    Ok((Some(live), merged))
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
