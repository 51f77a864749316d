//! What can go wrong in the cluster tool's commands, one type for all of them: the command line
//! prints it and exits.

use crate::docker::DockerError;
use crate::image;

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error(transparent)]
    Docker(#[from] DockerError),
    #[error("a cluster named {0:?} already exists (`cluster delete --name {0}` removes it)")]
    Exists(String),
    #[error("no cluster named {0:?}")]
    Missing(String),
    #[error("cluster name {0:?}: {1}")]
    Name(String, String),
    #[error("{0}")]
    Image(#[from] image::ImageError),
    #[error("{0}")]
    NotReady(String),
    #[error("{0}")]
    Crashed(Box<Crash>),
    #[error("image {0:?} not present locally")]
    NoImage(String),
    #[error("{what}: {source}")]
    Io { what: String, source: std::io::Error },
    #[error("the cluster config {path}: {message}")]
    Config { path: String, message: String },
    #[error("the kubeconfig {path}: {message}")]
    Kubeconfig { path: String, message: String },
}

/// Where the node run script writes each component's log.
pub(crate) const LOG_DIR: &str = "/var/log/cluster";

/// A component that exited on a node.
#[derive(Debug, PartialEq)]
pub struct Crash {
    pub node: String,
    pub component: String,
    /// Its exit status, as the run script wrote it.
    pub status: String,
    /// The last lines of its log.
    pub tail: String,
}

impl Crash {
    pub fn log_path(&self) -> String {
        format!("{LOG_DIR}/{}.log", self.component)
    }
}

impl std::fmt::Display for Crash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} on node {} exited ({}) while it started; the last lines of its log ({}):\n{}", self.component, self.node, self.status, self.log_path(), self.tail)
    }
}
