//! Prometheus metrics: request counts by verb, resource and code, and request latency by verb
//! and resource, named as kube-apiserver names them so that existing dashboards read them.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

/// Latency bucket bounds in seconds (a subset of kube-apiserver's).
const BUCKETS: [f64; 12] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 1.0, 2.0, 5.0, 10.0];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

#[derive(Default)]
struct Tables {
    requests: BTreeMap<(String, String, u16), u64>,
    latency: BTreeMap<(String, String), Histogram>,
}

#[derive(Default)]
pub struct Metrics {
    tables: Mutex<Tables>,
}

impl Metrics {
    /// Records one finished request. Watches are counted when they start, and their latency is
    /// how long the server took to start answering.
    pub fn record(&self, verb: &str, resource: &str, code: u16, took: Duration) {
        let mut tables = self.tables.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        *tables.requests.entry((verb.to_string(), resource.to_string(), code)).or_default() += 1;
        let histogram = tables.latency.entry((verb.to_string(), resource.to_string())).or_default();
        let seconds = took.as_secs_f64();
        for (bound, count) in BUCKETS.iter().zip(histogram.counts.iter_mut()) {
            if seconds <= *bound {
                *count += 1;
            }
        }
        histogram.count += 1;
        histogram.sum += seconds;
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let tables = self.tables.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut out = String::new();
        out.push_str("# HELP apiserver_request_total Counter of apiserver requests broken out for each verb, resource and HTTP response code.\n");
        out.push_str("# TYPE apiserver_request_total counter\n");
        for ((verb, resource, code), count) in &tables.requests {
            let _ = writeln!(out, "apiserver_request_total{{code=\"{code}\",resource=\"{resource}\",verb=\"{verb}\"}} {count}");
        }
        out.push_str("# HELP apiserver_request_duration_seconds Response latency distribution in seconds for each verb and resource.\n");
        out.push_str("# TYPE apiserver_request_duration_seconds histogram\n");
        for ((verb, resource), histogram) in &tables.latency {
            let labels = format!("resource=\"{resource}\",verb=\"{verb}\"");
            for (bound, count) in BUCKETS.iter().zip(histogram.counts.iter()) {
                let _ = writeln!(out, "apiserver_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {count}");
            }
            let _ = writeln!(out, "apiserver_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}", histogram.count);
            let _ = writeln!(out, "apiserver_request_duration_seconds_sum{{{labels}}} {}", histogram.sum);
            let _ = writeln!(out, "apiserver_request_duration_seconds_count{{{labels}}} {}", histogram.count);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_buckets() {
        let metrics = Metrics::default();
        metrics.record("LIST", "pods", 200, Duration::from_millis(3));
        metrics.record("LIST", "pods", 200, Duration::from_millis(30));
        metrics.record("POST", "configmaps", 409, Duration::from_millis(1));
        let text = metrics.render();
        assert!(text.contains("apiserver_request_total{code=\"200\",resource=\"pods\",verb=\"LIST\"} 2"), "{text}");
        assert!(text.contains("apiserver_request_total{code=\"409\",resource=\"configmaps\",verb=\"POST\"} 1"), "{text}");
        assert!(text.contains("apiserver_request_duration_seconds_bucket{resource=\"pods\",verb=\"LIST\",le=\"0.005\"} 1"), "{text}");
        assert!(text.contains("apiserver_request_duration_seconds_bucket{resource=\"pods\",verb=\"LIST\",le=\"0.05\"} 2"), "{text}");
        assert!(text.contains("apiserver_request_duration_seconds_count{resource=\"pods\",verb=\"LIST\"} 2"), "{text}");
    }
}
