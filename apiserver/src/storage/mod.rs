//! Storage: the `Store` trait that the apiserver persists objects through, and its two backends.
//!
//! The trait is etcd's data model, because etcd is the production engine and Kubernetes'
//! semantics (resourceVersion, watch from a revision, 410 Gone) are built on it: one
//! cluster-wide revision counter bumped by every write, keys carrying their create and mod
//! revisions, compare-and-swap on the mod revision, range reads at a past revision, and watches
//! that replay history from a revision until it is compacted.
//!
//! - [`etcd::EtcdStore`]: etcd through `etcd-client`.
//! - [`embedded::EmbeddedStore`]: a single file for one-machine clusters (see its docs for why
//!   redb).
//!
//! Values are the objects' JSON. The store moves bytes and does not parse them on the way in;
//! a value that is not an object the server can read (not JSON, or nesting deeper than
//! [`crate::json::MAX_STORED_DEPTH`]) surfaces as [`StoreError::Corrupt`] naming the key the moment
//! anybody decodes it ([`KeyValue::decode_object`]), never as a panic.

pub mod embedded;
pub mod encryption;
pub mod etcd;

use std::fmt;

use async_trait::async_trait;

use crate::json;
use futures::stream::BoxStream;
use serde::de::DeserializeOwned;

pub use embedded::EmbeddedStore;
pub use etcd::EtcdStore;

/// A store revision; it becomes `metadata.resourceVersion`.
pub type Revision = i64;

/// One stored key with its value and revisions, as etcd reports them.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyValue {
    pub key: String,
    pub value: Vec<u8>,
    /// The revision of the write that created this incarnation of the key.
    pub create_revision: Revision,
    /// The revision of the last write to the key; the compare-and-swap token.
    pub mod_revision: Revision,
}

impl KeyValue {
    /// Parses the value as JSON into `T`. A value that is not valid JSON (or not a `T`) is a
    /// [`StoreError::Corrupt`] naming the key and revision.
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T, StoreError> {
        serde_json::from_slice(&self.value).map_err(|source| self.corrupt(json::DocumentError::Json(source)))
    }

    /// The stored object, read by the decoder every request body goes through, with the depth
    /// limit of stored objects ([`json::MAX_STORED_DEPTH`], above the write path's): what the
    /// write path lets in, the read path reads back, and a value it cannot read is
    /// [`StoreError::Corrupt`].
    pub fn decode_object(&self) -> Result<serde_json::Value, StoreError> {
        match json::from_stored_json(&self.value) {
            Ok(json::Document { value: value @ serde_json::Value::Object(_), .. }) => Ok(value),
            Ok(_) => Err(self.corrupt(json::DocumentError::NotAnObject)),
            Err(err) => Err(self.corrupt(err)),
        }
    }

    fn corrupt(&self, source: json::DocumentError) -> StoreError {
        StoreError::Corrupt { key: self.key.clone(), revision: self.mod_revision, source }
    }
}

impl fmt::Debug for KeyValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyValue")
            .field("key", &self.key)
            .field("value", &String::from_utf8_lossy(&self.value))
            .field("create_revision", &self.create_revision)
            .field("mod_revision", &self.mod_revision)
            .finish()
    }
}

/// How to read a range of keys.
#[derive(Clone, Debug, Default)]
pub struct ListOptions {
    /// Read the range as it was at this revision (`None`: the current one).
    pub revision: Option<Revision>,
    /// At most this many keys (`None` or 0: all).
    pub limit: Option<usize>,
    /// Start at this key (inclusive) instead of the prefix: the `next_key` of a previous page.
    pub start_key: Option<String>,
}

/// One page of a range read.
#[derive(Clone, Debug)]
pub struct ListPage {
    pub items: Vec<KeyValue>,
    /// The revision the page was read at; pass it back with `next_key` for a consistent next page.
    pub revision: Revision,
    /// Where the next page starts, when more keys remain under the prefix.
    pub next_key: Option<String>,
    /// How many keys under the prefix come after this page.
    pub remaining: u64,
}

/// What a delete removed.
#[derive(Clone, Debug)]
pub struct Deleted {
    pub previous: KeyValue,
    /// The revision of the delete itself.
    pub revision: Revision,
}

/// A change under a watched prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WatchEvent {
    Created(KeyValue),
    Updated {
        current: KeyValue,
        /// The value before the write; absent when history has been compacted away.
        previous: Option<KeyValue>,
    },
    Deleted {
        key: String,
        revision: Revision,
        /// The value that was deleted; absent when history has been compacted away.
        previous: Option<KeyValue>,
    },
}

impl WatchEvent {
    pub fn revision(&self) -> Revision {
        match self {
            WatchEvent::Created(kv) => kv.mod_revision,
            WatchEvent::Updated { current, .. } => current.mod_revision,
            WatchEvent::Deleted { revision, .. } => *revision,
        }
    }

    pub fn key(&self) -> &str {
        match self {
            WatchEvent::Created(kv) => &kv.key,
            WatchEvent::Updated { current, .. } => &current.key,
            WatchEvent::Deleted { key, .. } => key,
        }
    }
}

/// Watch events in revision order. The stream ends with an error (and nothing after it) when
/// the store can no longer continue it, for instance [`StoreError::Compacted`] or
/// [`StoreError::Unavailable`]; the caller resumes from the last revision it saw plus one.
pub type WatchStream = BoxStream<'static, Result<WatchEvent, StoreError>>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("key {key} already exists")]
    AlreadyExists { key: String },
    #[error("key {key} not found")]
    NotFound { key: String },
    #[error("key {key} was modified concurrently: expected mod revision {expected}, found {actual}")]
    Conflict { key: String, expected: Revision, actual: Revision },
    /// `oldest` is the oldest revision still readable, where the backend tells it.
    #[error("revision {requested} has been compacted{}", oldest_note(*.oldest))]
    Compacted { requested: Revision, oldest: Option<Revision> },
    #[error("revision {requested} is in the future{}", current_note(*.current))]
    FutureRevision { requested: Revision, current: Option<Revision> },
    /// A value that is not an object the server can read, in kube-apiserver's words for it.
    #[error("StorageError: corrupt object, Code: 7, Key: {key}, ResourceVersion: 0, AdditionalErrorMsg: object not decodable revision={revision}: {source}")]
    Corrupt { key: String, revision: Revision, source: json::DocumentError },
    /// A value that the encryption configuration cannot decrypt (a key missing from it).
    #[error("unable to transform key {key:?}: {message}")]
    Untransformable { key: String, revision: Revision, message: String },
    #[error("storage is unavailable: {0}")]
    Unavailable(String),
    #[error("storage failed: {0}")]
    Internal(String),
}

fn oldest_note(oldest: Option<Revision>) -> String {
    oldest.map(|oldest| format!("; the oldest revision available is {oldest}")).unwrap_or_default()
}

fn current_note(current: Option<Revision>) -> String {
    current.map(|current| format!("; the current revision is {current}")).unwrap_or_default()
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// The storage operations the apiserver needs; both backends pass one shared test suite
/// (`apiserver/tests/storage.rs`).
#[async_trait]
pub trait Store: Send + Sync + 'static {
    async fn get(&self, key: &str) -> Result<Option<KeyValue>>;

    /// Keys under `prefix` in key order, at the current or a given revision, paged.
    async fn list(&self, prefix: &str, options: ListOptions) -> Result<ListPage>;

    /// Writes `key` only if it does not exist; returns the write's revision.
    async fn create(&self, key: &str, value: Vec<u8>) -> Result<Revision>;

    /// Overwrites `key` only if its mod revision is still `expected_mod_revision`.
    async fn update(&self, key: &str, value: Vec<u8>, expected_mod_revision: Revision)
    -> Result<Revision>;

    /// Deletes `key`, only if its mod revision is `expected_mod_revision` when one is given.
    async fn delete(&self, key: &str, expected_mod_revision: Option<Revision>) -> Result<Deleted>;

    /// Every change under `prefix` from `start_revision` (inclusive) on, without gaps or
    /// duplicates. `start_revision` 0 means "changes after now".
    async fn watch(&self, prefix: &str, start_revision: Revision) -> Result<WatchStream>;

    /// Forgets history before `revision`: reads and watches before it fail with `Compacted`.
    async fn compact(&self, revision: Revision) -> Result<()>;

    async fn current_revision(&self) -> Result<Revision>;

    /// Whether `key`'s value is stored other than a write would store it now (under an older
    /// encryption key, or unencrypted): an update that changes nothing still rewrites it then.
    async fn stale(&self, _key: &str) -> bool {
        false
    }
}

/// The end (exclusive) of the key range that starts with `prefix`, as etcd computes it.
pub(crate) fn prefix_end(prefix: &str) -> Vec<u8> {
    let mut end = prefix.as_bytes().to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    // Every byte was 0xff (or the prefix is empty): the range runs to the end of the keyspace.
    vec![0]
}

/// The key just after `key` in byte order: where the page after a page ending in `key` starts.
pub(crate) fn key_after(key: &str) -> String {
    format!("{key}\0")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_end_increments_the_last_byte() {
        assert_eq!(prefix_end("/registry/pods/"), b"/registry/pods0".to_vec());
        assert_eq!(prefix_end("a"), b"b".to_vec());
        assert_eq!(prefix_end(""), vec![0]);
    }

    #[test]
    fn decode_names_the_key_of_a_corrupt_value() {
        let kv = KeyValue {
            key: "/registry/configmaps/ns/x".into(),
            value: b"\x00not json".to_vec(),
            create_revision: 5,
            mod_revision: 7,
        };
        let err = kv.decode::<serde_json::Value>().unwrap_err();
        assert!(matches!(err, StoreError::Corrupt { revision: 7, .. }));
        assert!(err.to_string().contains("/registry/configmaps/ns/x"), "{err}");
    }
}
