//! What the ctl benchmarks share.

use std::time::Duration;

use common::testing::Measured;

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
