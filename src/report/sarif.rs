//! `--format sarif`: SARIF 2.1.0 for code scanning (validated against the OASIS schema in tests).

use std::collections::HashMap;
use std::io::{self, Write};

use serde::Serialize;

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::finding::{Finding, Severity};
use crate::Outcome;

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "note",
    }
}

/// A fingerprint that survives line shifts: rule, file, object and field, not the line.
fn fingerprint(f: &Finding) -> String {
    let mut h = Sha256::new();
    for part in [&*f.rule, &f.source.display, &f.resource.to_string(), &f.path] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    h.finalize().iter().take(16).fold(String::new(), |mut acc, b| {
        use std::fmt::Write as _;
        let _ = write!(acc, "{b:02x}");
        acc
    })
}

/// `uri` and `uriBaseId` for a display path: relative ones are relative to SRCROOT.
fn artifact(display: &str) -> Value {
    if display.starts_with('/') {
        json!({"uri": format!("file://{}", super::uri_path(display))})
    } else if display == "<stdin>" {
        json!({"uri": "stdin"})
    } else {
        json!({"uri": super::uri_path(display), "uriBaseId": "SRCROOT"})
    }
}

/// GitHub's limits for one SARIF run (docs: "SARIF support for code scanning", upload limits).
const MAX_RESULTS: usize = 25_000;
const MAX_RULES: usize = 25_000;
/// Locations per result GitHub keeps (it reads at most 1,000 and shows 100).
const MAX_RELATED: usize = 100;
/// Tags per rule GitHub reads (10 of them shown).
const MAX_TAGS: usize = 10;

/// The region of a span: a span on one line as it is; a span over several lines as its first
/// line from its start column (code scanning shows an alert on its region's lines, and a diff
/// shows the line of the key), the whole range being a related location.
fn regions(f: &Finding) -> (Value, Option<Value>) {
    let start = f.span.start;
    let end = if f.span.end >= f.span.start { f.span.end } else { f.span.start };
    let line = start.line.max(1);
    if end.line <= start.line {
        let end_col = (end.col + 1).max(start.col + 2);
        let region = json!({"startLine": line, "startColumn": start.col + 1, "endLine": line, "endColumn": end_col});
        return (region, None);
    }
    let region = json!({"startLine": line, "startColumn": start.col + 1});
    let full = json!({
        "startLine": line,
        "startColumn": start.col + 1,
        "endLine": end.line,
        "endColumn": end.col + 1,
    });
    (region, Some(full))
}

fn result(f: &Finding, rule_index: Option<usize>) -> Value {
    let (region, full) = regions(f);
    let mut r = json!({
        "ruleId": f.rule,
        "level": level(f.severity),
        "message": {"text": f.message},
        "locations": [{
            "physicalLocation": {"artifactLocation": artifact(&f.source.display), "region": region},
            "logicalLocations": [{"fullyQualifiedName": f.resource.to_string(), "kind": "resource"}],
        }],
        "partialFingerprints": {"mtkLintFinding/v1": fingerprint(f)},
        "properties": {"document": f.document, "path": f.path},
    });
    if let Some(i) = rule_index {
        r["ruleIndex"] = json!(i);
    }
    if let Some(reason) = &f.suppressed {
        r["suppressions"] = json!([{"kind": "external", "justification": reason}]);
    }
    let mut related = Vec::new();
    if let Some(full) = full {
        related.push(json!({
            "id": 0,
            "physicalLocation": {"artifactLocation": artifact(&f.source.display), "region": full},
            "message": {"text": "the whole field"},
        }));
    }
    if !f.units.is_empty() {
        // The way from each build unit to the object: its cluster entry and kustomization
        // entries, as related locations (numbered across units), and the units by name.
        for trace in f.units.iter() {
            for (step, l) in trace.via.iter().enumerate() {
                let what = format!("{}, step {} of {}", trace.unit, step + 1, trace.via.len());
                related.push(json!({
                    "id": related.len(),
                    "physicalLocation": {
                        "artifactLocation": artifact(&l.source.display),
                        "region": {"startLine": l.span.start.line.max(1), "startColumn": l.span.start.col + 1},
                    },
                    "message": {"text": what},
                }));
            }
        }
        r["properties"]["units"] = json!(f.units.iter().map(|t| &*t.unit).collect::<Vec<_>>());
    }
    if related.len() > MAX_RELATED {
        r["properties"]["relatedLocationsLeftOut"] = json!(related.len() - MAX_RELATED);
        related.truncate(MAX_RELATED);
    }
    if !related.is_empty() {
        r["relatedLocations"] = json!(related);
    }
    r
}

/// `security-severity` (a CVSS-like score code scanning turns into critical/high/medium/low)
/// of a severity: errors high, warnings medium, info low.
fn security_severity(s: Severity) -> &'static str {
    match s {
        Severity::Error => "8.0",
        Severity::Warning => "5.0",
        Severity::Info => "2.0",
    }
}

/// The tags of a rule: `security` (so code scanning lists it as a security alert),
/// `multi-tenancy` and the rule's category (`MTK-NET-002` is `network`; a Kyverno policy's
/// rule is `kyverno-policy`).
fn tags(id: &str) -> Vec<&'static str> {
    let category = match id.split('-').nth(1) {
        _ if !id.starts_with("MTK-") => "kyverno-policy",
        Some("SEC") => "pod-security",
        Some("NET") => "network-isolation",
        Some("ISO") => "tenant-isolation",
        Some("SCHED") => "scheduling",
        Some("FLUX") => "flux",
        Some("ARGO") => "argo-cd",
        Some("GEN") => "hygiene",
        _ => "mtk-lint",
    };
    let mut tags = vec!["security", "multi-tenancy", category];
    tags.truncate(MAX_TAGS);
    tags
}

/// The findings written as results: all of them when they fit GitHub's limit; else the
/// unsuppressed ones by severity (errors first), then the suppressed ones, up to the limit —
/// in report order — and how many were left out.
fn selected(outcome: &Outcome) -> (Vec<&Finding>, usize) {
    let all: Vec<&Finding> = outcome.findings.iter().chain(&outcome.suppressed).collect();
    if all.len() <= MAX_RESULTS {
        return (all, 0);
    }
    let mut order: Vec<usize> = (0..all.len()).collect();
    order.sort_by_key(|&i| (all[i].suppressed.is_some(), std::cmp::Reverse(all[i].severity), i));
    let mut keep = order[..MAX_RESULTS].to_vec();
    keep.sort_unstable();
    let left_out = all.len() - MAX_RESULTS;
    (keep.into_iter().map(|i| all[i]).collect(), left_out)
}

/// How many results a SARIF report of this outcome leaves out (GitHub's per-run limit).
#[must_use]
pub(super) fn results_left_out(outcome: &Outcome) -> usize {
    (outcome.findings.len() + outcome.suppressed.len()).saturating_sub(MAX_RESULTS)
}

/// The SARIF log. Fields are in the order of their names, as in the maps of `json!` values.
#[derive(Serialize)]
struct Doc<'a> {
    #[serde(rename = "$schema")]
    schema: &'static str,
    runs: [Run<'a>; 1],
    version: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Run<'a> {
    automation_details: Value,
    column_kind: &'static str,
    invocations: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    original_uri_base_ids: Option<Value>,
    results: Results<'a>,
    tool: Value,
}

/// The results, each built as it is written (one at a time, not all of them first).
struct Results<'a> {
    findings: Vec<&'a Finding>,
    /// Index in `tool.driver.rules` by rule id.
    index: HashMap<&'a str, usize>,
}

impl Serialize for Results<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer
            .collect_seq(self.findings.iter().map(|f| result(f, self.index.get(&*f.rule).copied())))
    }
}

pub(super) fn write(
    outcome: &Outcome,
    links: &super::Links,
    out: &mut dyn Write,
) -> io::Result<()> {
    let (findings, left_out) = selected(outcome);
    // Rules no kept result names are left out first when there are too many.
    let mut infos: Vec<&crate::finding::RuleInfo> = outcome.rules.iter().collect();
    let mut rules_left_out = 0;
    if infos.len() > MAX_RULES {
        let used: std::collections::HashSet<&str> = findings.iter().map(|f| &*f.rule).collect();
        infos.sort_by_key(|r| !used.contains(r.id.as_str()));
        rules_left_out = infos.len() - MAX_RULES;
        infos.truncate(MAX_RULES);
    }
    let rules: Vec<Value> = infos
        .iter()
        .map(|r| {
            let mut v = json!({
                "id": r.id,
                "name": r.name,
                "shortDescription": {"text": r.short},
                "fullDescription": {"text": r.full},
                "defaultConfiguration": {"level": level(r.severity)},
                "help": {"text": format!("{}\n\n{}", r.short, r.full)},
                "properties": {
                    "security-severity": security_severity(r.severity),
                    "tags": tags(&r.id),
                    "precision": "high",
                    "problem.severity": match r.severity {
                        Severity::Error => "error",
                        Severity::Warning => "warning",
                        Severity::Info => "recommendation",
                    },
                },
            });
            if let Some(md) = &r.help_markdown {
                v["help"]["markdown"] = json!(md);
            }
            if let Some(uri) = &r.help_uri {
                v["helpUri"] = json!(uri);
            }
            v
        })
        .collect();
    let notifications: Vec<Value> = outcome
        .problems
        .iter()
        .map(|p| {
            let mut n = json!({"level": "error", "message": {"text": p.message}});
            if !p.file.is_empty() {
                let mut loc = json!({"physicalLocation": {"artifactLocation": artifact(&p.file)}});
                if let Some(line) = p.line {
                    loc["physicalLocation"]["region"] = json!({"startLine": line.max(1), "startColumn": p.column.unwrap_or(1).max(1)});
                }
                n["locations"] = json!([loc]);
            }
            n
        })
        .collect();
    let mut notifications = notifications;
    if left_out > 0 || rules_left_out > 0 {
        let text = format!(
            "{left_out} of {} results and {rules_left_out} of {} rules left out: GitHub code \
             scanning accepts {MAX_RESULTS} results and {MAX_RULES} rules per run (the most \
             severe unsuppressed findings were kept; every finding is in the JSON report, and \
             --shard K/N splits a run)",
            outcome.findings.len() + outcome.suppressed.len(),
            outcome.rules.len()
        );
        notifications.push(json!({"level": "warning", "message": {"text": text}}));
    }
    let mut index = HashMap::new();
    for (i, r) in infos.iter().enumerate() {
        index.entry(r.id.as_str()).or_insert(i);
    }
    let category = links.sarif_category.as_deref().unwrap_or("mtk-lint");
    let run = Run {
        automation_details: json!({"id": format!("{category}/")}),
        column_kind: "unicodeCodePoints",
        invocations: json!([{
            "executionSuccessful": outcome.problems.is_empty(),
            "toolExecutionNotifications": notifications,
        }]),
        original_uri_base_ids: links
            .root_uri
            .as_deref()
            .map(|uri| json!({"SRCROOT": {"uri": uri}})),
        results: Results { findings, index },
        tool: json!({"driver": {
            "name": "mtk-lint",
            "version": env!("CARGO_PKG_VERSION"),
            "semanticVersion": env!("CARGO_PKG_VERSION"),
            "informationUri": env!("CARGO_PKG_REPOSITORY"),
            "rules": rules,
        }}),
    };
    let doc = Doc {
        schema: "https://json.schemastore.org/sarif-2.1.0.json",
        runs: [run],
        version: "2.1.0",
    };
    super::sanitize::write_json(&doc, out)?;
    writeln!(out)
}
