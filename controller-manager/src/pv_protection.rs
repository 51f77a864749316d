//! The PV protection controller (kube-controller-manager's `pv-protection`): a volume being
//! deleted keeps its `kubernetes.io/pv-protection` finalizer while it is `Bound`; once released
//! (its claim gone) the finalizer goes. A volume without the finalizer (made before the
//! admission added it) gets it.

use std::sync::Arc;
use std::time::Duration;

use common::storage::PV_PROTECTION;
use futures::StreamExt;
use k8s_openapi::api::core::v1::PersistentVolume;
use kube::api::Api;
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;

use crate::context::Context;
use crate::framework::{self, ReconcileError};

pub async fn run(context: Arc<Context>) {
    context.storage_ready().await;
    let own = context.persistent_volumes.changes().map(|volume| ObjectRef::from_obj(&*volume)).boxed();
    let store = context.persistent_volumes.store();
    framework::run("pv-protection", context.metrics.clone(), context.clone(), store, vec![own], context.settings.concurrent_syncs, reconcile).await;
}

async fn reconcile(volume: Arc<PersistentVolume>, context: Arc<Context>) -> Result<Action, ReconcileError> {
    let volumes: Api<PersistentVolume> = Api::all(context.client.clone());
    let has_finalizer = volume.metadata.finalizers.iter().flatten().any(|finalizer| finalizer == PV_PROTECTION);
    let bound = volume.status.as_ref().and_then(|status| status.phase.as_deref()) == Some("Bound");
    let outcome = match (volume.metadata.deletion_timestamp.is_some(), has_finalizer) {
        (false, false) => framework::add_finalizer(&volumes, &*volume, PV_PROTECTION).await,
        (true, true) if !bound => {
            tracing::info!(name = ?volume.metadata.name, "the volume being deleted is not bound; its protection finalizer goes");
            framework::remove_finalizer(&volumes, &*volume, PV_PROTECTION).await
        }
        _ => return Ok(Action::await_change()),
    };
    match outcome {
        Ok(()) => Ok(Action::await_change()),
        Err(err) if framework::answered(&err, &[409]) => Ok(Action::requeue(Duration::from_millis(200))),
        Err(err) if framework::answered(&err, &[404]) => Ok(Action::await_change()),
        Err(err) => Err(err.into()),
    }
}
