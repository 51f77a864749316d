//! Discovery of the real apiserver in every form kube-apiserver serves it: each document with
//! and without a trailing slash, the same bytes either way.

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
