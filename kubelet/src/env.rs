//! What a container's environment and downward API volumes read: ConfigMaps and Secrets (fetched
//! once per sync), the pod's own fields, and its containers' resources.

use std::collections::{BTreeMap, HashMap};

use k8s_openapi::api::core::v1::{ConfigMap, Container, EnvVar, ObjectFieldSelector, Pod, ResourceFieldSelector, Secret, Service};
use kube::api::Api;

/// Why a container cannot be configured (the pod shows `CreateContainerConfigError`).
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{kind} \"{name}\" not found")]
    Missing { kind: &'static str, name: String },
    #[error("couldn't find key {key} in {kind} {namespace}/{name}")]
    MissingKey { kind: &'static str, namespace: String, name: String, key: String },
    #[error("cannot read {kind} \"{name}\": {source}")]
    Read { kind: &'static str, name: String, source: kube::Error },
    #[error("{0}")]
    Unsupported(String),
    #[error("cannot get a token for service account \"{service_account}\": {source}")]
    Token { service_account: String, source: kube::Error },
    #[error("services have not yet been read at least once, cannot construct envvars: {0}")]
    Services(kube::Error),
}

/// The ConfigMaps and Secrets of the pod's namespace, each fetched at most once per sync, and
/// the pod's service account tokens.
pub struct Sources<'a> {
    client: &'a kube::Client,
    tokens: &'a crate::tokens::Tokens,
    config_maps: Api<ConfigMap>,
    secrets: Api<Secret>,
    namespace: String,
    seen_config_maps: HashMap<String, Option<BTreeMap<String, Vec<u8>>>>,
    seen_secrets: HashMap<String, Option<BTreeMap<String, Vec<u8>>>>,
}

#[derive(Clone, Copy)]
pub enum SourceKind {
    ConfigMap,
    Secret,
}

impl SourceKind {
    fn lower(self) -> &'static str {
        match self {
            Self::ConfigMap => "configmap",
            Self::Secret => "secret",
        }
    }

    fn title(self) -> &'static str {
        match self {
            Self::ConfigMap => "ConfigMap",
            Self::Secret => "Secret",
        }
    }
}

impl<'a> Sources<'a> {
    pub fn new(client: &'a kube::Client, tokens: &'a crate::tokens::Tokens, namespace: &str) -> Self {
        Self {
            client,
            tokens,
            config_maps: Api::namespaced(client.clone(), namespace),
            secrets: Api::namespaced(client.clone(), namespace),
            namespace: namespace.to_string(),
            seen_config_maps: HashMap::new(),
            seen_secrets: HashMap::new(),
        }
    }

    /// All keys of a ConfigMap (data and binaryData) or Secret; None when it does not exist.
    pub async fn data(&mut self, kind: SourceKind, name: &str) -> Result<Option<BTreeMap<String, Vec<u8>>>, ConfigError> {
        let seen = match kind {
            SourceKind::ConfigMap => &self.seen_config_maps,
            SourceKind::Secret => &self.seen_secrets,
        };
        if let Some(data) = seen.get(name) {
            return Ok(data.clone());
        }
        let read = |source| ConfigError::Read { kind: kind.lower(), name: name.to_string(), source };
        let data = match kind {
            SourceKind::ConfigMap => self.config_maps.get_opt(name).await.map_err(read)?.map(|map| {
                let mut data: BTreeMap<String, Vec<u8>> = map.data.unwrap_or_default().into_iter().map(|(key, value)| (key, value.into_bytes())).collect();
                data.extend(map.binary_data.unwrap_or_default().into_iter().map(|(key, value)| (key, value.0)));
                data
            }),
            SourceKind::Secret => self.secrets.get_opt(name).await.map_err(read)?.map(|secret| {
                let mut data: BTreeMap<String, Vec<u8>> = secret.data.unwrap_or_default().into_iter().map(|(key, value)| (key, value.0)).collect();
                data.extend(secret.string_data.unwrap_or_default().into_iter().map(|(key, value)| (key, value.into_bytes())));
                data
            }),
        };
        match kind {
            SourceKind::ConfigMap => self.seen_config_maps.insert(name.to_string(), data.clone()),
            SourceKind::Secret => self.seen_secrets.insert(name.to_string(), data.clone()),
        };
        Ok(data)
    }

    /// The data, or the error a required source that is missing gives.
    pub async fn required(&mut self, kind: SourceKind, name: &str, optional: bool) -> Result<Option<BTreeMap<String, Vec<u8>>>, ConfigError> {
        match self.data(kind, name).await? {
            Some(data) => Ok(Some(data)),
            None if optional => Ok(None),
            None => Err(ConfigError::Missing { kind: kind.lower(), name: name.to_string() }),
        }
    }

    /// A token of the pod's ServiceAccount, bound to the pod.
    pub async fn token(&self, pod: &Pod, audience: Option<&str>, seconds: i64) -> Result<String, ConfigError> {
        self.tokens.get(self.client, pod, audience, seconds).await.map_err(|source| ConfigError::Token {
            service_account: pod.spec.as_ref().and_then(|spec| spec.service_account_name.clone()).unwrap_or_else(|| "default".into()),
            source,
        })
    }

    /// The Service environment variables (`<NAME>_SERVICE_HOST`, `<NAME>_PORT_...`) of the
    /// pod's namespace (unless `enableServiceLinks` is false) and always of the `kubernetes`
    /// Service in `default`, as the kubelet sets them.
    async fn service_env(&self, links: bool) -> Result<Vec<(String, String)>, ConfigError> {
        let mut services = Vec::new();
        if links {
            let listed = Api::<Service>::namespaced(self.client.clone(), &self.namespace).list(&Default::default()).await.map_err(ConfigError::Services)?;
            services.extend(listed.items);
        }
        if self.namespace != "default" || !links {
            let master = Api::<Service>::namespaced(self.client.clone(), "default").get_opt("kubernetes").await.map_err(ConfigError::Services)?;
            services.extend(master);
        }
        Ok(services.iter().flat_map(service_variables).collect())
    }

    async fn key(&mut self, kind: SourceKind, name: &str, key: &str, optional: bool) -> Result<Option<String>, ConfigError> {
        let Some(data) = self.required(kind, name, optional).await? else { return Ok(None) };
        match data.get(key) {
            Some(value) => Ok(Some(String::from_utf8_lossy(value).into_owned())),
            None if optional => Ok(None),
            None => Err(ConfigError::MissingKey { kind: kind.title(), namespace: self.namespace.clone(), name: name.to_string(), key: key.to_string() }),
        }
    }
}

/// What a pod's fields resolve against beside the pod itself.
pub struct Host<'a> {
    pub host_ip: &'a str,
    pub pod_ip: &'a str,
    pub cpus: u64,
    pub memory_bytes: u64,
}

/// The container's environment in the kubelet's order: `envFrom` sources, then `env`, each value
/// expanded against what is defined before it.
pub async fn container_env(sources: &mut Sources<'_>, pod: &Pod, container: &Container, host: &Host<'_>) -> Result<Vec<(String, String)>, ConfigError> {
    let links = pod.spec.as_ref().and_then(|spec| spec.enable_service_links).unwrap_or(true);
    // The Services' variables come first, so that the container's own override them and
    // `$(VAR)` can name them.
    let mut env: Vec<(String, String)> = sources.service_env(links).await?;
    let set = |env: &mut Vec<(String, String)>, name: String, value: String| match env.iter_mut().find(|(existing, _)| *existing == name) {
        Some(entry) => entry.1 = value,
        None => env.push((name, value)),
    };
    for from in container.env_from.iter().flatten() {
        let prefix = from.prefix.clone().unwrap_or_default();
        let (kind, name, optional) = match (&from.config_map_ref, &from.secret_ref) {
            (Some(source), _) => (SourceKind::ConfigMap, source.name.clone(), source.optional.unwrap_or(false)),
            (None, Some(source)) => (SourceKind::Secret, source.name.clone(), source.optional.unwrap_or(false)),
            (None, None) => continue,
        };
        let Some(data) = sources.required(kind, &name, optional).await? else { continue };
        for (key, value) in data {
            let name = format!("{prefix}{key}");
            // Keys that are no variable names are skipped, as the kubelet does.
            if common::names::env_var_name(&name).is_empty() {
                set(&mut env, name, String::from_utf8_lossy(&value).into_owned());
            }
        }
    }
    for variable in container.env.iter().flatten() {
        if let Some(value) = env_value(sources, pod, container, host, variable, &env).await? {
            set(&mut env, variable.name.clone(), value);
        }
    }
    Ok(env)
}

async fn env_value(sources: &mut Sources<'_>, pod: &Pod, container: &Container, host: &Host<'_>, variable: &EnvVar, defined: &[(String, String)]) -> Result<Option<String>, ConfigError> {
    let Some(from) = &variable.value_from else {
        return Ok(Some(expand(variable.value.as_deref().unwrap_or_default(), defined)));
    };
    if let Some(selector) = &from.config_map_key_ref {
        return sources.key(SourceKind::ConfigMap, &selector.name, &selector.key, selector.optional.unwrap_or(false)).await;
    }
    if let Some(selector) = &from.secret_key_ref {
        return sources.key(SourceKind::Secret, &selector.name, &selector.key, selector.optional.unwrap_or(false)).await;
    }
    if let Some(selector) = &from.field_ref {
        return field_value(pod, host, selector).map(Some);
    }
    if let Some(selector) = &from.resource_field_ref {
        return resource_value(pod, Some(container), host, selector).map(Some);
    }
    Ok(None)
}

/// One Service's variables, as Docker links named them: only Services with a cluster IP.
fn service_variables(service: &Service) -> Vec<(String, String)> {
    let Some(spec) = &service.spec else { return Vec::new() };
    let Some(ip) = spec.cluster_ip.as_deref().filter(|ip| !ip.is_empty() && *ip != "None") else { return Vec::new() };
    let name = service.metadata.name.as_deref().unwrap_or_default().to_uppercase().replace('-', "_");
    let ports = spec.ports.as_deref().unwrap_or_default();
    let Some(first) = ports.first() else { return Vec::new() };
    let mut env = vec![(format!("{name}_SERVICE_HOST"), ip.to_string()), (format!("{name}_SERVICE_PORT"), first.port.to_string())];
    for port in ports {
        if let Some(port_name) = port.name.as_deref().filter(|port_name| !port_name.is_empty()) {
            env.push((format!("{name}_SERVICE_PORT_{}", port_name.to_uppercase().replace('-', "_")), port.port.to_string()));
        }
    }
    let protocol = |port: &k8s_openapi::api::core::v1::ServicePort| port.protocol.clone().unwrap_or_else(|| "TCP".into());
    env.push((format!("{name}_PORT"), format!("{}://{ip}:{}", protocol(first).to_lowercase(), first.port)));
    for port in ports {
        let (protocol, number) = (protocol(port), port.port);
        let prefix = format!("{name}_PORT_{number}_{}", protocol.to_uppercase());
        env.push((prefix.clone(), format!("{}://{ip}:{number}", protocol.to_lowercase())));
        env.push((format!("{prefix}_PROTO"), protocol.to_lowercase()));
        env.push((format!("{prefix}_PORT"), number.to_string()));
        env.push((format!("{prefix}_ADDR"), ip.to_string()));
    }
    env
}

/// Kubernetes' `$(VAR)` expansion: defined names are replaced, undefined ones stay as written,
/// and `$$` escapes a `$`.
pub fn expand(text: &str, defined: &[(String, String)]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(stripped) = after.strip_prefix('$') {
            out.push('$');
            rest = stripped;
        } else if let Some(inner) = after.strip_prefix('(') {
            match inner.find(')') {
                Some(end) => {
                    let name = &inner[..end];
                    match defined.iter().rev().find(|(defined, _)| defined == name) {
                        Some((_, value)) => out.push_str(value),
                        None => {
                            out.push_str("$(");
                            out.push_str(name);
                            out.push(')');
                        }
                    }
                    rest = &inner[end + 1..];
                }
                None => {
                    out.push_str("$(");
                    rest = inner;
                }
            }
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// A `fieldRef` as the downward API reads it.
pub fn field_value(pod: &Pod, host: &Host<'_>, selector: &ObjectFieldSelector) -> Result<String, ConfigError> {
    let meta = &pod.metadata;
    let spec = pod.spec.as_ref();
    let path = selector.field_path.as_str();
    let subscript = |prefix: &str| path.strip_prefix(prefix)?.strip_prefix("['")?.strip_suffix("']").map(str::to_string);
    let value = match path {
        "metadata.name" => meta.name.clone().unwrap_or_default(),
        "metadata.namespace" => meta.namespace.clone().unwrap_or_default(),
        "metadata.uid" => meta.uid.clone().unwrap_or_default(),
        "metadata.labels" => format_map(meta.labels.as_ref()),
        "metadata.annotations" => format_map(meta.annotations.as_ref()),
        "spec.nodeName" => spec.and_then(|spec| spec.node_name.clone()).unwrap_or_default(),
        "spec.serviceAccountName" => spec.and_then(|spec| spec.service_account_name.clone()).unwrap_or_default(),
        "status.hostIP" | "status.hostIPs" => host.host_ip.to_string(),
        "status.podIP" | "status.podIPs" => host.pod_ip.to_string(),
        _ => {
            if let Some(key) = subscript("metadata.labels") {
                meta.labels.as_ref().and_then(|labels| labels.get(&key).cloned()).unwrap_or_default()
            } else if let Some(key) = subscript("metadata.annotations") {
                meta.annotations.as_ref().and_then(|annotations| annotations.get(&key).cloned()).unwrap_or_default()
            } else {
                return Err(ConfigError::Unsupported(format!("unsupported fieldPath {path:?}")));
            }
        }
    };
    Ok(value)
}

/// `key="value"` lines, sorted, as the downward API writes labels and annotations.
fn format_map(map: Option<&BTreeMap<String, String>>) -> String {
    map.into_iter().flatten().map(|(key, value)| format!("{key}={value:?}")).collect::<Vec<_>>().join("\n")
}

/// A `resourceFieldRef`: the container's request or limit in units of the divisor, rounded up;
/// an unset limit reads as the node's capacity.
pub fn resource_value(pod: &Pod, container: Option<&Container>, host: &Host<'_>, selector: &ResourceFieldSelector) -> Result<String, ConfigError> {
    let container = match (&selector.container_name, container) {
        (Some(name), _) if !name.is_empty() => pod.spec.as_ref().and_then(|spec| spec.containers.iter().find(|c| &c.name == name)),
        (_, Some(container)) => Some(container),
        _ => None,
    };
    let Some(container) = container else {
        return Err(ConfigError::Unsupported(format!("resourceFieldRef {:?} names no container", selector.resource)));
    };
    let (section, resource) = selector.resource.split_once('.').ok_or_else(|| ConfigError::Unsupported(format!("unsupported resource {:?}", selector.resource)))?;
    let resources = container.resources.as_ref();
    let set = match section {
        "limits" => resources.and_then(|r| r.limits.as_ref()),
        "requests" => resources.and_then(|r| r.requests.as_ref()),
        _ => return Err(ConfigError::Unsupported(format!("unsupported resource {:?}", selector.resource))),
    };
    let quantity = set.and_then(|set| set.get(resource)).and_then(|q| common::quantity::parse(&q.0).ok());
    let divisor = selector.divisor.as_ref().and_then(|q| common::quantity::parse(&q.0).ok());
    let value = match resource {
        "cpu" => {
            let millis = quantity.map(|q| q.milli_value()).unwrap_or_else(|| if section == "limits" { i64::try_from(host.cpus).unwrap_or(i64::MAX / 1000) * 1000 } else { 0 });
            let divisor = divisor.map(|d| d.milli_value()).filter(|d| *d > 0).unwrap_or(1000);
            millis.saturating_add(divisor - 1) / divisor
        }
        "memory" | "ephemeral-storage" => {
            let bytes = quantity.map(|q| q.value()).unwrap_or_else(|| if section == "limits" && resource == "memory" { i64::try_from(host.memory_bytes).unwrap_or(i64::MAX) } else { 0 });
            let divisor = divisor.map(|d| d.value()).filter(|d| *d > 0).unwrap_or(1);
            bytes.saturating_add(divisor - 1) / divisor
        }
        _ => return Err(ConfigError::Unsupported(format!("unsupported resource {:?}", selector.resource))),
    };
    Ok(value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn expands_as_kubernetes_does() {
        let defined = vars(&[("A", "1"), ("B", "two")]);
        assert_eq!(expand("$(A)-$(B)", &defined), "1-two");
        assert_eq!(expand("$(MISSING) stays", &defined), "$(MISSING) stays");
        assert_eq!(expand("$$(A) is escaped", &defined), "$(A) is escaped");
        assert_eq!(expand("cost $5 and $(A", &defined), "cost $5 and $(A");
        assert_eq!(expand("trailing $", &defined), "trailing $");
    }
}
