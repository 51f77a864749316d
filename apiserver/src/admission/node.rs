//! Nodes: `SetDefaults_NodeStatus` (allocatable defaults to capacity), `spec.podCIDR` and
//! `spec.podCIDRs` kept in step as the v1 conversion keeps them, `ValidateNode` and
//! `ValidateNodeUpdate` (a pod CIDR, once set, stays).

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::{Node, NodeSpec, Taint};

use super::field::{Causes, Path, json_of};
use super::names;
use super::quantity::{self, QuantityError};
use super::{Context, TypedKind};
use crate::errors::Cause;

const EFFECTS: &[&str] = &["NoSchedule", "PreferNoSchedule", "NoExecute"];

fn pod_cidrs(spec: &NodeSpec) -> &[String] {
    spec.pod_cidrs.as_deref().unwrap_or_default()
}

impl TypedKind for Node {
    fn check_quantities(&self) -> Result<(), QuantityError> {
        let status = self.status.as_ref();
        let lists = status.into_iter().flat_map(|status| [status.capacity.as_ref(), status.allocatable.as_ref()]).flatten();
        for list in lists {
            for value in list.values() {
                quantity::parse(&value.0)?;
            }
        }
        Ok(())
    }

    fn apply_defaults(&mut self) {
        if let Some(status) = self.status.as_mut()
            && status.allocatable.is_none()
        {
            status.allocatable = status.capacity.clone();
        }
        // Convert_v1_NodeSpec_To_core_NodeSpec and back: podCIDRs wins, podCIDR is its first.
        if let Some(spec) = self.spec.as_mut() {
            let single = spec.pod_cidr.clone().unwrap_or_default();
            if pod_cidrs(spec).is_empty() && !single.is_empty() {
                spec.pod_cidrs = Some(vec![single]);
            }
            if let Some(first) = pod_cidrs(spec).first() {
                spec.pod_cidr = Some(first.clone());
            }
        }
    }

    fn validate(&self, _context: &Context, causes: &mut Causes) {
        let spec = self.spec.clone().unwrap_or_default();
        // Kubernetes reports taints under `metadata` (sic).
        validate_taints(spec.taints.as_deref().unwrap_or_default(), &Path::new("metadata").child("taints"), causes);
        validate_resources(self, causes);
        validate_pod_cidrs(&spec, causes);
    }

    fn validate_update(&self, old: &Self, context: &Context, causes: &mut Causes) {
        self.validate(context, causes);
        let spec = self.spec.clone().unwrap_or_default();
        let old_spec = old.spec.clone().unwrap_or_default();
        validate_spec_update(&spec, &old_spec, causes);
        validate_addresses(self, causes);
    }

    fn validate_status_update(&self, old: &Self, context: &Context, causes: &mut Causes) {
        // The node status strategy validates as a plain update does.
        self.validate_update(old, context, causes);
    }
}

fn validate_spec_update(spec: &NodeSpec, old: &NodeSpec, causes: &mut Causes) {
    let old_cidrs = pod_cidrs(old);
    // The node IPAM controller may assign a CIDR to a node without one; after that it stays.
    if !old_cidrs.is_empty() && pod_cidrs(spec) != old_cidrs {
        causes.forbidden(
            &Path::new("spec").child("podCIDRs"),
            "node updates may not change podCIDR except from \"\" to valid",
        );
    }
    let old_provider = old.provider_id.as_deref().unwrap_or_default();
    if !old_provider.is_empty() && spec.provider_id.as_deref().unwrap_or_default() != old_provider {
        causes.forbidden(
            &Path::new("spec").child("providerID"),
            "node updates may not change providerID except from \"\" to valid",
        );
    }
    if spec.external_id != old.external_id {
        causes.forbidden(&Path::new("spec").child("externalID"), "may not be updated");
    }
}

fn validate_addresses(node: &Node, causes: &mut Causes) {
    let mut seen = BTreeSet::new();
    let addresses = node.status.as_ref().and_then(|status| status.addresses.as_deref()).unwrap_or_default();
    for (index, address) in addresses.iter().enumerate() {
        if !seen.insert((address.type_.as_str(), address.address.as_str())) {
            causes.duplicate(&Path::new("status").child("addresses").index(index), json_of(address));
        }
    }
}

/// `ValidateNodeResources`: capacity and allocatable are not negative.
fn validate_resources(node: &Node, causes: &mut Causes) {
    let Some(status) = node.status.as_ref() else { return };
    for (field, list) in [("capacity", status.capacity.as_ref()), ("allocatable", status.allocatable.as_ref())] {
        for (name, value) in list.into_iter().flatten() {
            if quantity::parse(&value.0).is_ok_and(|value| value.is_negative()) {
                let path = Path::new("status").child(field).child(name);
                causes.invalid(&path, value.0.as_str(), "must be greater than or equal to 0");
            }
        }
    }
}

fn validate_pod_cidrs(spec: &NodeSpec, causes: &mut Causes) {
    let cidrs = pod_cidrs(spec);
    let path = Path::new("spec").child("podCIDRs");
    let mut valid = true;
    for (index, cidr) in cidrs.iter().enumerate() {
        if names::parse_cidr(cidr).is_none() {
            valid = false;
            causes.invalid(&path.index(index), cidr.as_str(), names::CIDR_MESSAGE);
        }
    }
    if cidrs.len() > 1 && valid {
        let families: BTreeSet<bool> = cidrs.iter().filter_map(|cidr| names::parse_cidr(cidr)).map(|(ip, _)| ip.is_ipv4()).collect();
        if cidrs.len() > 2 || families.len() != 2 {
            causes.invalid(&path, json_of(&cidrs), "may specify no more than one CIDR for each IP family");
        }
        let mut seen = BTreeSet::new();
        for (index, cidr) in cidrs.iter().enumerate() {
            if !seen.insert(cidr.as_str()) {
                causes.duplicate(&path.index(index), cidr.as_str());
            }
        }
    }
}

/// `validateNodeTaints`.
fn validate_taints(taints: &[Taint], path: &Path, causes: &mut Causes) {
    let mut seen = BTreeSet::new();
    for (index, taint) in taints.iter().enumerate() {
        let taint_path = path.index(index);
        causes.invalid_each(&taint_path.child("key"), &taint.key, names::qualified_name(&taint.key));
        let value = taint.value.as_deref().unwrap_or_default();
        let messages = names::label_value(value);
        if !messages.is_empty() {
            causes.invalid(&taint_path.child("value"), value, &messages.join(";"));
        }
        match taint.effect.as_str() {
            "" => causes.required(&taint_path.child("effect"), ""),
            effect if EFFECTS.contains(&effect) => {}
            other => causes.not_supported(&taint_path.child("effect"), other, EFFECTS),
        }
        if !seen.insert((taint.effect.as_str(), taint.key.as_str())) {
            causes.push(Cause {
                reason: "FieldValueDuplicate",
                field: taint_path.to_string(),
                message: format!("Duplicate value: {}: taints must be unique by key and effect pair", json_of(taint)),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::test_support::*;
    use super::super::{FieldValidation, admit_status_update};

    #[test]
    fn node_defaults() {
        let object = with(with(node("worker-1"), "/spec/podCIDR", json!("10.244.1.0/24")), "/status", json!({"capacity": {"cpu": "4", "memory": "8Gi"}}));
        let admitted = admitted(resource("nodes"), object);
        assert_eq!(admitted["spec"]["podCIDRs"], json!(["10.244.1.0/24"]));
        assert_eq!(admitted["status"]["allocatable"], json!({"cpu": "4", "memory": "8Gi"}));
        assert_eq!(admitted["metadata"].get("namespace"), None);
    }

    #[test]
    fn node_validation() {
        let rows: Vec<(&str, serde_json::Value, Outcome)> = vec![
            ("valid", node("worker-1.example.com"), Outcome::Admitted),
            ("name", node("Worker_1"), invalid(&["metadata.name"], "a lowercase RFC 1123 subdomain")),
            ("namespaced", with(node("worker-1"), "/metadata/namespace", json!("demo")), invalid(&["metadata.namespace"], "metadata.namespace: Forbidden: not allowed on this type")),
            ("pod CIDR", with(node("worker-1"), "/spec/podCIDR", json!("10.244.1.0")), invalid(&["spec.podCIDRs[0]"], "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)")),
            ("two IPv4 CIDRs", with(node("worker-1"), "/spec/podCIDRs", json!(["10.244.1.0/24", "10.245.1.0/24"])), invalid(&["spec.podCIDRs"], "may specify no more than one CIDR for each IP family")),
            ("dual stack", with(node("worker-1"), "/spec/podCIDRs", json!(["10.244.1.0/24", "fd00:10:244:1::/64"])), Outcome::Admitted),
            ("taint effect", with(node("worker-1"), "/spec/taints", json!([{"key": "dedicated", "effect": "Sometimes"}])), invalid(&["metadata.taints[0].effect"], "supported values: \"NoSchedule\", \"PreferNoSchedule\", \"NoExecute\"")),
            ("duplicate taint", with(node("worker-1"), "/spec/taints", json!([{"key": "a", "effect": "NoSchedule"}, {"key": "a", "value": "x", "effect": "NoSchedule"}])), invalid(&["metadata.taints[1]"], "taints must be unique by key and effect pair")),
            ("negative capacity", with(node("worker-1"), "/status", json!({"capacity": {"cpu": "-1"}})), invalid(&["status.capacity.cpu", "status.allocatable.cpu"], "must be greater than or equal to 0")),
            ("capacity quantity", with(node("worker-1"), "/status", json!({"capacity": {"cpu": "four"}})), Outcome::BadRequest("quantities must match the regular expression")),
        ];
        run_create("nodes", rows);
    }

    #[test]
    fn pod_cidr_stays_once_set() {
        let unassigned = admitted(resource("nodes"), node("worker-1"));
        run_update("nodes", &unassigned, vec![
            ("assigned", with(unassigned.clone(), "/spec/podCIDR", json!("10.244.1.0/24")), Outcome::Admitted),
            ("assigned badly", with(unassigned.clone(), "/spec/podCIDR", json!("10.244.1.0/40")), invalid(&["spec.podCIDRs[0]"], "must be a valid CIDR value")),
        ]);
        let assigned = admitted(resource("nodes"), with(node("worker-1"), "/spec/podCIDR", json!("10.244.1.0/24")));
        run_update("nodes", &assigned, vec![
            ("unschedulable", with(assigned.clone(), "/spec/unschedulable", json!(true)), Outcome::Admitted),
            ("changed", with(with(assigned.clone(), "/spec/podCIDR", json!("10.244.2.0/24")), "/spec/podCIDRs", json!(["10.244.2.0/24"])), invalid(&["spec.podCIDRs"], "spec.podCIDRs: Forbidden: node updates may not change podCIDR except from \"\" to valid")),
            ("removed", without(without(assigned.clone(), "/spec/podCIDR"), "/spec/podCIDRs"), invalid(&["spec.podCIDRs"], "node updates may not change podCIDR")),
        ]);
        let object = with(assigned.clone(), "/status", json!({"addresses": [{"type": "InternalIP", "address": "172.18.0.2"}, {"type": "InternalIP", "address": "172.18.0.2"}]}));
        check("duplicate address", admit_status_update(resource("nodes"), object, &assigned, FieldValidation::Strict),
            &invalid(&["status.addresses[1]"], "Duplicate value"));
    }
}
