//! The API server: the only component that touches storage. It serves the Kubernetes REST API
//! (discovery, the core resources' verbs, watch) over the `Store`, etcd or the embedded one.

pub mod admission;
pub mod patch;
mod managed_fields;
pub mod storage;

mod allocators;
mod audit;
mod auth;
mod authz;
mod cause;
mod cel;
mod config;
mod custom_resources;
mod definitions;
mod authentication_reviews;
mod authorization_reviews;
mod discovery;
mod errors;
pub mod json;
mod jsonpath;
mod kinds;
mod meta;
mod metrics;
mod openapi;
mod printers;
mod protobuf;
mod registry;
mod repair;
mod request;
mod resource_metrics;
mod resources;
mod rest;
mod schema;
mod server;
mod service_account_token;
mod state;
mod strategy;
mod table;
mod watch_cache;

pub use errors::{ApiError, Cause};
pub use resources::ResourceType;
pub use config::{Config, ServeError, StorageKind};
pub use server::{run, serve};
