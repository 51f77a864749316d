//! What the ctl benchmarks share.

use std::path::Path;
use std::time::Duration;

use common::testing::{ApiServer, Measured, Storage};

const KUBECTL_1_32: &str = "/usr/lib/google-cloud-sdk/bin/kubectl.1.32";

/// What every run of a ctl benchmark starts from: the number of runs (`-- --quick` for 3), the
/// kubectl to compare with (1.32 where installed, the newest kubectl writes its cache first on a
/// fresh machine), and an apiserver of release build.
pub fn setup() -> anyhow::Result<(usize, &'static str, ApiServer)> {
    let quick = std::env::args().any(|arg| arg == "--quick");
    let runs = if quick { 3 } else { 10 };
    let kubectl = if Path::new(KUBECTL_1_32).exists() { KUBECTL_1_32 } else { "kubectl" };
    common::testing::build_release_binaries(&["apiserver"])?;
    Ok((runs, kubectl, ApiServer::start(Storage::Embedded)?))
}

/// Prints both tools' summaries and ctl's figures over kubectl's.
pub fn compare(ctl: &[Measured], kubectl: &[Measured]) {
    let (ctl_time, ctl_peak) = summary("ctl", ctl);
    let (kubectl_time, kubectl_peak) = summary("kubectl 1.32", kubectl);
    println!("ctl over kubectl: wall time {:.2}x, peak RSS {:.2}x (below 1 means ctl is cheaper)", ctl_time / kubectl_time, ctl_peak / kubectl_peak);
}

/// Prints a tool's median, fastest and slowest wall time and its peak RSS over `runs`, and
/// returns the median (ms) and the peak (MiB).
pub fn summary(tool: &str, runs: &[Measured]) -> (f64, f64) {
    let mut times: Vec<Duration> = runs.iter().map(|run| run.elapsed).collect();
    times.sort_unstable();
    let median = times[times.len() / 2].as_secs_f64() * 1e3;
    let peak = runs.iter().map(|run| run.peak_rss_kib).max().unwrap_or(0) as f64 / 1024.0;
    println!(
        "{tool:<14} wall median {median:>7.1} ms  (min {:>7.1}, max {:>7.1})  peak RSS {peak:>6.1} MiB",
        times[0].as_secs_f64() * 1e3,
        times[times.len() - 1].as_secs_f64() * 1e3
    );
    (median, peak)
}
