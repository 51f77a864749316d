//! Server-side apply on fixed manifests and sequences of writes, each step checked against the
//! object and the managedFields that Kubernetes' documentation of Server-Side Apply
//! (kubernetes.io/docs/reference/using-api/server-side-apply: field management, conflicts,
//! merge strategy by list and map type, transferring ownership, upgrading from client-side
//! apply, clearing managedFields) and structured-merge-diff's merge tests (merge/leaf_test.go,
//! set_test.go, multiple_appliers_test.go) say it leaves. The expectations were written from
//! those semantics, not from this implementation's output.
//!
//! `time` values are not compared, only whether an entry has one: an apply stamps its entry
//! only when it changes the object (kube's `managedFieldsUpdater`), so a manager that applies
//! values already there has an entry without a time.

use std::sync::Arc;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::JSONSchemaProps;
use serde_json::{Value, json};

use super::*;
use crate::schema::Structural;

// ---------------------------------------------------------------------------------------------
// Kinds

#[derive(Clone, Copy, Debug)]
enum Kind {
    Deployment,
    ConfigMap,
    Service,
    Pod,
    /// A cluster-scoped custom kind with one field of each list and map type.
    Widget,
}

impl Kind {
    fn schema(self) -> Arc<Schema> {
        match self {
            Self::Deployment => schema::builtin("io.k8s.api.apps.v1.Deployment"),
            Self::ConfigMap => schema::builtin("io.k8s.api.core.v1.ConfigMap"),
            Self::Service => schema::builtin("io.k8s.api.core.v1.Service"),
            Self::Pod => schema::builtin("io.k8s.api.core.v1.Pod"),
            Self::Widget => Arc::new(schema::custom(Some(&widget_schema()))),
        }
    }

    fn api_version(self) -> &'static str {
        match self {
            Self::Deployment => "apps/v1",
            Self::Widget => "example.com/v1",
            _ => "v1",
        }
    }

    fn kind(self) -> &'static str {
        match self {
            Self::Deployment => "Deployment",
            Self::ConfigMap => "ConfigMap",
            Self::Service => "Service",
            Self::Pod => "Pod",
            Self::Widget => "Widget",
        }
    }

    fn object_name(self) -> &'static str {
        match self {
            Self::Deployment => "web",
            Self::ConfigMap => "cm",
            Self::Service => "svc",
            Self::Pod => "pod",
            Self::Widget => "w1",
        }
    }

    /// The applied configuration: apiVersion, kind, name (and namespace) with `body` merged in.
    fn manifest(self, body: &Value) -> Value {
        let mut metadata = json!({"name": self.object_name()});
        if !matches!(self, Self::Widget) {
            metadata["namespace"] = json!("default");
        }
        let mut out = json!({"apiVersion": self.api_version(), "kind": self.kind(), "metadata": metadata});
        deep_merge(&mut out, body);
        out
    }
}

fn widget_schema() -> Structural {
    let schema: JSONSchemaProps = serde_json::from_value(json!({
        "type": "object",
        "properties": {
            "spec": {"type": "object", "properties": {
                "a": {"type": "string"},
                "b": {"type": "string"},
                "replicas": {"type": "integer"},
                "tags": {"type": "array", "x-kubernetes-list-type": "atomic", "items": {"type": "string"}},
                "owners": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}},
                "ports": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"], "items": {
                    "type": "object", "required": ["name"],
                    "properties": {"name": {"type": "string"}, "port": {"type": "integer"}}}},
                "config": {"type": "object", "x-kubernetes-map-type": "atomic", "additionalProperties": {"type": "string"}},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                "free": {"x-kubernetes-preserve-unknown-fields": true}
            }},
            "status": {"type": "object", "properties": {"ready": {"type": "integer"}}}
        }
    }))
    .expect("the widget schema is well-formed");
    match crate::schema::structural(&schema, "spec.versions[0].schema.openAPIV3Schema") {
        Ok(structural) => structural,
        Err(causes) => panic!("the widget schema is not structural: {causes:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// JSON helpers

fn deep_merge(into: &mut Value, from: &Value) {
    match (into, from) {
        (Value::Object(into), Value::Object(from)) => {
            for (key, value) in from {
                match into.get_mut(key) {
                    Some(existing) if existing.is_object() && value.is_object() => deep_merge(existing, value),
                    _ => {
                        into.insert(key.clone(), value.clone());
                    }
                }
            }
        }
        (into, from) => *into = from.clone(),
    }
}

/// `value` without what is at `pointer`.
fn without(mut value: Value, pointer: &str) -> Value {
    let (parent, last) = pointer.rsplit_once('/').expect("a pointer with a parent");
    let last = last.replace("~1", "/").replace("~0", "~");
    if let Some(Value::Object(map)) = value.pointer_mut(parent) {
        map.remove(&last);
    } else {
        panic!("nothing at {parent} to remove {last} from");
    }
    value
}

/// `value` with `new` at `pointer`, whose parent exists.
fn with(mut value: Value, pointer: &str, new: Value) -> Value {
    let (parent, last) = pointer.rsplit_once('/').expect("a pointer with a parent");
    let last = last.replace("~1", "/").replace("~0", "~");
    match value.pointer_mut(parent) {
        Some(Value::Object(map)) => {
            map.insert(last, new);
        }
        _ => panic!("no object at {parent} to set {last} in"),
    }
    value
}

// ---------------------------------------------------------------------------------------------
// Sequences

enum Write {
    /// `PATCH` with `application/apply-patch+yaml` of `body` (in the kind's manifest).
    Apply { manager: &'static str, subresource: &'static str, force: bool, body: Value },
    /// A create, PUT or non-apply PATCH: the live object as `edit` changes it.
    Update { manager: &'static str, subresource: &'static str, edit: fn(&mut Value) },
    /// What the server does to the stored object outside field management (defaulting).
    Server(fn(&mut Value)),
}

/// One entry of managedFields as the test expects it.
struct Owner {
    manager: &'static str,
    operation: &'static str,
    subresource: &'static str,
    timed: bool,
    fields: Value,
}

fn applier(manager: &'static str, fields: Value) -> Owner {
    Owner { manager, operation: "Apply", subresource: "", timed: true, fields }
}

fn updater(manager: &'static str, fields: Value) -> Owner {
    Owner { manager, operation: "Update", subresource: "", timed: true, fields }
}

impl Owner {
    /// An applier whose apply changed nothing has never been stamped.
    fn untimed(mut self) -> Self {
        self.timed = false;
        self
    }

    fn on(mut self, subresource: &'static str) -> Self {
        self.subresource = subresource;
        self
    }

    fn encoded(&self, api_version: &str) -> Value {
        let mut entry = json!({
            "manager": self.manager,
            "operation": self.operation,
            "apiVersion": api_version,
            "fieldsType": "FieldsV1",
            "fieldsV1": self.fields,
        });
        if self.timed {
            entry["time"] = json!(true);
        }
        if !self.subresource.is_empty() {
            entry["subresource"] = json!(self.subresource);
        }
        entry
    }
}

enum Expect {
    /// The write succeeds: the object has these values at these pointers (`None`: nothing
    /// there), and exactly these managedFields entries (in any order).
    Written { object: Vec<(&'static str, Option<Value>)>, managed: Vec<Owner> },
    /// Nothing at all changes (`Ok(None)`).
    Unchanged,
    /// Refused with this code and message and, for a conflict, these causes (field, message).
    Refused { code: u16, message: String, causes: Vec<(String, String)> },
}

struct Step {
    write: Write,
    expect: Expect,
}

fn apply(manager: &'static str, body: Value, expect: Expect) -> Step {
    Step { write: Write::Apply { manager, subresource: "", force: false, body }, expect }
}

fn force_apply(manager: &'static str, body: Value, expect: Expect) -> Step {
    Step { write: Write::Apply { manager, subresource: "", force: true, body }, expect }
}

fn status_apply(manager: &'static str, force: bool, body: Value, expect: Expect) -> Step {
    Step { write: Write::Apply { manager, subresource: "status", force, body }, expect }
}

fn update(manager: &'static str, edit: fn(&mut Value), expect: Expect) -> Step {
    Step { write: Write::Update { manager, subresource: "", edit }, expect }
}

fn status_update(manager: &'static str, edit: fn(&mut Value), expect: Expect) -> Step {
    Step { write: Write::Update { manager, subresource: "status", edit }, expect }
}

fn server(edit: fn(&mut Value)) -> Step {
    Step { write: Write::Server(edit), expect: Expect::Unchanged }
}

fn written(object: Vec<(&'static str, Option<Value>)>, managed: Vec<Owner>) -> Expect {
    Expect::Written { object, managed }
}

/// A 409 whose causes all say `conflict with <manager>`: (field, manager as kube prints it).
fn conflict(message: &str, causes: &[(&str, &str)]) -> Expect {
    Expect::Refused {
        code: 409,
        message: message.to_string(),
        causes: causes.iter().map(|(field, manager)| (field.to_string(), format!("conflict with {manager}"))).collect(),
    }
}

/// Runs `steps` from `live` and panics at the first step whose outcome is not the expected one.
fn run(name: &str, kind: Kind, scope: Scope, mut live: Value, steps: Vec<Step>) {
    let schema = kind.schema();
    for (index, step) in steps.into_iter().enumerate() {
        let at = format!("{name}, step {}", index + 1);
        let outcome = match &step.write {
            Write::Server(edit) => {
                edit(&mut live);
                continue;
            }
            Write::Apply { manager, subresource, force, body } => {
                let writer = writer(&schema, kind, manager, subresource, &scope);
                writer.apply(&live, &kind.manifest(body), *force)
            }
            Write::Update { manager, subresource, edit } => {
                let mut new = live.clone();
                edit(&mut new);
                writer(&schema, kind, manager, subresource, &scope).update(&live, &mut new);
                Ok(Some(new))
            }
        };
        check(&at, kind, &outcome, &step.expect);
        if let Ok(Some(mut object)) = outcome {
            // What the server's create adds: later writes see a stored object.
            if object.pointer("/metadata/uid").is_none() {
                object["metadata"]["uid"] = json!("uid-1");
                object["metadata"]["creationTimestamp"] = json!("2025-01-01T00:00:00Z");
            }
            live = object;
        }
    }
}

fn writer<'a>(schema: &'a Schema, kind: Kind, manager: &'a str, subresource: &'a str, scope: &Scope) -> Writer<'a> {
    let field = |name: &str| PathElement::Field(name.into());
    let scope = match subresource {
        "status" => Scope::Within(vec![field("status")]),
        "scale" => Scope::Within(vec![field("spec"), field("replicas")]),
        _ => scope.clone(),
    };
    Writer { schema, manager, api_version: kind.api_version(), subresource, scope }
}

/// managedFields with each time replaced by `true`, sorted by what tells entries apart.
fn normalized(entries: Vec<Value>) -> Vec<Value> {
    let mut entries: Vec<Value> = entries
        .into_iter()
        .map(|mut entry| {
            if let Some(time) = entry.get_mut("time") {
                *time = json!(true);
            }
            entry
        })
        .collect();
    let key = |entry: &Value| {
        let text = |name: &str| entry.get(name).and_then(Value::as_str).unwrap_or_default().to_string();
        (text("operation"), text("manager"), text("subresource"), text("apiVersion"))
    };
    entries.sort_by_key(key);
    entries
}

fn pretty(value: &impl serde::Serialize) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}

fn check(at: &str, kind: Kind, outcome: &Result<Option<Value>, ApiError>, expect: &Expect) {
    match (expect, outcome) {
        (Expect::Unchanged, Ok(None)) => {}
        (Expect::Written { object: parts, managed }, Ok(Some(object))) => {
            let mut problems = Vec::new();
            for (pointer, expected) in parts {
                let actual = object.pointer(pointer);
                if actual != expected.as_ref() {
                    problems.push(format!("{pointer}: expected {}, got {}", pretty(expected), pretty(&actual)));
                }
            }
            let actual = normalized(object.pointer("/metadata/managedFields").and_then(Value::as_array).cloned().unwrap_or_default());
            let expected = normalized(managed.iter().map(|owner| owner.encoded(kind.api_version())).collect());
            if actual != expected {
                problems.push(format!("managedFields: expected\n{}\ngot\n{}", pretty(&expected), pretty(&actual)));
            }
            assert!(problems.is_empty(), "{at}:\n{}\n(object: {})", problems.join("\n"), pretty(object));
        }
        (Expect::Refused { code, message, causes }, Err(error)) => {
            let mut problems = Vec::new();
            if error.code != *code {
                problems.push(format!("code: expected {code}, got {}", error.code));
            }
            let reason = if *code == 409 { "Conflict" } else { "BadRequest" };
            if error.reason != reason {
                problems.push(format!("reason: expected {reason}, got {}", error.reason));
            }
            if error.message != *message {
                problems.push(format!("message: expected\n{message}\ngot\n{}", error.message));
            }
            if !causes.is_empty() {
                let mut actual: Vec<(String, String, String)> = error
                    .details
                    .get("causes")
                    .and_then(Value::as_array)
                    .map(|causes| {
                        causes
                            .iter()
                            .map(|cause| {
                                let text = |name: &str| cause.get(name).and_then(Value::as_str).unwrap_or_default().to_string();
                                (text("field"), text("message"), text("reason"))
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                actual.sort();
                let mut expected: Vec<(String, String, String)> =
                    causes.iter().map(|(field, message)| (field.clone(), message.clone(), "FieldManagerConflict".to_string())).collect();
                expected.sort();
                if actual != expected {
                    problems.push(format!("causes: expected {expected:?}, got {actual:?}"));
                }
            }
            assert!(problems.is_empty(), "{at}:\n{}", problems.join("\n"));
        }
        (_, outcome) => {
            let got = match outcome {
                Ok(None) => "Ok(None): nothing changed".to_string(),
                Ok(Some(object)) => format!("Ok(Some): {}", pretty(object)),
                Err(error) => format!("Err({} {}: {})", error.code, error.reason, error.message),
            };
            let wanted = match expect {
                Expect::Unchanged => "nothing to change".to_string(),
                Expect::Written { .. } => "a written object".to_string(),
                Expect::Refused { code, message, .. } => format!("a {code}: {message}"),
            };
            panic!("{at}: expected {wanted}, got {got}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Manifests

/// A Deployment as `kubectl apply --server-side` would send it.
fn web() -> Value {
    json!({
        "metadata": {"labels": {"app": "web"}},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "nginx", "image": "nginx:1.25", "ports": [{"containerPort": 80}]}]}
            }
        }
    })
}

/// What applying `web()` owns: struct fields are not members of an applied set, only the
/// leaves, map keys and list items it sets; `selector` is an atomic map, so a leaf; a port is
/// keyed by containerPort and protocol, whose default (TCP) stands in for it when left out.
fn web_fields() -> Value {
    json!({
        "f:metadata": {"f:labels": {"f:app": {}}},
        "f:spec": {
            "f:replicas": {},
            "f:selector": {},
            "f:template": {
                "f:metadata": {"f:labels": {"f:app": {}}},
                "f:spec": {"f:containers": {r#"k:{"name":"nginx"}"#: {
                    ".": {},
                    "f:image": {},
                    "f:name": {},
                    "f:ports": {r#"k:{"containerPort":80,"protocol":"TCP"}"#: {".": {}, "f:containerPort": {}}}
                }}}
            }
        }
    })
}

fn replicas_only() -> Value {
    json!({"f:spec": {"f:replicas": {}}})
}

// ---------------------------------------------------------------------------------------------
// Appliers

#[test]
fn a_first_apply_owns_the_leaves_keys_and_items_it_sets_and_a_repeat_changes_nothing() {
    run(
        "first apply",
        Kind::Deployment,
        Scope::WithoutStatus,
        json!({}),
        vec![
            apply(
                "m1",
                web(),
                written(
                    vec![
                        ("/spec/replicas", Some(json!(3))),
                        ("/metadata/labels", Some(json!({"app": "web"}))),
                        ("/spec/template/spec/containers/0/ports", Some(json!([{"containerPort": 80}]))),
                    ],
                    vec![applier("m1", web_fields())],
                ),
            ),
            apply("m1", web(), Expect::Unchanged),
        ],
    );
}

#[test]
fn a_second_applier_of_other_fields_shares_the_object() {
    run(
        "second applier",
        Kind::Deployment,
        Scope::WithoutStatus,
        json!({}),
        vec![
            apply("m1", web(), written(vec![], vec![applier("m1", web_fields())])),
            apply(
                "m2",
                json!({"metadata": {"labels": {"tier": "frontend"}}}),
                written(
                    vec![("/metadata/labels", Some(json!({"app": "web", "tier": "frontend"}))), ("/spec/replicas", Some(json!(3)))],
                    vec![applier("m1", web_fields()), applier("m2", json!({"f:metadata": {"f:labels": {"f:tier": {}}}}))],
                ),
            ),
        ],
    );
}

#[test]
fn changing_another_applier_s_field_conflicts_until_forced_which_moves_it() {
    run(
        "conflict and force",
        Kind::Deployment,
        Scope::WithoutStatus,
        json!({}),
        vec![
            apply("m1", web(), written(vec![], vec![applier("m1", web_fields())])),
            apply(
                "m2",
                json!({"spec": {"replicas": 5}}),
                conflict(r#"Apply failed with 1 conflict: conflict with "m1": .spec.replicas"#, &[(".spec.replicas", r#""m1""#)]),
            ),
            force_apply(
                "m2",
                json!({"spec": {"replicas": 5}}),
                written(
                    vec![("/spec/replicas", Some(json!(5)))],
                    vec![applier("m1", without(web_fields(), "/f:spec/f:replicas")), applier("m2", replicas_only())],
                ),
            ),
            // m1's manifest still says 3: the field is m2's now.
            apply("m1", web(), conflict(r#"Apply failed with 1 conflict: conflict with "m2": .spec.replicas"#, &[(".spec.replicas", r#""m2""#)])),
        ],
    );
}

#[test]
fn an_updater_s_field_conflicts_naming_its_version_and_stays_when_the_applier_drops_it() {
    run(
        "updater conflict",
        Kind::Deployment,
        Scope::WithoutStatus,
        json!({}),
        vec![
            apply("m1", web(), written(vec![], vec![applier("m1", web_fields())])),
            update(
                "u",
                |object| object["spec"]["replicas"] = json!(4),
                written(
                    vec![("/spec/replicas", Some(json!(4)))],
                    vec![applier("m1", without(web_fields(), "/f:spec/f:replicas")), updater("u", replicas_only())],
                ),
            ),
            apply(
                "m1",
                web(),
                conflict(
                    r#"Apply failed with 1 conflict: conflict with "u" using apps/v1: .spec.replicas"#,
                    &[(".spec.replicas", r#""u" using apps/v1"#)],
                ),
            ),
            // m1 no longer owns replicas, so leaving it out removes nothing
            // (structured-merge-diff's update_apply_omits).
            apply("m1", without(web(), "/spec/replicas"), Expect::Unchanged),
            // Forcing takes it back; the updater's entry, empty now, goes.
            force_apply("m1", web(), written(vec![("/spec/replicas", Some(json!(3)))], vec![applier("m1", web_fields())])),
        ],
    );
}

#[test]
fn several_conflicts_are_listed_under_each_manager() {
    run(
        "several conflicts",
        Kind::Widget,
        Scope::Whole,
        json!({}),
        vec![
            apply("m1", json!({"spec": {"a": "1", "b": "1"}}), written(vec![], vec![applier("m1", json!({"f:spec": {"f:a": {}, "f:b": {}}}))])),
            apply(
                "m2",
                json!({"spec": {"a": "2", "b": "2"}}),
                conflict(
                    "Apply failed with 2 conflicts: conflicts with \"m1\":\n- .spec.a\n- .spec.b",
                    &[(".spec.a", r#""m1""#), (".spec.b", r#""m1""#)],
                ),
            ),
            update(
                "u",
                |object| object["spec"]["replicas"] = json!(1),
                written(
                    vec![("/spec/replicas", Some(json!(1)))],
                    vec![applier("m1", json!({"f:spec": {"f:a": {}, "f:b": {}}})), updater("u", replicas_only())],
                ),
            ),
            // Managers in the order of their identifiers' JSON, Apply's before Update's here.
            apply(
                "m2",
                json!({"spec": {"a": "2", "replicas": 2}}),
                conflict(
                    "Apply failed with 2 conflicts: conflicts with \"m1\":\n- .spec.a\nconflicts with \"u\" using example.com/v1:\n- .spec.replicas",
                    &[(".spec.a", r#""m1""#), (".spec.replicas", r#""u" using example.com/v1"#)],
                ),
            ),
        ],
    );
}

#[test]
fn a_value_applied_by_two_managers_is_shared_and_stays_while_either_applies_it() {
    run(
        "shared value",
        Kind::Deployment,
        Scope::WithoutStatus,
        json!({}),
        vec![
            apply("m1", web(), written(vec![], vec![applier("m1", web_fields())])),
            // Same value: no conflict, both own it. The object does not change, so m2's entry
            // is never stamped.
            apply(
                "m2",
                json!({"spec": {"replicas": 3}}),
                written(vec![("/spec/replicas", Some(json!(3)))], vec![applier("m1", web_fields()), applier("m2", replicas_only()).untimed()]),
            ),
            // Changing a shared field conflicts, whichever owner changes it.
            apply(
                "m1",
                with(web(), "/spec/replicas", json!(4)),
                conflict(r#"Apply failed with 1 conflict: conflict with "m2": .spec.replicas"#, &[(".spec.replicas", r#""m2""#)]),
            ),
            // m1 gives up its share: m2 still applies it, so it stays.
            apply(
                "m1",
                without(web(), "/spec/replicas"),
                written(
                    vec![("/spec/replicas", Some(json!(3)))],
                    vec![applier("m1", without(web_fields(), "/f:spec/f:replicas")), applier("m2", replicas_only()).untimed()],
                ),
            ),
            // The last owner drops it: it goes, and so does m2's emptied entry.
            apply(
                "m2",
                json!({}),
                written(
                    vec![("/spec/replicas", None), ("/spec/selector", Some(json!({"matchLabels": {"app": "web"}})))],
                    vec![applier("m1", without(web_fields(), "/f:spec/f:replicas"))],
                ),
            ),
        ],
    );
}

#[test]
fn a_field_dropped_from_the_manifest_is_removed() {
    run(
        "dropped field",
        Kind::Deployment,
        Scope::WithoutStatus,
        json!({}),
        vec![
            apply("m1", web(), written(vec![], vec![applier("m1", web_fields())])),
            apply(
                "m1",
                without(web(), "/spec/replicas"),
                written(
                    vec![("/spec/replicas", None), ("/spec/template/spec/containers/0/name", Some(json!("nginx")))],
                    vec![applier("m1", without(web_fields(), "/f:spec/f:replicas"))],
                ),
            ),
        ],
    );
}

#[test]
fn dropping_the_last_label_removes_the_labels_but_not_the_name() {
    // The applier's configuration names the object: while structured-merge-diff prunes, the
    // applier's new set still holds `metadata.name` (kube strips server-owned fields only
    // from the result), so `metadata` stays.
    run(
        "last label",
        Kind::ConfigMap,
        Scope::Whole,
        json!({}),
        vec![
            apply(
                "m1",
                json!({"metadata": {"labels": {"app": "cm"}}, "data": {"k": "v"}}),
                written(vec![], vec![applier("m1", json!({"f:data": {"f:k": {}}, "f:metadata": {"f:labels": {"f:app": {}}}}))]),
            ),
            apply(
                "m1",
                json!({"data": {"k": "v"}}),
                written(
                    vec![
                        ("/metadata/name", Some(json!("cm"))),
                        ("/metadata/namespace", Some(json!("default"))),
                        ("/metadata/uid", Some(json!("uid-1"))),
                        ("/metadata/labels", None),
                        ("/data", Some(json!({"k": "v"}))),
                    ],
                    vec![applier("m1", json!({"f:data": {"f:k": {}}}))],
                ),
            ),
        ],
    );
}

#[test]
fn two_appliers_each_own_a_container_and_dropping_one_removes_only_it() {
    let sidecar = || json!({"spec": {"template": {"spec": {"containers": [{"name": "sidecar", "image": "busybox"}]}}}});
    let sidecar_fields = json!({"f:spec": {"f:template": {"f:spec": {"f:containers": {r#"k:{"name":"sidecar"}"#: {".": {}, "f:image": {}, "f:name": {}}}}}}});
    let m1_without_containers = without(web_fields(), "/f:spec/f:template/f:spec");
    run(
        "containers by name",
        Kind::Deployment,
        Scope::WithoutStatus,
        json!({}),
        vec![
            apply("m1", web(), written(vec![], vec![applier("m1", web_fields())])),
            apply(
                "m2",
                sidecar(),
                written(
                    vec![
                        ("/spec/template/spec/containers/0/name", Some(json!("nginx"))),
                        ("/spec/template/spec/containers/1", Some(json!({"name": "sidecar", "image": "busybox"}))),
                    ],
                    vec![applier("m1", web_fields()), applier("m2", sidecar_fields.clone())],
                ),
            ),
            apply(
                "m1",
                without(web(), "/spec/template/spec"),
                written(
                    vec![
                        ("/spec/template/spec/containers", Some(json!([{"name": "sidecar", "image": "busybox"}]))),
                        ("/spec/template/metadata/labels", Some(json!({"app": "web"}))),
                    ],
                    vec![applier("m1", m1_without_containers.clone()), applier("m2", sidecar_fields)],
                ),
            ),
            apply(
                "m2",
                json!({}),
                written(
                    vec![("/spec/template/spec", None), ("/spec/template/metadata/labels", Some(json!({"app": "web"})))],
                    vec![applier("m1", m1_without_containers)],
                ),
            ),
        ],
    );
}

#[test]
fn a_set_list_merges_item_by_item_by_value() {
    let finalizer = |name: &str| json!({"f:metadata": {"f:finalizers": {format!("v:{}", json!(name)): {}}}});
    run(
        "finalizers",
        Kind::ConfigMap,
        Scope::Whole,
        json!({}),
        vec![
            apply("m1", json!({"metadata": {"finalizers": ["example.com/a"]}}), written(vec![], vec![applier("m1", finalizer("example.com/a"))])),
            apply(
                "m2",
                json!({"metadata": {"finalizers": ["example.com/b"]}}),
                written(
                    vec![("/metadata/finalizers", Some(json!(["example.com/a", "example.com/b"])))],
                    vec![applier("m1", finalizer("example.com/a")), applier("m2", finalizer("example.com/b"))],
                ),
            ),
            apply(
                "m1",
                json!({}),
                written(vec![("/metadata/finalizers", Some(json!(["example.com/b"])))], vec![applier("m2", finalizer("example.com/b"))]),
            ),
        ],
    );
}

#[test]
fn an_atomic_list_conflicts_as_one_field_and_is_replaced_whole() {
    let with_args = with(web(), "/spec/template/spec/containers/0/args", json!(["--a", "--b"]));
    let m1_fields = with(web_fields(), r#"/f:spec/f:template/f:spec/f:containers/k:{"name":"nginx"}/f:args"#, json!({}));
    let args = || json!({"spec": {"template": {"spec": {"containers": [{"name": "nginx", "args": ["--c"]}]}}}});
    run(
        "atomic args",
        Kind::Deployment,
        Scope::WithoutStatus,
        json!({}),
        vec![
            apply("m1", with_args, written(vec![], vec![applier("m1", m1_fields)])),
            apply(
                "m2",
                args(),
                conflict(
                    r#"Apply failed with 1 conflict: conflict with "m1": .spec.template.spec.containers[name="nginx"].args"#,
                    &[(r#".spec.template.spec.containers[name="nginx"].args"#, r#""m1""#)],
                ),
            ),
            force_apply(
                "m2",
                args(),
                written(
                    vec![
                        ("/spec/template/spec/containers/0/args", Some(json!(["--c"]))),
                        ("/spec/template/spec/containers/0/image", Some(json!("nginx:1.25"))),
                    ],
                    vec![
                        applier("m1", web_fields()),
                        applier(
                            "m2",
                            json!({"f:spec": {"f:template": {"f:spec": {"f:containers": {r#"k:{"name":"nginx"}"#: {".": {}, "f:args": {}, "f:name": {}}}}}}}),
                        ),
                    ],
                ),
            ),
        ],
    );
}

#[test]
fn an_atomic_map_is_one_field() {
    run(
        "atomic selector",
        Kind::Deployment,
        Scope::WithoutStatus,
        json!({}),
        vec![
            apply("m1", web(), written(vec![], vec![applier("m1", web_fields())])),
            apply(
                "m2",
                json!({"spec": {"selector": {"matchLabels": {"app": "web"}}}}),
                written(vec![], vec![applier("m1", web_fields()), applier("m2", json!({"f:spec": {"f:selector": {}}})).untimed()]),
            ),
            // Adding a key changes the whole selector, which m1 shares.
            apply(
                "m2",
                json!({"spec": {"selector": {"matchLabels": {"app": "web", "tier": "edge"}}}}),
                conflict(r#"Apply failed with 1 conflict: conflict with "m1": .spec.selector"#, &[(".spec.selector", r#""m1""#)]),
            ),
        ],
    );
}

#[test]
fn container_ports_are_keyed_by_port_and_protocol_which_defaults_to_tcp() {
    let ports = json!([{"containerPort": 80}, {"containerPort": 53, "protocol": "UDP"}, {"containerPort": 53}]);
    let mut m1_fields = web_fields();
    m1_fields["f:spec"]["f:template"]["f:spec"]["f:containers"][r#"k:{"name":"nginx"}"#]["f:ports"] = json!({
        r#"k:{"containerPort":80,"protocol":"TCP"}"#: {".": {}, "f:containerPort": {}},
        r#"k:{"containerPort":53,"protocol":"UDP"}"#: {".": {}, "f:containerPort": {}, "f:protocol": {}},
        r#"k:{"containerPort":53,"protocol":"TCP"}"#: {".": {}, "f:containerPort": {}},
    });
    run(
        "ports",
        Kind::Deployment,
        Scope::WithoutStatus,
        json!({}),
        vec![
            apply(
                "m1",
                with(web(), "/spec/template/spec/containers/0/ports", ports.clone()),
                written(vec![("/spec/template/spec/containers/0/ports", Some(ports))], vec![applier("m1", m1_fields.clone())]),
            ),
            // The server defaults the protocols left out.
            server(|object| {
                if let Some(ports) = object.pointer_mut("/spec/template/spec/containers/0/ports").and_then(Value::as_array_mut) {
                    for port in ports {
                        if port.get("protocol").is_none() {
                            port["protocol"] = json!("TCP");
                        }
                    }
                }
            }),
            // Naming TCP explicitly is the same item as m1's, which both now own.
            apply(
                "m2",
                json!({"spec": {"template": {"spec": {"containers": [{"name": "nginx", "ports": [{"containerPort": 80, "protocol": "TCP", "name": "http"}]}]}}}}),
                written(
                    vec![
                        ("/spec/template/spec/containers/0/ports/0", Some(json!({"containerPort": 80, "protocol": "TCP", "name": "http"}))),
                        ("/spec/template/spec/containers/0/ports/1", Some(json!({"containerPort": 53, "protocol": "UDP"}))),
                        ("/spec/template/spec/containers/0/ports/2", Some(json!({"containerPort": 53, "protocol": "TCP"}))),
                        ("/spec/template/spec/containers/0/ports/3", None),
                    ],
                    vec![
                        applier("m1", m1_fields),
                        applier(
                            "m2",
                            json!({"f:spec": {"f:template": {"f:spec": {"f:containers": {r#"k:{"name":"nginx"}"#: {
                                ".": {},
                                "f:name": {},
                                "f:ports": {r#"k:{"containerPort":80,"protocol":"TCP"}"#: {".": {}, "f:containerPort": {}, "f:name": {}, "f:protocol": {}}}
                            }}}}}}),
                        ),
                    ],
                ),
            ),
            // A conflict inside an item names all its key fields.
            apply(
                "m1",
                with(web(), "/spec/template/spec/containers/0/ports", json!([{"containerPort": 80, "name": "web"}])),
                conflict(
                    r#"Apply failed with 1 conflict: conflict with "m2": .spec.template.spec.containers[name="nginx"].ports[containerPort=80,protocol="TCP"].name"#,
                    &[(r#".spec.template.spec.containers[name="nginx"].ports[containerPort=80,protocol="TCP"].name"#, r#""m2""#)],
                ),
            ),
        ],
    );
}

#[test]
fn a_service_merges_ports_by_port_and_protocol_and_owns_its_selector_whole() {
    let https = || json!({"name": "https", "port": 443, "targetPort": 8443});
    run(
        "service",
        Kind::Service,
        Scope::WithoutStatus,
        json!({}),
        vec![
            apply(
                "m1",
                json!({"spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]}}),
                written(
                    vec![],
                    vec![applier(
                        "m1",
                        json!({"f:spec": {"f:ports": {r#"k:{"port":80,"protocol":"TCP"}"#: {".": {}, "f:port": {}, "f:targetPort": {}}}, "f:selector": {}}}),
                    )],
                ),
            ),
            apply(
                "m2",
                json!({"spec": {"selector": {"app": "web"}, "ports": [https()]}}),
                written(
                    vec![("/spec/ports", Some(json!([{"port": 80, "targetPort": 8080}, https()]))), ("/spec/selector", Some(json!({"app": "web"})))],
                    vec![
                        applier(
                            "m1",
                            json!({"f:spec": {"f:ports": {r#"k:{"port":80,"protocol":"TCP"}"#: {".": {}, "f:port": {}, "f:targetPort": {}}}, "f:selector": {}}}),
                        ),
                        applier(
                            "m2",
                            json!({"f:spec": {"f:ports": {r#"k:{"port":443,"protocol":"TCP"}"#: {".": {}, "f:name": {}, "f:port": {}, "f:targetPort": {}}}, "f:selector": {}}}),
                        ),
                    ],
                ),
            ),
            apply(
                "m2",
                json!({"spec": {"selector": {"app": "web", "tier": "edge"}, "ports": [https()]}}),
                conflict(r#"Apply failed with 1 conflict: conflict with "m1": .spec.selector"#, &[(".spec.selector", r#""m1""#)]),
            ),
        ],
    );
}

#[test]
fn a_pod_merges_env_by_name_and_owns_tolerations_whole() {
    let app_b = || json!({"name": "app", "env": [{"name": "B", "value": "2"}]});
    let m1_fields = json!({"f:spec": {
        "f:containers": {r#"k:{"name":"app"}"#: {
            ".": {}, "f:image": {}, "f:name": {},
            "f:env": {r#"k:{"name":"A"}"#: {".": {}, "f:name": {}, "f:value": {}}}
        }},
        "f:tolerations": {}
    }});
    run(
        "pod",
        Kind::Pod,
        Scope::WithoutStatus,
        json!({}),
        vec![
            apply(
                "m1",
                json!({"spec": {
                    "containers": [{"name": "app", "image": "app:1", "env": [{"name": "A", "value": "1"}]}],
                    "tolerations": [{"key": "a", "operator": "Exists"}]
                }}),
                written(vec![], vec![applier("m1", m1_fields.clone())]),
            ),
            apply(
                "m2",
                json!({"spec": {"containers": [app_b()]}}),
                written(
                    vec![("/spec/containers/0/env", Some(json!([{"name": "A", "value": "1"}, {"name": "B", "value": "2"}])))],
                    vec![
                        applier("m1", m1_fields),
                        applier(
                            "m2",
                            json!({"f:spec": {"f:containers": {r#"k:{"name":"app"}"#: {
                                ".": {}, "f:name": {},
                                "f:env": {r#"k:{"name":"B"}"#: {".": {}, "f:name": {}, "f:value": {}}}
                            }}}}),
                        ),
                    ],
                ),
            ),
            apply(
                "m2",
                json!({"spec": {"containers": [app_b()], "tolerations": [{"key": "b", "operator": "Exists"}]}}),
                conflict(r#"Apply failed with 1 conflict: conflict with "m1": .spec.tolerations"#, &[(".spec.tolerations", r#""m1""#)]),
            ),
        ],
    );
}

#[test]
fn a_custom_kind_merges_by_its_list_and_map_types() {
    let m1 = || {
        json!({"spec": {
            "owners": ["x"],
            "ports": [{"name": "http", "port": 80}],
            "tags": ["a", "b"],
            "config": {"p": "1"},
            "labels": {"l1": "1"}
        }})
    };
    let m1_fields = json!({"f:spec": {
        "f:config": {},
        "f:labels": {"f:l1": {}},
        "f:owners": {r#"v:"x""#: {}},
        "f:ports": {r#"k:{"name":"http"}"#: {".": {}, "f:name": {}, "f:port": {}}},
        "f:tags": {}
    }});
    let m2 = || json!({"spec": {"owners": ["y"], "ports": [{"name": "metrics", "port": 9090}], "labels": {"l2": "2"}}});
    let m2_fields = json!({"f:spec": {
        "f:labels": {"f:l2": {}},
        "f:owners": {r#"v:"y""#: {}},
        "f:ports": {r#"k:{"name":"metrics"}"#: {".": {}, "f:name": {}, "f:port": {}}}
    }});
    let m2_takes = || {
        let mut body = m2();
        body["spec"]["tags"] = json!(["a", "b", "c"]);
        body["spec"]["config"] = json!({"q": "2"});
        body
    };
    let mut m2_took = m2_fields.clone();
    m2_took["f:spec"]["f:tags"] = json!({});
    m2_took["f:spec"]["f:config"] = json!({});
    let m1_left = without(without(m1_fields.clone(), "/f:spec/f:tags"), "/f:spec/f:config");
    run(
        "widget",
        Kind::Widget,
        Scope::WithoutStatus,
        json!({}),
        vec![
            apply("m1", m1(), written(vec![], vec![applier("m1", m1_fields.clone())])),
            // A set and a map-list merge item by item, a granular map key by key.
            apply(
                "m2",
                m2(),
                written(
                    vec![
                        ("/spec/owners", Some(json!(["x", "y"]))),
                        ("/spec/ports", Some(json!([{"name": "http", "port": 80}, {"name": "metrics", "port": 9090}]))),
                        ("/spec/labels", Some(json!({"l1": "1", "l2": "2"}))),
                    ],
                    vec![applier("m1", m1_fields), applier("m2", m2_fields)],
                ),
            ),
            // An atomic list and an atomic map are single fields.
            apply(
                "m2",
                m2_takes(),
                conflict(
                    "Apply failed with 2 conflicts: conflicts with \"m1\":\n- .spec.config\n- .spec.tags",
                    &[(".spec.config", r#""m1""#), (".spec.tags", r#""m1""#)],
                ),
            ),
            force_apply(
                "m2",
                m2_takes(),
                written(
                    vec![("/spec/tags", Some(json!(["a", "b", "c"]))), ("/spec/config", Some(json!({"q": "2"})))],
                    vec![applier("m1", m1_left.clone()), applier("m2", m2_took.clone())],
                ),
            ),
            apply(
                "m1",
                json!({"spec": {"labels": {"l1": "1"}}}),
                written(
                    vec![
                        ("/spec/owners", Some(json!(["y"]))),
                        ("/spec/ports", Some(json!([{"name": "metrics", "port": 9090}]))),
                        ("/spec/tags", Some(json!(["a", "b", "c"]))),
                        ("/spec/config", Some(json!({"q": "2"}))),
                        ("/spec/labels", Some(json!({"l1": "1", "l2": "2"}))),
                    ],
                    vec![applier("m1", json!({"f:spec": {"f:labels": {"f:l1": {}}}})), applier("m2", m2_took)],
                ),
            ),
        ],
    );
}

// ---------------------------------------------------------------------------------------------
// Updates

#[test]
fn an_update_owns_what_it_changes_and_takes_it_from_the_others() {
    run(
        "update",
        Kind::ConfigMap,
        Scope::Whole,
        json!({}),
        vec![
            apply(
                "m1",
                json!({"metadata": {"labels": {"app": "cm"}}, "data": {"a": "1", "b": "1"}}),
                written(vec![], vec![applier("m1", json!({"f:data": {"f:a": {}, "f:b": {}}, "f:metadata": {"f:labels": {"f:app": {}}}}))]),
            ),
            update(
                "u",
                |object| {
                    object["data"]["a"] = json!("2");
                    object["data"]["c"] = json!("3");
                },
                written(
                    vec![("/data", Some(json!({"a": "2", "b": "1", "c": "3"})))],
                    vec![
                        applier("m1", json!({"f:data": {"f:b": {}}, "f:metadata": {"f:labels": {"f:app": {}}}})),
                        updater("u", json!({"f:data": {"f:a": {}, "f:c": {}}})),
                    ],
                ),
            ),
            // Removing a field takes it from its owner and gives it to no one.
            update(
                "u",
                |object| {
                    if let Some(data) = object["data"].as_object_mut() {
                        data.remove("b");
                    }
                },
                written(
                    vec![("/data", Some(json!({"a": "2", "c": "3"})))],
                    vec![applier("m1", json!({"f:metadata": {"f:labels": {"f:app": {}}}})), updater("u", json!({"f:data": {"f:a": {}, "f:c": {}}}))],
                ),
            ),
            update(
                "u2",
                |object| object["data"]["c"] = json!("4"),
                written(
                    vec![("/data/c", Some(json!("4")))],
                    vec![
                        applier("m1", json!({"f:metadata": {"f:labels": {"f:app": {}}}})),
                        updater("u", json!({"f:data": {"f:a": {}}})),
                        updater("u2", json!({"f:data": {"f:c": {}}})),
                    ],
                ),
            ),
            // An updater keeps what it set before, changed this time or not.
            update(
                "u",
                |object| object["metadata"]["labels"]["tier"] = json!("edge"),
                written(
                    vec![("/metadata/labels", Some(json!({"app": "cm", "tier": "edge"})))],
                    vec![
                        applier("m1", json!({"f:metadata": {"f:labels": {"f:app": {}}}})),
                        updater("u", json!({"f:data": {"f:a": {}}, "f:metadata": {"f:labels": {"f:tier": {}}}})),
                        updater("u2", json!({"f:data": {"f:c": {}}})),
                    ],
                ),
            ),
            // An applier's updates are another entry of the same manager.
            update(
                "m1",
                |object| object["data"]["d"] = json!("5"),
                written(
                    vec![("/data/d", Some(json!("5")))],
                    vec![
                        applier("m1", json!({"f:metadata": {"f:labels": {"f:app": {}}}})),
                        updater("m1", json!({"f:data": {"f:d": {}}})),
                        updater("u", json!({"f:data": {"f:a": {}}, "f:metadata": {"f:labels": {"f:tier": {}}}})),
                        updater("u2", json!({"f:data": {"f:c": {}}})),
                    ],
                ),
            ),
        ],
    );
}

#[test]
fn an_update_to_the_status_subresource_is_its_own_entry() {
    run(
        "status update",
        Kind::Deployment,
        Scope::WithoutStatus,
        json!({}),
        vec![
            apply("m1", web(), written(vec![], vec![applier("m1", web_fields())])),
            // A stored Deployment always has a status; typed objects carry an empty one.
            server(|object| object["status"] = json!({})),
            status_update(
                "ctrl",
                |object| object["status"] = json!({"replicas": 3, "readyReplicas": 3}),
                written(
                    vec![("/status/replicas", Some(json!(3)))],
                    vec![applier("m1", web_fields()), updater("ctrl", json!({"f:status": {"f:readyReplicas": {}, "f:replicas": {}}})).on("status")],
                ),
            ),
        ],
    );
}

#[test]
fn managed_fields_of_one_empty_entry_in_an_update_reset_them() {
    run(
        "reset",
        Kind::ConfigMap,
        Scope::Whole,
        json!({}),
        vec![
            apply("m1", json!({"data": {"a": "1"}}), written(vec![], vec![applier("m1", json!({"f:data": {"f:a": {}}}))])),
            update(
                "u",
                |object| object["data"]["b"] = json!("2"),
                written(vec![], vec![applier("m1", json!({"f:data": {"f:a": {}}})), updater("u", json!({"f:data": {"f:b": {}}}))]),
            ),
            update(
                "resetter",
                |object| object["metadata"]["managedFields"] = json!([{}]),
                written(vec![("/metadata/managedFields", None), ("/data", Some(json!({"a": "1", "b": "2"})))], vec![]),
            ),
            // An object no one manages is not tracked by updates (kube's skipNonAppliedManager
            // tracks creates only) ...
            update(
                "resetter",
                |object| {
                    object["metadata"]["managedFields"] = json!([{}]);
                    object["data"]["a"] = json!("9");
                },
                written(vec![("/data/a", Some(json!("9"))), ("/metadata/managedFields", None)], vec![]),
            ),
            update("u", |object| object["data"]["c"] = json!("3"), written(vec![("/metadata/managedFields", None)], vec![])),
            // ... until an apply, which first gives all there is to `before-first-apply`.
            apply(
                "m1",
                json!({"data": {"a": "9"}}),
                written(
                    vec![],
                    vec![
                        updater("before-first-apply", json!({"f:data": {".": {}, "f:a": {}, "f:b": {}, "f:c": {}}})),
                        applier("m1", json!({"f:data": {"f:a": {}}})).untimed(),
                    ],
                ),
            ),
        ],
    );
}

#[test]
fn managed_fields_a_client_sends_in_an_update_replace_the_stored_ones() {
    run(
        "client edit",
        Kind::ConfigMap,
        Scope::Whole,
        json!({}),
        vec![
            apply("m1", json!({"data": {"a": "1"}}), written(vec![], vec![applier("m1", json!({"f:data": {"f:a": {}}}))])),
            update(
                "u",
                |object| object["data"]["b"] = json!("2"),
                written(vec![], vec![applier("m1", json!({"f:data": {"f:a": {}}})), updater("u", json!({"f:data": {"f:b": {}}}))]),
            ),
            update(
                "editor",
                |object| {
                    if let Some(entries) = object["metadata"]["managedFields"].as_array_mut() {
                        entries.retain(|entry| entry["manager"] == "m1");
                    }
                },
                written(vec![("/data", Some(json!({"a": "1", "b": "2"})))], vec![applier("m1", json!({"f:data": {"f:a": {}}}))]),
            ),
        ],
    );
}

fn entry(manager: &str, operation: &str, time: &str, fields: Value) -> Value {
    json!({"manager": manager, "operation": operation, "apiVersion": "v1", "time": time, "fieldsType": "FieldsV1", "fieldsV1": fields})
}

#[test]
fn more_than_ten_updaters_fold_the_oldest_into_ancient_changes() {
    // Ten updaters, u00 the oldest, and an applier (never folded); an eleventh updater makes
    // one too many, so the two oldest become one `ancient-changes` entry with the newer time.
    let mut entries = vec![entry("m1", "Apply", "2020-01-01T00:00:30Z", json!({"f:data": {"f:m": {}}}))];
    let mut data = json!({"m": "m"});
    for index in 0..10 {
        let key = format!("k{index:02}");
        entries.push(entry(
            &format!("u{index:02}"),
            "Update",
            &format!("2020-01-01T00:00:{index:02}Z"),
            json!({"f:data": {format!("f:{key}"): {}}}),
        ));
        data[key] = json!("v");
    }
    let live = json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "cm", "namespace": "default", "uid": "uid-1", "managedFields": entries},
        "data": data
    });
    let key = |index: usize| json!({"f:data": {format!("f:k{index:02}"): {}}});
    let names = ["u02", "u03", "u04", "u05", "u06", "u07", "u08", "u09"];
    let mut managed = vec![applier("m1", json!({"f:data": {"f:m": {}}})), updater("ancient-changes", json!({"f:data": {"f:k00": {}, "f:k01": {}}}))];
    for (offset, name) in names.into_iter().enumerate() {
        managed.push(updater(name, key(offset + 2)));
    }
    managed.push(updater("u10", key(10)));
    run(
        "cap",
        Kind::ConfigMap,
        Scope::Whole,
        live,
        vec![update("u10", |object| object["data"]["k10"] = json!("v"), written(vec![("/data/k10", Some(json!("v")))], managed))],
    );
}

#[test]
fn managed_fields_are_written_appliers_first_then_oldest_first() {
    let live = json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "cm", "namespace": "default", "uid": "uid-1", "managedFields": [
            entry("a", "Update", "2020-01-01T00:00:04Z", json!({"f:data": {"f:d": {}}})),
            entry("m1", "Apply", "2020-01-01T00:00:02Z", json!({"f:data": {"f:a": {}}})),
            entry("u", "Update", "2020-01-01T00:00:03Z", json!({"f:data": {"f:c": {}}})),
            entry("m2", "Apply", "2020-01-01T00:00:01Z", json!({"f:data": {"f:b": {}}})),
        ]},
        "data": {"a": "1", "b": "1", "c": "1", "d": "1"}
    });
    let schema = Kind::ConfigMap.schema();
    let mut new = live.clone();
    new["data"]["z"] = json!("1");
    writer(&schema, Kind::ConfigMap, "z", "", &Scope::Whole).update(&live, &mut new);
    let order: Vec<&str> = new
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .map(|entries| entries.iter().filter_map(|entry| entry["manager"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(order, ["m2", "m1", "u", "a", "z"]);
}

#[test]
fn a_deployment_created_by_an_update_is_owned_as_kube_records_a_typed_create() {
    // kube compares a create with the kind's empty typed object (`Schema::zero`, which the
    // create handler passes as the live object), which already holds the struct fields Go
    // always serializes (spec, strategy, template and its metadata and spec, status) and
    // `containers: null`: those are not added, so they have no "." of their own. This is what
    // `kubectl create deployment` leaves in managedFields.
    run(
        "typed create",
        Kind::Deployment,
        Scope::WithoutStatus,
        Kind::Deployment.schema().zero.clone(),
        vec![update(
            "kubectl-create",
            |object| {
                *object = json!({
                    "apiVersion": "apps/v1", "kind": "Deployment",
                    "metadata": {"name": "web", "namespace": "default", "uid": "uid-1", "generation": 1,
                        "creationTimestamp": "2025-01-01T00:00:00Z", "labels": {"app": "web"}},
                    "spec": {
                        "replicas": 1,
                        "selector": {"matchLabels": {"app": "web"}},
                        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
                        "template": {
                            "metadata": {"labels": {"app": "web"}},
                            "spec": {"containers": [{"name": "nginx", "image": "nginx",
                                "ports": [{"containerPort": 80, "protocol": "TCP"}], "resources": {}}]}
                        }
                    }
                })
            },
            written(
                vec![],
                vec![updater(
                    "kubectl-create",
                    json!({
                        "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
                        "f:spec": {
                            "f:replicas": {},
                            "f:selector": {},
                            "f:strategy": {"f:rollingUpdate": {".": {}, "f:maxSurge": {}, "f:maxUnavailable": {}}, "f:type": {}},
                            "f:template": {
                                "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
                                "f:spec": {"f:containers": {r#"k:{"name":"nginx"}"#: {
                                    ".": {},
                                    "f:image": {},
                                    "f:name": {},
                                    "f:ports": {".": {}, r#"k:{"containerPort":80,"protocol":"TCP"}"#: {".": {}, "f:containerPort": {}, "f:protocol": {}}},
                                    "f:resources": {}
                                }}}
                            }
                        }
                    }),
                )],
            ),
        )],
    );
}

// ---------------------------------------------------------------------------------------------
// Objects from before field management, and kubectl's client-side apply

#[test]
fn an_object_no_one_manages_is_first_owned_by_before_first_apply() {
    let live = json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "cm", "namespace": "default", "uid": "uid-1", "creationTimestamp": "2020-01-01T00:00:00Z"},
        "data": {"key": "old"}
    });
    run(
        "before first apply",
        Kind::ConfigMap,
        Scope::Whole,
        live,
        vec![
            apply(
                "m1",
                json!({"data": {"key": "new"}}),
                conflict(
                    r#"Apply failed with 1 conflict: conflict with "before-first-apply" using v1: .data.key"#,
                    &[(".data.key", r#""before-first-apply" using v1"#)],
                ),
            ),
            apply(
                "m1",
                json!({"data": {"key": "old", "extra": "x"}}),
                written(
                    vec![("/data", Some(json!({"key": "old", "extra": "x"})))],
                    vec![
                        updater("before-first-apply", json!({"f:data": {".": {}, "f:key": {}}})),
                        applier("m1", json!({"f:data": {"f:extra": {}, "f:key": {}}})),
                    ],
                ),
            ),
        ],
    );
}

const CLIENT_SIDE_APPLY: &str = "kubectl-client-side-apply";

fn annotation_fields() -> Value {
    json!({"f:annotations": {".": {}, "f:kubectl.kubernetes.io/last-applied-configuration": {}}})
}

/// A ConfigMap last written by client-side `kubectl apply` of `data: {key: old}`: `data` as
/// it is now, what of it the client-side applier still owns, and the entries of the managers
/// that wrote since.
fn client_side_applied(data: Value, csa_data: Value, others: Vec<Value>) -> Value {
    let last_applied = "{\"apiVersion\":\"v1\",\"data\":{\"key\":\"old\"},\"kind\":\"ConfigMap\",\"metadata\":{\"annotations\":{},\"name\":\"cm\",\"namespace\":\"default\"}}\n";
    let mut csa_fields = json!({"f:metadata": annotation_fields()});
    csa_fields["f:data"] = csa_data;
    let mut entries = vec![entry(CLIENT_SIDE_APPLY, "Update", "2024-01-01T00:00:00Z", csa_fields)];
    entries.extend(others);
    json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "cm", "namespace": "default", "uid": "uid-1",
            "annotations": {LAST_APPLIED: last_applied}, "managedFields": entries},
        "data": data
    })
}

#[test]
fn kubectl_takes_over_what_its_last_applied_annotation_still_holds() {
    let live = client_side_applied(
        json!({"key": "old", "extra": "e"}),
        json!({".": {}, "f:key": {}}),
        vec![entry("other", "Update", "2024-01-02T00:00:00Z", json!({"f:data": {"f:extra": {}}}))],
    );
    // `data` stays the client-side applier's, a member with nothing below it now.
    let mut csa_left = json!({"f:metadata": annotation_fields()});
    csa_left["f:data"] = json!({});
    run(
        "last applied",
        Kind::ConfigMap,
        Scope::Whole,
        live,
        vec![
            // The conflict on `key` is forgiven (the annotation set it and it still holds);
            // the one on `extra` is not.
            apply(
                "kubectl",
                json!({"data": {"key": "new", "extra": "mine"}}),
                conflict(r#"Apply failed with 1 conflict: conflict with "other" using v1: .data.extra"#, &[(".data.extra", r#""other" using v1"#)]),
            ),
            apply(
                "kubectl",
                json!({"data": {"key": "new"}}),
                written(
                    vec![
                        ("/data", Some(json!({"key": "new", "extra": "e"}))),
                        (
                            "/metadata/annotations/kubectl.kubernetes.io~1last-applied-configuration",
                            Some(json!(
                                "{\"apiVersion\":\"v1\",\"data\":{\"key\":\"new\"},\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"cm\",\"namespace\":\"default\"}}\n"
                            )),
                        ),
                    ],
                    vec![
                        applier("kubectl", json!({"f:data": {"f:key": {}}})),
                        updater(CLIENT_SIDE_APPLY, csa_left),
                        updater("other", json!({"f:data": {"f:extra": {}}})),
                    ],
                ),
            ),
        ],
    );
}

#[test]
fn kubectl_conflicts_on_what_changed_since_its_last_client_side_apply() {
    let drifted = client_side_applied(
        json!({"key": "edited"}),
        json!({".": {}}),
        vec![entry("kubectl-edit", "Update", "2024-01-02T00:00:00Z", json!({"f:data": {"f:key": {}}}))],
    );
    run(
        "drifted",
        Kind::ConfigMap,
        Scope::Whole,
        drifted,
        vec![apply(
            "kubectl",
            json!({"data": {"key": "new"}}),
            conflict(r#"Apply failed with 1 conflict: conflict with "kubectl-edit" using v1: .data.key"#, &[(".data.key", r#""kubectl-edit" using v1"#)]),
        )],
    );
    // Only kubectl's own applies are forgiven what the annotation set.
    let live = client_side_applied(json!({"key": "old"}), json!({".": {}, "f:key": {}}), vec![]);
    run(
        "another manager",
        Kind::ConfigMap,
        Scope::Whole,
        live,
        vec![apply(
            "m1",
            json!({"data": {"key": "new"}}),
            conflict(
                r#"Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using v1: .data.key"#,
                &[(".data.key", r#""kubectl-client-side-apply" using v1"#)],
            ),
        )],
    );
}

// ---------------------------------------------------------------------------------------------
// Subresources

#[test]
fn status_is_ignored_by_a_main_resource_apply_and_alone_owned_by_a_status_apply() {
    run(
        "status",
        Kind::Deployment,
        Scope::WithoutStatus,
        json!({}),
        vec![
            apply("m1", web(), written(vec![], vec![applier("m1", web_fields())])),
            server(|object| object["status"] = json!({})),
            status_update(
                "ctrl",
                |object| object["status"] = json!({"replicas": 3, "readyReplicas": 3}),
                written(
                    vec![],
                    vec![applier("m1", web_fields()), updater("ctrl", json!({"f:status": {"f:readyReplicas": {}, "f:replicas": {}}})).on("status")],
                ),
            ),
            // The main resource's status belongs to its subresource: no conflict, not owned.
            apply(
                "m1",
                with(web(), "/status", json!({"replicas": 1})),
                written(
                    vec![("/spec/replicas", Some(json!(3)))],
                    vec![applier("m1", web_fields()), updater("ctrl", json!({"f:status": {"f:readyReplicas": {}, "f:replicas": {}}})).on("status")],
                ),
            ),
            // Through the status subresource only status counts: spec's 9 neither conflicts
            // with m1 nor becomes ctrl2's.
            status_apply(
                "ctrl2",
                false,
                json!({"spec": {"replicas": 9}, "status": {"replicas": 2}}),
                conflict(
                    r#"Apply failed with 1 conflict: conflict with "ctrl" with subresource "status" using apps/v1: .status.replicas"#,
                    &[(".status.replicas", r#""ctrl" with subresource "status" using apps/v1"#)],
                ),
            ),
            status_apply(
                "ctrl2",
                true,
                json!({"spec": {"replicas": 9}, "status": {"replicas": 2}}),
                written(
                    vec![("/status/replicas", Some(json!(2))), ("/status/readyReplicas", Some(json!(3)))],
                    vec![
                        applier("m1", web_fields()),
                        updater("ctrl", json!({"f:status": {"f:readyReplicas": {}}})).on("status"),
                        applier("ctrl2", json!({"f:status": {"f:replicas": {}}})).on("status"),
                    ],
                ),
            ),
        ],
    );
}

#[test]
fn the_scale_subresource_owns_replicas_as_its_own_entry() {
    run(
        "scale",
        Kind::Deployment,
        Scope::WithoutStatus,
        json!({}),
        vec![
            apply("m1", web(), written(vec![], vec![applier("m1", web_fields())])),
            Step {
                write: Write::Update { manager: "hpa", subresource: "scale", edit: |object| object["spec"]["replicas"] = json!(5) },
                expect: written(
                    vec![("/spec/replicas", Some(json!(5)))],
                    vec![applier("m1", without(web_fields(), "/f:spec/f:replicas")), updater("hpa", replicas_only()).on("scale")],
                ),
            },
            apply(
                "m1",
                web(),
                conflict(
                    r#"Apply failed with 1 conflict: conflict with "hpa" with subresource "scale" using apps/v1: .spec.replicas"#,
                    &[(".spec.replicas", r#""hpa" with subresource "scale" using apps/v1"#)],
                ),
            ),
        ],
    );
}

// ---------------------------------------------------------------------------------------------
// Configurations that do not fit the schema

#[test]
fn configurations_that_do_not_fit_the_kind_are_refused_with_the_typed_patch_error() {
    // kube's words (structuredmerge.go's typed patch error over structured-merge-diff's
    // ValidationErrors). kube 1.33 returns them as a plain error, so a 500 with no reason
    // (kubernetes/kubernetes#118877, #122480); this server answers 400 BadRequest, as kube's
    // open fix (#139255) would.
    let deployment = "failed to create typed patch object (default/web; apps/v1, Kind=Deployment): ";
    // A cluster-scoped object has an empty namespace: kube prints `namespace/name` always.
    let widget = "failed to create typed patch object (/w1; example.com/v1, Kind=Widget): ";
    let rows: Vec<(Kind, Value, String)> = vec![
        (Kind::Deployment, json!({"spec": {"foo": 1}}), format!("{deployment}.spec.foo: field not declared in schema")),
        (
            Kind::Deployment,
            json!({"spec": {"template": {"spec": {"containers": [{"name": "nginx", "colour": "red"}]}}}}),
            format!(r#"{deployment}.spec.template.spec.containers[name="nginx"].colour: field not declared in schema"#),
        ),
        (
            Kind::Deployment,
            json!({"spec": {"template": {"spec": {"containers": [{"name": "nginx"}, {"name": "nginx"}]}}}}),
            format!(r#"{deployment}.spec.template.spec.containers: duplicate entries for key [name="nginx"]"#),
        ),
        // Scalars are checked against their type too (validateScalar).
        (Kind::Deployment, json!({"spec": {"replicas": "three"}}), format!("{deployment}.spec.replicas: expected numeric (int or float), got string")),
        (Kind::Widget, json!({"spec": {"foo": 1}}), format!("{widget}.spec.foo: field not declared in schema")),
    ];
    let mut failures = Vec::new();
    for (kind, body, message) in rows {
        let schema = kind.schema();
        let outcome = writer(&schema, kind, "m1", "", &Scope::Whole).apply(&json!({}), &kind.manifest(&body), false);
        match outcome {
            Err(error) if error.code == 400 && error.reason == "BadRequest" && error.message == message => {}
            Err(error) => failures.push(format!("{body}: expected 400 {message:?}, got {} {} {:?}", error.code, error.reason, error.message)),
            Ok(object) => failures.push(format!("{body}: expected 400 {message:?}, got Ok({object:?})")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}


/// A field that keeps unknown fields and says nothing of its type holds a scalar, a list or a
/// map (structured-merge-diff's deduced type): a scalar and a list are owned whole, a map key
/// by key.
#[test]
fn a_field_without_a_type_that_keeps_unknown_fields_takes_anything() {
    run(
        "untyped free field",
        Kind::Widget,
        Scope::Whole,
        json!({}),
        vec![
            apply("m1", json!({"spec": {"free": "text"}}), written(vec![("/spec/free", Some(json!("text")))], vec![applier("m1", json!({"f:spec": {"f:free": {}}}))])),
            apply("m1", json!({"spec": {"free": [1, 2]}}), written(vec![("/spec/free", Some(json!([1, 2])))], vec![applier("m1", json!({"f:spec": {"f:free": {}}}))])),
            apply(
                "m1",
                json!({"spec": {"free": {"x": 1, "y": {"z": true}}}}),
                // Every key of a deduced map is a key, not a declared field: a member, with `.`.
                written(vec![("/spec/free/y/z", Some(json!(true)))], vec![applier("m1", json!({"f:spec": {"f:free": {"f:x": {}, "f:y": {".": {}, "f:z": {}}}}}))]),
            ),
        ],
    );
}

/// A key a stored list holds twice (nothing refuses duplicate env names) is left as it is by an
/// apply that does not name it: structured-merge-diff copies such items over.
#[test]
fn an_apply_keeps_the_items_a_stored_list_holds_twice() {
    let live = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "pod", "namespace": "default", "uid": "uid-1"},
        "spec": {"containers": [{"name": "app", "image": "i", "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "x"}, {"name": "A", "value": "2"}]}]},
    });
    run(
        "duplicates kept",
        Kind::Pod,
        Scope::WithoutStatus,
        live,
        vec![force_apply(
            "m1",
            json!({"spec": {"containers": [{"name": "app", "env": [{"name": "C", "value": "3"}]}]}}),
            written(
                vec![(
                    "/spec/containers/0/env",
                    Some(json!([{"name": "A", "value": "1"}, {"name": "B", "value": "x"}, {"name": "A", "value": "2"}, {"name": "C", "value": "3"}])),
                )],
                vec![
                    applier("m1", json!({"f:spec": {"f:containers": {"k:{\"name\":\"app\"}": {".": {}, "f:env": {"k:{\"name\":\"C\"}": {".": {}, "f:name": {}, "f:value": {}}}, "f:name": {}}}}})),
                    // A key held twice is compared, and so owned, as one whole item.
                    updater(
                        "before-first-apply",
                        json!({"f:spec": {"f:containers": {"k:{\"name\":\"app\"}": {".": {}, "f:env": {".": {}, "k:{\"name\":\"A\"}": {}, "k:{\"name\":\"B\"}": {".": {}, "f:name": {}, "f:value": {}}}, "f:image": {}, "f:name": {}}}}}),
                    ),
                ],
            ),
        )],
    );
}
