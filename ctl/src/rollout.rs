//! `rollout status|history|undo|restart|pause|resume` for Deployments, DaemonSets and
//! StatefulSets, as kubectl's `polymorphichelpers` do them: a Deployment's history is its
//! ReplicaSets (numbered by their `deployment.kubernetes.io/revision` annotation), a DaemonSet's
//! or StatefulSet's the ControllerRevisions it controls (numbered by `.revision`, each `data` the
//! strategic merge patch that puts its template back). The messages are kubectl's.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::semantic::pruned;
use serde_json::{Value, json};

use crate::discovery::{Resource, discover, encode, get_json, send};
use crate::kubeconfig::client_and_namespace;
use crate::print::aligned;
use crate::{Config, CtlError};
use crate::output::outln;

#[derive(Clone, Debug, clap::Subcommand)]
pub enum RolloutCommand {
    /// Wait until a rollout is complete.
    #[command(after_help = "Examples:\n  ctl rollout status deployment/web\n  ctl rollout status ds/agent --timeout=2m\n  ctl rollout status sts/db --watch=false")]
    Status {
        #[command(flatten)]
        target: Target,
        /// How long to wait, as kubectl takes it (`90s`, `5m`, `1m30s`); 0 waits for ever.
        #[arg(long, default_value = "0s", value_parser = parse_duration)]
        timeout: Duration,
        /// Keep waiting until the rollout is done; with false, print the status once.
        #[arg(short = 'w', long, default_value_t = true, action = clap::ArgAction::Set)]
        watch: bool,
        /// The revision to wait for (Deployments only); 0 for the latest.
        #[arg(long, default_value_t = 0)]
        revision: i64,
    },
    /// List the revisions, or show one revision's pod template.
    #[command(after_help = "Examples:\n  ctl rollout history deployment/web\n  ctl rollout history deployment/web --revision=3")]
    History {
        #[command(flatten)]
        target: Target,
        /// Show this revision's pod template.
        #[arg(long, default_value_t = 0)]
        revision: i64,
    },
    /// Go back to the previous (or a given) revision.
    #[command(after_help = "Examples:\n  ctl rollout undo deployment/web\n  ctl rollout undo deployment/web --to-revision=2")]
    Undo {
        #[command(flatten)]
        target: Target,
        /// The revision to go back to; 0 for the one before the current one.
        #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
        to_revision: i64,
    },
    /// Restart the pods by changing the pod template.
    #[command(after_help = "Examples:\n  ctl rollout restart deployment/web\n  ctl rollout restart daemonset agent")]
    Restart {
        #[command(flatten)]
        target: Target,
    },
    /// Pause a Deployment: changes to its template no longer roll out.
    #[command(after_help = "Examples:\n  ctl rollout pause deployment/web")]
    Pause {
        #[command(flatten)]
        target: Target,
    },
    /// Resume a paused Deployment.
    #[command(after_help = "Examples:\n  ctl rollout resume deployment/web")]
    Resume {
        #[command(flatten)]
        target: Target,
    },
}

/// The object a rollout command is about.
#[derive(Clone, Debug, clap::Args)]
pub struct Target {
    /// TYPE/NAME (deployment/web, ds/agent, sts/db), or TYPE with NAME after it.
    pub target: String,
    pub name: Option<String>,
}

impl RolloutCommand {
    fn target(&self) -> &Target {
        match self {
            Self::Status { target, .. }
            | Self::History { target, .. }
            | Self::Undo { target, .. }
            | Self::Restart { target }
            | Self::Pause { target }
            | Self::Resume { target } => target,
        }
    }
}

/// The kinds with rollouts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Workload {
    Deployment,
    DaemonSet,
    StatefulSet,
}

fn workload(resource: &Resource) -> Option<Workload> {
    match (resource.group.as_str(), resource.kind.as_str()) {
        ("apps", "Deployment") => Some(Workload::Deployment),
        ("apps", "DaemonSet") => Some(Workload::DaemonSet),
        ("apps", "StatefulSet") => Some(Workload::StatefulSet),
        _ => None,
    }
}

/// `schema.GroupKind.String()`: `Kind.group`, or `Kind` in the core group.
fn group_kind(resource: &Resource) -> String {
    if resource.group.is_empty() { resource.kind.clone() } else { format!("{}.{}", resource.kind, resource.group) }
}

/// `deployments.apps`, as kubectl names the resource in per-object errors.
fn resource_string(resource: &Resource) -> String {
    if resource.group.is_empty() { resource.plural.clone() } else { format!("{}.{}", resource.plural, resource.group) }
}

/// Why a kind has no history or rollback, in kubectl's words: its kind visitor knows the
/// workload kinds (and says it has no such helper for them), and nothing else.
fn unsupported(resource: &Resource, helper: &str, retrieving: &str) -> CtlError {
    let known = matches!(
        (resource.group.as_str(), resource.kind.as_str()),
        ("apps" | "extensions", "DaemonSet" | "Deployment" | "ReplicaSet")
            | ("apps", "StatefulSet")
            | ("batch", "Job" | "CronJob")
            | ("" | "core", "Pod" | "ReplicationController")
    );
    let kind = group_kind(resource);
    if known {
        CtlError::Usage(format!("no {helper} has been implemented for {kind:?}"))
    } else {
        CtlError::Usage(format!("error retrieving {retrieving} for {kind:?}, no visitor method exists for {{{} {}}}", resource.group, resource.kind))
    }
}

fn resolve(served: &[Resource], target: &Target) -> Result<(Resource, String), CtlError> {
    let (word, name) = match (target.target.split_once('/'), &target.name) {
        (Some((word, name)), None) => (word, name.to_string()),
        (None, Some(name)) => (target.target.as_str(), name.clone()),
        (Some(_), Some(_)) => {
            return Err(CtlError::Usage(format!(
                "there is no need to specify a resource type as a separate argument when passing arguments in resource/name form (e.g. 'ctl rollout status resource/<resource_name>' instead of 'ctl rollout status resource resource/<resource_name>': {}",
                target.target
            )));
        }
        (None, None) => return Err(CtlError::Usage("required resource not specified".into())),
    };
    let resource = served
        .iter()
        .find(|resource| resource.matches(word))
        .cloned()
        .ok_or_else(|| CtlError::Usage(format!("the server doesn't have a resource type {word:?}")))?;
    Ok((resource, name))
}

pub async fn rollout(config: &Config, command: &RolloutCommand) -> Result<(), CtlError> {
    let (client, namespace) = client_and_namespace(config).await?;
    let served = discover(&client).await?;
    let (resource, name) = resolve(&served, command.target())?;
    let path = resource.path(Some(&namespace), Some(&name));
    // Read first, as kubectl's resource builder does, so that a missing object is its NotFound.
    let object = get_json(&client, &path, "application/json").await?;
    let label = format!("{}/{name}", resource.kind_prefix());
    let kind = workload(&resource);
    match command {
        RolloutCommand::Status { timeout, watch, revision, .. } => {
            let Some(kind) = kind else {
                return Err(CtlError::Usage(format!("no status viewer has been implemented for {}", group_kind(&resource))));
            };
            let deadline = (!timeout.is_zero()).then(|| Instant::now() + *timeout);
            let mut object = object;
            let mut last = String::new();
            loop {
                let (message, done) = status(kind, &object, *revision).map_err(CtlError::Usage)?;
                if message != last {
                    outln!("{message}")?;
                    last = message;
                }
                if done || !watch {
                    return Ok(());
                }
                if deadline.is_some_and(|deadline| Instant::now() > deadline) {
                    return Err(CtlError::Usage("timed out waiting for the condition".into()));
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
                object = match get_json(&client, &path, "application/json").await {
                    Err(CtlError::Server { reason, .. }) if reason == "NotFound" => {
                        return Err(CtlError::Usage("object has been deleted".into()));
                    }
                    other => other?,
                };
            }
        }
        RolloutCommand::History { revision, .. } => {
            let history = match kind {
                Some(Workload::Deployment) => replica_set_history(&owned_replica_sets(&client, &namespace, &object).await?),
                Some(_) => controller_revision_history(&object, &controlled_revisions(&client, &namespace, &object).await?),
                None => return Err(unsupported(&resource, "history viewer", "history")),
            };
            if *revision > 0 {
                // Empty history is reported before a missing revision, as kubectl does.
                let text = if history.is_empty() {
                    NO_HISTORY.to_string()
                } else {
                    let entry = history.get(revision).ok_or_else(|| CtlError::Usage("unable to find the specified revision".into()))?;
                    crate::pod_template::describe(&entry.template)
                };
                outln!("{label} with revision #{revision}\n{text}")?;
            } else {
                // kubectl prints the table as the "operation" after the name: hence the space
                // before the line break, and the blank line after the table.
                outln!("{label} \n{}", history_table(&history))?;
            }
        }
        RolloutCommand::Undo { to_revision, .. } => {
            let outcome = match kind {
                Some(Workload::Deployment) => {
                    let sets = owned_replica_sets(&client, &namespace, &object).await?;
                    deployment_rollback(&object, &sets, *to_revision)
                }
                Some(_) => {
                    let revisions = controlled_revisions(&client, &namespace, &object).await?;
                    controller_revision_rollback(&object, &revisions, *to_revision)
                }
                None => return Err(unsupported(&resource, "rollbacker", "rollbacker")),
            }
            .map_err(CtlError::Usage)?;
            match outcome {
                Rollback::Skip(message) => outln!("{label} {message}")?,
                Rollback::Patch { content_type, patch } => {
                    send(&client, "PATCH", &path, content_type, &patch).await.map_err(|err| failed(&format!("failed restoring revision {to_revision}"), err))?;
                    outln!("{label} rolled back")?;
                }
            }
        }
        RolloutCommand::Restart { .. } => {
            let object_error = |message: &str| CtlError::Usage(format!("{} {name:?} {message}", resource_string(&resource)));
            if kind.is_none() {
                return Err(object_error("restarting is not supported"));
            }
            if kind == Some(Workload::Deployment) && object["spec"]["paused"] == json!(true) {
                return Err(object_error("can't restart paused deployment (run rollout resume first)"));
            }
            let now = jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
            // The same second as a restart before it makes an empty patch, which kubectl refuses.
            if object["spec"]["template"]["metadata"]["annotations"][RESTARTED_AT] == json!(now) {
                return Err(CtlError::Usage(format!(
                    "failed to create patch for {name}: if restart has already been triggered within the past second, please wait before attempting to trigger another"
                )));
            }
            let patch = json!({"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: now}}}}});
            send(&client, "PATCH", &path, "application/merge-patch+json", &patch).await.map_err(|err| failed("failed to patch", err))?;
            outln!("{label} restarted")?;
        }
        RolloutCommand::Pause { .. } | RolloutCommand::Resume { .. } => {
            let pause = matches!(command, RolloutCommand::Pause { .. });
            let object_error = |message: &str| CtlError::Usage(format!("{} {name:?} {message}", resource_string(&resource)));
            if kind != Some(Workload::Deployment) {
                return Err(object_error(if pause { "pausing is not supported" } else { "resuming is not supported" }));
            }
            let paused = object["spec"]["paused"] == json!(true);
            match (pause, paused) {
                (true, true) => return Err(object_error("is already paused")),
                (false, false) => return Err(object_error("is not paused")),
                _ => {}
            }
            // kubectl's patch is the difference of the two encodings, and Go leaves `paused:
            // false` out: resuming removes the field rather than setting it false.
            let patch = json!({"spec": {"paused": if pause { json!(true) } else { Value::Null }}});
            send(&client, "PATCH", &path, "application/merge-patch+json", &patch).await.map_err(|err| failed("failed to patch", err))?;
            outln!("{label} {}", if pause { "paused" } else { "resumed" })?;
        }
    }
    Ok(())
}

const RESTARTED_AT: &str = "kubectl.kubernetes.io/restartedAt";
const REVISION_ANNOTATION: &str = "deployment.kubernetes.io/revision";
const CHANGE_CAUSE: &str = "kubernetes.io/change-cause";
const NO_HISTORY: &str = "No rollout history found.";

/// A server error inside kubectl's wrapping of it (`failed to patch: ...`).
fn failed(context: &str, err: CtlError) -> CtlError {
    match err {
        CtlError::Server { message, .. } => CtlError::Usage(format!("{context}: {message}")),
        other => other,
    }
}

/// kubectl's status viewers: the message, and whether the rollout is done; an error where kubectl
/// stops with one.
fn status(kind: Workload, object: &Value, revision: i64) -> Result<(String, bool), String> {
    match kind {
        Workload::Deployment => deployment_status(object, revision),
        Workload::DaemonSet => daemon_set_status(object),
        Workload::StatefulSet => stateful_set_status(object),
    }
}

fn number(object: &Value, pointer: &str) -> i64 {
    object.pointer(pointer).and_then(Value::as_i64).unwrap_or(0)
}

fn name_of(object: &Value) -> &str {
    object["metadata"]["name"].as_str().unwrap_or_default()
}

/// `DeploymentStatusViewer`.
fn deployment_status(deployment: &Value, revision: i64) -> Result<(String, bool), String> {
    let name = name_of(deployment);
    if revision > 0 {
        let current = match deployment["metadata"]["annotations"][REVISION_ANNOTATION].as_str() {
            None => 0,
            Some(text) => text.parse::<i64>().map_err(|err| format!("cannot get the revision of deployment {name:?}: {err}"))?,
        };
        if revision != current {
            return Err(format!("desired revision ({revision}) is different from the running revision ({current})"));
        }
    }
    if number(deployment, "/metadata/generation") > number(deployment, "/status/observedGeneration") {
        return Ok(("Waiting for deployment spec update to be observed...".into(), false));
    }
    let progressing = deployment["status"]["conditions"].as_array().into_iter().flatten().find(|condition| condition["type"] == "Progressing");
    if progressing.is_some_and(|condition| condition["reason"] == "ProgressDeadlineExceeded") {
        return Err(format!("deployment {name:?} exceeded its progress deadline"));
    }
    let updated = number(deployment, "/status/updatedReplicas");
    let total = number(deployment, "/status/replicas");
    let available = number(deployment, "/status/availableReplicas");
    if let Some(desired) = deployment.pointer("/spec/replicas").and_then(Value::as_i64)
        && updated < desired
    {
        return Ok((format!("Waiting for deployment {name:?} rollout to finish: {updated} out of {desired} new replicas have been updated..."), false));
    }
    if total > updated {
        return Ok((format!("Waiting for deployment {name:?} rollout to finish: {} old replicas are pending termination...", total - updated), false));
    }
    if available < updated {
        return Ok((format!("Waiting for deployment {name:?} rollout to finish: {available} of {updated} updated replicas are available..."), false));
    }
    Ok((format!("deployment {name:?} successfully rolled out"), true))
}

const ROLLING_UPDATE_ONLY: &str = "rollout status is only available for RollingUpdate strategy type";

/// `DaemonSetStatusViewer`.
fn daemon_set_status(daemon_set: &Value) -> Result<(String, bool), String> {
    let name = name_of(daemon_set);
    if daemon_set["spec"]["updateStrategy"]["type"] != "RollingUpdate" {
        return Err(ROLLING_UPDATE_ONLY.into());
    }
    if number(daemon_set, "/metadata/generation") > number(daemon_set, "/status/observedGeneration") {
        return Ok(("Waiting for daemon set spec update to be observed...".into(), false));
    }
    let desired = number(daemon_set, "/status/desiredNumberScheduled");
    let updated = number(daemon_set, "/status/updatedNumberScheduled");
    let available = number(daemon_set, "/status/numberAvailable");
    if updated < desired {
        return Ok((format!("Waiting for daemon set {name:?} rollout to finish: {updated} out of {desired} new pods have been updated..."), false));
    }
    if available < desired {
        return Ok((format!("Waiting for daemon set {name:?} rollout to finish: {available} of {desired} updated pods are available..."), false));
    }
    Ok((format!("daemon set {name:?} successfully rolled out"), true))
}

/// `StatefulSetStatusViewer`. With a `rollingUpdate` section (which the server defaults) the
/// rollout reads as partitioned even without a partition, as in kubectl.
fn stateful_set_status(stateful_set: &Value) -> Result<(String, bool), String> {
    let strategy = &stateful_set["spec"]["updateStrategy"];
    if strategy["type"] != "RollingUpdate" {
        return Err(ROLLING_UPDATE_ONLY.into());
    }
    let observed = number(stateful_set, "/status/observedGeneration");
    if observed == 0 || number(stateful_set, "/metadata/generation") > observed {
        return Ok(("Waiting for statefulset spec update to be observed...".into(), false));
    }
    let replicas = stateful_set.pointer("/spec/replicas").and_then(Value::as_i64);
    let ready = number(stateful_set, "/status/readyReplicas");
    if let Some(replicas) = replicas
        && ready < replicas
    {
        return Ok((format!("Waiting for {} pods to be ready...", replicas - ready), false));
    }
    let updated = number(stateful_set, "/status/updatedReplicas");
    if strategy["rollingUpdate"].is_object() {
        if let (Some(replicas), Some(partition)) = (replicas, strategy["rollingUpdate"]["partition"].as_i64())
            && updated < replicas - partition
        {
            return Ok((format!("Waiting for partitioned roll out to finish: {updated} out of {} new pods have been updated...", replicas - partition), false));
        }
        return Ok((format!("partitioned roll out complete: {updated} new pods have been updated..."), true));
    }
    let update_revision = stateful_set["status"]["updateRevision"].as_str().unwrap_or_default();
    let current_revision = stateful_set["status"]["currentRevision"].as_str().unwrap_or_default();
    if update_revision != current_revision {
        return Ok((format!("waiting for statefulset rolling update to complete {updated} pods at revision {update_revision}..."), false));
    }
    let current = number(stateful_set, "/status/currentReplicas");
    Ok((format!("statefulset rolling update complete {current} pods at revision {current_revision}..."), true))
}

/// One revision of a workload: its change cause and the pod template it had.
#[derive(Debug, Clone, PartialEq)]
struct Revision {
    change_cause: Option<String>,
    template: Value,
}

/// Whether `owner`'s uid is the controller reference of `object` (`metav1.IsControlledBy`).
fn controlled_by(object: &Value, owner: &Value) -> bool {
    let uid = &owner["metadata"]["uid"];
    object["metadata"]["ownerReferences"].as_array().into_iter().flatten().any(|reference| reference["controller"] == json!(true) && reference["uid"] == *uid)
}

/// The label selector of a workload as a query string value; None when it selects nothing.
fn selector_query(object: &Value) -> Result<Option<String>, CtlError> {
    let selector = &object["spec"]["selector"];
    if !selector.is_object() {
        return Ok(None);
    }
    let parsed: k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector =
        serde_json::from_value(selector.clone()).map_err(|err| CtlError::Usage(format!("invalid label selector: {err}")))?;
    let selector = common::selector::LabelSelector::from_k8s(&parsed).map_err(|err| CtlError::Usage(format!("invalid label selector: {err}")))?;
    Ok(Some(selector.to_string()))
}

/// Objects of `plural` (an `apps/v1` resource) in the namespace that `owner`'s selector matches
/// and that `owner` controls.
async fn controlled(client: &kube::Client, namespace: &str, plural: &str, owner: &Value) -> Result<Vec<Value>, CtlError> {
    let Some(selector) = selector_query(owner)? else {
        return Ok(Vec::new());
    };
    let list = get_json(client, &format!("/apis/apps/v1/namespaces/{namespace}/{plural}?labelSelector={}", encode(&selector)), "application/json").await?;
    Ok(list["items"].as_array().into_iter().flatten().filter(|item| controlled_by(item, owner)).cloned().collect())
}

async fn owned_replica_sets(client: &kube::Client, namespace: &str, deployment: &Value) -> Result<Vec<Value>, CtlError> {
    controlled(client, namespace, "replicasets", deployment).await
}

async fn controlled_revisions(client: &kube::Client, namespace: &str, owner: &Value) -> Result<Vec<Value>, CtlError> {
    controlled(client, namespace, "controllerrevisions", owner).await
}

/// A Deployment's history: its ReplicaSets by revision annotation (those without a number left
/// out, as kubectl leaves them out), each template carrying the set's change cause.
fn replica_set_history(sets: &[Value]) -> BTreeMap<i64, Revision> {
    let mut history = BTreeMap::new();
    for set in sets {
        let Some(number) = set["metadata"]["annotations"][REVISION_ANNOTATION].as_str().and_then(|text| text.parse::<i64>().ok()) else {
            continue;
        };
        let change_cause = set["metadata"]["annotations"][CHANGE_CAUSE].as_str().filter(|cause| !cause.is_empty()).map(str::to_string);
        let mut template = set["spec"]["template"].clone();
        if let Some(cause) = &change_cause {
            if !template["metadata"]["annotations"].is_object() {
                template["metadata"]["annotations"] = json!({});
            }
            template["metadata"]["annotations"][CHANGE_CAUSE] = json!(cause);
        }
        history.insert(number, Revision { change_cause, template });
    }
    history
}

/// A DaemonSet's or StatefulSet's history: its ControllerRevisions by `.revision`, each template
/// the revision's patch applied to the object.
fn controller_revision_history(object: &Value, revisions: &[Value]) -> BTreeMap<i64, Revision> {
    revisions
        .iter()
        .map(|revision| {
            let change_cause = revision["metadata"]["annotations"][CHANGE_CAUSE].as_str().filter(|cause| !cause.is_empty()).map(str::to_string);
            let template = revision_template(object, &revision["data"]);
            (revision["revision"].as_i64().unwrap_or(0), Revision { change_cause, template })
        })
        .collect()
}

/// The pod template `data` restores on `object`. Revisions hold the whole template under
/// `$patch: replace`, as Kubernetes' controllers and ours write them; anything else is merged
/// over the current template (maps by key, lists replaced), which is what a strategic merge
/// patch does to the template's maps.
fn revision_template(object: &Value, data: &Value) -> Value {
    let patch = &data["spec"]["template"];
    let mut template = if patch["$patch"] == "replace" {
        patch.clone()
    } else {
        let mut template = object["spec"]["template"].clone();
        merge(&mut template, patch);
        template
    };
    if let Some(map) = template.as_object_mut() {
        map.remove("$patch");
    }
    template
}

fn merge(base: &mut Value, patch: &Value) {
    match (base, patch) {
        (Value::Object(base), Value::Object(patch)) => {
            for (key, value) in patch {
                if value.is_null() {
                    base.remove(key);
                } else {
                    merge(base.entry(key.clone()).or_insert(Value::Null), value);
                }
            }
        }
        (base, patch) => *base = patch.clone(),
    }
}

/// kubectl's history table (a tabwriter, two spaces of padding), or its words for none (without
/// a line break: kubectl's printer adds one after either).
fn history_table(history: &BTreeMap<i64, Revision>) -> String {
    if history.is_empty() {
        return NO_HISTORY.to_string();
    }
    let mut rows = vec![vec!["REVISION".to_string(), "CHANGE-CAUSE".to_string()]];
    for (number, revision) in history {
        rows.push(vec![number.to_string(), revision.change_cause.clone().unwrap_or_else(|| "<none>".into())]);
    }
    aligned(&rows, "", "  ")
}

/// What `rollout undo` does: nothing (and says why), or send this patch.
#[derive(Debug, PartialEq)]
enum Rollback {
    Skip(String),
    Patch { content_type: &'static str, patch: Value },
}

fn revision_not_found(revision: i64) -> String {
    format!("unable to find specified revision {revision} in history")
}

fn skipped(revision: i64) -> Rollback {
    Rollback::Skip(format!("skipped rollback (current template already matches revision {revision})"))
}

/// The annotations a Deployment keeps on rollback instead of taking the ReplicaSet's (kubectl's
/// `annotationsToSkip`).
const DEPLOYMENT_OWN_ANNOTATIONS: [&str; 6] = [
    "kubectl.kubernetes.io/last-applied-configuration",
    REVISION_ANNOTATION,
    "deployment.kubernetes.io/revision-history",
    "deployment.kubernetes.io/desired-replicas",
    "deployment.kubernetes.io/max-replicas",
    "deprecated.deployment.rollback.to",
];

/// `DeploymentRollbacker`: the ReplicaSet of `to_revision` (0: the newest but one), skipped when
/// its template (without the pod-template-hash label) is the Deployment's already; otherwise a
/// JSON patch that puts the template back and takes the set's annotations.
fn deployment_rollback(deployment: &Value, sets: &[Value], to_revision: i64) -> Result<Rollback, String> {
    if to_revision < 0 {
        return Err(revision_not_found(to_revision));
    }
    let numbered: Vec<(i64, &Value)> = sets
        .iter()
        .filter_map(|set| set["metadata"]["annotations"][REVISION_ANNOTATION].as_str().and_then(|text| text.parse::<i64>().ok()).map(|number| (number, set)))
        .collect();
    let set = if to_revision > 0 {
        numbered.iter().find(|(number, _)| *number == to_revision).map(|(_, set)| *set).ok_or_else(|| revision_not_found(to_revision))?
    } else {
        let mut sorted = numbered.clone();
        sorted.sort_by_key(|(number, _)| std::cmp::Reverse(*number));
        sorted.get(1).map(|(_, set)| *set).ok_or_else(|| format!("no rollout history found for deployment {:?}", name_of(deployment)))?
    };
    if deployment["spec"]["paused"] == json!(true) {
        return Err("you cannot rollback a paused deployment; resume it first with 'ctl rollout resume' and try again".into());
    }
    let mut template = set["spec"]["template"].clone();
    if let Some(labels) = template["metadata"]["labels"].as_object_mut() {
        labels.remove("pod-template-hash");
    }
    let mut current = deployment["spec"]["template"].clone();
    if let Some(labels) = current["metadata"]["labels"].as_object_mut() {
        labels.remove("pod-template-hash");
    }
    if pruned(&template) == pruned(&current) {
        return Ok(skipped(to_revision));
    }
    let mut annotations = serde_json::Map::new();
    for key in DEPLOYMENT_OWN_ANNOTATIONS {
        if let Some(value) = deployment["metadata"]["annotations"].get(key) {
            annotations.insert(key.to_string(), value.clone());
        }
    }
    for (key, value) in set["metadata"]["annotations"].as_object().into_iter().flatten() {
        if !DEPLOYMENT_OWN_ANNOTATIONS.contains(&key.as_str()) {
            annotations.insert(key.clone(), value.clone());
        }
    }
    // kubectl replaces /metadata/annotations, which fails where a Deployment has none (its
    // controller always writes the revision annotation, so kubectl never meets one); `add` sets
    // the member either way.
    let patch = json!([
        {"op": "replace", "path": "/spec/template", "value": template},
        {"op": "add", "path": "/metadata/annotations", "value": annotations},
    ]);
    Ok(Rollback::Patch { content_type: "application/json-patch+json", patch })
}

/// `DaemonSetRollbacker` and `StatefulSetRollbacker`: the ControllerRevision of `to_revision` (0:
/// the newest but one), skipped when its data is the patch the current template makes already,
/// else its data sent as a strategic merge patch.
fn controller_revision_rollback(object: &Value, revisions: &[Value], to_revision: i64) -> Result<Rollback, String> {
    if to_revision < 0 {
        return Err(revision_not_found(to_revision));
    }
    if to_revision == 0 && revisions.len() <= 1 {
        return Err("no last revision to roll back to".into());
    }
    let mut sorted: Vec<&Value> = revisions.iter().collect();
    sorted.sort_by_key(|revision| revision["revision"].as_i64().unwrap_or(0));
    let chosen = if to_revision == 0 {
        sorted.get(sorted.len().saturating_sub(2)).copied()
    } else {
        sorted.iter().find(|revision| revision["revision"].as_i64() == Some(to_revision)).copied()
    };
    let revision = chosen.ok_or_else(|| revision_not_found(to_revision))?;
    let data = &revision["data"];
    let mut current = object["spec"]["template"].clone();
    if let Some(map) = current.as_object_mut() {
        map.insert("$patch".into(), json!("replace"));
    }
    // kubectl compares the bytes of the two patches; the same JSON compared as values is that
    // comparison without the encoders' differences in key order and empty fields.
    if pruned(&json!({"spec": {"template": current}})) == pruned(data) {
        return Ok(skipped(to_revision));
    }
    Ok(Rollback::Patch { content_type: "application/strategic-merge-patch+json", patch: data.clone() })
}

/// A duration as Go writes it, which is what kubectl's flags take: `0`, `500ms`, `30s`, `1h5m`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    let invalid = || format!("invalid duration {text:?}: give it as 30s, 5m or 1m30s");
    if text.is_empty() {
        return Err(invalid());
    }
    let mut total = Duration::ZERO;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).ok_or_else(invalid)?;
        let number: u64 = rest[..digits].parse().map_err(|_| invalid())?;
        rest = &rest[digits..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
        let unit = match &rest[..unit_len] {
            "ms" => Duration::from_millis(1),
            "s" => Duration::from_secs(1),
            "m" => Duration::from_secs(60),
            "h" => Duration::from_secs(3600),
            _ => return Err(invalid()),
        };
        total += unit * u32::try_from(number).map_err(|_| invalid())?;
        rest = &rest[unit_len..];
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_kubectl_reads_them() {
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        for bad in ["", "30", "s", "3x", "1.5s", "-1s"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} accepted");
        }
    }

    fn message(result: Result<(String, bool), String>) -> String {
        match result {
            Ok((message, _)) => message,
            Err(err) => format!("error: {err}"),
        }
    }

    #[test]
    fn deployment_status_messages() {
        let deployment = json!({"metadata": {"name": "web", "generation": 2}, "spec": {"replicas": 3}, "status": {"observedGeneration": 2, "updatedReplicas": 1, "replicas": 3, "availableReplicas": 2}});
        assert_eq!(message(deployment_status(&deployment, 0)), "Waiting for deployment \"web\" rollout to finish: 1 out of 3 new replicas have been updated...");
        let done = json!({"metadata": {"name": "web", "generation": 2}, "spec": {"replicas": 3}, "status": {"observedGeneration": 2, "updatedReplicas": 3, "replicas": 3, "availableReplicas": 3}});
        assert_eq!(deployment_status(&done, 0), Ok(("deployment \"web\" successfully rolled out".to_string(), true)));
        assert_eq!(message(deployment_status(&done, 2)), "error: desired revision (2) is different from the running revision (0)");
        let stuck = json!({"metadata": {"name": "web"}, "status": {"conditions": [{"type": "Progressing", "reason": "ProgressDeadlineExceeded"}]}});
        assert_eq!(message(deployment_status(&stuck, 0)), "error: deployment \"web\" exceeded its progress deadline");
    }

    /// Rows: the DaemonSet, then what kubectl's `DaemonSetStatusViewer` prints for it.
    #[test]
    fn daemon_set_status_messages() {
        let daemon_set = |generation: i64, status: Value| json!({"metadata": {"name": "agent", "generation": generation}, "spec": {"updateStrategy": {"type": "RollingUpdate"}}, "status": status});
        for (object, expected, done) in [
            (daemon_set(2, json!({"observedGeneration": 1})), "Waiting for daemon set spec update to be observed...", false),
            (daemon_set(1, json!({"observedGeneration": 1, "desiredNumberScheduled": 3, "updatedNumberScheduled": 1})), "Waiting for daemon set \"agent\" rollout to finish: 1 out of 3 new pods have been updated...", false),
            (daemon_set(1, json!({"observedGeneration": 1, "desiredNumberScheduled": 3, "updatedNumberScheduled": 3, "numberAvailable": 2})), "Waiting for daemon set \"agent\" rollout to finish: 2 of 3 updated pods are available...", false),
            (daemon_set(1, json!({"observedGeneration": 1, "desiredNumberScheduled": 3, "updatedNumberScheduled": 3, "numberAvailable": 3})), "daemon set \"agent\" successfully rolled out", true),
            (daemon_set(0, json!({})), "daemon set \"agent\" successfully rolled out", true),
        ] {
            assert_eq!(daemon_set_status(&object), Ok((expected.to_string(), done)), "{object}");
        }
        let on_delete = json!({"metadata": {"name": "agent"}, "spec": {"updateStrategy": {"type": "OnDelete"}}});
        assert_eq!(daemon_set_status(&on_delete), Err(ROLLING_UPDATE_ONLY.to_string()));
        assert_eq!(ROLLING_UPDATE_ONLY, "rollout status is only available for RollingUpdate strategy type");
    }

    /// Rows: the StatefulSet, then what kubectl's `StatefulSetStatusViewer` prints for it.
    #[test]
    fn stateful_set_status_messages() {
        let set = |strategy: Value, status: Value| json!({"metadata": {"name": "db", "generation": 1}, "spec": {"replicas": 3, "updateStrategy": strategy}, "status": status});
        let rolling = json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 1}});
        let plain = json!({"type": "RollingUpdate"});
        for (object, expected, done) in [
            (set(rolling.clone(), json!({})), "Waiting for statefulset spec update to be observed...", false),
            (set(rolling.clone(), json!({"observedGeneration": 1, "readyReplicas": 1})), "Waiting for 2 pods to be ready...", false),
            (set(rolling.clone(), json!({"observedGeneration": 1, "readyReplicas": 3, "updatedReplicas": 1})), "Waiting for partitioned roll out to finish: 1 out of 2 new pods have been updated...", false),
            (set(rolling.clone(), json!({"observedGeneration": 1, "readyReplicas": 3, "updatedReplicas": 2})), "partitioned roll out complete: 2 new pods have been updated...", true),
            (set(json!({"type": "RollingUpdate", "rollingUpdate": {}}), json!({"observedGeneration": 1, "readyReplicas": 3, "updatedReplicas": 0})), "partitioned roll out complete: 0 new pods have been updated...", true),
            (
                set(plain.clone(), json!({"observedGeneration": 1, "readyReplicas": 3, "updatedReplicas": 1, "updateRevision": "db-2", "currentRevision": "db-1"})),
                "waiting for statefulset rolling update to complete 1 pods at revision db-2...",
                false,
            ),
            (
                set(plain.clone(), json!({"observedGeneration": 1, "readyReplicas": 3, "currentReplicas": 3, "updateRevision": "db-abc", "currentRevision": "db-abc"})),
                "statefulset rolling update complete 3 pods at revision db-abc...",
                true,
            ),
        ] {
            assert_eq!(stateful_set_status(&object), Ok((expected.to_string(), done)), "{object}");
        }
        assert_eq!(stateful_set_status(&set(json!({"type": "OnDelete"}), json!({}))), Err(ROLLING_UPDATE_ONLY.to_string()));
    }

    fn daemon_set(image: &str) -> Value {
        json!({"metadata": {"name": "agent", "uid": "u-1"}, "spec": {"selector": {"matchLabels": {"app": "agent"}},
            "template": {"metadata": {"labels": {"app": "agent"}}, "spec": {"containers": [{"name": "c", "image": image, "resources": {}}]}}}})
    }

    /// A ControllerRevision as a DaemonSet controller writes it: the template under a replace
    /// directive.
    fn revision(number: i64, image: &str, cause: Option<&str>) -> Value {
        let mut revision = json!({"metadata": {"name": format!("agent-{number}"), "ownerReferences": [{"uid": "u-1", "controller": true}]}, "revision": number,
            "data": {"spec": {"template": {"$patch": "replace", "metadata": {"labels": {"app": "agent"}, "creationTimestamp": null}, "spec": {"containers": [{"name": "c", "image": image}]}}}}});
        if let Some(cause) = cause {
            revision["metadata"]["annotations"] = json!({CHANGE_CAUSE: cause});
        }
        revision
    }

    #[test]
    fn history_lists_revisions_by_number_with_their_change_causes() {
        let object = daemon_set("busybox:2");
        let history = controller_revision_history(&object, &[revision(3, "busybox:3", None), revision(1, "busybox:1", Some("first"))]);
        assert_eq!(history_table(&history), "REVISION  CHANGE-CAUSE\n1         first\n3         <none>\n");
        assert_eq!(history[&1].template["spec"]["containers"][0]["image"], "busybox:1");
        assert!(history[&1].template.get("$patch").is_none(), "the directive is not part of the template");
        assert_eq!(history_table(&BTreeMap::new()), "No rollout history found.");
        assert!(controlled_by(&revision(1, "x", None), &object));
        let mut foreign = revision(1, "x", None);
        foreign["metadata"]["ownerReferences"][0]["controller"] = json!(false);
        assert!(!controlled_by(&foreign, &object), "only the controller's revisions are its history");
    }

    #[test]
    fn a_revision_without_replace_is_merged_over_the_current_template() {
        let object = daemon_set("busybox:2");
        let data = json!({"spec": {"template": {"metadata": {"annotations": {"a": "b"}}}}});
        let template = revision_template(&object, &data);
        assert_eq!(template["metadata"], json!({"labels": {"app": "agent"}, "annotations": {"a": "b"}}));
        assert_eq!(template["spec"]["containers"][0]["image"], "busybox:2");
    }

    #[test]
    fn undo_finds_the_revision_and_skips_the_current_one() {
        let object = daemon_set("busybox:2");
        let revisions = [revision(1, "busybox:1", None), revision(2, "busybox:2", None), revision(3, "busybox:3", None)];
        // Default: the newest but one, here the template the DaemonSet has already.
        assert_eq!(controller_revision_rollback(&object, &revisions, 0), Ok(skipped(0)));
        assert_eq!(
            controller_revision_rollback(&object, &revisions, 2),
            Ok(Rollback::Skip("skipped rollback (current template already matches revision 2)".into()))
        );
        assert_eq!(
            controller_revision_rollback(&object, &revisions, 1),
            Ok(Rollback::Patch { content_type: "application/strategic-merge-patch+json", patch: revisions[0]["data"].clone() })
        );
        assert_eq!(controller_revision_rollback(&object, &revisions, 7), Err("unable to find specified revision 7 in history".into()));
        assert_eq!(controller_revision_rollback(&object, &revisions, -1), Err("unable to find specified revision -1 in history".into()));
        assert_eq!(controller_revision_rollback(&object, &revisions[..1], 0), Err("no last revision to roll back to".into()));
    }

    #[test]
    fn deployment_undo_replaces_the_template_and_takes_the_sets_annotations() {
        let deployment = json!({"metadata": {"name": "web", "annotations": {REVISION_ANNOTATION: "2", "keep": "me"}},
            "spec": {"template": {"metadata": {"labels": {"app": "web"}, "annotations": {RESTARTED_AT: "t"}}, "spec": {"containers": [{"name": "c", "image": "new"}]}}}});
        let set = |number: i64, image: &str| {
            json!({"metadata": {"annotations": {REVISION_ANNOTATION: number.to_string(), CHANGE_CAUSE: format!("step {number}")}},
                "spec": {"template": {"metadata": {"labels": {"app": "web", "pod-template-hash": format!("h{number}")}}, "spec": {"containers": [{"name": "c", "image": image}]}}}})
        };
        let sets = [set(1, "old"), set(2, "new")];
        let Ok(Rollback::Patch { content_type, patch }) = deployment_rollback(&deployment, &sets, 0) else {
            panic!("no patch");
        };
        assert_eq!(content_type, "application/json-patch+json");
        assert_eq!(patch[0]["value"], json!({"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "old"}]}}), "the whole template, restart annotation gone");
        assert_eq!(patch[1]["value"], json!({REVISION_ANNOTATION: "2", CHANGE_CAUSE: "step 1"}));
        let mut same = deployment.clone();
        same["spec"]["template"] = sets[0]["spec"]["template"].clone();
        assert_eq!(deployment_rollback(&same, &sets, 1), Ok(skipped(1)));
        assert_eq!(deployment_rollback(&deployment, &sets[..1], 0), Err("no rollout history found for deployment \"web\"".into()));
        assert_eq!(deployment_rollback(&deployment, &sets, 5), Err("unable to find specified revision 5 in history".into()));
        let history = replica_set_history(&sets);
        assert_eq!(history_table(&history), "REVISION  CHANGE-CAUSE\n1         step 1\n2         step 2\n");
        assert_eq!(history[&1].template["metadata"]["annotations"][CHANGE_CAUSE], "step 1", "kubectl shows the cause in the template");
    }

    #[test]
    fn kinds_without_rollouts_are_refused_in_kubectls_words() {
        let resource = |group: &str, kind: &str| Resource {
            group: group.into(),
            version: "v1".into(),
            plural: format!("{}s", kind.to_ascii_lowercase()),
            singular: kind.to_ascii_lowercase(),
            kind: kind.into(),
            namespaced: true,
            short_names: Vec::new(),
        };
        let text = |err: CtlError| err.to_string();
        assert_eq!(text(unsupported(&resource("", "ConfigMap"), "history viewer", "history")), "error retrieving history for \"ConfigMap\", no visitor method exists for { ConfigMap}");
        assert_eq!(text(unsupported(&resource("batch", "Job"), "rollbacker", "rollbacker")), "no rollbacker has been implemented for \"Job.batch\"");
    }
}
