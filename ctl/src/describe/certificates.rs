//! kubectl's describer of CertificateSigningRequests (`describeCertificateSigningRequest`): the
//! request's metadata, signer and status, then the subject and alternative names it asks for,
//! read from the PKCS#10 request itself as kubectl parses it.

use std::fmt::Write;

use base64::Engine;
use common::x509::CertificateRequest;

use super::service::format_labels;
use super::{Context, events_section, text};
use crate::CtlError;

/// The subject's attributes kubectl lists, by OID, with their labels, in its order.
const LISTED: [(&[u64], &str); 7] = [
    (&[2, 5, 4, 10], "Organization"),
    (&[2, 5, 4, 11], "Organizational Unit"),
    (&[2, 5, 4, 6], "Country"),
    (&[2, 5, 4, 7], "Locality"),
    (&[2, 5, 4, 8], "Province"),
    (&[2, 5, 4, 9], "StreetAddress"),
    (&[2, 5, 4, 17], "PostalCode"),
];
const COMMON_NAME: &[u64] = &[2, 5, 4, 3];
const SERIAL_NUMBER: &[u64] = &[2, 5, 4, 5];

pub fn certificate_signing_request(context: &Context) -> Result<String, CtlError> {
    let csr = &context.object;
    let (metadata, spec, status) = (&csr["metadata"], &csr["spec"], &csr["status"]);
    let pem = base64::engine::general_purpose::STANDARD.decode(spec["request"].as_str().unwrap_or_default()).unwrap_or_default();
    // kubectl refuses to describe a request it cannot parse, in these words.
    let parsed = CertificateRequest::from_pem(&pem).and_then(|request| Ok((request.subject_attributes()?, request.alternative_names()?)));
    let (subject, names) = parsed.map_err(|err| CtlError::Usage(format!("Error parsing CSR: {err}")))?;
    let mut out = String::new();
    let _ = writeln!(out, "Name:\t{}", text(&metadata["name"]));
    let _ = writeln!(out, "Labels:\t{}", format_labels(&metadata["labels"]));
    let _ = writeln!(out, "Annotations:\t{}", format_labels(&metadata["annotations"]));
    let _ = writeln!(out, "CreationTimestamp:\t{}", crate::pod_template::rfc1123z(&metadata["creationTimestamp"]));
    let _ = writeln!(out, "Requesting User:\t{}", text(&spec["username"]));
    if let Some(signer) = spec["signerName"].as_str().filter(|signer| !signer.is_empty()) {
        let _ = writeln!(out, "Signer:\t{signer}");
    }
    if let Some(seconds) = spec["expirationSeconds"].as_i64() {
        let _ = writeln!(out, "Requested Duration:\t{}", common::durations::human_duration(seconds));
    }
    let _ = writeln!(out, "Status:\t{}", condition(status));
    out.push_str("Subject:\n");
    // Go's `pkix.Name` keeps the last CommonName and SerialNumber and every value of the rest.
    let last = |oid: &[u64]| subject.iter().rev().find(|(id, _)| id == oid).map(|(_, value)| value.as_str()).unwrap_or_default();
    let _ = writeln!(out, "\tCommon Name:\t{}", last(COMMON_NAME));
    let _ = writeln!(out, "\tSerial Number:\t{}", last(SERIAL_NUMBER));
    for (oid, label) in LISTED {
        let values: Vec<String> = subject.iter().filter(|(id, _)| id == oid).map(|(_, value)| value.clone()).collect();
        list(&mut out, label, &values);
    }
    let addresses: Vec<String> = names.ip_addresses.iter().map(ToString::to_string).collect();
    if !(names.dns_names.is_empty() && names.email_addresses.is_empty() && names.uris.is_empty() && addresses.is_empty()) {
        out.push_str("Subject Alternative Names:\n");
        list(&mut out, "DNS Names", &names.dns_names);
        list(&mut out, "Email Addresses", &names.email_addresses);
        list(&mut out, "URIs", &names.uris);
        list(&mut out, "IP Addresses", &addresses);
    }
    events_section(&mut out, &context.events);
    Ok(out)
}

/// kubectl's `printListHelper`: a label and its values, each under the first; nothing for none.
fn list(out: &mut String, label: &str, values: &[String]) {
    if !values.is_empty() {
        let _ = writeln!(out, "\t{label}:\t{}", values.join("\n\t\t"));
    }
}

/// `extractCSRStatus`: Denied over Approved over Pending, then Failed and Issued.
fn condition(status: &serde_json::Value) -> String {
    let has = |kind: &str| status["conditions"].as_array().into_iter().flatten().any(|condition| condition["type"] == kind);
    let mut text = if has("Denied") {
        "Denied".to_string()
    } else if has("Approved") {
        "Approved".to_string()
    } else {
        "Pending".to_string()
    };
    if has("Failed") {
        text.push_str(",Failed");
    }
    if status["certificate"].as_str().is_some_and(|certificate| !certificate.is_empty()) {
        text.push_str(",Issued");
    }
    text
}
