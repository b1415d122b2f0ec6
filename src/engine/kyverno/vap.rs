//! Kubernetes' ValidatingAdmissionPolicy (`admissionregistration.k8s.io`) and its bindings: a
//! policy validates only where a ValidatingAdmissionPolicyBinding binds it — the binding's
//! `matchResources` narrowing what the policy matches, its `validationActions` (`Deny` an error,
//! else a warning) and its `paramRef` choosing the `params` objects of the policy's `paramKind`.
//! The CEL is run as a ValidatingPolicy's (`vpol.rs`), without Kyverno's autogen.

use std::sync::Arc;

use super::compile::err;
use super::policy::{Policy, PolicyError, PolicyKind};
use super::vpol::{self, Matcher};
use crate::load::Node;

fn kind_of(root: &Node) -> (&str, &str) {
    let s = |k: &str| root.get(k).and_then(Node::as_str).unwrap_or("");
    (s("apiVersion"), s("kind"))
}

const KINDS: [&str; 2] = ["ValidatingAdmissionPolicy", "MutatingAdmissionPolicy"];

/// Whether a document is a ValidatingAdmissionPolicy or MutatingAdmissionPolicy.
#[must_use]
pub fn is_admission_policy(root: &Node) -> bool {
    let (api, kind) = kind_of(root);
    api.starts_with("admissionregistration.k8s.io/") && KINDS.contains(&kind)
}

/// The policy a ValidatingAdmissionPolicyBinding (or MutatingAdmissionPolicyBinding) binds,
/// when the document is one: (the policy's kind, its name).
#[must_use]
pub fn bound_policy(root: &Node) -> Option<(&str, &str)> {
    let (api, kind) = kind_of(root);
    let policy_kind = kind.strip_suffix("Binding").filter(|k| KINDS.contains(k))?;
    if !api.starts_with("admissionregistration.k8s.io/") {
        return None;
    }
    Some((policy_kind, root.at(&["spec", "policyName"]).and_then(Node::as_str)?))
}

impl Policy {
    /// A ValidatingAdmissionPolicy as `binding` binds it, or (without one, as `kyverno test`
    /// runs a policy its test binds to nothing) alone, failures denying. `name` is how findings
    /// and test rows name it.
    pub fn from_admission_policy(
        root: &Node,
        binding: Option<&Node>,
        name: &str,
    ) -> Result<Policy, PolicyError> {
        let kind = kind_of(root).1;
        let validating = kind == "ValidatingAdmissionPolicy";
        let mut compiled = vpol::compile(root, kind)?;
        // Kubernetes makes no policy for pod controllers.
        compiled.autogen = Vec::new();
        let spec = root.get("spec").ok_or_else(|| err(root, "policy has no spec"))?;
        let mut deny = validating;
        if let Some(binding) = binding {
            let bspec = binding.get("spec").ok_or_else(|| err(binding, "binding has no spec"))?;
            let actions: Vec<&str> = bspec
                .get("validationActions")
                .and_then(Node::as_seq)
                .map(|a| a.iter().filter_map(Node::as_str).collect())
                .unwrap_or_default();
            if validating {
                if actions.is_empty() {
                    let message = "a binding needs validationActions (Deny, Warn or Audit)";
                    return Err(err(bspec, message));
                }
                deny = actions.contains(&"Deny");
                compiled.warn_only = actions.iter().all(|a| *a == "Warn");
            }
            compiled.binding = bspec.get("matchResources").map(|m| Box::new(Matcher::from_node(m)));
            match (spec.get("paramKind"), bspec.get("paramRef")) {
                (Some(kind), reference) => {
                    compiled.params = Some(super::cel::ParamSpec::from_parts(kind, reference));
                }
                (None, Some(reference)) => {
                    return Err(err(
                        reference,
                        "the binding has a paramRef, but the policy has no paramKind",
                    ));
                }
                (None, None) => {}
            }
        } else if let Some(kind) = spec.get("paramKind") {
            compiled.params = Some(super::cel::ParamSpec::from_parts(kind, None));
        }
        compiled.deny = deny;
        let annotations = super::compile::annotations(root);
        Ok(Policy {
            name: name.to_string(),
            kind: PolicyKind::Cel(kind.into()),
            failure_action: if deny { "Enforce" } else { "Audit" }.into(),
            annotations,
            apply_one: false,
            rules: Vec::new(),
            cel: Some(Arc::new(compiled)),
        })
    }
}

/// The admission policies of some documents as their bindings bind them: (policy
/// document, binding document, name); a policy bound twice is named `policy (binding)`, one
/// bound to nothing is left out unless `unbound` (then it is run alone).
#[must_use]
pub fn bindings<'n>(
    policies: &[&'n Node],
    bindings: &[&'n Node],
    unbound: bool,
) -> Vec<(&'n Node, Option<&'n Node>, String)> {
    let name =
        |n: &Node| n.at(&["metadata", "name"]).and_then(Node::as_str).unwrap_or("").to_string();
    let mut out = Vec::new();
    for p in policies {
        let policy_name = name(p);
        let kind = kind_of(p).1;
        let bound: Vec<&&Node> = bindings
            .iter()
            .filter(|b| bound_policy(b) == Some((kind, policy_name.as_str())))
            .collect();
        if bound.is_empty() && unbound {
            out.push((*p, None, policy_name.clone()));
        }
        for b in &bound {
            let shown = if bound.len() > 1 {
                format!("{policy_name} ({})", name(b))
            } else {
                policy_name.clone()
            };
            out.push((*p, Some(**b), shown));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::{Policy, Request, Status};
    use crate::load::{parse_text, Limits};

    const VAP: &str = "apiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingAdmissionPolicy\nmetadata: {name: max-replicas}\nspec:\n  failurePolicy: Fail\n  matchConstraints:\n    resourceRules:\n    - {apiGroups: [apps], apiVersions: [v1], operations: [CREATE, UPDATE], resources: [deployments]}\n  validations:\n  - expression: object.spec.replicas <= 5\n    message: too many replicas\n";

    fn docs(text: &str) -> Vec<crate::load::Node> {
        let (file, problems) = parse_text("vap.yaml", text, &Limits::default());
        assert!(problems.is_empty(), "{problems:?}");
        file.unwrap().documents.into_iter().map(|d| d.root).collect()
    }

    fn deploy(ns: &str, replicas: i64) -> serde_json::Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "d", "namespace": ns, "labels": {}},
            "spec": {"replicas": replicas, "template": {"spec": {"containers": []}}}})
    }

    #[test]
    fn a_binding_narrows_and_sets_the_actions() {
        let binding = "apiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingAdmissionPolicyBinding\nmetadata: {name: b}\nspec:\n  policyName: max-replicas\n  validationActions: [Warn]\n  matchResources:\n    namespaceSelector:\n      matchLabels: {tier: prod}\n";
        let d = docs(&format!("{VAP}---\n{binding}"));
        let p = Policy::from_admission_policy(&d[0], Some(&d[1]), "max-replicas").unwrap();
        let prod = Request {
            namespace_labels: std::borrow::Cow::Owned([("tier".into(), "prod".into())].into()),
            ..Request::default()
        };
        let r = p.evaluate(&deploy("a", 9), &prod);
        assert_eq!((r[0].status, r[0].message.as_str()), (Status::Warn, "too many replicas"));
        assert_eq!(p.evaluate(&deploy("a", 3), &prod)[0].status, Status::Pass);
        // Outside the binding's namespaces: not matched.
        assert!(p.evaluate(&deploy("a", 9), &Request::default()).is_empty());
        // Only policies a binding binds are bound (or, when asked, run alone).
        let policies = [&d[0]];
        assert_eq!(super::bindings(&policies, &[&d[1]], false).len(), 1);
        assert!(super::bindings(&policies, &[], false).is_empty());
        assert_eq!(super::bindings(&policies, &[], true).len(), 1);
        let alone = Policy::from_admission_policy(&d[0], None, "max-replicas").unwrap();
        assert_eq!(alone.failure_action, "Enforce");
        assert_eq!(alone.evaluate(&deploy("a", 9), &Request::default())[0].status, Status::Fail);
    }

    #[test]
    fn params_come_from_the_binding_paramref() {
        let vap = VAP
            .replace(
                "spec:\n  failurePolicy",
                "spec:\n  paramKind: {apiVersion: v1, kind: ConfigMap}\n  failurePolicy",
            )
            .replace("object.spec.replicas <= 5", "object.spec.replicas <= int(params.data.max)");
        let binding = "apiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingAdmissionPolicyBinding\nmetadata: {name: b}\nspec:\n  policyName: max-replicas\n  validationActions: [Deny]\n  paramRef: {name: limits, namespace: platform}\n";
        let d = docs(&format!("{vap}---\n{binding}"));
        let p = Policy::from_admission_policy(&d[0], Some(&d[1]), "max-replicas").unwrap();
        // No cluster data: no params, which a binding's default action denies.
        let r = p.evaluate(&deploy("a", 1), &Request::default());
        assert_eq!(r[0].status, Status::Fail, "{r:?}");
        assert!(r[0].message.contains("no params found"), "{}", r[0].message);
    }
}
