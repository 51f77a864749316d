//! Ingress, IngressClass and EndpointSlice (`kinds/networking/*.rs`, `kinds/discovery/*.rs`)
//! through the real binary: kubectl finds them as against kube-apiserver 1.33, an Ingress's
//! status is written through its subresource only and its generation follows its spec, and the
//! immutable fields get kube-apiserver's 422.

use std::process::{Command, Output};

use common::testing::{ApiServer, Storage};
use http::Client;
use serde_json::{Value, json};

#[path = "support/http.rs"]
mod http;

common::on_both_stores!(kubectl_finds_the_networking_kinds, an_ingress_status_and_generation_follow_kube, immutable_fields_get_kube_apiservers_422);

fn kubectl(server: &ApiServer, args: &[&str]) -> Output {
    Command::new("kubectl").arg(format!("--kubeconfig={}", server.kubeconfig().display())).args(args).output().unwrap_or_else(|err| panic!("running kubectl: {err}"))
}

fn kubectl_ok(server: &ApiServer, args: &[&str]) -> String {
    let output = kubectl(server, args);
    assert!(output.status.success(), "kubectl {args:?} failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

const INGRESSES: &str = "/apis/networking.k8s.io/v1/namespaces/default/ingresses";
const CLASSES: &str = "/apis/networking.k8s.io/v1/ingressclasses";
const SLICES: &str = "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices";

fn ingress(name: &str) -> Value {
    json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": name},
        "spec": {"rules": [{"host": "shop.example.com", "http": {"paths": [
            {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]}})
}

async fn kubectl_finds_the_networking_kinds(storage: Storage) {
    let server = ApiServer::start(storage).unwrap_or_else(|err| panic!("starting the apiserver: {err}"));
    let columns = |text: String| text.lines().map(|line| line.split_whitespace().map(str::to_string).collect::<Vec<_>>()).collect::<Vec<_>>();
    assert_eq!(columns(kubectl_ok(&server, &["api-resources", "--api-group=networking.k8s.io", "--no-headers"])), [
        vec!["ingressclasses", "networking.k8s.io/v1", "false", "IngressClass"],
        vec!["ingresses", "ing", "networking.k8s.io/v1", "true", "Ingress"],
        vec!["networkpolicies", "netpol", "networking.k8s.io/v1", "true", "NetworkPolicy"],
    ]);
    assert_eq!(columns(kubectl_ok(&server, &["api-resources", "--api-group=discovery.k8s.io", "--no-headers"])), [
        vec!["endpointslices", "discovery.k8s.io/v1", "true", "EndpointSlice"],
    ]);
    // Ingress is not among `all`.
    assert!(!kubectl_ok(&server, &["api-resources", "--categories=all", "-o", "name"]).contains("ingress"));
}

async fn an_ingress_status_and_generation_follow_kube(storage: Storage) {
    let server = ApiServer::start(storage).unwrap_or_else(|err| panic!("starting the apiserver: {err}"));
    let client = Client::new(&server);
    let with_status = {
        let mut object = ingress("shop");
        object["status"] = json!({"loadBalancer": {"ingress": [{"ip": "10.0.0.1"}]}});
        object
    };
    let (code, created) = client.json("POST", INGRESSES, &with_status).await;
    assert_eq!((code, &created["status"], &created["metadata"]["generation"]), (201, &json!({"loadBalancer": {}}), &json!(1)), "{created}");

    let mut status = created.clone();
    status["status"] = json!({"loadBalancer": {"ingress": [{"ip": "10.0.0.1"}]}});
    status["spec"]["rules"][0]["host"] = json!("ignored.example.com");
    let (code, written) = client.json("PUT", &format!("{INGRESSES}/shop/status"), &status).await;
    assert_eq!((code, &written["spec"]["rules"][0]["host"], &written["metadata"]["generation"]), (200, &json!("shop.example.com"), &json!(1)), "{written}");
    assert_eq!(written["status"]["loadBalancer"]["ingress"][0]["ip"], "10.0.0.1");

    let mut changed = written.clone();
    changed["spec"]["rules"][0]["host"] = json!("www.example.com");
    changed["status"] = json!({"loadBalancer": {}});
    let (code, updated) = client.json("PUT", &format!("{INGRESSES}/shop"), &changed).await;
    assert_eq!((code, &updated["metadata"]["generation"]), (200, &json!(2)), "{updated}");
    assert_eq!(updated["status"]["loadBalancer"]["ingress"][0]["ip"], "10.0.0.1", "the status stays the controller's");
    let (_, stored) = client.get(&format!("{INGRESSES}/shop")).await;
    assert_eq!((&stored["metadata"]["generation"], &stored["spec"]["rules"][0]["host"]), (&json!(2), &json!("www.example.com")));

    let mut no_path_type = ingress("bad");
    no_path_type["spec"]["rules"][0]["http"]["paths"][0].as_object_mut().map(|path| path.remove("pathType"));
    let (code, refused) = client.json("POST", INGRESSES, &no_path_type).await;
    assert_eq!((code, refused["reason"].as_str()), (422, Some("Invalid")), "{refused}");
    assert_eq!(refused["message"], "Ingress.networking.k8s.io \"bad\" is invalid: spec.rules[0].http.paths[0].pathType: Required value: pathType must be specified");
}

async fn immutable_fields_get_kube_apiservers_422(storage: Storage) {
    let server = ApiServer::start(storage).unwrap_or_else(|err| panic!("starting the apiserver: {err}"));
    let client = Client::new(&server);
    let class = json!({"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass", "metadata": {"name": "nginx"}, "spec": {"controller": "example.com/nginx"}});
    let (code, created) = client.json("POST", CLASSES, &class).await;
    assert_eq!(code, 201, "{created}");
    let mut changed = created.clone();
    changed["spec"]["controller"] = json!("example.com/other");
    let (code, refused) = client.json("PUT", &format!("{CLASSES}/nginx"), &changed).await;
    assert_eq!((code, refused["message"].as_str()), (422, Some("IngressClass.networking.k8s.io \"nginx\" is invalid: spec.controller: Invalid value: \"example.com/other\": field is immutable")), "{refused}");

    let slice = json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "metadata": {"name": "web-1", "labels": {"kubernetes.io/service-name": "web"}},
        "addressType": "IPv4", "endpoints": [{"addresses": ["10.244.1.5"]}], "ports": [{"name": "http", "port": 8080}]});
    let (code, created) = client.json("POST", SLICES, &slice).await;
    assert_eq!((code, &created["ports"][0]["protocol"]), (201, &json!("TCP")), "{created}");
    let mut changed = created.clone();
    changed["addressType"] = json!("IPv6");
    changed["endpoints"] = json!([{"addresses": ["fd00::5"]}]);
    let (code, refused) = client.json("PUT", &format!("{SLICES}/web-1"), &changed).await;
    assert_eq!((code, refused["message"].as_str()), (422, Some("EndpointSlice.discovery.k8s.io \"web-1\" is invalid: addressType: Invalid value: \"IPv6\": field is immutable")), "{refused}");
    let too_many: Vec<Value> = (0..1001).map(|index| json!({"addresses": [format!("10.1.{}.{}", index / 200, index % 200 + 1)]})).collect();
    let mut crowded = slice.clone();
    crowded["metadata"]["name"] = json!("web-2");
    crowded["endpoints"] = json!(too_many);
    let (code, refused) = client.json("POST", SLICES, &crowded).await;
    assert_eq!((code, refused["message"].as_str()), (422, Some("EndpointSlice.discovery.k8s.io \"web-2\" is invalid: endpoints: Too many: 1001: must have at most 1000 items")), "{refused}");
}
