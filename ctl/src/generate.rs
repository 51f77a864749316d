//! What kubectl's generators (`create deployment|service|…`, `run`, `expose`) share: the
//! `--dry-run` and `-o` flags, and sending the built object (or, with `--dry-run=client`, only
//! printing it) as kubectl does. Objects are built as kubectl's Go structs marshal, with their
//! `creationTimestamp: null` and empty `resources: {}`, so that `-o yaml` prints kubectl's bytes.

use serde_json::{Value, json};

use crate::apply::{ValidateArgs, query};
use crate::discovery::send;
use crate::output::{out, outln};
use crate::{Config, CtlError};

#[derive(Clone, Debug, clap::Args)]
pub struct EmitArgs {
    /// none, client (print the object only) or server (the server checks it and keeps nothing).
    #[arg(long, default_value = "none", num_args = 0..=1, default_missing_value = "client")]
    pub dry_run: String,
    /// yaml, json, name, jsonpath=TEMPLATE or go-template=TEMPLATE: print the object instead of a message.
    #[arg(short = 'o', long)]
    pub output: Option<String>,
    #[command(flatten)]
    pub validate: ValidateArgs,
}

/// A built object and where it is POSTed.
pub struct Generated {
    pub object: Value,
    pub path: String,
    /// kubectl's words before the server's message when it refuses the object, if it has any.
    pub failure: Option<String>,
}

/// Metadata as kubectl's generators write it; the namespace only when `-n` was given, as
/// kubectl's `EnforceNamespace`.
pub fn metadata(config: &Config, name: &str) -> Value {
    let mut metadata = json!({"name": name, "creationTimestamp": null});
    if let Some(namespace) = &config.namespace {
        metadata["namespace"] = json!(namespace);
    }
    metadata
}

/// Sends the object (unless `--dry-run=client`) and prints it, or `kind/name <verb>`.
pub async fn emit(client: &kube::Client, generated: Generated, args: &EmitArgs, field_manager: &str, verb: &str) -> Result<(), CtlError> {
    // As kubectl, a printer it has not is refused before anything is sent.
    let output = Output::parse(args.output.as_deref())?;
    let (object, suffix) = match args.dry_run.as_str() {
        "client" => (generated.object, " (dry run)"),
        "none" | "server" => {
            let server = args.dry_run == "server";
            let query = query(&[
                ("dryRun", if server { "All" } else { "" }),
                ("fieldManager", field_manager),
                ("fieldValidation", args.validate.field_validation()?),
            ]);
            let sent = send(client, "POST", &format!("{}{query}", generated.path), "application/json", &generated.object).await;
            let created = match (sent, generated.failure) {
                (Err(CtlError::Server { message, .. }), Some(failure)) => return Err(CtlError::Usage(format!("{failure}: {message}"))),
                (sent, _) => sent?,
            };
            (created, if server { " (server dry run)" } else { "" })
        }
        other => return Err(dry_run_error(other)),
    };
    print(object, &output, &format!("{verb}{suffix}"))
}

/// What `-o` asks for.
pub enum Output {
    Message,
    Yaml,
    Json,
    Name,
    JsonPath(crate::jsonpath::Template),
    GoTemplate(crate::gotemplate::GoTemplate),
}

impl Output {
    pub fn parse(output: Option<&str>) -> Result<Output, CtlError> {
        Ok(match output {
            None | Some("") => Output::Message,
            Some("yaml") => Output::Yaml,
            Some("json") => Output::Json,
            Some("name") => Output::Name,
            Some(other) if matches!(other.split_once('=').map(|(name, _)| name), Some("go-template" | "template" | "go-template-file" | "templatefile")) => {
                let (name, value) = other.split_once('=').unwrap_or_default();
                Output::GoTemplate(crate::get::go_template(name, value)?)
            }
            Some(other) => match other.strip_prefix("jsonpath=") {
                Some(text) => Output::JsonPath(crate::jsonpath::Template::parse(text).map_err(|err| CtlError::Usage(format!("error parsing jsonpath {text}, {err}")))?),
                None => return Err(CtlError::Usage(format!(
                    "unable to match a printer suitable for the output format {other:?}, allowed formats are: go-template,go-template-file,json,jsonpath,jsonpath-as-json,jsonpath-file,name,template,templatefile,yaml"
                ))),
            },
        })
    }
}

pub fn dry_run_error(value: &str) -> CtlError {
    CtlError::Usage(format!("Invalid dry-run value ({value}). Must be \"none\", \"server\", or \"client\"."))
}

/// `deployment.apps/web`: the kind and group of the object itself.
pub fn kind_name(object: &Value) -> String {
    let kind = object["kind"].as_str().unwrap_or_default().to_ascii_lowercase();
    let name = object["metadata"]["name"].as_str().unwrap_or_default();
    match object["apiVersion"].as_str().and_then(|version| version.split_once('/')) {
        Some((group, _)) => format!("{kind}.{group}/{name}"),
        None => format!("{kind}/{name}"),
    }
}

/// The object as `-o yaml|json|name` prints it (without managedFields, as kubectl's printers),
/// or `kind/name <verb>`.
pub fn print(mut object: Value, output: &Output, verb: &str) -> Result<(), CtlError> {
    if let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        metadata.remove("managedFields");
    }
    match output {
        Output::Message => outln!("{} {verb}", kind_name(&object))?,
        Output::Name => outln!("{}", kind_name(&object))?,
        Output::JsonPath(template) => {
            let text = template.render(&object).map_err(|err| CtlError::Usage(format!("error executing jsonpath {:?}: {err}", template.source())))?;
            out!("{text}")?;
        }
        Output::GoTemplate(template) => crate::get::print_go_template(template, &object)?,
        Output::Json => {
            // Go's MarshalIndent with kubectl's four spaces.
            let mut bytes = Vec::new();
            let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
            let mut serializer = serde_json::Serializer::with_formatter(&mut bytes, formatter);
            serde::Serialize::serialize(&object, &mut serializer).map_err(|err| CtlError::Usage(err.to_string()))?;
            outln!("{}", String::from_utf8_lossy(&bytes))?;
        }
        Output::Yaml => out!("{}", go_yaml(&object)?)?,
    }
    Ok(())
}

/// YAML as kubectl writes it (see `crate::yaml`).
pub fn go_yaml(value: &Value) -> Result<String, CtlError> {
    crate::yaml::to_string(value).map_err(|err| CtlError::Usage(err.to_string()))
}

/// A container name from an image, as kubectl's `create deployment` makes it: the last path
/// segment without tag or digest.
pub fn container_name(image: &str) -> String {
    let last = image.rsplit('/').next().unwrap_or(image);
    let name = last.split(':').next().unwrap_or(last);
    let name = name.split('@').next().unwrap_or(name);
    name.replace('_', "-")
}

/// `a=b,c=d` as a JSON map, in kubectl's words when a pair is malformed.
pub fn labels(text: &str) -> Result<Value, CtlError> {
    let mut labels = serde_json::Map::new();
    for pair in text.split(',') {
        let (key, value) = pair.split_once('=').ok_or_else(|| CtlError::Usage(format!("invalid label spec: {pair}")))?;
        labels.insert(key.to_string(), json!(value));
    }
    Ok(Value::Object(labels))
}

/// Go's `intstr.Parse`: a number when the text is one, else the text (a named port).
pub fn int_or_string(text: &str) -> Value {
    text.parse::<i64>().map(|number| json!(number)).unwrap_or_else(|_| json!(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_names_from_images() {
        assert_eq!(container_name("nginx"), "nginx");
        assert_eq!(container_name("busybox:1.36"), "busybox");
        assert_eq!(container_name("registry.k8s.io/pause@sha256:abc"), "pause");
        assert_eq!(container_name("localhost:5000/my_app:v1"), "my-app");
    }

    #[test]
    fn kind_names() {
        assert_eq!(kind_name(&json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "w"}})), "deployment.apps/w");
        assert_eq!(kind_name(&json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}})), "service/s");
    }
}
