//! Policy exceptions: Kyverno's `PolicyException` (`kyverno.io/v2`, `v2beta1`), which exempts
//! resources its `match` and `conditions` select from named rules of named policies, and the
//! CEL kind (`policies.kyverno.io`), which exempts resources its `matchConditions` select from
//! the CEL policies it references.

use std::sync::Arc;

use serde_json::Value;

use super::matching::{self, Admission};
use super::policy::{Policy, PolicyError, PolicyKind, Request};
use super::{cel, conditions, wildcard};
use crate::engine::cel::admission::{Outcome, Program};
use crate::load::Node;

/// A compiled policy exception.
#[derive(Clone, Debug)]
pub struct PolicyException {
    /// `namespace/name`, as Kyverno names an exception in its messages.
    pub label: String,
    what: Exempts,
}

#[derive(Clone, Debug)]
enum Exempts {
    /// `kyverno.io`: (policy, rule name patterns) — the policy as `name` (a ClusterPolicy) or
    /// `namespace/name` (a Policy) — on the resources `match` and `conditions` select.
    Rules { exceptions: Vec<(String, Vec<String>)>, match_block: Value, conditions: Option<Value> },
    /// `policies.kyverno.io`: the (kind, name) policies it references, on the resources its
    /// match conditions select; `pass` when its `reportResult` is `pass` (else skip).
    Policies { references: Vec<(String, String)>, conditions: Arc<Program>, pass: bool },
}

/// Whether a document is a policy exception of either kind.
#[must_use]
pub fn is_exception(root: &Node) -> bool {
    let text = |key: &str| root.get(key).and_then(Node::as_str).unwrap_or("");
    text("kind") == "PolicyException"
        && (text("apiVersion").starts_with("kyverno.io/v2")
            || text("apiVersion").starts_with("policies.kyverno.io/"))
}

/// How an exception that cannot be used is reported: its name (when it has one), then why.
#[must_use]
pub fn invalid_exception_message(root: &Node, error: &PolicyError) -> String {
    match root.at(&["metadata", "name"]).and_then(Node::as_str) {
        Some(name) => format!("invalid PolicyException `{name}`: {}", error.message),
        None => format!("invalid PolicyException: {}", error.message),
    }
}

fn err(node: &Node, message: impl Into<String>) -> PolicyError {
    PolicyError { pos: Some(node.span.start()), message: message.into() }
}

impl PolicyException {
    /// Compiles a policy exception document.
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
        let what = if text(&["apiVersion"]).starts_with("policies.kyverno.io/") {
            cel_exempts(spec)?
        } else {
            rules_exempts(spec)?
        };
        Ok(PolicyException { label, what })
    }

    /// Whether it names this rule of this policy (rule names may use `*` and `?`; a CEL
    /// exception names whole policies).
    #[must_use]
    pub fn names(&self, policy: &Policy, rule: &str) -> bool {
        match &self.what {
            // A `kyverno.io` exception names ClusterPolicy and Policy rules, never CEL policies.
            Exempts::Rules { .. } if matches!(policy.kind, PolicyKind::Cel(_)) => false,
            Exempts::Rules { exceptions, .. } => {
                let key = policy.exception_key();
                exceptions
                    .iter()
                    .any(|(p, rules)| *p == key && rules.iter().any(|r| wildcard::matches(r, rule)))
            }
            Exempts::Policies { references, .. } => match &policy.kind {
                PolicyKind::Cel(kind) => {
                    references.iter().any(|(k, n)| k == kind && *n == policy.name)
                }
                _ => false,
            },
        }
    }

    /// Whether it selects a resource under an admission request. Conditions of a Kyverno
    /// exception that cannot be evaluated make it not apply, as Kyverno skips it; match
    /// conditions of a CEL exception that cannot be evaluated are an error, as Kyverno fails
    /// the policy's evaluation.
    pub fn matches(
        &self,
        resource: &Value,
        request: &Request<'_>,
        adm: &Admission<'_>,
    ) -> Result<bool, String> {
        match &self.what {
            Exempts::Rules { match_block, conditions, .. } => {
                if !matching::matches(match_block, adm).unwrap_or(false) {
                    return Ok(false);
                }
                Ok(match conditions {
                    Some(c) => {
                        let ctx = super::context::base(resource, request, adm);
                        matches!(conditions::evaluate(c, &ctx, &request.limits), Ok((true, _)))
                    }
                    None => true,
                })
            }
            Exempts::Policies { conditions, .. } => {
                let vars = cel::activation(resource, request, adm);
                let host = cel::ClusterHost { cluster: request.cluster };
                match conditions.run(&vars, &request.limits, Some(&host), (false, false)) {
                    Outcome::Pass => Ok(true),
                    Outcome::NotMatched(_) => Ok(false),
                    Outcome::Error(e) | Outcome::Fail(e, _) => {
                        Err(format!("PolicyException `{}`: {e}", self.label))
                    }
                }
            }
        }
    }

    /// Whether a CEL exception reports what it exempts as passed (`reportResult: pass`).
    #[must_use]
    pub fn reports_pass(&self) -> bool {
        matches!(self.what, Exempts::Policies { pass: true, .. })
    }
}

/// `kyverno.io` exceptions: `spec.exceptions`, `spec.match`, `spec.conditions`.
fn rules_exempts(spec: &Node) -> Result<Exempts, PolicyError> {
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
    Ok(Exempts::Rules { exceptions, match_block, conditions })
}

/// `policies.kyverno.io` exceptions: `spec.policyRefs`, `spec.matchConditions`,
/// `spec.reportResult`.
fn cel_exempts(spec: &Node) -> Result<Exempts, PolicyError> {
    for partial in ["images", "allowedValues"] {
        if let Some(n) = spec.get(partial) {
            return Err(err(
                n,
                format!("spec.{partial} (a partial exemption) is not supported yet"),
            ));
        }
    }
    let refs = spec
        .get("policyRefs")
        .and_then(Node::as_seq)
        .ok_or_else(|| err(spec, "spec.policyRefs must be a list"))?;
    let mut references = Vec::new();
    for r in refs {
        let text = |key: &str| r.get(key).and_then(Node::as_str).unwrap_or("").to_string();
        let (kind, name) = (text("kind"), text("name"));
        if kind.is_empty() || name.is_empty() {
            return Err(err(r, "a policyRef needs a kind and a name"));
        }
        references.push((kind, name));
    }
    let conditions = Program::from_nodes(None, "validations", Some((spec, "matchConditions")))
        .map_err(|e| PolicyError { pos: Some(e.pos), message: e.message })?;
    let pass = spec.get("reportResult").and_then(Node::as_str) == Some("pass");
    Ok(Exempts::Policies { references, conditions: Arc::new(conditions), pass })
}

#[cfg(test)]
mod tests {
    use super::super::tests::policy;
    use super::PolicyException;
    use crate::load::yaml::{parse_stream, Limits};

    fn exception(text: &str) -> PolicyException {
        let doc = parse_stream(text, &Limits::default());
        PolicyException::from_node(&doc.documents[0].root).unwrap()
    }

    #[test]
    fn each_kind_names_only_its_kind_of_policy() {
        let cluster_policy = policy("apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata: {name: p}\nspec:\n  rules:\n  - name: team-label\n    match: {any: [{resources: {kinds: [Pod]}}]}\n    validate: {deny: {}}\n");
        let namespaced = policy("apiVersion: kyverno.io/v1\nkind: Policy\nmetadata: {name: p, namespace: apps}\nspec:\n  rules:\n  - name: team-label\n    match: {any: [{resources: {kinds: [Pod]}}]}\n    validate: {deny: {}}\n");
        let cel = policy("apiVersion: policies.kyverno.io/v1\nkind: ValidatingPolicy\nmetadata: {name: p}\nspec:\n  matchConstraints:\n    resourceRules:\n    - {apiGroups: [''], apiVersions: [v1], operations: [CREATE], resources: [pods]}\n  validations:\n  - expression: 'true'\n");
        let rules = exception("apiVersion: kyverno.io/v2\nkind: PolicyException\nmetadata: {name: e, namespace: apps}\nspec:\n  exceptions:\n  - {policyName: p, ruleNames: ['team-*', '*']}\n  match: {any: [{resources: {kinds: [Pod]}}]}\n");
        assert_eq!(rules.label, "apps/e");
        assert!(rules.names(&cluster_policy, "team-label"));
        assert!(!rules.names(&namespaced, "team-label"), "a Policy is named namespace/name");
        assert!(!rules.names(&cel, ""), "never a CEL policy");
        let by_ref = exception("apiVersion: policies.kyverno.io/v1\nkind: PolicyException\nmetadata: {name: e}\nspec:\n  policyRefs:\n  - {name: p, kind: ValidatingPolicy}\n  matchConditions:\n  - {name: c, expression: 'true'}\n");
        assert!(by_ref.names(&cel, ""));
        assert!(!by_ref.names(&cluster_policy, "team-label"));
    }

    #[test]
    fn what_an_exception_cannot_say_is_an_error_at_its_line() {
        let compile = |text: &str| {
            let doc = parse_stream(text, &Limits::default());
            PolicyException::from_node(&doc.documents[0].root).unwrap_err()
        };
        let head = "apiVersion: kyverno.io/v2\nkind: PolicyException\nmetadata: {name: e}\nspec:\n";
        let e = compile(&format!("{head}  exceptions: [{{policyName: p, ruleNames: [r]}}]\n  match: {{any: []}}\n  podSecurity: [{{controlName: Capabilities}}]\n"));
        assert_eq!(
            (e.pos.map(|p| p.line), e.message.contains("spec.podSecurity")),
            (Some(7), true),
            "{e:?}"
        );
        let e =
            compile(&format!("{head}  exceptions: [{{policyName: p}}]\n  match: {{any: []}}\n"));
        assert_eq!(e.message, "an exception needs a policyName and ruleNames");
        let e = compile(&format!("{head}  exceptions: [{{policyName: p, ruleNames: [r]}}]\n"));
        assert_eq!(e.message, "a PolicyException needs spec.match");
        let head = "apiVersion: policies.kyverno.io/v1\nkind: PolicyException\nmetadata: {name: e}\nspec:\n";
        let e = compile(&format!(
            "{head}  policyRefs: [{{name: p, kind: ValidatingPolicy}}]\n  images: [ghcr.io/*]\n"
        ));
        assert_eq!(
            (e.pos.map(|p| p.line), e.message.contains("spec.images")),
            (Some(6), true),
            "{e:?}"
        );
        let e = compile(&format!("{head}  policyRefs: [{{name: p}}]\n"));
        assert_eq!(e.message, "a policyRef needs a kind and a name");
        let e = compile(&format!("{head}  matchConditions: []\n"));
        assert_eq!(e.message, "spec.policyRefs must be a list");
    }

    #[test]
    fn a_cel_exception_whose_conditions_fail_is_an_error_row() {
        use super::super::{Request, Status};
        let cel = policy("apiVersion: policies.kyverno.io/v1\nkind: ValidatingPolicy\nmetadata: {name: p}\nspec:\n  matchConstraints:\n    resourceRules:\n    - {apiGroups: [''], apiVersions: [v1], operations: [CREATE], resources: [pods]}\n  validations:\n  - expression: 'false'\n");
        let broken = exception("apiVersion: policies.kyverno.io/v1\nkind: PolicyException\nmetadata: {name: e}\nspec:\n  policyRefs:\n  - {name: p, kind: ValidatingPolicy}\n  matchConditions:\n  - {name: c, expression: 'object.spec.nope == 1'}\n");
        let pod = serde_json::json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"}, "spec": {}});
        let exceptions = [broken];
        let request = Request { exceptions: Some(&exceptions), ..Request::default() };
        let out = cel.evaluate(&pod, &request);
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!(out[0].status, Status::Error, "{out:?}");
        assert!(out[0].message.starts_with("PolicyException `e`:"), "{out:?}");
        // In a lint the finding stands (an exception that cannot be evaluated excepts nothing).
        assert!(cel.excepted_by(&exceptions, "", &pod, &Request::default()).is_empty());
    }
}
