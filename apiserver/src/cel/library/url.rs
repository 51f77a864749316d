//! Kubernetes' URL library (`url()`, `isURL()`, `getScheme()`...), which parses as Go's
//! `url.ParseRequestURI`: an absolute URI or an absolute path (a `#` is no fragment there,
//! only more of the path or query), a port all digits.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::cel::value::{Key, Url, Value};

/// `url.ParseRequestURI` as far as rules use it.
pub fn parse(text: &str) -> Result<Url, String> {
    let invalid = || format!("URL parse error during conversion from string: parse {:?}: invalid URI for request", text);
    if text.is_empty() || text.chars().any(char::is_control) {
        return Err(invalid());
    }
    let (rest, query) = text.split_once('?').unwrap_or((text, ""));
    if rest.starts_with('/') {
        return Ok(Url { scheme: String::new(), host: String::new(), path: rest.to_string(), query: query.to_string() });
    }
    let (scheme, rest) = rest.split_once(':').ok_or_else(invalid)?;
    let scheme_ok = scheme.chars().next().is_some_and(|first| first.is_ascii_alphabetic())
        && scheme.chars().all(|character| character.is_ascii_alphanumeric() || matches!(character, '+' | '-' | '.'));
    if !scheme_ok {
        return Err(invalid());
    }
    let Some(authority_and_path) = rest.strip_prefix("//") else {
        // An opaque URI such as `mailto:a@b`: the rest is its path.
        return Ok(Url { scheme: scheme.to_string(), host: String::new(), path: rest.to_string(), query: query.to_string() });
    };
    let (authority, path) = match authority_and_path.find('/') {
        Some(at) => (&authority_and_path[..at], &authority_and_path[at..]),
        None => (authority_and_path, ""),
    };
    let host = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
    let port = if host.starts_with('[') { host.rsplit_once("]:").map(|(_, port)| port) } else { host.split_once(':').map(|(_, port)| port) };
    if port.is_some_and(|port| !port.chars().all(|character| character.is_ascii_digit())) || host.contains(' ') {
        return Err(invalid());
    }
    Ok(Url { scheme: scheme.to_string(), host: host.to_string(), path: path.to_string(), query: query.to_string() })
}

impl Url {
    fn hostname(&self) -> &str {
        if let Some(inner) = self.host.strip_prefix('[') {
            return inner.split_once(']').map_or(inner, |(address, _)| address);
        }
        self.host.rsplit_once(':').map_or(self.host.as_str(), |(name, _)| name)
    }

    fn port(&self) -> &str {
        if self.host.starts_with('[') {
            return self.host.rsplit_once("]:").map_or("", |(_, port)| port);
        }
        self.host.rsplit_once(':').map_or("", |(_, port)| port)
    }

    /// `getQuery()`: each key with its values, decoded.
    fn query_map(&self) -> Value {
        let mut out: BTreeMap<Key, Vec<Value>> = BTreeMap::new();
        // Go's `Query()` decodes `+` and `%XX` and keeps a space as it is.
        for (name, value) in form_urlencoded::parse(self.query.as_bytes()) {
            out.entry(Key::String(Arc::from(name.as_ref()))).or_default().push(Value::string(value.as_ref()));
        }
        Value::Map(Arc::new(out.into_iter().map(|(key, values)| (key, Value::list(values))).collect()))
    }
}

/// Go's `EscapedPath` of an unescaped path: characters a path may not hold as they are
/// (spaces, quotes...) percent-encoded, `%` sequences kept.
fn escaped_path(path: &str) -> String {
    const KEEP: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'/').remove(b'-').remove(b'.').remove(b'_').remove(b'~').remove(b'!').remove(b'$').remove(b'&').remove(b'\'')
        .remove(b'(').remove(b')').remove(b'*').remove(b'+').remove(b',').remove(b';').remove(b'=').remove(b':').remove(b'@').remove(b'%');
    percent_encoding::utf8_percent_encode(path, KEEP).to_string()
}

/// The URL methods: `Some` when `name` is one.
pub fn method(name: &str, url: &Url) -> Option<Value> {
    Some(match name {
        "getScheme" => Value::string(url.scheme.as_str()),
        "getHost" => Value::string(url.host.as_str()),
        "getHostname" => Value::string(url.hostname()),
        "getPort" => Value::string(url.port()),
        "getEscapedPath" => Value::string(escaped_path(&url.path)),
        "getQuery" => url.query_map(),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_as_request_uris() {
        let url = parse("https://user@example.com:8080/a/b?x=1&x=2").unwrap_or_else(|error| panic!("{error}"));
        assert_eq!((url.scheme.as_str(), url.hostname(), url.port(), url.path.as_str()), ("https", "example.com", "8080", "/a/b"));
        assert!(parse("/absolute/path").is_ok());
        assert!(parse("relative/path").is_err());
        assert!(parse("https://a:b:c/").is_err());
        assert_eq!(escaped_path("/with space/"), "/with%20space/");
        let ipv6 = parse("http://[::1]:80/").unwrap_or_else(|error| panic!("{error}"));
        assert_eq!((ipv6.hostname(), ipv6.port()), ("::1", "80"));
    }
}
