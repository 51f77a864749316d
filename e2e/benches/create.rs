//! Cluster tool benchmark: time from `cluster create` to every node Ready, for 1 and 3 nodes (the
//! node image built beforehand, as a user's second create finds it), and the control plane's RSS
//! with the demo app running. kind takes tens of seconds for the first figure.
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
            let mut times = Vec::new();
            for _ in 0..runs {
                times.push(tool.create(&name, nodes)?);
                tool.cluster(&["delete", "--name", &name])?;
            }
            times.sort();
            println!("create → all {nodes} node(s) Ready: median {:.2} s (min {:.2} s, max {:.2} s, {runs} runs)", times[times.len() / 2].as_secs_f64(), times[0].as_secs_f64(), times[times.len() - 1].as_secs_f64());
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
