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

fn result(f: &Finding, rule_index: Option<usize>) -> Value {
    let start = f.span.start;
    let end = if f.span.end >= f.span.start { f.span.end } else { f.span.start };
    let mut region = json!({
        "startLine": start.line.max(1),
        "startColumn": start.col + 1,
        "endLine": end.line.max(start.line.max(1)),
        "endColumn": (end.col + 1).max(if end.line == start.line { start.col + 2 } else { 1 }),
    });
    if end.line < start.line {
        region["endLine"] = json!(start.line.max(1));
    }
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
    if !f.units.is_empty() {
        // The way from each build unit to the object: its cluster entry and kustomization
        // entries, as related locations (numbered across units), and the units by name.
        let mut related = Vec::new();
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
        if !related.is_empty() {
            r["relatedLocations"] = json!(related);
        }
        r["properties"]["units"] = json!(f.units.iter().map(|t| &*t.unit).collect::<Vec<_>>());
    }
    r
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
    column_kind: &'static str,
    invocations: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    original_uri_base_ids: Option<Value>,
    results: Results<'a>,
    tool: Value,
}

/// The results, each built as it is written (one at a time, not all of them first).
struct Results<'a> {
    outcome: &'a Outcome,
    /// Index in `tool.driver.rules` by rule id.
    index: HashMap<&'a str, usize>,
}

impl Serialize for Results<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let o = self.outcome;
        serializer.collect_seq(
            o.findings
                .iter()
                .chain(&o.suppressed)
                .map(|f| result(f, self.index.get(&*f.rule).copied())),
        )
    }
}

pub(super) fn write(
    outcome: &Outcome,
    cwd_uri: Option<&str>,
    out: &mut dyn Write,
) -> io::Result<()> {
    let rules: Vec<Value> = outcome
        .rules
        .iter()
        .map(|r| {
            let mut v = json!({
                "id": r.id,
                "name": r.name,
                "shortDescription": {"text": r.short},
                "fullDescription": {"text": r.full},
                "defaultConfiguration": {"level": level(r.severity)},
            });
            if let Some(md) = &r.help_markdown {
                v["help"] = json!({"text": r.full, "markdown": md});
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
    let mut index = HashMap::new();
    for (i, r) in outcome.rules.iter().enumerate() {
        index.entry(r.id.as_str()).or_insert(i);
    }
    let run = Run {
        column_kind: "unicodeCodePoints",
        invocations: json!([{
            "executionSuccessful": outcome.problems.is_empty(),
            "toolExecutionNotifications": notifications,
        }]),
        original_uri_base_ids: cwd_uri.map(|uri| json!({"SRCROOT": {"uri": uri}})),
        results: Results { outcome, index },
        tool: json!({"driver": {
            "name": "mtk-lint",
            "version": env!("CARGO_PKG_VERSION"),
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
