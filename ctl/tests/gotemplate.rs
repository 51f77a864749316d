//! `ctl get -o go-template` (and `template`, `go-template-file`, `templatefile`) beside kubectl
//! on one apiserver, byte for byte: fields, missing keys, Go's `%v` of maps, lists and numbers,
//! `range`/`if`/`with`, variables, pipes, trim markers, builtins, kubectl's `base64decode`, and
//! the parse and execution errors.

mod support;
use support::*;

use common::testing::{ApiServer, Storage};

const FIXTURE: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, labels: {app: web, tier: front}}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: app, image: "nginx:1"}, {name: side, image: busybox}]}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: conf, labels: {app: web}}
data: {b: "x y", a: "1"}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: aconf}
data: {a: "2"}
---
apiVersion: v1
kind: Secret
metadata: {name: creds}
data: {user: YWRtaW4=, password: czNjcmV0}
"#;

/// kubectl and ctl with the same arguments: the same status, stdout and stderr.
fn same(server: &ApiServer, args: &[&str]) {
    let theirs = run("kubectl", server, args);
    let ours = ctl(server, args);
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    assert_eq!(text(&ours.stdout), text(&theirs.stdout), "stdout of {args:?}");
    assert_eq!(text(&ours.stderr), text(&theirs.stderr), "stderr of {args:?}");
    assert_eq!(ours.status.code(), theirs.status.code(), "status of {args:?}");
}

#[test]
fn go_templates_print_as_kubectl_prints_them() {
    let server = ApiServer::start(Storage::Embedded).unwrap();
    kubectl_stdin(&server, &["apply", "-f", "-"], FIXTURE);
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), "{{range .items}}{{.metadata.name}}\n{{end}}").unwrap();
    let from_file = format!("go-template-file={}", file.path().display());
    let templatefile = format!("templatefile={}", file.path().display());
    let deployment = [
        "{{.metadata.name}} {{.spec.replicas}} {{.metadata.nope}} {{.status.nope.deeper}} {{.}}",
        "{{.metadata.labels}} {{.spec.template.spec.containers}} {{.spec.template.metadata.creationTimestamp}}",
        r#"{{if eq .spec.replicas 3}}three{{else}}other{{end}} {{with .metadata.labels}}{{index . "app"}}{{end}}{{with .nope}}x{{else}}none{{end}}"#,
        r#"{{printf "%s has %d containers" .metadata.name (len .spec.template.spec.containers)}} {{.metadata.name | printf "%q"}}"#,
        r#"{{range $i, $c := .spec.template.spec.containers}}{{$i}}:{{$c.name}}={{.image}} {{end}}"#,
        r#"{{and .metadata.labels (not .spec.paused)}} {{or .spec.paused "no"}} {{ne .kind "Pod"}} {{lt .spec.replicas 5}}"#,
        "{{- $n := .metadata.name -}}\n  {{ $n }}  {{- /* comment */ -}}  !",
        r#"{{eq .nope 3}} {{ne .nope .nope2}} {{eq .metadata.creationTimestamp .nope}} {{exists . "kind"}} {{exists .metadata "nope"}}"#,
        r#"{{printf "%d|%s|%s|%5.2f|%-4s|%04d|%.2s" 2.5 1 .nope 3.14159 "ab" 7 "abc"}} {{printf "%s"}} {{printf "%s" "a" 2}} {{.nope | printf "%v"}}"#,
        "{{range .spec.replicas}}{{.}}{{end}}",
        "{{and}}",
        "{{if}}x{{end}}",
        "{{.metadata.name.x}}",
        "{{index .metadata 3}}",
        "{{.metadata.name}",
        "{{nope .metadata}}",
        "{{end}}",
    ];
    for template in deployment {
        same(&server, &["get", "deployment", "web", "-o", &format!("go-template={template}")]);
    }
    same(&server, &["get", "deployment/web", "-o", "template={{.kind}}"]);
    for template in [
        "{{range .items}}{{.metadata.name}} {{.data}}{{\"\\n\"}}{{end}}",
        "{{- range .items -}} {{ .metadata.name }} {{- end }} {{len .items}}",
        "{{range $k, $v := (index .items 1).data}}{{$k}}={{$v}};{{else}}empty{{end}}",
    ] {
        same(&server, &["get", "configmaps", "-o", &format!("go-template={template}")]);
    }
    same(&server, &["get", "secret", "creds", "-o", "go-template={{range $k, $v := .data}}{{$k}}:{{$v | base64decode}};{{end}}"]);
    same(&server, &["get", "configmaps", "-o", &from_file]);
    same(&server, &["get", "configmaps", "-o", &templatefile]);
    same(&server, &["get", "configmaps", "-o", "go-template-file=/nonexistent/t"]);
    same(&server, &["get", "configmaps", "-o", "go-template="]);
    same(&server, &["create", "deployment", "new", "--image=a", "--replicas=2", "--dry-run=client", "-o", "go-template={{.spec.replicas}} {{.metadata.name}} {{.spec.template.spec.containers}}"]);
}

/// A server that refuses the connection is named as kubectl names it (kubectl's klog lines
/// before it aside).
#[test]
fn a_refused_connection_names_the_server() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let kubeconfig = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        kubeconfig.path(),
        format!(
            "apiVersion: v1\nkind: Config\nclusters: [{{name: c, cluster: {{server: \"https://127.0.0.1:{port}\"}}}}]\ncontexts: [{{name: c, context: {{cluster: c, user: u}}}}]\nusers: [{{name: u, user: {{token: x}}}}]\ncurrent-context: c\n"
        ),
    )
    .unwrap();
    let run = |binary: &str| {
        let output = std::process::Command::new(binary).arg(format!("--kubeconfig={}", kubeconfig.path().display())).args(["get", "pods"]).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        (output.status.code(), stderr.lines().last().unwrap_or_default().to_string())
    };
    let theirs = run("kubectl");
    assert_eq!(theirs.1, format!("The connection to the server 127.0.0.1:{port} was refused - did you specify the right host or port?"));
    assert_eq!(run(env!("CARGO_BIN_EXE_ctl")), theirs);
}
