//! CEL's `duration` and `timestamp` types: constructors, accessors, and `now()` (served by the
//! host, so that tests can fix the clock).

use jiff::tz::{Offset, TimeZone};
use jiff::{SignedDuration, Timestamp};

use super::eval::{err, Env, EvalError, Val};
use crate::gotime::parse_duration as parse_go_duration;

type Result<T> = std::result::Result<T, EvalError>;

const NANOS_PER_SECOND: i128 = 1_000_000_000;

fn duration_from_nanos(nanos: i128) -> Option<SignedDuration> {
    let secs = i64::try_from(nanos.div_euclid(NANOS_PER_SECOND)).ok()?;
    let sub = i32::try_from(nanos.rem_euclid(NANOS_PER_SECOND)).ok()?;
    // `new` normalizes a positive sub-second part onto a negative second count.
    Some(SignedDuration::new(secs, sub))
}

/// `string(duration)`: seconds with the fraction cel-go prints (`5400s`, `1.5s`).
#[must_use]
pub fn duration_string(d: SignedDuration) -> String {
    let nanos = d.as_nanos();
    let secs = nanos / NANOS_PER_SECOND;
    let frac = (nanos % NANOS_PER_SECOND).abs();
    let sign = if nanos < 0 && secs == 0 { "-" } else { "" };
    if frac == 0 {
        format!("{sign}{secs}s")
    } else {
        let digits = format!("{frac:09}");
        format!("{sign}{secs}.{}s", digits.trim_end_matches('0'))
    }
}

/// `string(timestamp)`: RFC 3339 in UTC.
#[must_use]
pub fn timestamp_string(t: Timestamp) -> String {
    t.to_string()
}

fn zone(name: Option<&Val>) -> Result<TimeZone> {
    let Some(name) = name else { return Ok(TimeZone::UTC) };
    let Val::String(name) = name else { return err("a time zone must be a string") };
    if matches!(&**name, "UTC" | "Z" | "") {
        return Ok(TimeZone::UTC);
    }
    // Fixed offsets (`+05:30`, `-08:00`); named zones need a time zone database, which an
    // offline linter does not carry.
    let (sign, rest) = match name.as_bytes().first() {
        Some(b'+') => (1, &name[1..]),
        Some(b'-') => (-1, &name[1..]),
        _ => return err(format!("time zone `{name}` is not supported (use UTC or ±HH:MM)")),
    };
    let (h, m) = rest.split_once(':').unwrap_or((rest, "0"));
    let (Ok(h), Ok(m)) = (h.parse::<i32>(), m.parse::<i32>()) else {
        return err(format!("time zone `{name}` is not an offset like +05:30"));
    };
    Offset::from_seconds(sign * (h * 3600 + m * 60))
        .map(TimeZone::fixed)
        .map_err(|e| EvalError::Failed(format!("time zone `{name}`: {e}")))
}

/// The time functions; `None` when none matches.
pub(super) fn call(
    r: Option<&Val>,
    name: &str,
    args: &[Val],
    env: &Env<'_>,
) -> Option<Result<Val>> {
    Some(match (r, name, args) {
        (None, "duration", [Val::String(s)]) => {
            parse_go_duration(s).and_then(duration_from_nanos).map(Val::Duration).ok_or_else(|| {
                EvalError::Failed(format!("duration(): `{s}` is not a duration like 1h30m"))
            })
        }
        (None, "duration", [d @ Val::Duration(_)]) => Ok(d.clone()),
        (None, "timestamp", [Val::String(s)]) => s
            .parse::<Timestamp>()
            .map(Val::Timestamp)
            .map_err(|_| EvalError::Failed(format!("timestamp(): `{s}` is not an RFC 3339 time"))),
        (None, "timestamp", [Val::Int(secs)]) => Timestamp::from_second(*secs)
            .map(Val::Timestamp)
            .map_err(|e| EvalError::Failed(format!("timestamp(): {e}"))),
        (None, "timestamp", [t @ Val::Timestamp(_)]) => Ok(t.clone()),
        (None, "now" | "time.now", []) => {
            Ok(Val::Timestamp(env.host.map_or_else(Timestamp::now, super::eval::Host::now)))
        }
        (Some(Val::Duration(d)), accessor, []) => {
            let nanos = d.as_nanos();
            let per = match accessor {
                "getHours" => 3600 * NANOS_PER_SECOND,
                "getMinutes" => 60 * NANOS_PER_SECOND,
                "getSeconds" => NANOS_PER_SECOND,
                "getMilliseconds" => 1_000_000,
                _ => return None,
            };
            Ok(Val::Int(i64::try_from(nanos / per).unwrap_or(i64::MAX)))
        }
        (Some(Val::Timestamp(t)), accessor, [] | [_]) => {
            let zoned = match zone(args.first()) {
                Ok(tz) => t.to_zoned(tz),
                Err(e) => return Some(Err(e)),
            };
            let v = match accessor {
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
                _ => return None,
            };
            Ok(Val::Int(v))
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_as_cel_go_prints_them() {
        let d = |s: &str| duration_from_nanos(parse_go_duration(s).unwrap()).unwrap();
        assert_eq!(duration_string(d("1h30m")), "5400s");
        assert_eq!(duration_string(d("1.5s")), "1.5s");
        assert_eq!(duration_string(d("-0.5s")), "-0.5s");
        assert_eq!(duration_string(d("-1.5s")), "-1.5s");
        let t: Timestamp = "2024-02-29T12:00:00+01:00".parse().unwrap();
        assert_eq!(timestamp_string(t), "2024-02-29T11:00:00Z");
    }
}
