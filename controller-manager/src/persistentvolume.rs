//! The PersistentVolume binder, as kube-controller-manager's `persistentvolume-binder`
//! (`pv_controller`): an unbound claim gets the volume `common::storage::find_matching_volume`
//! picks (one pre-bound to it first, else the smallest that satisfies it), and both sides are
//! bound in kube's order: the volume's `claimRef`, the volume's phase, the claim's `volumeName`
//! and annotations, the claim's phase. Every write carries the copy's resourceVersion, so a
//! stale informer copy is refused (409) instead of undoing a newer write, and every step checks
//! what is already there, so a controller killed half-way finishes the binding on its next sync.
//!
//! Without a matching volume a claim waits: for its first consumer (a `WaitForFirstConsumer`
//! class until the scheduler names a node), for the class's provisioner (annotated with it), or
//! for a volume to appear. A volume whose claim is gone is `Released`; its reclaim policy then
//! keeps it (`Retain`) or, for a volume the local-path provisioner made, deletes it (`Delete`;
//! the node's kubelet removes the directory and the volume's finalizer).

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::storage::{
    self, BETA_STORAGE_CLASS, BETA_STORAGE_PROVISIONER, BIND_COMPLETED, BOUND_BY_CONTROLLER, LOCAL_PATH_PROVISIONER, LOCAL_PATH_ROOT, PROVISIONED_BY, SELECTED_NODE, STORAGE_PROVISIONER,
};
use futures::StreamExt;
use k8s_openapi::api::core::v1::{ObjectReference, PersistentVolume, PersistentVolumeClaim, PersistentVolumeClaimStatus, PersistentVolumeStatus};
use kube::api::{Api, DeleteParams, PostParams, Preconditions};
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;

use crate::context::Context;
use crate::framework::{self, ReconcileError};

const COMPONENT: &str = "persistentvolume-controller";
/// How often a claim or volume that waits is looked at again (kube's binder resyncs every 15 s).
const WAIT: Duration = Duration::from_secs(15);
/// How soon a sync that met a newer object (409) runs again.
const CONFLICT_RETRY: Duration = Duration::from_millis(200);
/// Past this many remembered writes, those of claims that are gone are dropped.
const REMEMBERED_WRITES: usize = 1_024;

struct Binder {
    context: Arc<Context>,
    recorder: common::events::Recorder,
    /// The resourceVersion of this controller's last write of each claim (by uid), until the
    /// informer shows it: a sync from an older copy would choose a volume again (kube keeps the
    /// same cache of its own writes).
    written: Mutex<HashMap<String, u64>>,
}

pub async fn run(context: Arc<Context>) {
    context.storage_ready().await;
    let binder = Arc::new(Binder { recorder: context.recorder(COMPONENT), context: context.clone(), written: Mutex::default() });
    futures::future::join(run_claims(binder.clone()), run_volumes(binder)).await;
}

async fn run_claims(binder: Arc<Binder>) {
    let context = binder.context.clone();
    let own = context.persistent_volume_claims.changes().map(|claim| ObjectRef::from_obj(&*claim)).boxed();
    // A volume's change concerns the claim it names.
    let volumes = context.persistent_volumes.changes().filter_map(|volume| async move { claim_named_by(&volume) }).boxed();
    // A class appearing or changing concerns the claims that ask for it; a default class, also
    // the unbound claims that ask for none (they get it: RetroactiveDefaultStorageClass).
    let claims_store = context.persistent_volume_claims.store();
    let classes = context
        .storage_classes
        .changes()
        .flat_map(move |class| {
            let name = class.metadata.name.clone().unwrap_or_default();
            let default = storage::is_default_class(&class);
            let asking: Vec<ObjectRef<PersistentVolumeClaim>> = claims_store
                .state()
                .iter()
                .filter(|claim| {
                    (has_class(claim) && storage::claim_class(claim) == name) || (default && !has_class(claim) && annotation(&claim.metadata, BIND_COMPLETED).is_none())
                })
                .map(|claim| ObjectRef::from_obj(&**claim))
                .collect();
            futures::stream::iter(asking)
        })
        .boxed();
    // One claim at a time, as kube's binder: two syncs at once could pick one volume for two
    // claims (the second write would be refused, but only after work wasted).
    let store = context.persistent_volume_claims.store();
    framework::run("persistentvolume-binder-claims", context.metrics.clone(), binder, store, vec![own, volumes, classes], 1, |claim, binder| async move {
        conflicts_retry(sync_claim(&claim, &binder).await)
    })
    .await;
}

async fn run_volumes(binder: Arc<Binder>) {
    let context = binder.context.clone();
    let own = context.persistent_volumes.changes().map(|volume| ObjectRef::from_obj(&*volume)).boxed();
    // A claim's change (its deletion above all) concerns the volume it names and the volumes
    // whose claimRef names it.
    let volumes_store = context.persistent_volumes.store();
    let claims = context
        .persistent_volume_claims
        .changes()
        .flat_map(move |claim| {
            let mut concerned: Vec<ObjectRef<PersistentVolume>> = Vec::new();
            if let Some(name) = claim.spec.as_ref().and_then(|spec| spec.volume_name.as_deref()).filter(|name| !name.is_empty()) {
                concerned.push(ObjectRef::new(name));
            }
            for volume in volumes_store.state() {
                let names_claim = volume.spec.as_ref().and_then(|spec| spec.claim_ref.as_ref()).is_some_and(|reference| {
                    reference.name == claim.metadata.name && reference.namespace == claim.metadata.namespace
                });
                if names_claim {
                    concerned.push(ObjectRef::from_obj(&*volume));
                }
            }
            futures::stream::iter(concerned)
        })
        .boxed();
    let store = context.persistent_volumes.store();
    let concurrency = context.settings.concurrent_syncs;
    framework::run("persistentvolume-binder-volumes", context.metrics.clone(), binder, store, vec![own, claims], concurrency, |volume, binder| async move {
        conflicts_retry(sync_volume(&volume, &binder).await)
    })
    .await;
}

/// A 409 means another write (often this controller's own) came first: the sync runs again
/// soon from the newer copy instead of backing off as for a failure.
fn conflicts_retry(outcome: Result<Action, ReconcileError>) -> Result<Action, ReconcileError> {
    match outcome {
        Err(ReconcileError::Api(err)) if framework::answered(&err, &[409]) => Ok(Action::requeue(CONFLICT_RETRY)),
        other => other,
    }
}

fn annotation<'a>(metadata: &'a k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta, key: &str) -> Option<&'a str> {
    metadata.annotations.as_ref()?.get(key).map(String::as_str)
}

/// Whether the claim names a class at all (kube's `PersistentVolumeClaimHasClass`): the beta
/// annotation or `spec.storageClassName`, even "". A claim that names none gets the default
/// class once there is one.
fn has_class(claim: &PersistentVolumeClaim) -> bool {
    annotation(&claim.metadata, BETA_STORAGE_CLASS).is_some() || claim.spec.as_ref().is_some_and(|spec| spec.storage_class_name.is_some())
}

fn claim_key(claim: &PersistentVolumeClaim) -> String {
    format!("{}/{}", claim.metadata.namespace.as_deref().unwrap_or_default(), claim.metadata.name.as_deref().unwrap_or_default())
}

fn volume_name_of(claim: &PersistentVolumeClaim) -> Option<&str> {
    claim.spec.as_ref()?.volume_name.as_deref().filter(|name| !name.is_empty())
}

/// The claim a volume's claimRef names, as a queue key for the controllers that look at claims.
pub(crate) fn claim_named_by(volume: &PersistentVolume) -> Option<ObjectRef<PersistentVolumeClaim>> {
    let reference = volume.spec.as_ref()?.claim_ref.as_ref()?;
    Some(ObjectRef::new(reference.name.as_deref()?).within(reference.namespace.as_deref()?))
}

fn claim_ref(volume: &PersistentVolume) -> Option<&ObjectReference> {
    volume.spec.as_ref()?.claim_ref.as_ref()
}

fn volume_phase(volume: &PersistentVolume) -> &str {
    volume.status.as_ref().and_then(|status| status.phase.as_deref()).unwrap_or_default()
}

fn reclaim_policy(volume: &PersistentVolume) -> &str {
    volume.spec.as_ref().and_then(|spec| spec.persistent_volume_reclaim_policy.as_deref()).unwrap_or("Retain")
}

/// Why a volume cannot hold a claim that names it, in kube's words (`checkVolumeSatisfyClaim`).
fn mismatch(volume: &PersistentVolume, claim: &PersistentVolumeClaim) -> Option<String> {
    if volume.metadata.deletion_timestamp.is_some() {
        return Some(format!("the volume is marked for deletion {:?}", volume.metadata.name.as_deref().unwrap_or_default()));
    }
    if storage::capacity_bytes(volume).unwrap_or(0) < storage::requested_bytes(claim).unwrap_or(0) {
        return Some("requested PV is too small".into());
    }
    if storage::volume_class(volume) != storage::claim_class(claim) {
        return Some("storageClassName does not match".into());
    }
    let (spec, claim_spec) = (volume.spec.clone().unwrap_or_default(), claim.spec.clone().unwrap_or_default());
    let mode = |mode: Option<String>| mode.unwrap_or_else(|| "Filesystem".into());
    if mode(spec.volume_mode) != mode(claim_spec.volume_mode) {
        return Some("incompatible volumeMode".into());
    }
    let offered = spec.access_modes.unwrap_or_default();
    if !claim_spec.access_modes.unwrap_or_default().iter().all(|wanted| offered.contains(wanted)) {
        return Some("incompatible accessMode".into());
    }
    None
}

fn resource_version(metadata: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> Option<u64> {
    metadata.resource_version.as_deref()?.parse().ok()
}

impl Binder {
    fn claims_api(&self, claim: &PersistentVolumeClaim) -> Api<PersistentVolumeClaim> {
        Api::namespaced(self.context.client.clone(), claim.metadata.namespace.as_deref().unwrap_or_default())
    }

    fn volumes_api(&self) -> Api<PersistentVolume> {
        Api::all(self.context.client.clone())
    }

    async fn claim_event(&self, claim: &PersistentVolumeClaim, kind: &str, reason: &str, message: &str) {
        if let Err(err) = self.recorder.record(&common::events::reference(claim), kind, reason, "Binding", message).await {
            tracing::debug!(namespace = ?claim.metadata.namespace, name = ?claim.metadata.name, error = %err, "cannot record event");
        }
    }

    async fn volume_event(&self, volume: &PersistentVolume, kind: &str, reason: &str, message: &str) {
        if let Err(err) = self.recorder.record(&common::events::reference(volume), kind, reason, "Binding", message).await {
            tracing::debug!(name = ?volume.metadata.name, error = %err, "cannot record event");
        }
    }

    /// Whether this controller wrote a newer copy of the claim than `claim` (the informer has
    /// not caught up); forgets the write once the informer shows it.
    fn behind_own_write(&self, claim: &PersistentVolumeClaim) -> bool {
        let (Some(uid), Some(seen)) = (claim.metadata.uid.as_deref(), resource_version(&claim.metadata)) else {
            return false;
        };
        let Ok(mut written) = self.written.lock() else {
            return false;
        };
        match written.get(uid) {
            Some(&last) if seen < last => true,
            Some(_) => {
                written.remove(uid);
                false
            }
            None => false,
        }
    }

    fn remember_write(&self, claim: &PersistentVolumeClaim) {
        if let (Some(uid), Some(version)) = (claim.metadata.uid.clone(), resource_version(&claim.metadata))
            && let Ok(mut written) = self.written.lock()
        {
            written.insert(uid, version);
            // Claims deleted before the informer showed the write are forgotten now and then.
            if written.len() > REMEMBERED_WRITES {
                let present: std::collections::HashSet<String> =
                    self.context.persistent_volume_claims.store().state().iter().filter_map(|claim| claim.metadata.uid.clone()).collect();
                written.retain(|uid, _| present.contains(uid));
            }
        }
    }

    /// Writes the claim's phase (with the volume's access modes and capacity when bound, none
    /// otherwise), if it differs; kube's `updateClaimStatus`.
    async fn set_claim_phase(&self, claim: &PersistentVolumeClaim, phase: &str, volume: Option<&PersistentVolume>) -> Result<PersistentVolumeClaim, kube::Error> {
        let old = claim.status.clone().unwrap_or_default();
        let mut status = PersistentVolumeClaimStatus { phase: Some(phase.into()), ..old.clone() };
        match volume.and_then(|volume| volume.spec.as_ref()) {
            Some(spec) => {
                status.access_modes = spec.access_modes.clone();
                // Only as the claim becomes Bound (kube's `updateClaimStatus`): afterwards the
                // capacity may differ on purpose (the kubelet reports the filesystem's size).
                if old.phase.as_deref() != Some(phase) {
                    status.capacity = spec.capacity.clone();
                }
            }
            None => {
                status.access_modes = None;
                status.capacity = None;
            }
        }
        if status == old {
            return Ok(claim.clone());
        }
        let mut updated = claim.clone();
        updated.status = Some(status);
        updated.metadata.managed_fields = None;
        let name = claim.metadata.name.clone().unwrap_or_default();
        let written = self.claims_api(claim).replace_status(&name, &PostParams::default(), &updated).await?;
        tracing::debug!(namespace = ?claim.metadata.namespace, name = %name, phase, "claim phase written");
        self.remember_write(&written);
        Ok(written)
    }

    /// Writes the volume's phase and message if they differ (kube's `updateVolumePhase`).
    async fn set_volume_phase(&self, volume: &PersistentVolume, phase: &str, message: Option<&str>) -> Result<PersistentVolume, kube::Error> {
        let old = volume.status.clone().unwrap_or_default();
        if old.phase.as_deref() == Some(phase) && old.message.as_deref() == message {
            return Ok(volume.clone());
        }
        let mut updated = volume.clone();
        updated.status = Some(PersistentVolumeStatus { phase: Some(phase.into()), message: message.map(str::to_string), ..old });
        updated.metadata.managed_fields = None;
        let name = volume.metadata.name.clone().unwrap_or_default();
        let written = self.volumes_api().replace_status(&name, &PostParams::default(), &updated).await?;
        tracing::info!(name = %name, phase, "volume phase written");
        Ok(written)
    }

    /// Binds volume and claim, each step skipped when already done (kube's `bind`).
    async fn bind(&self, volume: &PersistentVolume, claim: &PersistentVolumeClaim) -> Result<Action, ReconcileError> {
        let volume_name = volume.metadata.name.clone().unwrap_or_default();
        // The volume first: its claimRef is what reserves it.
        let mut volume = volume.clone();
        let reference_right = claim_ref(&volume).is_some_and(|reference| {
            reference.name == claim.metadata.name && reference.namespace == claim.metadata.namespace && reference.uid == claim.metadata.uid
        });
        let set_bound_by_controller = !storage::is_bound_to_claim(&volume, claim) && annotation(&volume.metadata, BOUND_BY_CONTROLLER).is_none();
        if !reference_right || set_bound_by_controller {
            let mut updated = volume.clone();
            if let Some(spec) = updated.spec.as_mut() {
                spec.claim_ref = Some(common::events::reference(claim));
            }
            if set_bound_by_controller {
                updated.metadata.annotations.get_or_insert_default().insert(BOUND_BY_CONTROLLER.into(), "yes".into());
            }
            updated.metadata.managed_fields = None;
            volume = self.volumes_api().replace(&volume_name, &PostParams::default(), &updated).await?;
            tracing::info!(namespace = ?claim.metadata.namespace, name = ?claim.metadata.name, volume = %volume_name, "volume bound to claim");
        }
        let volume = self.set_volume_phase(&volume, "Bound", None).await?;
        // Then the claim: its volumeName and the annotations that say binding is done.
        let mut claim = claim.clone();
        let choose = volume_name_of(&claim) != Some(volume_name.as_str());
        let complete = annotation(&claim.metadata, BIND_COMPLETED).is_none();
        if choose || complete {
            let mut updated = claim.clone();
            let annotations = updated.metadata.annotations.get_or_insert_default();
            if choose {
                annotations.entry(BOUND_BY_CONTROLLER.into()).or_insert_with(|| "yes".into());
            }
            annotations.entry(BIND_COMPLETED.into()).or_insert_with(|| "yes".into());
            if let Some(spec) = updated.spec.as_mut() {
                spec.volume_name = Some(volume_name.clone());
            }
            updated.metadata.managed_fields = None;
            let name = claim.metadata.name.clone().unwrap_or_default();
            claim = self.claims_api(&claim).replace(&name, &PostParams::default(), &updated).await?;
            self.remember_write(&claim);
            tracing::info!(namespace = ?claim.metadata.namespace, name = %name, volume = %volume_name, "claim bound to volume");
        }
        self.set_claim_phase(&claim, "Bound", Some(&volume)).await?;
        Ok(Action::await_change())
    }

    /// A claim that names no class gets the newest default one, if any (kube's
    /// `assignDefaultStorageClass`, RetroactiveDefaultStorageClass): a claim made before the
    /// default class existed would otherwise never be provisioned. The update carries the
    /// copy's resourceVersion, so a newer claim is not overwritten. True when written.
    async fn assign_default_class(&self, claim: &PersistentVolumeClaim) -> Result<bool, kube::Error> {
        if has_class(claim) {
            return Ok(false);
        }
        let classes = self.context.storage_classes.store().state();
        let Some(class) = storage::newest_default_class(classes.iter().map(|class| &**class)).and_then(|class| class.metadata.name.clone()) else {
            return Ok(false);
        };
        let mut updated = claim.clone();
        updated.spec.get_or_insert_default().storage_class_name = Some(class.clone());
        updated.metadata.managed_fields = None;
        let name = claim.metadata.name.clone().unwrap_or_default();
        let written = self.claims_api(claim).replace(&name, &PostParams::default(), &updated).await?;
        self.remember_write(&written);
        tracing::info!(namespace = ?claim.metadata.namespace, name = %name, class = %class, "the default storage class assigned to a claim that named none");
        Ok(true)
    }

    /// No volume for the claim: wait for the first consumer, ask the class's provisioner, or
    /// say that nothing can come (kube's `syncUnboundClaim` without a match, `provisionClaim`).
    async fn wait_or_provision(&self, claim: &PersistentVolumeClaim, delay_binding: bool) -> Result<Action, ReconcileError> {
        let class_name = storage::claim_class(claim).to_string();
        let selected = annotation(&claim.metadata, SELECTED_NODE).is_some_and(|node| !node.is_empty());
        let mut claim = claim.clone();
        if delay_binding && !selected {
            self.claim_event(&claim, "Normal", "WaitForFirstConsumer", "waiting for first consumer to be created before binding").await;
        } else if !class_name.is_empty() {
            match self.context.storage_classes.store().get(&ObjectRef::new(&class_name)) {
                None => {
                    self.claim_event(&claim, "Warning", "ProvisioningFailed", &format!("storageclass.storage.k8s.io {class_name:?} not found")).await;
                }
                Some(class) => {
                    let provisioner = class.provisioner.clone();
                    let annotated = annotation(&claim.metadata, STORAGE_PROVISIONER) == Some(provisioner.as_str())
                        && annotation(&claim.metadata, BETA_STORAGE_PROVISIONER) == Some(provisioner.as_str());
                    if !annotated {
                        let mut updated = claim.clone();
                        let annotations = updated.metadata.annotations.get_or_insert_default();
                        annotations.insert(STORAGE_PROVISIONER.into(), provisioner.clone());
                        annotations.insert(BETA_STORAGE_PROVISIONER.into(), provisioner.clone());
                        updated.metadata.managed_fields = None;
                        let name = claim.metadata.name.clone().unwrap_or_default();
                        claim = self.claims_api(&claim).replace(&name, &PostParams::default(), &updated).await?;
                        self.remember_write(&claim);
                        tracing::info!(namespace = ?claim.metadata.namespace, name = %name, provisioner = %provisioner, "claim handed to its class's provisioner");
                    }
                    let message = format!(
                        "Waiting for a volume to be created either by the external provisioner '{provisioner}' or manually by the system administrator. If volume creation is delayed, please verify that the provisioner is running and correctly registered."
                    );
                    self.claim_event(&claim, "Normal", "ExternalProvisioning", &message).await;
                }
            }
        } else {
            self.claim_event(&claim, "Normal", "FailedBinding", "no persistent volumes available for this claim and no storage class is set").await;
        }
        self.set_claim_phase(&claim, "Pending", None).await?;
        Ok(Action::requeue(WAIT))
    }

    /// Whether the claim's class binds late (`WaitForFirstConsumer`); a class that does not
    /// exist binds at once, as in kube's `IsDelayBindingMode`.
    fn delay_binding(&self, claim: &PersistentVolumeClaim) -> bool {
        let class_name = storage::claim_class(claim);
        !class_name.is_empty()
            && self
                .context
                .storage_classes
                .store()
                .get(&ObjectRef::new(class_name))
                .is_some_and(|class| class.volume_binding_mode.as_deref() == Some("WaitForFirstConsumer"))
    }
}

async fn sync_claim(claim: &PersistentVolumeClaim, binder: &Binder) -> Result<Action, ReconcileError> {
    if binder.behind_own_write(claim) {
        // The informer's copy of this controller's write triggers the next sync.
        return Ok(Action::requeue(WAIT));
    }
    if annotation(&claim.metadata, BIND_COMPLETED).is_none() {
        sync_unbound_claim(claim, binder).await
    } else {
        sync_bound_claim(claim, binder).await
    }
}

async fn sync_unbound_claim(claim: &PersistentVolumeClaim, binder: &Binder) -> Result<Action, ReconcileError> {
    let volumes = binder.context.persistent_volumes.store();
    let Some(wanted) = volume_name_of(claim) else {
        let delay_binding = binder.delay_binding(claim);
        let all = volumes.state();
        // A late-binding claim takes only a volume reserved for it (the scheduler's choice, or
        // the provisioner's); the scheduler matches the others against the pod's node.
        let found = storage::find_matching_volume(claim, all.iter().map(|volume| &**volume), |volume| !delay_binding || claim_ref(volume).is_some());
        return match found {
            Some(volume) => binder.bind(volume, claim).await,
            // A claim being deleted gets no volume, and none is made for it.
            None if claim.metadata.deletion_timestamp.is_some() => Ok(Action::await_change()),
            None => {
                if binder.assign_default_class(claim).await? {
                    // The informer's copy of the write syncs the claim again, with its class.
                    return Ok(Action::await_change());
                }
                binder.wait_or_provision(claim, delay_binding).await
            }
        };
    };
    // The user asked for a volume by name.
    let Some(volume) = volumes.get(&ObjectRef::new(wanted)) else {
        tracing::debug!(namespace = ?claim.metadata.namespace, name = ?claim.metadata.name, volume = %wanted, "the requested volume does not exist (yet)");
        binder.set_claim_phase(claim, "Pending", None).await?;
        return Ok(Action::requeue(WAIT));
    };
    if claim_ref(&volume).is_none() {
        if let Some(why) = mismatch(&volume, claim) {
            binder.claim_event(claim, "Warning", "VolumeMismatch", &format!("Cannot bind to requested volume {wanted:?}: {why}")).await;
            binder.set_claim_phase(claim, "Pending", None).await?;
            return Ok(Action::requeue(WAIT));
        }
        return binder.bind(&volume, claim).await;
    }
    if storage::is_bound_to_claim(&volume, claim) {
        return binder.bind(&volume, claim).await;
    }
    if annotation(&claim.metadata, BOUND_BY_CONTROLLER).is_some() {
        // Someone removed the claim's bind-completed annotation: nothing to repair safely.
        return Err(ReconcileError::Other(format!("Invalid binding of claim {:?} to volume {wanted:?}: volume already claimed by another claim", claim_key(claim))));
    }
    // The user asked for a volume that another claim holds; it may be freed later.
    binder.set_claim_phase(claim, "Pending", None).await?;
    Ok(Action::requeue(WAIT))
}

async fn sync_bound_claim(claim: &PersistentVolumeClaim, binder: &Binder) -> Result<Action, ReconcileError> {
    let Some(wanted) = volume_name_of(claim) else {
        binder.claim_event(claim, "Warning", "ClaimLost", "Bound claim has lost reference to PersistentVolume. Data on the volume is lost!").await;
        binder.set_claim_phase(claim, "Lost", None).await?;
        return Ok(Action::await_change());
    };
    let cached = binder.context.persistent_volumes.store().get(&ObjectRef::new(wanted)).map(|volume| (*volume).clone());
    // The informer may not show a volume made moments ago: asked before calling it lost.
    let volume = match cached {
        Some(volume) => Some(volume),
        None => binder.volumes_api().get_opt(wanted).await?,
    };
    let Some(volume) = volume else {
        binder.claim_event(claim, "Warning", "ClaimLost", "Bound claim has lost its PersistentVolume. Data on the volume is lost!").await;
        binder.set_claim_phase(claim, "Lost", None).await?;
        return Ok(Action::await_change());
    };
    match claim_ref(&volume) {
        // The volume was released (or its claimRef removed): bound again.
        None => binder.bind(&volume, claim).await,
        Some(reference) if reference.uid == claim.metadata.uid => binder.bind(&volume, claim).await,
        Some(_) => {
            binder.claim_event(claim, "Warning", "ClaimMisbound", "Two claims are bound to the same volume, this one is bound incorrectly").await;
            binder.set_claim_phase(claim, "Lost", None).await?;
            Ok(Action::await_change())
        }
    }
}

async fn sync_volume(volume: &PersistentVolume, binder: &Binder) -> Result<Action, ReconcileError> {
    let Some(reference) = claim_ref(volume).cloned() else {
        // Unused.
        binder.set_volume_phase(volume, "Available", None).await?;
        return Ok(Action::await_change());
    };
    if reference.uid.as_deref().is_none_or(str::is_empty) {
        // Reserved for a claim by its creator, and not yet bound.
        binder.set_volume_phase(volume, "Available", None).await?;
        return Ok(Action::await_change());
    }
    let namespace = reference.namespace.clone().unwrap_or_default();
    let claim_name = reference.name.clone().unwrap_or_default();
    let mut claim = binder.context.persistent_volume_claims.store().get(&ObjectRef::new(&claim_name).within(&namespace)).map(|claim| (*claim).clone());
    // A claim the informer does not show yet (made or bound moments ago by another component)
    // is asked for before the volume is released: releasing is not undone.
    if claim.is_none() && !matches!(volume_phase(volume), "Released" | "Failed") {
        let claims: Api<PersistentVolumeClaim> = Api::namespaced(binder.context.client.clone(), &namespace);
        claim = claims.get_opt(&claim_name).await?;
    }
    let claim = claim.filter(|claim| claim.metadata.uid == reference.uid);
    let Some(claim) = claim else {
        // The claim is gone (or another of the same name stands in its place).
        let volume = if matches!(volume_phase(volume), "Released" | "Failed") {
            volume.clone()
        } else {
            tracing::info!(name = ?volume.metadata.name, claim = %format!("{namespace}/{claim_name}"), "the volume's claim is gone; released");
            binder.set_volume_phase(volume, "Released", None).await?
        };
        return reclaim(&volume, binder).await;
    };
    match volume_name_of(&claim) {
        // Half bound: the claim's sync finishes it (the volume's change already triggered it).
        None => Ok(Action::requeue(WAIT)),
        Some(name) if Some(name) == volume.metadata.name.as_deref() => {
            binder.set_volume_phase(volume, "Bound", None).await?;
            Ok(Action::await_change())
        }
        Some(_) => {
            // The claim is bound to another volume.
            let provisioned = annotation(&volume.metadata, PROVISIONED_BY).is_some();
            if provisioned && reclaim_policy(volume) == "Delete" {
                let volume = if matches!(volume_phase(volume), "Released" | "Failed") { volume.clone() } else { binder.set_volume_phase(volume, "Released", None).await? };
                return reclaim(&volume, binder).await;
            }
            if annotation(&volume.metadata, BOUND_BY_CONTROLLER).is_some() {
                // This controller reserved the volume for a claim that got another: undone.
                let mut updated = volume.clone();
                if let Some(spec) = updated.spec.as_mut() {
                    spec.claim_ref = None;
                }
                if let Some(annotations) = updated.metadata.annotations.as_mut() {
                    annotations.remove(BOUND_BY_CONTROLLER);
                }
                updated.metadata.managed_fields = None;
                let name = volume.metadata.name.clone().unwrap_or_default();
                let written = binder.volumes_api().replace(&name, &PostParams::default(), &updated).await?;
                tracing::info!(name = %name, "volume unbound from a claim bound elsewhere");
                binder.set_volume_phase(&written, "Available", None).await?;
            }
            // A volume its creator bound to that claim is left as it is.
            Ok(Action::await_change())
        }
    }
}

/// What a released volume's reclaim policy says (kube's `reclaimVolume`).
async fn reclaim(volume: &PersistentVolume, binder: &Binder) -> Result<Action, ReconcileError> {
    let name = volume.metadata.name.clone().unwrap_or_default();
    match reclaim_policy(volume) {
        "Retain" => Ok(Action::await_change()),
        "Recycle" => {
            let message = "No recycler plugin found for the volume!";
            binder.volume_event(volume, "Warning", "VolumeFailedRecycle", message).await;
            binder.set_volume_phase(volume, "Failed", Some(message)).await?;
            Ok(Action::await_change())
        }
        "Delete" if volume.metadata.deletion_timestamp.is_some() => Ok(Action::await_change()),
        "Delete" => match annotation(&volume.metadata, PROVISIONED_BY) {
            // Only a volume whose path is its own directory (`<root>/<its name>_<ns>_<claim>`):
            // a copy of another volume's manifest names that volume's directory, and deleting
            // it would have the node's kubelet remove live data.
            Some(LOCAL_PATH_PROVISIONER) if !storage::local_path_owns(Path::new(LOCAL_PATH_ROOT), volume) => {
                let path = volume.spec.as_ref().and_then(|spec| spec.host_path.as_ref()).map(|source| source.path.clone()).unwrap_or_default();
                let message = format!("the volume's path {path:?} is not its own local-path directory: not deleted");
                binder.volume_event(volume, "Warning", "VolumeFailedDelete", &message).await;
                binder.set_volume_phase(volume, "Failed", Some(&message)).await?;
                Ok(Action::await_change())
            }
            Some(LOCAL_PATH_PROVISIONER) => {
                // The object goes; its PV_DELETION finalizer keeps it until the node's kubelet
                // has removed the directory. Only the copy seen Released is deleted.
                let preconditions = Preconditions { uid: volume.metadata.uid.clone(), resource_version: volume.metadata.resource_version.clone() };
                let params = DeleteParams { preconditions: Some(preconditions), ..DeleteParams::default() };
                match binder.volumes_api().delete(&name, &params).await {
                    Ok(_) => {
                        tracing::info!(name = %name, "deleting a released volume (reclaim policy Delete)");
                        Ok(Action::await_change())
                    }
                    Err(err) if framework::answered(&err, &[404]) => Ok(Action::await_change()),
                    Err(err) => Err(err.into()),
                }
            }
            // Another provisioner deletes what it made.
            Some(_) => Ok(Action::await_change()),
            None => {
                let message = format!("error getting deleter volume plugin for volume {name:?}: no deletable volume plugin matched");
                binder.volume_event(volume, "Warning", "VolumeFailedDelete", &message).await;
                binder.set_volume_phase(volume, "Failed", Some(&message)).await?;
                Ok(Action::await_change())
            }
        },
        other => {
            let message = format!("Volume has unrecognized PersistentVolumeReclaimPolicy {other:?}");
            binder.volume_event(volume, "Warning", "VolumeUnknownReclaimPolicy", &message).await;
            Ok(Action::await_change())
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn volume(value: serde_json::Value) -> PersistentVolume {
        serde_json::from_value(value).unwrap()
    }

    fn claim(value: serde_json::Value) -> PersistentVolumeClaim {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn a_requested_volume_that_does_not_fit_says_why() {
        let want = claim(json!({"metadata": {"name": "c", "namespace": "ns", "uid": "u"},
            "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "", "volumeName": "v", "resources": {"requests": {"storage": "2Gi"}}}}));
        let small = volume(json!({"metadata": {"name": "v"}, "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"]}}));
        assert_eq!(mismatch(&small, &want).as_deref(), Some("requested PV is too small"));
        let other_class = volume(json!({"metadata": {"name": "v"}, "spec": {"capacity": {"storage": "2Gi"}, "accessModes": ["ReadWriteOnce"], "storageClassName": "fast"}}));
        assert_eq!(mismatch(&other_class, &want).as_deref(), Some("storageClassName does not match"));
        let read_only = volume(json!({"metadata": {"name": "v"}, "spec": {"capacity": {"storage": "2Gi"}, "accessModes": ["ReadOnlyMany"]}}));
        assert_eq!(mismatch(&read_only, &want).as_deref(), Some("incompatible accessMode"));
        let block = volume(json!({"metadata": {"name": "v"}, "spec": {"capacity": {"storage": "2Gi"}, "accessModes": ["ReadWriteOnce"], "volumeMode": "Block"}}));
        assert_eq!(mismatch(&block, &want).as_deref(), Some("incompatible volumeMode"));
        let fits = volume(json!({"metadata": {"name": "v"}, "spec": {"capacity": {"storage": "3Gi"}, "accessModes": ["ReadWriteOnce", "ReadOnlyMany"]}}));
        assert_eq!(mismatch(&fits, &want), None);
    }

    #[test]
    fn a_claim_names_a_class_with_the_field_or_the_beta_annotation() {
        assert!(!has_class(&claim(json!({"metadata": {"name": "c"}, "spec": {}}))));
        assert!(has_class(&claim(json!({"metadata": {"name": "c"}, "spec": {"storageClassName": ""}}))), "\"\" asks for no class");
        assert!(has_class(&claim(json!({"metadata": {"name": "c", "annotations": {BETA_STORAGE_CLASS: "slow"}}, "spec": {}}))));
    }
}
