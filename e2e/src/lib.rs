//! `cluster`, the kind-style local cluster tool: nodes are Docker containers on a network of
//! their own, built from this workspace's binaries. The end-to-end tests drive it (`tests/`).

mod add_node;
pub mod cluster;
mod crashes;
mod docker;
mod encryption;
mod error;
mod image;
mod key_rotation;
mod kubeconfig;
mod load_image;
mod pki;
mod start_stop;

use std::path::PathBuf;
use std::time::Duration;

pub use error::ClusterError;

#[derive(Clone, Debug, clap::Parser)]
#[command(name = "cluster", about = "Local clusters whose nodes are Docker containers, as kind makes them", version)]
pub struct Config {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Clone, Debug, clap::Subcommand)]
pub enum Command {
    /// Creates a cluster and waits until every node is Ready.
    Create {
        #[arg(long, default_value = "kind")]
        name: String,
        /// How many nodes: one control plane, the rest workers.
        #[arg(long, default_value_t = 1)]
        nodes: usize,
        /// A cluster config (YAML): `nodes`, and extra flags per component under `apiserver`,
        /// `scheduler`, `controllerManager`, `kubelet`.
        #[arg(long)]
        config: Option<PathBuf>,
        #[arg(long, value_enum, default_value = "embedded")]
        storage: cluster::Storage,
        /// Also write the cluster's kubeconfig here (it is always merged into ~/.kube/config).
        #[arg(long)]
        kubeconfig: Option<PathBuf>,
        /// The directory holding the release binaries (default: beside this program).
        #[arg(long)]
        binaries: Option<PathBuf>,
        /// Run a local registry (Debian's docker-registry) on the cluster's network, published on
        /// 127.0.0.1:PORT; pods pull `localhost:PORT/...` images from it.
        #[arg(long, value_name = "PORT", num_args = 0..=1, default_missing_value = "5001")]
        registry: Option<u16>,
        /// Pull this registry's images (e.g. `docker.io`, `gcr.io`) from the local registry
        /// instead, as a pull-through mirror would serve them: `busybox` comes from
        /// `localhost:PORT/library/busybox`. Needs `--registry`; may be given more than once.
        #[arg(long, value_name = "REGISTRY", requires = "registry")]
        mirror: Vec<String>,
        /// How long to wait for the nodes to be Ready, in seconds.
        #[arg(long, default_value_t = 120)]
        wait: u64,
    },
    /// Adds a node to a running cluster and waits until it is Ready: a worker, or with
    /// `--control-plane` a control plane (an apiserver, scheduler, controller-manager and etcd
    /// member; `--storage etcd-ha` clusters only), which the load balancer then sends clients to.
    /// Members of control planes whose containers were removed leave etcd first.
    AddNode {
        #[arg(long, default_value = "kind")]
        name: String,
        #[arg(long)]
        control_plane: bool,
        /// How long to wait for the node to be Ready, in seconds.
        #[arg(long, default_value_t = 120)]
        wait: u64,
    },
    /// Deletes a cluster: its nodes, network and kubeconfig entries. Unlike kind, a cluster that
    /// is not there is an error.
    Delete {
        #[arg(long, default_value = "kind")]
        name: String,
    },
    /// Stops a cluster's containers (the nodes, then its load balancer and registry), keeping
    /// everything in them for `start`.
    Stop {
        #[arg(long, default_value = "kind")]
        name: String,
    },
    /// Starts a stopped cluster's containers again and waits until every node is Ready.
    Start {
        #[arg(long, default_value = "kind")]
        name: String,
        /// How long to wait for the nodes to be Ready, in seconds.
        #[arg(long, default_value_t = 120)]
        wait: u64,
    },
    /// Lists clusters or a cluster's nodes.
    Get {
        #[command(subcommand)]
        what: Get,
    },
    /// Loads images from the local Docker engine into the nodes that do not have them yet.
    LoadImage {
        #[arg(required = true)]
        images: Vec<String>,
        #[arg(long, default_value = "kind")]
        name: String,
    },
    /// Replaces the key that encrypts Secrets at rest: the new key is added, made the one that
    /// encrypts, every Secret is rewritten under it, and the old key is dropped.
    RotateEncryptionKey {
        #[arg(long, default_value = "kind")]
        name: String,
    },
    /// Copies every component's log from every node.
    Export {
        #[command(subcommand)]
        what: Export,
    },
}

#[derive(Clone, Debug, clap::Subcommand)]
pub enum Get {
    Clusters,
    Nodes {
        #[arg(long, default_value = "kind")]
        name: String,
    },
    /// Prints the cluster's kubeconfig, as `create` merged it into the user's.
    Kubeconfig {
        #[arg(long, default_value = "kind")]
        name: String,
        /// The apiserver's address on the cluster's Docker network instead of the host's, for
        /// clients in containers on that network.
        #[arg(long)]
        internal: bool,
    },
}

#[derive(Clone, Debug, clap::Subcommand)]
pub enum Export {
    Logs {
        dir: PathBuf,
        #[arg(long, default_value = "kind")]
        name: String,
    },
}

pub async fn run(config: Config) -> Result<(), ClusterError> {
    match config.command {
        Command::Create { name, nodes, config, storage, kubeconfig, binaries, registry, mirror, wait } => {
            let (configured_nodes, extra_args) = match &config {
                Some(path) => cluster::read_config(path)?,
                None => (None, cluster::ExtraArgs::default()),
            };
            let nodes = configured_nodes.unwrap_or(nodes);
            let binaries = binaries.unwrap_or_else(|| std::env::current_exe().ok().and_then(|exe| exe.parent().map(PathBuf::from)).unwrap_or_default());
            let options = cluster::CreateOptions { name, nodes, storage, binaries, kubeconfig, wait: Duration::from_secs(wait), extra_args, registry, mirrors: mirror };
            let created = cluster::create(&options).await?;
            println!("Set kubectl context to {:?} ({}):", created.context, created.kubeconfig.display());
            println!("  kubectl cluster-info --context {}", created.context);
            println!("  kubectl get nodes --context {}", created.context);
        }
        Command::AddNode { name, control_plane, wait } => {
            let role = if control_plane { cluster::Role::ControlPlane } else { cluster::Role::Worker };
            let node = add_node::add_node(&name, role, Duration::from_secs(wait)).await?;
            println!("{node}");
        }
        Command::Delete { name } => {
            cluster::delete(&name).await?;
            println!("Deleted cluster {name:?}");
        }
        Command::Get { what: Get::Clusters } => {
            let clusters = cluster::clusters().await?;
            if clusters.is_empty() {
                eprintln!("No clusters found.");
            }
            for name in clusters {
                println!("{name}");
            }
        }
        Command::Get { what: Get::Nodes { name } } => {
            for node in cluster::nodes(&name).await? {
                println!("{node}");
            }
        }
        Command::Get { what: Get::Kubeconfig { name, internal } } => {
            let text = cluster::kubeconfig(&name, internal).await?;
            // Not print!, which panics when the reader has gone (`| head`).
            std::io::Write::write_all(&mut std::io::stdout(), text.as_bytes()).map_err(|source| ClusterError::Io { what: "writing the kubeconfig".into(), source })?;
        }
        Command::Stop { name } => {
            start_stop::stop(&name).await?;
            println!("Stopped cluster {name:?}");
        }
        Command::Start { name, wait } => {
            let nodes = start_stop::start(&name, Duration::from_secs(wait)).await?;
            println!("Started cluster {name:?}: {} node{} Ready", nodes.len(), if nodes.len() == 1 { "" } else { "s" });
        }
        Command::LoadImage { images, name } => load_image::load_images(&name, &images).await?,
        Command::RotateEncryptionKey { name } => {
            let key = key_rotation::rotate(&name).await?;
            println!("Secrets of cluster {name:?} are now encrypted under {}", key.name);
        }
        Command::Export { what: Export::Logs { dir, name } } => {
            cluster::export_logs(&name, &dir).await?;
            println!("Exported logs of cluster {name:?} to {}", dir.display());
        }
    }
    Ok(())
}
