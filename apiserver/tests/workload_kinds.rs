//! The workload kinds served from their declarations alone (`kinds/batch/cron_job.rs`,
//! `kinds/apps/{daemon_set,stateful_set,controller_revision}.rs`), through the real binary:
//! bad input gets kube-apiserver 1.33's 422 (field path and message), the real `kubectl` lists,
//! prints and scales them.

use std::process::{Command, Output};

use common::testing::{ApiServer, Storage};
use http::Client;
use serde_json::{Value, json};

#[path = "support/http.rs"]
mod http;

common::on_both_stores!(bad_workloads_get_kube_apiservers_422, kubectl_lists_prints_and_scales_the_workload_kinds);

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

fn log_tail(server: &ApiServer) -> String {
    let text = std::fs::read_to_string(server.log_path()).unwrap_or_default();
    let lines: Vec<&str> = text.lines().rev().take(30).collect();
    lines.into_iter().rev().collect::<Vec<_>>().join("\n")
}

fn pod_template(labels: Value, restart_policy: &str) -> Value {
    json!({"metadata": {"labels": labels}, "spec": {"restartPolicy": restart_policy, "containers": [{"name": "c", "image": "busybox:1"}]}})
}

fn cron_job(name: &str) -> Value {
    json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": name},
        "spec": {"schedule": "*/5 * * * *", "jobTemplate": {"spec": {"template": pod_template(json!({"job": name}), "OnFailure")}}}})
}

fn job(name: &str) -> Value {
    json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name}, "spec": {"template": pod_template(json!({"job": name}), "Never")}})
}

fn daemon_set(name: &str) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": name},
        "spec": {"selector": {"matchLabels": {"app": name}}, "template": pod_template(json!({"app": name}), "Always")}})
}

fn stateful_set(name: &str) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": name},
        "spec": {"serviceName": name, "replicas": 1, "selector": {"matchLabels": {"app": name}}, "template": pod_template(json!({"app": name}), "Always"),
                 "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]}})
}

fn controller_revision(name: &str) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "ControllerRevision", "metadata": {"name": name}, "data": {"spec": {"template": {}}}, "revision": 1})
}

/// `object` with the value at a JSON pointer replaced (or added, its parent existing).
fn with(mut object: Value, pointer: &str, value: Value) -> Value {
    let (parent, key) = pointer.rsplit_once('/').unwrap_or_else(|| panic!("{pointer} is no pointer"));
    match object.pointer_mut(parent) {
        Some(Value::Object(fields)) => {
            fields.insert(key.to_string(), value);
        }
        _ => panic!("nothing at {parent}"),
    }
    object
}

const APPS: &str = "/apis/apps/v1/namespaces/default";
const BATCH: &str = "/apis/batch/v1/namespaces/default";

async fn bad_workloads_get_kube_apiservers_422(storage: Storage) {
    let server = ApiServer::start(storage).unwrap_or_else(|err| panic!("starting the apiserver: {err}"));
    let client = Client::new(&server);
    // What updates start from.
    for (collection, object) in [
        (format!("{APPS}/statefulsets"), stateful_set("db")),
        (format!("{APPS}/daemonsets"), daemon_set("agent")),
        (format!("{APPS}/controllerrevisions"), controller_revision("db-1")),
        (format!("{BATCH}/cronjobs"), cron_job("hello")),
    ] {
        let (code, created) = client.json("POST", &collection, &object).await;
        assert_eq!(code, 201, "{created}");
    }
    let db = client.get(&format!("{APPS}/statefulsets/db")).await.1;
    let agent = client.get(&format!("{APPS}/daemonsets/agent")).await.1;
    let revision = client.get(&format!("{APPS}/controllerrevisions/db-1")).await.1;
    let hello = client.get(&format!("{BATCH}/cronjobs/hello")).await.1;
    let forbidden = "Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden";
    let mismatch = "Invalid value: map[string]string{\"app\":\"other\"}: `selector` does not match template `labels`";
    // (what, method, path, body, the whole message's start, the cause's field and message)
    let rows: Vec<(&str, &str, String, Value, &str, &str, String)> = vec![
        ("an invalid schedule", "POST", format!("{BATCH}/cronjobs"), with(cron_job("bad"), "/spec/schedule", json!("61 * * * *")),
         "CronJob.batch \"bad\" is invalid: ", "spec.schedule", "Invalid value: \"61 * * * *\": end of range (61) above maximum (59): 61".into()),
        ("too few fields", "POST", format!("{BATCH}/cronjobs"), with(cron_job("bad"), "/spec/schedule", json!("* * *")),
         "CronJob.batch \"bad\" is invalid: ", "spec.schedule", "Invalid value: \"* * *\": expected exactly 5 fields, found 3: [* * *]".into()),
        ("a zone in the schedule", "POST", format!("{BATCH}/cronjobs"), with(cron_job("bad"), "/spec/schedule", json!("CRON_TZ=UTC 0 * * * *")),
         "CronJob.batch \"bad\" is invalid: ", "spec.schedule", "Invalid value: \"CRON_TZ=UTC 0 * * * *\": cannot use TZ or CRON_TZ in schedule, use timeZone field instead".into()),
        ("an unknown time zone", "POST", format!("{BATCH}/cronjobs"), with(cron_job("bad"), "/spec/timeZone", json!("Mars/Olympus")),
         "CronJob.batch \"bad\" is invalid: ", "spec.timeZone", "Invalid value: \"Mars/Olympus\": unknown time zone Mars/Olympus".into()),
        ("a time zone changed to an unknown one", "PUT", format!("{BATCH}/cronjobs/hello"), with(hello.clone(), "/spec/timeZone", json!("Europe/Atlantis")),
         "CronJob.batch \"hello\" is invalid: ", "spec.timeZone", "Invalid value: \"Europe/Atlantis\": unknown time zone Europe/Atlantis".into()),
        ("a job template that restarts in place", "POST", format!("{BATCH}/cronjobs"), with(cron_job("bad"), "/spec/jobTemplate/spec/template/spec/restartPolicy", json!("Always")),
         "CronJob.batch \"bad\" is invalid: ", "spec.jobTemplate.spec.template.spec.restartPolicy", "Required value: valid values: \"OnFailure\", \"Never\"".into()),
        ("a long CronJob name", "POST", format!("{BATCH}/cronjobs"), with(cron_job("bad"), "/metadata/name", json!("a".repeat(53))),
         "CronJob.batch \"aaaa", "metadata.name", format!("Invalid value: \"{}\": must be no more than 52 characters", "a".repeat(53))),
        ("a Job that restarts in place", "POST", format!("{BATCH}/jobs"), with(job("bad"), "/spec/template/spec/restartPolicy", json!("Always")),
         "Job.batch \"bad\" is invalid: ", "spec.template.spec.restartPolicy", "Required value: valid values: \"OnFailure\", \"Never\"".into()),
        ("an Indexed Job wider than kube allows", "POST", format!("{BATCH}/jobs"), with(with(with(job("bad"), "/spec/completionMode", json!("Indexed")), "/spec/completions", json!(3)), "/spec/parallelism", json!(100_001)),
         "Job.batch \"bad\" is invalid: ", "spec.parallelism", "Invalid value: 100001: must be less than or equal to 100000 when completion mode is Indexed".into()),
        ("more failed indexes allowed than completions", "POST", format!("{BATCH}/jobs"),
         with(with(with(with(job("bad"), "/spec/completionMode", json!("Indexed")), "/spec/completions", json!(3)), "/spec/backoffLimitPerIndex", json!(1)), "/spec/maxFailedIndexes", json!(4)),
         "Job.batch \"bad\" is invalid: ", "spec.maxFailedIndexes", "Invalid value: 4: must be less than or equal to completions".into()),
        ("negative completions", "POST", format!("{BATCH}/jobs"), with(job("bad"), "/spec/completions", json!(-2)),
         "Job.batch \"bad\" is invalid: ", "spec.completions", "Invalid value: -2: must be greater than or equal to 0".into()),
        ("negative parallelism", "POST", format!("{BATCH}/jobs"), with(job("bad"), "/spec/parallelism", json!(-1)),
         "Job.batch \"bad\" is invalid: ", "spec.parallelism", "Invalid value: -1: must be greater than or equal to 0".into()),
        ("a DaemonSet selector that misses its template", "POST", format!("{APPS}/daemonsets"), with(daemon_set("bad"), "/spec/template/metadata/labels", json!({"app": "other"})),
         "DaemonSet.apps \"bad\" is invalid: ", "spec.template.metadata.labels", mismatch.into()),
        ("a DaemonSet that restarts never", "POST", format!("{APPS}/daemonsets"), with(daemon_set("bad"), "/spec/template/spec/restartPolicy", json!("Never")),
         "DaemonSet.apps \"bad\" is invalid: ", "spec.template.spec.restartPolicy", "Unsupported value: \"Never\": supported values: \"Always\"".into()),
        ("a DaemonSet that neither surges nor goes down", "POST", format!("{APPS}/daemonsets"), with(daemon_set("bad"), "/spec/updateStrategy", json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0}})),
         "DaemonSet.apps \"bad\" is invalid: ", "spec.updateStrategy.rollingUpdate.maxUnavailable", "Required value: cannot be 0 when maxSurge is 0".into()),
        ("a DaemonSet's new selector", "PUT", format!("{APPS}/daemonsets/agent"), with(with(agent.clone(), "/spec/selector", json!({"matchLabels": {"app": "new"}})), "/spec/template/metadata/labels", json!({"app": "new"})),
         "DaemonSet.apps \"agent\" is invalid: ", "spec.selector", "Invalid value: {\"matchLabels\":{\"app\":\"new\"}}: field is immutable".into()),
        ("a StatefulSet selector that misses its template", "POST", format!("{APPS}/statefulsets"), with(stateful_set("bad"), "/spec/template/metadata/labels", json!({"app": "other"})),
         "StatefulSet.apps \"bad\" is invalid: ", "spec.template.metadata.labels", mismatch.into()),
        ("negative replicas", "POST", format!("{APPS}/statefulsets"), with(stateful_set("bad"), "/spec/replicas", json!(-3)),
         "StatefulSet.apps \"bad\" is invalid: ", "spec.replicas", "Invalid value: -3: must be greater than or equal to 0".into()),
        ("a negative first ordinal", "POST", format!("{APPS}/statefulsets"), with(stateful_set("bad"), "/spec/ordinals", json!({"start": -1})),
         "StatefulSet.apps \"bad\" is invalid: ", "spec.ordinals.start", "Invalid value: -1: must be greater than or equal to 0".into()),
        ("another service name", "PUT", format!("{APPS}/statefulsets/db"), with(db.clone(), "/spec/serviceName", json!("other")),
         "StatefulSet.apps \"db\" is invalid: ", "spec", forbidden.into()),
        ("other claim templates", "PUT", format!("{APPS}/statefulsets/db"), with(db.clone(), "/spec/volumeClaimTemplates", json!([])),
         "StatefulSet.apps \"db\" is invalid: ", "spec", forbidden.into()),
        ("a revision's new data", "PUT", format!("{APPS}/controllerrevisions/db-1"), with(revision.clone(), "/data", json!({"spec": {"replicas": 2}})),
         "ControllerRevision.apps \"db-1\" is invalid: ", "data", "Invalid value: {\"spec\":{\"replicas\":2}}: field is immutable".into()),
        ("a negative revision", "POST", format!("{APPS}/controllerrevisions"), with(controller_revision("bad"), "/revision", json!(-1)),
         "ControllerRevision.apps \"bad\" is invalid: ", "revision", "Invalid value: -1: must be greater than or equal to 0".into()),
    ];
    for (what, method, path, body, start, field, message) in rows {
        let (code, status) = client.json(method, &path, &body).await;
        assert_eq!((code, status["reason"].as_str()), (422, Some("Invalid")), "{what}: {status}");
        let causes: Vec<(&str, &str)> = status["details"]["causes"].as_array().into_iter().flatten()
            .map(|cause| (cause["field"].as_str().unwrap_or_default(), cause["message"].as_str().unwrap_or_default()))
            .collect();
        assert_eq!(causes, [(field, message.as_str())], "{what}: {status}");
        let text = status["message"].as_str().unwrap_or_default();
        assert!(text.starts_with(start) && text.ends_with(&format!("{field}: {message}")), "{what}: {text}");
    }
    // Nothing of it was stored, nor changed.
    let (_, list) = client.get(&format!("{APPS}/statefulsets")).await;
    assert_eq!(list["items"].as_array().map(Vec::len), Some(1), "{list}");
    let (_, after) = client.get(&format!("{APPS}/statefulsets/db")).await;
    assert_eq!(after["metadata"]["resourceVersion"], db["metadata"]["resourceVersion"]);
    // What an update may change, it changes, and the spec's generation follows.
    let (code, scaled) = client.json("PUT", &format!("{APPS}/statefulsets/db"), &with(db.clone(), "/spec/replicas", json!(2))).await;
    assert_eq!((code, scaled["spec"]["replicas"].clone(), scaled["metadata"]["generation"].clone()), (200, json!(2), json!(2)), "{scaled}");
}

async fn kubectl_lists_prints_and_scales_the_workload_kinds(storage: Storage) {
    let server = ApiServer::start(storage).unwrap_or_else(|err| panic!("starting the apiserver: {err}"));
    let resources = kubectl_ok(&server, &["api-resources", "--api-group=apps", "--no-headers"]);
    let rows: Vec<Vec<&str>> = resources.lines().map(|line| line.split_whitespace().collect()).collect();
    for expected in [
        vec!["controllerrevisions", "apps/v1", "true", "ControllerRevision"],
        vec!["daemonsets", "ds", "apps/v1", "true", "DaemonSet"],
        vec!["statefulsets", "sts", "apps/v1", "true", "StatefulSet"],
    ] {
        assert!(rows.contains(&expected), "{expected:?} in\n{resources}");
    }
    let batch = kubectl_ok(&server, &["api-resources", "--api-group=batch", "--no-headers"]);
    assert!(batch.lines().any(|line| line.split_whitespace().collect::<Vec<_>>() == ["cronjobs", "cj", "batch/v1", "true", "CronJob"]), "{batch}");

    // kubectl create sends protobuf; apply sends JSON.
    assert_eq!(kubectl_ok(&server, &["create", "cronjob", "hello", "--image=busybox", "--schedule=*/1 * * * *", "--", "date"]).trim(), "cronjob.batch/hello created");
    let dir = tempfile::tempdir().unwrap_or_else(|err| panic!("{err}"));
    let manifest = dir.path().join("workloads.json");
    let list = json!({"apiVersion": "v1", "kind": "List", "items": [daemon_set("agent"), stateful_set("db"), controller_revision("db-1")]});
    std::fs::write(&manifest, list.to_string()).unwrap_or_else(|err| panic!("{err}"));
    let applied = kubectl_ok(&server, &["apply", "-f", &manifest.display().to_string()]);
    assert_eq!(applied.lines().collect::<Vec<_>>(), ["daemonset.apps/agent created", "statefulset.apps/db created", "controllerrevision.apps/db-1 created"], "{applied}");

    let created: Value = serde_json::from_str(&kubectl_ok(&server, &["get", "cj", "hello", "-o", "json"])).unwrap_or_default();
    assert_eq!(created["spec"]["schedule"], "*/1 * * * *", "{created}");
    assert_eq!(created["spec"]["concurrencyPolicy"], "Allow", "{created}");
    assert_eq!(created["spec"]["jobTemplate"]["spec"]["template"]["spec"]["restartPolicy"], "OnFailure", "{created}");

    let tables = kubectl_ok(&server, &["get", "cronjobs,daemonsets,statefulsets,controllerrevisions"]);
    let headers: Vec<Vec<&str>> = tables.lines().filter(|line| line.starts_with("NAME")).map(|line| line.split_whitespace().collect()).collect();
    assert_eq!(headers, [
        vec!["NAME", "SCHEDULE", "TIMEZONE", "SUSPEND", "ACTIVE", "LAST", "SCHEDULE", "AGE"],
        vec!["NAME", "DESIRED", "CURRENT", "READY", "UP-TO-DATE", "AVAILABLE", "NODE", "SELECTOR", "AGE"],
        vec!["NAME", "READY", "AGE"],
        vec!["NAME", "CONTROLLER", "REVISION", "AGE"],
    ], "{tables}");
    let row = |prefix: &str| tables.lines().find(|line| line.starts_with(prefix)).map(|line| line.split_whitespace().collect::<Vec<_>>()).unwrap_or_default();
    assert_eq!(row("cronjob.batch/hello")[..7], ["cronjob.batch/hello", "*/1", "*", "*", "*", "*", "<none>"], "{tables}");
    assert_eq!(row("cronjob.batch/hello")[7..10], ["False", "0", "<none>"], "{tables}");
    assert_eq!(row("daemonset.apps/agent")[..7], ["daemonset.apps/agent", "0", "0", "0", "0", "0", "<none>"], "{tables}");
    assert_eq!(row("statefulset.apps/db")[..2], ["statefulset.apps/db", "0/1"], "{tables}");
    assert_eq!(row("controllerrevision.apps/db-1")[..3], ["controllerrevision.apps/db-1", "<none>", "1"], "{tables}");
    let wide = kubectl_ok(&server, &["get", "statefulsets", "-o", "wide"]);
    assert_eq!(wide.lines().next().map(|line| line.split_whitespace().collect::<Vec<_>>()), Some(vec!["NAME", "READY", "AGE", "CONTAINERS", "IMAGES"]), "{wide}");
    // `kubectl get all` takes the workloads, not their revisions.
    let all = kubectl_ok(&server, &["get", "all", "-o", "name"]);
    for name in ["cronjob.batch/hello", "daemonset.apps/agent", "statefulset.apps/db"] {
        assert!(all.lines().any(|line| line == name), "{name} in\n{all}");
    }
    assert!(!all.contains("controllerrevision"), "{all}");

    // The scale subresource, as for Deployments.
    assert_eq!(kubectl_ok(&server, &["scale", "statefulset", "db", "--replicas=3"]).trim(), "statefulset.apps/db scaled");
    assert_eq!(kubectl_ok(&server, &["get", "sts", "db", "-o", "jsonpath={.spec.replicas} {.metadata.generation}"]), "3 2");
    let client = Client::new(&server);
    let (code, scale) = client.get(&format!("{APPS}/statefulsets/db/scale")).await;
    assert_eq!((code, scale["kind"].as_str(), scale["spec"]["replicas"].clone(), scale["status"]["selector"].as_str()), (200, Some("Scale"), json!(3), Some("app=db")), "{scale}");

    // kubectl shows kube's 422 as kube-apiserver words it.
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, with(cron_job("nightly"), "/spec/schedule", json!("0 25 * * *")).to_string()).unwrap_or_else(|err| panic!("{err}"));
    let refused = kubectl(&server, &["apply", "-f", &bad.display().to_string()]);
    assert!(!refused.status.success());
    assert_eq!(
        String::from_utf8_lossy(&refused.stderr),
        "The CronJob \"nightly\" is invalid: spec.schedule: Invalid value: \"0 25 * * *\": end of range (25) above maximum (23): 25\n"
    );
    let update = dir.path().join("update.json");
    std::fs::write(&update, with(stateful_set("db"), "/spec/serviceName", json!("elsewhere")).to_string()).unwrap_or_else(|err| panic!("{err}"));
    let refused = kubectl(&server, &["apply", "-f", &update.display().to_string()]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("\"db\" is invalid: spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"), "{stderr}");

    let explained = kubectl_ok(&server, &["explain", "cronjobs.spec.timeZone"]);
    assert!(explained.contains("FIELD: timeZone <string>"), "{explained}");
    assert_eq!(kubectl_ok(&server, &["delete", "cronjob", "hello"]).trim(), "cronjob.batch \"hello\" deleted");
    assert_eq!(kubectl_ok(&server, &["delete", "sts", "db"]).trim(), "statefulset.apps \"db\" deleted");
}
