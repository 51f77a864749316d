//! What a request asks, parsed once. [`RequestInfo`] is kube-apiserver's RequestInfo
//! (`k8s.io/apiserver/pkg/endpoints/request/requestinfo.go`), computed from the percent-decoded
//! path and the decoded query before anything else runs; authentication, audit, authorization,
//! admission and routing all read this one value from the request's extensions, so that no two
//! of them can see different requests in the same bytes (an empty segment, an encoded slash, a
//! repeated `watch`).

use std::sync::Arc;

use axum::extract::Request;
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::errors::ApiError;

mod attributes;
mod user;

pub use attributes::Attributes;
pub use user::{User, acting_as, current_user};

/// The query parameters, decoded once, in order.
#[derive(Clone, Debug, Default)]
pub struct Params(Vec<(String, String)>);

impl Params {
    pub fn parse(query: Option<&str>) -> Self {
        let pairs = query.map(|query| form_urlencoded::parse(query.as_bytes()).into_owned().collect());
        Self(pairs.unwrap_or_default())
    }

    /// The parameter's value; the first one when it is given more than once, as Kubernetes'
    /// query parameter codec takes `(*in)[0]`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str())
    }

    /// Every value of a repeated parameter (exec's `command`), in order.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0.iter().filter(|(key, _)| key == name).map(|(_, value)| value.as_str()).collect()
    }

    /// A boolean parameter as Kubernetes converts one (`Convert_Slice_string_To_bool`): absent,
    /// `0` and `false` (in any case) are false, anything else, even an empty value, is true.
    pub fn flag(&self, name: &str) -> bool {
        self.get(name).is_some_and(|value| value != "0" && !value.eq_ignore_ascii_case("false"))
    }

    /// An integer parameter: absent is None, anything but a 64-bit integer a 400 with the
    /// message Go's `strconv.ParseInt` gives.
    pub fn number(&self, name: &str) -> Result<Option<i64>, ApiError> {
        match self.get(name) {
            None | Some("") => Ok(None),
            Some(text) => text.parse().map(Some).map_err(|err: std::num::ParseIntError| {
                let why = match err.kind() {
                    std::num::IntErrorKind::PosOverflow | std::num::IntErrorKind::NegOverflow => "value out of range",
                    _ => "invalid syntax",
                };
                ApiError::bad_request(format!("strconv.ParseInt: parsing {text:?}: {why}"))
            }),
        }
    }

    /// `dryRun=All` (the only value Kubernetes accepts).
    pub fn dry_run(&self) -> Result<bool, ApiError> {
        match self.get("dryRun") {
            None | Some("") => Ok(false),
            Some("All") => Ok(true),
            Some(other) => Err(ApiError::bad_request(format!("Invalid dry run value {other:?}: supported values are \"All\""))),
        }
    }
}

/// Kubernetes' RequestInfo: what a request path, method and query name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestInfo {
    /// Whether the path names an API resource (`/api/{version}/...`, `/apis/{group}/{version}/...`).
    pub is_resource_request: bool,
    /// The decoded path.
    pub path: String,
    /// `get`, `list`, `watch`, `create`, `update`, `patch`, `delete`, `deletecollection`,
    /// `proxy`; for other requests the method, lower-cased.
    pub verb: String,
    /// `api` or `apis`.
    pub api_prefix: String,
    pub api_group: String,
    pub api_version: String,
    pub namespace: String,
    pub resource: String,
    pub subresource: String,
    /// The object's name; for a list or watch, also the name an exact `metadata.name` field
    /// selector asks for (which RBAC's resourceNames may then allow).
    pub name: String,
    /// The path segments from the resource on: `resource/name/subresource/...`.
    pub parts: Vec<String>,
}

/// Where API paths start; `api` has no group segment.
const API_PREFIXES: [&str; 2] = ["api", "apis"];
/// Path segments that are verbs rather than resources (`/api/v1/watch/pods`).
const SPECIAL_VERBS: [&str; 2] = ["proxy", "watch"];
/// The segment that scopes a path to a namespace, and the namespaces' own resource.
const NAMESPACES: &str = "namespaces";
/// A namespace's own subresources: `/api/v1/namespaces/{name}/status` is not a resource in it.
const NAMESPACE_SUBRESOURCES: [&str; 2] = ["status", "finalize"];

/// A path that is not valid percent-encoded UTF-8: Go's server refuses to parse its URL.
#[derive(Debug, thiserror::Error)]
#[error("invalid URL escape in the path {0:?}")]
pub struct InvalidPath(String);

impl RequestInfo {
    /// Parses a request as `RequestInfoFactory.NewRequestInfo` does: segments split on `/`
    /// after the path is decoded, empty segments kept (so `/apis//v1/secrets` names the group
    /// "", as kube-apiserver sees it, and is then served by no group).
    pub fn new(method: &Method, raw_path: &str, params: &Params) -> Result<Self, InvalidPath> {
        let path = percent_encoding::percent_decode_str(raw_path).decode_utf8().map_err(|_| InvalidPath(raw_path.to_string()))?.into_owned();
        let mut info = Self { path, verb: method.as_str().to_ascii_lowercase(), ..Self::default() };
        let trimmed = info.path.trim_matches('/');
        let segments: Vec<&str> = if trimmed.is_empty() { Vec::new() } else { trimmed.split('/').collect() };
        let mut rest = segments.as_slice();
        let Some((prefix, after)) = rest.split_first().filter(|(prefix, after)| API_PREFIXES.contains(prefix) && after.len() >= 2) else {
            return Ok(info);
        };
        rest = after;
        let group = if *prefix == "apis" {
            // The group segment is one more: `apis/{group}/{version}/{resource}` needs four.
            let [group, after @ ..] = rest else { return Ok(info) };
            if after.len() < 2 {
                return Ok(info);
            }
            rest = after;
            *group
        } else {
            ""
        };
        let (version, after) = rest.split_first().unwrap_or((&"", &[]));
        rest = after;
        info.is_resource_request = true;
        info.api_prefix = (*prefix).to_string();
        info.api_group = group.to_string();
        info.api_version = (*version).to_string();
        match rest.split_first() {
            Some((special, after)) if SPECIAL_VERBS.contains(special) => {
                if after.is_empty() {
                    // kube-apiserver: "unable to determine kind and namespace from url"; the
                    // request is then served by nothing.
                    info.verb = (*special).to_string();
                    return Ok(info);
                }
                info.verb = (*special).to_string();
                rest = after;
            }
            _ => {
                info.verb = match *method {
                    Method::POST => "create",
                    Method::GET | Method::HEAD => "get",
                    Method::PUT => "update",
                    Method::PATCH => "patch",
                    Method::DELETE => "delete",
                    _ => "",
                }
                .to_string();
            }
        }
        if rest.first() == Some(&NAMESPACES)
            && let Some(namespace) = rest.get(1)
        {
            info.namespace = (*namespace).to_string();
            if rest.len() > 2 && !NAMESPACE_SUBRESOURCES.contains(&rest[2]) {
                rest = &rest[2..];
            }
        }
        info.parts = rest.iter().map(|part| (*part).to_string()).collect();
        info.resource = info.parts.first().cloned().unwrap_or_default();
        if info.parts.len() >= 2 {
            info.name = info.parts[1].clone();
        }
        if info.parts.len() >= 3 && info.verb != "proxy" {
            info.subresource = info.parts[2].clone();
        }
        if info.name.is_empty() && info.verb == "get" {
            info.verb = if params.flag("watch") { "watch" } else { "list" }.to_string();
        }
        if info.name.is_empty()
            && matches!(info.verb.as_str(), "list" | "watch")
            && let Some(name) = params.get("fieldSelector").and_then(exact_name)
        {
            info.name = name;
        }
        if info.name.is_empty() && info.verb == "delete" {
            info.verb = "deletecollection".into();
        }
        Ok(info)
    }

    /// Whether the path names a namespace by name (`.../namespaces/{name}...` with the
    /// namespaces as the resource), in whatever form.
    pub fn names_a_namespace(&self) -> bool {
        self.parts.len() >= 2 && self.parts[0] == NAMESPACES
    }

    /// Whether the path is `/api/v1/namespaces/{name}[/{subresource}]`, the namespace itself,
    /// which the parse names as its own namespace.
    pub fn is_namespace_itself(&self) -> bool {
        self.names_a_namespace() && self.parts[1] == self.namespace
    }

    /// Whether the answer goes on as long as the client wants it (the request timeout does not
    /// apply; audit logs `ResponseStarted`): kube-apiserver's `BasicLongRunningRequestCheck`,
    /// the watch and proxy verbs and the attach, exec, log, portforward and proxy subresources.
    pub fn is_long_running(&self) -> bool {
        matches!(self.verb.as_str(), "watch" | "proxy") || matches!(self.subresource.as_str(), "attach" | "exec" | "log" | "portforward" | "proxy")
    }
}

/// The name an exact `metadata.name` field selector requires (`metadata.name=x`,
/// `metadata.name==x`), when it is a valid path segment, as RequestInfo takes it.
fn exact_name(selector: &str) -> Option<String> {
    let mut found = None;
    for term in selector.split(',') {
        let (field, value) = term.split_once("==").or_else(|| term.split_once('=').filter(|(field, _)| !field.ends_with('!')))?;
        if field.trim() == "metadata.name" {
            if found.is_some() {
                return None;
            }
            found = Some(value.trim().to_string());
        }
    }
    found.filter(|name| valid_path_segment(name))
}

/// `path.IsValidPathSegmentName`: not `.` or `..`, no `/` or `%`.
pub fn valid_path_segment(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '%'])
}

/// A Go duration (`time.ParseDuration`: `1h2m3.5s`, `300ms`, `-1s`, `0`); negative ones are
/// zero, as a deadline in the past. None when it is not one.
pub fn go_duration(text: &str) -> Option<std::time::Duration> {
    let (negative, mut rest) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if rest == "0" {
        return Some(std::time::Duration::ZERO);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let number_end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        let number: f64 = rest[..number_end].parse().ok()?;
        rest = &rest[number_end..];
        let unit_end = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let seconds_per = match &rest[..unit_end] {
            "ns" => 1e-9,
            "us" | "\u{b5}s" | "\u{3bc}s" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        rest = &rest[unit_end..];
        total += number * seconds_per;
    }
    if negative {
        return Some(std::time::Duration::ZERO);
    }
    std::time::Duration::try_from_secs_f64(total).ok()
}

/// A request as parsed once, kept in its extensions.
#[derive(Clone, Debug)]
pub struct Parsed {
    pub info: Arc<RequestInfo>,
    pub params: Arc<Params>,
}

impl Parsed {
    pub fn of(request: &Request) -> Result<Self, InvalidPath> {
        let params = Params::parse(request.uri().query());
        let info = RequestInfo::new(request.method(), request.uri().path(), &params)?;
        Ok(Self { info: Arc::new(info), params: Arc::new(params) })
    }

    /// The parse the middleware stored, or a new one for a request that did not pass it (the
    /// server's own calls in tests).
    pub fn from_extensions(request: &Request) -> Result<Self, InvalidPath> {
        match request.extensions().get::<Self>() {
            Some(parsed) => Ok(parsed.clone()),
            None => Self::of(request),
        }
    }
}

/// The first layer: parses the request once and keeps the result in its extensions; a path
/// that cannot be decoded gets 400, as Go's server refuses an invalid request URI.
pub async fn middleware(mut request: Request, next: Next) -> Response {
    match Parsed::of(&request) {
        Ok(parsed) => {
            request.extensions_mut().insert(parsed);
            next.run(request).await
        }
        Err(err) => ApiError::bad_request(err.to_string()).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(method: &str, uri: &str) -> RequestInfo {
        let (path, query) = uri.split_once('?').map_or((uri, None), |(path, query)| (path, Some(query)));
        RequestInfo::new(&method.parse().unwrap_or(Method::GET), path, &Params::parse(query)).unwrap_or_default()
    }

    fn summary(info: &RequestInfo) -> (bool, &str, &str, &str, &str, &str, &str, &str) {
        (info.is_resource_request, info.verb.as_str(), info.api_group.as_str(), info.api_version.as_str(), info.namespace.as_str(), info.resource.as_str(), info.name.as_str(), info.subresource.as_str())
    }

    #[test]
    fn requests_are_described_as_request_info_describes_them() {
        let rows = [
            ("GET", "/api/v1/namespaces/demo/pods/web", (true, "get", "", "v1", "demo", "pods", "web", "")),
            ("GET", "/api/v1/namespaces/demo/pods", (true, "list", "", "v1", "demo", "pods", "", "")),
            ("GET", "/api/v1/namespaces/demo/pods?watch=1", (true, "watch", "", "v1", "demo", "pods", "", "")),
            ("GET", "/api/v1/namespaces/demo/pods?watch=yes", (true, "watch", "", "v1", "demo", "pods", "", "")),
            ("GET", "/api/v1/namespaces/demo/pods?watch=%74rue", (true, "watch", "", "v1", "demo", "pods", "", "")),
            ("GET", "/api/v1/namespaces/demo/pods?watch=0&watch=1", (true, "list", "", "v1", "demo", "pods", "", "")),
            ("GET", "/api/v1/namespaces/demo/pods?watch=1&watch=0", (true, "watch", "", "v1", "demo", "pods", "", "")),
            ("GET", "/api/v1/namespaces/demo/pods?watch=FALSE", (true, "list", "", "v1", "demo", "pods", "", "")),
            ("GET", "/api/v1/namespaces/demo/pods?fieldSelector=metadata.name%3Dweb", (true, "list", "", "v1", "demo", "pods", "web", "")),
            ("GET", "/api/v1/watch/namespaces/demo/pods", (true, "watch", "", "v1", "demo", "pods", "", "")),
            ("POST", "/api/v1/namespaces/demo/pods/web/exec", (true, "create", "", "v1", "demo", "pods", "web", "exec")),
            ("GET", "/api/v1/namespaces/demo", (true, "get", "", "v1", "demo", "namespaces", "demo", "")),
            ("PUT", "/api/v1/namespaces/demo/finalize", (true, "update", "", "v1", "demo", "namespaces", "demo", "finalize")),
            ("GET", "/api/v1/namespaces", (true, "list", "", "v1", "", "namespaces", "", "")),
            ("DELETE", "/apis/apps/v1/namespaces/demo/deployments", (true, "deletecollection", "apps", "v1", "demo", "deployments", "", "")),
            ("GET", "/apis//v1/secrets", (true, "list", "", "v1", "", "secrets", "", "")),
            ("GET", "/api/v1/namespaces/a%2Fb/secrets", (true, "get", "", "v1", "a", "b", "secrets", "")),
            ("GET", "/apis/apps/v1", (false, "get", "", "", "", "", "", "")),
            ("GET", "/apis", (false, "get", "", "", "", "", "", "")),
            ("GET", "/metrics", (false, "get", "", "", "", "", "", "")),
            ("GET", "/api/v1/watch", (true, "watch", "", "v1", "", "", "", "")),
        ];
        for (method, uri, expected) in rows {
            assert_eq!(summary(&info(method, uri)), expected, "{method} {uri}");
        }
        assert!(RequestInfo::new(&Method::GET, "/api/v1/%ff", &Params::default()).is_err());
    }

    #[test]
    fn query_parameters_read_as_kubernetes_reads_them() {
        let params = Params::parse(Some("limit=5&limit=7&timeoutSeconds=abc&big=9223372036854775808&watch="));
        assert_eq!(params.number("limit").ok().flatten(), Some(5));
        assert_eq!(params.number("timeoutSeconds").unwrap_err().message, "strconv.ParseInt: parsing \"abc\": invalid syntax");
        assert_eq!(params.number("big").unwrap_err().message, "strconv.ParseInt: parsing \"9223372036854775808\": value out of range");
        assert!(params.flag("watch"), "an empty value is true");
        assert_eq!(exact_name("metadata.name==x,status.phase=Running"), Some("x".into()));
        assert_eq!(exact_name("metadata.name!=x"), None);
        assert_eq!(exact_name("metadata.name=.."), None);
        assert_eq!(go_duration("1m30.5s"), Some(std::time::Duration::from_millis(90_500)));
        assert_eq!(go_duration("0"), Some(std::time::Duration::ZERO));
        assert_eq!((go_duration("30"), go_duration("s"), go_duration("")), (None, None, None));
    }
}
