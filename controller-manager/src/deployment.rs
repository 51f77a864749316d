//! The Deployment controller: owns one ReplicaSet per pod template (named after a hash of it, so
//! that creating one is idempotent and a rollback finds the old set again), moves replicas from
//! the old sets to the new one as the strategy says (RollingUpdate within maxSurge and
//! maxUnavailable, or Recreate), keeps `revisionHistoryLimit` old sets, and reports progress.
//! `kubectl rollout undo` and `rollout restart` change the template, which this turns into a
//! rollout like any other change.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use common::selector::LabelSelector;
use futures::StreamExt;
use k8s_openapi::api::apps::v1::{Deployment, DeploymentCondition, DeploymentStatus, ReplicaSet, ReplicaSetSpec};
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector as K8sSelector, ObjectMeta, Time};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;

use crate::context::Context;
use crate::history;
use crate::framework::{self, ReconcileError};
use crate::replicaset::is_active;

const COMPONENT: &str = "deployment-controller";
const HASH_LABEL: &str = "pod-template-hash";
const REVISION: &str = "deployment.kubernetes.io/revision";
const DESIRED: &str = "deployment.kubernetes.io/desired-replicas";
const MAX_REPLICAS: &str = "deployment.kubernetes.io/max-replicas";

struct Controller {
    context: Arc<Context>,
    recorder: common::events::Recorder,
}

pub async fn run(context: Arc<Context>) {
    let controller = Arc::new(Controller { recorder: context.recorder(COMPONENT), context: context.clone() });
    let deployments = context.deployments.store();
    let own = context.deployments.changes().map(|deployment| ObjectRef::from_obj(&*deployment)).boxed();
    let sets = context.replicasets.changes().filter_map(|set| async move { framework::controller_of::<Deployment, _>(&*set, "Deployment") }).boxed();
    // Recreate waits for the old pods to be gone: their going is a reason to look again.
    let pods = context
        .pods
        .changes()
        .filter_map({
            let sets = context.replicasets.store();
            move |pod| {
                let owner = framework::controller_of::<ReplicaSet, _>(&*pod, "ReplicaSet").and_then(|set| sets.get(&set));
                async move { owner.and_then(|set| framework::controller_of::<Deployment, _>(&*set, "Deployment")) }
            }
        })
        .boxed();
    framework::run("deployment", context.metrics.clone(), controller, deployments, vec![own, sets, pods], context.settings.concurrent_syncs, reconcile).await;
}

/// The template without the hash label, as a canonical string: what "same template" means.
fn template_key(template: &PodTemplateSpec) -> String {
    let mut template = template.clone();
    if let Some(labels) = template.metadata.as_mut().and_then(|meta| meta.labels.as_mut()) {
        labels.remove(HASH_LABEL);
    }
    common::semantic::canonical(&serde_json::to_value(&template).unwrap_or_default())
}

/// The pod-template-hash of the template (and the collision count).
fn template_hash(template: &PodTemplateSpec, collisions: i32) -> String {
    history::short_hash(&template_key(template), collisions)
}

fn revision_of(set: &ReplicaSet) -> i64 {
    set.metadata.annotations.as_ref().and_then(|annotations| annotations.get(REVISION)).and_then(|text| text.parse().ok()).unwrap_or(0)
}

fn spec_replicas(set: &ReplicaSet) -> i32 {
    set.spec.as_ref().and_then(|spec| spec.replicas).unwrap_or(0)
}

fn available(set: &ReplicaSet) -> i32 {
    set.status.as_ref().and_then(|status| status.available_replicas).unwrap_or(0)
}

/// An int-or-percent of `total`; percentages round up for surge and down for unavailable.
fn scaled(value: Option<&IntOrString>, total: i32, default_percent: i32, round_up: bool) -> i32 {
    let percent = match value {
        Some(IntOrString::Int(number)) => return *number,
        Some(IntOrString::String(text)) => text.trim_end_matches('%').parse().unwrap_or(default_percent),
        None => default_percent,
    };
    let product = i64::from(total) * i64::from(percent);
    let result = if round_up { (product + 99) / 100 } else { product / 100 };
    i32::try_from(result).unwrap_or(i32::MAX)
}

/// maxSurge and maxUnavailable as pod counts; both zero would stall, so unavailable is then 1.
fn surge_and_unavailable(deployment: &Deployment, replicas: i32) -> (i32, i32) {
    let rolling = deployment.spec.as_ref().and_then(|spec| spec.strategy.as_ref()).and_then(|strategy| strategy.rolling_update.as_ref());
    let surge = scaled(rolling.and_then(|rolling| rolling.max_surge.as_ref()), replicas, 25, true);
    let unavailable = scaled(rolling.and_then(|rolling| rolling.max_unavailable.as_ref()), replicas, 25, false).min(replicas);
    if surge == 0 && unavailable == 0 { (0, 1) } else { (surge, unavailable) }
}

async fn reconcile(deployment: Arc<Deployment>, controller: Arc<Controller>) -> Result<Action, ReconcileError> {
    if deployment.metadata.deletion_timestamp.is_some() {
        return Ok(Action::requeue(framework::RESYNC));
    }
    let context = &controller.context;
    let namespace = deployment.metadata.namespace.clone().unwrap_or_default();
    let uid = deployment.metadata.uid.clone().unwrap_or_default();
    let spec = deployment.spec.clone().unwrap_or_default();
    let Ok(selector) = LabelSelector::from_k8s(&spec.selector) else {
        return Ok(Action::requeue(framework::RESYNC));
    };
    let sets_api: Api<ReplicaSet> = Api::namespaced(context.client.clone(), &namespace);

    // The sets this deployment controls (adopting orphans its selector matches).
    let mut owned: Vec<ReplicaSet> = Vec::new();
    for set in context.replicasets.store().state() {
        if set.metadata.namespace.as_deref() != Some(namespace.as_str()) {
            continue;
        }
        let controller_ref = set.metadata.owner_references.iter().flatten().find(|owner| owner.controller == Some(true));
        let labels = set.metadata.labels.clone().unwrap_or_default();
        match controller_ref {
            Some(owner) if owner.uid == uid => owned.push((*set).clone()),
            None if !selector.is_empty() && selector.matches(&labels) && set.metadata.deletion_timestamp.is_none() => {
                let mut references = set.metadata.owner_references.clone().unwrap_or_default();
                references.push(framework::controller_reference(&*deployment));
                let patch = serde_json::json!({"metadata": {"ownerReferences": references, "resourceVersion": set.metadata.resource_version}});
                match sets_api.patch(set.metadata.name.as_deref().unwrap_or_default(), &PatchParams::default(), &Patch::Merge(patch)).await {
                    Ok(adopted) => owned.push(adopted),
                    Err(err) if framework::answered(&err, &[404, 409]) => {}
                    Err(err) => return Err(err.into()),
                }
            }
            _ => {}
        }
    }
    owned.sort_by_key(|set| (revision_of(set), set.metadata.creation_timestamp.as_ref().map(|time| time.0)));

    let template = spec.template.clone();
    let key = template_key(&template);
    let replicas = spec.replicas.unwrap_or(1);
    let paused = spec.paused.unwrap_or(false);
    let new_index = owned.iter().position(|set| set.spec.as_ref().and_then(|spec| spec.template.as_ref()).is_some_and(|existing| template_key(existing) == key));
    let max_revision = owned.iter().map(revision_of).max().unwrap_or(0);

    if !paused {
        let recreate = spec.strategy.as_ref().and_then(|strategy| strategy.type_.as_deref()) == Some("Recreate");
        let (surge, _) = surge_and_unavailable(&deployment, replicas);
        let total: i32 = owned.iter().map(spec_replicas).sum();
        let mut new_index = new_index;
        if new_index.is_none() {
            // Recreate starts the new set empty; RollingUpdate gives it what the surge allows.
            let start = if recreate { 0 } else { (replicas + surge - total).clamp(0, replicas) };
            let set = controller.create_set(&deployment, &sets_api, &template, max_revision + 1, start, replicas + surge).await?;
            owned.push(set);
            new_index = Some(owned.len() - 1);
        } else if let Some(index) = new_index {
            // A set brought back by a rollback becomes the newest revision.
            if revision_of(&owned[index]) < max_revision || owned[index].metadata.annotations.as_ref().and_then(|a| a.get(REVISION)).is_none() {
                let next = if revision_of(&owned[index]) < max_revision { max_revision + 1 } else { max_revision.max(1) };
                owned[index] = annotate(&sets_api, &owned[index], &[(REVISION, next.to_string())]).await?;
            }
        }
        let new_index = new_index.unwrap_or(0);
        if recreate {
            controller.recreate(&deployment, &sets_api, &mut owned, new_index, replicas).await?;
        } else {
            controller.roll(&deployment, &sets_api, &mut owned, new_index, replicas).await?;
        }
        controller.clean_up(&deployment, &sets_api, &owned, new_index).await?;
    }

    let new_set = new_index.and_then(|index| owned.get(index)).or_else(|| owned.last());
    update_status(context, &deployment, &owned, new_set, paused).await
}

async fn annotate(sets: &Api<ReplicaSet>, set: &ReplicaSet, pairs: &[(&str, String)]) -> Result<ReplicaSet, ReconcileError> {
    let annotations: BTreeMap<&str, &str> = pairs.iter().map(|(key, value)| (*key, value.as_str())).collect();
    let patch = serde_json::json!({"metadata": {"annotations": annotations}});
    Ok(sets.patch(set.metadata.name.as_deref().unwrap_or_default(), &PatchParams::default(), &Patch::Merge(patch)).await?)
}

impl Controller {
    async fn create_set(
        &self,
        deployment: &Deployment,
        sets: &Api<ReplicaSet>,
        template: &PodTemplateSpec,
        revision: i64,
        replicas: i32,
        max_replicas: i32,
    ) -> Result<ReplicaSet, ReconcileError> {
        let name = deployment.metadata.name.clone().unwrap_or_default();
        let collisions = deployment.status.as_ref().and_then(|status| status.collision_count).unwrap_or(0);
        let hash = template_hash(template, collisions);
        let mut template = template.clone();
        let meta = template.metadata.get_or_insert_with(ObjectMeta::default);
        meta.labels.get_or_insert_with(BTreeMap::new).insert(HASH_LABEL.into(), hash.clone());
        let labels = meta.labels.clone();
        let mut selector: K8sSelector = deployment.spec.as_ref().map(|spec| spec.selector.clone()).unwrap_or_default();
        selector.match_labels.get_or_insert_with(BTreeMap::new).insert(HASH_LABEL.into(), hash.clone());
        let desired = deployment.spec.as_ref().and_then(|spec| spec.replicas).unwrap_or(1);
        let set = ReplicaSet {
            metadata: ObjectMeta {
                name: Some(format!("{name}-{hash}")),
                namespace: deployment.metadata.namespace.clone(),
                labels,
                annotations: Some(BTreeMap::from([
                    (REVISION.to_string(), revision.to_string()),
                    (DESIRED.to_string(), desired.to_string()),
                    (MAX_REPLICAS.to_string(), max_replicas.to_string()),
                ])),
                owner_references: Some(vec![framework::controller_reference(deployment)]),
                ..ObjectMeta::default()
            },
            spec: Some(ReplicaSetSpec {
                replicas: Some(replicas),
                min_ready_seconds: deployment.spec.as_ref().and_then(|spec| spec.min_ready_seconds),
                selector,
                template: Some(template),
            }),
            status: None,
        };
        match sets.create(&PostParams::default(), &set).await {
            Ok(created) => {
                self.event(deployment, "Normal", "ScalingReplicaSet", &format!("Scaled up replica set {name}-{hash} to {replicas}")).await;
                Ok(created)
            }
            Err(err) if framework::answered(&err, &[409]) => {
                // Created by an earlier run whose reply was lost, or a hash collision.
                let existing = sets.get(&format!("{name}-{hash}")).await?;
                let ours = existing.metadata.owner_references.iter().flatten().any(|owner| Some(&owner.uid) == deployment.metadata.uid.as_ref());
                let same = existing.spec.as_ref().and_then(|spec| spec.template.as_ref()).is_some_and(|existing| template_key(existing) == template_key(set.spec.as_ref().and_then(|spec| spec.template.as_ref()).unwrap_or(&PodTemplateSpec::default())));
                if ours && same {
                    return Ok(existing);
                }
                let deployments: Api<Deployment> = Api::namespaced(self.context.client.clone(), deployment.metadata.namespace.as_deref().unwrap_or_default());
                let patch = serde_json::json!({"status": {"collisionCount": collisions + 1}});
                deployments.patch_status(&name, &PatchParams::default(), &Patch::Merge(patch)).await?;
                Err(ReconcileError::Other(format!("replica set {name}-{hash} exists with another template; trying the next hash")))
            }
            Err(err) => Err(err.into()),
        }
    }

    async fn scale(&self, deployment: &Deployment, sets: &Api<ReplicaSet>, set: &mut ReplicaSet, to: i32, max_replicas: i32) -> Result<(), ReconcileError> {
        let from = spec_replicas(set);
        let desired = deployment.spec.as_ref().and_then(|spec| spec.replicas).unwrap_or(1);
        let annotations = set.metadata.annotations.clone().unwrap_or_default();
        let stale = annotations.get(DESIRED) != Some(&desired.to_string()) || annotations.get(MAX_REPLICAS) != Some(&max_replicas.to_string());
        if from == to && !stale {
            return Ok(());
        }
        let patch = serde_json::json!({
            "metadata": {"annotations": {DESIRED: desired.to_string(), MAX_REPLICAS: max_replicas.to_string()}},
            "spec": {"replicas": to},
        });
        *set = sets.patch(set.metadata.name.as_deref().unwrap_or_default(), &PatchParams::default(), &Patch::Merge(patch)).await?;
        if from != to {
            let direction = if to > from { "up" } else { "down" };
            let message = format!("Scaled {direction} replica set {} to {to} from {from}", set.metadata.name.as_deref().unwrap_or_default());
            self.event(deployment, "Normal", "ScalingReplicaSet", &message).await;
        }
        Ok(())
    }

    /// RollingUpdate: grow the new set within maxSurge, shrink the old ones within
    /// maxUnavailable, from the sets' own counts, as Kubernetes' rolling updater does.
    async fn roll(&self, deployment: &Deployment, sets: &Api<ReplicaSet>, owned: &mut [ReplicaSet], new_index: usize, replicas: i32) -> Result<(), ReconcileError> {
        let (surge, unavailable) = surge_and_unavailable(deployment, replicas);
        let max_total = replicas + surge;
        let total: i32 = owned.iter().map(spec_replicas).sum();
        let new_replicas = spec_replicas(&owned[new_index]);
        let target = if new_replicas > replicas {
            replicas
        } else if total >= max_total {
            new_replicas
        } else {
            new_replicas + (max_total - total).min(replicas - new_replicas)
        };
        self.scale(deployment, sets, &mut owned[new_index], target, max_total).await?;

        let old_total: i32 = owned.iter().enumerate().filter(|(index, _)| *index != new_index).map(|(_, set)| spec_replicas(set)).sum();
        if old_total == 0 {
            return Ok(());
        }
        let all_total: i32 = owned.iter().map(spec_replicas).sum();
        let min_available = replicas - unavailable;
        let new_unavailable = (spec_replicas(&owned[new_index]) - available(&owned[new_index])).max(0);
        let mut budget = all_total - min_available - new_unavailable;
        if budget <= 0 {
            return Ok(());
        }
        // First the old pods that are not available anyway: removing them costs nothing.
        for index in (0..owned.len()).filter(|index| *index != new_index) {
            let unhealthy = (spec_replicas(&owned[index]) - available(&owned[index])).max(0).min(budget);
            if unhealthy > 0 {
                let to = spec_replicas(&owned[index]) - unhealthy;
                self.scale(deployment, sets, &mut owned[index], to, max_total).await?;
                budget -= unhealthy;
            }
        }
        // Then available old pods, oldest set first, down to what must stay available.
        let available_total: i32 = owned.iter().map(available).sum();
        let mut removable = (available_total - min_available).max(0).min(budget.max(0));
        for index in (0..owned.len()).filter(|index| *index != new_index) {
            if removable <= 0 {
                break;
            }
            let down = spec_replicas(&owned[index]).min(removable);
            if down > 0 {
                let to = spec_replicas(&owned[index]) - down;
                self.scale(deployment, sets, &mut owned[index], to, max_total).await?;
                removable -= down;
            }
        }
        Ok(())
    }

    /// Recreate: all old pods go first; the new set grows only once none is left.
    async fn recreate(&self, deployment: &Deployment, sets: &Api<ReplicaSet>, owned: &mut [ReplicaSet], new_index: usize, replicas: i32) -> Result<(), ReconcileError> {
        for index in (0..owned.len()).filter(|index| *index != new_index) {
            self.scale(deployment, sets, &mut owned[index], 0, replicas).await?;
        }
        let old_uids: Vec<String> =
            owned.iter().enumerate().filter(|(index, _)| *index != new_index).filter_map(|(_, set)| set.metadata.uid.clone()).collect();
        let old_pods_left = self.context.pods.store().state().iter().any(|pod| {
            pod.metadata.owner_references.iter().flatten().any(|owner| old_uids.contains(&owner.uid))
                && (is_active(pod) || pod.metadata.deletion_timestamp.is_some())
        });
        if old_pods_left {
            return Ok(());
        }
        self.scale(deployment, sets, &mut owned[new_index], replicas, replicas).await
    }

    /// Deletes the oldest empty old sets beyond revisionHistoryLimit.
    async fn clean_up(&self, deployment: &Deployment, sets: &Api<ReplicaSet>, owned: &[ReplicaSet], new_index: usize) -> Result<(), ReconcileError> {
        let limit = usize::try_from(deployment.spec.as_ref().and_then(|spec| spec.revision_history_limit).unwrap_or(10)).unwrap_or(10);
        let empty: Vec<&ReplicaSet> = owned
            .iter()
            .enumerate()
            .filter(|(index, set)| *index != new_index && spec_replicas(set) == 0 && set.status.as_ref().is_none_or(|status| status.replicas == 0))
            .map(|(_, set)| set)
            .collect();
        if empty.len() <= limit {
            return Ok(());
        }
        for set in &empty[..empty.len() - limit] {
            match sets.delete(set.metadata.name.as_deref().unwrap_or_default(), &DeleteParams::background()).await {
                Err(err) if !framework::answered(&err, &[404, 409]) => return Err(err.into()),
                _ => {}
            }
        }
        Ok(())
    }

    async fn event(&self, deployment: &Deployment, kind: &str, reason: &str, message: &str) {
        if let Err(err) = self.recorder.record(&common::events::reference(deployment), kind, reason, "Reconcile", message).await {
            tracing::debug!(namespace = ?deployment.metadata.namespace, name = ?deployment.metadata.name, error = %err, "cannot record event");
        }
    }
}

fn condition(type_: &str, status: &str, reason: &str, message: String, now: &Time, previous: Option<&DeploymentCondition>) -> DeploymentCondition {
    let unchanged = previous.is_some_and(|previous| previous.status == status);
    DeploymentCondition {
        type_: type_.into(),
        status: status.into(),
        reason: Some(reason.into()),
        message: Some(message),
        last_update_time: Some(now.clone()),
        last_transition_time: if unchanged { previous.and_then(|previous| previous.last_transition_time.clone()) } else { Some(now.clone()) },
    }
}

async fn update_status(context: &Context, deployment: &Deployment, owned: &[ReplicaSet], new_set: Option<&ReplicaSet>, paused: bool) -> Result<Action, ReconcileError> {
    let spec = deployment.spec.clone().unwrap_or_default();
    let replicas = spec.replicas.unwrap_or(1);
    let sum = |field: &dyn Fn(&ReplicaSet) -> i32| owned.iter().map(field).sum::<i32>();
    let status_replicas = sum(&|set| set.status.as_ref().map_or(0, |status| status.replicas));
    let ready = sum(&|set| set.status.as_ref().and_then(|status| status.ready_replicas).unwrap_or(0));
    let available_total = sum(&available);
    let updated = new_set.and_then(|set| set.status.as_ref()).map_or(0, |status| status.replicas);
    let (_, unavailable) = surge_and_unavailable(deployment, replicas);
    let previous = deployment.status.clone().unwrap_or_default();
    let previous_condition = |type_: &str| previous.conditions.iter().flatten().find(|condition| condition.type_ == type_).cloned();
    let now = Time(jiff::Timestamp::now());
    let set_name = new_set.and_then(|set| set.metadata.name.clone()).unwrap_or_default();

    let available_condition = if available_total >= replicas - unavailable {
        condition("Available", "True", "MinimumReplicasAvailable", "Deployment has minimum availability.".into(), &now, previous_condition("Available").as_ref())
    } else {
        condition("Available", "False", "MinimumReplicasUnavailable", "Deployment does not have minimum availability.".into(), &now, previous_condition("Available").as_ref())
    };
    let complete = updated == replicas && status_replicas == replicas && available_total >= replicas && new_set.is_some();
    let counts_changed = (previous.replicas, previous.updated_replicas, previous.ready_replicas, previous.available_replicas)
        != (Some(status_replicas), Some(updated), Some(ready), Some(available_total));
    let deadline = Duration::from_secs(u64::try_from(spec.progress_deadline_seconds.unwrap_or(600)).unwrap_or(600));
    let last_progress = previous_condition("Progressing");
    let mut requeue = framework::RESYNC;
    let progressing = if paused {
        condition("Progressing", "Unknown", "DeploymentPaused", "Deployment is paused".into(), &now, last_progress.as_ref())
    } else if complete {
        let mut done = condition("Progressing", "True", "NewReplicaSetAvailable", format!("ReplicaSet {set_name:?} has successfully progressed."), &now, last_progress.as_ref());
        if last_progress.as_ref().is_some_and(|last| last.reason.as_deref() == Some("NewReplicaSetAvailable")) {
            done.last_update_time = last_progress.as_ref().and_then(|last| last.last_update_time.clone());
        }
        done
    } else if counts_changed || last_progress.is_none() || previous.observed_generation != deployment.metadata.generation {
        requeue = deadline;
        condition("Progressing", "True", "ReplicaSetUpdated", format!("ReplicaSet {set_name:?} is progressing."), &now, last_progress.as_ref())
    } else {
        let since = last_progress.as_ref().and_then(|last| last.last_update_time.as_ref()).map_or(now.0, |time| time.0);
        let stalled_for = Duration::from_secs(u64::try_from(now.0.as_second() - since.as_second()).unwrap_or(0));
        if stalled_for >= deadline {
            condition("Progressing", "False", "ProgressDeadlineExceeded", format!("ReplicaSet {set_name:?} has timed out progressing."), &now, last_progress.as_ref())
        } else {
            requeue = deadline - stalled_for;
            let mut still = last_progress.clone().unwrap_or_else(|| condition("Progressing", "True", "ReplicaSetUpdated", String::new(), &now, None));
            still.last_update_time = Some(Time(since));
            still
        }
    };
    let keep_times = |fresh: DeploymentCondition, old: Option<DeploymentCondition>| match old {
        // An unchanged condition keeps its times, so that an idle deployment writes nothing.
        Some(old) if old.status == fresh.status && old.reason == fresh.reason && old.message == fresh.message && fresh.type_ == "Available" => old,
        _ => fresh,
    };
    let status = DeploymentStatus {
        observed_generation: deployment.metadata.generation,
        replicas: Some(status_replicas),
        updated_replicas: Some(updated),
        ready_replicas: Some(ready),
        available_replicas: Some(available_total),
        unavailable_replicas: Some((replicas - available_total).max(0)),
        conditions: Some(vec![keep_times(available_condition, previous_condition("Available")), progressing]),
        collision_count: previous.collision_count,
        terminating_replicas: None,
    };
    if deployment.status.as_ref() != Some(&status) {
        let deployments: Api<Deployment> = Api::namespaced(context.client.clone(), deployment.metadata.namespace.as_deref().unwrap_or_default());
        let name = deployment.metadata.name.as_deref().unwrap_or_default();
        let patch = serde_json::json!({"status": status});
        match deployments.patch_status(name, &PatchParams::default(), &Patch::Merge(patch)).await {
            Err(err) if !framework::answered(&err, &[404]) => return Err(err.into()),
            _ => {}
        }
        // The deployment's own revision annotation follows its newest set, as kubectl shows it.
        let revision = new_set.map(revision_of).unwrap_or(0).to_string();
        if revision != "0" && deployment.metadata.annotations.as_ref().and_then(|annotations| annotations.get(REVISION)) != Some(&revision) {
            let patch = serde_json::json!({"metadata": {"annotations": {REVISION: revision}}});
            match deployments.patch(name, &PatchParams::default(), &Patch::Merge(patch)).await {
                Err(err) if !framework::answered(&err, &[404]) => return Err(err.into()),
                _ => {}
            }
        }
    }
    Ok(Action::requeue(requeue.max(Duration::from_secs(1))))
}


#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn template(image: &str) -> PodTemplateSpec {
        serde_json::from_value(json!({"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": image}]}})).unwrap()
    }

    #[test]
    fn the_hash_follows_the_template_not_its_hash_label() {
        let plain = template("busybox:1");
        let mut labelled = plain.clone();
        labelled.metadata.as_mut().unwrap().labels.as_mut().unwrap().insert(HASH_LABEL.into(), "xyz".into());
        assert_eq!(template_hash(&plain, 0), template_hash(&labelled, 0));
        assert_ne!(template_hash(&plain, 0), template_hash(&template("busybox:2"), 0));
        assert_ne!(template_hash(&plain, 0), template_hash(&plain, 1));
        let mut with_empty_resources = plain.clone();
        with_empty_resources.spec.as_mut().unwrap().containers[0].resources = Some(Default::default());
        assert_eq!(template_key(&plain), template_key(&with_empty_resources), "empty is absent, as kubectl's undo sends it");
        assert!(template_hash(&plain, 0).chars().all(|c| "bcdfghjklmnpqrstvwxz2456789".contains(c)));
    }

    #[test]
    fn surge_rounds_up_and_unavailable_down() {
        let deployment = |surge: serde_json::Value, unavailable: serde_json::Value| -> Deployment {
            serde_json::from_value(json!({"spec": {"selector": {}, "template": {}, "strategy": {"rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable}}}})).unwrap()
        };
        assert_eq!(surge_and_unavailable(&deployment(json!("25%"), json!("25%")), 10), (3, 2));
        assert_eq!(surge_and_unavailable(&deployment(json!(1), json!(0)), 4), (1, 0));
        assert_eq!(surge_and_unavailable(&deployment(json!(0), json!(0)), 4), (0, 1));
        let defaults: Deployment = serde_json::from_value(json!({"spec": {"selector": {}, "template": {}}})).unwrap();
        assert_eq!(surge_and_unavailable(&defaults, 3), (1, 0));
    }
}
