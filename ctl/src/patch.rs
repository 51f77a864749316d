//! `ctl patch`: a strategic merge, merge or JSON patch sent to each named object (or one of its
//! subresources), as `kubectl patch` sends it; and [`objects`], the `TYPE NAME…`, `TYPE/NAME…`,
//! `-f`, `-l` and `--all` forms by which `patch`, `label` and `annotate` name their objects.

use std::path::PathBuf;

use serde_json::Value;

use crate::apply::{FileArgs, query, report, resolve};
use crate::commands::find;
use crate::discovery::{Resource, discover, encode, get_json, send};
use crate::printer::{Output, print};
use crate::kubeconfig::client_and_namespace;
use crate::output::outln;
use crate::{Config, CtlError};

#[derive(Clone, Debug, clap::Args)]
#[command(after_help = "Examples:
  ctl patch deployment web -p '{\"spec\":{\"replicas\":3}}'
  ctl patch cm/settings --type merge -p '{\"data\":{\"mode\":\"fast\"}}'
  ctl patch pod web-0 --type json -p '[{\"op\":\"remove\",\"path\":\"/metadata/labels/debug\"}]'
  ctl patch deployment web --subresource scale -p '{\"spec\":{\"replicas\":0}}'
  ctl patch -f web.yaml --patch-file change.yaml")]
pub struct PatchArgs {
    /// TYPE NAME…, or TYPE/NAME…
    pub objects: Vec<String>,
    /// The patch, as JSON or YAML.
    #[arg(short = 'p', long)]
    pub patch: Option<String>,
    /// A file holding the patch, as JSON or YAML.
    #[arg(long)]
    pub patch_file: Option<PathBuf>,
    /// strategic (the default), merge (RFC 7386) or json (RFC 6902).
    #[arg(long = "type", default_value = "strategic")]
    pub patch_type: String,
    /// Patch this subresource (status, scale) rather than the object.
    #[arg(long)]
    pub subresource: Option<String>,
    #[command(flatten)]
    pub files: FileOptions,
    /// yaml, json, name, jsonpath=TEMPLATE or go-template=TEMPLATE: print each patched object.
    #[arg(short = 'o', long)]
    pub output: Option<String>,
}

/// `-f`, `-R` and `--dry-run` of the verbs that can also name their objects in other ways.
#[derive(Clone, Debug, clap::Args)]
pub struct FileOptions {
    /// Manifest files or directories, or - for standard input, naming the objects.
    #[arg(short = 'f', long = "filename")]
    pub files: Vec<PathBuf>,
    /// Read directories recursively.
    #[arg(short = 'R', long)]
    pub recursive: bool,
    /// `server` to have the server check everything without storing it; `client` to only print
    /// what would be sent.
    #[arg(long, value_parser = ["none", "server", "client"], default_value = "none")]
    pub dry_run: String,
}

impl FileOptions {
    /// What kubectl adds to its message for the dry run asked for.
    pub fn dry_run_suffix(&self) -> &'static str {
        match self.dry_run.as_str() {
            "server" => " (server dry run)",
            "client" => " (dry run)",
            _ => "",
        }
    }

    pub fn file_args(&self) -> FileArgs {
        FileArgs { files: self.files.clone(), recursive: self.recursive, dry_run: self.dry_run.clone() }
    }

    pub fn dry_run(&self) -> bool {
        self.dry_run == "server"
    }
}

/// An object named on the command line or in a manifest.
pub struct Named {
    pub resource: Resource,
    /// `None` for cluster-scoped kinds.
    pub namespace: Option<String>,
    pub name: String,
}

/// How a verb was told which objects to act on.
pub struct Selection<'a> {
    pub words: &'a [String],
    pub files: &'a FileOptions,
    pub selector: Option<&'a str>,
    pub all: bool,
}

/// The objects a selection names, as kubectl's resource builder finds them: from manifests, from
/// `TYPE/NAME` words, from a type (or several, comma-separated) and names, or from a type with
/// `-l` or `--all` (listed now). `verb` names the command in errors.
pub async fn objects(config: &Config, selection: &Selection<'_>, verb: &str) -> Result<(kube::Client, Vec<Named>), CtlError> {
    if !selection.files.files.is_empty() {
        let (client, targets) = resolve(config, &selection.files.file_args(), verb).await?;
        let named = targets.into_iter().map(|target| Named { resource: target.resource, namespace: target.namespace, name: target.name }).collect();
        return Ok((client, named));
    }
    let Some(first) = selection.words.first() else {
        return Err(CtlError::Usage("You must provide one or more resources by argument or filename.\nExample resource specifications include:\n   '-f rsrc.yaml'\n   '--filename=rsrc.json'\n   '<resource> <name>'\n   '<resource>'".into()));
    };
    let (client, namespace) = client_and_namespace(config).await?;
    let served = discover(&client).await?;
    let named = |resource: &Resource, name: &str| Named {
        resource: resource.clone(),
        namespace: resource.namespaced.then(|| namespace.clone()),
        name: name.to_string(),
    };
    let mut found = Vec::new();
    if first.contains('/') {
        for word in selection.words {
            let (kind, name) = word.split_once('/').ok_or_else(|| {
                CtlError::Usage("there is no need to specify a resource type as a separate argument when passing arguments in resource/name form (e.g. 'ctl get resource/<resource_name>' instead of 'ctl get resource resource/<resource_name>'".into())
            })?;
            found.push(named(find(&served, kind)?, name));
        }
        return Ok((client, found));
    }
    let resources = first.split(',').map(|kind| find(&served, kind)).collect::<Result<Vec<_>, _>>()?;
    let names = &selection.words[1..];
    for resource in resources {
        if !names.is_empty() {
            found.extend(names.iter().map(|name| named(resource, name)));
            continue;
        }
        if selection.selector.is_none() && !selection.all {
            return Err(CtlError::Usage("resource(s) were provided, but no name was specified".into()));
        }
        let mut path = resource.path(Some(&namespace), None);
        if let Some(selector) = selection.selector {
            path.push_str(&format!("?labelSelector={}", encode(selector)));
        }
        let list = get_json(&client, &path, "application/json").await?;
        for item in list["items"].as_array().into_iter().flatten() {
            found.push(named(resource, item["metadata"]["name"].as_str().unwrap_or_default()));
        }
    }
    Ok((client, found))
}

/// `deployment.apps` or `scale.autoscaling`: how kubectl names what the server answered with.
pub fn kind_prefix_of(object: &Value, resource: &Resource) -> String {
    let kind = object["kind"].as_str().unwrap_or_default().to_ascii_lowercase();
    if kind.is_empty() {
        return resource.kind_prefix();
    }
    match object["apiVersion"].as_str().and_then(|version| version.split_once('/')) {
        Some((group, _)) => format!("{kind}.{group}"),
        None => kind,
    }
}

/// The patch text of `-p` or `--patch-file`, read as kubectl reads it (YAML, of which JSON is a part).
fn patch_body(args: &PatchArgs) -> Result<Value, CtlError> {
    let text = match (&args.patch, &args.patch_file) {
        (_, Some(path)) => std::fs::read_to_string(path).map_err(|err| {
            // Go's words for the usual failures, as kubectl prints them.
            let cause = match err.kind() {
                std::io::ErrorKind::NotFound => "no such file or directory".to_string(),
                std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
                _ => err.to_string(),
            };
            CtlError::Usage(format!("unable to read patch file: open {}: {cause}", path.display()))
        })?,
        (patch, None) => patch.clone().unwrap_or_default(),
    };
    serde_yaml_ng::from_str(&text).map_err(|err| CtlError::Usage(format!("unable to parse {text:?}: {err}")))
}

pub async fn patch(config: &Config, args: &PatchArgs) -> Result<(), CtlError> {
    // kubectl's order of checks: the patch given once, then its type, then its text.
    match (&args.patch, &args.patch_file) {
        (Some(_), Some(_)) => return Err(CtlError::Usage("cannot specify --patch and --patch-file together".into())),
        (Some(patch), None) if !patch.is_empty() => {}
        (None, Some(_)) => {}
        _ => return Err(CtlError::Usage("must specify --patch or --patch-file containing the contents of the patch".into())),
    }
    let content_type = match args.patch_type.to_ascii_lowercase().as_str() {
        "strategic" => "application/strategic-merge-patch+json",
        "merge" => "application/merge-patch+json",
        "json" => "application/json-patch+json",
        _ => return Err(CtlError::Usage(format!("--type must be one of [json merge strategic], not {:?}", args.patch_type))),
    };
    let body = patch_body(args)?;
    let output = Output::parse(args.output.as_deref())?;
    let selection = Selection { words: &args.objects, files: &args.files, selector: None, all: false };
    let (client, targets) = objects(config, &selection, "patch").await?;
    let client_dry_run = args.files.dry_run == "client";
    // A patch kubectl would apply on its own (`--dry-run=client`) but ctl cannot without the
    // schema (a strategic patch of lists, a JSON patch) is applied by the server without storing.
    let local = client_dry_run && (args.patch_type.eq_ignore_ascii_case("merge") || (args.patch_type.eq_ignore_ascii_case("strategic") && !has_lists(&body)));
    let server_dry_run = args.files.dry_run() || (client_dry_run && !local);
    let query = query(&[("dryRun", if server_dry_run { "All" } else { "" }), ("fieldManager", FIELD_MANAGER)]);
    let mut errors = Vec::new();
    for target in &targets {
        let mut path = target.resource.path(target.namespace.as_deref(), Some(&target.name));
        if let Some(subresource) = &args.subresource {
            path.push_str(&format!("/{subresource}"));
        }
        // kubectl reads the object first and says "(no change)" when the patch left it as it was.
        let patched = match send(&client, "GET", &path, "application/json", &Value::Null).await {
            Ok(before) if local => {
                let after = merge_patch(before.clone(), &body);
                Ok((before, after))
            }
            Ok(before) => send(&client, "PATCH", &format!("{path}{query}"), content_type, &body).await.map(|after| (before, after)),
            Err(err) => Err(err),
        };
        match patched {
            Ok((before, after)) => {
                let label = format!("{}/{}", kind_prefix_of(&after, &target.resource), target.name);
                // kubectl's patch says nothing of a dry run.
                match (&output, before == after) {
                    (Output::Message, false) => outln!("{label} patched")?,
                    (Output::Message, true) => outln!("{label} patched (no change)")?,
                    (output, _) => print(after, output, "")?,
                }
            }
            Err(err) => errors.push(err),
        }
    }
    report(errors)
}

/// Whether a patch holds a list anywhere: where strategic and JSON merge patches may differ.
fn has_lists(patch: &Value) -> bool {
    match patch {
        Value::Array(_) => true,
        Value::Object(map) => map.values().any(has_lists),
        _ => false,
    }
}

/// RFC 7386: the patch's fields replace the target's, a null removes one, maps merge.
fn merge_patch(target: Value, patch: &Value) -> Value {
    let Value::Object(patch) = patch else {
        return patch.clone();
    };
    let mut target = match target {
        Value::Object(map) => map,
        _ => serde_json::Map::new(),
    };
    for (key, value) in patch {
        if value.is_null() {
            target.remove(key);
        } else {
            let current = target.remove(key).unwrap_or(Value::Null);
            target.insert(key.clone(), merge_patch(current, value));
        }
    }
    Value::Object(target)
}

/// The field manager kubectl's patch names itself with, after ctl's own name.
const FIELD_MANAGER: &str = "ctl-patch";
