//! Encryption at rest, as kube-apiserver does it from `--encryption-provider-config`: an
//! `EncryptionConfiguration` names, per resource, providers in order; writes use the first
//! provider's first key, reads try each provider whose prefix the value carries. Values are
//! stored as `k8s:enc:aesgcm:v1:<key name>:` + nonce + ciphertext + tag, with the storage key as
//! the additional authenticated data, so a value copied to another key does not decrypt.
//!
//! [`EncryptedStore`] wraps any [`Store`]: everything above it sees plaintext, everything below
//! (etcd, the embedded file) only ciphertext for the resources configured.

use std::path::Path;
use std::sync::Arc;

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use aes_gcm::{Aes128Gcm, Aes256Gcm, AesGcm};
use async_trait::async_trait;
use base64::Engine;
use futures::StreamExt;
use serde::Deserialize;

use super::{Deleted, KeyValue, ListOptions, ListPage, Result, Revision, Store, StoreError, WatchEvent, WatchStream};

type Aes192Gcm = AesGcm<aes_gcm::aes::Aes192, aes_gcm::aead::consts::U12>;

const NONCE: usize = 12;
/// What every encrypted value starts with; plaintext objects (JSON) never do.
const ENCRYPTED: &[u8] = b"k8s:enc:";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("error reading encryption provider configuration file {path:?}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("encryption provider configuration file {0:?} is empty")]
    Empty(String),
    #[error("error decoding encryption provider configuration file {path:?}: {message}")]
    Decode { path: String, message: String },
    #[error("{0}")]
    Invalid(String),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct EncryptionConfiguration {
    api_version: String,
    kind: String,
    #[serde(default)]
    resources: Vec<ResourceConfiguration>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ResourceConfiguration {
    #[serde(default)]
    resources: Vec<String>,
    #[serde(default)]
    providers: Vec<ProviderConfiguration>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProviderConfiguration {
    aesgcm: Option<Keys>,
    aescbc: Option<Keys>,
    secretbox: Option<Keys>,
    identity: Option<serde_yaml_ng::Value>,
    kms: Option<serde_yaml_ng::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Keys {
    #[serde(default)]
    keys: Vec<Key>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Key {
    #[serde(default)]
    name: String,
    #[serde(default)]
    secret: String,
}

/// One AES-GCM key, of 128, 192 or 256 bits.
#[derive(Clone)]
enum Cipher {
    Aes128(Box<Aes128Gcm>),
    Aes192(Box<Aes192Gcm>),
    Aes256(Box<Aes256Gcm>),
}

impl Cipher {
    fn new(key: &[u8]) -> Option<Self> {
        match key.len() {
            16 => Aes128Gcm::new_from_slice(key).ok().map(|cipher| Self::Aes128(Box::new(cipher))),
            24 => Aes192Gcm::new_from_slice(key).ok().map(|cipher| Self::Aes192(Box::new(cipher))),
            32 => Aes256Gcm::new_from_slice(key).ok().map(|cipher| Self::Aes256(Box::new(cipher))),
            _ => None,
        }
    }

    fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Option<Vec<u8>> {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let payload = Payload { msg: plaintext, aad };
        let sealed = match self {
            Self::Aes128(cipher) => cipher.encrypt(&nonce, payload),
            Self::Aes192(cipher) => cipher.encrypt(&nonce, payload),
            Self::Aes256(cipher) => cipher.encrypt(&nonce, payload),
        }
        .ok()?;
        Some([nonce.as_slice(), &sealed].concat())
    }

    fn open(&self, data: &[u8], aad: &[u8]) -> std::result::Result<Vec<u8>, String> {
        if data.len() < NONCE {
            return Err("the stored data was shorter than the required size".into());
        }
        let (nonce, sealed) = data.split_at(NONCE);
        let nonce = aes_gcm::Nonce::from_slice(nonce);
        let payload = Payload { msg: sealed, aad };
        match self {
            Self::Aes128(cipher) => cipher.decrypt(nonce, payload),
            Self::Aes192(cipher) => cipher.decrypt(nonce, payload),
            Self::Aes256(cipher) => cipher.decrypt(nonce, payload),
        }
        .map_err(|_| "cipher: message authentication failed".into())
    }
}

#[derive(Clone)]
enum Provider {
    Identity,
    AesGcm(Vec<(String, Cipher)>),
}

/// The providers of the resources one configuration entry names, in order.
#[derive(Clone)]
struct Rule {
    /// Storage key prefixes: `/registry/core/secrets/`, `/registry/core/` (`*.`), `/registry/` (`*.*`).
    prefixes: Vec<String>,
    providers: Vec<Provider>,
}

/// The configured transformers, by storage key.
#[derive(Clone)]
pub struct Encryption {
    rules: Vec<Rule>,
}

/// Names the rules and providers, never the keys.
impl std::fmt::Debug for Encryption {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let rules: Vec<(Vec<&str>, Vec<String>)> = self
            .rules
            .iter()
            .map(|rule| {
                let providers = rule.providers.iter().map(|provider| match provider {
                    Provider::Identity => "identity".to_string(),
                    Provider::AesGcm(keys) => format!("aesgcm({})", keys.iter().map(|(name, _)| name.as_str()).collect::<Vec<_>>().join(",")),
                });
                (rule.prefixes.iter().map(String::as_str).collect(), providers.collect())
            })
            .collect();
        f.debug_struct("Encryption").field("rules", &rules).finish()
    }
}

impl Encryption {
    /// Reads and checks an `EncryptionConfiguration` file, with kube-apiserver's messages.
    pub fn load(path: &Path) -> std::result::Result<Self, ConfigError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: shown.clone(), source })?;
        if text.trim().is_empty() {
            return Err(ConfigError::Empty(shown));
        }
        let config: EncryptionConfiguration =
            serde_yaml_ng::from_str(&text).map_err(|err| ConfigError::Decode { path: shown.clone(), message: err.to_string() })?;
        Self::from_config(config).map_err(|errors| ConfigError::Invalid(if errors.len() == 1 { errors.join("") } else { format!("[{}]", errors.join(", ")) }))
    }

    fn from_config(config: EncryptionConfiguration) -> std::result::Result<Self, Vec<String>> {
        let mut errors = Vec::new();
        if config.api_version != "apiserver.config.k8s.io/v1" || config.kind != "EncryptionConfiguration" {
            errors.push(format!("no kind {:?} is registered for version {:?}", config.kind, config.api_version));
        }
        if config.resources.is_empty() {
            errors.push("resources: Required value: at least one resources is required".into());
        }
        let mut rules = Vec::new();
        for (index, entry) in config.resources.iter().enumerate() {
            let at = format!("resources[{index}]");
            if entry.resources.is_empty() {
                errors.push(format!("{at}.resources: Required value: at least one {at}.resources is required"));
            }
            if entry.providers.is_empty() {
                errors.push(format!("{at}.providers: Required value: at least one {at}.providers is required"));
            }
            let mut prefixes = Vec::new();
            for (number, resource) in entry.resources.iter().enumerate() {
                match storage_prefix(resource) {
                    Ok(prefix) => prefixes.push(prefix),
                    Err(why) => errors.push(format!("{at}.resources[{number}]: Invalid value: {resource:?}: {why}")),
                }
            }
            let mut providers = Vec::new();
            for (number, provider) in entry.providers.iter().enumerate() {
                match build_provider(provider, &format!("{at}.providers[{number}]")) {
                    Ok(built) => providers.push(built),
                    Err(mut problems) => errors.append(&mut problems),
                }
            }
            rules.push(Rule { prefixes, providers });
        }
        if errors.is_empty() { Ok(Self { rules }) } else { Err(errors) }
    }

    /// The providers for a storage key: the most specific rule that covers it.
    fn providers(&self, key: &str) -> Option<&[Provider]> {
        self.rules
            .iter()
            .flat_map(|rule| rule.prefixes.iter().map(move |prefix| (prefix, rule)))
            .filter(|(prefix, _)| key.starts_with(prefix.as_str()))
            .max_by_key(|(prefix, _)| prefix.len())
            .map(|(_, rule)| rule.providers.as_slice())
    }

    /// The value to store for `key`: sealed by the first provider's first key.
    pub fn seal(&self, key: &str, plaintext: Vec<u8>) -> Result<Vec<u8>> {
        match self.providers(key).and_then(<[Provider]>::first) {
            None | Some(Provider::Identity) => Ok(plaintext),
            Some(Provider::AesGcm(keys)) => {
                let (name, cipher) = keys.first().ok_or_else(|| StoreError::Internal("aesgcm provider without keys".into()))?;
                let sealed = cipher.seal(&plaintext, key.as_bytes()).ok_or_else(|| StoreError::Internal(format!("cannot encrypt {key}")))?;
                Ok([format!("k8s:enc:aesgcm:v1:{name}:").as_bytes(), &sealed].concat())
            }
        }
    }

    /// Whether a stored value was written other than `seal` would write it now.
    fn is_stale(&self, key: &str, stored: &[u8]) -> bool {
        match self.providers(key).and_then(<[Provider]>::first) {
            None | Some(Provider::Identity) => stored.starts_with(ENCRYPTED),
            Some(Provider::AesGcm(keys)) => keys.first().is_none_or(|(name, _)| !stored.starts_with(format!("k8s:enc:aesgcm:v1:{name}:").as_bytes())),
        }
    }

    /// The plaintext of a stored value, as kube-apiserver's prefix transformers read it.
    pub fn open(&self, key: &str, stored: Vec<u8>) -> std::result::Result<Vec<u8>, String> {
        let Some(providers) = self.providers(key) else {
            return if stored.starts_with(ENCRYPTED) { Err("identity transformer tried to read encrypted data".into()) } else { Ok(stored) };
        };
        let mut errors: Vec<String> = Vec::new();
        for provider in providers {
            match provider {
                Provider::Identity if !stored.starts_with(ENCRYPTED) => return Ok(stored),
                Provider::Identity => {}
                Provider::AesGcm(keys) => {
                    let Some(rest) = stored.strip_prefix(b"k8s:enc:aesgcm:v1:".as_slice()) else { continue };
                    let mut matched = false;
                    for (name, cipher) in keys {
                        let Some(sealed) = rest.strip_prefix(format!("{name}:").as_bytes()) else { continue };
                        matched = true;
                        match cipher.open(sealed, key.as_bytes()) {
                            Ok(plaintext) => return Ok(plaintext),
                            Err(err) => errors.push(err),
                        }
                    }
                    if !matched {
                        errors.push("no matching key was found for the provided AES transformer".into());
                    }
                }
            }
        }
        errors.dedup();
        Err(match errors.as_slice() {
            [] => "no matching prefix found".to_string(),
            [one] => one.clone(),
            many => format!("[{}]", many.join(", ")),
        })
    }
}

/// Where a configured resource (`secrets`, `*.`, `*.*`, `deployments.apps`, `*.apps`) lives in
/// storage.
fn storage_prefix(resource: &str) -> std::result::Result<String, &'static str> {
    if resource.chars().any(|c| c.is_ascii_uppercase()) {
        return Err("resource name should not contain capital letters");
    }
    if resource == "*" {
        return Err("use '*.' to encrypt all the resources from core API group or *.* to encrypt all resources");
    }
    let (plural, group) = resource.split_once('.').unwrap_or((resource, ""));
    let group = if group.is_empty() { "core" } else { group };
    match (plural, group) {
        ("*", "*") => Ok("/registry/".into()),
        (_, "*") => Err("encrypting the same resource across groups is not supported"),
        ("*", group) => Ok(format!("/registry/{group}/")),
        (plural, group) => Ok(format!("/registry/{group}/{plural}/")),
    }
}

fn build_provider(provider: &ProviderConfiguration, at: &str) -> std::result::Result<Provider, Vec<String>> {
    let set = [provider.aesgcm.is_some(), provider.aescbc.is_some(), provider.secretbox.is_some(), provider.identity.is_some(), provider.kms.is_some()];
    match set.iter().filter(|set| **set).count() {
        0 => return Err(vec![format!("{at}: Invalid value: \"\": provider does not contain any of the expected providers: KMS, AESGCM, AESCBC, Secretbox, Identity")]),
        1 => {}
        _ => return Err(vec![format!("{at}: Invalid value: \"\": more than one provider specified in a single element, should split into different list elements")]),
    }
    if provider.identity.is_some() {
        return Ok(Provider::Identity);
    }
    let Some(aesgcm) = &provider.aesgcm else {
        let name = if provider.aescbc.is_some() { "aescbc" } else if provider.secretbox.is_some() { "secretbox" } else { "kms" };
        return Err(vec![format!("{at}.{name}: Unsupported value: {name:?}: supported values: \"aesgcm\", \"identity\"")]);
    };
    let mut errors = Vec::new();
    if aesgcm.keys.is_empty() {
        errors.push(format!("{at}.aesgcm.keys: Required value: at least one keys is required"));
    }
    let mut keys = Vec::new();
    for (index, key) in aesgcm.keys.iter().enumerate() {
        let here = format!("{at}.aesgcm.keys[{index}]");
        if key.name.is_empty() {
            errors.push(format!("{here}.name: Required value: name is a mandatory field for a key"));
        }
        if key.secret.is_empty() {
            errors.push(format!("{here}.secret: Required value: secret is a mandatory field for a key"));
            continue;
        }
        let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(&key.secret) else {
            errors.push(format!("{here}.secret: Invalid value: \"REDACTED\": secrets must be base64 encoded"));
            continue;
        };
        match Cipher::new(&bytes) {
            Some(cipher) => keys.push((key.name.clone(), cipher)),
            None => errors.push(format!("{here}.secret: Invalid value: \"REDACTED\": secret is not of the expected length, got {}, expected one of [16 24 32]", bytes.len())),
        }
    }
    if errors.is_empty() { Ok(Provider::AesGcm(keys)) } else { Err(errors) }
}

/// A store whose values for the configured resources are encrypted.
pub struct EncryptedStore {
    inner: Arc<dyn Store>,
    encryption: Arc<Encryption>,
}

impl EncryptedStore {
    pub fn new(inner: Arc<dyn Store>, encryption: Encryption) -> Self {
        Self { inner, encryption: Arc::new(encryption) }
    }
}

fn opened(encryption: &Encryption, mut kv: KeyValue) -> Result<KeyValue> {
    kv.value = encryption.open(&kv.key, std::mem::take(&mut kv.value)).map_err(|err| StoreError::Internal(format!("unable to transform key {:?}: {err}", kv.key)))?;
    Ok(kv)
}

#[async_trait]
impl Store for EncryptedStore {
    async fn get(&self, key: &str) -> Result<Option<KeyValue>> {
        self.inner.get(key).await?.map(|kv| opened(&self.encryption, kv)).transpose()
    }

    async fn list(&self, prefix: &str, options: ListOptions) -> Result<ListPage> {
        let mut page = self.inner.list(prefix, options).await?;
        page.items = page.items.into_iter().map(|kv| opened(&self.encryption, kv)).collect::<Result<_>>()?;
        Ok(page)
    }

    async fn create(&self, key: &str, value: Vec<u8>) -> Result<Revision> {
        self.inner.create(key, self.encryption.seal(key, value)?).await
    }

    async fn update(&self, key: &str, value: Vec<u8>, expected_mod_revision: Revision) -> Result<Revision> {
        self.inner.update(key, self.encryption.seal(key, value)?, expected_mod_revision).await
    }

    async fn delete(&self, key: &str, expected_mod_revision: Option<Revision>) -> Result<Deleted> {
        let mut deleted = self.inner.delete(key, expected_mod_revision).await?;
        deleted.previous = opened(&self.encryption, deleted.previous)?;
        Ok(deleted)
    }

    async fn watch(&self, prefix: &str, start_revision: Revision) -> Result<WatchStream> {
        let encryption = self.encryption.clone();
        let events = self.inner.watch(prefix, start_revision).await?;
        let open = move |kv: Option<KeyValue>| kv.map(|kv| opened(&encryption, kv)).transpose();
        Ok(events
            .map(move |event| match event? {
                WatchEvent::Created(kv) => Ok(WatchEvent::Created(opened_required(&open, kv)?)),
                WatchEvent::Updated { current, previous } => Ok(WatchEvent::Updated { current: opened_required(&open, current)?, previous: open(previous)? }),
                WatchEvent::Deleted { key, revision, previous } => Ok(WatchEvent::Deleted { key, revision, previous: open(previous)? }),
            })
            .boxed())
    }

    async fn compact(&self, revision: Revision) -> Result<()> {
        self.inner.compact(revision).await
    }

    async fn current_revision(&self) -> Result<Revision> {
        self.inner.current_revision().await
    }

    async fn stale(&self, key: &str) -> bool {
        matches!(self.inner.get(key).await, Ok(Some(kv)) if self.encryption.is_stale(key, &kv.value))
    }
}

fn opened_required(open: &impl Fn(Option<KeyValue>) -> Result<Option<KeyValue>>, kv: KeyValue) -> Result<KeyValue> {
    open(Some(kv))?.ok_or_else(|| StoreError::Internal("a watch event lost its value".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> std::result::Result<Encryption, Vec<String>> {
        Encryption::from_config(serde_yaml_ng::from_str(text).unwrap())
    }

    const KEY1: &str = "c2VjcmV0IGlzIHNlY3VyZSwgSSB0aGluayBzbywgYmU="; // 32 bytes
    const KEY2: &str = "MDEyMzQ1Njc4OWFiY2RlZg=="; // 16 bytes

    fn two_keys(first: &str, second: &str) -> Encryption {
        config(&format!(
            "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n- resources: [secrets]\n  providers:\n  - aesgcm:\n      keys:\n      - {{name: {first}, secret: {}}}\n      - {{name: {second}, secret: {}}}\n  - identity: {{}}\n",
            if first == "key1" { KEY1 } else { KEY2 },
            if second == "key1" { KEY1 } else { KEY2 },
        ))
        .unwrap()
    }

    #[test]
    fn secrets_are_sealed_with_the_first_key_and_open_with_any() {
        let old = two_keys("key1", "key2");
        let key = "/registry/core/secrets/default/s1";
        let sealed = old.seal(key, b"{\"data\":1}".to_vec()).unwrap();
        assert!(sealed.starts_with(b"k8s:enc:aesgcm:v1:key1:"));
        assert!(!sealed.windows(8).any(|w| w == b"\"data\":1"), "no plaintext in the stored value");
        assert_eq!(old.open(key, sealed.clone()).unwrap(), b"{\"data\":1}");
        // After rotation (key2 first) the old value still reads; new writes use key2.
        let rotated = two_keys("key2", "key1");
        assert_eq!(rotated.open(key, sealed.clone()).unwrap(), b"{\"data\":1}");
        assert!(rotated.seal(key, b"x".to_vec()).unwrap().starts_with(b"k8s:enc:aesgcm:v1:key2:"));
        assert!(rotated.is_stale(key, &sealed) && !old.is_stale(key, &sealed), "only the first key is current");
        assert!(old.is_stale(key, b"{}") && !old.is_stale("/registry/core/configmaps/n/c", b"{}"));
        // Another key's value, a tampered value, and an unknown key name do not open.
        assert_eq!(old.open("/registry/core/secrets/default/other", sealed.clone()).unwrap_err(), "cipher: message authentication failed");
        let mut tampered = sealed.clone();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        assert_eq!(old.open(key, tampered).unwrap_err(), "cipher: message authentication failed");
        let only_new = config(&format!("apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n- resources: [secrets]\n  providers:\n  - aesgcm:\n      keys: [{{name: key3, secret: {KEY2}}}]\n")).unwrap();
        assert_eq!(only_new.open(key, sealed).unwrap_err(), "no matching key was found for the provided AES transformer");
        // Plaintext: read through identity when it is listed, refused when it is not.
        assert_eq!(old.open(key, b"{}".to_vec()).unwrap(), b"{}");
        assert_eq!(only_new.open(key, b"{}".to_vec()).unwrap_err(), "no matching prefix found");
    }

    #[test]
    fn other_resources_are_left_alone() {
        let encryption = two_keys("key1", "key2");
        let key = "/registry/core/configmaps/default/c1";
        assert_eq!(encryption.seal(key, b"{}".to_vec()).unwrap(), b"{}");
        let secret = encryption.seal("/registry/core/secrets/default/s1", b"{}".to_vec()).unwrap();
        assert_eq!(encryption.open(key, secret).unwrap_err(), "identity transformer tried to read encrypted data");
    }

    #[test]
    fn wildcards_and_bad_files_are_checked_as_kube_apiserver_checks_them() {
        assert_eq!(storage_prefix("secrets").unwrap(), "/registry/core/secrets/");
        assert_eq!(storage_prefix("deployments.apps").unwrap(), "/registry/apps/deployments/");
        assert_eq!(storage_prefix("*.").unwrap(), "/registry/core/");
        assert_eq!(storage_prefix("*.*").unwrap(), "/registry/");
        assert!(storage_prefix("*").is_err());
        assert!(storage_prefix("Secrets").is_err());
        let short = config("apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n- resources: [secrets]\n  providers:\n  - aesgcm:\n      keys: [{name: k, secret: c2hvcnQ=}]\n");
        assert_eq!(
            short.err().unwrap(),
            ["resources[0].providers[0].aesgcm.keys[0].secret: Invalid value: \"REDACTED\": secret is not of the expected length, got 5, expected one of [16 24 32]"]
        );
        let two = config("apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n- resources: [secrets]\n  providers:\n  - {identity: {}, aesgcm: {keys: []}}\n");
        assert!(two.err().unwrap()[0].contains("more than one provider specified in a single element"));
        let specific = config(&format!("apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n- resources: [secrets]\n  providers: [{{aesgcm: {{keys: [{{name: a, secret: {KEY1}}}]}}}}]\n- resources: ['*.*']\n  providers: [{{identity: {{}}}}]\n")).unwrap();
        assert!(specific.seal("/registry/core/secrets/n/s", b"{}".to_vec()).unwrap().starts_with(ENCRYPTED), "the most specific rule wins");
        assert_eq!(specific.seal("/registry/apps/deployments/n/d", b"{}".to_vec()).unwrap(), b"{}");
    }

    #[test]
    fn a_missing_or_empty_file_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.yaml");
        std::fs::write(&empty, "\n").unwrap();
        assert!(matches!(Encryption::load(&empty), Err(ConfigError::Empty(_))));
        assert!(matches!(Encryption::load(&dir.path().join("absent.yaml")), Err(ConfigError::Read { .. })));
        let unknown = dir.path().join("unknown.yaml");
        std::fs::write(&unknown, "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources: []\npandas: 1\n").unwrap();
        assert!(Encryption::load(&unknown).unwrap_err().to_string().contains("unknown field `pandas`"));
    }
}
