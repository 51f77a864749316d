//! A custom resource on a kind-style cluster, as its users drive it (issue 21): kubectl creates
//! a CustomResourceDefinition with a schema, printer columns, short names and status and scale
//! subresources, then creates, gets, watches, patches, explains and deletes custom objects, has
//! an invalid one refused with Kubernetes' message, and deletes the definition with its
//! objects; then the same through the Python client's `CustomObjectsApi`. The scenario is the
//! apiserver tests' (`apiserver/tests/support/widgets.rs`), here on a whole cluster: its
//! apiserver behind TLS and RBAC, and its controllers running beside.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;
#[path = "../../apiserver/tests/support/widgets.rs"]
mod widgets;

use support::Cluster;
use widgets::Kubectl;

#[test]
fn kubectl_and_the_python_client_use_a_custom_resource_on_a_cluster() {
    let cluster = Cluster::create(1, None);
    let kubectl = Kubectl::new(cluster.kubeconfig(), None);
    widgets::use_widgets(&kubectl);
    widgets::delete_widgets(&kubectl);
    if let Err(failure) = widgets::use_widgets_from_python(&cluster.kubeconfig()) {
        panic!("{failure}");
    }
}
