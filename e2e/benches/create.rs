//! Cluster tool benchmark: time from `cluster create` to every node Ready, and on to cluster DNS
//! answering a name from a node, for 1 and 3 nodes (the node image built beforehand, as a user's
//! second create finds it), and the control plane's RSS with the demo app running. kind takes
//! tens of seconds for the first figure (33 s to DNS answering).
//!
//! Run: `cargo bench -p e2e --bench create` (`-- --quick` for one run each).

mod support;

use support::{release_dir, run};

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};


struct Tool {
    binary: PathBuf,
    kubeconfig: PathBuf,
}

impl Tool {
    fn cluster(&self, args: &[&str]) -> anyhow::Result<String> {
        run(Command::new(&self.binary).args(args).env("KUBECONFIG", &self.kubeconfig))
    }

    fn create(&self, name: &str, nodes: usize) -> anyhow::Result<Duration> {
        let started = Instant::now();
        self.cluster(&["create", "--name", name, "--nodes", &nodes.to_string()])?;
        Ok(started.elapsed())
    }

    /// The time from `cluster create` to every node Ready, and to the cluster's DNS answering
    /// `kubernetes.default` at its Service address from the control-plane node (busybox's
    /// nslookup, each attempt cut at 1 s, so that a dropped query does not wait out its retries).
    fn create_to_dns(&self, name: &str, nodes: usize) -> anyhow::Result<(Duration, Duration)> {
        let started = Instant::now();
        let ready = self.create(name, nodes)?;
        let until = "until timeout 1 nslookup kubernetes.default.svc.cluster.local 10.96.0.10 >/dev/null 2>&1; do sleep 0.02; done";
        run(Command::new("timeout").args(["60", "docker", "exec", &format!("{name}-control-plane"), "sh", "-c", until]))?;
        Ok((ready, started.elapsed()))
    }
}

/// `label: median (min, max, runs)` of `times`, sorted here.
fn summary(label: &str, mut times: Vec<Duration>) {
    times.sort();
    let seconds = |time: Duration| time.as_secs_f64();
    println!(
        "{label}: median {:.2} s (min {:.2} s, max {:.2} s, {} runs)",
        seconds(times[times.len() / 2]),
        seconds(times[0]),
        seconds(times[times.len() - 1]),
        times.len()
    );
}

/// VmRSS of each named process in the control-plane container, in KiB.
fn rss(node: &str, programs: &[&str]) -> anyhow::Result<Vec<(String, u64)>> {
    let mut sizes = Vec::new();
    for program in programs {
        let pid = run(Command::new("docker").args(["exec", node, "pidof", program]))?;
        let pid = pid.split_whitespace().next().ok_or_else(|| anyhow::anyhow!("{program} not running"))?.to_string();
        let status = run(Command::new("docker").args(["exec", node, "cat", &format!("/proc/{pid}/status")]))?;
        let kib = status.lines().find_map(|line| line.strip_prefix("VmRSS:")).and_then(|rest| rest.split_whitespace().next()?.parse().ok()).unwrap_or(0);
        sizes.push((program.to_string(), kib));
    }
    Ok(sizes)
}

fn main() -> anyhow::Result<()> {
    let quick = std::env::args().any(|arg| arg == "--quick");
    let runs = if quick { 1 } else { 3 };
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    run(Command::new(cargo).args(["build", "--release", "--locked", "--bins", "-p", "apiserver", "-p", "scheduler", "-p", "controller-manager", "-p", "kubelet", "-p", "dns", "-p", "loadbalancer", "-p", "ctl", "-p", "e2e"]))?;
    let dir = tempfile::tempdir()?;
    let tool = Tool { binary: release_dir()?.join("cluster"), kubeconfig: dir.path().join("kubeconfig") };
    let name = format!("bench-{}", std::process::id());
    // The first create builds the node image; it is not what is measured.
    let result = (|| -> anyhow::Result<()> {
        tool.create(&name, 1)?;
        tool.cluster(&["delete", "--name", &name])?;
        for nodes in [1, 3] {
            let (mut ready, mut dns) = (Vec::new(), Vec::new());
            for _ in 0..runs {
                let (to_ready, to_dns) = tool.create_to_dns(&name, nodes)?;
                ready.push(to_ready);
                dns.push(to_dns);
                tool.cluster(&["delete", "--name", &name])?;
            }
            summary(&format!("create → all {nodes} node(s) Ready"), ready);
            summary(&format!("create → cluster DNS answering ({nodes} node(s))"), dns);
        }
        tool.create(&name, 3)?;
        let demo = concat!(env!("CARGO_MANIFEST_DIR"), "/../manifests/demo/app.yaml");
        let kubectl = |args: &[&str]| run(Command::new("kubectl").arg(format!("--kubeconfig={}", tool.kubeconfig.display())).args(args));
        kubectl(&["create", "namespace", "demo"])?;
        kubectl(&["apply", "-n", "demo", "-f", demo])?;
        kubectl(&["rollout", "status", "deployment/example", "-n", "demo", "--timeout=120s"])?;
        std::thread::sleep(Duration::from_secs(5));
        let sizes = rss(&format!("{name}-control-plane"), &["apiserver", "scheduler", "controller-manager", "kubelet"])?;
        let total: u64 = sizes.iter().map(|(_, kib)| kib).sum();
        let parts: Vec<String> = sizes.iter().map(|(program, kib)| format!("{program} {:.1}", *kib as f64 / 1024.0)).collect();
        println!("control plane RSS with the demo running: {:.1} MiB ({} MiB)", total as f64 / 1024.0, parts.join(", "));
        Ok(())
    })();
    tool.cluster(&["delete", "--name", &name])?;
    result
}
