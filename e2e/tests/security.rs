//! Security on the kind-style cluster (issue 12, in part): Secrets are ciphertext in etcd (read
//! with etcdctl on the control plane), `cluster rotate-encryption-key` moves every Secret to a
//! new key with their data unchanged, and a wrong key fails clearly without changing anything.

#![allow(clippy::unwrap_used)]

mod support;

use support::{Cluster, ok, text};

fn etcd_value(cluster: &Cluster, key: &str) -> Vec<u8> {
    let node = cluster.node("control-plane");
    let output = cluster.docker(&["exec", "-e", "ETCDCTL_API=3", &node, "etcdctl", "get", key, "--print-value-only"]);
    assert!(output.status.success(), "etcdctl: {}", String::from_utf8_lossy(&output.stderr));
    output.stdout
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|window| window == needle.as_bytes())
}

/// The key name in `k8s:enc:aesgcm:v1:<name>:...`.
fn key_name(value: &[u8]) -> String {
    let text = String::from_utf8_lossy(value);
    let rest = text.strip_prefix("k8s:enc:aesgcm:v1:").unwrap_or_else(|| panic!("not encrypted: {text}"));
    rest.split(':').next().unwrap_or_default().to_string()
}

/// Gives the control plane's apiserver `config` and waits until it has restarted.
fn reconfigure(cluster: &Cluster, config: &str) {
    let node = cluster.node("control-plane");
    let script = format!("cat > /etc/cluster/encryption.yaml <<'END'\n{config}END\nkillall apiserver; sleep 1; until wget -q -O /dev/null http://127.0.0.1:6443/readyz; do sleep 0.2; done");
    ok(cluster.docker(&["exec", &node, "sh", "-c", &script]));
}

#[test]
fn secrets_are_ciphertext_in_etcd_and_the_key_rotates() {
    let cluster = Cluster::create_with(1, None, &["--storage", "etcd"]);
    ok(cluster.kubectl(&["create", "secret", "generic", "s1", "--from-literal=password=hunter2"]));
    ok(cluster.kubectl(&["create", "secret", "generic", "s2", "-n", "kube-system", "--from-literal=token=opensesame"]));
    let keys = ["/registry/core/secrets/default/s1", "/registry/core/secrets/kube-system/s2"];
    let first = etcd_value(&cluster, keys[0]);
    for plain in ["hunter2", "aHVudGVyMg==", "password"] {
        assert!(!contains(&first, plain), "{plain} is readable in etcd");
    }
    let old_key = key_name(&first);
    let read = || (text(&cluster.kubectl(&["get", "secret", "s1", "-o", "jsonpath={.data}"])), text(&cluster.kubectl(&["get", "secret", "s2", "-n", "kube-system", "-o", "jsonpath={.data}"])));
    let before = read();
    assert_eq!(before.0, r#"{"password":"aHVudGVyMg=="}"#);

    let rotated = ok(cluster.tool(&["rotate-encryption-key", "--name", &cluster.name]));
    assert!(rotated.contains("Rewriting 2 Secret(s) under the new key"), "{rotated}");
    let new_key = key_name(&etcd_value(&cluster, keys[0]));
    assert_ne!(new_key, old_key);
    for key in keys {
        assert_eq!(key_name(&etcd_value(&cluster, key)), new_key, "{key} is under the new key");
    }
    assert_eq!(read(), before, "the data reads back unchanged");
    let config = ok(cluster.docker(&["exec", &cluster.node("control-plane"), "cat", "/etc/cluster/encryption.yaml"]));
    assert!(!config.contains(&old_key), "the old key is gone: {config}");

    // A wrong key: a clear error, nothing changed in etcd; the right key reads again.
    let stored = etcd_value(&cluster, keys[0]);
    reconfigure(&cluster, "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n- resources: [secrets]\n  providers:\n  - aesgcm:\n      keys:\n      - name: wrong\n        secret: ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA=\n");
    let failed = cluster.kubectl(&["get", "secret", "s1"]);
    assert!(!failed.status.success());
    assert!(String::from_utf8_lossy(&failed.stderr).contains("no matching key was found for the provided AES transformer"), "{}", String::from_utf8_lossy(&failed.stderr));
    assert_eq!(etcd_value(&cluster, keys[0]), stored);
    reconfigure(&cluster, &config);
    assert_eq!(read(), before);

    // Every apiserver keeps an audit log: the Secrets' reads are there, their data is not.
    let audit = ok(cluster.docker(&["exec", &cluster.node("control-plane"), "cat", "/var/log/cluster/audit.log"]));
    assert!(audit.lines().any(|line| line.contains(r#""verb":"get""#) && line.contains(r#""resource":"secrets""#) && line.contains(r#""name":"s1""#)), "no audited read of s1");
    assert!(!audit.contains("hunter2") && !audit.contains("aHVudGVyMg=="), "Secret data in the audit log");
}
