//! The HTTP server: health endpoints, discovery and the REST API, over the configured store.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Router;
use axum::routing::{any, get};

use crate::audit::{self, AuditLog};
use crate::auth::{self, Authenticator};
use crate::config::{Config, ServeError, StorageKind};
use crate::authz::{self, AuthorizationMode, Authorizer};
use crate::{authentication_reviews, authorization_reviews, discovery, openapi, request, resource_metrics};
use crate::errors::ApiError;
use crate::rest::{self, Api};
use crate::metrics::Metrics;
use crate::registry::Registry;
use crate::storage::encryption::{EncryptedStore, Encryption};
use crate::storage::{EmbeddedStore, EtcdStore, Revision, Store, StoreError};
use crate::watch_cache::WatchCache;

/// Who may do what.
#[derive(Clone, Debug)]
pub struct Security {
    pub authenticator: Option<Authenticator>,
    /// The authorization modes; none allows every request.
    pub authorization: Vec<AuthorizationMode>,
    /// HTTPS, when configured.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Signs service account tokens and checks them, when configured.
    pub service_accounts: Option<Arc<crate::service_account_token::Signer>>,
    /// Where pods reach this apiserver, for the Service `kubernetes`.
    pub advertise: Option<SocketAddr>,
    /// A loopback address to serve the health endpoints on over plain HTTP, for local probes
    /// that cannot speak the API's TLS.
    pub health: Option<SocketAddr>,
    /// How kubelets are reached.
    pub kubelet: common::upgrade::Connector,
    /// How long a request that is not long-running may take.
    pub request_timeout: std::time::Duration,
}

impl Default for Security {
    fn default() -> Self {
        Self {
            authenticator: None,
            authorization: Vec::new(),
            tls: None,
            service_accounts: None,
            advertise: None,
            health: None,
            kubelet: common::upgrade::Connector::default(),
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
        }
    }
}

/// kube-apiserver's `--request-timeout` default.
const DEFAULT_REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// Opens the store, serves until SIGINT/SIGTERM, then returns.
pub async fn run(config: Config) -> Result<(), ServeError> {
    if config.delete_undecodable_objects {
        return crate::repair::run(&config).await;
    }
    crate::admission::set_default_tolerations(config.default_not_ready_toleration_seconds, config.default_unreachable_toleration_seconds);
    crate::admission::set_mount_service_account_tokens(config.service_account_signing_key_file.is_some());
    let store: Arc<dyn Store> = match config.storage {
        StorageKind::Embedded => {
            tokio::fs::create_dir_all(&config.data_dir)
                .await
                .map_err(|source| ServeError::DataDir { path: config.data_dir.clone(), source })?;
            Arc::new(EmbeddedStore::open(config.data_dir.join("store.redb")).await?)
        }
        StorageKind::Etcd => Arc::new(EtcdStore::connect(&config.etcd_servers).await?),
    };
    let store: Arc<dyn Store> = match &config.encryption_provider_config {
        Some(path) => {
            let encryption = Encryption::load(path)?;
            tracing::info!(config = %path.display(), ?encryption, "encrypting at rest");
            Arc::new(EncryptedStore::new(store, encryption))
        }
        None => store,
    };
    let listener = tokio::net::TcpListener::bind(config.bind_address)
        .await
        .map_err(|source| ServeError::Listen { address: config.bind_address, source })?;
    tracing::info!(address = %config.bind_address, storage = ?config.storage, "apiserver listening");
    let audit = match &config.audit_log_path {
        Some(path) => Some(AuditLog::open(path).map_err(|source| ServeError::Audit { path: path.clone(), source })?),
        None => None,
    };
    let clients = config.client_ca_file.as_deref().map(common::tls::client_verifier).transpose()?;
    let mut authenticator = config.token_auth_file.as_deref().map(Authenticator::load_tokens).transpose()?;
    if let Some(verifier) = &clients {
        authenticator.get_or_insert_with(Authenticator::default).client_certificates = Some(verifier.clone());
    }
    let security = Security {
        authenticator,
        authorization: config.authorization_mode.clone(),
        tls: match (&config.tls_cert_file, &config.tls_private_key_file) {
            (Some(cert), Some(key)) => Some(common::tls::server_config(cert, key, clients.map_or(common::tls::ClientAuth::None, common::tls::ClientAuth::Requested))?),
            _ => None,
        },
        service_accounts: match &config.service_account_signing_key_file {
            Some(path) => Some(Arc::new(crate::service_account_token::Signer::load(path, config.service_account_issuer.clone(), config.api_audiences.clone())?)),
            None => None,
        },
        advertise: config.advertise_address.map(|address| SocketAddr::new(address, config.bind_address.port())),
        health: config.health_bind_address,
        kubelet: match (&config.kubelet_certificate_authority, &config.kubelet_client_certificate, &config.kubelet_client_key) {
            (Some(ca), Some(cert), Some(key)) => common::upgrade::Connector::tls(common::tls::client_config(ca, cert, key)?),
            _ => common::upgrade::Connector::default(),
        },
        request_timeout: config.request_timeout,
    };
    if let Some(address) = security.health.filter(|address| !address.ip().is_loopback()) {
        return Err(ServeError::Listen { address, source: std::io::Error::other("--health-bind-address must be a loopback address") });
    }
    let stopping = Arc::new(tokio::sync::Notify::new());
    let signalled = stopping.clone();
    let served = serve(listener, store, audit, security, std::time::Duration::from_secs(config.compaction_interval_seconds), async move {
        common::signals::shutdown().await;
        tracing::info!("shutting down");
        signalled.notify_one();
    });
    // Watches and streams never end by themselves: in-flight requests get a grace period, then
    // the server stops with them, as kube-apiserver closes its watches.
    tokio::select! {
        result = served => result,
        () = async {
            stopping.notified().await;
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        } => {
            tracing::info!("stopped, closing the connections still open");
            Ok(())
        }
    }
}

/// How long requests in flight may go on after SIGTERM.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(3);

/// Serves the API on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    store: Arc<dyn Store>,
    audit: Option<AuditLog>,
    security: Security,
    compaction_interval: std::time::Duration,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let registry = Registry::new(crate::kinds::BUILTIN);
    let cache = WatchCache::start(store.clone(), registry.snapshot().kinds().iter().map(|kind| &kind.resource));
    let kubelet = security.kubelet.clone();
    let tokens = security.service_accounts.clone();
    let api = Arc::new(Api { registry, store: store.clone(), cache, metrics: Metrics::default(), kubelet, streams: common::upgrade::Gauge::default(), tokens, request_timeout: security.request_timeout });
    let bootstrapped = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let rbac = security.authorization.contains(&AuthorizationMode::Rbac);
    let authorizer = Authorizer::new(api.clone(), &security.authorization);
    let mut authenticator = security.authenticator;
    if let Some(signer) = security.service_accounts {
        authenticator.get_or_insert_with(Authenticator::default).service_accounts = Some((signer, api.clone()));
    }
    let authenticator = authenticator.map(Arc::new);
    let advertise = security.advertise;
    let (stopping, mut stopped) = tokio::sync::watch::channel(false);
    let shutdown = async move {
        shutdown.await;
        let _ = stopping.send(true);
    };
    let definitions = tokio::spawn(crate::custom_resources::run(api.clone(), stopped.clone()));
    let mut bootstrap = tokio::spawn({
        let (api, bootstrapped) = (api.clone(), bootstrapped.clone());
        async move {
            rest::ensure_system_namespaces(&api).await;
            // kube-apiserver's `scheduling/bootstrap-system-priority-classes` hook.
            rest::ensure_defaults(&api, crate::kinds::scheduling::priority_class::system_classes()).await;
            if rbac {
                rest::ensure_defaults(&api, crate::authz::defaults()).await;
            }
            bootstrapped.store(true, std::sync::atomic::Ordering::Release);
            let Some(advertise) = advertise else { return };
            let mut reconciler = rest::KubernetesServiceReconciler::new(advertise.ip(), advertise.port());
            loop {
                reconciler.reconcile(&api).await;
                let stopping = async {
                    let _ = stopped.wait_for(|stopped| *stopped).await;
                };
                tokio::select! {
                    () = tokio::time::sleep(rest::KUBERNETES_SERVICE_INTERVAL) => {}
                    () = stopping => break,
                }
            }
            reconciler.withdraw(&api).await;
        }
    });
    let compactor = (!compaction_interval.is_zero()).then(|| tokio::spawn(compact_periodically(store.clone(), compaction_interval)));
    let health = match security.health {
        Some(address) => {
            let listener = tokio::net::TcpListener::bind(address).await.map_err(|source| ServeError::Listen { address, source })?;
            let routes = Router::new()
                .route("/healthz", get(healthy))
                .route("/livez", get(healthy))
                .route("/readyz", get(ready).with_state((store.clone(), bootstrapped.clone())));
            Some(tokio::spawn(async move { axum::serve(listener, routes).await }))
        }
        None => None,
    };
    let app = Router::new()
        .route("/healthz", get(healthy))
        .route("/livez", get(healthy))
        .route("/readyz", get(ready).with_state((store, bootstrapped)))
        // Discovery answers with and without a trailing slash, as kube-apiserver does (kr8s asks
        // `/version/` when it makes a client).
        .route("/version", get(discovery::version))
        .route("/version/", get(discovery::version))
        .route("/metrics", get(metrics).with_state(api.clone()))
        .route("/api", get(discovery::api_versions).with_state(api.clone()))
        .route("/api/", get(discovery::api_versions).with_state(api.clone()))
        .route("/api/v1", get(discovery::core_resources).with_state(api.clone()))
        .route("/api/v1/", get(discovery::core_resources).with_state(api.clone()))
        .route("/apis", get(discovery::api_groups).with_state(api.clone()))
        .route("/apis/", get(discovery::api_groups).with_state(api.clone()))
        .route("/apis/{group}", get(discovery::api_group).with_state(api.clone()))
        .route("/apis/{group}/", get(discovery::api_group).with_state(api.clone()))
        .route("/apis/{group}/{version}", get(discovery::group_resources).with_state(api.clone()))
        .route("/apis/{group}/{version}/", get(discovery::group_resources).with_state(api.clone()))
        .route("/openapi/v2", get(openapi::v2).with_state(api.clone()))
        .route("/openapi/v3", get(openapi::root).with_state(api.clone()))
        .route("/openapi/v3/api/{version}", get(openapi::core_document).with_state(api.clone()))
        .route("/openapi/v3/apis/{group}/{version}", get(openapi::group_document).with_state(api.clone()))
        // Every resource request, routed by its one parse rather than by the raw path.
        .fallback(any(resource_request).with_state((api, authorizer.clone(), authenticator.clone())))
        .layer(axum::middleware::from_fn_with_state(authorizer, authz::middleware))
        .layer(axum::middleware::from_fn_with_state(audit, audit::middleware))
        .layer(axum::middleware::from_fn_with_state(authenticator, auth::middleware))
        .layer(axum::middleware::from_fn(request::middleware))
        .layer(DefaultBodyLimit::disable());
    let served = match security.tls {
        Some(tls) => common::tls::serve(listener, app, tls, shutdown).await.map_err(ServeError::Serve),
        None => common::tls::serve_plain(listener, app, shutdown).await.map_err(ServeError::Serve),
    };
    // Leaving the kubernetes Endpoints takes a write or two; more than this and the others will
    // notice the lease expire instead.
    if advertise.is_some() {
        let _ = tokio::time::timeout(std::time::Duration::from_secs(2), &mut bootstrap).await;
    }
    for task in [Some(bootstrap.abort_handle()), Some(definitions.abort_handle()), compactor.map(|task| task.abort_handle()), health.map(|task| task.abort_handle())].into_iter().flatten() {
        task.abort();
    }
    served
}

/// Compacts storage history as kube-apiserver does: every interval, up to the revision that was
/// current one interval earlier, so that watches may resume from any revision of the last
/// interval and older ones get 410 Gone.
async fn compact_periodically(store: Arc<dyn Store>, interval: std::time::Duration) {
    let mut previous: Option<Revision> = None;
    let mut ticks = tokio::time::interval(interval);
    ticks.tick().await;
    loop {
        ticks.tick().await;
        if let Some(revision) = previous {
            match store.compact(revision).await {
                Ok(()) => tracing::info!(revision, "compacted storage history"),
                // Another apiserver (or an earlier tick) compacted at least this far already.
                Err(StoreError::Compacted { .. }) => {}
                Err(err) => tracing::warn!(revision, error = %err, "storage compaction failed"),
            }
        }
        previous = store.current_revision().await.ok();
    }
}

async fn metrics(State(api): State<Arc<Api>>) -> impl IntoResponse {
    let mut text = api.metrics.render();
    text.push_str("# HELP apiserver_streams_open Exec, attach and port-forward connections being spliced to kubelets.\n");
    text.push_str("# TYPE apiserver_streams_open gauge\n");
    text.push_str(&format!("apiserver_streams_open {}\n", api.streams.get()));
    text.push_str("# HELP apiserver_storage_decode_errors_total Stored objects the watch cache could not decode, each time it met one.\n");
    text.push_str("# TYPE apiserver_storage_decode_errors_total counter\n");
    for (resource, count) in api.cache.decode_errors() {
        text.push_str(&format!("apiserver_storage_decode_errors_total{{resource={resource:?}}} {count}\n"));
    }
    ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], text)
}

async fn healthy() -> &'static str {
    "ok"
}

/// Ready once storage answers and the system namespaces exist, as kube-apiserver's readyz waits
/// for its bootstrap post-start hooks.
async fn ready(State((store, bootstrapped)): State<(Arc<dyn Store>, Arc<std::sync::atomic::AtomicBool>)>) -> impl IntoResponse {
    if !bootstrapped.load(std::sync::atomic::Ordering::Acquire) {
        return (StatusCode::SERVICE_UNAVAILABLE, "system namespaces not created yet".to_string());
    }
    match store.current_revision().await {
        Ok(_) => (StatusCode::OK, "ok".to_string()),
        Err(err) => (StatusCode::SERVICE_UNAVAILABLE, format!("storage not ready: {err}")),
    }
}

/// What resource requests are served with: the API, and the authorizer and authenticator the
/// reviews answer with.
type ResourceState = (Arc<Api>, Option<Authorizer>, Option<Arc<Authenticator>>);

/// Serves what the request's one parse names: a resource of a served group, or 404.
async fn resource_request(State((api, authorizer, authenticator)): State<ResourceState>, request: axum::extract::Request) -> axum::response::Response {
    let (info, params) = match request::Parsed::from_extensions(&request) {
        Ok(parsed) => (parsed.info, parsed.params),
        Err(err) => return ApiError::bad_request(err.to_string()).into_response(),
    };
    if !info.is_resource_request {
        return ApiError::path_not_found().into_response();
    }
    match (info.api_prefix.as_str(), info.api_group.as_str(), info.api_version.as_str()) {
        ("apis", resource_metrics::GROUP, resource_metrics::VERSION) => rest::within_deadline(&api, &info, &params, resource_metrics::handle(&api, &info, request)).await,
        ("apis", authorization_reviews::REVIEW_GROUP, "v1") => rest::within_deadline(&api, &info, &params, authorization_reviews::review_handler(authorizer.as_ref(), &info, request)).await,
        ("apis", authentication_reviews::GROUP, authentication_reviews::VERSION) => {
            rest::within_deadline(&api, &info, &params, authentication_reviews::handler(authenticator.as_deref(), &info, request)).await
        }
        _ => rest::handle(State(api), request).await,
    }
}
