//! The HTTP server. Until the REST API lands it answers `/healthz`, `/livez`, `/readyz` (which
//! asks the store for its revision) and `/version`; every other path is a Kubernetes `Status`
//! 404, so clients see an honest "not served" rather than a pretend success.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};

use crate::storage::{EmbeddedStore, EtcdStore, Store, StoreError};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum StorageKind {
    /// One file under --data-dir (one-machine clusters).
    Embedded,
    /// An etcd cluster at --etcd-servers.
    Etcd,
}

#[derive(Clone, Debug, clap::Parser)]
#[command(name = "apiserver", about = "The cluster's API server", version)]
pub struct Config {
    /// Address to serve HTTP on.
    #[arg(long, default_value = "127.0.0.1:6443")]
    pub bind_address: SocketAddr,
    #[arg(long, value_enum, default_value = "embedded")]
    pub storage: StorageKind,
    /// Where the embedded store keeps its file.
    #[arg(long, default_value = "/var/lib/cluster")]
    pub data_dir: PathBuf,
    /// etcd client URLs, comma-separated (with --storage etcd).
    #[arg(long, value_delimiter = ',', default_value = "http://127.0.0.1:2379")]
    pub etcd_servers: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot create data dir {path}: {source}")]
    DataDir { path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot listen on {address}: {source}")]
    Listen { address: SocketAddr, source: std::io::Error },
    #[error("server failed: {0}")]
    Serve(std::io::Error),
}

/// Opens the store, serves until SIGINT/SIGTERM, then returns.
pub async fn run(config: Config) -> Result<(), ServeError> {
    let store: Arc<dyn Store> = match config.storage {
        StorageKind::Embedded => {
            tokio::fs::create_dir_all(&config.data_dir)
                .await
                .map_err(|source| ServeError::DataDir { path: config.data_dir.clone(), source })?;
            Arc::new(EmbeddedStore::open(config.data_dir.join("store.redb")).await?)
        }
        StorageKind::Etcd => Arc::new(EtcdStore::connect(&config.etcd_servers).await?),
    };
    let app = Router::new()
        .route("/healthz", get(healthy))
        .route("/livez", get(healthy))
        .route("/readyz", get(ready))
        .route("/version", get(version))
        .fallback(not_found)
        .with_state(store);
    let listener = tokio::net::TcpListener::bind(config.bind_address)
        .await
        .map_err(|source| ServeError::Listen { address: config.bind_address, source })?;
    tracing::info!(address = %config.bind_address, storage = ?config.storage, "apiserver listening");
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await
        .map_err(ServeError::Serve)
}

async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
    tracing::info!("shutting down");
}

async fn healthy() -> &'static str {
    "ok"
}

async fn ready(State(store): State<Arc<dyn Store>>) -> impl IntoResponse {
    match store.current_revision().await {
        Ok(_) => (StatusCode::OK, "ok".to_string()),
        Err(err) => (StatusCode::SERVICE_UNAVAILABLE, format!("storage not ready: {err}")),
    }
}

async fn version() -> Json<serde_json::Value> {
    Json(serde_json::json!({
        "major": "1",
        "minor": "32",
        "gitVersion": concat!("v1.32.0-", env!("CARGO_PKG_VERSION")),
        "platform": "linux/amd64",
    }))
}

async fn not_found(uri: axum::http::Uri) -> impl IntoResponse {
    let status = serde_json::json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": format!("the server could not find the requested resource ({}): the REST API is not served yet", uri.path()),
        "reason": "NotFound",
        "details": {},
        "code": 404,
    });
    (StatusCode::NOT_FOUND, Json(status))
}
