//! kubectl's describers of RoleBindings and ClusterRoleBindings.

use std::fmt::Write;

use serde_json::Value;

use super::Context;

/// The role a binding grants, then its subjects; no events, as in kubectl.
pub fn binding(context: &Context) -> String {
    let binding = &context.object;
    let text = |value: &Value| value.as_str().unwrap_or_default().to_string();
    let mut out = String::new();
    let _ = writeln!(out, "Name:\t{}", text(&binding["metadata"]["name"]));
    crate::pod_template::multiline_labels(&mut out, "Labels", &binding["metadata"]["labels"]);
    crate::pod_template::multiline_annotations(&mut out, "Annotations", &binding["metadata"]["annotations"]);
    let _ = writeln!(out, "Role:\n  Kind:\t{}\n  Name:\t{}", text(&binding["roleRef"]["kind"]), text(&binding["roleRef"]["name"]));
    out.push_str("Subjects:\n  Kind\tName\tNamespace\n  ----\t----\t---------\n");
    for subject in binding["subjects"].as_array().into_iter().flatten() {
        let _ = writeln!(out, "  {}\t{}\t{}", text(&subject["kind"]), text(&subject["name"]), text(&subject["namespace"]));
    }
    out
}
