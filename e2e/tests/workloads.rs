//! End to end on a kind-style 3-node cluster, driven by kubectl: Jobs (parallel completions,
//! failure at the backoff limit, Indexed), a CronJob every minute and `kubectl create job
//! --from=cronjob/...`, a DaemonSet on every node that rolls and rolls back, and a StatefulSet
//! that comes up in order behind its headless Service, comes back by name, and scales down from
//! the top.

#![allow(clippy::unwrap_used)]

mod support;

use std::collections::BTreeSet;

use support::{Cluster, ok, text};

const NS: &str = "work";

fn apply(cluster: &Cluster, manifest: &str) {
    ok(cluster.kubectl_stdin(&["apply", "-n", NS, "-f", "-"], manifest));
}

fn condition(cluster: &Cluster, kind: &str, name: &str, type_: &str) -> String {
    cluster.jsonpath(&[kind, name, "-n", NS], &format!("{{.status.conditions[?(@.type==\"{type_}\")].status}}"))
}

fn pods_of(cluster: &Cluster, selector: &str) -> Vec<String> {
    text(&cluster.kubectl(&["get", "pods", "-n", NS, "-l", selector, "-o", "jsonpath={range .items[*]}{.metadata.name}{\"\\n\"}{end}"]))
        .lines()
        .map(String::from)
        .collect()
}

fn describe(cluster: &Cluster, what: &str) -> String {
    let mut args = vec!["get", "-n", NS, "-o", "wide"];
    args.extend(what.split(' '));
    text(&cluster.kubectl(&args)) + &text(&cluster.kubectl(&["get", "events", "-n", NS, "--sort-by=.lastTimestamp"]))
}

const CRON_JOB: &str = r#"
apiVersion: batch/v1
kind: CronJob
metadata: {name: tick}
spec:
  schedule: "* * * * *"
  successfulJobsHistoryLimit: 1
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers: [{name: tick, image: localhost/busybox:local, imagePullPolicy: IfNotPresent, command: [sh, -c, "echo tick"]}]
"#;

const JOBS: &str = r#"
apiVersion: batch/v1
kind: Job
metadata: {name: three}
spec:
  completions: 3
  parallelism: 2
  template:
    spec:
      restartPolicy: Never
      containers: [{name: work, image: localhost/busybox:local, imagePullPolicy: IfNotPresent, command: [sh, -c, "echo done by $(hostname); sleep 2"]}]
---
apiVersion: batch/v1
kind: Job
metadata: {name: broken}
spec:
  backoffLimit: 2
  template:
    spec:
      restartPolicy: Never
      containers: [{name: work, image: localhost/busybox:local, imagePullPolicy: IfNotPresent, command: [sh, -c, "exit 3"]}]
---
apiVersion: batch/v1
kind: Job
metadata: {name: indexed}
spec:
  completions: 3
  parallelism: 3
  completionMode: Indexed
  template:
    spec:
      restartPolicy: Never
      containers: [{name: work, image: localhost/busybox:local, imagePullPolicy: IfNotPresent, command: [sh, -c, "echo index=$JOB_COMPLETION_INDEX host=$(hostname)"]}]
"#;

const DAEMON_SET: &str = r#"
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      # As node agents do (kube-proxy, CNI plugins): on every node, control planes included.
      tolerations: [{operator: Exists}]
      terminationGracePeriodSeconds: 1
      containers: [{name: agent, image: localhost/busybox:local, imagePullPolicy: IfNotPresent, command: [sh, -c, "sleep 100000"]}]
"#;

const STATEFUL_SET: &str = r#"
apiVersion: v1
kind: Service
metadata: {name: db}
spec:
  clusterIP: None
  selector: {app: db}
  ports: [{port: 80, name: web}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  serviceName: db
  replicas: 3
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: db
        image: localhost/busybox:local
        imagePullPolicy: IfNotPresent
        command: [sh, -c, "mkdir -p /www && echo $(hostname) > /www/index.html && httpd -f -p 80 -h /www"]
        readinessProbe: {tcpSocket: {port: 80}, periodSeconds: 1}
"#;

#[test]
fn jobs_cron_jobs_daemon_sets_and_stateful_sets_run_as_kubernetes_runs_them() {
    let cluster = Cluster::create(3, None);
    ok(cluster.kubectl(&["create", "namespace", NS]));
    // The CronJob first: its minutes pass while the rest runs.
    apply(&cluster, CRON_JOB);

    // Jobs.
    apply(&cluster, JOBS);
    ok(cluster.kubectl(&["wait", "-n", NS, "--for=condition=Complete", "job/three", "--timeout=120s"]));
    assert_eq!(cluster.jsonpath(&["job", "three", "-n", NS], "{.status.succeeded}"), "3");
    assert_eq!(pods_of(&cluster, "batch.kubernetes.io/job-name=three").len(), 3);
    let logs = ok(cluster.kubectl(&["logs", "-n", NS, "job/three"]));
    assert!(logs.starts_with("done by three-"), "{logs}");
    let table = ok(cluster.kubectl(&["get", "jobs", "-n", NS, "three"]));
    assert!(table.contains("Complete") && table.contains("3/3"), "{table}");

    ok(cluster.kubectl(&["wait", "-n", NS, "--for=condition=Complete", "job/indexed", "--timeout=120s"]));
    let mut seen = BTreeSet::new();
    for pod in pods_of(&cluster, "batch.kubernetes.io/job-name=indexed") {
        let index = cluster.jsonpath(&["pod", &pod, "-n", NS], "{.metadata.annotations.batch\\.kubernetes\\.io/job-completion-index}");
        let log = ok(cluster.kubectl(&["logs", "-n", NS, &pod]));
        assert_eq!(log.trim(), format!("index={index} host=indexed-{index}"), "{pod}");
        seen.insert(index);
    }
    assert_eq!(seen, ["0", "1", "2"].into_iter().map(String::from).collect());
    assert_eq!(cluster.jsonpath(&["job", "indexed", "-n", NS], "{.status.completedIndexes}"), "0-2");

    // backoffLimit 2: three pods fail (10 s, then 20 s of back-off), and the Job fails.
    cluster.wait("job broken Failed", 150, || condition(&cluster, "job", "broken", "Failed") == "True", || describe(&cluster, "jobs,pods"));
    let reason = cluster.jsonpath(&["job", "broken", "-n", NS], "{.status.conditions[?(@.type==\"Failed\")].reason}");
    assert_eq!(reason, "BackoffLimitExceeded");
    assert_eq!(cluster.jsonpath(&["job", "broken", "-n", NS], "{.status.failed}"), "3");
    assert_eq!(pods_of(&cluster, "batch.kubernetes.io/job-name=broken").len(), 3);

    // DaemonSet: one pod on each of the three nodes.
    apply(&cluster, DAEMON_SET);
    ok(cluster.kubectl(&["rollout", "status", "-n", NS, "daemonset/agent", "--timeout=120s"]));
    let nodes = |cluster: &Cluster| -> Vec<String> {
        let mut nodes: Vec<String> = text(&cluster.kubectl(&["get", "pods", "-n", NS, "-l", "app=agent", "--field-selector=status.phase=Running", "-o", "jsonpath={range .items[*]}{.spec.nodeName}{\"\\n\"}{end}"]))
            .lines()
            .map(String::from)
            .collect();
        nodes.sort();
        nodes
    };
    let all_nodes: Vec<String> = {
        let mut all: Vec<String> = text(&cluster.kubectl(&["get", "nodes", "-o", "jsonpath={range .items[*]}{.metadata.name}{\"\\n\"}{end}"])).lines().map(String::from).collect();
        all.sort();
        all
    };
    assert_eq!(nodes(&cluster), all_nodes);
    // A node that joins gets its pod: a Node registered and reported Ready with no kubelet
    // behind it afterwards (the pod is bound to it and stays Pending there).
    let joined = r#"{"apiVersion": "v1", "kind": "Node", "metadata": {"name": "joined", "labels": {"kubernetes.io/hostname": "joined"}}}"#;
    ok(cluster.kubectl_stdin(&["create", "-f", "-"], joined));
    let ready = r#"{"status": {"capacity": {"cpu": "2", "memory": "4Gi", "pods": "110"}, "allocatable": {"cpu": "2", "memory": "4Gi", "pods": "110"},
        "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "kubelet is posting ready status"}]}}"#;
    ok(cluster.kubectl(&["patch", "node", "joined", "--subresource=status", "--type=merge", "-p", ready]));
    let on_joined = || text(&cluster.kubectl(&["get", "pods", "-n", NS, "-l", "app=agent", "--field-selector=spec.nodeName=joined", "-o", "name"])).lines().count() == 1;
    cluster.wait("a daemon pod bound to the joined node", 60, on_joined, || describe(&cluster, "pods"));
    ok(cluster.kubectl(&["delete", "node", "joined"]));
    // The DaemonSet controller deletes it; with no kubelet to finish it, the pod garbage
    // collector removes it 40 s after the node went, as kube's does.
    cluster.wait("the joined node's pod gone", 120, || !on_joined(), || describe(&cluster, "pods"));
    // A rolling update, then undo.
    cluster.load_test_images_into_docker();
    ok(cluster.docker(&["tag", "localhost/busybox:local", "localhost/agent:v2"]));
    ok(cluster.tool(&["load-image", "localhost/agent:v2", "--name", &cluster.name]));
    ok(cluster.kubectl(&["set", "image", "-n", NS, "daemonset/agent", "agent=localhost/agent:v2"]));
    ok(cluster.kubectl(&["rollout", "status", "-n", NS, "daemonset/agent", "--timeout=180s"]));
    let images = || text(&cluster.kubectl(&["get", "pods", "-n", NS, "-l", "app=agent", "-o", "jsonpath={range .items[*]}{.spec.containers[0].image}{\"\\n\"}{end}"]));
    assert!(images().lines().all(|image| image == "localhost/agent:v2") && images().lines().count() == 3, "{}", images());
    let history = ok(cluster.kubectl(&["rollout", "history", "-n", NS, "daemonset/agent"]));
    assert!(history.contains("1 ") && history.contains("2 "), "{history}");
    ok(cluster.kubectl(&["rollout", "undo", "-n", NS, "daemonset/agent"]));
    ok(cluster.kubectl(&["rollout", "status", "-n", NS, "daemonset/agent", "--timeout=180s"]));
    cluster.wait("the daemon pods back at the first image", 120, || {
        let now = images();
        now.lines().count() == 3 && now.lines().all(|image| image == "localhost/busybox:local")
    }, || describe(&cluster, "pods,controllerrevisions"));
    assert_eq!(nodes(&cluster), all_nodes);

    // StatefulSet: in order, by stable name, resolvable through the headless Service.
    apply(&cluster, STATEFUL_SET);
    ok(cluster.kubectl(&["rollout", "status", "-n", NS, "statefulset/db", "--timeout=180s"]));
    let created = |pod: &str| cluster.jsonpath(&["pod", pod, "-n", NS], "{.metadata.creationTimestamp}");
    let ready = |pod: &str| cluster.jsonpath(&["pod", pod, "-n", NS], "{.status.conditions[?(@.type==\"Ready\")].lastTransitionTime}");
    // RFC 3339 times in UTC to the second compare as text.
    assert!(created("db-1") >= ready("db-0") && created("db-2") >= ready("db-1"), "OrderedReady: each pod after the one before is Ready");
    let answers = cluster.run_on(NS, "probe", &cluster.node("worker"), "for i in 0 1 2; do wget -q -O- http://db-$i.db.work.svc.cluster.local/; done");
    assert_eq!(answers.lines().collect::<Vec<_>>(), ["db-0", "db-1", "db-2"], "{answers}");
    let uid = cluster.jsonpath(&["pod", "db-0", "-n", NS], "{.metadata.uid}");
    ok(cluster.kubectl(&["delete", "pod", "-n", NS, "db-0"]));
    cluster.wait("db-0 back", 120, || {
        let new_uid = cluster.jsonpath(&["pod", "db-0", "-n", NS], "{.metadata.uid}");
        !new_uid.is_empty() && new_uid != uid && cluster.jsonpath(&["statefulset", "db", "-n", NS], "{.status.readyReplicas}") == "3"
    }, || describe(&cluster, "pods"));
    ok(cluster.kubectl(&["scale", "-n", NS, "statefulset/db", "--replicas=1"]));
    let live = || -> Vec<String> { pods_of(&cluster, "app=db").into_iter().filter(|pod| cluster.jsonpath(&["pod", pod, "-n", NS], "{.metadata.deletionTimestamp}").is_empty()).collect() };
    cluster.wait("db-2 going first", 60, || live() == ["db-0", "db-1"] || live() == ["db-0"], || describe(&cluster, "pods"));
    assert!(pods_of(&cluster, "app=db").contains(&"db-0".to_string()));
    cluster.wait("scaled to db-0", 120, || pods_of(&cluster, "app=db") == ["db-0"], || describe(&cluster, "pods"));

    // The CronJob: a Job within 75 s of the first minute, a second run, history limit 1.
    let scheduled = || -> Vec<String> {
        text(&cluster.kubectl(&["get", "jobs", "-n", NS, "-o", "jsonpath={range .items[?(@.metadata.ownerReferences[0].kind==\"CronJob\")]}{.metadata.name}{\"\\n\"}{end}"]))
            .lines()
            .map(String::from)
            .collect()
    };
    cluster.wait("a job of the cron job", 75, || !scheduled().is_empty(), || describe(&cluster, "cronjobs,jobs"));
    ok(cluster.kubectl(&["create", "job", "-n", NS, "by-hand", "--from=cronjob/tick"]));
    assert_eq!(cluster.jsonpath(&["job", "by-hand", "-n", NS], "{.metadata.annotations.cronjob\\.kubernetes\\.io/instantiate}"), "manual");
    ok(cluster.kubectl(&["wait", "-n", NS, "--for=condition=Complete", "job/by-hand", "--timeout=120s"]));
    let last_schedule = cluster.jsonpath(&["cronjob", "tick", "-n", NS], "{.status.lastScheduleTime}");
    cluster.wait("a later scheduled run, the history cut to one", 150, || {
        let runs = scheduled();
        let later = cluster.jsonpath(&["cronjob", "tick", "-n", NS], "{.status.lastScheduleTime}") != last_schedule;
        later && runs.len() <= 2 && cluster.jsonpath(&["cronjob", "tick", "-n", NS], "{.status.lastSuccessfulTime}").len() > 1
    }, || describe(&cluster, "cronjobs,jobs"));
    cluster.wait("one successful job kept", 90, || {
        let complete = text(&cluster.kubectl(&["get", "jobs", "-n", NS, "-o", "jsonpath={range .items[?(@.metadata.ownerReferences[0].name==\"tick\")]}{.status.succeeded}{\"\\n\"}{end}"]));
        complete.lines().filter(|line| *line == "1").count() == 1
    }, || describe(&cluster, "jobs"));
}
