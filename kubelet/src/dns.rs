//! A pod's name resolution as the kubelet sets it up: `/etc/resolv.conf` from its `dnsPolicy` and
//! `dnsConfig`, and a managed `/etc/hosts` with its own name and `hostAliases`.

use k8s_openapi::api::core::v1::Pod;

use crate::cri::api;

/// resolv.conf's limits as the kubelet applies them.
const MAX_NAMESERVERS: usize = 3;
const MAX_SEARCHES: usize = 32;

/// What the node's resolv.conf says.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ResolvConf {
    pub nameservers: Vec<String>,
    pub searches: Vec<String>,
    pub options: Vec<String>,
}

impl ResolvConf {
    pub fn parse(text: &str) -> Self {
        let mut conf = Self::default();
        for line in text.lines() {
            let mut words = line.split_whitespace();
            match words.next() {
                Some("nameserver") => conf.nameservers.extend(words.next().map(str::to_string)),
                // The last search (or domain) line wins, as in the resolver.
                Some("search" | "domain") => conf.searches = words.map(str::to_string).collect(),
                Some("options") => conf.options.extend(words.map(str::to_string)),
                _ => {}
            }
        }
        conf
    }

    pub fn of_host() -> Self {
        std::fs::read_to_string("/etc/resolv.conf").map(|text| Self::parse(&text)).unwrap_or_default()
    }
}

/// The cluster's DNS settings (the kubelet's `--cluster-dns` and `--cluster-domain`).
pub struct Cluster<'a> {
    pub servers: &'a [String],
    pub domain: &'a str,
}

/// The sandbox's DNS config for the pod's policy, merged with its `dnsConfig` as Kubernetes does:
/// nameservers and searches appended without repeats, options by name with the pod's winning.
pub fn config(pod: &Pod, cluster: &Cluster<'_>, host: &ResolvConf) -> api::DnsConfig {
    let spec = pod.spec.clone().unwrap_or_default();
    let namespace = pod.metadata.namespace.clone().unwrap_or_default();
    let host_network = spec.host_network.unwrap_or(false);
    let policy = spec.dns_policy.as_deref().unwrap_or("ClusterFirst");
    let cluster_first = match policy {
        "ClusterFirstWithHostNet" => true,
        "ClusterFirst" => !host_network,
        _ => false,
    };
    let (mut servers, mut searches, mut options) = if policy == "None" {
        (Vec::new(), Vec::new(), Vec::new())
    } else if cluster_first && !cluster.servers.is_empty() {
        let domain = cluster.domain;
        let mut searches = vec![format!("{namespace}.svc.{domain}"), format!("svc.{domain}"), domain.to_string()];
        searches.extend(host.searches.iter().cloned());
        (cluster.servers.to_vec(), searches, vec!["ndots:5".to_string()])
    } else {
        // ClusterFirst without a cluster DNS falls back to the node's, as in Kubernetes.
        (host.nameservers.clone(), host.searches.clone(), host.options.clone())
    };
    if let Some(extra) = &spec.dns_config {
        for server in extra.nameservers.iter().flatten() {
            if !servers.contains(server) {
                servers.push(server.clone());
            }
        }
        for search in extra.searches.iter().flatten() {
            if !searches.contains(search) {
                searches.push(search.clone());
            }
        }
        for option in extra.options.iter().flatten() {
            let text = match &option.value {
                Some(value) => format!("{}:{value}", option.name.as_deref().unwrap_or_default()),
                None => option.name.clone().unwrap_or_default(),
            };
            let name = text.split(':').next().unwrap_or_default().to_string();
            options.retain(|existing| existing.split(':').next() != Some(name.as_str()));
            options.push(text);
        }
    }
    servers.truncate(MAX_NAMESERVERS);
    searches.truncate(MAX_SEARCHES);
    api::DnsConfig { servers, searches, options }
}

/// The pod's host name, and its fully qualified name when it has a subdomain.
pub fn names(pod: &Pod, domain: &str) -> (String, Option<String>) {
    let spec = pod.spec.clone().unwrap_or_default();
    let hostname = spec.hostname.clone().filter(|name| !name.is_empty()).unwrap_or_else(|| pod.metadata.name.clone().unwrap_or_default());
    let hostname: String = hostname.chars().take(63).collect::<String>().trim_end_matches(['-', '.']).to_string();
    let fqdn = spec.subdomain.as_ref().filter(|sub| !sub.is_empty()).map(|subdomain| format!("{hostname}.{subdomain}.{}.svc.{domain}", pod.metadata.namespace.as_deref().unwrap_or_default()));
    (hostname, fqdn)
}

/// The hostname the sandbox gets: the FQDN when `setHostnameAsFQDN` asks and there is one.
pub fn sandbox_hostname(pod: &Pod, domain: &str) -> String {
    let (hostname, fqdn) = names(pod, domain);
    let as_fqdn = pod.spec.as_ref().and_then(|spec| spec.set_hostname_as_fqdn).unwrap_or(false);
    match fqdn {
        Some(fqdn) if as_fqdn => fqdn,
        _ => hostname,
    }
}

/// The managed `/etc/hosts` of a pod with its own network.
pub fn hosts_file(pod: &Pod, pod_ip: &str, domain: &str) -> String {
    let mut text = String::from(
        "# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nfe00::0\tip6-mcastprefix\nfe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n",
    );
    let (hostname, fqdn) = names(pod, domain);
    if !pod_ip.is_empty() {
        match fqdn {
            Some(fqdn) => text.push_str(&format!("{pod_ip}\t{fqdn}\t{hostname}\n")),
            None => text.push_str(&format!("{pod_ip}\t{hostname}\n")),
        }
    }
    let aliases = pod.spec.as_ref().and_then(|spec| spec.host_aliases.clone()).unwrap_or_default();
    if !aliases.is_empty() {
        text.push_str("\n# Entries added by HostAliases.\n");
        for alias in aliases {
            text.push_str(&format!("{}\t{}\n", alias.ip, alias.hostnames.unwrap_or_default().join("\t")));
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(spec: serde_json::Value) -> Pod {
        serde_json::from_value(serde_json::json!({"metadata": {"name": "web-0", "namespace": "shop"}, "spec": spec})).unwrap()
    }

    fn host() -> ResolvConf {
        ResolvConf::parse("# comment\nnameserver 10.0.0.53\nnameserver 10.0.0.54\nsearch corp.example\noptions timeout:2\n")
    }

    #[test]
    fn policies_give_kubernetes_resolv_confs() {
        let servers = vec!["10.96.0.10".to_string()];
        let cluster = Cluster { servers: &servers, domain: "cluster.local" };
        let first = config(&pod(serde_json::json!({"containers": []})), &cluster, &host());
        assert_eq!(first.servers, vec!["10.96.0.10"]);
        assert_eq!(first.searches, vec!["shop.svc.cluster.local", "svc.cluster.local", "cluster.local", "corp.example"]);
        assert_eq!(first.options, vec!["ndots:5"]);

        let host_net = config(&pod(serde_json::json!({"containers": [], "hostNetwork": true})), &cluster, &host());
        assert_eq!(host_net.servers, vec!["10.0.0.53", "10.0.0.54"], "ClusterFirst on the host network uses the node's");
        let with_host_net = config(&pod(serde_json::json!({"containers": [], "hostNetwork": true, "dnsPolicy": "ClusterFirstWithHostNet"})), &cluster, &host());
        assert_eq!(with_host_net.servers, vec!["10.96.0.10"]);

        let default = config(&pod(serde_json::json!({"containers": [], "dnsPolicy": "Default"})), &cluster, &host());
        assert_eq!((default.servers.len(), default.options.clone()), (2, vec!["timeout:2".to_string()]));

        let none = config(
            &pod(serde_json::json!({"containers": [], "dnsPolicy": "None", "dnsConfig": {"nameservers": ["1.1.1.1"], "searches": ["a.example"], "options": [{"name": "ndots", "value": "2"}, {"name": "edns0"}]}})),
            &cluster,
            &host(),
        );
        assert_eq!((none.servers, none.searches, none.options), (vec!["1.1.1.1".to_string()], vec!["a.example".to_string()], vec!["ndots:2".to_string(), "edns0".to_string()]));

        let merged = config(&pod(serde_json::json!({"containers": [], "dnsConfig": {"nameservers": ["10.96.0.10", "8.8.8.8"], "options": [{"name": "ndots", "value": "1"}]}})), &cluster, &host());
        assert_eq!(merged.servers, vec!["10.96.0.10", "8.8.8.8"], "no repeats");
        assert_eq!(merged.options, vec!["ndots:1"], "the pod's option wins");
    }

    #[test]
    fn hosts_and_hostnames_follow_hostname_subdomain_and_aliases() {
        let plain = pod(serde_json::json!({"containers": []}));
        assert!(hosts_file(&plain, "10.244.1.5", "cluster.local").contains("10.244.1.5\tweb-0\n"));
        let named = pod(serde_json::json!({"containers": [], "hostname": "db", "subdomain": "backend", "setHostnameAsFQDN": true,
            "hostAliases": [{"ip": "10.1.2.3", "hostnames": ["foo.local", "bar.local"]}]}));
        let hosts = hosts_file(&named, "10.244.1.6", "cluster.local");
        assert!(hosts.contains("10.244.1.6\tdb.backend.shop.svc.cluster.local\tdb\n"), "{hosts}");
        assert!(hosts.contains("# Entries added by HostAliases.\n10.1.2.3\tfoo.local\tbar.local\n"), "{hosts}");
        assert_eq!(sandbox_hostname(&named, "cluster.local"), "db.backend.shop.svc.cluster.local");
        assert_eq!(sandbox_hostname(&plain, "cluster.local"), "web-0");
    }
}
