//! Kyverno `kyverno-test.yaml` suites, run unchanged and decided as `kyverno test` decides
//! (kyverno-compat.md, sections 12–14).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde_json::Value;

use super::{Files, Row, SuiteReport, Verdict};
use crate::engine::kyverno::{self, Policy, PolicyKind, Request, RuleResponse, UserInfo};
use crate::error::Problem;
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
];

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
            Problem::new(file, Some(node.span.start), format!("{what} must be a mapping"))
        })?;
        for e in entries {
            if !allowed.iter().any(|k| k.eq_ignore_ascii_case(&e.key)) {
                return Err(Problem::new(
                    file,
                    Some(e.key_span.start),
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

    fn flag(&self, key: &str) -> bool {
        self.get(key).and_then(Node::as_bool).unwrap_or(false)
    }
}

/// One expected result of a test.
#[derive(Debug, Clone)]
struct Expected {
    policy: String,
    rule: String,
    resources: Vec<String>,
    kind: String,
    result: String,
    operation: Option<String>,
    cel_kind: bool,
    patched: bool,
    generated: bool,
}

/// A loaded `Test` document.
struct Suite {
    policies: Vec<Policy>,
    resources: Vec<Value>,
    values: Values,
    user: Option<UserInfo>,
    results: Vec<Expected>,
}

#[derive(Default)]
struct Values {
    global_operation: Option<String>,
    /// (policy, resource) → operation.
    resource_operation: HashMap<(String, String), String>,
    namespace_labels: HashMap<String, BTreeMap<String, String>>,
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
                report.rows = run_suite(&suite, strict);
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
    p.kind == PolicyKind::ClusterPolicy && p.rules.iter().all(|r| r.non_cel_validate)
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
    if !legacy && (kind != "Test" || !api.starts_with("cli.kyverno.io/")) {
        return Err(Problem::new(
            display,
            Some(root.span.start),
            format!("not a Kyverno Test (apiVersion `{api}`, kind `{kind}`)"),
        ));
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut problems = Vec::new();

    let mut policies = Vec::new();
    let mut seen_policy_files = Vec::new();
    for p in f.strings("policies") {
        let node_pos = f.get("policies").map(|n| n.span.start);
        for file in files.resolve(dir, &p, display, node_pos)? {
            if seen_policy_files.contains(&file) {
                continue;
            }
            let parsed = files.read_yaml(&file)?;
            problems.extend(parsed.problems.iter().cloned());
            for doc in &parsed.documents {
                if !kyverno::is_policy(&doc.root) {
                    continue;
                }
                match Policy::from_node(&doc.root) {
                    Ok(policy) => policies.push(policy),
                    Err(e) => problems.push(Problem::new(
                        files.display(&file),
                        e.pos,
                        format!("invalid policy: {}", e.message),
                    )),
                }
            }
            seen_policy_files.push(file);
        }
    }

    let mut resources: Vec<Value> = Vec::new();
    let mut seen: Vec<(String, String, String, String)> = Vec::new();
    for r in f.strings("resources") {
        let node_pos = f.get("resources").map(|n| n.span.start);
        for file in files.resolve(dir, &r, display, node_pos)? {
            let parsed = files.read_yaml(&file)?;
            problems.extend(parsed.problems.iter().cloned());
            for doc in &parsed.documents {
                let json = doc.root.to_json();
                if json.get("kind").and_then(Value::as_str).is_none() {
                    continue;
                }
                let id = identity(&json);
                if !seen.contains(&id) {
                    seen.push(id);
                    resources.push(json);
                }
            }
        }
    }

    let values = match f.string("variables") {
        Some(v) => {
            let pos = f.get("variables").map(|n| n.span.start);
            let file = files.resolve_file(dir, &v, display, pos)?;
            read_values(&file, files)?
        }
        None => Values::default(),
    };
    let user = match f.string("userinfo") {
        Some(u) => {
            let pos = f.get("userinfo").map(|n| n.span.start);
            let file = files.resolve_file(dir, &u, display, pos)?;
            Some(read_user_info(&file, files)?)
        }
        None => None,
    };

    let mut results = Vec::new();
    if let Some(list) = f.get("results") {
        let items = list.as_seq().ok_or_else(|| {
            Problem::new(display, Some(list.span.start), "results must be a list")
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
                policy: r.string("policy").unwrap_or_default(),
                rule: r.string("rule").unwrap_or_default(),
                resources,
                kind: r.string("kind").unwrap_or_default(),
                result,
                operation: r.string("operation"),
                cel_kind,
                patched: r.get("patchedResources").or_else(|| r.get("patchedResource")).is_some(),
                generated: r
                    .get("generatedResource")
                    .or_else(|| r.get("generatedResources"))
                    .is_some(),
            });
        }
    }
    Ok((Suite { policies, resources, values, user, results }, problems))
}

fn identity(r: &Value) -> (String, String, String, String) {
    let s = |p: &str| r.pointer(p).and_then(Value::as_str).unwrap_or("").to_string();
    (s("/apiVersion"), s("/kind"), s("/metadata/namespace"), s("/metadata/name"))
}

fn read_values(path: &Path, files: &Files<'_>) -> Result<Values, Problem> {
    let parsed = files.read_yaml(path)?;
    let mut values = Values::default();
    let Some(doc) = parsed.documents.first() else { return Ok(values) };
    let json = doc.root.to_json();
    if let Some(op) = json.pointer("/globalValues/request.operation").and_then(Value::as_str) {
        values.global_operation = Some(op.to_string());
    }
    for p in json.get("policies").and_then(Value::as_array).into_iter().flatten() {
        let policy = p.get("name").and_then(Value::as_str).unwrap_or("");
        for r in p.get("resources").and_then(Value::as_array).into_iter().flatten() {
            let name = r.get("name").and_then(Value::as_str).unwrap_or("");
            if let Some(op) = r.pointer("/values/request.operation").and_then(Value::as_str) {
                values
                    .resource_operation
                    .insert((policy.to_string(), name.to_string()), op.to_string());
            }
        }
    }
    let label_map = |v: Option<&Value>| -> BTreeMap<String, String> {
        v.and_then(Value::as_object)
            .map(|m| {
                m.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string()))).collect()
            })
            .unwrap_or_default()
    };
    for ns in json.get("namespaceSelector").and_then(Value::as_array).into_iter().flatten() {
        let name = ns.get("name").and_then(Value::as_str).unwrap_or("").to_string();
        values.namespace_labels.insert(name, label_map(ns.get("labels")));
    }
    for ns in json.get("namespaces").and_then(Value::as_array).into_iter().flatten() {
        let name = ns.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("").to_string();
        values.namespace_labels.insert(name, label_map(ns.pointer("/metadata/labels")));
    }
    Ok(values)
}

fn read_user_info(path: &Path, files: &Files<'_>) -> Result<UserInfo, Problem> {
    let parsed = files.read_yaml(path)?;
    let json = parsed.documents.first().map(|d| d.root.to_json()).unwrap_or(Value::Null);
    let list = |p: &str| -> Vec<String> {
        json.pointer(p)
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(|v| v.as_str().map(String::from)).collect())
            .unwrap_or_default()
    };
    Ok(UserInfo {
        username: json
            .pointer("/userInfo/username")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        groups: list("/userInfo/groups"),
        roles: list("/roles"),
        cluster_roles: list("/clusterRoles"),
    })
}

fn run_suite(suite: &Suite, strict: bool) -> Vec<Row> {
    // Responses per (operation, resource index, policy index), computed on demand.
    let mut cache: HashMap<(String, usize, usize), Vec<RuleResponse>> = HashMap::new();
    let mut rows = Vec::new();
    for expected in &suite.results {
        let policy_name = expected.policy.rsplit('/').next().unwrap_or("");
        let mut selected: Vec<usize> = Vec::new();
        for wanted in &expected.resources {
            let (ns, name) = match wanted.split_once('/') {
                Some((ns, name)) => (Some(ns), name),
                None => (None, wanted.as_str()),
            };
            for (i, r) in suite.resources.iter().enumerate() {
                let (_, _, rns, rname) = identity(r);
                if rname == name && ns.is_none_or(|ns| ns == rns) && !selected.contains(&i) {
                    selected.push(i);
                }
            }
        }
        if selected.is_empty() {
            selected = (0..suite.resources.len()).collect();
        }
        for &ri in &selected {
            let resource = &suite.resources[ri];
            let (_, kind, namespace, name) = identity(resource);
            let shown = expected
                .resources
                .iter()
                .find(|w| {
                    w.as_str() == name
                        || w.split_once('/').is_some_and(|(n, m)| n == namespace && m == name)
                })
                .cloned()
                .unwrap_or_else(|| name.clone());
            let row = |actual: &str,
                       verdict: Verdict,
                       reason: String,
                       message: String,
                       rule: &str| Row {
                policy: expected.policy.clone(),
                rule: rule.to_string(),
                resource: shown.clone(),
                kind: if expected.kind.is_empty() { kind.clone() } else { expected.kind.clone() },
                namespace: namespace.clone(),
                expected: expected.result.clone(),
                actual: actual.to_string(),
                verdict,
                reason,
                message,
            };
            let Some(pi) = suite.policies.iter().position(|p| p.name == policy_name) else {
                rows.push(row(
                    "not-found",
                    Verdict::Fail,
                    "Not found".into(),
                    format!("policy `{policy_name}` is not loaded"),
                    &expected.rule,
                ));
                continue;
            };
            let policy = &suite.policies[pi];
            let operation = expected
                .operation
                .clone()
                .or_else(|| {
                    suite
                        .values
                        .resource_operation
                        .get(&(policy.name.clone(), name.clone()))
                        .cloned()
                })
                .or_else(|| suite.values.global_operation.clone())
                .unwrap_or_else(|| "CREATE".into());
            let responses = cache.entry((operation.clone(), ri, pi)).or_insert_with(|| {
                let request = Request {
                    operation: &operation,
                    namespace: None,
                    namespace_labels: suite
                        .values
                        .namespace_labels
                        .get(&namespace)
                        .cloned()
                        .unwrap_or_default(),
                    user: suite.user.as_ref(),
                };
                policy.evaluate(resource, &request)
            });
            let cel = expected.cel_kind || matches!(policy.kind, PolicyKind::Cel(_));
            let checked: Vec<&RuleResponse> = responses
                .iter()
                .filter(|r| {
                    cel || expected.rule.is_empty()
                        || r.rule == expected.rule
                        || r.rule == format!("autogen-{}", expected.rule)
                        || r.rule == format!("autogen-cronjob-{}", expected.rule)
                })
                .collect();
            if checked.is_empty() {
                let known = policy.rules.iter().any(|r| r.name == expected.rule)
                    || expected.rule.is_empty();
                let (verdict, reason) = if strict && !known {
                    (
                        Verdict::Fail,
                        format!("policy `{}` has no rule `{}`", policy.name, expected.rule),
                    )
                } else if strict && expected.result != "skip" {
                    (Verdict::Fail, "Excluded (strict: expected a result)".into())
                } else {
                    (Verdict::Pass, "Excluded".into())
                };
                rows.push(row("excluded", verdict, reason, String::new(), &expected.rule));
                continue;
            }
            for response in checked {
                let actual = response.status.as_str();
                let rule = if response.rule.is_empty() {
                    expected.rule.as_str()
                } else {
                    response.rule.as_str()
                };
                let mut message = response.message.clone();
                if expected.patched || expected.generated {
                    message = format!(
                        "comparing patched or generated resources is not supported yet; {message}"
                    );
                }
                let (verdict, reason) =
                    if actual == expected.result && !expected.patched && !expected.generated {
                        (Verdict::Pass, "Ok".to_string())
                    } else if expected.patched || expected.generated {
                        (Verdict::Fail, "Resource comparison not supported".to_string())
                    } else {
                        (Verdict::Fail, format!("Want {}, got {actual}", expected.result))
                    };
                rows.push(row(actual, verdict, reason, message, rule));
            }
        }
    }
    rows
}
