//! `api-versions` and `cluster-info`: what the server serves and where, as kubectl prints them;
//! `cluster-info dump`: the nodes, and per namespace the events, workloads, Services, Pods and
//! Pods' logs, as kubectl dumps them to stdout or a directory.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::discovery::{encode, get_json};
use crate::kubeconfig::client_config;
use crate::output::{out, outln};
use crate::{Command, Config, CtlError};

#[derive(Clone, Debug, clap::Args)]
#[command(after_help = "Examples:\n  ctl api-versions")]
pub struct ApiVersionsArgs {}

#[derive(Clone, Debug, clap::Args)]
#[command(after_help = "Examples:\n  ctl cluster-info\n  ctl cluster-info dump --output-directory=/tmp/state")]
pub struct ClusterInfoArgs {
    #[command(subcommand)]
    pub command: Option<ClusterInfoCommand>,
}

#[derive(Clone, Debug, clap::Subcommand)]
pub enum ClusterInfoCommand {
    /// Dump the nodes, and the events, workloads, Services, Pods and logs of namespaces (the
    /// current one and kube-system unless told), for debugging.
    #[command(after_help = "Examples:\n  ctl cluster-info dump --output-directory=/tmp/state\n  ctl cluster-info dump --namespaces default,kube-system\n  ctl cluster-info dump -A")]
    Dump(DumpArgs),
}

#[derive(Clone, Debug, clap::Args)]
pub struct DumpArgs {
    /// Dump every namespace (--namespaces is then ignored).
    #[arg(short = 'A', long)]
    pub all_namespaces: bool,
    /// The namespaces to dump, comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub namespaces: Vec<String>,
    /// json or yaml.
    #[arg(short = 'o', long, default_value = "json")]
    pub output: String,
    /// Write files under this directory (nodes.json, NAMESPACE/pods.json, NAMESPACE/POD/logs.txt, …)
    /// instead of to stdout (`-` is stdout too).
    #[arg(long)]
    pub output_directory: Option<PathBuf>,
}

/// Every group/version the server serves (not only the preferred ones), sorted as kubectl sorts.
pub async fn api_versions(config: &Config) -> Result<(), CtlError> {
    let client = crate::kubeconfig::client(config).await?;
    let core = get_json(&client, "/api", "application/json").await?;
    let groups = get_json(&client, "/apis", "application/json").await?;
    let mut versions: Vec<String> = core["versions"].as_array().into_iter().flatten().filter_map(|version| version.as_str().map(str::to_string)).collect();
    for group in groups["groups"].as_array().into_iter().flatten() {
        for version in group["versions"].as_array().into_iter().flatten() {
            versions.extend(version["groupVersion"].as_str().map(str::to_string));
        }
    }
    versions.sort();
    for version in versions {
        outln!("{version}")?;
    }
    Ok(())
}

/// The control plane's address, then each Service of the namespace (kube-system unless -n)
/// labelled `kubernetes.io/cluster-service=true`. kubectl's source colours the names, but
/// kubectl 1.33 prints no colour codes, on a terminal or not (tests/verbs.rs checks on a pty),
/// and neither does ctl.
pub async fn cluster_info(config: &Config) -> Result<(), CtlError> {
    // The subcommand is read from the parsed command line, which `run` does not pass on.
    if let Command::ClusterInfo(ClusterInfoArgs { command: Some(ClusterInfoCommand::Dump(args)) }) = &config.command {
        return dump(config, args).await;
    }
    let (client_config, _) = client_config(config).await?;
    let host = client_config.cluster_url.to_string().trim_end_matches('/').to_string();
    let client = kube::Client::try_from(client_config)?;
    let namespace = config.namespace.clone().unwrap_or_else(|| "kube-system".to_string());
    let path = format!("/api/v1/namespaces/{}/services?labelSelector={}", encode(&namespace), encode("kubernetes.io/cluster-service=true"));
    let services = get_json(&client, &path, "application/json").await?;
    outln!("Kubernetes control plane is running at {host}")?;
    for service in services["items"].as_array().into_iter().flatten() {
        let name = service["metadata"]["name"].as_str().unwrap_or_default();
        let label = service["metadata"]["labels"]["kubernetes.io/name"].as_str().filter(|label| !label.is_empty()).unwrap_or(name);
        outln!("{label} is running at {}", service_link(&host, service))?;
    }
    outln!("\nTo further debug and diagnose cluster problems, use 'kubectl cluster-info dump'.")?;
    Ok(())
}

/// A load balancer's addresses, or the apiserver's proxy path to the Service's first port.
fn service_link(host: &str, service: &serde_json::Value) -> String {
    let ports = service["spec"]["ports"].as_array().cloned().unwrap_or_default();
    if let Some(ingress) = service["status"]["loadBalancer"]["ingress"].get(0) {
        let address = ingress["ip"].as_str().filter(|ip| !ip.is_empty()).or_else(|| ingress["hostname"].as_str()).unwrap_or_default();
        return ports.iter().map(|port| format!("http://{address}:{} ", port["port"].as_i64().unwrap_or_default())).collect();
    }
    let namespace = service["metadata"]["namespace"].as_str().unwrap_or_default();
    let mut name = service["metadata"]["name"].as_str().unwrap_or_default().to_string();
    if let Some(port) = ports.first() {
        let port_name = port["name"].as_str().unwrap_or_default();
        // client-go's JoinSchemeNamePort, guessing https from the port.
        let scheme = if port_name == "https" || port["port"].as_i64() == Some(443) { "https" } else { "" };
        name = match (scheme, port_name) {
            ("", "") => name,
            ("", port_name) => format!("{name}:{port_name}"),
            (scheme, port_name) => format!("{scheme}:{name}:{port_name}"),
        };
    }
    format!("{host}/api/v1/namespaces/{namespace}/services/{name}/proxy")
}

/// Where the dump goes: stdout, or a directory of files.
enum Destination<'a> {
    Stdout { yaml: bool, printed: bool },
    Directory { root: &'a Path, yaml: bool },
}

impl Destination<'_> {
    /// Writes a list (as `name.json`, or `.yaml`, in a directory).
    fn list(&mut self, name: &str, list: &Value) -> Result<(), CtlError> {
        let yaml = matches!(self, Destination::Stdout { yaml: true, .. } | Destination::Directory { yaml: true, .. });
        let text = match yaml {
            true => crate::generate::go_yaml(list)?,
            false => format!("{}\n", crate::jsonpath::go_json_indented(list, "")),
        };
        match self {
            // kubectl's YAML printer separates the documents it prints.
            Destination::Stdout { printed, .. } => {
                let separator = if yaml && *printed { "---\n" } else { "" };
                *printed = true;
                out!("{separator}{text}")
            }
            Destination::Directory { root, .. } => write_file(&root.join(format!("{name}.{}", if yaml { "yaml" } else { "json" })), &text),
        }
    }

    /// Writes a pod's logs (as `NAMESPACE/POD/logs.txt` in a directory).
    fn logs(&mut self, name: &str, text: &str) -> Result<(), CtlError> {
        match self {
            Destination::Stdout { .. } => out!("{text}"),
            Destination::Directory { root, .. } => write_file(&root.join(format!("{name}.txt")), text),
        }
    }
}

fn write_file(path: &Path, text: &str) -> Result<(), CtlError> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(path, text)?;
    Ok(())
}

/// The lists kubectl dumps for each namespace, with their file names.
const NAMESPACED: [(&str, &str, &str); 7] = [
    ("/api/v1", "events", "events"),
    ("/api/v1", "replicationcontrollers", "replication-controllers"),
    ("/api/v1", "services", "services"),
    ("/apis/apps/v1", "daemonsets", "daemonsets"),
    ("/apis/apps/v1", "deployments", "deployments"),
    ("/apis/apps/v1", "replicasets", "replicasets"),
    ("/api/v1", "pods", "pods"),
];

/// `cluster-info dump`: kubectl's lists in kubectl's order, each item with its kind and API
/// version and without managedFields, then each Pod's containers' logs between kubectl's
/// START and END lines.
async fn dump(config: &Config, args: &DumpArgs) -> Result<(), CtlError> {
    let yaml = match args.output.as_str() {
        "json" => false,
        "yaml" => true,
        other => {
            return Err(CtlError::Usage(format!(
                "unable to match a printer suitable for the output format {other:?}, allowed formats are: go-template,go-template-file,json,jsonpath,jsonpath-as-json,jsonpath-file,name,template,templatefile,yaml"
            )));
        }
    };
    let (client, namespace) = crate::kubeconfig::client_and_namespace(config).await?;
    let directory = args.output_directory.as_deref().filter(|directory| directory.as_os_str() != "-");
    let mut destination = match directory {
        Some(root) => Destination::Directory { root, yaml },
        None => Destination::Stdout { yaml, printed: false },
    };
    destination.list("nodes", &listed(&client, "/api/v1/nodes").await?)?;
    let namespaces = if args.all_namespaces {
        let list = get_json(&client, "/api/v1/namespaces", "application/json").await?;
        list["items"].as_array().into_iter().flatten().filter_map(|item| item["metadata"]["name"].as_str().map(str::to_string)).collect()
    } else if args.namespaces.is_empty() {
        vec!["kube-system".to_string(), namespace]
    } else {
        args.namespaces.clone()
    };
    for namespace in &namespaces {
        let mut pods = Value::Null;
        for (prefix, plural, file) in NAMESPACED {
            let list = listed(&client, &format!("{prefix}/namespaces/{}/{plural}", encode(namespace))).await?;
            destination.list(&format!("{namespace}/{file}"), &list)?;
            pods = list;
        }
        for pod in pods["items"].as_array().into_iter().flatten() {
            let name = pod["metadata"]["name"].as_str().unwrap_or_default();
            let mut text = String::new();
            for list in ["initContainers", "containers"] {
                for container in pod["spec"][list].as_array().into_iter().flatten() {
                    text.push_str(&container_logs(&client, namespace, name, container["name"].as_str().unwrap_or_default()).await);
                }
            }
            destination.logs(&format!("{namespace}/{name}/logs"), &text)?;
        }
    }
    if let Some(root) = directory {
        outln!("Cluster info dumped to {}", root.display())?;
    }
    Ok(())
}

/// A list as kubectl prints it: its items with their kind and API version, without managedFields.
async fn listed(client: &kube::Client, path: &str) -> Result<Value, CtlError> {
    let mut list = get_json(client, path, "application/json").await?;
    let kind = list["kind"].as_str().and_then(|kind| kind.strip_suffix("List")).unwrap_or_default().to_string();
    let version = list["apiVersion"].clone();
    for item in list["items"].as_array_mut().into_iter().flatten() {
        item["kind"] = json!(kind);
        item["apiVersion"] = version.clone();
        if let Some(metadata) = item.get_mut("metadata").and_then(Value::as_object_mut) {
            metadata.remove("managedFields");
        }
    }
    if list["items"].is_null() {
        list["items"] = json!([]);
    }
    Ok(list)
}

/// One container's log between kubectl's START and END lines, or kubectl's words for why there
/// is none.
async fn container_logs(client: &kube::Client, namespace: &str, pod: &str, container: &str) -> String {
    let path = format!("/api/v1/namespaces/{}/pods/{}/log?container={}", encode(namespace), encode(pod), encode(container));
    let body = match http::Request::get(&path).body(Vec::new()) {
        Ok(request) => match client.request_text(request).await {
            Ok(text) => text,
            Err(kube::Error::Api(status)) => format!("Request log error: {} (get pods {pod})\n", generic_message(status.code)),
            Err(err) => format!("Request log error: {err}\n"),
        },
        Err(err) => format!("Create log request error: {err}\n"),
    };
    format!("==== START logs for container {container} of pod {namespace}/{pod} ====\n{body}==== END logs for container {container} of pod {namespace}/{pod} ====\n")
}

/// client-go's words for a failed request whose answer it does not read as a Status, as kubectl
/// reports failed log requests in its dump.
fn generic_message(code: u16) -> String {
    match code {
        400 => "the server rejected our request for an unknown reason".into(),
        401 => "the server has asked for the client to provide credentials".into(),
        403 => "forbidden".into(),
        404 => "the server could not find the requested resource".into(),
        409 => "the server reported a conflict".into(),
        422 => "the server rejected our request due to an error in our request".into(),
        503 => "the server is currently unable to handle the request".into(),
        504 => "the server was unable to return a response in the time allotted, but may still be processing the request".into(),
        code => format!("the server responded with the status code {code} but did not return more information"),
    }
}
