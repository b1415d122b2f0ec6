//! Compiling policy documents: checked once, errors at the line that causes them.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;

use super::autogen::{autogen_controllers, autogen_rules};
use super::policy::{Policy, PolicyError, PolicyKind};
use super::rule::{CelRule, Rule, RuleBody};
use super::{cel, conditions, jmespath, variables, vpol};
use crate::engine::cel::admission::Program;
use crate::load::source::Pos;
use crate::load::{Node, Value as LoadValue};

/// The text annotations of a policy document.
pub(super) fn annotations(root: &Node) -> BTreeMap<String, String> {
    root.at(&["metadata", "annotations"])
        .and_then(Node::as_map)
        .map(|entries| {
            entries
                .iter()
                .filter_map(|e| Some((e.key.as_str().to_owned(), e.value.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

pub(super) fn err(node: &Node, message: impl Into<String>) -> PolicyError {
    PolicyError { pos: Some(node.span.start()), message: message.into() }
}

impl Policy {
    /// Compiles a policy document.
    pub fn from_node(root: &Node) -> Result<Policy, PolicyError> {
        let api = root.get("apiVersion").and_then(Node::as_str).unwrap_or("");
        let kind = root.get("kind").and_then(Node::as_str).unwrap_or("");
        let name = root
            .at(&["metadata", "name"])
            .and_then(Node::as_str)
            .ok_or_else(|| err(root, "policy has no metadata.name"))?
            .to_string();
        let annotations = annotations(root);
        let policy_kind = if api.starts_with("policies.kyverno.io/") {
            PolicyKind::Cel(kind.to_string())
        } else if kind == "Policy" {
            let namespace =
                root.at(&["metadata", "namespace"]).and_then(Node::as_str).unwrap_or("default");
            PolicyKind::Policy { namespace: namespace.to_string() }
        } else {
            PolicyKind::ClusterPolicy
        };
        let mut policy = Policy {
            name,
            kind: policy_kind,
            failure_action: "Audit".into(),
            annotations,
            apply_one: false,
            rules: Vec::new(),
            cel: None,
        };
        if matches!(policy.kind, PolicyKind::Cel(_)) {
            if matches!(
                kind,
                "ValidatingPolicy"
                    | "NamespacedValidatingPolicy"
                    | "ImageValidatingPolicy"
                    | "NamespacedImageValidatingPolicy"
            ) {
                let compiled = vpol::compile(root, kind)?;
                if compiled.denies() {
                    policy.failure_action = "Enforce".into();
                }
                policy.cel = Some(Arc::new(compiled));
            } else if matches!(
                kind,
                "MutatingPolicy"
                    | "NamespacedMutatingPolicy"
                    | "GeneratingPolicy"
                    | "NamespacedGeneratingPolicy"
                    | "DeletingPolicy"
                    | "NamespacedDeletingPolicy"
            ) {
                policy.cel = Some(Arc::new(vpol::compile(root, kind)?));
            }
            return Ok(policy);
        }
        let spec = root.get("spec").ok_or_else(|| err(root, "policy has no spec"))?;
        if let Some(a) = spec.get("validationFailureAction").and_then(Node::as_str) {
            policy.failure_action = a.to_string();
        }
        policy.apply_one = spec.get("applyRules").and_then(Node::as_str) == Some("One");
        let rules_node = spec.get("rules").ok_or_else(|| err(spec, "spec.rules is missing"))?;
        let rules =
            rules_node.as_seq().ok_or_else(|| err(rules_node, "spec.rules must be a list"))?;
        let mut originals = Vec::new();
        for r in rules {
            let json = r.to_json();
            let mut rule = compile_rule(&json).map_err(|m| err(r, m))?;
            check_rule(r, &rule.name)?;
            rule.attach_cel(r)?;
            originals.push((rule, json));
        }
        let autogen = autogen_controllers(
            &policy.annotations,
            &originals.iter().map(|(_, j)| j).collect::<Vec<_>>(),
        );
        let mut generated = Vec::new();
        if let Some(controllers) = autogen {
            for (rule, json) in &originals {
                let mut rules =
                    autogen_rules(json, &controllers).map_err(|m| err(rules_node, m))?;
                for generated_rule in &mut rules {
                    generated_rule.autogen_cel(rule)?;
                }
                generated.extend(rules);
            }
        }
        policy.rules = originals.into_iter().map(|(r, _)| r).chain(generated).collect();
        let ignore = spec.get("failurePolicy").and_then(Node::as_str) == Some("Ignore");
        for cel in policy.rules.iter_mut().filter_map(|r| r.cel.as_mut()) {
            cel.errors_ignored = ignore;
        }
        Ok(policy)
    }
}

impl Rule {
    /// Compiles the rule's `celPreconditions` and `validate.cel` from its node.
    pub(super) fn attach_cel(&mut self, node: &Node) -> Result<(), PolicyError> {
        let cel_node = node.at(&["validate", "cel"]);
        if cel_node.is_none() && node.get("celPreconditions").is_none() {
            return Ok(());
        }
        let program =
            Program::from_nodes(cel_node, "expressions", Some((node, "celPreconditions")))
                .map_err(|e| PolicyError {
                    pos: Some(e.pos),
                    message: format!("rule `{}`: {}", self.name, e.message),
                })?;
        self.cel = Some(CelRule {
            program: Arc::new(program),
            validates: cel_node.is_some(),
            errors_ignored: false,
            params: cel_node.and_then(cel::ParamSpec::from_node),
        });
        Ok(())
    }
}

/// Compiles one rule from its JSON form (its shape; [`check_rule`] checks what it says).
pub(super) fn compile_rule(rule: &Value) -> Result<Rule, String> {
    let obj = rule.as_object().ok_or("a rule must be a mapping")?;
    let name = obj.get("name").and_then(Value::as_str).ok_or("a rule needs a name")?.to_string();
    let body = RuleBody::from_rule(obj).map_err(|e| format!("rule `{name}`: {e}"))?;
    let validate = obj.get("validate");
    let message =
        validate.and_then(|v| v.get("message")).and_then(Value::as_str).unwrap_or("").to_string();
    let failure_action =
        validate.and_then(|v| v.get("failureAction")).and_then(Value::as_str).map(String::from);
    let context = match obj.get("context") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(entries)) => entries.clone(),
        Some(_) => return Err(format!("rule `{name}`: context must be a list")),
    };
    let preconditions = obj.get("preconditions").cloned();
    let reads_context = !context.is_empty() || preconditions.is_some() || body.reads_context();
    Ok(Rule {
        cel: None,
        match_block: obj.get("match").cloned(),
        exclude_block: obj.get("exclude").cloned(),
        compiled_blocks: ["match", "exclude"]
            .map(|k| obj.get(k).and_then(super::matching::Block::compile)),
        context,
        preconditions,
        body,
        autogen: false,
        failure_action,
        message,
        name,
        adds_only: super::context::adds_only(rule),
        reads_context,
        reads: super::context::Reads::of(rule),
    })
}

/// Checks what a rule written in a policy says, each error at the node at fault: condition
/// operators in `validate` and `preconditions`, then every JMESPath expression.
fn check_rule(rule: &Node, name: &str) -> Result<(), PolicyError> {
    let at = |(pos, message): (Pos, String)| PolicyError {
        pos: Some(pos),
        message: format!("rule `{name}`: {message}"),
    };
    for block in ["validate", "preconditions"].iter().filter_map(|k| rule.get(k)) {
        check_operators(block).map_err(at)?;
    }
    check_expressions(rule).map_err(at)
}

/// Condition operators are checked when the policy is compiled: an unknown one is a policy
/// error at its `operator:` value, as Kyverno's policy validation makes it.
fn check_operators(v: &Node) -> Result<(), (Pos, String)> {
    match &v.value {
        LoadValue::Map(entries) => {
            if let (Some(op), true) = (v.get("operator"), v.get("key").is_some()) {
                if let Some(text) = op.as_str() {
                    conditions::apply(text, &Value::Null, &Value::Null)
                        .map_err(|e| (op.span.start(), e.to_string()))?;
                }
            }
            // Patterns have no operators; `validate.cel` has label selectors (`paramRef`),
            // whose `operator`s (`Exists`, …) are not conditions.
            entries
                .iter()
                .filter(|e| !matches!(&*e.key, "pattern" | "anyPattern" | "cel"))
                .try_for_each(|e| check_operators(&e.value))
        }
        LoadValue::Seq(items) => items.iter().try_for_each(check_operators),
        _ => Ok(()),
    }
}

/// Every JMESPath expression that can be known before evaluation parses, an error at the text
/// that holds it: `{{ }}` variables, foreach `list`s and context `jmesPath`s (kyverno-compat.md,
/// 7 and 9).
fn check_expressions(v: &Node) -> Result<(), (Pos, String)> {
    let check = |pos: Pos| {
        move |expr: &str| {
            jmespath::parse(expr)
                .map(|_| ())
                .map_err(|e| (pos, format!("invalid JMESPath `{expr}`: {e}")))
        }
    };
    match &v.value {
        LoadValue::Str(s) => {
            variables::plain_expressions(s).into_iter().try_for_each(check(v.span.start()))
        }
        LoadValue::Seq(items) => items.iter().try_for_each(check_expressions),
        LoadValue::Map(entries) => {
            for e in &**entries {
                if let (true, Some(expr)) =
                    (&*e.key == "list" || &*e.key == "jmesPath", e.value.as_str())
                {
                    if !expr.contains("{{") {
                        check(e.value.span.start())(expr.trim())?;
                    }
                }
                variables::plain_expressions(&e.key)
                    .into_iter()
                    .try_for_each(check(e.key_span.start()))?;
                check_expressions(&e.value)?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}
