//! Leader election on a `coordination.k8s.io/v1` Lease, as client-go's leaderelection does it:
//! whoever holds an unexpired lease leads and renews it every retry period; the others watch the
//! record and take it over once it has not changed for a whole lease duration. Expiry is judged by
//! the local clock from when the record last changed, so clock skew between machines is harmless.

use std::future::Future;
use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::api::{Api, PostParams};

/// The leader-election flags every replicated component takes (the Lease's name is the
/// component's own flag, as its default differs).
#[derive(Clone, Debug, clap::Args)]
pub struct LeaderElectionArgs {
    /// Run as one of several replicas, working only while holding the Lease.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub leader_elect: bool,
    #[arg(long, default_value = "kube-system")]
    pub leader_elect_resource_namespace: String,
    /// How long a lease that is not renewed stays the leader's. With the retry period, a standby
    /// takes over at most this plus 2.4 s after the leader dies.
    #[arg(long, default_value_t = 10)]
    pub leader_elect_lease_duration_seconds: u64,
    #[arg(long, default_value_t = 8)]
    pub leader_elect_renew_deadline_seconds: u64,
    #[arg(long, default_value_t = 2)]
    pub leader_elect_retry_period_seconds: u64,
    /// This replica's name in the Lease (default: hostname and process id).
    #[arg(long)]
    pub identity: Option<String>,
}

impl LeaderElectionArgs {
    pub fn identity(&self) -> String {
        self.identity.clone().unwrap_or_else(|| {
            let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
            format!("{}_{}", host.trim(), std::process::id())
        })
    }

    /// The lease to hold, or why the flags do not make one.
    pub fn lease(&self, name: &str) -> Result<LeaseConfig, String> {
        if self.leader_elect_renew_deadline_seconds >= self.leader_elect_lease_duration_seconds {
            return Err("--leader-elect-renew-deadline-seconds must be less than --leader-elect-lease-duration-seconds".into());
        }
        Ok(LeaseConfig {
            namespace: self.leader_elect_resource_namespace.clone(),
            name: name.to_string(),
            identity: self.identity(),
            lease_duration: Duration::from_secs(self.leader_elect_lease_duration_seconds),
            renew_deadline: Duration::from_secs(self.leader_elect_renew_deadline_seconds),
            retry_period: Duration::from_secs(self.leader_elect_retry_period_seconds),
        })
    }
}

#[derive(Clone, Debug)]
pub struct LeaseConfig {
    pub namespace: String,
    pub name: String,
    /// This replica's name in `spec.holderIdentity`.
    pub identity: String,
    /// How long a lease that is not renewed stays the holder's.
    pub lease_duration: Duration,
    /// How long the leader keeps trying to renew before it gives up leading.
    pub renew_deadline: Duration,
    /// How often leader and standbys try.
    pub retry_period: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum LeaderError {
    #[error("lost the lease {namespace}/{name}: {why}")]
    Lost { namespace: String, name: String, why: String },
}

/// Waits until this replica holds the lease, then runs `work` while renewing it. Returns what
/// `work` returns, or an error as soon as the lease is lost (`work` is dropped then: a replica
/// that is not sure it leads must stop acting).
pub async fn run_as_leader<F, T>(client: kube::Client, config: &LeaseConfig, work: F) -> Result<T, LeaderError>
where
    F: Future<Output = T>,
{
    let mut elector = Elector { api: Api::namespaced(client, &config.namespace), config: config.clone(), observed: None };
    loop {
        match tokio::time::timeout(config.renew_deadline, elector.try_acquire_or_renew()).await {
            Ok(Ok(true)) => break,
            Ok(Ok(false)) => {}
            Ok(Err(err)) => tracing::warn!(lease = %config.name, error = %err, "cannot read or take the lease"),
            Err(_) => tracing::warn!(lease = %config.name, "lease request timed out"),
        }
        tokio::time::sleep(elector.jittered_retry()).await;
    }
    tracing::info!(lease = %config.name, identity = %config.identity, "became leader");
    let lost = |why: String| LeaderError::Lost { namespace: config.namespace.clone(), name: config.name.clone(), why };
    tokio::pin!(work);
    let mut renewed = Instant::now();
    loop {
        tokio::select! {
            output = &mut work => return Ok(output),
            () = tokio::time::sleep(config.retry_period) => {
                match tokio::time::timeout(config.renew_deadline, elector.try_acquire_or_renew()).await {
                    Ok(Ok(true)) => renewed = Instant::now(),
                    Ok(Ok(false)) => return Err(lost("another replica holds it".into())),
                    Ok(Err(err)) => tracing::warn!(lease = %config.name, error = %err, "cannot renew the lease"),
                    Err(_) => tracing::warn!(lease = %config.name, "lease renewal timed out"),
                }
                if renewed.elapsed() > config.renew_deadline {
                    return Err(lost(format!("not renewed for {:?}", config.renew_deadline)));
                }
            }
        }
    }
}

struct Elector {
    api: Api<Lease>,
    config: LeaseConfig,
    /// The lease record as last seen (holder, renew time, resourceVersion) and when it changed.
    observed: Option<(String, Instant)>,
}

impl Elector {
    /// Takes the lease if it is free or expired, renews it if it is ours; `false` when another
    /// replica holds it.
    async fn try_acquire_or_renew(&mut self) -> Result<bool, kube::Error> {
        let now = MicroTime(jiff::Timestamp::now());
        let duration_seconds = i32::try_from(self.config.lease_duration.as_secs()).unwrap_or(i32::MAX);
        let Some(mut lease) = self.api.get_opt(&self.config.name).await? else {
            let lease = Lease {
                metadata: ObjectMeta { name: Some(self.config.name.clone()), ..ObjectMeta::default() },
                spec: Some(LeaseSpec {
                    holder_identity: Some(self.config.identity.clone()),
                    lease_duration_seconds: Some(duration_seconds),
                    acquire_time: Some(now.clone()),
                    renew_time: Some(now),
                    lease_transitions: Some(0),
                    ..LeaseSpec::default()
                }),
            };
            return match self.api.create(&PostParams::default(), &lease).await {
                Ok(_) => Ok(true),
                Err(kube::Error::Api(status)) if status.code == 409 => Ok(false),
                Err(err) => Err(err),
            };
        };
        let spec = lease.spec.clone().unwrap_or_default();
        let holder = spec.holder_identity.clone().unwrap_or_default();
        let record = format!("{holder}/{:?}/{:?}", spec.renew_time, lease.metadata.resource_version);
        if self.observed.as_ref().is_none_or(|(seen, _)| *seen != record) {
            self.observed = Some((record, Instant::now()));
        }
        let ours = holder == self.config.identity;
        let held_for = spec.lease_duration_seconds.and_then(|seconds| u64::try_from(seconds).ok()).map_or(self.config.lease_duration, Duration::from_secs);
        let unchanged_for = self.observed.as_ref().map_or(Duration::ZERO, |(_, since)| since.elapsed());
        if !holder.is_empty() && !ours && unchanged_for < held_for {
            return Ok(false);
        }
        let mut spec = spec;
        if !ours {
            spec.acquire_time = Some(now.clone());
            spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
            tracing::info!(lease = %self.config.name, previous = %holder, "taking over the lease");
        }
        spec.holder_identity = Some(self.config.identity.clone());
        spec.lease_duration_seconds = Some(duration_seconds);
        spec.renew_time = Some(now);
        lease.spec = Some(spec);
        match self.api.replace(&self.config.name, &PostParams::default(), &lease).await {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(status)) if status.code == 409 => Ok(false),
            Err(err) => Err(err),
        }
    }

    /// The retry period stretched by up to 20%, so that standbys do not knock in step.
    fn jittered_retry(&self) -> Duration {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
        self.config.retry_period + self.config.retry_period.mul_f64(f64::from(nanos % 200) / 1000.0)
    }
}
