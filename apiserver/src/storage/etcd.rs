//! The etcd backend: every operation is one etcd request (a transaction where a compare is
//! needed), so etcd's own revision is the store revision and its MVCC history serves reads at
//! past revisions and watches.
//!
//! The client's gRPC channel reconnects by itself when etcd comes back; until then every call
//! fails within the request timeout with [`StoreError::Unavailable`] naming the endpoints, and a
//! watch stream ends with that error so its consumer can resume from the last revision it saw.

use std::time::Duration;

use async_trait::async_trait;
use etcd_client::{
    Client, Compare, CompareOp, CompactionOptions, ConnectOptions, DeleteOptions, EventType,
    GetOptions, KvClient, Txn, TxnOp, TxnOpResponse, WatchOptions,
};
use futures::StreamExt;

use super::{
    Deleted, KeyValue, ListOptions, ListPage, Result, Revision, Store, StoreError, WatchEvent,
    WatchStream, key_after, prefix_end,
};

/// How long one etcd request may take before it fails as unavailable.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a read waits for etcd to elect a leader (elections take about a second here).
const ELECTION_WAIT: Duration = Duration::from_secs(3);

#[derive(Clone)]
pub struct EtcdStore {
    client: Client,
    endpoints: String,
}

impl EtcdStore {
    /// Connects to an etcd cluster (`http://host:port` URLs). Succeeds even while etcd is down:
    /// calls then fail as unavailable until it is reachable.
    pub async fn connect(endpoints: &[String]) -> Result<Self> {
        let options = ConnectOptions::new()
            .with_connect_timeout(CONNECT_TIMEOUT)
            .with_timeout(REQUEST_TIMEOUT)
            .with_keep_alive(Duration::from_secs(10), Duration::from_secs(5))
            .with_keep_alive_while_idle(true);
        let joined = endpoints.join(",");
        let client = Client::connect(endpoints, Some(options))
            .await
            .map_err(|err| map_error(&joined, err))?;
        Ok(Self { client, endpoints: joined })
    }

    fn kv(&self) -> KvClient {
        self.client.kv_client()
    }

    /// A read, tried again while etcd elects a leader: a member that lost its leader refuses
    /// linearizable reads ("leader changed", "no leader") for the second or two an election
    /// takes, and etcd's own Go client retries reads through it, so kube-apiserver's lists and
    /// readiness ride it out. Writes are not retried: one refused may still have been applied.
    async fn read<T, F, Fut>(&self, mut attempt: F) -> std::result::Result<T, etcd_client::Error>
    where
        F: FnMut(KvClient) -> Fut,
        Fut: std::future::Future<Output = std::result::Result<T, etcd_client::Error>>,
    {
        let deadline = tokio::time::Instant::now() + ELECTION_WAIT;
        let mut pause = Duration::from_millis(50);
        loop {
            match attempt(self.kv()).await {
                Err(err) if electing(&err) && tokio::time::Instant::now() + pause < deadline => {
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_millis(400));
                }
                answer => return answer,
            }
        }
    }

    fn error(&self, err: etcd_client::Error) -> StoreError {
        map_error(&self.endpoints, err)
    }

    /// Runs a transaction whose failure branch reads `key`; returns whether the compare held
    /// and, if not, the key's current value.
    async fn txn_or_get(&self, key: &str, txn: Txn) -> Result<TxnOutcome> {
        let response = self.kv().txn(txn).await.map_err(|err| self.error(err))?;
        let revision = response.header().map_or(0, |header| header.revision());
        if response.succeeded() {
            let previous = response.op_responses().into_iter().find_map(|op| match op {
                TxnOpResponse::Delete(mut delete) => delete.take_prev_kvs().into_iter().next(),
                _ => None,
            });
            return Ok(TxnOutcome::Succeeded { revision, previous: previous.map(convert_kv) });
        }
        let current = response.op_responses().into_iter().find_map(|op| match op {
            TxnOpResponse::Get(mut get) => get.take_kvs().into_iter().next(),
            _ => None,
        });
        Ok(TxnOutcome::Failed { current: current.map(convert_kv).filter(|kv| kv.key == key) })
    }
}

enum TxnOutcome {
    Succeeded { revision: Revision, previous: Option<KeyValue> },
    Failed { current: Option<KeyValue> },
}

#[async_trait]
impl Store for EtcdStore {
    async fn get(&self, key: &str) -> Result<Option<KeyValue>> {
        let mut response = self.read(|mut kv| async move { kv.get(key, None).await }).await.map_err(|err| self.error(err))?;
        Ok(response.take_kvs().into_iter().next().map(convert_kv))
    }

    async fn list(&self, prefix: &str, options: ListOptions) -> Result<ListPage> {
        let start = options.start_key.clone().unwrap_or_else(|| prefix.to_string());
        let mut get = GetOptions::new().with_range(prefix_end(prefix));
        if let Some(limit) = options.limit.filter(|limit| *limit > 0) {
            get = get.with_limit(i64::try_from(limit).unwrap_or(i64::MAX));
        }
        if let Some(revision) = options.revision {
            get = get.with_revision(revision);
        }
        let mut response = self
            .read(|mut kv| {
                let (start, get) = (start.clone(), get.clone());
                async move { kv.get(start, Some(get)).await }
            })
            .await
            .map_err(|err| self.error(err))
            .map_err(|err| with_requested_revision(err, options.revision.unwrap_or(0)))?;
        let header_revision = response.header().map_or(0, |header| header.revision());
        let more = response.more();
        let count = u64::try_from(response.count()).unwrap_or(0);
        let items: Vec<KeyValue> = response.take_kvs().into_iter().map(convert_kv).collect();
        let remaining = count.saturating_sub(items.len() as u64);
        let next_key = if more { items.last().map(|kv| key_after(&kv.key)) } else { None };
        Ok(ListPage {
            revision: options.revision.unwrap_or(header_revision),
            items,
            next_key,
            remaining,
        })
    }

    async fn create(&self, key: &str, value: Vec<u8>) -> Result<Revision> {
        let txn = Txn::new()
            .when([Compare::create_revision(key, CompareOp::Equal, 0)])
            .and_then([TxnOp::put(key, value, None)]);
        match self.txn_or_get(key, txn).await? {
            TxnOutcome::Succeeded { revision, .. } => Ok(revision),
            TxnOutcome::Failed { .. } => Err(StoreError::AlreadyExists { key: key.to_string() }),
        }
    }

    async fn update(
        &self,
        key: &str,
        value: Vec<u8>,
        expected_mod_revision: Revision,
    ) -> Result<Revision> {
        let txn = Txn::new()
            .when([Compare::mod_revision(key, CompareOp::Equal, expected_mod_revision)])
            .and_then([TxnOp::put(key, value, None)])
            .or_else([TxnOp::get(key, None)]);
        match self.txn_or_get(key, txn).await? {
            TxnOutcome::Succeeded { revision, .. } => Ok(revision),
            TxnOutcome::Failed { current } => Err(conflict_or_missing(key, expected_mod_revision, current)),
        }
    }

    async fn delete(&self, key: &str, expected_mod_revision: Option<Revision>) -> Result<Deleted> {
        let delete = TxnOp::delete(key, Some(DeleteOptions::new().with_prev_key()));
        let txn = match expected_mod_revision {
            Some(expected) => Txn::new()
                .when([Compare::mod_revision(key, CompareOp::Equal, expected)])
                .and_then([delete])
                .or_else([TxnOp::get(key, None)]),
            // A key that exists has a create revision above 0.
            None => Txn::new()
                .when([Compare::create_revision(key, CompareOp::Greater, 0)])
                .and_then([delete]),
        };
        match self.txn_or_get(key, txn).await? {
            TxnOutcome::Succeeded { revision, previous: Some(previous) } => {
                Ok(Deleted { previous, revision })
            }
            // The compare saw the key but the delete did not: it cannot happen inside one etcd
            // transaction, so report it rather than pretend.
            TxnOutcome::Succeeded { previous: None, .. } => {
                Err(StoreError::Internal(format!("etcd deleted {key} without returning it")))
            }
            TxnOutcome::Failed { current } => match expected_mod_revision {
                Some(expected) => Err(conflict_or_missing(key, expected, current)),
                None => Err(StoreError::NotFound { key: key.to_string() }),
            },
        }
    }

    async fn watch(&self, prefix: &str, start_revision: Revision) -> Result<WatchStream> {
        let mut options = WatchOptions::new().with_prefix().with_prev_key();
        if start_revision > 0 {
            options = options.with_start_revision(start_revision);
        }
        let mut client = self.client.watch_client();
        let stream = client.watch(prefix, Some(options)).await.map_err(|err| self.error(err))?;
        let endpoints = self.endpoints.clone();
        let state = WatchState { stream, endpoints, start_revision, finished: false };
        let events = futures::stream::unfold(state, |mut state| async move {
            if state.finished {
                return None;
            }
            let batch = state.next_batch().await;
            if batch.is_err() {
                state.finished = true;
            }
            Some((futures::stream::iter(flatten(batch)), state))
        })
        .flatten();
        Ok(events.boxed())
    }

    async fn compact(&self, revision: Revision) -> Result<()> {
        self.kv()
            .compact(revision, Some(CompactionOptions::new().with_physical()))
            .await
            .map(|_| ())
            .map_err(|err| self.error(err))
            .map_err(|err| with_requested_revision(err, revision))
    }

    async fn current_revision(&self) -> Result<Revision> {
        let response = self
            .read(|mut kv| async move { kv.get("\0", Some(GetOptions::new().with_count_only())).await })
            .await
            .map_err(|err| self.error(err))?;
        Ok(response.header().map_or(0, |header| header.revision()))
    }
}

struct WatchState {
    stream: etcd_client::WatchStream,
    endpoints: String,
    start_revision: Revision,
    finished: bool,
}

impl WatchState {
    /// The events of the next watch response that carries any, or the error that ends the watch.
    async fn next_batch(&mut self) -> Result<Vec<WatchEvent>> {
        loop {
            let response = match self.stream.message().await {
                Ok(Some(response)) => response,
                Ok(None) => {
                    return Err(StoreError::Unavailable(format!(
                        "etcd at {} closed the watch stream",
                        self.endpoints
                    )));
                }
                Err(err) => return Err(map_error(&self.endpoints, err)),
            };
            if response.compact_revision() != 0 {
                return Err(StoreError::Compacted {
                    requested: self.start_revision,
                    oldest: Some(response.compact_revision()),
                });
            }
            if response.canceled() {
                return Err(StoreError::Unavailable(format!(
                    "etcd at {} cancelled the watch: {}",
                    self.endpoints,
                    response.cancel_reason()
                )));
            }
            if response.events().is_empty() {
                continue;
            }
            return Ok(response.events().iter().filter_map(convert_event).collect());
        }
    }
}

fn flatten(batch: Result<Vec<WatchEvent>>) -> Vec<Result<WatchEvent>> {
    match batch {
        Ok(events) => events.into_iter().map(Ok).collect(),
        Err(err) => vec![Err(err)],
    }
}

fn convert_event(event: &etcd_client::Event) -> Option<WatchEvent> {
    let kv = convert_kv(event.kv()?.clone());
    let previous = event.prev_kv().cloned().map(convert_kv);
    Some(match event.event_type() {
        EventType::Delete => WatchEvent::Deleted { key: kv.key, revision: kv.mod_revision, previous },
        EventType::Put if kv.create_revision == kv.mod_revision => WatchEvent::Created(kv),
        EventType::Put => WatchEvent::Updated { current: kv, previous },
    })
}

fn convert_kv(kv: etcd_client::KeyValue) -> KeyValue {
    let create_revision = kv.create_revision();
    let mod_revision = kv.mod_revision();
    let (key, value) = kv.into_key_value();
    KeyValue { key: String::from_utf8_lossy(&key).into_owned(), value, create_revision, mod_revision }
}

fn conflict_or_missing(key: &str, expected: Revision, current: Option<KeyValue>) -> StoreError {
    match current {
        Some(current) => StoreError::Conflict {
            key: key.to_string(),
            expected,
            actual: current.mod_revision,
        },
        None => StoreError::NotFound { key: key.to_string() },
    }
}

/// etcd reports compaction and future revisions as gRPC errors with fixed messages
/// (`mvcc: required revision has been compacted`, `... is a future revision`); everything that
/// means "could not reach etcd" becomes `Unavailable`.
fn map_error(endpoints: &str, err: etcd_client::Error) -> StoreError {
    use etcd_client::Error as E;
    match err {
        E::GRpcStatus(status) => {
            let message = status.message();
            if message.contains("required revision has been compacted") {
                StoreError::Compacted { requested: 0, oldest: None }
            } else if message.contains("required revision is a future revision") {
                StoreError::FutureRevision { requested: 0, current: None }
            } else {
                match status.code() {
                    tonic_code @ (tonic::Code::Unavailable
                    | tonic::Code::DeadlineExceeded
                    | tonic::Code::Cancelled
                    | tonic::Code::Unknown) => StoreError::Unavailable(format!(
                        "etcd at {endpoints}: {message} ({tonic_code:?})"
                    )),
                    code => StoreError::Internal(format!("etcd at {endpoints}: {message} ({code:?})")),
                }
            }
        }
        E::TransportError(err) => {
            StoreError::Unavailable(format!("cannot reach etcd at {endpoints}: {err}"))
        }
        E::IoError(err) => StoreError::Unavailable(format!("cannot reach etcd at {endpoints}: {err}")),
        other => StoreError::Internal(format!("etcd at {endpoints}: {other}")),
    }
}

/// Whether etcd refused a request because its members are electing a leader.
fn electing(err: &etcd_client::Error) -> bool {
    matches!(err, etcd_client::Error::GRpcStatus(status) if ["leader changed", "no leader"].iter().any(|sign| status.message().contains(sign)))
}

fn with_requested_revision(err: StoreError, requested: Revision) -> StoreError {
    match err {
        StoreError::Compacted { oldest, .. } => StoreError::Compacted { requested, oldest },
        StoreError::FutureRevision { current, .. } => StoreError::FutureRevision { requested, current },
        other => other,
    }
}
