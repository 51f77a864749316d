//! The Job controller in the real controller-manager binary against the real apiserver. No
//! kubelet runs: a task in each test plays it, running each new pod and finishing it as the test
//! says (success, or failure with an exit code), and finishing deletions.

mod support;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use support::Cluster;

/// How the fake kubelet ends a pod: `Some(exit code)`, or None to leave it running.
type Outcome = fn(&Value) -> Option<i32>;

/// Plays kubelet for the namespace until dropped: binds and runs new pods, ends them per
/// `outcome`, and completes deletions the way a kubelet does (the pod ends, then goes).
struct FakeKubelet {
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl FakeKubelet {
    fn start(cluster: &Arc<Cluster>, namespace: &'static str, outcome: Outcome) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let (cluster, flag) = (cluster.clone(), stop.clone());
        let task = tokio::spawn(async move {
            while !flag.load(Ordering::Relaxed) {
                for pod in cluster.items(&format!("/api/v1/namespaces/{namespace}/pods")).await {
                    let name = pod["metadata"]["name"].as_str().unwrap_or_default().to_string();
                    let phase = pod["status"]["phase"].as_str().unwrap_or("Pending").to_string();
                    let terminal = phase == "Succeeded" || phase == "Failed";
                    let path = format!("/api/v1/namespaces/{namespace}/pods/{name}");
                    if pod["metadata"]["deletionTimestamp"].is_string() {
                        if !terminal {
                            finish(&cluster, &path, 137).await;
                        }
                        cluster.delete(&path, &json!({"gracePeriodSeconds": 0})).await;
                    } else if phase == "Pending" {
                        cluster.run_pod(namespace, &name, "node-1", "10.244.0.9", true).await;
                    } else if phase == "Running" {
                        if let Some(code) = outcome(&pod) {
                            finish(&cluster, &path, code).await;
                        }
                    }
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        });
        Self { stop, task }
    }
}

impl Drop for FakeKubelet {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        self.task.abort();
    }
}

async fn finish(cluster: &Cluster, path: &str, code: i32) {
    let now = jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
    let phase = if code == 0 { "Succeeded" } else { "Failed" };
    let patch = json!({"status": {"phase": phase, "conditions": [{"type": "Ready", "status": "False", "lastTransitionTime": now}],
        "containerStatuses": [{"name": "c", "image": "busybox:local", "imageID": "", "ready": false, "restartCount": 0,
            "state": {"terminated": {"exitCode": code, "reason": if code == 0 { "Completed" } else { "Error" }, "startedAt": now, "finishedAt": now}}}]}});
    cluster.merge_patch(&format!("{path}/status"), &patch).await;
}

fn job(name: &str, spec: Value) -> Value {
    let mut spec = spec;
    spec["template"] = json!({"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox:local"}]}});
    json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name}, "spec": spec})
}

fn condition<'a>(job: &'a Value, type_: &str) -> Option<&'a Value> {
    job["status"]["conditions"].as_array()?.iter().find(|condition| condition["type"] == type_ && condition["status"] == "True")
}

async fn wait_condition(cluster: &Cluster, namespace: &str, name: &str, type_: &str, within: Duration) -> Value {
    cluster
        .wait_for(&format!("job {name} {type_}"), within, || async {
            let job = cluster.get(&format!("/apis/batch/v1/namespaces/{namespace}/jobs/{name}")).await;
            if condition(&job, type_).is_some() { Ok(job) } else { Err(job["status"].to_string()) }
        })
        .await
}

async fn job_pods(cluster: &Cluster, namespace: &str, name: &str) -> Vec<Value> {
    cluster.items(&format!("/api/v1/namespaces/{namespace}/pods?labelSelector=batch.kubernetes.io/job-name={name}")).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_runs_its_completions_in_parallel_and_completes() {
    const NS: &str = "complete";
    let cluster = Arc::new(Cluster::start());
    let _manager = cluster.controller_manager(&["--controllers=job"]);
    cluster.namespace(NS).await;
    // Pods run until the test lets them succeed, so that parallelism can be seen.
    let _kubelet = FakeKubelet::start(&cluster, NS, |pod| pod["metadata"]["labels"]["finish"].as_str().map(|_| 0));
    cluster.create(&format!("/apis/batch/v1/namespaces/{NS}/jobs"), &job("three", json!({"completions": 3, "parallelism": 2}))).await;

    let running = cluster
        .wait_for("two pods running", Duration::from_secs(20), || async {
            let pods = job_pods(&cluster, NS, "three").await;
            let running: Vec<String> = pods.iter().filter(|pod| pod["status"]["phase"] == "Running").filter_map(|pod| pod["metadata"]["name"].as_str().map(String::from)).collect();
            if running.len() == 2 { Ok(running) } else { Err(format!("{pods:?}")) }
        })
        .await;
    let pods = job_pods(&cluster, NS, "three").await;
    assert_eq!(pods.len(), 2, "parallelism 2 makes two pods at first: {pods:?}");
    for pod in &pods {
        assert_eq!(pod["metadata"]["finalizers"], json!(["batch.kubernetes.io/job-tracking"]), "{pod}");
        assert_eq!(pod["metadata"]["ownerReferences"][0]["kind"], "Job");
        assert!(pod["metadata"]["generateName"] == "three-", "{pod}");
    }
    let status = cluster
        .wait_for("active 2, ready 2", Duration::from_secs(20), || async {
            let job = cluster.get(&format!("/apis/batch/v1/namespaces/{NS}/jobs/three")).await;
            if job["status"]["active"] == 2 && job["status"]["ready"] == 2 && job["status"]["startTime"].is_string() { Ok(job["status"].clone()) } else { Err(job["status"].to_string()) }
        })
        .await;
    assert_eq!(status["uncountedTerminatedPods"], json!({}), "{status}");
    for name in &running {
        cluster.merge_patch(&format!("/api/v1/namespaces/{NS}/pods/{name}"), &json!({"metadata": {"labels": {"finish": "yes"}}})).await;
    }
    // Two succeed, a third comes; the test lets every later pod succeed too.
    cluster
        .wait_for("a third pod", Duration::from_secs(20), || async {
            let pods = job_pods(&cluster, NS, "three").await;
            let fresh: Vec<&Value> = pods.iter().filter(|pod| pod["status"]["phase"] == "Running" && pod["metadata"]["labels"]["finish"].is_null()).collect();
            if let Some(pod) = fresh.first() {
                let name = pod["metadata"]["name"].as_str().unwrap_or_default();
                cluster.merge_patch(&format!("/api/v1/namespaces/{NS}/pods/{name}"), &json!({"metadata": {"labels": {"finish": "yes"}}})).await;
                Ok(())
            } else {
                Err(format!("{pods:?}"))
            }
        })
        .await;
    let job = wait_condition(&cluster, NS, "three", "Complete", Duration::from_secs(30)).await;
    assert_eq!(job["status"]["succeeded"], 3, "{}", job["status"]);
    assert!(job["status"]["failed"].is_null() || job["status"]["failed"] == 0, "{}", job["status"]);
    assert_eq!(job["status"]["active"].as_i64().unwrap_or(0), 0);
    assert!(job["status"]["completionTime"].is_string());
    assert!(condition(&job, "SuccessCriteriaMet").is_some(), "{}", job["status"]);
    assert_eq!(condition(&job, "Complete").unwrap()["reason"], "CompletionsReached");
    let pods = job_pods(&cluster, NS, "three").await;
    assert_eq!(pods.len(), 3, "exactly three pods: {pods:?}");
    assert!(pods.iter().all(|pod| pod["metadata"]["finalizers"].is_null()), "finalizers gone: {pods:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_job_stops_at_its_backoff_limit() {
    const NS: &str = "failing";
    let cluster = Arc::new(Cluster::start());
    let _manager = cluster.controller_manager(&["--controllers=job"]);
    cluster.namespace(NS).await;
    let _kubelet = FakeKubelet::start(&cluster, NS, |_| Some(1));
    // backoffLimit 1: two pods fail (10 s of back-off between them), then the Job fails.
    cluster.create(&format!("/apis/batch/v1/namespaces/{NS}/jobs"), &job("broken", json!({"backoffLimit": 1}))).await;
    let job = wait_condition(&cluster, NS, "broken", "Failed", Duration::from_secs(60)).await;
    let failed = condition(&job, "Failed").unwrap();
    assert_eq!(failed["reason"], "BackoffLimitExceeded");
    assert_eq!(failed["message"], "Job has reached the specified backoff limit");
    assert!(condition(&job, "FailureTarget").is_some());
    assert_eq!(job["status"]["failed"], 2, "{}", job["status"]);
    assert!(job["status"]["completionTime"].is_null());
    let pods = job_pods(&cluster, NS, "broken").await;
    assert_eq!(pods.len(), 2, "{pods:?}");
    // The back-off between the two pods is Kubernetes' 10 s.
    let created: Vec<jiff::Timestamp> = pods.iter().filter_map(|pod| pod["metadata"]["creationTimestamp"].as_str()?.parse().ok()).collect();
    let gap = created[0].duration_since(created[1]).as_secs().abs();
    assert!(gap >= 9, "the second pod waited for the back-off: {created:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_indexed_job_gives_each_pod_its_index() {
    const NS: &str = "indexed";
    let cluster = Arc::new(Cluster::start());
    let _manager = cluster.controller_manager(&["--controllers=job"]);
    cluster.namespace(NS).await;
    let _kubelet = FakeKubelet::start(&cluster, NS, |_| Some(0));
    cluster.create(&format!("/apis/batch/v1/namespaces/{NS}/jobs"), &job("idx", json!({"completions": 3, "parallelism": 3, "completionMode": "Indexed"}))).await;
    let job = wait_condition(&cluster, NS, "idx", "Complete", Duration::from_secs(30)).await;
    assert_eq!(job["status"]["completedIndexes"], "0-2", "{}", job["status"]);
    assert_eq!(job["status"]["succeeded"], 3);
    let pods = job_pods(&cluster, NS, "idx").await;
    let indexes: BTreeSet<String> = pods.iter().filter_map(|pod| pod["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"].as_str().map(String::from)).collect();
    assert_eq!(indexes, ["0", "1", "2"].into_iter().map(String::from).collect());
    for pod in &pods {
        let index = pod["metadata"]["labels"]["batch.kubernetes.io/job-completion-index"].as_str().unwrap_or_default();
        assert_eq!(pod["spec"]["hostname"], format!("idx-{index}"));
        assert!(pod["metadata"]["name"].as_str().unwrap_or_default().starts_with(&format!("idx-{index}-")));
        let env = &pod["spec"]["containers"][0]["env"][0];
        assert_eq!(env["name"], "JOB_COMPLETION_INDEX");
        assert_eq!(env["valueFrom"]["fieldRef"]["fieldPath"], "metadata.annotations['batch.kubernetes.io/job-completion-index']");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_suspended_job_makes_no_pods_until_resumed_and_a_deadline_fails_it() {
    const NS: &str = "suspend";
    let cluster = Arc::new(Cluster::start());
    let _manager = cluster.controller_manager(&["--controllers=job"]);
    cluster.namespace(NS).await;
    let _kubelet = FakeKubelet::start(&cluster, NS, |_| None);
    cluster.create(&format!("/apis/batch/v1/namespaces/{NS}/jobs"), &job("later", json!({"suspend": true, "activeDeadlineSeconds": 3}))).await;
    let job = wait_condition(&cluster, NS, "later", "Suspended", Duration::from_secs(20)).await;
    assert_eq!(condition(&job, "Suspended").unwrap()["reason"], "JobSuspended");
    assert!(job_pods(&cluster, NS, "later").await.is_empty());
    cluster.merge_patch(&format!("/apis/batch/v1/namespaces/{NS}/jobs/later"), &json!({"spec": {"suspend": false}})).await;
    // Running forever, the pod outlives the deadline: the Job fails and its pod is deleted.
    let job = wait_condition(&cluster, NS, "later", "Failed", Duration::from_secs(30)).await;
    assert_eq!(condition(&job, "Failed").unwrap()["reason"], "DeadlineExceeded");
    let suspended = job["status"]["conditions"].as_array().unwrap().iter().find(|condition| condition["type"] == "Suspended").cloned().unwrap_or_default();
    assert_eq!(suspended["status"], "False");
    assert_eq!(suspended["reason"], "JobResumed");
    cluster
        .wait_for("the pod deleted", Duration::from_secs(20), || async {
            let pods = job_pods(&cluster, NS, "later").await;
            if pods.is_empty() { Ok(()) } else { Err(format!("{pods:?}")) }
        })
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_controller_manager_counts_every_pod_exactly_once() {
    const NS: &str = "restart";
    const COMPLETIONS: i64 = 12;
    let cluster = Arc::new(Cluster::start());
    let mut manager = cluster.controller_manager(&["--controllers=job"]);
    cluster.namespace(NS).await;
    let _kubelet = FakeKubelet::start(&cluster, NS, |_| Some(0));
    cluster.create(&format!("/apis/batch/v1/namespaces/{NS}/jobs"), &job("many", json!({"completions": COMPLETIONS, "parallelism": 4}))).await;
    // Killed (SIGKILL) and restarted twice while pods finish.
    for _ in 0..2 {
        cluster
            .wait_for("some pods finishing", Duration::from_secs(30), || async {
                let pods = job_pods(&cluster, NS, "many").await;
                let finished = pods.iter().filter(|pod| pod["status"]["phase"] == "Succeeded").count();
                if finished >= 2 { Ok(()) } else { Err(format!("{finished} finished")) }
            })
            .await;
        manager.kill();
        tokio::time::sleep(Duration::from_millis(300)).await;
        manager.start_again().unwrap();
    }
    let job = wait_condition(&cluster, NS, "many", "Complete", Duration::from_secs(60)).await;
    assert_eq!(job["status"]["succeeded"], COMPLETIONS, "{}", job["status"]);
    let pods = job_pods(&cluster, NS, "many").await;
    let succeeded = pods.iter().filter(|pod| pod["status"]["phase"] == "Succeeded").count();
    assert_eq!(i64::try_from(succeeded).unwrap(), COMPLETIONS, "no more pods succeeded than counted: {pods:?}");
    let tracked: Vec<&Value> = pods.iter().filter(|pod| !pod["metadata"]["finalizers"].is_null()).collect();
    assert!(tracked.is_empty(), "pods still tracked: {tracked:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finished_job_goes_after_its_ttl_and_pods_of_a_deleted_job_are_released() {
    const NS: &str = "ttl";
    let cluster = Arc::new(Cluster::start());
    // The garbage collector finishes the TTL's foreground deletion.
    let _manager = cluster.controller_manager(&["--controllers=job,garbagecollector"]);
    cluster.namespace(NS).await;
    let _kubelet = FakeKubelet::start(&cluster, NS, |pod| pod["metadata"]["name"].as_str().is_some_and(|name| name.starts_with("short-")).then_some(0));
    cluster.create(&format!("/apis/batch/v1/namespaces/{NS}/jobs"), &job("short", json!({"ttlSecondsAfterFinished": 1}))).await;
    cluster
        .wait_for("the finished job deleted", Duration::from_secs(30), || async {
            match cluster.get_opt(&format!("/apis/batch/v1/namespaces/{NS}/jobs/short")).await {
                None => Ok(()),
                Some(job) => Err(job["status"].to_string()),
            }
        })
        .await;

    // A Job deleted while its pod runs, its pods orphaned: the pod stays, released.
    cluster.create(&format!("/apis/batch/v1/namespaces/{NS}/jobs"), &job("long", json!({}))).await;
    cluster
        .wait_for("a running pod", Duration::from_secs(20), || async {
            let pods = job_pods(&cluster, NS, "long").await;
            if pods.iter().any(|pod| pod["status"]["phase"] == "Running") { Ok(()) } else { Err(format!("{pods:?}")) }
        })
        .await;
    cluster.delete(&format!("/apis/batch/v1/namespaces/{NS}/jobs/long"), &json!({"propagationPolicy": "Orphan"})).await;
    cluster
        .wait_for("the orphan released", Duration::from_secs(20), || async {
            let pods = job_pods(&cluster, NS, "long").await;
            if !pods.is_empty() && pods.iter().all(|pod| pod["metadata"]["finalizers"].is_null()) { Ok(()) } else { Err(format!("{pods:?}")) }
        })
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cron_job_starts_jobs_on_schedule_and_keeps_its_history_limits() {
    const NS: &str = "cron";
    let cluster = Arc::new(Cluster::start());
    let _manager = cluster.controller_manager(&["--controllers=job,cronjob"]);
    cluster.namespace(NS).await;
    let _kubelet = FakeKubelet::start(&cluster, NS, |_| Some(0));
    let cron_job = json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "tick"},
        "spec": {"schedule": "* * * * *", "successfulJobsHistoryLimit": 1, "concurrencyPolicy": "Forbid",
                 "jobTemplate": {"metadata": {"labels": {"from": "tick"}}, "spec": {"template": {"spec": {"restartPolicy": "OnFailure",
                     "containers": [{"name": "c", "image": "busybox:local"}]}}}}}});
    let created = cluster.create(&format!("/apis/batch/v1/namespaces/{NS}/cronjobs"), &cron_job).await;
    let uid = created["metadata"]["uid"].clone();

    // Finished Jobs of earlier runs, made by hand: all but the newest successful one go.
    for (minute, condition) in [(1, "Complete"), (2, "Complete"), (3, "Failed")] {
        let old = json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": format!("tick-{minute}"), "labels": {"from": "tick"},
            "ownerReferences": [{"apiVersion": "batch/v1", "kind": "CronJob", "name": "tick", "uid": uid, "controller": true}]},
            "spec": {"suspend": true, "template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox:local"}]}}}});
        cluster.create(&format!("/apis/batch/v1/namespaces/{NS}/jobs"), &old).await;
        let now = jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
        let mut status = json!({"conditions": [{"type": condition, "status": "True", "lastTransitionTime": now}]});
        if condition == "Complete" {
            status["completionTime"] = json!(now);
            status["startTime"] = json!(format!("2026-01-01T00:0{minute}:00Z"));
        }
        cluster.merge_patch(&format!("/apis/batch/v1/namespaces/{NS}/jobs/tick-{minute}/status"), &json!({"status": status})).await;
    }
    cluster
        .wait_for("the history cut to its limits", Duration::from_secs(20), || async {
            let names: BTreeSet<String> = cluster.items(&format!("/apis/batch/v1/namespaces/{NS}/jobs")).await.iter()
                .filter(|job| job["metadata"]["deletionTimestamp"].is_null())
                .filter_map(|job| job["metadata"]["name"].as_str().map(String::from)).collect();
            if names.contains("tick-2") && names.contains("tick-3") && !names.contains("tick-1") { Ok(()) } else { Err(format!("{names:?}")) }
        })
        .await;

    // Within 75 s the schedule names a minute, and the Job for it comes, named for it.
    let job = cluster
        .wait_for("a scheduled job", Duration::from_secs(75), || async {
            let jobs = cluster.items(&format!("/apis/batch/v1/namespaces/{NS}/jobs")).await;
            jobs.into_iter().find(|job| job["metadata"]["annotations"]["batch.kubernetes.io/cronjob-scheduled-timestamp"].is_string()).ok_or_else(|| "none yet".to_string())
        })
        .await;
    let scheduled: jiff::Timestamp = job["metadata"]["annotations"]["batch.kubernetes.io/cronjob-scheduled-timestamp"].as_str().unwrap().parse().unwrap();
    assert_eq!(job["metadata"]["name"], format!("tick-{}", scheduled.as_second() / 60));
    assert_eq!(job["metadata"]["labels"]["from"], "tick");
    assert_eq!(job["metadata"]["ownerReferences"][0]["uid"], uid);
    let cron = cluster
        .wait_for("the last schedule time and the last success", Duration::from_secs(30), || async {
            let cron = cluster.get(&format!("/apis/batch/v1/namespaces/{NS}/cronjobs/tick")).await;
            let status = &cron["status"];
            let done = status["lastScheduleTime"].as_str().and_then(|text| text.parse::<jiff::Timestamp>().ok()) == Some(scheduled) && status["active"].is_null()
                && status["lastSuccessfulTime"].is_string();
            if done { Ok(cron) } else { Err(status.to_string()) }
        })
        .await;
    assert!(cron["status"]["lastSuccessfulTime"].is_string());
    // Its success took the one place the history keeps: tick-2 went.
    cluster
        .wait_for("tick-2 deleted", Duration::from_secs(20), || async {
            let names: BTreeSet<String> = cluster.items(&format!("/apis/batch/v1/namespaces/{NS}/jobs")).await.iter()
                .filter(|job| job["metadata"]["deletionTimestamp"].is_null())
                .filter_map(|job| job["metadata"]["name"].as_str().map(String::from)).collect();
            if !names.contains("tick-2") && names.contains("tick-3") { Ok(()) } else { Err(format!("{names:?}")) }
        })
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fail_job_rule_fails_the_job_at_the_first_matching_exit_code() {
    const NS: &str = "policy";
    let cluster = Arc::new(Cluster::start());
    let _manager = cluster.controller_manager(&["--controllers=job"]);
    cluster.namespace(NS).await;
    let _kubelet = FakeKubelet::start(&cluster, NS, |_| Some(42));
    let policy = json!({"backoffLimit": 6, "podFailurePolicy": {"rules": [{"action": "FailJob", "onExitCodes": {"containerName": "c", "operator": "In", "values": [42]}}]}});
    cluster.create(&format!("/apis/batch/v1/namespaces/{NS}/jobs"), &job("fatal", policy)).await;
    let job = wait_condition(&cluster, NS, "fatal", "Failed", Duration::from_secs(30)).await;
    let failed = condition(&job, "Failed").unwrap();
    assert_eq!(failed["reason"], "PodFailurePolicy");
    let pod = job_pods(&cluster, NS, "fatal").await;
    assert_eq!(pod.len(), 1, "no second pod after a FailJob rule: {pod:?}");
    let name = pod[0]["metadata"]["name"].as_str().unwrap_or_default();
    assert_eq!(failed["message"], format!("Container c for pod {NS}/{name} failed with exit code 42 matching FailJob rule at index 0"));
    assert_eq!(job["status"]["failed"], 1);
}

/// The time a Job was made for is recorded even when the write saying so was lost: a sync that
/// finds the Job for the due time already there (made before a crash, or seen from an older copy
/// of the CronJob) records that time as the last schedule instead of leaving the older one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cron_job_records_a_scheduled_time_whose_job_exists() {
    const NS: &str = "cron-lost";
    let cluster = Arc::new(Cluster::start());
    let _manager = cluster.controller_manager(&["--controllers=cronjob"]);
    cluster.namespace(NS).await;
    // Yearly, at the start of the year in UTC: the due time is this year's, last year's is known.
    let year = jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC).year();
    let due: jiff::Timestamp = format!("{year}-01-01T00:00:00Z").parse().unwrap();
    let cron_job = json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "yearly"},
        "spec": {"schedule": "0 0 1 1 *", "timeZone": "UTC", "suspend": true,
                 "jobTemplate": {"spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox:local"}]}}}}}});
    let created = cluster.create(&format!("/apis/batch/v1/namespaces/{NS}/cronjobs"), &cron_job).await;
    let uid = created["metadata"]["uid"].clone();
    let path = format!("/apis/batch/v1/namespaces/{NS}/cronjobs/yearly");
    cluster.merge_patch(&format!("{path}/status"), &json!({"status": {"lastScheduleTime": format!("{}-01-01T00:00:00Z", year - 1)}})).await;
    let job_name = format!("yearly-{}", due.as_second() / 60);
    let made = json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": job_name,
            "ownerReferences": [{"apiVersion": "batch/v1", "kind": "CronJob", "name": "yearly", "uid": uid, "controller": true}]},
        "spec": {"suspend": true, "template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox:local"}]}}}});
    let job_uid = cluster.create(&format!("/apis/batch/v1/namespaces/{NS}/jobs"), &made).await["metadata"]["uid"].clone();
    cluster.merge_patch(&path, &json!({"spec": {"suspend": false}})).await;

    cluster
        .wait_for("this year's time recorded", Duration::from_secs(30), || async {
            let status = cluster.get(&path).await["status"].clone();
            let recorded = status["lastScheduleTime"].as_str().and_then(|text| text.parse::<jiff::Timestamp>().ok());
            let active = status["active"].as_array().is_some_and(|active| active.len() == 1 && active[0]["uid"] == job_uid);
            if recorded == Some(due) && active { Ok(()) } else { Err(status.to_string()) }
        })
        .await;
    let jobs = cluster.items(&format!("/apis/batch/v1/namespaces/{NS}/jobs")).await;
    assert_eq!(jobs.len(), 1, "no second Job for the same time: {jobs:?}");
}
