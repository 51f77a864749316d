//! Server-side apply benchmark: the real apiserver binary on etcd and on the embedded store. A
//! Deployment of 50 containers with 20 env vars each is written 1,000 times by 4 managers at
//! once (250 each), first as JSON merge patches (the baseline, in the same run) and then as
//! applies (`application/apply-patch+yaml`, `force=true`) of the same whole object, each
//! manager sharing ownership of the containers and changing an annotation of its own so that
//! every write changes the object. Prints requests/s, p50/p99 and the apiserver's CPU per write
//! of each, their ratio, the size of the managedFields stored, and the apiserver's peak RSS.
//!
//! Run: `cargo bench -p apiserver --bench apply` (`-- --quick` for 100 writes a phase).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, ensure};
use common::testing::{ApiServer, CpuMeter, Stats, Storage, peak_rss_kib};
use serde_json::{Value, json};

const MANAGERS: usize = 4;
const CONTAINERS: usize = 50;
const ENV_VARS: usize = 20;
const ANNOTATION_PREFIX: &str = "bench.example.com/";

#[derive(Clone, Copy)]
enum Write {
    MergePatch,
    Apply,
}

impl Write {
    fn content_type(self) -> &'static str {
        match self {
            Self::MergePatch => "application/merge-patch+json",
            Self::Apply => "application/apply-patch+yaml",
        }
    }

    /// The query of a write by manager `m{manager}`: applies force, as controllers that own
    /// their fields outright do, and merge patches may not.
    fn query(self, manager: usize) -> String {
        match self {
            Self::MergePatch => format!("fieldManager=m{manager}"),
            Self::Apply => format!("fieldManager=m{manager}&force=true"),
        }
    }
}

fn print(phase: &Phase, operation: &str, backend: &str) {
    let stats = &phase.stats;
    println!(
        "{operation:<34} {backend:<9} {:>10.1}/s  p50 {:>8.2} ms  p99 {:>8.2} ms  {} sent again after 409",
        stats.per_second,
        stats.p50.as_secs_f64() * 1e3,
        stats.p99.as_secs_f64() * 1e3,
        phase.conflicts
    );
}

/// The apiserver's CPU time per write over a phase: a figure that other load on the machine
/// hardly moves, unlike throughput.
struct Cpu(CpuMeter);

impl Cpu {
    fn start(server: &ApiServer) -> Self {
        Self(CpuMeter::start(server.pid()))
    }

    /// Prints and returns the microseconds per operation, when `/proc` has them.
    fn print(self, operations: usize, operation: &str, backend: &str) -> Option<f64> {
        let per_operation = self.0.per_operation(operations)?;
        println!("{:<34} {backend:<9} {per_operation:>10.1} µs of apiserver CPU each", format!("{operation} CPU"));
        Some(per_operation)
    }
}

fn print_peak_rss(server: &ApiServer, after: &str, backend: &str) {
    if let Some(peak) = server.pid().and_then(peak_rss_kib) {
        println!("{:<34} {backend:<9} {:>10.1} MiB", format!("apiserver peak RSS, {after}"), peak as f64 / 1024.0);
    }
}

/// The whole Deployment every manager writes: 50 containers of 20 env vars each, the same for
/// all, without the annotation each manager adds.
fn deployment(name: &str) -> Value {
    let containers: Vec<Value> = (0..CONTAINERS)
        .map(|container| {
            let env: Vec<Value> = (0..ENV_VARS)
                .map(|var| json!({"name": format!("VAR_{var:02}"), "value": format!("value-{container}-{var}")}))
                .collect();
            json!({"name": format!("c{container:02}"), "image": "registry.k8s.io/pause:3.10", "env": env})
        })
        .collect();
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "bench", "annotations": {}},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": containers}},
        },
    })
}

/// The body manager `m{manager}` sends: the whole object, with its own annotation at `value`.
fn body(template: &Value, manager: usize, value: &str) -> Vec<u8> {
    let mut object = template.clone();
    object["metadata"]["annotations"] = json!({format!("{ANNOTATION_PREFIX}m{manager}"): value});
    // Serializing a Value (string keys) cannot fail.
    serde_json::to_vec(&object).unwrap_or_default()
}

/// Conflicts a write is sent again after, at most, as a client retrying on conflict would.
const CONFLICT_RETRIES: usize = 100;

/// Sends one write; a 409 Conflict (the server gave up on its own retries while the other
/// managers kept writing) is sent again. Returns how many times it was.
async fn send(http: &reqwest::Client, url: &str, write: Write, manager: usize, body: &[u8]) -> anyhow::Result<usize> {
    let mut retries = 0;
    loop {
        let response = http
            .patch(format!("{url}?{}", write.query(manager)))
            .header(reqwest::header::CONTENT_TYPE, write.content_type())
            .body(body.to_vec())
            .send()
            .await?;
        let status = response.status();
        // The whole answer is read, as a client would, and for the connection to be reused.
        let answer = response.bytes().await?;
        if status == reqwest::StatusCode::CONFLICT && retries < CONFLICT_RETRIES {
            retries += 1;
            continue;
        }
        ensure!(status.is_success(), "{} by m{manager}: {status}: {}", write.content_type(), String::from_utf8_lossy(&answer));
        return Ok(retries);
    }
}

/// What a phase measured, and how many writes were sent again after a 409.
struct Phase {
    stats: Stats,
    conflicts: usize,
}

/// `writes` writes of the Deployment at `url`, a quarter by each of the 4 managers, each manager
/// on its own client task; only the requests are timed (with any sent again after a conflict),
/// not building their bodies.
async fn phase(http: &reqwest::Client, url: &str, template: &Arc<Value>, write: Write, writes: usize) -> anyhow::Result<Phase> {
    let per_manager = writes / MANAGERS;
    let started = Instant::now();
    let mut clients = tokio::task::JoinSet::new();
    for manager in 0..MANAGERS {
        let (http, url, template) = (http.clone(), url.to_string(), template.clone());
        clients.spawn(async move {
            let (mut latencies, mut conflicts) = (Vec::with_capacity(per_manager), 0);
            for generation in 0..per_manager {
                let body = body(&template, manager, &generation.to_string());
                let began = Instant::now();
                conflicts += send(&http, &url, write, manager, &body).await?;
                latencies.push(began.elapsed());
            }
            anyhow::Ok((latencies, conflicts))
        });
    }
    let (mut latencies, mut conflicts) = (Vec::with_capacity(writes), 0);
    for client in clients.join_all().await {
        let (client_latencies, client_conflicts) = client?;
        latencies.extend(client_latencies);
        conflicts += client_conflicts;
    }
    Ok(Phase { stats: Stats::of(latencies, started.elapsed()), conflicts })
}

/// `metadata.managedFields` of the object: its entries and its size as JSON.
fn managed_fields(object: &Value) -> (&[Value], usize) {
    let entries = object.pointer("/metadata/managedFields").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    let size = serde_json::to_vec(entries).map(|bytes| bytes.len()).unwrap_or_default();
    (entries, size)
}

fn print_managed_fields(object: &Value, after: &str, backend: &str) {
    let (entries, size) = managed_fields(object);
    let whole = serde_json::to_vec(object).map(|bytes| bytes.len()).unwrap_or_default();
    println!(
        "{:<34} {backend:<9} {:>6} entries, {:.1} KiB of a {:.1} KiB object",
        format!("managedFields after {after}"),
        entries.len(),
        size as f64 / 1024.0,
        whole as f64 / 1024.0
    );
}

/// The object holds what the writes said: every container with its env vars and each manager's
/// last annotation; and, after applies, one Apply entry per manager, each owning all 50
/// containers and their env vars. A server that dropped or skipped writes fails here rather
/// than printing a fast figure.
fn verify(object: &Value, write: Write, last: &str) -> anyhow::Result<()> {
    let containers = object.pointer("/spec/template/spec/containers").and_then(Value::as_array).context("no containers")?;
    ensure!(containers.len() == CONTAINERS, "{} containers stored, {CONTAINERS} written", containers.len());
    for container in containers {
        let env = container.get("env").and_then(Value::as_array).map_or(0, Vec::len);
        ensure!(env == ENV_VARS, "{env} env vars stored in {}, {ENV_VARS} written", container["name"]);
    }
    for manager in 0..MANAGERS {
        let annotation = object.pointer("/metadata/annotations").and_then(|annotations| annotations.get(format!("{ANNOTATION_PREFIX}m{manager}")));
        ensure!(annotation.and_then(Value::as_str) == Some(last), "m{manager}'s annotation is {annotation:?}, last written {last}");
    }
    if let Write::Apply = write {
        let (entries, _) = managed_fields(object);
        let mut appliers = BTreeSet::new();
        for entry in entries.iter().filter(|entry| entry["operation"] == "Apply") {
            let manager = entry["manager"].as_str().unwrap_or_default();
            let owned = entry.pointer("/fieldsV1/f:spec/f:template/f:spec/f:containers").and_then(Value::as_object).context("an applier owns no containers")?;
            let owned_containers: Vec<&Value> = owned.iter().filter(|(key, _)| key.starts_with("k:")).map(|(_, fields)| fields).collect();
            ensure!(owned_containers.len() == CONTAINERS, "{manager} owns {} containers, applied {CONTAINERS}", owned_containers.len());
            for fields in owned_containers {
                let env = fields.get("f:env").and_then(Value::as_object).map_or(0, |env| env.keys().filter(|key| key.starts_with("k:")).count());
                ensure!(env == ENV_VARS, "{manager} owns {env} env vars of a container, applied {ENV_VARS}");
            }
            appliers.insert(manager.to_string());
        }
        let expected: BTreeSet<String> = (0..MANAGERS).map(|manager| format!("m{manager}")).collect();
        ensure!(appliers == expected, "Apply entries for {appliers:?}, expected {expected:?}");
    }
    Ok(())
}

async fn bench_server(backend: &str, server: &ApiServer, writes: usize) -> anyhow::Result<()> {
    let http = reqwest::Client::builder().pool_max_idle_per_host(MANAGERS * 2).build()?;
    let base = server.url();
    let namespace = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "bench"}});
    http.post(format!("{base}/api/v1/namespaces")).json(&namespace).send().await?.error_for_status()?;
    let collection = format!("{base}/apis/apps/v1/namespaces/bench/deployments");
    let last = (writes / MANAGERS - 1).to_string();

    // Two Deployments, one per phase, so that the merge patches' Update entries and the
    // applies' Apply entries do not share an object. Each manager writes its own once before
    // timing: the merge one is created by m0 and patched by each, the applied one created by
    // m0's first apply.
    let merged = Arc::new(deployment("merged"));
    http.post(format!("{collection}?fieldManager=m0")).json(merged.as_ref()).send().await?.error_for_status()?;
    let applied = Arc::new(deployment("applied"));
    let (merged_url, applied_url) = (format!("{collection}/merged"), format!("{collection}/applied"));
    for manager in 0..MANAGERS {
        send(&http, &merged_url, Write::MergePatch, manager, &body(&merged, manager, "warm-up")).await?;
        send(&http, &applied_url, Write::Apply, manager, &body(&applied, manager, "warm-up")).await?;
    }

    let cpu = Cpu::start(server);
    let merge_patches = phase(&http, &merged_url, &merged, Write::MergePatch, writes).await?;
    print(&merge_patches, &format!("merge patch ({MANAGERS} managers)"), backend);
    let merge_cpu = cpu.print(writes, "merge patch", backend);
    print_peak_rss(server, "merge patches", backend);

    let cpu = Cpu::start(server);
    let applies = phase(&http, &applied_url, &applied, Write::Apply, writes).await?;
    print(&applies, &format!("apply ({MANAGERS} managers, force)"), backend);
    let apply_cpu = cpu.print(writes, "apply", backend);
    print_peak_rss(server, "applies", backend);

    let ratio = |apply: f64, merge: f64| if merge > 0.0 { apply / merge } else { f64::NAN };
    let cpu_ratio = match (apply_cpu, merge_cpu) {
        (Some(apply), Some(merge)) => format!("  CPU {:>5.2}×", ratio(apply, merge)),
        _ => String::new(),
    };
    println!(
        "{:<34} {backend:<9} {:>10.2}×  p50 {:>8.2}×     p99 {:>8.2}×{cpu_ratio}",
        "apply / merge patch",
        ratio(applies.stats.per_second, merge_patches.stats.per_second),
        ratio(applies.stats.p50.as_secs_f64(), merge_patches.stats.p50.as_secs_f64()),
        ratio(applies.stats.p99.as_secs_f64(), merge_patches.stats.p99.as_secs_f64()),
    );

    let merged_object: Value = http.get(&merged_url).send().await?.error_for_status()?.json().await?;
    let applied_object: Value = http.get(&applied_url).send().await?.error_for_status()?.json().await?;
    print_managed_fields(&merged_object, "merge patches", backend);
    print_managed_fields(&applied_object, "applies", backend);
    verify(&merged_object, Write::MergePatch, &last).context("the merge-patched Deployment")?;
    verify(&applied_object, Write::Apply, &last).context("the applied Deployment")?;
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let quick = std::env::args().any(|arg| arg == "--quick");
    let writes = if quick { 100 } else { 1_000 };
    println!(
        "Apply benchmark: a Deployment of {CONTAINERS} containers × {ENV_VARS} env vars, {writes} writes a phase by {MANAGERS} managers at once"
    );
    println!();
    for (storage, backend) in [(Storage::Etcd, "etcd"), (Storage::Embedded, "embedded")] {
        let server = ApiServer::start(storage)?;
        bench_server(backend, &server, writes).await?;
        drop(server);
        println!();
    }
    println!("apply / merge patch is what server-side apply's field sets cost over a merge patch of the same");
    println!("object by the same managers (whose Update entries are tracked too); CPU is the apiserver's");
    Ok(())
}
