//! ResourceQuota and LimitRange through the real binary and the real `kubectl`: quota
//! admission refuses what would exceed a quota with kube-apiserver's message and charges the
//! quota's `status.used` (not on a dry run), a quota naming an unknown resource gets kube's
//! 422, and LimitRanger fills in defaults and refuses what is out of bounds. The quota's status
//! is what the resourcequota controller writes: the tests write it themselves, except the last,
//! which runs the controller-manager with `--controllers=resourcequota`.

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::testing::{ApiServer, Component, Storage};
use http::Client;
use serde_json::{Value, json};

#[path = "support/http.rs"]
mod http;

common::on_both_stores!(kubectl_sees_the_third_pod_refused_and_the_quota_charged, bad_quotas_and_limit_ranges_get_kubes_422, limit_ranges_default_and_bound_pods_and_claims);

const NS: &str = "team";

fn kubectl(server: &ApiServer, args: &[&str]) -> Output {
    Command::new("kubectl").arg(format!("--kubeconfig={}", server.kubeconfig().display())).args(args).output().unwrap_or_else(|err| panic!("running kubectl: {err}"))
}

/// Runs kubectl and returns its stdout, failing the test with its stderr if it fails.
fn kubectl_ok(server: &ApiServer, args: &[&str]) -> String {
    let output = kubectl(server, args);
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "kubectl {args:?} failed:\n{stdout}\n{}\n--- apiserver log:\n{}", String::from_utf8_lossy(&output.stderr), log_tail(server));
    stdout
}

/// Runs kubectl expecting it to fail; returns its stderr.
fn kubectl_fails(server: &ApiServer, args: &[&str]) -> String {
    let output = kubectl(server, args);
    assert!(!output.status.success(), "kubectl {args:?} succeeded:\n{}", String::from_utf8_lossy(&output.stdout));
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn log_tail(server: &ApiServer) -> String {
    let text = std::fs::read_to_string(server.log_path()).unwrap_or_default();
    let lines: Vec<&str> = text.lines().rev().take(30).collect();
    lines.into_iter().rev().collect::<Vec<_>>().join("\n")
}

fn columns(line: &str) -> Vec<&str> {
    line.split_whitespace().collect()
}

fn quota_path(name: &str) -> String {
    format!("/api/v1/namespaces/{NS}/resourcequotas/{name}")
}

/// Writes a quota's status as the resourcequota controller would.
async fn write_status(client: &Client, name: &str, status: Value) -> Value {
    let (code, mut quota) = client.get(&quota_path(name)).await;
    assert_eq!(code, 200, "{quota}");
    quota["status"] = status;
    let (code, written) = client.json("PUT", &format!("{}/status", quota_path(name)), &quota).await;
    assert_eq!(code, 200, "{written}");
    written
}

async fn used(client: &Client, name: &str) -> Value {
    let (code, quota) = client.get(&quota_path(name)).await;
    assert_eq!(code, 200, "{quota}");
    quota["status"]["used"].clone()
}

async fn kubectl_sees_the_third_pod_refused_and_the_quota_charged(storage: Storage) {
    let server = ApiServer::start(storage).unwrap_or_else(|err| panic!("starting the apiserver: {err}"));
    let client = Client::new(&server);
    kubectl_ok(&server, &["create", "namespace", NS]);
    let core = kubectl_ok(&server, &["api-resources", "--api-group=", "--no-headers"]);
    let rows: Vec<Vec<&str>> = core.lines().map(columns).collect();
    for expected in [vec!["resourcequotas", "quota", "v1", "true", "ResourceQuota"], vec!["limitranges", "limits", "v1", "true", "LimitRange"]] {
        assert!(rows.contains(&expected), "{expected:?} in\n{core}");
    }
    assert_eq!(kubectl_ok(&server, &["create", "quota", "q", "--hard=pods=2", "-n", NS]).trim(), "resourcequota/q created");

    // Until the controller has written the quota's status, kube's quota admission does not
    // know what the quota holds and limits nothing: a pod made now is admitted and charged to
    // no one (the controller counts it when it computes the usage).
    assert_eq!(kubectl_ok(&server, &["run", "p0", "--image=busybox", "--restart=Never", "-n", NS]).trim(), "pod/p0 created");
    assert_eq!(used(&client, "q").await, Value::Null);
    let table = kubectl_ok(&server, &["get", "quota", "-n", NS]);
    assert_eq!(table.lines().next().map(columns), Some(vec!["NAME", "AGE", "REQUEST", "LIMIT"]), "{table}");

    // The controller's view: p0 counted.
    write_status(&client, "q", json!({"hard": {"pods": "2"}, "used": {"pods": "1"}})).await;
    // A dry run is judged but charges nothing.
    let dry = kubectl_ok(&server, &["run", "p1", "--image=busybox", "--restart=Never", "-n", NS, "--dry-run=server"]);
    assert_eq!(dry.trim(), "pod/p1 created (server dry run)");
    assert_eq!(used(&client, "q").await, json!({"pods": "1"}));
    // A create that is charged and then not stored (the name is taken) gives its charge back.
    let taken = kubectl_fails(&server, &["run", "p0", "--image=busybox", "--restart=Never", "-n", NS]);
    assert_eq!(taken.trim(), "Error from server (AlreadyExists): pods \"p0\" already exists");
    assert_eq!(used(&client, "q").await, json!({"pods": "1"}), "a create that failed keeps no charge");
    // A real create is charged before it is stored.
    assert_eq!(kubectl_ok(&server, &["run", "p1", "--image=busybox", "--restart=Never", "-n", NS]).trim(), "pod/p1 created");
    assert_eq!(used(&client, "q").await, json!({"pods": "2"}));

    let refused = kubectl_fails(&server, &["run", "p2", "--image=busybox", "--restart=Never", "-n", NS]);
    assert_eq!(refused.trim(), "Error from server (Forbidden): pods \"p2\" is forbidden: exceeded quota: q, requested: pods=1, used: pods=2, limited: pods=2");
    let refused_dry = kubectl_fails(&server, &["run", "p2", "--image=busybox", "--restart=Never", "-n", NS, "--dry-run=server"]);
    assert!(refused_dry.contains("exceeded quota: q, requested: pods=1, used: pods=2, limited: pods=2"), "{refused_dry}");
    let (code, status) = client.json("POST", &format!("/api/v1/namespaces/{NS}/pods"), &json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "p2"}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}})).await;
    assert_eq!((code, status["reason"].as_str(), status["details"].clone()), (403, Some("Forbidden"), json!({"name": "p2", "kind": "pods"})), "{status}");
    assert_eq!(used(&client, "q").await, json!({"pods": "2"}), "a refusal charges nothing");

    let table = kubectl_ok(&server, &["get", "quota", "-n", NS]);
    let row = table.lines().nth(1).map(columns).unwrap_or_default();
    assert_eq!((row.first().copied(), row.get(2..).map(|rest| rest.join(" "))), (Some("q"), Some("pods: 2/2".to_owned())), "{table}");
    let described = kubectl_ok(&server, &["describe", "quota", "q", "-n", NS]);
    assert!(described.lines().any(|line| columns(line) == ["pods", "2", "2"]), "{described}");

    // Other kinds are counted too, and a quota whose usage of a hard resource is unknown
    // refuses them until the controller has counted it.
    write_status(&client, "q", json!({"hard": {"pods": "2", "count/configmaps": "1"}, "used": {"pods": "2"}})).await;
    let unknown = kubectl_fails(&server, &["create", "configmap", "settings", "-n", NS]);
    assert_eq!(unknown.trim(), "error: failed to create configmap: configmaps \"settings\" is forbidden: status unknown for quota: q, resources: count/configmaps");
    write_status(&client, "q", json!({"hard": {"pods": "2", "count/configmaps": "1"}, "used": {"pods": "2", "count/configmaps": "0"}})).await;
    kubectl_ok(&server, &["create", "configmap", "settings", "-n", NS]);
    assert_eq!(used(&client, "q").await, json!({"pods": "2", "count/configmaps": "1"}));
    let full = kubectl_fails(&server, &["create", "configmap", "more", "-n", NS]);
    assert!(full.contains("configmaps \"more\" is forbidden: exceeded quota: q, requested: count/configmaps=1, used: count/configmaps=1, limited: count/configmaps=1"), "{full}");
    // Another namespace is not limited by it.
    kubectl_ok(&server, &["run", "elsewhere", "--image=busybox", "--restart=Never", "-n", "default"]);
}

async fn bad_quotas_and_limit_ranges_get_kubes_422(storage: Storage) {
    let server = ApiServer::start(storage).unwrap_or_else(|err| panic!("starting the apiserver: {err}"));
    let client = Client::new(&server);
    kubectl_ok(&server, &["create", "namespace", NS]);
    let refused = kubectl_fails(&server, &["create", "quota", "bad", "--hard=foo=1", "-n", NS]);
    for cause in [
        "spec.hard[foo]: Invalid value: \"foo\": must be a standard resource type or fully qualified",
        "spec.hard[foo]: Invalid value: \"foo\": must be a standard resource for quota",
    ] {
        assert!(refused.contains(cause), "{cause} in {refused}");
    }
    assert!(refused.contains("ResourceQuota \"bad\" is invalid"), "{refused}");

    // (body, the cause's field, its message)
    let rows = [
        (json!({"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "q"}, "spec": {"hard": {"pods": "1.5"}}}),
         "/resourcequotas", "spec.hard[pods]", "Invalid value: \"1500m\": must be an integer"),
        (json!({"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "q"}, "spec": {"hard": {"requests.cpu": "1"}, "scopes": ["BestEffort"]}}),
         "/resourcequotas", "spec.scopes", "Invalid value: []core.ResourceQuotaScope{\"BestEffort\"}: unsupported scope applied to resource"),
        (json!({"apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": "l"}, "spec": {"limits": [{"type": "Container", "min": {"cpu": "2"}, "max": {"cpu": "1"}}]}}),
         "/limitranges", "spec.limits[0].min[cpu]", "Invalid value: \"2\": min value 2 is greater than max value 1"),
        (json!({"apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": "l"}, "spec": {"limits": [{"type": "PersistentVolumeClaim", "max": {"cpu": "1"}}]}}),
         "/limitranges", "spec.limits[0].limits", "Required value: either minimum or maximum storage value is required, but neither was provided"),
    ];
    for (body, collection, field, message) in rows {
        let (code, status) = client.json("POST", &format!("/api/v1/namespaces/{NS}{collection}"), &body).await;
        assert_eq!((code, status["reason"].as_str()), (422, Some("Invalid")), "{status}");
        let causes: Vec<(&str, &str)> = status["details"]["causes"].as_array().into_iter().flatten()
            .map(|cause| (cause["field"].as_str().unwrap_or_default(), cause["message"].as_str().unwrap_or_default())).collect();
        assert!(causes.contains(&(field, message)), "{field}: {message} in {causes:?}");
    }
}

fn pod(name: &str, resources: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": {"containers": [{"name": "c", "image": "busybox", "resources": resources}]}})
}

async fn limit_ranges_default_and_bound_pods_and_claims(storage: Storage) {
    let server = ApiServer::start(storage).unwrap_or_else(|err| panic!("starting the apiserver: {err}"));
    let client = Client::new(&server);
    kubectl_ok(&server, &["create", "namespace", NS]);
    let limits = json!({"apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": "limits"}, "spec": {"limits": [
        {"type": "Container", "default": {"cpu": "500m", "memory": "128Mi"}, "defaultRequest": {"cpu": "100m"}, "min": {"cpu": "50m"}, "max": {"memory": "1Gi"}},
        {"type": "PersistentVolumeClaim", "min": {"storage": "1Gi"}, "max": {"storage": "5Gi"}},
    ]}});
    let (code, created) = client.json("POST", &format!("/api/v1/namespaces/{NS}/limitranges"), &limits).await;
    assert_eq!(code, 201, "{created}");
    // SetDefaults_LimitRangeItem: the memory default limit is the default request too.
    assert_eq!(created["spec"]["limits"][0]["defaultRequest"], json!({"cpu": "100m", "memory": "128Mi"}), "{created}");
    let listed = kubectl_ok(&server, &["get", "limits", "-n", NS]);
    assert_eq!(listed.lines().next().map(columns), Some(vec!["NAME", "CREATED", "AT"]), "{listed}");
    let described = kubectl_ok(&server, &["describe", "limits", "limits", "-n", NS]);
    // Type, Resource, Min, Max, Default Request, Default Limit, Max Limit/Request Ratio.
    assert!(described.lines().any(|line| columns(line) == ["Container", "cpu", "50m", "-", "100m", "500m", "-"]), "{described}");
    assert!(described.lines().any(|line| columns(line) == ["PersistentVolumeClaim", "storage", "1Gi", "5Gi", "-", "-", "-"]), "{described}");

    // A pod stating nothing gets the defaults, noted as kube notes them.
    assert_eq!(kubectl_ok(&server, &["run", "plain", "--image=busybox", "--restart=Never", "-n", NS]).trim(), "pod/plain created");
    let (_, stored) = client.get(&format!("/api/v1/namespaces/{NS}/pods/plain")).await;
    assert_eq!(stored["spec"]["containers"][0]["resources"], json!({"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "500m", "memory": "128Mi"}}), "{stored}");
    assert_eq!(stored["metadata"]["annotations"]["kubernetes.io/limit-ranger"], "LimitRanger plugin set: cpu, memory request for container plain; cpu, memory limit for container plain");
    assert_eq!(stored["status"]["qosClass"], "Burstable");

    // Below the minimum, above the maximum: kube's 403, every violation named.
    let (code, status) = client.json("POST", &format!("/api/v1/namespaces/{NS}/pods"), &pod("small", json!({"requests": {"cpu": "10m"}}))).await;
    assert_eq!((code, status["message"].as_str()), (403, Some("pods \"small\" is forbidden: minimum cpu usage per Container is 50m, but request is 10m")), "{status}");
    let (code, status) = client.json("POST", &format!("/api/v1/namespaces/{NS}/pods"), &pod("big", json!({"requests": {"cpu": "10m"}, "limits": {"memory": "2Gi"}}))).await;
    assert_eq!(
        (code, status["message"].as_str()),
        (403, Some("pods \"big\" is forbidden: [minimum cpu usage per Container is 50m, but request is 10m, maximum memory usage per Container is 1Gi, but limit is 2Gi]")),
        "{status}"
    );
    // A claim's storage within the claim bounds.
    let claim = |name: &str, size: &str| json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}}});
    let (code, status) = client.json("POST", &format!("/api/v1/namespaces/{NS}/persistentvolumeclaims"), &claim("huge", "10Gi")).await;
    assert_eq!(
        (code, status["message"].as_str()),
        (403, Some("persistentvolumeclaims \"huge\" is forbidden: maximum storage usage per PersistentVolumeClaim is 5Gi, but request is 10Gi")),
        "{status}"
    );
    let (code, created) = client.json("POST", &format!("/api/v1/namespaces/{NS}/persistentvolumeclaims"), &claim("fits", "2Gi")).await;
    assert_eq!(code, 201, "{created}");
    // A bound claim may grow, within the bounds only.
    let path = format!("/api/v1/namespaces/{NS}/persistentvolumeclaims/fits");
    let mut bound = created.clone();
    bound["status"] = json!({"phase": "Bound", "accessModes": ["ReadWriteOnce"], "capacity": {"storage": "2Gi"}});
    let (code, bound) = client.json("PUT", &format!("{path}/status"), &bound).await;
    assert_eq!(code, 200, "{bound}");
    let mut grown = bound.clone();
    grown["spec"]["resources"]["requests"]["storage"] = json!("8Gi");
    let (code, status) = client.json("PUT", &path, &grown).await;
    assert_eq!(
        (code, status["message"].as_str()),
        (403, Some("persistentvolumeclaims \"fits\" is forbidden: maximum storage usage per PersistentVolumeClaim is 5Gi, but request is 8Gi")),
        "{status}"
    );
    grown["spec"]["resources"]["requests"]["storage"] = json!("4Gi");
    let (code, resized) = client.json("PUT", &path, &grown).await;
    assert_eq!((code, resized["spec"]["resources"]["requests"]["storage"].as_str()), (200, Some("4Gi")), "{resized}");
}

/// The controller-manager, whose log is printed when the test fails.
struct Manager(Component);

impl Drop for Manager {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("controller-manager log:\n{}", self.0.log());
        }
    }
}

/// Polls `probe` until it answers, or fails the test with its last answer after 30 s.
async fn wait_for<F, Fut>(what: &str, mut probe: F) -> Value
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Value, String>>,
{
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match probe().await {
            Ok(value) => return value,
            Err(last) if Instant::now() > deadline => panic!("waiting for {what}: {last}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// With the resourcequota controller running, as a user runs a cluster: the quota's status
/// appears, two pods fit, the third is refused with kube's message, and once a pod is deleted
/// the controller gives its share back and a new pod fits again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_resourcequota_controller_a_deleted_pod_makes_room() {
    let binary = common::testing::workspace_binary("controller-manager");
    assert!(binary.exists(), "{} is missing: build it first (cargo build -p controller-manager)", binary.display());
    let server = ApiServer::start(Storage::Embedded).unwrap_or_else(|err| panic!("starting the apiserver: {err}"));
    let client = Client::new(&server);
    let port = common::testing::free_port().unwrap_or_else(|err| panic!("{err}"));
    let args = [
        format!("--kubeconfig={}", server.kubeconfig().display()),
        format!("--metrics-bind-address=127.0.0.1:{port}"),
        "--leader-elect=false".to_owned(),
        "--controllers=resourcequota".to_owned(),
    ];
    let _manager = Manager(Component::start("controller-manager", &args).unwrap_or_else(|err| panic!("starting the controller-manager: {err}")));
    kubectl_ok(&server, &["create", "namespace", NS]);
    kubectl_ok(&server, &["create", "quota", "q", "--hard=pods=2", "-n", NS]);
    wait_for("the quota's status", || async {
        let used = used(&client, "q").await;
        if used == json!({"pods": "0"}) { Ok(used) } else { Err(used.to_string()) }
    })
    .await;
    for name in ["a", "b"] {
        kubectl_ok(&server, &["run", name, "--image=busybox", "--restart=Never", "-n", NS]);
    }
    let refused = kubectl_fails(&server, &["run", "c", "--image=busybox", "--restart=Never", "-n", NS]);
    assert_eq!(refused.trim(), "Error from server (Forbidden): pods \"c\" is forbidden: exceeded quota: q, requested: pods=1, used: pods=2, limited: pods=2");
    kubectl_ok(&server, &["delete", "pod", "a", "-n", NS, "--grace-period=0", "--force"]);
    wait_for("the deleted pod's share back", || async {
        let used = used(&client, "q").await;
        if used == json!({"pods": "1"}) { Ok(used) } else { Err(used.to_string()) }
    })
    .await;
    assert_eq!(kubectl_ok(&server, &["run", "c", "--image=busybox", "--restart=Never", "-n", NS]).trim(), "pod/c created");
}
