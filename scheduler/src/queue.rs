//! The scheduling queue, after kube-scheduler's: pods ready to try (highest priority, then first
//! come), pods backing off after a failed attempt (1 s doubling to 10 s), and pods no node could
//! take, which wait until a cluster event (a node added or changed, a pod gone) might let them fit,
//! or at most `UNSCHEDULABLE_MAX` before they are tried anyway.

use std::cmp::Reverse;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::cache::PodInfo;

const INITIAL_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(10);
const UNSCHEDULABLE_MAX: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Active,
    Backoff(Instant),
    Unschedulable(Instant),
    /// Popped: being scheduled, or its binding is being written.
    InFlight,
}

struct Entry {
    info: Arc<PodInfo>,
    state: State,
    attempts: u32,
    last_attempt: Option<Instant>,
    /// Its key in `active` while active.
    key: (Reverse<i32>, u64),
}

#[derive(Default)]
pub struct Queue {
    entries: HashMap<String, Entry>,
    active: BTreeMap<(Reverse<i32>, u64), String>,
    backoff: BTreeMap<(Instant, u64), String>,
    unschedulable: BTreeMap<(Instant, u64), String>,
    sequence: u64,
}

impl Queue {
    fn next_sequence(&mut self) -> u64 {
        self.sequence += 1;
        self.sequence
    }

    fn activate(&mut self, uid: &str) {
        self.unlink(uid);
        let sequence = self.next_sequence();
        if let Some(entry) = self.entries.get_mut(uid) {
            entry.key = (Reverse(entry.info.priority), sequence);
            entry.state = State::Active;
            self.active.insert(entry.key, uid.to_string());
        }
    }

    fn unlink(&mut self, uid: &str) {
        if let Some(entry) = self.entries.get(uid) {
            match entry.state {
                State::Active => {
                    self.active.remove(&entry.key);
                }
                State::Backoff(until) => {
                    self.backoff.remove(&(until, entry.key.1));
                }
                State::Unschedulable(since) => {
                    self.unschedulable.remove(&(since, entry.key.1));
                }
                State::InFlight => {}
            }
        }
    }

    /// A pending pod seen by the watch: new ones become active; a changed unschedulable one is
    /// tried again (its change may be what makes it fit).
    pub fn add_or_update(&mut self, info: Arc<PodInfo>) {
        let uid = info.uid.clone();
        match self.entries.get_mut(&uid) {
            Some(entry) => {
                let changed_spec = entry.info.pod.spec != info.pod.spec || entry.info.pod.metadata.labels != info.pod.metadata.labels;
                entry.info = info;
                if matches!(entry.state, State::Unschedulable(_)) && changed_spec {
                    self.activate(&uid);
                }
            }
            None => {
                self.entries.insert(uid.clone(), Entry { info, state: State::InFlight, attempts: 0, last_attempt: None, key: (Reverse(0), 0) });
                self.activate(&uid);
            }
        }
    }

    pub fn remove(&mut self, uid: &str) {
        self.unlink(uid);
        self.entries.remove(uid);
    }

    /// The next pod to schedule, after moving pods whose backoff or wait is over.
    pub fn pop(&mut self, now: Instant) -> Option<Arc<PodInfo>> {
        self.flush(now);
        let (_, uid) = self.active.pop_first()?;
        let entry = self.entries.get_mut(&uid)?;
        entry.state = State::InFlight;
        entry.attempts += 1;
        entry.last_attempt = Some(now);
        Some(entry.info.clone())
    }

    fn flush(&mut self, now: Instant) {
        while let Some((&(until, sequence), _)) = self.backoff.first_key_value() {
            if until > now {
                break;
            }
            if let Some(uid) = self.backoff.remove(&(until, sequence)) {
                self.activate(&uid);
            }
        }
        while let Some((&(since, _), uid)) = self.unschedulable.first_key_value() {
            if now.duration_since(since) < UNSCHEDULABLE_MAX {
                break;
            }
            let uid = uid.clone();
            self.activate(&uid);
        }
    }

    fn backoff_of(attempts: u32) -> Duration {
        let doublings = attempts.saturating_sub(1).min(8);
        (INITIAL_BACKOFF * 2u32.pow(doublings)).min(MAX_BACKOFF)
    }

    /// No node fits it: it waits for a cluster event.
    pub fn unschedulable(&mut self, uid: &str, now: Instant) {
        self.unlink(uid);
        let sequence = self.next_sequence();
        if let Some(entry) = self.entries.get_mut(uid) {
            entry.state = State::Unschedulable(now);
            entry.key.1 = sequence;
            self.unschedulable.insert((now, sequence), uid.to_string());
        }
    }

    /// An attempt failed for a passing reason (a binding error): try again after its backoff.
    pub fn retry_later(&mut self, uid: &str, now: Instant) {
        self.unlink(uid);
        let sequence = self.next_sequence();
        if let Some(entry) = self.entries.get_mut(uid) {
            let until = now + Self::backoff_of(entry.attempts);
            entry.state = State::Backoff(until);
            entry.key.1 = sequence;
            self.backoff.insert((until, sequence), uid.to_string());
        }
    }

    /// Something changed that may let unschedulable pods fit: those past their backoff become
    /// active, the others wait out their backoff first.
    pub fn move_unschedulable(&mut self, now: Instant) {
        let waiting: Vec<(String, Instant)> = std::mem::take(&mut self.unschedulable)
            .into_values()
            .filter_map(|uid| {
                let entry = self.entries.get(&uid)?;
                Some((uid, entry.last_attempt.unwrap_or(now) + Self::backoff_of(entry.attempts)))
            })
            .collect();
        for (uid, until) in waiting {
            if let Some(entry) = self.entries.get_mut(&uid) {
                // Already out of `unschedulable`; nothing else to unlink.
                entry.state = State::InFlight;
            }
            if until <= now {
                self.activate(&uid);
            } else {
                let sequence = self.next_sequence();
                if let Some(entry) = self.entries.get_mut(&uid) {
                    entry.state = State::Backoff(until);
                    entry.key.1 = sequence;
                }
                self.backoff.insert((until, sequence), uid);
            }
        }
    }

    pub fn has_active(&self) -> bool {
        !self.active.is_empty()
    }

    /// When the earliest backing-off pod becomes ready, if any.
    pub fn next_deadline(&self) -> Option<Instant> {
        let backoff = self.backoff.first_key_value().map(|(&(until, _), _)| until);
        let unschedulable = self.unschedulable.first_key_value().map(|(&(since, _), _)| since + UNSCHEDULABLE_MAX);
        backoff.into_iter().chain(unschedulable).min()
    }

    /// Every pod in the queue, in whatever state.
    pub fn uids(&self) -> Vec<String> {
        self.entries.keys().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn info(uid: &str, priority: i32) -> Arc<PodInfo> {
        Arc::new(PodInfo::new(Arc::new(
            serde_json::from_value(json!({"metadata": {"name": uid, "uid": uid}, "spec": {"priority": priority, "containers": [{"name": "c", "image": "i"}]}})).unwrap(),
        )))
    }

    #[test]
    fn priority_first_then_arrival() {
        let mut queue = Queue::default();
        let now = Instant::now();
        queue.add_or_update(info("low-1", 0));
        queue.add_or_update(info("high", 10));
        queue.add_or_update(info("low-2", 0));
        let order: Vec<String> = std::iter::from_fn(|| queue.pop(now).map(|info| info.uid.clone())).collect();
        assert_eq!(order, ["high", "low-1", "low-2"]);
    }

    #[test]
    fn failures_back_off_and_unschedulable_pods_wait_for_an_event() {
        let mut queue = Queue::default();
        let start = Instant::now();
        queue.add_or_update(info("a", 0));
        queue.add_or_update(info("b", 0));
        let a = queue.pop(start).unwrap();
        let b = queue.pop(start).unwrap();
        queue.retry_later(&a.uid, start);
        queue.unschedulable(&b.uid, start);
        assert!(queue.pop(start).is_none());
        assert_eq!(queue.next_deadline(), Some(start + INITIAL_BACKOFF));
        assert_eq!(queue.pop(start + INITIAL_BACKOFF).map(|info| info.uid.clone()).as_deref(), Some("a"));
        assert!(queue.pop(start + Duration::from_secs(5)).is_none(), "b waits for an event");
        queue.move_unschedulable(start + Duration::from_secs(5));
        assert_eq!(queue.pop(start + Duration::from_secs(5)).map(|info| info.uid.clone()).as_deref(), Some("b"));
        queue.unschedulable("b", start + Duration::from_secs(5));
        assert_eq!(queue.pop(start + Duration::from_secs(5) + UNSCHEDULABLE_MAX).map(|info| info.uid.clone()).as_deref(), Some("b"), "tried again after a while anyway");
        assert_eq!(Queue::backoff_of(1), Duration::from_secs(1));
        assert_eq!(Queue::backoff_of(3), Duration::from_secs(4));
        assert_eq!(Queue::backoff_of(9), MAX_BACKOFF);
    }
}
