//! The CronJob controller: makes a Job from the CronJob's template at each time its schedule
//! names (in its `timeZone`), as Kubernetes' cronjob controller (v2) does: one Job per scheduled
//! time, named `<cronjob>-<minutes since the epoch>` so that a retry or a second replica cannot
//! make it twice; `concurrencyPolicy` Allow, Forbid or Replace; `startingDeadlineSeconds`;
//! `suspend`; the active list, `lastScheduleTime` and `lastSuccessfulTime` in the status; and
//! finished Jobs beyond the history limits deleted, oldest first.

use std::sync::Arc;
use std::time::Duration;

use common::cron::{Schedule, load_location};
use futures::StreamExt;
use jiff::Zoned;
use jiff::tz::TimeZone;
use k8s_openapi::api::batch::v1::{CronJob, CronJobStatus, Job};
use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kube::api::{Api, DeleteParams, PostParams, PropagationPolicy};
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;

use crate::context::Context;
use crate::framework::{self, ReconcileError};

/// The annotation a Job gets with the time it was scheduled for, in the CronJob's zone.
const SCHEDULED_TIMESTAMP: &str = "batch.kubernetes.io/cronjob-scheduled-timestamp";
/// Past this many missed times, Kubernetes warns that the deadline or the clock is off.
const TOO_MANY_MISSED: usize = 100;
const COMPONENT: &str = "cronjob-controller";

struct Controller {
    context: Arc<Context>,
    recorder: common::events::Recorder,
}

pub async fn run(context: Arc<Context>) {
    let controller = Arc::new(Controller { recorder: context.recorder(COMPONENT), context: context.clone() });
    let cron_jobs = context.cron_jobs.store();
    let own = context.cron_jobs.changes().map(|cron_job| ObjectRef::from_obj(&*cron_job)).boxed();
    let jobs = context
        .jobs
        .changes()
        .filter_map(|job| async move { framework::controller_of::<CronJob, _>(&*job, "CronJob") })
        .boxed();
    framework::run("cronjob", context.metrics.clone(), controller, cron_jobs, vec![own, jobs], context.settings.concurrent_syncs, reconcile).await;
}

fn finished(job: &Job) -> Option<&'static str> {
    let conditions = job.status.as_ref()?.conditions.as_ref()?;
    conditions.iter().filter(|condition| condition.status == "True").find_map(|condition| match condition.type_.as_str() {
        "Complete" => Some("Complete"),
        "Failed" => Some("Failed"),
        _ => None,
    })
}

/// The Job name for a scheduled time: Kubernetes' `getJobName` (minutes since the epoch).
pub fn job_name(cron_job: &str, scheduled: &Zoned) -> String {
    format!("{cron_job}-{}", scheduled.timestamp().as_second().div_euclid(60))
}

/// The most recent time the schedule named after `earliest` and no later than `now`, and how
/// many it named in between (counted up to just past [`TOO_MANY_MISSED`]).
pub fn most_recent(schedule: &Schedule, earliest: &Zoned, now: &Zoned) -> (Option<Zoned>, usize) {
    let mut missed = 0;
    let mut last = None;
    let mut at = earliest.clone();
    while let Some(next) = schedule.next_after(at) {
        if next > *now {
            return (last, missed);
        }
        missed += 1;
        last = Some(next.clone());
        at = next;
        if missed > TOO_MANY_MISSED {
            break;
        }
    }
    if missed <= TOO_MANY_MISSED {
        return (last, missed);
    }
    // Many missed: look back over growing windows instead of stepping through all of them.
    for window in [60_i64, 3_600, 86_400, 32 * 86_400, 366 * 86_400, 5 * 366 * 86_400] {
        let Ok(start) = now.timestamp().checked_sub(jiff::SignedDuration::from_secs(window)) else {
            continue;
        };
        let mut at = if start > earliest.timestamp() { start.to_zoned(now.time_zone().clone()) } else { earliest.clone() };
        let mut found = None;
        while let Some(next) = schedule.next_after(at) {
            if next > *now {
                break;
            }
            found = Some(next.clone());
            at = next;
        }
        if found.is_some() {
            return (found, missed);
        }
    }
    (last, missed)
}

fn reference(job: &Job) -> ObjectReference {
    ObjectReference {
        api_version: Some("batch/v1".into()),
        kind: Some("Job".into()),
        name: job.metadata.name.clone(),
        namespace: job.metadata.namespace.clone(),
        uid: job.metadata.uid.clone(),
        resource_version: job.metadata.resource_version.clone(),
        field_path: None,
    }
}

async fn reconcile(cron_job: Arc<CronJob>, controller: Arc<Controller>) -> Result<Action, ReconcileError> {
    if cron_job.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let context = &controller.context;
    let namespace = cron_job.metadata.namespace.clone().unwrap_or_default();
    let name = cron_job.metadata.name.clone().unwrap_or_default();
    let uid = cron_job.metadata.uid.clone().unwrap_or_default();
    let spec = cron_job.spec.clone().unwrap_or_default();
    let old_status = cron_job.status.clone().unwrap_or_default();
    let mut status = old_status.clone();
    let jobs_api: Api<Job> = Api::namespaced(context.client.clone(), &namespace);

    let mut owned: Vec<Arc<Job>> = context
        .jobs
        .store()
        .state()
        .into_iter()
        .filter(|job| job.metadata.namespace.as_deref() == Some(namespace.as_str()))
        .filter(|job| job.metadata.owner_references.iter().flatten().any(|owner| owner.controller == Some(true) && owner.uid == uid))
        .collect();
    owned.sort_by_key(|job| job.status.as_ref().and_then(|status| status.start_time.clone()).or_else(|| job.metadata.creation_timestamp.clone()).map(|time| time.0));

    // The active list: Jobs that run; finished ones leave it, missing ones too.
    let mut active: Vec<ObjectReference> = Vec::new();
    for job in &owned {
        match finished(job) {
            // The reference taken when the Job was started is kept, as Kubernetes keeps it: a
            // fresh one would carry each new resourceVersion and rewrite the status every time
            // the Job changes.
            None if job.metadata.deletion_timestamp.is_none() => active.push(
                status.active.iter().flatten().find(|known| known.uid == job.metadata.uid).cloned().unwrap_or_else(|| reference(job)),
            ),
            None => {}
            Some(condition) => {
                let was_active = status.active.iter().flatten().any(|reference| reference.uid == job.metadata.uid);
                if was_active {
                    let job_name = job.metadata.name.clone().unwrap_or_default();
                    controller.event(&cron_job, "Normal", "SawCompletedJob", &format!("Saw completed job: {job_name}, condition: {condition}")).await;
                }
                if condition == "Complete" {
                    let completed = job.status.as_ref().and_then(|status| status.completion_time.clone());
                    if completed.as_ref().is_some_and(|time| status.last_successful_time.as_ref().is_none_or(|last| last.0 < time.0)) {
                        status.last_successful_time = completed;
                    }
                }
            }
        }
    }
    for gone in status.active.iter().flatten().filter(|reference| !owned.iter().any(|job| job.metadata.uid == reference.uid)) {
        // Created by this controller moments ago and not yet in the informer, or really gone.
        let still_there = jobs_api.get_opt(gone.name.as_deref().unwrap_or_default()).await?.filter(|job| job.metadata.uid == gone.uid);
        match still_there {
            Some(job) if finished(&job).is_none() => active.push(reference(&job)),
            Some(_) => {}
            None => controller.event(&cron_job, "Normal", "MissingJob", &format!("Active job went missing: {}", gone.name.as_deref().unwrap_or_default())).await,
        }
    }
    status.active = (!active.is_empty()).then_some(active);

    controller.clean_history(&cron_job, &jobs_api, &owned, "Complete", spec.successful_jobs_history_limit.unwrap_or(3)).await?;
    controller.clean_history(&cron_job, &jobs_api, &owned, "Failed", spec.failed_jobs_history_limit.unwrap_or(1)).await?;

    let outcome = controller.schedule(&cron_job, &jobs_api, &owned, &mut status).await;
    if status != old_status {
        let cron_jobs: Api<CronJob> = Api::namespaced(context.client.clone(), &namespace);
        // Written with the copy's resourceVersion as precondition, as Kubernetes' UpdateStatus
        // does: a sync that started from a copy older than this controller's last write (the
        // informer lags it) would otherwise put back the older lastScheduleTime, and the time
        // it overwrote is never recorded again since its Job exists. The 409 reruns the sync.
        let mut updated = (*cron_job).clone();
        updated.status = Some(status);
        updated.metadata.managed_fields = None;
        match cron_jobs.replace_status(&name, &PostParams::default(), &updated).await {
            Err(err) if framework::answered(&err, &[409]) => {
                tracing::debug!(namespace = %namespace, name = %name, "status written from an old copy; syncing again");
                return Ok(Action::requeue(Duration::from_millis(200)));
            }
            Err(err) if !framework::answered(&err, &[404]) => return Err(err.into()),
            _ => {}
        }
    }
    outcome
}

impl Controller {
    /// Starts the Job for the most recent scheduled time if it is due; the answer says when to
    /// look again (the next scheduled time).
    async fn schedule(&self, cron_job: &CronJob, jobs_api: &Api<Job>, owned: &[Arc<Job>], status: &mut CronJobStatus) -> Result<Action, ReconcileError> {
        let spec = cron_job.spec.clone().unwrap_or_default();
        let name = cron_job.metadata.name.clone().unwrap_or_default();
        if spec.suspend == Some(true) {
            return Ok(Action::await_change());
        }
        let zone = match spec.time_zone.as_deref() {
            None => Some(TimeZone::system()),
            Some(name) => match load_location(name) {
                Ok(zone) => zone,
                Err(err) => {
                    self.event(cron_job, "Warning", "UnknownTimeZone", &format!("invalid timeZone: {name:?}: {err}")).await;
                    return Ok(Action::await_change());
                }
            },
        };
        let zone = zone.unwrap_or_else(TimeZone::system);
        let schedule = match Schedule::parse(&spec.schedule) {
            Ok(schedule) => schedule,
            Err(err) => {
                self.event(cron_job, "Warning", "UnparseableSchedule", &format!("unparseable schedule: {:?} : {err}", spec.schedule)).await;
                return Ok(Action::await_change());
            }
        };
        let now = jiff::Timestamp::now().to_zoned(zone.clone());
        let created = cron_job.metadata.creation_timestamp.as_ref().map_or(now.timestamp(), |time| time.0);
        let mut earliest = status.last_schedule_time.as_ref().map_or(created, |time| time.0);
        // A deadline reaching past the earliest time there is cuts nothing.
        if let Some(Ok(cutoff)) = spec.starting_deadline_seconds.map(|deadline| now.timestamp().checked_sub(jiff::SignedDuration::from_secs(deadline))) {
            earliest = earliest.max(cutoff);
        }
        let (due, missed) = most_recent(&schedule, &earliest.to_zoned(zone.clone()), &now);
        let next = schedule.next_after(now.clone());
        let until_next = next
            .as_ref()
            .map(|next| Duration::from_millis(u64::try_from(next.timestamp().duration_since(now.timestamp()).as_millis()).unwrap_or(0)) + Duration::from_millis(100))
            .map_or(Action::await_change(), Action::requeue);
        let Some(scheduled) = due else {
            return Ok(until_next);
        };
        if missed > TOO_MANY_MISSED {
            self.event(cron_job, "Warning", "TooManyMissedTimes", &format!("too many missed start times: {missed}. Set or decrease .spec.startingDeadlineSeconds or check clock skew")).await;
        }
        if let Some(deadline) = spec.starting_deadline_seconds
            && scheduled.timestamp().as_second().saturating_add(deadline) < now.timestamp().as_second() {
                let when = scheduled.timestamp().to_zoned(TimeZone::UTC).strftime("%a, %d %b %Y %H:%M:%S %z");
                self.event(cron_job, "Warning", "MissSchedule", &format!("Missed scheduled time to start a job: {when}")).await;
                return Ok(until_next);
            }
        let job_name = job_name(&name, &scheduled);
        let already = owned.iter().any(|job| job.metadata.name.as_deref() == Some(job_name.as_str()))
            || status.active.iter().flatten().any(|reference| reference.name.as_deref() == Some(job_name.as_str()));
        if already {
            // Its Job was made (a write of the time lost, or a copy from before it): the time
            // is recorded all the same, so the next sync starts from it.
            if status.last_schedule_time.as_ref().is_none_or(|last| last.0 < scheduled.timestamp()) {
                status.last_schedule_time = Some(Time(scheduled.timestamp()));
            }
            return Ok(until_next);
        }
        let running: Vec<ObjectReference> = status.active.clone().unwrap_or_default();
        match spec.concurrency_policy.as_deref() {
            Some("Forbid") if !running.is_empty() => {
                self.event(cron_job, "Normal", "JobAlreadyActive", "Not starting job because prior execution is running and concurrency policy is Forbid").await;
                // Looked at again when the running Job finishes (its change triggers this).
                return Ok(until_next);
            }
            Some("Replace") => {
                for reference in &running {
                    let old = reference.name.clone().unwrap_or_default();
                    let params = DeleteParams { propagation_policy: Some(PropagationPolicy::Background), ..DeleteParams::default() };
                    match jobs_api.delete(&old, &params).await {
                        Err(err) if !framework::answered(&err, &[404]) => return Err(err.into()),
                        _ => self.event(cron_job, "Normal", "SuccessfulDelete", &format!("Deleted job {old}")).await,
                    }
                }
                status.active = None;
            }
            _ => {}
        }
        let job = job_for(cron_job, &job_name, &scheduled);
        let created = match jobs_api.create(&PostParams::default(), &job).await {
            Ok(created) => {
                tracing::info!(namespace = ?cron_job.metadata.namespace, name = %name, job = %job_name, "created a scheduled job");
                self.event(cron_job, "Normal", "SuccessfulCreate", &format!("Created job {job_name}")).await;
                created
            }
            // Made by an earlier run whose answer was lost: the same scheduled time.
            Err(err) if framework::answered(&err, &[409]) => jobs_api.get(&job_name).await?,
            Err(err) => {
                self.event(cron_job, "Warning", "FailedCreate", &format!("Error creating job: {err}")).await;
                return Err(err.into());
            }
        };
        let owned_by_us = created.metadata.owner_references.iter().flatten().any(|owner| owner.uid.as_str() == cron_job.metadata.uid.as_deref().unwrap_or_default());
        if owned_by_us && finished(&created).is_none() {
            let active = status.active.get_or_insert_with(Vec::new);
            if !active.iter().any(|reference| reference.uid == created.metadata.uid) {
                active.push(reference(&created));
            }
        }
        status.last_schedule_time = Some(Time(scheduled.timestamp()));
        Ok(until_next)
    }

    /// Deletes the oldest finished Jobs (`condition`: Complete or Failed) beyond `limit`.
    async fn clean_history(&self, cron_job: &CronJob, jobs_api: &Api<Job>, owned: &[Arc<Job>], condition: &str, limit: i32) -> Result<(), ReconcileError> {
        let finished: Vec<&Arc<Job>> = owned.iter().filter(|job| finished(job) == Some(condition) && job.metadata.deletion_timestamp.is_none()).collect();
        let excess = finished.len().saturating_sub(usize::try_from(limit).unwrap_or(0));
        for job in finished.into_iter().take(excess) {
            let job_name = job.metadata.name.clone().unwrap_or_default();
            let params = DeleteParams { propagation_policy: Some(PropagationPolicy::Background), ..DeleteParams::default() };
            match jobs_api.delete(&job_name, &params).await {
                Err(err) if !framework::answered(&err, &[404]) => return Err(err.into()),
                _ => self.event(cron_job, "Normal", "SuccessfulDelete", &format!("Deleted job {job_name}")).await,
            }
        }
        Ok(())
    }

    async fn event(&self, cron_job: &CronJob, kind: &str, reason: &str, message: &str) {
        if let Err(err) = self.recorder.record(&common::events::reference(cron_job), kind, reason, "Reconcile", message).await {
            tracing::debug!(namespace = ?cron_job.metadata.namespace, name = ?cron_job.metadata.name, error = %err, "cannot record event");
        }
    }
}

/// The Job the CronJob's template makes for `scheduled` (Kubernetes' `getJobFromTemplate2`).
fn job_for(cron_job: &CronJob, job_name: &str, scheduled: &Zoned) -> Job {
    let template = cron_job.spec.as_ref().map(|spec| spec.job_template.clone()).unwrap_or_default();
    let template_meta = template.metadata.unwrap_or_default();
    let mut annotations = template_meta.annotations.unwrap_or_default();
    annotations.insert(SCHEDULED_TIMESTAMP.into(), scheduled.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string().replace("+00:00", "Z"));
    Job {
        metadata: ObjectMeta {
            name: Some(job_name.to_string()),
            namespace: cron_job.metadata.namespace.clone(),
            labels: template_meta.labels,
            annotations: Some(annotations),
            owner_references: Some(vec![framework::controller_reference(cron_job)]),
            ..ObjectMeta::default()
        },
        spec: template.spec,
        status: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Zoned {
        text.parse::<jiff::Timestamp>().unwrap().to_zoned(TimeZone::UTC)
    }

    #[test]
    fn job_names_are_minutes_since_the_epoch() {
        assert_eq!(job_name("hello", &at("2026-12-06T19:31:00Z")), format!("hello-{}", at("2026-12-06T19:31:00Z").timestamp().as_second() / 60));
        assert_eq!(job_name("hello", &at("1970-01-01T00:02:00Z")), "hello-2");
    }

    #[test]
    fn the_most_recent_scheduled_time_and_the_missed_count() {
        let every_minute = Schedule::parse("* * * * *").unwrap();
        let (due, missed) = most_recent(&every_minute, &at("2026-12-06T10:00:00Z"), &at("2026-12-06T10:00:30Z"));
        assert_eq!((due, missed), (None, 0));
        let (due, missed) = most_recent(&every_minute, &at("2026-12-06T10:00:00Z"), &at("2026-12-06T10:03:30Z"));
        assert_eq!((due, missed), (Some(at("2026-12-06T10:03:00Z")), 3));
        // A week of minutes missed: warned about, and the latest still found.
        let (due, missed) = most_recent(&every_minute, &at("2026-11-29T10:00:00Z"), &at("2026-12-06T10:03:30Z"));
        assert_eq!(due, Some(at("2026-12-06T10:03:00Z")));
        assert!(missed > TOO_MANY_MISSED);
        let hourly = Schedule::parse("@hourly").unwrap();
        let (due, _) = most_recent(&hourly, &at("2026-01-01T00:00:00Z"), &at("2026-12-06T10:03:30Z"));
        assert_eq!(due, Some(at("2026-12-06T10:00:00Z")));
    }

    #[test]
    fn a_scheduled_job_carries_its_time_and_owner() {
        let cron_job: CronJob = serde_json::from_value(serde_json::json!({"metadata": {"name": "c", "namespace": "ns", "uid": "u"},
            "spec": {"schedule": "* * * * *", "jobTemplate": {"metadata": {"labels": {"a": "b"}}, "spec": {"template": {}}}}})).unwrap();
        let job = job_for(&cron_job, "c-1", &at("2026-12-06T10:03:00Z"));
        assert_eq!(job.metadata.annotations.unwrap()[SCHEDULED_TIMESTAMP], "2026-12-06T10:03:00Z");
        assert_eq!(job.metadata.labels.unwrap()["a"], "b");
        assert_eq!(job.metadata.owner_references.unwrap()[0].kind, "CronJob");
    }
}
