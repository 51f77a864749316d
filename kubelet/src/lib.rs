//! The kubelet: registers its Node, keeps its Lease, and makes the pods bound to it real through
//! containerd's CRI plugin; serves their logs on its HTTP port.
//!
//! Data flow: a watch on the pods with `spec.nodeName` = this node feeds one worker per pod
//! ([`worker`]), which brings the runtime (sandbox, volumes, containers, probes) toward the pod's
//! spec and writes the pod's status. A relist of the runtime every second ([`pods`]) wakes the
//! workers whose containers changed, as the kubelet's PLEG does.

mod authz;
mod claims;
mod cni;
pub mod cri;
mod dns;
mod env;
mod exits;
mod host_path;
mod http;
mod local_path;
mod logs;
mod node;
mod pods;
mod probes;
mod proxy;
mod routes;
mod server;
mod spec;
mod stats;
mod status;
mod stream;
mod tokens;
mod volumes;
mod worker;

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Clone, Debug, clap::Parser)]
#[command(name = "kubelet", about = "The kubelet: runs the pods bound to its node through containerd over CRI", version)]
pub struct Config {
    /// Path to the kubeconfig used to reach the apiserver.
    #[arg(long, env = "KUBECONFIG")]
    pub kubeconfig: Option<PathBuf>,
    /// The node's name, if not the host's name.
    #[arg(long)]
    pub hostname_override: Option<String>,
    /// The node's InternalIP, where the apiserver reaches this kubelet (default: the address of
    /// the interface holding the default route).
    #[arg(long)]
    pub node_ip: Option<IpAddr>,
    /// containerd's CRI socket (`unix://` prefix optional).
    #[arg(long, default_value = "unix:///run/containerd/containerd.sock")]
    pub container_runtime_endpoint: String,
    /// Where the kubelet keeps pod volumes and its own state.
    #[arg(long, default_value = "/var/lib/kubelet")]
    pub root_dir: PathBuf,
    /// Where containers' logs go, one directory per pod as `<namespace>_<name>_<uid>`.
    #[arg(long, default_value = "/var/log/pods")]
    pub pod_logs_dir: PathBuf,
    /// The cgroup under which every pod gets its own (`<root>/pod<uid>`); one per node when
    /// several kubelets share a kernel.
    #[arg(long, default_value = "/kubepods")]
    pub cgroup_root: String,
    /// The address the HTTP server (logs, health) listens on.
    #[arg(long, default_value = "0.0.0.0")]
    pub address: IpAddr,
    #[arg(long, default_value_t = 10250)]
    pub port: u16,
    /// Serve HTTPS with this certificate (PEM) and --tls-private-key-file's key.
    #[arg(long, requires = "tls_private_key_file")]
    pub tls_cert_file: Option<PathBuf>,
    #[arg(long, requires = "tls_cert_file")]
    pub tls_private_key_file: Option<PathBuf>,
    /// Clients must present a certificate these authorities signed (401 without one).
    #[arg(long, requires = "tls_cert_file")]
    pub client_ca_file: Option<PathBuf>,
    /// Who of those clients is served: all (`AlwaysAllow`), or those the apiserver allows the
    /// request's verb on this Node's subresource (`Webhook`, a SubjectAccessReview).
    #[arg(long, value_enum, default_value = "AlwaysAllow", requires = "client_ca_file")]
    pub authorization_mode: authz::Mode,
    /// Taints to register the node with, `key=value:Effect,...` (the value may be empty).
    #[arg(long, value_delimiter = ',')]
    pub register_with_taints: Vec<String>,
    /// The most pods this node takes (its `pods` capacity).
    #[arg(long, default_value_t = 110)]
    pub max_pods: u32,
    /// Labels to register the node with, `key=value,...`.
    #[arg(long, value_delimiter = ',')]
    pub node_labels: Vec<String>,
    /// The pod network of this node when no controller assigns `spec.podCIDR`.
    #[arg(long)]
    pub pod_cidr: Option<String>,
    /// Where to write the CNI network config (bridge + host-local on the node's podCIDR) once the
    /// podCIDR is known; containerd's CRI plugin reads it from there. Unset: the node's network is
    /// configured by someone else.
    #[arg(long)]
    pub cni_conf_dir: Option<PathBuf>,
    /// When the node reports pressure, as the kubelet's hard eviction thresholds:
    /// `memory.available<100Mi,nodefs.available<10%` (a quantity or a percentage of the total).
    /// Pressure is reported; pods are not evicted.
    #[arg(long, default_value = "memory.available<100Mi,nodefs.available<10%")]
    pub eviction_hard: String,
    /// Route the other nodes' podCIDRs via their InternalIPs (for nodes that share a network
    /// segment, as a kind-style cluster's do).
    #[arg(long)]
    pub pod_routes: bool,
    /// Program Services into the nat table as kube-proxy's iptables mode does.
    #[arg(long)]
    pub proxy: bool,
    /// The cluster's pod network: traffic from it to elsewhere is masqueraded by the proxy.
    #[arg(long, default_value = "10.244.0.0/16")]
    pub cluster_cidr: String,
    /// The cluster DNS servers pods with dnsPolicy ClusterFirst resolve through.
    #[arg(long, value_delimiter = ',')]
    pub cluster_dns: Vec<String>,
    /// The cluster's DNS domain.
    #[arg(long, default_value = "cluster.local")]
    pub cluster_domain: String,
    /// The bridge that the CNI config names (at most 15 characters).
    #[arg(long, default_value = "cni0")]
    pub cni_bridge: String,
}

#[derive(Debug, thiserror::Error)]
pub enum KubeletError {
    #[error(transparent)]
    Client(#[from] common::client::ClientError),
    #[error("cannot reach the container runtime at {endpoint}: {source}")]
    Runtime { endpoint: String, source: cri::CriError },
    #[error("bad runtime endpoint {0}: {1}")]
    Endpoint(String, tonic::transport::Error),
    #[error("cannot serve on {0}: {1}")]
    Listen(SocketAddr, std::io::Error),
    #[error("{0}")]
    Config(String),
    #[error("cannot prepare {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Tls(#[from] common::tls::TlsError),
}

/// What every part of the kubelet reads: clients and the node's settings.
pub(crate) struct Kubelet {
    pub client: kube::Client,
    pub runtime: cri::Runtime,
    pub node_name: String,
    pub node_ip: IpAddr,
    pub config: Config,
    pub recorder: common::events::Recorder,
    /// The exec, attach and port-forward sessions being relayed.
    pub streams: common::upgrade::Gauge,
    /// Resource usage samples for `/stats/summary`.
    pub stats: stats::Stats,
    /// Service account tokens of projected volumes.
    pub tokens: tokens::Tokens,
    /// Which container exits the pods' written statuses show, for log follows to end after.
    pub exits: exits::ReportedExits,
}

pub async fn run(config: Config) -> Result<(), KubeletError> {
    let client = common::client::from_kubeconfig(config.kubeconfig.as_deref(), "kubelet").await?;
    let socket = config.container_runtime_endpoint.trim_start_matches("unix://").to_string();
    let runtime = cri::Runtime::connect(std::path::Path::new(&socket))
        .map_err(|err| KubeletError::Endpoint(config.container_runtime_endpoint.clone(), err))?;
    let version = runtime
        .version()
        .await
        .map_err(|source| KubeletError::Runtime { endpoint: config.container_runtime_endpoint.clone(), source })?;
    let node_name = match &config.hostname_override {
        Some(name) => name.clone(),
        None => node::hostname().map_err(|err| KubeletError::Config(format!("cannot read the host name: {err}")))?,
    };
    if let Some(problem) = common::names::dns1123_subdomain(&node_name).first() {
        return Err(KubeletError::Config(format!("node name {node_name:?}: {problem}")));
    }
    let node_ip = match config.node_ip {
        Some(ip) => ip,
        None => node::default_route_ip().ok_or_else(|| KubeletError::Config("no default route to take the node IP from; pass --node-ip".into()))?,
    };
    node::Thresholds::parse(&config.eviction_hard).map_err(KubeletError::Config)?;
    node::taints(&config.register_with_taints).map_err(KubeletError::Config)?;
    if common::names::parse_cidr(&config.cluster_cidr).is_none() {
        return Err(KubeletError::Config(format!("--cluster-cidr {:?} is not a CIDR", config.cluster_cidr)));
    }
    for dir in [&config.root_dir, &config.pod_logs_dir] {
        std::fs::create_dir_all(dir).map_err(|source| KubeletError::Io { path: dir.clone(), source })?;
    }
    tracing::info!(node = %node_name, runtime = %format!("{} {}", version.runtime_name, version.runtime_version), "kubelet starting");
    let tls = match (&config.tls_cert_file, &config.tls_private_key_file) {
        (Some(cert), Some(key)) => {
            let clients = match &config.client_ca_file {
                Some(ca) => common::tls::ClientAuth::Verified(common::tls::client_verifier(ca)?),
                None => common::tls::ClientAuth::None,
            };
            Some(common::tls::server_config(cert, key, clients)?)
        }
        _ => None,
    };
    let listen = SocketAddr::new(config.address, config.port);
    let listener = tokio::net::TcpListener::bind(listen).await.map_err(|err| KubeletError::Listen(listen, err))?;
    let recorder = common::events::Recorder::new(client.clone(), "kubelet", &node_name);
    let kubelet = Arc::new(Kubelet { client, runtime, node_name, node_ip, config, recorder, streams: common::upgrade::Gauge::default(), stats: stats::Stats::default(), tokens: tokens::Tokens::default(), exits: exits::ReportedExits::default() });
    let runtime_info = format!("{}://{}", version.runtime_name, version.runtime_version);
    tokio::spawn(stats::run(kubelet.clone()));
    tokio::spawn(local_path::run(kubelet.clone()));
    if kubelet.config.pod_routes {
        tokio::spawn(routes::run(kubelet.clone()));
    }
    if kubelet.config.proxy {
        tokio::spawn(proxy::run(kubelet.clone(), kubelet.config.cluster_cidr.clone()));
    }
    tokio::select! {
        () = node::run(kubelet.clone(), runtime_info) => Ok(()),
        () = pods::run(kubelet.clone()) => Ok(()),
        result = server::serve(kubelet, listener, tls) => result.map_err(|err| KubeletError::Listen(listen, err)),
        _ = tokio::signal::ctrl_c() => Ok(()),
    }
}
