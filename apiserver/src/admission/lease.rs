//! Leases (`coordination.k8s.io/v1`): `ValidateLease` (positive duration, non-negative
//! transitions, a preferred holder only with a strategy).

use k8s_openapi::api::coordination::v1::Lease;

use super::field::{Causes, Path};
use super::{Context, TypedKind};

impl TypedKind for Lease {
    fn validate(&self, _context: &Context, causes: &mut Causes) {
        let Some(spec) = self.spec.as_ref() else { return };
        let path = Path::new("spec");
        if let Some(duration) = spec.lease_duration_seconds.filter(|duration| *duration <= 0) {
            causes.invalid(&path.child("leaseDurationSeconds"), duration, "must be greater than 0");
        }
        if let Some(transitions) = spec.lease_transitions.filter(|transitions| *transitions < 0) {
            causes.invalid(&path.child("leaseTransitions"), transitions, "must be greater than or equal to 0");
        }
        if let Some(strategy) = spec.strategy.as_deref()
            && strategy != "OldestEmulationVersion"
        {
            causes.not_supported(&path.child("strategy"), strategy, &["OldestEmulationVersion"]);
        }
        let preferred = spec.preferred_holder.as_deref().unwrap_or_default();
        if !preferred.is_empty() && spec.strategy.as_deref().unwrap_or_default().is_empty() {
            causes.forbidden(&path.child("preferredHolder"), "may only be specified if `strategy` is defined");
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::test_support::*;

    #[test]
    fn lease_validation() {
        let rows: Vec<(&str, serde_json::Value, Outcome)> = vec![
            ("valid", lease("kube-scheduler"), Outcome::Admitted),
            ("renewed", with(lease("kube-scheduler"), "/spec/renewTime", json!("2026-11-24T16:00:00.123456Z")), Outcome::Admitted),
            ("no spec", without(lease("kube-scheduler"), "/spec"), Outcome::Admitted),
            ("duration", with(lease("kube-scheduler"), "/spec/leaseDurationSeconds", json!(0)), invalid(&["spec.leaseDurationSeconds"], "spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0")),
            ("transitions", with(lease("kube-scheduler"), "/spec/leaseTransitions", json!(-1)), invalid(&["spec.leaseTransitions"], "must be greater than or equal to 0")),
            ("preferred holder", with(lease("kube-scheduler"), "/spec/preferredHolder", json!("node-2")), invalid(&["spec.preferredHolder"], "may only be specified if `strategy` is defined")),
            ("name", lease("Kube_Scheduler"), invalid(&["metadata.name"], "a lowercase RFC 1123 subdomain")),
            ("renew time", with(lease("kube-scheduler"), "/spec/renewTime", json!("yesterday")), Outcome::BadRequest("spec.renewTime: ")),
        ];
        run_create("leases", rows);
    }
}
