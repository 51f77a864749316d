//! kube-rs, the client every other component of this project uses, against the real apiserver
//! binary on both stores: typed create, list with a selector, strategic and merge patches,
//! delete, and the runtime's watcher (list, then watch from the list's resourceVersion; and
//! WatchList's streaming list).

use std::collections::BTreeMap;
use std::time::Duration;

use common::testing::{ApiServer, Storage};
use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{Api, DeleteParams, ListParams, ObjectMeta, Patch, PatchParams, PostParams};
use kube::runtime::watcher::{self, Event};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kube_rs_works_on_the_embedded_store() {
    typed_client_and_watcher(Storage::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kube_rs_works_on_etcd() {
    typed_client_and_watcher(Storage::Etcd).await;
}

type Events = futures::stream::BoxStream<'static, Result<Event<ConfigMap>, watcher::Error>>;

async fn next(events: &mut Events) -> Event<ConfigMap> {
    tokio::time::timeout(Duration::from_secs(30), events.next())
        .await
        .expect("the watcher stalled")
        .expect("the watcher ended")
        .expect("the watcher failed")
}

fn configmap(name: &str, app: &str) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.into()),
            labels: Some(BTreeMap::from([("app".to_string(), app.to_string())])),
            ..ObjectMeta::default()
        },
        data: Some(BTreeMap::from([("k".to_string(), "v".to_string())])),
        ..ConfigMap::default()
    }
}

async fn typed_client_and_watcher(storage: Storage) {
    let server = ApiServer::start(storage).unwrap();
    let config = kube::Config::new(server.url().parse().unwrap());
    let client = kube::Client::try_from(config).unwrap();
    let namespace = Namespace { metadata: ObjectMeta { name: Some("rs".into()), ..ObjectMeta::default() }, ..Namespace::default() };
    Api::<Namespace>::all(client.clone()).create(&PostParams::default(), &namespace).await.unwrap();
    let configmaps: Api<ConfigMap> = Api::namespaced(client.clone(), "rs");
    configmaps.create(&PostParams::default(), &configmap("before", "rs")).await.unwrap();

    let mut events = watcher::watcher(configmaps.clone(), watcher::Config::default().labels("app=rs")).boxed();
    // The initial list arrives as Init, InitApply per object, InitDone.
    assert!(matches!(next(&mut events).await, Event::Init));
    match next(&mut events).await {
        Event::InitApply(object) => assert_eq!(object.metadata.name.as_deref(), Some("before")),
        other => panic!("expected the listed object, got {other:?}"),
    }
    assert!(matches!(next(&mut events).await, Event::InitDone));

    configmaps.create(&PostParams::default(), &configmap("other", "unrelated")).await.unwrap();
    configmaps.create(&PostParams::default(), &configmap("after", "rs")).await.unwrap();
    let patch = serde_json::json!({"data": {"k": "patched"}});
    configmaps.patch("after", &PatchParams::default(), &Patch::Strategic(patch)).await.unwrap();
    let merge = serde_json::json!({"metadata": {"labels": {"extra": "yes"}}});
    configmaps.patch("before", &PatchParams::default(), &Patch::Merge(merge)).await.unwrap();
    configmaps.delete("after", &DeleteParams::default()).await.unwrap();

    let mut seen = Vec::new();
    while seen.len() < 4 {
        match next(&mut events).await {
            Event::Apply(object) => seen.push(format!(
                "apply {} {}",
                object.metadata.name.unwrap_or_default(),
                object.data.unwrap_or_default().get("k").cloned().unwrap_or_default()
            )),
            Event::Delete(object) => seen.push(format!("delete {}", object.metadata.name.unwrap_or_default())),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(seen, ["apply after v", "apply after patched", "apply before v", "delete after"]);

    // The same through WatchList (`sendInitialEvents=true`): the initial state ends at the
    // bookmark the apiserver marks as the end of the initial events.
    let mut streamed = watcher::watcher(configmaps.clone(), watcher::Config::default().labels("app=rs").streaming_lists()).boxed();
    assert!(matches!(next(&mut streamed).await, Event::Init));
    match next(&mut streamed).await {
        Event::InitApply(object) => assert_eq!(object.metadata.name.as_deref(), Some("before")),
        other => panic!("expected the streamed object, got {other:?}"),
    }
    assert!(matches!(next(&mut streamed).await, Event::InitDone), "the initial events end at the bookmark");
    configmaps.create(&PostParams::default(), &configmap("streamed", "rs")).await.unwrap();
    match next(&mut streamed).await {
        Event::Apply(object) => assert_eq!(object.metadata.name.as_deref(), Some("streamed")),
        other => panic!("expected the object created after, got {other:?}"),
    }
    configmaps.delete("streamed", &DeleteParams::default()).await.unwrap();

    let selected = configmaps.list(&ListParams::default().labels("app=rs")).await.unwrap();
    let names: Vec<String> = selected.items.into_iter().filter_map(|item| item.metadata.name).collect();
    assert_eq!(names, ["before"]);
    let err = configmaps.get("after").await.unwrap_err();
    assert!(matches!(err, kube::Error::Api(ref status) if status.code == 404), "{err:?}");
}
