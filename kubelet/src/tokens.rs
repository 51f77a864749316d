//! Service account tokens for projected volumes, as the kubelet's token manager keeps them: one
//! TokenRequest per pod, ServiceAccount, audience and lifetime, bound to the pod, and a new one
//! once 80 % of its life has passed (or after a day), so that a container always reads a token
//! that still works.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use k8s_openapi::api::authentication::v1::{BoundObjectReference, TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::{Pod, ServiceAccount};
use kube::api::{Api, PostParams};

#[derive(Clone, Debug, Hash, PartialEq, Eq)]
struct Key {
    namespace: String,
    service_account: String,
    pod_uid: String,
    audience: Option<String>,
    seconds: i64,
}

struct Issued {
    token: String,
    at: Instant,
    lifetime: Duration,
}

impl Issued {
    fn fresh(&self, now: Instant) -> bool {
        let refresh_after = (self.lifetime * 4 / 5).min(Duration::from_secs(24 * 3600));
        now.duration_since(self.at) < refresh_after
    }
}

#[derive(Default)]
pub struct Tokens {
    issued: Mutex<HashMap<Key, Issued>>,
}

impl Tokens {
    /// A token for the pod's ServiceAccount, bound to the pod.
    pub async fn get(&self, client: &kube::Client, pod: &Pod, audience: Option<&str>, seconds: i64) -> Result<String, kube::Error> {
        let namespace = pod.metadata.namespace.clone().unwrap_or_default();
        let service_account = pod.spec.as_ref().and_then(|spec| spec.service_account_name.clone()).filter(|name| !name.is_empty()).unwrap_or_else(|| "default".into());
        let pod_uid = pod.metadata.uid.clone().unwrap_or_default();
        let key = Key { namespace: namespace.clone(), service_account: service_account.clone(), pod_uid: pod_uid.clone(), audience: audience.map(str::to_string), seconds };
        let now = Instant::now();
        if let Some(issued) = self.lock().get(&key).filter(|issued| issued.fresh(now)) {
            return Ok(issued.token.clone());
        }
        let request = TokenRequest {
            spec: TokenRequestSpec {
                audiences: audience.map(|audience| vec![audience.to_string()]).unwrap_or_default(),
                expiration_seconds: Some(seconds),
                bound_object_ref: Some(BoundObjectReference {
                    api_version: Some("v1".into()),
                    kind: Some("Pod".into()),
                    name: pod.metadata.name.clone(),
                    uid: Some(pod_uid),
                }),
            },
            ..Default::default()
        };
        let api: Api<ServiceAccount> = Api::namespaced(client.clone(), &namespace);
        let answer: TokenRequest = api.create_subresource("token", &service_account, &PostParams::default(), &request).await?;
        let token = answer.status.map(|status| status.token).unwrap_or_default();
        let lifetime = Duration::from_secs(u64::try_from(seconds).unwrap_or(0));
        let mut issued = self.lock();
        // Tokens of pods long gone are dropped as they expire.
        issued.retain(|_, old| now.duration_since(old.at) < old.lifetime);
        issued.insert(key, Issued { token: token.clone(), at: now, lifetime });
        Ok(token)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Issued>> {
        self.issued.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
