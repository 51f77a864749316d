//! Pods: `SetDefaults_Pod`, the pod strategy (status reset to `Pending` with the QoS class on
//! create), `ValidatePodCreate`, `ValidatePodUpdate` (only images, `activeDeadlineSeconds`,
//! added tolerations and removed scheduling gates may change) and `ValidatePodStatusUpdate`.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::{ContainerStatus, Pod, PodCondition, PodSpec, PodStatus};
use serde_json::Value;

use super::field::{Causes, Path, json_of};
use super::names;
use super::pod_spec;
use super::quantity::{self, Quantity, QuantityError};
use super::{Context, TypedKind};

const MAX_INT32: i64 = i32::MAX as i64;

const UPDATABLE_FIELDS: &str = "`spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)";

const PHASES: &[&str] = &["Pending", "Running", "Succeeded", "Failed", "Unknown"];
const CONDITION_STATUSES: &[&str] = &["True", "False", "Unknown"];

fn spec_of(pod: &Pod) -> PodSpec {
    pod.spec.clone().unwrap_or_default()
}

impl TypedKind for Pod {
    fn check_quantities(&self) -> Result<(), QuantityError> {
        self.spec.as_ref().map_or(Ok(()), pod_spec::check_quantities)
    }

    /// The Priority admission plugin's update half.
    fn prepare_for_update(&mut self, old: &Self) {
        super::priority::keep_on_update(self, old);
    }

    fn apply_defaults(&mut self) {
        let spec = self.spec.get_or_insert_with(Default::default);
        pod_spec::apply_defaults(spec);
        pod_spec::apply_pod_only_defaults(spec);
        // An admission plugin in Kubernetes, on create and update alike.
        add_default_tolerations(spec);
        super::service_account::mirror_deprecated_name(spec);
    }

    fn prepare_for_create(&mut self) {
        super::service_account::admit_pod(self);
        let spec = spec_of(self);
        let mut status =
            PodStatus { phase: Some("Pending".into()), qos_class: Some(qos_class(&spec).into()), ..Default::default() };
        // applyWaitingForSchedulingGatesCondition: a gated pod says why it is not scheduled.
        if spec.scheduling_gates.as_ref().is_some_and(|gates| !gates.is_empty()) {
            status.conditions = Some(vec![PodCondition {
                type_: "PodScheduled".into(),
                status: "False".into(),
                reason: Some("SchedulingGated".into()),
                message: Some("Scheduling is blocked due to non-empty scheduling gates".into()),
                ..Default::default()
            }]);
        }
        self.status = Some(status);
    }

    fn prepare_for_status_update(&mut self, old: &Self) {
        // The QoS class is set at creation; an old kubelet may drop it, so it is carried over.
        let old_class = old.status.as_ref().and_then(|status| status.qos_class.clone());
        let status = self.status.get_or_insert_with(Default::default);
        if status.qos_class.as_deref().unwrap_or_default().is_empty() {
            status.qos_class = old_class;
        }
        // The pods/status endpoint may not touch owner references (kubelets used to corrupt them).
        self.metadata.owner_references = old.metadata.owner_references.clone();
    }

    fn validate(&self, _context: &Context, causes: &mut Causes) {
        let spec = spec_of(self);
        validate_metadata_and_spec(&spec, causes);
        let spec_path = Path::new("spec");
        if spec.ephemeral_containers.as_ref().is_some_and(|containers| !containers.is_empty()) {
            causes.forbidden(&spec_path.child("ephemeralContainers"), "cannot be set on create");
        }
        let gated = spec.scheduling_gates.as_ref().is_some_and(|gates| !gates.is_empty());
        if gated && !spec.node_name.as_deref().unwrap_or_default().is_empty() {
            causes.forbidden(&spec_path.child("nodeName"), "cannot be set until all schedulingGates have been cleared");
        }
    }

    fn validate_update(&self, old: &Self, _context: &Context, causes: &mut Causes) {
        let spec = spec_of(self);
        validate_metadata_and_spec(&spec, causes);
        validate_spec_update(&spec, &spec_of(old), causes);
    }

    fn validate_status_update(&self, old: &Self, _context: &Context, causes: &mut Causes) {
        let status = self.status.clone().unwrap_or_default();
        let old_status = old.status.clone().unwrap_or_default();
        let path = Path::new("status");
        // Kubernetes reports the conditions under `metadata` (sic).
        let conditions_path = Path::new("metadata").child("conditions");
        for (index, condition) in status.conditions.iter().flatten().enumerate() {
            if !matches!(condition.type_.as_str(), "PodScheduled" | "Ready" | "Initialized") {
                let field = conditions_path.index(index).child("Type");
                causes.invalid_each(&field, &condition.type_, names::qualified_name(&condition.type_));
            }
            // Stricter than Kubernetes, which takes any status: only the three condition values.
            if !CONDITION_STATUSES.contains(&condition.status.as_str()) {
                let field = path.child("conditions").index(index).child("status");
                causes.not_supported(&field, condition.status.as_str(), CONDITION_STATUSES);
            }
        }
        // Stricter than Kubernetes, which takes any phase: only the documented phases.
        if let Some(phase) = status.phase.as_deref().filter(|phase| !phase.is_empty())
            && !PHASES.contains(&phase)
        {
            causes.not_supported(&path.child("phase"), phase, PHASES);
        }
        if spec_of(self).node_name != spec_of(old).node_name {
            causes.forbidden(&path.child("nodeName"), "may not be changed directly");
        }
        if let Some(nominated) = status.nominated_node_name.as_deref().filter(|name| !name.is_empty())
            && status.nominated_node_name != old_status.nominated_node_name
        {
            causes.invalid_each(&path.child("nominatedNodeName"), nominated, names::dns1123_subdomain(nominated));
        }
        if status.qos_class != old_status.qos_class {
            causes.immutable(&path.child("qosClass"), json_of(&status.qos_class));
        }
        let restart_policy = spec_of(old).restart_policy.unwrap_or_default();
        validate_state_transitions(
            status.container_statuses.as_deref().unwrap_or_default(),
            old_status.container_statuses.as_deref().unwrap_or_default(),
            &restart_policy,
            &path.child("containerStatuses"),
            causes,
        );
        let ips: Vec<&str> = status.pod_ips.iter().flatten().map(|ip| ip.ip.as_str()).collect();
        validate_ips(&ips, &path.child("podIPs"), causes);
        let host_ips: Vec<&str> = status.host_ips.iter().flatten().map(|ip| ip.ip.as_str()).collect();
        if let Some(first) = host_ips.first()
            && status.host_ip.as_deref().unwrap_or_default() != *first
        {
            causes.invalid(&path.child("hostIPs").index(0).child("ip"), *first, "must be equal to `hostIP`");
        }
        validate_ips(&host_ips, &path.child("hostIPs"), causes);
    }
}

/// `validatePodMetadataAndSpec` beyond `metadata`: the spec, and images without surrounding
/// blanks (checked for Pods only, not templates).
/// The DefaultTolerationSeconds admission plugin: a pod that does not say how long it stays on a
/// not-ready or unreachable node stays 300 s, after which the node lifecycle controller evicts it.
fn add_default_tolerations(spec: &mut PodSpec) {
    let (not_ready, unreachable) = super::default_tolerations();
    let tolerations = spec.tolerations.get_or_insert_with(Vec::new);
    for (key, seconds) in [("node.kubernetes.io/not-ready", not_ready), ("node.kubernetes.io/unreachable", unreachable)] {
        let covered = tolerations.iter().any(|toleration| {
            let toleration_key = toleration.key.as_deref().unwrap_or_default();
            let effect = toleration.effect.as_deref().unwrap_or_default();
            (toleration_key == key || toleration_key.is_empty()) && (effect == "NoExecute" || effect.is_empty())
        });
        if !covered {
            tolerations.push(k8s_openapi::api::core::v1::Toleration {
                key: Some(key.into()),
                operator: Some("Exists".into()),
                effect: Some("NoExecute".into()),
                toleration_seconds: Some(seconds),
                value: None,
            });
        }
    }
}

fn validate_metadata_and_spec(spec: &PodSpec, causes: &mut Causes) {
    let spec_path = Path::new("spec");
    pod_spec::validate(spec, &spec_path, true, causes);
    let lists = [("containers", Some(&spec.containers)), ("initContainers", spec.init_containers.as_ref())];
    for (field, containers) in lists {
        for (index, container) in containers.into_iter().flatten().enumerate() {
            let image = container.image.as_deref().unwrap_or_default();
            if image.trim() != image {
                let path = spec_path.child(field).index(index).child("image");
                causes.invalid(&path, image, "must not have leading or trailing whitespace");
            }
        }
    }
}

/// The pod IPs (or host IPs) in status: valid, at most one per family, no repeats.
fn validate_ips(ips: &[&str], path: &Path, causes: &mut Causes) {
    let mut valid = true;
    for (index, ip) in ips.iter().enumerate() {
        if !names::is_ip(ip) {
            valid = false;
            causes.invalid(&path.index(index), *ip, names::IP_MESSAGE);
        }
    }
    if ips.len() > 1 && valid {
        let families: BTreeSet<bool> = ips.iter().filter_map(|ip| names::parse_ip(ip)).map(|ip| ip.is_ipv4()).collect();
        if ips.len() > 2 || families.len() != 2 {
            causes.invalid(path, json_of(&ips), "may specify no more than one IP for each IP family");
        }
        let mut seen = BTreeSet::new();
        for (index, ip) in ips.iter().enumerate() {
            if !seen.insert(*ip) {
                causes.duplicate(&path.index(index), *ip);
            }
        }
    }
}

/// `ValidateContainerStateTransition`: a container that terminated for good stays terminated.
fn validate_state_transitions(
    new: &[ContainerStatus],
    old: &[ContainerStatus],
    restart_policy: &str,
    path: &Path,
    causes: &mut Causes,
) {
    if restart_policy == "Always" {
        return;
    }
    for (index, old_status) in old.iter().enumerate() {
        let Some(terminated) = old_status.state.as_ref().and_then(|state| state.terminated.as_ref()) else { continue };
        if terminated.exit_code != 0 && restart_policy == "OnFailure" {
            continue;
        }
        let revived = new.iter().any(|status| {
            status.name == old_status.name && status.state.as_ref().is_none_or(|state| state.terminated.is_none())
        });
        if revived {
            causes.forbidden(&path.index(index).child("state"), "may not be transitioned to non-terminated state");
        }
    }
}

/// The QoS class, as `qos.ComputePodQOS` computes it from cpu and memory requests and limits.
pub(crate) fn qos_class(spec: &PodSpec) -> &'static str {
    let mut requests: BTreeMap<&str, Quantity> = BTreeMap::new();
    let mut limits: BTreeMap<&str, Quantity> = BTreeMap::new();
    let mut guaranteed = true;
    let containers = spec.containers.iter().chain(spec.init_containers.iter().flatten());
    for container in containers {
        let resources = container.resources.as_ref();
        for (name, value) in resources.and_then(|r| r.requests.as_ref()).into_iter().flatten() {
            let Some(name) = compute_resource(name) else { continue };
            let Ok(value) = quantity::parse(&value.0) else { continue };
            if value.is_positive() {
                let total = requests.get(name).map_or(value, |sum| sum.add(&value));
                requests.insert(name, total);
            }
        }
        let mut found = BTreeSet::new();
        for (name, value) in resources.and_then(|r| r.limits.as_ref()).into_iter().flatten() {
            let Some(name) = compute_resource(name) else { continue };
            let Ok(value) = quantity::parse(&value.0) else { continue };
            if value.is_positive() {
                found.insert(name);
                let total = limits.get(name).map_or(value, |sum| sum.add(&value));
                limits.insert(name, total);
            }
        }
        if !(found.contains("cpu") && found.contains("memory")) {
            guaranteed = false;
        }
    }
    if requests.is_empty() && limits.is_empty() {
        return "BestEffort";
    }
    if guaranteed {
        guaranteed = requests.iter().all(|(name, request)| limits.get(name).is_some_and(|limit| limit == request));
    }
    if guaranteed && requests.len() == limits.len() { "Guaranteed" } else { "Burstable" }
}

fn compute_resource(name: &str) -> Option<&'static str> {
    match name {
        "cpu" => Some("cpu"),
        "memory" => Some("memory"),
        _ => None,
    }
}

/// `ValidatePodUpdate`'s spec rules.
fn validate_spec_update(new: &PodSpec, old: &PodSpec, causes: &mut Causes) {
    let path = Path::new("spec");
    let lists = [
        ("containers", new.containers.as_slice(), old.containers.as_slice()),
        (
            "initContainers",
            new.init_containers.as_deref().unwrap_or_default(),
            old.init_containers.as_deref().unwrap_or_default(),
        ),
    ];
    for (field, new_list, old_list) in lists {
        if new_list.len() != old_list.len() {
            return causes.forbidden(&path.child(field), "pod updates may not add or remove containers");
        }
        for (index, container) in new_list.iter().enumerate() {
            if container.image.as_deref().unwrap_or_default().is_empty() {
                causes.required(&path.child(field).index(index).child("image"), "");
            }
        }
    }
    let deadline_path = path.child("activeDeadlineSeconds");
    match (new.active_deadline_seconds, old.active_deadline_seconds) {
        (Some(deadline), _) if !(0..=MAX_INT32).contains(&deadline) => {
            return causes.invalid(&deadline_path, deadline, &names::inclusive_range_error(0, MAX_INT32));
        }
        (Some(deadline), Some(previous)) if previous < deadline => {
            return causes.invalid(&deadline_path, deadline, "must be less than or equal to previous value");
        }
        (None, Some(_)) => {
            causes.invalid(&deadline_path, Value::Null, "must not update from a positive integer to nil value");
        }
        _ => {}
    }
    validate_only_added_tolerations(new, old, &path.child("tolerations"), causes);
    let old_gates: BTreeSet<&str> = old.scheduling_gates.iter().flatten().map(|gate| gate.name.as_str()).collect();
    for (index, gate) in new.scheduling_gates.iter().flatten().enumerate() {
        if !old_gates.contains(gate.name.as_str()) {
            let detail = format!("only deletion is allowed, but found new scheduling gate '{}'", gate.name);
            causes.forbidden(&path.child("schedulingGates").index(index).child("name"), &detail);
        }
    }
    if new == old {
        return;
    }
    // Put back what may change, then anything left over is a change that may not be made.
    let mut munged = new.clone();
    for (container, previous) in munged.containers.iter_mut().zip(&old.containers) {
        container.image = previous.image.clone();
    }
    for (container, previous) in
        munged.init_containers.iter_mut().flatten().zip(old.init_containers.iter().flatten())
    {
        container.image = previous.image.clone();
    }
    munged.active_deadline_seconds = old.active_deadline_seconds;
    munged.scheduling_gates = old.scheduling_gates.clone();
    munged.tolerations = old.tolerations.clone();
    if old.termination_grace_period_seconds.is_some_and(|grace| grace < 0)
        && munged.termination_grace_period_seconds == Some(1)
    {
        munged.termination_grace_period_seconds = old.termination_grace_period_seconds;
    }
    // A gated pod may gain node selector entries (but not lose or change them).
    let gated = old.scheduling_gates.as_ref().is_some_and(|gates| !gates.is_empty());
    if gated {
        let old_selector = old.node_selector.clone().unwrap_or_default();
        let new_selector = munged.node_selector.clone().unwrap_or_default();
        if old_selector.iter().all(|(key, value)| new_selector.get(key) == Some(value)) {
            munged.node_selector = old.node_selector.clone();
        }
    }
    if munged != *old {
        let diff = describe_changes(&json_of(old), &json_of(&munged));
        causes.forbidden(&path, &format!("pod updates may not change fields other than {UPDATABLE_FIELDS}\n{diff}"));
    }
}

/// `validateOnlyAddedTolerations`: existing tolerations stay, except for their
/// `tolerationSeconds`.
fn validate_only_added_tolerations(new: &PodSpec, old: &PodSpec, path: &Path, causes: &mut Causes) {
    let new_tolerations = new.tolerations.as_deref().unwrap_or_default();
    for previous in old.tolerations.iter().flatten() {
        let kept = new_tolerations.iter().any(|toleration| {
            let mut previous = previous.clone();
            previous.toleration_seconds = toleration.toleration_seconds;
            previous == *toleration
        });
        if !kept {
            return causes.forbidden(path, "existing toleration can not be modified except its tolerationSeconds");
        }
    }
    pod_spec::validate_tolerations(new_tolerations, path, causes);
}

/// A short account of what differs between two specs, one `path: old -> new` line per change
/// (Kubernetes appends a `cmp.Diff` of the Go structs here).
fn describe_changes(old: &Value, new: &Value) -> String {
    let mut lines = Vec::new();
    diff(old, new, "spec", &mut lines);
    lines.join("\n")
}

fn diff(old: &Value, new: &Value, path: &str, lines: &mut Vec<String>) {
    match (old, new) {
        (Value::Object(old_fields), Value::Object(new_fields)) => {
            let keys: BTreeSet<&String> = old_fields.keys().chain(new_fields.keys()).collect();
            for key in keys {
                let old_value = old_fields.get(key).unwrap_or(&Value::Null);
                let new_value = new_fields.get(key).unwrap_or(&Value::Null);
                diff(old_value, new_value, &format!("{path}.{key}"), lines);
            }
        }
        (Value::Array(old_items), Value::Array(new_items)) if old_items.len() == new_items.len() => {
            for (index, (old_item, new_item)) in old_items.iter().zip(new_items).enumerate() {
                diff(old_item, new_item, &format!("{path}[{index}]"), lines);
            }
        }
        _ if old != new => lines.push(format!("  {path}: {old} -> {new}")),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::test_support::*;
    use super::super::{FieldValidation, admit_create, admit_status_update, admit_update};

    #[test]
    fn a_minimal_pod_gets_kubernetes_defaults() {
        let object = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "demo"},
            "spec": {"containers": [{"name": "web", "image": "nginx",
                "ports": [{"containerPort": 80}],
                "readinessProbe": {"httpGet": {"port": 80}},
                "env": [{"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
                "volumeMounts": [{"name": "config", "mountPath": "/etc/app"}, {"name": "scratch", "mountPath": "/tmp"}]}],
                "volumes": [{"name": "config", "configMap": {"name": "app"}}, {"name": "scratch"}]},
            "status": {"phase": "Running", "podIP": "10.0.0.1"}});
        let admitted = admit_create(resource("pods"), object, FieldValidation::Strict).expect("admitted");
        let expected = json!({
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "demo"},
            "spec": {
                "containers": [{
                    "name": "web", "image": "nginx", "imagePullPolicy": "Always",
                    "ports": [{"containerPort": 80, "protocol": "TCP"}],
                    "readinessProbe": {"httpGet": {"port": 80, "path": "/", "scheme": "HTTP"},
                        "timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3},
                    "env": [{"name": "POD", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}}}],
                    "volumeMounts": [{"name": "config", "mountPath": "/etc/app"}, {"name": "scratch", "mountPath": "/tmp"}],
                    "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File"
                }],
                "volumes": [{"name": "config", "configMap": {"name": "app", "defaultMode": 420}}, {"name": "scratch", "emptyDir": {}}],
                "restartPolicy": "Always", "dnsPolicy": "ClusterFirst", "terminationGracePeriodSeconds": 30,
                "schedulerName": "default-scheduler", "securityContext": {}, "enableServiceLinks": true,
                // The ServiceAccount admission plugin's (no token volume: no signing key here).
                "serviceAccountName": "default", "serviceAccount": "default",
                "tolerations": [
                    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
                    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}
                ]
            },
            "status": {"phase": "Pending", "qosClass": "BestEffort"}
        });
        assert_eq!(admitted.object, expected);
    }

    #[test]
    fn default_tolerations_leave_a_pods_own_alone() {
        let object = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "demo"},
            "spec": {"containers": [{"name": "web", "image": "nginx"}],
                     "tolerations": [{"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 5}]}});
        let admitted = admit_create(resource("pods"), object, FieldValidation::Strict).expect("admitted");
        assert_eq!(admitted.object["spec"]["tolerations"], json!([
            {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 5},
            {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}
        ]));
        let everything = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "demo"},
            "spec": {"containers": [{"name": "web", "image": "nginx"}], "tolerations": [{"operator": "Exists"}]}});
        let admitted = admit_create(resource("pods"), everything, FieldValidation::Strict).expect("admitted");
        assert_eq!(admitted.object["spec"]["tolerations"], json!([{"operator": "Exists"}]));
    }

    #[test]
    fn qos_class_follows_requests_and_limits() {
        let rows: Vec<(&str, serde_json::Value, &str)> = vec![
            ("nothing", json!(null), "BestEffort"),
            ("limits become requests", json!({"limits": {"cpu": "1", "memory": "1Gi"}}), "Guaranteed"),
            ("requests equal limits", json!({"requests": {"cpu": "1000m", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "1024Mi"}}), "Guaranteed"),
            ("requests below limits", json!({"requests": {"cpu": "500m"}, "limits": {"cpu": "1", "memory": "1Gi"}}), "Burstable"),
            ("only cpu", json!({"limits": {"cpu": "1"}}), "Burstable"),
            ("only requests", json!({"requests": {"memory": "64Mi"}}), "Burstable"),
            ("zero is nothing", json!({"requests": {"cpu": "0"}}), "BestEffort"),
            ("other resources do not count", json!({"limits": {"ephemeral-storage": "1Gi"}}), "BestEffort"),
        ];
        for (label, resources, expected) in rows {
            let mut object = pod("web");
            if !resources.is_null() {
                object["spec"]["containers"][0]["resources"] = resources;
            }
            let admitted = admit_create(resource("pods"), object, FieldValidation::Strict).expect(label);
            assert_eq!(admitted.object["status"]["qosClass"], expected, "{label}");
        }
    }

    #[test]
    fn pod_create_validation() {
        let rows: Vec<(&str, serde_json::Value, Outcome)> = vec![
            ("valid", pod("web"), Outcome::Admitted),
            ("no name", without(pod("web"), "/metadata/name"), invalid(&["metadata.name"], "name or generateName is required")),
            ("name format", with(pod("web"), "/metadata/name", json!("Web")), invalid(&["metadata.name"], "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")),
            ("namespace format", with(pod("web"), "/metadata/namespace", json!("Demo")), invalid(&["metadata.namespace"], "a lowercase RFC 1123 label")),
            ("label key", with(pod("web"), "/metadata/labels", json!({"a/b/c": "x"})), invalid(&["metadata.labels"], "a qualified name must consist of")),
            ("label value", with(pod("web"), "/metadata/labels", json!({"app": "a b"})), invalid(&["metadata.labels"], "Invalid value: \"a b\": a valid label must be an empty string")),
            ("annotation key", with(pod("web"), "/metadata/annotations", json!({"-x": "1"})), invalid(&["metadata.annotations"], "name part must consist of")),
            ("annotations too large", with(pod("web"), "/metadata/annotations", json!({"big": "x".repeat(262_142)})), invalid(&["metadata.annotations"], "Too long: may not be more than 262144 bytes")),
            ("finalizer", with(pod("web"), "/metadata/finalizers", json!(["mine"])), invalid(&["metadata.finalizers[0]"], "name is neither a standard finalizer name nor is it fully qualified")),
            ("no containers", with(pod("web"), "/spec/containers", json!([])), invalid(&["spec.containers"], "spec.containers: Required value")),
            ("no spec", without(pod("web"), "/spec"), invalid(&["spec.containers"], "Required value")),
            ("container name", with(pod("web"), "/spec/containers/0/name", json!("Web_1")), invalid(&["spec.containers[0].name"], "a lowercase RFC 1123 label must consist of")),
            ("container without name", without(pod("web"), "/spec/containers/0/name"), invalid(&["spec.containers[0].name"], "Required value")),
            ("duplicate container", with(pod("web"), "/spec/containers/1", json!({"name": "web", "image": "x"})), invalid(&["spec.containers[1].name"], "Duplicate value: \"web\"")),
            ("init container named as a container", with(pod("web"), "/spec/initContainers", json!([{"name": "web", "image": "x"}])), invalid(&["spec.initContainers[0].name"], "Duplicate value")),
            ("image required", without(pod("web"), "/spec/containers/0/image"), invalid(&["spec.containers[0].image"], "Required value")),
            ("image blanks", with(pod("web"), "/spec/containers/0/image", json!(" nginx")), invalid(&["spec.containers[0].image"], "must not have leading or trailing whitespace")),
            ("port range", with(pod("web"), "/spec/containers/0/ports", json!([{"containerPort": 70000}])), invalid(&["spec.containers[0].ports[0].containerPort"], "must be between 1 and 65535, inclusive")),
            ("port missing", with(pod("web"), "/spec/containers/0/ports", json!([{"name": "http"}])), invalid(&["spec.containers[0].ports[0].containerPort"], "Required value")),
            ("port name format", with(pod("web"), "/spec/containers/0/ports", json!([{"containerPort": 80, "name": "8080"}])), invalid(&["spec.containers[0].ports[0].name"], "must contain at least one letter (a-z)")),
            ("port name unique", with(pod("web"), "/spec/containers/0/ports", json!([{"containerPort": 80, "name": "http"}, {"containerPort": 81, "name": "http"}])), invalid(&["spec.containers[0].ports[1].name"], "Duplicate value")),
            ("protocol", with(pod("web"), "/spec/containers/0/ports", json!([{"containerPort": 80, "protocol": "HTTP"}])), invalid(&["spec.containers[0].ports[0].protocol"], "Unsupported value: \"HTTP\": supported values: \"SCTP\", \"TCP\", \"UDP\"")),
            ("host port conflict", with(pod("web"), "/spec/containers/0/ports", json!([{"containerPort": 80, "hostPort": 8080}, {"containerPort": 81, "hostPort": 8080}])), invalid(&["spec.containers[0].ports[1].hostPort"], "Duplicate value: \"TCP//8080\"")),
            ("env name", with(pod("web"), "/spec/containers/0/env", json!([{"name": "A=B", "value": "1"}])), invalid(&["spec.containers[0].env[0].name"], "printable ASCII characters other than '='")),
            ("env name required", with(pod("web"), "/spec/containers/0/env", json!([{"value": "1"}])), invalid(&["spec.containers[0].env[0].name"], "Required value")),
            ("valueFrom empty", with(pod("web"), "/spec/containers/0/env", json!([{"name": "A", "valueFrom": {}}])), invalid(&["spec.containers[0].env[0].valueFrom"], "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`")),
            ("valueFrom two sources", with(pod("web"), "/spec/containers/0/env", json!([{"name": "A", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}, "secretKeyRef": {"name": "s", "key": "k"}}}])), invalid(&["spec.containers[0].env[0].valueFrom"], "may not have more than one field specified at a time")),
            ("valueFrom with value", with(pod("web"), "/spec/containers/0/env", json!([{"name": "A", "value": "x", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}])), invalid(&["spec.containers[0].env[0].valueFrom"], "may not be specified when `value` is not empty")),
            ("fieldRef path", with(pod("web"), "/spec/containers/0/env", json!([{"name": "A", "valueFrom": {"fieldRef": {"fieldPath": "spec.nope"}}}])), invalid(&["spec.containers[0].env[0].valueFrom.fieldRef.fieldPath"], "Unsupported value: \"spec.nope\"")),
            ("fieldRef label subscript", with(pod("web"), "/spec/containers/0/env", json!([{"name": "A", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}}])), Outcome::Admitted),
            ("secretKeyRef key", with(pod("web"), "/spec/containers/0/env", json!([{"name": "A", "valueFrom": {"secretKeyRef": {"name": "s", "key": "a b"}}}])), invalid(&["spec.containers[0].env[0].valueFrom.secretKeyRef.key"], "a valid config key")),
            ("envFrom none", with(pod("web"), "/spec/containers/0/envFrom", json!([{"prefix": "X_"}])), invalid(&["spec.containers[0].envFrom"], "must specify one of: `configMapRef` or `secretRef`")),
            ("volume name unique", with(pod("web"), "/spec/volumes", json!([{"name": "a", "emptyDir": {}}, {"name": "a", "emptyDir": {}}])), invalid(&["spec.volumes[1].name"], "Duplicate value: \"a\"")),
            ("volume two sources", with(pod("web"), "/spec/volumes", json!([{"name": "a", "emptyDir": {}, "secret": {"secretName": "s"}}])), invalid(&["spec.volumes[0].secret"], "may not specify more than 1 volume type")),
            ("volume name format", with(pod("web"), "/spec/volumes", json!([{"name": "A", "emptyDir": {}}])), invalid(&["spec.volumes[0].name"], "a lowercase RFC 1123 label")),
            ("secret volume name", with(pod("web"), "/spec/volumes", json!([{"name": "a", "secret": {}}])), invalid(&["spec.volumes[0].secret.secretName"], "Required value")),
            ("file mode", with(pod("web"), "/spec/volumes", json!([{"name": "a", "configMap": {"name": "c", "defaultMode": 1000}}])), invalid(&["spec.volumes[0].configMap.defaultMode"], "must be a number between 0 and 0777 (octal), both inclusive")),
            ("mount of a missing volume", with(pod("web"), "/spec/containers/0/volumeMounts", json!([{"name": "data", "mountPath": "/data"}])), invalid(&["spec.containers[0].volumeMounts[0].name"], "Not found: \"data\"")),
            ("mount path unique", with(with(pod("web"), "/spec/volumes", json!([{"name": "a"}])), "/spec/containers/0/volumeMounts", json!([{"name": "a", "mountPath": "/d"}, {"name": "a", "mountPath": "/d"}])), invalid(&["spec.containers[0].volumeMounts[1].mountPath"], "must be unique")),
            ("restartPolicy", with(pod("web"), "/spec/restartPolicy", json!("Sometimes")), invalid(&["spec.restartPolicy"], "Unsupported value: \"Sometimes\": supported values: \"Always\", \"OnFailure\", \"Never\"")),
            ("dnsPolicy", with(pod("web"), "/spec/dnsPolicy", json!("Google")), invalid(&["spec.dnsPolicy"], "supported values: \"ClusterFirstWithHostNet\", \"ClusterFirst\", \"Default\", \"None\"")),
            ("dnsPolicy None needs dnsConfig", with(pod("web"), "/spec/dnsPolicy", json!("None")), invalid(&["spec.dnsConfig"], "must provide `dnsConfig` when `dnsPolicy` is None")),
            ("pull policy", with(pod("web"), "/spec/containers/0/imagePullPolicy", json!("Sometimes")), invalid(&["spec.containers[0].imagePullPolicy"], "supported values: \"Always\", \"IfNotPresent\", \"Never\"")),
            ("requests above limits", with(pod("web"), "/spec/containers/0/resources", json!({"requests": {"cpu": "2"}, "limits": {"cpu": "1"}})), invalid(&["spec.containers[0].resources.requests"], "Invalid value: \"2\": must be less than or equal to cpu limit of 1")),
            ("negative quantity", with(pod("web"), "/spec/containers/0/resources", json!({"requests": {"memory": "-1Mi"}})), invalid(&["spec.containers[0].resources.requests[memory]"], "must be greater than or equal to 0")),
            ("unknown resource", with(pod("web"), "/spec/containers/0/resources", json!({"limits": {"gpu": "1"}})), invalid(&["spec.containers[0].resources.limits[gpu]", "spec.containers[0].resources.limits[gpu]", "spec.containers[0].resources.requests[gpu]", "spec.containers[0].resources.requests[gpu]"], "must be a standard resource for containers")),
            ("extended resource not whole", with(pod("web"), "/spec/containers/0/resources", json!({"limits": {"example.com/gpu": "500m"}})), invalid(&["spec.containers[0].resources.limits[example.com/gpu]", "spec.containers[0].resources.requests[example.com/gpu]"], "must be an integer")),
            ("extended resource requests equal limits", with(pod("web"), "/spec/containers/0/resources", json!({"requests": {"example.com/gpu": "1"}, "limits": {"example.com/gpu": "2"}})), invalid(&["spec.containers[0].resources.requests"], "must be equal to example.com/gpu limit of 2")),
            ("probe without handler", with(pod("web"), "/spec/containers/0/livenessProbe", json!({"periodSeconds": 5})), invalid(&["spec.containers[0].livenessProbe"], "must specify a handler type")),
            ("probe with two handlers", with(pod("web"), "/spec/containers/0/livenessProbe", json!({"exec": {"command": ["true"]}, "tcpSocket": {"port": 80}})), invalid(&["spec.containers[0].livenessProbe.tcpSocket"], "may not specify more than 1 handler type")),
            ("liveness success threshold", with(pod("web"), "/spec/containers/0/livenessProbe", json!({"exec": {"command": ["true"]}, "successThreshold": 2})), invalid(&["spec.containers[0].livenessProbe.successThreshold"], "must be 1")),
            ("probe port name", with(pod("web"), "/spec/containers/0/readinessProbe", json!({"httpGet": {"port": "HTTP"}})), invalid(&["spec.containers[0].readinessProbe.httpGet.port", "spec.containers[0].readinessProbe.httpGet.port"], "must contain only alpha-numeric characters")),
            ("probe scheme", with(pod("web"), "/spec/containers/0/readinessProbe", json!({"httpGet": {"port": 80, "scheme": "FTP"}})), invalid(&["spec.containers[0].readinessProbe.httpGet.scheme"], "supported values: \"HTTP\", \"HTTPS\"")),
            ("negative probe period", with(pod("web"), "/spec/containers/0/readinessProbe", json!({"exec": {"command": ["true"]}, "initialDelaySeconds": -1})), invalid(&["spec.containers[0].readinessProbe.initialDelaySeconds"], "must be greater than or equal to 0")),
            ("init container probe", with(pod("web"), "/spec/initContainers", json!([{"name": "init", "image": "x", "readinessProbe": {"exec": {"command": ["true"]}}}])), invalid(&["spec.initContainers[0].readinessProbe"], "may not be set for init containers without restartPolicy=Always")),
            ("sidecar restart policy", with(pod("web"), "/spec/initContainers", json!([{"name": "init", "image": "x", "restartPolicy": "Never"}])), invalid(&["spec.initContainers[0].restartPolicy"], "supported values: \"Always\"")),
            ("app container restart policy", with(pod("web"), "/spec/containers/0/restartPolicy", json!("Always")), invalid(&["spec.containers[0].restartPolicy"], "may not be set for non-init containers")),
            ("node selector", with(pod("web"), "/spec/nodeSelector", json!({"disk": "fast ssd"})), invalid(&["spec.nodeSelector"], "a valid label must be an empty string")),
            ("activeDeadlineSeconds", with(pod("web"), "/spec/activeDeadlineSeconds", json!(0)), invalid(&["spec.activeDeadlineSeconds"], "must be between 1 and 2147483647, inclusive")),
            ("toleration", with(pod("web"), "/spec/tolerations", json!([{"operator": "Equal", "value": "x"}])), invalid(&["spec.tolerations[0].operator"], "operator must be Exists when `key` is empty")),
            ("hostname", with(pod("web"), "/spec/hostname", json!("a.b")), invalid(&["spec.hostname"], "must not contain dots")),
            ("ephemeral containers on create", with(pod("web"), "/spec/ephemeralContainers", json!([{"name": "debug", "image": "busybox"}])), invalid(&["spec.ephemeralContainers"], "cannot be set on create")),
            ("host network ports", with(with(pod("web"), "/spec/hostNetwork", json!(true)), "/spec/containers/0/ports", json!([{"containerPort": 80, "hostPort": 81}])), invalid(&["spec.containers[0].ports[0].hostPort"], "must match `containerPort` when `hostNetwork` is true")),
            ("wrong type", with(pod("web"), "/spec/containers/0/ports", json!([{"containerPort": "80"}])), Outcome::BadRequest("spec.containers[0].ports[0].containerPort: invalid type: string \"80\", expected i32")),
        ];
        run_create("pods", rows);
    }

    #[test]
    fn pod_update_rules() {
        let old = admitted(resource("pods"), pod("web"));
        let rows: Vec<(&str, serde_json::Value, Outcome)> = vec![
            ("unchanged", old.clone(), Outcome::Admitted),
            ("image", with(old.clone(), "/spec/containers/0/image", json!("nginx:1.27")), Outcome::Admitted),
            ("labels", with(old.clone(), "/metadata/labels", json!({"a": "b"})), Outcome::Admitted),
            ("activeDeadlineSeconds set", with(old.clone(), "/spec/activeDeadlineSeconds", json!(60)), Outcome::Admitted),
            ("toleration added", with(old.clone(), "/spec/tolerations/2", json!({"key": "k", "operator": "Exists"})), Outcome::Admitted),
            ("restartPolicy", with(old.clone(), "/spec/restartPolicy", json!("Never")), invalid(&["spec"], "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)\n  spec.restartPolicy: \"Always\" -> \"Never\"")),
            ("container added", with(old.clone(), "/spec/containers/1", json!({"name": "b", "image": "x"})), invalid(&["spec.containers"], "pod updates may not add or remove containers")),
            ("image removed", without(old.clone(), "/spec/containers/0/image"), invalid(&["spec.containers[0].image"], "Required value")),
            ("name changed", with(old.clone(), "/metadata/name", json!("other")), invalid(&["metadata.name"], "Invalid value: \"other\": field is immutable")),
            ("uid changed", with(old.clone(), "/metadata/uid", json!("other")), invalid(&["metadata.uid"], "field is immutable")),
        ];
        run_update("pods", &old, rows);

        let with_deadline = admitted(resource("pods"), with(pod("web"), "/spec/activeDeadlineSeconds", json!(60)));
        let rows: Vec<(&str, serde_json::Value, Outcome)> = vec![
            ("deadline shortened", with(with_deadline.clone(), "/spec/activeDeadlineSeconds", json!(30)), Outcome::Admitted),
            ("deadline extended", with(with_deadline.clone(), "/spec/activeDeadlineSeconds", json!(90)), invalid(&["spec.activeDeadlineSeconds"], "must be less than or equal to previous value")),
            ("deadline removed", without(with_deadline.clone(), "/spec/activeDeadlineSeconds"), invalid(&["spec.activeDeadlineSeconds"], "must not update from a positive integer to nil value")),
        ];
        run_update("pods", &with_deadline, rows);

        let tolerating = admitted(resource("pods"), with(pod("web"), "/spec/tolerations", json!([{"key": "k", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 10}])));
        let rows: Vec<(&str, serde_json::Value, Outcome)> = vec![
            ("tolerationSeconds changed", with(tolerating.clone(), "/spec/tolerations/0/tolerationSeconds", json!(5)), Outcome::Admitted),
            ("toleration removed", with(tolerating.clone(), "/spec/tolerations", json!([])), invalid(&["spec.tolerations"], "existing toleration can not be modified except its tolerationSeconds")),
        ];
        run_update("pods", &tolerating, rows);
    }

    #[test]
    fn pod_status_updates() {
        let old = admitted(resource("pods"), pod("web"));
        let status = |status: serde_json::Value| with(old.clone(), "/status", status);
        let rows: Vec<(&str, serde_json::Value, Outcome)> = vec![
            ("running", status(json!({"phase": "Running", "qosClass": "BestEffort", "podIP": "10.244.1.5", "podIPs": [{"ip": "10.244.1.5"}],
                "conditions": [{"type": "Ready", "status": "True"}, {"type": "example.com/Custom", "status": "False"}]})), Outcome::Admitted),
            ("qos backfilled", status(json!({"phase": "Running"})), Outcome::Admitted),
            ("phase", status(json!({"phase": "Sleeping"})), invalid(&["status.phase"], "Unsupported value: \"Sleeping\": supported values: \"Pending\", \"Running\", \"Succeeded\", \"Failed\", \"Unknown\"")),
            ("condition status", status(json!({"conditions": [{"type": "Ready", "status": "Yes"}]})), invalid(&["status.conditions[0].status"], "supported values: \"True\", \"False\", \"Unknown\"")),
            ("condition type", status(json!({"conditions": [{"type": "not valid", "status": "True"}]})), invalid(&["metadata.conditions[0].Type"], "name part must consist of")),
            ("qos changed", status(json!({"qosClass": "Guaranteed"})), invalid(&["status.qosClass"], "field is immutable")),
            ("pod IP", status(json!({"podIPs": [{"ip": "10.244.1"}]})), invalid(&["status.podIPs[0]"], "must be a valid IP address")),
            ("two IPv4 pod IPs", status(json!({"podIPs": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}]})), invalid(&["status.podIPs"], "may specify no more than one IP for each IP family")),
            ("host IPs", status(json!({"hostIP": "192.168.0.2", "hostIPs": [{"ip": "192.168.0.3"}]})), invalid(&["status.hostIPs[0].ip"], "must be equal to `hostIP`")),
        ];
        for (label, object, expected) in rows {
            check(label, admit_status_update(resource("pods"), object, &old, FieldValidation::Strict), &expected);
        }
        let admitted = admit_status_update(resource("pods"), status(json!({"phase": "Running"})), &old, FieldValidation::Strict).expect("admitted");
        assert_eq!(admitted.object["status"]["qosClass"], "BestEffort");

        let never = admitted_pod_with_status("Never", json!({"containerStatuses": [{"name": "web", "image": "x", "imageID": "", "ready": false, "restartCount": 0, "state": {"terminated": {"exitCode": 0}}}]}));
        let revived = with(never.clone(), "/status/containerStatuses/0/state", json!({"running": {}}));
        check("terminated for good", admit_status_update(resource("pods"), revived, &never, FieldValidation::Strict), &invalid(&["status.containerStatuses[0].state"], "may not be transitioned to non-terminated state"));
    }

    fn admitted_pod_with_status(restart_policy: &str, status: serde_json::Value) -> serde_json::Value {
        let created = admitted(resource("pods"), with(pod("web"), "/spec/restartPolicy", json!(restart_policy)));
        let mut status_value = status;
        status_value["qosClass"] = json!("BestEffort");
        with(created, "/status", status_value)
    }

    #[test]
    fn updates_are_defaulted_before_comparison() {
        let old = admitted(resource("pods"), pod("web"));
        // A PUT of the pod as first written (without the defaults) changes nothing.
        let mut bare = pod("web");
        bare["metadata"] = old["metadata"].clone();
        // Set by admission at creation, which an update does not repeat: as a client reads it.
        bare["spec"]["serviceAccountName"] = old["spec"]["serviceAccountName"].clone();
        admit_update(resource("pods"), bare, &old, FieldValidation::Strict).expect("admitted");
    }
}
