//! Validate rules: deny conditions, patterns, anyPattern, foreach and podSecurity.

use std::borrow::Cow;

use serde_json::Value;

use super::pattern::{self, PatternResult};
use super::policy::Request;
use super::response::{RuleResponse, Status};
use super::rule::{Rule, RuleBody};
use super::{conditions, context, jmespath, pss, variables};
use crate::limits::Limits;

impl Rule {
    /// Runs the rule's `validate` on a resource in context `ctx`. `None` when a foreach found
    /// nothing to check (no response, as in Kyverno).
    pub(super) fn validate(
        &self,
        resource: &Value,
        ctx: &mut Cow<'_, Value>,
        limits: &Limits,
    ) -> Option<RuleResponse> {
        let RuleBody::Validate(validate) = &self.body else { return None };
        let outcome = self.validate_scope(validate, resource, ctx, limits, 0);
        let message = |extra: &str| {
            let base = variables::substitute_str(&self.message, ctx, limits)
                .ok()
                .and_then(|v| v.as_str().map(String::from))
                .unwrap_or_else(|| self.message.clone());
            format!("validation error: {base} {extra}").trim_end().to_string()
        };
        Some(match outcome {
            Scope::Pass => {
                self.respond(Status::Pass, format!("validation rule '{}' passed.", self.name), None)
            }
            Scope::Skip(why) => self.respond(Status::Skip, why, None),
            Scope::Fail(extra, path) => self.respond(Status::Fail, message(&extra), path),
            Scope::Error(e) => self.error(e),
            Scope::NoElements => return None,
        })
    }

    /// One validate scope (the rule's `validate`, or a foreach entry): deny, else pattern /
    /// anyPattern, else foreach (kyverno-compat.md, 1 and 9).
    fn validate_scope(
        &self,
        v: &Value,
        resource: &Value,
        ctx: &mut Cow<'_, Value>,
        limits: &Limits,
        depth: usize,
    ) -> Scope {
        if let Some(ps) = v.get("podSecurity") {
            return pod_security(ps, resource);
        }
        if let Some(deny) = v.get("deny") {
            let conditions = deny.get("conditions").unwrap_or(&Value::Null);
            return match conditions::evaluate(conditions, ctx, limits) {
                Err(e) => Scope::Error(format!("failed to check deny conditions: {e}")),
                Ok((true, messages)) => Scope::Fail(messages.join("; "), None),
                Ok((false, _)) => Scope::Pass,
            };
        }
        if let Some(p) = v.get("pattern") {
            return match with_variables(p, resource, ctx, limits) {
                Err(e) => Scope::Error(e),
                Ok(p) => match pattern::match_pattern(resource, &p) {
                    PatternResult::Pass => Scope::Pass,
                    PatternResult::Skip(why) => Scope::Skip(why),
                    PatternResult::Fail(path) => Scope::Fail(
                        format!(
                            "rule {} failed at path {}",
                            self.name,
                            pattern::kyverno_path(&path)
                        ),
                        Some(path),
                    ),
                },
            };
        }
        if let Some(ps) = v.get("anyPattern") {
            return self.any_pattern(ps, resource, ctx, limits);
        }
        if let Some(list) = v.get("foreach").and_then(Value::as_array) {
            return self.foreach(list, resource, ctx, limits, depth);
        }
        Scope::Error("a validate rule needs deny, pattern, anyPattern or foreach".into())
    }

    fn any_pattern(&self, ps: &Value, resource: &Value, ctx: &Value, limits: &Limits) -> Scope {
        let Some(list) = ps.as_array() else {
            return Scope::Error("anyPattern must be a list".into());
        };
        let mut failures = Vec::new();
        let mut first_path = None;
        for (i, p) in list.iter().enumerate() {
            let p = match with_variables(p, resource, ctx, limits) {
                Ok(p) => p,
                Err(e) => return Scope::Error(e),
            };
            match pattern::match_pattern(resource, &p) {
                PatternResult::Pass => return Scope::Pass,
                PatternResult::Skip(_) => {}
                PatternResult::Fail(path) => {
                    failures.push(format!(
                        "rule {}[{i}] failed at path {}",
                        self.name,
                        pattern::kyverno_path(&path)
                    ));
                    first_path.get_or_insert(path);
                }
            }
        }
        if failures.is_empty() {
            Scope::Skip("all anyPattern entries were skipped".into())
        } else {
            Scope::Fail(failures.join(" "), first_path)
        }
    }

    fn foreach(
        &self,
        entries: &[Value],
        resource: &Value,
        ctx: &mut Cow<'_, Value>,
        limits: &Limits,
        depth: usize,
    ) -> Scope {
        if depth > 8 {
            return Scope::Error("foreach nested more than 8 levels".into());
        }
        let mut applied = false;
        let mut list_error = None;
        for entry in entries {
            let raw = entry.get("list").and_then(Value::as_str).unwrap_or("");
            let expr = match variables::substitute_str(raw, ctx, limits) {
                Ok(Value::String(s)) => s,
                _ => raw.to_string(),
            };
            let list = match jmespath::search(expr.trim(), ctx, limits) {
                Ok(Value::Array(items)) => items,
                Ok(Value::Null) | Err(jmespath::EvalError::UnknownKey(_)) => continue,
                Ok(other) => vec![other],
                Err(e) => {
                    list_error
                        .get_or_insert(format!("failed to evaluate foreach list `{expr}`: {e}"));
                    continue;
                }
            };
            let touched = touched_keys(entry, depth);
            for (i, element) in list.iter().enumerate().filter(|(_, e)| !e.is_null()) {
                let scoped = match entry.get("elementScope").and_then(Value::as_bool) {
                    Some(true) if !element.is_object() => {
                        return Scope::Error(
                            "elementScope requires the foreach elements to be objects".into(),
                        );
                    }
                    Some(scope) => scope,
                    None => element.is_object(),
                };
                // Only what an element can change is saved and put back, not the whole context
                // (a copy per element made a foreach quadratic).
                let saved: Vec<(String, Option<Value>)> =
                    touched.iter().map(|k| (k.clone(), ctx.get(k).cloned())).collect();
                if let Some(obj) = ctx.to_mut().as_object_mut() {
                    obj.insert("element".into(), element.clone());
                    obj.insert("elementIndex".into(), Value::from(i));
                    obj.insert(format!("element{depth}"), element.clone());
                    obj.insert(format!("elementIndex{depth}"), Value::from(i));
                }
                let result = self.foreach_element(
                    entry,
                    if scoped { element } else { resource },
                    ctx,
                    limits,
                    depth,
                );
                if let Some(obj) = ctx.to_mut().as_object_mut() {
                    for (key, before) in saved {
                        match before {
                            Some(v) => obj.insert(key, v),
                            None => obj.remove(&key),
                        };
                    }
                }
                match result {
                    Scope::Skip(_) | Scope::NoElements => {}
                    Scope::Pass => applied = true,
                    Scope::Fail(m, path) => {
                        let path = path.map(|p| if scoped { element_path(&expr, i, p) } else { p });
                        return Scope::Fail(m, path);
                    }
                    Scope::Error(e) => return Scope::Error(e),
                }
            }
        }
        match (applied, list_error) {
            (true, _) => Scope::Pass,
            (false, Some(e)) => Scope::Error(e),
            (false, None) => Scope::NoElements,
        }
    }

    fn foreach_element(
        &self,
        entry: &Value,
        target: &Value,
        ctx: &mut Cow<'_, Value>,
        limits: &Limits,
        depth: usize,
    ) -> Scope {
        if let Some(entries) = entry.get("context").and_then(Value::as_array) {
            if let Err(e) = context::load(
                entries,
                ctx.to_mut(),
                &Request { limits: *limits, ..Request::default() },
            ) {
                return Scope::Error(format!("failed to load context: {e}"));
            }
        }
        if let Some(pre) = entry.get("preconditions") {
            // An element whose preconditions fail, or cannot be evaluated, is skipped.
            if !matches!(conditions::evaluate(pre, ctx, limits), Ok((true, _))) {
                return Scope::Skip("preconditions not met".into());
            }
        }
        self.validate_scope(entry, target, ctx, limits, depth + 1)
    }
}

/// The top-level context keys an element of a foreach entry can change: its bindings, and the
/// first segment of each of its context entries' names.
pub(super) fn touched_keys(entry: &Value, depth: usize) -> Vec<String> {
    let mut keys = vec![
        "element".to_string(),
        "elementIndex".to_string(),
        format!("element{depth}"),
        format!("elementIndex{depth}"),
    ];
    for e in entry.get("context").and_then(Value::as_array).into_iter().flatten() {
        if let Some(name) = e.get("name").and_then(Value::as_str) {
            keys.push(name.split('.').next().unwrap_or(name).to_string());
        }
    }
    keys.sort();
    keys.dedup();
    keys
}

/// `validate.podSecurity`: the Pod Security Standards at a level, less the excluded checks.
fn pod_security(ps: &Value, resource: &Value) -> Scope {
    let level = ps.get("level").and_then(Value::as_str).unwrap_or("baseline");
    let version = match ps.get("version") {
        None | Some(Value::Null) => "latest",
        Some(Value::String(v)) => v.as_str(),
        Some(other) => {
            return Scope::Error(format!(
                "podSecurity version `{other}` is not `latest` or `v1.N` (a string)"
            ))
        }
    };
    if !matches!(level, "baseline" | "restricted" | "privileged") {
        return Scope::Error(format!("unknown podSecurity level `{level}`"));
    }
    let minor = match pss::parse_version(version) {
        Ok(minor) => minor,
        Err(e) => return Scope::Error(e),
    };
    let excludes = ps.get("exclude").and_then(Value::as_array).map_or(&[][..], Vec::as_slice);
    let failed: Vec<pss::Violation> = pss::evaluate_version(level, minor, resource)
        .into_iter()
        .filter(|v| !pss::excluded(v, excludes))
        .collect();
    let Some(first) = failed.first() else { return Scope::Pass };
    let mut controls: Vec<&str> = failed.iter().map(|v| v.control).collect();
    controls.dedup();
    let message = format!("violates PodSecurity \"{level}:{version}\": ({})", controls.join(", "));
    Scope::Fail(message, Some(first.path.clone()))
}

/// Substitutes `{{@}}` and `{{ }}` variables in a pattern (one without any is used as it is).
fn with_variables<'p>(
    pattern: &'p Value,
    resource: &Value,
    ctx: &Value,
    limits: &Limits,
) -> Result<Cow<'p, Value>, String> {
    if !variables::contains_variable(pattern) {
        return Ok(Cow::Borrowed(pattern));
    }
    let referenced = variables::resolve_references(pattern)
        .map_err(|e| format!("variable substitution failed: {e}"))?;
    let at = variables::substitute_at(&referenced, resource);
    variables::substitute(&at, ctx, limits)
        .map(Cow::Owned)
        .map_err(|e| format!("variable substitution failed: {e}"))
}

/// The resource path of a failure inside a foreach element, when the list is a plain path
/// under `request.object` (`request.object.spec.containers` → `spec/containers/<i>/…`).
fn element_path(list: &str, index: usize, inner: Vec<String>) -> Vec<String> {
    let Some(rest) = list.trim().strip_prefix("request.object.") else { return inner };
    if !rest.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_') {
        return inner;
    }
    let mut path: Vec<String> = rest.split('.').map(String::from).collect();
    path.push(index.to_string());
    path.extend(inner);
    path
}

/// The outcome of one validate scope.
enum Scope {
    Pass,
    Skip(String),
    /// Extra message and the failing path, when known.
    Fail(String, Option<Vec<String>>),
    Error(String),
    /// A foreach found no element to check.
    NoElements,
}
