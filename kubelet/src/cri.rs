//! The CRI v1 client: containerd's RuntimeService and ImageService over its unix socket.

use std::path::{Path, PathBuf};
use std::time::Duration;

use hyper_util::rt::TokioIo;
use tonic::transport::{Channel, Endpoint};

#[allow(clippy::all, clippy::pedantic, missing_docs)]
pub mod api {
    tonic::include_proto!("runtime.v1");
}

use api::image_service_client::ImageServiceClient;
use api::runtime_service_client::RuntimeServiceClient;

/// A CRI call that failed: which call, and what the runtime said.
#[derive(Debug, thiserror::Error)]
#[error("{call}: {message}")]
pub struct CriError {
    pub call: &'static str,
    pub code: tonic::Code,
    pub message: String,
}

impl CriError {
    pub fn is_not_found(&self) -> bool {
        self.code == tonic::Code::NotFound
    }
}

type Result<T> = std::result::Result<T, CriError>;

fn answer<T>(call: &'static str, result: std::result::Result<tonic::Response<T>, tonic::Status>) -> Result<T> {
    result.map(tonic::Response::into_inner).map_err(|status| CriError {
        call,
        code: status.code(),
        message: status.message().to_string(),
    })
}

/// Both CRI services on one channel. The channel connects lazily and reconnects by itself, so a
/// restarted containerd is picked up without rebuilding the client.
#[derive(Clone, Debug)]
pub struct Runtime {
    runtime: RuntimeServiceClient<Channel>,
    images: ImageServiceClient<Channel>,
}

/// Image pulls may fetch large layers; every other call answers in seconds.
const PULL_TIMEOUT: Duration = Duration::from_secs(600);
const CALL_TIMEOUT: Duration = Duration::from_secs(120);

fn request<T>(message: T, timeout: Duration) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.set_timeout(timeout);
    request
}

impl Runtime {
    pub fn connect(socket: &Path) -> std::result::Result<Self, tonic::transport::Error> {
        let socket: PathBuf = socket.to_path_buf();
        // The URI is never dialled: the connector below opens the unix socket.
        let endpoint = Endpoint::try_from("http://containerd.invalid")?.connect_timeout(Duration::from_secs(5));
        let channel = endpoint.connect_with_connector_lazy(tower::service_fn(move |_: tonic::transport::Uri| {
            let socket = socket.clone();
            async move { Ok::<_, std::io::Error>(TokioIo::new(tokio::net::UnixStream::connect(socket).await?)) }
        }));
        Ok(Self {
            runtime: RuntimeServiceClient::new(channel.clone()).max_decoding_message_size(64 << 20),
            images: ImageServiceClient::new(channel).max_decoding_message_size(64 << 20),
        })
    }

    pub async fn version(&self) -> Result<api::VersionResponse> {
        answer("Version", self.runtime.clone().version(request(api::VersionRequest::default(), CALL_TIMEOUT)).await)
    }

    pub async fn status(&self) -> Result<api::RuntimeStatus> {
        let response = answer("Status", self.runtime.clone().status(request(api::StatusRequest { verbose: false }, CALL_TIMEOUT)).await)?;
        Ok(response.status.unwrap_or_default())
    }

    pub async fn run_pod_sandbox(&self, config: api::PodSandboxConfig) -> Result<String> {
        let message = api::RunPodSandboxRequest { config: Some(config), runtime_handler: String::new() };
        Ok(answer("RunPodSandbox", self.runtime.clone().run_pod_sandbox(request(message, CALL_TIMEOUT)).await)?.pod_sandbox_id)
    }

    pub async fn stop_pod_sandbox(&self, id: &str) -> Result<()> {
        let message = api::StopPodSandboxRequest { pod_sandbox_id: id.to_string() };
        answer("StopPodSandbox", self.runtime.clone().stop_pod_sandbox(request(message, CALL_TIMEOUT)).await).map(drop)
    }

    pub async fn remove_pod_sandbox(&self, id: &str) -> Result<()> {
        let message = api::RemovePodSandboxRequest { pod_sandbox_id: id.to_string() };
        answer("RemovePodSandbox", self.runtime.clone().remove_pod_sandbox(request(message, CALL_TIMEOUT)).await).map(drop)
    }

    pub async fn pod_sandbox_status(&self, id: &str) -> Result<api::PodSandboxStatus> {
        let message = api::PodSandboxStatusRequest { pod_sandbox_id: id.to_string(), verbose: false };
        let response = answer("PodSandboxStatus", self.runtime.clone().pod_sandbox_status(request(message, CALL_TIMEOUT)).await)?;
        Ok(response.status.unwrap_or_default())
    }

    /// The network namespace the sandbox's containers share, as a path to `setns` into; None
    /// for a sandbox in the node's network (hostNetwork). Read from the runtime's verbose status
    /// (the OCI spec containerd keeps for the sandbox), or else from its process.
    pub async fn pod_sandbox_netns(&self, id: &str) -> Result<Option<std::path::PathBuf>> {
        let message = api::PodSandboxStatusRequest { pod_sandbox_id: id.to_string(), verbose: true };
        let response = answer("PodSandboxStatus", self.runtime.clone().pod_sandbox_status(request(message, CALL_TIMEOUT)).await)?;
        let host_network = response
            .status
            .as_ref()
            .and_then(|status| status.linux.as_ref()?.namespaces.as_ref()?.options.as_ref())
            .is_some_and(|options| options.network == api::NamespaceMode::Node as i32);
        if host_network {
            return Ok(None);
        }
        let info: serde_json::Value = response.info.get("info").and_then(|text| serde_json::from_str(text).ok()).unwrap_or_default();
        let from_spec = info
            .pointer("/runtimeSpec/linux/namespaces")
            .and_then(serde_json::Value::as_array)
            .and_then(|namespaces| namespaces.iter().find(|namespace| namespace["type"] == "network"))
            .and_then(|namespace| namespace["path"].as_str())
            .filter(|path| !path.is_empty())
            .map(std::path::PathBuf::from);
        let from_process = || info["pid"].as_u64().filter(|pid| *pid > 0).map(|pid| std::path::PathBuf::from(format!("/proc/{pid}/ns/net")));
        from_spec.or_else(from_process).map(Some).ok_or_else(|| CriError {
            call: "PodSandboxStatus",
            code: tonic::Code::NotFound,
            message: format!("the runtime names no network namespace for sandbox {id}"),
        })
    }

    pub async fn list_pod_sandboxes(&self) -> Result<Vec<api::PodSandbox>> {
        let message = api::ListPodSandboxRequest { filter: None };
        Ok(answer("ListPodSandbox", self.runtime.clone().list_pod_sandbox(request(message, CALL_TIMEOUT)).await)?.items)
    }

    pub async fn create_container(&self, sandbox_id: &str, config: api::ContainerConfig, sandbox: api::PodSandboxConfig) -> Result<String> {
        let message = api::CreateContainerRequest {
            pod_sandbox_id: sandbox_id.to_string(),
            config: Some(config),
            sandbox_config: Some(sandbox),
        };
        Ok(answer("CreateContainer", self.runtime.clone().create_container(request(message, CALL_TIMEOUT)).await)?.container_id)
    }

    pub async fn start_container(&self, id: &str) -> Result<()> {
        let message = api::StartContainerRequest { container_id: id.to_string() };
        answer("StartContainer", self.runtime.clone().start_container(request(message, CALL_TIMEOUT)).await).map(drop)
    }

    /// SIGTERM, then SIGKILL after `grace` seconds.
    pub async fn stop_container(&self, id: &str, grace: i64) -> Result<()> {
        let message = api::StopContainerRequest { container_id: id.to_string(), timeout: grace };
        let timeout = CALL_TIMEOUT + Duration::from_secs(u64::try_from(grace).unwrap_or(0));
        answer("StopContainer", self.runtime.clone().stop_container(request(message, timeout)).await).map(drop)
    }

    pub async fn remove_container(&self, id: &str) -> Result<()> {
        let message = api::RemoveContainerRequest { container_id: id.to_string() };
        answer("RemoveContainer", self.runtime.clone().remove_container(request(message, CALL_TIMEOUT)).await).map(drop)
    }

    pub async fn list_containers(&self) -> Result<Vec<api::Container>> {
        let message = api::ListContainersRequest { filter: None };
        Ok(answer("ListContainers", self.runtime.clone().list_containers(request(message, CALL_TIMEOUT)).await)?.containers)
    }

    pub async fn container_status(&self, id: &str) -> Result<api::ContainerStatus> {
        let message = api::ContainerStatusRequest { container_id: id.to_string(), verbose: false };
        let response = answer("ContainerStatus", self.runtime.clone().container_status(request(message, CALL_TIMEOUT)).await)?;
        Ok(response.status.unwrap_or_default())
    }

    /// Runs a command in a container and waits for it; the runtime ends it after `timeout`.
    pub async fn exec_sync(&self, id: &str, cmd: Vec<String>, timeout: Duration) -> Result<api::ExecSyncResponse> {
        let seconds = i64::try_from(timeout.as_secs().max(1)).unwrap_or(i64::MAX);
        let message = api::ExecSyncRequest { container_id: id.to_string(), cmd, timeout: seconds };
        answer("ExecSync", self.runtime.clone().exec_sync(request(message, timeout + Duration::from_secs(5))).await)
    }

    /// Where the runtime's streaming server runs `cmd` in the container (a single-use URL).
    pub async fn exec(&self, message: api::ExecRequest) -> Result<String> {
        Ok(answer("Exec", self.runtime.clone().exec(request(message, CALL_TIMEOUT)).await)?.url)
    }

    /// Where the runtime's streaming server attaches to the container's main process.
    pub async fn attach(&self, message: api::AttachRequest) -> Result<String> {
        Ok(answer("Attach", self.runtime.clone().attach(request(message, CALL_TIMEOUT)).await)?.url)
    }

    /// Where the runtime's streaming server forwards connections into the sandbox's network. Its
    /// WebSocket protocol serves `ports`; SPDY clients name a port per stream.
    pub async fn port_forward(&self, sandbox_id: &str, ports: Vec<i32>) -> Result<String> {
        let message = api::PortForwardRequest { pod_sandbox_id: sandbox_id.to_string(), port: ports };
        Ok(answer("PortForward", self.runtime.clone().port_forward(request(message, CALL_TIMEOUT)).await)?.url)
    }

    /// The image's reference as the runtime knows it (its repo digest or id), when present.
    pub async fn image_status(&self, image: &str) -> Result<Option<api::Image>> {
        let message = api::ImageStatusRequest { image: Some(image_spec(image)), verbose: false };
        Ok(answer("ImageStatus", self.images.clone().image_status(request(message, CALL_TIMEOUT)).await)?.image)
    }

    pub async fn pull_image(&self, image: &str, sandbox: Option<api::PodSandboxConfig>) -> Result<String> {
        let message = api::PullImageRequest { image: Some(image_spec(image)), auth: None, sandbox_config: sandbox };
        Ok(answer("PullImage", self.images.clone().pull_image(request(message, PULL_TIMEOUT)).await)?.image_ref)
    }
}

fn image_spec(image: &str) -> api::ImageSpec {
    api::ImageSpec { image: image.to_string(), ..Default::default() }
}
