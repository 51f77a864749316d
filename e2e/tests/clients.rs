//! Third-party clients' own test suites against a kind-style cluster (issue 20): the Python
//! `kubernetes` client's e2e tests and kr8s' tests, run unedited by `e2e/clients/run.sh`, which
//! prints passed/failed/skipped per suite and fails when a test fails or a test listed as an
//! expected failure (an API a later issue builds) passes.
//!
//! The suites' pods run busybox and pause, named as on Docker Hub and gcr.io; the cluster pulls
//! them from its local registry, which the nodes use as a mirror of those registries
//! (`cluster create --registry --mirror ...`), as a pull-through cache would serve them.
//!
//! Needs on the host: kubectl, python3 with venv, and the Debian archive and PyPI reachable (the
//! script installs the pinned suites once into /var/tmp/client-suites).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::process::Command;

use support::{Cluster, free_port, ok, text};

/// The images the suites name, and the local image each is served from.
const MIRRORED: [(&str, &str); 3] = [
    ("library/busybox:latest", "localhost/busybox:local"),
    ("google_containers/pause:latest", "localhost/pause:local"),
    ("pause:2.0", "localhost/pause:local"),
];

#[test]
fn the_python_client_and_kr8s_suites_pass_against_the_cluster() {
    let port = free_port().to_string();
    let mut flags = vec!["--registry", &port];
    for registry in ["docker.io", "gcr.io", "k8s.gcr.io", "registry.k8s.io"] {
        flags.extend(["--mirror", registry]);
    }
    // One node, as pytest-kind makes for kr8s' own runs: a lone control plane is untainted, and
    // kr8s' taint test expects the first node to carry no taint of ours.
    let cluster = Cluster::create_with(1, None, &flags);
    cluster.load_test_images_into_docker();
    for (name, local) in MIRRORED {
        let pushed = format!("localhost:{port}/{name}");
        ok(cluster.docker(&["tag", local, &pushed]));
        ok(cluster.docker(&["push", &pushed]));
        let _ = cluster.docker(&["rmi", &pushed]);
    }

    let output = Command::new("bash")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/clients/run.sh"))
        .env("KUBECONFIG", cluster.kubeconfig())
        .output()
        .expect("e2e/clients/run.sh");
    let summary = text(&output);
    println!("{summary}");
    assert!(
        output.status.success(),
        "a client suite failed:\n{summary}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for suite in ["python", "kr8s"] {
        let line = summary.lines().find(|line| line.starts_with(suite)).unwrap_or_default();
        assert!(line.contains(" passed"), "the {suite} suite ran no test: {summary}");
    }
}
