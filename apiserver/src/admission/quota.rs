//! The ResourceQuota admission plugin (`k8s.io/apiserver/pkg/admission/plugin/resourcequota`),
//! for every kind: before an object is stored, what it adds to the usage of each quota of its
//! namespace that tracks it is checked against the quota's `status.hard` (403 `exceeded quota:
//! q, requested: pods=1, used: pods=2, limited: pods=2`) and then charged to the quota's
//! `status.used` with a compare-and-swap, as kube-apiserver charges it; the resourcequota
//! controller recomputes the usage later (a deleted object gives its share back only then).
//!
//! As in kube, a quota counts only once its `status.hard` is written (by the controller): a
//! quota just created limits nothing until then, and a quota whose `status.used` lacks a
//! resource its `status.hard` names refuses with `status unknown for quota`.

use std::collections::BTreeSet;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::ResourceQuota;
use serde_json::{Value, json};

use common::quota::{self, Evaluator, ObjectCountEvaluator, ResourceList};
use crate::errors::ApiError;
use crate::resources::ResourceType;
use crate::storage::{ListOptions, Revision, Store, StoreError};

/// How many times the charge is tried again after losing a race for a quota's status (kube's
/// `checkQuotas` retries three times).
const CHARGE_ATTEMPTS: usize = 4;

/// One write that quota admission judges.
pub(crate) struct Write<'a> {
    /// The kind written.
    pub resource: &'a ResourceType,
    /// How that kind's usage is measured (its `Strategy::usage`); `None`: it only counts.
    pub evaluator: Option<&'static dyn Evaluator>,
    pub namespace: Option<&'a str>,
    pub object: &'a Value,
    /// The stored object, for an update: only the difference is charged.
    pub old: Option<&'a Value>,
    pub dry_run: bool,
}

/// kube's `admission.NewForbidden` for `object` of `resource`: `pods "x" is forbidden: why`.
pub(crate) fn forbidden(resource: &ResourceType, object: &Value, why: &str) -> ApiError {
    let name = crate::meta::name(object).unwrap_or_default();
    let qualified = resource.qualified_plural();
    let message = if name.is_empty() {
        format!("{qualified} is forbidden: {why}")
    } else {
        format!("{qualified} {name:?} is forbidden: {why}")
    };
    let mut error = ApiError::forbidden(message);
    error.details = json!({"name": name, "group": resource.group, "kind": resource.plural});
    error
}

/// A quota as stored: where, at which revision, and as JSON and typed.
struct Stored {
    key: String,
    revision: Revision,
    value: Value,
    quota: ResourceQuota,
}

/// Whether quota admission judges a write of `resource` in `namespace` at all: never a
/// cluster-scoped kind or one kube ignores (events), and an update only of a kind whose usage an
/// update can change (claims, services). Cheap: no storage, no cache, no decoding.
pub(crate) fn judges(resource: &ResourceType, evaluator: Option<&dyn Evaluator>, namespace: Option<&str>, update: bool) -> bool {
    if namespace.is_none_or(str::is_empty) || !resource.namespaced {
        return false;
    }
    if quota::IGNORED_RESOURCES.contains(&(&*resource.group, &*resource.plural)) {
        return false;
    }
    // An object counted as one (no evaluator of its own) is charged on create only.
    !update || evaluator.is_some_and(|evaluator| evaluator.charges_updates())
}

/// What a write was charged, quota by quota, so that a write that fails afterwards (a name
/// already taken, a refused allocation, a storage error, a lost compare-and-swap) can give it
/// back. Empty for a dry run or a write no quota counted.
#[derive(Debug, Default)]
#[must_use = "a write that fails after its charge gives it back with `give_back`"]
pub(crate) struct Charged {
    charges: Vec<Charge>,
}

/// The amount added to one quota's `status.used`.
#[derive(Debug)]
struct Charge {
    key: String,
    /// The quota charged: a quota deleted and created again under its name is not refunded.
    uid: Option<String>,
    requested: ResourceList,
}

impl Charged {
    /// Takes the charge off each quota again, with the same compare-and-swap as the charge
    /// (kube never does: it leaves the leak to the controller's next recompute, which here
    /// comes only with a spec change, a replenishment or the resync). Each resource goes down
    /// by what was charged and never below zero: the controller may have recomputed the usage
    /// in between, without the object that was never stored. Failures are logged only: the
    /// write's own error is what the client needs, and the controller corrects the usage later.
    pub(crate) async fn give_back(self, store: &dyn Store) {
        'charges: for charge in self.charges {
            for _ in 0..CHARGE_ATTEMPTS {
                match refund(store, &charge).await {
                    Ok(()) => {
                        let requested = quota::pretty_print(&charge.requested);
                        tracing::debug!(quota = charge.key, requested, "quota charge of a failed write given back");
                        continue 'charges;
                    }
                    Err(StoreError::Conflict { .. }) => continue,
                    Err(err) => {
                        tracing::warn!(quota = charge.key, error = %err, "quota charge of a failed write not given back");
                        continue 'charges;
                    }
                }
            }
            tracing::warn!(quota = charge.key, "quota charge of a failed write not given back: the quota changed too often");
        }
    }
}

/// Takes `charge` off its quota's `status.used` if the quota is still the one charged. A quota
/// gone, or created again since, has nothing to give back.
async fn refund(store: &dyn Store, charge: &Charge) -> Result<(), StoreError> {
    let Some(item) = store.get(&charge.key).await? else { return Ok(()) };
    let mut value = item.decode_object()?;
    if crate::meta::string(&value, "uid") != charge.uid.as_deref() {
        return Ok(());
    }
    let mut used = quota::from_json(&value["status"]["used"]);
    let present = quota::mask(&charge.requested, used.keys().map(String::as_str));
    if present.is_empty() {
        return Ok(());
    }
    let lowered = quota::subtract_non_negative(&quota::mask(&used, present.keys().map(String::as_str)), &present);
    used.extend(lowered);
    value["status"]["used"] = quota::to_json(&used);
    crate::meta::remove(&mut value, "resourceVersion");
    let bytes = serde_json::to_vec(&value).map_err(|err| StoreError::Unavailable(format!("encoding resource quota: {err}")))?;
    store.update(&charge.key, bytes, item.mod_revision).await.map(|_| ())
}

/// Checks `write` against the quotas of its namespace and charges them (not on a dry run).
/// Returns what was charged, for a write that fails afterwards to give back.
pub(crate) async fn admit(store: &dyn Store, quotas: &ResourceType, write: Write<'_>) -> Result<Charged, ApiError> {
    let resource = write.resource;
    if !judges(resource, write.evaluator, write.namespace, write.old.is_some()) {
        return Ok(Charged::default());
    }
    let namespace = write.namespace.unwrap_or_default();
    let counted;
    let evaluator: &dyn Evaluator = match write.evaluator {
        Some(evaluator) => evaluator,
        None => {
            counted = ObjectCountEvaluator::new(&resource.group, &resource.plural);
            &counted
        }
    };
    let mut charged = Charged::default();
    // Only the quotas whose charge lost a race are looked at again (kube's `checkQuotas`): the
    // others are charged already. As in kube, a retry that then refuses (or runs out of
    // attempts) leaves the quotas charged on an earlier pass charged until the resourcequota
    // controller recomputes the usage.
    let mut only: Option<BTreeSet<String>> = None;
    for _ in 0..CHARGE_ATTEMPTS {
        let mut stored = list(store, quotas, namespace).await?;
        if let Some(names) = &only {
            stored.retain(|entry| entry.quota.metadata.name.as_ref().is_some_and(|name| names.contains(name)));
        }
        if stored.is_empty() {
            return Ok(charged);
        }
        let typed: Vec<ResourceQuota> = stored.iter().map(|entry| entry.quota.clone()).collect();
        let charges = check(&typed, evaluator, write.object, write.old, Timestamp::now())
            .map_err(|refusal| match refusal {
                Refusal::Forbidden(why) => forbidden(resource, write.object, &why),
                Refusal::Internal(why) => ApiError::internal(why),
            })?;
        if write.dry_run {
            return Ok(charged);
        }
        let mut lost = BTreeSet::new();
        for (entry, change) in stored.into_iter().zip(charges) {
            let Some(change) = change else { continue };
            let name = entry.quota.metadata.name.clone().unwrap_or_default();
            let key = entry.key.clone();
            let uid = entry.quota.metadata.uid.clone();
            match charge(store, entry, &change.used).await {
                Ok(()) => {
                    tracing::debug!(namespace, quota = name, used = quota::pretty_print(&change.used), "quota charged");
                    charged.charges.push(Charge { key, uid, requested: change.requested });
                }
                Err(StoreError::Conflict { .. } | StoreError::NotFound { .. }) => {
                    lost.insert(name);
                }
                Err(err) => return Err(ApiError::from_store(err, quotas, &name)),
            }
        }
        if lost.is_empty() {
            return Ok(charged);
        }
        only = Some(lost);
    }
    Err(ApiError::internal(format!("resource quota of namespace {namespace} changed too often to charge {}", resource.plural)))
}

async fn list(store: &dyn Store, quotas: &ResourceType, namespace: &str) -> Result<Vec<Stored>, ApiError> {
    let page = store.list(&quotas.namespace_prefix(Some(namespace)), ListOptions::default()).await.map_err(|err| ApiError::from_store(err, quotas, ""))?;
    let mut stored = Vec::with_capacity(page.items.len());
    for item in page.items {
        let value = item.decode_object().map_err(|err| ApiError::from_store(err, quotas, ""))?;
        let quota: ResourceQuota = serde_json::from_value(value.clone())
            .map_err(|err| ApiError::internal(format!("decoding resource quota {}: {err}", item.key)))?;
        stored.push(Stored { key: item.key, revision: item.mod_revision, value, quota });
    }
    Ok(stored)
}

/// Writes `used` into the quota's status, if it is still the version read.
async fn charge(store: &dyn Store, entry: Stored, used: &ResourceList) -> Result<(), StoreError> {
    let mut value = entry.value;
    if !value.get("status").is_some_and(Value::is_object) {
        value["status"] = json!({});
    }
    value["status"]["used"] = quota::to_json(used);
    crate::meta::remove(&mut value, "resourceVersion");
    let bytes = serde_json::to_vec(&value).map_err(|err| StoreError::Unavailable(format!("encoding resource quota: {err}")))?;
    store.update(&entry.key, bytes, entry.revision).await.map(|_| ())
}

/// Why a write is refused.
#[derive(Debug, PartialEq)]
enum Refusal {
    /// 403, with kube's wording after `... is forbidden: `.
    Forbidden(String),
    /// The object could not be measured.
    Internal(String),
}

/// What one quota is charged: the `status.used` to write, and the amount added to it.
#[derive(Clone, Debug, PartialEq)]
struct Change {
    used: ResourceList,
    requested: ResourceList,
}

/// kube's `CheckRequest` over the namespace's quotas: for each quota, what it is charged
/// (`None`: nothing), or why the write is refused.
fn check(quotas: &[ResourceQuota], evaluator: &dyn Evaluator, object: &Value, old: Option<&Value>, now: Timestamp) -> Result<Vec<Option<Change>>, Refusal> {
    let internal = |err: quota::QuotaError| Refusal::Internal(err.to_string());
    let mut interesting = Vec::new();
    for (index, resource_quota) in quotas.iter().enumerate() {
        if !evaluator.matches(resource_quota, object).map_err(internal)? {
            continue;
        }
        let name = resource_quota.metadata.name.as_deref().unwrap_or_default();
        let restricted = evaluator.matching_resources(&quota::hard_names(resource_quota));
        evaluator.constraints(&restricted, object).map_err(|why| Refusal::Forbidden(format!("failed quota: {name}: {why}")))?;
        let status = resource_quota.status.as_ref();
        let used = quota::parse_optional_list(status.and_then(|status| status.used.as_ref()));
        if restricted.iter().any(|resource| !used.contains_key(resource)) {
            let names = quota::pretty_print_names(restricted.iter().map(String::as_str));
            return Err(Refusal::Forbidden(format!("status unknown for quota: {name}, resources: {names}")));
        }
        interesting.push(index);
    }
    let mut result = vec![None; quotas.len()];
    if interesting.is_empty() {
        return Ok(result);
    }
    let input = evaluator.usage(object, now).map_err(internal)?;
    let negative = quota::negative_names(&input);
    if !negative.is_empty() {
        let names = quota::pretty_print_names(negative.iter().map(String::as_str));
        return Err(Refusal::Forbidden(format!("quota usage is negative for resource(s): {names}")));
    }
    // An update is charged the difference, for the quotas that counted the old object too.
    let previous = match old {
        Some(old) => Some((old, quota::subtract_non_negative(&input, &evaluator.usage(old, now).map_err(internal)?))),
        None => None,
    };
    for index in interesting {
        let resource_quota = &quotas[index];
        let delta = match &previous {
            Some((old, delta)) if evaluator.matches(resource_quota, old).map_err(internal)? => delta.clone(),
            _ => input.clone(),
        };
        let delta = quota::remove_zeros(&delta);
        if delta.is_empty() {
            continue;
        }
        let status = resource_quota.status.as_ref();
        let hard = quota::parse_optional_list(status.and_then(|status| status.hard.as_ref()));
        let used = quota::parse_optional_list(status.and_then(|status| status.used.as_ref()));
        let requested = quota::mask(&delta, hard.keys().map(String::as_str));
        let new_used = quota::add(&used, &requested);
        let masked = quota::mask(&new_used, requested.keys().map(String::as_str));
        let (allowed, exceeded) = quota::less_than_or_equal(&masked, &hard);
        if !allowed {
            let names = || exceeded.iter().map(String::as_str);
            return Err(Refusal::Forbidden(format!(
                "exceeded quota: {}, requested: {}, used: {}, limited: {}",
                resource_quota.metadata.name.as_deref().unwrap_or_default(),
                quota::pretty_print(&quota::mask(&requested, names())),
                quota::pretty_print(&quota::mask(&used, names())),
                quota::pretty_print(&quota::mask(&hard, names())),
            )));
        }
        if !quota::equals(&new_used, &used) {
            result[index] = Some(Change { used: new_used, requested });
        }
    }
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;
    use common::quota::{ClaimEvaluator, PodEvaluator};

    fn quota_of(name: &str, spec: Value, status: Value) -> ResourceQuota {
        serde_json::from_value(json!({"metadata": {"name": name, "namespace": "demo"}, "spec": spec, "status": status})).unwrap()
    }

    fn pod(requests: Value) -> Value {
        json!({"metadata": {"name": "c", "namespace": "demo"}, "spec": {"containers": [{"name": "a", "image": "x", "resources": {"requests": requests}}]}})
    }

    fn printed(result: &[Option<Change>]) -> Vec<Option<String>> {
        result.iter().map(|change| change.as_ref().map(|change| quota::pretty_print(&change.used))).collect()
    }

    #[test]
    fn a_pod_over_the_count_is_refused_with_kubes_message() {
        let quotas = [quota_of("q", json!({"hard": {"pods": "2"}}), json!({"hard": {"pods": "2"}, "used": {"pods": "2"}}))];
        assert_eq!(
            check(&quotas, &PodEvaluator, &pod(json!({})), None, Timestamp::UNIX_EPOCH),
            Err(Refusal::Forbidden("exceeded quota: q, requested: pods=1, used: pods=2, limited: pods=2".into()))
        );
        let quotas = [quota_of("q", json!({}), json!({"hard": {"pods": "2"}, "used": {"pods": "1"}}))];
        assert_eq!(printed(&check(&quotas, &PodEvaluator, &pod(json!({})), None, Timestamp::UNIX_EPOCH).unwrap()), vec![Some("pods=2".into())]);
    }

    #[test]
    fn compute_resources_are_charged_and_named_when_exceeded() {
        let quotas = [quota_of(
            "compute",
            json!({}),
            json!({"hard": {"requests.cpu": "1", "requests.memory": "1Gi", "pods": "10"}, "used": {"requests.cpu": "800m", "requests.memory": "0", "pods": "3"}}),
        )];
        assert_eq!(
            check(&quotas, &PodEvaluator, &pod(json!({"cpu": "300m", "memory": "100Mi"})), None, Timestamp::UNIX_EPOCH),
            Err(Refusal::Forbidden("exceeded quota: compute, requested: requests.cpu=300m, used: requests.cpu=800m, limited: requests.cpu=1".into()))
        );
        let charged = check(&quotas, &PodEvaluator, &pod(json!({"cpu": "200m", "memory": "100Mi"})), None, Timestamp::UNIX_EPOCH).unwrap();
        assert_eq!(printed(&charged), vec![Some("pods=4,requests.cpu=1,requests.memory=100Mi".into())]);
    }

    #[test]
    fn unknown_usage_and_missing_requests_refuse() {
        let quotas = [quota_of("q", json!({}), json!({"hard": {"pods": "2", "requests.cpu": "1"}, "used": {"pods": "0"}}))];
        assert_eq!(
            check(&quotas, &PodEvaluator, &pod(json!({"cpu": "1"})), None, Timestamp::UNIX_EPOCH),
            Err(Refusal::Forbidden("status unknown for quota: q, resources: pods,requests.cpu".into()))
        );
        let quotas = [quota_of("q", json!({}), json!({"hard": {"requests.cpu": "1"}, "used": {"requests.cpu": "0"}}))];
        assert_eq!(
            check(&quotas, &PodEvaluator, &pod(json!({})), None, Timestamp::UNIX_EPOCH),
            Err(Refusal::Forbidden("failed quota: q: must specify requests.cpu for: a".into()))
        );
    }

    #[test]
    fn quotas_without_status_or_out_of_scope_limit_nothing() {
        let fresh = quota_of("fresh", json!({"hard": {"pods": "0"}}), json!({}));
        let best_effort_only = quota_of("be", json!({"hard": {"pods": "1"}, "scopes": ["BestEffort"]}), json!({"hard": {"pods": "1"}, "used": {"pods": "1"}}));
        let result = check(&[fresh, best_effort_only], &PodEvaluator, &pod(json!({"cpu": "1"})), None, Timestamp::UNIX_EPOCH).unwrap();
        assert_eq!(printed(&result), vec![None, None]);
    }

    #[test]
    fn object_counts_of_any_kind() {
        let quotas = [quota_of("q", json!({}), json!({"hard": {"count/deployments.apps": "1"}, "used": {"count/deployments.apps": "1"}}))];
        let evaluator = ObjectCountEvaluator::new("apps", "deployments");
        assert_eq!(
            check(&quotas, &evaluator, &json!({"metadata": {"name": "d"}}), None, Timestamp::UNIX_EPOCH),
            Err(Refusal::Forbidden("exceeded quota: q, requested: count/deployments.apps=1, used: count/deployments.apps=1, limited: count/deployments.apps=1".into()))
        );
        let configmaps = ObjectCountEvaluator::new("", "configmaps");
        let quotas = [quota_of("q", json!({}), json!({"hard": {"configmaps": "5"}, "used": {"configmaps": "1"}}))];
        let result = check(&quotas, &configmaps, &json!({"metadata": {"name": "c"}}), None, Timestamp::UNIX_EPOCH).unwrap();
        assert_eq!(printed(&result), vec![Some("configmaps=2".into())]);
    }

    #[test]
    fn a_claim_resize_is_charged_the_difference() {
        let claim = |size: &str| json!({"metadata": {"name": "data", "namespace": "demo", "resourceVersion": "5"}, "spec": {"resources": {"requests": {"storage": size}}}});
        let quotas = [quota_of("q", json!({}), json!({"hard": {"requests.storage": "10Gi", "persistentvolumeclaims": "5"}, "used": {"requests.storage": "4Gi", "persistentvolumeclaims": "1"}}))];
        let result = check(&quotas, &ClaimEvaluator, &claim("6Gi"), Some(&claim("4Gi")), Timestamp::UNIX_EPOCH).unwrap();
        assert_eq!(printed(&result), vec![Some("persistentvolumeclaims=1,requests.storage=6Gi".into())]);
        assert_eq!(
            check(&quotas, &ClaimEvaluator, &claim("20Gi"), Some(&claim("4Gi")), Timestamp::UNIX_EPOCH),
            Err(Refusal::Forbidden("exceeded quota: q, requested: requests.storage=16Gi, used: requests.storage=4Gi, limited: requests.storage=10Gi".into()))
        );
        let unchanged = check(&quotas, &ClaimEvaluator, &claim("4Gi"), Some(&claim("4Gi")), Timestamp::UNIX_EPOCH).unwrap();
        assert_eq!(printed(&unchanged), vec![None]);
    }

    #[tokio::test]
    async fn a_charge_is_given_back_down_to_zero_and_only_to_the_quota_charged() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::storage::EmbeddedStore::open(dir.path().join("store")).await.unwrap();
        let key = "/registry/core/resourcequotas/demo/q";
        let stored = |used: Value| {
            let quota = json!({"metadata": {"name": "q", "namespace": "demo", "uid": "u1"}, "status": {"hard": {"pods": "5", "services": "5"}, "used": used}});
            serde_json::to_vec(&quota).unwrap()
        };
        store.create(key, stored(json!({"pods": "3", "services": "1"}))).await.unwrap();
        async fn used(store: &dyn Store, key: &str) -> Value {
            store.get(key).await.unwrap().unwrap().decode_object().unwrap()["status"]["used"].clone()
        }
        let charged = |uid: &str, requested: Value| Charged {
            charges: vec![Charge { key: key.to_owned(), uid: Some(uid.to_owned()), requested: quota::from_json(&requested) }],
        };

        charged("u1", json!({"pods": "1"})).give_back(&store).await;
        assert_eq!(used(&store, key).await, json!({"pods": "2", "services": "1"}));
        // A quota recomputed in between (without the object never stored) stops at zero.
        charged("u1", json!({"pods": "1", "services": "4"})).give_back(&store).await;
        assert_eq!(used(&store, key).await, json!({"pods": "1", "services": "0"}));
        // A namesake created since is not the quota charged; a quota gone has nothing to give.
        charged("u2", json!({"pods": "1"})).give_back(&store).await;
        assert_eq!(used(&store, key).await, json!({"pods": "1", "services": "0"}));
        store.delete(key, None).await.unwrap();
        charged("u1", json!({"pods": "1"})).give_back(&store).await;
        assert!(store.get(key).await.unwrap().is_none());
    }

    #[test]
    fn forbidden_names_the_object_as_kube_does() {
        let error = forbidden(&crate::kinds::find("", "v1", "pods").unwrap().resource, &json!({"metadata": {"name": "c"}}), "exceeded quota: q");
        assert_eq!(error.code, 403);
        assert_eq!(error.message, "pods \"c\" is forbidden: exceeded quota: q");
        assert_eq!(error.details, json!({"name": "c", "group": "", "kind": "pods"}));
        let error = forbidden(&crate::kinds::find("apps", "v1", "deployments").unwrap().resource, &json!({"metadata": {"name": "d"}}), "x");
        assert_eq!(error.message, "deployments.apps \"d\" is forbidden: x");
    }
}
