//! The seed notes' lighter workloads as the product's acceptance test: `scripts/seed-workloads.sh
//! kafka celery` on a fresh 3-node cluster (the script creates it and deletes it, also when it
//! fails). Kafka: a tansu broker on a claim, 20,000 messages with the broker pod deleted
//! mid-stream, every one consumed after it came back. Celery: Redis on a claim, workers scaled
//! out and back in by an HPA, 2,000 tasks with a worker node stopped mid-run, every result
//! checked. Spark and Airflow are in the script too, for a longer run.

mod support;

use std::process::Command;

#[test]
fn kafka_and_celery_run_as_their_users_deploy_them() {
    let binaries = support::build_release();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/seed-workloads.sh");
    let output = Command::new("bash")
        .args([script, "kafka", "celery"])
        .env("SEED_BINARIES", binaries)
        .output()
        .expect("bash");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    // Printed whether it passes or not: the figures are what a reader of CI's log wants.
    println!("{stdout}");
    assert!(output.status.success(), "seed-workloads.sh failed:\n{stdout}\n{stderr}");
    for workload in ["kafka", "celery"] {
        assert!(stdout.lines().any(|line| line.starts_with(&format!("{workload}: passed in "))), "no passed line for {workload}:\n{stdout}\n{stderr}");
    }
}
