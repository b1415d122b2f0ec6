//! `deny` and `preconditions` conditions and their operators (kyverno-compat.md, 5 and 6).

use serde_json::Value;

use super::jmespath::{json_equal, EvalError};
use super::quantity::{parse_duration, parse_quantity};
use super::variables;
use super::wildcard;
use crate::limits::Limits;

/// Evaluates a conditions block: `{any: [...], all: [...]}` or a plain list (all).
/// Returns whether the block holds and the messages of the conditions that held.
pub fn evaluate(
    block: &Value,
    ctx: &Value,
    limits: &Limits,
) -> Result<(bool, Vec<String>), EvalError> {
    let mut messages = Vec::new();
    match block {
        Value::Null => Ok((true, messages)),
        Value::Array(list) => {
            for c in list {
                if !condition(c, ctx, &mut messages, limits)? {
                    return Ok((false, messages));
                }
            }
            Ok((true, messages))
        }
        Value::Object(m) => {
            let any_ok = match m.get("any").and_then(Value::as_array) {
                Some(list) if !list.is_empty() => {
                    let mut any = false;
                    for c in list {
                        any |= condition(c, ctx, &mut messages, limits)?;
                    }
                    any
                }
                _ => true,
            };
            let mut all_ok = true;
            if let Some(list) = m.get("all").and_then(Value::as_array) {
                for c in list {
                    if !condition(c, ctx, &mut messages, limits)? {
                        all_ok = false;
                        break;
                    }
                }
            }
            Ok((any_ok && all_ok, messages))
        }
        _ => Err(EvalError::Other("conditions must be a list or a mapping with any/all".into())),
    }
}

fn condition(
    c: &Value,
    ctx: &Value,
    messages: &mut Vec<String>,
    limits: &Limits,
) -> Result<bool, EvalError> {
    // A variable that cannot be resolved (a missing field without a `||` default) is an error
    // for the rule, as in Kyverno since 1.8 (kyverno-compat.md, 5.2).
    let key = variables::substitute(c.get("key").unwrap_or(&Value::Null), ctx, limits)?;
    let value = variables::substitute(c.get("value").unwrap_or(&Value::Null), ctx, limits)?;
    let op = c.get("operator").and_then(Value::as_str).unwrap_or("");
    let held = apply(op, &key, &value)?;
    if held {
        if let Some(m) = c.get("message") {
            if let Ok(v) = variables::substitute(m, ctx, limits) {
                messages.push(v.as_str().map_or_else(|| v.to_string(), String::from));
            }
        }
    }
    Ok(held)
}

/// Applies an operator (case-insensitive) to a key and a value.
pub fn apply(op: &str, key: &Value, value: &Value) -> Result<bool, EvalError> {
    let known = [
        "equals",
        "equal",
        "notequals",
        "notequal",
        "anyin",
        "allin",
        "anynotin",
        "allnotin",
        "in",
        "notin",
        "greaterthan",
        "greaterthanorequals",
        "lessthan",
        "lessthanorequals",
        "durationgreaterthan",
        "durationgreaterthanorequals",
        "durationlessthan",
        "durationlessthanorequals",
    ];
    if !known.contains(&op.to_ascii_lowercase().as_str()) {
        return Err(EvalError::Other(format!("unknown condition operator `{op}`")));
    }
    if key.is_null() {
        // A nil key matches no operator.
        return Ok(false);
    }
    let set_op = ["anyin", "allin", "anynotin", "allnotin", "in", "notin"]
        .contains(&op.to_ascii_lowercase().as_str());
    if set_op && !matches!(value, Value::Array(_) | Value::String(_)) {
        // Set operators need a list (or a string) to look in; anything else is an invalid type.
        return Ok(false);
    }
    Ok(match op.to_ascii_lowercase().as_str() {
        "equals" | "equal" => equals(key, value),
        "notequals" | "notequal" => !equals(key, value),
        "anyin" => any_in(key, value),
        "allin" => all_in(key, value),
        "anynotin" => any_not_in(key, value),
        "allnotin" => all_not_in(key, value),
        "in" => match key {
            Value::Array(_) => all_in(key, value),
            _ => any_in(key, value),
        },
        "notin" => match key {
            Value::Array(_) => !all_in(key, value),
            _ => !any_in(key, value),
        },
        "greaterthan" => ordered(key, value).is_some_and(std::cmp::Ordering::is_gt),
        "greaterthanorequals" => ordered(key, value).is_some_and(std::cmp::Ordering::is_ge),
        "lessthan" => ordered(key, value).is_some_and(std::cmp::Ordering::is_lt),
        "lessthanorequals" => ordered(key, value).is_some_and(std::cmp::Ordering::is_le),
        "durationgreaterthan" => durations(key, value).is_some_and(|(a, b)| a > b),
        "durationgreaterthanorequals" => durations(key, value).is_some_and(|(a, b)| a >= b),
        "durationlessthan" => durations(key, value).is_some_and(|(a, b)| a < b),
        "durationlessthanorequals" => durations(key, value).is_some_and(|(a, b)| a <= b),
        other => return Err(EvalError::Other(format!("unknown condition operator `{other}`"))),
    })
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn equals(key: &Value, value: &Value) -> bool {
    match key {
        Value::Null => false,
        Value::Bool(b) => value.as_bool() == Some(*b),
        Value::Number(n) => match value {
            Value::Number(m) => n.as_f64() == m.as_f64(),
            Value::String(s) => s.parse::<f64>().ok() == n.as_f64(),
            _ => false,
        },
        Value::Array(_) | Value::Object(_) => json_equal(key, value),
        Value::String(k) => {
            let v_text = match value {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                _ => return false,
            };
            if let (Some(a), Some(b)) = (duration_or_seconds(k), duration_or_seconds(&v_text)) {
                if parse_duration(k).is_some() || parse_duration(&v_text).is_some() {
                    return a == b;
                }
            }
            if let (Some(a), Some(b)) = (parse_quantity(k), parse_quantity(&v_text)) {
                if value.is_string() {
                    return a == b;
                }
            }
            value.is_string() && wildcard::matches(&v_text, k)
        }
    }
}

fn duration_or_seconds(s: &str) -> Option<f64> {
    parse_duration(s).or_else(|| s.parse::<f64>().ok().map(|secs| secs * 1e9))
}

fn durations(key: &Value, value: &Value) -> Option<(f64, f64)> {
    let d = |v: &Value| match v {
        Value::Number(n) => n.as_f64().map(|s| s * 1e9),
        Value::String(s) => duration_or_seconds(s),
        _ => None,
    };
    Some((d(key)?, d(value)?))
}

/// Orders two values: durations, quantities, numbers, then semantic versions.
fn ordered(key: &Value, value: &Value) -> Option<std::cmp::Ordering> {
    let (k, v) = (text(key)?, text(value)?);
    if let (Some(a), Some(b)) = (parse_duration(&k), parse_duration(&v)) {
        return a.partial_cmp(&b);
    }
    if let (Some(a), Some(b)) = (parse_quantity(&k), parse_quantity(&v)) {
        return a.partial_cmp(&b);
    }
    if let (Ok(a), Ok(b)) = (k.parse::<f64>(), v.parse::<f64>()) {
        return a.partial_cmp(&b);
    }
    // blang/semver's strict parse, as Kyverno's numeric operators do.
    let (a, b) = (super::semver::Version::parse(&k).ok()?, super::semver::Version::parse(&v).ok()?);
    Some(a.cmp(&b))
}

/// The elements of a key or value for the set operators: a list, or one scalar.
fn elements(v: &Value) -> Vec<String> {
    match v {
        Value::Array(items) => items.iter().filter_map(text).collect(),
        other => text(other).into_iter().collect(),
    }
}

/// The value side of set operators: a list, a JSON array in a string, a range, or one value.
fn value_set(v: &Value) -> ValueSet {
    match v {
        Value::String(s) => {
            if let Ok(Value::Array(items)) = serde_json::from_str::<Value>(s) {
                return ValueSet::List(items.iter().filter_map(text).collect());
            }
            if let Some((a, b)) = s
                .split_once('-')
                .filter(|(a, b)| a.parse::<f64>().is_ok() && b.parse::<f64>().is_ok())
            {
                return ValueSet::Range(a.parse().unwrap_or(0.0), b.parse().unwrap_or(0.0));
            }
            ValueSet::List(vec![s.clone()])
        }
        other => ValueSet::List(elements(other)),
    }
}

enum ValueSet {
    List(Vec<String>),
    Range(f64, f64),
}

impl ValueSet {
    fn contains(&self, k: &str) -> bool {
        match self {
            ValueSet::List(items) => {
                items.iter().any(|v| wildcard::matches(v, k) || wildcard::matches(k, v))
            }
            ValueSet::Range(a, b) => k.parse::<f64>().is_ok_and(|n| n >= *a && n <= *b),
        }
    }
}

fn any_in(key: &Value, value: &Value) -> bool {
    let set = value_set(value);
    elements(key).iter().any(|k| set.contains(k))
}

fn all_in(key: &Value, value: &Value) -> bool {
    let set = value_set(value);
    elements(key).iter().all(|k| set.contains(k))
}

fn any_not_in(key: &Value, value: &Value) -> bool {
    let set = value_set(value);
    elements(key).iter().any(|k| !set.contains(k))
}

fn all_not_in(key: &Value, value: &Value) -> bool {
    let set = value_set(value);
    elements(key).iter().all(|k| !set.contains(k))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Evaluates with the default limits.
    fn evaluate(block: &Value, ctx: &Value) -> Result<(bool, Vec<String>), EvalError> {
        super::evaluate(block, ctx, &Limits::default())
    }
    use serde_json::json;

    #[test]
    fn operators() {
        assert!(apply("Equals", &json!("nginx:latest"), &json!("*:latest")).unwrap());
        assert!(apply("NotEquals", &json!("a"), &json!("b")).unwrap());
        assert!(apply("Equals", &json!(true), &json!(true)).unwrap());
        assert!(apply("equals", &json!(2), &json!("2")).unwrap());
        assert!(apply("Equals", &json!("1Gi"), &json!("1024Mi")).unwrap());
        assert!(apply("Equals", &json!("1h"), &json!("60m")).unwrap());
        assert!(apply("AnyIn", &json!(["NET_ADMIN", "CHOWN"]), &json!(["NET_ADMIN", "SYS_ADMIN"]))
            .unwrap());
        assert!(!apply(
            "AllIn",
            &json!(["NET_ADMIN", "CHOWN"]),
            &json!(["NET_ADMIN", "SYS_ADMIN"])
        )
        .unwrap());
        assert!(apply("AllIn", &json!([]), &json!(["a"])).unwrap());
        assert!(apply("AnyNotIn", &json!("dev"), &json!(["staging", "prod-*"])).unwrap());
        assert!(!apply("AnyNotIn", &json!("prod-eu"), &json!(["staging", "prod-*"])).unwrap());
        assert!(apply("AllNotIn", &json!(["a"]), &json!(["b"])).unwrap());
        assert!(apply("AnyIn", &json!(8080), &json!("8000-9000")).unwrap());
        assert!(apply("LessThan", &json!(1), &json!(2)).unwrap());
        assert!(apply("GreaterThan", &json!("2Gi"), &json!("1Gi")).unwrap());
        assert!(apply("GreaterThanOrEquals", &json!("1.25.3"), &json!("1.24.0")).unwrap());
        assert!(apply("DurationLessThan", &json!("30m"), &json!("1h")).unwrap());
        assert!(apply("DurationGreaterThan", &json!(7200), &json!("1h")).unwrap());
        assert!(!apply("AnyIn", &json!(null), &json!(["a"])).unwrap());
        assert!(
            !apply("AnyNotIn", &json!("a"), &json!(null)).unwrap(),
            "an invalid value type matches nothing"
        );
        assert!(apply("Bogus", &json!("a"), &json!("a")).is_err());
    }

    #[test]
    fn any_and_all_blocks() {
        let ctx =
            json!({"request": {"operation": "CREATE", "object": {"spec": {"hostNetwork": true}}}});
        let deny = json!({"any": [{"key": "{{ request.object.spec.hostNetwork || `false` }}", "operator": "Equals", "value": true, "message": "no host network"}]});
        assert_eq!(evaluate(&deny, &ctx).unwrap(), (true, vec!["no host network".to_string()]));
        let pre = json!({"all": [{"key": "{{ request.operation }}", "operator": "AnyIn", "value": ["UPDATE"]}]});
        assert!(!evaluate(&pre, &ctx).unwrap().0);
        let legacy =
            json!([{"key": "{{ request.operation }}", "operator": "Equals", "value": "CREATE"}]);
        assert!(evaluate(&legacy, &ctx).unwrap().0);
        // A variable that cannot be resolved is an error, in a key or a value (Kyverno's
        // condition resolver returns the error since 1.8); a `||` default resolves it.
        let missing = json!({"any": [{"key": "{{ request.object.spec.priority }}", "operator": "Equals", "value": ""}]});
        let e = evaluate(&missing, &ctx).unwrap_err();
        assert_eq!(e, EvalError::UnknownKey("priority".into()));
        let in_value = json!([{"key": "", "operator": "Equals", "value": "{{ request.object.spec.priority }}"}]);
        assert!(evaluate(&in_value, &ctx).is_err());
        let defaulted = json!({"any": [{"key": "{{ request.object.spec.priority || '' }}", "operator": "Equals", "value": ""}]});
        assert!(evaluate(&defaulted, &ctx).unwrap().0);
        let ns = json!([{"key": "{{request.object.spec.sourceRef.namespace}}", "operator": "NotEquals", "value": "{{request.operation}}"}]);
        assert_eq!(evaluate(&ns, &ctx), Err(EvalError::UnknownKey("sourceRef".into())));
    }
}
