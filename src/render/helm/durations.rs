//! Helm's duration helpers (`toDuration`, `durationSeconds`, …, `durationRoundTo`): Go's
//! `time.Duration` in nanoseconds, read from Go's duration syntax (`1m30s`) or from a number
//! of seconds, and written as Go writes one (`2m0s`, `1.5s`, `500ms`).

use crate::render::gotemplate::exec::Funcs;
use crate::render::gotemplate::Value;

const SECOND: i64 = 1_000_000_000;

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
            crate::gotime::parse_duration(s)
                .and_then(|n| i64::try_from(n).ok())
                .or_else(|| s.parse::<f64>().ok().map(seconds))
                .ok_or_else(|| format!("time: invalid duration {s:?}"))
        }
        other => Err(format!("cannot convert {} to a duration", other.type_name())),
    }
}

#[allow(clippy::cast_precision_loss, reason = "Go's float64 conversions")]
fn as_f64(n: i64) -> f64 {
    n as f64
}

pub(super) fn register(f: &mut Funcs) {
    f.insert("toDuration", |_, a| {
        Ok(Value::string(&crate::gotime::format_duration(duration(&a[0]).unwrap_or(0))))
    });
    f.insert("mustToDuration", |_, a| {
        duration(&a[0]).map(|d| Value::string(&crate::gotime::format_duration(d)))
    });
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
            return Ok(Value::string(&crate::gotime::format_duration(d)));
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
        Ok(Value::string(&crate::gotime::format_duration(rounded)))
    });
    f.insert("durationTruncateTo", |_, a| {
        let (d, m) =
            (duration(&a[0]).unwrap_or(0), a.get(1).map_or(0, |m| duration(m).unwrap_or(0)));
        Ok(Value::string(&crate::gotime::format_duration(if m <= 0 { d } else { d - d % m })))
    });
}

#[cfg(test)]
mod tests {
    use super::{duration, Value};

    #[test]
    fn a_duration_is_go_syntax_or_seconds() {
        assert_eq!(duration(&Value::string("1m30s")), Ok(90_000_000_000));
        assert_eq!(duration(&Value::string("1.5")), Ok(1_500_000_000));
        assert_eq!(duration(&Value::Int(2)), Ok(2_000_000_000));
        assert_eq!(duration(&Value::Float(0.5)), Ok(500_000_000));
        assert_eq!(duration(&Value::string("nope")), Err("time: invalid duration \"nope\"".into()));
        assert_eq!(duration(&Value::string(" ")), Err("empty duration".into()));
    }
}
