//! `top node` and `top pod`: resource usage from `metrics.k8s.io`, in kubectl's tables.

use serde_json::Value;

use crate::discovery::get_json;
use crate::kubeconfig::client_and_namespace;
use crate::print::columns;
use crate::{Config, CtlError};
use crate::output::out;

#[derive(Clone, Debug, clap::Subcommand)]
pub enum TopCommand {
    /// CPU and memory of nodes.
    // Named as kubectl names it (`ctl top node --help`), with its aliases.
    #[command(name = "node", alias = "nodes", alias = "no", after_help = "Examples:\n  ctl top node\n  ctl top node node-1\n  ctl top node -l role=worker --show-capacity")]
    Nodes(TopNodesArgs),
    /// CPU and memory of pods.
    #[command(name = "pod", alias = "pods", alias = "po", after_help = "Examples:\n  ctl top pod\n  ctl top pod web-0 --containers\n  ctl top pod -A -l app=web")]
    Pods(TopPodsArgs),
}

#[derive(Clone, Debug, clap::Args)]
pub struct TopNodesArgs {
    pub name: Option<String>,
    #[arg(short = 'l', long)]
    pub selector: Option<String>,
    #[arg(long)]
    pub no_headers: bool,
    /// Percentages of capacity rather than of allocatable.
    #[arg(long)]
    pub show_capacity: bool,
}

#[derive(Clone, Debug, clap::Args)]
pub struct TopPodsArgs {
    pub name: Option<String>,
    #[arg(short = 'A', long)]
    pub all_namespaces: bool,
    #[arg(short = 'l', long)]
    pub selector: Option<String>,
    /// One row per container.
    #[arg(long)]
    pub containers: bool,
    #[arg(long)]
    pub no_headers: bool,
}

const METRICS: &str = "/apis/metrics.k8s.io/v1beta1";

fn query(selector: Option<&str>) -> String {
    selector.map(|selector| format!("?labelSelector={}", form_urlencoded::byte_serialize(selector.as_bytes()).collect::<String>())).unwrap_or_default()
}

/// A quantity's value in thousandths (CPU), or whole (bytes); 0 when absent or malformed.
fn millis(value: &Value) -> i64 {
    common::quantity::parse(value.as_str().unwrap_or_default()).map_or(0, |quantity| quantity.milli_value())
}

fn whole(value: &Value) -> i64 {
    common::quantity::parse(value.as_str().unwrap_or_default()).map_or(0, |quantity| quantity.value())
}

/// kubectl's cells: CPU in millicores (rounded up), memory in MiB (rounded down).
fn cpu_cell(millicores: i64) -> String {
    format!("{millicores}m")
}

fn memory_cell(bytes: i64) -> String {
    format!("{}Mi", bytes / (1024 * 1024))
}

fn items(list: Value) -> Vec<Value> {
    match list.get("items") {
        Some(Value::Array(items)) => items.clone(),
        _ => vec![list],
    }
}

pub async fn run(config: &Config, command: &TopCommand) -> Result<(), CtlError> {
    let (client, namespace) = client_and_namespace(config).await?;
    let discovered = get_json(&client, "/apis", "application/json").await?;
    let served = discovered["groups"].as_array().into_iter().flatten().any(|group| group["name"] == "metrics.k8s.io");
    if !served {
        return Err(CtlError::Usage("Metrics API not available".into()));
    }
    let mut rows = Vec::new();
    match command {
        TopCommand::Nodes(args) => {
            let path = match &args.name {
                Some(name) => format!("{METRICS}/nodes/{name}"),
                None => format!("{METRICS}/nodes{}", query(args.selector.as_deref())),
            };
            let metrics = items(get_json(&client, &path, "application/json").await?);
            if metrics.is_empty() {
                return Err(CtlError::Usage("metrics not available yet".into()));
            }
            let nodes = items(get_json(&client, &format!("/api/v1/nodes{}", query(args.selector.as_deref())), "application/json").await?);
            if !args.no_headers {
                rows.push(["NAME", "CPU(cores)", "CPU(%)", "MEMORY(bytes)", "MEMORY(%)"].map(str::to_string).to_vec());
            }
            for metric in metrics {
                let name = metric["metadata"]["name"].as_str().unwrap_or_default().to_string();
                let (cpu, memory) = (millis(&metric["usage"]["cpu"]), whole(&metric["usage"]["memory"]));
                let node = nodes.iter().find(|node| node["metadata"]["name"] == name.as_str());
                let field = if args.show_capacity { "capacity" } else { "allocatable" };
                let percent = |used: i64, resource: &str, milli: bool| {
                    let total = node.map(|node| &node["status"][field][resource]).map(|q| if milli { millis(q) } else { whole(q) });
                    total.filter(|total| *total > 0).map_or_else(|| "<unknown>".to_string(), |total| format!("{}%", used * 100 / total))
                };
                rows.push(vec![name, cpu_cell(cpu), percent(cpu, "cpu", true), memory_cell(memory), percent(memory, "memory", false)]);
            }
        }
        TopCommand::Pods(args) => {
            let path = match (&args.name, args.all_namespaces) {
                (Some(name), _) => format!("{METRICS}/namespaces/{namespace}/pods/{name}"),
                (None, true) => format!("{METRICS}/pods{}", query(args.selector.as_deref())),
                (None, false) => format!("{METRICS}/namespaces/{namespace}/pods{}", query(args.selector.as_deref())),
            };
            let metrics = items(get_json(&client, &path, "application/json").await?);
            if metrics.is_empty() {
                let pods = items(get_json(&client, &format!("/api/v1/namespaces/{namespace}/pods{}", query(args.selector.as_deref())), "application/json").await?);
                if pods.is_empty() {
                    eprintln!("No resources found in {namespace} namespace.");
                    return Ok(());
                }
                return Err(CtlError::Usage("metrics not available yet".into()));
            }
            if !args.no_headers {
                let mut header = Vec::new();
                if args.all_namespaces {
                    header.push("NAMESPACE");
                }
                header.extend(if args.containers { vec!["POD", "NAME"] } else { vec!["NAME"] });
                header.extend(["CPU(cores)", "MEMORY(bytes)"]);
                rows.push(header.into_iter().map(str::to_string).collect());
            }
            for metric in metrics {
                let pod = metric["metadata"]["name"].as_str().unwrap_or_default().to_string();
                let prefix = |row: &mut Vec<String>| {
                    if args.all_namespaces {
                        row.push(metric["metadata"]["namespace"].as_str().unwrap_or_default().to_string());
                    }
                    row.push(pod.clone());
                };
                let containers = metric["containers"].as_array().cloned().unwrap_or_default();
                if args.containers {
                    for container in &containers {
                        let mut row = Vec::new();
                        prefix(&mut row);
                        row.push(container["name"].as_str().unwrap_or_default().to_string());
                        row.push(cpu_cell(millis(&container["usage"]["cpu"])));
                        row.push(memory_cell(whole(&container["usage"]["memory"])));
                        rows.push(row);
                    }
                } else {
                    let cpu: i64 = containers.iter().map(|c| millis(&c["usage"]["cpu"])).sum();
                    let memory: i64 = containers.iter().map(|c| whole(&c["usage"]["memory"])).sum();
                    let mut row = Vec::new();
                    prefix(&mut row);
                    row.extend([cpu_cell(cpu), memory_cell(memory)]);
                    rows.push(row);
                }
            }
        }
    }
    out!("{}", columns(&rows))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_rounded_as_kubectl_rounds_them() {
        assert_eq!(cpu_cell(millis(&Value::from("123456789n"))), "124m");
        assert_eq!(memory_cell(whole(&Value::from("14520Ki"))), "14Mi");
        assert_eq!(millis(&Value::Null), 0);
        assert_eq!(query(Some("app=web,tier in (a)")), "?labelSelector=app%3Dweb%2Ctier+in+%28a%29");
        assert_eq!(items(serde_json::json!({"kind": "PodMetrics", "containers": []})).len(), 1);
    }
}
