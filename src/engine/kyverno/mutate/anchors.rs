//! Kyverno's anchors in a `patchStrategicMerge`, resolved against the resource before the merge
//! (Kyverno's `strategicPreprocessing.go`, described here from its behaviour):
//!
//! - `+(key)` adds the field only when the resource lacks it (the anchor is dropped, or the
//!   whole field when the resource has it);
//! - `(key)` is a condition on the resource's field: when it does not hold, the patch of the
//!   mapping does not apply — inside a list of mappings, only to that element; at the top, the
//!   rule changes nothing;
//! - `<(key)` is a global condition: when it holds for no element, the whole patch is dropped;
//! - an element of a list of mappings that has anchors is matched against every element of the
//!   resource's list; for each one it holds for, a copy without the anchors (and with that
//!   element's `name`, the merge key kustomize merges containers and volumes by) joins the patch.
//!
//! What is left of the conditions is then removed, and anchors that had children are stripped
//! to their key. Scalars are compared as the text YAML gives them, as Kyverno does.

use serde_json::{Map, Value};

use crate::engine::kyverno::pattern::{self, parse_anchor, Anchor, PatternResult};

/// Why a patch was not preprocessed.
#[derive(Debug)]
pub(super) enum PreError {
    /// A condition anchor did not hold: the patch does not apply.
    Condition,
    /// A global anchor did not hold: the patch does not apply.
    Global,
    /// The patch cannot be applied (the rule is an error).
    Other(String),
}

/// Resolves the anchors of `patch` against `resource`, in place.
pub(super) fn preprocess(patch: &mut Value, resource: &Value) -> Result<(), PreError> {
    recurse(patch, Some(resource))?;
    let Value::Object(fields) = patch else {
        return Err(PreError::Other("a patchStrategicMerge must be a mapping".into()));
    };
    let keys: Vec<String> = fields.keys().cloned().collect();
    for key in keys {
        let delete_scalar = is_condition(&key);
        let Some(value) = fields.get_mut(&key) else { continue };
        if delete_anchors(value, delete_scalar, false)? {
            fields.remove(&key);
        }
    }
    Ok(())
}

fn is_condition(key: &str) -> bool {
    matches!(parse_anchor(key), Some((Anchor::Conditional | Anchor::Global, _)))
}

/// Anchors that make an element of a list conditional (or add-if-absent).
fn is_patch_anchor(a: Anchor) -> bool {
    matches!(a, Anchor::Conditional | Anchor::Global | Anchor::AddIfNotPresent)
}

fn field<'r>(resource: Option<&'r Value>, key: &str) -> Option<&'r Value> {
    resource?.as_object()?.get(key)
}

fn recurse(patch: &mut Value, resource: Option<&Value>) -> Result<(), PreError> {
    match patch {
        Value::Object(_) => walk_map(patch, resource),
        Value::Array(items) if items.first().is_some_and(Value::is_object) => {
            list_of_maps(patch, resource)
        }
        _ => Ok(()),
    }
}

fn walk_map(patch: &mut Value, resource: Option<&Value>) -> Result<(), PreError> {
    add_if_not_present(patch, resource);
    conditions(patch, resource, Anchor::Global).map_err(|_| PreError::Global)?;
    conditions(patch, resource, Anchor::Conditional).map_err(|_| PreError::Condition)?;
    let Value::Object(fields) = patch else { return Ok(()) };
    // Keys without anchors (and with the anchors a patch does not use: `=()`, `X()`, `^()`,
    // which name no field of the resource) are walked further.
    let plain: Vec<String> = fields
        .keys()
        .filter(|k| parse_anchor(k).is_none_or(|(a, _)| !is_patch_anchor(a)))
        .cloned()
        .collect();
    for key in plain {
        let Some(value) = fields.get_mut(&key) else { continue };
        recurse(value, field(resource, &key))?;
    }
    Ok(())
}

/// `+(key)`: dropped when the resource has the field, else the anchor is removed from the key.
/// Returns how many such anchors the mapping had.
fn add_if_not_present(patch: &mut Value, resource: Option<&Value>) -> usize {
    let Value::Object(fields) = patch else { return 0 };
    let anchors: Vec<(String, String)> = fields
        .keys()
        .filter_map(|k| match parse_anchor(k) {
            Some((Anchor::AddIfNotPresent, key)) => Some((k.clone(), key.to_string())),
            _ => None,
        })
        .collect();
    for (anchored, key) in &anchors {
        let value = fields.remove(anchored);
        if field(resource, key).is_none() {
            if let Some(value) = value {
                fields.insert(key.clone(), value);
            }
        }
    }
    anchors.len()
}

/// Checks the conditions of one kind (`(key)` or `<(key)`) of a mapping.
fn conditions(patch: &mut Value, resource: Option<&Value>, kind: Anchor) -> Result<(), String> {
    let Value::Object(fields) = patch else { return Ok(()) };
    let anchors: Vec<(String, String)> = fields
        .keys()
        .filter_map(|k| match parse_anchor(k) {
            Some((a, key)) if a == kind => Some((k.clone(), key.to_string())),
            _ => None,
        })
        .collect();
    for (anchored, key) in anchors {
        let Some(actual) = field(resource, &key) else {
            return Err(format!("could not found \"{key}\" key in the resource"));
        };
        let Some(wanted) = fields.get_mut(&anchored) else { continue };
        // A condition whose value holds `+(…)` anchors adds instead of checking.
        if add_if_not_present(wanted, Some(actual)) > 0 {
            continue;
        }
        let (wanted, actual) = (as_compared(wanted), as_compared(actual));
        match pattern::match_pattern(&actual, &wanted) {
            PatternResult::Pass => {}
            PatternResult::Skip(why) => return Err(why),
            PatternResult::Fail(at) => {
                return Err(format!("the value at {} does not match", pattern::kyverno_path(&at)))
            }
        }
    }
    Ok(())
}

/// A value as Kyverno compares a condition: a scalar as its text (YAML keeps no types there).
fn as_compared(v: &Value) -> Value {
    match v {
        Value::Object(_) | Value::Array(_) | Value::String(_) => v.clone(),
        other => Value::String(other.to_string()),
    }
}

fn is_nil_or_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

/// Whether a value has an anchor `which` accepts (a scalar counts when it reads as a condition).
fn has_anchors(v: &Value, which: fn(Anchor) -> bool) -> bool {
    match v {
        Value::Object(m) => m
            .iter()
            .any(|(k, v)| parse_anchor(k).is_some_and(|(a, _)| which(a)) || has_anchors(v, which)),
        Value::Array(items) => items.iter().any(|i| has_anchors(i, which)),
        Value::String(s) => is_condition(s),
        _ => false,
    }
}

/// A list of mappings: each element with anchors is matched against the resource's elements
/// and copied, without its anchors, for each element it holds for.
fn list_of_maps(patch: &mut Value, resource: Option<&Value>) -> Result<(), PreError> {
    let elements: Vec<&Value> = match resource {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items.iter().collect(),
        Some(_) => {
            return Err(PreError::Other("the patch has a list where the resource does not".into()))
        }
    };
    let originals = patch.as_array().cloned().unwrap_or_default();
    for element in originals {
        if !has_anchors(&element, is_patch_anchor) {
            continue;
        }
        let global = has_anchors(&element, |a| a == Anchor::Global);
        // One copy for all the resource's elements: what `+(…)` does to it carries over.
        let mut copy = element.clone();
        let mut global_held = false;
        let mut global_failed = false;
        for actual in &elements {
            match recurse(&mut copy, Some(actual)) {
                Err(PreError::Condition) => {}
                Err(PreError::Global) => global_failed = true,
                Err(e) => return Err(e),
                Ok(()) if global => global_held = true,
                Ok(()) => add_named_copy(patch, &copy, actual)?,
            }
        }
        if resource.is_none() {
            match recurse(&mut copy, None) {
                Err(PreError::Condition) => continue,
                Err(e) => return Err(e),
                Ok(()) => global_held |= global,
            }
        }
        if global_failed && !global_held {
            return Err(PreError::Global);
        }
    }
    Ok(())
}

/// Appends to the patch list a copy of an element whose conditions held for `actual`, without
/// its anchors and with `actual`'s name (an element without a name cannot be merged: none).
fn add_named_copy(patch: &mut Value, copy: &Value, actual: &Value) -> Result<(), PreError> {
    let Some(name) = actual.get("name").filter(|n| !is_nil_or_empty(n)) else { return Ok(()) };
    let mut element = copy.clone();
    if delete_anchors(&mut element, true, false)? {
        return Ok(());
    }
    let Value::Object(fields) = &mut element else {
        return Err(PreError::Other("a list element with anchors must be a mapping".into()));
    };
    fields.insert("name".into(), name.clone());
    if let Value::Array(items) = patch {
        items.push(element);
    }
    Ok(())
}

/// Removes the conditions of a value; true when nothing but conditions was there (the value is
/// then dropped from the patch, so that it does not clear the resource's field).
fn delete_anchors(v: &mut Value, delete_scalar: bool, deep: bool) -> Result<bool, PreError> {
    match v {
        Value::Object(fields) => delete_anchors_in_map(fields, deep),
        Value::Array(items) => delete_anchors_in_list(items, deep),
        _ => Ok(delete_scalar),
    }
}

fn delete_anchors_in_map(fields: &mut Map<String, Value>, deep: bool) -> Result<bool, PreError> {
    let anchors: Vec<String> = fields.keys().filter(|k| is_condition(k)).cloned().collect();
    let mut kept_anchor = false;
    for key in anchors {
        let Some(value) = fields.get_mut(&key) else { continue };
        if delete_anchors(value, true, deep)? {
            fields.remove(&key);
        } else {
            kept_anchor = true;
        }
    }
    if kept_anchor {
        let anchored: Vec<String> = fields.keys().filter(|k| is_condition(k)).cloned().collect();
        for key in anchored {
            if let (Some(value), Some((_, plain))) = (fields.remove(&key), parse_anchor(&key)) {
                fields.insert(plain.to_string(), value);
            }
        }
    }
    let keys: Vec<String> = fields.keys().cloned().collect();
    let mut empty = true;
    for key in keys {
        let Some(value) = fields.get_mut(&key) else { continue };
        if delete_anchors(value, false, deep)? {
            fields.remove(&key);
        } else {
            empty = false;
        }
    }
    Ok(empty)
}

/// Kyverno removes an element by its index in the list as it was, from the list as it is then:
/// after one removal the next one removes the element after the one meant. Reproduced, since
/// patches depend on it; an index past the end is an error (Kyverno's engine fails there).
fn delete_anchors_in_list(items: &mut Vec<Value>, deep: bool) -> Result<bool, PreError> {
    let was_empty = items.is_empty();
    let mut snapshot = std::mem::take(items);
    let mut live: Vec<usize> = (0..snapshot.len()).collect();
    for (i, element) in snapshot.iter_mut().enumerate() {
        let delete = if has_anchors(element, is_patch_anchor) {
            !deep || !element.is_object() || delete_anchors(element, true, deep)?
        } else {
            delete_anchors(element, false, deep)?
        };
        if delete {
            if i >= live.len() {
                return Err(PreError::Other(format!(
                    "cannot remove element {i} of a list of {} while removing conditions",
                    live.len()
                )));
            }
            live.remove(i);
        }
    }
    *items = live.into_iter().map(|i| std::mem::take(&mut snapshot[i])).collect();
    Ok(items.is_empty() && !was_empty)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pre(patch: Value, resource: &Value) -> Result<Value, PreError> {
        let mut patch = patch;
        preprocess(&mut patch, resource)?;
        Ok(patch)
    }

    #[test]
    fn add_if_not_present_keeps_what_the_resource_has() {
        let resource = json!({"metadata": {"annotations": {"a": "1"}}});
        let patch = json!({"metadata": {"annotations": {"+(a)": "2", "+(b)": "3"}}});
        assert_eq!(
            pre(patch, &resource).unwrap(),
            json!({"metadata": {"annotations": {"b": "3"}}})
        );
    }

    #[test]
    fn a_condition_selects_list_elements_by_name() {
        let resource = json!({"spec": {"containers": [
            {"name": "a", "image": "nginx:latest"},
            {"name": "b", "image": "nginx:1.2"},
        ]}});
        let patch = json!({"spec": {"containers": [
            {"(image)": "*:latest", "imagePullPolicy": "Always"}
        ]}});
        assert_eq!(
            pre(patch, &resource).unwrap(),
            json!({"spec": {"containers": [{"name": "a", "imagePullPolicy": "Always"}]}})
        );
    }

    #[test]
    fn conditions_that_do_not_hold_stop_the_patch() {
        let resource = json!({"metadata": {"labels": {"app": "x"}}});
        let patch = json!({"metadata": {"labels": {"(app)": "y", "b": "c"}}});
        assert!(matches!(pre(patch, &resource), Err(PreError::Condition)));
        let patch = json!({"metadata": {"labels": {"(app)": "x", "b": "c"}}});
        // The condition held: it is stripped (a scalar condition goes entirely).
        assert_eq!(pre(patch, &resource).unwrap(), json!({"metadata": {"labels": {"b": "c"}}}));
        // A global condition that holds for no element drops everything.
        let resource = json!({"spec": {"containers": [{"name": "a", "image": "x"}]}});
        let patch = json!({"spec": {"containers": [{"<(image)": "y"}], "z": 1}});
        assert!(matches!(pre(patch, &resource), Err(PreError::Global)));
    }

    #[test]
    fn scalars_are_compared_as_text() {
        let resource = json!({"spec": {"replicas": 3}});
        let patch = json!({"spec": {"(replicas)": "3", "paused": true}});
        assert_eq!(pre(patch, &resource).unwrap(), json!({"spec": {"paused": true}}));
    }
}
