//! `api-versions` and `cluster-info`: what the server serves and where, as kubectl prints them.

use crate::discovery::{encode, get_json};
use crate::kubeconfig::client_config;
use crate::output::outln;
use crate::{Config, CtlError};

#[derive(Clone, Debug, clap::Args)]
#[command(after_help = "Examples:\n  ctl api-versions")]
pub struct ApiVersionsArgs {}

#[derive(Clone, Debug, clap::Args)]
#[command(after_help = "Examples:\n  ctl cluster-info")]
pub struct ClusterInfoArgs {}

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
