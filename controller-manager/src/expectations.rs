//! What a controller created and deleted, by pod name, that its informer has not shown yet
//! ("expectations", Kubernetes' `UIDTrackingControllerExpectations`). Pods made from a template
//! get generated names, so a create cannot be made idempotent by its name: a controller that
//! does not act again for an owner until the informer has seen all of its own writes is never
//! reconciled against a store that lags them.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Pod;

/// Expectations older than this are given up on, in case a watch event was lost for good
/// (Kubernetes' `ExpectationsTimeout`).
const TIMEOUT: Duration = Duration::from_secs(300);

/// By the owner's uid.
#[derive(Default)]
pub struct Expectations {
    by_owner: Mutex<HashMap<String, Expected>>,
}

#[derive(Default)]
struct Expected {
    created: HashSet<String>,
    deleted: HashSet<String>,
    since: Option<Instant>,
}

impl Expectations {
    /// The owner created this pod: wait until the informer shows it.
    pub fn created(&self, owner: &str, name: String) {
        self.expect(owner, Some(name), None);
    }

    /// The owner is deleting this pod: wait until the informer shows it gone or going.
    pub fn deleting(&self, owner: &str, name: Option<String>) {
        self.expect(owner, None, name);
    }

    /// The deletion failed: there is nothing to wait for.
    pub fn not_deleted(&self, owner: &str, name: &str) {
        if let Ok(mut by_owner) = self.by_owner.lock()
            && let Some(expected) = by_owner.get_mut(owner)
        {
            expected.deleted.remove(name);
        }
    }

    /// Whether every pod this owner was last seen creating has appeared among `owned`, and every
    /// pod it deleted has gone (or is going); clears what has been seen.
    pub fn met(&self, owner: &str, owned: &[Arc<Pod>]) -> bool {
        let Ok(mut by_owner) = self.by_owner.lock() else {
            return true;
        };
        let Some(expected) = by_owner.get_mut(owner) else {
            return true;
        };
        let present: HashMap<&str, &Pod> = owned.iter().filter_map(|pod| Some((pod.metadata.name.as_deref()?, &**pod))).collect();
        expected.created.retain(|name| !present.contains_key(name.as_str()));
        expected.deleted.retain(|name| present.get(name.as_str()).is_some_and(|pod| pod.metadata.deletion_timestamp.is_none()));
        let timed_out = expected.since.is_some_and(|since| since.elapsed() > TIMEOUT);
        if (expected.created.is_empty() && expected.deleted.is_empty()) || timed_out {
            by_owner.remove(owner);
            return true;
        }
        false
    }

    fn expect(&self, owner: &str, created: Option<String>, deleted: Option<String>) {
        if let Ok(mut by_owner) = self.by_owner.lock() {
            // Owners deleted meanwhile leave theirs behind: forget those that timed out.
            by_owner.retain(|_, expected| expected.since.is_none_or(|since| since.elapsed() <= TIMEOUT));
            let expected = by_owner.entry(owner.to_string()).or_default();
            expected.since = Some(Instant::now());
            expected.created.extend(created);
            expected.deleted.extend(deleted);
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn pod(name: &str, deleting: bool) -> Arc<Pod> {
        let mut metadata = json!({"name": name});
        if deleting {
            metadata["deletionTimestamp"] = json!("2026-01-01T00:00:00Z");
        }
        Arc::new(serde_json::from_value(json!({"metadata": metadata})).unwrap())
    }

    #[test]
    fn met_once_creations_appear_and_deletions_go() {
        let expectations = Expectations::default();
        assert!(expectations.met("rs", &[]), "nothing expected");
        expectations.created("rs", "a".into());
        expectations.deleting("rs", Some("b".into()));
        assert!(!expectations.met("rs", &[pod("b", false)]));
        assert!(!expectations.met("rs", &[pod("a", false), pod("b", false)]), "b is not going yet");
        assert!(expectations.met("rs", &[pod("a", false), pod("b", true)]));
        assert!(expectations.met("other", &[]), "by owner");

        expectations.deleting("rs", Some("c".into()));
        expectations.not_deleted("rs", "c");
        assert!(expectations.met("rs", &[pod("c", false)]), "a failed deletion is not waited for");
    }
}
