//! `rotate-encryption-key`: replaces a cluster's encryption key as Kubernetes' documentation says
//! to (the new key second, then first, every Secret rewritten, the old key dropped), restarting
//! the apiservers between steps.

use std::time::{Duration, Instant};

use crate::cluster;
use crate::docker;
use crate::encryption::{self, CONFIG_PATH, Key, keys_of};
use crate::error::ClusterError;

/// Restarts each control plane's apiserver (its supervisor starts it again, reading the
/// configuration anew) and waits until it is ready.
async fn restart_apiservers(control_planes: &[String]) -> Result<(), ClusterError> {
    for node in control_planes {
        docker::run(&["exec", node, "killall", "apiserver"]).await?;
        let deadline = Instant::now() + Duration::from_secs(60);
        // The old process may answer for a moment while it stops; wait for it to go first.
        tokio::time::sleep(Duration::from_millis(500)).await;
        while docker::run(&["exec", node, "sh", "-c", &cluster::ready_check()]).await.is_err() {
            if Instant::now() > deadline {
                return Err(ClusterError::NotReady(format!("the apiserver on {node} did not come back within 60 s (see `cluster export logs`)")));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    Ok(())
}

/// Writes every Secret back unchanged, so that each is stored under the first key.
async fn rewrite_secrets(client: &kube::Client) -> Result<usize, ClusterError> {
    use http::Method;
    let failed = |what: String| ClusterError::NotReady(what);
    let list = cluster::request(client, Method::GET, "/api/v1/secrets", None).await.map_err(|err| failed(format!("listing Secrets: {err}")))?;
    let mut count = 0;
    for item in list["items"].as_array().into_iter().flatten() {
        let (namespace, name) = (item["metadata"]["namespace"].as_str().unwrap_or_default(), item["metadata"]["name"].as_str().unwrap_or_default());
        let path = format!("/api/v1/namespaces/{namespace}/secrets/{name}");
        let mut body = item.clone();
        body["apiVersion"] = "v1".into();
        body["kind"] = "Secret".into();
        for _ in 0..5 {
            match cluster::request(client, Method::PUT, &path, Some(&body)).await {
                Ok(_) => break,
                Err(err) if err.contains("NotFound") || err.contains("not found") => break,
                // Changed meanwhile (and so written under the current key anyway): take the
                // latest and write it again.
                Err(err) if err.contains("Conflict") || err.contains("modified") => {
                    body = cluster::request(client, Method::GET, &path, None).await.map_err(|err| failed(format!("reading Secret {namespace}/{name}: {err}")))?;
                }
                Err(err) => return Err(failed(format!("rewriting Secret {namespace}/{name}: {err}"))),
            }
        }
        count += 1;
    }
    Ok(count)
}

/// Replaces the cluster's encryption key with a new one, with every Secret rewritten under it.
pub async fn rotate(name: &str) -> Result<Key, ClusterError> {
    let control_planes = cluster::control_planes(name).await?;
    let first = control_planes.first().ok_or_else(|| ClusterError::Missing(name.to_string()))?;
    let old = keys_of(&docker::run(&["exec", first, "cat", CONFIG_PATH]).await?)?;
    let new = Key::generate()?;
    let started = Instant::now();
    let steps: [(&str, Vec<Key>); 2] = [
        ("Adding the new key (every apiserver can read it)", [old.clone(), vec![new.clone()]].concat()),
        ("Making the new key the one that encrypts", [vec![new.clone()], old.clone()].concat()),
    ];
    for (what, keys) in steps {
        for node in &control_planes {
            encryption::write(node, &keys).await?;
        }
        restart_apiservers(&control_planes).await?;
        println!(" ✓ {what} ({:.1}s)", started.elapsed().as_secs_f64());
    }
    let rewritten = rewrite_secrets(&cluster::admin_client(name).await?).await?;
    println!(" ✓ Rewriting {rewritten} Secret(s) under the new key ({:.1}s)", started.elapsed().as_secs_f64());
    for node in &control_planes {
        encryption::write(node, std::slice::from_ref(&new)).await?;
    }
    restart_apiservers(&control_planes).await?;
    println!(" ✓ Dropping the old key ({:.1}s)", started.elapsed().as_secs_f64());
    Ok(new)
}
