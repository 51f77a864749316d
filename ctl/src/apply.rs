//! `ctl apply -f` and `ctl delete -f` (and, through [`resolve`], `ctl replace -f`): every manifest
//! is read and resolved before anything is sent, so a bad file applies nothing. Apply creates
//! what is missing and patches what exists, keeping kubectl's last-applied annotation so that
//! fields removed from a manifest are removed from the object, and objects applied by kubectl and
//! by ctl stay interchangeable.

use std::path::PathBuf;

use std::collections::HashMap;

use serde_json::{Value, json};

use crate::discovery::{Resource, api_version, discover, encode, send};
use crate::kubeconfig::client_and_namespace;
use crate::manifest::{self, Manifest};
use crate::{Config, CtlError};
use crate::printer::{Output, print};
use crate::output::outln;
use crate::strategic::{Schema, go_json, three_way_json_merge, three_way_strategic};

const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

#[derive(Clone, Debug, clap::Args)]
pub struct FileArgs {
    /// Manifest files or directories, or - for standard input.
    #[arg(short = 'f', long = "filename", required = true)]
    pub files: Vec<PathBuf>,
    /// Read directories recursively.
    #[arg(short = 'R', long)]
    pub recursive: bool,
    /// `server` to have the server check everything without storing it; `client` to only print
    /// what would be sent.
    #[arg(long, value_parser = ["none", "server", "client"], default_value = "none")]
    pub dry_run: String,
}

impl FileArgs {
    /// What kubectl adds to its message for the dry run asked for.
    pub fn dry_run_suffix(&self) -> &'static str {
        match self.dry_run.as_str() {
            "server" => " (server dry run)",
            "client" => " (dry run)",
            _ => "",
        }
    }
}

#[derive(Clone, Debug, clap::Args)]
#[command(after_help = "Examples:\n  ctl apply -f web.yaml\n  ctl apply -R -f manifests/\n  cat web.yaml | ctl apply -f -\n  ctl apply -f web.yaml --server-side\n  ctl apply -f web.yaml --dry-run=server")]
pub struct ApplyArgs {
    #[command(flatten)]
    pub files: FileArgs,
    /// Have the server merge each manifest (server-side apply), keeping which manager set which
    /// field, instead of patching from the last-applied annotation.
    #[arg(long)]
    pub server_side: bool,
    /// With --server-side: take over fields other managers set rather than fail.
    #[arg(long)]
    pub force_conflicts: bool,
    /// The manager the applied fields are recorded for; `ctl` by default.
    #[arg(long, default_value = FIELD_MANAGER)]
    pub field_manager: String,
    #[command(flatten)]
    pub validate: ValidateArgs,
    /// yaml, json, name, jsonpath=TEMPLATE or go-template=TEMPLATE: print each applied object
    /// instead of what was done to it.
    #[arg(short = 'o', long)]
    pub output: Option<String>,
}

/// kubectl's `--validate`: what the server does with fields the object's kind does not have.
#[derive(Clone, Debug, clap::Args)]
pub struct ValidateArgs {
    /// strict (or true): the server refuses an object with unknown or duplicate fields; warn: it
    /// drops them and warns; ignore (or false): it drops them silently.
    #[arg(long, default_value = "strict", num_args = 0..=1, require_equals = true, default_missing_value = "strict")]
    pub validate: String,
}

impl ValidateArgs {
    /// The `fieldValidation` query value, read as kubectl reads the flag (any of Go's booleans,
    /// or a mode in any case).
    pub fn field_validation(&self) -> Result<&'static str, CtlError> {
        match self.validate.as_str() {
            "1" | "t" | "T" | "true" | "TRUE" | "True" => return Ok("Strict"),
            "0" | "f" | "F" | "false" | "FALSE" | "False" => return Ok("Ignore"),
            _ => {}
        }
        match self.validate.to_ascii_lowercase().as_str() {
            "strict" => Ok("Strict"),
            "warn" => Ok("Warn"),
            "ignore" => Ok("Ignore"),
            _ => Err(CtlError::Usage(format!(
                "invalid - validate option {:?}; must be one of: strict (or true), warn, ignore (or false)",
                self.validate
            ))),
        }
    }
}

/// A query string of the non-empty values, each percent-encoded.
pub fn query(pairs: &[(&str, &str)]) -> String {
    let pairs: Vec<String> = pairs.iter().filter(|(_, value)| !value.is_empty()).map(|(key, value)| format!("{key}={}", encode(value))).collect();
    if pairs.is_empty() { String::new() } else { format!("?{}", pairs.join("&")) }
}

/// Names the manifest's file in an error, as kubectl's `AddSourceToErr(verb, ...)` does: inside
/// the server's message for server errors, so they still print as `Error from server`.
pub fn with_source(err: CtlError, verb: &str, source: &str) -> CtlError {
    let source = source_name(source);
    match err {
        CtlError::Server { reason, message, details } => CtlError::Server { reason, message: format!("error when {verb} {source:?}: {message}"), details },
        other => CtlError::Usage(format!("error when {verb} {source:?}: {other}")),
    }
}

/// kubectl calls standard input STDIN in its messages.
fn source_name(source: &str) -> &str {
    if source == "-" { "STDIN" } else { source }
}

/// Prints each failure as `main` would print it, after everything else was done, as kubectl
/// reports the errors of several objects; ctl then fails.
pub fn report(errors: Vec<CtlError>) -> Result<(), CtlError> {
    match errors.len() {
        0 => Ok(()),
        1 => Err(errors.into_iter().next().unwrap_or(CtlError::Reported(1))),
        count => {
            for err in errors {
                match err {
                    CtlError::Reported(_) => {}
                    err @ CtlError::Server { .. } => eprintln!("{err}"),
                    err => eprintln!("error: {err}"),
                }
            }
            Err(CtlError::Reported(count))
        }
    }
}

/// The errors of a builder's visit as kubectl's `CheckErr` prints an aggregate: one as it is,
/// several one message a line, without the `error: ` prefix and a server error without its
/// `Error from server` one.
pub fn report_aggregate(mut errors: Vec<CtlError>) -> Result<(), CtlError> {
    match errors.len() {
        0 => Ok(()),
        1 => Err(errors.remove(0)),
        count => {
            for err in errors {
                match err {
                    CtlError::Server { message, .. } => eprintln!("{message}"),
                    other => eprintln!("{other}"),
                }
            }
            Err(CtlError::Reported(count))
        }
    }
}

const FIELD_MANAGER: &str = "ctl";

/// kubectl's hint after a server-side apply conflict.
const CONFLICT_HINT: &str = "Please review the fields above--they currently have other managers. Here
are the ways you can resolve this warning:
* If you intend to manage all of these fields, please re-run the apply
  command with the `--force-conflicts` flag.
* If you do not intend to manage all of the fields, please edit your
  manifest to remove references to the fields that should keep their
  current managers.
* You may co-own fields by updating your manifest to match the existing
  value; in this case, you'll become the manager if the other manager(s)
  stop managing the field (remove it from their configuration).
See https://kubernetes.io/docs/reference/using-api/server-side-apply/#conflicts";

/// One manifest with where its object lives.
pub struct Target {
    pub manifest: Manifest,
    pub resource: Resource,
    /// The manifest's namespace, else `-n`, else the context's; `None` for cluster-scoped kinds.
    pub namespace: Option<String>,
    pub name: String,
}

/// kubectl's refusal of a `-f` path that is not there, before anything is read.
pub fn missing_path(files: &[PathBuf]) -> Result<(), CtlError> {
    match files.iter().find(|path| path.as_os_str() != "-" && !path.exists()) {
        Some(path) => Err(CtlError::Usage(format!("the path {:?} does not exist", path.display().to_string()))),
        None => Ok(()),
    }
}

/// Reads every `-f` manifest and finds its resource through discovery and its namespace, failing
/// before anything is sent if one cannot be. `verb` names the command in kubectl's "no objects
/// passed to ..." error.
pub async fn resolve(config: &Config, args: &FileArgs, verb: &str) -> Result<(kube::Client, Vec<Target>), CtlError> {
    let manifests = manifest::read_paths(&args.files, args.recursive, &mut std::io::stdin())?;
    if manifests.is_empty() {
        return Err(CtlError::Usage(format!("no objects passed to {verb}")));
    }
    let (client, namespace) = client_and_namespace(config).await?;
    let served = discover(&client).await?;
    let mut targets = Vec::new();
    for manifest in manifests {
        let object = &manifest.object;
        let wanted_version = object["apiVersion"].as_str().unwrap_or_default();
        let kind = object["kind"].as_str().unwrap_or_default();
        let name = object["metadata"]["name"].as_str().unwrap_or_default().to_string();
        let resource = served
            .iter()
            .find(|resource| api_version(resource) == wanted_version && resource.kind == kind)
            .cloned()
            .ok_or_else(|| {
                CtlError::Usage(format!(
                    "resource mapping not found for name: {name:?} from {:?} (document {}, line {}): no matches for kind {kind:?} in version {wanted_version:?}",
                    manifest.source, manifest.document, manifest.line
                ))
            })?;
        let target_namespace = if resource.namespaced {
            let from_file = object["metadata"]["namespace"].as_str().filter(|namespace| !namespace.is_empty());
            match (from_file, &config.namespace) {
                (Some(file), Some(flag)) if file != flag => {
                    return Err(CtlError::Usage(format!(
                        "the namespace from the provided object {file:?} does not match the namespace {flag:?}. You must pass '--namespace={file}' to perform this operation."
                    )));
                }
                (Some(file), _) => Some(file.to_string()),
                (None, _) => Some(namespace.clone()),
            }
        } else {
            None
        };
        targets.push(Target { manifest, resource, namespace: target_namespace, name });
    }
    Ok((client, targets))
}

/// The manifest as kubectl records it in the last-applied annotation: namespace filled in, the
/// annotation itself left out, keys sorted, compact, with a final newline.
pub fn last_applied(target: &Target) -> (Value, String) {
    let mut object = target.manifest.object.clone();
    if let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        if let Some(namespace) = &target.namespace {
            metadata.insert("namespace".into(), json!(namespace));
        }
        let annotations = metadata.entry("annotations").or_insert_with(|| json!({}));
        if let Some(map) = annotations.as_object_mut() {
            map.remove(LAST_APPLIED);
        }
    }
    let text = format!("{}\n", go_json(&object));
    (object, text)
}

/// What the live object's last-applied annotation says was applied before (`{}` if nothing).
pub fn previously_applied(current: &Value) -> Value {
    current["metadata"]["annotations"][LAST_APPLIED].as_str().and_then(|text| serde_json::from_str::<Value>(text).ok()).unwrap_or_else(|| json!({}))
}

/// The group-versions' OpenAPI documents read so far (`Null` where the server has none), so
/// that several objects of one group-version read it once.
#[derive(Default)]
pub struct OpenApi(HashMap<String, Value>);

/// A patch as kubectl's apply, edit and diff compute it, and how to send it.
pub struct PreparedPatch {
    pub patch: Value,
    pub content_type: &'static str,
    /// Whether it is a strategic merge patch (else a JSON merge patch).
    pub strategic: bool,
}

/// kubectl's three-way patch from `original` (what was applied before) to `modified` over
/// `current`: a strategic merge patch where the kind's OpenAPI schema says how to merge its
/// lists, else (as kubectl, for custom resources or without a document) a JSON merge patch.
pub async fn prepare_patch(client: &kube::Client, resource: &Resource, original: &Value, modified: &Value, current: &Value, openapi: &mut OpenApi) -> PreparedPatch {
    let document_path = if resource.group.is_empty() { format!("/openapi/v3/api/{}", resource.version) } else { format!("/openapi/v3/apis/{}/{}", resource.group, resource.version) };
    if !openapi.0.contains_key(&document_path) {
        let document = crate::discovery::get_json(client, &document_path, "application/json").await.unwrap_or(Value::Null);
        openapi.0.insert(document_path.clone(), document);
    }
    let schema = openapi.0.get(&document_path).and_then(|document| Schema::for_kind(document, &resource.group, &resource.version, &resource.kind));
    match schema {
        Some(schema) => PreparedPatch { patch: three_way_strategic(original, modified, current, schema), content_type: "application/strategic-merge-patch+json", strategic: true },
        None => PreparedPatch { patch: three_way_json_merge(original, modified, current), content_type: "application/merge-patch+json", strategic: false },
    }
}

pub async fn apply(config: &Config, args: &ApplyArgs) -> Result<(), CtlError> {
    if args.force_conflicts && !args.server_side {
        return Err(CtlError::Usage("--force-conflicts only works with --server-side".into()));
    }
    let validation = args.validate.field_validation()?;
    let output = Output::parse(args.output.as_deref())?;
    if args.server_side {
        if args.files.dry_run == "client" {
            return Err(CtlError::Usage("--dry-run=client doesn't work with --server-side (did you mean --dry-run=server instead?)".into()));
        }
        return apply_server_side(config, args, validation, &output).await;
    }
    let (client, targets) = resolve(config, &args.files, "apply").await?;
    let dry_run = args.files.dry_run == "server";
    let suffix = args.files.dry_run_suffix();
    let query = query(&[("dryRun", if dry_run { "All" } else { "" }), ("fieldManager", FIELD_MANAGER), ("fieldValidation", validation)]);
    let mut errors = Vec::new();
    let mut openapi = OpenApi::default();
    for target in &targets {
        match apply_one(&client, target, &query, &args.files.dry_run, &mut openapi).await {
            Ok((done, _)) if matches!(output, Output::Message) => outln!("{}/{} {done}{suffix}", target.resource.kind_prefix(), target.name)?,
            Ok((_, object)) => print(object, &output, "")?,
            // As kubectl: go on with the rest, and report the failures at the end.
            Err(err) => errors.push(err),
        }
    }
    report(errors)
}

/// Creates or patches one object (`dry_run` of `client`: neither, as kubectl); what was done, in
/// kubectl's word, and the object as the server (or, in a client dry run, ctl) made it.
async fn apply_one(client: &kube::Client, target: &Target, query: &str, dry_run: &str, openapi: &mut OpenApi) -> Result<(&'static str, Value), CtlError> {
    let (object, annotation) = last_applied(target);
    let mut desired = object.clone();
    desired["metadata"]["annotations"][LAST_APPLIED] = json!(annotation);
    let item_path = target.resource.path(target.namespace.as_deref(), Some(&target.name));
    let current = match send(client, "GET", &item_path, "application/json", &Value::Null).await {
        Ok(current) => current,
        Err(CtlError::Server { reason, .. }) if reason == "NotFound" => {
            if dry_run == "client" {
                return Ok(("created", desired));
            }
            let collection = target.resource.path(target.namespace.as_deref(), None);
            let created = send(client, "POST", &format!("{collection}{query}"), "application/json", &desired)
                .await
                .map_err(|err| with_source(err, "creating", &target.manifest.source))?;
            return Ok(("created", created));
        }
        Err(err) => return Err(err),
    };
    if current["metadata"]["annotations"][LAST_APPLIED].is_null() && dry_run != "client" {
        // kubectl's warning, word for word (but in a client dry run, which patches nothing); the
        // annotation is added by the patch below.
        let resource = match target.resource.group.as_str() {
            "" => target.resource.plural.clone(),
            group => format!("{}.{group}", target.resource.plural),
        };
        eprintln!(
            "Warning: resource {resource}/{} is missing the {LAST_APPLIED} annotation which is required by kubectl apply. kubectl apply should only be used on resources created declaratively by either kubectl create --save-config or kubectl apply. The missing annotation will be patched automatically.",
            target.name
        );
    }
    let previous = previously_applied(&current);
    let PreparedPatch { patch, content_type, strategic } = prepare_patch(client, &target.resource, &previous, &desired, &current, openapi).await;
    // As kubectl: an empty patch is not sent.
    if patch == json!({}) {
        return Ok(("unchanged", current));
    }
    if dry_run == "client" {
        // kubectl merges the patch itself; ctl has the server do it without storing, which
        // prints the same object but for what the server would add (a new generation).
        let query = query.replacen("?", "?dryRun=All&", 1);
        let query = if query.is_empty() { "?dryRun=All".to_string() } else { query };
        let patched = send(client, "PATCH", &format!("{item_path}{query}"), content_type, &patch).await.map_err(|err| patch_error(err, &patch, target))?;
        return Ok(("configured", patched));
    }
    let dry_run = dry_run == "server";
    let patched = match send(client, "PATCH", &format!("{item_path}{query}"), content_type, &patch).await {
        // A server that lists strategic merge patches for a kind it cannot patch so (custom
        // resources, on this project's apiserver) gets the JSON merge patch it takes.
        Err(CtlError::Server { reason, .. }) if reason == "UnsupportedMediaType" && strategic => {
            let patch = three_way_json_merge(&previous, &desired, &current);
            send(client, "PATCH", &format!("{item_path}{query}"), "application/merge-patch+json", &patch).await.map_err(|err| patch_error(err, &patch, target))?
        }
        sent => sent.map_err(|err| patch_error(err, &patch, target))?,
    };
    let changed = patched["metadata"]["resourceVersion"] != current["metadata"]["resourceVersion"]
        || (dry_run && patched != current);
    Ok((if changed { "configured" } else { "unchanged" }, patched))
}

/// kubectl's words for a failed apply patch: the patch, the object it was for, and the file.
fn patch_error(err: CtlError, patch: &Value, target: &Target) -> CtlError {
    let resource = &target.resource;
    let source = source_name(&target.manifest.source);
    let context = format!(
        "error when applying patch:\n{patch}\nto:\nResource: \"{group}/{version}, Resource={plural}\", GroupVersionKind: \"{group}/{version}, Kind={kind}\"\nName: {name:?}, Namespace: {namespace:?}\nfor: {source:?}: error when patching {source:?}",
        patch = go_json(patch),
        group = resource.group,
        version = resource.version,
        plural = resource.plural,
        kind = resource.kind,
        name = target.name,
        namespace = target.namespace.as_deref().unwrap_or_default(),
    );
    match err {
        CtlError::Server { reason, message, details } => CtlError::Server { reason, message: format!("{context}: {message}"), details },
        other => CtlError::Usage(format!("{context}: {other}")),
    }
}

/// `apply --server-side`: each manifest sent whole as an apply patch, which creates what is
/// missing; kubectl's output (`serverside-applied`) and its hint on a conflict.
async fn apply_server_side(config: &Config, args: &ApplyArgs, validation: &str, output: &Output) -> Result<(), CtlError> {
    let (client, targets) = resolve(config, &args.files, "apply").await?;
    let dry_run = args.files.dry_run == "server";
    let suffix = if dry_run { " (server dry run)" } else { "" };
    let force = args.force_conflicts.to_string();
    let query = query(&[
        ("dryRun", if dry_run { "All" } else { "" }),
        ("fieldManager", &args.field_manager),
        ("fieldValidation", validation),
        ("force", &force),
    ]);
    let mut errors = Vec::new();
    for target in &targets {
        let mut object = target.manifest.object.clone();
        if let (Some(namespace), Some(metadata)) = (&target.namespace, object.get_mut("metadata").and_then(Value::as_object_mut)) {
            metadata.insert("namespace".into(), json!(namespace));
        }
        let item_path = target.resource.path(target.namespace.as_deref(), Some(&target.name));
        // kubectl keeps an object's last-applied annotation (of client-side applies before) up
        // to date: the manifest as sent, without annotations it did not have.
        if let Ok(current) = send(&client, "GET", &item_path, "application/json", &Value::Null).await
            && current["metadata"]["annotations"][LAST_APPLIED].is_string()
        {
            let mut recorded = object.clone();
            if let Some(annotations) = recorded.get_mut("metadata").and_then(|metadata| metadata.get_mut("annotations")).and_then(Value::as_object_mut) {
                annotations.remove(LAST_APPLIED);
            }
            let text = format!("{}\n", go_json(&recorded));
            object["metadata"]["annotations"][LAST_APPLIED] = json!(text);
        }
        match send(&client, "PATCH", &format!("{item_path}{query}"), "application/apply-patch+yaml", &object).await {
            Ok(_) if matches!(output, Output::Message) => outln!("{}/{} serverside-applied{suffix}", target.resource.kind_prefix(), target.name)?,
            Ok(applied) => print(applied, output, "")?,
            Err(CtlError::Server { reason, message, .. }) if reason == "Conflict" && message.starts_with("Apply failed") => {
                errors.push(CtlError::Usage(format!("{message}\n{CONFLICT_HINT}")));
            }
            Err(err) => errors.push(err),
        }
    }
    report(errors)
}

pub async fn delete(config: &Config, args: &FileArgs) -> Result<(), CtlError> {
    let (client, targets) = resolve(config, args, "delete").await?;
    let query = if args.dry_run == "server" { "?dryRun=All" } else { "" };
    let options = json!({"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"});
    let mut failed = 0;
    for target in &targets {
        let path = target.resource.path(target.namespace.as_deref(), Some(&target.name));
        // A client dry run deletes nothing: kubectl only reads the object.
        let method = if args.dry_run == "client" { "GET" } else { "DELETE" };
        match send(&client, method, &format!("{path}{query}"), "application/json", &options).await {
            Ok(_) => outln!("{} {:?} deleted{}", target.resource.kind_prefix(), target.name, args.dry_run_suffix())?,
            // As kubectl: report each failure and go on with the rest.
            Err(err) => {
                eprintln!("{err}");
                failed += 1;
            }
        }
    }
    if failed > 0 { Err(CtlError::Reported(failed)) } else { Ok(()) }
}
