//! `validate.pattern`: the recursive comparison of a resource with a pattern, with anchors,
//! operators, wildcards and Kyverno's skip-versus-fail propagation
//! (kyverno-compat.md, section 4).

use serde_json::{Map, Value};

use super::quantity::{parse_duration, parse_quantity};
use super::wildcard;

/// Why a pattern did not match.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mismatch {
    /// A conditional anchor `(k)` did not hold: the enclosing scope is skipped.
    Conditional(String),
    /// A global anchor `<(k)` did not hold: the whole rule is skipped.
    Global(String),
    /// A negation anchor `X(k)` found its key: a failure at this path.
    Negation(Vec<String>),
    /// An ordinary mismatch at this path.
    Fail(Vec<String>),
}

impl Mismatch {
    fn is_skip(&self) -> bool {
        matches!(self, Mismatch::Conditional(_) | Mismatch::Global(_))
    }
}

/// The outcome of matching a whole pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PatternResult {
    Pass,
    /// Failed at this path (segments from the resource root).
    Fail(Vec<String>),
    /// Not applicable: an anchor condition did not hold.
    Skip(String),
}

/// Matches a resource against a pattern, as Kyverno's `MatchPattern` does.
#[must_use]
pub fn match_pattern(resource: &Value, pattern: &Value) -> PatternResult {
    let mut path = Vec::new();
    match check(resource, pattern, &mut path, false) {
        Ok(()) => PatternResult::Pass,
        Err(Mismatch::Conditional(m) | Mismatch::Global(m)) => PatternResult::Skip(m),
        Err(Mismatch::Negation(p) | Mismatch::Fail(p)) => PatternResult::Fail(p),
    }
}

/// Kyverno's path notation for a failure: `/spec/containers/0/image/`.
#[must_use]
pub fn kyverno_path(segments: &[String]) -> String {
    let mut out = String::from("/");
    for s in segments {
        out.push_str(s);
        out.push('/');
    }
    out
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Anchor {
    Conditional,
    Equality,
    Negation,
    Existence,
    Global,
    AddIfNotPresent,
}

/// Splits an anchored key `=(name)` into its anchor and the key.
pub(super) fn parse_anchor(key: &str) -> Option<(Anchor, &str)> {
    let k = key.trim();
    let (anchor, rest) = match k.as_bytes().first()? {
        b'(' => (Anchor::Conditional, k),
        b'=' => (Anchor::Equality, &k[1..]),
        b'X' => (Anchor::Negation, &k[1..]),
        b'^' => (Anchor::Existence, &k[1..]),
        b'<' => (Anchor::Global, &k[1..]),
        b'+' => (Anchor::AddIfNotPresent, &k[1..]),
        _ => return None,
    };
    let inner = rest.strip_prefix('(')?.strip_suffix(')')?;
    if inner.is_empty() {
        return None;
    }
    Some((anchor, inner))
}

/// The key name with any anchor removed.
#[must_use]
pub fn strip_anchor(key: &str) -> &str {
    parse_anchor(key).map_or(key, |(_, k)| k)
}

fn contains_anchor(v: &Value) -> bool {
    match v {
        Value::Object(m) => m.iter().any(|(k, v)| parse_anchor(k).is_some() || contains_anchor(v)),
        Value::Array(items) => items.iter().any(contains_anchor),
        _ => false,
    }
}

/// A step of the path a check is at: a pattern's key, a list index, or (below keys a wildcard
/// expanded) a key of its own. Written out as text only for a mismatch.
#[derive(Clone, Debug)]
enum Seg<'p> {
    Key(&'p str),
    Owned(String),
    Index(usize),
}

impl Seg<'_> {
    fn text(&self) -> String {
        match self {
            Seg::Key(k) => (*k).to_string(),
            Seg::Owned(k) => k.clone(),
            Seg::Index(i) => i.to_string(),
        }
    }

    fn is(&self, key: &str) -> bool {
        match self {
            Seg::Key(k) => *k == key,
            Seg::Owned(k) => k == key,
            Seg::Index(_) => false,
        }
    }

    fn owned<'q>(&self) -> Seg<'q> {
        match self {
            Seg::Index(i) => Seg::Index(*i),
            other => Seg::Owned(other.text()),
        }
    }
}

/// The segments of `path`, as a mismatch reports them.
fn texts(path: &[Seg<'_>]) -> Vec<String> {
    path.iter().map(Seg::text).collect()
}

fn fail(path: &[Seg<'_>]) -> Mismatch {
    Mismatch::Fail(texts(path))
}

fn check<'p>(
    resource: &Value,
    pattern: &'p Value,
    path: &mut Vec<Seg<'p>>,
    expand_keys: bool,
) -> Result<(), Mismatch> {
    match pattern {
        Value::Object(pmap) => match resource {
            Value::Object(rmap) => check_map(rmap, pmap, path, expand_keys),
            _ => Err(fail(path)),
        },
        Value::Array(plist) => match resource {
            Value::Array(rlist) => check_list(rlist, plist, path),
            _ => Err(fail(path)),
        },
        scalar => match resource {
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    if !validate_scalar(item, scalar) {
                        path.push(Seg::Index(i));
                        return Err(fail(path));
                    }
                }
                Ok(())
            }
            value if validate_scalar(value, scalar) => Ok(()),
            _ => Err(fail(path)),
        },
    }
}

/// Replaces wildcard keys of a labels/annotations pattern by the first resource key they match.
fn expand_wildcard_keys(
    pmap: &Map<String, Value>,
    rmap: &Map<String, Value>,
) -> Map<String, Value> {
    pmap.iter()
        .map(|(k, v)| {
            let (anchor_prefix, name) = match parse_anchor(k) {
                Some((_, inner)) => (&k[..k.len() - inner.len() - 2], inner),
                None => ("", k.as_str()),
            };
            if wildcard::has_wildcard(name) {
                if let Some(found) = rmap.keys().find(|rk| wildcard::matches(name, rk)) {
                    let key = if anchor_prefix.is_empty() && parse_anchor(k).is_none() {
                        found.clone()
                    } else {
                        format!("{anchor_prefix}({found})")
                    };
                    return (key, v.clone());
                }
            }
            (k.clone(), v.clone())
        })
        .collect()
}

fn check_map<'p>(
    rmap: &Map<String, Value>,
    pmap: &'p Map<String, Value>,
    path: &mut Vec<Seg<'p>>,
    expand_keys: bool,
) -> Result<(), Mismatch> {
    if expand_keys && pmap.keys().any(|k| wildcard::has_wildcard(k)) {
        // The expanded keys live here: the path below is written out (labels and annotations
        // with wildcard keys are few).
        let expanded = expand_wildcard_keys(pmap, rmap);
        let mut own: Vec<Seg<'_>> = path.iter().map(Seg::owned).collect();
        let result = check_keys(rmap, &expanded, &mut own);
        // Steps a failed check left behind stay on the path, as they do on one path (an
        // enclosing conditional anchor's message reads them).
        let start = path.len();
        path.extend(own.iter().skip(start).map(Seg::owned));
        return result;
    }
    check_keys(rmap, pmap, path)
}

fn check_keys<'p>(
    rmap: &Map<String, Value>,
    pmap: &'p Map<String, Value>,
    path: &mut Vec<Seg<'p>>,
) -> Result<(), Mismatch> {
    let in_metadata = path.last().is_some_and(|s| s.is("metadata"));

    let mut anchored: Vec<(&String, Anchor, &str, &Value)> = Vec::new();
    // Global anchors and keys whose subtree holds anchors rank first (0), then the rest.
    let mut plain: Vec<(u8, &String, &Value)> = Vec::new();
    for (k, v) in pmap {
        match parse_anchor(k) {
            Some((
                a @ (Anchor::Conditional | Anchor::Equality | Anchor::Negation | Anchor::Existence),
                name,
            )) => {
                anchored.push((k, a, name, v));
            }
            anchor => {
                let global = matches!(anchor, Some((Anchor::Global, _)));
                plain.push((u8::from(!global), k, v));
            }
        }
    }
    // Whether a subtree holds anchors is asked only where there is something to order.
    if plain.len() > 1 {
        for (rank, _, v) in &mut plain {
            if *rank == 1 && contains_anchor(v) {
                *rank = 0;
            }
        }
    }
    anchored.sort_by(|a, b| a.0.cmp(b.0));

    let mut skip: Option<Mismatch> = None;
    for (_, anchor, name, pv) in anchored {
        let child_expand = in_metadata && (name == "labels" || name == "annotations");
        let present = rmap.get(name);
        path.push(Seg::Key(name));
        let outcome = match (anchor, present) {
            (Anchor::Conditional, Some(rv)) => check(rv, pv, path, child_expand).map_err(|_| {
                Mismatch::Conditional(format!(
                    "conditional anchor mismatch at {}",
                    kyverno_path(&texts(path))
                ))
            }),
            (Anchor::Conditional, None) => {
                Err(Mismatch::Conditional(format!("conditional anchor key `{name}` doesn't exist")))
            }
            (Anchor::Equality, Some(rv)) => check(rv, pv, path, child_expand),
            (Anchor::Negation, Some(_)) => Err(Mismatch::Negation(texts(path))),
            (Anchor::Existence, Some(rv)) => check_existence(rv, pv, path),
            _ => Ok(()),
        };
        path.pop();
        match outcome {
            Ok(()) => {}
            Err(m) if m.is_skip() => {
                skip.get_or_insert(m);
            }
            Err(m) => return Err(m),
        }
    }
    if let Some(m) = skip {
        return Err(m);
    }

    // Global anchors and keys whose subtree holds anchors first, then the rest; each by name.
    plain.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(b.1)));
    for (_, k, pv) in plain {
        if let Some((Anchor::Global, name)) = parse_anchor(k) {
            if let Some(rv) = rmap.get(name) {
                path.push(Seg::Key(name));
                let r = check(rv, pv, path, false);
                path.pop();
                if r.is_err() {
                    return Err(Mismatch::Global(format!("global anchor `{name}` does not hold")));
                }
            }
            continue;
        }
        let name = match parse_anchor(k) {
            Some((Anchor::AddIfNotPresent, n)) => n,
            _ => k.as_str(),
        };
        path.push(Seg::Key(name));
        let child_expand = in_metadata && (name == "labels" || name == "annotations");
        let result = if pv.as_str() == Some("*") {
            match rmap.get(name) {
                Some(v) if !v.is_null() => Ok(()),
                _ => Err(fail(path)),
            }
        } else {
            check(rmap.get(name).unwrap_or(&Value::Null), pv, path, child_expand)
        };
        path.pop();
        result?;
    }
    Ok(())
}

fn check_existence<'p>(rv: &Value, pv: &'p Value, path: &mut Vec<Seg<'p>>) -> Result<(), Mismatch> {
    let (Value::Array(rlist), Value::Array(plist)) = (rv, pv) else {
        return Err(fail(path));
    };
    for p in plist.iter().filter(|p| p.is_object()) {
        // Each item is tried from this path (a failed check may leave steps behind).
        let len = path.len();
        let found = rlist.iter().enumerate().any(|(i, r)| {
            path.push(Seg::Index(i));
            let ok = check(r, p, path, false).is_ok();
            path.truncate(len);
            ok
        });
        if !found {
            return Err(fail(path));
        }
    }
    Ok(())
}

fn check_list<'p>(
    rlist: &[Value],
    plist: &'p [Value],
    path: &mut Vec<Seg<'p>>,
) -> Result<(), Mismatch> {
    let Some(first) = plist.first() else {
        return Err(fail(path));
    };
    match first {
        Value::Object(_) => {
            let mut skip: Option<Mismatch> = None;
            let mut skipped = 0;
            for (i, item) in rlist.iter().enumerate() {
                path.push(Seg::Index(i));
                let r = check(item, first, path, false);
                path.pop();
                match r {
                    Ok(()) => {}
                    Err(m) if m.is_skip() => {
                        skipped += 1;
                        skip.get_or_insert(m);
                    }
                    Err(m) => return Err(m),
                }
            }
            match skip {
                Some(m) if skipped == rlist.len() => Err(m),
                _ => Ok(()),
            }
        }
        Value::Array(_) => {
            if rlist.len() < plist.len() {
                return Err(fail(path));
            }
            for (i, p) in plist.iter().enumerate() {
                path.push(Seg::Index(i));
                let r = check(&rlist[i], p, path, false);
                path.pop();
                r?;
            }
            Ok(())
        }
        scalar => {
            for (i, item) in rlist.iter().enumerate() {
                path.push(Seg::Index(i));
                let r = check(item, scalar, path, false);
                path.pop();
                r?;
            }
            Ok(())
        }
    }
}

/// Compares a resource value with a scalar pattern (kyverno-compat.md, 4.2).
#[must_use]
pub fn validate_scalar(value: &Value, pattern: &Value) -> bool {
    match pattern {
        Value::Bool(b) => value.as_bool() == Some(*b),
        Value::Number(n) => {
            if let Some(pi) = n.as_i64() {
                match value {
                    Value::Number(v) => v.as_i64().map_or_else(
                        || v.as_f64().is_some_and(|f| f.fract() == 0.0 && f == pi as f64),
                        |vi| vi == pi,
                    ),
                    Value::String(s) => s.parse::<i64>().ok() == Some(pi),
                    _ => false,
                }
            } else {
                let pf = n.as_f64().unwrap_or(f64::NAN);
                match value {
                    Value::Number(v) => v.as_f64() == Some(pf),
                    Value::String(s) => s.parse::<f64>().ok() == Some(pf),
                    _ => false,
                }
            }
        }
        Value::Null => match value {
            Value::Null => true,
            Value::String(s) => s.is_empty(),
            Value::Number(n) => n.as_f64() == Some(0.0),
            Value::Bool(b) => !b,
            _ => false,
        },
        Value::Object(_) => value.is_object(),
        Value::Array(_) => false,
        Value::String(p) => validate_string_pattern(value, p),
    }
}

fn validate_string_pattern(value: &Value, pattern: &str) -> bool {
    if value.as_str() == Some(pattern) {
        return true;
    }
    pattern.split('|').any(|alt| alt.split('&').all(|part| validate_part(value, part.trim())))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Equal,
    NotEqual,
    More,
    Less,
    MoreEqual,
    LessEqual,
    InRange,
    NotInRange,
}

fn range_operand(s: &str) -> bool {
    let s = s.strip_prefix(['-', '+']).unwrap_or(s);
    let digits = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    if digits == 0 {
        return false;
    }
    let mut rest = &s[digits..];
    if let Some(frac) = rest.strip_prefix('.') {
        let n = frac.find(|c: char| !c.is_ascii_digit()).unwrap_or(frac.len());
        if n == 0 {
            return false;
        }
        rest = &frac[n..];
    }
    rest.chars().all(|c| c.is_ascii_alphabetic())
}

/// Splits `A-B` / `A!-B` range operators.
fn parse_range(part: &str) -> Option<(Op, &str, &str)> {
    for (sep, op) in [("!-", Op::NotInRange), ("-", Op::InRange)] {
        let mut search = 1;
        while let Some(i) = part.get(search..).and_then(|s| s.find(sep)).map(|i| i + search) {
            let (a, b) = (&part[..i], &part[i + sep.len()..]);
            if range_operand(a) && range_operand(b) {
                return Some((op, a, b));
            }
            search = i + 1;
        }
    }
    None
}

fn value_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn validate_part(value: &Value, part: &str) -> bool {
    if let Some((op, a, b)) = parse_range(part) {
        let ge = compare_ordered(value, Op::MoreEqual, a);
        let le = compare_ordered(value, Op::LessEqual, b);
        return match op {
            Op::InRange => ge && le,
            _ => compare_ordered(value, Op::Less, a) || compare_ordered(value, Op::More, b),
        };
    }
    let (op, operand) = if let Some(r) = part.strip_prefix(">=") {
        (Op::MoreEqual, r)
    } else if let Some(r) = part.strip_prefix("<=") {
        (Op::LessEqual, r)
    } else if let Some(r) = part.strip_prefix('>') {
        (Op::More, r)
    } else if let Some(r) = part.strip_prefix('<') {
        (Op::Less, r)
    } else if part.len() >= 2 && part.starts_with('!') {
        (Op::NotEqual, &part[1..])
    } else {
        (Op::Equal, part)
    };
    let operand = operand.trim();
    match op {
        Op::Equal | Op::NotEqual => {
            if let Some(r) = compare_numeric(value, operand) {
                let eq = r == std::cmp::Ordering::Equal;
                return if op == Op::Equal { eq } else { !eq };
            }
            let Some(text) = value_text(value) else { return false };
            let m = wildcard::matches(operand, &text);
            if op == Op::Equal {
                m
            } else {
                !m
            }
        }
        _ => compare_ordered(value, op, operand),
    }
}

fn compare_ordered(value: &Value, op: Op, operand: &str) -> bool {
    let Some(ord) = compare_numeric(value, operand.trim()) else { return false };
    match op {
        Op::More => ord.is_gt(),
        Op::Less => ord.is_lt(),
        Op::MoreEqual => ord.is_ge(),
        Op::LessEqual => ord.is_le(),
        _ => ord.is_eq(),
    }
}

/// Orders a value against an operand as durations, else as quantities.
fn compare_numeric(value: &Value, operand: &str) -> Option<std::cmp::Ordering> {
    // The operand first: most (`?*`, `false`, a name) are neither, and the value is then not
    // read at all.
    let (duration, quantity) = (parse_duration(operand), parse_quantity(operand));
    if duration.is_none() && quantity.is_none() {
        return None;
    }
    let text = match value {
        Value::Null => "0".to_string(),
        other => value_text(other)?,
    };
    if let (Some(p), Some(v)) = (duration, parse_duration(&text)) {
        return v.partial_cmp(&p);
    }
    if let (Some(p), Some(v)) = (quantity, parse_quantity(&text)) {
        return v.partial_cmp(&p);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod() -> Value {
        json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "web", "namespace": "shop", "labels": {"app": "web"}},
            "spec": {
                "hostNetwork": false,
                "containers": [
                    {"name": "app", "image": "registry.example/shop/web:1.4", "resources": {"limits": {"memory": "256Mi"}}},
                    {"name": "sidecar", "image": "docker.io/library/proxy:latest"}
                ]
            }
        })
    }

    fn run(pattern: &Value) -> PatternResult {
        match_pattern(&pod(), pattern)
    }

    // The worked examples of kyverno-compat.md, appendix A.
    #[test]
    fn worked_examples() {
        assert_eq!(
            run(&json!({"spec": {"containers": [{"image": "!*:latest"}]}})),
            PatternResult::Fail(vec![
                "spec".into(),
                "containers".into(),
                "1".into(),
                "image".into()
            ])
        );
        assert_eq!(
            run(
                &json!({"spec": {"containers": [{"(name)": "app", "resources": {"limits": {"memory": "<=512Mi"}}}]}})
            ),
            PatternResult::Pass
        );
        assert!(matches!(
            run(&json!({"spec": {"containers": [{"(name)": "db", "image": "x"}]}})),
            PatternResult::Skip(_)
        ));
        assert!(matches!(
            run(&json!({"spec": {"containers": [{"resources": {"limits": {"memory": "?*"}}}]}})),
            PatternResult::Fail(_)
        ));
        assert_eq!(run(&json!({"spec": {"=(hostNetwork)": false}})), PatternResult::Pass);
        assert_eq!(run(&json!({"spec": {"X(hostPID)": "null"}})), PatternResult::Pass);
        assert_eq!(run(&json!({"metadata": {"labels": {"app*": "?*"}}})), PatternResult::Pass);
        assert!(matches!(
            run(
                &json!({"spec": {"containers": [{"<(image)": "docker.io/*"}], "imagePullSecrets": [{"name": "?*"}]}})
            ),
            PatternResult::Fail(_)
        ));
        assert!(matches!(
            run(
                &json!({"spec": {"containers": [{"<(image)": "quay.io/*"}], "imagePullSecrets": [{"name": "?*"}]}})
            ),
            PatternResult::Skip(_)
        ));
    }

    #[test]
    fn negation_and_existence_anchors() {
        assert!(matches!(
            run(&json!({"spec": {"X(hostNetwork)": "null"}})),
            PatternResult::Fail(_)
        ));
        assert_eq!(
            run(&json!({"spec": {"^(containers)": [{"name": "sidecar"}]}})),
            PatternResult::Pass
        );
        assert!(matches!(
            run(&json!({"spec": {"^(containers)": [{"name": "db"}]}})),
            PatternResult::Fail(_)
        ));
    }

    #[test]
    fn scalar_operators() {
        let v = |x: Value, p: &str| validate_scalar(&x, &json!(p));
        assert!(v(json!(3), ">=2 & <=10"));
        assert!(v(json!("3"), ">=2 & <=10"));
        assert!(!v(json!(11), ">=2 & <=10"));
        assert!(v(json!(30), "1-60"));
        assert!(!v(json!(61), "1-60"));
        assert!(v(json!(61), "1!-60"));
        assert!(v(json!("Always"), "Always | IfNotPresent"));
        assert!(!v(json!("Never"), "Always | IfNotPresent"));
        assert!(v(json!("1Gi"), "<=2Gi"));
        assert!(!v(json!("3Gi"), "<=2Gi"));
        assert!(v(json!(null), "<10"));
        assert!(!v(json!(null), ">0"));
        assert!(v(json!("45s"), "<1m"));
        assert!(v(json!(true), "true"));
        assert!(!v(json!(null), "?*"));
        assert!(validate_scalar(&json!(""), &json!(null)));
        assert!(validate_scalar(&json!(false), &json!(null)));
        assert!(validate_scalar(&json!(2), &json!(2.0)));
        assert!(validate_scalar(&json!("2"), &json!(2)));
    }

    /// A mismatch reports the path of the resource's fields: below a wildcard key, the key it
    /// matched; below an existence anchor, the list; below a conditional anchor that does not
    /// hold, a skip naming the anchor's path.
    #[test]
    fn mismatches_name_their_paths() {
        let fail = |p: Value| match run(&p) {
            PatternResult::Fail(path) => path,
            other => panic!("{p}: {other:?}"),
        };
        assert_eq!(
            fail(json!({"metadata": {"labels": {"ap*": "db"}}})),
            ["metadata", "labels", "app"]
        );
        assert_eq!(
            fail(json!({"spec": {"^(containers)": [{"name": "db"}]}})),
            ["spec", "containers"]
        );
        assert_eq!(
            fail(json!({"spec": {"^(containers)": [{"name": "app"}], "hostNetwork": true}})),
            ["spec", "hostNetwork"]
        );
        assert_eq!(
            run(&json!({"metadata": {"(labels)": {"ap*": "db"}}, "spec": {"hostNetwork": true}})),
            PatternResult::Skip("conditional anchor mismatch at /metadata/labels/".into())
        );
        // A list where a scalar is wanted leaves its key on the path the anchor's message
        // reads, below a wildcard key as anywhere else.
        let listed = json!({"metadata": {"labels": {"app": ["a", "b"]}}});
        assert_eq!(
            match_pattern(&listed, &json!({"metadata": {"(labels)": {"ap*": "a"}}})),
            PatternResult::Skip("conditional anchor mismatch at /metadata/labels/app/".into())
        );
        assert_eq!(
            match_pattern(&listed, &json!({"metadata": {"(labels)": {"app": "a"}}})),
            PatternResult::Skip("conditional anchor mismatch at /metadata/labels/app/".into())
        );
    }

    #[test]
    fn star_requires_a_non_null_value() {
        assert_eq!(run(&json!({"metadata": {"name": "*"}})), PatternResult::Pass);
        assert!(matches!(run(&json!({"metadata": {"generateName": "*"}})), PatternResult::Fail(_)));
    }
}
