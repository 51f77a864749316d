//! The built-in kinds, one declaration per file (`kinds/<group>/<kind>.rs`): names, scope,
//! subresources, strategy (admission, and the hooks a few kinds have: a Service's addresses, a
//! Pod's service account and graceful deletion, a Namespace's lifecycle) and printer. Adding a
//! kind is adding its file and its line in [`BUILTIN`].

use crate::registry::Kind;

mod core;
mod apps;
mod batch;
mod certificates;
mod rbac;
mod coordination;
pub(crate) mod storage;
mod apiextensions;
mod autoscaling;
mod policy;
mod networking;
mod discovery;
pub(crate) mod scheduling;

/// The kinds `all` names in `kubectl get all`.
pub(crate) const ALL: &[&str] = &["all"];

/// Every built-in kind, in discovery order (core first; within a group by resource name, as
/// kube-apiserver lists them).
pub static BUILTIN: &[&Kind] = &[
    &core::namespace::KIND,
    &core::pod::KIND,
    &core::service::KIND,
    &core::endpoints::KIND,
    &core::service_account::KIND,
    &core::config_map::KIND,
    &core::secret::KIND,
    &core::node::KIND,
    &core::event::KIND,
    &core::replication_controller::KIND,
    &core::persistent_volume_claim::KIND,
    &core::persistent_volume::KIND,
    &core::resource_quota::KIND,
    &core::limit_range::KIND,
    &apps::controller_revision::KIND,
    &apps::daemon_set::KIND,
    &apps::deployment::KIND,
    &apps::replica_set::KIND,
    &apps::stateful_set::KIND,
    &autoscaling::horizontal_pod_autoscaler::KIND,
    &autoscaling::horizontal_pod_autoscaler_v1::KIND,
    &batch::cron_job::KIND,
    &batch::job::KIND,
    &certificates::certificate_signing_request::KIND,
    &networking::ingress_class::KIND,
    &networking::ingress::KIND,
    &networking::network_policy::KIND,
    &policy::pod_disruption_budget::KIND,
    &rbac::role::KIND,
    &rbac::cluster_role::KIND,
    &rbac::role_binding::KIND,
    &rbac::cluster_role_binding::KIND,
    &storage::csi_driver::KIND,
    &storage::csi_node::KIND,
    &storage::storage_class::KIND,
    &storage::volume_attachment::KIND,
    &coordination::lease::KIND,
    &discovery::endpoint_slice::KIND,
    &scheduling::priority_class::KIND,
    &apiextensions::custom_resource_definition::KIND,
];

/// The built-in kind of `group`/`version` named `plural`, for tests.
#[cfg(test)]
pub fn find(group: &str, version: &str, plural: &str) -> Option<&'static Kind> {
    BUILTIN.iter().copied().find(|kind| kind.group == group && kind.version == version && kind.plural == plural)
}
