//! Mutate rules: `patchStrategicMerge` (with Kyverno's anchors), `patchesJson6902` and
//! `foreach`, as Kyverno's mutate handler applies them (kyverno-compat.md, 17): variables are
//! substituted in the patch, the patch is applied, and a rule that changed nothing is `skip`
//! ("no patches applied").

mod anchors;
pub(super) mod existing;
pub(super) mod json_patch;

use crate::pointer::Pointer as _;
use serde_json::{json, Value};

use super::response::{RuleResponse, Status};
use super::rule::Rule;
use super::{conditions, context, jmespath, policy::Request, variables};
use crate::limits::Limits;
use crate::render::patch::{self, Keys, Merged};
use crate::render::tree::Tree;

/// Most levels of nested `foreach`.
const MAX_FOREACH_DEPTH: usize = 8;

/// What one mutate scope (the rule, a foreach entry, an element) did.
enum Step {
    /// The resource changed: the patched resource.
    Patched(Value),
    /// Nothing changed, and why.
    Unchanged(String),
    Error(String),
}

impl Rule {
    /// Runs the rule's `mutate` on a resource in context `ctx`: the response, and the patched
    /// resource when the rule changed it.
    pub(super) fn mutate(
        &self,
        block: &Value,
        resource: &Value,
        ctx: &mut Value,
        limits: &Limits,
    ) -> (RuleResponse, Option<Value>) {
        let step = if let Some(entries) = block.get("foreach") {
            let Some(entries) = entries.as_array() else {
                return (self.error("mutate.foreach must be a list".into()), None);
            };
            self.mutate_foreach(entries, resource.clone(), ctx, limits, 0)
        } else {
            patch(block, resource, ctx, limits)
        };
        match step {
            Step::Patched(patched) => {
                let message = success_message(&patched);
                (self.respond(Status::Pass, message, None), Some(patched))
            }
            Step::Unchanged(why) => (self.respond(Status::Skip, why, None), None),
            Step::Error(e) => (self.error(e), None),
        }
    }

    /// `mutate.foreach`: each entry's list is evaluated in the context as the previous entries
    /// left it (`request.object` is the resource they patched).
    fn mutate_foreach(
        &self,
        entries: &[Value],
        mut resource: Value,
        ctx: &mut Value,
        limits: &Limits,
        depth: usize,
    ) -> Step {
        if depth > MAX_FOREACH_DEPTH {
            return Step::Error(format!("foreach nested more than {MAX_FOREACH_DEPTH} levels"));
        }
        let mut applied = 0;
        for entry in entries {
            let raw = entry.get("list").and_then(Value::as_str).unwrap_or("");
            let elements = match list(raw, ctx, limits) {
                Ok(elements) => elements,
                Err(e) => return Step::Error(format!("failed to evaluate list {raw}: {e}")),
            };
            match self.mutate_elements(entry, &elements, &resource, ctx, limits, depth) {
                Step::Error(e) => return Step::Error(format!("failed to mutate elements: {e}")),
                Step::Unchanged(_) => {}
                Step::Patched(patched) => {
                    applied += 1;
                    resource = patched;
                    if let Some(object) = ctx.pointer_mut("/request/object") {
                        *object = resource.clone();
                    }
                }
            }
        }
        if applied == 0 {
            Step::Unchanged(format!("{applied} elements processed"))
        } else {
            Step::Patched(resource)
        }
    }

    /// One foreach entry over its elements: a strategic merge patch goes through them last to
    /// first unless `order` says otherwise (kustomize reverses the order of merged elements).
    fn mutate_elements(
        &self,
        entry: &Value,
        elements: &[Value],
        resource: &Value,
        ctx: &mut Value,
        limits: &Limits,
        depth: usize,
    ) -> Step {
        let reverse = match entry.get("order").and_then(Value::as_str) {
            Some(order) => order == "Descending",
            None => entry.get("patchStrategicMerge").is_some(),
        };
        let nested = entry.get("foreach").and_then(Value::as_array).filter(|n| !n.is_empty());
        // What an element can change in the context is put back after each one (and the
        // resource in it, which a nested foreach updates).
        let mut touched = super::validate::touched_keys(entry, depth);
        if nested.is_some() {
            touched.push("request".into());
        }
        let saved: Vec<(String, Option<Value>)> =
            touched.iter().map(|k| (k.clone(), ctx.get(k).cloned())).collect();
        let restore = |ctx: &mut Value| {
            if let Some(obj) = ctx.as_object_mut() {
                for (key, before) in &saved {
                    match before {
                        Some(v) => obj.insert(key.clone(), v.clone()),
                        None => obj.remove(key),
                    };
                }
            }
        };
        let mut patched = resource.clone();
        let order: Vec<usize> = if reverse {
            (0..elements.len()).rev().collect()
        } else {
            (0..elements.len()).collect()
        };
        for index in order {
            let element = &elements[index];
            if element.is_null() {
                continue;
            }
            restore(ctx);
            if let Some(obj) = ctx.as_object_mut() {
                obj.insert("element".into(), element.clone());
                obj.insert("elementIndex".into(), Value::from(index));
                obj.insert(format!("element{depth}"), element.clone());
                obj.insert(format!("elementIndex{depth}"), Value::from(index));
            }
            let step = self.mutate_element(entry, nested, &patched, ctx, limits, (index, depth));
            match step {
                Step::Error(e) => {
                    restore(ctx);
                    return Step::Error(e);
                }
                Step::Patched(p) => patched = p,
                Step::Unchanged(_) => {}
            }
        }
        restore(ctx);
        if same(&patched, resource) {
            Step::Unchanged("no patches applied".into())
        } else {
            Step::Patched(patched)
        }
    }

    /// One element of a foreach entry: its context, its preconditions, then its patch (or the
    /// nested foreach).
    fn mutate_element(
        &self,
        entry: &Value,
        nested: Option<&Vec<Value>>,
        resource: &Value,
        ctx: &mut Value,
        limits: &Limits,
        (index, depth): (usize, usize),
    ) -> Step {
        if let Some(entries) = entry.get("context").and_then(Value::as_array) {
            let request = Request { limits: *limits, ..Request::default() };
            if let Err(e) = context::load(entries, ctx, &request) {
                return Step::Error(format!(
                    "failed to load to mutate.foreach[{index}].context: {e}"
                ));
            }
        }
        if let Some(pre) = entry.get("preconditions") {
            match conditions::evaluate(pre, ctx, limits) {
                Err(e) => {
                    return Step::Error(format!(
                        "failed to evaluate mutate.foreach[{index}].preconditions: {e}"
                    ))
                }
                Ok((false, _)) => return Step::Unchanged("preconditions not met".into()),
                Ok((true, _)) => {}
            }
        }
        match nested {
            Some(entries) => self.mutate_foreach(entries, resource.clone(), ctx, limits, depth + 1),
            None => patch(entry, resource, ctx, limits),
        }
    }
}

/// The rule's (or a foreach entry's) patch, variables substituted, applied to `resource`.
fn patch(block: &Value, resource: &Value, ctx: &Value, limits: &Limits) -> Step {
    let substituted = match substitute(block, resource, ctx, limits) {
        Ok(v) => v,
        Err(e) => return Step::Error(format!("variable substitution failed: {e}")),
    };
    let result = if let Some(smp) = substituted.get("patchStrategicMerge") {
        strategic_merge(resource, smp)
    } else if let Some(text) =
        substituted.get("patchesJson6902").and_then(Value::as_str).filter(|t| !t.is_empty())
    {
        json_patch::parse(text).and_then(|ops| {
            let mut patched = resource.clone();
            json_patch::apply(&mut patched, &ops, json_patch::Mode::Kyverno).map(|()| patched)
        })
    } else {
        return Step::Error("empty mutate rule".into());
    };
    match result {
        Err(e) => Step::Error(format!("failed to patch resource: {e}")),
        Ok(patched) if same(&patched, resource) => Step::Unchanged("no patches applied".into()),
        Ok(patched) => Step::Patched(patched),
    }
}

/// The elements of a foreach `list` (a JMESPath expression, variables substituted first): a
/// value that is not a list is one element, a missing one none.
fn list(raw: &str, ctx: &Value, limits: &Limits) -> Result<Vec<Value>, String> {
    let expr = match variables::substitute_str(raw, ctx, limits) {
        Ok(Value::String(s)) => s,
        Ok(_) => raw.to_string(),
        Err(e) => return Err(e.to_string()),
    };
    match jmespath::search(expr.trim(), ctx, limits) {
        Ok(Value::Array(items)) => Ok(items),
        Ok(Value::Null) | Err(jmespath::EvalError::UnknownKey(_)) => Ok(Vec::new()),
        Ok(other) => Ok(vec![other]),
        Err(e) => Err(e.to_string()),
    }
}

/// The patches of a mutate block (or foreach entry) with `$(…)`, `{{@}}` and `{{ }}` variables
/// substituted.
fn substitute(
    block: &Value,
    resource: &Value,
    ctx: &Value,
    limits: &Limits,
) -> Result<Value, String> {
    let mut out = serde_json::Map::new();
    if let Some(smp) = block.get("patchStrategicMerge") {
        let smp = if variables::contains_variable(smp) {
            let referenced = variables::resolve_references(smp).map_err(|e| e.to_string())?;
            let at = variables::substitute_at(&referenced, resource);
            variables::substitute(&at, ctx, limits).map_err(|e| e.to_string())?
        } else {
            smp.clone()
        };
        out.insert("patchStrategicMerge".into(), smp);
    }
    if let Some(text) = block.get("patchesJson6902").and_then(Value::as_str) {
        let text = match variables::substitute_str(text, ctx, limits).map_err(|e| e.to_string())? {
            Value::String(s) => s,
            other => other.to_string(),
        };
        out.insert("patchesJson6902".into(), Value::String(text));
    }
    Ok(Value::Object(out))
}

/// A strategic merge patch with Kyverno's anchors, merged as kustomize merges (the merge keys
/// of the resource's kind; lists of kinds without a schema are replaced).
fn strategic_merge(resource: &Value, smp: &Value) -> Result<Value, String> {
    let mut patch = smp.clone();
    match anchors::preprocess(&mut patch, resource) {
        Ok(()) => {}
        // A condition that does not hold: nothing to merge.
        Err(anchors::PreError::Condition | anchors::PreError::Global) => {
            return Ok(resource.clone())
        }
        Err(anchors::PreError::Other(e)) => return Err(format!("failed to preProcess rule: {e}")),
    }
    let s = |p: &str| resource.at(p).and_then(Value::as_str).unwrap_or("");
    let api_version = s("/apiVersion");
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    let keys = patch::builtin_type(group, version, s("/kind")).map_or(Keys::None, Keys::Builtin);
    let mut target = Tree::from_json(resource, 0);
    match patch::strategic_merge(&mut target, &Tree::from_json(&patch, 0), keys) {
        Ok(Merged::Kept) => Ok(target.to_json()),
        Ok(Merged::Deleted) => {
            Err("a mutate patch cannot delete the resource (`$patch: delete`)".into())
        }
        Err(e) => Err(e.0),
    }
}

/// Whether two resources are the same JSON (numbers compared by value).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x == y || x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

/// Kyverno's message for a rule that patched: `mutated Kind/name in namespace ns`.
fn success_message(r: &Value) -> String {
    let s = |p: &str| r.at(p).and_then(Value::as_str).unwrap_or("");
    let (kind, name, ns) = (s("/kind"), s("/metadata/name"), s("/metadata/namespace"));
    if ns.is_empty() {
        format!("mutated {kind}/{name}")
    } else {
        format!("mutated {kind}/{name} in namespace {ns}")
    }
}

/// The strategic merge patch a rule that autogen makes for pod controllers applies: the
/// original's, under the controller's pod template.
pub(super) fn wrap_for_controllers(mutate: &mut Value, wrap: &impl Fn(Value) -> Value) {
    if let Some(smp) = mutate.get_mut("patchStrategicMerge") {
        *smp = wrap(smp.take());
        return;
    }
    // Kyverno keeps only the list, context, preconditions and patch of each foreach entry.
    if let Some(entries) = mutate.get_mut("foreach").and_then(Value::as_array_mut) {
        for entry in entries.iter_mut() {
            let mut kept = json!({});
            for key in ["list", "context", "preconditions"] {
                if let Some(v) = entry.get(key) {
                    kept[key] = v.clone();
                }
            }
            kept["patchStrategicMerge"] =
                wrap(entry.get("patchStrategicMerge").cloned().unwrap_or(Value::Null));
            *entry = kept;
        }
    }
}

#[cfg(test)]
mod tests;
