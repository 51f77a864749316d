//! `create deployment|service|serviceaccount|role|clusterrole|rolebinding|clusterrolebinding|
//! ingress|token`: the objects kubectl's `create` subcommands build from flags, field for field.

use serde_json::{Value, json};

use crate::commands::find;
use crate::discovery::{discover, send};
use crate::generate::{EmitArgs, Generated, container_name, emit, int_or_string, labels, metadata};
use crate::kubeconfig::client_and_namespace;
use crate::output::outln;
use crate::{Config, CtlError};

/// The field manager kubectl's create names itself with, after ctl's own name.
const FIELD_MANAGER: &str = "ctl-create";
const RBAC: &str = "rbac.authorization.k8s.io";

#[derive(Clone, Debug, clap::Subcommand)]
pub enum GeneratorCommand {
    /// Create a Deployment of one or more images.
    #[command(alias = "deploy", after_help = "Examples:\n  ctl create deployment web --image=nginx --replicas=3 --port=80\n  ctl create deployment job --image=busybox -- sleep 3600\n  ctl create deployment web --image=nginx --dry-run=client -o yaml")]
    Deployment(DeploymentArgs),
    /// Create a Service: clusterip, nodeport, loadbalancer or externalname.
    #[command(subcommand, alias = "svc", after_help = "Examples:\n  ctl create service clusterip web --tcp=80:8080\n  ctl create service nodeport web --tcp=80:8080 --node-port=30080\n  ctl create service externalname db --external-name=db.example.com")]
    Service(ServiceCommand),
    /// Create a ServiceAccount.
    #[command(alias = "sa", after_help = "Examples:\n  ctl create serviceaccount robot -n dev")]
    Serviceaccount(NameArgs),
    /// Create a Role of verbs on resources.
    #[command(after_help = "Examples:\n  ctl create role reader --verb=get,list,watch --resource=pods,deployments.apps\n  ctl create role logs --verb=get --resource=pods/log --resource-name=web-0")]
    Role(RoleArgs),
    /// Create a ClusterRole of verbs on resources or non-resource URLs.
    #[command(after_help = "Examples:\n  ctl create clusterrole pod-reader --verb=get,list,watch --resource=pods\n  ctl create clusterrole metrics --verb=get --non-resource-url=/metrics")]
    Clusterrole(RoleArgs),
    /// Create a RoleBinding of a Role or ClusterRole to users, groups and service accounts.
    #[command(after_help = "Examples:\n  ctl create rolebinding read --role=reader --user=alice --serviceaccount=default:robot\n  ctl create rolebinding view --clusterrole=view --group=devs")]
    Rolebinding(BindingArgs),
    /// Create a ClusterRoleBinding of a ClusterRole to users, groups and service accounts.
    #[command(after_help = "Examples:\n  ctl create clusterrolebinding read-pods --clusterrole=pod-reader --user=alice --serviceaccount=dev:robot")]
    Clusterrolebinding(BindingArgs),
    /// Create an Ingress from rules host/path=service:port[,tls[=secret]].
    #[command(alias = "ing", after_help = "Examples:\n  ctl create ingress web --class=nginx --rule='example.com/*=web:80,tls=web-cert'\n  ctl create ingress api --rule='/v1=api:http' --default-backend=fallback:80")]
    Ingress(IngressArgs),
    /// Request a token of a ServiceAccount and print it.
    #[command(after_help = "Examples:\n  ctl create token robot --duration=1h --audience=api")]
    Token(TokenArgs),
    /// Create a ResourceQuota.
    #[command(alias = "resourcequota", after_help = "Examples:\n  ctl create quota small --hard=pods=10,requests.cpu=2,requests.memory=4Gi\n  ctl create quota best-effort --hard=pods=5 --scopes=BestEffort")]
    Quota(QuotaArgs),
    /// Create a PodDisruptionBudget.
    #[command(alias = "pdb", after_help = "Examples:\n  ctl create poddisruptionbudget web --selector=app=web --min-available=2\n  ctl create pdb db --selector=app=db --max-unavailable=1")]
    Poddisruptionbudget(DisruptionBudgetArgs),
    /// Create a PriorityClass.
    #[command(alias = "pc", after_help = "Examples:\n  ctl create priorityclass high --value=1000 --description='the front end'\n  ctl create priorityclass batch --value=10 --preemption-policy=Never")]
    Priorityclass(PriorityClassArgs),
}

#[derive(Clone, Debug, clap::Args)]
pub struct QuotaArgs {
    pub name: String,
    /// RESOURCE=QUANTITY,… the hard limits.
    #[arg(long)]
    pub hard: Option<String>,
    /// The quota's scopes, comma-separated (BestEffort, NotTerminating, …).
    #[arg(long)]
    pub scopes: Option<String>,
    #[command(flatten)]
    pub emit: EmitArgs,
}

#[derive(Clone, Debug, clap::Args)]
pub struct DisruptionBudgetArgs {
    pub name: String,
    /// KEY=VALUE,… the pods the budget covers.
    #[arg(long)]
    pub selector: Option<String>,
    /// Pods (or a percentage) that must stay available.
    #[arg(long)]
    pub min_available: Option<String>,
    /// Pods (or a percentage) that may be unavailable.
    #[arg(long)]
    pub max_unavailable: Option<String>,
    #[command(flatten)]
    pub emit: EmitArgs,
}

#[derive(Clone, Debug, clap::Args)]
pub struct PriorityClassArgs {
    pub name: String,
    #[arg(long, default_value_t = 0)]
    pub value: i64,
    #[arg(long, default_value = "")]
    pub description: String,
    /// Make it the priority of pods that name none.
    #[arg(long)]
    pub global_default: bool,
    /// PreemptLowerPriority or Never.
    #[arg(long, default_value = "PreemptLowerPriority")]
    pub preemption_policy: String,
    #[command(flatten)]
    pub emit: EmitArgs,
}

#[derive(Clone, Debug, clap::Args)]
pub struct NameArgs {
    pub name: String,
    #[command(flatten)]
    pub emit: EmitArgs,
}

#[derive(Clone, Debug, clap::Args)]
pub struct DeploymentArgs {
    pub name: String,
    /// The images, one container each (required; checked as kubectl checks it).
    #[arg(long)]
    pub image: Vec<String>,
    #[arg(short = 'r', long, default_value_t = 1)]
    pub replicas: i64,
    /// The port the first container exposes.
    #[arg(long)]
    pub port: Option<i64>,
    /// The first container's command and arguments, after `--`.
    #[arg(last = true)]
    pub command: Vec<String>,
    #[command(flatten)]
    pub emit: EmitArgs,
}

/// Each type takes only its own flags, as in kubectl.
#[derive(Clone, Debug, clap::Subcommand)]
pub enum ServiceCommand {
    /// A ClusterIP Service (--clusterip=None for a headless one).
    #[command(after_help = "Examples:\n  ctl create service clusterip web --tcp=80:8080\n  ctl create service clusterip db --clusterip=None --tcp=5432")]
    Clusterip {
        #[command(flatten)]
        service: ServiceArgs,
        /// The cluster IP, or None for a headless Service.
        #[arg(long)]
        clusterip: Option<String>,
    },
    /// A NodePort Service.
    #[command(after_help = "Examples:\n  ctl create service nodeport web --tcp=80:8080 --node-port=30080")]
    Nodeport {
        #[command(flatten)]
        service: ServiceArgs,
        /// The node port of every port.
        #[arg(long)]
        node_port: Option<i64>,
    },
    /// A LoadBalancer Service.
    #[command(after_help = "Examples:\n  ctl create service loadbalancer web --tcp=443:8443")]
    Loadbalancer {
        #[command(flatten)]
        service: ServiceArgs,
    },
    /// An ExternalName Service.
    #[command(after_help = "Examples:\n  ctl create service externalname db --external-name=db.example.com")]
    Externalname {
        #[command(flatten)]
        service: ServiceArgs,
        /// The DNS name the Service stands for (required; checked as kubectl checks it).
        #[arg(long)]
        external_name: Option<String>,
    },
}

#[derive(Clone, Debug, clap::Args)]
pub struct ServiceArgs {
    pub name: String,
    /// PORT or PORT:TARGET_PORT, repeatable or comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub tcp: Vec<String>,
    #[command(flatten)]
    pub emit: EmitArgs,
}

/// The flags of one Service type.
struct ServiceType<'a> {
    kind: &'a str,
    cluster_ip: Option<&'a str>,
    node_port: Option<i64>,
    external_name: Option<&'a str>,
}

#[derive(Clone, Debug, clap::Args)]
pub struct RoleArgs {
    pub name: String,
    /// The verbs the rules allow, comma-separated or repeated.
    #[arg(long, value_delimiter = ',')]
    pub verb: Vec<String>,
    /// RESOURCE[.GROUP][/SUBRESOURCE], comma-separated or repeated.
    #[arg(long, value_delimiter = ',')]
    pub resource: Vec<String>,
    /// Names of the objects the rules are limited to.
    #[arg(long)]
    pub resource_name: Vec<String>,
    /// Non-resource URLs (clusterrole only).
    #[arg(long, value_delimiter = ',')]
    pub non_resource_url: Vec<String>,
    #[command(flatten)]
    pub emit: EmitArgs,
}

#[derive(Clone, Debug, clap::Args)]
pub struct BindingArgs {
    pub name: String,
    /// The Role bound (rolebinding only).
    #[arg(long)]
    pub role: Option<String>,
    /// The ClusterRole bound.
    #[arg(long)]
    pub clusterrole: Option<String>,
    #[arg(long)]
    pub user: Vec<String>,
    #[arg(long)]
    pub group: Vec<String>,
    /// NAMESPACE:NAME.
    #[arg(long)]
    pub serviceaccount: Vec<String>,
    #[command(flatten)]
    pub emit: EmitArgs,
}

#[derive(Clone, Debug, clap::Args)]
pub struct IngressArgs {
    pub name: String,
    /// host/path=service:port[,tls[=secret]]; a path ending in * matches as a prefix.
    #[arg(long)]
    pub rule: Vec<String>,
    /// The IngressClass.
    #[arg(long)]
    pub class: Option<String>,
    /// service:port for what no rule matches.
    #[arg(long)]
    pub default_backend: Option<String>,
    /// key=value, repeatable.
    #[arg(long)]
    pub annotation: Vec<String>,
    #[command(flatten)]
    pub emit: EmitArgs,
}

#[derive(Clone, Debug, clap::Args)]
pub struct TokenArgs {
    /// The ServiceAccount.
    pub name: String,
    /// How long the token lasts (e.g. 10m, 1h); the server's default when not given.
    #[arg(long)]
    pub duration: Option<String>,
    /// The token's audiences, repeatable.
    #[arg(long)]
    pub audience: Vec<String>,
}

pub async fn run(config: &Config, command: &GeneratorCommand) -> Result<(), CtlError> {
    let (client, namespace) = client_and_namespace(config).await?;
    let (generated, args) = match command {
        GeneratorCommand::Deployment(args) => (deployment(config, &namespace, args)?, &args.emit),
        GeneratorCommand::Service(command) => {
            let plain = |kind| ServiceType { kind, cluster_ip: None, node_port: None, external_name: None };
            let (service_type, args) = match command {
                ServiceCommand::Clusterip { service, clusterip } => (ServiceType { cluster_ip: clusterip.as_deref(), ..plain("ClusterIP") }, service),
                ServiceCommand::Nodeport { service, node_port } => (ServiceType { node_port: *node_port, ..plain("NodePort") }, service),
                ServiceCommand::Loadbalancer { service } => (plain("LoadBalancer"), service),
                ServiceCommand::Externalname { service, external_name } => {
                    let external_name = external_name.as_deref().ok_or_else(|| CtlError::Usage("required flag(s) \"external-name\" not set".into()))?;
                    (ServiceType { external_name: Some(external_name), ..plain("ExternalName") }, service)
                }
            };
            (service(config, &namespace, &service_type, args)?, &args.emit)
        }
        GeneratorCommand::Serviceaccount(args) => {
            let object = json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": metadata(config, &args.name)});
            let path = format!("/api/v1/namespaces/{namespace}/serviceaccounts");
            (Generated { object, path, failure: Some("failed to create serviceaccount".into()) }, &args.emit)
        }
        GeneratorCommand::Role(args) => (role(config, &client, Some(&namespace), args).await?, &args.emit),
        GeneratorCommand::Clusterrole(args) => (role(config, &client, None, args).await?, &args.emit),
        GeneratorCommand::Rolebinding(args) => (binding(config, Some(&namespace), args)?, &args.emit),
        GeneratorCommand::Clusterrolebinding(args) => (binding(config, None, args)?, &args.emit),
        GeneratorCommand::Ingress(args) => (ingress(config, &namespace, args)?, &args.emit),
        GeneratorCommand::Token(args) => return token(&client, &namespace, args).await,
        GeneratorCommand::Quota(args) => (quota(config, &namespace, args)?, &args.emit),
        GeneratorCommand::Poddisruptionbudget(args) => (disruption_budget(config, &namespace, args)?, &args.emit),
        GeneratorCommand::Priorityclass(args) => (priority_class(config, args), &args.emit),
    };
    emit(&client, generated, args, FIELD_MANAGER, "created").await
}

/// kubectl's `createDeployment`: labelled and selected by `app: NAME`, a container per image.
fn deployment(config: &Config, namespace: &str, args: &DeploymentArgs) -> Result<Generated, CtlError> {
    if args.image.is_empty() {
        return Err(required_image());
    }
    if args.image.len() > 1 && !args.command.is_empty() {
        return Err(CtlError::Usage("cannot specify multiple --image options and command".into()));
    }
    let mut containers: Vec<Value> = args.image.iter().map(|image| json!({"name": container_name(image), "image": image, "resources": {}})).collect();
    if let Some(first) = containers.first_mut() {
        if let Some(port) = args.port {
            first["ports"] = json!([{"containerPort": port}]);
        }
        if !args.command.is_empty() {
            first["command"] = json!(args.command);
        }
    }
    let labels = json!({"app": args.name});
    let mut metadata = metadata(config, &args.name);
    metadata["labels"] = labels.clone();
    let object = json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata,
        "spec": {
            "replicas": args.replicas,
            "selector": {"matchLabels": labels},
            "strategy": {},
            "template": {"metadata": {"creationTimestamp": null, "labels": labels}, "spec": {"containers": containers}}
        },
        "status": {}
    });
    let path = format!("/apis/apps/v1/namespaces/{namespace}/deployments");
    Ok(Generated { object, path, failure: Some("failed to create deployment".into()) })
}

/// kubectl's words (and exit code 1) for a missing `--image`, which clap would say otherwise.
pub fn required_image() -> CtlError {
    CtlError::Usage("required flag(s) \"image\" not set".into())
}

/// kubectl's `createService`: selected by `app: NAME`, a TCP port per `--tcp`, named after it.
fn service(config: &Config, namespace: &str, service_type: &ServiceType<'_>, args: &ServiceArgs) -> Result<Generated, CtlError> {
    let kind = service_type.kind;
    let headless = service_type.cluster_ip == Some("None");
    if headless && kind != "ClusterIP" {
        return Err(CtlError::Usage("ClusterIP=None can only be used with ClusterIP service type".into()));
    }
    if !headless && args.tcp.is_empty() && kind != "ExternalName" {
        return Err(CtlError::Usage("at least one tcp port specifier must be provided".into()));
    }
    let external_name = service_type.external_name.unwrap_or_default();
    if kind == "ExternalName" && !is_dns_subdomain(&external_name) {
        return Err(CtlError::Usage(format!("invalid service external name {external_name}")));
    }
    let mut ports = Vec::new();
    for tcp in &args.tcp {
        let (port, target) = tcp.split_once(':').unwrap_or((tcp, tcp));
        let port: i64 = port.parse().map_err(|_| CtlError::Usage(format!("strconv.Atoi: parsing {port:?}: invalid syntax")))?;
        let mut entry = json!({"name": tcp.replace(':', "-"), "port": port, "protocol": "TCP", "targetPort": int_or_string(target)});
        if let Some(node_port) = service_type.node_port.filter(|port| *port != 0) {
            entry["nodePort"] = json!(node_port);
        }
        ports.push(entry);
    }
    let labels = json!({"app": args.name});
    let mut metadata = metadata(config, &args.name);
    metadata["labels"] = labels.clone();
    let mut spec = json!({"selector": labels, "type": kind});
    if !ports.is_empty() {
        spec["ports"] = json!(ports);
    }
    if let Some(cluster_ip) = service_type.cluster_ip.filter(|ip| !ip.is_empty()) {
        spec["clusterIP"] = json!(cluster_ip);
    }
    if kind == "ExternalName" {
        spec["externalName"] = json!(external_name);
    }
    let object = json!({"apiVersion": "v1", "kind": "Service", "metadata": metadata, "spec": spec, "status": {"loadBalancer": {}}});
    let path = format!("/api/v1/namespaces/{namespace}/services");
    Ok(Generated { object, path, failure: Some(format!("failed to create {kind} service")) })
}

/// Kubernetes' `IsDNS1123Subdomain`.
fn is_dns_subdomain(name: &str) -> bool {
    let label_ok = |label: &str| {
        !label.is_empty()
            && label.bytes().all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    !name.is_empty() && name.len() <= 253 && name.split('.').all(label_ok)
}

/// The verbs a resource rule may name, as kubectl checks them.
const RESOURCE_VERBS: &[&str] = &["*", "get", "delete", "list", "create", "update", "patch", "watch", "proxy", "deletecollection", "use", "bind", "escalate", "impersonate"];
const URL_VERBS: &[&str] = &["*", "get", "post", "put", "delete", "patch", "head", "options"];

/// kubectl's `create role|clusterrole`: the resources resolved through discovery, one rule per
/// API group (groups in order), then one for the non-resource URLs.
async fn role(config: &Config, client: &kube::Client, namespace: Option<&str>, args: &RoleArgs) -> Result<Generated, CtlError> {
    if args.verb.is_empty() {
        return Err(CtlError::Usage("at least one verb must be specified".into()));
    }
    if args.resource.is_empty() && args.non_resource_url.is_empty() {
        return Err(CtlError::Usage(if namespace.is_some() {
            "at least one resource must be specified".into()
        } else {
            "one of resource or nonResourceURL must be specified".into()
        }));
    }
    // kubectl warns of an unusual verb for resources (custom ones have their own), and refuses
    // one for URLs.
    if !args.resource.is_empty() {
        for verb in args.verb.iter().filter(|verb| !RESOURCE_VERBS.contains(&verb.as_str())) {
            eprintln!("Warning: '{verb}' is not a standard resource verb");
        }
    }
    if let Some(verb) = args.verb.iter().find(|verb| !args.non_resource_url.is_empty() && !URL_VERBS.contains(&verb.as_str())) {
        return Err(CtlError::Usage(format!("invalid verb: '{verb}' for nonResourceURL")));
    }
    let verbs: Vec<&str> = if args.verb.iter().any(|verb| verb == "*") { vec!["*"] } else { args.verb.iter().map(String::as_str).collect() };
    let served = if args.resource.iter().all(|resource| resource == "*") { Vec::new() } else { discover(client).await? };
    let mut groups: std::collections::BTreeMap<String, Vec<String>> = std::collections::BTreeMap::new();
    for text in &args.resource {
        let (word, subresource) = match text.split_once('/') {
            Some((word, subresource)) => (word, Some(subresource)),
            None => (text.as_str(), None),
        };
        let (mut plural, mut group) = match word.split_once('.') {
            Some((resource, group)) => (resource.to_string(), group.to_string()),
            None => (word.to_string(), String::new()),
        };
        if word != "*" {
            // kubectl prints the mapper's error without its `error: ` prefix.
            let resource = find(&served, word).map_err(|err| {
                eprintln!("{err}");
                CtlError::Reported(1)
            })?;
            (plural, group) = (resource.plural.clone(), resource.group.clone());
        }
        if let Some(subresource) = subresource {
            plural = format!("{plural}/{subresource}");
        }
        let resources = groups.entry(group).or_default();
        if !resources.contains(&plural) {
            resources.push(plural);
        }
    }
    let mut rules: Vec<Value> = groups
        .into_iter()
        .map(|(group, resources)| {
            let mut rule = json!({"verbs": verbs, "apiGroups": [group], "resources": resources});
            if !args.resource_name.is_empty() {
                rule["resourceNames"] = json!(args.resource_name);
            }
            rule
        })
        .collect();
    if !args.non_resource_url.is_empty() {
        rules.push(json!({"verbs": verbs, "nonResourceURLs": args.non_resource_url}));
    }
    let (kind, path) = match namespace {
        Some(namespace) => ("Role", format!("/apis/{RBAC}/v1/namespaces/{namespace}/roles")),
        None => ("ClusterRole", format!("/apis/{RBAC}/v1/clusterroles")),
    };
    let object = json!({"apiVersion": format!("{RBAC}/v1"), "kind": kind, "metadata": metadata(config, &args.name), "rules": rules});
    // kubectl passes the server's refusal of a role on as it is.
    Ok(Generated { object, path, failure: None })
}

/// kubectl's `create rolebinding|clusterrolebinding`: users, then groups, then service accounts.
fn binding(config: &Config, namespace: Option<&str>, args: &BindingArgs) -> Result<Generated, CtlError> {
    let role_ref = match (namespace, &args.role, &args.clusterrole) {
        (Some(_), Some(role), None) => json!({"apiGroup": RBAC, "kind": "Role", "name": role}),
        (_, None, Some(role)) => json!({"apiGroup": RBAC, "kind": "ClusterRole", "name": role}),
        (Some(_), _, _) => return Err(CtlError::Usage("exactly one of clusterrole or role must be specified".into())),
        (None, _, _) => return Err(CtlError::Usage("clusterrole must be specified".into())),
    };
    let mut subjects: Vec<Value> = Vec::new();
    subjects.extend(args.user.iter().map(|user| json!({"apiGroup": RBAC, "kind": "User", "name": user})));
    subjects.extend(args.group.iter().map(|group| json!({"apiGroup": RBAC, "kind": "Group", "name": group})));
    for account in &args.serviceaccount {
        match account.split_once(':') {
            Some((account_namespace, name)) if !account_namespace.is_empty() && !name.is_empty() && !name.contains(':') => {
                subjects.push(json!({"kind": "ServiceAccount", "namespace": account_namespace, "name": name}))
            }
            _ => return Err(CtlError::Usage(format!("serviceaccount must be <namespace>:<name>, got {account}"))),
        }
    }
    let (kind, path, failure) = match namespace {
        Some(namespace) => ("RoleBinding", format!("/apis/{RBAC}/v1/namespaces/{namespace}/rolebindings"), "failed to create rolebinding"),
        None => ("ClusterRoleBinding", format!("/apis/{RBAC}/v1/clusterrolebindings"), "failed to create clusterrolebinding"),
    };
    let mut object = json!({"apiVersion": format!("{RBAC}/v1"), "kind": kind, "metadata": metadata(config, &args.name), "roleRef": role_ref});
    if !subjects.is_empty() {
        object["subjects"] = json!(subjects);
    }
    Ok(Generated { object, path, failure: Some(failure.into()) })
}

/// kubectl's `create ingress`: a rule per host (paths of the same host together), TLS per host
/// once, hosts sharing a secret in one TLS entry.
fn ingress(config: &Config, namespace: &str, args: &IngressArgs) -> Result<Generated, CtlError> {
    if args.default_backend.is_none() && args.rule.is_empty() {
        return Err(CtlError::Usage("not enough information provided: every ingress has to either specify a default-backend (which catches all traffic) or a list of rules (which catch specific paths)".into()));
    }
    if let Some(rule) = args.rule.iter().find(|rule| !valid_rule(rule)) {
        return Err(CtlError::Usage(format!("rule {rule} is invalid and should be in format host/path=svcname:svcport[,tls[=secret]]")));
    }
    let mut annotations = serde_json::Map::new();
    for annotation in &args.annotation {
        let (key, value) = annotation
            .split_once('=')
            .ok_or_else(|| CtlError::Usage(format!("annotation {annotation} is invalid and should be in format key=[value]")))?;
        annotations.insert(key.into(), json!(value));
    }
    let mut spec = json!({});
    if let Some(class) = &args.class {
        spec["ingressClassName"] = json!(class);
    }
    if let Some(backend) = &args.default_backend {
        if backend.split(':').count() != 2 {
            return Err(CtlError::Usage("default-backend should be in format servicename:serviceport".into()));
        }
        spec["defaultBackend"] = ingress_backend(backend);
    }
    spec["tls"] = json!(ingress_tls(&args.rule));
    spec["rules"] = json!(ingress_rules(&args.rule));
    let mut metadata = metadata(config, &args.name);
    if !annotations.is_empty() {
        metadata["annotations"] = Value::Object(annotations);
    }
    let object = json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": metadata, "spec": spec, "status": {"loadBalancer": {}}});
    let path = format!("/apis/networking.k8s.io/v1/namespaces/{namespace}/ingresses");
    Ok(Generated { object, path, failure: Some("failed to create ingress".into()) })
}

/// host/path=service:port[,tls[=secret]], as kubectl's rule pattern accepts it.
fn valid_rule(rule: &str) -> bool {
    let (route, tls) = match rule.split_once(',') {
        Some((route, tls)) => (route, Some(tls)),
        None => (rule, None),
    };
    let Some((_, target)) = route.split_once('/') else { return false };
    let valid_target = target.split_once('=').is_some_and(|(_, backend)| backend.split_once(':').is_some_and(|(name, port)| !name.is_empty() && !port.is_empty()));
    valid_target && tls.is_none_or(|tls| tls == "tls" || tls.strip_prefix("tls=").is_some_and(|secret| !secret.is_empty()))
}

fn ingress_backend(service: &str) -> Value {
    let (name, port) = service.split_once(':').unwrap_or((service, ""));
    let port = match int_or_string(port) {
        Value::Number(number) => json!({"number": number}),
        name => json!({"name": name}),
    };
    json!({"service": {"name": name, "port": port}})
}

fn ingress_tls(rules: &[String]) -> Vec<Value> {
    let mut entries: Vec<Value> = Vec::new();
    let mut hosts_seen = Vec::new();
    for rule in rules {
        let parts: Vec<&str> = rule.split(',').collect();
        if parts.len() != 2 {
            continue;
        }
        let host = rule.split('/').next().unwrap_or_default();
        let secret = parts[1].split('=').nth(1).unwrap_or_default();
        if hosts_seen.contains(&host) {
            continue;
        }
        hosts_seen.push(host);
        let same_secret = entries.iter_mut().find(|entry| entry["secretName"].as_str().unwrap_or_default() == secret);
        if let Some(entry) = same_secret {
            if let Some(hosts) = entry["hosts"].as_array_mut() {
                hosts.push(json!(host));
            } else {
                entry["hosts"] = json!([host]);
            }
            continue;
        }
        let mut entry = json!({});
        if !host.is_empty() {
            entry["hosts"] = json!([host]);
        }
        if !secret.is_empty() {
            entry["secretName"] = json!(secret);
        }
        if entry.as_object().is_some_and(|entry| !entry.is_empty()) {
            entries.push(entry);
        }
    }
    entries
}

fn ingress_rules(rules: &[String]) -> Vec<Value> {
    let mut built: Vec<Value> = Vec::new();
    for rule in rules {
        let route = rule.split(',').next().unwrap_or_default();
        let (host, target) = route.split_once('/').unwrap_or((route, ""));
        let (path, service) = target.split_once('=').unwrap_or((target, ""));
        let mut path = format!("/{path}");
        let mut path_type = "Exact";
        if path.ends_with('*') {
            path.pop();
            path_type = "Prefix";
        }
        let entry = json!({"path": path, "pathType": path_type, "backend": ingress_backend(service)});
        if let Some(existing) = built.iter_mut().find(|existing| existing["host"].as_str().unwrap_or_default() == host) {
            if let Some(paths) = existing["http"]["paths"].as_array_mut() {
                paths.push(entry);
            }
            continue;
        }
        let mut built_rule = json!({"http": {"paths": [entry]}});
        if !host.is_empty() {
            built_rule["host"] = json!(host);
        }
        built.push(built_rule);
    }
    built
}

/// kubectl's `create quota`: the hard limits and scopes as given.
fn quota(config: &Config, namespace: &str, args: &QuotaArgs) -> Result<Generated, CtlError> {
    let mut spec = json!({});
    if let Some(hard) = args.hard.as_deref().filter(|hard| !hard.is_empty()) {
        spec["hard"] = labels(hard)?;
    }
    if let Some(scopes) = args.scopes.as_deref().filter(|scopes| !scopes.is_empty()) {
        spec["scopes"] = json!(scopes.split(',').collect::<Vec<_>>());
    }
    let object = json!({"apiVersion": "v1", "kind": "ResourceQuota", "metadata": metadata(config, &args.name), "spec": spec, "status": {}});
    let path = format!("/api/v1/namespaces/{namespace}/resourcequotas");
    Ok(Generated { object, path, failure: Some("failed to create quota".into()) })
}

/// kubectl's `create poddisruptionbudget`, with the zeroed status Go writes.
fn disruption_budget(config: &Config, namespace: &str, args: &DisruptionBudgetArgs) -> Result<Generated, CtlError> {
    let selector = args.selector.as_deref().filter(|selector| !selector.is_empty()).ok_or_else(|| CtlError::Usage("a selector must be specified".into()))?;
    let mut spec = json!({"selector": {"matchLabels": labels(&selector.replace("==", "="))?}});
    match (&args.min_available, &args.max_unavailable) {
        (Some(_), Some(_)) => return Err(CtlError::Usage("min-available and max-unavailable cannot be both specified".into())),
        (Some(count), None) => spec["minAvailable"] = int_or_string(count),
        (None, Some(count)) => spec["maxUnavailable"] = int_or_string(count),
        (None, None) => return Err(CtlError::Usage("one of min-available or max-unavailable must be specified".into())),
    }
    let status = json!({"currentHealthy": 0, "desiredHealthy": 0, "disruptionsAllowed": 0, "expectedPods": 0});
    let object = json!({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": metadata(config, &args.name), "spec": spec, "status": status});
    let path = format!("/apis/policy/v1/namespaces/{namespace}/poddisruptionbudgets");
    Ok(Generated { object, path, failure: Some("failed to create poddisruptionbudgets".into()) })
}

/// kubectl's `create priorityclass`.
fn priority_class(config: &Config, args: &PriorityClassArgs) -> Generated {
    let mut object = json!({
        "apiVersion": "scheduling.k8s.io/v1",
        "kind": "PriorityClass",
        "metadata": metadata(config, &args.name),
        "value": args.value,
        "preemptionPolicy": args.preemption_policy
    });
    if !args.description.is_empty() {
        object["description"] = json!(args.description);
    }
    if args.global_default {
        object["globalDefault"] = json!(true);
    }
    let path = "/apis/scheduling.k8s.io/v1/priorityclasses".to_string();
    Generated { object, path, failure: Some("failed to create priorityclass".into()) }
}

/// `create token`: a TokenRequest of the ServiceAccount, its token printed.
async fn token(client: &kube::Client, namespace: &str, args: &TokenArgs) -> Result<(), CtlError> {
    let mut spec = json!({"audiences": args.audience});
    if let Some(duration) = &args.duration {
        let duration = crate::rollout::parse_duration(duration).map_err(|err| CtlError::Usage(format!("invalid argument {duration:?} for \"--duration\" flag: {err}")))?;
        if duration.as_secs() > 0 {
            spec["expirationSeconds"] = json!(duration.as_secs());
        }
    }
    let request = json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec});
    let path = format!("/api/v1/namespaces/{namespace}/serviceaccounts/{}/token", args.name);
    let answer = match send(client, "POST", &path, "application/json", &request).await {
        Err(CtlError::Server { message, .. }) => return Err(CtlError::Usage(format!("failed to create token: {message}"))),
        answer => answer?,
    };
    outln!("{}", answer["status"]["token"].as_str().unwrap_or_default())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ingress_rules_as_kubectl_reads_them() {
        let rules = vec!["foo.com/bar*=svc:8080,tls=cert".to_string(), "foo.com/baz=svc:http".to_string(), "/x=other:80,tls".to_string()];
        assert!(rules.iter().all(|rule| valid_rule(rule)));
        assert!(!valid_rule("foo.com=svc:80"));
        assert!(!valid_rule("foo.com/a=svc"));
        assert_eq!(ingress_tls(&rules), vec![json!({"hosts": ["foo.com"], "secretName": "cert"})]);
        let built = ingress_rules(&rules);
        assert_eq!(built.len(), 2);
        assert_eq!(built[0]["http"]["paths"][1], json!({"path": "/baz", "pathType": "Exact", "backend": {"service": {"name": "svc", "port": {"name": "http"}}}}));
        assert_eq!(built[0]["http"]["paths"][0]["pathType"], "Prefix");
    }

    #[test]
    fn dns_subdomains() {
        assert!(is_dns_subdomain("example.com"));
        assert!(!is_dns_subdomain("Example.com"));
        assert!(!is_dns_subdomain(""));
    }
}
