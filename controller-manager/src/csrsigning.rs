//! The CSR signing controller (kube-controller-manager's `csrsigning`): an approved
//! CertificateSigningRequest for one of the built-in signers (`kubernetes.io/kube-apiserver-client`,
//! `kubernetes.io/kube-apiserver-client-kubelet`, `kubernetes.io/kubelet-serving`) that has no
//! certificate yet gets one, signed by the cluster CA of `--cluster-signing-cert-file` and
//! `--cluster-signing-key-file`, for the request's subject and key, valid for its
//! `expirationSeconds` (at least 600 s) capped by `--cluster-signing-duration`. A request the
//! signer cannot honour (usages its signer does not allow, a request that does not parse) gets a
//! `Failed` condition instead, as kube's signer sets. Both go through the `status` subresource.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use common::x509::{Authority, CertificateRequest, Issue};
use futures::StreamExt;
use k8s_openapi::ByteString;
use k8s_openapi::api::certificates::v1::{CertificateSigningRequest, CertificateSigningRequestCondition};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Api, PostParams};
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;

use crate::context::Context;
use crate::framework::{self, ReconcileError};
use crate::informer::Informer;

#[derive(Clone, Debug, clap::Args)]
pub struct SigningFlags {
    /// The cluster CA's certificate (PEM) that signs approved requests of the built-in signers;
    /// without it (and the key), nothing is signed.
    #[arg(long)]
    pub cluster_signing_cert_file: Option<PathBuf>,
    /// The cluster CA's private key (PEM).
    #[arg(long)]
    pub cluster_signing_key_file: Option<PathBuf>,
    /// The longest a signed certificate is valid; a request asks for less with expirationSeconds.
    #[arg(long, default_value = "8760h0m0s", value_parser = go_duration)]
    pub cluster_signing_duration: Duration,
}

fn go_duration(text: &str) -> Result<Duration, String> {
    let nanos = common::durations::parse_go_duration(text).map_err(|err| err.to_string())?;
    u64::try_from(nanos).map(Duration::from_nanos).map_err(|_| format!("{text}: a duration may not be negative"))
}

/// The shortest validity a request may ask for (kube's minimum `expirationSeconds`).
const MIN_DURATION: Duration = Duration::from_secs(600);

/// How far back a certificate's validity starts, so that a clock a little behind the signer's
/// accepts it at once (kube's signer backdates by five minutes).
const BACKDATE: Duration = Duration::from_secs(300);

/// The CA and the longest validity, as the flags give them.
pub struct Signer {
    authority: Authority,
    max_duration: Duration,
}

impl SigningFlags {
    /// The signer the flags configure; `None` when they name no CA (the controller is off, as
    /// kube's is without `--cluster-signing-*-file`).
    pub fn signer(&self) -> Result<Option<Signer>, String> {
        let (Some(cert), Some(key)) = (&self.cluster_signing_cert_file, &self.cluster_signing_key_file) else {
            return Ok(None);
        };
        let read = |path: &PathBuf, flag: &str| std::fs::read(path).map_err(|err| format!("--{flag} {}: {err}", path.display()));
        let cert_pem = read(cert, "cluster-signing-cert-file")?;
        let key_pem = String::from_utf8(read(key, "cluster-signing-key-file")?).map_err(|_| format!("--cluster-signing-key-file {}: not PEM text", key.display()))?;
        let authority = Authority::from_pem(&cert_pem, &key_pem).map_err(|err| format!("the cluster signing CA: {err}"))?;
        Ok(Some(Signer { authority, max_duration: self.cluster_signing_duration }))
    }
}

pub async fn run(context: Arc<Context>, signer: Arc<Signer>) {
    let requests = Informer::<CertificateSigningRequest>::start(Api::all(context.client.clone()), "certificate signing requests");
    requests.ready().await;
    let own = requests.changes().map(|request| ObjectRef::from_obj(&*request)).boxed();
    let store = requests.store();
    let state = Arc::new((context.clone(), signer));
    framework::run("csrsigning", context.metrics.clone(), state, store, vec![own], context.settings.concurrent_syncs, reconcile).await;
}

/// The key usages each built-in signer allows, and the one it requires.
fn allowed_usages(signer: &str) -> Option<(&'static [&'static str], &'static str)> {
    const CLIENT: &[&str] = &["digital signature", "key encipherment", "client auth"];
    const SERVING: &[&str] = &["digital signature", "key encipherment", "server auth"];
    match signer {
        "kubernetes.io/kube-apiserver-client" | "kubernetes.io/kube-apiserver-client-kubelet" => Some((CLIENT, "client auth")),
        "kubernetes.io/kubelet-serving" => Some((SERVING, "server auth")),
        _ => None,
    }
}

fn has_condition(request: &CertificateSigningRequest, kind: &str) -> bool {
    request.status.as_ref().and_then(|status| status.conditions.as_ref()).is_some_and(|conditions| conditions.iter().any(|condition| condition.type_ == kind))
}

async fn reconcile(request: Arc<CertificateSigningRequest>, state: Arc<(Arc<Context>, Arc<Signer>)>) -> Result<Action, ReconcileError> {
    let (context, signer) = (&state.0, &state.1);
    let Some((allowed, required)) = allowed_usages(&request.spec.signer_name) else { return Ok(Action::await_change()) };
    let issued = request.status.as_ref().and_then(|status| status.certificate.as_ref()).is_some_and(|certificate| !certificate.0.is_empty());
    if !has_condition(&request, "Approved") || has_condition(&request, "Denied") || has_condition(&request, "Failed") || issued {
        return Ok(Action::await_change());
    }
    let name = request.metadata.name.clone().unwrap_or_default();
    let mut updated = (*request).clone();
    updated.metadata.managed_fields = None;
    match sign(&request, signer, allowed, required) {
        Ok(certificate) => {
            tracing::info!(name = %name, signer = %request.spec.signer_name, "signed the certificate signing request");
            updated.status.get_or_insert_default().certificate = Some(ByteString(certificate.into_bytes()));
        }
        Err(why) => {
            tracing::info!(name = %name, reason = %why, "cannot sign the certificate signing request");
            let now = Time(jiff::Timestamp::now());
            updated.status.get_or_insert_default().conditions.get_or_insert_default().push(CertificateSigningRequestCondition {
                type_: "Failed".into(),
                status: "True".into(),
                reason: Some("SignerValidationFailure".into()),
                message: Some(why),
                last_update_time: Some(now.clone()),
                last_transition_time: Some(now),
            });
        }
    }
    let requests: Api<CertificateSigningRequest> = Api::all(context.client.clone());
    match requests.replace_status(&name, &PostParams::default(), &updated).await {
        Ok(_) => Ok(Action::await_change()),
        Err(err) if framework::answered(&err, &[409]) => Ok(Action::requeue(Duration::from_millis(200))),
        Err(err) if framework::answered(&err, &[404]) => Ok(Action::await_change()),
        Err(err) => Err(err.into()),
    }
}

/// The certificate (PEM) for `request`, or why the signer refuses it.
fn sign(request: &CertificateSigningRequest, signer: &Signer, allowed: &[&str], required: &str) -> Result<String, String> {
    let usages = request.spec.usages.as_deref().unwrap_or_default();
    let kind = if required == "client auth" { "client" } else { "serving" };
    if let Some(usage) = usages.iter().find(|usage| !allowed.contains(&usage.as_str())) {
        return Err(format!("invalid usage for {kind} certificate: {usage}"));
    }
    if !usages.iter().any(|usage| usage == required) {
        return Err(format!("missing required usage for {kind} certificate: {required}"));
    }
    let parsed = CertificateRequest::from_pem(&request.spec.request.0).map_err(|err| format!("unable to parse csr: {err}"))?;
    let requested = request.spec.expiration_seconds.and_then(|seconds| u64::try_from(seconds).ok()).map(Duration::from_secs);
    let duration = requested.map_or(signer.max_duration, |requested| requested.max(MIN_DURATION).min(signer.max_duration));
    let now = jiff::Timestamp::now().as_second();
    let seconds = |duration: Duration| i64::try_from(duration.as_secs()).unwrap_or(i64::MAX / 2);
    let issue = Issue {
        client_auth: usages.iter().any(|usage| usage == "client auth"),
        server_auth: usages.iter().any(|usage| usage == "server auth"),
        not_before: now - seconds(BACKDATE),
        not_after: now + seconds(duration),
    };
    signer.authority.issue(&parsed, &issue).map_err(|err| err.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_signer_allows_its_usages() {
        assert_eq!(allowed_usages("kubernetes.io/kubelet-serving").map(|(_, required)| required), Some("server auth"));
        assert_eq!(allowed_usages("kubernetes.io/kube-apiserver-client-kubelet").map(|(_, required)| required), Some("client auth"));
        assert!(allowed_usages("example.com/custom").is_none());
    }

    #[test]
    fn the_signing_duration_reads_as_go_writes_it() {
        assert_eq!(go_duration("8760h0m0s"), Ok(Duration::from_secs(8760 * 3600)));
    }
}
