//! `pods/exec`, `pods/attach` and `pods/portforward`: checked here as kube-apiserver checks them
//! (the pod, its node, the container, the options), then the upgraded connection is handed to
//! the kubelet of the pod's node. The kubelet speaks the streaming protocols (WebSocket and
//! SPDY); the bytes pass through here untouched, and the connection lives as long as both ends
//! keep it.

use axum::body::Body;
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::Response;
use common::upgrade::{self, Dialed};

use super::logs::{container, kubelet_address, kubelet_error};
use super::{Api, Params, Target, read};
use crate::errors::ApiError;

/// The subresources served here.
pub const SUBRESOURCES: [&str; 3] = ["exec", "attach", "portforward"];

pub async fn connect(api: &Api, target: &Target, params: &Params, parts: &mut Parts) -> Result<Response, ApiError> {
    let name = target.name.as_deref().unwrap_or_default();
    let namespace = target.namespace.as_deref().unwrap_or_default();
    let subresource = target.subresource.as_deref().unwrap_or_default();
    let pod = read::fetch(api, target, name).await?;
    let path = match subresource {
        "portforward" => format!("/portForward/{namespace}/{name}?{}", port_query(params)?),
        _ => {
            let container = container(&pod, name, params.get("container"))?;
            format!("/{subresource}/{namespace}/{name}/{container}?{}", stream_query(subresource, params)?)
        }
    };
    if !upgrade::is_upgrade(&parts.headers) {
        return Err(ApiError::bad_request("Upgrade request required"));
    }
    let node = pod["spec"]["nodeName"].as_str().filter(|node| !node.is_empty()).ok_or_else(|| {
        ApiError::bad_request(format!("pod {name} does not have a host assigned"))
    })?;
    let address = kubelet_address(api, node).await?;
    let client = parts
        .extensions
        .remove::<hyper::upgrade::OnUpgrade>()
        .ok_or_else(|| ApiError::bad_request("the connection cannot be upgraded (HTTP/1.1 is required)"))?;
    let dialed = upgrade::dial(&api.kubelet, &address, parts.method.clone(), &path, &parts.headers)
        .await
        .map_err(|err| ApiError::internal(format!("error dialing backend: {err}")))?;
    match dialed {
        Dialed::Refused { status, body } => {
            Err(kubelet_error(status, &String::from_utf8_lossy(&body)))
        }
        Dialed::Switched { headers, io } => {
            tracing::debug!(namespace, pod = name, subresource, node, "streaming");
            tokio::spawn(upgrade::splice(client, io, api.streams.clone()));
            let mut response = Response::new(Body::empty());
            *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
            for (name, value) in &headers {
                if name != header::CONTENT_LENGTH && name != header::TRANSFER_ENCODING {
                    response.headers_mut().append(name, value.clone());
                }
            }
            Ok(response)
        }
    }
}

/// The kubelet's query for exec and attach, with its parameter names (`input`, `output`,
/// `error`, `tty`, `command`), after the checks kube-apiserver makes.
fn stream_query(subresource: &str, params: &Params) -> Result<String, ApiError> {
    let (stdin, stdout, stderr, tty) = (params.flag("stdin"), params.flag("stdout"), params.flag("stderr"), params.flag("tty"));
    if !stdin && !stdout && !stderr {
        return Err(ApiError::bad_request("you must specify at least 1 of stdin, stdout, stderr"));
    }
    if tty && stderr {
        return Err(ApiError::bad_request("stderr cannot be requested with tty"));
    }
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (flag, name) in [(stdin, "input"), (stdout, "output"), (stderr, "error"), (tty, "tty")] {
        if flag {
            query.append_pair(name, "1");
        }
    }
    if subresource == "exec" {
        let command = params.all("command");
        if command.is_empty() {
            return Err(ApiError::bad_request("you must specify at least 1 command"));
        }
        for word in command {
            query.append_pair("command", word);
        }
    }
    Ok(query.finish())
}

/// The kubelet's query for port-forward: one `port` per port asked for. Clients send `ports`
/// repeated or comma-separated; WebSocket clients must name at least one, SPDY clients name
/// theirs per stream.
fn port_query(params: &Params) -> Result<String, ApiError> {
    let mut query = form_urlencoded::Serializer::new(String::new());
    for port in params.all("ports").iter().flat_map(|value| value.split(',')).map(str::trim).filter(|port| !port.is_empty()) {
        match port.parse::<u16>() {
            Ok(number) if number > 0 => {
                query.append_pair("port", port);
            }
            _ => return Err(ApiError::bad_request(format!("invalid port {port:?}: must be between 1 and 65535, inclusive"))),
        }
    }
    Ok(query.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_options_are_checked_and_renamed_for_the_kubelet() {
        let params = Params::parse(Some("command=sh&command=-c&command=echo+hi&stdin=true&stdout=true&tty=true"));
        assert_eq!(stream_query("exec", &params).unwrap(), "input=1&output=1&tty=1&command=sh&command=-c&command=echo+hi");
        let attach = Params::parse(Some("stdout=1&stderr=1"));
        assert_eq!(stream_query("attach", &attach).unwrap(), "output=1&error=1");
        let no_command = stream_query("exec", &Params::parse(Some("stdout=true"))).unwrap_err();
        assert_eq!((no_command.code, no_command.message.as_str()), (400, "you must specify at least 1 command"));
        let no_stream = stream_query("exec", &Params::parse(Some("command=ls"))).unwrap_err();
        assert_eq!(no_stream.message, "you must specify at least 1 of stdin, stdout, stderr");
        assert!(stream_query("exec", &Params::parse(Some("command=ls&stderr=true&tty=true"))).is_err());
    }

    #[test]
    fn ports_may_be_repeated_or_comma_separated() {
        assert_eq!(port_query(&Params::parse(Some("ports=80,8080&ports=9090"))).unwrap(), "port=80&port=8080&port=9090");
        assert_eq!(port_query(&Params::parse(None)).unwrap(), "");
        let bad = port_query(&Params::parse(Some("ports=http"))).unwrap_err();
        assert_eq!((bad.code, bad.message.as_str()), (400, "invalid port \"http\": must be between 1 and 65535, inclusive"));
        assert!(port_query(&Params::parse(Some("ports=0"))).is_err());
    }
}
