//! What can go wrong in the cluster tool's commands, one type for all of them: the command line
//! prints it and exits.

use crate::crashes::Crash;
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
