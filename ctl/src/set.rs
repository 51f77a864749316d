//! `ctl set image|env|resources`: a change to the containers of the pod template of workloads
//! (or of Pods), as kubectl's `set` makes it, with its `image updated`-style lines.

use serde_json::{Map, Value, json};

use crate::discovery::send;
use crate::generate::dry_run_error;
use crate::output::outln;
use crate::patch::{FileOptions, Named, Selection, objects};
use crate::{Config, CtlError};

#[derive(Clone, Debug, clap::Subcommand)]
pub enum SetCommand {
    /// Change containers' images: CONTAINER=IMAGE (or *=IMAGE for all).
    #[command(after_help = "Examples:\n  ctl set image deployment/web nginx=nginx:1.27\n  ctl set image deployment web '*=nginx:1.27'")]
    Image(SetArgs),
    /// Set (KEY=VALUE) or remove (KEY-) environment variables, or --list them.
    #[command(after_help = "Examples:\n  ctl set env deployment/web MODE=fast\n  ctl set env deployment/web MODE-\n  ctl set env deployment/web --list")]
    Env(SetArgs),
    /// Set containers' resource requests and limits.
    #[command(after_help = "Examples:\n  ctl set resources deployment web --limits=cpu=200m,memory=512Mi --requests=cpu=100m")]
    Resources(SetArgs),
}

#[derive(Clone, Debug, clap::Args)]
pub struct SetArgs {
    /// TYPE NAME… or TYPE/NAME…, then the changes (CONTAINER=IMAGE, KEY=VALUE, KEY-).
    pub words: Vec<String>,
    /// The containers to change, by name or glob (`*`); all by default.
    #[arg(short = 'c', long, default_value = "*")]
    pub containers: String,
    /// Environment variables KEY=VALUE, repeatable (env).
    #[arg(short = 'e', long)]
    pub env: Vec<String>,
    /// Print the environment instead of changing it (env).
    #[arg(long)]
    pub list: bool,
    /// configmap/NAME or secret/NAME: a variable for each of its keys, taken from it (env).
    #[arg(long)]
    pub from: Option<String>,
    /// With --from: only these keys (env).
    #[arg(long, value_delimiter = ',')]
    pub keys: Vec<String>,
    /// Put this before the names of the variables set (env).
    #[arg(long)]
    pub prefix: Option<String>,
    /// NAME=QUANTITY,… limits (resources).
    #[arg(long)]
    pub limits: Option<String>,
    /// NAME=QUANTITY,… requests (resources).
    #[arg(long)]
    pub requests: Option<String>,
    /// The objects matching this label selector.
    #[arg(short = 'l', long)]
    pub selector: Option<String>,
    /// Every object of the type.
    #[arg(long)]
    pub all: bool,
    /// none, client (print only) or server (the server checks the change and keeps nothing).
    #[arg(long, default_value = "none", num_args = 0..=1, default_missing_value = "client")]
    pub dry_run: String,
}

/// The field manager kubectl's set names itself with, after ctl's own name.
const FIELD_MANAGER: &str = "ctl-set";

pub async fn run(config: &Config, command: &SetCommand) -> Result<(), CtlError> {
    let (args, what, change_name) = match command {
        SetCommand::Image(args) => (args, "image updated", "image"),
        SetCommand::Env(args) => (args, "env updated", "env"),
        SetCommand::Resources(args) => (args, "resource requirements updated", "resources"),
    };
    let (query, suffix) = match args.dry_run.as_str() {
        "none" => (Some(format!("?fieldManager={FIELD_MANAGER}")), ""),
        "server" => (Some(format!("?fieldManager={FIELD_MANAGER}&dryRun=All")), " (server dry run)"),
        "client" => (None, " (dry run)"),
        other => return Err(dry_run_error(other)),
    };
    // The changes are the words with `=` (or a trailing `-` for env); the rest name objects.
    let is_change = |word: &String| word.contains('=') || (matches!(command, SetCommand::Env(_)) && word.ends_with('-'));
    let first_change = args.words.iter().position(is_change).unwrap_or(args.words.len());
    if matches!(command, SetCommand::Env(_)) && args.words[first_change..].iter().any(|word| !is_change(word)) {
        return Err(CtlError::Usage(format!("all resources must be specified before environment changes: {}", args.words.join(" "))));
    }
    if matches!(command, SetCommand::Env(_)) && !args.keys.is_empty() && args.from.is_none() {
        return Err(CtlError::Usage("when specifying --keys, a configmap or secret must be provided with --from".into()));
    }
    let names: Vec<String> = args.words.iter().filter(|word| !is_change(word)).cloned().collect();
    let changes: Vec<&String> = args.words.iter().filter(|word| is_change(word)).collect();
    let files = FileOptions { files: Vec::new(), recursive: false, dry_run: "none".into() };
    let selection = Selection { words: &names, files: &files, selector: args.selector.as_deref(), all: args.all };
    let (client, targets) = objects(config, &selection, "set").await?;
    // As kubectl, the objects are read before the changes are checked.
    let mut found = Vec::new();
    for target in &targets {
        let path = target.resource.path(target.namespace.as_deref(), Some(&target.name));
        found.push((target, send(&client, "GET", &path, "application/json", &Value::Null).await?, path));
    }
    let mut change = Change::parse(command, args, &changes)?;
    if let (Change::Env(set, _), SetCommand::Env(_)) = (&mut change, command) {
        if let Some(from) = &args.from {
            let (_, namespace) = crate::kubeconfig::client_config(config).await?;
            set.extend(from_variables(&client, &namespace, from, &args.keys).await?);
        }
        if let Some(prefix) = &args.prefix {
            for variable in set.iter_mut() {
                let name = format!("{prefix}{}", variable["name"].as_str().unwrap_or_default());
                variable["name"] = json!(name);
            }
        }
    }
    for (target, object, path) in found {
        let Some(spec_path) = pod_spec_path(&target.resource.kind) else {
            let kind = format!("*{}.{}", target.resource.version, target.resource.kind);
            return Err(CtlError::Usage(format!("{}/{} the object is not a pod or does not have a pod template: {kind}", target.resource.plural, target.name)));
        };
        let mut spec = spec_path.iter().fold(&object, |value, key| &value[key]).clone();
        if matches!(command, SetCommand::Env(_)) && !containers(&spec).any(|container| selected(container, &args.containers)) {
            eprintln!("Warning: {}/{} does not have any containers matching {:?}", target.resource.kind, target.name, args.containers);
        }
        let before = spec.clone();
        change.apply(&mut spec, &args.containers)?;
        // As kubectl, the list shows the environment with the command's changes made.
        if args.list {
            list(target, &spec, &args.containers)?;
            continue;
        }
        // kubectl says nothing of an object the change leaves as it was.
        if spec == before {
            continue;
        }
        // Only the container lists change; a merge patch replaces each list with its new self.
        let mut patch = json!({});
        for list in ["initContainers", "containers"] {
            if spec[list].is_array() {
                patch[list] = spec[list].clone();
            }
        }
        let patch = spec_path.iter().rev().fold(patch, |inner, key| json!({ *key: inner }));
        if let Some(query) = &query {
            match send(&client, "PATCH", &format!("{path}{query}"), "application/merge-patch+json", &patch).await {
                Err(CtlError::Server { message, .. }) => return Err(CtlError::Usage(format!("failed to patch {change_name} update to pod template: {message}"))),
                sent => sent?,
            };
        }
        outln!("{}/{} {what}{suffix}", target.resource.kind_prefix(), target.name)?;
    }
    Ok(())
}

/// `--from`: a variable for each key (of `keys`, when given) of the ConfigMaps or Secrets named,
/// referring to it there; kubectl's warning for each key renamed to be a variable's name.
async fn from_variables(client: &kube::Client, namespace: &str, from: &str, keys: &[String]) -> Result<Vec<Value>, CtlError> {
    let served = crate::discovery::discover(client).await?;
    let (kind, name) = from.split_once('/').map_or((from, None), |(kind, name)| (kind, Some(name)));
    let resource = crate::commands::find(&served, kind)?;
    let Some(name) = name else {
        return Err(CtlError::Usage("resource(s) were provided, but no name was specified".into()));
    };
    let source = send(client, "GET", &resource.path(Some(namespace), Some(name)), "application/json", &Value::Null).await?;
    let reference = match resource.kind.as_str() {
        "ConfigMap" if resource.group.is_empty() => "configMapKeyRef",
        "Secret" if resource.group.is_empty() => "secretKeyRef",
        _ => return Err(CtlError::Usage("unsupported resource specified in --from".into())),
    };
    let mut variables = Vec::new();
    // kubectl walks Go's map in its random order; ctl walks the keys sorted.
    for key in source["data"].as_object().into_iter().flat_map(|data| data.keys()) {
        if !keys.is_empty() && !keys.contains(key) {
            continue;
        }
        let variable = env_name(key);
        if variable != *key {
            eprintln!("Warning: key {key} transferred to {variable}");
        }
        variables.push(json!({"name": variable, "valueFrom": {reference: {"key": key, "name": name}}}));
    }
    Ok(variables)
}

/// kubectl's `keyToEnvName`: upper case, with `_` for what a variable's name cannot hold.
fn env_name(key: &str) -> String {
    key.chars().map(|char| if char.is_ascii_alphanumeric() || char == '_' { char.to_ascii_uppercase() } else { '_' }).collect()
}

/// Where a kind keeps the spec of its pods, if it has pods.
fn pod_spec_path(kind: &str) -> Option<&'static [&'static str]> {
    match kind {
        "Pod" => Some(&["spec"]),
        "CronJob" => Some(&["spec", "jobTemplate", "spec", "template", "spec"]),
        "Deployment" | "ReplicaSet" | "StatefulSet" | "DaemonSet" | "ReplicationController" | "Job" => Some(&["spec", "template", "spec"]),
        _ => None,
    }
}

/// `--list`: each selected container's variables, as kubectl prints them.
fn list(target: &Named, spec: &Value, selector: &str) -> Result<(), CtlError> {
    for container in containers(spec).filter(|container| selected(container, selector)) {
        outln!("# {} {}, container {}", target.resource.kind, target.name, container["name"].as_str().unwrap_or_default())?;
        for variable in container["env"].as_array().into_iter().flatten() {
            let name = variable["name"].as_str().unwrap_or_default();
            let from = &variable["valueFrom"];
            let text = |value: &Value| value.as_str().unwrap_or_default().to_string();
            let source = if from["fieldRef"].is_object() {
                Some(format!("field path {}", text(&from["fieldRef"]["fieldPath"])))
            } else if from["resourceFieldRef"].is_object() {
                Some(format!("resource field {}", text(&from["resourceFieldRef"]["resource"])))
            } else if from["configMapKeyRef"].is_object() {
                Some(format!("configmap {}, key {}", text(&from["configMapKeyRef"]["name"]), text(&from["configMapKeyRef"]["key"])))
            } else if from["secretKeyRef"].is_object() {
                Some(format!("secret {}, key {}", text(&from["secretKeyRef"]["name"]), text(&from["secretKeyRef"]["key"])))
            } else {
                None
            };
            match source {
                Some(source) => outln!("# {name} from {source}")?,
                None => outln!("{name}={}", text(&variable["value"]))?,
            }
        }
    }
    Ok(())
}

fn containers(spec: &Value) -> impl Iterator<Item = &Value> {
    ["initContainers", "containers"].into_iter().flat_map(|list| spec[list].as_array().into_iter().flatten())
}

/// The containers, to change; no list is added where there was none.
fn containers_mut(spec: &mut Value) -> impl Iterator<Item = &mut Value> {
    let Some(spec) = spec.as_object_mut() else { return Vec::new().into_iter() };
    let lists = spec.iter_mut().filter(|(key, _)| *key == "initContainers" || *key == "containers");
    lists.flat_map(|(_, list)| list.as_array_mut().into_iter().flatten()).collect::<Vec<_>>().into_iter()
}

/// A container name matched against `-c`: a name, or a glob with `*`.
fn selected(container: &Value, selector: &str) -> bool {
    let name = container["name"].as_str().unwrap_or_default();
    match selector.split_once('*') {
        None => name == selector,
        Some((prefix, suffix)) => name.len() >= prefix.len() + suffix.len() && name.starts_with(prefix) && name.ends_with(suffix),
    }
}

enum Change {
    /// CONTAINER=IMAGE pairs.
    Image(Vec<(String, String)>),
    /// Variables set (whole EnvVars, by value or from a source), then names removed.
    Env(Vec<Value>, Vec<String>),
    Resources { limits: Map<String, Value>, requests: Map<String, Value> },
}

impl Change {
    fn parse(command: &SetCommand, args: &SetArgs, changes: &[&String]) -> Result<Change, CtlError> {
        let pairs = |words: &mut dyn Iterator<Item = &String>| -> Vec<(String, String)> {
            words.filter_map(|word| word.split_once('=')).map(|(key, value)| (key.to_string(), value.to_string())).collect()
        };
        match command {
            SetCommand::Image(_) => {
                if changes.is_empty() {
                    return Err(CtlError::Usage("at least one image update is required".into()));
                }
                Ok(Change::Image(pairs(&mut changes.iter().copied())))
            }
            SetCommand::Env(_) => {
                let set = pairs(&mut args.env.iter().chain(changes.iter().copied().filter(|word| word.contains('='))));
                let removed: Vec<String> = changes.iter().filter(|word| !word.contains('=')).map(|word| word[..word.len() - 1].to_string()).collect();
                if let Some((name, _)) = set.iter().find(|(name, _)| !is_env_name(name)) {
                    return Err(CtlError::Usage(format!(
                        "{name:?} is not a valid key name: a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.', and must not start with a digit (e.g. 'my.env-name',  or 'MY_ENV.NAME',  or 'MyEnvName1', regex used for validation is '[-._a-zA-Z][-._a-zA-Z0-9]*')"
                    )));
                }
                if removed.iter().any(|name| set.iter().any(|(key, _)| key == name)) {
                    return Err(CtlError::Usage("can not both modify and remove the same environment variable in the same command".into()));
                }
                Ok(Change::Env(set.into_iter().map(|(name, value)| json!({"name": name, "value": value})).collect(), removed))
            }
            SetCommand::Resources(_) => {
                let quantities = |text: &Option<String>| -> Map<String, Value> {
                    text.iter().flat_map(|text| text.split(',')).filter_map(|pair| pair.split_once('=')).map(|(key, value)| (key.to_string(), json!(value))).collect()
                };
                let (limits, requests) = (quantities(&args.limits), quantities(&args.requests));
                if limits.is_empty() && requests.is_empty() {
                    return Err(CtlError::Usage("you must specify an update to requests or limits (in the form of --requests/--limits)".into()));
                }
                Ok(Change::Resources { limits, requests })
            }
        }
    }

    /// Changes the containers of the pod spec. Errors and warnings in kubectl's words.
    fn apply(&self, spec: &mut Value, selector: &str) -> Result<(), CtlError> {
        match self {
            Change::Image(images) => {
                for (container, image) in images {
                    let mut found = false;
                    for entry in containers_mut(spec).filter(|entry| container == "*" || entry["name"] == json!(container)) {
                        entry["image"] = json!(image);
                        found = true;
                    }
                    if !found {
                        return Err(CtlError::Usage(format!("unable to find container named {container:?}")));
                    }
                }
            }
            Change::Env(set, removed) => {
                for entry in containers_mut(spec).filter(|entry| selected(entry, selector)) {
                    let env = updated_env(entry["env"].as_array().map(Vec::as_slice).unwrap_or_default(), set, removed);
                    if let Some(entry) = entry.as_object_mut() {
                        if env.is_empty() {
                            entry.remove("env");
                        } else {
                            entry.insert("env".into(), json!(env));
                        }
                    }
                }
            }
            Change::Resources { limits, requests } => {
                let mut found = false;
                for entry in containers_mut(spec).filter(|entry| selected(entry, selector)) {
                    found = true;
                    for (field, values) in [("limits", limits), ("requests", requests)] {
                        for (key, value) in values {
                            entry["resources"][field][key] = value.clone();
                        }
                    }
                }
                if !found {
                    return Err(CtlError::Usage(format!("unable to find container named {selector}")));
                }
            }
        }
        Ok(())
    }
}

/// Kubernetes' `IsEnvVarName`: `[-._a-zA-Z][-._a-zA-Z0-9]*`.
fn is_env_name(name: &str) -> bool {
    let allowed = |char: char| char.is_ascii_alphanumeric() || "-._".contains(char);
    name.chars().next().is_some_and(|first| allowed(first) && !first.is_ascii_digit()) && name.chars().all(allowed)
}

/// kubectl's `updateEnv`: removed names dropped, set ones replaced where they stand, new ones
/// appended in order.
fn updated_env(existing: &[Value], set: &[Value], removed: &[String]) -> Vec<Value> {
    let name_of = |variable: &Value| variable["name"].as_str().unwrap_or_default().to_string();
    let mut covered: Vec<String> = removed.to_vec();
    let mut out = Vec::new();
    for variable in existing {
        let name = name_of(variable);
        if covered.contains(&name) {
            continue;
        }
        match set.iter().find(|new| name_of(new) == name) {
            Some(new) => {
                covered.push(name);
                out.push(new.clone());
            }
            None => out.push(variable.clone()),
        }
    }
    for new in set {
        if !covered.contains(&name_of(new)) {
            covered.push(name_of(new));
            out.push(new.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_updates_as_kubectl() {
        let existing = vec![json!({"name": "A", "value": "1"}), json!({"name": "B", "value": "2"}), json!({"name": "C", "value": "3"})];
        let set = vec![json!({"name": "B", "value": "20"}), json!({"name": "D", "value": "4"})];
        assert_eq!(
            updated_env(&existing, &set, &["A".to_string()]),
            vec![json!({"name": "B", "value": "20"}), json!({"name": "C", "value": "3"}), json!({"name": "D", "value": "4"})]
        );
    }

    #[test]
    fn container_globs() {
        assert!(selected(&json!({"name": "web"}), "*"));
        assert!(selected(&json!({"name": "web-side"}), "web*"));
        assert!(!selected(&json!({"name": "db"}), "web"));
    }
}
