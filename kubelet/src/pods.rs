//! The pods bound to this node: a watch feeds one worker per pod, a relist of the runtime every
//! second wakes the workers whose containers changed (the kubelet's PLEG), and, once the first
//! list is in, sandboxes of pods this node no longer has are removed.

use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::api::Api;
use kube::runtime::{WatchStreamExt, watcher};
use tokio::sync::{Notify, watch};

use crate::Kubelet;
use crate::spec;

const RELIST: Duration = Duration::from_secs(1);

struct Handle {
    pod: watch::Sender<Option<Arc<Pod>>>,
    wake: Arc<Notify>,
    /// What the last relist saw of the pod's containers and sandboxes.
    seen: u64,
}

pub async fn run(kubelet: Arc<Kubelet>) {
    let pods: Api<Pod> = Api::all(kubelet.client.clone());
    let config = watcher::Config::default().fields(&format!("spec.nodeName={}", kubelet.node_name));
    let mut events = watcher::watcher(pods, config).default_backoff().boxed();
    let mut workers: HashMap<String, Handle> = HashMap::new();
    let mut listed: HashSet<String> = HashSet::new();
    let mut cleaned_up = false;
    let mut relist = tokio::time::interval(RELIST);
    relist.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            event = events.next() => {
                let Some(event) = event else { return };
                match event {
                    Ok(watcher::Event::Init) => listed.clear(),
                    Ok(watcher::Event::InitApply(pod)) => {
                        listed.insert(spec::uid(&pod).to_string());
                        dispatch(&kubelet, &mut workers, pod);
                    }
                    Ok(watcher::Event::Apply(pod)) => dispatch(&kubelet, &mut workers, pod),
                    Ok(watcher::Event::Delete(pod)) => {
                        if let Some(handle) = workers.remove(spec::uid(&pod)) {
                            let _ = handle.pod.send(None);
                        }
                    }
                    Ok(watcher::Event::InitDone) => {
                        // Pods deleted while the watch was down.
                        let gone: Vec<String> = workers.keys().filter(|uid| !listed.contains(*uid)).cloned().collect();
                        for uid in gone {
                            if let Some(handle) = workers.remove(&uid) {
                                let _ = handle.pod.send(None);
                            }
                        }
                        if !cleaned_up {
                            cleaned_up = true;
                            tokio::spawn(remove_orphans(kubelet.clone(), listed.clone()));
                        }
                    }
                    Err(err) => tracing::warn!(node = %kubelet.node_name, "pod watch failed, retrying: {err}"),
                }
            }
            _ = relist.tick() => relist_runtime(&kubelet, &mut workers).await,
        }
    }
}

fn dispatch(kubelet: &Arc<Kubelet>, workers: &mut HashMap<String, Handle>, pod: Pod) {
    let uid = spec::uid(&pod).to_string();
    let pod = Arc::new(pod);
    if let Some(handle) = workers.get(&uid) {
        let _ = handle.pod.send(Some(pod));
        return;
    }
    let (sender, receiver) = watch::channel(Some(pod));
    let wake = Arc::new(Notify::new());
    tokio::spawn(crate::worker::run(kubelet.clone(), receiver, wake.clone()));
    workers.insert(uid, Handle { pod: sender, wake, seen: 0 });
}

/// Wakes every worker whose pod's containers or sandboxes changed state since the last relist.
async fn relist_runtime(kubelet: &Kubelet, workers: &mut HashMap<String, Handle>) {
    let (containers, sandboxes) = match tokio::try_join!(kubelet.runtime.list_containers(), kubelet.runtime.list_pod_sandboxes()) {
        Ok(lists) => lists,
        Err(err) => {
            tracing::debug!("relist failed: {err}");
            return;
        }
    };
    let mut states: HashMap<&str, Vec<(&str, i32)>> = HashMap::new();
    for container in &containers {
        if let Some(uid) = container.labels.get(spec::POD_UID) {
            states.entry(uid.as_str()).or_default().push((container.id.as_str(), container.state));
        }
    }
    for sandbox in &sandboxes {
        if let Some(uid) = sandbox.labels.get(spec::POD_UID) {
            states.entry(uid.as_str()).or_default().push((sandbox.id.as_str(), sandbox.state));
        }
    }
    for (uid, handle) in workers.iter_mut() {
        let mut entries = states.remove(uid.as_str()).unwrap_or_default();
        entries.sort_unstable();
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        entries.hash(&mut hasher);
        let seen = hasher.finish();
        if seen != handle.seen {
            handle.seen = seen;
            handle.wake.notify_one();
        }
    }
}

/// Stops and removes the sandboxes (and so the containers) of pods this node does not run,
/// left from before a restart, and their files.
async fn remove_orphans(kubelet: Arc<Kubelet>, known: HashSet<String>) {
    let sandboxes = match kubelet.runtime.list_pod_sandboxes().await {
        Ok(sandboxes) => sandboxes,
        Err(err) => {
            tracing::warn!("cannot list sandboxes to clean up: {err}");
            return;
        }
    };
    let mut removed = HashSet::new();
    for sandbox in sandboxes {
        let Some(uid) = sandbox.labels.get(spec::POD_UID) else { continue };
        if known.contains(uid) {
            continue;
        }
        let metadata = sandbox.metadata.clone().unwrap_or_default();
        tracing::info!(pod = %format!("{}/{}", metadata.namespace, metadata.name), sandbox = %sandbox.id, "removing the sandbox of a pod this node no longer runs");
        let _ = kubelet.runtime.stop_pod_sandbox(&sandbox.id).await;
        if let Err(err) = kubelet.runtime.remove_pod_sandbox(&sandbox.id).await {
            tracing::warn!(sandbox = %sandbox.id, "cannot remove orphaned sandbox: {err}");
        }
        if removed.insert(uid.clone()) {
            crate::worker::cleanup_pod_files(&kubelet, &metadata.namespace, &metadata.name, uid);
        }
    }
    // Volume directories of pods gone while no sandbox was left.
    if let Ok(entries) = std::fs::read_dir(kubelet.config.root_dir.join("pods")) {
        for entry in entries.flatten() {
            let uid = entry.file_name().to_string_lossy().into_owned();
            if !known.contains(&uid) && !removed.contains(&uid) {
                let _ = crate::volumes::remove(&kubelet.config.root_dir, &uid);
            }
        }
    }
}
