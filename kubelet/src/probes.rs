//! Startup, liveness and readiness probes of one running container, with the timing fields
//! Kubernetes gives them. Results land in a shared state and wake the pod's worker, which acts
//! on them (restarts on liveness or startup failure, readiness in the status).

use std::net::IpAddr;
use std::ops::ControlFlow;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use k8s_openapi::api::core::v1::{Container, ObjectReference, Probe};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use tokio::sync::Notify;
use tokio::task::JoinSet;

use crate::Kubelet;

#[derive(Clone, Debug, Default, PartialEq)]
pub struct ProbeState {
    /// The startup probe succeeded (or there is none).
    pub started: bool,
    /// The readiness probe's verdict (false until it first succeeds).
    pub ready: bool,
    /// Why the container must be restarted, when a liveness or startup probe gave up on it.
    pub failed: Option<String>,
}

/// The probe tasks of one container instance; dropping this stops them.
pub struct Probers {
    state: Arc<Mutex<ProbeState>>,
    _tasks: JoinSet<()>,
}

pub struct Target {
    pub kubelet: Arc<Kubelet>,
    pub container_id: String,
    pub container: Container,
    pub pod_ip: Option<IpAddr>,
    pub pod: ObjectReference,
    /// How long the container has already been running (a restarted kubelet adopts running
    /// containers, whose initial delays may have passed).
    pub running_for: Duration,
    pub wake: Arc<Notify>,
}

#[derive(Clone, Copy)]
enum Kind {
    Startup,
    Liveness,
    Readiness,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Self::Startup => "Startup",
            Self::Liveness => "Liveness",
            Self::Readiness => "Readiness",
        }
    }
}

impl Probers {
    pub fn start(target: Target) -> Self {
        let state = Arc::new(Mutex::new(ProbeState { started: target.container.startup_probe.is_none(), ready: false, failed: None }));
        let mut tasks = JoinSet::new();
        let shared = state.clone();
        tasks.spawn(async move { run(Arc::new(target), shared).await });
        Self { state, _tasks: tasks }
    }

    pub fn state(&self) -> ProbeState {
        self.state.lock().map(|state| state.clone()).unwrap_or_default()
    }
}

fn update(target: &Target, state: &Mutex<ProbeState>, change: impl FnOnce(&mut ProbeState)) {
    let changed = match state.lock() {
        Ok(mut state) => {
            let before = state.clone();
            change(&mut state);
            *state != before
        }
        Err(_) => false,
    };
    if changed {
        target.wake.notify_one();
    }
}

async fn run(target: Arc<Target>, state: Arc<Mutex<ProbeState>>) {
    let restart = |kind: &str| format!("Container {} failed {kind} probe, will be restarted", target.container.name);
    if let Some(probe) = &target.container.startup_probe {
        probe_loop(&target, probe, Kind::Startup, |passed| {
            update(&target, &state, |state| if passed { state.started = true } else { state.failed = Some(restart("startup")) });
            ControlFlow::Break(())
        })
        .await;
        if !state.lock().is_ok_and(|state| state.started) {
            return;
        }
    }
    let liveness = async {
        if let Some(probe) = &target.container.liveness_probe {
            probe_loop(&target, probe, Kind::Liveness, |passed| {
                if passed {
                    return ControlFlow::Continue(());
                }
                update(&target, &state, |state| state.failed = Some(restart("liveness")));
                ControlFlow::Break(())
            })
            .await;
        }
    };
    let readiness = async {
        if let Some(probe) = &target.container.readiness_probe {
            probe_loop(&target, probe, Kind::Readiness, |passed| {
                update(&target, &state, |state| state.ready = passed);
                ControlFlow::Continue(())
            })
            .await;
        }
    };
    tokio::join!(liveness, readiness);
}

struct Timing {
    initial: Duration,
    period: Duration,
    timeout: Duration,
    success: u32,
    failure: u32,
}

fn timing(probe: &Probe) -> Timing {
    let seconds = |value: Option<i32>, default: i32| Duration::from_secs(u64::try_from(value.unwrap_or(default).max(0)).unwrap_or(0));
    Timing {
        initial: seconds(probe.initial_delay_seconds, 0),
        period: seconds(probe.period_seconds, 10).max(Duration::from_secs(1)),
        timeout: seconds(probe.timeout_seconds, 1).max(Duration::from_secs(1)),
        success: u32::try_from(probe.success_threshold.unwrap_or(1).max(1)).unwrap_or(1),
        failure: u32::try_from(probe.failure_threshold.unwrap_or(3).max(1)).unwrap_or(3),
    }
}

/// Probes every period after the initial delay, counting consecutive results as the thresholds
/// do; `verdict` hears each threshold reached (true: successes, false: failures) and says
/// whether to go on.
async fn probe_loop(target: &Target, probe: &Probe, kind: Kind, mut verdict: impl FnMut(bool) -> ControlFlow<()>) {
    let timing = timing(probe);
    tokio::time::sleep(timing.initial.saturating_sub(target.running_for)).await;
    let (mut successes, mut failures) = (0, 0);
    loop {
        let reached = match probe_once(target, probe, timing.timeout).await {
            Ok(()) => {
                failures = 0;
                successes += 1;
                (successes >= timing.success).then_some(true)
            }
            Err(message) => {
                successes = 0;
                failures += 1;
                report(target, kind, &message).await;
                (failures >= timing.failure).then_some(false)
            }
        };
        if let Some(passed) = reached
            && verdict(passed).is_break()
        {
            return;
        }
        tokio::time::sleep(timing.period).await;
    }
}

async fn report(target: &Target, kind: Kind, message: &str) {
    let text = format!("{} probe failed: {message}", kind.name());
    tracing::info!(pod = %format!("{}/{}", target.pod.namespace.as_deref().unwrap_or_default(), target.pod.name.as_deref().unwrap_or_default()), container = %target.container.name, "{text}");
    if let Err(err) = target.kubelet.recorder.record(&target.pod, "Warning", "Unhealthy", "Probe", &text).await {
        tracing::warn!("cannot record event Unhealthy: {err}");
    }
}

fn http() -> &'static reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    // Probes do not reuse connections, as the kubelet's do not: each one tests a fresh connect.
    CLIENT.get_or_init(|| reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap_or_default())
}

fn port(container: &Container, port: &IntOrString) -> Result<u16, String> {
    match port {
        IntOrString::Int(number) => u16::try_from(*number).map_err(|_| format!("port {number} is out of range")),
        IntOrString::String(name) => container
            .ports
            .iter()
            .flatten()
            .find(|port| port.name.as_deref() == Some(name.as_str()))
            .and_then(|port| u16::try_from(port.container_port).ok())
            .ok_or_else(|| format!("no port named {name:?} in container {}", container.name)),
    }
}

async fn probe_once(target: &Target, probe: &Probe, timeout: Duration) -> Result<(), String> {
    if let Some(exec) = &probe.exec {
        let command = exec.command.clone().unwrap_or_default();
        let answer = target.kubelet.runtime.exec_sync(&target.container_id, command.clone(), timeout).await.map_err(|err| err.to_string())?;
        if answer.exit_code == 0 {
            return Ok(());
        }
        let output = String::from_utf8_lossy(if answer.stderr.is_empty() { &answer.stdout } else { &answer.stderr }).trim().to_string();
        return Err(if output.is_empty() { format!("command {command:?} exited with {}", answer.exit_code) } else { output });
    }
    let pod_ip = target.pod_ip.map(|ip| ip.to_string()).unwrap_or_default();
    if let Some(get) = &probe.http_get {
        let host = get.host.clone().filter(|host| !host.is_empty()).unwrap_or(pod_ip);
        let host = if host.contains(':') { format!("[{host}]") } else { host };
        let port = port(&target.container, &get.port)?;
        let scheme = get.scheme.as_deref().unwrap_or("HTTP").to_lowercase();
        let path = get.path.clone().unwrap_or_else(|| "/".into());
        let path = if path.starts_with('/') { path } else { format!("/{path}") };
        let url = format!("{scheme}://{host}:{port}{path}");
        let mut request = http().get(&url).timeout(timeout).header("user-agent", "kube-probe/1.32");
        for header in get.http_headers.iter().flatten() {
            request = request.header(header.name.as_str(), header.value.as_str());
        }
        let response = request.send().await.map_err(|err| format!("Get \"{url}\": {err}"))?;
        let code = response.status().as_u16();
        return if (200..400).contains(&code) { Ok(()) } else { Err(format!("HTTP probe failed with statuscode: {code}")) };
    }
    if let Some(tcp) = &probe.tcp_socket {
        let host = tcp.host.clone().filter(|host| !host.is_empty()).unwrap_or(pod_ip);
        let port = port(&target.container, &tcp.port)?;
        let address = if host.contains(':') { format!("[{host}]:{port}") } else { format!("{host}:{port}") };
        return match tokio::time::timeout(timeout, tokio::net::TcpStream::connect(&address)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(err)) => Err(format!("dial tcp {address}: {err}")),
            Err(_) => Err(format!("dial tcp {address}: i/o timeout")),
        };
    }
    Err("the probe has no handler this kubelet runs (exec, httpGet, tcpSocket)".into())
}
