//! One pod's worker: brings the runtime toward the pod's spec (sandbox, volumes, init containers
//! in order, containers with their restart policy and back-off, probes), writes the pod's status
//! when it changes, and stops everything gracefully when the pod is deleted.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Container, ObjectReference, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Api, DeleteParams, Patch, PatchParams, Preconditions};
use tokio::sync::{Notify, watch};
use tracing::Instrument;

use crate::Kubelet;
use crate::cri::api;
use crate::env::{Host, Sources};
use crate::probes::{ProbeState, Probers, Target};
use crate::spec::{self, ContainerInput};
use crate::status::{self, Instance};

/// A pod is looked at again this often even when nothing wakes its worker (ConfigMap and Secret
/// volumes follow their sources at this pace).
const RESYNC: Duration = Duration::from_secs(30);
const BACKOFF_START: Duration = Duration::from_secs(10);
const BACKOFF_MAX: Duration = Duration::from_secs(300);
/// A container that ran this long before exiting restarts without back-off.
const BACKOFF_RESET: Duration = Duration::from_secs(600);
/// Retry pace for a sandbox or volume that could not be set up, and for configuration errors.
const SETUP_RETRY: Duration = Duration::from_secs(5);
/// Grace for the containers of a pod that vanished from the apiserver without a graceful delete.
const GONE_GRACE: i64 = 2;

/// Kubernetes' exponential back-off for one key: 10 s doubling to 5 min.
#[derive(Clone, Copy, Debug)]
struct Backoff {
    delay: Duration,
    until: Instant,
}

impl Backoff {
    fn remaining(&self) -> Option<Duration> {
        self.until.checked_duration_since(Instant::now()).filter(|left| !left.is_zero())
    }
}

fn bump(entries: &mut HashMap<String, Backoff>, key: &str) -> Duration {
    let delay = entries.get(key).map_or(BACKOFF_START, |entry| (entry.delay * 2).min(BACKOFF_MAX));
    entries.insert(key.to_string(), Backoff { delay, until: Instant::now() + delay });
    delay
}

pub async fn run(kubelet: Arc<Kubelet>, mut pods: watch::Receiver<Option<Arc<Pod>>>, wake: Arc<Notify>) {
    let Some(first) = pods.borrow().clone() else { return };
    let span = tracing::info_span!("pod", pod = %spec::full_name(&first));
    let mut worker = Worker::new(kubelet, wake.clone(), &first);
    async move {
        loop {
            let current = pods.borrow_and_update().clone();
            let next = match current {
                Some(pod) => {
                    worker.last = Some(pod.clone());
                    worker.sync(&pod).await
                }
                None => {
                    worker.terminate(None).await;
                    return;
                }
            };
            tokio::select! {
                changed = pods.changed() => {
                    if changed.is_err() {
                        worker.terminate(None).await;
                        return;
                    }
                }
                () = wake.notified() => {}
                () = tokio::time::sleep(next.unwrap_or(RESYNC).min(RESYNC)) => {}
            }
        }
    }
    .instrument(span)
    .await;
}

struct Worker {
    kubelet: Arc<Kubelet>,
    wake: Arc<Notify>,
    reference: ObjectReference,
    last: Option<Arc<Pod>>,
    /// Restart back-off per container name, pull back-off per image.
    restarts: HashMap<String, Backoff>,
    pulls: HashMap<String, Backoff>,
    /// Why a container is not running, for those the last attempt could not start.
    waiting: HashMap<String, (String, String)>,
    /// Probes per container id.
    probers: HashMap<String, (String, Probers)>,
    start_time: Option<Time>,
    /// The pod's claim-backed volumes once resolved: kept for the pod's life, as the volume
    /// manager keeps a mounted volume whatever later happens to its claim.
    claims: HashMap<String, crate::volumes::Prepared>,
    /// Everything is stopped and removed; only the deletion of the pod object may be left.
    finished: bool,
}

/// What the runtime holds for the pod.
struct Snapshot {
    /// Newest first.
    sandboxes: Vec<api::PodSandbox>,
    /// Newest attempt first per name.
    instances: Vec<Instance>,
}

impl Snapshot {
    fn ready_sandbox(&self) -> Option<&api::PodSandbox> {
        self.sandboxes.iter().find(|sandbox| sandbox.state == api::PodSandboxState::SandboxReady as i32)
    }

    fn latest(&self, name: &str) -> Option<&Instance> {
        self.instances.iter().find(|instance| instance.name == name)
    }
}

impl Worker {
    fn new(kubelet: Arc<Kubelet>, wake: Arc<Notify>, pod: &Pod) -> Self {
        Self {
            kubelet,
            wake,
            reference: common::events::reference(pod),
            last: None,
            restarts: HashMap::new(),
            pulls: HashMap::new(),
            waiting: HashMap::new(),
            probers: HashMap::new(),
            start_time: pod.status.as_ref().and_then(|status| status.start_time.clone()),
            claims: HashMap::new(),
            finished: false,
        }
    }

    /// A failed write is tried again soon rather than at the next resync.
    fn wake_later(&self) {
        let wake = self.wake.clone();
        tokio::spawn(async move {
            tokio::time::sleep(SETUP_RETRY).await;
            wake.notify_one();
        });
    }

    async fn event(&self, kind: &str, reason: &str, message: &str) {
        // Events with an eventTime need an action; the reason names it well enough.
        if let Err(err) = self.kubelet.recorder.record(&self.reference, kind, reason, reason, message).await {
            tracing::warn!("cannot record event {reason}: {err}");
        }
    }

    async fn snapshot(&self, uid: &str) -> Result<Snapshot, crate::cri::CriError> {
        let runtime = &self.kubelet.runtime;
        let mut sandboxes: Vec<api::PodSandbox> =
            runtime.list_pod_sandboxes().await?.into_iter().filter(|sandbox| sandbox.labels.get(spec::POD_UID).map(String::as_str) == Some(uid)).collect();
        sandboxes.sort_by_key(|sandbox| std::cmp::Reverse(sandbox.created_at));
        let mut instances = Vec::new();
        for container in runtime.list_containers().await? {
            if container.labels.get(spec::POD_UID).map(String::as_str) != Some(uid) {
                continue;
            }
            let status = match runtime.container_status(&container.id).await {
                Ok(status) => status,
                Err(err) if err.is_not_found() => continue,
                Err(err) => return Err(err),
            };
            let metadata = container.metadata.clone().unwrap_or_default();
            instances.push(Instance { id: container.id, name: metadata.name, attempt: metadata.attempt, sandbox_id: container.pod_sandbox_id, status });
        }
        instances.sort_by(|a, b| a.name.cmp(&b.name).then(b.attempt.cmp(&a.attempt)).then(b.status.created_at.cmp(&a.status.created_at)));
        Ok(Snapshot { sandboxes, instances })
    }

    /// One pass over the pod; returns when to look again at the latest.
    async fn sync(&mut self, pod: &Arc<Pod>) -> Option<Duration> {
        if pod.metadata.deletion_timestamp.is_some() {
            self.terminate(Some(pod)).await;
            return None;
        }
        if self.finished {
            return None;
        }
        let uid = spec::uid(pod).to_string();
        let terminal = pod.status.as_ref().and_then(|status| status.phase.as_deref()).is_some_and(|phase| matches!(phase, "Succeeded" | "Failed"));
        let mut snapshot = match self.snapshot(&uid).await {
            Ok(snapshot) => snapshot,
            Err(err) => {
                tracing::warn!("cannot read the pod's containers from the runtime: {err}");
                return Some(SETUP_RETRY);
            }
        };
        if terminal {
            // A finished pod keeps its containers (for logs) but frees its sandbox and address.
            self.probers.clear();
            for sandbox in snapshot.sandboxes.iter().filter(|sandbox| sandbox.state == api::PodSandboxState::SandboxReady as i32) {
                if let Err(err) = self.kubelet.runtime.stop_pod_sandbox(&sandbox.id).await {
                    tracing::warn!("cannot stop the sandbox of a finished pod: {err}");
                }
            }
            return None;
        }
        if self.start_time.is_none() {
            self.start_time = Some(status::now());
        }
        let mut retry: Option<Duration> = None;
        let sandbox = match snapshot.ready_sandbox().cloned() {
            Some(sandbox) => Some(sandbox),
            None => match self.create_sandbox(pod, &snapshot).await {
                Ok(()) => match self.snapshot(&uid).await {
                    Ok(fresh) => {
                        snapshot = fresh;
                        snapshot.ready_sandbox().cloned()
                    }
                    Err(err) => {
                        tracing::warn!("cannot read the new sandbox: {err}");
                        None
                    }
                },
                Err(message) => {
                    tracing::warn!("{message}");
                    self.event("Warning", "FailedCreatePodSandBox", &message).await;
                    retry = Some(SETUP_RETRY);
                    None
                }
            },
        };
        let mut pod_ip: Option<IpAddr> = None;
        if let Some(sandbox) = &sandbox {
            match self.kubelet.runtime.pod_sandbox_status(&sandbox.id).await {
                Ok(status) => pod_ip = status.network.and_then(|network| network.ip.parse().ok()),
                Err(err) => tracing::warn!("cannot read the sandbox's status: {err}"),
            }
            if pod.spec.as_ref().and_then(|spec| spec.host_network).unwrap_or(false) {
                pod_ip = Some(self.kubelet.node_ip);
            }
            let next = self.sync_containers(pod, sandbox, pod_ip, &snapshot).await;
            retry = min_wait(retry, next);
            match self.snapshot(&uid).await {
                Ok(fresh) => snapshot = fresh,
                Err(err) => tracing::warn!("cannot read the pod's containers from the runtime: {err}"),
            }
            self.collect_garbage(&snapshot, &sandbox.id).await;
        }
        self.ensure_probers(pod, &snapshot, pod_ip);
        let probes: HashMap<String, ProbeState> =
            snapshot.instances.iter().filter_map(|instance| self.probers.get(&instance.id).map(|(name, probers)| (name.clone(), probers.state()))).collect();
        let new_status = status::pod_status(&status::Inputs {
            pod,
            instances: &snapshot.instances,
            sandbox_ready: sandbox.is_some(),
            pod_ip: pod_ip.map(|ip| ip.to_string()),
            host_ip: self.kubelet.node_ip.to_string(),
            waiting: &self.waiting,
            probes: &probes,
            start_time: self.start_time.clone().unwrap_or_else(status::now),
        });
        self.write_status(pod, &new_status).await;
        retry
    }

    async fn create_sandbox(&mut self, pod: &Pod, snapshot: &Snapshot) -> Result<(), String> {
        let attempt = snapshot.sandboxes.iter().filter_map(|sandbox| sandbox.metadata.as_ref()).map(|metadata| metadata.attempt + 1).max().unwrap_or(0);
        for old in &snapshot.sandboxes {
            if let Err(err) = self.kubelet.runtime.stop_pod_sandbox(&old.id).await {
                tracing::warn!("cannot stop the old sandbox {}: {err}", old.id);
            }
        }
        let log_directory = spec::log_directory(&self.kubelet, pod);
        std::fs::create_dir_all(&log_directory).map_err(|err| format!("cannot create the log directory {}: {err}", log_directory.display()))?;
        let config = spec::sandbox_config(&self.kubelet, pod, attempt);
        let id = self.kubelet.runtime.run_pod_sandbox(config).await.map_err(|err| format!("Failed to create pod sandbox: {err}"))?;
        tracing::info!(sandbox = %id, attempt, "sandbox running");
        Ok(())
    }

    /// Init containers one at a time, then every container; returns when to look again.
    async fn sync_containers(&mut self, pod: &Arc<Pod>, sandbox: &api::PodSandbox, pod_ip: Option<IpAddr>, snapshot: &Snapshot) -> Option<Duration> {
        let spec = pod.spec.clone().unwrap_or_default();
        let host_ip = self.kubelet.node_ip.to_string();
        let pod_ip_text = pod_ip.map(|ip| ip.to_string()).unwrap_or_default();
        let host = Host {
            host_ip: &host_ip,
            pod_ip: &pod_ip_text,
            cpus: crate::node::cpus(),
            memory_bytes: crate::node::memory_bytes(),
        };
        // Its own handle: the sources borrow from it while the worker changes itself.
        let kubelet = self.kubelet.clone();
        let mut sources = Sources::new(&kubelet.client, &kubelet.tokens, pod.metadata.namespace.as_deref().unwrap_or("default"));
        let volumes = match crate::volumes::prepare(&kubelet.config.root_dir, pod, &mut sources, &host, &kubelet.client, &mut self.claims).await {
            Ok(volumes) => volumes,
            Err(err) => {
                let message = err.to_string();
                tracing::warn!("{message}");
                self.event("Warning", "FailedMount", &message).await;
                return Some(SETUP_RETRY);
            }
        };
        // Pods on their own network get the kubelet's /etc/hosts (their own name, hostAliases);
        // on the node's network they see the node's, as the runtime mounts it.
        let hosts = if pod.spec.as_ref().and_then(|spec| spec.host_network).unwrap_or(false) {
            None
        } else {
            let path = crate::volumes::pod_dir(&self.kubelet.config.root_dir, spec::uid(pod)).join("etc-hosts");
            let text = crate::dns::hosts_file(pod, &pod_ip_text, &self.kubelet.config.cluster_domain);
            let written = path.parent().map_or(Ok(()), std::fs::create_dir_all).and_then(|()| {
                if std::fs::read_to_string(&path).is_ok_and(|existing| existing == text) { Ok(()) } else { std::fs::write(&path, &text) }
            });
            match written {
                Ok(()) => Some(path),
                Err(err) => {
                    tracing::warn!("cannot write the pod's hosts file: {err}");
                    return Some(SETUP_RETRY);
                }
            }
        };
        // What the runtime is told of the sandbox with every pull and container it makes in it.
        let sandbox_config = spec::sandbox_config(&self.kubelet, pod, sandbox.metadata.as_ref().map_or(0, |metadata| metadata.attempt));
        let mut context = StartContext { pod, sandbox, sandbox_config: &sandbox_config, sources: &mut sources, host: &host, volumes: &volumes, hosts: hosts.as_deref() };
        let policy = spec.restart_policy.as_deref().unwrap_or("Always");
        let current: Vec<&Instance> = snapshot.instances.iter().filter(|instance| instance.sandbox_id == sandbox.id).collect();
        let mut wait: Option<Duration> = None;
        for container in spec.init_containers.iter().flatten() {
            let latest = current.iter().copied().find(|instance| instance.name == container.name);
            match latest {
                Some(instance) if instance.exited() && instance.status.exit_code == 0 => continue,
                Some(instance) if instance.running() => return None,
                Some(instance) => {
                    if policy == "Never" {
                        return None;
                    }
                    let next = self.restart(&mut context, container, true, instance, snapshot).await;
                    return min_wait(wait, next);
                }
                None => {
                    let attempt = snapshot.latest(&container.name).map_or(0, |instance| instance.attempt + 1);
                    let next = self.start(&mut context, container, true, attempt).await;
                    return min_wait(wait, next);
                }
            }
        }
        for container in &spec.containers {
            let latest = current.iter().copied().find(|instance| instance.name == container.name);
            match latest {
                Some(instance) if instance.running() => {
                    let failed = self.probers.get(&instance.id).and_then(|(_, probers)| probers.state().failed);
                    if let Some(message) = failed {
                        self.probers.remove(&instance.id);
                        self.event("Normal", "Killing", &message).await;
                        let grace = spec.termination_grace_period_seconds.unwrap_or(30);
                        if let Err(err) = self.kubelet.runtime.stop_container(&instance.id, grace).await {
                            tracing::warn!(container = %container.name, "cannot stop the container: {err}");
                        }
                        // The restart follows on the next pass, with the restart policy.
                        wait = min_wait(wait, Some(Duration::ZERO));
                    }
                }
                Some(instance) => {
                    let restart = match policy {
                        "Never" => false,
                        "OnFailure" => !(instance.exited() && instance.status.exit_code == 0),
                        _ => true,
                    };
                    if restart {
                        let next = self.restart(&mut context, container, false, instance, snapshot).await;
                        wait = min_wait(wait, next);
                    } else {
                        self.waiting.remove(&container.name);
                    }
                }
                None => {
                    // A container that finished in an earlier sandbox is not run again unless
                    // its policy says so.
                    let earlier = snapshot.latest(&container.name);
                    let done = earlier.is_some_and(|instance| instance.exited() && (policy == "Never" || (policy == "OnFailure" && instance.status.exit_code == 0)));
                    if !done {
                        let attempt = earlier.map_or(0, |instance| instance.attempt + 1);
                        let next = self.start(&mut context, container, false, attempt).await;
                        wait = min_wait(wait, next);
                    }
                }
            }
        }
        wait
    }

    /// A container that exited (or never started) and is to run again, after its back-off.
    async fn restart(&mut self, context: &mut StartContext<'_, '_>, container: &Container, init: bool, instance: &Instance, snapshot: &Snapshot) -> Option<Duration> {
        let ran_for = Duration::from_nanos(u64::try_from((instance.status.finished_at - instance.status.started_at).max(0)).unwrap_or(0));
        if instance.status.started_at > 0 && ran_for >= BACKOFF_RESET {
            self.restarts.remove(&container.name);
        }
        if let Some(left) = self.restarts.get(&container.name).and_then(Backoff::remaining) {
            let delay = self.restarts.get(&container.name).map_or(BACKOFF_START, |entry| entry.delay);
            let pod = context.pod;
            let message = format!(
                "back-off {} restarting failed container={} pod={}_{}({})",
                common::durations::human_duration(i64::try_from(delay.as_secs()).unwrap_or(0)),
                container.name,
                pod.metadata.name.as_deref().unwrap_or_default(),
                pod.metadata.namespace.as_deref().unwrap_or_default(),
                spec::uid(pod)
            );
            if self.waiting.get(&container.name).is_none_or(|(reason, _)| reason != "CrashLoopBackOff") {
                self.event("Warning", "BackOff", "Back-off restarting failed container").await;
            }
            self.waiting.insert(container.name.clone(), ("CrashLoopBackOff".into(), message));
            return Some(left);
        }
        bump(&mut self.restarts, &container.name);
        let attempt = snapshot.latest(&container.name).map_or(instance.attempt + 1, |latest| latest.attempt + 1);
        self.start(context, container, init, attempt).await
    }

    /// Pulls the image, creates and starts the container; a failure is kept as the container's
    /// waiting reason. Returns when to try again after a failure.
    async fn start(&mut self, context: &mut StartContext<'_, '_>, container: &Container, init: bool, attempt: u32) -> Option<Duration> {
        match self.try_start(context, container, init, attempt).await {
            Ok(()) => {
                self.waiting.remove(&container.name);
                None
            }
            Err((reason, message, retry)) => {
                tracing::warn!(container = %container.name, "{reason}: {message}");
                self.waiting.insert(container.name.clone(), (reason.to_string(), message));
                Some(retry)
            }
        }
    }

    async fn try_start(&mut self, context: &mut StartContext<'_, '_>, container: &Container, init: bool, attempt: u32) -> Result<(), (&'static str, String, Duration)> {
        let runtime = self.kubelet.runtime.clone();
        let image = container.image.clone().unwrap_or_default();
        let image_ref = self.ensure_image(&image, container.image_pull_policy.as_deref(), context.sandbox_config).await?;
        let config_error = |message: String| ("CreateContainerConfigError", message, SETUP_RETRY);
        let env = match crate::env::container_env(context.sources, context.pod, container, context.host).await {
            Ok(env) => env,
            Err(err) => {
                self.event("Warning", "Failed", &format!("Error: {err}")).await;
                return Err(config_error(err.to_string()));
            }
        };
        let sub_paths = crate::volumes::sub_paths_dir(&self.kubelet.config.root_dir, context.pod.metadata.uid.as_deref().unwrap_or_default());
        let mut mounts = crate::volumes::mounts(container, context.volumes, &env, &sub_paths).map_err(config_error)?;
        if let Some(hosts) = context.hosts.filter(|_| !mounts.iter().any(|mount| mount.container_path == "/etc/hosts")) {
            mounts.push(api::Mount { container_path: "/etc/hosts".into(), host_path: hosts.to_string_lossy().into_owned(), ..Default::default() });
        }
        let log_dir = spec::log_directory(&self.kubelet, context.pod).join(&container.name);
        std::fs::create_dir_all(&log_dir).map_err(|err| config_error(format!("cannot create {}: {err}", log_dir.display())))?;
        let config = spec::container_config(ContainerInput { pod: context.pod, container, init, attempt, image_ref, env, mounts });
        let id = match runtime.create_container(&context.sandbox.id, config, context.sandbox_config.clone()).await {
            Ok(id) => id,
            Err(err) => {
                self.event("Warning", "Failed", &format!("Error: {}", err.message)).await;
                return Err(("CreateContainerError", err.message, BACKOFF_START));
            }
        };
        self.event("Normal", "Created", &format!("Created container {}", container.name)).await;
        if let Err(err) = runtime.start_container(&id).await {
            self.event("Warning", "Failed", &format!("Error: {}", err.message)).await;
            // The runtime keeps the failed container (exited, StartError); its restart backs off.
            bump(&mut self.restarts, &container.name);
            return Err(("RunContainerError", err.message, BACKOFF_START));
        }
        self.event("Normal", "Started", &format!("Started container {}", container.name)).await;
        if let Some(hook) = container.lifecycle.as_ref().and_then(|lifecycle| lifecycle.post_start.as_ref())
            && let Some(exec) = &hook.exec {
                let command = exec.command.clone().unwrap_or_default();
                let failed = match runtime.exec_sync(&id, command, Duration::from_secs(30)).await {
                    Ok(answer) if answer.exit_code == 0 => None,
                    Ok(answer) => Some(format!("exited with {}: {}", answer.exit_code, String::from_utf8_lossy(&answer.stderr).trim())),
                    Err(err) => Some(err.to_string()),
                };
                if let Some(failure) = failed {
                    let message = format!("PostStartHook failed: {failure}");
                    self.event("Warning", "FailedPostStartHook", &message).await;
                    let _ = runtime.stop_container(&id, 0).await;
                    bump(&mut self.restarts, &container.name);
                    return Err(("PostStartHookError", message, BACKOFF_START));
                }
            }
        Ok(())
    }

    /// The image by the pod's pull policy; the runtime's reference to it.
    async fn ensure_image(&mut self, image: &str, policy: Option<&str>, sandbox_config: &api::PodSandboxConfig) -> Result<String, (&'static str, String, Duration)> {
        let runtime = &self.kubelet.runtime;
        let untagged_or_latest = {
            let last = image.rsplit('/').next().unwrap_or(image);
            !last.contains('@') && last.split_once(':').is_none_or(|(_, tag)| tag == "latest")
        };
        let policy = policy.unwrap_or(if untagged_or_latest { "Always" } else { "IfNotPresent" });
        if policy != "Always" {
            match runtime.image_status(image).await {
                Ok(Some(found)) => {
                    // kube's image manager says so on each start that needs no pull, under the
                    // same reason as a pull, so that a client waiting for `Pulled` sees one.
                    self.event("Normal", "Pulled", &format!("Container image \"{image}\" already present on machine")).await;
                    return Ok(found.id);
                }
                Ok(None) if policy == "Never" => {
                    let message = format!("Container image \"{image}\" is not present with pull policy of Never");
                    self.event("Warning", "ErrImageNeverPull", &message).await;
                    return Err(("ErrImageNeverPull", message, SETUP_RETRY));
                }
                Ok(None) => {}
                Err(err) => return Err(("ErrImagePull", err.message, SETUP_RETRY)),
            }
        }
        if let Some(left) = self.pulls.get(image).and_then(Backoff::remaining) {
            return Err(("ImagePullBackOff", format!("Back-off pulling image \"{image}\""), left));
        }
        self.event("Normal", "Pulling", &format!("Pulling image \"{image}\"")).await;
        let started = Instant::now();
        match runtime.pull_image(image, Some(sandbox_config.clone())).await {
            Ok(image_ref) => {
                self.pulls.remove(image);
                self.event("Normal", "Pulled", &format!("Successfully pulled image \"{image}\" in {:.3}s", started.elapsed().as_secs_f64())).await;
                Ok(image_ref)
            }
            Err(err) => {
                let delay = bump(&mut self.pulls, image);
                let message = format!("Failed to pull image \"{image}\": {}", err.message);
                self.event("Warning", "Failed", &message).await;
                Err(("ErrImagePull", message, delay))
            }
        }
    }

    /// Probers for running containers that have probes; none for anything else.
    fn ensure_probers(&mut self, pod: &Pod, snapshot: &Snapshot, pod_ip: Option<IpAddr>) {
        let spec = pod.spec.clone().unwrap_or_default();
        let running: HashMap<&str, &Instance> = snapshot.instances.iter().filter(|i| i.running()).map(|i| (i.id.as_str(), i)).collect();
        self.probers.retain(|id, _| running.contains_key(id.as_str()));
        for instance in running.values() {
            if self.probers.contains_key(&instance.id) {
                continue;
            }
            let Some(container) = spec.containers.iter().find(|c| c.name == instance.name) else { continue };
            if container.liveness_probe.is_none() && container.readiness_probe.is_none() && container.startup_probe.is_none() {
                continue;
            }
            let started_at = u64::try_from(instance.status.started_at.max(0)).unwrap_or(0);
            let now = u64::try_from(jiff::Timestamp::now().as_nanosecond().max(0)).unwrap_or(0);
            let probers = Probers::start(Target {
                kubelet: self.kubelet.clone(),
                container_id: instance.id.clone(),
                container: container.clone(),
                pod_ip,
                pod: self.reference.clone(),
                running_for: Duration::from_nanos(now.saturating_sub(started_at)),
                wake: self.wake.clone(),
            });
            self.probers.insert(instance.id.clone(), (instance.name.clone(), probers));
        }
    }

    /// Keeps the newest dead instance of each container (for `logs --previous`) and drops
    /// older ones, and removes stopped sandboxes that nothing in them is kept for.
    async fn collect_garbage(&self, snapshot: &Snapshot, current_sandbox: &str) {
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for instance in &snapshot.instances {
            let count = seen.entry(instance.name.as_str()).or_insert(0);
            *count += 1;
            if *count > 2 && instance.exited() {
                if let Err(err) = self.kubelet.runtime.remove_container(&instance.id).await {
                    tracing::debug!("cannot remove old container {}: {err}", instance.id);
                }
                let _ = std::fs::remove_file(&instance.status.log_path);
            }
        }
        for sandbox in snapshot.sandboxes.iter().filter(|sandbox| sandbox.id != current_sandbox) {
            let kept = snapshot.instances.iter().any(|instance| instance.sandbox_id == sandbox.id);
            if !kept {
                let _ = self.kubelet.runtime.stop_pod_sandbox(&sandbox.id).await;
                if let Err(err) = self.kubelet.runtime.remove_pod_sandbox(&sandbox.id).await {
                    tracing::debug!("cannot remove old sandbox {}: {err}", sandbox.id);
                }
            }
        }
    }

    async fn write_status(&self, pod: &Pod, new: &k8s_openapi::api::core::v1::PodStatus) {
        if !status::differs(pod.status.as_ref(), new) {
            // What the apiserver has already: reported.
            self.kubelet.exits.reported(spec::uid(pod), new);
            return;
        }
        let pods: Api<Pod> = Api::namespaced(self.kubelet.client.clone(), pod.metadata.namespace.as_deref().unwrap_or("default"));
        let patch = serde_json::json!({"metadata": {"uid": spec::uid(pod)}, "status": new});
        let name = pod.metadata.name.as_deref().unwrap_or_default();
        match pods.patch_status(name, &PatchParams::default(), &Patch::Merge(patch)).await {
            Ok(_) => {
                tracing::debug!(phase = ?new.phase, "status written");
                self.kubelet.exits.reported(spec::uid(pod), new);
            }
            Err(kube::Error::Api(status)) if status.code == 404 || status.code == 409 => tracing::debug!("pod gone before its status was written"),
            Err(err) => {
                tracing::warn!("cannot write the pod's status: {err}");
                self.wake_later();
            }
        }
    }

    /// Stops the pod: preStop hooks, SIGTERM, SIGKILL after the grace period; then removes its
    /// sandboxes, volumes and cgroups, and finally the pod object (grace 0, on its uid).
    async fn terminate(&mut self, pod: Option<&Arc<Pod>>) {
        let gone = pod.is_none();
        let Some(pod) = pod.cloned().or_else(|| self.last.clone()) else { return };
        if self.finished && gone {
            return;
        }
        let uid = spec::uid(&pod).to_string();
        if !self.finished {
            let spec_grace = pod.spec.as_ref().and_then(|spec| spec.termination_grace_period_seconds).unwrap_or(30);
            let grace = if gone { GONE_GRACE.min(spec_grace) } else { pod.metadata.deletion_grace_period_seconds.unwrap_or(spec_grace) }.max(0);
            self.probers.clear();
            let snapshot = match self.snapshot(&uid).await {
                Ok(snapshot) => snapshot,
                Err(err) => {
                    tracing::warn!("cannot read the pod's containers to stop them: {err}");
                    self.wake_later();
                    return;
                }
            };
            let deadline = Instant::now() + Duration::from_secs(u64::try_from(grace).unwrap_or(0));
            let stops = snapshot.instances.iter().filter(|instance| instance.running()).map(|instance| {
                let container = pod.spec.as_ref().and_then(|spec| spec.containers.iter().chain(spec.init_containers.iter().flatten()).find(|c| c.name == instance.name).cloned());
                self.stop_container(instance, container, deadline, pod.status.as_ref().and_then(|s| s.pod_ip.clone()))
            });
            futures::future::join_all(stops).await;
            for sandbox in &snapshot.sandboxes {
                if let Err(err) = self.kubelet.runtime.stop_pod_sandbox(&sandbox.id).await {
                    tracing::warn!("cannot stop sandbox {}: {err}", sandbox.id);
                }
            }
            if !gone
                && let Ok(stopped) = self.snapshot(&uid).await {
                    let probes = HashMap::new();
                    let new_status = status::pod_status(&status::Inputs {
                        pod: &pod,
                        instances: &stopped.instances,
                        sandbox_ready: false,
                        pod_ip: pod.status.as_ref().and_then(|status| status.pod_ip.clone()),
                        host_ip: self.kubelet.node_ip.to_string(),
                        waiting: &HashMap::new(),
                        probes: &probes,
                        start_time: self.start_time.clone().unwrap_or_else(status::now),
                    });
                    self.write_status(&pod, &new_status).await;
                }
            for sandbox in &snapshot.sandboxes {
                if let Err(err) = self.kubelet.runtime.remove_pod_sandbox(&sandbox.id).await {
                    tracing::warn!("cannot remove sandbox {}: {err}", sandbox.id);
                }
            }
            cleanup_pod_files(&self.kubelet, pod.metadata.namespace.as_deref().unwrap_or_default(), pod.metadata.name.as_deref().unwrap_or_default(), &uid);
            self.finished = true;
            // Nothing of this pod is reported any more; a follow still open need not wait.
            self.kubelet.exits.forget(&uid);
            tracing::info!("pod stopped");
        }
        if !gone {
            let pods: Api<Pod> = Api::namespaced(self.kubelet.client.clone(), pod.metadata.namespace.as_deref().unwrap_or("default"));
            let params = DeleteParams { grace_period_seconds: Some(0), preconditions: Some(Preconditions { uid: Some(uid), resource_version: None }), ..DeleteParams::default() };
            match pods.delete(pod.metadata.name.as_deref().unwrap_or_default(), &params).await {
                Ok(_) => {}
                Err(kube::Error::Api(status)) if status.code == 404 || status.code == 409 => {}
                Err(err) => {
                    tracing::warn!("cannot delete the stopped pod: {err}");
                    self.wake_later();
                }
            }
        }
    }

    async fn stop_container(&self, instance: &Instance, container: Option<Container>, deadline: Instant, pod_ip: Option<String>) {
        let runtime = &self.kubelet.runtime;
        self.event("Normal", "Killing", &format!("Stopping container {}", instance.name)).await;
        if let Some(hook) = container.as_ref().and_then(|c| c.lifecycle.as_ref()).and_then(|lifecycle| lifecycle.pre_stop.as_ref()) {
            let left = deadline.saturating_duration_since(Instant::now());
            let run_hook = async {
                if let Some(exec) = &hook.exec {
                    runtime.exec_sync(&instance.id, exec.command.clone().unwrap_or_default(), left.max(Duration::from_secs(1))).await.map(drop).map_err(|err| err.to_string())
                } else if let Some(sleep) = &hook.sleep {
                    tokio::time::sleep(Duration::from_secs(u64::try_from(sleep.seconds).unwrap_or(0))).await;
                    Ok(())
                } else if let Some(get) = &hook.http_get {
                    let host = get.host.clone().or(pod_ip).unwrap_or_default();
                    let port = match &get.port {
                        k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(port) => port.to_string(),
                        k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::String(name) => name.clone(),
                    };
                    let url = format!("http://{host}:{port}{}", get.path.as_deref().unwrap_or("/"));
                    reqwest::get(&url).await.map(drop).map_err(|err| err.to_string())
                } else {
                    Ok(())
                }
            };
            match tokio::time::timeout(left, run_hook).await {
                Ok(Ok(())) => {}
                Ok(Err(err)) => self.event("Warning", "FailedPreStopHook", &format!("PreStopHook failed: {err}")).await,
                Err(_) => tracing::info!(container = %instance.name, "preStop hook ran out of the grace period"),
            }
        }
        // Whole seconds, rounded up: the grace period is never cut short.
        let left = deadline.saturating_duration_since(Instant::now()).as_millis().div_ceil(1000);
        if let Err(err) = runtime.stop_container(&instance.id, i64::try_from(left).unwrap_or(0)).await
            && !err.is_not_found() {
                tracing::warn!(container = %instance.name, "cannot stop the container: {err}");
            }
    }
}

struct StartContext<'a, 's> {
    pod: &'a Pod,
    sandbox: &'a api::PodSandbox,
    sandbox_config: &'a api::PodSandboxConfig,
    sources: &'a mut Sources<'s>,
    host: &'a Host<'a>,
    volumes: &'a HashMap<String, crate::volumes::Prepared>,
    /// The pod's managed /etc/hosts, for pods on their own network.
    hosts: Option<&'a std::path::Path>,
}

fn min_wait(a: Option<Duration>, b: Option<Duration>) -> Option<Duration> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Removes the pod's volumes, logs and cgroups (the runtime leaves its pod cgroup behind).
pub fn cleanup_pod_files(kubelet: &Kubelet, namespace: &str, name: &str, uid: &str) {
    if let Err(err) = crate::volumes::remove(&kubelet.config.root_dir, uid) {
        tracing::warn!("cannot remove the pod's volumes: {err}");
    }
    let _ = std::fs::remove_dir_all(spec::log_directory_of(kubelet, namespace, name, uid));
    common::cgroups::remove_tree(&spec::cgroup_parent(kubelet, uid));
}
