//! Encryption at rest, as kube-apiserver does it from `--encryption-provider-config`: an
//! `EncryptionConfiguration` names, per resource, providers in order; writes use the first
//! provider's first key, reads try each provider whose prefix the value carries (`identity`, with
//! no prefix, reads whatever is not encrypted, wherever it is listed). Values are stored as
//! kube-apiserver stores them, so that etcd data moves between it and us either way:
//!
//! - `aesgcm` (16, 24 or 32-byte keys): `k8s:enc:aesgcm:v1:<key name>:` + 12-byte nonce +
//!   ciphertext + tag, with the storage key as the additional authenticated data, so a value
//!   copied to another key does not decrypt. Our recommended provider.
//! - `secretbox` (32-byte keys): `k8s:enc:secretbox:v1:<key name>:` + 24-byte nonce + NaCl
//!   secretbox (XSalsa20-Poly1305, Poly1305 tag first, as Go's `nacl/secretbox` seals).
//! - `aescbc` (16, 24 or 32-byte keys): `k8s:enc:aescbc:v1:<key name>:` + 16-byte IV + AES-CBC
//!   ciphertext with PKCS#7 padding, unauthenticated. Kubernetes' documentation calls it weak
//!   (CBC is open to padding oracle attacks) and advises against it; it is here to read and
//!   migrate clusters that used it.
//!
//! [`EncryptedStore`] wraps any [`Store`]: everything above it sees plaintext, everything below
//! (etcd, the embedded file) only ciphertext for the resources configured.

use std::path::Path;
use std::sync::Arc;

use aes_gcm::aead::rand_core::RngCore;
use aes_gcm::aead::{Aead, KeyInit, OsRng, Payload};
use aes_gcm::aes::{Aes128, Aes192, Aes256};
use aes_gcm::{Aes128Gcm, Aes256Gcm, AesGcm};
use async_trait::async_trait;
use base64::Engine;
use cbc::cipher::block_padding::{NoPadding, Pkcs7};
use cbc::cipher::{BlockDecryptMut, BlockEncryptMut, InnerIvInit};
use crypto_secretbox::XSalsa20Poly1305;
use futures::StreamExt;
use serde::Deserialize;

use super::{Deleted, KeyValue, ListOptions, ListPage, Result, Revision, Store, StoreError, WatchEvent, WatchStream};

type Aes192Gcm = AesGcm<aes_gcm::aes::Aes192, aes_gcm::aead::consts::U12>;

/// AES-GCM's nonce; Kubernetes refuses any other size ("all data in etcd will be broken if this
/// ever changes").
const GCM_NONCE: usize = 12;
/// XSalsa20's nonce, and Poly1305's tag.
const SECRETBOX_NONCE: usize = 24;
const SECRETBOX_TAG: usize = 16;
/// AES's block, the size of CBC's IV.
const AES_BLOCK: usize = 16;
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
enum GcmCipher {
    Aes128(Box<Aes128Gcm>),
    Aes192(Box<Aes192Gcm>),
    Aes256(Box<Aes256Gcm>),
}

impl GcmCipher {
    fn new(key: &[u8]) -> Option<Self> {
        match key.len() {
            16 => Aes128Gcm::new_from_slice(key).ok().map(|cipher| Self::Aes128(Box::new(cipher))),
            24 => Aes192Gcm::new_from_slice(key).ok().map(|cipher| Self::Aes192(Box::new(cipher))),
            32 => Aes256Gcm::new_from_slice(key).ok().map(|cipher| Self::Aes256(Box::new(cipher))),
            _ => None,
        }
    }

    fn seal(&self, plaintext: &[u8], aad: &[u8]) -> std::result::Result<Vec<u8>, String> {
        let mut nonce = [0u8; GCM_NONCE];
        OsRng.try_fill_bytes(&mut nonce).map_err(|err| format!("failed to write nonce for AES-GCM: {err}"))?;
        let nonce = aes_gcm::Nonce::from_slice(&nonce);
        let payload = Payload { msg: plaintext, aad };
        let sealed = match self {
            Self::Aes128(cipher) => cipher.encrypt(nonce, payload),
            Self::Aes192(cipher) => cipher.encrypt(nonce, payload),
            Self::Aes256(cipher) => cipher.encrypt(nonce, payload),
        }
        .map_err(|_| "AES-GCM could not seal the value".to_string())?;
        Ok([nonce.as_slice(), &sealed].concat())
    }

    fn open(&self, data: &[u8], aad: &[u8]) -> std::result::Result<Vec<u8>, String> {
        if data.len() < GCM_NONCE {
            return Err("the stored data was shorter than the required size".into());
        }
        let (nonce, sealed) = data.split_at(GCM_NONCE);
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

/// One AES key for CBC mode, of 128, 192 or 256 bits: Kubernetes' CBC transformer
/// (`k8s.io/apiserver/pkg/storage/value/encrypt/aes`). It authenticates nothing, neither the
/// value nor the storage key, which is why Kubernetes' documentation rates it weak.
#[derive(Clone)]
enum CbcCipher {
    Aes128(Box<Aes128>),
    Aes192(Box<Aes192>),
    Aes256(Box<Aes256>),
}

impl CbcCipher {
    fn new(key: &[u8]) -> Option<Self> {
        match key.len() {
            16 => Aes128::new_from_slice(key).ok().map(|cipher| Self::Aes128(Box::new(cipher))),
            24 => Aes192::new_from_slice(key).ok().map(|cipher| Self::Aes192(Box::new(cipher))),
            32 => Aes256::new_from_slice(key).ok().map(|cipher| Self::Aes256(Box::new(cipher))),
            _ => None,
        }
    }

    /// A random IV, then the plaintext padded to whole blocks with PKCS#7 (a whole block of
    /// padding when it already fills its blocks) and encrypted.
    fn seal(&self, plaintext: &[u8]) -> std::result::Result<Vec<u8>, String> {
        let mut iv = [0u8; AES_BLOCK];
        OsRng.try_fill_bytes(&mut iv).map_err(|_| "unable to read sufficient random bytes".to_string())?;
        let iv_array = (&iv).into();
        let sealed = match self {
            Self::Aes128(block) => cbc::Encryptor::<Aes128>::inner_iv_init((**block).clone(), iv_array).encrypt_padded_vec_mut::<Pkcs7>(plaintext),
            Self::Aes192(block) => cbc::Encryptor::<Aes192>::inner_iv_init((**block).clone(), iv_array).encrypt_padded_vec_mut::<Pkcs7>(plaintext),
            Self::Aes256(block) => cbc::Encryptor::<Aes256>::inner_iv_init((**block).clone(), iv_array).encrypt_padded_vec_mut::<Pkcs7>(plaintext),
        };
        Ok([iv.as_slice(), &sealed].concat())
    }

    /// Decrypts and strips the padding, checking it as Kubernetes does (each padding byte equal
    /// to the padding's length, which is neither 0 nor longer than the data), with its errors.
    fn open(&self, data: &[u8]) -> std::result::Result<Vec<u8>, String> {
        if data.len() < AES_BLOCK {
            return Err("the stored data was shorter than the required size".into());
        }
        let (iv, ciphertext) = data.split_at(AES_BLOCK);
        if !ciphertext.len().is_multiple_of(AES_BLOCK) {
            return Err("the stored data is not a multiple of the block size".into());
        }
        let iv = iv.into();
        let decrypted = match self {
            Self::Aes128(block) => cbc::Decryptor::<Aes128>::inner_iv_init((**block).clone(), iv).decrypt_padded_vec_mut::<NoPadding>(ciphertext),
            Self::Aes192(block) => cbc::Decryptor::<Aes192>::inner_iv_init((**block).clone(), iv).decrypt_padded_vec_mut::<NoPadding>(ciphertext),
            Self::Aes256(block) => cbc::Decryptor::<Aes256>::inner_iv_init((**block).clone(), iv).decrypt_padded_vec_mut::<NoPadding>(ciphertext),
        }
        .map_err(|_| "the stored data is not a multiple of the block size".to_string())?;
        // An IV with no blocks after it is "empty" here; Kubernetes' code would index past it.
        let invalid_data = || "invalid PKCS7 data (empty or not padded)".to_string();
        let padding = *decrypted.last().ok_or_else(invalid_data)?;
        let padding_length = usize::from(padding);
        if padding_length == 0 || padding_length > decrypted.len() {
            return Err(invalid_data());
        }
        let (plaintext, padded) = decrypted.split_at(decrypted.len() - padding_length);
        if padded.iter().any(|byte| *byte != padding) {
            return Err("invalid padding on input".into());
        }
        Ok(plaintext.to_vec())
    }
}

/// One secretbox key: NaCl's XSalsa20-Poly1305 as Kubernetes' secretbox transformer uses it
/// through Go's `golang.org/x/crypto/nacl/secretbox`, which has no additional authenticated data.
/// Kubernetes passes none ("Does not perform authentication of the data at rest"), so unlike
/// aesgcm the value is not bound to its storage key: one copied to another key still opens. We do
/// the same, or values written by either could not be read by the other.
#[derive(Clone)]
struct SecretboxCipher(Box<XSalsa20Poly1305>);

impl SecretboxCipher {
    fn new(key: &[u8]) -> Option<Self> {
        XSalsa20Poly1305::new_from_slice(key).ok().map(|cipher| Self(Box::new(cipher)))
    }

    /// A random nonce, then the box: tag, then ciphertext (`crypto_secretbox` prepends the tag,
    /// as NaCl and Go's `secretbox.Seal` do).
    fn seal(&self, plaintext: &[u8]) -> std::result::Result<Vec<u8>, String> {
        let mut nonce = [0u8; SECRETBOX_NONCE];
        OsRng.try_fill_bytes(&mut nonce).map_err(|_| "unable to read sufficient random bytes".to_string())?;
        let sealed = self.0.encrypt(crypto_secretbox::Nonce::from_slice(&nonce), plaintext).map_err(|_| "secretbox could not seal the value".to_string())?;
        Ok([nonce.as_slice(), &sealed].concat())
    }

    fn open(&self, data: &[u8]) -> std::result::Result<Vec<u8>, String> {
        if data.len() < SECRETBOX_NONCE + SECRETBOX_TAG {
            return Err("the stored data was shorter than the required size".into());
        }
        let (nonce, sealed) = data.split_at(SECRETBOX_NONCE);
        // Kubernetes' words for a box that does not open (wrong key, or altered), odd as they are.
        self.0.decrypt(crypto_secretbox::Nonce::from_slice(nonce), sealed).map_err(|_| "output array was not large enough for encryption".into())
    }
}

/// The providers that encrypt, each with its own prefix and keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    AesGcm,
    AesCbc,
    Secretbox,
}

impl Kind {
    /// The provider's field in the configuration, and its part of the stored prefix.
    fn name(self) -> &'static str {
        match self {
            Self::AesGcm => "aesgcm",
            Self::AesCbc => "aescbc",
            Self::Secretbox => "secretbox",
        }
    }

    /// `k8s:enc:<provider>:v1:`, before the key name.
    fn prefix(self) -> String {
        format!("k8s:enc:{}:v1:", self.name())
    }

    fn key_sizes(self) -> &'static [usize] {
        match self {
            Self::AesGcm | Self::AesCbc => &[16, 24, 32],
            Self::Secretbox => &[32],
        }
    }

    /// What kube-apiserver says when a value carries this prefix but no configured key's name.
    fn no_matching_key(self) -> &'static str {
        match self {
            Self::AesGcm | Self::AesCbc => "no matching key was found for the provided AES transformer",
            Self::Secretbox => "no matching key was found for the provided Secretbox transformer",
        }
    }
}

/// One named key of an encrypting provider.
#[derive(Clone)]
enum KeyCipher {
    Gcm(GcmCipher),
    Cbc(CbcCipher),
    Secretbox(SecretboxCipher),
}

impl KeyCipher {
    fn new(kind: Kind, key: &[u8]) -> Option<Self> {
        match kind {
            Kind::AesGcm => GcmCipher::new(key).map(Self::Gcm),
            Kind::AesCbc => CbcCipher::new(key).map(Self::Cbc),
            Kind::Secretbox => SecretboxCipher::new(key).map(Self::Secretbox),
        }
    }

    /// `aad` (the storage key) is authenticated by AES-GCM only, as in Kubernetes.
    fn seal(&self, plaintext: &[u8], aad: &[u8]) -> std::result::Result<Vec<u8>, String> {
        match self {
            Self::Gcm(cipher) => cipher.seal(plaintext, aad),
            Self::Cbc(cipher) => cipher.seal(plaintext),
            Self::Secretbox(cipher) => cipher.seal(plaintext),
        }
    }

    fn open(&self, data: &[u8], aad: &[u8]) -> std::result::Result<Vec<u8>, String> {
        match self {
            Self::Gcm(cipher) => cipher.open(data, aad),
            Self::Cbc(cipher) => cipher.open(data),
            Self::Secretbox(cipher) => cipher.open(data),
        }
    }
}

#[derive(Clone)]
enum Provider {
    Identity,
    /// Keys in order: the first seals, any opens a value that names it.
    Encrypting { kind: Kind, keys: Vec<(String, KeyCipher)> },
}

impl Provider {
    /// The prefix of the values this provider writes now.
    fn current_prefix(&self) -> Option<String> {
        match self {
            Self::Identity => None,
            Self::Encrypting { kind, keys } => keys.first().map(|(name, _)| format!("{}{name}:", kind.prefix())),
        }
    }
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
                    Provider::Encrypting { kind, keys } => format!("{}({})", kind.name(), keys.iter().map(|(name, _)| name.as_str()).collect::<Vec<_>>().join(",")),
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
            Some(Provider::Encrypting { kind, keys }) => {
                let (name, cipher) = keys.first().ok_or_else(|| StoreError::Internal(format!("{} provider without keys", kind.name())))?;
                let sealed = cipher.seal(&plaintext, key.as_bytes()).map_err(StoreError::Internal)?;
                Ok([format!("{}{name}:", kind.prefix()).as_bytes(), &sealed].concat())
            }
        }
    }

    /// Whether a stored value was written other than `seal` would write it now: plaintext where
    /// the first provider encrypts, or another provider's or key's prefix (Kubernetes reports a
    /// value read by any but the first provider, or its first key, as stale).
    fn is_stale(&self, key: &str, stored: &[u8]) -> bool {
        match self.providers(key).and_then(<[Provider]>::first) {
            None | Some(Provider::Identity) => stored.starts_with(ENCRYPTED),
            Some(first) => first.current_prefix().is_none_or(|prefix| !stored.starts_with(prefix.as_bytes())),
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
                Provider::Encrypting { kind, keys } => {
                    let Some(rest) = stored.strip_prefix(kind.prefix().as_bytes()) else { continue };
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
                        errors.push(kind.no_matching_key().into());
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
    let (kind, configured) = match (&provider.aesgcm, &provider.aescbc, &provider.secretbox) {
        (Some(keys), _, _) => (Kind::AesGcm, keys),
        (_, Some(keys), _) => (Kind::AesCbc, keys),
        (_, _, Some(keys)) => (Kind::Secretbox, keys),
        _ if provider.identity.is_some() => return Ok(Provider::Identity),
        _ => return Err(vec![format!("{at}.kms: Unsupported value: \"kms\": supported values: \"aescbc\", \"aesgcm\", \"identity\", \"secretbox\"")]),
    };
    // Kubernetes' validation (`validateKeys`): every key is checked and every problem reported.
    let mut errors = Vec::new();
    let at = format!("{at}.{}.keys", kind.name());
    if configured.keys.is_empty() {
        errors.push(format!("{at}: Required value: at least one keys is required"));
    }
    let sizes = kind.key_sizes();
    let mut keys = Vec::new();
    for (index, key) in configured.keys.iter().enumerate() {
        let here = format!("{at}[{index}]");
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
        match KeyCipher::new(kind, &bytes).filter(|_| sizes.contains(&bytes.len())) {
            Some(cipher) => keys.push((key.name.clone(), cipher)),
            None => {
                // Go prints the sizes as `%v` prints a slice: `[16 24 32]`, `[32]`.
                let expected = sizes.iter().map(usize::to_string).collect::<Vec<_>>().join(" ");
                errors.push(format!("{here}.secret: Invalid value: \"REDACTED\": secret is not of the expected length, got {}, expected one of [{expected}]", bytes.len()));
            }
        }
    }
    if errors.is_empty() { Ok(Provider::Encrypting { kind, keys }) } else { Err(errors) }
}

/// Whether a stored value is encrypted (has Kubernetes' `k8s:enc:` prefix), whatever the
/// configuration.
pub fn looks_encrypted(value: &[u8]) -> bool {
    value.starts_with(ENCRYPTED)
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
    kv.value = encryption
        .open(&kv.key, std::mem::take(&mut kv.value))
        .map_err(|message| StoreError::Untransformable { key: kv.key.clone(), revision: kv.mod_revision, message })?;
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

    const KEY3: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="; // 32 bytes
    const SECRET_KEY: &str = "/registry/core/secrets/default/s1";

    /// A Secrets-only configuration with these providers (YAML flow mappings), in order.
    fn providers(providers: &[&str]) -> std::result::Result<Encryption, Vec<String>> {
        let providers: Vec<String> = providers.iter().map(|provider| format!("  - {provider}\n")).collect();
        config(&format!("apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n- resources: [secrets]\n  providers:\n{}", providers.concat()))
    }

    fn keyed(kind: &str, keys: &[(&str, &str)]) -> String {
        let keys: Vec<String> = keys.iter().map(|(name, secret)| format!("{{name: {name}, secret: {secret}}}")).collect();
        format!("{{{kind}: {{keys: [{}]}}}}", keys.join(", "))
    }

    fn hex(text: &str) -> Vec<u8> {
        (0..text.len()).step_by(2).map(|at| u8::from_str_radix(&text[at..at + 2], 16).unwrap()).collect()
    }

    #[test]
    fn secretbox_reads_what_nacl_seals() {
        // Key of 1s, nonce of 2s, 64 bytes of 3s, sealed by NaCl's C implementation (the vector
        // golang.org/x/crypto/nacl/secretbox tests against): tag first, then ciphertext.
        let sealed = hex("8442bc313f4626f1359e3b50122b6ce6fe66ddfe7d39d14e637eb4fd5b45beadab55198df6ab5368439792a23c87db70acb6156dc5ef957ac04f6276cf6093b84be77ff0849cc33e34b7254d5a8f65ad");
        let cipher = SecretboxCipher::new(&[1; 32]).unwrap();
        assert_eq!(cipher.open(&[[2u8; 24].as_slice(), &sealed].concat()).unwrap(), [3; 64]);
        assert_eq!(cipher.0.encrypt(crypto_secretbox::Nonce::from_slice(&[2; 24]), [3u8; 64].as_slice()).unwrap(), sealed);
    }

    #[test]
    fn aescbc_reads_what_openssl_seals() {
        // `openssl enc -aes-128-cbc` / `-aes-256-cbc` (PKCS#7 padding, as Go's CBC transformer):
        // IV first, then ciphertext; a plaintext of whole blocks gets a whole block of padding.
        let short = CbcCipher::new(b"0123456789abcdef").unwrap();
        let iv = hex("000102030405060708090a0b0c0d0e0f");
        assert_eq!(short.open(&[iv, hex("694616090fad0ca896b88b3f9da8733e")].concat()).unwrap(), b"{\"data\":1}");
        let long = CbcCipher::new(b"secret is secure, I think so, be").unwrap();
        let iv = hex("0f0e0d0c0b0a09080706050403020100");
        let sealed = hex("6a083c6c36419f22a2f1c22c61e5ee35514b07594b98cd6174d14f5a15ed832a36b7912e34d8acd9bc0dbc642349240d");
        assert_eq!(long.open(&[iv, sealed].concat()).unwrap(), b"0123456789abcdef0123456789abcdef");
        for size in [16, 24, 32] {
            let cipher = CbcCipher::new(&vec![7; size]).unwrap();
            for length in [0, 1, 15, 16, 17, 100] {
                let plaintext = vec![b'x'; length];
                let sealed = cipher.seal(&plaintext).unwrap();
                assert_eq!(sealed.len(), AES_BLOCK + (length / AES_BLOCK + 1) * AES_BLOCK, "IV, then padded blocks");
                assert_eq!(cipher.open(&sealed).unwrap(), plaintext, "AES-{} CBC, {length} bytes", size * 8);
            }
        }
    }

    #[test]
    fn secretbox_and_aescbc_values_carry_their_prefix_and_round_trip() {
        for (kind, key, prefix) in [("secretbox", KEY1, "k8s:enc:secretbox:v1:key1:"), ("aescbc", KEY1, "k8s:enc:aescbc:v1:key1:"), ("aescbc", KEY2, "k8s:enc:aescbc:v1:key1:")] {
            let encryption = providers(&[&keyed(kind, &[("key1", key)]), "{identity: {}}"]).unwrap();
            let sealed = encryption.seal(SECRET_KEY, b"{\"data\":\"hunter2\"}".to_vec()).unwrap();
            assert!(sealed.starts_with(prefix.as_bytes()), "{}", String::from_utf8_lossy(&sealed));
            assert!(!sealed.windows(7).any(|w| w == b"hunter2"), "no plaintext in the stored value");
            assert_ne!(sealed, encryption.seal(SECRET_KEY, b"{\"data\":\"hunter2\"}".to_vec()).unwrap(), "a fresh nonce or IV every time");
            assert_eq!(encryption.open(SECRET_KEY, sealed.clone()).unwrap(), b"{\"data\":\"hunter2\"}");
            assert!(!encryption.is_stale(SECRET_KEY, &sealed) && encryption.is_stale(SECRET_KEY, b"{}"));
            // Neither binds the value to its storage key (Kubernetes passes no authenticated
            // data to either), unlike aesgcm.
            assert_eq!(encryption.open("/registry/core/secrets/default/other", sealed).unwrap(), b"{\"data\":\"hunter2\"}");
        }
    }

    #[test]
    fn secretbox_refuses_altered_values_and_unknown_keys() {
        let encryption = providers(&[&keyed("secretbox", &[("key1", KEY1)])]).unwrap();
        let sealed = encryption.seal(SECRET_KEY, b"{\"data\":1}".to_vec()).unwrap();
        let body = "k8s:enc:secretbox:v1:key1:".len();
        for at in [body, body + SECRETBOX_NONCE, body + SECRETBOX_NONCE + SECRETBOX_TAG, sealed.len() - 1] {
            let mut tampered = sealed.clone();
            tampered[at] ^= 0x20;
            assert_eq!(encryption.open(SECRET_KEY, tampered).unwrap_err(), "output array was not large enough for encryption", "byte {at} altered");
        }
        assert_eq!(encryption.open(SECRET_KEY, sealed[..body + 39].to_vec()).unwrap_err(), "the stored data was shorter than the required size");
        // The same name with another secret, then only another name.
        let other_secret = providers(&[&keyed("secretbox", &[("key1", KEY3)])]).unwrap();
        assert_eq!(other_secret.open(SECRET_KEY, sealed.clone()).unwrap_err(), "output array was not large enough for encryption");
        let other_name = providers(&[&keyed("secretbox", &[("key3", KEY3)])]).unwrap();
        assert_eq!(other_name.open(SECRET_KEY, sealed.clone()).unwrap_err(), "no matching key was found for the provided Secretbox transformer");
        // An aesgcm-only configuration has no provider for the prefix at all.
        let aesgcm = providers(&[&keyed("aesgcm", &[("key1", KEY1)])]).unwrap();
        assert_eq!(aesgcm.open(SECRET_KEY, sealed).unwrap_err(), "no matching prefix found");
    }

    #[test]
    fn aescbc_reports_bad_values_as_kubernetes_does() {
        let encryption = providers(&[&keyed("aescbc", &[("key1", KEY2)])]).unwrap();
        let prefix = b"k8s:enc:aescbc:v1:key1:".as_slice();
        // The openssl vector above, under KEY2: fixed, so that the wrong key's garbage is too.
        let sealed = [prefix, &hex("000102030405060708090a0b0c0d0e0f694616090fad0ca896b88b3f9da8733e")].concat();
        assert_eq!(encryption.open(SECRET_KEY, sealed.clone()).unwrap(), b"{\"data\":1}");
        assert_eq!(encryption.open(SECRET_KEY, [prefix, &[0; 15]].concat()).unwrap_err(), "the stored data was shorter than the required size");
        assert_eq!(encryption.open(SECRET_KEY, [prefix, &[0; 33]].concat()).unwrap_err(), "the stored data is not a multiple of the block size");
        assert_eq!(encryption.open(SECRET_KEY, [prefix, &[0; 16]].concat()).unwrap_err(), "invalid PKCS7 data (empty or not padded)");
        // Unauthenticated: another key's (or an altered) value decrypts to garbage, caught only
        // when its padding is wrong.
        let other = providers(&[&keyed("aescbc", &[("key1", KEY1)])]).unwrap();
        assert_eq!(other.open(SECRET_KEY, sealed.clone()).unwrap_err(), "invalid PKCS7 data (empty or not padded)");
        // Flipping IV bits flips the same plaintext bits: padding 6 made 2 or 0 is caught, `{`
        // made `[` is not.
        let iv = prefix.len();
        let altered = |at: usize, mask: u8| {
            let mut altered = sealed.clone();
            altered[iv + at] ^= mask;
            encryption.open(SECRET_KEY, altered)
        };
        assert_eq!(altered(15, 0x06 ^ 0x02).unwrap_err(), "invalid padding on input");
        assert_eq!(altered(15, 0x06).unwrap_err(), "invalid PKCS7 data (empty or not padded)");
        assert_eq!(altered(0, b'{' ^ b'[').unwrap(), b"[\"data\":1}");
        let renamed = providers(&[&keyed("aescbc", &[("key2", KEY2)])]).unwrap();
        assert_eq!(renamed.open(SECRET_KEY, sealed).unwrap_err(), "no matching key was found for the provided AES transformer");
    }

    #[test]
    fn providers_of_every_kind_mix_for_rotation() {
        let secretbox = keyed("secretbox", &[("box", KEY1)]);
        let aesgcm = keyed("aesgcm", &[("gcm", KEY3)]);
        let aescbc = keyed("aescbc", &[("cbc", KEY2)]);
        let secretbox_first = providers(&[&secretbox, &aesgcm, &aescbc]).unwrap();
        let aesgcm_first = providers(&[&aesgcm, &secretbox, "{identity: {}}"]).unwrap();
        let aescbc_first = providers(&[&aescbc, &secretbox]).unwrap();
        let plaintext = b"{\"data\":1}".to_vec();

        // Written under secretbox, read where aesgcm comes first and secretbox second: stale there.
        let boxed = secretbox_first.seal(SECRET_KEY, plaintext.clone()).unwrap();
        assert!(boxed.starts_with(b"k8s:enc:secretbox:v1:box:"));
        assert_eq!(aesgcm_first.open(SECRET_KEY, boxed.clone()).unwrap(), plaintext);
        assert!(aesgcm_first.is_stale(SECRET_KEY, &boxed) && !secretbox_first.is_stale(SECRET_KEY, &boxed));
        // And the other way round.
        let gcm = aesgcm_first.seal(SECRET_KEY, plaintext.clone()).unwrap();
        assert!(gcm.starts_with(b"k8s:enc:aesgcm:v1:gcm:"));
        assert_eq!(secretbox_first.open(SECRET_KEY, gcm.clone()).unwrap(), plaintext);
        assert!(secretbox_first.is_stale(SECRET_KEY, &gcm) && !aesgcm_first.is_stale(SECRET_KEY, &gcm));
        // aescbc to secretbox: the old values read, new writes are secretbox.
        let cbc = aescbc_first.seal(SECRET_KEY, plaintext.clone()).unwrap();
        assert!(cbc.starts_with(b"k8s:enc:aescbc:v1:cbc:"));
        assert_eq!(secretbox_first.open(SECRET_KEY, cbc.clone()).unwrap(), plaintext);
        assert!(secretbox_first.is_stale(SECRET_KEY, &cbc));
        // Identity anywhere reads plaintext; without it plaintext is refused.
        assert_eq!(aesgcm_first.open(SECRET_KEY, plaintext.clone()).unwrap(), plaintext);
        assert_eq!(secretbox_first.open(SECRET_KEY, plaintext.clone()).unwrap_err(), "no matching prefix found");
        let identity_first = providers(&["{identity: {}}", &secretbox]).unwrap();
        assert_eq!(identity_first.seal(SECRET_KEY, plaintext.clone()).unwrap(), plaintext, "identity first writes plaintext");
        assert_eq!(identity_first.open(SECRET_KEY, boxed.clone()).unwrap(), plaintext, "and still reads secretbox");
        assert!(identity_first.is_stale(SECRET_KEY, &boxed));
        // A value no provider can open: each one's error, as Kubernetes aggregates them.
        let wrong = providers(&[&keyed("aesgcm", &[("gcm", KEY1)]), &keyed("secretbox", &[("other", KEY1)])]).unwrap();
        assert_eq!(wrong.open(SECRET_KEY, boxed).unwrap_err(), "no matching key was found for the provided Secretbox transformer");
        assert_eq!(wrong.open(SECRET_KEY, gcm).unwrap_err(), "cipher: message authentication failed");
        assert_eq!(format!("{wrong:?}"), r#"Encryption { rules: [(["/registry/core/secrets/"], ["aesgcm(gcm)", "secretbox(other)"])] }"#, "names, never secrets");
    }

    #[test]
    fn bad_keys_are_reported_as_kube_apiserver_reports_them() {
        let at = "resources[0].providers[0]";
        let rows: [(String, Vec<String>); 7] = [
            (keyed("secretbox", &[("k", KEY2)]), vec![format!("{at}.secretbox.keys[0].secret: Invalid value: \"REDACTED\": secret is not of the expected length, got 16, expected one of [32]")]),
            (keyed("aescbc", &[("k", "c2hvcnQ=")]), vec![format!("{at}.aescbc.keys[0].secret: Invalid value: \"REDACTED\": secret is not of the expected length, got 5, expected one of [16 24 32]")]),
            (keyed("secretbox", &[("k", "not base64!")]), vec![format!("{at}.secretbox.keys[0].secret: Invalid value: \"REDACTED\": secrets must be base64 encoded")]),
            ("{aescbc: {keys: []}}".into(), vec![format!("{at}.aescbc.keys: Required value: at least one keys is required")]),
            (
                "{secretbox: {keys: [{name: '', secret: ''}]}}".into(),
                vec![format!("{at}.secretbox.keys[0].name: Required value: name is a mandatory field for a key"), format!("{at}.secretbox.keys[0].secret: Required value: secret is a mandatory field for a key")],
            ),
            ("{secretbox: {keys: []}, aescbc: {keys: []}}".into(), vec![format!("{at}: Invalid value: \"\": more than one provider specified in a single element, should split into different list elements")]),
            ("{kms: {}}".into(), vec![format!("{at}.kms: Unsupported value: \"kms\": supported values: \"aescbc\", \"aesgcm\", \"identity\", \"secretbox\"")]),
        ];
        for (provider, expected) in rows {
            assert_eq!(providers(&[&provider]).err().unwrap(), expected, "{provider}");
        }
        // Every key of every provider is checked, in order.
        let both = providers(&[&keyed("aescbc", &[("a", KEY1), ("b", "c2hvcnQ=")]), &keyed("secretbox", &[("c", KEY2)])]).err().unwrap();
        assert_eq!(both.len(), 2);
        assert!(both[0].starts_with("resources[0].providers[0].aescbc.keys[1].secret") && both[1].starts_with("resources[0].providers[1].secretbox.keys[0].secret"), "{both:?}");
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
