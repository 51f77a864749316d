//! The HPA's status conditions as kube's `setCondition` keeps them: a condition is added the first
//! time it is set, keeps its place in the list, and its lastTransitionTime moves only when its
//! status changes.

use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscalerCondition;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

#[derive(Clone, Debug, Default)]
pub struct Conditions {
    pub list: Vec<HorizontalPodAutoscalerCondition>,
    /// The time a changed condition gets; none means now.
    pub now: Option<Time>,
}

impl Conditions {
    pub fn new(list: Vec<HorizontalPodAutoscalerCondition>) -> Self {
        Self { list, now: Some(Time(jiff::Timestamp::now())) }
    }

    pub fn set(&mut self, type_: &str, status: &str, reason: &str, message: &str) {
        let now = self.now.clone().unwrap_or_else(|| Time(jiff::Timestamp::now()));
        let index = match self.list.iter().position(|condition| condition.type_ == type_) {
            Some(index) => index,
            None => {
                self.list.push(HorizontalPodAutoscalerCondition { type_: type_.to_string(), ..HorizontalPodAutoscalerCondition::default() });
                self.list.len() - 1
            }
        };
        let condition = &mut self.list[index];
        if condition.status != status {
            condition.last_transition_time = Some(now);
        }
        condition.status = status.to_string();
        condition.reason = Some(reason.to_string());
        condition.message = Some(message.to_string());
    }

    #[cfg(test)]
    pub fn get(&self, type_: &str) -> Option<&HorizontalPodAutoscalerCondition> {
        self.list.iter().find(|condition| condition.type_ == type_)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_condition_moves_its_time_only_when_its_status_changes() {
        let at = |second: i64| Time(jiff::Timestamp::from_second(second).unwrap());
        let mut conditions = Conditions { list: Vec::new(), now: Some(at(10)) };
        conditions.set("AbleToScale", "True", "SucceededGetScale", "the HPA controller was able to get the target's current scale");
        conditions.set("ScalingActive", "False", "FailedGetPodsMetric", "x");
        conditions.now = Some(at(20));
        conditions.set("AbleToScale", "True", "ReadyForNewScale", "recommended size matches current size");
        conditions.set("ScalingActive", "True", "ValidMetricFound", "y");
        let types: Vec<&str> = conditions.list.iter().map(|condition| condition.type_.as_str()).collect();
        assert_eq!(types, ["AbleToScale", "ScalingActive"]);
        assert_eq!(conditions.list[0].last_transition_time, Some(at(10)));
        assert_eq!(conditions.list[0].reason.as_deref(), Some("ReadyForNewScale"));
        assert_eq!(conditions.list[1].last_transition_time, Some(at(20)));
    }
}
