//! The string formats kube-apiserver checks in custom objects (kube-openapi's `strfmt`
//! registry, restricted to apiextensions' supported list). Where strfmt calls into Go's
//! standard library (`net/mail`, `net/url`, `time.ParseDuration`) the check here is the same
//! idea written plainly, close but not byte-for-byte: those are marked "roughly".

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::LazyLock;

use regex::Regex;

/// Whether `text` is of `format` (its name as written; strfmt drops dashes). A format this
/// does not know passes, as kube strips unknown formats before validating.
pub(super) fn format_valid(format: &str, text: &str) -> bool {
    match format.replace('-', "").as_str() {
        "bsonobjectid" => text.len() == 24 && text.bytes().all(|byte| byte.is_ascii_hexdigit()),
        "uri" => uri(text),
        "email" => email(text),
        "hostname" => hostname(text),
        "ipv4" => ipv4(text),
        "ipv6" => text.contains(':') && ip(text),
        "cidr" => cidr(text),
        "mac" => mac(text),
        "uuid" => matches(&UUID, text),
        "uuid3" => matches(&UUID3, text),
        "uuid4" => matches(&UUID4, text),
        "uuid5" => matches(&UUID5, text),
        "isbn" => isbn10(text) || isbn13(text),
        "isbn10" => isbn10(text),
        "isbn13" => isbn13(text),
        "creditcard" => credit_card(text),
        "ssn" => matches(&SSN, text),
        "hexcolor" => matches(&HEX_COLOR, text),
        "rgbcolor" => matches(&RGB_COLOR, text),
        "byte" => matches(&BASE64, text),
        "date" => date(text),
        "duration" => duration(text),
        "datetime" => date_time(text),
        _ => true,
    }
}

fn regex(pattern: &str) -> Option<Regex> {
    Regex::new(pattern).ok()
}

/// A pattern below failing to compile is a bug of ours, not of the input: a format it guards
/// then fails closed.
fn matches(pattern: &LazyLock<Option<Regex>>, text: &str) -> bool {
    pattern.as_ref().is_some_and(|pattern| pattern.is_match(text))
}

static HOSTNAME: LazyLock<Option<Regex>> = LazyLock::new(|| {
    regex(r"^([a-zA-Z0-9\p{S}\p{L}]((-?[a-zA-Z0-9\p{S}\p{L}]{0,62})?)|([a-zA-Z0-9\p{S}\p{L}](([a-zA-Z0-9-\p{S}\p{L}]{0,61}[a-zA-Z0-9\p{S}\p{L}])?)(\.)){1,}([a-zA-Z\p{L}]){2,63})$")
});
static UUID: LazyLock<Option<Regex>> = LazyLock::new(|| regex(r"(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$"));
static UUID3: LazyLock<Option<Regex>> = LazyLock::new(|| regex(r"(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?3[0-9a-f]{3}-?[0-9a-f]{4}-?[0-9a-f]{12}$"));
static UUID4: LazyLock<Option<Regex>> = LazyLock::new(|| regex(r"(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?4[0-9a-f]{3}-?[89ab][0-9a-f]{3}-?[0-9a-f]{12}$"));
static UUID5: LazyLock<Option<Regex>> = LazyLock::new(|| regex(r"(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?5[0-9a-f]{3}-?[89ab][0-9a-f]{3}-?[0-9a-f]{12}$"));
static SSN: LazyLock<Option<Regex>> = LazyLock::new(|| regex(r"^\d{3}[- ]?\d{2}[- ]?\d{4}$"));
static HEX_COLOR: LazyLock<Option<Regex>> = LazyLock::new(|| regex(r"^#?([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$"));
static RGB_COLOR: LazyLock<Option<Regex>> = LazyLock::new(|| {
    regex(r"^rgb\(\s*(0|[1-9]\d?|1\d\d?|2[0-4]\d|25[0-5])\s*,\s*(0|[1-9]\d?|1\d\d?|2[0-4]\d|25[0-5])\s*,\s*(0|[1-9]\d?|1\d\d?|2[0-4]\d|25[0-5])\s*\)$")
});
static BASE64: LazyLock<Option<Regex>> =
    LazyLock::new(|| regex(r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{4})$"));
static TIME_OF_DAY: LazyLock<Option<Regex>> =
    LazyLock::new(|| regex(r"^([0-9]{2}):([0-9]{2}):([0-9]{2})(.[0-9]+)?(z|([+-][0-9]{2}:[0-9]{2}))$"));
static DURATION_PART: LazyLock<Option<Regex>> = LazyLock::new(|| regex(r"((\d+)\s*([A-Za-zµ]+))"));

/// strfmt's `IsHostname`: its pattern, at most 255 bytes, labels at most 63.
fn hostname(text: &str) -> bool {
    matches(&HOSTNAME, text) && text.len() <= 255 && text.split('.').all(|label| label.len() <= 63)
}

fn ip(text: &str) -> bool {
    text.parse::<IpAddr>().is_ok()
}

/// strfmt's `isIPv4`: Go's `net.ParseIP` and a dotted form. Go (since 1.17) refuses leading
/// zeros as Rust does.
fn ipv4(text: &str) -> bool {
    text.parse::<Ipv4Addr>().is_ok() || text.parse::<Ipv6Addr>().ok().and_then(|address| address.to_ipv4_mapped()).is_some() && text.contains('.')
}

fn cidr(text: &str) -> bool {
    let Some((address, prefix)) = text.split_once('/') else { return false };
    let Ok(prefix) = prefix.parse::<u8>() else { return false };
    match address.parse::<IpAddr>() {
        Ok(IpAddr::V4(_)) => prefix <= 32,
        Ok(IpAddr::V6(_)) => prefix <= 128,
        Err(_) => false,
    }
}

/// Go's `net.ParseMAC`: 6, 8 or 20 octets, `:`- or `-`-separated pairs or `.`-separated
/// groups of four hex digits.
fn mac(text: &str) -> bool {
    let pairs = |separator: char| {
        let parts: Vec<&str> = text.split(separator).collect();
        [6, 8, 20].contains(&parts.len()) && parts.iter().all(|part| part.len() == 2 && part.bytes().all(|byte| byte.is_ascii_hexdigit()))
    };
    let quads = || {
        let parts: Vec<&str> = text.split('.').collect();
        [3, 4, 10].contains(&parts.len()) && parts.iter().all(|part| part.len() == 4 && part.bytes().all(|byte| byte.is_ascii_hexdigit()))
    };
    pairs(':') || pairs('-') || quads()
}

/// Roughly Go's `url.ParseRequestURI`: an absolute URI (scheme then `:`) or an absolute path,
/// no spaces or control characters.
fn uri(text: &str) -> bool {
    if text.is_empty() || text.chars().any(|character| character.is_control() || character == ' ') {
        return false;
    }
    if text.starts_with('/') {
        return true;
    }
    match text.split_once(':') {
        Some((scheme, _)) => {
            scheme.chars().next().is_some_and(|first| first.is_ascii_alphabetic())
                && scheme.chars().all(|character| character.is_ascii_alphanumeric() || "+-.".contains(character))
        }
        None => false,
    }
}

/// Roughly Go's `mail.ParseAddress`: `local@domain`, optionally as `Name <local@domain>`.
fn email(text: &str) -> bool {
    let address = match (text.rfind('<'), text.strip_suffix('>')) {
        (Some(open), Some(inner)) => &inner[open + 1..],
        _ => text.trim(),
    };
    let Some((local, domain)) = address.rsplit_once('@') else { return false };
    let atom = |part: &str| {
        !part.is_empty()
            && !part.starts_with('.')
            && !part.ends_with('.')
            && !part.contains("..")
            && part.chars().all(|character| character.is_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(character))
    };
    atom(local) && atom(domain)
}

fn digits_only(text: &str) -> String {
    text.chars().filter(|character| *character != '-' && *character != ' ').collect()
}

/// govalidator's `IsISBN10`: nine digits and a check digit or X, hyphens and spaces ignored.
fn isbn10(text: &str) -> bool {
    let isbn = digits_only(text);
    let bytes = isbn.as_bytes();
    if bytes.len() != 10 || !bytes[..9].iter().all(u8::is_ascii_digit) || !(bytes[9].is_ascii_digit() || bytes[9] == b'X') {
        return false;
    }
    let sum: u32 = bytes.iter().enumerate().map(|(at, byte)| {
        let value = if *byte == b'X' { 10 } else { u32::from(byte - b'0') };
        (at as u32 + 1) * value
    }).sum();
    sum.is_multiple_of(11)
}

/// govalidator's `IsISBN13`: thirteen digits with the alternating 1/3 checksum.
fn isbn13(text: &str) -> bool {
    let isbn = digits_only(text);
    let bytes = isbn.as_bytes();
    if bytes.len() != 13 || !bytes.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let sum: u32 = bytes[..12].iter().enumerate().map(|(at, byte)| u32::from(byte - b'0') * if at % 2 == 0 { 1 } else { 3 }).sum();
    (10 - sum % 10) % 10 == u32::from(bytes[12] - b'0')
}

/// govalidator's `IsCreditCard`: the digits (other characters dropped) pass Luhn's check and
/// look like a known issuer's number.
fn credit_card(text: &str) -> bool {
    let digits: Vec<u32> = text.chars().filter_map(|character| character.to_digit(10)).collect();
    if !(12..=19).contains(&digits.len()) {
        return false;
    }
    let sum: u32 = digits.iter().rev().enumerate().map(|(at, digit)| {
        if at % 2 == 1 {
            let doubled = digit * 2;
            if doubled > 9 { doubled - 9 } else { doubled }
        } else {
            *digit
        }
    }).sum();
    sum.is_multiple_of(10)
}

/// RFC 3339's full-date, a real calendar day (Go's `time.Parse("2006-01-02")`).
fn date(text: &str) -> bool {
    let bytes = text.as_bytes();
    if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
        return false;
    }
    let number = |range: std::ops::Range<usize>| text.get(range).filter(|part| part.bytes().all(|byte| byte.is_ascii_digit())).and_then(|part| part.parse::<u32>().ok());
    let (Some(year), Some(month), Some(day)) = (number(0..4), number(5..7), number(8..10)) else { return false };
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&day)
}

/// strfmt's `IsDateTime`: a full-date, a `t` (either case), then a time of day with zone.
fn date_time(text: &str) -> bool {
    if text.len() < 4 {
        return false;
    }
    let lower = text.to_lowercase();
    let parts: Vec<&str> = lower.split('t').collect();
    if parts.len() < 2 || !date(parts[0]) {
        return false;
    }
    let Some(pattern) = TIME_OF_DAY.as_ref() else { return false };
    let Some(captures) = pattern.captures(parts[1]) else { return false };
    let part = |at: usize| captures.get(at).map(|found| found.as_str()).unwrap_or_default();
    part(1) <= "23" && part(2) <= "59" && part(3) <= "59"
}

/// strfmt's `ParseDuration`, roughly: Go's `time.ParseDuration` form (`1h30m`, `1.5s`) or
/// numbers with units (`22 ns`, `3 days`).
fn duration(text: &str) -> bool {
    const UNITS: &[&str] = &["ns", "us", "µs", "ms", "s", "m", "h"];
    let go_form = || {
        let body = text.strip_prefix(['-', '+']).unwrap_or(text);
        if body == "0" {
            return true;
        }
        let mut rest = body;
        let mut any = false;
        while !rest.is_empty() {
            let number_end = rest.find(|character: char| !(character.is_ascii_digit() || character == '.')).unwrap_or(rest.len());
            if number_end == 0 {
                return false;
            }
            rest = &rest[number_end..];
            let unit_end = rest.find(|character: char| character.is_ascii_digit() || character == '.').unwrap_or(rest.len());
            if !UNITS.contains(&&rest[..unit_end]) {
                return false;
            }
            rest = &rest[unit_end..];
            any = true;
        }
        any
    };
    const WORDS: &[&str] = &[
        "ns", "nano", "nanos", "nanosecond", "nanoseconds", "us", "µs", "micro", "micros", "microsecond", "microseconds", "ms", "milli",
        "millis", "millisecond", "milliseconds", "s", "sec", "secs", "second", "seconds", "m", "min", "mins", "minute", "minutes", "h",
        "hr", "hrs", "hour", "hours", "d", "day", "days", "w", "wk", "wks", "week", "weeks",
    ];
    let word_form = || {
        let Some(pattern) = DURATION_PART.as_ref() else { return false };
        let mut any = false;
        for captures in pattern.captures_iter(text) {
            let unit = captures.get(3).map(|found| found.as_str().trim().to_lowercase()).unwrap_or_default();
            if !WORDS.contains(&unit.as_str()) {
                return false;
            }
            any = true;
        }
        any
    };
    go_form() || word_form()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_accept_and_refuse_as_strfmt_does() {
        let rows = [
            ("date-time", "2024-01-02T03:04:05Z", true),
            ("date-time", "2024-01-02T03:04:05.123+01:00", true),
            ("date-time", "2024-01-02 03:04:05Z", false),
            ("date-time", "2024-13-02T03:04:05Z", false),
            ("date-time", "2024-01-02T24:04:05Z", false),
            ("date", "2024-02-29", true),
            ("date", "2023-02-29", false),
            ("uuid", "123e4567-e89b-12d3-a456-426614174000", true),
            ("uuid", "123e4567e89b12d3a456426614174000", true),
            ("uuid", "not-a-uuid", false),
            ("byte", "aGVsbG8=", true),
            ("byte", "aGVsbG8", false),
            ("hostname", "example.com", true),
            ("hostname", "-bad.com", false),
            ("email", "someone@example.com", true),
            ("email", "Someone <someone@example.com>", true),
            ("email", "nobody", false),
            ("ipv4", "10.0.0.1", true),
            ("ipv4", "10.0.0.256", false),
            ("ipv6", "::1", true),
            ("ipv6", "10.0.0.1", false),
            ("cidr", "10.0.0.0/8", true),
            ("cidr", "10.0.0.0/33", false),
            ("mac", "00:11:22:33:44:55", true),
            ("mac", "00:11:22:33:44", false),
            ("uri", "https://example.com/a", true),
            ("uri", "not a uri", false),
            ("duration", "1h30m", true),
            ("duration", "3 days", true),
            ("duration", "soon", false),
            ("isbn10", "0321751043", true),
            ("isbn13", "978-0321751041", true),
            ("creditcard", "4111 1111 1111 1111", true),
            ("creditcard", "4111 1111 1111 1112", false),
            ("int32", "anything", true),
        ];
        for (format, text, want) in rows {
            assert_eq!(format_valid(format, text), want, "{format} {text}");
        }
    }
}
