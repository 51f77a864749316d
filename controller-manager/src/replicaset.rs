//! Not written yet (issue #6): started, it only says so.

use std::sync::Arc;

use crate::context::Context;

pub async fn run(_context: Arc<Context>) {
    tracing::warn!(controller = "replicaset", "not implemented yet (issue #6)");
}
