//! `--format json`: the machine form. Field names are a contract (see README).

use std::io::{self, Write};

use serde::Serialize;

use crate::error::Problem;
use crate::finding::{Finding, ResourceRef, Severity};
use crate::{Outcome, Summary};

#[derive(Serialize)]
struct Report<'a> {
    version: u32,
    findings: Vec<JsonFinding<'a>>,
    /// Only with `--show-suppressed`.
    #[serde(skip_serializing_if = "Option::is_none")]
    suppressed: Option<Vec<JsonFinding<'a>>>,
    errors: &'a [Problem],
    /// Not errors, but worth a look (an input directory where every file was skipped).
    warnings: &'a [String],
    summary: &'a Summary,
}

#[derive(Serialize)]
struct JsonFinding<'a> {
    rule: &'a str,
    name: &'a str,
    severity: Severity,
    message: &'a str,
    file: &'a str,
    line: u32,
    column: u32,
    document: usize,
    path: &'a str,
    resource: &'a ResourceRef,
    policy: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
    /// For rendered objects: the build units, each with the way to the object's file.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    units: Vec<JsonUnit<'a>>,
}

#[derive(Serialize)]
struct JsonUnit<'a> {
    name: &'a str,
    /// The cluster that receives what the unit builds, named by the unit at the top of its
    /// chain of cluster entries.
    cluster: &'a str,
    via: Vec<JsonPlace<'a>>,
}

#[derive(Serialize)]
struct JsonPlace<'a> {
    file: &'a str,
    line: u32,
    column: u32,
}

impl<'a> From<&'a Finding> for JsonFinding<'a> {
    fn from(f: &'a Finding) -> Self {
        JsonFinding {
            rule: &f.rule,
            name: &f.name,
            severity: f.severity,
            message: &f.message,
            file: &f.source.display,
            line: f.span.start.line,
            column: f.span.start.col + 1,
            document: f.document,
            path: &f.path,
            resource: &f.resource,
            policy: f.policy.as_deref(),
            reason: f.suppressed.as_deref(),
            units: f
                .units
                .iter()
                .map(|t| JsonUnit {
                    name: &t.unit,
                    cluster: &t.cluster,
                    via: t
                        .via
                        .iter()
                        .map(|l| JsonPlace {
                            file: &l.source.display,
                            line: l.span.start.line,
                            column: l.span.start.col + 1,
                        })
                        .collect(),
                })
                .collect(),
        }
    }
}

pub(super) fn write(outcome: &Outcome, style: super::Style, out: &mut dyn Write) -> io::Result<()> {
    let report = Report {
        version: 1,
        findings: outcome.findings.iter().map(JsonFinding::from).collect(),
        suppressed: style
            .show_suppressed
            .then(|| outcome.suppressed.iter().map(JsonFinding::from).collect()),
        errors: &outcome.problems,
        warnings: &outcome.warnings,
        summary: &outcome.summary,
    };
    super::sanitize::write_json(&report, out)?;
    writeln!(out)
}
