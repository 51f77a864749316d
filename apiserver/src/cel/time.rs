//! Durations and timestamps as cel-go reads and prints them: RFC 3339 timestamps, and the
//! accessors (`getFullYear`...) in UTC or a named zone. Durations are read as Go's
//! `time.ParseDuration` reads them, with `common::durations::parse_go_duration`.

use jiff::Timestamp;

/// CEL's timestamp range: years 1 to 9999.
const MIN_SECONDS: i64 = -62_135_596_800;
const MAX_SECONDS: i64 = 253_402_300_799;

/// cel-go's `string(duration)`: seconds, shortest form, then `s`.
pub fn format_duration(nanos: i64) -> String {
    let seconds = nanos as f64 / 1e9;
    format!("{seconds}s")
}

pub fn parse_timestamp(text: &str) -> Result<Timestamp, String> {
    let parsed: Timestamp = text.parse().map_err(|_| format!("parsing time {} as \"2006-01-02T15:04:05Z07:00\": cannot parse", go_quote(text)))?;
    in_range(parsed)
}

/// A `date` (`2006-01-02`) as midnight UTC.
pub fn parse_date(text: &str) -> Result<Timestamp, String> {
    let date: jiff::civil::Date = text.parse().map_err(|error| format!("{error}"))?;
    let zoned = date.to_zoned(jiff::tz::TimeZone::UTC).map_err(|error| format!("{error}"))?;
    Ok(zoned.timestamp())
}

pub fn in_range(timestamp: Timestamp) -> Result<Timestamp, String> {
    if (MIN_SECONDS..=MAX_SECONDS).contains(&timestamp.as_second()) { Ok(timestamp) } else { Err("timestamp overflow".into()) }
}

/// RFC 3339 with as many fractional digits as needed, `Z` for UTC, as Go's `RFC3339Nano`.
pub fn format_timestamp(timestamp: Timestamp) -> String {
    timestamp.to_string()
}

pub fn add(timestamp: Timestamp, nanos: i64) -> Result<Timestamp, String> {
    let span = jiff::SignedDuration::from_nanos(nanos);
    timestamp.checked_add(span).map_err(|_| "timestamp overflow".to_string()).and_then(in_range)
}

pub fn difference(later: Timestamp, earlier: Timestamp) -> Result<i64, String> {
    let duration = later.duration_since(earlier);
    i64::try_from(duration.as_nanos()).map_err(|_| "duration overflow".to_string())
}

/// The accessors `getFullYear`... of a timestamp in `zone` (UTC when none), as cel-go
/// defines them (months and days of year 0-based, days of month 1-based with `getDate`).
pub fn accessor(name: &str, timestamp: Timestamp, zone: Option<&str>) -> Result<i64, String> {
    let zone = match zone {
        None => jiff::tz::TimeZone::UTC,
        Some(name) => zone_named(name)?,
    };
    let zoned = timestamp.to_zoned(zone);
    Ok(match name {
        "getFullYear" => i64::from(zoned.year()),
        "getMonth" => i64::from(zoned.month()) - 1,
        "getDate" => i64::from(zoned.day()),
        "getDayOfMonth" => i64::from(zoned.day()) - 1,
        "getDayOfWeek" => i64::from(zoned.weekday().to_sunday_zero_offset()),
        "getDayOfYear" => i64::from(zoned.day_of_year()) - 1,
        "getHours" => i64::from(zoned.hour()),
        "getMinutes" => i64::from(zoned.minute()),
        "getSeconds" => i64::from(zoned.second()),
        "getMilliseconds" => i64::from(zoned.millisecond()),
        _ => return Err("no such overload".into()),
    })
}

/// A zone by IANA name or as a fixed `+hh:mm` offset. Only UTC and fixed offsets are known
/// here (no time zone database is shipped); other names are an error.
fn zone_named(name: &str) -> Result<jiff::tz::TimeZone, String> {
    if name == "UTC" || name.is_empty() {
        return Ok(jiff::tz::TimeZone::UTC);
    }
    let (sign, rest) = match name.as_bytes().first() {
        Some(b'+') => (1, &name[1..]),
        Some(b'-') => (-1, &name[1..]),
        _ => return jiff::tz::TimeZone::get(name).map_err(|_| format!("unknown time zone {name}")),
    };
    let (hours, minutes) = rest.split_once(':').ok_or_else(|| format!("unknown time zone {name}"))?;
    let hours: i32 = hours.parse().map_err(|_| format!("unknown time zone {name}"))?;
    let minutes: i32 = minutes.parse().map_err(|_| format!("unknown time zone {name}"))?;
    let offset = jiff::tz::Offset::from_seconds(sign * (hours * 3600 + minutes * 60)).map_err(|_| format!("unknown time zone {name}"))?;
    Ok(jiff::tz::TimeZone::fixed(offset))
}

/// Duration accessors: whole hours, minutes, seconds, milliseconds.
pub fn duration_accessor(name: &str, nanos: i64) -> Result<i64, String> {
    Ok(match name {
        "getHours" => nanos / 3_600_000_000_000,
        "getMinutes" => nanos / 60_000_000_000,
        "getSeconds" => nanos / 1_000_000_000,
        "getMilliseconds" => nanos / 1_000_000,
        _ => return Err("no such overload".into()),
    })
}

/// Go's `%q` for the ASCII texts that appear in these errors.
fn go_quote(text: &str) -> String {
    format!("{text:?}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_print_as_cel_go_prints_them() {
        assert_eq!(format_duration(1_500_000_000), "1.5s");
        assert_eq!(format_duration(3_600_000_000_000), "3600s");
    }
}
