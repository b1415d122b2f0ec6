//! Go's time layouts and durations, as templates and policies write them.

/// A Go reference layout (`2006-01-02T15:04:05Z07:00`) as a strftime format.
#[must_use]
pub fn strftime(layout: &str) -> String {
    const TOKENS: &[(&str, &str)] = &[
        ("2006", "%Y"),
        ("January", "%B"),
        ("Jan", "%b"),
        ("Monday", "%A"),
        ("Mon", "%a"),
        ("Z07:00", "%:z"),
        ("-07:00", "%:z"),
        ("-0700", "%z"),
        ("MST", "%Z"),
        (".000000000", "%.9f"),
        (".000000", "%.6f"),
        (".000", "%.3f"),
        ("01", "%m"),
        ("02", "%d"),
        ("15", "%H"),
        ("03", "%I"),
        ("04", "%M"),
        ("05", "%S"),
        ("PM", "%p"),
        ("06", "%y"),
        ("1", "%-m"),
        ("2", "%-d"),
        ("3", "%-I"),
    ];
    let mut out = String::new();
    let mut rest = layout;
    'outer: while !rest.is_empty() {
        for (go, strf) in TOKENS {
            if let Some(r) = rest.strip_prefix(go) {
                out.push_str(strf);
                rest = r;
                continue 'outer;
            }
        }
        let c = rest.chars().next().unwrap_or(' ');
        if c == '%' {
            out.push_str("%%");
        } else {
            out.push(c);
        }
        rest = &rest[c.len_utf8()..];
    }
    out
}

const NANOS: i128 = 1_000_000_000;

/// A Go duration (`300ms`, `-1.5h`, `2h45m`, `0`) in nanoseconds, exactly (Go's
/// `time.ParseDuration`, which CEL's `duration()` uses).
#[must_use]
pub fn parse_duration(s: &str) -> Option<i128> {
    let (negative, mut rest) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    if rest == "0" {
        return Some(0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total: i128 = 0;
    while !rest.is_empty() {
        let whole_len = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        let whole = &rest[..whole_len];
        rest = &rest[whole_len..];
        let mut fraction = "";
        if let Some(after) = rest.strip_prefix('.') {
            let n = after.find(|c: char| !c.is_ascii_digit()).unwrap_or(after.len());
            fraction = &after[..n];
            rest = &after[n..];
        }
        if whole.is_empty() && fraction.is_empty() {
            return None;
        }
        let unit_len = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let unit: i128 = match &rest[..unit_len] {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => NANOS,
            "m" => 60 * NANOS,
            "h" => 3600 * NANOS,
            _ => return None,
        };
        rest = &rest[unit_len..];
        if whole.len() > 30 {
            return None;
        }
        let whole: i128 = if whole.is_empty() { 0 } else { whole.parse().ok()? };
        let mut value = whole.checked_mul(unit)?;
        // The fraction, to nanosecond precision (Go truncates beyond it).
        let mut scale = unit;
        for digit in fraction.bytes().take(30) {
            scale /= 10;
            value += i128::from(digit - b'0') * scale;
        }
        total = total.checked_add(value)?;
    }
    // Go's limit: about ±292 years.
    (total <= i128::from(i64::MAX)).then_some(if negative { -total } else { total })
}

/// A duration as Go's `time.Duration.String` writes it (`1h0m0s`, `1.5s`, `500ms`, `0s`).
#[must_use]
pub fn format_duration(nanos: i64) -> String {
    let sign = if nanos < 0 { "-" } else { "" };
    let u = nanos.unsigned_abs();
    if u == 0 {
        return "0s".to_string();
    }
    let fraction = |value: u64, places: u32| -> String {
        let unit = 10u64.pow(places);
        let digits = format!("{:0width$}", value % unit, width = places as usize);
        let digits = digits.trim_end_matches('0');
        let dot = if digits.is_empty() { "" } else { "." };
        format!("{}{dot}{digits}", value / unit)
    };
    if u < 1_000_000_000 {
        let (places, unit) = match u {
            0..1_000 => (0, "ns"),
            1_000..1_000_000 => (3, "µs"),
            _ => (6, "ms"),
        };
        return format!("{sign}{}{unit}", fraction(u, places));
    }
    let seconds = u / 1_000_000_000;
    let (minutes, hours) = (seconds / 60, seconds / 3600);
    let hours = if hours > 0 { format!("{hours}h") } else { String::new() };
    let minutes = if minutes > 0 { format!("{}m", minutes % 60) } else { String::new() };
    format!("{sign}{hours}{minutes}{}s", fraction(u % 60_000_000_000, 9))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations_parse_exactly() {
        assert_eq!(parse_duration("1h30m"), Some(5400 * NANOS));
        assert_eq!(parse_duration("-1.5h"), Some(-5400 * NANOS));
        assert_eq!(parse_duration("300ms"), Some(300_000_000));
        assert_eq!(parse_duration("1.000000001s"), Some(1_000_000_001));
        assert_eq!(parse_duration(".5s"), Some(500_000_000));
        assert_eq!(parse_duration("0"), Some(0));
        for bad in ["", "1", "1d", "h", "1.h2", "-", "99999999999999999999h"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
        assert_eq!(parse_duration("1.h"), Some(3600 * NANOS));
    }

    #[test]
    fn durations_are_written_as_go_writes_them() {
        for (nanos, text) in [
            (0, "0s"),
            (1, "1ns"),
            (1_500, "1.5µs"),
            (2_000_000, "2ms"),
            (1_500_000_000, "1.5s"),
            (100_000_000_000, "1m40s"),
            (3_600_000_000_000, "1h0m0s"),
            (-90_000_000_000, "-1m30s"),
            (90_000_000_000, "1m30s"),
            (7_200_000_000_000, "2h0m0s"),
            (500_000_000, "500ms"),
            (-60_000_000_000, "-1m0s"),
        ] {
            assert_eq!(format_duration(nanos), text);
        }
        assert_eq!(parse_duration("1m30s"), Some(90_000_000_000));
        assert_eq!(parse_duration("1.5h"), Some(5_400_000_000_000));
        assert_eq!(parse_duration("nope"), None);
    }
}
