//! ctl: the command-line client for the cluster, after kubectl's conventions: `version`,
//! `config`, `get`, `explain`, `apply`, `diff`, `edit`, `replace`, `create`, `run`, `expose`,
//! `set`, `delete`, `patch`, `label`, `annotate`,
//! `scale`, `describe`, `logs`, `rollout` (Deployments, DaemonSets, StatefulSets), `wait`,
//! `events`, `cordon`, `uncordon`, `drain`, `taint`, `certificate`, `auth`, `api-resources`, `api-versions`,
//! `cluster-info`, `completion`, and the interactive `exec`, `attach`, `port-forward`, `cp`
//! and `top`.

pub mod manifest;

mod apply;
mod auth;
mod certificate;
mod commands;
mod create;
mod describe;
mod diff;
mod discovery;
mod drain;
mod edit;
mod events;
mod expose;
mod explain;
mod generate;
mod generators;
mod get;
mod info;
mod inspect;
mod gotemplate;
mod jsonpath;
mod kubeconfig;
mod label;
mod nodes;
pub mod output;
mod patch;
mod pod_template;
mod print;
mod replace;
mod rollout;
mod run;
mod set;
mod sort;
mod strategic;
mod stream;
mod top;
mod wait;

use std::path::PathBuf;

use crate::output::outln;

#[derive(Clone, Debug, clap::Parser)]
#[command(name = "ctl", about = "ctl: the command-line client for the cluster", version)]
pub struct Config {
    /// Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config).
    #[arg(long, global = true)]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context to use instead of the current one.
    #[arg(long, global = true)]
    pub context: Option<String>,
    /// The namespace (default: the context's, then "default").
    #[arg(short = 'n', long, global = true)]
    pub namespace: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Clone, Debug, clap::Subcommand)]
pub enum Command {
    /// Print the client and server versions.
    Version,
    /// Read and change kubeconfig files.
    #[command(subcommand)]
    Config(kubeconfig::ConfigCommand),
    /// List objects, or show one, as a table or in full.
    Get(get::GetArgs),
    /// Create or update the objects of manifests.
    Apply(apply::ApplyArgs),
    /// Replace objects with the manifests' versions of them (PUT); each must exist.
    Replace(replace::ReplaceArgs),
    /// Delete objects: by manifest (-f), by name, by label (-l) or all of a kind (--all).
    Delete(commands::DeleteArgs),
    /// Create the objects of manifests (-f), or objects of many kinds (deployment, service, role, …) from the command line.
    Create(create::CreateArgs),
    /// Set the replicas of a Deployment, ReplicaSet, StatefulSet or ReplicationController.
    Scale(commands::ScaleArgs),
    /// List the resource types the server serves.
    ApiResources,
    /// Show an object in detail, with its events.
    Describe(describe::DescribeArgs),
    /// Print a pod's container log.
    Logs(inspect::LogsArgs),
    /// Manage the rollout of a Deployment, DaemonSet or StatefulSet.
    #[command(subcommand)]
    Rollout(rollout::RolloutCommand),
    /// Run a command in a container.
    Exec(stream::ExecArgs),
    /// Attach to a container's main process.
    Attach(stream::AttachArgs),
    /// Forward local ports to a pod's ports.
    PortForward(stream::PortForwardArgs),
    /// Copy files into and out of containers.
    Cp(stream::CpArgs),
    /// Show the CPU and memory nodes and pods use.
    #[command(subcommand)]
    Top(top::TopCommand),
    /// Print a shell completion script (bash or zsh).
    Completion { shell: clap_complete::Shell },
    /// Change fields of objects with a strategic merge, merge or JSON patch.
    Patch(patch::PatchArgs),
    /// Set or remove the labels of objects.
    Label(label::LabelArgs),
    /// Set or remove the annotations of objects.
    Annotate(label::LabelArgs),
    /// Print the group/versions the server serves.
    ApiVersions(info::ApiVersionsArgs),
    /// Print the control plane's address and the cluster's Services.
    ClusterInfo(info::ClusterInfoArgs),
    /// Ask the server what you may do (can-i) and who you are (whoami).
    #[command(subcommand)]
    Auth(auth::AuthCommand),
    /// Mark nodes unschedulable.
    Cordon(nodes::CordonArgs),
    /// Mark nodes schedulable.
    Uncordon(nodes::CordonArgs),
    /// Cordon a node and evict its pods.
    Drain(drain::DrainArgs),
    /// Add, replace or remove node taints.
    Taint(nodes::TaintArgs),
    /// Approve or deny certificate signing requests.
    #[command(subcommand)]
    Certificate(certificate::CertificateCommand),
    /// List events, oldest first.
    Events(events::EventsArgs),
    /// Wait until objects are deleted, created, have a condition or a field's value.
    Wait(wait::WaitArgs),
    /// Run an image in a new Pod.
    Run(run::RunArgs),
    /// Make a Service for the pods of a Deployment, ReplicaSet, ReplicationController, Pod or Service.
    Expose(expose::ExposeArgs),
    /// Change the images, environment or resources of workloads' containers.
    #[command(subcommand)]
    Set(set::SetCommand),
    /// Describe a type's fields, from the server's OpenAPI schema.
    Explain(explain::ExplainArgs),
    /// Edit an object in $KUBE_EDITOR, $EDITOR or vi and save the changes.
    Edit(edit::EditArgs),
    /// Show what applying manifests would change, as a diff of the live and merged objects.
    Diff(diff::DiffArgs),
}

#[derive(Debug, thiserror::Error)]
pub enum CtlError {
    #[error(transparent)]
    Kubeconfig(#[from] kubeconfig::KubeconfigError),
    #[error("{}", kubeconfig::unreachable(.0))]
    Client(#[from] kube::Error),
    /// As kubectl prints server errors: `Error from server (NotFound): ...`.
    #[error("Error from server ({reason}): {message}")]
    Server { reason: String, message: String },
    #[error("{0}")]
    Usage(String),
    /// Some of several operations failed; each failure was printed as it happened.
    #[error("{0} operation(s) failed")]
    Reported(usize),
    #[error("error parsing manifests: {0}")]
    Manifest(#[from] manifest::ManifestError),
    #[error("cannot write output: {0}")]
    Output(#[from] std::io::Error),
    /// A remote command's exit code, which becomes ctl's.
    #[error("command terminated with exit code {0}")]
    Exit(i32),
}

impl CtlError {
    fn from_kube(err: kube::Error) -> Self {
        match err {
            kube::Error::Api(status) => Self::Server { reason: status.reason.clone(), message: status.message.clone() },
            other => Self::Client(other),
        }
    }
}

/// Runs one command; what it prints goes to stdout, messages about nothing found to stderr.
pub async fn run(config: Config) -> Result<(), CtlError> {
    match &config.command {
        Command::Config(command) => kubeconfig::run(&config, command),
        Command::Version => {
            let client = kubeconfig::client(&config).await?;
            let server = client.apiserver_version().await.map_err(CtlError::from_kube)?;
            outln!("Client Version: v{}", env!("CARGO_PKG_VERSION"))?;
            outln!("Server Version: {}", server.git_version)?;
            Ok(())
        }
        Command::Get(args) => get::run(&config, args).await,
        Command::Apply(args) => apply::apply(&config, args).await,
        Command::Replace(args) => replace::replace(&config, args).await,
        Command::Delete(args) => commands::delete(&config, args).await,
        Command::Create(args) => create::run(&config, args).await,
        Command::Scale(args) => commands::scale(&config, args).await,
        Command::ApiResources => commands::api_resources(&config).await,
        Command::Describe(args) => describe::describe(&config, args).await,
        Command::Logs(args) => inspect::logs(&config, args).await,
        Command::Rollout(command) => rollout::rollout(&config, command).await,
        Command::Exec(args) => stream::exec(&config, args).await,
        Command::Attach(args) => stream::attach(&config, args).await,
        Command::PortForward(args) => stream::port_forward(&config, args).await,
        Command::Cp(args) => stream::cp(&config, args).await,
        Command::Top(command) => top::run(&config, command).await,
        Command::Completion { shell } => commands::completion(*shell),
        Command::Patch(args) => patch::patch(&config, args).await,
        Command::Label(args) => label::run(&config, args, label::Field::Labels).await,
        Command::Annotate(args) => label::run(&config, args, label::Field::Annotations).await,
        Command::ApiVersions(_) => info::api_versions(&config).await,
        Command::ClusterInfo(_) => info::cluster_info(&config).await,
        Command::Auth(command) => auth::run(&config, command).await,
        Command::Cordon(args) => nodes::cordon(&config, args, true).await,
        Command::Uncordon(args) => nodes::cordon(&config, args, false).await,
        Command::Drain(args) => drain::drain(&config, args).await,
        Command::Taint(args) => nodes::taint(&config, args).await,
        Command::Certificate(command) => certificate::run(&config, command).await,
        Command::Events(args) => events::run(&config, args).await,
        Command::Wait(args) => wait::run(&config, args).await,
        Command::Run(args) => run::run(&config, args).await,
        Command::Expose(args) => expose::run(&config, args).await,
        Command::Set(command) => set::run(&config, command).await,
        Command::Explain(args) => explain::run(&config, args).await,
        Command::Edit(args) => edit::run(&config, args).await,
        Command::Diff(args) => diff::run(&config, args).await,
    }
}
