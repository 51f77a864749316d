//! The cluster's certificates, as kubeadm makes them: a CA made at `create`, a serving
//! certificate for each apiserver, a client certificate for every component (CN the user, O the
//! groups: `system:kube-scheduler`, `system:node:<name>` in `system:nodes`, an administrator in
//! `system:masters`), and the key service account tokens are signed with. Files go to
//! `/etc/cluster/pki` on the nodes; kubeconfigs carry the certificate data.

use base64::Engine;
use rcgen::{BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose};

use crate::error::ClusterError;

/// Where the nodes keep the certificates and keys.
pub const DIR: &str = "/etc/cluster/pki";
/// The Service network's first address, the `kubernetes` Service's ClusterIP: in-cluster
/// clients dial it, so the apiserver's certificate names it.
const KUBERNETES_SERVICE_IP: &str = "10.96.0.1";

/// A certificate and its private key, PEM.
#[derive(Clone, Debug)]
pub struct Issued {
    pub cert: String,
    pub key: String,
}

pub struct Authority {
    cert: rcgen::Certificate,
    key: KeyPair,
    /// The CA certificate as the nodes have it (a loaded authority re-signs its own
    /// certificate, whose bytes differ; what it issues verifies against this one).
    pem: String,
}

fn failed(what: &str) -> impl Fn(rcgen::Error) -> ClusterError + '_ {
    move |err| ClusterError::NotReady(format!("making {what}: {err}"))
}

/// Validity from the start of this year for `years` years: whole years keep the arithmetic
/// free of a calendar library, and a day's clock skew between host and nodes cannot matter.
fn validity(params: &mut CertificateParams, years: i32) {
    let seconds = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|since| since.as_secs()).unwrap_or_default();
    let year = 1970 + i32::try_from(seconds / 31_556_952).unwrap_or(0);
    params.not_before = rcgen::date_time_ymd(year, 1, 1);
    params.not_after = rcgen::date_time_ymd(year + years, 1, 1);
}

impl Authority {
    pub fn generate(cluster: &str) -> Result<Self, ClusterError> {
        let key = KeyPair::generate().map_err(failed("the cluster CA's key"))?;
        let cert = Self::ca_params(cluster)?.self_signed(&key).map_err(failed("the cluster CA"))?;
        Ok(Self { pem: cert.pem(), cert, key })
    }

    /// The authority a cluster was made with, from its certificate and key as a control plane
    /// keeps them (`add-node` issues the new node's certificates with it). rcgen parses no
    /// certificates here, so the CA is made again from the same subject and key: what it signs
    /// names the same issuer and verifies under the same public key.
    pub fn load(cluster: &str, cert_pem: &str, key_pem: &str) -> Result<Self, ClusterError> {
        let key = KeyPair::from_pem(key_pem).map_err(failed("the cluster CA's key"))?;
        let cert = Self::ca_params(cluster)?.self_signed(&key).map_err(failed("the cluster CA"))?;
        Ok(Self { pem: cert_pem.to_string(), cert, key })
    }

    fn ca_params(cluster: &str) -> Result<CertificateParams, ClusterError> {
        let mut params = CertificateParams::new(Vec::<String>::new()).map_err(failed("the cluster CA"))?;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, format!("{cluster}-ca"));
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
        validity(&mut params, 10);
        Ok(params)
    }

    pub fn cert_pem(&self) -> String {
        self.pem.clone()
    }

    pub fn key_pem(&self) -> String {
        self.key.serialize_pem()
    }

    /// A client certificate for `user` in `groups`.
    pub fn client(&self, user: &str, groups: &[&str]) -> Result<Issued, ClusterError> {
        self.issue(user, groups, &[], &[ExtendedKeyUsagePurpose::ClientAuth])
    }

    /// A serving certificate for `names` (DNS names and IP addresses).
    pub fn server(&self, common_name: &str, names: &[String]) -> Result<Issued, ClusterError> {
        self.issue(common_name, &[], names, &[ExtendedKeyUsagePurpose::ServerAuth])
    }

    /// The apiserver's serving certificate on `node` at `ip`: every name clients dial it by,
    /// `also` among them (the load balancer in front of the apiservers).
    pub fn apiserver(&self, node: &str, ip: &str, also: &[String]) -> Result<Issued, ClusterError> {
        let mut names: Vec<String> = ["kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local", "localhost", "127.0.0.1", KUBERNETES_SERVICE_IP]
            .iter()
            .map(|name| name.to_string())
            .collect();
        names.push(node.to_string());
        if !ip.is_empty() {
            names.push(ip.to_string());
        }
        names.extend(also.iter().cloned());
        self.server("kube-apiserver", &names)
    }

    fn issue(&self, common_name: &str, groups: &[&str], names: &[String], usages: &[ExtendedKeyUsagePurpose]) -> Result<Issued, ClusterError> {
        let mut params = CertificateParams::new(names.to_vec()).map_err(failed(common_name))?;
        params.distinguished_name.push(DnType::CommonName, common_name);
        // rcgen keeps one value per subject attribute: a second group would replace the first.
        if let [_, _, ..] = groups {
            return Err(ClusterError::NotReady(format!("making {common_name}: a certificate names one group at most here, not {groups:?}")));
        }
        for group in groups {
            params.distinguished_name.push(DnType::OrganizationName, *group);
        }
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
        params.extended_key_usages = usages.to_vec();
        validity(&mut params, 2);
        let key = KeyPair::generate().map_err(failed(common_name))?;
        let cert = params.signed_by(&key, &self.cert, &self.key).map_err(failed(common_name))?;
        Ok(Issued { cert: cert.pem(), key: key.serialize_pem() })
    }
}

/// The key service account tokens are signed with (ECDSA P-256, PKCS#8 PEM).
pub fn service_account_key() -> Result<String, ClusterError> {
    Ok(KeyPair::generate().map_err(failed("the service account key"))?.serialize_pem())
}

/// A kubeconfig for `server` that trusts the CA and presents `client`.
pub fn kubeconfig(server: &str, ca: &str, client: &Issued, user: &str) -> String {
    let data = |pem: &str| base64::engine::general_purpose::STANDARD.encode(pem);
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: cluster\n  cluster:\n    server: {server}\n    certificate-authority-data: {}\n\
         contexts:\n- name: {user}\n  context:\n    cluster: cluster\n    user: {user}\ncurrent-context: {user}\n\
         users:\n- name: {user}\n  user:\n    client-certificate-data: {}\n    client-key-data: {}\n",
        data(ca),
        data(&client.cert),
        data(&client.key)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificates_name_their_users_and_servers() {
        let ca = Authority::generate("demo").unwrap();
        let node = ca.client("system:node:demo-worker", &["system:nodes"]).unwrap();
        assert!(node.cert.starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(node.key.contains("PRIVATE KEY"));
        let server = ca.apiserver("demo-control-plane", "172.18.0.2", &[]).unwrap();
        assert_ne!(server.cert, node.cert);
        let config = kubeconfig("https://demo-control-plane:6443", &ca.cert_pem(), &node, "node");
        let parsed: serde_yaml_ng::Value = serde_yaml_ng::from_str(&config).unwrap();
        let data = parsed["users"][0]["user"]["client-certificate-data"].as_str().unwrap();
        assert_eq!(base64::engine::general_purpose::STANDARD.decode(data).unwrap(), node.cert.as_bytes());
        assert!(service_account_key().unwrap().contains("BEGIN PRIVATE KEY"));
    }
}
