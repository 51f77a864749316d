//! Routes to the other nodes' pod networks, as kind's network agent sets them: each node's
//! podCIDR via that node's InternalIP, so that pods reach pods on every node by their own address.

use std::collections::BTreeMap;
use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Node;
use kube::api::Api;
use kube::runtime::{WatchStreamExt, watcher};

use crate::Kubelet;

/// podCIDR → the node's InternalIP, for every node but this one.
fn wanted<'a>(nodes: impl Iterator<Item = &'a Node>, own: &str) -> BTreeMap<String, String> {
    nodes
        .filter(|node| node.metadata.name.as_deref() != Some(own))
        .filter_map(|node| {
            let cidr = node.spec.as_ref()?.pod_cidr.clone()?;
            let ip = node.status.as_ref()?.addresses.as_ref()?.iter().find(|address| address.type_ == "InternalIP")?.address.clone();
            Some((cidr, ip))
        })
        .collect()
}

pub async fn run(kubelet: Arc<Kubelet>) {
    let mut nodes: BTreeMap<String, Node> = BTreeMap::new();
    let mut installed: BTreeMap<String, String> = BTreeMap::new();
    let mut events = watcher::watcher(Api::<Node>::all(kubelet.client.clone()), watcher::Config::default()).default_backoff().boxed();
    let mut listing: Option<BTreeMap<String, Node>> = None;
    while let Some(event) = events.next().await {
        match event {
            Ok(watcher::Event::Init) => listing = Some(BTreeMap::new()),
            Ok(watcher::Event::InitApply(node)) => {
                if let Some(listing) = listing.as_mut() {
                    listing.insert(node.metadata.name.clone().unwrap_or_default(), node);
                }
            }
            Ok(watcher::Event::InitDone) => nodes = listing.take().unwrap_or_default(),
            Ok(watcher::Event::Apply(node)) => {
                nodes.insert(node.metadata.name.clone().unwrap_or_default(), node);
            }
            Ok(watcher::Event::Delete(node)) => {
                nodes.remove(node.metadata.name.as_deref().unwrap_or_default());
            }
            Err(err) => {
                tracing::warn!("node watch for pod routes failed, retrying: {err}");
                continue;
            }
        }
        if listing.is_some() {
            continue;
        }
        let want = wanted(nodes.values(), &kubelet.node_name);
        for (cidr, via) in &want {
            if installed.get(cidr) != Some(via) {
                match crate::proxy::command("ip", &["route", "replace", cidr, "via", via], None).await {
                    Ok(_) => {
                        tracing::info!(%cidr, %via, "pod route set");
                        installed.insert(cidr.clone(), via.clone());
                    }
                    Err(err) => tracing::warn!("{err}"),
                }
            }
        }
        let gone: Vec<String> = installed.keys().filter(|cidr| !want.contains_key(*cidr)).cloned().collect();
        for cidr in gone {
            if let Err(err) = crate::proxy::command("ip", &["route", "del", &cidr], None).await {
                tracing::warn!("{err}");
            }
            installed.remove(&cidr);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_lead_to_every_other_nodes_pod_network() {
        let node = |name: &str, cidr: Option<&str>, ip: &str| -> Node {
            serde_json::from_value(serde_json::json!({"metadata": {"name": name}, "spec": {"podCIDR": cidr},
                "status": {"addresses": [{"type": "InternalIP", "address": ip}]}}))
            .unwrap()
        };
        let nodes = [node("a", Some("10.244.0.0/24"), "172.18.0.2"), node("b", Some("10.244.1.0/24"), "172.18.0.3"), node("c", None, "172.18.0.4")];
        let want = wanted(nodes.iter(), "a");
        assert_eq!(want, BTreeMap::from([("10.244.1.0/24".to_string(), "172.18.0.3".to_string())]));
    }
}
