//! `CertificateSigningRequest` (`certificates.k8s.io/v1`): its declaration, its strategies
//! (kube's `pkg/registry/certificates/certificates/strategy.go`: the requester recorded on
//! create, spec and status kept on a plain update, `status` writing the certificate and the
//! conditions other than Approved and Denied, `approval` writing the conditions) with
//! `pkg/apis/certificates/validation`, and its printer (`printCertificateSigningRequest`).

use common::durations::human_duration;
use common::names::NameFormat;
use common::x509::CertificateRequest as Pkcs10;
use k8s_openapi::api::certificates::v1::{CertificateSigningRequest, CertificateSigningRequestCondition, CertificateSigningRequestStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use serde_json::{Value, json};

use crate::admission::field::{Causes, Path};
use crate::admission::{Context, Typed, TypedKind};
use crate::printers::{self, AGE, Column, NAME, Printer};
use crate::registry::Kind;
use crate::request::User;
use crate::resources::ResourceType;

pub static KIND: Kind = Kind {
    resource: ResourceType::builtin("certificates.k8s.io", "v1", "CertificateSigningRequest", "certificatesigningrequests", "certificatesigningrequest")
        .short_names(&["csr"])
        .subresources(&["status", "approval"])
        .status_subresources(&["approval"])
        .selectable_fields(&["spec.signerName"]),
    strategy: &STRATEGY,
    printer: Some(&PRINTER),
};

static STRATEGY: Typed<CertificateSigningRequest> = Typed::new();

/// The subresource through which a request is approved or denied.
const APPROVAL: &str = "approval";

const APPROVED: &str = "Approved";
const DENIED: &str = "Denied";
const FAILED: &str = "Failed";

/// The key usages a request may ask for (kube's `allValidUsages`), sorted as Go's
/// `sets.List` lists them in a NotSupported cause.
const USAGES: &[&str] = &[
    "any", "cert sign", "client auth", "code signing", "content commitment", "crl sign", "data encipherment", "decipher only",
    "digital signature", "email protection", "encipher only", "ipsec end system", "ipsec tunnel", "ipsec user", "key agreement",
    "key encipherment", "microsoft sgc", "netscape sgc", "ocsp signing", "s/mime", "server auth", "signing", "timestamping",
];

fn conditions(csr: &CertificateSigningRequest) -> &[CertificateSigningRequestCondition] {
    csr.status.as_ref().and_then(|status| status.conditions.as_deref()).unwrap_or_default()
}

fn certificate(csr: &CertificateSigningRequest) -> &[u8] {
    csr.status.as_ref().and_then(|status| status.certificate.as_ref()).map_or(&[][..], |bytes| bytes.0.as_slice())
}

fn of_type<'a>(csr: &'a CertificateSigningRequest, kind: &str) -> Vec<&'a CertificateSigningRequestCondition> {
    conditions(csr).iter().filter(|condition| condition.type_ == kind).collect()
}

/// kube's `populateConditionTimestamps`: a condition without times gets now, or for its
/// lastTransitionTime the one of the same type and status it had before.
fn populate_condition_timestamps(csr: &mut CertificateSigningRequest, old: &CertificateSigningRequest) {
    let now = Time(jiff::Timestamp::now());
    let old_conditions = conditions(old).to_vec();
    let Some(list) = csr.status.as_mut().and_then(|status| status.conditions.as_mut()) else { return };
    for condition in list {
        condition.last_update_time.get_or_insert_with(|| now.clone());
        if condition.last_transition_time.is_none() {
            let before = old_conditions.iter().find(|previous| previous.type_ == condition.type_ && previous.status == condition.status).and_then(|previous| previous.last_transition_time.clone());
            condition.last_transition_time = Some(before.unwrap_or_else(|| now.clone()));
        }
    }
}

/// kube's `preserveConditionInstances`: the stored instances of `kind` replace the body's when
/// there are as many, so that the status subresource cannot edit them (adding or removing them
/// is refused by validation).
fn preserve_condition_instances(csr: &mut CertificateSigningRequest, old: &CertificateSigningRequest, kind: &str) {
    let old_instances: Vec<CertificateSigningRequestCondition> = of_type(old, kind).into_iter().cloned().collect();
    let Some(list) = csr.status.as_mut().and_then(|status| status.conditions.as_mut()) else { return };
    let positions: Vec<usize> = list.iter().enumerate().filter(|(_, condition)| condition.type_ == kind).map(|(index, _)| index).collect();
    if positions.len() == old_instances.len() {
        for (position, instance) in positions.into_iter().zip(old_instances) {
            list[position] = instance;
        }
    }
}

/// What one write path may change, as kube's `certificateValidationOptions` says.
#[derive(Default)]
struct Allowed {
    approval_conditions: bool,
    certificate: bool,
}

impl TypedKind for CertificateSigningRequest {
    fn prepare_for_create(&mut self) {
        // Users cannot say who they are, nor create a request already approved.
        self.spec.username = None;
        self.spec.uid = None;
        self.spec.groups = None;
        self.spec.extra = None;
        self.status = Some(CertificateSigningRequestStatus::default());
    }

    fn prepare_for_create_by(&mut self, user: Option<&User>) {
        if let Some(user) = user {
            self.spec.username = Some(user.name.clone());
            self.spec.uid = Some(user.uid.clone()).filter(|uid| !uid.is_empty());
            self.spec.groups = Some(user.groups.clone());
        }
    }

    fn prepare_for_update(&mut self, old: &Self) {
        // Immutable after creation, except through the subresources.
        self.spec = old.spec.clone();
        self.status = old.status.clone();
    }

    fn prepare_for_status_update(&mut self, old: &Self) {
        self.spec = old.spec.clone();
        preserve_condition_instances(self, old, APPROVED);
        preserve_condition_instances(self, old, DENIED);
        populate_condition_timestamps(self, old);
    }

    fn prepare_for_subresource_update(&mut self, _subresource: &str, old: &Self) {
        // `approval` writes the conditions and nothing else.
        populate_condition_timestamps(self, old);
        let conditions = self.status.as_ref().and_then(|status| status.conditions.clone());
        self.spec = old.spec.clone();
        let mut status = old.status.clone().unwrap_or_default();
        status.conditions = conditions;
        self.status = Some(status);
    }

    fn validate(&self, _context: &Context, causes: &mut Causes) {
        validate(self, None, &Allowed::default(), causes);
    }

    fn validate_update(&self, old: &Self, _context: &Context, causes: &mut Causes) {
        validate(self, Some(old), &Allowed::default(), causes);
    }

    fn validate_status_update(&self, old: &Self, _context: &Context, causes: &mut Causes) {
        validate(self, Some(old), &Allowed { certificate: true, ..Allowed::default() }, causes);
    }

    fn validate_subresource_update(&self, subresource: &str, old: &Self, _context: &Context, causes: &mut Causes) {
        let allowed = Allowed { approval_conditions: subresource == APPROVAL, ..Allowed::default() };
        validate(self, Some(old), &allowed, causes);
    }
}

/// Go's `%#v` of a byte slice, as a cause shows a request that is not one.
fn go_bytes(bytes: &[u8]) -> String {
    let items: Vec<String> = bytes.iter().map(|byte| format!("{byte:#x}")).collect();
    format!("[]byte{{{}}}", items.join(", "))
}

/// kube's `validateCertificateSigningRequest`, with `validateCertificateSigningRequestUpdate`'s
/// rules against `old` on an update. The tolerances kube keeps for objects stored before a
/// rule existed are kept too (an old object's duplicate usages or conditions, say).
fn validate(csr: &CertificateSigningRequest, old: Option<&CertificateSigningRequest>, allowed: &Allowed, causes: &mut Causes) {
    let spec_path = Path::new("spec");
    let request = &csr.spec.request.0;
    if let Err(err) = Pkcs10::from_pem(request).and_then(|parsed| parsed.check_signature()) {
        causes.invalid_shown(&spec_path.child("request"), &go_bytes(request), &err.to_string());
    }
    let usages = csr.spec.usages.as_deref().unwrap_or_default();
    if usages.is_empty() {
        causes.required(&spec_path.child("usages"), "");
    }
    let old_usages = old.and_then(|old| old.spec.usages.as_deref()).unwrap_or_default();
    if !old_usages.iter().any(|usage| !USAGES.contains(&usage.as_str())) {
        for (index, usage) in usages.iter().enumerate() {
            if !USAGES.contains(&usage.as_str()) {
                causes.not_supported(&spec_path.child("usages").index(index), usage.as_str(), USAGES);
            }
        }
    }
    let has_duplicates = |usages: &[String]| usages.iter().enumerate().any(|(index, usage)| usages[..index].contains(usage));
    if !has_duplicates(old_usages) {
        for (index, usage) in usages.iter().enumerate() {
            if usages[..index].contains(usage) {
                causes.duplicate(&spec_path.child("usages").index(index), usage.as_str());
            }
        }
    }
    validate_signer_name(&spec_path.child("signerName"), &csr.spec.signer_name, old, causes);
    if let Some(seconds) = csr.spec.expiration_seconds.filter(|seconds| *seconds < 600) {
        causes.invalid(&spec_path.child("expirationSeconds"), seconds, "may not specify a duration less than 600 seconds (10 minutes)");
    }
    validate_conditions(csr, old, causes);
    let certificate_path = Path::new("status").child("certificate");
    let untouched = old.is_some_and(|old| certificate(old) == certificate(csr));
    let old_was_invalid = old.is_some_and(|old| validate_certificate(certificate(old)).is_err());
    if !untouched
        && !old_was_invalid
        && let Err(why) = validate_certificate(certificate(csr))
    {
        causes.invalid(&certificate_path, "<certificate data>", &why);
    }
    let Some(old) = old else { return };
    let conditions_path = Path::new("status").child("conditions");
    for kind in [APPROVED, DENIED, FAILED] {
        if of_type(csr, kind).len() < of_type(old, kind).len() {
            causes.forbidden(&conditions_path, &format!("updates may not remove a condition of type {kind:?}"));
        }
    }
    if !allowed.approval_conditions {
        for kind in [APPROVED, DENIED] {
            let (new, previous) = (of_type(csr, kind), of_type(old, kind));
            if new.len() > previous.len() {
                causes.forbidden(&conditions_path, &format!("updates may not add a condition of type {kind:?}"));
            } else if new.len() == previous.len() && new != previous {
                causes.forbidden(&conditions_path, &format!("updates may not modify a condition of type {kind:?}"));
            }
        }
    }
    if certificate(csr) != certificate(old) {
        if !allowed.certificate {
            causes.forbidden(&certificate_path, "updates may not set certificate content");
        } else if !certificate(old).is_empty() {
            causes.forbidden(&certificate_path, "updates may not modify existing certificate content");
        }
    }
}

/// kube's `ValidateSignerName`: a domain and a path, `example.com/signer-name`.
fn validate_signer_name(path: &Path, signer: &str, old: Option<&CertificateSigningRequest>, causes: &mut Causes) {
    if signer == "kubernetes.io/legacy-unknown" && old.is_none_or(|old| old.spec.signer_name != signer) {
        causes.invalid(path, signer, "the legacy signerName is not allowed via this API version");
        return;
    }
    if signer.is_empty() {
        causes.required(path, "");
        return;
    }
    let segments: Vec<&str> = signer.split('/').collect();
    let [domain, name] = segments.as_slice() else {
        causes.invalid(path, signer, "must be a fully qualified domain and path of the form 'example.com/signer-name'");
        return;
    };
    causes.invalid_each(path, domain, NameFormat::Dns1123Subdomain.check(domain, false));
    // `IsValidPathSegmentName`: the name goes into URL paths.
    let path_messages: Vec<String> = match *name {
        "." => vec!["may not be '.'".into()],
        ".." => vec!["may not be '..'".into()],
        name if name.contains('%') => vec!["may not contain '%'".into()],
        _ => Vec::new(),
    };
    causes.invalid_each(path, name, path_messages);
}

/// kube's `validateConditions`.
fn validate_conditions(csr: &CertificateSigningRequest, old: Option<&CertificateSigningRequest>, causes: &mut Causes) {
    let path = Path::new("status").child("conditions");
    let old_conditions = old.map(conditions).unwrap_or_default();
    let tolerate_empty = old_conditions.iter().any(|condition| condition.type_.is_empty());
    let tolerate_duplicates = old_conditions.iter().enumerate().any(|(index, condition)| old_conditions[..index].iter().any(|earlier| earlier.type_ == condition.type_));
    let tolerate_both = old_conditions.iter().any(|condition| condition.type_ == APPROVED) && old_conditions.iter().any(|condition| condition.type_ == DENIED);
    let (mut approved, mut denied) = (false, false);
    let list = conditions(csr);
    for (index, condition) in list.iter().enumerate() {
        let at = path.index(index);
        if condition.type_.is_empty() && !tolerate_empty {
            causes.required(&at.child("type"), "");
        }
        let true_only = [APPROVED, DENIED, FAILED].contains(&condition.type_.as_str());
        let allowed: &[&str] = if true_only { &["True"] } else { &["False", "True", "Unknown"] };
        if condition.status.is_empty() {
            causes.required(&at.child("status"), "");
        } else if !allowed.contains(&condition.status.as_str()) {
            causes.not_supported(&at.child("status"), condition.status.as_str(), allowed);
        }
        if !tolerate_both {
            match condition.type_.as_str() {
                APPROVED => {
                    approved = true;
                    if denied {
                        causes.invalid(&at.child("type"), APPROVED, "Approved and Denied conditions are mutually exclusive");
                    }
                }
                DENIED => {
                    denied = true;
                    if approved {
                        causes.invalid(&at.child("type"), DENIED, "Approved and Denied conditions are mutually exclusive");
                    }
                }
                _ => {}
            }
        }
        if !tolerate_duplicates && list[..index].iter().any(|earlier| earlier.type_ == condition.type_) {
            causes.duplicate(&at.child("type"), condition.type_.as_str());
        }
    }
}

/// kube's `validateCertificate`: nothing, or PEM CERTIFICATE blocks only.
fn validate_certificate(pem: &[u8]) -> Result<(), String> {
    if pem.is_empty() {
        return Ok(());
    }
    let blocks = common::x509::pem_blocks(pem);
    if let Some((label, _)) = blocks.iter().find(|(label, _)| label != "CERTIFICATE") {
        return Err(format!("only CERTIFICATE PEM blocks are allowed, found {label:?}"));
    }
    if blocks.is_empty() {
        return Err("must contain at least one CERTIFICATE PEM block".into());
    }
    Ok(())
}

static PRINTER: Printer = Printer {
    columns: &[
        NAME,
        AGE,
        Column::new("SignerName", "string", 0, "signerName indicates the requested signer, and is a qualified name."),
        Column::new("Requestor", "string", 0, "Name of the user which made this request."),
        Column::new("RequestedDuration", "string", 0, "expirationSeconds is the requested duration of validity of the issued certificate."),
        Column::new("Condition", "string", 0, "Current approval and issuance state."),
    ],
    cells,
};

/// `printCertificateSigningRequest`'s row.
fn cells(csr: &Value) -> Vec<Value> {
    let signer = printers::text(csr, "/spec/signerName");
    let duration = match csr.pointer("/spec/expirationSeconds").and_then(Value::as_i64) {
        Some(seconds) => human_duration(seconds),
        None => "<none>".to_string(),
    };
    vec![
        printers::name(csr),
        printers::age_of(csr),
        json!(if signer.is_empty() { "<none>" } else { signer }),
        json!(printers::text(csr, "/spec/username")),
        json!(duration),
        json!(condition_text(csr)),
    ]
}

/// kube's `extractCSRStatus`: Denied over Approved over Pending, then Failed and Issued.
fn condition_text(csr: &Value) -> String {
    let has = |kind: &str| csr.pointer("/status/conditions").and_then(Value::as_array).is_some_and(|list| list.iter().any(|condition| condition["type"] == kind));
    let mut text = if has(DENIED) {
        DENIED.to_string()
    } else if has(APPROVED) {
        APPROVED.to_string()
    } else {
        "Pending".to_string()
    };
    if has(FAILED) {
        text.push_str(",Failed");
    }
    if !printers::text(csr, "/status/certificate").is_empty() {
        text.push_str(",Issued");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_condition_column_is_kubes() {
        let row = |status: Value| condition_text(&json!({"status": status}));
        assert_eq!(row(json!({})), "Pending");
        assert_eq!(row(json!({"conditions": [{"type": "Approved"}], "certificate": "Zm9v"})), "Approved,Issued");
        assert_eq!(row(json!({"conditions": [{"type": "Approved"}, {"type": "Failed"}]})), "Approved,Failed");
        assert_eq!(row(json!({"conditions": [{"type": "Denied"}]})), "Denied");
    }

    #[test]
    fn a_byte_slice_shows_as_go_shows_it() {
        assert_eq!(go_bytes(b"hi\n"), "[]byte{0x68, 0x69, 0xa}");
    }
}
