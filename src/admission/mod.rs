//! Admission: objects as the API server stores them, not as they are written. Mutating
//! admission runs first — the mutate rules of Kyverno ClusterPolicies and Policies (in the order
//! the run loaded them: `--policy` first, then the tree), then MutatingPolicies, then
//! Gatekeeper's mutators (sorted by kind and name, applied until the object stops changing) —
//! and then Kyverno's generate rules and GeneratingPolicies add the objects they would create
//! (a default-deny NetworkPolicy for each Namespace) before the rules run.
//!
//! Every field a mutator set is a node at the mutator's place in its file, so a finding on it
//! points there and names the mutator; a generated object is at its generate rule. Objects that
//! are policies or mutators themselves are not admitted. `mtk-lint check --no-admission` lints
//! objects as written.

pub mod gatekeeper;
pub mod graft;

use crate::pointer::Pointer as _;
use std::sync::Arc;

use rayon::prelude::*;
use serde_json::Value;

use crate::engine::kyverno::lint::{ApiAnswers, Compiled, TreeData};
use crate::engine::kyverno::{self, Policy, Request, Status};
use crate::error::Problem;
use crate::inventory::{Admitted, AdmittedField, Inventory, Object};
use crate::load::source::Span;

/// What admission did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Report {
    /// Objects a mutator changed.
    pub mutated: usize,
    /// Objects generate rules added.
    pub generated: usize,
    /// A Namespace or tenancy object changed or was added: the tenants must be decided anew
    /// ([`crate::inventory::reindex`]).
    pub tenancy_changed: bool,
}

/// A mutator of the run, and where findings on what it set point.
enum Mutator<'p> {
    Kyverno {
        policy: &'p Policy,
        kinds: Option<Vec<String>>,
        file: usize,
        at: Span,
        label: Arc<str>,
    },
    Gatekeeper {
        mutator: Box<gatekeeper::Mutator>,
        file: usize,
        label: Arc<str>,
    },
}

/// A mutator or generate rule that could not run on an object (reported once per mutator and
/// reason, naming the first object and how many others).
struct Failure {
    /// `ClusterPolicy add-pool rule \`r\` could not mutate`, `… could not generate for`.
    what: String,
    object: String,
    reason: String,
    file: String,
    pos: crate::load::source::Pos,
}

impl Failure {
    fn new(what: String, inventory: &Inventory, o: &Object, reason: String) -> Failure {
        Failure {
            what,
            object: describe(o),
            reason,
            file: inventory.source(o).display.clone(),
            pos: o.root.span.start(),
        }
    }
}

/// One problem per mutator and reason, at the first object it failed on, in tree order.
fn report_failures(failures: Vec<Failure>, problems: &mut Vec<Problem>) {
    let mut groups: Vec<(Failure, usize)> = Vec::new();
    let mut index: std::collections::HashMap<(String, String), usize> =
        std::collections::HashMap::new();
    for f in failures {
        let key = (f.what.clone(), f.reason.clone());
        if let Some(&i) = index.get(&key) {
            groups[i].1 += 1;
        } else {
            index.insert(key, groups.len());
            groups.push((f, 0));
        }
    }
    for (f, others) in groups {
        let more = match others {
            0 => String::new(),
            1 => " and 1 other object".to_string(),
            n => format!(" and {n} other objects"),
        };
        let message = format!("{} {}{more}: {}", f.what, f.object, f.reason);
        problems.push(Problem::new(f.file, Some(f.pos), message));
    }
}

/// What admission made of one object.
struct Change {
    index: usize,
    root: crate::load::Node,
    fields: Vec<AdmittedField>,
}

/// Runs admission over the inventory: mutates its objects in place and adds the objects
/// generate rules create. `compiled` are the run's policies; Gatekeeper mutators come from the
/// tree. Policy files outside the tree are added to the inventory's files (findings point into
/// them).
pub fn admit(
    inv: &mut Inventory,
    compiled: &[Compiled],
    tree_mutators: bool,
    limits: crate::limits::Limits,
    problems: &mut Vec<Problem>,
) -> Report {
    let mut report = Report::default();
    let mut mutators: Vec<Mutator<'_>> = Vec::new();
    // ClusterPolicies and Policies before the CEL kinds, as Kyverno's CLI admits them.
    let mutating = compiled.iter().filter(|c| c.policy.has_mutate());
    let (rules, cel): (Vec<&Compiled>, Vec<&Compiled>) =
        mutating.partition(|c| !matches!(c.policy.kind, kyverno::PolicyKind::Cel(_)));
    for c in rules.into_iter().chain(cel) {
        let file = file_of(inv, c);
        mutators.push(Mutator::Kyverno {
            policy: &c.policy,
            kinds: c.policy.match_kinds(),
            file,
            at: c.anchor,
            label: label(&c.policy),
        });
    }
    let mut gk: Vec<(gatekeeper::Mutator, usize)> = Vec::new();
    let tree_gatekeeper =
        if tree_mutators { inv.matching(|o| gatekeeper::is_mutator(&o.root)) } else { Vec::new() };
    for o in tree_gatekeeper {
        match gatekeeper::Mutator::from_node(&o.root) {
            Ok(m) => gk.push((m, o.file)),
            Err(e) => problems.push(Problem::new(
                inv.files[o.file].display.clone(),
                Some(e.span.start()),
                format!("invalid Gatekeeper mutator: {}", e.message),
            )),
        }
    }
    gk.sort_by(|(a, _), (b, _)| (&a.kind, &a.name).cmp(&(&b.kind, &b.name)));
    for (mutator, file) in gk {
        let label = Arc::from(mutator.label());
        mutators.push(Mutator::Gatekeeper { mutator: Box::new(mutator), file, label });
    }
    if !mutators.is_empty() {
        let answers = ApiAnswers::default();
        let inventory: &Inventory = inv;
        let results: Vec<(Option<Change>, Vec<Failure>)> = inventory
            .objects
            .par_iter()
            .map(|o| mutate(inventory, o, &mutators, &answers, limits))
            .collect();
        let mut changes = Vec::with_capacity(results.len());
        let mut failures = Vec::new();
        for (change, mut found) in results {
            failures.append(&mut found);
            report.mutated += usize::from(change.is_some());
            changes.push(change);
        }
        // In place and in parallel (the roots they replace are freed there too); a change is
        // at its object's position.
        report.tenancy_changed = inv
            .objects
            .par_iter_mut()
            .zip(changes.into_par_iter())
            .filter_map(|(object, change)| {
                let Change { index, root, fields } = change?;
                debug_assert_eq!(index, object.index);
                object.root = root;
                object.admitted = Some(Box::new(Admitted { fields, generated_by: None }));
                Some(crate::inventory::decides_tenancy(&object.kind))
            })
            .reduce(|| false, |a, b| a || b);
        report_failures(failures, problems);
    }
    drop(mutators);
    let (generated, tenancy) = generate(inv, compiled, limits, problems);
    report.generated = generated;
    report.tenancy_changed |= tenancy;
    report
}

/// The inventory file of a policy's file (added when the policy is not in the tree).
fn file_of(inv: &mut Inventory, c: &Compiled) -> usize {
    if let Some(i) = inv.files.iter().position(|f| Arc::ptr_eq(f, &c.source)) {
        return i;
    }
    inv.files.push(Arc::clone(&c.source));
    inv.files.len() - 1
}

/// How reports name a policy: `ClusterPolicy add-pool`.
fn label(p: &Policy) -> Arc<str> {
    let kind = match &p.kind {
        kyverno::PolicyKind::ClusterPolicy => "ClusterPolicy",
        kyverno::PolicyKind::Policy { .. } => "Policy",
        kyverno::PolicyKind::Cel(kind) => kind.as_str(),
    };
    Arc::from(format!("{kind} {}", p.name))
}

/// Whether an object is itself admission's or a policy's (never admitted).
fn is_machinery(o: &Object) -> bool {
    kyverno::is_policy(&o.root)
        || gatekeeper::is_mutator(&o.root)
        || kyverno::exception::is_exception(&o.root)
}

/// The request Kyverno sees for an object of the tree.
fn request<'a>(
    o: &'a Object,
    namespace_labels: std::collections::BTreeMap<String, String>,
    tree: &'a TreeData<'a>,
    limits: crate::limits::Limits,
) -> Request<'a> {
    Request {
        operation: "CREATE",
        namespace: Some(o.namespace_or_empty()),
        namespace_labels: std::borrow::Cow::Owned(namespace_labels),
        namespace_object: None,
        user: None,
        exceptions: None,
        values: None,
        cluster: Some(tree),
        limits,
        cel_object: None,
        shared_context: None,
        targets: None,
        pins_digests: true,
    }
}

/// An object being admitted: its JSON, its nodes (once a mutator changed them) and the fields
/// mutators set.
struct Admitting<'o> {
    json: Value,
    written: &'o crate::load::Node,
    root: Option<crate::load::Node>,
    fields: Vec<AdmittedField>,
    changed: bool,
}

impl Admitting<'_> {
    /// Takes what a mutator made of the object (it changed it): the fields it changed
    /// become its.
    fn record(&mut self, after: Value, file: usize, at: Span, by: &Arc<str>) {
        let mut set = Vec::new();
        let base = self.root.as_ref().unwrap_or(self.written);
        self.root = Some(graft::graft(base, &self.json, &after, at, &mut set));
        self.fields.retain(|f| {
            !set.iter().any(|p| f.pointer == *p || f.pointer.starts_with(&format!("{p}/")))
        });
        self.fields.extend(set.into_iter().map(|pointer| AdmittedField {
            pointer,
            file,
            by: Arc::clone(by),
        }));
        self.json = after;
        self.changed = true;
    }
}

/// How a problem names an object.
fn describe(o: &Object) -> String {
    match &o.namespace {
        Some(ns) => format!("{} `{ns}/{}`", o.kind, o.name),
        None => format!("{} `{}`", o.kind, o.name),
    }
}

/// Runs the mutators on one object: the object as admitted, when one changed it.
fn mutate(
    inventory: &Inventory,
    o: &Object,
    mutators: &[Mutator<'_>],
    answers: &ApiAnswers,
    limits: crate::limits::Limits,
) -> (Option<Change>, Vec<Failure>) {
    let mut problems = Vec::new();
    if is_machinery(o) {
        return (None, problems);
    }
    let lookup = || inventory.namespace_labels(o);
    let ns_labels = gatekeeper::NamespaceLabels::new(&lookup);
    let target = gatekeeper::Target {
        api_version: &o.api_version,
        kind: &o.kind,
        name: &o.name,
        namespace: o.namespace.as_deref(),
        namespace_labels: &ns_labels,
    };
    // Only an object some mutator may change is turned into JSON: Kyverno's by the kinds its
    // rules match, Gatekeeper's by what it matches of the object or its pod template.
    let labels = node_labels(o.root.at(&["metadata", "labels"]));
    let template = pod_template(&o.kind).map(|at| {
        let path: Vec<&str> = at.split('/').skip(1).chain(["metadata", "labels"]).collect();
        node_labels(o.root.at(&path))
    });
    let pod = gatekeeper::Target { api_version: "v1", kind: "Pod", ..target };
    let candidate = mutators.iter().any(|m| match m {
        Mutator::Kyverno { kinds, .. } => kinds.as_ref().is_none_or(|k| k.contains(&o.kind)),
        Mutator::Gatekeeper { mutator, .. } => {
            mutator.applies(&target, &labels).unwrap_or(true)
                || template.as_ref().is_some_and(|t| mutator.applies(&pod, t).unwrap_or(true))
        }
    });
    if !candidate {
        return (None, problems);
    }
    let tree = TreeData { inventory, answers };
    let request = request(o, ns_labels.get().clone(), &tree, limits);
    let mut state = Admitting {
        json: o.cluster_json(),
        written: &o.root,
        root: None,
        fields: Vec::new(),
        changed: false,
    };
    let failure = |what: String, reason: String| Failure::new(what, inventory, o, reason);
    for m in mutators {
        let Mutator::Kyverno { policy, kinds, file, at, label } = m else { continue };
        if kinds.as_ref().is_some_and(|k| !k.contains(&o.kind)) {
            continue;
        }
        let result = policy.mutate(&state.json, &request);
        for r in result.responses.iter().filter(|r| r.status == Status::Error) {
            let rule =
                if r.rule.is_empty() { String::new() } else { format!(" rule `{}`", r.rule) };
            problems.push(failure(format!("{label}{rule} could not mutate"), r.message.clone()));
        }
        if result.changed {
            state.record(result.patched, *file, *at, label);
        }
    }
    let gatekeeper = mutators.iter().filter(|m| matches!(m, Mutator::Gatekeeper { .. })).count();
    for _ in 0..gatekeeper::MAX_PASSES.min(gatekeeper) {
        let before = state.changed;
        state.changed = false;
        for m in mutators {
            let Mutator::Gatekeeper { mutator, file, label } = m else { continue };
            // Copied (for the fields it changes) only when the mutator applies.
            match gatekeeper_applies(mutator, &state.json, &target) {
                Ok(true) => {}
                Ok(false) => continue,
                Err(e) => {
                    problems.push(failure(format!("{label} could not mutate"), e));
                    continue;
                }
            }
            let mut json = state.json.clone();
            match gatekeeper_step(mutator, &mut json, &target) {
                Ok(true) => state.record(json, *file, mutator.span, label),
                Ok(false) => {}
                Err(e) => problems.push(failure(format!("{label} could not mutate"), e)),
            }
        }
        let pass_changed = state.changed;
        state.changed |= before;
        if !pass_changed {
            break;
        }
    }
    let Admitting { root, fields, .. } = state;
    let change = root.map(|root| Change { index: o.index, root, fields });
    (change, problems)
}

/// Where a pod controller keeps the pod it makes.
fn pod_template(kind: &str) -> Option<&'static str> {
    match kind {
        "Deployment"
        | "StatefulSet"
        | "DaemonSet"
        | "ReplicaSet"
        | "Job"
        | "ReplicationController" => Some("/spec/template"),
        "CronJob" => Some("/spec/jobTemplate/spec/template"),
        _ => None,
    }
}

/// The text labels of a `metadata.labels` node.
fn node_labels(node: Option<&crate::load::Node>) -> std::collections::BTreeMap<String, String> {
    node.and_then(crate::load::Node::as_map)
        .unwrap_or(&[])
        .iter()
        .filter_map(|e| Some((e.key.as_str().to_owned(), e.value.as_str()?.to_string())))
        .collect()
}

/// Whether a Gatekeeper mutator applies to an object, or (a mutator for Pods) to the pod
/// template of a controller.
fn gatekeeper_applies(
    mutator: &gatekeeper::Mutator,
    json: &Value,
    target: &gatekeeper::Target<'_>,
) -> Result<bool, String> {
    let labels = crate::engine::kyverno::string_map(json.at("/metadata/labels"));
    if mutator.applies(target, &labels)? {
        return Ok(true);
    }
    let Some(template) = pod_template(target.kind).and_then(|at| json.at(at)) else {
        return Ok(false);
    };
    let labels = crate::engine::kyverno::string_map(template.at("/metadata/labels"));
    mutator.applies(&gatekeeper::Target { api_version: "v1", kind: "Pod", ..*target }, &labels)
}

/// Runs a Gatekeeper mutator on an object; whether it changed it. Gatekeeper mutates the Pods
/// a controller creates, not the controller: a mutator for Pods is run on a controller's pod
/// template as on the Pod it becomes (its labels, the controller's namespace and name).
fn gatekeeper_step(
    mutator: &gatekeeper::Mutator,
    json: &mut Value,
    target: &gatekeeper::Target<'_>,
) -> Result<bool, String> {
    let labels = crate::engine::kyverno::string_map(json.at("/metadata/labels"));
    if mutator.applies(target, &labels)? {
        return mutator.mutate(json, target);
    }
    let Some(at) = pod_template(target.kind) else { return Ok(false) };
    let Some(template) = json.pointer_mut(at) else { return Ok(false) };
    let labels = crate::engine::kyverno::string_map(template.at("/metadata/labels"));
    let pod_target = gatekeeper::Target { api_version: "v1", kind: "Pod", ..*target };
    if !mutator.applies(&pod_target, &labels)? {
        return Ok(false);
    }
    // The template has the Pod's metadata and spec, where a Pod's locations lead.
    mutator.mutate(template, &pod_target)
}

/// What generation made for one trigger: (index of the generating policy, object), and the
/// problems on the way.
type Made = (Vec<(usize, Value)>, Vec<Failure>);

/// Adds what the generate rules and GeneratingPolicies create for the objects of the tree; an
/// object the tree (or an earlier rule) already has is not generated again. Returns how many,
/// and whether a Namespace or tenancy object is among them.
fn generate(
    inv: &mut Inventory,
    compiled: &[Compiled],
    limits: crate::limits::Limits,
    problems: &mut Vec<Problem>,
) -> (usize, bool) {
    let generating: Vec<&Compiled> = compiled.iter().filter(|c| c.policy.has_generate()).collect();
    if generating.is_empty() {
        return (0, false);
    }
    let files: Vec<usize> = generating.iter().map(|c| file_of(inv, c)).collect();
    let made = generated(inv, &generating, limits);
    let mut seen = std::collections::HashSet::new();
    let mut added = Vec::new();
    let mut failures = Vec::new();
    for (objects, mut found) in made {
        failures.append(&mut found);
        for (i, json) in objects {
            let s = |p: &str| json.at(p).and_then(Value::as_str).unwrap_or("").to_string();
            let (api_version, kind, name) = (s("/apiVersion"), s("/kind"), s("/metadata/name"));
            let no_crds = std::collections::HashMap::new();
            let cluster_scoped = crate::kinds::is_cluster_scoped(&api_version, &kind, &no_crds);
            let namespace =
                (!cluster_scoped).then(|| s("/metadata/namespace")).filter(|n| !n.is_empty());
            let ns = namespace.clone().unwrap_or_default();
            let exists = inv.by_id(&api_version, &kind, &ns, &name).next().is_some();
            if exists || !seen.insert((api_version.clone(), kind.clone(), ns, name.clone())) {
                continue;
            }
            let c = generating[i];
            added.push(Object {
                index: 0,
                file: files[i],
                document: 0,
                api_version,
                kind,
                name,
                namespace,
                cluster_scoped,
                deployed_by: None,
                root: graft::from_json(&json, c.anchor),
                rendering: None,
                admitted: Some(Box::new(Admitted {
                    fields: Vec::new(),
                    generated_by: Some(label(&c.policy)),
                })),
            });
        }
    }
    report_failures(failures, problems);
    let count = added.len();
    (count, inv.add_generated(added))
}

/// Runs the generating policies on every object of the tree (in parallel).
fn generated(
    inventory: &Inventory,
    generating: &[&Compiled],
    limits: crate::limits::Limits,
) -> Vec<Made> {
    let answers = ApiAnswers::default();
    let kinds: Vec<Option<Vec<String>>> =
        generating.iter().map(|c| c.policy.match_kinds()).collect();
    // Objects a clone may copy: those of the kinds the rules clone.
    let clone_kinds: Vec<String> = generating.iter().flat_map(|c| c.policy.clone_kinds()).collect();
    let cluster: Vec<Value> =
        clone_kinds.iter().flat_map(|k| inventory.of_kind(k)).map(Object::cluster_json).collect();
    inventory
        .objects
        .par_iter()
        .filter(|o| !is_machinery(o))
        .map(|o| {
            let mut out = Vec::new();
            let mut problems = Vec::new();
            let candidates: Vec<usize> = (0..generating.len())
                .filter(|&i| kinds[i].as_ref().is_none_or(|k| k.contains(&o.kind)))
                .collect();
            if candidates.is_empty() {
                return (out, problems);
            }
            let tree = TreeData { inventory, answers: &answers };
            let request = request(o, inventory.namespace_labels(o), &tree, limits);
            let json = o.cluster_json();
            for i in candidates {
                let policy = &generating[i].policy;
                for g in policy.generate(&json, &request, &cluster) {
                    let failed = g.response.status == Status::Error
                        || g.response.message.starts_with("generating failed");
                    if failed {
                        let what = format!("{} could not generate for", label(policy));
                        let reason = g.response.message.clone();
                        problems.push(Failure::new(what, inventory, o, reason));
                    }
                    out.extend(g.objects.into_iter().map(|obj| (i, obj)));
                }
            }
            (out, problems)
        })
        .collect()
}
