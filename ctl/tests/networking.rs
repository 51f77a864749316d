//! Ingress, IngressClass and EndpointSlice beside kubectl on one apiserver: `get` tables cell by
//! cell, `describe ingress` line by line (backends resolved through the Services' slices), and
//! `create ingress --rule` making the same object.

mod support;
use support::*;

use common::testing::{ApiServer, Storage};
use serde_json::Value;

const FIXTURE: &str = r#"
apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: 8080}, {name: admin, port: 9000}]
---
apiVersion: v1
kind: Service
metadata: {name: api, namespace: shop}
spec:
  selector: {app: api}
  ports: [{port: 8080}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-abcde, namespace: shop, labels: {kubernetes.io/service-name: web}}
addressType: IPv4
ports: [{name: http, port: 8080, protocol: TCP}, {name: admin, port: 9000, protocol: TCP}]
endpoints:
- {addresses: [10.244.1.5], conditions: {ready: true}}
- {addresses: [10.244.2.7], conditions: {ready: true}}
- {addresses: [10.244.3.9], conditions: {ready: true}}
- {addresses: [10.244.4.2], conditions: {ready: true}}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: api-fghij, namespace: shop, labels: {kubernetes.io/service-name: api}}
addressType: IPv4
ports: [{port: 8080}]
endpoints: []
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: named-ports, namespace: shop}
addressType: FQDN
ports: [{name: a}, {name: b, port: 2}, {name: c, port: 3}, {name: d, port: 4}]
endpoints: [{addresses: [db.example.com]}]
---
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: nginx, annotations: {ingressclass.kubernetes.io/is-default-class: "true"}}
spec:
  controller: example.com/ingress-nginx
  parameters: {apiGroup: k8s.example.com, kind: IngressParameters, name: external-lb}
---
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: plain}
spec: {controller: example.com/plain}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: front, namespace: shop, labels: {app: web}, annotations: {note: edge}}
spec:
  ingressClassName: nginx
  defaultBackend: {service: {name: web, port: {name: http}}}
  tls:
  - {hosts: [shop.example.com], secretName: shop-tls}
  - {hosts: [api.example.com]}
  rules:
  - host: shop.example.com
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}
      - {path: /admin, pathType: Exact, backend: {service: {name: web, port: {name: admin}}}}
  - host: api.example.com
    http:
      paths:
      - {path: /v1, pathType: Prefix, backend: {service: {name: api, port: {number: 8080}}}}
      - {path: /missing, pathType: Prefix, backend: {service: {name: nosuch, port: {number: 80}}}}
  - http:
      paths:
      - {pathType: ImplementationSpecific, backend: {resource: {apiGroup: k8s.example.com, kind: StorageBucket, name: static}}}
  - host: a.example.com
  - host: b.example.com
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: bare, namespace: shop}
spec:
  defaultBackend: {resource: {kind: StorageBucket, name: static}}
"#;

const STATUS: &str = r#"{"status": {"loadBalancer": {"ingress": [{"ip": "192.168.100.200"}, {"hostname": "lb.example.com"}]}}}"#;

fn server_with_fixture() -> ApiServer {
    let server = ApiServer::start(Storage::Embedded).unwrap();
    kubectl_stdin(&server, &["apply", "-f", "-"], FIXTURE);
    stdout_ok(run("kubectl", &server, &["patch", "ingress", "front", "-n", "shop", "--subresource=status", "--type=merge", "-p", STATUS]));
    server
}

/// The same status and stderr, and the same cells with the ages blanked.
fn same_table(server: &ApiServer, args: &[&str]) {
    let theirs = run("kubectl", server, args);
    let ours = ctl(server, args);
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    assert!(!theirs.stdout.is_empty(), "kubectl printed nothing for {args:?}: {}", text(&theirs.stderr));
    assert_eq!(without_ages(&text(&ours.stdout)), without_ages(&text(&theirs.stdout)), "stdout of {args:?}");
    assert_eq!(text(&ours.stderr), text(&theirs.stderr), "stderr of {args:?}");
    assert_eq!(ours.status.code(), theirs.status.code(), "status of {args:?}");
}

#[test]
fn get_prints_kubectls_tables() {
    let server = server_with_fixture();
    for args in [
        &["get", "ingress,ingressclass,endpointslices", "-n", "shop"][..],
        &["get", "ing", "-A"],
        &["get", "ingressclasses"],
        &["get", "endpointslices", "-n", "shop", "-o", "wide"],
        &["get", "ingress", "front", "-n", "shop", "-o", "wide"],
        &["get", "ingressclass", "nginx", "--show-labels"],
        // Ingress is not in the `all` category.
        &["get", "all", "-n", "shop"],
    ] {
        same_table(&server, args);
    }
}

#[test]
fn describe_ingress_as_kubectl_describes() {
    let server = server_with_fixture();
    for args in [&["describe", "ingress", "front", "-n", "shop"][..], &["describe", "ing", "bare", "-n", "shop"]] {
        let theirs = stdout_ok(run("kubectl", &server, args));
        let ours = stdout_ok(ctl(&server, args));
        for (line, (mine, kubectl)) in ours.split('\n').zip(theirs.split('\n')).enumerate() {
            assert_eq!(mine, kubectl, "line {} of {args:?}; kubectl printed:\n{theirs}\nctl printed:\n{ours}", line + 1);
        }
        assert_eq!(ours, theirs, "{args:?}");
    }
}

/// An object as both tools made it, without what the server sets per object.
fn made(server: &ApiServer, name: &str) -> Value {
    let mut object = object(server, "shop", &format!("ingress/{name}"));
    let metadata = object["metadata"].as_object_mut().unwrap();
    for field in ["name", "uid", "resourceVersion", "creationTimestamp", "managedFields", "generation"] {
        metadata.remove(field);
    }
    pruned(&object)
}

#[test]
fn create_ingress_makes_kubectls_object() {
    let server = server_with_fixture();
    let rules = [
        "--rule=shop.example.com/=web:80",
        "--rule=shop.example.com/admin*=web:admin,tls=shop-tls",
        "--rule=/static*=api:8080",
        "--class=nginx",
        "--default-backend=web:http",
        "--annotation=note=made",
        "-n",
        "shop",
    ];
    let create = |binary: &str, name: &str| {
        let mut args = vec!["create", "ingress", name];
        args.extend(rules);
        run(binary, &server, &args)
    };
    let theirs = create("kubectl", "by-kubectl");
    let ours = create(env!("CARGO_BIN_EXE_ctl"), "by-ctl");
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    assert_eq!(text(&ours.stdout).replace("by-ctl", "NAME"), text(&theirs.stdout).replace("by-kubectl", "NAME"));
    assert_eq!(text(&ours.stderr), text(&theirs.stderr));
    assert_eq!(ours.status.code(), theirs.status.code());
    assert_eq!(made(&server, "by-ctl"), made(&server, "by-kubectl"));
    // A rule kubectl refuses is refused alike, before anything reaches the server.
    let refuse = |binary: &str| run(binary, &server, &["create", "ingress", "bad", "--rule=host.example.com", "-n", "shop"]);
    let (theirs, ours) = (refuse("kubectl"), refuse(env!("CARGO_BIN_EXE_ctl")));
    assert_eq!(text(&ours.stderr).replace("ctl ", "kubectl "), text(&theirs.stderr));
    assert_eq!(ours.status.code(), theirs.status.code());
}
