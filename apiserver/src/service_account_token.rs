//! ServiceAccount tokens: JWTs the apiserver signs (ES256, with `--service-account-signing-key-file`)
//! and later accepts as bearer tokens, as kube-apiserver's bound service account tokens work.
//! A token names its ServiceAccount and, when bound, the Pod it was made for; both are looked
//! up by UID on every use, so a token outlives neither.

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::signature::{self, EcdsaKeyPair, KeyPair};
use serde::{Deserialize, Serialize};

/// The longest a requested token may live, and how long one lives when no expiry is asked for
/// (kube-apiserver's defaults: `--service-account-max-token-expiration` unset caps nothing, but
/// a TokenRequest without `expirationSeconds` gets an hour).
pub const DEFAULT_EXPIRATION_SECONDS: i64 = 3600;
/// kube-apiserver refuses shorter ones: "may not specify a duration less than 10 minutes".
pub const MIN_EXPIRATION_SECONDS: i64 = 600;
/// Clock skew allowed between the apiserver that signed and the one that checks.
const LEEWAY_SECONDS: i64 = 60;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read the service account signing key {path}: {why}")]
    Read { path: String, why: String },
    #[error("the service account signing key {path} is not a PKCS#8 ECDSA P-256 key: {why}")]
    Unsupported { path: String, why: String },
}

/// Why a bearer token is not a valid service account token.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("not a JWT")]
    Malformed,
    #[error("unsupported signing algorithm {0:?}")]
    Algorithm(String),
    #[error("invalid signature")]
    Signature,
    #[error("issued by {0:?}, not this cluster")]
    Issuer(String),
    #[error("token audiences do not match the apiserver's")]
    Audience,
    #[error("token has expired")]
    Expired,
    #[error("token is not valid yet")]
    NotYetValid,
}

/// The bound object of a token: a name and the UID it had when the token was made.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reference {
    pub name: String,
    pub uid: String,
}

/// The `kubernetes.io` claim.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Binding {
    pub namespace: String,
    pub serviceaccount: Reference,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<Reference>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<Reference>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<Reference>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub sub: String,
    pub aud: Vec<String>,
    pub exp: i64,
    pub iat: i64,
    pub nbf: i64,
    #[serde(default)]
    pub jti: String,
    #[serde(rename = "kubernetes.io")]
    pub kubernetes: Binding,
}

impl Claims {
    /// The user a token of this ServiceAccount acts as, with Kubernetes' groups.
    pub fn user(&self) -> crate::request::User {
        let namespace = &self.kubernetes.namespace;
        crate::request::User {
            name: format!("system:serviceaccount:{namespace}:{}", self.kubernetes.serviceaccount.name),
            uid: self.kubernetes.serviceaccount.uid.clone(),
            groups: vec!["system:serviceaccounts".into(), format!("system:serviceaccounts:{namespace}"), "system:authenticated".into()],
        }
    }
}

#[derive(Serialize, Deserialize)]
struct Header {
    alg: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    kid: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    typ: Option<String>,
}

/// Signs and checks the cluster's service account tokens.
pub struct Signer {
    key: EcdsaKeyPair,
    random: ring::rand::SystemRandom,
    /// The key's ID in token headers: a hash of its public half, as kube-apiserver names keys.
    kid: String,
    pub issuer: String,
    /// What tokens must be meant for to be accepted here (`--api-audiences`, the issuer when
    /// not given).
    pub audiences: Vec<String>,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer").field("kid", &self.kid).field("issuer", &self.issuer).finish_non_exhaustive()
    }
}

impl Signer {
    pub fn load(path: &Path, issuer: String, audiences: Vec<String>) -> Result<Self, KeyError> {
        use rustls::pki_types::PrivateKeyDer;
        use rustls::pki_types::pem::PemObject;
        let shown = path.display().to_string();
        let key = PrivateKeyDer::from_pem_file(path).map_err(|err| KeyError::Read { path: shown.clone(), why: err.to_string() })?;
        let PrivateKeyDer::Pkcs8(der) = key else {
            return Err(KeyError::Unsupported { path: shown, why: "a PEM `PRIVATE KEY` block is expected".into() });
        };
        Self::from_pkcs8(der.secret_pkcs8_der(), issuer, audiences).map_err(|why| KeyError::Unsupported { path: shown, why })
    }

    pub fn from_pkcs8(der: &[u8], issuer: String, audiences: Vec<String>) -> Result<Self, String> {
        let random = ring::rand::SystemRandom::new();
        let key = EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, der, &random).map_err(|err| err.to_string())?;
        let digest = ring::digest::digest(&ring::digest::SHA256, key.public_key().as_ref());
        let kid = URL_SAFE_NO_PAD.encode(digest.as_ref());
        let audiences = if audiences.is_empty() { vec![issuer.clone()] } else { audiences };
        Ok(Self { key, random, kid, issuer, audiences })
    }

    pub fn sign(&self, claims: &Claims) -> Result<String, TokenError> {
        let header = Header { alg: "ES256".into(), kid: self.kid.clone(), typ: None };
        let encode = |value: &[u8]| URL_SAFE_NO_PAD.encode(value);
        let header = serde_json::to_vec(&header).map_err(|_| TokenError::Malformed)?;
        let claims = serde_json::to_vec(claims).map_err(|_| TokenError::Malformed)?;
        let signed = format!("{}.{}", encode(&header), encode(&claims));
        let signature = self.key.sign(&self.random, signed.as_bytes()).map_err(|_| TokenError::Signature)?;
        Ok(format!("{signed}.{}", encode(signature.as_ref())))
    }

    /// The claims of a token this cluster signed, for this apiserver's audiences, valid at `now`
    /// (seconds since the epoch). Whether its objects still exist is the caller's to check.
    pub fn verify(&self, token: &str, now: i64) -> Result<Claims, TokenError> {
        self.verify_for(token, now, &self.audiences)
    }

    /// As [`Signer::verify`], for a token meant for one of `audiences` (a TokenReview's
    /// `spec.audiences`) rather than for this apiserver.
    pub fn verify_for(&self, token: &str, now: i64, audiences: &[String]) -> Result<Claims, TokenError> {
        let mut parts = token.split('.');
        let (Some(header), Some(claims), Some(signature), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
            return Err(TokenError::Malformed);
        };
        let decode = |part: &str| URL_SAFE_NO_PAD.decode(part).map_err(|_| TokenError::Malformed);
        let parsed: Header = serde_json::from_slice(&decode(header)?).map_err(|_| TokenError::Malformed)?;
        // Only what this cluster signs with: never `none`, never an algorithm the token picks.
        if parsed.alg != "ES256" {
            return Err(TokenError::Algorithm(parsed.alg));
        }
        let public = signature::UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, self.key.public_key().as_ref());
        let signed_len = header.len() + 1 + claims.len();
        public.verify(&token.as_bytes()[..signed_len], &decode(signature)?).map_err(|_| TokenError::Signature)?;
        let claims: Claims = serde_json::from_slice(&decode(claims)?).map_err(|_| TokenError::Malformed)?;
        if claims.iss != self.issuer {
            return Err(TokenError::Issuer(claims.iss));
        }
        if !claims.aud.iter().any(|audience| audiences.contains(audience)) {
            return Err(TokenError::Audience);
        }
        if claims.exp + LEEWAY_SECONDS < now {
            return Err(TokenError::Expired);
        }
        if claims.nbf - LEEWAY_SECONDS > now {
            return Err(TokenError::NotYetValid);
        }
        Ok(claims)
    }
}

pub fn unix_now() -> i64 {
    jiff::Timestamp::now().as_second()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer() -> Signer {
        let key = rcgen::KeyPair::generate().unwrap();
        Signer::from_pkcs8(&key.serialize_der(), "https://kubernetes.default.svc.cluster.local".into(), Vec::new()).unwrap()
    }

    fn claims(now: i64) -> Claims {
        Claims {
            iss: "https://kubernetes.default.svc.cluster.local".into(),
            sub: "system:serviceaccount:demo:default".into(),
            aud: vec!["https://kubernetes.default.svc.cluster.local".into()],
            exp: now + 3600,
            iat: now,
            nbf: now,
            jti: "one".into(),
            kubernetes: Binding {
                namespace: "demo".into(),
                serviceaccount: Reference { name: "default".into(), uid: "sa-uid".into() },
                pod: Some(Reference { name: "web".into(), uid: "pod-uid".into() }),
                node: None,
                secret: None,
            },
        }
    }

    #[test]
    fn signed_tokens_verify_and_name_their_service_account() {
        let signer = signer();
        let now = unix_now();
        let token = signer.sign(&claims(now)).unwrap();
        let verified = signer.verify(&token, now).unwrap();
        assert_eq!(verified, claims(now));
        let user = verified.user();
        assert_eq!(user.name, "system:serviceaccount:demo:default");
        assert_eq!(user.groups, ["system:serviceaccounts", "system:serviceaccounts:demo", "system:authenticated"]);
        assert_eq!(signer.verify(&token, now + 3600 + 120), Err(TokenError::Expired));
        assert_eq!(signer.verify(&token, now - 120), Err(TokenError::NotYetValid));
    }

    #[test]
    fn forged_altered_and_foreign_tokens_are_refused() {
        let (signer, other) = (signer(), signer());
        let now = unix_now();
        let token = signer.sign(&claims(now)).unwrap();
        assert_eq!(other.verify(&token, now), Err(TokenError::Signature), "another cluster's key");
        // The claims changed (another ServiceAccount), the signature kept.
        let parts: Vec<&str> = token.split('.').collect();
        let mut altered = claims(now);
        altered.kubernetes.serviceaccount.name = "admin".into();
        let forged = format!("{}.{}.{}", parts[0], URL_SAFE_NO_PAD.encode(serde_json::to_vec(&altered).unwrap()), parts[2]);
        assert_eq!(signer.verify(&forged, now), Err(TokenError::Signature));
        // `alg: none` with no signature, and an algorithm we do not sign with.
        for alg in ["none", "HS256", "RS256"] {
            let header = URL_SAFE_NO_PAD.encode(format!("{{\"alg\":\"{alg}\"}}"));
            let unsigned = format!("{header}.{}.", parts[1]);
            assert_eq!(signer.verify(&unsigned, now), Err(TokenError::Algorithm(alg.into())));
        }
        let mut foreign = claims(now);
        foreign.aud = vec!["vault".into()];
        assert_eq!(signer.verify(&signer.sign(&foreign).unwrap(), now), Err(TokenError::Audience));
        foreign = claims(now);
        foreign.iss = "https://elsewhere".into();
        assert_eq!(signer.verify(&signer.sign(&foreign).unwrap(), now), Err(TokenError::Issuer("https://elsewhere".into())));
        for garbage in ["", "a.b", "a.b.c.d", "!!!.???.***", "e30.e30.", "\u{0}.\u{1}.\u{2}"] {
            assert!(signer.verify(garbage, now).is_err(), "{garbage:?}");
        }
    }
}
