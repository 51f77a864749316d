//! The repair of a store that holds objects this server cannot read back: what older versions
//! let in (an object nesting deeper than [`crate::json::MAX_STORED_DEPTH`], accepted as YAML
//! or protobuf) or bytes damaged on disk. `apiserver --delete-undecodable-objects` scans every
//! key under `/registry`, deletes each value that decrypts (or needs no decrypting) but does not
//! decode as an object within the limits the read path has, logs each key it removes, and
//! reports what it did.
//!
//! A value that does not decrypt is never deleted, only reported: the cause is far more often a
//! key missing from the encryption configuration (or the configuration missing) than damaged
//! data, and a wrong configuration must never cause mass deletion. The same goes for a value
//! that looks encrypted when no configuration was given.

use std::sync::Arc;

use crate::config::{Config, ServeError, StorageKind};
use crate::storage::encryption::{self, Encryption};
use crate::storage::{EmbeddedStore, EtcdStore, KeyValue, ListOptions, Store, StoreError};

/// Where every object lives.
const REGISTRY: &str = "/registry/";
/// Keys read per page.
const PAGE: usize = 500;

/// What a repair found and did.
#[derive(Debug, Default)]
pub struct Report {
    /// Keys read.
    pub scanned: usize,
    /// The keys deleted, with why they could not be read.
    pub deleted: Vec<(String, String)>,
    /// The keys left in place because their values do not decrypt, with why.
    pub undecryptable: Vec<(String, String)>,
    /// Keys that could not be read and were written again (or deleted) by someone else while
    /// the repair ran: left alone, as they are not the values that were judged.
    pub changed_meanwhile: Vec<String>,
}

/// Deletes from `store` (the store as it is on disk, encrypted values and all) every value that
/// `encryption` opens but that does not decode as an object within the read path's limits.
/// Each delete is conditional on the value being the one judged.
pub async fn delete_undecodable_objects(store: &dyn Store, encryption: Option<&Encryption>) -> Result<Report, StoreError> {
    let mut report = Report::default();
    let mut options = ListOptions { limit: Some(PAGE), ..ListOptions::default() };
    loop {
        let page = store.list(REGISTRY, options.clone()).await?;
        for kv in page.items {
            report.scanned += 1;
            let plaintext = match open(encryption, &kv) {
                Ok(plaintext) => plaintext,
                Err(why) => {
                    tracing::error!(key = %kv.key, error = %why, "left in place: the value does not decrypt");
                    report.undecryptable.push((kv.key, why));
                    continue;
                }
            };
            let decoded = KeyValue { value: plaintext, ..kv.clone() }.decode_object();
            let Err(why) = decoded else { continue };
            match store.delete(&kv.key, Some(kv.mod_revision)).await {
                Ok(_) => {
                    tracing::warn!(key = %kv.key, revision = kv.mod_revision, error = %why, "deleted an object that cannot be decoded");
                    report.deleted.push((kv.key, why.to_string()));
                }
                Err(StoreError::Conflict { .. } | StoreError::NotFound { .. }) => {
                    tracing::warn!(key = %kv.key, "left alone: written or deleted by someone else since it was read");
                    report.changed_meanwhile.push(kv.key);
                }
                Err(err) => return Err(err),
            }
        }
        // Pages follow the current revision rather than one fixed at the start: the deletes
        // move it on, and a long scan must not outlive a compaction.
        match page.next_key {
            Some(next) => options.start_key = Some(next),
            None => return Ok(report),
        }
    }
}

/// The plaintext of a stored value, or why it cannot be had.
fn open(encryption: Option<&Encryption>, kv: &KeyValue) -> Result<Vec<u8>, String> {
    match encryption {
        Some(encryption) => encryption.open(&kv.key, kv.value.clone()),
        None if encryption::looks_encrypted(&kv.value) => Err("the value is encrypted and no --encryption-provider-config was given".into()),
        None => Ok(kv.value.clone()),
    }
}

/// `apiserver --delete-undecodable-objects`: opens the configured store (with its encryption
/// configuration), repairs it, logs a summary, and returns; an error when values were left in
/// place because they do not decrypt, so that the operator does not take the store for clean.
pub async fn run(config: &Config) -> Result<(), ServeError> {
    let store: Arc<dyn Store> = match config.storage {
        StorageKind::Embedded => Arc::new(EmbeddedStore::open(config.data_dir.join("store.redb")).await?),
        StorageKind::Etcd => Arc::new(EtcdStore::connect(&config.etcd_servers).await?),
    };
    let encryption = config.encryption_provider_config.as_deref().map(Encryption::load).transpose()?;
    tracing::info!(storage = ?config.storage, encrypted = encryption.is_some(), "deleting the objects that cannot be decoded");
    let report = delete_undecodable_objects(store.as_ref(), encryption.as_ref()).await?;
    tracing::info!(
        scanned = report.scanned,
        deleted = report.deleted.len(),
        undecryptable = report.undecryptable.len(),
        changed_meanwhile = report.changed_meanwhile.len(),
        "repair finished: {} keys read, {} undecodable objects deleted, {} values that do not decrypt left in place, {} changed meanwhile and left alone",
        report.scanned,
        report.deleted.len(),
        report.undecryptable.len(),
        report.changed_meanwhile.len(),
    );
    if report.undecryptable.is_empty() { Ok(()) } else { Err(ServeError::Undecryptable { count: report.undecryptable.len() }) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::Revision;

    /// A store that answers lists and conditional deletes from a map, enough for the scan.
    #[derive(Default)]
    struct Memory {
        values: std::sync::Mutex<std::collections::BTreeMap<String, (Vec<u8>, Revision)>>,
    }

    #[async_trait::async_trait]
    impl Store for Memory {
        async fn get(&self, key: &str) -> crate::storage::Result<Option<KeyValue>> {
            let values = self.values.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            Ok(values.get(key).map(|(value, revision)| KeyValue { key: key.into(), value: value.clone(), create_revision: *revision, mod_revision: *revision }))
        }

        async fn list(&self, prefix: &str, options: ListOptions) -> crate::storage::Result<crate::storage::ListPage> {
            let values = self.values.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let start = options.start_key.unwrap_or_else(|| prefix.to_string());
            let mut items: Vec<KeyValue> = values
                .range(start..)
                .take_while(|(key, _)| key.starts_with(prefix))
                .map(|(key, (value, revision))| KeyValue { key: key.clone(), value: value.clone(), create_revision: *revision, mod_revision: *revision })
                .collect();
            let limit = options.limit.unwrap_or(usize::MAX);
            let next_key = (items.len() > limit).then(|| items[limit].key.clone());
            items.truncate(limit);
            Ok(crate::storage::ListPage { items, revision: 1, next_key, remaining: 0 })
        }

        async fn create(&self, _: &str, _: Vec<u8>) -> crate::storage::Result<Revision> {
            Err(StoreError::Internal("not used".into()))
        }

        async fn update(&self, _: &str, _: Vec<u8>, _: Revision) -> crate::storage::Result<Revision> {
            Err(StoreError::Internal("not used".into()))
        }

        async fn delete(&self, key: &str, expected: Option<Revision>) -> crate::storage::Result<crate::storage::Deleted> {
            let mut values = self.values.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            match values.get(key) {
                None => Err(StoreError::NotFound { key: key.into() }),
                Some((_, revision)) if expected.is_some_and(|expected| expected != *revision) => {
                    Err(StoreError::Conflict { key: key.into(), expected: expected.unwrap_or_default(), actual: *revision })
                }
                Some(_) => {
                    let (value, revision) = values.remove(key).unwrap_or_default();
                    let previous = KeyValue { key: key.into(), value, create_revision: revision, mod_revision: revision };
                    Ok(crate::storage::Deleted { previous, revision: revision + 1 })
                }
            }
        }

        async fn watch(&self, _: &str, _: Revision) -> crate::storage::Result<crate::storage::WatchStream> {
            Err(StoreError::Internal("not used".into()))
        }

        async fn compact(&self, _: Revision) -> crate::storage::Result<()> {
            Ok(())
        }

        async fn current_revision(&self) -> crate::storage::Result<Revision> {
            Ok(1)
        }
    }

    #[tokio::test]
    async fn deletes_what_does_not_decode_and_never_what_does_not_decrypt() {
        let store = Memory::default();
        let deep = format!("{{\"metadata\":{}{}}}", "{\"a\":".repeat(crate::json::MAX_STORED_DEPTH), "}".repeat(crate::json::MAX_STORED_DEPTH + 1));
        let values: Vec<(&str, Vec<u8>)> = vec![
            ("/registry/core/configmaps/a/good", br#"{"metadata":{"name":"good"}}"#.to_vec()),
            ("/registry/core/configmaps/a/deep", deep.into_bytes()),
            ("/registry/core/configmaps/a/garbage", b"\x00\x01 not json".to_vec()),
            ("/registry/core/configmaps/a/array", b"[1]".to_vec()),
            ("/registry/core/secrets/a/sealed", b"k8s:enc:aesgcm:v1:key1:\x01\x02\x03".to_vec()),
            ("/registry/allocations/clusterips/10.96.0.1", br#"{"owner":"default/kubernetes"}"#.to_vec()),
        ];
        {
            let mut map = store.values.lock().unwrap();
            for (revision, (key, value)) in values.into_iter().enumerate() {
                map.insert(key.to_string(), (value, revision as Revision + 1));
            }
        }
        let report = delete_undecodable_objects(&store, None).await.expect("scans");
        assert_eq!(report.scanned, 6);
        let deleted: Vec<&str> = report.deleted.iter().map(|(key, _)| key.as_str()).collect();
        assert_eq!(deleted, vec!["/registry/core/configmaps/a/array", "/registry/core/configmaps/a/deep", "/registry/core/configmaps/a/garbage"]);
        // Past the stored depth limit serde_json's own (one level more) may speak first.
        assert!(report.deleted[1].1.contains("nests deeper than 127 levels") || report.deleted[1].1.contains("recursion limit exceeded"), "{:?}", report.deleted[1]);
        assert_eq!(report.undecryptable.len(), 1);
        assert_eq!(report.undecryptable[0].0, "/registry/core/secrets/a/sealed");
        let left: Vec<String> = store.values.lock().unwrap().keys().cloned().collect();
        assert_eq!(left, vec!["/registry/allocations/clusterips/10.96.0.1", "/registry/core/configmaps/a/good", "/registry/core/secrets/a/sealed"]);
        // A second run finds nothing more to do.
        let again = delete_undecodable_objects(&store, None).await.expect("scans");
        assert!(again.deleted.is_empty());
    }
}
