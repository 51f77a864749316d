//! `ctl` as a process against the real apiserver, beside the real kubectl on the same objects.

use std::process::{Command, Output};

use common::testing::{ApiServer, Storage};

fn run(binary: &str, server: &ApiServer, args: &[&str]) -> Output {
    Command::new(binary)
        .arg(format!("--kubeconfig={}", server.kubeconfig().display()))
        .args(args)
        .output()
        .unwrap_or_else(|err| panic!("cannot run {binary}: {err}"))
}

fn ctl(server: &ApiServer, args: &[&str]) -> Output {
    run(env!("CARGO_BIN_EXE_ctl"), server, args)
}

fn stdout_ok(output: Output) -> String {
    assert!(output.status.success(), "failed: {}\n{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Tables with the AGE column blanked, so that two runs a second apart compare equal.
fn without_ages(table: &str) -> String {
    table
        .lines()
        .map(|line| {
            let mut words: Vec<&str> = line.split("   ").collect();
            if let Some(last) = words.last_mut() {
                if last.trim().chars().next().is_some_and(|c| c.is_ascii_digit()) && last.trim().ends_with(['s', 'm', 'h', 'd']) {
                    *last = "AGE";
                }
            }
            words.join("   ")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn get_prints_what_kubectl_prints() {
    let server = ApiServer::start(Storage::Embedded).unwrap();
    let demo = concat!(env!("CARGO_MANIFEST_DIR"), "/../manifests/demo/app.yaml");
    stdout_ok(run("kubectl", &server, &["create", "namespace", "demo"]));
    stdout_ok(run("kubectl", &server, &["apply", "-n", "demo", "-f", demo]));

    for args in [
        &["get", "deploy,svc,cm,secret", "-n", "demo"][..],
        &["get", "deployments", "-n", "demo", "-o", "wide"][..],
        &["get", "cm", "example-config", "-n", "demo"][..],
        &["get", "ns"][..],
        &["get", "svc", "-A"][..],
        &["get", "deploy,cm", "-n", "demo", "-o", "name"][..],
    ] {
        let ours = stdout_ok(ctl(&server, args));
        let theirs = stdout_ok(run("kubectl", &server, args));
        assert_eq!(without_ages(&ours), without_ages(&theirs), "ctl {args:?} differs from kubectl");
    }

    let json: serde_json::Value = serde_json::from_str(&stdout_ok(ctl(&server, &["get", "cm", "example-config", "-n", "demo", "-o", "json"]))).unwrap();
    assert_eq!(json["data"]["url"], "example-service");
    let yaml = stdout_ok(ctl(&server, &["get", "secrets", "-n", "demo", "-o", "yaml"]));
    assert!(yaml.contains("kind: List") && yaml.contains("name: example-secret"), "{yaml}");

    let none = ctl(&server, &["get", "pods", "-n", "demo"]);
    assert!(none.status.success());
    assert_eq!(String::from_utf8_lossy(&none.stderr).trim(), "No resources found in demo namespace.");

    let missing = ctl(&server, &["get", "cm", "missing", "-n", "demo"]);
    let kubectl_missing = run("kubectl", &server, &["get", "cm", "missing", "-n", "demo"]);
    assert!(!missing.status.success());
    assert_eq!(String::from_utf8_lossy(&missing.stderr), String::from_utf8_lossy(&kubectl_missing.stderr));

    let unknown = ctl(&server, &["get", "widgets"]);
    assert!(!unknown.status.success());
    assert_eq!(String::from_utf8_lossy(&unknown.stderr).trim(), "error: the server doesn't have a resource type \"widgets\"");
}

#[test]
fn config_and_version() {
    let server = ApiServer::start(Storage::Embedded).unwrap();
    assert_eq!(stdout_ok(ctl(&server, &["config", "current-context"])).trim(), "test");
    let contexts = stdout_ok(ctl(&server, &["config", "get-contexts"]));
    let kubectl_contexts = stdout_ok(run("kubectl", &server, &["config", "get-contexts"]));
    assert_eq!(contexts, kubectl_contexts);
    let wrong = ctl(&server, &["config", "use-context", "nope"]);
    assert!(!wrong.status.success());
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("no context exists with the name: \"nope\""));
    assert_eq!(stdout_ok(ctl(&server, &["config", "use-context", "test"])).trim(), "Switched to context \"test\".");
    let view = stdout_ok(ctl(&server, &["config", "view"]));
    assert!(view.contains(&server.url()), "{view}");
    let version = stdout_ok(ctl(&server, &["version"]));
    assert!(version.contains("Server Version: v1.33.0"), "{version}");
}
