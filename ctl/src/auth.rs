//! `auth can-i` and `auth whoami`: the server's SelfSubjectAccessReview, SelfSubjectRulesReview
//! and SelfSubjectReview, printed as kubectl prints them.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use crate::discovery::{discover, send};
use crate::kubeconfig::client_config;
use crate::output::{out, outln};
use crate::{Config, CtlError};

#[derive(Clone, Debug, clap::Subcommand)]
pub enum AuthCommand {
    /// Check whether an action is allowed: VERB TYPE[/NAME], or VERB /URL.
    CanI(CanIArgs),
    /// Print who the server takes you for.
    Whoami(WhoamiArgs),
}

/// kubectl's `--as` and `--as-group`: ask as another user (the server must allow impersonation).
#[derive(Clone, Debug, clap::Args)]
pub struct Impersonation {
    /// The user to impersonate.
    #[arg(long = "as")]
    pub user: Option<String>,
    /// A group to impersonate (repeatable).
    #[arg(long = "as-group")]
    pub groups: Vec<String>,
}

#[derive(Clone, Debug, clap::Args)]
#[command(after_help = "Examples:\n  ctl auth can-i create pods -n dev\n  ctl auth can-i get deployments.apps/web\n  ctl auth can-i get /healthz\n  ctl auth can-i list secrets -A --as=jane\n  ctl auth can-i --list -n dev")]
pub struct CanIArgs {
    pub args: Vec<String>,
    /// Ask about every namespace.
    #[arg(short = 'A', long)]
    pub all_namespaces: bool,
    /// List every action allowed in the namespace.
    #[arg(long)]
    pub list: bool,
    /// With --list, leave the header out.
    #[arg(long)]
    pub no_headers: bool,
    /// Print nothing; the exit status answers.
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// A subresource, such as `log` or `scale`.
    #[arg(long)]
    pub subresource: Option<String>,
    #[command(flatten)]
    pub impersonation: Impersonation,
}

#[derive(Clone, Debug, clap::Args)]
#[command(after_help = "Examples:\n  ctl auth whoami\n  ctl auth whoami -o json")]
pub struct WhoamiArgs {
    /// json or yaml; a table without it.
    #[arg(short = 'o', long)]
    pub output: Option<String>,
    #[command(flatten)]
    pub impersonation: Impersonation,
}

pub async fn run(config: &Config, command: &AuthCommand) -> Result<(), CtlError> {
    match command {
        AuthCommand::CanI(args) => can_i(config, args).await,
        AuthCommand::Whoami(args) => whoami(config, args).await,
    }
}

async fn client(config: &Config, impersonation: &Impersonation) -> Result<(kube::Client, String), CtlError> {
    let (mut client_config, namespace) = client_config(config).await?;
    if impersonation.user.is_some() {
        client_config.auth_info.impersonate = impersonation.user.clone();
    }
    if !impersonation.groups.is_empty() {
        client_config.auth_info.impersonate_groups = Some(impersonation.groups.clone());
    }
    Ok((kube::Client::try_from(client_config)?, namespace))
}

/// A warning as kubectl's warning printer writes one: its messages end in a newline of their own.
fn warn(message: &str) {
    eprintln!("Warning: {message}\n");
}

async fn can_i(config: &Config, args: &CanIArgs) -> Result<(), CtlError> {
    if args.list {
        if !args.args.is_empty() {
            return Err(CtlError::Usage("list option must be specified with no arguments".into()));
        }
        if args.quiet || args.all_namespaces || args.subresource.is_some() {
            return Err(CtlError::Usage("list option can't be specified with neither quiet, all-namespaces nor subresource options".into()));
        }
        return list(config, args).await;
    }
    let [verb, target] = args.args.as_slice() else {
        return Err(CtlError::Usage(
            "you must specify two arguments: verb resource or verb resource/resourceName.\nSee 'ctl auth can-i -h' for help and examples.".into(),
        ));
    };
    let (client, namespace) = client(config, &args.impersonation).await?;
    let namespace = if args.all_namespaces { String::new() } else { namespace };
    let spec = if target.starts_with('/') {
        if args.subresource.is_some() {
            return Err(CtlError::Usage("--subresource can not be used with NonResourceURL".into()));
        }
        if !["get", "put", "post", "head", "options", "delete", "patch", "*"].contains(&verb.as_str()) {
            warn(&format!("verb '{verb}' is not a known verb"));
        }
        json!({"nonResourceAttributes": {"verb": verb, "path": target}})
    } else {
        let (kind, name) = target.split_once('/').unwrap_or((target, ""));
        let (group, resource, namespaced) = resolve(&client, kind).await?;
        if !args.all_namespaces && namespaced == Some(false) {
            match group.as_str() {
                "" => warn(&format!("resource '{resource}' is not namespace scoped")),
                group => warn(&format!("resource '{resource}' is not namespace scoped in group '{group}'")),
            }
        }
        const VERBS: &[&str] =
            &["get", "list", "watch", "create", "update", "patch", "delete", "deletecollection", "use", "bind", "impersonate", "*", "approve", "sign", "escalate", "attest"];
        if !args.all_namespaces && !VERBS.contains(&verb.as_str()) {
            warn(&format!("verb '{verb}' is not a known verb"));
        }
        let mut attributes = json!({"namespace": namespace, "verb": verb, "group": group, "resource": resource, "name": name});
        if let Some(subresource) = &args.subresource {
            attributes["subresource"] = json!(subresource);
        }
        json!({"resourceAttributes": attributes})
    };
    if args.no_headers {
        return Err(CtlError::Usage("--no-headers cannot be set without --list specified".into()));
    }
    let review = json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview", "spec": spec});
    let answer = send(&client, "POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", "application/json", &review).await?;
    let status = &answer["status"];
    let allowed = status["allowed"].as_bool().unwrap_or(false);
    if !args.quiet {
        let mut line = if allowed { "yes".to_string() } else { "no".to_string() };
        // kubectl gives the reasons for a refusal only.
        for field in ["reason", "evaluationError"].into_iter().filter(|_| !allowed) {
            if let Some(text) = status[field].as_str().filter(|text| !text.is_empty()) {
                line.push_str(&format!(" - {text}"));
            }
        }
        outln!("{line}")?;
    }
    if allowed { Ok(()) } else { Err(CtlError::Reported(1)) }
}

/// The group and plural of a resource type as discovery knows it, and whether it is namespaced
/// (None for a type the server does not serve, which is asked about as typed, as kubectl does).
async fn resolve(client: &kube::Client, kind: &str) -> Result<(String, String, Option<bool>), CtlError> {
    if kind == "*" {
        return Ok((String::new(), kind.to_string(), None));
    }
    let served = discover(client).await?;
    if let Some(resource) = served.iter().find(|resource| resource.matches(kind)) {
        return Ok((resource.group.clone(), resource.plural.clone(), Some(resource.namespaced)));
    }
    let lowered = kind.to_ascii_lowercase();
    // client-go's ParseResourceArg: `resource.group`.
    let (resource, group) = lowered.split_once('.').unwrap_or((&lowered, ""));
    if !["users", "groups"].contains(&lowered.as_str()) {
        match group {
            "" => warn(&format!("the server doesn't have a resource type '{resource}'")),
            group => warn(&format!("the server doesn't have a resource type '{resource}' in group '{group}'")),
        }
    }
    Ok((String::new(), kind.to_string(), None))
}

/// One rule after kubectl's `BreakdownRule` and `CompactRules`: a resource rule has one group,
/// one resource and at most one name; a non-resource rule one URL and one verb.
#[derive(Clone, Debug, Default)]
struct Rule {
    verbs: Vec<String>,
    groups: Vec<String>,
    resources: Vec<String>,
    names: Vec<String>,
    urls: Vec<String>,
}

impl Rule {
    /// The generated `PolicyRule.String()`, which kubectl sorts the rules by.
    fn sort_key(&self) -> String {
        format!(
            "&PolicyRule{{Verbs:{},APIGroups:{},Resources:{},ResourceNames:{},NonResourceURLs:{},}}",
            go_list(&self.verbs),
            go_list(&self.groups),
            go_list(&self.resources),
            go_list(&self.names),
            go_list(&self.urls)
        )
    }

    /// kubectl's `CombineResourceGroup`: `resource.group/subresource`.
    fn resource_cell(&self) -> String {
        let (Some(resource), group) = (self.resources.first(), self.groups.first().map(String::as_str).unwrap_or_default()) else {
            return String::new();
        };
        let (resource, subresource) = resource.split_once('/').map_or((resource.as_str(), None), |(resource, sub)| (resource, Some(sub)));
        let mut cell = resource.to_string();
        if !group.is_empty() {
            cell = format!("{cell}.{group}");
        }
        if let Some(subresource) = subresource {
            cell = format!("{cell}/{subresource}");
        }
        cell
    }
}

/// Go's `%v` of a string slice.
fn go_list(items: &[String]) -> String {
    format!("[{}]", items.join(" "))
}

fn strings(value: &Value) -> Vec<String> {
    value.as_array().into_iter().flatten().filter_map(Value::as_str).map(str::to_string).collect()
}

/// The rules of a SelfSubjectRulesReview as kubectl lists them: broken down, resource rules that
/// differ only by verb merged (verbs sorted), then sorted by their text.
fn rules(status: &Value) -> Vec<Rule> {
    let mut merged: BTreeMap<(String, String, Option<String>), BTreeSet<String>> = BTreeMap::new();
    let mut rules = Vec::new();
    for rule in status["resourceRules"].as_array().into_iter().flatten() {
        let names = strings(&rule["resourceNames"]);
        for group in strings(&rule["apiGroups"]) {
            for resource in strings(&rule["resources"]) {
                let named: Vec<Option<String>> = if names.is_empty() { vec![None] } else { names.iter().cloned().map(Some).collect() };
                for name in named {
                    merged.entry((group.clone(), resource.clone(), name)).or_default().extend(strings(&rule["verbs"]));
                }
            }
        }
    }
    for rule in status["nonResourceRules"].as_array().into_iter().flatten() {
        for url in strings(&rule["nonResourceURLs"]) {
            for verb in strings(&rule["verbs"]) {
                rules.push(Rule { verbs: vec![verb], urls: vec![url.clone()], ..Rule::default() });
            }
        }
    }
    for ((group, resource, name), verbs) in merged {
        rules.push(Rule { verbs: verbs.into_iter().collect(), groups: vec![group], resources: vec![resource], names: name.into_iter().collect(), urls: vec![] });
    }
    rules.sort_by_cached_key(Rule::sort_key);
    rules
}

async fn list(config: &Config, args: &CanIArgs) -> Result<(), CtlError> {
    let (client, namespace) = client(config, &args.impersonation).await?;
    let review = json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectRulesReview", "spec": {"namespace": namespace}});
    let answer = send(&client, "POST", "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews", "application/json", &review).await?;
    let status = &answer["status"];
    if status["incomplete"].as_bool().unwrap_or(false) {
        eprintln!("warning: the list may be incomplete: {}", status["evaluationError"].as_str().unwrap_or_default());
    }
    let mut rows = Vec::new();
    if !args.no_headers {
        rows.push(["Resources", "Non-Resource URLs", "Resource Names", "Verbs"].map(String::from).to_vec());
    }
    for rule in rules(status) {
        rows.push(vec![rule.resource_cell(), go_list(&rule.urls), go_list(&rule.names), go_list(&rule.verbs)]);
    }
    // kubectl's tab writer makes a column at least six wide with its padding of three.
    for row in &mut rows {
        let last = row.len() - 1;
        for cell in &mut row[..last] {
            *cell = format!("{cell:<3}");
        }
    }
    out!("{}", crate::print::columns(&rows))?;
    Ok(())
}

/// A SelfSubjectReview's user in the order of its Go type, which kubectl's JSON keeps.
#[derive(serde::Serialize)]
struct UserInfo {
    #[serde(skip_serializing_if = "Option::is_none")]
    username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    uid: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    groups: Vec<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    extra: BTreeMap<String, Vec<String>>,
}

async fn whoami(config: &Config, args: &WhoamiArgs) -> Result<(), CtlError> {
    let (client, _) = client(config, &args.impersonation).await?;
    let review = json!({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"});
    let answer = send(&client, "POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews", "application/json", &review).await?;
    let user = &answer["status"]["userInfo"];
    let text = |field: &str| user[field].as_str().filter(|text| !text.is_empty()).map(str::to_string);
    let extra: BTreeMap<String, Vec<String>> = user["extra"].as_object().into_iter().flatten().map(|(key, values)| (key.clone(), strings(values))).collect();
    let info = UserInfo { username: text("username"), uid: text("uid"), groups: strings(&user["groups"]), extra };
    let format_error = |err: String| CtlError::Usage(format!("cannot print the review: {err}"));
    match args.output.as_deref() {
        None | Some("") => {
            let mut rows = vec![vec!["ATTRIBUTE".to_string(), "VALUE".to_string()]];
            rows.extend(info.username.iter().map(|name| vec!["Username".to_string(), name.clone()]));
            rows.extend(info.uid.iter().map(|uid| vec!["UID".to_string(), uid.clone()]));
            if !info.groups.is_empty() {
                rows.push(vec!["Groups".to_string(), go_list(&info.groups)]);
            }
            rows.extend(info.extra.iter().map(|(key, values)| vec![format!("Extra: {key}"), go_list(values)]));
            out!("{}", crate::print::columns(&rows))?;
        }
        Some("json") => {
            #[derive(serde::Serialize)]
            struct Status<'a> {
                #[serde(rename = "userInfo")]
                user_info: &'a UserInfo,
            }
            #[derive(serde::Serialize)]
            struct Review<'a> {
                kind: &'a str,
                #[serde(rename = "apiVersion")]
                api_version: &'a str,
                metadata: Value,
                status: Status<'a>,
            }
            let status = Status { user_info: &info };
            let review = Review { kind: "SelfSubjectReview", api_version: "authentication.k8s.io/v1", metadata: json!({"creationTimestamp": null}), status };
            // kubectl indents its JSON by four spaces.
            let mut bytes = Vec::new();
            let mut serializer = serde_json::Serializer::with_formatter(&mut bytes, serde_json::ser::PrettyFormatter::with_indent(b"    "));
            serde::Serialize::serialize(&review, &mut serializer).map_err(|err| format_error(err.to_string()))?;
            outln!("{}", String::from_utf8_lossy(&bytes))?;
        }
        Some("yaml") => {
            let info = serde_json::to_value(&info).map_err(|err| format_error(err.to_string()))?;
            let review = json!({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview", "metadata": {"creationTimestamp": null}, "status": {"userInfo": info}});
            out!("{}", crate::yaml::to_string(&review).map_err(|err| format_error(err.to_string()))?)?;
        }
        Some(other) => {
            return Err(CtlError::Usage(format!(
                "unable to match a printer suitable for the output format {other:?}, allowed formats are: json,yaml"
            )));
        }
    }
    Ok(())
}
