//! `--format sarif`: SARIF 2.1.0 for code scanning (validated against the OASIS schema in tests).

use std::io::{self, Write};

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
    for part in [&f.rule, &f.source.display, &f.resource.to_string(), &f.path] {
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
    r
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
    let index = |id: &str| outcome.rules.iter().position(|r| r.id == id);
    let results: Vec<Value> = outcome
        .findings
        .iter()
        .chain(&outcome.suppressed)
        .map(|f| result(f, index(&f.rule)))
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
    let mut run = json!({
        "tool": {"driver": {
            "name": "mtk-lint",
            "version": env!("CARGO_PKG_VERSION"),
            "informationUri": env!("CARGO_PKG_REPOSITORY"),
            "rules": rules,
        }},
        "results": results,
        "invocations": [{
            "executionSuccessful": outcome.problems.is_empty(),
            "toolExecutionNotifications": notifications,
        }],
        "columnKind": "unicodeCodePoints",
    });
    if let Some(uri) = cwd_uri {
        run["originalUriBaseIds"] = json!({"SRCROOT": {"uri": uri}});
    }
    let doc = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [run],
    });
    let text = serde_json::to_string_pretty(&doc).map_err(io::Error::other)?;
    out.write_all(super::sanitize::json(text).as_bytes())?;
    writeln!(out)
}
