//! `{{ }}` variable substitution (kyverno-compat.md, 7.1–7.2).

use serde_json::Value;

use super::jmespath::{self, EvalError};
use crate::limits::Limits;

/// Most rounds of re-expansion (a value that expands to another variable).
const MAX_ROUNDS: usize = 16;

/// Whether a string holds a variable.
#[must_use]
pub fn has_variable(s: &str) -> bool {
    // Most texts hold no `{` at all (pattern operands, names): one search rules them out.
    memchr::memchr(b'{', s.as_bytes()).is_some_and(|at| find_variable(s, at).is_some())
}

/// Whether any string or key of a value holds a variable.
#[must_use]
pub fn contains_variable(v: &Value) -> bool {
    match v {
        Value::String(s) => has_variable(s) || has_reference(s),
        Value::Array(items) => items.iter().any(contains_variable),
        Value::Object(m) => m.iter().any(|(k, v)| has_variable(k) || contains_variable(v)),
        _ => false,
    }
}

/// Whether a string holds a `$(…)` reference (each `$` found, then the byte after it).
fn has_reference(s: &str) -> bool {
    let bytes = s.as_bytes();
    memchr::memchr_iter(b'$', bytes).any(|i| bytes.get(i + 1) == Some(&b'('))
}

/// The next unescaped variable from `from`: (start, end, expression). As in Kyverno's
/// pattern `{{(\{[^{}]*\}|[^{}])*}}`, a variable holds no braces but single-level `{…}` groups,
/// so nested variables are found innermost first.
fn find_variable(s: &str, from: usize) -> Option<(usize, usize, &str)> {
    let bytes = s.as_bytes();
    let mut i = from;
    'start: while i + 1 < bytes.len() {
        if !(bytes[i] == b'{' && bytes[i + 1] == b'{' && (i == 0 || bytes[i - 1] != b'\\')) {
            i += 1;
            continue;
        }
        let mut j = i + 2;
        while j < bytes.len() {
            match bytes[j] {
                b'}' if bytes.get(j + 1) == Some(&b'}') => return Some((i, j + 2, &s[i + 2..j])),
                b'}' => break,
                b'{' => {
                    // A single-level group: `{` … `}` with no brace between.
                    let Some(close) = bytes[j + 1..].iter().position(|&b| b == b'{' || b == b'}')
                    else {
                        break;
                    };
                    if bytes[j + 1 + close] != b'}' {
                        i += 1;
                        continue 'start;
                    }
                    j += close + 2;
                }
                _ => j += 1,
            }
        }
        i += 1;
    }
    None
}

/// The expressions of the variables in a string that hold no nested variable (those are only
/// known after substitution).
#[must_use]
pub fn plain_expressions(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some((_, end, expr)) = find_variable(s, from) {
        let e = expression(expr);
        if !e.contains("{{") && e != "@" {
            out.push(e);
        }
        from = end;
    }
    out
}

/// Adds to `out` the expression of every variable in the strings and keys of `v`; `false`
/// when one cannot be known before it is evaluated (a variable inside a variable, or `{{@}}`).
pub fn all_expressions<'v>(v: &'v Value, out: &mut Vec<&'v str>) -> bool {
    let of_text = |s: &'v str, out: &mut Vec<&'v str>| {
        // What is left between the variables: braces there may make a variable once the
        // ones inside are substituted (variables are found innermost first).
        let mut rest = String::new();
        let mut from = 0;
        while let Some((start, end, expr)) = find_variable(s, from) {
            let e = expression(expr);
            if e == "@" {
                return false;
            }
            out.push(e);
            rest.push_str(&s[from..start]);
            rest.push(' ');
            from = end;
        }
        rest.push_str(&s[from..]);
        !rest.contains("{{") && !rest.contains("}}")
    };
    match v {
        Value::String(s) => of_text(s, out),
        Value::Array(items) => items.iter().all(|i| all_expressions(i, out)),
        Value::Object(m) => m.iter().all(|(k, v)| of_text(k, out) && all_expressions(v, out)),
        _ => true,
    }
}

/// The expression of a variable as written between its braces (`- ` prefix for shallow
/// substitution is accepted).
fn expression(written: &str) -> &str {
    let e = written.trim();
    e.strip_prefix('-').map_or(e, str::trim)
}

/// Evaluates one variable's expression.
fn evaluate(expr: &str, ctx: &Value, limits: &Limits) -> Result<Value, EvalError> {
    jmespath::search(expression(expr), ctx, limits)
}

fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Substitutes the variables of one string. A string that is exactly one variable takes the
/// variable's value with its type; otherwise values are written into the text.
pub fn substitute_str(s: &str, ctx: &Value, limits: &Limits) -> Result<Value, EvalError> {
    let mut current = Value::String(s.to_string());
    for _ in 0..MAX_ROUNDS {
        let Value::String(text) = &current else { return Ok(current) };
        let Some((start, end, expr)) = find_variable(text, 0) else {
            return Ok(Value::String(text.replace("\\{{", "{{")));
        };
        if start == 0 && end == text.len() {
            current = evaluate(expr, ctx, limits)?;
            continue;
        }
        let mut out = String::with_capacity(text.len());
        let mut last = 0;
        let mut from = 0;
        while let Some((start, end, expr)) = find_variable(text, from) {
            out.push_str(&text[last..start]);
            out.push_str(&text_of(&evaluate(expr, ctx, limits)?));
            last = end;
            from = end;
        }
        out.push_str(&text[last..]);
        current = Value::String(out);
    }
    Err(EvalError::Other(format!("variables in `{s}` expand more than {MAX_ROUNDS} times")))
}

/// Substitutes every string and key of a value.
pub fn substitute(v: &Value, ctx: &Value, limits: &Limits) -> Result<Value, EvalError> {
    match v {
        Value::String(s) if has_variable(s) => substitute_str(s, ctx, limits),
        Value::Array(items) => items
            .iter()
            .map(|i| substitute(i, ctx, limits))
            .collect::<Result<_, _>>()
            .map(Value::Array),
        Value::Object(m) => {
            let mut out = serde_json::Map::new();
            for (k, v) in m {
                let key = if has_variable(k) {
                    text_of(&substitute_str(k, ctx, limits)?)
                } else {
                    k.clone()
                };
                out.insert(key, substitute(v, ctx, limits)?);
            }
            Ok(Value::Object(out))
        }
        other => Ok(other.clone()),
    }
}

/// Resolves `$(path)` references in a pattern against the pattern itself (kyverno-compat.md,
/// 7.3): `.` is the referring field, `..` its parent, a leading `/` the pattern root; an
/// operator before the path (`$(<=./../limits/memory)`) is kept. `\$(` is a literal.
pub fn resolve_references(pattern: &Value) -> Result<Value, EvalError> {
    fn lookup<'a>(root: &'a Value, path: &[String]) -> Option<&'a Value> {
        path.iter().try_fold(root, |node, seg| match node {
            Value::Object(m) => m.get(seg).or_else(|| {
                m.iter().find(|(k, _)| super::pattern::strip_anchor(k) == seg).map(|(_, v)| v)
            }),
            Value::Array(a) => seg.parse::<usize>().ok().and_then(|i| a.get(i)),
            _ => None,
        })
    }
    fn resolve(s: &str, here: &[String], root: &Value) -> Result<String, EvalError> {
        let mut out = String::new();
        let mut rest = s;
        while let Some(i) = rest.find("$(") {
            if i > 0 && rest.as_bytes()[i - 1] == b'\\' {
                out.push_str(&rest[..i - 1]);
                out.push_str("$(");
                rest = &rest[i + 2..];
                continue;
            }
            let Some(close) = rest[i..].find(')') else { break };
            out.push_str(&rest[..i]);
            let inner = &rest[i + 2..i + close];
            let op_len = inner.find(['.', '/']).unwrap_or(0);
            let (op, path) = inner.split_at(op_len);
            let mut target: Vec<String> =
                if path.starts_with('/') { Vec::new() } else { here.to_vec() };
            for seg in path.split('/').filter(|s| !s.is_empty()) {
                match seg {
                    "." => {}
                    ".." => {
                        target.pop();
                    }
                    other => target.push(other.to_string()),
                }
            }
            let value = lookup(root, &target).and_then(Value::as_str).ok_or_else(|| {
                EvalError::Other(format!(
                    "reference `$({inner})` does not name a string in the pattern"
                ))
            })?;
            out.push_str(op);
            out.push_str(value);
            rest = &rest[i + close + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }
    fn walk(v: &Value, here: &mut Vec<String>, root: &Value) -> Result<Value, EvalError> {
        Ok(match v {
            Value::String(s) if s.contains("$(") => Value::String(resolve(s, here, root)?),
            Value::Object(m) => {
                let mut out = serde_json::Map::new();
                for (k, v) in m {
                    here.push(super::pattern::strip_anchor(k).to_string());
                    let r = walk(v, here, root);
                    here.pop();
                    out.insert(k.clone(), r?);
                }
                Value::Object(out)
            }
            Value::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    here.push(i.to_string());
                    let r = walk(item, here, root);
                    here.pop();
                    out.push(r?);
                }
                Value::Array(out)
            }
            other => other.clone(),
        })
    }
    walk(pattern, &mut Vec::new(), pattern)
}

/// Replaces `{{@}}` (and `{{ @ }}`) in a pattern with the resource value at the same place.
#[must_use]
pub fn substitute_at(pattern: &Value, resource: &Value) -> Value {
    fn walk(p: &Value, r: Option<&Value>) -> Value {
        match p {
            Value::String(s) if s.contains("{{") && s.replace(' ', "").contains("{{@}}") => {
                let here = r.cloned().unwrap_or(Value::Null);
                if s.replace(' ', "") == "{{@}}" {
                    here
                } else {
                    Value::String(
                        s.replace("{{ @ }}", &text_of(&here)).replace("{{@}}", &text_of(&here)),
                    )
                }
            }
            Value::Object(m) => Value::Object(
                m.iter()
                    .map(|(k, v)| {
                        let name = super::pattern::strip_anchor(k);
                        (k.clone(), walk(v, r.and_then(|r| r.get(name))))
                    })
                    .collect(),
            ),
            Value::Array(items) => Value::Array(
                items.iter().enumerate().map(|(i, v)| walk(v, r.and_then(|r| r.get(i)))).collect(),
            ),
            other => other.clone(),
        }
    }
    walk(pattern, Some(resource))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pointer::Pointer as _;

    fn substitute_str(s: &str, ctx: &Value) -> Result<Value, EvalError> {
        super::substitute_str(s, ctx, &Limits::default())
    }

    use serde_json::json;

    /// Variables are found wherever the first `{` is: after text, escaped, in groups, in keys;
    /// `$(…)` references count as variables of a pattern.
    #[test]
    fn variables_are_found_in_texts_and_keys() {
        for (text, holds) in [
            ("", false),
            ("?*", false),
            ("{{request.object.metadata.name}}", true),
            ("prefix-{{ element.name }}-suffix", true),
            ("a { b } {{x}}", true),
            ("a {b} c", false),
            (r"\{{escaped}}", false),
            (r"\{{escaped}} then {{not}}", true),
            ("{{ items[?name=='{x}'] }}", true),
            ("{{ unclosed", false),
            ("}} {{", false),
        ] {
            assert_eq!(has_variable(text), holds, "{text:?}");
        }
        assert!(contains_variable(&json!({"spec": [{"image": "$(./name)"}]})));
        assert!(contains_variable(&json!({"{{k}}": "v"})));
        assert!(contains_variable(&json!(["a", ["b", {"c": "x-{{y}}"}]])));
        assert!(!contains_variable(&json!({"a": "$ dollars", "b": ["{", "}"], "c": 1})));
        assert!(contains_variable(&json!("cost: $$(price)")));
        assert!(!contains_variable(&json!("cost: 5$")));
        assert!(!contains_variable(&json!({"=(securityContext)": {"privileged": "false"}})));
    }

    #[test]
    fn whole_strings_keep_types_and_embedded_values_are_text() {
        let ctx = json!({"request": {"object": {"spec": {"replicas": 3, "x": ["a"]}, "metadata": {"name": "web"}}}});
        assert_eq!(substitute_str("{{ request.object.spec.replicas }}", &ctx), Ok(json!(3)));
        assert_eq!(substitute_str("{{request.object.spec.x}}", &ctx), Ok(json!(["a"])));
        assert_eq!(
            substitute_str("name={{ request.object.metadata.name }}!", &ctx),
            Ok(json!("name=web!"))
        );
        assert_eq!(substitute_str("n: {{ request.object.spec.x }}", &ctx), Ok(json!("n: [\"a\"]")));
        assert_eq!(substitute_str("\\{{ literal }}", &ctx), Ok(json!("{{ literal }}")));
        assert!(substitute_str("{{ request.object.spec.nope }}", &ctx).is_err());
        assert_eq!(
            substitute_str("{{ {n: request.object.metadata.name} }}", &ctx),
            Ok(json!({"n": "web"}))
        );
        // Nested variables resolve innermost first.
        let nested = "{{ to_upper('{{ request.object.metadata.name }}') }}";
        assert_eq!(substitute_str(nested, &ctx), Ok(json!("WEB")));
    }

    #[test]
    fn references_resolve_within_the_pattern() {
        let p = json!({"spec": {"containers": [{"resources": {"requests": {"memory": "$(<=./../../limits/memory)"}, "limits": {"memory": "2048Mi"}}}]}});
        let r = resolve_references(&p).unwrap();
        assert_eq!(r.at("/spec/containers/0/resources/requests/memory"), Some(&json!("<=2048Mi")));
        let abs = json!({"a": "x", "b": {"c": "$(/a)"}});
        assert_eq!(resolve_references(&abs).unwrap(), json!({"a": "x", "b": {"c": "x"}}));
        assert!(resolve_references(&json!({"a": "$(./../nope)"})).is_err());
    }

    #[test]
    fn at_refers_to_the_same_place_in_the_resource() {
        let pattern = json!({"spec": {"containers": [{"=(image)": "{{@}}"}]}});
        let resource = json!({"spec": {"containers": [{"image": "nginx"}]}});
        assert_eq!(
            substitute_at(&pattern, &resource),
            json!({"spec": {"containers": [{"=(image)": "nginx"}]}})
        );
    }
}
