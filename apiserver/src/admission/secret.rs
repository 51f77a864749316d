//! Secrets: `stringData` merged into `data` (as the v1 conversion does, so it is never stored),
//! `SetDefaults_Secret` (type `Opaque`), `ValidateSecret` (keys, 1 MiB, the keys each built-in
//! type requires) and `ValidateSecretUpdate` (type immutable; nothing changes once `immutable`).

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;

use super::config_map::{MAX_SIZE, same_map};
use super::field::{Causes, Path, json_of};
use super::names;
use super::{Context, TypedKind};

impl TypedKind for Secret {
    fn apply_defaults(&mut self) {
        // Convert_v1_Secret_To_core_Secret: stringData wins over data, then is gone.
        if let Some(string_data) = self.string_data.take() {
            let data = self.data.get_or_insert_with(BTreeMap::new);
            for (key, value) in string_data {
                data.insert(key, ByteString(value.into_bytes()));
            }
        }
        if self.type_.as_deref().unwrap_or_default().is_empty() {
            self.type_ = Some("Opaque".into());
        }
    }

    fn validate(&self, _context: &Context, causes: &mut Causes) {
        let data_path = Path::new("data");
        let empty = BTreeMap::new();
        let data = self.data.as_ref().unwrap_or(&empty);
        let mut total = 0;
        for (key, value) in data {
            causes.invalid_each(&data_path.key(key), key, names::config_map_key(key));
            total += value.0.len();
        }
        if total > MAX_SIZE {
            causes.too_long(&data_path, MAX_SIZE);
        }
        let require = |causes: &mut Causes, key: &str| {
            if !data.contains_key(key) {
                causes.required(&data_path.key(key), "");
            }
        };
        match self.type_.as_deref().unwrap_or_default() {
            "kubernetes.io/service-account-token" => {
                let annotation = "kubernetes.io/service-account.name";
                let named = self
                    .metadata
                    .annotations
                    .as_ref()
                    .and_then(|annotations| annotations.get(annotation))
                    .is_some_and(|name| !name.is_empty());
                if !named {
                    causes.required(&Path::new("metadata").child("annotations").key(annotation), "");
                }
            }
            "kubernetes.io/dockercfg" => validate_docker_config(data, ".dockercfg", &data_path, causes),
            "kubernetes.io/dockerconfigjson" => validate_docker_config(data, ".dockerconfigjson", &data_path, causes),
            // Either may be empty, but one must be there.
            "kubernetes.io/basic-auth" if !data.contains_key("username") && !data.contains_key("password") => {
                require(causes, "username");
                require(causes, "password");
            }
            "kubernetes.io/ssh-auth" if data.get("ssh-privatekey").is_none_or(|key| key.0.is_empty()) => {
                causes.required(&data_path.key("ssh-privatekey"), "");
            }
            "kubernetes.io/tls" => {
                require(causes, "tls.crt");
                require(causes, "tls.key");
            }
            _ => {}
        }
    }

    fn validate_update(&self, old: &Self, context: &Context, causes: &mut Causes) {
        if self.type_ != old.type_ {
            causes.immutable(&Path::new("type"), json_of(&self.type_));
        }
        if old.immutable == Some(true) {
            let detail = "field is immutable when `immutable` is set";
            if self.immutable != Some(true) {
                causes.forbidden(&Path::new("immutable"), detail);
            }
            // stringData is already part of data here, so data covers it.
            if !same_map(&self.data, &old.data) {
                causes.forbidden(&Path::new("data"), detail);
            }
        }
        self.validate(context, causes);
    }
}

/// The Docker config types must hold their key, and it must be a JSON object.
fn validate_docker_config(data: &BTreeMap<String, ByteString>, key: &str, data_path: &Path, causes: &mut Causes) {
    let Some(content) = data.get(key) else {
        return causes.required(&data_path.key(key), "");
    };
    if let Err(err) = serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(&content.0) {
        causes.invalid(&data_path.key(key), "<secret contents redacted>", &err.to_string());
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::test_support::*;

    #[test]
    fn string_data_is_merged_into_data() {
        let object = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "namespace": "demo"},
            "data": {"user": "YWRtaW4=", "password": "b2xk"},
            "stringData": {"password": "hunter2", "host": "db.local"}});
        let admitted = admitted(resource("secrets"), object);
        let expected = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "namespace": "demo"},
            "type": "Opaque",
            "data": {"user": "YWRtaW4=", "password": "aHVudGVyMg==", "host": "ZGIubG9jYWw="}});
        assert_eq!(admitted, expected);
    }

    #[test]
    fn secret_validation() {
        let tls = |data: serde_json::Value| json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "cert", "namespace": "demo"}, "type": "kubernetes.io/tls", "data": data});
        let typed = |kind: &str, data: serde_json::Value| json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "s", "namespace": "demo"}, "type": kind, "data": data});
        let rows: Vec<(&str, serde_json::Value, Outcome)> = vec![
            ("valid", secret("db"), Outcome::Admitted),
            ("key", with(secret("db"), "/data", json!({"my key": "eA=="})), invalid(&["data[my key]"], "a valid config key must consist of alphanumeric characters")),
            ("string data key", with(secret("db"), "/stringData", json!({"a/b": "x"})), invalid(&["data[a/b]"], "a valid config key")),
            ("too large", with(secret("db"), "/stringData", json!({"big": "x".repeat(1024 * 1024 + 1)})), invalid(&["data"], "data: Too long: may not be more than 1048576 bytes")),
            ("tls", tls(json!({"tls.crt": "eA==", "tls.key": "eA=="})), Outcome::Admitted),
            ("tls without key", tls(json!({"tls.crt": "eA=="})), invalid(&["data[tls.key]"], "data[tls.key]: Required value")),
            ("tls without anything", tls(json!({})), invalid(&["data[tls.crt]", "data[tls.key]"], "Required value")),
            ("docker config", typed("kubernetes.io/dockerconfigjson", json!({".dockerconfigjson": "eyJhdXRocyI6e319"})), Outcome::Admitted),
            ("docker config missing", typed("kubernetes.io/dockerconfigjson", json!({})), invalid(&["data[.dockerconfigjson]"], "Required value")),
            ("docker config not JSON", typed("kubernetes.io/dockerconfigjson", json!({".dockerconfigjson": "bm9wZQ=="})), invalid(&["data[.dockerconfigjson]"], "Invalid value: \"<secret contents redacted>\"")),
            ("basic auth", typed("kubernetes.io/basic-auth", json!({})), invalid(&["data[username]", "data[password]"], "Required value")),
            ("ssh auth", typed("kubernetes.io/ssh-auth", json!({})), invalid(&["data[ssh-privatekey]"], "Required value")),
            ("service account token", typed("kubernetes.io/service-account-token", json!({})), invalid(&["metadata.annotations[kubernetes.io/service-account.name]"], "Required value")),
            ("own type", typed("example.com/custom", json!({})), Outcome::Admitted),
            ("data not base64", with(secret("db"), "/data/password", json!("not base64!")), Outcome::BadRequest("Secret in version \"v1\" cannot be handled as a Secret: data.password: ")),
        ];
        run_create("secrets", rows);
    }

    #[test]
    fn secret_updates() {
        let old = admitted(resource("secrets"), secret("db"));
        let frozen = admitted(resource("secrets"), with(secret("db"), "/immutable", json!(true)));
        run_update("secrets", &old, vec![
            ("data", with(old.clone(), "/data/password", json!("bmV3")), Outcome::Admitted),
            ("string data", with(old.clone(), "/stringData", json!({"password": "new"})), Outcome::Admitted),
            ("type", with(old.clone(), "/type", json!("kubernetes.io/basic-auth")), invalid(&["type"], "type: Invalid value: \"kubernetes.io/basic-auth\": field is immutable")),
        ]);
        run_update("secrets", &frozen, vec![
            ("same", frozen.clone(), Outcome::Admitted),
            ("data", with(frozen.clone(), "/data/password", json!("bmV3")), invalid(&["data"], "data: Forbidden: field is immutable when `immutable` is set")),
            ("string data", with(frozen.clone(), "/stringData", json!({"password": "new"})), invalid(&["data"], "field is immutable when `immutable` is set")),
            ("unset", with(frozen.clone(), "/immutable", json!(false)), invalid(&["immutable"], "field is immutable when `immutable` is set")),
        ]);
    }
}
