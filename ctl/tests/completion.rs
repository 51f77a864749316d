//! Shell completion: `ctl __complete` beside `kubectl __complete` on the same apiserver for
//! resource types, object names, namespaces, contexts and containers, and the bash script
//! `ctl completion bash` prints, run by a real bash.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::testing::{ApiServer, Storage};
use support::*;

const CTL: &str = env!("CARGO_BIN_EXE_ctl");

/// The objects completions are asked about: pods (one with an init container and two
/// containers), Deployments, nodes and a second namespace.
const OBJECTS: &str = "\
apiVersion: v1
kind: Pod
metadata: {name: web-1}
spec:
  initContainers: [{name: init, image: busybox}]
  containers:
  - {name: app, image: nginx, ports: [{containerPort: 80}, {containerPort: 9090}]}
  - {name: sidecar, image: busybox}
---
apiVersion: v1
kind: Pod
metadata: {name: web-2}
spec:
  containers: [{name: app, image: nginx}]
---
apiVersion: v1
kind: Pod
metadata: {name: db-0}
spec:
  containers: [{name: pg, image: postgres}]
---
apiVersion: v1
kind: Pod
metadata: {name: d1-pod, labels: {app: d1}}
spec:
  containers: [{name: app, image: nginx, ports: [{containerPort: 8080}]}, {name: log, image: busybox}]
---
apiVersion: v1
kind: Namespace
metadata: {name: team-a}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: team-a}
---
apiVersion: v1
kind: Node
metadata: {name: node-1}
---
apiVersion: v1
kind: Node
metadata: {name: node-2}
";

fn deployment(name: &str) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: {name}}}\nspec:\n  selector: {{matchLabels: {{app: {name}}}}}\n  template:\n    metadata: {{labels: {{app: {name}}}}}\n    spec:\n      containers: [{{name: app, image: nginx}}]\n"
    )
}

/// A server with the objects, and `KUBECONFIG`'s value: its kubeconfig merged with a second
/// file naming another context, cluster and user.
fn cluster() -> (ApiServer, tempfile::TempDir, String) {
    let server = ApiServer::start(Storage::Embedded).unwrap();
    let manifests = [OBJECTS.to_string(), deployment("d1"), deployment("d2")].join("---\n");
    kubectl_stdin(&server, &["apply", "-f", "-"], &manifests);
    let dir = tempfile::tempdir().unwrap();
    let second = dir.path().join("second.kubeconfig");
    std::fs::write(
        &second,
        "apiVersion: v1\nkind: Config\nclusters:\n- name: other\n  cluster:\n    server: http://127.0.0.1:1\ncontexts:\n- name: second\n  context:\n    cluster: other\n    user: alice\nusers:\n- name: alice\n  user: {}\n",
    )
    .unwrap();
    let kubeconfig = std::env::join_paths([server.kubeconfig(), second]).unwrap().into_string().unwrap();
    (server, dir, kubeconfig)
}

fn complete_with(binary: &str, kubeconfig: &str, verb: &str, words: &[&str]) -> Output {
    // kubectl completes types from its discovery cache (`api-resources --cached`), which lives
    // for hours under ~/.kube/cache keyed by host and port: an earlier apiserver on the same
    // port would answer. A cache of its own starts empty.
    let cache = tempfile::tempdir().unwrap();
    Command::new(binary)
        .arg(verb)
        .args(words)
        .env("KUBECONFIG", kubeconfig)
        .env("KUBECACHEDIR", cache.path())
        .output()
        .unwrap_or_else(|err| panic!("cannot run {binary}: {err}"))
}

fn text(output: &Output) -> (String, String) {
    (String::from_utf8_lossy(&output.stdout).into_owned(), String::from_utf8_lossy(&output.stderr).into_owned())
}

/// What kubectl and ctl answer must be the same, stdout and stderr, byte for byte.
fn same(kubeconfig: &str, verb: &str, words: &[&str]) {
    let theirs = text(&complete_with("kubectl", kubeconfig, verb, words));
    let ours = text(&complete_with(CTL, kubeconfig, verb, words));
    assert_eq!(ours, theirs, "ctl {verb} {words:?} differs from kubectl");
}

#[test]
fn types_names_namespaces_and_containers_complete_as_kubectl_completes_them() {
    let (_server, _dir, kubeconfig) = cluster();
    let cases: &[&[&str]] = &[
        // Resource types, by every verb that takes them, and several at once.
        &["get", ""],
        &["get", "p"],
        &["get", "pods,se"],
        &["describe", ""],
        &["delete", "d"],
        &["edit", ""],
        &["label", "no"],
        &["annotate", ""],
        &["patch", "deployments."],
        &["get", "nosuch", ""],
        // Names after a type, less those given already; TYPE/NAME words.
        &["get", "pods", ""],
        &["get", "po", "w"],
        &["get", "pods", "web-1", ""],
        &["describe", "pods", ""],
        &["delete", "pods", "web-1", ""],
        &["label", "pods", ""],
        &["patch", "deploy", ""],
        &["get", "pod/"],
        &["get", "pod/w"],
        &["get", "deployment/d1", "d"],
        &["get", "deployment/d1", "deployment/"],
        &["get", "nodes,deploy", ""],
        // Commands that take only some types.
        &["expose", ""],
        &["expose", "deployment", "d1", ""],
        &["rollout", "status", ""],
        &["rollout", "status", "deployment", "d1", ""],
        &["rollout", "undo", "deployment/d1", ""],
        &["rollout", "pause", "deployment/d1", ""],
        &["set", "image", ""],
        &["taint", ""],
        &["taint", "node", ""],
        &["taint", "node/node-1", ""],
        // Nodes, pods and what has pods.
        &["cordon", ""],
        &["uncordon", "node-"],
        &["drain", ""],
        &["cordon", "node-1", ""],
        &["top", "pod", "w"],
        &["top", "node", ""],
        &["logs", ""],
        &["logs", "w"],
        &["logs", "pods/"],
        &["exec", "d"],
        &["port-forward", ""],
        &["port-forward", "web-1", ""],
        &["port-forward", "web-1", "8080"],
        // Containers.
        &["exec", "web-1", "-c", ""],
        &["exec", "web-1", "-c", "s"],
        &["exec", "pod/web-1", "-c", ""],
        &["exec", "deployment/d1", "-c", ""],
        &["port-forward", "deployment/d1", ""],
        // Namespaces, and names in the namespace chosen.
        &["get", "-n", ""],
        &["get", "--namespace", "kube-"],
        &["get", "--namespace=t"],
        &["-n", "team-a", "get", "cm", ""],
        &["get", "--namespace=team-a", "configmaps", ""],
        &["get", "-o", ""],
    ];
    for words in cases {
        same(&kubeconfig, "__complete", words);
    }
    // Both leave descriptions out alike, and offer the required --replicas first.
    same(&kubeconfig, "__completeNoDesc", &["scale", ""]);
    same(&kubeconfig, "__completeNoDesc", &["scale", "deployment/d1", ""]);
    same(&kubeconfig, "__completeNoDesc", &["get", "pods", "d"]);

    // kubectl takes a container as `logs`' second argument, ctl only as -c's value.
    let theirs = text(&complete_with("kubectl", &kubeconfig, "__complete", &["logs", "web-1", ""]));
    let ours = text(&complete_with(CTL, &kubeconfig, "__complete", &["logs", "web-1", "-c", ""]));
    assert_eq!(ours, theirs);
    assert_eq!(ours.0, "init\napp\nsidecar\n:4\n");
    // A workload's containers are those of a pod its selector picks.
    let ours = text(&complete_with(CTL, &kubeconfig, "__complete", &["exec", "deployment/d1", "-c", ""]));
    assert_eq!(ours.0, "app\nlog\n:4\n");
    let ours = text(&complete_with(CTL, &kubeconfig, "__complete", &["port-forward", "deployment/d1", ""]));
    assert_eq!(ours.0, "8080:8080\n:4\n");
}

/// Contexts, as kubectl lists them: its order is a Go map's, so the lines are compared sorted.
#[test]
fn contexts_complete_from_the_kubeconfig() {
    let (_server, _dir, kubeconfig) = cluster();
    let sorted = |output: Output| {
        let (stdout, stderr) = text(&output);
        let mut lines: Vec<String> = stdout.lines().map(str::to_string).collect();
        lines.sort();
        (lines, stderr)
    };
    for words in [&["--context", ""][..], &["--context", "s"], &["config", "use-context", ""], &["get", "pods", "--context="]] {
        let theirs = sorted(complete_with("kubectl", &kubeconfig, "__complete", words));
        let ours = sorted(complete_with(CTL, &kubeconfig, "__complete", words));
        assert_eq!(ours, theirs, "{words:?}");
    }
    let ours = text(&complete_with(CTL, &kubeconfig, "__complete", &["--context", ""]));
    assert_eq!(ours.0, "second\ntest\n:4\n");
    // The context chosen on the line is the one asked: `second`'s server is not there.
    let ours = text(&complete_with(CTL, &kubeconfig, "__complete", &["--context", "second", "get", "pods", ""]));
    assert_eq!(ours.0, ":4\n", "{ours:?}");
    assert!(ours.1.ends_with("Completion ended with directive: ShellCompDirectiveNoFileComp\n"), "{ours:?}");
}

/// A server that takes the connection and never answers must not hold the shell: the
/// completion gives up soon and offers nothing, as kubectl does.
#[test]
fn a_server_that_does_not_answer_ends_in_an_error_soon() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig: PathBuf = dir.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: silent\n  cluster:\n    server: http://{}\ncontexts:\n- name: silent\n  context:\n    cluster: silent\n    user: me\ncurrent-context: silent\nusers:\n- name: me\n  user: {{}}\n",
            listener.local_addr().unwrap()
        ),
    )
    .unwrap();
    let started = Instant::now();
    let output = complete_with(CTL, kubeconfig.to_str().unwrap(), "__complete", &["get", "pods", ""]);
    assert!(started.elapsed() < Duration::from_secs(20), "took {:?}", started.elapsed());
    assert_eq!(text(&output).0, ":4\n");
    drop(listener);
}

/// Runs the bash function of `ctl completion bash` on a command line as bash would hand it
/// over (the words, the cursor's word), and returns what it offers, one a line.
fn bash_completes(kubeconfig: &str, script: &Path, words: &[&str]) -> String {
    let quoted: Vec<String> = words.iter().map(|word| format!("'{word}'")).collect();
    let program = format!(
        "source {}\nCOMP_WORDS=({CTL} {})\nCOMP_CWORD=${{#COMP_WORDS[@]}}\n((COMP_CWORD--))\n_ctl\nprintf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
        script.display(),
        quoted.join(" ")
    );
    let output = Command::new("bash").arg("-c").arg(program).env("KUBECONFIG", kubeconfig).output().unwrap();
    assert!(output.status.success(), "{output:?}");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn the_bash_script_offers_what_ctl_answers() {
    let (_server, dir, kubeconfig) = cluster();
    let script = dir.path().join("ctl.bash");
    std::fs::write(&script, stdout_ok(Command::new(CTL).args(["completion", "bash"]).output().unwrap())).unwrap();
    assert_eq!(bash_completes(&kubeconfig, &script, &["get", "pods", ""]), "d1-pod\ndb-0\nweb-1\nweb-2\n");
    assert_eq!(bash_completes(&kubeconfig, &script, &["logs", "w"]), "web-1\nweb-2\n");
    assert_eq!(bash_completes(&kubeconfig, &script, &["get", "pod/w"]), "pod/web-1\npod/web-2\n");
    // Bash splits `--namespace=t` at the `=`; the value completes what follows it.
    assert_eq!(bash_completes(&kubeconfig, &script, &["get", "--namespace", "=", "t"]), "team-a\n");
    assert_eq!(bash_completes(&kubeconfig, &script, &["-n", "team-a", "get", "cm", ""]), "settings\n");
    // ...and `80:` at the colon: only what follows it is replaced.
    assert_eq!(bash_completes(&kubeconfig, &script, &["port-forward", "web-1", "80", ":", "9"]), "9090\n");
    // An error offers nothing.
    assert_eq!(bash_completes(&kubeconfig, &script, &["--context", "second", "get", "pods", ""]), "\n");
}

/// Runs the zsh function of `ctl completion zsh` on a command line, with zsh's completion
/// builtins replaced by stand-ins that print what they were handed (they work only inside a
/// completion widget, which a test cannot type TAB into).
fn zsh_completes(kubeconfig: &str, script: &Path, words: &[&str]) -> String {
    let quoted: Vec<String> = words.iter().map(|word| format!("'{word}'")).collect();
    let program = format!(
        r#"compdef() {{ : }}
compset() {{ [[ $1 == -P ]] && PREFIX=${{PREFIX#*=}} }}
_describe() {{ local name=$4; shift 4; print -r -- "${{(@P)name}}" "$*" }}
_files() {{ print -r -- files "$*" }}
source {}
words=({CTL} {})
CURRENT=${{#words}}
PREFIX=${{words[CURRENT]}}
_ctl
"#,
        script.display(),
        quoted.join(" ")
    );
    let output = Command::new("zsh").arg("-f").arg("-c").arg(program).env("KUBECONFIG", kubeconfig).output().unwrap();
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn the_zsh_script_offers_what_ctl_answers_with_descriptions() {
    let (_server, dir, kubeconfig) = cluster();
    let script = dir.path().join("_ctl");
    std::fs::write(&script, stdout_ok(Command::new(CTL).args(["completion", "zsh"]).output().unwrap())).unwrap();
    assert_eq!(zsh_completes(&kubeconfig, &script, &["get", "pods", ""]), "d1-pod db-0 web-1 web-2 \n");
    assert_eq!(zsh_completes(&kubeconfig, &script, &["get", "--namespace=t"]), "team-a \n");
    // Descriptions follow a colon, and `TYPE/` words get no space after them.
    assert_eq!(zsh_completes(&kubeconfig, &script, &["rollout", "pa"]), "pause:Pause a Deployment: changes to its template no longer roll out \n");
    assert_eq!(zsh_completes(&kubeconfig, &script, &["taint", "node/node-1", ""]), "node/ -S \n");
    // Nothing from ctl where files make sense: zsh completes file names.
    assert_eq!(zsh_completes(&kubeconfig, &script, &["apply", "-f", ""]), "files \n");
    assert_eq!(zsh_completes(&kubeconfig, &script, &["--context", "second", "get", "pods", ""]), "");
}

/// What fish offers for a command line (`complete -C`), with ctl found on $PATH as a user's.
fn fish_completes(kubeconfig: &str, script: &Path, line: &str) -> String {
    let directory = Path::new(CTL).parent().unwrap();
    let path = std::env::join_paths(std::iter::once(directory.to_path_buf()).chain(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()))).unwrap();
    let program = format!("source {}; complete -C '{line}'", script.display());
    let output = Command::new("fish").arg("-N").arg("-c").arg(program).env("KUBECONFIG", kubeconfig).env("PATH", path).output().unwrap_or_else(|err| panic!("fish is missing ({err}): scripts/setup.sh installs it"));
    assert!(output.status.success(), "{output:?}");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn the_fish_script_offers_what_ctl_answers_with_descriptions() {
    let (_server, dir, kubeconfig) = cluster();
    let script = dir.path().join("ctl.fish");
    std::fs::write(&script, stdout_ok(Command::new(CTL).args(["completion", "fish"]).output().unwrap())).unwrap();
    assert_eq!(fish_completes(&kubeconfig, &script, "ctl get pods "), "d1-pod\ndb-0\nweb-1\nweb-2\n");
    assert_eq!(fish_completes(&kubeconfig, &script, "ctl get --namespace=t"), "--namespace=team-a\n");
    assert_eq!(fish_completes(&kubeconfig, &script, "ctl rollout pa"), "pause\tPause a Deployment: changes to its template no longer roll out\n");
    assert_eq!(fish_completes(&kubeconfig, &script, "ctl exec web-1 -c s"), "sidecar\n");
    assert_eq!(fish_completes(&kubeconfig, &script, "ctl --context second get pods "), "");
}
