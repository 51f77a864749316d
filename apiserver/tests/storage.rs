//! The shared storage suite: every test runs against both backends, etcd (a real etcd process
//! on free loopback ports) and the embedded store (a file in a temp dir).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use apiserver::storage::{
    EmbeddedStore, EtcdStore, KeyValue, ListOptions, Revision, Store, StoreError, WatchEvent,
    WatchStream,
};
use common::testing::EtcdServer;
use futures::StreamExt;

// ---------------------------------------------------------------------------------------------
// Backends

trait Backend {
    fn store(&self) -> Arc<dyn Store>;
    /// Stops the store's process (etcd: SIGKILL; embedded: the store is closed) and starts it
    /// again on the same data.
    async fn restart(&mut self);
}

struct Etcd {
    server: EtcdServer,
    store: Arc<EtcdStore>,
}

impl Etcd {
    async fn start() -> Self {
        let server = EtcdServer::start().expect("start etcd");
        let store = Arc::new(EtcdStore::connect(&[server.endpoint()]).await.expect("connect"));
        Self { server, store }
    }
}

impl Backend for Etcd {
    fn store(&self) -> Arc<dyn Store> {
        self.store.clone()
    }

    async fn restart(&mut self) {
        self.server.kill();
        self.server.start_again().expect("restart etcd");
        self.store = Arc::new(EtcdStore::connect(&[self.server.endpoint()]).await.expect("connect"));
    }
}

struct Embedded {
    dir: tempfile::TempDir,
    store: Option<Arc<EmbeddedStore>>,
}

impl Embedded {
    async fn start() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = EmbeddedStore::open(dir.path().join("store.redb")).await.expect("open");
        Self { dir, store: Some(Arc::new(store)) }
    }
}

impl Backend for Embedded {
    fn store(&self) -> Arc<dyn Store> {
        self.store.clone().expect("store is open")
    }

    async fn restart(&mut self) {
        let store = self.store.take().expect("store is open");
        let store = Arc::try_unwrap(store)
            .unwrap_or_else(|_| panic!("the test still holds a store handle across a restart"));
        drop(store);
        let reopened = EmbeddedStore::open(self.dir.path().join("store.redb")).await.expect("reopen");
        self.store = Some(Arc::new(reopened));
    }
}

macro_rules! shared_suite {
    ($($test:ident),* $(,)?) => {
        mod etcd {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::$test(&mut super::Etcd::start().await).await;
                }
            )*
        }
        mod embedded {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::$test(&mut super::Embedded::start().await).await;
                }
            )*
        }
    };
}

shared_suite!(
    create_get_and_create_exists,
    update_is_compare_and_swap,
    delete_missing_and_conflicting,
    list_pages_at_one_revision,
    list_at_an_old_revision,
    list_at_a_future_revision_fails,
    watch_reports_creates_updates_and_deletes,
    watch_from_now_sees_only_later_changes,
    watch_across_ten_thousand_writes,
    watch_and_list_before_compaction_fail,
    restart_loses_nothing,
    corrupt_value_is_an_error_naming_the_key,
);

// ---------------------------------------------------------------------------------------------
// Helpers

fn object(name: &str, generation: u64) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({"metadata": {"name": name}, "generation": generation}))
        .expect("serialize")
}

fn generation(kv: &KeyValue) -> u64 {
    let value: serde_json::Value = kv.decode().expect("valid JSON");
    value["generation"].as_u64().expect("generation")
}

async fn list_all(store: &dyn Store, prefix: &str, revision: Option<Revision>) -> Vec<KeyValue> {
    store
        .list(prefix, ListOptions { revision, ..ListOptions::default() })
        .await
        .expect("list")
        .items
}

/// Collects `count` events from `stream`, failing the test if it stalls for 30 s.
async fn take_events(stream: &mut WatchStream, count: usize) -> Vec<WatchEvent> {
    let mut events = Vec::with_capacity(count);
    while events.len() < count {
        let next = tokio::time::timeout(Duration::from_secs(30), stream.next())
            .await
            .unwrap_or_else(|_| panic!("watch stalled after {} of {count} events", events.len()));
        match next {
            Some(Ok(event)) => events.push(event),
            Some(Err(err)) => panic!("watch failed after {} events: {err}", events.len()),
            None => panic!("watch ended after {} of {count} events", events.len()),
        }
    }
    events
}

/// The store error that starting a watch at `revision` produces, whether the store reports it
/// when the watch is opened or as the stream's first item.
async fn watch_error(store: &dyn Store, prefix: &str, revision: Revision) -> StoreError {
    match store.watch(prefix, revision).await {
        Err(err) => err,
        Ok(mut stream) => match tokio::time::timeout(Duration::from_secs(10), stream.next()).await {
            Ok(Some(Err(err))) => err,
            other => panic!("expected the watch to fail, got {other:?}"),
        },
    }
}

// ---------------------------------------------------------------------------------------------
// The suite

async fn create_get_and_create_exists(backend: &mut impl Backend) {
    let store = backend.store();
    let key = "/registry/configmaps/default/a";
    assert!(store.get(key).await.unwrap().is_none());
    let revision = store.create(key, object("a", 1)).await.unwrap();
    let kv = store.get(key).await.unwrap().expect("created key");
    assert_eq!((kv.create_revision, kv.mod_revision), (revision, revision));
    assert_eq!(kv.value, object("a", 1));
    assert_eq!(store.current_revision().await.unwrap(), revision);

    let err = store.create(key, object("a", 2)).await.unwrap_err();
    assert!(matches!(err, StoreError::AlreadyExists { ref key } if key == "/registry/configmaps/default/a"), "{err}");
    assert_eq!(store.get(key).await.unwrap().unwrap().value, object("a", 1), "failed create wrote");
    assert_eq!(store.current_revision().await.unwrap(), revision, "failed create used a revision");
}

async fn update_is_compare_and_swap(backend: &mut impl Backend) {
    let store = backend.store();
    let key = "/registry/pods/default/p";
    let created = store.create(key, object("p", 1)).await.unwrap();
    let updated = store.update(key, object("p", 2), created).await.unwrap();
    assert!(updated > created);
    let kv = store.get(key).await.unwrap().unwrap();
    assert_eq!((kv.create_revision, kv.mod_revision, generation(&kv)), (created, updated, 2));

    // A writer that read the object before the update loses.
    let err = store.update(key, object("p", 3), created).await.unwrap_err();
    match err {
        StoreError::Conflict { expected, actual, .. } => assert_eq!((expected, actual), (created, updated)),
        other => panic!("expected a conflict, got {other}"),
    }
    assert_eq!(generation(&store.get(key).await.unwrap().unwrap()), 2);

    let err = store.update("/registry/pods/default/missing", object("m", 1), created).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err}");

    // Of many concurrent writers holding the same revision, exactly one wins.
    let mut writers = tokio::task::JoinSet::new();
    for i in 0..16 {
        let store = store.clone();
        writers.spawn(async move { store.update(key, object("p", 10 + i), updated).await });
    }
    let results = writers.join_all().await;
    let wins = results.iter().filter(|result| result.is_ok()).count();
    assert_eq!(wins, 1, "{results:?}");
    assert!(results.iter().filter_map(|result| result.as_ref().err()).all(|err| matches!(err, StoreError::Conflict { .. })));
}

async fn delete_missing_and_conflicting(backend: &mut impl Backend) {
    let store = backend.store();
    let key = "/registry/secrets/default/s";
    let err = store.delete(key, None).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err}");
    let err = store.delete(key, Some(5)).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err}");

    let created = store.create(key, object("s", 1)).await.unwrap();
    let err = store.delete(key, Some(created - 1)).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict { actual, .. } if actual == created), "{err}");
    assert!(store.get(key).await.unwrap().is_some(), "a conflicting delete deleted");

    let deleted = store.delete(key, Some(created)).await.unwrap();
    assert!(deleted.revision > created);
    assert_eq!(deleted.previous.value, object("s", 1));
    assert_eq!(deleted.previous.mod_revision, created);
    assert!(store.get(key).await.unwrap().is_none());

    // Unconditional delete, and a key recreated after a delete starts a new life.
    let again = store.create(key, object("s", 2)).await.unwrap();
    assert_eq!(store.get(key).await.unwrap().unwrap().create_revision, again);
    store.delete(key, None).await.unwrap();
    assert!(store.get(key).await.unwrap().is_none());
}

async fn list_pages_at_one_revision(backend: &mut impl Backend) {
    let store = backend.store();
    for i in 0..25 {
        store.create(&format!("/registry/configmaps/ns/cm-{i:02}"), object("cm", i)).await.unwrap();
    }
    for i in 0..3 {
        store.create(&format!("/registry/configmaps/other/cm-{i}"), object("cm", i)).await.unwrap();
        store.create(&format!("/registry/configmaps/ns-b/cm-{i}"), object("cm", i)).await.unwrap();
    }
    let prefix = "/registry/configmaps/ns/";
    let first = store.list(prefix, ListOptions { limit: Some(10), ..Default::default() }).await.unwrap();
    assert_eq!(first.items.len(), 10);
    assert_eq!(first.remaining, 15);
    // A write between pages must not show up in later pages of the same list.
    store.create("/registry/configmaps/ns/cm-99", object("late", 1)).await.unwrap();
    let mut keys: Vec<String> = first.items.iter().map(|kv| kv.key.clone()).collect();
    let mut next = first.next_key.clone();
    let mut pages = 1;
    while let Some(start) = next {
        let page = store
            .list(prefix, ListOptions { limit: Some(10), start_key: Some(start), revision: Some(first.revision) })
            .await
            .unwrap();
        assert_eq!(page.revision, first.revision);
        keys.extend(page.items.iter().map(|kv| kv.key.clone()));
        next = page.next_key;
        pages += 1;
    }
    assert_eq!(pages, 3);
    let expected: Vec<String> = (0..25).map(|i| format!("/registry/configmaps/ns/cm-{i:02}")).collect();
    assert_eq!(keys, expected);

    let now = list_all(store.as_ref(), prefix, None).await;
    assert_eq!(now.len(), 26);
    let page = store.list(prefix, ListOptions { limit: Some(26), ..Default::default() }).await.unwrap();
    assert_eq!((page.items.len(), page.remaining, page.next_key), (26, 0, None));
    assert!(list_all(store.as_ref(), "/registry/nothing/", None).await.is_empty());
}

async fn list_at_an_old_revision(backend: &mut impl Backend) {
    let store = backend.store();
    let prefix = "/registry/pods/ns/";
    let mut revisions = HashMap::new();
    for i in 0..10u64 {
        let key = format!("{prefix}pod-{i}");
        revisions.insert(key.clone(), store.create(&key, object("pod", i)).await.unwrap());
    }
    let before = store.current_revision().await.unwrap();
    let snapshot = list_all(store.as_ref(), prefix, None).await;

    // Change everything: update some, delete some, add some, and touch another prefix.
    for i in 0..5u64 {
        let key = format!("{prefix}pod-{i}");
        store.update(&key, object("pod", 100 + i), revisions[&key]).await.unwrap();
    }
    for i in 5..8 {
        store.delete(&format!("{prefix}pod-{i}"), None).await.unwrap();
    }
    store.create(&format!("{prefix}pod-10"), object("pod", 10)).await.unwrap();
    store.create(&format!("{prefix}pod-0a"), object("pod", 11)).await.unwrap();
    store.create("/registry/pods/other/x", object("x", 1)).await.unwrap();
    store.update(&format!("{prefix}pod-0"), object("pod", 200), store.get(&format!("{prefix}pod-0")).await.unwrap().unwrap().mod_revision).await.unwrap();

    let old = store.list(prefix, ListOptions { revision: Some(before), ..Default::default() }).await.unwrap();
    assert_eq!(old.revision, before);
    assert_eq!(old.items, snapshot, "the list at the old revision is not what it was then");

    // Paging works at the old revision too.
    let page = store
        .list(prefix, ListOptions { revision: Some(before), limit: Some(4), start_key: None })
        .await
        .unwrap();
    assert_eq!(page.items, snapshot[..4].to_vec());
    assert_eq!(page.remaining, 6);
    let rest = store
        .list(prefix, ListOptions { revision: Some(before), limit: None, start_key: page.next_key })
        .await
        .unwrap();
    assert_eq!(rest.items, snapshot[4..].to_vec());

    let now: BTreeMap<String, u64> =
        list_all(store.as_ref(), prefix, None).await.iter().map(|kv| (kv.key.clone(), generation(kv))).collect();
    assert_eq!(now.len(), 9);
    assert_eq!(now[&format!("{prefix}pod-0")], 200);
    assert_eq!(now[&format!("{prefix}pod-4")], 104);
    assert!(!now.contains_key(&format!("{prefix}pod-6")));
}

async fn list_at_a_future_revision_fails(backend: &mut impl Backend) {
    let store = backend.store();
    store.create("/registry/x/a", object("a", 1)).await.unwrap();
    let current = store.current_revision().await.unwrap();
    let err = store
        .list("/registry/x/", ListOptions { revision: Some(current + 100), ..Default::default() })
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::FutureRevision { requested, .. } if requested == current + 100), "{err}");
}

async fn watch_reports_creates_updates_and_deletes(backend: &mut impl Backend) {
    let store = backend.store();
    let start = store.current_revision().await.unwrap() + 1;
    let mut stream = store.watch("/registry/svc/", start).await.unwrap();
    let created = store.create("/registry/svc/ns/a", object("a", 1)).await.unwrap();
    store.create("/registry/other/ns/a", object("other", 1)).await.unwrap();
    let updated = store.update("/registry/svc/ns/a", object("a", 2), created).await.unwrap();
    let deleted = store.delete("/registry/svc/ns/a", None).await.unwrap();
    let recreated = store.create("/registry/svc/ns/a", object("a", 3)).await.unwrap();

    let events = take_events(&mut stream, 4).await;
    let a = |generation, create_revision, mod_revision| KeyValue {
        key: "/registry/svc/ns/a".into(),
        value: object("a", generation),
        create_revision,
        mod_revision,
    };
    assert_eq!(events, vec![
        WatchEvent::Created(a(1, created, created)),
        WatchEvent::Updated { current: a(2, created, updated), previous: Some(a(1, created, created)) },
        WatchEvent::Deleted {
            key: "/registry/svc/ns/a".into(),
            revision: deleted.revision,
            previous: Some(a(2, created, updated)),
        },
        WatchEvent::Created(a(3, recreated, recreated)),
    ]);
}

async fn watch_from_now_sees_only_later_changes(backend: &mut impl Backend) {
    let store = backend.store();
    store.create("/registry/cm/ns/before", object("before", 1)).await.unwrap();
    let mut stream = store.watch("/registry/cm/", 0).await.unwrap();
    // A watch from "now" may still be starting on the server; etcd does not say when it has,
    // so write until the first write after it shows up, then check nothing earlier did.
    let mut written = Vec::new();
    let first = loop {
        let key = format!("/registry/cm/ns/after-{}", written.len());
        written.push(store.create(&key, object("after", 1)).await.unwrap());
        if let Ok(Some(event)) = tokio::time::timeout(Duration::from_millis(200), stream.next()).await {
            break event.unwrap();
        }
        assert!(written.len() < 50, "the watch from now never reported a change");
    };
    assert!(first.key().starts_with("/registry/cm/ns/after-"), "{first:?}");
    assert!(written.contains(&first.revision()));
}

async fn watch_across_ten_thousand_writes(backend: &mut impl Backend) {
    const KEYS: u64 = 500;
    const WRITES: u64 = 10_000;
    const WRITERS: u64 = 16;
    let store = backend.store();
    let prefix = "/registry/load/";
    let start = store.current_revision().await.unwrap() + 1;
    let mut live = store.watch(prefix, start).await.unwrap();
    let mut elsewhere = store.watch("/registry/elsewhere/", start).await.unwrap();

    // Each writer owns a disjoint set of keys and writes them in turn: creates, then updates,
    // with a delete and re-create every 7th round, so every write succeeds.
    let mut writers = tokio::task::JoinSet::new();
    for writer in 0..WRITERS {
        let store = store.clone();
        writers.spawn(async move {
            let mine: Vec<u64> = (0..KEYS).filter(|key| key % WRITERS == writer).collect();
            let mut revisions: HashMap<u64, Revision> = HashMap::new();
            let mut done = 0;
            let mut round = 0u64;
            'writing: loop {
                for &key in &mine {
                    if done == WRITES / WRITERS {
                        break 'writing;
                    }
                    let name = format!("{prefix}k-{key:04}");
                    let value = object(&name, round);
                    let revision = match revisions.get(&key) {
                        None => store.create(&name, value).await.unwrap(),
                        Some(_) if round % 7 == 6 => {
                            revisions.remove(&key);
                            store.delete(&name, None).await.unwrap().revision
                        }
                        Some(&at) => store.update(&name, value, at).await.unwrap(),
                    };
                    if round % 7 != 6 {
                        revisions.insert(key, revision);
                    }
                    done += 1;
                }
                round += 1;
            }
        });
    }
    let events = take_events(&mut live, WRITES as usize).await;
    writers.join_all().await;

    let revisions: Vec<Revision> = events.iter().map(WatchEvent::revision).collect();
    let expected: Vec<Revision> = (start..start + WRITES as Revision).collect();
    assert_eq!(revisions, expected, "events missing, duplicated or out of order");

    // Replaying the same history after the fact gives the same events.
    let mut replay = store.watch(prefix, start).await.unwrap();
    let replayed = take_events(&mut replay, WRITES as usize).await;
    assert_eq!(replayed, events);

    // The final state is what the events add up to.
    let mut state: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for event in &events {
        match event {
            WatchEvent::Created(kv) | WatchEvent::Updated { current: kv, .. } => {
                state.insert(kv.key.clone(), kv.value.clone());
            }
            WatchEvent::Deleted { key, .. } => {
                state.remove(key);
            }
        }
    }
    let listed: BTreeMap<String, Vec<u8>> =
        list_all(store.as_ref(), prefix, None).await.into_iter().map(|kv| (kv.key, kv.value)).collect();
    assert_eq!(listed, state);

    // A watch on another prefix saw none of it.
    store.create("/registry/elsewhere/x", object("x", 1)).await.unwrap();
    let other = take_events(&mut elsewhere, 1).await;
    assert_eq!(other[0].key(), "/registry/elsewhere/x");
}

async fn watch_and_list_before_compaction_fail(backend: &mut impl Backend) {
    let store = backend.store();
    let prefix = "/registry/compact/";
    let first = store.create(&format!("{prefix}a"), object("a", 1)).await.unwrap();
    for i in 0..20 {
        store.create(&format!("{prefix}k{i}"), object("k", i)).await.unwrap();
    }
    let compact_at = store.current_revision().await.unwrap();
    let after = store.create(&format!("{prefix}after"), object("after", 1)).await.unwrap();
    store.compact(compact_at).await.unwrap();

    let err = watch_error(store.as_ref(), prefix, first).await;
    assert!(matches!(err, StoreError::Compacted { .. }), "{err}");
    let err = store.list(prefix, ListOptions { revision: Some(first), ..Default::default() }).await.unwrap_err();
    assert!(matches!(err, StoreError::Compacted { requested, .. } if requested == first), "{err}");
    let err = store.compact(compact_at).await.unwrap_err();
    assert!(matches!(err, StoreError::Compacted { .. }), "{err}");

    // What is after the compaction is still there.
    let mut stream = store.watch(prefix, after).await.unwrap();
    let events = take_events(&mut stream, 1).await;
    assert_eq!(events[0].revision(), after);
    let listed = list_all(store.as_ref(), prefix, Some(compact_at)).await;
    assert_eq!(listed.len(), 21);
}

async fn restart_loses_nothing(backend: &mut impl Backend) {
    let prefix = "/registry/durable/";
    let (start, before_state, before_revision, history) = {
        let store = backend.store();
        let start = store.current_revision().await.unwrap() + 1;
        for i in 0..100u64 {
            let key = format!("{prefix}k{i:03}");
            let created = store.create(&key, object("k", i)).await.unwrap();
            if i % 3 == 0 {
                store.update(&key, object("k", i + 1000), created).await.unwrap();
            }
            if i % 10 == 0 {
                store.delete(&key, None).await.unwrap();
            }
        }
        let state = list_all(store.as_ref(), prefix, None).await;
        let revision = store.current_revision().await.unwrap();
        let mut stream = store.watch(prefix, start).await.unwrap();
        let history = take_events(&mut stream, (revision - start + 1) as usize).await;
        (start, state, revision, history)
    };

    backend.restart().await;

    let store = backend.store();
    assert_eq!(store.current_revision().await.unwrap(), before_revision);
    assert_eq!(list_all(store.as_ref(), prefix, None).await, before_state);
    let mut stream = store.watch(prefix, start).await.unwrap();
    let replayed = take_events(&mut stream, history.len()).await;
    assert_eq!(replayed, history, "history changed across the restart");
    let next = store.create(&format!("{prefix}new"), object("new", 1)).await.unwrap();
    assert_eq!(next, before_revision + 1, "revisions did not continue where they were");
}

async fn corrupt_value_is_an_error_naming_the_key(backend: &mut impl Backend) {
    let store = backend.store();
    let key = "/registry/configmaps/ns/broken";
    let start = store.current_revision().await.unwrap() + 1;
    store.create("/registry/configmaps/ns/fine", object("fine", 1)).await.unwrap();
    store.create(key, b"\x00\x01 not json {".to_vec()).await.unwrap();

    let kv = store.get(key).await.unwrap().expect("stored");
    let err = kv.decode::<serde_json::Value>().unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
    assert!(err.to_string().contains(key), "the error does not name the key: {err}");

    let listed = list_all(store.as_ref(), "/registry/configmaps/ns/", None).await;
    let errors: Vec<String> = listed
        .iter()
        .filter_map(|kv| kv.decode::<serde_json::Value>().err())
        .map(|err| err.to_string())
        .collect();
    assert_eq!(errors.len(), 1);
    assert!(errors[0].contains(key), "{errors:?}");

    let mut stream = store.watch("/registry/configmaps/", start).await.unwrap();
    let events = take_events(&mut stream, 2).await;
    let WatchEvent::Created(broken) = &events[1] else { panic!("{events:?}") };
    assert!(broken.decode::<serde_json::Value>().unwrap_err().to_string().contains(key));

    // The broken object can still be deleted, which is how an operator repairs it.
    let deleted = store.delete(key, None).await.unwrap();
    assert_eq!(deleted.previous.key, key);
}

// ---------------------------------------------------------------------------------------------
// etcd only: a value corrupted behind our back, and etcd going away and coming back.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etcd_value_written_by_another_client_is_an_error_naming_the_key() {
    let backend = Etcd::start().await;
    let mut raw = etcd_client::Client::connect([backend.server.endpoint()], None).await.unwrap();
    raw.put("/registry/secrets/ns/tampered", "{\"truncated\": ", None).await.unwrap();
    let kv = backend.store.get("/registry/secrets/ns/tampered").await.unwrap().unwrap();
    let err = kv.decode::<serde_json::Value>().unwrap_err();
    assert!(err.to_string().contains("/registry/secrets/ns/tampered"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etcd_down_gives_a_clear_error_and_the_store_reconnects() {
    let mut backend = Etcd::start().await;
    let store = backend.store.clone();
    store.create("/registry/a/x", object("x", 1)).await.unwrap();
    let mut stream = store.watch("/registry/a/", 0).await.unwrap();

    backend.server.kill();
    let err = store.get("/registry/a/x").await.unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    assert!(err.to_string().contains(&backend.server.endpoint()), "the error does not name etcd: {err}");
    let ended = tokio::time::timeout(Duration::from_secs(30), stream.next()).await.expect("watch hung");
    assert!(matches!(ended, Some(Err(StoreError::Unavailable(_)))), "{ended:?}");

    backend.server.start_again().unwrap();
    // The same store (no new connect) works again once etcd is back.
    let mut attempts = 0;
    let kv = loop {
        attempts += 1;
        match store.get("/registry/a/x").await {
            Ok(kv) => break kv,
            Err(err) if attempts < 60 => {
                assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(err) => panic!("the store did not reconnect: {err}"),
        }
    };
    assert_eq!(kv.expect("key survived").value, object("x", 1));
    store.create("/registry/a/y", object("y", 1)).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etcd_that_is_not_there_gives_a_clear_error_without_hanging() {
    let endpoint = format!("http://127.0.0.1:{}", common::testing::free_port().unwrap());
    let attempt = async {
        let store = EtcdStore::connect(&[endpoint.clone()]).await?;
        store.get("/registry/a/x").await
    };
    let err = tokio::time::timeout(Duration::from_secs(30), attempt)
        .await
        .expect("talking to an absent etcd hung")
        .unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    assert!(err.to_string().contains(&endpoint), "{err}");
}
