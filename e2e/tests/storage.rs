//! End to end on a kind-style 3-node cluster, driven by kubectl (issue #24): a StatefulSet with
//! `volumeClaimTemplates` of the default class gets one Bound claim per pod, each volume a
//! directory on its pod's node; data written by `x-0` outlives the pod; scaling down keeps the
//! claims; a claim deleted while in use waits for its pod, and the `Delete` reclaim policy then
//! removes the volume and its directory on the node. Claims that cannot be satisfied stay
//! Pending with Kubernetes' events, and bad input gets Kubernetes' messages.

#![allow(clippy::unwrap_used)]

mod support;

use std::time::{Duration, Instant};

use support::{Cluster, ok, text};

const NS: &str = "store";
/// Where the built-in local-path provisioner keeps its directories on every node.
const ROOT: &str = "/var/local-path-provisioner";

const STATEFUL_SET: &str = r#"
apiVersion: v1
kind: Service
metadata: {name: x}
spec:
  clusterIP: None
  selector: {app: x}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: x}
spec:
  serviceName: x
  replicas: 3
  podManagementPolicy: Parallel
  selector: {matchLabels: {app: x}}
  template:
    metadata: {labels: {app: x}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: x
        image: localhost/busybox:local
        imagePullPolicy: IfNotPresent
        command: [sh, -c, "touch /data/.started && exec sleep 100000"]
        volumeMounts: [{name: data, mountPath: /data}]
  volumeClaimTemplates:
  - metadata: {name: data}
    spec:
      accessModes: [ReadWriteOnce]
      resources: {requests: {storage: 64Mi}}
"#;

/// Claims that nothing can satisfy: an unknown class; a selector on the default class (the
/// local-path provisioner refuses it once a pod wants the claim: the pod below); no class and no
/// volume. And a claim of the default class that no pod uses yet.
const UNSATISFIABLE: &str = r#"
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: unknown-class}
spec:
  storageClassName: nope
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: with-selector}
spec:
  accessModes: [ReadWriteOnce]
  selector: {matchLabels: {disk: fast}}
  resources: {requests: {storage: 1Gi}}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: no-class}
spec:
  storageClassName: ""
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: unused}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
---
apiVersion: v1
kind: Pod
metadata: {name: wants-selector}
spec:
  terminationGracePeriodSeconds: 1
  containers: [{name: c, image: localhost/busybox:local, imagePullPolicy: IfNotPresent, command: [sleep, "100000"], volumeMounts: [{name: v, mountPath: /v}]}]
  volumes: [{name: v, persistentVolumeClaim: {claimName: with-selector}}]
"#;

/// Bad input, each with the message Kubernetes 1.33's validation gives it
/// (pkg/apis/core/validation/validation.go: ValidatePersistentVolumeClaimSpec,
/// validateVolumeNodeAffinity and ValidateNodeSelector, validateLocalDescendingPath).
const BAD: &[(&str, &str, &str)] = &[
    (
        "a claim with no access modes",
        r#"{"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "no-modes"},
            "spec": {"accessModes": [], "resources": {"requests": {"storage": "1Gi"}}}}"#,
        r#"The PersistentVolumeClaim "no-modes" is invalid: spec.accessModes: Required value: at least 1 access mode is required"#,
    ),
    (
        "a claim of a negative size",
        r#"{"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "negative"},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "-1Gi"}}}}"#,
        r#"The PersistentVolumeClaim "negative" is invalid: spec.resources[storage]: Invalid value: "-1Gi": must be greater than zero"#,
    ),
    (
        "a volume whose node affinity has no terms",
        r#"{"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": "nowhere"},
            "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"], "hostPath": {"path": "/var/local-path-provisioner/nowhere"},
                     "nodeAffinity": {"required": {"nodeSelectorTerms": []}}}}"#,
        r#"The PersistentVolume "nowhere" is invalid: spec.nodeAffinity.required.nodeSelectorTerms: Required value: must have at least one node selector term"#,
    ),
    (
        "a pod mounting a subPath of ..",
        r#"{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "escape"},
            "spec": {"containers": [{"name": "c", "image": "localhost/busybox:local", "volumeMounts": [{"name": "v", "mountPath": "/v", "subPath": ".."}]}],
                     "volumes": [{"name": "v", "persistentVolumeClaim": {"claimName": "unused"}}]}}"#,
        // kube-apiserver names the list, not the mount, here (ValidateVolumeMounts passes
        // fldPath, not idxPath, to validateLocalDescendingPath).
        r#"The Pod "escape" is invalid: spec.containers[0].volumeMounts.subPath: Invalid value: "..": must not contain '..'"#,
    ),
];

fn get(cluster: &Cluster, what: &[&str], path: &str) -> String {
    let mut args = what.to_vec();
    args.extend(["-n", NS]);
    cluster.jsonpath(&args, path)
}

fn describe(cluster: &Cluster) -> String {
    text(&cluster.kubectl(&["get", "pods,pvc,pv", "-n", NS, "-o", "wide"]))
        + &text(&cluster.kubectl(&["get", "pv", "-o", "yaml"]))
        + &text(&cluster.kubectl(&["get", "events", "-n", NS, "--sort-by=.lastTimestamp"]))
}

/// The events of one object of the namespace: "type reason message" lines.
fn events_of(cluster: &Cluster, name: &str) -> String {
    let path = format!("{{range .items[?(@.involvedObject.name==\"{name}\")]}}{{.type}} {{.reason}} {{.message}}{{\"\\n\"}}{{end}}");
    cluster.jsonpath(&["events", "-n", NS], &path)
}

fn wait_for_event(cluster: &Cluster, name: &str, line: &str) {
    cluster.wait(&format!("event {line:?} on {name}"), 90, || events_of(cluster, name).lines().any(|seen| seen.starts_with(line)), || events_of(cluster, name) + &describe(cluster));
}

fn claims(cluster: &Cluster) -> Vec<String> {
    let mut names: Vec<String> = get(cluster, &["pvc", "-l", "app=x"], "{range .items[*]}{.metadata.name}{\"\\n\"}{end}").lines().map(String::from).collect();
    names.sort();
    names
}

fn phase(cluster: &Cluster, kind: &str, name: &str) -> String {
    get(cluster, &[kind, name], "{.status.phase}")
}

/// Whether `path` exists inside the node container `node`.
fn exists_on_node(cluster: &Cluster, node: &str, path: &str) -> bool {
    cluster.docker(&["exec", node, "test", "-e", path]).status.success()
}

/// The live (not terminating) pods of the StatefulSet, sorted.
fn live_pods(cluster: &Cluster) -> Vec<String> {
    let out = get(cluster, &["pods", "-l", "app=x"], "{range .items[*]}{.metadata.name} {.metadata.deletionTimestamp}{\"\\n\"}{end}");
    let mut pods: Vec<String> = out.lines().filter(|line| line.split_whitespace().count() == 1).map(|line| line.trim().to_string()).collect();
    pods.sort();
    pods
}

#[test]
fn stateful_set_claims_are_provisioned_kept_protected_and_reclaimed() {
    let cluster = Cluster::create(3, None);
    let started = Instant::now();
    ok(cluster.kubectl(&["create", "namespace", NS]));

    // Every cluster has its default class, served by the local-path provisioner.
    let classes = ok(cluster.kubectl(&["get", "storageclass"]));
    assert!(classes.lines().any(|line| line.starts_with("standard (default)") && line.contains("cluster.local/local-path") && line.contains("Delete") && line.contains("WaitForFirstConsumer")), "{classes}");

    // Bad input: refused with Kubernetes' messages; nothing is created. A wrong message is
    // reported at the end, so that the rest of the scenario still runs.
    let mut wrong_messages = Vec::new();
    for (what, manifest, message) in BAD {
        let output = cluster.kubectl_stdin(&["apply", "-n", NS, "-f", "-"], manifest);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{what}: accepted: {}", text(&output));
        if !stderr.contains(message) {
            wrong_messages.push(format!("{what}: expected {message:?}, got {stderr}"));
        }
    }
    assert!(text(&cluster.kubectl(&["get", "pv", "nowhere", "-o", "name"])).is_empty());

    // The claims that cannot be satisfied, early: their events come while the rest runs.
    ok(cluster.kubectl_stdin(&["apply", "-n", NS, "-f", "-"], UNSATISFIABLE));
    ok(cluster.kubectl_stdin(&["apply", "-n", NS, "-f", "-"], STATEFUL_SET));

    // One Bound claim per pod, of the default class, each on a PV whose node affinity names the
    // pod's node, a directory under the provisioner's root there.
    ok(cluster.kubectl(&["rollout", "status", "-n", NS, "statefulset/x", "--timeout=180s"]));
    assert_eq!(claims(&cluster), ["data-x-0", "data-x-1", "data-x-2"]);
    let mut directories = Vec::new();
    for ordinal in 0..3 {
        let (pod, claim) = (format!("x-{ordinal}"), format!("data-x-{ordinal}"));
        assert_eq!(phase(&cluster, "pvc", &claim), "Bound", "{}", describe(&cluster));
        assert_eq!(get(&cluster, &["pvc", &claim], "{.spec.storageClassName}"), "standard");
        assert_eq!(get(&cluster, &["pvc", &claim], "{.metadata.finalizers}"), r#"["kubernetes.io/pvc-protection"]"#);
        let volume = get(&cluster, &["pvc", &claim], "{.spec.volumeName}");
        assert_eq!(volume, format!("pvc-{}", get(&cluster, &["pvc", &claim], "{.metadata.uid}")));
        let node = get(&cluster, &["pod", &pod], "{.spec.nodeName}");
        assert_eq!(get(&cluster, &["pvc", &claim], "{.metadata.annotations.volume\\.kubernetes\\.io/selected-node}"), node);
        let pv = |path: &str| cluster.jsonpath(&["pv", &volume], path);
        assert_eq!(pv("{.status.phase}"), "Bound");
        assert_eq!(pv("{.spec.nodeAffinity.required.nodeSelectorTerms[0].matchExpressions[0].key}"), "kubernetes.io/hostname");
        assert_eq!(pv("{.spec.nodeAffinity.required.nodeSelectorTerms[0].matchExpressions[0].values}"), format!(r#"["{node}"]"#));
        assert_eq!(pv("{.spec.persistentVolumeReclaimPolicy}"), "Delete");
        assert_eq!(pv("{.metadata.annotations.pv\\.kubernetes\\.io/provisioned-by}"), "cluster.local/local-path");
        assert_eq!(pv("{.spec.claimRef.name}"), claim);
        let path = pv("{.spec.hostPath.path}");
        assert_eq!(path, format!("{ROOT}/{volume}_{NS}_{claim}"));
        assert!(exists_on_node(&cluster, &node, &format!("{path}/.started")), "{pod}'s volume is not {path} on {node}");
        directories.push((node, path));
    }
    let table = ok(cluster.kubectl(&["get", "pvc", "-n", NS, "data-x-0"]));
    assert!(table.starts_with("NAME") && table.contains("STATUS") && table.contains("VOLUME") && table.contains("CAPACITY") && table.contains("ACCESS MODES") && table.contains("STORAGECLASS"), "{table}");
    assert!(table.lines().nth(1).is_some_and(|line| line.contains("Bound") && line.contains("64Mi") && line.contains("RWO") && line.contains("standard")), "{table}");
    let table = ok(cluster.kubectl(&["get", "pv"]));
    assert!(table.contains("RECLAIM POLICY") && table.contains(&format!("{NS}/data-x-0")), "{table}");

    // Data written by x-0 is still there after x-0 is deleted and comes back (on the same node:
    // its volume's node affinity says so).
    ok(cluster.kubectl(&["exec", "-n", NS, "x-0", "--", "sh", "-c", "echo kept > /data/file"]));
    let (node_0, dir_0) = directories[0].clone();
    assert_eq!(ok(cluster.docker(&["exec", &node_0, "cat", &format!("{dir_0}/file")])).trim(), "kept");
    let uid = get(&cluster, &["pod", "x-0"], "{.metadata.uid}");
    ok(cluster.kubectl(&["delete", "pod", "-n", NS, "x-0", "--wait=false"]));
    cluster.wait("x-0 back and Ready", 120, || {
        let now = get(&cluster, &["pod", "x-0"], "{.metadata.uid}");
        !now.is_empty() && now != uid && get(&cluster, &["pod", "x-0"], "{.status.conditions[?(@.type==\"Ready\")].status}") == "True"
    }, || describe(&cluster));
    assert_eq!(get(&cluster, &["pod", "x-0"], "{.spec.nodeName}"), node_0);
    assert_eq!(ok(cluster.kubectl(&["exec", "-n", NS, "x-0", "--", "cat", "/data/file"])).trim(), "kept");

    // Scaling down keeps every claim, Bound.
    ok(cluster.kubectl(&["scale", "-n", NS, "statefulset/x", "--replicas=1"]));
    cluster.wait("scaled to x-0", 120, || get(&cluster, &["pods", "-l", "app=x"], "{.items[*].metadata.name}") == "x-0", || describe(&cluster));
    assert_eq!(claims(&cluster), ["data-x-0", "data-x-1", "data-x-2"]);
    for claim in claims(&cluster) {
        assert_eq!(phase(&cluster, "pvc", &claim), "Bound", "{claim}");
    }

    // A claim deleted while x-0 uses it stays, Terminating, until x-0 is gone.
    ok(cluster.kubectl(&["delete", "pvc", "-n", NS, "data-x-0", "--wait=false"]));
    assert!(!get(&cluster, &["pvc", "data-x-0"], "{.metadata.deletionTimestamp}").is_empty());
    let listed = ok(cluster.kubectl(&["get", "pvc", "-n", NS, "data-x-0"]));
    assert!(listed.lines().nth(1).is_some_and(|line| line.contains("Terminating")), "{listed}");
    // Held for a while (what Gomega's Consistently does): the protection finalizer stays.
    let held = Instant::now();
    while held.elapsed() < Duration::from_secs(5) {
        assert_eq!(get(&cluster, &["pvc", "data-x-0"], "{.metadata.finalizers}"), r#"["kubernetes.io/pvc-protection"]"#, "{}", describe(&cluster));
        assert_eq!(live_pods(&cluster), ["x-0"]);
        std::thread::sleep(Duration::from_millis(500));
    }
    let volume_0 = get(&cluster, &["pvc", "data-x-0"], "{.spec.volumeName}");
    ok(cluster.kubectl(&["scale", "-n", NS, "statefulset/x", "--replicas=0"]));
    // Then the claim goes; with the Delete policy its volume goes, and the directory on the node.
    let gone = |kind: &str, name: &str| text(&cluster.kubectl(&["get", kind, name, "-n", NS, "--ignore-not-found", "-o", "name"])).trim().is_empty();
    cluster.wait("data-x-0 gone once x-0 is", 120, || gone("pvc", "data-x-0"), || describe(&cluster));
    cluster.wait("its volume gone (Delete)", 120, || gone("pv", &volume_0), || describe(&cluster));
    cluster.wait("its directory gone from the node", 60, || !exists_on_node(&cluster, &node_0, &dir_0), || describe(&cluster));
    assert!(exists_on_node(&cluster, &node_0, ROOT), "the provisioner's root itself stays");
    // The other claims, their volumes and directories are kept.
    assert_eq!(claims(&cluster), ["data-x-1", "data-x-2"]);
    for (node, path) in &directories[1..] {
        assert!(exists_on_node(&cluster, node, path), "{path} on {node}");
    }

    // The claims that cannot be satisfied stay Pending, with Kubernetes' events.
    wait_for_event(&cluster, "unknown-class", r#"Warning ProvisioningFailed storageclass.storage.k8s.io "nope" not found"#);
    wait_for_event(&cluster, "no-class", "Normal FailedBinding no persistent volumes available for this claim and no storage class is set");
    wait_for_event(&cluster, "unused", "Normal WaitForFirstConsumer waiting for first consumer to be created before binding");
    wait_for_event(&cluster, "with-selector", "Warning ProvisioningFailed");
    let refused = events_of(&cluster, "with-selector");
    assert!(refused.contains("claim.Spec.Selector is not supported for dynamic provisioning"), "{refused}");
    for claim in ["unknown-class", "with-selector", "no-class", "unused"] {
        assert_eq!(phase(&cluster, "pvc", claim), "Pending", "{claim}: {}", describe(&cluster));
        assert!(get(&cluster, &["pvc", claim], "{.spec.volumeName}").is_empty(), "{claim}");
    }
    assert_eq!(phase(&cluster, "pod", "wants-selector"), "Pending");
    let described = ok(cluster.kubectl(&["describe", "pvc", "-n", NS, "unknown-class"]));
    assert!(described.contains("ProvisioningFailed") && described.contains(r#"storageclass.storage.k8s.io "nope" not found"#), "{described}");
    eprintln!("storage e2e scenario took {:.0} s after the cluster was up", started.elapsed().as_secs_f64());
    assert!(wrong_messages.is_empty(), "bad input with messages other than Kubernetes':\n{}", wrong_messages.join("\n"));
}
