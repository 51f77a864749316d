//! The node's service proxy, in kube-proxy's iptables mode: Services and their ready endpoints
//! become DNAT rules in the nat table (ClusterIPs and NodePorts, chosen at random among the
//! endpoints), rewritten whenever either changes. Pod traffic leaving the pod network is
//! masqueraded, as kind's network agent does.

use std::collections::BTreeSet;
use std::hash::Hasher;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Endpoints, Service};
use kube::api::Api;
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use tokio::sync::Notify;

use crate::Kubelet;

const MASQUERADE_MARK: &str = "0x4000/0x4000";
/// Changes that come together are written together.
const SETTLE: Duration = Duration::from_millis(100);

/// The node's own network tools (iptables, ip), which the proxy and the pod routes program the
/// node with.
#[derive(Debug, thiserror::Error)]
pub enum HostCommandError {
    #[error("cannot run {0}: {1}")]
    Spawn(&'static str, std::io::Error),
    #[error("{command} failed: {message}")]
    Failed { command: String, message: String },
}

/// Runs `program args...` with `input` on its stdin; its stdout when it succeeds.
pub async fn command(program: &'static str, args: &[&str], input: Option<&str>) -> Result<String, HostCommandError> {
    use tokio::io::AsyncWriteExt;
    let mut child = tokio::process::Command::new(program)
        .args(args)
        .stdin(if input.is_some() { std::process::Stdio::piped() } else { std::process::Stdio::null() })
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|err| HostCommandError::Spawn(program, err))?;
    if let (Some(input), Some(mut stdin)) = (input, child.stdin.take()) {
        stdin.write_all(input.as_bytes()).await.map_err(|err| HostCommandError::Spawn(program, err))?;
    }
    let output = child.wait_with_output().await.map_err(|err| HostCommandError::Spawn(program, err))?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(HostCommandError::Failed { command: format!("{program} {}", args.join(" ")), message: String::from_utf8_lossy(&output.stderr).trim().to_string() })
    }
}

/// One service port as the rules need it.
#[derive(Clone, Debug, PartialEq)]
struct Port {
    service: String,
    name: String,
    protocol: String,
    cluster_ip: Option<String>,
    port: i32,
    node_port: Option<i32>,
    endpoints: Vec<(String, i32)>,
}

pub async fn run(kubelet: Arc<Kubelet>, cluster_cidr: String) {
    // Bridged pod-to-pod traffic must pass the nat table, or replies from a DNATed endpoint on the
    // same bridge skip the reverse translation.
    for (path, value) in [("/proc/sys/net/bridge/bridge-nf-call-iptables", "1"), ("/proc/sys/net/ipv4/ip_forward", "1")] {
        if let Err(err) = std::fs::write(path, value) {
            tracing::warn!("cannot set {path}: {err}");
        }
    }
    let changed = Arc::new(Notify::new());
    let services = watch::<Service>(&kubelet, changed.clone());
    let endpoints = watch::<Endpoints>(&kubelet, changed.clone());
    let mut written = String::new();
    loop {
        changed.notified().await;
        tokio::time::sleep(SETTLE).await;
        let ports = service_ports(&services, &endpoints);
        let existing = match existing_chains().await {
            Ok(chains) => chains,
            Err(err) => {
                tracing::warn!("cannot read the nat table: {err}");
                BTreeSet::new()
            }
        };
        let rules = rules(&ports, &cluster_cidr, &existing);
        if rules == written {
            continue;
        }
        match apply(&rules).await {
            Ok(()) => {
                tracing::info!(ports = ports.len(), "service rules written");
                written = rules;
            }
            Err(err) => {
                tracing::warn!("cannot write the service rules, retrying: {err}");
                let again = changed.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    again.notify_one();
                });
            }
        }
    }
}

fn watch<K>(kubelet: &Kubelet, changed: Arc<Notify>) -> Store<K>
where
    K: kube::Resource<DynamicType = ()> + Clone + std::fmt::Debug + serde::de::DeserializeOwned + Send + Sync + 'static,
{
    let (store, writer) = reflector::store();
    let stream = reflector::reflector(writer, watcher::watcher(Api::<K>::all(kubelet.client.clone()), watcher::Config::default()).default_backoff());
    tokio::spawn(async move {
        let mut stream = std::pin::pin!(stream);
        while let Some(event) = stream.next().await {
            match event {
                Ok(watcher::Event::InitApply(_) | watcher::Event::Init) => {}
                Ok(_) => changed.notify_one(),
                Err(err) => tracing::warn!("watch for the service proxy failed, retrying: {err}"),
            }
        }
    });
    store
}

fn service_ports(services: &Store<Service>, endpoints: &Store<Endpoints>) -> Vec<Port> {
    let mut ports = Vec::new();
    for service in services.state() {
        let Some(spec) = &service.spec else { continue };
        let namespace = service.metadata.namespace.clone().unwrap_or_default();
        let name = service.metadata.name.clone().unwrap_or_default();
        let cluster_ip = spec.cluster_ip.clone().filter(|ip| !ip.is_empty() && ip != "None");
        let node_ports = matches!(spec.type_.as_deref(), Some("NodePort" | "LoadBalancer"));
        let key = kube::runtime::reflector::ObjectRef::new(&name).within(&namespace);
        let subsets = endpoints.get(&key).and_then(|e| e.subsets.clone()).unwrap_or_default();
        for port in spec.ports.iter().flatten() {
            let port_name = port.name.clone().unwrap_or_default();
            let protocol = port.protocol.clone().unwrap_or_else(|| "TCP".into());
            let mut targets = Vec::new();
            for subset in &subsets {
                let Some(matching) = subset.ports.iter().flatten().find(|p| p.name.clone().unwrap_or_default() == port_name && p.protocol.clone().unwrap_or_else(|| "TCP".into()) == protocol) else {
                    continue;
                };
                for address in subset.addresses.iter().flatten() {
                    targets.push((address.ip.clone(), matching.port));
                }
            }
            targets.sort();
            ports.push(Port {
                service: format!("{namespace}/{name}"),
                name: port_name,
                protocol,
                cluster_ip: cluster_ip.clone(),
                port: port.port,
                node_port: port.node_port.filter(|_| node_ports),
                endpoints: targets,
            });
        }
    }
    ports.sort_by(|a, b| (&a.service, &a.name).cmp(&(&b.service, &b.name)));
    ports
}

fn chain(prefix: &str, key: &str) -> String {
    let mut hasher = std::hash::DefaultHasher::new();
    hasher.write(key.as_bytes());
    format!("{prefix}{:016X}", hasher.finish())
}

/// The nat table's part that is ours, for `iptables-restore --noflush`: our chains rewritten
/// whole, and service and endpoint chains no longer needed removed.
fn rules(ports: &[Port], cluster_cidr: &str, existing: &BTreeSet<String>) -> String {
    let mut chains: Vec<String> = ["KUBE-SERVICES", "KUBE-NODEPORTS", "KUBE-POSTROUTING", "KUBE-MARK-MASQ"].map(String::from).to_vec();
    let mut body = vec![
        // Pods reaching beyond the pod network leave with the node's address.
        format!("-A KUBE-POSTROUTING -s {cluster_cidr} ! -d {cluster_cidr} -m addrtype ! --dst-type LOCAL -j MASQUERADE"),
        format!("-A KUBE-POSTROUTING -m mark ! --mark {MASQUERADE_MARK} -j RETURN"),
        "-A KUBE-POSTROUTING -j MARK --xor-mark 0x4000".to_string(),
        "-A KUBE-POSTROUTING -j MASQUERADE".to_string(),
        "-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000".to_string(),
    ];
    let mut node_port_rules = Vec::new();
    for port in ports {
        if port.endpoints.is_empty() || (port.cluster_ip.is_none() && port.node_port.is_none()) {
            continue;
        }
        let protocol = port.protocol.to_lowercase();
        let key = format!("{}:{}/{}", port.service, port.name, port.protocol);
        let service_chain = chain("KUBE-SVC-", &key);
        chains.push(service_chain.clone());
        let comment = format!("-m comment --comment \"{}:{}\"", port.service, port.name);
        if let Some(ip) = &port.cluster_ip {
            body.push(format!("-A KUBE-SERVICES -d {ip}/32 -p {protocol} -m {protocol} --dport {} {comment} -j {service_chain}", port.port));
            // From outside the pod network (the node itself, another host), replies must come back
            // through this node.
            body.push(format!("-A {service_chain} ! -s {cluster_cidr} -d {ip}/32 -p {protocol} -m {protocol} --dport {} -j KUBE-MARK-MASQ", port.port));
        }
        if let Some(node_port) = port.node_port {
            node_port_rules.push(format!("-A KUBE-NODEPORTS -p {protocol} -m {protocol} --dport {node_port} {comment} -j KUBE-MARK-MASQ"));
            node_port_rules.push(format!("-A KUBE-NODEPORTS -p {protocol} -m {protocol} --dport {node_port} {comment} -j {service_chain}"));
        }
        let count = port.endpoints.len();
        for (index, (ip, target)) in port.endpoints.iter().enumerate() {
            let endpoint_chain = chain("KUBE-SEP-", &format!("{key}@{ip}:{target}"));
            chains.push(endpoint_chain.clone());
            let remaining = count - index;
            if remaining > 1 {
                body.push(format!("-A {service_chain} -m statistic --mode random --probability {:.10} -j {endpoint_chain}", 1.0 / remaining as f64));
            } else {
                body.push(format!("-A {service_chain} -j {endpoint_chain}"));
            }
            // A pod reaching itself through the service (hairpin) must see the reply come back.
            body.push(format!("-A {endpoint_chain} -s {ip}/32 -j KUBE-MARK-MASQ"));
            body.push(format!("-A {endpoint_chain} -p {protocol} -m {protocol} -j DNAT --to-destination {ip}:{target}"));
        }
    }
    body.extend(node_port_rules);
    body.push("-A KUBE-SERVICES -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS".to_string());
    let mut out = String::from("*nat\n");
    for name in &chains {
        out.push_str(&format!(":{name} - [0:0]\n"));
    }
    let stale: Vec<&String> = existing.iter().filter(|name| !chains.contains(name)).collect();
    for name in &stale {
        out.push_str(&format!(":{name} - [0:0]\n"));
    }
    for line in body {
        out.push_str(&line);
        out.push('\n');
    }
    for name in stale {
        out.push_str(&format!("-X {name}\n"));
    }
    out.push_str("COMMIT\n");
    out
}

async fn existing_chains() -> Result<BTreeSet<String>, HostCommandError> {
    let saved = command("iptables-save", &["-t", "nat"], None).await?;
    Ok(saved
        .lines()
        .filter_map(|line| line.strip_prefix(':'))
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| name.starts_with("KUBE-SVC-") || name.starts_with("KUBE-SEP-"))
        .map(str::to_string)
        .collect())
}

async fn apply(rules: &str) -> Result<(), HostCommandError> {
    command("iptables-restore", &["--noflush"], Some(rules)).await?;
    // The built-in chains lead to ours; added once, checked every time.
    for (chain, target) in [("PREROUTING", "KUBE-SERVICES"), ("OUTPUT", "KUBE-SERVICES"), ("POSTROUTING", "KUBE-POSTROUTING")] {
        if command("iptables", &["-t", "nat", "-C", chain, "-j", target], None).await.is_err() {
            command("iptables", &["-t", "nat", "-I", chain, "1", "-j", target], None).await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn port(endpoints: &[(&str, i32)], node_port: Option<i32>) -> Port {
        Port {
            service: "demo/web".into(),
            name: "http".into(),
            protocol: "TCP".into(),
            cluster_ip: Some("10.96.0.20".into()),
            port: 80,
            node_port,
            endpoints: endpoints.iter().map(|(ip, port)| (ip.to_string(), *port)).collect(),
        }
    }

    #[test]
    fn services_become_dnat_rules_spread_over_their_endpoints() {
        let text = rules(&[port(&[("10.244.1.2", 5000), ("10.244.2.3", 5000)], Some(30080))], "10.244.0.0/16", &BTreeSet::new());
        let svc = chain("KUBE-SVC-", "demo/web:http/TCP");
        assert!(text.contains(&format!("-A KUBE-SERVICES -d 10.96.0.20/32 -p tcp -m tcp --dport 80 -m comment --comment \"demo/web:http\" -j {svc}")), "{text}");
        assert!(text.contains(&format!("-A {svc} -m statistic --mode random --probability 0.5000000000 -j KUBE-SEP-")));
        assert!(text.contains("-j DNAT --to-destination 10.244.1.2:5000"));
        assert!(text.contains("-j DNAT --to-destination 10.244.2.3:5000"));
        assert!(text.contains(&format!("-A KUBE-NODEPORTS -p tcp -m tcp --dport 30080 -m comment --comment \"demo/web:http\" -j {svc}")));
        assert!(text.starts_with("*nat\n") && text.ends_with("COMMIT\n"));
    }

    #[test]
    fn a_service_without_ready_endpoints_gets_no_rules_and_old_chains_go() {
        let stale = chain("KUBE-SVC-", "demo/old:http/TCP");
        let text = rules(&[port(&[], Some(30080))], "10.244.0.0/16", &BTreeSet::from([stale.clone()]));
        assert!(!text.contains("10.96.0.20"), "{text}");
        assert!(!text.contains("30080"));
        assert!(text.contains(&format!(":{stale} - [0:0]\n")) && text.contains(&format!("-X {stale}\n")));
    }
}
