//! Which nodes a pod may run on, as the scheduler, the DaemonSet controller and the taint manager
//! all judge it: tolerations against taints (`v1helper.ToleratesTaint`), and the pod's
//! `nodeSelector` and required node affinity against a node's labels and name
//! (`component-helpers`' `nodeaffinity`).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{NodeSelectorRequirement, NodeSelectorTerm, PodSpec, Taint, Toleration};

/// Whether `toleration` tolerates `taint` (`Toleration.ToleratesTaint`): an empty effect or key
/// matches any, `Exists` ignores the value, an empty operator is `Equal`, an unknown one matches
/// nothing.
pub fn tolerates(toleration: &Toleration, taint: &Taint) -> bool {
    let effect = toleration.effect.as_deref().unwrap_or_default();
    if !effect.is_empty() && effect != taint.effect {
        return false;
    }
    let key = toleration.key.as_deref().unwrap_or_default();
    if !key.is_empty() && key != taint.key {
        return false;
    }
    match toleration.operator.as_deref().unwrap_or_default() {
        "" | "Equal" => toleration.value.as_deref().unwrap_or_default() == taint.value.as_deref().unwrap_or_default(),
        "Exists" => true,
        _ => false,
    }
}

/// Whether any of `tolerations` tolerates `taint` (`v1helper.TolerationsTolerateTaint`).
pub fn tolerations_tolerate(tolerations: &[Toleration], taint: &Taint) -> bool {
    tolerations.iter().any(|toleration| tolerates(toleration, taint))
}

/// The pod's `nodeSelector` and required node affinity both match the node with these labels
/// and name (`nodeaffinity.GetRequiredNodeAffinity(pod).Match(node)`).
pub fn required_node_affinity_matches(spec: &PodSpec, labels: &BTreeMap<String, String>, name: &str) -> bool {
    let selector_fits = spec.node_selector.iter().flatten().all(|(key, value)| labels.get(key) == Some(value));
    let required = spec
        .affinity
        .as_ref()
        .and_then(|affinity| affinity.node_affinity.as_ref())
        .and_then(|affinity| affinity.required_during_scheduling_ignored_during_execution.as_ref());
    selector_fits && required.is_none_or(|selector| selector.node_selector_terms.iter().any(|term| node_selector_term_matches(term, labels, name)))
}

/// A node selector term: every label expression and every field requirement holds. A term with
/// neither matches nothing, and so does one Kubernetes cannot parse (In or NotIn without values,
/// Exists or DoesNotExist with some, Gt or Lt without exactly one integer, an unknown operator;
/// fields only with In or NotIn and exactly one value), as `nodeSelectorTerm.match` returns
/// false on a parse error.
pub fn node_selector_term_matches(term: &NodeSelectorTerm, labels: &BTreeMap<String, String>, name: &str) -> bool {
    let expressions = term.match_expressions.as_deref().unwrap_or_default();
    let fields = term.match_fields.as_deref().unwrap_or_default();
    if expressions.is_empty() && fields.is_empty() {
        return false;
    }
    let labels_fit = expressions.iter().all(|requirement| label_requirement_matches(requirement, labels.get(&requirement.key).map(String::as_str)));
    // The only field a node has is `metadata.name` (and none when it has no name, which
    // Kubernetes then does not check at all); other keys read as empty.
    let fields_fit = fields.iter().all(|requirement| {
        let value = if requirement.key == "metadata.name" { name } else { "" };
        match (requirement.operator.as_str(), requirement.values.as_deref().unwrap_or_default()) {
            ("In", [wanted]) => name.is_empty() || value == wanted,
            ("NotIn", [unwanted]) => name.is_empty() || value != unwanted,
            _ => false,
        }
    });
    labels_fit && fields_fit
}

/// A label requirement on a value that may be absent (`nodeSelectorRequirementsAsSelector`, then
/// `labels.Requirement.Matches`); a malformed one matches nothing.
fn label_requirement_matches(requirement: &NodeSelectorRequirement, value: Option<&str>) -> bool {
    let values = requirement.values.as_deref().unwrap_or_default();
    let bound = || match values {
        [only] => only.parse::<i64>().ok(),
        _ => None,
    };
    let number = || value.and_then(|value| value.parse::<i64>().ok());
    match requirement.operator.as_str() {
        "In" => !values.is_empty() && value.is_some_and(|value| values.iter().any(|wanted| wanted == value)),
        "NotIn" => !values.is_empty() && value.is_none_or(|value| !values.iter().any(|wanted| wanted == value)),
        "Exists" => values.is_empty() && value.is_some(),
        "DoesNotExist" => values.is_empty() && value.is_none(),
        "Gt" => matches!((number(), bound()), (Some(have), Some(bound)) if have > bound),
        "Lt" => matches!((number(), bound()), (Some(have), Some(bound)) if have < bound),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn toleration(value: Value) -> Toleration {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn tolerations_match_as_kubernetes_matches_them() {
        let valued = Taint { key: "gpu".into(), value: Some("a100".into()), effect: "NoSchedule".into(), time_added: None };
        let bare = Taint { key: "node.kubernetes.io/unreachable".into(), value: None, effect: "NoExecute".into(), time_added: None };
        let rows = [
            (json!({"key": "gpu", "operator": "Exists"}), &valued, true),
            (json!({"key": "gpu", "value": "a100"}), &valued, true),
            (json!({"key": "gpu", "operator": "", "value": "a100"}), &valued, true),
            (json!({"key": "gpu", "operator": "Equal", "value": "a100", "effect": "NoSchedule"}), &valued, true),
            (json!({"operator": "Exists"}), &valued, true),
            (json!({"operator": "Exists"}), &bare, true),
            (json!({"key": "gpu", "value": "h100"}), &valued, false),
            (json!({"key": "gpu"}), &valued, false),
            (json!({"key": "gpu", "operator": "Exists", "effect": "NoExecute"}), &valued, false),
            (json!({"key": "cpu", "operator": "Exists"}), &valued, false),
            (json!({"key": "gpu", "operator": "Bogus"}), &valued, false),
            (json!({"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"}), &bare, true),
            (json!({"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoSchedule"}), &bare, false),
            (json!({"key": "node.kubernetes.io/unreachable"}), &bare, true),
        ];
        for (row, taint, expected) in rows {
            assert_eq!(tolerates(&toleration(row.clone()), taint), expected, "{row}");
        }
        assert!(tolerations_tolerate(&[toleration(json!({"key": "cpu", "operator": "Exists"})), toleration(json!({"key": "gpu", "operator": "Exists"}))], &valued));
        assert!(!tolerations_tolerate(&[], &valued));
    }

    #[test]
    fn terms_match_labels_and_the_name_with_every_operator() {
        let labels: BTreeMap<String, String> = [("role", "worker"), ("cores", "8")].into_iter().map(|(key, value)| (key.into(), value.into())).collect();
        let term = |value: Value| -> NodeSelectorTerm { serde_json::from_value(value).unwrap() };
        let rows = [
            (json!({"matchExpressions": [{"key": "role", "operator": "In", "values": ["worker", "edge"]}]}), true),
            (json!({"matchExpressions": [{"key": "role", "operator": "NotIn", "values": ["worker"]}]}), false),
            (json!({"matchExpressions": [{"key": "zone", "operator": "NotIn", "values": ["a"]}]}), true),
            (json!({"matchExpressions": [{"key": "zone", "operator": "NotIn", "values": []}]}), false),
            (json!({"matchExpressions": [{"key": "role", "operator": "Exists"}]}), true),
            (json!({"matchExpressions": [{"key": "role", "operator": "Exists", "values": ["worker"]}]}), false),
            (json!({"matchExpressions": [{"key": "role", "operator": "DoesNotExist"}]}), false),
            (json!({"matchExpressions": [{"key": "zone", "operator": "DoesNotExist"}]}), true),
            (json!({"matchExpressions": [{"key": "cores", "operator": "Gt", "values": ["4"]}]}), true),
            (json!({"matchExpressions": [{"key": "cores", "operator": "Gt", "values": ["4", "5"]}]}), false),
            (json!({"matchExpressions": [{"key": "cores", "operator": "Gt", "values": ["four"]}]}), false),
            (json!({"matchExpressions": [{"key": "role", "operator": "Gt", "values": ["4"]}]}), false),
            (json!({"matchExpressions": [{"key": "cores", "operator": "Lt", "values": ["4"]}]}), false),
            (json!({"matchExpressions": [{"key": "cores", "operator": "Lt", "values": ["10"]}]}), true),
            (json!({"matchExpressions": [{"key": "role", "operator": "In", "values": []}]}), false),
            (json!({"matchExpressions": [{"key": "role", "operator": "Bogus", "values": ["worker"]}]}), false),
            (json!({"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["w1"]}]}), true),
            (json!({"matchFields": [{"key": "metadata.name", "operator": "NotIn", "values": ["w1"]}]}), false),
            (json!({"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["w1", "w2"]}]}), false),
            (json!({"matchFields": [{"key": "metadata.name", "operator": "Exists"}]}), false),
            (json!({"matchExpressions": [{"key": "role", "operator": "Exists"}], "matchFields": [{"key": "metadata.name", "operator": "In", "values": ["w2"]}]}), false),
            (json!({}), false),
        ];
        for (row, expected) in rows {
            assert_eq!(node_selector_term_matches(&term(row.clone()), &labels, "w1"), expected, "{row}");
        }
    }

    #[test]
    fn required_affinity_needs_the_selector_and_one_term() {
        let labels: BTreeMap<String, String> = [("role".to_string(), "worker".to_string())].into();
        let spec = |value: Value| -> PodSpec { serde_json::from_value(value).unwrap() };
        let affinity = |terms: Value| json!({"containers": [], "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": terms}}}});
        let rows = [
            (json!({"containers": []}), true),
            (json!({"containers": [], "nodeSelector": {"role": "worker"}}), true),
            (json!({"containers": [], "nodeSelector": {"role": "db"}}), false),
            // Terms are ORed; an empty term matches nothing.
            (affinity(json!([{}, {"matchExpressions": [{"key": "role", "operator": "In", "values": ["db"]}]}])), false),
            (affinity(json!([{"matchExpressions": [{"key": "role", "operator": "In", "values": ["db"]}]}, {"matchExpressions": [{"key": "role", "operator": "Exists"}]}])), true),
            (affinity(json!([])), false),
        ];
        for (row, expected) in rows {
            assert_eq!(required_node_affinity_matches(&spec(row.clone()), &labels, "w1"), expected, "{row}");
        }
    }
}
