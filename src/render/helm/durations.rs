//! Helm's duration helpers (`toDuration`, `durationSeconds`, …, `durationRoundTo`): Go's
//! `time.Duration` in nanoseconds, read from Go's duration syntax (`1m30s`) or from a number
//! of seconds, and written as Go writes one (`2m0s`, `1.5s`, `500ms`).

use crate::render::gotemplate::exec::Funcs;
use crate::render::gotemplate::Value;

const SECOND: i64 = 1_000_000_000;

/// `time.ParseDuration`.
fn parse_go(s: &str) -> Option<i64> {
    let (neg, mut rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if rest == "0" {
        return Some(0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let number_end =
            rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        let (number, after) = rest.split_at(number_end);
        if number.is_empty() || number == "." {
            return None;
        }
        let unit_end = after.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(after.len());
        let (unit, next) = after.split_at(unit_end);
        let scale = match unit {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        total += number.parse::<f64>().ok()? * scale;
        rest = next;
    }
    #[allow(clippy::cast_possible_truncation, reason = "durations are within i64 nanoseconds")]
    let nanos = total as i64;
    Some(if neg { -nanos } else { nanos })
}

/// A value as a duration: Go's syntax or a number of seconds (text or number).
fn duration(v: &Value) -> Result<i64, String> {
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_precision_loss,
        reason = "as Go converts"
    )]
    let seconds = |f: f64| (f * 1e9) as i64;
    match v {
        Value::Int(i) => Ok(i.saturating_mul(SECOND)),
        Value::Float(f) => Ok(seconds(*f)),
        Value::Str(s) => {
            let s = s.trim();
            if s.is_empty() {
                return Err("empty duration".into());
            }
            parse_go(s)
                .or_else(|| s.parse::<f64>().ok().map(seconds))
                .ok_or_else(|| format!("time: invalid duration {s:?}"))
        }
        other => Err(format!("cannot convert {} to a duration", other.type_name())),
    }
}

/// `Duration.String`.
fn go_string(d: i64) -> String {
    let neg = d < 0;
    let mut u = d.unsigned_abs();
    let frac = |u: u64, prec: u32| -> (String, u64) {
        let div = 10u64.pow(prec);
        let f = u % div;
        if f == 0 {
            return (String::new(), u / div);
        }
        let digits = format!("{f:0width$}", width = prec as usize);
        (format!(".{}", digits.trim_end_matches('0')), u / div)
    };
    let body = if u < 1_000_000_000 {
        let (unit, prec) = match u {
            0 => return "0s".into(),
            1..=999 => ("ns", 0),
            1000..=999_999 => ("µs", 3),
            _ => ("ms", 6),
        };
        let (f, whole) = frac(u, prec);
        format!("{whole}{f}{unit}")
    } else {
        let (f, secs) = frac(u, 9);
        u = secs;
        let mut out = format!("{}{f}s", u % 60);
        u /= 60;
        if u > 0 {
            out = format!("{}m{out}", u % 60);
            u /= 60;
            if u > 0 {
                out = format!("{u}h{out}");
            }
        }
        out
    };
    if neg {
        format!("-{body}")
    } else {
        body
    }
}

#[allow(clippy::cast_precision_loss, reason = "Go's float64 conversions")]
fn as_f64(n: i64) -> f64 {
    n as f64
}

pub(super) fn register(f: &mut Funcs) {
    f.insert("toDuration", |_, a| Ok(Value::string(&go_string(duration(&a[0]).unwrap_or(0)))));
    f.insert("mustToDuration", |_, a| duration(&a[0]).map(|d| Value::string(&go_string(d))));
    f.insert("durationSeconds", |_, a| {
        Ok(Value::Float(as_f64(duration(&a[0]).unwrap_or(0)) / 1e9))
    });
    f.insert("durationMilliseconds", |_, a| {
        Ok(Value::Int(duration(&a[0]).unwrap_or(0) / 1_000_000))
    });
    f.insert("durationMicroseconds", |_, a| Ok(Value::Int(duration(&a[0]).unwrap_or(0) / 1000)));
    f.insert("durationNanoseconds", |_, a| Ok(Value::Int(duration(&a[0]).unwrap_or(0))));
    f.insert("durationMinutes", |_, a| {
        Ok(Value::Float(as_f64(duration(&a[0]).unwrap_or(0)) / 60e9))
    });
    f.insert("durationHours", |_, a| {
        Ok(Value::Float(as_f64(duration(&a[0]).unwrap_or(0)) / 3600e9))
    });
    f.insert("durationDays", |_, a| {
        Ok(Value::Float(as_f64(duration(&a[0]).unwrap_or(0)) / 86_400e9))
    });
    f.insert("durationWeeks", |_, a| {
        Ok(Value::Float(as_f64(duration(&a[0]).unwrap_or(0)) / 604_800e9))
    });
    f.insert("durationRoundTo", |_, a| {
        let (d, m) =
            (duration(&a[0]).unwrap_or(0), a.get(1).map_or(0, |m| duration(m).unwrap_or(0)));
        if m <= 0 {
            return Ok(Value::string(&go_string(d)));
        }
        let r = d % m;
        let rounded = if d < 0 {
            if -r - r < m {
                d - r
            } else {
                d - r - m
            }
        } else if r + r < m {
            d - r
        } else {
            d + m - r
        };
        Ok(Value::string(&go_string(rounded)))
    });
    f.insert("durationTruncateTo", |_, a| {
        let (d, m) =
            (duration(&a[0]).unwrap_or(0), a.get(1).map_or(0, |m| duration(m).unwrap_or(0)));
        Ok(Value::string(&go_string(if m <= 0 { d } else { d - d % m })))
    });
}

#[cfg(test)]
mod tests {
    use super::{go_string, parse_go};

    #[test]
    fn durations_as_go_reads_and_writes_them() {
        assert_eq!(parse_go("1m30s"), Some(90_000_000_000));
        assert_eq!(parse_go("1.5h"), Some(5_400_000_000_000));
        assert_eq!(parse_go("nope"), None);
        for (nanos, text) in [
            (0, "0s"),
            (90_000_000_000, "1m30s"),
            (7_200_000_000_000, "2h0m0s"),
            (1_500_000_000, "1.5s"),
            (500_000_000, "500ms"),
            (1_500, "1.5µs"),
            (-60_000_000_000, "-1m0s"),
        ] {
            assert_eq!(go_string(nanos), text);
        }
    }
}
