//! `CronJob` (`batch/v1`): its declaration, its strategy (kube's `SetDefaults_CronJob` and the
//! pod defaults of its job template, the CronJob strategy's status reset, and
//! `ValidateCronJobCreate`/`ValidateCronJobUpdate`: the schedule as robfig/cron parses it, the
//! time zone, the policies and the job template as a Job's spec) and its printer
//! (`printCronJob`).

use common::cron::{Schedule, load_location};
use common::durations::age;
use k8s_openapi::api::batch::v1::{CronJob, CronJobSpec, CronJobStatus};
use serde_json::{Value, json};

use crate::admission::deployment::{non_negative, template_defaults, template_quantities};
use crate::admission::field::{Causes, Path, json_of};
use crate::admission::{Context, Typed, TypedKind};
use crate::kinds::ALL;
use super::job;
use crate::printers::{self, AGE, CONTAINERS, IMAGES, NAME, Column, Printer, selector_text};
use crate::registry::Kind;
use crate::resources::ResourceType;

pub static KIND: Kind = Kind {
    resource: ResourceType::builtin("batch", "v1", "CronJob", "cronjobs", "cronjob")
        .namespaced()
        .short_names(&["cj"])
        .categories(ALL)
        .subresources(&["status"])
        .tracks_generation(),
    strategy: &STRATEGY,
    printer: Some(&PRINTER),
};

static STRATEGY: Typed<CronJob> = Typed::new();

/// The controller names each Job `<cronjob>-<minutes since the epoch>`, 11 characters more, and
/// a Job's name must fit a 63-character label: kube limits new CronJobs' names to 52.
const MAX_NAME_LENGTH: usize = 52;

fn spec_of(cron_job: &CronJob) -> CronJobSpec {
    cron_job.spec.clone().unwrap_or_default()
}

impl TypedKind for CronJob {
    fn check_quantities(&self) -> Result<(), common::quantity::QuantityError> {
        template_quantities(self.spec.as_ref().and_then(|spec| spec.job_template.spec.as_ref()).map(|spec| &spec.template))
    }

    /// `SetDefaults_CronJob`, and the pod defaults of the job template's pod template: kube's
    /// generated defaulter reaches the template's `PodSpec`, but no `SetDefaults_Job` runs on a
    /// template (a Job gets its own defaults when the controller creates it).
    fn apply_defaults(&mut self) {
        let spec = self.spec.get_or_insert_with(Default::default);
        if spec.concurrency_policy.as_deref().unwrap_or_default().is_empty() {
            spec.concurrency_policy = Some("Allow".into());
        }
        spec.suspend.get_or_insert(false);
        spec.successful_jobs_history_limit.get_or_insert(3);
        spec.failed_jobs_history_limit.get_or_insert(1);
        template_defaults(&mut spec.job_template.spec.get_or_insert_with(Default::default).template);
    }

    fn prepare_for_create(&mut self) {
        self.status = Some(CronJobStatus::default());
    }

    fn prepare_for_update(&mut self, old: &Self) {
        self.status = old.status.clone();
    }

    fn prepare_for_status_update(&mut self, old: &Self) {
        self.spec = old.spec.clone();
    }

    fn validate(&self, _context: &Context, causes: &mut Causes) {
        validate_spec(&spec_of(self), None, causes);
        // Only new CronJobs: older ones with longer names may still be updated and deleted.
        let name = self.metadata.name.as_deref().unwrap_or_default();
        if name.len() > MAX_NAME_LENGTH {
            causes.invalid(&Path::new("metadata").child("name"), name, "must be no more than 52 characters");
        }
    }

    fn validate_update(&self, old: &Self, _context: &Context, causes: &mut Causes) {
        validate_spec(&spec_of(self), Some(&spec_of(old)), causes);
    }
}

/// `validateCronJobSpec`; `old` on update, where a schedule that already used `TZ=` may keep
/// it and an unchanged time zone is not looked up again.
fn validate_spec(spec: &CronJobSpec, old: Option<&CronJobSpec>, causes: &mut Causes) {
    let path = Path::new("spec");
    if spec.schedule.is_empty() {
        causes.required(&path.child("schedule"), "");
    } else {
        let allow_zone_in_schedule = old.is_some_and(|old| old.schedule.contains("TZ"));
        validate_schedule(&spec.schedule, allow_zone_in_schedule, spec.time_zone.as_deref(), &path.child("schedule"), causes);
    }
    if let Some(deadline) = spec.starting_deadline_seconds {
        non_negative(&path.child("startingDeadlineSeconds"), deadline, causes);
    }
    if old.is_none_or(|old| old.time_zone != spec.time_zone) {
        validate_time_zone(spec.time_zone.as_deref(), &path.child("timeZone"), causes);
    }
    let policy = spec.concurrency_policy.as_deref().unwrap_or_default();
    match policy {
        "Allow" | "Forbid" | "Replace" => {}
        "" => causes.required(&path.child("concurrencyPolicy"), ""),
        other => causes.not_supported(&path.child("concurrencyPolicy"), other, &["Allow", "Forbid", "Replace"]),
    }
    validate_job_template(spec, &path.child("jobTemplate"), causes);
    for (field, limit) in [("successfulJobsHistoryLimit", spec.successful_jobs_history_limit), ("failedJobsHistoryLimit", spec.failed_jobs_history_limit)] {
        if let Some(limit) = limit {
            non_negative(&path.child(field), limit.into(), causes);
        }
    }
}

/// `validateScheduleFormat`: the schedule parses as robfig/cron's `ParseStandard` parses it,
/// and names no time zone (that is the `timeZone` field's job) unless it already did.
fn validate_schedule(schedule: &str, allow_zone_in_schedule: bool, time_zone: Option<&str>, path: &Path, causes: &mut Causes) {
    if let Err(err) = Schedule::parse(schedule) {
        causes.invalid(path, schedule, &err.to_string());
    }
    let names_zone = schedule.contains("TZ");
    if allow_zone_in_schedule && names_zone && time_zone.is_some() {
        causes.invalid(path, schedule, "cannot use both timeZone field and TZ or CRON_TZ in schedule");
    } else if !allow_zone_in_schedule && names_zone {
        causes.invalid(path, schedule, "cannot use TZ or CRON_TZ in schedule, use timeZone field instead");
    }
}

/// `validateTimeZone`: unset, or an explicit IANA zone name the zone database knows. Each part
/// of the name is first held to the IANA naming rules (letters, digits, `.`, `-`, `_`, `+`; at
/// most 14 characters; not `.`, `..` or starting with `-`), as kube does before loading it.
fn validate_time_zone(time_zone: Option<&str>, path: &Path, causes: &mut Causes) {
    let Some(name) = time_zone else { return };
    if name.is_empty() {
        causes.invalid(path, name, "timeZone must be nil or non-empty string");
        return;
    }
    let valid_part = |part: &str| {
        !matches!(part, "." | "..")
            && !part.starts_with('-')
            && (1..=14).contains(&part.len())
            && part.bytes().all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'-' | b'_' | b'+'))
    };
    if !name.split('/').all(valid_part) {
        causes.invalid(path, name, &format!("unknown time zone {name}"));
        return;
    }
    if name.eq_ignore_ascii_case("Local") {
        causes.invalid(path, name, "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones");
    }
    if let Err(err) = load_location(name) {
        causes.invalid(path, name, &err.to_string());
    }
}

/// `ValidateJobTemplateSpec`: the template's spec is a Job's, without the selector the Job
/// will generate for itself.
fn validate_job_template(spec: &CronJobSpec, path: &Path, causes: &mut Causes) {
    let job_spec = spec.job_template.spec.clone().unwrap_or_default();
    let spec_path = path.child("spec");
    job::validate_spec(&job_spec, &spec_path, causes);
    if let Some(selector) = &job_spec.selector {
        causes.invalid(&spec_path.child("selector"), json_of(selector), "`selector` will be auto-generated");
    }
    if job_spec.manual_selector == Some(true) {
        causes.not_supported(&spec_path.child("manualSelector"), true, &["nil", "false"]);
    }
}

static PRINTER: Printer = Printer {
    columns: &[
        NAME,
        Column::new("Schedule", "string", 0, "The schedule in Cron format, see https://en.wikipedia.org/wiki/Cron."),
        Column::new("Timezone", "string", 0, "The time zone name for the given schedule, see https://en.wikipedia.org/wiki/List_of_tz_database_time_zones. If not specified, this will default to the time zone of the kube-controller-manager process. The set of valid time zone names and the time zone offset is loaded from the system-wide time zone database by the API server during CronJob validation and the controller manager during execution. If no system-wide time zone database can be found a bundled version of the database is used instead. If the time zone name becomes invalid during the lifetime of a CronJob or due to a change in host configuration, the controller will stop creating new new Jobs and will create a system event with the reason UnknownTimeZone. More information can be found in https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/#time-zones"),
        Column::new("Suspend", "boolean", 0, "This flag tells the controller to suspend subsequent executions, it does not apply to already started executions.  Defaults to false."),
        Column::new("Active", "integer", 0, "A list of pointers to currently running jobs."),
        Column::new("Last Schedule", "string", 0, "Information when was the last time the job was successfully scheduled."),
        AGE,
        CONTAINERS,
        IMAGES,
        Column::new("Selector", "string", 1, "A label query over pods that should match the pod count. Normally, the system sets this field for you. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors"),
    ],
    cells,
};

/// `printCronJob`'s row: the wide columns read the job template.
fn cells(cron_job: &Value) -> Vec<Value> {
    let suspend = match cron_job.pointer("/spec/suspend").and_then(Value::as_bool) {
        Some(true) => "True",
        Some(false) => "False",
        None => "<unset>",
    };
    let last_schedule = match cron_job.pointer("/status/lastScheduleTime").and_then(Value::as_str) {
        Some(time) => age(Some(time)),
        None => "<none>".to_string(),
    };
    let containers = printers::list(cron_job, "/spec/jobTemplate/spec/template/spec/containers");
    let field_of = |field: &str| containers.iter().map(|container| container.get(field).and_then(Value::as_str).unwrap_or_default()).collect::<Vec<_>>().join(",");
    vec![
        printers::name(cron_job),
        json!(printers::text(cron_job, "/spec/schedule")),
        json!(cron_job.pointer("/spec/timeZone").and_then(Value::as_str).unwrap_or("<none>")),
        json!(suspend),
        json!(printers::list(cron_job, "/status/active").len()),
        json!(last_schedule),
        printers::age_of(cron_job),
        json!(field_of("name")),
        json!(field_of("image")),
        json!(selector_text(cron_job.pointer("/spec/jobTemplate/spec/selector"))),
    ]
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::admission::test_support::*;

    fn cron_job(name: &str) -> Value {
        json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": name, "namespace": "demo"},
            "spec": {"schedule": "*/5 * * * *", "jobTemplate": {"spec": {"template": {"spec": {
                "restartPolicy": "OnFailure", "containers": [{"name": "hello", "image": "busybox"}]}}}}}})
    }

    #[test]
    fn a_minimal_cron_job_gets_kubernetes_defaults() {
        let admitted = admitted(resource("cronjobs"), cron_job("hello"));
        for (field, value) in [("concurrencyPolicy", json!("Allow")), ("suspend", json!(false)), ("successfulJobsHistoryLimit", json!(3)), ("failedJobsHistoryLimit", json!(1))] {
            assert_eq!(admitted["spec"][field], value, "{field}: {admitted}");
        }
        let job_spec = &admitted["spec"]["jobTemplate"]["spec"];
        assert_eq!(job_spec["template"]["spec"]["dnsPolicy"], "ClusterFirst", "{admitted}");
        assert_eq!(job_spec["template"]["spec"]["containers"][0]["imagePullPolicy"], "Always", "{admitted}");
        assert_eq!(job_spec.get("backoffLimit"), None, "a template gets no Job defaults: {admitted}");
        assert_eq!(admitted["status"], json!({}));
    }

    #[test]
    fn cron_job_validation() {
        let long_name = "a".repeat(53);
        let rows: Vec<(&str, Value, Outcome)> = vec![
            ("valid", cron_job("hello"), Outcome::Admitted),
            ("macro", with(cron_job("hello"), "/spec/schedule", json!("@hourly")), Outcome::Admitted),
            ("every", with(cron_job("hello"), "/spec/schedule", json!("@every 2h")), Outcome::Admitted),
            ("zone", with(cron_job("hello"), "/spec/timeZone", json!("Europe/Berlin")), Outcome::Admitted),
            ("52 characters", with(cron_job("hello"), "/metadata/name", json!("a".repeat(52))), Outcome::Admitted),
            ("no schedule", without(cron_job("hello"), "/spec/schedule"), invalid(&["spec.schedule"], "spec.schedule: Required value")),
            ("bad schedule", with(cron_job("hello"), "/spec/schedule", json!("61 * * * *")), invalid(&["spec.schedule"], "spec.schedule: Invalid value: \"61 * * * *\": end of range (61) above maximum (59): 61")),
            ("six fields", with(cron_job("hello"), "/spec/schedule", json!("0 * * * * *")), invalid(&["spec.schedule"], "expected exactly 5 fields, found 6: [0 * * * * *]")),
            ("zone in schedule", with(cron_job("hello"), "/spec/schedule", json!("TZ=UTC * * * * *")), invalid(&["spec.schedule"], "cannot use TZ or CRON_TZ in schedule, use timeZone field instead")),
            ("unknown zone", with(cron_job("hello"), "/spec/timeZone", json!("Mars/Olympus")), invalid(&["spec.timeZone"], "spec.timeZone: Invalid value: \"Mars/Olympus\": unknown time zone Mars/Olympus")),
            ("zone with a space", with(cron_job("hello"), "/spec/timeZone", json!("Europe/ Berlin")), invalid(&["spec.timeZone"], "unknown time zone Europe/ Berlin")),
            ("empty zone", with(cron_job("hello"), "/spec/timeZone", json!("")), invalid(&["spec.timeZone"], "timeZone must be nil or non-empty string")),
            ("local zone", with(cron_job("hello"), "/spec/timeZone", json!("Local")), invalid(&["spec.timeZone"], "timeZone must be an explicit time zone")),
            ("local zone in lower case", with(cron_job("hello"), "/spec/timeZone", json!("local")), invalid(&["spec.timeZone", "spec.timeZone"], "unknown time zone local")),
            ("policy", with(cron_job("hello"), "/spec/concurrencyPolicy", json!("Sometimes")), invalid(&["spec.concurrencyPolicy"], "Unsupported value: \"Sometimes\": supported values: \"Allow\", \"Forbid\", \"Replace\"")),
            ("negative deadline", with(cron_job("hello"), "/spec/startingDeadlineSeconds", json!(-1)), invalid(&["spec.startingDeadlineSeconds"], "must be greater than or equal to 0")),
            ("negative history", with(cron_job("hello"), "/spec/failedJobsHistoryLimit", json!(-1)), invalid(&["spec.failedJobsHistoryLimit"], "must be greater than or equal to 0")),
            ("restart always", with(cron_job("hello"), "/spec/jobTemplate/spec/template/spec/restartPolicy", json!("Always")), invalid(&["spec.jobTemplate.spec.template.spec.restartPolicy"], "Required value: valid values: \"OnFailure\", \"Never\"")),
            ("negative parallelism", with(cron_job("hello"), "/spec/jobTemplate/spec/parallelism", json!(-2)), invalid(&["spec.jobTemplate.spec.parallelism"], "must be greater than or equal to 0")),
            ("selector", with(cron_job("hello"), "/spec/jobTemplate/spec/selector", json!({"matchLabels": {"a": "b"}})), invalid(&["spec.jobTemplate.spec.selector"], "`selector` will be auto-generated")),
            ("manual selector", with(cron_job("hello"), "/spec/jobTemplate/spec/manualSelector", json!(true)), invalid(&["spec.jobTemplate.spec.manualSelector"], "Unsupported value: true: supported values: \"nil\", \"false\"")),
            ("long name", with(cron_job("hello"), "/metadata/name", json!(long_name)), invalid(&["metadata.name"], "must be no more than 52 characters")),
        ];
        run_create("cronjobs", rows);
    }

    #[test]
    fn cron_job_updates() {
        let mut stored = admitted(resource("cronjobs"), cron_job("hello"));
        stored["spec"]["schedule"] = json!("TZ=UTC 0 * * * *");
        stored["metadata"]["name"] = json!("b".repeat(60));
        let rows: Vec<(&str, Value, Outcome)> = vec![
            ("keeps its zone in the schedule and its long name", with(stored.clone(), "/spec/suspend", json!(true)), Outcome::Admitted),
            ("both zones", with(stored.clone(), "/spec/timeZone", json!("UTC")), invalid(&["spec.schedule"], "cannot use both timeZone field and TZ or CRON_TZ in schedule")),
        ];
        run_update("cronjobs", &stored, rows);
    }

    #[test]
    fn a_cron_job_prints_its_schedule_and_template() {
        let object = json!({"metadata": {"name": "hello"}, "spec": {"schedule": "@hourly", "suspend": false,
            "jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "busybox"}]}}}}},
            "status": {"active": [{"name": "hello-1"}]}});
        let row = printers::row_of("CronJob", &object);
        assert_eq!(row[..6], [json!("hello"), json!("@hourly"), json!("<none>"), json!("False"), json!(1), json!("<none>")]);
        assert_eq!(row[7..], [json!("c"), json!("busybox"), json!("<none>")]);
    }
}
