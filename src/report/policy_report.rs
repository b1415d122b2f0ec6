//! `--format policy-report`: wgpolicyk8s.io/v1alpha2 PolicyReports (one per namespace) and a
//! ClusterPolicyReport (cluster-scoped objects), as YAML documents for Policy Reporter.

use std::collections::BTreeMap;
use std::io::{self, Write};

use serde_json::{json, Value};

use crate::finding::{Finding, Severity};
use crate::Outcome;

fn result(f: &Finding) -> Value {
    let (result, severity) = match f.severity {
        Severity::Error => ("fail", "high"),
        Severity::Warning => ("warn", "medium"),
        Severity::Info => ("warn", "low"),
    };
    let (policy, rule) = match &f.policy {
        Some(p) => (p.clone(), f.name.clone()),
        None => (f.rule.clone(), f.name.clone()),
    };
    let mut resource = json!({"apiVersion": f.resource.api_version, "kind": f.resource.kind, "name": f.resource.name});
    if !f.resource.namespace.is_empty() {
        resource["namespace"] = json!(f.resource.namespace);
    }
    json!({
        "source": "mtk-lint",
        "policy": policy,
        "rule": rule,
        "result": result,
        "severity": severity,
        "message": f.message,
        "resources": [resource],
        "properties": {"file": f.source.display, "line": f.span.start().line.to_string()},
    })
}

pub(super) fn write(outcome: &Outcome, out: &mut dyn Write) -> io::Result<()> {
    let mut by_ns: BTreeMap<&str, Vec<&Finding>> = BTreeMap::new();
    for f in &outcome.findings {
        by_ns.entry(&f.resource.namespace).or_default().push(f);
    }
    let mut first = true;
    for (ns, findings) in by_ns {
        let results: Vec<Value> = findings.iter().map(|f| result(f)).collect();
        let fail = results.iter().filter(|r| r["result"] == "fail").count();
        let warn = results.len() - fail;
        let (kind, metadata) = if ns.is_empty() {
            ("ClusterPolicyReport", json!({"name": "mtk-lint-cluster"}))
        } else {
            ("PolicyReport", json!({"name": "mtk-lint", "namespace": ns}))
        };
        let report = json!({
            "apiVersion": "wgpolicyk8s.io/v1alpha2",
            "kind": kind,
            "metadata": metadata,
            "summary": {"pass": 0, "fail": fail, "warn": warn, "error": 0, "skip": 0},
            "results": results,
        });
        if !first {
            writeln!(out, "---")?;
        }
        first = false;
        // JSON is YAML; one document per report keeps it readable by kubectl and Policy Reporter.
        // YAML allows fewer raw characters than JSON: the sanitiser escapes the others.
        let yaml =
            super::sanitize::json(serde_json::to_string_pretty(&report).map_err(io::Error::other)?);
        writeln!(out, "{yaml}")?;
    }
    Ok(())
}
