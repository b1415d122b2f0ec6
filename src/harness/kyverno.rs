//! Kyverno `kyverno-test.yaml` suites, run unchanged and decided as `kyverno test` decides
//! (kyverno-compat.md, sections 12–14).

use crate::pointer::Pointer as _;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde_json::Value;

use super::{compare, Files, Row, SuiteReport, Verdict};
use crate::engine::kyverno::store::ObjectStore;
use crate::engine::kyverno::{
    self, ClusterData, Policy, PolicyKind, Request, RuleResponse, UserInfo,
};
use crate::error::Problem;
use crate::load::source::Pos;
use crate::load::{Node, Value as YValue};

/// Keys a `Test` document may have (compared case-insensitively, as Kyverno's decoder does).
const TEST_KEYS: &[&str] = &[
    "apiVersion",
    "kind",
    "metadata",
    "name",
    "policies",
    "resources",
    "variables",
    "userinfo",
    "context",
    "exceptions",
    "targetResources",
    "clusterResources",
    "apiCallResponses",
    "globalContextEntries",
    "results",
    "checks",
    "paramResources",
    "jsonPayload",
];

/// Fields of a `Test` that `kyverno test` reads and this harness does not
/// yet: a suite that uses one is an error naming it, never run with the field ignored.
const UNSUPPORTED_TEST_KEYS: &[&str] =
    &["apiCallResponses", "globalContextEntries", "checks", "jsonPayload"];
const RESOURCE_SPEC_KEYS: &[&str] =
    &["group", "version", "kind", "namespace", "subresource", "name"];

const RESULT_KEYS: &[&str] = &[
    "policy",
    "rule",
    "resources",
    "resource",
    "namespace",
    "kind",
    "result",
    "status",
    "patchedResources",
    "patchedResource",
    "generatedResource",
    "generatedResources",
    "cloneSourceResource",
    "operation",
    "resourceSpecs",
    "failOnMissingResources",
    "isValidatingPolicy",
    "isMutatingPolicy",
    "isGeneratingPolicy",
    "isDeletingPolicy",
    "isImageValidatingPolicy",
    "isValidatingAdmissionPolicy",
    "isMutatingAdmissionPolicy",
];

/// A mapping read with case-insensitive keys and unknown keys reported.
struct Fields<'a> {
    node: &'a Node,
}

impl<'a> Fields<'a> {
    fn new(node: &'a Node, allowed: &[&str], what: &str, file: &str) -> Result<Self, Problem> {
        let entries = node.as_map().ok_or_else(|| {
            Problem::new(file, Some(node.span.start()), format!("{what} must be a mapping"))
        })?;
        for e in entries {
            if !allowed.iter().any(|k| k.eq_ignore_ascii_case(&e.key)) {
                return Err(Problem::new(
                    file,
                    Some(e.key_span.start()),
                    format!("unknown field `{}` in {what}", e.key),
                ));
            }
        }
        Ok(Fields { node })
    }

    fn get(&self, key: &str) -> Option<&'a Node> {
        self.node.as_map()?.iter().find(|e| e.key.eq_ignore_ascii_case(key)).map(|e| &e.value)
    }

    fn string(&self, key: &str) -> Option<String> {
        let v = self.get(key)?;
        match &v.value {
            YValue::Str(s) => Some(s.to_string()),
            YValue::Null => None,
            _ => Some(v.to_json().to_string().trim_matches('"').to_string()),
        }
    }

    fn strings(&self, key: &str) -> Vec<String> {
        match self.get(key).map(|n| &n.value) {
            Some(YValue::Seq(items)) => {
                items.iter().filter_map(|n| n.as_str().map(String::from)).collect()
            }
            Some(YValue::Str(s)) => vec![s.to_string()],
            _ => Vec::new(),
        }
    }

    /// Like `strings`, with the position of each item.
    fn strings_at(&self, key: &str) -> Vec<(String, Pos)> {
        match self.get(key) {
            Some(n) => match &n.value {
                YValue::Seq(items) => items
                    .iter()
                    .filter_map(|i| Some((i.as_str()?.to_string(), i.span.start())))
                    .collect(),
                YValue::Str(s) => vec![(s.to_string(), n.span.start())],
                _ => Vec::new(),
            },
            None => Vec::new(),
        }
    }

    /// An error at the first of `keys` the mapping has: a field not supported yet.
    fn refuse(&self, keys: &[&str], what: &str, file: &str) -> Result<(), Problem> {
        let entries = self.node.as_map().unwrap_or(&[]);
        match entries.iter().find(|e| keys.iter().any(|k| k.eq_ignore_ascii_case(&e.key))) {
            Some(e) => Err(Problem::new(
                file,
                Some(e.key_span.start()),
                format!("`{}` in {what} is not supported yet: the suite is not run", e.key),
            )),
            None => Ok(()),
        }
    }

    fn flag(&self, key: &str) -> bool {
        self.get(key).and_then(Node::as_bool).unwrap_or(false)
    }
}

/// One expected result of a test.
#[derive(Debug, Clone)]
pub(super) struct Expected {
    /// Where the result entry is in the test file.
    pub(super) pos: Pos,
    pub(super) policy: String,
    pub(super) rule: String,
    pub(super) resources: Vec<String>,
    pub(super) kind: String,
    pub(super) result: String,
    pub(super) operation: Option<String>,
    pub(super) cel_kind: bool,
    /// `patchedResources`: the file of the expected patched resources, as written.
    pub(super) patched: Option<String>,
    /// `failOnMissingResources`: a resource the patched file lacks fails the row instead of
    /// dropping it.
    pub(super) fail_on_missing: bool,
    /// `generatedResource` / `generatedResources`: the files of the expected generated objects.
    pub(super) generated: Vec<String>,
    /// `cloneSourceResource`: the file of the objects a clone reads.
    pub(super) clone_source: Option<String>,
    /// `resourceSpecs`: resources named by group, version, namespace and name (`kyverno test`
    /// reads neither `kind` nor `subresource` of them).
    pub(super) resource_specs: Vec<ResourceSpec>,
}

/// An entry of a result's `resourceSpecs`.
#[derive(Debug, Clone)]
pub(super) struct ResourceSpec {
    api_version: String,
    namespace: String,
    name: String,
}

impl ResourceSpec {
    fn read(node: &Node, display: &str) -> Result<ResourceSpec, Problem> {
        let f = Fields::new(node, RESOURCE_SPEC_KEYS, "a resourceSpecs entry", display)?;
        let s = |k: &str| f.string(k).unwrap_or_default();
        let api_version = match s("group").as_str() {
            "" => s("version"),
            group => format!("{group}/{}", s("version")),
        };
        Ok(ResourceSpec { api_version, namespace: s("namespace"), name: s("name") })
    }

    fn selects(&self, resource: &Value) -> bool {
        let (api_version, _, namespace, name) = identity(resource);
        (api_version, namespace, name)
            == (self.api_version.as_str(), self.namespace.as_str(), self.name.as_str())
    }
}

/// A loaded `Test` document.
/// Policies that could not be compiled: name and why.
type Invalid = Vec<(String, String)>;

struct Suite {
    policies: Vec<Policy>,
    /// Policies that could not be compiled: name and why (their rows are skipped, as
    /// `kyverno test` reports them; the error is reported too).
    invalid: Invalid,
    /// The test's `exceptions` (PolicyExceptions): the rules they name are skipped on the
    /// resources they match.
    exceptions: Vec<kyverno::exception::PolicyException>,
    resources: Vec<Value>,
    /// The resources, then the `targetResources`: the objects mutate-existing rules select
    /// from (indexes below `resources.len()` are the resources).
    targets: Vec<Value>,
    values: Values,
    user: Option<UserInfo>,
    results: Vec<Expected>,
    limits: crate::limits::Limits,
    /// The objects and image metadata of the test's CEL `context` file.
    cluster: Option<ObjectStore>,
    /// The documents of each `patchedResources`, `generatedResource(s)` and
    /// `cloneSourceResource` file, by the name the results give it.
    files: HashMap<String, Vec<Value>>,
}

#[derive(Default)]
struct Values {
    global_operation: Option<String>,
    /// (policy, resource) → operation.
    resource_operation: HashMap<(String, String), String>,
    namespace_labels: HashMap<String, BTreeMap<String, String>>,
    /// Namespace objects the values file gives in full (`namespaces:`).
    namespace_objects: HashMap<String, Value>,
    /// Values injected into rule contexts.
    engine: kyverno::Values,
}

/// Runs every `Test` document of one file.
pub(super) fn run_file(path: &Path, files: &Files<'_>, strict: bool) -> Vec<SuiteReport> {
    let display = files.display(path);
    let parsed = match files.read_yaml(path) {
        Ok(p) => p,
        Err(problem) => return vec![SuiteReport::broken(display, String::new(), problem)],
    };
    let mut reports = Vec::new();
    for doc in &parsed.documents {
        let name = doc
            .root
            .at(&["metadata", "name"])
            .or_else(|| doc.root.get("name"))
            .and_then(Node::as_str)
            .unwrap_or("")
            .to_string();
        let mut report = SuiteReport::new(display.clone(), name);
        report.problems.extend(parsed.problems.iter().cloned());
        match load_suite(&doc.root, path, &display, files) {
            Ok((suite, problems)) => {
                report.problems.extend(problems);
                report.cel_or_other =
                    suite.policies.iter().any(|p| !is_validate_only_cluster_policy(p));
                report.policy_kinds =
                    suite.policies.iter().map(|p| (p.name.clone(), p.category())).collect();
                if strict {
                    report.problems.extend(unknown_rules(&suite, &display));
                }
                (report.rows, report.unlisted) = run_suite(&suite, strict);
            }
            Err(problem) => report.problems.push(problem),
        }
        reports.push(report);
    }
    if parsed.documents.is_empty() {
        let problem = parsed
            .problems
            .first()
            .cloned()
            .unwrap_or_else(|| Problem::new(display.clone(), None, "empty test file"));
        reports.push(SuiteReport::broken(display, String::new(), problem));
    }
    reports
}

fn is_validate_only_cluster_policy(p: &Policy) -> bool {
    p.kind == PolicyKind::ClusterPolicy
        && p.rules.iter().all(crate::engine::kyverno::Rule::is_non_cel_validate)
}

fn load_suite(
    root: &Node,
    path: &Path,
    display: &str,
    files: &Files<'_>,
) -> Result<(Suite, Vec<Problem>), Problem> {
    let f = Fields::new(root, TEST_KEYS, "a Test", display)?;
    let api = f.string("apiVersion").unwrap_or_default();
    let kind = f.string("kind").unwrap_or_default();
    let legacy = api.is_empty() && kind.is_empty();
    // `kyverno.io/v1` is the group the CLI's Test kind had before `cli.kyverno.io`; it still
    // accepts it.
    let group = api.starts_with("cli.kyverno.io/") || api == "kyverno.io/v1";
    if !legacy && (kind != "Test" || !group) {
        return Err(Problem::new(
            display,
            Some(root.span.start()),
            format!("not a Kyverno Test (apiVersion `{api}`, kind `{kind}`)"),
        ));
    }
    f.refuse(UNSUPPORTED_TEST_KEYS, "a Test", display)?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut problems = Vec::new();

    let (policies, invalid) = load_policies(&f, dir, display, files, &mut problems)?;
    let resources = load_resources(&f, "resources", dir, display, files, &mut problems)?;
    // What mutate-existing rules select from: the cluster `kyverno test` fakes holds the
    // resources and the `targetResources`.
    let mut targets = resources.clone();
    targets.extend(load_resources(&f, "targetResources", dir, display, files, &mut problems)?);
    let exceptions = load_exceptions(&f, dir, display, files, &mut problems)?;

    let values = match f.string("variables") {
        Some(v) => {
            let pos = f.get("variables").map(|n| n.span.start());
            let file = files.resolve_file(dir, &v, display, pos)?;
            read_values(&file, files)?
        }
        None => Values::default(),
    };
    let user = match f.string("userinfo") {
        Some(u) => {
            let pos = f.get("userinfo").map(|n| n.span.start());
            let file = files.resolve_file(dir, &u, display, pos)?;
            Some(read_user_info(&file, files)?)
        }
        None => None,
    };

    let mut cluster = match f.string("context") {
        Some(c) => {
            let pos = f.get("context").map(|n| n.span.start());
            let file = files.resolve_file(dir, &c, display, pos)?;
            Some(read_context(&file, files)?)
        }
        None => None,
    };
    // `clusterResources`: ClusterResource files, whose objects the fake cluster holds for
    // `apiCall` and `configMap` context entries (and CEL lookups), beside a context file's.
    for (c, pos) in f.strings_at("clusterResources") {
        for file in files.resolve(dir, &c, display, Some(pos))? {
            let store = cluster.get_or_insert_with(ObjectStore::default);
            problems.extend(read_cluster_resources(&file, dir, files, store)?);
        }
    }

    // `paramResources`: the objects ValidatingAdmissionPolicy and MutatingAdmissionPolicy
    // bindings (and `validate.cel` paramRefs) choose their `params` from. `kyverno test`'s
    // fake cluster holds them too.
    let params = load_resources(&f, "paramResources", dir, display, files, &mut problems)?;
    if !params.is_empty() {
        cluster.get_or_insert_with(ObjectStore::default).objects.extend(params);
    }

    let results = load_results(&f, display)?;
    let expected_files = load_expected_files(&results, dir, display, files)?;
    let limits = files.limits;
    let suite = Suite {
        policies,
        invalid,
        exceptions,
        resources,
        targets,
        values,
        user,
        results,
        limits,
        cluster,
        files: expected_files,
    };
    Ok((suite, problems))
}

/// A CEL context file (`kind: Context`): `spec.resources` serve `resource.Get`/`List`,
/// `spec.images` serve `image.GetMetadata` (kyverno-compat.md, 13.3).
fn read_context(path: &Path, files: &Files<'_>) -> Result<ObjectStore, Problem> {
    let parsed = files.read_yaml(path)?;
    let display = files.display(path);
    let doc = parsed
        .documents
        .first()
        .ok_or_else(|| Problem::new(display.clone(), None, "the context file has no document"))?;
    let kind = doc.root.get("kind").and_then(Node::as_str).unwrap_or("");
    if kind != "Context" {
        return Err(Problem::new(
            display,
            Some(doc.root.span.start()),
            format!("a context file must be `kind: Context`, not `{kind}`"),
        ));
    }
    let json = doc.root.to_json();
    let mut store = ObjectStore::default();
    for r in json.at("/spec/resources").and_then(Value::as_array).into_iter().flatten() {
        let mut r = r.clone();
        if let Some(kind) = r.get("kind").and_then(Value::as_str).map(String::from) {
            default_namespace(&mut r, &kind);
        }
        store.objects.push(r);
    }
    for image in json.at("/spec/images").and_then(Value::as_array).into_iter().flatten() {
        store.add_image(image.clone());
    }
    Ok(store)
}

/// A `ClusterResource` file (`spec.resources`: objects; `spec.crds`: CRD files, relative to
/// the test, that name custom kinds' resources) into the fake cluster. Its fields are checked
/// strictly, as `kyverno test` reads it.
fn read_cluster_resources(
    path: &Path,
    dir: &Path,
    files: &Files<'_>,
    store: &mut ObjectStore,
) -> Result<Vec<Problem>, Problem> {
    let parsed = files.read_yaml(path)?;
    let mut problems = parsed.problems.clone();
    let display = files.display(path);
    let doc = match parsed.documents.as_slice() {
        [doc] => doc,
        [] => return Err(Problem::new(display, None, "the ClusterResource file has no document")),
        [_, second, ..] => {
            let why =
                "a ClusterResource file holds one document (list objects under `spec.resources`)";
            return Err(Problem::new(display, Some(second.root.span.start()), why));
        }
    };
    let what = "a ClusterResource";
    let f = Fields::new(&doc.root, &["apiVersion", "kind", "metadata", "spec"], what, &display)?;
    let Some(spec) = f.get("spec") else {
        return Err(Problem::new(
            display,
            Some(doc.root.span.start()),
            "a ClusterResource needs `spec`",
        ));
    };
    let spec = Fields::new(spec, &["crds", "resources"], "a ClusterResource's spec", &display)?;
    for (crd, pos) in spec.strings_at("crds") {
        let file = files.resolve_file(dir, &crd, &display, Some(pos))?;
        let crds = files.read_yaml(&file)?;
        problems.extend(crds.problems.iter().cloned());
        for doc in &crds.documents {
            let json = doc.root.to_json();
            if json.get("kind").and_then(Value::as_str) != Some("CustomResourceDefinition") {
                let why = "`crds` lists CustomResourceDefinition files";
                return Err(Problem::new(files.display(&file), Some(doc.root.span.start()), why));
            }
            store.add_crd(&json);
            store.objects.push(json);
        }
    }
    if let Some(resources) = spec.get("resources") {
        let Some(items) = resources.as_seq() else {
            let why = "`spec.resources` must be a list of objects";
            return Err(Problem::new(display, Some(resources.span.start()), why));
        };
        for item in items {
            if item.as_map().is_none() {
                let why = "`spec.resources` must be a list of objects";
                return Err(Problem::new(display, Some(item.span.start()), why));
            }
            store.objects.push(item.to_json());
        }
    }
    Ok(problems)
}

fn load_policies(
    f: &Fields<'_>,
    dir: &Path,
    display: &str,
    files: &Files<'_>,
    problems: &mut Vec<Problem>,
) -> Result<(Vec<Policy>, Invalid), Problem> {
    let mut policies = Vec::new();
    let mut invalid = Vec::new();
    let mut seen_files = Vec::new();
    // ValidatingAdmissionPolicies and their bindings (file, document), bound once all are read.
    let mut admission: Vec<(String, Node)> = Vec::new();
    for (p, pos) in f.strings_at("policies") {
        for file in files.resolve(dir, &p, display, Some(pos))? {
            if seen_files.contains(&file) {
                continue;
            }
            let parsed = files.read_yaml(&file)?;
            problems.extend(parsed.problems.iter().cloned());
            admission.extend(
                parsed
                    .documents
                    .iter()
                    .filter(|d| {
                        kyverno::vap::is_admission_policy(&d.root)
                            || kyverno::vap::bound_policy(&d.root).is_some()
                    })
                    .map(|d| (files.display(&file), d.root.clone())),
            );
            for doc in parsed.documents.iter().filter(|d| kyverno::is_policy(&d.root)) {
                match Policy::from_node(&doc.root) {
                    Ok(policy) => policies.push(policy),
                    Err(e) => {
                        let message = kyverno::invalid_policy_message(&doc.root, &e);
                        if let Some(name) =
                            doc.root.at(&["metadata", "name"]).and_then(Node::as_str)
                        {
                            invalid.push((name.to_string(), message.clone()));
                        }
                        problems.push(Problem::new(files.display(&file), e.pos, message));
                    }
                }
            }
            seen_files.push(file);
        }
    }
    // As `kyverno test` runs them: each binding's, or a policy bound to nothing alone.
    let vaps: Vec<&Node> =
        admission.iter().map(|(_, n)| n).filter(|n| kyverno::vap::is_admission_policy(n)).collect();
    let bindings: Vec<&Node> = admission
        .iter()
        .map(|(_, n)| n)
        .filter(|n| kyverno::vap::bound_policy(n).is_some())
        .collect();
    for (policy, binding, name) in kyverno::vap::bindings(&vaps, &bindings, true) {
        let at = admission.iter().find(|(_, n)| std::ptr::eq(n, policy)).map(|(f, _)| f.clone());
        match Policy::from_admission_policy(policy, binding, &name) {
            Ok(p) => policies.push(p),
            Err(e) => {
                let message = format!("invalid ValidatingAdmissionPolicy `{name}`: {}", e.message);
                invalid.push((name.clone(), message.clone()));
                problems.push(Problem::new(at.unwrap_or_default(), e.pos, message));
            }
        }
    }
    Ok((policies, invalid))
}

/// The PolicyExceptions of the test's `exceptions` files; one that cannot be compiled is a
/// problem at its line, and a file with none an error (a wrong path must not pass green).
fn load_exceptions(
    f: &Fields<'_>,
    dir: &Path,
    display: &str,
    files: &Files<'_>,
    problems: &mut Vec<Problem>,
) -> Result<Vec<kyverno::exception::PolicyException>, Problem> {
    use kyverno::exception::{is_exception, PolicyException};
    let mut exceptions = Vec::new();
    for (p, pos) in f.strings_at("exceptions") {
        for file in files.resolve(dir, &p, display, Some(pos))? {
            let parsed = files.read_yaml(&file)?;
            problems.extend(parsed.problems.iter().cloned());
            let mut found = 0;
            for doc in parsed.documents.iter().filter(|d| is_exception(&d.root)) {
                found += 1;
                match PolicyException::from_node(&doc.root) {
                    Ok(e) => exceptions.push(e),
                    Err(e) => problems.push(Problem::new(
                        files.display(&file),
                        e.pos,
                        kyverno::exception::invalid_exception_message(&doc.root, &e),
                    )),
                }
            }
            if found == 0 && parsed.problems.is_empty() {
                problems.push(Problem::new(
                    display,
                    Some(pos),
                    format!("`{p}` holds no PolicyException"),
                ));
            }
        }
    }
    Ok(exceptions)
}

/// The files of expected patched and generated resources and of clone sources the results
/// name, each read once (namespaced resources without a namespace in `default`, as the CLI
/// reads them).
fn load_expected_files(
    results: &[Expected],
    dir: &Path,
    display: &str,
    files: &Files<'_>,
) -> Result<HashMap<String, Vec<Value>>, Problem> {
    let mut out = HashMap::new();
    let named = results.iter().flat_map(|e| {
        e.patched.iter().chain(&e.generated).chain(&e.clone_source).map(move |f| (f, e.pos))
    });
    for (reference, pos) in named {
        if out.contains_key(reference) {
            continue;
        }
        let file = files.resolve_file(dir, reference, display, Some(pos))?;
        let parsed = files.read_yaml(&file)?;
        if let Some(problem) = parsed.problems.first() {
            return Err(problem.clone());
        }
        let docs = parsed
            .documents
            .iter()
            .map(|d| {
                let mut json = d.root.to_json();
                if let Some(kind) = json.get("kind").and_then(Value::as_str).map(String::from) {
                    default_namespace(&mut json, &kind);
                }
                json
            })
            .collect();
        out.insert(reference.clone(), docs);
    }
    Ok(out)
}

/// The resources under test, de-duplicated by identity (the first one wins).
fn load_resources(
    f: &Fields<'_>,
    key: &str,
    dir: &Path,
    display: &str,
    files: &Files<'_>,
    problems: &mut Vec<Problem>,
) -> Result<Vec<Value>, Problem> {
    let mut resources: Vec<Value> = Vec::new();
    let mut seen: std::collections::HashSet<(String, String, String, String)> =
        std::collections::HashSet::new();
    for (r, pos) in f.strings_at(key) {
        for file in files.resolve(dir, &r, display, Some(pos))? {
            let parsed = files.read_yaml(&file)?;
            problems.extend(parsed.problems.iter().cloned());
            for doc in &parsed.documents {
                let mut json = doc.root.to_json();
                let Some(kind) = json.get("kind").and_then(Value::as_str).map(String::from) else {
                    continue;
                };
                default_namespace(&mut json, &kind);
                let (a, k, ns, n) = identity(&json);
                let id = (a.to_string(), k.to_string(), ns.to_string(), n.to_string());
                if seen.insert(id) {
                    resources.push(json);
                }
            }
        }
    }
    Ok(resources)
}
fn load_results(f: &Fields<'_>, display: &str) -> Result<Vec<Expected>, Problem> {
    let mut results = Vec::new();
    if let Some(list) = f.get("results") {
        let items = list.as_seq().ok_or_else(|| {
            Problem::new(display, Some(list.span.start()), "results must be a list")
        })?;
        for item in items {
            let r = Fields::new(item, RESULT_KEYS, "a result", display)?;
            let mut resources = r.strings("resources");
            if let Some(single) = r.string("resource") {
                match r.string("namespace") {
                    Some(ns) => resources.push(format!("{ns}/{single}")),
                    None => resources.push(single),
                }
            }
            let mut resource_specs = Vec::new();
            if let Some(specs) = r.get("resourceSpecs") {
                let Some(items) = specs.as_seq() else {
                    let why = "resourceSpecs must be a list";
                    return Err(Problem::new(display, Some(specs.span.start()), why));
                };
                for spec in items {
                    resource_specs.push(ResourceSpec::read(spec, display)?);
                }
            }
            let result = r
                .string("result")
                .or_else(|| r.string("status"))
                .unwrap_or_default()
                .to_lowercase();
            let cel_kind = [
                "isValidatingPolicy",
                "isMutatingPolicy",
                "isGeneratingPolicy",
                "isDeletingPolicy",
                "isImageValidatingPolicy",
                "isValidatingAdmissionPolicy",
                "isMutatingAdmissionPolicy",
            ]
            .iter()
            .any(|k| r.flag(k));
            results.push(Expected {
                pos: item.span.start(),
                policy: r.string("policy").unwrap_or_default(),
                rule: r.string("rule").unwrap_or_default(),
                resources,
                kind: r.string("kind").unwrap_or_default(),
                result,
                operation: r.string("operation"),
                cel_kind,
                patched: r.string("patchedResources").or_else(|| r.string("patchedResource")),
                fail_on_missing: r.flag("failOnMissingResources"),
                generated: r
                    .string("generatedResource")
                    .into_iter()
                    .chain(r.strings("generatedResources"))
                    .collect(),
                clone_source: r.string("cloneSourceResource"),
                resource_specs,
            });
        }
    }
    Ok(results)
}

/// Like the Kyverno CLI, put namespaced resources without a namespace in `default`.
fn default_namespace(resource: &mut Value, kind: &str) {
    let api = resource.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    let no_crds = HashMap::new();
    if crate::kinds::is_cluster_scoped(api, kind, &no_crds) {
        return;
    }
    if let Some(meta) = resource.get_mut("metadata").and_then(Value::as_object_mut) {
        if meta.get("namespace").and_then(Value::as_str).is_none_or(str::is_empty) {
            meta.insert("namespace".into(), Value::String("default".into()));
        }
    }
}

/// apiVersion, kind, namespace and name of a resource ("" when absent).
pub(super) fn identity(r: &Value) -> (&str, &str, &str, &str) {
    fn s(v: Option<&Value>) -> &str {
        v.and_then(Value::as_str).unwrap_or("")
    }
    let meta = r.get("metadata");
    (
        s(r.get("apiVersion")),
        s(r.get("kind")),
        s(meta.and_then(|m| m.get("namespace"))),
        s(meta.and_then(|m| m.get("name"))),
    )
}

fn read_values(path: &Path, files: &Files<'_>) -> Result<Values, Problem> {
    let parsed = files.read_yaml(path)?;
    let mut values = Values::default();
    let Some(doc) = parsed.documents.first() else { return Ok(values) };
    refuse_values_fields(&doc.root, &files.display(path))?;
    let json = doc.root.to_json();
    if let Some(op) = json.at("/globalValues/request.operation").and_then(Value::as_str) {
        values.global_operation = Some(op.to_string());
    }
    if let Some(global) = json.get("globalValues").and_then(Value::as_object) {
        values.engine.global.clone_from(global);
        values.engine.global.remove("request.operation");
    }
    for p in json.get("policies").and_then(Value::as_array).into_iter().flatten() {
        let policy = p.get("name").and_then(Value::as_str).unwrap_or("");
        for rule in p.get("rules").and_then(Value::as_array).into_iter().flatten() {
            let rule_name = rule.get("name").and_then(Value::as_str).unwrap_or("");
            if let Some(v) = rule.get("values").and_then(Value::as_object) {
                values.engine.rules.insert((policy.to_string(), rule_name.to_string()), v.clone());
            }
        }
        for r in p.get("resources").and_then(Value::as_array).into_iter().flatten() {
            let name = r.get("name").and_then(Value::as_str).unwrap_or("");
            if let Some(v) = r.get("values").and_then(Value::as_object) {
                let mut v = v.clone();
                v.remove("request.operation");
                values.engine.resources.insert((policy.to_string(), name.to_string()), v);
            }
            if let Some(op) = r.at("/values/request.operation").and_then(Value::as_str) {
                values
                    .resource_operation
                    .insert((policy.to_string(), name.to_string()), op.to_string());
            }
        }
    }
    for ns in json.get("namespaceSelector").and_then(Value::as_array).into_iter().flatten() {
        let name = ns.get("name").and_then(Value::as_str).unwrap_or("").to_string();
        values.namespace_labels.insert(name, kyverno::string_map(ns.get("labels")));
    }
    for ns in json.get("namespaces").and_then(Value::as_array).into_iter().flatten() {
        let name = ns.at("/metadata/name").and_then(Value::as_str).unwrap_or("").to_string();
        values
            .namespace_labels
            .insert(name.clone(), kyverno::string_map(ns.at("/metadata/labels")));
        values.namespace_objects.insert(name, ns.clone());
    }
    Ok(values)
}

/// The fields of a values file that `kyverno test` reads and this harness does not yet: an
/// error at the first one, never a suite run with it ignored.
fn refuse_values_fields(root: &Node, file: &str) -> Result<(), Problem> {
    // At the key, as a Test's unsupported fields are reported.
    let refuse = |node: &Node, key: &str| {
        node.as_map()?.iter().find(|e| &*e.key == key).map(|e| {
            Problem::new(
                file,
                Some(e.key_span.start()),
                format!("`{key}` in a values file is not supported yet: the suite is not run"),
            )
        })
    };
    if let Some(problem) = refuse(root, "subresources") {
        return Err(problem);
    }
    let rules = root
        .get("policies")
        .and_then(Node::as_seq)
        .into_iter()
        .flatten()
        .filter_map(|p| p.get("rules").and_then(Node::as_seq))
        .flatten();
    match rules.into_iter().find_map(|rule| refuse(rule, "foreachValues")) {
        Some(problem) => Err(problem),
        None => Ok(()),
    }
}

fn read_user_info(path: &Path, files: &Files<'_>) -> Result<UserInfo, Problem> {
    let parsed = files.read_yaml(path)?;
    let json = parsed.documents.first().map_or(Value::Null, |d| d.root.to_json());
    let list = |p: &str| -> Vec<String> {
        json.at(p)
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(|v| v.as_str().map(String::from)).collect())
            .unwrap_or_default()
    };
    Ok(UserInfo {
        username: json.at("/userInfo/username").and_then(Value::as_str).unwrap_or("").to_string(),
        groups: list("/userInfo/groups"),
        roles: list("/roles"),
        cluster_roles: list("/clusterRoles"),
    })
}

/// `--strict`: a result naming a rule its policy does not have is an error.
fn unknown_rules(suite: &Suite, display: &str) -> Vec<Problem> {
    suite
        .results
        .iter()
        .filter(|e| !e.rule.is_empty() && !e.cel_kind)
        .filter_map(|e| {
            let name = e.policy.rsplit('/').next().unwrap_or("");
            let policy = suite.policies.iter().find(|p| p.name == name)?;
            let known = policy.rules.iter().any(|r| r.name == e.rule);
            let message = format!("policy `{}` has no rule `{}`", policy.name, e.rule);
            (!known).then(|| Problem::new(display, Some(e.pos), message))
        })
        .collect()
}

/// A rule's response; the resource a row compares with the expected patched resource (the
/// policy's patched resource for a mutate rule, else the resource the rule checked); and for a
/// generate rule, the objects it generated.
#[derive(Clone)]
struct Answer {
    response: RuleResponse,
    compared: std::rc::Rc<Value>,
    generated: Option<Vec<Value>>,
}

impl Answer {
    fn new(response: RuleResponse, compared: &std::rc::Rc<Value>) -> Answer {
        Answer { response, compared: std::rc::Rc::clone(compared), generated: None }
    }
}

/// What admission made of a resource under one operation: each mutating policy's responses and
/// patched resource (by policy index), and the resources validation sees: ClusterPolicies and
/// Policies validate what their mutate rules left, the CEL kinds what the MutatingPolicies
/// then left.
struct Admitted {
    mutations: HashMap<usize, Vec<Answer>>,
    /// Targets the mutate-existing rules of each policy patched: the rule's response and the
    /// patched target.
    targets: HashMap<usize, Vec<(RuleResponse, Value)>>,
    after_rules: std::rc::Rc<Value>,
    after_cel: std::rc::Rc<Value>,
}

/// Computed on demand: admission per (operation, resource index), and answers per (operation,
/// resource index, policy index).
#[derive(Default)]
struct ResponseCache {
    admitted: HashMap<(String, usize), Admitted>,
    answers: HashMap<(String, usize, usize), Vec<Answer>>,
}

/// The rows of a suite: the first [`super::MAX_ROWS`] kept, the others counted.
fn run_suite(suite: &Suite, strict: bool) -> (Vec<Row>, super::Unlisted) {
    let mut cache = ResponseCache::default();
    let by_name = resources_by_name(suite);
    let mut rows = Vec::new();
    let mut unlisted = super::Unlisted::default();
    for expected in &suite.results {
        let selected = select_resources(suite, &by_name, expected, &mut cache);
        let n = suite.resources.len();
        for i in selected {
            let found = if i < n {
                rows_for(suite, expected, i, strict, &mut cache)
            } else {
                target_rows(suite, expected, i, &mut cache)
            };
            for row in found {
                if rows.len() < super::MAX_ROWS {
                    rows.push(row);
                } else if row.verdict == Verdict::Pass {
                    unlisted.passed += 1;
                } else {
                    unlisted.failed += 1;
                }
            }
        }
    }
    (rows, unlisted)
}

/// The indexes in [`Suite::targets`] (the resources, then the `targetResources`) by name.
fn resources_by_name(suite: &Suite) -> HashMap<&str, Vec<usize>> {
    let mut by_name: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, r) in suite.targets.iter().enumerate() {
        by_name.entry(identity(r).3).or_default().push(i);
    }
    by_name
}

/// The resources and target resources (indexes in [`Suite::targets`]) a result names (`name`
/// or `namespace/name`, then its `resourceSpecs`), in that order; when it names none of them,
/// all. As `kyverno test` does, a target counts only once a policy has patched it.
fn select_resources(
    suite: &Suite,
    by_name: &HashMap<&str, Vec<usize>>,
    expected: &Expected,
    cache: &mut ResponseCache,
) -> Vec<usize> {
    let patched = patched_targets(suite, expected, cache);
    let present = |i: usize| i < suite.resources.len() || patched.contains(&i);
    let mut selected: Vec<usize> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for wanted in &expected.resources {
        let (ns, name) = match wanted.split_once('/') {
            Some((ns, name)) => (Some(ns), name),
            None => (None, wanted.as_str()),
        };
        let mut found: Vec<usize> = by_name
            .get(name)
            .into_iter()
            .flatten()
            .copied()
            .filter(|&i| present(i))
            .filter(|&i| ns.is_none_or(|ns| ns == identity(&suite.targets[i]).2))
            .filter(|i| seen.insert(*i))
            .collect();
        selected.append(&mut found);
    }
    for spec in &expected.resource_specs {
        for (i, r) in suite.targets.iter().enumerate() {
            if present(i) && spec.selects(r) && seen.insert(i) {
                selected.push(i);
            }
        }
    }
    if selected.is_empty() {
        return (0..suite.targets.len()).filter(|&i| present(i)).collect();
    }
    selected
}

/// The indexes in [`Suite::targets`] of the target resources a policy patched, under the
/// result's operation.
fn patched_targets(
    suite: &Suite,
    expected: &Expected,
    cache: &mut ResponseCache,
) -> std::collections::HashSet<usize> {
    let n = suite.resources.len();
    let mut patched = std::collections::HashSet::new();
    if suite.targets.len() == n {
        return patched;
    }
    let policy = expected.policy.rsplit('/').next().unwrap_or("");
    for (ri, trigger) in suite.resources.iter().enumerate() {
        let operation = operation_for(suite, expected, policy, identity(trigger).3);
        let admitted = admitted(suite, ri, &operation, cache);
        for (_, target) in admitted.targets.values().flatten() {
            let id = identity(target);
            if let Some(i) = (n..suite.targets.len()).find(|&i| identity(&suite.targets[i]) == id) {
                patched.insert(i);
            }
        }
    }
    patched
}

/// Makes the rows of a result for one resource (shown as the result names it): from the
/// actual result, verdict, reason, message and rule.
fn row_maker<'e>(
    expected: &'e Expected,
    resource: &Value,
) -> impl Fn(&str, Verdict, String, String, &str) -> Row + 'e {
    let (_, kind, namespace, name) = identity(resource);
    let shown = expected
        .resources
        .iter()
        .find(|w| {
            w.as_str() == name
                || w.split_once('/').is_some_and(|(n, m)| n == namespace && m == name)
        })
        .cloned()
        .unwrap_or_else(|| name.to_string());
    let kind = if expected.kind.is_empty() { kind.to_string() } else { expected.kind.clone() };
    let namespace = namespace.to_string();
    move |actual: &str, verdict: Verdict, reason: String, message: String, rule: &str| Row {
        policy: expected.policy.clone(),
        rule: rule.to_string(),
        resource: shown.clone(),
        kind: kind.clone(),
        namespace: namespace.clone(),
        expected: expected.result.clone(),
        actual: actual.to_string(),
        verdict,
        reason,
        message,
    }
}

/// The rows of a result for a target resource: one per policy response (to any trigger) that
/// patched it, comparing the patched target with `patchedResources`, as `kyverno test` checks
/// `targetResources` (only patched targets are selected).
fn target_rows(
    suite: &Suite,
    expected: &Expected,
    ti: usize,
    cache: &mut ResponseCache,
) -> Vec<Row> {
    let target = &suite.targets[ti];
    let (api_version, kind, namespace, name) = identity(target);
    let row = row_maker(expected, target);
    let patched_files: Vec<(&str, &Vec<Value>)> =
        expected.patched.iter().map(|f| (f.as_str(), &suite.files[f])).collect();
    let mut rows = Vec::new();
    let policy = expected.policy.rsplit('/').next().unwrap_or("");
    for (ri, trigger) in suite.resources.iter().enumerate() {
        let operation = operation_for(suite, expected, policy, identity(trigger).3);
        let admitted = admitted(suite, ri, &operation, cache);
        let mut policies: Vec<&usize> = admitted.targets.keys().collect();
        policies.sort();
        for pi in policies {
            // The first rule of the policy's response that patched this target.
            let Some((response, patched)) = admitted.targets[pi].iter().find(|(_, t)| {
                let (a, k, ns, n) = identity(t);
                (a, k, n) == (api_version, kind, name) && (namespace.is_empty() || ns == namespace)
            }) else {
                continue;
            };
            let status = response.status.as_str();
            let judged = compare::judge(expected, response, patched, &patched_files, false);
            let (verdict, reason, message) = judged.unwrap_or_else(|| {
                let files = expected.patched.as_deref().unwrap_or("");
                let message = format!("{files} has no {kind} `{namespace}/{name}`");
                (Verdict::Fail, "Resource error".into(), message)
            });
            rows.push(row(status, verdict, reason, message, &response.rule));
        }
    }
    rows
}

/// The admission operation of a result: its own, the values file's for the resource, the values
/// file's global one, else CREATE.
fn operation_for(suite: &Suite, expected: &Expected, policy: &str, resource: &str) -> String {
    expected
        .operation
        .clone()
        .or_else(|| {
            suite
                .values
                .resource_operation
                .get(&(policy.to_string(), resource.to_string()))
                .cloned()
        })
        .or_else(|| suite.values.global_operation.clone())
        .unwrap_or_else(|| "CREATE".into())
}

/// The request of a resource under the suite's values.
fn request<'s>(suite: &'s Suite, namespace: &str, operation: &'s str) -> Request<'s> {
    Request {
        operation,
        namespace: None,
        namespace_labels: suite
            .values
            .namespace_labels
            .get(namespace)
            .map_or_else(Default::default, std::borrow::Cow::Borrowed),
        namespace_object: suite.values.namespace_objects.get(namespace),
        user: suite.user.as_ref(),
        exceptions: Some(&suite.exceptions),
        values: Some(&suite.values.engine),
        cluster: suite.cluster.as_ref().map(|c| c as &dyn ClusterData),
        limits: suite.limits,
        cel_object: None,
        shared_context: None,
        targets: Some(&suite.targets),
        pins_digests: false,
    }
}

/// Mutating admission of a resource, in the order `kyverno test` runs it: the mutate rules of
/// ClusterPolicies and Policies in the suite's order, each policy on what the previous ones
/// patched (its rows compare what it made); then the MutatingPolicies likewise (their rows
/// compare what the last of them made, as the CLI reports them).
fn admit(suite: &Suite, resource: &Value, namespace: &str, operation: &str) -> Admitted {
    use std::rc::Rc;
    let request = request(suite, namespace, operation);
    let mut current = Rc::new(resource.clone());
    let mut mutations = HashMap::new();
    let mut targets = HashMap::new();
    let mutating = |cel: bool| {
        suite
            .policies
            .iter()
            .enumerate()
            .filter(move |(_, p)| p.has_mutate() && matches!(p.kind, PolicyKind::Cel(_)) == cel)
    };
    for (pi, policy) in mutating(false) {
        let m = policy.mutate(&current, &request);
        if !m.targets.is_empty() {
            let found: Vec<(RuleResponse, Value)> =
                m.targets.into_iter().map(|(i, t)| (m.responses[i].clone(), t)).collect();
            targets.insert(pi, found);
        }
        let patched = Rc::new(m.patched);
        let answers = m.responses.into_iter().map(|r| Answer::new(r, &patched)).collect();
        mutations.insert(pi, answers);
        current = patched;
    }
    let after_rules = Rc::clone(&current);
    let mut cel_responses = Vec::new();
    for (pi, policy) in mutating(true) {
        let m = policy.mutate(&current, &request);
        current = Rc::new(m.patched);
        cel_responses.push((pi, m.responses));
    }
    for (pi, responses) in cel_responses {
        let answers = responses.into_iter().map(|r| Answer::new(r, &current)).collect();
        mutations.insert(pi, answers);
    }
    Admitted { mutations, targets, after_rules, after_cel: current }
}

/// What admission made of a suite's resource under an operation, admitted once.
fn admitted<'c>(
    suite: &Suite,
    ri: usize,
    operation: &str,
    cache: &'c mut ResponseCache,
) -> &'c Admitted {
    let resource = &suite.resources[ri];
    cache
        .admitted
        .entry((operation.to_string(), ri))
        .or_insert_with(|| admit(suite, resource, identity(resource).2, operation))
}

/// The answers of a policy to a resource: its mutate rules' (from admission), then the others'
/// on the admitted resource.
fn answers(
    suite: &Suite,
    pi: usize,
    ri: usize,
    operation: &str,
    cache: &mut ResponseCache,
) -> Vec<Answer> {
    let key = (operation.to_string(), ri, pi);
    if let Some(found) = cache.answers.get(&key) {
        return found.clone();
    }
    let resource = &suite.resources[ri];
    let namespace = identity(resource).2;
    let admitted = admitted(suite, ri, operation, cache);
    let policy = &suite.policies[pi];
    let mut out: Vec<Answer> = admitted.mutations.get(&pi).cloned().unwrap_or_default();
    if policy.has_non_mutate() {
        let checked = if matches!(policy.kind, PolicyKind::Cel(_)) {
            std::rc::Rc::clone(&admitted.after_cel)
        } else {
            std::rc::Rc::clone(&admitted.after_rules)
        };
        let responses = policy.evaluate(&checked, &request(suite, namespace, operation));
        out.extend(responses.into_iter().map(|r| Answer::new(r, &checked)));
    }
    if policy.has_generate() {
        // The generate controller sees the trigger as admitted, and the clone sources the
        // policy's results name.
        let trigger = &admitted.after_cel;
        let mut cluster = vec![(**trigger).clone()];
        for e in suite.results.iter().filter(|e| e.policy.rsplit('/').next() == Some(&policy.name))
        {
            if let Some(docs) = e.clone_source.as_ref().and_then(|f| suite.files.get(f)) {
                cluster.extend(docs.iter().cloned());
            }
        }
        let request = request(suite, namespace, operation);
        for g in policy.generate(trigger, &request, &cluster) {
            let mut answer = Answer::new(g.response, trigger);
            answer.generated = Some(g.objects);
            out.push(answer);
        }
    }
    cache.answers.insert(key, out.clone());
    out
}

/// The rows of one result entry for one resource (kyverno-compat.md, 14.2–14.3).
fn rows_for(
    suite: &Suite,
    expected: &Expected,
    ri: usize,
    strict: bool,
    cache: &mut ResponseCache,
) -> Vec<Row> {
    let resource = &suite.resources[ri];
    let name = identity(resource).3;
    let row = row_maker(expected, resource);
    let policy_name = expected.policy.rsplit('/').next().unwrap_or("");
    let Some(pi) = suite.policies.iter().position(|p| p.name == policy_name) else {
        if let Some((_, why)) = suite.invalid.iter().find(|(name, _)| name == policy_name) {
            let reason = "Invalid policy".to_string();
            return vec![row("skip", Verdict::Pass, reason, why.clone(), &expected.rule)];
        }
        let message = format!("policy `{policy_name}` is not loaded");
        return vec![row("not-found", Verdict::Fail, "Not found".into(), message, &expected.rule)];
    };
    let policy = &suite.policies[pi];
    let operation = operation_for(suite, expected, &policy.name, name);
    let answers = answers(suite, pi, ri, &operation, cache);
    let cel = expected.cel_kind || matches!(policy.kind, PolicyKind::Cel(_));
    let names_rule = |r: &RuleResponse| {
        r.rule == expected.rule
            || r.rule.strip_prefix("autogen-").is_some_and(|n| n == expected.rule)
            || r.rule.strip_prefix("autogen-cronjob-").is_some_and(|n| n == expected.rule)
    };
    let checked: Vec<&Answer> = answers
        .iter()
        .filter(|a| cel || expected.rule.is_empty() || names_rule(&a.response))
        .collect();
    // The CLI keeps no response of a GeneratingPolicy that generated nothing: "Not found".
    if checked.is_empty() && matches!(policy.kind, PolicyKind::Cel(_)) && policy.has_generate() {
        let message = format!("policy `{policy_name}` gave no response");
        return vec![row("not-found", Verdict::Fail, "Not found".into(), message, &expected.rule)];
    }
    if checked.is_empty() {
        let known =
            expected.rule.is_empty() || policy.rules.iter().any(|r| r.name == expected.rule);
        let (verdict, reason) = if strict && !known {
            (Verdict::Fail, format!("policy `{}` has no rule `{}`", policy.name, expected.rule))
        } else if strict && expected.result != "skip" {
            (Verdict::Fail, "Excluded (strict: expected a result)".into())
        } else {
            (Verdict::Pass, "Excluded".into())
        };
        return vec![row("excluded", verdict, reason, String::new(), &expected.rule)];
    }
    let patched: Vec<(&str, &Vec<Value>)> =
        expected.patched.iter().map(|f| (f.as_str(), &suite.files[f])).collect();
    let generated: Vec<(&str, &Vec<Value>)> =
        expected.generated.iter().map(|f| (f.as_str(), &suite.files[f])).collect();
    checked
        .into_iter()
        .flat_map(|answer| {
            let response = &answer.response;
            let rule = if response.rule.is_empty() {
                expected.rule.as_str()
            } else {
                response.rule.as_str()
            };
            let status = response.status.as_str();
            // A generate rule's row is per object it generated, named by it; with none, only
            // the status is compared.
            let mut out = Vec::new();
            match &answer.generated {
                Some(objects) if !objects.is_empty() => {
                    for object in objects {
                        let judged = compare::judge(expected, response, object, &generated, true);
                        if let Some((verdict, reason, message)) = judged {
                            let mut r = row(status, verdict, reason, message, rule);
                            r.resource = identity(object).3.to_string();
                            out.push(r);
                        }
                    }
                }
                Some(_) => {
                    let judged = compare::judge(expected, response, &answer.compared, &[], true);
                    out.extend(judged.map(|(v, r, m)| row(status, v, r, m, rule)));
                }
                None => {
                    let judged =
                        compare::judge(expected, response, &answer.compared, &patched, false);
                    out.extend(judged.map(|(v, r, m)| row(status, v, r, m, rule)));
                }
            }
            out
        })
        .collect()
}
