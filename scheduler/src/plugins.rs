//! Filter and score plugins after kube-scheduler's defaults. A filter says why a node cannot take
//! a pod, in kube-scheduler's words (they end up in the pod's `FailedScheduling` message); a score
//! ranks the nodes that can, 0 to 100, normalised over the candidates and weighted.

use common::scheduling::{node_selector_term_matches, required_node_affinity_matches, tolerations_tolerate};
use k8s_openapi::api::core::v1::{Taint, Toleration};

use crate::cache::{HostPort, NodeInfo, PodInfo, Resources};

const UNSCHEDULABLE_TAINT: &str = "node.kubernetes.io/unschedulable";

/// Runs the filters in kube-scheduler's order; the first that fails gives the node's reasons.
pub fn filter(pod: &PodInfo, node: &NodeInfo) -> Result<(), Vec<String>> {
    filter_node(pod, node)?;
    fits(pod, node, &node.requested, &node.ports)
}

/// The filters that read the node alone: no pod leaving or coming changes their verdict (kube's
/// `UnschedulableAndUnresolvable`, where preemption cannot help).
pub fn filter_node(pod: &PodInfo, node: &NodeInfo) -> Result<(), Vec<String>> {
    node_unschedulable(pod, node)?;
    node_name(pod, node)?;
    taint_toleration(pod, node)?;
    node_affinity(pod, node)
}

/// NodePorts and NodeResourcesFit against what the node's pods take: its own sums, or those with
/// nominated pods added or preemption victims taken away.
pub fn fits(pod: &PodInfo, node: &NodeInfo, requested: &Resources, ports: &[HostPort]) -> Result<(), Vec<String>> {
    node_ports(pod, ports)?;
    node_resources_fit(pod, node, requested)
}

fn tolerations(pod: &PodInfo) -> &[Toleration] {
    pod.pod.spec.as_ref().and_then(|spec| spec.tolerations.as_deref()).unwrap_or_default()
}

fn node_unschedulable(pod: &PodInfo, node: &NodeInfo) -> Result<(), Vec<String>> {
    if !node.unschedulable {
        return Ok(());
    }
    let taint = Taint { key: UNSCHEDULABLE_TAINT.into(), effect: "NoSchedule".into(), ..Taint::default() };
    if tolerations_tolerate(tolerations(pod), &taint) {
        return Ok(());
    }
    Err(vec!["node(s) were unschedulable".into()])
}

fn node_name(pod: &PodInfo, node: &NodeInfo) -> Result<(), Vec<String>> {
    match pod.node_name() {
        Some(wanted) if wanted != node.name() => Err(vec!["node(s) didn't match the requested node name".into()]),
        _ => Ok(()),
    }
}

fn taint_toleration(pod: &PodInfo, node: &NodeInfo) -> Result<(), Vec<String>> {
    let untolerated = node
        .taints
        .iter()
        .filter(|taint| taint.effect == "NoSchedule" || taint.effect == "NoExecute")
        .find(|taint| !tolerations_tolerate(tolerations(pod), taint));
    match untolerated {
        Some(taint) => Err(vec![format!("node(s) had untolerated taint {{{}: {}}}", taint.key, taint.value.as_deref().unwrap_or_default())]),
        None => Ok(()),
    }
}

fn node_affinity(pod: &PodInfo, node: &NodeInfo) -> Result<(), Vec<String>> {
    let fits = pod.pod.spec.as_ref().is_none_or(|spec| required_node_affinity_matches(spec, &node.labels, node.name()));
    if fits { Ok(()) } else { Err(vec!["node(s) didn't match Pod's node affinity/selector".into()]) }
}

fn node_ports(pod: &PodInfo, ports: &[HostPort]) -> Result<(), Vec<String>> {
    let taken = pod.host_ports.iter().any(|wanted| ports.iter().any(|used| used.conflicts(wanted)));
    if taken { Err(vec!["node(s) didn't have free ports for the requested pod ports".into()]) } else { Ok(()) }
}

fn node_resources_fit(pod: &PodInfo, node: &NodeInfo, requested: &Resources) -> Result<(), Vec<String>> {
    let mut reasons = Vec::new();
    if requested.pods + 1 > node.allocatable.pods {
        reasons.push("Too many pods".to_string());
    }
    if pod.requests.milli_cpu > 0 && pod.requests.milli_cpu > node.allocatable.milli_cpu - requested.milli_cpu {
        reasons.push("Insufficient cpu".to_string());
    }
    if pod.requests.memory > 0 && pod.requests.memory > node.allocatable.memory - requested.memory {
        reasons.push("Insufficient memory".to_string());
    }
    if reasons.is_empty() { Ok(()) } else { Err(reasons) }
}

/// The weights of kube-scheduler's default profile for the scores we have.
const LEAST_ALLOCATED: i64 = 1;
const BALANCED_ALLOCATION: i64 = 1;
const SPREAD: i64 = 2;
const NODE_AFFINITY: i64 = 1;
const TAINT_TOLERATION: i64 = 1;

/// The weighted total of every score plugin for each candidate node, in the candidates' order.
pub fn score(pod: &PodInfo, candidates: &[&NodeInfo]) -> Vec<i64> {
    let mut totals: Vec<i64> = candidates
        .iter()
        .map(|node| LEAST_ALLOCATED * least_allocated(pod, node) + BALANCED_ALLOCATION * balanced_allocation(pod, node))
        .collect();
    // Scores that only mean something relative to the other candidates.
    let spread: Vec<i64> = candidates.iter().map(|node| i64::from(pod.owner.as_ref().and_then(|owner| node.owners.get(owner)).copied().unwrap_or(0))).collect();
    add_normalised(&mut totals, &spread, SPREAD, true);
    let preferred: Vec<i64> = candidates.iter().map(|node| preferred_affinity(pod, node)).collect();
    add_normalised(&mut totals, &preferred, NODE_AFFINITY, false);
    let intolerable: Vec<i64> = candidates.iter().map(|node| prefer_no_schedule_taints(pod, node)).collect();
    add_normalised(&mut totals, &intolerable, TAINT_TOLERATION, true);
    totals
}

/// Scales raw values to 0..100 by the largest (reversed: fewer is better) and adds them weighted.
fn add_normalised(totals: &mut [i64], raw: &[i64], weight: i64, reverse: bool) {
    let max = raw.iter().copied().max().unwrap_or(0);
    for (total, value) in totals.iter_mut().zip(raw) {
        let score = match (max, reverse) {
            (0, true) => 100,
            (0, false) => 0,
            (max, false) => value * 100 / max,
            (max, true) => (max - value) * 100 / max,
        };
        *total += weight * score;
    }
}

/// NodeResourcesFit's LeastAllocated: the share of cpu and memory left free after the pod.
fn least_allocated(pod: &PodInfo, node: &NodeInfo) -> i64 {
    let free = |allocatable: i64, requested: i64| if allocatable <= 0 { 0 } else { ((allocatable - requested).max(0) * 100) / allocatable };
    let cpu = free(node.allocatable.milli_cpu, node.non_zero_requested.milli_cpu + pod.non_zero.milli_cpu);
    let memory = free(node.allocatable.memory, node.non_zero_requested.memory + pod.non_zero.memory);
    (cpu + memory) / 2
}

/// NodeResourcesBalancedAllocation: how evenly cpu and memory would be used after the pod.
fn balanced_allocation(pod: &PodInfo, node: &NodeInfo) -> i64 {
    let fraction = |allocatable: i64, requested: i64| if allocatable <= 0 { 1.0 } else { (requested as f64 / allocatable as f64).min(1.0) };
    let cpu = fraction(node.allocatable.milli_cpu, node.non_zero_requested.milli_cpu + pod.non_zero.milli_cpu);
    let memory = fraction(node.allocatable.memory, node.non_zero_requested.memory + pod.non_zero.memory);
    let deviation = (cpu - memory).abs() / 2.0;
    ((1.0 - deviation) * 100.0) as i64
}

fn preferred_affinity(pod: &PodInfo, node: &NodeInfo) -> i64 {
    pod.pod
        .spec
        .as_ref()
        .and_then(|spec| spec.affinity.as_ref())
        .and_then(|affinity| affinity.node_affinity.as_ref())
        .and_then(|affinity| affinity.preferred_during_scheduling_ignored_during_execution.as_ref())
        .map_or(0, |terms| terms.iter().filter(|term| node_selector_term_matches(&term.preference, &node.labels, node.name())).map(|term| i64::from(term.weight)).sum())
}

fn prefer_no_schedule_taints(pod: &PodInfo, node: &NodeInfo) -> i64 {
    let count = node
        .taints
        .iter()
        .filter(|taint| taint.effect == "PreferNoSchedule")
        .filter(|taint| !tolerations_tolerate(tolerations(pod), taint))
        .count();
    i64::try_from(count).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::{Value, json};

    use super::*;
    use crate::cache::Cache;

    fn pod(spec: Value) -> PodInfo {
        let mut spec = spec;
        if spec.get("containers").is_none() {
            spec["containers"] = json!([{"name": "c", "image": "i"}]);
        }
        PodInfo::new(Arc::new(serde_json::from_value(json!({"metadata": {"name": "p", "uid": "u"}, "spec": spec})).unwrap()))
    }

    fn cache_with(nodes: Value) -> Cache {
        let mut cache = Cache::default();
        for node in nodes.as_array().unwrap() {
            let mut node = node.clone();
            if node["status"].is_null() {
                node["status"] = json!({"allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110"}});
            }
            cache.set_node(Arc::new(serde_json::from_value(node).unwrap()));
        }
        cache
    }

    fn verdict(pod: &PodInfo, cache: &Cache, name: &str) -> Result<(), Vec<String>> {
        filter(pod, cache.node(name).unwrap())
    }

    #[test]
    fn taints_need_tolerations_with_matching_effect_and_value() {
        let cache = cache_with(json!([{"metadata": {"name": "gpu"}, "spec": {"taints": [{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]}}]));
        let plain = pod(json!({}));
        assert_eq!(verdict(&plain, &cache, "gpu"), Err(vec!["node(s) had untolerated taint {dedicated: gpu}".to_string()]));
        for toleration in [
            json!({"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}),
            json!({"key": "dedicated", "operator": "Exists"}),
            json!({"operator": "Exists"}),
        ] {
            assert_eq!(verdict(&pod(json!({"tolerations": [toleration.clone()]})), &cache, "gpu"), Ok(()), "{toleration}");
        }
        for toleration in [json!({"key": "dedicated", "value": "cpu"}), json!({"key": "dedicated", "operator": "Exists", "effect": "NoExecute"})] {
            assert!(verdict(&pod(json!({"tolerations": [toleration.clone()]})), &cache, "gpu").is_err(), "{toleration}");
        }
    }

    #[test]
    fn selectors_and_required_affinity_with_every_operator() {
        let cache = cache_with(json!([{"metadata": {"name": "a", "labels": {"zone": "east", "cores": "16"}}}]));
        let affinity = |requirement: Value| pod(json!({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{"matchExpressions": [requirement]}]}}}}));
        for (requirement, fits) in [
            (json!({"key": "zone", "operator": "In", "values": ["east", "west"]}), true),
            (json!({"key": "zone", "operator": "NotIn", "values": ["east"]}), false),
            (json!({"key": "zone", "operator": "Exists"}), true),
            (json!({"key": "gpu", "operator": "DoesNotExist"}), true),
            (json!({"key": "cores", "operator": "Gt", "values": ["8"]}), true),
            (json!({"key": "cores", "operator": "Lt", "values": ["8"]}), false),
        ] {
            assert_eq!(verdict(&affinity(requirement.clone()), &cache, "a").is_ok(), fits, "{requirement}");
        }
        assert!(verdict(&pod(json!({"nodeSelector": {"zone": "east"}})), &cache, "a").is_ok());
        assert_eq!(verdict(&pod(json!({"nodeSelector": {"zone": "west"}})), &cache, "a"), Err(vec!["node(s) didn't match Pod's node affinity/selector".to_string()]));
    }

    #[test]
    fn resources_ports_and_cordons_say_why() {
        let mut cache = cache_with(json!([{"metadata": {"name": "small"}, "spec": {"unschedulable": true}, "status": {"allocatable": {"cpu": "500m", "memory": "1Gi", "pods": "1"}}}]));
        let big = pod(json!({"tolerations": [{"key": UNSCHEDULABLE_TAINT, "operator": "Exists"}],
            "containers": [{"name": "c", "image": "i", "resources": {"requests": {"cpu": "1", "memory": "2Gi"}}, "ports": [{"containerPort": 80, "hostPort": 80}]}]}));
        assert_eq!(verdict(&pod(json!({})), &cache, "small"), Err(vec!["node(s) were unschedulable".to_string()]));
        assert_eq!(verdict(&big, &cache, "small"), Err(vec!["Insufficient cpu".to_string(), "Insufficient memory".to_string()]));
        let holder = Arc::new(pod(json!({"containers": [{"name": "c", "image": "i", "ports": [{"containerPort": 80, "hostPort": 80}]}]})));
        cache.assume(&holder, "small");
        assert_eq!(verdict(&big, &cache, "small"), Err(vec!["node(s) didn't have free ports for the requested pod ports".to_string()]));
    }

    #[test]
    fn scores_prefer_free_nodes_spread_owners_and_preferred_terms() {
        let cache = cache_with(json!([{"metadata": {"name": "a", "labels": {"disk": "ssd"}}}, {"metadata": {"name": "b"}}]));
        let candidates: Vec<&NodeInfo> = cache.nodes().collect();
        let preferring = pod(json!({"affinity": {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
            {"weight": 50, "preference": {"matchExpressions": [{"key": "disk", "operator": "In", "values": ["ssd"]}]}}]}}}));
        let scores = score(&preferring, &candidates);
        assert!(scores[0] > scores[1], "{scores:?}");

        let mut cache = cache_with(json!([{"metadata": {"name": "a"}}, {"metadata": {"name": "b"}}]));
        let owned = |uid: &str| {
            Arc::new(PodInfo::new(Arc::new(serde_json::from_value(json!({"metadata": {"name": uid, "uid": uid,
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs", "uid": "rs-1", "controller": true}]},
                "spec": {"containers": [{"name": "c", "image": "i"}]}})).unwrap())))
        };
        cache.assume(&owned("one"), "a");
        let candidates: Vec<&NodeInfo> = cache.nodes().collect();
        let scores = score(&owned("two"), &candidates);
        assert!(scores[1] > scores[0], "the owner's second pod goes to the other node: {scores:?}");
    }
}
