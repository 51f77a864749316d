//! Shared informers: one watch per resource type feeds a reflector store that every controller
//! reads, and a broadcast of each changed (or deleted) object that controllers map to the objects
//! they reconcile. N controllers watching pods cost one watch, as in kube-controller-manager.

use std::fmt::Debug;
use std::sync::Arc;

use futures::{Stream, StreamExt};
use kube::Resource;
use kube::api::Api;
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use serde::de::DeserializeOwned;
use tokio::sync::broadcast;

/// How many changes a slow controller may fall behind before it misses some; it then gets every
/// object of the store as changed. The channel keeps this many objects alive, so it is a bound on
/// memory too.
const BACKLOG: usize = 8_192;

/// Cheap to clone: the clones share the store and the stream of changes.
#[derive(Clone)]
pub struct Informer<K: Resource<DynamicType = ()> + 'static> {
    store: Store<K>,
    changes: broadcast::Sender<Arc<K>>,
    what: &'static str,
}

impl<K> Informer<K>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
{
    pub fn start(api: Api<K>, what: &'static str) -> Self {
        let (store, writer) = reflector::store();
        let (changes, _) = broadcast::channel(BACKLOG);
        let stream = reflector::reflector(writer, watcher(api, watcher::Config::default())).default_backoff().touched_objects();
        let sender = changes.clone();
        tokio::spawn(async move {
            futures::pin_mut!(stream);
            while let Some(change) = stream.next().await {
                match change {
                    // Nobody listening yet is fine: controllers sync everything when they start.
                    Ok(object) => drop(sender.send(Arc::new(object))),
                    Err(err) => tracing::warn!(watch = what, error = %err, "watch failed, retrying"),
                }
            }
        });
        Self { store, changes, what }
    }

    pub fn store(&self) -> Store<K> {
        self.store.clone()
    }

    pub async fn ready(&self) {
        if self.store.wait_until_ready().await.is_err() {
            tracing::error!(watch = self.what, "informer stopped before it listed");
        }
    }

    /// Every object that changes from now on (deleted ones included, as they were last seen).
    /// A controller that falls too far behind gets every object in the store instead of what it
    /// missed; deletions it missed are caught by its periodic resync.
    pub fn changes(&self) -> impl Stream<Item = Arc<K>> + Send + use<K> {
        let what = self.what;
        let store = self.store.clone();
        futures::stream::unfold((self.changes.subscribe(), Vec::new()), move |(mut receiver, mut replay): (broadcast::Receiver<Arc<K>>, Vec<Arc<K>>)| {
            let store = store.clone();
            async move {
                if let Some(object) = replay.pop() {
                    return Some((object, (receiver, replay)));
                }
                loop {
                    match receiver.recv().await {
                        Ok(object) => return Some((object, (receiver, replay))),
                        Err(broadcast::error::RecvError::Lagged(missed)) => {
                            tracing::warn!(watch = what, missed, "a controller fell behind; it gets everything again");
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
