//! kube-apiserver's three admission plugins for CertificateSigningRequests
//! (`plugin/pkg/admission/certificates/{approval,signing,subjectrestriction}`). Being allowed to
//! write a request's `approval` or `status` is not enough to approve or sign it: who approves
//! must also be granted `approve`, and who signs `sign`, on the `signers` resource of
//! `certificates.k8s.io` named by the request's signer (or by its domain, `example.com/*`).
//! And no request may ask the kube-apiserver client signer for a `system:masters` certificate,
//! whoever approves it. They run after the kind's validation, as Kubernetes' validating
//! admission runs after the strategy's.

use k8s_openapi::api::certificates::v1::CertificateSigningRequest;
use serde_json::Value;

use crate::authz::{Requester, object_forbidden};
use crate::errors::ApiError;
use crate::request::Attributes;
use crate::resources::ResourceType;
use crate::strategy::Operation;

const GROUP: &str = "certificates.k8s.io";
const RESOURCE: &str = "certificatesigningrequests";
/// The signer whose certificates kube-apiserver itself trusts for client authentication.
const KUBE_APISERVER_CLIENT: &str = "kubernetes.io/kube-apiserver-client";
const MASTERS: &str = "system:masters";
/// `2.5.4.10`, a subject's organization: what kube-apiserver reads as a certificate's groups.
const ORGANIZATION: &[u64] = &[2, 5, 4, 10];

/// Refuses, with kube's 403, what the three plugins refuse of a write of a
/// CertificateSigningRequest (`object` as it would be stored, `old` as it is). The server's own
/// writes, and every request when all are allowed, have no requester and are not asked about
/// signers; the subject restriction holds for everyone.
pub(crate) fn admit(resource: &ResourceType, operation: Operation, object: &Value, old: Option<&Value>) -> Result<(), ApiError> {
    if resource.group != GROUP || resource.plural != RESOURCE {
        return Ok(());
    }
    let name = crate::meta::name(object).unwrap_or_default();
    let forbidden = |why: String| object_forbidden(resource, name, &why);
    match (operation, old) {
        (Operation::Create, _) => restrict_subject(object).map_err(forbidden),
        (Operation::SubresourceUpdate("approval"), _) => {
            let signer = signer_name(object);
            if allowed("approve", &signer) {
                return Ok(());
            }
            Err(forbidden(format!("user not permitted to approve requests with signerName {signer:?}")))
        }
        (Operation::StatusUpdate, Some(old)) => {
            // Issuing the certificate, or saying how signing went (a Failed condition), is
            // signing; a write that changes neither is not.
            let signing_fields = |csr: &Value| (csr.pointer("/status/certificate").cloned(), csr.pointer("/status/conditions").cloned());
            if signing_fields(object) == signing_fields(old) {
                return Ok(());
            }
            let signer = signer_name(old);
            if allowed("sign", &signer) {
                return Ok(());
            }
            Err(forbidden(format!("user not permitted to sign requests with signerName {signer:?}")))
        }
        _ => Ok(()),
    }
}

fn signer_name(csr: &Value) -> String {
    csr.pointer("/spec/signerName").and_then(Value::as_str).unwrap_or_default().to_string()
}

/// `IsAuthorizedForSignerName`: `verb` on the signer by its name, else on its domain's
/// wildcard (`example.com/*`). True without a requester.
fn allowed(verb: &str, signer: &str) -> bool {
    crate::authz::with_requester(|requester| {
        let domain = signer.split('/').next().unwrap_or_default();
        [signer.to_string(), format!("{domain}/*")].into_iter().any(|name| signer_allows(requester, verb, name))
    })
    .unwrap_or(true)
}

fn signer_allows(requester: &Requester, verb: &str, name: String) -> bool {
    let attributes = Attributes {
        verb: verb.into(),
        resource: Some("signers".into()),
        group: GROUP.into(),
        version: "*".into(),
        name,
        ..Attributes::default()
    };
    requester.allows(&attributes)
}

/// CertificateSubjectRestriction: the kube-apiserver client signer issues no certificate for
/// the `system:masters` group, which no authorization could take back.
fn restrict_subject(object: &Value) -> Result<(), String> {
    let Ok(csr) = serde_json::from_value::<CertificateSigningRequest>(object.clone()) else { return Ok(()) };
    if csr.spec.signer_name != KUBE_APISERVER_CLIENT {
        return Ok(());
    }
    let subject = common::x509::CertificateRequest::from_pem(&csr.spec.request.0).and_then(|request| request.subject_attributes());
    let attributes = subject.map_err(|err| format!("failed to parse CSR: {err}"))?;
    if attributes.iter().any(|(oid, value)| oid == ORGANIZATION && value == MASTERS) {
        return Err(format!("use of {} signer with {MASTERS} group is not allowed", csr.spec.signer_name));
    }
    Ok(())
}
