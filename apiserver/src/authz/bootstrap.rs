//! The default ClusterRoles and ClusterRoleBindings created at start.

use serde_json::{Value, json};

/// The default ClusterRoles and ClusterRoleBindings, as kube-apiserver's RBAC bootstrap makes
/// them (abridged to the resources this server serves).
pub fn defaults() -> Vec<(&'static str, Value)> {
    let read = ["get", "list", "watch"];
    let write = ["create", "delete", "deletecollection", "patch", "update"];
    let aggregate = |to: &[&str]| -> Value { to.iter().map(|role| (format!("rbac.authorization.k8s.io/aggregate-to-{role}"), json!("true"))).collect::<serde_json::Map<_, _>>().into() };
    let role = |name: &str, labels: Value, rules: Value| json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": name, "labels": labels}, "rules": rules});
    let aggregated = |name: &str| {
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": name, "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"}},
               "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {format!("rbac.authorization.k8s.io/aggregate-to-{name}"): "true"}}]}, "rules": []})
    };
    // Subjects as (kind, name): `User` or `Group`.
    let binding = |name: &str, role: &str, subjects: &[(&str, &str)]| {
        let subjects: Vec<Value> = subjects.iter().map(|(kind, name)| json!({"kind": kind, "apiGroup": "rbac.authorization.k8s.io", "name": name})).collect();
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": name, "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"}},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role}, "subjects": subjects})
    };
    let core_read = [
        "pods", "pods/log", "pods/status", "replicationcontrollers", "replicationcontrollers/scale", "replicationcontrollers/status",
        "configmaps", "endpoints", "services", "services/status", "serviceaccounts", "events", "namespaces", "namespaces/status",
        "persistentvolumeclaims", "persistentvolumeclaims/status", "limitranges", "resourcequotas", "resourcequotas/status",
    ];
    let apps_read = [
        "controllerrevisions", "daemonsets", "daemonsets/status", "deployments", "deployments/scale", "deployments/status",
        "replicasets", "replicasets/scale", "replicasets/status", "statefulsets", "statefulsets/scale", "statefulsets/status",
    ];
    let batch_read = ["cronjobs", "cronjobs/status", "jobs", "jobs/status"];
    let core_write = [
        "pods", "pods/exec", "pods/attach", "pods/portforward", "replicationcontrollers", "replicationcontrollers/scale",
        "configmaps", "endpoints", "secrets", "services", "serviceaccounts", "persistentvolumeclaims",
    ];
    // As kube's edit role: the workloads and their scale, not their status; ControllerRevisions
    // are their controllers' to write.
    let apps_write = ["daemonsets", "deployments", "deployments/scale", "replicasets", "replicasets/scale", "statefulsets", "statefulsets/scale"];
    let labels = json!({"kubernetes.io/bootstrapping": "rbac-defaults"});
    // `eventsRule()`: what components that record events need.
    let events = json!({"apiGroups": [""], "resources": ["events"], "verbs": ["create", "update", "patch"]});
    let events_v1 = json!({"apiGroups": ["events.k8s.io"], "resources": ["events"], "verbs": ["create", "update", "patch"]});
    vec![
        ("clusterroles", role("cluster-admin", json!({"kubernetes.io/bootstrapping": "rbac-defaults"}), json!([
            {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}, {"nonResourceURLs": ["*"], "verbs": ["*"]}]))),
        ("clusterroles", aggregated("admin")),
        ("clusterroles", aggregated("edit")),
        ("clusterroles", aggregated("view")),
        ("clusterroles", role("system:aggregate-to-view", aggregate(&["admin", "edit", "view"]), json!([
            {"apiGroups": [""], "resources": core_read, "verbs": read},
            {"apiGroups": ["apps"], "resources": apps_read, "verbs": read},
            {"apiGroups": ["autoscaling"], "resources": ["horizontalpodautoscalers", "horizontalpodautoscalers/status"], "verbs": read},
            {"apiGroups": ["batch"], "resources": batch_read, "verbs": read},
            {"apiGroups": ["policy"], "resources": ["poddisruptionbudgets", "poddisruptionbudgets/status"], "verbs": read},
            {"apiGroups": ["networking.k8s.io"], "resources": ["ingresses", "ingresses/status", "networkpolicies"], "verbs": read},
            {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": read}]))),
        ("clusterroles", role("system:aggregate-to-edit", aggregate(&["admin", "edit"]), json!([
            {"apiGroups": [""], "resources": core_write, "verbs": write},
            {"apiGroups": [""], "resources": ["secrets", "pods/attach", "pods/exec", "pods/portforward"], "verbs": read},
            // As kube's edit role: a pod may be evicted (which honours its disruption budgets).
            {"apiGroups": [""], "resources": ["pods/eviction"], "verbs": ["create"]},
            {"apiGroups": ["apps"], "resources": apps_write, "verbs": write},
            {"apiGroups": ["autoscaling"], "resources": ["horizontalpodautoscalers"], "verbs": write},
            {"apiGroups": ["batch"], "resources": ["cronjobs", "jobs"], "verbs": write},
            {"apiGroups": ["policy"], "resources": ["poddisruptionbudgets"], "verbs": write},
            // Spark's submission client writes a NetworkPolicy per application under edit.
            {"apiGroups": ["networking.k8s.io"], "resources": ["ingresses", "networkpolicies"], "verbs": write}]))),
        ("clusterroles", role("system:aggregate-to-admin", aggregate(&["admin"]), json!([
            {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["roles", "rolebindings"], "verbs": ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]},
            {"apiGroups": ["authorization.k8s.io"], "resources": ["localsubjectaccessreviews"], "verbs": ["create"]}]))),
        ("clusterroles", role("system:basic-user", json!({"kubernetes.io/bootstrapping": "rbac-defaults"}), json!([
            {"apiGroups": ["authorization.k8s.io"], "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"], "verbs": ["create"]},
            {"apiGroups": ["authentication.k8s.io"], "resources": ["selfsubjectreviews"], "verbs": ["create"]}]))),
        // What a server that delegates authentication and authorization to this one needs
        // (bound by aggregated apiservers, webhooks and kr8s' `whoami`).
        ("clusterroles", role("system:auth-delegator", labels.clone(), json!([
            {"apiGroups": ["authentication.k8s.io"], "resources": ["tokenreviews"], "verbs": ["create"]},
            {"apiGroups": ["authorization.k8s.io"], "resources": ["subjectaccessreviews"], "verbs": ["create"]}]))),
        ("clusterroles", role("system:discovery", json!({"kubernetes.io/bootstrapping": "rbac-defaults"}), json!([
            {"nonResourceURLs": ["/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/openapi", "/openapi/*", "/readyz", "/version", "/version/"], "verbs": ["get"]}]))),
        ("clusterroles", role("system:public-info-viewer", json!({"kubernetes.io/bootstrapping": "rbac-defaults"}), json!([
            {"nonResourceURLs": ["/healthz", "/livez", "/readyz", "/version", "/version/"], "verbs": ["get"]}]))),
        ("clusterroles", role("system:node", labels.clone(), super::node::node_rules())),
        // What a client of the kubelets' API needs (their authorizer asks about nodes' subresources).
        ("clusterroles", role("system:kubelet-api-admin", labels.clone(), json!([
            {"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "list", "watch", "proxy"]},
            {"apiGroups": [""], "resources": ["nodes/log", "nodes/metrics", "nodes/proxy", "nodes/stats"], "verbs": ["*"]}]))),
        ("clusterroles", role("system:node-proxier", labels.clone(), json!([
            {"apiGroups": [""], "resources": ["services", "endpoints"], "verbs": ["list", "watch"]},
            {"apiGroups": [""], "resources": ["nodes"], "verbs": read},
            {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": ["list", "watch"]},
            events.clone(), events_v1.clone()]))),
        ("clusterroles", role("system:kube-scheduler", labels.clone(), json!([
            events.clone(), events_v1.clone(),
            // Leader election, in --leader-elect-resource-namespace (kube-system).
            {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["create"]},
            {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "resourceNames": ["kube-scheduler"], "verbs": ["get", "update"]},
            {"apiGroups": [""], "resources": ["nodes"], "verbs": read},
            {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch", "delete"]},
            {"apiGroups": [""], "resources": ["pods/binding", "bindings"], "verbs": ["create"]},
            {"apiGroups": [""], "resources": ["pods/status"], "verbs": ["patch", "update"]},
            // What selects pods, and namespaces for affinity's namespace selectors.
            {"apiGroups": [""], "resources": ["services", "replicationcontrollers", "namespaces"], "verbs": read},
            {"apiGroups": ["apps"], "resources": ["replicasets", "statefulsets"], "verbs": read},
            // Preemption: victims are chosen violating as few disruption budgets as may be, and
            // by their priority.
            {"apiGroups": ["policy"], "resources": ["poddisruptionbudgets"], "verbs": read},
            {"apiGroups": ["scheduling.k8s.io"], "resources": ["priorityclasses"], "verbs": read},
            // VolumeBinding: it reads claims, volumes and what provisions them, and binds
            // (a volume's claimRef, a claim's selected-node annotation) before the pod.
            {"apiGroups": [""], "resources": ["persistentvolumeclaims", "persistentvolumes"], "verbs": read},
            {"apiGroups": [""], "resources": ["persistentvolumeclaims", "persistentvolumes"], "verbs": ["update", "patch"]},
            {"apiGroups": ["storage.k8s.io"], "resources": ["storageclasses", "csinodes", "csidrivers"], "verbs": read},
            {"apiGroups": ["authorization.k8s.io"], "resources": ["subjectaccessreviews"], "verbs": ["create"]}]))),
        // Broader than Kubernetes' role of the same name: kube-controller-manager runs each
        // controller with a service account of its own, bound to a role for that controller,
        // while this controller-manager runs them all as itself. The garbage collector and the
        // namespace controller read, patch and delete objects of every kind (and the
        // namespace controller finalizes namespaces), node lifecycle writes node status and
        // taints and deletes pods, node IPAM patches nodes; the workload controllers
        // (Deployment, ReplicaSet, ReplicationController, Job, CronJob, DaemonSet, StatefulSet),
        // endpoints and service account controllers create what they own (pods, ReplicaSets,
        // Jobs, ControllerRevisions, a StatefulSet's claims; the latter each namespace's
        // kube-root-ca.crt ConfigMap) and write their objects' status (`*` covers the status
        // subresources). The storage controllers create volumes (the local-path provisioner),
        // claims (ephemeral volumes, StatefulSets) and the default StorageClass.
        // The horizontal pod autoscaler reads metrics.k8s.io and scales and writes scales, the
        // disruption and resource quota controllers write their objects' status: the first
        // rule covers them.
        ("clusterroles", role("system:kube-controller-manager", labels.clone(), json!([
            {"apiGroups": ["*"], "resources": ["*"], "verbs": ["get", "list", "watch", "update", "patch", "delete", "deletecollection"]},
            {"apiGroups": [""], "resources": ["pods", "endpoints", "serviceaccounts", "serviceaccounts/token", "configmaps"], "verbs": ["create"]},
            {"apiGroups": ["apps"], "resources": ["replicasets", "controllerrevisions"], "verbs": ["create"]},
            {"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["create"]},
            {"apiGroups": [""], "resources": ["persistentvolumeclaims", "persistentvolumes"], "verbs": ["create"]},
            {"apiGroups": ["storage.k8s.io"], "resources": ["storageclasses"], "verbs": ["create"]},
            // Leader election, in --leader-elect-resource-namespace (kube-system).
            {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["create"]},
            events, events_v1,
            {"apiGroups": ["authorization.k8s.io"], "resources": ["subjectaccessreviews"], "verbs": ["create"]},
            // As kube's certificate-controller: the csrsigning controller signs for kube's
            // signers, which the CertificateSigning admission plugin asks of it.
            {"apiGroups": ["certificates.k8s.io"], "resources": ["signers"], "resourceNames": ["kubernetes.io/kube-apiserver-client-kubelet"], "verbs": ["approve"]},
            {"apiGroups": ["certificates.k8s.io"], "resources": ["signers"], "verbs": ["sign"], "resourceNames": [
                "kubernetes.io/legacy-unknown", "kubernetes.io/kube-apiserver-client", "kubernetes.io/kube-apiserver-client-kubelet", "kubernetes.io/kubelet-serving"]}]))),
        // Kube's roles for certificate requests, bound by whoever delegates them: creating a
        // request (and, for a node's client certificate, having it approved automatically),
        // and approving those of one signer (the CertificateApproval plugin asks for it).
        ("clusterroles", role("system:node-bootstrapper", labels.clone(), json!([
            {"apiGroups": ["certificates.k8s.io"], "resources": ["certificatesigningrequests"], "verbs": ["create", "get", "list", "watch"]}]))),
        ("clusterroles", role("system:certificates.k8s.io:certificatesigningrequests:nodeclient", labels.clone(), json!([
            {"apiGroups": ["certificates.k8s.io"], "resources": ["certificatesigningrequests/nodeclient"], "verbs": ["create"]}]))),
        ("clusterroles", role("system:certificates.k8s.io:certificatesigningrequests:selfnodeclient", labels.clone(), json!([
            {"apiGroups": ["certificates.k8s.io"], "resources": ["certificatesigningrequests/selfnodeclient"], "verbs": ["create"]}]))),
        ("clusterroles", signer_approver("legacy-unknown", &labels)),
        ("clusterroles", signer_approver("kubelet-serving", &labels)),
        ("clusterroles", signer_approver("kube-apiserver-client", &labels)),
        ("clusterroles", signer_approver("kube-apiserver-client-kubelet", &labels)),
        ("clusterrolebindings", binding("cluster-admin", "cluster-admin", &[("Group", "system:masters")])),
        ("clusterrolebindings", binding("system:basic-user", "system:basic-user", &[("Group", "system:authenticated")])),
        ("clusterrolebindings", binding("system:discovery", "system:discovery", &[("Group", "system:authenticated")])),
        ("clusterrolebindings", binding("system:public-info-viewer", "system:public-info-viewer", &[("Group", "system:authenticated"), ("Group", "system:unauthenticated")])),
        // Kubernetes binds it to kube-proxy alone; here every kubelet runs a service proxy too.
        ("clusterrolebindings", binding("system:node-proxier", "system:node-proxier", &[("User", "system:kube-proxy"), ("Group", super::node::NODES_GROUP)])),
        ("clusterrolebindings", binding("system:kube-scheduler", "system:kube-scheduler", &[("User", "system:kube-scheduler")])),
        ("clusterrolebindings", binding("system:kube-controller-manager", "system:kube-controller-manager", &[("User", "system:kube-controller-manager")])),
    ]
}

/// `system:certificates.k8s.io:<signer>-approver`: `approve` on kube's signer of that name.
fn signer_approver(signer: &str, labels: &Value) -> Value {
    json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
           "metadata": {"name": format!("system:certificates.k8s.io:{signer}-approver"), "labels": labels},
           "rules": [{"apiGroups": ["certificates.k8s.io"], "resources": ["signers"], "resourceNames": [format!("kubernetes.io/{signer}")], "verbs": ["approve"]}]})
}
