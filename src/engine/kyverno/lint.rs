//! Kyverno policies as lint rules: each policy becomes one [`Rule`] whose failures are findings
//! named `policy/rule`, with the line of the field where the pattern or condition failed.
//! `configMap` and `apiCall` context entries are answered from the tree ([`TreeData`]).

use std::sync::{Arc, RwLock};

use serde_json::Value;

use super::exception::PolicyException;
use super::jmespath::EvalError;
use super::{ClusterData, Policy, Request, Status};
use crate::config::SeverityFrom;
use crate::engine::{Context, Origin, Rule, RuleMeta, RuleScope, Sink, Violation};
use crate::finding::Severity;
use crate::inventory::{Inventory, Object};
use crate::kinds;

/// A compiled Kyverno policy run as a lint rule.
pub struct PolicyRule {
    meta: RuleMeta,
    policy: Policy,
    /// Kinds its rules match; `None` when a rule matches every kind.
    kinds: Option<Vec<String>>,
    severity_from: SeverityFrom,
    /// Evaluation limits (`jmespath-steps`, `regex-size`, `cel-steps`).
    limits: crate::limits::Limits,
    /// Whether the policy evaluates CEL (then each object is also converted to a CEL value).
    uses_cel: bool,
    /// The tree's PolicyExceptions.
    exceptions: Arc<[PolicyException]>,
}

impl PolicyRule {
    #[must_use]
    pub fn new(policy: Policy, severity_from: SeverityFrom, limits: crate::limits::Limits) -> Self {
        let meta = RuleMeta {
            code: policy.name.clone(),
            name: policy.name.clone(),
            severity: Severity::Warning,
            summary: policy
                .annotations
                .get("policies.kyverno.io/title")
                .cloned()
                .unwrap_or_default(),
            help: policy
                .annotations
                .get("policies.kyverno.io/description")
                .map(|d| d.split_whitespace().collect::<Vec<_>>().join(" "))
                .unwrap_or_default(),
            enabled_by_default: true,
            docs: "",
        };
        let kinds = policy.match_kinds();
        let uses_cel = policy.uses_cel();
        PolicyRule {
            meta,
            policy,
            kinds,
            severity_from,
            limits,
            uses_cel,
            exceptions: Arc::from([]),
        }
    }

    /// The PolicyExceptions that may except objects from its rules.
    #[must_use]
    pub fn with_exceptions(mut self, exceptions: Arc<[PolicyException]>) -> Self {
        self.exceptions = exceptions;
        self
    }

    fn severity(&self, rule: &str) -> Severity {
        if self.severity_from == SeverityFrom::Annotation {
            match self.policy.severity_annotation().map(str::to_ascii_lowercase).as_deref() {
                Some("critical" | "high") => return Severity::Error,
                Some("medium") => return Severity::Warning,
                Some("low" | "info") => return Severity::Info,
                _ => {}
            }
        }
        let action = self
            .policy
            .rules
            .iter()
            .find(|r| r.name == rule)
            .and_then(|r| r.failure_action.as_deref())
            .unwrap_or(&self.policy.failure_action);
        if action.eq_ignore_ascii_case("enforce") {
            Severity::Error
        } else {
            Severity::Warning
        }
    }
}

impl Rule for PolicyRule {
    fn meta(&self) -> &RuleMeta {
        &self.meta
    }

    fn rule_count(&self) -> usize {
        // A CEL policy kind is one rule.
        self.policy.rules.len().max(1)
    }

    fn answers_to(&self, id: &str) -> bool {
        match id.split_once('/') {
            None => id == self.policy.name,
            Some((policy, rule)) => {
                policy == self.policy.name
                    && self.policy.rules.iter().any(|r| {
                        let base = rule
                            .strip_prefix("autogen-cronjob-")
                            .or_else(|| rule.strip_prefix("autogen-"))
                            .unwrap_or(rule);
                        r.name == rule || r.name == base
                    })
            }
        }
    }

    fn scope(&self) -> RuleScope {
        RuleScope::Object
    }

    fn evaluates_expressions(&self) -> bool {
        true
    }

    fn wants_kind(&self, kind: &str) -> bool {
        self.kinds.as_ref().is_none_or(|k| k.iter().any(|k| k == kind))
    }

    fn check_object(&self, cx: &Context<'_>, object: &Object, sink: &mut Sink) {
        if super::is_policy(&object.root) {
            return;
        }
        let resource = sink.object_json(object);
        let namespace_labels = cx.inventory.indexed_namespace_labels(object);
        let tree = TreeData { inventory: cx.inventory, answers: &cx.answers };
        let shared_context = sink.policy_context(object);
        let request = Request {
            operation: "CREATE",
            namespace: Some(object.namespace_or_empty()),
            namespace_labels: std::borrow::Cow::Borrowed(namespace_labels),
            namespace_object: None,
            user: None,
            // The tree's exceptions are applied to the findings (reported as suppressed),
            // not to the evaluation.
            exceptions: None,
            values: None,
            cluster: Some(&tree),
            limits: self.limits,
            cel_object: self.uses_cel.then(|| sink.cel_object(object)),
            shared_context: Some(&shared_context),
            targets: None,
            pins_digests: true,
        };
        for response in self.policy.evaluate(&resource, &request) {
            let (pointer, message) = match response.status {
                // `Warn` is a failure the policy only warns about (validationActions: [Warn]):
                // still a finding, at the policy's (warning) severity.
                Status::Fail | Status::Warn => {
                    (to_pointer(response.path.as_deref().unwrap_or(&[])), response.message)
                }
                Status::Error => {
                    (String::new(), format!("could not evaluate the rule: {}", response.message))
                }
                Status::Pass | Status::Skip => continue,
            };
            // An excepted object is never evaluated in the cluster: neither a failure nor an
            // evaluation error stands.
            let exception = self
                .policy
                .excepted_by(&self.exceptions, &response.rule, &resource, &request)
                .first()
                .map(|label| (*label).to_string());
            sink.violations.push(Violation {
                object: object.index,
                pointer,
                message,
                origin: Some(Origin {
                    policy: self.policy.name.clone(),
                    severity: self.severity(&response.rule),
                    rule: response.rule,
                    exception,
                }),
                at: None,
                cluster: None,
            });
        }
    }
}

fn to_pointer(path: &[String]) -> String {
    path.iter().fold(String::new(), |acc, s| crate::load::locate::push(&acc, s))
}

/// The tree, answering reads the way the API server would.
pub struct TreeData<'a> {
    pub inventory: &'a Inventory,
    /// What the run already answered for this inventory.
    pub answers: &'a ApiAnswers,
}

impl TreeData<'_> {
    fn objects_of<'b>(
        &'b self,
        group: &'b str,
        plural: &'b str,
    ) -> impl Iterator<Item = &'b Object> + 'b {
        let kind = kinds::kind_for_plural(group, plural);
        // A known kind is read from the kind index; an unknown plural needs the whole tree.
        let candidates: Box<dyn Iterator<Item = &'b Object> + 'b> = match kind {
            Some(k) => Box::new(self.inventory.of_kind(k)),
            None => Box::new(self.inventory.objects.iter()),
        };
        candidates.filter(move |o| {
            let (g, _) = kinds::split_api_version(&o.api_version);
            g == group
                && match kind {
                    Some(k) => o.kind == k,
                    None => format!("{}s", o.kind.to_ascii_lowercase()) == plural,
                }
        })
    }
}

impl ClusterData for TreeData<'_> {
    fn config_map(&self, namespace: &str, name: &str) -> Option<Value> {
        // Policies with a ConfigMap context entry ask for it object after object: the tree's
        // ConfigMaps are indexed once per run, as the run's other answers are kept (a scan
        // each time grew with objects times ConfigMaps).
        let index = self.answers.config_maps.get_or_init(|| {
            let mut by: foldhash::HashMap<String, foldhash::HashMap<String, usize>> =
                foldhash::HashMap::default();
            for o in self.inventory.of_kind("ConfigMap") {
                let in_namespace = by.entry(o.namespace_or_empty().to_string()).or_default();
                in_namespace.entry(o.name.clone()).or_insert(o.index);
            }
            by
        });
        let &i = index.get(namespace)?.get(name)?;
        self.inventory.objects.get(i).map(Object::cluster_json)
    }

    fn api_get(&self, path: &str) -> Option<Arc<Value>> {
        let answer: Result<_, std::convert::Infallible> =
            remembered(&self.answers.gets, path, || Ok(self.api_get_uncached(path).map(Arc::new)));
        answer.unwrap_or_else(|never| match never {})
    }

    fn api_search(
        &self,
        path: &str,
        query: &str,
        limits: &crate::limits::Limits,
    ) -> Option<Result<Arc<Value>, EvalError>> {
        let response = self.api_get(path)?;
        let key = format!("{path}\0{query}");
        Some(remembered(&self.answers.queries, &key, || {
            super::jmespath::search(query, &response, limits).map(Arc::new)
        }))
    }
}

/// Most API answers (and query results) remembered in a run (a cache starts over when full).
const API_CACHE_ENTRIES: usize = 1024;

/// Answers to `apiCall` paths and queries, remembered for one run over one inventory: policies
/// ask the same paths for object after object (the objects of a namespace, a Namespace).
#[derive(Default)]
pub struct ApiAnswers {
    gets: RwLock<foldhash::HashMap<String, Option<Arc<Value>>>>,
    /// Results by path NUL query; failures are not kept.
    queries: RwLock<foldhash::HashMap<String, Arc<Value>>>,
    /// The first ConfigMap of each namespace and name (its index among the objects), made on
    /// the first question (like the other answers, for the one inventory of the run).
    config_maps: std::sync::OnceLock<foldhash::HashMap<String, foldhash::HashMap<String, usize>>>,
}

/// Looks `key` up in a cache (without allocating), computing and remembering the answer on a
/// miss.
fn remembered<T: Clone, E>(
    cache: &RwLock<foldhash::HashMap<String, T>>,
    key: &str,
    compute: impl FnOnce() -> Result<T, E>,
) -> Result<T, E> {
    let read = cache.read().unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(hit) = read.get(key) {
        return Ok(hit.clone());
    }
    drop(read);
    let answer = compute()?;
    let mut write = cache.write().unwrap_or_else(std::sync::PoisonError::into_inner);
    if write.len() >= API_CACHE_ENTRIES {
        write.clear();
    }
    write.insert(key.to_string(), answer.clone());
    Ok(answer)
}

impl TreeData<'_> {
    fn api_get_uncached(&self, path: &str) -> Option<Value> {
        let p = super::store::parse_api_path(path)?;
        if p.group.is_empty() && p.plural == "namespaces" && p.namespace.is_none() {
            return match p.name {
                Some(ns) => self.inventory.namespace_object(ns).map(Object::cluster_json),
                None => Some(super::store::list(
                    self.inventory.of_kind("Namespace").map(Object::cluster_json).collect(),
                )),
            };
        }
        let mut found = self
            .objects_of(p.group, p.plural)
            .filter(|o| p.namespace.is_none_or(|ns| o.namespace_or_empty() == ns))
            .filter(|o| p.name.is_none_or(|n| o.name == n));
        match p.name {
            Some(_) => found.next().map(Object::cluster_json),
            None => Some(super::store::list(found.map(Object::cluster_json).collect())),
        }
    }
}

/// The PolicyExceptions of the tree; one that cannot be compiled is a problem at its line.
fn tree_exceptions(
    inventory: &Inventory,
    problems: &mut Vec<crate::error::Problem>,
) -> Arc<[PolicyException]> {
    inventory
        .matching(|o| super::exception::is_exception(&o.root))
        .into_iter()
        .filter_map(|o| match PolicyException::from_node(&o.root) {
            Ok(e) => Some(e),
            Err(e) => {
                let display = inventory.source(o).display.clone();
                let message = super::exception::invalid_exception_message(&o.root, &e);
                problems.push(crate::error::Problem::new(display, e.pos, message));
                None
            }
        })
        .collect()
}

/// A policy compiled for a run, with where it was written.
pub struct Compiled {
    /// How problems name its file.
    pub display: String,
    pub source: Arc<crate::load::source::SourceFile>,
    /// Where admission points a field the policy set or an object it generated: its first
    /// mutate or generate rule (a CEL kind's `spec.mutations` or `spec.generate`), else the
    /// policy.
    pub anchor: crate::load::source::Span,
    pub policy: Policy,
}

/// The place in a policy that admission points at (see [`Compiled::anchor`]).
fn anchor(root: &crate::load::Node) -> crate::load::source::Span {
    use crate::load::Node;
    let spec = root.get("spec");
    let rule = spec
        .and_then(|s| s.get("rules"))
        .and_then(Node::as_seq)
        .into_iter()
        .flatten()
        .find_map(|r| r.entry("mutate").or_else(|| r.entry("generate")));
    let cel = spec.and_then(|s| s.entry("mutations").or_else(|| s.entry("generate")));
    rule.or(cel).map_or(root.span, |e| e.key_span)
}

/// Compiles the policies of a run: those in files named by `--policy` (files or directories),
/// then those found in the tree itself (unless `include_tree` is false). A policy name seen
/// twice is used once (the first).
#[must_use]
pub fn compile_policies(
    paths: &[std::path::PathBuf],
    include_tree: bool,
    inventory: &Inventory,
    cwd: &std::path::Path,
    limits: crate::load::Limits,
) -> (Vec<Compiled>, Vec<crate::error::Problem>) {
    use crate::error::Problem;
    let mut problems = Vec::new();
    let compile = |source: &Arc<crate::load::source::SourceFile>,
                   root: &crate::load::Node,
                   found: &mut Vec<Compiled>,
                   problems: &mut Vec<Problem>| {
        let display = &source.display;
        match Policy::from_node(root) {
            Ok(policy) => found.push(Compiled {
                display: display.clone(),
                source: Arc::clone(source),
                anchor: anchor(root),
                policy,
            }),
            Err(e) => {
                problems.push(Problem::new(
                    display,
                    e.pos,
                    super::invalid_policy_message(root, &e),
                ));
            }
        }
    };
    let mut compiled: Vec<Compiled> = Vec::new();
    // ValidatingAdmissionPolicies and their bindings, compiled once all are known.
    let mut admission: Vec<(Arc<crate::load::source::SourceFile>, crate::load::Node)> = Vec::new();
    let mut keep = |source: &Arc<crate::load::source::SourceFile>, root: &crate::load::Node| {
        if super::vap::is_admission_policy(root) || super::vap::bound_policy(root).is_some() {
            admission.push((Arc::clone(source), root.clone()));
        }
    };
    if !paths.is_empty() {
        let options = crate::load::LoadOptions {
            inputs: paths.iter().cloned().map(crate::load::Input::Path).collect(),
            limits,
            ..crate::load::LoadOptions::default()
        };
        let sources = crate::load::load(&options, cwd);
        problems.extend(sources.problems.iter().cloned());
        let before = compiled.len();
        for file in &sources.files {
            for doc in &file.documents {
                keep(&file.source, &doc.root);
            }
            for doc in file.documents.iter().filter(|d| super::is_policy(&d.root)) {
                compile(&file.source, &doc.root, &mut compiled, &mut problems);
            }
        }
        if compiled.len() == before && sources.problems.is_empty() {
            let shown: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
            problems.push(Problem::new(
                shown.join(", "),
                None,
                "--policy: no Kyverno policy found",
            ));
        }
    }
    if include_tree {
        for object in inventory.matching(|o| super::is_policy(&o.root)) {
            let source = &inventory.files[object.file];
            compile(source, &object.root, &mut compiled, &mut problems);
        }
        let admission_kinds = |o: &Object| {
            super::vap::is_admission_policy(&o.root) || super::vap::bound_policy(&o.root).is_some()
        };
        for object in inventory.matching(admission_kinds) {
            keep(&inventory.files[object.file], &object.root);
        }
    }
    compile_admission_policies(&admission, &mut compiled, &mut problems);
    let mut names = std::collections::HashSet::new();
    compiled.retain(|c| names.insert(c.policy.name.clone()));
    (compiled, problems)
}

/// ValidatingAdmissionPolicies as their bindings bind them (one bound to nothing does nothing,
/// as in the cluster).
fn compile_admission_policies(
    documents: &[(Arc<crate::load::source::SourceFile>, crate::load::Node)],
    compiled: &mut Vec<Compiled>,
    problems: &mut Vec<crate::error::Problem>,
) {
    let policies: Vec<&crate::load::Node> =
        documents.iter().map(|(_, n)| n).filter(|n| super::vap::is_admission_policy(n)).collect();
    let bindings: Vec<&crate::load::Node> = documents
        .iter()
        .map(|(_, n)| n)
        .filter(|n| super::vap::bound_policy(n).is_some())
        .collect();
    let source_of = |node: &crate::load::Node| {
        documents.iter().find(|(_, n)| std::ptr::eq(n, node)).map(|(s, _)| s)
    };
    for (policy, binding, name) in super::vap::bindings(&policies, &bindings, false) {
        let Some(source) = source_of(policy) else { continue };
        // An error of the policy is at its line; one only the binding makes, at the binding's.
        let (at, result) = match Policy::from_admission_policy(policy, None, &name) {
            Err(e) => (source, Err(e)),
            Ok(_) => (
                binding.and_then(source_of).unwrap_or(source),
                Policy::from_admission_policy(policy, binding, &name),
            ),
        };
        match result {
            Ok(policy_compiled) => compiled.push(Compiled {
                display: source.display.clone(),
                source: Arc::clone(source),
                anchor: policy.span,
                policy: policy_compiled,
            }),
            Err(e) => problems.push(crate::error::Problem::new(
                at.display.clone(),
                e.pos,
                format!("invalid ValidatingAdmissionPolicy `{name}`: {}", e.message),
            )),
        }
    }
}

/// The lint rules of compiled policies: each policy that validates. Rules the engine cannot
/// evaluate are reported once and left out; mutate and generate rules run at admission
/// (`crate::admission`), not as lint rules.
#[must_use]
pub fn policy_rules(
    compiled: &[Compiled],
    inventory: &Inventory,
    limits: crate::load::Limits,
    severity_from: SeverityFrom,
) -> (Vec<Box<dyn Rule>>, Vec<crate::error::Problem>) {
    use crate::error::Problem;
    let mut problems = Vec::new();
    // The tree's PolicyExceptions apply to every policy, from the tree or `--policy`.
    let exceptions = tree_exceptions(inventory, &mut problems);
    let mut rules: Vec<Box<dyn Rule>> = Vec::new();
    for Compiled { display, policy, .. } in compiled {
        let mut policy = policy.clone();
        if let super::PolicyKind::Cel(_) = &policy.kind {
            if policy.is_validating_policy() {
                rules.push(Box::new(
                    PolicyRule::new(policy, severity_from, limits)
                        .with_exceptions(Arc::clone(&exceptions)),
                ));
            }
            // MutatingPolicy and GeneratingPolicy run at admission; DeletingPolicy does not
            // validate.
            continue;
        }
        policy.rules.retain(|r| {
            if !r.is_validate() {
                return false;
            }
            match r.unsupported() {
                Some(what) if !r.autogen => {
                    let message = format!(
                        "policy `{}` rule `{}`: {what} is not supported yet; not applied",
                        policy.name, r.name
                    );
                    problems.push(Problem::new(display.clone(), None, message));
                    false
                }
                Some(_) => false,
                None => true,
            }
        });
        if !policy.rules.is_empty() {
            rules.push(Box::new(
                PolicyRule::new(policy, severity_from, limits)
                    .with_exceptions(Arc::clone(&exceptions)),
            ));
        }
    }
    (rules, problems)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::load::{parse_text, Limits, Sources};
    use crate::pointer::Pointer as _;
    use serde_json::json;

    fn inventory(text: &str) -> Inventory {
        let (file, problems) = parse_text("tree.yaml", text, &Limits::default());
        assert!(problems.is_empty());
        let sources = Sources { files: file.into_iter().collect(), ..Sources::default() };
        crate::inventory::build(sources, &Config::default())
    }

    const TREE: &str = "apiVersion: v1\nkind: Namespace\nmetadata: {name: a, labels: {pool: p1}}\n---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny, namespace: a}\nspec: {podSelector: {}}\n---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: other, namespace: b}\nspec: {podSelector: {}}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: a}\ndata: {k: v}\n";

    #[test]
    fn api_calls_are_answered_from_the_tree() {
        let inv = inventory(TREE);
        let answers = ApiAnswers::default();
        let tree = TreeData { inventory: &inv, answers: &answers };
        let ns = tree.api_get("/api/v1/namespaces/a").unwrap();
        assert_eq!(ns.at("/metadata/labels/pool"), Some(&json!("p1")));
        let list = tree.api_get("/apis/networking.k8s.io/v1/namespaces/a/networkpolicies").unwrap();
        assert_eq!(list["items"].as_array().unwrap().len(), 1);
        assert_eq!(list["items"][0]["metadata"]["name"], "deny");
        let all = tree.api_get("/apis/networking.k8s.io/v1/networkpolicies").unwrap();
        assert_eq!(all["items"].as_array().unwrap().len(), 2);
        let one =
            tree.api_get("/apis/networking.k8s.io/v1/namespaces/b/networkpolicies/other").unwrap();
        assert_eq!(one["metadata"]["namespace"], "b");
        assert!(tree.api_get("/api/v1/namespaces/nope").is_none());
        assert!(tree.api_get("/healthz").is_none());
        assert_eq!(tree.config_map("a", "settings").unwrap()["data"]["k"], "v");
        assert!(tree.config_map("b", "settings").is_none());
    }

    /// ConfigMaps are found by namespace and name from an index made on the first question,
    /// the first of two alike as a scan found it; other kinds and namespaces are not found.
    #[test]
    fn config_maps_are_found_by_namespace_and_name() {
        let more = "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: a}\ndata: {k: second}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: b}\ndata: {k: b}\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: token, namespace: a}\ndata: {k: dg==}\n";
        let inv = inventory(&format!("{TREE}{more}"));
        let answers = ApiAnswers::default();
        let tree = TreeData { inventory: &inv, answers: &answers };
        for _ in 0..2 {
            assert_eq!(tree.config_map("a", "settings").unwrap()["data"]["k"], "v");
            assert_eq!(tree.config_map("b", "settings").unwrap()["data"]["k"], "b");
            assert!(tree.config_map("a", "token").is_none());
            assert!(tree.config_map("c", "settings").is_none());
            assert!(tree.config_map("", "settings").is_none());
        }
        assert_eq!(answers.config_maps.get().map(foldhash::HashMap::len), Some(2));
    }
}
