//! The format checks of `k8s.io/apimachinery/pkg/util/validation`, with its messages word for
//! word: each returns the list of what is wrong (empty when the value is fine), and the caller
//! turns every message into its own `Invalid value` cause, as Kubernetes does.

use std::net::IpAddr;

const DNS1123_LABEL_MAX: usize = 63;
const DNS1123_SUBDOMAIN_MAX: usize = 253;
const QUALIFIED_NAME_MAX: usize = 63;
const LABEL_VALUE_MAX: usize = 63;
const PORT_NAME_MAX: usize = 15;

const DNS1123_LABEL_FORMAT: &str = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
const DNS1123_LABEL_MESSAGE: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character";
const DNS1123_SUBDOMAIN_FORMAT: &str = "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
const DNS1123_SUBDOMAIN_MESSAGE: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";
const DNS1035_LABEL_FORMAT: &str = "[a-z]([-a-z0-9]*[a-z0-9])?";
const DNS1035_LABEL_MESSAGE: &str = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character";
const QUALIFIED_NAME_FORMAT: &str = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const QUALIFIED_NAME_MESSAGE: &str =
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const LABEL_VALUE_FORMAT: &str = "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?";
const LABEL_VALUE_MESSAGE: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const CONFIG_KEY_FORMAT: &str = "[-._a-zA-Z0-9]+";
const CONFIG_KEY_MESSAGE: &str = "a valid config key must consist of alphanumeric characters, '-', '_' or '.'";
const PERCENT_FORMAT: &str = "[0-9]+%";
const PERCENT_MESSAGE: &str = "a valid percent string must be a numeric string followed by an ending '%'";
const HTTP_HEADER_FORMAT: &str = "[-A-Za-z0-9]+";
const HTTP_HEADER_MESSAGE: &str = "a valid HTTP header must consist of alphanumeric characters or '-'";

pub const IP_MESSAGE: &str = "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)";
pub const CIDR_MESSAGE: &str = "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)";

/// `validation.RegexError`, including its double space between examples.
fn regex_error(message: &str, format: &str, examples: &[&str]) -> String {
    if examples.is_empty() {
        return format!("{message} (regex used for validation is '{format}')");
    }
    let mut text = format!("{message} (e.g. ");
    for (index, example) in examples.iter().enumerate() {
        if index > 0 {
            text.push_str(" or ");
        }
        text.push_str(&format!("'{example}', "));
    }
    text.push_str(&format!("regex used for validation is '{format}')"));
    text
}

pub fn max_length_error(length: usize) -> String {
    format!("must be no more than {length} characters")
}

pub fn inclusive_range_error(low: i64, high: i64) -> String {
    format!("must be between {low} and {high}, inclusive")
}

fn is_lower_alphanumeric(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit()
}

/// `[a-z0-9]([-a-z0-9]*[a-z0-9])?`
fn matches_dns1123_label(value: &str) -> bool {
    let (Some(first), Some(last)) = (value.chars().next(), value.chars().last()) else { return false };
    is_lower_alphanumeric(first)
        && is_lower_alphanumeric(last)
        && value.chars().all(|c| is_lower_alphanumeric(c) || c == '-')
}

fn matches_dns1123_subdomain(value: &str) -> bool {
    value.split('.').all(matches_dns1123_label)
}

/// `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`
fn matches_qualified_name_part(value: &str) -> bool {
    let (Some(first), Some(last)) = (value.chars().next(), value.chars().last()) else { return false };
    first.is_ascii_alphanumeric()
        && last.is_ascii_alphanumeric()
        && value.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// `IsDNS1123Label`: container, port, volume names; namespace names; hostnames.
pub fn dns1123_label(value: &str) -> Vec<String> {
    let mut errors = Vec::new();
    if value.len() > DNS1123_LABEL_MAX {
        errors.push(max_length_error(DNS1123_LABEL_MAX));
    }
    if !matches_dns1123_label(value) {
        if matches_dns1123_subdomain(value) {
            // A valid subdomain of the right length that is no label: it has dots.
            errors.push("must not contain dots".to_string());
        } else {
            errors.push(regex_error(DNS1123_LABEL_MESSAGE, DNS1123_LABEL_FORMAT, &["my-name", "123-abc"]));
        }
    }
    errors
}

/// `IsDNS1123Subdomain`: most object names.
pub fn dns1123_subdomain(value: &str) -> Vec<String> {
    let mut errors = Vec::new();
    if value.len() > DNS1123_SUBDOMAIN_MAX {
        errors.push(max_length_error(DNS1123_SUBDOMAIN_MAX));
    }
    if !matches_dns1123_subdomain(value) {
        errors.push(regex_error(DNS1123_SUBDOMAIN_MESSAGE, DNS1123_SUBDOMAIN_FORMAT, &["example.com"]));
    }
    errors
}

/// `IsDNS1035Label`: Service names.
pub fn dns1035_label(value: &str) -> Vec<String> {
    let mut errors = Vec::new();
    if value.len() > DNS1123_LABEL_MAX {
        errors.push(max_length_error(DNS1123_LABEL_MAX));
    }
    let starts_with_letter = value.chars().next().is_some_and(|c| c.is_ascii_lowercase());
    if !(starts_with_letter && matches_dns1123_label(value)) {
        errors.push(regex_error(DNS1035_LABEL_MESSAGE, DNS1035_LABEL_FORMAT, &["my-name", "abc-123"]));
    }
    errors
}

/// How an object's name is checked (`ValidateNameFunc`). With `prefix` (a `generateName`), a
/// trailing dash is allowed, as `maskTrailingDash` does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NameFormat {
    Dns1123Subdomain,
    Dns1123Label,
    Dns1035Label,
}

impl NameFormat {
    pub fn check(self, name: &str, prefix: bool) -> Vec<String> {
        let masked;
        let name = if prefix && name.len() > 1 && name.ends_with('-') {
            masked = format!("{}a", &name[..name.len() - 1]);
            masked.as_str()
        } else {
            name
        };
        match self {
            NameFormat::Dns1123Subdomain => dns1123_subdomain(name),
            NameFormat::Dns1123Label => dns1123_label(name),
            NameFormat::Dns1035Label => dns1035_label(name),
        }
    }
}

/// `IsQualifiedName`: label keys, annotation keys, finalizers, condition types.
pub fn qualified_name(value: &str) -> Vec<String> {
    let mut errors = Vec::new();
    let parts: Vec<&str> = value.split('/').collect();
    let name = match parts.as_slice() {
        [name] => *name,
        [prefix, name] => {
            if prefix.is_empty() {
                errors.push("prefix part must be non-empty".to_string());
            } else {
                for message in dns1123_subdomain(prefix) {
                    errors.push(format!("prefix part {message}"));
                }
            }
            *name
        }
        _ => {
            errors.push(format!(
                "a qualified name {} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
                regex_error(QUALIFIED_NAME_MESSAGE, QUALIFIED_NAME_FORMAT, &["MyName", "my.name", "123-abc"])
            ));
            return errors;
        }
    };
    if name.is_empty() {
        errors.push("name part must be non-empty".to_string());
    } else if name.len() > QUALIFIED_NAME_MAX {
        errors.push(format!("name part {}", max_length_error(QUALIFIED_NAME_MAX)));
    }
    if !matches_qualified_name_part(name) {
        errors.push(format!(
            "name part {}",
            regex_error(QUALIFIED_NAME_MESSAGE, QUALIFIED_NAME_FORMAT, &["MyName", "my.name", "123-abc"])
        ));
    }
    errors
}

/// `IsValidLabelValue`.
pub fn label_value(value: &str) -> Vec<String> {
    let mut errors = Vec::new();
    if value.len() > LABEL_VALUE_MAX {
        errors.push(max_length_error(LABEL_VALUE_MAX));
    }
    if !value.is_empty() && !matches_qualified_name_part(value) {
        errors.push(regex_error(LABEL_VALUE_MESSAGE, LABEL_VALUE_FORMAT, &["MyValue", "my_value", "12345"]));
    }
    errors
}

/// `IsConfigMapKey`: keys of ConfigMap and Secret data.
pub fn config_map_key(value: &str) -> Vec<String> {
    let mut errors = Vec::new();
    if value.len() > DNS1123_SUBDOMAIN_MAX {
        errors.push(max_length_error(DNS1123_SUBDOMAIN_MAX));
    }
    let valid = !value.is_empty() && value.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'));
    if !valid {
        errors.push(regex_error(CONFIG_KEY_MESSAGE, CONFIG_KEY_FORMAT, &["key.name", "KEY_NAME", "key-name"]));
    }
    errors.extend(chdir_prefix(value));
    errors
}

/// `hasChDirPrefix`: keys become file names, so `.` and `..` are out.
fn chdir_prefix(value: &str) -> Vec<String> {
    match value {
        "." => vec!["must not be '.'".to_string()],
        ".." => vec!["must not be '..'".to_string()],
        _ if value.starts_with("..") => vec!["must not start with '..'".to_string()],
        _ => Vec::new(),
    }
}

/// `IsRelaxedEnvVarName`: the check for environment variable names and `envFrom` prefixes
/// since the RelaxedEnvironmentVariableValidation gate went beta (on by default) in 1.32.
pub fn env_var_name(value: &str) -> Vec<String> {
    let mut errors = Vec::new();
    if value.is_empty() {
        errors.push("environment variable name must be non-empty".to_string());
    }
    if value.chars().any(|c| !(' '..='~').contains(&c) || c == '=') {
        errors.push(
            "environment variable name: a valid environment variable name must consist only of printable ASCII characters other than '='"
                .to_string(),
        );
    }
    errors
}

/// `IsValidPortName` (an IANA_SVC_NAME).
pub fn port_name(value: &str) -> Vec<String> {
    let mut errors = Vec::new();
    if value.len() > PORT_NAME_MAX {
        errors.push(max_length_error(PORT_NAME_MAX));
    }
    if value.is_empty() || !value.chars().all(|c| is_lower_alphanumeric(c) || c == '-') {
        errors.push("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)".to_string());
    }
    if !value.chars().any(|c| c.is_ascii_lowercase()) {
        errors.push("must contain at least one letter (a-z)".to_string());
    }
    if value.contains("--") {
        errors.push("must not contain consecutive hyphens".to_string());
    }
    if value.starts_with('-') || value.ends_with('-') {
        errors.push("must not begin or end with a hyphen".to_string());
    }
    errors
}

/// `IsValidPortNum`.
pub fn port_number(value: i64) -> Vec<String> {
    if (1..=65535).contains(&value) { Vec::new() } else { vec![inclusive_range_error(1, 65535)] }
}

/// `IsValidPercent`: `[0-9]+%`.
pub fn percent(value: &str) -> Vec<String> {
    let digits = value.strip_suffix('%').unwrap_or("");
    if !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit()) {
        Vec::new()
    } else {
        vec![regex_error(PERCENT_MESSAGE, PERCENT_FORMAT, &["1%", "93%"])]
    }
}

/// `IsHTTPHeaderName`.
pub fn http_header_name(value: &str) -> Vec<String> {
    if !value.is_empty() && value.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        Vec::new()
    } else {
        vec![regex_error(HTTP_HEADER_MESSAGE, HTTP_HEADER_FORMAT, &["X-Header-Name"])]
    }
}

pub fn parse_ip(value: &str) -> Option<IpAddr> {
    value.parse().ok()
}

pub fn is_ip(value: &str) -> bool {
    parse_ip(value).is_some()
}

/// A CIDR such as `10.244.1.0/24` (host bits may be set, as Go's `ParseCIDR` allows).
pub fn parse_cidr(value: &str) -> Option<(IpAddr, u8)> {
    let (address, prefix) = value.split_once('/')?;
    let address: IpAddr = address.parse().ok()?;
    if prefix.is_empty() || !prefix.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let prefix: u8 = prefix.parse().ok()?;
    let max = if address.is_ipv4() { 32 } else { 128 };
    (prefix <= max).then_some((address, prefix))
}

#[cfg(test)]
mod tests {
    use super::*;

    type Check = fn(&str) -> Vec<String>;

    #[test]
    fn dns_names() {
        let cases: &[(&str, Check, &[&str])] = &[
            ("web-1", dns1123_label, &[]),
            ("Web", dns1123_label, &["a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"]),
            ("a.b", dns1123_label, &["must not contain dots"]),
            ("-a", dns1123_label, &["a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"]),
            ("example.com", dns1123_subdomain, &[]),
            ("My_Name", dns1123_subdomain, &["a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"]),
            ("", dns1123_subdomain, &["a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"]),
            ("a..b", dns1123_subdomain, &["a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"]),
            ("web", dns1035_label, &[]),
            ("1web", dns1035_label, &["a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"]),
        ];
        for (value, check, expected) in cases {
            assert_eq!(check(value), expected.to_vec(), "{value:?}");
        }
        assert_eq!(dns1123_label(&"a".repeat(64)), vec!["must be no more than 63 characters".to_string()]);
        assert_eq!(dns1123_subdomain(&"a".repeat(254)), vec!["must be no more than 253 characters".to_string()]);
    }

    #[test]
    fn generate_name_prefixes_may_end_with_a_dash() {
        assert!(NameFormat::Dns1123Subdomain.check("web-", true).is_empty());
        assert!(!NameFormat::Dns1123Subdomain.check("web-", false).is_empty());
        assert!(NameFormat::Dns1035Label.check("web-", true).is_empty());
    }

    #[test]
    fn qualified_names_and_label_values() {
        assert!(qualified_name("app.kubernetes.io/name").is_empty());
        assert!(qualified_name("MyName").is_empty());
        assert_eq!(qualified_name("/name"), vec!["prefix part must be non-empty".to_string()]);
        assert_eq!(qualified_name("a/b/c").len(), 1);
        assert!(qualified_name("a/b/c")[0].starts_with("a qualified name must consist of"));
        assert_eq!(
            qualified_name("-bad"),
            vec!["name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')".to_string()]
        );
        assert_eq!(qualified_name("Example.com/x")[0].split(' ').take(3).collect::<Vec<_>>(), ["prefix", "part", "a"]);
        assert_eq!(qualified_name(&"a".repeat(64)), vec!["name part must be no more than 63 characters".to_string()]);
        assert!(label_value("").is_empty());
        assert!(label_value("v1.2_x-y").is_empty());
        assert_eq!(label_value("a b").len(), 1);
        assert_eq!(label_value(&"a".repeat(64)), vec!["must be no more than 63 characters".to_string()]);
    }

    #[test]
    fn config_keys_ports_env_names() {
        assert!(config_map_key("app.properties").is_empty());
        assert_eq!(config_map_key("my key").len(), 1);
        assert_eq!(config_map_key(".."), vec!["must not be '..'".to_string()]);
        assert_eq!(config_map_key("..a"), vec!["must not start with '..'".to_string()]);
        assert_eq!(config_map_key(&"a".repeat(254)), vec!["must be no more than 253 characters".to_string()]);
        assert!(port_name("http").is_empty());
        assert_eq!(port_name("8080"), vec!["must contain at least one letter (a-z)".to_string()]);
        assert_eq!(port_name("a--b"), vec!["must not contain consecutive hyphens".to_string()]);
        assert_eq!(port_name("HTTP").len(), 2);
        assert_eq!(port_name("a-very-long-port-name"), vec!["must be no more than 15 characters".to_string()]);
        assert_eq!(port_number(0), vec!["must be between 1 and 65535, inclusive".to_string()]);
        assert!(port_number(65535).is_empty());
        assert!(env_var_name("MY_VAR.1-x y").is_empty());
        assert_eq!(env_var_name("A=B").len(), 1);
        assert_eq!(env_var_name("é").len(), 1);
        assert!(percent("25%").is_empty());
        assert_eq!(percent("25"), vec!["a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')".to_string()]);
        assert!(http_header_name("X-Trace").is_empty());
        assert_eq!(http_header_name("X Trace").len(), 1);
    }

    #[test]
    fn addresses() {
        assert!(is_ip("10.0.0.1"));
        assert!(is_ip("2001:db8::1"));
        assert!(!is_ip("10.0.0"));
        assert!(parse_cidr("10.244.0.0/24").is_some());
        assert!(parse_cidr("2001:db8::/64").is_some());
        assert!(parse_cidr("10.244.0.0/33").is_none());
        assert!(parse_cidr("10.244.0.0").is_none());
        assert!(parse_cidr("10.244.0.0/+8").is_none());
    }
}
