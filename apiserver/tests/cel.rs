//! `x-kubernetes-validations` (CEL) rules of CustomResourceDefinitions on the real
//! `apiserver` binary, driven by the real `kubectl` 1.33: objects their rules refuse are
//! refused with kube-apiserver's words, transition rules see the stored object, and a
//! definition whose rule does not compile is refused with 422. The Gateway API's standard
//! definitions, where given (see [`gateway_api_definitions_install_and_their_rules_run`]),
//! install and their rules run (an ignored test: they are not vendored).

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::testing::{ApiServer, Storage};
use serde_json::{Value, json};

common::on_both_stores!(
    kubectl_sees_objects_refused_by_their_rules,
    a_definition_whose_rule_does_not_compile_is_refused,
);

/// A kind with a rule at the root, rules on objects and lists, a transition rule, a
/// `messageExpression` and a rule on the status.
const GADGETS: &str = r#"apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: gadgets.cel.example.com
spec:
  group: cel.example.com
  scope: Namespaced
  names: {plural: gadgets, singular: gadget, kind: Gadget}
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {status: {}}
    schema:
      openAPIV3Schema:
        type: object
        x-kubernetes-validations:
        - rule: "self.metadata.name.startsWith('g-')"
          message: name must start with g-
        properties:
          spec:
            type: object
            x-kubernetes-validations:
            - rule: "self.minReplicas <= self.maxReplicas"
              message: minReplicas must not exceed maxReplicas
            properties:
              minReplicas: {type: integer}
              maxReplicas: {type: integer}
              mode:
                type: string
                x-kubernetes-validations:
                - rule: "self == oldSelf"
                  message: Value is immutable
              tags:
                type: array
                maxItems: 10
                items: {type: string, maxLength: 20}
                x-kubernetes-validations:
                - rule: "self.all(t, t.lowerAscii() == t)"
                  messageExpression: "'tags must be lower case, got ' + self.filter(t, t.lowerAscii() != t).join(', ')"
          status:
            type: object
            properties:
              ready: {type: integer}
            x-kubernetes-validations:
            - rule: "self.ready >= 0"
              reason: FieldValueForbidden
              message: ready must not be negative
"#;

/// kubectl against one apiserver, with a discovery cache of its own.
struct Kubectl {
    kubeconfig: PathBuf,
    cache: tempfile::TempDir,
}

impl Kubectl {
    fn new(server: &ApiServer) -> Self {
        let cache = tempfile::Builder::new().prefix("kubectl-cache-").tempdir().unwrap_or_else(|err| panic!("a cache directory: {err}"));
        Self { kubeconfig: server.kubeconfig(), cache }
    }

    fn run(&self, args: &[&str], input: Option<&str>) -> Output {
        let mut command = Command::new("kubectl");
        command.arg(format!("--kubeconfig={}", self.kubeconfig.display())).arg(format!("--cache-dir={}", self.cache.path().display())).args(args);
        let output = match input {
            Some(input) => common::testing::output_with_input(&mut command, input.as_bytes()),
            None => command.output(),
        };
        output.unwrap_or_else(|err| panic!("running kubectl {args:?}: {err}"))
    }

    fn ok(&self, args: &[&str], input: Option<&str>) -> String {
        let output = self.run(args, input);
        assert!(output.status.success(), "kubectl {args:?} failed: {}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Its stderr, asserting that it failed.
    fn fails(&self, args: &[&str], input: Option<&str>) -> String {
        let output = self.run(args, input);
        assert!(!output.status.success(), "kubectl {args:?} succeeded: {}", String::from_utf8_lossy(&output.stdout));
        String::from_utf8_lossy(&output.stderr).into_owned()
    }
}

fn gadget(name: &str, spec: Value) -> String {
    json!({"apiVersion": "cel.example.com/v1", "kind": "Gadget", "metadata": {"name": name}, "spec": spec}).to_string()
}

async fn kubectl_sees_objects_refused_by_their_rules(storage: Storage) {
    let server = ApiServer::start(storage).unwrap_or_else(|err| panic!("starting the apiserver: {err}"));
    let kubectl = Kubectl::new(&server);
    kubectl.ok(&["create", "-f", "-"], Some(GADGETS));
    kubectl.ok(&["wait", "--for=condition=Established", "--timeout=30s", "crd/gadgets.cel.example.com"], None);

    let valid = gadget("g-1", json!({"minReplicas": 1, "maxReplicas": 3, "mode": "fast", "tags": ["a", "b"]}));
    assert_eq!(kubectl.ok(&["create", "-f", "-"], Some(&valid)).trim(), "gadget.cel.example.com/g-1 created");

    let inverted = gadget("g-2", json!({"minReplicas": 5, "maxReplicas": 3}));
    assert_eq!(kubectl.fails(&["create", "-f", "-"], Some(&inverted)), "The Gadget \"g-2\" is invalid: spec: Invalid value: \"object\": minReplicas must not exceed maxReplicas\n");
    let misnamed = gadget("bad", json!({"minReplicas": 1, "maxReplicas": 1}));
    assert_eq!(kubectl.fails(&["create", "-f", "-"], Some(&misnamed)), "The Gadget \"bad\" is invalid: <nil>: Invalid value: \"object\": name must start with g-\n");
    let shouting = gadget("g-3", json!({"minReplicas": 1, "maxReplicas": 1, "tags": ["ok", "LOUD", "Mixed"]}));
    assert_eq!(kubectl.fails(&["create", "-f", "-"], Some(&shouting)), "The Gadget \"g-3\" is invalid: spec.tags: Invalid value: \"array\": tags must be lower case, got LOUD, Mixed\n");

    // The transition rule: the mode may not change once set, and other fields still may.
    let changed = kubectl.fails(&["patch", "gadget", "g-1", "--type=merge", "-p", r#"{"spec":{"mode":"slow"}}"#], None);
    assert_eq!(changed, "The Gadget \"g-1\" is invalid: spec.mode: Invalid value: \"string\": Value is immutable\n");
    assert_eq!(kubectl.ok(&["patch", "gadget", "g-1", "--type=merge", "-p", r#"{"spec":{"maxReplicas":4}}"#], None).trim(), "gadget.cel.example.com/g-1 patched");
    assert_eq!(kubectl.ok(&["get", "gadget", "g-1", "-o", "jsonpath={.spec.mode}/{.spec.maxReplicas}"], None), "fast/4");

    // The status subresource runs the status' rules, with the rule's reason.
    let negative = kubectl.fails(&["patch", "gadget", "g-1", "--subresource=status", "--type=merge", "-p", r#"{"status":{"ready":-1}}"#], None);
    assert_eq!(negative, "The Gadget \"g-1\" is invalid: status: Forbidden: ready must not be negative\n");
    kubectl.ok(&["patch", "gadget", "g-1", "--subresource=status", "--type=merge", "-p", r#"{"status":{"ready":2}}"#], None);
    assert_eq!(kubectl.ok(&["get", "gadget", "g-1", "-o", "jsonpath={.status.ready}"], None), "2");
}

async fn a_definition_whose_rule_does_not_compile_is_refused(storage: Storage) {
    let server = ApiServer::start(storage).unwrap_or_else(|err| panic!("starting the apiserver: {err}"));
    let kubectl = Kubectl::new(&server);
    let broken = GADGETS.replace("gadgets.cel.example.com", "broken.cel.example.com").replace("plural: gadgets, singular: gadget", "plural: broken, singular: broken").replace("self.minReplicas <= self.maxReplicas", "self.minReplicas <=");
    let refused = kubectl.fails(&["create", "-f", "-"], Some(&broken));
    assert_eq!(
        refused,
        "The CustomResourceDefinition \"broken.cel.example.com\" is invalid: spec.versions[0].schema.openAPIV3Schema.properties[spec].x-kubernetes-validations[0].rule: Invalid value: apiextensions.ValidationRule{Rule:\"self.minReplicas <=\", Message:\"minReplicas must not exceed maxReplicas\", MessageExpression:\"\", Reason:(*apiextensions.FieldValueErrorReason)(nil), FieldPath:\"\", OptionalOldSelf:(*bool)(nil)}: compilation failed: ERROR: <input>:1:20: Syntax error: mismatched input '<EOF>' expecting {'[', '{', '(', '.', '-', '!', 'true', 'false', 'null', NUM_FLOAT, NUM_INT, NUM_UINT, STRING, BYTES, IDENTIFIER}\n | self.minReplicas <=\n | ...................^\n"
    );
    let undeclared = GADGETS.replace("gadgets.cel.example.com", "undeclared.cel.example.com").replace("plural: gadgets, singular: gadget", "plural: undeclared, singular: undeclared").replace("self.ready >= 0", "self.nosuch >= 0");
    let refused = kubectl.fails(&["create", "-f", "-"], Some(&undeclared));
    assert!(refused.contains("properties[status].x-kubernetes-validations[0].rule: Invalid value: apiextensions.ValidationRule{Rule:\"self.nosuch >= 0\""), "{refused}");
    assert!(refused.contains("compilation failed: ERROR: <input>:1:5: undefined field 'nosuch'"), "{refused}");
    let client = reqwest::Client::new();
    let body: Value = serde_yaml_ng::from_str(&broken).unwrap_or_else(|err| panic!("{err}"));
    let response = client.post(format!("{}/apis/apiextensions.k8s.io/v1/customresourcedefinitions", server.url())).json(&body).send().await.unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(response.status().as_u16(), 422);
    let status: Value = response.json().await.unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(status["details"]["causes"][0]["field"], "spec.versions[0].schema.openAPIV3Schema.properties[spec].x-kubernetes-validations[0].rule", "{status}");
}

/// The Gateway API's standard definitions (kubernetes-sigs/gateway-api, Apache-2.0,
/// `config/crd/standard/*.yaml`): every one installs (so every rule compiles), and an
/// HTTPRoute one of their rules refuses is refused. They are not vendored (content fetched
/// from elsewhere is not committed here), so the test is ignored unless asked for:
/// `GATEWAY_API_CRDS=<dir> cargo test -p apiserver --test cel -- --ignored`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the Gateway API's standard definitions in $GATEWAY_API_CRDS"]
async fn gateway_api_definitions_install_and_their_rules_run() {
    let directory = std::env::var_os("GATEWAY_API_CRDS").map(PathBuf::from).unwrap_or_else(|| panic!("set GATEWAY_API_CRDS to a directory of the Gateway API's standard definitions"));
    let server = ApiServer::start(Storage::Embedded).unwrap_or_else(|err| panic!("starting the apiserver: {err}"));
    let client = reqwest::Client::new();
    let mut entries: Vec<PathBuf> = std::fs::read_dir(&directory).unwrap_or_else(|err| panic!("{}: {err}", directory.display())).filter_map(Result::ok).map(|entry| entry.path()).collect();
    entries.sort();
    let mut installed = 0;
    for path in entries.iter().filter(|path| path.extension().is_some_and(|extension| extension == "yaml")) {
        let text = std::fs::read_to_string(path).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
        let definition: Value = serde_yaml_ng::from_str(&text).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
        if definition["kind"] != "CustomResourceDefinition" {
            continue;
        }
        let response = client.post(format!("{}/apis/apiextensions.k8s.io/v1/customresourcedefinitions", server.url())).json(&definition).send().await.unwrap_or_else(|err| panic!("{err}"));
        let code = response.status().as_u16();
        let body = response.text().await.unwrap_or_default();
        assert_eq!(code, 201, "{}: {body}", path.display());
        installed += 1;
    }
    assert!(installed >= 5, "only {installed} definitions in {}", directory.display());

    let routes = format!("{}/apis/gateway.networking.k8s.io/v1/namespaces/default/httproutes", server.url());
    let deadline = Instant::now() + Duration::from_secs(30);
    while client.get(&routes).send().await.map(|response| response.status().as_u16()).unwrap_or_default() != 200 {
        assert!(Instant::now() < deadline, "HTTPRoutes are not served 30 s after their definition was created");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let route = |name: &str, path: &str| {
        json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute", "metadata": {"name": name},
               "spec": {"parentRefs": [{"name": "gateway"}], "rules": [{"matches": [{"path": {"type": "PathPrefix", "value": path}}],
                        "backendRefs": [{"name": "web", "port": 80}]}]}})
    };
    let response = client.post(&routes).json(&route("good", "/shop")).send().await.unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(response.status().as_u16(), 201, "{}", response.text().await.unwrap_or_default());
    let response = client.post(&routes).json(&route("relative", "shop")).send().await.unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(response.status().as_u16(), 422);
    let status: Value = response.json().await.unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(
        status["message"],
        "HTTPRoute.gateway.networking.k8s.io \"relative\" is invalid: spec.rules[0].matches[0].path: Invalid value: \"object\": value must be an absolute path and start with '/' when type one of ['Exact', 'PathPrefix']",
        "{status}"
    );
}
