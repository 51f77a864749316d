//! Authentication by bearer token and authorisation by RBAC in the real apiserver, driven by
//! kubectl as two users: an administrator (`system:masters`) and a user bound to `view` in one
//! namespace.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::testing::pki::{Authority, PemFiles};
use common::testing::{ApiServer, Credentials, Storage};

/// The apiserver binary on HTTPS with `args`.
fn start(args: &[&str]) -> ApiServer {
    ApiServer::start_https(Storage::Embedded, args).expect("apiserver")
}

/// The status code of a GET with `token`.
fn status(server: &ApiServer, path: &str, token: Option<&str>) -> u16 {
    let mut command = Command::new("curl");
    command.arg("-s").arg("--cacert").arg(server.certificate_authority().expect("HTTPS"));
    command.args(["-o", "/dev/null", "-w", "%{http_code}", &format!("{}{path}", server.url())]);
    if let Some(token) = token {
        command.args(["-H", &format!("Authorization: Bearer {token}")]);
    }
    String::from_utf8_lossy(&command.output().expect("curl").stdout).parse().unwrap_or(0)
}

fn kubeconfig(name: &str, server: &ApiServer, token: &str) -> PathBuf {
    server.kubeconfig_as(name, "demo", Credentials::Token(token)).unwrap()
}

fn kubectl(config: &Path, args: &[&str], input: Option<&str>) -> Output {
    let mut command = Command::new("kubectl");
    command.arg(format!("--kubeconfig={}", config.display())).args(args);
    common::testing::output_with_input(&mut command, input.unwrap_or_default().as_bytes()).expect("kubectl")
}

fn out(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

#[test]
fn tokens_authenticate_and_rbac_authorises_as_kubernetes_does() {
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("tokens.csv");
    std::fs::write(&tokens, "admin-token,admin,1,\"system:masters\"\njane-token,jane,2\n").unwrap();
    let server = start(&[&format!("--token-auth-file={}", tokens.display()), "--authorization-mode=RBAC"]);

    // Anonymous: only health and version.
    assert_eq!(status(&server, "/api/v1/namespaces", None), 401);
    assert_eq!(status(&server, "/api/v1/namespaces", Some("forged")), 401);
    assert_eq!(status(&server, "/version", None), 200);
    assert_eq!(status(&server, "/healthz", None), 200);

    let admin = kubeconfig("admin", &server, "admin-token");
    let jane = kubeconfig("jane", &server, "jane-token");
    // The default roles are there, and the administrator may do anything.
    let roles = out(&kubectl(&admin, &["get", "clusterroles", "-o", "name"], None));
    for role in ["cluster-admin", "admin", "edit", "view"] {
        assert!(roles.contains(&format!("clusterrole.rbac.authorization.k8s.io/{role}\n")), "{roles}");
    }
    assert!(kubectl(&admin, &["create", "namespace", "demo"], None).status.success());
    assert!(kubectl(&admin, &["create", "namespace", "other"], None).status.success());
    assert!(kubectl(&admin, &["create", "configmap", "settings", "--from-literal=a=b"], None).status.success());
    assert!(kubectl(&admin, &["create", "secret", "generic", "s1", "--from-literal=p=q"], None).status.success());
    let binding = r#"{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"RoleBinding","metadata":{"name":"jane-view","namespace":"demo"},
        "roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"view"},"subjects":[{"apiGroup":"rbac.authorization.k8s.io","kind":"User","name":"jane"}]}"#;
    let applied = kubectl(&admin, &["apply", "-f", "-"], Some(binding));
    assert!(applied.status.success(), "{}", out(&applied));

    // jane reads in demo, and nothing more.
    let listed = kubectl(&jane, &["get", "configmaps"], None);
    assert!(listed.status.success() && out(&listed).contains("settings"), "{}", out(&listed));
    let created = kubectl(&jane, &["create", "configmap", "mine", "--from-literal=x=y"], None);
    assert!(!created.status.success());
    assert!(
        out(&created).contains("configmaps is forbidden: User \"jane\" cannot create resource \"configmaps\" in API group \"\" in the namespace \"demo\""),
        "{}",
        out(&created)
    );
    let secret = kubectl(&jane, &["get", "secret", "s1"], None);
    assert!(out(&secret).contains("secrets \"s1\" is forbidden: User \"jane\" cannot get resource \"secrets\" in API group \"\" in the namespace \"demo\""), "{}", out(&secret));
    let elsewhere = kubectl(&jane, &["get", "pods", "-n", "other"], None);
    assert!(out(&elsewhere).contains("in the namespace \"other\""), "{}", out(&elsewhere));

    // kubectl auth can-i, for one question and for the list of rules.
    assert_eq!(out(&kubectl(&jane, &["auth", "can-i", "list", "pods"], None)).trim(), "yes");
    let cannot = kubectl(&jane, &["auth", "can-i", "create", "configmaps"], None);
    assert_eq!((out(&cannot).trim(), cannot.status.code()), ("no", Some(1)));
    let rules = out(&kubectl(&jane, &["auth", "can-i", "--list"], None));
    assert!(rules.lines().any(|line| line.starts_with("pods ") && line.contains("[get list watch]")), "{rules}");
    assert!(!rules.lines().any(|line| line.starts_with("secrets ")), "{rules}");
    assert_eq!(String::from_utf8_lossy(&kubectl(&admin, &["auth", "can-i", "delete", "nodes"], None).stdout).trim(), "yes");
}

/// A client certificate `ca` signs for `name` in `groups` (expired if asked), written as
/// `<file>.crt` and `<file>.key`.
fn client_certificate(dir: &Path, file: &str, ca: &Authority, name: &str, groups: &[&str], expired: bool) -> PemFiles {
    let certificate = if expired { ca.expired_client_certificate(name, groups) } else { ca.client_certificate(name, groups) };
    certificate.unwrap().write(dir, file).unwrap()
}

fn certificate_kubeconfig(name: &str, server: &ApiServer, files: &PemFiles) -> PathBuf {
    server.kubeconfig_as(name, "default", Credentials::Certificate(files)).unwrap()
}

#[test]
fn client_certificates_authenticate_and_untrusted_ones_get_401() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Authority::new("cluster-ca").unwrap();
    let ca_path = dir.path().join("client-ca.crt");
    ca.write(&ca_path).unwrap();
    let server = start(&[&format!("--client-ca-file={}", ca_path.display()), "--authorization-mode=RBAC"]);

    let admin = certificate_kubeconfig("admin", &server, &client_certificate(dir.path(), "admin", &ca, "kubernetes-admin", &["system:masters"], false));
    let created = kubectl(&admin, &["create", "namespace", "demo"], None);
    assert!(created.status.success(), "{}", out(&created));
    // CN is the user: jane is known by name, and may do nothing yet.
    let jane = certificate_kubeconfig("jane", &server, &client_certificate(dir.path(), "jane", &ca, "jane", &["devs"], false));
    let denied = kubectl(&jane, &["get", "pods"], None);
    assert!(out(&denied).contains("pods is forbidden: User \"jane\" cannot list resource \"pods\" in API group \"\" in the namespace \"default\""), "{}", out(&denied));
    // O is a group: bound to the group, jane may list.
    let binding = r#"{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"RoleBinding","metadata":{"name":"devs-view","namespace":"default"},
        "roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"view"},"subjects":[{"apiGroup":"rbac.authorization.k8s.io","kind":"Group","name":"devs"}]}"#;
    assert!(kubectl(&admin, &["apply", "-f", "-"], Some(binding)).status.success());
    let listed = kubectl(&jane, &["get", "pods"], None);
    assert!(listed.status.success(), "{}", out(&listed));

    // No certificate, another CA's, an expired one: 401.
    let unauthorized = "You must be logged in to the server";
    let none = kubeconfig("none", &server, "no-such-token");
    assert!(out(&kubectl(&none, &["get", "pods"], None)).contains(unauthorized));
    let stranger = Authority::new("another-ca").unwrap();
    let foreign = certificate_kubeconfig("foreign", &server, &client_certificate(dir.path(), "foreign", &stranger, "kubernetes-admin", &["system:masters"], false));
    assert!(out(&kubectl(&foreign, &["get", "pods"], None)).contains(unauthorized));
    let old = certificate_kubeconfig("old", &server, &client_certificate(dir.path(), "old", &ca, "kubernetes-admin", &["system:masters"], true));
    assert!(out(&kubectl(&old, &["get", "pods"], None)).contains(unauthorized));
}

/// Runs kubectl until it succeeds (a grant takes a moment to reach the authorizer's caches).
fn eventually(config: &Path, args: &[&str], input: Option<&str>) -> Output {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let output = kubectl(config, args, input);
        if output.status.success() || std::time::Instant::now() > deadline {
            return output;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

fn admin_applies(admin: &Path, objects: &[&str]) {
    for object in objects {
        let applied = kubectl(admin, &["apply", "-f", "-"], Some(object));
        assert!(applied.status.success(), "{}", out(&applied));
    }
}

#[test]
fn roles_and_bindings_grant_only_what_their_writer_holds() {
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("tokens.csv");
    std::fs::write(&tokens, "admin-token,admin,1,\"system:masters\"\njane-token,jane,2,\"devs\"\n").unwrap();
    let server = start(&[&format!("--token-auth-file={}", tokens.display()), "--authorization-mode=RBAC"]);
    let admin = kubeconfig("admin", &server, "admin-token");
    let jane = kubeconfig("jane", &server, "jane-token");
    assert!(kubectl(&admin, &["create", "namespace", "demo"], None).status.success());
    // jane views demo, may write roles and bindings there, and ClusterRoles anywhere.
    admin_applies(&admin, &[
        r#"{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"RoleBinding","metadata":{"name":"jane-view","namespace":"demo"},
            "roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"view"},"subjects":[{"apiGroup":"rbac.authorization.k8s.io","kind":"User","name":"jane"}]}"#,
        r#"{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"Role","metadata":{"name":"rbac-writer","namespace":"demo"},
            "rules":[{"apiGroups":["rbac.authorization.k8s.io"],"resources":["roles","rolebindings"],"verbs":["get","list","create","update","patch"]}]}"#,
        r#"{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"RoleBinding","metadata":{"name":"jane-rbac-writer","namespace":"demo"},
            "roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"Role","name":"rbac-writer"},"subjects":[{"apiGroup":"rbac.authorization.k8s.io","kind":"User","name":"jane"}]}"#,
        r#"{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRole","metadata":{"name":"cluster-rbac-writer"},
            "rules":[{"apiGroups":["rbac.authorization.k8s.io"],"resources":["clusterroles","clusterrolebindings"],"verbs":["get","create"]}]}"#,
        r#"{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRoleBinding","metadata":{"name":"jane-cluster-rbac-writer"},
            "roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"cluster-rbac-writer"},"subjects":[{"apiGroup":"rbac.authorization.k8s.io","kind":"User","name":"jane"}]}"#,
    ]);
    let held = "user \"jane\" (groups=[\"devs\" \"system:authenticated\"]) is attempting to grant RBAC permissions not currently held:\n";

    // What jane holds in demo she may hand on there.
    let viewers = eventually(&jane, &["create", "rolebinding", "viewers", "--clusterrole=view", "--user=bob", "-n", "demo"], None);
    assert!(viewers.status.success(), "{}", out(&viewers));
    let pod_reader = kubectl(&jane, &["create", "role", "pod-reader", "--verb=get", "--resource=pods", "-n", "demo"], None);
    assert!(pod_reader.status.success(), "{}", out(&pod_reader));
    // What she does not hold, she may not.
    let admins = kubectl(&jane, &["create", "rolebinding", "admins", "--clusterrole=admin", "--user=bob", "-n", "demo"], None);
    assert!(!admins.status.success());
    assert!(out(&admins).contains(&format!("rolebindings.rbac.authorization.k8s.io \"admins\" is forbidden: {held}")), "{}", out(&admins));
    assert!(out(&admins).contains("\n{APIGroups:[\"\"], Resources:[\"secrets\"], Verbs:[\"create\" \"delete\" \"deletecollection\" \"patch\" \"update\" \"get\" \"list\" \"watch\"]}"), "{}", out(&admins));
    let root = kubectl(&jane, &["create", "rolebinding", "root", "--clusterrole=cluster-admin", "--user=jane", "-n", "demo"], None);
    assert!(out(&root).contains("{APIGroups:[\"*\"], Resources:[\"*\"], Verbs:[\"*\"]}\n{NonResourceURLs:[\"*\"], Verbs:[\"*\"]}"), "{}", out(&root));
    let secrets = kubectl(&jane, &["create", "role", "secret-reader", "--verb=get", "--resource=secrets", "-n", "demo"], None);
    assert!(
        out(&secrets).contains(&format!("roles.rbac.authorization.k8s.io \"secret-reader\" is forbidden: {held}{{APIGroups:[\"\"], Resources:[\"secrets\"], Verbs:[\"get\"]}}")),
        "{}",
        out(&secrets)
    );
    // An update is judged on the object it makes.
    let widened = kubectl(&jane, &["patch", "role", "pod-reader", "-n", "demo", "--type=json", "-p", r#"[{"op":"add","path":"/rules/-","value":{"apiGroups":[""],"resources":["secrets"],"verbs":["list"]}}]"#], None);
    assert!(out(&widened).contains(&format!("roles.rbac.authorization.k8s.io \"pod-reader\" is forbidden: {held}{{APIGroups:[\"\"], Resources:[\"secrets\"], Verbs:[\"list\"]}}")), "{}", out(&widened));
    // Held in one namespace is not held cluster-wide.
    let cluster_role = kubectl(&jane, &["create", "clusterrole", "pods-everywhere", "--verb=get", "--resource=pods"], None);
    assert!(out(&cluster_role).contains(&format!("clusterroles.rbac.authorization.k8s.io \"pods-everywhere\" is forbidden: {held}{{APIGroups:[\"\"], Resources:[\"pods\"], Verbs:[\"get\"]}}")), "{}", out(&cluster_role));
    let cluster_binding = kubectl(&jane, &["create", "clusterrolebinding", "view-all", "--clusterrole=view", "--user=jane"], None);
    assert!(out(&cluster_binding).contains(&format!("clusterrolebindings.rbac.authorization.k8s.io \"view-all\" is forbidden: {held}")), "{}", out(&cluster_binding));

    // `bind` on the admin ClusterRole in demo, and `escalate` on Roles there.
    admin_applies(&admin, &[
        r#"{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"Role","metadata":{"name":"delegate","namespace":"demo"},
            "rules":[{"apiGroups":["rbac.authorization.k8s.io"],"resources":["clusterroles"],"resourceNames":["admin"],"verbs":["bind"]},
                     {"apiGroups":["rbac.authorization.k8s.io"],"resources":["roles"],"verbs":["escalate"]}]}"#,
        r#"{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"RoleBinding","metadata":{"name":"jane-delegate","namespace":"demo"},
            "roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"Role","name":"delegate"},"subjects":[{"apiGroup":"rbac.authorization.k8s.io","kind":"User","name":"jane"}]}"#,
    ]);
    let admins = eventually(&jane, &["create", "rolebinding", "admins", "--clusterrole=admin", "--user=bob", "-n", "demo"], None);
    assert!(admins.status.success(), "{}", out(&admins));
    let root = kubectl(&jane, &["create", "rolebinding", "root", "--clusterrole=cluster-admin", "--user=jane", "-n", "demo"], None);
    assert!(out(&root).contains("is attempting to grant RBAC permissions not currently held"), "bind names admin only: {}", out(&root));
    let secrets = kubectl(&jane, &["create", "role", "secret-reader", "--verb=get", "--resource=secrets", "-n", "demo"], None);
    assert!(secrets.status.success(), "{}", out(&secrets));
    // The administrator (system:masters) grants anything.
    let granted = kubectl(&admin, &["create", "clusterrolebinding", "bob-root", "--clusterrole=cluster-admin", "--user=bob"], None);
    assert!(granted.status.success(), "{}", out(&granted));
}

/// A merge patch as a kubelet sends it, straight to the path (kubectl's `patch --subresource`
/// reads the subresource first, which a node may not, on Kubernetes either): the HTTP status and
/// the message of the Status that came back, if one did.
fn patch_as(server: &ApiServer, client: &PemFiles, path: &str, patch: &str) -> (u16, String) {
    request_as(server, client, "PATCH", "application/merge-patch+json", path, patch)
}

/// A request with a body as `client` sends it: the HTTP status and the Status's message, if any.
fn request_as(server: &ApiServer, client: &PemFiles, method: &str, content_type: &str, path: &str, body: &str) -> (u16, String) {
    let output = Command::new("curl")
        .arg("-s")
        .arg("--cacert")
        .arg(server.certificate_authority().expect("HTTPS"))
        .arg("--cert")
        .arg(&client.certificate)
        .arg("--key")
        .arg(&client.key)
        .args(["-X", method, "-H", &format!("Content-Type: {content_type}"), "-d", body, "-w", "\n%{http_code}", &format!("{}{path}", server.url())])
        .output()
        .expect("curl");
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or_default();
    let message = serde_json::from_str::<serde_json::Value>(body).ok().and_then(|status| Some(status["message"].as_str()?.to_string()));
    (code.parse().unwrap_or(0), message.unwrap_or_default())
}

fn assert_ok(output: &Output) {
    assert!(output.status.success(), "{}", out(output));
}

fn assert_forbidden(output: &Output, message: &str) {
    assert!(!output.status.success() && out(output).contains(message), "expected {message:?}, got: {}", out(output));
}

#[test]
fn nodes_reach_what_their_pods_use_and_write_only_their_own() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Authority::new("cluster-ca").unwrap();
    let ca_path = dir.path().join("client-ca.crt");
    ca.write(&ca_path).unwrap();
    let tokens = dir.path().join("tokens.csv");
    std::fs::write(&tokens, "admin-token,admin,1,\"system:masters\"\nscheduler-token,system:kube-scheduler,2\n").unwrap();
    let signing_key = dir.path().join("sa.key");
    std::fs::write(&signing_key, rcgen::KeyPair::generate().unwrap().serialize_pem()).unwrap();
    let server = start(
        &[&format!("--client-ca-file={}", ca_path.display()), &format!("--token-auth-file={}", tokens.display()), "--authorization-mode=Node,RBAC", &format!("--service-account-signing-key-file={}", signing_key.display())],
    );
    let admin = kubeconfig("admin", &server, "admin-token");
    let scheduler = kubeconfig("scheduler", &server, "scheduler-token");
    let n1_credentials = client_certificate(dir.path(), "n1", &ca, "system:node:n1", &["system:nodes"], false);
    let n1 = certificate_kubeconfig("n1", &server, &n1_credentials);

    assert_ok(&kubectl(&admin, &["create", "namespace", "demo"], None));
    // What the controller-manager would make: pods run as a ServiceAccount that exists.
    assert_ok(&kubectl(&admin, &["create", "serviceaccount", "default", "-n", "demo"], None));
    for secret in ["mounted", "unused", "later"] {
        assert_ok(&kubectl(&admin, &["create", "secret", "generic", secret, "--from-literal=k=v", "-n", "demo"], None));
    }
    assert_ok(&kubectl(&admin, &["create", "configmap", "settings", "--from-literal=k=v", "-n", "demo"], None));
    let pod = |name: &str, node: &str, secret: &str| {
        let node = if node.is_empty() { String::new() } else { format!(r#""nodeName":"{node}","#) };
        format!(
            r#"{{"apiVersion":"v1","kind":"Pod","metadata":{{"name":"{name}","namespace":"demo"}},"spec":{{{node}"containers":[{{"name":"c","image":"busybox",
                "envFrom":[{{"configMapRef":{{"name":"settings"}}}}]}}],"volumes":[{{"name":"s","secret":{{"secretName":"{secret}"}}}}]}}}}"#
        )
    };
    admin_applies(&admin, &[&pod("mine", "n1", "mounted"), &pod("theirs", "n2", "unused"), &pod("pending", "", "later")]);

    // The kubelet registers its Node, reads it and every other, and reports its status.
    let node = |name: &str| format!(r#"{{"apiVersion":"v1","kind":"Node","metadata":{{"name":"{name}","labels":{{"kubernetes.io/hostname":"{name}"}}}}}}"#);
    assert_ok(&kubectl(&n1, &["create", "-f", "-"], Some(&node("n1"))));
    assert_forbidden(&kubectl(&n1, &["create", "-f", "-"], Some(&node("n3"))), "nodes \"n3\" is forbidden: node \"n1\" is not allowed to modify node \"n3\"");
    assert_ok(&kubectl(&admin, &["create", "-f", "-"], Some(&node("n2"))));
    let own = kubectl(&n1, &["get", "node", "n1", "-o", "name"], None);
    assert!(own.status.success() && out(&own).contains("node/n1"), "{}", out(&own));
    assert_ok(&kubectl(&n1, &["get", "nodes"], None));
    assert_eq!(patch_as(&server, &n1_credentials, "/api/v1/nodes/n1/status", r#"{"status":{"capacity":{"pods":"110"}}}"#).0, 200);
    assert_ok(&kubectl(&n1, &["label", "node", "n1", "team=blue"], None));
    // Not another node's, and not the labels administrators steer workloads with.
    assert_forbidden(&kubectl(&n1, &["patch", "node", "n2", "--type=merge", "-p", r#"{"metadata":{"labels":{"team":"blue"}}}"#], None), "nodes \"n2\" is forbidden: node \"n1\" is not allowed to modify node \"n2\"");
    let (code, message) = patch_as(&server, &n1_credentials, "/api/v1/nodes/n2/status", r#"{"status":{"capacity":{"pods":"1"}}}"#);
    assert!(code == 403 && message == "nodes \"n2\" is forbidden: node \"n1\" is not allowed to modify node \"n2\"", "{code} {message}");
    assert_forbidden(&kubectl(&n1, &["label", "node", "n1", "node-restriction.kubernetes.io/dedicated=gpu"], None), "nodes \"n1\" is forbidden: is not allowed to modify labels: node-restriction.kubernetes.io/dedicated");
    assert_forbidden(&kubectl(&n1, &["delete", "node", "n2"], None), "nodes \"n2\" is forbidden: User \"system:node:n1\" cannot delete resource \"nodes\" in API group \"\" at the cluster scope");

    // What its pods use, and nothing else.
    assert_ok(&kubectl(&n1, &["get", "secret", "mounted", "-n", "demo"], None));
    assert_ok(&kubectl(&n1, &["get", "configmap", "settings", "-n", "demo"], None));
    assert_ok(&kubectl(&n1, &["get", "pod", "mine", "-n", "demo"], None));
    let unrelated = "no relationship found between node 'n1' and this object";
    assert_forbidden(
        &kubectl(&n1, &["get", "secret", "unused", "-n", "demo"], None),
        &format!("secrets \"unused\" is forbidden: User \"system:node:n1\" cannot get resource \"secrets\" in API group \"\" in the namespace \"demo\": {unrelated}"),
    );
    assert_forbidden(&kubectl(&n1, &["get", "pod", "theirs", "-n", "demo"], None), unrelated);
    assert_forbidden(&kubectl(&n1, &["get", "secrets", "-n", "demo"], None), "secrets is forbidden: User \"system:node:n1\" cannot list resource \"secrets\"");
    // The status of its own pods only, and its own pods to delete.
    let running = r#"{"status":{"phase":"Running"}}"#;
    assert_eq!(patch_as(&server, &n1_credentials, "/api/v1/namespaces/demo/pods/mine/status", running).0, 200);
    let (code, message) = patch_as(&server, &n1_credentials, "/api/v1/namespaces/demo/pods/theirs/status", running);
    assert!(code == 403 && message == "pods \"theirs\" is forbidden: node \"n1\" can only update pod status for pods with spec.nodeName set to itself", "{code} {message}");
    assert_forbidden(&kubectl(&n1, &["delete", "pod", "theirs", "-n", "demo", "--wait=false"], None), "pods \"theirs\" is forbidden: node \"n1\" can only delete pods with spec.nodeName set to itself");
    assert_forbidden(&kubectl(&n1, &["run", "extra", "--image=busybox", "-n", "demo"], None), "pods is forbidden: User \"system:node:n1\" cannot create resource \"pods\"");
    // Its own Lease.
    let lease = |name: &str| format!(r#"{{"apiVersion":"coordination.k8s.io/v1","kind":"Lease","metadata":{{"name":"{name}","namespace":"kube-node-lease"}},"spec":{{"holderIdentity":"{name}"}}}}"#);
    assert_ok(&kubectl(&n1, &["create", "-f", "-"], Some(&lease("n1"))));
    assert_forbidden(&kubectl(&n1, &["create", "-f", "-"], Some(&lease("n2"))), "leases.coordination.k8s.io \"n2\" is forbidden: can only access node lease with the same name as the requesting node");

    // The scheduler binds the pending pod to n1, which may then read its Secret.
    assert_forbidden(&kubectl(&n1, &["get", "secret", "later", "-n", "demo"], None), unrelated);
    let binding = dir.path().join("binding.json");
    std::fs::write(&binding, r#"{"apiVersion":"v1","kind":"Binding","metadata":{"name":"pending","namespace":"demo"},"target":{"apiVersion":"v1","kind":"Node","name":"n1"}}"#).unwrap();
    assert_ok(&kubectl(&scheduler, &["create", "--raw", "/api/v1/namespaces/demo/pods/pending/binding", "-f", &binding.display().to_string()], None));
    let bound = kubectl(&admin, &["get", "pod", "pending", "-n", "demo", "-o", "jsonpath={.spec.nodeName}"], None);
    assert_eq!(out(&bound), "n1");
    assert_ok(&eventually(&n1, &["get", "secret", "later", "-n", "demo"], None));
    assert_forbidden(&kubectl(&scheduler, &["get", "secret", "later", "-n", "demo"], None), "secrets \"later\" is forbidden: User \"system:kube-scheduler\" cannot get resource \"secrets\"");
    // Tokens of its pods' ServiceAccount, bound to a pod on it and nothing else (NodeRestriction).
    assert_ok(&kubectl(&n1, &["create", "token", "default", "-n", "demo", "--bound-object-kind=Pod", "--bound-object-name=mine"], None));
    assert_forbidden(&kubectl(&n1, &["create", "token", "default", "-n", "demo"], None), "serviceaccounts \"default\" is forbidden: node requested token not bound to a pod");
    assert_forbidden(
        &kubectl(&n1, &["create", "token", "default", "-n", "demo", "--bound-object-kind=Pod", "--bound-object-name=theirs"], None),
        "serviceaccounts \"default\" is forbidden: node requested token bound to a pod scheduled on a different node",
    );
    // And the pod deleted, its Secret is the node's no more.
    assert_ok(&kubectl(&admin, &["delete", "pod", "mine", "-n", "demo", "--grace-period=0", "--force"], None));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while kubectl(&n1, &["get", "secret", "mounted", "-n", "demo"], None).status.success() {
        assert!(std::time::Instant::now() < deadline, "the deleted pod's Secret stayed readable");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

#[test]
fn kubelets_reach_their_pods_claims_and_finalize_only_their_volumes() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Authority::new("cluster-ca").unwrap();
    let ca_path = dir.path().join("client-ca.crt");
    ca.write(&ca_path).unwrap();
    let tokens = dir.path().join("tokens.csv");
    std::fs::write(&tokens, "admin-token,admin,1,\"system:masters\"\nscheduler-token,system:kube-scheduler,2\n").unwrap();
    let server = start(&[&format!("--client-ca-file={}", ca_path.display()), &format!("--token-auth-file={}", tokens.display()), "--authorization-mode=Node,RBAC"]);
    let admin = kubeconfig("admin", &server, "admin-token");
    let scheduler = kubeconfig("scheduler", &server, "scheduler-token");
    let n1_credentials = client_certificate(dir.path(), "n1", &ca, "system:node:n1", &["system:nodes"], false);
    let n1 = certificate_kubeconfig("n1", &server, &n1_credentials);
    assert_ok(&kubectl(&admin, &["create", "namespace", "demo"], None));
    let claim = |name: &str| format!(r#"{{"apiVersion":"v1","kind":"PersistentVolumeClaim","metadata":{{"name":"{name}","namespace":"demo"}},"spec":{{"accessModes":["ReadWriteOnce"],"resources":{{"requests":{{"storage":"1Gi"}}}}}}}}"#);
    let volume = |name: &str, node: &str| format!(
        r#"{{"apiVersion":"v1","kind":"PersistentVolume","metadata":{{"name":"{name}","finalizers":["external-provisioner.volume.kubernetes.io/finalizer"],"annotations":{{"pv.kubernetes.io/provisioned-by":"cluster.local/local-path"}}}},"spec":{{"capacity":{{"storage":"1Gi"}},"accessModes":["ReadWriteOnce"],
            "hostPath":{{"path":"/var/local-path-provisioner/{name}"}},"nodeAffinity":{{"required":{{"nodeSelectorTerms":[{{"matchExpressions":[{{"key":"kubernetes.io/hostname","operator":"In","values":["{node}"]}}]}}]}}}}}}}}"#);
    let pod = r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web","namespace":"demo"},"spec":{"nodeName":"n1","serviceAccountName":"default","containers":[{"name":"c","image":"busybox"}],
        "volumes":[{"name":"data","persistentVolumeClaim":{"claimName":"data"}},{"name":"scratch","ephemeral":{"volumeClaimTemplate":{"spec":{"accessModes":["ReadWriteOnce"],"resources":{"requests":{"storage":"1Gi"}}}}}}]}}"#;
    assert_ok(&kubectl(&admin, &["create", "serviceaccount", "default", "-n", "demo"], None));
    admin_applies(&admin, &[&claim("data"), &claim("web-scratch"), &claim("other"), &volume("pv-mine", "n1"), &volume("pv-theirs", "n2"), &volume("pv-put", "n1"), pod]);

    // The claims its pods name (and their ephemeral volumes' claims), no other.
    assert_ok(&eventually(&n1, &["get", "pvc", "data", "-n", "demo"], None));
    assert_ok(&kubectl(&n1, &["get", "pvc", "web-scratch", "-n", "demo"], None));
    assert_forbidden(&kubectl(&n1, &["get", "pvc", "other", "-n", "demo"], None), "no relationship found between node 'n1' and this object");
    assert_forbidden(&kubectl(&n1, &["get", "pvc", "-n", "demo"], None), "can only get individual resources of this type");
    // Every volume, to watch; of those pinned to it, being deleted, only the removal of the
    // provisioner's finalizer (as its local-path cleanup sends it), to write.
    assert_ok(&kubectl(&n1, &["get", "pv"], None));
    let (code, message) = patch_as(&server, &n1_credentials, "/api/v1/persistentvolumes/pv-mine", r#"{"metadata":{"finalizers":null}}"#);
    assert!(code == 403 && message.ends_with("node \"n1\" is not allowed to modify persistentvolume \"pv-mine\": it is not being deleted"), "{code} {message}");
    assert_ok(&kubectl(&admin, &["delete", "pv", "pv-mine", "pv-theirs", "pv-put", "--wait=false"], None));
    let finalizers = |name: &str| out(&kubectl(&admin, &["get", "pv", name, "-o", "jsonpath={.metadata.finalizers}"], None));
    assert_eq!(finalizers("pv-mine"), r#"["external-provisioner.volume.kubernetes.io/finalizer","kubernetes.io/pv-protection"]"#);
    let json_patch = |name: &str, extra: &str| {
        let patch = format!(
            r#"[{{"op":"test","path":"/metadata/finalizers","value":["external-provisioner.volume.kubernetes.io/finalizer","kubernetes.io/pv-protection"]}},
                {{"op":"replace","path":"/metadata/finalizers","value":["kubernetes.io/pv-protection"]}}{extra}]"#
        );
        request_as(&server, &n1_credentials, "PATCH", "application/json-patch+json", &format!("/api/v1/persistentvolumes/{name}"), &patch)
    };
    let (code, message) = patch_as(&server, &n1_credentials, "/api/v1/persistentvolumes/pv-mine", r#"{"metadata":{"finalizers":null}}"#);
    assert!(code == 403 && message.ends_with("node \"n1\" is only allowed to remove the \"external-provisioner.volume.kubernetes.io/finalizer\" finalizer of persistentvolumes"), "{code} {message}");
    let (code, message) = json_patch("pv-theirs", "");
    assert!(code == 403 && message.contains("node \"n1\" is not allowed to modify persistentvolume \"pv-theirs\""), "{code} {message}");
    let (code, message) = json_patch("pv-mine", r#",{"op":"replace","path":"/spec/persistentVolumeReclaimPolicy","value":"Delete"}"#);
    assert!(code == 403 && message.contains("other than metadata.finalizers"), "{code} {message}");
    assert_eq!(json_patch("pv-mine", ""), (200, String::new()));
    assert_eq!(finalizers("pv-mine"), r#"["kubernetes.io/pv-protection"]"#);
    // The same removal as an update of the volume as read.
    let mut read: serde_json::Value = serde_json::from_slice(&kubectl(&n1, &["get", "pv", "pv-put", "-o", "json"], None).stdout).unwrap();
    read["metadata"]["finalizers"] = serde_json::json!(["kubernetes.io/pv-protection"]);
    let (code, message) = request_as(&server, &n1_credentials, "PUT", "application/json", "/api/v1/persistentvolumes/pv-put", &read.to_string());
    assert_eq!((code, message), (200, String::new()));
    assert_eq!(finalizers("pv-put"), r#"["kubernetes.io/pv-protection"]"#);
    assert_forbidden(&kubectl(&n1, &["delete", "pv", "pv-mine", "--wait=false"], None), "cannot delete resource \"persistentvolumes\"");

    // The scheduler reads and binds claims and volumes, and reads classes.
    assert_ok(&kubectl(&scheduler, &["get", "pvc", "-A"], None));
    assert_ok(&kubectl(&scheduler, &["get", "pv,sc,csinodes,csidrivers"], None));
    assert_ok(&kubectl(&scheduler, &["annotate", "pvc", "data", "-n", "demo", "volume.kubernetes.io/selected-node=n1"], None));
    assert_forbidden(&kubectl(&scheduler, &["delete", "pvc", "data", "-n", "demo", "--wait=false"], None), "cannot delete resource \"persistentvolumeclaims\"");
}
