//! Who a request acts as, as authentication found it; read by authorization, admission and audit.

/// The identity a request acts as.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub name: String,
    pub uid: String,
    pub groups: Vec<String>,
}

impl User {
    /// Who requests act as when no authenticator is configured.
    pub fn unauthenticated_admin() -> Self {
        Self { name: "system:admin".into(), uid: String::new(), groups: vec!["system:masters".into(), "system:authenticated".into()] }
    }
}
