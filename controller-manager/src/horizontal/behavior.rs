//! What the HPA controller does with a metrics' recommendation before it touches the target, as
//! kube-controller-manager's `normalizeDesiredReplicas` (no `behavior`: the downscale
//! stabilization window of the flag and the fixed scale-up limit) and
//! `normalizeDesiredReplicasWithBehaviors` (stabilization windows over the recommendation
//! history, then the policies' rate limits over the recent scale events), with the
//! `AbleToScale` and `ScalingLimited` conditions they set. Pure: time comes in as an argument.

use std::time::{Duration, Instant};

use k8s_openapi::api::autoscaling::v2::{HPAScalingRules, HorizontalPodAutoscalerBehavior};

use super::conditions::Conditions;

/// Without `behavior`, a scale-up goes at most to twice the current replicas, and to at least 4
/// (kube's `scaleUpLimitFactor` and `scaleUpLimitMinimum`, against bogus samples, #32304).
const SCALE_UP_LIMIT_FACTOR: f64 = 2.0;
const SCALE_UP_LIMIT_MINIMUM: f64 = 4.0;

/// A recommendation as the metrics gave it, before stabilization.
#[derive(Clone, Copy, Debug)]
struct Recommendation {
    replicas: i32,
    at: Instant,
}

/// A change the controller made to the target (always positive: the direction is the list).
#[derive(Clone, Copy, Debug)]
struct ScaleEvent {
    change: i32,
    at: Instant,
    outdated: bool,
}

/// One HPA's memory, kept between syncs by the controller (kube keeps it in the controller too,
/// so a restarted controller-manager starts with an empty history, as kube's does).
#[derive(Debug, Default)]
pub struct History {
    recommendations: Vec<Recommendation>,
    scale_up_events: Vec<ScaleEvent>,
    scale_down_events: Vec<ScaleEvent>,
}

impl History {
    /// kube's `recordInitialRecommendation`: the first sync remembers the current size, so
    /// that a scale-down right after a (re)start is stabilized against it.
    pub fn record_initial(&mut self, current: i32, now: Instant) {
        if self.recommendations.is_empty() {
            self.recommendations.push(Recommendation { replicas: current, at: now });
        }
    }
}

/// How a policy counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicyType {
    Pods,
    Percent,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    pub type_: PolicyType,
    pub value: i32,
    pub period_seconds: i32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SelectPolicy {
    Max,
    Min,
    Disabled,
}

/// One direction's rules with kube's defaults filled in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rules {
    pub stabilization_window_seconds: i32,
    pub select_policy: SelectPolicy,
    pub policies: Vec<Policy>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Behavior {
    pub scale_up: Rules,
    pub scale_down: Rules,
}

impl Behavior {
    /// `behavior` as kube's `SetDefaults_HorizontalPodAutoscalerBehavior` (GenerateHPAScaleUpRules
    /// and GenerateHPAScaleDownRules) leaves it, and a scale-down window left unset as the
    /// controller's `--horizontal-pod-autoscaler-downscale-stabilization`
    /// (`maybeInitScaleDownStabilizationWindow`).
    pub fn resolve(behavior: &HorizontalPodAutoscalerBehavior, downscale_stabilization: Duration) -> Self {
        let downscale_window = i32::try_from(downscale_stabilization.as_secs()).unwrap_or(i32::MAX);
        let up_defaults = vec![
            Policy { type_: PolicyType::Pods, value: 4, period_seconds: 15 },
            Policy { type_: PolicyType::Percent, value: 100, period_seconds: 15 },
        ];
        let down_defaults = vec![Policy { type_: PolicyType::Percent, value: 100, period_seconds: 15 }];
        Self {
            scale_up: Rules::resolve(behavior.scale_up.as_ref(), 0, up_defaults),
            scale_down: Rules::resolve(behavior.scale_down.as_ref(), downscale_window, down_defaults),
        }
    }
}

impl Rules {
    fn resolve(rules: Option<&HPAScalingRules>, default_window: i32, default_policies: Vec<Policy>) -> Self {
        let Some(rules) = rules else {
            return Self { stabilization_window_seconds: default_window, select_policy: SelectPolicy::Max, policies: default_policies };
        };
        let select_policy = match rules.select_policy.as_deref() {
            Some("Min") => SelectPolicy::Min,
            Some("Disabled") => SelectPolicy::Disabled,
            _ => SelectPolicy::Max,
        };
        let policies = match &rules.policies {
            // An empty list stays empty, as kube's defaulting only fills a nil one.
            Some(policies) => policies
                .iter()
                .map(|policy| Policy {
                    type_: if policy.type_ == "Percent" { PolicyType::Percent } else { PolicyType::Pods },
                    value: policy.value,
                    period_seconds: policy.period_seconds,
                })
                .collect(),
            None => default_policies,
        };
        Self { stabilization_window_seconds: rules.stabilization_window_seconds.unwrap_or(default_window), select_policy, policies }
    }

    fn longest_period(&self) -> i32 {
        self.policies.iter().map(|policy| policy.period_seconds).max().unwrap_or(0)
    }
}

/// Whether `at` is within `seconds` before `now` (kube's `timestamp.After(now - window)`).
fn within(at: Instant, now: Instant, seconds: i32) -> bool {
    now.saturating_duration_since(at) < Duration::from_secs(u64::try_from(seconds).unwrap_or(0))
}

/// Whether `at` is more than `seconds` before `now` (kube's `timestamp.Before(now - window)`).
fn older(at: Instant, now: Instant, seconds: i32) -> bool {
    now.saturating_duration_since(at) > Duration::from_secs(u64::try_from(seconds).unwrap_or(0))
}

fn older_than(at: Instant, now: Instant, window: Duration) -> bool {
    now.saturating_duration_since(at) > window
}

/// Without `behavior`: the highest recommendation of the downscale window (kube's
/// `stabilizeRecommendation`, which replaces one sample older than the window or appends), then
/// min/max and the scale-up limit (`convertDesiredReplicasWithRules`).
#[allow(clippy::too_many_arguments)] // kube's own argument list; a struct would only rename it
pub fn normalize(history: &mut History, conditions: &mut Conditions, now: Instant, downscale_window: Duration, current: i32, proposed: i32, min: i32, max: i32) -> i32 {
    let mut stabilized = proposed;
    let mut old_sample = None;
    for (index, recommendation) in history.recommendations.iter().enumerate() {
        if older_than(recommendation.at, now, downscale_window) {
            old_sample = Some(index);
        } else if recommendation.replicas > stabilized {
            stabilized = recommendation.replicas;
        }
    }
    let fresh = Recommendation { replicas: proposed, at: now };
    match old_sample {
        Some(index) => history.recommendations[index] = fresh,
        None => history.recommendations.push(fresh),
    }
    if stabilized != proposed {
        conditions.set("AbleToScale", "True", "ScaleDownStabilized", "recent recommendations were higher than current one, applying the highest recent recommendation");
    } else {
        conditions.set("AbleToScale", "True", "ReadyForNewScale", "recommended size matches current size");
    }
    let (desired, reason, message) = with_rules(current, stabilized, min, max);
    conditions.set("ScalingLimited", if desired == stabilized { "False" } else { "True" }, reason, message);
    desired
}

/// kube's `convertDesiredReplicasWithRules`.
fn with_rules(current: i32, desired: i32, min: i32, max: i32) -> (i32, &'static str, &'static str) {
    let scale_up_limit = (SCALE_UP_LIMIT_FACTOR * f64::from(current)).max(SCALE_UP_LIMIT_MINIMUM) as i32;
    let (maximum, reason, message) = if max > scale_up_limit {
        (scale_up_limit, "ScaleUpLimit", "the desired replica count is increasing faster than the maximum scale rate")
    } else {
        (max, "TooManyReplicas", "the desired replica count is more than the maximum replica count")
    };
    if desired < min {
        (min, "TooFewReplicas", "the desired replica count is less than the minimum replica count")
    } else if desired > maximum {
        (maximum, reason, message)
    } else {
        (desired, "DesiredWithinRange", "the desired count is within the acceptable range")
    }
}

/// With `behavior`: the recommendation held between the lowest of the scale-up window and the
/// highest of the scale-down window (`stabilizeRecommendationWithBehaviors`), then the policies'
/// rate and min/max (`convertDesiredReplicasWithBehaviorRate`).
#[allow(clippy::too_many_arguments)] // kube's own argument list
pub fn normalize_with_behavior(history: &mut History, conditions: &mut Conditions, now: Instant, behavior: &Behavior, current: i32, proposed: i32, min: i32, max: i32) -> i32 {
    let up_window = behavior.scale_up.stabilization_window_seconds;
    let down_window = behavior.scale_down.stabilization_window_seconds;
    let mut up_recommendation = proposed;
    let mut down_recommendation = proposed;
    let mut old_sample = None;
    for (index, recommendation) in history.recommendations.iter().enumerate() {
        if within(recommendation.at, now, up_window) {
            up_recommendation = up_recommendation.min(recommendation.replicas);
        }
        if within(recommendation.at, now, down_window) {
            down_recommendation = down_recommendation.max(recommendation.replicas);
        }
        if older(recommendation.at, now, up_window) && older(recommendation.at, now, down_window) {
            old_sample = Some(index);
        }
    }
    let stabilized = current.max(up_recommendation).min(down_recommendation);
    let fresh = Recommendation { replicas: proposed, at: now };
    match old_sample {
        Some(index) => history.recommendations[index] = fresh,
        None => history.recommendations.push(fresh),
    }
    if stabilized != proposed {
        if proposed >= current {
            conditions.set("AbleToScale", "True", "ScaleUpStabilized", "recent recommendations were lower than current one, applying the lowest recent recommendation");
        } else {
            conditions.set("AbleToScale", "True", "ScaleDownStabilized", "recent recommendations were higher than current one, applying the highest recent recommendation");
        }
    } else {
        conditions.set("AbleToScale", "True", "ReadyForNewScale", "recommended size matches current size");
    }
    let (desired, reason, message) = with_behavior_rate(history, now, behavior, current, stabilized, min, max);
    conditions.set("ScalingLimited", if desired == stabilized { "False" } else { "True" }, reason, message);
    desired
}

fn with_behavior_rate(history: &History, now: Instant, behavior: &Behavior, current: i32, desired: i32, min: i32, max: i32) -> (i32, &'static str, &'static str) {
    if desired > current {
        let limit = scale_up_limit(current, &history.scale_up_events, &history.scale_down_events, &behavior.scale_up, now).max(current);
        let (maximum, reason, message) = if max > limit {
            (limit, "ScaleUpLimit", "the desired replica count is increasing faster than the maximum scale rate")
        } else {
            (max, "TooManyReplicas", "the desired replica count is more than the maximum replica count")
        };
        if desired > maximum {
            return (maximum, reason, message);
        }
    } else if desired < current {
        let limit = scale_down_limit(current, &history.scale_up_events, &history.scale_down_events, &behavior.scale_down, now).min(current);
        let (minimum, reason, message) = if min < limit {
            (limit, "ScaleDownLimit", "the desired replica count is decreasing faster than the maximum scale rate")
        } else {
            (min, "TooFewReplicas", "the desired replica count is less than the minimum replica count")
        };
        if desired < minimum {
            return (minimum, reason, message);
        }
    }
    (desired, "DesiredWithinRange", "the desired count is within the acceptable range")
}

/// The replicas changed by `events` within the last `period_seconds`.
fn changed_in_period(period_seconds: i32, events: &[ScaleEvent], now: Instant) -> i32 {
    events.iter().filter(|event| within(event.at, now, period_seconds)).map(|event| event.change).sum()
}

/// kube's `calculateScaleUpLimitWithScalingRules`: each policy's limit from the size at the start
/// of its period, the largest (Max) or smallest (Min) of them; Disabled holds the size.
fn scale_up_limit(current: i32, up: &[ScaleEvent], down: &[ScaleEvent], rules: &Rules, now: Instant) -> i32 {
    let mut result = match rules.select_policy {
        SelectPolicy::Disabled => return current,
        SelectPolicy::Min => i32::MAX,
        SelectPolicy::Max => i32::MIN,
    };
    for policy in &rules.policies {
        let period_start = current - changed_in_period(policy.period_seconds, up, now) + changed_in_period(policy.period_seconds, down, now);
        let proposed = match policy.type_ {
            PolicyType::Pods => period_start.saturating_add(policy.value),
            // Rounded up, so that a small percentage of a small size still adds a pod.
            PolicyType::Percent => (f64::from(period_start) * (1.0 + f64::from(policy.value) / 100.0)).ceil() as i32,
        };
        result = if rules.select_policy == SelectPolicy::Min { result.min(proposed) } else { result.max(proposed) };
    }
    result
}

/// kube's `calculateScaleDownLimitWithBehaviors`.
fn scale_down_limit(current: i32, up: &[ScaleEvent], down: &[ScaleEvent], rules: &Rules, now: Instant) -> i32 {
    let mut result = match rules.select_policy {
        SelectPolicy::Disabled => return current,
        SelectPolicy::Min => i32::MIN,
        SelectPolicy::Max => i32::MAX,
    };
    for policy in &rules.policies {
        let period_start = current - changed_in_period(policy.period_seconds, up, now) + changed_in_period(policy.period_seconds, down, now);
        let proposed = match policy.type_ {
            PolicyType::Pods => period_start.saturating_sub(policy.value),
            PolicyType::Percent => (f64::from(period_start) * (1.0 - f64::from(policy.value) / 100.0)) as i32,
        };
        // For a scale-down the smallest change (Min) is the highest limit.
        result = if rules.select_policy == SelectPolicy::Min { result.max(proposed) } else { result.min(proposed) };
    }
    result
}

/// kube's `storeScaleEvent`: remembered only with `behavior` (nothing reads them without), an
/// event older than the direction's longest policy period is replaced rather than appended.
pub fn store_scale_event(history: &mut History, behavior: Option<&Behavior>, now: Instant, previous: i32, new: i32) {
    let Some(behavior) = behavior else { return };
    let (events, rules, change) = if new > previous {
        (&mut history.scale_up_events, &behavior.scale_up, new - previous)
    } else {
        (&mut history.scale_down_events, &behavior.scale_down, previous - new)
    };
    let longest = rules.longest_period();
    let mut outdated = None;
    for (index, event) in events.iter_mut().enumerate() {
        if older(event.at, now, longest) {
            event.outdated = true;
        }
        if event.outdated {
            outdated = Some(index);
        }
    }
    let fresh = ScaleEvent { change, at: now, outdated: false };
    match outdated {
        Some(index) => events[index] = fresh,
        None => events.push(fresh),
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::autoscaling::v2::HPAScalingPolicy;

    use super::*;

    fn rules(window: i32, select: SelectPolicy, policies: &[(PolicyType, i32, i32)]) -> Rules {
        Rules {
            stabilization_window_seconds: window,
            select_policy: select,
            policies: policies.iter().map(|&(type_, value, period_seconds)| Policy { type_, value, period_seconds }).collect(),
        }
    }

    fn defaults(down_window: i32) -> Behavior {
        Behavior::resolve(&HorizontalPodAutoscalerBehavior::default(), Duration::from_secs(u64::try_from(down_window).unwrap()))
    }

    fn limited(conditions: &Conditions) -> (String, String) {
        let condition = conditions.get("ScalingLimited").unwrap();
        (condition.status.clone(), condition.reason.clone().unwrap())
    }

    fn able(conditions: &Conditions) -> String {
        conditions.get("AbleToScale").unwrap().reason.clone().unwrap()
    }

    #[test]
    fn defaults_are_kubes() {
        let behavior = defaults(300);
        assert_eq!(behavior.scale_up, rules(0, SelectPolicy::Max, &[(PolicyType::Pods, 4, 15), (PolicyType::Percent, 100, 15)]));
        assert_eq!(behavior.scale_down, rules(300, SelectPolicy::Max, &[(PolicyType::Percent, 100, 15)]));
        let given = HorizontalPodAutoscalerBehavior {
            scale_down: Some(HPAScalingRules {
                stabilization_window_seconds: Some(5),
                select_policy: Some("Min".into()),
                policies: Some(vec![HPAScalingPolicy { type_: "Pods".into(), value: 1, period_seconds: 60 }]),
                tolerance: None,
            }),
            scale_up: Some(HPAScalingRules { select_policy: Some("Disabled".into()), ..HPAScalingRules::default() }),
        };
        let behavior = Behavior::resolve(&given, Duration::from_secs(300));
        assert_eq!(behavior.scale_down, rules(5, SelectPolicy::Min, &[(PolicyType::Pods, 1, 60)]));
        assert_eq!(behavior.scale_up, rules(0, SelectPolicy::Disabled, &[(PolicyType::Pods, 4, 15), (PolicyType::Percent, 100, 15)]));
    }

    #[test]
    fn without_behavior_scale_up_is_limited_to_double_and_min_max_hold() {
        let now = Instant::now();
        let mut conditions = Conditions::default();
        let mut history = History::default();
        assert_eq!(normalize(&mut history, &mut conditions, now, Duration::from_secs(300), 2, 10, 1, 20), 4);
        assert_eq!(limited(&conditions), ("True".into(), "ScaleUpLimit".into()));
        let mut history = History::default();
        assert_eq!(normalize(&mut history, &mut conditions, now, Duration::from_secs(300), 5, 30, 1, 8), 8);
        assert_eq!(limited(&conditions), ("True".into(), "TooManyReplicas".into()));
        let mut history = History::default();
        assert_eq!(normalize(&mut history, &mut conditions, now, Duration::from_secs(300), 3, 0, 2, 8), 2);
        assert_eq!(limited(&conditions), ("True".into(), "TooFewReplicas".into()));
        let mut history = History::default();
        assert_eq!(normalize(&mut history, &mut conditions, now, Duration::from_secs(300), 3, 5, 1, 8), 5);
        assert_eq!(limited(&conditions), ("False".into(), "DesiredWithinRange".into()));
        assert_eq!(able(&conditions), "ReadyForNewScale");
    }

    #[test]
    fn without_behavior_scale_down_waits_for_the_window() {
        let start = Instant::now();
        let window = Duration::from_secs(300);
        let mut conditions = Conditions::default();
        let mut history = History::default();
        history.record_initial(5, start);
        // 100 s later the metrics say 2: the 5 of the window holds.
        assert_eq!(normalize(&mut history, &mut conditions, start + Duration::from_secs(100), window, 5, 2, 1, 10), 5);
        assert_eq!(able(&conditions), "ScaleDownStabilized");
        // Past the window from the 5, only the 2s are left.
        assert_eq!(normalize(&mut history, &mut conditions, start + Duration::from_secs(301), window, 5, 2, 1, 10), 2);
        assert_eq!(able(&conditions), "ReadyForNewScale");
    }

    #[test]
    fn behavior_stabilizes_both_ways() {
        let start = Instant::now();
        let mut behavior = defaults(60);
        behavior.scale_up.stabilization_window_seconds = 30;
        let mut conditions = Conditions::default();
        let mut history = History::default();
        history.record_initial(3, start);
        // Up: the lowest recommendation of the last 30 s (3) holds the size.
        assert_eq!(normalize_with_behavior(&mut history, &mut conditions, start + Duration::from_secs(10), &behavior, 3, 6, 1, 10), 3);
        assert_eq!(able(&conditions), "ScaleUpStabilized");
        // 31 s after the 3, the 6 of 10 s is the lowest.
        assert_eq!(normalize_with_behavior(&mut history, &mut conditions, start + Duration::from_secs(31), &behavior, 3, 8, 1, 10), 6);
        // Down: the highest of the last 60 s (8) holds.
        assert_eq!(normalize_with_behavior(&mut history, &mut conditions, start + Duration::from_secs(40), &behavior, 6, 1, 1, 10), 6);
        assert_eq!(able(&conditions), "ScaleDownStabilized");
        // Past 60 s of every higher one, down it goes.
        assert_eq!(normalize_with_behavior(&mut history, &mut conditions, start + Duration::from_secs(100), &behavior, 6, 1, 1, 10), 1);
        assert_eq!(limited(&conditions), ("False".into(), "DesiredWithinRange".into()));
    }

    #[test]
    fn policies_limit_the_rate_per_period() {
        let start = Instant::now();
        let mut behavior = defaults(0);
        behavior.scale_up = rules(0, SelectPolicy::Max, &[(PolicyType::Pods, 2, 60)]);
        let mut conditions = Conditions::default();
        let mut history = History::default();
        assert_eq!(normalize_with_behavior(&mut history, &mut conditions, start, &behavior, 1, 10, 1, 20), 3);
        assert_eq!(limited(&conditions), ("True".into(), "ScaleUpLimit".into()));
        store_scale_event(&mut history, Some(&behavior), start, 1, 3);
        // Within the same minute the 2 pods are used up.
        assert_eq!(normalize_with_behavior(&mut history, &mut conditions, start + Duration::from_secs(30), &behavior, 3, 10, 1, 20), 3);
        // A minute on, 2 more.
        assert_eq!(normalize_with_behavior(&mut history, &mut conditions, start + Duration::from_secs(61), &behavior, 3, 10, 1, 20), 5);
        // Percent, Max of the two: 100 % of 4 = 8 beats 4 + 1.
        behavior.scale_up = rules(0, SelectPolicy::Max, &[(PolicyType::Pods, 1, 15), (PolicyType::Percent, 100, 15)]);
        let mut history = History::default();
        assert_eq!(normalize_with_behavior(&mut history, &mut conditions, start, &behavior, 4, 20, 1, 30), 8);
        behavior.scale_up.select_policy = SelectPolicy::Min;
        let mut history = History::default();
        assert_eq!(normalize_with_behavior(&mut history, &mut conditions, start, &behavior, 4, 20, 1, 30), 5);
        behavior.scale_up.select_policy = SelectPolicy::Disabled;
        let mut history = History::default();
        assert_eq!(normalize_with_behavior(&mut history, &mut conditions, start, &behavior, 4, 20, 1, 30), 4);
        // Down: 50 % per period of 10, the Max policy takes the most (the lowest limit).
        behavior.scale_down = rules(0, SelectPolicy::Max, &[(PolicyType::Percent, 50, 60), (PolicyType::Pods, 1, 60)]);
        let mut history = History::default();
        assert_eq!(normalize_with_behavior(&mut history, &mut conditions, start, &behavior, 10, 1, 1, 30), 5);
        assert_eq!(limited(&conditions), ("True".into(), "ScaleDownLimit".into()));
        store_scale_event(&mut history, Some(&behavior), start, 10, 5);
        assert_eq!(normalize_with_behavior(&mut history, &mut conditions, start + Duration::from_secs(10), &behavior, 5, 1, 1, 30), 5);
        // And the minimum wins over a looser rate.
        let mut history = History::default();
        assert_eq!(normalize_with_behavior(&mut history, &mut conditions, start, &behavior, 10, 1, 7, 30), 7);
        assert_eq!(limited(&conditions), ("True".into(), "TooFewReplicas".into()));
    }

    #[test]
    fn outdated_events_are_reused() {
        let start = Instant::now();
        let behavior = defaults(0);
        let mut history = History::default();
        store_scale_event(&mut history, Some(&behavior), start, 1, 2);
        store_scale_event(&mut history, Some(&behavior), start + Duration::from_secs(20), 2, 3);
        assert_eq!(history.scale_up_events.len(), 1, "the event older than the 15 s period is replaced");
        store_scale_event(&mut history, None, start, 3, 1);
        assert!(history.scale_down_events.is_empty(), "no behavior, nothing kept");
    }
}
