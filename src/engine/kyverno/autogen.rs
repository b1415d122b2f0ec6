//! Autogen: the `autogen-` and `autogen-cronjob-` rules Kyverno derives for pod controllers
//! from a rule that matches Pods (kyverno-compat.md, 11).

use crate::pointer::Pointer as _;
use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{json, Value};

use super::compile::compile_rule;
use super::policy::{PolicyError, POD_CONTROLLERS};
use super::rule::{CelRule, Rule};

impl Rule {
    /// The CEL of an autogen rule: the original's, with `object.spec` (and `metadata`) moved to
    /// the pod template of the controller (kyverno-compat.md, 11 and 16).
    pub(super) fn autogen_cel(&mut self, original: &Rule) -> Result<(), PolicyError> {
        let Some(cel) = &original.cel else { return Ok(()) };
        let cronjob = self.name.starts_with("autogen-cronjob-");
        let template = if cronjob { "spec.jobTemplate.spec.template" } else { "spec.template" };
        let rewritten = cel
            .program
            .for_pod_template(template, false)
            .map_err(|e| PolicyError { pos: Some(e.pos), message: e.message })?;
        self.cel = Some(CelRule { program: Arc::new(rewritten), ..cel.clone() });
        Ok(())
    }
}

pub(super) fn filters(block: &Value) -> Vec<&Value> {
    let Some(obj) = block.as_object() else { return Vec::new() };
    let mut out = Vec::new();
    for key in ["any", "all"] {
        if let Some(list) = obj.get(key).and_then(Value::as_array) {
            out.extend(list.iter());
        }
    }
    if obj.contains_key("resources") {
        out.push(block);
    }
    out
}

pub(super) fn filter_kinds(filter: &Value) -> Vec<&str> {
    filter
        .at("/resources/kinds")
        .and_then(Value::as_array)
        .map(|k| k.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

pub(super) fn kind_name(selector: &str) -> &str {
    selector.rsplit('/').next().unwrap_or(selector)
}

/// The controllers autogen applies to, or `None` (kyverno-compat.md, 11.1).
pub(super) fn autogen_controllers(
    annotations: &BTreeMap<String, String>,
    rules: &[&Value],
) -> Option<Vec<String>> {
    let mut controllers: Vec<String> = POD_CONTROLLERS.iter().map(|s| (*s).to_string()).collect();
    if let Some(list) = annotations.get("pod-policies.kyverno.io/autogen-controllers") {
        if list.trim() == "none" {
            return None;
        }
        controllers =
            list.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect();
    }
    let mut mentions = false;
    for rule in rules {
        if rule.get("generate").is_some() || rule.to_string().contains("patchesJson6902") {
            return None;
        }
        for block in ["match", "exclude"].iter().filter_map(|k| rule.get(*k)) {
            for f in filters(block) {
                let r = f.get("resources");
                if ["name", "names", "selector", "annotations"]
                    .iter()
                    .any(|k| r.and_then(|r| r.get(*k)).is_some())
                {
                    return None;
                }
                let kinds = filter_kinds(f);
                if kinds.len() > 1 && kinds.iter().any(|k| kind_name(k) == "Pod") {
                    return None;
                }
                if kinds
                    .iter()
                    .any(|k| kind_name(k) == "Pod" || POD_CONTROLLERS.contains(&kind_name(k)))
                {
                    mentions = true;
                }
            }
        }
    }
    mentions.then_some(controllers)
}

pub(super) fn truncate_name(name: String) -> String {
    if name.len() > 63 {
        name[..63].to_string()
    } else {
        name
    }
}

/// `autogen-R` and `autogen-cronjob-R` for a rule that matches Pods (kyverno-compat.md, 11.2).
pub(super) fn autogen_rules(rule: &Value, controllers: &[String]) -> Result<Vec<Rule>, String> {
    let matches_pod = rule.get("match").is_some_and(|m| {
        filters(m).iter().any(|f| filter_kinds(f).iter().any(|k| kind_name(k) == "Pod"))
    });
    if !matches_pod {
        return Ok(Vec::new());
    }
    let name = rule.get("name").and_then(Value::as_str).unwrap_or("");
    let mut out = Vec::new();
    let plain: Vec<&str> =
        controllers.iter().map(String::as_str).filter(|c| *c != "CronJob").collect();
    if !plain.is_empty() {
        let text = rule
            .to_string()
            .replace("request.object.spec", "request.object.spec.template.spec")
            .replace("request.object.metadata", "request.object.spec.template.metadata");
        let mut r: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
        rewrite_for_controllers(&mut r, &plain, |p| json!({"spec": {"template": p}}));
        r["name"] = Value::String(truncate_name(format!("autogen-{name}")));
        let mut compiled = compile_rule(&r)?;
        compiled.autogen = true;
        out.push(compiled);
    }
    if controllers.iter().any(|c| c == "CronJob") {
        let text = rule
            .to_string()
            .replace("request.object.spec", "request.object.spec.jobTemplate.spec.template.spec")
            .replace(
                "request.object.metadata",
                "request.object.spec.jobTemplate.spec.template.metadata",
            );
        let mut r: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
        rewrite_for_controllers(
            &mut r,
            &["CronJob"],
            |p| json!({"spec": {"jobTemplate": {"spec": {"template": p}}}}),
        );
        r["name"] = Value::String(truncate_name(format!("autogen-cronjob-{name}")));
        let mut compiled = compile_rule(&r)?;
        compiled.autogen = true;
        out.push(compiled);
    }
    Ok(out)
}

pub(super) fn rewrite_for_controllers(
    rule: &mut Value,
    controllers: &[&str],
    wrap: impl Fn(Value) -> Value,
) {
    for block in ["match", "exclude"] {
        let Some(b) = rule.get_mut(block) else { continue };
        let mut fix = |f: &mut Value| {
            if let Some(kinds) = f.pointer_mut("/resources/kinds") {
                let has_pod = kinds
                    .as_array()
                    .is_some_and(|k| k.iter().any(|k| k.as_str().map(kind_name) == Some("Pod")));
                if has_pod {
                    *kinds = json!(controllers);
                }
            }
        };
        for key in ["any", "all"] {
            if let Some(list) = b.get_mut(key).and_then(Value::as_array_mut) {
                list.iter_mut().for_each(&mut fix);
            }
        }
        if b.get("resources").is_some() {
            fix(b);
        }
    }
    if let Some(m) = rule.get_mut("mutate") {
        super::mutate::wrap_for_controllers(m, &wrap);
    }
    if let Some(v) = rule.get_mut("validate") {
        if let Some(p) = v.get_mut("pattern") {
            *p = wrap(p.take());
        }
        if let Some(list) = v.get_mut("anyPattern").and_then(Value::as_array_mut) {
            for p in list {
                *p = wrap(p.take());
            }
        }
    }
}
