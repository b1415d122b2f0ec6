//! Comparing a row's outcome with its expected result: the resource a policy patched with the
//! test's `patchedResources` (or an object it generated with `generatedResource`), then the
//! status (kyverno-compat.md, 14.3).

use std::fmt::Write as _;

use serde_json::Value;

use super::kyverno::{identity, Expected};
use super::Verdict;
use crate::engine::kyverno::{RuleResponse, Status};

/// The verdict, reason and message of a row for one rule response; `None` when the row is
/// dropped. `compared` is the resource the row compares with `files` — the `patchedResources`
/// file, or the `generatedResource(s)` files (`generated`: any may hold it) — each with its
/// documents; with no file, only the status is compared. A resource a patched file lacks drops
/// the row, as `kyverno test` drops it, unless the result sets `failOnMissingResources`.
pub(super) fn judge(
    expected: &Expected,
    response: &RuleResponse,
    compared: &Value,
    files: &[(&str, &Vec<Value>)],
    generated: bool,
) -> Option<(Verdict, String, String)> {
    let actual = response.status.as_str();
    let outcomes: Vec<(&str, Compared)> =
        files.iter().map(|(file, docs)| (*file, compare_with(compared, docs))).collect();
    let all_missing = outcomes.iter().all(|(_, c)| matches!(c, Compared::Missing));
    // An error (a feature not run yet, say) is never dropped with a resource the file lacks:
    // its row compares the status.
    let errored = all_missing && response.status == Status::Error;
    if !outcomes.is_empty()
        && !errored
        && !outcomes.iter().any(|(_, c)| matches!(c, Compared::Same))
    {
        if all_missing && !generated && !expected.fail_on_missing {
            return None;
        }
        let what = if generated { "generated" } else { "patched" };
        let (file, last) = outcomes.last()?;
        let judged = if let Compared::Differs(d) = last {
            let message = format!("the {what} resource differs from {file}: {d}");
            (Verdict::Fail, "Resource diff".into(), message)
        } else {
            let (_, kind, namespace, name) = identity(compared);
            let message = format!("{file} has no {kind} `{namespace}/{name}`");
            (Verdict::Fail, "Resource error".into(), message)
        };
        return Some(judged);
    }
    Some(if actual == expected.result {
        (Verdict::Pass, "Ok".into(), response.message.clone())
    } else {
        (Verdict::Fail, format!("Want {}, got {actual}", expected.result), response.message.clone())
    })
}

/// How an actual resource compares with the expected patched resources of a row.
pub(super) enum Compared {
    Same,
    /// The file has no resource with this identity.
    Missing,
    /// The first difference found.
    Differs(String),
}

/// Compares a resource with the one of the same identity in an expected file, both tidied
/// (nulls and then empty maps and lists dropped) and with the labels Kyverno's generate
/// controller adds made alike (`generate.kyverno.io/…` dropped, `app.kubernetes.io/managed-by:
/// kyverno` set), as `kyverno test` compares them.
pub(super) fn compare_with(actual: &Value, expected: &[Value]) -> Compared {
    let id = identity(actual);
    let Some(want) = expected.iter().find(|e| identity(e) == id) else {
        return Compared::Missing;
    };
    let (actual, want) = (tidy(&generate_labels(actual)), tidy(&generate_labels(want)));
    match difference(&actual, &want, &mut String::new()) {
        None => Compared::Same,
        Some(d) => Compared::Differs(d),
    }
}

fn generate_labels(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(meta) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        let mut labels: serde_json::Map<String, Value> = meta
            .get("labels")
            .and_then(Value::as_object)
            .map(|l| {
                l.iter()
                    .filter(|(k, _)| !k.starts_with("generate.kyverno.io/"))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect()
            })
            .unwrap_or_default();
        labels.insert("app.kubernetes.io/managed-by".into(), "kyverno".into());
        meta.insert("labels".into(), Value::Object(labels));
    }
    v
}

fn tidy(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let out: serde_json::Map<String, Value> =
                m.iter().map(|(k, v)| (k.clone(), tidy(v))).filter(|(_, v)| !v.is_null()).collect();
            if out.is_empty() {
                Value::Null
            } else {
                Value::Object(out)
            }
        }
        Value::Array(items) => {
            let out: Vec<Value> = items.iter().map(tidy).filter(|v| !v.is_null()).collect();
            if out.is_empty() {
                Value::Null
            } else {
                Value::Array(out)
            }
        }
        other => other.clone(),
    }
}

/// The first place two tidied values differ (numbers compared by value), as a sentence.
fn difference(actual: &Value, want: &Value, path: &mut String) -> Option<String> {
    let at = |p: &str| if p.is_empty() { "/".to_string() } else { p.to_string() };
    match (actual, want) {
        (Value::Object(a), Value::Object(w)) => {
            let keys: std::collections::BTreeSet<&String> = a.keys().chain(w.keys()).collect();
            for k in keys {
                let len = path.len();
                path.push('/');
                path.push_str(k);
                let d = match (a.get(k), w.get(k)) {
                    (Some(x), Some(y)) => difference(x, y, path),
                    (Some(x), None) => Some(format!("{} is {x}, expected absent", at(path))),
                    (None, Some(y)) => Some(format!("{} is absent, expected {y}", at(path))),
                    (None, None) => None,
                };
                path.truncate(len);
                if d.is_some() {
                    return d;
                }
            }
            None
        }
        (Value::Array(a), Value::Array(w)) if a.len() == w.len() => {
            a.iter().zip(w).enumerate().find_map(|(i, (x, y))| {
                let len = path.len();
                let _ = write!(path, "/{i}");
                let d = difference(x, y, path);
                path.truncate(len);
                d
            })
        }
        (Value::Number(x), Value::Number(y)) if x.as_f64() == y.as_f64() => None,
        _ if actual == want => None,
        _ => Some(format!("{} is {actual}, expected {want}", at(path))),
    }
}
