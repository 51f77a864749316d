//! What a request asks to do (kube's authorizer.Attributes), computed once from the request's one
//! parse and read by authorization, admission and audit alike.

use crate::errors::ApiError;
use super::{RequestInfo, User};

/// What a request asks to do, as Kubernetes' RequestInfo describes it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Attributes {
    pub verb: String,
    /// Resource requests: the group, resource, subresource, namespace and name.
    pub resource: Option<String>,
    pub group: String,
    pub version: String,
    pub subresource: String,
    pub namespace: String,
    pub name: String,
    /// Non-resource requests: the path.
    pub path: String,
}

impl Attributes {
    /// What the request's one parse says it asks.
    pub fn of_request(info: &RequestInfo) -> Self {
        if !info.is_resource_request {
            return Self { verb: info.verb.clone(), path: info.path.clone(), ..Self::default() };
        }
        Self {
            verb: info.verb.clone(),
            resource: Some(info.resource.clone()),
            group: info.api_group.clone(),
            version: info.api_version.clone(),
            subresource: info.subresource.clone(),
            namespace: info.namespace.clone(),
            name: info.name.clone(),
            path: info.path.clone(),
        }
    }

    /// The attributes of a method and path (with `watch` as a query parameter), for tests.
    #[cfg(test)]
    pub fn of(method: &str, path: &str, watch: bool) -> Self {
        let params = crate::request::Params::parse(watch.then_some("watch=1"));
        let info = RequestInfo::new(&method.parse().unwrap_or(axum::http::Method::GET), path, &params).unwrap_or_default();
        Self::of_request(&info)
    }

    pub fn resource_path(&self) -> Option<String> {
        let resource = self.resource.as_ref()?;
        Some(if self.subresource.is_empty() { resource.clone() } else { format!("{resource}/{}", self.subresource) })
    }

    /// kube-apiserver's 403 message, with the modes' reasons (the Node authorizer's) after it.
    pub fn forbidden(&self, user: &User, reason: &str) -> ApiError {
        let reason = if reason.is_empty() { String::new() } else { format!(": {reason}") };
        let Some(resource) = self.resource_path() else {
            return ApiError::forbidden(format!("forbidden: User {:?} cannot {} path {:?}{reason}", user.name, self.verb, self.path));
        };
        let plural = self.resource.clone().unwrap_or_default();
        let qualified = if self.group.is_empty() { plural } else { format!("{plural}.{}", self.group) };
        let subject = if self.name.is_empty() { qualified } else { format!("{qualified} {:?}", self.name) };
        let scope = if self.namespace.is_empty() { "at the cluster scope".to_string() } else { format!("in the namespace {:?}", self.namespace) };
        ApiError::forbidden(format!("{subject} is forbidden: User {:?} cannot {} resource {resource:?} in API group {:?} {scope}{reason}", user.name, self.verb, self.group))
    }
}
