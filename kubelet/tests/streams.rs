//! exec, attach and port-forward through the real apiserver to the kubelet and containerd's
//! streaming server, driven by kubectl over each protocol it speaks: WebSocket first (v5 exec,
//! SPDY tunnelled in WebSocket for port-forward) and SPDY when told to fall back.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::{Read, Write};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use serde_json::json;
use support::{Node, busybox, condition};

/// kubectl with `env` set (the protocol switches), `input` on stdin.
fn kubectl(node: &Node, env: &[(&str, &str)], input: Option<&[u8]>, args: &[&str]) -> Output {
    let mut command = Command::new("kubectl");
    command.arg(format!("--kubeconfig={}", node.server.kubeconfig().display())).args(args).envs(env.iter().copied());
    command.stdin(if input.is_some() { Stdio::piped() } else { Stdio::null() }).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = command.spawn().expect("kubectl");
    if let Some(input) = input {
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(input).expect("write stdin");
    }
    wait_bounded(child, Duration::from_secs(60))
}

/// Waits for the child (reading its output as it comes), killing it and failing after
/// `limit`: a session that never ends is the bug these tests look for.
fn wait_bounded(child: std::process::Child, limit: Duration) -> Output {
    let pid = child.id().to_string();
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || sender.send(child.wait_with_output().expect("output")));
    match receiver.recv_timeout(limit) {
        Ok(output) => output,
        Err(_) => {
            let _ = Command::new("kill").args(["-9", &pid]).status();
            let output = receiver.recv().expect("output");
            let shown = &output.stdout[..output.stdout.len().min(2000)];
            panic!("kubectl did not finish within {limit:?} ({} bytes out): {}{}", output.stdout.len(), String::from_utf8_lossy(shown), String::from_utf8_lossy(&output.stderr));
        }
    }
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

const WEBSOCKET: &[(&str, &str)] = &[];
const SPDY: &[(&str, &str)] = &[("KUBECTL_REMOTE_COMMAND_WEBSOCKETS", "false"), ("KUBECTL_PORT_FORWARD_WEBSOCKETS", "false")];

#[tokio::test(flavor = "multi_thread")]
async fn exec_and_attach_over_websocket_and_spdy() {
    let node = Node::start().await;
    let mut two = busybox("two", "echo started; i=0; while true; do echo tick $i; i=$((i+1)); sleep 1; done");
    two["metadata"]["annotations"] = json!({"kubectl.kubernetes.io/default-container": "side"});
    two["spec"]["containers"].as_array_mut().unwrap().push(json!({"name": "side", "image": "localhost/busybox:local", "command": ["sleep", "3600"]}));
    node.run_pod(two).await;
    node.wait_pod("two", "Ready", 60, |pod| condition(pod, "Ready").as_deref() == Some("True")).await;

    for (protocol, env) in [("websocket", WEBSOCKET), ("spdy", SPDY)] {
        // stdin is piped in and closed: cat ends, and so does the session.
        let piped = kubectl(&node, env, Some(b"hello\nworld\n"), &["exec", "-i", "two", "-c", "main", "--", "cat"]);
        assert!(piped.status.success(), "{protocol}: {}\nkubelet log:\n{}", stderr(&piped), node.log_tail());
        assert_eq!(stdout(&piped), "hello\nworld\n", "{protocol}");
        // Exit codes come back as kubectl's own.
        let failed = kubectl(&node, env, None, &["exec", "two", "-c", "main", "--", "sh", "-c", "echo out; echo err >&2; exit 3"]);
        assert_eq!(failed.status.code(), Some(3), "{protocol}: {}", stderr(&failed));
        assert_eq!(stdout(&failed), "out\n", "{protocol}");
        assert!(stderr(&failed).contains("err\n"), "{protocol}: {}", stderr(&failed));
        // Without -c, the default-container annotation picks the container.
        let default = kubectl(&node, env, None, &["exec", "two", "--", "sh", "-c", "cat /proc/1/cmdline | tr '\\0' ' '"]);
        assert_eq!(stdout(&default).trim(), "sleep 3600", "{protocol}: {}", stderr(&default));
        // A large output arrives whole.
        let big = kubectl(&node, env, None, &["exec", "two", "-c", "main", "--", "sh", "-c", "head -c 3000000 /dev/zero | tr '\\0' x"]);
        assert_eq!(big.stdout.len(), 3_000_000, "{protocol}: {}", stderr(&big));
        // A large input too (no flow-control stall).
        let input = vec![b'y'; 2_000_000];
        let counted = kubectl(&node, env, Some(&input), &["exec", "-i", "two", "-c", "main", "--", "wc", "-c"]);
        assert_eq!(stdout(&counted).trim(), "2000000", "{protocol}: {}", stderr(&counted));
        // attach follows the main process's output.
        let mut attach = Command::new("kubectl")
            .arg(format!("--kubeconfig={}", node.server.kubeconfig().display()))
            .args(["attach", "two", "-c", "main"])
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("kubectl attach");
        let mut out = attach.stdout.take().expect("stdout");
        let mut seen = Vec::new();
        let mut chunk = [0u8; 256];
        while !String::from_utf8_lossy(&seen).contains("tick") {
            let read = out.read(&mut chunk).expect("read attach");
            assert!(read > 0, "{protocol}: attach ended early: {}", String::from_utf8_lossy(&seen));
            seen.extend_from_slice(&chunk[..read]);
        }
        let _ = attach.kill();
        let _ = attach.wait();
    }

    // The Python client (v5 over WebSocket): text frames for its str input, the exit code.
    let script = r#"
import sys
from kubernetes import client, config
from kubernetes.stream import stream
config.load_kube_config(config_file=sys.argv[1])
resp = stream(client.CoreV1Api().connect_get_namespaced_pod_exec, "two", "default", container="main",
              command=["sh", "-c", "read line; echo got-$line; exit 4"], stderr=True, stdin=True, stdout=True, tty=False,
              _preload_content=False)
resp.write_stdin("py-line\n")
resp.run_forever(timeout=30)
print(resp.read_stdout().strip(), resp.returncode)
"#;
    let python = Command::new("python3").args(["-c", script]).arg(node.server.kubeconfig()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("python3");
    let python = wait_bounded(python, Duration::from_secs(60));
    assert_eq!(stdout(&python).trim(), "got-py-line 4", "{}", stderr(&python));

    // Bad input: a container the pod does not have, and a pod that is not there.
    let missing = kubectl(&node, WEBSOCKET, None, &["exec", "two", "-c", "nope", "--", "true"]);
    assert!(!missing.status.success());
    assert!(stderr(&missing).contains("container nope is not valid for pod two"), "{}", stderr(&missing));
    let absent = kubectl(&node, WEBSOCKET, None, &["exec", "absent", "--", "true"]);
    assert!(stderr(&absent).contains("pods \"absent\" not found"), "{}", stderr(&absent));

    // Clients that vanish mid-session (killed with their stdin still open) leave no process in
    // the container and no session open in the kubelet or the apiserver.
    let cats = || kubectl(&node, WEBSOCKET, None, &["exec", "two", "-c", "main", "--", "sh", "-c", "ps -o comm | grep -c '^cat$' || true"]);
    assert_eq!(stdout(&cats()).trim(), "0");
    for (protocol, env) in [("websocket", WEBSOCKET), ("spdy", SPDY)] {
        let sessions: Vec<std::process::Child> = (0..10)
            .map(|_| {
                Command::new("kubectl")
                    .arg(format!("--kubeconfig={}", node.server.kubeconfig().display()))
                    .args(["exec", "-i", "two", "-c", "main", "--", "cat"])
                    .envs(env.iter().copied())
                    .stdin(Stdio::piped())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .expect("kubectl")
            })
            .collect();
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while stdout(&cats()).trim() != "10" {
            assert!(std::time::Instant::now() < deadline, "{protocol}: the 10 sessions did not start: {}", stdout(&cats()));
            std::thread::sleep(Duration::from_millis(200));
        }
        for mut session in sessions {
            let _ = session.kill();
            let _ = session.wait();
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while stdout(&cats()).trim() != "0" {
            assert!(std::time::Instant::now() < deadline, "{protocol}: processes left behind: {}", stdout(&cats()));
            std::thread::sleep(Duration::from_millis(200));
        }
        assert_eq!(node.kubelet_streams_open().await, 0, "{protocol}");
        assert_eq!(node.apiserver_streams_open().await, 0, "{protocol}");
    }
}

/// `kubectl port-forward` with `env`, to `ports` (`LOCAL:REMOTE`), until dropped.
struct Forward(std::process::Child);

impl Forward {
    fn start(node: &Node, env: &[(&str, &str)], pod: &str, ports: &[String]) -> Self {
        let mut child = Command::new("kubectl")
            .arg(format!("--kubeconfig={}", node.server.kubeconfig().display()))
            .args(["port-forward", pod])
            .args(ports)
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("kubectl port-forward");
        // It says "Forwarding from ..." once per port when it listens.
        let mut out = child.stdout.take().expect("stdout");
        let mut seen = String::new();
        let mut chunk = [0u8; 512];
        while seen.matches("Forwarding from 127.0.0.1").count() < ports.len() {
            let read = out.read(&mut chunk).expect("read");
            assert!(read > 0, "port-forward ended: {seen}");
            seen.push_str(&String::from_utf8_lossy(&chunk[..read]));
        }
        // Keep draining its output so that it never blocks on a full pipe.
        std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
        Self(child)
    }
}

impl Drop for Forward {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn get(port: u16, path: &str) -> Result<String, String> {
    let output = Command::new("curl").args(["-sS", "-m", "10", "-f", &format!("http://127.0.0.1:{port}{path}")]).output().map_err(|err| err.to_string())?;
    if output.status.success() { Ok(stdout(&output)) } else { Err(stderr(&output)) }
}

#[tokio::test(flavor = "multi_thread")]
async fn port_forward_over_the_websocket_tunnel_and_spdy() {
    let node = Node::start().await;
    node.run_pod(busybox("web", "mkdir -p /www && seq 1 20000 > /www/big && echo hello > /www/index.html && httpd -f -p 8080 -h /www")).await;
    node.wait_running("web").await;
    let expected_big: String = (1..=20000).map(|n| format!("{n}\n")).collect();

    for (protocol, env) in [("websocket", WEBSOCKET), ("spdy", SPDY)] {
        let local = common::testing::free_port().expect("port");
        let forward = Forward::start(&node, env, "web", &[format!("{local}:8080")]);
        // The server may take a moment to listen; the first answer says it does.
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while get(local, "/index.html").is_err() {
            assert!(std::time::Instant::now() < deadline, "{protocol}: no answer through the forward");
            std::thread::sleep(Duration::from_millis(200));
        }
        // 100 requests at once, each its own connection through the one tunnel.
        let answers: Vec<Result<String, String>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..100).map(|n| scope.spawn(move || get(local, if n % 10 == 0 { "/big" } else { "/index.html" }))).collect();
            handles.into_iter().map(|handle| handle.join().expect("thread")).collect()
        });
        for (n, answer) in answers.iter().enumerate() {
            let expected = if n % 10 == 0 { expected_big.as_str() } else { "hello\n" };
            assert_eq!(answer.as_deref(), Ok(expected), "{protocol}: request {n}");
        }
        drop(forward);
    }

    // A port nothing listens on: the connection fails, and kubectl reports it as on Kubernetes
    // (where kubectl 1.32 then ends the whole forward).
    let local = common::testing::free_port().expect("port");
    let forward = Forward::start(&node, WEBSOCKET, "web", &[format!("{local}:9999")]);
    assert!(get(local, "/").is_err());
    drop(forward);
    assert_eq!(node.kubelet_streams_open().await, 0);
}

/// `kubectl top` CPU in millicores from its table (`124m`).
fn millicores(cell: &str) -> u64 {
    cell.trim_end_matches('m').parse().unwrap_or_else(|_| panic!("cpu cell {cell:?}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn top_shows_what_pods_and_the_node_use() {
    let node = Node::start().await;
    node.run_pod(busybox("busy", "while true; do :; done")).await;
    node.run_pod(busybox("idle", "sleep 3600")).await;
    node.wait_running("busy").await;
    node.wait_running("idle").await;
    // Two samples are needed for a rate; until then kubectl says the metrics are not there.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let table = loop {
        let top = node.kubectl(&["top", "pods", "--no-headers"]);
        if top.status.success() && stdout(&top).lines().count() == 2 {
            break stdout(&top);
        }
        assert!(std::time::Instant::now() < deadline, "no pod metrics: {}{}", stdout(&top), stderr(&top));
        std::thread::sleep(Duration::from_millis(500));
    };
    let row = |name: &str| table.lines().find(|line| line.starts_with(name)).map(|line| line.split_whitespace().map(str::to_string).collect::<Vec<_>>()).expect("row");
    let (busy, idle) = (row("busy"), row("idle"));
    assert!(millicores(&busy[1]) >= 300, "a spinning shell uses most of a core: {table}");
    assert!(millicores(&idle[1]) < millicores(&busy[1]) / 10, "{table}");
    assert!(busy[2].ends_with("Mi") && idle[2].ends_with("Mi"), "{table}");

    let nodes = node.kubectl(&["top", "nodes", "--no-headers"]);
    let line = stdout(&nodes);
    let cells: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(cells.first(), Some(&node.name.as_str()), "{line}{}", stderr(&nodes));
    assert!(millicores(cells[1]) >= millicores(&busy[1]) / 2, "the node's CPU includes the busy pod's: {line}");
    // metrics.k8s.io as clients read it directly.
    let raw = node.kubectl(&["get", "--raw", "/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/busy"]);
    let metrics: serde_json::Value = serde_json::from_slice(&raw.stdout).expect("PodMetrics");
    assert_eq!((metrics["kind"].as_str(), metrics["containers"][0]["name"].as_str()), (Some("PodMetrics"), Some("main")));
    assert_eq!(metrics["window"], "5s");
    let missing = node.kubectl(&["top", "pod", "absent"]);
    assert!(stderr(&missing).contains("podmetrics.metrics.k8s.io \"default/absent\" not found"), "{}", stderr(&missing));
}
