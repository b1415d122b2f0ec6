//! `semver` and `semverCompare`: versions and constraints as Masterminds/semver v3 reads them
//! (`v` prefix, missing minor and patch, `x`/`*` wildcards, `~`, `^`, hyphen ranges, `,`/space
//! for "and", `||` for "or"). A version with a prerelease satisfies only constraints that name
//! one (`>=1.19-0` is how charts let `v1.20.0-gke.1` through).

use std::cmp::Ordering;

use super::{arity, text, Result};
use crate::render::gotemplate::exec::Funcs;
use crate::render::gotemplate::value::Value;

#[derive(Clone, Debug, PartialEq, Eq)]
struct Version {
    major: u64,
    minor: u64,
    patch: u64,
    pre: String,
    meta: String,
}

fn is_ident(s: &str) -> bool {
    !s.is_empty()
        && s.split('.')
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
}

/// A version, with the parts it left out (a constraint reads those as wildcards).
fn parse(input: &str) -> Option<(Version, usize)> {
    let s = input.trim();
    let s = s.strip_prefix('v').unwrap_or(s);
    let (s, meta) = s.split_once('+').map_or((s, ""), |(a, b)| (a, b));
    let (core, pre) = s.split_once('-').map_or((s, ""), |(a, b)| (a, b));
    if (!meta.is_empty() && !is_ident(meta)) || (s.contains('-') && !is_ident(pre)) {
        return None;
    }
    let parts: Vec<&str> = core.split('.').collect();
    if parts.is_empty() || parts.len() > 3 {
        return None;
    }
    let mut numbers = [0u64; 3];
    for (i, p) in parts.iter().enumerate() {
        numbers[i] = if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        } else {
            p.parse().ok()?
        };
    }
    let v = Version {
        major: numbers[0],
        minor: numbers[1],
        patch: numbers[2],
        pre: pre.into(),
        meta: meta.into(),
    };
    Some((v, parts.len()))
}

fn compare_pre(left: &str, right: &str) -> Ordering {
    match (left.is_empty(), right.is_empty()) {
        (true, true) => return Ordering::Equal,
        (true, false) => return Ordering::Greater,
        (false, true) => return Ordering::Less,
        _ => {}
    }
    let (mut ours, mut theirs) = (left.split('.'), right.split('.'));
    loop {
        match (ours.next(), theirs.next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(p), Some(q)) => {
                let order = match (p.parse::<u64>(), q.parse::<u64>()) {
                    (Ok(m), Ok(n)) => m.cmp(&n),
                    (Ok(_), Err(_)) => Ordering::Less,
                    (Err(_), Ok(_)) => Ordering::Greater,
                    (Err(_), Err(_)) => p.cmp(q),
                };
                if order != Ordering::Equal {
                    return order;
                }
            }
        }
    }
}

impl Version {
    fn cmp(&self, other: &Version) -> Ordering {
        (self.major, self.minor, self.patch)
            .cmp(&(other.major, other.minor, other.patch))
            .then_with(|| compare_pre(&self.pre, &other.pre))
    }
}

/// One constraint: an operator and a version whose `given` leading parts were written
/// (wildcards and missing parts are not given).
struct Constraint {
    op: String,
    v: Version,
    given: usize,
}

impl Constraint {
    fn parse(text: &str) -> std::result::Result<Constraint, String> {
        let t = text.trim();
        let op_len = t.find(|c: char| c.is_ascii_alphanumeric() || c == '*').unwrap_or(t.len());
        let (op, rest) = t.split_at(op_len);
        let op = op.trim();
        if !["", "=", "!=", ">", "<", ">=", "=>", "<=", "=<", "~", "~>", "^"].contains(&op) {
            return Err(format!("improper constraint: {text}"));
        }
        let rest = rest.trim();
        let wild = |p: &str| matches!(p, "x" | "X" | "*");
        let core_end = rest.find(['-', '+']).unwrap_or(rest.len());
        let given = rest[..core_end].split('.').take_while(|p| !wild(p)).count();
        let cleaned: Vec<&str> = rest[..core_end].split('.').take(given).collect();
        let version_text = format!(
            "{}{}",
            if cleaned.is_empty() { "0".into() } else { cleaned.join(".") },
            &rest[core_end..]
        );
        let (v, written) =
            parse(&version_text).ok_or_else(|| format!("improper constraint: {text}"))?;
        let given = if cleaned.is_empty() { 0 } else { written.min(given) };
        Ok(Constraint {
            op: op.replace("=>", ">=").replace("=<", "<=").replace("~>", "~"),
            v,
            given,
        })
    }

    /// The next version above what the written parts allow (`1.2` → `1.3.0`).
    fn ceiling(&self, level: usize) -> Version {
        let v = &self.v;
        let (major, minor, patch) = match level {
            0 => (v.major + 1, 0, 0),
            1 => (v.major, v.minor + 1, 0),
            _ => (v.major, v.minor, v.patch + 1),
        };
        Version { major, minor, patch, pre: String::new(), meta: String::new() }
    }

    fn check(&self, v: &Version) -> bool {
        if !v.pre.is_empty() && self.v.pre.is_empty() && self.op != "!=" {
            return false;
        }
        let floor = &self.v;
        let dirty = self.given < 3;
        let within =
            |upper: Version| v.cmp(floor) != Ordering::Less && v.cmp(&upper) == Ordering::Less;
        match self.op.as_str() {
            "" | "=" if dirty => self.given == 0 || within(self.ceiling(self.given - 1)),
            "" | "=" => v.cmp(floor) == Ordering::Equal,
            "!=" if dirty => !(self.given == 0 || within(self.ceiling(self.given - 1))),
            "!=" => v.cmp(floor) != Ordering::Equal,
            ">" if dirty => {
                self.given > 0 && v.cmp(&self.ceiling(self.given - 1)) != Ordering::Less
            }
            ">" => v.cmp(floor) == Ordering::Greater,
            ">=" => v.cmp(floor) != Ordering::Less,
            "<" => v.cmp(floor) == Ordering::Less,
            "<=" if dirty => {
                self.given == 0 || v.cmp(&self.ceiling(self.given - 1)) == Ordering::Less
            }
            "<=" => v.cmp(floor) != Ordering::Greater,
            "~" => within(self.ceiling(usize::from(self.given > 1))),
            "^" => {
                let level = if floor.major > 0 || self.given <= 1 {
                    0
                } else if floor.minor > 0 || self.given == 2 {
                    1
                } else {
                    2
                };
                within(self.ceiling(level))
            }
            _ => false,
        }
    }
}

/// Whether `version` satisfies `constraints` (`>= 1.2, < 2 || 3.x`).
pub fn satisfies(constraints: &str, version: &str) -> std::result::Result<bool, String> {
    let (v, _) = parse(version).ok_or_else(|| "Invalid Semantic Version".to_string())?;
    for alternative in constraints.split("||") {
        let mut all = true;
        let alternative = alternative.trim();
        // A hyphen range: `1.2 - 1.4.5`.
        let pieces: Vec<String> = if let Some((lo, hi)) = alternative.split_once(" - ") {
            vec![format!(">={}", lo.trim()), format!("<={}", hi.trim())]
        } else {
            let mut out: Vec<String> = Vec::new();
            for token in alternative.split([',', ' ']).filter(|t| !t.is_empty()) {
                // `>= 1.2` written with a space: the operator joins its version.
                match out.last_mut() {
                    Some(last) if last.chars().all(|c| "<>=!~^".contains(c)) => {
                        last.push_str(token);
                    }
                    _ => out.push(token.to_string()),
                }
            }
            out
        };
        if pieces.is_empty() {
            return Err(format!("improper constraint: {constraints}"));
        }
        for piece in &pieces {
            if !Constraint::parse(piece)?.check(&v) {
                all = false;
            }
        }
        if all {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Orders two versions as semver does; `None` when either is not one.
#[must_use]
pub fn compare(a: &str, b: &str) -> Option<Ordering> {
    Some(parse(a)?.0.cmp(&parse(b)?.0))
}

pub(super) fn register(f: &mut Funcs) {
    f.insert("semverCompare", |_, a| {
        arity(a, 2, "semverCompare")?;
        satisfies(text(&a[0])?, text(&a[1])?).map(Value::Bool)
    });
    f.insert("semver", |_, a| {
        arity(a, 1, "semver")?;
        let original = text(&a[0])?;
        let (v, _) = parse(original).ok_or("Invalid Semantic Version")?;
        let to_int = |n: u64| Value::Int(i64::try_from(n).unwrap_or(i64::MAX));
        Ok(Value::map(
            [
                ("Major", to_int(v.major)),
                ("Minor", to_int(v.minor)),
                ("Patch", to_int(v.patch)),
                ("Prerelease", Value::string(&v.pre)),
                ("Metadata", Value::string(&v.meta)),
                ("Original", Value::string(original)),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
        ))
    });
    let _: Result<()> = Ok(());
}

#[cfg(test)]
mod tests {
    use super::satisfies;

    #[test]
    fn constraints_as_masterminds_reads_them() {
        let yes = [
            (">=1.19-0", "v1.20.0"),
            (">=1.19-0", "v1.20.0-gke.100"),
            ("^1.2.0", "1.9.9"),
            ("~1.2", "1.2.7"),
            ("1.2.x", "1.2.3"),
            (">= 1.2, < 2", "1.5.0"),
            ("<1 || >=2.1", "2.5.0"),
            ("1.2 - 1.4.5", "1.4.5"),
            ("^0.2.3", "0.2.9"),
            ("!=1.2.3", "1.2.4"),
            ("*", "3.0.0"),
        ];
        for (c, v) in yes {
            assert_eq!(satisfies(c, v), Ok(true), "{c} {v}");
        }
        let no = [
            ("^1.2.0", "2.2.3"),
            (">=1.19", "v1.20.0-gke.100"),
            ("~1.2", "1.3.0"),
            ("^0.2.3", "0.3.0"),
            (">1.2", "1.2.5"),
            ("<=1.2", "1.3.0"),
        ];
        for (c, v) in no {
            assert_eq!(satisfies(c, v), Ok(false), "{c} {v}");
        }
        assert!(satisfies(">=1.2", "not-a-version").is_err());
        assert!(satisfies("%1.2", "1.2.0").is_err());
    }
}
