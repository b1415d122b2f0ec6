//! Kubernetes quantities (`500m`, `1Gi`, `1e3`) and Go durations (`1h30m`) as numbers, as
//! Kyverno compares them in patterns and conditions; the parsing is CEL's (`cel::ext`,
//! `cel::time`), exact.

/// A Kubernetes resource quantity as a number (CEL's exact parser, so that both engines read
/// a quantity alike: `1Gi`, `500m`, `1e3`; a fraction finer than a nano-unit rounds up).
#[must_use]
#[allow(clippy::cast_precision_loss, reason = "compared as numbers, as Kyverno does")]
pub fn parse_quantity(s: &str) -> Option<f64> {
    crate::engine::cel::ext::parse_quantity(s.trim()).ok().map(|nanos| nanos as f64 / 1e9)
}

/// A Go duration (`300ms`, `-1.5h`, `2h45m`) in nanoseconds.
#[must_use]
#[allow(clippy::cast_precision_loss, reason = "compared as numbers, as Kyverno does")]
pub fn parse_duration(s: &str) -> Option<f64> {
    crate::gotime::parse_duration(s.trim()).map(|n| n as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities() {
        assert_eq!(parse_quantity("500m"), Some(0.5));
        assert_eq!(parse_quantity("1Gi"), Some(1_073_741_824.0));
        assert_eq!(parse_quantity("2"), Some(2.0));
        assert_eq!(parse_quantity("1e3"), Some(1000.0));
        assert_eq!(parse_quantity("1.5k"), Some(1500.0));
        assert_eq!(parse_quantity("abc"), None);
        assert_eq!(parse_quantity("1Gb"), None);
        assert_eq!(parse_quantity(""), None);
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s"), Some(30e9));
        assert_eq!(parse_duration("1h30m"), Some(5400e9));
        assert_eq!(parse_duration("-1.5h"), Some(-5400e9));
        assert_eq!(parse_duration("0"), Some(0.0));
        assert_eq!(parse_duration("10"), None);
        assert_eq!(parse_duration("1d"), None);
    }
}
