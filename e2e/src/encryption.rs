//! Secrets encrypted at rest in every cluster: `create` makes an AES-GCM key and gives each
//! apiserver an `EncryptionConfiguration` with it; `rotate-encryption-key` (`key_rotation`)
//! replaces the keys through the same configuration.

use base64::Engine;
use serde_json::Value;

use crate::docker;
use crate::error::ClusterError;

/// Where the control planes keep the configuration (the apiserver's flag names it).
pub const CONFIG_PATH: &str = "/etc/cluster/encryption.yaml";

/// A named AES-256 key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Key {
    pub name: String,
    pub secret: String,
}

impl Key {
    /// 32 random bytes, named after the moment they were made.
    pub fn generate() -> Result<Self, ClusterError> {
        use std::io::Read;
        let io = |source| ClusterError::Io { what: "random bytes from /dev/urandom".into(), source };
        let mut bytes = [0u8; 32];
        std::fs::File::open("/dev/urandom").and_then(|mut random| random.read_exact(&mut bytes)).map_err(io)?;
        let stamp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|since| since.as_nanos()).unwrap_or_default();
        Ok(Self { name: format!("key-{stamp}"), secret: base64::engine::general_purpose::STANDARD.encode(bytes) })
    }
}

/// Secrets under `keys` (the first encrypts), nothing readable in plaintext.
pub fn config(keys: &[Key]) -> String {
    let keys: String = keys.iter().map(|key| format!("      - name: {}\n        secret: {}\n", key.name, key.secret)).collect();
    format!("apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n- resources:\n  - secrets\n  providers:\n  - aesgcm:\n      keys:\n{keys}")
}

/// The keys of a configuration this tool wrote.
pub fn keys_of(text: &str) -> Result<Vec<Key>, ClusterError> {
    let bad = |message: String| ClusterError::Config { path: CONFIG_PATH.into(), message };
    let value: Value = serde_yaml_ng::from_str(text).map_err(|err| bad(err.to_string()))?;
    let keys = value["resources"][0]["providers"][0]["aesgcm"]["keys"].as_array().cloned().unwrap_or_default();
    let keys: Vec<Key> = keys
        .iter()
        .filter_map(|key| Some(Key { name: key["name"].as_str()?.to_string(), secret: key["secret"].as_str()?.to_string() }))
        .collect();
    if keys.is_empty() {
        return Err(bad("no aesgcm keys".into()));
    }
    Ok(keys)
}

pub async fn write(node: &str, keys: &[Key]) -> Result<(), ClusterError> {
    let temporary = format!("{CONFIG_PATH}.tmp");
    docker::run_with_input(&["exec", "-i", node, "sh", "-c", &format!("umask 077 && cat > {temporary} && mv {temporary} {CONFIG_PATH}")], Some(config(keys).as_bytes())).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configurations_round_trip_their_keys() {
        let keys = vec![Key::generate().unwrap(), Key { name: "old".into(), secret: "c2VjcmV0".into() }];
        assert_eq!(keys_of(&config(&keys)).unwrap(), keys);
        assert_eq!(base64::engine::general_purpose::STANDARD.decode(&keys[0].secret).unwrap().len(), 32);
        assert!(config(&keys).contains("  - aesgcm:\n"));
        assert!(keys_of("apiVersion: v1\n").is_err());
    }
}
