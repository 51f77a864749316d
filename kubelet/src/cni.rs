//! The node's pod network as containerd's CNI support reads it: one bridge with host-local
//! addresses from the node's podCIDR, and portmap for hostPorts.

use std::path::Path;

/// Writes `<dir>/10-<bridge>.conflist` when its content differs, atomically (containerd watches
/// the directory and must never read half a file). The host-local allocations live beside the
/// config, so that a node's addresses go with its directory.
pub fn write_config(dir: &Path, bridge: &str, pod_cidr: &str) -> std::io::Result<()> {
    if common::names::parse_cidr(pod_cidr).is_none() {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("podCIDR {pod_cidr:?} is not a CIDR")));
    }
    std::fs::create_dir_all(dir)?;
    let data_dir = dir.join(format!(".{bridge}-ipam"));
    let config = serde_json::json!({
        "cniVersion": "0.4.0",
        "name": bridge,
        "plugins": [
            {
                "type": "bridge",
                "bridge": bridge,
                "isGateway": true,
                "hairpinMode": true,
                // Pods talk to other nodes' pods by their own addresses; masquerading, where it
                // is needed, is the node proxy's job, as with kind's kindnetd.
                "ipMasq": false,
                "ipam": {
                    "type": "host-local",
                    "ranges": [[{"subnet": pod_cidr}]],
                    "routes": [{"dst": "0.0.0.0/0"}],
                    "dataDir": data_dir,
                },
            },
            {"type": "portmap", "capabilities": {"portMappings": true}},
        ],
    });
    let path = dir.join(format!("10-{bridge}.conflist"));
    let text = serde_json::to_string_pretty(&config).map_err(std::io::Error::other)?;
    if std::fs::read_to_string(&path).is_ok_and(|existing| existing == text) {
        return Ok(());
    }
    let temporary = dir.join(format!(".10-{bridge}.conflist.tmp"));
    std::fs::write(&temporary, text)?;
    std::fs::rename(&temporary, &path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_a_bridge_config_on_the_pod_cidr_once() {
        let dir = tempfile::tempdir().unwrap();
        write_config(dir.path(), "cni-test", "10.244.3.0/24").unwrap();
        let path = dir.path().join("10-cni-test.conflist");
        let config: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(config["plugins"][0]["bridge"], "cni-test");
        assert_eq!(config["plugins"][0]["ipam"]["ranges"][0][0]["subnet"], "10.244.3.0/24");
        let modified = std::fs::metadata(&path).unwrap().modified().unwrap();
        write_config(dir.path(), "cni-test", "10.244.3.0/24").unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().modified().unwrap(), modified, "an unchanged config is not rewritten");
        assert!(write_config(dir.path(), "cni-test", "not-a-cidr").is_err());
    }
}
