//! `ctl get` beside kubectl on one apiserver: `-o jsonpath`, `custom-columns`, label columns,
//! `--no-headers`, `--sort-by`, the `TYPE/NAME` forms and `get all`.

mod support;
use support::*;

use common::testing::{ApiServer, Storage};

const FIXTURE: &str = r#"
apiVersion: v1
kind: Pod
metadata: {name: web-10, labels: {app: web, tier: front, app.kubernetes.io/name: shop}, annotations: {note: "a<b&c"}}
spec:
  containers: [{name: app, image: "nginx:1", ports: [{containerPort: 80}]}, {name: side, image: busybox}]
---
apiVersion: v1
kind: Pod
metadata: {name: web-9, labels: {app: web}}
spec:
  containers: [{name: app, image: "nginx:2"}]
---
apiVersion: v1
kind: Pod
metadata: {name: db-1}
spec:
  containers: [{name: db, image: postgres}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: conf, labels: {app: web, v: a10}}
data: {a: "1", b: "x y"}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: aconf, labels: {v: a9}}
data: {a: "1"}
"#;

fn server_with_fixture() -> ApiServer {
    let server = ApiServer::start(Storage::Embedded).unwrap();
    kubectl_stdin(&server, &["apply", "-f", "-"], FIXTURE);
    server
}

/// Runs kubectl and ctl with the same arguments; their status, stderr and (through `shown`)
/// stdout must be the same.
fn same_with(server: &ApiServer, args: &[&str], shown: impl Fn(&str) -> String) {
    let theirs = run("kubectl", server, args);
    let ours = ctl(server, args);
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    assert_eq!(ours.status.code(), theirs.status.code(), "status of {args:?}; kubectl said {}, ctl {}", text(&theirs.stderr), text(&ours.stderr));
    assert_eq!(shown(&text(&ours.stdout)), shown(&text(&theirs.stdout)), "stdout of {args:?}");
    assert_eq!(text(&ours.stderr), text(&theirs.stderr), "stderr of {args:?}");
}

/// Byte for byte.
fn same(server: &ApiServer, args: &[&str]) {
    same_with(server, args, str::to_string);
}

/// Tables, cell by cell with ages blanked; without a header line to find the cells by, word by
/// word with every age blanked.
fn same_table(server: &ApiServer, args: &[&str]) {
    if args.contains(&"--no-headers") {
        same_with(server, args, words_without_ages);
    } else {
        same_with(server, args, without_ages);
    }
}

fn words_without_ages(table: &str) -> String {
    let is_age = |word: &str| {
        word.starts_with(|character: char| character.is_ascii_digit())
            && word.ends_with(['s', 'm', 'h', 'd', 'y'])
            && word.chars().all(|character| character.is_ascii_digit() || "smhdy".contains(character))
    };
    table
        .lines()
        .map(|line| line.split_whitespace().map(|word| if is_age(word) { "AGE" } else { word }).collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn jsonpath_prints_as_kubectl() {
    let server = server_with_fixture();
    for template in [
        "{.items[*].metadata.name}",
        r#"{range .items[*]}{.metadata.name}{"\t"}{.spec.containers[*].image}{"\n"}{end}"#,
        "{.items[0].metadata.labels}",
        "{.items[-1].metadata.name}",
        "{.items[0:2].metadata.name}",
        "{.items[::2].metadata.name}",
        "{.items[0,2].metadata.name}",
        "{..image}",
        r#"{.items[?(@.metadata.name=="web-9")].spec.containers[0]}"#,
        r#"{.items[*].spec.containers[?(@.image!="nginx:1")].name}"#,
        "{.items[?(@.metadata.labels.tier)].metadata.name}",
        r"{.items[*].metadata.labels.app\.kubernetes\.io/name}",
        "{.items[*].metadata['name']}",
        "{.items[1].metadata.annotations.note}",
        "{.items[1].spec.containers[*].ports}",
        "{.items[1].spec.containers[0].ports[0].containerPort}",
        "x{$.kind}y {.items[*].nothere}",
        "{@}",
        "{.items[0].metadata.name",
        r#"{range .items[*]}[{range .spec.containers[*]}{.name},{end}]{end}"#,
    ] {
        same(&server, &["get", "pods", "-o", &format!("jsonpath={template}")]);
    }
    // One object named is evaluated as itself, several as a List.
    same(&server, &["get", "pods", "web-9", "-o", "jsonpath={.kind} {.metadata.name}"]);
    same(&server, &["get", "pods", "web-9", "db-1", "-o", "jsonpath={.kind} {.items[*].metadata.name}"]);
    same(&server, &["get", "pods,cm", "-o", "jsonpath={.items[*].kind}"]);
    same(&server, &["get", "pods", "-o", "jsonpath"]);
    let file = server_file(&server, "template", r#"{range .items[*]}{.metadata.name}{"\n"}{end}"#);
    same(&server, &["get", "cm", "-o", &format!("jsonpath-file={file}")]);
}

#[test]
fn jsonpath_errors_read_as_kubectl() {
    let server = server_with_fixture();
    for template in [
        "{.items[5]}",
        "{.items[*].metadata.labels[*]}",
        "{.items[0].metadata[?(@.x)]}",
        "{.items[?(@.spec.terminationGracePeriodSeconds>2.5)].metadata.name}",
        "{.items[0:1:0]}",
        "{.kind[0]}",
        "{.items[*]}x{end}",
        "{nothing}",
    ] {
        let args = ["get", "pods", "-o", &format!("jsonpath={template}")];
        let theirs = run("kubectl", &server, &args);
        let ours = ctl(&server, &args);
        assert_eq!(ours.status.code(), theirs.status.code());
        // All but the dump of the object, which kubectl writes in Go's syntax.
        let head = |bytes: &[u8]| String::from_utf8_lossy(bytes).lines().take(4).collect::<Vec<_>>().join("\n");
        assert_eq!(head(&ours.stderr), head(&theirs.stderr), "{template}");
    }
}

fn server_file(server: &ApiServer, name: &str, text: &str) -> String {
    let path = server.kubeconfig().with_file_name(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

#[test]
fn custom_columns_print_as_kubectl() {
    let server = server_with_fixture();
    for spec in [
        "NAME:.metadata.name,IMAGES:.spec.containers[*].image,L:.metadata.labels,X:.nothere",
        "A:{.metadata.name}",
        "N:metadata.name,P:spec.containers[0].ports",
        r#"N:.metadata.name,C:{.spec.containers[?(@.name=="app")].image}"#,
        "A:.x:y",
        "bad",
        "A:{.metadata.name}{.kind}",
        "A:.metadata.name,,B:.kind",
    ] {
        same(&server, &["get", "pods", "-o", &format!("custom-columns={spec}")]);
        same(&server, &["get", "pods", "-o", &format!("custom-columns={spec}"), "--no-headers"]);
    }
    same(&server, &["get", "pod", "web-9", "-o", "custom-columns=N:.metadata.name"]);
    same(&server, &["get", "pods", "-l", "app=none", "-o", "custom-columns=N:.metadata.name"]);
    let file = server_file(&server, "columns", "NAME   IMAGE\n.metadata.name .spec.containers[0].image\n");
    same(&server, &["get", "pods", "-o", &format!("custom-columns-file={file}")]);
    // kubectl prints a file's headers even with --no-headers.
    same(&server, &["get", "pods", "-o", &format!("custom-columns-file={file}"), "--no-headers"]);
    let file = server_file(&server, "bad-columns", "A B\n.x\n");
    same(&server, &["get", "pods", "-o", &format!("custom-columns-file={file}")]);
}

#[test]
fn label_columns_and_headers_as_kubectl() {
    let server = server_with_fixture();
    for args in [
        &["get", "pods", "--show-labels"][..],
        &["get", "pods", "-L", "app,app.kubernetes.io/name,x", "--no-headers"],
        &["get", "pods", "-L", "app", "-L", "tier", "-o", "wide", "-A"],
        &["get", "pods,cm", "--show-labels"],
        &["get", "pods,cm", "--no-headers"],
        &["get", "pods", "web-9", "--show-labels", "-L", "app"],
        &["get", "cm", "--no-headers", "-A"],
        &["get", "namespaces,pods", "-A", "--show-labels"],
        &["get", "pods,namespaces", "-A", "-L", "kubernetes.io/metadata.name"],
    ] {
        same_table(&server, args);
    }
}

#[test]
fn names_and_types_as_kubectl() {
    let server = server_with_fixture();
    for args in [
        &["get", "pod/web-9"][..],
        &["get", "pod/web-9", "pod/db-1"],
        &["get", "pod/web-9", "cm/conf", "pod/db-1"],
        &["get", "pods", "web-9", "db-1"],
        &["get", "pods,cm", "web-9"],
        &["get", "pods", "web-9", "nothere"],
        &["get", "pod/nothere"],
        &["get", "pods", "pod/web-9"],
        &["get", "pod/"],
        &["get", "pods,cm", "-l", "app=web"],
        &["get", "pods,svc", "-l", "tier=front"],
        &["get", "pods,svc", "-l", "app=none"],
        &["get", "pods", "web-9", "-l", "app=web"],
        &["get", "configmaps/conf", "-o", "name"],
        &["get", "pods,cm", "-l", "app=web", "-o", "name"],
        &["get", "pods", "-l", "app=none", "-o", "name"],
        &["get"],
        &["get", "foo"],
        &["get", "pods,foo"],
        &["get", "all/x"],
        &["get", "pods,all"],
        &["get", "pods", "-o", "name", "--sort-by=.metadata.name", "web-9", "db-1"],
        &["get", "pod", "nothere", "--ignore-not-found"],
        &["get", "pods", "web-9", "nothere", "--ignore-not-found"],
        &["get", "pod/nothere", "-o", "name", "--ignore-not-found"],
        &["get", "pods", "-l", "app=none", "--ignore-not-found"],
        &["get", "pod", "nothere", "-o", "json", "--ignore-not-found"],
    ] {
        same_table(&server, args);
    }
    // `ctl get pods,cm -o name | xargs ctl get`
    let names = stdout_ok(ctl(&server, &["get", "pods,cm", "-o", "name"]));
    let mut args = vec!["get"];
    args.extend(names.lines());
    assert!(args.len() > 4, "{names}");
    same_table(&server, &args);
    args.extend(["-o", "name"]);
    same(&server, &args);
}

#[test]
fn sort_by_as_kubectl() {
    let server = server_with_fixture();
    for args in [
        &["get", "pods", "--sort-by=.metadata.name"][..],
        &["get", "pods", "--sort-by={.spec.containers[0].image}", "-o", "custom-columns=N:.metadata.name"],
        &["get", "pods", "--sort-by=.metadata.labels.tier"],
        &["get", "cm", "--sort-by=.metadata.labels.v", "-L", "v"],
        &["get", "cm", "--sort-by=.metadata.labels.v", "-o", "name"],
        &["get", "cm,pods", "-A", "--sort-by=.metadata.name", "-o", "name"],
        &["get", "pods", "-A", "--sort-by=.metadata.creationTimestamp", "-o", "wide"],
        &["get", "pods", "--sort-by=.spec.nothere"],
    ] {
        same_table(&server, args);
    }
}

#[test]
fn get_all_as_kubectl() {
    let server = server_with_fixture();
    stdout_ok(run("kubectl", &server, &["create", "deployment", "d", "--image=nginx"]));
    stdout_ok(run("kubectl", &server, &["create", "service", "clusterip", "s", "--tcp=80"]));
    for args in [&["get", "all"][..], &["get", "all,cm"], &["get", "all", "-A", "--no-headers"], &["get", "all", "-o", "name"]] {
        // The Service's cluster IP is the same for both; only ages differ.
        same_table(&server, args);
    }
}
