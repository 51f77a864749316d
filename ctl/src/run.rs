//! `ctl run NAME --image=I`: a Pod, as kubectl 1.33's `run` builds it from flags; with `-i` or
//! `--attach`, ctl waits for it to run and attaches to it as `ctl attach` does, and with `--rm`
//! deletes it after.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::apply::query;
use crate::discovery::send;
use crate::generate::{EmitArgs, Generated, emit, labels, metadata};
use crate::kubeconfig::client_and_namespace;
use crate::output::outln;
use crate::{Config, CtlError};

/// The field manager kubectl's run names itself with, after ctl's own name.
const FIELD_MANAGER: &str = "ctl-run";

#[derive(Clone, Debug, clap::Args)]
#[command(after_help = "Examples:
  ctl run web --image=nginx --port=80
  ctl run once --image=busybox --restart=Never --command -- sh -c 'echo hi'
  ctl run web --image=nginx --env=MODE=fast --labels=app=web,tier=front
  ctl run web --image=nginx --dry-run=client -o yaml")]
pub struct RunArgs {
    pub name: String,
    /// The container's image (required; checked as kubectl checks it).
    #[arg(long)]
    pub image: Option<String>,
    /// Always, OnFailure or Never.
    #[arg(long, default_value = "Always")]
    pub restart: String,
    /// KEY=VALUE, repeatable.
    #[arg(long)]
    pub env: Vec<String>,
    /// KEY=VALUE,… labels instead of run=NAME.
    #[arg(short = 'l', long)]
    pub labels: Option<String>,
    /// KEY=VALUE annotations, repeatable.
    #[arg(long)]
    pub annotations: Vec<String>,
    /// The port the container exposes.
    #[arg(long)]
    pub port: Option<String>,
    /// Always, IfNotPresent or Never.
    #[arg(long)]
    pub image_pull_policy: Option<String>,
    /// The words after `--` are the command, not arguments to the image's entrypoint.
    #[arg(long)]
    pub command: bool,
    /// JSON merged into the generated Pod (strategic merge: containers by name).
    #[arg(long)]
    pub overrides: Option<String>,
    /// Keep stdin open for the container's process (attached, with -i).
    #[arg(short = 'i', long)]
    pub stdin: bool,
    /// Allocate a TTY for the container (needs -i).
    #[arg(short = 't', long)]
    pub tty: bool,
    /// Wait for the Pod to run and attach to it (the default with -i).
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub attach: Option<bool>,
    /// Delete the Pod after the attached session ends.
    #[arg(long)]
    pub rm: bool,
    /// Only print output from the attached session.
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// With -i: leave the container's stdin open after the first attach ends.
    #[arg(long)]
    pub leave_stdin_open: bool,
    /// How long to wait for the Pod to run (Go's form: 30s, 1m).
    #[arg(long, default_value = "1m0s")]
    pub pod_running_timeout: String,
    /// The container's arguments (or command, with --command), after `--`.
    #[arg(last = true)]
    pub args: Vec<String>,
    #[command(flatten)]
    pub emit: EmitArgs,
}

pub async fn run(config: &Config, args: &RunArgs) -> Result<(), CtlError> {
    let usage = |message: &str| CtlError::Usage(format!("{message}\nSee 'ctl run -h' for help and examples"));
    let timeout = match common::durations::parse_go_duration(&args.pod_running_timeout) {
        Ok(nanos) if nanos > 0 => Duration::from_nanos(nanos.unsigned_abs()),
        _ => return Err(usage("--pod-running-timeout must be higher than zero")),
    };
    let attach = args.attach.unwrap_or(args.stdin);
    if args.tty && !args.stdin {
        return Err(usage("-i/--stdin is required for containers with -t/--tty=true"));
    }
    if args.rm && !attach {
        return Err(usage("--rm should only be used for attached containers"));
    }
    if attach && args.emit.dry_run != "none" {
        return Err(usage("--dry-run=[server|client] can't be used with attached containers options (--attach, --stdin, or --tty)"));
    }
    let object = pod(config, args)?;
    let (client, namespace) = client_and_namespace(config).await?;
    let path = format!("/api/v1/namespaces/{namespace}/pods");
    if !attach {
        return emit(&client, Generated { object, path, failure: None }, &args.emit, FIELD_MANAGER, "created").await;
    }
    // Attached, kubectl prints nothing of the creation.
    let validation = args.emit.validate.field_validation()?;
    send(&client, "POST", &format!("{path}{}", query(&[("fieldManager", FIELD_MANAGER), ("fieldValidation", validation)])), "application/json", &object).await?;
    let session = async {
        let pod_path = format!("{path}/{}", args.name);
        if wait_running(&client, &pod_path, timeout).await? == Started::Completed {
            // As kubectl: a Pod that ended before it could be attached to shows its log.
            let request = http::Request::get(format!("{pod_path}/log")).body(Vec::new()).map_err(|err| CtlError::Usage(format!("bad request {pod_path}/log: {err}")))?;
            let log = client.request_text(request).await.map_err(CtlError::from_kube)?;
            return crate::output::out!("{log}");
        }
        let attach_args = crate::stream::AttachArgs { pod: args.name.clone(), container: None, stdin: args.stdin, tty: args.tty, quiet: args.quiet };
        crate::stream::attach(config, &attach_args).await
    };
    let ended = session.await;
    // As kubectl, --rm deletes the Pod however the session ended, before its error is told.
    if args.rm {
        let options = json!({"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"});
        send(&client, "DELETE", &format!("{path}/{}", args.name), "application/json", &options).await?;
        outln!("pod {:?} deleted", args.name)?;
    }
    ended
}

/// How the Pod was found when it could be attached to.
#[derive(PartialEq)]
enum Started {
    RunningAndReady,
    Completed,
}

/// Reads the Pod until it runs and is ready, or has ended, as kubectl waits before attaching.
async fn wait_running(client: &kube::Client, path: &str, timeout: Duration) -> Result<Started, CtlError> {
    let deadline = Instant::now() + timeout;
    loop {
        let pod = send(client, "GET", path, "application/json", &Value::Null).await?;
        let ready = pod["status"]["conditions"].as_array().into_iter().flatten().any(|condition| condition["type"] == "Ready" && condition["status"] == "True");
        match pod["status"]["phase"].as_str() {
            Some("Succeeded" | "Failed") => return Ok(Started::Completed),
            Some("Running") if ready => return Ok(Started::RunningAndReady),
            _ => {}
        }
        if Instant::now() >= deadline {
            return Err(CtlError::Usage("timed out waiting for the condition".into()));
        }
        tokio::time::sleep(Duration::from_millis(250).min(deadline.saturating_duration_since(Instant::now()))).await;
    }
}

/// kubectl's `generate.RunPod`: one container named as the Pod, labelled run=NAME.
fn pod(config: &Config, args: &RunArgs) -> Result<Value, CtlError> {
    let image = args.image.as_deref().ok_or_else(crate::generators::required_image)?;
    if !["Always", "OnFailure", "Never"].contains(&args.restart.as_str()) {
        return Err(CtlError::Usage(format!("invalid restart policy: {}\nSee 'ctl run -h' for help and examples", args.restart)));
    }
    if args.command && args.args.is_empty() {
        return Err(CtlError::Usage("--command requires arguments after --".into()));
    }
    let mut container = json!({"name": args.name, "image": image, "resources": {}});
    if args.stdin {
        container["stdin"] = json!(true);
        if !args.leave_stdin_open {
            container["stdinOnce"] = json!(true);
        }
    }
    if args.tty {
        container["tty"] = json!(true);
    }
    if !args.args.is_empty() {
        container[if args.command { "command" } else { "args" }] = json!(args.args);
    }
    if !args.env.is_empty() {
        let env = args
            .env
            .iter()
            .map(|pair| pair.split_once('=').map(|(name, value)| json!({"name": name, "value": value})))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| CtlError::Usage("invalid env: each must be KEY=VALUE".into()))?;
        container["env"] = json!(env);
    }
    if let Some(port) = &args.port {
        let port: i64 = port.parse().map_err(|_| CtlError::Usage(format!("strconv.Atoi: parsing {port:?}: invalid syntax")))?;
        container["ports"] = json!([{"containerPort": port}]);
    }
    if let Some(policy) = &args.image_pull_policy {
        container["imagePullPolicy"] = json!(policy);
    }
    let mut metadata = metadata(config, &args.name);
    metadata["labels"] = match &args.labels {
        Some(text) => labels(text)?,
        None => json!({"run": args.name}),
    };
    if !args.annotations.is_empty() {
        let annotations: serde_json::Map<String, Value> = args
            .annotations
            .iter()
            .map(|pair| pair.split_once('=').map(|(key, value)| (key.to_string(), json!(value))))
            .collect::<Option<_>>()
            .ok_or_else(|| CtlError::Usage("invalid annotation: each must be KEY=VALUE".into()))?;
        metadata["annotations"] = Value::Object(annotations);
    }
    let mut object = json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": metadata,
        "spec": {"containers": [container], "dnsPolicy": "ClusterFirst", "restartPolicy": args.restart},
        "status": {}
    });
    if let Some(overrides) = &args.overrides {
        let overrides: Value = serde_json::from_str(overrides).map_err(|err| CtlError::Usage(format!("error parsing --overrides: {err}")))?;
        merge(&mut object, &overrides);
    }
    Ok(object)
}

/// A strategic merge of `patch` into `target` for what overrides carry: maps merged, null
/// removes, lists of named objects (containers, env, volumes) merged by name, other lists replaced.
fn merge(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(target), Value::Object(patch)) => {
            for (key, value) in patch {
                if value.is_null() {
                    target.remove(key);
                } else {
                    merge(target.entry(key.clone()).or_insert(Value::Null), value);
                }
            }
        }
        (Value::Array(target), Value::Array(patch)) if [&*target, patch].iter().all(|items| items.iter().all(|item| item["name"].is_string())) => {
            for item in patch {
                match target.iter_mut().find(|existing| existing["name"] == item["name"]) {
                    Some(existing) => merge(existing, item),
                    None => target.push(item.clone()),
                }
            }
        }
        (target, patch) => *target = patch.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_merge_containers_by_name() {
        let mut pod = json!({"spec": {"containers": [{"name": "web", "image": "nginx"}], "dnsPolicy": "ClusterFirst"}});
        merge(&mut pod, &json!({"spec": {"containers": [{"name": "web", "stdin": true}, {"name": "side", "image": "b"}], "dnsPolicy": null, "nodeName": "n1"}}));
        assert_eq!(
            pod,
            json!({"spec": {"containers": [{"name": "web", "image": "nginx", "stdin": true}, {"name": "side", "image": "b"}], "nodeName": "n1"}})
        );
    }
}
