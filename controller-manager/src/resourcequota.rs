//! The resource quota controller (kube-controller-manager's `resourcequota`): being written.

use std::sync::Arc;

use crate::context::Context;

pub async fn run(context: Arc<Context>) {
    context.resource_quotas.ready().await;
}
