//! `ctl` as a process against the real apiserver, beside the real kubectl on the same objects.

mod support;

use std::process::Command;

use common::testing::{ApiServer, Storage};
use support::*;

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
        &["get", "cm,secret", "-n", "demo", "-l", "app!=nothing"][..],
        &["get", "deploy", "-A", "-l", "app in (example,other)"][..],
        &["get", "cm", "-A", "--field-selector", "metadata.name=example-config"][..],
        &["get", "po,no,rs,ep,ns", "-A"][..],
        &["get", "no,ns", "-A"][..],
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

fn stored(server: &ApiServer, namespace: &str) -> Vec<serde_json::Value> {
    let text = stdout_ok(run("kubectl", server, &["get", "deploy,svc,cm,secret", "-n", namespace, "-o", "json"]));
    let list: serde_json::Value = serde_json::from_str(&text).unwrap();
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| {
            let mut item = item.clone();
            let metadata = item["metadata"].as_object_mut().unwrap();
            for field in ["uid", "creationTimestamp", "resourceVersion", "namespace"] {
                metadata.remove(field);
            }
            if let Some(annotations) = metadata.get_mut("annotations").and_then(|a| a.as_object_mut()) {
                if let Some(applied) = annotations.get_mut("kubectl.kubernetes.io/last-applied-configuration") {
                    *applied = serde_json::Value::String(applied.as_str().unwrap().replace(&format!("\"namespace\":\"{namespace}\""), ""));
                }
            }
            if let Some(spec) = item.get_mut("spec").and_then(|s| s.as_object_mut()) {
                spec.remove("clusterIP");
                spec.remove("clusterIPs");
                // Allocated, so different per object, like the ClusterIP.
                for port in spec.get_mut("ports").and_then(|p| p.as_array_mut()).into_iter().flatten() {
                    if let Some(port) = port.as_object_mut() {
                        port.remove("nodePort");
                    }
                }
            }
            item
        })
        .collect()
}

#[test]
fn apply_and_delete_interoperate_with_kubectl() {
    let server = ApiServer::start(Storage::Embedded).unwrap();
    let demo = concat!(env!("CARGO_MANIFEST_DIR"), "/../manifests/demo/app.yaml");
    stdout_ok(run("kubectl", &server, &["create", "namespace", "by-ctl"]));
    stdout_ok(run("kubectl", &server, &["create", "namespace", "by-kubectl"]));

    let ours = stdout_ok(ctl(&server, &["apply", "-n", "by-ctl", "-f", demo]));
    let theirs = stdout_ok(run("kubectl", &server, &["apply", "-n", "by-kubectl", "-f", demo]));
    assert_eq!(ours, theirs);
    assert_eq!(stored(&server, "by-ctl"), stored(&server, "by-kubectl"), "ctl and kubectl stored different objects");

    // Each reads what the other wrote: re-applying with the other tool changes nothing. (kubectl
    // may still send a patch, e.g. `$retainKeys` for the Deployment's defaulted strategy, and so
    // print "configured"; what is stored must not change.)
    let before = stored(&server, "by-ctl");
    stdout_ok(run("kubectl", &server, &["apply", "-n", "by-ctl", "-f", demo]));
    assert_eq!(stored(&server, "by-ctl"), before, "kubectl changed what ctl applied");
    let again = stdout_ok(ctl(&server, &["apply", "-n", "by-kubectl", "-f", demo]));
    assert!(again.lines().all(|line| line.ends_with(" unchanged")), "{again}");

    // A changed manifest patches, and a removed key is removed.
    let dir = tempfile::tempdir().unwrap();
    let changed = std::fs::read_to_string(demo).unwrap().replace("replicas: 2", "replicas: 3").replace("  url: example-service\n", "");
    let changed_path = dir.path().join("app.yaml");
    std::fs::write(&changed_path, changed).unwrap();
    let changed_path = changed_path.to_str().unwrap();
    let ours = stdout_ok(ctl(&server, &["apply", "-n", "by-ctl", "-f", changed_path]));
    let theirs = stdout_ok(run("kubectl", &server, &["apply", "-n", "by-kubectl", "-f", changed_path]));
    assert_eq!(ours, theirs);
    assert!(ours.contains("configmap/example-config configured") && ours.contains("deployment.apps/example configured"), "{ours}");
    assert_eq!(stored(&server, "by-ctl"), stored(&server, "by-kubectl"));

    // A manifest indented with tabs is refused before anything is sent.
    let tabs = concat!(env!("CARGO_MANIFEST_DIR"), "/../manifests/bad/tabs.yaml");
    let refused = ctl(&server, &["apply", "-n", "by-ctl", "-f", tabs]);
    assert!(!refused.status.success());
    let message = String::from_utf8_lossy(&refused.stderr);
    assert!(message.contains("tabs.yaml: document 1, line 4: a tab character is used for indentation"), "{message}");

    let ours = stdout_ok(ctl(&server, &["delete", "-n", "by-ctl", "-f", changed_path]));
    let theirs = stdout_ok(run("kubectl", &server, &["delete", "-n", "by-kubectl", "-f", changed_path]));
    assert_eq!(ours, theirs);
    let left = ctl(&server, &["get", "deploy,svc,cm,secret", "-n", "by-ctl"]);
    assert_eq!(String::from_utf8_lossy(&left.stderr).trim(), "No resources found in by-ctl namespace.");
}

#[test]
fn create_scale_delete_and_api_resources_match_kubectl() {
    let server = ApiServer::start(Storage::Embedded).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("settings.json");
    std::fs::write(&file, "{\"a\": 1}\n").unwrap();
    let file = file.to_str().unwrap();

    for (namespace, tool) in [("by-ctl", env!("CARGO_BIN_EXE_ctl")), ("by-kubectl", "kubectl")] {
        let out = stdout_ok(run(tool, &server, &["create", "namespace", namespace]));
        assert_eq!(out.trim(), format!("namespace/{namespace} created"));
        let out = stdout_ok(run(tool, &server, &["create", "configmap", "cm", "-n", namespace, "--from-literal=k=v", &format!("--from-file={file}")]));
        assert_eq!(out.trim(), "configmap/cm created");
        let out = stdout_ok(run(tool, &server, &["create", "secret", "generic", "s", "-n", namespace, "--from-literal=password=s3cr3t"]));
        assert_eq!(out.trim(), "secret/s created");
    }
    let data = |namespace: &str, kind: &str, name: &str| {
        let text = stdout_ok(run("kubectl", &server, &["get", kind, name, "-n", namespace, "-o", "json"]));
        let object: serde_json::Value = serde_json::from_str(&text).unwrap();
        (object["data"].clone(), object["type"].clone())
    };
    assert_eq!(data("by-ctl", "cm", "cm"), data("by-kubectl", "cm", "cm"));
    assert_eq!(data("by-ctl", "secret", "s"), data("by-kubectl", "secret", "s"));

    let demo = concat!(env!("CARGO_MANIFEST_DIR"), "/../manifests/demo/app.yaml");
    stdout_ok(ctl(&server, &["apply", "-n", "by-ctl", "-f", demo]));
    assert_eq!(stdout_ok(ctl(&server, &["scale", "deployment/example", "-n", "by-ctl", "--replicas=4"])).trim(), "deployment.apps/example scaled");
    let replicas = stdout_ok(run("kubectl", &server, &["get", "deploy", "example", "-n", "by-ctl", "-o", "jsonpath={.spec.replicas}"]));
    assert_eq!(replicas, "4");

    let out = stdout_ok(ctl(&server, &["delete", "cm", "cm", "example-config", "-n", "by-ctl"]));
    assert_eq!(out, "configmap \"cm\" deleted\nconfigmap \"example-config\" deleted\n");
    let out = stdout_ok(ctl(&server, &["delete", "secret", "--all", "-n", "by-ctl"]));
    assert_eq!(out.lines().count(), 2, "{out}");
    let out = stdout_ok(ctl(&server, &["delete", "deploy", "-l", "app=example", "-n", "by-ctl"]));
    assert_eq!(out.trim(), "deployment.apps \"example\" deleted");
    let missing = ctl(&server, &["delete", "cm", "nope", "-n", "by-ctl"]);
    assert!(!missing.status.success());
    assert_eq!(String::from_utf8_lossy(&missing.stderr).trim(), "Error from server (NotFound): configmaps \"nope\" not found");

    assert_eq!(stdout_ok(ctl(&server, &["api-resources"])), stdout_ok(run("kubectl", &server, &["api-resources"])));
    let completion = stdout_ok(ctl(&server, &["completion", "bash"]));
    assert!(completion.contains("_ctl()"), "{completion}");
    assert!(completion.contains("__completeNoDesc"), "ctl completes at TAB time: {completion}");
    let completion = stdout_ok(ctl(&server, &["completion", "zsh"]));
    assert!(completion.starts_with("#compdef ctl"), "{completion}");
    assert!(completion.contains("__complete"), "ctl completes at TAB time: {completion}");
    // Each script loads in its shell without error.
    for (shell, script) in [("bash", "source /dev/stdin"), ("zsh", "autoload -U compinit && compinit -u; source /dev/stdin")] {
        if shell == "zsh" && Command::new("zsh").arg("--version").output().is_err() {
            panic!("zsh is missing: scripts/setup.sh installs it");
        }
        let output = Command::new("sh")
            .arg("-c")
            .arg(format!("{} completion {shell} | {shell} -c '{script}'", env!("CARGO_BIN_EXE_ctl")))
            .output()
            .unwrap();
        assert!(output.status.success() && output.stderr.is_empty(), "{shell}: {output:?}");
    }
}

#[test]
fn describe_rollout_logs_and_watch() {
    use std::io::{BufRead, BufReader};
    let server = ApiServer::start(Storage::Embedded).unwrap();
    let demo = concat!(env!("CARGO_MANIFEST_DIR"), "/../manifests/demo/app.yaml");
    stdout_ok(ctl(&server, &["create", "namespace", "demo"]));
    stdout_ok(ctl(&server, &["apply", "-n", "demo", "-f", demo]));

    let described = stdout_ok(ctl(&server, &["describe", "deployment", "example", "-n", "demo"]));
    assert_eq!(described, stdout_ok(run("kubectl", &server, &["describe", "deployment", "example", "-n", "demo"])));
    assert!(!described.contains("last-applied-configuration"), "{described}");

    assert_eq!(stdout_ok(ctl(&server, &["rollout", "restart", "deployment/example", "-n", "demo"])).trim(), "deployment.apps/example restarted");
    let template = stdout_ok(run("kubectl", &server, &["get", "deploy", "example", "-n", "demo", "-o", "jsonpath={.spec.template.metadata.annotations}"]));
    assert!(template.contains("kubectl.kubernetes.io/restartedAt"), "{template}");
    // kubectl prints its history as the "operation" after the name: a space before the break.
    let history = stdout_ok(ctl(&server, &["rollout", "history", "deployment/example", "-n", "demo"]));
    assert_eq!(history, "deployment.apps/example \nNo rollout history found.\n");
    assert_eq!(history, stdout_ok(run("kubectl", &server, &["rollout", "history", "deployment/example", "-n", "demo"])));

    let logs = ctl(&server, &["logs", "some-pod", "-n", "demo"]);
    assert!(!logs.status.success());
    let stderr = String::from_utf8_lossy(&logs.stderr);
    assert_eq!(stderr, "Error from server (NotFound): pods \"some-pod\" not found\n", "only kubectl's one error line, no client logs");

    // get -w prints the table, then a row per change.
    let mut watcher = Command::new(env!("CARGO_BIN_EXE_ctl"))
        .arg(format!("--kubeconfig={}", server.kubeconfig().display()))
        .args(["get", "configmaps", "-n", "demo", "-w"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(watcher.stdout.take().unwrap()).lines();
    assert!(lines.next().unwrap().unwrap().starts_with("NAME"));
    assert!(lines.next().unwrap().unwrap().starts_with("example-config"));
    stdout_ok(ctl(&server, &["create", "configmap", "watched", "-n", "demo", "--from-literal=a=b"]));
    let row = lines.next().unwrap().unwrap();
    assert!(row.starts_with("watched "), "{row}");
    let _ = watcher.kill();
    let _ = watcher.wait();
}

#[test]
fn rollout_status_and_undo_read_the_deployment_and_its_replicasets() {
    let server = ApiServer::start(Storage::Embedded).unwrap();
    let demo = concat!(env!("CARGO_MANIFEST_DIR"), "/../manifests/demo/app.yaml");
    stdout_ok(ctl(&server, &["create", "namespace", "demo"]));
    stdout_ok(ctl(&server, &["apply", "-n", "demo", "-f", demo]));
    let get = |path: &str| stdout_ok(run("kubectl", &server, &["get", "deploy", "example", "-n", "demo", "-o", &format!("jsonpath={path}")]));

    // No controller runs here, so the test plays its part: the status says how far the rollout is.
    let generation = get("{.metadata.generation}");
    let set_status = |status: &str| {
        stdout_ok(run("kubectl", &server, &["patch", "deploy", "example", "-n", "demo", "--subresource=status", "--type=merge", "-p", &format!(r#"{{"status":{status}}}"#)]));
    };
    for (status, waiting) in [
        ("{}".to_string(), "Waiting for deployment spec update to be observed...".to_string()),
        (format!(r#"{{"observedGeneration":{generation},"replicas":2}}"#), r#"Waiting for deployment "example" rollout to finish: 0 out of 2 new replicas have been updated..."#.to_string()),
        (format!(r#"{{"replicas":3,"updatedReplicas":2}}"#), r#"Waiting for deployment "example" rollout to finish: 1 old replicas are pending termination..."#.to_string()),
        (format!(r#"{{"replicas":2,"readyReplicas":1,"availableReplicas":1}}"#), r#"Waiting for deployment "example" rollout to finish: 1 of 2 updated replicas are available..."#.to_string()),
    ] {
        set_status(&status);
        let output = ctl(&server, &["rollout", "status", "deployment/example", "-n", "demo", "--timeout=600ms"]);
        assert!(!output.status.success());
        assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), waiting, "{output:?}");
        assert!(String::from_utf8_lossy(&output.stderr).starts_with("error: timed out"), "{output:?}");
    }
    set_status(r#"{"availableReplicas":2,"readyReplicas":2}"#);
    let status = stdout_ok(ctl(&server, &["rollout", "status", "deployment/example", "-n", "demo"]));
    assert_eq!(status, "deployment \"example\" successfully rolled out\n");

    // Two revisions as the Deployment controller leaves them: ReplicaSets owned by the Deployment,
    // labelled as their pods (kubectl lists them by the Deployment's selector).
    let uid = get("{.metadata.uid}");
    for (revision, image) in [(1, "busybox:old"), (2, "busybox:local")] {
        let set = format!(
            r#"{{"apiVersion":"apps/v1","kind":"ReplicaSet","metadata":{{"name":"example-{revision}","namespace":"demo",
              "labels":{{"app":"example","pod-template-hash":"h{revision}"}},
              "annotations":{{"deployment.kubernetes.io/revision":"{revision}","kubernetes.io/change-cause":"step {revision}"}},
              "ownerReferences":[{{"apiVersion":"apps/v1","kind":"Deployment","name":"example","uid":"{uid}","controller":true}}]}},
              "spec":{{"replicas":0,"selector":{{"matchLabels":{{"app":"example","pod-template-hash":"h{revision}"}}}},
              "template":{{"metadata":{{"labels":{{"app":"example","pod-template-hash":"h{revision}"}}}},
              "spec":{{"containers":[{{"name":"example","image":"{image}"}}]}}}}}}}}"#
        );
        kubectl_stdin(&server, &["create", "-f", "-"], &set);
    }
    let history = stdout_ok(ctl(&server, &["rollout", "history", "deployment/example", "-n", "demo"]));
    assert_eq!(history, "deployment.apps/example \nREVISION  CHANGE-CAUSE\n1         step 1\n2         step 2\n\n");
    assert_eq!(history, stdout_ok(run("kubectl", &server, &["rollout", "history", "deployment/example", "-n", "demo"])));
    let revision = ["rollout", "history", "deployment/example", "-n", "demo", "--revision=1"];
    assert_eq!(stdout_ok(ctl(&server, &revision)), stdout_ok(run("kubectl", &server, &revision)), "a revision's template as kubectl describes it");

    assert_eq!(stdout_ok(ctl(&server, &["rollout", "undo", "deployment/example", "-n", "demo"])), "deployment.apps/example rolled back\n");
    assert_eq!(get("{.spec.template.spec.containers[0].image}"), "busybox:old");
    assert_eq!(get("{.spec.template.metadata.labels}"), r#"{"app":"example"}"#, "the pod-template-hash label stays with the ReplicaSet");
    stdout_ok(ctl(&server, &["rollout", "undo", "deployment/example", "-n", "demo", "--to-revision=2"]));
    assert_eq!(get("{.spec.template.spec.containers[0].image}"), "busybox:local");

    let missing = ctl(&server, &["rollout", "undo", "deployment/example", "-n", "demo", "--to-revision=7"]);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).starts_with("error: "), "{missing:?}");
    let wrong_kind = ctl(&server, &["rollout", "status", "configmap/example-config", "-n", "demo"]);
    assert!(!wrong_kind.status.success());
    assert!(String::from_utf8_lossy(&wrong_kind.stderr).starts_with("error: "), "{wrong_kind:?}");
}

#[test]
fn replace_puts_each_object_in_place_as_kubectl_does() {
    let server = ApiServer::start(Storage::Embedded).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let write = |file: &str, text: &str| {
        let path = dir.path().join(file);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_string()
    };
    let configmap = |name: &str, value: &str| format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  k: {value}\n");
    let data = |namespace: &str, name: &str| stdout_ok(run("kubectl", &server, &["get", "cm", name, "-n", namespace, "-o", "jsonpath={.data.k}"]));
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    // Each tool replaces the same files in a namespace of its own, with the same ConfigMaps.
    let both = |args: &[&str]| {
        let mut ours = vec!["replace", "-n", "by-ctl"];
        ours.extend_from_slice(args);
        let mut theirs = vec!["replace", "-n", "by-kubectl"];
        theirs.extend_from_slice(args);
        (ctl(&server, &ours), run("kubectl", &server, &theirs))
    };
    for (namespace, tool) in [("by-ctl", env!("CARGO_BIN_EXE_ctl")), ("by-kubectl", "kubectl")] {
        stdout_ok(run(tool, &server, &["create", "namespace", namespace]));
        for name in ["a", "b"] {
            stdout_ok(run(tool, &server, &["create", "configmap", name, "-n", namespace, "--from-literal=k=old"]));
        }
    }

    // A manifest without a resourceVersion overwrites the stored object.
    let one = write("one.yaml", &configmap("a", "new"));
    let (ours, theirs) = both(&["-f", &one]);
    assert_eq!(stdout_ok(ours), "configmap/a replaced\n");
    assert_eq!(stdout_ok(theirs), "configmap/a replaced\n");
    assert_eq!((data("by-ctl", "a"), data("by-ctl", "b")), ("new".to_string(), "old".to_string()));

    // A missing object is reported with its file; the others are still replaced; the exit fails.
    let three = write("three.yaml", &[configmap("a", "newer"), configmap("missing", "x"), configmap("b", "newer")].join("---\n"));
    let (ours, theirs) = both(&["-f", &three]);
    assert!(!ours.status.success(), "{ours:?}");
    assert_eq!(text(&ours.stdout), "configmap/a replaced\nconfigmap/b replaced\n");
    assert_eq!(text(&ours.stderr), format!("Error from server (NotFound): error when replacing {three:?}: configmaps \"missing\" not found\n"));
    assert_eq!((ours.status.code(), ours.stdout, ours.stderr), (theirs.status.code(), theirs.stdout, theirs.stderr), "kubectl does the same");
    assert_eq!((data("by-ctl", "a"), data("by-ctl", "b")), ("newer".to_string(), "newer".to_string()));

    // A List as `ctl get -o json` prints it, changed and piped back: each item is replaced.
    let list = stdout_ok(ctl(&server, &["get", "configmaps", "-n", "by-ctl", "-o", "json"])).replace("\"newer\"", "\"listed\"");
    assert!(list.contains("\"kind\": \"List\"") && list.contains("\"resourceVersion\""), "{list}");
    assert_eq!(stdout_ok(run_stdin(env!("CARGO_BIN_EXE_ctl"), &server, &["replace", "-f", "-"], &list)), "configmap/a replaced\nconfigmap/b replaced\n");
    assert_eq!((data("by-ctl", "a"), data("by-ctl", "b")), ("listed".to_string(), "listed".to_string()));

    // The same List again carries the resourceVersions it was read at, now stale: a Conflict per
    // item, nothing changed, and a failed exit, as kubectl reports it.
    let conflict = |name: &str| {
        format!(
            "Error from server (Conflict): error when replacing \"STDIN\": Operation cannot be fulfilled on configmaps \"{name}\": \
             the object has been modified; please apply your changes to the latest version and try again\n"
        )
    };
    let stale = run_stdin(env!("CARGO_BIN_EXE_ctl"), &server, &["replace", "-f", "-"], &list.replace("\"listed\"", "\"stale\""));
    assert!(!stale.status.success(), "{stale:?}");
    assert_eq!(text(&stale.stdout), "");
    assert_eq!(text(&stale.stderr), conflict("a") + &conflict("b"));
    let theirs = run_stdin("kubectl", &server, &["replace", "-f", "-"], &list.replace("\"listed\"", "\"stale\""));
    assert_eq!((stale.status.code(), stale.stderr), (theirs.status.code(), theirs.stderr), "kubectl does the same");
    assert_eq!((data("by-ctl", "a"), data("by-ctl", "b")), ("listed".to_string(), "listed".to_string()));

    // A bad manifest is refused before anything is sent, naming its file, document and line.
    let bad = write("bad.yaml", &format!("{}---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n\tname: b\n", configmap("a", "bad")));
    let refused = ctl(&server, &["replace", "-n", "by-ctl", "-f", &bad]);
    assert!(!refused.status.success());
    assert_eq!(text(&refused.stderr), format!("error: error parsing manifests: {bad}: document 2, line 11: a tab character is used for indentation; YAML allows only spaces\n"));
    assert_eq!(data("by-ctl", "a"), "listed", "nothing of the bad file was replaced");
    let empty = ctl(&server, &["replace", "-f", "/dev/null"]);
    assert!(!empty.status.success());
    assert_eq!(text(&empty.stderr), "error: no objects passed to replace\n");

    // A server dry run checks and stores nothing.
    let (ours, theirs) = both(&["-f", &one, "--dry-run=server"]);
    assert_eq!(stdout_ok(ours), "configmap/a replaced (server dry run)\n");
    assert_eq!(stdout_ok(theirs), "configmap/a replaced (server dry run)\n");
    assert_eq!(data("by-ctl", "a"), "listed");
}

#[test]
fn long_lists_come_in_pages_and_print_as_one_table() {
    let server = ApiServer::start(Storage::Embedded).unwrap();
    stdout_ok(ctl(&server, &["create", "namespace", "many"]));
    // Past two pages of 500, so that the continue token is followed twice.
    let items: Vec<String> = (0..1_203)
        .map(|index| format!(r#"{{"apiVersion":"v1","kind":"ConfigMap","metadata":{{"name":"cm-{index:04}","namespace":"many"}},"data":{{"k":"{}"}}}}"#, "v".repeat(index % 40)))
        .collect();
    kubectl_stdin(&server, &["create", "-f", "-"], &items.join("\n---\n"));
    for args in [&["get", "cm", "-n", "many"][..], &["get", "cm", "-A"][..]] {
        let ours = stdout_ok(ctl(&server, args));
        assert_eq!(ours.lines().count(), 1_204, "header and every row of {args:?}");
        assert_eq!(without_ages(&ours), without_ages(&stdout_ok(run("kubectl", &server, args))), "ctl {args:?} differs from kubectl");
    }
}

#[test]
fn apply_sources_dry_run_contexts_events_and_waiting_deletes() {
    let server = ApiServer::start(Storage::Embedded).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let configmap = |name: &str| format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  k: v\n");
    std::fs::create_dir_all(dir.path().join("tree/nested")).unwrap();
    std::fs::write(dir.path().join("tree/top.yaml"), configmap("top")).unwrap();
    std::fs::write(dir.path().join("tree/nested/deep.yaml"), configmap("deep")).unwrap();
    let tree = dir.path().join("tree");
    let tree = tree.to_str().unwrap();

    // A directory: its files; with -R, its subdirectories' too. Each in the context's namespace.
    stdout_ok(ctl(&server, &["create", "namespace", "work"]));
    let context_config = dir.path().join("kubeconfig");
    let text = std::fs::read_to_string(server.kubeconfig()).unwrap().replace("contexts:\n", "contexts:\n- name: work\n  context:\n    cluster: test\n    user: test\n    namespace: work\n");
    std::fs::write(&context_config, text).unwrap();
    let in_work = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_ctl")).env("KUBECONFIG", &context_config).arg("--context=work").args(args).output().unwrap()
    };
    assert_eq!(stdout_ok(in_work(&["apply", "-f", tree, "--dry-run=server"])), "configmap/top created (server dry run)\n");
    assert_eq!(String::from_utf8_lossy(&in_work(&["get", "cm"]).stderr).trim(), "No resources found in work namespace.", "a dry run stores nothing");
    assert_eq!(stdout_ok(in_work(&["apply", "-f", tree])), "configmap/top created\n");
    assert_eq!(stdout_ok(in_work(&["apply", "-R", "-f", tree])), "configmap/deep created\nconfigmap/top unchanged\n");

    // Standard input, and a stream with one bad document, which applies nothing.
    let mut piped = Command::new(env!("CARGO_BIN_EXE_ctl"));
    piped.env("KUBECONFIG", &context_config).args(["--context=work", "apply", "-f", "-"]);
    assert_eq!(stdout_ok(common::testing::output_with_input(&mut piped, configmap("piped").as_bytes()).unwrap()), "configmap/piped created\n");
    let mixed = dir.path().join("mixed.yaml");
    std::fs::write(&mixed, format!("{}---\n{}---\napiVersion: v1\nmetadata:\n  name: kindless\n", configmap("first"), configmap("second"))).unwrap();
    let refused = in_work(&["apply", "-f", mixed.to_str().unwrap()]);
    assert!(!refused.status.success());
    let message = String::from_utf8_lossy(&refused.stderr);
    assert!(message.contains("mixed.yaml: document 3") && message.contains("kind"), "{message}");
    let names = stdout_ok(in_work(&["get", "cm", "-o", "name"]));
    assert_eq!(names, "configmap/deep\nconfigmap/piped\nconfigmap/top\n", "nothing of the bad stream was applied");

    // describe shows the object's events, as kubectl does.
    let uid = stdout_ok(run("kubectl", &server, &["get", "cm", "top", "-n", "work", "-o", "jsonpath={.metadata.uid}"]));
    let event = format!(
        r#"{{"apiVersion":"v1","kind":"Event","metadata":{{"name":"top.1","namespace":"work"}},
        "involvedObject":{{"apiVersion":"v1","kind":"ConfigMap","name":"top","namespace":"work","uid":"{uid}"}},
        "reason":"Checked","message":"looked at it","type":"Normal","source":{{"component":"tester"}},"count":1}}"#
    );
    kubectl_stdin(&server, &["create", "-f", "-"], &event);
    let repeated = event
        .replace("top.1", "top.2")
        .replace("\"Checked\"", "\"Repeated\"")
        .replace("\"type\":\"Normal\"", "\"type\":\"Warning\"")
        .replace("\"count\":1", "\"count\":3,\"firstTimestamp\":\"2026-01-01T00:00:00Z\",\"lastTimestamp\":\"2026-01-01T00:10:00Z\"");
    kubectl_stdin(&server, &["create", "-f", "-"], &repeated);
    let described = stdout_ok(in_work(&["describe", "configmap", "top"]));
    let theirs = stdout_ok(run("kubectl", &server, &["describe", "configmap", "top", "-n", "work"]));
    let events = |text: &str| text[text.find("Events:").unwrap_or(0)..].to_string();
    assert_eq!(events(&described), events(&theirs), "ours:\n{described}\nkubectl's:\n{theirs}");
    assert!(described.contains("looked at it") && described.contains(" (x3 over "), "{described}");

    // delete waits until the object is gone: here until its finalizer is removed.
    let pod = r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"held","namespace":"work","finalizers":["example.com/hold"]},
        "spec":{"containers":[{"name":"c","image":"busybox:local"}]}}"#;
    kubectl_stdin(&server, &["create", "-f", "-"], pod);
    let not_waiting = in_work(&["delete", "pod", "held", "--wait=false"]);
    assert_eq!(stdout_ok(not_waiting), "pod \"held\" deleted\n");
    let started = std::time::Instant::now();
    let waiting = Command::new(env!("CARGO_BIN_EXE_ctl"))
        .env("KUBECONFIG", &context_config)
        .args(["--context=work", "delete", "pod", "held", "--grace-period=0"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1_500));
    stdout_ok(run("kubectl", &server, &["patch", "pod", "held", "-n", "work", "--type=merge", "-p", r#"{"metadata":{"finalizers":null}}"#]));
    let output = waiting.wait_with_output().unwrap();
    assert!(started.elapsed() >= std::time::Duration::from_millis(1_500), "delete returned before the pod was gone");
    assert_eq!(stdout_ok(output), "pod \"held\" deleted\n");
    assert!(!run("kubectl", &server, &["get", "pod", "held", "-n", "work"]).status.success());
}

/// A stand-in for a node's kubelet: answers each `containerLogs` request with two lines, the
/// first naming the path and query it was asked for, a moment apart.
fn fake_kubelet() -> u16 {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut request_line = String::new();
                reader.read_line(&mut request_line).unwrap();
                let mut header = String::new();
                while reader.read_line(&mut header).is_ok_and(|n| n > 2) {
                    header.clear();
                }
                let target = request_line.split_whitespace().nth(1).unwrap_or_default().to_string();
                let mut stream = stream;
                let _ = write!(stream, "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\nasked {target}\n");
                let _ = stream.flush();
                std::thread::sleep(std::time::Duration::from_millis(300));
                let _ = write!(stream, "second line\n");
            });
        }
    });
    port
}

#[test]
fn logs_come_from_the_pods_kubelet_with_the_flags_passed_on() {
    let server = ApiServer::start(Storage::Embedded).unwrap();
    let port = fake_kubelet();
    let node = format!(
        r#"{{"apiVersion":"v1","kind":"Node","metadata":{{"name":"node-1"}},
        "status":{{"addresses":[{{"type":"InternalIP","address":"127.0.0.1"}}],"daemonEndpoints":{{"kubeletEndpoint":{{"Port":{port}}}}}}}}}"#
    );
    kubectl_stdin(&server, &["create", "-f", "-"], &node);
    let pod = r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web","namespace":"default"},
        "spec":{"nodeName":"node-1","containers":[{"name":"app","image":"busybox:local"},{"name":"sidecar","image":"busybox:local"}]}}"#;
    kubectl_stdin(&server, &["create", "-f", "-"], pod);

    let out = stdout_ok(ctl(&server, &["logs", "web", "-c", "sidecar"]));
    assert_eq!(out, "asked /containerLogs/default/web/sidecar?\nsecond line\n");
    // No container named: the first, with kubectl's notice.
    let defaulted = ctl(&server, &["logs", "web"]);
    assert_eq!(stdout_ok(defaulted.clone()), "asked /containerLogs/default/web/app?\nsecond line\n");
    assert_eq!(defaulted.stderr, run("kubectl", &server, &["logs", "web"]).stderr);
    let out = stdout_ok(ctl(&server, &["logs", "pod/web", "-c", "app", "-f", "--tail", "5", "-p"]));
    assert_eq!(out, "asked /containerLogs/default/web/app?follow=true&previous=true&tailLines=5\nsecond line\n");
    assert_eq!(out, stdout_ok(run("kubectl", &server, &["logs", "web", "-c", "app", "-f", "--tail=5", "-p"])), "kubectl reads the same");

    let wrong = ctl(&server, &["logs", "web", "-c", "db"]);
    assert!(!wrong.status.success());
    assert_eq!(String::from_utf8_lossy(&wrong.stderr), "error: container db is not valid for pod web\n");
    assert_eq!(wrong.stderr, run("kubectl", &server, &["logs", "web", "-c", "db"]).stderr, "kubectl prints the same");
    // (kubectl words this one "error: error from server (NotFound): ... in namespace"; ctl prints
    // the server's error as kubectl prints every other one.)
    let gone = ctl(&server, &["logs", "gone"]);
    assert!(!gone.status.success());
    assert_eq!(String::from_utf8_lossy(&gone.stderr), "Error from server (NotFound): pods \"gone\" not found\n");

    // A ReplicationController's pod, found through its label-map selector, as kubectl finds it.
    let selected = r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"selected","namespace":"default","labels":{"app":"logs"}},
        "spec":{"nodeName":"node-1","containers":[{"name":"app","image":"busybox:local"}]}}"#;
    kubectl_stdin(&server, &["create", "-f", "-"], selected);
    let controller = r#"{"apiVersion":"v1","kind":"ReplicationController","metadata":{"name":"logs","namespace":"default"},
        "spec":{"replicas":0,"selector":{"app":"logs"},"template":{"metadata":{"labels":{"app":"logs"}},"spec":{"containers":[{"name":"app","image":"busybox:local"}]}}}}"#;
    kubectl_stdin(&server, &["create", "-f", "-"], controller);
    let out = stdout_ok(ctl(&server, &["logs", "rc/logs"]));
    assert_eq!(out, "asked /containerLogs/default/selected/app?\nsecond line\n");
    assert_eq!(out, stdout_ok(run("kubectl", &server, &["logs", "rc/logs"])), "kubectl reads the same");
}

/// `ctl apply --server-side` prints what `kubectl apply --server-side` prints, records its
/// fields under its manager, fails on another manager's field with kubectl's message and hint,
/// takes it with `--force-conflicts`, and refuses `--force-conflicts` without `--server-side`.
#[test]
fn server_side_apply_prints_and_conflicts_as_kubectl_does() {
    let server = ApiServer::start(Storage::Embedded).unwrap();
    let demo = concat!(env!("CARGO_MANIFEST_DIR"), "/../manifests/demo/app.yaml");
    stdout_ok(run("kubectl", &server, &["create", "namespace", "by-ctl"]));
    stdout_ok(run("kubectl", &server, &["create", "namespace", "by-kubectl"]));
    let ours = stdout_ok(ctl(&server, &["apply", "--server-side", "-n", "by-ctl", "-f", demo]));
    let theirs = stdout_ok(run("kubectl", &server, &["apply", "--server-side", "-n", "by-kubectl", "-f", demo]));
    assert_eq!(ours, theirs);
    assert!(ours.contains("deployment.apps/example serverside-applied"), "{ours}");
    let dry = stdout_ok(ctl(&server, &["apply", "--server-side", "--dry-run=server", "-n", "by-ctl", "-f", demo]));
    assert!(dry.contains("deployment.apps/example serverside-applied (server dry run)"), "{dry}");

    let managers = stdout_ok(run("kubectl", &server, &["get", "deploy", "example", "-n", "by-ctl", "-o", "jsonpath={.metadata.managedFields[*].manager}/{.metadata.managedFields[*].operation}"]));
    assert_eq!(managers, "ctl/Apply");
    // Left out of JSON and YAML unless asked for, as kubectl leaves them out.
    let yaml = stdout_ok(ctl(&server, &["get", "deploy", "example", "-n", "by-ctl", "-o", "yaml"]));
    assert!(!yaml.contains("managedFields"), "{yaml}");
    let shown = stdout_ok(ctl(&server, &["get", "deploy", "example", "-n", "by-ctl", "-o", "yaml", "--show-managed-fields"]));
    assert!(shown.contains("managedFields:") && shown.contains("manager: ctl"), "{shown}");

    // kubectl changes the replicas ctl applied: a conflict, with kubectl's own words.
    let dir = tempfile::tempdir().unwrap();
    let changed = std::fs::read_to_string(demo).unwrap().replace("replicas: 2", "replicas: 3");
    let changed_path = dir.path().join("app.yaml");
    std::fs::write(&changed_path, changed).unwrap();
    let changed_path = changed_path.to_str().unwrap();
    let refused = run("kubectl", &server, &["apply", "--server-side", "-n", "by-ctl", "-f", changed_path]);
    assert!(!refused.status.success());
    let kubectl_message = String::from_utf8_lossy(&refused.stderr).into_owned();
    assert!(kubectl_message.contains("Apply failed with 1 conflict: conflict with \"ctl\": .spec.replicas"), "{kubectl_message}");
    stdout_ok(run("kubectl", &server, &["apply", "--server-side", "--field-manager=other", "-n", "by-kubectl", "-f", demo]));
    let refused = ctl(&server, &["apply", "--server-side", "--field-manager=other", "-n", "by-kubectl", "-f", changed_path]);
    assert!(!refused.status.success());
    let ctl_message = String::from_utf8_lossy(&refused.stderr).into_owned();
    assert!(ctl_message.starts_with("error: Apply failed with 1 conflict: conflict with \"kubectl\": .spec.replicas\nPlease review the fields above"), "{ctl_message}");
    assert!(ctl_message.contains("--force-conflicts"), "{ctl_message}");

    let forced = stdout_ok(ctl(&server, &["apply", "--server-side", "--force-conflicts", "--field-manager=other", "-n", "by-kubectl", "-f", changed_path]));
    assert!(forced.contains("deployment.apps/example serverside-applied"), "{forced}");
    let replicas = stdout_ok(run("kubectl", &server, &["get", "deploy", "example", "-n", "by-kubectl", "-o", "jsonpath={.spec.replicas}"]));
    assert_eq!(replicas, "3");

    let misuse = ctl(&server, &["apply", "--force-conflicts", "-n", "by-ctl", "-f", demo]);
    assert!(!misuse.status.success());
    assert_eq!(String::from_utf8_lossy(&misuse.stderr), "error: --force-conflicts only works with --server-side\n");
}

/// `ctl create cronjob` and `ctl create job --from=cronjob/X` make what kubectl makes (the Job
/// marked as made by hand and controlled by the CronJob), `get` prints kubectl's columns for
/// them, and a failure reads as kubectl's.
#[test]
fn cron_jobs_and_jobs_are_created_as_kubectl_creates_them() {
    let server = ApiServer::start(Storage::Embedded).unwrap();
    stdout_ok(ctl(&server, &["create", "namespace", "work"]));
    let out = stdout_ok(ctl(&server, &["create", "cronjob", "tick", "-n", "work", "--image=busybox:local", "--schedule=*/1 * * * *", "--", "sh", "-c", "echo hi"]));
    assert_eq!(out, "cronjob.batch/tick created\n");
    let out = stdout_ok(run("kubectl", &server, &["create", "cronjob", "tock", "-n", "work", "--image=busybox:local", "--schedule=*/1 * * * *", "--", "sh", "-c", "echo hi"]));
    assert_eq!(out, "cronjob.batch/tock created\n");
    let spec = |name: &str| pruned(&object(&server, "work", &format!("cronjob/{name}"))["spec"]).to_string().replace(name, "NAME");
    assert_eq!(spec("tick"), spec("tock"), "ctl and kubectl made different CronJobs");

    assert_eq!(stdout_ok(ctl(&server, &["create", "job", "by-ctl", "-n", "work", "--from=cronjob/tick"])), "job.batch/by-ctl created\n");
    assert_eq!(stdout_ok(run("kubectl", &server, &["create", "job", "by-kubectl", "-n", "work", "--from=cronjob/tick"])), "job.batch/by-kubectl created\n");
    let cron_job_uid = object(&server, "work", "cronjob/tick")["metadata"]["uid"].clone();
    let job = object(&server, "work", "job/by-ctl");
    assert_eq!(job["metadata"]["annotations"]["cronjob.kubernetes.io/instantiate"], "manual");
    assert_eq!(
        job["metadata"]["ownerReferences"],
        serde_json::json!([{"apiVersion": "batch/v1", "kind": "CronJob", "name": "tick", "uid": cron_job_uid, "controller": true}])
    );
    // The rest as kubectl's, but for what the server generates from each Job's uid.
    let comparable = |name: &str| {
        let mut job = object(&server, "work", &format!("job/{name}"));
        for pointer in ["/metadata/labels", "/spec/selector", "/spec/template/metadata/labels"] {
            if let Some(value) = job.pointer_mut(pointer) {
                *value = serde_json::Value::Null;
            }
        }
        (pruned(&job["metadata"]["annotations"]), pruned(&job["metadata"]["ownerReferences"]), pruned(&job["spec"]))
    };
    assert_eq!(comparable("by-ctl"), comparable("by-kubectl"));

    let once = stdout_ok(ctl(&server, &["create", "job", "once", "-n", "work", "--image=busybox:local", "--", "echo", "hi"]));
    assert_eq!(once, "job.batch/once created\n");
    let container = &object(&server, "work", "job/once")["spec"]["template"]["spec"];
    assert_eq!((container["restartPolicy"].as_str(), container["containers"][0]["command"].clone()), (Some("Never"), serde_json::json!(["echo", "hi"])));

    for args in [&["get", "cj,jobs", "-n", "work"][..], &["get", "cronjobs", "-n", "work", "-o", "wide"][..], &["get", "jobs", "-A"][..]] {
        let ours = stdout_ok(ctl(&server, args));
        let theirs = stdout_ok(run("kubectl", &server, args));
        assert_eq!(without_ages(&ours), without_ages(&theirs), "ctl {args:?} differs from kubectl");
    }
    let described = stdout_ok(ctl(&server, &["describe", "cj/tick", "-n", "work"]));
    assert_eq!(described, stdout_ok(run("kubectl", &server, &["describe", "cj/tick", "-n", "work"])));

    // Failures print what kubectl prints.
    for args in [
        &["create", "job", "once", "-n", "work", "--image=busybox:local"][..],
        &["create", "job", "x", "-n", "work"][..],
        &["create", "job", "x", "-n", "work", "--from=cronjob/tick", "--", "sh"][..],
        &["create", "job", "x", "-n", "work", "--from=cm/missing"][..],
        &["create", "cronjob", "bad", "-n", "work", "--image=busybox:local", "--schedule=never"][..],
    ] {
        let ours = ctl(&server, args);
        let theirs = run("kubectl", &server, args);
        assert!(!ours.status.success(), "{args:?}");
        assert_eq!(String::from_utf8_lossy(&ours.stderr), String::from_utf8_lossy(&theirs.stderr), "ctl {args:?} differs from kubectl");
    }
}

/// Without a controller-manager the test writes a DaemonSet's and a StatefulSet's history and
/// status itself; `ctl rollout` reads them as kubectl does, and undo's strategic merge patch of
/// a revision's data puts the template back on the real apiserver.
#[test]
fn daemon_set_and_stateful_set_rollouts_read_controller_revisions_as_kubectl_does() {
    use serde_json::json;
    let server = ApiServer::start(Storage::Embedded).unwrap();
    stdout_ok(ctl(&server, &["create", "namespace", "work"]));
    let daemon_set = r#"{"apiVersion":"apps/v1","kind":"DaemonSet","metadata":{"name":"agent","namespace":"work"},
        "spec":{"selector":{"matchLabels":{"app":"agent"}},
        "template":{"metadata":{"labels":{"app":"agent"}},"spec":{"containers":[{"name":"agent","image":"busybox:2"}]}}}}"#;
    kubectl_stdin(&server, &["create", "-f", "-"], daemon_set);
    let stored = object(&server, "work", "ds/agent");
    // Revisions as the DaemonSet controller writes them: the whole template under a replace
    // directive, labelled for the DaemonSet's selector, controlled by it.
    for (revision, image, cause) in [(1, "busybox:1", Some("first")), (2, "busybox:2", None)] {
        let mut template = stored["spec"]["template"].clone();
        template["spec"]["containers"][0]["image"] = json!(image);
        template["$patch"] = json!("replace");
        let mut controller_revision = json!({
            "apiVersion": "apps/v1", "kind": "ControllerRevision",
            "metadata": {"name": format!("agent-{revision}"), "namespace": "work", "labels": {"app": "agent", "controller-revision-hash": format!("h{revision}")},
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "agent", "uid": stored["metadata"]["uid"], "controller": true}]},
            "revision": revision,
            "data": {"spec": {"template": template}}
        });
        if let Some(cause) = cause {
            controller_revision["metadata"]["annotations"] = json!({"kubernetes.io/change-cause": cause});
        }
        kubectl_stdin(&server, &["create", "-f", "-"], &controller_revision.to_string());
    }
    // Another owner's revision is not this history.
    kubectl_stdin(&server, &["create", "-f", "-"], r#"{"apiVersion":"apps/v1","kind":"ControllerRevision","metadata":{"name":"stray","namespace":"work","labels":{"app":"agent"}},"revision":7,"data":{}}"#);

    let same = |args: &[&str]| {
        let ours = ctl(&server, args);
        let theirs = run("kubectl", &server, args);
        assert_eq!(
            (ours.status.success(), String::from_utf8_lossy(&ours.stdout), String::from_utf8_lossy(&ours.stderr)),
            (theirs.status.success(), String::from_utf8_lossy(&theirs.stdout), String::from_utf8_lossy(&theirs.stderr)),
            "ctl {args:?} differs from kubectl"
        );
        String::from_utf8_lossy(&ours.stdout).into_owned()
    };
    let history = same(&["rollout", "history", "ds/agent", "-n", "work"]);
    assert_eq!(history, "daemonset.apps/agent \nREVISION  CHANGE-CAUSE\n1         first\n2         <none>\n\n");
    let revision = same(&["rollout", "history", "daemonset", "agent", "-n", "work", "--revision=1"]);
    assert!(revision.starts_with("daemonset.apps/agent with revision #1\nPod Template:\n  Labels:\tapp=agent\n") && revision.contains("    Image:\tbusybox:1\n"), "{revision}");
    same(&["rollout", "history", "ds/agent", "-n", "work", "--revision=5"]);
    same(&["rollout", "undo", "ds/agent", "-n", "work", "--to-revision=5"]);
    same(&["get", "controllerrevisions", "-n", "work", "-o", "name"]);

    // Undo goes to revision 1 through the revision's data; the template is revision 1's whole.
    assert_eq!(stdout_ok(ctl(&server, &["rollout", "undo", "ds/agent", "-n", "work"])), "daemonset.apps/agent rolled back\n");
    let template = object(&server, "work", "ds/agent")["spec"]["template"].clone();
    assert_eq!(template["spec"]["containers"][0]["image"], "busybox:1");
    assert_eq!(template["metadata"]["labels"], json!({"app": "agent"}));
    assert!(template.get("$patch").is_none(), "the directive is not stored");
    // Now the template is revision 1's: undo to it again changes nothing. (kubectl compares the
    // bytes of its own encoding with what our store returns, which differ, and patches anyway.)
    let skipped = stdout_ok(ctl(&server, &["rollout", "undo", "ds/agent", "-n", "work", "--to-revision=1"]));
    assert_eq!(skipped, "daemonset.apps/agent skipped rollback (current template already matches revision 1)\n");
    assert_eq!(stdout_ok(ctl(&server, &["rollout", "undo", "ds/agent", "-n", "work", "--to-revision=2"])), "daemonset.apps/agent rolled back\n");
    assert_eq!(object(&server, "work", "ds/agent")["spec"]["template"]["spec"]["containers"][0]["image"], "busybox:2");

    // Status as kubectl's DaemonSetStatusViewer words it, one look each (--watch=false).
    let set_status = |kind_name: &str, status: serde_json::Value| {
        stdout_ok(run("kubectl", &server, &["patch", kind_name, "-n", "work", "--subresource=status", "--type=merge", "-p", &json!({"status": status}).to_string()]));
    };
    let generation = object(&server, "work", "ds/agent")["metadata"]["generation"].clone();
    for (status, expected) in [
        (json!({"observedGeneration": 0}), "Waiting for daemon set spec update to be observed...\n"),
        (json!({"observedGeneration": generation, "desiredNumberScheduled": 3, "updatedNumberScheduled": 1}), "Waiting for daemon set \"agent\" rollout to finish: 1 out of 3 new pods have been updated...\n"),
        (json!({"updatedNumberScheduled": 3, "numberAvailable": 2}), "Waiting for daemon set \"agent\" rollout to finish: 2 of 3 updated pods are available...\n"),
        (json!({"numberAvailable": 3}), "daemon set \"agent\" successfully rolled out\n"),
    ] {
        set_status("ds/agent", status);
        assert_eq!(same(&["rollout", "status", "ds/agent", "-n", "work", "--watch=false"]), expected);
    }
    assert_eq!(stdout_ok(ctl(&server, &["rollout", "status", "ds/agent", "-n", "work", "--timeout=10s"])), "daemon set \"agent\" successfully rolled out\n");
    assert_eq!(stdout_ok(ctl(&server, &["rollout", "restart", "ds/agent", "-n", "work"])), "daemonset.apps/agent restarted\n");
    assert!(object(&server, "work", "ds/agent")["spec"]["template"]["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"].is_string());
    stdout_ok(run("kubectl", &server, &["patch", "ds/agent", "-n", "work", "--type=json", "-p", r#"[{"op":"replace","path":"/spec/updateStrategy","value":{"type":"OnDelete"}}]"#]));
    same(&["rollout", "status", "ds/agent", "-n", "work"]);
    same(&["rollout", "pause", "ds/agent", "-n", "work"]);

    // A StatefulSet: kubectl's StatefulSetStatusViewer, scale, and no history yet.
    let stateful_set = r#"{"apiVersion":"apps/v1","kind":"StatefulSet","metadata":{"name":"db","namespace":"work"},
        "spec":{"replicas":3,"serviceName":"db","selector":{"matchLabels":{"app":"db"}},
        "template":{"metadata":{"labels":{"app":"db"}},"spec":{"containers":[{"name":"db","image":"busybox:local"}]}}}}"#;
    kubectl_stdin(&server, &["create", "-f", "-"], stateful_set);
    assert_eq!(same(&["rollout", "status", "sts/db", "-n", "work", "--watch=false"]), "Waiting for statefulset spec update to be observed...\n");
    for (status, expected) in [
        (json!({"observedGeneration": 1, "replicas": 3, "readyReplicas": 1}), "Waiting for 2 pods to be ready...\n"),
        (json!({"readyReplicas": 3, "updatedReplicas": 3}), "partitioned roll out complete: 3 new pods have been updated...\n"),
    ] {
        set_status("sts/db", status);
        assert_eq!(same(&["rollout", "status", "statefulset/db", "-n", "work", "--watch=false"]), expected);
    }
    assert_eq!(same(&["rollout", "history", "sts/db", "-n", "work"]), "statefulset.apps/db \nNo rollout history found.\n");
    same(&["rollout", "undo", "sts/db", "-n", "work"]);
    assert_eq!(stdout_ok(ctl(&server, &["scale", "sts/db", "-n", "work", "--replicas=5"])), "statefulset.apps/db scaled\n");
    assert_eq!(object(&server, "work", "sts/db")["spec"]["replicas"], 5);
    for args in [&["get", "ds,sts", "-n", "work"][..], &["get", "controllerrevisions", "-n", "work"][..]] {
        assert_eq!(without_ages(&stdout_ok(ctl(&server, args))), without_ages(&stdout_ok(run("kubectl", &server, args))), "ctl {args:?} differs from kubectl");
    }
}

/// `ctl get … | head -1`: a reader that goes away ends ctl quietly with the status a shell gives
/// kubectl killed by SIGPIPE (141), never with a panic (101) or a message on stderr.
#[test]
fn a_closed_pipe_ends_ctl_quietly() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let server = ApiServer::start(Storage::Embedded).unwrap();
    // Far more than a pipe holds (64 KiB), so that ctl is still writing when the reader leaves.
    let value = "x".repeat(4096);
    let items: Vec<serde_json::Value> = (0..100)
        .map(|index| serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": format!("big-{index}"), "namespace": "default"}, "data": {"value": value}}))
        .collect();
    let list = serde_json::json!({"apiVersion": "v1", "kind": "List", "items": items}).to_string();
    kubectl_stdin(&server, &["apply", "-f", "-"], &list);
    for args in [&["get", "configmaps", "-o", "yaml"][..], &["get", "configmaps", "-o", "json"], &["completion", "bash"]] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_ctl"))
            .arg(format!("--kubeconfig={}", server.kubeconfig().display()))
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap();
        assert!(!first.is_empty(), "ctl {args:?} printed nothing");
        // The reader is dropped here: every later write of ctl's meets a closed pipe.
        let output = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        if args[0] == "completion" {
            // The script may fit in the pipe before the reader leaves; either way, no panic.
            assert!(matches!(output.status.code(), Some(0 | 141)) && stderr.is_empty(), "ctl {args:?}: {:?} {stderr}", output.status);
        } else {
            assert_eq!(output.status.code(), Some(141), "ctl {args:?}: {stderr}");
            assert!(stderr.is_empty(), "ctl {args:?} wrote to stderr: {stderr}");
        }
    }
}
