//! Clusters whose nodes are Docker containers on a network of their own, as kind makes them: one
//! control plane (apiserver, scheduler, controller-manager and a kubelet) and workers (a
//! kubelet each), every node with its own containerd.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::crashes;
use crate::docker;
use crate::encryption;
use crate::error::ClusterError;
use crate::image;
use crate::kubeconfig;
use crate::pki;

/// The label every container and network of a cluster carries, with the cluster's name.
pub const CLUSTER_LABEL: &str = "dev.cluster.name";
pub(crate) const ROLE_LABEL: &str = "dev.cluster.role";
/// The apiserver's port inside the control plane.
pub(crate) const API_PORT: u16 = 6443;
/// The cluster DNS Service's address, as kubeadm and kind give it.
pub const DNS_SERVICE_IP: &str = "10.96.0.10";
/// How the apiservers authorise: kubelets by the Node authoriser, everyone by RBAC.
const AUTHORIZATION_MODES: &str = "Node,RBAC";

/// Where each control plane's apiserver serves its health over plain HTTP, on loopback only,
/// for the node's own scripts (busybox's wget speaks no TLS with client certificates).
const HEALTH_PORT: u16 = 6080;

/// A shell test, on a control plane, that its apiserver is ready.
pub(crate) fn ready_check() -> String {
    format!("wget -q -O /dev/null http://127.0.0.1:{HEALTH_PORT}/readyz")
}

/// Where the apiserver keeps the cluster's objects.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Storage {
    /// The apiserver's own single-file store, on the control plane.
    Embedded,
    /// One etcd member on the control plane.
    Etcd,
    /// Three control-plane nodes, each with an etcd member of one cluster, an apiserver, and a
    /// scheduler and controller-manager that elect a leader.
    EtcdHa,
}

impl Storage {
    fn control_planes(self) -> usize {
        if self == Self::EtcdHa { 3 } else { 1 }
    }
}

pub struct CreateOptions {
    pub name: String,
    pub nodes: usize,
    pub storage: Storage,
    /// Where the workspace's release binaries are.
    pub binaries: PathBuf,
    /// Written besides being merged into `~/.kube/config` (or `$KUBECONFIG`).
    pub kubeconfig: Option<PathBuf>,
    pub wait: Duration,
    /// Extra flags per component, from `--config`.
    pub extra_args: ExtraArgs,
    /// Run a local registry on the cluster's network, published on this host port; pods pull
    /// `localhost:<port>/...` images from it.
    pub registry: Option<u16>,
    /// Registries whose images the nodes pull from the local registry instead.
    pub mirrors: Vec<String>,
}

/// Flags added to the components' command lines, as kind's config patches do.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ExtraArgs {
    pub apiserver: Vec<String>,
    pub scheduler: Vec<String>,
    pub controller_manager: Vec<String>,
    pub kubelet: Vec<String>,
}

/// A cluster config file:
///
/// ```yaml
/// nodes: 3                   # optional, overrides --nodes
/// apiserver: ["--default-not-ready-toleration-seconds=10"]
/// scheduler: []
/// controllerManager: ["--node-monitor-grace-period=10"]
/// kubelet: []
/// ```
pub fn read_config(path: &Path) -> Result<(Option<usize>, ExtraArgs), ClusterError> {
    let failed = |message: String| ClusterError::Config { path: path.display().to_string(), message };
    let text = std::fs::read_to_string(path).map_err(|err| failed(err.to_string()))?;
    let value: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).map_err(|err| failed(err.to_string()))?;
    let Some(map) = value.as_mapping() else { return Err(failed("is not a YAML mapping".into())) };
    let mut extra = ExtraArgs::default();
    let mut nodes = None;
    for (key, item) in map {
        let key = key.as_str().unwrap_or_default();
        let list = || -> Result<Vec<String>, ClusterError> {
            item.as_sequence()
                .ok_or_else(|| failed(format!("{key}: a list of flags is expected")))?
                .iter()
                .map(|flag| flag.as_str().map(str::to_string).ok_or_else(|| failed(format!("{key}: every flag must be a string"))))
                .collect()
        };
        match key {
            "nodes" => nodes = Some(item.as_u64().and_then(|n| usize::try_from(n).ok()).filter(|n| *n > 0).ok_or_else(|| failed("nodes: a positive number is expected".into()))?),
            "apiserver" => extra.apiserver = list()?,
            "scheduler" => extra.scheduler = list()?,
            "controllerManager" => extra.controller_manager = list()?,
            "kubelet" => extra.kubelet = list()?,
            "kind" | "apiVersion" => {}
            other => return Err(failed(format!("unknown key {other:?} (nodes, apiserver, scheduler, controllerManager, kubelet)"))),
        }
    }
    Ok((nodes, extra))
}

/// A flag as one shell word.
fn quote(arg: &str) -> String {
    format!("'{}'", arg.replace('\'', "'\\''"))
}

fn with_extra(command: String, extra: &[String]) -> String {
    let mut command = command;
    for arg in extra {
        command.push(' ');
        command.push_str(&quote(arg));
    }
    command
}

/// What `create` made.
pub struct Created {
    pub server: String,
    pub kubeconfig: PathBuf,
    pub context: String,
    pub nodes: Vec<String>,
}

/// kind's names: `<cluster>-control-plane[N]`, then `<cluster>-worker[N]`.
pub fn node_names(cluster: &str, count: usize, control_planes: usize) -> Vec<String> {
    let numbered = |role: &str, index: usize| if index == 1 { format!("{cluster}-{role}") } else { format!("{cluster}-{role}{index}") };
    let control_planes = control_planes.min(count);
    (1..=control_planes).map(|index| numbered("control-plane", index)).chain((1..=count - control_planes).map(|index| numbered("worker", index))).collect()
}

pub fn context_name(cluster: &str) -> String {
    format!("cluster-{cluster}")
}

/// `create`'s progress: each step with its own duration, and the whole at the end.
struct Steps {
    started: Instant,
    last: Instant,
}

impl Steps {
    fn start() -> Self {
        let now = Instant::now();
        Self { started: now, last: now }
    }

    fn done(&mut self, what: &str) {
        println!(" ✓ {what} ({:.1}s)", self.last.elapsed().as_secs_f64());
        self.last = Instant::now();
    }

    fn total(&self, cluster: &str) {
        println!("Created cluster {cluster:?} in {:.1}s", self.started.elapsed().as_secs_f64());
    }
}

pub async fn create(options: &CreateOptions) -> Result<Created, ClusterError> {
    if let Some(problem) = common::names::dns1123_label(&options.name).first() {
        return Err(ClusterError::Name(options.name.clone(), problem.clone()));
    }
    if options.name.len() > 40 {
        return Err(ClusterError::Name(options.name.clone(), "must be at most 40 characters, so that node names stay short".into()));
    }
    if options.nodes < options.storage.control_planes() {
        return Err(ClusterError::Name(options.name.clone(), format!("--storage {:?} needs at least {} nodes", options.storage, options.storage.control_planes())));
    }
    if options.nodes == 0 {
        return Err(ClusterError::Name(options.name.clone(), "a cluster needs at least one node".into()));
    }
    docker::check().await?;
    if !docker::containers_with(&format!("{CLUSTER_LABEL}={}", options.name)).await?.is_empty() {
        return Err(ClusterError::Exists(options.name.clone()));
    }
    println!("Creating cluster {:?} ({} node{}) ...", options.name, options.nodes, if options.nodes == 1 { "" } else { "s" });
    let mut steps = Steps::start();
    let tag = image::ensure(&options.binaries).await?;
    steps.done(&format!("Ensuring node image ({tag})"));
    match bring_up(options, &tag, &mut steps).await {
        Ok(created) => {
            steps.total(&options.name);
            Ok(created)
        }
        Err(err) => {
            // A failed create leaves nothing behind; keep the nodes' logs for a look first.
            let logs = std::env::temp_dir().join(format!("cluster-{}-failed-logs", options.name));
            if export_logs(&options.name, &logs).await.is_ok() {
                eprintln!("the nodes' logs are in {}", logs.display());
            }
            let _ = delete(&options.name).await;
            Err(err)
        }
    }
}

async fn bring_up(options: &CreateOptions, tag: &str, steps: &mut Steps) -> Result<Created, ClusterError> {
    let label = format!("{CLUSTER_LABEL}={}", options.name);
    docker::run(&["network", "create", "--label", &label, &options.name]).await?;
    let mut mirror = None;
    if let Some(port) = options.registry {
        let registry = format!("{}-registry", options.name);
        let publish = format!("127.0.0.1:{port}:5000");
        let role_label = format!("{ROLE_LABEL}=registry");
        let args = [
            "run", "-d", "--name", &registry, "--network", &options.name, "--label", &label, "--label", &role_label, "-p", &publish,
            "--entrypoint", "/usr/bin/docker-registry", tag, "serve", "/etc/docker/registry/config.yml",
        ];
        docker::run(&args).await?;
        // The node's own localhost has no registry: `localhost:PORT/...` is pulled from the
        // registry's container, and so is every registry named by --mirror.
        let hosts = std::iter::once(format!("localhost:{port}")).chain(options.mirrors.iter().cloned()).collect::<Vec<_>>();
        mirror = Some([format!("REGISTRY_MIRROR=http://{registry}:5000"), format!("REGISTRY_MIRROR_FOR={}", hosts.join(" "))]);
        steps.done(&format!("Starting the local registry (localhost:{port})"));
    }
    let control_planes = options.storage.control_planes();
    let nodes = node_names(&options.name, options.nodes, control_planes);
    let env: Vec<String> = mirror.into_iter().flatten().collect();
    // Chosen once: the kubeconfig keeps naming it across restarts of the nodes and of Docker.
    let port = free_port()?;
    let balanced = control_planes > 1;
    for (index, node) in nodes.iter().enumerate() {
        let role = if index < control_planes { Role::ControlPlane } else { Role::Worker };
        // With a load balancer the host reaches the apiservers through it alone.
        let publish = (index == 0 && !balanced).then_some(port);
        run_node(&options.name, node, role, tag, &env, publish).await?;
    }
    steps.done("Preparing nodes");

    let key = encryption::Key::generate()?;
    let authority = pki::Authority::generate(&options.name)?;
    let ca = authority.cert_pem();
    let admin = authority.client("kubernetes-admin", &["system:masters"])?;
    let secrets = Secrets { authority: &authority, service_account_key: pki::service_account_key()?, encryption: vec![key], admin: admin.clone() };
    if balanced {
        run_load_balancer(&options.name, tag, &ca, port).await?;
        steps.done(&format!("Starting the load balancer ({})", load_balancer_name(&options.name)));
    }
    let layout = Layout { cluster: options.name.clone(), storage: options.storage, extra: options.extra_args.clone(), env, balanced };
    for (index, node) in nodes.iter().enumerate() {
        let control_plane = (index < control_planes).then(|| ControlPlane { storage: options.storage, members: &nodes[..control_planes], tainted: nodes.len() > control_planes, joining: None });
        start_node(&layout, &secrets, node, &nodes[0], control_plane.as_ref()).await?;
    }
    let server = server_url(&options.name).await?;
    let client = client(&server, &ca, &admin).await?;
    let deadline = Instant::now() + options.wait;
    crashes::unless_crashed(&nodes, async {
        wait_apiserver(&client, &server, options.wait, deadline).await?;
        steps.done("Starting control plane");
        // Before the nodes are Ready, so that the DNS pods start on the first node that is.
        install_dns(&client).await?;
        steps.done("Installing cluster DNS");
        wait_nodes(&client, &nodes, None, options.wait, deadline).await?;
        steps.done(&format!("Waiting for {} node{} Ready", nodes.len(), if nodes.len() == 1 { "" } else { "s" }));
        Ok(())
    })
    .await?;

    for node in &nodes[..control_planes] {
        label_control_plane(&client, node).await?;
    }

    let context = context_name(&options.name);
    let credentials = kubeconfig::Credentials { ca: &ca, client: &admin };
    let path = match &options.kubeconfig {
        Some(path) => {
            kubeconfig::write(path, &context, &server, &credentials, false)?;
            path.clone()
        }
        None => kubeconfig::default_path(),
    };
    kubeconfig::write(&kubeconfig::default_path(), &context, &server, &credentials, true)?;
    Ok(Created { server, kubeconfig: path, context, nodes })
}

/// What a node container is for, as its role label says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    ControlPlane,
    Worker,
}

impl Role {
    pub(crate) fn label(self) -> &'static str {
        match self {
            Self::ControlPlane => "control-plane",
            Self::Worker => "worker",
        }
    }
}

/// A free port on the host's loopback, for the apiserver's published address.
fn free_port() -> Result<u16, ClusterError> {
    let io = |source| ClusterError::Io { what: "choosing a free port on 127.0.0.1".into(), source };
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|listener| listener.local_addr()).map(|address| address.port()).map_err(io)
}

/// The container in front of the apiservers of a cluster of several control planes, as kind
/// names it.
pub(crate) fn load_balancer_name(cluster: &str) -> String {
    format!("{cluster}-external-load-balancer")
}

/// The name every control plane answers to on the cluster's network: Docker's DNS gives the
/// addresses of all that run, which is how the load balancer finds its backends, also those
/// added later.
fn control_planes_alias(cluster: &str) -> String {
    format!("{cluster}-control-planes")
}

/// Where the nodes' components reach the API: the load balancer when there is one, else the
/// (only) control plane.
fn api_endpoint(cluster: &str, balanced: bool, first_control_plane: &str) -> String {
    let host = if balanced { load_balancer_name(cluster) } else { first_control_plane.to_string() };
    format!("https://{host}:{API_PORT}")
}

/// Starts the container of a node, which waits for `start_node` to say what it runs.
pub(crate) async fn run_node(cluster: &str, node: &str, role: Role, tag: &str, env: &[String], publish: Option<u16>) -> Result<(), ClusterError> {
    let label = format!("{CLUSTER_LABEL}={cluster}");
    let role_label = format!("{ROLE_LABEL}={}", role.label());
    let mut args = vec!["run", "-d", "--name", node, "--hostname", node, "--network", cluster, "--label", &label, "--label", &role_label];
    let alias = control_planes_alias(cluster);
    if role == Role::ControlPlane {
        args.extend(["--network-alias", &alias]);
    }
    // The flags ARCHITECTURE.md records as what works here: all capabilities but
    // CAP_SYS_RESOURCE (outside the bounding set), the host's cgroups (v1, shared, so each
    // node keeps its pods under a cgroup root of its own), and containerd's state on a volume
    // (overlay snapshots on the container's overlay root fail).
    args.extend([
        "--cap-add", "ALL", "--cap-drop", "SYS_RESOURCE",
        "--security-opt", "seccomp=unconfined", "--security-opt", "apparmor=unconfined", "--security-opt", "systempaths=unconfined",
        "--device-cgroup-rule", "a *:* rwm", "--cgroupns=host", "-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw",
        "-v", "/var/lib/containerd",
    ]);
    let publish = publish.map(|port| format!("127.0.0.1:{port}:{API_PORT}"));
    if let Some(publish) = &publish {
        args.extend(["-p", publish]);
    }
    for variable in env {
        args.extend(["-e", variable]);
    }
    args.push(tag);
    docker::run(&args).await?;
    Ok(())
}

/// Where the load balancer's container keeps the CA it checks the apiservers' certificates
/// against (a directory the image has, so that `docker cp` can put it there before start).
const LOAD_BALANCER_CA: &str = "/etc/cluster-ca.crt";

/// The load balancer in front of the apiservers (our `loadbalancer`, from the node image),
/// published on `port`. It restarts by itself: with it down, no client reaches the cluster.
async fn run_load_balancer(cluster: &str, tag: &str, ca: &str, port: u16) -> Result<(), ClusterError> {
    let name = load_balancer_name(cluster);
    let label = format!("{CLUSTER_LABEL}={cluster}");
    let role_label = format!("{ROLE_LABEL}=external-load-balancer");
    let publish = format!("127.0.0.1:{port}:{API_PORT}");
    let listen = format!("0.0.0.0:{API_PORT}");
    let backends = format!("{}:{API_PORT}", control_planes_alias(cluster));
    let args = [
        "create", "--name", &name, "--hostname", &name, "--network", cluster, "--label", &label, "--label", &role_label, "--restart", "unless-stopped",
        "-p", &publish, "--entrypoint", "/usr/local/bin/loadbalancer", tag,
        "--listen", &listen, "--backends", &backends, "--ca-file", LOAD_BALANCER_CA, "--server-name", "kubernetes",
    ];
    docker::run(&args).await?;
    let dir = tempfile::tempdir().map_err(|source| ClusterError::Io { what: "a temporary directory".into(), source })?;
    let file = dir.path().join("ca.crt");
    std::fs::write(&file, ca).map_err(|source| ClusterError::Io { what: format!("writing {}", file.display()), source })?;
    docker::run(&["cp", &file.display().to_string(), &format!("{name}:{LOAD_BALANCER_CA}")]).await?;
    docker::run(&["start", &name]).await?;
    Ok(())
}

/// The cluster's keys, which every control plane holds.
pub(crate) struct Secrets<'a> {
    pub authority: &'a pki::Authority,
    pub service_account_key: String,
    pub encryption: Vec<encryption::Key>,
    /// The administrator's certificate, the user's and every control plane's alike, so that
    /// `get kubeconfig` gives what `create` gave.
    pub admin: pki::Issued,
}

/// How every node of a cluster is made, kept on each node (`/etc/cluster/cluster.json`) so that
/// `add-node` makes new ones the same way.
pub(crate) struct Layout {
    pub cluster: String,
    pub storage: Storage,
    pub extra: ExtraArgs,
    /// The node containers' environment (the local registry's mirror settings).
    pub env: Vec<String>,
    /// Whether a load balancer stands in front of the apiservers.
    pub balanced: bool,
}

pub(crate) const LAYOUT_PATH: &str = "/etc/cluster/cluster.json";

impl Layout {
    fn to_json(&self) -> serde_json::Value {
        let storage = match self.storage {
            Storage::Embedded => "embedded",
            Storage::Etcd => "etcd",
            Storage::EtcdHa => "etcd-ha",
        };
        serde_json::json!({
            "storage": storage, "balanced": self.balanced, "env": self.env,
            "apiserver": self.extra.apiserver, "scheduler": self.extra.scheduler,
            "controllerManager": self.extra.controller_manager, "kubelet": self.extra.kubelet,
        })
    }

    pub(crate) fn parse(cluster: &str, text: &str) -> Result<Self, ClusterError> {
        let bad = |message: String| ClusterError::Config { path: LAYOUT_PATH.into(), message };
        let value: serde_json::Value = serde_json::from_str(text).map_err(|err| bad(err.to_string()))?;
        let strings = |key: &str| -> Vec<String> { value[key].as_array().into_iter().flatten().filter_map(|item| item.as_str().map(str::to_string)).collect() };
        let storage = match value["storage"].as_str() {
            Some("embedded") => Storage::Embedded,
            Some("etcd") => Storage::Etcd,
            Some("etcd-ha") => Storage::EtcdHa,
            other => return Err(bad(format!("unknown storage {other:?}"))),
        };
        let extra = ExtraArgs { apiserver: strings("apiserver"), scheduler: strings("scheduler"), controller_manager: strings("controllerManager"), kubelet: strings("kubelet") };
        Ok(Self { cluster: cluster.to_string(), storage, extra, env: strings("env"), balanced: value["balanced"].as_bool().unwrap_or(false) })
    }
}

/// Gives `node` its certificates, kubeconfigs and keys, and the script of what it runs, which
/// its entrypoint then starts.
pub(crate) async fn start_node(layout: &Layout, secrets: &Secrets<'_>, node: &str, first_control_plane: &str, control_plane: Option<&ControlPlane<'_>>) -> Result<(), ClusterError> {
    let authority = secrets.authority;
    let ca = authority.cert_pem();
    // Kubelets reach the apiservers through the load balancer (or the one control plane); a
    // control plane's scheduler and controller-manager too when there is a load balancer, so
    // that they keep their leases when their own apiserver is gone, else their own apiserver,
    // as kubeadm's static pods do.
    let endpoint = api_endpoint(&layout.cluster, layout.balanced, first_control_plane);
    let kubelet = authority.client(&format!("system:node:{node}"), &["system:nodes"])?;
    let ip = docker::run(&["inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", node]).await?;
    // The apiserver dials kubelets at their InternalIP.
    let kubelet_serving = authority.server(node, &[node.to_string(), ip.trim().to_string()])?;
    let mut files = vec![
        ("ca.crt".to_string(), ca.clone()),
        ("kubelet.kubeconfig".to_string(), pki::kubeconfig(&endpoint, &ca, &kubelet, "kubelet")),
        ("kubelet.crt".to_string(), kubelet_serving.cert),
        ("kubelet.key".to_string(), kubelet_serving.key),
    ];
    if control_plane.is_some() {
        let serving = authority.apiserver(node, ip.trim(), &[load_balancer_name(&layout.cluster)])?;
        let kubelet_client = authority.client("kube-apiserver-kubelet-client", &["system:masters"])?;
        let local = format!("https://127.0.0.1:{API_PORT}");
        let components = if layout.balanced { endpoint.clone() } else { local.clone() };
        files.extend([
            ("ca.key".to_string(), authority.key_pem()),
            ("apiserver.crt".to_string(), serving.cert),
            ("apiserver.key".to_string(), serving.key),
            ("sa.key".to_string(), secrets.service_account_key.clone()),
            ("apiserver-kubelet-client.crt".to_string(), kubelet_client.cert),
            ("apiserver-kubelet-client.key".to_string(), kubelet_client.key),
            ("admin.kubeconfig".to_string(), pki::kubeconfig(&local, &ca, &secrets.admin, "admin")),
            ("scheduler.kubeconfig".to_string(), pki::kubeconfig(&components, &ca, &authority.client("system:kube-scheduler", &[])?, "scheduler")),
            ("controller-manager.kubeconfig".to_string(), pki::kubeconfig(&components, &ca, &authority.client("system:kube-controller-manager", &[])?, "controller-manager")),
        ]);
    }
    for (file, content) in &files {
        write_file(node, &format!("{}/{file}", pki::DIR), content.as_bytes()).await?;
    }
    write_file(node, LAYOUT_PATH, layout.to_json().to_string().as_bytes()).await?;
    if control_plane.is_some() {
        encryption::write(node, &secrets.encryption).await?;
    }
    let script = run_script(&layout.cluster, node, control_plane, &layout.extra);
    write_file(node, "/etc/cluster/run.tmp", script.as_bytes()).await?;
    // The entrypoint waits for this file; the rename hands it over whole.
    docker::run(&["exec", node, "mv", "/etc/cluster/run.tmp", "/etc/cluster/run"]).await?;
    Ok(())
}

/// Waits until the apiserver behind `client` (at `server`) is ready.
pub(crate) async fn wait_apiserver(client: &kube::Client, server: &str, wait: Duration, deadline: Instant) -> Result<(), ClusterError> {
    while request(client, http::Method::GET, "/readyz", None).await.is_err() {
        if Instant::now() > deadline {
            return Err(ClusterError::NotReady(format!("the apiserver at {server} did not become ready within {wait:?}")));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

/// Waits until every one of `nodes` is Ready, as its kubelet said after `since` when given (a
/// restarted node's Ready of before is not yet its kubelet's word).
pub(crate) async fn wait_nodes(client: &kube::Client, nodes: &[String], since: Option<jiff::Timestamp>, wait: Duration, deadline: Instant) -> Result<(), ClusterError> {
    loop {
        let ready = ready_nodes(client, since).await;
        if nodes.iter().all(|node| ready.contains(node)) {
            return Ok(());
        }
        if Instant::now() > deadline {
            let missing: Vec<&String> = nodes.iter().filter(|node| !ready.contains(node)).collect();
            return Err(ClusterError::NotReady(format!("nodes {missing:?} not Ready within {wait:?}")));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The role label is the administrator's to set (NodeRestriction refuses it from a kubelet):
/// set once the node is there, as kubeadm does.
pub(crate) async fn label_control_plane(client: &kube::Client, node: &str) -> Result<(), ClusterError> {
    let label = serde_json::json!({"metadata": {"labels": {"node-role.kubernetes.io/control-plane": ""}}});
    request_as(client, http::Method::PATCH, &format!("/api/v1/nodes/{node}"), Some(&label), "application/merge-patch+json")
        .await
        .map_err(|err| ClusterError::NotReady(format!("labelling {node} as a control plane: {err}")))?;
    Ok(())
}

/// The cluster DNS as kubeadm installs CoreDNS: a Deployment of 2 in `kube-system`, of the
/// `system-cluster-critical` priority, behind the Service `kube-dns` at 10.96.0.10, running as
/// the ServiceAccount `cluster-dns`, which may read what it serves (kubeadm's `system:coredns`
/// role) and reaches the API from its pods as any in-cluster client does.
async fn install_dns(client: &kube::Client) -> Result<(), ClusterError> {
    let labels = serde_json::json!({"k8s-app": "kube-dns"});
    let objects = [
        ("/api/v1/namespaces/kube-system/serviceaccounts", serde_json::json!({
            "apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "cluster-dns"},
        })),
        ("/apis/rbac.authorization.k8s.io/v1/clusterroles", serde_json::json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "system:cluster-dns"},
            "rules": [
                {"apiGroups": [""], "resources": ["endpoints", "services", "pods", "namespaces"], "verbs": ["list", "watch"]},
                {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": ["list", "watch"]},
            ],
        })),
        ("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", serde_json::json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": "system:cluster-dns"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "system:cluster-dns"},
            "subjects": [{"kind": "ServiceAccount", "name": "cluster-dns", "namespace": "kube-system"}],
        })),
        ("/api/v1/namespaces/kube-system/services", serde_json::json!({
            "apiVersion": "v1", "kind": "Service", "metadata": {"name": "kube-dns", "labels": labels},
            "spec": {"clusterIP": DNS_SERVICE_IP, "selector": labels, "ports": [
                {"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53},
                {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 53},
                {"name": "metrics", "port": 8080, "protocol": "TCP", "targetPort": 8080},
            ]},
        })),
        ("/apis/apps/v1/namespaces/kube-system/deployments", serde_json::json!({
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "cluster-dns", "labels": labels},
            "spec": {"replicas": 2, "selector": {"matchLabels": labels}, "template": {"metadata": {"labels": labels}, "spec": {
                // Not itself: it forwards to what the node uses.
                "dnsPolicy": "Default",
                "serviceAccountName": "cluster-dns",
                // As kubeadm's CoreDNS: kept running under pressure, preempting ordinary pods
                // (the apiserver creates the class at start).
                "priorityClassName": "system-cluster-critical",
                "tolerations": [{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}, {"key": "CriticalAddonsOnly", "operator": "Exists"}],
                "containers": [{
                    "name": "dns", "image": "localhost/cluster-dns:local", "imagePullPolicy": "IfNotPresent",
                    "args": ["--listen=0.0.0.0:53", "--health-address=0.0.0.0:8080"],
                    "ports": [{"name": "dns", "containerPort": 53, "protocol": "UDP"}, {"name": "dns-tcp", "containerPort": 53, "protocol": "TCP"}, {"name": "metrics", "containerPort": 8080, "protocol": "TCP"}],
                    // Probed each second. The first probe comes as the server starts; its
                    // /ready waits (under the probe's timeout) for the first list of Services.
                    "readinessProbe": {"httpGet": {"path": "/ready", "port": 8080}, "periodSeconds": 1},
                    "livenessProbe": {"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 10, "failureThreshold": 5},
                    "resources": {"requests": {"cpu": "100m", "memory": "32Mi"}, "limits": {"memory": "128Mi"}},
                }],
            }}},
        })),
    ];
    for (path, object) in objects {
        request(client, http::Method::POST, path, Some(&object)).await.map_err(|err| ClusterError::NotReady(format!("installing cluster DNS: POST {path}: {err}")))?;
    }
    Ok(())
}

/// A client of the cluster's apiserver at `server` as `user`, trusting the cluster CA.
pub(crate) async fn client(server: &str, ca: &str, user: &pki::Issued) -> Result<kube::Client, ClusterError> {
    let failed = |err: String| ClusterError::NotReady(format!("a client for {server}: {err}"));
    let text = pki::kubeconfig(server, ca, user, "admin");
    let kubeconfig = kube::config::Kubeconfig::from_yaml(&text).map_err(|err| failed(err.to_string()))?;
    let mut config = kube::Config::from_custom_kubeconfig(kubeconfig, &kube::config::KubeConfigOptions::default()).await.map_err(|err| failed(err.to_string()))?;
    config.connect_timeout = Some(Duration::from_secs(5));
    config.read_timeout = Some(Duration::from_secs(30));
    kube::Client::try_from(config).map_err(|err| failed(err.to_string()))
}

/// A client of cluster `name` as its administrator, through the address published on the host
/// (the control planes keep the administrator's kubeconfig, as kubeadm's `admin.conf`).
pub(crate) async fn admin_client(name: &str) -> Result<kube::Client, ClusterError> {
    let control_planes = running_control_planes(name).await?;
    let first = control_planes.first().ok_or_else(|| ClusterError::Missing(name.to_string()))?;
    let text = docker::run(&["exec", first, "cat", &format!("{}/admin.kubeconfig", pki::DIR)]).await?;
    let failed = |err: String| ClusterError::Kubeconfig { path: format!("{first}:{}/admin.kubeconfig", pki::DIR), message: err };
    let mut kubeconfig = kube::config::Kubeconfig::from_yaml(&text).map_err(|err| failed(err.to_string()))?;
    let server = server_url(name).await?;
    for cluster in &mut kubeconfig.clusters {
        if let Some(cluster) = cluster.cluster.as_mut() {
            cluster.server = Some(server.clone());
        }
    }
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &kube::config::KubeConfigOptions::default()).await.map_err(|err| failed(err.to_string()))?;
    kube::Client::try_from(config).map_err(|err| failed(err.to_string()))
}

/// One request with a JSON body (or none); the answer's JSON, or what went wrong.
pub(crate) async fn request(client: &kube::Client, method: http::Method, path: &str, body: Option<&serde_json::Value>) -> Result<serde_json::Value, String> {
    request_as(client, method, path, body, "application/json").await
}

/// The same with the body's content type (a patch's kind).
async fn request_as(client: &kube::Client, method: http::Method, path: &str, body: Option<&serde_json::Value>, content_type: &str) -> Result<serde_json::Value, String> {
    let body = body.map(|body| body.to_string().into_bytes()).unwrap_or_default();
    let request = http::Request::builder().method(method).uri(path).header(http::header::CONTENT_TYPE, content_type).body(body).map_err(|err| err.to_string())?;
    let text = client.request_text(request).await.map_err(|err| err.to_string())?;
    Ok(serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)))
}

async fn ready_nodes(client: &kube::Client, since: Option<jiff::Timestamp>) -> Vec<String> {
    let Ok(list) = request(client, http::Method::GET, "/api/v1/nodes", None).await else { return Vec::new() };
    // The API's times are whole seconds.
    let since = since.and_then(|since| since.round(jiff::TimestampRound::new().smallest(jiff::Unit::Second).mode(jiff::RoundMode::Floor)).ok());
    let heard = |condition: &serde_json::Value| {
        since.is_none_or(|since| condition["lastHeartbeatTime"].as_str().and_then(|time| time.parse::<jiff::Timestamp>().ok()).is_some_and(|time| time >= since))
    };
    list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|node| node["status"]["conditions"].as_array().into_iter().flatten().any(|c| c["type"] == "Ready" && c["status"] == "True" && heard(c)))
        // Ready as the scheduler sees it too: the not-ready taint of its first moments gone.
        .filter(|node| !node["spec"]["taints"].as_array().into_iter().flatten().any(|t| t["key"] == "node.kubernetes.io/not-ready" || t["key"] == "node.kubernetes.io/unreachable"))
        .filter_map(|node| node["metadata"]["name"].as_str().map(str::to_string))
        .collect()
}

async fn write_file(node: &str, path: &str, content: &[u8]) -> Result<(), ClusterError> {
    let dir = Path::new(path).parent().map(|p| p.display().to_string()).unwrap_or_else(|| "/".into());
    docker::run_with_input(&["exec", "-i", node, "sh", "-c", &format!("mkdir -p {dir} && cat > {path}")], Some(content)).await?;
    Ok(())
}

/// What a control-plane node needs to know to run its part.
pub(crate) struct ControlPlane<'a> {
    pub storage: Storage,
    /// Every control-plane node, this one among them.
    pub members: &'a [String],
    /// Whether the cluster has workers: only then are control planes tainted, as kind leaves a
    /// cluster of control planes alone open to every pod.
    pub tainted: bool,
    /// For a member joining a running etcd cluster (`add-node`): the `--initial-cluster` that
    /// `etcdctl member add` answered, the existing members and this one.
    pub joining: Option<String>,
}

impl ControlPlane<'_> {
    /// The etcd member (if any) and the apiserver's storage flags.
    fn storage_commands(&self, node: &str) -> (Option<String>, String) {
        // `--pre-vote` (the default from etcd 3.5; Debian ships 3.4): a member that comes back
        // behind the others campaigns without raising the term first, so it cannot depose a
        // healthy leader and stall every apiserver's reads while the others elect a new one.
        let member = |listen: &str, advertise: &str| {
            format!(
                "supervise etcd etcd --name {node} --data-dir /var/lib/cluster/etcd --listen-client-urls http://{listen}:2379 --advertise-client-urls http://{advertise}:2379 \
                 --listen-peer-urls http://{listen}:2380 --initial-advertise-peer-urls http://{advertise}:2380 --pre-vote"
            )
        };
        match self.storage {
            Storage::Embedded => (None, "--storage embedded --data-dir /var/lib/cluster/apiserver".into()),
            Storage::Etcd => {
                let etcd = format!("{} --initial-cluster {node}=http://127.0.0.1:2380", member("127.0.0.1", "127.0.0.1"));
                (Some(etcd), "--storage etcd --etcd-servers http://127.0.0.1:2379".into())
            }
            Storage::EtcdHa => {
                let etcd = match &self.joining {
                    Some(initial) => format!("{} --initial-cluster {initial} --initial-cluster-state existing", member("0.0.0.0", node)),
                    None => {
                        let peers: Vec<String> = self.members.iter().map(|member| format!("{member}=http://{member}:2380")).collect();
                        format!("{} --initial-cluster {} --initial-cluster-state new --initial-cluster-token cluster", member("0.0.0.0", node), peers.join(","))
                    }
                };
                // Each apiserver talks to its own member, as kubeadm's stacked etcd does: a lost
                // control plane takes one apiserver and one member, and the others keep quorum.
                (Some(etcd), "--storage etcd --etcd-servers http://127.0.0.1:2379".into())
            }
        }
    }
}

/// What a node runs at every boot (the entrypoint starts containerd first). Each component is
/// restarted when it exits, as a service manager would.
fn run_script(cluster: &str, node: &str, control_plane: Option<&ControlPlane<'_>>, extra: &ExtraArgs) -> String {
    let mut script = String::from(
        "#!/bin/sh\n\
         # Written by `cluster create`; run by node-entrypoint at every boot of this node.\n\
         mkdir -p /var/log/cluster /var/lib/cluster\n\
         supervise() {\n  name=$1; shift\n  while true; do\n    \"$@\" >>/var/log/cluster/$name.log 2>&1\n    echo \"$name exited ($?); restarting\" >>/var/log/cluster/$name.log\n    sleep 1\n  done\n}\n",
    );
    if let Some(control_plane) = control_plane {
        let (etcd, storage) = control_plane.storage_commands(node);
        if let Some(etcd) = etcd {
            script.push_str(&format!("{etcd} &\n"));
        }
        let pki = pki::DIR;
        // The node's address on the cluster network, which pods reach the `kubernetes` Service at.
        script.push_str("address=$(hostname -i | cut -d' ' -f1)\n");
        let apiserver = format!(
            "supervise apiserver apiserver {storage} --bind-address 0.0.0.0:{API_PORT} --advertise-address \"$address\" --encryption-provider-config {} --audit-log-path /var/log/cluster/audit.log \
             --tls-cert-file {pki}/apiserver.crt --tls-private-key-file {pki}/apiserver.key --client-ca-file {pki}/ca.crt --authorization-mode {AUTHORIZATION_MODES} \
             --service-account-signing-key-file {pki}/sa.key --health-bind-address 127.0.0.1:{HEALTH_PORT} \
             --kubelet-client-certificate {pki}/apiserver-kubelet-client.crt --kubelet-client-key {pki}/apiserver-kubelet-client.key --kubelet-certificate-authority {pki}/ca.crt",
            encryption::CONFIG_PATH
        );
        let scheduler = format!("supervise scheduler scheduler --kubeconfig {pki}/scheduler.kubeconfig");
        let manager = format!("supervise controller-manager controller-manager --kubeconfig {pki}/controller-manager.kubeconfig --root-ca-file {pki}/ca.crt --cluster-signing-cert-file {pki}/ca.crt --cluster-signing-key-file {pki}/ca.key");
        script.push_str(&format!("{} &\nuntil {}; do sleep 0.1; done\n", with_extra(apiserver, &extra.apiserver), ready_check()));
        script.push_str(&format!("{} &\n", with_extra(scheduler, &extra.scheduler)));
        script.push_str(&format!("{} &\n", with_extra(manager, &extra.controller_manager)));
    }
    let mut kubelet = format!(
        "supervise kubelet kubelet --kubeconfig {pki}/kubelet.kubeconfig --tls-cert-file {pki}/kubelet.crt --tls-private-key-file {pki}/kubelet.key --client-ca-file {pki}/ca.crt --authorization-mode Webhook --hostname-override {node} --cgroup-root /cluster-{cluster}/{node} \
         --cni-conf-dir /etc/cni/net.d --pod-routes --proxy --cluster-dns {DNS_SERVICE_IP} --eviction-hard 'memory.available<100Mi,nodefs.available<1%'",
        pki = pki::DIR
    );
    if control_plane.is_some_and(|control_plane| control_plane.tainted) {
        // The role label is the administrator's to set (NodeRestriction refuses it from a
        // kubelet, as on Kubernetes): `create` adds it once the node is there, as kubeadm does.
        kubelet.push_str(" --register-with-taints 'node-role.kubernetes.io/control-plane=:NoSchedule'");
    }
    script.push_str(&with_extra(kubelet, &extra.kubelet));
    script.push_str(" &\nwait\n");
    script
}

/// Removes the cluster's containers (with their volumes), its network, its nodes' pod cgroups
/// and its kubeconfig entries. Unlike kind, deleting a cluster that is not there is an error,
/// so that a mistyped name is not taken for a deleted cluster.
pub async fn delete(name: &str) -> Result<(), ClusterError> {
    docker::check().await?;
    let label = format!("{CLUSTER_LABEL}={name}");
    let containers = docker::containers_with(&label).await?;
    let networks = docker::run(&["network", "ls", "-q", "--filter", &format!("label={label}")]).await?;
    let networks: Vec<&str> = networks.lines().map(str::trim).filter(|line| !line.is_empty()).collect();
    if containers.is_empty() && networks.is_empty() {
        return Err(ClusterError::Missing(name.to_string()));
    }
    if !containers.is_empty() {
        let mut args = vec!["rm", "-f", "-v"];
        args.extend(containers.iter().map(String::as_str));
        docker::run(&args).await?;
    }
    for network in networks {
        docker::run(&["network", "rm", network]).await?;
    }
    // The nodes kept their pods under `/cluster-<name>/<node>` in the shared kernel's cgroups.
    common::cgroups::remove_tree(&format!("cluster-{name}"));
    kubeconfig::forget(&kubeconfig::default_path(), &context_name(name))?;
    Ok(())
}

/// The apiserver's address as published on the host: by the load balancer when the cluster
/// has one, else by its control plane.
pub(crate) async fn server_url(name: &str) -> Result<String, ClusterError> {
    let publisher = match load_balancer(name).await? {
        Some(balancer) => balancer,
        None => control_planes(name).await?.swap_remove(0),
    };
    let mapped = docker::run(&["port", &publisher, &format!("{API_PORT}/tcp")]).await?;
    let address = mapped.lines().find(|line| line.starts_with("127.0.0.1:")).unwrap_or(mapped.as_str()).trim().to_string();
    Ok(format!("https://{address}"))
}

/// The apiserver's address on the cluster's network, where the nodes' components reach it.
pub(crate) async fn internal_server(name: &str) -> Result<String, ClusterError> {
    let balanced = load_balancer(name).await?.is_some();
    Ok(api_endpoint(name, balanced, &control_planes(name).await?[0]))
}

/// The cluster's load balancer, if it has one.
async fn load_balancer(name: &str) -> Result<Option<String>, ClusterError> {
    let found = docker::containers_with_all(&[format!("{CLUSTER_LABEL}={name}"), format!("{ROLE_LABEL}=external-load-balancer")]).await?;
    Ok(found.into_iter().next())
}

/// The cluster's control-plane nodes, running or not, in name order.
pub(crate) async fn control_planes(name: &str) -> Result<Vec<String>, ClusterError> {
    docker::check().await?;
    let filters = [format!("{CLUSTER_LABEL}={name}"), format!("{ROLE_LABEL}=control-plane")];
    let nodes = docker::containers_with_all(&filters).await?;
    if nodes.is_empty() {
        return Err(ClusterError::Missing(name.to_string()));
    }
    Ok(nodes)
}

/// The control planes that run now (one stopped for a while has no apiserver to ask).
pub(crate) async fn running_control_planes(name: &str) -> Result<Vec<String>, ClusterError> {
    let all = control_planes(name).await?;
    let running = docker::run(&["ps", "--filter", &format!("label={CLUSTER_LABEL}={name}"), "--filter", "status=running", "--format", "{{.Names}}"]).await?;
    let running: Vec<&str> = running.lines().map(str::trim).collect();
    let live: Vec<String> = all.into_iter().filter(|node| running.contains(&node.as_str())).collect();
    if live.is_empty() {
        return Err(ClusterError::NotReady(format!("no control plane of cluster {name:?} is running")));
    }
    Ok(live)
}

pub async fn clusters() -> Result<Vec<String>, ClusterError> {
    docker::check().await?;
    let out = docker::run(&["ps", "-a", "--filter", &format!("label={CLUSTER_LABEL}"), "--format", &format!("{{{{.Label \"{CLUSTER_LABEL}\"}}}}")]).await?;
    let mut names: Vec<String> = out.lines().map(str::trim).filter(|line| !line.is_empty()).map(str::to_string).collect();
    names.sort();
    names.dedup();
    Ok(names)
}

/// The cluster's node containers (not its registry).
pub async fn nodes(name: &str) -> Result<Vec<String>, ClusterError> {
    docker::check().await?;
    let mut nodes = Vec::new();
    for role in ["control-plane", "worker"] {
        let filters = [format!("{CLUSTER_LABEL}={name}"), format!("{ROLE_LABEL}={role}")];
        nodes.extend(docker::containers_with_all(&filters).await?);
    }
    if nodes.is_empty() {
        return Err(ClusterError::Missing(name.to_string()));
    }
    nodes.sort();
    Ok(nodes)
}

/// Every component's log from every node into `dir/<node>/`.
pub async fn export_logs(name: &str, dir: &Path) -> Result<(), ClusterError> {
    let nodes = nodes(name).await?;
    for node in &nodes {
        let target = dir.join(node);
        std::fs::create_dir_all(&target).map_err(|source| ClusterError::Io { what: format!("creating {}", target.display()), source })?;
        let target_text = target.display().to_string();
        for path in ["/var/log/cluster", "/var/log/containerd.log", "/var/log/pods"] {
            // A node that has not written a log yet simply has none to give.
            let _ = docker::run(&["cp", &format!("{node}:{path}"), &target_text]).await;
        }
        let inspect = docker::run(&["inspect", node]).await.unwrap_or_default();
        let _ = std::fs::write(target.join("inspect.json"), inspect);
    }
    // The load balancer logs to its container's output: which backends it saw come and go.
    let balancer = load_balancer_name(name);
    if let Ok(logs) = docker::logs(&balancer).await {
        let target = dir.join(&balancer);
        std::fs::create_dir_all(&target).map_err(|source| ClusterError::Io { what: format!("creating {}", target.display()), source })?;
        let _ = std::fs::write(target.join("loadbalancer.log"), logs);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_are_named_as_kind_names_them() {
        assert_eq!(node_names("demo", 3, 1), vec!["demo-control-plane", "demo-worker", "demo-worker2"]);
        assert_eq!(node_names("one", 1, 1), vec!["one-control-plane"]);
        assert_eq!(node_names("ha", 4, 3), vec!["ha-control-plane", "ha-control-plane2", "ha-control-plane3", "ha-worker"]);
    }

    #[test]
    fn configs_add_flags_quoted_for_the_shell() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cluster.yaml");
        std::fs::write(&path, "nodes: 2\napiserver: [\"--x=it's\"]\ncontrollerManager: [\"--node-monitor-grace-period=10\"]\n").unwrap();
        let (nodes, extra) = read_config(&path).unwrap();
        assert_eq!(nodes, Some(2));
        let members = ["c-control-plane".to_string()];
        let script = run_script("c", "c-control-plane", Some(&ControlPlane { storage: Storage::Embedded, members: &members, tainted: true, joining: None }), &extra);
        assert!(script.contains("--kubelet-certificate-authority /etc/cluster/pki/ca.crt '--x=it'\\''s' &"), "{script}");
        assert!(script.contains("kubelet --kubeconfig /etc/cluster/pki/kubelet.kubeconfig --tls-cert-file /etc/cluster/pki/kubelet.crt --tls-private-key-file /etc/cluster/pki/kubelet.key --client-ca-file /etc/cluster/pki/ca.crt --authorization-mode Webhook"), "{script}");
        assert!(script.contains("--tls-cert-file /etc/cluster/pki/apiserver.crt --tls-private-key-file /etc/cluster/pki/apiserver.key --client-ca-file /etc/cluster/pki/ca.crt"), "{script}");
        assert!(script.contains("controller-manager --kubeconfig /etc/cluster/pki/controller-manager.kubeconfig --root-ca-file /etc/cluster/pki/ca.crt --cluster-signing-cert-file /etc/cluster/pki/ca.crt --cluster-signing-key-file /etc/cluster/pki/ca.key '--node-monitor-grace-period=10' &"), "{script}");
        let taint = "--register-with-taints 'node-role.kubernetes.io/control-plane=:NoSchedule'";
        assert!(script.contains(taint), "a control plane beside workers is kept for the system: {script}");
        let alone = run_script("c", "c-control-plane", Some(&ControlPlane { storage: Storage::Embedded, members: &members, tainted: false, joining: None }), &extra);
        assert!(!alone.contains(taint), "a cluster of control planes alone runs every pod: {alone}");
        let ha = ["h-control-plane".to_string(), "h-control-plane2".to_string(), "h-control-plane3".to_string()];
        let second = run_script("h", "h-control-plane2", Some(&ControlPlane { storage: Storage::EtcdHa, members: &ha, tainted: true, joining: None }), &ExtraArgs::default());
        assert!(second.contains("--initial-cluster h-control-plane=http://h-control-plane:2380,h-control-plane2=http://h-control-plane2:2380,h-control-plane3=http://h-control-plane3:2380"), "{second}");
        assert!(second.contains("--listen-client-urls http://0.0.0.0:2379 --advertise-client-urls http://h-control-plane2:2379"), "{second}");
        assert!(second.contains("--etcd-servers http://127.0.0.1:2379"));
        std::fs::write(&path, "workers: 2\n").unwrap();
        assert!(read_config(&path).is_err(), "unknown keys are refused");
    }

    #[test]
    fn the_layout_a_node_keeps_reads_back_as_written() {
        let extra = ExtraArgs { apiserver: vec!["--x=it's".into()], controller_manager: vec!["--node-monitor-grace-period=10".into()], ..ExtraArgs::default() };
        let layout = Layout { cluster: "ha".into(), storage: Storage::EtcdHa, extra: extra.clone(), env: vec!["REGISTRY_MIRROR=http://ha-registry:5000".into()], balanced: true };
        let back = Layout::parse("ha", &layout.to_json().to_string()).unwrap();
        assert_eq!((back.storage, back.extra, back.env, back.balanced), (Storage::EtcdHa, extra, layout.env.clone(), true));
        assert!(Layout::parse("ha", "{\"storage\": \"tape\"}").is_err(), "an unknown storage is refused");
        assert_eq!(api_endpoint("ha", true, "ha-control-plane"), "https://ha-external-load-balancer:6443");
        assert_eq!(api_endpoint("one", false, "one-control-plane"), "https://one-control-plane:6443");
    }
}

/// The cluster's kubeconfig as `create` writes it, for clients on the host, or with `internal`
/// for those on the cluster's Docker network (the load balancer's or control plane's name), as
/// `kind get kubeconfig` prints it.
pub async fn kubeconfig(name: &str, internal: bool) -> Result<String, ClusterError> {
    let source = running_control_planes(name).await?.swap_remove(0);
    let read = |file: &str| {
        let path = format!("{}/{file}", pki::DIR);
        let source = source.clone();
        async move { docker::run(&["exec", &source, "cat", &path]).await }
    };
    let (ca, admin) = kubeconfig::admin_credentials(&read("admin.kubeconfig").await?).map_err(|message| ClusterError::Kubeconfig { path: format!("{source}:{}/admin.kubeconfig", pki::DIR), message })?;
    let server = if internal { internal_server(name).await? } else { server_url(name).await? };
    let config = kubeconfig::with_cluster(kubeconfig::empty(), &context_name(name), &server, &kubeconfig::Credentials { ca: &ca, client: &admin }).and_then(|config| serde_yaml_ng::to_string(&config).map_err(|err| err.to_string()));
    config.map_err(|message| ClusterError::Kubeconfig { path: "(printed)".into(), message })
}
