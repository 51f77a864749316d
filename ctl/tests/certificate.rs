//! `ctl certificate approve|deny` beside `kubectl certificate approve|deny`: each runs on its
//! own apiserver holding the same CertificateSigningRequests, and their output, exit codes and
//! the requests' tables afterwards must agree byte for byte (cell by cell for tables).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;
use support::*;

use std::process::Output;

use common::testing::{ApiServer, Storage};
use serde_json::Value;

/// A real PKCS#10 request (CN=alice, O=devs, a P-256 key), PEM in base64, made once with
/// `openssl req`: the apiserver checks its signature as kube-apiserver does.
const REQUEST: &str = "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURSBSRVFVRVNULS0tLS0KTUlIYk1JR0JBZ0VBTUI4eERqQU1CZ05WQkFNTUJXRnNhV05sTVEwd0N3WURWUVFLREFSa1pYWnpNRmt3RXdZSApLb1pJemowQ0FRWUlLb1pJemowREFRY0RRZ0FFcmhkeU9JZGtuTjdGNlFmWllBV2Z0dGxWMXcyN3k1aTk5ZlFYCmFCMmdhcEZXVkRldG16WnFZV1N0NEhnNjdjRGFPaFQ2aWMzSmNuK2JSKzVFakNqQlphQUFNQW9HQ0NxR1NNNDkKQkFNQ0Ewa0FNRVlDSVFENXpjUkxXSW9QcXp3ejYvek11NWFPd0gyYU9FbDIraWVrQnFqQk56MGtRZ0loQVBiUAo3b3JvbGNaaUV2TXliaGw0UTFXZWFGUXIyb3A5T09sRitHaWNxUU42Ci0tLS0tRU5EIENFUlRJRklDQVRFIFJFUVVFU1QtLS0tLQo=";

fn csr(name: &str, signer: &str, expiration: Option<u32>) -> String {
    let expiration = expiration.map_or(String::new(), |seconds| format!("  expirationSeconds: {seconds}\n"));
    format!("---\napiVersion: certificates.k8s.io/v1\nkind: CertificateSigningRequest\nmetadata:\n  name: {name}\nspec:\n  request: {REQUEST}\n  signerName: {signer}\n  usages: [client auth]\n{expiration}")
}

/// The same requests on each server.
fn scenario(server: &ApiServer) {
    let mut manifest = String::new();
    for name in ["a", "b", "c", "d"] {
        manifest.push_str(&csr(name, "kubernetes.io/kube-apiserver-client", Some(86400)));
    }
    manifest.push_str(&csr("e", "example.com/custom", None));
    let applied = kubectl_stdin(server, &["apply", "-f", "-"], &manifest);
    assert_eq!(applied.lines().count(), 5, "{applied}");
}

fn same(label: &str, kubectl: Output, ctl: Output) {
    let text = |output: &Output| (String::from_utf8_lossy(&output.stdout).into_owned(), String::from_utf8_lossy(&output.stderr).into_owned(), output.status.code());
    assert_eq!(text(&ctl), text(&kubectl), "{label}: ctl (left) and kubectl (right) differ");
}

#[test]
fn approve_and_deny_as_kubectl_does() {
    let kube_server = ApiServer::start(Storage::Embedded).unwrap_or_else(|err| panic!("starting the apiserver: {err}"));
    let ctl_server = ApiServer::start(Storage::Embedded).unwrap_or_else(|err| panic!("starting the apiserver: {err}"));
    scenario(&kube_server);
    scenario(&ctl_server);
    let table = |output: Output| without_ages(&stdout_ok(output));
    assert_eq!(table(ctl(&ctl_server, &["get", "csr"])), table(run("kubectl", &kube_server, &["get", "csr"])), "pending requests");
    assert_eq!(table(ctl(&kube_server, &["get", "csr"])), table(run("kubectl", &kube_server, &["get", "csr"])), "the same server's table");

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("d.yaml");
    std::fs::write(&file, csr("d", "kubernetes.io/kube-apiserver-client", Some(86400))).unwrap();
    let file = file.display().to_string();
    let cases: Vec<(&str, Vec<&str>)> = vec![
        ("approve", vec!["certificate", "approve", "a"]),
        ("approve again, no update", vec!["certificate", "approve", "a"]),
        ("approve again, forced", vec!["certificate", "approve", "a", "--force"]),
        ("deny", vec!["certificate", "deny", "b"]),
        ("deny the approved", vec!["certificate", "deny", "a"]),
        ("approve the denied", vec!["certificate", "approve", "b"]),
        ("missing", vec!["certificate", "approve", "nope"]),
        ("several, some failing", vec!["certificate", "approve", "c", "nope", "b"]),
        ("from a file", vec!["certificate", "approve", "-f", &file]),
        ("nothing named", vec!["certificate", "deny"]),
    ];
    for (label, args) in cases {
        same(label, run("kubectl", &kube_server, &args), ctl(&ctl_server, &args));
    }
    assert_eq!(table(ctl(&ctl_server, &["get", "csr"])), table(run("kubectl", &kube_server, &["get", "csr"])), "decided requests");
    let conditions = |server: &ApiServer, name: &str| -> Vec<(String, String, String)> {
        let object: Value = serde_json::from_str(&stdout_ok(run("kubectl", server, &["get", "csr", name, "-o", "json"]))).unwrap();
        let text = |condition: &Value, field: &str| condition[field].as_str().unwrap_or_default().to_string();
        object["status"]["conditions"].as_array().unwrap().iter().map(|condition| (text(condition, "type"), text(condition, "reason"), text(condition, "message"))).collect()
    };
    for name in ["a", "b", "c", "d"] {
        assert_eq!(conditions(&ctl_server, name), conditions(&kube_server, name), "{name}'s conditions");
    }
    assert_eq!(conditions(&ctl_server, "a"), [("Approved".to_string(), "KubectlApprove".to_string(), "This CSR was approved by kubectl certificate approve.".to_string())]);
}

/// `openssl req` run in `dir` with `args`, its PEM output in base64 as the API carries it.
fn openssl_pem(dir: &std::path::Path, args: &[&str]) -> String {
    use base64::Engine;
    let output = std::process::Command::new("openssl").current_dir(dir).arg("req").args(args).output().unwrap();
    assert!(output.status.success(), "openssl: {}", String::from_utf8_lossy(&output.stderr));
    base64::engine::general_purpose::STANDARD.encode(&output.stdout)
}

#[test]
fn describe_as_kubectl_does() {
    let server = ApiServer::start(Storage::Embedded).unwrap_or_else(|err| panic!("starting the apiserver: {err}"));
    scenario(&server);
    // A subject with every attribute kubectl lists, some twice; and labels and annotations.
    let dir = tempfile::tempdir().unwrap();
    let key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "key.pem"];
    let subject = "/CN=bob/serialNumber=42/O=devs/O=ops/OU=web/C=NL/L=Delft/ST=Zuid-Holland/street=Main 1/postalCode=2611";
    let names = "subjectAltName=DNS:bob.example.com,DNS:www.example.com,email:bob@example.com,URI:spiffe://example.com/bob,IP:10.0.0.1,IP:fd00::1,IP:::ffff:10.0.0.2";
    let request = openssl_pem(dir.path(), &[&key[..], &["-new", "-subj", subject, "-addext", names]].concat());
    let manifest = format!("apiVersion: certificates.k8s.io/v1\nkind: CertificateSigningRequest\nmetadata:\n  name: full\n  labels: {{team: a, tier: b}}\n  annotations: {{note: hi}}\nspec:\n  request: {request}\n  signerName: example.com/custom\n  usages: [client auth, digital signature]\n  expirationSeconds: 7200\n");
    kubectl_stdin(&server, &["apply", "-f", "-"], &manifest);
    stdout_ok(run("kubectl", &server, &["certificate", "approve", "a", "full"]));
    stdout_ok(run("kubectl", &server, &["certificate", "deny", "b"]));
    // Issued, and Failed beside it.
    let certificate = openssl_pem(dir.path(), &[&key[..], &["-x509", "-subj", "/CN=bob", "-days", "1"]].concat());
    let status = serde_json::json!({"status": {"certificate": certificate, "conditions": [
        {"type": "Approved", "status": "True", "reason": "KubectlApprove", "message": "This CSR was approved by kubectl certificate approve."},
        {"type": "Failed", "status": "True", "reason": "Test"}]}});
    stdout_ok(run("kubectl", &server, &["patch", "csr", "full", "--subresource=status", "--type=merge", "-p", &status.to_string()]));
    for args in [
        vec!["describe", "csr", "a"],
        vec!["describe", "csr", "b"],
        vec!["describe", "csr", "e"],
        vec!["describe", "csr", "full"],
        vec!["describe", "csr"],
        vec!["describe", "certificatesigningrequest/c", "csr/full"],
        vec!["describe", "csr", "a", "--show-events=false"],
    ] {
        let kubectl = run("kubectl", &server, &args);
        assert!(String::from_utf8_lossy(&kubectl.stdout).contains("Common Name:"), "{args:?}: {kubectl:?}");
        same(&args.join(" "), kubectl, ctl(&server, &args));
    }
    let full = stdout_ok(ctl(&server, &["describe", "csr", "full"]));
    assert!(full.contains("Approved,Failed,Issued\n"), "{full}");
    assert!(full.contains("Subject Alternative Names:\n"), "{full}");
    // Each organization on its own line, under the first.
    let lines: Vec<&str> = full.lines().map(str::trim).collect();
    assert!(lines.windows(2).any(|pair| pair[0].ends_with(" devs") && pair[0].starts_with("Organization:") && pair[1] == "ops"), "{full}");
}
