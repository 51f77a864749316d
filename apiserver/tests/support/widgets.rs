//! The widgets: a custom resource as its users drive it with kubectl and the Python client's
//! `CustomObjectsApi`, and what those print back. Shared by the apiserver's tests (`crd.rs`,
//! on an apiserver of each store) and the end-to-end tests (`e2e/tests/custom_resources.rs`,
//! on a kind-style cluster), which include this file by path.

#![allow(dead_code)]

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime};

use serde_json::{Value, json};

/// A namespaced kind with everything kubectl shows of one: a schema with required fields, an
/// enum, a minimum and defaults; printer columns of each kind of cell; short names and
/// categories; status and scale subresources.
pub const WIDGETS: &str = r#"apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.stable.example.com
spec:
  group: stable.example.com
  scope: Namespaced
  names:
    plural: widgets
    singular: widget
    kind: Widget
    listKind: WidgetList
    shortNames: [wd]
    categories: [all, gadgets]
  versions:
  - name: v1
    served: true
    storage: true
    selectableFields:
    - jsonPath: .spec.color
    subresources:
      status: {}
      scale:
        specReplicasPath: .spec.replicas
        statusReplicasPath: .status.replicas
        labelSelectorPath: .status.selector
    additionalPrinterColumns:
    - name: Size
      type: integer
      jsonPath: .spec.size
    - name: Color
      type: string
      jsonPath: .spec.color
    - name: Since
      type: date
      jsonPath: .spec.since
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            required: [color, size]
            properties:
              color:
                type: string
                enum: [red, blue]
              size:
                type: integer
                minimum: 1
              since:
                type: string
                format: date-time
              replicas:
                type: integer
                default: 1
              shape:
                type: string
                default: round
              note:
                type: string
          status:
            type: object
            properties:
              replicas:
                type: integer
              selector:
                type: string
              phase:
                type: string
"#;

pub const WIDGETS_NAME: &str = "widgets.stable.example.com";
pub const WIDGETS_PATH: &str = "/apis/stable.example.com/v1/namespaces/default/widgets";

/// The date every widget's `Since` column shows, far enough back that kube prints whole years.
pub const SINCE: &str = "2000-01-01T00:00:00Z";
const SINCE_UNIX: u64 = 946_684_800;

/// The `Since` cell as kube renders a date column (`duration.HumanDuration`: whole years past
/// eight years).
pub fn since_cell() -> String {
    let now = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map(|since| since.as_secs()).unwrap_or_default();
    let hours = (now - SINCE_UNIX) / 3600;
    format!("{}y", hours / 24 / 365)
}

pub fn widget(name: &str, spec: Value) -> Value {
    json!({"apiVersion": "stable.example.com/v1", "kind": "Widget", "metadata": {"name": name}, "spec": spec})
}


/// kubectl against one cluster, with a discovery cache of its own (so that no test sees
/// another's, nor one from before a definition was created or deleted).
pub struct Kubectl {
    kubeconfig: PathBuf,
    cache: tempfile::TempDir,
    /// The apiserver's log, whose tail a failure shows, where the test has it.
    log: Option<PathBuf>,
}

impl Kubectl {
    pub fn new(kubeconfig: PathBuf, log: Option<PathBuf>) -> Self {
        let cache = tempfile::Builder::new().prefix("kubectl-cache-").tempdir().unwrap_or_else(|err| panic!("a cache directory: {err}"));
        Self { kubeconfig, cache, log }
    }

    /// The same cluster with an empty discovery cache, as a kubectl started later would be.
    pub fn fresh(&self) -> Self {
        Self::new(self.kubeconfig.clone(), self.log.clone())
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new("kubectl");
        command.arg(format!("--kubeconfig={}", self.kubeconfig.display())).arg(format!("--cache-dir={}", self.cache.path().display())).args(args);
        command
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap_or_else(|err| panic!("running kubectl {args:?}: {err}"))
    }

    pub fn run_with_input(&self, args: &[&str], input: &str) -> Output {
        common::testing::output_with_input(&mut self.command(args), input.as_bytes()).unwrap_or_else(|err| panic!("running kubectl {args:?}: {err}"))
    }

    /// Its stdout; the test fails with its stderr and the apiserver's log if it fails.
    pub fn ok(&self, args: &[&str]) -> String {
        let output = self.run(args);
        self.expect_success(args, output)
    }

    pub fn ok_with_input(&self, args: &[&str], input: &str) -> String {
        let output = self.run_with_input(args, input);
        self.expect_success(args, output)
    }

    pub fn expect_success(&self, args: &[&str], output: Output) -> String {
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(output.status.success(), "kubectl {args:?} failed:\n{stdout}\n{}\n--- apiserver log:\n{}", String::from_utf8_lossy(&output.stderr), self.log.as_deref().map(log_tail).unwrap_or_default());
        stdout
    }

    /// Its stderr, asserting that it failed.
    pub fn fails(&self, args: &[&str], input: Option<&str>) -> String {
        let output = match input {
            Some(input) => self.run_with_input(args, input),
            None => self.run(args),
        };
        assert!(!output.status.success(), "kubectl {args:?} succeeded:\n{}", String::from_utf8_lossy(&output.stdout));
        String::from_utf8_lossy(&output.stderr).into_owned()
    }

    pub fn json(&self, args: &[&str]) -> Value {
        let mut args = args.to_vec();
        args.extend(["-o", "json"]);
        let text = self.ok(&args);
        serde_json::from_str(&text).unwrap_or_else(|err| panic!("kubectl {args:?} printed no JSON ({err}): {text}"))
    }

    /// Creates the widgets' definition and waits until it is Established.
    pub fn create_widgets(&self) {
        let created = self.ok_with_input(&["create", "-f", "-"], WIDGETS);
        assert_eq!(created.trim(), "customresourcedefinition.apiextensions.k8s.io/widgets.stable.example.com created");
        let waited = self.ok(&["wait", "--for=condition=Established", "--timeout=30s", &format!("crd/{WIDGETS_NAME}")]);
        assert_eq!(waited.trim(), "customresourcedefinition.apiextensions.k8s.io/widgets.stable.example.com condition met");
    }
}

pub fn log_tail(log: &std::path::Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().rev().take(30).collect();
    lines.into_iter().rev().collect::<Vec<_>>().join("\n")
}

/// A long-running child (`kubectl get -w`) whose stdout lines arrive on a channel; killed on drop.
pub struct Streaming {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Streaming {
    pub fn start(mut command: Command) -> Self {
        let mut child = command.stdout(Stdio::piped()).stderr(Stdio::null()).stdin(Stdio::null()).spawn().unwrap_or_else(|err| panic!("starting {command:?}: {err}"));
        let stdout = child.stdout.take().unwrap_or_else(|| panic!("{command:?} has no stdout pipe"));
        let (sender, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    return;
                }
            }
        });
        Self { child, lines }
    }

    /// Waits (30 s at most) for a line whose whitespace-separated fields are `fields`; returns
    /// the lines that came before it.
    pub fn wait_for(&self, fields: &[&str]) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.split_whitespace().eq(fields.iter().copied()) => return seen,
                Ok(line) => seen.push(line),
                Err(err) => panic!("no line {fields:?} ({err}); printed so far: {seen:#?}"),
            }
        }
    }
}

impl Drop for Streaming {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What a user of a custom resource does with kubectl up to deleting its definition, and what
/// kubectl prints back: the definition, discovery, explain, the printer columns, defaults,
/// field selectors, a watch, the status and scale subresources, and refusals.
pub fn use_widgets(kubectl: &Kubectl) {
    kubectl.create_widgets();

    let resources = kubectl.ok(&["api-resources", "--api-group=stable.example.com"]);
    let rows: Vec<Vec<&str>> = resources.lines().map(|line| line.split_whitespace().collect()).collect();
    assert_eq!(rows, [vec!["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"], vec!["widgets", "wd", "stable.example.com/v1", "true", "Widget"]], "{resources}");
    let in_category = kubectl.ok(&["api-resources", "--categories=gadgets", "-o", "name"]);
    assert_eq!(in_category.trim(), "widgets.stable.example.com");

    // kubectl explain reads the custom kind's schema from /openapi/v3.
    let explained = kubectl.ok(&["explain", "widgets.spec"]);
    for expected in ["GROUP:      stable.example.com", "KIND:       Widget", "FIELD: spec <Object>", "color\t<string> -required-", "enum: red, blue", "size\t<integer> -required-", "replicas\t<integer>"] {
        assert!(explained.contains(expected), "{expected:?} in:\n{explained}");
    }
    let recursive = kubectl.ok(&["explain", "widgets", "--recursive"]);
    for expected in ["metadata\t<ObjectMeta>", "spec\t<Object>", "status\t<Object>", "phase\t<string>"] {
        assert!(recursive.contains(expected), "{expected:?} in:\n{recursive}");
    }

    let first = widget("w1", json!({"color": "red", "size": 3, "since": SINCE, "replicas": 2}));
    assert_eq!(kubectl.ok_with_input(&["create", "-f", "-"], &first.to_string()).trim(), "widget.stable.example.com/w1 created");
    let second = widget("w2", json!({"color": "blue", "size": 12, "since": SINCE}));
    assert_eq!(kubectl.ok_with_input(&["create", "-f", "-"], &second.to_string()).trim(), "widget.stable.example.com/w2 created");

    // The schema's defaults are applied to what was left out.
    let defaulted = kubectl.json(&["get", "widget", "w2"]);
    assert_eq!(defaulted["spec"], json!({"color": "blue", "size": 12, "since": SINCE, "replicas": 1, "shape": "round"}), "{defaulted}");

    // The printer columns, by plural, short name and category.
    let since = since_cell();
    let expected = format!("NAME   SIZE   COLOR   SINCE\nw1     3      red     {since}\nw2     12     blue    {since}\n");
    assert_eq!(kubectl.ok(&["get", "widgets"]), expected);
    assert_eq!(kubectl.ok(&["get", "wd"]), expected);
    // One type in the category: kubectl shows no kind before the names, as for `get widgets`.
    assert_eq!(kubectl.ok(&["get", "gadgets"]), expected);

    // Field selectors: name and namespace, and the definition's selectableFields.
    assert_eq!(kubectl.ok(&["get", "widgets", "--field-selector", "spec.color=blue", "-o", "name"]).trim(), "widget.stable.example.com/w2");
    assert_eq!(kubectl.ok(&["get", "widgets", "--field-selector", "metadata.name=w1", "-o", "name"]).trim(), "widget.stable.example.com/w1");
    let unselectable = kubectl.fails(&["get", "widgets", "--field-selector", "spec.size=3"], None);
    assert_eq!(unselectable, "Error from server (BadRequest): Unable to find \"stable.example.com/v1, Resource=widgets\" that match label selector \"\", field selector \"spec.size=3\": field label not supported: spec.size\n");

    // A watch shows a change made while it runs.
    let watching = Streaming::start(kubectl.command(&["get", "widgets", "-w"]));
    watching.wait_for(&["w2", "12", "blue", &since]);
    let patched = kubectl.ok(&["patch", "widget", "w1", "--type=merge", "-p", r#"{"spec":{"size":4}}"#]);
    assert_eq!(patched.trim(), "widget.stable.example.com/w1 patched");
    watching.wait_for(&["w1", "4", "red", &since]);
    drop(watching);

    // The status subresource changes status only; the main resource everything but status.
    let status = r#"{"status":{"phase":"Ready","replicas":2,"selector":"app=w1"},"spec":{"size":9}}"#;
    kubectl.ok(&["patch", "widget", "w1", "--subresource=status", "--type=merge", "-p", status]);
    let object = kubectl.json(&["get", "widget", "w1"]);
    assert_eq!((&object["spec"]["size"], &object["status"], &object["metadata"]["generation"]), (&json!(4), &json!({"phase": "Ready", "replicas": 2, "selector": "app=w1"}), &json!(2)), "{object}");
    kubectl.ok(&["patch", "widget", "w1", "--type=merge", "-p", r#"{"spec":{"size":5},"status":{"phase":"Broken"}}"#]);
    let object = kubectl.json(&["get", "widget", "w1"]);
    assert_eq!((&object["spec"]["size"], &object["status"]["phase"], &object["metadata"]["generation"]), (&json!(5), &json!("Ready"), &json!(3)), "{object}");

    // The scale subresource reads and writes the declared paths.
    assert_eq!(kubectl.ok(&["scale", "widget", "w1", "--replicas=5"]).trim(), "widget.stable.example.com/w1 scaled");
    let scale = kubectl.json(&["get", "widget", "w1", "--subresource=scale"]);
    assert_eq!(
        (&scale["apiVersion"], &scale["kind"], &scale["spec"], &scale["status"]),
        (&json!("autoscaling/v1"), &json!("Scale"), &json!({"replicas": 5}), &json!({"replicas": 2, "selector": "app=w1"})),
        "{scale}"
    );
    assert_eq!(kubectl.ok(&["get", "widget", "w1", "-o", "jsonpath={.spec.replicas}"]), "5");

    // An invalid object, as kubectl prints kube-apiserver's answer.
    let bad = widget("bad", json!({"color": "green", "size": 0}));
    let refused = kubectl.fails(&["create", "-f", "-"], Some(&bad.to_string()));
    assert_eq!(
        refused,
        "The Widget \"bad\" is invalid: \n* spec.color: Unsupported value: \"green\": supported values: \"red\", \"blue\"\n* spec.size: Invalid value: 0: spec.size in body should be greater than or equal to 1\n"
    );

    // An unknown field is an error when asked to be; kube words it as any decoding error
    // (`transformDecodeError`).
    let extra = widget("extra", json!({"color": "red", "size": 1, "extra": true}));
    let refused = kubectl.fails(&["create", "--validate=strict", "-f", "-"], Some(&extra.to_string()));
    assert_eq!(refused, "Error from server (BadRequest): error when creating \"STDIN\": Widget in version \"v1\" cannot be handled as a Widget: strict decoding error: unknown field \"spec.extra\"\n");

    // Strategic merge patch has no meaning without Go types: kube-apiserver's
    // `negotiation.NewUnsupportedMediaTypeError`, as kubectl's patch wraps it, listing what a
    // custom kind takes.
    let strategic_refused = kubectl.fails(&["patch", "widget", "w1", "--type=strategic", "-p", r#"{"spec":{"size":6}}"#], None);
    assert_eq!(
        strategic_refused,
        "error: application/strategic-merge-patch+json is not supported by stable.example.com/v1, Kind=Widget: the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml\n"
    );
    assert_eq!(kubectl.ok(&["get", "widget", "w1", "-o", "jsonpath={.spec.size}"]), "5");
}

/// Deleting the definition deletes its objects, and the resource is no longer served; a new
/// definition of the same name starts empty.
pub fn delete_widgets(kubectl: &Kubectl) {
    let deleted = kubectl.ok(&["delete", "crd", WIDGETS_NAME]);
    assert_eq!(deleted.trim(), "customresourcedefinition.apiextensions.k8s.io \"widgets.stable.example.com\" deleted");
    // kubectl that still has the resource in its discovery cache lists it and is told 404; one
    // that asks discovery anew no longer knows it.
    assert_eq!(
        kubectl.fails(&["get", "widgets"], None),
        "Error from server (NotFound): Unable to list \"stable.example.com/v1, Resource=widgets\": the server could not find the requested resource\n"
    );
    let kubectl = kubectl.fresh();
    assert_eq!(kubectl.fails(&["get", "widgets"], None), "error: the server doesn't have a resource type \"widgets\"\n");
    kubectl.create_widgets();
    let output = kubectl.run(&["get", "widgets"]);
    assert!(output.status.success(), "{output:?}");
    assert_eq!((String::from_utf8_lossy(&output.stdout).as_ref(), String::from_utf8_lossy(&output.stderr).as_ref()), ("", "No resources found in default namespace.\n"), "the old objects are back");
    kubectl.ok(&["delete", "crd", WIDGETS_NAME]);
}

/// The Python client's `CustomObjectsApi`, as its own e2e tests use it, from creating the
/// widgets' definition to deleting it. Fails with what Python printed.
pub fn use_widgets_from_python(kubeconfig: &Path) -> Result<(), String> {
    let output = Command::new("python3")
        .arg("-c")
        .arg(PYTHON)
        .arg(kubeconfig)
        .arg(WIDGETS)
        .output()
        .map_err(|err| format!("running python3: {err}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if output.status.success() && stdout.contains("python client OK") {
        Ok(())
    } else {
        Err(format!("python client failed:\n{stdout}\n{}", String::from_utf8_lossy(&output.stderr)))
    }
}

const PYTHON: &str = r#"
import json, sys, time
import yaml
from kubernetes import client, config
from kubernetes.client.rest import ApiException
config.load_kube_config(config_file=sys.argv[1])
extensions = client.ApiextensionsV1Api()
created = extensions.create_custom_resource_definition(yaml.safe_load(sys.argv[2]))
assert created.metadata.name == "widgets.stable.example.com", created.metadata
deadline = time.monotonic() + 30
while True:
    definition = extensions.read_custom_resource_definition("widgets.stable.example.com")
    conditions = definition.status.conditions or []
    if any(c.type == "Established" and c.status == "True" for c in conditions):
        break
    assert time.monotonic() < deadline, definition.status
    time.sleep(0.05)

api = client.CustomObjectsApi()
where = ("stable.example.com", "v1", "default", "widgets")
body = {"apiVersion": "stable.example.com/v1", "kind": "Widget",
        "metadata": {"name": "py", "labels": {"app": "py"}}, "spec": {"color": "red", "size": 2, "replicas": 2}}
created = api.create_namespaced_custom_object(*where, body)
assert created["spec"] == {"color": "red", "size": 2, "replicas": 2, "shape": "round"}, created
got = api.get_namespaced_custom_object(*where, "py")
assert got["metadata"]["uid"] == created["metadata"]["uid"], got
listed = api.list_namespaced_custom_object(*where, label_selector="app=py")
assert listed["kind"] == "WidgetList" and [item["metadata"]["name"] for item in listed["items"]] == ["py"], listed
assert api.list_namespaced_custom_object(*where, label_selector="app=other")["items"] == []

patched = api.patch_namespaced_custom_object(*where, "py", {"spec": {"size": 3}})
assert patched["spec"]["size"] == 3 and patched["metadata"]["generation"] == 2, patched
status = api.patch_namespaced_custom_object_status(*where, "py", {"status": {"replicas": 2, "selector": "app=py", "phase": "Ready"}, "spec": {"size": 99}})
assert status["status"] == {"replicas": 2, "selector": "app=py", "phase": "Ready"} and status["spec"]["size"] == 3, status

scale = api.get_namespaced_custom_object_scale(*where, "py")
assert scale["kind"] == "Scale" and scale["spec"] == {"replicas": 2} and scale["status"] == {"replicas": 2, "selector": "app=py"}, scale
scale = api.patch_namespaced_custom_object_scale(*where, "py", {"spec": {"replicas": 4}})
assert scale["spec"] == {"replicas": 4}, scale
assert api.get_namespaced_custom_object(*where, "py")["spec"]["replicas"] == 4

bad = {"apiVersion": "stable.example.com/v1", "kind": "Widget", "metadata": {"name": "bad"}, "spec": {"color": "green", "size": 0}}
try:
    api.create_namespaced_custom_object(*where, bad)
    raise AssertionError("an invalid widget was created")
except ApiException as error:
    assert error.status == 422, (error.status, error.body)
    refusal = json.loads(error.body)
    assert refusal["reason"] == "Invalid", refusal
    assert refusal["details"]["causes"] == [
        {"reason": "FieldValueNotSupported", "message": "Unsupported value: \"green\": supported values: \"red\", \"blue\"", "field": "spec.color"},
        {"reason": "FieldValueInvalid", "message": "Invalid value: 0: spec.size in body should be greater than or equal to 1", "field": "spec.size"},
    ], refusal["details"]

api.delete_namespaced_custom_object(*where, "py")
try:
    api.get_namespaced_custom_object(*where, "py")
    raise AssertionError("the widget is still there")
except ApiException as error:
    assert error.status == 404, (error.status, error.body)
assert api.list_namespaced_custom_object(*where)["items"] == []
extensions.delete_custom_resource_definition("widgets.stable.example.com")
deadline = time.monotonic() + 30
while True:
    try:
        extensions.read_custom_resource_definition("widgets.stable.example.com")
    except ApiException as error:
        assert error.status == 404, (error.status, error.body)
        break
    assert time.monotonic() < deadline, "the definition is still there"
    time.sleep(0.05)
print("python client OK")
"#;
