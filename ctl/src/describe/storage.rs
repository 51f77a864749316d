//! kubectl's describer of PersistentVolumeClaims, and the claim fields StatefulSets share.

use std::fmt::Write;

use serde_json::Value;

use super::{Context, conditions_table, events_section, text};
use crate::CtlError;
use crate::discovery::get_json;
use crate::pod_template::{multiline_annotations, multiline_labels};

/// `GetPersistentVolumeClaimClass`: the beta annotation first, then the field.
pub fn claim_class(claim: &Value) -> String {
    claim["metadata"]["annotations"]["volume.beta.kubernetes.io/storage-class"].as_str().map_or_else(|| text(&claim["spec"]["storageClassName"]), str::to_string)
}

/// A string list as Go's `%v` prints it: `[a b]`.
pub fn go_list(list: &Value) -> String {
    let words: Vec<String> = list.as_array().into_iter().flatten().map(text).collect();
    format!("[{}]", words.join(" "))
}

/// Access modes as Go's `%s` prints the list in claim templates.
pub fn access_modes(modes: &Value) -> String {
    go_list(modes)
}

/// `GetAccessModesAsString`: `RWO,ROX,RWX,RWOP` for the modes present.
fn short_access_modes(modes: &Value) -> String {
    let modes: Vec<&str> = modes.as_array().into_iter().flatten().filter_map(Value::as_str).collect();
    [("ReadWriteOnce", "RWO"), ("ReadOnlyMany", "ROX"), ("ReadWriteMany", "RWX"), ("ReadWriteOncePod", "RWOP")]
        .iter()
        .filter(|(mode, _)| modes.contains(mode))
        .map(|(_, short)| *short)
        .collect::<Vec<_>>()
        .join(",")
}

pub async fn claim(context: &Context<'_>) -> Result<String, CtlError> {
    let claim = &context.object;
    let (metadata, spec, status) = (&claim["metadata"], &claim["spec"], &claim["status"]);
    let mut out = String::new();
    let _ = writeln!(out, "Name:\t{}\nNamespace:\t{}", text(&metadata["name"]), text(&metadata["namespace"]));
    let _ = writeln!(out, "StorageClass:\t{}", claim_class(claim));
    if metadata["deletionTimestamp"].is_string() {
        let _ = writeln!(out, "Status:\tTerminating (lasts {})", common::durations::age(metadata["deletionTimestamp"].as_str()));
    } else {
        let _ = writeln!(out, "Status:\t{}", text(&status["phase"]));
    }
    let _ = writeln!(out, "Volume:\t{}", text(&spec["volumeName"]));
    multiline_labels(&mut out, "Labels", &metadata["labels"]);
    multiline_annotations(&mut out, "Annotations", &metadata["annotations"]);
    let _ = writeln!(out, "Finalizers:\t{}", go_list(&metadata["finalizers"]));
    let bound = !text(&spec["volumeName"]).is_empty();
    let (capacity, modes) = if bound { (text(&status["capacity"]["storage"]), short_access_modes(&status["accessModes"])) } else { (String::new(), String::new()) };
    let _ = writeln!(out, "Capacity:\t{capacity}\nAccess Modes:\t{modes}");
    if let Some(mode) = spec["volumeMode"].as_str() {
        let _ = writeln!(out, "VolumeMode:\t{mode}");
    }
    let source = &spec["dataSource"];
    if source.is_object() {
        out.push_str("DataSource:\n");
        if let Some(group) = source["apiGroup"].as_str() {
            let _ = writeln!(out, "  APIGroup:\t{group}");
        }
        let _ = writeln!(out, "  Kind:\t{}\n  Name:\t{}", text(&source["kind"]), text(&source["name"]));
    }
    used_by(&mut out, context).await?;
    if let Some(conditions) = status["conditions"].as_array().filter(|conditions| !conditions.is_empty()) {
        conditions_table(&mut out, conditions, "LastProbeTime", "lastProbeTime");
    }
    events_section(&mut out, &context.events);
    Ok(out)
}

/// `Used By`: the pods of the namespace with a volume of the claim, and the pods owning it.
async fn used_by(out: &mut String, context: &Context<'_>) -> Result<(), CtlError> {
    let claim = &context.object;
    let name = text(&claim["metadata"]["name"]);
    let list = get_json(context.client, &format!("/api/v1/namespaces/{}/pods", text(&claim["metadata"]["namespace"])), "application/json").await?;
    let pods = list["items"].as_array().cloned().unwrap_or_default();
    let owners: Vec<&Value> = claim["metadata"]["ownerReferences"].as_array().into_iter().flatten().filter(|owner| owner["kind"] == "Pod").map(|owner| &owner["uid"]).collect();
    let mut names: Vec<String> = pods
        .iter()
        .filter(|pod| {
            pod["spec"]["volumes"].as_array().into_iter().flatten().any(|volume| volume["persistentVolumeClaim"]["claimName"].as_str() == Some(name.as_str()))
                || owners.contains(&&pod["metadata"]["uid"])
        })
        .map(|pod| text(&pod["metadata"]["name"]))
        .collect();
    names.sort();
    out.push_str("Used By:\t");
    if names.is_empty() {
        out.push_str("<none>\n");
    }
    for (index, name) in names.iter().enumerate() {
        if index > 0 {
            out.push('\t');
        }
        let _ = writeln!(out, "{name}");
    }
    Ok(())
}

/// `describeStorageClass`.
pub fn storage_class(context: &Context) -> String {
    let class = &context.object;
    let annotations = &class["metadata"]["annotations"];
    let default = ["storageclass.kubernetes.io/is-default-class", "storageclass.beta.kubernetes.io/is-default-class"].iter().any(|key| annotations[*key] == "true");
    let mut out = String::new();
    let _ = writeln!(out, "Name:\t{}", text(&class["metadata"]["name"]));
    let _ = writeln!(out, "IsDefaultClass:\t{}", if default { "Yes" } else { "No" });
    let _ = writeln!(out, "Annotations:\t{}", super::service::format_labels(annotations));
    let _ = writeln!(out, "Provisioner:\t{}", text(&class["provisioner"]));
    let _ = writeln!(out, "Parameters:\t{}", super::service::format_labels(&class["parameters"]));
    let expansion = match class["allowVolumeExpansion"].as_bool() {
        None => "<unset>",
        Some(true) => "True",
        Some(false) => "False",
    };
    let _ = writeln!(out, "AllowVolumeExpansion:\t{expansion}");
    match class["mountOptions"].as_array().filter(|options| !options.is_empty()) {
        None => out.push_str("MountOptions:\t<none>\n"),
        Some(options) => {
            out.push_str("MountOptions:\n");
            for option in options {
                let _ = writeln!(out, "  {}", text(option));
            }
        }
    }
    for (field, heading) in [("reclaimPolicy", "ReclaimPolicy"), ("volumeBindingMode", "VolumeBindingMode")] {
        if let Some(value) = class[field].as_str() {
            let _ = writeln!(out, "{heading}:\t{value}");
        }
    }
    events_section(&mut out, &context.events);
    out
}
