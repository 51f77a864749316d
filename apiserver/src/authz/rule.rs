//! RBAC rules (what a role grants, and whether it covers a request or another rule) and the
//! decisions authorizers reach; shared by the RBAC and Node authorizers.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::request::Attributes;

/// One RBAC rule, as stored.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rule {
    pub verbs: Vec<String>,
    pub api_groups: Vec<String>,
    pub resources: Vec<String>,
    pub resource_names: Vec<String>,
    pub non_resource_urls: Vec<String>,
}

pub fn strings(value: &Value) -> Vec<String> {
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

    pub fn to_json(&self) -> Value {
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
pub fn go_quoted(list: &[String]) -> String {
    let items: Vec<String> = list.iter().map(|item| format!("{item:?}")).collect();
    format!("[{}]", items.join(" "))
}

/// The rules of `servant` that `owner` does not cover, compacted and worded as Kubernetes'
/// escalation error lists them: one line per rule, sorted, rules of one group and resource that
/// differ only by verb made one.
pub fn uncovered(owner: &[Rule], servant: &[Rule]) -> Vec<String> {
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
