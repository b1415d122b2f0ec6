//! A compiled rule and running it: match, context, preconditions, CEL, then its body.

use crate::pointer::Pointer as _;
use std::borrow::Cow;
use std::ops::ControlFlow;
use std::sync::Arc;

use serde_json::Value;

use super::matching::{self, Admission};
use super::policy::Request;
use super::response::{RuleResponse, Status};
use super::{cel, conditions, context, variables};
use crate::engine::cel::admission::{Outcome, Program};

/// A compiled rule.
#[derive(Clone, Debug)]
pub struct Rule {
    pub name: String,
    pub(super) match_block: Option<Value>,
    pub(super) exclude_block: Option<Value>,
    /// The two blocks read ahead, where they can be ([`matching::Block`]).
    pub(super) compiled_blocks: [Option<matching::Block>; 2],
    pub(super) context: Vec<Value>,
    pub(super) preconditions: Option<Value>,
    /// What the rule does: exactly one of validate, mutate, generate, verifyImages.
    pub(super) body: RuleBody,
    /// Set for rules generated for pod controllers.
    pub autogen: bool,
    /// `celPreconditions` and `validate.cel`.
    pub(super) cel: Option<CelRule>,
    pub failure_action: Option<String>,
    pub message: String,
    /// No context entry of the rule (nor of its foreach entries) names a variable of the base
    /// context ([`context::BASE_KEYS`]): the rule only adds variables to the base.
    pub(super) adds_only: bool,
    /// Whether running the rule can read its JSON context: it has context entries or
    /// preconditions, or its body reads one ([`RuleBody::reads_context`]). A rule that cannot
    /// runs without one.
    pub(super) reads_context: bool,
    /// What a validate rule reads of the object in its context (`Parts` only for one).
    pub(super) reads: context::Reads,
}

/// Where a rule puts what it changed besides its response: the resource a mutate rule patched,
/// and a mutate rule with `targets` the targets it patched (with a namespaced Policy's
/// namespace).
type Outputs<'o, 'n> =
    (&'o mut Option<Value>, &'o mut (Option<&'n str>, super::mutate::existing::Patches));

/// What a rule does, with its block as written (verifyImages rules are not run yet, and
/// evaluating them is an error).
#[derive(Clone, Debug)]
pub(super) enum RuleBody {
    Validate(Value),
    Mutate(Value),
    Generate(Value),
    VerifyImages,
}

impl RuleBody {
    const KEYS: [&'static str; 4] = ["validate", "mutate", "generate", "verifyImages"];

    /// Whether the block evaluates anything against the rule's JSON context. A validate block
    /// does with `deny` or `foreach` (evaluated against it), a mutate block with `foreach` or
    /// `targets`; either does with a variable anywhere (patterns, the message, a patch).
    /// Conservative: a `$(…)` reference counts as a variable too. Generate and verifyImages
    /// rules always build one.
    pub(super) fn reads_context(&self) -> bool {
        let has = |block: &Value, keys: &[&str]| keys.iter().any(|k| block.get(k).is_some());
        match self {
            RuleBody::Validate(v) => {
                has(v, &["deny", "foreach", "manifests"]) || variables::contains_variable(v)
            }
            RuleBody::Mutate(m) => {
                has(m, &["foreach", "targets"]) || variables::contains_variable(m)
            }
            RuleBody::Generate(_) | RuleBody::VerifyImages => true,
        }
    }

    /// The body of a rule: exactly one of its blocks, as Kyverno's policy validation requires.
    pub(super) fn from_rule(rule: &serde_json::Map<String, Value>) -> Result<RuleBody, String> {
        let present: Vec<&str> = Self::KEYS.into_iter().filter(|k| rule.contains_key(*k)).collect();
        let [key] = present[..] else {
            let found = if present.is_empty() {
                "none".to_string()
            } else {
                present.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(" and ")
            };
            return Err(format!(
                "a rule needs exactly one of validate, mutate, generate or verifyImages (it has {found})"
            ));
        };
        Ok(match key {
            "validate" => RuleBody::Validate(rule.get(key).cloned().unwrap_or(Value::Null)),
            "mutate" => RuleBody::Mutate(rule.get(key).cloned().unwrap_or(Value::Null)),
            "generate" => RuleBody::Generate(rule.get(key).cloned().unwrap_or(Value::Null)),
            _ => RuleBody::VerifyImages,
        })
    }
}

/// The CEL of a rule.
#[derive(Clone, Debug)]
pub(super) struct CelRule {
    /// `celPreconditions` and, for a `validate.cel` rule, its variables and expressions.
    pub(super) program: Arc<Program>,
    /// Whether the rule validates with `validate.cel`.
    pub(super) validates: bool,
    /// The policy's `failurePolicy` is `Ignore`: a CEL expression that cannot be evaluated
    /// makes the rule an error instead of failing it.
    pub(super) errors_ignored: bool,
    /// `paramKind`/`paramRef`: the objects `params` is bound to.
    pub(super) params: Option<cel::ParamSpec>,
}

impl Rule {
    /// The feature this rule uses that the engine does not implement, if any.
    #[must_use]
    pub fn unsupported(&self) -> Option<&'static str> {
        match &self.body {
            RuleBody::VerifyImages => Some("a verifyImages rule"),
            RuleBody::Validate(v) if v.get("manifests").is_some() => Some("`validate.manifests`"),
            RuleBody::Validate(_) | RuleBody::Mutate(_) | RuleBody::Generate(_) => None,
        }
    }

    /// Whether the rule validates (rather than mutates, generates or verifies images).
    #[must_use]
    pub fn is_validate(&self) -> bool {
        matches!(self.body, RuleBody::Validate(_))
    }

    /// Whether the rule generates.
    #[must_use]
    pub fn is_generate(&self) -> bool {
        matches!(self.body, RuleBody::Generate(_))
    }

    /// Whether the rule mutates.
    #[must_use]
    pub fn is_mutate(&self) -> bool {
        matches!(self.body, RuleBody::Mutate(_))
    }

    /// Whether the rule validates without CEL (`validate` without `validate.cel`).
    #[must_use]
    pub fn is_non_cel_validate(&self) -> bool {
        matches!(&self.body, RuleBody::Validate(v) if v.get("cel").is_none())
    }

    pub(super) fn applies(&self, adm: &Admission<'_>) -> Result<bool, String> {
        let Some(m) = &self.match_block else { return Ok(false) };
        let [matched, excluded] = &self.compiled_blocks;
        let selected = match matched {
            Some(block) => block.holds(adm),
            None => matching::matches(m, adm).map_err(|e| format!("match: {e}"))?,
        };
        if !selected {
            return Ok(false);
        }
        if let Some(x) = &self.exclude_block {
            let removed = match excluded {
                Some(block) => block.holds(adm),
                None => matching::excludes(x, adm).map_err(|e| format!("exclude: {e}"))?,
            };
            if removed {
                return Ok(false);
            }
        }
        Ok(true)
    }

    pub(super) fn respond(
        &self,
        status: Status,
        message: String,
        path: Option<Vec<String>>,
    ) -> RuleResponse {
        RuleResponse { rule: self.name.clone(), status, message, path }
    }

    pub(super) fn error(&self, message: String) -> RuleResponse {
        self.respond(Status::Error, message, None)
    }

    /// Runs the rule on a resource it applies to: context, preconditions, then the validate
    /// handler. `None` when a foreach found nothing to check (no response, as in Kyverno).
    pub(super) fn run(
        &self,
        policy: (&str, &str),
        resource: &Value,
        request: &Request<'_>,
        adm: &Admission<'_>,
    ) -> Option<RuleResponse> {
        self.run_patching(policy, resource, request, adm, &mut None, &mut (None, Vec::new()))
    }

    /// Runs a rule as [`Rule::run`] does, and puts in `patched` the resource a mutate rule
    /// changed. A mutate rule with `targets` answers in `existing` instead (given the
    /// namespace of a namespaced Policy): a response per target, and no response of its own.
    pub(super) fn run_patching(
        &self,
        policy: (&str, &str),
        resource: &Value,
        request: &Request<'_>,
        adm: &Admission<'_>,
        patched: &mut Option<Value>,
        existing: &mut (Option<&str>, super::mutate::existing::Patches),
    ) -> Option<RuleResponse> {
        if let Some(what) = self.unsupported() {
            return Some(self.error(format!("{what} is not supported yet")));
        }
        if let Some(block) = self.mutates_without_context(request) {
            let response;
            (response, *patched) = self.mutate(block, resource, &mut Value::Null, &request.limits);
            return Some(response);
        }
        if self.validates_without_context(request) {
            // Nothing the rule evaluates reads the context: it is neither built nor copied (a
            // library of pattern rules on a fleet's workloads built one per object).
            let mut none = Cow::Owned(Value::Null);
            return self.in_context(policy, resource, request, adm, &mut none, (patched, existing));
        }
        if let ControlFlow::Break(response) =
            self.in_part_context(policy, resource, request, adm, (patched, existing))
        {
            return response;
        }
        let Some(cell) = request.shared_context.filter(|_| request.values.is_none()) else {
            // A context of its own: changed in place, never copied.
            let mut ctx = Cow::Owned(context::base(resource, request, adm));
            return self.in_context(policy, resource, request, adm, &mut ctx, (patched, existing));
        };
        // The base context is built once per object for all the policies, and taken out of
        // the shared cell while the rule runs. A validate rule whose context entries add only
        // variables of their own evaluates on the base itself, and those are taken out after;
        // any other rule copies it before it adds to it (values, context entries, a foreach
        // binding its elements).
        let taken = cell.try_borrow_mut().ok().and_then(|mut held| held.take());
        let base =
            taken.filter(Value::is_object).unwrap_or_else(|| context::base(resource, request, adm));
        let put_back = |base: Value| {
            if let Ok(mut held) = cell.try_borrow_mut() {
                *held = Some(base);
            }
        };
        if self.adds_only && matches!(self.body, RuleBody::Validate(_)) {
            let mut ctx = Cow::Owned(base);
            let response =
                self.in_context(policy, resource, request, adm, &mut ctx, (patched, existing));
            let mut base = ctx.into_owned();
            if let Some(map) = base.as_object_mut() {
                map.retain(|key, _| context::BASE_KEYS.contains(&key.as_str()));
            }
            put_back(base);
            return response;
        }
        let mut ctx = Cow::Borrowed(&base);
        let response =
            self.in_context(policy, resource, request, adm, &mut ctx, (patched, existing));
        drop(ctx);
        put_back(base);
        response
    }

    /// [`Rule::run_patching`] in the rule's context `ctx` (the base, which the rule adds to).
    fn in_context(
        &self,
        (policy, policy_action): (&str, &str),
        resource: &Value,
        request: &Request<'_>,
        adm: &Admission<'_>,
        ctx: &mut Cow<'_, Value>,
        out: Outputs<'_, '_>,
    ) -> Option<RuleResponse> {
        if let Some(values) = request.values {
            if let Err(e) = values.inject(policy, &self.name, ctx.to_mut()) {
                return Some(self.error(e));
            }
        }
        if !self.context.is_empty() {
            if let Err(e) = context::load(&self.context, ctx.to_mut(), request) {
                return Some(self.error(format!("failed to load context: {e}")));
            }
        }
        self.loaded_in((policy, policy_action), resource, request, adm, ctx, out)
    }

    /// A validate rule that reads only parts of the object ([`context::Reads::Parts`]), for
    /// a created object and without values: run in a context that holds just those parts
    /// (built for the rule, not shared), its answer the `Break`. It continues to the whole
    /// context when the rule reads more, when another rule read a context of the object
    /// before (the shared one is built then), or when a string of the context holds a
    /// variable (substituting it again could read any part of the object): then a rule with
    /// context entries loads them twice, and the steps of both loads are counted.
    fn in_part_context(
        &self,
        policy: (&str, &str),
        resource: &Value,
        request: &Request<'_>,
        adm: &Admission<'_>,
        out: Outputs<'_, '_>,
    ) -> ControlFlow<Option<RuleResponse>> {
        let context::Reads::Parts { object, images } = &self.reads else {
            return ControlFlow::Continue(());
        };
        if self.cel.is_some()
            || request.values.is_some()
            || matches!(adm.operation, "UPDATE" | "DELETE")
        {
            return ControlFlow::Continue(());
        }
        if let Some(cell) = request.shared_context {
            // The first rule that reads a context of the object runs on its parts, and leaves
            // `null` in the shared cell for the next to build the base.
            let Ok(mut held) = cell.try_borrow_mut() else { return ControlFlow::Continue(()) };
            if held.is_some() {
                return ControlFlow::Continue(());
            }
            *held = Some(Value::Null);
        }
        let mut ctx = context::part(resource, (object, *images), request, adm);
        if context::holds_braces(&ctx) {
            return ControlFlow::Continue(());
        }
        if !self.context.is_empty() {
            if let Err(e) = context::load(&self.context, &mut ctx, request) {
                return ControlFlow::Break(Some(
                    self.error(format!("failed to load context: {e}")),
                ));
            }
            if context::holds_braces(&ctx) {
                return ControlFlow::Continue(());
            }
        }
        ControlFlow::Break(self.loaded_in(
            policy,
            resource,
            request,
            adm,
            &mut Cow::Owned(ctx),
            out,
        ))
    }

    /// [`Rule::in_context`] once its context is loaded: preconditions, then the rule.
    fn loaded_in(
        &self,
        (policy, policy_action): (&str, &str),
        resource: &Value,
        request: &Request<'_>,
        adm: &Admission<'_>,
        ctx: &mut Cow<'_, Value>,
        (patched, existing): Outputs<'_, '_>,
    ) -> Option<RuleResponse> {
        if let Some(pre) = &self.preconditions {
            match conditions::evaluate(pre, ctx, &request.limits) {
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
            if let Some(answer) = self.run_cel(cel, resource, request, adm) {
                return Some(answer);
            }
        }
        if let RuleBody::Mutate(block) = &self.body {
            return self.mutate_in_context(
                block,
                resource,
                ctx.to_mut(),
                request,
                patched,
                existing,
            );
        }
        // An Enforce rule lets an UPDATE keep a violation the object already had (Kyverno's
        // `allowExistingViolations`, on by default): the old object is checked as created.
        let old = self
            .allows_existing_violations(policy_action, request)
            .then(|| ctx.at("/request/oldObject").filter(|o| o.is_object()).cloned())
            .flatten();
        let response = self.validate(resource, ctx, &request.limits)?;
        if let (Status::Fail, Some(old)) = (response.status, old) {
            if self.violated_before((policy, policy_action), &old, request) {
                let why = "skipping the rule evaluation as pre-existing violations are allowed";
                return Some(self.respond(Status::Skip, why.into(), None));
            }
        }
        Some(response)
    }

    /// A rule's CEL (`validate.cel`, with `paramKind`/`paramRef`): its answer, or `None` when
    /// it passed and the rule goes on (a rule that does not only validate).
    fn run_cel(
        &self,
        cel: &CelRule,
        resource: &Value,
        request: &Request<'_>,
        adm: &Admission<'_>,
    ) -> Option<RuleResponse> {
        let mut vars = cel::activation(resource, request, adm);
        let host = cel::ClusterHost { cluster: request.cluster };
        let params = match &cel.params {
            None => vec![Value::Null],
            Some(spec) => match spec.resolve(adm, request.cluster) {
                Err(e) => return Some(self.error(format!("paramRef: {e}"))),
                Ok(found) if found.is_empty() && spec.allow_missing => {
                    let why = format!("no {} (parameterNotFoundAction: Allow)", spec.describe());
                    return Some(self.respond(Status::Pass, why, None));
                }
                Ok(found) if found.is_empty() => {
                    let why = format!("no params found: {} is not in the tree", spec.describe());
                    return Some(self.respond(Status::Fail, why, None));
                }
                Ok(found) => found,
            },
        };
        // Every parameter object must pass (as each binding's param does in Kubernetes).
        let mut outcome = Outcome::Pass;
        for p in &params {
            vars.insert("params".into(), crate::engine::cel::Val::from_json(p));
            let on_error = (!cel.errors_ignored, cel.errors_ignored);
            outcome = cel.program.run(&vars, &request.limits, Some(&host), on_error);
            if outcome != Outcome::Pass {
                break;
            }
        }
        match outcome {
            Outcome::NotMatched(name) => {
                let why = format!("cel preconditions not met: `{name}` is false");
                Some(self.respond(Status::Skip, why, None))
            }
            Outcome::Error(e) => Some(self.error(e)),
            Outcome::Fail(m, path) => Some(self.respond(Status::Fail, m, path)),
            Outcome::Pass if cel.validates => {
                let passed = format!("validation rule '{}' passed.", self.name);
                Some(self.respond(Status::Pass, passed, None))
            }
            Outcome::Pass => None,
        }
    }

    /// A mutate rule in its context: the trigger patched (into `patched`), or with `targets`,
    /// the targets (into `existing`, no response of its own).
    fn mutate_in_context(
        &self,
        block: &Value,
        resource: &Value,
        ctx: &mut Value,
        request: &Request<'_>,
        patched: &mut Option<Value>,
        existing: &mut (Option<&str>, super::mutate::existing::Patches),
    ) -> Option<RuleResponse> {
        if block.get("targets").is_some() {
            existing.1 = self.mutate_existing(block, ctx, request, existing.0);
            return None;
        }
        let response;
        (response, *patched) = self.mutate(block, resource, ctx, &request.limits);
        Some(response)
    }

    /// The mutate block of a rule that reads nothing from a context (no variables, context
    /// entries, preconditions, CEL or foreach): it patches without one (admission runs such
    /// rules on every object, and building a context is most of their cost).
    fn mutates_without_context(&self, request: &Request<'_>) -> Option<&Value> {
        let RuleBody::Mutate(block) = &self.body else { return None };
        // CEL preconditions run in the context's place (in `in_context`, which this skips).
        (!self.reads_context && self.cel.is_none() && request.values.is_none()).then_some(block)
    }

    /// A validate rule that reads nothing from a context ([`Rule::reads_context`]), run
    /// without values (they are set in the context) and not for an UPDATE (whose old object
    /// the context holds).
    fn validates_without_context(&self, request: &Request<'_>) -> bool {
        !self.reads_context
            && matches!(self.body, RuleBody::Validate(_))
            && request.values.is_none()
            && request.operation != "UPDATE"
    }

    /// Whether an UPDATE may keep a violation of this rule the old object had: the rule
    /// enforces (its `failureAction`, else the policy's) and does not set
    /// `allowExistingViolations: false`.
    fn allows_existing_violations(&self, policy_action: &str, request: &Request<'_>) -> bool {
        // Checked for every rule run: the operation first, the rest only for an UPDATE.
        if request.operation != "UPDATE" {
            return false;
        }
        let action = self.failure_action.as_deref().unwrap_or(policy_action);
        action.eq_ignore_ascii_case("enforce")
            && matches!(&self.body,
                RuleBody::Validate(v) if v.get("allowExistingViolations") != Some(&Value::Bool(false)))
    }

    /// Whether the old object of an UPDATE, checked as if it were created, fails the rule too.
    fn violated_before(&self, policy: (&str, &str), old: &Value, request: &Request<'_>) -> bool {
        let create = Request {
            operation: "CREATE",
            shared_context: None,
            targets: None,
            cel_object: None,
            ..request.clone()
        };
        let adm = super::policy::admission(old, &create);
        matches!(self.applies(&adm), Ok(true))
            && self.run(policy, old, &create, &adm).is_some_and(|r| r.status == Status::Fail)
    }
}
