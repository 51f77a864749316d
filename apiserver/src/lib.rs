//! The API server: the only component that touches storage. It will serve the Kubernetes REST
//! API (issue #3); today it opens the configured store and serves the health and version
//! endpoints, so that a started cluster can be probed.

pub mod patch;
pub mod storage;

mod server;

pub use server::{Config, StorageKind, run};
