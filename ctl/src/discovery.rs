//! The server's discovery documents: which resource types it serves, by every name kubectl
//! accepts for them, and where their objects live (paths, with query values encoded).

use http::header::ACCEPT;
use serde_json::Value;

use crate::CtlError;

/// A served resource type, as discovery describes it.
#[derive(Clone, Debug)]
pub struct Resource {
    pub group: String,
    pub version: String,
    pub plural: String,
    pub singular: String,
    pub kind: String,
    pub namespaced: bool,
    pub short_names: Vec<String>,
}

impl Resource {
    pub fn matches(&self, name: &str) -> bool {
        let name = name.to_ascii_lowercase();
        let qualified = |word: &str| if self.group.is_empty() { word.to_string() } else { format!("{word}.{}", self.group) };
        [&self.plural, &self.singular, &self.kind.to_ascii_lowercase()]
            .into_iter()
            .any(|word| *word == name || qualified(word) == name)
            || self.short_names.iter().any(|short| *short == name)
    }

    /// `deployment.apps` or `configmap`, as kubectl prefixes names.
    pub fn kind_prefix(&self) -> String {
        let kind = self.kind.to_ascii_lowercase();
        if self.group.is_empty() { kind } else { format!("{kind}.{}", self.group) }
    }

    pub fn path(&self, namespace: Option<&str>, name: Option<&str>) -> String {
        let mut path = if self.group.is_empty() {
            format!("/api/{}", self.version)
        } else {
            format!("/apis/{}/{}", self.group, self.version)
        };
        if let (true, Some(namespace)) = (self.namespaced, namespace) {
            path.push_str(&format!("/namespaces/{namespace}"));
        }
        path.push_str(&format!("/{}", self.plural));
        if let Some(name) = name {
            path.push_str(&format!("/{name}"));
        }
        path
    }
}

pub async fn get_json(client: &kube::Client, path: &str, accept: &str) -> Result<Value, CtlError> {
    get_typed(client, path, accept).await
}

/// Sends `body` (none when null) with `method` and reads the JSON answer. The server's warnings
/// are printed on stderr as kubectl prints them.
pub async fn send(client: &kube::Client, method: &str, path: &str, content_type: &str, body: &Value) -> Result<Value, CtlError> {
    let request = http::Request::builder()
        .method(method)
        .uri(path)
        .header(http::header::CONTENT_TYPE, content_type)
        .header(ACCEPT, "application/json")
        .body(if body.is_null() { Vec::new() } else { body.to_string().into_bytes() })
        .map_err(|err| CtlError::Usage(format!("bad request {path}: {err}")))?;
    let bytes = request_bytes(client, request).await?;
    serde_json::from_slice(&bytes).map_err(|err| CtlError::Usage(format!("the server sent something that is not JSON: {err}")))
}

/// GETs `path` and reads the JSON answer as `T`.
pub async fn get_typed<T: serde::de::DeserializeOwned>(client: &kube::Client, path: &str, accept: &str) -> Result<T, CtlError> {
    let request = http::Request::get(path)
        .header(ACCEPT, accept)
        .body(Vec::new())
        .map_err(|err| CtlError::Usage(format!("bad request path {path}: {err}")))?;
    let bytes = request_bytes(client, request).await?;
    serde_json::from_slice(&bytes).map_err(|err| CtlError::Usage(format!("the server sent something unexpected for {path}: {err}")))
}

/// Sends a request and returns the body of a successful answer; an unsuccessful one becomes the
/// server's Status as an error, as kube's `request_text` makes it. Unlike `request_text`, this
/// sees the headers, so the server's warnings reach the user.
pub async fn request_bytes(client: &kube::Client, request: http::Request<Vec<u8>>) -> Result<Vec<u8>, CtlError> {
    let response = client.send(request.map(kube::client::Body::from)).await.map_err(CtlError::from_kube)?;
    for header in response.headers().get_all(http::header::WARNING) {
        if let Some(text) = header.to_str().ok().and_then(warning_text) {
            print_warning(&text);
        }
    }
    let status = response.status();
    let bytes = response.into_body().collect_bytes().await.map_err(CtlError::from_kube)?.to_vec();
    if status.is_client_error() || status.is_server_error() {
        let text = String::from_utf8_lossy(&bytes);
        let status = serde_json::from_str::<kube::core::Status>(&text)
            .unwrap_or_else(|_| kube::core::Status::failure(text.trim(), "Failed to parse error data").with_code(status.as_u16()));
        return Err(CtlError::from_kube(kube::Error::Api(status.boxed())));
    }
    Ok(bytes)
}

/// The text of a `Warning` header as the API server writes it (`299 - "text"`, RFC 7234 with a
/// quoted string); other codes are not the server's warnings and are skipped, as client-go does.
fn warning_text(header: &str) -> Option<String> {
    let rest = header.strip_prefix("299 ")?;
    let (_agent, quoted) = rest.split_once(' ')?;
    let quoted = quoted.strip_prefix('"')?;
    let mut text = String::new();
    let mut chars = quoted.chars();
    while let Some(char) = chars.next() {
        match char {
            '\\' => text.push(chars.next()?),
            '"' => return Some(text),
            other => text.push(other),
        }
    }
    None
}

/// Prints a warning once per run, as kubectl's deduplicating warning writer does.
fn print_warning(text: &str) {
    static PRINTED: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    // A poisoned lock only means another thread panicked while printing; the list is still good.
    let mut printed = PRINTED.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if !printed.iter().any(|seen| seen == text) {
        eprintln!("Warning: {text}");
        printed.push(text.to_string());
    }
}

/// Every resource type the server serves (subresources left out).
pub async fn discover(client: &kube::Client) -> Result<Vec<Resource>, CtlError> {
    Ok(discover_with_categories(client).await?.into_iter().map(|(resource, _)| resource).collect())
}

/// Every resource type the server serves, each with its categories (`all`, …).
pub async fn discover_with_categories(client: &kube::Client) -> Result<Vec<(Resource, Vec<String>)>, CtlError> {
    let mut group_versions = vec![(String::new(), "v1".to_string())];
    let groups = get_json(client, "/apis", "application/json").await?;
    for group in groups["groups"].as_array().into_iter().flatten() {
        let name = group["name"].as_str().unwrap_or_default().to_string();
        if let Some(version) = group["preferredVersion"]["version"].as_str() {
            group_versions.push((name, version.to_string()));
        }
    }
    let mut resources = Vec::new();
    for (group, version) in group_versions {
        let path = if group.is_empty() { format!("/api/{version}") } else { format!("/apis/{group}/{version}") };
        let list = get_json(client, &path, "application/json").await?;
        for entry in list["resources"].as_array().into_iter().flatten() {
            let plural = entry["name"].as_str().unwrap_or_default();
            if plural.contains('/') {
                continue;
            }
            let strings = |field: &str| -> Vec<String> {
                entry[field].as_array().into_iter().flatten().filter_map(|v| v.as_str().map(str::to_string)).collect()
            };
            resources.push((Resource {
                group: group.clone(),
                version: version.clone(),
                plural: plural.to_string(),
                singular: entry["singularName"].as_str().unwrap_or_default().to_string(),
                kind: entry["kind"].as_str().unwrap_or_default().to_string(),
                namespaced: entry["namespaced"].as_bool().unwrap_or(false),
                short_names: strings("shortNames"),
            }, strings("categories")));
        }
    }
    Ok(resources)
}

pub fn api_version(resource: &Resource) -> String {
    if resource.group.is_empty() { resource.version.clone() } else { format!("{}/{}", resource.group, resource.version) }
}

/// Percent-encodes a query parameter value.
pub fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (byte as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_resolve_like_kubectl() {
        let deployments = Resource {
            group: "apps".into(),
            version: "v1".into(),
            plural: "deployments".into(),
            singular: "deployment".into(),
            kind: "Deployment".into(),
            namespaced: true,
            short_names: vec!["deploy".into()],
        };
        for name in ["deployments", "deployment", "Deployment", "deploy", "deployments.apps"] {
            assert!(deployments.matches(name), "{name}");
        }
        assert!(!deployments.matches("deployments.extensions"));
        assert_eq!(deployments.path(Some("demo"), Some("web")), "/apis/apps/v1/namespaces/demo/deployments/web");
        assert_eq!(encode("app in (a,b)"), "app%20in%20%28a%2Cb%29");
    }

    #[test]
    fn warning_headers_read_as_client_go_reads_them() {
        let cases = [
            (r#"299 - "unknown field \"spec.x\"""#, Some(r#"unknown field "spec.x""#)),
            (r#"299 - "a \\ b" "Mon, 07 Dec 2026 06:00:00 GMT""#, Some(r"a \ b")),
            (r#"199 - "not the server's""#, None),
            (r#"299 - "unterminated"#, None),
        ];
        for (header, expected) in cases {
            assert_eq!(warning_text(header).as_deref(), expected, "{header}");
        }
    }
}
