//! kubectl's everyday output flags beside ctl's on the same apiserver: `--dry-run=client|server`
//! and `-o yaml|json|name` of `create configmap|secret|namespace|job|cronjob`, `label`,
//! `annotate`, `patch`, `apply` and `scale`. Each case compares stdout, stderr and the exit code
//! byte for byte, and the objects both tools stored.

mod support;

use std::path::Path;
use std::process::Output;

use common::testing::{ApiServer, Storage};
use serde_json::Value;
use support::*;

/// A stored object without what differs between two writes of the same object.
fn stored(server: &ApiServer, namespace: &str, kind_name: &str) -> Value {
    let object = object(server, namespace, kind_name);
    // A Job's selector and labels name its uid.
    let uid = object["metadata"]["uid"].as_str().unwrap_or_default().to_string();
    let mut object: Value = serde_json::from_str(&object.to_string().replace(&uid, "_")).unwrap();
    for field in ["uid", "resourceVersion", "creationTimestamp", "managedFields", "namespace"] {
        object["metadata"].as_object_mut().unwrap().remove(field);
    }
    // The last-applied annotation names the namespace too.
    for (_, value) in object["metadata"]["annotations"].as_object_mut().into_iter().flatten() {
        *value = Value::from(value.as_str().unwrap_or_default().replace(&format!("\"namespace\":\"{namespace}\""), "\"namespace\":\"_\""));
    }
    pruned(&object)
}

/// The objects kubectl stored in `k` and ctl in `c` are the same.
fn same_objects(server: &ApiServer, kind_name: &str) {
    assert_eq!(stored(server, "c", kind_name), stored(server, "k", kind_name), "{kind_name} differs");
}

/// `kind_name` is in neither namespace.
fn absent(server: &ApiServer, kind_name: &str) {
    for namespace in ["k", "c"] {
        let output = run("kubectl", server, &["get", kind_name, "-n", namespace]);
        assert!(!output.status.success(), "{kind_name} exists in {namespace}");
    }
}

fn server_with_namespaces() -> ApiServer {
    let server = ApiServer::start(Storage::Embedded).unwrap();
    for namespace in ["k", "c"] {
        stdout_ok(run("kubectl", &server, &["create", "namespace", namespace]));
    }
    server
}

/// The files `--from-file` and `--from-env-file` read, in a temporary directory.
fn data_files() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &[u8]| {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write("app.conf", b"mode: fast\nlevel: 2\n");
    write("html", b"a<b&c");
    write("blob", &[0xff, 0x00, 0x01]);
    write("dir/one", b"1");
    write("dir/two.txt", b"two\n");
    write("dir/sub/ignored", b"directories in a directory are skipped");
    write("app.env", b"\xef\xbb\xbfMODE=fast\n# a comment\n\n  LEVEL=2\nEMPTY=\n");
    write("bad.env", b"1X=y\n");
    // kubectl checks that the certificate and key are a pair.
    let made = std::process::Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj", "/CN=web"])
        .arg("-keyout")
        .arg(dir.path().join("tls.key"))
        .arg("-out")
        .arg(dir.path().join("tls.crt"))
        .output()
        .unwrap();
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    dir
}

fn path<'a>(dir: &'a Path, name: &str) -> String {
    dir.join(name).display().to_string()
}

#[test]
fn create_data_objects_dry_run_and_output_as_kubectl() {
    let server = server_with_namespaces();
    let dir = data_files();
    let dir = dir.path();
    let (file, html, blob, folder, env, bad_env) =
        (path(dir, "app.conf"), path(dir, "html"), path(dir, "blob"), path(dir, "dir"), path(dir, "app.env"), path(dir, "bad.env"));
    let (cert, key) = (path(dir, "tls.crt"), path(dir, "tls.key"));
    let from_file = format!("--from-file={file}");
    let keyed_file = format!("--from-file=conf={file}");
    let from_html = format!("--from-file={html}");
    let from_blob = format!("--from-file={blob}");
    let from_folder = format!("--from-file={folder}");
    let keyed_folder = format!("--from-file=k={folder}");
    let from_env = format!("--from-env-file={env}");
    let from_bad_env = format!("--from-env-file={bad_env}");
    let (cert_flag, key_flag) = (format!("--cert={cert}"), format!("--key={key}"));
    let missing = format!("--from-file={}", path(dir, "missing"));
    let cases: &[&[&str]] = &[
        &["create", "configmap", "settings", "--from-literal=a=b", "--from-literal=c=d=e"],
        &["create", "cm", "settings", &from_file, &keyed_file, &from_folder, &from_html],
        &["create", "configmap", "settings", &from_blob, "--from-literal=x=y", "--append-hash"],
        &["create", "configmap", "settings", &from_env, "--append-hash"],
        &["create", "configmap", "settings", &from_html, "--append-hash"],
        &["create", "secret", "generic", "db", "--from-literal=password=s3cret", &from_folder],
        &["create", "secret", "generic", "db", &from_env, "--type=example.com/custom", "--append-hash"],
        &["create", "secret", "generic", "db", &from_blob, "--append-hash"],
        &["create", "secret", "tls", "web-cert", &cert_flag, &key_flag],
        &["create", "secret", "tls", "web-cert", &cert_flag, &key_flag, "--append-hash"],
        &["create", "secret", "docker-registry", "pull", "--docker-server=registry.example.com", "--docker-username=bot", "--docker-password=p<&>", "--docker-email=bot@example.com"],
        &["create", "secret", "docker-registry", "pull", "--docker-username=bot", "--docker-password=pw", "--append-hash"],
        &["create", "secret", "docker-registry", "pull", "--from-file=.dockerconfigjson=/dev/null"],
        &["create", "job", "once", "--image=busybox", "--", "sh", "-c", "echo hi"],
        &["create", "cronjob", "tick", "--image=busybox", "--schedule=*/5 * * * *", "--restart=Never"],
    ];
    for case in cases {
        for output in [&["--dry-run=client", "-o", "yaml"][..], &["--dry-run=client"], &["--dry-run=client", "-o", "name"], &["--dry-run=client", "-o", "jsonpath={.metadata.name}"]] {
            let args = with_flags(case, output);
            let (_, _, code) = same_in_namespaces(&server, &args);
            assert_eq!(code, Some(0), "{args:?}");
        }
        // JSON: the same object (Go writes fields in its structs' order, serde in the keys').
        let args = with_flags(case, &["--dry-run=client", "-o", "json"]);
        let json = |output: Output| serde_json::from_str::<Value>(&stdout_ok(output)).unwrap();
        assert_eq!(json(ctl(&server, &args)), json(run("kubectl", &server, &args)), "{args:?}");
    }
    // Nothing was stored by any of them.
    absent(&server, "configmap/settings");
    absent(&server, "secret/db");
    // A namespace, without one of its own.
    for output in [&["--dry-run=client", "-o", "yaml"][..], &["--dry-run=client", "-o", "name"], &["--dry-run=server"]] {
        same(&server, &with_flags(&["create", "namespace", "n"], output));
    }
    let refused: &[&[&str]] = &[
        &["create", "configmap", "settings", &from_env, "--from-literal=a=b"],
        &["create", "configmap", "settings", &missing],
        &["create", "configmap", "settings", &keyed_folder],
        &["create", "configmap", "settings", "--from-literal=a"],
        &["create", "configmap", "settings", "--from-literal=a=1", "--from-literal=a=2"],
        &["create", "configmap", "settings", "--from-literal=a/b=1"],
        &["create", "configmap", "settings", "--from-file==x"],
        &["create", "configmap", "settings", "--from-file=k="],
        &["create", "configmap", "settings", &from_bad_env],
        &["create", "secret", "tls", "web-cert", &cert_flag],
        &["create", "secret", "tls", "web-cert", &cert_flag, "--key=/nonexistent/key"],
        &["create", "secret", "docker-registry", "pull", "--docker-username=bot"],
        &["create", "configmap", "settings", "--from-literal=a=b", "--dry-run=sometimes"],
        &["create", "configmap", "settings", "--from-literal=a=b", "-o", "table"],
    ];
    for case in refused {
        let (_, _, code) = same(&server, case);
        assert_eq!(code, Some(1), "{case:?}");
    }
}

#[test]
fn create_data_objects_for_real_and_on_the_server_as_kubectl() {
    let server = server_with_namespaces();
    let dir = data_files();
    let from_folder = format!("--from-file={}", path(dir.path(), "dir"));
    let from_env = format!("--from-env-file={}", path(dir.path(), "app.env"));
    let cases: &[(&[&str], &str)] = &[
        (&["create", "configmap", "settings", "--from-literal=a=b", &from_folder], "configmap/settings"),
        (&["create", "configmap", "hashed", &from_env, "--append-hash"], "configmap/hashed"),
        (&["create", "secret", "generic", "db", "--from-literal=password=s3cret"], "secret/db"),
        (&["create", "secret", "docker-registry", "pull", "--docker-username=bot", "--docker-password=pw"], "secret/pull"),
        (&["create", "job", "once", "--image=busybox"], "job/once"),
        (&["create", "cronjob", "tick", "--image=busybox", "--schedule=*/5 * * * *"], "cronjob/tick"),
    ];
    for (case, _) in cases {
        // The server's dry run prints and stores nothing.
        for output in [&["--dry-run=server"][..], &["--dry-run=server", "-o", "name"]] {
            let (_, _, code) = same_in_namespaces(&server, &with_flags(case, output));
            assert_eq!(code, Some(0), "{case:?}");
        }
    }
    for (case, kind_name) in cases {
        absent(&server, kind_name);
        let (stdout, _, code) = same_in_namespaces(&server, &with_flags(case, &["-o", "name"]));
        assert_eq!(code, Some(0), "{case:?}");
        // A hashed name is the one printed.
        same_objects(&server, stdout.trim());
        // Again: both refuse it, in the same words.
        let (_, _, code) = same_in_namespaces(&server, case);
        assert_eq!(code, Some(1), "{case:?}");
    }
}

#[test]
fn a_dry_run_configmap_piped_to_apply_as_kubectl() {
    let server = server_with_namespaces();
    let dir = data_files();
    let from_file = format!("--from-file={}", path(dir.path(), "app.conf"));
    let from_folder = format!("--from-file={}", path(dir.path(), "dir"));
    for round in 0..2 {
        // The second round changes the data: both tools print `configured`.
        let literal = format!("--from-literal=round={round}");
        let create = ["create", "configmap", "settings", &from_file, &from_folder, &literal, "--dry-run=client", "-o", "yaml"];
        let theirs = stdout_ok(run("kubectl", &server, &create));
        let ours = stdout_ok(ctl(&server, &create));
        assert_eq!(ours, theirs);
        let applied_by_kubectl = kubectl_stdin(&server, &["apply", "-n", "k", "-f", "-"], &theirs);
        let applied_by_ctl = stdout_ok(run_stdin(env!("CARGO_BIN_EXE_ctl"), &server, &["apply", "-n", "c", "-f", "-"], &ours));
        assert_eq!(applied_by_ctl, applied_by_kubectl);
        same_objects(&server, "configmap/settings");
    }
}

/// A ConfigMap and a Deployment in both namespaces, made by kubectl.
fn server_with_objects() -> ApiServer {
    let server = server_with_namespaces();
    for namespace in ["k", "c"] {
        stdout_ok(run("kubectl", &server, &["create", "configmap", "settings", "--from-literal=a=b", "-n", namespace]));
        stdout_ok(run("kubectl", &server, &["label", "configmap", "settings", "tier=web", "-n", namespace]));
        stdout_ok(run("kubectl", &server, &["create", "deployment", "web", "--image=nginx", "-n", namespace]));
    }
    server
}

/// `-o` values whose output does not hold the server's changing fields (resourceVersion, time).
const STABLE_OUTPUTS: &[&[&str]] = &[&["-o", "name"], &["-o", "jsonpath={.metadata.labels}|{.metadata.annotations}|{.data}"], &[]];

/// An object printed as YAML, without the fields two writes differ in.
fn printed_yaml(stdout: &str) -> Value {
    let object: Value = serde_yaml_ng::from_str(stdout).unwrap();
    let mut object: Value = serde_json::from_str(&object.to_string().replace(object["metadata"]["uid"].as_str().unwrap_or("-"), "_")).unwrap();
    for field in ["resourceVersion", "creationTimestamp", "namespace", "uid", "generation"] {
        object["metadata"].as_object_mut().unwrap().remove(field);
    }
    if let Some(status) = object.get_mut("status").and_then(Value::as_object_mut) {
        status.remove("conditions");
    }
    object
}

/// kubectl in `k` and ctl in `c` print the same object as YAML (but for identity and time).
fn same_yaml(server: &ApiServer, args: &[&str]) {
    let theirs = run("kubectl", server, &with_flags(args, &["-n", "k", "-o", "yaml"]));
    let ours = ctl(server, &with_flags(args, &["-n", "c", "-o", "yaml"]));
    assert_eq!(ours.status.code(), theirs.status.code(), "{args:?}: {}", String::from_utf8_lossy(&ours.stderr));
    assert_eq!(printed_yaml(&stdout_ok(ours)), printed_yaml(&stdout_ok(theirs)), "{args:?}");
}

#[test]
fn label_and_annotate_print_and_dry_run_as_kubectl() {
    let server = server_with_objects();
    let cases: &[&[&str]] = &[
        &["label", "configmap", "settings", "team=a"],
        &["label", "configmap", "settings", "tier-"],
        &["label", "configmap", "settings", "tier=db", "--overwrite"],
        &["label", "deployment", "web", "team=a"],
        &["annotate", "configmap", "settings", "owner=me"],
        &["annotate", "configmap/settings", "note=x", "owner-"],
    ];
    for case in cases {
        for dry_run in ["--dry-run=client", "--dry-run=server"] {
            for output in STABLE_OUTPUTS {
                let args = with_flags(case, &[&[dry_run], *output].concat());
                same_in_namespaces(&server, &args);
            }
            same_yaml(&server, &with_flags(case, &[dry_run]));
        }
    }
    // The dry runs changed nothing; the real changes, printed, are the same.
    same_objects(&server, "configmap/settings");
    for case in cases {
        let overwrite: &[&str] = if case.contains(&"--overwrite") { &[] } else { &["--overwrite"] };
        same_yaml(&server, &with_flags(case, overwrite));
        same_objects(&server, "configmap/settings");
        same_objects(&server, "deployment/web");
    }
    same_in_namespaces(&server, &["label", "configmap", "settings", "tier=x", "-o", "name"]);
    same(&server, &["label", "configmap", "settings", "tier=x", "-n", "k", "-o", "table"]);
    same_objects(&server, "configmap/settings");
}

#[test]
fn patch_prints_and_dry_runs_as_kubectl() {
    let server = server_with_objects();
    let cases: &[&[&str]] = &[
        &["patch", "configmap", "settings", "-p", r#"{"data":{"a":"c"}}"#],
        &["patch", "configmap", "settings", "--type=merge", "-p", r#"{"data":{"a":null,"n":"1"}}"#],
        &["patch", "configmap", "settings", "-p", r#"{"data":{"a":"b"}}"#],
        &["patch", "deployment", "web", "-p", r#"{"spec":{"replicas":3}}"#],
        &["patch", "configmap", "settings", "--type=json", "-p", r#"[{"op":"add","path":"/data/j","value":"v"}]"#],
    ];
    for case in cases {
        for dry_run in ["--dry-run=client", "--dry-run=server"] {
            for output in STABLE_OUTPUTS {
                same_in_namespaces(&server, &with_flags(case, &[&[dry_run], *output].concat()));
            }
        }
        same_yaml(&server, &with_flags(case, &["--dry-run=server"]));
        if !case.contains(&"deployment") {
            // A client dry run of a Deployment has no new generation; the server's has.
            same_yaml(&server, &with_flags(case, &["--dry-run=client"]));
        }
    }
    same_objects(&server, "configmap/settings");
    same_objects(&server, "deployment/web");
    for case in cases {
        same_yaml(&server, case);
        same_objects(&server, "configmap/settings");
        same_objects(&server, "deployment/web");
    }
    same(&server, &["patch", "configmap", "settings", "-n", "k", "-p", "{}", "-o", "table"]);
}

/// Runs kubectl in `k` and ctl in `c` with `manifest` on stdin; both show the same.
fn same_stdin(server: &ApiServer, args: &[&str], manifest: &str) -> (String, String, Option<i32>) {
    let theirs = shown(&run_stdin("kubectl", server, &with_flags(args, &["-n", "k"]), manifest));
    let (stdout, stderr, code) = shown(&run_stdin(env!("CARGO_BIN_EXE_ctl"), server, &with_flags(args, &["-n", "c"]), manifest));
    let ours = (stdout.replace("namespace: c\n", "namespace: k\n"), stderr, code);
    assert_eq!(ours, theirs, "ctl {args:?} differs from kubectl");
    ours
}

const CONFIG_MAP: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  a: b\n";
const CHANGED_CONFIG_MAP: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  a: c\n";
const NEW_CONFIG_MAP: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: fresh\ndata:\n  a: b\n";

#[test]
fn apply_prints_objects_dry_runs_and_warns_as_kubectl() {
    let server = server_with_objects();
    // Made by `create`, so without the last-applied annotation: kubectl warns, and so does ctl.
    for manifest in [CONFIG_MAP, CHANGED_CONFIG_MAP, NEW_CONFIG_MAP] {
        for flags in [&["--dry-run=client"][..], &["--dry-run=server"], &["--dry-run=client", "-o", "name"], &["--dry-run=server", "-o", "name"]] {
            same_stdin(&server, &[&["apply", "-f", "-"], flags].concat(), manifest);
        }
    }
    absent(&server, "configmap/fresh");
    same_objects(&server, "configmap/settings");
    let (stdout, stderr, _) = same_stdin(&server, &["apply", "-f", "-"], CHANGED_CONFIG_MAP);
    assert_eq!(stdout, "configmap/settings configured\n");
    assert!(stderr.starts_with("Warning: resource configmaps/settings is missing the kubectl.kubernetes.io/last-applied-configuration annotation"), "{stderr}");
    same_objects(&server, "configmap/settings");
    // Now annotated: no warning; and -o prints the applied objects.
    for manifest in [CONFIG_MAP, NEW_CONFIG_MAP, NEW_CONFIG_MAP] {
        let theirs = run_stdin("kubectl", &server, &["apply", "-f", "-", "-n", "k", "-o", "yaml"], manifest);
        let ours = run_stdin(env!("CARGO_BIN_EXE_ctl"), &server, &["apply", "-f", "-", "-n", "c", "-o", "yaml"], manifest);
        assert_eq!(ours.stderr, theirs.stderr);
        let ours = printed_yaml(&stdout_ok(ours));
        let mut theirs = printed_yaml(&stdout_ok(theirs));
        let annotation = &mut theirs["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"];
        *annotation = Value::from(annotation.as_str().unwrap().replace("\"namespace\":\"k\"", "\"namespace\":\"c\""));
        assert_eq!(ours, theirs);
        same_objects(&server, "configmap/settings");
        if manifest == NEW_CONFIG_MAP {
            same_objects(&server, "configmap/fresh");
        }
    }
    same_stdin(&server, &["apply", "-f", "-", "-o", "name"], CHANGED_CONFIG_MAP);
    same_stdin(&server, &["apply", "-f", "-", "--server-side", "--dry-run=client"], CHANGED_CONFIG_MAP);
    same_stdin(&server, &["apply", "-f", "-", "--server-side", "--force-conflicts", "-o", "name"], CONFIG_MAP);
    same_objects(&server, "configmap/settings");
}

#[test]
fn scale_prints_and_dry_runs_as_kubectl() {
    let server = server_with_objects();
    for flags in [&["--dry-run=client"][..], &["--dry-run=server"], &["--dry-run=client", "-o", "name"], &["-o", "name"], &["--dry-run=server", "-o", "jsonpath={.spec.replicas}"]] {
        same_in_namespaces(&server, &[&["scale", "deployment/web", "--replicas=2"], flags].concat());
        same_objects(&server, "deployment/web");
    }
    same_yaml(&server, &["scale", "deployment", "web", "--replicas=3"]);
    same_objects(&server, "deployment/web");
    same_yaml(&server, &["scale", "deployment", "web", "--replicas=1", "--dry-run=client"]);
    same_objects(&server, "deployment/web");
}

/// A kubeconfig of two contexts, one of whose cluster and user name certificate files.
const KUBECONFIG: &str = "apiVersion: v1
kind: Config
clusters:
- cluster:
    server: https://a.example:6443
    certificate-authority: ca.crt
  name: a
- cluster:
    server: https://b.example:6443
    certificate-authority-data: Q0E=
  name: b
contexts:
- context: {cluster: a, user: ua, namespace: dev}
  name: ca
- context: {cluster: b, user: ub}
  name: cb
current-context: ca
users:
- name: ua
  user:
    client-certificate: c.crt
    client-key: c.key
- name: ub
  user:
    token: secret
";

#[test]
fn config_view_minifies_flattens_and_prints_as_kubectl() {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in [("config", KUBECONFIG), ("ca.crt", "CA"), ("c.crt", "CERT"), ("c.key", "KEY"), ("empty", "apiVersion: v1\nkind: Config\n")] {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let kubeconfig = format!("--kubeconfig={}", dir.path().join("config").display());
    let empty = format!("--kubeconfig={}", dir.path().join("empty").display());
    let run_in = |binary: &str, args: &[&str]| {
        std::process::Command::new(binary).current_dir(dir.path()).args(args).output().unwrap()
    };
    let cases: &[&[&str]] = &[
        &[&kubeconfig, "config", "view"],
        &[&kubeconfig, "config", "view", "--minify"],
        &[&kubeconfig, "config", "view", "--minify", "--context=cb"],
        &[&kubeconfig, "config", "view", "--minify", "--raw", "--context=cb"],
        &[&kubeconfig, "config", "view", "--minify", "--context=nope"],
        &[&kubeconfig, "config", "view", "--flatten"],
        &[&kubeconfig, "config", "view", "--minify", "--flatten"],
        &[&kubeconfig, "config", "view", "-o", "yaml", "--raw"],
        &[&kubeconfig, "config", "view", "-o", "jsonpath={.contexts[*].name}"],
        &[&kubeconfig, "config", "view", "--minify", "-o", "jsonpath={.clusters[0].cluster.server}"],
        &[&kubeconfig, "config", "view", "-o", "jsonpath={.users[1].user}"],
        &[&kubeconfig, "config", "view", "-o", "table"],
        &[&empty, "config", "view", "--minify"],
        &[&empty, "config", "view", "-o", "jsonpath={.current-context}"],
    ];
    for args in cases {
        let ours = shown(&run_in(env!("CARGO_BIN_EXE_ctl"), args));
        let theirs = shown(&run_in("kubectl", args));
        assert_eq!(ours, theirs, "ctl {args:?} differs from kubectl");
    }
    // JSON: the same document (Go writes fields in its structs' order, serde in the keys').
    for args in [&[&kubeconfig, "config", "view", "-o", "json"][..], &[&kubeconfig, "config", "view", "--minify", "--flatten", "-o", "json"]] {
        let json = |output: Output| serde_json::from_str::<Value>(&stdout_ok(output)).unwrap();
        assert_eq!(json(run_in(env!("CARGO_BIN_EXE_ctl"), args)), json(run_in("kubectl", args)), "{args:?}");
    }
}

#[test]
fn get_raw_prints_the_servers_bytes_as_kubectl() {
    let server = server_with_namespaces();
    for path in ["/readyz", "/livez", "/version", "/api/v1/namespaces", "/api/v1/namespaces/k", "/api", "/apis/apps/v1", "/nonexistent", "/api/v1/namespaces/missing"] {
        same(&server, &["get", "--raw", path]);
    }
    same(&server, &["get", "pods", "--raw", "/readyz"]);
    // Counters change from one request to the next: the same metrics, each a line.
    let names = |output: Output| {
        let text = stdout_ok(output);
        let mut names: Vec<String> = text.lines().filter(|line| line.starts_with("# TYPE ")).map(str::to_string).collect();
        names.sort();
        names
    };
    let ours = names(ctl(&server, &["get", "--raw", "/metrics"]));
    assert!(!ours.is_empty());
    assert_eq!(ours, names(run("kubectl", &server, &["get", "--raw", "/metrics"])));
}

#[test]
fn create_from_files_prints_and_dry_runs_as_kubectl() {
    let server = server_with_namespaces();
    for flags in [&["--dry-run=client"][..], &["--dry-run=client", "-o", "yaml"], &["--dry-run=client", "-o", "name"], &["--dry-run=server"], &["--dry-run=server", "-o", "name"]] {
        same_stdin(&server, &[&["create", "-f", "-"], flags].concat(), CONFIG_MAP);
    }
    absent(&server, "configmap/settings");
    same_stdin(&server, &["create", "-f", "-", "-o", "jsonpath={.data}"], CONFIG_MAP);
    same_objects(&server, "configmap/settings");
    same_stdin(&server, &["create", "-f", "-", "-o", "name"], NEW_CONFIG_MAP);
    same_objects(&server, "configmap/fresh");
}
