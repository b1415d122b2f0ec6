//! Semantic versions as Kyverno reads them: `github.com/blang/semver/v4`'s strict `Parse`,
//! its precedence (`Compare`) and its ranges (`ParseRange`). Used by `semver_compare()` and by
//! the ordering operators of conditions (`GreaterThan` on `"1.2.3"`).
//!
//! The `semver` crate is not used: its requirements follow Cargo's rules (a pre-release only
//! matches a comparator with the same `major.minor.patch`, `1.2` means `^1.2`), while blang
//! compares every version by plain precedence and reads `1.2.x` as a range.

use std::cmp::Ordering;

/// One pre-release identifier: numeric ones sort below alphanumeric ones.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Pre {
    Num(u64),
    Alpha(String),
}

impl Ord for Pre {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Pre::Num(a), Pre::Num(b)) => a.cmp(b),
            (Pre::Num(_), Pre::Alpha(_)) => Ordering::Less,
            (Pre::Alpha(_), Pre::Num(_)) => Ordering::Greater,
            (Pre::Alpha(a), Pre::Alpha(b)) => a.cmp(b),
        }
    }
}

impl PartialOrd for Pre {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// `MAJOR.MINOR.PATCH[-PRE][+BUILD]`; build metadata has no precedence and is not kept.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Version {
    major: u64,
    minor: u64,
    patch: u64,
    pre: Vec<Pre>,
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.major, self.minor, self.patch)
            .cmp(&(other.major, other.minor, other.patch))
            .then_with(|| match (self.pre.is_empty(), other.pre.is_empty()) {
                (true, true) => Ordering::Equal,
                // A pre-release has lower precedence than its release.
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                (false, false) => self.pre.cmp(&other.pre),
            })
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

fn is_alphanumeric(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// A number of the version core: digits only, no leading zero.
fn number(s: &str, what: &str) -> Result<u64, String> {
    if !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("invalid character(s) in {what} number `{s}`"));
    }
    if s.len() > 1 && s.starts_with('0') {
        return Err(format!("{what} number `{s}` has a leading zero"));
    }
    s.parse().map_err(|_| format!("{what} number `{s}` is not a number that fits"))
}

impl Version {
    /// blang's strict `Parse`: exactly three numbers, no `v` prefix, no leading zeros.
    pub fn parse(s: &str) -> Result<Version, String> {
        if s.is_empty() {
            return Err("empty version".into());
        }
        let mut parts = s.splitn(3, '.');
        let (Some(major), Some(minor), Some(rest)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(format!("`{s}` has no MAJOR.MINOR.PATCH"));
        };
        let (rest, build) = rest.split_once('+').map_or((rest, None), |(r, b)| (r, Some(b)));
        let (patch, pre) = rest.split_once('-').map_or((rest, None), |(p, r)| (p, Some(r)));
        let mut version = Version {
            major: number(major, "major")?,
            minor: number(minor, "minor")?,
            patch: number(patch, "patch")?,
            pre: Vec::new(),
        };
        for id in pre.into_iter().flat_map(|p| p.split('.')) {
            if id.is_empty() {
                return Err(format!("`{s}` has an empty pre-release identifier"));
            }
            if id.bytes().all(|b| b.is_ascii_digit()) {
                version.pre.push(Pre::Num(number(id, "pre-release")?));
            } else if is_alphanumeric(id) {
                version.pre.push(Pre::Alpha(id.to_string()));
            } else {
                return Err(format!("invalid character(s) in pre-release `{id}`"));
            }
        }
        for id in build.into_iter().flat_map(|b| b.split('.')) {
            if id.is_empty() || !is_alphanumeric(id) {
                return Err(format!("invalid build metadata in `{s}`"));
            }
        }
        Ok(version)
    }
}

#[derive(Debug, Clone, Copy)]
enum Op {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

impl Op {
    fn parse(s: &str) -> Option<Op> {
        Some(match s {
            "" | "=" | "==" => Op::Eq,
            "!" | "!=" => Op::Ne,
            ">" => Op::Gt,
            ">=" => Op::Ge,
            "<" => Op::Lt,
            "<=" => Op::Le,
            _ => return None,
        })
    }

    fn holds(self, ordering: Ordering) -> bool {
        match self {
            Op::Eq => ordering.is_eq(),
            Op::Ne => ordering.is_ne(),
            Op::Gt => ordering.is_gt(),
            Op::Ge => ordering.is_ge(),
            Op::Lt => ordering.is_lt(),
            Op::Le => ordering.is_le(),
        }
    }
}

/// A range: alternatives (`||`) of comparators that must all hold.
#[derive(Debug, Clone)]
pub struct Range {
    alternatives: Vec<Vec<(Op, Version)>>,
}

/// Splits a range at spaces, except a space after `>`, `<` or `=` (`>= 1.0.0` is one part),
/// and drops the spaces inside each part.
fn split_parts(s: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut last = None;
    for c in s.chars() {
        if c == ' ' {
            if !matches!(last, Some('>' | '<' | '=')) && !current.is_empty() {
                parts.push(std::mem::take(&mut current));
            }
        } else {
            current.push(c);
            last = Some(c);
        }
    }
    if !current.is_empty() {
        parts.push(current);
    }
    parts
}

/// `1.2.x` (or `1.x`, `1.x.x`) with its operator, as the comparators it stands for.
fn expand_wildcard(op: &str, version: &str) -> Result<Vec<(String, String)>, String> {
    let numbers: Vec<&str> = version.split('.').collect();
    let bad = || format!("bad wildcard version `{version}`");
    // blang types a wildcard by its number of parts: `1.x` is a minor wildcard, `1.2.x` a patch
    // wildcard, and so is `1.x.x`, read as `1.0.x` (its quirk: `1.x.x` is `>=1.0.0 <1.1.0`).
    let (floor, next) = match numbers.as_slice() {
        [major, "x"] => {
            let m: u64 = major.parse().map_err(|_| bad())?;
            (format!("{m}.0.0"), format!("{}.0.0", m.checked_add(1).ok_or_else(bad)?))
        }
        [major, "x", "x"] => {
            let m: u64 = major.parse().map_err(|_| bad())?;
            (format!("{m}.0.0"), format!("{m}.1.0"))
        }
        [major, minor, "x"] => {
            let (m, n): (u64, u64) =
                (major.parse().map_err(|_| bad())?, minor.parse().map_err(|_| bad())?);
            (format!("{m}.{n}.0"), format!("{m}.{}.0", n.checked_add(1).ok_or_else(bad)?))
        }
        _ => return Err(bad()),
    };
    Ok(match op {
        ">" => vec![(">=".into(), next)],
        ">=" => vec![(">=".into(), floor)],
        "<" => vec![("<".into(), floor)],
        "<=" => vec![("<".into(), next)],
        "" | "=" | "==" => vec![(">=".into(), floor), ("<".into(), next)],
        // Both in one AND group, as blang does (so it matches nothing).
        "!=" | "!" => vec![("<".into(), floor), (">=".into(), next)],
        other => return Err(format!("unknown comparator `{other}` in `{op}{version}`")),
    })
}

impl Range {
    /// blang's `ParseRange`: `>1.0.0 <2.0.0 || =3.0.0`, `!1.2.3`, `1.2.x`.
    pub fn parse(s: &str) -> Result<Range, String> {
        let parts = split_parts(s);
        if parts.is_empty() {
            return Err("empty range".into());
        }
        let mut alternatives = vec![Vec::new()];
        for (i, part) in parts.iter().enumerate() {
            if part == "||" {
                if i == 0 || i == parts.len() - 1 || parts[i - 1] == "||" {
                    return Err(format!("`||` with nothing on one side in the range `{s}`"));
                }
                alternatives.push(Vec::new());
                continue;
            }
            let digit = part
                .find(|c: char| c.is_ascii_digit())
                .ok_or_else(|| format!("no version in `{part}`"))?;
            let (op, version) = part.split_at(digit);
            let comparators = if part.contains(".x") {
                expand_wildcard(op, version)?
            } else {
                vec![(op.to_string(), version.to_string())]
            };
            for (op, version) in comparators {
                let op = Op::parse(&op)
                    .ok_or_else(|| format!("unknown comparator `{op}` in `{part}`"))?;
                let version = Version::parse(&version).map_err(|e| format!("in `{part}`: {e}"))?;
                if let Some(all) = alternatives.last_mut() {
                    all.push((op, version));
                }
            }
        }
        Ok(Range { alternatives })
    }

    #[must_use]
    pub fn contains(&self, version: &Version) -> bool {
        self.alternatives
            .iter()
            .any(|all| all.iter().all(|(op, bound)| op.holds(version.cmp(bound))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    fn within(version: &str, range: &str) -> bool {
        Range::parse(range).unwrap().contains(&v(version))
    }

    #[test]
    fn precedence_follows_semver_2() {
        let ordered = [
            "1.0.0-alpha",
            "1.0.0-alpha.1",
            "1.0.0-alpha.beta",
            "1.0.0-beta",
            "1.0.0-beta.2",
            "1.0.0-beta.11",
            "1.0.0-rc.1",
            "1.0.0",
            "1.0.1",
            "1.10.0",
            "2.0.0",
        ];
        for pair in ordered.windows(2) {
            assert!(v(pair[0]) < v(pair[1]), "{} < {}", pair[0], pair[1]);
        }
        assert_eq!(v("1.0.0+build.1"), v("1.0.0+other"), "build metadata has no precedence");
    }

    #[test]
    fn parsing_is_strict_as_blang_parse() {
        for bad in [
            "",
            "1.0",
            "v1.0.0",
            "01.0.0",
            "1.02.0",
            "1.0.0-",
            "1.0.0-01",
            "1.0.0-a_b",
            "1.0.0+",
            "x.y.z",
        ] {
            assert!(Version::parse(bad).is_err(), "{bad}");
        }
        assert!(Version::parse("1.0.0-0.3.7").is_ok());
        assert!(Version::parse("1.0.0-x-y-z.--").is_ok());
    }

    #[test]
    fn a_pre_release_is_below_its_release_in_ranges() {
        assert!(!within("1.0.0-rc.1", ">=1.0.0"));
        assert!(within("1.0.0-rc.1", "<1.0.0"));
        assert!(within("1.0.0-rc.1", ">0.9.0"));
        assert!(within("1.0.0", ">=1.0.0-rc.1"));
    }

    #[test]
    fn ranges_combine_and_or_and_wildcards() {
        assert!(within("1.2.3", ">1.0.0 <2.0.0"));
        assert!(!within("2.5.0", ">1.0.0 <2.0.0 || >=3.0.0"));
        assert!(within("3.1.1", ">1.0.0 <2.0.0 || >3.0.0 !4.2.1"));
        assert!(!within("4.2.1", ">1.0.0 <2.0.0 || >3.0.0 !4.2.1"));
        assert!(within("1.0.0", ">= 1.0.0"), "a space after the operator");
        assert!(within("1.2.9", "1.2.x") && !within("1.3.0", "1.2.x"));
        // blang reads `1.x.x` as a patch wildcard over 1.0.
        assert!(within("1.0.7", "1.x.x") && !within("1.5.0", "1.x.x"));
        assert!(within("1.9.0", "<=1.x") && !within("2.0.0", "<=1.x"));
        assert!(within("2.0.0", ">1.x") && !within("1.9.9", ">1.x"));
        // blang expands `!=1.x` to `<1.0.0 >=2.0.0` inside one AND: it matches nothing, and so
        // does Kyverno.
        assert!(
            !within("0.9.0", "!=1.x") && !within("1.5.0", "!=1.x") && !within("2.0.0", "!=1.x")
        );
        assert!(within("1.0.0", "==1.0.0") && within("1.0.0", "1.0.0"));
        for bad in
            ["", "||", ">1.0.0 ||", ">1.0.0 || || <0.1.0", "~1.0.0", "=>1.0.0", ">1.0", "v1.0.0"]
        {
            assert!(Range::parse(bad).is_err(), "{bad}");
        }
    }
}
