//! Generate rules: the objects a rule creates for a trigger resource — from `data`, a `clone`
//! of one object, a `cloneList` of objects selected by kind and labels, or a `foreach` of
//! those — as Kyverno's background controller creates them (kyverno-compat.md, 17), offline:
//! the objects a clone reads come from `cluster` (the trigger, a test's
//! `cloneSourceResource`, or the linted tree).
//!
//! A rule's status is decided as Kyverno's background check decides it: a rule that does not
//! match gives no response, one whose preconditions hold passes (and generates), one whose
//! preconditions do not hold is skipped.

use crate::pointer::Pointer as _;
use serde_json::{json, Value};

use super::matching::selector_matches;
use super::policy::{admission, Request, POD_CONTROLLERS};
use super::response::{RuleResponse, Status};
use super::rule::{Rule, RuleBody};
use super::{conditions, context, string_map, variables, Policy};
use crate::limits::Limits;

/// The response of a generate rule and the objects it generated.
#[derive(Clone, Debug)]
pub struct Generated {
    pub response: RuleResponse,
    pub objects: Vec<Value>,
}

/// The label Kyverno puts on what it generates (tests compare it as Kyverno's CLI does).
const MANAGED_BY: (&str, &str) = ("app.kubernetes.io/managed-by", "kyverno");

impl Policy {
    /// Whether the policy generates: generate rules, or a GeneratingPolicy.
    #[must_use]
    pub fn has_generate(&self) -> bool {
        self.cel.as_ref().is_some_and(|c| matches!(c.role, super::vpol::Role::Generate(_)))
            || self.rules.iter().any(Rule::is_generate)
    }

    /// The kinds the policy's `clone` and `cloneList` rules copy objects of (a clone reads the
    /// objects of these kinds).
    #[must_use]
    pub fn clone_kinds(&self) -> Vec<String> {
        let mut out = Vec::new();
        for rule in &self.rules {
            let RuleBody::Generate(block) = &rule.body else { continue };
            let entries = block.get("foreach").and_then(Value::as_array);
            for g in entries.map_or_else(|| vec![block], |e| e.iter().collect()) {
                if g.get("clone").is_some() {
                    if let Some(kind) = g.get("kind").and_then(Value::as_str) {
                        out.push(kind.to_string());
                    }
                }
                let kinds = g.at("/cloneList/kinds").and_then(Value::as_array);
                for k in kinds.into_iter().flatten().filter_map(Value::as_str) {
                    out.push(k.rsplit('/').next().unwrap_or(k).to_string());
                }
            }
        }
        out
    }

    /// Runs the generate rules on a trigger resource; `cluster` holds the objects clones read.
    #[must_use]
    pub fn generate(
        &self,
        resource: &Value,
        request: &Request<'_>,
        cluster: &[Value],
    ) -> Vec<Generated> {
        if let Some(cel) = &self.cel {
            if let Some(response) = self.cel_excepted(resource, request) {
                return vec![Generated { response, objects: Vec::new() }];
            }
            return cel.generate(resource, request).into_iter().collect();
        }
        let adm = admission(resource, request);
        if let super::PolicyKind::Policy { namespace } = &self.kind {
            if adm.namespace != namespace {
                return Vec::new();
            }
        }
        let mut out = Vec::new();
        for rule in self.rules.iter().filter(|r| r.is_generate()) {
            if rule.autogen && !POD_CONTROLLERS.contains(&adm.kind) {
                continue;
            }
            let respond = |status, message: String| RuleResponse {
                rule: rule.name.clone(),
                status,
                message,
                path: None,
            };
            match rule.applies(&adm) {
                Ok(false) => continue,
                Err(message) => {
                    out.push(Generated {
                        response: respond(Status::Error, message),
                        objects: Vec::new(),
                    });
                    continue;
                }
                Ok(true) => {}
            }
            let exceptions = request.exceptions.unwrap_or(&[]);
            let keys = self.excepted_by(exceptions, &rule.name, resource, request);
            if !keys.is_empty() {
                let why = format!("rule is skipped due to policy exception {}", keys.join(", "));
                out.push(Generated { response: respond(Status::Skip, why), objects: Vec::new() });
                continue;
            }
            let mut ctx = context::base(resource, request, &adm);
            if let Some(values) = request.values {
                if let Err(e) = values.inject(&self.name, &rule.name, &mut ctx) {
                    out.push(Generated {
                        response: respond(Status::Error, e),
                        objects: Vec::new(),
                    });
                    continue;
                }
            }
            // A context that cannot be loaded: no response, as in Kyverno's background check.
            if context::load(&rule.context, &mut ctx, request).is_err() {
                continue;
            }
            let held = match &rule.preconditions {
                None => Ok(true),
                Some(pre) => conditions::evaluate(pre, &ctx, &request.limits).map(|(ok, _)| ok),
            };
            let generated = match held {
                Err(e) => Generated {
                    response: respond(Status::Error, format!("failed to evaluate conditions: {e}")),
                    objects: Vec::new(),
                },
                Ok(false) => Generated {
                    response: respond(Status::Skip, String::new()),
                    objects: Vec::new(),
                },
                Ok(true) => {
                    let RuleBody::Generate(block) = &rule.body else { continue };
                    match rule_objects(block, &mut ctx, &request.limits, cluster) {
                        Ok(objects) => {
                            Generated { response: respond(Status::Pass, String::new()), objects }
                        }
                        // Kyverno reports the rule as it was decided and generates nothing.
                        Err(e) => Generated {
                            response: respond(Status::Pass, format!("generating failed: {e}")),
                            objects: Vec::new(),
                        },
                    }
                }
            };
            let applied = generated.response.status != Status::Skip;
            out.push(generated);
            if self.apply_one && applied {
                break;
            }
        }
        out
    }
}

/// The objects of a generate block: its `foreach` entries', or its own.
fn rule_objects(
    block: &Value,
    ctx: &mut Value,
    limits: &Limits,
    cluster: &[Value],
) -> Result<Vec<Value>, String> {
    let Some(entries) = block.get("foreach") else {
        return objects(block, ctx, limits, cluster);
    };
    let entries = entries.as_array().ok_or("generate.foreach must be a list")?;
    let mut out = Vec::new();
    for entry in entries {
        let raw = entry.get("list").and_then(Value::as_str).unwrap_or("");
        let expr = match variables::substitute_str(raw, ctx, limits).map_err(|e| e.to_string())? {
            Value::String(s) => s,
            _ => raw.to_string(),
        };
        let elements = match super::jmespath::search(expr.trim(), ctx, limits) {
            Ok(Value::Array(items)) => items,
            Ok(Value::Null) | Err(super::jmespath::EvalError::UnknownKey(_)) => Vec::new(),
            Ok(other) => vec![other],
            Err(e) => return Err(format!("failed to evaluate list {raw}: {e}")),
        };
        let touched = super::validate::touched_keys(entry, 0);
        let saved: Vec<(String, Option<Value>)> =
            touched.iter().map(|k| (k.clone(), ctx.get(k).cloned())).collect();
        for (index, element) in elements.iter().enumerate().filter(|(_, e)| !e.is_null()) {
            if let Some(obj) = ctx.as_object_mut() {
                obj.insert("element".into(), element.clone());
                obj.insert("elementIndex".into(), Value::from(index));
                obj.insert("element0".into(), element.clone());
                obj.insert("elementIndex0".into(), Value::from(index));
            }
            if let Some(entries) = entry.get("context").and_then(Value::as_array) {
                let request = Request { limits: *limits, ..Request::default() };
                context::load(entries, ctx, &request).map_err(|e| {
                    format!("failed to load generate.foreach[{index}].context: {e}")
                })?;
            }
            let held = match entry.get("preconditions") {
                None => true,
                Some(pre) => {
                    conditions::evaluate(pre, ctx, limits)
                        .map_err(|e| {
                            format!(
                                "failed to evaluate generate.foreach[{index}].preconditions: {e}"
                            )
                        })?
                        .0
                }
            };
            if held {
                out.extend(objects(entry, ctx, limits, cluster)?);
            }
        }
        if let Some(obj) = ctx.as_object_mut() {
            for (key, before) in saved {
                match before {
                    Some(v) => obj.insert(key, v),
                    None => obj.remove(&key),
                };
            }
        }
    }
    Ok(out)
}

/// The objects one generate pattern (variables substituted) makes.
fn objects(
    pattern: &Value,
    ctx: &Value,
    limits: &Limits,
    cluster: &[Value],
) -> Result<Vec<Value>, String> {
    let mut pattern = pattern.clone();
    if let Some(obj) = pattern.as_object_mut() {
        // Only the pattern is substituted, not the nested foreach of a rule.
        obj.remove("foreach");
        obj.remove("list");
        obj.remove("context");
        obj.remove("preconditions");
    }
    let p = variables::substitute(&pattern, ctx, limits)
        .map_err(|e| format!("variable substitution failed: {e}"))?;
    let s = |key: &str| p.get(key).and_then(Value::as_str).unwrap_or("").to_string();
    let target = Target {
        api_version: s("apiVersion"),
        kind: s("kind"),
        namespace: s("namespace"),
        name: s("name"),
    };
    if let Some(clone) = p
        .get("clone")
        .filter(|c| c.get("name").and_then(Value::as_str).is_some_and(|n| !n.is_empty()))
    {
        let source = Target {
            namespace: clone.get("namespace").and_then(Value::as_str).unwrap_or("").into(),
            name: clone.get("name").and_then(Value::as_str).unwrap_or("").into(),
            ..target.clone()
        };
        return Ok(clone_of(&source, &target, cluster)?.into_iter().collect());
    }
    if let Some(list) = p
        .get("cloneList")
        .filter(|l| l.get("kinds").and_then(Value::as_array).is_some_and(|k| !k.is_empty()))
    {
        return clone_list(list, &target.namespace, cluster);
    }
    let Some(data) = p.get("data").filter(|d| !d.is_null()) else { return Ok(Vec::new()) };
    let Value::Object(_) = data else { return Err("generate.data must be a mapping".into()) };
    // An object that exists already is updated only when the rule synchronizes.
    let synchronize = p.get("synchronize").and_then(Value::as_bool).unwrap_or(false);
    if target.find(cluster).is_some() && !synchronize {
        return Ok(Vec::new());
    }
    let mut object = data.clone();
    target.stamp(&mut object, true);
    Ok(vec![object])
}

/// Where a generated object goes (or a clone comes from).
#[derive(Clone, Debug)]
struct Target {
    api_version: String,
    kind: String,
    namespace: String,
    name: String,
}

impl Target {
    fn find<'c>(&self, cluster: &'c [Value]) -> Option<&'c Value> {
        cluster.iter().find(|o| {
            let s = |p: &str| o.at(p).and_then(Value::as_str).unwrap_or("");
            s("/kind") == self.kind
                && (self.api_version.is_empty() || s("/apiVersion") == self.api_version)
                && s("/metadata/namespace") == self.namespace
                && s("/metadata/name") == self.name
        })
    }

    /// Puts the target's identity (and Kyverno's managed-by label) on a generated object; the
    /// kind the object has wins when `keep_kind`, as Kyverno keeps a `data` kind.
    fn stamp(&self, object: &mut Value, keep_kind: bool) {
        let Some(obj) = object.as_object_mut() else { return };
        if !keep_kind || obj.get("kind").and_then(Value::as_str).is_none_or(str::is_empty) {
            obj.insert("kind".into(), Value::String(self.kind.clone()));
        }
        obj.insert("apiVersion".into(), Value::String(self.api_version.clone()));
        let meta = obj.entry("metadata").or_insert_with(|| json!({}));
        if !meta.is_object() {
            *meta = json!({});
        }
        meta["name"] = Value::String(self.name.clone());
        if self.namespace.is_empty() {
            if let Some(m) = meta.as_object_mut() {
                m.remove("namespace");
            }
        } else {
            meta["namespace"] = Value::String(self.namespace.clone());
        }
        let labels = meta.as_object_mut().and_then(|m| {
            let l = m.entry("labels").or_insert_with(|| json!({}));
            l.as_object_mut()
        });
        if let Some(labels) = labels {
            labels.insert(MANAGED_BY.0.into(), Value::String(MANAGED_BY.1.into()));
        }
    }
}

/// A copy of `source` as `target` (its server-set fields dropped; owner references too when
/// the namespace changes); `None` for a clone onto itself. A missing source is an error.
fn clone_of(source: &Target, target: &Target, cluster: &[Value]) -> Result<Option<Value>, String> {
    if source.namespace == target.namespace && source.name == target.name {
        return Ok(None);
    }
    let found = source.find(cluster).ok_or_else(|| {
        format!(
            "source resource {}/{} `{}/{}` not found",
            source.api_version, source.kind, source.namespace, source.name
        )
    })?;
    let mut copy = found.clone();
    if let Some(meta) = copy.get_mut("metadata").and_then(Value::as_object_mut) {
        for key in ["uid", "selfLink", "creationTimestamp", "managedFields", "resourceVersion"] {
            meta.remove(key);
        }
        if source.namespace != target.namespace {
            meta.remove("ownerReferences");
        }
    }
    let target = Target {
        api_version: found
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or(&target.api_version)
            .into(),
        ..target.clone()
    };
    target.stamp(&mut copy, false);
    Ok(Some(copy))
}

/// `cloneList`: every object of the listed kinds in the source namespace that the selector
/// selects, cloned into `namespace` (none from that namespace itself).
fn clone_list(list: &Value, namespace: &str, cluster: &[Value]) -> Result<Vec<Value>, String> {
    let source_ns = list.get("namespace").and_then(Value::as_str).unwrap_or("");
    let selector = list.get("selector");
    let mut out = Vec::new();
    for kind in list.get("kinds").and_then(Value::as_array).into_iter().flatten() {
        let kind = kind.as_str().unwrap_or("");
        let (api_version, kind) = kind.rsplit_once('/').unwrap_or(("", kind));
        for source in cluster {
            let s = |p: &str| source.at(p).and_then(Value::as_str).unwrap_or("");
            if s("/kind") != kind
                || (!api_version.is_empty() && s("/apiVersion") != api_version)
                || s("/metadata/namespace") != source_ns
            {
                continue;
            }
            if let Some(sel) = selector {
                if !selector_matches(sel, &string_map(source.at("/metadata/labels")), false)? {
                    continue;
                }
            }
            if source_ns == namespace {
                continue;
            }
            let from = Target {
                api_version: s("/apiVersion").into(),
                kind: kind.into(),
                namespace: source_ns.into(),
                name: s("/metadata/name").into(),
            };
            let to = Target { namespace: namespace.into(), ..from.clone() };
            out.extend(clone_of(&from, &to, cluster)?);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::tests::policy;
    use super::super::{Request, Status};

    const HEAD: &str = "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata: {name: g}\nspec:\n  rules:\n  - name: r\n    match: {any: [{resources: {kinds: [Namespace]}}]}\n";

    fn namespace(name: &str, labels: &serde_json::Value) -> serde_json::Value {
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}})
    }

    #[test]
    fn data_makes_an_object_for_the_trigger() {
        let p = policy(&format!("{HEAD}    preconditions:\n      all:\n      - {{key: \"{{{{request.object.metadata.labels.skip || ''}}}}\", operator: NotEquals, value: \"yes\"}}\n    generate:\n      apiVersion: networking.k8s.io/v1\n      kind: NetworkPolicy\n      name: default-deny\n      namespace: \"{{{{request.object.metadata.name}}}}\"\n      data:\n        spec: {{podSelector: {{}}, policyTypes: [Ingress]}}\n"));
        let out = p.generate(&namespace("team-a", &json!({})), &Request::default(), &[]);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].response.status, Status::Pass);
        let np = &out[0].objects[0];
        assert_eq!(np["kind"], "NetworkPolicy");
        assert_eq!(np["metadata"]["namespace"], "team-a");
        assert_eq!(np["metadata"]["name"], "default-deny");
        assert_eq!(np["metadata"]["labels"]["app.kubernetes.io/managed-by"], "kyverno");
        assert_eq!(np["spec"]["policyTypes"], json!(["Ingress"]));
        // Preconditions that do not hold: skip, nothing generated.
        let out = p.generate(&namespace("b", &json!({"skip": "yes"})), &Request::default(), &[]);
        assert_eq!((out[0].response.status, out[0].objects.len()), (Status::Skip, 0));
    }

    #[test]
    fn clones_copy_from_the_cluster() {
        let p = policy(&format!("{HEAD}    generate:\n      apiVersion: v1\n      kind: Secret\n      name: regcred\n      namespace: \"{{{{request.object.metadata.name}}}}\"\n      clone: {{namespace: default, name: regcred}}\n"));
        let source = json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "regcred", "namespace": "default", "uid": "1", "resourceVersion": "9"},
            "data": {"k": "dg=="}});
        let out = p.generate(
            &namespace("team-a", &json!({})),
            &Request::default(),
            std::slice::from_ref(&source),
        );
        let copy = &out[0].objects[0];
        assert_eq!(copy["metadata"]["namespace"], "team-a");
        assert_eq!(copy["data"], json!({"k": "dg=="}));
        assert!(
            copy["metadata"].get("uid").is_none()
                && copy["metadata"].get("resourceVersion").is_none()
        );
        // A missing source generates nothing, and says why.
        let out = p.generate(&namespace("team-a", &json!({})), &Request::default(), &[]);
        assert!(out[0].objects.is_empty());
        assert!(out[0].response.message.contains("not found"), "{}", out[0].response.message);
        // cloneList: by kind and selector, not from the namespace itself.
        let p = policy(&format!("{HEAD}    generate:\n      namespace: \"{{{{request.object.metadata.name}}}}\"\n      cloneList:\n        namespace: default\n        kinds: [v1/Secret, v1/ConfigMap]\n        selector: {{matchLabels: {{share: \"yes\"}}}}\n"));
        let mut shared = source.clone();
        shared["metadata"]["labels"] = json!({"share": "yes"});
        shared["metadata"]["name"] = json!("shared");
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "default", "labels": {"share": "yes"}}});
        let out = p.generate(
            &namespace("team-a", &json!({})),
            &Request::default(),
            &[source, shared, cm],
        );
        let names: Vec<_> = out[0]
            .objects
            .iter()
            .map(|o| o["metadata"]["name"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(names, ["shared", "c"]);
        assert!(p
            .generate(&namespace("default", &json!({})), &Request::default(), &[])
            .iter()
            .all(|g| g.objects.is_empty()));
    }
}
