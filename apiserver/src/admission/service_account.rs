//! ServiceAccounts: `ValidateServiceAccount` checks the name (a DNS subdomain) and the names of
//! the Secrets it lists; the ServiceAccount admission plugin's part in pod creation.

use k8s_openapi::api::core::v1::{
    ConfigMapProjection, DownwardAPIProjection, DownwardAPIVolumeFile, KeyToPath, ObjectFieldSelector, Pod, ProjectedVolumeSource, ServiceAccount,
    ServiceAccountTokenProjection, Volume, VolumeMount, VolumeProjection,
};

use super::field::{Causes, Path};
use super::names;
use super::{Context, TypedKind};

impl TypedKind for ServiceAccount {
    fn validate(&self, _context: &Context, causes: &mut Causes) {
        for (index, secret) in self.secrets.iter().flatten().enumerate() {
            if let Some(name) = &secret.name {
                causes.invalid_each(&Path::new("secrets").index(index).child("name"), name, names::dns1123_subdomain(name));
            }
        }
    }
}

/// Whether pods get a service account token mounted: only when this apiserver can issue tokens,
/// else kubelets could never fill the volume. Set once at start.
static MOUNT_TOKENS: std::sync::OnceLock<bool> = std::sync::OnceLock::new();

pub fn set_mount_tokens(mount: bool) {
    let _ = MOUNT_TOKENS.set(mount);
}

/// Whether the ServiceAccount admission plugin runs (it does where tokens are issued).
pub fn enabled() -> bool {
    MOUNT_TOKENS.get().copied().unwrap_or(false)
}

/// The deprecated `serviceAccount` mirrors `serviceAccountName`, as Kubernetes' conversion of
/// every pod keeps them.
pub(crate) fn mirror_deprecated_name(spec: &mut k8s_openapi::api::core::v1::PodSpec) {
    if spec.service_account_name.as_deref().unwrap_or_default().is_empty() {
        spec.service_account_name = spec.service_account.clone().filter(|name| !name.is_empty());
    }
    spec.service_account = spec.service_account_name.clone();
}

/// Where every container finds its token, `ca.crt` and `namespace`, as client libraries expect.
pub const MOUNT_PATH: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

/// The ServiceAccount admission plugin on pod creation: the `default` ServiceAccount unless one
/// is named, and (unless the pod opts out) a `kube-api-access-*` projected volume with a token
/// bound to the pod, the cluster CA and the namespace, mounted in every container.
pub(crate) fn admit_pod(pod: &mut Pod) {
    let spec = pod.spec.get_or_insert_with(Default::default);
    if spec.service_account_name.as_deref().unwrap_or_default().is_empty() {
        spec.service_account_name = Some("default".into());
        spec.service_account = spec.service_account_name.clone();
    }
    if !enabled() || spec.automount_service_account_token == Some(false) {
        return;
    }
    let name = crate::meta::generate_name("kube-api-access-");
    let mount = VolumeMount { name: name.clone(), mount_path: MOUNT_PATH.into(), read_only: Some(true), ..Default::default() };
    let containers = spec.init_containers.iter_mut().flatten().chain(spec.containers.iter_mut());
    let mut mounted = false;
    for container in containers {
        let mounts = container.volume_mounts.get_or_insert_with(Vec::new);
        if !mounts.iter().any(|existing| existing.mount_path == MOUNT_PATH) {
            mounts.push(mount.clone());
            mounted = true;
        }
    }
    if !mounted {
        return;
    }
    let sources = vec![
        VolumeProjection {
            service_account_token: Some(ServiceAccountTokenProjection { expiration_seconds: Some(3607), path: "token".into(), audience: None }),
            ..Default::default()
        },
        VolumeProjection {
            config_map: Some(ConfigMapProjection {
                name: "kube-root-ca.crt".into(),
                items: Some(vec![KeyToPath { key: "ca.crt".into(), path: "ca.crt".into(), mode: None }]),
                optional: None,
            }),
            ..Default::default()
        },
        VolumeProjection {
            downward_api: Some(DownwardAPIProjection {
                items: Some(vec![DownwardAPIVolumeFile {
                    path: "namespace".into(),
                    field_ref: Some(ObjectFieldSelector { api_version: Some("v1".into()), field_path: "metadata.namespace".into() }),
                    ..Default::default()
                }]),
            }),
            ..Default::default()
        },
    ];
    let volume = Volume { name, projected: Some(ProjectedVolumeSource { default_mode: Some(0o644), sources: Some(sources) }), ..Default::default() };
    spec.volumes.get_or_insert_with(Vec::new).push(volume);
}
