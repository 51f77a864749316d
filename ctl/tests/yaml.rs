//! `ctl get -o yaml` beside kubectl, byte for byte: strings that YAML 1.1 would read as
//! something else, punctuation, line breaks, long lines, unicode and control characters, numbers
//! as Go prints them, key order and quoting, empty and nested collections, whole objects.

mod support;
use support::*;

use common::testing::{ApiServer, Storage};
use serde_json::{Value, json};

/// Runs kubectl and ctl with `args`: stdout, stderr and exit code must be the same.
fn same(server: &ApiServer, args: &[&str]) -> String {
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    let theirs = run("kubectl", server, args);
    let ours = ctl(server, args);
    assert_eq!(text(&ours.stdout), text(&theirs.stdout), "stdout of {args:?}");
    assert_eq!(text(&ours.stderr), text(&theirs.stderr), "stderr of {args:?}");
    assert_eq!(ours.status.code(), theirs.status.code(), "status of {args:?}");
    text(&ours.stdout)
}

fn create(server: &ApiServer, object: &Value) {
    kubectl_stdin(server, &["create", "-f", "-"], &object.to_string());
}

fn tricky_strings() -> Vec<String> {
    vec![
        "true".to_string(),
        "yes".to_string(),
        "on".to_string(),
        "NO".to_string(),
        "~".to_string(),
        "null".to_string(),
        "".to_string(),
        " lead".to_string(),
        "trail ".to_string(),
        "a: b".to_string(),
        "a #b".to_string(),
        "#x".to_string(),
        "- x".to_string(),
        "[x".to_string(),
        "{x".to_string(),
        "*x".to_string(),
        "&x".to_string(),
        "!x".to_string(),
        "|x".to_string(),
        ">x".to_string(),
        "%x".to_string(),
        "@x".to_string(),
        "`x".to_string(),
        "'q'".to_string(),
        "\"dq\"".to_string(),
        "1".to_string(),
        "1.5".to_string(),
        "1e3".to_string(),
        "0x1F".to_string(),
        "0o17".to_string(),
        "017".to_string(),
        ".inf".to_string(),
        "-.inf".to_string(),
        ".nan".to_string(),
        "2024-01-01".to_string(),
        "12:30".to_string(),
        "1_000".to_string(),
        "a\nb".to_string(),
        "a\nb\n".to_string(),
        "a\nb\n\n".to_string(),
        "a  \nb".to_string(),
        "a\t\nb".to_string(),
        "a\n  b".to_string(),
        "\nlead".to_string(),
        "  \na".to_string(),
        "x\n ".to_string(),
        "é".to_string(),
        "日本".to_string(),
        "\u{1f600}".to_string(),
        "\u{1}".to_string(),
        "\t".to_string(),
        "a".repeat(200),
        "ab ".repeat(70),
        "2024-01-01T10:00:00".to_string(),
        "2024-01-01T10:00:00Z".to_string(),
        "2024-1-1".to_string(),
        "2024-02-30".to_string(),
        "2024-02-29".to_string(),
        "2023-02-29".to_string(),
        "2024-01-01 10:00:00".to_string(),
        "2024-01-01  10:00:00".to_string(),
        "2024-01-01t10:00:00.5+01:00".to_string(),
        "2024-01-01T10:00:00,5Z".to_string(),
        "2024-01-01T24:00:00Z".to_string(),
        "2024-13-01".to_string(),
        "08".to_string(),
        "0b101".to_string(),
        "0x".to_string(),
        "0b".to_string(),
        "+1".to_string(),
        "-1".to_string(),
        "+".to_string(),
        "-".to_string(),
        "-a".to_string(),
        "-_".to_string(),
        "1_".to_string(),
        "_1".to_string(),
        "1e400".to_string(),
        "1e-400".to_string(),
        ".5".to_string(),
        ".5_5".to_string(),
        "._5".to_string(),
        "+.5".to_string(),
        "1.".to_string(),
        "1.e5".to_string(),
        "0X1F".to_string(),
        "0O7".to_string(),
        "1:2:3".to_string(),
        "12:60".to_string(),
        "-12:30".to_string(),
        "12:5".to_string(),
        "12:30.5".to_string(),
        "1:1_0".to_string(),
        "---".to_string(),
        "...".to_string(),
        "---x".to_string(),
        "...x".to_string(),
        "--".to_string(),
        "a:".to_string(),
        "a:b".to_string(),
        ":a".to_string(),
        ": a".to_string(),
        "?a".to_string(),
        "? a".to_string(),
        "a?".to_string(),
        "a,b".to_string(),
        "a]".to_string(),
        "a#b".to_string(),
        "a #".to_string(),
        "<<".to_string(),
        "=".to_string(),
        "y".to_string(),
        "Y".to_string(),
        "n".to_string(),
        "N".to_string(),
        "True".to_string(),
        "oN".to_string(),
        "Off".to_string(),
        "OFF".to_string(),
        "a'b".to_string(),
        "it's".to_string(),
        "\\".to_string(),
        "a\\b".to_string(),
        "a\"b".to_string(),
        "\u{a0}".to_string(),
        "a\u{a0}".to_string(),
        "\u{2028}".to_string(),
        "a\u{2029}b".to_string(),
        "\u{feff}x".to_string(),
        "\u{feff}".to_string(),
        "x\u{feff}".to_string(),
        "é́".to_string(),
        "\r".to_string(),
        "a\rb".to_string(),
        "a\r\nb".to_string(),
        "\u{1b}[0m".to_string(),
        "0".to_string(),
        "-0".to_string(),
        "00".to_string(),
        "0.0".to_string(),
        "-0.0".to_string(),
        "1e".to_string(),
        "e1".to_string(),
        "E1".to_string(),
        "0x1g".to_string(),
        "9223372036854775807".to_string(),
        "9223372036854775808".to_string(),
        "18446744073709551615".to_string(),
        "18446744073709551616".to_string(),
        "-9223372036854775808".to_string(),
        "-9223372036854775809".to_string(),
        "# x".to_string(),
        "x #".to_string(),
        "x # y".to_string(),
        "x#y".to_string(),
        "-- x".to_string(),
        "a\n#b".to_string(),
        "a\n- b".to_string(),
        "\ta".to_string(),
        "a\t".to_string(),
        "a b  c".to_string(),
        "\u{feff}ab".to_string(),
        format!("\u{1} {}", "y ".repeat(60)),
        "\u{1f600}".to_string(),
        format!("line1\nline2 with some words {}\n", "z ".repeat(40)),
        "word ".repeat(40),
        "x".repeat(200),
        format!("{}#", "a b".repeat(50)),
        format!("{} {}", "é".repeat(100), "é".repeat(10)),
        "a\u{2028}b".to_string(),
        "a\u{85}b".to_string(),
        "a\tb".to_string(),
        "a\t".to_string(),
        "a \u{85}\u{85}  b".to_string(),
        "\u{85}x".to_string(),
        "a\u{85}b".to_string(),
        "a\u{85}".to_string(),
    ]
}

#[test]
fn strings_as_kubectl_quotes_and_folds_them() {
    let server = ApiServer::start(Storage::Embedded).unwrap();
    let data: serde_json::Map<String, Value> = tricky_strings().into_iter().enumerate().map(|(index, value)| (format!("s{index:03}"), json!(value))).collect();
    create(&server, &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "tricky"}, "data": data}));
    let keys = [
        "1", "true", "yes", "on", "---", "-a", ".a", "_a", "a.b", &"x".repeat(130), &"y".repeat(200), "A", "a", "B", "b", "a1", "a01",
        "a10", "a9", "a-b", "ab", "a_b", "a.1", "10", "9", "a2", "0", "00", "k1", "k01", "k001", "a0", "a00", "a100", "a0100", "1.5",
        "0x1F", "2024-01-01", "y", "n", "-", "_", "a..b", "Z", "z", "a-1", "a.2", "a_3",
    ];
    let data: serde_json::Map<String, Value> = keys.iter().map(|key| (key.to_string(), json!("v"))).collect();
    create(&server, &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "keys", "labels": {"on": "yes", "app": "1.0"}}, "data": data}));

    let yaml = same(&server, &["get", "cm", "tricky", "-o", "yaml"]);
    assert!(yaml.contains("  s001: \"yes\"\n"), "{yaml}");
    same(&server, &["get", "cm", "keys", "-o", "yaml"]);
    same(&server, &["get", "cm", "-o", "yaml"]);
}

#[test]
fn control_characters_fail_as_in_kubectl() {
    let server = ApiServer::start(Storage::Embedded).unwrap();
    create(&server, &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "del"}, "data": {"v": "a\u{7f}b"}}));
    create(&server, &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "fine"}, "data": {"v": "a"}}));
    same(&server, &["get", "cm", "del", "-o", "yaml"]);
    // One bad object spoils the whole list.
    same(&server, &["get", "cm", "-o", "yaml"]);
}

const THINGS: &str = "apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: things.example.com
spec:
  group: example.com
  names: {plural: things, singular: thing, kind: Thing}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        x-kubernetes-preserve-unknown-fields: true
";

/// Numbers go through Go's int64/float64 and JSON encoder before go-yaml writes them; a custom
/// resource keeps whatever JSON it is given.
#[test]
fn numbers_keys_and_nesting_as_kubectl_writes_them() {
    let server = ApiServer::start(Storage::Embedded).unwrap();
    kubectl_stdin(&server, &["apply", "-f", "-"], THINGS);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !run("kubectl", &server, &["get", "things"]).status.success() {
        assert!(std::time::Instant::now() < deadline, "things never served");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let numbers = r#"{"i": 1, "neg": -5, "zero": 0, "big": 9223372036854775807, "small": -9223372036854775808,
        "big2": 9223372036854775808, "big3": 18446744073709551615, "big4": 100000000000000000000, "f1": 1.0, "f2": 1.5,
        "f3": 1e3, "f4": 1234567.5, "f5": 0.00001, "f6": 0.0001, "f7": 1e21, "f8": -0.0, "f9": 123456.5, "f10": 1.5e300,
        "f11": 12345678901234567890123, "f12": 9300000000000000000, "f13": -2.5e-8, "f14": 0.1, "f15": 3.141592653589793,
        "b": true, "c": false, "n": null}"#;
    let numbers: Value = serde_json::from_str(numbers).unwrap();
    let nested = json!({
        "e": {}, "l": [], "ll": [[1, []], [{}], {"a": [{"b": 1, "c": [2, [3, {"d": "multi\nline\n"}]]}]}],
        "m": [{"name": "a", "value": "yes"}, {"name": "b", "items": [{"x": ""}, "", null]}],
        "deep": {"a": {"b": {"c": {"d": {"e": {"f": "word ".repeat(30)}}}}}},
        "text": [format!("a{}", " b".repeat(60)), "x\ny".to_string()],
    });
    let keys = json!({"": 1, " ": 2, "a b": 3, "a: b": 4, "a\nb": 5, "é": 6, "日本": 7, "\u{1F600}": 8, "#x": 9, "'q'": 10,
        "12:30": 11, "null": 12, "~": 13, "a\tb": 14, "word ".repeat(30): 15, "z".repeat(129): {"k": [1]}, "long\nkey\n": [{}]});
    create(&server, &json!({"apiVersion": "example.com/v1", "kind": "Thing", "metadata": {"name": "t"},
        "numbers": numbers, "nested": nested, "keys": keys}));
    let yaml = same(&server, &["get", "thing", "t", "-o", "yaml"]);
    assert!(yaml.contains("  f4: 1.2345675e+06\n"), "{yaml}");
    same(&server, &["get", "things", "-o", "yaml"]);

    // What kubectl's YAML reader cannot read back from its own JSON: a key over 1022 JSON
    // characters, a key over two lines (a raw NEL breaks a line), a document marker after one.
    let specs = [
        json!({"k".repeat(1022): 1}),
        json!({"k".repeat(1023): 1}),
        json!({"a": "x\u{85}y", "b\u{85}c": 1}),
        json!({"a": "x\u{85}\u{85}y", "b": "\u{85}...\u{85}"}),
        json!({"a": "x\u{85} --- y", "b": "x\u{85}---", "c": "a \u{85}\u{85}  b"}),
    ];
    for (index, spec) in specs.into_iter().enumerate() {
        let name = format!("odd{index}");
        create(&server, &json!({"apiVersion": "example.com/v1", "kind": "Thing", "metadata": {"name": name}, "spec": spec}));
        same(&server, &["get", "thing", &name, "-o", "yaml"]);
    }
}

const OBJECTS: &str = r#"apiVersion: v1
kind: Pod
metadata:
  name: web
  labels: {app: web, tier: "1"}
  annotations: {note: "on", description: "a long description of this pod that goes past the eighty columns of go-yaml's folding width"}
spec:
  containers:
  - name: app
    image: nginx:1.27
    command: ["sh", "-c", "echo hello\nsleep 3600\n"]
    args: ["--port=8080", "yes", "", "--flag: value"]
    env:
    - {name: A, value: "true"}
    - {name: B, value: "0x1F"}
    - {name: C, value: "multi\nline"}
    ports: [{containerPort: 8080, name: http}]
    resources: {limits: {cpu: 500m, memory: 128Mi}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: app
        image: nginx
        env: [{name: X, value: "12:30"}]
"#;

#[test]
fn whole_objects_as_kubectl_prints_them() {
    let server = ApiServer::start(Storage::Embedded).unwrap();
    // `apply` leaves its last-applied annotation: a long JSON string ending in a line break.
    kubectl_stdin(&server, &["apply", "-f", "-"], OBJECTS);
    let pod = same(&server, &["get", "pod", "web", "-o", "yaml"]);
    assert!(pod.contains("    kubectl.kubernetes.io/last-applied-configuration: |\n"), "{pod}");
    same(&server, &["get", "deploy", "web", "-o", "yaml"]);
    same(&server, &["get", "pods,deploy", "-o", "yaml"]);
}
