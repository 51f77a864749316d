//! `drain`: kubectl's cordon, then the eviction (or deletion) of the node's pods, with its
//! refusals, its retries on a disruption budget's 429 and its messages.

use std::time::Duration;

use futures::future::join_all;
use serde_json::{Value, json};

use crate::discovery::{encode, get_json, send};
use crate::kubeconfig::client;
use crate::nodes::{CordonArgs, cordon, nodes};
use crate::output::outln;
use crate::rollout::parse_duration;
use crate::{Config, CtlError};

/// kubectl's pause before evicting again a pod a disruption budget protects.
const RETRY: Duration = Duration::from_secs(5);

#[derive(Clone, Debug, clap::Args)]
#[command(after_help = "Examples:\n  ctl drain node-1 --ignore-daemonsets\n  ctl drain node-1 --force --grace-period=0 --timeout=2m")]
pub struct DrainArgs {
    /// The node.
    pub nodes: Vec<String>,
    /// The nodes matching this label selector.
    #[arg(short = 'l', long)]
    pub selector: Option<String>,
    /// Only the pods matching this label selector.
    #[arg(long)]
    pub pod_selector: Option<String>,
    /// Delete pods no controller manages too.
    #[arg(long)]
    pub force: bool,
    /// Leave DaemonSet-managed pods where they are.
    #[arg(long)]
    pub ignore_daemonsets: bool,
    /// Delete pods with emptyDir volumes, and their data.
    #[arg(long)]
    pub delete_emptydir_data: bool,
    /// Seconds each pod has to stop (-1: the pod's own).
    #[arg(long, default_value_t = -1, allow_negative_numbers = true)]
    pub grace_period: i64,
    /// How long to wait before giving up (0: forever).
    #[arg(long, default_value = "0s")]
    pub timeout: String,
    /// Delete the pods instead of evicting them, past any disruption budget.
    #[arg(long)]
    pub disable_eviction: bool,
    /// none, client (print only) or server (the server checks the evictions and keeps nothing).
    #[arg(long, default_value = "none", num_args = 0..=1, default_missing_value = "client")]
    pub dry_run: String,
}

/// What kubectl's filters make of a pod: evict it, leave it, or refuse the drain; with the
/// message that explains it.
enum Verdict {
    Evict(Option<&'static str>),
    Skip(Option<&'static str>),
    Refuse(&'static str),
}

pub async fn drain(config: &Config, args: &DrainArgs) -> Result<(), CtlError> {
    let timeout = parse_duration(&args.timeout).map_err(CtlError::Usage)?;
    if args.nodes.is_empty() && args.selector.is_none() {
        return Err(CtlError::Usage("USAGE: drain NODE [flags]\nSee 'ctl drain -h' for help and examples".into()));
    }
    let cordoned = CordonArgs { nodes: args.nodes.clone(), selector: args.selector.clone(), dry_run: args.dry_run.clone() };
    cordon(config, &cordoned, true).await?;
    let client = client(config).await?;
    let suffix = match args.dry_run.as_str() {
        "client" => " (dry run)",
        "server" => " (server dry run)",
        _ => "",
    };
    let found = nodes(&client, &args.nodes, args.selector.as_deref(), false).await?;
    let names: Vec<String> = found.iter().map(|node| node["metadata"]["name"].as_str().unwrap_or_default().to_string()).collect();
    for (index, name) in names.iter().enumerate() {
        if let Err(err) = drain_node(&client, args, name, timeout).await {
            eprintln!("error: unable to drain node {name:?} due to error: {err}, continuing command...");
            eprintln!("There are pending nodes to be drained:");
            for pending in &names[index..] {
                eprintln!(" {pending}");
            }
            // kubectl prints its final errors without its `error: ` prefix.
            for line in &err.0 {
                eprintln!("{line}");
            }
            return Err(CtlError::Reported(err.0.len()));
        }
        outln!("node/{name} drained{suffix}")?;
    }
    Ok(())
}

/// Errors as kubectl's aggregate holds them: inside a message one is itself and more are
/// `[a, b]`; at the end each gets its own line.
struct Failure(Vec<String>);

impl std::fmt::Display for Failure {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0.as_slice() {
            [one] => write!(formatter, "{one}"),
            many => write!(formatter, "[{}]", many.join(", ")),
        }
    }
}

impl From<CtlError> for Failure {
    fn from(err: CtlError) -> Self {
        Self(vec![message(&err)])
    }
}

/// An error's text as kubectl's `%s` writes it inside its own messages.
fn message(err: &CtlError) -> String {
    match err {
        CtlError::Server { message, .. } => message.clone(),
        other => other.to_string(),
    }
}

async fn drain_node(client: &kube::Client, args: &DrainArgs, node: &str, timeout: Duration) -> Result<(), Failure> {
    let pods = deletable(client, args, node).await?;
    if args.dry_run == "client" {
        let verb = if args.disable_eviction { "delete" } else { "evicting" };
        for pod in &pods {
            outln!("{verb} pod {}/{} (dry run)", pod.0, pod.1)?;
        }
        return Ok(());
    }
    let deadline = (timeout > Duration::ZERO).then(|| tokio::time::Instant::now() + timeout);
    let removed = if args.disable_eviction { delete_all(client, args, &pods, deadline).await.map_err(Failure::from) } else { evict_all(client, args, &pods, deadline).await };
    if let Err(err) = removed {
        let pending = deletable(client, args, node).await.unwrap_or_default();
        if !pending.is_empty() {
            eprintln!("There are pending pods in node {node:?} when an error occurred: {err}");
            for (_, name, _) in pending {
                eprintln!("pod/{name}");
            }
        }
        return Err(err);
    }
    Ok(())
}

/// The node's pods kubectl would remove, as (namespace, name, uid); or its refusal. Warnings
/// for the pods removed or left anyway go to stderr first.
async fn deletable(client: &kube::Client, args: &DrainArgs, node: &str) -> Result<Vec<(String, String, String)>, Failure> {
    let mut query = format!("?fieldSelector={}", encode(&format!("spec.nodeName={node}")));
    if let Some(selector) = &args.pod_selector {
        query.push_str(&format!("&labelSelector={}", encode(selector)));
    }
    let list = get_json(client, &format!("/api/v1/pods{query}"), "application/json").await?;
    let mut warnings: Vec<(&'static str, Vec<String>)> = Vec::new();
    let mut refusals: Vec<(&'static str, Vec<String>)> = Vec::new();
    let mut pods = Vec::new();
    for pod in list["items"].as_array().into_iter().flatten() {
        let text = |field: &str| pod["metadata"][field].as_str().unwrap_or_default().to_string();
        let (namespace, name) = (text("namespace"), text("name"));
        let verdict = verdict(client, args, pod).await?;
        let (warning, refusal) = match &verdict {
            Verdict::Evict(warning) | Verdict::Skip(warning) => (*warning, None),
            Verdict::Refuse(refusal) => (None, Some(*refusal)),
        };
        let full = format!("{namespace}/{name}");
        for (message, groups) in [(warning, &mut warnings), (refusal, &mut refusals)] {
            if let Some(message) = message {
                match groups.iter_mut().find(|(known, _)| *known == message) {
                    Some((_, names)) => names.push(full.clone()),
                    None => groups.push((message, vec![full.clone()])),
                }
            }
        }
        if let Verdict::Evict(_) = verdict {
            pods.push((namespace, name, text("uid")));
        }
    }
    if !refusals.is_empty() {
        return Err(Failure(refusals.iter().map(|(message, names)| format!("{message}: {}", names.join(", "))).collect()));
    }
    if !warnings.is_empty() {
        let parts: Vec<String> = warnings.iter().map(|(message, names)| format!("{message}: {}", names.join(", "))).collect();
        eprintln!("Warning: {}", parts.join("; "));
    }
    Ok(pods)
}

/// kubectl's filters in its order: DaemonSet, mirror, local storage, unreplicated; the first
/// that does not delete decides, else the last one's message stands.
async fn verdict(client: &kube::Client, args: &DrainArgs, pod: &Value) -> Result<Verdict, CtlError> {
    let controller = pod["metadata"]["ownerReferences"].as_array().into_iter().flatten().find(|owner| owner["controller"] == true);
    if let Some(owner) = controller.filter(|owner| owner["kind"] == "DaemonSet") {
        let namespace = pod["metadata"]["namespace"].as_str().unwrap_or_default();
        let name = owner["name"].as_str().unwrap_or_default();
        get_json(client, &format!("/apis/apps/v1/namespaces/{}/daemonsets/{}", encode(namespace), encode(name)), "application/json").await?;
        return Ok(if args.ignore_daemonsets {
            Verdict::Skip(Some("ignoring DaemonSet-managed Pods"))
        } else {
            Verdict::Refuse("cannot delete DaemonSet-managed Pods (use --ignore-daemonsets to ignore)")
        });
    }
    if pod["metadata"]["annotations"]["kubernetes.io/config.mirror"].is_string() {
        return Ok(Verdict::Skip(None));
    }
    let finished = matches!(pod["status"]["phase"].as_str(), Some("Succeeded" | "Failed"));
    let local = pod["spec"]["volumes"].as_array().into_iter().flatten().any(|volume| volume["emptyDir"].is_object());
    if local && !finished && !args.delete_emptydir_data {
        return Ok(Verdict::Refuse("cannot delete Pods with local storage (use --delete-emptydir-data to override)"));
    }
    if finished || controller.is_some() {
        return Ok(Verdict::Evict(None));
    }
    if args.force {
        return Ok(Verdict::Evict(Some("deleting Pods that declare no controller")));
    }
    Ok(Verdict::Refuse("cannot delete cannot delete Pods that declare no controller (use --force to override)"))
}

fn delete_options(args: &DrainArgs) -> Value {
    let mut options = json!({});
    if args.grace_period >= 0 {
        options["gracePeriodSeconds"] = json!(args.grace_period);
    }
    if args.dry_run == "server" {
        options["dryRun"] = json!(["All"]);
    }
    options
}

/// Evicts every pod at once, as kubectl's goroutines do, each waiting for its pod to go.
async fn evict_all(client: &kube::Client, args: &DrainArgs, pods: &[(String, String, String)], deadline: Option<tokio::time::Instant>) -> Result<(), Failure> {
    let results = join_all(pods.iter().map(|pod| evict(client, args, pod, deadline))).await;
    let errors: Vec<String> = results.into_iter().filter_map(Result::err).map(|err| message(&err)).collect();
    if errors.is_empty() { Ok(()) } else { Err(Failure(errors)) }
}

async fn evict(client: &kube::Client, args: &DrainArgs, (namespace, name, uid): &(String, String, String), deadline: Option<tokio::time::Instant>) -> Result<(), CtlError> {
    let suffix = if args.dry_run == "server" { " (server dry run)" } else { "" };
    let path = format!("/api/v1/namespaces/{}/pods/{}/eviction", encode(namespace), encode(name));
    let body = json!({"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": name, "namespace": namespace}, "deleteOptions": delete_options(args)});
    loop {
        outln!("evicting pod {namespace}/{name}{suffix}")?;
        if deadline.is_some_and(|deadline| tokio::time::Instant::now() >= deadline) {
            return Err(CtlError::Usage(format!("error when evicting pods/{name:?} -n {namespace:?}: global timeout reached: {}", args.timeout)));
        }
        match send(client, "POST", &path, "application/json", &body).await {
            Ok(_) => break,
            Err(CtlError::Server { reason, .. }) if reason == "NotFound" => return Ok(()),
            Err(CtlError::Server { reason, message, .. }) if reason == "TooManyRequests" => {
                eprintln!("error when evicting pods/{name:?} -n {namespace:?} (will retry after 5s): {message}");
                tokio::time::sleep(RETRY).await;
            }
            Err(err) => return Err(CtlError::Usage(format!("error when evicting pods/{name:?} -n {namespace:?}: {}", message(&err)))),
        }
    }
    if args.dry_run == "server" {
        return Ok(());
    }
    wait_gone(client, args, &[(namespace.clone(), name.clone(), uid.clone())], "evicted", deadline).await
}

/// Deletes every pod, then waits for them all.
async fn delete_all(client: &kube::Client, args: &DrainArgs, pods: &[(String, String, String)], deadline: Option<tokio::time::Instant>) -> Result<(), CtlError> {
    for (namespace, name, _) in pods {
        let path = format!("/api/v1/namespaces/{}/pods/{}", encode(namespace), encode(name));
        match send(client, "DELETE", &path, "application/json", &delete_options(args)).await {
            Ok(_) => {}
            Err(CtlError::Server { reason, .. }) if reason == "NotFound" => {}
            Err(err) => return Err(err),
        }
    }
    if args.dry_run == "server" {
        return Ok(());
    }
    wait_gone(client, args, pods, "deleted", deadline).await
}

/// Polls each second until every pod is gone (or replaced by one of the same name), printing
/// each as it goes.
async fn wait_gone(client: &kube::Client, args: &DrainArgs, pods: &[(String, String, String)], verb: &str, deadline: Option<tokio::time::Instant>) -> Result<(), CtlError> {
    let mut pending = pods.to_vec();
    loop {
        let mut left = Vec::new();
        for pod in pending {
            let path = format!("/api/v1/namespaces/{}/pods/{}", encode(&pod.0), encode(&pod.1));
            match get_json(client, &path, "application/json").await {
                Ok(found) if found["metadata"]["uid"].as_str() == Some(pod.2.as_str()) => left.push(pod),
                Ok(_) => outln!("pod/{} {verb}", pod.1)?,
                Err(CtlError::Server { reason, .. }) if reason == "NotFound" => outln!("pod/{} {verb}", pod.1)?,
                Err(err) => return Err(err),
            }
        }
        if left.is_empty() {
            return Ok(());
        }
        if deadline.is_some_and(|deadline| tokio::time::Instant::now() >= deadline) {
            return Err(CtlError::Usage(format!("global timeout reached: {}", args.timeout)));
        }
        pending = left;
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
