//! The kube client every component builds the same way: from `--kubeconfig` when given, else as
//! kube finds it (`$KUBECONFIG`, `~/.kube/config`, in-cluster).

use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot read kubeconfig {path}: {source}")]
    Kubeconfig { path: String, source: kube::config::KubeconfigError },
    #[error("no usable kubeconfig or in-cluster configuration: {0}")]
    Infer(#[from] kube::config::InferConfigError),
    #[error("cannot build the client: {0}")]
    Build(#[from] kube::Error),
}

/// A client for the component `agent` (`kube-controller-manager`, `kubelet`, ...), which it
/// sends as its user agent, as Kubernetes' components do: the apiserver names the fields a
/// write sets after it (`metadata.managedFields[].manager`) when the write names no manager.
pub async fn from_kubeconfig(path: Option<&Path>, agent: &str) -> Result<kube::Client, ClientError> {
    let mut config = match path {
        Some(path) => {
            let kubeconfig = kube::config::Kubeconfig::read_from(path)
                .map_err(|source| ClientError::Kubeconfig { path: path.display().to_string(), source })?;
            kube::Config::from_custom_kubeconfig(kubeconfig, &kube::config::KubeConfigOptions::default())
                .await
                .map_err(|source| ClientError::Kubeconfig { path: path.display().to_string(), source })?
        }
        None => kube::Config::infer().await?,
    };
    let user_agent = format!("{agent}/v{} ({}/{})", env!("CARGO_PKG_VERSION"), std::env::consts::OS, std::env::consts::ARCH);
    if let Ok(value) = http::HeaderValue::from_str(&user_agent) {
        config.headers.push((http::header::USER_AGENT, value));
    }
    Ok(kube::Client::try_from(config)?)
}
