//! The Job controller: runs pods until `completions` of them succeed (or, in `Indexed` mode, one
//! per index), replaces failed ones with exponential back-off until `backoffLimit`, and ends the
//! Job `Complete` or `Failed`, as Kubernetes' job controller does.
//!
//! No pod is counted twice or lost, across restarts of this controller too: every pod carries
//! the `batch.kubernetes.io/job-tracking` finalizer, so that it stays until counted. A finished
//! pod's uid goes first into `status.uncountedTerminatedPods` (written before anything else),
//! then its finalizer goes, and only then does it move into `succeeded`/`failed`. A restart at any
//! step finds where it stopped: a uid in the uncounted list whose pod still has the finalizer
//! has it removed; one whose pod has none any more is counted; a finished pod without the
//! finalizer and not in the list was counted already.
//!
//! When the success or failure criteria are met, the Job first gets `SuccessCriteriaMet` or
//! `FailureTarget`, its remaining pods are deleted, and `Complete` or `Failed` follows once none
//! is left running, as 1.33 does. `ttlSecondsAfterFinished` (kube's ttl-after-finished
//! controller) deletes a finished Job and, in the foreground, its pods.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::batch::v1::{Job, JobCondition, JobSpec, JobStatus, PodFailurePolicyRule, UncountedTerminatedPods};
use k8s_openapi::api::core::v1::{EnvVar, EnvVarSource, ObjectFieldSelector, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams, Preconditions, PropagationPolicy};
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;

use crate::context::Context;
use crate::expectations::Expectations;
use crate::framework::{self, ReconcileError};

/// The finalizer that keeps a Job's pod until the controller has counted it.
pub const TRACKING_FINALIZER: &str = "batch.kubernetes.io/job-tracking";
/// An Indexed Job's pod's index, as an annotation and a label.
pub const COMPLETION_INDEX: &str = "batch.kubernetes.io/job-completion-index";
/// How often a `backoffLimitPerIndex` Job's index has failed before this pod.
const INDEX_FAILURE_COUNT: &str = "batch.kubernetes.io/job-index-failure-count";
/// The controller that manages Jobs whose `spec.managedBy` is unset or this.
const MANAGED_BY: &str = "kubernetes.io/job-controller";
/// Kubernetes' pod back-off: 10 s doubling per failure up to 6 minutes.
const BACKOFF_BASE: Duration = Duration::from_secs(10);
const BACKOFF_MAX: Duration = Duration::from_secs(360);
/// Pods created or deleted at once for one Job.
const BURST: usize = 64;
/// Pods created for one Job in one sync, as kube's `MaxPodCreateDeletePerSync`: a Job asking
/// for millions of pods gets them over many syncs, not one allocation.
const MAX_CREATES_PER_SYNC: usize = 500;
const COMPONENT: &str = "job-controller";

struct Controller {
    context: Arc<Context>,
    recorder: common::events::Recorder,
    /// Pods created, by Job uid.
    expectations: Expectations,
    /// Pods (by uid) whose finalizer this controller removed and counted, until the informer
    /// shows them without it: a stale copy must not be counted again.
    released: Mutex<HashSet<String>>,
    /// The Job as this controller last wrote it, by uid: newer than the informer's copy until
    /// the watch catches up, so that a sync never starts from a status older than its own.
    written: Mutex<HashMap<String, Arc<Job>>>,
}

pub async fn run(context: Arc<Context>) {
    let controller = Arc::new(Controller {
        recorder: context.recorder(COMPONENT),
        context: context.clone(),
        expectations: Expectations::default(),
        released: Mutex::default(),
        written: Mutex::default(),
    });
    let jobs = context.jobs.store();
    let own = context.jobs.changes().map(|job| ObjectRef::from_obj(&*job)).boxed();
    let pods = context
        .pods
        .changes()
        .filter_map(|pod| async move { framework::controller_of::<Job, _>(&*pod, "Job") })
        .boxed();
    let sweeper = tokio::spawn(sweep_orphans(controller.clone()));
    framework::run("job", context.metrics.clone(), controller, jobs, vec![own, pods], context.settings.concurrent_syncs, reconcile).await;
    sweeper.abort();
}

/// Removes the tracking finalizer from pods whose Job is gone (deleted, or they were orphaned):
/// nobody will count them, and the finalizer would keep them forever.
async fn sweep_orphans(controller: Arc<Controller>) {
    let context = controller.context.clone();
    let mut changes = context.pods.changes().boxed();
    let mut every = tokio::time::interval(framework::RESYNC);
    loop {
        let pods: Vec<Arc<Pod>> = tokio::select! {
            Some(pod) = changes.next() => vec![pod],
            _ = every.tick() => {
                let pods = context.pods.store().state();
                // Released pods deleted before the informer showed them without the finalizer
                // are remembered no longer.
                let present: HashSet<&str> = pods.iter().filter_map(|pod| pod.metadata.uid.as_deref()).collect();
                if let Ok(mut released) = controller.released.lock() {
                    released.retain(|uid| present.contains(uid.as_str()));
                }
                // Copies of Jobs that are gone are kept no longer.
                let jobs: HashSet<String> = context.jobs.store().state().iter().filter_map(|job| job.metadata.uid.clone()).collect();
                if let Ok(mut written) = controller.written.lock() {
                    written.retain(|uid, _| jobs.contains(uid));
                }
                pods
            }
            else => return,
        };
        for pod in pods {
            if !has_finalizer(&pod) || !orphaned(&context, &pod) {
                continue;
            }
            if let Err(err) = remove_finalizer(&context, &pod).await {
                tracing::debug!(namespace = ?pod.metadata.namespace, name = ?pod.metadata.name, error = %err, "cannot remove the job tracking finalizer");
            }
        }
    }
}

fn orphaned(context: &Context, pod: &Pod) -> bool {
    let Some(owner) = pod.metadata.owner_references.iter().flatten().find(|owner| owner.controller == Some(true) && owner.kind == "Job") else {
        return true;
    };
    let mut reference = ObjectRef::<Job>::new(&owner.name);
    if let Some(namespace) = &pod.metadata.namespace {
        reference = reference.within(namespace);
    }
    context.jobs.store().get(&reference).is_none_or(|job| job.metadata.uid.as_deref() != Some(owner.uid.as_str()))
}

fn has_finalizer(pod: &Pod) -> bool {
    pod.metadata.finalizers.iter().flatten().any(|finalizer| finalizer == TRACKING_FINALIZER)
}

/// Drops the tracking finalizer, leaving the others, as Kubernetes does: a strategic merge patch
/// that deletes the one value from the list, so that another finalizer added meanwhile stays.
async fn remove_finalizer(context: &Context, pod: &Pod) -> Result<(), kube::Error> {
    let patch = serde_json::json!({"metadata": {"$deleteFromPrimitiveList/finalizers": [TRACKING_FINALIZER]}});
    let pods: Api<Pod> = Api::namespaced(context.client.clone(), pod.metadata.namespace.as_deref().unwrap_or_default());
    match pods.patch(pod.metadata.name.as_deref().unwrap_or_default(), &PatchParams::default(), &Patch::Strategic(patch)).await {
        Err(err) if !framework::answered(&err, &[404]) => Err(err),
        _ => Ok(()),
    }
}

fn condition_is(status: &JobStatus, type_: &str) -> bool {
    status.conditions.iter().flatten().any(|condition| condition.type_ == type_ && condition.status == "True")
}

fn is_finished(status: &JobStatus) -> bool {
    condition_is(status, "Complete") || condition_is(status, "Failed")
}

fn phase(pod: &Pod) -> &str {
    pod.status.as_ref().and_then(|status| status.phase.as_deref()).unwrap_or("Pending")
}

fn is_ready(pod: &Pod) -> bool {
    pod.status.as_ref().and_then(|status| status.conditions.as_ref()).into_iter().flatten().any(|condition| condition.type_ == "Ready" && condition.status == "True")
}

/// Whether the pod counts as failed: its phase says so, or (unless only failed pods are
/// replaced) it is being deleted without having succeeded, as an orphan that never gets to fail
/// would be.
fn is_failed(pod: &Pod, spec: &JobSpec) -> bool {
    if phase(pod) == "Failed" {
        return true;
    }
    spec.pod_replacement_policy.as_deref() != Some("Failed") && pod.metadata.deletion_timestamp.is_some() && phase(pod) != "Succeeded"
}

fn index_of(pod: &Pod) -> Option<i32> {
    let from = |map: Option<&BTreeMap<String, String>>| map.and_then(|map| map.get(COMPLETION_INDEX)).and_then(|text| text.parse::<i32>().ok());
    from(pod.metadata.annotations.as_ref()).or_else(|| from(pod.metadata.labels.as_ref())).filter(|index| *index >= 0)
}

/// When the pod finished: the latest of its containers' finish times, else now.
fn finished_at(pod: &Pod, now: jiff::Timestamp) -> jiff::Timestamp {
    let status = pod.status.as_ref();
    let containers = status.and_then(|status| status.container_statuses.as_ref()).into_iter().flatten();
    let init = status.and_then(|status| status.init_container_statuses.as_ref()).into_iter().flatten();
    containers
        .chain(init)
        .filter_map(|container| container.state.as_ref()?.terminated.as_ref()?.finished_at.as_ref().map(|time| time.0))
        .max()
        .or_else(|| pod.metadata.deletion_timestamp.as_ref().map(|time| time.0))
        .unwrap_or(now)
}

/// The most indexes read from one text.
const MAX_INDEXES: usize = 1_000_000;

/// Indexes as Kubernetes writes them in `completedIndexes`: ascending, runs as `a-b`.
pub fn format_indexes(indexes: &BTreeSet<i32>) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut run: Option<(i32, i32)> = None;
    for &index in indexes {
        run = match run {
            Some((first, last)) if index == last + 1 => Some((first, index)),
            Some((first, last)) => {
                parts.push(if first == last { first.to_string() } else { format!("{first}-{last}") });
                Some((index, index))
            }
            None => Some((index, index)),
        };
    }
    if let Some((first, last)) = run {
        parts.push(if first == last { first.to_string() } else { format!("{first}-{last}") });
    }
    parts.join(",")
}

/// The indexes of `text` (`1,3-5`) below `limit`; what does not parse is left out, as
/// Kubernetes leaves it.
pub fn parse_indexes(text: Option<&str>, limit: i32) -> BTreeSet<i32> {
    let mut indexes = BTreeSet::new();
    for part in text.unwrap_or_default().split(',').map(str::trim).filter(|part| !part.is_empty()) {
        let (first, last) = match part.split_once('-') {
            Some((first, last)) => (first.parse::<i32>(), last.parse::<i32>()),
            None => (part.parse::<i32>(), part.parse::<i32>()),
        };
        if let (Ok(first), Ok(last)) = (first, last) {
            // A bound on the work any text can ask for (status and policies are user input).
            let room = MAX_INDEXES.saturating_sub(indexes.len());
            indexes.extend((first.max(0)..=last.min(limit.saturating_sub(1))).take(room));
        }
    }
    indexes
}

/// What a pod failure policy rule decides about a failed pod.
#[derive(Clone, Debug, PartialEq)]
enum Verdict {
    /// The Job fails, with this message.
    FailJob(String),
    /// The pod's index fails for good (`backoffLimitPerIndex`).
    FailIndex,
    /// Not counted towards the backoff limit.
    Ignore,
    Count,
}

/// The first rule of `spec.podFailurePolicy` that matches the failed pod (`matchPodFailurePolicy`).
fn judge(spec: &JobSpec, pod: &Pod) -> Verdict {
    let Some(policy) = &spec.pod_failure_policy else {
        return Verdict::Count;
    };
    let namespace = pod.metadata.namespace.as_deref().unwrap_or_default();
    let name = pod.metadata.name.as_deref().unwrap_or_default();
    for (index, rule) in policy.rules.iter().enumerate() {
        if let Some(found) = rule_matches(rule, pod) {
            return match rule.action.as_str() {
                "FailJob" => Verdict::FailJob(match found {
                    Matched::ExitCode(container, code) => format!("Container {container} for pod {namespace}/{name} failed with exit code {code} matching FailJob rule at index {index}"),
                    Matched::Condition(type_) => format!("Pod {namespace}/{name} has condition {type_} matching FailJob rule at index {index}"),
                }),
                "FailIndex" => Verdict::FailIndex,
                "Ignore" => Verdict::Ignore,
                _ => Verdict::Count,
            };
        }
    }
    Verdict::Count
}

enum Matched {
    ExitCode(String, i32),
    Condition(String),
}

fn rule_matches(rule: &PodFailurePolicyRule, pod: &Pod) -> Option<Matched> {
    let status = pod.status.as_ref()?;
    if let Some(requirement) = &rule.on_exit_codes {
        let containers = status.init_container_statuses.iter().flatten().chain(status.container_statuses.iter().flatten());
        for container in containers {
            if requirement.container_name.as_ref().is_some_and(|name| name != &container.name) {
                continue;
            }
            let Some(code) = container.state.as_ref().and_then(|state| state.terminated.as_ref()).map(|terminated| terminated.exit_code) else {
                continue;
            };
            // Exit code 0 is success and matches no rule.
            let listed = requirement.values.contains(&code);
            let matches = code != 0 && if requirement.operator == "In" { listed } else { !listed };
            if matches {
                return Some(Matched::ExitCode(container.name.clone(), code));
            }
        }
        return None;
    }
    for wanted in rule.on_pod_conditions.iter().flatten() {
        let wanted_status = if wanted.status.is_empty() { "True" } else { wanted.status.as_str() };
        if status.conditions.iter().flatten().any(|condition| condition.type_ == wanted.type_ && condition.status == wanted_status) {
            return Some(Matched::Condition(wanted.type_.clone()));
        }
    }
    None
}

fn condition(type_: &str, status: &str, reason: &str, message: &str, now: &Time) -> JobCondition {
    JobCondition {
        type_: type_.into(),
        status: status.into(),
        reason: Some(reason.into()),
        message: Some(message.into()),
        last_probe_time: Some(now.clone()),
        last_transition_time: Some(now.clone()),
    }
}

/// Sets a condition, keeping its transition time when its status does not change.
fn set_condition(status: &mut JobStatus, new: JobCondition) {
    let conditions = status.conditions.get_or_insert_with(Vec::new);
    match conditions.iter_mut().find(|existing| existing.type_ == new.type_) {
        Some(existing) if existing.status == new.status && existing.reason == new.reason && existing.message == new.message => {}
        Some(existing) => *existing = new,
        None => conditions.push(new),
    }
}

/// The criteria met, as the condition that says so (before the terminal one).
struct Target {
    success: bool,
    reason: String,
    message: String,
}

fn target_of(status: &JobStatus) -> Option<Target> {
    status.conditions.iter().flatten().filter(|condition| condition.status == "True").find_map(|condition| match condition.type_.as_str() {
        "SuccessCriteriaMet" | "FailureTarget" => Some(Target {
            success: condition.type_ == "SuccessCriteriaMet",
            reason: condition.reason.clone().unwrap_or_default(),
            message: condition.message.clone().unwrap_or_default(),
        }),
        _ => None,
    })
}

/// The uncounted list as Kubernetes writes it: empty lists left out (`uncountedTerminatedPods: {}`).
fn uncounted_of(succeeded: &BTreeSet<String>, failed: &BTreeSet<String>) -> UncountedTerminatedPods {
    let list = |uids: &BTreeSet<String>| (!uids.is_empty()).then(|| uids.iter().cloned().collect());
    UncountedTerminatedPods { succeeded: list(succeeded), failed: list(failed) }
}

fn count(value: usize) -> i32 {
    i32::try_from(value).unwrap_or(i32::MAX)
}

/// What one sync found among the Job's pods.
#[derive(Default)]
struct Pods {
    active: Vec<Arc<Pod>>,
    terminating: usize,
    /// Finished pods that still carry the finalizer and are not yet in the uncounted list.
    newly_succeeded: Vec<Arc<Pod>>,
    newly_failed: Vec<Arc<Pod>>,
    /// Every pod that carries the finalizer, by uid.
    with_finalizer: HashMap<String, Arc<Pod>>,
}

async fn reconcile(job: Arc<Job>, controller: Arc<Controller>) -> Result<Action, ReconcileError> {
    let job = controller.newest(job);
    let spec = job.spec.clone().unwrap_or_default();
    if spec.managed_by.as_deref().is_some_and(|manager| manager != MANAGED_BY) {
        return Ok(Action::await_change());
    }
    let context = &controller.context;
    let uid = job.metadata.uid.clone().unwrap_or_default();
    let now = jiff::Timestamp::now();
    let now_time = Time(now);
    let old_status = job.status.clone().unwrap_or_default();
    let mut status = old_status.clone();
    let indexed = spec.completion_mode.as_deref() == Some("Indexed");
    let completions = spec.completions;

    let pods = controller.pods_of(&job, &spec);
    // A Job being deleted or finished only lets its pods go.
    if job.metadata.deletion_timestamp.is_some() || is_finished(&status) {
        let finalized: Vec<Arc<Pod>> = pods.with_finalizer.values().cloned().collect();
        controller.release(&finalized).await?;
        if let Some(action) = controller.expire(&job, &spec, &status, now).await? {
            return Ok(action);
        }
        return Ok(Action::requeue(framework::RESYNC));
    }

    // 1. Newly finished pods go into the uncounted list before their finalizer goes.
    let mut uncounted = status.uncounted_terminated_pods.clone().unwrap_or_default();
    let mut uncounted_succeeded: BTreeSet<String> = uncounted.succeeded.take().unwrap_or_default().into_iter().collect();
    let mut uncounted_failed: BTreeSet<String> = uncounted.failed.take().unwrap_or_default().into_iter().collect();
    let mut completed_indexes = parse_indexes(status.completed_indexes.as_deref(), completions.unwrap_or(0));
    let mut failed_indexes = parse_indexes(status.failed_indexes.as_deref(), completions.unwrap_or(0));
    let mut fail_job: Option<String> = None;
    let mut ignored: Vec<Arc<Pod>> = Vec::new();
    for pod in &pods.newly_succeeded {
        let pod_uid = pod.metadata.uid.clone().unwrap_or_default();
        if indexed {
            match index_of(pod) {
                // A second success of an index is not another completion.
                Some(index) if index < completions.unwrap_or(0) && !completed_indexes.contains(&index) => {
                    completed_indexes.insert(index);
                    uncounted_succeeded.insert(pod_uid);
                }
                _ => ignored.push(pod.clone()),
            }
        } else {
            uncounted_succeeded.insert(pod_uid);
        }
    }
    for pod in &pods.newly_failed {
        let pod_uid = pod.metadata.uid.clone().unwrap_or_default();
        // A pod deleted because the Job is suspended did not fail.
        if spec.suspend == Some(true) && phase(pod) != "Failed" {
            ignored.push(pod.clone());
            continue;
        }
        match judge(&spec, pod) {
            Verdict::Ignore => {
                ignored.push(pod.clone());
                continue;
            }
            Verdict::FailJob(message) => {
                fail_job.get_or_insert(message);
            }
            Verdict::FailIndex => {
                if let Some(index) = index_of(pod) {
                    failed_indexes.insert(index);
                }
            }
            Verdict::Count => {
                if let (Some(limit), Some(index)) = (spec.backoff_limit_per_index, index_of(pod))
                    && index_failures(pod) > limit {
                        failed_indexes.insert(index);
                    }
            }
        }
        uncounted_failed.insert(pod_uid);
    }
    // A failure decided by one pod (a FailJob rule, OnFailure restarts past the limit) is
    // written with the uids, before any finalizer goes: once that pod is counted it is not
    // judged again, so the decision would be lost with a failed write or a restart.
    if target_of(&status).is_none() {
        let decided = match fail_job.take() {
            Some(message) => Some(("PodFailurePolicy", message)),
            None => past_backoff_limit_on_failure(&spec, &pods.active).then(|| ("BackoffLimitExceeded", "Job has reached the specified backoff limit".to_string())),
        };
        if let Some((reason, message)) = decided {
            set_condition(&mut status, condition("FailureTarget", "True", reason, &message, &now_time));
            controller.event(&job, "Warning", reason, &message).await;
        }
    }
    status.completed_indexes = Some(format_indexes(&completed_indexes)).filter(|text| indexed && !text.is_empty());
    if spec.backoff_limit_per_index.is_some() {
        status.failed_indexes = Some(format_indexes(&failed_indexes));
    }
    status.uncounted_terminated_pods = Some(uncounted_of(&uncounted_succeeded, &uncounted_failed));
    let mut current = job.clone();
    let mut written_status = old_status.clone();
    if status != written_status {
        current = controller.write_status(&current, &status).await?;
        written_status = status.clone();
    }

    // 2. Their finalizers go (and those of pods counted before a restart).
    let mut releasing: Vec<Arc<Pod>> = ignored;
    for pod_uid in uncounted_succeeded.iter().chain(uncounted_failed.iter()) {
        if let Some(pod) = pods.with_finalizer.get(pod_uid) {
            releasing.push(pod.clone());
        }
    }
    controller.release(&releasing).await?;
    let released: HashSet<&String> = releasing.iter().filter_map(|pod| pod.metadata.uid.as_ref()).collect();
    let still_tracked = pods.with_finalizer.keys().filter(|pod_uid| !released.contains(pod_uid)).count();

    // 3. Pods without the finalizer leave the uncounted list for the counts.
    let succeeded_now = uncounted_succeeded.len();
    let failed_now = uncounted_failed.len();
    status.succeeded = Some(status.succeeded.unwrap_or(0).saturating_add(count(succeeded_now)));
    status.failed = Some(status.failed.unwrap_or(0).saturating_add(count(failed_now)));
    if indexed {
        status.succeeded = Some(count(completed_indexes.len()));
    }
    status.uncounted_terminated_pods = Some(UncountedTerminatedPods::default());

    let succeeded = status.succeeded.unwrap_or(0);
    let failed = status.failed.unwrap_or(0);
    let active = pods.active.len();
    status.active = Some(count(active));
    status.ready = Some(count(pods.active.iter().filter(|pod| is_ready(pod)).count()));
    status.terminating = Some(count(pods.terminating));

    // 4. Suspension.
    let suspended = spec.suspend == Some(true);
    let mut requeue = framework::RESYNC;
    if suspended {
        if !condition_is(&status, "Suspended") {
            set_condition(&mut status, condition("Suspended", "True", "JobSuspended", "Job suspended", &now_time));
            controller.event(&job, "Normal", "Suspended", "Job suspended").await;
        }
    } else if condition_is(&status, "Suspended") {
        set_condition(&mut status, condition("Suspended", "False", "JobResumed", "Job resumed", &now_time));
        // The deadline counts from the resumption, as in Kubernetes.
        status.start_time = Some(now_time.clone());
        controller.event(&job, "Normal", "Resumed", "Job resumed").await;
    } else if status.start_time.is_none() {
        status.start_time = Some(now_time.clone());
    }

    // 5. Success and failure criteria.
    let mut target = target_of(&status);
    if target.is_none() {
        let failure = |reason: &str, message: &str| Some(Target { success: false, reason: reason.into(), message: message.into() });
        let deadline = spec.active_deadline_seconds.zip(status.start_time.as_ref()).map(|(seconds, start)| start.0.as_second().saturating_add(seconds));
        target = if spec.backoff_limit_per_index.is_none() && failed > spec.backoff_limit.unwrap_or(6) {
            failure("BackoffLimitExceeded", "Job has reached the specified backoff limit")
        } else if !suspended && deadline.is_some_and(|deadline| now.as_second() >= deadline) {
            failure("DeadlineExceeded", "Job was active longer than specified deadline")
        } else if spec.max_failed_indexes.is_some_and(|limit| count(failed_indexes.len()) > limit) {
            failure("MaxFailedIndexesExceeded", "Job has exceeded the specified maximal number of failed indexes")
        } else if let Some(message) = success_policy_met(&spec, &completed_indexes).filter(|_| indexed) {
            Some(Target { success: true, reason: "SuccessPolicy".into(), message })
        } else if completions_reached(&spec, indexed, succeeded, &completed_indexes, active) {
            Some(Target { success: true, reason: "CompletionsReached".into(), message: "Reached expected number of succeeded pods".into() })
        } else if indexed && spec.backoff_limit_per_index.is_some() && count(completed_indexes.len() + failed_indexes.len()) >= completions.unwrap_or(0) && !failed_indexes.is_empty() {
            failure("FailedIndexes", "Job has failed indexes")
        } else {
            if let Some(deadline) = deadline.filter(|_| !suspended) {
                requeue = requeue.min(Duration::from_secs(u64::try_from(deadline - now.as_second()).unwrap_or(1).max(1)));
            }
            None
        };
        if let Some(target) = &target {
            let type_ = if target.success { "SuccessCriteriaMet" } else { "FailureTarget" };
            set_condition(&mut status, condition(type_, "True", &target.reason, &target.message, &now_time));
            if !target.success {
                controller.event(&job, "Warning", &target.reason, &target.message).await;
            }
        }
    }

    // 6. Pods: none left once the criteria are met or while suspended; else as many as wanted.
    // A failed delete is returned after the status is written, so that what this sync learnt
    // is kept.
    let mut failure = None;
    if target.is_some() || suspended {
        if let Err(err) = controller.delete_pods(&job, &pods.active).await {
            failure = Some(err);
        }
        let targeted = target.is_some();
        if let Some(target) = target.filter(|_| pods.active.is_empty() && pods.terminating == 0 && still_tracked == 0) {
            if target.success {
                set_condition(&mut status, condition("Complete", "True", &target.reason, &target.message, &now_time));
                status.completion_time = Some(now_time.clone());
                controller.event(&job, "Normal", "Completed", "Job completed").await;
            } else {
                set_condition(&mut status, condition("Failed", "True", &target.reason, &target.message, &now_time));
            }
            status.ready = Some(0);
            status.active = Some(0);
        } else if targeted || !pods.active.is_empty() || pods.terminating > 0 {
            // Pods still going: their events bring the next sync, this is a backstop.
            requeue = requeue.min(Duration::from_secs(1));
        }
    } else if controller.expectations.met(&uid, &owned_pods(context, &job)) {
        let replacing = if spec.pod_replacement_policy.as_deref() == Some("Failed") { pods.terminating } else { 0 };
        let running = active + replacing;
        let parallelism = usize::try_from(spec.parallelism.unwrap_or(1)).unwrap_or(0);
        let wait = backoff_remaining(context, &job, &spec, now);
        if !wait.is_zero() {
            requeue = requeue.min(wait);
        } else if indexed {
            let busy: BTreeSet<i32> = pods.active.iter().filter_map(|pod| index_of(pod)).collect();
            let wanted: Vec<i32> = (0..completions.unwrap_or(0))
                .filter(|index| !completed_indexes.contains(index) && !failed_indexes.contains(index) && !busy.contains(index))
                .take(parallelism.saturating_sub(running).min(MAX_CREATES_PER_SYNC))
                .collect();
            let failures = index_failure_counts(&job, &controller.context);
            controller.create_pods(&job, &spec, wanted.into_iter().map(|index| Some((index, failures.get(&index).copied().unwrap_or(0)))).collect()).await?;
        } else {
            let remaining = match completions {
                Some(completions) => usize::try_from(completions - succeeded).unwrap_or(0),
                // Without completions, the Job is done once any pod succeeds: no new pods then.
                None if succeeded > 0 => 0,
                None => parallelism,
            };
            let wanted = remaining.min(parallelism).saturating_sub(running).min(MAX_CREATES_PER_SYNC);
            controller.create_pods(&job, &spec, vec![None; wanted]).await?;
        }
    }
    if status.uncounted_terminated_pods.as_ref().is_some_and(|uncounted| uncounted.succeeded.iter().flatten().count() + uncounted.failed.iter().flatten().count() > 0) {
        requeue = requeue.min(Duration::from_secs(1));
    }
    if status != written_status {
        let written = controller.write_status(&current, &status).await?;
        if let Some(action) = controller.expire(&written, &spec, &status, now).await? {
            return Ok(action);
        }
    }
    if let Some(err) = failure {
        return Err(err);
    }
    Ok(Action::requeue(requeue))
}

/// With `restartPolicy: OnFailure`, failures are container restarts (`pastBackoffLimitOnFailure`).
fn past_backoff_limit_on_failure(spec: &JobSpec, active: &[Arc<Pod>]) -> bool {
    if spec.template.spec.as_ref().and_then(|pod| pod.restart_policy.as_deref()) != Some("OnFailure") {
        return false;
    }
    let restarts: i64 = active
        .iter()
        .filter_map(|pod| pod.status.as_ref())
        .flat_map(|status| status.init_container_statuses.iter().flatten().chain(status.container_statuses.iter().flatten()))
        .map(|container| i64::from(container.restart_count))
        .sum();
    let limit = i64::from(spec.backoff_limit.unwrap_or(6));
    if limit == 0 { restarts > 0 } else { restarts >= limit }
}

fn completions_reached(spec: &JobSpec, indexed: bool, succeeded: i32, completed: &BTreeSet<i32>, active: usize) -> bool {
    match spec.completions {
        Some(completions) if indexed => count(completed.len()) >= completions,
        Some(completions) => succeeded >= completions,
        // Without completions, the first success ends the Job once nothing else runs.
        None => succeeded > 0 && active == 0,
    }
}

/// `successPolicy`: the first rule the succeeded indexes satisfy, as its message.
fn success_policy_met(spec: &JobSpec, completed: &BTreeSet<i32>) -> Option<String> {
    let rules = &spec.success_policy.as_ref()?.rules;
    let completions = spec.completions.unwrap_or(0);
    rules.iter().enumerate().find_map(|(index, rule)| {
        let met = match (&rule.succeeded_indexes, rule.succeeded_count) {
            (Some(text), count_wanted) => {
                let named = parse_indexes(Some(text), completions);
                let done = named.intersection(completed).count();
                match count_wanted {
                    Some(wanted) => count(done) >= wanted,
                    None => done == named.len(),
                }
            }
            (None, Some(wanted)) => count(completed.len()) >= wanted,
            (None, None) => false,
        };
        met.then(|| format!("Matched rules at index {index}"))
    })
}

fn index_failures(pod: &Pod) -> i32 {
    let earlier = pod.metadata.annotations.as_ref().and_then(|annotations| annotations.get(INDEX_FAILURE_COUNT)).and_then(|text| text.parse::<i32>().ok()).unwrap_or(0);
    earlier.saturating_add(1)
}

/// How often each index has failed, from the failed pods still present.
fn index_failure_counts(job: &Job, context: &Context) -> HashMap<i32, i32> {
    let spec = job.spec.clone().unwrap_or_default();
    let mut failures: HashMap<i32, i32> = HashMap::new();
    for pod in owned_pods(context, job) {
        if let (true, Some(index)) = (is_failed(&pod, &spec), index_of(&pod)) {
            let seen = failures.entry(index).or_default();
            *seen = (*seen).max(index_failures(&pod));
        }
    }
    failures
}

fn owned_pods(context: &Context, job: &Job) -> Vec<Arc<Pod>> {
    let uid = job.metadata.uid.as_deref().unwrap_or_default();
    context
        .pods
        .store()
        .state()
        .into_iter()
        .filter(|pod| pod.metadata.namespace == job.metadata.namespace)
        .filter(|pod| pod.metadata.owner_references.iter().flatten().any(|owner| owner.controller == Some(true) && owner.uid == uid))
        .collect()
}

/// How long until a new pod may be made after the failures since the last success: Kubernetes'
/// 10 s doubling per failure, capped at 6 minutes, from the last failure.
fn backoff_remaining(context: &Context, job: &Job, spec: &JobSpec, now: jiff::Timestamp) -> Duration {
    let pods = owned_pods(context, job);
    let last_success = pods.iter().filter(|pod| phase(pod) == "Succeeded").map(|pod| finished_at(pod, now)).max();
    let failures: Vec<jiff::Timestamp> = pods
        .iter()
        .filter(|pod| is_failed(pod, spec) && judge(spec, pod) != Verdict::Ignore)
        .map(|pod| finished_at(pod, now))
        .filter(|finished| last_success.is_none_or(|success| *finished > success))
        .collect();
    let Some(last) = failures.iter().max() else {
        return Duration::ZERO;
    };
    let exponent = u32::try_from(failures.len() - 1).unwrap_or(u32::MAX).min(16);
    let delay = BACKOFF_BASE.saturating_mul(1 << exponent).min(BACKOFF_MAX);
    let elapsed = Duration::from_millis(u64::try_from(now.duration_since(*last).as_millis()).unwrap_or(0));
    delay.saturating_sub(elapsed)
}

impl Controller {
    /// The newer of the informer's Job and the one this controller last wrote.
    fn newest(&self, job: Arc<Job>) -> Arc<Job> {
        let Ok(mut written) = self.written.lock() else {
            return job;
        };
        let uid = job.metadata.uid.clone().unwrap_or_default();
        let version = |job: &Job| job.metadata.resource_version.as_deref().and_then(|text| text.parse::<u64>().ok()).unwrap_or(0);
        match written.get(&uid) {
            Some(ours) if version(ours) > version(&job) => ours.clone(),
            Some(_) => {
                written.remove(&uid);
                job
            }
            None => job,
        }
    }

    fn pods_of(&self, job: &Job, spec: &JobSpec) -> Pods {
        let mut found = Pods::default();
        let uncounted = job.status.as_ref().and_then(|status| status.uncounted_terminated_pods.clone()).unwrap_or_default();
        let listed: HashSet<&String> = uncounted.succeeded.iter().flatten().chain(uncounted.failed.iter().flatten()).collect();
        let Ok(mut released) = self.released.lock() else {
            return found;
        };
        for pod in owned_pods(&self.context, job) {
            let pod_uid = pod.metadata.uid.clone().unwrap_or_default();
            let terminal = matches!(phase(&pod), "Succeeded" | "Failed");
            if pod.metadata.deletion_timestamp.is_none() && !terminal {
                found.active.push(pod.clone());
            } else if pod.metadata.deletion_timestamp.is_some() && !terminal {
                found.terminating += 1;
            }
            if !has_finalizer(&pod) {
                released.remove(&pod_uid);
                continue;
            }
            // Counted and released already; the informer has not caught up.
            if released.contains(&pod_uid) {
                continue;
            }
            found.with_finalizer.insert(pod_uid.clone(), pod.clone());
            if listed.contains(&pod_uid) {
                continue;
            }
            if phase(&pod) == "Succeeded" {
                found.newly_succeeded.push(pod);
            } else if is_failed(&pod, spec) {
                found.newly_failed.push(pod);
            }
        }
        found
    }

    /// Removes the tracking finalizer from `pods`; they are counted from then on.
    async fn release(&self, pods: &[Arc<Pod>]) -> Result<(), ReconcileError> {
        let results: Vec<(String, Result<(), kube::Error>)> = futures::stream::iter(pods.iter().cloned())
            .map(|pod| async move { (pod.metadata.uid.clone().unwrap_or_default(), remove_finalizer(&self.context, &pod).await) })
            .buffer_unordered(BURST)
            .collect()
            .await;
        let mut first_error = None;
        if let Ok(mut released) = self.released.lock() {
            for (pod_uid, result) in results {
                match result {
                    Ok(()) => drop(released.insert(pod_uid)),
                    Err(err) => drop(first_error.get_or_insert(err)),
                }
            }
        }
        first_error.map_or(Ok(()), |err| Err(err.into()))
    }

    /// Writes the status with the Job's resourceVersion as precondition: a sync that started
    /// from an old Job fails with 409 and runs again, instead of undoing a newer count.
    async fn write_status(&self, job: &Job, status: &JobStatus) -> Result<Arc<Job>, ReconcileError> {
        let jobs: Api<Job> = Api::namespaced(self.context.client.clone(), job.metadata.namespace.as_deref().unwrap_or_default());
        let mut updated = job.clone();
        updated.status = Some(status.clone());
        updated.metadata.managed_fields = None;
        let written = Arc::new(jobs.replace_status(job.metadata.name.as_deref().unwrap_or_default(), &PostParams::default(), &updated).await?);
        if let Ok(mut cache) = self.written.lock() {
            cache.insert(job.metadata.uid.clone().unwrap_or_default(), written.clone());
        }
        Ok(written)
    }

    /// `ttlSecondsAfterFinished`: deletes the finished Job (its pods in the foreground) once the
    /// time has passed; until then, a look when it will have.
    async fn expire(&self, job: &Job, spec: &JobSpec, status: &JobStatus, now: jiff::Timestamp) -> Result<Option<Action>, ReconcileError> {
        let Some(ttl) = spec.ttl_seconds_after_finished else {
            return Ok(None);
        };
        if job.metadata.deletion_timestamp.is_some() {
            return Ok(None);
        }
        let finished = status
            .conditions
            .iter()
            .flatten()
            .filter(|condition| matches!(condition.type_.as_str(), "Complete" | "Failed") && condition.status == "True")
            .filter_map(|condition| condition.last_transition_time.as_ref().map(|time| time.0))
            .max();
        let Some(finished) = finished else {
            return Ok(None);
        };
        let remaining = finished.as_second().saturating_add(i64::from(ttl)) - now.as_second();
        if remaining > 0 {
            return Ok(Some(Action::requeue(Duration::from_secs(u64::try_from(remaining).unwrap_or(1)))));
        }
        let jobs: Api<Job> = Api::namespaced(self.context.client.clone(), job.metadata.namespace.as_deref().unwrap_or_default());
        let params = DeleteParams {
            propagation_policy: Some(PropagationPolicy::Foreground),
            preconditions: Some(Preconditions { uid: job.metadata.uid.clone(), resource_version: None }),
            ..DeleteParams::default()
        };
        tracing::info!(namespace = ?job.metadata.namespace, name = ?job.metadata.name, "deleting a finished job whose TTL has passed");
        match jobs.delete(job.metadata.name.as_deref().unwrap_or_default(), &params).await {
            Err(err) if !framework::answered(&err, &[404, 409]) => Err(err.into()),
            _ => Ok(Some(Action::await_change())),
        }
    }

    /// Creates one pod per entry: `Some((index, failures so far))` for an Indexed Job.
    async fn create_pods(&self, job: &Job, spec: &JobSpec, wanted: Vec<Option<(i32, i32)>>) -> Result<(), ReconcileError> {
        if wanted.is_empty() {
            return Ok(());
        }
        let namespace = job.metadata.namespace.clone().unwrap_or_default();
        let uid = job.metadata.uid.clone().unwrap_or_default();
        let pods: Api<Pod> = Api::namespaced(self.context.client.clone(), &namespace);
        let results: Vec<Result<Pod, kube::Error>> = futures::stream::iter(wanted)
            .map(|index| {
                let pod = pod_for(job, spec, index);
                let pods = pods.clone();
                async move { pods.create(&PostParams::default(), &pod).await }
            })
            .buffer_unordered(BURST)
            .collect()
            .await;
        let mut first_error = None;
        let mut events = Vec::new();
        for result in results {
            match result {
                Ok(created) => {
                    let name = created.metadata.name.clone().unwrap_or_default();
                    self.expectations.created(&uid, name.clone());
                    events.push(("Normal", "SuccessfulCreate", format!("Created pod: {name}")));
                }
                Err(err) => {
                    events.push(("Warning", "FailedCreate", format!("Error creating: {err}")));
                    first_error.get_or_insert(err);
                }
            }
        }
        futures::future::join_all(events.iter().map(|(kind, reason, message)| self.event(job, kind, reason, message))).await;
        first_error.map_or(Ok(()), |err| Err(err.into()))
    }

    async fn delete_pods(&self, job: &Job, victims: &[Arc<Pod>]) -> Result<(), ReconcileError> {
        let namespace = job.metadata.namespace.clone().unwrap_or_default();
        let pods: Api<Pod> = Api::namespaced(self.context.client.clone(), &namespace);
        let results: Vec<(String, Result<(), kube::Error>)> = futures::stream::iter(victims.iter().cloned())
            .map(|victim| {
                let pods = pods.clone();
                async move {
                    let name = victim.metadata.name.clone().unwrap_or_default();
                    let outcome = match pods.delete(&name, &DeleteParams::default()).await {
                        Err(err) if !framework::answered(&err, &[404]) => Err(err),
                        _ => Ok(()),
                    };
                    (name, outcome)
                }
            })
            .buffer_unordered(BURST)
            .collect()
            .await;
        let mut first_error = None;
        for (name, result) in results {
            match result {
                Ok(()) => self.event(job, "Normal", "SuccessfulDelete", &format!("Deleted pod: {name}")).await,
                Err(err) => drop(first_error.get_or_insert(err)),
            }
        }
        first_error.map_or(Ok(()), |err| Err(err.into()))
    }

    async fn event(&self, job: &Job, kind: &str, reason: &str, message: &str) {
        if let Err(err) = self.recorder.record(&common::events::reference(job), kind, reason, "Reconcile", message).await {
            tracing::debug!(namespace = ?job.metadata.namespace, name = ?job.metadata.name, error = %err, "cannot record event");
        }
    }
}

/// The pod the Job's template makes (`index`: an Indexed Job's index and how often it failed).
fn pod_for(job: &Job, spec: &JobSpec, index: Option<(i32, i32)>) -> Pod {
    let name = job.metadata.name.clone().unwrap_or_default();
    let mut pod = framework::pod_from_template(job, &spec.template);
    let mut labels = pod.metadata.labels.take().unwrap_or_default();
    let mut annotations = pod.metadata.annotations.take().unwrap_or_default();
    let mut finalizers = pod.metadata.finalizers.take().unwrap_or_default();
    finalizers.push(TRACKING_FINALIZER.into());
    let mut pod_spec = pod.spec.take().unwrap_or_default();
    let mut generate_name = format!("{name}-");
    if let Some((index, failures)) = index {
        annotations.insert(COMPLETION_INDEX.into(), index.to_string());
        labels.insert(COMPLETION_INDEX.into(), index.to_string());
        if spec.backoff_limit_per_index.is_some() {
            annotations.insert(INDEX_FAILURE_COUNT.into(), failures.to_string());
        }
        generate_name = format!("{name}-{index}-");
        // Stable host names per index, as Kubernetes gives them.
        if pod_spec.hostname.as_deref().is_none_or(str::is_empty) {
            pod_spec.hostname = Some(format!("{name}-{index}"));
        }
        let variable = EnvVar {
            name: "JOB_COMPLETION_INDEX".into(),
            value: None,
            value_from: Some(EnvVarSource {
                field_ref: Some(ObjectFieldSelector { api_version: None, field_path: format!("metadata.annotations['{COMPLETION_INDEX}']") }),
                ..EnvVarSource::default()
            }),
        };
        for container in pod_spec.containers.iter_mut().chain(pod_spec.init_containers.iter_mut().flatten()) {
            let env = container.env.get_or_insert_with(Vec::new);
            if !env.iter().any(|existing| existing.name == variable.name) {
                env.push(variable.clone());
            }
        }
    }
    pod.metadata.generate_name = Some(generate_name);
    pod.metadata.labels = Some(labels);
    pod.metadata.annotations = (!annotations.is_empty()).then_some(annotations);
    pod.metadata.finalizers = Some(finalizers);
    pod.spec = Some(pod_spec);
    pod
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn indexes_read_and_print_as_kubernetes_writes_them() {
        let indexes = parse_indexes(Some("0-2,4,7-8"), 8);
        assert_eq!(indexes.iter().copied().collect::<Vec<_>>(), [0, 1, 2, 4, 7]);
        assert_eq!(format_indexes(&indexes), "0-2,4,7");
        assert_eq!(format_indexes(&BTreeSet::new()), "");
        assert_eq!(format_indexes(&[3].into_iter().collect()), "3");
        assert!(parse_indexes(Some("x,1-"), 5).is_empty());
    }

    fn failed_pod(exit_code: i32, conditions: serde_json::Value) -> Pod {
        serde_json::from_value(json!({"metadata": {"name": "p", "namespace": "ns"}, "status": {"phase": "Failed", "conditions": conditions,
            "containerStatuses": [{"name": "main", "image": "i", "imageID": "", "ready": false, "restartCount": 0,
                "state": {"terminated": {"exitCode": exit_code}}}]}}))
        .unwrap()
    }

    #[test]
    fn the_first_matching_failure_policy_rule_decides() {
        let spec: JobSpec = serde_json::from_value(json!({"template": {}, "podFailurePolicy": {"rules": [
            {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]},
            {"action": "FailJob", "onExitCodes": {"containerName": "main", "operator": "In", "values": [42]}},
            {"action": "Count", "onExitCodes": {"operator": "NotIn", "values": [42]}},
        ]}}))
        .unwrap();
        assert_eq!(judge(&spec, &failed_pod(42, json!([]))), Verdict::FailJob("Container main for pod ns/p failed with exit code 42 matching FailJob rule at index 1".into()));
        assert_eq!(judge(&spec, &failed_pod(1, json!([]))), Verdict::Count);
        assert_eq!(judge(&spec, &failed_pod(42, json!([{"type": "DisruptionTarget", "status": "True"}]))), Verdict::Ignore);
    }

    #[test]
    fn success_policy_rules_match_by_indexes_and_count() {
        let spec: JobSpec = serde_json::from_value(json!({"template": {}, "completions": 5, "successPolicy": {"rules": [
            {"succeededIndexes": "0-1"}, {"succeededCount": 3}]}}))
        .unwrap();
        assert_eq!(success_policy_met(&spec, &[0].into_iter().collect()), None);
        assert_eq!(success_policy_met(&spec, &[0, 1].into_iter().collect()), Some("Matched rules at index 0".into()));
        assert_eq!(success_policy_met(&spec, &[2, 3, 4].into_iter().collect()), Some("Matched rules at index 1".into()));
    }

    #[test]
    fn an_indexed_pod_knows_its_index_and_is_tracked() {
        let job: Job = serde_json::from_value(json!({"metadata": {"name": "x", "namespace": "ns", "uid": "u"}, "spec": {"completionMode": "Indexed", "completions": 3,
            "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c", "image": "i"}], "restartPolicy": "Never"}}}}))
        .unwrap();
        let spec = job.spec.clone().unwrap();
        let pod = pod_for(&job, &spec, Some((2, 0)));
        assert_eq!(pod.metadata.generate_name.as_deref(), Some("x-2-"));
        assert_eq!(index_of(&pod), Some(2));
        assert_eq!(pod.metadata.finalizers, Some(vec![TRACKING_FINALIZER.to_string()]));
        let pod_spec = pod.spec.unwrap();
        assert_eq!(pod_spec.hostname.as_deref(), Some("x-2"));
        let env = pod_spec.containers[0].env.clone().unwrap();
        assert_eq!(env[0].name, "JOB_COMPLETION_INDEX");
    }

    #[test]
    fn restarts_count_as_failures_with_on_failure() {
        let spec: JobSpec = serde_json::from_value(json!({"template": {"spec": {"containers": [], "restartPolicy": "OnFailure"}}, "backoffLimit": 2})).unwrap();
        let pod = |restarts: i32| -> Arc<Pod> {
            Arc::new(serde_json::from_value(json!({"metadata": {"name": "p"}, "status": {"phase": "Running",
                "containerStatuses": [{"name": "c", "image": "i", "imageID": "", "ready": false, "restartCount": restarts}]}})).unwrap())
        };
        assert!(!past_backoff_limit_on_failure(&spec, &[pod(1)]));
        assert!(past_backoff_limit_on_failure(&spec, &[pod(1), pod(1)]));
    }
}
