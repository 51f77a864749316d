//! The container exits the apiserver has been told of. A followed log ends when its container
//! stops, but clients (Airflow's KubernetesPodOperator) then read the pod and, seeing the
//! container still running, follow the log again and print it twice. Kubernetes' kubelet
//! reports the terminated state first or at about the same time, so the follow here waits for
//! the pod's status, as last written, to show its container's exit before it ends.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use k8s_openapi::api::core::v1::{ContainerStatus, PodStatus};
use tokio::sync::watch;

/// How long a follow waits for the exit to be reported: the worker is woken by the relist
/// within a second and writes the status at once, so this only bounds a status write that
/// fails (the apiserver away), which must not keep the stream open.
pub const REPORT_WAIT: Duration = Duration::from_secs(5);

/// Per pod uid, the ids (without `containerd://`) of the containers whose exit the status last
/// written, or found already there, shows. A pod with no entry has no worker reporting on it.
pub struct ReportedExits {
    pods: watch::Sender<HashMap<String, HashSet<String>>>,
}

impl Default for ReportedExits {
    fn default() -> Self {
        Self { pods: watch::Sender::new(HashMap::new()) }
    }
}

impl ReportedExits {
    /// The status `status` of pod `uid` is now what the apiserver has.
    pub fn reported(&self, uid: &str, status: &PodStatus) {
        let exited = exited_ids(status);
        self.pods.send_if_modified(|pods| {
            if pods.get(uid) == Some(&exited) {
                return false;
            }
            pods.insert(uid.to_string(), exited);
            true
        });
    }

    /// No worker reports on pod `uid` any more (it was stopped and cleaned up): nobody waits.
    pub fn forget(&self, uid: &str) {
        self.pods.send_if_modified(|pods| pods.remove(uid).is_some());
    }

    /// Waits until the exit of container `id` of pod `uid` is reported, the pod has no worker,
    /// or `within` passes; says whether it was reported (or there is nothing to wait for).
    pub async fn wait(&self, uid: &str, id: &str, within: Duration) -> bool {
        let mut receiver = self.pods.subscribe();
        let done = |pods: &HashMap<String, HashSet<String>>| pods.get(uid).is_none_or(|exited| exited.contains(id));
        matches!(tokio::time::timeout(within, receiver.wait_for(done)).await, Ok(Ok(_)))
    }
}

/// The containers a status shows as exited: those terminated now and those whose last run
/// ended (restarted since, so their log is complete too).
fn exited_ids(status: &PodStatus) -> HashSet<String> {
    let statuses = status
        .container_statuses
        .iter()
        .flatten()
        .chain(status.init_container_statuses.iter().flatten())
        .chain(status.ephemeral_container_statuses.iter().flatten());
    statuses.flat_map(exited_in).map(|id| id.trim_start_matches("containerd://").to_string()).collect()
}

fn exited_in(status: &ContainerStatus) -> Vec<String> {
    let terminated = |state: Option<&k8s_openapi::api::core::v1::ContainerState>| state.and_then(|state| state.terminated.as_ref()).and_then(|terminated| terminated.container_id.clone());
    [terminated(status.state.as_ref()), terminated(status.last_state.as_ref())].into_iter().flatten().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn status(value: serde_json::Value) -> PodStatus {
        serde_json::from_value(value).expect("a PodStatus")
    }

    #[tokio::test]
    async fn a_follow_waits_for_its_containers_exit_to_be_reported() {
        let exits = std::sync::Arc::new(ReportedExits::default());
        assert!(exits.wait("pod", "abc", Duration::ZERO).await, "a pod no worker reports on is not waited for");
        exits.reported("pod", &status(json!({"containerStatuses": [{"name": "main", "image": "i", "imageID": "", "ready": false, "restartCount": 0,
            "containerID": "containerd://abc", "state": {"running": {}}}]})));
        assert!(!exits.wait("pod", "abc", Duration::from_millis(10)).await, "still running as far as the apiserver knows");

        let waiting = tokio::spawn({
            let exits = exits.clone();
            async move { exits.wait("pod", "abc", Duration::from_secs(30)).await }
        });
        exits.reported("pod", &status(json!({"containerStatuses": [{"name": "main", "image": "i", "imageID": "", "ready": false, "restartCount": 0,
            "containerID": "containerd://abc", "state": {"terminated": {"exitCode": 0, "containerID": "containerd://abc"}}}]})));
        assert!(matches!(waiting.await, Ok(true)));

        // A restarted container's previous run is in lastState.
        exits.reported("pod", &status(json!({"containerStatuses": [{"name": "main", "image": "i", "imageID": "", "ready": true, "restartCount": 1,
            "containerID": "containerd://def", "state": {"running": {}}, "lastState": {"terminated": {"exitCode": 1, "containerID": "containerd://abc"}}}]})));
        assert!(exits.wait("pod", "abc", Duration::ZERO).await);
        assert!(!exits.wait("pod", "def", Duration::from_millis(10)).await);
        exits.forget("pod");
        assert!(exits.wait("pod", "def", Duration::ZERO).await);
    }
}
