//! Stage 3 — engines: rules behind one interface.
//!
//! A rule looks at one object at a time ([`Rule::check_object`], run for every object of the
//! kinds it names) or at the whole tree at once ([`Rule::check_tree`]). Either way it reports
//! [`Violation`]s: an object, a JSON pointer into it and a message. The eval stage turns those
//! into findings with spans and severities.

pub mod builtin;
pub mod cel;
pub mod kyverno;

use std::rc::Rc;

use crate::config::Config;
use crate::finding::Severity;
use crate::inventory::{Inventory, Object};

/// What a rule is, independent of what it checks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleMeta {
    /// Stable code, e.g. `MTK-SEC-001`.
    pub code: String,
    /// Short kebab-case name, e.g. `privileged-container`.
    pub name: String,
    pub severity: Severity,
    /// One line: what the rule reports.
    pub summary: String,
    /// One line: how to fix it.
    pub help: String,
    pub enabled_by_default: bool,
    /// The rule's README (What it checks / Why it matters / How to fix / References).
    pub docs: &'static str,
}

impl RuleMeta {
    /// Whether `id` names this rule (by code or by name, case-insensitively).
    #[must_use]
    pub fn is_named(&self, id: &str) -> bool {
        self.code.eq_ignore_ascii_case(id) || self.name.eq_ignore_ascii_case(id)
    }
}

/// Whether a rule runs per object or over the whole tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RuleScope {
    /// `check_object` runs for every object of the kinds returned by `kinds`.
    Object,
    /// `check_tree` runs once.
    Tree,
}

/// What a rule sees besides the object: the whole inventory and the config.
pub struct Context<'a> {
    pub inventory: &'a Inventory,
    pub config: &'a Config,
    /// `apiCall` answers the run's policies already got from the inventory.
    pub answers: kyverno::lint::ApiAnswers,
}

impl<'a> Context<'a> {
    /// The context of a run over `inventory`.
    #[must_use]
    pub fn new(inventory: &'a Inventory, config: &'a Config) -> Self {
        Context { inventory, config, answers: kyverno::lint::ApiAnswers::default() }
    }
}

impl Context<'_> {
    /// Whether a namespace is run by the platform team (exempt from tenant rules).
    #[must_use]
    pub fn is_platform_namespace(&self, namespace: &str) -> bool {
        self.config.tenancy.platform_namespaces.iter().any(|p| p == namespace)
    }

    /// The tenant that owns the object's effective namespace.
    #[must_use]
    pub fn tenant_of(&self, object: &Object) -> Option<&crate::inventory::Tenant> {
        object.namespace.as_deref().and_then(|ns| self.inventory.tenants.tenant_of(ns))
    }
}

/// One violation as a rule reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// Index of the object in [`Inventory::objects`].
    pub object: usize,
    /// JSON pointer to the offending field, or to the parent that lacks one.
    pub pointer: String,
    pub message: String,
    /// For rules that stand for several (a Kyverno policy): which one, and its severity.
    pub origin: Option<Origin>,
    /// Where the cause is written when it is not in the object (inventory file index, span):
    /// the patch that deleted what the object lacks.
    pub at: Option<(usize, crate::load::source::Span)>,
    /// For an object several clusters receive, the one the violation is about (a whole-tree
    /// rule judges each cluster apart); `None` for all.
    pub cluster: Option<String>,
}

/// Where a violation of a Kyverno policy comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    pub policy: String,
    pub rule: String,
    pub severity: crate::finding::Severity,
    /// The PolicyException of the tree that excepts the object from the rule (`namespace/name`):
    /// the finding is reported as suppressed, naming it.
    pub exception: Option<String>,
}

/// Where rules put their violations. Eval gives every rule run on one object the same sink, so
/// that what they derive from the object (its JSON, its namespace's labels) is computed once.
#[derive(Default, Debug)]
pub struct Sink {
    pub violations: Vec<Violation>,
    /// (object index, its JSON as the cluster stores it)
    json: Option<(usize, Rc<serde_json::Value>)>,
    /// (object index, the object as a CEL value)
    cel: Option<(usize, Rc<cel::Val>)>,
    /// (object index, the Kyverno JSON context around it, once a policy has built it)
    policy_context: Option<(usize, Rc<PolicyContext>)>,
}

/// The Kyverno JSON context of one object, once a rule has built it: taken out by the rule
/// being evaluated and put back after (see `kyverno::Request::shared_context`). `null` until
/// then once a rule ran in a context of the parts of the object it reads: the next rule that
/// reads a context builds the shared one (one per object costs less than one per rule).
pub type PolicyContext = std::cell::RefCell<Option<serde_json::Value>>;

impl Sink {
    /// The object as JSON, as the cluster stores it (see [`Object::cluster_json`]), converted
    /// once for all the rules that ask.
    pub fn object_json(&mut self, object: &Object) -> Rc<serde_json::Value> {
        memo(&mut self.json, object, Object::cluster_json)
    }

    /// The object as a CEL value, converted once for all the CEL policies.
    pub fn cel_object(&mut self, object: &Object) -> Rc<cel::Val> {
        let json = self.object_json(object);
        memo(&mut self.cel, object, |_| cel::Val::from_json(&json))
    }

    /// The cell that holds the Kyverno JSON context of the object, shared by every policy
    /// evaluated on it in this run (all ask with the same admission request).
    pub fn policy_context(&mut self, object: &Object) -> Rc<PolicyContext> {
        memo(&mut self.policy_context, object, |_| PolicyContext::default())
    }

    pub fn report(
        &mut self,
        object: &Object,
        pointer: impl Into<String>,
        message: impl Into<String>,
    ) {
        self.push(object, None, pointer.into(), message.into());
    }

    /// A violation of `object` in one cluster (`None`: every cluster that receives it), whose
    /// cause is written at `at` (inventory file index, span) when it is outside the object: a
    /// patch that deleted what the object needs.
    pub fn report_in(
        &mut self,
        object: &Object,
        cluster: Option<&str>,
        at: Option<(usize, crate::load::source::Span)>,
        pointer: impl Into<String>,
        message: impl Into<String>,
    ) {
        self.push(object, at, pointer.into(), message.into());
        if let Some(last) = self.violations.last_mut() {
            last.cluster = cluster.map(String::from);
        }
    }

    fn push(
        &mut self,
        object: &Object,
        at: Option<(usize, crate::load::source::Span)>,
        pointer: String,
        message: String,
    ) {
        self.violations.push(Violation {
            object: object.index,
            pointer,
            message,
            origin: None,
            at,
            cluster: None,
        });
    }
}

/// The value `slot` holds for `object`, computed by `make` when it holds one for another object
/// (or none).
fn memo<T>(
    slot: &mut Option<(usize, Rc<T>)>,
    object: &Object,
    make: impl FnOnce(&Object) -> T,
) -> Rc<T> {
    match slot {
        Some((i, value)) if *i == object.index => Rc::clone(value),
        _ => {
            let value = Rc::new(make(object));
            *slot = Some((object.index, Rc::clone(&value)));
            value
        }
    }
}

/// A rule. Implementations are `Send + Sync`: rules run in parallel.
pub trait Rule: Send + Sync {
    fn meta(&self) -> &RuleMeta;

    fn scope(&self) -> RuleScope;

    /// Kinds a per-object rule looks at; the eval stage only calls it for those.
    fn kinds(&self) -> &[&str] {
        &[]
    }

    /// Whether `check_object` wants objects of this kind (by default: one of `kinds`).
    fn wants_kind(&self, kind: &str) -> bool {
        self.kinds().contains(&kind)
    }

    fn check_object(&self, _cx: &Context<'_>, _object: &Object, _sink: &mut Sink) {}

    fn check_tree(&self, _cx: &Context<'_>, _sink: &mut Sink) {}

    /// How many rules this one stands for (a Kyverno policy runs all of its rules), for `--stats`.
    fn rule_count(&self) -> usize {
        1
    }

    /// Whether the rule evaluates expressions (JMESPath, CEL) whose steps count towards the
    /// run's total (`eval-steps-total`): once it is spent, such rules stop running.
    fn evaluates_expressions(&self) -> bool {
        false
    }

    /// Whether `id` names this rule or one of the rules it runs: a built-in rule by code or
    /// name; a Kyverno policy by its name, or `policy/rule` (autogen rules included).
    fn answers_to(&self, id: &str) -> bool {
        self.meta().is_named(id)
    }
}
