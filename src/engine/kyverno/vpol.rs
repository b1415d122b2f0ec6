//! The `policies.kyverno.io` ValidatingPolicy (and NamespacedValidatingPolicy): Kubernetes'
//! ValidatingAdmissionPolicy shape — `matchConstraints`, `matchConditions`, `variables`,
//! `validations`, `validationActions`, `failurePolicy` — with Kyverno's autogen for pod
//! controllers and its CEL libraries, evaluated offline (kyverno-compat.md, 16).

use std::collections::BTreeMap;

use serde_json::Value;

use super::matching::{selector_matches, Admission};
use super::{cel, err, PolicyError, Request, RuleResponse, Status};
use crate::engine::cel::admission::{Outcome, Program};
use crate::load::Node;

/// One `resourceRules` (or `excludeResourceRules`) entry.
#[derive(Clone, Debug, Default)]
struct ResourceRule {
    groups: Vec<String>,
    versions: Vec<String>,
    operations: Vec<String>,
    resources: Vec<String>,
    names: Vec<String>,
}

fn strings(node: Option<&Node>) -> Vec<String> {
    node.and_then(Node::as_seq)
        .map(|items| items.iter().filter_map(Node::as_str).map(str::to_string).collect())
        .unwrap_or_default()
}

fn any_of(list: &[String], value: &str) -> bool {
    list.iter().any(|x| x == "*" || x.eq_ignore_ascii_case(value))
}

impl ResourceRule {
    fn from_node(n: &Node) -> Self {
        ResourceRule {
            groups: strings(n.get("apiGroups")),
            versions: strings(n.get("apiVersions")),
            operations: strings(n.get("operations")),
            resources: strings(n.get("resources")),
            names: strings(n.get("resourceNames")),
        }
    }

    fn matches(&self, adm: &Admission<'_>, plural: &str) -> bool {
        // `pods/status` names a subresource; linted objects are never one.
        let resource_ok = self.resources.iter().any(|r| r == "*" || r == plural || r == "*/*");
        any_of(&self.groups, adm.group)
            && any_of(&self.versions, adm.version)
            && resource_ok
            && (self.operations.is_empty() || any_of(&self.operations, adm.operation))
            && (self.names.is_empty() || self.names.iter().any(|n| n == adm.name))
    }
}

/// A compiled ValidatingPolicy.
#[derive(Clone, Debug)]
pub(super) struct CelPolicy {
    rules: Vec<ResourceRule>,
    exclude: Vec<ResourceRule>,
    namespace_selector: Option<Value>,
    object_selector: Option<Value>,
    program: Program,
    /// The program rewritten for pod controllers, and the controllers it serves.
    autogen: Vec<(Vec<String>, Program)>,
    /// Only `Warn` among the validation actions: failures are warnings.
    warn_only: bool,
    /// failurePolicy `Ignore`: an expression that cannot be evaluated is an error, not a failure.
    errors_ignored: bool,
    /// NamespacedValidatingPolicy: only its own namespace.
    namespace: Option<String>,
}

const PLAIN_CONTROLLERS: &[&str] =
    &["Deployment", "StatefulSet", "DaemonSet", "Job", "ReplicaSet", "ReplicationController"];

/// Compiles the spec of a ValidatingPolicy.
pub(super) fn compile(root: &Node, kind: &str) -> Result<CelPolicy, PolicyError> {
    let spec = root.get("spec").ok_or_else(|| err(root, "policy has no spec"))?;
    let constraints = spec.get("matchConstraints");
    let rule_list = |key: &str| -> Vec<ResourceRule> {
        constraints
            .and_then(|c| c.get(key))
            .and_then(Node::as_seq)
            .map(|items| items.iter().map(ResourceRule::from_node).collect())
            .unwrap_or_default()
    };
    let program = Program::from_nodes(Some(spec), "validations", Some((spec, "matchConditions")))
        .map_err(|e| PolicyError { pos: Some(e.pos), message: e.message })?;
    let rules = rule_list("resourceRules");
    let actions = strings(spec.get("validationActions"));
    let mut policy = CelPolicy {
        autogen: Vec::new(),
        exclude: rule_list("excludeResourceRules"),
        namespace_selector: constraints.and_then(|c| c.get("namespaceSelector")).map(Node::to_json),
        object_selector: constraints.and_then(|c| c.get("objectSelector")).map(Node::to_json),
        warn_only: !actions.is_empty() && actions.iter().all(|a| a == "Warn"),
        errors_ignored: spec.get("failurePolicy").and_then(Node::as_str) == Some("Ignore"),
        namespace: (kind == "NamespacedValidatingPolicy").then(|| {
            root.at(&["metadata", "namespace"]).and_then(Node::as_str).unwrap_or("default").into()
        }),
        program,
        rules,
    };
    policy.autogen = autogen(&policy, spec)?;
    Ok(policy)
}

/// Kyverno generates the policy for pod controllers when it matches only Pods: `object.spec`
/// (and `metadata`) move to the pod template (kyverno-compat.md, 11 and 16).
fn autogen(policy: &CelPolicy, spec: &Node) -> Result<Vec<(Vec<String>, Program)>, PolicyError> {
    let only_pods = !policy.rules.is_empty()
        && policy.rules.iter().all(|r| {
            r.resources.iter().all(|x| x == "pods") && r.groups.iter().all(String::is_empty)
        });
    if !only_pods {
        return Ok(Vec::new());
    }
    let configured = spec.at(&["autogen", "podControllers", "controllers"]);
    let wanted: Vec<String> = match configured {
        Some(list) => strings(Some(list)),
        None => PLAIN_CONTROLLERS.iter().chain(&["CronJob"]).map(|s| (*s).to_string()).collect(),
    };
    let is = |kind: &str| {
        wanted
            .iter()
            .any(|w| w.eq_ignore_ascii_case(kind) || w.eq_ignore_ascii_case(&format!("{kind}s")))
    };
    let rewrite = |template: &str| {
        let spec = format!("object.{template}.spec");
        let meta = format!("object.{template}.metadata");
        let old_spec = format!("oldObject.{template}.spec");
        let old_meta = format!("oldObject.{template}.metadata");
        policy
            .program
            .rewritten(&[
                ("object.spec", &spec),
                ("object.metadata", &meta),
                ("oldObject.spec", &old_spec),
                ("oldObject.metadata", &old_meta),
            ])
            .map_err(|e| PolicyError { pos: Some(e.pos), message: e.message })
    };
    let mut out = Vec::new();
    let plain: Vec<String> =
        PLAIN_CONTROLLERS.iter().filter(|k| is(k)).map(|k| (*k).to_string()).collect();
    if !plain.is_empty() {
        out.push((plain, rewrite("spec.template")?));
    }
    if is("CronJob") {
        out.push((vec!["CronJob".into()], rewrite("spec.jobTemplate.spec.template")?));
    }
    Ok(out)
}

impl CelPolicy {
    /// Evaluates the policy on one resource: no response when it does not match.
    pub(super) fn evaluate(&self, resource: &Value, request: &Request<'_>) -> Vec<RuleResponse> {
        let adm = super::admission(resource, request);
        if self.namespace.as_deref().is_some_and(|ns| ns != adm.namespace) {
            return Vec::new();
        }
        let api_version = resource.get("apiVersion").and_then(Value::as_str).unwrap_or("");
        let plural = cel::plural(api_version, adm.kind);
        let program = if let Some((_, p)) =
            self.autogen.iter().find(|(kinds, _)| kinds.iter().any(|k| k == adm.kind))
        {
            // The generated policy matches the controller with the pod rule's operations.
            let as_pod = Admission { group: "", version: "v1", ..adm.clone() };
            if !self.rules.iter().any(|r| r.matches(&as_pod, "pods")) {
                return Vec::new();
            }
            p
        } else {
            if !self.rules.iter().any(|r| r.matches(&adm, &plural)) {
                return Vec::new();
            }
            &self.program
        };
        if self.exclude.iter().any(|r| r.matches(&adm, &plural)) {
            return Vec::new();
        }
        match self.selectors_match(&adm) {
            Ok(true) => {}
            Ok(false) => return Vec::new(),
            Err(e) => return vec![response(Status::Error, e)],
        }
        let vars = cel::activation(resource, request, &adm);
        let host = cel::ClusterHost { cluster: request.cluster };
        let outcome = program.run(&vars, &request.limits, Some(&host), !self.errors_ignored);
        vec![match outcome {
            Outcome::Pass => response(Status::Pass, "validation passed".into()),
            Outcome::NotMatched(name) => {
                response(Status::Skip, format!("match condition `{name}` is false"))
            }
            Outcome::Fail(m) if self.warn_only => response(Status::Warn, m),
            Outcome::Fail(m) => response(Status::Fail, m),
            Outcome::Error(e) => response(Status::Error, e),
        }]
    }

    fn selectors_match(&self, adm: &Admission<'_>) -> Result<bool, String> {
        if let Some(sel) = &self.object_selector {
            if !selector_matches(sel, &adm.labels, false)? {
                return Ok(false);
            }
        }
        if let Some(sel) = &self.namespace_selector {
            // Cluster-scoped objects are not in a namespace: the selector does not apply to
            // them, but for a Namespace, which it selects by its own labels.
            let labels: Option<&BTreeMap<String, String>> = if adm.kind == "Namespace" {
                Some(&adm.labels)
            } else if adm.namespace.is_empty() {
                None
            } else {
                Some(&adm.namespace_labels)
            };
            if let Some(labels) = labels {
                if !selector_matches(sel, labels, false)? {
                    return Ok(false);
                }
            }
        }
        Ok(true)
    }
}

fn response(status: Status, message: String) -> RuleResponse {
    RuleResponse { rule: String::new(), status, message, path: None }
}
