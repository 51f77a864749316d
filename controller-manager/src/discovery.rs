//! Which resource types the apiserver serves: every group at its preferred version, read from
//! discovery as kube-controller-manager's `ServerPreferredResources` reads it: the aggregated
//! documents (`apidiscovery.k8s.io/v2`, two requests) when served, as client-go prefers them,
//! else the legacy ones (a request per group). The namespace controller empties a namespace of
//! every namespaced deletable type found here, and the garbage collector collects every type that
//! can be deleted, listed and watched.

use std::collections::HashSet;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::APIResourceList;
use kube::api::ApiResource;
use kube::client::APIGroupDiscoveryList;

/// A top-level resource type (not a subresource) the apiserver serves.
#[derive(Clone, Debug)]
pub struct Served {
    pub resource: ApiResource,
    pub namespaced: bool,
    pub verbs: Vec<String>,
}

impl Served {
    pub fn allows(&self, verb: &str) -> bool {
        self.verbs.iter().any(|served| served == verb)
    }

    /// As Kubernetes' `GroupResource.String()` prints it: `pods.` for the core group.
    pub fn group_resource(&self) -> String {
        format!("{}.{}", self.resource.plural, self.resource.group)
    }
}

/// What discovery found, and where it failed.
#[derive(Debug, Default)]
pub struct Discovered {
    pub served: Vec<Served>,
    /// What failed, one message each (`discovery of apps/v1: ...`).
    pub failures: Vec<String>,
    /// The groups whose resources are unknown because of a failure (`""` for the core group).
    pub failed_groups: HashSet<String>,
    /// The list of named groups itself failed: no named group is known.
    pub groups_unknown: bool,
}

impl Discovered {
    /// Whether this discovery says what `group` serves (its failure says nothing about it).
    pub fn knows(&self, group: &str) -> bool {
        !self.failed_groups.contains(group) && (group.is_empty() || !self.groups_unknown)
    }
}

/// Every group's top-level resource types at its preferred version, and the groups discovery
/// failed for.
pub async fn discover(client: &kube::Client) -> Discovered {
    match aggregated(client).await {
        Ok(Some(discovered)) => discovered,
        Ok(None) => legacy(client).await,
        Err(err) => {
            tracing::debug!(error = %err, "aggregated discovery failed; reading the legacy documents");
            legacy(client).await
        }
    }
}

/// The aggregated documents of `/api` and `/apis`; `None` from a server without them, which
/// answers the legacy documents (the Accept header allows them), read here as no group at all.
async fn aggregated(client: &kube::Client) -> Result<Option<Discovered>, kube::Error> {
    let core = client.list_core_api_versions_aggregated().await?;
    if core.items.is_empty() {
        return Ok(None);
    }
    let groups = client.list_api_groups_aggregated().await?;
    let discovered = from_aggregated(&[core, groups]);
    tracing::debug!(resources = discovered.served.len(), "read aggregated discovery");
    Ok(Some(discovered))
}

/// Each group's first version (the preferred, as the server orders them); a group whose
/// preferred version is `Stale` (its aggregated source did not answer) is a failure.
fn from_aggregated(lists: &[APIGroupDiscoveryList]) -> Discovered {
    let mut discovered = Discovered::default();
    for group in lists.iter().flat_map(|list| &list.items) {
        let name = group.metadata.as_ref().and_then(|metadata| metadata.name.clone()).unwrap_or_default();
        let Some(preferred) = group.versions.first() else { continue };
        let version = preferred.version.clone().unwrap_or_default();
        let api_version = if name.is_empty() { version.clone() } else { format!("{name}/{version}") };
        if preferred.freshness.as_deref() == Some("Stale") {
            discovered.fail(&name, format!("discovery of {api_version}: stale"));
            continue;
        }
        for resource in &preferred.resources {
            discovered.served.push(Served {
                resource: ApiResource {
                    group: name.clone(),
                    version: version.clone(),
                    api_version: api_version.clone(),
                    kind: resource.response_kind.as_ref().and_then(|kind| kind.kind.clone()).unwrap_or_default(),
                    plural: resource.resource.clone().unwrap_or_default(),
                },
                namespaced: resource.scope.as_deref() == Some("Namespaced"),
                verbs: resource.verbs.clone(),
            });
        }
    }
    discovered
}

/// The legacy documents: `/api`, `/apis`, and each group's preferred version's resource list.
async fn legacy(client: &kube::Client) -> Discovered {
    let mut lists: Vec<APIResourceList> = Vec::new();
    let mut discovered = Discovered::default();
    match client.list_core_api_versions().await {
        Ok(core) => {
            for version in core.versions {
                match client.list_core_api_resources(&version).await {
                    Ok(list) => lists.push(list),
                    Err(err) => discovered.fail("", format!("discovery of {version}: {err}")),
                }
            }
        }
        Err(err) => discovered.fail("", format!("discovery of /api: {err}")),
    }
    match client.list_api_groups().await {
        Ok(groups) => {
            for group in groups.groups {
                let preferred = group.preferred_version.as_ref().or_else(|| group.versions.first());
                let Some(version) = preferred else { continue };
                match client.list_api_group_resources(&version.group_version).await {
                    Ok(list) => lists.push(list),
                    Err(err) => discovered.fail(&group.name, format!("discovery of {}: {err}", version.group_version)),
                }
            }
        }
        Err(err) => {
            discovered.groups_unknown = true;
            discovered.failures.push(format!("discovery of /apis: {err}"));
        }
    }
    discovered.served = lists.iter().flat_map(top_level).collect();
    discovered
}

impl Discovered {
    fn fail(&mut self, group: &str, message: String) {
        self.failed_groups.insert(group.to_string());
        self.failures.push(message);
    }
}

/// The list's resource types, subresources (`pods/status`) left out.
fn top_level(list: &APIResourceList) -> Vec<Served> {
    let (group, version) = match list.group_version.split_once('/') {
        Some((group, version)) => (group, version),
        None => ("", list.group_version.as_str()),
    };
    list.resources
        .iter()
        .filter(|resource| !resource.name.contains('/'))
        .map(|resource| Served {
            resource: ApiResource {
                group: group.to_string(),
                version: version.to_string(),
                api_version: list.group_version.clone(),
                kind: resource.kind.clone(),
                plural: resource.name.clone(),
            },
            namespaced: resource.namespaced,
            verbs: resource.verbs.clone(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::APIResource;

    use super::*;

    #[test]
    fn resource_lists_give_their_top_level_types_with_group_and_version() {
        let resource = |name: &str, namespaced: bool, verbs: &[&str]| APIResource {
            name: name.into(),
            namespaced,
            kind: "Kind".into(),
            verbs: verbs.iter().map(|verb| verb.to_string()).collect(),
            ..APIResource::default()
        };
        let list = APIResourceList {
            group_version: "apps/v1".into(),
            resources: vec![resource("deployments", true, &["delete", "deletecollection", "list"]), resource("deployments/status", true, &["get", "patch"]), resource("nodes", false, &["delete"])],
        };
        let found = top_level(&list);
        let names: Vec<String> = found.iter().map(Served::group_resource).collect();
        assert_eq!(names, ["deployments.apps", "nodes.apps"]);
        assert_eq!((found[0].resource.api_version.as_str(), found[0].resource.version.as_str(), found[0].namespaced), ("apps/v1", "v1", true));
        assert!(found[0].allows("deletecollection") && !found[1].allows("list"));
        let core = APIResourceList { group_version: "v1".into(), resources: vec![resource("pods", true, &["delete"])] };
        assert_eq!(top_level(&core)[0].group_resource(), "pods.");
    }

    #[test]
    fn aggregated_documents_give_each_groups_preferred_version() {
        let list: APIGroupDiscoveryList = serde_json::from_value(serde_json::json!({"items": [
            {"metadata": {"name": "apps"}, "versions": [
                {"version": "v1", "freshness": "Current", "resources": [
                    {"resource": "deployments", "responseKind": {"group": "apps", "version": "v1", "kind": "Deployment"}, "scope": "Namespaced", "verbs": ["delete", "list"],
                     "subresources": [{"subresource": "scale", "verbs": ["get"]}]}]},
                {"version": "v1beta1", "resources": [{"resource": "olddeployments", "scope": "Namespaced", "verbs": ["delete"]}]}]},
            {"metadata": {"name": "stale.example.com"}, "versions": [{"version": "v1", "freshness": "Stale"}]},
            {"metadata": {}, "versions": [{"version": "v1", "resources": [{"resource": "nodes", "responseKind": {"kind": "Node"}, "scope": "Cluster", "verbs": ["get"]}]}]},
        ]}))
        .unwrap_or_default();
        let discovered = from_aggregated(&[list]);
        let found: Vec<(String, &str, &str, bool)> =
            discovered.served.iter().map(|served| (served.group_resource(), served.resource.api_version.as_str(), served.resource.kind.as_str(), served.namespaced)).collect();
        assert_eq!(found, [("deployments.apps".to_string(), "apps/v1", "Deployment", true), ("nodes.".to_string(), "v1", "Node", false)]);
        assert!(!discovered.knows("stale.example.com") && discovered.knows("apps"));
    }

    #[test]
    fn a_failed_group_is_not_known() {
        let mut discovered = Discovered::default();
        discovered.fail("apps", "boom".into());
        assert!(!discovered.knows("apps") && discovered.knows("batch") && discovered.knows(""));
        discovered.groups_unknown = true;
        assert!(!discovered.knows("batch") && discovered.knows(""));
    }
}
