//! The Priority admission plugin's half for pods (`plugin/pkg/admission/priority`): a new pod's
//! `priorityClassName` becomes its `spec.priority` and `spec.preemptionPolicy`; a pod naming no
//! class gets the global default class (or priority 0 and `PreemptLowerPriority`). The
//! PriorityClass half (one global default) is the kind's `check_create`.

use k8s_openapi::api::core::v1::Pod;
use serde_json::{Value, json};

use crate::errors::ApiError;
use crate::strategy::Cluster;

/// `scheduling.DefaultPriorityWhenNoDefaultClassExists`.
const DEFAULT_PRIORITY: i64 = 0;

/// kube's `admission.NewForbidden` for a pod: `pods "x" is forbidden: <why>`.
fn forbidden(pod: &Value, why: &str) -> ApiError {
    let name = crate::meta::name(pod).unwrap_or_default();
    let mut error = ApiError::forbidden(format!("pods {name:?} is forbidden: {why}"));
    error.details = json!({"name": name, "kind": "pods"});
    error
}

/// Resolves a pod being created's priority from its PriorityClass (`admitPod` on create).
pub(crate) async fn admit_pod(cluster: &dyn Cluster, pod: &mut Value) -> Result<(), ApiError> {
    let class_name = pod.pointer("/spec/priorityClassName").and_then(Value::as_str).unwrap_or_default().to_string();
    let (name, priority, policy) = if class_name.is_empty() {
        let classes = cluster.list("scheduling.k8s.io", "v1", "priorityclasses", None).await?;
        match default_class(&classes) {
            Some(class) => (crate::meta::name(class).unwrap_or_default().to_string(), value_of(class), policy_of(class)),
            None => (String::new(), DEFAULT_PRIORITY, Some("PreemptLowerPriority".to_string())),
        }
    } else {
        let Some(class) = cluster.current("scheduling.k8s.io", "v1", "priorityclasses", None, &class_name).await? else {
            return Err(forbidden(pod, &format!("no PriorityClass with name {class_name} was found")));
        };
        (class_name, value_of(&class), policy_of(&class))
    };
    if let Some(given) = pod.pointer("/spec/priority").and_then(Value::as_i64)
        && given != priority
    {
        return Err(forbidden(pod, &format!(
            "the integer value of priority ({given}) must not be provided in pod spec; priority admission controller computed {priority} from the given PriorityClass name"
        )));
    }
    let given_policy = pod.pointer("/spec/preemptionPolicy").and_then(Value::as_str).map(str::to_string);
    if let (Some(policy), Some(given)) = (&policy, &given_policy)
        && policy != given
    {
        return Err(forbidden(pod, &format!(
            "the string value of PreemptionPolicy ({given}) must not be provided in pod spec; priority admission controller computed {policy} from the given PriorityClass name"
        )));
    }
    let Some(spec) = pod.get_mut("spec").and_then(Value::as_object_mut) else {
        return Err(ApiError::bad_request("resource was marked with kind Pod but was unable to be converted"));
    };
    if !name.is_empty() {
        spec.insert("priorityClassName".into(), json!(name));
    }
    spec.insert("priority".into(), json!(priority));
    if let Some(policy) = policy {
        spec.insert("preemptionPolicy".into(), json!(policy));
    }
    Ok(())
}

/// `admitPod` on update: the priority and preemption policy resolved on create stay when an
/// update leaves them out (validation refuses any other change of them).
pub(crate) fn keep_on_update(pod: &mut Pod, old: &Pod) {
    let (Some(spec), Some(old_spec)) = (pod.spec.as_mut(), old.spec.as_ref()) else { return };
    if spec.priority.is_none() {
        spec.priority = old_spec.priority;
    }
    if spec.preemption_policy.is_none() {
        spec.preemption_policy.clone_from(&old_spec.preemption_policy);
    }
}

/// The global default class (`getDefaultPriorityClass`): should a race have made several, the
/// one of lowest value.
pub(crate) fn default_class(classes: &[Value]) -> Option<&Value> {
    classes
        .iter()
        .filter(|class| class.get("globalDefault").and_then(Value::as_bool) == Some(true))
        .min_by_key(|class| class.get("value").and_then(Value::as_i64).unwrap_or(0))
}

fn value_of(class: &Value) -> i64 {
    class.get("value").and_then(Value::as_i64).unwrap_or(0)
}

fn policy_of(class: &Value) -> Option<String> {
    class.get("preemptionPolicy").and_then(Value::as_str).map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The priority classes a test's cluster holds.
    struct Classes(Vec<Value>);

    #[async_trait::async_trait]
    impl Cluster for Classes {
        async fn current(&self, _group: &str, _version: &str, _plural: &str, _namespace: Option<&str>, name: &str) -> Result<Option<Value>, ApiError> {
            Ok(self.0.iter().find(|class| crate::meta::name(class) == Some(name)).cloned())
        }

        async fn list(&self, _group: &str, _version: &str, _plural: &str, _namespace: Option<&str>) -> Result<Vec<Value>, ApiError> {
            Ok(self.0.clone())
        }
    }

    fn class(name: &str, value: i64, policy: &str) -> Value {
        json!({"metadata": {"name": name}, "value": value, "preemptionPolicy": policy})
    }

    fn pod(spec: Value) -> Value {
        json!({"metadata": {"name": "web", "namespace": "demo"}, "spec": spec})
    }

    async fn admitted(cluster: &Classes, spec: Value) -> Result<Value, ApiError> {
        let mut object = pod(spec);
        admit_pod(cluster, &mut object).await.map(|()| object["spec"].clone())
    }

    #[tokio::test]
    async fn a_pod_gets_its_class_priority_and_policy() {
        let cluster = Classes(vec![class("high", 1000, "Never"), class("system-node-critical", 2_000_001_000, "PreemptLowerPriority")]);
        let spec = admitted(&cluster, json!({"priorityClassName": "high"})).await.expect("a known class");
        assert_eq!((spec["priority"].clone(), spec["preemptionPolicy"].clone()), (json!(1000), json!("Never")));
        // The system classes are allowed in any namespace since kube 1.17 (quota limits them).
        let spec = admitted(&cluster, json!({"priorityClassName": "system-node-critical"})).await.expect("a system class");
        assert_eq!(spec["priority"], 2_000_001_000);
        let spec = admitted(&cluster, json!({"priorityClassName": "high", "priority": 1000, "preemptionPolicy": "Never"})).await.expect("the same values");
        assert_eq!(spec["priority"], 1000);
    }

    #[tokio::test]
    async fn a_pod_naming_no_class_gets_the_default_or_zero() {
        let spec = admitted(&Classes(vec![class("high", 1000, "Never")]), json!({})).await.expect("no default");
        assert_eq!(spec, json!({"priority": 0, "preemptionPolicy": "PreemptLowerPriority"}));
        let default = with_default(class("low", -10, "Never"));
        let spec = admitted(&Classes(vec![default, with_default(class("lower", -20, "PreemptLowerPriority"))]), json!({})).await.expect("a default");
        assert_eq!(spec, json!({"priorityClassName": "lower", "priority": -20, "preemptionPolicy": "PreemptLowerPriority"}));
    }

    fn with_default(mut class: Value) -> Value {
        class["globalDefault"] = json!(true);
        class
    }

    #[test]
    fn an_update_leaving_out_the_priority_keeps_it() {
        let stored = crate::admission::test_support::admitted(crate::admission::test_support::resource("pods"), with_priority(crate::admission::test_support::pod("web")));
        let mut replaced = stored.clone();
        if let Some(spec) = replaced["spec"].as_object_mut() {
            spec.remove("priority");
            spec.remove("preemptionPolicy");
        }
        let updated = crate::admission::admit_update(crate::admission::test_support::resource("pods"), replaced, &stored, crate::strategy::FieldValidation::Strict).expect("kept");
        assert_eq!((updated.object["spec"]["priority"].clone(), updated.object["spec"]["preemptionPolicy"].clone()), (json!(1000), json!("Never")));
    }

    fn with_priority(mut pod: Value) -> Value {
        pod["spec"]["priority"] = json!(1000);
        pod["spec"]["preemptionPolicy"] = json!("Never");
        pod
    }

    #[tokio::test]
    async fn unknown_classes_and_disagreeing_values_are_forbidden() {
        let cluster = Classes(vec![class("high", 1000, "Never")]);
        let refused = admitted(&cluster, json!({"priorityClassName": "nope"})).await.expect_err("unknown");
        assert_eq!((refused.code, refused.reason, refused.message.as_str()), (403, "Forbidden", "pods \"web\" is forbidden: no PriorityClass with name nope was found"));
        let refused = admitted(&cluster, json!({"priorityClassName": "high", "priority": 5})).await.expect_err("another priority");
        assert_eq!(refused.message, "pods \"web\" is forbidden: the integer value of priority (5) must not be provided in pod spec; priority admission controller computed 1000 from the given PriorityClass name");
        let refused = admitted(&cluster, json!({"priorityClassName": "high", "preemptionPolicy": "PreemptLowerPriority"})).await.expect_err("another policy");
        assert_eq!(refused.message, "pods \"web\" is forbidden: the string value of PreemptionPolicy (PreemptLowerPriority) must not be provided in pod spec; priority admission controller computed Never from the given PriorityClass name");
    }
}
