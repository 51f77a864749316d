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

tokio::task_local! {
    /// The user of the request being served, for what is written from it (a
    /// CertificateSigningRequest's requester), as kube reads it from the request's context.
    static CURRENT: User;
}

/// Runs `work` as a request of `user`.
pub async fn acting_as<F: std::future::Future>(user: User, work: F) -> F::Output {
    CURRENT.scope(user, work).await
}

/// The user of the request being served; `None` outside one (the server's own writes).
pub fn current_user() -> Option<User> {
    CURRENT.try_with(User::clone).ok()
}
