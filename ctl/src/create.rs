//! `create -f FILE`: each object of the manifests POSTed, as `kubectl create -f` does; and
//! `create namespace|configmap|secret generic|job|cronjob`: objects built from flags, as
//! kubectl's `create` subcommands build them, then POSTed; the other generators (deployment,
//! service, role, …) are in `generators.rs`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use base64::Engine;
use serde_json::{Map, Value, json};

use crate::apply::{ValidateArgs, query, report, resolve, with_source};
use crate::discovery::{discover, get_json, send};
use crate::generate::{EmitArgs, Generated, emit, metadata};
use crate::kubeconfig::client_and_namespace;
use crate::patch::FileOptions;
use crate::{Config, CtlError};
use crate::output::outln;

#[derive(Clone, Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true, after_help = "Examples:\n  ctl create -f web.yaml\n  cat web.yaml | ctl create -f -\n  ctl create namespace dev\n  ctl create deployment web --image=nginx")]
pub struct CreateArgs {
    #[command(subcommand)]
    pub command: Option<CreateCommand>,
    #[command(flatten)]
    pub files: FileOptions,
    #[command(flatten)]
    pub validate: ValidateArgs,
    /// yaml, json, name, jsonpath=TEMPLATE or go-template=TEMPLATE: print each created object.
    #[arg(short = 'o', long)]
    pub output: Option<String>,
}

#[derive(Clone, Debug, clap::Subcommand)]
pub enum CreateCommand {
    /// Create a namespace.
    #[command(alias = "ns", after_help = "Examples:\n  ctl create namespace dev")]
    Namespace(crate::generators::NameArgs),
    /// Create a ConfigMap from literal values and files.
    #[command(after_help = "Examples:\n  ctl create configmap settings --from-literal=mode=fast --from-literal=level=2\n  ctl create configmap nginx-conf --from-file=nginx.conf\n  ctl create configmap app --from-file=config=app.yaml")]
    #[command(alias = "cm")]
    Configmap(DataArgs),
    /// Create a Secret.
    #[command(subcommand, after_help = "Examples:\n  ctl create secret generic db --from-literal=password=s3cret")]
    Secret(SecretCommand),
    /// Create a Job: of an image and command, or from a CronJob's job template (--from=cronjob/NAME).
    #[command(after_help = "Examples:\n  ctl create job hello --image=busybox -- echo hello\n  ctl create job backup-now --from=cronjob/backup")]
    Job(JobArgs),
    /// Create a CronJob that runs an image and command on a schedule.
    #[command(alias = "cj", after_help = "Examples:\n  ctl create cronjob backup --image=busybox --schedule='0 3 * * *' -- sh -c 'echo backing up'\n  ctl create cj ping --image=busybox --schedule='*/5 * * * *' --restart=Never -- ping -c1 web")]
    Cronjob(CronJobArgs),
    #[command(flatten)]
    Generated(crate::generators::GeneratorCommand),
}

#[derive(Clone, Debug, clap::Subcommand)]
pub enum SecretCommand {
    /// A generic (Opaque) Secret from literal values and files.
    #[command(after_help = "Examples:\n  ctl create secret generic db --from-literal=user=app --from-literal=password=s3cret\n  ctl create secret generic certs --from-file=tls.crt --from-file=tls.key")]
    Generic(GenericSecretArgs),
    /// A TLS Secret from a PEM certificate and key.
    #[command(after_help = "Examples:\n  ctl create secret tls web-cert --cert=tls.crt --key=tls.key")]
    Tls(TlsSecretArgs),
    /// A Secret of registry credentials, for pods' imagePullSecrets.
    #[command(after_help = "Examples:\n  ctl create secret docker-registry pull --docker-server=registry.example.com --docker-username=bot --docker-password=s3cret")]
    DockerRegistry(RegistrySecretArgs),
}

#[derive(Clone, Debug, clap::Args)]
pub struct DataArgs {
    pub name: String,
    /// key=value, repeatable.
    #[arg(long = "from-literal")]
    pub literals: Vec<String>,
    /// A file (its name is the key), a directory (each regular file in it), or key=path; repeatable.
    #[arg(long = "from-file")]
    pub files: Vec<String>,
    /// A file of KEY=VALUE lines; repeatable.
    #[arg(long = "from-env-file")]
    pub env_files: Vec<String>,
    /// Append a hash of the data to the name.
    #[arg(long)]
    pub append_hash: bool,
    #[command(flatten)]
    pub emit: EmitArgs,
}

#[derive(Clone, Debug, clap::Args)]
pub struct GenericSecretArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// The Secret's type.
    #[arg(long = "type")]
    pub secret_type: Option<String>,
}

#[derive(Clone, Debug, clap::Args)]
pub struct TlsSecretArgs {
    pub name: String,
    /// The PEM certificate (chain) file.
    #[arg(long)]
    pub cert: Option<String>,
    /// The PEM private key file.
    #[arg(long)]
    pub key: Option<String>,
    /// Append a hash of the data to the name.
    #[arg(long)]
    pub append_hash: bool,
    #[command(flatten)]
    pub emit: EmitArgs,
}

#[derive(Clone, Debug, clap::Args)]
pub struct RegistrySecretArgs {
    pub name: String,
    /// The registry's address.
    #[arg(long, default_value = "https://index.docker.io/v1/")]
    pub docker_server: String,
    #[arg(long)]
    pub docker_username: Option<String>,
    #[arg(long)]
    pub docker_password: Option<String>,
    #[arg(long)]
    pub docker_email: Option<String>,
    /// Files of registry configuration (key=path or path), instead of the flags above.
    #[arg(long = "from-file")]
    pub files: Vec<String>,
    /// Append a hash of the data to the name.
    #[arg(long)]
    pub append_hash: bool,
    #[command(flatten)]
    pub emit: EmitArgs,
}

#[derive(Clone, Debug, clap::Args)]
pub struct JobArgs {
    pub name: String,
    /// The image to run.
    #[arg(long)]
    pub image: Option<String>,
    /// The object to make the Job from: cronjob/NAME.
    #[arg(long)]
    pub from: Option<String>,
    /// The command and its arguments, after `--`.
    #[arg(last = true)]
    pub command: Vec<String>,
    #[command(flatten)]
    pub emit: EmitArgs,
}

#[derive(Clone, Debug, clap::Args)]
pub struct CronJobArgs {
    pub name: String,
    /// The image to run.
    #[arg(long)]
    pub image: String,
    /// When to run, in cron format, e.g. "*/1 * * * *".
    #[arg(long)]
    pub schedule: String,
    /// The pods' restart policy: OnFailure or Never.
    #[arg(long, default_value = "OnFailure")]
    pub restart: String,
    /// The command and its arguments, after `--`.
    #[arg(last = true)]
    pub command: Vec<String>,
    #[command(flatten)]
    pub emit: EmitArgs,
}

/// The field manager kubectl's create names itself with, after ctl's own name.
const FIELD_MANAGER: &str = "ctl-create";

pub async fn run(config: &Config, args: &CreateArgs) -> Result<(), CtlError> {
    match &args.command {
        Some(command) => create(config, command).await,
        None if args.files.files.is_empty() => Err(CtlError::Usage("must specify one of -f and -k".into())),
        None => create_files(config, args).await,
    }
}

/// `create -f`: every manifest resolved first (a bad file creates nothing), then each POSTed;
/// failures, named with their file, are reported after the rest were created.
async fn create_files(config: &Config, args: &CreateArgs) -> Result<(), CtlError> {
    let validation = args.validate.field_validation()?;
    let output = crate::printer::Output::parse(args.output.as_deref())?;
    let (client, targets) = resolve(config, &args.files.file_args(), "create").await?;
    let dry_run = args.files.dry_run();
    let suffix = args.files.dry_run_suffix();
    let query = query(&[("dryRun", if dry_run { "All" } else { "" }), ("fieldManager", FIELD_MANAGER), ("fieldValidation", validation)]);
    let mut errors = Vec::new();
    for target in &targets {
        let mut object = target.manifest.object.clone();
        if let Some(namespace) = &target.namespace {
            object["metadata"]["namespace"] = json!(namespace);
        }
        if args.files.dry_run == "client" {
            // kubectl sends nothing, and names the object as the manifest does.
            match &output {
                crate::printer::Output::Message => outln!("{}/{} created{suffix}", target.resource.kind_prefix(), target.name)?,
                output => crate::printer::print(object, output, "")?,
            }
            continue;
        }
        let collection = target.resource.path(target.namespace.as_deref(), None);
        match send(&client, "POST", &format!("{collection}{query}"), "application/json", &object).await {
            Ok(created) if !matches!(output, crate::printer::Output::Message) => crate::printer::print(created, &output, "")?,
            // The server's name, for a manifest that has only a generateName.
            Ok(created) => outln!("{}/{} created{suffix}", target.resource.kind_prefix(), created["metadata"]["name"].as_str().unwrap_or(&target.name))?,
            Err(err) => errors.push(with_source(err, "creating", &target.manifest.source)),
        }
    }
    report(errors)
}

/// Keys and their bytes, refusing a bad or repeated key in kubectl's words.
struct Data {
    kind: &'static str,
    name: String,
    entries: BTreeMap<String, Vec<u8>>,
}

impl Data {
    fn insert(&mut self, key: String, value: Vec<u8>) -> Result<(), CtlError> {
        if !valid_key(&key) {
            return Err(CtlError::Usage(format!(
                "{key:?} is not a valid key name for a {}: a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')",
                self.kind
            )));
        }
        if self.entries.contains_key(&key) {
            return Err(CtlError::Usage(format!("cannot add key {key:?}, another key by that name already exists in Data for {} {:?}", self.kind, self.name)));
        }
        self.entries.insert(key, value);
        Ok(())
    }
}

/// Kubernetes' `IsConfigMapKey`, which Secrets' keys follow too.
fn valid_key(key: &str) -> bool {
    !key.is_empty() && key.len() <= 253 && key != "." && key != ".." && !key.starts_with("..") && key.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// `--from-file`'s `key=path` or `path` (keyed by its file name), as kubectl's `ParseFileSource`.
fn file_source(source: &str) -> Result<(Option<String>, PathBuf), CtlError> {
    match source.split_once('=') {
        None => Ok((None, PathBuf::from(source))),
        Some(("", path)) => Err(CtlError::Usage(format!("key name for file path {path} missing"))),
        Some((key, "")) => Err(CtlError::Usage(format!("file path for key name {key} missing"))),
        Some((key, path)) => Ok((Some(key.to_string()), PathBuf::from(path))),
    }
}

/// A file's bytes, or Go's words for why not.
fn read(path: &std::path::Path) -> Result<Vec<u8>, CtlError> {
    std::fs::read(path).map_err(|err| {
        let reason = match err.kind() {
            std::io::ErrorKind::NotFound => "no such file or directory".to_string(),
            std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
            _ => err.to_string(),
        };
        CtlError::Usage(format!("error reading {}: {reason}", path.display()))
    })
}

/// Reads each `--from-file`: a file as one key, a directory as a key per regular file in it.
fn add_files(data: &mut Data, sources: &[String]) -> Result<(), CtlError> {
    for source in sources {
        let (key, path) = file_source(source)?;
        if path.is_dir() {
            if key.is_some() {
                return Err(CtlError::Usage("cannot give a key name for a directory path".into()));
            }
            let entries = std::fs::read_dir(&path).map_err(|err| CtlError::Usage(format!("error listing files in {}: {err}", path.display())))?;
            let mut files: Vec<_> = entries.filter_map(Result::ok).filter(|entry| entry.file_type().is_ok_and(|kind| kind.is_file())).collect();
            files.sort_by_key(|entry| entry.file_name());
            for entry in files {
                data.insert(entry.file_name().to_string_lossy().into_owned(), read(&entry.path())?)?;
            }
        } else {
            let key = key.unwrap_or_else(|| path.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default());
            let bytes = read(&path)?;
            data.insert(key, bytes)?;
        }
    }
    Ok(())
}

/// The data of `--from-literal`, `--from-file` and `--from-env-file`, as kubectl reads them.
fn data(kind: &'static str, args: &DataArgs) -> Result<BTreeMap<String, Vec<u8>>, CtlError> {
    if !args.env_files.is_empty() && (!args.files.is_empty() || !args.literals.is_empty()) {
        return Err(CtlError::Usage("from-env-file cannot be combined with from-file or from-literal".into()));
    }
    let mut data = Data { kind, name: args.name.clone(), entries: BTreeMap::new() };
    for literal in &args.literals {
        let (key, value) = literal
            .split_once('=')
            .ok_or_else(|| CtlError::Usage(format!("invalid literal source {literal}, expected key=value")))?;
        data.insert(key.to_string(), value.as_bytes().to_vec())?;
    }
    add_files(&mut data, &args.files)?;
    for file in &args.env_files {
        for (key, value) in env_file(std::path::Path::new(file))? {
            // A later line of an env file replaces an earlier one, as in kubectl.
            data.entries.insert(key, value.into_bytes());
        }
    }
    Ok(data.entries)
}

/// kubectl's env file: `KEY=VALUE` lines, blank and `#` lines skipped, a bare `KEY` read from
/// the environment.
fn env_file(path: &std::path::Path) -> Result<Vec<(String, String)>, CtlError> {
    let bytes = read(path)?;
    let mut pairs = Vec::new();
    for (number, line) in bytes.split(|byte| *byte == b'\n').enumerate() {
        let line = if number == 0 { line.strip_prefix(b"\xef\xbb\xbf".as_slice()).unwrap_or(line) } else { line };
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Ok(line) = std::str::from_utf8(line) else {
            return Err(CtlError::Usage(format!("env file {} contains invalid utf8 bytes at line {}", path.display(), number + 1)));
        };
        let line = line.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, value) = match line.split_once('=') {
            Some((key, value)) => (key.to_string(), value.to_string()),
            None => (line.to_string(), std::env::var(line).unwrap_or_default()),
        };
        if !valid_env_name(&key) {
            return Err(CtlError::Usage(format!(
                "{key:?} is not a valid key name: a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.', and must not start with a digit (e.g. 'my.env-name',  or 'MY_ENV.NAME',  or 'MyEnvName1', regex used for validation is '[-._a-zA-Z][-._a-zA-Z0-9]*')"
            )));
        }
        pairs.push((key, value));
    }
    Ok(pairs)
}

fn valid_env_name(name: &str) -> bool {
    name.chars().next().is_some_and(|first| !first.is_ascii_digit()) && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

fn base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A Secret of `data`, named with its hash when asked.
fn secret(config: &Config, namespace: &str, name: &str, secret_type: Option<&str>, data: BTreeMap<String, Vec<u8>>, append_hash: bool) -> Generated {
    let encoded: Map<String, Value> = data.iter().map(|(key, bytes)| (key.clone(), json!(base64(bytes)))).collect();
    let name = if append_hash { format!("{name}-{}", secret_hash(name, secret_type.unwrap_or_default(), &encoded)) } else { name.to_string() };
    let mut object = json!({"apiVersion": "v1", "kind": "Secret", "metadata": metadata(config, &name)});
    if !encoded.is_empty() {
        object["data"] = Value::Object(encoded);
    }
    if let Some(secret_type) = secret_type.filter(|kind| !kind.is_empty()) {
        object["type"] = json!(secret_type);
    }
    // kubectl's words, without a colon.
    Generated { object, path: format!("/api/v1/namespaces/{namespace}/secrets"), failure: Some("failed to create secret ".into()) }
}

/// Go's `json.Marshal` of a map: keys sorted (as serde_json's map keeps them), `<`, `>` and `&`
/// escaped.
fn go_json(value: &Value) -> String {
    serde_json::to_string(value)
        .unwrap_or_default()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029")
}

/// kubectl's `encodeHash`: ten hex digits of the SHA-256, with the vowels and the digits that
/// read as letters replaced so that no word is spelled.
fn hash_suffix(text: &str) -> String {
    crate::generate::sha256_hex(text.as_bytes())
        .chars()
        .take(10)
        .map(|c| match c {
            '0' => 'g',
            '1' => 'h',
            '3' => 'k',
            'a' => 'm',
            'e' => 't',
            other => other,
        })
        .collect()
}

/// kubectl's `ConfigMapHash`: of the kind, name and data.
fn config_map_hash(name: &str, text: &Map<String, Value>, binary: &Map<String, Value>) -> String {
    let mut encoded = json!({"kind": "ConfigMap", "name": name, "data": text});
    if !binary.is_empty() {
        encoded["binaryData"] = Value::Object(binary.clone());
    }
    hash_suffix(&go_json(&encoded))
}

/// kubectl's `SecretHash`: of the kind, type, name and data.
fn secret_hash(name: &str, secret_type: &str, data: &Map<String, Value>) -> String {
    hash_suffix(&go_json(&json!({"kind": "Secret", "type": secret_type, "name": name, "data": data})))
}

/// kubectl's `.dockerconfigjson`: its struct's field order, empty fields left out.
fn docker_config(server: &str, username: &str, password: &str, email: &str) -> String {
    let quoted = |text: &str| go_json(&json!(text));
    let mut entry = Vec::new();
    for (field, value) in [("username", username), ("password", password), ("email", email)] {
        if !value.is_empty() {
            entry.push(format!("\"{field}\":{}", quoted(value)));
        }
    }
    entry.push(format!("\"auth\":{}", quoted(&base64(format!("{username}:{password}").as_bytes()))));
    format!("{{\"auths\":{{{}:{{{}}}}}}}", quoted(server), entry.join(","))
}

/// The `create` subcommands built here: the object, where it goes, and its `--dry-run`/`-o`.
async fn generated<'a>(config: &Config, client: &kube::Client, namespace: &str, command: &'a CreateCommand) -> Result<(Generated, &'a EmitArgs), CtlError> {
    Ok(match command {
        CreateCommand::Namespace(args) => {
            let object = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": args.name, "creationTimestamp": null}, "spec": {}, "status": {}});
            (Generated { object, path: "/api/v1/namespaces".into(), failure: None }, &args.emit)
        }
        CreateCommand::Configmap(args) => {
            let mut text = Map::new();
            let mut binary = Map::new();
            for (key, bytes) in data("ConfigMap", args)? {
                match String::from_utf8(bytes) {
                    Ok(value) => text.insert(key, json!(value)),
                    Err(err) => binary.insert(key, json!(base64(&err.into_bytes()))),
                };
            }
            let name = if args.append_hash { format!("{}-{}", args.name, config_map_hash(&args.name, &text, &binary)) } else { args.name.clone() };
            let mut object = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata(config, &name)});
            if !text.is_empty() {
                object["data"] = Value::Object(text);
            }
            if !binary.is_empty() {
                object["binaryData"] = Value::Object(binary);
            }
            let path = format!("/api/v1/namespaces/{namespace}/configmaps");
            (Generated { object, path, failure: Some("failed to create configmap".into()) }, &args.emit)
        }
        CreateCommand::Secret(SecretCommand::Generic(args)) => {
            let data = data("Secret", &args.data)?;
            (secret(config, namespace, &args.data.name, args.secret_type.as_deref(), data, args.data.append_hash), &args.data.emit)
        }
        CreateCommand::Secret(SecretCommand::Tls(args)) => {
            let (Some(cert), Some(key)) = (&args.cert, &args.key) else {
                return Err(CtlError::Usage("key and cert must be specified".into()));
            };
            // kubectl's words for a file it cannot read here differ from `--from-file`'s.
            let read_pem = |path: &str| {
                read(path.as_ref()).map_err(|err| match err {
                    CtlError::Usage(text) => CtlError::Usage(text.replacen("error reading ", &format!("Cannot read file {path}, open "), 1)),
                    other => other,
                })
            };
            let data = BTreeMap::from([("tls.crt".to_string(), read_pem(cert)?), ("tls.key".to_string(), read_pem(key)?)]);
            (secret(config, namespace, &args.name, Some("kubernetes.io/tls"), data, args.append_hash), &args.emit)
        }
        CreateCommand::Secret(SecretCommand::DockerRegistry(args)) => {
            let mut data = Data { kind: "Secret", name: args.name.clone(), entries: BTreeMap::new() };
            if args.files.is_empty() {
                let (Some(username), Some(password)) = (&args.docker_username, &args.docker_password) else {
                    return Err(CtlError::Usage("either --from-file or the combination of --docker-username, --docker-password and --docker-server is required".into()));
                };
                let config = docker_config(&args.docker_server, username, password, args.docker_email.as_deref().unwrap_or_default());
                data.insert(".dockerconfigjson".into(), config.into_bytes())?;
            } else {
                add_files(&mut data, &args.files)?;
            }
            (secret(config, namespace, &args.name, Some("kubernetes.io/dockerconfigjson"), data.entries, args.append_hash), &args.emit)
        }
        CreateCommand::Job(args) => {
            let mut object = match (&args.image, &args.from) {
                (Some(image), None) => job(&args.name, image, &args.command),
                (None, Some(from)) => {
                    if !args.command.is_empty() {
                        return Err(CtlError::Usage("cannot specify --from and command".into()));
                    }
                    job_from(client, namespace, &args.name, from).await?
                }
                _ => return Err(CtlError::Usage("either --image or --from must be specified".into())),
            };
            object["metadata"] = merged(metadata(config, &args.name), &object["metadata"]);
            let path = format!("/apis/batch/v1/namespaces/{namespace}/jobs");
            (Generated { object, path, failure: Some("failed to create job".into()) }, &args.emit)
        }
        CreateCommand::Cronjob(args) => {
            let mut object = cron_job(&args.name, &args.image, &args.schedule, &args.restart, &args.command);
            object["metadata"] = metadata(config, &args.name);
            let path = format!("/apis/batch/v1/namespaces/{namespace}/cronjobs");
            (Generated { object, path, failure: Some("failed to create cronjob".into()) }, &args.emit)
        }
        // Dispatched to `generators::run` before this is called.
        CreateCommand::Generated(_) => return Err(CtlError::Usage("not a create subcommand".into())),
    })
}

/// `base` with the fields of `extra` added.
fn merged(mut base: Value, extra: &Value) -> Value {
    if let (Some(base), Some(extra)) = (base.as_object_mut(), extra.as_object()) {
        for (key, value) in extra {
            base.insert(key.clone(), value.clone());
        }
    }
    base
}

async fn create(config: &Config, command: &CreateCommand) -> Result<(), CtlError> {
    if let CreateCommand::Generated(command) = command {
        return crate::generators::run(config, command).await;
    }
    let (client, namespace) = client_and_namespace(config).await?;
    let (generated, emit_args) = generated(config, &client, &namespace, command).await?;
    emit(&client, generated, emit_args, FIELD_MANAGER, "created").await
}

/// A container named as its Job or CronJob, as kubectl names it.
fn container(name: &str, image: &str, command: &[String]) -> Value {
    let mut container = json!({"name": name, "image": image, "resources": {}});
    if !command.is_empty() {
        container["command"] = json!(command);
    }
    container
}

/// kubectl's `createJob`: one container, never restarted.
fn job(name: &str, image: &str, command: &[String]) -> Value {
    json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "creationTimestamp": null},
        "spec": {"template": {"metadata": {"creationTimestamp": null}, "spec": {"containers": [container(name, image, command)], "restartPolicy": "Never"}}},
        "status": {}
    })
}

/// kubectl's `createCronJob`: its job template named as the CronJob.
fn cron_job(name: &str, image: &str, schedule: &str, restart: &str, command: &[String]) -> Value {
    json!({
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": name, "creationTimestamp": null},
        "spec": {
            "schedule": schedule,
            "jobTemplate": {
                "metadata": {"name": name, "creationTimestamp": null},
                "spec": {"template": {"metadata": {"creationTimestamp": null}, "spec": {"containers": [container(name, image, command)], "restartPolicy": restart}}}
            }
        },
        "status": {}
    })
}

/// The Job `--from=TYPE/NAME` makes: only a CronJob makes one, as in kubectl.
async fn job_from(client: &kube::Client, namespace: &str, name: &str, from: &str) -> Result<Value, CtlError> {
    let served = discover(client).await?;
    let (word, source) = from.split_once('/').unwrap_or((from, ""));
    let resource = crate::commands::find(&served, word)?;
    if source.is_empty() {
        return Err(CtlError::Usage("from must be an existing cronjob".into()));
    }
    let object = get_json(client, &resource.path(Some(namespace), Some(source)), "application/json").await?;
    if resource.group != "batch" || resource.kind != "CronJob" {
        // Go's `%T` of the object kubectl decoded.
        return Err(CtlError::Usage(format!("unknown object type *{}.{}", resource.version, resource.kind)));
    }
    Ok(job_from_cron_job(name, &object))
}

/// kubectl's `createJobFromCronJob`: the job template's spec, labels and annotations, marked as
/// made by hand, and controlled by the CronJob (without `blockOwnerDeletion`, which would need
/// rights on the CronJob's finalizers).
fn job_from_cron_job(name: &str, cron_job: &Value) -> Value {
    let template = &cron_job["spec"]["jobTemplate"];
    let mut annotations = Map::new();
    annotations.insert("cronjob.kubernetes.io/instantiate".into(), json!("manual"));
    for (key, value) in template["metadata"]["annotations"].as_object().into_iter().flatten() {
        annotations.insert(key.clone(), value.clone());
    }
    let mut metadata = json!({
        "name": name,
        "creationTimestamp": null,
        "annotations": annotations,
        "ownerReferences": [{
            "apiVersion": "batch/v1",
            "kind": "CronJob",
            "name": cron_job["metadata"]["name"],
            "uid": cron_job["metadata"]["uid"],
            "controller": true
        }]
    });
    if template["metadata"]["labels"].is_object() {
        metadata["labels"] = template["metadata"]["labels"].clone();
    }
    json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": metadata, "spec": template["spec"], "status": {}})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_from_a_cron_job_is_kubectls() {
        let cron_job = json!({
            "metadata": {"name": "nightly", "uid": "u-1"},
            "spec": {"schedule": "0 0 * * *", "jobTemplate": {
                "metadata": {"labels": {"team": "a"}, "annotations": {"note": "x"}},
                "spec": {"backoffLimit": 2, "template": {"spec": {"containers": [{"name": "c", "image": "i"}], "restartPolicy": "OnFailure"}}}
            }}
        });
        let job = job_from_cron_job("by-hand", &cron_job);
        assert_eq!(
            job,
            json!({
                "apiVersion": "batch/v1", "kind": "Job",
                "metadata": {
                    "name": "by-hand",
                    "creationTimestamp": null,
                    "labels": {"team": "a"},
                    "annotations": {"cronjob.kubernetes.io/instantiate": "manual", "note": "x"},
                    "ownerReferences": [{"apiVersion": "batch/v1", "kind": "CronJob", "name": "nightly", "uid": "u-1", "controller": true}]
                },
                "spec": {"backoffLimit": 2, "template": {"spec": {"containers": [{"name": "c", "image": "i"}], "restartPolicy": "OnFailure"}}},
                "status": {}
            })
        );
    }

    #[test]
    fn jobs_and_cron_jobs_from_flags() {
        let command = vec!["sh".to_string(), "-c".to_string(), "echo hi".to_string()];
        assert_eq!(
            job("once", "busybox", &command)["spec"]["template"]["spec"],
            json!({"containers": [{"name": "once", "image": "busybox", "command": ["sh", "-c", "echo hi"], "resources": {}}], "restartPolicy": "Never"})
        );
        assert!(job("once", "busybox", &[])["spec"]["template"]["spec"]["containers"][0].get("command").is_none());
        let cron_job = cron_job("tick", "busybox", "*/1 * * * *", "OnFailure", &[]);
        assert_eq!(cron_job["spec"]["schedule"], "*/1 * * * *");
        assert_eq!(cron_job["spec"]["jobTemplate"]["metadata"]["name"], "tick");
        assert_eq!(cron_job["spec"]["jobTemplate"]["spec"]["template"]["spec"]["restartPolicy"], "OnFailure");
    }
}


