//! Certificates for tests that run the apiserver on HTTPS: an [`Authority`] (the CA that
//! `--client-ca-file` names) and the client certificates it signs, whose subject is the user
//! (CN) and group (O) the apiserver reads, as kube-apiserver does; and the self-signed serving
//! certificate [`ApiServer::start_https`](super::ApiServer::start_https) gives the apiserver.

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    #[error("making a certificate for {subject:?}: {source}")]
    Generate { subject: String, source: rcgen::Error },
    #[error("writing {path}: {source}")]
    Write { path: String, source: std::io::Error },
    /// rcgen 0.13 keeps one value per attribute type (a second O replaces the first), so a
    /// certificate can name one group at most.
    #[error("a client certificate for {user:?} can name one group at most, not {groups:?}")]
    Groups { user: String, groups: Vec<String> },
}

/// A certificate with the key it was issued to.
pub struct Certificate {
    certificate: rcgen::Certificate,
    key: rcgen::KeyPair,
}

/// A certificate and its key written as PEM files, as kubeconfigs, curl and the apiserver's
/// flags name them.
pub struct PemFiles {
    pub certificate: PathBuf,
    pub key: PathBuf,
}

impl Certificate {
    /// The certificate in DER, as rustls takes it.
    pub fn der(&self) -> &[u8] {
        self.certificate.der()
    }

    pub fn pem(&self) -> String {
        self.certificate.pem()
    }

    pub fn key(&self) -> &rcgen::KeyPair {
        &self.key
    }

    /// The key alone, for a test that presents the certificate's bytes altered.
    pub fn into_key(self) -> rcgen::KeyPair {
        self.key
    }

    /// Writes `<name>.crt` and `<name>.key` into `dir`.
    pub fn write(&self, dir: &Path, name: &str) -> Result<PemFiles, PkiError> {
        let files = PemFiles { certificate: dir.join(format!("{name}.crt")), key: dir.join(format!("{name}.key")) };
        write(&files.certificate, self.certificate.pem())?;
        write(&files.key, self.key.serialize_pem())?;
        Ok(files)
    }
}

/// A certificate authority: a self-signed CA certificate that signs client certificates.
pub struct Authority {
    own: Certificate,
}

impl Authority {
    /// A new CA, its subject's CN `name`.
    pub fn new(name: &str) -> Result<Self, PkiError> {
        let generated = |source| PkiError::Generate { subject: name.to_string(), source };
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(generated)?;
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.distinguished_name.push(rcgen::DnType::CommonName, name);
        params.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign, rcgen::KeyUsagePurpose::DigitalSignature];
        let key = rcgen::KeyPair::generate().map_err(generated)?;
        let certificate = params.self_signed(&key).map_err(generated)?;
        Ok(Self { own: Certificate { certificate, key } })
    }

    /// The CA's own certificate and key.
    pub fn certificate(&self) -> &Certificate {
        &self.own
    }

    /// Writes the CA's certificate (PEM) to `path`, the file `--client-ca-file` names.
    pub fn write(&self, path: &Path) -> Result<(), PkiError> {
        write(path, self.own.pem())
    }

    /// Signs a certificate made from `params` for a new key.
    pub fn sign(&self, params: rcgen::CertificateParams) -> Result<Certificate, PkiError> {
        let subject = params.distinguished_name.clone();
        let generated = |source| PkiError::Generate { subject: format!("{subject:?}"), source };
        let key = rcgen::KeyPair::generate().map_err(generated)?;
        let certificate = params.signed_by(&key, &self.own.certificate, &self.own.key).map_err(generated)?;
        Ok(Certificate { certificate, key })
    }

    /// A client certificate for `user` (CN) in `groups` (O; one at most, see
    /// [`PkiError::Groups`]), valid from 1975 to 4096.
    pub fn client_certificate(&self, user: &str, groups: &[&str]) -> Result<Certificate, PkiError> {
        self.sign(user_params(user, groups)?)
    }

    /// The same, but valid only in the year 2000, so expired.
    pub fn expired_client_certificate(&self, user: &str, groups: &[&str]) -> Result<Certificate, PkiError> {
        let mut params = user_params(user, groups)?;
        params.not_before = rcgen::date_time_ymd(2000, 1, 1);
        params.not_after = rcgen::date_time_ymd(2001, 1, 1);
        self.sign(params)
    }
}

/// The parameters of a client certificate (extended key usage clientAuth) whose subject is
/// exactly `subject`: rcgen keeps one value per attribute type, the last one given.
pub fn client_params(subject: Vec<(rcgen::DnType, rcgen::DnValue)>) -> rcgen::CertificateParams {
    let mut params = rcgen::CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    for (kind, value) in subject {
        params.distinguished_name.push(kind, value);
    }
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    params
}

fn user_params(user: &str, groups: &[&str]) -> Result<rcgen::CertificateParams, PkiError> {
    if groups.len() > 1 {
        return Err(PkiError::Groups { user: user.to_string(), groups: groups.iter().map(|group| group.to_string()).collect() });
    }
    let groups = groups.iter().map(|group| (rcgen::DnType::OrganizationName, rcgen::DnValue::from(*group)));
    Ok(client_params(std::iter::once((rcgen::DnType::CommonName, rcgen::DnValue::from(user))).chain(groups).collect()))
}

/// A self-signed serving certificate for 127.0.0.1 and localhost.
pub(super) fn serving_certificate() -> Result<Certificate, PkiError> {
    let hosts = vec!["127.0.0.1".to_string(), "localhost".to_string()];
    let rcgen::CertifiedKey { cert, key_pair } =
        rcgen::generate_simple_self_signed(hosts).map_err(|source| PkiError::Generate { subject: "127.0.0.1".to_string(), source })?;
    Ok(Certificate { certificate: cert, key: key_pair })
}

fn write(path: &Path, text: String) -> Result<(), PkiError> {
    std::fs::write(path, text).map_err(|source| PkiError::Write { path: path.display().to_string(), source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_certificate_names_one_group_at_most() {
        let authority = Authority::new("test-ca").unwrap();
        assert!(authority.client_certificate("jane", &[]).is_ok());
        assert!(authority.client_certificate("jane", &["devs"]).is_ok());
        let refused = authority.client_certificate("jane", &["devs", "ops"]).err();
        assert!(matches!(refused, Some(PkiError::Groups { .. })), "{refused:?}");
    }
}
