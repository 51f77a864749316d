//! The API server: the only component that touches storage. It serves the Kubernetes REST API
//! (discovery, the core resources' verbs, watch) over the `Store`, etcd or the embedded one.

pub mod admission;
pub mod patch;
pub mod storage;

mod allocators;
mod audit;
mod auth;
mod authentication_reviews;
mod discovery;
mod errors;
pub mod json;
mod meta;
mod metrics;
mod node_authorizer;
mod openapi;
mod protobuf;
mod rbac;
mod repair;
mod request;
mod resource_metrics;
mod resources;
mod rest;
mod server;
mod service_account_token;
mod table;
mod watch_cache;

pub use errors::{ApiError, Cause};
pub use resources::ResourceType;
pub use server::{Config, ServeError, StorageKind, run, serve};
