//! `wait`: until objects are deleted, exist, have a condition, or a field has a value, as
//! `kubectl wait` does (by polling, within `--timeout`): named objects, a type's objects in one
//! namespace or all (`-A`), or the objects of manifests (`-f`).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::commands::find;
use crate::discovery::{Resource, api_version, discover, encode, get_json};
use crate::kubeconfig::client_and_namespace;
use crate::output::outln;
use crate::{Config, CtlError};

#[derive(Clone, Debug, clap::Args)]
#[command(after_help = "Examples:\n  ctl wait pod/web --for=condition=Ready\n  ctl wait pod/web --for=jsonpath='{.status.phase}'=Running --timeout=2m\n  ctl wait deployment -l app=web --for=condition=Available=true\n  ctl wait pod/web --for=delete --timeout=60s")]
pub struct WaitArgs {
    /// TYPE/NAME..., or TYPE NAME..., or TYPE with -l or --all.
    pub targets: Vec<String>,
    /// delete, create, condition=NAME[=VALUE] (VALUE true when left out), or
    /// jsonpath='{.field}'[=VALUE].
    #[arg(long = "for")]
    pub condition: Option<String>,
    /// How long to wait for each object (Go's form: 30s, 5m, 1h); negative means a week.
    #[arg(long, default_value = "30s")]
    pub timeout: String,
    /// The objects of TYPE matching this label selector.
    #[arg(short = 'l', long)]
    pub selector: Option<String>,
    /// Every object of TYPE in the namespace.
    #[arg(long)]
    pub all: bool,
    /// With TYPE and -l or --all: the objects of every namespace.
    #[arg(short = 'A', long)]
    pub all_namespaces: bool,
    /// The objects of these manifest files or directories, or - for standard input.
    #[arg(short = 'f', long = "filename")]
    pub files: Vec<PathBuf>,
    /// Read the directories of -f recursively.
    #[arg(short = 'R', long)]
    pub recursive: bool,
}

/// One object to wait for; `namespace` is None for cluster-scoped kinds.
struct Target {
    resource: Resource,
    namespace: Option<String>,
    name: String,
}

/// What `--for` asks for.
#[derive(Debug, PartialEq)]
enum Wanted {
    Delete,
    Create,
    /// A status condition of this type with this status, both compared without case.
    Condition { name: String, status: String },
    /// A field (dotted, with `[N]` indexes); any value when None.
    Field { path: String, value: Option<String> },
}

/// How often the objects are read again while waiting.
const POLL: Duration = Duration::from_millis(250);

pub async fn run(config: &Config, args: &WaitArgs) -> Result<(), CtlError> {
    let wanted = parse_condition(args.condition.as_deref().unwrap_or_default())?;
    let timeout = match common::durations::parse_go_duration(&args.timeout) {
        Ok(nanos) if nanos < 0 => Duration::from_secs(7 * 24 * 3600),
        Ok(nanos) => Duration::from_nanos(nanos.unsigned_abs()),
        Err(err) => return Err(CtlError::Usage(format!("invalid argument {:?} for \"--timeout\" flag: {err}\nSee 'ctl wait --help' for usage.", args.timeout))),
    };
    if !args.files.is_empty() && !args.targets.is_empty() {
        return Err(CtlError::Usage("resource/name arguments cannot be provided when a path is specified".into()));
    }
    let (client, namespace) = client_and_namespace(config).await?;
    let served = discover(&client).await?;
    // As kubectl's builder (ContinueOnError): objects that cannot be resolved are reported after
    // the others were waited for, the resolution's errors first.
    let (targets, mut errors) = if args.files.is_empty() {
        (targets(&client, &served, &namespace, args).await?, Vec::new())
    } else {
        let (targets, errors) = file_targets(config, &served, &namespace, args)?;
        (selected(&client, targets, args.selector.as_deref()).await?, errors)
    };
    if targets.is_empty() && errors.is_empty() && wanted != Wanted::Delete {
        return Err(CtlError::Usage("no matching resources found".into()));
    }
    // One timeout for all the objects, as kubectl's single context.
    let deadline = Instant::now() + timeout;
    for target in targets {
        let Target { resource, namespace, name } = target;
        let path = resource.path(namespace.as_deref(), Some(&name));
        // Objects after the time ran out are not read: their wait times out at once.
        let outcome = if !timeout.is_zero() && Instant::now() >= deadline { Ok(Outcome::TimedOut) } else { wait_for(&client, &path, &wanted, deadline).await };
        match outcome {
            Ok(Outcome::Met) => outln!("{}/{name} condition met", resource.kind_prefix())?,
            Ok(Outcome::AlreadyGone) => {}
            // kubectl words a zero timeout's single look differently.
            Ok(Outcome::TimedOut) if timeout.is_zero() => errors.push(CtlError::Usage(format!("condition not met for {}/{name}", resource.plural))),
            Ok(Outcome::TimedOut) => errors.push(CtlError::Usage(format!("timed out waiting for the condition on {}/{name}", resource.plural))),
            Err(err) => errors.push(err),
        }
    }
    crate::apply::report_aggregate(errors)
}

/// The objects whose live labels match `selector` (all without one), as kubectl's builder
/// filters the objects of manifests; one that does not exist matches nothing.
async fn selected(client: &kube::Client, targets: Vec<Target>, selector: Option<&str>) -> Result<Vec<Target>, CtlError> {
    let Some(text) = selector else {
        return Ok(targets);
    };
    let selector = common::selector::LabelSelector::parse(text).map_err(|err| CtlError::Usage(err.to_string()))?;
    let mut kept = Vec::new();
    for target in targets {
        let path = target.resource.path(target.namespace.as_deref(), Some(&target.name));
        let live = match get_json(client, &path, "application/json").await {
            Ok(live) => live,
            Err(CtlError::Server { reason, .. }) if reason == "NotFound" => continue,
            Err(err) => return Err(err),
        };
        let labels: std::collections::BTreeMap<String, String> = serde_json::from_value(live["metadata"]["labels"].clone()).unwrap_or_default();
        if selector.matches(&labels) {
            kept.push(target);
        }
    }
    Ok(kept)
}

/// The objects of the `-f` manifests, and kubectl's errors for those that cannot be waited for:
/// a kind the server lacks, a namespace other than `-n`'s, or none with -A.
fn file_targets(config: &Config, served: &[Resource], namespace: &str, args: &WaitArgs) -> Result<(Vec<Target>, Vec<CtlError>), CtlError> {
    crate::apply::missing_path(&args.files)?;
    let manifests = crate::manifest::read_paths(&args.files, args.recursive, &mut std::io::stdin())?;
    let mut targets = Vec::new();
    let mut errors = Vec::new();
    for manifest in manifests {
        let object = &manifest.object;
        let version = object["apiVersion"].as_str().unwrap_or_default();
        let kind = object["kind"].as_str().unwrap_or_default();
        let name = object["metadata"]["name"].as_str().unwrap_or_default().to_string();
        let own_namespace = object["metadata"]["namespace"].as_str().filter(|namespace| !namespace.is_empty());
        let Some(resource) = served.iter().find(|resource| api_version(resource) == version && resource.kind == kind) else {
            errors.push(CtlError::Usage(format!(
                "resource mapping not found for name: {name:?} namespace: {:?} from {:?}: no matches for kind {kind:?} in version {version:?}\nensure CRDs are installed first",
                own_namespace.unwrap_or_default(),
                manifest.source
            )));
            continue;
        };
        let target_namespace = match (resource.namespaced, own_namespace, &config.namespace) {
            (false, _, _) => None,
            (true, Some(own), Some(flag)) if own != flag && !args.all_namespaces => {
                errors.push(CtlError::Usage(format!(
                    "the namespace from the provided object {own:?} does not match the namespace {flag:?}. You must pass '--namespace={own}' to perform this operation."
                )));
                continue;
            }
            (true, Some(own), _) => Some(own.to_string()),
            (true, None, _) if args.all_namespaces => {
                let group_version = if resource.group.is_empty() { format!("/{}", resource.version) } else { format!("{}/{}", resource.group, resource.version) };
                errors.push(CtlError::Usage(format!("no namespace set on resource {group_version}, Resource={} {name:?}", resource.plural)));
                continue;
            }
            (true, None, _) => Some(namespace.to_string()),
        };
        targets.push(Target { resource: resource.clone(), namespace: target_namespace, name });
    }
    Ok((targets, errors))
}

enum Outcome {
    Met,
    /// Waiting for a deletion of what was not there: kubectl says nothing of it.
    AlreadyGone,
    TimedOut,
}

/// Reads the object until it meets `wanted` or the deadline passes. A missing object fails at
/// once unless waiting for its deletion or creation.
async fn wait_for(client: &kube::Client, path: &str, wanted: &Wanted, deadline: Instant) -> Result<Outcome, CtlError> {
    let mut first_uid: Option<String> = None;
    let mut first = true;
    loop {
        let object = match get_json(client, path, "application/json").await {
            Ok(object) => Some(object),
            Err(CtlError::Server { reason, .. }) if reason == "NotFound" && matches!(wanted, Wanted::Delete | Wanted::Create) => None,
            Err(err) => return Err(err),
        };
        let met = match (wanted, &object) {
            (Wanted::Delete, None) if first => return Ok(Outcome::AlreadyGone),
            (Wanted::Delete, None) => true,
            // Deleted and made again under the same name is deleted, too.
            (Wanted::Delete, Some(object)) => {
                let uid = object["metadata"]["uid"].as_str().map(str::to_string);
                let replaced = first_uid.is_some() && uid != first_uid;
                first_uid = first_uid.or(uid);
                replaced
            }
            (Wanted::Create, found) => found.is_some(),
            (Wanted::Condition { name, status }, Some(object)) => condition_met(object, name, status),
            (Wanted::Field { path, value }, Some(object)) => field_met(object, path, value.as_deref())?,
            (_, None) => false,
        };
        first = false;
        if met {
            return Ok(Outcome::Met);
        }
        if Instant::now() >= deadline {
            return Ok(Outcome::TimedOut);
        }
        tokio::time::sleep(POLL.min(deadline.saturating_duration_since(Instant::now()))).await;
    }
}

/// The objects to wait for: `TYPE/NAME...`, `TYPE NAME...`, or a type's list (-l, --all) in the
/// namespace or, with -A, in all.
async fn targets(client: &kube::Client, served: &[Resource], namespace: &str, args: &WaitArgs) -> Result<Vec<Target>, CtlError> {
    let Some(first) = args.targets.first() else {
        return Err(CtlError::Usage(
            "You must provide one or more resources by argument or filename.\nExample resource specifications include:\n   '-f rsrc.yaml'\n   '--filename=rsrc.json'\n   '<resource> <name>'\n   '<resource>'".into(),
        ));
    };
    let named = first.contains('/') || args.targets.len() > 1;
    if named && args.all_namespaces {
        return Err(CtlError::Usage("a resource cannot be retrieved by name across all namespaces".into()));
    }
    let target = |resource: &Resource, name: &str| Target {
        resource: resource.clone(),
        namespace: resource.namespaced.then(|| namespace.to_string()),
        name: name.to_string(),
    };
    if first.contains('/') {
        return args
            .targets
            .iter()
            .map(|word| {
                let (kind, name) = word.split_once('/').unwrap_or((word, ""));
                Ok(target(find(served, kind)?, name))
            })
            .collect();
    }
    let resource = find(served, first)?;
    if args.targets.len() > 1 {
        return Ok(args.targets[1..].iter().map(|name| target(resource, name)).collect());
    }
    if args.selector.is_none() && !args.all {
        return Err(CtlError::Usage("resource(s) were provided, but no name was specified".into()));
    }
    let query = args.selector.as_ref().map(|selector| format!("?labelSelector={}", encode(selector))).unwrap_or_default();
    let scope = (!args.all_namespaces).then_some(namespace);
    let list = get_json(client, &format!("{}{query}", resource.path(scope, None)), "application/json").await?;
    Ok(list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|item| {
            let name = item["metadata"]["name"].as_str()?;
            let namespace = item["metadata"]["namespace"].as_str().map(str::to_string);
            Some(Target { resource: resource.clone(), namespace, name: name.to_string() })
        })
        .collect())
}

/// kubectl's forms of `--for`.
fn parse_condition(condition: &str) -> Result<Wanted, CtlError> {
    match condition.to_ascii_lowercase().as_str() {
        "delete" => return Ok(Wanted::Delete),
        "create" => return Ok(Wanted::Create),
        _ => {}
    }
    if let Some(rest) = condition.strip_prefix("condition=") {
        let (name, status) = rest.split_once('=').unwrap_or((rest, "true"));
        return Ok(Wanted::Condition { name: name.to_string(), status: status.to_string() });
    }
    if let Some(rest) = condition.strip_prefix("jsonpath=") {
        let format_error =
            || CtlError::Usage("jsonpath wait format must be --for=jsonpath='{.status.readyReplicas}'=3 or --for=jsonpath='{.status.readyReplicas}'".into());
        let (expression, value) = match rest.strip_prefix('{') {
            Some(braced) => {
                let (inner, after) = braced.split_once('}').ok_or_else(format_error)?;
                let value = match after {
                    "" => None,
                    after => Some(after.strip_prefix('=').ok_or_else(format_error)?.to_string()),
                };
                (inner.to_string(), value)
            }
            None => match rest.split_once('=') {
                Some((path, value)) => (path.to_string(), Some(value.to_string())),
                None => (rest.to_string(), None),
            },
        };
        if expression.trim().is_empty() {
            return Err(CtlError::Usage(
                "unexpected path string, expected a 'name1.name2' or '.name1.name2' or '{name1.name2}' or '{.name1.name2}'".into(),
            ));
        }
        return Ok(Wanted::Field { path: expression.trim().to_string(), value });
    }
    Err(CtlError::Usage(format!("unrecognized condition: {condition:?}")))
}

/// kubectl's `IsConditionMet`: the first condition of that type decides, unless it describes an
/// older generation than the object's.
fn condition_met(object: &Value, name: &str, status: &str) -> bool {
    let Some(condition) = object["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|condition| condition["type"].as_str().is_some_and(|kind| kind.eq_ignore_ascii_case(name)) && condition["status"].is_string())
    else {
        return false;
    };
    if let Some(generation) = object["metadata"]["generation"].as_i64() {
        let observed = condition["observedGeneration"].as_i64().or_else(|| object["status"]["observedGeneration"].as_i64());
        if observed.is_some_and(|observed| observed < generation) {
            return false;
        }
    }
    condition["status"].as_str().is_some_and(|own| own.eq_ignore_ascii_case(status))
}

/// Whether the field at `path` exists (no value asked) or reads as `value`.
fn field_met(object: &Value, path: &str, value: Option<&str>) -> Result<bool, CtlError> {
    let Some(found) = lookup(object, path) else {
        return Ok(false);
    };
    let Some(value) = value else {
        return Ok(true);
    };
    let text = match found {
        Value::String(text) => text.clone(),
        Value::Array(_) | Value::Object(_) => {
            return Err(CtlError::Usage("jsonpath leads to a nested object or list which is not supported".into()));
        }
        other => other.to_string(),
    };
    Ok(text == value)
}

/// A small JSONPath: `.a.b`, `.items[0].name`, `$` or `.` for the object itself.
fn lookup<'a>(object: &'a Value, path: &str) -> Option<&'a Value> {
    let mut current = object;
    for step in path.trim_start_matches('$').split('.').filter(|step| !step.is_empty()) {
        let (field, indexes) = step.split_once('[').map_or((step, ""), |(field, rest)| (field, rest));
        if !field.is_empty() {
            current = current.get(field)?;
        }
        for index in indexes.split('[').filter(|index| !index.is_empty()) {
            let index: usize = index.trim_end_matches(']').parse().ok()?;
            current = current.get(index)?;
        }
    }
    Some(current)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn conditions_parse_as_kubectl_parses_them() {
        assert_eq!(parse_condition("Delete").unwrap(), Wanted::Delete);
        assert_eq!(parse_condition("condition=Ready").unwrap(), Wanted::Condition { name: "Ready".into(), status: "true".into() });
        assert_eq!(parse_condition("condition=Ready=False").unwrap(), Wanted::Condition { name: "Ready".into(), status: "False".into() });
        assert_eq!(parse_condition("jsonpath={.status.phase}=Running").unwrap(), Wanted::Field { path: ".status.phase".into(), value: Some("Running".into()) });
        assert_eq!(parse_condition("jsonpath={.status.phase}").unwrap(), Wanted::Field { path: ".status.phase".into(), value: None });
        assert!(parse_condition("bad").is_err());
        let pod = json!({"status": {"phase": "Running", "containerStatuses": [{"ready": true}]}});
        assert!(field_met(&pod, ".status.phase", Some("Running")).unwrap());
        assert!(field_met(&pod, ".status.containerStatuses[0].ready", Some("true")).unwrap());
        assert!(!field_met(&pod, ".status.podIP", None).unwrap());
    }
}
