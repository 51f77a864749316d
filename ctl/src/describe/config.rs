//! kubectl's describers of ConfigMaps, Secrets and Namespaces.

use std::fmt::Write;

use serde_json::Value;

use super::{Context, events_section, header};
use crate::CtlError;
use crate::discovery::get_json;
use crate::pod_template::rfc1123z;

pub fn config_map(context: &Context) -> String {
    let object = &context.object;
    let mut out = String::new();
    header(&mut out, object, true);
    out.push_str("\nData\n====\n");
    for (key, value) in object["data"].as_object().into_iter().flatten() {
        let _ = write!(out, "{key}:\n----\n{}\n\n", value.as_str().unwrap_or_default());
    }
    out.push_str("\nBinaryData\n====\n");
    for (key, value) in object["binaryData"].as_object().into_iter().flatten() {
        let _ = writeln!(out, "{key}: {} bytes", decoded_length(value));
    }
    out.push('\n');
    events_section(&mut out, &context.events);
    out
}

/// The length of base64 data (as the API sends bytes) once decoded.
fn decoded_length(value: &Value) -> usize {
    let text = value.as_str().unwrap_or_default().trim_end_matches('=');
    text.len() * 3 / 4
}

/// `describeSecret`: the sizes of the values, never the values (but a service account token's).
pub fn secret(context: &Context) -> String {
    let object = &context.object;
    let kind = object["type"].as_str().unwrap_or_default();
    let mut out = String::new();
    header(&mut out, object, true);
    let _ = write!(out, "\nType:\t{kind}\n\nData\n====\n");
    for (key, value) in object["data"].as_object().into_iter().flatten() {
        if key == "token" && kind == "kubernetes.io/service-account-token" {
            let token = base64_decode(value.as_str().unwrap_or_default());
            let _ = writeln!(out, "{key}:\t{}", String::from_utf8_lossy(&token));
        } else {
            let _ = writeln!(out, "{key}:\t{} bytes", decoded_length(value));
        }
    }
    out
}

fn base64_decode(text: &str) -> Vec<u8> {
    let value = |char: u8| match char {
        b'A'..=b'Z' => Some(char - b'A'),
        b'a'..=b'z' => Some(char - b'a' + 26),
        b'0'..=b'9' => Some(char - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    };
    let sextets: Vec<u8> = text.bytes().filter_map(value).collect();
    let mut bytes = Vec::new();
    for chunk in sextets.chunks(4) {
        let joined = chunk.iter().enumerate().fold(0u32, |sum, (index, sextet)| sum | (u32::from(*sextet) << (18 - 6 * index)));
        for index in 0..chunk.len().saturating_sub(1) {
            bytes.push((joined >> (16 - 8 * index)) as u8);
        }
    }
    bytes
}

/// `describeNamespace`: status, conditions, then the namespace's quotas and limit ranges.
pub async fn namespace(context: &Context<'_>) -> Result<String, CtlError> {
    let object = &context.object;
    let name = object["metadata"]["name"].as_str().unwrap_or_default();
    let text = |value: &Value| value.as_str().unwrap_or_default().to_string();
    let mut out = String::new();
    header(&mut out, object, false);
    let _ = writeln!(out, "Status:\t{}", text(&object["status"]["phase"]));
    if let Some(conditions) = object["status"]["conditions"].as_array().filter(|conditions| !conditions.is_empty()) {
        out.push_str("Conditions:\n  Type\tStatus\tLastTransitionTime\tReason\tMessage\n  ----\t------\t------------------\t------\t-------\n");
        for condition in conditions {
            let _ = writeln!(
                out,
                "  {}\t{}\t{}\t{}\t{}",
                text(&condition["type"]),
                text(&condition["status"]),
                rfc1123z(&condition["lastTransitionTime"]),
                text(&condition["reason"]),
                text(&condition["message"])
            );
        }
    }
    let quotas = get_json(context.client, &format!("/api/v1/namespaces/{name}/resourcequotas"), "application/json").await?;
    out.push('\n');
    resource_quotas(&mut out, &quotas);
    let limits = get_json(context.client, &format!("/api/v1/namespaces/{name}/limitranges"), "application/json").await?;
    out.push('\n');
    match limits["items"].as_array().filter(|items| !items.is_empty()) {
        None => out.push_str("No LimitRange resource.\n"),
        Some(ranges) => limit_ranges(&mut out, ranges),
    }
    Ok(out)
}

/// `DescribeResourceQuotas`, sorted by name, each resource's used and hard amounts.
fn resource_quotas(out: &mut String, quotas: &Value) {
    let Some(quotas) = quotas["items"].as_array().filter(|items| !items.is_empty()) else {
        out.push_str("No resource quota.\n");
        return;
    };
    let mut quotas = quotas.clone();
    quotas.sort_by_key(|quota| quota["metadata"]["name"].as_str().unwrap_or_default().to_string());
    out.push_str("Resource Quotas\n");
    for quota in &quotas {
        let _ = writeln!(out, "  Name:\t{}", quota["metadata"]["name"].as_str().unwrap_or_default());
        scopes(out, "  ", "", quota);
        out.push_str("  Resource\tUsed\tHard\n  --------\t---\t---\n");
        for (resource, hard) in quota["status"]["hard"].as_object().into_iter().flatten() {
            let used = quota["status"]["used"].get(resource).map_or("0".to_string(), quantity);
            let _ = writeln!(out, "  {resource}\t{used}\t{}", quantity(hard));
        }
    }
}

/// `DescribeLimitRanges`: one row per limit type and resource.
fn limit_ranges(out: &mut String, ranges: &[Value]) {
    out.push_str("Resource Limits\n Type\tResource\tMin\tMax\tDefault Request\tDefault Limit\tMax Limit/Request Ratio\n");
    out.push_str(" ----\t--------\t---\t---\t---------------\t-------------\t-----------------------\n");
    for range in ranges {
        limit_rows(out, " ", range);
    }
}

/// `describeLimitRangeSpec`: a row per limit type and resource (kubectl's order is a Go map's,
/// so none in particular; sorted here), `-` where a value is not set.
fn limit_rows(out: &mut String, prefix: &str, range: &Value) {
    for limit in range["spec"]["limits"].as_array().into_iter().flatten() {
        let fields = ["min", "max", "defaultRequest", "default", "maxLimitRequestRatio"];
        let mut resources: Vec<&String> = fields.iter().flat_map(|field| limit[*field].as_object().into_iter().flatten().map(|(name, _)| name)).collect();
        resources.sort();
        resources.dedup();
        for resource in resources {
            let cell = |field: &str| limit[field].get(resource.as_str()).map_or("-".to_string(), quantity);
            let _ = writeln!(
                out,
                "{prefix}{}\t{resource}\t{}\t{}\t{}\t{}\t{}",
                limit["type"].as_str().unwrap_or_default(),
                cell("min"),
                cell("max"),
                cell("defaultRequest"),
                cell("default"),
                cell("maxLimitRequestRatio")
            );
        }
    }
}

/// A quantity as Go's `Quantity.String()` prints it (canonical).
fn quantity(value: &Value) -> String {
    let raw = value.as_str().unwrap_or_default();
    common::quantity::parse(raw).map_or(raw.to_string(), |quantity| quantity.to_string())
}

/// `describeLimitRange`.
pub fn limit_range(context: &Context) -> String {
    let range = &context.object;
    let mut out = String::new();
    let _ = writeln!(out, "Name:\t{}\nNamespace:\t{}", range["metadata"]["name"].as_str().unwrap_or_default(), range["metadata"]["namespace"].as_str().unwrap_or_default());
    out.push_str("Type\tResource\tMin\tMax\tDefault Request\tDefault Limit\tMax Limit/Request Ratio\n");
    out.push_str("----\t--------\t---\t---\t---------------\t-------------\t-----------------------\n");
    limit_rows(&mut out, "", range);
    out
}

/// A quota's sorted scopes, each with kubectl's help text, after `indent`; `bullet` before `*`.
fn scopes(out: &mut String, indent: &str, bullet: &str, quota: &Value) {
    let mut scopes: Vec<&str> = quota["spec"]["scopes"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
    if scopes.is_empty() {
        return;
    }
    scopes.sort_unstable();
    let _ = writeln!(out, "{indent}Scopes:\t{}", scopes.join(", "));
    for scope in scopes {
        let help = match scope {
            "Terminating" => "Matches all pods that have an active deadline. These pods have a limited lifespan on a node before being actively terminated by the system.",
            "NotTerminating" => "Matches all pods that do not have an active deadline. These pods usually include long running pods whose container command is not expected to terminate.",
            "BestEffort" => "Matches all pods that do not have resource requirements set. These pods have a best effort quality of service.",
            "NotBestEffort" => "Matches all pods that have at least one resource requirement set. These pods have a burstable or guaranteed quality of service.",
            _ => continue,
        };
        let _ = writeln!(out, "{indent}{bullet}* {help}");
    }
}

/// `describeQuota`: the scopes with kubectl's help for each, then used and hard amounts.
pub fn resource_quota(context: &Context) -> String {
    let quota = &context.object;
    let mut out = String::new();
    let _ = writeln!(out, "Name:\t{}\nNamespace:\t{}", quota["metadata"]["name"].as_str().unwrap_or_default(), quota["metadata"]["namespace"].as_str().unwrap_or_default());
    scopes(&mut out, "", " ", quota);
    out.push_str("Resource\tUsed\tHard\n--------\t----\t----\n");
    let status = &quota["status"];
    for (resource, hard) in status["hard"].as_object().into_iter().flatten() {
        let used = status["used"].get(resource).map_or("0".to_string(), quantity);
        let _ = writeln!(out, "{resource}\t{used}\t{}", quantity(hard));
    }
    out
}

/// `describeServiceAccount`: its image pull, mountable and token secrets, each marked when it
/// does not exist.
pub async fn service_account(context: &Context<'_>) -> String {
    let account = &context.object;
    let metadata = &account["metadata"];
    let path = format!("/api/v1/namespaces/{}/secrets", metadata["namespace"].as_str().unwrap_or_default());
    // Errors are tolerated as in kubectl: the secrets are then shown without checking them.
    let secrets = get_json(context.client, &path, "application/json").await.ok();
    let existing: Option<Vec<&Value>> = secrets.as_ref().map(|list| list["items"].as_array().into_iter().flatten().collect());
    let names = |field: &str| -> Vec<String> { account[field].as_array().into_iter().flatten().map(|entry| entry["name"].as_str().unwrap_or_default().to_string()).collect() };
    let tokens: Vec<String> = existing
        .iter()
        .flatten()
        .filter(|secret| {
            let annotations = &secret["metadata"]["annotations"];
            secret["type"] == "kubernetes.io/service-account-token"
                && annotations["kubernetes.io/service-account.name"] == metadata["name"]
                && annotations["kubernetes.io/service-account.uid"] == metadata["uid"]
        })
        .map(|secret| secret["metadata"]["name"].as_str().unwrap_or_default().to_string())
        .collect();
    let missing = |name: &str| existing.as_ref().is_some_and(|secrets| !secrets.iter().any(|secret| secret["metadata"]["name"] == name));
    let mut out = String::new();
    header(&mut out, account, true);
    for (heading, list) in [("Image pull secrets:", names("imagePullSecrets")), ("Mountable secrets: ", names("secrets")), ("Tokens:            ", tokens)] {
        if list.is_empty() {
            let _ = writeln!(out, "{heading}\t<none>");
            continue;
        }
        for (index, name) in list.iter().enumerate() {
            let prefix = if index == 0 { heading } else { "                   " };
            let note = if heading != "Tokens:            " && missing(name) { " (not found)" } else { "" };
            let _ = writeln!(out, "{prefix}\t{name}{note}");
        }
    }
    events_section(&mut out, &context.events);
    out
}
