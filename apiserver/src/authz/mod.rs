//! Authorization (`--authorization-mode`, a list as kube-apiserver takes it: `Node,RBAC`). Each
//! mode in turn allows a request or has no opinion; a request none allows gets 403. RBAC allows
//! a request when a ClusterRoleBinding, or a RoleBinding in its namespace, binds its user (or one
//! of its groups) to a role with a rule that covers it. ClusterRoles with an aggregation rule
//! hold the rules of the ClusterRoles their selectors pick. The Node mode is
//! [`crate::authz::node`]. The default roles (`cluster-admin`, `admin`, `edit`, `view`, the
//! components' and those discovery needs) are created at start. Self and subject access reviews
//! answer `kubectl auth can-i`.
//!
//! RBAC objects cannot be used to escalate (`pkg/registry/rbac/*/policybased`): a Role or
//! ClusterRole may only be written by someone who holds every rule it grants (or may `escalate`
//! roles), a binding only by someone who holds every rule of its role (or may `bind` it).

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::request::User;
use crate::errors::ApiError;

mod bootstrap;
pub mod node;
mod rule;

pub use bootstrap::defaults;
use node::NodeAuthorizer;
pub use rule::{Decision, Rule, strings};
use rule::{go_quoted, uncovered};
use crate::meta;
use crate::request::Attributes;
use crate::resources::{Name, ResourceType};
use crate::state::Api;
use crate::watch_cache::CachedObject;

/// The RBAC objects at one moment.
#[derive(Default)]
struct Policy {
    cluster_roles: Vec<Arc<Value>>,
    roles: Vec<Arc<Value>>,
    cluster_bindings: Vec<Arc<Value>>,
    bindings: Vec<Arc<Value>>,
    /// Each object parsed, by the watch cache entry it was parsed from (kept, so that its
    /// address stays its own): the next version parses only what changed, and versions alive at
    /// once (one per request in flight) share the objects rather than each holding a copy.
    parsed: HashMap<usize, (Arc<CachedObject>, Arc<Value>)>,
    /// What every request would otherwise work out again from the JSON; built on first use,
    /// once the objects are all in.
    index: std::sync::OnceLock<Index>,
}

impl Clone for Policy {
    /// The objects; the index is built again for the copy, which may be changed.
    fn clone(&self) -> Self {
        Self {
            cluster_roles: self.cluster_roles.clone(),
            roles: self.roles.clone(),
            cluster_bindings: self.cluster_bindings.clone(),
            bindings: self.bindings.clone(),
            parsed: HashMap::new(),
            index: std::sync::OnceLock::new(),
        }
    }
}

/// The roles' rules parsed (ClusterRoles with their aggregated ones) and the RoleBindings by
/// namespace, so that a request looks at its namespace's bindings alone.
#[derive(Default)]
struct Index {
    cluster_role_rules: HashMap<String, Vec<Rule>>,
    role_rules: HashMap<(String, String), Vec<Rule>>,
    bindings: HashMap<String, Vec<usize>>,
}

/// The RBAC kinds, in the order [`Policy`] holds them.
const KINDS: [&str; 4] = ["clusterroles", "roles", "clusterrolebindings", "rolebindings"];

/// The watch caches of the RBAC kinds, ready.
async fn caches(api: &Api) -> Vec<Arc<crate::watch_cache::ResourceCache>> {
    let mut caches = Vec::new();
    for plural in KINDS {
        if let Some(cache) = api.registry.find("rbac.authorization.k8s.io", "v1", plural).and_then(|resource| api.cache.of(&resource)) {
            cache.wait_ready().await;
            caches.push(cache.clone());
        }
    }
    caches
}

impl Policy {
    /// The objects in the caches now, reusing those of `previous` that have not changed.
    fn read(caches: &[Arc<crate::watch_cache::ResourceCache>], previous: Option<&Policy>) -> Self {
        let mut parsed = HashMap::new();
        let mut kinds = caches.iter().map(|cache| {
            let mut objects = Vec::new();
            for cached in cache.snapshot().0 {
                let address = Arc::as_ptr(&cached) as usize;
                let value = match previous.and_then(|previous| previous.parsed.get(&address)) {
                    Some((_, value)) => value.clone(),
                    None => match serde_json::from_str(&cached.json) {
                        Ok(value) => Arc::new(value),
                        Err(_) => continue,
                    },
                };
                objects.push(value.clone());
                parsed.insert(address, (cached, value));
            }
            objects
        });
        let mut next = || kinds.next().unwrap_or_default();
        let (cluster_roles, roles, cluster_bindings, bindings) = (next(), next(), next(), next());
        Self { cluster_roles, roles, cluster_bindings, bindings, parsed, index: std::sync::OnceLock::new() }
    }

    fn index(&self) -> &Index {
        self.index.get_or_init(|| {
            let name = |object: &Value, field: &str| object["metadata"][field].as_str().unwrap_or_default().to_string();
            let mut index = Index::default();
            for role in &self.cluster_roles {
                index.cluster_role_rules.insert(name(role, "name"), self.parse_cluster_role_rules(role));
            }
            for role in &self.roles {
                let rules = role["rules"].as_array().into_iter().flatten().map(Rule::parse).collect();
                index.role_rules.insert((name(role, "namespace"), name(role, "name")), rules);
            }
            for (position, binding) in self.bindings.iter().enumerate() {
                index.bindings.entry(name(binding, "namespace")).or_default().push(position);
            }
            index
        })
    }

    fn parse_cluster_role_rules(&self, role: &Value) -> Vec<Rule> {
        let name = &role["metadata"]["name"];
        let mut rules: Vec<Rule> = role["rules"].as_array().into_iter().flatten().map(Rule::parse).collect();
        for selector in role["aggregationRule"]["clusterRoleSelectors"].as_array().into_iter().flatten() {
            let Ok(selector) = serde_json::from_value(selector.clone()).map_err(drop).and_then(|s| common::selector::LabelSelector::from_k8s(&s).map_err(drop)) else { continue };
            for other in &self.cluster_roles {
                let labels: std::collections::BTreeMap<String, String> = serde_json::from_value(other["metadata"]["labels"].clone()).unwrap_or_default();
                if other["metadata"]["name"] != *name && selector.matches(&labels) {
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

    /// The rules of a binding's role: a ClusterRole, or a Role in the binding's `namespace`;
    /// None when there is no such role.
    fn role_ref_rules(&self, kind: &str, name: &str, namespace: &str) -> Option<&[Rule]> {
        let index = self.index();
        let rules = match kind {
            "ClusterRole" => index.cluster_role_rules.get(name),
            _ => index.role_rules.get(&(namespace.to_string(), name.to_string())),
        };
        rules.map(Vec::as_slice)
    }

    /// The rules of every role bound to `user` in `namespace` (cluster-wide ones included),
    /// borrowed from the index: authorizing a request copies none of them.
    fn rule_sets(&self, user: &User, namespace: &str) -> Vec<&[Rule]> {
        fn role(binding: &Value) -> &str {
            binding["roleRef"]["name"].as_str().unwrap_or_default()
        }
        let cluster_wide = self.cluster_bindings.iter().filter(|binding| Self::binds(binding, user));
        let mut sets: Vec<&[Rule]> = cluster_wide.filter_map(|binding| self.role_ref_rules("ClusterRole", role(binding), "")).collect();
        if !namespace.is_empty() {
            let index = self.index();
            let in_namespace = index.bindings.get(namespace).into_iter().flatten().filter_map(|position| self.bindings.get(*position));
            for binding in in_namespace.filter(|binding| Self::binds(binding, user)) {
                sets.extend(self.role_ref_rules(binding["roleRef"]["kind"].as_str().unwrap_or_default(), role(binding), namespace));
            }
        }
        sets
    }

    /// Every rule that applies to `user` in `namespace` (cluster-wide ones included).
    fn rules(&self, user: &User, namespace: &str) -> Vec<Rule> {
        self.rule_sets(user, namespace).into_iter().flatten().cloned().collect()
    }

    /// Whether a rule that applies to `user` allows `attributes`.
    fn allows(&self, user: &User, attributes: &Attributes) -> bool {
        self.rule_sets(user, &attributes.namespace).into_iter().flatten().any(|rule| rule.allows(attributes))
    }
}

/// The authorizer: the configured modes, asked in turn. The RBAC objects are parsed again only
/// when one of their caches has moved.
/// An `--authorization-mode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum AuthorizationMode {
    #[value(name = "AlwaysAllow", alias = "always-allow")]
    AlwaysAllow,
    #[value(name = "RBAC", alias = "rbac")]
    Rbac,
    #[value(name = "Node", alias = "node")]
    Node,
}

#[derive(Clone)]
pub struct Authorizer {
    api: Arc<Api>,
    modes: Arc<[AuthorizationMode]>,
    parsed: Arc<std::sync::Mutex<Option<Parsed>>>,
    nodes: NodeAuthorizer,
}

/// A parsed policy and the cache revisions it was read at.
type Parsed = (Vec<crate::storage::Revision>, Arc<Policy>);

impl Authorizer {
    /// None when every request is allowed: no mode given, or AlwaysAllow among them (the other
    /// modes only ever allow, so it would decide every request kube-apiserver's way too).
    pub fn new(api: Arc<Api>, modes: &[AuthorizationMode]) -> Option<Self> {
        if modes.is_empty() || modes.contains(&AuthorizationMode::AlwaysAllow) {
            return None;
        }
        let nodes = NodeAuthorizer::new(api.clone());
        Some(Self { api, modes: modes.into(), parsed: Arc::default(), nodes })
    }

    fn rbac(&self) -> bool {
        self.modes.contains(&AuthorizationMode::Rbac)
    }

    /// The RBAC rules that apply to `user` in `namespace` (SelfSubjectRulesReview).
    pub async fn rules(&self, user: &User, namespace: &str) -> Vec<Rule> {
        self.policy().await.rules(user, namespace)
    }

    pub fn has_mode(&self, mode: AuthorizationMode) -> bool {
        self.modes.contains(&mode)
    }

    async fn policy(&self) -> Arc<Policy> {
        let caches = caches(&self.api).await;
        let revisions: Vec<crate::storage::Revision> = caches.iter().map(|cache| cache.revision()).collect();
        let mut parsed = self.parsed.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match parsed.as_ref() {
            Some((seen, policy)) if *seen == revisions => policy.clone(),
            _ => {
                // Read after the revisions: a change in between only makes the next call parse again.
                let policy = Arc::new(Policy::read(&caches, parsed.as_ref().map(|(_, policy)| policy.as_ref())));
                *parsed = Some((revisions, policy.clone()));
                policy
            }
        }
    }

    /// Asks each mode in turn, as kube-apiserver's union authorizer: the first to allow
    /// decides; the reasons of those that did not are kept for the 403.
    pub async fn authorize(&self, user: &User, attributes: &Attributes) -> Decision {
        let mut reasons = Vec::new();
        for mode in self.modes.iter() {
            let decision = match mode {
                AuthorizationMode::AlwaysAllow => Decision::Allow,
                AuthorizationMode::Node => self.nodes.authorize(user, attributes).await,
                AuthorizationMode::Rbac => {
                    if self.policy().await.allows(user, attributes) { Decision::Allow } else { Decision::no_opinion("") }
                }
            };
            match decision {
                Decision::Allow => return Decision::Allow,
                Decision::NoOpinion { reason } if !reason.is_empty() => reasons.push(reason),
                Decision::NoOpinion { .. } => {}
            }
        }
        Decision::no_opinion(reasons.join("\n"))
    }
}

/// Who the request being served comes from, for the checks made while its object is written
/// (RBAC's escalation prevention, NodeRestriction), which Kubernetes makes with the user of the
/// request's context. The authorization middleware sets it around the handler; it is absent for
/// the server's own writes (the default objects) and when every request is allowed.
#[derive(Clone)]
pub struct Requester {
    pub user: User,
    /// The RBAC objects as the request was authorized against them.
    policy: Arc<Policy>,
    /// Whether RBAC is among the modes: of the modes, only it can grant `bind` and `escalate`
    /// (the Node authorizer has no rule on RBAC objects).
    rbac: bool,
}

tokio::task_local! {
    static REQUESTER: Requester;
}

/// Runs `check` with the request's [`Requester`]; `None` when there is none.
pub fn with_requester<T>(check: impl FnOnce(&Requester) -> T) -> Option<T> {
    REQUESTER.try_with(check).ok()
}

/// `kind "name" is forbidden: why`, as Kubernetes' `NewForbidden` words it for an object.
pub fn object_forbidden(resource: &ResourceType, name: &str, why: &str) -> ApiError {
    let subject = if name.is_empty() { resource.qualified_plural() } else { format!("{} {name:?}", resource.qualified_plural()) };
    let mut error = ApiError::forbidden(format!("{subject} is forbidden: {why}"));
    error.details = json!({"name": name, "group": resource.group, "kind": resource.plural});
    error
}

const RBAC_GROUP: &str = "rbac.authorization.k8s.io";

impl Requester {
    /// Whether the modes grant `attributes` (`bind`, `escalate`) to the requester.
    fn authorized(&self, attributes: &Attributes) -> bool {
        self.rbac && self.policy.allows(&self.user, attributes)
    }

    /// Whether RBAC grants `attributes` to the requester, by the policy the request was
    /// authorized against: what admission plugins ask (`approve` or `sign` on a CSR's signer).
    pub fn allows(&self, attributes: &Attributes) -> bool {
        self.authorized(attributes)
    }

    /// A check kube-apiserver makes besides the request's own verb, for a request that asks for
    /// more than the verb says (a delete that ignores store read errors needs
    /// `unsafe-delete-ignore-read-errors` too): 403 unless RBAC grants `attributes`.
    pub fn check_also(&self, attributes: &Attributes) -> Result<(), ApiError> {
        if self.authorized(attributes) { Ok(()) } else { Err(attributes.forbidden(&self.user, "")) }
    }

    /// `ConfirmNoEscalation`: whether the requester holds every rule of `servant` in
    /// `namespace` (cluster-wide only for ""), by RBAC; else why not, in Kubernetes' words.
    fn holds(&self, namespace: &str, servant: &[Rule]) -> Result<(), String> {
        let missing = uncovered(&self.policy.rules(&self.user, namespace), servant);
        if missing.is_empty() {
            return Ok(());
        }
        Err(format!(
            "user {:?} (groups={}) is attempting to grant RBAC permissions not currently held:\n{}",
            self.user.name,
            go_quoted(&self.user.groups),
            missing.join("\n")
        ))
    }

    /// Escalation prevention for a create (`old` None) or update of a Role, ClusterRole,
    /// RoleBinding or ClusterRoleBinding, with `object` as it would be stored.
    pub fn check_escalation(&self, resource: &ResourceType, object: &Value, old: Option<&Value>) -> Result<(), ApiError> {
        if resource.group != RBAC_GROUP || self.user.groups.iter().any(|group| group == "system:masters") {
            return Ok(());
        }
        // The garbage collector's writes (owners, finalizers) grant nothing.
        if old.is_some_and(|old| only_garbage_collector_fields_differ(object, old)) {
            return Ok(());
        }
        let name = meta::name(object).unwrap_or_default();
        let namespace = if resource.namespaced { meta::namespace(object).unwrap_or_default() } else { "" };
        let forbidden = |why: String| object_forbidden(resource, name, &why);
        match &*resource.plural {
            "roles" | "clusterroles" => {
                // As RequestInfo has it: a create's path names no object, so `escalate` limited
                // to names never covers one.
                let escalate = Attributes {
                    verb: "escalate".into(),
                    resource: Some(resource.plural.to_string()),
                    group: RBAC_GROUP.into(),
                    namespace: namespace.into(),
                    name: if old.is_some() { name.into() } else { String::new() },
                    ..Attributes::default()
                };
                if self.authorized(&escalate) {
                    return Ok(());
                }
                let rules: Vec<Rule> = object["rules"].as_array().into_iter().flatten().map(Rule::parse).collect();
                self.holds(namespace, &rules).map_err(forbidden)?;
                // An aggregation rule can gather anything (and keep it from being tightened).
                let aggregates = |role: &Value| role["aggregationRule"]["clusterRoleSelectors"].as_array().is_some_and(|selectors| !selectors.is_empty());
                if resource.plural == "clusterroles" && (aggregates(object) || old.is_some_and(aggregates)) {
                    let everything = [
                        Rule { verbs: vec!["*".into()], api_groups: vec!["*".into()], resources: vec!["*".into()], ..Rule::default() },
                        Rule { verbs: vec!["*".into()], non_resource_urls: vec!["*".into()], ..Rule::default() },
                    ];
                    self.holds("", &everything).map_err(|_| forbidden("must have cluster-admin privileges to use the aggregationRule".into()))?;
                }
                Ok(())
            }
            "rolebindings" | "clusterrolebindings" => {
                let role_ref = &object["roleRef"];
                let (kind, role) = (role_ref["kind"].as_str().unwrap_or_default(), role_ref["name"].as_str().unwrap_or_default());
                let role_resource = match kind {
                    "ClusterRole" => "clusterroles",
                    "Role" => "roles",
                    other => return Err(ApiError::bad_request(format!("unsupported role reference kind: {other:?}"))),
                };
                // Checked in the binding's namespace, so that `bind` may be delegated per namespace.
                let bind = Attributes {
                    verb: "bind".into(),
                    resource: Some(role_resource.into()),
                    group: role_ref["apiGroup"].as_str().unwrap_or_default().into(),
                    namespace: namespace.into(),
                    name: role.into(),
                    ..Attributes::default()
                };
                if self.authorized(&bind) {
                    return Ok(());
                }
                let rules = self.policy.role_ref_rules(kind, role, namespace).ok_or_else(|| {
                    // Named as the role's kind is served: `clusterroles.rbac.authorization.k8s.io "x" not found`.
                    let mut named = ResourceType::body_type(RBAC_GROUP, "v1", "");
                    named.kind = Name::Owned(kind.to_string());
                    named.plural = Name::Owned(role_resource.to_string());
                    ApiError::not_found(&named, role)
                })?;
                self.holds(namespace, rules).map_err(forbidden)
            }
            _ => Ok(()),
        }
    }
}

/// `IsOnlyMutatingGCFields`: the objects are the same but for owner references and finalizers
/// (and the resourceVersion, which a write carries or not).
fn only_garbage_collector_fields_differ(object: &Value, old: &Value) -> bool {
    let strip = |object: &Value| {
        let mut object = object.clone();
        for field in ["ownerReferences", "finalizers", "selfLink", "resourceVersion", "managedFields"] {
            meta::remove(&mut object, field);
        }
        object
    };
    strip(object) == strip(old)
}

/// Answers 403 for what the request's user may not do; reviews are answered here. Allowed
/// requests run with their [`Requester`].
pub async fn middleware(State(authorizer): State<Option<Authorizer>>, request: Request, next: Next) -> Response {
    let Some(authorizer) = authorizer else { return next.run(request).await };
    let Some(user) = request.extensions().get::<User>().cloned() else { return next.run(request).await };
    let parsed = match crate::request::Parsed::from_extensions(&request) {
        Ok(parsed) => parsed,
        Err(err) => return ApiError::bad_request(err.to_string()).into_response(),
    };
    let attributes = Attributes::of_request(&parsed.info);
    if let Decision::NoOpinion { reason } = authorizer.authorize(&user, &attributes).await {
        return attributes.forbidden(&user, &reason).into_response();
    }
    let requester = Requester { user, policy: authorizer.policy().await, rbac: authorizer.rbac() };
    REQUESTER.scope(requester, next.run(request)).await
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
        let mut policy = Policy::default();
        for (kind, object) in defaults() {
            match kind {
                "clusterroles" => policy.cluster_roles.push(object.into()),
                _ => policy.cluster_bindings.push(object.into()),
            }
        }
        policy.bindings.push(json!({"metadata": {"name": "jane-view", "namespace": "demo"}, "roleRef": {"kind": "ClusterRole", "name": "view"}, "subjects": [{"kind": "User", "name": "jane"}]}).into());
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
        let denied = Attributes::of("POST", "/api/v1/namespaces/demo/configmaps", false).forbidden(&jane, "");
        assert_eq!(denied.message, "configmaps is forbidden: User \"jane\" cannot create resource \"configmaps\" in API group \"\" in the namespace \"demo\"");
        let secret = Attributes::of("GET", "/api/v1/namespaces/demo/secrets/s", false).forbidden(&jane, "");
        assert_eq!(secret.message, "secrets \"s\" is forbidden: User \"jane\" cannot get resource \"secrets\" in API group \"\" in the namespace \"demo\"");
        let nodes = Attributes::of("GET", "/api/v1/nodes", false).forbidden(&jane, "");
        assert_eq!(nodes.message, "nodes is forbidden: User \"jane\" cannot list resource \"nodes\" in API group \"\" at the cluster scope");
        assert_eq!(Attributes::of("GET", "/metrics", false).forbidden(&jane, "").message, "forbidden: User \"jane\" cannot get path \"/metrics\"");
    }

    fn rule(verbs: &[&str], groups: &[&str], resources: &[&str], names: &[&str]) -> Rule {
        let list = |items: &[&str]| items.iter().map(|item| (*item).to_string()).collect();
        Rule { verbs: list(verbs), api_groups: list(groups), resources: list(resources), resource_names: list(names), non_resource_urls: Vec::new() }
    }

    #[test]
    fn rules_cover_as_kubernetes_compares_them() {
        let owner = [rule(&["get", "list"], &[""], &["pods", "*/status"], &[]), rule(&["*"], &["apps"], &["deployments"], &["web"])];
        let covered = |servant: Rule| uncovered(&owner, &[servant]).is_empty();
        assert!(covered(rule(&["get"], &[""], &["pods", "pods/status", "nodes/status"], &[])));
        assert!(covered(rule(&["get"], &[""], &["pods"], &["any"])), "no names covers every name");
        assert!(!covered(rule(&["get"], &[""], &["pods/log"], &[])));
        assert!(!covered(rule(&["watch"], &[""], &["pods"], &[])));
        assert!(covered(rule(&["delete", "escalate"], &["apps"], &["deployments"], &["web"])));
        assert!(!covered(rule(&["get"], &["apps"], &["deployments"], &[])), "names do not cover all of them");
        let urls = [Rule { verbs: vec!["get".into()], non_resource_urls: vec!["/apis/*".into()], ..Rule::default() }];
        assert!(uncovered(&urls, &[Rule { verbs: vec!["get".into()], non_resource_urls: vec!["/apis/apps".into()], ..Rule::default() }]).is_empty());
        // What is missing is listed one line per group and resource, verbs merged, sorted.
        let missing = uncovered(&owner, &[rule(&["get", "watch", "delete"], &["", "apps"], &["secrets", "pods"], &[]), rule(&["get"], &[""], &["configmaps"], &["a", "b"])]);
        assert_eq!(missing, [
            "{APIGroups:[\"\"], Resources:[\"configmaps\"], ResourceNames:[\"a\"], Verbs:[\"get\"]}",
            "{APIGroups:[\"\"], Resources:[\"configmaps\"], ResourceNames:[\"b\"], Verbs:[\"get\"]}",
            "{APIGroups:[\"\"], Resources:[\"pods\"], Verbs:[\"watch\" \"delete\"]}",
            "{APIGroups:[\"\"], Resources:[\"secrets\"], Verbs:[\"get\" \"watch\" \"delete\"]}",
            "{APIGroups:[\"apps\"], Resources:[\"pods\"], Verbs:[\"get\" \"watch\" \"delete\"]}",
            "{APIGroups:[\"apps\"], Resources:[\"secrets\"], Verbs:[\"get\" \"watch\" \"delete\"]}",
        ]);
    }

    fn rbac(plural: &str) -> &'static ResourceType {
        &crate::kinds::find(RBAC_GROUP, "v1", plural).unwrap().resource
    }

    fn role_binding(namespace: &str, name: &str, kind: &str, role: &str) -> Value {
        let mut binding = json!({"metadata": {"name": name}, "roleRef": {"apiGroup": RBAC_GROUP, "kind": kind, "name": role}, "subjects": [{"kind": "User", "name": "someone"}]});
        if !namespace.is_empty() {
            binding["metadata"]["namespace"] = json!(namespace);
        }
        binding
    }

    fn role(namespace: &str, name: &str, rules: Value) -> Value {
        let mut role = json!({"metadata": {"name": name}, "rules": rules});
        if !namespace.is_empty() {
            role["metadata"]["namespace"] = json!(namespace);
        }
        role
    }

    #[test]
    fn roles_and_bindings_grant_only_what_their_writer_holds() {
        let mut policy = Policy::default();
        for (kind, object) in defaults() {
            match kind {
                "clusterroles" => policy.cluster_roles.push(object.into()),
                _ => policy.cluster_bindings.push(object.into()),
            }
        }
        let jane_binding = |name: &str, kind: &str, role: &str| {
            json!({"metadata": {"name": name, "namespace": "demo"}, "roleRef": {"kind": kind, "name": role}, "subjects": [{"kind": "User", "name": "jane"}]})
        };
        policy.bindings.push(jane_binding("jane-view", "ClusterRole", "view").into());
        policy.roles.push(role("demo", "binder", json!([{"apiGroups": [RBAC_GROUP], "resources": ["roles", "rolebindings"], "verbs": ["create", "update", "patch"]}])).into());
        policy.bindings.push(jane_binding("jane-binder", "Role", "binder").into());
        let policy = Arc::new(policy);
        let jane = Requester { user: user("jane", &["devs", "system:authenticated"]), policy: policy.clone(), rbac: true };
        let held = "user \"jane\" (groups=[\"devs\" \"system:authenticated\"]) is attempting to grant RBAC permissions not currently held:\n";

        assert!(jane.check_escalation(rbac("rolebindings"), &role_binding("demo", "b", "ClusterRole", "view"), None).is_ok());
        let admin = jane.check_escalation(rbac("rolebindings"), &role_binding("demo", "b", "ClusterRole", "admin"), None).unwrap_err();
        assert_eq!(admin.code, 403);
        assert!(admin.message.starts_with(&format!("rolebindings.rbac.authorization.k8s.io \"b\" is forbidden: {held}")), "{}", admin.message);
        assert!(admin.message.contains("\n{APIGroups:[\"\"], Resources:[\"secrets\"], Verbs:[\"create\" \"delete\" \"deletecollection\" \"patch\" \"update\" \"get\" \"list\" \"watch\"]}"), "{}", admin.message);
        assert!(jane.check_escalation(rbac("rolebindings"), &role_binding("demo", "b", "ClusterRole", "cluster-admin"), None).is_err());
        let secrets = role("demo", "secret-reader", json!([{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list"]}]));
        assert_eq!(
            jane.check_escalation(rbac("roles"), &secrets, None).unwrap_err().message,
            format!("roles.rbac.authorization.k8s.io \"secret-reader\" is forbidden: {held}{{APIGroups:[\"\"], Resources:[\"secrets\"], Verbs:[\"get\" \"list\"]}}")
        );
        let pods = role("demo", "pod-reader", json!([{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}]));
        assert!(jane.check_escalation(rbac("roles"), &pods, None).is_ok());
        // What jane holds in demo she does not hold cluster-wide, nor in other namespaces.
        assert!(jane.check_escalation(rbac("clusterroles"), &role("", "pod-reader", json!([{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}])), None).is_err());
        assert!(jane.check_escalation(rbac("clusterrolebindings"), &role_binding("", "b", "ClusterRole", "view"), None).is_err());
        assert!(jane.check_escalation(rbac("rolebindings"), &role_binding("other", "b", "ClusterRole", "view"), None).is_err());
        let missing = jane.check_escalation(rbac("rolebindings"), &role_binding("demo", "b", "Role", "nothing"), None).unwrap_err();
        assert_eq!((missing.code, missing.message.as_str()), (404, "roles.rbac.authorization.k8s.io \"nothing\" not found"));
        // An update is checked on the object as it would be stored, but for the garbage
        // collector's fields.
        let mut owned = secrets.clone();
        owned["metadata"]["ownerReferences"] = json!([{"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": "1"}]);
        assert!(jane.check_escalation(rbac("roles"), &owned, Some(&secrets)).is_ok());
        assert!(jane.check_escalation(rbac("roles"), &secrets, Some(&pods)).is_err());

        // `bind` on one ClusterRole, `escalate` on Roles: delegated, as Kubernetes allows.
        let mut delegated = (*policy).clone();
        delegated.roles.push(role("demo", "delegate", json!([
            {"apiGroups": [RBAC_GROUP], "resources": ["clusterroles"], "resourceNames": ["admin"], "verbs": ["bind"]},
            {"apiGroups": [RBAC_GROUP], "resources": ["roles"], "verbs": ["escalate"]}])).into());
        delegated.bindings.push(jane_binding("jane-delegate", "Role", "delegate").into());
        let jane = Requester { policy: Arc::new(delegated), ..jane };
        assert!(jane.check_escalation(rbac("rolebindings"), &role_binding("demo", "b", "ClusterRole", "admin"), None).is_ok());
        assert!(jane.check_escalation(rbac("rolebindings"), &role_binding("demo", "b", "ClusterRole", "cluster-admin"), None).is_err());
        assert!(jane.check_escalation(rbac("roles"), &secrets, None).is_ok());
        // Without RBAC among the modes, nothing grants bind or escalate.
        let unbound = Requester { rbac: false, ..jane.clone() };
        assert!(unbound.check_escalation(rbac("roles"), &secrets, None).is_err());

        // An aggregation rule needs every right, whoever writes it; system:masters bypass.
        let aggregating = json!({"metadata": {"name": "gather"}, "rules": [], "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"x": "y"}}]}});
        assert_eq!(
            jane.check_escalation(rbac("clusterroles"), &aggregating, None).unwrap_err().message,
            "clusterroles.rbac.authorization.k8s.io \"gather\" is forbidden: must have cluster-admin privileges to use the aggregationRule"
        );
        let root = Requester { user: user("root", &["system:masters"]), policy, rbac: true };
        assert!(root.check_escalation(rbac("clusterroles"), &aggregating, None).is_ok());
        assert!(root.check_escalation(rbac("clusterrolebindings"), &role_binding("", "b", "ClusterRole", "cluster-admin"), None).is_ok());
    }

    #[test]
    fn the_components_roles_let_them_do_their_work() {
        let mut policy = Policy::default();
        for (kind, object) in defaults() {
            match kind {
                "clusterroles" => policy.cluster_roles.push(object.into()),
                _ => policy.cluster_bindings.push(object.into()),
            }
        }
        let can = |who: &User, method: &str, path: &str| {
            let attributes = Attributes::of(method, path, false);
            policy.rules(who, &attributes.namespace).iter().any(|rule| rule.allows(&attributes))
        };
        let scheduler = user("system:kube-scheduler", &["system:authenticated"]);
        for (method, path) in [("GET", "/api/v1/pods"), ("GET", "/api/v1/nodes"), ("POST", "/api/v1/namespaces/demo/pods/web/binding"), ("PATCH", "/api/v1/namespaces/demo/pods/web/status"),
                               ("POST", "/api/v1/namespaces/demo/events"), ("PUT", "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/kube-scheduler")] {
            assert!(can(&scheduler, method, path), "scheduler: {method} {path}");
        }
        assert!(!can(&scheduler, "PUT", "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/kube-controller-manager"));
        assert!(!can(&scheduler, "GET", "/api/v1/namespaces/demo/secrets/s"));
        let manager = user("system:kube-controller-manager", &["system:authenticated"]);
        for (method, path) in [("GET", "/api/v1/secrets"), ("DELETE", "/apis/apps/v1/namespaces/demo/deployments/web"), ("POST", "/api/v1/namespaces/demo/pods"),
                               ("POST", "/apis/apps/v1/namespaces/demo/replicasets"), ("PUT", "/api/v1/namespaces/demo/finalize"), ("PATCH", "/api/v1/nodes/n1/status"),
                               ("POST", "/api/v1/namespaces/demo/endpoints"), ("POST", "/api/v1/namespaces/demo/serviceaccounts"), ("POST", "/api/v1/namespaces/demo/configmaps"), ("POST", "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases")] {
            assert!(can(&manager, method, path), "controller-manager: {method} {path}");
        }
        for path in ["/apis/batch/v1/namespaces/demo/jobs", "/apis/apps/v1/namespaces/demo/controllerrevisions", "/api/v1/namespaces/demo/persistentvolumeclaims"] {
            assert!(can(&manager, "POST", path), "controller-manager: POST {path}");
        }
        for path in ["/apis/batch/v1/namespaces/demo/cronjobs/hello/status", "/apis/apps/v1/namespaces/demo/daemonsets/agent/status", "/apis/apps/v1/namespaces/demo/statefulsets/db/status"] {
            assert!(can(&manager, "PUT", path), "controller-manager: PUT {path}");
        }
        assert!(can(&scheduler, "GET", "/apis/apps/v1/statefulsets"), "the scheduler reads what selects pods");
        // Storage: the scheduler reads claims, volumes and what provisions them, and binds the
        // two; the controller-manager binds, provisions, protects and makes the default class.
        for (method, path) in [("GET", "/api/v1/persistentvolumeclaims"), ("GET", "/api/v1/namespaces/demo/persistentvolumeclaims/data"), ("GET", "/api/v1/persistentvolumes"),
                               ("PATCH", "/api/v1/namespaces/demo/persistentvolumeclaims/data"), ("PUT", "/api/v1/persistentvolumes/pv1"), ("PATCH", "/api/v1/persistentvolumes/pv1"),
                               ("GET", "/apis/storage.k8s.io/v1/storageclasses"), ("GET", "/apis/storage.k8s.io/v1/csinodes/n1"), ("GET", "/apis/storage.k8s.io/v1/csidrivers")] {
            assert!(can(&scheduler, method, path), "scheduler: {method} {path}");
        }
        assert!(!can(&scheduler, "DELETE", "/api/v1/persistentvolumes/pv1") && !can(&scheduler, "POST", "/api/v1/persistentvolumes"), "the scheduler neither makes nor deletes volumes");
        for (method, path) in [("POST", "/api/v1/persistentvolumes"), ("DELETE", "/api/v1/persistentvolumes/pv1"), ("PUT", "/api/v1/persistentvolumes/pv1/status"),
                               ("PATCH", "/api/v1/namespaces/demo/persistentvolumeclaims/data"), ("PUT", "/api/v1/namespaces/demo/persistentvolumeclaims/data/status"),
                               ("DELETE", "/api/v1/namespaces/demo/persistentvolumeclaims/data"), ("GET", "/api/v1/persistentvolumeclaims"),
                               ("POST", "/apis/storage.k8s.io/v1/storageclasses"), ("GET", "/apis/storage.k8s.io/v1/storageclasses"), ("GET", "/apis/storage.k8s.io/v1/storageclasses?watch=true")] {
            assert!(can(&manager, method, path), "controller-manager: {method} {path}");
        }
        assert!(!can(&manager, "POST", "/api/v1/namespaces/demo/secrets"));
        let kubelet = user("system:node:n1", &["system:nodes", "system:authenticated"]);
        assert!(can(&kubelet, "GET", "/api/v1/endpoints") && can(&kubelet, "GET", "/api/v1/nodes") && !can(&kubelet, "GET", "/api/v1/secrets"), "kubelets proxy services");

        // The user-facing roles cover ReplicationControllers as Kubernetes' bootstrap policy
        // does: view reads them, their scale and status; edit and admin also write them and
        // their scale (not their status).
        for role in ["view", "edit", "admin"] {
            policy.cluster_bindings.push(Arc::new(json!({"metadata": {"name": role}, "roleRef": {"kind": "ClusterRole", "name": role}, "subjects": [{"kind": "User", "name": role}]})));
        }
        policy.index = std::sync::OnceLock::new();
        let can = |who: &User, method: &str, path: &str| {
            let attributes = Attributes::of(method, path, false);
            policy.rules(who, &attributes.namespace).iter().any(|rule| rule.allows(&attributes))
        };
        let controllers = "/api/v1/namespaces/demo/replicationcontrollers";
        for role in ["view", "edit", "admin"] {
            let who = user(role, &["system:authenticated"]);
            for path in [controllers.to_string(), format!("{controllers}/web"), format!("{controllers}/web/scale"), format!("{controllers}/web/status")] {
                assert!(can(&who, "GET", &path), "{role}: GET {path}");
            }
            let writes = role != "view";
            for (method, path) in [("POST", controllers.to_string()), ("PUT", format!("{controllers}/web/scale")), ("PATCH", format!("{controllers}/web")), ("DELETE", format!("{controllers}/web"))] {
                assert_eq!(can(&who, method, &path), writes, "{role}: {method} {path}");
            }
            assert!(!can(&who, "PUT", &format!("{controllers}/web/status")), "{role}: PUT status");
        }
        // And the workload kinds as kube's do: view reads them (and ControllerRevisions), edit
        // and admin also write them and the StatefulSet's scale, never a status or a revision.
        let apps = "/apis/apps/v1/namespaces/demo";
        let batch = "/apis/batch/v1/namespaces/demo";
        for role in ["view", "edit", "admin"] {
            let who = user(role, &["system:authenticated"]);
            let writes = role != "view";
            for collection in [format!("{batch}/cronjobs"), format!("{apps}/daemonsets"), format!("{apps}/statefulsets")] {
                for path in [collection.clone(), format!("{collection}/x"), format!("{collection}/x/status")] {
                    assert!(can(&who, "GET", &path), "{role}: GET {path}");
                }
                assert_eq!(can(&who, "POST", &collection), writes, "{role}: POST {collection}");
                assert_eq!(can(&who, "DELETE", &format!("{collection}/x")), writes, "{role}: DELETE {collection}/x");
                assert!(!can(&who, "PUT", &format!("{collection}/x/status")), "{role}: PUT {collection}/x/status");
            }
            assert!(can(&who, "GET", &format!("{apps}/statefulsets/x/scale")), "{role}: GET scale");
            assert_eq!(can(&who, "PATCH", &format!("{apps}/statefulsets/x/scale")), writes, "{role}: PATCH scale");
            assert!(can(&who, "GET", &format!("{apps}/controllerrevisions/x")) && can(&who, "GET", &format!("{apps}/controllerrevisions")), "{role}: read revisions");
            assert!(!can(&who, "POST", &format!("{apps}/controllerrevisions")), "{role}: POST revisions");
        }
    }

}
