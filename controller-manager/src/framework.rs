//! How every controller runs: triggers (changes of its own objects, and of related ones mapped
//! to them) feed kube-runtime's `applier`, which reconciles each object at most once at a time and
//! merges requests that arrive while it waits. Failures are retried per object with backoff
//! (1 s doubling to 60 s); every object is reconciled again every few minutes anyway, so that a
//! missed event cannot leave anything wrong for long. Reconciles are counted and timed for
//! `/metrics`.

use std::collections::HashMap;
use std::fmt::Debug;
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::stream::BoxStream;
use futures::{FutureExt, StreamExt};
use k8s_openapi::api::core::v1::{Pod, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Resource;
use kube::runtime::controller::{Action, Config as ApplierConfig, applier};
use kube::runtime::reflector::{ObjectRef, Store};

use crate::metrics::Metrics;

/// Every object is looked at again after this long, changed or not.
pub const RESYNC: Duration = Duration::from_secs(300);

#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error(transparent)]
    Api(#[from] kube::Error),
    #[error("{0}")]
    Other(String),
}

pub type Triggers<K> = Vec<BoxStream<'static, ObjectRef<K>>>;

/// Reconciles the objects of `store` on `triggers` (plus all of them once at the start) until
/// the triggers end.
pub async fn run<K, C, F, Fut>(name: impl Into<Arc<str>>, metrics: Arc<Metrics>, context: Arc<C>, store: Store<K>, triggers: Triggers<K>, concurrency: u16, reconcile: F)
where
    K: Resource<DynamicType = ()> + Clone + Debug + Send + Sync + 'static,
    ObjectRef<K>: Hash + Eq,
    C: Send + Sync + 'static,
    F: Fn(Arc<K>, Arc<C>) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<Action, ReconcileError>> + Send + 'static,
{
    let name: Arc<str> = name.into();
    let pending = metrics.queue(&name);
    let everything = futures::stream::iter(store.state().into_iter().map(|object| ObjectRef::from_obj(&*object)));
    let requests = futures::stream::select_all(std::iter::once(everything.boxed()).chain(triggers)).map({
        let pending = pending.clone();
        move |request: ObjectRef<K>| {
            pending.added(queue_key(&request));
            Ok::<_, std::convert::Infallible>(request)
        }
    });
    let failures: Arc<Mutex<HashMap<ObjectRef<K>, u32>>> = Arc::default();
    let reconcile = Arc::new(reconcile);
    let reconciler = {
        let (metrics, pending, failures, name) = (metrics.clone(), pending.clone(), failures.clone(), name.clone());
        move |object: Arc<K>, context: Arc<C>| {
            let key = ObjectRef::from_obj(&*object);
            pending.taken(&queue_key(&key));
            let (metrics, failures, reconcile, name) = (metrics.clone(), failures.clone(), reconcile.clone(), name.clone());
            async move {
                let span = tracing::debug_span!("reconcile", controller = %name, namespace = ?key.namespace, name = %key.name);
                let started = Instant::now();
                let outcome = tracing::Instrument::instrument(reconcile(object, context), span).await;
                metrics.reconciled(&name, started.elapsed(), outcome.is_ok());
                if let Ok(mut failures) = failures.lock() {
                    match &outcome {
                        Ok(_) => drop(failures.remove(&key)),
                        Err(_) => *failures.entry(key).or_default() += 1,
                    }
                }
                outcome
            }
            .boxed()
        }
    };
    let error_policy = {
        let name = name.clone();
        move |object: Arc<K>, error: &ReconcileError, _: Arc<C>| {
        let key = ObjectRef::from_obj(&*object);
        let attempts = failures.lock().ok().and_then(|failures| failures.get(&key).copied()).unwrap_or(1);
        let delay = (Duration::from_secs(1) * 2u32.pow(attempts.saturating_sub(1).min(6))).min(Duration::from_secs(60));
        tracing::warn!(controller = %name, namespace = ?key.namespace, name = %key.name, error = %error, retry_in = ?delay, "reconcile failed");
        Action::requeue(delay)
        }
    };
    let results = applier(reconciler, error_policy, context, store, requests, ApplierConfig::default().concurrency(concurrency));
    results.for_each(|_| async {}).await;
    tracing::info!(controller = %name, "controller stopped");
}

/// Whether the apiserver answered with one of `codes` (404 for gone, 409 for a conflict), the
/// answers a reconcile treats as "someone else got there first".
pub fn answered(result: &kube::Error, codes: &[u16]) -> bool {
    matches!(result, kube::Error::Api(status) if codes.contains(&status.code))
}

fn queue_key<K: Resource<DynamicType = ()>>(reference: &ObjectRef<K>) -> String {
    format!("{}/{}", reference.namespace.as_deref().unwrap_or_default(), reference.name)
}

/// The reference a controller puts on what it creates: controlling, and blocking the owner's
/// foreground deletion until it is gone.
pub fn controller_reference<K: Resource<DynamicType = ()>>(owner: &K) -> k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference {
    k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference {
        api_version: K::api_version(&()).into_owned(),
        kind: K::kind(&()).into_owned(),
        name: owner.meta().name.clone().unwrap_or_default(),
        uid: owner.meta().uid.clone().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// A pod of `owner`'s `template`, as Kubernetes' `GetPodFromTemplate`: the template's labels,
/// annotations, finalizers and spec, in the owner's namespace with the owner as its controller,
/// its name generated from `<owner>-`. Each controller then adds its own (labels, a fixed name,
/// a hostname, environment...).
pub fn pod_from_template<K: Resource<DynamicType = ()>>(owner: &K, template: &PodTemplateSpec) -> Pod {
    let template_meta = template.metadata.clone().unwrap_or_default();
    Pod {
        metadata: ObjectMeta {
            generate_name: Some(format!("{}-", owner.meta().name.as_deref().unwrap_or_default())),
            namespace: owner.meta().namespace.clone(),
            labels: template_meta.labels,
            annotations: template_meta.annotations,
            finalizers: template_meta.finalizers,
            owner_references: Some(vec![controller_reference(owner)]),
            ..ObjectMeta::default()
        },
        spec: template.spec.clone(),
        status: None,
    }
}

/// The owner references of `object` that are controllers of kind `kind`, as requests for them.
pub fn controller_of<K, O>(object: &O, kind: &str) -> Option<ObjectRef<K>>
where
    K: Resource<DynamicType = ()>,
    O: Resource,
{
    let owner = object.meta().owner_references.as_ref()?.iter().find(|owner| owner.controller == Some(true) && owner.kind == kind)?;
    let mut reference = ObjectRef::new(&owner.name);
    if let Some(namespace) = &object.meta().namespace {
        reference = reference.within(namespace);
    }
    Some(reference)
}

/// Writes `object` without `finalizer`, with the copy's resourceVersion as precondition (an
/// Update, as Kubernetes' protection controllers do): a copy older than the stored object is
/// refused with 409, so a finalizer someone else added meanwhile is never dropped.
pub async fn remove_finalizer<K>(api: &kube::Api<K>, object: &K, finalizer: &str) -> Result<(), kube::Error>
where
    K: Resource + Clone + serde::Serialize + serde::de::DeserializeOwned + Debug,
{
    let mut updated = object.clone();
    updated.meta_mut().finalizers.get_or_insert_default().retain(|name| name != finalizer);
    updated.meta_mut().managed_fields = None;
    api.replace(object.meta().name.as_deref().unwrap_or_default(), &kube::api::PostParams::default(), &updated).await?;
    Ok(())
}

/// Writes `object` with `finalizer` added, with the copy's resourceVersion as precondition.
pub async fn add_finalizer<K>(api: &kube::Api<K>, object: &K, finalizer: &str) -> Result<(), kube::Error>
where
    K: Resource + Clone + serde::Serialize + serde::de::DeserializeOwned + Debug,
{
    let mut updated = object.clone();
    updated.meta_mut().finalizers.get_or_insert_default().push(finalizer.to_string());
    updated.meta_mut().managed_fields = None;
    api.replace(object.meta().name.as_deref().unwrap_or_default(), &kube::api::PostParams::default(), &updated).await?;
    Ok(())
}
