//! Sprig's date functions: `now` (the clock: a value printed as Go prints a `time.Time`),
//! `date`/`dateInZone`/`date_in_zone` with Go's reference layouts, `toDate`, `unixEpoch`,
//! `duration` and `durationRound`. "Local" is UTC here: a lint must not depend on the machine.

use std::rc::Rc;

use super::{arity, text};
use crate::render::gotemplate::exec::Funcs;
use crate::render::gotemplate::value::Object;
use crate::render::gotemplate::Value;

/// A Go `time.Time`.
#[derive(Debug)]
struct Time(jiff::Timestamp);

impl Object for Time {
    fn type_name(&self) -> &'static str {
        "time.Time"
    }

    fn field(&self, _: &str) -> Option<Value> {
        None
    }

    fn call(&self, name: &str, _: &[Value]) -> Option<std::result::Result<Value, String>> {
        match name {
            "Unix" => Some(Ok(Value::Int(self.0.as_second()))),
            "UTC" => Some(Ok(Value::Object(Rc::new(Time(self.0))))),
            "Year" => {
                Some(Ok(Value::Int(i64::from(self.0.to_zoned(jiff::tz::TimeZone::UTC).year()))))
            }
            _ => None,
        }
    }

    fn print(&self) -> String {
        self.0
            .to_zoned(jiff::tz::TimeZone::UTC)
            .strftime("%Y-%m-%d %H:%M:%S%.f +0000 UTC")
            .to_string()
    }
}

/// The time a value stands for: a `time.Time`, or Unix seconds; anything else is now (as
/// sprig does).
fn timestamp(v: &Value) -> jiff::Timestamp {
    match v {
        Value::Object(o) if o.type_name() == "time.Time" => {
            o.call("Unix", &[]).and_then(std::result::Result::ok).and_then(|s| match s {
                Value::Int(s) => jiff::Timestamp::from_second(s).ok(),
                _ => None,
            })
        }
        Value::Int(s) => jiff::Timestamp::from_second(*s).ok(),
        #[allow(clippy::cast_possible_truncation, reason = "seconds")]
        Value::Float(f) => jiff::Timestamp::from_second(*f as i64).ok(),
        _ => None,
    }
    .unwrap_or_else(jiff::Timestamp::now)
}

fn zone(name: &str) -> std::result::Result<jiff::tz::TimeZone, String> {
    match name {
        "" | "UTC" | "Local" => Ok(jiff::tz::TimeZone::UTC),
        other => {
            jiff::tz::TimeZone::get(other).map_err(|e| format!("unknown time zone {other}: {e}"))
        }
    }
}

fn format(layout: &str, t: jiff::Timestamp, tz: &jiff::tz::TimeZone) -> String {
    t.to_zoned(tz.clone()).strftime(&crate::gotime::strftime(layout)).to_string()
}

pub(super) fn register(f: &mut Funcs) {
    f.insert("now", |_, _| Ok(Value::Object(Rc::new(Time(jiff::Timestamp::now())))));
    f.insert("date", |_, a| {
        arity(a, 2, "date")?;
        Ok(Value::string(&format(text(&a[0])?, timestamp(&a[1]), &jiff::tz::TimeZone::UTC)))
    });
    for name in ["dateInZone", "date_in_zone"] {
        f.insert(name, |_, a| {
            arity(a, 3, "dateInZone")?;
            Ok(Value::string(&format(text(&a[0])?, timestamp(&a[1]), &zone(text(&a[2])?)?)))
        });
    }
    for name in ["toDate", "mustToDate"] {
        f.insert(name, |_, a| {
            arity(a, 2, "toDate")?;
            let (layout, value) = (text(&a[0])?, text(&a[1])?);
            let format = crate::gotime::strftime(layout);
            let parsed = jiff::fmt::strtime::parse(&format, value)
                .and_then(|p| {
                    p.to_timestamp()
                        .or_else(|_| {
                            p.to_datetime()
                                .and_then(|dt| dt.to_zoned(jiff::tz::TimeZone::UTC))
                                .map(|z| z.timestamp())
                        })
                        .or_else(|_| {
                            p.to_date()
                                .and_then(|d| d.to_zoned(jiff::tz::TimeZone::UTC))
                                .map(|z| z.timestamp())
                        })
                })
                .map_err(|e| format!("parsing time {value:?} as {layout:?}: {e}"))?;
            Ok(Value::Object(Rc::new(Time(parsed))))
        });
    }
    f.insert("unixEpoch", |_, a| {
        arity(a, 1, "unixEpoch")?;
        Ok(Value::string(&timestamp(&a[0]).as_second().to_string()))
    });
    f.insert("duration", |_, a| {
        arity(a, 1, "duration")?;
        let secs = super::numbers::to_int64(&a[0]).unwrap_or(0);
        // `time.Duration(n) * time.Second`, overflowing as Go's does.
        Ok(Value::string(&crate::gotime::format_duration(secs.wrapping_mul(1_000_000_000))))
    });
    f.insert("durationRound", |_, a| {
        arity(a, 1, "durationRound")?;
        let secs = match &a[0] {
            Value::Str(s) => crate::gotime::parse_duration(s.trim())
                .and_then(|n| i64::try_from(n / 1_000_000_000).ok())
                .unwrap_or(0),
            other => super::numbers::to_int64(other).unwrap_or(0),
        };
        Ok(Value::string(&round_duration(secs)))
    });
}

/// sprig's `durationRound`: the largest unit only (`2h`, `3mo`, `1y`).
fn round_duration(secs: i64) -> String {
    let u = secs.unsigned_abs();
    let (year, month, day, hour, minute) = (31_536_000, 2_592_000, 86_400, 3_600, 60);
    let sign = if secs < 0 { "-" } else { "" };
    let (n, unit) = if u >= year {
        (u / year, "y")
    } else if u >= month {
        (u / month, "mo")
    } else if u >= day {
        (u / day, "d")
    } else if u >= hour {
        (u / hour, "h")
    } else if u >= minute {
        (u / minute, "m")
    } else {
        (u, "s")
    };
    format!("{sign}{n}{unit}")
}

/// `urlJoin` (a URL from `urlParse`'s parts) and `urlParse`, as Go's `net/url` writes and
/// reads them (without its escaping).
pub(super) fn register_urls(f: &mut Funcs) {
    f.insert("urlJoin", |_, a| {
        arity(a, 1, "urlJoin")?;
        let Value::Map(m) = &a[0] else {
            return Err(format!(
                "wrong type for value; expected map[string]interface {{}}; got {}",
                a[0].type_name()
            ));
        };
        let m = m.borrow();
        let part = |k: &str| m.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        let (scheme, user, host, path) =
            (part("scheme"), part("userinfo"), part("host"), part("path"));
        let mut out = String::new();
        if !scheme.is_empty() {
            out.push_str(&scheme);
            out.push(':');
        }
        if !host.is_empty() || !user.is_empty() {
            out.push_str("//");
            if !user.is_empty() {
                out.push_str(&user);
                out.push('@');
            }
            out.push_str(&host);
            if !path.is_empty() && !path.starts_with('/') {
                out.push('/');
            }
        }
        out.push_str(&path);
        for (key, mark) in [("query", '?'), ("fragment", '#')] {
            let v = part(key);
            if !v.is_empty() {
                out.push(mark);
                out.push_str(&v);
            }
        }
        Ok(Value::string(&out))
    });
    f.insert("urlParse", |_, a| {
        arity(a, 1, "urlParse")?;
        let raw = text(&a[0])?;
        let (rest, fragment) = raw.split_once('#').unwrap_or((raw, ""));
        let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (scheme, rest) = match rest.split_once("://") {
            Some((s, r)) => (s, r),
            None => ("", rest),
        };
        let (authority, path) = if scheme.is_empty() {
            ("", rest)
        } else {
            rest.find('/').map_or((rest, ""), |i| (&rest[..i], &rest[i..]))
        };
        let (userinfo, host) = authority.rsplit_once('@').unwrap_or(("", authority));
        let hostname = host
            .rsplit_once(':')
            .filter(|(_, p)| p.chars().all(|c| c.is_ascii_digit()))
            .map_or(host, |(h, _)| h);
        let entries = [
            ("scheme", scheme),
            ("host", host),
            ("hostname", hostname),
            ("path", path),
            ("query", query),
            ("opaque", ""),
            ("fragment", fragment),
            ("userinfo", userinfo),
        ];
        Ok(Value::map(
            entries.into_iter().map(|(k, v)| (k.to_string(), Value::string(v))).collect(),
        ))
    });
}
