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
}

#[derive(Clone, Debug, clap::Subcommand)]
pub enum CreateCommand {
    /// Create a namespace.
    #[command(after_help = "Examples:\n  ctl create namespace dev")]
    Namespace { name: String },
    /// Create a ConfigMap from literal values and files.
    #[command(after_help = "Examples:\n  ctl create configmap settings --from-literal=mode=fast --from-literal=level=2\n  ctl create configmap nginx-conf --from-file=nginx.conf\n  ctl create configmap app --from-file=config=app.yaml")]
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
    Generic(DataArgs),
}

#[derive(Clone, Debug, clap::Args)]
pub struct DataArgs {
    pub name: String,
    /// key=value, repeatable.
    #[arg(long = "from-literal")]
    pub literals: Vec<String>,
    /// A file (its name is the key), or key=path; repeatable.
    #[arg(long = "from-file")]
    pub files: Vec<String>,
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
}

/// The data of `--from-literal` and `--from-file`, as kubectl reads them.
fn data(args: &DataArgs) -> Result<BTreeMap<String, Vec<u8>>, CtlError> {
    let mut data = BTreeMap::new();
    for literal in &args.literals {
        let (key, value) = literal
            .split_once('=')
            .ok_or_else(|| CtlError::Usage(format!("invalid literal source {literal}, expected key=value")))?;
        data.insert(key.to_string(), value.as_bytes().to_vec());
    }
    for source in &args.files {
        let (key, path) = match source.split_once('=') {
            Some((key, path)) => (key.to_string(), PathBuf::from(path)),
            None => {
                let path = PathBuf::from(source);
                let key = path.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default();
                (key, path)
            }
        };
        let bytes = std::fs::read(&path).map_err(|err| CtlError::Usage(format!("error reading {}: {err}", path.display())))?;
        data.insert(key, bytes);
    }
    Ok(data)
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
    let (client, targets) = resolve(config, &args.files.file_args(), "create").await?;
    let dry_run = args.files.dry_run();
    let suffix = if dry_run { " (server dry run)" } else { "" };
    let query = query(&[("dryRun", if dry_run { "All" } else { "" }), ("fieldManager", FIELD_MANAGER), ("fieldValidation", validation)]);
    let mut errors = Vec::new();
    for target in &targets {
        let mut object = target.manifest.object.clone();
        if let Some(namespace) = &target.namespace {
            object["metadata"]["namespace"] = json!(namespace);
        }
        let collection = target.resource.path(target.namespace.as_deref(), None);
        match send(&client, "POST", &format!("{collection}{query}"), "application/json", &object).await {
            // The server's name, for a manifest that has only a generateName.
            Ok(created) => outln!("{}/{} created{suffix}", target.resource.kind_prefix(), created["metadata"]["name"].as_str().unwrap_or(&target.name))?,
            Err(err) => errors.push(with_source(err, "creating", &target.manifest.source)),
        }
    }
    report(errors)
}

async fn create(config: &Config, command: &CreateCommand) -> Result<(), CtlError> {
    let (client, namespace) = client_and_namespace(config).await?;
    // kubectl wraps the server's refusal of a Job or CronJob in words of its own.
    let mut failure = None;
    let (path, object, label) = match command {
        CreateCommand::Namespace { name } => (
            "/api/v1/namespaces".to_string(),
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}),
            format!("namespace/{name}"),
        ),
        CreateCommand::Configmap(args) => {
            failure = Some("failed to create configmap: ");
            let mut text = serde_json::Map::new();
            let mut binary = serde_json::Map::new();
            for (key, bytes) in data(args)? {
                match String::from_utf8(bytes) {
                    Ok(value) => text.insert(key, json!(value)),
                    Err(err) => binary.insert(key, json!(base64::engine::general_purpose::STANDARD.encode(err.into_bytes()))),
                };
            }
            let mut object = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": args.name}, "data": text});
            if !binary.is_empty() {
                object["binaryData"] = Value::Object(binary);
            }
            (format!("/api/v1/namespaces/{namespace}/configmaps"), object, format!("configmap/{}", args.name))
        }
        CreateCommand::Secret(SecretCommand::Generic(args)) => {
            // kubectl's words, without a colon.
            failure = Some("failed to create secret ");
            let encoded: serde_json::Map<String, Value> = data(args)?
                .into_iter()
                .map(|(key, bytes)| (key, json!(base64::engine::general_purpose::STANDARD.encode(bytes))))
                .collect();
            let object = json!({"apiVersion": "v1", "kind": "Secret", "type": "Opaque", "metadata": {"name": args.name}, "data": encoded});
            (format!("/api/v1/namespaces/{namespace}/secrets"), object, format!("secret/{}", args.name))
        }
        CreateCommand::Job(args) => {
            let object = match (&args.image, &args.from) {
                (Some(image), None) => job(&args.name, image, &args.command),
                (None, Some(from)) => {
                    if !args.command.is_empty() {
                        return Err(CtlError::Usage("cannot specify --from and command".into()));
                    }
                    job_from(&client, &namespace, &args.name, from).await?
                }
                _ => return Err(CtlError::Usage("either --image or --from must be specified".into())),
            };
            failure = Some("failed to create job: ");
            (format!("/apis/batch/v1/namespaces/{namespace}/jobs"), object, format!("job.batch/{}", args.name))
        }
        CreateCommand::Cronjob(args) => {
            failure = Some("failed to create cronjob: ");
            let object = cron_job(&args.name, &args.image, &args.schedule, &args.restart, &args.command);
            (format!("/apis/batch/v1/namespaces/{namespace}/cronjobs"), object, format!("cronjob.batch/{}", args.name))
        }
        CreateCommand::Generated(command) => return crate::generators::run(config, command).await,
    };
    let sent = send(&client, "POST", &format!("{path}?fieldManager={FIELD_MANAGER}&fieldValidation=Strict"), "application/json", &object).await;
    match (sent, failure) {
        (Err(CtlError::Server { message, .. }), Some(failure)) => return Err(CtlError::Usage(format!("{failure}{message}"))),
        (sent, _) => sent?,
    };
    outln!("{label} created")?;
    Ok(())
}

/// A container named as its Job or CronJob, as kubectl names it.
fn container(name: &str, image: &str, command: &[String]) -> Value {
    let mut container = json!({"name": name, "image": image});
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
        "metadata": {"name": name},
        "spec": {"template": {"spec": {"containers": [container(name, image, command)], "restartPolicy": "Never"}}}
    })
}

/// kubectl's `createCronJob`: its job template named as the CronJob.
fn cron_job(name: &str, image: &str, schedule: &str, restart: &str, command: &[String]) -> Value {
    json!({
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": name},
        "spec": {
            "schedule": schedule,
            "jobTemplate": {
                "metadata": {"name": name},
                "spec": {"template": {"spec": {"containers": [container(name, image, command)], "restartPolicy": restart}}}
            }
        }
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
    json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": metadata, "spec": template["spec"]})
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
                    "labels": {"team": "a"},
                    "annotations": {"cronjob.kubernetes.io/instantiate": "manual", "note": "x"},
                    "ownerReferences": [{"apiVersion": "batch/v1", "kind": "CronJob", "name": "nightly", "uid": "u-1", "controller": true}]
                },
                "spec": {"backoffLimit": 2, "template": {"spec": {"containers": [{"name": "c", "image": "i"}], "restartPolicy": "OnFailure"}}}
            })
        );
    }

    #[test]
    fn jobs_and_cron_jobs_from_flags() {
        let command = vec!["sh".to_string(), "-c".to_string(), "echo hi".to_string()];
        assert_eq!(
            job("once", "busybox", &command)["spec"]["template"]["spec"],
            json!({"containers": [{"name": "once", "image": "busybox", "command": ["sh", "-c", "echo hi"]}], "restartPolicy": "Never"})
        );
        assert!(job("once", "busybox", &[])["spec"]["template"]["spec"]["containers"][0].get("command").is_none());
        let cron_job = cron_job("tick", "busybox", "*/1 * * * *", "OnFailure", &[]);
        assert_eq!(cron_job["spec"]["schedule"], "*/1 * * * *");
        assert_eq!(cron_job["spec"]["jobTemplate"]["metadata"]["name"], "tick");
        assert_eq!(cron_job["spec"]["jobTemplate"]["spec"]["template"]["spec"]["restartPolicy"], "OnFailure");
    }
}


