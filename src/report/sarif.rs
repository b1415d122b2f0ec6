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
/// The largest upload, gzipped.
const MAX_UPLOAD: usize = 10 * 1000 * 1000;

/// The region of a span: a span on one line as it is; a span over several lines as its first
/// line from its start column (code scanning shows an alert on its region's lines, and a diff
/// shows the line of the key), the whole range being a related location.
fn regions(f: &Finding) -> (Value, Option<Value>) {
    let start = f.span.start();
    let end = if f.span.end() >= f.span.start() { f.span.end() } else { f.span.start() };
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
                        "region": {"startLine": l.span.start().line.max(1), "startColumn": l.span.start().col + 1},
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

/// The findings written as results: all of them when they fit `limit`; else the unsuppressed
/// ones by severity (errors first), then the suppressed ones, up to the limit — in report
/// order — and how many were left out.
fn selected(outcome: &Outcome, limit: usize) -> (Vec<&Finding>, usize) {
    let all: Vec<&Finding> = outcome.findings.iter().chain(&outcome.suppressed).collect();
    if all.len() <= limit {
        return (all, 0);
    }
    let mut order: Vec<usize> = (0..all.len()).collect();
    order.sort_by_key(|&i| (all[i].suppressed.is_some(), std::cmp::Reverse(all[i].severity), i));
    let mut keep = order[..limit].to_vec();
    keep.sort_unstable();
    let left_out = all.len() - limit;
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

/// Writes the SARIF log within GitHub's limits: at most [`MAX_RESULTS`] results and, when the
/// log is larger than [`MAX_UPLOAD`] gzipped, fewer (the most severe kept) until it fits.
pub(super) fn write(
    outcome: &Outcome,
    links: &super::Links,
    out: &mut dyn Write,
) -> io::Result<()> {
    let mut limit = MAX_RESULTS;
    loop {
        let log = render(outcome, links, limit)?;
        let results = (outcome.findings.len() + outcome.suppressed.len()).min(limit);
        // gzip never makes a log much larger than it is: only a large one is measured.
        let gzipped = if log.len() <= MAX_UPLOAD { log.len() } else { gzipped_len(&log)? };
        if gzipped <= MAX_UPLOAD || results == 0 {
            return out.write_all(&log);
        }
        // Results make up nearly all of a large log: keep the share that fits, with a margin.
        limit = (results as u128 * MAX_UPLOAD as u128 * 9 / 10 / gzipped as u128) as usize;
    }
}

/// The size of `bytes` gzipped (at the fast level, which compresses less than the upload
/// action does: a log that fits here fits there).
fn gzipped_len(bytes: &[u8]) -> io::Result<usize> {
    struct Count(usize);
    impl Write for Count {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let mut gz = flate2::write::GzEncoder::new(Count(0), flate2::Compression::fast());
    gz.write_all(bytes)?;
    Ok(gz.finish()?.0)
}

/// The SARIF log with at most `limit` results.
fn render(outcome: &Outcome, links: &super::Links, limit: usize) -> io::Result<Vec<u8>> {
    let (findings, left_out) = selected(outcome, limit);
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
             scanning accepts {MAX_RESULTS} results and {MAX_RULES} rules per run and 10 MB \
             gzipped per upload (the most severe unsuppressed findings were kept; every \
             finding is in the JSON report, and --shard K/N splits a run)",
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
    let mut out = Vec::new();
    super::sanitize::write_json(&doc, &mut out)?;
    out.push(b'\n');
    Ok(out)
}

#[cfg(test)]
mod tests {

    use super::super::testing::finding;
    use super::*;

    #[test]
    fn a_run_keeps_githubs_limit_of_results_the_most_severe_first() {
        // 30,000 warnings, then 100 errors and 10 suppressed errors at the end.
        let mut findings: Vec<Finding> =
            (0..30_000).map(|i| finding(Severity::Warning, i + 1, i + 1)).collect();
        findings.extend((0..100).map(|i| finding(Severity::Error, 40_000 + i, 40_000 + i)));
        let suppressed = (0..10)
            .map(|_| Finding { suppressed: Some("ok".into()), ..finding(Severity::Error, 1, 1) })
            .collect();
        let outcome = Outcome { findings, suppressed, ..Outcome::default() };
        let (kept, left_out) = selected(&outcome, MAX_RESULTS);
        assert_eq!((kept.len(), left_out), (MAX_RESULTS, 30_110 - MAX_RESULTS));
        assert_eq!(results_left_out(&outcome), left_out);
        assert_eq!(kept.iter().filter(|f| f.severity == Severity::Error).count(), 100);
        assert!(kept.iter().all(|f| f.suppressed.is_none()), "suppressed ones go first");
        // In report order: the errors, last in the report, are last.
        assert_eq!(kept.last().unwrap().span.start().line, 40_099);

        let mut out = Vec::new();
        write(&outcome, &super::super::Links::default(), &mut out).unwrap();
        let doc: Value = serde_json::from_slice(&out).unwrap();
        let run = &doc["runs"][0];
        assert_eq!(run["results"].as_array().unwrap().len(), MAX_RESULTS);
        let notes = run["invocations"][0]["toolExecutionNotifications"].as_array().unwrap();
        let text = notes[0]["message"]["text"].as_str().unwrap();
        assert!(text.starts_with("5110 of 30110 results and 0 of 0 rules left out"), "{text}");
        assert_eq!(run["automationDetails"]["id"], "mtk-lint/");
    }

    #[test]
    fn a_log_larger_than_githubs_upload_limit_keeps_the_most_severe_results_that_fit() {
        // 3,000 findings with 10 KB of incompressible text each: about 16 MB gzipped.
        let mut seed = [0u8; 32];
        let findings: Vec<Finding> = (0..3000u32)
            .map(|i| {
                let mut message = String::with_capacity(10_240);
                while message.len() < 10_000 {
                    seed = Sha256::digest(seed).into();
                    for b in seed {
                        use std::fmt::Write as _;
                        let _ = write!(message, "{b:02x}");
                    }
                }
                let severity = if i % 10 == 0 { Severity::Error } else { Severity::Warning };
                Finding { message, ..finding(severity, i + 1, i + 1) }
            })
            .collect();
        let outcome = Outcome { findings, ..Outcome::default() };
        let mut out = Vec::new();
        write(&outcome, &super::super::Links::default(), &mut out).unwrap();
        assert!(out.len() > MAX_UPLOAD, "the test's log is large");
        let gz = gzipped_len(&out).unwrap();
        assert!(gz <= MAX_UPLOAD, "{gz} bytes gzipped");
        let doc: Value = serde_json::from_slice(&out).unwrap();
        let results = doc["runs"][0]["results"].as_array().unwrap();
        assert!(results.len() < 3000 && results.len() > 1000, "{}", results.len());
        let errors = results.iter().filter(|r| r["level"] == "error").count();
        assert_eq!(errors, 300, "every error kept");
        let notes =
            doc["runs"][0]["invocations"][0]["toolExecutionNotifications"].as_array().unwrap();
        let text = notes[0]["message"]["text"].as_str().unwrap();
        assert!(text.starts_with(&format!("{} of 3000 results", 3000 - results.len())), "{text}");
        assert!(text.contains("10 MB gzipped per upload"), "{text}");
    }

    #[test]
    fn a_span_over_several_lines_is_its_first_line_and_the_whole_range_is_related() {
        let (region, full) = regions(&finding(Severity::Error, 3, 3));
        assert_eq!(
            region,
            json!({"startLine": 3, "startColumn": 5, "endLine": 3, "endColumn": 10})
        );
        assert!(full.is_none());
        let f = finding(Severity::Error, 3, 8);
        let (region, full) = regions(&f);
        assert_eq!(region, json!({"startLine": 3, "startColumn": 5}));
        assert_eq!(
            full,
            Some(json!({"startLine": 3, "startColumn": 5, "endLine": 8, "endColumn": 10}))
        );
        let r = result(&f, None);
        assert_eq!(r["relatedLocations"][0]["message"]["text"], "the whole field");
        assert_eq!(r["relatedLocations"][0]["physicalLocation"]["region"]["endLine"], 8);
    }

    #[test]
    fn every_rule_is_a_security_rule_with_its_category() {
        assert_eq!(tags("MTK-NET-002"), ["security", "multi-tenancy", "network-isolation"]);
        assert_eq!(
            tags("require-labels/check-for-labels"),
            ["security", "multi-tenancy", "kyverno-policy"]
        );
        assert_eq!(security_severity(Severity::Error), "8.0");
    }
}
