//! Authentication: who a request comes from. x509 client certificates signed by
//! `--client-ca-file`'s authorities (the subject's CN is the user, its O values the groups), and
//! bearer tokens from a static token file (`--token-auth-file`, kube-apiserver's CSV:
//! `token,user,uid,"group1,group2"`). When an
//! authenticator is configured, a request without valid credentials gets 401, except the health
//! and version endpoints; without one, every request acts as a cluster administrator, as before.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::errors::ApiError;
use crate::request::User;
use crate::service_account_token::{Claims, Signer};
use crate::state::{self, Api};
use crate::meta;

#[derive(Debug, thiserror::Error)]
pub enum AuthFileError {
    #[error("cannot read the token file {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("the token file {path}, line {line}: {why}")]
    Line { path: String, line: usize, why: String },
}

enum Credentials {
    Token(String),
    /// A verified certificate's user (none without a certificate or with a nameless one).
    Certificate(Option<User>),
}

/// The configured authenticators.
#[derive(Clone, Default)]
pub struct Authenticator {
    tokens: HashMap<String, User>,
    /// Checks client certificate chains against the client CA.
    pub client_certificates: Option<Arc<dyn rustls::server::danger::ClientCertVerifier>>,
    /// Checks service account tokens, and the objects they are bound to in the API.
    pub service_accounts: Option<(Arc<Signer>, Arc<Api>)>,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator")
            .field("tokens", &self.tokens.len())
            .field("client_certificates", &self.client_certificates.is_some())
            .field("service_accounts", &self.service_accounts.as_ref().map(|(signer, _)| signer))
            .finish()
    }
}

/// The paths anyone may read, as kube-apiserver's `system:public-info-viewer` allows.
const PUBLIC: [&str; 4] = ["/healthz", "/livez", "/readyz", "/version"];

impl Authenticator {
    pub fn load_tokens(path: &Path) -> Result<Self, AuthFileError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| AuthFileError::Read { path: shown.clone(), source })?;
        let mut tokens = HashMap::new();
        for (index, line) in text.lines().enumerate() {
            if line.trim().is_empty() || line.trim_start().starts_with('#') {
                continue;
            }
            let fields = csv_fields(line);
            let bad = |why: &str| AuthFileError::Line { path: shown.clone(), line: index + 1, why: why.into() };
            let [token, name, uid, rest @ ..] = fields.as_slice() else { return Err(bad("expected token,user,uid[,\"groups\"]")) };
            if token.is_empty() || name.is_empty() {
                return Err(bad("the token and the user name must not be empty"));
            }
            let mut groups: Vec<String> = rest.first().map(|groups| groups.split(',').map(str::trim).filter(|g| !g.is_empty()).map(str::to_string).collect()).unwrap_or_default();
            groups.push("system:authenticated".into());
            tokens.insert(token.clone(), User { name: name.clone(), uid: uid.clone(), groups });
        }
        Ok(Self { tokens, ..Self::default() })
    }

    /// The user a request's credentials name: None without credentials, an error for ones that
    /// do not hold.
    
#[cfg(test)]
    async fn authenticate(&self, request: &Request) -> Result<Option<User>, ()> {
        let credentials = self.credentials(request)?;
        self.user_of(credentials).await
    }

    /// What the request presents, taken out of it before anything is awaited (a request is not
    /// `Sync`): a bearer token, else the user its client certificate names, if any.
    fn credentials(&self, request: &Request) -> Result<Credentials, ()> {
        let Some(value) = request.headers().get(header::AUTHORIZATION) else { return self.certificate_user(request).map(Credentials::Certificate) };
        let value = value.to_str().map_err(|_| ())?;
        Ok(Credentials::Token(value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer ")).ok_or(())?.trim().to_string()))
    }

    async fn user_of(&self, credentials: Credentials) -> Result<Option<User>, ()> {
        match credentials {
            Credentials::Token(token) => self.token_user(&token).await,
            Credentials::Certificate(user) => Ok(user),
        }
    }

    async fn token_user(&self, token: &str) -> Result<Option<User>, ()> {
        match self.authenticate_token(token, &[]).await {
            Ok(authenticated) => Ok(Some(authenticated.user)),
            Err(err) => {
                tracing::debug!(error = %err, "bearer token refused");
                Err(())
            }
        }
    }

    /// The audiences a token must be meant for when none are asked (kube-apiserver's
    /// `--api-audiences`, which default to the issuer): those of the service account signer;
    /// none without one, which leaves static tokens audience-agnostic as Kubernetes has them.
    pub fn api_audiences(&self) -> &[String] {
        self.service_accounts.as_ref().map_or(&[], |(signer, _)| signer.audiences.as_slice())
    }

    /// Who a bearer token names, for one of `audiences` (this apiserver's when empty), and the
    /// audiences it was found valid for: what requests are authenticated with, and what a
    /// TokenReview answers.
    pub async fn authenticate_token(&self, token: &str, audiences: &[String]) -> Result<Authenticated, TokenRefused> {
        let wanted = if audiences.is_empty() { self.api_audiences() } else { audiences };
        if let Some(user) = self.tokens.get(token) {
            // Static tokens are meant for no audience in particular: as Kubernetes'
            // `WrapAudienceAgnosticToken`, they hold for the apiserver's own audiences only.
            let implicit = self.api_audiences();
            if implicit.is_empty() {
                return Ok(Authenticated { user: user.clone(), audiences: Vec::new() });
            }
            let valid: Vec<String> = wanted.iter().filter(|audience| implicit.contains(audience)).cloned().collect();
            if valid.is_empty() {
                return Err(TokenRefused::Audience);
            }
            return Ok(Authenticated { user: user.clone(), audiences: valid });
        }
        let Some((signer, api)) = &self.service_accounts else { return Err(TokenRefused::Unknown) };
        let claims = signer.verify_for(token, crate::service_account_token::unix_now(), wanted)?;
        if !still_bound(api, &claims).await {
            return Err(TokenRefused::Invalidated);
        }
        let valid = wanted.iter().filter(|audience| claims.aud.contains(audience)).cloned().collect();
        Ok(Authenticated { user: claims.user(), audiences: valid })
    }
}

/// A bearer token that holds: its user, and the audiences it was checked against and is
/// meant for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Authenticated {
    pub user: User,
    pub audiences: Vec<String>,
}

/// Why a bearer token does not authenticate.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum TokenRefused {
    #[error("no authenticator knows this token")]
    Unknown,
    #[error("token audiences are invalid for the target audiences")]
    Audience,
    #[error(transparent)]
    ServiceAccount(#[from] crate::service_account_token::TokenError),
    /// Kubernetes' words for a token whose ServiceAccount, Pod or Secret is gone or replaced.
    #[error("service account token has been invalidated")]
    Invalidated,
}

impl Authenticator {
    /// The user a verified client certificate names; an error for one that does not verify.
    fn certificate_user(&self, request: &Request) -> Result<Option<User>, ()> {
        let (Some(verifier), Some(presented)) = (&self.client_certificates, request.extensions().get::<common::tls::PeerCertificates>()) else { return Ok(None) };
        let Some((leaf, intermediates)) = presented.0.split_first() else { return Ok(None) };
        verifier.verify_client_cert(leaf, intermediates, rustls::pki_types::UnixTime::now()).map_err(|err| tracing::debug!(error = %err, "client certificate refused"))?;
        let (name, mut groups) = common::tls::subject(leaf).ok_or(())?;
        // A certificate naming no one is no credential at all, as Kubernetes reads it: the
        // request goes on as anonymous.
        if name.is_empty() {
            return Ok(None);
        }
        groups.push("system:authenticated".into());
        Ok(Some(User { name, uid: String::new(), groups }))
    }
}

/// Splits one CSV line, with double-quoted fields (which may hold commas).
fn csv_fields(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => fields.push(std::mem::take(&mut field).trim().to_string()),
            c => field.push(c),
        }
    }
    fields.push(field.trim().to_string());
    fields
}

fn unauthorized() -> Response {
    ApiError::new(401, "Unauthorized", "Unauthorized").into_response()
}

/// Whether the request's path (as parsed once) is one anonymous clients may reach.
fn is_public(request: &Request) -> bool {
    let Ok(parsed) = crate::request::Parsed::from_extensions(request) else { return false };
    let path = parsed.info.path.as_str();
    PUBLIC.iter().any(|public| path == *public || path.strip_prefix(public).is_some_and(|rest| rest.starts_with('/')))
}

/// Puts the request's [`User`] in its extensions, or answers 401.
pub async fn middleware(State(authenticator): State<Option<Arc<Authenticator>>>, mut request: Request, next: Next) -> Response {
    let user = match &authenticator {
        None => User::unauthenticated_admin(),
        Some(authenticator) => {
            let found = match authenticator.credentials(&request) {
                Ok(credentials) => authenticator.user_of(credentials).await,
                Err(()) => Err(()),
            };
            match found {
                Ok(Some(user)) => user,
                Ok(None) if is_public(&request) => {
                    User { name: "system:anonymous".into(), uid: String::new(), groups: vec!["system:unauthenticated".into()] }
                }
                Ok(None) | Err(()) => return unauthorized(),
            }
        }
    };
    request.extensions_mut().insert(user.clone());
    crate::request::acting_as(user, next.run(request)).await
}

/// Whether the objects a verified token names still exist with the UIDs they had when it was
/// made: a token dies with its ServiceAccount and with the Pod or Secret it is bound to.
async fn still_bound(api: &Api, claims: &Claims) -> bool {
    let binding = &claims.kubernetes;
    let namespace = Some(binding.namespace.as_str());
    let mut references = vec![("serviceaccounts", &binding.serviceaccount)];
    references.extend(binding.pod.as_ref().map(|pod| ("pods", pod)));
    references.extend(binding.secret.as_ref().map(|secret| ("secrets", secret)));
    for (plural, reference) in references {
        let Some(resource) = api.registry.find("", "v1", plural) else { return false };
        match state::current(api, &resource, namespace, &reference.name).await {
            Ok(Some(object)) if meta::string(&object, "uid") == Some(reference.uid.as_str()) => {}
            _ => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_files_read_as_kube_apiserver_reads_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokens.csv");
        std::fs::write(&path, "# comment\nt0ken,jane,42,\"devs,ops\"\nother,bob,43\n").unwrap();
        let authenticator = Authenticator::load_tokens(&path).unwrap();
        let jane = &authenticator.tokens["t0ken"];
        assert_eq!((jane.name.as_str(), jane.uid.as_str()), ("jane", "42"));
        assert_eq!(jane.groups, ["devs", "ops", "system:authenticated"]);
        assert_eq!(authenticator.tokens["other"].groups, ["system:authenticated"]);
        std::fs::write(&path, "only-a-token\n").unwrap();
        assert!(Authenticator::load_tokens(&path).unwrap_err().to_string().contains("line 1"));
    }

    #[tokio::test]
    async fn bearer_tokens_name_their_user() {
        let authenticator = Authenticator { tokens: HashMap::from([("good".to_string(), User::unauthenticated_admin())]), ..Authenticator::default() };
        let with = |value: &str| Request::builder().header(header::AUTHORIZATION, value).body(axum::body::Body::empty()).unwrap();
        assert_eq!(authenticator.authenticate(&with("Bearer good")).await, Ok(Some(User::unauthenticated_admin())));
        assert_eq!(authenticator.authenticate(&with("Bearer bad")).await, Err(()));
        assert_eq!(authenticator.authenticate(&with("Basic Zm9vOmJhcg==")).await, Err(()));
        assert_eq!(authenticator.authenticate(&Request::new(axum::body::Body::empty())).await, Ok(None));
    }

    #[tokio::test]
    async fn static_tokens_are_audience_agnostic_without_api_audiences() {
        let authenticator = Authenticator { tokens: HashMap::from([("good".to_string(), User::unauthenticated_admin())]), ..Authenticator::default() };
        let authenticated = authenticator.authenticate_token("good", &["vault".to_string()]).await;
        assert_eq!(authenticated, Ok(Authenticated { user: User::unauthenticated_admin(), audiences: Vec::new() }));
        assert_eq!(authenticator.authenticate_token("bad", &[]).await, Err(TokenRefused::Unknown));
    }
}
