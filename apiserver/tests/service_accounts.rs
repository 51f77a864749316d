//! ServiceAccount tokens in the real apiserver: TokenRequest through `kubectl create token`,
//! tokens as credentials under RBAC, and tokens that die with their Pod or ServiceAccount; the
//! Service `kubernetes` pointing at the apiserver.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::testing::{ApiServer, Credentials, Storage};

/// The apiserver on HTTPS with a token file (the administrator's `admin-token`), RBAC, an
/// advertised address and `signing_key` for ServiceAccount tokens.
struct Server {
    apiserver: ApiServer,
    /// The administrator's kubeconfig, default namespace `demo`.
    admin: PathBuf,
}

impl Server {
    fn start(dir: &Path, signing_key: &Path) -> Self {
        let apiserver = ApiServer::start_https(
            Storage::Embedded,
            &[
                &admin_token_file(dir),
                "--authorization-mode=RBAC",
                "--advertise-address=192.0.2.10",
                &format!("--service-account-signing-key-file={}", signing_key.display()),
            ],
        )
        .unwrap();
        let admin = apiserver.kubeconfig_as("admin", "demo", Credentials::Token("admin-token")).unwrap();
        Self { apiserver, admin }
    }

    fn port(&self) -> u16 {
        self.apiserver.address().port()
    }

    /// The status code and body of a GET with `token`.
    fn get(&self, path: &str, token: Option<&str>) -> (u16, String) {
        let mut command = Command::new("curl");
        command.arg("-s").arg("--cacert").arg(self.apiserver.certificate_authority().unwrap());
        command.args(["-w", "\n%{http_code}", &format!("{}{path}", self.apiserver.url())]);
        if let Some(token) = token {
            command.args(["-H", &format!("Authorization: Bearer {token}")]);
        }
        let output = String::from_utf8_lossy(&command.output().unwrap().stdout).into_owned();
        let (body, code) = output.rsplit_once('\n').unwrap_or_default();
        (code.parse().unwrap_or(0), body.to_string())
    }

    /// The status code and JSON body of a POST of `body` with `token`.
    fn post(&self, path: &str, token: &str, body: &serde_json::Value) -> (u16, serde_json::Value) {
        let mut command = Command::new("curl");
        command.arg("-s").arg("--cacert").arg(self.apiserver.certificate_authority().unwrap());
        command.args(["-w", "\n%{http_code}", "-X", "POST", "-H", "Content-Type: application/json", "-d", &body.to_string()]);
        command.args(["-H", &format!("Authorization: Bearer {token}"), &format!("{}{path}", self.apiserver.url())]);
        let output = String::from_utf8_lossy(&command.output().unwrap().stdout).into_owned();
        let (body, code) = output.rsplit_once('\n').unwrap_or_default();
        (code.parse().unwrap_or(0), serde_json::from_str(body).unwrap_or_else(|_| body.into()))
    }

    fn kubectl(&self, args: &[&str]) -> Output {
        Command::new("kubectl").arg(format!("--kubeconfig={}", self.admin.display())).args(args).output().unwrap()
    }
}

/// The `--token-auth-file` flag of a file in `dir` naming the administrator's `admin-token`.
fn admin_token_file(dir: &Path) -> String {
    let tokens = dir.join("tokens.csv");
    std::fs::write(&tokens, "admin-token,admin,1,\"system:masters\"\n").unwrap();
    format!("--token-auth-file={}", tokens.display())
}

fn out(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

fn ok(output: Output) -> String {
    assert!(output.status.success(), "{}", out(&output));
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

fn signing_key(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, rcgen::KeyPair::generate().unwrap().serialize_pem()).unwrap();
    path
}

#[test]
fn service_account_tokens_authenticate_until_their_pod_or_account_is_gone() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &signing_key(dir.path(), "sa.key"));
    let kubectl = |args: &[&str]| server.kubectl(args);
    ok(kubectl(&["create", "namespace", "demo"]));
    // A pod runs as a ServiceAccount that exists (no controller makes `default` here).
    let run_as = |account: &str| kubectl(&["run", "web", "--image=busybox", &format!("--overrides={{\"spec\":{{\"serviceAccountName\":\"{account}\"}}}}")]);
    for account in ["robot", "default"] {
        let refused = run_as(account);
        let expected = format!("pods \"web\" is forbidden: error looking up service account demo/{account}: serviceaccount \"{account}\" not found");
        assert!(!refused.status.success() && out(&refused).contains(&expected), "{}", out(&refused));
    }
    ok(kubectl(&["create", "serviceaccount", "robot"]));
    ok(run_as("robot"));

    // TokenRequest through kubectl (protobuf on the wire), bound to the pod and unbound.
    let bound = ok(kubectl(&["create", "token", "robot", "--bound-object-kind=Pod", "--bound-object-name=web"]));
    let unbound = ok(kubectl(&["create", "token", "robot", "--duration=20m"]));
    let claims: serde_json::Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(bound.split('.').nth(1).unwrap()).unwrap()).unwrap();
    assert_eq!(claims["sub"], "system:serviceaccount:demo:robot");
    assert_eq!(claims["aud"][0], "https://kubernetes.default.svc.cluster.local");
    assert_eq!(claims["kubernetes.io"]["pod"]["name"], "web");
    let short = kubectl(&["create", "token", "robot", "--duration=1m"]);
    assert!(out(&short).contains("may not specify a duration less than 10 minutes"), "{}", out(&short));
    let missing = kubectl(&["create", "token", "robot", "--bound-object-kind=Pod", "--bound-object-name=absent"]);
    assert!(out(&missing).contains("pods \"absent\" not found"), "{}", out(&missing));

    // The token is the ServiceAccount: forbidden until a RoleBinding allows it.
    let (code, body) = server.get("/api/v1/namespaces/demo/pods", Some(&bound));
    assert_eq!(code, 403, "{body}");
    assert!(body.contains("User \\\"system:serviceaccount:demo:robot\\\" cannot list resource \\\"pods\\\""), "{body}");
    ok(kubectl(&["create", "rolebinding", "robot-view", "--clusterrole=view", "--serviceaccount=demo:robot"]));
    assert_eq!(server.get("/api/v1/namespaces/demo/pods", Some(&bound)).0, 200);
    assert_eq!(server.get("/api/v1/namespaces/demo/pods", Some(&unbound)).0, 200);

    // Forgeries: `alg: none`, the claims altered, another key's signature.
    let parts: Vec<&str> = bound.split('.').collect();
    let none = format!("{}.{}.", URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#), parts[1]);
    let mut altered_claims = claims.clone();
    altered_claims["kubernetes.io"]["serviceaccount"]["name"] = "default".into();
    let altered = format!("{}.{}.{}", parts[0], URL_SAFE_NO_PAD.encode(altered_claims.to_string()), parts[2]);
    for forged in [none, altered, format!("{}.{}.{}", parts[0], parts[1], URL_SAFE_NO_PAD.encode([7u8; 64]))] {
        let (code, body) = server.get("/api/v1/namespaces/demo/pods", Some(&forged));
        assert_eq!(code, 401, "{forged}: {body}");
        assert!(body.contains("\"reason\":\"Unauthorized\""), "{body}");
    }

    // A token dies with its pod; an unbound one with its ServiceAccount.
    ok(kubectl(&["delete", "pod", "web", "--grace-period=0", "--force"]));
    let gone = || server.get("/api/v1/namespaces/demo/pods", Some(&bound)).0 == 401;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !gone() {
        assert!(std::time::Instant::now() < deadline, "the pod-bound token still works after the pod is gone");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(server.get("/api/v1/namespaces/demo/pods", Some(&unbound)).0, 200);
    ok(kubectl(&["delete", "serviceaccount", "robot"]));
    // Recreated under the same name, it is another account: the old token stays dead.
    ok(kubectl(&["create", "serviceaccount", "robot"]));
    assert_eq!(server.get("/api/v1/namespaces/demo/pods", Some(&unbound)).0, 401);
}

#[test]
fn tokens_of_another_cluster_are_refused_and_the_kubernetes_service_points_here() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &signing_key(dir.path(), "sa.key"));
    let kubectl = |args: &[&str]| server.kubectl(args);
    ok(kubectl(&["create", "namespace", "demo"]));
    ok(kubectl(&["create", "serviceaccount", "robot"]));
    let token = ok(kubectl(&["create", "token", "robot"]));

    // (The advertised address is TEST-NET-1: Endpoints may not be loopback, and nothing dials it.)
    // The same account in a cluster with another key: its token means nothing here.
    let other_dir = tempfile::tempdir().unwrap();
    let other = Server::start(other_dir.path(), &signing_key(other_dir.path(), "sa.key"));
    ok(other.kubectl(&["create", "namespace", "demo"]));
    ok(other.kubectl(&["create", "serviceaccount", "robot"]));
    assert_eq!(other.get("/api/v1/namespaces/demo/pods", Some(&token)).0, 401);
    assert_eq!(server.get("/api/v1/namespaces/demo/serviceaccounts", Some(&token)).0, 403, "known here, and not allowed");

    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let service = out(&kubectl(&["get", "service", "kubernetes", "-n", "default", "-o", "jsonpath={.spec.clusterIP} {.spec.ports[0].port} {.spec.ports[0].targetPort}"]));
        let endpoints = out(&kubectl(&["get", "endpoints", "kubernetes", "-n", "default", "-o", "jsonpath={.subsets[0].addresses[0].ip}:{.subsets[0].ports[0].port}"]));
        if service == format!("10.96.0.1 443 {}", server.port()) && endpoints == format!("192.0.2.10:{}", server.port()) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "service {service:?}, endpoints {endpoints:?}");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    // Deleted, it comes back.
    ok(kubectl(&["delete", "endpoints", "kubernetes", "-n", "default"]));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !kubectl(&["get", "endpoints", "kubernetes", "-n", "default"]).status.success() {
        assert!(std::time::Instant::now() < deadline, "the kubernetes Endpoints did not come back");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

/// TokenReview with a ServiceAccount's own token, as kr8s' `whoami` sends it once the account
/// is bound to `system:auth-delegator`; SelfSubjectReview as `kubectl auth whoami` sends it;
/// both in discovery.
#[test]
fn token_reviews_and_self_subject_reviews_say_who_a_token_is() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &signing_key(dir.path(), "sa.key"));
    let kubectl = |args: &[&str]| server.kubectl(args);
    ok(kubectl(&["create", "namespace", "demo"]));
    ok(kubectl(&["create", "serviceaccount", "robot"]));
    let token = ok(kubectl(&["create", "token", "robot"]));
    let issuer = "https://kubernetes.default.svc.cluster.local";
    let review = |spec: serde_json::Value| serde_json::json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": spec});
    let reviews = "/apis/authentication.k8s.io/v1/tokenreviews";

    // Not before a binding allows it.
    let (code, body) = server.post(reviews, &token, &review(serde_json::json!({"token": token})));
    assert_eq!(code, 403, "{body}");
    assert!(body["message"].as_str().unwrap_or_default().contains("cannot create resource \"tokenreviews\" in API group \"authentication.k8s.io\""), "{body}");
    ok(kubectl(&["create", "clusterrolebinding", "robot-delegator", "--clusterrole=system:auth-delegator", "--serviceaccount=demo:robot"]));

    let (code, body) = server.post(reviews, &token, &review(serde_json::json!({"token": token})));
    assert_eq!(code, 201, "{body}");
    assert_eq!((body["kind"].as_str(), body["apiVersion"].as_str()), (Some("TokenReview"), Some("authentication.k8s.io/v1")));
    assert!(body["metadata"]["creationTimestamp"].is_null() && body["metadata"].get("creationTimestamp").is_some(), "{body}");
    let status = &body["status"];
    assert_eq!(status["authenticated"], true, "{body}");
    assert_eq!(status["user"]["username"], "system:serviceaccount:demo:robot");
    assert!(!status["user"]["uid"].as_str().unwrap_or_default().is_empty(), "{body}");
    assert_eq!(status["user"]["groups"], serde_json::json!(["system:serviceaccounts", "system:serviceaccounts:demo", "system:authenticated"]));
    assert_eq!(status["audiences"], serde_json::json!([issuer]), "the apiserver's audiences when none are asked");

    // Audiences asked: the token must be meant for one of them; the status lists those it is.
    let (code, body) = server.post(reviews, &token, &review(serde_json::json!({"token": token, "audiences": ["vault", issuer]})));
    assert_eq!((code, &body["status"]["authenticated"], &body["status"]["audiences"]), (201, &serde_json::json!(true), &serde_json::json!([issuer])), "{body}");
    let (code, body) = server.post(reviews, &token, &review(serde_json::json!({"token": token, "audiences": ["vault"]})));
    assert_eq!(code, 201, "{body}");
    assert_ne!(body["status"]["authenticated"], true, "{body}");
    assert!(body["status"]["error"].as_str().unwrap_or_default().contains("invalid bearer token"), "{body}");

    // A token that is no one's, and none at all.
    let (code, body) = server.post(reviews, &token, &review(serde_json::json!({"token": "garbage"})));
    assert_eq!(code, 201, "{body}");
    assert_ne!(body["status"]["authenticated"], true, "{body}");
    assert!(body["status"]["error"].as_str().unwrap_or_default().starts_with("[invalid bearer token, "), "{body}");
    assert_eq!(server.post(reviews, &token, &review(serde_json::json!({}))).0, 400);
    // The administrator's static token holds for the apiserver's audiences too.
    let (_, body) = server.post(reviews, &token, &review(serde_json::json!({"token": "admin-token"})));
    assert_eq!((&body["status"]["authenticated"], &body["status"]["user"]["username"]), (&serde_json::json!(true), &serde_json::json!("admin")), "{body}");

    // Who am I: the administrator through kubectl, the ServiceAccount (system:basic-user) by hand.
    let whoami: serde_json::Value = serde_json::from_str(&ok(kubectl(&["auth", "whoami", "-o", "json"]))).unwrap();
    assert_eq!((whoami["kind"].as_str(), whoami["apiVersion"].as_str()), (Some("SelfSubjectReview"), Some("authentication.k8s.io/v1")));
    assert_eq!(whoami["status"]["userInfo"], serde_json::json!({"username": "admin", "uid": "1", "groups": ["system:masters", "system:authenticated"]}));
    let (code, body) = server.post("/apis/authentication.k8s.io/v1/selfsubjectreviews", &token, &serde_json::json!({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}));
    assert_eq!((code, &body["status"]["userInfo"]["username"]), (201, &serde_json::json!("system:serviceaccount:demo:robot")), "{body}");
    assert_eq!(server.get("/apis/authentication.k8s.io/v1/tokenreviews", Some("admin-token")).0, 405);

    // Discovery.
    let resources = ok(kubectl(&["api-resources", "--api-group=authentication.k8s.io", "-o", "name"]));
    assert_eq!(resources.lines().collect::<Vec<_>>(), ["selfsubjectreviews.authentication.k8s.io", "tokenreviews.authentication.k8s.io"], "{resources}");
    let (code, groups) = server.get("/apis", Some("admin-token"));
    assert!(code == 200 && groups.contains("\"groupVersion\":\"authentication.k8s.io/v1\""), "{groups}");
}

/// Three apiservers on one etcd, as an HA control plane: the `kubernetes` Endpoints list the
/// three; one stopped leaves them at once, one killed leaves them once its lease expires, and a
/// restarted one is back.
#[test]
fn the_kubernetes_endpoints_list_the_apiservers_alive() {
    let dir = tempfile::tempdir().unwrap();
    let token_file = admin_token_file(dir.path());
    let args = |address: &str| [token_file.clone(), format!("--advertise-address={address}")];
    let start = |address: &str, beside: Option<&ApiServer>| {
        let args = args(address);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        match beside {
            Some(first) => first.start_https_beside(&args).unwrap(),
            None => ApiServer::start_https(Storage::Etcd, &args).unwrap(),
        }
    };
    let first = start("192.0.2.10", None);
    let mut second = start("192.0.2.11", Some(&first));
    let mut third = start("192.0.2.12", Some(&first));
    let admin = first.kubeconfig_as("admin", "default", Credentials::Token("admin-token")).unwrap();
    let listed = || {
        let output = Command::new("kubectl")
            .arg(format!("--kubeconfig={}", admin.display()))
            .args(["get", "endpoints", "kubernetes", "-n", "default", "-o", "jsonpath={.subsets[*].addresses[*].ip}"])
            .output()
            .unwrap();
        out(&output)
    };
    let await_listed = |expected: &str, within: u64| {
        let asked = std::time::Instant::now();
        loop {
            let now = listed();
            if now == expected {
                return asked.elapsed();
            }
            assert!(asked.elapsed() < std::time::Duration::from_secs(within), "the Endpoints list {now:?}, not {expected:?}");
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
    };
    await_listed("192.0.2.10 192.0.2.11 192.0.2.12", 20);

    // Stopped: it takes itself out as it goes.
    second.stop();
    let took = await_listed("192.0.2.10 192.0.2.12", 3);
    eprintln!("a stopped apiserver left the Endpoints after {took:?}");

    // Killed: the others notice its lease is no longer renewed (15 s, checked every 5 s).
    third.kill();
    let took = await_listed("192.0.2.10", 40);
    eprintln!("a killed apiserver left the Endpoints after {took:?}");
    assert!(took >= std::time::Duration::from_secs(10), "not before its lease could expire ({took:?})");

    second.start_again().unwrap();
    await_listed("192.0.2.10 192.0.2.11", 20);
}
