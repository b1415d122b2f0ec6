//! Stage 4 — eval: run the selected rules over the inventory in parallel, turn violations into
//! findings, and sort them (file, line, column, rule) so output never depends on scheduling.
//!
//! Entry point: [`run`].

mod shard;
pub mod suppress;

pub use shard::Shard;

use std::sync::Arc;

use rayon::prelude::*;

use crate::engine::{Context, Rule, RuleScope, Sink, Violation};
use crate::error::Problem;
use crate::finding::{Finding, ResourceRef, Severity};
use crate::inventory::Inventory;
use crate::load::locate;
use crate::progress::{Progress, Stage};

/// A finding, with the suppression that accepted it.
type Judged = (Finding, Option<suppress::SuppressedBy>);

/// Objects checked together before their findings join the run's: a batch's findings move into
/// the run's vector before the next batch is checked, which reuses what the batch's vectors
/// held, so that the run never holds a second copy of every finding (a policy library reports
/// hundreds of thousands).
const BATCH: usize = 4096;

/// The findings of some objects or rules, the suppressions they used, and the problems met.
#[derive(Default)]
struct Part {
    findings: Vec<Finding>,
    used: std::collections::BTreeSet<suppress::SuppressedBy>,
    problems: Vec<Problem>,
}

impl Part {
    fn add(&mut self, judged: Vec<Judged>, mut problems: Vec<Problem>) {
        for (finding, by) in judged {
            self.findings.push(finding);
            self.used.extend(by);
        }
        self.problems.append(&mut problems);
    }
}

/// A rule selected for this run, with its effective severity.
pub struct ActiveRule {
    pub rule: Box<dyn Rule>,
    pub severity: Severity,
}

/// What running the rules gave.
#[derive(Debug, Default)]
pub struct Evaluation {
    /// Every finding, suppressed ones included (with their reason), sorted.
    pub findings: Vec<Finding>,
    /// Rules that failed (a panic is contained and reported here).
    pub problems: Vec<Problem>,
    /// The suppressions that accepted at least one finding.
    pub used: std::collections::BTreeSet<suppress::SuppressedBy>,
    /// JMESPath and CEL steps the run took, all evaluations together.
    pub steps: u64,
}

/// Runs every rule. A rule that panics is reported as a problem; the others still run.
#[must_use]
pub fn run(
    rules: &[ActiveRule],
    cx: &Context<'_>,
    exceptions: &suppress::Exceptions,
) -> Evaluation {
    let steps_total = crate::limits::Limits::default().eval_steps_total;
    run_with(rules, cx, exceptions, (steps_total, None), &crate::progress::Silent)
}

/// [`run`] within a budget of steps and, with a shard, for that shard's objects only (see
/// [`Shard`]); telling `progress` about every object checked.
#[must_use]
pub fn run_with(
    rules: &[ActiveRule],
    cx: &Context<'_>,
    exceptions: &suppress::Exceptions,
    (steps_total, shard): (u64, Option<Shard>),
    progress: &dyn Progress,
) -> Evaluation {
    use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
    let inv = cx.inventory;
    progress.start(Stage::Check, inv.objects.len() as u64);
    let object_rules: Vec<(usize, &ActiveRule)> =
        rules.iter().enumerate().filter(|(_, r)| r.rule.scope() == RuleScope::Object).collect();
    let tree_rules: Vec<(usize, &ActiveRule)> =
        rules.iter().enumerate().filter(|(_, r)| r.rule.scope() == RuleScope::Tree).collect();

    // A violation becomes a finding (suppressed or not) where it is found, so that the run
    // never holds both for every finding.
    let convert = |ri: usize, v: Violation, resource: &mut _| -> Judged {
        let object = &inv.objects[v.object];
        let mut finding = to_finding(&rules[ri], v, inv, resource);
        let suppression = suppress::suppression(&finding, object, exceptions);
        let by = suppression.as_ref().map(|(_, by)| *by);
        // A PolicyException of the tree (set by the rule) names itself; a suppression of the
        // same finding still counts as used.
        if finding.suppressed.is_none() {
            finding.suppressed = suppression.map(|(reason, _)| reason);
        }
        (finding, by)
    };

    // Steps are counted per object; once the run's total is past `steps_total`, the rules that
    // evaluate expressions are left out for the objects that remain (reported below).
    let spent = AtomicU64::new(0);
    let unchecked = AtomicUsize::new(0);

    // Per-object rules: parallel over objects, each object checked by the rules of its kind.
    let check = |object: &crate::inventory::Object| {
        let mut out: Vec<Judged> = Vec::new();
        let mut problems = Vec::new();
        if shard.is_some_and(|s| !owns(s, inv, object)) {
            progress.advance(1);
            return (out, problems);
        }
        // One sink for all the rules of this object: they share what they derive from it.
        let mut sink = Sink::default();
        let mut resource = None;
        let spent_out = spent.load(Relaxed) > steps_total;
        let mut left_out = false;
        let _ = crate::limits::take_spent(); // spent elsewhere: not this object's
        for &(ri, active) in &object_rules {
            if !active.rule.wants_kind(&object.kind) {
                continue;
            }
            if spent_out && active.rule.evaluates_expressions() {
                left_out = true;
                continue;
            }
            let ran = crate::panic::catch(|| active.rule.check_object(cx, object, &mut sink));
            let violations = sink.violations.drain(..);
            match ran {
                Ok(()) => out.extend(violations.map(|v| convert(ri, v, &mut resource))),
                Err(message) => problems.push(Problem::new(
                    inv.source(object).display.clone(),
                    Some(object.root.span.start()),
                    crate::panic::internal_error(
                        &format!(
                            "checking {} `{}` with rule {}",
                            object.kind,
                            object.name,
                            active.rule.meta().code
                        ),
                        &message,
                    ),
                )),
            }
        }
        spent.fetch_add(crate::limits::take_spent(), Relaxed);
        if left_out {
            unchecked.fetch_add(1, Relaxed);
        }
        progress.advance(1);
        (out, problems)
    };
    let per_tree = |&(ri, active): &(usize, &ActiveRule)| {
        let mut sink = Sink::default();
        match crate::panic::catch(|| active.rule.check_tree(cx, &mut sink)) {
            Ok(()) => {
                let mut resource = None;
                let judged = sink.violations.into_iter().map(|v| convert(ri, v, &mut resource));
                (judged.collect::<Vec<Judged>>(), Vec::new())
            }
            Err(message) => (
                Vec::new(),
                vec![Problem::new(
                    "",
                    None,
                    crate::panic::internal_error(
                        &format!("running rule {} over the tree", active.rule.meta().code),
                        &message,
                    ),
                )],
            ),
        }
    };
    // Objects batch by batch, in order; the tree rules beside them.
    let trees = || tree_rules.par_iter().map(per_tree).collect::<Vec<_>>();
    let (mut part, trees) = rayon::join(|| in_batches(&inv.objects, check), trees);
    for (judged, problems) in trees {
        part.add(judged, problems);
    }
    progress.finish();

    let Part { mut findings, used, mut problems } = part;
    // The tree rules' findings on other shards' objects are not this shard's.
    findings.retain(|f| shard.is_none_or(|s| s.owns_finding(f)));
    sort_stably(&mut findings);
    let findings = merge_causes(findings);
    problems.extend(budget_spent(unchecked.into_inner(), steps_total));
    problems.sort();
    Evaluation { findings, problems, used, steps: spent.into_inner() }
}

/// The problem of a run that left `unchecked` objects out of its expression rules.
fn budget_spent(unchecked: usize, steps_total: u64) -> Option<Problem> {
    (unchecked > 0).then(|| {
        Problem::new(
            "",
            None,
            format!(
                "policies were not evaluated on {unchecked} objects: the run spent its budget of \
                 {steps_total} JMESPath and CEL steps ({})",
                crate::limits::hint("eval-steps-total")
            ),
        )
    })
}

/// Checks objects batch by batch (in parallel within a batch), keeping their order.
fn in_batches<T: Sync>(
    objects: &[T],
    check: impl Fn(&T) -> (Vec<Judged>, Vec<Problem>) + Sync,
) -> Part {
    let mut part = Part::default();
    for batch in objects.chunks(BATCH) {
        let checked: Vec<(Vec<Judged>, Vec<Problem>)> = batch.par_iter().map(&check).collect();
        part.findings.reserve(checked.iter().map(|(j, _)| j.len()).sum());
        for (judged, problems) in checked {
            part.add(judged, problems);
        }
    }
    part
}

/// Sorts findings by their sort key, keeping the order of equal ones: by sorting their indexes
/// and then moving each finding once (a stable sort of the findings themselves would need a
/// buffer of half of them, tens of megabytes with a policy library).
fn sort_stably(findings: &mut [Finding]) {
    let mut order: Vec<usize> = (0..findings.len()).collect();
    order.sort_by(|&a, &b| findings[a].sort_key().cmp(&findings[b].sort_key()));
    // Position i takes the finding at order[i]: each cycle of the permutation is followed once.
    for start in 0..findings.len() {
        let mut i = start;
        while order[i] != start && order[i] != i {
            let from = order[i];
            findings.swap(i, from);
            order[i] = i;
            i = from;
        }
        order[i] = i;
    }
}

/// One finding per cause and tenant: findings on rendered objects with the same rule, place
/// and message, on objects of the same tenant (or all the platform's: a [`Shard`] holds them),
/// become one that lists every unit (findings are sorted, so they are neighbours up to the
/// pointer, which list indexes may shift between units).
fn merge_causes(mut findings: Vec<Finding>) -> Vec<Finding> {
    // In place: the findings kept move to the front (a second vector of hundreds of thousands of
    // findings would double the run's largest allocation).
    let mut kept = 0;
    let mut group_start = 0;
    for i in 0..findings.len() {
        if findings[i].units.is_empty() {
            findings.swap(kept, i);
            kept += 1;
            continue;
        }
        let place = |f: &Finding| (Arc::as_ptr(&f.source), f.span.start());
        if kept == group_start || place(&findings[group_start]) != place(&findings[i]) {
            group_start = kept;
        }
        let (front, rest) = findings.split_at_mut(i);
        let finding = &mut rest[0];
        let same = front[group_start..kept]
            .iter_mut()
            .find(|f| !f.units.is_empty() && f.same_cause(finding) && shard::same_key(f, finding));
        if let Some(same) = same {
            let more: Vec<crate::finding::Trace> = finding
                .units
                .iter()
                .filter(|trace| {
                    !same.units.iter().any(|t| t.unit == trace.unit && t.cluster == trace.cluster)
                })
                .cloned()
                .collect();
            if !more.is_empty() {
                same.units = same.units.iter().cloned().chain(more).collect();
            }
            finding.units = Arc::from([]);
        } else {
            findings.swap(kept, i);
            kept += 1;
        }
    }
    findings.truncate(kept);
    findings
}

fn to_finding(
    active: &ActiveRule,
    v: Violation,
    inv: &Inventory,
    resource: &mut Option<(usize, Arc<ResourceRef>)>,
) -> Finding {
    let object = &inv.objects[v.object];
    let meta = active.rule.meta();
    let excepted = v.origin.as_ref().and_then(|o| o.exception.as_ref());
    let suppressed = excepted.map(|e| format!("excepted by PolicyException `{e}`"));
    let (rule, name, severity, policy) = match v.origin {
        // CEL policy kinds have no rules: the policy names the finding.
        Some(o) if o.rule.is_empty() => {
            let policy = intern(&o.policy);
            (policy.clone(), policy.clone(), o.severity, Some(policy))
        }
        Some(o) => {
            let id = intern(&format!("{}/{}", o.policy, o.rule));
            (id, intern(&o.rule), o.severity, Some(intern(&o.policy)))
        }
        None => (intern(&meta.code), intern(&meta.name), active.severity, None),
    };
    let resource = match resource {
        Some((index, shared)) if *index == object.index => Arc::clone(shared),
        _ => Arc::clone(&resource.insert((object.index, Arc::new(object.resource_ref()))).1),
    };
    // A field admission set is the mutator's doing: the finding says so (and points there).
    let message = match object.admitted_by(&v.pointer).filter(|_| v.at.is_none()) {
        Some(by) => format!("{} ({by})", v.message),
        None => v.message,
    };
    Finding {
        rule,
        name,
        severity,
        message,
        help: if policy.is_some() { None } else { Some(meta.help.clone()) },
        // A rendered object's field is in the file that supplied it (a base, a patch, a
        // kustomization field); a cause outside the object is where it is written.
        source: inv.files[v.at.map_or_else(|| object.file_at(&v.pointer), |(file, _)| file)]
            .clone(),
        span: v.at.map_or_else(|| locate::locate(&object.root, &v.pointer), |(_, span)| span),
        document: object.document,
        path: v.pointer,
        resource,
        policy,
        suppressed,
        tenant: tenant_name(inv, object),
        // The units of the cluster the violation is about, else every unit.
        units: match (&object.rendering, v.cluster.as_deref()) {
            (None, _) => Arc::from([]),
            (Some(r), None) => Arc::clone(r.traces(&inv.files)),
            (Some(r), Some(c)) => {
                r.traces(&inv.files).iter().filter(|t| *t.cluster == *c).cloned().collect()
            }
        },
    }
}

/// Most distinct names [`intern`] keeps per thread (it starts over when full).
const INTERNED: usize = 4096;

thread_local! {
    static NAMES: std::cell::RefCell<std::collections::HashMap<Box<str>, Arc<str>>> =
        std::cell::RefCell::new(std::collections::HashMap::new());
}

/// One shared copy of a rule, policy or tenant name per thread, for the many findings that
/// carry it (a large run has hundreds of thousands of findings and a few hundred names).
pub(crate) fn intern(name: &str) -> Arc<str> {
    NAMES.with_borrow_mut(|names| {
        if let Some(shared) = names.get(name) {
            return Arc::clone(shared);
        }
        if names.len() >= INTERNED {
            names.clear();
        }
        let shared: Arc<str> = Arc::from(name);
        names.insert(name.into(), Arc::clone(&shared));
        shared
    })
}

/// Whether an object is a shard's.
fn owns(shard: Shard, inv: &Inventory, object: &crate::inventory::Object) -> bool {
    shard.owns(tenant_name(inv, object).as_deref())
}

/// The tenant a finding on `object` is counted for; a Namespace object belongs to the tenant
/// that owns that namespace.
fn tenant_name(inv: &Inventory, object: &crate::inventory::Object) -> Option<Arc<str>> {
    object
        .namespace
        .as_deref()
        .or((object.kind == "Namespace").then_some(object.name.as_str()))
        .and_then(|ns| inv.tenants.tenant_of(ns))
        .map(|t| intern(&t.name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::engine::{RuleMeta, Sink};
    use crate::inventory::Object;

    #[test]
    fn findings_are_sorted_keeping_the_order_of_equal_ones() {
        let files: Vec<Arc<crate::load::source::SourceFile>> = ["b.yaml", "a.yaml", "c.yaml"]
            .iter()
            .map(|n| Arc::new(crate::load::source::SourceFile::new((*n).into(), None, "".into())))
            .collect();
        let finding = |file: usize, line: u32, message: &str| Finding {
            rule: Arc::from("R"),
            name: Arc::from("r"),
            severity: crate::finding::Severity::Warning,
            message: message.to_string(),
            help: None,
            source: Arc::clone(&files[file]),
            span: crate::load::source::Span::new(
                crate::load::source::Pos { line, col: 0 },
                crate::load::source::Pos { line, col: 1 },
            ),
            document: 0,
            path: String::new(),
            resource: Arc::new(crate::finding::ResourceRef {
                api_version: "v1".into(),
                kind: "Pod".into(),
                namespace: String::new(),
                name: "p".into(),
            }),
            policy: None,
            suppressed: None,
            tenant: None,
            units: Arc::from([]),
        };
        // Equal keys (file, line) differ by message: they keep their order.
        let input = [
            (2, 1, "c1"),
            (0, 5, "b5"),
            (1, 3, "a3-first"),
            (0, 1, "b1"),
            (1, 3, "a3-second"),
            (1, 2, "a2"),
            (2, 1, "c1-again"),
        ];
        let mut findings: Vec<Finding> = input.iter().map(|&(f, l, m)| finding(f, l, m)).collect();
        let mut expected = findings
            .iter()
            .map(|f| (f.sort_key().0.to_string(), f.span.start().line, f.message.clone()))
            .collect::<Vec<_>>();
        expected.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
        sort_stably(&mut findings);
        let got: Vec<_> = findings
            .iter()
            .map(|f| (f.sort_key().0.to_string(), f.span.start().line, f.message.clone()))
            .collect();
        assert_eq!(got, expected);
        assert_eq!(got[1].2, "a3-first");
        assert_eq!(got[2].2, "a3-second");
    }

    /// Reports every Pod, and panics on the one called `bad`.
    struct Fragile {
        meta: RuleMeta,
        scope: RuleScope,
    }

    impl Rule for Fragile {
        fn meta(&self) -> &RuleMeta {
            &self.meta
        }
        fn scope(&self) -> RuleScope {
            self.scope
        }
        fn kinds(&self) -> &[&str] {
            &["Pod"]
        }
        fn check_object(&self, _cx: &Context<'_>, object: &Object, sink: &mut Sink) {
            assert!(object.name != "bad", "cannot handle `{}`", object.name);
            sink.report(object, "/metadata/name", "seen");
        }
        fn check_tree(&self, _cx: &Context<'_>, _sink: &mut Sink) {
            panic!("tree rule broke");
        }
    }

    fn rule(code: &str, scope: RuleScope) -> ActiveRule {
        let meta = RuleMeta {
            code: code.into(),
            name: code.to_lowercase(),
            severity: Severity::Error,
            summary: String::new(),
            help: String::new(),
            enabled_by_default: true,
            docs: "",
        };
        ActiveRule { rule: Box::new(Fragile { meta, scope }), severity: Severity::Error }
    }

    #[test]
    fn a_panicking_rule_is_an_error_naming_it_and_the_rest_is_still_reported() {
        let text = "apiVersion: v1\nkind: Pod\nmetadata: {name: good}\n---\n\
                    apiVersion: v1\nkind: Pod\nmetadata: {name: bad}\n";
        let limits = crate::limits::Limits::default();
        let (file, problems) = crate::load::parse_text("pods.yaml", text, &limits);
        assert!(problems.is_empty(), "{problems:?}");
        let sources =
            crate::load::Sources { files: vec![file.unwrap()], ..crate::load::Sources::default() };
        let config = Config::default();
        let inventory = crate::inventory::build(sources, &config);
        let cx = Context::new(&inventory, &config);
        let (exceptions, _) = suppress::Exceptions::new(&[], std::path::Path::new("."), "");
        let rules = [rule("TEST-001", RuleScope::Object), rule("TEST-002", RuleScope::Tree)];
        let Evaluation { findings, problems, .. } = run(&rules, &cx, &exceptions);
        // The good Pod is still reported.
        let names: Vec<&str> = findings.iter().map(|f| &*f.name).collect();
        assert_eq!(findings.len(), 1, "{names:?}");
        assert_eq!(findings[0].resource.to_string(), "Pod/good");
        assert_eq!(problems.len(), 2, "{problems:?}");
        let object = problems.iter().find(|p| p.file == "pods.yaml").expect("object problem");
        // The document of the Pod that broke the rule.
        assert_eq!(object.line, Some(5));
        assert!(
            object.message.contains("internal error while checking Pod `bad` with rule TEST-001")
                && object.message.contains("cannot handle `bad`")
                && object.message.contains("This is a bug in mtk-lint"),
            "{}",
            object.message
        );
        let tree = problems.iter().find(|p| p.file.is_empty()).expect("tree problem");
        assert!(tree.message.contains("running rule TEST-002 over the tree: tree rule broke"));
    }
}
