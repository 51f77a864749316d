//! The HTTP side: `/ready` (200 once the first list of Services and Endpoints is served, 503
//! before), `/healthz` (the process answers), and `/metrics` in Prometheus' text format.

use std::sync::Arc;

use axum::http::{StatusCode, header};
use axum::routing::get;

use crate::metrics::Metrics;
use crate::server::Zone;

pub async fn serve(listener: tokio::net::TcpListener, zone: Arc<Zone>, metrics: Arc<Metrics>) -> std::io::Result<()> {
    let app = axum::Router::new()
        .route(
            "/ready",
            get(move || async move {
                if zone.is_ready() { (StatusCode::OK, "ok") } else { (StatusCode::SERVICE_UNAVAILABLE, "waiting for the first list of Services and Endpoints") }
            }),
        )
        .route("/healthz", get(|| async { "ok" }))
        .route("/metrics", get(move || async move { ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], metrics.render()) }));
    axum::serve(listener, app).await
}
