//! CEL functions: the standard ones (`size`, conversions, `matches`, the optional methods), the
//! extension libraries Kubernetes enables (strings, lists, sets, regex, format, base64) and the
//! dispatch to the Kubernetes types ([`super::ext`]), time ([`super::time`]) and Kyverno's
//! libraries ([`super::kyverno`]).
//!
//! Each library answers `None` for a call it has no overload for, so that the next one may.

use std::fmt::Write as _;
use std::rc::Rc;

use super::eval::{compare, equal, err, Env, EvalError, Val};
use super::{ext, kyverno, time};

type Result<T> = std::result::Result<T, EvalError>;

/// Function namespaces: `sets.contains(…)` calls a function, it does not select a field.
const NAMESPACES: &[&str] = &[
    "optional",
    "sets",
    "lists",
    "strings",
    "base64",
    "math",
    "time",
    "resource",
    "image",
    "jsonpatch",
    "ip",
    "http",
    "globalContext",
    "generator",
];

pub(super) fn is_namespace(name: &str) -> bool {
    NAMESPACES.contains(&name)
}

/// The name of a namespaced function, `ns.function`, with Kyverno 1.18's camelCase
/// spellings of its library functions (`resource.get`, `http.post`, `image.getMetadata`, …)
/// given their original names: both are accepted, as Kyverno accepts both.
pub(super) fn namespaced(ns: &str, function: &str) -> String {
    let canonical = match (ns, function) {
        ("resource" | "globalContext" | "http", "get") => "Get",
        ("resource", "list") => "List",
        ("resource" | "http", "post") => "Post",
        ("resource", "toGVR") => "ToGVR",
        ("http", "client") => "Client",
        ("generator", "apply") => "Apply",
        ("image", "getMetadata") => "GetMetadata",
        _ => function,
    };
    format!("{ns}.{canonical}")
}

/// Every function and method name this module answers (namespaced ones as `ns.name`), for
/// the check made when a policy is compiled: a name outside this list and
/// [`KNOWN_UNSUPPORTED`] is a typo, reported at the expression's line.
const KNOWN: &[&str] = &[
    // standard, optionals, conversions
    "size",
    "dyn",
    "string",
    "int",
    "uint",
    "double",
    "bool",
    "bytes",
    "type",
    "matches",
    "duration",
    "timestamp",
    "now",
    "time.now",
    "orValue",
    "hasValue",
    "value",
    "or",
    "optional.of",
    "optional.none",
    "optional.ofNonZeroValue",
    "base64.encode",
    "base64.decode",
    // strings
    "startsWith",
    "endsWith",
    "contains",
    "lowerAscii",
    "upperAscii",
    "trim",
    "reverse",
    "charAt",
    "split",
    "replace",
    "indexOf",
    "lastIndexOf",
    "substring",
    "format",
    "find",
    "findAll",
    "join",
    "strings.quote",
    // lists and sets
    "isSorted",
    "sum",
    "min",
    "max",
    "slice",
    "flatten",
    "distinct",
    "sort",
    "first",
    "last",
    "lists.range",
    "sets.contains",
    "sets.equivalent",
    "sets.intersects",
    // math
    "math.greatest",
    "math.least",
    "math.abs",
    "math.sign",
    "math.ceil",
    "math.floor",
    "math.round",
    "math.trunc",
    "math.isNaN",
    "math.isInf",
    "math.isFinite",
    // time accessors
    "getHours",
    "getMinutes",
    "getSeconds",
    "getMilliseconds",
    "getFullYear",
    "getMonth",
    "getDate",
    "getDayOfMonth",
    "getDayOfWeek",
    "getDayOfYear",
    // quantity, url, ip, cidr, image
    "quantity",
    "isQuantity",
    "sign",
    "isInteger",
    "asInteger",
    "asApproximateFloat",
    "isGreaterThan",
    "isLessThan",
    "compareTo",
    "add",
    "sub",
    "url",
    "isURL",
    "getScheme",
    "getHost",
    "getHostname",
    "getPort",
    "getEscapedPath",
    "getQuery",
    "ip",
    "isIP",
    "ip.isCanonical",
    "family",
    "isUnspecified",
    "isLoopback",
    "isLinkLocalMulticast",
    "isLinkLocalUnicast",
    "isGlobalUnicast",
    "cidr",
    "isCIDR",
    "containsIP",
    "containsCIDR",
    "masked",
    "prefixLength",
    "image",
    "isImage",
    "registry",
    "repository",
    "tag",
    "digest",
    "identifier",
    "containsDigest",
    // Kyverno
    "resource.Get",
    "resource.List",
    "image.GetMetadata",
    "getImageData",
    "verifyImageSignatures",
    "verifyAttestationSignatures",
    "extractPayload",
    "parseServiceAccount",
    "jsonpatch.escapeKey",
    "generator.Apply",
];

/// Names that exist in Kubernetes' or Kyverno's CEL but need what an offline linter does not
/// have (an HTTP client, the authorizer, a global context): accepted when a policy is compiled,
/// an error when evaluated.
const KNOWN_UNSUPPORTED: &[&str] = &[
    "http.Get",
    "http.Post",
    "http.Client",
    "globalContext.Get",
    "resource.Post",
    "image.Verify",
    "x509.Decode",
    "check",
    "allowed",
    "reason",
    "errored",
    "error",
    "group",
    "resource",
    "subresource",
    "namespace",
    "name",
    "path",
    "verb",
    "serviceAccount",
    "authorizer.group",
    "authorizer.path",
    "authorizer.serviceAccount",
    "transformList",
    "transformMap",
    "transformMapEntry",
    "sortBy",
    "getField",
    "Apply",
    "Get",
    "List",
];

/// Whether `name` (`ns.name` when namespaced) is a function CEL policies may call.
pub(super) fn is_known(name: &str) -> bool {
    KNOWN.contains(&name) || KNOWN_UNSUPPORTED.contains(&name)
}

/// Calls a function or method (`receiver` is the target of `target.name(args)`).
pub(super) fn call(r: Option<&Val>, name: &str, args: &[Val], env: &Env<'_>) -> Result<Val> {
    standard(r, name, args, env)
        .or_else(|| strings(r, name, args, env))
        .or_else(|| lists(r, name, args, env))
        .or_else(|| sets(r, name, args, env))
        .or_else(|| math(r, name, args))
        .or_else(|| time::call(r, name, args, env))
        .or_else(|| ext::call(r, name, args))
        .or_else(|| kyverno::call(r, name, args, env))
        .unwrap_or_else(|| {
            if r.is_none() && KNOWN_UNSUPPORTED.contains(&name) {
                return err(format!(
                    "`{name}` needs what an offline linter does not have (a network, the \
                     authorizer, a global context)"
                ));
            }
            err(format!(
                "no such function: {}{name}({})",
                r.map(|r| format!("{}.", r.type_name())).unwrap_or_default(),
                args.iter().map(Val::type_name).collect::<Vec<_>>().join(", ")
            ))
        })
}

fn standard(r: Option<&Val>, name: &str, args: &[Val], env: &Env<'_>) -> Option<Result<Val>> {
    Some(match (r, name, args) {
        (Some(Val::Optional(o)), "orValue", [default]) => {
            Ok(o.as_ref().map_or_else(|| default.clone(), |v| (**v).clone()))
        }
        (Some(Val::Optional(o)), "hasValue", []) => Ok(Val::Bool(o.is_some())),
        (Some(Val::Optional(Some(v))), "value", []) => Ok((**v).clone()),
        (Some(Val::Optional(None)), "value", []) => err("optional.none() has no value"),
        (Some(Val::Optional(o)), "or", [Val::Optional(other)]) => {
            Ok(Val::Optional(o.clone().or_else(|| other.clone())))
        }
        // cel-go short-circuits `x.orValue(d)` and `x.or(o)` and returns a non-optional `x`
        // as it is (its planner's evalOptionalOrValue); policies rely on it.
        (Some(v), "orValue" | "or", [_]) | (None, "dyn", [v]) => Ok(v.clone()),
        (None, "optional.of", [v]) => Ok(Val::Optional(Some(Rc::new(v.clone())))),
        (None, "optional.none", []) => Ok(Val::Optional(None)),
        (None, "optional.ofNonZeroValue", [v]) => {
            Ok(Val::Optional((!is_zero(v)).then(|| Rc::new(v.clone()))))
        }
        (None, "size", [v]) | (Some(v), "size", []) => size(v),
        (None, "string", [v]) => to_string(v),
        (None, "int", [v]) => to_int(v),
        (None, "uint", [v]) => to_uint(v),
        (None, "double", [v]) => to_double(v),
        (None, "bool", [v]) => to_bool(v),
        (None, "bytes", [Val::String(s)]) => Ok(Val::Bytes(s.as_bytes().into())),
        (None, "bytes", [b @ Val::Bytes(_)]) => Ok(b.clone()),
        (None, "type", [v]) => Ok(Val::string(v.type_name())),
        (None, "base64.encode", [Val::Bytes(b)]) => Ok(Val::string(&crate::base64::encode(b))),
        (None, "base64.decode", [Val::String(s)]) => crate::base64::decode(s)
            .map(|b| Val::Bytes(b.into()))
            .ok_or_else(|| EvalError::Failed(format!("base64.decode: `{s}` is not base64"))),
        (None, "matches", [Val::String(s), Val::String(p)])
        | (Some(Val::String(s)), "matches", [Val::String(p)]) => {
            regex(p, env).map(|re| Val::Bool(re.is_match(s)))
        }
        _ => return None,
    })
}

/// Compiles a regular expression: RE2 syntax, as CEL specifies (the `regex` crate is
/// RE2-like), bounded by `--limit regex-size`.
fn regex(pattern: &str, env: &Env<'_>) -> Result<regex::Regex> {
    if let Some(re) = env.regexes.borrow().get(pattern) {
        return Ok(re.clone());
    }
    let re = compile_regex(pattern, env)?;
    let mut cache = env.regexes.borrow_mut();
    if cache.len() < 256 {
        cache.insert(pattern.to_string(), re.clone());
    }
    Ok(re)
}

fn compile_regex(pattern: &str, env: &Env<'_>) -> Result<regex::Regex> {
    regex::RegexBuilder::new(pattern).size_limit(env.regex_size).build().map_err(|e| {
        EvalError::Failed(match e {
            regex::Error::CompiledTooBig(_) => format!(
                "regular expression `{pattern}` exceeds {} bytes compiled (raise with `--limit regex-size=N`)",
                env.regex_size
            ),
            e => format!("invalid regular expression `{pattern}`: {e}"),
        })
    })
}

/// Whether a value is its type's zero value (`optional.ofNonZeroValue`).
fn is_zero(v: &Val) -> bool {
    match v {
        Val::Null => true,
        Val::Bool(b) => !b,
        Val::Int(i) => *i == 0,
        Val::Uint(u) => *u == 0,
        Val::Double(d) => *d == 0.0,
        Val::String(s) => s.is_empty(),
        Val::Bytes(b) => b.is_empty(),
        Val::List(l) => l.is_empty(),
        Val::Map(m) => m.is_empty(),
        Val::Optional(o) => o.is_none(),
        Val::Duration(d) => d.is_zero(),
        Val::Timestamp(t) => *t == jiff::Timestamp::UNIX_EPOCH,
        Val::Ext(_) => false,
    }
}

/// The string library (cel-go's `ext.Strings`, and Kubernetes' regex `find`/`findAll`).
fn strings(r: Option<&Val>, name: &str, args: &[Val], env: &Env<'_>) -> Option<Result<Val>> {
    let text: &str = match (r, name, args) {
        (None, "strings.quote", [Val::String(s)]) => return Some(Ok(Val::string(&quote(s)))),
        (Some(Val::String(s)), _, _) => s,
        _ => return None,
    };
    let string = |v: &str| Ok(Val::string(v));
    let chars = text.chars().count();
    let index = |i: &Val| match i {
        Val::Int(i) => usize::try_from(*i).ok().filter(|i| *i <= chars),
        _ => None,
    };
    // Character offsets, as CEL counts them, to byte offsets.
    let byte_at = |c: usize| text.char_indices().nth(c).map_or(text.len(), |(b, _)| b);
    let limit = |n: &Val| match n {
        Val::Int(n) => Ok(usize::try_from(*n).ok()),
        other => err(format!("a count must be an int, not `{}`", other.type_name())),
    };
    Some(match (name, args) {
        ("startsWith", [Val::String(p)]) => Ok(Val::Bool(text.starts_with(&**p))),
        ("endsWith", [Val::String(p)]) => Ok(Val::Bool(text.ends_with(&**p))),
        ("contains", [Val::String(p)]) => Ok(Val::Bool(text.contains(&**p))),
        ("lowerAscii", []) => string(&text.to_ascii_lowercase()),
        ("upperAscii", []) => string(&text.to_ascii_uppercase()),
        ("trim", []) => string(text.trim()),
        ("reverse", []) => string(&text.chars().rev().collect::<String>()),
        ("charAt", [i]) => match index(i) {
            Some(i) => string(&text[byte_at(i)..byte_at(i + 1)]),
            None => err("charAt: index out of range"),
        },
        ("split", [Val::String(sep)]) => Ok(Val::list(split(text, sep, None))),
        ("split", [Val::String(sep), n]) => match limit(n) {
            Ok(Some(0)) => Ok(Val::list(Vec::new())),
            Ok(n) => Ok(Val::list(split(text, sep, n))),
            Err(e) => Err(e),
        },
        ("replace", [Val::String(from), Val::String(to)]) => {
            fits(replaced_len(text, from, to, usize::MAX), env)
                .and_then(|()| string(&text.replace(&**from, to)))
        }
        ("replace", [Val::String(from), Val::String(to), n]) => match limit(n) {
            Ok(n) => {
                let n = n.unwrap_or(usize::MAX);
                fits(replaced_len(text, from, to, n), env)
                    .and_then(|()| string(&text.replacen(&**from, to, n)))
            }
            Err(e) => Err(e),
        },
        ("indexOf" | "lastIndexOf", [Val::String(needle)]) => {
            let found =
                if name == "indexOf" { text.find(&**needle) } else { text.rfind(&**needle) };
            Ok(Val::Int(found.map_or(-1, |b| char_count(&text[..b]))))
        }
        ("indexOf" | "lastIndexOf", [Val::String(needle), from]) => {
            let Some(from) = index(from) else { return Some(err("index out of range")) };
            let found = if name == "indexOf" {
                text[byte_at(from)..].find(&**needle).map(|b| b + byte_at(from))
            } else {
                let end = (byte_at(from) + needle.len()).min(text.len());
                text.get(..end).and_then(|t| t.rfind(&**needle))
            };
            Ok(Val::Int(found.map_or(-1, |b| char_count(&text[..b]))))
        }
        ("substring", [from]) => match index(from) {
            Some(from) => string(&text[byte_at(from)..]),
            None => err("substring index out of range"),
        },
        ("substring", [from, to]) => match (index(from), index(to)) {
            (Some(from), Some(to)) if from <= to => string(&text[byte_at(from)..byte_at(to)]),
            (Some(_), Some(_)) => err("substring: start after end"),
            _ => err("substring index out of range"),
        },
        ("format", [Val::List(values)]) => format(text, values).map(|s| Val::string(&s)),
        ("find", [Val::String(p)]) => {
            regex(p, env).map(|re| Val::string(re.find(text).map_or("", |m| m.as_str())))
        }
        ("findAll", [Val::String(p)]) => regex(p, env)
            .map(|re| Val::list(re.find_iter(text).map(|m| Val::string(m.as_str())).collect())),
        ("findAll", [Val::String(p), n]) => match (regex(p, env), limit(n)) {
            (Ok(re), Ok(n)) => Ok(Val::list(
                re.find_iter(text)
                    .take(n.unwrap_or(usize::MAX))
                    .map(|m| Val::string(m.as_str()))
                    .collect(),
            )),
            (Err(e), _) | (_, Err(e)) => Err(e),
        },
        _ => return None,
    })
}

/// The length `text.replacen(from, to, n)` will have, without building it.
fn replaced_len(text: &str, from: &str, to: &str, n: usize) -> usize {
    let count =
        if from.is_empty() { text.chars().count() + 1 } else { text.matches(from).count() }.min(n);
    text.len().saturating_add(count.saturating_mul(to.len())).saturating_sub(count * from.len())
}

/// Refuses to build a value longer than the steps left in the budget.
fn fits(len: usize, env: &Env<'_>) -> Result<()> {
    if len > env.room() {
        return Err(EvalError::limit(&format!(
            "its step budget: a value of {len} elements needs more than the {} steps left",
            env.room()
        )));
    }
    Ok(())
}

fn char_count(s: &str) -> i64 {
    i64::try_from(s.chars().count()).unwrap_or(i64::MAX)
}

fn split(text: &str, sep: &str, n: Option<usize>) -> Vec<Val> {
    match n {
        Some(n) => text.splitn(n, sep).map(Val::string).collect(),
        None => text.split(sep).map(Val::string).collect(),
    }
}

fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `"%s is %d".format([a, b])`: the verbs of cel-go's `format` (`%s %d %f %e %x %X %o %b`,
/// an optional precision for `%f`/`%e`, and `%%`).
fn format(template: &str, values: &[Val]) -> Result<String> {
    let mut out = String::new();
    let mut args = values.iter();
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut precision = None;
        if chars.peek() == Some(&'.') {
            chars.next();
            let mut digits = String::new();
            while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                digits.push(*d);
                chars.next();
            }
            precision = digits.parse::<usize>().ok();
            if precision.is_none_or(|p| p > 100) {
                return err(format!("format: precision `.{digits}` is not 0 to 100"));
            }
        }
        let verb =
            chars.next().ok_or_else(|| EvalError::Failed("format: `%` at the end".into()))?;
        if verb == '%' {
            out.push('%');
            continue;
        }
        let arg = args.next().ok_or_else(|| {
            EvalError::Failed(format!("format: not enough arguments for `{template}`"))
        })?;
        let piece = match (verb, arg) {
            ('s', v) => match to_string(v) {
                Ok(Val::String(s)) => s.to_string(),
                _ => display(v),
            },
            ('d', Val::Int(i)) => i.to_string(),
            ('d', Val::Uint(u)) => u.to_string(),
            ('f', v) => format!("{:.*}", precision.unwrap_or(6), number(v)?),
            ('e', v) => format!("{:.*e}", precision.unwrap_or(6), number(v)?),
            ('x', Val::Int(i)) => format!("{i:x}"),
            ('x', Val::Uint(u)) => format!("{u:x}"),
            ('X', Val::Int(i)) => format!("{i:X}"),
            ('X', Val::Uint(u)) => format!("{u:X}"),
            ('x' | 'X', Val::String(s)) => {
                let hex: String = s.bytes().fold(String::new(), |mut out, b| {
                    let _ = write!(out, "{b:02x}");
                    out
                });
                if verb == 'X' {
                    hex.to_ascii_uppercase()
                } else {
                    hex
                }
            }
            ('o', Val::Int(i)) => format!("{i:o}"),
            ('o', Val::Uint(u)) => format!("{u:o}"),
            ('b', Val::Int(i)) => format!("{i:b}"),
            ('b', Val::Uint(u)) => format!("{u:b}"),
            ('b', Val::Bool(b)) => b.to_string(),
            (verb, v) => {
                return err(format!("format: `%{verb}` does not take a `{}`", v.type_name()))
            }
        };
        out.push_str(&piece);
    }
    Ok(out)
}

#[allow(clippy::cast_precision_loss, reason = "%f of an integer, as cel-go formats it")]
fn number(v: &Val) -> Result<f64> {
    match v {
        Val::Double(d) => Ok(*d),
        Val::Int(i) => Ok(*i as f64),
        Val::Uint(u) => Ok(*u as f64),
        other => err(format!("format: `{}` is not a number", other.type_name())),
    }
}

/// How `%s` shows a list or map (cel-go's debug form).
fn display(v: &Val) -> String {
    match v {
        Val::List(items) => {
            format!("[{}]", items.iter().map(display).collect::<Vec<_>>().join(", "))
        }
        Val::Map(entries) => format!(
            "{{{}}}",
            entries
                .iter()
                .map(|(k, v)| format!("{}: {}", display(k), display(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Val::Null => "null".into(),
        other => match to_string(other) {
            Ok(Val::String(s)) => s.to_string(),
            _ => other.type_name().into(),
        },
    }
}

/// The sets library (cel-go's `ext.Sets`): lists as sets.
fn sets(r: Option<&Val>, name: &str, args: &[Val], env: &Env<'_>) -> Option<Result<Val>> {
    let (None, [Val::List(a), Val::List(b)]) = (r, args) else { return None };
    if !name.starts_with("sets.") {
        return None;
    }
    if let Err(e) = fits(a.len().saturating_mul(b.len()), env) {
        return Some(Err(e));
    }
    let has = |l: &[Val], x: &Val| l.iter().any(|y| equal(x, y));
    Some(Ok(Val::Bool(match name {
        "sets.contains" => b.iter().all(|x| has(a, x)),
        "sets.equivalent" => b.iter().all(|x| has(a, x)) && a.iter().all(|x| has(b, x)),
        "sets.intersects" => a.iter().any(|x| has(b, x)),
        _ => return None,
    })))
}

/// The math library (cel-go's `ext.Math`).
#[allow(clippy::cast_precision_loss, reason = "comparing int with double, as CEL does")]
fn math(r: Option<&Val>, name: &str, args: &[Val]) -> Option<Result<Val>> {
    if r.is_some() || !name.starts_with("math.") {
        return None;
    }
    let number = |v: &Val| matches!(v, Val::Int(_) | Val::Uint(_) | Val::Double(_));
    Some(match (&name[5..], args) {
        ("greatest" | "least", [Val::List(items)]) => extreme(name, items),
        ("greatest" | "least", items) if !items.is_empty() && items.iter().all(number) => {
            extreme(name, items)
        }
        ("abs", [Val::Int(i)]) => i
            .checked_abs()
            .map(Val::Int)
            .ok_or_else(|| EvalError::Failed("integer overflow".into())),
        ("abs", [Val::Double(d)]) => Ok(Val::Double(d.abs())),
        ("abs", [Val::Uint(u)]) => Ok(Val::Uint(*u)),
        ("sign", [Val::Int(i)]) => Ok(Val::Int(i.signum())),
        ("sign", [Val::Uint(u)]) => Ok(Val::Uint(u64::from(*u > 0))),
        ("sign", [Val::Double(d)]) => {
            Ok(Val::Double(if d.is_nan() || *d == 0.0 { *d } else { d.signum() }))
        }
        ("ceil", [Val::Double(d)]) => Ok(Val::Double(d.ceil())),
        ("floor", [Val::Double(d)]) => Ok(Val::Double(d.floor())),
        ("round", [Val::Double(d)]) => Ok(Val::Double(d.round())),
        ("trunc", [Val::Double(d)]) => Ok(Val::Double(d.trunc())),
        ("isNaN", [Val::Double(d)]) => Ok(Val::Bool(d.is_nan())),
        ("isInf", [Val::Double(d)]) => Ok(Val::Bool(d.is_infinite())),
        ("isFinite", [Val::Double(d)]) => Ok(Val::Bool(d.is_finite())),
        _ => return None,
    })
}

fn extreme(name: &str, items: &[Val]) -> Result<Val> {
    let want =
        if name == "math.least" { std::cmp::Ordering::Less } else { std::cmp::Ordering::Greater };
    let mut best: Option<&Val> = None;
    for x in items {
        match (best, compare(x, x)) {
            (_, None) => return err(format!("{name}: `{}` is not a number", x.type_name())),
            (None, _) => best = Some(x),
            (Some(b), _) => {
                if compare(x, b) == Some(want) {
                    best = Some(x);
                }
            }
        }
    }
    best.cloned().ok_or_else(|| EvalError::Failed(format!("{name}() of nothing")))
}

/// The lists library (Kubernetes' `lists`, cel-go's `ext.Lists`).
fn lists(r: Option<&Val>, name: &str, args: &[Val], env: &Env<'_>) -> Option<Result<Val>> {
    if let (None, "lists.range", [Val::Int(n)]) = (r, name, args) {
        let len = usize::try_from(*n).unwrap_or(0);
        return Some(fits(len, env).map(|()| Val::list((0..*n).map(Val::Int).collect())));
    }
    let Some(Val::List(items)) = r else { return None };
    Some(match (name, args) {
        ("join", []) => join(items, "", env),
        ("join", [Val::String(sep)]) => join(items, sep, env),
        ("indexOf" | "lastIndexOf", [x]) => {
            let mut found = items.iter().enumerate().filter(|(_, y)| equal(x, y));
            let i = if name == "indexOf" { found.next() } else { found.next_back() };
            Ok(Val::Int(i.map_or(-1, |(i, _)| i64::try_from(i).unwrap_or(-1))))
        }
        ("isSorted", []) => {
            let mut sorted = true;
            for w in items.windows(2) {
                match compare(&w[0], &w[1]) {
                    Some(std::cmp::Ordering::Greater) => sorted = false,
                    Some(_) => {}
                    None => return Some(err("isSorted: elements are not comparable")),
                }
            }
            Ok(Val::Bool(sorted))
        }
        ("sum", []) => items
            .iter()
            .try_fold(None::<Val>, |acc, x| match acc {
                None => Ok(Some(x.clone())),
                Some(a) => super::eval::add(&a, x).map(Some),
            })
            .map(|v| v.unwrap_or(Val::Int(0))),
        ("min" | "max", []) => {
            let want =
                if name == "min" { std::cmp::Ordering::Less } else { std::cmp::Ordering::Greater };
            let mut best: Option<&Val> = None;
            for x in items.iter() {
                match best {
                    None => best = Some(x),
                    Some(b) => match compare(x, b) {
                        Some(o) if o == want => best = Some(x),
                        Some(_) => {}
                        None => return Some(err(format!("{name}: elements are not comparable"))),
                    },
                }
            }
            best.cloned().ok_or_else(|| EvalError::Failed(format!("{name}() of an empty list")))
        }
        ("slice", [Val::Int(a), Val::Int(b)]) => {
            match (usize::try_from(*a).ok(), usize::try_from(*b).ok()) {
                (Some(a), Some(b)) if a <= b && b <= items.len() => {
                    Ok(Val::list(items[a..b].to_vec()))
                }
                _ => err("slice: indexes out of range"),
            }
        }
        ("flatten", []) => Ok(Val::list(
            items
                .iter()
                .flat_map(|x| match x {
                    Val::List(inner) => inner.to_vec(),
                    other => vec![other.clone()],
                })
                .collect(),
        )),
        ("distinct", []) => {
            // Pairwise comparison (CEL equality crosses numeric types, so no hashing).
            if let Err(e) = fits(items.len().saturating_mul(items.len()), env) {
                return Some(Err(e));
            }
            let mut out: Vec<Val> = Vec::new();
            for x in items.iter() {
                if !out.iter().any(|y| equal(x, y)) {
                    out.push(x.clone());
                }
            }
            Ok(Val::list(out))
        }
        ("reverse", []) => Ok(Val::list(items.iter().rev().cloned().collect())),
        ("sort", []) => {
            let mut out = items.to_vec();
            let mut comparable = true;
            out.sort_by(|a, b| {
                compare(a, b).unwrap_or_else(|| {
                    comparable = false;
                    std::cmp::Ordering::Equal
                })
            });
            if comparable {
                Ok(Val::list(out))
            } else {
                err("sort: elements are not comparable")
            }
        }
        ("first", []) => Ok(Val::Optional(items.first().cloned().map(Rc::new))),
        ("last", []) => Ok(Val::Optional(items.last().cloned().map(Rc::new))),
        _ => return None,
    })
}

fn join(items: &[Val], sep: &str, env: &Env<'_>) -> Result<Val> {
    let parts: Vec<&str> = items
        .iter()
        .map(|v| match v {
            Val::String(s) => Ok(&**s),
            other => err(format!("join() on a list holding `{}`", other.type_name())),
        })
        .collect::<Result<_>>()?;
    let len = parts.iter().map(|p| p.len()).sum::<usize>()
        + sep.len().saturating_mul(parts.len().saturating_sub(1));
    fits(len, env)?;
    Ok(Val::string(&parts.join(sep)))
}

/// `string(x)`.
pub(super) fn to_string(v: &Val) -> Result<Val> {
    Ok(Val::string(&match v {
        Val::String(s) => return Ok(Val::String(s.clone())),
        Val::Bool(b) => b.to_string(),
        Val::Int(i) => i.to_string(),
        Val::Uint(u) => u.to_string(),
        Val::Double(d) => format_double(*d),
        Val::Bytes(b) => String::from_utf8(b.to_vec())
            .map_err(|_| EvalError::Failed("string(): invalid UTF-8".into()))?,
        Val::Duration(d) => time::duration_string(*d),
        Val::Timestamp(t) => time::timestamp_string(*t),
        Val::Ext(e) => match e.to_string_value() {
            Some(s) => s,
            None => return err(format!("no such overload: string({})", v.type_name())),
        },
        other => return err(format!("no such overload: string({})", other.type_name())),
    }))
}

/// Doubles as cel-go prints them: integral values without a fraction (`1`, not `1.0`).
fn format_double(d: f64) -> String {
    if d.is_infinite() {
        return if d > 0.0 { "+Inf".into() } else { "-Inf".into() };
    }
    if d.is_nan() {
        return "NaN".into();
    }
    let s = d.to_string();
    s.strip_suffix(".0").map_or(s.clone(), str::to_string)
}

fn to_int(v: &Val) -> Result<Val> {
    match v {
        Val::Int(i) => Ok(Val::Int(*i)),
        Val::Uint(u) => i64::try_from(*u)
            .map(Val::Int)
            .map_err(|_| EvalError::Failed("int(): out of range".into())),
        #[allow(clippy::cast_possible_truncation, reason = "range checked before the cast")]
        Val::Double(d)
            if d.is_finite() && *d > -9.223_372_036_854_776e18 && *d < 9.223_372_036_854_776e18 =>
        {
            Ok(Val::Int(d.trunc() as i64))
        }
        Val::String(s) => s
            .parse()
            .map(Val::Int)
            .map_err(|_| EvalError::Failed(format!("int(): `{s}` is not an integer"))),
        Val::Timestamp(t) => Ok(Val::Int(t.as_second())),
        Val::Duration(d) => i64::try_from(d.as_nanos())
            .map(Val::Int)
            .map_err(|_| EvalError::Failed("int(): out of range".into())),
        other => err(format!("no such overload: int({})", other.type_name())),
    }
}

fn to_uint(v: &Val) -> Result<Val> {
    let out_of_range = || EvalError::Failed("uint(): out of range".into());
    match v {
        Val::Uint(u) => Ok(Val::Uint(*u)),
        Val::Int(i) => u64::try_from(*i).map(Val::Uint).map_err(|_| out_of_range()),
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "range checked before the cast"
        )]
        Val::Double(d) if d.is_finite() && *d >= 0.0 && *d < 1.844_674_407_370_955_2e19 => {
            Ok(Val::Uint(d.trunc() as u64))
        }
        Val::String(s) => s
            .parse()
            .map(Val::Uint)
            .map_err(|_| EvalError::Failed(format!("uint(): `{s}` is not an unsigned integer"))),
        Val::Double(_) => Err(out_of_range()),
        other => err(format!("no such overload: uint({})", other.type_name())),
    }
}

#[allow(clippy::cast_precision_loss, reason = "double() converts with rounding, as in CEL")]
fn to_double(v: &Val) -> Result<Val> {
    match v {
        Val::Double(d) => Ok(Val::Double(*d)),
        Val::Int(i) => Ok(Val::Double(*i as f64)),
        Val::Uint(u) => Ok(Val::Double(*u as f64)),
        Val::String(s) => s
            .parse()
            .map(Val::Double)
            .map_err(|_| EvalError::Failed(format!("double(): `{s}` is not a number"))),
        other => err(format!("no such overload: double({})", other.type_name())),
    }
}

fn to_bool(v: &Val) -> Result<Val> {
    match v {
        Val::Bool(b) => Ok(Val::Bool(*b)),
        Val::String(s) => match &**s {
            "true" | "True" | "TRUE" | "t" | "1" => Ok(Val::Bool(true)),
            "false" | "False" | "FALSE" | "f" | "0" => Ok(Val::Bool(false)),
            _ => err(format!("bool(): `{s}` is not a boolean")),
        },
        other => err(format!("no such overload: bool({})", other.type_name())),
    }
}

fn size(v: &Val) -> Result<Val> {
    let n = match v {
        Val::String(s) => s.chars().count(),
        Val::Bytes(b) => b.len(),
        Val::List(l) => l.len(),
        Val::Map(m) => m.len(),
        other => return err(format!("no such overload: size({})", other.type_name())),
    };
    Ok(Val::Int(i64::try_from(n).unwrap_or(i64::MAX)))
}
