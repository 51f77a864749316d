//! End to end on a kind-style 3-node cluster, driven by kubectl (issue #25): a CPU-burning
//! Deployment with an HPA at 50 % goes from 1 to 3 replicas and back to 1 once the load stops;
//! `kubectl drain` stops at a PodDisruptionBudget whose `minAvailable` is the replicas and passes
//! once the budget allows; a quota of two pods refuses the third; a high-priority pod preempts a
//! low-priority one on a full node, with the victim's event; the cluster DNS runs as
//! `system-cluster-critical`; bad input gets Kubernetes' statuses and messages.
//!
//! Each part runs in a namespace of its own and a failed part is reported at the end, so that the
//! others still run: they exercise different components (apiserver kinds and admission, the
//! controller-manager's HPA, disruption and quota controllers, the eviction subresource, the
//! scheduler's preemption).

#![allow(clippy::unwrap_used)]

mod support;

use std::panic::AssertUnwindSafe;
use std::process::Output;
use std::time::Instant;

use serde_json::Value;
use support::{Cluster, ok, text};

/// Both outputs of a command, stdout first.
fn output_of(output: &Output) -> String {
    text(output) + &String::from_utf8_lossy(&output.stderr)
}

fn get(cluster: &Cluster, namespace: &str, what: &[&str], path: &str) -> String {
    let mut args = what.to_vec();
    args.extend(["-n", namespace]);
    cluster.jsonpath(&args, path)
}

fn describe(cluster: &Cluster, namespace: &str) -> String {
    text(&cluster.kubectl(&["get", "pods,deployments,hpa,pdb,resourcequotas", "-n", namespace, "-o", "wide"]))
        + &text(&cluster.kubectl(&["get", "nodes", "-o", "wide"]))
        + &text(&cluster.kubectl(&["get", "events", "-n", namespace, "--sort-by=.lastTimestamp"]))
}

/// The events of one object of the namespace: "type reason message" lines.
fn events_of(cluster: &Cluster, namespace: &str, name: &str) -> String {
    let path = format!("{{range .items[?(@.involvedObject.name==\"{name}\")]}}{{.type}} {{.reason}} {{.message}}{{\"\\n\"}}{{end}}");
    get(cluster, namespace, &["events"], &path)
}

fn wait_for_event(cluster: &Cluster, namespace: &str, name: &str, line: &str, seconds: u64) {
    let seen = || events_of(cluster, namespace, name).lines().any(|seen| seen.starts_with(line));
    cluster.wait(&format!("event {line:?} on {name}"), seconds, seen, || events_of(cluster, namespace, name) + &describe(cluster, namespace));
}

fn condition(cluster: &Cluster, namespace: &str, what: &[&str], type_: &str, field: &str) -> String {
    get(cluster, namespace, what, &format!("{{.status.conditions[?(@.type==\"{type_}\")].{field}}}"))
}

/// The names of the pods of `selector` that are not being deleted, sorted.
fn live_pods(cluster: &Cluster, namespace: &str, selector: &str) -> Vec<String> {
    let out = get(cluster, namespace, &["pods", "-l", selector], "{range .items[*]}{.metadata.name} {.metadata.deletionTimestamp}{\"\\n\"}{end}");
    let mut pods: Vec<String> = out.lines().filter(|line| line.split_whitespace().count() == 1).map(|line| line.trim().to_string()).collect();
    pods.sort();
    pods
}

fn pod_is_running_on(cluster: &Cluster, namespace: &str, pod: &str, node: &str) -> bool {
    get(cluster, namespace, &["pod", pod], "{.spec.nodeName} {.status.phase} {.metadata.deletionTimestamp}").trim() == format!("{node} Running")
}

fn millicores(quantity: &str) -> i64 {
    common::quantity::parse(quantity).unwrap_or_else(|err| panic!("cpu {quantity:?}: {err}")).milli_value()
}

/// A Status answered to a request made with the administrator's certificate: (HTTP code, body).
fn request(cluster: &Cluster, method: &str, path: &str, body: &str) -> (u16, Value) {
    let server = ok(cluster.kubectl(&["config", "view", "--minify", "-o", "jsonpath={.clusters[0].cluster.server}"]));
    let mut curl = std::process::Command::new("curl");
    curl.args(["-sS", "-m", "20", "-X", method, "-H", "Content-Type: application/json", "-w", "\n%{http_code}", "--data-binary", body]);
    curl.args(cluster.curl_credentials()).arg(format!("{}{path}", server.trim()));
    let answer = ok(curl.output().unwrap());
    let (body, code) = answer.trim_end().rsplit_once('\n').unwrap_or(("", answer.trim()));
    (code.trim().parse().unwrap_or(0), serde_json::from_str(body).unwrap_or(Value::String(body.to_string())))
}

fn eviction(namespace: &str, pod: &str) -> String {
    serde_json::json!({"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": pod, "namespace": namespace}}).to_string()
}

type Part = fn(&Cluster) -> Vec<String>;

#[test]
fn autoscaling_disruption_budgets_quotas_and_priorities_as_kubernetes_has_them() {
    let cluster = Cluster::create(3, None);
    let started = Instant::now();
    // /usr/bin/kubectl picks the release of the server's version (1.33) among those installed.
    let version: Value = serde_json::from_str(&ok(cluster.kubectl(&["version", "-o", "json"]))).unwrap();
    let client = version["clientVersion"]["gitVersion"].as_str().unwrap_or_default().to_string();
    assert!(client.starts_with("v1.33."), "kubectl {client}");
    eprintln!("autoscaling e2e: kubectl {client}");
    let parts: [(&str, &str, Part); 6] = [
        ("system priority classes", "", system_priority_classes),
        ("bad input", BAD_NS, bad_input),
        ("resource quota", QUOTA_NS, resource_quota),
        ("horizontal pod autoscaler", HPA_NS, horizontal_pod_autoscaler),
        ("disruption budget and drain", BUDGET_NS, disruption_budget_and_drain),
        ("preemption", PREEMPTION_NS, preemption),
    ];
    let mut failures = Vec::new();
    for (what, namespace, part) in parts {
        let begun = Instant::now();
        if !namespace.is_empty() {
            ok(cluster.kubectl(&["create", "namespace", namespace]));
        }
        match std::panic::catch_unwind(AssertUnwindSafe(|| part(&cluster))) {
            Ok(wrong) => failures.extend(wrong.into_iter().map(|wrong| format!("{what}: {wrong}"))),
            Err(panic) => {
                let message = panic.downcast_ref::<String>().cloned().or_else(|| panic.downcast_ref::<&str>().map(|text| (*text).to_string())).unwrap_or_default();
                failures.push(format!("{what}: {message}"));
            }
        }
        eprintln!("autoscaling e2e: {what} took {:.0} s", begun.elapsed().as_secs_f64());
        // What a failed part may have left: burning pods, a cordoned node.
        if !namespace.is_empty() {
            let _ = cluster.kubectl(&["delete", "namespace", namespace, "--timeout=120s"]);
        }
        let _ = cluster.kubectl(&["uncordon", &cluster.node("worker2")]);
    }
    eprintln!("autoscaling e2e: {:.0} s after the cluster was up", started.elapsed().as_secs_f64());
    assert!(failures.is_empty(), "{} part(s) failed:\n{}", failures.len(), failures.join("\n\n"));
}

/// The built-in classes exist as kube-apiserver creates them, and the cluster DNS pods carry
/// `system-cluster-critical`'s priority.
fn system_priority_classes(cluster: &Cluster) -> Vec<String> {
    for (name, value, description) in [
        ("system-node-critical", "2000001000", "Used for system critical pods that must not be moved from their current node."),
        ("system-cluster-critical", "2000000000", "Used for system critical pods that must run in the cluster, but can be moved to another node if necessary."),
    ] {
        assert_eq!(cluster.jsonpath(&["priorityclass", name], "{.value} {.description}"), format!("{value} {description}"));
    }
    let table = ok(cluster.kubectl(&["get", "priorityclasses"]));
    let header: Vec<&str> = table.lines().next().unwrap_or_default().split_whitespace().collect();
    assert_eq!(header, ["NAME", "VALUE", "GLOBAL-DEFAULT", "AGE", "PREEMPTIONPOLICY"], "{table}");
    let row = table.lines().find(|line| line.starts_with("system-cluster-critical ")).unwrap_or_else(|| panic!("{table}"));
    let fields: Vec<&str> = row.split_whitespace().collect();
    assert!(fields.len() == 5 && fields[1] == "2000000000" && fields[2] == "false" && fields[4] == "PreemptLowerPriority", "{table}");

    let dns = || cluster.jsonpath(&["pods", "-n", "kube-system", "-l", "k8s-app=kube-dns"], "{range .items[*]}{.metadata.name} {.spec.priorityClassName} {.spec.priority}{\"\\n\"}{end}");
    cluster.wait("the cluster DNS pods", 60, || dns().lines().count() >= 2, || dns() + &describe(cluster, "kube-system"));
    for line in dns().lines() {
        assert!(line.ends_with(" system-cluster-critical 2000000000"), "a DNS pod without the class's priority: {line}");
    }
    Vec::new()
}

const BAD_NS: &str = "bad";

/// Bad input created through kubectl, each with what Kubernetes 1.33 answers
/// (pkg/apis/autoscaling/validation, pkg/apis/policy/validation,
/// plugin/pkg/admission/priority).
const BAD: &[(&str, &str, &str)] = &[
    (
        "an HPA whose minReplicas is above its maxReplicas",
        r#"{"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "min-above-max"},
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}, "minReplicas": 5, "maxReplicas": 2}}"#,
        r#"The HorizontalPodAutoscaler "min-above-max" is invalid: spec.maxReplicas: Invalid value: 2: must be greater than or equal to `minReplicas`"#,
    ),
    (
        "an HPA metric target of a type that does not exist",
        r#"{"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "wrong-target"},
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}, "maxReplicas": 3,
                     "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Percent", "averageUtilization": 50}}}]}}"#,
        r#"The HorizontalPodAutoscaler "wrong-target" is invalid: spec.metrics[0].resource.target.type: Invalid value: "Percent": must be either Utilization, Value, or AverageValue"#,
    ),
    (
        "an HPA metric of type Pods that gives a resource source",
        r#"{"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "wrong-source"},
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}, "maxReplicas": 3,
                     "metrics": [{"type": "Pods", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}}]}}"#,
        r#"The HorizontalPodAutoscaler "wrong-source" is invalid: spec.metrics[0].pods: Required value: must populate information for the given metric source"#,
    ),
    (
        "a pod naming a PriorityClass that does not exist",
        r#"{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "unknown-class"},
            "spec": {"priorityClassName": "nope", "containers": [{"name": "c", "image": "localhost/busybox:local", "command": ["sleep", "100000"]}]}}"#,
        r#"Error from server (Forbidden): error when creating "STDIN": pods "unknown-class" is forbidden: no PriorityClass with name nope was found"#,
    ),
];

/// The budget that refuses to let `held` go, and `held` itself, which a finalizer keeps once it
/// is being deleted.
const HELD: &str = r#"
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: hold}
spec:
  minAvailable: 1
  selector: {matchLabels: {app: held}}
---
apiVersion: v1
kind: Pod
metadata:
  name: held
  labels: {app: held}
  finalizers: [e2e.example.com/hold]
spec:
  terminationGracePeriodSeconds: 1
  containers: [{name: c, image: localhost/busybox:local, imagePullPolicy: IfNotPresent, command: [sleep, "100000"]}]
"#;

/// What is wrong with a refusal: None when kubectl said `expected`.
fn mismatch(what: &str, output: &Output, expected: &str) -> Option<String> {
    let said = output_of(output);
    assert!(!output.status.success(), "{what}: accepted: {said}");
    (!said.contains(expected)).then(|| format!("{what}: expected {expected:?}, got {said:?}"))
}

fn bad_input(cluster: &Cluster) -> Vec<String> {
    let mut wrong = Vec::new();
    for (what, manifest, message) in BAD {
        wrong.extend(mismatch(what, &cluster.kubectl_stdin(&["create", "-n", BAD_NS, "-f", "-"], manifest), message));
    }
    // kube prints the spec as Go's %#v between the two halves, pointers and all.
    let both = r#"{"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "both"},
        "spec": {"minAvailable": 1, "maxUnavailable": 1, "selector": {"matchLabels": {"app": "web"}}}}"#;
    let output = cluster.kubectl_stdin(&["create", "-n", BAD_NS, "-f", "-"], both);
    let said = output_of(&output);
    assert!(!output.status.success(), "a PDB with minAvailable and maxUnavailable: accepted: {said}");
    let (start, end) = (r#"The PodDisruptionBudget "both" is invalid: spec: Invalid value: "#, ": minAvailable and maxUnavailable cannot be both set");
    if !(said.contains(start) && said.trim_end().ends_with(end)) {
        wrong.push(format!("a PDB with minAvailable and maxUnavailable: expected {start:?}...{end:?}, got {said:?}"));
    }
    // pkg/apis/core/validation: ValidateResourceQuotaResourceName after validateResourceName
    // (kubectl's `create quota` words it "error: failed to create quota: ResourceQuota ...").
    let quota = cluster.kubectl(&["create", "quota", "unknown", "-n", BAD_NS, "--hard=foo=1"]);
    let expected = r#"ResourceQuota "unknown" is invalid: [spec.hard[foo]: Invalid value: "foo": must be a standard resource type or fully qualified, spec.hard[foo]: Invalid value: "foo": must be a standard resource for quota]"#;
    wrong.extend(mismatch("a quota of an unknown resource", &quota, expected));
    let run = cluster.kubectl(&["run", "nope", "-n", BAD_NS, "--image=localhost/busybox:local", r#"--overrides={"apiVersion": "v1", "spec": {"priorityClassName": "nope"}}"#, "--", "sleep", "100000"]);
    let expected = r#"Error from server (Forbidden): pods "nope" is forbidden: no PriorityClass with name nope was found"#;
    wrong.extend(mismatch("kubectl run naming a PriorityClass that does not exist", &run, expected));
    for kind in ["hpa", "pdb", "resourcequota", "pods"] {
        assert_eq!(text(&cluster.kubectl(&["get", kind, "-n", BAD_NS, "-o", "name"])), "", "bad input left {kind}");
    }

    // Evictions (pkg/registry/core/pod/storage/eviction.go): a pod that does not exist is 404;
    // a pod its budget protects is 429 with the budget's cause; a pod already being deleted is
    // deleted again without asking its budget (canIgnorePDB), 201 with a Status Success.
    let (code, status) = request(cluster, "POST", &format!("/api/v1/namespaces/{BAD_NS}/pods/missing/eviction"), &eviction(BAD_NS, "missing"));
    if (code, &status["reason"], &status["message"]) != (404, &Value::from("NotFound"), &Value::from(r#"pods "missing" not found"#)) {
        wrong.push(format!("an eviction of a pod that does not exist: expected 404 NotFound 'pods \"missing\" not found', got {code} {status}"));
    }
    ok(cluster.kubectl_stdin(&["create", "-n", BAD_NS, "-f", "-"], HELD));
    ok(cluster.kubectl(&["wait", "-n", BAD_NS, "--for=condition=Ready", "pod/held", "--timeout=90s"]));
    let settled = || get(cluster, BAD_NS, &["pdb", "hold"], "{.status.observedGeneration}/{.metadata.generation} {.status.currentHealthy} {.status.disruptionsAllowed}") == "1/1 1 0";
    cluster.wait("the budget hold counting held", 60, settled, || text(&cluster.kubectl(&["get", "pdb", "hold", "-n", BAD_NS, "-o", "yaml"])));
    let path = format!("/api/v1/namespaces/{BAD_NS}/pods/held/eviction");
    let (code, status) = request(cluster, "POST", &path, &eviction(BAD_NS, "held"));
    let cause = serde_json::json!([{"reason": "DisruptionBudget", "message": "The disruption budget hold needs 1 healthy pods and has 1 currently"}]);
    let expected = (429, Value::from("TooManyRequests"), Value::from("Cannot evict pod as it would violate the pod's disruption budget."), cause);
    if (code, status["reason"].clone(), status["message"].clone(), status["details"]["causes"].clone()) != expected {
        wrong.push(format!("an eviction its budget refuses: expected {expected:?}, got {code} {status}"));
    }
    ok(cluster.kubectl(&["delete", "pod", "held", "-n", BAD_NS, "--wait=false"]));
    let (code, status) = request(cluster, "POST", &path, &eviction(BAD_NS, "held"));
    if (code, &status["status"]) != (201, &Value::from("Success")) {
        wrong.push(format!("an eviction of a pod being deleted: expected 201 and a Status Success, got {code} {status}"));
    }
    assert!(!get(cluster, BAD_NS, &["pod", "held"], "{.metadata.deletionTimestamp}").is_empty(), "held is kept by its finalizer");
    ok(cluster.kubectl(&["patch", "pod", "held", "-n", BAD_NS, "--type=json", "-p", r#"[{"op": "remove", "path": "/metadata/finalizers"}]"#]));
    wrong
}

const QUOTA_NS: &str = "quota";

fn run_sleeper(cluster: &Cluster, namespace: &str, name: &str) -> Output {
    let overrides = r#"{"apiVersion": "v1", "spec": {"terminationGracePeriodSeconds": 1}}"#;
    cluster.kubectl(&["run", name, "-n", namespace, "--image=localhost/busybox:local", "--image-pull-policy=IfNotPresent", &format!("--overrides={overrides}"), "--", "sleep", "100000"])
}

/// `kubectl create quota two --hard=pods=2`: two pods, the third refused with kube's message,
/// admitted once one of the two is gone.
fn resource_quota(cluster: &Cluster) -> Vec<String> {
    let created = ok(cluster.kubectl(&["create", "quota", "two", "-n", QUOTA_NS, "--hard=pods=2"]));
    assert_eq!(created.trim(), "resourcequota/two created");
    // Until the controller has counted, admission refuses every pod ("status unknown for quota").
    let counted = || get(cluster, QUOTA_NS, &["quota", "two"], "{.status.hard.pods} {.status.used.pods}") == "2 0";
    cluster.wait("quota two counted", 60, counted, || describe(cluster, QUOTA_NS));
    ok(run_sleeper(cluster, QUOTA_NS, "p1"));
    ok(run_sleeper(cluster, QUOTA_NS, "p2"));
    let third = run_sleeper(cluster, QUOTA_NS, "p3");
    let said = output_of(&third);
    assert!(!third.status.success(), "the third pod was admitted: {said}");
    let expected = r#"Error from server (Forbidden): pods "p3" is forbidden: exceeded quota: two, requested: pods=1, used: pods=2, limited: pods=2"#;
    assert!(said.contains(expected), "expected {expected:?}, got {said:?}");
    eprintln!("{}", said.trim_end());
    assert_eq!(get(cluster, QUOTA_NS, &["quota", "two"], "{.status.used.pods}"), "2");
    let table = ok(cluster.kubectl(&["get", "quota", "-n", QUOTA_NS]));
    let header: Vec<&str> = table.lines().next().unwrap_or_default().split_whitespace().collect();
    assert_eq!(header, ["NAME", "AGE", "REQUEST", "LIMIT"], "{table}");
    assert!(table.lines().nth(1).is_some_and(|row| row.starts_with("two ") && row.contains("pods: 2/2")), "{table}");
    // The controller gives the usage back when a pod goes.
    ok(cluster.kubectl(&["delete", "pod", "p1", "-n", QUOTA_NS, "--timeout=60s"]));
    let released = || get(cluster, QUOTA_NS, &["quota", "two"], "{.status.used.pods}") == "1";
    cluster.wait("quota two giving p1's pod back", 60, released, || describe(cluster, QUOTA_NS));
    ok(run_sleeper(cluster, QUOTA_NS, "p3"));
    Vec::new()
}

const HPA_NS: &str = "hpa";

/// Burns a CPU (throttled by its limit to twice its request) until /tmp/stop exists, then idles.
const BURN: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: burn}
spec:
  replicas: 1
  selector: {matchLabels: {app: burn}}
  template:
    metadata: {labels: {app: burn}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: burn
        image: localhost/busybox:local
        imagePullPolicy: IfNotPresent
        command: [sh, -c, "while [ ! -e /tmp/stop ]; do :; done; exec sleep 100000"]
        resources: {requests: {cpu: 100m, memory: 16Mi}, limits: {cpu: 200m, memory: 64Mi}}
"#;

/// The utilization `kubectl get hpa` shows for cpu (`cpu: 200%/50%`), when it shows one.
fn shown_utilization(table: &str) -> Option<u32> {
    let row = table.lines().find(|line| line.starts_with("burn "))?;
    let (current, _) = row.split_once("cpu: ")?.1.split_once("%/50%")?;
    current.parse().ok()
}

fn horizontal_pod_autoscaler(cluster: &Cluster) -> Vec<String> {
    let deployment = |path: &str| get(cluster, HPA_NS, &["deployment", "burn"], path);
    ok(cluster.kubectl_stdin(&["apply", "-n", HPA_NS, "-f", "-"], BURN));
    ok(cluster.kubectl(&["rollout", "status", "-n", HPA_NS, "deployment/burn", "--timeout=90s"]));
    let began = Instant::now();
    let created = ok(cluster.kubectl(&["autoscale", "deployment", "burn", "-n", HPA_NS, "--cpu-percent=50", "--min=1", "--max=3"]));
    assert_eq!(created.trim(), "horizontalpodautoscaler.autoscaling/burn autoscaled");
    // A short scale-down stabilization (kube's default is 5 minutes).
    let behavior = r#"{"spec": {"behavior": {"scaleDown": {"stabilizationWindowSeconds": 15}}}}"#;
    ok(cluster.kubectl(&["patch", "hpa", "burn", "-n", HPA_NS, "--type=merge", "-p", behavior]));
    let hpa = |path: &str| get(cluster, HPA_NS, &["horizontalpodautoscalers.v2.autoscaling", "burn"], path);
    assert_eq!(hpa("{.spec.minReplicas} {.spec.maxReplicas} {.spec.metrics[0].resource.name} {.spec.metrics[0].resource.target.averageUtilization}"), "1 3 cpu 50");
    // The rest of the behavior keeps kube's defaults (SetDefaults_HorizontalPodAutoscalerBehavior).
    assert_eq!(hpa("{.spec.behavior.scaleDown.stabilizationWindowSeconds} {.spec.behavior.scaleDown.selectPolicy} {.spec.behavior.scaleUp.stabilizationWindowSeconds}"), "15 Max 0");

    // 1 → 3 within 2 minutes of the HPA.
    let at_three = || deployment("{.spec.replicas} {.status.readyReplicas}") == "3 3";
    cluster.wait("burn scaled to 3 replicas", 120u64.saturating_sub(began.elapsed().as_secs()), at_three, || text(&cluster.kubectl(&["describe", "hpa", "burn", "-n", HPA_NS])) + &describe(cluster, HPA_NS));
    eprintln!("autoscaling e2e: 1 → 3 replicas {:.0} s after kubectl autoscale", began.elapsed().as_secs_f64());
    let table = || text(&cluster.kubectl(&["get", "hpa", "burn", "-n", HPA_NS]));
    // The status the scale was written with still counts the replicas before it; the next sync
    // (15 s) counts 3.
    let shows_three = || {
        let shown = table();
        shown_utilization(&shown).is_some_and(|percent| percent > 50) && shown.lines().nth(1).is_some_and(|row| row.split_whitespace().nth(6) == Some("3"))
    };
    cluster.wait("kubectl get hpa showing the cpu above 50% and 3 replicas", 60, shows_three, table);
    let shown = table();
    eprintln!("{shown}");
    let header: Vec<&str> = shown.lines().next().unwrap_or_default().split_whitespace().collect();
    assert_eq!(header, ["NAME", "REFERENCE", "TARGETS", "MINPODS", "MAXPODS", "REPLICAS", "AGE"], "{shown}");
    assert!(shown.contains("Deployment/burn"), "{shown}");
    assert_eq!(condition(cluster, HPA_NS, &["horizontalpodautoscalers.v2.autoscaling", "burn"], "ScalingActive", "reason"), "ValidMetricFound");
    wait_for_event(cluster, HPA_NS, "burn", "Normal SuccessfulRescale New size: 3; reason: cpu resource utilization (percentage of request) above target", 30);

    // The load stops in every pod: back to 1.
    let stopped = Instant::now();
    for pod in live_pods(cluster, HPA_NS, "app=burn") {
        ok(cluster.kubectl(&["exec", "-n", HPA_NS, &pod, "--", "touch", "/tmp/stop"]));
    }
    let at_one = || deployment("{.spec.replicas}") == "1" && live_pods(cluster, HPA_NS, "app=burn").len() == 1;
    cluster.wait("burn back to 1 replica", 120, at_one, || text(&cluster.kubectl(&["describe", "hpa", "burn", "-n", HPA_NS])) + &describe(cluster, HPA_NS));
    eprintln!("autoscaling e2e: 3 → 1 replica {:.0} s after the load stopped", stopped.elapsed().as_secs_f64());
    wait_for_event(cluster, HPA_NS, "burn", "Normal SuccessfulRescale New size: 1; reason: All metrics below target", 30);
    Vec::new()
}

const BUDGET_NS: &str = "budget";

fn web(node: &str) -> String {
    format!(
        r#"
apiVersion: apps/v1
kind: Deployment
metadata: {{name: web}}
spec:
  replicas: 2
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      nodeSelector: {{kubernetes.io/hostname: {node}}}
      terminationGracePeriodSeconds: 1
      containers: [{{name: web, image: localhost/busybox:local, imagePullPolicy: IfNotPresent, command: [sleep, "100000"]}}]
"#
    )
}

/// A budget of `minAvailable` = the replicas, all on one node: drain stops at it; lowered, drain
/// passes; uncordoned, the pods come back to the node.
fn disruption_budget_and_drain(cluster: &Cluster) -> Vec<String> {
    let node = cluster.node("worker2");
    ok(cluster.kubectl_stdin(&["apply", "-n", BUDGET_NS, "-f", "-"], &web(&node)));
    ok(cluster.kubectl(&["rollout", "status", "-n", BUDGET_NS, "deployment/web", "--timeout=90s"]));
    let pods = live_pods(cluster, BUDGET_NS, "app=web");
    assert_eq!(pods.len(), 2);
    assert!(pods.iter().all(|pod| pod_is_running_on(cluster, BUDGET_NS, pod, &node)), "{}", describe(cluster, BUDGET_NS));

    let created = ok(cluster.kubectl(&["create", "pdb", "web", "-n", BUDGET_NS, "--selector=app=web", "--min-available=2"]));
    assert_eq!(created.trim(), "poddisruptionbudget.policy/web created");
    let status = || get(cluster, BUDGET_NS, &["pdb", "web"], "{.status.observedGeneration}/{.metadata.generation} {.status.expectedPods} {.status.currentHealthy} {.status.desiredHealthy} {.status.disruptionsAllowed}");
    cluster.wait("the budget counted", 60, || status() == "1/1 2 2 2 0", || status() + "\n" + &describe(cluster, BUDGET_NS));
    let allowed = |field: &str| condition(cluster, BUDGET_NS, &["pdb", "web"], "DisruptionAllowed", field);
    assert_eq!((allowed("status"), allowed("reason")), ("False".to_string(), "InsufficientPods".to_string()));
    let table = ok(cluster.kubectl(&["get", "pdb", "-n", BUDGET_NS]));
    let rows: Vec<Vec<&str>> = table.lines().map(|line| line.split_whitespace().collect()).collect();
    assert_eq!(rows.first().map(|header| header.join(" ")), Some("NAME MIN AVAILABLE MAX UNAVAILABLE ALLOWED DISRUPTIONS AGE".to_string()), "{table}");
    assert_eq!(rows.get(1).map(|row| row[..4].join(" ")), Some("web 2 N/A 0".to_string()), "{table}");

    // Drain cordons, then stops at the budget: kubectl retries the 429 until its timeout.
    let drain = |timeout: &str| cluster.kubectl(&["drain", &node, "--ignore-daemonsets", "--delete-emptydir-data", &format!("--timeout={timeout}")]);
    let blocked = drain("20s");
    let said = output_of(&blocked);
    assert!(!blocked.status.success(), "drain passed a budget with no disruption allowed: {said}");
    assert!(said.contains(&format!("node/{node} cordoned")), "{said}");
    assert!(said.contains("Cannot evict pod as it would violate the pod's disruption budget."), "{said}");
    eprintln!("{said}");
    assert_eq!(cluster.jsonpath(&["node", &node], "{.spec.unschedulable}"), "true");
    assert_eq!(live_pods(cluster, BUDGET_NS, "app=web"), pods, "the budget's pods are still there");

    // The budget lowered: every pod may go.
    ok(cluster.kubectl(&["patch", "pdb", "web", "-n", BUDGET_NS, "--type=merge", "-p", r#"{"spec": {"minAvailable": 0}}"#]));
    cluster.wait("the lowered budget counted", 60, || status() == "2/2 2 2 0 2", || status() + "\n" + &describe(cluster, BUDGET_NS));
    let passed = drain("120s");
    let said = output_of(&passed);
    assert!(passed.status.success(), "drain of a node whose budget allows: {said}");
    assert!(said.contains(&format!("node/{node} drained")), "{said}");
    assert!(pods.iter().all(|pod| said.contains(&format!("pod/{pod} evicted"))), "{said}");
    let on_node = || cluster.jsonpath(&["pods", "-A", &format!("--field-selector=spec.nodeName={node}")], "{range .items[*]}{.metadata.namespace}/{.metadata.name}{\"\\n\"}{end}");
    assert!(on_node().lines().all(|pod| !pod.starts_with(&format!("{BUDGET_NS}/"))), "{}", on_node());

    // Uncordoned, the replacements (Pending meanwhile: their node was cordoned) run there.
    assert_eq!(ok(cluster.kubectl(&["uncordon", &node])).trim(), format!("node/{node} uncordoned"));
    ok(cluster.kubectl(&["rollout", "status", "-n", BUDGET_NS, "deployment/web", "--timeout=90s"]));
    let back = live_pods(cluster, BUDGET_NS, "app=web");
    assert!(back.iter().all(|pod| !pods.contains(pod) && pod_is_running_on(cluster, BUDGET_NS, pod, &node)), "{}", describe(cluster, BUDGET_NS));
    Vec::new()
}

const PREEMPTION_NS: &str = "prio";

fn pinned_pod(name: &str, class: &str, node: &str, millicores: i64) -> String {
    format!(
        r#"{{"apiVersion": "v1", "kind": "Pod", "metadata": {{"name": "{name}", "labels": {{"app": "{class}"}}}},
            "spec": {{"priorityClassName": "{class}", "nodeSelector": {{"kubernetes.io/hostname": "{node}"}}, "terminationGracePeriodSeconds": 1,
                     "containers": [{{"name": "c", "image": "localhost/busybox:local", "imagePullPolicy": "IfNotPresent", "command": ["sleep", "100000"],
                                     "resources": {{"requests": {{"cpu": "{millicores}m", "memory": "16Mi"}}}}}}]}}}}"#
    )
}

/// The CPU the pods bound to `node` request (what the scheduler counts): those not finished.
fn requested_on(cluster: &Cluster, node: &str) -> i64 {
    let list: Value = serde_json::from_str(&ok(cluster.kubectl(&["get", "pods", "-A", &format!("--field-selector=spec.nodeName={node}"), "-o", "json"]))).unwrap();
    let pods = list["items"].as_array().cloned().unwrap_or_default();
    pods.iter()
        .filter(|pod| !matches!(pod["status"]["phase"].as_str(), Some("Succeeded" | "Failed")))
        .flat_map(|pod| pod["spec"]["containers"].as_array().cloned().unwrap_or_default())
        .filter_map(|container| container["resources"]["requests"]["cpu"].as_str().map(millicores))
        .sum()
}

/// A worker filled with two low-priority pods; a high-priority pod pinned there preempts one.
fn preemption(cluster: &Cluster) -> Vec<String> {
    let node = cluster.node("worker");
    assert_eq!(ok(cluster.kubectl(&["create", "priorityclass", "low", "--value=100", "--description=may be preempted"])).trim(), "priorityclass.scheduling.k8s.io/low created");
    ok(cluster.kubectl(&["create", "priorityclass", "high", "--value=1000"]));
    assert_eq!(cluster.jsonpath(&["priorityclass", "high"], "{.value} {.preemptionPolicy} {.globalDefault}"), "1000 PreemptLowerPriority ");

    // What the node has left, once the earlier parts' pods are gone from it.
    let going = || cluster.jsonpath(&["pods", "-A", &format!("--field-selector=spec.nodeName={node}")], "{range .items[*]}{.metadata.deletionTimestamp}{end}");
    cluster.wait("no pod leaving the node", 90, || going().is_empty(), || describe(cluster, PREEMPTION_NS));
    let allocatable = millicores(&cluster.jsonpath(&["node", &node], "{.status.allocatable.cpu}"));
    let free = allocatable - requested_on(cluster, &node);
    let each = free / 2;
    assert!(each > 100, "{node} has {free}m of {allocatable}m cpu free");
    for name in ["low-1", "low-2"] {
        ok(cluster.kubectl_stdin(&["create", "-n", PREEMPTION_NS, "-f", "-"], &pinned_pod(name, "low", &node, each)));
        ok(cluster.kubectl(&["wait", "-n", PREEMPTION_NS, "--for=condition=Ready", &format!("pod/{name}"), "--timeout=90s"]));
        assert!(pod_is_running_on(cluster, PREEMPTION_NS, name, &node), "{}", describe(cluster, PREEMPTION_NS));
        assert_eq!(get(cluster, PREEMPTION_NS, &["pod", name], "{.spec.priority} {.spec.preemptionPolicy}"), "100 PreemptLowerPriority");
    }

    // The node is full for a pod of `each`: one low pod must go.
    ok(cluster.kubectl_stdin(&["create", "-n", PREEMPTION_NS, "-f", "-"], &pinned_pod("high", "high", &node, each)));
    assert_eq!(get(cluster, PREEMPTION_NS, &["pod", "high"], "{.spec.priority}"), "1000");
    let uid = get(cluster, PREEMPTION_NS, &["pod", "high"], "{.metadata.uid}");
    let preempted = format!("Normal Preempted Preempted by pod {uid} on node {node}");
    let victims = || -> Vec<&str> { ["low-1", "low-2"].into_iter().filter(|pod| events_of(cluster, PREEMPTION_NS, pod).lines().any(|line| line == preempted)).collect() };
    cluster.wait("a low-priority pod preempted", 90, || !victims().is_empty(), || events_of(cluster, PREEMPTION_NS, "low-1") + &events_of(cluster, PREEMPTION_NS, "low-2") + &describe(cluster, PREEMPTION_NS));
    cluster.wait("the high-priority pod running on the node", 90, || pod_is_running_on(cluster, PREEMPTION_NS, "high", &node), || describe(cluster, PREEMPTION_NS));
    // One victim is enough (kube-scheduler reprieves every pod that still fits); the other stays.
    let victims = victims();
    assert_eq!(victims.len(), 1, "{victims:?}: {}", describe(cluster, PREEMPTION_NS));
    let (victim, survivor) = if victims[0] == "low-1" { ("low-1", "low-2") } else { ("low-2", "low-1") };
    let gone = || text(&cluster.kubectl(&["get", "pod", victim, "-n", PREEMPTION_NS, "--ignore-not-found", "-o", "name"])).trim().is_empty();
    cluster.wait("the victim gone", 60, gone, || describe(cluster, PREEMPTION_NS));
    eprintln!("{victim}: {preempted}");
    assert!(pod_is_running_on(cluster, PREEMPTION_NS, survivor, &node), "{}", describe(cluster, PREEMPTION_NS));
    let scheduled = events_of(cluster, PREEMPTION_NS, "high");
    assert!(scheduled.lines().any(|line| line.starts_with("Normal Scheduled ") && line.ends_with(&format!(" to {node}"))), "{scheduled}");
    Vec::new()
}
