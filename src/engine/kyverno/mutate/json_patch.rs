//! RFC 6902 JSON patches, applied as Kyverno applies `patchesJson6902` ([`Mode::Kyverno`]: a
//! `remove` of a missing path does nothing, an `add` creates the mappings, or lists before an
//! index, its path needs) or as Kubernetes applies a mutating policy's `JSONPatch`
//! ([`Mode::Kubernetes`]: both are errors, and a failed `test` leaves the object unchanged).
//! Both take negative indexes (`-1` is the last element; in an `add`, the end).

use serde_json::Value;

/// How patches are applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(in crate::engine::kyverno) enum Mode {
    Kyverno,
    Kubernetes,
}

/// The operations of a `patchesJson6902` text: a JSON list, or YAML that reads as one.
pub(super) fn parse(text: &str) -> Result<Vec<Value>, String> {
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    let value: Value = if text.starts_with('[') {
        serde_json::from_str(text).map_err(|e| format!("failed to decode patches: {e}"))?
    } else {
        let (file, problems) =
            crate::load::parse_text("patchesJson6902", text, &crate::load::Limits::default());
        if let Some(p) = problems.first() {
            return Err(format!("failed to convert patchesJson6902 to JSON: {}", p.message));
        }
        file.and_then(|f| f.documents.into_iter().next()).map_or(Value::Null, |d| d.root.to_json())
    };
    match value {
        Value::Array(ops) => Ok(ops),
        _ => Err("failed to decode patches: a JSON patch must be a list of operations".into()),
    }
}

/// Applies the operations in order; the first that cannot be applied is the error.
pub(in crate::engine::kyverno) fn apply(
    doc: &mut Value,
    ops: &[Value],
    mode: Mode,
) -> Result<(), String> {
    let original = (mode == Mode::Kubernetes).then(|| doc.clone());
    let lenient = mode == Mode::Kyverno;
    for op in ops {
        let kind = op.get("op").and_then(Value::as_str).unwrap_or("");
        let path = op.get("path").and_then(Value::as_str);
        let from = op.get("from").and_then(Value::as_str);
        let value = op.get("value");
        let fail = |why: String| format!("{kind} {}: {why}", path.unwrap_or(""));
        let path = path.ok_or_else(|| fail("the operation has no `path`".into()))?;
        let segs = segments(path).map_err(fail)?;
        match kind {
            "add" => {
                let v = value.ok_or_else(|| fail("no `value`".into()))?.clone();
                add(doc, &segs, v, lenient).map_err(fail)?;
            }
            "remove" => remove(doc, &segs, lenient).map_err(fail)?,
            "replace" => {
                let v = value.ok_or_else(|| fail("no `value`".into()))?.clone();
                let Some(target) = find_mut(doc, &segs) else {
                    return Err(fail("the path is missing".into()));
                };
                *target = v;
            }
            "move" | "copy" => {
                let from = from.ok_or_else(|| fail("the operation has no `from`".into()))?;
                let from = segments(from).map_err(fail)?;
                let found = find_mut(doc, &from)
                    .ok_or_else(|| fail("the `from` path is missing".into()))?
                    .clone();
                if kind == "move" {
                    remove(doc, &from, false).map_err(fail)?;
                }
                add(doc, &segs, found, false).map_err(fail)?;
            }
            "test" => {
                let want = value.cloned().unwrap_or(Value::Null);
                let found = find_mut(doc, &segs).map_or(Value::Null, |v| v.clone());
                if found != want {
                    // Kubernetes abandons the whole patch: the object stays as it was.
                    if let Some(original) = original {
                        *doc = original;
                        return Ok(());
                    }
                    return Err(fail("testing the value failed".into()));
                }
            }
            other => return Err(format!("unsupported operation `{other}`")),
        }
    }
    Ok(())
}

fn segments(path: &str) -> Result<Vec<String>, String> {
    if path.is_empty() {
        return Ok(Vec::new());
    }
    let rest = path.strip_prefix('/').ok_or("a path must start with `/`")?;
    Ok(rest.split('/').map(|s| s.replace("~1", "/").replace("~0", "~")).collect())
}

/// The index a segment names in a list of `len` (negative from the end), if any.
fn index(seg: &str, len: usize) -> Option<usize> {
    let i: i64 = seg.parse().ok()?;
    let len = i64::try_from(len).ok()?;
    let i = if i < 0 { i + len } else { i };
    (0..len).contains(&i).then(|| usize::try_from(i).ok()).flatten()
}

fn find_mut<'v>(doc: &'v mut Value, segs: &[String]) -> Option<&'v mut Value> {
    segs.iter().try_fold(doc, |node, seg| match node {
        Value::Object(m) => m.get_mut(seg),
        Value::Array(items) => {
            let i = index(seg, items.len())?;
            items.get_mut(i)
        }
        _ => None,
    })
}

/// Removes a value; a missing one is no error when `missing_ok` (Kyverno applies patches with
/// AllowMissingPathOnRemove).
fn remove(doc: &mut Value, segs: &[String], missing_ok: bool) -> Result<(), String> {
    let Some((last, parent)) = segs.split_last() else {
        return Err("the whole document cannot be removed".into());
    };
    let removed = match find_mut(doc, parent) {
        Some(Value::Object(m)) => m.remove(last).is_some(),
        Some(Value::Array(items)) => match index(last, items.len()) {
            Some(i) => {
                items.remove(i);
                true
            }
            None => false,
        },
        _ => false,
    };
    if removed || missing_ok {
        Ok(())
    } else {
        Err("the path is missing".into())
    }
}

/// Adds a value; with `ensure`, the mappings (or, before an index, lists) on the way are made
/// first, as json-patch's `EnsurePathExistsOnAdd` makes them.
fn add(doc: &mut Value, segs: &[String], value: Value, ensure: bool) -> Result<(), String> {
    let Some((last, parent)) = segs.split_last() else {
        *doc = value;
        return Ok(());
    };
    if ensure {
        ensure_path(doc, segs)?;
    }
    let Some(node) = find_mut(doc, parent) else {
        return Err("the path is missing".into());
    };
    match node {
        Value::Object(m) => {
            m.insert(last.clone(), value);
            Ok(())
        }
        Value::Array(items) => insert(items, last, value).map(|_| ()),
        _ => Err(format!("`{last}` cannot be added below a value that is not a map or a list")),
    }
}

/// Inserts into a list at `key`: `-` (or `-1`) appends, a negative index counts from the end
/// of the list as it will be.
fn insert(items: &mut Vec<Value>, key: &str, value: Value) -> Result<usize, String> {
    let at = if key == "-" {
        items.len()
    } else {
        let i: i64 = key.parse().map_err(|_| format!("`{key}` is not an index"))?;
        let size = i64::try_from(items.len()).unwrap_or(i64::MAX) + 1;
        if i >= size || i < -size {
            return Err(format!("no position `{key}` in a list of {}", items.len()));
        }
        usize::try_from(if i < 0 { i + size } else { i }).unwrap_or(0)
    };
    items.insert(at, value);
    Ok(at)
}

/// Makes the containers an `add` needs: a list where the next segment is an index (or `-`), a
/// mapping otherwise. A container that cannot be placed (an index past the end) is left
/// unplaced, as json-patch leaves it, and the add then fails.
fn ensure_path(doc: &mut Value, segs: &[String]) -> Result<(), String> {
    let mut node = doc;
    for (i, part) in segs[..segs.len() - 1].iter().enumerate() {
        let exists = match &*node {
            Value::Object(m) => m.contains_key(part.as_str()),
            Value::Array(items) => index(part, items.len()).is_some(),
            _ => return Err(format!("`{part}` is below a value that is not a map or a list")),
        };
        if exists {
            node = match node {
                Value::Object(m) => m.get_mut(part.as_str()).ok_or("unreachable")?,
                Value::Array(items) => {
                    let at = index(part, items.len()).ok_or("unreachable")?;
                    &mut items[at]
                }
                _ => return Err("unreachable".into()),
            };
            continue;
        }
        let next = segs[i + 1].as_str();
        let container = match next.parse::<i64>() {
            Ok(n) if n < -1 => return Err(format!("cannot make a list for index {n}")),
            Ok(n) => Value::Array(vec![Value::Null; usize::try_from(n.max(0)).unwrap_or(0)]),
            Err(_) if next == "-" => Value::Array(Vec::new()),
            Err(_) => Value::Object(serde_json::Map::new()),
        };
        node = match node {
            Value::Object(m) => m.entry(part.clone()).or_insert(container),
            Value::Array(items) => {
                // A list shorter than the index is padded with nulls first.
                if let Ok(n) = part.parse::<usize>() {
                    while items.len() < n {
                        items.push(Value::Null);
                    }
                }
                match insert(items, part, container) {
                    Ok(at) => &mut items[at],
                    Err(_) => return Ok(()),
                }
            }
            _ => return Err("unreachable".into()),
        };
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn patched(doc: Value, ops: &str) -> Result<Value, String> {
        let mut doc = doc;
        apply(&mut doc, &parse(ops)?, Mode::Kyverno)?;
        Ok(doc)
    }

    #[test]
    fn operations_as_kyverno_applies_them() {
        let doc = json!({"spec": {"volumes": [{"name": "a"}, {"name": "b"}, {"name": "c"}]}});
        // YAML operations; a negative index counts from the end.
        let out = patched(doc.clone(), "- op: remove\n  path: /spec/volumes/-1\n").unwrap();
        assert_eq!(out, json!({"spec": {"volumes": [{"name": "a"}, {"name": "b"}]}}));
        // Removing what is not there changes nothing.
        let out = patched(doc.clone(), r#"[{"op": "remove", "path": "/spec/nope/0"}]"#).unwrap();
        assert_eq!(out, doc);
        // An add makes the mappings and the list its path needs.
        let out = patched(json!({}), "- {op: add, path: /metadata/labels/a, value: b}\n- {op: add, path: /spec/tolerations/-, value: {key: k}}").unwrap();
        assert_eq!(
            out,
            json!({"metadata": {"labels": {"a": "b"}}, "spec": {"tolerations": [{"key": "k"}]}})
        );
        // `-1` in an add appends, and makes the lists and mappings on its way.
        let ops = "- {op: add, path: /a/terms/-1/exprs/-1, value: 1}";
        assert_eq!(patched(json!({}), ops).unwrap(), json!({"a": {"terms": [{"exprs": [1]}]}}));
        assert_eq!(
            patched(json!({"a": {"terms": [{"exprs": [0]}]}}), ops).unwrap(),
            json!({"a": {"terms": [{"exprs": [0, 1]}]}})
        );
        // A replace of a missing path is an error; so is an unknown operation.
        assert!(patched(json!({}), "- {op: replace, path: /a, value: 1}")
            .unwrap_err()
            .contains("missing"));
        assert!(patched(json!({}), "- {op: frob, path: /a}").is_err());
        let out = patched(json!({"a": {"b": 1}}), "- {op: move, from: /a/b, path: /c}").unwrap();
        assert_eq!(out, json!({"a": {}, "c": 1}));
        assert!(patched(json!({"a": 1}), "- {op: test, path: /a, value: 2}").is_err());
        // Kubernetes: a missing path is an error, and a failed test abandons the patch.
        let k8s = |doc: Value, ops: &str| {
            let mut doc = doc;
            apply(&mut doc, &parse(ops).unwrap(), Mode::Kubernetes).map(|()| doc)
        };
        assert!(k8s(json!({}), "- {op: remove, path: /a}").is_err());
        assert!(k8s(json!({}), "- {op: add, path: /a/b, value: 1}").is_err());
        let ops = "- {op: add, path: /b, value: 1}\n- {op: test, path: /a, value: 2}";
        assert_eq!(k8s(json!({"a": 1}), ops).unwrap(), json!({"a": 1}));
    }
}
