//! Kubeconfig files in kubectl's format, loaded as client-go's `clientcmd` loads them:
//! `--kubeconfig` alone, else every file of `$KUBECONFIG` merged, else `~/.kube/config`. Also the
//! client for a context and the `config` subcommands.

use std::path::{Path, PathBuf};

use kube::config::{KubeConfigOptions, Kubeconfig};
use serde_json::Value;

use crate::output::{out, outln};
use crate::{Config, CtlError};

#[derive(Debug, thiserror::Error)]
pub enum KubeconfigError {
    #[error("no kubeconfig found: pass --kubeconfig, set $KUBECONFIG, or create ~/.kube/config")]
    NotFound,
    /// As kubectl words a missing --kubeconfig file for commands that talk to the server.
    #[error("stat {0}: no such file or directory")]
    Missing(String),
    #[error("cannot read the kubeconfig {path}: {source}")]
    Read { path: String, source: kube::config::KubeconfigError },
    #[error("cannot use the kubeconfig {path}: {source}")]
    Invalid { path: String, source: kube::config::KubeconfigError },
    #[error("no context exists with the name: {0:?}")]
    NoContext(String),
    #[error("current-context is not set")]
    NoCurrentContext,
    /// A command that needs a context, with none chosen by the files or by --context.
    #[error("current-context is not set in the kubeconfig {0}: pass --context or run `ctl config use-context NAME`")]
    NoContextToUse(String),
    #[error("cannot write the kubeconfig {path}: {message}")]
    Write { path: String, message: String },
}

#[derive(Clone, Debug, clap::Subcommand)]
pub enum ConfigCommand {
    /// Print the current context.
    #[command(after_help = "Examples:\n  ctl config current-context")]
    CurrentContext,
    /// Make a context the current one (in the first kubeconfig file that exists).
    #[command(after_help = "Examples:\n  ctl config use-context kind-demo\n  KUBECONFIG=~/.kube/config:~/work.yaml ctl config use-context work")]
    UseContext { name: String },
    /// List the contexts.
    #[command(after_help = "Examples:\n  ctl config get-contexts\n  KUBECONFIG=a.yaml:b.yaml ctl config get-contexts")]
    GetContexts,
    /// Print the merged kubeconfig, with credentials left out unless --raw.
    #[command(after_help = "Examples:\n  ctl config view\n  KUBECONFIG=a.yaml:b.yaml ctl config view --raw\n  ctl config view --minify --flatten\n  ctl config view -o jsonpath='{.users[0].name}'")]
    View {
        /// Print credentials too.
        #[arg(long)]
        raw: bool,
        /// Only the current context (or --context), its cluster and its user.
        #[arg(long)]
        minify: bool,
        /// Certificate and key files read into the config, for a config that stands alone.
        #[arg(long)]
        flatten: bool,
        /// yaml (the default), json, jsonpath=TEMPLATE or go-template=TEMPLATE.
        #[arg(short = 'o', long, default_value = "yaml")]
        output: String,
    },
}

/// The kubeconfig files in client-go's order of precedence: `--kubeconfig` alone, else the
/// entries of `$KUBECONFIG` (empty ones ignored, repeats dropped; missing ones are kept here
/// for `use-context` and skipped when reading), else `~/.kube/config`.
fn paths(config: &Config) -> Result<Vec<PathBuf>, KubeconfigError> {
    if let Some(path) = &config.kubeconfig {
        return Ok(vec![path.clone()]);
    }
    let mut listed: Vec<PathBuf> = Vec::new();
    if let Some(value) = std::env::var_os("KUBECONFIG") {
        for path in std::env::split_paths(&value).filter(|path| !path.as_os_str().is_empty()) {
            if !listed.contains(&path) {
                listed.push(path);
            }
        }
    }
    if listed.is_empty() {
        let home = std::env::var_os("HOME").ok_or(KubeconfigError::NotFound)?;
        listed.push(PathBuf::from(home).join(".kube/config"));
    }
    Ok(listed)
}

/// The files read and their merged content.
struct Loaded {
    paths: Vec<PathBuf>,
    merged: Kubeconfig,
}

/// The files as errors name them, in `$KUBECONFIG`'s form.
fn names(paths: &[PathBuf]) -> String {
    paths.iter().map(|path| path.display().to_string()).collect::<Vec<_>>().join(":")
}

/// Reads and merges the files: the first to set a value or a named cluster, user or context
/// wins it whole (kube's `merge` does this). For a client (`resolve`), relative file paths become
/// absolute against each file's directory and a --kubeconfig file must exist; the `config`
/// commands show paths as written and take a missing file as empty, as kubectl does.
fn load(config: &Config, resolve: bool) -> Result<Loaded, KubeconfigError> {
    let paths = paths(config)?;
    if resolve
        && let Some(explicit) = &config.kubeconfig
        && !explicit.exists()
    {
        return Err(KubeconfigError::Missing(explicit.display().to_string()));
    }
    let mut merged = Kubeconfig::default();
    for path in paths.iter().filter(|path| path.exists()) {
        let read_error = |source| KubeconfigError::Read { path: path.display().to_string(), source };
        let mut file = if resolve {
            Kubeconfig::read_from(path).map_err(read_error)?
        } else {
            let text = std::fs::read_to_string(path)
                .map_err(|err| read_error(kube::config::KubeconfigError::ReadConfig(err, path.clone())))?;
            Kubeconfig::from_yaml(&text).map_err(read_error)?
        };
        // kind and our cluster tool leave `current-context: ""` after a delete; client-go's merge
        // takes an empty string as unset, so a later file's context still counts.
        file.current_context = file.current_context.filter(|name| !name.is_empty());
        merged = merged.merge(file).map_err(|source| KubeconfigError::Invalid { path: path.display().to_string(), source })?;
    }
    Ok(Loaded { paths, merged })
}

/// The names of the merged files' contexts, clusters and users, each sorted, for shell
/// completion (client-go keeps them in maps, so kubectl's order is random).
pub fn entry_names(config: &Config) -> Result<[Vec<String>; 3], CtlError> {
    let merged = load(config, false)?.merged;
    let sorted = |mut names: Vec<String>| {
        names.sort();
        names
    };
    Ok([
        sorted(merged.contexts.iter().map(|entry| entry.name.clone()).collect()),
        sorted(merged.clusters.iter().map(|entry| entry.name.clone()).collect()),
        sorted(merged.auth_infos.iter().map(|entry| entry.name.clone()).collect()),
    ])
}

/// The client configuration for the chosen context, and the namespace commands default to.
pub async fn client_config(config: &Config) -> Result<(kube::Config, String), CtlError> {
    let Loaded { paths, merged } = load(config, true)?;
    let context_name = match config.context.clone().or_else(|| merged.current_context.clone()) {
        Some(name) => name,
        None => return Err(KubeconfigError::NoContextToUse(names(&paths)).into()),
    };
    let Some(context) = merged.contexts.iter().find(|context| context.name == context_name) else {
        return Err(KubeconfigError::NoContext(context_name).into());
    };
    let context_namespace = context.context.as_ref().and_then(|context| context.namespace.clone());
    let options = KubeConfigOptions { context: Some(context_name), ..KubeConfigOptions::default() };
    let mut client_config = kube::Config::from_custom_kubeconfig(merged, &options)
        .await
        .map_err(|source| KubeconfigError::Invalid { path: names(&paths), source })?;
    // kubectl does not retry a 503 on its own; kube's default retry would hold `ctl logs` for
    // half a minute before saying that no kubelet answers.
    client_config.default_retry = false;
    let namespace = config.namespace.clone().or(context_namespace).unwrap_or_else(|| "default".to_string());
    Ok((client_config, namespace))
}

/// The server's `host:port` as the chosen context's cluster names it, for kubectl's
/// connection errors; `None` when the kubeconfig does not say.
pub async fn server_address(config: &Config) -> Option<String> {
    let (client_config, _) = client_config(config).await.ok()?;
    client_config.cluster_url.authority().map(ToString::to_string)
}

/// kubectl's words for a request that found no server at `server` (client-go's
/// `StandardErrorMessage`).
pub fn unreachable(err: &kube::Error, server: &str) -> String {
    let mut cause: &dyn std::error::Error = err;
    while let Some(next) = cause.source() {
        if next.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::ConnectionRefused) {
            return format!("The connection to the server {server} was refused - did you specify the right host or port?");
        }
        cause = next;
    }
    format!("Unable to connect to the server: {cause}")
}

/// A client for the chosen context, and the namespace commands default to.
pub async fn client_and_namespace(config: &Config) -> Result<(kube::Client, String), CtlError> {
    let (client_config, namespace) = client_config(config).await?;
    Ok((kube::Client::try_from(client_config)?, namespace))
}

pub async fn client(config: &Config) -> Result<kube::Client, CtlError> {
    Ok(client_and_namespace(config).await?.0)
}

pub fn run(config: &Config, command: &ConfigCommand) -> Result<(), CtlError> {
    let loaded = load(config, false)?;
    let kubeconfig = &loaded.merged;
    match command {
        ConfigCommand::CurrentContext => {
            let current = kubeconfig.current_context.as_ref().ok_or(KubeconfigError::NoCurrentContext)?;
            outln!("{current}")?;
        }
        ConfigCommand::UseContext { name } => {
            if !kubeconfig.contexts.iter().any(|context| &context.name == name) {
                return Err(KubeconfigError::NoContext(name.clone()).into());
            }
            // As kubectl, a context that is already current leaves every file untouched.
            if kubeconfig.current_context.as_ref() != Some(name) {
                let path = current_context_file(&loaded.paths);
                write_current_context(&path, name)
                    .map_err(|message| KubeconfigError::Write { path: path.display().to_string(), message })?;
            }
            outln!("Switched to context {name:?}.")?;
        }
        ConfigCommand::GetContexts => {
            let mut contexts: Vec<_> = kubeconfig.contexts.iter().collect();
            contexts.sort_by(|a, b| a.name.cmp(&b.name));
            let mut rows = vec![["CURRENT", "NAME", "CLUSTER", "AUTHINFO", "NAMESPACE"].map(String::from).to_vec()];
            for named in contexts {
                let current = if kubeconfig.current_context.as_ref() == Some(&named.name) { "*" } else { "" };
                let context = named.context.clone().unwrap_or_default();
                rows.push(vec![
                    current.to_string(),
                    named.name.clone(),
                    context.cluster,
                    context.user.unwrap_or_default(),
                    context.namespace.unwrap_or_default(),
                ]);
            }
            out!("{}", padded(&rows))?;
        }
        ConfigCommand::View { raw, minify, flatten, output } => {
            let output = crate::printer::Output::parse(Some(output))?;
            let mut document = view(kubeconfig)?;
            if *minify {
                minified(&mut document, config.context.as_deref())?;
            }
            // As kubectl: a flattened config keeps its credentials.
            if *flatten {
                flattened(&mut document, &loaded.paths)?;
            } else if !raw {
                redact(&mut document);
            }
            crate::printer::print(document, &output, "")?;
        }
    }
    Ok(())
}

/// The file `use-context` writes, as kubectl 1.33 picks it (client-go's `GetDefaultFilename`):
/// the file named by --kubeconfig, else the first listed file that exists, else the first listed.
/// It is not the first file that sets a current context, although that one's wins the merge.
fn current_context_file(paths: &[PathBuf]) -> PathBuf {
    paths.iter().find(|path| path.exists()).or(paths.first()).cloned().unwrap_or_default()
}

/// Sets `current-context` in one file, leaving every other line of it as it was (a parsed and
/// written-back file would lose comments and could copy merged content into it).
fn write_current_context(path: &Path, name: &str) -> Result<(), String> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => "apiVersion: v1\nkind: Config\n".to_string(),
        Err(err) => return Err(err.to_string()),
    };
    // A kubeconfig may be JSON, which has no lines to edit.
    if text.trim_start().starts_with('{') {
        let mut document: Value = serde_json::from_str(&text).map_err(|err| err.to_string())?;
        document["current-context"] = Value::from(name);
        let text = serde_json::to_string_pretty(&document).map_err(|err| err.to_string())?;
        return std::fs::write(path, text + "\n").map_err(|err| err.to_string());
    }
    let line = crate::yaml::to_string(&serde_json::json!({"current-context": name})).map_err(|err| err.to_string())?;
    let line = line.trim_end().to_string();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    match lines.iter_mut().find(|existing| existing.starts_with("current-context:")) {
        Some(existing) => *existing = line,
        None => lines.push(line),
    }
    std::fs::write(path, lines.join("\n") + "\n").map_err(|err| err.to_string())
}

/// The merged config as `kubectl config view` shows it: keys in order, clusters, users and
/// contexts by name (client-go keeps them in maps), and its defaults for what no file set.
fn view(kubeconfig: &Kubeconfig) -> Result<Value, CtlError> {
    let mut sorted = kubeconfig.clone();
    sorted.clusters.sort_by(|a, b| a.name.cmp(&b.name));
    sorted.auth_infos.sort_by(|a, b| a.name.cmp(&b.name));
    sorted.contexts.sort_by(|a, b| a.name.cmp(&b.name));
    let mut document = serde_json::to_value(&sorted).map_err(|err| CtlError::Usage(err.to_string()))?;
    document["apiVersion"] = Value::from("v1");
    document["kind"] = Value::from("Config");
    // Go leaves false booleans out (`insecure-skip-tls-verify`, `disable-compression`).
    for named in document["clusters"].as_array_mut().into_iter().flatten() {
        if let Some(cluster) = named["cluster"].as_object_mut() {
            cluster.retain(|_, value| *value != Value::Bool(false));
        }
    }
    for list in ["clusters", "users", "contexts"] {
        if document[list].as_array().is_some_and(Vec::is_empty) {
            document[list] = Value::Null;
        }
    }
    if document["current-context"].is_null() {
        document["current-context"] = Value::from("");
    }
    if document["preferences"].is_null() {
        document["preferences"] = serde_json::json!({});
    }
    Ok(document)
}

/// kubectl's `config get-contexts` table: its tab writer pads every cell but the last, even
/// when the last is empty.
fn padded(rows: &[Vec<String>]) -> String {
    let count = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..count).map(|column| rows.iter().filter_map(|row| row.get(column)).map(String::len).max().unwrap_or(0)).collect();
    let mut text = String::new();
    for row in rows {
        for (column, cell) in row.iter().enumerate() {
            if column + 1 == row.len() {
                text.push_str(cell);
            } else {
                text.push_str(&format!("{cell:<width$}   ", width = widths[column]));
            }
        }
        text.push('\n');
    }
    text
}
/// client-go's `MinifyConfig`: the one context (`--context`, else the current one), and the
/// cluster and user it names.
fn minified(document: &mut Value, context: Option<&str>) -> Result<(), CtlError> {
    if let Some(context) = context.filter(|name| !name.is_empty()) {
        document["current-context"] = Value::from(context);
    }
    let current = document["current-context"].as_str().unwrap_or_default().to_string();
    if current.is_empty() {
        return Err(CtlError::Usage("current-context must exist in order to minify".into()));
    }
    let named = |list: &Value, name: &str| list.as_array().and_then(|items| items.iter().find(|item| item["name"] == name)).cloned();
    let context = named(&document["contexts"], &current).ok_or_else(|| CtlError::Usage(format!("cannot locate context {current}")))?;
    let only = |item: Option<Value>| item.map(|item| Value::Array(vec![item])).unwrap_or(Value::Null);
    document["clusters"] = only(named(&document["clusters"], context["context"]["cluster"].as_str().unwrap_or_default()));
    document["users"] = only(named(&document["users"], context["context"]["user"].as_str().unwrap_or_default()));
    document["contexts"] = Value::Array(vec![context]);
    Ok(())
}

/// client-go's `FlattenConfig`: each certificate, key and CA file read into its `-data` field.
/// A relative path is taken from the directory of the first file read, where kubectl resolved it.
fn flattened(document: &mut Value, paths: &[PathBuf]) -> Result<(), CtlError> {
    use base64::Engine;
    let base = paths.iter().find(|path| path.exists()).and_then(|path| path.parent()).map(Path::to_path_buf).unwrap_or_default();
    let fields = [("clusters", "cluster", "certificate-authority"), ("users", "user", "client-certificate"), ("users", "user", "client-key")];
    for (list, inner, field) in fields {
        for item in document[list].as_array_mut().into_iter().flatten() {
            let Some(entry) = item.get_mut(inner).and_then(Value::as_object_mut) else { continue };
            let Some(path) = entry.get(field).and_then(Value::as_str).filter(|path| !path.is_empty()).map(str::to_string) else { continue };
            let full = base.join(&path);
            let bytes = std::fs::read(&full).map_err(|err| CtlError::Usage(format!("open {}: {err}", full.display())))?;
            entry.remove(field);
            entry.insert(format!("{field}-data"), Value::from(base64::engine::general_purpose::STANDARD.encode(bytes)));
        }
    }
    Ok(())
}

/// Leaves credentials out of `config view`, as kubectl does without `--raw`.
fn redact(document: &mut Value) {
    const OMITTED: &[(&str, &str)] = &[
        ("certificate-authority-data", "DATA+OMITTED"),
        ("client-certificate-data", "DATA+OMITTED"),
        ("client-key-data", "DATA+OMITTED"),
        ("token", "REDACTED"),
        ("password", "REDACTED"),
    ];
    match document {
        Value::Object(map) => {
            for (key, value) in map.iter_mut() {
                match OMITTED.iter().find(|(name, _)| name == key) {
                    Some((_, replacement)) if !value.is_null() => *value = Value::String((*replacement).to_string()),
                    _ => redact(value),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact),
        _ => {}
    }
}
