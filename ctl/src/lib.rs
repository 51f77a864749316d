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
pub mod completion;
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
mod printer;
mod replace;
mod rollout;
mod run;
mod set;
mod sort;
mod strategic;
mod stream;
mod top;
mod wait;
mod yaml;

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
    #[command(after_help = "Examples:\n  ctl version")]
    Version,
    /// Read and change kubeconfig files.
    #[command(subcommand, after_help = "Examples:\n  ctl config get-contexts\n  ctl config use-context staging\n  ctl config view --raw")]
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
    #[command(after_help = "Examples:\n  ctl api-resources\n  ctl api-resources | grep apps/v1")]
    ApiResources,
    /// Show an object in detail, with its events.
    Describe(describe::DescribeArgs),
    /// Print a pod's container log.
    Logs(inspect::LogsArgs),
    /// Manage the rollout of a Deployment, DaemonSet or StatefulSet.
    #[command(subcommand, after_help = "Examples:\n  ctl rollout status deployment/web\n  ctl rollout history deployment/web\n  ctl rollout undo deployment/web --to-revision=2\n  ctl rollout restart daemonset/agent")]
    Rollout(rollout::RolloutCommand),
    /// Run a command in a container.
    Exec(stream::ExecArgs),
    /// Attach to a container's main process.
    #[command(after_help = "Examples:\n  ctl attach web-0\n  ctl attach -it web-0 -c app")]
    Attach(stream::AttachArgs),
    /// Forward local ports to a pod's ports.
    PortForward(stream::PortForwardArgs),
    /// Copy files into and out of containers.
    Cp(stream::CpArgs),
    /// Show the CPU and memory nodes and pods use.
    #[command(subcommand, after_help = "Examples:\n  ctl top node\n  ctl top pod -n kube-system --containers")]
    Top(top::TopCommand),
    /// Print a bash, zsh or fish completion script, which asks ctl what may come next at each TAB.
    #[command(after_help = "Examples:\n  source <(ctl completion bash)\n  ctl completion zsh > \"${fpath[1]}/_ctl\"\n  ctl completion fish | source")]
    Completion { shell: completion::Shell },
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
    #[command(subcommand, after_help = "Examples:\n  ctl auth can-i create deployments -n dev\n  ctl auth whoami")]
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
    #[command(subcommand, after_help = "Examples:\n  ctl certificate approve csr-sqgzp\n  ctl certificate deny csr-sqgzp\n  ctl certificate approve -f csr.yaml")]
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
    #[command(subcommand, after_help = "Examples:\n  ctl set image deployment/web nginx=nginx:1.27\n  ctl set env deployment/web LOG_LEVEL=debug\n  ctl set resources deployment/web --limits=cpu=500m,memory=256Mi")]
    Set(set::SetCommand),
    /// Describe a type's fields, from the server's OpenAPI schema.
    #[command(after_help = "Examples:\n  ctl explain pods\n  ctl explain deployments.spec.strategy\n  ctl explain pods --recursive\n  ctl explain cronjobs --api-version=batch/v1")]
    Explain(explain::ExplainArgs),
    /// Edit an object in $KUBE_EDITOR, $EDITOR or vi and save the changes.
    #[command(after_help = "Examples:\n  ctl edit deployment/web\n  KUBE_EDITOR=nano ctl edit service web -n dev")]
    Edit(edit::EditArgs),
    /// Show what applying manifests would change, as a diff of the live and merged objects.
    #[command(after_help = "Examples:\n  ctl diff -f web.yaml\n  ctl diff -R -f manifests/\n  cat web.yaml | ctl diff -f -")]
    Diff(diff::DiffArgs),
}

#[derive(Debug, thiserror::Error)]
pub enum CtlError {
    #[error(transparent)]
    Kubeconfig(#[from] kubeconfig::KubeconfigError),
    /// A request that got no answer; `server` is the kubeconfig's `host:port`, which [`run`]
    /// fills in for kubectl's connection-refused message.
    #[error("{}", kubeconfig::unreachable(.source, .server))]
    Client { source: kube::Error, server: String },
    /// As kubectl prints server errors: `Error from server (NotFound): ...`. The details
    /// (kind, name, causes) are what kubectl prints of an Invalid refusal instead (see
    /// [`CtlError::kubectl_text`]).
    #[error("{}", server_text(.reason, .message))]
    Server { reason: String, message: String, details: Option<Box<StatusDetails>> },
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

pub use kube::core::response::StatusDetails;

impl From<kube::Error> for CtlError {
    fn from(source: kube::Error) -> Self {
        Self::Client { source, server: String::new() }
    }
}

/// client-go's `StandardErrorMessage` for a Status: the reason in brackets, or kubectl's words
/// for an Unauthorized one.
fn server_text(reason: &str, message: &str) -> String {
    match reason {
        "Unauthorized" => format!("error: You must be logged in to the server ({message})"),
        "" => format!("Error from server: {message}"),
        _ => format!("Error from server ({reason}): {message}"),
    }
}

impl CtlError {
    fn from_kube(err: kube::Error) -> Self {
        match err {
            kube::Error::Api(status) => {
                let status = *status;
                Self::Server { reason: status.reason, message: status.message, details: status.details.map(Box::new) }
            }
            other => other.into(),
        }
    }

    /// The error as kubectl's `cmdutil.CheckErr` prints a command's one error, without the
    /// final newline: an Invalid refusal as `The Kind "name" is invalid: ` and its causes (one
    /// on the line, several each on a `* ` line after it); the rest as [`Display`] words them,
    /// with `error: ` before what is not already a server's or client's message.
    pub fn kubectl_text(&self) -> String {
        match self {
            Self::Server { reason, message, details } if reason == "Invalid" => invalid_text(message, details.as_deref()),
            Self::Server { .. } | Self::Client { .. } | Self::Exit(_) => self.to_string(),
            other => {
                let text = other.to_string();
                if text.starts_with("error: ") { text } else { format!("error: {text}") }
            }
        }
    }
}

/// `checkErr`'s Invalid branch.
fn invalid_text(message: &str, details: Option<&StatusDetails>) -> String {
    let mut text = "The request is invalid".to_string();
    let Some(details) = details else {
        if !message.is_empty() {
            text = format!("{text}: {message}");
        }
        return text;
    };
    if !details.kind.is_empty() || !details.name.is_empty() {
        text = format!("The {} {:?} is invalid", details.kind, details.name);
    } else if !message.is_empty() && details.causes.is_empty() {
        text = format!("{text}: {message}");
    }
    // `statusCausesToAggrError`: `field: message` each, repeats dropped.
    let mut causes: Vec<String> = Vec::new();
    for cause in &details.causes {
        let line = format!("{}: {}", cause.field, cause.message);
        if !causes.contains(&line) {
            causes.push(line);
        }
    }
    match causes.as_slice() {
        [] => text,
        [one] => format!("{text}: {one}"),
        several => format!("{text}: \n{}", several.iter().map(|cause| format!("* {cause}")).collect::<Vec<_>>().join("\n")),
    }
}

/// Runs one command; what it prints goes to stdout, messages about nothing found to stderr.
pub async fn run(config: Config) -> Result<(), CtlError> {
    match run_command(&config).await {
        // Only an unreachable server's error needs its address, so it is looked up only then.
        Err(CtlError::Client { source, server }) if server.is_empty() => {
            Err(CtlError::Client { source, server: kubeconfig::server_address(&config).await.unwrap_or_default() })
        }
        other => other,
    }
}

async fn run_command(config: &Config) -> Result<(), CtlError> {
    match &config.command {
        Command::Config(command) => kubeconfig::run(config, command),
        Command::Version => {
            let client = kubeconfig::client(config).await?;
            let server = client.apiserver_version().await.map_err(CtlError::from_kube)?;
            outln!("Client Version: v{}", env!("CARGO_PKG_VERSION"))?;
            outln!("Server Version: {}", server.git_version)?;
            Ok(())
        }
        Command::Get(args) => get::run(config, args).await,
        Command::Apply(args) => apply::apply(config, args).await,
        Command::Replace(args) => replace::replace(config, args).await,
        Command::Delete(args) => commands::delete(config, args).await,
        Command::Create(args) => create::run(config, args).await,
        Command::Scale(args) => commands::scale(config, args).await,
        Command::ApiResources => commands::api_resources(config).await,
        Command::Describe(args) => describe::describe(config, args).await,
        Command::Logs(args) => inspect::logs(config, args).await,
        Command::Rollout(command) => rollout::rollout(config, command).await,
        Command::Exec(args) => stream::exec(config, args).await,
        Command::Attach(args) => stream::attach(config, args).await,
        Command::PortForward(args) => stream::port_forward(config, args).await,
        Command::Cp(args) => stream::cp(config, args).await,
        Command::Top(command) => top::run(config, command).await,
        Command::Completion { shell } => completion::print_script(*shell),
        Command::Patch(args) => patch::patch(config, args).await,
        Command::Label(args) => label::run(config, args, label::Field::Labels).await,
        Command::Annotate(args) => label::run(config, args, label::Field::Annotations).await,
        Command::ApiVersions(_) => info::api_versions(config).await,
        Command::ClusterInfo(_) => info::cluster_info(config).await,
        Command::Auth(command) => auth::run(config, command).await,
        Command::Cordon(args) => nodes::cordon(config, args, true).await,
        Command::Uncordon(args) => nodes::cordon(config, args, false).await,
        Command::Drain(args) => drain::drain(config, args).await,
        Command::Taint(args) => nodes::taint(config, args).await,
        Command::Certificate(command) => certificate::run(config, command).await,
        Command::Events(args) => events::run(config, args).await,
        Command::Wait(args) => wait::run(config, args).await,
        Command::Run(args) => run::run(config, args).await,
        Command::Expose(args) => expose::run(config, args).await,
        Command::Set(command) => set::run(config, command).await,
        Command::Explain(args) => explain::run(config, args).await,
        Command::Edit(args) => edit::run(config, args).await,
        Command::Diff(args) => diff::run(config, args).await,
    }
}

#[cfg(test)]
mod tests {
    use kube::core::response::StatusCause;

    use super::*;

    fn cause(field: &str, message: &str) -> StatusCause {
        StatusCause { field: field.into(), message: message.into(), reason: "FieldValueInvalid".into() }
    }

    fn details(kind: &str, name: &str, causes: Vec<StatusCause>) -> StatusDetails {
        StatusDetails { name: name.into(), group: String::new(), kind: kind.into(), uid: String::new(), causes, retry_after_seconds: 0 }
    }

    fn invalid(message: &str, details: Option<StatusDetails>) -> String {
        CtlError::Server { reason: "Invalid".into(), message: message.into(), details: details.map(Box::new) }.kubectl_text()
    }

    #[test]
    fn invalid_refusals_read_as_kubectls_check_err_prints_them() {
        let named = |causes: Vec<StatusCause>| details("Deployment", "web", causes);
        let one = cause("spec.replicas", "Invalid value: -1: must be greater than or equal to 0");
        let rows: Vec<(Option<StatusDetails>, &str)> = vec![
            (None, "The request is invalid: the message"),
            (Some(named(vec![])), "The Deployment \"web\" is invalid"),
            (Some(named(vec![one.clone()])), "The Deployment \"web\" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0"),
            // A repeated cause is shown once.
            (Some(named(vec![one.clone(), one.clone(), cause("spec.template", "Required value")])),
             "The Deployment \"web\" is invalid: \n* spec.replicas: Invalid value: -1: must be greater than or equal to 0\n* spec.template: Required value"),
            (Some(details("", "", vec![])), "The request is invalid: the message"),
            (Some(details("", "", vec![one])), "The request is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0"),
        ];
        for (details, expected) in rows {
            assert_eq!(invalid("the message", details), expected);
        }
    }

    #[test]
    fn other_errors_read_as_kubectl_prints_them() {
        let server = |reason: &str| CtlError::Server { reason: reason.into(), message: "the message".into(), details: None }.kubectl_text();
        assert_eq!(server("NotFound"), "Error from server (NotFound): the message");
        assert_eq!(server(""), "Error from server: the message");
        assert_eq!(server("Unauthorized"), "error: You must be logged in to the server (the message)");
        assert_eq!(CtlError::Usage("no objects passed to create".into()).kubectl_text(), "error: no objects passed to create");
        assert_eq!(CtlError::Usage("error: already said".into()).kubectl_text(), "error: already said");
        assert_eq!(CtlError::Exit(3).kubectl_text(), "command terminated with exit code 3");
    }
}
