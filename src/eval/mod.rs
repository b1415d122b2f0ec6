//! Stage 4 — eval: run the selected rules over the inventory in parallel, turn violations into
//! findings, and sort them (file, line, column, rule) so output never depends on scheduling.
//!
//! Entry point: [`run`].

pub mod suppress;

use std::panic::{catch_unwind, AssertUnwindSafe};

use rayon::prelude::*;

use crate::engine::{Context, Rule, RuleScope, Sink, Violation};
use crate::error::Problem;
use crate::finding::{Finding, ResourceRef, Severity};
use crate::inventory::{locate, Inventory};
use crate::progress::{Progress, Stage};

/// A violation with the index of the rule that reported it.
type RuleViolation = (usize, Violation);

/// A rule selected for this run, with its effective severity.
pub struct ActiveRule {
    pub rule: Box<dyn Rule>,
    pub severity: Severity,
}

/// Runs every rule. A rule that panics is reported as a problem; the others still run.
#[must_use]
pub fn run(
    rules: &[ActiveRule],
    cx: &Context<'_>,
    exceptions: &suppress::Exceptions,
) -> (Vec<Finding>, Vec<Problem>) {
    run_with(rules, cx, exceptions, &crate::progress::Silent)
}

/// [`run`], telling `progress` about every object checked.
#[must_use]
pub fn run_with(
    rules: &[ActiveRule],
    cx: &Context<'_>,
    exceptions: &suppress::Exceptions,
    progress: &dyn Progress,
) -> (Vec<Finding>, Vec<Problem>) {
    let inv = cx.inventory;
    progress.start(Stage::Check, inv.objects.len() as u64);
    let object_rules: Vec<(usize, &ActiveRule)> =
        rules.iter().enumerate().filter(|(_, r)| r.rule.scope() == RuleScope::Object).collect();
    let tree_rules: Vec<(usize, &ActiveRule)> =
        rules.iter().enumerate().filter(|(_, r)| r.rule.scope() == RuleScope::Tree).collect();

    // Per-object rules: parallel over objects, each object checked by the rules of its kind.
    let per_object = inv.objects.par_iter().map(|object| {
        let mut out: Vec<(usize, Violation)> = Vec::new();
        let mut problems = Vec::new();
        // One sink for all the rules of this object: they share what they derive from it.
        let mut sink = Sink::default();
        for &(ri, active) in &object_rules {
            if !active.rule.wants_kind(&object.kind) {
                continue;
            }
            let ran = catch_unwind(AssertUnwindSafe(|| {
                active.rule.check_object(cx, object, &mut sink);
            }));
            let violations = sink.violations.drain(..);
            match ran {
                Ok(()) => out.extend(violations.map(|v| (ri, v))),
                Err(_) => problems.push(Problem::new(
                    inv.source(object).display.clone(),
                    None,
                    format!(
                        "internal error: rule {} failed on document {}",
                        active.rule.meta().code,
                        object.document
                    ),
                )),
            }
        }
        progress.advance(1);
        (out, problems)
    });
    let per_tree = tree_rules.par_iter().map(|&(ri, active)| {
        let mut sink = Sink::default();
        match catch_unwind(AssertUnwindSafe(|| {
            active.rule.check_tree(cx, &mut sink);
        })) {
            Ok(()) => (sink.violations.into_iter().map(|v| (ri, v)).collect(), Vec::new()),
            Err(_) => (
                Vec::new(),
                vec![Problem::new(
                    "",
                    None,
                    format!("internal error: rule {} failed", active.rule.meta().code),
                )],
            ),
        }
    });
    let (violations, problems): (Vec<Vec<RuleViolation>>, Vec<Vec<Problem>>) =
        per_object.chain(per_tree).unzip();
    progress.finish();

    let mut findings: Vec<Finding> = violations
        .into_par_iter()
        .flatten()
        .map(|(ri, v)| {
            let object = &inv.objects[v.object];
            let mut finding = to_finding(&rules[ri], v, inv);
            finding.suppressed = suppress::suppression(&finding, object, exceptions);
            finding
        })
        .collect();
    findings.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    let mut problems: Vec<Problem> = problems.into_iter().flatten().collect();
    problems.sort();
    (findings, problems)
}

fn to_finding(active: &ActiveRule, v: Violation, inv: &Inventory) -> Finding {
    let object = &inv.objects[v.object];
    let meta = active.rule.meta();
    let (rule, name, severity, policy) = match v.origin {
        Some(o) => (format!("{}/{}", o.policy, o.rule), o.rule, o.severity, Some(o.policy)),
        None => (meta.code.clone(), meta.name.clone(), active.severity, None),
    };
    Finding {
        rule,
        name,
        severity,
        message: v.message,
        help: if policy.is_some() { None } else { Some(meta.help.clone()) },
        source: inv.source(object).clone(),
        span: locate::locate(&object.root, &v.pointer),
        document: object.document,
        path: v.pointer,
        resource: ResourceRef {
            api_version: object.api_version.clone(),
            kind: object.kind.clone(),
            namespace: object.namespace_or_empty().to_string(),
            name: object.name.clone(),
        },
        policy,
        suppressed: None,
        // A Namespace object belongs to the tenant that owns that namespace.
        tenant: object
            .namespace
            .as_deref()
            .or((object.kind == "Namespace").then_some(object.name.as_str()))
            .and_then(|ns| inv.tenants.tenant_of(ns))
            .map(|t| t.name.clone()),
    }
}
