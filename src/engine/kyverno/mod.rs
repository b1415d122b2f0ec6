//! The Kyverno-compatible engine: ClusterPolicy / Policy validate rules evaluated offline.
//!
//! [`Policy::from_node`] compiles a policy document once; [`Policy::evaluate`] runs it on one
//! resource and returns a response per rule that applied, with Kyverno's statuses
//! (kyverno-compat.md, sections 1–4 and 11). Features not implemented yet make a rule `Error`
//! with a message saying so — never a silent pass.

pub(crate) mod cel;
pub mod conditions;
mod context;
pub mod jmespath;
pub mod lint;
pub mod matching;
pub mod pattern;
pub mod pss;
pub mod quantity;
pub mod semver;
pub mod store;
pub mod variables;
mod vpol;
pub mod wildcard;

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{json, Value};

use crate::engine::cel::admission::{Outcome, Program};
use crate::load::source::Pos;
use crate::load::Node;
pub use context::{ClusterData, Values};
use matching::Admission;
pub use matching::UserInfo;
use pattern::PatternResult;

/// A rule's outcome for one resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Status {
    Pass,
    Fail,
    Skip,
    Error,
    Warn,
}

impl Status {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::Skip => "skip",
            Status::Error => "error",
            Status::Warn => "warn",
        }
    }
}

/// The response of one rule to one resource.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleResponse {
    pub rule: String,
    pub status: Status,
    pub message: String,
    /// Where a pattern failed, as path segments from the resource root.
    pub path: Option<Vec<String>>,
}

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
    /// A ValidatingPolicy (the CEL policy kinds have no rules).
    validating: Option<Arc<vpol::CelPolicy>>,
}

/// A compiled rule.
#[derive(Clone, Debug)]
pub struct Rule {
    pub name: String,
    match_block: Option<Value>,
    exclude_block: Option<Value>,
    context: Vec<Value>,
    preconditions: Option<Value>,
    validate: Value,
    /// A feature the engine does not implement: evaluating the rule is an error.
    unsupported: Option<String>,
    /// Set for rules generated for pod controllers.
    pub autogen: bool,
    /// A `validate` rule that is not `validate.cel` (and not mutate, generate, verifyImages).
    pub non_cel_validate: bool,
    /// `celPreconditions` and `validate.cel`.
    cel: Option<CelRule>,
    pub failure_action: Option<String>,
    pub message: String,
}

/// The CEL of a rule.
#[derive(Clone, Debug)]
struct CelRule {
    /// `celPreconditions` and, for a `validate.cel` rule, its variables and expressions.
    program: Arc<Program>,
    /// Whether the rule validates with `validate.cel`.
    validates: bool,
    /// The policy's `failurePolicy` is `Ignore`: a CEL expression that cannot be evaluated
    /// makes the rule an error instead of failing it.
    errors_ignored: bool,
    /// `paramKind`/`paramRef`: the objects `params` is bound to.
    params: Option<cel::ParamSpec>,
}

/// Is this document a policy the engine knows (Kyverno or CEL kinds)?
#[must_use]
pub fn is_policy(root: &Node) -> bool {
    let api = root.get("apiVersion").and_then(Node::as_str).unwrap_or("");
    let kind = root.get("kind").and_then(Node::as_str).unwrap_or("");
    (api.starts_with("kyverno.io/") && matches!(kind, "ClusterPolicy" | "Policy"))
        || (api.starts_with("policies.kyverno.io/") && kind.ends_with("Policy"))
}

const POD_CONTROLLERS: [&str; 7] = [
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

fn err(node: &Node, message: impl Into<String>) -> PolicyError {
    PolicyError { pos: Some(node.span.start), message: message.into() }
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
        let annotations: BTreeMap<String, String> = root
            .at(&["metadata", "annotations"])
            .and_then(Node::as_map)
            .map(|entries| {
                entries
                    .iter()
                    .filter_map(|e| Some((e.key.to_string(), e.value.as_str()?.to_string())))
                    .collect()
            })
            .unwrap_or_default();
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
            validating: None,
        };
        if matches!(policy.kind, PolicyKind::Cel(_)) {
            if matches!(kind, "ValidatingPolicy" | "NamespacedValidatingPolicy") {
                let compiled = vpol::compile(root, kind)?;
                if compiled.denies() {
                    policy.failure_action = "Enforce".into();
                }
                policy.validating = Some(Arc::new(compiled));
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
            let mut rule = compile_rule(&json).map_err(|m| err(offending_node(r, &m), m))?;
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

    /// The kinds the policy's rules match (autogen included); `None` when some rule matches
    /// every kind or has no kind list.
    #[must_use]
    pub fn match_kinds(&self) -> Option<Vec<String>> {
        if let Some(v) = &self.validating {
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
    /// `ClusterPolicy, validate.cel` (some rule uses CEL), `ClusterPolicy, mutate/generate`
    /// (likewise `Policy, …`), or the CEL policy kind (`ValidatingPolicy`, …).
    #[must_use]
    pub fn category(&self) -> String {
        let kind = match &self.kind {
            PolicyKind::Cel(kind) => return kind.clone(),
            PolicyKind::ClusterPolicy => "ClusterPolicy",
            PolicyKind::Policy { .. } => "Policy",
        };
        let what = if self.rules.iter().any(|r| r.cel.is_some()) {
            "validate.cel"
        } else if self.rules.iter().all(|r| r.non_cel_validate) {
            "validate"
        } else {
            "mutate/generate"
        };
        format!("{kind}, {what}")
    }

    /// Whether some rule (or the policy itself) is evaluated with CEL.
    #[must_use]
    pub fn uses_cel(&self) -> bool {
        self.validating.is_some() || self.rules.iter().any(|r| r.cel.is_some())
    }

    /// Whether this is a ValidatingPolicy (or NamespacedValidatingPolicy) the engine runs.
    #[must_use]
    pub fn is_validating_policy(&self) -> bool {
        self.validating.is_some()
    }

    /// The severity annotation (`policies.kyverno.io/severity`), when present.
    #[must_use]
    pub fn severity_annotation(&self) -> Option<&str> {
        self.annotations.get("policies.kyverno.io/severity").map(String::as_str)
    }

    /// Evaluates every rule on a resource. A rule that does not match gives no response.
    #[must_use]
    pub fn evaluate(&self, resource: &Value, request: &Request<'_>) -> Vec<RuleResponse> {
        jmespath::with_limits(&request.limits, || self.evaluate_within_limits(resource, request))
    }

    fn evaluate_within_limits(&self, resource: &Value, request: &Request<'_>) -> Vec<RuleResponse> {
        if let Some(validating) = &self.validating {
            return validating.evaluate(resource, request);
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
            if rule.autogen && !POD_CONTROLLERS.contains(&adm.kind) {
                continue;
            }
            match rule.applies(&adm) {
                Ok(false) => continue,
                Ok(true) => {
                    if let Some(response) = rule.run(&self.name, resource, request, &adm) {
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
    pub namespace_labels: BTreeMap<String, String>,
    /// The resource's Namespace object, when known other than through `cluster` (a test's
    /// values file); CEL's `namespaceObject`.
    pub namespace_object: Option<&'a Value>,
    pub user: Option<&'a UserInfo>,
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
    /// evaluated on one object with this same request: built by the first rule that needs it.
    pub shared_context: Option<&'a std::cell::OnceCell<Value>>,
}

fn admission<'a>(resource: &'a Value, request: &Request<'a>) -> Admission<'a> {
    let s = |ptr: &str| resource.pointer(ptr).and_then(Value::as_str).unwrap_or("");
    let api_version = s("/apiVersion");
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    let labels = |ptr: &str| string_map(resource.pointer(ptr));
    Admission {
        group,
        version,
        kind: s("/kind"),
        name: s("/metadata/name"),
        generate_name: s("/metadata/generateName"),
        namespace: request.namespace.unwrap_or_else(|| s("/metadata/namespace")),
        labels: labels("/metadata/labels"),
        annotations: labels("/metadata/annotations"),
        namespace_labels: request.namespace_labels.clone(),
        operation: if request.operation.is_empty() { "CREATE" } else { request.operation },
        user: request.user,
    }
}

impl Rule {
    /// Compiles the rule's `celPreconditions` and `validate.cel` from its node.
    fn attach_cel(&mut self, node: &Node) -> Result<(), PolicyError> {
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

    /// The CEL of an autogen rule: the original's, with `object.spec` (and `metadata`) moved to
    /// the pod template of the controller (kyverno-compat.md, 11 and 16).
    fn autogen_cel(&mut self, original: &Rule) -> Result<(), PolicyError> {
        let Some(cel) = &original.cel else { return Ok(()) };
        let cronjob = self.name.starts_with("autogen-cronjob-");
        let template = if cronjob { "spec.jobTemplate.spec.template" } else { "spec.template" };
        let rewritten = cel
            .program
            .for_pod_template(template)
            .map_err(|e| PolicyError { pos: Some(e.pos), message: e.message })?;
        self.cel = Some(CelRule { program: Arc::new(rewritten), ..cel.clone() });
        Ok(())
    }

    /// The feature this rule uses that the engine does not implement, if any.
    #[must_use]
    pub fn unsupported(&self) -> Option<&str> {
        self.unsupported.as_deref()
    }

    /// Whether the rule validates (rather than mutates, generates or verifies images).
    #[must_use]
    pub fn is_validate(&self) -> bool {
        !self.validate.is_null()
    }

    fn applies(&self, adm: &Admission<'_>) -> Result<bool, String> {
        let Some(m) = &self.match_block else { return Ok(false) };
        if !matching::matches(m, adm).map_err(|e| format!("match: {e}"))? {
            return Ok(false);
        }
        if let Some(x) = &self.exclude_block {
            if matching::excludes(x, adm).map_err(|e| format!("exclude: {e}"))? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    fn respond(&self, status: Status, message: String, path: Option<Vec<String>>) -> RuleResponse {
        RuleResponse { rule: self.name.clone(), status, message, path }
    }

    fn error(&self, message: String) -> RuleResponse {
        self.respond(Status::Error, message, None)
    }

    /// Runs the rule on a resource it applies to: context, preconditions, then the validate
    /// handler. `None` when a foreach found nothing to check (no response, as in Kyverno).
    fn run(
        &self,
        policy: &str,
        resource: &Value,
        request: &Request<'_>,
        adm: &Admission<'_>,
    ) -> Option<RuleResponse> {
        if let Some(what) = &self.unsupported {
            return Some(self.error(format!("{what} is not supported yet")));
        }
        // The base context is built once per object for all the policies when the caller
        // shares it, and copied only by a rule that adds to it (values, context entries, a
        // foreach binding its elements).
        let own_base;
        let base = if let Some(cell) = request.shared_context {
            cell.get_or_init(|| context::base(resource, request, adm))
        } else {
            own_base = context::base(resource, request, adm);
            &own_base
        };
        let mut ctx = Cow::Borrowed(base);
        if let Some(values) = request.values {
            values.inject(policy, &self.name, ctx.to_mut());
        }
        if !self.context.is_empty() {
            if let Err(e) = context::load(&self.context, ctx.to_mut(), request) {
                return Some(self.error(format!("failed to load context: {e}")));
            }
        }
        if let Some(pre) = &self.preconditions {
            match conditions::evaluate(pre, &ctx) {
                Err(e) => {
                    return Some(self.error(format!("failed to evaluate preconditions: {e}")))
                }
                Ok((false, _)) => {
                    return Some(self.respond(Status::Skip, "preconditions not met".into(), None))
                }
                Ok((true, _)) => {}
            }
        }
        if let Some(cel) = &self.cel {
            let mut vars = cel::activation(resource, request, adm);
            let host = cel::ClusterHost { cluster: request.cluster };
            let params = match &cel.params {
                None => vec![Value::Null],
                Some(spec) => match spec.resolve(adm, request.cluster) {
                    Err(e) => return Some(self.error(format!("paramRef: {e}"))),
                    Ok(found) if found.is_empty() && spec.allow_missing => {
                        let why =
                            format!("no {} (parameterNotFoundAction: Allow)", spec.describe());
                        return Some(self.respond(Status::Pass, why, None));
                    }
                    Ok(found) if found.is_empty() => {
                        let why =
                            format!("no params found: {} is not in the tree", spec.describe());
                        return Some(self.respond(Status::Fail, why, None));
                    }
                    Ok(found) => found,
                },
            };
            // Every parameter object must pass (as each binding's param does in Kubernetes).
            let mut outcome = Outcome::Pass;
            for p in &params {
                vars.insert("params".into(), crate::engine::cel::Val::from_json(p));
                outcome = cel.program.run(&vars, &request.limits, Some(&host), !cel.errors_ignored);
                if outcome != Outcome::Pass {
                    break;
                }
            }
            let passed = format!("validation rule '{}' passed.", self.name);
            match outcome {
                Outcome::NotMatched(name) => {
                    let why = format!("cel preconditions not met: `{name}` is false");
                    return Some(self.respond(Status::Skip, why, None));
                }
                Outcome::Error(e) => return Some(self.error(e)),
                Outcome::Fail(m, path) => return Some(self.respond(Status::Fail, m, path)),
                Outcome::Pass if cel.validates => {
                    return Some(self.respond(Status::Pass, passed, None))
                }
                Outcome::Pass => {}
            }
        }
        let outcome = self.validate_scope(&self.validate, resource, &mut ctx, 0);
        let message = |extra: &str| {
            let base = variables::substitute_str(&self.message, &ctx)
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
        depth: usize,
    ) -> Scope {
        if let Some(ps) = v.get("podSecurity") {
            return pod_security(ps, resource);
        }
        if let Some(deny) = v.get("deny") {
            let conditions = deny.get("conditions").unwrap_or(&Value::Null);
            return match conditions::evaluate(conditions, ctx) {
                Err(e) => Scope::Error(format!("failed to check deny conditions: {e}")),
                Ok((true, messages)) => Scope::Fail(messages.join("; "), None),
                Ok((false, _)) => Scope::Pass,
            };
        }
        if let Some(p) = v.get("pattern") {
            return match with_variables(p, resource, ctx) {
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
            return self.any_pattern(ps, resource, ctx);
        }
        if let Some(list) = v.get("foreach").and_then(Value::as_array) {
            return self.foreach(list, resource, ctx, depth);
        }
        Scope::Error("a validate rule needs deny, pattern, anyPattern or foreach".into())
    }

    fn any_pattern(&self, ps: &Value, resource: &Value, ctx: &Value) -> Scope {
        let Some(list) = ps.as_array() else {
            return Scope::Error("anyPattern must be a list".into());
        };
        let mut failures = Vec::new();
        let mut first_path = None;
        for (i, p) in list.iter().enumerate() {
            let p = match with_variables(p, resource, ctx) {
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
        depth: usize,
    ) -> Scope {
        if depth > 8 {
            return Scope::Error("foreach nested more than 8 levels".into());
        }
        let mut applied = false;
        let mut list_error = None;
        for entry in entries {
            let raw = entry.get("list").and_then(Value::as_str).unwrap_or("");
            let expr = match variables::substitute_str(raw, ctx) {
                Ok(Value::String(s)) => s,
                _ => raw.to_string(),
            };
            let list = match jmespath::search(expr.trim(), ctx) {
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
        depth: usize,
    ) -> Scope {
        if let Some(entries) = entry.get("context").and_then(Value::as_array) {
            if let Err(e) = context::load(entries, ctx.to_mut(), &Request::default()) {
                return Scope::Error(format!("failed to load context: {e}"));
            }
        }
        if let Some(pre) = entry.get("preconditions") {
            // An element whose preconditions fail, or cannot be evaluated, is skipped.
            if !matches!(conditions::evaluate(pre, ctx), Ok((true, _))) {
                return Scope::Skip("preconditions not met".into());
            }
        }
        self.validate_scope(entry, target, ctx, depth + 1)
    }
}

/// The top-level context keys an element of a foreach entry can change: its bindings, and the
/// first segment of each of its context entries' names.
fn touched_keys(entry: &Value, depth: usize) -> Vec<String> {
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
    let version = ps.get("version").and_then(Value::as_str).unwrap_or("latest");
    if !matches!(level, "baseline" | "restricted" | "privileged") {
        return Scope::Error(format!("unknown podSecurity level `{level}`"));
    }
    let excludes = ps.get("exclude").and_then(Value::as_array).map_or(&[][..], Vec::as_slice);
    let failed: Vec<pss::Violation> = pss::evaluate(level, resource)
        .into_iter()
        .filter(|v| !pss::excluded(v, excludes))
        .collect();
    let Some(first) = failed.first() else { return Scope::Pass };
    let mut controls: Vec<&str> = failed.iter().map(|v| v.control).collect();
    controls.dedup();
    let message = format!("violates PodSecurity \"{level}:{version}\": ({})", controls.join(", "));
    Scope::Fail(message, Some(first.path.clone()))
}

/// Substitutes `{{@}}` and `{{ }}` variables in a pattern.
fn with_variables(pattern: &Value, resource: &Value, ctx: &Value) -> Result<Value, String> {
    if !variables::contains_variable(pattern) {
        return Ok(pattern.clone());
    }
    let referenced = variables::resolve_references(pattern)
        .map_err(|e| format!("variable substitution failed: {e}"))?;
    let at = variables::substitute_at(&referenced, resource);
    variables::substitute(&at, ctx).map_err(|e| format!("variable substitution failed: {e}"))
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

/// The node a compile error is about: for an unknown operator, the `operator:` entry that names
/// it; otherwise the rule.
fn offending_node<'a>(rule: &'a Node, message: &str) -> &'a Node {
    fn find<'a>(node: &'a Node, value: &str) -> Option<&'a Node> {
        match &node.value {
            crate::load::Value::Map(entries) => entries.iter().find_map(|e| {
                if &*e.key == "operator" && e.value.as_str() == Some(value) {
                    Some(&e.value)
                } else {
                    find(&e.value, value)
                }
            }),
            crate::load::Value::Seq(items) => items.iter().find_map(|i| find(i, value)),
            _ => None,
        }
    }
    fn containing<'a>(node: &'a Node, text: &str) -> Option<&'a Node> {
        match &node.value {
            crate::load::Value::Str(s) if s.contains(text) => Some(node),
            crate::load::Value::Map(entries) => {
                entries.iter().find_map(|e| containing(&e.value, text))
            }
            crate::load::Value::Seq(items) => items.iter().find_map(|i| containing(i, text)),
            _ => None,
        }
    }
    let quoted =
        |prefix: &str| message.split(prefix).nth(1).and_then(|rest| rest.split('`').next());
    quoted("unknown condition operator `")
        .and_then(|op| find(rule, op))
        .or_else(|| quoted("invalid JMESPath `").and_then(|e| containing(rule, e)))
        .unwrap_or(rule)
}

/// Compiles one rule from its JSON form.
fn compile_rule(rule: &Value) -> Result<Rule, String> {
    let obj = rule.as_object().ok_or("a rule must be a mapping")?;
    let name = obj.get("name").and_then(Value::as_str).ok_or("a rule needs a name")?.to_string();
    let validate = obj.get("validate");
    let message =
        validate.and_then(|v| v.get("message")).and_then(Value::as_str).unwrap_or("").to_string();
    let failure_action =
        validate.and_then(|v| v.get("failureAction")).and_then(Value::as_str).map(String::from);
    let non_cel_validate = validate.is_some_and(|v| v.get("cel").is_none())
        && !["mutate", "generate", "verifyImages"].iter().any(|k| obj.contains_key(*k));
    let context = match obj.get("context") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(entries)) => entries.clone(),
        Some(_) => return Err(format!("rule `{name}`: context must be a list")),
    };
    if let Some(v) = validate {
        check_operators(v).map_err(|e| format!("rule `{name}`: {e}"))?;
    }
    if let Some(p) = obj.get("preconditions") {
        check_operators(p).map_err(|e| format!("rule `{name}`: {e}"))?;
    }
    check_expressions(rule).map_err(|e| format!("rule `{name}`: {e}"))?;
    Ok(Rule {
        non_cel_validate,
        cel: None,
        match_block: obj.get("match").cloned(),
        exclude_block: obj.get("exclude").cloned(),
        context,
        preconditions: obj.get("preconditions").cloned(),
        validate: validate.cloned().unwrap_or(Value::Null),
        unsupported: unsupported(obj, validate),
        autogen: false,
        failure_action,
        message,
        name,
    })
}

/// Condition operators are checked when the policy is compiled: an unknown one is a policy
/// error, as Kyverno's policy validation makes it.
fn check_operators(v: &Value) -> Result<(), String> {
    match v {
        Value::Object(m) => {
            if let (Some(op), true) =
                (m.get("operator").and_then(Value::as_str), m.contains_key("key"))
            {
                conditions::apply(op, &Value::Null, &Value::Null).map_err(|e| e.to_string())?;
            }
            // Patterns have no operators; `validate.cel` has label selectors (`paramRef`),
            // whose `operator`s (`Exists`, …) are not conditions.
            m.iter()
                .filter(|(k, _)| !matches!(k.as_str(), "pattern" | "anyPattern" | "cel"))
                .try_for_each(|(_, v)| check_operators(v))
        }
        Value::Array(items) => items.iter().try_for_each(check_operators),
        _ => Ok(()),
    }
}

/// Every JMESPath expression that can be known before evaluation parses: `{{ }}` variables,
/// foreach `list`s and context `jmesPath`s (kyverno-compat.md, 7 and 9).
fn check_expressions(v: &Value) -> Result<(), String> {
    let check = |expr: &str| {
        jmespath::parse(expr).map(|_| ()).map_err(|e| format!("invalid JMESPath `{expr}`: {e}"))
    };
    match v {
        Value::String(s) => variables::plain_expressions(s).into_iter().try_for_each(check),
        Value::Array(items) => items.iter().try_for_each(check_expressions),
        Value::Object(m) => {
            for (k, v) in m {
                if let (true, Some(expr)) = (k == "list" || k == "jmesPath", v.as_str()) {
                    if !expr.contains("{{") {
                        check(expr.trim())?;
                    }
                }
                variables::plain_expressions(k).into_iter().try_for_each(check)?;
                check_expressions(v)?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// The first feature of a rule that the engine does not implement yet.
fn unsupported(obj: &serde_json::Map<String, Value>, validate: Option<&Value>) -> Option<String> {
    for (key, what) in [
        ("mutate", "a mutate rule"),
        ("generate", "a generate rule"),
        ("verifyImages", "a verifyImages rule"),
    ] {
        if obj.contains_key(key) {
            return Some(what.into());
        }
    }
    let Some(v) = validate.and_then(Value::as_object) else {
        return Some("a rule without `validate`".into());
    };
    if v.contains_key("manifests") {
        return Some("`validate.manifests`".into());
    }
    None
}

fn filters(block: &Value) -> Vec<&Value> {
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

fn filter_kinds(filter: &Value) -> Vec<&str> {
    filter
        .pointer("/resources/kinds")
        .and_then(Value::as_array)
        .map(|k| k.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

fn kind_name(selector: &str) -> &str {
    selector.rsplit('/').next().unwrap_or(selector)
}

/// The controllers autogen applies to, or `None` (kyverno-compat.md, 11.1).
fn autogen_controllers(
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

fn truncate_name(name: String) -> String {
    if name.len() > 63 {
        name[..63].to_string()
    } else {
        name
    }
}

/// `autogen-R` and `autogen-cronjob-R` for a rule that matches Pods (kyverno-compat.md, 11.2).
fn autogen_rules(rule: &Value, controllers: &[String]) -> Result<Vec<Rule>, String> {
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

fn rewrite_for_controllers(rule: &mut Value, controllers: &[&str], wrap: impl Fn(Value) -> Value) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::yaml::{parse_stream, Limits};

    /// Compiles the first document of `text` (shared with the other engine modules' tests).
    pub(super) fn policy(text: &str) -> Policy {
        let doc = parse_stream(text, &Limits::default());
        Policy::from_node(&doc.documents[0].root).unwrap()
    }

    const NO_PRIVILEGED: &str = r#"
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: disallow-privileged}
spec:
  rules:
  - name: privileged-containers
    match:
      any:
      - resources: {kinds: [Pod]}
    validate:
      message: Privileged mode is disallowed.
      pattern:
        spec:
          containers:
          - =(securityContext):
              =(privileged): "false"
"#;

    #[test]
    fn pattern_rules_pass_fail_and_autogen() {
        let p = policy(NO_PRIVILEGED);
        assert_eq!(p.rules.len(), 3, "original, autogen- and autogen-cronjob-");
        let req = Request::default();
        let bad = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"},
            "spec": {"containers": [{"name": "c", "securityContext": {"privileged": true}}]}});
        let r = p.evaluate(&bad, &req);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].status, Status::Fail);
        assert_eq!(
            r[0].path.as_deref().unwrap().join("/"),
            "spec/containers/0/securityContext/privileged"
        );
        let deploy = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
            "spec": {"template": {"spec": {"containers": [{"name": "c", "securityContext": {"privileged": true}}]}}}});
        let r = p.evaluate(&deploy, &req);
        assert_eq!(
            r.iter().map(|r| (r.rule.as_str(), r.status)).collect::<Vec<_>>(),
            vec![("autogen-privileged-containers", Status::Fail)]
        );
        let cron = json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "c"},
            "spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "c"}]}}}}}});
        let r = p.evaluate(&cron, &req);
        assert_eq!(
            r.iter().map(|r| (r.rule.as_str(), r.status)).collect::<Vec<_>>(),
            vec![("autogen-cronjob-privileged-containers", Status::Pass)]
        );
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}});
        assert!(p.evaluate(&cm, &req).is_empty());
    }

    #[test]
    fn unsupported_features_are_errors_not_passes() {
        let p = policy(
            &NO_PRIVILEGED
                .replace("      pattern:", "      manifests: {attestors: []}\n      pattern:"),
        );
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"}, "spec": {"containers": []}});
        let r = p.evaluate(&pod, &Request::default());
        assert_eq!(r[0].status, Status::Error);
        assert!(r[0].message.contains("not supported yet"));
    }

    const CEL_POLICY: &str = r#"
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: cel-limits}
spec:
  rules:
  - name: containers
    match:
      any:
      - resources: {kinds: [Pod]}
    celPreconditions:
    - name: not-system
      expression: "object.metadata.?namespace.orValue('') != 'kube-system'"
    validate:
      cel:
        variables:
        - name: all
          expression: object.spec.containers + object.spec.?initContainers.orValue([])
        expressions:
        - expression: size(variables.all) <= 2
          message: at most two containers
        - expression: variables.all.all(c, c.image.contains(':'))
          messageExpression: "'untagged: ' + variables.all.filter(c, !c.image.contains(':')).map(c, c.name).join(', ')"
        - expression: object.metadata.labels.team != ''
"#;

    #[test]
    fn validate_cel_rules() {
        let p = policy(CEL_POLICY);
        assert_eq!(p.rules.len(), 3, "original, autogen- and autogen-cronjob-");
        let req = Request::default();
        let pod = |ns: &str, images: &[&str], labels: Value| {
            let containers: Vec<Value> = images
                .iter()
                .enumerate()
                .map(|(i, im)| json!({"name": format!("c{i}"), "image": im}))
                .collect();
            json!({"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": "p", "namespace": ns, "labels": labels},
                "spec": {"containers": containers}})
        };
        let status = |r: Vec<RuleResponse>| (r[0].status, r[0].message.clone());
        let ok = pod("apps", &["nginx:1"], json!({"team": "a"}));
        assert_eq!(status(p.evaluate(&ok, &req)).0, Status::Pass);
        let r =
            status(p.evaluate(&pod("apps", &["a:1", "b:1", "c:1"], json!({"team": "a"})), &req));
        assert_eq!(r, (Status::Fail, "at most two containers".into()));
        let r = status(p.evaluate(&pod("apps", &["a:1", "b"], json!({"team": "a"})), &req));
        assert_eq!(r, (Status::Fail, "untagged: c1".into()));
        // The failure points at the container that made `all` false, though the expression
        // iterates over a variable that concatenates lists.
        let r = p.evaluate(&pod("apps", &["a:1", "b"], json!({"team": "a"})), &req);
        assert_eq!(
            r[0].path.as_deref(),
            Some(&["spec".to_string(), "containers".into(), "1".into()][..])
        );
        let r = status(p.evaluate(&pod("kube-system", &["a", "b", "c"], json!({})), &req));
        assert_eq!(r.0, Status::Skip, "{r:?}");
        // An expression that cannot be evaluated fails the rule (failurePolicy Fail), naming
        // the expression and its line; it never passes.
        let r = status(p.evaluate(&pod("apps", &["a:1"], json!({})), &req));
        assert_eq!(r.0, Status::Fail);
        assert!(r.1.contains("`object.metadata.labels.team != ''` (line 24)"), "{}", r.1);
        assert!(r.1.contains("no such key: team"), "{}", r.1);
        let r = p.evaluate(&pod("apps", &["a:1"], json!({})), &req);
        assert_eq!(r[0].path.as_deref().map(|p| p.join("/")), Some("metadata/labels/team".into()));
        // With failurePolicy Ignore it is an error instead.
        let ignore = policy(
            &CEL_POLICY.replace("spec:\n  rules:", "spec:\n  failurePolicy: Ignore\n  rules:"),
        );
        let r = status(ignore.evaluate(&pod("apps", &["a:1"], json!({})), &req));
        assert_eq!(r.0, Status::Error);
        // Autogen moves `object.spec` to the pod template.
        let deploy = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "d", "namespace": "apps"},
            "spec": {"template": {"metadata": {"labels": {"team": "a"}},
                "spec": {"containers": [{"name": "c", "image": "x"}]}}}});
        let r = p.evaluate(&deploy, &req);
        assert_eq!((r[0].rule.as_str(), r[0].status), ("autogen-containers", Status::Fail));
        assert_eq!(r[0].message, "untagged: c");
        // A budget reached is an error, whatever the failure policy.
        let tight = Request {
            limits: crate::limits::Limits { cel_steps: 5, ..Default::default() },
            ..Default::default()
        };
        let r = status(p.evaluate(&ok, &tight));
        assert_eq!(r.0, Status::Error, "{r:?}");
        assert!(r.1.contains("--limit cel-steps=N"), "{}", r.1);
    }

    #[test]
    fn validate_cel_params_come_from_the_tree() {
        let text = r#"
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: max-containers}
spec:
  rules:
  - name: max
    match: {any: [{resources: {kinds: [Pod]}}]}
    validate:
      cel:
        paramKind: {apiVersion: v1, kind: ConfigMap}
        paramRef: {name: limits, namespace: params}
        expressions:
        - expression: size(object.spec.containers) <= int(params.data.max)
          messageExpression: "'at most ' + params.data.max + ' containers'"
"#;
        let mut store = store::ObjectStore::default();
        let cm = |ns: &str, name: &str, max: &str, team: &str| {
            json!({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": name, "namespace": ns, "labels": {"team": team}},
                "data": {"max": max}})
        };
        store.objects.push(cm("params", "limits", "1", "a"));
        store.objects.push(cm("apps", "limits", "2", "a"));
        store.objects.push(cm("apps", "other", "3", "b"));
        let pod = |n: usize| {
            let containers: Vec<Value> = (0..n).map(|i| json!({"name": format!("c{i}")})).collect();
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "apps"},
                "spec": {"containers": containers}})
        };
        let req = Request { cluster: Some(&store), ..Request::default() };
        let run = |text: &str, n: usize, req: &Request<'_>| {
            let r = policy(text).evaluate(&pod(n), req);
            (r[0].status, r[0].message.clone())
        };
        assert_eq!(run(text, 1, &req).0, Status::Pass);
        assert_eq!(run(text, 2, &req), (Status::Fail, "at most 1 containers".into()));
        // Without a namespace, a namespaced param kind is looked up in the resource's.
        let own =
            text.replace("paramRef: {name: limits, namespace: params}", "paramRef: {name: limits}");
        assert_eq!(run(&own, 2, &req).0, Status::Pass);
        // A selector binds every object it picks; each must pass.
        let selected = text.replace(
            "paramRef: {name: limits, namespace: params}",
            "paramRef: {namespace: apps, selector: {matchLabels: {team: b}}}",
        );
        assert_eq!(run(&selected, 3, &req).0, Status::Pass);
        let all = text
            .replace("paramRef: {name: limits, namespace: params}", "paramRef: {namespace: apps}");
        assert_eq!(run(&all, 3, &req), (Status::Fail, "at most 2 containers".into()));
        // Missing params fail the rule, unless parameterNotFoundAction is Allow.
        let missing =
            text.replace("name: limits, namespace: params", "name: nope, namespace: params");
        let (status, message) = run(&missing, 1, &req);
        assert_eq!(status, Status::Fail);
        assert!(message.contains("ConfigMap `params/nope` is not in the tree"), "{message}");
        let allowed = missing
            .replace("namespace: params}", "namespace: params, parameterNotFoundAction: Allow}");
        assert_eq!(run(&allowed, 9, &req).0, Status::Pass);
        assert_eq!(run(text, 1, &Request::default()).0, Status::Fail, "no cluster data: no params");
        // A selector Kubernetes would reject makes the rule an error, never a pass.
        let bad = text.replace(
            "paramRef: {name: limits, namespace: params}",
            "paramRef: {namespace: apps, selector: {matchExpressions: [{key: team, operator: Near}]}}",
        );
        let (status, message) = run(&bad, 1, &req);
        assert_eq!(status, Status::Error);
        assert!(message.contains("paramRef: unknown selector operator `Near`"), "{message}");
        // Selector operators are not condition operators: `Exists` is fine.
        let exists = bad.replace("operator: Near", "operator: Exists");
        assert_eq!(run(&exists, 2, &req).0, Status::Pass, "both ConfigMaps of `apps` allow 2");
        assert_eq!(run(&exists, 3, &req).0, Status::Fail, "`limits` allows 2");
    }

    #[test]
    fn invalid_cel_is_a_policy_error_at_its_line() {
        let text = CEL_POLICY.replace("size(variables.all) <= 2", "size(variables.all) <=");
        let doc = parse_stream(&text, &Limits::default());
        let e = Policy::from_node(&doc.documents[0].root).unwrap_err();
        assert_eq!(e.pos.map(|p| p.line), Some(20), "{e:?}");
        assert!(
            e.message.contains("rule `containers`: expressions[0] is not valid CEL"),
            "{}",
            e.message
        );
        // A function that does not exist is caught when the policy is compiled.
        let text = CEL_POLICY.replacen("c.image.contains(':')", "c.image.contians(':')", 1);
        let doc = parse_stream(&text, &Limits::default());
        let e = Policy::from_node(&doc.documents[0].root).unwrap_err();
        assert_eq!(e.pos.map(|p| p.line), Some(22), "{e:?}");
        assert!(
            e.message.contains("expressions[1] calls `contians`, which is not a CEL function"),
            "{}",
            e.message
        );
        // Two-variable comprehensions bind both names.
        let text = CEL_POLICY.replace(
            "variables.all.all(c, c.image.contains(':'))",
            "variables.all.all(i, image, image.image.contains(':') && i >= 0)",
        );
        let doc = parse_stream(&text, &Limits::default());
        assert!(Policy::from_node(&doc.documents[0].root).is_ok());
        // A comprehension variable may shadow a function namespace.
        let text = CEL_POLICY.replace(
            "variables.all.all(c, c.image.contains(':'))",
            "variables.all.all(image, image.image.contains(':'))",
        );
        let doc = parse_stream(&text, &Limits::default());
        assert!(Policy::from_node(&doc.documents[0].root).is_ok());
        let text = CEL_POLICY.replace("size(variables.all) <= 2", "sets.union([1], [2]) == [1, 2]");
        let doc = parse_stream(&text, &Limits::default());
        let e = Policy::from_node(&doc.documents[0].root).unwrap_err();
        assert!(e.message.contains("calls `sets.union`"), "{}", e.message);
    }

    #[test]
    fn invalid_jmespath_is_a_policy_error_at_its_line() {
        let text = "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata: {name: x}\nspec:\n  rules:\n  - name: r\n    match: {any: [{resources: {kinds: [Pod]}}]}\n    validate:\n      deny:\n        conditions:\n        - key: \"{{ request.object.spec.[ }}\"\n          operator: Equals\n          value: x\n";
        let doc = parse_stream(text, &Limits::default());
        let e = Policy::from_node(&doc.documents[0].root).unwrap_err();
        assert_eq!(e.pos.map(|p| p.line), Some(11), "{e:?}");
        assert!(e.message.contains("invalid JMESPath `request.object.spec.[`"), "{}", e.message);
    }

    #[test]
    fn malformed_policies_are_errors_with_positions() {
        let doc = parse_stream("apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata: {name: x}\nspec:\n  rules: nope\n", &Limits::default());
        let e = Policy::from_node(&doc.documents[0].root).unwrap_err();
        assert_eq!(e.pos.map(|p| p.line), Some(5));
        assert!(e.message.contains("must be a list"));
    }
}
