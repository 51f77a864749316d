//! The audit log of the real apiserver, written while kubectl works with Secrets: one JSON event
//! per line and stage, who, what, which object and the code, and never a Secret's data.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;
use std::time::{Duration, Instant};

use common::testing::{ApiServer, Storage};
use serde_json::Value;

#[test]
fn requests_are_audited_without_secret_data() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let server = ApiServer::start_with_args(Storage::Embedded, &[&format!("--audit-log-path={}", path.display())]).expect("apiserver");
    let kubectl = |args: &[&str]| Command::new("kubectl").arg(format!("--kubeconfig={}", server.kubeconfig().display())).args(args).output().expect("kubectl");
    assert!(kubectl(&["create", "secret", "generic", "db", "--from-literal=password=hunter2"]).status.success());
    assert!(kubectl(&["get", "secret", "db", "-o", "yaml"]).status.success());
    assert!(!kubectl(&["get", "secret", "absent"]).status.success());

    // The writer thread appends shortly after each answer.
    let deadline = Instant::now() + Duration::from_secs(10);
    let events = loop {
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let events: Vec<Value> = text.lines().map(|line| serde_json::from_str(line).expect("each line is one JSON event")).collect();
        let done = events.iter().any(|e| e["objectRef"]["name"] == "absent" && e["stage"] == "ResponseComplete");
        if done || Instant::now() > deadline {
            assert!(!text.contains("hunter2") && !text.contains("aHVudGVyMg=="), "Secret data in the audit log");
            break events;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let find = |verb: &str, name: &str, stage: &str| {
        events
            .iter()
            .find(|e| e["verb"] == verb && e["objectRef"]["name"] == name && e["stage"] == stage)
            .unwrap_or_else(|| panic!("no {stage} event for {verb} {name} in {events:#?}"))
    };
    assert!(events.iter().any(|e| e["verb"] == "create" && e["objectRef"]["resource"] == "secrets" && e["responseStatus"]["code"] == 201), "the create is audited");
    let got = find("get", "db", "ResponseComplete");
    assert_eq!(got["apiVersion"], "audit.k8s.io/v1");
    assert_eq!(got["level"], "Metadata");
    assert_eq!(got["objectRef"]["resource"], "secrets");
    assert_eq!(got["objectRef"]["namespace"], "default");
    assert_eq!(got["responseStatus"]["code"], 200);
    // Without an authenticator every request acts as the administrator.
    assert_eq!(got["user"]["username"], "system:admin");
    assert!(got["userAgent"].as_str().unwrap_or_default().starts_with("kubectl/"));
    assert!(got.get("requestObject").is_none() && got.get("responseObject").is_none());
    let received = find("get", "db", "RequestReceived");
    assert_eq!(received["auditID"], got["auditID"], "both stages share the audit ID");
    assert!(got["stageTimestamp"].as_str() >= got["requestReceivedTimestamp"].as_str());
    assert_eq!(find("get", "absent", "ResponseComplete")["responseStatus"]["code"], 404);
}
