//! The interactive verbs end to end (issue 11) on a kind-style 3-node cluster: `exec` (piped
//! stdin, exit codes, `-c` and the default-container annotation, `-it` under a real
//! pseudo-terminal with resize and Ctrl-C), `attach`, `logs -f`, `port-forward` (100 parallel
//! requests, a closed port beside an open one), `cp` both ways and `top`, through kubectl 1.32 and
//! `ctl` (kubectl over WebSocket and, forced, its SPDY fallback), the Python client's `stream` and
//! kube-rs's `AttachedProcess` and `Portforwarder`; then
//! bad requests and 100 clients that vanish mid-session, after which no process, stream or file
//! descriptor is left on the kubelet or the apiserver.
//!
//! Needs on the host: kubectl, tmux, python3 with the `kubernetes` package (scripts/setup.sh).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::cell::RefCell;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::{Barrier, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{Background, Cluster, free_port, ok, run_timed, text};

const IMAGE: &str = "localhost/busybox:local";
const CLIENTS: [&str; 2] = ["kubectl", "ctl"];

/// One cluster at a time: the checks below time sessions and count CPU, and two clusters on a
/// 2-core machine would make both less like a user's.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn require(program: &str, args: &[&str]) {
    let found = Command::new(program).args(args).output().is_ok_and(|output| output.status.success());
    assert!(found, "{program} is needed on the host for these tests (scripts/setup.sh installs it)");
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn apply(cluster: &Cluster, object: &Value) {
    ok(cluster.kubectl_stdin(&["apply", "-f", "-"], &object.to_string()));
}

fn pod(name: &str, spec: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec})
}

/// A container running `script` under busybox's sh.
fn sh(name: &str, script: &str) -> Value {
    json!({"name": name, "image": IMAGE, "command": ["sh", "-c", script]})
}

fn describe(cluster: &Cluster, pod: &str) -> String {
    text(&cluster.kubectl(&["describe", "pod", pod]))
}

/// Waits until each pod runs with all its containers ready.
fn wait_running(cluster: &Cluster, pods: &[&str]) {
    for pod in pods {
        let running = || {
            let state = cluster.jsonpath(&["pod", pod], "{.status.phase} {.status.containerStatuses[*].ready}");
            let mut words = state.split_whitespace();
            words.next() == Some("Running") && words.clone().count() > 0 && words.all(|ready| ready == "true")
        };
        cluster.wait(&format!("pod {pod} running"), 120, running, || describe(cluster, pod));
    }
}

/// `client exec ...` with `input` on stdin, stopped after 60 s.
fn exec(cluster: &Cluster, client: &str, args: &[&str], input: &[u8]) -> support::Finished {
    let mut all = vec!["exec"];
    all.extend(args);
    run_timed(cluster.command(client, &all), input, 60)
}

/// Bytes that look random enough and are the same every run.
fn pattern(len: usize) -> Vec<u8> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

/// GET `path` with HTTP/1.0 from 127.0.0.1:`port` (a port-forward's local end): the body of a
/// 200 answer, or what went wrong.
fn http_via(port: u16, path: &str, seconds: u64) -> Result<Vec<u8>, String> {
    let timeout = Duration::from_secs(seconds);
    let address = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream = TcpStream::connect_timeout(&address, timeout).map_err(|err| format!("connect: {err}"))?;
    stream.set_read_timeout(Some(timeout)).map_err(|err| err.to_string())?;
    stream.write_all(format!("GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").as_bytes()).map_err(|err| format!("send: {err}"))?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).map_err(|err| format!("receive: {err} after {} bytes", response.len()))?;
    let end = response.windows(4).position(|window| window == b"\r\n\r\n").ok_or_else(|| format!("no HTTP answer: {:?}", String::from_utf8_lossy(&response)))?;
    let head = String::from_utf8_lossy(&response[..end]).into_owned();
    if !head.lines().next().is_some_and(|status| status.contains(" 200 ")) {
        return Err(format!("answered {head:?}"));
    }
    Ok(response[end + 4..].to_vec())
}

/// The SHA-256 of `data` in hex, from the host's `sha256sum`.
fn sha256(data: &[u8]) -> String {
    let finished = run_timed(Command::new("sha256sum"), data, 60);
    assert!(finished.exited(0), "sha256sum: {finished:?}");
    finished.stdout.split_whitespace().next().unwrap_or_default().to_string()
}

fn first_word(text: &str) -> String {
    text.split_whitespace().next().unwrap_or_default().to_string()
}

// ---------------------------------------------------------------------------------------------
// exec, attach, the terminal, logs -f
// ---------------------------------------------------------------------------------------------

#[test]
fn exec_attach_and_terminals_with_kubectl_ctl_python_and_kube_rs() {
    let _one = one_at_a_time();
    require("tmux", &["-V"]);
    require("python3", &["-c", "import kubernetes"]);
    let cluster = Cluster::create(3, None);
    apply(&cluster, &pod("shell", json!({"containers": [sh("main", "sleep 3600")]})));
    let mut two = pod(
        "two",
        json!({"containers": [
            {"name": "first", "image": IMAGE, "command": ["sleep", "3600"], "env": [{"name": "WHO", "value": "first"}]},
            {"name": "second", "image": IMAGE, "command": ["sleep", "3600"], "env": [{"name": "WHO", "value": "second"}]},
        ]}),
    );
    two["metadata"]["annotations"] = json!({"kubectl.kubernetes.io/default-container": "second"});
    apply(&cluster, &two);
    apply(&cluster, &pod("ticker", json!({"containers": [sh("ticker", "i=0; while true; do echo tick $i; i=$((i+1)); sleep 1; done")]})));
    apply(&cluster, &pod("catter", json!({"containers": [{"name": "cat", "image": IMAGE, "command": ["cat"], "stdin": true}]})));
    wait_running(&cluster, &["shell", "two", "ticker", "catter"]);

    // kubectl and the client libraries first, so that their findings come even when ctl's fail.
    exec_basics(&cluster, "kubectl");
    attach(&cluster, "kubectl");
    terminal(&cluster, "kubectl");
    follow_logs(&cluster, "kubectl");
    python_client(&cluster);
    kube_rs_exec_and_attach(&cluster);
    exec_basics(&cluster, "ctl");
    attach(&cluster, "ctl");
    terminal(&cluster, "ctl");
    follow_logs(&cluster, "ctl");
}

fn exec_basics(cluster: &Cluster, client: &str) {
    // Piped stdin reaches the process, and its end (EOF) ends the process and the session.
    let echoed = exec(cluster, client, &["-i", "shell", "--", "cat"], b"hello\n");
    assert!(echoed.exited(0), "{client} exec -i shell -- cat with stdin closed must end by itself, with 0: {echoed:?}");
    assert_eq!(echoed.stdout, "hello\n", "{client} exec -i: {echoed:?}");

    // A larger stream in, checked on the other side.
    let data = pattern(256 * 1024);
    let summed = exec(cluster, client, &["-i", "shell", "--", "sha256sum"], &data);
    assert!(summed.exited(0), "{client} exec -i shell -- sha256sum: {summed:?}");
    assert_eq!(first_word(&summed.stdout), sha256(&data), "256 KiB through {client} exec's stdin arrive whole");

    // And a larger stream out.
    let out = exec(cluster, client, &["shell", "--", "sh", "-c", "i=0; while [ $i -lt 20000 ]; do echo line-$i; i=$((i+1)); done"], b"");
    assert!(out.exited(0), "{client} exec with 20000 lines out: {:?} {}", out.code, out.stderr);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 20000, "{client} exec: every line out");
    assert!(lines.iter().enumerate().all(|(index, line)| *line == format!("line-{index}")), "{client} exec: lines in order");

    // stdout and stderr kept apart.
    let split = exec(cluster, client, &["shell", "--", "sh", "-c", "echo to-stdout; echo to-stderr >&2"], b"");
    assert!(split.exited(0), "{client}: {split:?}");
    assert_eq!(split.stdout, "to-stdout\n", "{client} exec: stdout alone on stdout");
    assert!(split.stderr.contains("to-stderr\n"), "{client} exec: stderr on stderr: {split:?}");

    // The exit code of the command is the client's.
    for code in [1, 3, 42] {
        let failed = exec(cluster, client, &["shell", "--", "sh", "-c", &format!("exit {code}")], b"");
        assert!(failed.exited(code), "{client} exec -- sh -c 'exit {code}' exits {code}: {failed:?}");
        if client == "kubectl" {
            assert!(failed.stderr.contains(&format!("command terminated with exit code {code}")), "{failed:?}");
        }
    }

    // kubectl's fallback to SPDY/3.1 (what it does when the WebSocket upgrade is refused, forced
    // here): stdin with its half-close, and the exit code.
    if client == "kubectl" {
        let spdy = |args: &[&str], input: &[u8]| {
            let mut command = cluster.command(client, args);
            command.env("KUBECTL_REMOTE_COMMAND_WEBSOCKETS", "false");
            run_timed(command, input, 60)
        };
        let echoed = spdy(&["exec", "-i", "shell", "--", "cat"], b"over-spdy\n");
        assert!(echoed.exited(0) && echoed.stdout == "over-spdy\n", "kubectl exec -i over SPDY: {echoed:?}");
        let failed = spdy(&["exec", "shell", "--", "sh", "-c", "echo out; echo err >&2; exit 3"], b"");
        assert!(failed.exited(3) && failed.stdout == "out\n" && failed.stderr.contains("err\n"), "kubectl exec over SPDY: {failed:?}");
    }

    // -c picks the container; without it the default-container annotation does.
    for (args, expected) in [
        (vec!["two", "-c", "first", "--", "sh", "-c", "echo $WHO"], "first\n"),
        (vec!["two", "-c", "second", "--", "sh", "-c", "echo $WHO"], "second\n"),
        (vec!["two", "--", "sh", "-c", "echo $WHO"], "second\n"),
    ] {
        let who = exec(cluster, client, &args, b"");
        assert!(who.exited(0), "{client} exec {args:?}: {who:?}");
        assert_eq!(who.stdout, expected, "{client} exec {args:?}");
    }
}

/// The numbers of the complete `tick N` lines (a line still arriving is left for later).
fn tick_numbers(output: &str) -> Vec<u64> {
    output.split_inclusive('\n').filter_map(|line| line.strip_suffix('\n')?.strip_prefix("tick ")?.trim().parse().ok()).collect()
}

fn attach(cluster: &Cluster, client: &str) {
    // The main process's output, live: what it prints from now on, not its log from the start.
    let logged = tick_numbers(&text(&cluster.kubectl(&["logs", "ticker", "--tail=1"])));
    let since = logged.last().copied().expect("the ticker has ticked");
    let mut ticks = Background::start(cluster.command(client, &["attach", "ticker"]));
    ticks.wait_stdout(&format!("three ticks through {client} attach"), 60, |out| tick_numbers(out).len() >= 3);
    let numbers = tick_numbers(&ticks.stdout());
    assert!(numbers[0] >= since, "{client} attach shows the process's output from now on, not a replay of its log from {since}: {numbers:?}");
    assert!(numbers.windows(2).all(|pair| pair[1] == pair[0] + 1), "{client} attach: consecutive ticks {numbers:?}");
    assert!(ticks.running(), "{client} attach keeps streaming");
    drop(ticks);

    // stdin to a container that asked for one (`stdin: true`); the container's stdin outlives
    // the client, so that the next one can attach again.
    for round in 0..2 {
        let line = format!("through-{client}-attach-{round}");
        let mut cat = Background::start(cluster.command(client, &["attach", "-i", "catter"]));
        cat.write(format!("{line}\n").as_bytes());
        cat.wait_stdout(&format!("cat echoing a line written to {client} attach -i (round {round})"), 60, |out| out.lines().any(|echoed| echoed == line));
    }
}

/// A tmux server of its own, for one pseudo-terminal session named `it`; killed when dropped.
struct Tmux {
    socket: String,
    config: PathBuf,
}

impl Tmux {
    fn new(cluster: &Cluster, label: &str) -> Self {
        let config = cluster.dir.path().join("tmux.conf");
        std::fs::write(&config, "set -g status off\nset -g history-limit 10000\n").unwrap();
        Self { socket: format!("{}-{label}", cluster.name), config }
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new("tmux").args(["-L", &self.socket, "-f"]).arg(&self.config).args(args).output().expect("tmux")
    }

    /// Types `line` and Enter.
    fn line(&self, line: &str) {
        ok(self.run(&["send-keys", "-t", "it", "-l", line]));
        ok(self.run(&["send-keys", "-t", "it", "Enter"]));
    }

    /// The screen and its history, one trimmed line each.
    fn lines(&self) -> Vec<String> {
        text(&self.run(&["capture-pane", "-p", "-t", "it", "-S", "-"])).lines().map(|line| line.trim_end().to_string()).collect()
    }

    /// Polls until a line of the screen is `expected` exactly; false after `seconds`.
    fn shows(&self, expected: &str, seconds: f64) -> bool {
        let deadline = Instant::now() + Duration::from_secs_f64(seconds);
        loop {
            if self.lines().iter().any(|line| line == expected) {
                return true;
            }
            if Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn wait_for(&self, what: &str, expected: &str, seconds: f64) {
        assert!(self.shows(expected, seconds), "{what}: no line {expected:?} within {seconds} s; the screen:\n{}", self.lines().join("\n"));
    }

    /// "rows columns", as `stty size` prints it.
    fn size(&self) -> String {
        text(&self.run(&["display-message", "-p", "-t", "it", "#{pane_height} #{pane_width}"])).trim().to_string()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.run(&["kill-server"]);
    }
}

/// `exec -it` under a real pseudo-terminal (tmux), driven by keys: the remote terminal has the
/// local one's size and follows its resize, Ctrl-C goes to the remote foreground process, and the
/// shell's exit code is the client's.
fn terminal(cluster: &Cluster, client: &str) {
    let program = if client == "ctl" {
        format!("KUBECONFIG={} {}", cluster.kubeconfig().display(), cluster.binaries.join("ctl").display())
    } else {
        format!("kubectl --kubeconfig={}", cluster.kubeconfig().display())
    };
    let tmux = Tmux::new(cluster, client);
    let session = format!("{program} exec -it shell -- sh; echo exited-with-$?; sleep 600");
    ok(tmux.run(&["new-session", "-d", "-s", "it", "-x", "100", "-y", "30", &session]));
    let prompt = || tmux.lines().iter().any(|line| line.ends_with('#'));
    cluster.wait(&format!("a shell prompt through {client} exec -it"), 60, prompt, || tmux.lines().join("\n"));

    let before = tmux.size();
    tmux.line("stty size");
    tmux.wait_for(&format!("{client} exec -it: the remote terminal has the local size"), &before, 20.0);
    tmux.line("echo $((6*7))");
    tmux.wait_for(&format!("{client} exec -it: a command typed in"), "42", 20.0);

    ok(tmux.run(&["resize-window", "-t", "it", "-x", "120", "-y", "40"]));
    cluster.wait("tmux resized", 10, || tmux.size() != before, || tmux.size());
    let after = tmux.size();
    // The client sends the new size when it gets SIGWINCH; ask until the remote side has it.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        tmux.line("stty size");
        if tmux.shows(&after, 2.0) {
            break;
        }
        assert!(Instant::now() < deadline, "{client} exec -it: the resize to {after} did not reach the remote terminal; the screen:\n{}", tmux.lines().join("\n"));
    }

    // Ctrl-C interrupts the remote foreground process and leaves the session up.
    tmux.line("sleep 300");
    let sleeping = || text(&cluster.kubectl(&["exec", "shell", "--", "ps"])).lines().any(|line| line.trim_end().ends_with("sleep 300"));
    cluster.wait(&format!("sleep 300 running under {client} exec -it"), 30, sleeping, || tmux.lines().join("\n"));
    ok(tmux.run(&["send-keys", "-t", "it", "C-c"]));
    tmux.line("echo after-interrupt");
    tmux.wait_for(&format!("{client} exec -it: Ctrl-C stops the remote command, not the session"), "after-interrupt", 20.0);
    assert!(!text(&cluster.kubectl(&["exec", "shell", "--", "ps"])).lines().any(|line| line.trim_end().ends_with("sleep 300")), "the interrupted sleep is gone");

    tmux.line("exit 5");
    tmux.wait_for(&format!("{client} exec -it ends with the shell's exit code"), "exited-with-5", 30.0);
}

/// `logs -f` streams through the apiserver while the container runs and ends when it stops.
fn follow_logs(cluster: &Cluster, client: &str) {
    let name = format!("follow-{client}");
    let script = "echo first; while [ ! -f /tmp/go ]; do sleep 0.2; done; echo last";
    apply(cluster, &pod(&name, json!({"restartPolicy": "Never", "containers": [sh("log", script)]})));
    wait_running(cluster, &[&name]);
    let mut follow = Background::start(cluster.command(client, &["logs", "-f", &name]));
    follow.wait_stdout(&format!("{client} logs -f: the first line"), 60, |out| out.contains("first\n"));
    assert!(follow.running(), "{client} logs -f waits for more while the container runs");
    ok(cluster.kubectl(&["exec", &name, "--", "touch", "/tmp/go"]));
    let finished = follow.finish(60);
    assert!(finished.exited(0), "{client} logs -f ends when the container stops: {finished:?}");
    assert_eq!(finished.stdout, "first\nlast\n", "{client} logs -f");
}

const PYTHON: &str = r#"
import sys
import kubernetes
from kubernetes import client, config, watch
from kubernetes.stream import stream

config.load_kube_config(config_file=sys.argv[1])
api = client.CoreV1Api()
name, namespace = sys.argv[2], sys.argv[3]
print("VERSION=%s" % kubernetes.__version__)

# A watch (the client before 37 sends watch=True), until it has seen the pod.
seen = []
w = watch.Watch()
for event in w.stream(api.list_namespaced_pod, namespace, timeout_seconds=30):
    seen.append(event["object"].metadata.name)
    if name in seen:
        w.stop()
print("WATCHED=%r" % (name in seen))

# Followed logs (follow=True), two lines of the ticker, then the stream is closed.
logs = api.read_namespaced_pod_log("ticker", namespace, follow=True, _preload_content=False)
lines = []
for line in logs.stream():
    lines.extend(l for l in line.decode().splitlines() if l.startswith("tick"))
    if len(lines) >= 2:
        break
logs.release_conn()
print("FOLLOWED=%r" % (len(lines) >= 2))

out = stream(api.connect_get_namespaced_pod_exec, name, namespace,
             command=["sh", "-c", "echo from-python; echo python-stderr >&2"],
             stderr=True, stdin=False, stdout=True, tty=False)
print("PRELOADED=%r" % out)

resp = stream(api.connect_get_namespaced_pod_exec, name, namespace,
              command=["sh", "-c", "echo before-exit; exit 7"],
              stderr=True, stdin=False, stdout=True, tty=False, _preload_content=False)
resp.run_forever(timeout=60)
print("STDOUT=%r" % resp.read_stdout())
print("RC=%r" % resp.returncode)

resp = stream(api.connect_get_namespaced_pod_exec, name, namespace,
              command=["sh", "-c", "read line; echo got-$line"],
              stderr=True, stdin=True, stdout=True, tty=False, _preload_content=False)
resp.write_stdin("py-line\n")
resp.run_forever(timeout=60)
print("STDIN=%r" % resp.read_stdout())
print("RC2=%r" % resp.returncode)
"#;

/// Where scripts/setup.sh installs the Python client 36 (the release Airflow pins), beside the
/// newest one.
const PYTHON_CLIENT_36: &str = "/opt/python-kubernetes-36";

/// The Python client's watch, followed logs and `stream(connect_get_namespaced_pod_exec, ...)`
/// (WebSocket, v4 or v5): the newest client, then 36, which writes booleans as `True`.
fn python_client(cluster: &Cluster) {
    python_client_at(cluster, None, "37.");
    python_client_at(cluster, Some(PYTHON_CLIENT_36), "36.");
}

fn python_client_at(cluster: &Cluster, path: Option<&str>, version: &str) {
    let mut command = Command::new("python3");
    command.args(["-c", PYTHON]).arg(cluster.kubeconfig()).args(["shell", "default"]);
    if let Some(path) = path {
        command.env("PYTHONPATH", path);
    }
    let run = run_timed(command, b"", 180);
    assert!(run.exited(0), "the Python client {version}x: {run:?}");
    let field = |key: &str| run.stdout.lines().find_map(|line| line.strip_prefix(&format!("{key}="))).map(str::to_string).unwrap_or_default();
    assert!(field("VERSION").starts_with(version), "the Python client {version}x is the one that ran: {run:?}");
    assert_eq!(field("WATCHED"), "True", "the Python client {version}x watches pods: {run:?}");
    assert_eq!(field("FOLLOWED"), "True", "the Python client {version}x follows logs: {run:?}");
    assert!(field("PRELOADED").contains("from-python"), "stream() returns the command's output: {run:?}");
    assert!(field("STDOUT").contains("before-exit"), "{run:?}");
    assert_eq!(field("RC"), "7", "returncode after run_forever: {run:?}");
    assert_eq!(field("STDIN"), "'got-py-line\\n'", "stdin through write_stdin: {run:?}");
    assert_eq!(field("RC2"), "0", "{run:?}");
}

async fn kube_client(cluster: &Cluster) -> kube::Client {
    let kubeconfig = kube::config::Kubeconfig::read_from(cluster.kubeconfig()).expect("kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &kube::config::KubeConfigOptions::default()).await.expect("client config");
    kube::Client::try_from(config).expect("client")
}

/// Reads from `reader` into `buffer` until it holds `needle`; false at EOF or the deadline.
async fn read_until(reader: &mut (impl tokio::io::AsyncRead + Unpin), buffer: &mut Vec<u8>, needle: &str, seconds: u64) -> bool {
    use tokio::io::AsyncReadExt;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(seconds);
    let mut chunk = vec![0u8; 16 * 1024];
    while !String::from_utf8_lossy(buffer).contains(needle) {
        match tokio::time::timeout_at(deadline, reader.read(&mut chunk)).await {
            Ok(Ok(read)) if read > 0 => buffer.extend_from_slice(&chunk[..read]),
            _ => return false,
        }
    }
    true
}

/// kube-rs's `Api::exec` and `Api::attach` (WebSocket): output, the exit Status, stdin closed
/// (v5), a TTY resized.
fn kube_rs_exec_and_attach(cluster: &Cluster) {
    use k8s_openapi::api::core::v1::Pod;
    use kube::api::{Api, AttachParams, TerminalSize};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::time::timeout;

    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let limit = Duration::from_secs(60);
        let pods: Api<Pod> = Api::namespaced(kube_client(cluster).await, "default");

        // stdout, stderr and a failure's exit code in the Status.
        let command = vec!["sh", "-c", "echo from-kube; echo kube-stderr >&2; exit 2"];
        let mut process = timeout(limit, pods.exec("shell", command, &AttachParams::default().stderr(true))).await.expect("kube-rs exec in time").expect("kube-rs exec");
        let (mut stdout, mut stderr) = (process.stdout().unwrap(), process.stderr().unwrap());
        let status = process.take_status().unwrap();
        let (mut out, mut err) = (String::new(), String::new());
        timeout(limit, async { tokio::try_join!(stdout.read_to_string(&mut out), stderr.read_to_string(&mut err)) }).await.expect("kube-rs exec output ends").unwrap();
        assert_eq!(out, "from-kube\n", "kube-rs exec stdout");
        assert_eq!(err, "kube-stderr\n", "kube-rs exec stderr");
        let status = timeout(limit, status).await.expect("a Status in time").expect("a Status on the error channel");
        assert_eq!(status.status.as_deref(), Some("Failure"), "{status:?}");
        assert_eq!(status.reason.as_deref(), Some("NonZeroExitCode"), "{status:?}");
        let cause = status.details.as_ref().and_then(|details| details.causes.as_ref()).and_then(|causes| causes.first()).cloned().unwrap_or_default();
        assert_eq!((cause.reason.as_deref(), cause.message.as_deref()), (Some("ExitCode"), Some("2")), "{status:?}");
        timeout(limit, process.join()).await.expect("kube-rs exec ends").expect("kube-rs exec task");

        // stdin, closed with v5's close signal: cat sees EOF and the command succeeds.
        let mut process = pods.exec("shell", vec!["cat"], &AttachParams::default().stdin(true).stderr(false)).await.expect("kube-rs exec with stdin");
        let mut stdin = process.stdin().unwrap();
        let mut stdout = process.stdout().unwrap();
        let status = process.take_status().unwrap();
        stdin.write_all(b"kube-stdin\n").await.unwrap();
        stdin.shutdown().await.unwrap();
        let mut out = String::new();
        timeout(limit, stdout.read_to_string(&mut out)).await.expect("cat ends once stdin is closed").unwrap();
        assert_eq!(out, "kube-stdin\n");
        let status = timeout(limit, status).await.expect("a Status in time").expect("a Status");
        assert_eq!(status.status.as_deref(), Some("Success"), "{status:?}");
        drop(stdin);
        timeout(limit, process.join()).await.expect("kube-rs exec ends").expect("kube-rs exec task");

        // A TTY resized through the resize channel.
        let mut process = pods.exec("shell", vec!["sh"], &AttachParams::interactive_tty()).await.expect("kube-rs exec -it");
        let mut stdin = process.stdin().unwrap();
        let mut stdout = process.stdout().unwrap();
        let mut sizes = process.terminal_size().unwrap();
        sizes.try_send(TerminalSize { width: 123, height: 45 }).unwrap();
        let mut screen = Vec::new();
        let mut resized = false;
        for _ in 0..15 {
            stdin.write_all(b"stty size\n").await.unwrap();
            if read_until(&mut stdout, &mut screen, "45 123", 2).await {
                resized = true;
                break;
            }
        }
        assert!(resized, "kube-rs: the TTY took the size sent: {:?}", String::from_utf8_lossy(&screen));
        // Taken before join(), which drops an untaken status receiver (kube-rs then reports the
        // status it could not deliver as an error).
        let status = process.take_status().unwrap();
        stdin.write_all(b"exit\n").await.unwrap();
        drop(stdin);
        drop(stdout);
        timeout(limit, process.join()).await.expect("kube-rs exec -it ends").expect("kube-rs exec -it task");
        assert_eq!(timeout(limit, status).await.expect("a Status in time").and_then(|status| status.status).as_deref(), Some("Success"));

        // attach: the main process's output.
        let mut attached = pods.attach("ticker", &AttachParams::default().stderr(false)).await.expect("kube-rs attach");
        let mut stdout = attached.stdout().unwrap();
        let mut seen = Vec::new();
        assert!(read_until(&mut stdout, &mut seen, "tick ", 30).await, "kube-rs attach shows the ticks: {:?}", String::from_utf8_lossy(&seen));
        attached.abort();
    });
}

// ---------------------------------------------------------------------------------------------
// port-forward, cp, top
// ---------------------------------------------------------------------------------------------

#[test]
fn port_forward_cp_and_top_with_kubectl_ctl_and_kube_rs() {
    let _one = one_at_a_time();
    let cluster = Cluster::create(3, None);
    let serve = "mkdir -p /www && echo hello-from-pod > /www/index.html && dd if=/dev/urandom of=/www/big bs=1M count=4 2>/dev/null && exec httpd -f -p 8080 -h /www";
    apply(&cluster, &pod("web", json!({"containers": [sh("web", serve)]})));
    let mut busy = sh("busy", "while true; do :; done");
    busy["resources"] = json!({"limits": {"cpu": "500m"}});
    apply(&cluster, &pod("busy", json!({"containers": [busy]})));
    apply(&cluster, &pod("idle", json!({"containers": [sh("idle", "sleep 3600")]})));
    wait_running(&cluster, &["web", "busy", "idle"]);
    let serving = || text(&cluster.kubectl(&["exec", "web", "--", "wget", "-q", "-O", "-", "http://127.0.0.1:8080/index.html"])) == "hello-from-pod\n";
    cluster.wait("httpd serving in the pod", 60, serving, || describe(&cluster, "web"));
    let big_sum = first_word(&ok(cluster.kubectl(&["exec", "web", "--", "sha256sum", "/www/big"])));

    port_forward(&cluster, "kubectl", &big_sum);
    copy(&cluster, "kubectl");
    top(&cluster, "kubectl");
    kube_rs_port_forward(&cluster);
    port_forward(&cluster, "ctl", &big_sum);
    copy(&cluster, "ctl");
    top(&cluster, "ctl");
}

/// Starts `client port-forward pod/web` with `ports` (`local:remote`) and waits until the first
/// answers HTTP.
fn start_forward(cluster: &Cluster, client: &str, ports: &[String], first_local: u16) -> Background {
    start_forward_with(cluster, client, ports, first_local, &[])
}

/// The same with environment variables set for the client.
fn start_forward_with(cluster: &Cluster, client: &str, ports: &[String], first_local: u16, env: &[(&str, &str)]) -> Background {
    let mut args = vec!["port-forward", "pod/web"];
    args.extend(ports.iter().map(String::as_str));
    let mut command = cluster.command(client, &args);
    command.envs(env.iter().copied());
    let mut forward = Background::start(command);
    forward.wait_output(&format!("{client} port-forward answering on {first_local}"), 60, |_, _| http_via(first_local, "/index.html", 5).is_ok());
    forward
}

/// `count` requests at once through `port`; the failures.
fn parallel_requests(port: u16, count: usize) -> Vec<String> {
    let barrier = Barrier::new(count);
    std::thread::scope(|scope| {
        let barrier = &barrier;
        let requests: Vec<_> = (0..count)
            .map(|_| {
                scope.spawn(move || {
                    barrier.wait();
                    http_via(port, "/index.html", 60)
                })
            })
            .collect();
        requests
            .into_iter()
            .filter_map(|request| match request.join().unwrap() {
                Ok(body) if body == b"hello-from-pod\n" => None,
                Ok(body) => Some(format!("wrong body {:?}", String::from_utf8_lossy(&body))),
                Err(err) => Some(err),
            })
            .collect()
    })
}

fn port_forward(cluster: &Cluster, client: &str, big_sum: &str) {
    let (open, closed) = {
        let first = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let second = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        (first.local_addr().unwrap().port(), second.local_addr().unwrap().port())
    };
    // Two ports at once: 8080 has httpd behind it, nothing listens on 8081.
    let mut forward = start_forward(cluster, client, &[format!("{open}:8080"), format!("{closed}:8081")], open);
    let listening = |stdout: &str| stdout.contains(&format!(":{closed} -> 8081"));
    if client == "kubectl" {
        forward.wait_stdout("kubectl port-forward listening on the second port", 30, listening);
    } else {
        forward.wait_stdout("ctl port-forward listening on the second port", 30, |stdout| listening(stdout) || TcpStream::connect(("127.0.0.1", closed)).is_ok());
    }

    let failures = parallel_requests(open, 100);
    assert!(failures.is_empty(), "{} of 100 parallel requests through {client} port-forward failed: {:?}\nstderr: {}", failures.len(), &failures[..failures.len().min(5)], forward.stderr());
    let big = http_via(open, "/big", 60).unwrap_or_else(|err| panic!("4 MiB through {client} port-forward: {err}"));
    assert_eq!(big.len(), 4 << 20, "4 MiB through {client} port-forward");
    assert_eq!(sha256(&big), big_sum, "4 MiB through {client} port-forward arrive unchanged");

    // The closed port: that connection fails (closed, no answer, no hang) and the error says so.
    let mut refused = TcpStream::connect(("127.0.0.1", closed)).unwrap();
    refused.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let _ = refused.write_all(b"GET / HTTP/1.0\r\n\r\n");
    let mut answer = Vec::new();
    let ended = refused.read_to_end(&mut answer);
    assert!(!matches!(&ended, Err(err) if matches!(err.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut)), "{client} port-forward: a connection to a closed port is closed, not left open");
    assert!(!answer.starts_with(b"HTTP/"), "nothing answers on 8081: {:?}", String::from_utf8_lossy(&answer));
    forward.wait_output(&format!("{client} port-forward reporting the closed port"), 30, |_, stderr| stderr.contains("8081"));

    if client == "kubectl" {
        // kubectl ≥ 1.23 closes its whole connection after any forwarding error and exits with
        // "lost connection to pod", against Kubernetes too (client-go portforward.go
        // handleConnection), so the tunnel that stays usable is shown with ctl and kube-rs; here
        // the server is shown to be fine for the next tunnel. That one is plain SPDY/3.1 (kubectl's
        // fallback, forced), where the first was SPDY tunneled in a WebSocket.
        drop(forward);
        let again = free_port();
        let forward = start_forward_with(cluster, client, &[format!("{again}:8080")], again, &[("KUBECTL_PORT_FORWARD_WEBSOCKETS", "false")]);
        let failures = parallel_requests(again, 20);
        assert!(failures.is_empty(), "a new kubectl port-forward (SPDY) after the error: {failures:?}\nstderr: {}", forward.stderr());
    } else {
        let failures = parallel_requests(open, 10);
        assert!(failures.is_empty(), "the {client} tunnel stays usable after an error on another port: {failures:?}\nstderr: {}", forward.stderr());
        assert!(forward.running(), "{client} port-forward goes on after an error on one connection: {}", forward.stderr());
    }
}

/// kube-rs's `Portforwarder` (WebSocket, one connection per port): the closed port's error
/// arrives on its error channel and the open port's stream stays usable after it.
fn kube_rs_port_forward(cluster: &Cluster) {
    use k8s_openapi::api::core::v1::Pod;
    use kube::api::Api;
    use tokio::io::AsyncWriteExt;
    use tokio::time::timeout;

    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let limit = Duration::from_secs(60);
        let pods: Api<Pod> = Api::namespaced(kube_client(cluster).await, "default");
        let mut forwarder = timeout(limit, pods.portforward("web", &[8080, 8081])).await.expect("kube-rs port-forward in time").expect("kube-rs port-forward");
        let error = forwarder.take_error(8081).unwrap();
        let message = timeout(limit, error).await.expect("an error for the closed port in time");
        assert!(message.as_deref().is_some_and(|message| !message.is_empty()), "kube-rs port-forward: an error for the closed port: {message:?}");
        let mut stream = forwarder.take_stream(8080).unwrap();
        stream.write_all(b"GET /index.html HTTP/1.0\r\nHost: localhost\r\n\r\n").await.unwrap();
        let mut answer = Vec::new();
        assert!(read_until(&mut stream, &mut answer, "hello-from-pod\n", 30).await, "kube-rs port-forward: the open port answers after the other's error: {:?}", String::from_utf8_lossy(&answer));
        assert!(String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 200 OK"), "{:?}", String::from_utf8_lossy(&answer));
        drop(stream);
        forwarder.abort();
    });
}

fn copy(cluster: &Cluster, client: &str) {
    let mut data = vec![0u8; 10 << 20];
    std::fs::File::open("/dev/urandom").unwrap().read_exact(&mut data).unwrap();
    let expected = sha256(&data);
    let local = cluster.dir.path().join(format!("upload-{client}.bin"));
    std::fs::write(&local, &data).unwrap();
    let remote_path = format!("/tmp/upload-{client}.bin");
    let remote = format!("web:{remote_path}");

    let up = run_timed(cluster.command(client, &["cp", &local.display().to_string(), &remote]), b"", 180);
    assert!(up.exited(0), "{client} cp of 10 MiB into the pod: {up:?}");
    let in_pod = ok(cluster.kubectl(&["exec", "web", "--", "sha256sum", &remote_path]));
    assert_eq!(first_word(&in_pod), expected, "{client} cp: the file in the pod has the local checksum");

    let back = cluster.dir.path().join(format!("download-{client}.bin"));
    let down = run_timed(cluster.command(client, &["cp", &remote, &back.display().to_string()]), b"", 180);
    assert!(down.exited(0), "{client} cp of 10 MiB out of the pod: {down:?}");
    let returned = std::fs::read(&back).unwrap_or_else(|err| panic!("{client} cp wrote {}: {err}", back.display()));
    assert_eq!(returned.len(), data.len(), "{client} cp out: the size");
    assert_eq!(sha256(&returned), expected, "{client} cp out: the checksum");
}

/// Millicores from a CPU(cores) column: `123m`, or cores.
fn millicores(field: &str) -> Option<u64> {
    match field.strip_suffix('m') {
        Some(millis) => millis.parse().ok(),
        None => field.parse::<f64>().ok().map(|cores| (cores * 1000.0) as u64),
    }
}

/// The CPU (millicores) and memory (MiB) on `name`'s row of `top` output.
fn top_row(output: &str, name: &str) -> Option<(u64, u64)> {
    let fields: Vec<&str> = output.lines().find(|line| line.split_whitespace().next() == Some(name))?.split_whitespace().collect();
    let cpu = millicores(fields.get(1)?)?;
    let memory = fields.iter().skip(2).find_map(|field| field.strip_suffix("Mi")?.parse().ok())?;
    Some((cpu, memory))
}

fn top(cluster: &Cluster, client: &str) {
    // Metrics come after two samples; until then `top` says they are not available yet.
    let last = RefCell::new(String::new());
    let busy_above_idle = || {
        let output = cluster.client(client, &["top", "pods"]);
        *last.borrow_mut() = format!("{}{}", text(&output), stderr(&output));
        match (top_row(&text(&output), "busy"), top_row(&text(&output), "idle"), top_row(&text(&output), "web")) {
            (Some((busy, _)), Some((idle, _)), Some(_)) => busy >= 100 && busy > idle,
            _ => false,
        }
    };
    cluster.wait(&format!("{client} top pods: the busy pod's CPU above the idle one's"), 120, busy_above_idle, || last.borrow().clone());

    let nodes = [cluster.node("control-plane"), cluster.node("worker"), cluster.node("worker2")];
    let busy_node = cluster.jsonpath(&["pod", "busy"], "{.spec.nodeName}");
    let all_nodes = || {
        let output = cluster.client(client, &["top", "nodes"]);
        let out = text(&output);
        *last.borrow_mut() = format!("{out}{}", stderr(&output));
        nodes.iter().all(|node| top_row(&out, node).is_some_and(|(cpu, memory)| cpu > 0 && memory > 0)) && top_row(&out, &busy_node).is_some_and(|(cpu, _)| cpu >= 100)
    };
    cluster.wait(&format!("{client} top nodes: every node, the busy pod's above 100m"), 120, all_nodes, || last.borrow().clone());
    if client == "ctl" {
        return;
    }

    // kubectl's other ways of asking, and the metrics API it reads.
    let sorted = ok(cluster.kubectl(&["top", "pods", "--sort-by=cpu"]));
    assert_eq!(sorted.lines().nth(1).and_then(|line| line.split_whitespace().next()), Some("busy"), "sorted by CPU: {sorted}");
    let one = ok(cluster.kubectl(&["top", "pod", "busy", "--containers"]));
    assert!(one.lines().any(|line| line.split_whitespace().take(2).eq(["busy", "busy"])), "top pod busy --containers: {one}");
    let percent = ok(cluster.kubectl(&["top", "nodes"]));
    let row: Vec<&str> = percent.lines().map(|line| line.split_whitespace().collect::<Vec<_>>()).find(|row| row.first() == Some(&busy_node.as_str())).unwrap_or_default();
    assert!(row.len() == 5 && row[2].ends_with('%') && row[4].ends_with('%'), "top nodes with percentages: {percent}");
    let raw: Value = serde_json::from_str(&ok(cluster.kubectl(&["get", "--raw", "/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/busy"]))).unwrap();
    assert_eq!((raw["kind"].as_str(), raw["apiVersion"].as_str()), (Some("PodMetrics"), Some("metrics.k8s.io/v1beta1")), "{raw}");
    assert_eq!(raw["metadata"]["name"], "busy", "{raw}");
    assert_eq!(raw["containers"][0]["name"], "busy", "{raw}");
    assert!(raw["containers"][0]["usage"]["cpu"].is_string() && raw["containers"][0]["usage"]["memory"].is_string() && raw["window"].is_string() && raw["timestamp"].is_string(), "{raw}");
    let listed: Value = serde_json::from_str(&ok(cluster.kubectl(&["get", "--raw", "/apis/metrics.k8s.io/v1beta1/nodes"]))).unwrap();
    assert_eq!(listed["kind"], "NodeMetricsList", "{listed}");
    assert_eq!(listed["items"].as_array().map(Vec::len), Some(3), "{listed}");
}

// ---------------------------------------------------------------------------------------------
// Bad requests, and clients that go away
// ---------------------------------------------------------------------------------------------

/// The server URL of the cluster's kubeconfig.
fn server(cluster: &Cluster) -> String {
    ok(cluster.kubectl(&["config", "view", "-o", "jsonpath={.clusters[0].cluster.server}"])).trim().to_string()
}

/// A WebSocket upgrade request (as kubectl's first try) to `path`, as the administrator: the
/// HTTP code and the body.
fn upgrade_request(cluster: &Cluster, server: &str, path: &str) -> (String, String) {
    let output = Command::new("curl")
        .args(["-sS", "-m", "10", "-o", "-", "-w", "\n%{http_code}"])
        .args(cluster.curl_credentials())
        .args(["-H", "Connection: Upgrade", "-H", "Upgrade: websocket", "-H", "Sec-WebSocket-Version: 13"])
        .args(["-H", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "-H", "Sec-WebSocket-Protocol: v5.channel.k8s.io"])
        .arg(format!("{server}{path}"))
        .output()
        .expect("curl");
    let out = text(&output);
    let (body, code) = out.rsplit_once('\n').unwrap_or(("", out.as_str()));
    (code.trim().to_string(), body.to_string())
}

/// The value of an unlabelled (or summed) gauge in Prometheus text.
fn gauge(metrics: &str, name: &str) -> Option<f64> {
    let values: Vec<f64> = metrics
        .lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let mut parts = line.split_whitespace();
            let series = parts.next()?;
            (series.split('{').next() == Some(name)).then(|| parts.next()?.parse().ok()).flatten()
        })
        .collect();
    (!values.is_empty()).then(|| values.iter().sum())
}

fn apiserver_streams(cluster: &Cluster) -> Option<f64> {
    gauge(&text(&cluster.kubectl(&["get", "--raw", "/metrics"])), "apiserver_streams_open")
}

fn kubelet_streams(cluster: &Cluster, node: &str) -> Option<f64> {
    // The kubelet serves cluster administrators alone, over HTTPS.
    let output = Command::new("curl").args(["-sS", "-m", "2", "-f"]).args(cluster.curl_credentials()).arg(format!("https://{}:10250/metrics", cluster.node_ip(node))).output().ok()?;
    gauge(&text(&output), "kubelet_streams_open")
}

/// Open file descriptors of `program` in the node container.
fn open_files(cluster: &Cluster, node: &str, program: &str) -> usize {
    let script = format!("ls /proc/$(pidof {program} | cut -d' ' -f1)/fd | wc -l");
    text(&cluster.docker(&["exec", node, "sh", "-c", &script])).trim().parse().unwrap_or(usize::MAX)
}

/// `cat` processes in the shell pod's container.
fn cats(cluster: &Cluster) -> usize {
    let ps = ok(cluster.kubectl(&["exec", "shell", "--", "ps", "-o", "comm"]));
    ps.lines().filter(|line| line.trim() == "cat").count()
}

#[test]
fn bad_requests_fail_at_once_and_vanished_clients_leave_nothing_behind() {
    let _one = one_at_a_time();
    let cluster = Cluster::create(3, None);
    let serve = "mkdir -p /www && echo ok > /www/index.html && httpd -p 8080 -h /www && exec sleep 3600";
    apply(&cluster, &pod("shell", json!({"containers": [sh("main", serve)]})));
    apply(&cluster, &pod("pending", json!({"nodeSelector": {"no-such-label": "anywhere"}, "containers": [sh("main", "sleep 3600")]})));
    apply(&cluster, &pod("nopull", json!({"containers": [{"name": "puller", "image": "localhost/no-such-image:1", "command": ["sleep", "3600"]}]})));
    wait_running(&cluster, &["shell"]);
    let pulling = || matches!(cluster.jsonpath(&["pod", "nopull"], "{.status.containerStatuses[0].state.waiting.reason}").as_str(), "ErrImagePull" | "ImagePullBackOff");
    cluster.wait("nopull failing to pull", 120, pulling, || describe(&cluster, "nopull"));
    assert_eq!(cluster.jsonpath(&["pod", "pending"], "{.spec.nodeName}"), "", "the pending pod stays unscheduled");

    // The Status the apiserver answers an upgrade request with, as kube-apiserver does.
    let server = server(&cluster);
    for (path, message) in [
        ("/api/v1/namespaces/default/pods/shell/exec?command=true&stdout=true&container=nope", "container nope is not valid for pod shell"),
        ("/api/v1/namespaces/default/pods/pending/exec?command=true&stdout=true", "pod pending does not have a host assigned"),
        ("/api/v1/namespaces/default/pods/shell/exec?command=true", "you must specify at least 1 of stdin, stdout, stderr"),
    ] {
        let (code, body) = upgrade_request(&cluster, &server, path);
        assert_eq!(code, "400", "{path}: {body}");
        let status: Value = serde_json::from_str(&body).unwrap_or_else(|err| panic!("{path}: a Status, not {body:?}: {err}"));
        assert_eq!((status["kind"].as_str(), status["status"].as_str(), status["reason"].as_str(), status["code"].as_u64()), (Some("Status"), Some("Failure"), Some("BadRequest"), Some(400)), "{path}: {status}");
        assert_eq!(status["message"], message, "{path}");
    }
    let (code, body) = upgrade_request(&cluster, &server, "/api/v1/namespaces/default/pods/no-such-pod/exec?command=true&stdout=true");
    assert_eq!(code, "404", "exec into a pod that does not exist: {body}");

    // Through the clients: an error that says what is wrong, at once, and no hang.
    // kubectl prints the server's message; ctl's may be its own, but names what is wrong.
    for client in CLIENTS {
        for (args, server_says, names) in [
            (vec!["shell", "-c", "nope", "--", "true"], "container nope is not valid for pod shell", "nope"),
            (vec!["pending", "--", "true"], "does not have a host assigned", "pending"),
            (vec!["nopull", "--", "true"], "puller", "puller"),
            (vec!["shell", "--", "no-such-command"], "no-such-command", "no-such-command"),
        ] {
            let failed = exec(&cluster, client, &args, b"");
            assert!(!failed.timed_out && failed.elapsed < Duration::from_secs(20), "{client} exec {args:?} answers at once: {failed:?}");
            assert!(failed.code.is_some_and(|code| code != 0), "{client} exec {args:?} fails: {failed:?}");
            let says = if client == "kubectl" { server_says } else { names };
            assert!(failed.stderr.contains(says), "{client} exec {args:?} says why (mentions {says:?}): {failed:?}");
        }
    }

    // Clients killed (SIGKILL) in the middle of a session: 100 `exec -i ... cat` through kubectl,
    // 10 through ctl, 10 kubectl port-forwards with a connection open. Before: the counts.
    let node = cluster.jsonpath(&["pod", "shell"], "{.spec.nodeName}");
    let control_plane = cluster.node("control-plane");
    ok(cluster.kubectl(&["exec", "shell", "--", "true"]));
    let baseline_cats = cats(&cluster);
    let idle = || apiserver_streams(&cluster) == Some(0.0) && kubelet_streams(&cluster, &node) == Some(0.0);
    let gauges = || format!("apiserver_streams_open {:?} (apiserver /metrics), kubelet_streams_open {:?} (kubelet :10250/metrics)", apiserver_streams(&cluster), kubelet_streams(&cluster, &node));
    cluster.wait("both stream gauges served, at 0 with no session", 30, idle, gauges);
    let (kubelet_files, apiserver_files) = (open_files(&cluster, &node, "kubelet"), open_files(&cluster, &control_plane, "apiserver"));
    assert!(kubelet_files < usize::MAX && apiserver_files < usize::MAX, "the kubelet's and apiserver's descriptors counted");

    let mut sessions = 0;
    for (batch, client) in std::iter::repeat_n("kubectl", 10).chain(["ctl"]).enumerate() {
        let mut running: Vec<(String, Background)> = (0..10)
            .map(|index| {
                let mut session = Background::start(cluster.command(client, &["exec", "-i", "shell", "--", "cat"]));
                let line = format!("ping-{batch}-{index}");
                session.write(format!("{line}\n").as_bytes());
                (line, session)
            })
            .collect();
        for (line, session) in &mut running {
            session.wait_stdout(&format!("{client} exec session {line} up"), 60, |out| out.contains(line.as_str()));
        }
        if batch == 0 {
            // While they are up, the counts see them: they measure something.
            assert!(cats(&cluster) >= baseline_cats + 10, "ten cats while ten sessions are up");
            assert!(apiserver_streams(&cluster).is_some_and(|open| open >= 10.0), "apiserver_streams_open with ten sessions up: {:?}", apiserver_streams(&cluster));
            assert!(kubelet_streams(&cluster, &node).is_some_and(|open| open >= 10.0), "kubelet_streams_open with ten sessions up: {:?}", kubelet_streams(&cluster, &node));
        }
        sessions += running.len();
        drop(running);
    }
    assert_eq!(sessions, 110);
    for _ in 0..10 {
        let port = free_port();
        let mut forward = Background::start(cluster.command("kubectl", &["port-forward", "pod/shell", &format!("{port}:8080")]));
        forward.wait_output("kubectl port-forward to the shell pod answering", 60, |_, _| http_via(port, "/index.html", 5).is_ok());
        // A connection in the middle of a request when the client goes.
        let mut pending = TcpStream::connect(("127.0.0.1", port)).unwrap();
        pending.write_all(b"GET /index.html HTTP/1.0\r\n").unwrap();
        std::thread::sleep(Duration::from_millis(200));
        drop(forward);
        drop(pending);
    }

    // After: everything back where it was.
    let state = || {
        format!(
            "cat processes {} (baseline {baseline_cats}), apiserver_streams_open {:?}, kubelet_streams_open {:?}, kubelet fds {} (baseline {kubelet_files}), apiserver fds {} (baseline {apiserver_files})",
            cats(&cluster),
            apiserver_streams(&cluster),
            kubelet_streams(&cluster, &node),
            open_files(&cluster, &node, "kubelet"),
            open_files(&cluster, &control_plane, "apiserver"),
        )
    };
    let clean = || {
        cats(&cluster) == baseline_cats
            && apiserver_streams(&cluster) == Some(0.0)
            && kubelet_streams(&cluster, &node) == Some(0.0)
            && open_files(&cluster, &node, "kubelet") <= kubelet_files + 30
            && open_files(&cluster, &control_plane, "apiserver") <= apiserver_files + 30
    };
    cluster.wait("nothing left behind by 120 vanished clients", 60, clean, state);

    // And the pod and the paths through to it still work.
    let echoed = exec(&cluster, "kubectl", &["-i", "shell", "--", "cat"], b"still-there\n");
    assert!(echoed.exited(0) && echoed.stdout == "still-there\n", "{echoed:?}");
}
