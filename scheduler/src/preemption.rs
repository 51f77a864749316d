//! kube-scheduler's DefaultPreemption, the PostFilter that runs when a pod fits no node: on the
//! nodes where only the pods already there stand in the way, it removes every pod of lower
//! priority, checks that the pod fits, then gives back as many of them as still let it fit
//! (those whose PodDisruptionBudget would be broken first, most important first); of the nodes
//! that work it picks the one that hurts least (`pick_one`). The pod is then *nominated* to that
//! node ([`Nominator`]): while it waits for its victims to go, the room they leave is kept for it
//! against pods of equal or lower priority. [`preempt_victim`] writes what kube's
//! `prepareCandidate` writes for each victim.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap, HashSet};

use common::selector::LabelSelector;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::api::{Api, DeleteParams, Patch, PatchParams, Preconditions};

use crate::cache::{Cache, DISRUPTION_TARGET, HostPort, NodeInfo, PREEMPTION_BY_SCHEDULER, PodInfo, Resources, Usage};
use crate::plugins;

/// The statuses and messages of kube's preemption, word for word.
pub const NO_VICTIMS: &str = "No preemption victims found for incoming pod";
pub const NOT_HELPFUL: &str = "Preemption is not helpful for scheduling";
pub const POLICY_NEVER: &str = "not eligible due to preemptionPolicy=Never.";
pub const TERMINATING_ON_NOMINATED: &str = "not eligible due to a terminating pod on the nominated node.";
/// DefaultPreemptionArgs' defaults: how many candidate nodes a dry run looks for.
const MIN_CANDIDATE_NODES_PERCENTAGE: usize = 10;
const MIN_CANDIDATE_NODES_ABSOLUTE: usize = 100;

/// A pod nominated to a node, with what it will take there.
#[derive(Debug)]
struct Nominated {
    uid: String,
    namespace: String,
    name: String,
    priority: i32,
    requests: Resources,
    host_ports: Vec<HostPort>,
}

/// Pods waiting for the room their preemption makes (kube's nominator): by node, and by pod with
/// the `nominatedNodeName` its status showed last, so that a watch update that does not show the
/// nomination yet keeps the one made in memory, and one that clears it drops it.
#[derive(Debug, Default)]
pub struct Nominator {
    by_node: HashMap<String, Vec<Nominated>>,
    by_pod: HashMap<String, (String, Option<String>)>,
}

impl Nominator {
    pub fn node_of(&self, uid: &str) -> Option<&str> {
        self.by_pod.get(uid).map(|(node, _)| node.as_str())
    }

    /// Nominates the pod to `node` (kube's `AddNominatedPod` with `ModeOverride`).
    pub fn nominate(&mut self, info: &PodInfo, node: &str) {
        let seen = self.by_pod.get(&info.uid).and_then(|(_, seen)| seen.clone());
        self.insert(info, node, seen);
    }

    fn insert(&mut self, info: &PodInfo, node: &str, seen: Option<String>) {
        self.remove(&info.uid);
        self.by_node.entry(node.to_string()).or_default().push(Nominated {
            uid: info.uid.clone(),
            namespace: info.namespace.clone(),
            name: info.name.clone(),
            priority: info.priority,
            requests: info.requests,
            host_ports: info.host_ports.clone(),
        });
        self.by_pod.insert(info.uid.clone(), (node.to_string(), seen));
    }

    pub fn remove(&mut self, uid: &str) {
        let Some((node, _)) = self.by_pod.remove(uid) else {
            return;
        };
        if let Some(pods) = self.by_node.get_mut(&node) {
            pods.retain(|pod| pod.uid != uid);
            if pods.is_empty() {
                self.by_node.remove(&node);
            }
        }
    }

    /// A pending pod of ours as the watch shows it (kube's `UpdateNominatedPod`): a
    /// `nominatedNodeName` in its status nominates it there; one that went from the status
    /// clears the nomination; none before or now keeps what was nominated in memory.
    pub fn observe(&mut self, info: &PodInfo) {
        let status = info.nominated_node().map(str::to_string);
        match (status, self.by_pod.get(&info.uid).cloned()) {
            (Some(node), _) => self.insert(info, &node, Some(node.clone())),
            (None, Some((_, Some(_)))) => self.remove(&info.uid),
            (None, Some((node, None))) => self.insert(info, &node, None),
            (None, None) => {}
        }
    }

    /// What the node's pods take with the pods nominated there added, as kube's
    /// `addNominatedPods` does for a pod of `pod`'s priority: those of equal or higher priority
    /// other than the pod itself.
    pub fn occupied<'n>(&self, pod: &PodInfo, node: &'n NodeInfo) -> (Resources, Cow<'n, [HostPort]>) {
        let mut requested = node.requested;
        let mut ports = Cow::Borrowed(node.ports.as_slice());
        if self.by_node.is_empty() {
            return (requested, ports);
        }
        for nominated in self.by_node.get(node.name()).into_iter().flatten() {
            if nominated.priority >= pod.priority && nominated.uid != pod.uid {
                requested.add(&nominated.requests);
                if !nominated.host_ports.is_empty() {
                    ports.to_mut().extend(nominated.host_ports.iter().cloned());
                }
            }
        }
        (requested, ports)
    }

    /// The filters with the nominated pods counted (kube's `RunFilterPluginsWithNominatedPods`;
    /// with only resource and port filters, fitting with them means fitting without).
    pub fn filter(&self, pod: &PodInfo, node: &NodeInfo) -> Result<(), Vec<String>> {
        // The usual case, no nominated pod anywhere, costs one length check.
        if self.by_node.is_empty() || !self.by_node.contains_key(node.name()) {
            return plugins::filter(pod, node);
        }
        plugins::filter_node(pod, node)?;
        let (requested, ports) = self.occupied(pod, node);
        plugins::fits(pod, node, &requested, &ports)
    }

    /// Pods of lower priority nominated to `node` (kube's `getLowerPriorityNominatedPods`):
    /// the preemptor takes their room, so their nominations are cleared. Namespace and name.
    pub fn take_lower_priority(&mut self, node: &str, priority: i32) -> Vec<(String, String)> {
        let lower: Vec<(String, String, String)> = self
            .by_node
            .get(node)
            .into_iter()
            .flatten()
            .filter(|pod| pod.priority < priority)
            .map(|pod| (pod.uid.clone(), pod.namespace.clone(), pod.name.clone()))
            .collect();
        lower
            .into_iter()
            .map(|(uid, namespace, name)| {
                self.remove(&uid);
                (namespace, name)
            })
            .collect()
    }
}

/// A PodDisruptionBudget as preemption reads it.
#[derive(Debug)]
pub struct Budget {
    namespace: String,
    selector: LabelSelector,
    allowed: i32,
    /// Pods the apiserver already counted as disrupted (`status.disruptedPods`).
    disrupted: HashSet<String>,
}

impl Budget {
    /// None for a budget whose selector does not parse: it matches no pod, as in kube.
    pub fn new(budget: &PodDisruptionBudget) -> Option<Self> {
        let selector = LabelSelector::from_optional_k8s(budget.spec.as_ref().and_then(|spec| spec.selector.as_ref())).ok()?;
        let status = budget.status.as_ref();
        Some(Self {
            namespace: budget.metadata.namespace.clone().unwrap_or_default(),
            selector,
            allowed: status.map_or(0, |status| status.disruptions_allowed),
            disrupted: status.and_then(|status| status.disrupted_pods.as_ref()).map(|pods| pods.keys().cloned().collect()).unwrap_or_default(),
        })
    }
}

/// A pod to preempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Victim {
    pub uid: String,
    pub namespace: String,
    pub name: String,
    pub priority: i32,
    pub start_time: Option<i128>,
    /// Already being deleted: kube makes no call for it.
    pub deleting: bool,
    /// Already carries the DisruptionTarget condition, from this scheduler's preemption.
    pub preempted: bool,
    /// Already carries `DisruptionTarget=True`, for any reason.
    pub disruption_target: bool,
}

impl From<&Usage> for Victim {
    fn from(pod: &Usage) -> Self {
        Self {
            uid: pod.uid.clone(),
            namespace: pod.namespace.clone(),
            name: pod.name.clone(),
            priority: pod.priority,
            start_time: pod.start_time,
            deleting: pod.deleting,
            preempted: pod.preempted,
            disruption_target: pod.disruption_target,
        }
    }
}

/// A node where preemption makes the pod fit, with its victims, most important first.
#[derive(Debug)]
pub struct Candidate {
    pub node: String,
    pub victims: Vec<Victim>,
    pub pdb_violations: usize,
}

#[derive(Debug)]
pub enum Verdict {
    /// The pod may not preempt (yet); the message follows `preemption: `. Its nomination stays.
    NotEligible(&'static str),
    /// No node works even with preemption: kube's reasons per node, counted, for the
    /// `preemption: 0/N nodes are available: ...` message. Its nomination is cleared.
    NoCandidate(BTreeMap<String, usize>),
    Preempt(Candidate),
}

/// What a preemption attempt reads, all from the scheduling loop's state.
pub struct Preemption<'a> {
    pub cache: &'a Cache,
    pub nominator: &'a Nominator,
    pub budgets: &'a [Budget],
    /// Victims whose deletion was asked for and that the watch has not shown gone.
    pub preempting: &'a HashSet<String>,
    /// The pre-filter turned the pod away whatever the node (VolumeBinding's): nothing helps.
    pub rejected: bool,
    /// The filters after NodeResourcesFit (VolumeBinding): pods leaving do not change them.
    pub later_filters: &'a dyn Fn(&NodeInfo) -> Result<(), Vec<String>>,
    /// Now in nanoseconds: a pod not started yet counts as starting now (kube's
    /// `GetPodStartTime`).
    pub now: i128,
}

impl Preemption<'_> {
    /// kube's `Evaluator.Preempt`: eligibility, the dry run over the nodes where preemption
    /// might help (from `offset`, until enough candidates), and the choice among them.
    pub fn evaluate(&self, pod: &PodInfo, nominated: Option<&str>, offset: usize) -> Verdict {
        if pod.never_preempts() {
            return Verdict::NotEligible(POLICY_NEVER);
        }
        let count = self.cache.node_count();
        let potential: Vec<&NodeInfo> =
            if self.rejected { Vec::new() } else { (0..count).filter_map(|index| self.cache.node_at(index)).filter(|node| self.might_help(pod, node)).collect() };
        // kube's `PodEligibleToPreemptOthers`: a pod whose earlier victims are still going
        // waits for them, unless its nominated node is now out of the question.
        if let Some(nominated) = nominated
            && potential.iter().any(|node| node.name() == nominated)
            && self.cache.pods_on(nominated).any(|other| other.priority < pod.priority && self.terminating_by_preemption(other))
        {
            return Verdict::NotEligible(TERMINATING_ON_NOMINATED);
        }
        if potential.is_empty() {
            return Verdict::NoCandidate(BTreeMap::from([(NOT_HELPFUL.to_string(), count)]));
        }
        let wanted = (potential.len() * MIN_CANDIDATE_NODES_PERCENTAGE / 100).max(MIN_CANDIDATE_NODES_ABSOLUTE).min(potential.len());
        let start = offset % potential.len();
        let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
        let (mut clean, mut violating) = (Vec::new(), Vec::new());
        for index in 0..potential.len() {
            let node = potential[(start + index) % potential.len()];
            match self.select_victims(pod, node) {
                Ok(candidate) if candidate.victims.is_empty() => {
                    *reasons.entry(format!("expected at least one victim pod on node {:?}", node.name())).or_default() += 1;
                }
                Ok(candidate) if candidate.pdb_violations == 0 => clean.push(candidate),
                Ok(candidate) => violating.push(candidate),
                Err(why) => {
                    for reason in why {
                        *reasons.entry(reason).or_default() += 1;
                    }
                }
            }
            if !clean.is_empty() && clean.len() + violating.len() >= wanted {
                break;
            }
        }
        clean.extend(violating);
        if clean.is_empty() {
            // Every potential node was tried; the others are where preemption cannot help.
            let others = count - potential.len();
            if others > 0 {
                *reasons.entry(NOT_HELPFUL.to_string()).or_default() += others;
            }
            return Verdict::NoCandidate(reasons);
        }
        let best = pick_one(&clean, self.now);
        Verdict::Preempt(clean.swap_remove(best))
    }

    /// kube's `podTerminatingByPreemption`, or a victim this scheduler has just asked to delete.
    fn terminating_by_preemption(&self, pod: &Usage) -> bool {
        pod.deleting && pod.preempted || self.preempting.contains(&pod.uid)
    }

    /// Whether the node failed only filters that removing pods can satisfy (kube's nodes with
    /// status `Unschedulable`, not `UnschedulableAndUnresolvable`). In kube 1.33 NodePorts and
    /// NodeResourcesFit always say `Unschedulable`, even for a pod larger than the node (1.34
    /// made that unresolvable): such a node is tried, and its reasons reported.
    fn might_help(&self, pod: &PodInfo, node: &NodeInfo) -> bool {
        if plugins::filter_node(pod, node).is_err() {
            return false;
        }
        let (requested, ports) = self.nominator.occupied(pod, node);
        // Fitting as far as its pods go: a later filter (VolumeBinding) turned it away.
        plugins::fits(pod, node, &requested, &ports).is_err()
    }

    /// kube's `SelectVictimsOnNode`.
    fn select_victims(&self, pod: &PodInfo, node: &NodeInfo) -> Result<Candidate, Vec<String>> {
        let mut potential: Vec<&Usage> = self.cache.pods_on(node.name()).filter(|other| other.priority < pod.priority).collect();
        if potential.is_empty() {
            return Err(vec![NO_VICTIMS.to_string()]);
        }
        let (mut requested, ports) = self.nominator.occupied(pod, node);
        let mut ports = ports.into_owned();
        for victim in &potential {
            requested.subtract(&victim.requests);
            remove_ports(&mut ports, &victim.host_ports);
        }
        // Not even without all of them: inter-pod affinity to a victim is not considered, as
        // in kube.
        plugins::fits(pod, node, &requested, &ports)?;
        (self.later_filters)(node)?;
        potential.sort_by(|a, b| importance(a, b, self.now));
        let (violating, clean) = split_by_budgets(&potential, self.budgets);
        let mut victims: Vec<&Usage> = Vec::new();
        let mut pdb_violations = 0;
        for (group, violates) in [(&violating, true), (&clean, false)] {
            for victim in group {
                requested.add(&victim.requests);
                ports.extend(victim.host_ports.iter().cloned());
                if plugins::fits(pod, node, &requested, &ports).is_err() {
                    requested.subtract(&victim.requests);
                    remove_ports(&mut ports, &victim.host_ports);
                    victims.push(victim);
                    if violates {
                        pdb_violations += 1;
                    }
                }
            }
        }
        if !violating.is_empty() && !clean.is_empty() {
            victims.sort_by(|a, b| importance(a, b, self.now));
        }
        Ok(Candidate { node: node.name().to_string(), victims: victims.into_iter().map(Victim::from).collect(), pdb_violations })
    }
}

fn remove_ports(ports: &mut Vec<HostPort>, gone: &[HostPort]) {
    for port in gone {
        if let Some(index) = ports.iter().position(|used| used == port) {
            ports.swap_remove(index);
        }
    }
}

/// kube's `MoreImportantPod` as an ordering, most important first: higher priority, then the
/// one that started earlier.
fn importance(a: &Usage, b: &Usage, now: i128) -> Ordering {
    b.priority.cmp(&a.priority).then_with(|| a.start_time.unwrap_or(now).cmp(&b.start_time.unwrap_or(now)))
}

/// kube's `filterPodsWithPDBViolation`: the pods whose removal would take a budget below zero
/// disruptions, and the others, each in the order given.
fn split_by_budgets<'u>(pods: &[&'u Usage], budgets: &[Budget]) -> (Vec<&'u Usage>, Vec<&'u Usage>) {
    let mut allowed: Vec<i32> = budgets.iter().map(|budget| budget.allowed).collect();
    let (mut violating, mut clean) = (Vec::new(), Vec::new());
    for pod in pods {
        let mut violated = false;
        // A pod without labels matches no budget.
        if !pod.labels.is_empty() {
            for (index, budget) in budgets.iter().enumerate() {
                // An empty selector matches nothing here, as in kube.
                if budget.namespace != pod.namespace || budget.selector.is_empty() || !budget.selector.matches(&pod.labels) {
                    continue;
                }
                // Already counted by the apiserver's eviction: not a violation again.
                if budget.disrupted.contains(&pod.name) {
                    continue;
                }
                allowed[index] -= 1;
                if allowed[index] < 0 {
                    violated = true;
                }
            }
        }
        if violated { violating.push(*pod) } else { clean.push(*pod) }
    }
    (violating, clean)
}

/// kube's `pickOneNodeForPreemption`: fewest budget violations, then the lowest highest victim
/// priority, the smallest sum of priorities, the fewest victims, the latest start among the
/// highest-priority victims; the first of what still ties.
fn pick_one(candidates: &[Candidate], now: i128) -> usize {
    type Score = fn(&Candidate, i128) -> i128;
    let scores: [Score; 5] = [
        |candidate, _| -(candidate.pdb_violations as i128),
        |candidate, _| -i128::from(candidate.victims.iter().map(|victim| victim.priority).max().unwrap_or(i32::MIN)),
        // Shifted by 2^31 so that many negative priorities do not beat a few.
        |candidate, _| -candidate.victims.iter().map(|victim| i128::from(victim.priority) + (1i128 << 31)).sum::<i128>(),
        |candidate, _| -(candidate.victims.len() as i128),
        |candidate, now| {
            let top = candidate.victims.iter().map(|victim| victim.priority).max().unwrap_or(i32::MIN);
            candidate.victims.iter().filter(|victim| victim.priority == top).map(|victim| victim.start_time.unwrap_or(now)).min().unwrap_or(i128::MIN)
        },
    ];
    let mut remaining: Vec<usize> = (0..candidates.len()).collect();
    for score in scores {
        let best = remaining.iter().map(|&index| score(&candidates[index], now)).max();
        remaining.retain(|&index| Some(score(&candidates[index], now)) == best);
        if remaining.len() <= 1 {
            break;
        }
    }
    remaining.first().copied().unwrap_or(0)
}

/// kube's `PreemptPod` for one victim not already being deleted: the `DisruptionTarget`
/// condition (through pods/status), then a graceful delete (the pod's own grace period; its uid
/// as precondition, so that a pod made again under the name is not taken). Ok(false) when the
/// victim is already gone: nothing to record.
pub async fn preempt_victim(client: &kube::Client, scheduler: &str, victim: &Victim) -> Result<bool, kube::Error> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), &victim.namespace);
    let gone = |err: &kube::Error| matches!(err, kube::Error::Api(status) if status.code == 404);
    if !victim.preempted {
        let patch = disruption_target_patch(scheduler, victim, jiff::Timestamp::now());
        match pods.patch_status(&victim.name, &PatchParams::default(), &Patch::Strategic(patch)).await {
            Ok(_) => {}
            Err(err) if gone(&err) => return Ok(false),
            Err(err) => return Err(err),
        }
    }
    let params = DeleteParams { preconditions: Some(Preconditions { uid: Some(victim.uid.clone()), resource_version: None }), ..DeleteParams::default() };
    match pods.delete(&victim.name, &params).await {
        Ok(_) => Ok(true),
        // Gone, or another pod under the name now: ours is gone either way.
        Err(kube::Error::Api(status)) if status.code == 404 || status.code == 409 => Ok(false),
        Err(err) => Err(err),
    }
}

/// The strategic-merge patch (merged by condition type) that gives `victim` the
/// DisruptionTarget condition. A victim that already has the condition True (from an eviction
/// whose delete failed, say) gets the new reason and message but keeps its
/// lastTransitionTime, as kube's `UpdatePodCondition` keeps it when the status is unchanged.
fn disruption_target_patch(scheduler: &str, victim: &Victim, now: jiff::Timestamp) -> serde_json::Value {
    let mut condition = serde_json::json!({
        "type": DISRUPTION_TARGET,
        "status": "True",
        "reason": PREEMPTION_BY_SCHEDULER,
        "message": format!("{scheduler}: preempting to accommodate a higher priority pod"),
        "lastProbeTime": null,
    });
    if !victim.disruption_target {
        condition["lastTransitionTime"] = serde_json::json!(now.strftime("%Y-%m-%dT%H:%M:%SZ").to_string());
    }
    serde_json::json!({"status": {"conditions": [condition]}})
}

/// Clears `status.nominatedNodeName` of a pod whose room another took (kube's
/// `clearNominatedNodeName`).
pub async fn clear_nomination(client: &kube::Client, namespace: &str, name: &str) -> Result<(), kube::Error> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let patch = serde_json::json!({"status": {"nominatedNodeName": null}});
    match pods.patch_status(name, &PatchParams::default(), &Patch::Strategic(patch)).await {
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
        other => other.map(|_| ()),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::{Value, json};

    use super::*;

    fn pod(name: &str, priority: i32, cpu: &str, extra: Value) -> Arc<PodInfo> {
        let mut value = json!({"metadata": {"name": name, "namespace": "default", "uid": format!("uid-{name}")},
            "spec": {"priority": priority, "containers": [{"name": "c", "image": "i", "resources": {"requests": {"cpu": cpu}}}]}});
        if let Some(object) = extra.as_object() {
            for (key, field) in object {
                match key.as_str() {
                    "labels" | "deletionTimestamp" => value["metadata"][key] = field.clone(),
                    "status" => value["status"] = field.clone(),
                    other => value["spec"][other] = field.clone(),
                }
            }
        }
        Arc::new(PodInfo::new(Arc::new(serde_json::from_value(value).unwrap())))
    }

    fn cluster(nodes: &[(&str, &str)], pods: &[(&str, Arc<PodInfo>)]) -> Cache {
        let mut cache = Cache::default();
        for (name, cpu) in nodes {
            let node = json!({"metadata": {"name": name}, "status": {"allocatable": {"cpu": cpu, "memory": "8Gi", "pods": "110"}}});
            cache.set_node(Arc::new(serde_json::from_value(node).unwrap()));
        }
        for (node, info) in pods {
            cache.assume(info, node);
        }
        cache
    }

    fn no_later_filters(_: &NodeInfo) -> Result<(), Vec<String>> {
        Ok(())
    }

    fn evaluate(cache: &Cache, budgets: &[Budget], preemptor: &PodInfo) -> Verdict {
        let (nominator, preempting) = (Nominator::default(), HashSet::new());
        let preemption = Preemption { cache, nominator: &nominator, budgets, preempting: &preempting, rejected: false, later_filters: &no_later_filters, now: 1_000 };
        preemption.evaluate(preemptor, None, 0)
    }

    fn victims(verdict: &Verdict) -> (String, Vec<String>) {
        match verdict {
            Verdict::Preempt(candidate) => (candidate.node.clone(), candidate.victims.iter().map(|victim| victim.name.clone()).collect()),
            other => panic!("no preemption: {other:?}"),
        }
    }

    fn budget(selector: Value, allowed: i32) -> Budget {
        let value = json!({"metadata": {"name": "b", "namespace": "default"}, "spec": {"selector": selector}, "status": {"disruptionsAllowed": allowed,
            "currentHealthy": 0, "desiredHealthy": 0, "expectedPods": 0}});
        Budget::new(&serde_json::from_value(value).unwrap()).unwrap()
    }

    #[test]
    fn the_lowest_priority_pods_go_and_the_others_are_reprieved() {
        let cache = cluster(&[("n1", "4")], &[
            ("n1", pod("low", 1, "1", json!({}))),
            ("n1", pod("lowest", 0, "1", json!({}))),
            ("n1", pod("mid", 5, "1", json!({}))),
            ("n1", pod("high", 100, "1", json!({}))),
        ]);
        // 2 cpus wanted, none free: the two least important go, the rest stay.
        let verdict = evaluate(&cache, &[], &pod("preemptor", 10, "2", json!({})));
        assert_eq!(victims(&verdict), ("n1".to_string(), vec!["low".to_string(), "lowest".to_string()]));
        // Equal priority is never a victim; the high one cannot be: not enough without it.
        let verdict = evaluate(&cache, &[], &pod("big", 10, "4", json!({})));
        assert!(matches!(&verdict, Verdict::NoCandidate(reasons) if reasons == &BTreeMap::from([("Insufficient cpu".to_string(), 1)])), "{verdict:?}");
        let verdict = evaluate(&cache, &[], &pod("peer", 0, "1", json!({})));
        assert!(matches!(&verdict, Verdict::NoCandidate(reasons) if reasons == &BTreeMap::from([(NO_VICTIMS.to_string(), 1)])), "{verdict:?}");
    }

    #[test]
    fn never_does_not_preempt_and_what_cannot_help_says_so() {
        let cache = cluster(&[("n1", "1"), ("small", "1")], &[("n1", pod("low", 0, "1", json!({}))), ("small", pod("low2", 0, "1", json!({})))]);
        let never = pod("never", 10, "1", json!({"preemptionPolicy": "Never"}));
        assert!(matches!(evaluate(&cache, &[], &never), Verdict::NotEligible(POLICY_NEVER)));
        // Asking more than a node has at all: kube 1.33 still tries, and reports why it failed.
        let huge = pod("huge", 10, "2", json!({}));
        assert!(matches!(&evaluate(&cache, &[], &huge), Verdict::NoCandidate(reasons) if reasons == &BTreeMap::from([("Insufficient cpu".to_string(), 2)])));
        let (nominator, preempting) = (Nominator::default(), HashSet::new());
        let no_claims_fit = |_: &NodeInfo| Err(vec!["node(s) had volume node affinity conflict".to_string()]);
        let preemption = Preemption { cache: &cache, nominator: &nominator, budgets: &[], preempting: &preempting, rejected: false, later_filters: &no_claims_fit, now: 0 };
        let small = pod("small", 10, "1", json!({"nodeName": "small"}));
        assert!(
            matches!(&preemption.evaluate(&pod("elsewhere", 10, "0", json!({"nodeName": "small"})), None, 0), Verdict::NoCandidate(reasons) if reasons == &BTreeMap::from([(NOT_HELPFUL.to_string(), 2)])),
            "a node the pod does not name, and one only a later filter turned away"
        );
        // Victims removed, a later filter still refuses: that filter's reasons.
        assert!(matches!(&preemption.evaluate(&small, None, 0), Verdict::NoCandidate(reasons)
            if reasons == &BTreeMap::from([(NOT_HELPFUL.to_string(), 1), ("node(s) had volume node affinity conflict".to_string(), 1)])));
        let selecting = pod("selecting", 10, "1", json!({"nodeName": "small"}));
        assert_eq!(victims(&evaluate(&cache, &[], &selecting)), ("small".to_string(), vec!["low2".to_string()]));
    }

    #[test]
    fn budgets_are_broken_only_when_nothing_else_works() {
        let labelled = |name: &str| pod(name, 0, "1", json!({"labels": {"app": "db"}}));
        let cache = cluster(&[("n1", "2"), ("n2", "2")], &[
            ("n1", labelled("db-1")),
            ("n1", labelled("db-2")),
            ("n2", pod("web-1", 0, "1", json!({"labels": {"app": "web"}}))),
            ("n2", pod("web-2", 0, "1", json!({}))),
        ]);
        let preemptor = pod("preemptor", 10, "1", json!({}));
        let protected = [budget(json!({"matchLabels": {"app": "db"}}), 0)];
        // Without the budget n1 and n2 tie on everything but order; with it n2 is the only clean one.
        assert_eq!(victims(&evaluate(&cache, &protected, &preemptor)).0, "n2");
        // On one node, violating victims are reprieved first: the unprotected one goes.
        let cache = cluster(&[("n1", "2")], &[("n1", labelled("db-1")), ("n1", pod("other", 0, "1", json!({})))]);
        let verdict = evaluate(&cache, &protected, &preemptor);
        assert_eq!(victims(&verdict).1, ["other"]);
        // When only protected pods can make room, the budget is broken and counted.
        let cache = cluster(&[("n1", "2")], &[("n1", labelled("db-1")), ("n1", labelled("db-2"))]);
        let verdict = evaluate(&cache, &[budget(json!({"matchLabels": {"app": "db"}}), 1)], &pod("two", 10, "2", json!({})));
        let Verdict::Preempt(candidate) = verdict else { panic!("{verdict:?}") };
        assert_eq!((candidate.victims.len(), candidate.pdb_violations), (2, 1));
        // An empty selector matches nothing.
        let cache = cluster(&[("n1", "1")], &[("n1", labelled("db-1"))]);
        let Verdict::Preempt(candidate) = evaluate(&cache, &[budget(json!({}), 0)], &preemptor) else { panic!() };
        assert_eq!(candidate.pdb_violations, 0);
    }

    #[test]
    fn the_node_chosen_hurts_least() {
        let victim = |name: &str, priority: i32, start: Option<i128>| Victim {
            uid: name.into(),
            namespace: "default".into(),
            name: name.into(),
            priority,
            start_time: start,
            deleting: false,
            preempted: false,
            disruption_target: false,
        };
        let candidate = |node: &str, violations: usize, victims: Vec<Victim>| Candidate { node: node.into(), victims, pdb_violations: violations };
        let pick = |candidates: Vec<Candidate>| candidates[pick_one(&candidates, 1_000)].node.clone();
        assert_eq!(pick(vec![candidate("a", 1, vec![victim("x", 0, None)]), candidate("b", 0, vec![victim("y", 5, None)])]), "b", "fewest violations");
        assert_eq!(pick(vec![candidate("a", 0, vec![victim("x", 5, None)]), candidate("b", 0, vec![victim("y", 1, None), victim("z", 1, None)])]), "b", "lowest highest priority");
        assert_eq!(pick(vec![candidate("a", 0, vec![victim("x", 5, None), victim("w", 4, None)]), candidate("b", 0, vec![victim("y", 5, None), victim("z", 1, None)])]), "b", "smallest sum");
        assert_eq!(pick(vec![candidate("a", 0, vec![victim("x", -5, None), victim("w", -5, None)]), candidate("b", 0, vec![victim("y", -5, None)])]), "b", "negative priorities: fewer");
        assert_eq!(pick(vec![candidate("a", 0, vec![victim("x", 5, Some(10))]), candidate("b", 0, vec![victim("y", 5, Some(500))])]), "b", "latest start");
        assert_eq!(pick(vec![candidate("a", 0, vec![victim("x", 5, None)]), candidate("b", 0, vec![victim("y", 5, None)])]), "a", "the first of ties");
    }

    #[test]
    fn a_disruption_target_already_true_keeps_its_transition_time() {
        let mut victim = Victim {
            uid: "u".into(),
            namespace: "default".into(),
            name: "v".into(),
            priority: 0,
            start_time: None,
            deleting: false,
            preempted: false,
            disruption_target: false,
        };
        let now = "2026-01-02T03:04:05Z".parse().unwrap();
        let condition = |victim: &Victim| disruption_target_patch("default-scheduler", victim, now)["status"]["conditions"][0].clone();
        assert_eq!(
            condition(&victim),
            json!({"type": "DisruptionTarget", "status": "True", "reason": "PreemptionByScheduler",
                "message": "default-scheduler: preempting to accommodate a higher priority pod", "lastProbeTime": null,
                "lastTransitionTime": "2026-01-02T03:04:05Z"})
        );
        // True already (an eviction whose delete failed): the reason and message change, the
        // time does not (the patch merges by condition type, so an absent field is kept).
        victim.disruption_target = true;
        assert_eq!(condition(&victim).get("lastTransitionTime"), None);
        assert_eq!(condition(&victim)["reason"], "PreemptionByScheduler");
    }

    #[test]
    fn nominated_pods_hold_their_room_against_lower_and_equal_priorities() {
        let cache = cluster(&[("n1", "2")], &[("n1", pod("running", 0, "1", json!({})))]);
        let mut nominator = Nominator::default();
        let waiting = pod("waiting", 10, "1", json!({}));
        nominator.nominate(&waiting, "n1");
        let node = cache.node("n1").unwrap();
        assert_eq!(nominator.filter(&pod("equal", 10, "1", json!({})), node), Err(vec!["Insufficient cpu".to_string()]));
        assert_eq!(nominator.filter(&pod("higher", 11, "1", json!({})), node), Ok(()));
        assert_eq!(nominator.filter(&waiting, node), Ok(()), "not against itself");
        // A watch update that does not show the nomination yet keeps it; one that clears it drops it.
        nominator.observe(&waiting);
        assert_eq!(nominator.node_of("uid-waiting"), Some("n1"));
        nominator.observe(&pod("waiting", 10, "1", json!({"status": {"nominatedNodeName": "n1"}})));
        nominator.observe(&waiting);
        assert_eq!(nominator.node_of("uid-waiting"), None);
        nominator.nominate(&waiting, "n1");
        nominator.nominate(&pod("lower", 5, "1", json!({})), "n1");
        assert_eq!(nominator.take_lower_priority("n1", 10), [("default".to_string(), "lower".to_string())]);
        assert_eq!(nominator.node_of("uid-waiting"), Some("n1"));
    }

    #[test]
    fn a_pod_whose_victims_are_still_going_waits_for_them() {
        let going = pod("going", 0, "1", json!({"deletionTimestamp": "2026-01-01T00:00:00Z",
            "status": {"conditions": [{"type": DISRUPTION_TARGET, "status": "True", "reason": PREEMPTION_BY_SCHEDULER}]}}));
        let cache = cluster(&[("n1", "2")], &[("n1", going), ("n1", pod("other", 0, "1", json!({})))]);
        let (nominator, preempting) = (Nominator::default(), HashSet::new());
        let preemption = Preemption { cache: &cache, nominator: &nominator, budgets: &[], preempting: &preempting, rejected: false, later_filters: &no_later_filters, now: 0 };
        let preemptor = pod("preemptor", 10, "2", json!({}));
        assert!(matches!(preemption.evaluate(&preemptor, Some("n1"), 0), Verdict::NotEligible(TERMINATING_ON_NOMINATED)));
        assert!(matches!(preemption.evaluate(&preemptor, None, 0), Verdict::Preempt(_)));
        let rejected = Preemption { rejected: true, ..preemption };
        assert!(matches!(rejected.evaluate(&preemptor, None, 0), Verdict::NoCandidate(_)));
    }
}
