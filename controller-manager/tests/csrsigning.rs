//! The CSR signing controller in the real controller-manager binary against the real
//! apiserver: an approved request for `kubernetes.io/kube-apiserver-client` gets a certificate
//! for its subject signed by the CA of `--cluster-signing-cert-file`; a pending one, one of
//! another signer and one asking for a usage its signer refuses get none (the last a Failed
//! condition).

mod support;

use std::time::Duration;

use base64::Engine;
use common::testing::pki::Authority;
use serde_json::{Value, json};
use support::Cluster;

/// A real PKCS#10 request (CN=alice, O=devs, a P-256 key), PEM in base64, made once with
/// `openssl req`.
const REQUEST: &str = "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURSBSRVFVRVNULS0tLS0KTUlIYk1JR0JBZ0VBTUI4eERqQU1CZ05WQkFNTUJXRnNhV05sTVEwd0N3WURWUVFLREFSa1pYWnpNRmt3RXdZSApLb1pJemowQ0FRWUlLb1pJemowREFRY0RRZ0FFcmhkeU9JZGtuTjdGNlFmWllBV2Z0dGxWMXcyN3k1aTk5ZlFYCmFCMmdhcEZXVkRldG16WnFZV1N0NEhnNjdjRGFPaFQ2aWMzSmNuK2JSKzVFakNqQlphQUFNQW9HQ0NxR1NNNDkKQkFNQ0Ewa0FNRVlDSVFENXpjUkxXSW9QcXp3ejYvek11NWFPd0gyYU9FbDIraWVrQnFqQk56MGtRZ0loQVBiUAo3b3JvbGNaaUV2TXliaGw0UTFXZWFGUXIyb3A5T09sRitHaWNxUU42Ci0tLS0tRU5EIENFUlRJRklDQVRFIFJFUVVFU1QtLS0tLQo=";

const PATH: &str = "/apis/certificates.k8s.io/v1/certificatesigningrequests";

fn csr(name: &str, signer: &str, usages: &[&str]) -> Value {
    json!({"apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest", "metadata": {"name": name},
        "spec": {"request": REQUEST, "signerName": signer, "usages": usages, "expirationSeconds": 3600}})
}

async fn approve(cluster: &Cluster, name: &str) {
    let mut object = cluster.get(&format!("{PATH}/{name}")).await;
    object["status"] = json!({"conditions": [{"type": "Approved", "status": "True", "reason": "Test", "message": "approved by the test"}]});
    let (code, answer) = cluster.send(reqwest::Method::PUT, &format!("{PATH}/{name}/approval"), "application/json", Some(&object)).await;
    assert_eq!(code, 200, "{answer}");
}

fn decode(value: &Value) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD.decode(value.as_str().unwrap_or_default()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approved_client_request_gets_a_certificate_from_the_cluster_ca() {
    let cluster = Cluster::start();
    let dir = tempfile::tempdir().unwrap();
    let authority = Authority::new("cluster-ca").unwrap();
    let files = authority.certificate().write(dir.path(), "ca").unwrap();
    let manager = cluster.controller_manager(&[
        "--controllers=csrsigning",
        &format!("--cluster-signing-cert-file={}", files.certificate.display()),
        &format!("--cluster-signing-key-file={}", files.key.display()),
    ]);
    for object in [
        csr("client", "kubernetes.io/kube-apiserver-client", &["digital signature", "client auth"]),
        csr("pending", "kubernetes.io/kube-apiserver-client", &["client auth"]),
        csr("custom", "example.com/custom", &["client auth"]),
        csr("serving-as-client", "kubernetes.io/kube-apiserver-client", &["server auth"]),
    ] {
        cluster.create(PATH, &object).await;
    }
    for name in ["client", "custom", "serving-as-client"] {
        approve(&cluster, name).await;
    }
    let issued = cluster
        .wait_for("the approved request's certificate", Duration::from_secs(60), || async {
            let object = cluster.get(&format!("{PATH}/client")).await;
            match object["status"].get("certificate") {
                Some(certificate) => Ok(decode(certificate)),
                None => Err(format!("{}\n--- controller-manager log:\n{}", object["status"], manager.log())),
            }
        })
        .await;
    let subject = common::x509::issued_subject(&issued, authority.certificate().pem().as_bytes()).unwrap_or_else(|err| panic!("not issued by the cluster CA: {err}"));
    assert_eq!(subject, [(vec![2, 5, 4, 3], "alice".to_string()), (vec![2, 5, 4, 10], "devs".to_string())]);

    let failed = cluster
        .wait_for("the refused request's Failed condition", Duration::from_secs(60), || async {
            let object = cluster.get(&format!("{PATH}/serving-as-client")).await;
            let conditions = object["status"]["conditions"].as_array().cloned().unwrap_or_default();
            conditions.into_iter().find(|condition| condition["type"] == "Failed").ok_or_else(|| object["status"].to_string())
        })
        .await;
    assert_eq!((&failed["reason"], &failed["message"]), (&json!("SignerValidationFailure"), &json!("invalid usage for client certificate: server auth")));
    assert_eq!(cluster.get(&format!("{PATH}/serving-as-client")).await["status"].get("certificate"), None);
    // Checked once the signer has acted on the later requests: a pending request and one of
    // another signer are not its to sign.
    for name in ["pending", "custom"] {
        assert_eq!(cluster.get(&format!("{PATH}/{name}")).await["status"].get("certificate"), None, "{name}");
    }
}
