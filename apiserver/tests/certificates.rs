//! CertificateSigningRequests (`kinds/certificates/certificate_signing_request.rs`) through the
//! real binary: the requester recorded on create, the fields each write path may change (the
//! object, `status`, `approval`), kube-apiserver's 422s for what validation refuses, and its
//! certificate admission plugins under RBAC (approving and signing need `approve` and `sign` on
//! the signer; no `system:masters` certificates from the kube-apiserver client signer).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output};

use base64::Engine;
use common::testing::{ApiServer, Credentials, Storage};
use http::Client;
use serde_json::{Value, json};

#[path = "support/http.rs"]
mod http;

common::on_both_stores!(a_request_records_its_requester_and_is_approved_through_approval, each_write_path_changes_only_its_fields, bad_requests_get_kube_apiservers_422, kubectl_finds_explains_and_prints_them);

const PATH: &str = "/apis/certificates.k8s.io/v1/certificatesigningrequests";

/// A real PKCS#10 request for `common_name`, PEM, base64 as the API carries it.
fn pem_request(common_name: &str) -> String {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::default();
    params.distinguished_name.push(rcgen::DnType::CommonName, common_name);
    let pem = params.serialize_request(&key).unwrap().pem().unwrap();
    base64::engine::general_purpose::STANDARD.encode(pem)
}

fn csr(name: &str) -> Value {
    json!({"apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest", "metadata": {"name": name},
        "spec": {"request": pem_request(name), "signerName": "kubernetes.io/kube-apiserver-client", "usages": ["client auth"], "expirationSeconds": 3600}})
}

fn approved(reason: &str) -> Value {
    json!({"type": "Approved", "status": "True", "reason": reason, "message": "This CSR was approved by kubectl certificate approve."})
}

fn start(storage: Storage) -> (ApiServer, Client) {
    let server = ApiServer::start(storage).unwrap_or_else(|err| panic!("starting the apiserver: {err}"));
    let client = Client::new(&server);
    (server, client)
}

async fn create(client: &Client, object: &Value) -> Value {
    let (code, created) = client.json("POST", PATH, object).await;
    assert_eq!(code, 201, "{created}");
    created
}

async fn a_request_records_its_requester_and_is_approved_through_approval(storage: Storage) {
    let (_server, client) = start(storage);
    let mut object = csr("alice");
    // Who asks is the server's to say, and nothing is approved at birth.
    object["spec"]["username"] = json!("mallory");
    object["spec"]["groups"] = json!(["system:masters"]);
    object["status"] = json!({"conditions": [approved("Sneaky")]});
    let created = create(&client, &object).await;
    assert_eq!(created["spec"]["username"], "system:admin", "{created}");
    assert_eq!(created["spec"]["groups"], json!(["system:masters", "system:authenticated"]));
    assert_eq!(created["status"].get("conditions"), None, "{created}");

    let mut approval = created.clone();
    approval["status"] = json!({"conditions": [approved("KubectlApprove")]});
    let (code, written) = client.json("PUT", &format!("{PATH}/alice/approval"), &approval).await;
    assert_eq!(code, 200, "{written}");
    let condition = &written["status"]["conditions"][0];
    assert_eq!((&condition["type"], &condition["reason"]), (&json!("Approved"), &json!("KubectlApprove")));
    assert!(condition["lastUpdateTime"].is_string() && condition["lastTransitionTime"].is_string(), "{condition}");
    let (_, fetched) = client.get(&format!("{PATH}/alice/approval")).await;
    assert_eq!(fetched["status"]["conditions"][0]["type"], "Approved", "GET on approval answers the object");

    // Denying an approved request: the two exclude each other.
    let mut both = written.clone();
    both["status"]["conditions"].as_array_mut().unwrap().push(json!({"type": "Denied", "status": "True"}));
    let (code, refused) = client.json("PUT", &format!("{PATH}/alice/approval"), &both).await;
    assert_eq!(code, 422, "{refused}");
    assert_eq!(refused["message"], "CertificateSigningRequest.certificates.k8s.io \"alice\" is invalid: status.conditions[1].type: Invalid value: \"Denied\": Approved and Denied conditions are mutually exclusive");
    let mut removed = written.clone();
    removed["status"]["conditions"] = json!([]);
    let (code, refused) = client.json("PUT", &format!("{PATH}/alice/approval"), &removed).await;
    assert_eq!(code, 422, "{refused}");
    assert_eq!(refused["message"], "CertificateSigningRequest.certificates.k8s.io \"alice\" is invalid: status.conditions: Forbidden: updates may not remove a condition of type \"Approved\"");
}

/// A self-signed certificate, PEM, base64: what a signer writes into `status.certificate`.
fn certificate(common_name: &str) -> String {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::default();
    params.distinguished_name.push(rcgen::DnType::CommonName, common_name);
    base64::engine::general_purpose::STANDARD.encode(params.self_signed(&key).unwrap().pem())
}

async fn each_write_path_changes_only_its_fields(storage: Storage) {
    let (_server, client) = start(storage);
    let created = create(&client, &csr("bob")).await;

    // The object itself: spec and status are kept, only metadata changes.
    let mut edited = created.clone();
    edited["metadata"]["labels"] = json!({"team": "ops"});
    edited["spec"]["signerName"] = json!("example.com/other");
    edited["status"] = json!({"conditions": [approved("Sneaky")]});
    let (code, written) = client.json("PUT", &format!("{PATH}/bob"), &edited).await;
    assert_eq!(code, 200, "{written}");
    assert_eq!((&written["metadata"]["labels"]["team"], &written["spec"], written["status"].get("conditions")), (&json!("ops"), &created["spec"], None));

    // status: Approved cannot be added there, and a spec change is dropped.
    let mut status = written.clone();
    status["status"] = json!({"conditions": [approved("Sneaky")]});
    let (code, refused) = client.json("PUT", &format!("{PATH}/bob/status"), &status).await;
    assert_eq!(code, 422, "{refused}");
    assert_eq!(refused["message"], "CertificateSigningRequest.certificates.k8s.io \"bob\" is invalid: status.conditions: Forbidden: updates may not add a condition of type \"Approved\"");

    // approval: the conditions, never the certificate or the spec.
    let mut approval = written.clone();
    approval["spec"]["usages"] = json!(["server auth"]);
    approval["status"] = json!({"conditions": [approved("KubectlApprove")], "certificate": certificate("bob")});
    let (code, approved_object) = client.json("PUT", &format!("{PATH}/bob/approval"), &approval).await;
    assert_eq!(code, 200, "{approved_object}");
    assert_eq!((&approved_object["spec"]["usages"], approved_object["status"].get("certificate")), (&json!(["client auth"]), None));

    // status: the certificate, once; a Failed condition beside the approval.
    let issued = certificate("bob");
    let mut status = approved_object.clone();
    status["status"]["certificate"] = json!(issued);
    status["status"]["conditions"].as_array_mut().unwrap().push(json!({"type": "Failed", "status": "True", "reason": "Test"}));
    let (code, written) = client.json("PUT", &format!("{PATH}/bob/status"), &status).await;
    assert_eq!(code, 200, "{written}");
    assert_eq!((&written["status"]["certificate"], written["status"]["conditions"].as_array().map(Vec::len)), (&json!(issued), Some(2)));
    let mut again = written.clone();
    again["status"]["certificate"] = json!(certificate("bob"));
    let (code, refused) = client.json("PUT", &format!("{PATH}/bob/status"), &again).await;
    assert_eq!(code, 422, "{refused}");
    assert_eq!(refused["message"], "CertificateSigningRequest.certificates.k8s.io \"bob\" is invalid: status.certificate: Forbidden: updates may not modify existing certificate content");
    let mut junk = written.clone();
    junk["status"]["certificate"] = json!(base64::engine::general_purpose::STANDARD.encode("junk"));
    junk["metadata"]["resourceVersion"] = json!(null);
    let (code, refused) = client.json("PUT", &format!("{PATH}/bob/status"), &junk).await;
    assert_eq!(code, 422, "{refused}");
    assert_eq!(refused["message"], "CertificateSigningRequest.certificates.k8s.io \"bob\" is invalid: [status.certificate: Invalid value: \"<certificate data>\": must contain at least one CERTIFICATE PEM block, status.certificate: Forbidden: updates may not modify existing certificate content]");
}

async fn bad_requests_get_kube_apiservers_422(storage: Storage) {
    let (_server, client) = start(storage);
    // Each row: what is changed in a good request, and the causes kube-apiserver answers.
    let rows: Vec<(&str, Value, &str)> = vec![
        ("/spec/request", json!(base64::engine::general_purpose::STANDARD.encode("hi")), "spec.request: Invalid value: []byte{0x68, 0x69}: PEM block type must be CERTIFICATE REQUEST"),
        ("/spec/signerName", json!(""), "spec.signerName: Required value"),
        ("/spec/signerName", json!("kubernetes.io"), "spec.signerName: Invalid value: \"kubernetes.io\": must be a fully qualified domain and path of the form 'example.com/signer-name'"),
        ("/spec/signerName", json!("example.com/.."), "spec.signerName: Invalid value: \"..\": may not be '..'"),
        ("/spec/signerName", json!("kubernetes.io/legacy-unknown"), "spec.signerName: Invalid value: \"kubernetes.io/legacy-unknown\": the legacy signerName is not allowed via this API version"),
        ("/spec/usages", json!([]), "spec.usages: Required value"),
        ("/spec/usages", json!(["client auth", "flying"]), "spec.usages[1]: Unsupported value: \"flying\": supported values: \"any\", \"cert sign\", \"client auth\", \"code signing\", \"content commitment\", \"crl sign\", \"data encipherment\", \"decipher only\", \"digital signature\", \"email protection\", \"encipher only\", \"ipsec end system\", \"ipsec tunnel\", \"ipsec user\", \"key agreement\", \"key encipherment\", \"microsoft sgc\", \"netscape sgc\", \"ocsp signing\", \"s/mime\", \"server auth\", \"signing\", \"timestamping\""),
        ("/spec/usages", json!(["client auth", "client auth"]), "spec.usages[1]: Duplicate value: \"client auth\""),
        ("/spec/expirationSeconds", json!(60), "spec.expirationSeconds: Invalid value: 60: may not specify a duration less than 600 seconds (10 minutes)"),
    ];
    for (index, (pointer, value, cause)) in rows.into_iter().enumerate() {
        let name = format!("bad-{index}");
        let mut object = csr(&name);
        *object.pointer_mut(pointer).unwrap() = value;
        let (code, refused) = client.json("POST", PATH, &object).await;
        assert_eq!(code, 422, "{pointer}: {refused}");
        assert_eq!(refused["message"], format!("CertificateSigningRequest.certificates.k8s.io {name:?} is invalid: {cause}"), "{pointer}");
    }
    // A PEM block of another type, and a request whose signature does not hold.
    let mut object = csr("tampered");
    let pem = String::from_utf8(base64::engine::general_purpose::STANDARD.decode(object["spec"]["request"].as_str().unwrap()).unwrap()).unwrap();
    let other = pem_request("other");
    let other = String::from_utf8(base64::engine::general_purpose::STANDARD.decode(other).unwrap()).unwrap();
    // The other request's signature under this one's info: the signature check fails.
    let body = |pem: &str| pem.lines().filter(|line| !line.starts_with("-----")).collect::<String>();
    let der = |pem: &str| base64::engine::general_purpose::STANDARD.decode(body(pem)).unwrap();
    let (mine, theirs) = (der(&pem), der(&other));
    let spliced = [&mine[..mine.len() - 72], &theirs[theirs.len() - 72..]].concat();
    let spliced_pem = format!("-----BEGIN CERTIFICATE REQUEST-----\n{}\n-----END CERTIFICATE REQUEST-----\n", base64::engine::general_purpose::STANDARD.encode(&spliced));
    object["spec"]["request"] = json!(base64::engine::general_purpose::STANDARD.encode(&spliced_pem));
    let (code, refused) = client.json("POST", PATH, &object).await;
    assert_eq!(code, 422, "{refused}");
    assert!(refused["message"].as_str().unwrap().starts_with("CertificateSigningRequest.certificates.k8s.io \"tampered\" is invalid: spec.request: Invalid value: []byte{0x2d, 0x2d"), "{refused}");
}

fn kubectl(server: &ApiServer, args: &[&str]) -> String {
    let output = Command::new("kubectl").arg(format!("--kubeconfig={}", server.kubeconfig().display())).args(args).output().unwrap();
    assert!(output.status.success(), "kubectl {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

async fn kubectl_finds_explains_and_prints_them(storage: Storage) {
    let (server, client) = start(storage);
    let resources = kubectl(&server, &["api-resources", "--api-group=certificates.k8s.io", "--no-headers"]);
    assert_eq!(resources.split_whitespace().collect::<Vec<_>>(), ["certificatesigningrequests", "csr", "certificates.k8s.io/v1", "false", "CertificateSigningRequest"]);
    let explained = kubectl(&server, &["explain", "csr.spec.signerName"]);
    assert!(explained.contains("FIELD: signerName <string>"), "{explained}");
    create(&client, &csr("carol")).await;
    let table = kubectl(&server, &["get", "csr", "carol"]);
    let lines: Vec<Vec<&str>> = table.lines().map(|line| line.split_whitespace().collect()).collect();
    assert_eq!(lines[0], ["NAME", "AGE", "SIGNERNAME", "REQUESTOR", "REQUESTEDDURATION", "CONDITION"]);
    assert_eq!([lines[1][0], lines[1][2], lines[1][3], lines[1][4], lines[1][5]], ["carol", "kubernetes.io/kube-apiserver-client", "system:admin", "60m", "Pending"]);
    let selected = kubectl(&server, &["get", "csr", "--field-selector=spec.signerName=kubernetes.io/kube-apiserver-client", "-o", "name"]);
    assert_eq!(selected.trim(), "certificatesigningrequest.certificates.k8s.io/carol");
}

/// A request for `common_name` in `organization`, to `signer`, as `kubectl create -f` takes it.
fn csr_in(name: &str, organization: &str, signer: &str) -> String {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::default();
    params.distinguished_name.push(rcgen::DnType::CommonName, name);
    params.distinguished_name.push(rcgen::DnType::OrganizationName, organization);
    let pem = params.serialize_request(&key).unwrap().pem().unwrap();
    json!({"apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest", "metadata": {"name": name},
        "spec": {"request": base64::engine::general_purpose::STANDARD.encode(pem), "signerName": signer, "usages": ["client auth"]}})
    .to_string()
}

fn kubectl_as(config: &Path, args: &[&str], input: Option<&str>) -> Output {
    let mut command = Command::new("kubectl");
    command.arg(format!("--kubeconfig={}", config.display())).args(args);
    common::testing::output_with_input(&mut command, input.unwrap_or_default().as_bytes()).unwrap()
}

fn both(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

/// Runs kubectl until it succeeds: a grant takes a moment to reach the authorizer's caches.
fn eventually(config: &Path, args: &[&str], input: Option<&str>) -> Output {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let output = kubectl_as(config, args, input);
        if output.status.success() || std::time::Instant::now() > deadline {
            return output;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

fn succeeds(config: &Path, args: &[&str], input: Option<&str>) -> String {
    let output = kubectl_as(config, args, input);
    assert!(output.status.success(), "kubectl {args:?}: {}", both(&output));
    both(&output)
}

/// kubectl's line for a 403 of the certificate plugins on the request `name`.
fn refused(name: &str, why: &str) -> String {
    format!("certificatesigningrequests.certificates.k8s.io {name:?} is forbidden: {why}")
}

#[test]
fn approving_and_signing_need_the_signer_as_kube_apiservers_plugins_ask() {
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("tokens.csv");
    std::fs::write(&tokens, "admin-token,admin,1,\"system:masters\"\njane-token,jane,2\nrobot-token,robot,3\n").unwrap();
    let server = ApiServer::start_https(Storage::Embedded, &[&format!("--token-auth-file={}", tokens.display()), "--authorization-mode=RBAC"]).unwrap();
    let config = |name: &str, token: &str| server.kubeconfig_as(name, "default", Credentials::Token(token)).unwrap();
    let (admin, jane, robot) = (config("admin", "admin-token"), config("jane", "jane-token"), config("robot", "robot-token"));

    // jane and robot may write requests and both their subresources, but hold no signer.
    let writer = r#"{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRole","metadata":{"name":"csr-writer"},"rules":[
        {"apiGroups":["certificates.k8s.io"],"resources":["certificatesigningrequests"],"verbs":["create","get","list","watch"]},
        {"apiGroups":["certificates.k8s.io"],"resources":["certificatesigningrequests/approval","certificatesigningrequests/status"],"verbs":["get","update","patch"]}]}"#;
    let writers = r#"{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRoleBinding","metadata":{"name":"csr-writers"},
        "roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"csr-writer"},
        "subjects":[{"apiGroup":"rbac.authorization.k8s.io","kind":"User","name":"jane"},{"apiGroup":"rbac.authorization.k8s.io","kind":"User","name":"robot"}]}"#;
    succeeds(&admin, &["create", "-f", "-"], Some(writer));
    succeeds(&admin, &["create", "-f", "-"], Some(writers));
    let made = eventually(&jane, &["create", "-f", "-"], Some(&csr_in("jane", "devs", "kubernetes.io/kube-apiserver-client")));
    assert!(made.status.success(), "{}", both(&made));

    // CertificateApproval: writing `approval` is not approving.
    let approve = kubectl_as(&jane, &["certificate", "approve", "jane"], None);
    assert!(!approve.status.success());
    assert!(both(&approve).contains(&refused("jane", "user not permitted to approve requests with signerName \"kubernetes.io/kube-apiserver-client\"")), "{}", both(&approve));
    // CertificateSigning: writing `status` is not signing: neither the certificate nor a
    // Failed condition may be written, and a write that changes neither passes.
    let issued = certificate("jane");
    let sign = |config: &Path, name: &str| kubectl_as(config, &["patch", "csr", name, "--subresource=status", "--type=merge", "-p", &json!({"status": {"certificate": issued}}).to_string()], None);
    let not_signer = refused("jane", "user not permitted to sign requests with signerName \"kubernetes.io/kube-apiserver-client\"");
    let signed = sign(&jane, "jane");
    assert!(!signed.status.success());
    assert!(both(&signed).contains(&not_signer), "{}", both(&signed));
    let failed = kubectl_as(&jane, &["patch", "csr", "jane", "--subresource=status", "--type=merge", "-p", r#"{"status":{"conditions":[{"type":"Failed","status":"True","reason":"Test"}]}}"#], None);
    assert!(both(&failed).contains(&not_signer), "{}", both(&failed));
    succeeds(&jane, &["patch", "csr", "jane", "--subresource=status", "--type=merge", "-p", r#"{"status":{}}"#], None);

    // Kube's approver role for the signer grants it; the administrator needs none.
    succeeds(&admin, &["create", "clusterrolebinding", "jane-approves", "--clusterrole=system:certificates.k8s.io:kube-apiserver-client-approver", "--user=jane"], None);
    let approve = eventually(&jane, &["certificate", "approve", "jane"], None);
    assert!(approve.status.success(), "{}", both(&approve));
    succeeds(&admin, &["create", "-f", "-"], Some(&csr_in("other", "devs", "kubernetes.io/kube-apiserver-client")));
    succeeds(&admin, &["certificate", "deny", "other"], None);

    // `sign` on a domain's wildcard covers each of its signers, and no other.
    let signer = r#"{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRole","metadata":{"name":"example-signer"},"rules":[
        {"apiGroups":["certificates.k8s.io"],"resources":["signers"],"resourceNames":["example.com/*"],"verbs":["sign"]}]}"#;
    succeeds(&admin, &["create", "-f", "-"], Some(signer));
    succeeds(&admin, &["create", "clusterrolebinding", "robot-signs", "--clusterrole=example-signer", "--user=robot"], None);
    succeeds(&robot, &["create", "-f", "-"], Some(&csr_in("widget", "devs", "example.com/widgets")));
    let signed = eventually(&robot, &["patch", "csr", "widget", "--subresource=status", "--type=merge", "-p", &json!({"status": {"certificate": issued}}).to_string()], None);
    assert!(signed.status.success(), "{}", both(&signed));
    let signed = sign(&robot, "jane");
    assert!(both(&signed).contains(&refused("jane", "user not permitted to sign requests with signerName \"kubernetes.io/kube-apiserver-client\"")), "{}", both(&signed));

    // CertificateSubjectRestriction: not even the administrator gets a system:masters request
    // to the kube-apiserver client signer; another signer may take one.
    let masters = kubectl_as(&admin, &["create", "-f", "-"], Some(&csr_in("root", "system:masters", "kubernetes.io/kube-apiserver-client")));
    assert!(!masters.status.success());
    assert_eq!(
        String::from_utf8_lossy(&masters.stderr),
        format!("Error from server (Forbidden): error when creating \"STDIN\": {}\n", refused("root", "use of kubernetes.io/kube-apiserver-client signer with system:masters group is not allowed"))
    );
    succeeds(&admin, &["create", "-f", "-"], Some(&csr_in("root", "system:masters", "example.com/widgets")));
}
