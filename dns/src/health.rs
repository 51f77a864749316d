//! The HTTP side: `/ready` (200 once the first list of Services and Endpoints is served, 503
//! before), `/healthz` (the process answers), and `/metrics` in Prometheus' text format.
//!
//! A readiness probe that comes before the first list waits for it a little: the kubelet probes
//! a container as it starts and then once per period, so a 503 at once would keep a server that
//! is ready a moment later out of its Service for a whole period.

use std::sync::Arc;
use std::time::Duration;

use axum::http::{StatusCode, header};
use axum::routing::get;

use crate::metrics::Metrics;
use crate::server::Zone;

/// Below a probe's default timeout (1 s), so that the prober hears the answer.
const READY_WAIT: Duration = Duration::from_millis(800);

pub async fn serve(listener: tokio::net::TcpListener, zone: Arc<Zone>, metrics: Arc<Metrics>) -> std::io::Result<()> {
    let app = axum::Router::new()
        .route(
            "/ready",
            get(move || async move {
                if zone.ready_within(READY_WAIT).await { (StatusCode::OK, "ok") } else { (StatusCode::SERVICE_UNAVAILABLE, "waiting for the first list of Services and Endpoints") }
            }),
        )
        .route("/healthz", get(|| async { "ok" }))
        .route("/metrics", get(move || async move { ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], metrics.render()) }));
    axum::serve(listener, app).await
}
