//! How many replicas a Resource or ContainerResource metric asks for, as kube-controller-manager's
//! `ReplicaCalculator` (`GetResourceReplicas` for a Utilization target against the pods'
//! requests, `GetRawResourceReplicas` for an AverageValue) and its metrics client reads
//! `metrics.k8s.io` PodMetrics. Pods are grouped as kube's `groupPods` does: deleted and failed
//! pods ignored, pending ones unready, cpu samples of pods still starting (the cpu
//! initialization period, the initial readiness delay) unready, pods without a sample missing;
//! on a scale-up unready and missing pods count as using nothing, on a scale-down missing pods as
//! using their request (or the target, when above 100 %), and a change that would reverse the
//! direction is dropped. Errors carry kube's messages. Pure: the pods, samples and clock come in.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use k8s_openapi::api::core::v1::{Container, Pod};
use serde_json::Value;

/// One pod's sample, in milli-units (millicores, milli-bytes), as kube's `PodMetric`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PodMetric {
    pub timestamp: jiff::Timestamp,
    pub window: Duration,
    pub value: i64,
}

pub type PodMetrics = BTreeMap<String, PodMetric>;

/// The controller's knobs (`--horizontal-pod-autoscaler-tolerance`,
/// `--horizontal-pod-autoscaler-cpu-initialization-period`,
/// `--horizontal-pod-autoscaler-initial-readiness-delay`).
#[derive(Clone, Copy, Debug)]
pub struct Calculator {
    pub tolerance: f64,
    pub cpu_initialization_period: Duration,
    pub initial_readiness_delay: Duration,
}

/// What a Utilization target gives: the replicas, the utilization (percent of request) and the
/// average raw usage (milli-units).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Utilization {
    pub replicas: i32,
    pub utilization: i32,
    pub raw_average: i64,
}

/// The samples of `items` (PodMetrics as JSON) for `resource`, by pod name, and the first item's
/// timestamp: kube's `resourceMetricsClient.GetResourceMetric` (a pod missing the resource in
/// any container has no sample; for a container metric, a pod without that container is an
/// error). The message is what kube wraps in `unable to get metrics for resource cpu: ...`.
pub fn pod_metrics(items: &[Value], resource: &str, container: &str) -> Result<(PodMetrics, Option<jiff::Timestamp>), String> {
    if items.is_empty() {
        return Err("no metrics returned from resource metrics API".into());
    }
    let mut metrics = PodMetrics::new();
    for item in items {
        let name = item["metadata"]["name"].as_str().unwrap_or_default();
        let timestamp = item["timestamp"].as_str().and_then(|text| text.parse().ok()).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
        let window = item["window"]
            .as_str()
            .and_then(|text| common::durations::parse_go_duration(text).ok())
            .map_or(Duration::ZERO, |nanos| Duration::from_nanos(u64::try_from(nanos).unwrap_or(0)));
        let containers = item["containers"].as_array().map(Vec::as_slice).unwrap_or_default();
        let usage = |container: &Value| container["usage"][resource].as_str().and_then(|text| common::quantity::parse(text).ok()).map(|quantity| quantity.milli_value());
        if !container.is_empty() {
            let Some(found) = containers.iter().find(|candidate| candidate["name"] == container) else {
                let namespace = item["metadata"]["namespace"].as_str().unwrap_or_default();
                return Err(format!("failed to get container metrics: container {container} not present in metrics for pod {namespace}/{name}"));
            };
            if let Some(value) = usage(found) {
                metrics.insert(name.to_string(), PodMetric { timestamp, window, value });
            }
            continue;
        }
        let sum: Option<i64> = if containers.is_empty() { None } else { containers.iter().map(usage).sum() };
        if let Some(value) = sum {
            metrics.insert(name.to_string(), PodMetric { timestamp, window, value });
        }
    }
    let timestamp = items[0]["timestamp"].as_str().and_then(|text| text.parse().ok());
    Ok((metrics, timestamp))
}

/// The pods kube's `groupPods` sets apart.
#[derive(Debug, Default, PartialEq, Eq)]
struct Groups {
    ready: usize,
    unready: BTreeSet<String>,
    missing: BTreeSet<String>,
    ignored: BTreeSet<String>,
}

fn ready_condition(pod: &Pod) -> Option<&k8s_openapi::api::core::v1::PodCondition> {
    pod.status.as_ref()?.conditions.as_ref()?.iter().find(|condition| condition.type_ == "Ready")
}

fn name(pod: &Pod) -> String {
    pod.metadata.name.clone().unwrap_or_default()
}

impl Calculator {
    fn group(&self, pods: &[&Pod], metrics: &PodMetrics, resource: &str, now: jiff::Timestamp) -> Groups {
        let mut groups = Groups::default();
        let span = |duration: Duration| jiff::SignedDuration::try_from(duration).unwrap_or(jiff::SignedDuration::MAX);
        for pod in pods {
            let phase = pod.status.as_ref().and_then(|status| status.phase.as_deref());
            if pod.metadata.deletion_timestamp.is_some() || phase == Some("Failed") {
                groups.ignored.insert(name(pod));
                continue;
            }
            if phase == Some("Pending") {
                groups.unready.insert(name(pod));
                continue;
            }
            let Some(metric) = metrics.get(&name(pod)) else {
                groups.missing.insert(name(pod));
                continue;
            };
            if resource == "cpu" {
                let condition = ready_condition(pod);
                let start = pod.status.as_ref().and_then(|status| status.start_time.as_ref()).map(|time| time.0);
                let transition = condition.and_then(|condition| condition.last_transition_time.as_ref()).map_or(jiff::Timestamp::UNIX_EPOCH, |time| time.0);
                let unready = match (condition, start) {
                    (Some(condition), Some(start)) => {
                        if start.saturating_add(span(self.cpu_initialization_period)).is_ok_and(|end| end > now) {
                            // Still starting: the sample counts once the pod is ready and a whole
                            // window has been sampled since it became so.
                            condition.status == "False" || metric.timestamp < transition.saturating_add(span(metric.window)).unwrap_or(transition)
                        } else {
                            // Unready and never ready since the start.
                            condition.status == "False" && start.saturating_add(span(self.initial_readiness_delay)).is_ok_and(|delay| delay > transition)
                        }
                    }
                    _ => true,
                };
                if unready {
                    groups.unready.insert(name(pod));
                    continue;
                }
            }
            groups.ready += 1;
        }
        groups
    }

    fn within_tolerance(&self, ratio: f64) -> bool {
        (1.0 - self.tolerance) <= ratio && ratio <= (1.0 + self.tolerance)
    }

    /// kube's `GetResourceReplicas` after the metrics are fetched.
    #[allow(clippy::too_many_arguments)] // kube's own argument list
    pub fn resource_replicas(&self, current: i32, target_utilization: i32, resource: &str, container: &str, pods: &[&Pod], mut metrics: PodMetrics, now: jiff::Timestamp) -> Result<Utilization, String> {
        if pods.is_empty() {
            return Err("no pods returned by selector while calculating replica count".into());
        }
        let groups = self.group(pods, &metrics, resource, now);
        metrics.retain(|pod, _| !groups.ignored.contains(pod) && !groups.unready.contains(pod));
        if metrics.is_empty() {
            return Err("did not receive metrics for targeted pods (pods might be unready)".into());
        }
        let requests = requests(pods, container, resource)?;
        let (ratio, utilization, raw_average) = utilization_ratio(&metrics, &requests, target_utilization)?;
        let answer = |replicas: i32| Ok(Utilization { replicas, utilization, raw_average });
        let scale_up_with_unready = !groups.unready.is_empty() && ratio > 1.0;
        if !scale_up_with_unready && groups.missing.is_empty() {
            if self.within_tolerance(ratio) {
                return answer(current);
            }
            return answer(ceil(ratio * groups.ready as f64));
        }
        if !groups.missing.is_empty() {
            if ratio < 1.0 {
                // On a scale-down a pod without a sample counts as using its whole request (or
                // the target, above 100 %), so that it does not hasten the scale-down.
                let fallback = i64::from(target_utilization.max(100));
                for pod in &groups.missing {
                    let value = requests.get(pod).copied().unwrap_or(0) * fallback / 100;
                    metrics.insert(pod.clone(), PodMetric { timestamp: now, window: Duration::ZERO, value });
                }
            } else if ratio > 1.0 {
                for pod in &groups.missing {
                    metrics.insert(pod.clone(), PodMetric { timestamp: now, window: Duration::ZERO, value: 0 });
                }
            }
        }
        if scale_up_with_unready {
            for pod in &groups.unready {
                metrics.insert(pod.clone(), PodMetric { timestamp: now, window: Duration::ZERO, value: 0 });
            }
        }
        let (new_ratio, _, _) = utilization_ratio(&metrics, &requests, target_utilization)?;
        if self.within_tolerance(new_ratio) || (ratio < 1.0 && new_ratio > 1.0) || (ratio > 1.0 && new_ratio < 1.0) {
            return answer(current);
        }
        let replicas = ceil(new_ratio * metrics.len() as f64);
        if (new_ratio < 1.0 && replicas > current) || (new_ratio > 1.0 && replicas < current) {
            return answer(current);
        }
        answer(replicas)
    }

    /// kube's `GetRawResourceReplicas` (`calcPlainMetricReplicas`): an AverageValue target in
    /// milli-units; the answer is the replicas and the average usage.
    pub fn raw_resource_replicas(&self, current: i32, target: i64, resource: &str, pods: &[&Pod], mut metrics: PodMetrics, now: jiff::Timestamp) -> Result<(i32, i64), String> {
        if pods.is_empty() {
            return Err("no pods returned by selector while calculating replica count".into());
        }
        let groups = self.group(pods, &metrics, resource, now);
        metrics.retain(|pod, _| !groups.ignored.contains(pod) && !groups.unready.contains(pod));
        if metrics.is_empty() {
            return Err("did not receive metrics for targeted pods (pods might be unready)".into());
        }
        let (ratio, usage) = usage_ratio(&metrics, target);
        let scale_up_with_unready = !groups.unready.is_empty() && ratio > 1.0;
        if !scale_up_with_unready && groups.missing.is_empty() {
            if self.within_tolerance(ratio) {
                return Ok((current, usage));
            }
            return Ok((ceil(ratio * groups.ready as f64), usage));
        }
        if !groups.missing.is_empty() {
            let value = if ratio < 1.0 { Some(target) } else if ratio > 1.0 { Some(0) } else { None };
            if let Some(value) = value {
                for pod in &groups.missing {
                    metrics.insert(pod.clone(), PodMetric { timestamp: now, window: Duration::ZERO, value });
                }
            }
        }
        if scale_up_with_unready {
            for pod in &groups.unready {
                metrics.insert(pod.clone(), PodMetric { timestamp: now, window: Duration::ZERO, value: 0 });
            }
        }
        let (new_ratio, _) = usage_ratio(&metrics, target);
        if self.within_tolerance(new_ratio) || (ratio < 1.0 && new_ratio > 1.0) || (ratio > 1.0 && new_ratio < 1.0) {
            return Ok((current, usage));
        }
        let replicas = ceil(new_ratio * metrics.len() as f64);
        if (new_ratio < 1.0 && replicas > current) || (new_ratio > 1.0 && replicas < current) {
            return Ok((current, usage));
        }
        Ok((replicas, usage))
    }
}

fn ceil(value: f64) -> i32 {
    // `as` saturates, where Go's conversion of an out-of-range float is undefined.
    value.ceil() as i32
}

/// kube's `GetResourceUtilizationRatio`: the utilization of the pods that have both a sample
/// and a request, against the target.
fn utilization_ratio(metrics: &PodMetrics, requests: &BTreeMap<String, i64>, target: i32) -> Result<(f64, i32, i64), String> {
    let (mut metrics_total, mut requests_total, mut entries) = (0i128, 0i128, 0i128);
    for (pod, metric) in metrics {
        let Some(request) = requests.get(pod) else { continue };
        metrics_total += i128::from(metric.value);
        requests_total += i128::from(*request);
        entries += 1;
    }
    if requests_total == 0 {
        return Err("no metrics returned matched known pods".into());
    }
    let utilization = i32::try_from(metrics_total * 100 / requests_total).unwrap_or(if metrics_total > 0 { i32::MAX } else { i32::MIN });
    let raw_average = i64::try_from(metrics_total / entries).unwrap_or(i64::MAX);
    Ok((f64::from(utilization) / f64::from(target), utilization, raw_average))
}

/// kube's `GetMetricUsageRatio`: the average sample against the target.
fn usage_ratio(metrics: &PodMetrics, target: i64) -> (f64, i64) {
    let total: i128 = metrics.values().map(|metric| i128::from(metric.value)).sum();
    let average = i64::try_from(total / metrics.len().max(1) as i128).unwrap_or(i64::MAX);
    (average as f64 / target as f64, average)
}

/// Each pod's request of `resource` in milli-units, as kube's `calculatePodRequestsFromContainers`:
/// the sum over its containers and restartable (sidecar) init containers, or the one named
/// `container`; a container without the request is an error.
fn requests(pods: &[&Pod], container: &str, resource: &str) -> Result<BTreeMap<String, i64>, String> {
    let mut requests = BTreeMap::new();
    for pod in pods {
        let spec = pod.spec.as_ref();
        let sidecars = spec.and_then(|spec| spec.init_containers.as_ref()).into_iter().flatten().filter(|init| init.restart_policy.as_deref() == Some("Always"));
        let containers: Vec<&Container> = spec.map(|spec| spec.containers.iter()).into_iter().flatten().chain(sidecars).collect();
        let mut request = 0i64;
        let mut found = container.is_empty();
        for candidate in containers {
            if container.is_empty() || container == candidate.name {
                let value = candidate
                    .resources
                    .as_ref()
                    .and_then(|resources| resources.requests.as_ref())
                    .and_then(|requests| requests.get(resource))
                    .and_then(|quantity| common::quantity::parse(&quantity.0).ok())
                    .ok_or_else(|| format!("missing request for {resource} in container {} of Pod {}", candidate.name, name(pod)))?;
                request = request.saturating_add(value.milli_value());
            }
            if container == candidate.name {
                found = true;
                break;
            }
        }
        if !found {
            return Err(format!("container {container} not found in Pod {}", name(pod)));
        }
        requests.insert(name(pod), request);
    }
    Ok(requests)
}

/// A milli-value as `resource.NewMilliQuantity(value, resource.DecimalSI)` prints it: the
/// largest SI suffix that keeps it whole (`250m`, `2`, `1500m`, `10485760`, `3k`).
pub fn milli_quantity(milli: i64) -> String {
    if milli == 0 {
        return "0".into();
    }
    if milli % 1000 != 0 {
        return format!("{milli}m");
    }
    let mut value = milli / 1000;
    let mut suffix = 0;
    const SUFFIXES: [&str; 7] = ["", "k", "M", "G", "T", "P", "E"];
    while value % 1000 == 0 && suffix < SUFFIXES.len() - 1 {
        value /= 1000;
        suffix += 1;
    }
    format!("{value}{}", SUFFIXES[suffix])
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const NOW: i64 = 1_800_000_000;

    fn at(seconds_ago: i64) -> String {
        jiff::Timestamp::from_second(NOW - seconds_ago).unwrap().to_string()
    }

    fn now() -> jiff::Timestamp {
        jiff::Timestamp::from_second(NOW).unwrap()
    }

    fn calculator() -> Calculator {
        Calculator { tolerance: 0.1, cpu_initialization_period: Duration::from_secs(300), initial_readiness_delay: Duration::from_secs(30) }
    }

    /// A Running pod started `started` seconds ago, Ready (`ready`) since `transition` seconds ago.
    fn pod(name: &str, request: &str, phase: &str, ready: bool, started: i64, transition: i64) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": name},
            "spec": {"containers": [{"name": "app", "image": "x", "resources": {"requests": {"cpu": request, "memory": "100Mi"}}}]},
            "status": {"phase": phase, "startTime": at(started),
                       "conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }, "lastTransitionTime": at(transition)}]}
        }))
        .unwrap()
    }

    fn samples(values: &[(&str, i64)]) -> PodMetrics {
        values.iter().map(|(pod, value)| (pod.to_string(), PodMetric { timestamp: now(), window: Duration::from_secs(15), value: *value })).collect()
    }

    fn old_pods(levels: &[i64]) -> (Vec<Pod>, PodMetrics) {
        let pods: Vec<Pod> = (0..levels.len()).map(|index| pod(&format!("p{index}"), "1", "Running", true, 1000, 900)).collect();
        let names: Vec<String> = (0..levels.len()).map(|index| format!("p{index}")).collect();
        let metrics = samples(&names.iter().zip(levels).map(|(name, level)| (name.as_str(), *level)).collect::<Vec<_>>());
        (pods, metrics)
    }

    #[test]
    fn scales_up_and_down_as_kubes_tests() {
        // kube's TestReplicaCalcScaleUp: 300, 500, 700 millicores of 1 cpu each, target 30 %.
        let (pods, metrics) = old_pods(&[300, 500, 700]);
        let refs: Vec<&Pod> = pods.iter().collect();
        let answer = calculator().resource_replicas(3, 30, "cpu", "", &refs, metrics, now()).unwrap();
        assert_eq!(answer, Utilization { replicas: 5, utilization: 50, raw_average: 500 });
        // TestReplicaCalcScaleDown: 5 pods at 100..500 of 1 cpu, target 50 % -> 3.
        let (pods, metrics) = old_pods(&[100, 300, 500, 250, 250]);
        let refs: Vec<&Pod> = pods.iter().collect();
        let answer = calculator().resource_replicas(5, 50, "cpu", "", &refs, metrics, now()).unwrap();
        assert_eq!((answer.replicas, answer.utilization), (3, 28));
        // Within tolerance: 1.05 of the target keeps 3.
        let (pods, metrics) = old_pods(&[1050, 1050, 1050]);
        let refs: Vec<&Pod> = pods.iter().collect();
        assert_eq!(calculator().resource_replicas(3, 100, "cpu", "", &refs, metrics, now()).unwrap().replicas, 3);
    }

    #[test]
    fn unready_pods_count_as_idle_on_a_scale_up() {
        // TestReplicaCalcScaleUpUnreadyLessScale: the unready pod's sample is left out and it
        // counts as 0 on the scale-up: (0 + 500 + 700) / 3 = 40 % of the 30 % target -> 4.
        let mut pods = vec![pod("p0", "1", "Running", false, 10, 10)];
        pods.push(pod("p1", "1", "Running", true, 1000, 900));
        pods.push(pod("p2", "1", "Running", true, 1000, 900));
        let refs: Vec<&Pod> = pods.iter().collect();
        let answer = calculator().resource_replicas(3, 30, "cpu", "", &refs, samples(&[("p0", 300), ("p1", 500), ("p2", 700)]), now()).unwrap();
        assert_eq!((answer.replicas, answer.utilization), (4, 60));
        // A pod still in its cpu initialization period whose readiness is newer than a window of
        // samples is unready too, even though Ready.
        let pods = [pod("p0", "1", "Running", true, 60, 5), pod("p1", "1", "Running", true, 1000, 900)];
        let refs: Vec<&Pod> = pods.iter().collect();
        let answer = calculator().resource_replicas(2, 50, "cpu", "", &refs, samples(&[("p0", 1000), ("p1", 1000)]), now()).unwrap();
        assert_eq!(answer.replicas, 2, "the starting pod counts as idle: (0 + 1000) / 2 is the 50 % target, no change");
    }

    #[test]
    fn missing_samples_hold_back_a_scale_down_and_ignored_pods_count_nothing() {
        // Two pods at 10 % and one without a sample: on a scale-down the missing one counts as
        // its whole request: (100 + 100 + 1000) / 3 = 40 % of 50 % -> ceil(0.8 * 3) = 3.
        let pods = [pod("p0", "1", "Running", true, 1000, 900), pod("p1", "1", "Running", true, 1000, 900), pod("p2", "1", "Running", true, 1000, 900)];
        let refs: Vec<&Pod> = pods.iter().collect();
        let answer = calculator().resource_replicas(3, 50, "cpu", "", &refs, samples(&[("p0", 100), ("p1", 100)]), now()).unwrap();
        assert_eq!((answer.replicas, answer.utilization), (3, 10));
        // A deleted pod's sample is ignored; a pending pod is unready.
        let mut deleted = pod("gone", "1", "Running", true, 1000, 900);
        deleted.metadata.deletion_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(now()));
        let pending = pod("pending", "1", "Pending", false, 1000, 900);
        let live = pod("p0", "1", "Running", true, 1000, 900);
        let refs = [&deleted, &pending, &live];
        let answer = calculator().resource_replicas(3, 50, "cpu", "", &refs, samples(&[("gone", 5000), ("p0", 200)]), now()).unwrap();
        assert_eq!(answer.replicas, 1, "only p0 at 20 % counts: ceil(0.4 * 1)");
    }

    #[test]
    fn errors_are_kubes() {
        let calculator = calculator();
        assert_eq!(calculator.resource_replicas(1, 50, "cpu", "", &[], PodMetrics::new(), now()).unwrap_err(), "no pods returned by selector while calculating replica count");
        let pending = pod("p0", "1", "Pending", false, 10, 10);
        assert_eq!(
            calculator.resource_replicas(1, 50, "cpu", "", &[&pending], samples(&[("p0", 1)]), now()).unwrap_err(),
            "did not receive metrics for targeted pods (pods might be unready)"
        );
        let mut bare = pod("p0", "1", "Running", true, 1000, 900);
        bare.spec.as_mut().unwrap().containers[0].resources = None;
        assert_eq!(calculator.resource_replicas(1, 50, "cpu", "", &[&bare], samples(&[("p0", 1)]), now()).unwrap_err(), "missing request for cpu in container app of Pod p0");
        let live = pod("p0", "1", "Running", true, 1000, 900);
        assert_eq!(calculator.resource_replicas(1, 50, "cpu", "sidecar", &[&live], samples(&[("p0", 1)]), now()).unwrap_err(), "container sidecar not found in Pod p0");
        assert_eq!(calculator.resource_replicas(1, 50, "cpu", "", &[&live], samples(&[("other", 1)]), now()).unwrap_err(), "no metrics returned matched known pods");
    }

    #[test]
    fn average_value_targets_use_the_plain_average() {
        // 3 pods at 10Mi, 20Mi, 30Mi of memory against 10Mi: 20Mi average, ratio 2 -> 6.
        let mi = 1024 * 1024 * 1000;
        let (pods, _) = old_pods(&[0, 0, 0]);
        let refs: Vec<&Pod> = pods.iter().collect();
        let (replicas, usage) = calculator().raw_resource_replicas(3, 10 * mi, "memory", &refs, samples(&[("p0", 10 * mi), ("p1", 20 * mi), ("p2", 30 * mi)]), now()).unwrap();
        assert_eq!((replicas, usage), (6, 20 * mi));
        assert_eq!(milli_quantity(usage), "20971520");
        // Memory samples are never held back by readiness (only cpu's are).
        let unready = pod("p0", "1", "Running", false, 10, 10);
        let (replicas, _) = calculator().raw_resource_replicas(1, 10 * mi, "memory", &[&unready], samples(&[("p0", 30 * mi)]), now()).unwrap();
        assert_eq!(replicas, 3);
    }

    #[test]
    fn pod_metrics_sum_containers_or_pick_one() {
        let item = |name: &str, containers: Value| json!({"metadata": {"name": name, "namespace": "ns"}, "timestamp": at(5), "window": "15s", "containers": containers});
        let items = vec![
            item("a", json!([{"name": "app", "usage": {"cpu": "250m", "memory": "10Mi"}}, {"name": "side", "usage": {"cpu": "50000000n", "memory": "1Mi"}}])),
            item("b", json!([{"name": "app", "usage": {"memory": "10Mi"}}])),
            item("c", json!([])),
        ];
        let (metrics, timestamp) = pod_metrics(&items, "cpu", "").unwrap();
        assert_eq!(metrics.keys().collect::<Vec<_>>(), ["a"], "b lacks cpu and c has no containers");
        assert_eq!(metrics["a"].value, 300);
        assert_eq!(metrics["a"].window, Duration::from_secs(15));
        assert_eq!(timestamp, Some(now() - jiff::SignedDuration::from_secs(5)));
        let (metrics, _) = pod_metrics(&items[..2], "memory", "app").unwrap();
        assert_eq!(metrics["b"].value, 10 * 1024 * 1024 * 1000);
        assert_eq!(pod_metrics(&items, "cpu", "side").unwrap_err(), "failed to get container metrics: container side not present in metrics for pod ns/b");
        assert_eq!(pod_metrics(&[], "cpu", "").unwrap_err(), "no metrics returned from resource metrics API");
    }

    #[test]
    fn milli_quantities_print_as_decimal_si() {
        assert_eq!(milli_quantity(250), "250m");
        assert_eq!(milli_quantity(2000), "2");
        assert_eq!(milli_quantity(1500), "1500m");
        assert_eq!(milli_quantity(3_000_000), "3k");
        assert_eq!(milli_quantity(0), "0");
    }
}
