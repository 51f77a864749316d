//! Authorization by RBAC (`--authorization-mode=RBAC`): a request is allowed when a
//! ClusterRoleBinding, or a RoleBinding in its namespace, binds its user (or one of its groups)
//! to a role with a rule that covers it. ClusterRoles with an aggregation rule hold the rules of
//! the ClusterRoles their selectors pick. The default roles (`cluster-admin`, `admin`, `edit`,
//! `view`, and those discovery needs) are created at start. Self and subject access reviews
//! answer `kubectl auth can-i`.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::auth::User;
use crate::errors::ApiError;
use crate::resources;
use crate::rest::{self, Api};

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
    /// The attributes of a request path and method (with `watch` from the query).
    pub fn of(method: &str, path: &str, watch_param: bool) -> Self {
        let parts: Vec<&str> = path.trim_matches('/').split('/').filter(|part| !part.is_empty()).collect();
        let (group, version, rest) = match parts.as_slice() {
            ["api", version, rest @ ..] => ("", *version, rest),
            ["apis", group, version, rest @ ..] => (*group, *version, rest),
            _ => return Self { verb: method.to_ascii_lowercase(), path: path.to_string(), ..Self::default() },
        };
        let mut rest = rest.to_vec();
        let watch = rest.first() == Some(&"watch") || watch_param;
        if rest.first() == Some(&"watch") {
            rest.remove(0);
        }
        if rest.is_empty() {
            return Self { verb: method.to_ascii_lowercase(), path: path.to_string(), ..Self::default() };
        }
        let mut namespace = String::new();
        if rest[0] == "namespaces" && rest.len() >= 2 {
            namespace = rest[1].to_string();
            if rest.len() >= 3 {
                rest.drain(..2);
            } else {
                // `/api/v1/namespaces/demo` is the namespace itself.
                rest = vec!["namespaces", rest[1]];
                namespace.clear();
                namespace.push_str(rest[1]);
            }
        }
        let resource = rest[0].to_string();
        let name = rest.get(1).map(|name| (*name).to_string()).unwrap_or_default();
        let subresource = rest.get(2).map(|sub| (*sub).to_string()).unwrap_or_default();
        let collection = name.is_empty();
        let verb = crate::audit::verb(&method.parse().unwrap_or(axum::http::Method::GET), collection, watch);
        Self { verb, resource: Some(resource), group: group.to_string(), version: version.to_string(), subresource, namespace, name, path: path.to_string() }
    }

    fn resource_path(&self) -> Option<String> {
        let resource = self.resource.as_ref()?;
        Some(if self.subresource.is_empty() { resource.clone() } else { format!("{resource}/{}", self.subresource) })
    }

    /// kube-apiserver's 403 message.
    fn forbidden(&self, user: &User) -> ApiError {
        let Some(resource) = self.resource_path() else {
            return ApiError::forbidden(format!("forbidden: User {:?} cannot {} path {:?}", user.name, self.verb, self.path));
        };
        let plural = self.resource.clone().unwrap_or_default();
        let qualified = if self.group.is_empty() { plural } else { format!("{plural}.{}", self.group) };
        let subject = if self.name.is_empty() { qualified } else { format!("{qualified} {:?}", self.name) };
        let scope = if self.namespace.is_empty() { "at the cluster scope".to_string() } else { format!("in the namespace {:?}", self.namespace) };
        ApiError::forbidden(format!("{subject} is forbidden: User {:?} cannot {} resource {resource:?} in API group {:?} {scope}", user.name, self.verb, self.group))
    }
}

/// One RBAC rule, as stored.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rule {
    pub verbs: Vec<String>,
    pub api_groups: Vec<String>,
    pub resources: Vec<String>,
    pub resource_names: Vec<String>,
    pub non_resource_urls: Vec<String>,
}

fn strings(value: &Value) -> Vec<String> {
    value.as_array().into_iter().flatten().filter_map(|v| v.as_str().map(str::to_string)).collect()
}

impl Rule {
    fn parse(value: &Value) -> Self {
        Self {
            verbs: strings(&value["verbs"]),
            api_groups: strings(&value["apiGroups"]),
            resources: strings(&value["resources"]),
            resource_names: strings(&value["resourceNames"]),
            non_resource_urls: strings(&value["nonResourceURLs"]),
        }
    }

    fn to_json(&self) -> Value {
        let mut rule = json!({"verbs": self.verbs});
        for (key, list) in [("apiGroups", &self.api_groups), ("resources", &self.resources), ("resourceNames", &self.resource_names), ("nonResourceURLs", &self.non_resource_urls)] {
            if !list.is_empty() {
                rule[key] = json!(list);
            }
        }
        rule
    }

    /// Whether the rule covers the request, as RBAC's `RuleAllows` decides.
    pub fn allows(&self, attributes: &Attributes) -> bool {
        let any = |list: &[String], wanted: &str| list.iter().any(|item| item == "*" || item == wanted);
        if !any(&self.verbs, &attributes.verb) {
            return false;
        }
        match attributes.resource_path() {
            Some(resource) => {
                let resources_match = self.resources.iter().any(|item| {
                    item == "*" || *item == resource || (!attributes.subresource.is_empty() && *item == format!("*/{}", attributes.subresource))
                });
                any(&self.api_groups, &attributes.group)
                    && resources_match
                    && (self.resource_names.is_empty() || (!attributes.name.is_empty() && self.resource_names.contains(&attributes.name)))
            }
            None => self.non_resource_urls.iter().any(|url| url == "*" || *url == attributes.path || url.strip_suffix('*').is_some_and(|prefix| attributes.path.starts_with(prefix))),
        }
    }
}

/// The RBAC objects at one moment.
struct Policy {
    cluster_roles: Vec<Value>,
    roles: Vec<Value>,
    cluster_bindings: Vec<Value>,
    bindings: Vec<Value>,
}

/// The RBAC kinds, in the order [`Policy`] holds them.
const KINDS: [&str; 4] = ["clusterroles", "roles", "clusterrolebindings", "rolebindings"];

/// The watch caches of the RBAC kinds, ready.
async fn caches(api: &Api) -> Vec<Arc<crate::watch_cache::ResourceCache>> {
    let mut caches = Vec::new();
    for plural in KINDS {
        if let Some(cache) = resources::find("rbac.authorization.k8s.io", "v1", plural).and_then(|resource| api.cache.of(resource)) {
            cache.wait_ready().await;
            caches.push(cache.clone());
        }
    }
    caches
}

impl Policy {
    fn read(caches: &[Arc<crate::watch_cache::ResourceCache>]) -> Self {
        let mut kinds = caches.iter().map(|cache| cache.snapshot().0.iter().filter_map(|object| serde_json::from_str(&object.json).ok()).collect());
        let mut next = || kinds.next().unwrap_or_default();
        Self { cluster_roles: next(), roles: next(), cluster_bindings: next(), bindings: next() }
    }

    fn cluster_role_rules(&self, name: &str) -> Vec<Rule> {
        let Some(role) = self.cluster_roles.iter().find(|role| role["metadata"]["name"] == name) else { return Vec::new() };
        let mut rules: Vec<Rule> = role["rules"].as_array().into_iter().flatten().map(Rule::parse).collect();
        for selector in role["aggregationRule"]["clusterRoleSelectors"].as_array().into_iter().flatten() {
            let Ok(selector) = serde_json::from_value(selector.clone()).map_err(drop).and_then(|s| common::selector::LabelSelector::from_k8s(&s).map_err(drop)) else { continue };
            for other in &self.cluster_roles {
                let labels: std::collections::BTreeMap<String, String> = serde_json::from_value(other["metadata"]["labels"].clone()).unwrap_or_default();
                if other["metadata"]["name"] != name && selector.matches(&labels) {
                    rules.extend(other["rules"].as_array().into_iter().flatten().map(Rule::parse));
                }
            }
        }
        rules
    }

    fn binds(binding: &Value, user: &User) -> bool {
        binding["subjects"].as_array().into_iter().flatten().any(|subject| {
            let name = subject["name"].as_str().unwrap_or_default();
            match subject["kind"].as_str().unwrap_or_default() {
                "User" => user.name == name,
                "Group" => user.groups.iter().any(|group| group == name),
                "ServiceAccount" => user.name == format!("system:serviceaccount:{}:{name}", subject["namespace"].as_str().unwrap_or_default()),
                _ => false,
            }
        })
    }

    /// Every rule that applies to `user` in `namespace` (cluster-wide ones included).
    fn rules(&self, user: &User, namespace: &str) -> Vec<Rule> {
        let mut rules = Vec::new();
        for binding in self.cluster_bindings.iter().filter(|binding| Self::binds(binding, user)) {
            rules.extend(self.cluster_role_rules(binding["roleRef"]["name"].as_str().unwrap_or_default()));
        }
        if namespace.is_empty() {
            return rules;
        }
        for binding in self.bindings.iter().filter(|binding| binding["metadata"]["namespace"] == namespace && Self::binds(binding, user)) {
            let role = binding["roleRef"]["name"].as_str().unwrap_or_default();
            match binding["roleRef"]["kind"].as_str() {
                Some("ClusterRole") => rules.extend(self.cluster_role_rules(role)),
                _ => {
                    let found = self.roles.iter().find(|r| r["metadata"]["namespace"] == namespace && r["metadata"]["name"] == role);
                    rules.extend(found.into_iter().flat_map(|r| r["rules"].as_array().cloned().unwrap_or_default()).map(|rule| Rule::parse(&rule)));
                }
            }
        }
        rules
    }
}

/// The RBAC authorizer. The objects are parsed again only when one of their caches has moved.
#[derive(Clone)]
pub struct Authorizer {
    api: Arc<Api>,
    parsed: Arc<std::sync::Mutex<Option<Parsed>>>,
}

/// A parsed policy and the cache revisions it was read at.
type Parsed = (Vec<crate::storage::Revision>, Arc<Policy>);

impl Authorizer {
    pub fn new(api: Arc<Api>) -> Self {
        Self { api, parsed: Arc::default() }
    }

    async fn policy(&self) -> Arc<Policy> {
        let caches = caches(&self.api).await;
        let revisions: Vec<crate::storage::Revision> = caches.iter().map(|cache| cache.revision()).collect();
        let mut parsed = self.parsed.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match parsed.as_ref() {
            Some((seen, policy)) if *seen == revisions => policy.clone(),
            _ => {
                // Read after the revisions: a change in between only makes the next call parse again.
                let policy = Arc::new(Policy::read(&caches));
                *parsed = Some((revisions, policy.clone()));
                policy
            }
        }
    }

    pub async fn allowed(&self, user: &User, attributes: &Attributes) -> bool {
        self.policy().await.rules(user, &attributes.namespace).iter().any(|rule| rule.allows(attributes))
    }
}

/// Answers 403 for what the request's user may not do; reviews are answered here.
pub async fn middleware(State(authorizer): State<Option<Authorizer>>, request: Request, next: Next) -> Response {
    let Some(authorizer) = authorizer else { return next.run(request).await };
    let Some(user) = request.extensions().get::<User>().cloned() else { return next.run(request).await };
    let watch = request.uri().query().is_some_and(|query| query.split('&').any(|pair| pair == "watch=true" || pair == "watch=1"));
    let attributes = Attributes::of(request.method().as_str(), request.uri().path(), watch);
    if !authorizer.allowed(&user, &attributes).await {
        return attributes.forbidden(&user).into_response();
    }
    next.run(request).await
}

/// The review resources of `authorization.k8s.io/v1`, for discovery.
pub fn review_resources() -> Value {
    let entry = |name: &str, kind: &str, namespaced: bool| json!({"name": name, "singularName": "", "namespaced": namespaced, "kind": kind, "verbs": ["create"]});
    json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "authorization.k8s.io/v1", "resources": [
        entry("selfsubjectaccessreviews", "SelfSubjectAccessReview", false),
        entry("selfsubjectrulesreviews", "SelfSubjectRulesReview", false),
        entry("subjectaccessreviews", "SubjectAccessReview", false),
    ]})
}

/// SelfSubjectAccessReview, SubjectAccessReview and SelfSubjectRulesReview. Without RBAC every
/// request is allowed, and so is every review.
pub async fn review_handler(State(authorizer): State<Option<Authorizer>>, axum::extract::Path(resource): axum::extract::Path<String>, request: Request) -> Response {
    let user = request.extensions().get::<User>().cloned().unwrap_or_else(User::unauthenticated_admin);
    review(authorizer.as_ref(), &user, &resource, request).await
}

async fn review(authorizer: Option<&Authorizer>, user: &User, resource: &str, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = match axum::body::to_bytes(body, rest::MAX_BODY).await {
        Ok(body) => body,
        Err(err) => return ApiError::bad_request(format!("cannot read the request body: {err}")).into_response(),
    };
    // JSON, or protobuf as kubectl sends it.
    let mut review = match rest::json_body(&parts.headers, &body) {
        Ok(review) => review,
        Err(err) => return err.into_response(),
    };
    let spec = review["spec"].clone();
    let subject = match resource {
        "subjectaccessreviews" => User {
            name: spec["user"].as_str().unwrap_or_default().to_string(),
            uid: spec["uid"].as_str().unwrap_or_default().to_string(),
            groups: strings(&spec["groups"]),
        },
        "selfsubjectaccessreviews" | "selfsubjectrulesreviews" => user.clone(),
        _ => return ApiError::path_not_found().into_response(),
    };
    if resource == "selfsubjectrulesreviews" {
        let namespace = spec["namespace"].as_str().unwrap_or_default();
        let rules = match authorizer {
            Some(authorizer) => authorizer.policy().await.rules(&subject, namespace),
            None => vec![Rule { verbs: vec!["*".into()], api_groups: vec!["*".into()], resources: vec!["*".into()], ..Rule::default() }, Rule { verbs: vec!["*".into()], non_resource_urls: vec!["*".into()], ..Rule::default() }],
        };
        let (resource_rules, other): (Vec<&Rule>, Vec<&Rule>) = rules.iter().partition(|rule| rule.non_resource_urls.is_empty());
        review["status"] = json!({
            "resourceRules": resource_rules.iter().map(|rule| rule.to_json()).collect::<Vec<_>>(),
            "nonResourceRules": other.iter().map(|rule| json!({"verbs": rule.verbs, "nonResourceURLs": rule.non_resource_urls})).collect::<Vec<_>>(),
            "incomplete": false,
        });
    } else {
        let attributes = match (spec.get("resourceAttributes"), spec.get("nonResourceAttributes")) {
            (Some(asked), _) => Attributes {
                verb: asked["verb"].as_str().unwrap_or_default().to_string(),
                resource: Some(asked["resource"].as_str().unwrap_or_default().to_string()),
                group: asked["group"].as_str().unwrap_or_default().to_string(),
                version: asked["version"].as_str().unwrap_or_default().to_string(),
                subresource: asked["subresource"].as_str().unwrap_or_default().to_string(),
                namespace: asked["namespace"].as_str().unwrap_or_default().to_string(),
                name: asked["name"].as_str().unwrap_or_default().to_string(),
                path: String::new(),
            },
            (None, Some(asked)) => Attributes { verb: asked["verb"].as_str().unwrap_or_default().to_string(), path: asked["path"].as_str().unwrap_or_default().to_string(), ..Attributes::default() },
            (None, None) => return ApiError::bad_request("exactly one of nonResourceAttributes or resourceAttributes must be specified").into_response(),
        };
        let allowed = match authorizer {
            Some(authorizer) => authorizer.allowed(&subject, &attributes).await,
            None => true,
        };
        review["status"] = if allowed { json!({"allowed": true, "reason": "RBAC: allowed"}) } else { json!({"allowed": false}) };
    }
    rest::json_response(axum::http::StatusCode::CREATED, &review)
}

/// The default ClusterRoles and ClusterRoleBindings, as kube-apiserver's RBAC bootstrap makes
/// them (abridged to the resources this server serves).
pub fn defaults() -> Vec<(&'static str, Value)> {
    let read = ["get", "list", "watch"];
    let write = ["create", "delete", "deletecollection", "patch", "update"];
    let aggregate = |to: &[&str]| -> Value { to.iter().map(|role| (format!("rbac.authorization.k8s.io/aggregate-to-{role}"), json!("true"))).collect::<serde_json::Map<_, _>>().into() };
    let role = |name: &str, labels: Value, rules: Value| json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": name, "labels": labels}, "rules": rules});
    let aggregated = |name: &str| {
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": name, "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"}},
               "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {format!("rbac.authorization.k8s.io/aggregate-to-{name}"): "true"}}]}, "rules": []})
    };
    let binding = |name: &str, role: &str, groups: &[&str]| {
        let subjects: Vec<Value> = groups.iter().map(|group| json!({"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": group})).collect();
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": name, "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"}},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role}, "subjects": subjects})
    };
    let core_read = ["pods", "pods/log", "pods/status", "configmaps", "endpoints", "services", "services/status", "serviceaccounts", "events", "namespaces", "namespaces/status"];
    let apps_read = ["deployments", "deployments/scale", "deployments/status", "replicasets", "replicasets/scale", "replicasets/status"];
    let core_write = ["pods", "pods/exec", "pods/attach", "pods/portforward", "configmaps", "endpoints", "secrets", "services", "serviceaccounts"];
    let apps_write = ["deployments", "deployments/scale", "replicasets", "replicasets/scale"];
    vec![
        ("clusterroles", role("cluster-admin", json!({"kubernetes.io/bootstrapping": "rbac-defaults"}), json!([
            {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}, {"nonResourceURLs": ["*"], "verbs": ["*"]}]))),
        ("clusterroles", aggregated("admin")),
        ("clusterroles", aggregated("edit")),
        ("clusterroles", aggregated("view")),
        ("clusterroles", role("system:aggregate-to-view", aggregate(&["admin", "edit", "view"]), json!([
            {"apiGroups": [""], "resources": core_read, "verbs": read},
            {"apiGroups": ["apps"], "resources": apps_read, "verbs": read},
            {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": read}]))),
        ("clusterroles", role("system:aggregate-to-edit", aggregate(&["admin", "edit"]), json!([
            {"apiGroups": [""], "resources": core_write, "verbs": write},
            {"apiGroups": [""], "resources": ["secrets", "pods/attach", "pods/exec", "pods/portforward"], "verbs": read},
            {"apiGroups": ["apps"], "resources": apps_write, "verbs": write}]))),
        ("clusterroles", role("system:aggregate-to-admin", aggregate(&["admin"]), json!([
            {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["roles", "rolebindings"], "verbs": ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]},
            {"apiGroups": ["authorization.k8s.io"], "resources": ["localsubjectaccessreviews"], "verbs": ["create"]}]))),
        ("clusterroles", role("system:basic-user", json!({"kubernetes.io/bootstrapping": "rbac-defaults"}), json!([
            {"apiGroups": ["authorization.k8s.io"], "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"], "verbs": ["create"]}]))),
        ("clusterroles", role("system:discovery", json!({"kubernetes.io/bootstrapping": "rbac-defaults"}), json!([
            {"nonResourceURLs": ["/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/openapi", "/openapi/*", "/readyz", "/version", "/version/"], "verbs": ["get"]}]))),
        ("clusterroles", role("system:public-info-viewer", json!({"kubernetes.io/bootstrapping": "rbac-defaults"}), json!([
            {"nonResourceURLs": ["/healthz", "/livez", "/readyz", "/version", "/version/"], "verbs": ["get"]}]))),
        ("clusterrolebindings", binding("cluster-admin", "cluster-admin", &["system:masters"])),
        ("clusterrolebindings", binding("system:basic-user", "system:basic-user", &["system:authenticated"])),
        ("clusterrolebindings", binding("system:discovery", "system:discovery", &["system:authenticated"])),
        ("clusterrolebindings", binding("system:public-info-viewer", "system:public-info-viewer", &["system:authenticated", "system:unauthenticated"])),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(name: &str, groups: &[&str]) -> User {
        User { name: name.into(), uid: String::new(), groups: groups.iter().map(|g| (*g).to_string()).collect() }
    }

    #[test]
    fn requests_are_described_as_request_info_describes_them() {
        let get = Attributes::of("GET", "/api/v1/namespaces/demo/pods/web", false);
        assert_eq!((get.verb.as_str(), get.resource.as_deref(), get.namespace.as_str(), get.name.as_str()), ("get", Some("pods"), "demo", "web"));
        let exec = Attributes::of("POST", "/api/v1/namespaces/demo/pods/web/exec", false);
        assert_eq!((exec.verb.as_str(), exec.resource_path().as_deref()), ("create", Some("pods/exec")));
        let watch = Attributes::of("GET", "/apis/apps/v1/watch/namespaces/demo/deployments", false);
        assert_eq!((watch.verb.as_str(), watch.group.as_str()), ("watch", "apps"));
        let namespace = Attributes::of("DELETE", "/api/v1/namespaces/demo", false);
        assert_eq!((namespace.resource.as_deref(), namespace.name.as_str(), namespace.verb.as_str()), (Some("namespaces"), "demo", "delete"));
        let path = Attributes::of("GET", "/metrics", false);
        assert_eq!((path.resource, path.path.as_str()), (None, "/metrics"));
    }

    #[test]
    fn rules_allow_as_rbac_allows() {
        let rule = Rule { verbs: vec!["get".into()], api_groups: vec![String::new()], resources: vec!["pods".into(), "*/log".into()], ..Rule::default() };
        assert!(rule.allows(&Attributes::of("GET", "/api/v1/namespaces/d/pods/p", false)));
        assert!(rule.allows(&Attributes::of("GET", "/api/v1/namespaces/d/pods/p/log", false)));
        assert!(!rule.allows(&Attributes::of("GET", "/api/v1/namespaces/d/pods/p/status", false)));
        assert!(!rule.allows(&Attributes::of("DELETE", "/api/v1/namespaces/d/pods/p", false)));
        assert!(!rule.allows(&Attributes::of("GET", "/apis/apps/v1/namespaces/d/deployments/x", false)));
        let named = Rule { verbs: vec!["*".into()], api_groups: vec!["*".into()], resources: vec!["secrets".into()], resource_names: vec!["mine".into()], ..Rule::default() };
        assert!(named.allows(&Attributes::of("GET", "/api/v1/namespaces/d/secrets/mine", false)));
        assert!(!named.allows(&Attributes::of("GET", "/api/v1/namespaces/d/secrets", false)), "a list has no name to match");
        let urls = Rule { verbs: vec!["get".into()], non_resource_urls: vec!["/apis/*".into()], ..Rule::default() };
        assert!(!urls.allows(&Attributes::of("GET", "/apis", false)) && urls.allows(&Attributes::of("GET", "/apis/apps", false)));
    }

    #[test]
    fn bindings_aggregation_and_messages() {
        let mut policy = Policy { cluster_roles: Vec::new(), roles: Vec::new(), cluster_bindings: Vec::new(), bindings: Vec::new() };
        for (kind, object) in defaults() {
            match kind {
                "clusterroles" => policy.cluster_roles.push(object),
                _ => policy.cluster_bindings.push(object),
            }
        }
        policy.bindings.push(json!({"metadata": {"name": "jane-view", "namespace": "demo"}, "roleRef": {"kind": "ClusterRole", "name": "view"}, "subjects": [{"kind": "User", "name": "jane"}]}));
        let jane = user("jane", &["system:authenticated"]);
        let can = |method: &str, path: &str| policy.rules(&jane, &Attributes::of(method, path, false).namespace).iter().any(|rule| rule.allows(&Attributes::of(method, path, false)));
        assert!(can("GET", "/api/v1/namespaces/demo/pods"));
        assert!(can("GET", "/apis/apps/v1/namespaces/demo/deployments/web"));
        assert!(!can("POST", "/api/v1/namespaces/demo/configmaps"));
        assert!(!can("GET", "/api/v1/namespaces/demo/secrets/s"), "view does not read Secrets");
        assert!(!can("GET", "/api/v1/namespaces/other/pods"));
        assert!(can("GET", "/apis"), "discovery for every authenticated user");
        let admin = user("root", &["system:masters"]);
        assert!(policy.rules(&admin, "").iter().any(|rule| rule.allows(&Attributes::of("DELETE", "/api/v1/nodes/n1", false))));
        let denied = Attributes::of("POST", "/api/v1/namespaces/demo/configmaps", false).forbidden(&jane);
        assert_eq!(denied.message, "configmaps is forbidden: User \"jane\" cannot create resource \"configmaps\" in API group \"\" in the namespace \"demo\"");
        let secret = Attributes::of("GET", "/api/v1/namespaces/demo/secrets/s", false).forbidden(&jane);
        assert_eq!(secret.message, "secrets \"s\" is forbidden: User \"jane\" cannot get resource \"secrets\" in API group \"\" in the namespace \"demo\"");
        let nodes = Attributes::of("GET", "/api/v1/nodes", false).forbidden(&jane);
        assert_eq!(nodes.message, "nodes is forbidden: User \"jane\" cannot list resource \"nodes\" in API group \"\" at the cluster scope");
        assert_eq!(Attributes::of("GET", "/metrics", false).forbidden(&jane).message, "forbidden: User \"jane\" cannot get path \"/metrics\"");
    }
}
