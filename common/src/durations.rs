//! Durations as Kubernetes reads and shows them: Go's `time.ParseDuration` (cron's `@every`, CEL's
//! `duration()`), and ages as kubectl shows them in tables and `describe`, which server and client
//! both print.

/// An age as kubectl shows it (`12s`, `5m3s`, `4h`, `3d2h`, `2y`), or `<unknown>`.
pub fn age(timestamp: Option<&str>) -> String {
    let Some(then) = timestamp.and_then(|text| text.parse::<jiff::Timestamp>().ok()) else {
        return "<unknown>".to_string();
    };
    let seconds = jiff::Timestamp::now().as_second().saturating_sub(then.as_second()).max(0);
    human_duration(seconds)
}

/// Kubernetes' `duration.HumanDuration`.
pub fn human_duration(seconds: i64) -> String {
    let minutes = seconds / 60;
    let hours = seconds / 3600;
    let days = hours / 24;
    let years = days / 365;
    if seconds < 60 * 2 {
        format!("{seconds}s")
    } else if minutes < 10 {
        let rest = seconds % 60;
        if rest == 0 { format!("{minutes}m") } else { format!("{minutes}m{rest}s") }
    } else if minutes < 60 * 3 {
        format!("{minutes}m")
    } else if hours < 8 {
        let rest = minutes % 60;
        if rest == 0 { format!("{hours}h") } else { format!("{hours}h{rest}m") }
    } else if hours < 48 {
        format!("{hours}h")
    } else if hours < 24 * 8 {
        let rest = hours % 24;
        if rest == 0 { format!("{days}d") } else { format!("{days}d{rest}h") }
    } else if hours < 24 * 365 * 2 {
        format!("{days}d")
    } else if hours < 24 * 365 * 8 {
        let rest = days % 365;
        if rest == 0 { format!("{years}y") } else { format!("{years}y{rest}d") }
    } else {
        format!("{years}y")
    }
}

/// Why Go's `time.ParseDuration` refused a text: its error message, word for word.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidDuration(String);

/// Go's `time.ParseDuration`, in nanoseconds: `[-+]?([0-9]*(\.[0-9]*)?[a-z]+)+`, units `ns`,
/// `us`/`µs`/`μs`, `ms`, `s`, `m`, `h`; `0` alone needs no unit. The arithmetic is Go's (an
/// unsigned total up to 2^63, fractions through float64), so that the same texts are accepted,
/// give the same value and fail with the same message.
pub fn parse_go_duration(text: &str) -> Result<i64, InvalidDuration> {
    const LIMIT: u64 = 1 << 63;
    let invalid = || InvalidDuration(format!("time: invalid duration {}", go_time_quote(text)));
    let (negative, mut rest) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut total: u64 = 0;
    while !rest.is_empty() {
        if !rest.starts_with(|character: char| character == '.' || character.is_ascii_digit()) {
            return Err(invalid());
        }
        // Go's `leadingInt`: digits while the value stays within 2^63.
        let integer_length = rest.bytes().take_while(u8::is_ascii_digit).count();
        let mut integer: u64 = 0;
        for digit in rest[..integer_length].bytes() {
            if integer > LIMIT / 10 {
                return Err(invalid());
            }
            integer = integer * 10 + u64::from(digit - b'0');
            if integer > LIMIT {
                return Err(invalid());
            }
        }
        rest = &rest[integer_length..];
        // Go's `leadingFraction`: every digit is consumed, but precision stops growing once
        // another digit would overflow.
        let (mut fraction, mut scale, mut fraction_length) = (0u64, 1f64, 0);
        if let Some(after_point) = rest.strip_prefix('.') {
            fraction_length = after_point.bytes().take_while(u8::is_ascii_digit).count();
            let mut overflow = false;
            for digit in after_point[..fraction_length].bytes() {
                if overflow {
                    continue;
                }
                if fraction > (LIMIT - 1) / 10 {
                    overflow = true;
                    continue;
                }
                let next = fraction * 10 + u64::from(digit - b'0');
                if next > LIMIT {
                    overflow = true;
                    continue;
                }
                fraction = next;
                scale *= 10.0;
            }
            rest = &after_point[fraction_length..];
        }
        if integer_length == 0 && fraction_length == 0 {
            return Err(invalid());
        }
        let unit_length = rest.find(|character: char| character == '.' || character.is_ascii_digit()).unwrap_or(rest.len());
        if unit_length == 0 {
            return Err(InvalidDuration(format!("time: missing unit in duration {}", go_time_quote(text))));
        }
        let unit_name = &rest[..unit_length];
        rest = &rest[unit_length..];
        let unit: u64 = match unit_name {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => {
                return Err(InvalidDuration(format!("time: unknown unit {} in duration {}", go_time_quote(unit_name), go_time_quote(text))));
            }
        };
        if integer > LIMIT / unit {
            return Err(invalid());
        }
        let mut value = integer * unit;
        if fraction > 0 {
            // As Go: float64 is precise enough for fractions of an hour, and the conversion
            // truncates.
            value += (fraction as f64 * (unit as f64 / scale)) as u64;
            if value > LIMIT {
                return Err(invalid());
            }
        }
        // Both are at most 2^63, so the sum fits in 65 bits: Go's uint64 wraps there, and so
        // does this.
        total = total.wrapping_add(value);
        if total > LIMIT {
            return Err(invalid());
        }
    }
    if negative {
        // 2^63 itself is Go's `-Duration(1 << 63)`: the smallest duration.
        return Ok((total as i64).wrapping_neg());
    }
    i64::try_from(total).map_err(|_| invalid())
}

/// The `quote` of Go's `time` package, which its parse errors use (not `strconv.Quote`): ASCII
/// as it is with `"` and `\` escaped, every byte of anything else (control characters,
/// non-ASCII) as `\xNN`.
fn go_time_quote(text: &str) -> String {
    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push('"');
    for character in text.chars() {
        if !character.is_ascii() || character < ' ' {
            let mut bytes = [0u8; 4];
            for byte in character.encode_utf8(&mut bytes).bytes() {
                quoted.push_str(&format!("\\x{byte:02x}"));
            }
        } else {
            if character == '"' || character == '\\' {
                quoted.push('\\');
            }
            quoted.push(character);
        }
    }
    quoted.push('"');
    quoted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations_parse_as_go_parses_them() {
        let rows: &[(&str, Result<i64, &str>)] = &[
            ("1h30m", Ok(5_400_000_000_000)),
            ("1.5h", Ok(5_400_000_000_000)),
            ("1.5s", Ok(1_500_000_000)),
            (".5s", Ok(500_000_000)),
            ("-2s", Ok(-2_000_000_000)),
            ("-300ms", Ok(-300_000_000)),
            ("+5m", Ok(300_000_000_000)),
            ("0", Ok(0)),
            ("-0", Ok(0)),
            ("1µs", Ok(1_000)),
            ("1μs", Ok(1_000)),
            ("9223372036854775807ns", Ok(i64::MAX)),
            ("-9223372036854775808ns", Ok(i64::MIN)),
            ("9223372036854775808ns", Err(r#"time: invalid duration "9223372036854775808ns""#)),
            // Go's unsigned total wraps at 2^64 without noticing.
            ("9223372036854775808ns9223372036854775808ns", Ok(0)),
            ("9999999999999999999h", Err(r#"time: invalid duration "9999999999999999999h""#)),
            ("99999999999999h", Err(r#"time: invalid duration "99999999999999h""#)),
            ("", Err(r#"time: invalid duration """#)),
            ("-", Err(r#"time: invalid duration "-""#)),
            (".", Err(r#"time: invalid duration ".""#)),
            (".s", Err(r#"time: invalid duration ".s""#)),
            ("s", Err(r#"time: invalid duration "s""#)),
            ("10", Err(r#"time: missing unit in duration "10""#)),
            ("1.2.3s", Err(r#"time: missing unit in duration "1.2.3s""#)),
            ("1d", Err(r#"time: unknown unit "d" in duration "1d""#)),
            ("1h 30m", Err(r#"time: unknown unit "h " in duration "1h 30m""#)),
            ("3\"x", Err(r#"time: unknown unit "\"x" in duration "3\"x""#)),
            ("1µx", Err(r#"time: unknown unit "\xc2\xb5x" in duration "1\xc2\xb5x""#)),
            ("1\ts", Err(r#"time: unknown unit "\x09s" in duration "1\x09s""#)),
        ];
        for (text, expected) in rows {
            assert_eq!(parse_go_duration(text).map_err(|error| error.to_string()), expected.map_err(str::to_string), "{text:?}");
        }
    }

    #[test]
    fn human_durations_match_kubectl() {
        for (seconds, shown) in [(5, "5s"), (119, "119s"), (120, "2m"), (125, "2m5s"), (600, "10m"), (3 * 3600, "3h"), (3 * 3600 + 120, "3h2m"), (30 * 3600, "30h"), (50 * 3600, "2d2h"), (10 * 86400, "10d"), (800 * 86400, "2y70d")] {
            assert_eq!(human_duration(seconds), shown, "{seconds}");
        }
    }
}
