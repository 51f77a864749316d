//! Secrets encrypted at rest, read straight out of a real etcd with etcdctl: ciphertext under the
//! first key, key rotation by rewriting every Secret, and a wrong key that fails clearly and
//! changes nothing; the secretbox and aescbc providers, and a move from one to the other.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output};

use common::testing::{ApiServer, Storage, workspace_binary};

const KEY1: &str = "c2VjcmV0IGlzIHNlY3VyZSwgSSB0aGluayBzbywgYmU=";
const KEY2: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
const KEY3: &str = "ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA=";

fn config(keys: &[(&str, &str)], identity: bool) -> String {
    mixed_config(&[("aesgcm", keys)], identity)
}

/// Secrets under these providers (`aesgcm`, `aescbc`, `secretbox`) in order, each with its keys.
fn mixed_config(providers: &[(&str, &[(&str, &str)])], identity: bool) -> String {
    let providers: Vec<String> = providers
        .iter()
        .map(|(kind, keys)| {
            let keys: Vec<String> = keys.iter().map(|(name, secret)| format!("      - name: {name}\n        secret: {secret}\n")).collect();
            format!("  - {kind}:\n      keys:\n{}", keys.concat())
        })
        .collect();
    let identity = if identity { "  - identity: {}\n" } else { "" };
    format!("apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n- resources: [secrets]\n  providers:\n{}{identity}", providers.concat())
}

fn kubectl(server: &ApiServer, args: &[&str], input: Option<&str>) -> Output {
    let mut command = Command::new("kubectl");
    command.arg(format!("--kubeconfig={}", server.kubeconfig().display())).args(args);
    common::testing::output_with_input(&mut command, input.unwrap_or_default().as_bytes()).expect("kubectl")
}

fn ok(output: Output) -> String {
    assert!(output.status.success(), "{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The raw value etcd holds for `key`.
fn etcd_value(server: &ApiServer, key: &str) -> Vec<u8> {
    let endpoint = server.etcd.as_ref().expect("etcd").endpoint();
    let output = Command::new("etcdctl").args([&format!("--endpoints={endpoint}"), "get", key, "--print-value-only"]).env("ETCDCTL_API", "3").output().expect("etcdctl");
    assert!(output.status.success(), "etcdctl: {}", String::from_utf8_lossy(&output.stderr));
    output.stdout
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|window| window == needle.as_bytes())
}

fn restart_with(server: &mut ApiServer, path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
    server.kill();
    server.start_again().expect("apiserver restarts with the new configuration");
}

#[test]
fn secrets_are_ciphertext_in_etcd_and_survive_key_rotation() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("encryption.yaml");
    std::fs::write(&path, config(&[("key1", KEY1)], true)).unwrap();
    let flag = format!("--encryption-provider-config={}", path.display());
    let mut server = ApiServer::start_with_args(Storage::Etcd, &[&flag]).expect("apiserver");

    ok(kubectl(&server, &["create", "secret", "generic", "s1", "--from-literal=password=hunter2"], None));
    ok(kubectl(&server, &["create", "secret", "generic", "s2", "-n", "kube-system", "--from-literal=token=opensesame"], None));
    ok(kubectl(&server, &["create", "configmap", "c1", "--from-literal=colour=blue"], None));
    let stored = etcd_value(&server, "/registry/core/secrets/default/s1");
    assert!(stored.starts_with(b"k8s:enc:aesgcm:v1:key1:"), "{}", String::from_utf8_lossy(&stored));
    for plain in ["hunter2", "aHVudGVyMg==", "password", "\"s1\""] {
        assert!(!contains(&stored, plain), "{plain} must not be readable in etcd");
    }
    assert!(contains(&etcd_value(&server, "/registry/core/configmaps/default/c1"), "blue"), "only Secrets are encrypted");
    let read = |server: &ApiServer, namespace: &str, name: &str| ok(kubectl(server, &["get", "secret", name, "-n", namespace, "-o", "jsonpath={.data}"], None));
    let before = (read(&server, "default", "s1"), read(&server, "kube-system", "s2"));
    assert_eq!(before.0, r#"{"password":"aHVudGVyMg=="}"#);
    // A watch sees plaintext too.
    let listed = ok(kubectl(&server, &["get", "secrets", "-A", "-o", "name"], None));
    assert!(listed.contains("secret/s1") && listed.contains("secret/s2"), "{listed}");

    // Rotation: the new key first, the old one still readable; rewrite every Secret; drop the old.
    restart_with(&mut server, &path, &config(&[("key2", KEY2), ("key1", KEY1)], true));
    assert_eq!((read(&server, "default", "s1"), read(&server, "kube-system", "s2")), before);
    let all = ok(kubectl(&server, &["get", "secrets", "-A", "-o", "json"], None));
    // kubectl validates the List against /openapi/v2 first.
    ok(kubectl(&server, &["replace", "-f", "-"], Some(&all)));
    for key in ["/registry/core/secrets/default/s1", "/registry/core/secrets/kube-system/s2"] {
        assert!(etcd_value(&server, key).starts_with(b"k8s:enc:aesgcm:v1:key2:"), "{key} is under the new key");
    }
    restart_with(&mut server, &path, &config(&[("key2", KEY2)], false));
    assert_eq!((read(&server, "default", "s1"), read(&server, "kube-system", "s2")), before, "unchanged after rotation");

    // A wrong key: a clear error, and nothing in etcd changes.
    let stored = etcd_value(&server, "/registry/core/secrets/default/s1");
    restart_with(&mut server, &path, &config(&[("key3", KEY3)], false));
    let failed = kubectl(&server, &["get", "secret", "s1"], None);
    assert!(!failed.status.success());
    assert!(
        String::from_utf8_lossy(&failed.stderr).contains("no matching key was found for the provided AES transformer"),
        "{}",
        String::from_utf8_lossy(&failed.stderr)
    );
    assert_eq!(etcd_value(&server, "/registry/core/secrets/default/s1"), stored);
    restart_with(&mut server, &path, &config(&[("key2", KEY2)], false));
    assert_eq!(read(&server, "default", "s1"), before.0);
}

#[test]
fn a_bad_configuration_stops_the_apiserver_with_the_reason() {
    let short = [("short", "c2hvcnQ=")];
    // 16 bytes: an AES key, too short for secretbox's 32.
    let aes128 = [("aes128", "MDEyMzQ1Njc4OWFiY2RlZg==")];
    let rows = [
        (config(&short, true), "resources[0].providers[0].aesgcm.keys[0].secret: Invalid value: \"REDACTED\": secret is not of the expected length, got 5, expected one of [16 24 32]"),
        (mixed_config(&[("aescbc", &short)], true), "resources[0].providers[0].aescbc.keys[0].secret: Invalid value: \"REDACTED\": secret is not of the expected length, got 5, expected one of [16 24 32]"),
        (
            mixed_config(&[("aesgcm", &[("key1", KEY1)]), ("secretbox", &aes128)], true),
            "resources[0].providers[1].secretbox.keys[0].secret: Invalid value: \"REDACTED\": secret is not of the expected length, got 16, expected one of [32]",
        ),
        (mixed_config(&[("secretbox", &[("box", "not base64!")])], false), "resources[0].providers[0].secretbox.keys[0].secret: Invalid value: \"REDACTED\": secrets must be base64 encoded"),
    ];
    for (text, expected) in rows {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("encryption.yaml");
        std::fs::write(&path, &text).unwrap();
        let output = Command::new(workspace_binary("apiserver"))
            .args(["--bind-address=127.0.0.1:0", &format!("--data-dir={}", dir.path().join("data").display()), &format!("--encryption-provider-config={}", path.display())])
            .output()
            .expect("apiserver");
        assert!(!output.status.success(), "{text}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(expected), "{text}\n{stderr}");
    }
}

/// Every Secret's stored value starts with `prefix` and shows none of `plain`.
fn assert_stored_under(server: &ApiServer, keys: &[&str], prefix: &str, plain: &[&str]) {
    for key in keys {
        let stored = etcd_value(server, key);
        assert!(stored.starts_with(prefix.as_bytes()), "{key}: {}", String::from_utf8_lossy(&stored));
        for plain in plain {
            assert!(!contains(&stored, plain), "{plain} must not be readable in etcd at {key}");
        }
    }
}

#[test]
fn aescbc_and_secretbox_store_ciphertext_and_aescbc_rotates_to_secretbox() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("encryption.yaml");
    // aescbc alone (Kubernetes calls it weak; clusters that used it must still be read and moved).
    std::fs::write(&path, mixed_config(&[("aescbc", &[("cbc1", KEY2)])], true)).unwrap();
    let flag = format!("--encryption-provider-config={}", path.display());
    let mut server = ApiServer::start_with_args(Storage::Etcd, &[&flag]).expect("apiserver");

    ok(kubectl(&server, &["create", "secret", "generic", "s1", "--from-literal=password=hunter2"], None));
    ok(kubectl(&server, &["create", "secret", "generic", "s2", "-n", "kube-system", "--from-literal=token=opensesame"], None));
    let keys = ["/registry/core/secrets/default/s1", "/registry/core/secrets/kube-system/s2"];
    let plain = ["hunter2", "aHVudGVyMg==", "opensesame", "b3BlbnNlc2FtZQ==", "password", "\"s1\"", "\"s2\""];
    assert_stored_under(&server, &keys, "k8s:enc:aescbc:v1:cbc1:", &plain);
    let read = |server: &ApiServer, namespace: &str, name: &str| ok(kubectl(server, &["get", "secret", name, "-n", namespace, "-o", "jsonpath={.data}"], None));
    let before = (read(&server, "default", "s1"), read(&server, "kube-system", "s2"));
    assert_eq!(before, (r#"{"password":"aHVudGVyMg=="}"#.to_string(), r#"{"token":"b3BlbnNlc2FtZQ=="}"#.to_string()));

    // Rotation: secretbox first, aescbc still readable; new Secrets go under secretbox at once.
    restart_with(&mut server, &path, &mixed_config(&[("secretbox", &[("box1", KEY3)]), ("aescbc", &[("cbc1", KEY2)])], true));
    assert_eq!((read(&server, "default", "s1"), read(&server, "kube-system", "s2")), before);
    ok(kubectl(&server, &["create", "secret", "generic", "s3", "--from-literal=pin=8675309"], None));
    assert_stored_under(&server, &["/registry/core/secrets/default/s3"], "k8s:enc:secretbox:v1:box1:", &["8675309", "ODY3NTMwOQ==", "\"s3\""]);
    assert_stored_under(&server, &keys, "k8s:enc:aescbc:v1:cbc1:", &plain);
    // Replacing every Secret unchanged rewrites each under secretbox.
    let all = ok(kubectl(&server, &["get", "secrets", "-A", "-o", "json"], None));
    ok(kubectl(&server, &["replace", "-f", "-"], Some(&all)));
    assert_stored_under(&server, &keys, "k8s:enc:secretbox:v1:box1:", &plain);

    // aescbc dropped: everything still reads, from secretbox alone.
    restart_with(&mut server, &path, &mixed_config(&[("secretbox", &[("box1", KEY3)])], false));
    assert_eq!((read(&server, "default", "s1"), read(&server, "kube-system", "s2")), before, "unchanged after rotation");
    assert_eq!(read(&server, "default", "s3"), r#"{"pin":"ODY3NTMwOQ=="}"#);
    let listed = ok(kubectl(&server, &["get", "secrets", "-A", "-o", "name"], None));
    assert!(["secret/s1", "secret/s2", "secret/s3"].iter().all(|name| listed.contains(name)), "{listed}");

    // A secretbox key of another name: Kubernetes' words, and etcd unchanged.
    let stored = etcd_value(&server, keys[0]);
    restart_with(&mut server, &path, &mixed_config(&[("secretbox", &[("box2", KEY1)])], false));
    let failed = kubectl(&server, &["get", "secret", "s1"], None);
    assert!(!failed.status.success());
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert!(stderr.contains("no matching key was found for the provided Secretbox transformer"), "{stderr}");
    assert_eq!(etcd_value(&server, keys[0]), stored);
}
