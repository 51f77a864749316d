//! The ServiceAccounts controller: every namespace that is not being deleted has a
//! ServiceAccount named `default` (the one pods run as unless they name another), made again
//! when it is deleted. With a root CA it is also kube-controller-manager's root CA publisher:
//! every namespace has the ConfigMap `kube-root-ca.crt` holding it as `ca.crt`, which pods'
//! service account volumes project.

use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, ServiceAccount};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, PostParams};
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;
use kube::{Resource, ResourceExt};

use crate::context::Context;
use crate::framework::{self, ReconcileError, Triggers, answered};

const DEFAULT: &str = "default";

pub async fn run(context: Arc<Context>) {
    let store = context.namespaces.store();
    let triggers: Triggers<Namespace> = vec![
        context.namespaces.changes().map(|namespace| ObjectRef::from_obj(&*namespace)).boxed(),
        // A `default` that changed or went: look at its namespace again.
        context
            .service_accounts
            .changes()
            .filter_map(|account| async move { (account.name_any() == DEFAULT).then(|| account.namespace().map(|namespace| ObjectRef::new(&namespace))).flatten() })
            .boxed(),
    ];
    let concurrency = context.settings.concurrent_syncs;
    framework::run("serviceaccount", context.metrics.clone(), context, store, triggers, concurrency, reconcile).await;
}

async fn reconcile(namespace: Arc<Namespace>, context: Arc<Context>) -> Result<Action, ReconcileError> {
    let name = namespace.name_any();
    if namespace.meta().deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    if let Some(ca) = &context.settings.root_ca {
        publish_root_ca(&context.client, &name, ca).await?;
    }
    let next = if context.settings.root_ca.is_some() {
        // ConfigMaps are not watched here (there may be many): a deleted or edited
        // `kube-root-ca.crt` is put back at the next look.
        Action::requeue(ROOT_CA_RECHECK)
    } else {
        Action::await_change()
    };
    default_account(&name, &context).await?;
    Ok(next)
}

const ROOT_CA: &str = "kube-root-ca.crt";
const ROOT_CA_RECHECK: std::time::Duration = std::time::Duration::from_secs(30);

async fn publish_root_ca(client: &kube::Client, namespace: &str, ca: &str) -> Result<(), ReconcileError> {
    let api = Api::<ConfigMap>::namespaced(client.clone(), namespace);
    let data = std::collections::BTreeMap::from([("ca.crt".to_string(), ca.to_string())]);
    let result = match api.get_opt(ROOT_CA).await? {
        Some(existing) if existing.data.as_ref() == Some(&data) => return Ok(()),
        Some(mut existing) => {
            existing.data = Some(data);
            api.replace(ROOT_CA, &PostParams::default(), &existing).await.map(drop)
        }
        None => {
            let map = ConfigMap { metadata: ObjectMeta { name: Some(ROOT_CA.into()), ..ObjectMeta::default() }, data: Some(data), ..ConfigMap::default() };
            api.create(&PostParams::default(), &map).await.map(drop)
        }
    };
    match result {
        Ok(()) => {
            tracing::info!(namespace, "published the root CA");
            Ok(())
        }
        Err(err) if answered(&err, &[409, 403, 404]) => Ok(()),
        Err(err) => Err(err.into()),
    }
}

async fn default_account(name: &str, context: &Context) -> Result<Action, ReconcileError> {
    let existing = ObjectRef::<ServiceAccount>::new(DEFAULT).within(name);
    if context.service_accounts.store().get(&existing).is_some_and(|account| account.meta().deletion_timestamp.is_none()) {
        return Ok(Action::await_change());
    }
    let account = ServiceAccount { metadata: ObjectMeta { name: Some(DEFAULT.into()), ..ObjectMeta::default() }, ..ServiceAccount::default() };
    match Api::<ServiceAccount>::namespaced(context.client.clone(), name).create(&PostParams::default(), &account).await {
        Ok(_) => {
            tracing::info!(namespace = %name, "created the default ServiceAccount");
            Ok(Action::await_change())
        }
        // Made meanwhile (409), or the namespace is going away (403 Forbidden, 404).
        Err(err) if answered(&err, &[409, 403, 404]) => Ok(Action::await_change()),
        Err(err) => Err(err.into()),
    }
}
