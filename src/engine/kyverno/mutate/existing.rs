//! Mutate existing: a mutate rule with `targets` patches other objects of the cluster when its
//! trigger is admitted, as Kyverno's mutate-existing handler does (`kyverno test` runs it on
//! the test's `targetResources`). The trigger itself is left as it was.
//!
//! Each target entry's selector (`apiVersion`, `kind`, `namespace`, `name`, `selector`) has its
//! variables substituted; the objects it selects are patched one by one with `target` in the
//! context, after the entry's own `context` and `preconditions`.

use crate::pointer::Pointer as _;
use serde_json::Value;

use super::super::response::{RuleResponse, Status};
use super::super::rule::Rule;
use super::super::{conditions, context, matching, policy::Request, variables, wildcard};
use crate::limits::Limits;

/// What a mutate-existing rule did: a response per target it reached (with the patched target
/// when it changed it), or per target entry that failed.
pub(in crate::engine::kyverno) type Patches = Vec<(RuleResponse, Option<Value>)>;

/// Which objects one target entry selects.
struct Selector {
    api_version: String,
    group: String,
    version: String,
    kind: String,
    namespace: String,
    name: String,
    labels: Option<Value>,
}

impl Rule {
    /// Runs a mutate rule with `targets` on the objects it selects among `candidates`, in the
    /// rule's context `ctx` (the trigger's, after the rule's context and preconditions).
    /// `policy_namespace` confines a namespaced Policy's targets to its namespace.
    pub(in crate::engine::kyverno) fn mutate_existing(
        &self,
        block: &Value,
        ctx: &Value,
        request: &Request<'_>,
        policy_namespace: Option<&str>,
    ) -> Patches {
        let Some(candidates) = request.targets else {
            let why = "a mutate rule with `targets` (mutate existing) is not supported yet";
            return vec![(self.error(why.into()), None)];
        };
        let Some(entries) = block.get("targets").and_then(Value::as_array) else {
            return vec![(self.error("mutate.targets must be a list".into()), None)];
        };
        // The patch is what the block holds besides its targets.
        let mut patch = block.clone();
        if let Some(obj) = patch.as_object_mut() {
            obj.remove("targets");
        }
        let limits = &request.limits;
        let mut out = Vec::new();
        for (i, entry) in entries.iter().enumerate() {
            let selector = match resolve(i, entry, ctx, limits, policy_namespace) {
                Ok(s) => s,
                Err(e) => {
                    out.push((self.error(e), None));
                    continue;
                }
            };
            let found = match selector.select(candidates) {
                Ok(found) => found,
                Err(e) => {
                    out.push((self.error(e), None));
                    continue;
                }
            };
            for target in found {
                out.push(self.mutate_target(&patch, entry, target, ctx, limits));
            }
        }
        out
    }

    /// One target: `target` in the context, the entry's context and preconditions, the patch.
    fn mutate_target(
        &self,
        patch: &Value,
        entry: &Value,
        target: &Value,
        ctx: &Value,
        limits: &Limits,
    ) -> (RuleResponse, Option<Value>) {
        let mut ctx = ctx.clone();
        if let Some(obj) = ctx.as_object_mut() {
            obj.insert("target".into(), target.clone());
        }
        if let Some(entries) = entry.get("context").and_then(Value::as_array) {
            let request = Request { limits: *limits, ..Request::default() };
            if let Err(e) = context::load(entries, &mut ctx, &request) {
                return (self.error(format!("failed to load context: {e}")), None);
            }
        }
        if let Some(pre) = entry.get("preconditions") {
            match conditions::evaluate(pre, &ctx, limits) {
                Err(e) => {
                    return (self.error(format!("failed to evaluate preconditions: {e}")), None)
                }
                Ok((false, _)) => {
                    return (self.respond(Status::Skip, "preconditions not met".into(), None), None)
                }
                Ok((true, _)) => {}
            }
        }
        // A target that did not change comes back without a patched object, as in Kyverno.
        self.mutate(patch, target, &mut ctx, limits)
    }
}

/// A target entry's selector with its variables substituted (not its context or
/// preconditions, which are evaluated per target).
fn resolve(
    i: usize,
    entry: &Value,
    ctx: &Value,
    limits: &Limits,
    policy_namespace: Option<&str>,
) -> Result<Selector, String> {
    let Some(fields) = entry.as_object() else {
        return Err(format!("mutate.targets[{i}] must be a mapping"));
    };
    let mut spec = serde_json::Map::new();
    for key in ["apiVersion", "kind", "namespace", "name", "uid", "selector"] {
        if let Some(v) = fields.get(key) {
            spec.insert(key.into(), v.clone());
        }
    }
    let spec = variables::substitute(&Value::Object(spec), ctx, limits)
        .map_err(|e| format!("failed to substitute variables in target[{i}]: {e}"))?;
    let s = |key: &str| spec.get(key).and_then(Value::as_str).unwrap_or("").to_string();
    if !s("uid").is_empty() {
        return Err(format!("mutate.targets[{i}].uid is not supported yet"));
    }
    let api_version = s("apiVersion");
    let kind = s("kind");
    if kind.contains('/') || kind.contains('.') {
        return Err(format!(
            "mutate.targets[{i}]: the kind `{kind}` names a subresource or group: not supported yet"
        ));
    }
    if kind.is_empty() || api_version.is_empty() {
        return Err(format!("mutate.targets[{i}] needs `apiVersion` and `kind`"));
    }
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version.as_str()));
    let namespace = match policy_namespace {
        Some(ns) => ns.to_string(),
        None => s("namespace"),
    };
    Ok(Selector {
        api_version: api_version.clone(),
        group: group.to_string(),
        version: version.to_string(),
        kind,
        namespace,
        name: s("name"),
        labels: spec.get("selector").filter(|v| !v.is_null()).cloned(),
    })
}

impl Selector {
    /// The candidates it selects, by namespace and name. A name and namespace without
    /// wildcards is a GET: nothing found is an error, as the API server answers.
    fn select<'c>(&self, candidates: &'c [Value]) -> Result<Vec<&'c Value>, String> {
        let mut found = Vec::new();
        for c in candidates {
            let s = |ptr: &str| c.at(ptr).and_then(Value::as_str).unwrap_or("");
            let api_version = s("/apiVersion");
            let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
            if !wildcard::matches(&self.group, group)
                || !wildcard::matches(&self.version, version)
                || !wildcard::matches(&self.kind, s("/kind"))
                || !names_match(
                    &self.namespace,
                    &self.name,
                    s("/metadata/namespace"),
                    s("/metadata/name"),
                )
            {
                continue;
            }
            if let Some(selector) = &self.labels {
                let labels = super::super::string_map(c.at("/metadata/labels"));
                if !matching::selector_matches(selector, &labels, false)? {
                    continue;
                }
            }
            found.push(c);
        }
        let get = !self.namespace.is_empty()
            && !self.name.is_empty()
            && !wildcard::has_wildcard(&self.namespace)
            && !wildcard::has_wildcard(&self.name);
        if get && found.is_empty() {
            let plural = super::super::cel::plural(&self.api_version, &self.kind);
            return Err(format!("{plural} \"{}\" not found", self.name));
        }
        found.sort_by_key(|c| {
            let s = |ptr: &str| c.at(ptr).and_then(Value::as_str).unwrap_or("").to_string();
            (s("/metadata/namespace"), s("/metadata/name"))
        });
        Ok(found)
    }
}

/// Kyverno's target match: a namespace pattern, then a name pattern; empty matches all.
fn names_match(namespace_pattern: &str, name_pattern: &str, namespace: &str, name: &str) -> bool {
    match (namespace_pattern.is_empty(), name_pattern.is_empty()) {
        (true, true) => true,
        (true, false) => wildcard::matches(name_pattern, name),
        (false, _) => {
            wildcard::matches(namespace_pattern, namespace)
                && (name_pattern.is_empty() || wildcard::matches(name_pattern, name))
        }
    }
}
