//! kubectl's imperative generators beside ctl on the same apiserver: `create deployment|service|
//! serviceaccount|role|clusterrole|rolebinding|clusterrolebinding|ingress|token`, `run`,
//! `expose` and `set image|env|resources`. Each case compares stdout, stderr and the exit code
//! byte for byte, and the objects both tools stored.

mod support;

use std::process::Output;

use common::testing::{ApiServer, Storage};
use serde_json::Value;
use support::*;

/// A stored object without what differs between two writes of the same object: identity,
/// time, managers, namespace and the addresses the server allocates.
fn stored(server: &ApiServer, namespace: &str, kind_name: &str) -> Value {
    let mut object = object(server, namespace, kind_name);
    for field in ["uid", "resourceVersion", "creationTimestamp", "managedFields", "namespace"] {
        object["metadata"].as_object_mut().unwrap().remove(field);
    }
    if let Some(spec) = object.get_mut("spec").and_then(Value::as_object_mut) {
        spec.remove("clusterIP");
        spec.remove("clusterIPs");
    }
    pruned(&object)
}

/// The objects kubectl stored in `k` and ctl in `c` are the same.
fn same_objects(server: &ApiServer, kind_name: &str) {
    assert_eq!(stored(server, "c", kind_name), stored(server, "k", kind_name), "{kind_name} differs");
}

fn server_with_namespaces() -> ApiServer {
    let server = ApiServer::start(Storage::Embedded).unwrap();
    for namespace in ["k", "c"] {
        stdout_ok(run("kubectl", &server, &["create", "namespace", namespace]));
    }
    server
}

#[test]
fn dry_run_client_prints_kubectls_objects_byte_for_byte() {
    let server = ApiServer::start(Storage::Embedded).unwrap();
    let cases: &[&[&str]] = &[
        &["create", "deployment", "web", "--image=nginx", "--replicas=2", "--port=80", "--", "sh", "-c", "x"],
        &["create", "deployment", "web", "--image=nginx", "--image=busybox:1.36"],
        &["create", "deployment", "web", "--image=nginx", "-n", "other"],
        &["create", "service", "clusterip", "web", "--tcp=80:8080", "--tcp=443"],
        &["create", "service", "clusterip", "web", "--clusterip=None"],
        &["create", "service", "nodeport", "web", "--tcp=80:http", "--node-port=30080"],
        &["create", "service", "loadbalancer", "web", "--tcp=80"],
        &["create", "service", "externalname", "web", "--external-name=example.com"],
        &["create", "service", "externalname", "web", "--external-name=example.com", "--tcp=80"],
        &["create", "serviceaccount", "robot"],
        &["create", "role", "reader", "--verb=get,list", "--verb=watch", "--resource=pods,deployments.apps", "--resource=pods/log", "--resource-name=a"],
        &["create", "role", "reader", "--verb=*", "--resource=deploy,rs,cm"],
        &["create", "clusterrole", "nodes", "--verb=get", "--resource=nodes", "--non-resource-url=/logs"],
        &["create", "rolebinding", "rb", "--role=reader", "--user=alice", "--group=devs", "--serviceaccount=default:robot"],
        &["create", "rolebinding", "rb", "--clusterrole=view", "--user=alice"],
        &["create", "clusterrolebinding", "crb", "--clusterrole=view", "--user=alice", "--group=ops"],
        &["create", "ingress", "ing", "--rule=foo.com/bar*=svc:8080,tls=cert", "--rule=foo.com/baz=svc:http", "--rule=/path=other:80", "--class=nginx"],
        &["create", "ingress", "ing", "--rule=a.com/=svc:80,tls", "--rule=b.com/=svc:80,tls", "--annotation=x=y", "--default-backend=d:80"],
        &["create", "quota", "q", "--hard=cpu=1,memory=1G,pods=2", "--scopes=BestEffort,NotTerminating"],
        &["create", "quota", "q"],
        &["create", "poddisruptionbudget", "pdb", "--selector=app=web", "--min-available=1"],
        &["create", "pdb", "pdb", "--selector=app=web,x=y", "--max-unavailable=50%"],
        &["create", "priorityclass", "high", "--value=1000", "--description=high", "--global-default", "--preemption-policy=Never"],
        &["create", "priorityclass", "low", "--value=10"],
        &["run", "web", "--image=nginx"],
        &["run", "web", "--image=nginx", "--restart=Never", "--env=A=1", "--env=B=yes", "--labels=x=y,z=w", "--port=80", "--command", "--", "sh", "-c", "sleep 1"],
        &["run", "web", "--image=nginx", "--restart=OnFailure", "--", "arg1", "arg2"],
        &["run", "web", "--image=nginx", "--overrides={\"spec\":{\"nodeName\":\"n1\"}}", "-n", "other"],
    ];
    for case in cases {
        for output in [&["--dry-run=client", "-o", "yaml"][..], &["--dry-run=client"], &["--dry-run=client", "-o", "name"]] {
            let args = with_flags(case, output);
            let (_, _, code) = same(&server, &args);
            assert_eq!(code, Some(0), "{args:?}");
        }
    }
    for output in [&["-o", "wide"][..], &["-o", "jsonpath={.spec.template.spec.containers[0].name}"]] {
        same(&server, &with_flags(&["create", "deployment", "web", "--image=nginx", "--dry-run=client"], output));
    }
    // JSON: the same object (Go writes fields in its structs' order, serde in the keys').
    let args = ["create", "deployment", "web", "--image=nginx", "--dry-run=client", "-o", "json"];
    let json = |output: Output| serde_json::from_str::<Value>(&stdout_ok(output)).unwrap();
    assert_eq!(json(ctl(&server, &args)), json(run("kubectl", &server, &args)));
}

#[test]
fn generators_refuse_bad_flags_as_kubectl() {
    let server = ApiServer::start(Storage::Embedded).unwrap();
    let cases: &[&[&str]] = &[
        &["create", "deployment", "web", "--image=a", "--image=b", "--", "sh"],
        &["create", "deployment", "web"],
        &["run", "web"],
        &["run", "web", "--image=nginx", "--restart=Sometimes"],
        &["expose"],
        &["expose", "deployment"],
        &["set", "image", "deployment/web"],
        &["create", "service", "clusterip", "web"],
        &["create", "service", "externalname", "web", "--external-name=Not_A_Name"],
        &["create", "service", "externalname", "web"],
        &["create", "role", "reader", "--resource=pods"],
        &["create", "role", "reader", "--verb=get"],
        &["create", "role", "reader", "--verb=get", "--resource=nosuch"],
        &["create", "role", "reader", "--verb=fly", "--resource=pods"],
        &["create", "clusterrole", "reader", "--verb=fly", "--non-resource-url=/x"],
        &["create", "rolebinding", "rb", "--user=alice"],
        &["create", "ingress", "ing"],
        &["create", "pdb", "pdb", "--selector=app=web"],
        &["create", "pdb", "pdb", "--min-available=1"],
        &["create", "pdb", "pdb", "--selector=a=b", "--min-available=1", "--max-unavailable=1"],
        &["create", "ingress", "ing", "--rule=foo.com=svc:80"],
    ];
    for case in cases {
        same(&server, &with_flags(case, &["--dry-run=client"]));
    }
    // A token needs the server; ours serves no TokenRequest, and both say so alike.
    same(&server, &["create", "token", "robot", "--duration=1h"]);
}

#[test]
fn created_objects_are_kubectls() {
    let server = server_with_namespaces();
    let cases: &[(&[&str], &str)] = &[
        (&["create", "deployment", "web", "--image=nginx", "--image=redis:7", "--replicas=2"], "deployment/web"),
        (&["create", "deployment", "cmd", "--image=busybox", "--port=8080", "--", "sleep", "1d"], "deployment/cmd"),
        (&["create", "service", "clusterip", "svc", "--tcp=80:8080", "--tcp=443"], "service/svc"),
        (&["create", "service", "clusterip", "headless", "--clusterip=None"], "service/headless"),
        (&["create", "service", "externalname", "ext", "--external-name=example.com"], "service/ext"),
        (&["create", "serviceaccount", "robot"], "serviceaccount/robot"),
        (&["create", "role", "reader", "--verb=get,list", "--resource=pods,deployments.apps,pods/log"], "role/reader"),
        (&["create", "rolebinding", "rb", "--role=reader", "--user=alice", "--serviceaccount=k:robot"], "rolebinding/rb"),
        (&["create", "quota", "q", "--hard=cpu=1,memory=1G,pods=2"], "resourcequota/q"),
        (&["create", "pdb", "pdb", "--selector=app=web", "--max-unavailable=1"], "poddisruptionbudget/pdb"),
        (&["run", "pod", "--image=nginx", "--env=A=1", "--labels=app=pod,tier=web", "--port=80"], "pod/pod"),
    ];
    for (args, kind_name) in cases {
        let (_, _, code) = same_in_namespaces(&server, args);
        assert_eq!(code, Some(0), "{args:?}");
        same_objects(&server, kind_name);
        // A second time the object exists: both refuse it with the same words.
        let (_, _, code) = same_in_namespaces(&server, args);
        assert_eq!(code, Some(1), "{args:?}");
    }
    // --dry-run=server and -o yaml print the server's object; nothing is kept.
    let args = ["create", "serviceaccount", "ghost", "--dry-run=server"];
    same_in_namespaces(&server, &args);
    assert!(!ctl(&server, &["get", "serviceaccount", "ghost", "-n", "c"]).status.success());
    // Cluster-scoped: kubectl's, deleted, then ctl's.
    for (args, kind_name) in [
        (&["create", "clusterrole", "nodes", "--verb=get", "--resource=nodes,pods", "--non-resource-url=/logs"][..], "clusterrole/nodes"),
        (&["create", "clusterrolebinding", "crb", "--clusterrole=nodes", "--group=ops"], "clusterrolebinding/crb"),
        (&["create", "priorityclass", "high", "--value=1000", "--description=high"], "priorityclass/high"),
    ] {
        let theirs = shown(&run("kubectl", &server, args));
        assert_eq!(theirs.2, Some(0), "{args:?}");
        let their_object = stored(&server, "default", kind_name);
        stdout_ok(run("kubectl", &server, &["delete", kind_name]));
        assert_eq!(shown(&ctl(&server, args)), theirs);
        assert_eq!(stored(&server, "default", kind_name), their_object);
    }
}

#[test]
fn expose_makes_kubectls_service() {
    let server = server_with_namespaces();
    for namespace in ["k", "c"] {
        let manifest = "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"mp\",\"labels\":{\"app\":\"mp\",\"team\":\"a\"}},\"spec\":{\"selector\":{\"matchLabels\":{\"app\":\"mp\"}},\"template\":{\"metadata\":{\"labels\":{\"app\":\"mp\"}},\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"nginx\",\"ports\":[{\"containerPort\":80},{\"containerPort\":53,\"protocol\":\"UDP\"}]}]}}}}";
        kubectl_stdin(&server, &["create", "-n", namespace, "-f", "-"], manifest);
        stdout_ok(run("kubectl", &server, &["create", "deployment", "bare", "--image=nginx", "-n", namespace]));
        stdout_ok(run("kubectl", &server, &["run", "pod", "--image=nginx", "--port=8080", "-n", namespace]));
    }
    let cases: &[(&[&str], &str)] = &[
        (&["expose", "deployment", "mp"], "service/mp"),
        (&["expose", "deploy/mp", "--port=8080", "--target-port=http", "--name=named", "--type=NodePort"], "service/named"),
        (&["expose", "pod", "pod", "--labels=x=y", "--selector=run=pod,extra=1"], "service/pod"),
        (&["expose", "service", "mp", "--name=again"], "service/again"),
    ];
    for (args, kind_name) in cases {
        let (_, _, code) = same_in_namespaces(&server, args);
        assert_eq!(code, Some(0), "{args:?}");
        let without_node_ports = |namespace: &str| {
            let mut service = stored(&server, namespace, kind_name);
            for port in service["spec"]["ports"].as_array_mut().unwrap() {
                port.as_object_mut().unwrap().remove("nodePort");
            }
            service
        };
        assert_eq!(without_node_ports("c"), without_node_ports("k"), "{kind_name}");
    }
    for args in [&["expose", "deployment", "bare"][..], &["expose", "deployment", "mp"], &["expose", "deployment", "nosuch"]] {
        let (_, _, code) = same_in_namespaces(&server, args);
        assert_eq!(code, Some(1), "{args:?}");
    }
    for output in [&["--dry-run=client", "-o", "yaml"][..], &["--dry-run=client"], &["--dry-run=server", "-o", "name"]] {
        same_in_namespaces(&server, &[&["expose", "deployment", "mp", "--name=dry"][..], output].concat());
    }
}

/// A Pod whose variables come from everywhere `set env --list` names a source.
const ENV_SOURCES: &str = "apiVersion: v1
kind: Pod
metadata: {name: sources}
spec:
  containers:
  - name: c
    image: nginx
    env:
    - {name: A, value: \"multi\\nline\"}
    - {name: B, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
    - {name: C, valueFrom: {configMapKeyRef: {name: cm, key: k}}}
    - {name: D, valueFrom: {secretKeyRef: {name: s, key: k}}}
    - {name: E, valueFrom: {resourceFieldRef: {resource: limits.cpu}}}
    - {name: F}
    envFrom:
    - configMapRef: {name: cm}
";

#[test]
fn set_changes_containers_as_kubectl() {
    let server = server_with_namespaces();
    for namespace in ["k", "c"] {
        stdout_ok(run("kubectl", &server, &["create", "deployment", "web", "--image=nginx", "--image=redis", "-n", namespace]));
        stdout_ok(run("kubectl", &server, &["run", "pod", "--image=nginx", "--env=A=1", "-n", namespace]));
        stdout_ok(run("kubectl", &server, &["create", "job", "once", "--image=busybox", "-n", namespace]));
        stdout_ok(run("kubectl", &server, &["create", "configmap", "settings", "-n", namespace]));
        kubectl_stdin(&server, &["create", "-n", namespace, "-f", "-"], ENV_SOURCES);
    }
    let cases: &[&[&str]] = &[
        &["set", "image", "deployment/web", "nginx=nginx:1.27"],
        &["set", "image", "deployment/web", "nginx=nginx:1.27"],
        &["set", "image", "deployment", "web", "*=busybox"],
        &["set", "image", "deployment/web", "nope=x"],
        &["set", "image", "pod/pod", "pod=nginx:1.27"],
        &["set", "env", "deployment/web", "A=1", "B=2"],
        &["set", "env", "deployment/web", "-c", "redis", "C=3", "A-"],
        &["set", "env", "deployment/web", "B=2"],
        &["set", "env", "deployment/web", "--list"],
        &["set", "env", "deployment/web", "A=1", "A-"],
        &["set", "env", "deployment/web", "1A=1"],
        &["set", "env", "deployment/web", "A=1", "pod/pod"],
        &["set", "env", "pod/pod", "--list"],
        &["set", "env", "pod/sources", "--list"],
        &["set", "env", "deployment/web", "-c", "nope", "D=4"],
        &["set", "env", "deployment/web", "E=5", "--dry-run=client"],
        &["set", "resources", "deployment/web", "--limits=cpu=200m,memory=512Mi", "--requests=cpu=100m"],
        &["set", "resources", "deployment", "web", "-c", "redis", "--limits=cpu=300m"],
        &["set", "resources", "deployment/web", "-c", "nope", "--limits=cpu=1"],
        &["set", "resources", "deployment/web"],
        &["set", "image", "deployment/nosuch", "a=b"],
        &["set", "image", "configmap/settings", "a=b"],
        &["set", "image", "pod/pod", "pod=nginx:1.28", "--dry-run=server"],
        &["set", "image", "pod/pod", "pod=nginx:1.28", "--dry-run=client"],
    ];
    for args in cases {
        same_in_namespaces(&server, args);
        same_objects(&server, "deployment/web");
        same_objects(&server, "pod/pod");
    }
}
