//! The cluster's entries in kubeconfig files: merged into the user's by `create` (and written
//! alone with `--kubeconfig`), taken out by `delete`, and printed by `get kubeconfig`.

use std::path::{Path, PathBuf};

use base64::Engine;
use serde_yaml_ng::Value;

use crate::error::ClusterError;
use crate::pki;

/// The cluster CA and the administrator's certificate and key in the kubeconfig the control
/// planes keep (the same certificate `create` gave the user).
pub(crate) fn admin_credentials(text: &str) -> Result<(String, pki::Issued), String> {
    let config: Value = serde_yaml_ng::from_str(text).map_err(|err| err.to_string())?;
    let decode = |path: &str| -> Result<String, String> {
        let value = path.split('.').fold(&config, |value, key| match key.parse::<usize>() {
            Ok(index) => &value[index],
            Err(_) => &value[key],
        });
        let data = value.as_str().ok_or_else(|| format!("no {path}"))?;
        let bytes = base64::engine::general_purpose::STANDARD.decode(data.trim()).map_err(|err| format!("{path}: {err}"))?;
        String::from_utf8(bytes).map_err(|err| format!("{path}: {err}"))
    };
    let ca = decode("clusters.0.cluster.certificate-authority-data")?;
    Ok((ca, pki::Issued { cert: decode("users.0.user.client-certificate-data")?, key: decode("users.0.user.client-key-data")? }))
}

/// The file `create` merges the cluster into: the first of `$KUBECONFIG`, else ~/.kube/config.
pub fn default_path() -> PathBuf {
    if let Some(first) = std::env::var_os("KUBECONFIG").and_then(|value| std::env::split_paths(&value).next()) {
        return first;
    }
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("/root"), PathBuf::from);
    home.join(".kube").join("config")
}

/// What the kubeconfig's cluster and user carry: the CA to trust and the administrator's
/// certificate.
pub(crate) struct Credentials<'a> {
    pub ca: &'a str,
    pub client: &'a pki::Issued,
}

/// Adds (or replaces) the cluster's cluster, user and context in the kubeconfig at `path`, kept
/// otherwise as it is (or, without `merge`, in a new one), and makes it current.
pub(crate) fn write(path: &Path, context: &str, server: &str, credentials: &Credentials<'_>, merge: bool) -> Result<(), ClusterError> {
    let failed = |message: String| ClusterError::Kubeconfig { path: path.display().to_string(), message };
    let config = match std::fs::read_to_string(path) {
        Ok(text) if merge && !text.trim().is_empty() => serde_yaml_ng::from_str(&text).map_err(|err| failed(err.to_string()))?,
        _ => empty(),
    };
    let text = serde_yaml_ng::to_string(&with_cluster(config, context, server, credentials).map_err(failed)?).map_err(|err| failed(err.to_string()))?;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|err| failed(err.to_string()))?;
    }
    std::fs::write(path, text).map_err(|err| failed(err.to_string()))
}

/// A kubeconfig with nothing in it yet.
pub(crate) fn empty() -> Value {
    let mut map = serde_yaml_ng::Mapping::new();
    map.insert("apiVersion".into(), "v1".into());
    map.insert("kind".into(), "Config".into());
    map.insert("preferences".into(), Value::Mapping(serde_yaml_ng::Mapping::new()));
    Value::Mapping(map)
}

/// `config` with the cluster's cluster, user and context (named `context`) in place of any of
/// that name, and that context current.
pub(crate) fn with_cluster(mut config: Value, context: &str, server: &str, credentials: &Credentials<'_>) -> Result<Value, String> {
    let Value::Mapping(map) = &mut config else { return Err("is not a YAML mapping".into()) };
    let entry = |key: &str, body: Value| -> Value {
        let mut entry = serde_yaml_ng::Mapping::new();
        entry.insert("name".into(), context.into());
        entry.insert(key.into(), body);
        Value::Mapping(entry)
    };
    let data = |pem: &str| Value::from(base64::engine::general_purpose::STANDARD.encode(pem));
    let mut cluster = serde_yaml_ng::Mapping::new();
    cluster.insert("server".into(), server.into());
    cluster.insert("certificate-authority-data".into(), data(credentials.ca));
    let mut user = serde_yaml_ng::Mapping::new();
    user.insert("client-certificate-data".into(), data(&credentials.client.cert));
    user.insert("client-key-data".into(), data(&credentials.client.key));
    let (cluster, user) = (Value::Mapping(cluster), Value::Mapping(user));
    let mut ctx = serde_yaml_ng::Mapping::new();
    ctx.insert("cluster".into(), context.into());
    ctx.insert("user".into(), context.into());
    let ctx = Value::Mapping(ctx);
    for (list, key, body) in [("clusters", "cluster", cluster), ("users", "user", user), ("contexts", "context", ctx)] {
        let items = map.entry(list.into()).or_insert_with(|| Value::Sequence(Vec::new()));
        if !items.is_sequence() {
            *items = Value::Sequence(Vec::new());
        }
        if let Value::Sequence(items) = items {
            items.retain(|item| item.get("name").and_then(Value::as_str) != Some(context));
            items.push(entry(key, body));
        }
    }
    map.insert("current-context".into(), context.into());
    Ok(config)
}

/// Takes the cluster's entries out of the kubeconfig at `path` (if there).
pub(crate) fn forget(path: &Path, context: &str) -> Result<(), ClusterError> {
    let Ok(text) = std::fs::read_to_string(path) else { return Ok(()) };
    let failed = |message: String| ClusterError::Kubeconfig { path: path.display().to_string(), message };
    let mut config: Value = serde_yaml_ng::from_str(&text).map_err(|err| failed(err.to_string()))?;
    let Value::Mapping(map) = &mut config else { return Ok(()) };
    for list in ["clusters", "users", "contexts"] {
        if let Some(Value::Sequence(items)) = map.get_mut(list) {
            items.retain(|item| item.get("name").and_then(Value::as_str) != Some(context));
        }
    }
    if map.get("current-context").and_then(Value::as_str) == Some(context) {
        map.insert("current-context".into(), "".into());
    }
    let text = serde_yaml_ng::to_string(&config).map_err(|err| failed(err.to_string()))?;
    std::fs::write(path, text).map_err(|err| failed(err.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubeconfig_entries_are_merged_and_forgotten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config");
        std::fs::write(&path, "apiVersion: v1\nkind: Config\nclusters:\n- name: other\n  cluster:\n    server: https://elsewhere\ncontexts: []\nusers: []\ncurrent-context: other\n").unwrap();
        let authority = pki::Authority::generate("a").unwrap();
        let admin = authority.client("kubernetes-admin", &["system:masters"]).unwrap();
        let credentials = Credentials { ca: &authority.cert_pem(), client: &admin };
        write(&path, "cluster-a", "https://127.0.0.1:1234", &credentials, true).unwrap();
        write(&path, "cluster-a", "https://127.0.0.1:5678", &credentials, true).unwrap();
        let config: serde_yaml_ng::Value = serde_yaml_ng::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let clusters = config["clusters"].as_sequence().unwrap();
        assert_eq!(clusters.len(), 2, "the other cluster is kept and ours is there once");
        assert_eq!(clusters[1]["cluster"]["server"].as_str(), Some("https://127.0.0.1:5678"));
        assert!(clusters[1]["cluster"]["certificate-authority-data"].as_str().is_some_and(|data| !data.is_empty()));
        let users = config["users"].as_sequence().unwrap();
        assert!(users[0]["user"]["client-key-data"].as_str().is_some_and(|data| !data.is_empty()));
        assert_eq!(config["current-context"].as_str(), Some("cluster-a"));
        forget(&path, "cluster-a").unwrap();
        let config: serde_yaml_ng::Value = serde_yaml_ng::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(config["clusters"].as_sequence().unwrap().len(), 1);
        assert_eq!(config["contexts"].as_sequence().unwrap().len(), 0);
    }

    #[test]
    fn the_printed_kubeconfig_is_the_one_create_writes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config");
        let authority = pki::Authority::generate("a").unwrap();
        let admin = authority.client("kubernetes-admin", &["system:masters"]).unwrap();
        let ca = authority.cert_pem();
        write(&path, "cluster-a", "https://127.0.0.1:1234", &Credentials { ca: &ca, client: &admin }, false).unwrap();
        let on_node = pki::kubeconfig("https://127.0.0.1:6443", &ca, &admin, "admin");
        let (read_ca, read) = admin_credentials(&on_node).unwrap();
        assert_eq!((read_ca.as_str(), read.cert.as_str(), read.key.as_str()), (ca.as_str(), admin.cert.as_str(), admin.key.as_str()));
        let printed = serde_yaml_ng::to_string(&with_cluster(empty(), "cluster-a", "https://127.0.0.1:1234", &Credentials { ca: &ca, client: &read }).unwrap()).unwrap();
        assert_eq!(printed, std::fs::read_to_string(&path).unwrap());
        assert!(admin_credentials("users: []").is_err());
    }
}