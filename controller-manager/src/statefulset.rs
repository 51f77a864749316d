//! Placeholder: the statefulset controller is being written.

use std::sync::Arc;

use crate::context::Context;

pub async fn run(_context: Arc<Context>) {}
