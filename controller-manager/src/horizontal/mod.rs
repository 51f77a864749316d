//! The HorizontalPodAutoscaler controller (kube-controller-manager's `horizontalpodautoscaling`,
//! `pkg/controller/podautoscaler/horizontal.go`): every sync period, and when an HPA's spec
//! changes, each HPA reads its target's `scale` subresource (any kind that has one, found through
//! discovery: Deployments, ReplicaSets, StatefulSets, custom resources), computes the replicas its
//! metrics ask for (`replica_calculator`, from the `metrics.k8s.io` PodMetrics the apiserver
//! serves from the kubelets' samples), holds them to min/max, the stabilization windows and the
//! policies (`behavior`), writes the scale when it differs, and reports `status` (current and
//! desired replicas, current metrics, lastScaleTime, the `AbleToScale`, `ScalingActive` and
//! `ScalingLimited` conditions) and events with kube's reasons and messages. No custom or external
//! metrics API is served here, so Pods, Object and External metrics answer `ScalingActive=False`
//! with the reason and message kube gives when none is registered.

mod behavior;
mod conditions;
mod replica_calculator;

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::selector::LabelSelector;
use futures::StreamExt;
use k8s_openapi::api::autoscaling::v1::Scale;
use k8s_openapi::api::autoscaling::v2::{
    ContainerResourceMetricStatus, HorizontalPodAutoscaler, HorizontalPodAutoscalerSpec, HorizontalPodAutoscalerStatus, MetricSpec, MetricStatus, MetricTarget, MetricValueStatus,
    ResourceMetricStatus,
};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector as K8sSelector, Time};
use kube::api::{Api, ApiResource, DynamicObject, ListParams, PostParams};
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;
use serde_json::Value;

use self::behavior::{Behavior, History};
use self::conditions::Conditions;
use self::replica_calculator::{Calculator, PodMetrics, milli_quantity};
use crate::context::Context;
use crate::discovery;
use crate::framework::{self, ReconcileError};

const COMPONENT: &str = "horizontal-pod-autoscaler";
/// How long a discovery answer is trusted before a target kind it does not know makes the
/// controller ask again (kube resets its deferred REST mapper every 30 s).
const REDISCOVERY: Duration = Duration::from_secs(10);
/// How long a discovery may take before the sync that asked for it goes on without it.
const DISCOVERY_TIMEOUT: Duration = Duration::from_secs(10);
/// A status write refused for an old resourceVersion is retried this soon.
const CONFLICT_RETRY: Duration = Duration::from_secs(1);

/// kube-controller-manager's HPA flags.
#[derive(Clone, Debug, clap::Args)]
pub struct Flags {
    /// How often each HPA is synced.
    #[arg(long = "horizontal-pod-autoscaler-sync-period", default_value = "15s", value_parser = go_duration)]
    pub sync_period: Duration,
    /// How far back a scale-down looks for higher recommendations (HPAs without `behavior`, and
    /// the default of `behavior.scaleDown.stabilizationWindowSeconds`).
    #[arg(long = "horizontal-pod-autoscaler-downscale-stabilization", default_value = "5m0s", value_parser = go_duration)]
    pub downscale_stabilization: Duration,
    /// The ratio of usage to target within which nothing is scaled.
    #[arg(long = "horizontal-pod-autoscaler-tolerance", default_value_t = 0.1)]
    pub tolerance: f64,
    /// How long after a pod starts its cpu samples may be ignored as start-up.
    #[arg(long = "horizontal-pod-autoscaler-cpu-initialization-period", default_value = "5m0s", value_parser = go_duration)]
    pub cpu_initialization_period: Duration,
    /// How long after a pod starts an unready pod is taken as not yet ready rather than failing.
    #[arg(long = "horizontal-pod-autoscaler-initial-readiness-delay", default_value = "30s", value_parser = go_duration)]
    pub initial_readiness_delay: Duration,
}

fn go_duration(text: &str) -> Result<Duration, String> {
    let nanos = common::durations::parse_go_duration(text).map_err(|err| err.to_string())?;
    u64::try_from(nanos).map(Duration::from_nanos).map_err(|_| format!("negative duration {text:?}"))
}

struct Controller {
    context: Arc<Context>,
    flags: Flags,
    calculator: Calculator,
    recorder: common::events::Recorder,
    /// Each HPA's recommendations and scale events, by `namespace/name`.
    histories: Mutex<HashMap<String, History>>,
    /// Each HPA's pod selector as last read from its target's scale, for kube's check that no
    /// pod is under two HPAs.
    selectors: Mutex<HashMap<String, (String, LabelSelector)>>,
    /// The served resource types, and when they were read.
    discovered: Mutex<Option<(Instant, Arc<Vec<discovery::Served>>)>>,
}

pub async fn run(context: Arc<Context>, flags: Flags) {
    context.horizontal_pod_autoscalers.ready().await;
    let calculator = Calculator {
        tolerance: flags.tolerance,
        cpu_initialization_period: flags.cpu_initialization_period,
        initial_readiness_delay: flags.initial_readiness_delay,
    };
    let controller = Arc::new(Controller {
        recorder: context.recorder(COMPONENT),
        context: context.clone(),
        flags,
        calculator,
        histories: Mutex::default(),
        selectors: Mutex::default(),
        discovered: Mutex::default(),
    });
    let store = context.horizontal_pod_autoscalers.store();
    // A change of spec syncs at once; the controller's own status writes do not, or every
    // status write would be another sync. HPAs carry no `metadata.generation` (kube's
    // autoscalerStrategy does not track it), so the spec itself is remembered per HPA and
    // compared. A deleted HPA's memory goes.
    let specs: Mutex<HashMap<String, Option<HorizontalPodAutoscalerSpec>>> = Mutex::default();
    let own = context
        .horizontal_pod_autoscalers
        .changes()
        .filter_map({
            let (store, controller) = (store.clone(), controller.clone());
            move |hpa| {
                let reference = ObjectRef::from_obj(&*hpa);
                let key = key_of(&hpa);
                let wanted = if store.get(&reference).is_none() {
                    controller.forget(&key);
                    if let Ok(mut specs) = specs.lock() {
                        specs.remove(&key);
                    }
                    None
                } else {
                    spec_changed(&specs, key, &hpa.spec).then_some(reference)
                };
                async move { wanted }
            }
        })
        .boxed();
    let concurrency = controller.context.settings.concurrent_syncs;
    framework::run("horizontalpodautoscaling", context.metrics.clone(), controller, store, vec![own], concurrency, reconcile).await;
}

/// Whether `spec` differs from the one last seen for `key` (a first sight counts as a change),
/// remembering it.
fn spec_changed(specs: &Mutex<HashMap<String, Option<HorizontalPodAutoscalerSpec>>>, key: String, spec: &Option<HorizontalPodAutoscalerSpec>) -> bool {
    let Ok(mut specs) = specs.lock() else {
        // A poisoned map: sync rather than miss a change.
        return true;
    };
    match specs.get(&key) {
        Some(seen) if seen == spec => false,
        _ => {
            specs.insert(key, spec.clone());
            true
        }
    }
}

fn key_of(hpa: &HorizontalPodAutoscaler) -> String {
    format!("{}/{}", hpa.metadata.namespace.as_deref().unwrap_or_default(), hpa.metadata.name.as_deref().unwrap_or_default())
}

/// Why a metric gave no proposal: the reason of its `ScalingActive=False` condition (and of its
/// event) and kube's error text.
struct MetricFailure {
    reason: &'static str,
    error: String,
    /// The error as `computeReplicasForMetric` wraps it, for `FailedComputeMetricsReplicas`.
    wrapped: String,
}

struct Proposal {
    replicas: i32,
    metric: String,
    status: MetricStatus,
}

/// The samples and pods of one sync, fetched once for all of its resource metrics.
struct Observed {
    pods: Vec<Arc<Pod>>,
    items: Option<Result<Vec<Value>, String>>,
}

async fn reconcile(hpa: Arc<HorizontalPodAutoscaler>, controller: Arc<Controller>) -> Result<Action, ReconcileError> {
    let requeue = Action::requeue(controller.flags.sync_period);
    let key = key_of(&hpa);
    let mut updated = (*hpa).clone();
    let original = hpa.status.clone();
    let mut status = hpa.status.clone().unwrap_or_default();
    let mut conditions = Conditions::new(status.conditions.take().unwrap_or_default());
    let outcome = controller.sync(&hpa, &key, &mut status, &mut conditions).await;
    status.conditions = Some(conditions.list);
    let status = Some(status);
    if status != original {
        updated.status = status;
        updated.metadata.managed_fields = None;
        let api: Api<HorizontalPodAutoscaler> = Api::namespaced(controller.context.client.clone(), hpa.metadata.namespace.as_deref().unwrap_or_default());
        match api.replace_status(hpa.metadata.name.as_deref().unwrap_or_default(), &PostParams::default(), &updated).await {
            Ok(_) => {}
            Err(err) if framework::answered(&err, &[409]) => {
                tracing::debug!(hpa = %key, "status conflict; syncing again");
                return Ok(Action::requeue(CONFLICT_RETRY));
            }
            Err(err) if framework::answered(&err, &[404]) => return Ok(Action::await_change()),
            Err(err) => {
                controller.event(&hpa, "Warning", "FailedUpdateStatus", &err_text(&err)).await;
                return Err(err.into());
            }
        }
    }
    if let Err(err) = outcome {
        // kube logs the failure and looks again after the sync period, as here.
        tracing::debug!(hpa = %key, error = %err, "sync failed");
    }
    Ok(requeue)
}

/// A kube error as the apiserver worded it (its Status message), else as kube-rs did.
fn err_text(err: &kube::Error) -> String {
    match err {
        kube::Error::Api(status) => status.message.clone(),
        other => other.to_string(),
    }
}

impl Controller {
    fn forget(&self, key: &str) {
        if let Ok(mut histories) = self.histories.lock() {
            histories.remove(key);
        }
        if let Ok(mut selectors) = self.selectors.lock() {
            selectors.remove(key);
        }
    }

    async fn event(&self, hpa: &HorizontalPodAutoscaler, kind: &str, reason: &str, message: &str) {
        if let Err(err) = self.recorder.record(&common::events::reference(hpa), kind, reason, "Reconcile", message).await {
            tracing::debug!(namespace = ?hpa.metadata.namespace, name = ?hpa.metadata.name, error = %err, "cannot record event");
        }
    }

    /// The resource types serving `kind` in `group` (kube's RESTMappings), from discovery read
    /// again when a kind is not found and the answer is older than [`REDISCOVERY`]. No lock is
    /// held while discovery runs, and it is given [`DISCOVERY_TIMEOUT`], so that a slow or hanging
    /// apiserver holds up only the syncs that need a kind not yet known.
    async fn mappings(&self, group: &str, kind: &str) -> Vec<ApiResource> {
        let find = |served: &[discovery::Served]| -> Vec<ApiResource> {
            served.iter().filter(|served| served.resource.group == group && served.resource.kind == kind).map(|served| served.resource.clone()).collect()
        };
        let cached = self.discovered.lock().ok().and_then(|discovered| discovered.clone());
        if let Some((at, served)) = &cached {
            let found = find(served);
            if !found.is_empty() || at.elapsed() < REDISCOVERY {
                return found;
            }
        }
        let fresh = match tokio::time::timeout(DISCOVERY_TIMEOUT, discovery::discover(&self.context.client)).await {
            Ok(fresh) => Arc::new(fresh.served),
            Err(_) => {
                tracing::info!(group, kind, timeout = ?DISCOVERY_TIMEOUT, "discovery did not answer in time");
                // The attempt is remembered with what was known, so that the next syncs wait for
                // REDISCOVERY rather than each waiting on the apiserver again.
                cached.map(|(_, served)| served).unwrap_or_default()
            }
        };
        let found = find(&fresh);
        if let Ok(mut discovered) = self.discovered.lock() {
            *discovered = Some((Instant::now(), fresh));
        }
        found
    }

    /// kube's `scaleForResourceMappings`: the first mapping whose scale answers; else the first
    /// error.
    async fn scale(&self, namespace: &str, name: &str, mappings: &[ApiResource]) -> Result<(Scale, ApiResource), String> {
        let mut first_error = None;
        for mapping in mappings {
            let api: Api<DynamicObject> = Api::namespaced_with(self.context.client.clone(), namespace, mapping);
            match api.get_scale(name).await {
                Ok(scale) => return Ok((scale, mapping.clone())),
                Err(err) => {
                    first_error.get_or_insert_with(|| err_text(&err));
                }
            }
        }
        Err(first_error.unwrap_or_else(|| "unrecognized resource".to_string()))
    }

    /// kube's `reconcileAutoscaler`, up to the status write.
    async fn sync(&self, hpa: &HorizontalPodAutoscaler, key: &str, status: &mut HorizontalPodAutoscalerStatus, conditions: &mut Conditions) -> Result<(), String> {
        let namespace = hpa.metadata.namespace.clone().unwrap_or_default();
        let spec = hpa.spec.clone().unwrap_or_default();
        let target = &spec.scale_target_ref;
        let reference = format!("{}/{namespace}/{}", target.kind, target.name);
        let api_version = target.api_version.clone().unwrap_or_default();
        let group = match api_version.split('/').collect::<Vec<_>>().as_slice() {
            [_] => String::new(),
            [group, _] => group.to_string(),
            _ => {
                let error = format!("unexpected GroupVersion string: {api_version}");
                return Err(self.failed_get_scale(hpa, conditions, &error).await);
            }
        };
        let mappings = self.mappings(&group, &target.kind).await;
        if mappings.is_empty() {
            let error = format!("no matches for kind {:?} in group {group:?}", target.kind);
            return Err(self.failed_get_scale(hpa, conditions, &error).await);
        }
        let (mut scale, mapping) = match self.scale(&namespace, &target.name, &mappings).await {
            Ok(found) => found,
            Err(error) => {
                self.failed_get_scale(hpa, conditions, &error).await;
                return Err(format!("failed to query scale subresource for {reference}: {error}"));
            }
        };
        conditions.set("AbleToScale", "True", "SucceededGetScale", "the HPA controller was able to get the target's current scale");
        let current = scale.spec.as_ref().and_then(|spec| spec.replicas).unwrap_or(0);
        let now = Instant::now();
        self.with_history(key, |history| history.record_initial(current, now));
        let min = spec.min_replicas.unwrap_or(1);
        let max = spec.max_replicas;
        let mut metric_statuses = None;
        let mut desired = 0;
        let mut reason = String::new();
        let rescale;
        let mut outcome = Ok(());
        if current == 0 && min != 0 {
            rescale = false;
            conditions.set("ScalingActive", "False", "ScalingDisabled", "scaling is disabled since the replica count of the target is zero");
        } else if current > max {
            reason = "Current number of replicas above Spec.MaxReplicas".into();
            desired = max;
            rescale = true;
        } else if current < min {
            reason = "Current number of replicas below Spec.MinReplicas".into();
            desired = min;
            rescale = true;
        } else {
            let computed = self.replicas_for_metrics(hpa, key, &scale, &spec.metrics.clone().unwrap_or_default(), conditions).await;
            metric_statuses = Some(computed.statuses);
            if computed.replicas == -1 {
                // Nothing to go on: the current size and metrics are reported, nothing scaled.
                *status = HorizontalPodAutoscalerStatus {
                    current_replicas: Some(current),
                    desired_replicas: status.desired_replicas,
                    last_scale_time: status.last_scale_time.clone(),
                    current_metrics: metric_statuses.filter(|statuses| !statuses.is_empty()),
                    conditions: None,
                    observed_generation: status.observed_generation,
                };
                let error = computed.error.unwrap_or_default();
                self.event(hpa, "Warning", "FailedComputeMetricsReplicas", &error).await;
                return Err(format!("failed to compute desired number of replicas based on listed metrics for {reference}: {error}"));
            }
            if let Some(error) = computed.error {
                outcome = Err(error);
            }
            let mut rescale_metric = String::new();
            if computed.replicas > desired {
                desired = computed.replicas;
                rescale_metric = computed.metric;
            }
            if desired > current {
                reason = format!("{rescale_metric} above target");
            }
            if desired < current {
                reason = "All metrics below target".into();
            }
            desired = match &spec.behavior {
                None => self.with_history(key, |history| {
                    behavior::normalize(history, conditions, now, self.flags.downscale_stabilization, current, desired, min, max)
                }),
                Some(given) => {
                    let resolved = Behavior::resolve(given, self.flags.downscale_stabilization);
                    self.with_history(key, |history| behavior::normalize_with_behavior(history, conditions, now, &resolved, current, desired, min, max))
                }
            };
            rescale = desired != current;
        }
        if rescale {
            scale.spec.get_or_insert_default().replicas = Some(desired);
            scale.metadata.managed_fields = None;
            let api: Api<DynamicObject> = Api::namespaced_with(self.context.client.clone(), &namespace, &mapping);
            if let Err(err) = api.replace_scale(&target.name, &PostParams::default(), &scale).await {
                let error = err_text(&err);
                self.event(hpa, "Warning", "FailedRescale", &format!("New size: {desired}; reason: {reason}; error: {error}")).await;
                conditions.set("AbleToScale", "False", "FailedUpdateScale", &format!("the HPA controller was unable to update the target scale: {error}"));
                *status = HorizontalPodAutoscalerStatus {
                    current_replicas: Some(current),
                    current_metrics: metric_statuses.filter(|statuses| !statuses.is_empty()),
                    conditions: None,
                    ..status.clone()
                };
                return Err(format!("failed to rescale {reference}: {error}"));
            }
            conditions.set("AbleToScale", "True", "SucceededRescale", &format!("the HPA controller was able to update the target scale to {desired}"));
            self.event(hpa, "Normal", "SuccessfulRescale", &format!("New size: {desired}; reason: {reason}")).await;
            let resolved = spec.behavior.as_ref().map(|given| Behavior::resolve(given, self.flags.downscale_stabilization));
            self.with_history(key, |history| behavior::store_scale_event(history, resolved.as_ref(), now, current, desired));
            tracing::info!(namespace = %namespace, name = ?hpa.metadata.name, current, desired, reason = %reason, "rescaled");
        } else {
            desired = current;
        }
        *status = HorizontalPodAutoscalerStatus {
            current_replicas: Some(current),
            desired_replicas: desired,
            last_scale_time: if rescale { Some(Time(jiff::Timestamp::now())) } else { status.last_scale_time.clone() },
            current_metrics: metric_statuses.filter(|statuses| !statuses.is_empty()),
            conditions: None,
            observed_generation: status.observed_generation,
        };
        outcome
    }

    fn with_history<T>(&self, key: &str, work: impl FnOnce(&mut History) -> T) -> T {
        let mut histories = match self.histories.lock() {
            Ok(histories) => histories,
            // A panic elsewhere while holding the lock leaves the histories as they were.
            Err(poisoned) => poisoned.into_inner(),
        };
        work(histories.entry(key.to_string()).or_default())
    }

    async fn failed_get_scale(&self, hpa: &HorizontalPodAutoscaler, conditions: &mut Conditions, error: &str) -> String {
        self.event(hpa, "Warning", "FailedGetScale", error).await;
        conditions.set("AbleToScale", "False", "FailedGetScale", &format!("the HPA controller was unable to get the target's current scale: {error}"));
        error.to_string()
    }

    /// kube's `computeReplicasForMetrics`: the highest proposal of the metrics that worked;
    /// -1 when none did, or when some failed and the others would scale down.
    async fn replicas_for_metrics(&self, hpa: &HorizontalPodAutoscaler, key: &str, scale: &Scale, metrics: &[MetricSpec], conditions: &mut Conditions) -> Computed {
        let failed = |error: String| Computed { replicas: -1, metric: String::new(), statuses: Vec::new(), error: Some(error) };
        let selector_text = scale.status.as_ref().and_then(|status| status.selector.clone()).unwrap_or_default();
        if selector_text.is_empty() {
            self.event(hpa, "Warning", "SelectorRequired", "selector is required").await;
            conditions.set("ScalingActive", "False", "InvalidSelector", "the HPA target's scale is missing a selector");
            return failed("selector is required".into());
        }
        let selector = match LabelSelector::parse(&selector_text) {
            Ok(selector) => selector,
            Err(err) => {
                let message = format!("couldn't convert selector into a corresponding internal selector object: {}", err.reason());
                self.event(hpa, "Warning", "InvalidSelector", &message).await;
                conditions.set("ScalingActive", "False", "InvalidSelector", &message);
                return failed(message);
            }
        };
        let namespace = hpa.metadata.namespace.clone().unwrap_or_default();
        let pods: Vec<Arc<Pod>> = self
            .context
            .pods
            .store()
            .state()
            .into_iter()
            .filter(|pod| pod.metadata.namespace.as_deref() == Some(namespace.as_str()))
            .filter(|pod| selector.matches(pod.metadata.labels.as_ref().unwrap_or(&Default::default())))
            .collect();
        if let Some(others) = self.ambiguous(key, &namespace, &selector, &pods) {
            let message = format!("pods by selector {selector_text} are controlled by multiple HPAs: [{}]", others.join(" "));
            self.event(hpa, "Warning", "AmbiguousSelector", &message).await;
            conditions.set("ScalingActive", "False", "AmbiguousSelector", &message);
            return failed(message);
        }
        let spec_replicas = scale.spec.as_ref().and_then(|spec| spec.replicas).unwrap_or(0);
        let mut observed = Observed { pods, items: None };
        let mut statuses = vec![MetricStatus::default(); metrics.len()];
        let (mut replicas, mut metric) = (0, String::new());
        let mut invalid = 0;
        let mut first_failure: Option<MetricFailure> = None;
        for (index, spec) in metrics.iter().enumerate() {
            match self.replicas_for_metric(hpa, spec, spec_replicas, &selector_text, &mut observed).await {
                Ok(proposal) => {
                    statuses[index] = proposal.status;
                    if replicas == 0 || proposal.replicas > replicas {
                        replicas = proposal.replicas;
                        metric = proposal.metric;
                    }
                }
                Err(failure) => {
                    self.event(hpa, "Warning", failure.reason, &failure.error).await;
                    invalid += 1;
                    first_failure.get_or_insert(failure);
                }
            }
        }
        let error = first_failure.as_ref().map(|failure| format!("invalid metrics ({invalid} invalid out of {}), first error is: {}", metrics.len(), failure.wrapped));
        if invalid >= metrics.len() || (invalid > 0 && replicas < spec_replicas) {
            if let Some(failure) = &first_failure {
                conditions.set("ScalingActive", "False", failure.reason, &format!("the HPA was unable to compute the replica count: {}", failure.error));
            }
            return Computed { replicas: -1, metric: String::new(), statuses, error };
        }
        conditions.set("ScalingActive", "True", "ValidMetricFound", &format!("the HPA was able to successfully calculate a replica count from {metric}"));
        Computed { replicas, metric, statuses, error }
    }

    /// kube's hpaSelectors check: the other HPAs of the namespace whose last known selector
    /// picks one of `pods`; with any, every HPA involved, sorted.
    fn ambiguous(&self, key: &str, namespace: &str, selector: &LabelSelector, pods: &[Arc<Pod>]) -> Option<Vec<String>> {
        let mut selectors = self.selectors.lock().ok()?;
        selectors.insert(key.to_string(), (namespace.to_string(), selector.clone()));
        // An HPA whose deletion this controller missed (a lagging watch) is not held against
        // the others.
        let store = self.context.horizontal_pod_autoscalers.store();
        selectors.retain(|other, _| {
            let (other_namespace, name) = other.split_once('/').unwrap_or_default();
            other == key || other_namespace != namespace || store.get(&ObjectRef::new(name).within(other_namespace)).is_some()
        });
        let empty = Default::default();
        let mut involved: BTreeSet<String> = selectors
            .iter()
            .filter(|(other, (other_namespace, _))| other.as_str() != key && other_namespace == namespace)
            .filter(|(_, (_, other_selector))| pods.iter().any(|pod| other_selector.matches(pod.metadata.labels.as_ref().unwrap_or(&empty))))
            .map(|(other, _)| other.clone())
            .collect();
        if involved.is_empty() {
            return None;
        }
        involved.insert(key.to_string());
        Some(involved.into_iter().collect())
    }

    /// kube's `computeReplicasForMetric` for one metric.
    async fn replicas_for_metric(&self, hpa: &HorizontalPodAutoscaler, spec: &MetricSpec, spec_replicas: i32, selector: &str, observed: &mut Observed) -> Result<Proposal, MetricFailure> {
        let namespace = hpa.metadata.namespace.clone().unwrap_or_default();
        match spec.type_.as_str() {
            "Resource" => {
                let Some(source) = &spec.resource else { return Err(source_missing("FailedGetResourceMetric", "resource")) };
                let computed = self.resource_metric(spec_replicas, &source.target, &source.name, "", &namespace, selector, observed).await;
                let (replicas, current, metric) = computed.map_err(|error| MetricFailure {
                    reason: "FailedGetResourceMetric",
                    wrapped: format!("failed to get {} resource metric value: {error}", source.name),
                    error,
                })?;
                let status = MetricStatus { type_: "Resource".into(), resource: Some(ResourceMetricStatus { name: source.name.clone(), current }), ..MetricStatus::default() };
                Ok(Proposal { replicas, metric, status })
            }
            "ContainerResource" => {
                let Some(source) = &spec.container_resource else { return Err(source_missing("FailedGetContainerResourceMetric", "containerResource")) };
                let computed = self.resource_metric(spec_replicas, &source.target, &source.name, &source.container, &namespace, selector, observed).await;
                let (replicas, current, metric) = computed.map_err(|error| MetricFailure {
                    reason: "FailedGetContainerResourceMetric",
                    wrapped: format!("failed to get {} container metric value: {error}", source.container),
                    error,
                })?;
                let status = MetricStatus {
                    type_: "ContainerResource".into(),
                    container_resource: Some(ContainerResourceMetricStatus { name: source.name.clone(), container: source.container.clone(), current }),
                    ..MetricStatus::default()
                };
                Ok(Proposal { replicas, metric, status })
            }
            "Pods" => {
                let name = spec.pods.as_ref().map(|source| source.metric.name.clone()).unwrap_or_default();
                let error = format!("unable to get metric {name}: unable to fetch metrics from custom metrics API: {NO_CUSTOM_METRICS}");
                Err(MetricFailure { reason: "FailedGetPodsMetric", wrapped: format!("failed to get pods metric value: {error}"), error })
            }
            "Object" => {
                let source = spec.object.as_ref();
                let name = source.map(|source| source.metric.name.clone()).unwrap_or_default();
                let (kind, object) = source.map(|source| (source.described_object.kind.clone(), source.described_object.name.clone())).unwrap_or_default();
                let target = source.map(|source| &source.target);
                // kube's format string puts its arguments one place off: the kind lands where the
                // error was meant to go, and the error after the object's name.
                let unable = format!("unable to get metric {name}: {kind} on {namespace} {object}/unable to fetch metrics from custom metrics API: {NO_CUSTOM_METRICS}");
                let error = match target {
                    Some(target) if target.type_ == "Value" && target.value.is_some() => unable,
                    Some(target) if target.type_ == "AverageValue" && target.average_value.is_some() => format!("failed to get {name} object metric: {unable}"),
                    _ => "invalid object metric source: neither a value target nor an average value target was set".into(),
                };
                Err(MetricFailure { reason: "FailedGetObjectMetric", wrapped: format!("failed to get object metric value: {error}"), error })
            }
            "External" => {
                let source = spec.external.as_ref();
                let name = source.map(|source| source.metric.name.clone()).unwrap_or_default();
                let selector = go_label_selector(source.and_then(|source| source.metric.selector.as_ref()));
                let unable = format!(
                    "unable to get external metric {namespace}/{name}/{selector}: unable to fetch metrics from external metrics API: the server could not find the requested resource (get {name}.external.metrics.k8s.io)"
                );
                let target = source.map(|source| &source.target);
                let error = if target.is_some_and(|target| target.average_value.is_some()) {
                    format!("failed to get {name} external metric: {unable}")
                } else if target.is_some_and(|target| target.value.is_some()) {
                    format!("failed to get external metric {name}: {unable}")
                } else {
                    "invalid external metric source: neither a value target nor an average value target was set".into()
                };
                Err(MetricFailure { reason: "FailedGetExternalMetric", wrapped: format!("failed to get {name} external metric value: {error}"), error })
            }
            other => {
                let error = format!("unknown metric source type {other:?}");
                Err(MetricFailure { reason: "InvalidMetricSourceType", wrapped: error.clone(), error })
            }
        }
    }

    /// kube's `computeStatusForResourceMetricGeneric`: the replicas, the metric's current value
    /// and its name for the rescale reason; the error as kube words it.
    #[allow(clippy::too_many_arguments)] // kube's own argument list
    async fn resource_metric(&self, current: i32, target: &MetricTarget, resource: &str, container: &str, namespace: &str, selector: &str, observed: &mut Observed) -> Result<(i32, MetricValueStatus, String), String> {
        let now = jiff::Timestamp::now();
        if let Some(average) = &target.average_value {
            let target_value = common::quantity::parse(&average.0).map(|quantity| quantity.milli_value()).unwrap_or(0);
            let computed = match self.samples(namespace, selector, resource, container, observed).await {
                Ok(metrics) => {
                    let pods: Vec<&Pod> = observed.pods.iter().map(|pod| &**pod).collect();
                    self.calculator.raw_resource_replicas(current, target_value, resource, &pods, metrics, now)
                }
                Err(error) => Err(error),
            };
            let (replicas, usage) = computed.map_err(|error| format!("failed to get {resource} usage: {error}"))?;
            let status = MetricValueStatus { average_value: Some(Quantity(milli_quantity(usage))), ..MetricValueStatus::default() };
            return Ok((replicas, status, format!("{resource} resource")));
        }
        let Some(target_utilization) = target.average_utilization else {
            return Err("invalid resource metric source: neither an average utilization target nor an average value (usage) target was set".into());
        };
        let computed = match self.samples(namespace, selector, resource, container, observed).await {
            Ok(metrics) => {
                let pods: Vec<&Pod> = observed.pods.iter().map(|pod| &**pod).collect();
                self.calculator.resource_replicas(current, target_utilization, resource, container, &pods, metrics, now)
            }
            Err(error) => Err(error),
        };
        let answer = computed.map_err(|error| format!("failed to get {resource} utilization: {error}"))?;
        let metric = if container.is_empty() {
            format!("{resource} resource utilization (percentage of request)")
        } else {
            format!("{resource} container resource utilization (percentage of request)")
        };
        let status = MetricValueStatus { average_utilization: Some(answer.utilization), average_value: Some(Quantity(milli_quantity(answer.raw_average))), value: None };
        Ok((answer.replicas, status, metric))
    }

    /// The pods' samples of `resource` (kube's `GetResourceMetric`), the PodMetrics listed once
    /// per sync; errors worded `unable to get metrics for resource cpu: ...`.
    async fn samples(&self, namespace: &str, selector: &str, resource: &str, container: &str, observed: &mut Observed) -> Result<PodMetrics, String> {
        if observed.items.is_none() {
            let api: Api<DynamicObject> = Api::namespaced_with(self.context.client.clone(), namespace, &pod_metrics_resource());
            let listed = api
                .list(&ListParams::default().labels(selector))
                .await
                .map(|list| list.items.iter().filter_map(|item| serde_json::to_value(item).ok()).collect())
                .map_err(|err| format!("unable to fetch metrics from resource metrics API: {}", err_text(&err)));
            observed.items = Some(listed);
        }
        let items = match &observed.items {
            Some(Ok(items)) => items.as_slice(),
            Some(Err(error)) => return Err(format!("unable to get metrics for resource {resource}: {error}")),
            None => &[],
        };
        replica_calculator::pod_metrics(items, resource, container)
            .map(|(metrics, _)| metrics)
            .map_err(|error| format!("unable to get metrics for resource {resource}: {error}"))
    }
}

/// What kube's custom metrics client answers when no `custom.metrics.k8s.io` is registered.
const NO_CUSTOM_METRICS: &str = "no custom metrics API (custom.metrics.k8s.io) registered";

fn source_missing(reason: &'static str, field: &str) -> MetricFailure {
    let error = format!("the {field} metric source is missing");
    MetricFailure { reason, wrapped: error.clone(), error }
}

/// What `computeReplicasForMetrics` found.
struct Computed {
    replicas: i32,
    metric: String,
    statuses: Vec<MetricStatus>,
    error: Option<String>,
}

fn pod_metrics_resource() -> ApiResource {
    ApiResource {
        group: "metrics.k8s.io".into(),
        version: "v1beta1".into(),
        api_version: "metrics.k8s.io/v1beta1".into(),
        kind: "PodMetrics".into(),
        plural: "pods".into(),
    }
}

/// A `*metav1.LabelSelector` as Go's `%+v` prints it (its generated `String()`), which kube puts
/// in the external metric's error.
fn go_label_selector(selector: Option<&K8sSelector>) -> String {
    let Some(selector) = selector else { return "nil".into() };
    let labels: String = selector.match_labels.iter().flatten().map(|(key, value)| format!("{key}: {value},")).collect();
    let expressions: String = selector
        .match_expressions
        .iter()
        .flatten()
        .map(|expression| {
            let values = expression.values.clone().unwrap_or_default().join(" ");
            format!("LabelSelectorRequirement{{Key:{},Operator:{},Values:[{values}],}},", expression.key, expression.operator)
        })
        .collect();
    format!("&LabelSelector{{MatchLabels:map[string]string{{{labels}}},MatchExpressions:[]LabelSelectorRequirement{{{expressions}}},}}")
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(clap::Parser)]
    struct Command {
        #[command(flatten)]
        flags: Flags,
    }

    #[test]
    fn flags_default_as_kubes() {
        let flags = Command::parse_from(["x"]).flags;
        assert_eq!(flags.sync_period, Duration::from_secs(15));
        assert_eq!(flags.downscale_stabilization, Duration::from_secs(300));
        assert_eq!(flags.cpu_initialization_period, Duration::from_secs(300));
        assert_eq!(flags.initial_readiness_delay, Duration::from_secs(30));
        assert!((flags.tolerance - 0.1).abs() < f64::EPSILON);
        let flags = Command::parse_from(["x", "--horizontal-pod-autoscaler-sync-period=1s", "--horizontal-pod-autoscaler-downscale-stabilization=1m30s"]).flags;
        assert_eq!((flags.sync_period, flags.downscale_stabilization), (Duration::from_secs(1), Duration::from_secs(90)));
        assert!(Command::try_parse_from(["x", "--horizontal-pod-autoscaler-sync-period=soon"]).is_err());
    }

    #[test]
    fn only_a_spec_change_syncs_at_once() {
        let specs = Mutex::default();
        let spec = |max| Some(HorizontalPodAutoscalerSpec { max_replicas: max, ..Default::default() });
        assert!(spec_changed(&specs, "ns/a".into(), &spec(3)), "first sight");
        assert!(!spec_changed(&specs, "ns/a".into(), &spec(3)), "a status write keeps the spec");
        assert!(spec_changed(&specs, "ns/a".into(), &spec(5)), "maxReplicas patched");
        assert!(spec_changed(&specs, "ns/b".into(), &spec(5)), "another HPA");
        assert!(!spec_changed(&specs, "ns/a".into(), &spec(5)));
    }

    #[test]
    fn external_selectors_print_as_go_does() {
        assert_eq!(go_label_selector(None), "nil");
        let selector: K8sSelector = serde_json::from_value(serde_json::json!({
            "matchLabels": {"queue": "worker_tasks"},
            "matchExpressions": [{"key": "tier", "operator": "In", "values": ["a", "b"]}]
        }))
        .unwrap();
        assert_eq!(
            go_label_selector(Some(&selector)),
            "&LabelSelector{MatchLabels:map[string]string{queue: worker_tasks,},MatchExpressions:[]LabelSelectorRequirement{LabelSelectorRequirement{Key:tier,Operator:In,Values:[a b],},},}"
        );
    }
}
