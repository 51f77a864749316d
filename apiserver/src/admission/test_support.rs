//! Fixtures and the table runner shared by the admission tests: each row is an object and the
//! outcome expected from kube-apiserver (admitted, 422 with these cause fields and a fragment
//! of the message, or 400 with a fragment of the message).

use serde_json::{Value, json};

use super::{Admitted, FieldValidation, admit_create, admit_update};
use crate::errors::ApiError;
use crate::registry::Kind;

pub(crate) fn resource(plural: &str) -> &'static Kind {
    crate::kinds::BUILTIN
        .iter()
        .copied()
        .find(|kind| kind.plural == plural)
        .unwrap_or_else(|| panic!("{plural} is not served"))
}

pub(crate) fn pod(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "demo"},
        "spec": {"containers": [{"name": "web", "image": "nginx"}]}})
}

pub(crate) fn deployment(name: &str) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": "demo"},
        "spec": {"selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": "web", "image": "nginx:1.25"}]}}}})
}

pub(crate) fn replica_set(name: &str) -> Value {
    let mut object = deployment(name);
    object["kind"] = json!("ReplicaSet");
    object
}

pub(crate) fn replication_controller(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "ReplicationController", "metadata": {"name": name, "namespace": "demo"},
        "spec": {"selector": {"app": name},
            "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": "web", "image": "nginx:1.25"}]}}}})
}

pub(crate) fn service(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "demo"},
        "spec": {"selector": {"app": name}, "ports": [{"port": 80}]}})
}

pub(crate) fn config_map(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "demo"},
        "data": {"app.properties": "colour=blue"}})
}

pub(crate) fn secret(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": "demo"},
        "data": {"password": "aHVudGVyMg=="}})
}

pub(crate) fn namespace(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
}

pub(crate) fn node(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}, "spec": {}})
}

pub(crate) fn endpoints(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": name, "namespace": "demo"},
        "subsets": [{"addresses": [{"ip": "10.244.1.5"}], "ports": [{"port": 8080}]}]})
}

pub(crate) fn event(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Event", "metadata": {"name": name, "namespace": "demo"},
        "involvedObject": {"kind": "Pod", "name": "web", "namespace": "demo"}, "reason": "Started", "message": "started"})
}

pub(crate) fn lease(name: &str) -> Value {
    json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": name, "namespace": "kube-system"},
        "spec": {"holderIdentity": "node-1", "leaseDurationSeconds": 15}})
}

/// `object` with the value at a JSON pointer set (objects on the way are created; an index one
/// past the end appends).
pub(crate) fn with(mut object: Value, pointer: &str, value: Value) -> Value {
    let tokens: Vec<String> =
        pointer.split('/').skip(1).map(|token| token.replace("~1", "/").replace("~0", "~")).collect();
    let Some((last, parents)) = tokens.split_last() else { return value };
    let mut current = &mut object;
    for token in parents {
        current = match current {
            Value::Array(items) => {
                let index: usize = token.parse().unwrap_or_else(|_| panic!("{token} is no index"));
                &mut items[index]
            }
            other => {
                if !other.is_object() {
                    *other = json!({});
                }
                other
                    .as_object_mut()
                    .map(|fields| fields.entry(token.clone()).or_insert_with(|| json!({})))
                    .unwrap_or_else(|| panic!("{token}: not an object"))
            }
        };
    }
    match current {
        Value::Array(items) => {
            let index: usize = last.parse().unwrap_or_else(|_| panic!("{last} is no index"));
            if index == items.len() {
                items.push(value);
            } else {
                items[index] = value;
            }
        }
        Value::Object(fields) => {
            fields.insert(last.clone(), value);
        }
        other => panic!("cannot set {pointer} in {other}"),
    }
    object
}

/// `object` without the value at a JSON pointer.
pub(crate) fn without(mut object: Value, pointer: &str) -> Value {
    let (parent, last) = pointer.rsplit_once('/').unwrap_or_else(|| panic!("{pointer} is no pointer"));
    match object.pointer_mut(parent) {
        Some(Value::Object(fields)) => {
            fields.remove(last);
        }
        Some(Value::Array(items)) => {
            let index: usize = last.parse().unwrap_or_else(|_| panic!("{last} is no index"));
            items.remove(index);
        }
        _ => panic!("nothing at {parent}"),
    }
    object
}

#[derive(Debug)]
pub(crate) enum Outcome {
    Admitted,
    /// 422 Invalid with causes at these fields (in order) and this fragment in the message.
    Invalid(Vec<&'static str>, &'static str),
    /// 400 BadRequest with this fragment in the message.
    BadRequest(&'static str),
}

pub(crate) fn invalid(fields: &[&'static str], fragment: &'static str) -> Outcome {
    Outcome::Invalid(fields.to_vec(), fragment)
}

pub(crate) fn cause_fields(err: &ApiError) -> Vec<String> {
    err.details["causes"]
        .as_array()
        .map(|causes| causes.iter().map(|cause| cause["field"].as_str().unwrap_or_default().to_string()).collect())
        .unwrap_or_default()
}

pub(crate) fn check(label: &str, result: Result<Admitted, ApiError>, expected: &Outcome) {
    match (expected, result) {
        (Outcome::Admitted, Ok(_)) => {}
        (Outcome::Invalid(fields, fragment), Err(err)) if err.code == 422 => {
            assert_eq!(err.reason, "Invalid", "{label}");
            assert_eq!(cause_fields(&err), *fields, "{label}: {}", err.message);
            assert!(err.message.contains(fragment), "{label}: {:?} lacks {fragment:?}", err.message);
        }
        (Outcome::BadRequest(fragment), Err(err)) if err.code == 400 => {
            assert_eq!(err.reason, "BadRequest", "{label}");
            assert!(err.message.contains(fragment), "{label}: {:?} lacks {fragment:?}", err.message);
        }
        (expected, Ok(admitted)) => panic!("{label}: expected {expected:?}, admitted {}", admitted.object),
        (expected, Err(err)) => panic!("{label}: expected {expected:?}, got {} {}", err.code, err.message),
    }
}

pub(crate) fn run_create(plural: &str, rows: Vec<(&str, Value, Outcome)>) {
    for (label, object, expected) in rows {
        check(label, admit_create(resource(plural), object, FieldValidation::Strict), &expected);
    }
}

pub(crate) fn run_update(plural: &str, old: &Value, rows: Vec<(&str, Value, Outcome)>) {
    for (label, object, expected) in rows {
        check(label, admit_update(resource(plural), object, old, FieldValidation::Strict), &expected);
    }
}

/// What admission makes of `object` on create (panics if it is rejected).
pub(crate) fn admitted(resource: &Kind, object: Value) -> Value {
    match admit_create(resource, object, FieldValidation::Strict) {
        Ok(admitted) => admitted.object,
        Err(err) => panic!("{}", err.message),
    }
}

#[test]
fn pointers_set_and_remove() {
    let object = with(json!({"a": [1]}), "/a/1", json!(2));
    assert_eq!(object, json!({"a": [1, 2]}));
    let object = with(object, "/b/c", json!(3));
    assert_eq!(object, json!({"a": [1, 2], "b": {"c": 3}}));
    assert_eq!(without(object, "/a/0"), json!({"a": [2], "b": {"c": 3}}));
}
