//! `Job` (`batch/v1`): its declaration, its strategy (kube's `SetDefaults_Job`, the Job
//! strategy's status reset and generated selector, and `ValidateJob` as far as the fields go
//! that the Job controller reads) and its printer (`printJob`).

use std::collections::BTreeMap;

use common::durations::{age, human_duration};
use common::selector::LabelSelector as Selector;
use k8s_openapi::api::batch::v1::{Job, JobSpec, JobStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use serde_json::{Value, json};

use crate::admission::deployment::{non_negative, selectors_equal, template_defaults, template_quantities, validate_label_selector};
use crate::admission::field::{Causes, Path, json_of};
use crate::admission::{Context, Typed, TypedKind, metadata, pod_spec};
use crate::printers::{Column, Printer, selector_text};
use crate::registry::Kind;
use crate::resources::{PodSelector, ResourceType};
use crate::kinds::ALL;

pub static KIND: Kind = Kind {
    resource: ResourceType::builtin("batch", "v1", "Job", "jobs", "job")
        .namespaced()
        .categories(ALL)
        .subresources(&["status"])
        .tracks_generation()
        .pod_selector(PodSelector::LabelSelector)
        // kube's Job strategy keeps batch/v1's original default, orphaning the pods, and its
        // storage warns a delete that relies on it (`deleteOptionWarnings`).
        .orphans_dependents_by_default(
            "child pods are preserved by default when jobs are deleted; set propagationPolicy=Background to remove them or set propagationPolicy=Orphan to suppress this warning",
        ),
    strategy: &STRATEGY,
    printer: Some(&PRINTER),
};

static STRATEGY: Typed<Job> = Typed::new();

/// The labels a generated selector matches (`batch.kubernetes.io/controller-uid`), and those
/// the pods also carry for older clients, as kube's `generateSelector` writes them.
const CONTROLLER_UID: &str = "batch.kubernetes.io/controller-uid";
const JOB_NAME: &str = "batch.kubernetes.io/job-name";
const LEGACY_CONTROLLER_UID: &str = "controller-uid";
const LEGACY_JOB_NAME: &str = "job-name";

fn spec_of(job: &Job) -> JobSpec {
    job.spec.clone().unwrap_or_default()
}

impl TypedKind for Job {
    fn check_quantities(&self) -> Result<(), common::quantity::QuantityError> {
        template_quantities(self.spec.as_ref().map(|spec| &spec.template))
    }

    fn apply_defaults(&mut self) {
        let spec = self.spec.get_or_insert_with(Default::default);
        if spec.completions.is_none() && spec.parallelism.is_none() {
            spec.completions = Some(1);
        }
        spec.parallelism.get_or_insert(1);
        if spec.backoff_limit.is_none() {
            spec.backoff_limit = Some(if spec.backoff_limit_per_index.is_some() { i32::MAX } else { 6 });
        }
        spec.completion_mode.get_or_insert_with(|| "NonIndexed".into());
        spec.suspend.get_or_insert(false);
        if spec.pod_replacement_policy.is_none() {
            spec.pod_replacement_policy = Some(if spec.pod_failure_policy.is_some() { "Failed" } else { "TerminatingOrFailed" }.into());
        }
        let template_labels = spec.template.metadata.as_ref().and_then(|metadata| metadata.labels.clone());
        template_defaults(&mut spec.template);
        if self.metadata.labels.as_ref().is_none_or(BTreeMap::is_empty) && template_labels.is_some() {
            self.metadata.labels = template_labels;
        }
    }

    fn prepare_for_create(&mut self) {
        self.status = Some(JobStatus::default());
        let uid = self.metadata.uid.clone().unwrap_or_default();
        let name = self.metadata.name.clone().unwrap_or_default();
        let spec = self.spec.get_or_insert_with(Default::default);
        if spec.manual_selector == Some(true) {
            return;
        }
        // generateSelector: the pods are the Job's by its uid, which no other Job shares.
        let labels = spec.template.metadata.get_or_insert_with(Default::default).labels.get_or_insert_with(BTreeMap::new);
        for (key, value) in [(CONTROLLER_UID, &uid), (JOB_NAME, &name), (LEGACY_CONTROLLER_UID, &uid), (LEGACY_JOB_NAME, &name)] {
            labels.entry(key.to_string()).or_insert_with(|| value.clone());
        }
        spec.selector.get_or_insert_with(LabelSelector::default).match_labels.get_or_insert_with(BTreeMap::new).entry(CONTROLLER_UID.to_string()).or_insert(uid);
    }

    fn prepare_for_update(&mut self, old: &Self) {
        self.status = old.status.clone();
    }

    fn prepare_for_status_update(&mut self, old: &Self) {
        self.spec = old.spec.clone();
    }

    fn validate(&self, _context: &Context, causes: &mut Causes) {
        let spec = spec_of(self);
        let path = Path::new("spec");
        validate_spec(&spec, &path, causes);
        validate_selector(&spec, &path, causes);
    }

    fn validate_update(&self, old: &Self, context: &Context, causes: &mut Causes) {
        self.validate(context, causes);
        let (spec, old_spec) = (spec_of(self), spec_of(old));
        let path = Path::new("spec");
        if !selectors_equal(&spec.selector.clone().unwrap_or_default(), &old_spec.selector.clone().unwrap_or_default()) {
            causes.immutable(&path.child("selector"), json_of(&spec.selector));
        }
        // The template may change only while the Job is suspended (for its scheduling
        // directives), as kube allows; anything else is immutable.
        if spec.template != old_spec.template && old_spec.suspend != Some(true) {
            causes.immutable(&path.child("template"), json_of(&spec.template));
        }
        if spec.completion_mode != old_spec.completion_mode {
            causes.immutable(&path.child("completionMode"), json_of(&spec.completion_mode));
        }
    }

    fn validate_status_update(&self, _old: &Self, _context: &Context, causes: &mut Causes) {
        let status = self.status.clone().unwrap_or_default();
        let path = Path::new("status");
        for (field, value) in [("active", status.active), ("succeeded", status.succeeded), ("failed", status.failed), ("ready", status.ready), ("terminating", status.terminating)] {
            non_negative(&path.child(field), i64::from(value.unwrap_or(0)), causes);
        }
    }
}

/// `validateJobSpec`: what a Job's spec and a CronJob's job template (`spec` at `path`) must
/// both be; the selector, which a Job has and a template leaves to the Job it makes, is not here.
/// The most parallelism and failed indexes an Indexed Job may have (kube's
/// `maxParallelismForIndexedJob`, `maxFailedIndexesForIndexedJob`).
const MAX_INDEXED: i32 = 100_000;

pub(crate) fn validate_spec(spec: &JobSpec, path: &Path, causes: &mut Causes) {
    for (field, value) in [
        ("parallelism", spec.parallelism.map(i64::from)),
        ("completions", spec.completions.map(i64::from)),
        ("activeDeadlineSeconds", spec.active_deadline_seconds),
        ("backoffLimit", spec.backoff_limit.map(i64::from)),
        ("ttlSecondsAfterFinished", spec.ttl_seconds_after_finished.map(i64::from)),
        ("backoffLimitPerIndex", spec.backoff_limit_per_index.map(i64::from)),
        ("maxFailedIndexes", spec.max_failed_indexes.map(i64::from)),
    ] {
        if let Some(value) = value {
            non_negative(&path.child(field), value, causes);
        }
    }
    if spec.max_failed_indexes.is_some() && spec.backoff_limit_per_index.is_none() {
        causes.required(&path.child("backoffLimitPerIndex"), "when maxFailedIndexes is specified");
    }
    let mode = spec.completion_mode.as_deref().unwrap_or("NonIndexed");
    if !matches!(mode, "NonIndexed" | "Indexed") {
        causes.not_supported(&path.child("completionMode"), mode, &["NonIndexed", "Indexed"]);
    }
    if mode == "Indexed" {
        if spec.completions.is_none() {
            causes.required(&path.child("completions"), "when completion mode is Indexed");
        }
        // Caps that bound the length of completedIndexes and failedIndexes.
        if let Some(parallelism) = spec.parallelism.filter(|parallelism| *parallelism > MAX_INDEXED) {
            causes.invalid(&path.child("parallelism"), parallelism, &format!("must be less than or equal to {MAX_INDEXED} when completion mode is Indexed"));
        }
        if let Some(max_failed) = spec.max_failed_indexes {
            if spec.completions.is_some_and(|completions| max_failed > completions) {
                causes.invalid(&path.child("maxFailedIndexes"), max_failed, "must be less than or equal to completions");
            }
            if max_failed > MAX_INDEXED {
                causes.invalid(&path.child("maxFailedIndexes"), max_failed, &format!("must be less than or equal to {MAX_INDEXED}"));
            }
        }
    } else {
        if let Some(limit) = spec.backoff_limit_per_index {
            causes.invalid(&path.child("backoffLimitPerIndex"), limit, "requires indexed completion mode");
        }
        if let Some(max_failed) = spec.max_failed_indexes {
            causes.invalid(&path.child("maxFailedIndexes"), max_failed, "requires indexed completion mode");
        }
    }
    if let Some(policy) = spec.pod_replacement_policy.as_deref() {
        if spec.pod_failure_policy.is_some() && policy != "Failed" {
            causes.not_supported(&path.child("podReplacementPolicy"), policy, &["Failed"]);
        } else if !matches!(policy, "Failed" | "TerminatingOrFailed") {
            causes.not_supported(&path.child("podReplacementPolicy"), policy, &["Failed", "TerminatingOrFailed"]);
        }
    }
    let template = &spec.template;
    let template_path = path.child("template");
    let metadata_of = template.metadata.clone().unwrap_or_default();
    metadata::validate_labels(metadata_of.labels.as_ref(), &template_path.child("labels"), causes);
    metadata::validate_annotations(metadata_of.annotations.as_ref(), &template_path.child("annotations"), causes);
    let pod = template.spec.clone().unwrap_or_default();
    let pod_path = template_path.child("spec");
    pod_spec::validate(&pod, &pod_path, false, causes);
    // An unset restart policy defaults to Always in a pod template: both are "required".
    match pod.restart_policy.as_deref().unwrap_or_default() {
        "" | "Always" => causes.required(&pod_path.child("restartPolicy"), "valid values: \"OnFailure\", \"Never\""),
        "Never" => {}
        "OnFailure" if spec.pod_failure_policy.is_some() => {
            causes.invalid(&pod_path.child("restartPolicy"), "OnFailure", "only \"Never\" is supported when podFailurePolicy is specified");
        }
        "OnFailure" => {}
        other => causes.not_supported(&pod_path.child("restartPolicy"), other, &["OnFailure", "Never"]),
    }
}

/// The selector rules `ValidateJobSpec` adds for a Job: there is one, and it selects the
/// template's pods.
fn validate_selector(spec: &JobSpec, path: &Path, causes: &mut Causes) {
    match &spec.selector {
        None => causes.required(&path.child("selector"), ""),
        Some(selector) => {
            validate_label_selector(selector, &path.child("selector"), causes);
            let empty = BTreeMap::new();
            let labels = spec.template.metadata.as_ref().and_then(|metadata| metadata.labels.as_ref()).unwrap_or(&empty);
            match Selector::from_k8s(selector) {
                Ok(parsed) if !parsed.is_empty() && parsed.matches(labels) => {}
                Ok(_) => causes.invalid(&path.child("template").child("metadata").child("labels"), json_of(labels), "`selector` does not match template `labels`"),
                Err(_) => causes.invalid(&path.child("selector"), json_of(selector), "invalid label selector"),
            }
        }
    }
}

static PRINTER: Printer = Printer {
    columns: &[
        Column { name: "Name", type_: "string", priority: 0, description: "Name must be unique within a namespace." },
        Column { name: "Status", type_: "string", priority: 0, description: "Status of the job." },
        Column { name: "Completions", type_: "string", priority: 0, description: "The completion status of the job." },
        Column { name: "Duration", type_: "string", priority: 0, description: "Time required to complete the job." },
        Column { name: "Age", type_: "string", priority: 0, description: "CreationTimestamp is a timestamp representing the server time when this object was created." },
        Column { name: "Containers", type_: "string", priority: 1, description: "Names of each container in the template." },
        Column { name: "Images", type_: "string", priority: 1, description: "Images referenced by each container in the template." },
        Column { name: "Selector", type_: "string", priority: 1, description: "Selector of the job." },
    ],
    cells,
};

/// `printJob`'s row.
fn cells(job: &Value) -> Vec<Value> {
    let int = |pointer: &str| job.pointer(pointer).and_then(Value::as_i64);
    let succeeded = int("/status/succeeded").unwrap_or(0);
    let completions = match int("/spec/completions") {
        Some(completions) => format!("{succeeded}/{completions}"),
        None => match int("/spec/parallelism").unwrap_or(0) {
            parallelism if parallelism > 1 => format!("{succeeded}/1 of {parallelism}"),
            _ => format!("{succeeded}/1"),
        },
    };
    let time = |pointer: &str| job.pointer(pointer).and_then(Value::as_str).and_then(|text| text.parse::<jiff::Timestamp>().ok());
    let duration = match (time("/status/startTime"), time("/status/completionTime")) {
        (None, _) => String::new(),
        (Some(start), None) => human_duration(jiff::Timestamp::now().as_second() - start.as_second()),
        (Some(start), Some(end)) => human_duration(end.as_second() - start.as_second()),
    };
    let containers = job.pointer("/spec/template/spec/containers").and_then(Value::as_array).map_or(&[][..], Vec::as_slice);
    let field_of = |field: &str| containers.iter().map(|container| container.get(field).and_then(Value::as_str).unwrap_or_default()).collect::<Vec<_>>().join(",");
    vec![
        json!(job.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default()),
        json!(status(job)),
        json!(completions),
        json!(duration),
        json!(age(job.pointer("/metadata/creationTimestamp").and_then(Value::as_str))),
        json!(field_of("name")),
        json!(field_of("image")),
        json!(selector_text(job.pointer("/spec/selector"))),
    ]
}

/// The STATUS column kubectl 1.33 prints: the first condition that holds, in kube's order.
fn status(job: &Value) -> &'static str {
    let holds = |kind: &str| {
        job.pointer("/status/conditions").and_then(Value::as_array).is_some_and(|conditions| conditions.iter().any(|condition| condition["type"] == kind && condition["status"] == "True"))
    };
    if holds("Complete") {
        "Complete"
    } else if holds("Failed") {
        "Failed"
    } else if job.pointer("/metadata/deletionTimestamp").is_some() {
        "Terminating"
    } else if holds("SuccessCriteriaMet") {
        "SuccessCriteriaMet"
    } else if holds("FailureTarget") {
        "FailureTarget"
    } else if holds("Suspended") {
        "Suspended"
    } else {
        "Running"
    }
}
