//! Shared informers: one watch per resource type feeds a reflector store that every controller
//! reads, and a broadcast of each changed (or deleted) object that controllers map to the objects
//! they reconcile. N controllers watching pods cost one watch, as in kube-controller-manager.
//! Metadata-only informers ([`Informer::metadata`]) keep any kind as its [`Metadata`] alone, as
//! client-go's metadata informers do for the garbage collector.

use std::fmt::Debug;
use std::sync::Arc;

use futures::{Stream, StreamExt, TryStreamExt};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Resource;
use kube::api::{Api, ApiResource, DynamicObject, PartialObjectMeta};
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use serde::de::DeserializeOwned;
use tokio::sync::broadcast;

/// How many changes a slow controller may fall behind before it misses some; it then gets every
/// object of the store as changed. The channel keeps this many objects alive, so it is a bound on
/// memory too.
const BACKLOG: usize = 8_192;

/// Cheap to clone: the clones share the store and the stream of changes. The watch stops when
/// the last clone goes.
#[derive(Clone)]
pub struct Informer<K: Resource<DynamicType = ()> + 'static> {
    store: Store<K>,
    changes: broadcast::Sender<Arc<K>>,
    what: Arc<str>,
    _watch: Arc<StopOnDrop>,
}

/// Stops the task feeding an informer once nothing holds the informer.
struct StopOnDrop(tokio::task::AbortHandle);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl<K> Informer<K>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
{
    pub fn start(api: Api<K>, what: &'static str) -> Self {
        Self::from_events(watcher(api, watcher::Config::default()), what.into())
    }

    /// An informer over a watcher's events.
    fn from_events(events: impl Stream<Item = watcher::Result<watcher::Event<K>>> + Send + 'static, what: Arc<str>) -> Self {
        let (store, writer) = reflector::store();
        let (changes, _) = broadcast::channel(BACKLOG);
        let stream = reflector::reflector(writer, events).default_backoff().touched_objects();
        let sender = changes.clone();
        let watching = what.clone();
        let task = tokio::spawn(async move {
            futures::pin_mut!(stream);
            while let Some(change) = stream.next().await {
                match change {
                    // Nobody listening yet is fine: controllers sync everything when they start.
                    Ok(object) => drop(sender.send(Arc::new(object))),
                    Err(err) => tracing::warn!(watch = %watching, error = %err, "watch failed, retrying"),
                }
            }
        });
        Self { store, changes, what, _watch: Arc::new(StopOnDrop(task.abort_handle())) }
    }

    pub fn store(&self) -> Store<K> {
        self.store.clone()
    }

    pub async fn ready(&self) {
        if self.store.wait_until_ready().await.is_err() {
            tracing::error!(watch = %self.what, "informer stopped before it listed");
        }
    }

    /// Every object that changes from now on (deleted ones included, as they were last seen).
    /// A controller that falls too far behind gets every object in the store instead of what it
    /// missed; deletions it missed are caught by its periodic resync.
    pub fn changes(&self) -> impl Stream<Item = Arc<K>> + Send + use<K> {
        let what = self.what.clone();
        let store = self.store.clone();
        futures::stream::unfold((self.changes.subscribe(), Vec::new()), move |(mut receiver, mut replay): (broadcast::Receiver<Arc<K>>, Vec<Arc<K>>)| {
            let (store, what) = (store.clone(), what.clone());
            async move {
                if let Some(object) = replay.pop() {
                    return Some((object, (receiver, replay)));
                }
                loop {
                    match receiver.recv().await {
                        Ok(object) => return Some((object, (receiver, replay))),
                        Err(broadcast::error::RecvError::Lagged(missed)) => {
                            tracing::warn!(watch = %what, missed, "a controller fell behind; it gets everything again");
                            replay = store.state();
                            if let Some(object) = replay.pop() {
                                return Some((object, (receiver, replay)));
                            }
                        }
                        Err(broadcast::error::RecvError::Closed) => return None,
                    }
                }
            }
        })
    }
}

/// Any object as its metadata alone. Its kind is its informer's: the type only lets one store,
/// and one controller framework, serve every kind.
#[derive(Clone, Debug, serde::Deserialize)]
pub struct Metadata {
    pub metadata: ObjectMeta,
}

impl Resource for Metadata {
    type DynamicType = ();
    type Scope = kube::core::DynamicResourceScope;

    fn kind(_: &()) -> std::borrow::Cow<'_, str> {
        "".into()
    }

    fn group(_: &()) -> std::borrow::Cow<'_, str> {
        "".into()
    }

    fn version(_: &()) -> std::borrow::Cow<'_, str> {
        "".into()
    }

    fn plural(_: &()) -> std::borrow::Cow<'_, str> {
        "".into()
    }

    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }

    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

impl Informer<Metadata> {
    /// The metadata of every object of `resource`, listed and watched metadata-only
    /// (`as=PartialObjectMetadataList`), which costs the apiserver and this process a fraction
    /// of whole objects. managedFields are dropped, as kube-controller-manager's informers drop
    /// them (`TransformStripManagedFields`): often the larger part of the metadata, and no
    /// controller reads them.
    pub fn metadata(client: kube::Client, resource: &ApiResource, what: Arc<str>) -> Self {
        let api: Api<PartialObjectMeta<DynamicObject>> = Api::all_with(client, resource);
        let kept = |object: PartialObjectMeta<DynamicObject>| Metadata { metadata: ObjectMeta { managed_fields: None, ..object.metadata } };
        let events = watcher(api, watcher::Config::default()).map_ok(move |event| match event {
            watcher::Event::Apply(object) => watcher::Event::Apply(kept(object)),
            watcher::Event::Delete(object) => watcher::Event::Delete(kept(object)),
            watcher::Event::Init => watcher::Event::Init,
            watcher::Event::InitApply(object) => watcher::Event::InitApply(kept(object)),
            watcher::Event::InitDone => watcher::Event::InitDone,
        });
        Self::from_events(events, what)
    }
}
