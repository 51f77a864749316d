//! Plain JSON over HTTP against a test apiserver: what tests write and read when they play a
//! controller's or a kubelet's part. Refusals are assertions: a test that cannot set up fails.

use serde_json::{Value, json};

pub struct Rest {
    base: String,
    /// Kept public for the odd request beside the apiserver (a component's /metrics).
    pub http: reqwest::Client,
}

impl Rest {
    pub fn new(base: &str) -> Self {
        Self { base: base.to_string(), http: reqwest::Client::new() }
    }

    /// The status code (0 when no answer came) and the JSON answer (Null when it was none).
    pub async fn send(&self, method: reqwest::Method, path: &str, content_type: &str, body: Option<&Value>) -> (u16, Value) {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(body) = body {
            request = request.header("content-type", content_type).body(body.to_string());
        }
        match request.send().await {
            Ok(response) => {
                let code = response.status().as_u16();
                (code, response.json().await.unwrap_or(Value::Null))
            }
            Err(err) => (0, json!({"error": err.to_string()})),
        }
    }

    pub async fn create(&self, path: &str, body: &Value) -> Value {
        let (code, answer) = self.send(reqwest::Method::POST, path, "application/json", Some(body)).await;
        assert_eq!(code, 201, "POST {path}: {answer}");
        answer
    }

    pub async fn get(&self, path: &str) -> Value {
        self.send(reqwest::Method::GET, path, "", None).await.1
    }

    /// GET that tells a missing object (None) apart.
    pub async fn get_opt(&self, path: &str) -> Option<Value> {
        let (code, answer) = self.send(reqwest::Method::GET, path, "", None).await;
        (code == 200).then_some(answer)
    }

    pub async fn merge_patch(&self, path: &str, patch: &Value) -> Value {
        let (code, answer) = self.send(reqwest::Method::PATCH, path, "application/merge-patch+json", Some(patch)).await;
        assert_eq!(code, 200, "PATCH {path}: {answer}");
        answer
    }

    pub async fn delete(&self, path: &str, options: &Value) -> (u16, Value) {
        self.send(reqwest::Method::DELETE, path, "application/json", Some(options)).await
    }

    pub async fn items(&self, path: &str) -> Vec<Value> {
        self.get(path).await["items"].as_array().cloned().unwrap_or_default()
    }

    pub async fn namespace(&self, name: &str) {
        self.create("/api/v1/namespaces", &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})).await;
    }
}
