//! Certificate signing requests (PKCS#10) as the certificates API carries them: reading a PEM
//! `CERTIFICATE REQUEST` and checking its signature (the apiserver's validation), and issuing
//! a certificate for one with a cluster CA (the controller-manager's signer). rcgen writes
//! certificates but parses none here, so the few structures read are read with yasna, which
//! rcgen already brings.

use base64::Engine;
use yasna::models::ObjectIdentifier;

/// Why a request or a CA could not be read, or a certificate not issued. The texts of the
/// request's errors are Go's (`certificates.ParseCSR`, `x509.CheckSignature`), which
/// kube-apiserver's validation quotes.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum X509Error {
    #[error("PEM block type must be CERTIFICATE REQUEST")]
    NotARequest,
    #[error("asn1: structure error: {0}")]
    Malformed(String),
    #[error("x509: cannot verify signature: algorithm unimplemented")]
    UnknownAlgorithm,
    #[error("x509: {0} verification failure")]
    BadSignature(&'static str),
    #[error("no {0} PEM block")]
    MissingBlock(&'static str),
    #[error("issuing the certificate: {0}")]
    Issuing(String),
}

/// The PEM blocks of `text`: each label and its decoded bytes, in order; text around them
/// (explanations, as RFC 7468 allows) is skipped, and so is a block whose body is no base64.
pub fn pem_blocks(text: &[u8]) -> Vec<(String, Vec<u8>)> {
    let text = String::from_utf8_lossy(text);
    let mut blocks = Vec::new();
    let mut rest = text.as_ref();
    while let Some(start) = rest.find("-----BEGIN ") {
        let after = &rest[start + "-----BEGIN ".len()..];
        let Some(label_end) = after.find("-----") else { break };
        let label = after[..label_end].to_string();
        let body = &after[label_end + 5..];
        let end_marker = format!("-----END {label}-----");
        let Some(end) = body.find(&end_marker) else { break };
        let encoded: String = body[..end].chars().filter(|c| !c.is_whitespace()).collect();
        if let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(encoded) {
            blocks.push((label, bytes));
        }
        rest = &body[end + end_marker.len()..];
    }
    blocks
}

/// The parts of a PKCS#10 request that checking and signing it need.
#[derive(Clone, Debug)]
pub struct CertificateRequest {
    /// `certificationRequestInfo`, as signed.
    info: Vec<u8>,
    /// The subject `Name`, DER.
    pub subject: Vec<u8>,
    /// `subjectPKInfo`'s algorithm and key bits.
    key_algorithm: ObjectIdentifier,
    key_parameters: Option<ObjectIdentifier>,
    pub public_key: Vec<u8>,
    signature_algorithm: ObjectIdentifier,
    signature: Vec<u8>,
    /// The `[0]` attributes (extension requests and the like), DER.
    attributes: Vec<u8>,
}

/// The names of a request's subjectAltName extension, by kind, in their order, as Go's
/// `x509.CertificateRequest` holds them (`DNSNames`, `EmailAddresses`, `URIs`, `IPAddresses`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AlternativeNames {
    pub dns_names: Vec<String>,
    pub email_addresses: Vec<String>,
    pub uris: Vec<String>,
    pub ip_addresses: Vec<std::net::IpAddr>,
}

/// PKCS#9 `extensionRequest`, the attribute a request asks for extensions in.
const EXTENSION_REQUEST: &[u64] = &[1, 2, 840, 113549, 1, 9, 14];
const SUBJECT_ALTERNATIVE_NAME: &[u64] = &[2, 5, 29, 17];

fn oid(components: &[u64]) -> ObjectIdentifier {
    ObjectIdentifier::from_slice(components)
}

const EC_PUBLIC_KEY: &[u64] = &[1, 2, 840, 10045, 2, 1];
const RSA_ENCRYPTION: &[u64] = &[1, 2, 840, 113549, 1, 1, 1];
const ED25519: &[u64] = &[1, 3, 101, 112];
const P256: &[u64] = &[1, 2, 840, 10045, 3, 1, 7];
const P384: &[u64] = &[1, 3, 132, 0, 34];

impl CertificateRequest {
    /// The request in the first PEM block of `pem`, which must be a `CERTIFICATE REQUEST`
    /// (Go's `certificates.ParseCSR`).
    pub fn from_pem(pem: &[u8]) -> Result<Self, X509Error> {
        match pem_blocks(pem).into_iter().next() {
            Some((label, der)) if label == "CERTIFICATE REQUEST" => Self::from_der(&der),
            _ => Err(X509Error::NotARequest),
        }
    }

    pub fn from_der(der: &[u8]) -> Result<Self, X509Error> {
        let malformed = |err: yasna::ASN1Error| X509Error::Malformed(err.to_string());
        let (info, signature_algorithm, signature) = yasna::parse_ber(der, signed_envelope).map_err(malformed)?;
        let (subject, spki, attributes) = yasna::parse_ber(&info, |reader| {
            reader.read_sequence(|reader| {
                reader.next().read_i64()?;
                let subject = reader.next().read_der()?;
                let spki = reader.next().read_der()?;
                // The attributes ([0]), read when asked for.
                let attributes = reader.next().read_der()?;
                Ok((subject, spki, attributes))
            })
        })
        .map_err(malformed)?;
        let (key_algorithm, key_parameters, public_key) = public_key_info(&spki)?;
        Ok(Self { info, subject, key_algorithm, key_parameters, public_key, signature_algorithm, signature, attributes })
    }

    /// Checks the request's self-signature with its own key (Go's `CheckSignature`).
    pub fn check_signature(&self) -> Result<(), X509Error> {
        verify(&self.signature_algorithm, self.key_parameters.as_ref(), &self.public_key, &self.info, &self.signature)
    }

    /// The subject's attributes, each as its OID and text (the CN, the O's, ...), in order.
    pub fn subject_attributes(&self) -> Result<Vec<(Vec<u64>, String)>, X509Error> {
        name_attributes(&self.subject)
    }

    /// The names the request's subjectAltName extension asks for (none without one).
    pub fn alternative_names(&self) -> Result<AlternativeNames, X509Error> {
        let malformed = |err: yasna::ASN1Error| X509Error::Malformed(err.to_string());
        // [0] IMPLICIT SET OF Attribute, each its type and a SET OF values.
        let attributes = yasna::parse_ber(&self.attributes, |reader| {
            reader.read_tagged_implicit(yasna::Tag::context(0), |reader| {
                reader.collect_set_of(|reader| {
                    reader.read_sequence(|reader| {
                        let kind = reader.next().read_oid()?;
                        let values = reader.next().collect_set_of(|reader| reader.read_der())?;
                        Ok((kind, values))
                    })
                })
            })
        })
        .map_err(malformed)?;
        let mut names = AlternativeNames::default();
        for (_, values) in attributes.iter().filter(|(kind, _)| *kind == oid(EXTENSION_REQUEST)) {
            for value in values {
                let extensions = yasna::parse_ber(value, |reader| {
                    reader.collect_sequence_of(|reader| {
                        reader.read_sequence(|reader| {
                            let id = reader.next().read_oid()?;
                            reader.read_optional(|reader| reader.read_bool())?;
                            Ok((id, reader.next().read_bytes()?))
                        })
                    })
                })
                .map_err(malformed)?;
                for (_, value) in extensions.iter().filter(|(id, _)| *id == oid(SUBJECT_ALTERNATIVE_NAME)) {
                    let general_names = yasna::parse_ber(value, |reader| {
                        reader.collect_sequence_of(|reader| {
                            let tagged = reader.read_tagged_der()?;
                            Ok((tagged.tag(), tagged.value().to_vec()))
                        })
                    })
                    .map_err(malformed)?;
                    for (tag, value) in general_names {
                        if tag.tag_class != yasna::TagClass::ContextSpecific {
                            continue;
                        }
                        let text = || String::from_utf8_lossy(&value).into_owned();
                        match tag.tag_number {
                            1 => names.email_addresses.push(text()),
                            2 => names.dns_names.push(text()),
                            6 => names.uris.push(text()),
                            7 => names.ip_addresses.push(ip_address(&value)?),
                            _ => {}
                        }
                    }
                }
            }
        }
        Ok(names)
    }

    /// The key as rcgen writes it into a certificate: its algorithm (which names the key type
    /// and curve) and the key bits.
    fn rcgen_key(&self) -> Result<RequestKey, X509Error> {
        let algorithm: &'static rcgen::SignatureAlgorithm = match self.key_algorithm.components().as_slice() {
            EC_PUBLIC_KEY if self.key_parameters == Some(oid(P256)) => &rcgen::PKCS_ECDSA_P256_SHA256,
            EC_PUBLIC_KEY if self.key_parameters == Some(oid(P384)) => &rcgen::PKCS_ECDSA_P384_SHA384,
            RSA_ENCRYPTION => &rcgen::PKCS_RSA_SHA256,
            ED25519 => &rcgen::PKCS_ED25519,
            _ => return Err(X509Error::UnknownAlgorithm),
        };
        Ok(RequestKey { algorithm, bits: self.public_key.clone() })
    }
}

/// An `iPAddress` name's 4 or 16 bytes; an IPv4-mapped IPv6 address is the IPv4 one, as Go
/// prints it.
fn ip_address(bytes: &[u8]) -> Result<std::net::IpAddr, X509Error> {
    if let Ok(v4) = <[u8; 4]>::try_from(bytes) {
        return Ok(std::net::Ipv4Addr::from(v4).into());
    }
    let v6 = <[u8; 16]>::try_from(bytes).map_err(|_| X509Error::Malformed(format!("x509: cannot parse IP address of length {}", bytes.len())))?;
    let v6 = std::net::Ipv6Addr::from(v6);
    Ok(v6.to_ipv4_mapped().map_or(v6.into(), Into::into))
}

/// A `SubjectPublicKeyInfo`'s algorithm, its parameters when they are a named curve, and the
/// key bits.
fn public_key_info(spki: &[u8]) -> Result<(ObjectIdentifier, Option<ObjectIdentifier>, Vec<u8>), X509Error> {
    let (algorithm, parameters, key) = yasna::parse_der(spki, |reader| {
        reader.read_sequence(|reader| {
            let (algorithm, parameters) = reader.next().read_sequence(|reader| {
                let algorithm = reader.next().read_oid()?;
                // A named curve for EC keys, NULL for RSA, nothing for Ed25519.
                let parameters = reader.read_optional(|reader| reader.read_der())?;
                Ok((algorithm, parameters))
            })?;
            let (key, _) = reader.next().read_bitvec_bytes()?;
            Ok((algorithm, parameters, key))
        })
    })
    .map_err(|err| X509Error::Malformed(err.to_string()))?;
    let parameters = parameters.and_then(|parameters| yasna::parse_der(&parameters, |reader| reader.read_oid()).ok());
    Ok((algorithm, parameters, key))
}

/// Checks `signature` over `message` with `key` (of the curve `curve`, for EC keys) under the
/// signature algorithm `algorithm`, as Go's `CheckSignature` does for the algorithms ring has.
fn verify(algorithm: &ObjectIdentifier, curve: Option<&ObjectIdentifier>, key: &[u8], message: &[u8], signature: &[u8]) -> Result<(), X509Error> {
    use ring::signature as sig;
    let (algorithm, name): (&dyn sig::VerificationAlgorithm, &'static str) = match algorithm.components().as_slice() {
        [1, 2, 840, 10045, 4, 3, 2] if curve == Some(&oid(P256)) => (&sig::ECDSA_P256_SHA256_ASN1, "ECDSA"),
        [1, 2, 840, 10045, 4, 3, 2] if curve == Some(&oid(P384)) => (&sig::ECDSA_P384_SHA256_ASN1, "ECDSA"),
        [1, 2, 840, 10045, 4, 3, 3] if curve == Some(&oid(P256)) => (&sig::ECDSA_P256_SHA384_ASN1, "ECDSA"),
        [1, 2, 840, 10045, 4, 3, 3] if curve == Some(&oid(P384)) => (&sig::ECDSA_P384_SHA384_ASN1, "ECDSA"),
        [1, 2, 840, 113549, 1, 1, 11] => (&sig::RSA_PKCS1_2048_8192_SHA256, "RSA"),
        [1, 2, 840, 113549, 1, 1, 12] => (&sig::RSA_PKCS1_2048_8192_SHA384, "RSA"),
        [1, 2, 840, 113549, 1, 1, 13] => (&sig::RSA_PKCS1_2048_8192_SHA512, "RSA"),
        [1, 3, 101, 112] => (&sig::ED25519, "Ed25519"),
        _ => return Err(X509Error::UnknownAlgorithm),
    };
    sig::UnparsedPublicKey::new(algorithm, key).verify(message, signature).map_err(|_| X509Error::BadSignature(name))
}

/// The signed envelope a certification request and a certificate share: `SEQUENCE { signed
/// part, AlgorithmIdentifier, BIT STRING signature }`, as the signed part's DER, the algorithm
/// and the signature.
fn signed_envelope(reader: yasna::BERReader<'_, '_>) -> yasna::ASN1Result<(Vec<u8>, ObjectIdentifier, Vec<u8>)> {
    reader.read_sequence(|reader| {
        let signed = reader.next().read_der()?;
        let algorithm = reader.next().read_sequence(|reader| {
            let algorithm = reader.next().read_oid()?;
            reader.read_optional(|reader| reader.read_der())?;
            Ok(algorithm)
        })?;
        let (signature, _) = reader.next().read_bitvec_bytes()?;
        Ok((signed, algorithm, signature))
    })
}

/// A certificate's signed part (raw), the elements of that part in order, its signature
/// algorithm and its signature.
struct ParsedCertificate {
    signed: Vec<u8>,
    elements: Vec<Vec<u8>>,
    signature_algorithm: ObjectIdentifier,
    signature: Vec<u8>,
}

impl ParsedCertificate {
    fn from_der(der: &[u8]) -> Result<Self, X509Error> {
        let (signed, signature_algorithm, signature) =
            yasna::parse_der(der, signed_envelope).map_err(|err| X509Error::Malformed(err.to_string()))?;
        let elements = yasna::parse_der(&signed, |reader| {
            reader.read_sequence(|reader| {
                let mut elements = Vec::new();
                while let Some(element) = reader.read_optional(|reader| reader.read_der())? {
                    elements.push(element);
                }
                Ok(elements)
            })
        })
        .map_err(|err| X509Error::Malformed(err.to_string()))?;
        Ok(Self { signed, elements, signature_algorithm, signature })
    }

    /// The element at `index` counted as in a v1 certificate (serial, signature, issuer,
    /// validity, subject, key), past the explicit version a v3 certificate starts with.
    fn element(&self, index: usize) -> Result<&[u8], X509Error> {
        let offset = usize::from(self.elements.first().is_some_and(|first| first.first() == Some(&0xa0)));
        self.elements.get(offset + index).map(Vec::as_slice).ok_or_else(|| X509Error::Malformed("a certificate too short".into()))
    }
}

/// The subject of the PEM certificate `certificate` once its signature is checked against the
/// PEM CA certificate `authority`'s key: what a client of a cluster trusting that CA would be.
pub fn issued_subject(certificate: &[u8], authority: &[u8]) -> Result<Vec<(Vec<u64>, String)>, X509Error> {
    let first = |pem: &[u8]| pem_blocks(pem).into_iter().find(|(label, _)| label == "CERTIFICATE").map(|(_, der)| der).ok_or(X509Error::MissingBlock("CERTIFICATE"));
    let issued = ParsedCertificate::from_der(&first(certificate)?)?;
    let ca = ParsedCertificate::from_der(&first(authority)?)?;
    let (_, curve, key) = public_key_info(ca.element(5)?)?;
    verify(&issued.signature_algorithm, curve.as_ref(), &key, &issued.signed, &issued.signature)?;
    name_attributes(issued.element(4)?)
}

/// A `Name`'s attributes, read from its DER.
fn name_attributes(name: &[u8]) -> Result<Vec<(Vec<u64>, String)>, X509Error> {
    yasna::parse_der(name, |reader| {
        let mut attributes = Vec::new();
        reader.read_sequence_of(|reader| {
            reader.read_set_of(|reader| {
                reader.read_sequence(|reader| {
                    let kind = reader.next().read_oid()?;
                    let value = reader.next().read_tagged_der()?;
                    attributes.push((kind.components().clone(), String::from_utf8_lossy(value.value()).into_owned()));
                    Ok(())
                })
            })
        })?;
        Ok(attributes)
    })
    .map_err(|err| X509Error::Malformed(err.to_string()))
}

struct RequestKey {
    algorithm: &'static rcgen::SignatureAlgorithm,
    bits: Vec<u8>,
}

impl rcgen::PublicKeyData for RequestKey {
    fn der_bytes(&self) -> &[u8] {
        &self.bits
    }

    fn algorithm(&self) -> &rcgen::SignatureAlgorithm {
        self.algorithm
    }
}

/// A cluster CA that issues certificates: its key, and its subject as its certificate names it
/// (what the certificates it issues name as their issuer).
pub struct Authority {
    certificate: rcgen::Certificate,
    key: rcgen::KeyPair,
}

/// What a certificate is issued for: which extended usages, from when until when (Unix
/// seconds).
pub struct Issue {
    pub client_auth: bool,
    pub server_auth: bool,
    pub not_before: i64,
    pub not_after: i64,
}

impl Authority {
    /// The CA of a PEM certificate and key (the controller-manager's
    /// `--cluster-signing-cert-file` and `--cluster-signing-key-file`).
    pub fn from_pem(certificate: &[u8], key: &str) -> Result<Self, X509Error> {
        let issuing = |err: rcgen::Error| X509Error::Issuing(err.to_string());
        let der = pem_blocks(certificate).into_iter().find(|(label, _)| label == "CERTIFICATE").map(|(_, der)| der).ok_or(X509Error::MissingBlock("CERTIFICATE"))?;
        let subject = certificate_subject(&der)?;
        let key = rcgen::KeyPair::from_pem(key).map_err(issuing)?;
        let mut params = rcgen::CertificateParams::default();
        params.distinguished_name = distinguished_name(&subject)?;
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign, rcgen::KeyUsagePurpose::DigitalSignature];
        // Made again from the same subject and key: what it signs names the same issuer and
        // verifies under the same public key as the certificate on disk.
        let certificate = params.self_signed(&key).map_err(issuing)?;
        Ok(Self { certificate, key })
    }

    /// A certificate for `request`'s subject and key, PEM.
    pub fn issue(&self, request: &CertificateRequest, issue: &Issue) -> Result<String, X509Error> {
        let issuing = |err: rcgen::Error| X509Error::Issuing(err.to_string());
        let mut params = rcgen::CertificateParams::default();
        params.distinguished_name = distinguished_name(&request.subject)?;
        params.not_before = rcgen::date_time_ymd(1970, 1, 1) + since_epoch(issue.not_before)?;
        params.not_after = rcgen::date_time_ymd(1970, 1, 1) + since_epoch(issue.not_after)?;
        params.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature, rcgen::KeyUsagePurpose::KeyEncipherment];
        if issue.client_auth {
            params.extended_key_usages.push(rcgen::ExtendedKeyUsagePurpose::ClientAuth);
        }
        if issue.server_auth {
            params.extended_key_usages.push(rcgen::ExtendedKeyUsagePurpose::ServerAuth);
        }
        params.use_authority_key_identifier_extension = true;
        let mut serial = [0u8; 16];
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut serial).map_err(|_| X509Error::Issuing("no randomness for a serial number".into()))?;
        serial[0] &= 0x7f;
        params.serial_number = Some(rcgen::SerialNumber::from_slice(&serial));
        let certificate = params.signed_by(&request.rcgen_key()?, &self.certificate, &self.key).map_err(issuing)?;
        Ok(certificate.pem())
    }
}

/// A Unix time as the time since the epoch, which rcgen's validity bounds add to it.
fn since_epoch(seconds: i64) -> Result<std::time::Duration, X509Error> {
    let seconds = u64::try_from(seconds).map_err(|_| X509Error::Issuing(format!("a time before 1970: {seconds}")))?;
    Ok(std::time::Duration::from_secs(seconds))
}

/// The subject `Name` (DER) of a certificate (DER).
fn certificate_subject(der: &[u8]) -> Result<Vec<u8>, X509Error> {
    ParsedCertificate::from_der(der)?.element(4).map(<[u8]>::to_vec)
}

fn distinguished_name(name: &[u8]) -> Result<rcgen::DistinguishedName, X509Error> {
    let mut distinguished = rcgen::DistinguishedName::new();
    for (kind, value) in name_attributes(name)? {
        distinguished.push(rcgen::DnType::from_oid(&kind), rcgen::DnValue::Utf8String(value));
    }
    Ok(distinguished)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(common_name: &str, organization: &str) -> String {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::default();
        params.distinguished_name.push(rcgen::DnType::CommonName, common_name);
        params.distinguished_name.push(rcgen::DnType::OrganizationName, organization);
        params.serialize_request(&key).unwrap().pem().unwrap()
    }

    #[test]
    fn alternative_names_are_read_from_the_extension_request() {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(vec!["web.example.com".to_string()]).unwrap();
        params.subject_alt_names.push(rcgen::SanType::IpAddress("10.0.0.1".parse().unwrap()));
        params.subject_alt_names.push(rcgen::SanType::Rfc822Name("ops@example.com".try_into().unwrap()));
        let pem = params.serialize_request(&key).unwrap().pem().unwrap();
        let names = CertificateRequest::from_pem(pem.as_bytes()).unwrap().alternative_names().unwrap();
        assert_eq!(names.dns_names, ["web.example.com"]);
        assert_eq!(names.email_addresses, ["ops@example.com"]);
        assert_eq!(names.ip_addresses, ["10.0.0.1".parse::<std::net::IpAddr>().unwrap()]);
        assert!(names.uris.is_empty());
        // Without the extension, none.
        let plain = CertificateRequest::from_pem(request("alice", "devs").as_bytes()).unwrap().alternative_names().unwrap();
        assert_eq!(plain, AlternativeNames::default());
    }

    #[test]
    fn a_request_is_read_and_its_signature_checked() {
        let pem = request("alice", "devs");
        let parsed = CertificateRequest::from_pem(pem.as_bytes()).unwrap();
        parsed.check_signature().unwrap();
        let attributes = parsed.subject_attributes().unwrap();
        assert_eq!(attributes, vec![(vec![2, 5, 4, 3], "alice".to_string()), (vec![2, 5, 4, 10], "devs".to_string())]);
    }

    #[test]
    fn anything_else_is_refused_in_go_words() {
        assert_eq!(CertificateRequest::from_pem(b"hello").unwrap_err().to_string(), "PEM block type must be CERTIFICATE REQUEST");
        let certificate = rcgen::CertificateParams::default().self_signed(&rcgen::KeyPair::generate().unwrap()).unwrap().pem();
        assert_eq!(CertificateRequest::from_pem(certificate.as_bytes()).unwrap_err(), X509Error::NotARequest);
    }

    #[test]
    fn a_ca_issues_for_the_request_subject() {
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca_params = rcgen::CertificateParams::default();
        ca_params.distinguished_name.push(rcgen::DnType::CommonName, "test-ca");
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let authority = Authority::from_pem(ca.pem().as_bytes(), &ca_key.serialize_pem()).unwrap();
        let parsed = CertificateRequest::from_pem(request("bob", "ops").as_bytes()).unwrap();
        let issued = authority.issue(&parsed, &Issue { client_auth: true, server_auth: false, not_before: 1_700_000_000, not_after: 1_700_003_600 }).unwrap();
        let subject = issued_subject(issued.as_bytes(), ca.pem().as_bytes()).unwrap();
        assert_eq!(subject, vec![(vec![2, 5, 4, 3], "bob".to_string()), (vec![2, 5, 4, 10], "ops".to_string())]);
        let stranger = rcgen::CertificateParams::default().self_signed(&rcgen::KeyPair::generate().unwrap()).unwrap();
        assert_eq!(issued_subject(issued.as_bytes(), stranger.pem().as_bytes()), Err(X509Error::BadSignature("ECDSA")));
    }
}
