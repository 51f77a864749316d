//! Authorization (`--authorization-mode`, a list as kube-apiserver takes it: `Node,RBAC`). Each
//! mode in turn allows a request or has no opinion; a request none allows gets 403. RBAC allows
//! a request when a ClusterRoleBinding, or a RoleBinding in its namespace, binds its user (or one
//! of its groups) to a role with a rule that covers it. ClusterRoles with an aggregation rule
//! hold the rules of the ClusterRoles their selectors pick. The Node mode is
//! [`crate::node_authorizer`]. The default roles (`cluster-admin`, `admin`, `edit`, `view`, the
//! components' and those discovery needs) are created at start. Self and subject access reviews
//! answer `kubectl auth can-i`.
//!
//! RBAC objects cannot be used to escalate (`pkg/registry/rbac/*/policybased`): a Role or
//! ClusterRole may only be written by someone who holds every rule it grants (or may `escalate`
//! roles), a binding only by someone who holds every rule of its role (or may `bind` it).

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::auth::User;
use crate::errors::ApiError;
use crate::meta;
use crate::node_authorizer::{self, NodeAuthorizer};
use crate::request::RequestInfo;
use crate::resources::{self, ResourceType};
use crate::rest::{self, Api};
use crate::server::AuthorizationMode;
use crate::watch_cache::CachedObject;

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

    fn resource_path(&self) -> Option<String> {
        let resource = self.resource.as_ref()?;
        Some(if self.subresource.is_empty() { resource.clone() } else { format!("{resource}/{}", self.subresource) })
    }

    /// kube-apiserver's 403 message, with the modes' reasons (the Node authorizer's) after it.
    fn forbidden(&self, user: &User, reason: &str) -> ApiError {
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
    pub fn parse(value: &Value) -> Self {
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

    /// The rule as rules of one verb and one group, resource and name (or one URL), as
    /// Kubernetes' `breakdownRule` splits it before comparing.
    fn atoms(&self) -> Vec<Rule> {
        let mut atoms = Vec::new();
        for group in &self.api_groups {
            for resource in &self.resources {
                for verb in &self.verbs {
                    let atom = |names: Vec<String>| Rule { verbs: vec![verb.clone()], api_groups: vec![group.clone()], resources: vec![resource.clone()], resource_names: names, non_resource_urls: Vec::new() };
                    if self.resource_names.is_empty() {
                        atoms.push(atom(Vec::new()));
                    } else {
                        atoms.extend(self.resource_names.iter().map(|name| atom(vec![name.clone()])));
                    }
                }
            }
        }
        for url in &self.non_resource_urls {
            for verb in &self.verbs {
                atoms.push(Rule { verbs: vec![verb.clone()], non_resource_urls: vec![url.clone()], ..Rule::default() });
            }
        }
        atoms
    }

    /// Whether this rule grants all that `atom` (one of [`Rule::atoms`]) does, as `ruleCovers`
    /// decides: `*` covers anything, `*/status` any status subresource, `/apis/*` any path
    /// under it, and a rule without names every name.
    fn covers(&self, atom: &Rule) -> bool {
        let all = |owned: &[String], wanted: &[String]| owned.iter().any(|item| item == "*") || wanted.iter().all(|item| owned.contains(item));
        let resources = self.resources.iter().any(|item| item == "*")
            || atom.resources.iter().all(|wanted| {
                self.resources.contains(wanted) || wanted.split_once('/').is_some_and(|(_, subresource)| self.resources.contains(&format!("*/{subresource}")))
            });
        let urls = atom.non_resource_urls.iter().all(|wanted| {
            self.non_resource_urls.iter().any(|owned| owned == wanted || (owned.ends_with('*') && wanted.starts_with(owned.trim_end_matches('*'))))
        });
        let names = if atom.resource_names.is_empty() {
            self.resource_names.is_empty()
        } else {
            self.resource_names.is_empty() || atom.resource_names.iter().all(|name| self.resource_names.contains(name))
        };
        all(&self.verbs, &atom.verbs) && all(&self.api_groups, &atom.api_groups) && resources && urls && names
    }

    /// The rule as escalation errors show it (`CompactString`: Go's `%q` of each list).
    fn compact_string(&self) -> String {
        let parts: Vec<String> = [
            ("APIGroups", &self.api_groups),
            ("Resources", &self.resources),
            ("NonResourceURLs", &self.non_resource_urls),
            ("ResourceNames", &self.resource_names),
            ("Verbs", &self.verbs),
        ]
        .into_iter()
        .filter(|(_, list)| !list.is_empty())
        .map(|(field, list)| format!("{field}:{}", go_quoted(list)))
        .collect();
        format!("{{{}}}", parts.join(", "))
    }
}

/// A list of strings as Go's `%q` prints it: `["a" "b"]`.
fn go_quoted(list: &[String]) -> String {
    let items: Vec<String> = list.iter().map(|item| format!("{item:?}")).collect();
    format!("[{}]", items.join(" "))
}

/// The rules of `servant` that `owner` does not cover, compacted and worded as Kubernetes'
/// escalation error lists them: one line per rule, sorted, rules of one group and resource that
/// differ only by verb made one.
fn uncovered(owner: &[Rule], servant: &[Rule]) -> Vec<String> {
    let missing = servant.iter().flat_map(Rule::atoms).filter(|atom| !owner.iter().any(|rule| rule.covers(atom)));
    let mut compacted: Vec<Rule> = Vec::new();
    let mut simple: Vec<Rule> = Vec::new();
    for atom in missing {
        if !atom.resource_names.is_empty() || !atom.non_resource_urls.is_empty() {
            compacted.push(atom);
        } else if let Some(same) = simple.iter_mut().find(|rule| rule.api_groups == atom.api_groups && rule.resources == atom.resources) {
            same.verbs.extend(atom.verbs);
        } else {
            simple.push(atom);
        }
    }
    compacted.extend(simple);
    compacted.iter().map(Rule::compact_string).collect::<BTreeSet<_>>().into_iter().collect()
}

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
        if let Some(cache) = resources::find("rbac.authorization.k8s.io", "v1", plural).and_then(|resource| api.cache.of(resource)) {
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

/// What one mode, or the chain of them, says of a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// Not allowed by this mode; the reason (often empty) goes into the 403 message.
    NoOpinion { reason: String },
}

impl Decision {
    pub fn no_opinion(reason: impl Into<String>) -> Self {
        Self::NoOpinion { reason: reason.into() }
    }
}

/// The authorizer: the configured modes, asked in turn. The RBAC objects are parsed again only
/// when one of their caches has moved.
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
        match resource.plural {
            "roles" | "clusterroles" => {
                // As RequestInfo has it: a create's path names no object, so `escalate` limited
                // to names never covers one.
                let escalate = Attributes {
                    verb: "escalate".into(),
                    resource: Some(resource.plural.into()),
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
                let rules = self.policy.role_ref_rules(kind, role, namespace).ok_or_else(|| match resources::find(RBAC_GROUP, "v1", role_resource) {
                    Some(role_resource) => ApiError::not_found(role_resource, role),
                    None => ApiError::internal(format!("{role_resource} are not served")),
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

/// The review resources of `authorization.k8s.io/v1`, for discovery.
pub fn review_resources() -> Value {
    let entry = |name: &str, kind: &str, namespaced: bool| json!({"name": name, "singularName": "", "namespaced": namespaced, "kind": kind, "verbs": ["create"]});
    json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "authorization.k8s.io/v1", "resources": [
        entry("selfsubjectaccessreviews", "SelfSubjectAccessReview", false),
        entry("selfsubjectrulesreviews", "SelfSubjectRulesReview", false),
        entry("subjectaccessreviews", "SubjectAccessReview", false),
    ]})
}

pub const REVIEW_GROUP: &str = "authorization.k8s.io";

/// SelfSubjectAccessReview, SubjectAccessReview and SelfSubjectRulesReview, as the request's
/// one parse names them. Without an authorizer every request is allowed, and so is every review.
pub async fn review_handler(authorizer: Option<&Authorizer>, info: &RequestInfo, request: Request) -> Response {
    if info.parts.len() != 1 || !info.namespace.is_empty() {
        return ApiError::path_not_found().into_response();
    }
    if info.verb != "create" {
        return ApiError::method_not_allowed(format!("the server does not allow this method on the requested resource ({})", request.method())).into_response();
    }
    let user = request.extensions().get::<User>().cloned().unwrap_or_else(User::unauthenticated_admin);
    review(authorizer, &user, &info.resource, request).await
}

async fn review(authorizer: Option<&Authorizer>, user: &User, resource: &str, request: Request) -> Response {
    let mut review = match rest::review_body(request).await {
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
        // The Node authorizer's grants depend on the node's pods and are not listed, as
        // Kubernetes marks such a list incomplete.
        let incomplete = authorizer.is_some_and(|authorizer| authorizer.modes.contains(&AuthorizationMode::Node)) && node_authorizer::node_identity(&subject).is_some();
        let (resource_rules, other): (Vec<&Rule>, Vec<&Rule>) = rules.iter().partition(|rule| rule.non_resource_urls.is_empty());
        review["status"] = json!({
            "resourceRules": resource_rules.iter().map(|rule| rule.to_json()).collect::<Vec<_>>(),
            "nonResourceRules": other.iter().map(|rule| json!({"verbs": rule.verbs, "nonResourceURLs": rule.non_resource_urls})).collect::<Vec<_>>(),
            "incomplete": incomplete,
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
        let decision = match authorizer {
            Some(authorizer) => authorizer.authorize(&subject, &attributes).await,
            None => Decision::Allow,
        };
        review["status"] = match decision {
            Decision::Allow => json!({"allowed": true, "reason": "RBAC: allowed"}),
            Decision::NoOpinion { reason } if reason.is_empty() => json!({"allowed": false}),
            Decision::NoOpinion { reason } => json!({"allowed": false, "reason": reason}),
        };
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
    // Subjects as (kind, name): `User` or `Group`.
    let binding = |name: &str, role: &str, subjects: &[(&str, &str)]| {
        let subjects: Vec<Value> = subjects.iter().map(|(kind, name)| json!({"kind": kind, "apiGroup": "rbac.authorization.k8s.io", "name": name})).collect();
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": name, "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"}},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role}, "subjects": subjects})
    };
    let core_read = [
        "pods", "pods/log", "pods/status", "replicationcontrollers", "replicationcontrollers/scale", "replicationcontrollers/status",
        "configmaps", "endpoints", "services", "services/status", "serviceaccounts", "events", "namespaces", "namespaces/status",
    ];
    let apps_read = ["deployments", "deployments/scale", "deployments/status", "replicasets", "replicasets/scale", "replicasets/status"];
    let core_write = [
        "pods", "pods/exec", "pods/attach", "pods/portforward", "replicationcontrollers", "replicationcontrollers/scale",
        "configmaps", "endpoints", "secrets", "services", "serviceaccounts",
    ];
    let apps_write = ["deployments", "deployments/scale", "replicasets", "replicasets/scale"];
    let labels = json!({"kubernetes.io/bootstrapping": "rbac-defaults"});
    // `eventsRule()`: what components that record events need.
    let events = json!({"apiGroups": [""], "resources": ["events"], "verbs": ["create", "update", "patch"]});
    let events_v1 = json!({"apiGroups": ["events.k8s.io"], "resources": ["events"], "verbs": ["create", "update", "patch"]});
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
            {"apiGroups": ["authorization.k8s.io"], "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"], "verbs": ["create"]},
            {"apiGroups": ["authentication.k8s.io"], "resources": ["selfsubjectreviews"], "verbs": ["create"]}]))),
        // What a server that delegates authentication and authorization to this one needs
        // (bound by aggregated apiservers, webhooks and kr8s' `whoami`).
        ("clusterroles", role("system:auth-delegator", labels.clone(), json!([
            {"apiGroups": ["authentication.k8s.io"], "resources": ["tokenreviews"], "verbs": ["create"]},
            {"apiGroups": ["authorization.k8s.io"], "resources": ["subjectaccessreviews"], "verbs": ["create"]}]))),
        ("clusterroles", role("system:discovery", json!({"kubernetes.io/bootstrapping": "rbac-defaults"}), json!([
            {"nonResourceURLs": ["/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/openapi", "/openapi/*", "/readyz", "/version", "/version/"], "verbs": ["get"]}]))),
        ("clusterroles", role("system:public-info-viewer", json!({"kubernetes.io/bootstrapping": "rbac-defaults"}), json!([
            {"nonResourceURLs": ["/healthz", "/livez", "/readyz", "/version", "/version/"], "verbs": ["get"]}]))),
        ("clusterroles", role("system:node", labels.clone(), node_authorizer::node_rules())),
        // What a client of the kubelets' API needs (their authorizer asks about nodes' subresources).
        ("clusterroles", role("system:kubelet-api-admin", labels.clone(), json!([
            {"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "list", "watch", "proxy"]},
            {"apiGroups": [""], "resources": ["nodes/log", "nodes/metrics", "nodes/proxy", "nodes/stats"], "verbs": ["*"]}]))),
        ("clusterroles", role("system:node-proxier", labels.clone(), json!([
            {"apiGroups": [""], "resources": ["services", "endpoints"], "verbs": ["list", "watch"]},
            {"apiGroups": [""], "resources": ["nodes"], "verbs": read},
            {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": ["list", "watch"]},
            events.clone(), events_v1.clone()]))),
        ("clusterroles", role("system:kube-scheduler", labels.clone(), json!([
            events.clone(), events_v1.clone(),
            // Leader election, in --leader-elect-resource-namespace (kube-system).
            {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["create"]},
            {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "resourceNames": ["kube-scheduler"], "verbs": ["get", "update"]},
            {"apiGroups": [""], "resources": ["nodes"], "verbs": read},
            {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch", "delete"]},
            {"apiGroups": [""], "resources": ["pods/binding", "bindings"], "verbs": ["create"]},
            {"apiGroups": [""], "resources": ["pods/status"], "verbs": ["patch", "update"]},
            // What selects pods, and namespaces for affinity's namespace selectors.
            {"apiGroups": [""], "resources": ["services", "replicationcontrollers", "namespaces"], "verbs": read},
            {"apiGroups": ["apps"], "resources": ["replicasets"], "verbs": read},
            {"apiGroups": ["authorization.k8s.io"], "resources": ["subjectaccessreviews"], "verbs": ["create"]}]))),
        // Broader than Kubernetes' role of the same name: kube-controller-manager runs each
        // controller with a service account of its own, bound to a role for that controller,
        // while this controller-manager runs them all as itself. The garbage collector and the
        // namespace controller read, patch and delete objects of every kind (and the
        // namespace controller finalizes namespaces), node lifecycle writes node status and
        // taints and deletes pods, node IPAM patches nodes; the deployment, ReplicaSet,
        // ReplicationController, endpoints and service account controllers create what they own
        // (the latter also each namespace's kube-root-ca.crt ConfigMap) and write their objects'
        // status (`*` covers the status subresources).
        ("clusterroles", role("system:kube-controller-manager", labels.clone(), json!([
            {"apiGroups": ["*"], "resources": ["*"], "verbs": ["get", "list", "watch", "update", "patch", "delete", "deletecollection"]},
            {"apiGroups": [""], "resources": ["pods", "endpoints", "serviceaccounts", "serviceaccounts/token", "configmaps"], "verbs": ["create"]},
            {"apiGroups": ["apps"], "resources": ["replicasets"], "verbs": ["create"]},
            // Leader election, in --leader-elect-resource-namespace (kube-system).
            {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["create"]},
            events, events_v1,
            {"apiGroups": ["authorization.k8s.io"], "resources": ["subjectaccessreviews"], "verbs": ["create"]}]))),
        ("clusterrolebindings", binding("cluster-admin", "cluster-admin", &[("Group", "system:masters")])),
        ("clusterrolebindings", binding("system:basic-user", "system:basic-user", &[("Group", "system:authenticated")])),
        ("clusterrolebindings", binding("system:discovery", "system:discovery", &[("Group", "system:authenticated")])),
        ("clusterrolebindings", binding("system:public-info-viewer", "system:public-info-viewer", &[("Group", "system:authenticated"), ("Group", "system:unauthenticated")])),
        // Kubernetes binds it to kube-proxy alone; here every kubelet runs a service proxy too.
        ("clusterrolebindings", binding("system:node-proxier", "system:node-proxier", &[("User", "system:kube-proxy"), ("Group", node_authorizer::NODES_GROUP)])),
        ("clusterrolebindings", binding("system:kube-scheduler", "system:kube-scheduler", &[("User", "system:kube-scheduler")])),
        ("clusterrolebindings", binding("system:kube-controller-manager", "system:kube-controller-manager", &[("User", "system:kube-controller-manager")])),
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
        resources::find(RBAC_GROUP, "v1", plural).unwrap()
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
    }

}
