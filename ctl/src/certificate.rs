//! `ctl certificate approve|deny`: a CertificateSigningRequest gets kubectl's Approved or Denied
//! condition through the `approval` subresource. As kubectl: one already approved (denied) is
//! printed again without an update unless `--force`; one with the opposite condition is
//! refused; every request named is tried, and the failures are reported at the end.

use std::path::PathBuf;

use serde_json::{Value, json};

use crate::discovery::{encode, get_json, send};
use crate::kubeconfig::client;
use crate::output::outln;
use crate::{Config, CtlError};

const PATH: &str = "/apis/certificates.k8s.io/v1/certificatesigningrequests";

#[derive(Clone, Debug, clap::Subcommand)]
pub enum CertificateCommand {
    /// Approve certificate signing requests.
    Approve(CertificateArgs),
    /// Deny certificate signing requests.
    Deny(CertificateArgs),
}

#[derive(Clone, Debug, clap::Args)]
#[command(after_help = "Examples:\n  ctl certificate approve csr-sqgzp\n  ctl certificate deny -f csr.yaml")]
pub struct CertificateArgs {
    /// The requests.
    pub names: Vec<String>,
    /// Manifests naming the requests.
    #[arg(short = 'f', long = "filename")]
    pub files: Vec<PathBuf>,
    /// Update the request even if it already has the condition.
    #[arg(long)]
    pub force: bool,
}

/// What one verb writes and the condition that rules it out.
struct Decision {
    condition: &'static str,
    excluded: &'static str,
    reason: &'static str,
    message: &'static str,
    done: &'static str,
}

const APPROVE: Decision = Decision {
    condition: "Approved",
    excluded: "Denied",
    reason: "KubectlApprove",
    message: "This CSR was approved by kubectl certificate approve.",
    done: "approved",
};

const DENY: Decision = Decision {
    condition: "Denied",
    excluded: "Approved",
    reason: "KubectlDeny",
    message: "This CSR was denied by kubectl certificate deny.",
    done: "denied",
};

pub async fn run(config: &Config, command: &CertificateCommand) -> Result<(), CtlError> {
    let (args, decision) = match command {
        CertificateCommand::Approve(args) => (args, &APPROVE),
        CertificateCommand::Deny(args) => (args, &DENY),
    };
    if args.names.is_empty() && args.files.is_empty() {
        return Err(CtlError::Usage("one or more CSRs must be specified as <name> or -f <filename>".into()));
    }
    let mut names = Vec::new();
    let mut errors = Vec::new();
    for manifest in crate::manifest::read_paths(&args.files, false, &mut std::io::stdin())? {
        let object = &manifest.object;
        let kind = object["kind"].as_str().unwrap_or_default();
        let group = object["apiVersion"].as_str().and_then(|version| version.split_once('/')).map(|(group, _)| group).unwrap_or_default();
        if (kind, group) == ("CertificateSigningRequest", "certificates.k8s.io") {
            names.push(object["metadata"]["name"].as_str().unwrap_or_default().to_string());
        } else {
            let got = if group.is_empty() { kind.to_string() } else { format!("{kind}.{group}") };
            errors.push(CtlError::Usage(format!("can only handle CertificateSigningRequest.certificates.k8s.io objects, got {got}")));
        }
    }
    names.extend(args.names.iter().cloned());
    let client = client(config).await?;
    let mut found = 0;
    for name in &names {
        match decide(&client, name, decision, args.force).await {
            Ok(()) => {
                found += 1;
                outln!("certificatesigningrequest.certificates.k8s.io/{name} {}", decision.done)?;
            }
            Err(err) => errors.push(err),
        }
    }
    if found == 0 && errors.is_empty() {
        outln!("No resources found")?;
    }
    report(errors)
}

/// kubectl's report of a visit's failures: one as any error, several one per line in their own
/// words (kubectl's `MultipleErrors`, which adds no `error: ` prefix).
fn report(errors: Vec<CtlError>) -> Result<(), CtlError> {
    if errors.len() <= 1 {
        return errors.into_iter().next().map_or(Ok(()), Err);
    }
    let count = errors.len();
    for err in errors {
        eprintln!("{err}");
    }
    Err(CtlError::Reported(count))
}

/// Adds the decision's condition to the request `name` unless it has it already (or `force`),
/// retrying a write that lost a race with another, as kubectl does ten times.
async fn decide(client: &kube::Client, name: &str, decision: &Decision, force: bool) -> Result<(), CtlError> {
    let path = format!("{PATH}/{}", encode(name));
    for attempt in 0.. {
        let mut csr = get_json(client, &path, "application/json").await?;
        let conditions: Vec<Value> = csr.pointer("/status/conditions").and_then(Value::as_array).cloned().unwrap_or_default();
        let mut has_condition = false;
        for condition in &conditions {
            let kind = condition["type"].as_str().unwrap_or_default();
            if kind == decision.excluded {
                return Err(CtlError::Usage(format!("certificate signing request {name:?} is already {kind}")));
            }
            has_condition |= kind == decision.condition;
        }
        if has_condition && !force {
            return Ok(());
        }
        let mut conditions = conditions;
        if !has_condition {
            let now = jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
            conditions.push(json!({"type": decision.condition, "status": "True", "reason": decision.reason, "message": decision.message, "lastUpdateTime": now}));
        }
        csr["status"]["conditions"] = json!(conditions);
        match send(client, "PUT", &format!("{path}/approval"), "application/json", &csr).await {
            Err(CtlError::Server { reason, .. }) if reason == "Conflict" && attempt < 10 => continue,
            result => return result.map(|_| ()),
        }
    }
    Ok(())
}
