//! Who may use the kubelet's API once clients present certificates. With `--authorization-mode
//! Webhook` the apiserver decides, as Kubernetes' kubelet asks it: a SubjectAccessReview for the
//! verb of the request's method on this Node's `proxy`, `stats`, `metrics`, `log` or
//! `checkpoint` subresource, the answers kept for a while. With `AlwaysAllow`, every client with a
//! certificate the cluster CA signed is served.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use k8s_openapi::api::authorization::v1::{ResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    #[value(name = "AlwaysAllow")]
    AlwaysAllow,
    #[value(name = "Webhook")]
    Webhook,
}

/// How long answers are kept: the kubelet's defaults (`cacheAuthorizedTTL`,
/// `cacheUnauthorizedTTL`).
const ALLOWED_TTL: Duration = Duration::from_secs(300);
const DENIED_TTL: Duration = Duration::from_secs(30);
/// Past this many answers, the expired ones are dropped.
const CACHE_PRUNE_AT: usize = 1024;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Question {
    user: String,
    groups: Vec<String>,
    verb: &'static str,
    subresource: &'static str,
}

pub struct Authorizer {
    mode: Mode,
    client: kube::Client,
    node: String,
    answers: Mutex<HashMap<Question, (bool, Instant)>>,
}

impl Authorizer {
    pub fn new(mode: Mode, client: kube::Client, node: String) -> Self {
        Self { mode, client, node, answers: Mutex::new(HashMap::new()) }
    }

    async fn allowed(&self, question: &Question) -> Result<bool, kube::Error> {
        if self.mode == Mode::AlwaysAllow {
            return Ok(true);
        }
        if let Some(allowed) = self.remembered(question) {
            return Ok(allowed);
        }
        let review = SubjectAccessReview {
            spec: SubjectAccessReviewSpec {
                user: Some(question.user.clone()),
                groups: Some(question.groups.clone()),
                resource_attributes: Some(ResourceAttributes {
                    verb: Some(question.verb.into()),
                    resource: Some("nodes".into()),
                    subresource: Some(question.subresource.into()),
                    name: Some(self.node.clone()),
                    version: Some("v1".into()),
                    group: Some(String::new()),
                    ..Default::default()
                }),
                ..Default::default()
            },
            ..Default::default()
        };
        let reviews: kube::Api<SubjectAccessReview> = kube::Api::all(self.client.clone());
        let answer = reviews.create(&kube::api::PostParams::default(), &review).await?;
        let allowed = answer.status.is_some_and(|status| status.allowed);
        if let Ok(mut answers) = self.answers.lock() {
            if answers.len() >= CACHE_PRUNE_AT {
                answers.retain(|_, (allowed, at)| at.elapsed() < ttl(*allowed));
            }
            answers.insert(question.clone(), (allowed, Instant::now()));
        }
        Ok(allowed)
    }

    fn remembered(&self, question: &Question) -> Option<bool> {
        let answers = self.answers.lock().ok()?;
        let (allowed, at) = answers.get(question)?;
        (at.elapsed() < ttl(*allowed)).then_some(*allowed)
    }
}

fn ttl(allowed: bool) -> Duration {
    if allowed { ALLOWED_TTL } else { DENIED_TTL }
}

/// The API verb of an HTTP method, as the kubelet maps it.
fn verb(method: &Method) -> &'static str {
    match *method {
        Method::POST => "create",
        Method::PUT => "update",
        Method::PATCH => "patch",
        Method::DELETE => "delete",
        _ => "get",
    }
}

/// The Node subresource a path belongs to: a few have their own, the rest are `proxy`.
fn subresource(path: &str) -> &'static str {
    let under = |prefix: &str| path.strip_prefix(prefix).is_some_and(|rest| rest.is_empty() || rest.starts_with('/'));
    match () {
        () if under("/stats") => "stats",
        () if under("/metrics") => "metrics",
        () if under("/logs") => "log",
        () if under("/checkpoint") => "checkpoint",
        () => "proxy",
    }
}

/// Refuses requests without a client certificate (401), and those the authorizer does not allow
/// (403, or 500 when the apiserver cannot be asked), with the kubelet's messages.
pub async fn middleware(State(authorizer): State<Arc<Authorizer>>, request: Request, next: Next) -> Response {
    let subject = request.extensions().get::<common::tls::PeerCertificates>().and_then(|certificates| certificates.0.first()).and_then(|leaf| common::tls::subject(leaf));
    let Some((user, groups)) = subject else {
        return (StatusCode::UNAUTHORIZED, "Unauthorized").into_response();
    };
    let question = Question { user, groups, verb: verb(request.method()), subresource: subresource(request.uri().path()) };
    let described = format!("user={}, verb={}, resource=nodes, subresource={}", question.user, question.verb, question.subresource);
    match authorizer.allowed(&question).await {
        Ok(true) => next.run(request).await,
        Ok(false) => (StatusCode::FORBIDDEN, format!("Forbidden ({described})")).into_response(),
        Err(err) => {
            tracing::warn!(error = %err, "cannot ask the apiserver whether a request to the kubelet is allowed");
            (StatusCode::INTERNAL_SERVER_ERROR, format!("Authorization error ({described})")).into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_map_to_the_subresources_kubernetes_names() {
        assert_eq!(subresource("/stats/summary"), "stats");
        assert_eq!(subresource("/stats"), "stats");
        assert_eq!(subresource("/metrics"), "metrics");
        assert_eq!(subresource("/metrics/cadvisor"), "metrics");
        assert_eq!(subresource("/logs/syslog"), "log");
        assert_eq!(subresource("/statsfoo"), "proxy");
        assert_eq!(subresource("/containerLogs/demo/web/c"), "proxy");
        assert_eq!(subresource("/exec/demo/web/c"), "proxy");
        assert_eq!(verb(&Method::POST), "create");
        assert_eq!(verb(&Method::HEAD), "get");
    }
}
