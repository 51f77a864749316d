//! The embedded backend: the whole store in one file, for one-machine clusters (as k3s keeps its
//! state in SQLite).
//!
//! Why redb: it is pure Rust (no C library to build or link), ACID with every commit fsync'd
//! before it returns and crash-safe without a repair step, gives read snapshots that run beside
//! the one writer, locks the file against a second process, and is actively maintained. Our data
//! model is etcd's ordered key ranges plus a change log, which maps straight onto redb's ordered
//! tables; SQLite would add a C build and a query layer we would not use.
//!
//! Layout, mirroring etcd's MVCC:
//! - `keys`: key → create revision, mod revision, value (the current state).
//! - `log`: revision → the change made at that revision, with the key's previous value. Watches
//!   replay it; reads at a past revision start from the current state and undo the changes after
//!   it. Compaction drops the log before a revision.
//! - `meta`: the current revision and the oldest revision still readable.
//!
//! All writes go through one writer thread that commits whatever requests are waiting as one
//! transaction (group commit), so concurrent writers share an fsync; each write still gets its
//! own revision and its own compare-and-swap outcome.
//!
//! The writer also keeps the changes of the last commits in memory ([`Recent`]), so that the
//! watches (one per watch cache, so one per served kind) read a new change from there rather
//! than each opening a read transaction and decoding the log entry again; a watch that falls
//! behind what memory keeps, or starts from an older revision, reads the log.

use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use futures::StreamExt;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use tokio::sync::{oneshot, watch};

use super::{
    Deleted, KeyValue, ListOptions, ListPage, Result, Revision, Store, StoreError, WatchEvent,
    WatchStream, key_after,
};

const KEYS: TableDefinition<&str, &[u8]> = TableDefinition::new("keys");
const LOG: TableDefinition<i64, &[u8]> = TableDefinition::new("log");
const META: TableDefinition<&str, i64> = TableDefinition::new("meta");
const META_REVISION: &str = "revision";
const META_OLDEST: &str = "oldest";

/// Like etcd, a new store is at revision 1 and its first write gets revision 2.
const INITIAL_REVISION: Revision = 1;
/// Most writes committed in one transaction, and most log entries one watch read fetches.
const BATCH: usize = 1024;
/// How many of the newest changes, and how many bytes of their values, memory keeps for
/// watches: enough for watches woken at each commit to keep up, small beside the watch caches.
const RECENT_CHANGES: usize = 1024;
const RECENT_BYTES: usize = 4 << 20;

pub struct EmbeddedStore {
    shared: Arc<Shared>,
    writes: Option<mpsc::Sender<WriteRequest>>,
    writer: Option<std::thread::JoinHandle<()>>,
    /// Follows the revision of the last commit; ends when the writer stops (store closed).
    revisions: watch::Receiver<Revision>,
}

struct Shared {
    db: Database,
    path: PathBuf,
    recent: RwLock<Recent>,
}

/// The newest changes, in revision order: every log entry from `covered_from` on is here.
struct Recent {
    changes: VecDeque<WatchEvent>,
    covered_from: Revision,
    bytes: usize,
}

impl Recent {
    fn new(current: Revision) -> Self {
        Self { changes: VecDeque::new(), covered_from: current + 1, bytes: 0 }
    }

    fn size(change: &WatchEvent) -> usize {
        let value = |kv: &KeyValue| kv.key.len() + kv.value.len();
        match change {
            WatchEvent::Created(kv) => value(kv),
            WatchEvent::Updated { current, previous } => value(current) + previous.as_ref().map_or(0, value),
            WatchEvent::Deleted { key, previous, .. } => key.len() + previous.as_ref().map_or(0, value),
        }
    }

    /// Keeps the changes of a commit, and forgets the oldest beyond the bounds and those a
    /// compaction (to `compacted`) removed from the log, so that a watch from before them reads
    /// the log and is told what the log tells.
    fn committed(&mut self, changes: Vec<WatchEvent>, compacted: Option<Revision>) {
        for change in changes {
            self.bytes += Self::size(&change);
            self.changes.push_back(change);
        }
        let floor = compacted.unwrap_or(0).max(self.covered_from);
        while let Some(oldest) = self.changes.front() {
            if self.changes.len() <= RECENT_CHANGES && self.bytes <= RECENT_BYTES && oldest.revision() >= floor {
                break;
            }
            self.covered_from = oldest.revision() + 1;
            self.bytes -= Self::size(oldest);
            self.changes.pop_front();
        }
        self.covered_from = self.covered_from.max(floor);
    }

    /// The changes under `prefix` from `next` to `latest`, and the revision to go on from;
    /// `None` when memory no longer has all of them.
    fn since(&self, prefix: &str, next: Revision, latest: Revision) -> Option<(Vec<WatchEvent>, Revision)> {
        if next < self.covered_from {
            return None;
        }
        let start = self.changes.partition_point(|change| change.revision() < next);
        let events = self
            .changes
            .range(start..)
            .take_while(|change| change.revision() <= latest)
            .filter(|change| change.key().starts_with(prefix))
            .cloned()
            .collect();
        Some((events, latest + 1))
    }
}

impl EmbeddedStore {
    /// Opens the store file at `path`, creating it (and its tables) if needed.
    pub async fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let (shared, current) = tokio::task::spawn_blocking(move || open_file(path))
            .await
            .map_err(|err| StoreError::Internal(format!("opening the store: {err}")))??;
        let shared = Arc::new(shared);
        let (revision_sender, revisions) = watch::channel(current);
        let (writes, requests) = mpsc::channel();
        let writer_shared = shared.clone();
        let writer = std::thread::Builder::new()
            .name("embedded-store-writer".into())
            .spawn(move || run_writer(&writer_shared, &requests, &revision_sender))
            .map_err(|err| StoreError::Internal(format!("starting the store writer: {err}")))?;
        tracing::info!(path = %shared.path.display(), revision = current, "opened embedded store");
        Ok(Self { shared, writes: Some(writes), writer: Some(writer), revisions })
    }

    async fn write(&self, op: WriteOp) -> Result<WriteOutcome> {
        let (reply, outcome) = oneshot::channel();
        let closed = || StoreError::Unavailable(format!("{} is closed", self.shared.path.display()));
        let writes = self.writes.as_ref().ok_or_else(closed)?;
        writes.send(WriteRequest { op, reply }).map_err(|_| closed())?;
        outcome.await.map_err(|_| closed())?
    }

    async fn read<T, F>(&self, read: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Shared) -> Result<T> + Send + 'static,
    {
        let shared = self.shared.clone();
        tokio::task::spawn_blocking(move || read(&shared))
            .await
            .map_err(|err| StoreError::Internal(format!("store read task failed: {err}")))?
    }
}

impl Drop for EmbeddedStore {
    fn drop(&mut self) {
        // Closing the channel stops the writer after the batch it is committing; joining it
        // means the file is released (as far as this handle goes) when drop returns, so the
        // same file can be opened again at once. The wait is at most one commit.
        self.writes.take();
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
    }
}

#[async_trait]
impl Store for EmbeddedStore {
    async fn get(&self, key: &str) -> Result<Option<KeyValue>> {
        let key = key.to_string();
        self.read(move |shared| {
            let txn = shared.db.begin_read().map_err(internal)?;
            let keys = txn.open_table(KEYS).map_err(internal)?;
            let found = keys.get(key.as_str()).map_err(internal)?;
            found.map(|value| decode_current(&key, value.value())).transpose()
        })
        .await
    }

    async fn list(&self, prefix: &str, options: ListOptions) -> Result<ListPage> {
        let prefix = prefix.to_string();
        self.read(move |shared| list_at(shared, &prefix, &options)).await
    }

    async fn create(&self, key: &str, value: Vec<u8>) -> Result<Revision> {
        match self.write(WriteOp::Create { key: key.to_string(), value }).await? {
            WriteOutcome::Written(revision) => Ok(revision),
            other => Err(unexpected(other)),
        }
    }

    async fn update(
        &self,
        key: &str,
        value: Vec<u8>,
        expected_mod_revision: Revision,
    ) -> Result<Revision> {
        let op = WriteOp::Update { key: key.to_string(), value, expected: expected_mod_revision };
        match self.write(op).await? {
            WriteOutcome::Written(revision) => Ok(revision),
            other => Err(unexpected(other)),
        }
    }

    async fn delete(&self, key: &str, expected_mod_revision: Option<Revision>) -> Result<Deleted> {
        let op = WriteOp::Delete { key: key.to_string(), expected: expected_mod_revision };
        match self.write(op).await? {
            WriteOutcome::Deleted(deleted) => Ok(deleted),
            other => Err(unexpected(other)),
        }
    }

    async fn watch(&self, prefix: &str, start_revision: Revision) -> Result<WatchStream> {
        let mut changes = self.revisions.clone();
        let current = *changes.borrow_and_update();
        let cursor = WatchCursor {
            shared: self.shared.clone(),
            prefix: prefix.to_string(),
            next: if start_revision > 0 { start_revision } else { current + 1 },
            pending: VecDeque::new(),
            changes,
            finished: false,
        };
        Ok(futures::stream::unfold(cursor, WatchCursor::advance).boxed())
    }

    async fn compact(&self, revision: Revision) -> Result<()> {
        match self.write(WriteOp::Compact { revision }).await? {
            WriteOutcome::Compacted => Ok(()),
            other => Err(unexpected(other)),
        }
    }

    async fn current_revision(&self) -> Result<Revision> {
        Ok(*self.revisions.borrow())
    }
}

fn open_file(path: PathBuf) -> Result<(Shared, Revision)> {
    let db = Database::create(&path).map_err(|err| match err {
        redb::DatabaseError::DatabaseAlreadyOpen => StoreError::Unavailable(format!(
            "{} is already open in another process or store",
            path.display()
        )),
        other => StoreError::Internal(format!("opening {}: {other}", path.display())),
    })?;
    let txn = db.begin_write().map_err(internal)?;
    let current = {
        txn.open_table(KEYS).map_err(internal)?;
        txn.open_table(LOG).map_err(internal)?;
        let mut meta = txn.open_table(META).map_err(internal)?;
        let current = meta.get(META_REVISION).map_err(internal)?.map(|rev| rev.value());
        match current {
            Some(current) => current,
            None => {
                meta.insert(META_REVISION, INITIAL_REVISION).map_err(internal)?;
                meta.insert(META_OLDEST, 0).map_err(internal)?;
                INITIAL_REVISION
            }
        }
    };
    txn.commit().map_err(internal)?;
    Ok((Shared { db, path, recent: RwLock::new(Recent::new(current)) }, current))
}

// ---------------------------------------------------------------------------------------------
// Writes

enum WriteOp {
    Create { key: String, value: Vec<u8> },
    Update { key: String, value: Vec<u8>, expected: Revision },
    Delete { key: String, expected: Option<Revision> },
    Compact { revision: Revision },
}

#[derive(Debug)]
enum WriteOutcome {
    Written(Revision),
    Deleted(Deleted),
    Compacted,
}

fn unexpected(outcome: WriteOutcome) -> StoreError {
    StoreError::Internal(format!("store writer answered with an unexpected {outcome:?}"))
}

struct WriteRequest {
    op: WriteOp,
    reply: oneshot::Sender<Result<WriteOutcome>>,
}

fn run_writer(
    shared: &Shared,
    requests: &mpsc::Receiver<WriteRequest>,
    revisions: &watch::Sender<Revision>,
) {
    while let Ok(first) = requests.recv() {
        let mut batch = vec![first];
        while batch.len() < BATCH {
            match requests.try_recv() {
                Ok(request) => batch.push(request),
                Err(_) => break,
            }
        }
        let ops: Vec<&WriteOp> = batch.iter().map(|request| &request.op).collect();
        match commit_batch(&shared.db, &ops) {
            Ok(Committed { outcomes, revision, changes, compacted }) => {
                // Kept before the new revision is announced, so that a watch it wakes finds them.
                shared.recent.write().unwrap_or_else(std::sync::PoisonError::into_inner).committed(changes, compacted);
                revisions.send_if_modified(|current| {
                    let changed = *current != revision;
                    *current = revision;
                    changed
                });
                for (request, outcome) in batch.into_iter().zip(outcomes) {
                    let _ = request.reply.send(outcome);
                }
            }
            Err(err) => {
                tracing::error!(path = %shared.path.display(), error = %err, "store commit failed");
                for request in batch {
                    let _ = request.reply.send(Err(StoreError::Internal(format!(
                        "committing to {}: {err}",
                        shared.path.display()
                    ))));
                }
            }
        }
    }
}

/// What a committed batch did: each op's outcome, the revision after it, the changes it made
/// (as watches see them) and the revision it compacted to, if it did.
struct Committed {
    outcomes: Vec<Result<WriteOutcome>>,
    revision: Revision,
    changes: Vec<WatchEvent>,
    compacted: Option<Revision>,
}

/// Applies `ops` in order in one transaction. An op whose precondition fails gets its error and
/// consumes no revision; the others see the effects of those before them. Only a failure of the
/// transaction itself (I/O) fails the whole batch, and then none of it is applied.
fn commit_batch(db: &Database, ops: &[&WriteOp]) -> std::result::Result<Committed, redb::Error> {
    let txn = db.begin_write()?;
    let mut outcomes = Vec::with_capacity(ops.len());
    let mut changes = Vec::new();
    let mut compacted = None;
    let revision;
    {
        let mut keys = txn.open_table(KEYS)?;
        let mut log = txn.open_table(LOG)?;
        let mut meta = txn.open_table(META)?;
        let mut current = meta.get(META_REVISION)?.map_or(INITIAL_REVISION, |rev| rev.value());
        let mut oldest = meta.get(META_OLDEST)?.map_or(0, |rev| rev.value());
        for op in ops {
            let outcome = match op {
                WriteOp::Create { key, value } => {
                    let existing = keys.get(key.as_str())?.is_some();
                    if existing {
                        Err(StoreError::AlreadyExists { key: key.clone() })
                    } else {
                        current += 1;
                        let kv = KeyValue {
                            key: key.clone(),
                            value: value.clone(),
                            create_revision: current,
                            mod_revision: current,
                        };
                        keys.insert(key.as_str(), encode_current(&kv).as_slice())?;
                        let change = Change::Put { kv, previous: None };
                        log.insert(current, encode_change(&change).as_slice())?;
                        changes.push(change.into_event(current));
                        Ok(WriteOutcome::Written(current))
                    }
                }
                WriteOp::Update { key, value, expected } => {
                    let previous = read_current(&keys, key)?;
                    match previous {
                        None => Err(StoreError::NotFound { key: key.clone() }),
                        Some(Err(err)) => Err(err),
                        Some(Ok(previous)) if previous.mod_revision != *expected => {
                            Err(StoreError::Conflict {
                                key: key.clone(),
                                expected: *expected,
                                actual: previous.mod_revision,
                            })
                        }
                        Some(Ok(previous)) => {
                            current += 1;
                            let kv = KeyValue {
                                key: key.clone(),
                                value: value.clone(),
                                create_revision: previous.create_revision,
                                mod_revision: current,
                            };
                            keys.insert(key.as_str(), encode_current(&kv).as_slice())?;
                            let change = Change::Put { kv, previous: Some(previous) };
                            log.insert(current, encode_change(&change).as_slice())?;
                            changes.push(change.into_event(current));
                            Ok(WriteOutcome::Written(current))
                        }
                    }
                }
                WriteOp::Delete { key, expected } => {
                    let previous = read_current(&keys, key)?;
                    match previous {
                        None => Err(StoreError::NotFound { key: key.clone() }),
                        Some(Err(err)) => Err(err),
                        Some(Ok(previous))
                            if expected.is_some_and(|expected| expected != previous.mod_revision) =>
                        {
                            Err(StoreError::Conflict {
                                key: key.clone(),
                                expected: expected.unwrap_or_default(),
                                actual: previous.mod_revision,
                            })
                        }
                        Some(Ok(previous)) => {
                            current += 1;
                            keys.remove(key.as_str())?;
                            let change = Change::Delete { key: key.clone(), previous: previous.clone() };
                            log.insert(current, encode_change(&change).as_slice())?;
                            changes.push(change.into_event(current));
                            Ok(WriteOutcome::Deleted(Deleted { previous, revision: current }))
                        }
                    }
                }
                WriteOp::Compact { revision } => {
                    if *revision <= oldest {
                        Err(StoreError::Compacted { requested: *revision, oldest: Some(oldest) })
                    } else if *revision > current {
                        Err(StoreError::FutureRevision { requested: *revision, current: Some(current) })
                    } else {
                        log.retain_in(..*revision, |_, _| false)?;
                        oldest = *revision;
                        meta.insert(META_OLDEST, oldest)?;
                        compacted = Some(oldest);
                        Ok(WriteOutcome::Compacted)
                    }
                }
            };
            outcomes.push(outcome);
        }
        meta.insert(META_REVISION, current)?;
        revision = current;
    }
    txn.commit()?;
    Ok(Committed { outcomes, revision, changes, compacted })
}

/// The current value of `key` in a write transaction: `None` when absent, an error inside when
/// the stored record cannot be read (so that one bad record fails one op, not the batch).
fn read_current(
    keys: &redb::Table<&str, &[u8]>,
    key: &str,
) -> std::result::Result<Option<Result<KeyValue>>, redb::StorageError> {
    Ok(keys.get(key)?.map(|value| decode_current(key, value.value())))
}

// ---------------------------------------------------------------------------------------------
// Reads

fn list_at(shared: &Shared, prefix: &str, options: &ListOptions) -> Result<ListPage> {
    let txn = shared.db.begin_read().map_err(internal)?;
    let meta = txn.open_table(META).map_err(internal)?;
    let current = meta_value(&meta, META_REVISION)?;
    let oldest = meta_value(&meta, META_OLDEST)?;
    let revision = options.revision.filter(|revision| *revision > 0).unwrap_or(current);
    if revision > current {
        return Err(StoreError::FutureRevision { requested: revision, current: Some(current) });
    }
    if revision < oldest {
        return Err(StoreError::Compacted { requested: revision, oldest: Some(oldest) });
    }
    let start = match &options.start_key {
        Some(start) if start.as_str() > prefix => start.clone(),
        _ => prefix.to_string(),
    };
    let limit = options.limit.filter(|limit| *limit > 0).unwrap_or(usize::MAX);
    let keys = txn.open_table(KEYS).map_err(internal)?;

    if revision == current {
        let mut items = Vec::new();
        let mut remaining = 0u64;
        for entry in keys.range(start.as_str()..).map_err(internal)? {
            let (key, value) = entry.map_err(internal)?;
            let key = key.value();
            if !key.starts_with(prefix) {
                break;
            }
            if items.len() < limit {
                items.push(decode_current(key, value.value())?);
            } else {
                remaining += 1;
            }
        }
        return Ok(page(items, revision, remaining));
    }

    // A past revision: take the current state of the range and undo, newest first, every change
    // made after `revision`.
    let mut state = BTreeMap::new();
    for entry in keys.range(start.as_str()..).map_err(internal)? {
        let (key, value) = entry.map_err(internal)?;
        let key = key.value();
        if !key.starts_with(prefix) {
            break;
        }
        state.insert(key.to_string(), decode_current(key, value.value())?);
    }
    let log = txn.open_table(LOG).map_err(internal)?;
    for entry in log.range(revision + 1..=current).map_err(internal)?.rev() {
        let (at, record) = entry.map_err(internal)?;
        let change = decode_change(at.value(), record.value())?;
        let key = change.key();
        if !key.starts_with(prefix) || key < start.as_str() {
            continue;
        }
        match change.previous() {
            Some(previous) => state.insert(key.to_string(), previous.clone()),
            None => state.remove(key),
        };
    }
    let total = state.len();
    let items: Vec<KeyValue> = state.into_values().take(limit).collect();
    let remaining = (total - items.len()) as u64;
    Ok(page(items, revision, remaining))
}

fn page(items: Vec<KeyValue>, revision: Revision, remaining: u64) -> ListPage {
    let next_key = if remaining > 0 { items.last().map(|kv| key_after(&kv.key)) } else { None };
    ListPage { items, revision, next_key, remaining }
}

fn meta_value(meta: &redb::ReadOnlyTable<&str, i64>, name: &str) -> Result<Revision> {
    meta.get(name)
        .map_err(internal)?
        .map(|value| value.value())
        .ok_or_else(|| StoreError::Internal(format!("store metadata {name:?} is missing")))
}

struct WatchCursor {
    shared: Arc<Shared>,
    prefix: String,
    /// The next revision to deliver.
    next: Revision,
    pending: VecDeque<WatchEvent>,
    changes: watch::Receiver<Revision>,
    finished: bool,
}

impl WatchCursor {
    async fn advance(mut self) -> Option<(Result<WatchEvent>, Self)> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Some((Ok(event), self));
            }
            if self.finished {
                return None;
            }
            // Marking the newest revision seen before reading means a commit that lands after
            // the read still wakes `changed()` below: no change is missed between the two.
            let latest = *self.changes.borrow_and_update();
            if latest >= self.next {
                let recent = self.shared.recent.read().unwrap_or_else(std::sync::PoisonError::into_inner).since(&self.prefix, self.next, latest);
                if let Some((events, next)) = recent {
                    self.pending.extend(events);
                    self.next = next;
                    continue;
                }
                let shared = self.shared.clone();
                let (prefix, next) = (self.prefix.clone(), self.next);
                let read = tokio::task::spawn_blocking(move || read_log(&shared, &prefix, next, latest))
                    .await
                    .map_err(|err| StoreError::Internal(format!("watch read task failed: {err}")));
                match read.and_then(|read| read) {
                    Ok((events, next)) => {
                        self.pending.extend(events);
                        self.next = next;
                    }
                    Err(err) => {
                        self.finished = true;
                        return Some((Err(err), self));
                    }
                }
                continue;
            }
            if self.changes.changed().await.is_err() {
                self.finished = true;
                let closed = format!("{} was closed", self.shared.path.display());
                return Some((Err(StoreError::Unavailable(closed)), self));
            }
        }
    }
}

/// Reads up to `BATCH` log entries from `next` to `latest`, keeps those under `prefix`, and
/// returns them with the revision to continue from.
fn read_log(
    shared: &Shared,
    prefix: &str,
    next: Revision,
    latest: Revision,
) -> Result<(Vec<WatchEvent>, Revision)> {
    let txn = shared.db.begin_read().map_err(internal)?;
    let meta = txn.open_table(META).map_err(internal)?;
    let oldest = meta_value(&meta, META_OLDEST)?;
    if next < oldest {
        return Err(StoreError::Compacted { requested: next, oldest: Some(oldest) });
    }
    let upto = latest.min(next + BATCH as Revision - 1);
    let log = txn.open_table(LOG).map_err(internal)?;
    let mut events = Vec::new();
    for entry in log.range(next..=upto).map_err(internal)? {
        let (at, record) = entry.map_err(internal)?;
        let change = decode_change(at.value(), record.value())?;
        if change.key().starts_with(prefix) {
            events.push(change.into_event(at.value()));
        }
    }
    Ok((events, upto + 1))
}

// ---------------------------------------------------------------------------------------------
// Record encoding. Hand-written because the records are ours alone and must stay readable
// across versions: fixed little-endian integers and length-prefixed bytes. Decoding checks
// every length, so a damaged record is an error naming the key or revision, never a panic.

enum Change {
    Put { kv: KeyValue, previous: Option<KeyValue> },
    Delete { key: String, previous: KeyValue },
}

impl Change {
    fn key(&self) -> &str {
        match self {
            Change::Put { kv, .. } => &kv.key,
            Change::Delete { key, .. } => key,
        }
    }

    fn previous(&self) -> Option<&KeyValue> {
        match self {
            Change::Put { previous, .. } => previous.as_ref(),
            Change::Delete { previous, .. } => Some(previous),
        }
    }

    fn into_event(self, revision: Revision) -> WatchEvent {
        match self {
            Change::Put { kv, previous: None } => WatchEvent::Created(kv),
            Change::Put { kv, previous } => WatchEvent::Updated { current: kv, previous },
            Change::Delete { key, previous } => {
                WatchEvent::Deleted { key, revision, previous: Some(previous) }
            }
        }
    }
}

const PUT: u8 = 0;
const DELETE: u8 = 1;

fn encode_current(kv: &KeyValue) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + kv.value.len());
    out.extend_from_slice(&kv.create_revision.to_le_bytes());
    out.extend_from_slice(&kv.mod_revision.to_le_bytes());
    out.extend_from_slice(&kv.value);
    out
}

fn decode_current(key: &str, record: &[u8]) -> Result<KeyValue> {
    let damaged = || StoreError::Internal(format!("stored record of key {key} is damaged"));
    let mut reader = Reader(record);
    let create_revision = reader.i64().ok_or_else(damaged)?;
    let mod_revision = reader.i64().ok_or_else(damaged)?;
    Ok(KeyValue { key: key.to_string(), value: reader.0.to_vec(), create_revision, mod_revision })
}

fn encode_change(change: &Change) -> Vec<u8> {
    let mut out = Vec::new();
    let (kind, key, kv, previous) = match change {
        Change::Put { kv, previous } => (PUT, &kv.key, Some(kv), previous.as_ref()),
        Change::Delete { key, previous } => (DELETE, key, None, Some(previous)),
    };
    out.push(kind);
    put_bytes(&mut out, key.as_bytes());
    if let Some(kv) = kv {
        out.extend_from_slice(&kv.create_revision.to_le_bytes());
        put_bytes(&mut out, &kv.value);
    }
    match previous {
        Some(previous) => {
            out.push(1);
            out.extend_from_slice(&previous.create_revision.to_le_bytes());
            out.extend_from_slice(&previous.mod_revision.to_le_bytes());
            put_bytes(&mut out, &previous.value);
        }
        None => out.push(0),
    }
    out
}

fn decode_change(revision: Revision, record: &[u8]) -> Result<Change> {
    let damaged = || StoreError::Internal(format!("change log record at revision {revision} is damaged"));
    let mut reader = Reader(record);
    let kind = reader.u8().ok_or_else(damaged)?;
    let key = String::from_utf8(reader.bytes().ok_or_else(damaged)?.to_vec()).map_err(|_| damaged())?;
    let kv = if kind == PUT {
        let create_revision = reader.i64().ok_or_else(damaged)?;
        let value = reader.bytes().ok_or_else(damaged)?.to_vec();
        Some(KeyValue { key: key.clone(), value, create_revision, mod_revision: revision })
    } else {
        None
    };
    let previous = match reader.u8().ok_or_else(damaged)? {
        0 => None,
        _ => {
            let create_revision = reader.i64().ok_or_else(damaged)?;
            let mod_revision = reader.i64().ok_or_else(damaged)?;
            let value = reader.bytes().ok_or_else(damaged)?.to_vec();
            Some(KeyValue { key: key.clone(), value, create_revision, mod_revision })
        }
    };
    match (kind, kv, previous) {
        (PUT, Some(kv), previous) => Ok(Change::Put { kv, previous }),
        (DELETE, None, Some(previous)) => Ok(Change::Delete { key, previous }),
        _ => Err(damaged()),
    }
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    // Values are objects of at most a few MiB (the apiserver refuses larger bodies).
    let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(bytes);
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Some(head)
    }

    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|bytes| bytes[0])
    }

    fn i64(&mut self) -> Option<i64> {
        self.take(8)?.try_into().ok().map(i64::from_le_bytes)
    }

    fn bytes(&mut self) -> Option<&'a [u8]> {
        let len = u32::from_le_bytes(self.take(4)?.try_into().ok()?);
        self.take(usize::try_from(len).ok()?)
    }
}

fn internal(err: impl Into<redb::Error>) -> StoreError {
    StoreError::Internal(format!("embedded store: {}", err.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(key: &str, value: &str, create: Revision, modified: Revision) -> KeyValue {
        KeyValue { key: key.into(), value: value.as_bytes().to_vec(), create_revision: create, mod_revision: modified }
    }

    #[test]
    fn change_records_round_trip() {
        let put = Change::Put { kv: kv("/a", "{\"x\":1}", 2, 5), previous: Some(kv("/a", "{}", 2, 3)) };
        let decoded = decode_change(5, &encode_change(&put)).unwrap();
        assert_eq!(decoded.into_event(5), WatchEvent::Updated {
            current: kv("/a", "{\"x\":1}", 2, 5),
            previous: Some(kv("/a", "{}", 2, 3)),
        });
        let delete = Change::Delete { key: "/b".into(), previous: kv("/b", "{}", 4, 4) };
        let decoded = decode_change(9, &encode_change(&delete)).unwrap();
        assert_eq!(decoded.into_event(9), WatchEvent::Deleted {
            key: "/b".into(),
            revision: 9,
            previous: Some(kv("/b", "{}", 4, 4)),
        });
    }

    #[test]
    fn damaged_records_are_errors_not_panics() {
        let record = encode_change(&Change::Put { kv: kv("/a", "{}", 2, 2), previous: None });
        for cut in 0..record.len() {
            assert!(decode_change(2, &record[..cut]).is_err(), "cut at {cut}");
        }
        assert!(decode_current("/a", &[1, 2, 3]).is_err());
    }

    async fn next_revisions(stream: &mut WatchStream, count: usize) -> Vec<Revision> {
        let mut revisions = Vec::with_capacity(count);
        while revisions.len() < count {
            let event = tokio::time::timeout(std::time::Duration::from_secs(10), stream.next()).await;
            match event {
                Ok(Some(Ok(event))) => revisions.push(event.revision()),
                other => panic!("after {} events: {other:?}", revisions.len()),
            }
        }
        revisions
    }

    /// A watch from further back than memory keeps reads the log, then goes on from memory,
    /// and misses nothing between the two; one from before a compaction is told so.
    #[tokio::test]
    async fn watches_read_the_log_where_memory_no_longer_has_the_changes() {
        let dir = tempfile::tempdir().unwrap();
        let store = EmbeddedStore::open(dir.path().join("store")).await.unwrap();
        let writes = RECENT_CHANGES + 50;
        for index in 0..writes {
            let key = if index % 2 == 0 { format!("/a/{index}") } else { format!("/b/{index}") };
            store.create(&key, b"{}".to_vec()).await.unwrap();
        }
        let covered_from = store.shared.recent.read().unwrap().covered_from;
        assert!(covered_from > INITIAL_REVISION + 1, "memory keeps at most {RECENT_CHANGES} changes");

        let mut all = store.watch("/a/", 0).await.unwrap();
        let mut from_start = store.watch("/a/", INITIAL_REVISION + 1).await.unwrap();
        let expected: Vec<Revision> = (0..writes).filter(|index| index % 2 == 0).map(|index| INITIAL_REVISION + 1 + index as Revision).collect();
        assert_eq!(next_revisions(&mut from_start, expected.len()).await, expected);
        store.create("/a/late", b"{}".to_vec()).await.unwrap();
        let late = INITIAL_REVISION + 1 + writes as Revision;
        assert_eq!(next_revisions(&mut from_start, 1).await, [late]);
        assert_eq!(next_revisions(&mut all, 1).await, [late]);

        store.compact(late).await.unwrap();
        let mut compacted = store.watch("/a/", late - 1).await.unwrap();
        let refused = tokio::time::timeout(std::time::Duration::from_secs(10), compacted.next()).await.unwrap();
        assert!(matches!(refused, Some(Err(StoreError::Compacted { .. }))), "{refused:?}");
        let mut kept = store.watch("/a/", late).await.unwrap();
        assert_eq!(next_revisions(&mut kept, 1).await, [late]);
    }
}
