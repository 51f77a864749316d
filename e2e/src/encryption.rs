//! Secrets encrypted at rest in every cluster: `create` makes an AES-GCM key and gives each
//! apiserver an `EncryptionConfiguration` with it; `rotate-encryption-key` replaces it as
//! Kubernetes' documentation says to (the new key second, then first, every Secret rewritten,
//! the old key dropped), restarting the apiservers between steps.

use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::Value;

use crate::cluster::{self, ClusterError};
use crate::docker;

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
fn keys_of(text: &str) -> Result<Vec<Key>, ClusterError> {
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

/// Restarts each control plane's apiserver (its supervisor starts it again, reading the
/// configuration anew) and waits until it is ready.
async fn restart_apiservers(control_planes: &[String]) -> Result<(), ClusterError> {
    for node in control_planes {
        docker::run(&["exec", node, "killall", "apiserver"]).await?;
        let deadline = Instant::now() + Duration::from_secs(60);
        // The old process may answer for a moment while it stops; wait for it to go first.
        tokio::time::sleep(Duration::from_millis(500)).await;
        while docker::run(&["exec", node, "sh", "-c", &cluster::ready_check()]).await.is_err() {
            if Instant::now() > deadline {
                return Err(ClusterError::NotReady(format!("the apiserver on {node} did not come back within 60 s (see `cluster export logs`)")));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    Ok(())
}

/// Writes every Secret back unchanged, so that each is stored under the first key.
async fn rewrite_secrets(client: &kube::Client) -> Result<usize, ClusterError> {
    use http::Method;
    let failed = |what: String| ClusterError::NotReady(what);
    let list = cluster::request(client, Method::GET, "/api/v1/secrets", None).await.map_err(|err| failed(format!("listing Secrets: {err}")))?;
    let mut count = 0;
    for item in list["items"].as_array().into_iter().flatten() {
        let (namespace, name) = (item["metadata"]["namespace"].as_str().unwrap_or_default(), item["metadata"]["name"].as_str().unwrap_or_default());
        let path = format!("/api/v1/namespaces/{namespace}/secrets/{name}");
        let mut body = item.clone();
        body["apiVersion"] = "v1".into();
        body["kind"] = "Secret".into();
        for _ in 0..5 {
            match cluster::request(client, Method::PUT, &path, Some(&body)).await {
                Ok(_) => break,
                Err(err) if err.contains("NotFound") || err.contains("not found") => break,
                // Changed meanwhile (and so written under the current key anyway): take the
                // latest and write it again.
                Err(err) if err.contains("Conflict") || err.contains("modified") => {
                    body = cluster::request(client, Method::GET, &path, None).await.map_err(|err| failed(format!("reading Secret {namespace}/{name}: {err}")))?;
                }
                Err(err) => return Err(failed(format!("rewriting Secret {namespace}/{name}: {err}"))),
            }
        }
        count += 1;
    }
    Ok(count)
}

/// Replaces the cluster's encryption key with a new one, with every Secret rewritten under it.
pub async fn rotate(name: &str) -> Result<Key, ClusterError> {
    let control_planes = cluster::control_planes(name).await?;
    let first = control_planes.first().ok_or_else(|| ClusterError::Missing(name.to_string()))?;
    let old = keys_of(&docker::run(&["exec", first, "cat", CONFIG_PATH]).await?)?;
    let new = Key::generate()?;
    let started = Instant::now();
    let steps: [(&str, Vec<Key>); 2] = [
        ("Adding the new key (every apiserver can read it)", [old.clone(), vec![new.clone()]].concat()),
        ("Making the new key the one that encrypts", [vec![new.clone()], old.clone()].concat()),
    ];
    for (what, keys) in steps {
        for node in &control_planes {
            write(node, &keys).await?;
        }
        restart_apiservers(&control_planes).await?;
        println!(" ✓ {what} ({:.1}s)", started.elapsed().as_secs_f64());
    }
    let rewritten = rewrite_secrets(&cluster::admin_client(name).await?).await?;
    println!(" ✓ Rewriting {rewritten} Secret(s) under the new key ({:.1}s)", started.elapsed().as_secs_f64());
    for node in &control_planes {
        write(node, std::slice::from_ref(&new)).await?;
    }
    restart_apiservers(&control_planes).await?;
    println!(" ✓ Dropping the old key ({:.1}s)", started.elapsed().as_secs_f64());
    Ok(new)
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
