//! Components that crash while a cluster comes up. Each node's run script restarts a component
//! that exits and says so in its log (`NAME exited (N); restarting`); while `create` and
//! `add-node` wait, they look for that line, so that a bad flag fails them in seconds with the
//! end of the log, not after the whole wait with nothing to go on.

use std::future::Future;
use std::time::Duration;

use crate::docker;
use crate::error::{ClusterError, Crash, LOG_DIR};

/// How much of the log a crash shows: enough for a usage error and the lines before it.
const TAIL_LINES: usize = 20;

/// How often the nodes are asked: each look is a `docker exec` per node.
const PERIOD: Duration = Duration::from_secs(1);

/// Runs `wait` to its end, unless a component on one of `nodes` crashes first, which fails it.
pub async fn unless_crashed<T>(nodes: &[String], wait: impl Future<Output = Result<T, ClusterError>>) -> Result<T, ClusterError> {
    tokio::select! {
        result = wait => result,
        crash = watch(nodes) => Err(ClusterError::Crashed(Box::new(crash))),
    }
}

/// Looks at `nodes` every [`PERIOD`] until a component on one has exited.
async fn watch(nodes: &[String]) -> Crash {
    loop {
        tokio::time::sleep(PERIOD).await;
        for node in nodes {
            if let Some(crash) = look(node).await {
                return crash;
            }
        }
    }
}

/// The first component on `node` whose log says it exited, with the end of that log. A node
/// that cannot be asked (not started yet, or gone) has nothing to say.
async fn look(node: &str) -> Option<Crash> {
    // The first line names the log, the rest is its tail; nothing when no component exited.
    let script = format!(
        "cd {LOG_DIR} 2>/dev/null || exit 0; for log in *.log; do name=${{log%.log}}; \
         if grep -q \"^$name exited (\" \"$log\" 2>/dev/null; then echo \"$name\"; tail -n {TAIL_LINES} \"$log\"; exit 0; fi; done"
    );
    let output = docker::run(&["exec", node, "sh", "-c", &script]).await.ok()?;
    parse(node, &output)
}

/// What [`look`]'s script printed, as a crash.
fn parse(node: &str, output: &str) -> Option<Crash> {
    let (component, tail) = output.split_once('\n')?;
    let component = component.trim();
    let marker = format!("{component} exited (");
    let status = tail.lines().rev().find_map(|line| line.strip_prefix(&marker)?.split_once(')').map(|(status, _)| status.to_string()));
    Some(Crash { node: node.to_string(), component: component.to_string(), status: status.unwrap_or_else(|| "?".into()), tail: tail.trim_end().to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_crash_is_read_from_the_log_tail() {
        let output = "kubelet\nerror: unexpected argument '--no-such-flag' found\n\nUsage: kubelet [OPTIONS]\nkubelet exited (2); restarting\nerror: unexpected argument '--no-such-flag' found\n";
        let crash = parse("c-worker", output).unwrap();
        assert_eq!((crash.node.as_str(), crash.component.as_str(), crash.status.as_str()), ("c-worker", "kubelet", "2"));
        assert!(crash.tail.starts_with("error: unexpected argument") && crash.tail.ends_with("found"), "{}", crash.tail);
        assert_eq!(crash.log_path(), "/var/log/cluster/kubelet.log");
        assert_eq!(parse("c-worker", ""), None, "no component exited");
    }
}
