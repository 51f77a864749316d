//! Raw HTTP to the apiserver under test, for what a client library would not send and for
//! status codes: shared by the integration tests that include it (`#[path]`), which add their
//! own methods in `impl Client` blocks.

use common::testing::ApiServer;
use serde_json::Value;

pub struct Client {
    pub http: reqwest::Client,
    pub base: String,
}

impl Client {
    pub fn new(server: &ApiServer) -> Self {
        Self { http: reqwest::Client::new(), base: server.url() }
    }

    /// The status code and the body (JSON, or the text as a JSON string when it is not JSON).
    pub async fn send(&self, method: &str, path: &str, content_type: &str, body: Vec<u8>) -> (u16, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap_or_else(|err| panic!("method {method}: {err}"));
        let mut request = self.http.request(method, format!("{}{path}", self.base)).body(body);
        if !content_type.is_empty() {
            request = request.header("content-type", content_type);
        }
        let response = request.send().await.unwrap_or_else(|err| panic!("{path}: {err}"));
        let code = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        (code, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    pub async fn json(&self, method: &str, path: &str, body: &Value) -> (u16, Value) {
        self.send(method, path, "application/json", body.to_string().into_bytes()).await
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.send("GET", path, "", Vec::new()).await
    }
}
