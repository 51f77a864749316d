//! kubectl's describer of HorizontalPodAutoscalers (autoscaling/v2).

use std::fmt::Write;

use serde_json::Value;

use super::{Context, events_section, header, text};
use crate::discovery::get_json;
use crate::pod_template::rfc1123z;

/// A quantity as Go's `Quantity.String()`: canonical, `0` when absent.
fn quantity(value: &Value) -> String {
    match value.as_str() {
        None => "0".into(),
        Some(raw) => common::quantity::parse(raw).map_or(raw.to_string(), |quantity| quantity.to_string()),
    }
}

pub async fn horizontal_pod_autoscaler(context: &Context<'_>) -> String {
    // kubectl reads autoscaling/v2 whatever version discovery prefers.
    let metadata = &context.object["metadata"];
    let path = format!("/apis/autoscaling/v2/namespaces/{}/horizontalpodautoscalers/{}", text(&metadata["namespace"]), text(&metadata["name"]));
    let hpa = get_json(context.client, &path, "application/json").await.unwrap_or_else(|_| context.object.clone());
    let (spec, status) = (&hpa["spec"], &hpa["status"]);
    let mut out = String::new();
    header(&mut out, &hpa, true);
    let _ = writeln!(out, "CreationTimestamp:\t{}", rfc1123z(&hpa["metadata"]["creationTimestamp"]));
    let target = &spec["scaleTargetRef"];
    let _ = writeln!(out, "Reference:\t{}/{}", text(&target["kind"]), text(&target["name"]));
    out.push_str("Metrics:\t( current / target )\n");
    let current = status["currentMetrics"].as_array().map(Vec::as_slice).unwrap_or_default();
    for (index, metric) in spec["metrics"].as_array().into_iter().flatten().enumerate() {
        metric_line(&mut out, metric, current.get(index).unwrap_or(&Value::Null));
    }
    let minimum = spec["minReplicas"].as_i64().map_or("<unset>".to_string(), |minimum| minimum.to_string());
    let _ = writeln!(out, "Min replicas:\t{minimum}\nMax replicas:\t{}", spec["maxReplicas"].as_i64().unwrap_or(0));
    if spec["behavior"].is_object() {
        out.push_str("Behavior:\n");
        direction(&mut out, "Scale Up", &spec["behavior"]["scaleUp"]);
        direction(&mut out, "Scale Down", &spec["behavior"]["scaleDown"]);
    }
    let count = |field: &str| status[field].as_i64().unwrap_or(0);
    let _ = writeln!(out, "{} pods:\t{} current / {} desired", text(&target["kind"]), count("currentReplicas"), count("desiredReplicas"));
    if let Some(conditions) = status["conditions"].as_array().filter(|conditions| !conditions.is_empty()) {
        out.push_str("Conditions:\n  Type\tStatus\tReason\tMessage\n  ----\t------\t------\t-------\n");
        for condition in conditions {
            let _ = writeln!(out, "  {}\t{}\t{}\t{}", text(&condition["type"]), text(&condition["status"]), text(&condition["reason"]), text(&condition["message"]));
        }
    }
    events_section(&mut out, &context.events);
    out
}

/// One metric's `current / target` line; `current` is the status entry at the same index.
fn metric_line(out: &mut String, metric: &Value, current: &Value) {
    let unknown = || "<unknown>".to_string();
    match metric["type"].as_str().unwrap_or_default() {
        "External" => {
            let (source, now) = (&metric["external"], &current["external"]);
            let name = text(&source["metric"]["name"]);
            if !source["target"]["averageValue"].is_null() {
                let value = if now["current"]["averageValue"].is_null() { unknown() } else { quantity(&now["current"]["averageValue"]) };
                let _ = writeln!(out, "  {name:?} (target average value):\t{value} / {}", quantity(&source["target"]["averageValue"]));
            } else {
                let value = if now.is_object() { quantity(&now["current"]["value"]) } else { unknown() };
                let _ = writeln!(out, "  {name:?} (target value):\t{value} / {}", quantity(&source["target"]["value"]));
            }
        }
        "Pods" => {
            let (source, now) = (&metric["pods"], &current["pods"]);
            let value = if now.is_object() { quantity(&now["current"]["averageValue"]) } else { unknown() };
            let _ = writeln!(out, "  {:?} on pods:\t{value} / {}", text(&source["metric"]["name"]), quantity(&source["target"]["averageValue"]));
        }
        "Object" => {
            let (source, now) = (&metric["object"], &current["object"]);
            let described = &source["describedObject"];
            let _ = write!(out, "  \"{}\" on {}/{} ", text(&source["metric"]["name"]), text(&described["kind"]), text(&described["name"]));
            let (field, label) = if source["target"]["type"] == "AverageValue" { ("averageValue", "target average value") } else { ("value", "target value") };
            let value = if now.is_object() { quantity(&now["current"][field]) } else { unknown() };
            let _ = writeln!(out, "({label}):\t{value} / {}", quantity(&source["target"][field]));
        }
        kind @ ("Resource" | "ContainerResource") => {
            let field = if kind == "Resource" { "resource" } else { "containerResource" };
            let (source, now) = (&metric[field], &current[field]);
            if kind == "Resource" {
                let _ = write!(out, "  resource {} on pods", text(&source["name"]));
            } else {
                let _ = write!(out, "  resource {} of container \"{}\" on pods", text(&source["name"]), text(&source["container"]));
            }
            if !source["target"]["averageValue"].is_null() {
                let value = if now.is_object() { quantity(&now["current"]["averageValue"]) } else { unknown() };
                let _ = writeln!(out, ":\t{value} / {}", quantity(&source["target"]["averageValue"]));
            } else {
                let value = match now["current"]["averageUtilization"].as_i64() {
                    Some(percent) if now.is_object() => format!("{percent}% ({})", quantity(&now["current"]["averageValue"])),
                    _ => unknown(),
                };
                let target = source["target"]["averageUtilization"].as_i64().map_or("<auto>".to_string(), |percent| format!("{percent}%"));
                let _ = writeln!(out, "  (as a percentage of request):\t{value} / {target}");
            }
        }
        other => {
            let _ = writeln!(out, "  <unknown metric type {other:?}>");
        }
    }
}

/// `printDirectionBehavior`.
fn direction(out: &mut String, heading: &str, rules: &Value) {
    if !rules.is_object() {
        return;
    }
    let _ = writeln!(out, "  {heading}:");
    if let Some(window) = rules["stabilizationWindowSeconds"].as_i64() {
        let _ = writeln!(out, "    Stabilization Window: {window} seconds");
    }
    if let Some(policies) = rules["policies"].as_array().filter(|policies| !policies.is_empty()) {
        let _ = writeln!(out, "    Select Policy: {}", rules["selectPolicy"].as_str().unwrap_or("Max"));
        out.push_str("    Policies:\n");
        for policy in policies {
            let _ = writeln!(
                out,
                "      - Type: {}\tValue: {}\tPeriod: {} seconds",
                text(&policy["type"]),
                policy["value"].as_i64().unwrap_or(0),
                policy["periodSeconds"].as_i64().unwrap_or(0)
            );
        }
    }
}
