//! Interactive verbs benchmark on a 2-node kind-style cluster: port-forward throughput (a 64 MiB
//! file from busybox httpd in a pod on the worker, through `kubectl port-forward` and `ctl
//! port-forward`: host → apiserver → kubelet → containerd → pod) beside a direct download of the
//! same file from the pod IP inside the node containers, in the same run; and the round trip of
//! `exec POD -- true` (p50/p99) through kubectl and ctl, beside a `kubectl get` that opens no
//! stream. Figures only, no assertions on them.
//!
//! Run: `cargo bench -p e2e --bench interactive` (`-- --quick` for fewer runs).

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/support/mod.rs"]
mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use support::{Background, Cluster, free_port, ok, text};

const IMAGE: &str = "localhost/busybox:local";
const BIG_MIB: usize = 64;

/// GETs `path` from 127.0.0.1:`port` with HTTP/1.0 and counts the body's bytes without keeping them.
fn download(port: u16, path: &str) -> anyhow::Result<usize> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(120)))?;
    stream.write_all(format!("GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").as_bytes())?;
    let mut buffer = vec![0u8; 256 * 1024];
    let mut head = Vec::new();
    let mut body = 0usize;
    loop {
        let read = stream.read(&mut buffer)?;
        if read == 0 {
            break;
        }
        if body == 0 && !head.ends_with(b"\r\n\r\n") {
            head.extend_from_slice(&buffer[..read]);
            if let Some(end) = head.windows(4).position(|window| window == b"\r\n\r\n") {
                ensure!(head.starts_with(b"HTTP/1.0 200") || head.starts_with(b"HTTP/1.1 200"), "answered {:?}", String::from_utf8_lossy(&head[..end]));
                body = head.len() - end - 4;
                head.truncate(end + 4);
            }
        } else {
            body += read;
        }
    }
    ensure!(head.ends_with(b"\r\n\r\n"), "no HTTP answer");
    Ok(body)
}

/// MiB/s of `runs` downloads of the big file from the pod IP, with the node's busybox wget, timed
/// inside the node (so that `docker exec` is not counted).
fn direct(cluster: &Cluster, node: &str, ip: &str, runs: usize) -> anyhow::Result<f64> {
    let script = format!(
        "s=$(cut -d' ' -f1 /proc/uptime); i=0; while [ $i -lt {runs} ]; do wget -q -O /dev/null http://{ip}:8080/big || exit 1; i=$((i+1)); done; \
         e=$(cut -d' ' -f1 /proc/uptime); echo $s $e"
    );
    let output = cluster.docker(&["exec", node, "sh", "-c", &script]);
    ensure!(output.status.success(), "wget in {node}: {}", String::from_utf8_lossy(&output.stderr));
    let times: Vec<f64> = text(&output).split_whitespace().filter_map(|time| time.parse().ok()).collect();
    ensure!(times.len() == 2, "no times from {node}: {}", text(&output));
    let seconds = (times[1] - times[0]).max(0.01);
    Ok((runs * BIG_MIB) as f64 / seconds)
}

/// MiB/s of `runs` downloads through `client port-forward`, one connection each.
fn through_port_forward(cluster: &Cluster, client: &str, runs: usize) -> anyhow::Result<f64> {
    let port = free_port();
    let mut forward = Background::start(cluster.command(client, &["port-forward", "pod/web", &format!("{port}:8080")]));
    let deadline = Instant::now() + Duration::from_secs(60);
    while download(port, "/ready").is_err() {
        if !forward.running() || Instant::now() > deadline {
            bail!("{client} port-forward did not come up: {}", forward.stderr());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    download(port, "/big").context("warm-up download")?;
    let started = Instant::now();
    for _ in 0..runs {
        let bytes = download(port, "/big")?;
        ensure!(bytes == BIG_MIB << 20, "{client} port-forward gave {bytes} bytes");
    }
    Ok((runs * BIG_MIB) as f64 / started.elapsed().as_secs_f64())
}

/// Wall times of `runs` runs of `command()` that succeed, sorted.
fn latencies(runs: usize, mut command: impl FnMut() -> Command) -> anyhow::Result<Vec<Duration>> {
    for _ in 0..2 {
        command().output()?;
    }
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let mut command = command();
        let started = Instant::now();
        let output = command.output()?;
        times.push(started.elapsed());
        ensure!(output.status.success(), "{command:?}: {}", String::from_utf8_lossy(&output.stderr));
    }
    times.sort();
    Ok(times)
}

fn percentile(sorted: &[Duration], fraction: f64) -> f64 {
    let index = ((fraction * sorted.len() as f64).ceil() as usize).saturating_sub(1).min(sorted.len() - 1);
    sorted[index].as_secs_f64() * 1000.0
}

fn report<T>(label: &str, result: anyhow::Result<T>, show: impl Fn(&T) -> String) -> Option<T> {
    match result {
        Ok(value) => {
            println!("  {label:<48} {}", show(&value));
            Some(value)
        }
        Err(err) => {
            println!("  {label:<48} failed: {err:#}");
            None
        }
    }
}

fn main() {
    let quick = std::env::args().any(|arg| arg == "--quick");
    let (downloads, execs) = if quick { (2, 10) } else { (5, 50) };
    let cluster = Cluster::create(2, None);
    let worker = cluster.node("worker");
    let control_plane = cluster.node("control-plane");
    let serve = format!("mkdir -p /www && dd if=/dev/urandom of=/www/big bs=1M count={BIG_MIB} 2>/dev/null && echo ready > /www/ready && exec httpd -f -p 8080 -h /www");
    let web = serde_json::json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"},
        "spec": {"nodeName": worker, "containers": [{"name": "web", "image": IMAGE, "command": ["sh", "-c", serve]}]}});
    ok(cluster.kubectl_stdin(&["apply", "-f", "-"], &web.to_string()));
    let serving = || cluster.kubectl(&["exec", "web", "--", "wget", "-q", "-O", "-", "http://127.0.0.1:8080/ready"]).status.success();
    cluster.wait("httpd serving the big file", 120, serving, || text(&cluster.kubectl(&["describe", "pod", "web"])));
    let ip = cluster.jsonpath(&["pod", "web"], "{.status.podIP}");

    // A direct download takes a few hundredths of a second, near /proc/uptime's resolution: ten
    // times as many make the time measurable.
    let direct_runs = downloads * 10;
    println!("port-forward throughput: {BIG_MIB} MiB from busybox httpd in a pod on {worker}, {downloads} downloads each ({direct_runs} direct)");
    let on_node = report("direct, from the pod's node (wget to the pod IP)", direct(&cluster, &worker, &ip, direct_runs), |rate| format!("{rate:8.1} MiB/s"));
    report("direct, from the control-plane node (wget)", direct(&cluster, &control_plane, &ip, direct_runs), |rate| format!("{rate:8.1} MiB/s"));
    for client in ["kubectl", "ctl"] {
        let ratio = |rate: &f64| on_node.map_or(String::new(), |direct| format!(" ({:.1} % of direct)", rate / direct * 100.0));
        report(&format!("{client} port-forward (host → apiserver → kubelet)"), through_port_forward(&cluster, client, downloads), |rate| format!("{rate:8.1} MiB/s{}", ratio(rate)));
    }

    println!("exec round trip: `exec web -- true`, {execs} runs each (the client's start-up included)");
    let show = |times: &Vec<Duration>| format!("p50 {:7.1} ms   p99 {:7.1} ms", percentile(times, 0.5), percentile(times, 0.99));
    for client in ["kubectl", "ctl"] {
        report(&format!("{client} exec"), latencies(execs, || cluster.command(client, &["exec", "web", "--", "true"])), show);
    }
    report("kubectl get pod web (no stream, for comparison)", latencies(execs, || cluster.command("kubectl", &["get", "pod", "web", "-o", "name"])), show);
}
