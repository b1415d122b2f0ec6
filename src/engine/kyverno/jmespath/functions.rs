//! JMESPath functions: the standard library and the Kyverno additions the policy library uses
//! (kyverno-compat.md, section 10). A function that is not implemented is an error naming it.

use serde_json::{Map, Number, Value};

use super::{eval, lenient, Ast, EvalError, EvalResult};
use crate::engine::kyverno::wildcard;

fn err<T>(msg: impl Into<String>) -> Result<T, EvalError> {
    Err(EvalError::Other(msg.into()))
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn num(f: f64) -> Value {
    if f.fract() == 0.0 && f.abs() < 9.0e15 {
        Value::from(f as i64)
    } else {
        Number::from_f64(f).map_or(Value::Null, Value::Number)
    }
}

fn as_str<'a>(name: &str, v: &'a Value) -> Result<&'a str, EvalError> {
    v.as_str()
        .ok_or_else(|| EvalError::Other(format!("{name}: expected a string, got {}", type_name(v))))
}

fn as_num(name: &str, v: &Value) -> Result<f64, EvalError> {
    v.as_f64()
        .ok_or_else(|| EvalError::Other(format!("{name}: expected a number, got {}", type_name(v))))
}

fn as_array<'a>(name: &str, v: &'a Value) -> Result<&'a Vec<Value>, EvalError> {
    v.as_array()
        .ok_or_else(|| EvalError::Other(format!("{name}: expected an array, got {}", type_name(v))))
}

/// Text form of a scalar, as Go formats it for Kyverno's string functions.
fn stringify(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn arity(name: &str, args: &[Ast], min: usize, max: usize) -> Result<(), EvalError> {
    if args.len() < min || args.len() > max {
        return err(format!("{name}: expected {min}..{max} arguments, got {}", args.len()));
    }
    Ok(())
}

fn expref<'a>(name: &str, a: &'a Ast) -> Result<&'a Ast, EvalError> {
    match a {
        Ast::ExpRef(inner) => Ok(inner),
        _ => err(format!("{name}: expected an expression reference (&expr)")),
    }
}

#[allow(clippy::too_many_lines, reason = "one match arm per function reads best as a table")]
pub(super) fn call(name: &str, args: &[Ast], data: &Value, steps: &mut super::Steps) -> EvalResult {
    // Functions taking expression references evaluate them per element.
    match name {
        "map" => {
            arity(name, args, 2, 2)?;
            let f = expref(name, &args[0])?;
            let list = lenient(&args[1], data, steps)?;
            let items = as_array(name, &list)?;
            return items
                .iter()
                .map(|i| lenient(f, i, steps))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array);
        }
        "sort_by" | "max_by" | "min_by" => {
            arity(name, args, 2, 2)?;
            let list = lenient(&args[0], data, steps)?;
            let f = expref(name, &args[1])?;
            let items = as_array(name, &list)?;
            let mut keyed = Vec::with_capacity(items.len());
            for i in items {
                keyed.push((eval(f, i, steps)?, i.clone()));
            }
            let cmp = |a: &Value, b: &Value| match (a, b) {
                (Value::Number(x), Value::Number(y)) => {
                    x.as_f64().partial_cmp(&y.as_f64()).unwrap_or(std::cmp::Ordering::Equal)
                }
                (Value::String(x), Value::String(y)) => x.cmp(y),
                _ => std::cmp::Ordering::Equal,
            };
            return Ok(match name {
                "sort_by" => {
                    keyed.sort_by(|a, b| cmp(&a.0, &b.0));
                    Value::Array(keyed.into_iter().map(|(_, v)| v).collect())
                }
                "max_by" => {
                    keyed.into_iter().max_by(|a, b| cmp(&a.0, &b.0)).map_or(Value::Null, |(_, v)| v)
                }
                _ => {
                    keyed.into_iter().min_by(|a, b| cmp(&a.0, &b.0)).map_or(Value::Null, |(_, v)| v)
                }
            });
        }
        _ => {}
    }
    let values: Vec<Value> =
        args.iter().map(|a| lenient(a, data, steps)).collect::<Result<_, _>>()?;
    let v = &values;
    let want = |min: usize, max: usize| arity(name, args, min, max);
    match name {
        "abs" => {
            want(1, 1)?;
            Ok(num(as_num(name, &v[0])?.abs()))
        }
        "ceil" => {
            want(1, 1)?;
            Ok(num(as_num(name, &v[0])?.ceil()))
        }
        "floor" => {
            want(1, 1)?;
            Ok(num(as_num(name, &v[0])?.floor()))
        }
        "round" => {
            want(2, 2)?;
            let digits = as_num(name, &v[1])?;
            let factor = 10f64.powi(digits as i32);
            Ok(num((as_num(name, &v[0])? * factor).round() / factor))
        }
        "avg" => {
            want(1, 1)?;
            let items = as_array(name, &v[0])?;
            if items.is_empty() {
                return Ok(Value::Null);
            }
            let total: f64 = items.iter().map(|i| as_num(name, i)).sum::<Result<f64, _>>()?;
            Ok(num(total / items.len() as f64))
        }
        "sum" => {
            want(1, 1)?;
            super::arithmetic::sum(as_array(name, &v[0])?)
        }
        "contains" => {
            want(2, 2)?;
            match &v[0] {
                Value::String(s) => Ok(Value::Bool(v[1].as_str().is_some_and(|n| s.contains(n)))),
                Value::Array(items) => {
                    Ok(Value::Bool(items.iter().any(|i| super::json_equal(i, &v[1]))))
                }
                other => {
                    err(format!("contains: expected a string or array, got {}", type_name(other)))
                }
            }
        }
        "starts_with" => {
            want(2, 2)?;
            Ok(Value::Bool(as_str(name, &v[0])?.starts_with(as_str(name, &v[1])?)))
        }
        "ends_with" => {
            want(2, 2)?;
            Ok(Value::Bool(as_str(name, &v[0])?.ends_with(as_str(name, &v[1])?)))
        }
        "join" => {
            want(2, 2)?;
            let sep = as_str(name, &v[0])?;
            let parts: Vec<&str> =
                as_array(name, &v[1])?.iter().map(|i| as_str(name, i)).collect::<Result<_, _>>()?;
            Ok(Value::String(parts.join(sep)))
        }
        "keys" => {
            want(1, 1)?;
            let m = v[0]
                .as_object()
                .ok_or_else(|| EvalError::Other("keys: expected an object".into()))?;
            Ok(Value::Array(m.keys().cloned().map(Value::String).collect()))
        }
        "values" => {
            want(1, 1)?;
            let m = v[0]
                .as_object()
                .ok_or_else(|| EvalError::Other("values: expected an object".into()))?;
            Ok(Value::Array(m.values().cloned().collect()))
        }
        "length" => {
            want(1, 1)?;
            match &v[0] {
                Value::String(s) => Ok(Value::from(s.chars().count())),
                Value::Array(a) => Ok(Value::from(a.len())),
                Value::Object(o) => Ok(Value::from(o.len())),
                other => err(format!(
                    "length: expected a string, array or object, got {}",
                    type_name(other)
                )),
            }
        }
        "max" | "min" => {
            want(1, 1)?;
            let items = as_array(name, &v[0])?;
            if items.is_empty() {
                return Ok(Value::Null);
            }
            if items.iter().all(Value::is_number) {
                let it = items.iter().filter_map(Value::as_f64);
                let r = if name == "max" {
                    it.fold(f64::MIN, f64::max)
                } else {
                    it.fold(f64::MAX, f64::min)
                };
                return Ok(num(r));
            }
            let strs: Vec<&str> =
                items.iter().map(|i| as_str(name, i)).collect::<Result<_, _>>()?;
            let r = if name == "max" { strs.iter().max() } else { strs.iter().min() };
            Ok(r.map_or(Value::Null, |s| Value::String((*s).to_string())))
        }
        "merge" => {
            let mut out = Map::new();
            for o in v {
                let m = o
                    .as_object()
                    .ok_or_else(|| EvalError::Other("merge: expected objects".into()))?;
                out.extend(m.clone());
            }
            Ok(Value::Object(out))
        }
        "not_null" => Ok(v.iter().find(|x| !x.is_null()).cloned().unwrap_or(Value::Null)),
        "reverse" => {
            want(1, 1)?;
            match &v[0] {
                Value::String(s) => Ok(Value::String(s.chars().rev().collect())),
                Value::Array(a) => Ok(Value::Array(a.iter().rev().cloned().collect())),
                other => {
                    err(format!("reverse: expected a string or array, got {}", type_name(other)))
                }
            }
        }
        "sort" => {
            want(1, 1)?;
            let mut items = as_array(name, &v[0])?.clone();
            if items.iter().all(Value::is_number) {
                items.sort_by(|a, b| {
                    a.as_f64().partial_cmp(&b.as_f64()).unwrap_or(std::cmp::Ordering::Equal)
                });
            } else if items.iter().all(Value::is_string) {
                items.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
            } else {
                return err("sort: expected an array of numbers or of strings");
            }
            Ok(Value::Array(items))
        }
        "to_array" => {
            want(1, 1)?;
            Ok(match &v[0] {
                Value::Array(_) => v[0].clone(),
                other => Value::Array(vec![other.clone()]),
            })
        }
        "to_string" => {
            want(1, 1)?;
            Ok(Value::String(stringify(&v[0])))
        }
        "to_number" => {
            want(1, 1)?;
            Ok(match &v[0] {
                Value::Number(_) => v[0].clone(),
                Value::String(s) => s.trim().parse::<f64>().map_or(Value::Null, num),
                _ => Value::Null,
            })
        }
        "to_boolean" => {
            want(1, 1)?;
            match as_str(name, &v[0])?.to_ascii_lowercase().as_str() {
                "true" => Ok(Value::Bool(true)),
                "false" => Ok(Value::Bool(false)),
                other => err(format!("to_boolean: `{other}` is not a boolean")),
            }
        }
        "type" => {
            want(1, 1)?;
            Ok(Value::String(type_name(&v[0]).into()))
        }
        // Kyverno string functions.
        "to_upper" => {
            want(1, 1)?;
            Ok(Value::String(as_str(name, &v[0])?.to_uppercase()))
        }
        "to_lower" => {
            want(1, 1)?;
            Ok(Value::String(as_str(name, &v[0])?.to_lowercase()))
        }
        "trim" => {
            want(2, 2)?;
            let cut = as_str(name, &v[1])?;
            Ok(Value::String(as_str(name, &v[0])?.trim_matches(|c| cut.contains(c)).to_string()))
        }
        "trim_prefix" => {
            want(2, 2)?;
            let s = as_str(name, &v[0])?;
            Ok(Value::String(s.strip_prefix(as_str(name, &v[1])?).unwrap_or(s).to_string()))
        }
        "split" => {
            want(2, 2)?;
            let s = as_str(name, &v[0])?;
            let sep = as_str(name, &v[1])?;
            let parts: Vec<Value> = if sep.is_empty() {
                s.chars().map(|c| Value::String(c.to_string())).collect()
            } else {
                s.split(sep).map(|p| Value::String(p.to_string())).collect()
            };
            Ok(Value::Array(parts))
        }
        "equal_fold" => {
            want(2, 2)?;
            Ok(Value::Bool(
                as_str(name, &v[0])?.to_lowercase() == as_str(name, &v[1])?.to_lowercase(),
            ))
        }
        "compare" => {
            want(2, 2)?;
            Ok(Value::from(match as_str(name, &v[0])?.cmp(as_str(name, &v[1])?) {
                std::cmp::Ordering::Less => -1,
                std::cmp::Ordering::Equal => 0,
                std::cmp::Ordering::Greater => 1,
            }))
        }
        "replace" => {
            want(4, 4)?;
            let s = as_str(name, &v[0])?;
            let (old, new) = (as_str(name, &v[1])?, as_str(name, &v[2])?);
            let n = as_num(name, &v[3])?;
            Ok(Value::String(if n < 0.0 {
                s.replace(old, new)
            } else {
                s.replacen(old, new, n as usize)
            }))
        }
        "replace_all" => {
            want(3, 3)?;
            Ok(Value::String(
                as_str(name, &v[0])?.replace(as_str(name, &v[1])?, as_str(name, &v[2])?),
            ))
        }
        "truncate" => {
            want(2, 2)?;
            let n = as_num(name, &v[1])?.max(0.0) as usize;
            Ok(Value::String(as_str(name, &v[0])?.chars().take(n).collect()))
        }
        "regex_match" => {
            want(2, 2)?;
            let re = regex(as_str(name, &v[0])?, steps.regex_size)?;
            Ok(Value::Bool(re.is_match(&stringify(&v[1]))))
        }
        "regex_replace_all" | "regex_replace_all_literal" => {
            want(3, 3)?;
            let re = regex(as_str(name, &v[0])?, steps.regex_size)?;
            let src = stringify(&v[1]);
            let rep = as_str(name, &v[2])?;
            Ok(Value::String(if name == "regex_replace_all" {
                re.replace_all(&src, rep).into_owned()
            } else {
                re.replace_all(&src, regex::NoExpand(rep)).into_owned()
            }))
        }
        "pattern_match" => {
            want(2, 2)?;
            Ok(Value::Bool(wildcard::matches(as_str(name, &v[0])?, &stringify(&v[1]))))
        }
        "label_match" => {
            want(2, 2)?;
            let (Some(sel), Some(labels)) = (v[0].as_object(), v[1].as_object()) else {
                return err("label_match: expected two objects");
            };
            Ok(Value::Bool(sel.iter().all(|(k, val)| labels.get(k) == Some(val))))
        }
        "base64_decode" => {
            want(1, 1)?;
            let bytes = crate::base64::decode(as_str(name, &v[0])?)
                .ok_or_else(|| EvalError::Other("base64_decode: invalid base64".into()))?;
            Ok(Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        }
        "base64_encode" => {
            want(1, 1)?;
            Ok(Value::String(crate::base64::encode(as_str(name, &v[0])?.as_bytes())))
        }
        "parse_json" => {
            want(1, 1)?;
            serde_json::from_str(as_str(name, &v[0])?)
                .map_err(|e| EvalError::Other(format!("parse_json: {e}")))
        }
        "parse_yaml" => {
            want(1, 1)?;
            let parsed = crate::load::yaml::parse_stream(
                as_str(name, &v[0])?,
                &crate::load::Limits::default(),
            );
            if let Some(p) = parsed.problems.first() {
                return err(format!("parse_yaml: {}", p.message));
            }
            Ok(parsed.documents.first().map_or(Value::Null, |d| d.root.to_json()))
        }
        "items" => {
            want(3, 3)?;
            let (kn, vn) = (as_str(name, &v[1])?, as_str(name, &v[2])?);
            let pair = |k: Value, val: Value| {
                let mut m = Map::new();
                m.insert(kn.to_string(), k);
                m.insert(vn.to_string(), val);
                Value::Object(m)
            };
            Ok(Value::Array(match &v[0] {
                Value::Object(o) => {
                    o.iter().map(|(k, val)| pair(Value::String(k.clone()), val.clone())).collect()
                }
                Value::Array(a) => {
                    a.iter().enumerate().map(|(i, val)| pair(Value::from(i), val.clone())).collect()
                }
                other => {
                    return err(format!(
                        "items: expected an object or array, got {}",
                        type_name(other)
                    ))
                }
            }))
        }
        "object_from_lists" => {
            want(2, 2)?;
            let keys = as_array(name, &v[0])?;
            let vals = as_array(name, &v[1])?;
            let mut m = Map::new();
            for (i, k) in keys.iter().enumerate() {
                m.insert(stringify(k), vals.get(i).cloned().unwrap_or(Value::Null));
            }
            Ok(Value::Object(m))
        }
        "lookup" => {
            want(2, 2)?;
            match (&v[0], &v[1]) {
                (Value::Object(o), Value::String(k)) => {
                    Ok(o.get(k).cloned().unwrap_or(Value::Null))
                }
                (Value::Array(a), Value::Number(n)) => Ok(n
                    .as_u64()
                    .and_then(|i| a.get(usize::try_from(i).ok()?))
                    .cloned()
                    .unwrap_or(Value::Null)),
                _ => err("lookup: expected (object, string) or (array, number)"),
            }
        }
        "is_external_url" => {
            want(1, 1)?;
            let s = as_str(name, &v[0])?;
            let host = s.split("://").nth(1).unwrap_or("").split(['/', ':']).next().unwrap_or("");
            let internal = host.is_empty()
                || host == "localhost"
                || host.starts_with("127.")
                || host.starts_with("10.")
                || host.starts_with("192.168.")
                || host.rsplit('.').next() == Some("svc")
                || host.strip_suffix("cluster.local").is_some_and(|h| h.ends_with('.'));
            Ok(Value::Bool(!internal))
        }
        "add" | "subtract" | "multiply" | "divide" | "modulo" => {
            want(2, 2)?;
            super::arithmetic::apply(name, &v[0], &v[1])
        }
        other => super::extra::call(other, v)
            .unwrap_or_else(|| err(format!("unknown JMESPath function `{other}`"))),
    }
}

/// A compiled regular expression, from a per-thread cache (a policy evaluates the same patterns
/// on every object; compiling them per call was most of `regex_match`'s cost). The cache is
/// keyed by pattern and size limit and holds at most 256 patterns.
fn regex(pattern: &str, size: usize) -> Result<regex::Regex, EvalError> {
    use std::cell::RefCell;
    use std::collections::HashMap;
    thread_local! {
        // By size limit, then pattern (looked up without allocating).
        static CACHE: RefCell<HashMap<usize, HashMap<String, regex::Regex>>> =
            RefCell::new(HashMap::new());
    }
    if let Some(re) = CACHE.with(|c| c.borrow().get(&size).and_then(|m| m.get(pattern)).cloned()) {
        return Ok(re);
    }
    let re = compile_regex(pattern, size)?;
    CACHE.with(|c| {
        let mut cache = c.borrow_mut();
        let patterns = cache.entry(size).or_default();
        if patterns.len() < 256 {
            patterns.insert(pattern.to_string(), re.clone());
        }
    });
    Ok(re)
}

fn compile_regex(pattern: &str, size: usize) -> Result<regex::Regex, EvalError> {
    regex::RegexBuilder::new(pattern).size_limit(size).build().map_err(|e| match e {
        regex::Error::CompiledTooBig(_) => EvalError::Limit(format!(
            "regular expression `{pattern}` is larger than the limit of {size} bytes once compiled ({})",
            crate::limits::hint("regex-size")
        )),
        e => EvalError::Other(format!("invalid regular expression `{pattern}`: {e}")),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    /// Evaluates with the default limits.
    fn search(expression: &str, data: &Value) -> super::super::EvalResult {
        super::super::search(expression, data, &crate::limits::Limits::default())
    }
    use serde_json::json;

    #[test]
    fn kyverno_functions() {
        let d = json!({"s": "Hello-World", "l": {"a": "1"}, "img": "docker.io/nginx:latest", "n": [3, 1, 2]});
        assert_eq!(search("to_upper(s)", &d), Ok(json!("HELLO-WORLD")));
        assert_eq!(search("split(s, '-')", &d), Ok(json!(["Hello", "World"])));
        assert_eq!(search("regex_match('^docker\\.io/', img)", &d), Ok(json!(true)));
        assert_eq!(
            search("regex_replace_all('(\\w+)-(\\w+)', s, '$2-$1')", &d),
            Ok(json!("World-Hello"))
        );
        assert_eq!(search("label_match(l, `{\"a\": \"1\", \"b\": \"2\"}`)", &d), Ok(json!(true)));
        assert_eq!(search("divide(`10`, `4`)", &d), Ok(json!(2.5)));
        assert_eq!(search("divide('1Gi', '512Mi')", &d), Ok(json!(2)));
        assert_eq!(search("sort(n)", &d), Ok(json!([1, 2, 3])));
        assert_eq!(search("max(n)", &d), Ok(json!(3)));
        assert_eq!(search("base64_decode(base64_encode(s))", &d), Ok(json!("Hello-World")));
        assert_eq!(search("parse_yaml('a: [1, 2]')", &d), Ok(json!({"a": [1, 2]})));
        assert_eq!(search("sort_by(`[{\"k\": 2}, {\"k\": 1}]`, &k)[0].k", &d), Ok(json!(1)));
        assert_eq!(search("map(&length(@), `[\"ab\", \"c\"]`)", &d), Ok(json!([2, 1])));
        assert!(search("regex_match('(', s)", &d).is_err());
        assert!(search("no_such_fn(s)", &d)
            .unwrap_err()
            .to_string()
            .contains("unknown JMESPath function"));
    }

    /// One case per function: every function the engine offers is exercised.
    #[test]
    fn every_function() {
        let d = json!({"n": [3, 1, 2], "s": ["b", "a"], "o": {"a": 1, "b": null}, "x": " hi "});
        let cases: &[(&str, serde_json::Value)] = &[
            ("abs(`-2`)", json!(2)),
            ("ceil(`1.2`)", json!(2)),
            ("floor(`1.8`)", json!(1)),
            ("round(`1.256`, `2`)", json!(1.26)),
            ("avg(n)", json!(2)),
            ("sum(n)", json!(6)),
            ("contains(s, 'a')", json!(true)),
            ("contains('abc', 'bc')", json!(true)),
            ("starts_with('abc', 'ab')", json!(true)),
            ("ends_with('abc', 'bc')", json!(true)),
            ("join('-', s)", json!("b-a")),
            ("keys(o)", json!(["a", "b"])),
            ("values(o)", json!([1, null])),
            ("length(o)", json!(2)),
            ("max(s)", json!("b")),
            ("min(n)", json!(1)),
            ("max_by(`[{\"k\": 2}, {\"k\": 5}]`, &k).k", json!(5)),
            ("min_by(`[{\"k\": 2}, {\"k\": 5}]`, &k).k", json!(2)),
            ("merge(o, `{\"c\": 3}`).c", json!(3)),
            ("not_null(o.b, `4`)", json!(4)),
            ("reverse(n)", json!([2, 1, 3])),
            ("reverse('ab')", json!("ba")),
            ("to_array('x')", json!(["x"])),
            ("to_string(`1`)", json!("1")),
            ("to_number('1.5')", json!(1.5)),
            ("to_boolean('True')", json!(true)),
            ("type(o)", json!("object")),
            ("to_lower('AB')", json!("ab")),
            ("trim(x, ' ')", json!("hi")),
            ("trim_prefix('v1.2', 'v')", json!("1.2")),
            ("equal_fold('Ab', 'aB')", json!(true)),
            ("compare('a', 'b')", json!(-1)),
            ("replace('aaa', 'a', 'b', `2`)", json!("bba")),
            ("replace_all('aaa', 'a', 'b')", json!("bbb")),
            ("truncate('abcdef', `3`)", json!("abc")),
            ("regex_replace_all_literal('a+', 'caat', '$1')", json!("c$1t")),
            ("pattern_match('img-*', 'img-1')", json!(true)),
            ("items(o, 'k', 'v')[0]", json!({"k": "a", "v": 1})),
            ("object_from_lists(s, n)", json!({"b": 3, "a": 1})),
            ("lookup(o, 'a')", json!(1)),
            ("lookup(n, `1`)", json!(1)),
            ("is_external_url('https://example.com/x')", json!(true)),
            ("is_external_url('http://svc.ns.svc:8080')", json!(false)),
            ("add(`1`, `2`)", json!(3)),
            ("subtract(`5`, `2`)", json!(3)),
            ("multiply(`2`, `3`)", json!(6)),
            ("modulo(`7`, `4`)", json!(3)),
            ("parse_json('{\"a\": [1]}').a[0]", json!(1)),
        ];
        for (expr, want) in cases {
            assert_eq!(search(expr, &d).as_ref(), Ok(want), "{expr}");
        }
        assert!(search("divide(`1`, `0`)", &d).is_err());
        assert!(search("to_boolean('maybe')", &d).is_err());
        assert!(search("length(`1`)", &d).is_err());
    }
}
