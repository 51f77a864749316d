//! Security on the kind-style cluster: Secrets are ciphertext in etcd (read with etcdctl on the
//! control plane), `cluster rotate-encryption-key` moves every Secret to a new key with their
//! data unchanged, and a wrong key fails clearly without changing anything; every client is
//! authenticated (certificates, service account tokens) and authorised (RBAC, the Node
//! authoriser), from the host, from pods and from nodes.

#![allow(clippy::unwrap_used)]

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

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
    let script = format!("cat > /etc/cluster/encryption.yaml <<'END'\n{config}END\nkillall apiserver; sleep 1; until wget -q -O /dev/null http://127.0.0.1:6080/readyz; do sleep 0.2; done");
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

fn out(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

/// The cluster's CA, rebuilt around its key on the control plane (its subject is the tool's
/// `<cluster>-ca`), so that the test can sign certificates the cluster trusts.
fn cluster_ca(cluster: &Cluster) -> (rcgen::Certificate, rcgen::KeyPair) {
    let key = ok(cluster.docker(&["exec", &cluster.node("control-plane"), "cat", "/etc/cluster/pki/ca.key"]));
    let key = rcgen::KeyPair::from_pem(&key).unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params.distinguished_name.push(rcgen::DnType::CommonName, format!("{}-ca", cluster.name));
    (params.self_signed(&key).unwrap(), key)
}

/// A kubeconfig for the cluster's server and CA with `user` (YAML under `user:`).
fn kubeconfig_with(cluster: &Cluster, name: &str, user: &str) -> PathBuf {
    let server = ok(cluster.kubectl(&["config", "view", "-o", "jsonpath={.clusters[0].cluster.server}"]));
    let ca = ok(cluster.kubectl(&["config", "view", "--raw", "-o", "jsonpath={.clusters[0].cluster.certificate-authority-data}"]));
    let path = cluster.kubeconfig().with_file_name(format!("{name}.kubeconfig"));
    let text = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: {}\n    certificate-authority-data: {}\ncontexts:\n- name: c\n  context:\n    cluster: c\n    user: u\n    namespace: demo\ncurrent-context: c\nusers:\n- name: u\n  user:\n{user}\n",
        server.trim(),
        ca.trim()
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// A kubeconfig presenting a certificate for `name` in `groups`, signed by `ca`.
fn certificate_user(cluster: &Cluster, ca: &(rcgen::Certificate, rcgen::KeyPair), name: &str, groups: &[&str], expired: bool) -> PathBuf {
    use base64::Engine;
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name.push(rcgen::DnType::CommonName, name);
    for group in groups {
        params.distinguished_name.push(rcgen::DnType::OrganizationName, *group);
    }
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    if expired {
        params.not_before = rcgen::date_time_ymd(2000, 1, 1);
        params.not_after = rcgen::date_time_ymd(2001, 1, 1);
    }
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &ca.0, &ca.1).unwrap();
    let data = |pem: String| base64::engine::general_purpose::STANDARD.encode(pem);
    let user = format!("    client-certificate-data: {}\n    client-key-data: {}", data(cert.pem()), data(key.serialize_pem()));
    kubeconfig_with(cluster, &format!("{}-{}", name.replace(':', "-"), if expired { "expired" } else { "valid" }), &user)
}

fn kubectl_as(config: &Path, args: &[&str]) -> Output {
    Command::new("kubectl").arg(format!("--kubeconfig={}", config.display())).args(args).output().unwrap()
}

/// Runs `command` in a pod of `localhost/incluster:e2e` as ServiceAccount `robot` in `demo`, and
/// returns its log once it has finished.
fn in_cluster(cluster: &Cluster, name: &str, command: &[&str]) -> String {
    let overrides = serde_json::json!({"spec": {"serviceAccountName": "robot", "containers": [{"name": name, "image": "localhost/incluster:e2e", "imagePullPolicy": "Never", "command": command}]}});
    ok(cluster.kubectl(&["run", name, "-n", "demo", "--image=localhost/incluster:e2e", "--restart=Never", &format!("--overrides={overrides}")]));
    let finished = || matches!(cluster.jsonpath(&["pod", name, "-n", "demo"], "{.status.phase}").as_str(), "Succeeded" | "Failed");
    cluster.wait(&format!("pod {name} finished"), 120, finished, || text(&cluster.kubectl(&["describe", "pod", name, "-n", "demo"])));
    text(&cluster.kubectl(&["logs", name, "-n", "demo"]))
}

const PYTHON_LIST_PODS: &str = "from kubernetes import client, config
config.load_incluster_config()
try:
    print('LISTED', len(client.CoreV1Api().list_namespaced_pod('demo').items))
except client.exceptions.ApiException as error:
    print('STATUS', error.status)";

#[test]
fn every_client_is_authenticated_and_authorised() {
    let cluster = Cluster::create(2, None);
    let worker = cluster.node("worker");
    let unauthorized = "You must be logged in to the server";

    // The generated kubeconfig: kubectl and the Python client, as the administrator.
    assert!(ok(cluster.kubectl(&["get", "nodes"])).contains(&worker));
    let python = format!("from kubernetes import client, config\nconfig.load_kube_config(config_file={:?})\nprint(len(client.CoreV1Api().list_node().items))", cluster.kubeconfig().display().to_string());
    assert_eq!(ok(Command::new("python3").args(["-c", &python]).output().unwrap()).trim(), "2");

    // No certificate, another CA's, an expired one of the cluster's: 401.
    // (kubectl asks for a user name when its kubeconfig has no credentials at all, so curl
    // shows the bare request, and kubectl a token that names no one.)
    let credentials = cluster.curl_credentials();
    let server = ok(cluster.kubectl(&["config", "view", "-o", "jsonpath={.clusters[0].cluster.server}"]));
    let anonymous = ok(Command::new("curl").args(["-s", "--cacert", &credentials[1], "-w", "\n%{http_code}", &format!("{}/api/v1/namespaces/default/pods", server.trim())]).output().unwrap());
    assert!(anonymous.ends_with("\n401") && anonymous.contains(r#""reason":"Unauthorized""#), "{anonymous}");
    let unknown = kubeconfig_with(&cluster, "unknown", "    token: not-a-token");
    assert!(out(&kubectl_as(&unknown, &["get", "pods"])).contains(unauthorized));
    let stranger = {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.distinguished_name.push(rcgen::DnType::CommonName, format!("{}-ca", cluster.name));
        (params.self_signed(&key).unwrap(), key)
    };
    let ca = cluster_ca(&cluster);
    for (what, config) in [
        ("another CA's certificate", certificate_user(&cluster, &stranger, "kubernetes-admin", &["system:masters"], false)),
        ("an expired certificate", certificate_user(&cluster, &ca, "kubernetes-admin", &["system:masters"], true)),
    ] {
        let refused = kubectl_as(&config, &["get", "pods"]);
        assert!(out(&refused).contains(unauthorized), "{what}: {}", out(&refused));
    }

    // A user bound to view in demo: reads there, nothing more; and grants no more than held.
    ok(cluster.kubectl(&["create", "namespace", "demo"]));
    ok(cluster.kubectl(&["create", "configmap", "settings", "-n", "demo", "--from-literal=a=b"]));
    ok(cluster.kubectl(&["create", "secret", "generic", "hidden", "-n", "demo", "--from-literal=p=q"]));
    ok(cluster.kubectl(&["create", "rolebinding", "jane-view", "-n", "demo", "--clusterrole=view", "--user=jane"]));
    let jane = certificate_user(&cluster, &ca, "jane", &["devs"], false);
    assert!(ok(kubectl_as(&jane, &["get", "configmaps"])).contains("settings"));
    let created = kubectl_as(&jane, &["create", "configmap", "mine", "--from-literal=x=y"]);
    assert!(out(&created).contains(r#"configmaps is forbidden: User "jane" cannot create resource "configmaps" in API group "" in the namespace "demo""#), "{}", out(&created));
    assert!(out(&kubectl_as(&jane, &["get", "secret", "hidden"])).contains(r#"secrets "hidden" is forbidden: User "jane" cannot get resource "secrets""#));
    let rules = ok(kubectl_as(&jane, &["auth", "can-i", "--list"]));
    assert!(rules.lines().any(|line| line.starts_with("pods ") && line.contains("[get list watch]")), "{rules}");
    assert!(!rules.lines().any(|line| line.starts_with("secrets ")), "{rules}");
    ok(cluster.kubectl(&["create", "role", "binder", "-n", "demo", "--verb=create", "--resource=rolebindings.rbac.authorization.k8s.io"]));
    ok(cluster.kubectl(&["create", "rolebinding", "jane-binder", "-n", "demo", "--role=binder", "--user=jane"]));
    ok(kubectl_as(&jane, &["create", "rolebinding", "bob-view", "--clusterrole=view", "--user=bob"]));
    let escalated = kubectl_as(&jane, &["create", "rolebinding", "jane-admin", "--clusterrole=admin", "--user=jane"]);
    assert!(out(&escalated).contains("is attempting to grant RBAC permissions not currently held"), "{}", out(&escalated));

    // From a pod: the Python client and kubectl, in-cluster, as the pod's ServiceAccount.
    let image = "localhost/incluster:e2e";
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/incluster-image.sh");
    ok(Command::new("bash").arg(script).arg(image).output().unwrap());
    ok(cluster.tool(&["load-image", image, "--name", &cluster.name]));
    ok(cluster.kubectl(&["create", "serviceaccount", "robot", "-n", "demo"]));
    assert_eq!(in_cluster(&cluster, "python-before", &["python3", "-c", PYTHON_LIST_PODS]).trim(), "STATUS 403");
    let denied = in_cluster(&cluster, "kubectl-before", &["sh", "-c", "kubectl get pods -n demo 2>&1"]);
    assert!(denied.contains(r#"pods is forbidden: User "system:serviceaccount:demo:robot" cannot list resource "pods""#), "{denied}");
    ok(cluster.kubectl(&["create", "rolebinding", "robot-view", "-n", "demo", "--clusterrole=view", "--serviceaccount=demo:robot"]));
    let listed = in_cluster(&cluster, "python-after", &["python3", "-c", PYTHON_LIST_PODS]);
    assert!(listed.starts_with("LISTED "), "{listed}");
    assert!(in_cluster(&cluster, "kubectl-after", &["sh", "-c", "kubectl get pods -n demo 2>&1"]).contains("python-after"));
    let environment = in_cluster(&cluster, "environment", &["sh", "-c", "echo $KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT; cat /var/run/secrets/kubernetes.io/serviceaccount/namespace"]);
    assert_eq!(environment, "10.96.0.1:443\ndemo");

    // A token bound to a pod dies with it.
    let token = ok(cluster.kubectl(&["create", "token", "robot", "-n", "demo", "--bound-object-kind=Pod", "--bound-object-name=environment"]));
    let bearer = kubeconfig_with(&cluster, "bearer", &format!("    token: {}", token.trim()));
    ok(kubectl_as(&bearer, &["get", "pods"]));
    ok(cluster.kubectl(&["delete", "pod", "environment", "-n", "demo"]));
    cluster.wait("the deleted pod's token refused", 30, || out(&kubectl_as(&bearer, &["get", "pods"])).contains(unauthorized), || out(&kubectl_as(&bearer, &["get", "pods"])));

    // A kubelet's certificate: its own Node, not another's; the Secrets of its pods, no others.
    ok(cluster.kubectl(&["create", "secret", "generic", "mounted", "-n", "demo", "--from-literal=k=v"]));
    let overrides = serde_json::json!({"spec": {"nodeName": worker, "volumes": [{"name": "s", "secret": {"secretName": "mounted"}}],
        "containers": [{"name": "main", "image": "localhost/busybox:local", "command": ["sleep", "3600"], "volumeMounts": [{"name": "s", "mountPath": "/s"}]}]}});
    ok(cluster.kubectl(&["run", "mounter", "-n", "demo", "--image=localhost/busybox:local", &format!("--overrides={overrides}")]));
    let kubelet_config = ok(cluster.docker(&["exec", &worker, "cat", "/etc/cluster/pki/kubelet.kubeconfig"]));
    let kubelet_user = kubelet_config.split("users:").nth(1).and_then(|users| users.split("user:\n").nth(1)).unwrap().trim_end().to_string();
    let kubelet = kubeconfig_with(&cluster, "kubelet", &kubelet_user);
    ok(kubectl_as(&kubelet, &["get", "node", &worker]));
    let other = kubectl_as(&kubelet, &["label", "node", &cluster.node("control-plane"), "stolen=yes"]);
    assert!(!other.status.success() && out(&other).contains("forbidden"), "{}", out(&other));
    cluster.wait("the kubelet reads its pod's Secret", 30, || kubectl_as(&kubelet, &["get", "secret", "mounted"]).status.success(), || out(&kubectl_as(&kubelet, &["get", "secret", "mounted"])));
    let unrelated = kubectl_as(&kubelet, &["get", "secret", "hidden"]);
    assert!(out(&unrelated).contains(&format!(r#"User "system:node:{worker}" cannot get resource "secrets""#)), "{}", out(&unrelated));

    // The kubelet's own port is HTTPS, and the apiserver decides who may use it (a
    // SubjectAccessReview on the Node): logs go through it as the apiserver's client; jane may
    // read stats once granted `nodes/stats` and nothing else there; no certificate gets 401, as
    // from a kubelet without anonymous access.
    assert!(ok(cluster.kubectl(&["logs", "python-after", "-n", "demo"])).starts_with("LISTED "));
    ok(cluster.kubectl(&["create", "clusterrole", "node-stats", "--verb=get", "--resource=nodes/stats"]));
    ok(cluster.kubectl(&["create", "clusterrolebinding", "jane-node-stats", "--clusterrole=node-stats", "--user=jane"]));
    let kubelet_url = format!("https://{}:10250/metrics", cluster.node_ip(&worker));
    let decode = |field: &str| {
        use base64::Engine;
        let data = ok(kubectl_as(&jane, &["config", "view", "--raw", "-o", &format!("jsonpath={{.users[0].user.{field}}}")]));
        base64::engine::general_purpose::STANDARD.decode(data.trim()).unwrap()
    };
    let (jane_cert, jane_key) = (jane.with_extension("crt"), jane.with_extension("key"));
    std::fs::write(&jane_cert, decode("client-certificate-data")).unwrap();
    std::fs::write(&jane_key, decode("client-key-data")).unwrap();
    let as_jane = |url: &str| {
        let output = Command::new("curl").args(["-s", "-w", " %{http_code}", "--cacert", &credentials[1], "--cert", &jane_cert.display().to_string(), "--key", &jane_key.display().to_string(), url]).output().unwrap();
        ok(output)
    };
    assert_eq!(as_jane(&kubelet_url), "Forbidden (user=jane, verb=get, resource=nodes, subresource=metrics) 403");
    let pod = ok(cluster.kubectl(&["get", "pod", "python-after", "-n", "demo", "-o", "jsonpath={.metadata.name}/{.spec.containers[0].name}"]));
    let logs_url = format!("https://{}:10250/containerLogs/demo/{pod}", cluster.node_ip(&worker));
    assert_eq!(as_jane(&logs_url), "Forbidden (user=jane, verb=get, resource=nodes, subresource=proxy) 403");
    // (A refusal is remembered for 30 s, as by Kubernetes' kubelet, so the grant may take that long to be seen.)
    let stats_url = format!("https://{}:10250/stats/summary", cluster.node_ip(&worker));
    cluster.wait("jane reading the kubelet's stats", 60, || as_jane(&stats_url).ends_with(" 200"), || as_jane(&stats_url));
    assert!(as_jane(&stats_url).contains(&format!("\"nodeName\":\"{worker}\"")), "{}", as_jane(&stats_url));
    let without = ok(Command::new("curl").args(["-s", "-w", " %{http_code}", "--cacert", &credentials[1], &kubelet_url]).output().unwrap());
    assert_eq!(without, "Unauthorized 401");
}
