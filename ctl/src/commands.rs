//! The smaller commands: `delete` by name, label or `--all`, `scale` and `api-resources`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::discovery::{Resource, api_version, discover, get_json, send};
use crate::kubeconfig::client_and_namespace;
use crate::{Config, CtlError};
use crate::output::{out, outln};

#[derive(Clone, Debug, clap::Args)]
#[command(after_help = "Examples:\n  ctl delete -f web.yaml\n  ctl delete pod web-0 web-1\n  ctl delete deployment/web service/web\n  ctl delete pods -l app=web\n  ctl delete configmaps --all -n dev\n  ctl delete pod web-0 --grace-period=0")]
pub struct DeleteArgs {
    /// KIND, or KIND/NAME ...
    pub kind: Option<String>,
    /// Names of objects of KIND.
    pub names: Vec<String>,
    /// Manifest files, directories or - (as with apply).
    #[arg(short = 'f', long = "filename")]
    pub files: Vec<PathBuf>,
    #[arg(short = 'R', long)]
    pub recursive: bool,
    /// Delete the objects matching this label selector.
    #[arg(short = 'l', long)]
    pub selector: Option<String>,
    /// Delete every object of KIND in the namespace.
    #[arg(long)]
    pub all: bool,
    /// Seconds the objects get to stop (pods), overriding their own setting.
    #[arg(long)]
    pub grace_period: Option<i64>,
    /// Wait until the objects are gone.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub wait: bool,
}

#[derive(Clone, Debug, clap::Args)]
#[command(after_help = "Examples:\n  ctl scale deployment/web --replicas=3\n  ctl scale statefulset db --replicas=0")]
pub struct ScaleArgs {
    /// KIND/NAME, or KIND NAME.
    pub target: String,
    pub name: Option<String>,
    /// How many replicas the object is to have.
    #[arg(long)]
    pub replicas: i64,
    /// none, client (print only) or server (the server checks it and keeps nothing).
    #[arg(long, value_parser = ["none", "server", "client"], default_value = "none")]
    pub dry_run: String,
    /// yaml, json, name, jsonpath=TEMPLATE or go-template=TEMPLATE: print the object.
    #[arg(short = 'o', long)]
    pub output: Option<String>,
}

pub fn find<'a>(served: &'a [Resource], word: &str) -> Result<&'a Resource, CtlError> {
    served
        .iter()
        .find(|resource| resource.matches(word))
        .ok_or_else(|| CtlError::Usage(format!("the server doesn't have a resource type {word:?}")))
}

pub async fn delete(config: &Config, args: &DeleteArgs) -> Result<(), CtlError> {
    if !args.files.is_empty() {
        let file_args = crate::apply::FileArgs { files: args.files.clone(), recursive: args.recursive, dry_run: "none".into() };
        return crate::apply::delete(config, &file_args).await;
    }
    let (client, namespace) = client_and_namespace(config).await?;
    let served = discover(&client).await?;
    let Some(kind) = &args.kind else {
        return Err(CtlError::Usage("you must provide one or more resources by argument or filename".into()));
    };
    // `kind/name` arguments, or one kind and names after it.
    let mut targets: Vec<(Resource, String)> = Vec::new();
    if kind.contains('/') {
        for word in std::iter::once(kind).chain(args.names.iter()) {
            let (kind, name) = word
                .split_once('/')
                .ok_or_else(|| CtlError::Usage(format!("there is no need to specify a resource type as a separate argument when passing arguments in resource/name form (e.g. 'ctl get resource/<resource_name>' instead of 'ctl get resource resource/<resource_name>': {word}")))?;
            targets.push((find(&served, kind)?.clone(), name.to_string()));
        }
    } else {
        for name in &args.names {
            targets.push((find(&served, kind)?.clone(), name.clone()));
        }
    }
    if targets.is_empty() {
        let resource = find(&served, kind)?.clone();
        if args.selector.is_none() && !args.all {
            return Err(CtlError::Usage("resource(s) were provided, but no name was specified".into()));
        }
        let mut path = resource.path(Some(&namespace), None);
        if let Some(selector) = &args.selector {
            path.push_str(&format!("?labelSelector={}", crate::discovery::encode(selector)));
        }
        let list = get_json(&client, &path, "application/json").await?;
        for item in list["items"].as_array().into_iter().flatten() {
            targets.push((resource.clone(), item["metadata"]["name"].as_str().unwrap_or_default().to_string()));
        }
        if targets.is_empty() {
            eprintln!("No resources found");
            return Ok(());
        }
    }
    let mut options = json!({"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"});
    if let Some(grace) = args.grace_period {
        options["gracePeriodSeconds"] = json!(grace.max(0));
    }
    let mut failed = 0;
    let mut deleted = Vec::new();
    for (resource, name) in &targets {
        let path = resource.path(Some(&namespace), Some(name));
        match send(&client, "DELETE", &path, "application/json", &options).await {
            Ok(_) => {
                outln!("{} {name:?} deleted", resource.kind_prefix())?;
                deleted.push(path);
            }
            Err(err) => {
                eprintln!("{err}");
                failed += 1;
            }
        }
    }
    if args.wait {
        wait_gone(&client, &deleted).await?;
    }
    if failed > 0 { Err(CtlError::Reported(failed)) } else { Ok(()) }
}

/// Waits (up to a minute) until every path answers 404, as `kubectl delete --wait` does.
async fn wait_gone(client: &kube::Client, paths: &[String]) -> Result<(), CtlError> {
    let deadline = Instant::now() + Duration::from_secs(60);
    for path in paths {
        loop {
            match get_json(client, path, "application/json").await {
                Err(CtlError::Server { reason, .. }) if reason == "NotFound" => break,
                Err(err) => return Err(err),
                Ok(_) if Instant::now() > deadline => {
                    return Err(CtlError::Usage(format!("timed out waiting for {path} to be deleted")));
                }
                Ok(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        }
    }
    Ok(())
}

pub async fn scale(config: &Config, args: &ScaleArgs) -> Result<(), CtlError> {
    let (client, namespace) = client_and_namespace(config).await?;
    let served = discover(&client).await?;
    let (kind, name) = match (args.target.split_once('/'), &args.name) {
        (Some((kind, name)), None) => (kind.to_string(), name.to_string()),
        (None, Some(name)) => (args.target.clone(), name.clone()),
        _ => return Err(CtlError::Usage("give KIND/NAME or KIND NAME".into())),
    };
    let resource = find(&served, &kind)?;
    if args.replicas < 0 {
        return Err(CtlError::Usage("The --replicas=COUNT flag is required, and COUNT must be greater than or equal to 0".into()));
    }
    let output = crate::printer::Output::parse(args.output.as_deref())?;
    let item_path = resource.path(Some(&namespace), Some(&name));
    // kubectl prints the object as it read it before scaling, and a client dry run only reads it.
    let object = match (&output, args.dry_run.as_str()) {
        (crate::printer::Output::Message, "none" | "server") => Value::Null,
        _ => send(&client, "GET", &item_path, "application/json", &Value::Null).await?,
    };
    if args.dry_run != "client" {
        let query = if args.dry_run == "server" { "?dryRun=All" } else { "" };
        let patch = json!({"spec": {"replicas": args.replicas}});
        send(&client, "PATCH", &format!("{item_path}/scale{query}"), "application/merge-patch+json", &patch).await?;
    }
    let suffix = match args.dry_run.as_str() {
        "server" => " (server dry run)",
        "client" => " (dry run)",
        _ => "",
    };
    match output {
        crate::printer::Output::Message => outln!("{}/{name} scaled{suffix}", resource.kind_prefix())?,
        output => crate::printer::print(object, &output, "")?,
    }
    Ok(())
}

pub async fn api_resources(config: &Config) -> Result<(), CtlError> {
    let (client, _) = client_and_namespace(config).await?;
    let mut served = discover(&client).await?;
    served.sort_by(|a, b| (a.group.as_str(), a.plural.as_str()).cmp(&(b.group.as_str(), b.plural.as_str())));
    let mut rows = vec![["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"].map(String::from).to_vec()];
    for resource in &served {
        rows.push(vec![
            resource.plural.clone(),
            resource.short_names.join(","),
            api_version(resource),
            resource.namespaced.to_string(),
            resource.kind.clone(),
        ]);
    }
    out!("{}", crate::print::columns(&rows))?;
    Ok(())
}
