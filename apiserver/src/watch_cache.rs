//! The watch cache: one storage watch per resource type, fanned out to every client watch.
//!
//! Each resource type's cache lists its prefix once, then follows one storage watch from that
//! revision, keeping the current objects and a window of recent events. A client watch from a
//! resourceVersion inside the window is served from it and then from the live feed, so a
//! thousand watchers cost one storage watch. A resourceVersion older than the window falls back
//! to a storage watch of its own (the store still has that history until compaction; after
//! it, the client gets 410 Gone, as from kube-apiserver).
//!
//! An object the cache cannot decode is not dropped silently: it is logged at error level,
//! counted (`apiserver_storage_decode_errors_total`), and its key kept, so that a list served
//! from the cache fails naming it as a list from storage does, until the object is written
//! again or deleted.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use futures::StreamExt;
use serde_json::{Value, json};
use tokio::sync::{broadcast, watch};

use crate::meta;
use crate::resources::{Names, ResourceType};
use crate::storage::{KeyValue, ListOptions, Revision, Store, StoreError, WatchEvent};

/// Events kept per resource type for watches that resume from a recent resourceVersion, at
/// most this many and at most `HISTORY_BYTES` of objects: ten thousand writes of a large
/// object (a Deployment of fifty containers, 300 KiB with its managed fields) would otherwise
/// hold gigabytes. A watch from before the window lists again (410 Gone), as from kube.
const HISTORY: usize = 10_000;
const HISTORY_BYTES: usize = 64 * 1024 * 1024;
/// Events buffered per live watcher before it is cut off as too slow (it then resumes).
const LIVE_BUFFER: usize = 4_096;
const LIST_PAGE: usize = 1_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// An object as the cache keeps it: its JSON text (with its resourceVersion) and what label and
/// field selectors read. A parsed JSON tree costs several times the text, so the cache keeps the
/// text and parses only where a whole object is needed (Tables, deletecollection).
#[derive(Debug, PartialEq)]
pub struct CachedObject {
    pub json: Box<str>,
    pub labels: BTreeMap<String, String>,
    /// The values of `metadata.name`, `metadata.namespace` and the kind's selectable fields.
    fields: Vec<(Cow<'static, str>, String)>,
}

impl CachedObject {
    /// The object, with the values of the fields selectors may name for its kind (`selectable`,
    /// besides name and namespace) kept beside it.
    pub fn new(object: &Value, selectable: &Names) -> Self {
        let mut fields = Vec::new();
        for field in ["metadata.name", "metadata.namespace"] {
            fields.extend(field_value(object, field).map(|value| (Cow::Borrowed(field), value)));
        }
        for index in 0..selectable.len() {
            let field = selectable.get_cow(index);
            if let Some(value) = field_value(object, &field) {
                fields.push((field, value));
            }
        }
        Self { json: object.to_string().into_boxed_str(), labels: meta::labels(object), fields }
    }

    pub fn namespace(&self) -> Option<&str> {
        self.field("metadata.namespace")
    }

    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields.iter().find(|(field, _)| field == name).map(|(_, value)| value.as_str())
    }

    /// The object parsed again; the text was serialized from a `Value`, so it parses.
    pub fn value(&self) -> Value {
        serde_json::from_str(&self.json).unwrap_or(Value::Null)
    }
}

/// The value of a dotted field path as a field selector compares it.
pub fn field_value(object: &Value, field: &str) -> Option<String> {
    let mut current = object;
    for part in field.split('.') {
        current = current.get(part)?;
    }
    match current {
        Value::String(text) => Some(text.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

/// A change to one object, with `metadata.resourceVersion` set on the objects.
#[derive(Debug)]
pub struct CachedEvent {
    pub kind: EventType,
    pub revision: Revision,
    pub key: String,
    /// The object after the change; for a delete, its last state at the delete's revision.
    pub object: Arc<CachedObject>,
    pub previous: Option<Arc<CachedObject>>,
}

/// The watch caches of every served resource type, and the tasks that feed them. Built-in
/// kinds get theirs at start; kinds that CustomResourceDefinitions declare get theirs when the
/// registry learns of them, and lose them when their definition goes.
pub struct WatchCache {
    store: Arc<dyn Store>,
    caches: RwLock<HashMap<String, Feeding>>,
}

/// One resource type's cache and the task that feeds it.
struct Feeding {
    cache: Arc<ResourceCache>,
    task: tokio::task::AbortHandle,
}

impl WatchCache {
    /// Starts one feeding task per resource type; they run until the cache is dropped.
    pub fn start<'a>(store: Arc<dyn Store>, resources: impl IntoIterator<Item = &'a ResourceType>) -> Self {
        let cache = Self { store, caches: RwLock::new(HashMap::new()) };
        for resource in resources {
            cache.ensure(resource);
        }
        cache
    }

    /// Starts the cache of `resource`'s storage prefix unless it has one. The versions of one
    /// custom kind share their objects, and so one cache.
    pub fn ensure(&self, resource: &ResourceType) {
        let mut caches = self.caches.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        caches.entry(resource.prefix()).or_insert_with(|| {
            let cache = Arc::new(ResourceCache::new(Arc::new(resource.clone())));
            let task = tokio::spawn(feed(cache.clone(), self.store.clone())).abort_handle();
            Feeding { cache, task }
        });
    }

    /// Stops the caches of the storage prefixes `keep` refuses.
    pub fn retain(&self, mut keep: impl FnMut(&str) -> bool) {
        let mut caches = self.caches.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        caches.retain(|prefix, feeding| {
            let kept = keep(prefix);
            if !kept {
                feeding.task.abort();
            }
            kept
        });
    }

    /// Notes a write of an object of `resource` at `revision` (`ResourceCache::has_own_writes`).
    pub fn wrote(&self, resource: &ResourceType, revision: Revision) {
        if let Some(cache) = self.of(resource) {
            cache.wrote(revision);
        }
    }

    pub fn of(&self, resource: &ResourceType) -> Option<Arc<ResourceCache>> {
        let caches = self.caches.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        caches.get(&resource.prefix()).map(|feeding| feeding.cache.clone())
    }

    /// How many stored objects of each resource type the caches could not decode since start.
    pub fn decode_errors(&self) -> Vec<(String, u64)> {
        let caches = self.caches.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut counts: Vec<(String, u64)> = caches.values().map(|feeding| (feeding.cache.resource.plural.to_string(), feeding.cache.decode_errors.load(Ordering::Relaxed))).collect();
        counts.sort_unstable();
        counts
    }
}

impl Drop for WatchCache {
    fn drop(&mut self) {
        let caches = self.caches.get_mut().unwrap_or_else(std::sync::PoisonError::into_inner);
        for feeding in caches.values() {
            feeding.task.abort();
        }
    }
}

pub struct ResourceCache {
    resource: Arc<ResourceType>,
    state: RwLock<State>,
    ready: watch::Sender<bool>,
    /// Objects met that could not be decoded, counted each time one is met.
    decode_errors: AtomicU64,
    /// The newest revision this apiserver wrote an object of the type at.
    written: AtomicI64,
}

struct State {
    objects: BTreeMap<String, Arc<CachedObject>>,
    /// The keys of stored objects that cannot be decoded, with why.
    corrupt: BTreeMap<String, String>,
    history: VecDeque<Arc<CachedEvent>>,
    /// The bytes of the objects of `history`.
    history_bytes: usize,
    /// Every event after this revision is in `history` or still to come.
    horizon: Revision,
    /// The newest revision the cache has seen (a list's or an event's).
    revision: Revision,
    live: broadcast::Sender<Arc<CachedEvent>>,
}

/// Where a client watch starts from.
pub enum Start {
    /// Cached events after the requested revision, then the live feed.
    Resume { replay: Vec<Arc<CachedEvent>>, live: broadcast::Receiver<Arc<CachedEvent>> },
    /// The revision is older than the cache's window.
    TooOld,
}

impl ResourceCache {
    /// The resource type whose objects this cache holds.
    pub fn resource(&self) -> &ResourceType {
        &self.resource
    }

    fn new(resource: Arc<ResourceType>) -> Self {
        let (live, _) = broadcast::channel(LIVE_BUFFER);
        let state = State { objects: BTreeMap::new(), corrupt: BTreeMap::new(), history: VecDeque::new(), history_bytes: 0, horizon: 0, revision: 0, live };
        Self { resource, state: RwLock::new(state), ready: watch::Sender::new(false), decode_errors: AtomicU64::new(0), written: AtomicI64::new(0) }
    }

    pub async fn wait_ready(&self) {
        let mut ready = self.ready.subscribe();
        let _ = ready.wait_for(|ready| *ready).await;
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        // A panic while holding the lock cannot leave the state half-updated in a way that
        // matters more than stopping would: recover the guard.
        self.state.read().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The newest revision the cache has seen: it moves whenever its objects change.
    pub fn revision(&self) -> Revision {
        self.read().revision
    }

    /// Notes a write of an object of the type, through this apiserver, at `revision`.
    pub fn wrote(&self, revision: Revision) {
        self.written.fetch_max(revision, Ordering::Relaxed);
    }

    /// Whether the cache has seen every write of the type this apiserver made: then what it
    /// holds is at least what a client of this apiserver was told it wrote.
    pub fn has_own_writes(&self) -> bool {
        self.revision() >= self.written.load(Ordering::Relaxed)
    }

    /// The object stored under `key`, as far as the cache has seen.
    pub fn get(&self, key: &str) -> Option<Arc<CachedObject>> {
        self.read().objects.get(key).cloned()
    }

    /// The current objects and the revision they are at, plus the live feed after it,
    /// taken atomically so that nothing falls between the two.
    pub fn snapshot(&self) -> (Vec<Arc<CachedObject>>, Revision, broadcast::Receiver<Arc<CachedEvent>>) {
        let state = self.read();
        (state.objects.values().cloned().collect(), state.revision, state.live.subscribe())
    }

    /// Whether the cache holds an object under `prefix` (a namespace's, say): one ordered
    /// lookup under the read lock, nothing cloned and no feed subscribed.
    pub fn has_under(&self, prefix: &str) -> bool {
        let state = self.read();
        state.objects.range::<str, _>((std::ops::Bound::Included(prefix), std::ops::Bound::Unbounded)).next().is_some_and(|(key, _)| key.starts_with(prefix))
    }

    /// The events after `revision` and the live feed after them.
    pub fn start_after(&self, revision: Revision) -> Start {
        let state = self.read();
        if revision < state.horizon {
            return Start::TooOld;
        }
        let replay = state.history.iter().filter(|event| event.revision > revision).cloned().collect();
        Start::Resume { replay, live: state.live.subscribe() }
    }

    /// The keys under `prefix` of stored objects that cannot be decoded, with why.
    pub fn corrupt_under(&self, prefix: &str) -> Vec<(String, String)> {
        let state = self.read();
        state.corrupt.range(prefix.to_string()..).take_while(|(key, _)| key.starts_with(prefix)).map(|(key, why)| (key.clone(), why.clone())).collect()
    }

    /// Logs and counts an object that cannot be decoded.
    fn undecodable(&self, err: &StoreError) {
        self.decode_errors.fetch_add(1, Ordering::Relaxed);
        tracing::error!(resource = %self.resource.plural, error = %err, "a stored object cannot be decoded: lists of its resource fail until it is deleted (DELETE with ignoreStoreReadErrorWithClusterBreakingPotential, or the apiserver's --delete-undecodable-objects)");
    }

    fn reset(&self, objects: BTreeMap<String, Arc<CachedObject>>, corrupt: BTreeMap<String, String>, revision: Revision) {
        let mut state = self.write();
        state.objects = objects;
        state.corrupt = corrupt;
        state.history.clear();
        state.history_bytes = 0;
        state.horizon = revision;
        state.revision = revision;
        // Watchers of the previous incarnation may have missed events: close their feed so
        // that they resume from their last resourceVersion (and get 410 if it is gone).
        let (live, _) = broadcast::channel(LIVE_BUFFER);
        state.live = live;
        drop(state);
        self.ready.send_replace(true);
    }

    fn apply(&self, event: CachedEvent) {
        let event = Arc::new(event);
        let mut state = self.write();
        state.corrupt.remove(&event.key);
        match event.kind {
            EventType::Deleted => state.objects.remove(&event.key),
            _ => state.objects.insert(event.key.clone(), event.object.clone()),
        };
        state.revision = state.revision.max(event.revision);
        state.history_bytes += event.object.json.len();
        state.history.push_back(event.clone());
        while state.history.len() > HISTORY || (state.history_bytes > HISTORY_BYTES && state.history.len() > 1) {
            if let Some(dropped) = state.history.pop_front() {
                state.horizon = dropped.revision;
                state.history_bytes -= dropped.object.json.len();
            }
        }
        // No receivers is fine: nobody is watching.
        let _ = state.live.send(event);
    }

    /// The previous state of `key` as the cache knows it (for storage events without one).
    fn current(&self, key: &str) -> Option<Arc<CachedObject>> {
        self.read().objects.get(key).cloned()
    }

    /// Follows one storage event.
    fn receive(&self, event: WatchEvent) {
        let key = event.key().to_string();
        let revision = event.revision();
        let deleted = matches!(event, WatchEvent::Deleted { .. });
        match convert(event, &self.resource.selectable_fields, |key| self.current(key)) {
            Ok(Some(event)) => self.apply(event),
            Ok(None) => {
                // The delete of an object the cache never had (it could not be decoded).
                if deleted {
                    let mut state = self.write();
                    state.corrupt.remove(&key);
                    state.revision = state.revision.max(revision);
                }
            }
            Err(err) => {
                self.undecodable(&err);
                // Written over with what cannot be read: the old version is not served any
                // more (watchers are told nothing, as there is nothing to tell them it became).
                let mut state = self.write();
                state.objects.remove(&key);
                state.corrupt.insert(key, err.to_string());
                state.revision = state.revision.max(revision);
            }
        }
    }
}

async fn feed(cache: Arc<ResourceCache>, store: Arc<dyn Store>) {
    let mut backoff = Duration::from_millis(100);
    loop {
        let resource = cache.resource.plural.clone();
        match fill_and_follow(&cache, store.as_ref()).await {
            Ok(()) => backoff = Duration::from_millis(100),
            Err(err) => {
                tracing::warn!(resource = %resource, error = %err, retry_in = ?backoff, "watch cache lost its storage watch");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
}

/// Lists the resource type, then applies its storage watch until that ends.
async fn fill_and_follow(cache: &ResourceCache, store: &dyn Store) -> Result<(), StoreError> {
    let prefix = cache.resource.prefix();
    let mut options = ListOptions { limit: Some(LIST_PAGE), ..ListOptions::default() };
    let mut objects = BTreeMap::new();
    let mut corrupt = BTreeMap::new();
    let revision = loop {
        let page = store.list(&prefix, options.clone()).await?;
        for kv in page.items {
            match decode(&kv) {
                Ok(object) => {
                    objects.insert(kv.key, Arc::new(CachedObject::new(&object, &cache.resource.selectable_fields)));
                }
                Err(err) => {
                    cache.undecodable(&err);
                    corrupt.insert(kv.key, err.to_string());
                }
            }
        }
        match page.next_key {
            Some(next) => {
                options.start_key = Some(next);
                options.revision = Some(page.revision);
            }
            None => break page.revision,
        }
    };
    let mut stream = store.watch(&prefix, revision + 1).await?;
    cache.reset(objects, corrupt, revision);
    tracing::debug!(resource = %cache.resource.plural, revision, "watch cache filled");
    while let Some(event) = stream.next().await {
        cache.receive(event?);
    }
    Err(StoreError::Unavailable("the storage watch ended".into()))
}

/// A storage event as a cached event: an error when the object it writes cannot be decoded;
/// `None` for the delete of an object whose last state is unknown (it could not be decoded).
pub fn convert(event: WatchEvent, selectable: &Names, current: impl Fn(&str) -> Option<Arc<CachedObject>>) -> Result<Option<CachedEvent>, StoreError> {
    let revision = event.revision();
    let cached = |kv: &KeyValue| decode(kv).map(|object| Arc::new(CachedObject::new(&object, selectable)));
    Ok(match event {
        WatchEvent::Created(kv) => {
            Some(CachedEvent { kind: EventType::Added, revision, object: cached(&kv)?, key: kv.key, previous: None })
        }
        WatchEvent::Updated { current: kv, previous } => {
            let previous = previous.and_then(|previous| cached(&previous).ok()).or_else(|| current(&kv.key));
            Some(CachedEvent { kind: EventType::Modified, revision, object: cached(&kv)?, key: kv.key, previous })
        }
        WatchEvent::Deleted { key, revision, previous } => {
            let Some(last) = previous.and_then(|previous| cached(&previous).ok()).or_else(|| current(&key)) else {
                return Ok(None);
            };
            // A deleted object is reported at the revision of its deletion, as Kubernetes does.
            let mut object = last.value();
            meta::set(&mut object, "resourceVersion", json!(revision.to_string()));
            let object = Arc::new(CachedObject::new(&object, selectable));
            Some(CachedEvent { kind: EventType::Deleted, revision, key, object, previous: Some(last) })
        }
    })
}

/// The stored object with its `resourceVersion` filled in from the store revision, or why it
/// cannot be read ([`KeyValue::decode_object`]).
pub fn decode(kv: &KeyValue) -> Result<Value, StoreError> {
    let mut object = kv.decode_object()?;
    meta::set(&mut object, "resourceVersion", json!(kv.mod_revision.to_string()));
    Ok(object)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(revision: Revision, name: &str, kind: EventType) -> CachedEvent {
        let object = json!({"metadata": {"name": name, "resourceVersion": revision.to_string()}});
        CachedEvent { kind, revision, key: format!("/registry/core/configmaps/ns/{name}"), object: Arc::new(CachedObject::new(&object, &Names::Static(&[]))), previous: None }
    }

    fn configmaps() -> ResourceCache {
        ResourceCache::new(Arc::new(crate::kinds::find("", "v1", "configmaps").expect("served").resource.clone()))
    }

    #[test]
    fn resumes_from_any_revision_in_its_window() {
        let cache = configmaps();
        cache.reset(BTreeMap::new(), BTreeMap::new(), 10);
        for revision in 11..=20 {
            cache.apply(event(revision, &format!("cm-{revision}"), EventType::Added));
        }
        let Start::Resume { replay, .. } = cache.start_after(15) else { panic!("15 is in the window") };
        let revisions: Vec<Revision> = replay.iter().map(|event| event.revision).collect();
        assert_eq!(revisions, vec![16, 17, 18, 19, 20]);
        let Start::Resume { replay, .. } = cache.start_after(10) else { panic!("10 is the list revision") };
        assert_eq!(replay.len(), 10);
        assert!(matches!(cache.start_after(9), Start::TooOld));
        let (objects, revision, _) = cache.snapshot();
        assert_eq!((objects.len(), revision), (10, 20));
    }

    #[test]
    fn the_window_slides_and_deletes_leave_the_snapshot() {
        let cache = configmaps();
        cache.reset(BTreeMap::new(), BTreeMap::new(), 0);
        let last = HISTORY as Revision + 5;
        for revision in 1..=last {
            cache.apply(event(revision, "same", EventType::Modified));
        }
        assert!(matches!(cache.start_after(4), Start::TooOld));
        assert!(matches!(cache.start_after(5), Start::Resume { .. }));
        cache.apply(event(last + 1, "same", EventType::Deleted));
        assert!(cache.snapshot().0.is_empty());
    }

    #[test]
    fn has_under_looks_only_below_the_prefix() {
        let cache = configmaps();
        cache.reset(BTreeMap::new(), BTreeMap::new(), 0);
        assert!(!cache.has_under("/registry/core/configmaps/ns/"));
        cache.apply(event(1, "a", EventType::Added));
        assert!(cache.has_under("/registry/core/configmaps/ns/"));
        // A namespace whose name extends another's, before and after it in key order.
        assert!(!cache.has_under("/registry/core/configmaps/n/"));
        assert!(!cache.has_under("/registry/core/configmaps/ns2/"));
        cache.apply(event(2, "a", EventType::Deleted));
        assert!(!cache.has_under("/registry/core/configmaps/ns/"));
    }

    #[test]
    fn the_window_holds_a_bounded_number_of_bytes() {
        let cache = configmaps();
        cache.reset(BTreeMap::new(), BTreeMap::new(), 0);
        let big = "x".repeat(1024 * 1024);
        for revision in 1..=100 {
            let object = json!({"metadata": {"name": "big", "resourceVersion": revision.to_string()}, "data": {"a": big}});
            let cached = Arc::new(CachedObject::new(&object, &Names::Static(&[])));
            cache.apply(CachedEvent { kind: EventType::Modified, revision, key: "/registry/core/configmaps/ns/big".into(), object: cached, previous: None });
        }
        // 100 MiB of events were written: the window keeps the newest 64 MiB of them.
        assert!(cache.read().history_bytes <= HISTORY_BYTES);
        assert!(matches!(cache.start_after(30), Start::TooOld));
        assert!(matches!(cache.start_after(40), Start::Resume { .. }));
    }

    fn stored(name: &str, value: &[u8], revision: Revision) -> KeyValue {
        KeyValue { key: format!("/registry/core/configmaps/ns/{name}"), value: value.to_vec(), create_revision: revision, mod_revision: revision }
    }

    #[test]
    fn undecodable_objects_are_remembered_until_written_again_or_deleted() {
        let cache = configmaps();
        cache.reset(BTreeMap::new(), BTreeMap::new(), 1);
        cache.receive(WatchEvent::Created(stored("good", br#"{"metadata":{"name":"good"}}"#, 2)));
        cache.receive(WatchEvent::Created(stored("bad", b"\x00 not json", 3)));
        let corrupt = cache.corrupt_under("/registry/core/configmaps/ns/");
        assert_eq!(corrupt.iter().map(|(key, _)| key.as_str()).collect::<Vec<_>>(), vec!["/registry/core/configmaps/ns/bad"]);
        assert!(corrupt[0].1.contains("corrupt object") && corrupt[0].1.contains("revision=3"), "{}", corrupt[0].1);
        assert!(cache.corrupt_under("/registry/core/configmaps/other/").is_empty());
        assert_eq!(cache.decode_errors.load(Ordering::Relaxed), 1);
        assert_eq!(cache.revision(), 3);

        // A good object overwritten with bytes that do not decode is not served any more.
        let good = stored("good", br#"{"metadata":{"name":"good"}}"#, 2);
        cache.receive(WatchEvent::Updated { current: stored("good", b"{", 4), previous: Some(good) });
        assert!(cache.get("/registry/core/configmaps/ns/good").is_none());
        assert_eq!(cache.corrupt_under("/registry/core/configmaps/").len(), 2);

        // Written again, it is an object once more; deleted, it is gone from both.
        cache.receive(WatchEvent::Updated { current: stored("good", br#"{"metadata":{"name":"good"}}"#, 5), previous: None });
        assert!(cache.get("/registry/core/configmaps/ns/good").is_some());
        cache.receive(WatchEvent::Deleted { key: "/registry/core/configmaps/ns/bad".into(), revision: 6, previous: Some(stored("bad", b"\x00 not json", 3)) });
        assert!(cache.corrupt_under("/registry/core/configmaps/").is_empty());
        assert_eq!(cache.revision(), 6);
    }

    #[tokio::test]
    async fn live_events_follow_the_replay_without_a_gap() {
        let cache = configmaps();
        cache.reset(BTreeMap::new(), BTreeMap::new(), 0);
        cache.apply(event(1, "a", EventType::Added));
        let Start::Resume { replay, mut live } = cache.start_after(0) else { panic!("in window") };
        cache.apply(event(2, "b", EventType::Added));
        assert_eq!(replay.iter().map(|event| event.revision).collect::<Vec<_>>(), vec![1]);
        assert_eq!(live.recv().await.expect("live event").revision, 2);
        // A reset (relist) closes the live feed so that watchers resume from their revision.
        cache.reset(BTreeMap::new(), BTreeMap::new(), 2);
        assert!(live.recv().await.is_err());
    }
}
