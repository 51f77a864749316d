//! Where candidates come from: the server (resource types, object names, containers, ports) and
//! the kubeconfig (contexts, clusters, users), read as the finished command would read them.

use clap::Parser;
use serde_json::Value;

use super::line::{Line, Want, matching};
use super::{Answer, Candidate, TIMEOUT, directive};
use crate::discovery::{discover, get_json};
use crate::{Config, CtlError};

/// The types whose objects have pods, offered as `TYPE/` where a pod is wanted (as kubectl).
const WITH_PODS: &[&str] = &["daemonsets", "deployments", "pods", "jobs", "replicasets", "replicationcontrollers", "services", "statefulsets"];

/// The server as the command line's global flags choose it.
struct Server {
    client: kube::Client,
    namespace: String,
}

impl Server {
    async fn connect(line: &Line<'_>) -> Result<Self, CtlError> {
        let config = config(line)?;
        let (mut client_config, namespace) = crate::kubeconfig::client_config(&config).await?;
        client_config.connect_timeout = Some(TIMEOUT);
        client_config.read_timeout = Some(TIMEOUT);
        client_config.write_timeout = Some(TIMEOUT);
        Ok(Self { client: kube::Client::try_from(client_config)?, namespace })
    }

    /// The names of the objects of `kind` (a type as the user typed it, or several joined by
    /// commas) that start with `prefix`, in the server's order. An unknown type has none.
    async fn names(&self, kind: &str, prefix: &str) -> Result<Vec<String>, CtlError> {
        let served = discover(&self.client).await?;
        let mut paths = Vec::new();
        for word in kind.split(',').filter(|word| !word.is_empty()) {
            match served.iter().find(|resource| resource.matches(word)) {
                Some(resource) => paths.push(resource.path(Some(&self.namespace), None)),
                None => return Ok(Vec::new()),
            }
        }
        let mut names = Vec::new();
        for path in paths {
            let list = get_json(&self.client, &path, "application/json").await?;
            let items = list["items"].as_array().into_iter().flatten();
            names.extend(items.filter_map(|item| item["metadata"]["name"].as_str()).filter(|name| name.starts_with(prefix)).map(str::to_string));
        }
        Ok(names)
    }

    /// The resource types one can get, as `kubectl api-resources -o name --verbs=get` prints
    /// them (`pods`, `deployments.apps`), sorted by group, then name.
    async fn types(&self) -> Result<Vec<String>, CtlError> {
        let mut group_versions = vec![("".to_string(), "/api/v1".to_string())];
        let groups = get_json(&self.client, "/apis", "application/json").await?;
        for group in groups["groups"].as_array().into_iter().flatten() {
            if let (Some(name), Some(version)) = (group["name"].as_str(), group["preferredVersion"]["groupVersion"].as_str()) {
                group_versions.push((name.to_string(), format!("/apis/{version}")));
            }
        }
        let mut types = Vec::new();
        for (group, path) in group_versions {
            let list = get_json(&self.client, &path, "application/json").await?;
            for resource in list["resources"].as_array().into_iter().flatten() {
                let name = resource["name"].as_str().unwrap_or_default();
                let gettable = resource["verbs"].as_array().into_iter().flatten().any(|verb| verb == "get");
                if gettable && !name.is_empty() && !name.contains('/') {
                    types.push((group.clone(), name.to_string()));
                }
            }
        }
        types.sort();
        types.dedup();
        Ok(types.into_iter().map(|(group, name)| if group.is_empty() { name } else { format!("{name}.{group}") }).collect())
    }

    /// Types for a word that may list several (`pods,se` completes to `pods,secrets`).
    async fn types_matching(&self, word: &str) -> Result<Vec<Candidate>, CtlError> {
        let (done, prefix) = match word.rfind(',') {
            Some(at) => word.split_at(at + 1),
            None => ("", word),
        };
        let types = self.types().await?;
        Ok(types.into_iter().filter(|name| name.starts_with(prefix)).map(|name| Candidate::plain(format!("{done}{name}"))).collect())
    }

    /// The pod a `POD`, `pod/NAME` or `TYPE/NAME` word stands for: for a workload or a
    /// Service, one of the pods its selector picks (they share their containers and ports).
    async fn pod(&self, word: &str) -> Result<Option<Value>, CtlError> {
        let found = |result: Result<Value, CtlError>| match result {
            Ok(object) => Ok(Some(object)),
            Err(CtlError::Server { .. }) => Ok(None),
            Err(err) => Err(err),
        };
        let (kind, name) = word.split_once('/').unwrap_or(("pods", word));
        let served = discover(&self.client).await?;
        let Some(resource) = served.iter().find(|resource| resource.matches(kind)) else { return Ok(None) };
        let Some(object) = found(get_json(&self.client, &resource.path(Some(&self.namespace), Some(name)), "application/json").await)? else {
            return Ok(None);
        };
        if resource.group.is_empty() && resource.plural == "pods" {
            return Ok(Some(object));
        }
        // A Service's selector is a map; a workload's a LabelSelector's matchLabels.
        let selector = object["spec"]["selector"]["matchLabels"].as_object().or_else(|| object["spec"]["selector"].as_object());
        let Some(selector) = selector.filter(|labels| !labels.is_empty() && labels.values().all(Value::is_string)) else { return Ok(None) };
        let selector: Vec<String> = selector.iter().map(|(key, value)| format!("{key}={}", value.as_str().unwrap_or_default())).collect();
        let path = format!("/api/v1/namespaces/{}/pods?labelSelector={}", self.namespace, crate::discovery::encode(&selector.join(",")));
        let pods = get_json(&self.client, &path, "application/json").await?;
        Ok(pods["items"].as_array().and_then(|items| items.first()).cloned())
    }
}

/// A `Config` carrying the line's global flags, as the finished command's would.
fn config(line: &Line<'_>) -> Result<Config, CtlError> {
    let args = std::iter::once("ctl".to_string()).chain(line.global_words.iter().cloned()).chain(std::iter::once("version".to_string()));
    Config::try_parse_from(args).map_err(|err| CtlError::Usage(err.to_string().lines().next().unwrap_or_default().to_string()))
}

fn plain(values: Vec<String>) -> Vec<Candidate> {
    values.into_iter().map(Candidate::plain).collect()
}

/// `values` without those already on the command line, as kubectl leaves them out.
fn not_in(values: Vec<String>, given: &[String]) -> Vec<String> {
    values.into_iter().filter(|value| !given.contains(value)).collect()
}

/// Finds the candidates `want` describes.
pub async fn resolve(line: &Line<'_>, want: Want) -> Result<Answer, CtlError> {
    let kubeconfig_names = |index: usize, prefix: &str| -> Result<Answer, CtlError> {
        let names = crate::kubeconfig::entry_names(&config(line)?)?;
        Ok(Answer::new(matching(names[index].iter().map(String::as_str), prefix), directive::NO_FILE_COMP))
    };
    match want {
        Want::Words(candidates, directive) => Ok(Answer::new(candidates, directive)),
        Want::Contexts { prefix } => kubeconfig_names(0, &prefix),
        Want::Clusters { prefix } => kubeconfig_names(1, &prefix),
        Want::Users { prefix } => kubeconfig_names(2, &prefix),
        Want::Names { resource, prefix } => {
            let server = Server::connect(line).await?;
            Ok(Answer::new(plain(server.names(resource, &prefix).await?), directive::NO_FILE_COMP))
        }
        Want::Types { prefix } => {
            let server = Server::connect(line).await?;
            Ok(Answer::new(server.types_matching(&prefix).await?, directive::NO_FILE_COMP))
        }
        Want::TypeAndName { allowed, repeat, prefix, before } => {
            let server = Server::connect(line).await?;
            let (mut candidates, directive) = type_and_name(&server, &line.positionals, allowed, repeat, &prefix).await?;
            candidates.splice(0..0, before);
            Ok(Answer::new(candidates, directive))
        }
        Want::PodOrType { prefix } => {
            let server = Server::connect(line).await?;
            if let Some((kind, name)) = prefix.split_once('/') {
                let names = server.names(kind, name).await?;
                return Ok(Answer::new(plain(names.into_iter().map(|name| format!("{kind}/{name}")).collect()), directive::NO_FILE_COMP));
            }
            let pods = server.names("pods", &prefix).await?;
            // With no pod to finish the word, it can only become `TYPE/`: no space after it.
            let directive = if pods.is_empty() { directive::NO_FILE_COMP | directive::NO_SPACE } else { directive::NO_FILE_COMP };
            let types = WITH_PODS.iter().filter(|kind| kind.starts_with(prefix.as_str())).map(|kind| format!("{kind}/"));
            Ok(Answer::new(plain(pods.into_iter().chain(types).collect()), directive))
        }
        Want::Containers { pod, prefix } => {
            let server = Server::connect(line).await?;
            let mut names = Vec::new();
            if let Some(pod) = server.pod(&pod).await? {
                for field in ["initContainers", "containers"] {
                    let containers = pod["spec"][field].as_array().into_iter().flatten();
                    names.extend(containers.filter_map(|container| container["name"].as_str()).filter(|name| name.starts_with(prefix.as_str())).map(str::to_string));
                }
            }
            Ok(Answer::new(plain(names), directive::NO_FILE_COMP))
        }
        Want::Ports { target, prefix } => {
            let server = Server::connect(line).await?;
            Ok(Answer::new(plain(ports(&server, &target, &prefix).await?), directive::NO_FILE_COMP))
        }
    }
}

/// kubectl's completion of `get`-like arguments: a type, then its objects' names; or
/// `TYPE/NAME` words, the type first (with no space after its `/`), then the name.
async fn type_and_name(server: &Server, given: &[String], allowed: Option<&[&str]>, repeat: bool, prefix: &str) -> Result<(Vec<Candidate>, u32), CtlError> {
    let mut directive = directive::NO_FILE_COMP;
    let candidates = match given.first() {
        // `TYPE NAME...`: more names of the type.
        Some(kind) if !kind.contains('/') => {
            if repeat || given.len() == 1 {
                plain(not_in(server.names(kind, prefix).await?, &given[1..]))
            } else {
                Vec::new()
            }
        }
        _ => match prefix.split_once('/') {
            Some((kind, name)) if repeat || given.is_empty() => {
                let names = server.names(kind, name).await?.into_iter().map(|name| format!("{kind}/{name}")).collect();
                plain(not_in(names, given))
            }
            Some(_) => Vec::new(),
            None if given.is_empty() => types(server, allowed, prefix).await?,
            None if repeat => {
                directive |= directive::NO_SPACE;
                let types = types(server, allowed, prefix).await?;
                types.into_iter().map(|candidate| Candidate::plain(format!("{}/", candidate.value))).collect()
            }
            None => Vec::new(),
        },
    };
    Ok((candidates, directive))
}

/// The types a command takes, or every type one can get.
async fn types(server: &Server, allowed: Option<&[&str]>, prefix: &str) -> Result<Vec<Candidate>, CtlError> {
    match allowed {
        Some(allowed) => Ok(matching(allowed.iter().copied(), prefix)),
        None => server.types_matching(prefix).await,
    }
}

/// `LOCAL:REMOTE` for each port of a service or of a pod's containers; the local port is the
/// one typed, if any, as kubectl offers them.
async fn ports(server: &Server, target: &str, prefix: &str) -> Result<Vec<String>, CtlError> {
    let mut remote = Vec::new();
    match target.split_once('/') {
        // A Service forwards its own ports (kubectl maps them to its pods' when forwarding).
        Some(("svc" | "service" | "services", name)) => {
            let path = format!("/api/v1/namespaces/{}/services/{name}", server.namespace);
            if let Ok(service) = get_json(&server.client, &path, "application/json").await {
                remote.extend(service["spec"]["ports"].as_array().into_iter().flatten().filter_map(|port| port["port"].as_i64()));
            }
        }
        _ => {
            if let Some(pod) = server.pod(target).await? {
                for container in pod["spec"]["containers"].as_array().into_iter().flatten() {
                    remote.extend(container["ports"].as_array().into_iter().flatten().filter_map(|port| port["containerPort"].as_i64()));
                }
            }
        }
    }
    let local = prefix.split(':').next().unwrap_or_default();
    Ok(remote
        .into_iter()
        .map(|port| if local.is_empty() { format!("{port}:{port}") } else { format!("{local}:{port}") })
        .filter(|candidate| candidate.starts_with(prefix))
        .collect())
}
