//! Kubeconfig files in kubectl's format: which file (`--kubeconfig`, `$KUBECONFIG`,
//! `~/.kube/config`), the client for a context, and the `config` subcommands.

use std::path::PathBuf;

use kube::config::{KubeConfigOptions, Kubeconfig};
use serde_json::Value;

use crate::{Config, CtlError};
use crate::output::{out, outln};

#[derive(Debug, thiserror::Error)]
pub enum KubeconfigError {
    #[error("no kubeconfig found: pass --kubeconfig, set $KUBECONFIG, or create ~/.kube/config")]
    NotFound,
    #[error("cannot read the kubeconfig {path}: {source}")]
    Read { path: String, source: kube::config::KubeconfigError },
    #[error("cannot use the kubeconfig {path}: {source}")]
    Invalid { path: String, source: kube::config::KubeconfigError },
    #[error("no context exists with the name: {0:?}")]
    NoContext(String),
    #[error("current-context is not set")]
    NoCurrentContext,
    #[error("cannot write the kubeconfig {path}: {message}")]
    Write { path: String, message: String },
}

#[derive(Clone, Debug, clap::Subcommand)]
pub enum ConfigCommand {
    /// Print the current context.
    CurrentContext,
    /// Make a context the current one.
    UseContext { name: String },
    /// List the contexts.
    GetContexts,
    /// Print the kubeconfig, with credentials left out.
    View,
}

/// The kubeconfig file in use, as kubectl picks it (the first of a `$KUBECONFIG` list).
fn path(config: &Config) -> Result<PathBuf, KubeconfigError> {
    if let Some(path) = &config.kubeconfig {
        return Ok(path.clone());
    }
    if let Some(first) = std::env::var_os("KUBECONFIG")
        .and_then(|paths| std::env::split_paths(&paths).find(|path| !path.as_os_str().is_empty()))
    {
        return Ok(first);
    }
    std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".kube/config")).ok_or(KubeconfigError::NotFound)
}

fn load(config: &Config) -> Result<(PathBuf, Kubeconfig), KubeconfigError> {
    let path = path(config)?;
    if !path.exists() {
        return Err(KubeconfigError::NotFound);
    }
    let kubeconfig = Kubeconfig::read_from(&path)
        .map_err(|source| KubeconfigError::Read { path: path.display().to_string(), source })?;
    Ok((path, kubeconfig))
}

/// A client for the chosen context, and the namespace commands default to.
pub async fn client_and_namespace(config: &Config) -> Result<(kube::Client, String), CtlError> {
    let (path, kubeconfig) = load(config)?;
    let context_name = config.context.clone().or_else(|| kubeconfig.current_context.clone());
    if let Some(name) = &config.context {
        if !kubeconfig.contexts.iter().any(|context| &context.name == name) {
            return Err(KubeconfigError::NoContext(name.clone()).into());
        }
    }
    let context_namespace = kubeconfig
        .contexts
        .iter()
        .find(|context| Some(&context.name) == context_name.as_ref())
        .and_then(|context| context.context.as_ref())
        .and_then(|context| context.namespace.clone());
    let options = KubeConfigOptions { context: config.context.clone(), ..KubeConfigOptions::default() };
    let mut client_config = kube::Config::from_custom_kubeconfig(kubeconfig, &options)
        .await
        .map_err(|source| KubeconfigError::Invalid { path: path.display().to_string(), source })?;
    // kubectl does not retry a 503 on its own; kube's default retry would hold `ctl logs` for
    // half a minute before saying that no kubelet answers.
    client_config.default_retry = false;
    let client = kube::Client::try_from(client_config)?;
    let namespace = config.namespace.clone().or(context_namespace).unwrap_or_else(|| "default".to_string());
    Ok((client, namespace))
}

pub async fn client(config: &Config) -> Result<kube::Client, CtlError> {
    Ok(client_and_namespace(config).await?.0)
}

pub fn run(config: &Config, command: &ConfigCommand) -> Result<(), CtlError> {
    let (path, mut kubeconfig) = load(config)?;
    match command {
        ConfigCommand::CurrentContext => {
            let current = kubeconfig.current_context.ok_or(KubeconfigError::NoCurrentContext)?;
            outln!("{current}")?;
        }
        ConfigCommand::UseContext { name } => {
            if !kubeconfig.contexts.iter().any(|context| &context.name == name) {
                return Err(KubeconfigError::NoContext(name.clone()).into());
            }
            kubeconfig.current_context = Some(name.clone());
            let write_error = |message: String| KubeconfigError::Write { path: path.display().to_string(), message };
            let text = serde_yaml_ng::to_string(&kubeconfig).map_err(|err| write_error(err.to_string()))?;
            std::fs::write(&path, text).map_err(|err| write_error(err.to_string()))?;
            outln!("Switched to context {name:?}.")?;
        }
        ConfigCommand::GetContexts => {
            let mut rows = vec![["CURRENT", "NAME", "CLUSTER", "AUTHINFO", "NAMESPACE"].map(String::from).to_vec()];
            for named in &kubeconfig.contexts {
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
            out!("{}", crate::print::columns(&rows))?;
        }
        ConfigCommand::View => {
            let mut document = serde_json::to_value(&kubeconfig).map_err(|err| CtlError::Usage(err.to_string()))?;
            redact(&mut document);
            let text = serde_yaml_ng::to_string(&document).map_err(|err| CtlError::Usage(err.to_string()))?;
            out!("{text}")?;
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
