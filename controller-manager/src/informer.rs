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

/// How many changes a slow controller may fall behind before it misses some (it then relies
/// on its periodic resync, and says so in the log).
const BACKLOG: usize = 65_536;

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
    pub fn changes(&self) -> impl Stream<Item = Arc<K>> + Send + use<K> {
        let what = self.what;
        futures::stream::unfold(self.changes.subscribe(), move |mut receiver| async move {
            loop {
                match receiver.recv().await {
                    Ok(object) => return Some((object, receiver)),
                    Err(broadcast::error::RecvError::Lagged(missed)) => {
                        tracing::warn!(watch = what, missed, "a controller fell behind; the periodic resync will catch up");
                    }
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
            }
        })
    }
}
