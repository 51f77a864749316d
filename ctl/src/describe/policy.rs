//! kubectl's describers of PriorityClasses and PodDisruptionBudgets.

use std::fmt::Write;


use super::{Context, events_section, text};
use crate::pod_template::format_label_selector;

pub fn priority_class(context: &Context) -> String {
    let class = &context.object;
    let mut out = String::new();
    let _ = writeln!(out, "Name:\t{}", text(&class["metadata"]["name"]));
    let _ = writeln!(out, "Value:\t{}", class["value"].as_i64().unwrap_or(0));
    let _ = writeln!(out, "GlobalDefault:\t{}", class["globalDefault"].as_bool().unwrap_or(false));
    let _ = writeln!(out, "PreemptionPolicy:\t{}", text(&class["preemptionPolicy"]));
    let _ = writeln!(out, "Description:\t{}", text(&class["description"]));
    let _ = writeln!(out, "Annotations:\t{}", super::service::format_labels(&class["metadata"]["annotations"]));
    events_section(&mut out, &context.events);
    out
}

pub fn disruption_budget(context: &Context) -> String {
    let budget = &context.object;
    let (spec, status) = (&budget["spec"], &budget["status"]);
    let mut out = String::new();
    let _ = writeln!(out, "Name:\t{}\nNamespace:\t{}", text(&budget["metadata"]["name"]), text(&budget["metadata"]["namespace"]));
    if !spec["minAvailable"].is_null() {
        let _ = writeln!(out, "Min available:\t{}", text(&spec["minAvailable"]));
    } else if !spec["maxUnavailable"].is_null() {
        let _ = writeln!(out, "Max unavailable:\t{}", text(&spec["maxUnavailable"]));
    }
    let selector = if spec["selector"].is_null() { "<unset>".to_string() } else { format_label_selector(&spec["selector"]) };
    let _ = writeln!(out, "Selector:\t{selector}");
    let count = |field: &str| status[field].as_i64().unwrap_or(0);
    let _ = write!(
        out,
        "Status:\n    Allowed disruptions:\t{}\n    Current:\t{}\n    Desired:\t{}\n    Total:\t{}\n",
        count("disruptionsAllowed"),
        count("currentHealthy"),
        count("desiredHealthy"),
        count("expectedPods")
    );
    events_section(&mut out, &context.events);
    out
}
