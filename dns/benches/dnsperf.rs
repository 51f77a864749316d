//! DNS benchmark: the records of 1,000 Services (created in the real apiserver, served by the
//! real `dns` binary) queried by `dnsperf`, beside Debian's `dnsmasq` serving the same names from
//! a hosts file in the same run. Prints queries per second, average, p50 and p99 latency for each
//! (the percentiles from a second, verbose run that reports every query's latency), and the peak
//! RSS of both servers. Nothing is asserted about speed.
//!
//! Needs `dnsperf` and `dnsmasq` (Debian's `dnsperf` and `dnsmasq-base`); installs them with
//! apt-get when missing, and skips with a message when that fails.
//!
//! Run: `cargo bench -p dns --bench dnsperf` (`-- --quick` for 100 Services and 3 s runs).

#[path = "../tests/support/mod.rs"]
mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::testing::{free_port, measure, peak_rss_kib};
use hickory_server::proto::rr::RecordType;
use serde_json::json;

const CLIENTS: usize = 32;

/// A child process killed when dropped.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// What one dnsperf run reported.
#[derive(Default)]
struct Run {
    per_second: f64,
    average: f64,
    lost: String,
    latencies: Vec<f64>,
}

fn find(program: &str) -> Option<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    path.split(':').chain(["/usr/sbin", "/usr/bin", "/sbin"]).map(|dir| Path::new(dir).join(program)).find(|candidate| candidate.is_file())
}

/// dnsperf and dnsmasq, installed from Debian when missing.
fn tools() -> Option<(PathBuf, PathBuf)> {
    if let (Some(dnsperf), Some(dnsmasq)) = (find("dnsperf"), find("dnsmasq")) {
        return Some((dnsperf, dnsmasq));
    }
    println!("dnsperf or dnsmasq missing: installing Debian's dnsperf and dnsmasq-base");
    let installed = Command::new("apt-get")
        .args(["install", "-y", "-qq", "--no-install-recommends", "dnsperf", "dnsmasq-base"])
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status()
        .is_ok_and(|status| status.success());
    if !installed {
        println!("could not install them (apt-get failed); skipping the benchmark");
        return None;
    }
    Some((find("dnsperf")?, find("dnsmasq")?))
}

fn dnsperf(program: &Path, port: u16, queries: &Path, seconds: u64, verbose: bool) -> anyhow::Result<Run> {
    let mut command = Command::new(program);
    command.args(["-s", "127.0.0.1", "-p", &port.to_string(), "-c", "4", "-l", &seconds.to_string()]).arg("-d").arg(queries);
    if verbose {
        command.arg("-v");
    }
    let output = command.stderr(Stdio::null()).output()?;
    anyhow::ensure!(output.status.success(), "dnsperf failed: {}", String::from_utf8_lossy(&output.stdout));
    let text = String::from_utf8_lossy(&output.stdout);
    let mut run = Run::default();
    for line in text.lines() {
        let line = line.trim();
        if let Some(value) = line.strip_prefix("Queries per second:") {
            run.per_second = value.trim().parse().unwrap_or(0.0);
        } else if let Some(value) = line.strip_prefix("Average Latency (s):") {
            run.average = value.split_whitespace().next().and_then(|v| v.parse().ok()).unwrap_or(0.0);
        } else if let Some(value) = line.strip_prefix("Queries lost:") {
            run.lost = value.trim().to_string();
        } else if let Some(query) = line.strip_prefix("> ") {
            // `> NOERROR name type latency` for each answered query.
            if let Some(latency) = query.split_whitespace().nth(3).and_then(|v| v.parse().ok()) {
                run.latencies.push(latency);
            }
        }
    }
    Ok(run)
}

fn percentile(sorted: &[f64], quantile: f64) -> f64 {
    let index = ((sorted.len() as f64 * quantile).ceil() as usize).saturating_sub(1);
    sorted.get(index).copied().unwrap_or(0.0)
}

fn report(label: &str, dnsperf_program: &Path, port: u16, queries: &Path, seconds: u64) -> anyhow::Result<()> {
    let load = dnsperf(dnsperf_program, port, queries, seconds, false)?;
    let mut timed = dnsperf(dnsperf_program, port, queries, seconds, true)?;
    timed.latencies.sort_by(f64::total_cmp);
    println!(
        "{label:<10} {:>10.0}/s {:>9.3} ms {:>9.3} ms {:>9.3} ms   lost {}",
        load.per_second,
        load.average * 1000.0,
        percentile(&timed.latencies, 0.5) * 1000.0,
        percentile(&timed.latencies, 0.99) * 1000.0,
        load.lost
    );
    Ok(())
}

fn mib(pid: Option<u32>) -> String {
    pid.and_then(peak_rss_kib).map_or_else(|| "?".to_string(), |kib| format!("{:.1}", kib as f64 / 1024.0))
}

async fn bench(services: usize, seconds: u64, dnsperf_program: PathBuf, dnsmasq_program: PathBuf) -> anyhow::Result<()> {
    let cluster = support::Cluster::start();
    cluster.namespace("bench").await;
    let (http, url) = (cluster.http.clone(), format!("{}/api/v1/namespaces/bench/services", cluster.server.url()));
    let created = measure(services, CLIENTS, move |index| {
        let (http, url) = (http.clone(), url.clone());
        async move {
            let body = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": format!("web-{index:04}")},
                "spec": {"ports": [{"name": "http", "port": 80}], "selector": {"app": format!("web-{index:04}")}}});
            let response = http.post(&url).json(&body).send().await;
            assert!(response.is_ok_and(|response| response.status().as_u16() == 201), "create service {index} failed");
        }
    })
    .await;
    println!("created {services} Services at {:.0}/s", created.per_second);

    // The same names and addresses for both servers.
    let list: serde_json::Value = cluster.http.get(format!("{}/api/v1/namespaces/bench/services", cluster.server.url())).send().await?.json().await?;
    let dir = tempfile::tempdir()?;
    let (hosts, queries) = (dir.path().join("hosts"), dir.path().join("queries"));
    let mut hosts_text = String::new();
    let mut queries_text = String::new();
    for item in list["items"].as_array().into_iter().flatten() {
        let (Some(name), Some(ip)) = (item["metadata"]["name"].as_str(), item["spec"]["clusterIP"].as_str()) else { continue };
        let fqdn = format!("{name}.bench.svc.cluster.local");
        hosts_text.push_str(&format!("{ip} {fqdn}\n"));
        queries_text.push_str(&format!("{fqdn} A\n"));
    }
    std::fs::write(&hosts, hosts_text)?;
    std::fs::write(&queries, &queries_text)?;

    let started = Instant::now();
    let dns = support::Dns::start(&cluster.server.kubeconfig(), &[]).await;
    let last = format!("web-{:04}.bench.svc.cluster.local.", services - 1);
    dns.wait_for(&last, RecordType::A, Duration::from_secs(30), |answer| !answer.answers.is_empty()).await;
    println!("dns serving all {services} Services {:.2} s after it started", started.elapsed().as_secs_f64());

    let dnsmasq_port = free_port()?;
    let dnsmasq = Guard(
        Command::new(&dnsmasq_program)
            .args(["--no-daemon", "--no-resolv", "--no-hosts", "--bind-interfaces", "--listen-address=127.0.0.1"])
            .arg(format!("--addn-hosts={}", hosts.display()))
            .arg(format!("--port={dnsmasq_port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?,
    );
    let first = "web-0000.bench.svc.cluster.local.";
    let deadline = Instant::now() + Duration::from_secs(10);
    while support::query_udp(format!("127.0.0.1:{dnsmasq_port}").parse()?, first, RecordType::A).await.map_or(true, |answer| answer.answers.is_empty()) {
        anyhow::ensure!(Instant::now() < deadline, "dnsmasq does not answer");
    }

    println!();
    println!("dnsperf: {services} names, A queries over UDP, 4 clients, {seconds} s per run");
    println!("{:<10} {:>12} {:>12} {:>12} {:>12}", "server", "queries", "average", "p50", "p99");
    report("dns", &dnsperf_program, dns.address.port(), &queries, seconds)?;
    report("dnsmasq", &dnsperf_program, dnsmasq_port, &queries, seconds)?;
    println!();
    println!("peak RSS: dns {} MiB, dnsmasq {} MiB", mib(dns.process.pid()), mib(Some(dnsmasq.0.id())));
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let quick = std::env::args().any(|arg| arg == "--quick");
    let (services, seconds) = if quick { (100, 3) } else { (1_000, 10) };
    let Some((dnsperf_program, dnsmasq_program)) = tools() else { return Ok(()) };
    common::testing::build_release_binaries(&["apiserver", "dns"])?;
    println!("dns benchmark: {services} Services from the real apiserver (embedded store)");
    tokio::runtime::Runtime::new()?.block_on(bench(services, seconds, dnsperf_program, dnsmasq_program))
}
