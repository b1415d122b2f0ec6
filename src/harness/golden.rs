//! Golden tests: `mtk-lint-test.yaml` pins the findings of a tree.
//!
//! ```yaml
//! apiVersion: mtk-lint.dev/v1alpha1
//! kind: LintTest
//! metadata: {name: fleet-golden}
//! paths: [fleet]
//! config: fleet/.mtk-lint.yaml
//! select: [MTK-SEC-001]     # optional: only these built-in rules
//! expect:
//! - {rule: MTK-SEC-001, file: fleet/tenants/a/web.yaml, line: 31, resource: Deployment/a/web}
//! ```
//!
//! Every expected finding is a row that passes when the finding is reported; every finding not
//! expected is a failed row. `--update` rewrites `expect` and keeps the rest of the file.

use std::collections::BTreeSet;
use std::path::Path;

use serde::Deserialize;

use super::{Files, Row, SuiteReport, TestOptions, Verdict};
use crate::error::Problem;
use crate::load::{de, Input, Node};
use crate::CheckOptions;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct LintTest {
    api_version: String,
    kind: String,
    #[serde(default)]
    metadata: Metadata,
    paths: Vec<String>,
    config: Option<String>,
    #[serde(default)]
    policies: Vec<String>,
    /// Run only these built-in rules (codes or names); a rule's own tests select it alone.
    #[serde(default)]
    select: Vec<String>,
    #[serde(default)]
    expect: Vec<ExpectedFinding>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Metadata {
    #[serde(default)]
    name: String,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(deny_unknown_fields)]
struct ExpectedFinding {
    rule: String,
    file: String,
    line: Option<u32>,
    resource: String,
}

/// A finding in the form golden tests compare.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Key {
    rule: String,
    file: String,
    line: Option<u32>,
    resource: String,
}

pub(super) fn run_file(path: &Path, files: &Files<'_>, options: &TestOptions) -> Vec<SuiteReport> {
    let display = files.display(path);
    let parsed = match files.read_yaml(path) {
        Ok(p) => p,
        Err(problem) => return vec![SuiteReport::broken(display, String::new(), problem)],
    };
    if let Some(p) = parsed.problems.first() {
        return vec![SuiteReport::broken(display, String::new(), p.clone())];
    }
    let mut reports = Vec::new();
    let mut updates: Vec<(usize, usize, String)> = Vec::new();
    for doc in &parsed.documents {
        let mut report = SuiteReport::new(display.clone(), String::new());
        match run_doc(&doc.root, path, &display, files, options) {
            Ok((name, rows, actual, problems)) => {
                report.name = name;
                report.rows = rows;
                report.problems = problems;
                if options.update {
                    if let Some(update) = expect_block(&doc.root, path, &actual) {
                        updates.push(update);
                    }
                }
            }
            Err(problem) => report.problems.push(problem),
        }
        reports.push(report);
    }
    if options.update && !updates.is_empty() {
        if let Err(e) = write_updates(path, updates) {
            reports[0].problems.push(Problem::new(display, None, format!("cannot update: {e}")));
        }
    }
    reports
}

type DocOutcome = (String, Vec<Row>, Vec<Key>, Vec<Problem>);

fn run_doc(
    root: &Node,
    path: &Path,
    display: &str,
    files: &Files<'_>,
    options: &TestOptions,
) -> Result<DocOutcome, Problem> {
    let test: LintTest = de::from_node(root)
        .map_err(|e| Problem::new(display, e.pos, format!("LintTest: {}", e.message)))?;
    if test.kind != "LintTest" || !test.api_version.starts_with("mtk-lint.dev/") {
        return Err(Problem::new(
            display,
            Some(root.span.start()),
            "expected apiVersion mtk-lint.dev/v1alpha1, kind LintTest",
        ));
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    let at = |key: &str| root.get(key).map(|n| n.span.start());
    let mut inputs = Vec::new();
    for p in &test.paths {
        let resolved = files.resolve_file(dir, p, display, at("paths"))?;
        inputs.push(Input::Path(resolved));
    }
    let config = match &test.config {
        Some(c) => Some(files.resolve_file(dir, c, display, at("config"))?),
        None => None,
    };
    if !test.policies.is_empty() {
        return Err(Problem::new(
            display,
            at("policies"),
            "`policies` in a LintTest needs Kyverno policy linting, which is not supported yet",
        ));
    }
    let check = CheckOptions {
        inputs,
        config,
        limits: options.limits,
        select: test.select.clone(),
        ..CheckOptions::default()
    };
    let outcome = crate::check(&check, dir);
    let problems = outcome.problems.clone();

    let keep_line = |l: Option<u32>| if options.ignore_lines { None } else { l };
    let actual: Vec<Key> = outcome
        .findings
        .iter()
        .map(|f| Key {
            rule: f.rule.to_string(),
            file: f.source.display.clone(),
            line: Some(f.span.start().line),
            resource: f.resource.to_string(),
        })
        .collect();
    let actual_cmp: BTreeSet<Key> =
        actual.iter().cloned().map(|k| Key { line: keep_line(k.line), ..k }).collect();
    let expected: BTreeSet<Key> = test
        .expect
        .iter()
        .map(|e| Key {
            rule: e.rule.clone(),
            file: e.file.clone(),
            line: keep_line(e.line),
            resource: e.resource.clone(),
        })
        .collect();

    let row = |k: &Key, expected: &str, actual: &str, verdict, reason: &str| Row {
        policy: String::new(),
        rule: k.rule.clone(),
        resource: k.resource.clone(),
        kind: "LintTest".into(),
        namespace: String::new(),
        expected: expected.into(),
        actual: actual.into(),
        verdict,
        reason: reason.into(),
        message: match k.line {
            Some(l) => format!("{}:{l}", k.file),
            None => k.file.clone(),
        },
    };
    let mut rows = Vec::new();
    for k in &expected {
        if actual_cmp.contains(k) {
            rows.push(row(k, "fail", "fail", Verdict::Pass, "Ok"));
        } else {
            rows.push(row(k, "fail", "pass", Verdict::Fail, "Missing finding"));
        }
    }
    for k in actual_cmp.difference(&expected) {
        rows.push(row(k, "pass", "fail", Verdict::Fail, "Unexpected finding"));
    }
    if rows.is_empty() {
        let none =
            Key { rule: "*".into(), file: test.paths.join(", "), line: None, resource: "*".into() };
        rows.push(row(&none, "pass", "pass", Verdict::Pass, "Ok (no findings)"));
    }
    Ok((test.metadata.name, rows, actual, problems))
}

/// Text that replaces a document's `expect:` block: (first line, last line, text), 1-based.
fn expect_block(root: &Node, path: &Path, actual: &[Key]) -> Option<(usize, usize, String)> {
    use std::fmt::Write as _;
    let text = std::fs::read_to_string(path).ok()?;
    let lines: Vec<&str> = text.lines().collect();
    let mut block = String::from(if actual.is_empty() { "expect: []\n" } else { "expect:\n" });
    for k in actual {
        let q = |s: &str| serde_json::to_string(s).unwrap_or_default();
        let line = k.line.map_or(String::new(), |l| format!(", line: {l}"));
        let _ = writeln!(
            block,
            "- {{rule: {}, file: {}{line}, resource: {}}}",
            q(&k.rule),
            q(&k.file),
            q(&k.resource)
        );
    }
    let Some(entry) = root.entry("expect") else {
        // No `expect:` yet: append one after the document.
        let end = root.span.end().line as usize;
        let last = if root.span.end().col == 0 { end.saturating_sub(1) } else { end };
        return Some((last + 1, last, block));
    };
    let first = entry.key_span.start().line as usize;
    let mut last = first;
    for (i, l) in lines.iter().enumerate().skip(first) {
        let continues =
            l.is_empty() || l.starts_with([' ', '\t', '-', '#']) && !l.starts_with("---");
        if !continues {
            break;
        }
        last = i + 1;
    }
    // Trailing blank and comment lines stay with what follows.
    while last > first
        && lines
            .get(last - 1)
            .is_some_and(|l| l.trim().is_empty() || l.trim_start().starts_with('#'))
    {
        last -= 1;
    }
    Some((first, last, block))
}

fn write_updates(path: &Path, mut updates: Vec<(usize, usize, String)>) -> std::io::Result<()> {
    let text = std::fs::read_to_string(path)?;
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    updates.sort_by_key(|u| std::cmp::Reverse(u.0));
    for (first, last, block) in updates {
        let new: Vec<String> = block.lines().map(String::from).collect();
        let start = (first - 1).min(lines.len());
        let end = last.min(lines.len()).max(start);
        lines.splice(start..end, new);
    }
    let mut out = lines.join("\n");
    out.push('\n');
    std::fs::write(path, out)
}
