//! The real apiserver's wire behaviour where clients depend on kube-apiserver's details:
//! discovery in every form it is served (with and without a trailing slash, the same bytes),
//! bodies decoded as Go decodes them, and answers written as kube-apiserver writes them.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use common::testing::{ApiServer, Storage};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_answers_with_and_without_a_trailing_slash() {
    let server = tokio::task::block_in_place(|| ApiServer::start(Storage::Embedded)).expect("apiserver");
    let client = reqwest::Client::new();
    let get = |path: String| {
        let client = client.clone();
        let url = format!("{}{path}", server.url());
        async move {
            let response = client.get(&url).send().await.expect("request");
            (response.status().as_u16(), response.text().await.unwrap_or_default())
        }
    };
    let mut mismatches = Vec::new();
    for path in ["/version", "/api", "/api/v1", "/apis", "/apis/apps", "/apis/apps/v1"] {
        let (plain, plain_body) = get(path.to_string()).await;
        let (slashed, slashed_body) = get(format!("{path}/")).await;
        if plain != 200 || slashed != 200 || plain_body != slashed_body {
            mismatches.push(format!("{path}: {plain} without the slash, {slashed} with it ({})", if plain_body == slashed_body { "same body" } else { "different bodies" }));
        }
    }
    assert!(mismatches.is_empty(), "discovery must answer the same with a trailing slash:\n{}", mismatches.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_are_read_and_answers_written_as_kube_apiserver_does() {
    let server = tokio::task::block_in_place(|| ApiServer::start(Storage::Embedded)).expect("apiserver");
    let client = reqwest::Client::new();
    let base = format!("{}/api/v1/namespaces/default", server.url());
    let send = |method: reqwest::Method, path: &str, body: Option<serde_json::Value>| {
        let mut request = client.request(method, format!("{base}{path}"));
        if let Some(body) = body {
            request = request.json(&body);
        }
        async move {
            let response = request.send().await.expect("request");
            (response.status().as_u16(), response.text().await.unwrap_or_default())
        }
    };
    let json = |text: &str| serde_json::from_str::<serde_json::Value>(text).unwrap_or_default();

    // A name given wins over generateName: taken, it is AlreadyExists, not a generated name.
    assert_eq!(send(reqwest::Method::POST, "/configmaps", Some(serde_json::json!({"metadata": {"name": "taken"}}))).await.0, 201);
    let (code, body) = send(reqwest::Method::POST, "/configmaps", Some(serde_json::json!({"metadata": {"name": "taken", "generateName": "gen-"}}))).await;
    assert_eq!((code, json(&body)["reason"].as_str()), (409, Some("AlreadyExists")), "{body}");
    // Status bodies in kube-apiserver's field order, empty fields left out, and a newline.
    assert_eq!(
        body,
        "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\",\"message\":\"configmaps \\\"taken\\\" already exists\",\"reason\":\"AlreadyExists\",\"details\":{\"name\":\"taken\",\"kind\":\"configmaps\"},\"code\":409}\n"
    );

    // A Secret's data as base64 wrapped over lines, as Go's decoder skips \r and \n.
    let (code, body) = send(reqwest::Method::POST, "/secrets", Some(serde_json::json!({"metadata": {"name": "wrapped"}, "data": {"a": "aGVs\nbG8=\r\n"}}))).await;
    assert_eq!((code, json(&body)["data"]["a"].as_str()), (201, Some("aGVsbG8=")), "{body}");

    // DELETE answers with the object where kube-apiserver's storage for the kind does
    // (ReturnDeletedObject: services, pods, service accounts), else with a Success Status.
    let service = serde_json::json!({"metadata": {"name": "web"}, "spec": {"ports": [{"port": 80}]}});
    assert_eq!(send(reqwest::Method::POST, "/services", Some(service)).await.0, 201);
    let (code, body) = send(reqwest::Method::DELETE, "/services/web", None).await;
    assert_eq!((code, json(&body)["kind"].as_str()), (200, Some("Service")), "{body}");
    let (code, body) = send(reqwest::Method::DELETE, "/configmaps/taken", None).await;
    assert_eq!(code, 200);
    assert!(body.starts_with("{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Success\",\"details\":{\"name\":\"taken\",\"kind\":\"configmaps\",\"uid\":"), "{body}");
}

/// client-go's metadata informers: lists, gets and watches as `PartialObjectMetadata`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_are_served_as_partial_object_metadata_when_asked() {
    let server = tokio::task::block_in_place(|| ApiServer::start(Storage::Embedded)).expect("apiserver");
    let client = reqwest::Client::new();
    let base = format!("{}/api/v1/namespaces/default/configmaps", server.url());
    let created = client.post(&base).json(&serde_json::json!({"metadata": {"name": "meta", "labels": {"a": "b"}}, "data": {"secret-ish": "x"}})).send().await.expect("create");
    assert_eq!(created.status().as_u16(), 201);
    let ask = |url: String, accept: &'static str| {
        let client = client.clone();
        async move {
            let response = client.get(url).header("accept", accept).send().await.expect("request");
            (response.status().as_u16(), response.text().await.unwrap_or_default())
        }
    };
    let json = |text: &str| serde_json::from_str::<serde_json::Value>(text).unwrap_or_default();
    let (code, body) = ask(base.clone(), "application/vnd.kubernetes.protobuf;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json").await;
    let list = json(&body);
    assert_eq!((code, list["kind"].as_str(), list["apiVersion"].as_str()), (200, Some("PartialObjectMetadataList"), Some("meta.k8s.io/v1")), "{body}");
    assert!(list["metadata"]["resourceVersion"].is_string(), "{body}");
    let item = &list["items"][0];
    assert_eq!((item["kind"].as_str(), item["metadata"]["labels"]["a"].as_str(), item.get("data")), (Some("PartialObjectMetadata"), Some("b"), None), "{body}");
    let (code, body) = ask(format!("{base}/meta"), "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1beta1").await;
    let object = json(&body);
    assert_eq!((code, object["apiVersion"].as_str(), object["metadata"]["name"].as_str(), object.get("data")), (200, Some("meta.k8s.io/v1beta1"), Some("meta"), None), "{body}");
    let (code, body) = ask(format!("{base}?watch=1&timeoutSeconds=1"), "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1").await;
    let event = json(body.lines().next().unwrap_or_default());
    assert_eq!((code, event["type"].as_str(), event["object"]["kind"].as_str(), event["object"].get("data")), (200, Some("ADDED"), Some("PartialObjectMetadata"), None), "{body}");
    let (code, body) = ask(base, "application/json;as=Widget;g=example.com;v=v1").await;
    assert_eq!((code, json(&body)["reason"].as_str()), (406, Some("NotAcceptable")), "{body}");
}

/// WatchList's options, validated as kube-apiserver's `validateWatchOptions` does; the
/// streaming itself is in tests/kube_rs.rs (kube-rs' StreamingList).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_list_options_are_validated_as_kube_apiserver_does() {
    let server = tokio::task::block_in_place(|| ApiServer::start(Storage::Embedded)).expect("apiserver");
    let base = format!("{}/api/v1/namespaces/default/configmaps?watch=1", server.url());
    let rows = [
        ("&sendInitialEvents=true", "ListOptions.meta.k8s.io \"\" is invalid: resourceVersionMatch: Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan"),
        ("&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true", "resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided"),
        ("&sendInitialEvents=true&resourceVersionMatch=NotOlderThan", "allowWatchBookmarks: Forbidden: allowWatchBookmarks must be set to true when resourceVersionMatch is provided"),
    ];
    for (query, message) in rows {
        let response = reqwest::get(format!("{base}{query}")).await.expect("request");
        let code = response.status().as_u16();
        let body: serde_json::Value = response.json().await.unwrap_or_default();
        assert_eq!((code, body["reason"].as_str()), (422, Some("Invalid")), "{query}: {body}");
        assert!(body["message"].as_str().unwrap_or_default().contains(message), "{query}: {body}");
    }
}

/// A watch over WebSocket, as fabric8 (Spark's client) opens every watch: 101, then each event
/// as one text message holding the JSON line the chunked answer carries; a refused watch is
/// answered with its Status before any upgrade.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watches_are_served_over_websocket_as_kube_apiserver_serves_them() {
    use futures::StreamExt;
    use tokio_tungstenite::tungstenite::{Error, Message};

    let server = tokio::task::block_in_place(|| ApiServer::start(Storage::Embedded)).expect("apiserver");
    let base = format!("{}/api/v1/namespaces/default/configmaps", server.url());
    let client = reqwest::Client::new();
    let create = |name: &str| client.post(&base).json(&serde_json::json!({"metadata": {"name": name}})).send();
    assert_eq!(create("before").await.expect("create").status().as_u16(), 201);
    let address = base.trim_start_matches("http://").split('/').next().unwrap_or_default().to_string();
    let open = |query: &str| {
        let (address, url) = (address.clone(), format!("{}?{query}", base.replacen("http://", "ws://", 1)));
        async move {
            let stream = tokio::net::TcpStream::connect(&address).await.expect("connect");
            tokio_tungstenite::client_async(url, stream).await
        }
    };

    let (mut socket, response) = open("watch=true").await.expect("the handshake");
    assert_eq!(response.status().as_u16(), 101);
    let mut next = async || -> serde_json::Value {
        let message = tokio::time::timeout(std::time::Duration::from_secs(10), socket.next()).await.expect("an event within 10 s");
        match message {
            Some(Ok(Message::Text(text))) => {
                assert!(text.ends_with('\n'), "one JSON line per message: {text:?}");
                serde_json::from_str(&text).expect("JSON")
            }
            other => panic!("expected a text message, got {other:?}"),
        }
    };
    let event = next().await;
    assert_eq!((event["type"].as_str(), event["object"]["metadata"]["name"].as_str()), (Some("ADDED"), Some("before")), "{event}");
    assert_eq!(create("after").await.expect("create").status().as_u16(), 201);
    let event = next().await;
    assert_eq!((event["type"].as_str(), event["object"]["metadata"]["name"].as_str(), event["object"]["kind"].as_str()), (Some("ADDED"), Some("after"), Some("ConfigMap")), "{event}");

    match open("watch=true&resourceVersionMatch=NotOlderThan").await {
        Err(Error::Http(response)) => {
            let body: serde_json::Value = serde_json::from_slice(response.body().as_deref().unwrap_or_default()).unwrap_or_default();
            assert_eq!((response.status().as_u16(), body["reason"].as_str()), (422, Some("Invalid")), "{body}");
        }
        other => panic!("a refused watch must not be upgraded: {:?}", other.map(|(_, response)| response.status())),
    }
}
