//! Prometheus metrics of the controllers, served on `/metrics`: reconciles by outcome, their
//! latency, and how many objects wait in each controller's queue.

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Upper bounds of the latency histogram, in seconds.
const BUCKETS: [f64; 10] = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0];

#[derive(Default)]
struct Reconciles {
    succeeded: u64,
    failed: u64,
    bucket_counts: [u64; BUCKETS.len()],
    seconds_sum: f64,
}

/// The objects a controller has been asked to reconcile and has not started on yet.
#[derive(Default)]
pub struct Pending(Mutex<HashSet<String>>);

impl Pending {
    pub fn added(&self, key: String) {
        if let Ok(mut keys) = self.0.lock() {
            keys.insert(key);
        }
    }

    pub fn taken(&self, key: &str) {
        if let Ok(mut keys) = self.0.lock() {
            keys.remove(key);
        }
    }

    fn depth(&self) -> usize {
        self.0.lock().map_or(0, |keys| keys.len())
    }
}

#[derive(Default)]
pub struct Metrics {
    reconciles: Mutex<BTreeMap<String, Reconciles>>,
    queues: Mutex<BTreeMap<String, Arc<Pending>>>,
}

impl Metrics {
    pub fn queue(&self, controller: &str) -> Arc<Pending> {
        let mut queues = self.queues.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        queues.entry(controller.to_string()).or_default().clone()
    }

    pub fn reconciled(&self, controller: &str, took: Duration, ok: bool) {
        let mut reconciles = self.reconciles.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let entry = reconciles.entry(controller.to_string()).or_default();
        if ok {
            entry.succeeded += 1;
        } else {
            entry.failed += 1;
        }
        let seconds = took.as_secs_f64();
        entry.seconds_sum += seconds;
        for (count, bound) in entry.bucket_counts.iter_mut().zip(BUCKETS) {
            if seconds <= bound {
                *count += 1;
            }
        }
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        let reconciles = self.reconciles.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        out.push_str("# HELP controller_reconcile_total Reconciles by controller and outcome.\n# TYPE controller_reconcile_total counter\n");
        for (controller, entry) in reconciles.iter() {
            let _ = writeln!(out, "controller_reconcile_total{{controller=\"{controller}\",result=\"success\"}} {}", entry.succeeded);
            let _ = writeln!(out, "controller_reconcile_total{{controller=\"{controller}\",result=\"error\"}} {}", entry.failed);
        }
        out.push_str("# HELP controller_reconcile_duration_seconds How long reconciles take.\n# TYPE controller_reconcile_duration_seconds histogram\n");
        for (controller, entry) in reconciles.iter() {
            for (count, bound) in entry.bucket_counts.iter().zip(BUCKETS) {
                let _ = writeln!(out, "controller_reconcile_duration_seconds_bucket{{controller=\"{controller}\",le=\"{bound}\"}} {count}");
            }
            let total = entry.succeeded + entry.failed;
            let _ = writeln!(out, "controller_reconcile_duration_seconds_bucket{{controller=\"{controller}\",le=\"+Inf\"}} {total}");
            let _ = writeln!(out, "controller_reconcile_duration_seconds_sum{{controller=\"{controller}\"}} {}", entry.seconds_sum);
            let _ = writeln!(out, "controller_reconcile_duration_seconds_count{{controller=\"{controller}\"}} {total}");
        }
        drop(reconciles);
        out.push_str("# HELP workqueue_depth Objects waiting to be reconciled.\n# TYPE workqueue_depth gauge\n");
        let queues = self.queues.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        for (controller, pending) in queues.iter() {
            let _ = writeln!(out, "workqueue_depth{{name=\"{controller}\"}} {}", pending.depth());
        }
        out
    }
}

/// Serves `/metrics` and `/healthz` until the process ends.
pub async fn serve(address: std::net::SocketAddr, metrics: Arc<Metrics>) -> std::io::Result<()> {
    use axum::routing::get;
    let app = axum::Router::new()
        .route("/metrics", get(move || async move { ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], metrics.render()) }))
        .route("/healthz", get(|| async { "ok" }));
    let listener = tokio::net::TcpListener::bind(address).await?;
    axum::serve(listener, app).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_latencies_and_queue_depth() {
        let metrics = Metrics::default();
        let queue = metrics.queue("replicaset");
        queue.added("ns/a".into());
        queue.added("ns/a".into());
        queue.added("ns/b".into());
        queue.taken("ns/a");
        metrics.reconciled("replicaset", Duration::from_millis(3), true);
        metrics.reconciled("replicaset", Duration::from_secs(2), false);
        let text = metrics.render();
        for line in [
            "controller_reconcile_total{controller=\"replicaset\",result=\"success\"} 1",
            "controller_reconcile_total{controller=\"replicaset\",result=\"error\"} 1",
            "controller_reconcile_duration_seconds_bucket{controller=\"replicaset\",le=\"0.005\"} 1",
            "controller_reconcile_duration_seconds_bucket{controller=\"replicaset\",le=\"+Inf\"} 2",
            "workqueue_depth{name=\"replicaset\"} 1",
        ] {
            assert!(text.lines().any(|have| have == line), "{line} missing from\n{text}");
        }
    }
}
