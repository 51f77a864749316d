//! `stop` and `start`: a cluster's containers stopped and started again with Docker, as machines
//! are shut down and booted (each node's run script starts its components at every boot). The
//! nodes stop before the load balancer and the registry, so that nothing the cluster runs is
//! left without them.

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use crate::cluster::{self, CLUSTER_LABEL, ROLE_LABEL};
use crate::docker;
use crate::error::ClusterError;

/// Where each container keeps, while stopped, its address on the cluster's network. Docker hands
/// addresses out in the order containers start, and the nodes' certificates name theirs (the
/// apiserver checks a kubelet's against the node's InternalIP, pods check the apiserver's), so
/// `start` starts them in the order of their old addresses to give each its own back.
const ADDRESS_FILE: &str = "/etc/cluster-address";

/// The roles of the containers in front of the nodes.
const FRONT: [&str; 2] = ["external-load-balancer", "registry"];

/// A container of the cluster.
struct Member {
    name: String,
    role: String,
    running: bool,
}

/// Every container of cluster `name`.
async fn members(name: &str) -> Result<Vec<Member>, ClusterError> {
    docker::check().await?;
    let format = format!("{{{{.Names}}}} {{{{.State}}}} {{{{.Label \"{ROLE_LABEL}\"}}}}");
    let listed = docker::run(&["ps", "-a", "--filter", &format!("label={CLUSTER_LABEL}={name}"), "--format", &format]).await?;
    let members: Vec<Member> = listed
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let (container, state) = (fields.next()?, fields.next()?);
            Some(Member { name: container.to_string(), running: state == "running", role: fields.next().unwrap_or_default().to_string() })
        })
        .collect();
    if members.is_empty() {
        return Err(ClusterError::Missing(name.to_string()));
    }
    Ok(members)
}

/// Stops the cluster's containers: the nodes, then the load balancer and registry.
pub async fn stop(name: &str) -> Result<(), ClusterError> {
    let members = members(name).await?;
    let dir = tempfile::tempdir().map_err(|source| ClusterError::Io { what: "a temporary directory".into(), source })?;
    for member in members.iter().filter(|member| member.running) {
        let address = docker::run(&["inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", &member.name]).await?;
        let file = dir.path().join(&member.name);
        std::fs::write(&file, address.trim()).map_err(|source| ClusterError::Io { what: format!("writing {}", file.display()), source })?;
        docker::run(&["cp", &file.display().to_string(), &format!("{}:{ADDRESS_FILE}", member.name)]).await?;
    }
    let (front, nodes): (Vec<&Member>, Vec<&Member>) = members.iter().filter(|member| member.running).partition(|member| FRONT.contains(&member.role.as_str()));
    for group in [nodes, front] {
        if !group.is_empty() {
            let mut args = vec!["stop"];
            args.extend(group.iter().map(|member| member.name.as_str()));
            docker::run(&args).await?;
        }
    }
    Ok(())
}

/// Starts the cluster's stopped containers, each getting back its address, and waits until every
/// node is Ready again, as its kubelet says since the start; the nodes' names.
pub async fn start(name: &str, wait: Duration) -> Result<Vec<String>, ClusterError> {
    let deadline = Instant::now() + wait;
    let since = jiff::Timestamp::now();
    let members = members(name).await?;
    let dir = tempfile::tempdir().map_err(|source| ClusterError::Io { what: "a temporary directory".into(), source })?;
    let mut stopped = Vec::new();
    for member in members.iter().filter(|member| !member.running) {
        let file = dir.path().join(&member.name);
        // A container stopped otherwise (by Docker itself, or by hand) left no address: after the others.
        let _ = docker::run(&["cp", &format!("{}:{ADDRESS_FILE}", member.name), &file.display().to_string()]).await;
        let address = std::fs::read_to_string(&file).ok().and_then(|text| text.trim().parse::<Ipv4Addr>().ok());
        stopped.push((address, member.name.as_str()));
    }
    for container in start_order(stopped) {
        docker::run(&["start", container]).await?;
    }
    let nodes: Vec<String> = members.iter().filter(|member| !FRONT.contains(&member.role.as_str())).map(|member| member.name.clone()).collect();
    let client = cluster::admin_client(name).await?;
    cluster::wait_nodes(&client, &nodes, Some(since), wait, deadline).await?;
    Ok(nodes)
}

/// The containers in the order of their old addresses; those without one last, by name.
fn start_order(mut stopped: Vec<(Option<Ipv4Addr>, &str)>) -> Vec<&str> {
    stopped.sort_by_key(|(address, name)| (address.is_none(), *address, *name));
    stopped.into_iter().map(|(_, name)| name).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn containers_start_in_the_order_of_their_addresses() {
        let address = |last: u8| Some(Ipv4Addr::new(172, 18, 0, last));
        let stopped = vec![(address(10), "c-worker"), (None, "c-b"), (address(2), "c-control-plane"), (None, "c-a"), (address(9), "c-external-load-balancer")];
        assert_eq!(start_order(stopped), ["c-control-plane", "c-external-load-balancer", "c-worker", "c-a", "c-b"]);
    }
}
