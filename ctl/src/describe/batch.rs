//! kubectl's describers of Jobs and CronJobs.

use std::fmt::Write;

use serde_json::Value;

use super::{Context, events_section, header, text};
use crate::pod_template::{self, format_label_selector, rfc1123z};

/// A selector as `labels.Selector.String()` prints it: empty for none.
fn selector(value: &Value) -> String {
    match format_label_selector(value).as_str() {
        "<none>" => String::new(),
        other => other.to_string(),
    }
}

/// An optional number, or `<unset>`.
fn or_unset(value: &Value) -> String {
    if value.is_null() { "<unset>".into() } else { text(value) }
}

pub fn job(context: &Context) -> String {
    let job = &context.object;
    let (spec, status) = (&job["spec"], &job["status"]);
    let mut out = String::new();
    let _ = writeln!(out, "Name:\t{}\nNamespace:\t{}", text(&job["metadata"]["name"]), text(&job["metadata"]["namespace"]));
    let _ = writeln!(out, "Selector:\t{}", selector(&spec["selector"]));
    let mut rest = String::new();
    header(&mut rest, job, false);
    out.push_str(rest.split_once('\n').map(|(_, rest)| rest).unwrap_or_default());
    if let Some(owner) = super::pod::controller(job) {
        let _ = writeln!(out, "Controlled By:\t{owner}");
    }
    if !spec["parallelism"].is_null() {
        let _ = writeln!(out, "Parallelism:\t{}", text(&spec["parallelism"]));
    }
    let _ = writeln!(out, "Completions:\t{}", or_unset(&spec["completions"]));
    for (field, heading) in [("completionMode", "Completion Mode"), ("suspend", "Suspend"), ("backoffLimit", "Backoff Limit"), ("ttlSecondsAfterFinished", "TTL Seconds After Finished")] {
        if !spec[field].is_null() {
            let _ = writeln!(out, "{heading}:\t{}", text(&spec[field]));
        }
    }
    if status["startTime"].is_string() {
        let _ = writeln!(out, "Start Time:\t{}", rfc1123z(&status["startTime"]));
    }
    if status["completionTime"].is_string() {
        let _ = writeln!(out, "Completed At:\t{}", rfc1123z(&status["completionTime"]));
    }
    let time = |field: &str| status[field].as_str().and_then(|time| time.parse::<jiff::Timestamp>().ok());
    if let (Some(start), Some(end)) = (time("startTime"), time("completionTime")) {
        let _ = writeln!(out, "Duration:\t{}", common::durations::human_duration(end.as_second() - start.as_second()));
    }
    if !spec["activeDeadlineSeconds"].is_null() {
        let _ = writeln!(out, "Active Deadline Seconds:\t{}s", text(&spec["activeDeadlineSeconds"]));
    }
    let count = |field: &str| status[field].as_i64().unwrap_or(0);
    let active = match status["ready"].as_i64() {
        None => format!("{} Active", count("active")),
        Some(ready) => format!("{} Active ({ready} Ready)", count("active")),
    };
    let _ = writeln!(out, "Pods Statuses:\t{active} / {} Succeeded / {} Failed", count("succeeded"), count("failed"));
    if spec["completionMode"] == "Indexed" {
        let _ = writeln!(out, "Completed Indexes:\t{}", capped_indexes(status["completedIndexes"].as_str().unwrap_or_default()));
    }
    out.push_str(&pod_template::describe(&spec["template"]));
    events_section(&mut out, &context.events);
    out
}

/// `capIndexesListOrNone` with kubectl's soft limit of 50 characters, cut after a comma.
fn capped_indexes(indexes: &str) -> String {
    if indexes.is_empty() {
        return "<none>".into();
    }
    match indexes.bytes().enumerate().skip(50).find(|(_, byte)| *byte == b',') {
        Some((at, _)) => format!("{}...", &indexes[..=at]),
        None => indexes.to_string(),
    }
}

pub fn cron_job(context: &Context) -> String {
    let cron_job = &context.object;
    let (spec, status) = (&cron_job["spec"], &cron_job["status"]);
    let mut out = String::new();
    header(&mut out, cron_job, true);
    let _ = writeln!(out, "Schedule:\t{}", text(&spec["schedule"]));
    let _ = writeln!(out, "Concurrency Policy:\t{}", text(&spec["concurrencyPolicy"]));
    let suspend = match spec["suspend"].as_bool() {
        None => "<unset>",
        Some(true) => "True",
        Some(false) => "False",
    };
    let _ = writeln!(out, "Suspend:\t{suspend}");
    let _ = writeln!(out, "Successful Job History Limit:\t{}", or_unset(&spec["successfulJobsHistoryLimit"]));
    let _ = writeln!(out, "Failed Job History Limit:\t{}", or_unset(&spec["failedJobsHistoryLimit"]));
    let deadline = &spec["startingDeadlineSeconds"];
    let _ = writeln!(out, "Starting Deadline Seconds:\t{}", if deadline.is_null() { "<unset>".into() } else { format!("{}s", text(deadline)) });
    let template = &spec["jobTemplate"]["spec"];
    let selected = if template["selector"].is_null() { "<unset>".into() } else { selector(&template["selector"]) };
    let _ = writeln!(out, "Selector:\t{selected}");
    let _ = writeln!(out, "Parallelism:\t{}", or_unset(&template["parallelism"]));
    let _ = writeln!(out, "Completions:\t{}", or_unset(&template["completions"]));
    if !template["activeDeadlineSeconds"].is_null() {
        let _ = writeln!(out, "Active Deadline Seconds:\t{}s", text(&template["activeDeadlineSeconds"]));
    }
    out.push_str(&pod_template::describe(&template["template"]));
    let last = if status["lastScheduleTime"].is_string() { rfc1123z(&status["lastScheduleTime"]) } else { "<unset>".into() };
    let _ = writeln!(out, "Last Schedule Time:\t{last}");
    let active: Vec<String> = status["active"].as_array().into_iter().flatten().map(|job| text(&job["name"])).collect();
    let _ = writeln!(out, "Active Jobs:\t{}", if active.is_empty() { "<none>".into() } else { active.join(", ") });
    events_section(&mut out, &context.events);
    out
}
