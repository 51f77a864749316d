//! A pod's status from what the runtime shows: phase, conditions and container statuses,
//! computed the way the kubelet does (`getPhase`, the readiness conditions).

use std::collections::HashMap;

use k8s_openapi::api::core::v1::{
    Container, ContainerState, ContainerStateRunning, ContainerStateTerminated, ContainerStateWaiting, ContainerStatus, HostIP, Pod, PodCondition, PodIP, PodStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use crate::cri::api;
use crate::probes::ProbeState;

/// One container instance of the pod as the runtime reports it.
#[derive(Clone, Debug)]
pub struct Instance {
    pub id: String,
    pub name: String,
    pub attempt: u32,
    pub sandbox_id: String,
    pub status: api::ContainerStatus,
}

impl Instance {
    pub fn state(&self) -> api::ContainerState {
        api::ContainerState::try_from(self.status.state).unwrap_or(api::ContainerState::ContainerUnknown)
    }

    pub fn running(&self) -> bool {
        self.state() == api::ContainerState::ContainerRunning
    }

    pub fn exited(&self) -> bool {
        self.state() == api::ContainerState::ContainerExited
    }
}

/// What the status is computed from beside the pod.
pub struct Inputs<'a> {
    pub pod: &'a Pod,
    /// Every instance of every container of the pod, newest attempt first per name.
    pub instances: &'a [Instance],
    pub sandbox_ready: bool,
    pub pod_ip: Option<String>,
    pub host_ip: String,
    /// Why a container is waiting, for those the kubelet could not (re)start: (reason, message).
    pub waiting: &'a HashMap<String, (String, String)>,
    /// Probe verdicts of running containers, by container name.
    pub probes: &'a HashMap<String, ProbeState>,
    pub start_time: Time,
}

pub fn time(nanos: i64) -> Option<Time> {
    (nanos > 0).then(|| jiff::Timestamp::from_second(nanos / 1_000_000_000).ok().map(Time)).flatten()
}

/// Now, to the second, as status times are stored (so that equal statuses compare equal).
pub fn now() -> Time {
    let seconds = jiff::Timestamp::now().as_second();
    Time(jiff::Timestamp::from_second(seconds).unwrap_or_else(|_| jiff::Timestamp::now()))
}

fn terminated(instance: &Instance) -> ContainerStateTerminated {
    let status = &instance.status;
    ContainerStateTerminated {
        container_id: Some(format!("containerd://{}", instance.id)),
        exit_code: status.exit_code,
        reason: Some(status.reason.clone()).filter(|reason| !reason.is_empty()),
        message: Some(status.message.clone()).filter(|message| !message.is_empty()),
        started_at: time(status.started_at),
        finished_at: time(status.finished_at),
        signal: None,
    }
}

fn container_status(inputs: &Inputs<'_>, container: &Container, init: bool) -> ContainerStatus {
    let mut instances = inputs.instances.iter().filter(|instance| instance.name == container.name);
    let latest = instances.next();
    let previous = instances.next();
    let waiting = |reason: &str, message: Option<String>| ContainerState {
        waiting: Some(ContainerStateWaiting { reason: Some(reason.to_string()), message }),
        ..ContainerState::default()
    };
    let known = inputs.waiting.get(&container.name);
    let last_state = |instance: Option<&Instance>| instance.filter(|i| i.exited()).map(|i| ContainerState { terminated: Some(terminated(i)), ..ContainerState::default() });
    let probe = inputs.probes.get(&container.name);
    let started = latest.is_some_and(Instance::running) && probe.is_none_or(|probe| probe.started);
    let ready = started && (container.readiness_probe.is_none() || probe.is_some_and(|probe| probe.ready));
    let (state, last) = match latest {
        Some(instance) if instance.running() => {
            (ContainerState { running: Some(ContainerStateRunning { started_at: time(instance.status.started_at) }), ..ContainerState::default() }, last_state(previous))
        }
        Some(instance) if instance.exited() => match known {
            Some((reason, message)) => (waiting(reason, Some(message.clone())), last_state(Some(instance))),
            None => (ContainerState { terminated: Some(terminated(instance)), ..ContainerState::default() }, last_state(previous)),
        },
        _ => {
            let (reason, message) = match known {
                Some((reason, message)) => (reason.as_str(), Some(message.clone())),
                None if init || !initialized(inputs) => ("PodInitializing", None),
                None => ("ContainerCreating", None),
            };
            let earlier = latest.filter(|i| i.exited()).or(previous);
            (waiting(reason, message), last_state(earlier))
        }
    };
    ContainerStatus {
        name: container.name.clone(),
        image: container.image.clone().unwrap_or_default(),
        image_id: latest.map(|i| i.status.image_ref.clone()).unwrap_or_default(),
        container_id: latest.map(|i| format!("containerd://{}", i.id)),
        restart_count: latest.map_or(0, |i| i32::try_from(i.attempt).unwrap_or(i32::MAX)),
        ready,
        started: Some(started),
        state: Some(state),
        last_state: Some(last.unwrap_or_default()),
        ..ContainerStatus::default()
    }
}

/// Every init container ran to success.
fn initialized(inputs: &Inputs<'_>) -> bool {
    let spec = inputs.pod.spec.as_ref();
    spec.and_then(|spec| spec.init_containers.as_ref()).into_iter().flatten().all(|container| {
        inputs.instances.iter().find(|i| i.name == container.name).is_some_and(|i| i.exited() && i.status.exit_code == 0)
    })
}

fn is_terminated_with(status: &ContainerStatus) -> Option<i32> {
    let state = status.state.as_ref()?;
    if let Some(terminated) = &state.terminated {
        return Some(terminated.exit_code);
    }
    if state.waiting.is_some() {
        return status.last_state.as_ref()?.terminated.as_ref().map(|t| t.exit_code);
    }
    None
}

/// The kubelet's `getPhase`.
fn phase(pod: &Pod, init: &[ContainerStatus], containers: &[ContainerStatus]) -> &'static str {
    let policy = pod.spec.as_ref().and_then(|spec| spec.restart_policy.as_deref()).unwrap_or("Always");
    for status in init {
        let state = status.state.as_ref();
        if state.and_then(|s| s.terminated.as_ref()).is_some_and(|t| t.exit_code == 0) {
            continue;
        }
        if policy == "Never" && is_terminated_with(status).is_some_and(|code| code != 0) {
            return "Failed";
        }
        return "Pending";
    }
    let (mut running, mut waiting, mut stopped, mut succeeded) = (0, 0, 0, 0);
    for status in containers {
        let state = status.state.as_ref();
        if state.is_some_and(|s| s.running.is_some()) {
            running += 1;
        } else if let Some(code) = is_terminated_with(status) {
            stopped += 1;
            if code == 0 {
                succeeded += 1;
            }
        } else {
            waiting += 1;
        }
    }
    if waiting > 0 {
        "Pending"
    } else if running > 0 {
        "Running"
    } else if stopped > 0 {
        if policy == "Always" {
            "Running"
        } else if stopped == succeeded {
            "Succeeded"
        } else if policy == "Never" {
            "Failed"
        } else {
            "Running"
        }
    } else {
        "Pending"
    }
}

fn condition(previous: Option<&PodStatus>, kind: &str, ok: bool, reason: Option<&str>, message: Option<String>) -> PodCondition {
    let status = if ok { "True" } else { "False" };
    let earlier = previous.and_then(|status| status.conditions.as_ref()?.iter().find(|condition| condition.type_ == kind));
    let transition = earlier.filter(|earlier| earlier.status == status).and_then(|earlier| earlier.last_transition_time.clone());
    PodCondition {
        type_: kind.to_string(),
        status: status.to_string(),
        reason: if ok { None } else { reason.map(str::to_string) },
        message: if ok { None } else { message },
        last_transition_time: Some(transition.unwrap_or_else(now)),
        last_probe_time: None,
        ..PodCondition::default()
    }
}

fn not_ready_names(statuses: &[ContainerStatus], ready: impl Fn(&ContainerStatus) -> bool) -> Vec<String> {
    statuses.iter().filter(|status| !ready(status)).map(|status| status.name.clone()).collect()
}

fn qos_class(pod: &Pod) -> &'static str {
    let containers = pod.spec.iter().flat_map(|spec| spec.containers.iter().chain(spec.init_containers.iter().flatten()));
    let (mut any, mut guaranteed) = (false, true);
    for container in containers {
        let resources = container.resources.as_ref();
        let requests = resources.and_then(|r| r.requests.clone()).unwrap_or_default();
        let limits = resources.and_then(|r| r.limits.clone()).unwrap_or_default();
        any |= !requests.is_empty() || !limits.is_empty();
        for name in ["cpu", "memory"] {
            let limit = limits.get(name).map(|q| q.0.clone());
            let request = requests.get(name).map(|q| q.0.clone()).or(limit.clone());
            guaranteed &= limit.is_some() && request == limit;
        }
    }
    if !any {
        "BestEffort"
    } else if guaranteed {
        "Guaranteed"
    } else {
        "Burstable"
    }
}

pub fn pod_status(inputs: &Inputs<'_>) -> PodStatus {
    let pod = inputs.pod;
    let previous = pod.status.as_ref();
    let spec = pod.spec.clone().unwrap_or_default();
    let init: Vec<ContainerStatus> = spec.init_containers.iter().flatten().map(|c| container_status(inputs, c, true)).collect();
    let containers: Vec<ContainerStatus> = spec.containers.iter().map(|c| container_status(inputs, c, false)).collect();
    let phase = phase(pod, &init, &containers);
    let terminal = matches!(phase, "Succeeded" | "Failed");
    let incomplete = not_ready_names(&init, |s| s.state.as_ref().and_then(|s| s.terminated.as_ref()).is_some_and(|t| t.exit_code == 0));
    let unready = not_ready_names(&containers, |s| s.ready);
    let list = |names: &[String]| format!("[{}]", names.join(" "));
    let initialized = incomplete.is_empty();
    let (ready_reason, ready_message) = if terminal {
        ("PodCompleted", None)
    } else if !initialized {
        ("ContainersNotInitialized", Some(format!("containers with incomplete status: {}", list(&incomplete))))
    } else {
        ("ContainersNotReady", Some(format!("containers with unready status: {}", list(&unready))))
    };
    let all_ready = initialized && unready.is_empty() && !terminal;
    let mut conditions = vec![
        condition(previous, "PodReadyToStartContainers", inputs.sandbox_ready, None, None),
        condition(
            previous,
            "Initialized",
            initialized,
            Some(if terminal { "PodCompleted" } else { "ContainersNotInitialized" }),
            Some(format!("containers with incomplete status: {}", list(&incomplete))),
        ),
        condition(previous, "Ready", all_ready, Some(ready_reason), ready_message.clone()),
        condition(previous, "ContainersReady", all_ready, Some(ready_reason), ready_message),
    ];
    // Conditions others own (PodScheduled, readiness gates, DisruptionTarget) are kept.
    let ours = ["PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady"];
    conditions.extend(previous.and_then(|status| status.conditions.clone()).into_iter().flatten().filter(|condition| !ours.contains(&condition.type_.as_str())));
    PodStatus {
        phase: Some(phase.to_string()),
        conditions: Some(conditions),
        host_ip: Some(inputs.host_ip.clone()),
        host_ips: Some(vec![HostIP { ip: inputs.host_ip.clone() }]),
        pod_ip: inputs.pod_ip.clone(),
        pod_ips: inputs.pod_ip.clone().map(|ip| vec![PodIP { ip }]),
        start_time: Some(inputs.start_time.clone()),
        qos_class: previous.and_then(|status| status.qos_class.clone()).or_else(|| Some(qos_class(pod).to_string())),
        init_container_statuses: (!init.is_empty()).then_some(init),
        container_statuses: Some(containers),
        ..PodStatus::default()
    }
}

/// Whether writing `new` (as a merge patch) would change `current`.
pub fn differs(current: Option<&PodStatus>, new: &PodStatus) -> bool {
    let Ok(mut merged) = serde_json::to_value(current.cloned().unwrap_or_default()) else { return true };
    let Ok(patch) = serde_json::to_value(new) else { return true };
    let before = merged.clone();
    merge(&mut merged, &patch);
    merged != before
}

fn merge(target: &mut serde_json::Value, patch: &serde_json::Value) {
    match (target, patch) {
        (serde_json::Value::Object(target), serde_json::Value::Object(patch)) => {
            for (key, value) in patch {
                merge(target.entry(key.clone()).or_insert(serde_json::Value::Null), value);
            }
        }
        (target, patch) => *target = patch.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(policy: &str, containers: &[&str], init: &[&str]) -> Pod {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "p", "namespace": "default", "uid": "u1"},
            "spec": {
                "restartPolicy": policy,
                "containers": containers.iter().map(|name| serde_json::json!({"name": name, "image": "busybox"})).collect::<Vec<_>>(),
                "initContainers": init.iter().map(|name| serde_json::json!({"name": name, "image": "busybox"})).collect::<Vec<_>>(),
            },
        }))
        .unwrap()
    }

    fn instance(name: &str, attempt: u32, state: api::ContainerState, exit_code: i32) -> Instance {
        Instance {
            id: format!("{name}-{attempt}"),
            name: name.into(),
            attempt,
            sandbox_id: "s".into(),
            status: api::ContainerStatus { state: state as i32, exit_code, started_at: 1_700_000_000_000_000_000, ..Default::default() },
        }
    }

    /// One start time for every status a test computes: `now()` twice may fall in two
    /// seconds, and a pod's start time never changes once set.
    static START: std::sync::LazyLock<Time> = std::sync::LazyLock::new(now);

    fn status(pod: &Pod, instances: &[Instance], waiting: &HashMap<String, (String, String)>) -> PodStatus {
        let probes = HashMap::new();
        pod_status(&Inputs { pod, instances, sandbox_ready: true, pod_ip: Some("10.0.0.2".into()), host_ip: "127.0.0.1".into(), waiting, probes: &probes, start_time: START.clone() })
    }

    #[test]
    fn phases_follow_the_kubelets_rules() {
        use api::ContainerState::{ContainerExited as Exited, ContainerRunning as Running};
        let none = HashMap::new();
        let always = pod("Always", &["a"], &[]);
        assert_eq!(status(&always, &[], &none).phase.as_deref(), Some("Pending"));
        assert_eq!(status(&always, &[instance("a", 0, Running, 0)], &none).phase.as_deref(), Some("Running"));
        let crash = HashMap::from([("a".to_string(), ("CrashLoopBackOff".to_string(), "back-off".to_string()))]);
        let looping = status(&always, &[instance("a", 2, Exited, 1)], &crash);
        assert_eq!(looping.phase.as_deref(), Some("Running"));
        let a = &looping.container_statuses.unwrap()[0];
        assert_eq!(a.restart_count, 2);
        assert_eq!(a.state.as_ref().unwrap().waiting.as_ref().unwrap().reason.as_deref(), Some("CrashLoopBackOff"));
        assert_eq!(a.last_state.as_ref().unwrap().terminated.as_ref().unwrap().exit_code, 1);
        let never = pod("Never", &["a", "b"], &[]);
        assert_eq!(status(&never, &[instance("a", 0, Exited, 0), instance("b", 0, Exited, 0)], &none).phase.as_deref(), Some("Succeeded"));
        assert_eq!(status(&never, &[instance("a", 0, Exited, 0), instance("b", 0, Exited, 2)], &none).phase.as_deref(), Some("Failed"));
        assert_eq!(status(&never, &[instance("a", 0, Exited, 0), instance("b", 0, Running, 0)], &none).phase.as_deref(), Some("Running"));
        let on_failure = pod("OnFailure", &["a"], &[]);
        assert_eq!(status(&on_failure, &[instance("a", 0, Exited, 1)], &none).phase.as_deref(), Some("Running"));
    }

    #[test]
    fn init_containers_gate_initialized_and_fail_a_never_pod() {
        use api::ContainerState::{ContainerExited as Exited, ContainerRunning as Running};
        let none = HashMap::new();
        let with_init = pod("Always", &["app"], &["setup"]);
        let pending = status(&with_init, &[instance("setup", 0, Running, 0)], &none);
        assert_eq!(pending.phase.as_deref(), Some("Pending"));
        let initialized = pending.conditions.unwrap().into_iter().find(|c| c.type_ == "Initialized").unwrap();
        assert_eq!((initialized.status.as_str(), initialized.message.as_deref()), ("False", Some("containers with incomplete status: [setup]")));
        let app = &pending.container_statuses.unwrap()[0];
        assert_eq!(app.state.as_ref().unwrap().waiting.as_ref().unwrap().reason.as_deref(), Some("PodInitializing"));
        let never = pod("Never", &["app"], &["setup"]);
        assert_eq!(status(&never, &[instance("setup", 0, Exited, 1)], &none).phase.as_deref(), Some("Failed"));
        let done = status(&with_init, &[instance("setup", 0, Exited, 0), instance("app", 0, Running, 0)], &none);
        assert_eq!(done.phase.as_deref(), Some("Running"));
        let ready = done.conditions.unwrap().into_iter().find(|c| c.type_ == "Ready").unwrap();
        assert_eq!(ready.status, "True");
    }

    #[test]
    fn an_unchanged_status_is_not_rewritten() {
        let none = HashMap::new();
        let mut p = pod("Always", &["a"], &[]);
        let first = status(&p, &[], &none);
        assert!(differs(p.status.as_ref(), &first));
        p.status = Some(first);
        let second = status(&p, &[], &none);
        assert!(!differs(p.status.as_ref(), &second), "times of unchanged conditions are kept");
    }
}
