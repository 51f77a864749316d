//! `cordon`, `uncordon` and `taint`: the node verbs that change a Node's spec, with kubectl's
//! messages and its rules for adding, replacing and removing taints.

use serde_json::{Value, json};

use crate::discovery::{discover, encode, get_json, send};
use crate::kubeconfig::client;
use crate::output::outln;
use crate::{Config, CtlError};

#[derive(Clone, Debug, clap::Args)]
#[command(after_help = "Examples:\n  ctl cordon node-1 node-2\n  ctl uncordon -l role=edge")]
pub struct CordonArgs {
    /// The nodes.
    pub nodes: Vec<String>,
    /// The nodes matching this label selector.
    #[arg(short = 'l', long)]
    pub selector: Option<String>,
    /// none, client (print only) or server (the server checks the change and keeps nothing).
    #[arg(long, default_value = "none", num_args = 0..=1, default_missing_value = "client")]
    pub dry_run: String,
}

#[derive(Clone, Debug, clap::Args)]
#[command(after_help = "Examples:\n  ctl taint nodes node-1 dedicated=gpu:NoSchedule\n  ctl taint nodes node-1 dedicated=db:NoSchedule --overwrite\n  ctl taint nodes node-1 dedicated:NoSchedule-\n  ctl taint nodes -l role=edge maintenance-")]
pub struct TaintArgs {
    /// `node NAME...`, then the changes: KEY=VALUE:EFFECT or KEY:EFFECT adds a
    /// taint, KEY:EFFECT- or KEY- removes taints.
    #[arg(required = true)]
    pub args: Vec<String>,
    /// Replace a taint of the same key and effect instead of refusing.
    #[arg(long)]
    pub overwrite: bool,
    /// Every node.
    #[arg(long)]
    pub all: bool,
    /// The nodes matching this label selector.
    #[arg(short = 'l', long)]
    pub selector: Option<String>,
    /// none, client (print only) or server (the server checks the change and keeps nothing).
    #[arg(long, default_value = "none", num_args = 0..=1, default_missing_value = "client")]
    pub dry_run: String,
}

/// Where a change goes: nowhere (client), to the server's checks only (server), or for real.
fn patch_query(dry_run: &str) -> Result<Option<&'static str>, CtlError> {
    match dry_run {
        "none" => Ok(Some("")),
        "server" => Ok(Some("?dryRun=All")),
        "client" => Ok(None),
        other => Err(CtlError::Usage(format!("Invalid dry-run value ({other}). Must be \"none\", \"server\", or \"client\"."))),
    }
}

/// A taint as kubectl parses it; an empty effect (removals only) means every effect.
#[derive(Clone, Debug, PartialEq)]
struct Taint {
    key: String,
    value: String,
    effect: String,
}

impl Taint {
    fn from_node(value: &Value) -> Self {
        let text = |field: &str| value[field].as_str().unwrap_or_default().to_string();
        Self { key: text("key"), value: text("value"), effect: text("effect") }
    }

    fn to_json(&self) -> Value {
        let mut taint = json!({"key": self.key, "effect": self.effect});
        if !self.value.is_empty() {
            taint["value"] = json!(self.value);
        }
        taint
    }

    /// client-go's `Taint.ToString`, as error messages show a taint.
    fn spec(&self) -> String {
        let mut text = self.key.clone();
        if !self.value.is_empty() {
            text = format!("{text}={}", self.value);
        }
        if !self.effect.is_empty() {
            text = format!("{text}:{}", self.effect);
        }
        text
    }
}

pub async fn cordon(config: &Config, args: &CordonArgs, unschedulable: bool) -> Result<(), CtlError> {
    let verb = if unschedulable { "cordon" } else { "uncordon" };
    let query = patch_query(&args.dry_run)?;
    let suffix = match args.dry_run.as_str() {
        "client" => " (dry run)",
        "server" => " (server dry run)",
        _ => "",
    };
    if args.nodes.is_empty() && args.selector.is_none() {
        return Err(CtlError::Usage(format!("USAGE: {verb} NODE [flags]\nSee 'ctl {verb} -h' for help and examples")));
    }
    let client = client(config).await?;
    for node in nodes(&client, &args.nodes, args.selector.as_deref(), false).await? {
        let name = node["metadata"]["name"].as_str().unwrap_or_default();
        if node["spec"]["unschedulable"].as_bool().unwrap_or(false) == unschedulable {
            outln!("node/{name} already {verb}ed{suffix}")?;
            continue;
        }
        // kubectl's patch leaves the field out rather than false when a node is uncordoned.
        let patch = json!({"spec": {"unschedulable": if unschedulable { json!(true) } else { Value::Null }}});
        if let Some(query) = query {
            send(&client, "PATCH", &format!("/api/v1/nodes/{}{query}", encode(name)), "application/merge-patch+json", &patch).await?;
        }
        outln!("node/{name} {verb}ed{suffix}")?;
    }
    Ok(())
}

/// The nodes named, or those the selector (or `all`) lists.
pub async fn nodes(client: &kube::Client, names: &[String], selector: Option<&str>, all: bool) -> Result<Vec<Value>, CtlError> {
    if selector.is_some() || all {
        let query = selector.map(|selector| format!("?labelSelector={}", encode(selector))).unwrap_or_default();
        let list = get_json(client, &format!("/api/v1/nodes{query}"), "application/json").await?;
        return Ok(list["items"].as_array().cloned().unwrap_or_default());
    }
    let mut found = Vec::new();
    for name in names {
        found.push(get_json(client, &format!("/api/v1/nodes/{}", encode(name)), "application/json").await?);
    }
    Ok(found)
}

pub async fn taint(config: &Config, args: &TaintArgs) -> Result<(), CtlError> {
    let query = patch_query(&args.dry_run)?;
    let usage = |message: String| CtlError::Usage(format!("{message}\nSee 'ctl taint -h' for help and examples"));
    // Resources first, then taint changes, as kubectl splits its arguments.
    let is_change = |word: &str| word.contains('=') || word.contains(':') || word.ends_with('-');
    let split = args.args.iter().position(|word| is_change(word)).unwrap_or(args.args.len());
    let (resources, changes) = args.args.split_at(split);
    if let Some(word) = changes.iter().find(|word| !is_change(word)) {
        return Err(CtlError::Usage(format!("all resources must be specified before taint changes: {word}")));
    }
    if resources.is_empty() {
        return Err(CtlError::Usage("one or more resources must be specified as <resource> <name>".into()));
    }
    if changes.is_empty() {
        return Err(CtlError::Usage("at least one taint update is required".into()));
    }
    let (add, remove) = parse_changes(changes).map_err(usage)?;
    let conflicts: Vec<String> = remove
        .iter()
        .filter(|removed| add.iter().any(|added| added.key == removed.key && (removed.effect.is_empty() || added.effect == removed.effect)))
        .map(|removed| format!("{}={}", removed.key, removed.effect))
        .collect();
    if !conflicts.is_empty() {
        return Err(CtlError::Usage(format!("can not both modify and remove the following taint(s) in the same command: {}", conflicts.join(", "))));
    }
    let names = node_names(config, resources).await?;
    if args.all && args.selector.is_some() {
        return Err(CtlError::Usage("setting 'all' parameter with a non empty selector is prohibited".into()));
    }
    if !args.all && args.selector.is_none() && names.is_empty() {
        return Err(CtlError::Usage("at least one resource name must be specified since 'all' parameter is not set".into()));
    }
    let client = client(config).await?;
    // kubectl goes on past a node it cannot find or change, and reports every failure at the end.
    let mut errors = Vec::new();
    let mut found = Vec::new();
    if args.selector.is_some() || args.all {
        found = nodes(&client, &[], args.selector.as_deref(), args.all).await?;
    } else {
        for name in &names {
            match nodes(&client, std::slice::from_ref(name), None, false).await {
                Ok(node) => found.extend(node),
                Err(err) => errors.push(err),
            }
        }
    }
    for node in found {
        let name = node["metadata"]["name"].as_str().unwrap_or_default();
        let old: Vec<Taint> = node["spec"]["taints"].as_array().into_iter().flatten().map(Taint::from_node).collect();
        let (operation, taints) = match changed_taints(name, &old, &add, &remove, args.overwrite) {
            Ok(changed) => changed,
            Err(message) => {
                errors.push(CtlError::Usage(message));
                continue;
            }
        };
        let taints: Vec<Value> = taints.iter().map(Taint::to_json).collect();
        let patch = json!({"spec": {"taints": if taints.is_empty() { Value::Null } else { json!(taints) }}});
        // kubectl's taint says nothing of a dry run.
        let sent = match query {
            Some(query) => send(&client, "PATCH", &format!("/api/v1/nodes/{}{query}", encode(name)), "application/merge-patch+json", &patch).await.map(drop),
            None => Ok(()),
        };
        match sent {
            Ok(()) => outln!("node/{name} {operation}")?,
            Err(err) => errors.push(err),
        }
    }
    report(errors)
}

/// Failures as kubectl reports several at once: one as it would alone, more one a line with no
/// `error: ` prefix.
fn report(mut errors: Vec<CtlError>) -> Result<(), CtlError> {
    if errors.len() <= 1 {
        return errors.pop().map_or(Ok(()), Err);
    }
    for error in &errors {
        eprintln!("{error}");
    }
    Err(CtlError::Reported(errors.len()))
}

/// The node names of `node NAME...`; kubectl taints nodes only, and takes no `node/NAME`.
async fn node_names(config: &Config, resources: &[String]) -> Result<Vec<String>, CtlError> {
    let (kind, names) = (resources[0].as_str(), resources[1..].to_vec());
    if ["node", "nodes", "no"].contains(&kind.to_ascii_lowercase().as_str()) {
        return Ok(names);
    }
    let served = discover(&client(config).await?).await?;
    match served.iter().find(|resource| resource.matches(kind)) {
        Some(resource) if resource.kind == "Node" => Ok(names),
        Some(_) => Err(CtlError::Usage(format!("invalid resource type {kind}, only node types are supported"))),
        None => {
            // kubectl prints this one without its `error: ` prefix.
            eprintln!("the server doesn't have a resource type {kind:?}");
            Err(CtlError::Reported(1))
        }
    }
}

/// kubectl's `parseTaints`: the taints to add and those to remove.
fn parse_changes(changes: &[String]) -> Result<(Vec<Taint>, Vec<Taint>), String> {
    let mut add: Vec<Taint> = Vec::new();
    let mut remove = Vec::new();
    for change in changes {
        if let Some(spec) = change.strip_suffix('-') {
            let taint = parse_taint(spec)?;
            remove.push(Taint { value: String::new(), ..taint });
            continue;
        }
        let taint = parse_taint(change)?;
        if taint.effect.is_empty() {
            return Err(format!("invalid taint spec: {change}"));
        }
        if add.iter().any(|other| other.key == taint.key && other.effect == taint.effect) {
            // Go's `%v` of the Taint struct.
            return Err(format!("duplicated taints with the same key and effect: {{{} {} {} <nil>}}", taint.key, taint.value, taint.effect));
        }
        add.push(taint);
    }
    Ok((add, remove))
}

/// `KEY=VALUE:EFFECT`, `KEY:EFFECT` or `KEY`.
fn parse_taint(spec: &str) -> Result<Taint, String> {
    let invalid = || format!("invalid taint spec: {spec}");
    let parts: Vec<&str> = spec.split(':').collect();
    let (key, value, effect) = match parts.as_slice() {
        [key] => (key.to_string(), String::new(), String::new()),
        [key_value, effect] => {
            if !["NoSchedule", "PreferNoSchedule", "NoExecute"].contains(effect) {
                return Err(format!("invalid taint effect: {effect}, unsupported taint effect"));
            }
            match key_value.split('=').collect::<Vec<_>>().as_slice() {
                [key] => (key.to_string(), String::new(), effect.to_string()),
                [key, value] => (key.to_string(), value.to_string(), effect.to_string()),
                _ => return Err(invalid()),
            }
        }
        _ => return Err(invalid()),
    };
    if let Some(problem) = qualified_name_problem(&key).or_else(|| label_value_problem(&value)) {
        return Err(format!("{}, {problem}", invalid()));
    }
    Ok(Taint { key, value, effect })
}

/// What apimachinery's `IsQualifiedName` says of a taint key (`prefix/name`), if anything.
fn qualified_name_problem(key: &str) -> Option<String> {
    let (prefix, name) = match key.split('/').collect::<Vec<_>>().as_slice() {
        [name] => (None, *name),
        [prefix, name] => (Some(*prefix), *name),
        _ => {
            return Some(
                "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')".into(),
            );
        }
    };
    if prefix.is_some_and(str::is_empty) {
        return Some("prefix part must be non-empty".into());
    }
    if name.is_empty() {
        return Some("name part must be non-empty".into());
    }
    if name.len() > 63 {
        return Some("name part must be no more than 63 characters".into());
    }
    if !alphanumeric_ends(name) {
        return Some("name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')".into());
    }
    None
}

/// What apimachinery's `IsValidLabelValue` says of a taint value, if anything.
fn label_value_problem(value: &str) -> Option<String> {
    if value.len() > 63 {
        return Some("must be no more than 63 characters".into());
    }
    if !value.is_empty() && !alphanumeric_ends(value) {
        return Some("a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')".into());
    }
    None
}

/// `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`
fn alphanumeric_ends(text: &str) -> bool {
    text.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        && text.starts_with(|c: char| c.is_ascii_alphanumeric())
        && text.ends_with(|c: char| c.is_ascii_alphanumeric())
}

/// kubectl's `updateTaints` and `reorganizeTaints`: the new taints first, then the old ones they
/// do not replace, less those removed; and the word kubectl prints for the change.
fn changed_taints(node: &str, old: &[Taint], add: &[Taint], remove: &[Taint], overwrite: bool) -> Result<(&'static str, Vec<Taint>), String> {
    if !overwrite {
        let existing: Vec<&str> = add
            .iter()
            .flat_map(|taint| old.iter().filter(move |other| other.key == taint.key && other.effect == taint.effect).map(|_| taint.key.as_str()))
            .collect();
        if !existing.is_empty() {
            return Err(format!("node {node} already has {} taint(s) with same effect(s) and --overwrite is false", existing.join(",")));
        }
    }
    let mut taints = add.to_vec();
    for taint in old {
        if !add.iter().any(|new| new.key == taint.key && new.effect == taint.effect) {
            taints.push(taint.clone());
        }
    }
    let added = taints.len() != old.len();
    let mut errors = Vec::new();
    // As kubectl, only the last removal says whether anything was deleted.
    let mut deleted = false;
    for removed in remove {
        let before = taints.len();
        taints.retain(|taint| taint.key != removed.key || (!removed.effect.is_empty() && taint.effect != removed.effect));
        deleted = taints.len() != before;
        if !deleted {
            errors.push(format!("taint {:?} not found", removed.spec()));
        }
    }
    match errors.len() {
        0 => {}
        1 => return Err(errors.remove(0)),
        _ => return Err(format!("[{}]", errors.join(", "))),
    }
    let operation = if (added && deleted) || overwrite {
        "modified"
    } else if added {
        "tainted"
    } else {
        "untainted"
    };
    Ok((operation, taints))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn taint(key: &str, value: &str, effect: &str) -> Taint {
        Taint { key: key.into(), value: value.into(), effect: effect.into() }
    }

    #[test]
    fn taints_change_as_kubectl_changes_them() {
        let old = [taint("a", "b", "NoSchedule"), taint("k", "", "NoExecute")];
        let (operation, taints) = changed_taints("n1", &old, &[taint("q", "", "NoSchedule")], &[], false).unwrap();
        assert_eq!((operation, taints.len()), ("tainted", 3));
        assert_eq!(taints[0].key, "q");
        let (operation, taints) = changed_taints("n1", &old, &[taint("a", "c", "NoSchedule")], &[], true).unwrap();
        assert_eq!((operation, taints[0].value.as_str(), taints.len()), ("modified", "c", 2));
        let refused = changed_taints("n1", &old, &[taint("a", "c", "NoSchedule")], &[], false).unwrap_err();
        assert_eq!(refused, "node n1 already has a taint(s) with same effect(s) and --overwrite is false");
        let (operation, taints) = changed_taints("n1", &old, &[], &[taint("a", "", "")], false).unwrap();
        assert_eq!((operation, taints.len()), ("untainted", 1));
        assert_eq!(changed_taints("n1", &old, &[], &[taint("a", "", "NoExecute")], false).unwrap_err(), "taint \"a:NoExecute\" not found");
        assert_eq!(parse_taint("x=y:Bad").unwrap_err(), "invalid taint effect: Bad, unsupported taint effect");
        assert_eq!(parse_taint("a=b=c:NoSchedule").unwrap_err(), "invalid taint spec: a=b=c:NoSchedule");
        assert!(parse_taint("example.com/a_b=x.y:NoSchedule").is_ok());
        assert!(parse_taint("k=v").unwrap_err().starts_with("invalid taint spec: k=v, name part must consist of"));
        assert!(parse_taint("k=-v:NoSchedule").unwrap_err().starts_with("invalid taint spec: k=-v:NoSchedule, a valid label must be"));
    }
}
