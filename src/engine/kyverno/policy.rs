//! A compiled policy: what it is, what it matches, and evaluating it on one resource.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;

use super::autogen::{filter_kinds, filters, kind_name};
use super::exception::PolicyException;
use super::matching::Admission;
use super::response::{RuleResponse, Status};
use super::rule::Rule;
use super::{vpol, ClusterData, UserInfo, Values};
use crate::load::source::Pos;
use crate::load::Node;

/// Which engine evaluates a policy document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PolicyKind {
    /// `kyverno.io` ClusterPolicy.
    ClusterPolicy,
    /// `kyverno.io` Policy: applies only in its own namespace.
    Policy { namespace: String },
    /// A `policies.kyverno.io` CEL policy kind (ValidatingPolicy, MutatingPolicy, …).
    Cel(String),
}

/// A policy that cannot be used: its name (if known), position and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyError {
    pub pos: Option<Pos>,
    pub message: String,
}

/// A compiled policy.
#[derive(Clone, Debug)]
pub struct Policy {
    pub name: String,
    pub kind: PolicyKind,
    /// `Enforce` or `Audit` (policy default for rules without `failureAction`).
    pub failure_action: String,
    pub annotations: BTreeMap<String, String>,
    pub apply_one: bool,
    /// Rules in declaration order, then the autogen rules.
    pub rules: Vec<Rule>,
    /// A ValidatingPolicy, MutatingPolicy or GeneratingPolicy (the CEL policy kinds have no
    /// rules).
    pub(super) cel: Option<Arc<vpol::CelPolicy>>,
}

/// Is this document a policy the engine knows (Kyverno or CEL kinds)?
#[must_use]
pub fn is_policy(root: &Node) -> bool {
    let api = root.get("apiVersion").and_then(Node::as_str).unwrap_or("");
    let kind = root.get("kind").and_then(Node::as_str).unwrap_or("");
    (api.starts_with("kyverno.io/") && matches!(kind, "ClusterPolicy" | "Policy"))
        || (api.starts_with("policies.kyverno.io/") && kind.ends_with("Policy"))
}

pub(super) const POD_CONTROLLERS: [&str; 7] = [
    "DaemonSet",
    "Deployment",
    "Job",
    "StatefulSet",
    "ReplicaSet",
    "ReplicationController",
    "CronJob",
];

/// How a policy that cannot be used is reported: its name (when it has one), then the error
/// (which names the rule when one is at fault).
#[must_use]
pub fn invalid_policy_message(root: &Node, error: &PolicyError) -> String {
    match root.at(&["metadata", "name"]).and_then(Node::as_str) {
        Some(name) => format!("invalid policy `{name}`: {}", error.message),
        None => format!("invalid policy: {}", error.message),
    }
}

impl Policy {
    /// The kinds the policy's rules match (autogen included); `None` when some rule matches
    /// every kind or has no kind list.
    #[must_use]
    pub fn match_kinds(&self) -> Option<Vec<String>> {
        if let Some(v) = &self.cel {
            let mut kinds = v.kinds()?;
            kinds.sort();
            kinds.dedup();
            return Some(kinds);
        }
        let mut kinds = Vec::new();
        for rule in &self.rules {
            let Some(m) = &rule.match_block else { continue };
            for f in filters(m) {
                let list = filter_kinds(f);
                if list.is_empty() {
                    return None;
                }
                for k in list {
                    let name = kind_name(k);
                    let name = name.split('.').next().unwrap_or(name);
                    if name.contains(['*', '?']) {
                        return None;
                    }
                    kinds.push(name.to_string());
                }
            }
        }
        kinds.sort();
        kinds.dedup();
        Some(kinds)
    }

    /// What kind of policy this is, for reports by kind: `ClusterPolicy, validate`,
    /// `ClusterPolicy, validate.cel` (some rule uses CEL), `ClusterPolicy, generate` (some rule
    /// generates), `ClusterPolicy, mutate` (else some rule mutates), `ClusterPolicy,
    /// verifyImages` (likewise `Policy, …`), or the CEL policy kind (`ValidatingPolicy`, …).
    #[must_use]
    pub fn category(&self) -> String {
        let kind = match &self.kind {
            PolicyKind::Cel(kind) => return kind.clone(),
            PolicyKind::ClusterPolicy => "ClusterPolicy",
            PolicyKind::Policy { .. } => "Policy",
        };
        let what = if self.rules.iter().any(|r| r.cel.is_some()) {
            "validate.cel"
        } else if self.rules.iter().all(Rule::is_non_cel_validate) {
            "validate"
        } else if self.rules.iter().any(Rule::is_generate) {
            "generate"
        } else if self.rules.iter().any(Rule::is_mutate) {
            "mutate"
        } else {
            "verifyImages"
        };
        format!("{kind}, {what}")
    }

    /// Whether some rule (or the policy itself) is evaluated with CEL.
    #[must_use]
    pub fn uses_cel(&self) -> bool {
        self.cel.is_some() || self.rules.iter().any(|r| r.cel.is_some())
    }

    /// Whether this is a CEL policy that validates: a ValidatingPolicy or an
    /// ImageValidatingPolicy (or their namespaced kinds).
    #[must_use]
    pub fn is_validating_policy(&self) -> bool {
        self.cel
            .as_ref()
            .is_some_and(|c| matches!(c.role, vpol::Role::Validate | vpol::Role::VerifyImages(_)))
    }

    /// The severity annotation (`policies.kyverno.io/severity`), when present.
    #[must_use]
    pub fn severity_annotation(&self) -> Option<&str> {
        self.annotations.get("policies.kyverno.io/severity").map(String::as_str)
    }

    /// Evaluates every rule on a resource. A rule that does not match gives no response.
    #[must_use]
    pub fn evaluate(&self, resource: &Value, request: &Request<'_>) -> Vec<RuleResponse> {
        // A test's values for `request.object.…` change the resource itself (matching and
        // patterns see them), as Kyverno's CLI reads the resource back from its context.
        let changed = request.values.and_then(|v| v.object_with_values(&self.name, resource));
        self.evaluate_within_limits(changed.as_ref().unwrap_or(resource), request)
    }

    fn evaluate_within_limits(&self, resource: &Value, request: &Request<'_>) -> Vec<RuleResponse> {
        if let Some(cel) = &self.cel {
            // A MutatingPolicy runs in [`Policy::mutate`], a GeneratingPolicy in
            // [`Policy::generate`].
            if !cel.role.responds() {
                return Vec::new();
            }
            if let vpol::Role::VerifyImages(images) = &cel.role {
                // Its exceptions come after its match conditions (see `ivpol`).
                return images.evaluate(self, cel, resource, request).into_iter().collect();
            }
            if let Some(response) = self.cel_excepted(resource, request) {
                return vec![response];
            }
            return cel.evaluate(resource, request);
        }
        if let PolicyKind::Cel(kind) = &self.kind {
            return vec![RuleResponse {
                rule: String::new(),
                status: Status::Error,
                message: format!("{kind} (CEL) policies are not supported yet"),
                path: None,
            }];
        }
        let adm = admission(resource, request);
        if let PolicyKind::Policy { namespace } = &self.kind {
            if adm.namespace != namespace {
                return Vec::new();
            }
        }
        let mut out = Vec::new();
        for rule in &self.rules {
            // Mutate rules run before validation, in [`Policy::mutate`]; generate rules after
            // it, in [`Policy::generate`].
            if rule.is_mutate()
                || rule.is_generate()
                || (rule.autogen && !POD_CONTROLLERS.contains(&adm.kind))
            {
                continue;
            }
            match rule.applies(&adm) {
                Ok(false) => continue,
                Ok(true) => {
                    let exceptions = request.exceptions.unwrap_or(&[]);
                    let keys = self.excepted_by(exceptions, &rule.name, resource, request);
                    if !keys.is_empty() {
                        out.push(excepted(rule, &keys));
                    } else if let Some(response) =
                        rule.run((&self.name, &self.failure_action), resource, request, &adm)
                    {
                        out.push(response);
                    }
                }
                Err(message) => out.push(RuleResponse {
                    rule: rule.name.clone(),
                    status: Status::Error,
                    message,
                    path: None,
                }),
            }
            if self.apply_one {
                break;
            }
        }
        out
    }
}

/// What a policy's mutate rules made of a resource.
#[derive(Clone, Debug)]
pub struct Mutation {
    /// A response per mutate rule that applied.
    pub responses: Vec<RuleResponse>,
    /// The resource after the policy's mutate rules, each patching what the previous left.
    pub patched: Value,
    /// Whether a rule changed the resource.
    pub changed: bool,
    /// Targets that mutate-existing rules patched: the index of the rule's response in
    /// `responses` for each, and the patched target.
    pub targets: Vec<(usize, Value)>,
}

impl Policy {
    /// Whether the policy mutates: mutate rules, or a MutatingPolicy.
    #[must_use]
    pub fn has_mutate(&self) -> bool {
        self.cel.as_ref().is_some_and(|c| matches!(c.role, vpol::Role::Mutate(_)))
            || self.rules.iter().any(Rule::is_mutate)
    }

    /// Whether the policy does something other than mutate and generate (run by
    /// [`Policy::evaluate`]).
    #[must_use]
    pub fn has_non_mutate(&self) -> bool {
        match self.kind {
            PolicyKind::Cel(_) => self.cel.as_ref().is_none_or(|c| c.role.responds()),
            _ => self.rules.iter().any(|r| !r.is_mutate() && !r.is_generate()),
        }
    }

    /// Runs the mutate rules on a resource in order, each on what the previous ones patched
    /// (and with `request.object` in its context being that), as Kyverno's mutate does.
    #[must_use]
    pub fn mutate(&self, resource: &Value, request: &Request<'_>) -> Mutation {
        let changed = request.values.and_then(|v| v.object_with_values(&self.name, resource));
        let mut current = changed.unwrap_or_else(|| resource.clone());
        if let Some(mutating) =
            self.cel.as_ref().filter(|c| matches!(c.role, vpol::Role::Mutate(_)))
        {
            if let Some(response) = self.cel_excepted(&current, request) {
                return Mutation {
                    responses: vec![response],
                    patched: current,
                    changed: false,
                    targets: Vec::new(),
                };
            }
            let (responses, patched) = mutating.mutate(&current, request);
            let changed = patched.as_ref().is_some_and(|p| *p != current);
            let patched = patched.unwrap_or(current);
            return Mutation { responses, patched, changed, targets: Vec::new() };
        }
        let mut responses = Vec::new();
        let mut changed = false;
        let mut targets = Vec::new();
        let policy_namespace = match &self.kind {
            PolicyKind::Policy { namespace } => Some(namespace.as_str()),
            _ => None,
        };
        for rule in self.rules.iter().filter(|r| r.is_mutate()) {
            let mut patched = None;
            {
                let adm = admission(&current, request);
                if let PolicyKind::Policy { namespace } = &self.kind {
                    if adm.namespace != namespace {
                        break;
                    }
                }
                if rule.autogen && !POD_CONTROLLERS.contains(&adm.kind) {
                    continue;
                }
                match rule.applies(&adm) {
                    Ok(false) => continue,
                    Ok(true) => {
                        let exceptions = request.exceptions.unwrap_or(&[]);
                        let keys = self.excepted_by(exceptions, &rule.name, &current, request);
                        if keys.is_empty() {
                            let policy = (self.name.as_str(), self.failure_action.as_str());
                            let mut existing = (policy_namespace, Vec::new());
                            responses.extend(rule.run_patching(
                                policy,
                                &current,
                                request,
                                &adm,
                                &mut patched,
                                &mut existing,
                            ));
                            for (response, target) in existing.1 {
                                if let Some(target) = target {
                                    targets.push((responses.len(), target));
                                }
                                responses.push(response);
                            }
                        } else {
                            responses.push(excepted(rule, &keys));
                        }
                    }
                    Err(message) => responses.push(RuleResponse {
                        rule: rule.name.clone(),
                        status: Status::Error,
                        message,
                        path: None,
                    }),
                }
            }
            let applied = patched.is_some();
            if let Some(p) = patched {
                current = p;
                changed = true;
            }
            if self.apply_one && applied {
                break;
            }
        }
        Mutation { responses, patched: current, changed, targets }
    }

    /// The policy as PolicyExceptions name it: `name`, or `namespace/name` for a Policy.
    #[must_use]
    pub fn exception_key(&self) -> String {
        match &self.kind {
            PolicyKind::Policy { namespace } => format!("{namespace}/{}", self.name),
            _ => self.name.clone(),
        }
    }

    /// What a CEL policy gives a resource the request's exceptions exempt from it: pass or skip
    /// as the first of them reports (`reportResult`), naming them all, as Kyverno's engine
    /// does; an error when an exception's match conditions cannot be evaluated.
    pub(super) fn cel_excepted(
        &self,
        resource: &Value,
        request: &Request<'_>,
    ) -> Option<RuleResponse> {
        let named: Vec<_> = request.exceptions?.iter().filter(|e| e.names(self, "")).collect();
        if named.is_empty() {
            return None;
        }
        let adm = admission(resource, request);
        let mut matched = Vec::new();
        for e in named {
            match e.matches(resource, request, &adm) {
                Ok(true) => matched.push(e),
                Ok(false) => {}
                Err(message) => {
                    let rule = "evaluation".to_string();
                    return Some(RuleResponse { rule, status: Status::Error, message, path: None });
                }
            }
        }
        let first = matched.first()?;
        let keys: Vec<&str> = matched.iter().map(|e| e.label.as_str()).collect();
        let (status, done) =
            if first.reports_pass() { (Status::Pass, "passed") } else { (Status::Skip, "skipped") };
        let message = format!("rule is {done} due to policy exception: {}", keys.join(", "));
        Some(RuleResponse { rule: "exception".into(), status, message, path: None })
    }

    /// The exceptions that name this rule and match the resource (their `namespace/name`), as
    /// Kyverno checks them once the rule matches, before its context. One whose conditions
    /// cannot be evaluated excepts nothing.
    #[must_use]
    pub fn excepted_by<'e>(
        &self,
        exceptions: &'e [PolicyException],
        rule: &str,
        resource: &Value,
        request: &Request<'_>,
    ) -> Vec<&'e str> {
        let mut named = exceptions.iter().filter(|e| e.names(self, rule)).peekable();
        if named.peek().is_none() {
            return Vec::new();
        }
        let adm = admission(resource, request);
        named
            .filter(|e| e.matches(resource, request, &adm).unwrap_or(false))
            .map(|e| e.label.as_str())
            .collect()
    }
}

/// The response of a rule that PolicyExceptions (`keys`) skip.
fn excepted(rule: &Rule, keys: &[&str]) -> RuleResponse {
    RuleResponse {
        rule: rule.name.clone(),
        status: Status::Skip,
        message: format!("rule is skipped due to policy exceptions {}", keys.join(", ")),
        path: None,
    }
}

/// The string entries of a JSON map (labels, annotations); other values are left out.
#[must_use]
pub fn string_map(v: Option<&Value>) -> BTreeMap<String, String> {
    v.and_then(Value::as_object)
        .map(|m| m.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string()))).collect())
        .unwrap_or_default()
}

/// The admission request around a resource.
#[derive(Clone, Default)]
pub struct Request<'a> {
    /// `CREATE` (default), `UPDATE` or `DELETE`.
    pub operation: &'a str,
    /// Effective namespace of the resource; defaults to `metadata.namespace`.
    pub namespace: Option<&'a str>,
    pub namespace_labels: std::borrow::Cow<'a, BTreeMap<String, String>>,
    /// The resource's Namespace object, when known other than through `cluster` (a test's
    /// values file); CEL's `namespaceObject`.
    pub namespace_object: Option<&'a Value>,
    pub user: Option<&'a UserInfo>,
    /// PolicyExceptions that skip the rules they name on the resources they match (a test's
    /// `exceptions`); `check` applies the tree's to findings instead.
    pub exceptions: Option<&'a [PolicyException]>,
    /// Values a test supplies (globalValues, per-rule context values).
    pub values: Option<&'a Values>,
    /// Objects of the tree, for `configMap` and `apiCall` context entries.
    pub cluster: Option<&'a dyn ClusterData>,
    /// Evaluation limits (`jmespath-steps`, `regex-size`, `cel-steps`).
    pub limits: crate::limits::Limits,
    /// The resource as a CEL value, when the caller has it already (one conversion per object
    /// for all the CEL policies).
    pub cel_object: Option<std::rc::Rc<crate::engine::cel::Val>>,
    /// The base JSON context of the resource (`request`, `images`, …), shared by the policies
    /// evaluated on one object with this same request: built by the first rule that needs it,
    /// taken out by each rule while it runs and put back as it was.
    pub shared_context: Option<&'a crate::engine::PolicyContext>,
    /// The objects a mutate rule with `targets` (mutate existing) selects from: a test's
    /// resources and `targetResources`. `None` where mutate existing is not run (`check`
    /// admits objects one by one): such a rule is then an error, not a silent no-op.
    pub targets: Option<&'a [Value]>,
    /// Whether an ImageValidatingPolicy's `mutateDigest` (on unless turned off) pins image tags
    /// to digests before it validates, as the cluster's mutating webhook does in `check`;
    /// `kyverno test` validates only, so its `verifyDigest` sees the tags as written.
    pub pins_digests: bool,
}

pub(super) fn admission<'a>(resource: &'a Value, request: &'a Request<'_>) -> Admission<'a> {
    // Looked up field by field: every policy asks this of every object it sees.
    let meta = resource.get("metadata");
    let s = |v: Option<&'a Value>| v.and_then(Value::as_str).unwrap_or("");
    let m = |key: &str| s(meta.and_then(|m| m.get(key)));
    let api_version = s(resource.get("apiVersion"));
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    Admission {
        group,
        version,
        kind: s(resource.get("kind")),
        name: m("name"),
        generate_name: m("generateName"),
        namespace: request.namespace.unwrap_or_else(|| m("namespace")),
        labels: super::matching::Strings::of(meta.and_then(|m| m.get("labels"))),
        annotations: super::matching::Strings::of(meta.and_then(|m| m.get("annotations"))),
        namespace_labels: std::borrow::Cow::Borrowed(&*request.namespace_labels),
        operation: if request.operation.is_empty() { "CREATE" } else { request.operation },
        user: request.user,
    }
}
