//! Events as Kubernetes components record them (`core/v1` Events about an object), with the
//! correlation client-go's recorder does: a repeat of the same reason and message about the same
//! object counts up on the first event instead of adding another.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta, Time};
use kube::api::{Api, Patch, PatchParams, PostParams};

/// How many distinct events are remembered for counting repeats, as client-go's LRU.
const REMEMBERED: usize = 4096;

pub struct Recorder {
    client: kube::Client,
    component: String,
    instance: String,
    sequence: AtomicU64,
    /// (object uid, reason and message) → (event name, count so far).
    recorded: Mutex<HashMap<(String, String), (String, i32)>>,
}

impl Recorder {
    /// `component` is what `kubectl get events` shows under FROM (`default-scheduler`,
    /// `deployment-controller`); `instance` tells replicas apart.
    pub fn new(client: kube::Client, component: &str, instance: &str) -> Self {
        Self {
            client,
            component: component.to_string(),
            instance: instance.to_string(),
            sequence: AtomicU64::new(0),
            recorded: Mutex::new(HashMap::new()),
        }
    }

    /// Records `reason` (`Normal` or `Warning` as `kind`) about `involved`. Events are best effort
    /// in Kubernetes; callers usually log a failure and go on.
    pub async fn record(&self, involved: &ObjectReference, kind: &str, reason: &str, action: &str, message: &str) -> Result<(), kube::Error> {
        let namespace = involved.namespace.clone().filter(|namespace| !namespace.is_empty()).unwrap_or_else(|| "default".into());
        let key = (involved.uid.clone().unwrap_or_default(), format!("{reason}/{message}"));
        let events: Api<Event> = Api::namespaced(self.client.clone(), &namespace);
        let earlier = self.recorded.lock().ok().and_then(|recorded| recorded.get(&key).cloned());
        if let Some((name, count)) = earlier {
            let now = jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
            let patch = serde_json::json!({"count": count + 1, "lastTimestamp": now});
            // A repeat of an event that is gone (expired, deleted) starts a new one.
            if events.patch(&name, &PatchParams::default(), &Patch::Merge(patch)).await.is_ok() {
                self.remember(key, name, count + 1);
                return Ok(());
            }
        }
        let now = jiff::Timestamp::now();
        let sequence = self.sequence.fetch_add(1, Ordering::Relaxed);
        let object = involved.name.as_deref().unwrap_or("object");
        let name = format!("{object}.{:x}{:04x}", now.as_nanosecond(), sequence % 0x10000);
        let event = Event {
            metadata: ObjectMeta { name: Some(name.clone()), namespace: Some(namespace), ..ObjectMeta::default() },
            involved_object: involved.clone(),
            reason: Some(reason.into()),
            message: Some(message.into()),
            type_: Some(kind.into()),
            action: Some(action.into()),
            source: Some(EventSource { component: Some(self.component.clone()), host: None }),
            first_timestamp: Some(Time(now)),
            last_timestamp: Some(Time(now)),
            event_time: Some(MicroTime(now)),
            count: Some(1),
            reporting_component: Some(self.component.clone()),
            reporting_instance: Some(self.instance.clone()),
            ..Event::default()
        };
        events.create(&PostParams::default(), &event).await?;
        self.remember(key, name, 1);
        Ok(())
    }

    fn remember(&self, key: (String, String), name: String, count: i32) {
        if let Ok(mut recorded) = self.recorded.lock() {
            if recorded.len() >= REMEMBERED && !recorded.contains_key(&key) {
                recorded.clear();
            }
            recorded.insert(key, (name, count));
        }
    }
}

/// The reference an event about `object` carries.
pub fn reference<K: kube::Resource<DynamicType = ()>>(object: &K) -> ObjectReference {
    let metadata = object.meta();
    ObjectReference {
        api_version: Some(K::api_version(&()).into_owned()),
        kind: Some(K::kind(&()).into_owned()),
        name: metadata.name.clone(),
        namespace: metadata.namespace.clone(),
        uid: metadata.uid.clone(),
        resource_version: metadata.resource_version.clone(),
        ..ObjectReference::default()
    }
}
