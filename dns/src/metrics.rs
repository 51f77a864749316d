//! Prometheus metrics of the server, served on `/metrics`: queries by type and response code, how
//! long answering took, forwarded queries, and the size of the index. Counters are atomics, so
//! that counting costs a query no lock.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use hickory_server::proto::op::ResponseCode;
use hickory_server::proto::rr::RecordType;

/// The query types counted by name; the rest count as `other`.
const TYPES: [RecordType; 9] = [
    RecordType::A,
    RecordType::AAAA,
    RecordType::SRV,
    RecordType::PTR,
    RecordType::CNAME,
    RecordType::SOA,
    RecordType::NS,
    RecordType::TXT,
    RecordType::ANY,
];
/// The response codes counted by name; the rest count as `other`.
const RCODES: [(ResponseCode, &str); 6] = [
    (ResponseCode::NoError, "NOERROR"),
    (ResponseCode::FormErr, "FORMERR"),
    (ResponseCode::ServFail, "SERVFAIL"),
    (ResponseCode::NXDomain, "NXDOMAIN"),
    (ResponseCode::NotImp, "NOTIMP"),
    (ResponseCode::Refused, "REFUSED"),
];

/// Upper bounds of the latency histogram, in seconds.
const BUCKETS: [f64; 14] = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5];

#[derive(Default)]
pub struct Metrics {
    /// `[type][rcode]`, each with one extra slot for `other`.
    queries: [[AtomicU64; RCODES.len() + 1]; TYPES.len() + 1],
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    nanos_sum: AtomicU64,
    forwarded: AtomicU64,
    forward_failures: AtomicU64,
    services: AtomicU64,
    names: AtomicU64,
    rebuilds: AtomicU64,
}

impl Metrics {
    /// One answered query.
    pub fn answered(&self, query_type: Option<RecordType>, rcode: ResponseCode, took: Duration) {
        let type_slot = query_type.and_then(|t| TYPES.iter().position(|known| *known == t)).unwrap_or(TYPES.len());
        let rcode_slot = RCODES.iter().position(|(known, _)| *known == rcode).unwrap_or(RCODES.len());
        self.queries[type_slot][rcode_slot].fetch_add(1, Ordering::Relaxed);
        let seconds = took.as_secs_f64();
        if let Some(first) = BUCKETS.iter().position(|bound| seconds <= *bound) {
            // Buckets are counted where they start and summed cumulatively when rendered.
            self.buckets[first].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.nanos_sum.fetch_add(u64::try_from(took.as_nanos()).unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    /// One query sent upstream, and whether an upstream answered it.
    pub fn forwarded(&self, answered: bool) {
        self.forwarded.fetch_add(1, Ordering::Relaxed);
        if !answered {
            self.forward_failures.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A new index is in place.
    pub fn rebuilt(&self, services: usize, names: usize) {
        self.services.store(services as u64, Ordering::Relaxed);
        self.names.store(names as u64, Ordering::Relaxed);
        self.rebuilds.fetch_add(1, Ordering::Relaxed);
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str("# HELP dns_queries_total Queries answered, by query type and response code.\n# TYPE dns_queries_total counter\n");
        for (type_slot, row) in self.queries.iter().enumerate() {
            let query_type = TYPES.get(type_slot).map_or_else(|| "other".to_string(), ToString::to_string);
            for (rcode_slot, count) in row.iter().enumerate() {
                let count = count.load(Ordering::Relaxed);
                if count == 0 {
                    continue;
                }
                let rcode = RCODES.get(rcode_slot).map_or("other", |(_, label)| label);
                let _ = writeln!(out, "dns_queries_total{{type=\"{query_type}\",rcode=\"{rcode}\"}} {count}");
            }
        }
        out.push_str("# HELP dns_query_duration_seconds How long answering a query took.\n# TYPE dns_query_duration_seconds histogram\n");
        let mut cumulative = 0;
        for (bound, count) in BUCKETS.iter().zip(&self.buckets) {
            cumulative += count.load(Ordering::Relaxed);
            let _ = writeln!(out, "dns_query_duration_seconds_bucket{{le=\"{bound}\"}} {cumulative}");
        }
        let count = self.count.load(Ordering::Relaxed);
        let _ = writeln!(out, "dns_query_duration_seconds_bucket{{le=\"+Inf\"}} {count}");
        let _ = writeln!(out, "dns_query_duration_seconds_sum {}", self.nanos_sum.load(Ordering::Relaxed) as f64 / 1e9);
        let _ = writeln!(out, "dns_query_duration_seconds_count {count}");
        let gauges: [(&str, &str, &str, &AtomicU64); 5] = [
            ("dns_forwarded_total", "counter", "Queries sent to the upstream resolvers.", &self.forwarded),
            ("dns_forward_failures_total", "counter", "Forwarded queries no upstream answered in time.", &self.forward_failures),
            ("dns_services", "gauge", "Services in the index.", &self.services),
            ("dns_names", "gauge", "Names in the index.", &self.names),
            ("dns_index_rebuilds_total", "counter", "Times the index was rebuilt.", &self.rebuilds),
        ];
        for (name, kind, help, value) in gauges {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {}", value.load(Ordering::Relaxed));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_queries_by_type_and_rcode_with_a_cumulative_histogram() {
        let metrics = Metrics::default();
        metrics.answered(Some(RecordType::A), ResponseCode::NoError, Duration::from_micros(50));
        metrics.answered(Some(RecordType::A), ResponseCode::NoError, Duration::from_millis(3));
        metrics.answered(Some(RecordType::MX), ResponseCode::NXDomain, Duration::from_secs(3));
        metrics.answered(None, ResponseCode::FormErr, Duration::from_micros(1));
        metrics.forwarded(false);
        metrics.rebuilt(3, 12);
        let text = metrics.render();
        for line in [
            "dns_queries_total{type=\"A\",rcode=\"NOERROR\"} 2",
            "dns_queries_total{type=\"other\",rcode=\"NXDOMAIN\"} 1",
            "dns_queries_total{type=\"other\",rcode=\"FORMERR\"} 1",
            "dns_query_duration_seconds_bucket{le=\"0.0001\"} 2",
            "dns_query_duration_seconds_bucket{le=\"0.005\"} 3",
            "dns_query_duration_seconds_bucket{le=\"2.5\"} 3",
            "dns_query_duration_seconds_bucket{le=\"+Inf\"} 4",
            "dns_query_duration_seconds_count 4",
            "dns_forward_failures_total 1",
            "dns_services 3",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line} in\n{text}");
        }
    }
}
