//! Storage benchmark: creates, gets and a 10,000-key list through both `Store` backends, each
//! beside the same operation done with raw `etcd-client` calls against the same etcd in the same
//! run, so the ratio shows what our layer costs (etcd backend) and how the embedded store
//! compares with etcd (embedded backend).
//!
//! Run: `cargo bench -p apiserver --bench storage` (`-- --quick` for a short run).

use std::sync::Arc;

use apiserver::storage::{EmbeddedStore, EtcdStore, ListOptions, Store};
use common::testing::{EtcdServer, Stats, measure};
use etcd_client::{Compare, CompareOp, GetOptions, KvClient, Txn, TxnOp};

struct Sizes {
    sequential_creates: usize,
    concurrent_creates: usize,
    sequential_gets: usize,
    concurrent_gets: usize,
    list_keys: usize,
    lists: usize,
}

const CONCURRENCY: usize = 32;

fn configmap(name: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": "bench", "labels": {"app": "bench", "tier": "storage"}},
        "data": {"config.json": "{\"environment\": \"dev\"}", "url": "http://example-service:80/api"},
    }))
    .unwrap_or_default()
}

fn row(operation: &str, backend: &str, ours: &Stats, raw: &Stats) {
    println!(
        "{operation:<26} {backend:<9} {:>11.0} {:>9.2} {:>9.2} | {:>11.0} {:>9.2} {:>9.2} | {:>6.2}",
        ours.per_second,
        ours.p50.as_secs_f64() * 1e3,
        ours.p99.as_secs_f64() * 1e3,
        raw.per_second,
        raw.p50.as_secs_f64() * 1e3,
        raw.p99.as_secs_f64() * 1e3,
        ours.per_second / raw.per_second,
    );
}

/// The raw etcd-client figures every backend is compared with.
struct Baseline {
    sequential_puts: Stats,
    concurrent_puts: Stats,
    sequential_gets: Stats,
    concurrent_gets: Stats,
    lists: Stats,
    /// Create-if-absent as one raw etcd transaction: what our etcd backend's create sends.
    concurrent_txn_creates: Stats,
}

async fn baseline(kv: &KvClient, sizes: &Sizes) -> Baseline {
    let put = |prefix: &'static str| {
        let kv = kv.clone();
        move |i: usize| {
            let mut kv = kv.clone();
            async move {
                kv.put(format!("/raw/{prefix}/cm-{i:06}"), configmap("cm"), None).await.unwrap_or_else(|err| panic!("raw put: {err}"));
            }
        }
    };
    let sequential_puts = measure(sizes.sequential_creates, 1, put("seq")).await;
    let concurrent_puts = measure(sizes.concurrent_creates, CONCURRENCY, put("conc")).await;
    let get = |count: usize| {
        let kv = kv.clone();
        move |i: usize| {
            let mut kv = kv.clone();
            async move {
                let key = format!("/raw/conc/cm-{:06}", i % count);
                kv.get(key, None).await.unwrap_or_else(|err| panic!("raw get: {err}"));
            }
        }
    };
    let sequential_gets = measure(sizes.sequential_gets, 1, get(sizes.concurrent_creates)).await;
    let concurrent_gets = measure(sizes.concurrent_gets, CONCURRENCY, get(sizes.concurrent_creates)).await;
    let lists = {
        let kv = kv.clone();
        measure(sizes.lists, 1, move |_| {
            let mut kv = kv.clone();
            async move {
                let response = kv
                    .get("/raw/list/", Some(GetOptions::new().with_prefix()))
                    .await
                    .unwrap_or_else(|err| panic!("raw range: {err}"));
                assert!(!response.kvs().is_empty());
            }
        })
        .await
    };
    let concurrent_txn_creates = {
        let kv = kv.clone();
        measure(sizes.concurrent_creates, CONCURRENCY, move |i| {
            let mut kv = kv.clone();
            async move {
                let key = format!("/raw/txn/cm-{i:06}");
                let txn = Txn::new()
                    .when([Compare::create_revision(key.clone(), CompareOp::Equal, 0)])
                    .and_then([TxnOp::put(key, configmap("cm"), None)]);
                kv.txn(txn).await.unwrap_or_else(|err| panic!("raw txn: {err}"));
            }
        })
        .await
    };
    Baseline { sequential_puts, concurrent_puts, sequential_gets, concurrent_gets, lists, concurrent_txn_creates }
}

async fn bench_store(name: &str, store: Arc<dyn Store>, sizes: &Sizes, raw: &Baseline) {
    let create = |prefix: &'static str| {
        let store = store.clone();
        move |i: usize| {
            let store = store.clone();
            async move {
                let key = format!("/registry/configmaps/{prefix}/cm-{i:06}");
                store.create(&key, configmap("cm")).await.unwrap_or_else(|err| panic!("create: {err}"));
            }
        }
    };
    let stats = measure(sizes.sequential_creates, 1, create("seq")).await;
    row("create (sequential)", name, &stats, &raw.sequential_puts);
    let stats = measure(sizes.concurrent_creates, CONCURRENCY, create("conc")).await;
    row("create (32 concurrent)", name, &stats, &raw.concurrent_puts);

    let get = |count: usize| {
        let store = store.clone();
        move |i: usize| {
            let store = store.clone();
            async move {
                let key = format!("/registry/configmaps/conc/cm-{:06}", i % count);
                let found = store.get(&key).await.unwrap_or_else(|err| panic!("get: {err}"));
                assert!(found.is_some(), "{key} missing");
            }
        }
    };
    let stats = measure(sizes.sequential_gets, 1, get(sizes.concurrent_creates)).await;
    row("get (sequential)", name, &stats, &raw.sequential_gets);
    let stats = measure(sizes.concurrent_gets, CONCURRENCY, get(sizes.concurrent_creates)).await;
    row("get (32 concurrent)", name, &stats, &raw.concurrent_gets);

    fill(store.as_ref(), "/registry/list/", sizes.list_keys).await;
    let lister = store.clone();
    let expected = sizes.list_keys;
    let stats = measure(sizes.lists, 1, move |_| {
        let store = lister.clone();
        async move {
            let page = store
                .list("/registry/list/", ListOptions::default())
                .await
                .unwrap_or_else(|err| panic!("list: {err}"));
            assert_eq!(page.items.len(), expected);
        }
    })
    .await;
    row(&format!("list {expected} keys"), name, &stats, &raw.lists);
}

async fn fill(store: &dyn Store, prefix: &str, count: usize) {
    let store_ref = &*store;
    let mut pending = futures::stream::iter(0..count)
        .map(|i| async move {
            store_ref.create(&format!("{prefix}cm-{i:06}"), configmap("cm")).await.unwrap_or_else(|err| panic!("fill: {err}"));
        })
        .buffer_unordered(CONCURRENCY);
    while pending.next().await.is_some() {}
}

use futures::StreamExt;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let quick = std::env::args().any(|arg| arg == "--quick");
    let sizes = if quick {
        Sizes { sequential_creates: 200, concurrent_creates: 2_000, sequential_gets: 2_000, concurrent_gets: 10_000, list_keys: 10_000, lists: 5 }
    } else {
        Sizes { sequential_creates: 1_000, concurrent_creates: 10_000, sequential_gets: 10_000, concurrent_gets: 50_000, list_keys: 10_000, lists: 20 }
    };

    let etcd = EtcdServer::start()?;
    let mut raw = etcd_client::Client::connect([etcd.endpoint()], None).await?;
    println!("storage benchmark: etcd {} (single member, data dir on {}), values {} bytes",
        etcd.endpoint(), etcd.data_dir().display(), configmap("cm").len());
    // Seed the raw list range once, with the same values our stores get.
    let kv = raw.kv_client();
    {
        let kv = kv.clone();
        measure(sizes.list_keys, CONCURRENCY, move |i| {
            let mut kv = kv.clone();
            async move {
                kv.put(format!("/raw/list/cm-{i:06}"), configmap("cm"), None).await.unwrap_or_else(|err| panic!("seed: {err}"));
            }
        })
        .await;
    }
    // Warm the connection and etcd up before anything is measured, so that the first rows
    // (the raw baseline) are not the ones paying for it.
    {
        let kv = kv.clone();
        measure(1_000, CONCURRENCY, move |i| {
            let mut kv = kv.clone();
            async move {
                kv.get(format!("/raw/list/cm-{i:06}"), None).await.unwrap_or_else(|err| panic!("warm-up: {err}"));
            }
        })
        .await;
    }
    let baseline = baseline(&kv, &sizes).await;
    let _ = raw.status().await?;

    println!();
    println!("{:<26} {:<9} {:>11} {:>9} {:>9} | {:>11} {:>9} {:>9} | {:>6}",
        "operation", "backend", "ops/s", "p50 ms", "p99 ms", "raw ops/s", "p50 ms", "p99 ms", "ratio");
    println!("{}", "-".repeat(110));

    let etcd_store: Arc<dyn Store> = Arc::new(EtcdStore::connect(&[etcd.endpoint()]).await?);
    bench_store("etcd", etcd_store, &sizes, &baseline).await;

    let dir = tempfile::tempdir()?;
    let embedded: Arc<dyn Store> = Arc::new(EmbeddedStore::open(dir.path().join("store.redb")).await?);
    bench_store("embedded", embedded, &sizes, &baseline).await;

    println!();
    println!("ratio = our ops/s over raw etcd-client ops/s for the same operation on the same etcd, measured in this run");
    let txn = &baseline.concurrent_txn_creates;
    println!(
        "raw create-if-absent txn (what our etcd create sends), 32 concurrent: {:.0} ops/s, p50 {:.2} ms, p99 {:.2} ms",
        txn.per_second,
        txn.p50.as_secs_f64() * 1e3,
        txn.p99.as_secs_f64() * 1e3,
    );
    Ok(())
}
