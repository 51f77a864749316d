//! The apiserver's command line, and the errors starting it can end in; read by the server and
//! by the store repair, which both open the configured store.

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::authz::AuthorizationMode;
use crate::storage::StoreError;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum StorageKind {
    /// One file under --data-dir (one-machine clusters).
    Embedded,
    /// An etcd cluster at --etcd-servers.
    Etcd,
}

#[derive(Clone, Debug, clap::Parser)]
#[command(name = "apiserver", about = "The cluster's API server", version)]
pub struct Config {
    /// Address to serve HTTP on.
    #[arg(long, default_value = "127.0.0.1:6443")]
    pub bind_address: SocketAddr,
    #[arg(long, value_enum, default_value = "embedded")]
    pub storage: StorageKind,
    /// Where the embedded store keeps its file.
    #[arg(long, default_value = "/var/lib/cluster")]
    pub data_dir: PathBuf,
    /// etcd client URLs, comma-separated (with --storage etcd).
    #[arg(long, value_delimiter = ',', default_value = "http://127.0.0.1:2379")]
    pub etcd_servers: Vec<String>,
    /// How often storage history is compacted, in seconds (0: never). Watches can resume from
    /// any revision of the last interval.
    #[arg(long, default_value_t = 300)]
    pub compaction_interval_seconds: u64,
    /// An `EncryptionConfiguration` file: which resources are encrypted at rest, with which
    /// providers and keys (aesgcm, identity). Without it everything is stored as it is.
    #[arg(long)]
    pub encryption_provider_config: Option<PathBuf>,
    /// Where to write the audit log (JSON lines, Metadata level); `-` is stdout. No audit log
    /// without it.
    #[arg(long)]
    pub audit_log_path: Option<PathBuf>,
    /// Serve HTTPS with this certificate (PEM, the chain) and --tls-private-key-file's key.
    #[arg(long, requires = "tls_private_key_file")]
    pub tls_cert_file: Option<PathBuf>,
    #[arg(long, requires = "tls_cert_file")]
    pub tls_private_key_file: Option<PathBuf>,
    /// Authenticate clients by certificates these authorities signed (CN the user, O the
    /// groups), as kube-apiserver does; needs HTTPS.
    #[arg(long, requires = "tls_cert_file")]
    pub client_ca_file: Option<PathBuf>,
    /// A static token file (CSV: `token,user,uid,"group1,group2"`). With it, requests without
    /// a valid bearer token get 401 (but for health and version).
    #[arg(long)]
    pub token_auth_file: Option<PathBuf>,
    /// How requests are authorised, comma-separated modes asked in turn as kube-apiserver asks
    /// them: AlwaysAllow, Node (kubelets, by their pods), RBAC (roles and bindings).
    #[arg(long, value_enum, value_delimiter = ',', default_value = "AlwaysAllow")]
    pub authorization_mode: Vec<AuthorizationMode>,
    /// Signs service account tokens with this key (PEM, PKCS#8 ECDSA P-256), and accepts
    /// the tokens it signed as credentials; serves `serviceaccounts/token` (TokenRequest).
    #[arg(long)]
    pub service_account_signing_key_file: Option<PathBuf>,
    /// The `iss` of the tokens this apiserver signs and accepts.
    #[arg(long, default_value = "https://kubernetes.default.svc.cluster.local")]
    pub service_account_issuer: String,
    /// What service account tokens must be meant for (`aud`); the issuer when not given.
    #[arg(long, value_delimiter = ',')]
    pub api_audiences: Vec<String>,
    /// The address other nodes' pods reach this apiserver at: with it, the Service `kubernetes`
    /// in `default` points here.
    #[arg(long)]
    pub advertise_address: Option<std::net::IpAddr>,
    /// The client certificate (PEM) the apiserver presents to kubelets; with it, and
    /// --kubelet-client-key and --kubelet-certificate-authority, kubelets are called over HTTPS.
    #[arg(long, requires_all = ["kubelet_client_key", "kubelet_certificate_authority"])]
    pub kubelet_client_certificate: Option<PathBuf>,
    #[arg(long, requires = "kubelet_client_certificate")]
    pub kubelet_client_key: Option<PathBuf>,
    /// The authority kubelets' serving certificates are checked against.
    #[arg(long, requires = "kubelet_client_certificate")]
    pub kubelet_certificate_authority: Option<PathBuf>,
    /// Also serve /healthz, /livez and /readyz over plain HTTP on this loopback address, for
    /// local probes (busybox's wget cannot answer the client-certificate request of HTTPS).
    #[arg(long)]
    pub health_bind_address: Option<SocketAddr>,
    /// How long a request that is not long-running (watch, exec, attach, port-forward, logs)
    /// may take before it is answered 504, as a Go duration (`60s`, `2m`).
    #[arg(long, default_value = "60s", value_parser = parse_request_timeout)]
    pub request_timeout: std::time::Duration,
    /// The tolerationSeconds of the not-ready toleration every pod gets unless it has its own.
    #[arg(long, default_value_t = 300)]
    pub default_not_ready_toleration_seconds: i64,
    /// The tolerationSeconds of the unreachable toleration every pod gets unless it has its own.
    #[arg(long, default_value_t = 300)]
    pub default_unreachable_toleration_seconds: i64,
    /// Instead of serving: delete every object in the store (read with
    /// --encryption-provider-config) that cannot be decoded, such as what older versions let in
    /// nesting too deep, logging each key; values that do not decrypt are reported, never
    /// deleted. Then exit (1 if some did not decrypt). The embedded store must not be in use.
    #[arg(long)]
    pub delete_undecodable_objects: bool,
}

fn parse_request_timeout(text: &str) -> Result<std::time::Duration, String> {
    crate::request::go_duration(text).filter(|timeout| !timeout.is_zero()).ok_or_else(|| format!("{text:?} is not a positive duration such as 60s"))
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot create data dir {path}: {source}")]
    DataDir { path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("error while parsing file: {0}")]
    Encryption(#[from] crate::storage::encryption::ConfigError),
    #[error("cannot listen on {address}: {source}")]
    Listen { address: SocketAddr, source: std::io::Error },
    #[error(transparent)]
    Tokens(#[from] crate::auth::AuthFileError),
    #[error(transparent)]
    Tls(#[from] common::tls::TlsError),
    #[error(transparent)]
    ServiceAccountKey(#[from] crate::service_account_token::KeyError),
    #[error("cannot open the audit log {path}: {source}")]
    Audit { path: PathBuf, source: std::io::Error },
    #[error("server failed: {0}")]
    Serve(std::io::Error),
    #[error("{count} stored values do not decrypt with the encryption configuration given and were left in place")]
    Undecryptable { count: usize },
}
