//! Cron schedules as a CronJob's `spec.schedule` writes them, parsed and stepped as Kubernetes
//! does both with robfig/cron v3's `ParseStandard` (the apiserver's validation and the CronJob
//! controller read the same text, so they share this module).
//!
//! The standard form is five fields, `minute hour day-of-month month day-of-week`, each a
//! comma-separated list of `*` (or `?`), a number, a name (`JAN`-`DEC`, `SUN`-`SAT`, any case)
//! or a range `a-b`, each optionally stepped (`*/15`, `5/10` meaning `5-max/10`). Instead of
//! the fields a schedule may be a descriptor: `@yearly` (`@annually`), `@monthly`, `@weekly`,
//! `@daily` (`@midnight`), `@hourly`, or `@every <Go duration>`. A `TZ=<zone> ` or
//! `CRON_TZ=<zone> ` prefix names the zone the fields are read in (the apiserver refuses it in
//! new schedules, but stored ones may carry it).
//!
//! Errors are worded as robfig/cron words them, since kube-apiserver shows that text in its
//! 422 (`spec.schedule: Invalid value: "...": <error>`).

use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan, Zoned};

/// Marks a field written as `*` or `?` (robfig's `starBit`): it changes how day-of-month and
/// day-of-week combine.
const STAR: u64 = 1 << 63;

/// The accepted range of one field and the names it takes.
struct Bounds {
    min: u64,
    max: u64,
    names: &'static [(&'static str, u64)],
}

const SECONDS: Bounds = Bounds { min: 0, max: 59, names: &[] };
const MINUTES: Bounds = Bounds { min: 0, max: 59, names: &[] };
const HOURS: Bounds = Bounds { min: 0, max: 23, names: &[] };
const DAYS_OF_MONTH: Bounds = Bounds { min: 1, max: 31, names: &[] };
const MONTHS: Bounds = Bounds {
    min: 1,
    max: 12,
    names: &[
        ("jan", 1), ("feb", 2), ("mar", 3), ("apr", 4), ("may", 5), ("jun", 6),
        ("jul", 7), ("aug", 8), ("sep", 9), ("oct", 10), ("nov", 11), ("dec", 12),
    ],
};
const DAYS_OF_WEEK: Bounds = Bounds {
    min: 0,
    max: 6,
    names: &[("sun", 0), ("mon", 1), ("tue", 2), ("wed", 3), ("thu", 4), ("fri", 5), ("sat", 6)],
};

/// Why a schedule does not parse, in robfig/cron's words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CronError {
    #[error("empty spec string")]
    Empty,
    #[error("provided bad location {name}: {reason}")]
    BadLocation { name: String, reason: String },
    /// A `TZ=` prefix with nothing after it (robfig/cron panics there; this says why instead).
    #[error("missing schedule after the time zone: {0}")]
    NothingAfterZone(String),
    #[error("unrecognized descriptor: {0}")]
    UnrecognizedDescriptor(String),
    #[error("failed to parse duration {descriptor}: {reason}")]
    BadDuration { descriptor: String, reason: String },
    #[error("expected exactly 5 fields, found {found}: [{}]", .fields.join(" "))]
    FieldCount { found: usize, fields: Vec<String> },
    #[error("too many hyphens: {0}")]
    TooManyHyphens(String),
    #[error("too many slashes: {0}")]
    TooManySlashes(String),
    #[error("failed to parse int from {text}: {reason}")]
    NotANumber { text: String, reason: String },
    #[error("negative number ({number}) not allowed: {text}")]
    Negative { number: i64, text: String },
    #[error("beginning of range ({start}) below minimum ({min}): {expression}")]
    BelowMinimum { start: u64, min: u64, expression: String },
    #[error("end of range ({end}) above maximum ({max}): {expression}")]
    AboveMaximum { end: u64, max: u64, expression: String },
    #[error("beginning of range ({start}) beyond end of range ({end}): {expression}")]
    StartAfterEnd { start: u64, end: u64, expression: String },
    #[error("step of range should be a positive number: {0}")]
    ZeroStep(String),
}

/// A time zone name Go's `time.LoadLocation` does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown time zone {0}")]
pub struct UnknownTimeZone(pub String);

/// Go's `time.LoadLocation` over jiff's time zone database: `""` and `UTC` are UTC, `Local` is
/// `None` (robfig/cron then reads the schedule in the zone of the time it steps from), any other
/// name must be an IANA zone spelled exactly as the database does (Go opens it as a file name,
/// so the case matters, where jiff's own lookup ignores it).
pub fn load_location(name: &str) -> Result<Option<TimeZone>, UnknownTimeZone> {
    match name {
        "" | "UTC" => return Ok(Some(TimeZone::UTC)),
        "Local" => return Ok(None),
        _ => {}
    }
    let unknown = || UnknownTimeZone(name.to_string());
    if name.starts_with('/') || name.split('/').any(|part| part == "..") {
        return Err(unknown());
    }
    let zone = jiff::tz::db().get(name).map_err(|_| unknown())?;
    // jiff knows `Etc/Unknown` without a file for it; Go does not.
    if zone.is_unknown() || zone.iana_name().is_some_and(|found| found != name) {
        return Err(unknown());
    }
    Ok(Some(zone))
}

/// A parsed schedule.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    rule: Rule,
    /// The zone of a `TZ=` prefix; `None` reads the fields in the zone of the time given.
    zone: Option<TimeZone>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Rule {
    /// One bit per matching value of each field, plus [`STAR`].
    Fields(Fields),
    /// `@every`: a fixed delay in whole seconds, at least one.
    Every(i64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Fields {
    second: u64,
    minute: u64,
    hour: u64,
    day_of_month: u64,
    month: u64,
    day_of_week: u64,
}

impl Schedule {
    /// Parses a schedule as robfig/cron's `ParseStandard` does.
    pub fn parse(text: &str) -> Result<Schedule, CronError> {
        if text.is_empty() {
            return Err(CronError::Empty);
        }
        let mut spec = text;
        let mut zone = None;
        if spec.starts_with("TZ=") || spec.starts_with("CRON_TZ=") {
            // The zone runs from the '=' to the first space.
            let Some(space) = spec.find(' ') else {
                return Err(CronError::NothingAfterZone(text.to_string()));
            };
            let equals = spec.find('=').unwrap_or(0);
            let name = spec.get(equals + 1..space).unwrap_or_default();
            zone = load_location(name).map_err(|err| CronError::BadLocation { name: name.to_string(), reason: err.to_string() })?;
            spec = spec[space..].trim();
        }
        let rule = if spec.starts_with('@') { descriptor(spec)? } else { Rule::Fields(fields(spec)?) };
        Ok(Schedule { rule, zone })
    }

    /// The zone a `TZ=` or `CRON_TZ=` prefix named, if the schedule had one (other than
    /// `Local`).
    pub fn time_zone(&self) -> Option<&TimeZone> {
        self.zone.as_ref()
    }

    /// The first time the schedule fires strictly after `time` (whole minutes for the five
    /// fields; `@every` adds its delay to `time` cut to the second), in `time`'s zone. The fields
    /// are read in the schedule's own zone if it named one, else in `time`'s. `None` when
    /// nothing matches within five years (`0 0 30 2 *`), as robfig/cron gives up there too.
    ///
    /// Daylight saving time follows robfig/cron: a time a spring-forward skips does not fire
    /// that day, and one a fall-back repeats fires at both of its instants.
    pub fn next_after(&self, time: Zoned) -> Option<Zoned> {
        match &self.rule {
            Rule::Every(seconds) => {
                let start = floor_second(time.timestamp());
                let next = Timestamp::from_second(start.checked_add(*seconds)?).ok()?;
                Some(next.to_zoned(time.time_zone().clone()))
            }
            Rule::Fields(fields) => fields.next_after(self.zone.as_ref(), time),
        }
    }
}

/// The whole seconds of a timestamp, rounded down (before 1970 as after).
fn floor_second(timestamp: Timestamp) -> i64 {
    let second = timestamp.as_second();
    if timestamp.subsec_nanosecond() < 0 { second - 1 } else { second }
}

/// robfig's `parseDescriptor`.
fn descriptor(spec: &str) -> Result<Rule, CronError> {
    let all = |bounds: &Bounds| bits(bounds.min, bounds.max, 1) | STAR;
    let first = |bounds: &Bounds| 1u64 << bounds.min;
    let fields = match spec {
        "@yearly" | "@annually" => Fields {
            second: first(&SECONDS),
            minute: first(&MINUTES),
            hour: first(&HOURS),
            day_of_month: first(&DAYS_OF_MONTH),
            month: first(&MONTHS),
            day_of_week: all(&DAYS_OF_WEEK),
        },
        "@monthly" => Fields {
            second: first(&SECONDS),
            minute: first(&MINUTES),
            hour: first(&HOURS),
            day_of_month: first(&DAYS_OF_MONTH),
            month: all(&MONTHS),
            day_of_week: all(&DAYS_OF_WEEK),
        },
        "@weekly" => Fields {
            second: first(&SECONDS),
            minute: first(&MINUTES),
            hour: first(&HOURS),
            day_of_month: all(&DAYS_OF_MONTH),
            month: all(&MONTHS),
            day_of_week: first(&DAYS_OF_WEEK),
        },
        "@daily" | "@midnight" => Fields {
            second: first(&SECONDS),
            minute: first(&MINUTES),
            hour: first(&HOURS),
            day_of_month: all(&DAYS_OF_MONTH),
            month: all(&MONTHS),
            day_of_week: all(&DAYS_OF_WEEK),
        },
        "@hourly" => Fields {
            second: first(&SECONDS),
            minute: first(&MINUTES),
            hour: all(&HOURS),
            day_of_month: all(&DAYS_OF_MONTH),
            month: all(&MONTHS),
            day_of_week: all(&DAYS_OF_WEEK),
        },
        _ => {
            let Some(duration) = spec.strip_prefix("@every ") else {
                return Err(CronError::UnrecognizedDescriptor(spec.to_string()));
            };
            let nanoseconds = crate::durations::parse_go_duration(duration)
                .map_err(|reason| CronError::BadDuration { descriptor: spec.to_string(), reason: reason.to_string() })?;
            // `cron.Every`: at least a second, whole seconds.
            let seconds = (nanoseconds / 1_000_000_000).max(1);
            return Ok(Rule::Every(seconds));
        }
    };
    Ok(Rule::Fields(fields))
}

/// The five fields, each parsed in order (the first error wins); seconds are always 0.
fn fields(spec: &str) -> Result<Fields, CronError> {
    let parts: Vec<&str> = spec.split_whitespace().collect();
    let [minute, hour, day_of_month, month, day_of_week] = parts.as_slice() else {
        return Err(CronError::FieldCount { found: parts.len(), fields: parts.iter().map(|part| part.to_string()).collect() });
    };
    Ok(Fields {
        second: field("0", &SECONDS)?,
        minute: field(minute, &MINUTES)?,
        hour: field(hour, &HOURS)?,
        day_of_month: field(day_of_month, &DAYS_OF_MONTH)?,
        month: field(month, &MONTHS)?,
        day_of_week: field(day_of_week, &DAYS_OF_WEEK)?,
    })
}

/// robfig's `getField`: the union of comma-separated ranges (empty pieces are skipped, as Go's
/// `strings.FieldsFunc` skips them).
fn field(text: &str, bounds: &Bounds) -> Result<u64, CronError> {
    text.split(',').filter(|range| !range.is_empty()).try_fold(0, |union, expression| Ok(union | range(expression, bounds)?))
}

/// robfig's `getRange`: `*`, `?`, `n`, `a-b`, each with an optional `/step`.
fn range(expression: &str, bounds: &Bounds) -> Result<u64, CronError> {
    let range_and_step: Vec<&str> = expression.split('/').collect();
    let low_and_high: Vec<&str> = range_and_step[0].split('-').collect();
    let single = low_and_high.len() == 1;
    let (start, mut end, mut extra) = if low_and_high[0] == "*" || low_and_high[0] == "?" {
        (bounds.min, bounds.max, STAR)
    } else {
        let start = int_or_name(low_and_high[0], bounds)?;
        let end = match low_and_high.len() {
            1 => start,
            2 => int_or_name(low_and_high[1], bounds)?,
            _ => return Err(CronError::TooManyHyphens(expression.to_string())),
        };
        (start, end, 0)
    };
    let step = match range_and_step.len() {
        1 => 1,
        2 => {
            let step = non_negative_int(range_and_step[1])?;
            // `n/step` means `n-max/step`.
            if single {
                end = bounds.max;
            }
            if step > 1 {
                extra = 0;
            }
            step
        }
        _ => return Err(CronError::TooManySlashes(expression.to_string())),
    };
    let expression = expression.to_string();
    if start < bounds.min {
        return Err(CronError::BelowMinimum { start, min: bounds.min, expression });
    }
    if end > bounds.max {
        return Err(CronError::AboveMaximum { end, max: bounds.max, expression });
    }
    if start > end {
        return Err(CronError::StartAfterEnd { start, end, expression });
    }
    if step == 0 {
        return Err(CronError::ZeroStep(expression));
    }
    Ok(bits(start, end, step) | extra)
}

fn int_or_name(text: &str, bounds: &Bounds) -> Result<u64, CronError> {
    let lower = text.to_lowercase();
    match bounds.names.iter().find(|(name, _)| *name == lower) {
        Some((_, value)) => Ok(*value),
        None => non_negative_int(text),
    }
}

/// robfig's `mustParseInt`: Go's `strconv.Atoi`, then no negatives.
fn non_negative_int(text: &str) -> Result<u64, CronError> {
    let number = go_atoi(text).map_err(|reason| CronError::NotANumber { text: text.to_string(), reason })?;
    u64::try_from(number).map_err(|_| CronError::Negative { number, text: text.to_string() })
}

/// Go's `strconv.Atoi` (an optional sign, then decimal digits, within int64), with its error
/// text.
fn go_atoi(text: &str) -> Result<i64, String> {
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(format!("strconv.Atoi: parsing {text:?}: invalid syntax"));
    }
    text.strip_prefix('+').unwrap_or(text).parse::<i64>().map_err(|_| format!("strconv.Atoi: parsing {text:?}: value out of range"))
}

/// The bits `start`, `start + step`, ... up to `end` (all within 0..=63).
fn bits(start: u64, end: u64, step: u64) -> u64 {
    (start..=end).step_by(usize::try_from(step).unwrap_or(usize::MAX)).fold(0, |bits, value| bits | (1u64 << value))
}

impl Fields {
    /// robfig's `dayMatches`: when either day field is `*`, both must match; when both are
    /// restricted, either may.
    fn day_matches(&self, time: &Zoned) -> bool {
        let day_of_month = (1u64 << time.day()) & self.day_of_month != 0;
        let day_of_week = (1u64 << time.weekday().to_sunday_zero_offset()) & self.day_of_week != 0;
        if self.day_of_month & STAR != 0 || self.day_of_week & STAR != 0 {
            day_of_month && day_of_week
        } else {
            day_of_month || day_of_week
        }
    }

    /// Whether some time can match at all: without this a field with no values (`,`) would
    /// step through five years of minutes before giving up.
    fn can_match(&self) -> bool {
        let values = |bits: u64| bits & !STAR != 0;
        let days = if self.day_of_month & STAR != 0 || self.day_of_week & STAR != 0 {
            values(self.day_of_month) && values(self.day_of_week)
        } else {
            values(self.day_of_month) || values(self.day_of_week)
        };
        values(self.second) && values(self.minute) && values(self.hour) && values(self.month) && days
    }

    /// robfig's `SpecSchedule.Next`: from the next second, advance the month, then the day,
    /// hour, minute and second until each matches, starting over when one wraps into the next
    /// unit. Months and days are added on the calendar, hours, minutes and seconds as elapsed
    /// time; that is what makes a skipped hour not fire and a repeated one fire twice.
    fn next_after(&self, zone: Option<&TimeZone>, time: Zoned) -> Option<Zoned> {
        if !self.can_match() {
            return None;
        }
        let original = time.time_zone().clone();
        let zone = zone.cloned().unwrap_or_else(|| original.clone());
        let start = Timestamp::from_second(floor_second(time.timestamp()).checked_add(1)?).ok()?;
        let mut time = start.to_zoned(zone.clone());
        let year_limit = time.year().checked_add(5)?;
        let at = |time: &Zoned, hour: i8| time.date().at(hour, 0, 0, 0).to_zoned(zone.clone()).ok();
        let mut added = false;
        // Each step moves forward; this only bounds the work should the zone's rules surprise.
        let mut steps: u32 = 0;
        'wrap: loop {
            if time.year() > year_limit {
                return None;
            }
            while (1u64 << time.month()) & self.month == 0 {
                steps = steps.checked_add(1).filter(|steps| *steps < 1_000_000)?;
                if !added {
                    added = true;
                    time = time.date().first_of_month().at(0, 0, 0, 0).to_zoned(zone.clone()).ok()?;
                }
                time = time.checked_add(1.month()).ok()?;
                if time.month() == 1 {
                    continue 'wrap;
                }
            }
            while !self.day_matches(&time) {
                steps = steps.checked_add(1).filter(|steps| *steps < 1_000_000)?;
                if !added {
                    added = true;
                    time = at(&time, 0)?;
                }
                time = time.checked_add(1.day()).ok()?;
                // Where midnight does not exist the day starts at another hour; go back to
                // (or on to) the day's start as robfig does.
                let hour = i64::from(time.hour());
                if hour != 0 {
                    time = if hour > 12 { time.checked_add((24 - hour).hours()) } else { time.checked_sub(hour.hours()) }.ok()?;
                }
                if time.day() == 1 {
                    continue 'wrap;
                }
            }
            while (1u64 << time.hour()) & self.hour == 0 {
                steps = steps.checked_add(1).filter(|steps| *steps < 1_000_000)?;
                if !added {
                    added = true;
                    time = at(&time, time.hour())?;
                }
                time = time.checked_add(1.hour()).ok()?;
                if time.hour() == 0 {
                    continue 'wrap;
                }
            }
            while (1u64 << time.minute()) & self.minute == 0 {
                steps = steps.checked_add(1).filter(|steps| *steps < 1_000_000)?;
                if !added {
                    added = true;
                    let second = floor_second(time.timestamp());
                    time = Timestamp::from_second(second - second.rem_euclid(60)).ok()?.to_zoned(zone.clone());
                }
                time = time.checked_add(1.minute()).ok()?;
                if time.minute() == 0 {
                    continue 'wrap;
                }
            }
            while (1u64 << time.second()) & self.second == 0 {
                steps = steps.checked_add(1).filter(|steps| *steps < 1_000_000)?;
                if !added {
                    added = true;
                    time = Timestamp::from_second(floor_second(time.timestamp())).ok()?.to_zoned(zone.clone());
                }
                time = time.checked_add(1.second()).ok()?;
                if time.second() == 0 {
                    continue 'wrap;
                }
            }
            return Some(time.with_time_zone(original));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zoned(text: &str) -> Zoned {
        text.parse().unwrap_or_else(|err| panic!("{text}: {err}"))
    }

    fn next(schedule: &str, after: &str) -> Option<String> {
        let schedule = Schedule::parse(schedule).unwrap_or_else(|err| panic!("{schedule}: {err}"));
        schedule.next_after(zoned(after)).map(|time| time.to_string())
    }

    /// The times the schedule fires after `after`, `count` of them.
    fn runs(schedule: &str, after: &str, count: usize) -> Vec<String> {
        let parsed = Schedule::parse(schedule).unwrap_or_else(|err| panic!("{schedule}: {err}"));
        let mut time = zoned(after);
        let mut found = Vec::new();
        for _ in 0..count {
            let Some(next) = parsed.next_after(time) else { break };
            found.push(next.to_string());
            time = next;
        }
        found
    }

    #[test]
    fn schedules_that_kubernetes_accepts_parse() {
        for schedule in [
            "* * * * *", "*/5 * * * *", "0 0 * * *", "0 0 1 1 *", "15,45 9-17 * * MON-FRI", "0 12 * JAN,jul ?",
            "5/10 * * * *", "0 0 1-31 * *", "0 0 * * sun", "0 0 * * 0-6/2", "*/1 * * * *",
            "@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly", "@every 1h30m", "@every 90s",
            "TZ=UTC 0 * * * *", "CRON_TZ=America/New_York 0 9 * * *", "  0   0  * * *  ", "*-5 * * * *", ",,5 * * * *",
        ] {
            assert!(Schedule::parse(schedule).is_ok(), "{schedule}: {:?}", Schedule::parse(schedule));
        }
    }

    #[test]
    fn bad_schedules_get_robfig_crons_messages() {
        let rows = [
            ("", "empty spec string"),
            ("* * * *", "expected exactly 5 fields, found 4: [* * * *]"),
            ("0 * * * * *", "expected exactly 5 fields, found 6: [0 * * * * *]"),
            ("   ", "expected exactly 5 fields, found 0: []"),
            ("60 * * * *", "end of range (60) above maximum (59): 60"),
            ("* 24 * * *", "end of range (24) above maximum (23): 24"),
            ("* * 0 * *", "beginning of range (0) below minimum (1): 0"),
            ("* * * 13 *", "end of range (13) above maximum (12): 13"),
            ("* * * * 7", "end of range (7) above maximum (6): 7"),
            ("5-1 * * * *", "beginning of range (5) beyond end of range (1): 5-1"),
            ("*/0 * * * *", "step of range should be a positive number: */0"),
            ("1-2-3 * * * *", "too many hyphens: 1-2-3"),
            ("*/2/3 * * * *", "too many slashes: */2/3"),
            ("x * * * *", "failed to parse int from x: strconv.Atoi: parsing \"x\": invalid syntax"),
            ("-5 * * * *", "failed to parse int from : strconv.Atoi: parsing \"\": invalid syntax"),
            ("*/-2 * * * *", "negative number (-2) not allowed: -2"),
            ("* * * FOO *", "failed to parse int from FOO: strconv.Atoi: parsing \"FOO\": invalid syntax"),
            ("99999999999999999999 * * * *", "failed to parse int from 99999999999999999999: strconv.Atoi: parsing \"99999999999999999999\": value out of range"),
            ("@fortnightly", "unrecognized descriptor: @fortnightly"),
            ("@hourly ", "unrecognized descriptor: @hourly "),
            ("@every 1x", "failed to parse duration @every 1x: time: unknown unit \"x\" in duration \"1x\""),
            ("@every 10", "failed to parse duration @every 10: time: missing unit in duration \"10\""),
            ("@every ", "failed to parse duration @every : time: invalid duration \"\""),
            ("TZ=Mars/Olympus * * * * *", "provided bad location Mars/Olympus: unknown time zone Mars/Olympus"),
            ("TZ=america/new_york * * * * *", "provided bad location america/new_york: unknown time zone america/new_york"),
        ];
        for (schedule, message) in rows {
            match Schedule::parse(schedule) {
                Ok(parsed) => panic!("{schedule:?} parsed: {parsed:?}"),
                Err(err) => assert_eq!(err.to_string(), message, "{schedule:?}"),
            }
        }
    }

    #[test]
    fn fields_step_to_the_next_matching_minute_strictly_after() {
        let at = "2025-03-10T10:07:30+00:00[UTC]";
        assert_eq!(next("* * * * *", at).as_deref(), Some("2025-03-10T10:08:00+00:00[UTC]"));
        assert_eq!(next("* * * * *", "2025-03-10T10:08:00+00:00[UTC]").as_deref(), Some("2025-03-10T10:09:00+00:00[UTC]"));
        assert_eq!(next("*/15 * * * *", at).as_deref(), Some("2025-03-10T10:15:00+00:00[UTC]"));
        assert_eq!(next("5/20 * * * *", at).as_deref(), Some("2025-03-10T10:25:00+00:00[UTC]"));
        assert_eq!(next("0 9 * * *", at).as_deref(), Some("2025-03-11T09:00:00+00:00[UTC]"));
        assert_eq!(next("30 23 31 12 *", at).as_deref(), Some("2025-12-31T23:30:00+00:00[UTC]"));
        assert_eq!(next("0 0 29 2 *", at).as_deref(), Some("2028-02-29T00:00:00+00:00[UTC]"));
        assert_eq!(next("0 0 30 2 *", at), None, "February has no 30th");
        assert_eq!(next(", * * * *", at), None, "a field without values matches nothing");
        assert_eq!(next("@hourly", at).as_deref(), Some("2025-03-10T11:00:00+00:00[UTC]"));
        assert_eq!(next("@daily", at).as_deref(), Some("2025-03-11T00:00:00+00:00[UTC]"));
        assert_eq!(next("@weekly", at).as_deref(), Some("2025-03-16T00:00:00+00:00[UTC]"), "Sunday");
        assert_eq!(next("@monthly", at).as_deref(), Some("2025-04-01T00:00:00+00:00[UTC]"));
        assert_eq!(next("@yearly", at).as_deref(), Some("2026-01-01T00:00:00+00:00[UTC]"));
        assert_eq!(next("@every 1h30m", at).as_deref(), Some("2025-03-10T11:37:30+00:00[UTC]"));
        assert_eq!(next("@every 500ms", at).as_deref(), Some("2025-03-10T10:07:31+00:00[UTC]"), "at least a second");
    }

    #[test]
    fn restricted_day_fields_match_either_and_a_star_makes_them_both_needed() {
        // 2025-03-10 is a Monday.
        let at = "2025-03-10T12:00:00+00:00[UTC]";
        assert_eq!(runs("0 0 15 * FRI", at, 3), [
            "2025-03-14T00:00:00+00:00[UTC]", "2025-03-15T00:00:00+00:00[UTC]", "2025-03-21T00:00:00+00:00[UTC]",
        ]);
        assert_eq!(runs("0 0 15 * *", at, 2), ["2025-03-15T00:00:00+00:00[UTC]", "2025-04-15T00:00:00+00:00[UTC]"]);
        assert_eq!(runs("0 0 * * FRI", at, 2), ["2025-03-14T00:00:00+00:00[UTC]", "2025-03-21T00:00:00+00:00[UTC]"]);
        // `?` is a star too: the 15th only when it is also a Friday... every day-of-week matches.
        assert_eq!(runs("0 0 15 * ?", at, 1), ["2025-03-15T00:00:00+00:00[UTC]"]);
        // A stepped star (`*/2`) is no longer a star: days 1, 3, 5... or Fridays.
        assert_eq!(runs("0 0 */2 * FRI", at, 3), [
            "2025-03-11T00:00:00+00:00[UTC]", "2025-03-13T00:00:00+00:00[UTC]", "2025-03-14T00:00:00+00:00[UTC]",
        ]);
    }

    #[test]
    fn the_fields_are_read_in_the_schedules_zone_or_the_times() {
        let at = "2025-03-10T12:00:00+00:00[UTC]";
        // 09:00 in New York (EDT since 2025-03-09) is 13:00 UTC, answered in the time's zone.
        assert_eq!(next("TZ=America/New_York 0 9 * * *", at).as_deref(), Some("2025-03-10T13:00:00+00:00[UTC]"));
        assert_eq!(next("0 9 * * *", "2025-03-10T12:00:00-04:00[America/New_York]").as_deref(), Some("2025-03-11T09:00:00-04:00[America/New_York]"));
        assert_eq!(next("TZ=Local 0 9 * * *", at).as_deref(), Some("2025-03-11T09:00:00+00:00[UTC]"));
    }

    #[test]
    fn daylight_saving_time_skips_missing_times_and_repeats_doubled_ones() {
        // New York springs forward at 02:00 on 2025-03-09: 02:30 does not exist that day.
        assert_eq!(runs("30 2 * * *", "2025-03-08T12:00:00-05:00[America/New_York]", 2), [
            "2025-03-10T02:30:00-04:00[America/New_York]", "2025-03-11T02:30:00-04:00[America/New_York]",
        ]);
        // It falls back at 02:00 on 2025-11-02: 01:30 happens twice.
        assert_eq!(runs("30 1 * * *", "2025-11-01T12:00:00-04:00[America/New_York]", 3), [
            "2025-11-02T01:30:00-04:00[America/New_York]", "2025-11-02T01:30:00-05:00[America/New_York]",
            "2025-11-03T01:30:00-05:00[America/New_York]",
        ]);
        // Hourly keeps elapsed hours across both changes.
        assert_eq!(runs("0 * * * *", "2025-03-09T00:30:00-05:00[America/New_York]", 3), [
            "2025-03-09T01:00:00-05:00[America/New_York]", "2025-03-09T03:00:00-04:00[America/New_York]",
            "2025-03-09T04:00:00-04:00[America/New_York]",
        ]);
    }

    #[test]
    fn time_zones_load_as_go_loads_them() {
        assert_eq!(load_location("UTC"), Ok(Some(TimeZone::UTC)));
        assert_eq!(load_location(""), Ok(Some(TimeZone::UTC)));
        assert_eq!(load_location("Local"), Ok(None));
        assert!(matches!(load_location("Europe/Berlin"), Ok(Some(_))));
        assert_eq!(load_location("europe/berlin"), Err(UnknownTimeZone("europe/berlin".into())));
        assert_eq!(load_location("Europe/../Berlin"), Err(UnknownTimeZone("Europe/../Berlin".into())));
        assert_eq!(load_location("Mars/Olympus").map_err(|err| err.to_string()), Err("unknown time zone Mars/Olympus".to_string()));
    }
}
