//! `ctl expose TYPE NAME`: a Service selecting the pods of a Deployment, ReplicaSet,
//! ReplicationController, Pod or Service, on its ports, as kubectl's expose generates it; with
//! `-f`, for each object of the manifests, as the files have them.

use std::path::PathBuf;

use serde_json::{Map, Value, json};

use crate::apply::{FileArgs, resolve};
use crate::discovery::get_json;
use crate::output::out;
use crate::generate::{EmitArgs, Generated, emit, int_or_string, labels};
use crate::patch::{FileOptions, Selection, objects};
use crate::{Config, CtlError};

/// The field manager kubectl's expose names itself with, after ctl's own name.
const FIELD_MANAGER: &str = "ctl-expose";

#[derive(Clone, Debug, clap::Args)]
#[command(after_help = "Examples:
  ctl expose deployment web --port=80 --target-port=8080
  ctl expose pod/db --port=5432 --name=db-svc --type=NodePort")]
pub struct ExposeArgs {
    /// TYPE NAME, or TYPE/NAME.
    pub object: Vec<String>,
    /// Manifest files or directories (or - for standard input) of the objects to expose.
    #[arg(short = 'f', long = "filename")]
    pub files: Vec<PathBuf>,
    /// Read the directories of -f recursively.
    #[arg(short = 'R', long)]
    pub recursive: bool,
    /// The Service's port (default: the object's ports).
    #[arg(long)]
    pub port: Option<String>,
    /// The port (number or name) the Service forwards to; the port itself when not given.
    #[arg(long)]
    pub target_port: Option<String>,
    /// TCP, UDP or SCTP (default: each port's own, else TCP).
    #[arg(long)]
    pub protocol: Option<String>,
    /// ClusterIP, NodePort, LoadBalancer or ExternalName.
    #[arg(long = "type")]
    pub service_type: Option<String>,
    /// The Service's name (default: the object's).
    #[arg(long)]
    pub name: Option<String>,
    /// KEY=VALUE,… the pods selected (default: the object's selector).
    #[arg(long)]
    pub selector: Option<String>,
    /// KEY=VALUE,… the Service's labels (default: the object's).
    #[arg(short = 'l', long)]
    pub labels: Option<String>,
    /// The Service's cluster IP, or None for a headless one.
    #[arg(long)]
    pub cluster_ip: Option<String>,
    #[command(flatten)]
    pub emit: EmitArgs,
}

pub async fn run(config: &Config, args: &ExposeArgs) -> Result<(), CtlError> {
    let (client, exposed) = if args.files.is_empty() {
        let files = FileOptions { files: Vec::new(), recursive: false, dry_run: "none".into() };
        let selection = Selection { words: &args.object, files: &files, selector: None, all: false };
        let (client, targets) = objects(config, &selection, "expose").await?;
        let mut exposed = Vec::new();
        for target in targets {
            let object = get_json(&client, &target.resource.path(target.namespace.as_deref(), Some(&target.name)), "application/json").await?;
            exposed.push((target.resource.kind, target.namespace, object));
        }
        (client, exposed)
    } else {
        if !args.object.is_empty() {
            return Err(CtlError::Usage("resource/name arguments cannot be provided when a path is specified".into()));
        }
        crate::apply::missing_path(&args.files)?;
        let file_args = FileArgs { files: args.files.clone(), recursive: args.recursive, dry_run: "none".into() };
        // kubectl exposes the objects as the files have them, without reading them back.
        let (client, targets) = resolve(config, &file_args, "expose").await?;
        (client, targets.into_iter().map(|target| (target.resource.kind, target.namespace, target.manifest.object)).collect())
    };
    // kubectl's expose keeps the selector, single port and labels it found on the first object
    // for the objects after it (it stores them in its flags); so does ctl.
    let mut args = args.clone();
    let yaml = args.emit.output.as_deref() == Some("yaml");
    let mut errors = Vec::new();
    let mut printed = 0;
    for (kind, namespace, object) in exposed {
        // As kubectl, an object that cannot be exposed is reported after the others.
        let mut service = match service(&args, &kind, &object) {
            Ok(service) => service,
            Err(err) => {
                errors.push(err);
                continue;
            }
        };
        args.selector = args.selector.or_else(|| pairs(&service["spec"]["selector"]));
        args.labels = args.labels.or_else(|| pairs(&service["metadata"]["labels"]));
        if let [only] = service["spec"]["ports"].as_array().map(Vec::as_slice).unwrap_or_default() {
            args.port = args.port.or_else(|| Some(only["port"].to_string().trim_matches('"').to_string()));
        }
        if let Some(namespace) = &config.namespace {
            service["metadata"]["namespace"] = json!(namespace);
        }
        if yaml && printed > 0 {
            out!("---\n")?;
        }
        let path = format!("/api/v1/namespaces/{}/services", namespace.unwrap_or_default());
        match emit(&client, Generated { object: service, path, failure: None }, &args.emit, FIELD_MANAGER, "exposed").await {
            Ok(()) => printed += 1,
            Err(err) => errors.push(err),
        }
    }
    crate::apply::report_aggregate(errors)
}

/// A map of labels as `--selector`/`--labels` text (`a=b,c=d`); None when there are none.
fn pairs(map: &Value) -> Option<String> {
    let map = map.as_object().filter(|map| !map.is_empty())?;
    Some(map.iter().map(|(key, value)| format!("{key}={}", value.as_str().unwrap_or_default())).collect::<Vec<_>>().join(","))
}

/// kubectl's `ServiceGeneratorV2` fed with what it finds on the object.
fn service(args: &ExposeArgs, kind: &str, object: &Value) -> Result<Value, CtlError> {
    let (pod_spec, selector) = match kind {
        "Pod" => (&object["spec"], Ok(object["metadata"]["labels"].clone())),
        "Service" => (&Value::Null, Ok(object["spec"]["selector"].clone())),
        "ReplicationController" => (&object["spec"]["template"]["spec"], Ok(object["spec"]["selector"].clone())),
        "Deployment" | "ReplicaSet" => (&object["spec"]["template"]["spec"], match_labels(&object["spec"]["selector"])),
        other => {
            let group = object["apiVersion"].as_str().and_then(|version| version.split_once('/')).map(|(group, _)| format!(".{group}")).unwrap_or_default();
            return Err(CtlError::Usage(format!("cannot expose a {other}{group}")));
        }
    };
    let selector = match &args.selector {
        Some(text) => labels(text)?,
        None => selector?,
    };
    if selector.as_object().is_none_or(Map::is_empty) {
        let why = if kind == "Service" { "the service has no pod selector set" } else { "the object has no labels to select its pods by" };
        return Err(CtlError::Usage(format!("couldn't retrieve selectors via --selector flag or introspection: {why}")));
    }
    // The object's ports with their protocols, unless --port names one.
    let found: Vec<(Value, Value)> = match &args.port {
        Some(port) => vec![(int_or_string(port), Value::Null)],
        None if kind == "Service" => object["spec"]["ports"].as_array().into_iter().flatten().map(|port| (port["port"].clone(), port["protocol"].clone())).collect(),
        None => pod_spec["containers"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|container| container["ports"].as_array().into_iter().flatten())
            .map(|port| (port["containerPort"].clone(), port["protocol"].clone()))
            .collect(),
    };
    if found.is_empty() {
        return Err(CtlError::Usage("couldn't find port via --port flag or introspection".into()));
    }
    let several = found.len() > 1;
    let ports: Vec<Value> = found
        .into_iter()
        .enumerate()
        .map(|(index, (port, protocol))| {
            let protocol = match (&args.protocol, protocol) {
                (Some(chosen), _) => json!(chosen),
                (None, own) if own.is_string() => own,
                (None, _) => json!("TCP"),
            };
            let target = args.target_port.as_deref().map(int_or_string).unwrap_or_else(|| port.clone());
            let mut entry = json!({"port": port, "protocol": protocol, "targetPort": target});
            if several {
                entry["name"] = json!(format!("port-{}", index + 1));
            }
            entry
        })
        .collect();
    let name = args.name.clone().unwrap_or_else(|| object["metadata"]["name"].as_str().unwrap_or_default().to_string());
    let mut metadata = json!({"name": name, "creationTimestamp": null});
    let service_labels = match &args.labels {
        Some(text) => labels(text)?,
        None => object["metadata"]["labels"].clone(),
    };
    if service_labels.as_object().is_some_and(|labels| !labels.is_empty()) {
        metadata["labels"] = service_labels;
    }
    let mut spec = json!({"ports": ports, "selector": selector});
    if let Some(service_type) = &args.service_type {
        spec["type"] = json!(service_type);
    }
    if let Some(cluster_ip) = &args.cluster_ip {
        spec["clusterIP"] = json!(cluster_ip);
    }
    Ok(json!({"apiVersion": "v1", "kind": "Service", "metadata": metadata, "spec": spec, "status": {"loadBalancer": {}}}))
}

/// A label selector as a map; kubectl cannot expose one with expressions.
fn match_labels(selector: &Value) -> Result<Value, CtlError> {
    if let Some(expressions) = selector["matchExpressions"].as_array().filter(|expressions| !expressions.is_empty()) {
        let mut text = String::new();
        crate::jsonpath::go_json(&json!(expressions), &mut text);
        return Err(CtlError::Usage(format!("couldn't convert expressions - \"{text}\" to map-based selector format")));
    }
    Ok(selector["matchLabels"].clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(clap::Parser)]
    struct Wrapper {
        #[command(flatten)]
        args: ExposeArgs,
    }

    #[test]
    fn several_ports_are_named_and_keep_their_protocols() {
        let args = Wrapper::parse_from(["x", "deploy", "mp"]).args;
        let deployment = json!({
            "metadata": {"name": "mp", "labels": {"app": "mp"}},
            "spec": {"selector": {"matchLabels": {"app": "mp"}}, "template": {"spec": {"containers": [
                {"name": "c", "ports": [{"containerPort": 80, "protocol": "TCP"}, {"containerPort": 53, "protocol": "UDP"}]}
            ]}}}
        });
        let service = service(&args, "Deployment", &deployment).unwrap();
        assert_eq!(
            service["spec"]["ports"],
            json!([{"name": "port-1", "port": 80, "protocol": "TCP", "targetPort": 80}, {"name": "port-2", "port": 53, "protocol": "UDP", "targetPort": 53}])
        );
    }
}
