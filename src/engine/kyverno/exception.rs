//! Kyverno `PolicyException` (`kyverno.io/v2`, `v2beta1`): rules of named policies that do not
//! apply to the resources an exception matches (and whose `conditions` hold).

use serde_json::Value;

use super::matching::{self, Admission};
use super::policy::PolicyError;
use super::{conditions, wildcard};
use crate::limits::Limits;
use crate::load::Node;

/// A compiled PolicyException.
#[derive(Clone, Debug)]
pub struct PolicyException {
    /// `namespace/name`, as Kyverno names an exception in its messages.
    pub label: String,
    /// (policy, rule name patterns): the policy as `name` (a ClusterPolicy) or
    /// `namespace/name` (a Policy).
    exceptions: Vec<(String, Vec<String>)>,
    match_block: Value,
    conditions: Option<Value>,
}

/// Whether a document is a Kyverno PolicyException.
#[must_use]
pub fn is_exception(root: &Node) -> bool {
    let text = |key: &str| root.get(key).and_then(Node::as_str).unwrap_or("");
    text("kind") == "PolicyException" && text("apiVersion").starts_with("kyverno.io/v2")
}

fn err(node: &Node, message: impl Into<String>) -> PolicyError {
    PolicyError { pos: Some(node.span.start), message: message.into() }
}

impl PolicyException {
    /// Compiles a PolicyException document.
    pub fn from_node(root: &Node) -> Result<PolicyException, PolicyError> {
        let text = |path: &[&str]| root.at(path).and_then(Node::as_str).unwrap_or("");
        let name = text(&["metadata", "name"]);
        if name.is_empty() {
            return Err(err(root, "a PolicyException needs metadata.name"));
        }
        let namespace = text(&["metadata", "namespace"]);
        let label =
            if namespace.is_empty() { name.to_string() } else { format!("{namespace}/{name}") };
        let spec = root.get("spec").ok_or_else(|| err(root, "a PolicyException needs a spec"))?;
        if let Some(ps) = spec.get("podSecurity") {
            return Err(err(
                ps,
                "spec.podSecurity (exempting Pod Security controls) is not supported yet",
            ));
        }
        let list = spec
            .get("exceptions")
            .and_then(Node::as_seq)
            .ok_or_else(|| err(spec, "spec.exceptions must be a list"))?;
        let mut exceptions = Vec::new();
        for entry in list {
            let policy = entry.get("policyName").and_then(Node::as_str).unwrap_or("");
            let rules: Vec<String> = entry
                .get("ruleNames")
                .and_then(Node::as_seq)
                .into_iter()
                .flatten()
                .filter_map(|r| r.as_str().map(String::from))
                .collect();
            if policy.is_empty() || rules.is_empty() {
                return Err(err(entry, "an exception needs a policyName and ruleNames"));
            }
            exceptions.push((policy.to_string(), rules));
        }
        let match_block = spec
            .get("match")
            .map(Node::to_json)
            .ok_or_else(|| err(spec, "a PolicyException needs spec.match"))?;
        let conditions = spec.get("conditions").map(Node::to_json);
        Ok(PolicyException { label, exceptions, match_block, conditions })
    }

    /// Whether it names this rule of this policy (`policy`: `name`, or `namespace/name` for a
    /// namespaced Policy); rule names may use `*` and `?`.
    #[must_use]
    pub fn names(&self, policy: &str, rule: &str) -> bool {
        self.exceptions
            .iter()
            .any(|(p, rules)| p == policy && rules.iter().any(|r| wildcard::matches(r, rule)))
    }

    /// Whether it matches a resource under an admission request (`ctx`: the rule context, for
    /// `conditions`). Conditions that cannot be evaluated make it not apply, as Kyverno skips
    /// such an exception.
    #[must_use]
    pub fn matches(&self, adm: &Admission<'_>, ctx: &Value, limits: &Limits) -> bool {
        if !matching::matches(&self.match_block, adm).unwrap_or(false) {
            return false;
        }
        match &self.conditions {
            Some(c) => matches!(conditions::evaluate(c, ctx, limits), Ok((true, _))),
            None => true,
        }
    }
}
