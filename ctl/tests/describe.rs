//! `ctl describe` beside `kubectl describe` on one apiserver: kubectl's describers' text, line by
//! line, for pods (with a status written through the status subresource, as no kubelet runs
//! here), ConfigMaps, Secrets, Namespaces and a kind without a describer; the list form,
//! `TYPE/NAME`, a name prefix, `-l`, `-A` and the errors.

mod support;
use support::*;

use common::testing::{ApiServer, Storage};

const FIXTURE: &str = r#"
apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {team: a}}
---
apiVersion: v1
kind: Pod
metadata:
  name: web-1
  namespace: shop
  labels: {app: web, tier: front}
  annotations: {note: "a<b&c", long: "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"}
  ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: web-7d9, uid: 00000000-0000-0000-0000-000000000001, controller: true}]
spec:
  nodeName: node-a
  nodeSelector: {disk: ssd}
  tolerations: [{key: k, operator: Equal, value: v, effect: NoSchedule}, {operator: Exists}]
  initContainers: [{name: setup, image: busybox, command: [sh, -c, "echo hi"]}]
  containers:
  - name: app
    image: "nginx:1"
    ports: [{containerPort: 80}, {containerPort: 53, protocol: UDP}]
    args: ["--port=80", "--verbose"]
    resources: {limits: {cpu: 500m, memory: 128Mi}, requests: {cpu: 250m, memory: 64Mi}}
    readinessProbe: {httpGet: {path: /healthz, port: 80}, periodSeconds: 5}
    env:
    - {name: MODE, value: fast}
    - {name: POD, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
    - {name: PASSWORD, valueFrom: {secretKeyRef: {name: creds, key: password}}}
    envFrom: [{configMapRef: {name: settings}}]
    volumeMounts: [{name: data, mountPath: /data}, {name: conf, mountPath: /etc/conf, readOnly: true}]
  - name: side
    image: busybox
  volumes:
  - {name: data, emptyDir: {}}
  - {name: conf, configMap: {name: settings}}
---
apiVersion: v1
kind: Pod
metadata: {name: web-2, namespace: shop, labels: {app: web}}
spec:
  topologySpreadConstraints:
  - {maxSkew: 1, topologyKey: zone, whenUnsatisfiable: DoNotSchedule, labelSelector: {matchLabels: {app: web}}}
  - {maxSkew: 2, topologyKey: host, whenUnsatisfiable: ScheduleAnyway}
  containers: [{name: app, image: "nginx:2", resources: {requests: {cpu: 100m}}}]
---
apiVersion: v1
kind: Pod
metadata: {name: db-1, namespace: shop}
spec:
  containers: [{name: db, image: postgres}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: shop, labels: {app: web}}
# One key: kubectl prints a Go map, in no set order.
data: {script: "line one\nline two"}
binaryData: {blob: AAECAwQ=}
---
apiVersion: v1
kind: Secret
metadata: {name: creds, namespace: shop}
type: Opaque
stringData: {password: hunter2}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: runner, namespace: shop}
imagePullSecrets: [{name: creds}, {name: registry}]
secrets: [{name: creds}]
---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: fast, annotations: {storageclass.kubernetes.io/is-default-class: "true"}}
provisioner: example.com/disk
parameters: {type: ssd, zone: a}
reclaimPolicy: Retain
volumeBindingMode: WaitForFirstConsumer
mountOptions: [discard]
---
apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata: {name: important}
value: 1000
description: for the shop
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: web, namespace: shop}
spec: {minAvailable: 1, selector: {matchLabels: {app: web}}}
---
apiVersion: v1
kind: Endpoints
metadata: {name: front, namespace: shop}
subsets:
- addresses: [{ip: 10.244.1.1}, {ip: 10.244.1.3}]
  notReadyAddresses: [{ip: 10.244.1.2}]
  ports: [{name: http, port: 8080, protocol: TCP}, {name: dns, port: 53, protocol: UDP}]
- addresses: [{ip: 10.244.2.1}]
  ports: [{port: 9000}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: readers, namespace: shop, labels: {app: web}}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}
subjects: [{kind: ServiceAccount, name: runner, namespace: shop}, {kind: User, name: alice, apiGroup: rbac.authorization.k8s.io}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: shop-admins}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: admin}
subjects: [{kind: Group, name: admins, apiGroup: rbac.authorization.k8s.io}]
---
apiVersion: v1
kind: LimitRange
metadata: {name: limits, namespace: shop}
spec:
  limits: [{type: Container, max: {cpu: "2"}, min: {cpu: 100m}, default: {cpu: 500m}, defaultRequest: {cpu: 200m}, maxLimitRequestRatio: {cpu: "4"}}]
---
apiVersion: v1
kind: ResourceQuota
metadata: {name: quota, namespace: shop}
spec:
  hard: {pods: "10", requests.cpu: "4"}
  scopes: [NotBestEffort, NotTerminating]
---
apiVersion: coordination.k8s.io/v1
kind: Lease
metadata: {name: lock, namespace: shop, labels: {app: web}}
spec: {holderIdentity: node-a, leaseDurationSeconds: 40}
"#;

const WORKLOADS: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: front, namespace: shop, labels: {app: front}, annotations: {deployment.kubernetes.io/revision: "2"}}
spec:
  replicas: 3
  selector: {matchLabels: {app: front}}
  strategy: {type: RollingUpdate, rollingUpdate: {maxUnavailable: 1, maxSurge: 25%}}
  template:
    metadata: {labels: {app: front}}
    spec:
      serviceAccountName: runner
      containers: [{name: web, image: "nginx:1", ports: [{containerPort: 80}], env: [{name: A, value: b}]}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: store, namespace: shop}
spec:
  replicas: 2
  serviceName: store
  selector: {matchLabels: {app: store}}
  updateStrategy: {type: RollingUpdate, rollingUpdate: {partition: 1}}
  template:
    metadata: {labels: {app: store}}
    spec:
      containers: [{name: db, image: postgres, volumeMounts: [{name: data, mountPath: /var/lib/db}]}]
  volumeClaimTemplates:
  - metadata: {name: data, labels: {kind: db}}
    spec: {accessModes: [ReadWriteOnce], storageClassName: fast, resources: {requests: {storage: 1Gi}}}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent, namespace: shop, labels: {app: agent}}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      nodeSelector: {os: linux, disk: ssd}
      tolerations: [{operator: Exists}]
      containers: [{name: agent, image: busybox, resources: {limits: {cpu: 100m, memory: 50Mi}}}]
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data-store-0, namespace: shop, labels: {app: store}}
spec: {accessModes: [ReadWriteOnce, ReadOnlyMany], storageClassName: fast, resources: {requests: {storage: 1Gi}}}
---
apiVersion: v1
kind: Pod
metadata: {name: store-user, namespace: shop}
spec:
  containers: [{name: db, image: postgres}]
  volumes: [{name: data, persistentVolumeClaim: {claimName: data-store-0}}]
"#;

const NETWORK_AND_BATCH: &str = r#"
apiVersion: v1
kind: Service
metadata: {name: front, namespace: shop, labels: {app: front}}
spec:
  selector: {app: front}
  ports: [{name: http, port: 80, targetPort: 8080}, {name: dns, port: 53, protocol: UDP, targetPort: dns}]
---
apiVersion: v1
kind: Service
metadata: {name: edge, namespace: shop}
spec:
  type: NodePort
  externalTrafficPolicy: Local
  selector: {app: edge, tier: a}
  ports: [{port: 443, targetPort: 8443, nodePort: 30443}]
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: front, namespace: shop}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: front}
  minReplicas: 2
  maxReplicas: 10
  metrics:
  - {type: Resource, resource: {name: cpu, target: {type: Utilization, averageUtilization: 60}}}
  - {type: Resource, resource: {name: memory, target: {type: AverageValue, averageValue: 500Mi}}}
  - {type: Pods, pods: {metric: {name: requests_per_second}, target: {type: AverageValue, averageValue: "1k"}}}
  behavior:
    scaleDown:
      stabilizationWindowSeconds: 300
      policies: [{type: Percent, value: 10, periodSeconds: 60}, {type: Pods, value: 2, periodSeconds: 60}]
---
apiVersion: batch/v1
kind: Job
metadata: {name: report, namespace: shop, labels: {app: report}}
spec:
  backoffLimit: 2
  completions: 3
  parallelism: 1
  completionMode: Indexed
  activeDeadlineSeconds: 600
  template:
    spec:
      restartPolicy: Never
      containers: [{name: run, image: busybox, command: [sh, -c, "exit 0"]}]
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly, namespace: shop}
spec:
  schedule: "0 3 * * *"
  successfulJobsHistoryLimit: 5
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers: [{name: run, image: busybox}]
"#;

const NODE: &str = r#"
apiVersion: v1
kind: Node
metadata: {name: node-a, labels: {node-role.kubernetes.io/control-plane: "", kubernetes.io/hostname: node-a}, annotations: {note: x}}
spec:
  podCIDR: 10.244.1.0/24
  podCIDRs: [10.244.1.0/24]
  taints: [{key: dedicated, value: db, effect: NoSchedule}, {key: slow, effect: PreferNoSchedule}]
"#;

const NODE_STATUS: &str = r#"{"status": {
  "capacity": {"cpu": "4", "memory": "8Gi", "pods": "110", "ephemeral-storage": "100Gi", "example.com/gpu": "2"},
  "allocatable": {"cpu": "3800m", "memory": "7Gi", "pods": "110", "ephemeral-storage": "90Gi", "example.com/gpu": "2"},
  "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "kubelet is posting ready status",
    "lastHeartbeatTime": "2026-01-02T03:04:05Z", "lastTransitionTime": "2026-01-01T00:00:00Z"}],
  "addresses": [{"type": "InternalIP", "address": "10.0.0.5"}, {"type": "Hostname", "address": "node-a"}],
  "nodeInfo": {"machineID": "m1", "systemUUID": "u1", "bootID": "b1", "kernelVersion": "6.1", "osImage": "Debian", "containerRuntimeVersion": "containerd://2.0",
    "kubeletVersion": "v1.33.0", "kubeProxyVersion": "", "operatingSystem": "linux", "architecture": "amd64"}
}}"#;

/// A ReplicaSet of the `front` Deployment, as its controller would make it (none runs here).
fn replica_set(name: &str, deployment_uid: &str, image: &str, replicas: u32, created: &str) -> String {
    format!(
        r#"
apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: {name}
  namespace: shop
  labels: {{app: front, pod-template-hash: {name}}}
  ownerReferences: [{{apiVersion: apps/v1, kind: Deployment, name: front, uid: "{deployment_uid}", controller: true}}]
  annotations: {{created: "{created}"}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: front, pod-template-hash: {name}}}}}
  template:
    metadata: {{labels: {{app: front, pod-template-hash: {name}}}}}
    spec:
      serviceAccountName: runner
      containers: [{{name: web, image: "{image}", ports: [{{containerPort: 80}}], env: [{{name: A, value: b}}]}}]
"#
    )
}

const STATUS: &str = r#"{"status": {
  "phase": "Running", "hostIP": "10.0.0.5", "podIP": "10.244.1.7", "podIPs": [{"ip": "10.244.1.7"}],
  "startTime": "2026-01-02T03:04:05Z",
  "conditions": [{"type": "Initialized", "status": "True"}, {"type": "Ready", "status": "False"}],
  "initContainerStatuses": [{"name": "setup", "image": "busybox", "imageID": "docker.io/library/busybox@sha256:1", "containerID": "containerd://init1", "ready": true, "restartCount": 0,
    "state": {"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": "2026-01-02T03:04:06Z", "finishedAt": "2026-01-02T03:04:07Z"}}}],
  "containerStatuses": [
    {"name": "app", "image": "nginx:1", "imageID": "docker.io/library/nginx@sha256:2", "containerID": "containerd://app1", "ready": true, "restartCount": 2,
     "state": {"running": {"startedAt": "2026-01-02T03:05:00Z"}},
     "lastState": {"terminated": {"exitCode": 137, "reason": "OOMKilled", "startedAt": "2026-01-02T03:04:08Z", "finishedAt": "2026-01-02T03:04:59Z"}}},
    {"name": "side", "image": "busybox", "imageID": "", "ready": false, "restartCount": 0, "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]
}}"#;

fn server_with_fixture() -> ApiServer {
    let server = ApiServer::start(Storage::Embedded).unwrap();
    kubectl_stdin(&server, &["apply", "-f", "-"], FIXTURE);
    stdout_ok(run("kubectl", &server, &["patch", "pod", "web-1", "-n", "shop", "--subresource=status", "--type=merge", "-p", STATUS]));
    let uid = stdout_ok(run("kubectl", &server, &["get", "pod", "web-1", "-n", "shop", "-o", "jsonpath={.metadata.uid}"]));
    // Old fixed times, so that both tools print the same ages.
    let events = format!(
        r#"
apiVersion: v1
kind: Event
metadata: {{name: web-1.a, namespace: shop}}
involvedObject: {{kind: Pod, name: web-1, namespace: shop, uid: "{uid}"}}
type: Normal
reason: Scheduled
message: "Successfully assigned shop/web-1 to node-a "
source: {{component: default-scheduler}}
firstTimestamp: "2020-01-01T00:00:00Z"
lastTimestamp: "2020-01-01T00:00:00Z"
count: 1
---
apiVersion: v1
kind: Event
metadata: {{name: web-1.b, namespace: shop}}
involvedObject: {{kind: Pod, name: web-1, namespace: shop, uid: "{uid}"}}
type: Warning
reason: BackOff
message: Back-off restarting failed container side
source: {{component: kubelet, host: node-a}}
firstTimestamp: "2020-01-01T00:00:00Z"
lastTimestamp: "2021-01-01T00:00:00Z"
count: 5
"#
    );
    kubectl_stdin(&server, &["apply", "-f", "-"], &events);
    kubectl_stdin(&server, &["apply", "-f", "-"], WORKLOADS);
    kubectl_stdin(&server, &["apply", "-f", "-"], NETWORK_AND_BATCH);
    kubectl_stdin(&server, &["apply", "-f", "-"], NODE);
    stdout_ok(run("kubectl", &server, &["patch", "node", "node-a", "--subresource=status", "--type=merge", "-p", NODE_STATUS]));
    let status = r#"{"status": {"startTime": "2026-01-02T03:00:00Z", "completionTime": "2026-01-02T03:02:05Z", "succeeded": 3, "ready": 0, "completedIndexes": "0-2",
      "conditions": [{"type": "SuccessCriteriaMet", "status": "True"}, {"type": "Complete", "status": "True"}]}}"#;
    let hpa_status = r#"{"status": {"currentReplicas": 3, "desiredReplicas": 4,
      "currentMetrics": [{"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 75, "averageValue": "150m"}}}],
      "conditions": [{"type": "AbleToScale", "status": "True", "reason": "ReadyForNewScale", "message": "recommended size matches current size", "lastTransitionTime": "2026-01-02T03:04:05Z"}]}}"#;
    let quota_status = r#"{"status": {"hard": {"pods": "10", "requests.cpu": "4"}, "used": {"pods": "3", "requests.cpu": "350m"}}}"#;
    stdout_ok(run("kubectl", &server, &["patch", "quota", "quota", "-n", "shop", "--subresource=status", "--type=merge", "-p", quota_status]));
    stdout_ok(run("kubectl", &server, &["patch", "hpa", "front", "-n", "shop", "--subresource=status", "--type=merge", "-p", hpa_status]));
    stdout_ok(run("kubectl", &server, &["patch", "job", "report", "-n", "shop", "--subresource=status", "--type=merge", "-p", status]));
    let deployment_uid = stdout_ok(run("kubectl", &server, &["get", "deploy", "front", "-n", "shop", "-o", "jsonpath={.metadata.uid}"]));
    kubectl_stdin(&server, &["apply", "-f", "-"], &replica_set("front-old", &deployment_uid, "nginx:0", 0, "1"));
    kubectl_stdin(&server, &["apply", "-f", "-"], &replica_set("front-new", &deployment_uid, "nginx:1", 3, "2"));
    let status = r#"{"status": {"replicas": 3, "updatedReplicas": 3, "readyReplicas": 2, "availableReplicas": 2, "unavailableReplicas": 1, "observedGeneration": 1,
      "conditions": [{"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable", "message": "ok"}, {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable", "message": "ok"}]}}"#;
    stdout_ok(run("kubectl", &server, &["patch", "deploy", "front", "-n", "shop", "--subresource=status", "--type=merge", "-p", status]));
    let status = r#"{"status": {"replicas": 3, "readyReplicas": 2, "availableReplicas": 2, "fullyLabeledReplicas": 3, "observedGeneration": 1}}"#;
    stdout_ok(run("kubectl", &server, &["patch", "rs", "front-new", "-n", "shop", "--subresource=status", "--type=merge", "-p", status]));
    let status = r#"{"status": {"desiredNumberScheduled": 2, "currentNumberScheduled": 2, "updatedNumberScheduled": 1, "numberAvailable": 1, "numberMisscheduled": 0, "numberReady": 1}}"#;
    stdout_ok(run("kubectl", &server, &["patch", "ds", "agent", "-n", "shop", "--subresource=status", "--type=merge", "-p", status]));
    server
}

/// Runs kubectl and ctl with the same arguments: the same status, stdout and stderr, compared
/// line by line so that a failure names the first line that differs.
fn same(server: &ApiServer, args: &[&str]) {
    same_masked(server, args, str::to_string);
}

/// [`same`], with stdout passed through `mask` first.
fn same_masked(server: &ApiServer, args: &[&str], mask: impl Fn(&str) -> String) {
    let theirs = run("kubectl", server, args);
    let ours = ctl(server, args);
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    let (ours_out, theirs_out) = (mask(&text(&ours.stdout)), mask(&text(&theirs.stdout)));
    assert!(!theirs_out.is_empty() || !theirs.stderr.is_empty(), "kubectl printed nothing for {args:?}");
    for (line, (mine, kubectl)) in ours_out.split('\n').zip(theirs_out.split('\n')).enumerate() {
        assert_eq!(mine, kubectl, "line {} of {args:?}; kubectl printed:\n{theirs_out}\nctl printed:\n{ours_out}", line + 1);
    }
    assert_eq!(ours_out, theirs_out, "stdout of {args:?}");
    assert_eq!(text(&ours.stderr), text(&theirs.stderr), "stderr of {args:?}");
    assert_eq!(ours.status.code(), theirs.status.code(), "status of {args:?}");
}

#[test]
fn describe_as_kubectl_describes() {
    let server = server_with_fixture();
    for args in [
        &["describe", "pod", "web-1", "-n", "shop"][..],
        &["describe", "pod/web-2", "-n", "shop"],
        &["describe", "pods", "-n", "shop"],
        &["describe", "pod", "web", "-n", "shop"],
        &["describe", "po", "-l", "app=web", "-n", "shop"],
        &["describe", "pod/web-2", "pod/db-1", "-n", "shop"],
        &["describe", "configmap", "settings", "-n", "shop"],
        &["describe", "secret/creds", "-n", "shop"],
        &["describe", "serviceaccounts", "-n", "shop"],
        &["describe", "storageclass", "fast"],
        &["describe", "priorityclass", "important"],
        &["describe", "pdb", "web", "-n", "shop"],
        &["describe", "limitrange", "limits", "-n", "shop"],
        &["describe", "rolebinding", "readers", "-n", "shop"],
        &["describe", "clusterrolebinding", "shop-admins"],
        &["describe", "endpoints", "front", "-n", "shop"],
        &["describe", "quota", "-n", "shop"],
        &["describe", "namespace", "shop"],
        &["describe", "namespace", "shop"],
        &["describe", "lease", "lock", "-n", "shop"],
        &["describe", "leases", "-A", "-l", "app=web"],
        &["describe", "deployment", "front", "-n", "shop"],
        &["describe", "rs", "-n", "shop"],
        &["describe", "statefulset/store", "-n", "shop"],
        &["describe", "ds", "agent", "-n", "shop"],
        &["describe", "pvc", "data-store-0", "-n", "shop"],
        &["describe", "services", "-n", "shop"],
        &["describe", "job/report", "-n", "shop"],
        &["describe", "hpa", "front", "-n", "shop"],
        &["describe", "cronjob", "nightly", "-n", "shop"],
    ] {
        same(&server, args);
    }
}

/// The ages of the pods under a node's `Non-terminated Pods`, which are seconds old and may tick
/// between the two runs (the last column, so no other cell moves).
fn without_pod_ages(text: &str) -> String {
    let mut in_pods = false;
    let mut out = Vec::new();
    for line in text.lines() {
        if line.starts_with("Non-terminated Pods:") {
            in_pods = true;
        } else if line.starts_with("Allocated resources:") {
            in_pods = false;
        }
        match line.rsplit_once(' ') {
            Some((rest, _)) if in_pods && line.starts_with("  ") && !line.starts_with("  Namespace") && !line.starts_with("  ---") => out.push(format!("{rest} AGE")),
            _ => out.push(line.to_string()),
        }
    }
    out.join("\n")
}

/// `-f`: the objects a manifest names.
#[test]
fn describe_from_a_manifest() {
    let server = server_with_fixture();
    let manifest = std::env::temp_dir().join(format!("describe-{}.yaml", std::process::id()));
    std::fs::write(&manifest, "apiVersion: v1\nkind: Service\nmetadata: {name: edge, namespace: shop}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: web-2, namespace: shop}\n").unwrap();
    same(&server, &["describe", "-f", manifest.to_str().unwrap()]);
    std::fs::remove_file(&manifest).unwrap();
}

#[test]
fn describe_node_as_kubectl() {
    let server = server_with_fixture();
    same_masked(&server, &["describe", "node", "node-a"], without_pod_ages);
    same_masked(&server, &["describe", "nodes"], without_pod_ages);
}

#[test]
fn describe_errors_as_kubectl() {
    let server = server_with_fixture();
    for args in [
        &["describe", "pod", "nosuch", "-n", "shop"][..],
        &["describe", "pod/nosuch", "-n", "shop"],
        &["describe", "pods", "-n", "empty"],
        &["describe", "nosuchkind", "x"],
        &["describe", "pod", "web-2", "nosuch", "-n", "shop"],
        &["describe", "pods", "-l", "app=nosuch", "-n", "shop"],
        &["describe"],
    ] {
        same(&server, args);
    }
}
