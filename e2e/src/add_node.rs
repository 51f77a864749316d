//! `cluster add-node`: a worker or a control plane joins a running cluster, made as `create`
//! makes its nodes (the layout every node keeps, the cluster's CA and keys from a running
//! control plane). A control plane of an etcd-ha cluster brings its etcd member: members whose
//! containers are gone are removed first, so that the new member never leaves the cluster
//! short of a quorum, then the new one is added and starts with the existing members.

use std::time::{Duration, Instant};

use crate::cluster::{self, ControlPlane, Layout, Role, Secrets};
use crate::crashes;
use crate::docker;
use crate::encryption;
use crate::error::ClusterError;
use crate::kubeconfig;
use crate::pki;

/// The etcd client on a control plane, against its own member.
const ETCDCTL: [&str; 3] = ["etcdctl", "--endpoints", "http://127.0.0.1:2379"];

/// Adds a node to cluster `name`; its name once it is Ready.
pub async fn add_node(name: &str, role: Role, wait: Duration) -> Result<String, ClusterError> {
    let deadline = Instant::now() + wait;
    let source = cluster::running_control_planes(name).await?.swap_remove(0);
    let read = |path: String| {
        let source = source.clone();
        async move { docker::run(&["exec", &source, "cat", &path]).await }
    };
    let layout_text = read(cluster::LAYOUT_PATH.to_string()).await.map_err(|err| {
        ClusterError::NotReady(format!("{source} has no {} (clusters made before `add-node` existed cannot grow): {err}", cluster::LAYOUT_PATH))
    })?;
    let layout = Layout::parse(name, &layout_text)?;
    if role == Role::ControlPlane && layout.storage != cluster::Storage::EtcdHa {
        return Err(ClusterError::NotReady(format!("cluster {name:?} keeps its objects on one control plane; only `--storage etcd-ha` clusters take more control planes")));
    }
    let authority = pki::Authority::load(name, &read(format!("{}/ca.crt", pki::DIR)).await?, &read(format!("{}/ca.key", pki::DIR)).await?)?;
    let secrets = Secrets {
        authority: &authority,
        service_account_key: read(format!("{}/sa.key", pki::DIR)).await?,
        encryption: encryption::keys_of(&read(encryption::CONFIG_PATH.to_string()).await?)?,
        admin: kubeconfig::admin_credentials(&read(format!("{}/admin.kubeconfig", pki::DIR)).await?)
            .map_err(|message| ClusterError::Kubeconfig { path: format!("{source}:{}/admin.kubeconfig", pki::DIR), message })?
            .1,
    };
    let tag = docker::run(&["inspect", "-f", "{{.Config.Image}}", &source]).await?;
    let nodes = cluster::nodes(name).await?;
    let node = next_name(name, role, &nodes);
    let control_planes = cluster::control_planes(name).await?;
    let first = control_planes.first().cloned().unwrap_or_else(|| source.clone());
    let workers = nodes.len() > control_planes.len() || role == Role::Worker;
    cluster::run_node(name, &node, role, &tag, &layout.env, None).await?;
    let joined = async {
        let control_plane = match role {
            Role::ControlPlane => Some(ControlPlane { storage: layout.storage, members: &[], tainted: workers, joining: Some(join_etcd(&source, &control_planes, &node).await?) }),
            Role::Worker => None,
        };
        cluster::start_node(&layout, &secrets, &node, &first, control_plane.as_ref()).await?;
        let client = cluster::admin_client(name).await?;
        let joining = std::slice::from_ref(&node);
        crashes::unless_crashed(joining, cluster::wait_nodes(&client, joining, None, wait, deadline)).await?;
        if role == Role::ControlPlane {
            cluster::label_control_plane(&client, &node).await?;
        }
        Ok::<_, ClusterError>(())
    };
    if let Err(err) = joined.await {
        // Nothing half-made stays: a retry starts from the same cluster (an etcd member added
        // for this node is removed by that retry, its container being gone).
        let _ = docker::run(&["rm", "-f", "-v", &node]).await;
        return Err(err);
    }
    Ok(node)
}

/// The next of kind's names for `role`: `<cluster>-worker`, `<cluster>-worker2`, ... after
/// the highest number in use.
fn next_name(cluster: &str, role: Role, nodes: &[String]) -> String {
    let prefix = format!("{cluster}-{}", role.label());
    let highest = nodes
        .iter()
        .filter_map(|node| node.strip_prefix(&prefix))
        .filter_map(|rest| if rest.is_empty() { Some(1) } else { rest.parse::<usize>().ok() })
        .max()
        .unwrap_or(0);
    if highest == 0 { prefix } else { format!("{prefix}{}", highest + 1) }
}

/// Makes `node` a member of the etcd cluster that `source`'s member belongs to: members whose
/// containers are gone (not merely stopped) are removed, then `node` is added. The answer is
/// the `--initial-cluster` the new member starts with.
async fn join_etcd(source: &str, control_planes: &[String], node: &str) -> Result<String, ClusterError> {
    let etcdctl = |args: &[&str]| {
        let mut command = vec!["exec", source];
        command.extend(ETCDCTL);
        command.extend(args);
        command.iter().map(|word| word.to_string()).collect::<Vec<_>>()
    };
    let run = |args: Vec<String>| async move { reconfigure(&args).await };
    let list = run(etcdctl(&["member", "list"])).await?;
    for member in members(&list) {
        if !control_planes.contains(&member.name) {
            println!(" • removing etcd member {} (its control plane is gone)", member.name);
            run(etcdctl(&["member", "remove", &member.id])).await?;
        }
    }
    let peer = format!("--peer-urls=http://{node}:2380");
    let added = run(etcdctl(&["member", "add", node, &peer])).await?;
    initial_cluster(&added).ok_or_else(|| ClusterError::NotReady(format!("`etcdctl member add {node}` answered no ETCD_INITIAL_CLUSTER: {added}")))
}

/// How long a membership change may wait for etcd to allow it.
const RECONFIGURE_WAIT: Duration = Duration::from_secs(60);

/// Runs an etcdctl command through `docker exec`, again while etcd refuses it for a while:
/// it changes membership only once every member has been connected for a few seconds
/// ("unhealthy cluster", as after a member's restart) and a leader is elected.
async fn reconfigure(args: &[String]) -> Result<String, ClusterError> {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let deadline = Instant::now() + RECONFIGURE_WAIT;
    loop {
        match docker::run(&args).await {
            Err(docker::DockerError::Failed { message, .. }) if Instant::now() < deadline && transient(&message) => {
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            answer => return Ok(answer?),
        }
    }
}

/// Whether etcd's refusal passes by itself.
fn transient(message: &str) -> bool {
    ["unhealthy cluster", "leader changed", "no leader", "timed out", "context deadline exceeded", "too many requests"].iter().any(|sign| message.contains(sign))
}

#[derive(Debug, PartialEq)]
struct Member {
    id: String,
    /// The member's name, or for one added but never started (which has none yet) the host of
    /// its peer URL, which is its node's name.
    name: String,
}

/// `etcdctl member list`'s lines: `id, started, name, peer URLs, client URLs, is learner`.
fn members(list: &str) -> Vec<Member> {
    list.lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split(',').map(str::trim).collect();
            let (id, name, peers) = (fields.first()?, fields.get(2)?, fields.get(3)?);
            let host = || peers.split("://").nth(1).and_then(|rest| rest.split(':').next());
            let name = if name.is_empty() { host()? } else { name };
            Some(Member { id: id.to_string(), name: name.to_string() })
        })
        .collect()
}

/// `ETCD_INITIAL_CLUSTER="..."` of `etcdctl member add`'s answer.
fn initial_cluster(answer: &str) -> Option<String> {
    answer.lines().find_map(|line| line.trim().strip_prefix("ETCD_INITIAL_CLUSTER=")).map(|value| value.trim_matches('"').to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_nodes_take_the_next_number() {
        let nodes: Vec<String> = ["ha-control-plane2", "ha-control-plane3", "ha-worker", "ha-worker2"].iter().map(|node| node.to_string()).collect();
        assert_eq!(next_name("ha", Role::ControlPlane, &nodes), "ha-control-plane4");
        assert_eq!(next_name("ha", Role::Worker, &nodes), "ha-worker3");
        assert_eq!(next_name("one", Role::Worker, &["one-control-plane".to_string()]), "one-worker");
        assert_eq!(next_name("one", Role::ControlPlane, &["one-control-plane".to_string()]), "one-control-plane2");
    }

    #[test]
    fn etcd_members_and_the_initial_cluster_are_read_from_etcdctl() {
        let list = "8e9e05c52164694d, started, ha-control-plane2, http://ha-control-plane2:2380, http://ha-control-plane2:2379, false\n\
                    91bc3c398fb3c146, unstarted, , http://ha-control-plane4:2380, , false\n";
        assert_eq!(
            members(list),
            vec![Member { id: "8e9e05c52164694d".into(), name: "ha-control-plane2".into() }, Member { id: "91bc3c398fb3c146".into(), name: "ha-control-plane4".into() }]
        );
        let answer = "Member ced000fda4d05edf added to cluster 8c4281cc65c7b112\n\nETCD_NAME=\"ha-control-plane4\"\n\
                      ETCD_INITIAL_CLUSTER=\"ha-control-plane2=http://ha-control-plane2:2380,ha-control-plane4=http://ha-control-plane4:2380\"\n\
                      ETCD_INITIAL_CLUSTER_STATE=\"existing\"\n";
        assert_eq!(initial_cluster(answer).as_deref(), Some("ha-control-plane2=http://ha-control-plane2:2380,ha-control-plane4=http://ha-control-plane4:2380"));
        assert!(transient("Error: etcdserver: unhealthy cluster"));
        assert!(!transient("Error: etcdserver: Peer URLs already exists"));
    }
}
